//! Queries on `username_holds`: usernames held by sign-ups whose email already had an
//! account, so that such a sign-up leaves the name taken as a new account would.

use chrono::{DateTime, Utc};

use sea_orm::Statement;

use super::{Conn, Error};

/// Holds a username (lower-cased) that a sign-up asked for without creating an account
/// (its email had one), exactly as an unverified account would hold it: a second sign-up
/// or a profile change is told it is taken either way.
///
/// # Errors
/// When the statement fails.
pub async fn hold(db: &impl Conn, key: &str, now: DateTime<Utc>) -> Result<(), Error> {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO username_holds (username_key, created_at) VALUES ($1, $2) \
         ON CONFLICT (username_key) DO NOTHING",
        [key.into(), now.into()],
    ))
    .await
    .map(|_| ())
}

/// Whether a username (lower-cased) is held.
///
/// # Errors
/// When the query fails.
pub async fn held(db: &impl Conn, key: &str) -> Result<bool, Error> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT 1 AS held FROM username_holds WHERE username_key = $1",
            [key.into()],
        ))
        .await?;
    Ok(row.is_some())
}
