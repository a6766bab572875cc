//! Queries on `signing_keys`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, TransactionTrait, sea_query::Expr,
};

use super::{Conn, Db, Error};
use crate::{
    domain::signing_key::SigningKey,
    entity::signing_keys::{self, Column, Entity},
};

fn keys(rows: Vec<signing_keys::Model>) -> Vec<SigningKey> {
    rows.into_iter().map(Into::into).collect()
}

/// Keys not yet retired nor revoked (the signing one, and one staged to take over), newest
/// first.
///
/// # Errors
/// When the query fails.
pub async fn current(db: &impl Conn) -> Result<Vec<SigningKey>, Error> {
    Entity::find()
        .filter(Column::RetiredAt.is_null())
        .filter(Column::RevokedAt.is_null())
        .order_by_desc(Column::ActivatesAt)
        .all(db)
        .await
        .map(keys)
}

/// Locks the current keys until the transaction ends (PostgreSQL; SQLite's write
/// transaction holds the whole database).
///
/// # Errors
/// When the query fails.
pub async fn lock_current(db: &impl Conn) -> Result<(), Error> {
    use sea_orm::QuerySelect;
    Entity::find()
        .filter(Column::RetiredAt.is_null())
        .filter(Column::RevokedAt.is_null())
        .lock_exclusive()
        .all(db)
        .await
        .map(|_| ())
}

/// Stores a key.
///
/// # Errors
/// When the insert fails.
pub async fn insert(db: &impl Conn, key: SigningKey) -> Result<(), Error> {
    let active: signing_keys::ActiveModel = signing_keys::Model::from(key).into();
    Entity::insert(active)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// Stores `key` and retires every current key at the moment it takes over, atomically.
///
/// # Errors
/// When the transaction fails.
pub async fn stage(db: &Db, key: SigningKey) -> Result<(), Error> {
    let txn = db.begin().await?;
    Entity::update_many()
        .col_expr(Column::RetiredAt, Expr::value(key.activates_at))
        .filter(Column::RetiredAt.is_null())
        .exec(&txn)
        .await?;
    insert(&txn, key).await?;
    txn.commit().await
}

/// Keys still published: current ones and those retired after `retired_after`; never a
/// revoked one.
///
/// # Errors
/// When the query fails.
pub async fn published(
    db: &impl Conn,
    retired_after: DateTime<Utc>,
) -> Result<Vec<SigningKey>, Error> {
    Entity::find()
        .filter(
            Condition::any()
                .add(Column::RetiredAt.is_null())
                .add(Column::RetiredAt.gt(retired_after)),
        )
        .filter(Column::RevokedAt.is_null())
        .order_by_desc(Column::ActivatesAt)
        .all(db)
        .await
        .map(keys)
}

/// Deletes keys retired before `retired_before` (no token they signed can still be valid).
///
/// # Errors
/// When the query fails.
pub async fn delete_retired_before(
    db: &impl Conn,
    retired_before: DateTime<Utc>,
) -> Result<u64, Error> {
    Entity::delete_many()
        .filter(
            Condition::any()
                .add(Column::RetiredAt.lt(retired_before))
                .add(Column::RevokedAt.lt(retired_before)),
        )
        .exec(db)
        .await
        .map(|r| r.rows_affected)
}

/// Every stored key, revoked ones included.
///
/// # Errors
/// When the query fails.
pub async fn all(db: &impl Conn) -> Result<Vec<SigningKey>, Error> {
    Entity::find()
        .order_by_asc(Column::CreatedAt)
        .all(db)
        .await
        .map(keys)
}

/// Replaces the stored form of a key's private half (sealing a clear one), only if it is
/// still `was` (a replica sealing it at the same moment is not overwritten).
///
/// # Errors
/// When the update fails.
pub async fn reseal(db: &impl Conn, kid: &str, was: &str, stored: String) -> Result<bool, Error> {
    let result = Entity::update_many()
        .col_expr(Column::PrivateKey, Expr::value(stored))
        .filter(Column::Kid.eq(kid))
        .filter(Column::PrivateKey.eq(was))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Revokes a key: from `now` it neither signs nor verifies, nor is it published. Returns
/// the key as it was, if there is one with this id that was not revoked already.
///
/// # Errors
/// When a statement fails.
pub async fn revoke(
    db: &impl Conn,
    kid: &str,
    now: DateTime<Utc>,
) -> Result<Option<SigningKey>, Error> {
    let Some(key) = Entity::find_by_id(kid.to_owned())
        .filter(Column::RevokedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::Kid.eq(kid))
        .exec(db)
        .await?;
    Ok(Some(key.into()))
}
