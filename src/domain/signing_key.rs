//! Ed25519 keys that sign access tokens, as every replica shares them.

use chrono::{DateTime, Utc};

/// A private key as stored: sealed (`sealed:v1:` and base64 of nonce, ciphertext and tag,
/// see `auth::keys`), or, without `SIGNING_KEY_ENCRYPTION_KEY` in development, PKCS#8 DER
/// in base64. Its `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey(pub String);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(***)")
    }
}

/// A signing key and when it signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKey {
    /// The thumbprint of its public JWK.
    pub kid: String,
    pub private_key: PrivateKey,
    /// The raw public key `x`, base64url.
    pub public_key: String,
    pub created_at: DateTime<Utc>,
    /// When the key starts signing (it is published from `created_at`).
    pub activates_at: DateTime<Utc>,
    /// When a newer key took over.
    pub retired_at: Option<DateTime<Utc>>,
    /// When `authql revoke-key` withdrew it: it neither signs nor verifies from then on.
    pub revoked_at: Option<DateTime<Utc>>,
}
