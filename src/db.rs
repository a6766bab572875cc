//! The database connection pool and migrations, for PostgreSQL and SQLite alike.

use std::{
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
    TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use crate::config::{DatabaseKind, Settings};

/// Key of the PostgreSQL advisory lock that serialises migrations across replicas.
const MIGRATION_LOCK_KEY: i64 = 0x6175_7468_716c; // "authql"

/// How long to wait for a connection from the pool (and for a new one to open).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// A pooled connection idle for this long is pinged before it is handed out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(30);

/// After a connection broke, pooled connections not used since the break are pinged before
/// they are handed out, for this long: a server that restarted leaves every idle
/// connection dead, and without the check each would fail one request.
const SUSPECT_FOR: Duration = Duration::from_secs(15);

/// When a connection last broke, in milliseconds since [`epoch`] (0: never).
static LAST_BREAK_MS: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// A connection broke (see [`crate::repo::connection_broke`]): connections opened before
/// now are checked before their next use.
pub fn note_connection_failure() {
    let ms = u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX);
    LAST_BREAK_MS.store(ms.max(1), Ordering::Relaxed);
}

/// Whether a pooled connection idle for `idle` has not been used since a recent break, and
/// so needs a ping (one used since has shown it works).
fn predates_a_recent_break(idle: Duration) -> bool {
    let last = LAST_BREAK_MS.load(Ordering::Relaxed);
    if last == 0 {
        return false;
    }
    let since_break = epoch()
        .elapsed()
        .saturating_sub(Duration::from_millis(last));
    since_break < SUSPECT_FOR && idle >= since_break
}

/// Opens the connection pool.
///
/// SQLite runs in WAL mode (readers never wait for the writer) with a busy timeout, so
/// concurrent requests queue for the write lock instead of failing.
///
/// # Errors
/// When the database cannot be reached or the URL is not usable.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(settings.database.url.expose());
    opts.max_connections(settings.database.max_connections)
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_timeout(ACQUIRE_TIMEOUT)
        // A connection in steady use is not pinged on every checkout (that doubles the round
        // trips of a one-query request); one idle long enough to have been dropped by the
        // server or a proxy is.
        .test_before_acquire_if_idle_for(PING_AFTER_IDLE)
        .map_sqlx_postgres_before_acquire(|conn, meta| {
            Box::pin(async move {
                if predates_a_recent_break(meta.idle_for) {
                    use sea_orm::sqlx::Connection as _;
                    // A dead one is dropped; the pool hands out (or opens) another.
                    return Ok(conn.ping().await.is_ok());
                }
                Ok(true)
            })
        })
        .sqlx_logging(false);
    if settings.database.kind() == DatabaseKind::Sqlite {
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        });
    }
    Database::connect(opts).await
}

/// Applies every pending migration.
///
/// On PostgreSQL the migrations run in one transaction holding an advisory lock, so that
/// several replicas starting together apply them exactly once and never see half of them.
///
/// # Errors
/// When a migration fails; on PostgreSQL nothing of the failed run is kept.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let txn = db.begin().await?;
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [MIGRATION_LOCK_KEY.into()],
            ))
            .await?;
            Migrator::up(&txn, None).await?;
            txn.commit().await
        }
        _ => Migrator::up(db, None).await,
    }
}

/// Rolls back the most recent migration.
///
/// # Errors
/// When the rollback fails.
pub async fn migrate_down(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::down(db, Some(1)).await
}

/// Drops every table and applies all migrations again.
///
/// # Errors
/// When dropping or migrating fails.
pub async fn migrate_fresh(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::fresh(db).await
}

/// Each known migration and whether it has been applied, oldest first.
///
/// # Errors
/// When the migrations table cannot be read.
pub async fn migration_status(db: &DatabaseConnection) -> Result<Vec<(String, bool)>, DbErr> {
    Ok(Migrator::get_migration_with_status(db)
        .await?
        .iter()
        .map(|m| {
            (
                m.name().to_owned(),
                m.status() == migration::MigrationStatus::Applied,
            )
        })
        .collect())
}

/// Whether the database answers a query on authql's own schema (a bare `SELECT 1` would
/// not notice an SQLite file locked by another process).
///
/// # Errors
/// When it does not.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1 FROM seaql_migrations LIMIT 1")
        .await
        .map(|_| ())
}

/// A database URL safe to print: the engine, host and database, never the password.
pub fn describe_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) if u.scheme().starts_with("postgres") => format!(
            "postgres at {}:{}{}",
            u.host_str().unwrap_or("localhost"),
            u.port().unwrap_or(5432),
            u.path()
        ),
        _ if url.starts_with("sqlite:") => {
            format!(
                "sqlite file {}",
                url.trim_start_matches("sqlite:")
                    .trim_start_matches("//")
                    .split('?')
                    .next()
                    .unwrap_or_default()
            )
        }
        _ => "unrecognised URL".to_owned(),
    }
}
