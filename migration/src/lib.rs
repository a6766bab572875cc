//! Database migrations of authql, applied in order by `authql migrate` and at `authql serve`.
//!
//! Every migration runs unchanged on PostgreSQL and SQLite.

pub use sea_orm_migration::MigrationStatus;
pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_users;
mod m20261124_000002_create_profiles;
mod m20261124_000003_create_sessions;
mod m20261124_000004_create_signing_keys;
mod m20261124_000005_create_rate_counters;
mod m20261124_000006_create_mail_tables;
mod m20261130_000007_account_integrity;
mod m20261201_000008_create_media;
mod m20261201_000009_session_authentication;
mod m20261201_000010_second_factor;

/// The ordered list of authql's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_users::Migration),
            Box::new(m20261124_000002_create_profiles::Migration),
            Box::new(m20261124_000003_create_sessions::Migration),
            Box::new(m20261124_000004_create_signing_keys::Migration),
            Box::new(m20261124_000005_create_rate_counters::Migration),
            Box::new(m20261124_000006_create_mail_tables::Migration),
            Box::new(m20261130_000007_account_integrity::Migration),
            Box::new(m20261201_000008_create_media::Migration),
            Box::new(m20261201_000009_session_authentication::Migration),
            Box::new(m20261201_000010_second_factor::Migration),
        ]
    }
}
