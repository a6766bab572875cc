//! Queries on `rate_counters`: one counter per key within a fixed window.

use std::{collections::HashMap, sync::Mutex};

use chrono::{DateTime, Utc};

use sea_orm::Statement;

use super::{Conn, Error};

/// Counters known to be over their limit, with the end of their window. Bounded: when full
/// of live entries, a new one is simply not remembered (the database still refuses it).
#[derive(Debug, Default)]
pub struct Limited(Mutex<HashMap<String, DateTime<Utc>>>);

/// Most counters remembered at once.
const MAX_REMEMBERED: usize = 65_536;

impl Limited {
    /// Seconds until the window of the first of `keys` known to be limited ends.
    pub fn retry_after(&self, keys: &[&str], now: DateTime<Utc>) -> Option<u64> {
        let known = self.0.lock().ok()?;
        keys.iter()
            .filter_map(|k| known.get(*k))
            .filter(|until| **until > now)
            .map(|until| {
                u64::try_from((*until - now).num_seconds())
                    .unwrap_or(0)
                    .max(1)
            })
            .max()
    }

    pub fn remember(&self, key: &str, until: DateTime<Utc>, now: DateTime<Utc>) {
        let Ok(mut known) = self.0.lock() else { return };
        if known.len() >= MAX_REMEMBERED {
            known.retain(|_, u| *u > now);
        }
        if known.len() < MAX_REMEMBERED {
            known.insert(key.to_owned(), until);
        }
    }
}

/// Counts one more attempt for `key` and returns the count in the current window and when
/// that window started. A window that began at or before `window_floor` is over, so the
/// count starts again at 1. One statement, atomic on both engines.
///
/// # Errors
/// When the statement fails.
pub async fn hit(
    db: &impl Conn,
    key: &str,
    now: DateTime<Utc>,
    window_floor: DateTime<Utc>,
) -> Result<(i32, DateTime<Utc>), Error> {
    let stmt = Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO rate_counters (key, hits, window_start) VALUES ($1, 1, $2) \
         ON CONFLICT (key) DO UPDATE SET \
           hits = CASE WHEN rate_counters.window_start <= $3 THEN 1 \
                      ELSE rate_counters.hits + 1 END, \
           window_start = CASE WHEN rate_counters.window_start <= $3 THEN $2 \
                          ELSE rate_counters.window_start END \
         RETURNING hits, window_start",
        [key.into(), now.into(), window_floor.into()],
    );
    let row = db
        .query_one_raw(stmt)
        .await?
        .ok_or_else(|| Error::RecordNotFound("rate_counters upsert returned no row".into()))?;
    Ok((row.try_get("", "hits")?, row.try_get("", "window_start")?))
}

/// [`hit`] for several keys in one statement; returns each key with its count and window.
///
/// # Errors
/// When the statement fails.
pub async fn hit_many(
    db: &impl Conn,
    keys: &[&str],
    now: DateTime<Utc>,
    window_floor: DateTime<Utc>,
) -> Result<Vec<(String, i32, DateTime<Utc>)>, Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<String> = (0..keys.len())
        .map(|i| format!("(${}, 1, $1)", i + 3))
        .collect();
    let sql = format!(
        "INSERT INTO rate_counters (key, hits, window_start) VALUES {} \
         ON CONFLICT (key) DO UPDATE SET \
           hits = CASE WHEN rate_counters.window_start <= $2 THEN 1 \
                  ELSE rate_counters.hits + 1 END, \
           window_start = CASE WHEN rate_counters.window_start <= $2 THEN $1 \
                          ELSE rate_counters.window_start END \
         RETURNING key, hits, window_start",
        rows.join(", ")
    );
    let mut values: Vec<sea_orm::Value> = vec![now.into(), window_floor.into()];
    values.extend(keys.iter().map(|k| (*k).into()));
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok((
                r.try_get("", "key")?,
                r.try_get("", "hits")?,
                r.try_get("", "window_start")?,
            ))
        })
        .collect()
}

/// Takes back one attempt (a login that succeeded does not count against an address).
///
/// # Errors
/// When the statement fails.
pub async fn refund(db: &impl Conn, key: &str) -> Result<(), Error> {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE rate_counters SET hits = hits - 1 WHERE key = $1 AND hits > 0",
        [key.into()],
    ))
    .await
    .map(|_| ())
}

/// Forgets every attempt on `key`.
///
/// # Errors
/// When the statement fails.
pub async fn clear(db: &impl Conn, key: &str) -> Result<(), Error> {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "DELETE FROM rate_counters WHERE key = $1",
        [key.into()],
    ))
    .await
    .map(|_| ())
}

/// Starts `key` afresh: one hit in a window beginning `now`.
///
/// # Errors
/// When the statement fails.
pub async fn start(db: &impl Conn, key: &str, now: DateTime<Utc>) -> Result<(), Error> {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO rate_counters (key, hits, window_start) VALUES ($1, 1, $2) \
         ON CONFLICT (key) DO UPDATE SET hits = 1, window_start = $2",
        [key.into(), now.into()],
    ))
    .await
    .map(|_| ())
}

/// The hits on `key` and when its window started, if that window began after
/// `window_floor` (is still running).
///
/// # Errors
/// When the query fails.
pub async fn live(
    db: &impl Conn,
    key: &str,
    window_floor: DateTime<Utc>,
) -> Result<Option<(i32, DateTime<Utc>)>, Error> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT hits, window_start FROM rate_counters WHERE key = $1 AND window_start > $2",
            [key.into(), window_floor.into()],
        ))
        .await?;
    row.map(|r| Ok((r.try_get("", "hits")?, r.try_get("", "window_start")?)))
        .transpose()
}

/// Deletes counters whose window is over.
///
/// # Errors
/// When the statement fails.
pub async fn delete_stale(db: &impl Conn, window_floor: DateTime<Utc>) -> Result<u64, Error> {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "DELETE FROM rate_counters WHERE window_start <= $1",
        [window_floor.into()],
    ))
    .await
    .map(|r| r.rows_affected())
}
