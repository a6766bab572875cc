//! Rate counters shared by every replica: login attempts per account name and per client
//! address, mails per recipient, each counted within a fixed window.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RateCounters {
    Table,
    Key,
    Hits,
    WindowStart,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateCounters::Table)
                    // `account:<name>`, `ip:<address>` or `mail:<address>`.
                    .col(string_len(RateCounters::Key, 300).primary_key())
                    .col(integer(RateCounters::Hits))
                    .col(timestamp_with_time_zone(RateCounters::WindowStart))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RateCounters::Table).to_owned())
            .await
    }
}
