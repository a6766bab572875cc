//! Opaque secrets (refresh, verification and reset tokens): 256 random bits from the OS,
//! base64url for the client, stored only as a SHA-256 hash.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::{
    domain::{TokenHash, token_hash::hex},
    error::AppError,
};

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

    /// A token a client presented (in a cookie, say), if it could be one of ours.
    pub fn presented(value: &str) -> Option<Self> {
        looks_like_token(value).then(|| Self(value.to_owned()))
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

/// Seals `successor` so that only a holder of `parent` can open it: the successor's bytes
/// XOR SHA-256 of a domain tag and the parent. The database keeps only hashes of tokens,
/// and SHA-256(parent) reveals nothing of this pad, so the sealed value is useless to
/// anyone who does not already hold the parent token.
///
/// # Errors
/// When `successor` is not one of our tokens.
pub fn seal(parent: &str, successor: &OpaqueToken) -> Result<String, AppError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(successor.expose())
        .map_err(AppError::internal)?;
    let pad = seal_pad(parent);
    Ok(hex(bytes.iter().zip(pad.iter()).map(|(b, p)| b ^ p)))
}

/// Opens what [`seal`] made with the same parent.
pub fn unseal(parent: &str, sealed: &str) -> Option<OpaqueToken> {
    if sealed.len() != 64 {
        return None;
    }
    let pad = seal_pad(parent);
    let mut bytes = [0u8; 32];
    for (i, out) in bytes.iter_mut().enumerate() {
        let byte = u8::from_str_radix(sealed.get(i * 2..i * 2 + 2)?, 16).ok()?;
        *out = byte ^ pad[i];
    }
    Some(OpaqueToken(URL_SAFE_NO_PAD.encode(bytes)))
}

fn seal_pad(parent: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"authql refresh successor pad\0");
    h.update(parent.as_bytes());
    h.finalize().into()
}

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
    fn only_the_parent_opens_a_sealed_successor() {
        let parent = OpaqueToken::generate().unwrap();
        let next = OpaqueToken::generate().unwrap();
        let sealed = seal(parent.expose(), &next).unwrap();
        assert_eq!(sealed.len(), 64);
        assert_eq!(unseal(parent.expose(), &sealed), Some(next.clone()));
        let other = OpaqueToken::generate().unwrap();
        assert_ne!(unseal(other.expose(), &sealed), Some(next.clone()));
        // The pad is not the stored hash of the parent.
        assert_ne!(unseal(&parent.hash().0, &sealed), Some(next));
        assert_eq!(unseal(parent.expose(), "zz"), None);
    }

    #[test]
    fn odd_strings_are_not_tokens() {
        assert!(!looks_like_token(""));
        assert!(!looks_like_token(&"a".repeat(44)));
        assert!(!looks_like_token(&format!("{}=", "a".repeat(42))));
    }
}
