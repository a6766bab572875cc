//! Key custody: private signing keys are sealed at rest with XChaCha20-Poly1305 under the
//! key from `SIGNING_KEY_ENCRYPTION_KEY`, so a reader of the database (a backup, a
//! replica, a reporting role) cannot mint access tokens.
//!
//! A sealed value is `sealed:v1:` followed by base64 of the 24-byte random nonce, the
//! ciphertext and the 16-byte tag; the key's `kid` is the associated data, so a sealed key
//! moved to another row does not open. Without the setting (development only) keys are
//! stored as base64 PKCS#8, as before sealing existed; a start with the setting seals them.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};

/// The prefix of a sealed value.
pub const SEALED_PREFIX: &str = "sealed:v1:";

const NONCE_LEN: usize = 24;

/// Why a stored key could not be opened or sealed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CustodyError {
    #[error(
        "signing key {kid} is sealed, and SIGNING_KEY_ENCRYPTION_KEY is not set: set it to the \
         key the signing keys were sealed with"
    )]
    NoKey { kid: String },
    #[error(
        "SIGNING_KEY_ENCRYPTION_KEY does not open signing key {kid}: it is not the key the \
         signing keys were sealed with (or the row was altered)"
    )]
    WrongKey { kid: String },
    #[error("signing key {kid} is stored in a form authql does not know")]
    Malformed { kid: String },
    #[error("the OS cannot supply randomness: {0}")]
    Randomness(String),
}

/// How private keys are kept at rest.
#[derive(Clone)]
pub enum Custody {
    /// Sealed with this cipher.
    Sealed(XChaCha20Poly1305),
    /// Stored in clear (development without `SIGNING_KEY_ENCRYPTION_KEY`).
    Clear,
}

impl std::fmt::Debug for Custody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sealed(_) => "Custody::Sealed(***)",
            Self::Clear => "Custody::Clear",
        })
    }
}

impl Custody {
    /// Sealed under a 32-byte key, or clear without one.
    pub fn new(key: Option<&[u8; 32]>) -> Self {
        match key {
            Some(key) => Self::Sealed(XChaCha20Poly1305::new(key.into())),
            None => Self::Clear,
        }
    }

    /// How the settings say private keys are kept: sealed under
    /// `SIGNING_KEY_ENCRYPTION_KEY`, or clear without it.
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self::new(
            settings
                .tokens
                .signing_key_encryption_key
                .as_ref()
                .map(|k| &k.0),
        )
    }

    pub fn seals(&self) -> bool {
        matches!(self, Self::Sealed(_))
    }

    /// The stored form of a private key (PKCS#8 DER) with this `kid`.
    ///
    /// # Errors
    /// Only when the OS cannot supply randomness for the nonce.
    pub fn seal(&self, kid: &str, der: &[u8]) -> Result<String, CustodyError> {
        let Self::Sealed(cipher) = self else {
            return Ok(STANDARD.encode(der));
        };
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| CustodyError::Randomness(e.to_string()))?;
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: der,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| CustodyError::Malformed {
                kid: kid.to_owned(),
            })?;
        Ok(format!(
            "{SEALED_PREFIX}{}",
            STANDARD.encode([&nonce[..], &sealed].concat())
        ))
    }

    /// The private key (PKCS#8 DER) of a stored value.
    ///
    /// # Errors
    /// A sealed value without a key, or one this key does not open; a value that is neither
    /// form.
    pub fn open(&self, kid: &str, stored: &str) -> Result<Vec<u8>, CustodyError> {
        let malformed = || CustodyError::Malformed {
            kid: kid.to_owned(),
        };
        let Some(sealed) = stored.strip_prefix(SEALED_PREFIX) else {
            return STANDARD.decode(stored).map_err(|_| malformed());
        };
        let Self::Sealed(cipher) = self else {
            return Err(CustodyError::NoKey {
                kid: kid.to_owned(),
            });
        };
        let raw = STANDARD.decode(sealed).map_err(|_| malformed())?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(malformed());
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| malformed())?;
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: body,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| CustodyError::WrongKey {
                kid: kid.to_owned(),
            })
    }

    /// Whether a stored value is sealed.
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(SEALED_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DER: &[u8] = b"0.\x02\x01\x000\x05\x06\x03+ep\x04\"\x04 0123456789abcdef0123456789abcdef";

    #[test]
    fn a_sealed_key_opens_with_its_key_and_kid_only() {
        let custody = Custody::new(Some(&[7; 32]));
        let stored = custody.seal("kid-a", DER).unwrap();
        assert!(Custody::is_sealed(&stored));
        assert!(!stored.contains(&STANDARD.encode(DER)));
        assert_eq!(custody.open("kid-a", &stored).unwrap(), DER);
        assert_eq!(
            custody.open("kid-b", &stored),
            Err(CustodyError::WrongKey {
                kid: "kid-b".into()
            })
        );
        assert_eq!(
            Custody::new(Some(&[8; 32])).open("kid-a", &stored),
            Err(CustodyError::WrongKey {
                kid: "kid-a".into()
            })
        );
        assert_eq!(
            Custody::Clear.open("kid-a", &stored),
            Err(CustodyError::NoKey {
                kid: "kid-a".into()
            })
        );
        // Two seals of one key differ (a fresh nonce each time).
        assert_ne!(stored, custody.seal("kid-a", DER).unwrap());
    }

    #[test]
    fn clear_keys_still_open_so_they_can_be_sealed() {
        let stored = Custody::Clear.seal("k", DER).unwrap();
        assert_eq!(stored, STANDARD.encode(DER));
        assert_eq!(
            Custody::new(Some(&[7; 32])).open("k", &stored).unwrap(),
            DER
        );
    }

    #[test]
    fn damaged_values_are_refused_not_panicked_on() {
        let custody = Custody::new(Some(&[7; 32]));
        for bad in ["sealed:v1:", "sealed:v1:!!", "sealed:v1:AAAA", "%%%"] {
            assert!(custody.open("k", bad).is_err(), "{bad}");
        }
    }
}
