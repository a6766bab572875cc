//! Queries on `profiles`.

use sea_orm::{
    ColumnTrait, EntityTrait, FromQueryResult, JoinType, QueryFilter, QuerySelect, RelationTrait,
    sea_query::{Expr, ExprTrait, Func},
};

use super::{Conn, Error};
use crate::{
    domain::profile::{ProfileData, PublicProfile},
    entity::{profiles, users},
};

/// The public columns of a profile and its user.
#[derive(Debug, FromQueryResult)]
struct PublicProfileRow {
    pub username: String,
    pub bio: String,
    pub contact: String,
    pub avatar: Option<String>,
}

/// The profile of the active user whose lower-cased username is `username_lower`.
///
/// # Errors
/// When the query fails.
pub async fn find_public_by_username(
    db: &impl Conn,
    username_lower: &str,
) -> Result<Option<PublicProfile>, Error> {
    let row = profiles::Entity::find()
        .select_only()
        .column(users::Column::Username)
        .columns([
            profiles::Column::Bio,
            profiles::Column::Contact,
            profiles::Column::Avatar,
        ])
        .join(JoinType::InnerJoin, profiles::Relation::User.def())
        // Matches the expression index users_username_lower_key.
        .filter(
            Expr::expr(Func::lower(Expr::col((
                users::Entity,
                users::Column::Username,
            ))))
            .eq(username_lower),
        )
        .filter(users::Column::IsActive.eq(true))
        // Public once the owner proved the address: before, whether an account exists for
        // a name says whether a sign-up's email was new.
        .filter(users::Column::EmailVerified.eq(true))
        .into_model::<PublicProfileRow>()
        .one(db)
        .await?;
    Ok(row.map(|r| PublicProfile {
        username: r.username,
        bio: r.bio,
        contact: r.contact,
        avatar: r.avatar,
    }))
}

/// The profile of a user.
///
/// # Errors
/// When the query fails.
pub async fn find_by_user(
    db: &impl Conn,
    user_id: uuid::Uuid,
) -> Result<Option<ProfileData>, Error> {
    Ok(profiles::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .map(Into::into))
}

/// Changes the given profile fields (`None` leaves a field as it is).
///
/// # Errors
/// When the update fails.
pub async fn update(
    db: &impl Conn,
    user_id: uuid::Uuid,
    bio: Option<String>,
    contact: Option<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Error> {
    let mut update = profiles::Entity::update_many()
        .col_expr(profiles::Column::UpdatedAt, Expr::value(now))
        .filter(profiles::Column::UserId.eq(user_id));
    if let Some(bio) = bio {
        update = update.col_expr(profiles::Column::Bio, Expr::value(bio));
    }
    if let Some(contact) = contact {
        update = update.col_expr(profiles::Column::Contact, Expr::value(contact));
    }
    update.exec(db).await.map(|_| ())
}

/// Points a profile at a new avatar file (or none).
///
/// # Errors
/// When the update fails.
pub async fn set_avatar(
    db: &impl Conn,
    user_id: uuid::Uuid,
    avatar: Option<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Error> {
    profiles::Entity::update_many()
        .col_expr(profiles::Column::Avatar, Expr::value(avatar))
        .col_expr(profiles::Column::UpdatedAt, Expr::value(now))
        .filter(profiles::Column::UserId.eq(user_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// The profile of a user, locked for the rest of the transaction (`FOR UPDATE` on
/// PostgreSQL; SQLite's write transaction already excludes other writers).
///
/// # Errors
/// When the query fails.
pub async fn find_by_user_for_update(
    db: &impl Conn,
    user_id: uuid::Uuid,
) -> Result<Option<ProfileData>, Error> {
    Ok(profiles::Entity::find_by_id(user_id)
        .lock_exclusive()
        .one(db)
        .await?
        .map(Into::into))
}
