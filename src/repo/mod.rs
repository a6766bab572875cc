//! Database queries, one module per table. Functions take any connection or transaction
//! ([`Conn`]), so services decide where transactions begin ([`begin`]); what they return
//! are domain values, never rows.

pub mod email_tokens;
pub mod mail_sent;
pub mod media;
pub mod outbox;
pub mod profiles;
pub mod rate_counters;
pub mod refresh_tokens;
mod rows;
pub mod sessions;
pub mod signing_keys;
pub mod user_pages;
pub mod username_holds;
pub mod users;

/// The connection pool every query runs on.
pub type Db = sea_orm::DatabaseConnection;

/// A write transaction: its changes are kept by `commit` and dropped with it otherwise.
pub type Tx = sea_orm::DatabaseTransaction;

/// Why a query failed: the database could not be reached or refused it.
pub type Error = sea_orm::DbErr;

/// Anything a query can run on: the pool or a transaction.
pub trait Conn: sea_orm::ConnectionTrait {}

impl<T: sea_orm::ConnectionTrait> Conn for T {}

/// Begins a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), so it waits its turn instead of failing when another writer commits
/// between its first read and its first write.
///
/// # Errors
/// When no connection is available.
pub async fn begin(db: &Db) -> Result<Tx, Error> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

impl From<Error> for crate::error::AppError {
    fn from(err: Error) -> Self {
        Self::internal(err)
    }
}
