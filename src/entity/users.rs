//! `users`: one row per account.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub username: String,
    /// Trimmed and lower-cased.
    #[sea_orm(unique)]
    pub email: String,
    /// PHC format (`$argon2id$…`).
    pub password_hash: String,
    pub email_verified: bool,
    pub first_name: String,
    pub last_name: String,
    pub is_admin: bool,
    pub is_active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_login_at: Option<DateTimeUtc>,
    /// Bumped by every password change and reset: a login only starts a session if the
    /// version it checked the password of is still the stored one.
    pub credential_version: i32,
}

/// The tables that belong to a user declare the relation (`belongs_to`); queries that start
/// from `users` follow it reversed, so the entities import one way.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
