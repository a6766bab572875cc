//! The first administrator: `authql create-admin` creates a new, verified one; with
//! `--promote` it makes an existing account (named by both its username and its verified
//! email) an administrator and ends that account's sessions.

use uuid::Uuid;

use crate::{
    auth::password::Hasher,
    domain::{AccountChanges, ClientKey, Email, Password, Username},
    error::{AppError, Field},
    repo::{
        self,
        sessions::{RevokeReason, Scope},
        users::{NewUser, Unique, WriteError},
    },
};

/// What `authql create-admin` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateAdmin {
    /// A new, verified administrator.
    Created(Uuid),
    /// An existing account (named by both its username and its email) made administrator;
    /// its sessions ended.
    Promoted {
        id: Uuid,
        username: String,
        email: String,
        sessions_ended: u64,
    },
}

/// Whether `create-admin` may make an existing account administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse when the username or the email has an account (the default: someone may
    /// have signed up with the name the operator meant for themselves).
    Refuse,
    /// Promote the account that has both this username and this (verified) email.
    Promote,
}

fn taken(field: Field, what: &str) -> AppError {
    AppError::input(
        field,
        format!(
            "An account with this {what} exists; nothing was changed. To make it an \
             administrator, run create-admin --promote with its username and its email"
        ),
    )
}

/// Creates a new verified administrator; or, with [`Existing::Promote`], makes the account
/// that has both this username and this email an administrator (its email must be verified,
/// and its sessions end, so that it signs in again with its new rights). `password` is asked
/// for only when an account is created.
///
/// # Errors
/// `BAD_USER_INPUT` for a broken rule; without `Promote`, when the username or the email
/// has an account; with it, unless both name one and the same account with a verified email.
pub async fn create_admin(
    db: &repo::Db,
    hasher: &Hasher,
    username: &str,
    email: &str,
    existing: Existing,
    password: impl FnOnce() -> Result<String, AppError>,
) -> Result<CreateAdmin, AppError> {
    let username = Username::parse(username)?;
    let email = Email::parse(email)?;
    let now = chrono::Utc::now();
    if existing == Existing::Promote {
        return promote(db, &username, &email, now).await;
    }
    refuse_taken(db, &username, &email).await?;
    let password = Password::new_for(
        password()?,
        Field::Password,
        username.as_str(),
        email.as_str(),
    )?;
    let hash = hasher.hash(&password, &ClientKey::of(None)).await?;
    let txn = repo::begin(db).await?;
    // Again, in the transaction that creates it: a sign-up may have taken either meanwhile.
    refuse_taken(&txn, &username, &email).await?;
    let new = NewUser {
        username: username.into_inner(),
        email: email.into_inner(),
        password_hash: hash,
        email_verified: true,
        is_admin: true,
    };
    let user = match repo::users::insert_with_profile(&txn, new, now).await {
        Err(WriteError::Taken(Unique::Username)) => return Err(taken(Field::Username, "username")),
        Err(WriteError::Taken(Unique::Email)) => return Err(taken(Field::Email, "email")),
        other => other?,
    };
    repo::commit(txn).await?;
    Ok(CreateAdmin::Created(user.id))
}

async fn refuse_taken(
    conn: &impl repo::Conn,
    username: &Username,
    email: &Email,
) -> Result<(), AppError> {
    if repo::users::username_taken(conn, &username.key()).await? {
        return Err(taken(Field::Username, "username"));
    }
    if repo::users::find_by_email(conn, email.as_str())
        .await?
        .is_some()
    {
        return Err(taken(Field::Email, "email"));
    }
    Ok(())
}

async fn promote(
    db: &repo::Db,
    username: &Username,
    email: &Email,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<CreateAdmin, AppError> {
    let txn = repo::begin(db).await?;
    let by_name = repo::users::find_by_username(&txn, &username.key()).await?;
    let by_email = repo::users::find_by_email(&txn, email.as_str()).await?;
    let user = match (by_name, by_email) {
        (Some(a), Some(b)) if a.id == b.id => a,
        (Some(_), Some(_)) => {
            return Err(AppError::input(
                Field::Email,
                "The username and the email belong to two different accounts; nothing was changed",
            ));
        }
        (None, _) => {
            return Err(AppError::input(
                Field::Username,
                "No account has this username",
            ));
        }
        (_, None) => return Err(AppError::input(Field::Email, "No account has this email")),
    };
    if !user.email_verified {
        return Err(AppError::input(
            Field::Email,
            "This account's email is not verified; only a verified account can be promoted",
        ));
    }
    let changes = AccountChanges {
        is_admin: Some(true),
        is_active: Some(true),
        ..AccountChanges::default()
    };
    repo::users::update(&txn, user.id, changes, now).await?;
    let scope = Scope::AllOf {
        user: user.id,
        keep: None,
    };
    let sessions_ended = repo::sessions::revoke(&txn, scope, RevokeReason::Admin, now).await?;
    repo::commit(txn).await?;
    Ok(CreateAdmin::Promoted {
        id: user.id,
        username: user.username,
        email: user.email,
        sessions_ended,
    })
}
