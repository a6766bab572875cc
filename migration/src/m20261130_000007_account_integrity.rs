//! Account integrity and key custody: a credential version on every account (a login only
//! starts a session if the password it checked is still the stored one), revocation of
//! signing keys, and usernames held by sign-ups that created no account.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    CredentialVersion,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    RevokedAt,
}

#[derive(DeriveIden)]
enum UsernameHolds {
    Table,
    UsernameKey,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    // Bumped by every password change and reset.
                    .add_column(integer(Users::CredentialVersion).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SigningKeys::Table)
                    // A revoked key neither signs nor verifies.
                    .add_column(timestamp_with_time_zone_null(SigningKeys::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UsernameHolds::Table)
                    // The lower-cased username a sign-up for a taken email asked for: held
                    // as an unverified account would hold it, so that the two look alike.
                    .col(string_len(UsernameHolds::UsernameKey, 64).primary_key())
                    .col(timestamp_with_time_zone(UsernameHolds::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UsernameHolds::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SigningKeys::Table)
                    .drop_column(SigningKeys::RevokedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::CredentialVersion)
                    .to_owned(),
            )
            .await
    }
}
