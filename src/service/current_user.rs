//! Who is calling: the account behind a verified access token, checked against the live
//! session and the active user in one database round trip.

use uuid::Uuid;

use crate::{
    auth::jwt::AccessClaims,
    domain::{
        Account,
        session::{AuthMethods, Authentication},
    },
    error::AppError,
    repo,
    state::AppState,
};

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub account: Account,
    pub session_id: Uuid,
    /// When and how the session's user last proved who they are.
    pub authentication: Authentication,
}

impl CurrentUser {
    /// Step-up: a sensitive change needs a sign-in (or `reauthenticate`) within
    /// `REAUTH_MAX_AGE`, so that a stolen access token alone is not enough for it; on an
    /// account with a second factor, one that proved it too (a session signed in with the
    /// password alone before the factor was turned on does not count).
    ///
    /// # Errors
    /// `REAUTHENTICATION_REQUIRED` when the session's last proof is older or weaker.
    pub async fn require_recent(&self, state: &AppState) -> Result<(), AppError> {
        let max_age = state.settings.tokens.reauth_max_age;
        if !self.authentication.within(max_age, state.clock.now()) {
            return Err(AppError::ReauthenticationRequired);
        }
        if self.authentication.methods == AuthMethods::Password
            && repo::totp_factors::is_enabled(&state.db, self.account.id).await?
        {
            return Err(AppError::ReauthenticationRequired);
        }
        Ok(())
    }
}

/// Loads the user of a verified token, if its session is still live and the user active.
///
/// # Errors
/// `UNAUTHENTICATED` when the session ended (logout, revocation, expiry, password change)
/// or the user was deactivated or deleted.
pub async fn current_user(
    state: &AppState,
    claims: &AccessClaims,
) -> Result<CurrentUser, AppError> {
    let now = state.clock.now();
    let found =
        repo::idempotent(|| repo::sessions::find_live_user(&state.db, claims.sid, claims.sub, now))
            .await?;
    let (account, authentication) = found.ok_or(AppError::Unauthenticated(
        "The session has ended; sign in again",
    ))?;
    Ok(CurrentUser {
        account,
        session_id: claims.sid,
        authentication,
    })
}
