//! Opaque secrets (refresh, verification and reset tokens): 256 random bits from the OS,
//! base64url for the client, stored only as a SHA-256 hash.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// A token as handed to the client. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct OpaqueToken(String);

impl std::fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpaqueToken(***)")
    }
}

impl OpaqueToken {
    /// 32 bytes from the operating system's CSPRNG.
    ///
    /// # Errors
    /// Only when the OS cannot supply randomness.
    pub fn generate() -> Result<Self, AppError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| AppError::internal(anyhow::anyhow!("OS randomness unavailable: {e}")))?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The SHA-256 of a token, hex-encoded: what the database stores and looks up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(pub String);

impl TokenHash {
    /// The hash of whatever a client presented. Looking up a hash in the database is not
    /// a comparison of the secret itself, so its timing reveals nothing useful.
    pub fn of(presented: &str) -> Self {
        let digest = Sha256::digest(presented.as_bytes());
        let mut hex = String::with_capacity(64);
        for byte in digest {
            hex.push(char::from(HEX[usize::from(byte >> 4)]));
            hex.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        Self(hex)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether a presented string could be one of our tokens (43 base64url characters); anything
/// else is refused without a database lookup.
pub fn looks_like_token(presented: &str) -> bool {
    presented.len() == 43
        && presented
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_base64url_and_unique() {
        let a = OpaqueToken::generate().unwrap();
        let b = OpaqueToken::generate().unwrap();
        assert_ne!(a, b);
        assert!(looks_like_token(a.expose()), "{}", a.expose());
        assert_eq!(URL_SAFE_NO_PAD.decode(a.expose()).unwrap().len(), 32);
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(
            TokenHash::of("abc").0,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let t = OpaqueToken::generate().unwrap();
        assert_eq!(t.hash(), TokenHash::of(t.expose()));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let t = OpaqueToken::generate().unwrap();
        assert!(!format!("{t:?}").contains(t.expose()));
    }

    #[test]
    fn odd_strings_are_not_tokens() {
        assert!(!looks_like_token(""));
        assert!(!looks_like_token(&"a".repeat(44)));
        assert!(!looks_like_token(&format!("{}=", "a".repeat(42))));
    }
}
