//! `signing_keys`: Ed25519 keys for access tokens.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// Sealed, or PKCS#8 DER in base64 (see `domain::signing_key::PrivateKey`).
    pub private_key: String,
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
