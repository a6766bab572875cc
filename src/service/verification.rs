//! Email verification: `verifyEmail` and `resendVerification`.

use crate::{
    auth::opaque_token::looks_like_token,
    domain::TokenHash,
    error::{AppError, Field},
    repo::{self, email_tokens::Purpose},
    service::{current_user::CurrentUser, mailing},
    state::AppState,
};

fn invalid_link() -> AppError {
    AppError::input(Field::Token, "This link is invalid or has expired")
}

/// Marks the address of the token's account verified; the token is spent.
///
/// # Errors
/// `BAD_USER_INPUT` on `token` for an unknown, used or expired token, or an account that
/// is already verified.
#[tracing::instrument(skip_all)]
pub async fn verify_email(state: &AppState, token: &str) -> Result<(), AppError> {
    if !looks_like_token(token) {
        return Err(invalid_link());
    }
    let hash = TokenHash::of(token);
    let now = state.clock.now();
    let txn = repo::begin(&state.db).await?;
    let owner = repo::email_tokens::owner_of_valid(&txn, &hash, Purpose::VerifyEmail, now)
        .await?
        .ok_or_else(invalid_link)?;
    let user = repo::users::find_by_id(&txn, owner)
        .await?
        .ok_or_else(invalid_link)?;
    if user.email_verified {
        return Err(AppError::input(
            Field::Token,
            "This email address is already verified",
        ));
    }
    if !repo::email_tokens::spend(&txn, &hash, Purpose::VerifyEmail, now).await? {
        return Err(invalid_link());
    }
    repo::users::mark_email_verified(&txn, user.id, now).await?;
    repo::commit(txn).await?;
    tracing::info!(user_id = %user.id, "email verified");
    Ok(())
}

/// Mails a new verification link to the signed-in user (the old link stops working),
/// within the per-address limit.
///
/// # Errors
/// `BAD_USER_INPUT` on `email` when the address is already verified.
pub async fn resend_verification(state: &AppState, me: &CurrentUser) -> Result<(), AppError> {
    if me.account.email_verified {
        return Err(AppError::input(
            Field::Email,
            "This email address is already verified",
        ));
    }
    let now = state.clock.now();
    let txn = repo::begin(&state.db).await?;
    let a = &me.account;
    if mailing::within_limit(&txn, state, &a.email, now).await? {
        mailing::send_link(
            &txn,
            state,
            a.id,
            &a.username,
            &a.email,
            Purpose::VerifyEmail,
            now,
        )
        .await?;
    }
    repo::commit(txn).await?;
    state.relay.wake();
    Ok(())
}
