//! Queries on `totp_factors`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter,
    sea_query::{Expr, OnConflict},
};
use uuid::Uuid;

use super::{Conn, Error};
use crate::{
    domain::second_factor::TotpFactor,
    entity::totp_factors::{self, Column, Entity},
};

/// A user's TOTP factor, confirmed or waiting for its first code.
///
/// # Errors
/// When the query fails.
pub async fn find(db: &impl Conn, user_id: Uuid) -> Result<Option<TotpFactor>, Error> {
    Ok(Entity::find_by_id(user_id)
        .one(db)
        .await?
        .map(|m| TotpFactor {
            secret_sealed: m.secret_sealed,
            confirmed: m.confirmed_at.is_some(),
            last_step: m.last_step,
            created_at: m.created_at,
        }))
}

/// Whether a user has a confirmed TOTP factor.
///
/// # Errors
/// When the query fails.
pub async fn is_enabled(db: &impl Conn, user_id: Uuid) -> Result<bool, Error> {
    Ok(find(db, user_id).await?.is_some_and(|f| f.confirmed))
}

/// Stores a new secret waiting for its first code, replacing one that waited before;
/// `false` (and nothing changed) when the user's factor is confirmed already.
///
/// # Errors
/// When the statement fails.
pub async fn put_pending(
    db: &impl Conn,
    user_id: Uuid,
    secret_sealed: String,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let row = totp_factors::ActiveModel::from(totp_factors::Model {
        user_id,
        secret_sealed,
        confirmed_at: None,
        last_step: None,
        created_at: now,
    });
    let on_conflict = OnConflict::column(Column::UserId)
        .update_columns([Column::SecretSealed, Column::LastStep, Column::CreatedAt])
        .action_and_where(Column::ConfirmedAt.is_null())
        .to_owned();
    let inserted = Entity::insert(row)
        .on_conflict(on_conflict)
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// Confirms the waiting factor whose sealed secret is `secret_sealed` (the one the code was
/// checked against), accepting `step`; `false` when it was replaced or confirmed meanwhile.
///
/// # Errors
/// When the statement fails.
pub async fn confirm(
    db: &impl Conn,
    user_id: Uuid,
    secret_sealed: &str,
    step: i64,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let result = Entity::update_many()
        .col_expr(Column::ConfirmedAt, Expr::value(now))
        .col_expr(Column::LastStep, Expr::value(step))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ConfirmedAt.is_null())
        .filter(Column::SecretSealed.eq(secret_sealed))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Accepts a code for time step `step` if no code of that step or a later one was accepted
/// before: one atomic update, so a code replayed, even concurrently, is accepted once.
///
/// # Errors
/// When the statement fails.
pub async fn accept_step(db: &impl Conn, user_id: Uuid, step: i64) -> Result<bool, Error> {
    let result = Entity::update_many()
        .col_expr(Column::LastStep, Expr::value(step))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ConfirmedAt.is_not_null())
        .filter(
            Condition::any()
                .add(Column::LastStep.is_null())
                .add(Column::LastStep.lt(step)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Removes a user's factor, confirmed or not; whether there was a confirmed one.
///
/// # Errors
/// When a statement fails.
pub async fn delete(db: &impl Conn, user_id: Uuid) -> Result<bool, Error> {
    let was_on = is_enabled(db, user_id).await?;
    Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(was_on)
}
