//! Step-up: the signed-in user proves who they are again, so that their session may make
//! sensitive changes (see [`CurrentUser::require_recent`]) for another `REAUTH_MAX_AGE`.
//!
//! The proof is checked like a login's (the same throttle, counted against the account),
//! and renews the session's authentication time, which its later access tokens carry as
//! `auth_time`. The session's refresh token is replaced: the answer carries the new one,
//! and the one the client held is spent.

use crate::{
    auth::opaque_token::OpaqueToken,
    domain::{
        Password,
        session::{AuthMethods, Authentication},
    },
    error::{AppError, Field},
    repo,
    service::{
        current_user::CurrentUser,
        login, second_factor,
        sessions::{ClientInfo, Issued, IssuedFor, access_token, seconds_until},
        throttle,
    },
    state::AppState,
};

fn session_ended() -> AppError {
    AppError::Unauthenticated("The session has ended; sign in again")
}

/// Renews the authentication time of the caller's session with its account's password, and
/// a code when the account has a second factor.
///
/// # Errors
/// `BAD_USER_INPUT` on `password` when it is missing or wrong, on `code` when it is wrong,
/// missing for an account with a second factor or sent for one without; `RATE_LIMITED` after too many wrong attempts;
/// `UNAUTHENTICATED` when the session ended meanwhile.
#[tracing::instrument(skip_all)]
pub async fn reauthenticate(
    state: &AppState,
    me: &CurrentUser,
    password: Option<&Password>,
    code: Option<&str>,
    client: &ClientInfo,
) -> Result<Issued, AppError> {
    let password =
        password.ok_or_else(|| AppError::input(Field::Password, "Give the account's password"))?;
    let has_second_factor = repo::totp_factors::is_enabled(&state.db, me.account.id).await?;
    match (has_second_factor, code) {
        (false, Some(_)) => {
            return Err(AppError::input(
                Field::Code,
                "This account has no second factor: send the password alone",
            ));
        }
        (true, None) => {
            return Err(AppError::input(
                Field::Code,
                "This account has a second factor: send a code with the password",
            ));
        }
        _ => {}
    }
    let (user, credential) = repo::users::find_by_id_with_credential(&state.db, me.account.id)
        .await?
        .ok_or_else(session_ended)?;
    let Some(charged) =
        login::check_own_password(state, &user, &credential, password, client).await?
    else {
        tracing::info!(user_id = %user.id, "reauthentication failed");
        return Err(AppError::input(
            Field::Password,
            "The password is not correct",
        ));
    };
    // Wrong codes count like wrong passwords: the attempt stays charged until both are right.
    let methods = if has_second_factor {
        second_factor::check_reauthentication_code(state, &user, code).await?;
        AuthMethods::PasswordAndCode
    } else {
        AuthMethods::Password
    };
    throttle::settle_success(&state.db, charged).await?;
    // Successes are bounded like logins' (each one is a hash and a new refresh token).
    throttle::charge_success(state, user.id).await?;

    let now = state.clock.now();
    let authentication = Authentication { time: now, methods };
    let refresh = OpaqueToken::generate()?;
    let txn = repo::begin(&state.db).await?;
    let mut session = repo::sessions::find(&txn, me.session_id)
        .await?
        .filter(|s| s.is_live(now))
        .ok_or_else(session_ended)?;
    let idle = (now + state.settings.tokens.refresh_ttl).min(session.absolute_expires_at);
    // The refresh tokens first, in the order a refresh takes its locks.
    let parent = repo::refresh_tokens::spend_all_of(&txn, session.id, now).await?;
    repo::refresh_tokens::insert(&txn, &refresh.hash(), session.id, parent.as_ref(), now).await?;
    if !repo::sessions::record_authentication(&txn, session.id, authentication, Some(idle)).await? {
        return Err(session_ended());
    }
    repo::commit(txn).await?;
    tracing::info!(user_id = %user.id, session_id = %session.id, "reauthenticated");

    session.authentication = authentication;
    Ok(Issued {
        access_token: access_token(state, &session, now)?,
        refresh_token: refresh,
        expires_in: state
            .settings
            .tokens
            .access_ttl
            .num_seconds()
            .unsigned_abs(),
        refresh_expires_in: seconds_until(idle, now),
        user: IssuedFor::Loaded(user),
    })
}
