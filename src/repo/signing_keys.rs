//! Queries on `signing_keys`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait, sea_query::Expr,
};

use crate::entity::signing_keys::{self, Column, Entity};

/// Keys not yet retired (the signing one, and one staged to take over), newest first.
///
/// # Errors
/// When the query fails.
pub async fn current(db: &impl ConnectionTrait) -> Result<Vec<signing_keys::Model>, DbErr> {
    Entity::find()
        .filter(Column::RetiredAt.is_null())
        .order_by_desc(Column::ActivatesAt)
        .all(db)
        .await
}

/// Stores a key.
///
/// # Errors
/// When the insert fails.
pub async fn insert(db: &impl ConnectionTrait, key: signing_keys::Model) -> Result<(), DbErr> {
    let active: signing_keys::ActiveModel = key.into();
    Entity::insert(active)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// Stores `key` and retires every current key at the moment it takes over, atomically.
///
/// # Errors
/// When the transaction fails.
pub async fn stage(db: &DatabaseConnection, key: signing_keys::Model) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    Entity::update_many()
        .col_expr(Column::RetiredAt, Expr::value(key.activates_at))
        .filter(Column::RetiredAt.is_null())
        .exec(&txn)
        .await?;
    insert(&txn, key).await?;
    txn.commit().await
}

/// Keys still published: current ones and those retired after `retired_after`.
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
        .order_by_desc(Column::ActivatesAt)
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
