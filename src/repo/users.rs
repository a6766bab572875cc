//! Queries on `users`.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use uuid::Uuid;

use crate::entity::{
    profiles,
    users::{self, PasswordHash},
};

/// The fields of a new account; everything else starts at its default.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    /// Already trimmed and lower-cased.
    pub email: String,
    pub password_hash: PasswordHash,
    pub email_verified: bool,
    pub is_admin: bool,
}

/// Inserts a user and their empty profile. Run it inside a transaction so that neither
/// exists without the other.
///
/// # Errors
/// A unique violation (`DbErr::sql_err()`) when the username or email is taken.
pub async fn insert_with_profile(
    db: &impl ConnectionTrait,
    new: NewUser,
) -> Result<users::Model, DbErr> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    let user = users::ActiveModel {
        id: Set(id),
        username: Set(new.username),
        email: Set(new.email),
        password_hash: Set(new.password_hash),
        email_verified: Set(new.email_verified),
        first_name: Set(String::new()),
        last_name: Set(String::new()),
        is_admin: Set(new.is_admin),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
    };
    let user = users::Entity::insert(user).exec_with_returning(db).await?;
    profiles::Entity::insert(profiles::ActiveModel {
        user_id: Set(id),
        bio: Set(String::new()),
        contact: Set(String::new()),
        avatar: Set(None),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(user)
}
