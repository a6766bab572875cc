//! A second factor: an account's TOTP secret (sealed at rest), its single-use recovery codes
//! (hashed), and the short-lived challenges a login with the right password answers with
//! until a code completes it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum TotpFactors {
    Table,
    UserId,
    SecretSealed,
    ConfirmedAt,
    LastStep,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    UserId,
    CodeHash,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MfaChallenges {
    Table,
    TokenHash,
    UserId,
    CredentialVersion,
    ClientBinding,
    CreatedAt,
    ExpiresAt,
    SpentAt,
}

fn user_fk(name: &str, table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TotpFactors::Table)
                    .col(uuid(TotpFactors::UserId).primary_key())
                    // The secret, sealed like the signing keys (`sealed:v1:…`).
                    .col(text(TotpFactors::SecretSealed))
                    // Null while enrolment waits for its first code.
                    .col(timestamp_with_time_zone_null(TotpFactors::ConfirmedAt))
                    // The last time step a code was accepted for: no code is accepted twice.
                    .col(big_integer_null(TotpFactors::LastStep))
                    .col(timestamp_with_time_zone(TotpFactors::CreatedAt))
                    .foreign_key(&mut user_fk(
                        "totp_factors_user_id_fkey",
                        TotpFactors::Table,
                        TotpFactors::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecoveryCodes::Table)
                    .col(uuid(RecoveryCodes::UserId))
                    // SHA-256 (hex) of the normalised code: codes are random, not chosen.
                    .col(string_len(RecoveryCodes::CodeHash, 64))
                    .col(timestamp_with_time_zone_null(RecoveryCodes::UsedAt))
                    .col(timestamp_with_time_zone(RecoveryCodes::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(RecoveryCodes::UserId)
                            .col(RecoveryCodes::CodeHash),
                    )
                    .foreign_key(&mut user_fk(
                        "recovery_codes_user_id_fkey",
                        RecoveryCodes::Table,
                        RecoveryCodes::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaChallenges::Table)
                    .col(string_len(MfaChallenges::TokenHash, 64).primary_key())
                    .col(uuid(MfaChallenges::UserId))
                    // The password version the first step checked: a reset voids it.
                    .col(integer(MfaChallenges::CredentialVersion))
                    // SHA-256 (hex) of the client address and user agent it was issued to.
                    .col(string_len(MfaChallenges::ClientBinding, 64))
                    .col(timestamp_with_time_zone(MfaChallenges::CreatedAt))
                    .col(timestamp_with_time_zone(MfaChallenges::ExpiresAt))
                    .col(timestamp_with_time_zone_null(MfaChallenges::SpentAt))
                    .foreign_key(&mut user_fk(
                        "mfa_challenges_user_id_fkey",
                        MfaChallenges::Table,
                        MfaChallenges::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("mfa_challenges_expires_at_idx")
                    .table(MfaChallenges::Table)
                    .col(MfaChallenges::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MfaChallenges::Table.into_iden(),
            RecoveryCodes::Table.into_iden(),
            TotpFactors::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
