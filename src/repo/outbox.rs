//! Queries on `outbox`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    Statement, sea_query::Expr,
};

use uuid::Uuid;

use super::{Conn, Error};
use crate::entity::outbox::{self, Column, Entity};

/// A row claimed for handing on. `Debug` leaves the payload (links with tokens) out.
#[derive(Clone)]
pub struct Claimed {
    pub id: Uuid,
    pub kind: String,
    pub recipient: String,
    pub payload: String,
    pub attempts: i32,
    /// The claim that holds the row: marking it requires this.
    pub claim_id: Uuid,
}

impl std::fmt::Debug for Claimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claimed")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// Writes a mail. Call it in the transaction of the change that causes the mail.
///
/// # Errors
/// When the insert fails.
pub async fn insert(
    db: &impl Conn,
    id: Uuid,
    kind: &str,
    recipient: &str,
    payload: String,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let row = outbox::Model {
        id,
        kind: kind.to_owned(),
        recipient: recipient.to_owned(),
        payload,
        created_at: now,
        available_at: now,
        claimed_until: None,
        claim_id: None,
        attempts: 0,
        published_at: None,
        dead_at: None,
        last_error: None,
    };
    let active: outbox::ActiveModel = row.into();
    Entity::insert(active)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// Claims up to `limit` rows that are due and not claimed by a live lease, leasing them
/// until `lease_until` under a new claim id. One statement; on PostgreSQL
/// `FOR UPDATE SKIP LOCKED` lets several replicas claim at once without waiting on, or
/// taking, each other's rows.
///
/// # Errors
/// When the statement fails.
pub async fn claim(
    db: &impl Conn,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Claimed>, Error> {
    let backend = db.get_database_backend();
    let due = "SELECT id FROM outbox \
               WHERE published_at IS NULL AND dead_at IS NULL AND available_at <= $2 \
                 AND (claimed_until IS NULL OR claimed_until < $2) \
               ORDER BY created_at LIMIT $3";
    let sql = if backend == DbBackend::Postgres {
        // A materialised CTE locks exactly the rows it picks, once.
        format!(
            "WITH picked AS MATERIALIZED ({due} FOR UPDATE SKIP LOCKED) \
             UPDATE outbox SET claimed_until = $1, claim_id = $4 FROM picked \
             WHERE outbox.id = picked.id \
             RETURNING outbox.id, outbox.kind, outbox.recipient, outbox.payload, outbox.attempts"
        )
    } else {
        // SQLite has one writer at a time: the statement is atomic as it stands.
        format!(
            "UPDATE outbox SET claimed_until = $1, claim_id = $4 WHERE id IN ({due}) \
             RETURNING id, kind, recipient, payload, attempts"
        )
    };
    let claim_id = Uuid::new_v4();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                lease_until.into(),
                now.into(),
                i64::from(limit).into(),
                claim_id.into(),
            ],
        ))
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Claimed {
                id: r.try_get("", "id")?,
                kind: r.try_get("", "kind")?,
                recipient: r.try_get("", "recipient")?,
                payload: r.try_get("", "payload")?,
                attempts: r.try_get("", "attempts")?,
                claim_id,
            })
        })
        .collect()
}

/// The mail was handed on: mark it so, and erase what it carried (links with tokens). Only
/// the claim that holds the row may; a late marker whose lease passed to another changes
/// nothing.
///
/// # Errors
/// When the update fails.
pub async fn mark_published(
    db: &impl Conn,
    row: &Claimed,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    Entity::update_many()
        .col_expr(Column::PublishedAt, Expr::value(now))
        .col_expr(Column::Payload, Expr::value("{}"))
        .col_expr(
            Column::ClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::ClaimId, Expr::value(Option::<Uuid>::None))
        .col_expr(Column::LastError, Expr::value(Option::<String>::None))
        .filter(Column::Id.eq(row.id))
        .filter(Column::ClaimId.eq(row.claim_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// A hand-on attempt failed: try again at `retry_at`, or, with `dead`, give up (the
/// payload, with its links, is erased then too). Only the holding claim may.
///
/// # Errors
/// When the update fails.
pub async fn mark_failed(
    db: &impl Conn,
    row: &Claimed,
    attempts: i32,
    retry_at: DateTime<Utc>,
    dead: Option<DateTime<Utc>>,
    error: &str,
) -> Result<(), Error> {
    let mut update = Entity::update_many()
        .col_expr(Column::Attempts, Expr::value(attempts))
        .col_expr(Column::AvailableAt, Expr::value(retry_at))
        .col_expr(
            Column::ClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::ClaimId, Expr::value(Option::<Uuid>::None))
        .col_expr(
            Column::LastError,
            Expr::value(error.chars().take(1000).collect::<String>()),
        )
        .filter(Column::Id.eq(row.id))
        .filter(Column::ClaimId.eq(row.claim_id));
    if let Some(dead_at) = dead {
        update = update
            .col_expr(Column::DeadAt, Expr::value(dead_at))
            .col_expr(Column::Payload, Expr::value("{}"));
    }
    update.exec(db).await.map(|_| ())
}

/// Gives claimed rows back (the broker went away before they were published).
///
/// # Errors
/// When the update fails.
pub async fn release(db: &impl Conn, rows: &[Claimed]) -> Result<(), Error> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    Entity::update_many()
        .col_expr(
            Column::ClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::ClaimId, Expr::value(Option::<Uuid>::None))
        .filter(Column::Id.is_in(rows.iter().map(|r| r.id)))
        .filter(Column::ClaimId.eq(first.claim_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// How many mails wait to be handed on, and when the oldest was written.
///
/// # Errors
/// When the query fails.
pub async fn pending(db: &impl Conn) -> Result<(u64, Option<DateTime<Utc>>), Error> {
    let waiting = || {
        Entity::find()
            .filter(Column::PublishedAt.is_null())
            .filter(Column::DeadAt.is_null())
    };
    let count = waiting().count(db).await?;
    let oldest = waiting()
        .order_by_asc(Column::CreatedAt)
        .one(db)
        .await?
        .map(|r| r.created_at);
    Ok((count, oldest))
}

/// Deletes rows handed on (or given up) before `before`.
///
/// # Errors
/// When the statement fails.
pub async fn delete_finished_before(db: &impl Conn, before: DateTime<Utc>) -> Result<u64, Error> {
    Entity::delete_many()
        .filter(
            Condition::any()
                .add(Column::PublishedAt.lt(before))
                .add(Column::DeadAt.lt(before)),
        )
        .exec(db)
        .await
        .map(|r| r.rows_affected)
}
