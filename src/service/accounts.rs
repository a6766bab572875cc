//! Accounts: signing up, and reading an account by id.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    domain::{Account, ClientKey, Email, Password, Username},
    error::{AppError, Field, FieldChecks},
    mail::Mail,
    repo::{
        self,
        email_tokens::Purpose,
        users::{NewUser, WriteError, insert_with_profile},
    },
    service::{mailing, throttle},
    state::AppState,
};

/// What `signUp` was asked for, as typed. `Debug` leaves the password out.
pub struct SignUpRequest {
    pub username: String,
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for SignUpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignUpRequest")
            .field("username", &self.username)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
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
    AppError::input(Field::Username, "This username is taken")
}

/// Creates an unverified account with an empty profile and mails a verification link; for
/// an email that already has an account, mails its owner a notice instead.
///
/// Neither outcome can be told from the other: the answer, the work done (a hash and one
/// write transaction), the username afterwards (an unverified account holds it; a sign-up
/// for a taken email holds it in `username_holds`, so a second sign-up is told it is taken
/// either way) and the public profile (shown only once the email is verified) are the same.
///
/// What costs a password hash comes last: invalid input, a client over its sign-up budget
/// and a taken username are refused before it. The password is hashed before the email is
/// looked up, so an email that already has an account costs the same time as a new one, and
/// gets the same answer.
///
/// # Errors
/// `BAD_USER_INPUT` naming the field for each broken rule and for a taken username;
/// `RATE_LIMITED` past the sign-ups allowed per client address, or when no hasher is free.
#[tracing::instrument(skip_all)]
pub async fn sign_up(
    state: &AppState,
    req: SignUpRequest,
    client: &ClientKey,
) -> Result<SignUpOutcome, AppError> {
    // Every field is checked, and every broken rule reported at once.
    let mut checks = FieldChecks::default();
    let username = checks.check(Username::parse(&req.username));
    let email = checks.check(Email::parse(&req.email));
    let password = checks.check(Password::new_for(
        req.password,
        Field::Password,
        username
            .as_ref()
            .map_or(req.username.as_str(), Username::as_str),
        email.as_ref().map_or(req.email.as_str(), Email::as_str),
    ));
    checks.finish()?;
    let (Some(username), Some(email), Some(password)) = (username, email, password) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "a checked field has no value"
        )));
    };
    throttle::charge_signup(state, client).await?;
    let username_key = username.key();
    let email_key = email.as_str().to_owned();
    if repo::idempotent(|| repo::users::username_taken(&state.db, &username_key)).await? {
        return Err(username_taken());
    }
    let hash = state.hasher.hash(&password, client).await?;
    let now = state.clock.now();

    // Checked again inside the transaction: a concurrent sign-up may have taken it.
    let txn = repo::begin(&state.db).await?;
    if repo::users::username_taken(&txn, &username_key).await? {
        return Err(username_taken());
    }
    if let Some(owner) = repo::users::find_by_email(&txn, &email_key).await? {
        repo::username_holds::hold(&txn, &username_key, now).await?;
        notify_owner(&txn, state, &owner, now).await?;
        repo::commit(txn).await?;
        state.relay.wake();
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
            if mailing::within_limit(&txn, state, &user.email, now).await? {
                mailing::send_link(
                    &txn,
                    state,
                    user.id,
                    &user.username,
                    &user.email,
                    Purpose::VerifyEmail,
                    now,
                )
                .await?;
            }
            repo::commit(txn).await?;
            state.relay.wake();
            tracing::info!(user_id = %user.id, "account created");
            Ok(SignUpOutcome::Created(user.id))
        }
        // Lost a race with a concurrent sign-up: answer as the checks above would have.
        Err(WriteError::Taken(_)) => {
            drop(txn);
            if repo::users::username_taken(&state.db, &username_key).await? {
                return Err(username_taken());
            }
            match repo::users::find_by_email(&state.db, &email_key).await? {
                Some(owner) => {
                    let txn = repo::begin(&state.db).await?;
                    repo::username_holds::hold(&txn, &username_key, now).await?;
                    notify_owner(&txn, state, &owner, now).await?;
                    repo::commit(txn).await?;
                    state.relay.wake();
                    Ok(SignUpOutcome::EmailTaken(owner.id))
                }
                // Taken, then gone again (deleted meanwhile): try again.
                None => Err(AppError::RateLimited {
                    retry_after_secs: 1,
                }),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Tells the owner of an address that someone tried to sign up with it (within the
/// per-address limit).
async fn notify_owner(
    txn: &repo::Tx,
    state: &AppState,
    owner: &Account,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if mailing::within_limit(txn, state, &owner.email, now).await? {
        let mail = Mail::SignupAttempt {
            username: owner.username.clone(),
        };
        mailing::enqueue(txn, &owner.email, mail, now).await?;
    }
    Ok(())
}

/// The account with this id.
///
/// # Errors
/// `NOT_FOUND` when there is none.
pub async fn by_id(state: &AppState, id: Uuid) -> Result<Account, AppError> {
    repo::users::find_by_id(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("No such user"))
}
