//! `signing_keys`: Ed25519 keys for access tokens.

use sea_orm::entity::prelude::*;

/// A private key as stored: sealed (`sealed:v1:` and base64 of nonce, ciphertext and tag,
/// see `auth::keys`), or, without `SIGNING_KEY_ENCRYPTION_KEY` in development, PKCS#8 DER
/// in base64. Its `Debug` never prints it.
#[derive(Clone, PartialEq, Eq, DeriveValueType)]
pub struct PrivateKey(pub String);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(***)")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    pub private_key: PrivateKey,
    /// The raw public key `x`, base64url.
    pub public_key: String,
    pub created_at: DateTimeUtc,
    /// When the key starts signing (it is published from `created_at`).
    pub activates_at: DateTimeUtc,
    /// When a newer key took over.
    pub retired_at: Option<DateTimeUtc>,
    /// When `authql revoke-key` withdrew it: it neither signs nor verifies from then on.
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
