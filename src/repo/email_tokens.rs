//! Queries on `email_tokens`.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{Conn, Error};
use crate::{
    domain::TokenHash,
    entity::email_tokens::{self, Column, Entity},
};

/// What a mailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
    /// Lets the address that opens it past an account-wide login lock.
    UnlockAccount,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::UnlockAccount => "unlock_account",
        }
    }
}

/// Stores a new token for `user`, replacing any earlier one with the same purpose.
///
/// # Errors
/// When a statement fails.
pub async fn replace(
    db: &impl Conn,
    user_id: Uuid,
    purpose: Purpose,
    hash: &TokenHash,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), Error> {
    delete_for(db, user_id, purpose).await?;
    let row = email_tokens::Model {
        token_hash: hash.0.clone(),
        user_id,
        purpose: purpose.as_str().to_owned(),
        created_at: now,
        expires_at,
    };
    let active: email_tokens::ActiveModel = row.into();
    Entity::insert(active)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// The account the unexpired token with this hash and purpose was mailed for.
///
/// # Errors
/// When the query fails.
pub async fn owner_of_valid(
    db: &impl Conn,
    hash: &TokenHash,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, Error> {
    Ok(Entity::find_by_id(hash.0.clone())
        .filter(Column::Purpose.eq(purpose.as_str()))
        .filter(Column::ExpiresAt.gt(now))
        .one(db)
        .await?
        .map(|row| row.user_id))
}

/// Spends a token: `true` for the one caller that deleted it while it was still valid.
///
/// # Errors
/// When the statement fails.
pub async fn spend(
    db: &impl Conn,
    hash: &TokenHash,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let result = Entity::delete_many()
        .filter(Column::TokenHash.eq(hash.0.as_str()))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .filter(Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes a user's tokens with this purpose.
///
/// # Errors
/// When the statement fails.
pub async fn delete_for(db: &impl Conn, user_id: Uuid, purpose: Purpose) -> Result<u64, Error> {
    Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .exec(db)
        .await
        .map(|r| r.rows_affected)
}

/// Deletes expired tokens.
///
/// # Errors
/// When the statement fails.
pub async fn delete_expired(db: &impl Conn, now: DateTime<Utc>) -> Result<u64, Error> {
    Entity::delete_many()
        .filter(Column::ExpiresAt.lte(now))
        .exec(db)
        .await
        .map(|r| r.rows_affected)
}
