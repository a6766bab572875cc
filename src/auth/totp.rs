//! TOTP (RFC 6238 over RFC 4226) with the defaults every authenticator app reads: HMAC-SHA-1,
//! 6 digits, 30-second steps, and one step of clock drift accepted either way.
//!
//! Replay is the caller's rule: [`TotpSecret::matching_step`] says which step a code is for,
//! and a code is accepted only for a step after the last one accepted.

use chrono::{DateTime, Utc};
use data_encoding::BASE32_NOPAD;
use hmac::{KeyInit, Mac};

use super::password::constant_time_eq;

/// Digits of a code.
pub const DIGITS: usize = 6;
/// Seconds per time step.
pub const STEP_SECS: i64 = 30;
/// Bytes of a secret (160 bits, RFC 4226's recommendation).
pub const SECRET_LEN: usize = 20;

/// A TOTP secret. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; SECRET_LEN]);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

impl TotpSecret {
    /// A new secret from the OS CSPRNG.
    ///
    /// # Errors
    /// When the OS cannot supply randomness.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; SECRET_LEN];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// A stored secret's bytes; `None` unless exactly [`SECRET_LEN`] of them.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret as authenticator apps take it typed in: base32 without padding.
    pub fn base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// The code of time step `step`.
    pub fn code_at(&self, step: i64) -> String {
        let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(&self.0) else {
            unreachable!("HMAC takes a key of any length")
        };
        mac.update(&step.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = usize::from(digest[digest.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([
            digest[offset] & 0x7f,
            digest[offset + 1],
            digest[offset + 2],
            digest[offset + 3],
        ]);
        format!("{:0width$}", binary % 1_000_000, width = DIGITS)
    }

    /// The step (the current one, or one either side of it) whose code `code` is, compared in
    /// constant time; `None` when it is none of them.
    pub fn matching_step(&self, code: &str, now: DateTime<Utc>) -> Option<i64> {
        let current = step_of(now);
        let mut found = None;
        // Every candidate is computed and compared, so the time does not say which matched.
        for step in [current - 1, current, current + 1] {
            if constant_time_eq(self.code_at(step).as_bytes(), code.as_bytes()) {
                found = Some(step);
            }
        }
        found
    }
}

/// The time step `t` falls in.
pub fn step_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(STEP_SECS)
}

/// The `otpauth://` URI an authenticator app enrols from (Key Uri Format): the label is
/// `issuer:account`, and the parameters repeat the defaults so that no app guesses.
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    // `+` is a space only in a query; in the label path a space is `%20`.
    let label = format!("{}:{}", enc(issuer), enc(account)).replace('+', "%20");
    format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        secret.base32(),
        enc(issuer),
    )
}

/// The URI as a QR code in SVG, made in-process (no image leaves the service).
pub fn qr_svg(uri: &str) -> Result<String, qrcode::types::QrError> {
    let code = qrcode::QrCode::new(uri.as_bytes())?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret ("12345678901234567890") and vectors, cut to six
    /// digits.
    #[test]
    fn the_rfc_6238_vectors_hold() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(secret.code_at(t / STEP_SECS), code, "t = {t}");
        }
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_more() {
        let secret = TotpSecret::generate().unwrap();
        let now = DateTime::from_timestamp(1_700_000_015, 0).unwrap();
        let current = step_of(now);
        for step in [current - 1, current, current + 1] {
            assert_eq!(secret.matching_step(&secret.code_at(step), now), Some(step));
        }
        for step in [current - 2, current + 2] {
            let code = secret.code_at(step);
            // A code of two steps away may collide with a near one (1 in 10^6); skip that.
            if [current - 1, current, current + 1]
                .iter()
                .all(|s| secret.code_at(*s) != code)
            {
                assert_eq!(secret.matching_step(&code, now), None);
            }
        }
        assert_eq!(secret.matching_step("", now), None);
        assert_eq!(secret.matching_step("12345", now), None);
    }

    #[test]
    fn the_uri_names_issuer_account_and_defaults() {
        let secret = TotpSecret::from_bytes(&[0; SECRET_LEN]).unwrap();
        let uri = otpauth_uri(&secret, "My App", "alice@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/My%20App:alice%40example.com?secret=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\
             &issuer=My+App&algorithm=SHA1&digits=6&period=30"
        );
        assert!(format!("{secret:?}").contains("***"));
    }
}
