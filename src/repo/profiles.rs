//! Queries on `profiles`.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, JoinType, QueryFilter,
    QuerySelect, RelationTrait,
    sea_query::{Expr, ExprTrait, Func},
};

use crate::entity::{profiles, users};

/// The public columns of a profile and its user.
#[derive(Debug, FromQueryResult)]
pub struct PublicProfileRow {
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
    db: &impl ConnectionTrait,
    username_lower: &str,
) -> Result<Option<PublicProfileRow>, DbErr> {
    profiles::Entity::find()
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
        .into_model::<PublicProfileRow>()
        .one(db)
        .await
}

/// The profile of a user.
///
/// # Errors
/// When the query fails.
pub async fn find_by_user(
    db: &impl ConnectionTrait,
    user_id: uuid::Uuid,
) -> Result<Option<profiles::Model>, DbErr> {
    profiles::Entity::find_by_id(user_id).one(db).await
}
