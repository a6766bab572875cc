//! Accounts: signing up, and the account as the rest of authql sees it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db,
    domain::{Email, Password, Username},
    entity::users,
    error::AppError,
    repo::{
        self,
        users::{NewUser, insert_with_profile},
    },
    state::AppState,
};

/// An account, as services hand it to the transport layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub first_name: String,
    pub last_name: String,
    pub is_admin: bool,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<users::Model> for Account {
    fn from(u: users::Model) -> Self {
        Self {
            id: u.id,
            username: u.username,
            email: u.email,
            email_verified: u.email_verified,
            first_name: u.first_name,
            last_name: u.last_name,
            is_admin: u.is_admin,
            is_active: u.is_active,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
        }
    }
}

/// What `signUp` was asked for, as typed.
#[derive(Debug)]
pub struct SignUpRequest {
    pub username: String,
    pub email: String,
    pub password: String,
}

/// What signing up did. The client sees the same answer either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignUpOutcome {
    /// A new, unverified account.
    Created(Uuid),
    /// The email already has an account: nothing was created.
    EmailTaken(Uuid),
}

fn username_taken() -> AppError {
    AppError::input("username", "This username is taken")
}

/// Creates an unverified account with an empty profile.
///
/// The password is hashed before anything is looked up, so an email that already has an
/// account costs the same time as a new one, and gets the same answer.
///
/// # Errors
/// `BAD_USER_INPUT` naming the field for each broken rule and for a taken username.
#[tracing::instrument(skip_all)]
pub async fn sign_up(state: &AppState, req: SignUpRequest) -> Result<SignUpOutcome, AppError> {
    let username = Username::parse(&req.username)?;
    let email = Email::parse(&req.email)?;
    let password = Password::new_for(req.password, "password", username.as_str(), email.as_str())?;
    let hash = state.hasher.hash(&password).await?;
    let now = state.clock.now();

    let username_key = username.key();
    let email_key = email.as_str().to_owned();

    let txn = db::begin_write(&state.db).await?;
    if repo::users::username_taken(&txn, &username_key).await? {
        return Err(username_taken());
    }
    if let Some(owner) = repo::users::find_by_email(&txn, &email_key).await? {
        txn.commit().await?;
        return Ok(SignUpOutcome::EmailTaken(owner.id));
    }
    let new = NewUser {
        username: username.into_inner(),
        email: email.into_inner(),
        password_hash: hash,
        email_verified: false,
        is_admin: false,
    };
    match insert_with_profile(&txn, new, now).await {
        Ok(user) => {
            txn.commit().await?;
            tracing::info!(user_id = %user.id, "account created");
            Ok(SignUpOutcome::Created(user.id))
        }
        // Lost a race with a concurrent sign-up: answer as the checks above would have.
        Err(e) if e.sql_err().is_some() => {
            drop(txn);
            if repo::users::username_taken(&state.db, &username_key).await? {
                return Err(username_taken());
            }
            match repo::users::find_by_email(&state.db, &email_key).await? {
                Some(owner) => Ok(SignUpOutcome::EmailTaken(owner.id)),
                None => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The account with this id.
///
/// # Errors
/// `NOT_FOUND` when there is none.
pub async fn by_id(state: &AppState, id: Uuid) -> Result<Account, AppError> {
    repo::users::find_by_id(&state.db, id)
        .await?
        .map(Account::from)
        .ok_or(AppError::NotFound("No such user"))
}
