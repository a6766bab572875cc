//! The codes a second factor is proved with: a TOTP code from an authenticator app, or one of
//! the account's single-use recovery codes.

use super::TokenHash;
use crate::error::{AppError, Field};

/// How long a secret waits for the code that turns it on.
pub const ENROLMENT_TTL: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Recovery codes an account is given at once.
pub const RECOVERY_CODES: usize = 10;

/// Characters of a recovery code (base32's alphabet, lower case: no 0/1/8/9 to confuse with
/// letters), 5 bits each: 50 bits per code.
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const RECOVERY_LEN: usize = 10;

/// Longer than any code, with spaces and dashes: refused before any work.
const MAX_INPUT_LEN: usize = 64;

/// How a second factor may be proved, as `MFA_REQUIRED` lists them.
pub const METHODS: [&str; 2] = ["totp", "recovery_code"];

/// An account's TOTP factor as stored: its sealed secret, whether enrolment was confirmed,
/// and the last time step a code was accepted for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpFactor {
    pub secret_sealed: String,
    pub confirmed: bool,
    pub last_step: Option<i64>,
    /// When enrolment started (a secret waiting for its first code expires).
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// What a login with the right password left for `verifyMfa` to complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    pub user_id: uuid::Uuid,
    /// The password version the first step checked: a reset since voids the challenge.
    pub credential_version: i32,
    /// SHA-256 of the client address and user agent it was issued to.
    pub client_binding: TokenHash,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub spent_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A code as a client sent it, recognised by its shape.
#[derive(Clone, PartialEq, Eq)]
pub enum OneTimeCode {
    /// Six digits.
    Totp(String),
    /// A recovery code, normalised (lower case, without spaces and dashes).
    Recovery(String),
}

impl std::fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Totp(_) => "OneTimeCode::Totp(***)",
            Self::Recovery(_) => "OneTimeCode::Recovery(***)",
        })
    }
}

impl OneTimeCode {
    /// Six digits are a TOTP code; ten base32 characters a recovery code; spaces and dashes
    /// (as apps and printed codes group them) are ignored, and case too.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `code` for anything else.
    pub fn parse(input: &str) -> Result<Self, AppError> {
        let refused = || {
            AppError::input(
                Field::Code,
                "Enter the 6-digit code from your authenticator app or a recovery code",
            )
        };
        if input.len() > MAX_INPUT_LEN {
            return Err(refused());
        }
        let compact: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if compact.len() == crate::auth::totp::DIGITS && compact.bytes().all(|b| b.is_ascii_digit())
        {
            return Ok(Self::Totp(compact));
        }
        if compact.len() == RECOVERY_LEN && compact.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))
        {
            return Ok(Self::Recovery(compact));
        }
        Err(refused())
    }
}

/// A new recovery code, shown once (`xxxxx-xxxxx`), and its hash, which is all that is kept.
pub struct RecoveryCode {
    pub shown: String,
    pub hash: TokenHash,
}

impl RecoveryCode {
    /// A code from the OS CSPRNG.
    ///
    /// # Errors
    /// When the OS cannot supply randomness.
    pub fn generate() -> Result<Self, AppError> {
        let mut bytes = [0u8; RECOVERY_LEN];
        getrandom::fill(&mut bytes)
            .map_err(|e| AppError::internal(anyhow::anyhow!("OS randomness unavailable: {e}")))?;
        let compact: String = bytes
            .iter()
            .map(|b| char::from(RECOVERY_ALPHABET[usize::from(b & 31)]))
            .collect();
        let hash = recovery_hash(&compact);
        let shown = format!("{}-{}", &compact[..5], &compact[5..]);
        Ok(Self { shown, hash })
    }
}

/// The hash a recovery code is kept as: SHA-256 of its normalised form (the codes are
/// random, so a fast hash is enough).
pub fn recovery_hash(normalised: &str) -> TokenHash {
    TokenHash::of(normalised)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn codes_are_recognised_by_their_shape() {
        assert_eq!(
            OneTimeCode::parse(" 123 456 ").unwrap(),
            OneTimeCode::Totp("123456".into())
        );
        assert_eq!(
            OneTimeCode::parse("ABCDE-FGH23").unwrap(),
            OneTimeCode::Recovery("abcdefgh23".into())
        );
        for bad in [
            "",
            "12345",
            "1234567",
            "abcde-fgh1",
            "ａｂｃｄｅ-fgh23",
            "12345６",
        ] {
            assert!(OneTimeCode::parse(bad).is_err(), "{bad}");
        }
        assert!(OneTimeCode::parse(&" ".repeat(65)).is_err());
    }

    #[test]
    fn a_generated_code_parses_back_to_its_hash() {
        let code = RecoveryCode::generate().unwrap();
        assert_eq!(code.shown.len(), 11);
        let OneTimeCode::Recovery(normalised) = OneTimeCode::parse(&code.shown).unwrap() else {
            panic!("not a recovery code");
        };
        assert_eq!(recovery_hash(&normalised), code.hash);
        assert!(!format!("{:?}", OneTimeCode::parse(&code.shown).unwrap()).contains(&normalised));
    }

    proptest! {
        #[test]
        fn any_input_is_a_code_or_bad_user_input_never_a_panic(input in "\\PC{0,80}") {
            if let Err(err) = OneTimeCode::parse(&input) {
                prop_assert_eq!(err.code(), "BAD_USER_INPUT");
            }
        }
    }
}
