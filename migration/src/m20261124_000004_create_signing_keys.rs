//! Ed25519 signing keys, shared by every replica through the database.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Kid,
    PrivateKey,
    PublicKey,
    CreatedAt,
    ActivatesAt,
    RetiredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    // RFC 7638 thumbprint of the public key.
                    .col(string_len(SigningKeys::Kid, 64).primary_key())
                    // PKCS#8 DER, base64.
                    .col(text(SigningKeys::PrivateKey))
                    // The raw public key `x`, base64url (as in the JWK).
                    .col(text(SigningKeys::PublicKey))
                    .col(timestamp_with_time_zone(SigningKeys::CreatedAt))
                    // The newest key whose time has come signs; a rotated-in key is
                    // published a while before, so verifiers have it when it starts.
                    .col(timestamp_with_time_zone(SigningKeys::ActivatesAt))
                    // When a newer key took over; published until its tokens expired.
                    .col(timestamp_with_time_zone_null(SigningKeys::RetiredAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SigningKeys::Table).to_owned())
            .await
    }
}
