//! The mail outbox, single-use email tokens (verification, password reset), and the ids of
//! mails already sent (so a redelivered message is not sent twice).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    Kind,
    Recipient,
    Payload,
    CreatedAt,
    AvailableAt,
    ClaimedUntil,
    ClaimId,
    Attempts,
    PublishedAt,
    DeadAt,
    LastError,
}

#[derive(DeriveIden)]
enum EmailTokens {
    Table,
    TokenHash,
    UserId,
    Purpose,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum MailSent {
    Table,
    MessageId,
    State,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(pk_uuid(Outbox::Id))
                    .col(string_len(Outbox::Kind, 32))
                    .col(string_len(Outbox::Recipient, 254))
                    // Template variables, links with tokens included: erased once the mail
                    // is handed on.
                    .col(text(Outbox::Payload))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .col(timestamp_with_time_zone(Outbox::AvailableAt))
                    // A relay's lease on the row, so replicas never hand on a row twice.
                    .col(timestamp_with_time_zone_null(Outbox::ClaimedUntil))
                    // Which claim holds the lease: only its holder may mark the row.
                    .col(uuid_null(Outbox::ClaimId))
                    .col(integer(Outbox::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(Outbox::PublishedAt))
                    .col(timestamp_with_time_zone_null(Outbox::DeadAt))
                    .col(text_null(Outbox::LastError))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("outbox_pending_idx")
                    .table(Outbox::Table)
                    .col(Outbox::PublishedAt)
                    .col(Outbox::AvailableAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailTokens::Table)
                    .col(string_len(EmailTokens::TokenHash, 64).primary_key())
                    .col(uuid(EmailTokens::UserId))
                    // `verify_email` or `reset_password`.
                    .col(string_len(EmailTokens::Purpose, 16))
                    .col(timestamp_with_time_zone(EmailTokens::CreatedAt))
                    .col(timestamp_with_time_zone(EmailTokens::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("email_tokens_user_id_fkey")
                            .from(EmailTokens::Table, EmailTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("email_tokens_user_purpose_idx")
                    .table(EmailTokens::Table)
                    .col(EmailTokens::UserId)
                    .col(EmailTokens::Purpose)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MailSent::Table)
                    .col(pk_uuid(MailSent::MessageId))
                    // `sending` while a sender holds it, `sent` once the server took it.
                    .col(string_len(MailSent::State, 8))
                    .col(timestamp_with_time_zone(MailSent::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Outbox::Table.into_iden(),
            EmailTokens::Table.into_iden(),
            MailSent::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
