//! Queries on `recovery_codes`.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr};
use uuid::Uuid;

use super::{Conn, Error};
use crate::{
    domain::TokenHash,
    entity::recovery_codes::{self, Column, Entity},
};

/// Replaces a user's recovery codes with these (hashes).
///
/// # Errors
/// When a statement fails.
pub async fn replace(
    db: &impl Conn,
    user_id: Uuid,
    hashes: &[TokenHash],
    now: DateTime<Utc>,
) -> Result<(), Error> {
    delete_all(db, user_id).await?;
    let rows = hashes.iter().map(|h| {
        recovery_codes::ActiveModel::from(recovery_codes::Model {
            user_id,
            code_hash: h.0.clone(),
            used_at: None,
            created_at: now,
        })
    });
    Entity::insert_many(rows)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// Spends an unused code; `true` for the one caller that spent it.
///
/// # Errors
/// When the statement fails.
pub async fn spend(
    db: &impl Conn,
    user_id: Uuid,
    hash: &TokenHash,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let result = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::CodeHash.eq(hash.0.as_str()))
        .filter(Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// How many of a user's codes are unused.
///
/// # Errors
/// When the query fails.
pub async fn unused(db: &impl Conn, user_id: Uuid) -> Result<u64, Error> {
    Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::UsedAt.is_null())
        .count(db)
        .await
}

/// Removes every code of a user.
///
/// # Errors
/// When the statement fails.
pub async fn delete_all(db: &impl Conn, user_id: Uuid) -> Result<(), Error> {
    Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .exec(db)
        .await
        .map(|_| ())
}
