//! Queries on `refresh_tokens`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
    sea_query::Expr,
};

use uuid::Uuid;

use super::{Conn, Error};
use crate::{
    domain::{
        TokenHash,
        session::{RefreshToken, Session},
    },
    entity::{
        refresh_tokens::{self, Column, Entity},
        sessions, users,
    },
};

/// Stores a token's hash.
///
/// # Errors
/// When the insert fails.
pub async fn insert(
    db: &impl Conn,
    hash: &TokenHash,
    session_id: Uuid,
    parent: Option<&TokenHash>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let row = refresh_tokens::Model {
        token_hash: hash.0.clone(),
        session_id,
        parent_hash: parent.map(|p| p.0.clone()),
        created_at: now,
        spent_at: None,
        successor_sealed: None,
    };
    let active: refresh_tokens::ActiveModel = row.into();
    Entity::insert(active)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// A token and its session, if the token exists and its user is active.
///
/// # Errors
/// When the query fails.
pub async fn find_with_session(
    db: &impl Conn,
    hash: &TokenHash,
) -> Result<Option<(RefreshToken, Session)>, Error> {
    let found = Entity::find_by_id(hash.0.clone())
        .find_also_related(sessions::Entity)
        .join(JoinType::InnerJoin, sessions::Relation::User.def())
        .filter(users::Column::IsActive.eq(true))
        .one(db)
        .await?;
    Ok(found.and_then(|(token, session)| session.map(|s| (token.into(), s.into()))))
}

/// Marks a token spent, recording its sealed successor, if it was not spent yet; `true`
/// for the one caller that spent it.
///
/// # Errors
/// When the update fails.
pub async fn spend(
    db: &impl Conn,
    hash: &TokenHash,
    successor_sealed: String,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let result = Entity::update_many()
        .col_expr(Column::SpentAt, Expr::value(now))
        .col_expr(Column::SuccessorSealed, Expr::value(successor_sealed))
        .filter(Column::TokenHash.eq(hash.0.as_str()))
        .filter(Column::SpentAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// A token row by its hash.
///
/// # Errors
/// When the query fails.
pub async fn find(db: &impl Conn, hash: &TokenHash) -> Result<Option<RefreshToken>, Error> {
    Ok(Entity::find_by_id(hash.0.clone())
        .one(db)
        .await?
        .map(Into::into))
}

/// Erases sealed successors of tokens spent before `before` (their grace is long over).
///
/// # Errors
/// When the update fails.
pub async fn erase_old_seals(db: &impl Conn, before: DateTime<Utc>) -> Result<u64, Error> {
    Entity::update_many()
        .col_expr(Column::SuccessorSealed, Expr::value(Option::<String>::None))
        .filter(Column::SuccessorSealed.is_not_null())
        .filter(Column::SpentAt.lt(before))
        .exec(db)
        .await
        .map(|r| r.rows_affected)
}

/// Spends every unspent token of a session (with no sealed successor: nobody may pick one
/// up within the grace) and returns the newest of them, the parent of the token that
/// replaces them.
///
/// # Errors
/// When a statement fails.
pub async fn spend_all_of(
    db: &impl Conn,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<TokenHash>, Error> {
    let newest = Entity::find()
        .filter(Column::SessionId.eq(session_id))
        .filter(Column::SpentAt.is_null())
        .order_by_desc(Column::CreatedAt)
        .one(db)
        .await?
        .map(|t| TokenHash(t.token_hash));
    Entity::update_many()
        .col_expr(Column::SpentAt, Expr::value(now))
        .filter(Column::SessionId.eq(session_id))
        .filter(Column::SpentAt.is_null())
        .exec(db)
        .await?;
    Ok(newest)
}
