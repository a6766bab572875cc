//! Credentials: password hashing, opaque tokens, and EdDSA access tokens with their keys.

pub mod custody;
pub mod fair_queue;
pub mod jwt;
pub mod keys;
pub mod opaque_token;
pub mod password;
pub mod totp;
