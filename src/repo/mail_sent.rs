//! Queries on `mail_sent`.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Statement};
use uuid::Uuid;

use crate::entity::mail_sent::{Column, Entity};

/// Whether a message with this id was sent.
///
/// # Errors
/// When the query fails.
pub async fn exists(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, DbErr> {
    Ok(Entity::find_by_id(id).one(db).await?.is_some())
}

/// Records that a message was sent (once; a second record is ignored).
///
/// # Errors
/// When the statement fails.
pub async fn record(db: &impl ConnectionTrait, id: Uuid, now: DateTime<Utc>) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO mail_sent (message_id, sent_at) VALUES ($1, $2) \
         ON CONFLICT (message_id) DO NOTHING",
        [id.into(), now.into()],
    ))
    .await
    .map(|_| ())
}

/// Forgets sends older than `before` (no redelivery comes that late).
///
/// # Errors
/// When the statement fails.
pub async fn delete_before(db: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, DbErr> {
    Entity::delete_many()
        .filter(Column::SentAt.lt(before))
        .exec(db)
        .await
        .map(|r| r.rows_affected)
}
