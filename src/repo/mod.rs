//! Database queries, one module per table. Functions take any connection or transaction
//! ([`Conn`]), so services decide where transactions begin ([`begin`]); what they return
//! are domain values, never rows.

pub mod email_tokens;
pub mod mail_sent;
pub mod media;
pub mod mfa_challenges;
pub mod outbox;
pub mod profiles;
pub mod rate_counters;
pub mod recovery_codes;
pub mod refresh_tokens;
mod rows;
pub mod sessions;
pub mod signing_keys;
pub mod totp_factors;
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
/// A pooled connection found broken at `BEGIN` (the server restarted since it was last
/// used) is dropped, and the transaction begins once more on a fresh one: nothing ran yet.
///
/// # Errors
/// When no connection is available.
pub async fn begin(db: &Db) -> Result<Tx, Error> {
    match begin_once(db).await {
        Err(err) if connection_broke(&err) => {
            crate::db::note_connection_failure();
            begin_once(db).await
        }
        other => other,
    }
}

/// Commits `txn`. A connection that breaks at `COMMIT` leaves the outcome unknown (the
/// server may have committed before the answer was lost), so that one failure is internal,
/// never "unavailable, try again": a client told to retry could repeat a change that
/// happened.
///
/// # Errors
/// When the commit fails.
pub async fn commit(txn: Tx) -> Result<(), crate::error::AppError> {
    txn.commit().await.map_err(|err| {
        if connection_broke(&err) {
            crate::db::note_connection_failure();
            crate::error::AppError::internal(anyhow::anyhow!(
                "the connection broke at COMMIT; the change may or may not be stored: {err}"
            ))
        } else {
            err.into()
        }
    })
}

/// Runs `query` once more when its pooled connection turns out broken (the server
/// restarted since the connection was last used). Only for what is safe to run twice: a
/// read, or a throttle counter (a hit counted twice errs on the safe side).
///
/// # Errors
/// The second attempt's, or the first's when it was not a broken connection.
pub async fn idempotent<T, F, Fut>(query: F) -> Result<T, Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    match query().await {
        Err(err) if connection_broke(&err) => {
            crate::db::note_connection_failure();
            query().await
        }
        other => other,
    }
}

async fn begin_once(db: &Db) -> Result<Tx, Error> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Whether `err` says a connection broke or could not be opened (the server went away,
/// restarts, or shuts down), as opposed to a statement the database refused.
pub fn connection_broke(err: &Error) -> bool {
    use sea_orm::{ConnAcquireErr, RuntimeErr, sqlx};
    let sqlx_err = match err {
        Error::ConnectionAcquire(ConnAcquireErr::ConnectionClosed) => return true,
        Error::Conn(RuntimeErr::SqlxError(e))
        | Error::Exec(RuntimeErr::SqlxError(e))
        | Error::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match &**sqlx_err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::PoolClosed => true,
        // Class 08: connection exception; 57P01-57P03: the server shuts down, crashed, or
        // does not accept connections yet; 57P05: it closed a session idle too long.
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03" | "57P05")
        }),
        _ => false,
    }
}

/// Whether `err` means the database is out of reach for now (a broken connection, or none
/// to be had in time): the request may succeed if tried again shortly.
pub fn is_unavailable(err: &Error) -> bool {
    use sea_orm::{ConnAcquireErr, RuntimeErr, sqlx};
    connection_broke(err)
        || matches!(err, Error::ConnectionAcquire(ConnAcquireErr::Timeout))
        || matches!(
            err,
            Error::Conn(RuntimeErr::SqlxError(e)) | Error::Exec(RuntimeErr::SqlxError(e))
                | Error::Query(RuntimeErr::SqlxError(e))
                if matches!(**e, sqlx::Error::PoolTimedOut)
        )
}

impl From<Error> for crate::error::AppError {
    fn from(err: Error) -> Self {
        if connection_broke(&err) {
            crate::db::note_connection_failure();
        }
        if is_unavailable(&err) {
            tracing::debug!(error = %err, "database unavailable");
            return Self::Unavailable {
                retry_after_secs: 1,
            };
        }
        Self::internal(err)
    }
}
