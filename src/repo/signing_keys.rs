//! Queries on `signing_keys`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, TransactionTrait, sea_query::Expr,
};

use crate::entity::signing_keys::{self, Column, Entity};

/// The key that signs new tokens.
///
/// # Errors
/// When the query fails.
pub async fn find_active(db: &impl ConnectionTrait) -> Result<Option<signing_keys::Model>, DbErr> {
    Entity::find().filter(Column::Active.eq(true)).one(db).await
}

/// Stores a key.
///
/// # Errors
/// A unique violation when another key is already active.
pub async fn insert(db: &impl ConnectionTrait, key: signing_keys::Model) -> Result<(), DbErr> {
    let active: signing_keys::ActiveModel = key.into();
    Entity::insert(active)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// Retires the active key and stores `key` as the new active one, atomically.
///
/// # Errors
/// When the transaction fails.
pub async fn replace_active(
    db: &DatabaseConnection,
    key: signing_keys::Model,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    Entity::update_many()
        .col_expr(Column::Active, Expr::value(Option::<bool>::None))
        .col_expr(Column::RetiredAt, Expr::value(now))
        .filter(Column::Active.eq(true))
        .exec(&txn)
        .await?;
    let mut active: signing_keys::ActiveModel = key.into();
    active.active = Set(Some(true));
    Entity::insert(active).exec_without_returning(&txn).await?;
    txn.commit().await
}

/// Keys still published: the active one and those retired after `retired_after`.
///
/// # Errors
/// When the query fails.
pub async fn published(
    db: &impl ConnectionTrait,
    retired_after: DateTime<Utc>,
) -> Result<Vec<signing_keys::Model>, DbErr> {
    Entity::find()
        .filter(
            Condition::any()
                .add(Column::RetiredAt.is_null())
                .add(Column::RetiredAt.gt(retired_after)),
        )
        .order_by_desc(Column::CreatedAt)
        .all(db)
        .await
}

/// Deletes keys retired before `retired_before` (no token they signed can still be valid).
///
/// # Errors
/// When the query fails.
pub async fn delete_retired_before(
    db: &impl ConnectionTrait,
    retired_before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Entity::delete_many()
        .filter(Column::RetiredAt.lt(retired_before))
        .exec(db)
        .await
        .map(|r| r.rows_affected)
}
