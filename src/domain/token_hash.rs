//! The hash of an opaque token: what the database stores and looks up, never the token.

use sha2::{Digest, Sha256};

/// The SHA-256 of a token, hex-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(pub String);

impl TokenHash {
    /// The hash of whatever a client presented. Looking up a hash in the database is not
    /// a comparison of the secret itself, so its timing reveals nothing useful.
    pub fn of(presented: &str) -> Self {
        Self(hex(Sha256::digest(presented.as_bytes())))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: impl IntoIterator<Item = u8>) -> String {
    let mut out = String::with_capacity(64);
    for byte in bytes {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}
