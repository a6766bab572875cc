//! Passwords: `requestReset`, `resetTokenValid`, `confirmReset`, `changePassword`.

use crate::{
    auth::opaque_token::looks_like_token,
    domain::TokenHash,
    domain::{Account, ClientKey, Email, Password},
    error::{AppError, Field, FieldChecks},
    mail::Mail,
    repo::{
        self,
        email_tokens::Purpose,
        sessions::{RevokeReason, Scope},
    },
    service::{current_user::CurrentUser, mailing, sessions::ClientInfo, throttle},
    state::AppState,
};

fn invalid_link() -> AppError {
    AppError::input(Field::Token, "This link is invalid or has expired")
}

/// Mails a reset link when the address belongs to an active account (within the
/// per-address limit). The caller answers `true` either way, and both ways do the same
/// work: the address's mail counter is written whether or not it has an account, so the
/// time taken reveals nothing either.
///
/// # Errors
/// `BAD_USER_INPUT` on `email` only for something that is not an email address.
#[tracing::instrument(skip_all)]
pub async fn request_reset(state: &AppState, email: &str) -> Result<(), AppError> {
    let email = Email::parse(email)?;
    let now = state.clock.now();
    let txn = repo::begin(&state.db).await?;
    let allowed = mailing::within_limit(&txn, state, email.as_str(), now).await?;
    let user = repo::users::find_by_email(&txn, email.as_str())
        .await?
        .filter(|u| u.is_active);
    if let (true, Some(user)) = (allowed, user) {
        mailing::send_link(
            &txn,
            state,
            user.id,
            &user.username,
            &user.email,
            Purpose::ResetPassword,
            now,
        )
        .await?;
    }
    repo::commit(txn).await?;
    state.relay.wake();
    Ok(())
}

/// The active account a reset token belongs to, if the token is valid.
async fn reset_owner(
    db: &impl repo::Conn,
    hash: &TokenHash,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Account>, AppError> {
    let Some(owner) =
        repo::email_tokens::owner_of_valid(db, hash, Purpose::ResetPassword, now).await?
    else {
        return Ok(None);
    };
    Ok(repo::users::find_by_id(db, owner)
        .await?
        .filter(|u| u.is_active))
}

/// Whether a reset link still works (for a frontend, before it shows its form).
///
/// # Errors
/// Only internal ones.
pub async fn reset_token_valid(state: &AppState, token: &str) -> Result<bool, AppError> {
    if !looks_like_token(token) {
        return Ok(false);
    }
    let now = state.clock.now();
    Ok(reset_owner(&state.db, &TokenHash::of(token), now)
        .await?
        .is_some())
}

/// Sets a new password with a reset link: the token is spent, the address counts as
/// verified (the link proved it), every session ends, and a notice is mailed.
///
/// # Errors
/// `BAD_USER_INPUT` on `token` for a bad link, on `newPassword` for a password that breaks
/// a rule.
#[tracing::instrument(skip_all)]
pub async fn confirm_reset(
    state: &AppState,
    token: &str,
    new_password: String,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let hash = TokenHash::of(token);
    let owner = if looks_like_token(token) {
        reset_owner(&state.db, &hash, state.clock.now()).await?
    } else {
        None
    };
    // The link and the new password are both checked, and both reported at once (without
    // a link's owner, the rules that compare with the username and email wait for one).
    let mut checks = FieldChecks::default();
    let user = checks.check(owner.ok_or_else(invalid_link));
    let password = checks.check(Password::new_for(
        new_password,
        Field::NewPassword,
        user.as_ref().map_or("", |u| u.username.as_str()),
        user.as_ref().map_or("", |u| u.email.as_str()),
    ));
    checks.finish()?;
    let (Some(user), Some(password)) = (user, password) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "a checked field has no value"
        )));
    };
    let password_hash = state.hasher.hash(&password, &client.key()).await?;

    let now = state.clock.now();
    let txn = repo::begin(&state.db).await?;
    if !repo::email_tokens::spend(&txn, &hash, Purpose::ResetPassword, now).await? {
        return Err(invalid_link());
    }
    // A reset always wins: it bumps the credential version whatever it was, so no login
    // that checked the old password can still start a session.
    repo::users::set_password(&txn, user.id, password_hash, None, now).await?;
    repo::users::mark_email_verified(&txn, user.id, now).await?;
    // The owner proved themselves: the account-wide lock is lifted, and this address
    // gets past a new one for a window.
    throttle::lift_account_lock(&txn, user.id, &client.key(), now).await?;
    repo::email_tokens::delete_for(&txn, user.id, Purpose::UnlockAccount).await?;
    repo::email_tokens::delete_for(&txn, user.id, Purpose::VerifyEmail).await?;
    let scope = Scope::AllOf {
        user: user.id,
        keep: None,
    };
    let ended = repo::sessions::revoke(&txn, scope, RevokeReason::PasswordReset, now).await?;
    let mail = Mail::PasswordReset {
        username: user.username.clone(),
    };
    mailing::enqueue(&txn, &user.email, mail, now).await?;
    repo::commit(txn).await?;
    state.relay.wake();
    tracing::info!(user_id = %user.id, sessions_ended = ended, "password reset");
    Ok(())
}

/// Changes the signed-in user's password: the session must have signed in recently (step-up),
/// the current one is checked (attempts count against the login throttle), every other
/// session ends, and a notice is mailed.
///
/// # Errors
/// `REAUTHENTICATION_REQUIRED` when the session signed in longer than `REAUTH_MAX_AGE` ago;
/// `BAD_USER_INPUT` on `currentPassword` when it is wrong, on `newPassword` when the new
/// one breaks a rule; `RATE_LIMITED` after too many wrong attempts.
#[tracing::instrument(skip_all)]
pub async fn change_password(
    state: &AppState,
    me: &CurrentUser,
    current: String,
    new_password: String,
    client: &ClientInfo,
) -> Result<(), AppError> {
    me.require_recent(state).await?;
    let (user, credential) = repo::users::find_by_id_with_credential(&state.db, me.account.id)
        .await?
        .ok_or(AppError::Unauthenticated(
            "The session has ended; sign in again",
        ))?;
    // Both inputs' rules first, reported at once: a request that breaks one costs no hash.
    let mut checks = FieldChecks::default();
    let same = new_password == current;
    let current = checks.check(Password::candidate(current, Field::CurrentPassword));
    let password = if same {
        checks.check::<Password>(Err(AppError::input(
            Field::NewPassword,
            "The new password must differ from the current one",
        )))
    } else {
        checks.check(Password::new_for(
            new_password,
            Field::NewPassword,
            &user.username,
            &user.email,
        ))
    };
    checks.finish()?;
    let (Some(current), Some(password)) = (current, password) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "a checked field has no value"
        )));
    };
    let current = &current;
    let Some(charged) =
        crate::service::login::check_own_password(state, &user, &credential, current, client)
            .await?
    else {
        return Err(AppError::input(
            Field::CurrentPassword,
            "The current password is not correct",
        ));
    };
    throttle::settle_success(&state.db, charged).await?;
    let password_hash = state.hasher.hash(&password, &client.key()).await?;

    let now = state.clock.now();
    let txn = repo::begin(&state.db).await?;
    // Only over the password checked above: a reset (or another change) that landed
    // meanwhile wins, and this change is refused as a wrong current password would be.
    if !repo::users::set_password(&txn, user.id, password_hash, Some(credential.version), now)
        .await?
    {
        return Err(AppError::input(
            Field::CurrentPassword,
            "The current password is not correct",
        ));
    }
    // The session this change is made from must still be live: a reset that ended it
    // must not be undone by a change sent with its access token.
    if !repo::sessions::is_live(&txn, me.session_id, now).await? {
        return Err(AppError::Unauthenticated(
            "The session has ended; sign in again",
        ));
    }
    let scope = Scope::AllOf {
        user: user.id,
        keep: Some(me.session_id),
    };
    let ended = repo::sessions::revoke(&txn, scope, RevokeReason::PasswordChanged, now).await?;
    // A reset link mailed before no longer fits the account it would reset.
    repo::email_tokens::delete_for(&txn, user.id, Purpose::ResetPassword).await?;
    let mail = Mail::PasswordChanged {
        username: user.username.clone(),
    };
    mailing::enqueue(&txn, &user.email, mail, now).await?;
    repo::commit(txn).await?;
    state.relay.wake();
    tracing::info!(user_id = %user.id, sessions_ended = ended, "password changed");
    Ok(())
}

/// Lets the address that opens an unlock link past its account's account-wide login lock
/// (for one login window) and forgets that address's own failures on the account. The
/// link is spent.
///
/// # Errors
/// `BAD_USER_INPUT` on `token` for a link that is invalid, spent or expired.
#[tracing::instrument(skip_all)]
pub async fn unlock_account(
    state: &AppState,
    token: &str,
    client: &ClientKey,
) -> Result<(), AppError> {
    if !looks_like_token(token) {
        return Err(invalid_link());
    }
    let hash = TokenHash::of(token);
    let now = state.clock.now();
    let txn = repo::begin(&state.db).await?;
    let owner = repo::email_tokens::owner_of_valid(&txn, &hash, Purpose::UnlockAccount, now)
        .await?
        .ok_or_else(invalid_link)?;
    if !repo::email_tokens::spend(&txn, &hash, Purpose::UnlockAccount, now).await? {
        return Err(invalid_link());
    }
    throttle::unlock_for(&txn, owner, client, now).await?;
    repo::commit(txn).await?;
    tracing::info!(user_id = %owner, "account unlocked for one address");
    Ok(())
}
