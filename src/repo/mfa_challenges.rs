//! Queries on `mfa_challenges`.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use uuid::Uuid;

use super::{Conn, Error};
use crate::{
    domain::{TokenHash, second_factor::MfaChallenge},
    entity::mfa_challenges::{self, Column, Entity},
};

/// Stores a challenge under its token's hash.
///
/// # Errors
/// When the statement fails.
pub async fn insert(
    db: &impl Conn,
    hash: &TokenHash,
    challenge: MfaChallenge,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let row = mfa_challenges::ActiveModel::from(mfa_challenges::Model {
        token_hash: hash.0.clone(),
        user_id: challenge.user_id,
        credential_version: challenge.credential_version,
        client_binding: challenge.client_binding.0,
        created_at: now,
        expires_at: challenge.expires_at,
        spent_at: challenge.spent_at,
    });
    Entity::insert(row)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// A challenge by its token's hash, whatever its state.
///
/// # Errors
/// When the query fails.
pub async fn find(db: &impl Conn, hash: &TokenHash) -> Result<Option<MfaChallenge>, Error> {
    Ok(Entity::find_by_id(hash.0.clone())
        .one(db)
        .await?
        .map(|m| MfaChallenge {
            user_id: m.user_id,
            credential_version: m.credential_version,
            client_binding: TokenHash(m.client_binding),
            expires_at: m.expires_at,
            spent_at: m.spent_at,
        }))
}

/// Spends an unexpired, unspent challenge; `true` for the one caller that spent it.
///
/// # Errors
/// When the statement fails.
pub async fn spend(db: &impl Conn, hash: &TokenHash, now: DateTime<Utc>) -> Result<bool, Error> {
    let result = Entity::update_many()
        .col_expr(Column::SpentAt, Expr::value(now))
        .filter(Column::TokenHash.eq(hash.0.as_str()))
        .filter(Column::SpentAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Removes every challenge of a user (their second factor changed).
///
/// # Errors
/// When the statement fails.
pub async fn delete_for(db: &impl Conn, user_id: Uuid) -> Result<(), Error> {
    Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Removes challenges that expired before `before`.
///
/// # Errors
/// When the statement fails.
pub async fn delete_expired_before(db: &impl Conn, before: DateTime<Utc>) -> Result<u64, Error> {
    Entity::delete_many()
        .filter(Column::ExpiresAt.lt(before))
        .exec(db)
        .await
        .map(|r| r.rows_affected)
}
