//! Login throttling state, shared by every replica: failures per account name and per
//! client address within a window.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LoginThrottle {
    Table,
    Key,
    Attempts,
    WindowStart,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginThrottle::Table)
                    // `account:<name>` or `ip:<address>`.
                    .col(string_len(LoginThrottle::Key, 300).primary_key())
                    .col(integer(LoginThrottle::Attempts))
                    .col(timestamp_with_time_zone(LoginThrottle::WindowStart))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginThrottle::Table).to_owned())
            .await
    }
}
