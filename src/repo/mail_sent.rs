//! Queries on `mail_sent`: a reservation per message id, taken before a mail is sent.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Statement};
use uuid::Uuid;

use super::{Conn, Error};
use crate::entity::mail_sent::{Column, Entity};

/// What [`reserve`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The caller holds the message now and must [`mark_sent`] or [`release`] it.
    Taken,
    /// The message was sent before.
    AlreadySent,
    /// Another sender holds it right now.
    Busy,
}

/// Takes the message id for sending: atomically, so of two copies handled at once only
/// one is sent. A reservation older than `stale_before` (its sender died) is taken over.
///
/// # Errors
/// When a statement fails.
pub async fn reserve(
    db: &impl Conn,
    id: Uuid,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> Result<Reservation, Error> {
    let backend = db.get_database_backend();
    let taken = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO mail_sent (message_id, state, updated_at) VALUES ($1, 'sending', $2) \
             ON CONFLICT (message_id) DO UPDATE SET updated_at = $2 \
             WHERE mail_sent.state = 'sending' AND mail_sent.updated_at < $3 \
             RETURNING message_id",
            [id.into(), now.into(), stale_before.into()],
        ))
        .await?
        .is_some();
    if taken {
        return Ok(Reservation::Taken);
    }
    let sent = Entity::find_by_id(id)
        .one(db)
        .await?
        .is_some_and(|row| row.state == "sent");
    Ok(if sent {
        Reservation::AlreadySent
    } else {
        Reservation::Busy
    })
}

/// The reserved message was sent.
///
/// # Errors
/// When the statement fails.
pub async fn mark_sent(db: &impl Conn, id: Uuid, now: DateTime<Utc>) -> Result<(), Error> {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE mail_sent SET state = 'sent', updated_at = $2 WHERE message_id = $1",
        [id.into(), now.into()],
    ))
    .await
    .map(|_| ())
}

/// Gives a reservation up after a failed send, so a retry may take it.
///
/// # Errors
/// When the statement fails.
pub async fn release(db: &impl Conn, id: Uuid) -> Result<(), Error> {
    Entity::delete_many()
        .filter(Column::MessageId.eq(id))
        .filter(Column::State.eq("sending"))
        .exec(db)
        .await
        .map(|_| ())
}

/// Forgets sends older than `before` (no redelivery comes that late).
///
/// # Errors
/// When the statement fails.
pub async fn delete_before(db: &impl Conn, before: DateTime<Utc>) -> Result<u64, Error> {
    Entity::delete_many()
        .filter(Column::UpdatedAt.lt(before))
        .exec(db)
        .await
        .map(|r| r.rows_affected)
}
