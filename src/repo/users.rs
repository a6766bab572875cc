//! Queries on `users`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationTrait,
    sea_query::{Expr, ExprTrait, Func},
};

use uuid::Uuid;

use super::{Conn, Error};
use crate::{
    domain::{Account, AccountChanges, Credential, PasswordHash, profile::ProfileData},
    entity::{profiles, users},
};

/// An account field no two accounts share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    /// Case-insensitively (the index `users_username_lower_key`).
    Username,
    Email,
}

/// Why a write to `users` was refused.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the {0:?} is taken")]
    Taken(Unique),
    #[error(transparent)]
    Db(#[from] Error),
}

impl WriteError {
    /// A unique violation names the index it broke, on PostgreSQL
    /// (`users_username_lower_key`, `users_email_key`) and on SQLite (`index
    /// 'users_username_lower_key'`, `users.email`) alike.
    fn of(e: Error) -> Self {
        match e.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(msg)) if msg.contains("username") => {
                Self::Taken(Unique::Username)
            }
            Some(sea_orm::SqlErr::UniqueConstraintViolation(msg)) if msg.contains("email") => {
                Self::Taken(Unique::Email)
            }
            _ => Self::Db(e),
        }
    }
}

impl From<WriteError> for crate::error::AppError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Taken(Unique::Username) => {
                Self::input(crate::error::Field::Username, "This username is taken")
            }
            WriteError::Taken(Unique::Email) => Self::input(
                crate::error::Field::Email,
                "This email address has an account",
            ),
            WriteError::Db(e) => e.into(),
        }
    }
}

/// An account row as the account and its credential.
fn with_credential(u: users::Model) -> (Account, Credential) {
    let credential = Credential {
        version: u.credential_version,
        hash: PasswordHash(u.password_hash.clone()),
    };
    (u.into(), credential)
}

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
/// [`WriteError::Taken`] when the username or email is taken.
pub async fn insert_with_profile(
    db: &impl Conn,
    new: NewUser,
    now: DateTime<Utc>,
) -> Result<Account, WriteError> {
    let id = Uuid::now_v7();
    let user = users::ActiveModel {
        id: Set(id),
        username: Set(new.username),
        email: Set(new.email),
        password_hash: Set(new.password_hash.0),
        email_verified: Set(new.email_verified),
        first_name: Set(String::new()),
        last_name: Set(String::new()),
        is_admin: Set(new.is_admin),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        credential_version: Set(0),
    };
    let user = users::Entity::insert(user)
        .exec_with_returning(db)
        .await
        .map_err(WriteError::of)?;
    profiles::Entity::insert(profiles::ActiveModel {
        user_id: Set(id),
        bio: Set(String::new()),
        contact: Set(String::new()),
        avatar: Set(None),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(user.into())
}

async fn login_row(
    db: &impl Conn,
    username_key: &str,
    email_key: &str,
) -> Result<Option<users::Model>, Error> {
    users::Entity::find()
        .filter(
            Condition::any()
                .add(Expr::expr(Func::lower(Expr::col(users::Column::Username))).eq(username_key))
                .add(users::Column::Email.eq(email_key)),
        )
        .one(db)
        .await
}

/// The account whose lower-cased username is `username_key` or whose email is `email_key`.
///
/// # Errors
/// When the query fails.
pub async fn find_by_login(
    db: &impl Conn,
    username_key: &str,
    email_key: &str,
) -> Result<Option<Account>, Error> {
    Ok(login_row(db, username_key, email_key)
        .await?
        .map(Into::into))
}

/// The account a login names (as [`find_by_login`]) with the credential to check the
/// password against, read together.
///
/// # Errors
/// When the query fails.
pub async fn find_by_login_with_credential(
    db: &impl Conn,
    username_key: &str,
    email_key: &str,
) -> Result<Option<(Account, Credential)>, Error> {
    Ok(login_row(db, username_key, email_key)
        .await?
        .map(with_credential))
}

/// The account with this id and its credential, read together.
///
/// # Errors
/// When the query fails.
pub async fn find_by_id_with_credential(
    db: &impl Conn,
    id: Uuid,
) -> Result<Option<(Account, Credential)>, Error> {
    Ok(users::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(with_credential))
}

/// The user whose lower-cased username is `key`.
///
/// # Errors
/// When the query fails.
pub async fn find_by_username(db: &impl Conn, key: &str) -> Result<Option<Account>, Error> {
    Ok(users::Entity::find()
        .filter(Expr::expr(Func::lower(Expr::col(users::Column::Username))).eq(key))
        .one(db)
        .await?
        .map(Into::into))
}

/// Whether a username (lower-cased) is taken: by an account, or held by a sign-up that
/// created none (see [`super::username_holds`]).
///
/// # Errors
/// When the query fails.
pub async fn username_taken(db: &impl Conn, key: &str) -> Result<bool, Error> {
    if find_by_username(db, key).await?.is_some() {
        return Ok(true);
    }
    super::username_holds::held(db, key).await
}

/// The user with this (lower-cased) email.
///
/// # Errors
/// When the query fails.
pub async fn find_by_email(db: &impl Conn, email: &str) -> Result<Option<Account>, Error> {
    Ok(users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .one(db)
        .await?
        .map(Into::into))
}

/// The user with this id.
///
/// # Errors
/// When the query fails.
pub async fn find_by_id(db: &impl Conn, id: Uuid) -> Result<Option<Account>, Error> {
    Ok(users::Entity::find_by_id(id).one(db).await?.map(Into::into))
}

/// Records a successful login, if the password it checked is still the stored one (the
/// credential version has not moved) and the account is still active. A stronger hash of
/// the password, if one was made, is written only over the hash it replaces. Returns
/// whether the login stands; `false` means the credential changed meanwhile.
///
/// # Errors
/// When the update fails.
pub async fn record_login(
    db: &impl Conn,
    id: Uuid,
    now: DateTime<Utc>,
    checked: &Credential,
    rehashed: Option<PasswordHash>,
) -> Result<bool, Error> {
    use users::Column as C;
    let mut update = users::Entity::update_many()
        .col_expr(C::LastLoginAt, Expr::value(now))
        .filter(C::Id.eq(id))
        .filter(C::CredentialVersion.eq(checked.version))
        .filter(C::IsActive.eq(true));
    if let Some(hash) = rehashed {
        update = update.col_expr(
            C::PasswordHash,
            Expr::case(
                Expr::col(C::PasswordHash).eq(checked.hash.0.clone()),
                Expr::value(hash.0),
            )
            .finally(Expr::col(C::PasswordHash))
            .into(),
        );
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// Marks a user's email verified.
///
/// # Errors
/// When the update fails.
pub async fn mark_email_verified(
    db: &impl Conn,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    users::Entity::update_many()
        .col_expr(users::Column::EmailVerified, Expr::value(true))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Stores a new password hash and bumps the credential version, so that no login that
/// checked the old password can still start a session. With `expected`, only if the
/// version is still that one (a change that raced a reset loses); returns whether it was
/// stored.
///
/// # Errors
/// When the update fails.
pub async fn set_password(
    db: &impl Conn,
    id: Uuid,
    hash: PasswordHash,
    expected: Option<i32>,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    use users::Column as C;
    let mut update = users::Entity::update_many()
        .col_expr(C::PasswordHash, Expr::value(hash.0))
        .col_expr(C::CredentialVersion, Expr::col(C::CredentialVersion).add(1))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Id.eq(id));
    if let Some(version) = expected {
        update = update.filter(C::CredentialVersion.eq(version));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// The ids of the active administrators, locked until the transaction ends (on
/// PostgreSQL `FOR UPDATE`; SQLite's write transaction holds the whole database), so that
/// two changes that could each remove an administrator take turns and the second sees
/// the first.
///
/// # Errors
/// When the query fails.
pub async fn lock_active_admins(db: &impl Conn) -> Result<Vec<Uuid>, Error> {
    use sea_orm::{QueryOrder, QuerySelect};
    users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::IsAdmin.eq(true))
        .filter(users::Column::IsActive.eq(true))
        .order_by_asc(users::Column::Id)
        .lock_exclusive()
        .into_tuple()
        .all(db)
        .await
}

/// Applies `changes` to a user.
///
/// # Errors
/// [`WriteError::Taken`] when the new username or email is taken.
pub async fn update(
    db: &impl Conn,
    id: Uuid,
    changes: AccountChanges,
    now: DateTime<Utc>,
) -> Result<(), WriteError> {
    use users::Column as C;
    let mut update = users::Entity::update_many()
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Id.eq(id));
    let strings = [
        (C::Username, changes.username),
        (C::Email, changes.email),
        (C::FirstName, changes.first_name),
        (C::LastName, changes.last_name),
    ];
    for (column, value) in strings {
        if let Some(value) = value {
            update = update.col_expr(column, Expr::value(value));
        }
    }
    let flags = [
        (C::IsAdmin, changes.is_admin),
        (C::IsActive, changes.is_active),
        (C::EmailVerified, changes.email_verified),
    ];
    for (column, value) in flags {
        if let Some(value) = value {
            update = update.col_expr(column, Expr::value(value));
        }
    }
    update.exec(db).await.map(|_| ()).map_err(WriteError::of)
}

/// Deletes a user; their profile, sessions, refresh and email tokens go with them.
///
/// # Errors
/// When the delete fails.
pub async fn delete(db: &impl Conn, id: Uuid) -> Result<bool, Error> {
    Ok(users::Entity::delete_by_id(id)
        .exec(db)
        .await?
        .rows_affected
        == 1)
}

/// A user and their profile.
///
/// # Errors
/// When the query fails.
pub async fn find_with_profile(
    db: &impl Conn,
    id: Uuid,
) -> Result<Option<(Account, Option<ProfileData>)>, Error> {
    Ok(users::Entity::find_by_id(id)
        .join(JoinType::LeftJoin, profiles::Relation::User.def().rev())
        .select_also(profiles::Entity)
        .one(db)
        .await?
        .map(|(u, p)| (u.into(), p.map(Into::into))))
}
