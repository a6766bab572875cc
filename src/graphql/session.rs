//! Session resolvers: `login`, `unlockAccount`, `reauthenticate`, `refresh`, `logout`,
//! `logoutAll`, `sessions`, `revokeSession`.

use async_graphql::{Context, ID, Object, Result, ResultExt};

use super::{
    context,
    cookie::{self, Presented},
    types::{AuthPayload, LoginInput, ReauthenticateInput, Session},
};
use crate::{
    domain::Password,
    error::{AppError, Field, FieldChecks},
    service::{login, passwords, reauthentication, sessions},
};

#[derive(Default)]
pub struct SessionQuery;

#[Object]
impl SessionQuery {
    /// The signed-in user's live sessions, most recently used first.
    async fn sessions(&self, ctx: &Context<'_>) -> Result<Vec<Session>> {
        let me = context::current_user(ctx).await?;
        let list = sessions::list(context::state(ctx)?, me).await.extend()?;
        Ok(list.into_iter().map(Session::from).collect())
    }
}

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Signs in with a username or email and a password, starting a session. Failed
    /// attempts are throttled per account (whichever of its names is typed) from each
    /// client address, per account from all addresses, and per client address
    /// (`RATE_LIMITED`).
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The username or email, and the password.")] input: LoginInput,
    ) -> Result<AuthPayload> {
        let state = context::state(ctx)?;
        let req = context::request(ctx)?;
        // Both inputs checked, and both reported at once.
        let mut checks = FieldChecks::default();
        if input.username_or_email.trim().is_empty() || input.username_or_email.len() > 320 {
            checks.check::<()>(Err(AppError::input(
                Field::UsernameOrEmail,
                "Enter a username or an email address",
            )));
        }
        let password = checks.check(Password::candidate(input.password, Field::Password));
        checks.finish().extend()?;
        let Some(password) = password else {
            return Err(AppError::internal(anyhow::anyhow!(
                "a checked field has no value"
            )))
            .extend();
        };
        let issued = login::login(state, &input.username_or_email, &password, &req.client)
            .await
            .extend()?;
        cookie::answer(ctx, issued)
    }

    /// Lets the device that opens the link in a "someone is trying to sign in" mail sign in
    /// to its locked account again (for one login window; its own failed attempts are
    /// forgotten). The link works once. Answers `true`, or `BAD_USER_INPUT` on `token` for
    /// a link that is invalid, spent or expired.
    async fn unlock_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `token` parameter of the link in the mail.")] token: String,
    ) -> Result<bool> {
        let state = context::state(ctx)?;
        let req = context::request(ctx)?;
        passwords::unlock_account(state, &token, &req.client.key())
            .await
            .extend()?;
        Ok(true)
    }

    /// Proves again who the signed-in user is, with the account's password (and a one-time
    /// code when the account has a second factor), so that the session may make sensitive
    /// changes (`changePassword`, ...) for another `REAUTH_MAX_AGE`. Answers a new access
    /// token for the same session, carrying the new `auth_time`, and a new refresh token
    /// that replaces the session's current one (which is spent). Wrong passwords count
    /// against the account like failed logins (`RATE_LIMITED`).
    async fn reauthenticate(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's password, and a code if it has a second factor.")]
        input: ReauthenticateInput,
    ) -> Result<AuthPayload> {
        let me = context::current_user(ctx).await?;
        let state = context::state(ctx)?;
        let req = context::request(ctx)?;
        let password = input
            .password
            .map(|p| Password::candidate(p, Field::Password))
            .transpose()
            .extend()?;
        let issued = reauthentication::reauthenticate(
            state,
            me,
            password.as_ref(),
            input.code.as_deref(),
            &req.client,
        )
        .await
        .extend()?;
        cookie::answer(ctx, issued)
    }

    /// Exchanges a refresh token for a new pair; the presented token is spent. Presenting a
    /// spent token again (outside the short grace for racing tabs) ends the session. In
    /// cookie mode (`X-Authql-Cookie: 1`) the token may be left out: the refresh cookie is
    /// read, and replaced with the new token.
    async fn refresh(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The refresh token of the last pair issued (in cookie mode, leave \
                          it out to use the cookie)."
        )]
        refresh_token: Option<String>,
    ) -> Result<AuthPayload> {
        let state = context::state(ctx)?;
        let presented = cookie::presented(ctx, refresh_token.as_deref())?;
        match sessions::refresh(state, presented.token()).await {
            Ok(issued) => cookie::answer(ctx, issued),
            Err(err) => {
                // A cookie that can no longer refresh is of no use to the browser.
                if matches!(
                    (&presented, &err),
                    (Presented::Cookie(_), AppError::Unauthenticated(_))
                ) {
                    cookie::clear(ctx)?;
                }
                Err(err).extend()
            }
        }
    }

    /// Ends the session the refresh token belongs to. In cookie mode (`X-Authql-Cookie: 1`)
    /// the token may be left out: the refresh cookie's session ends, and the cookie is
    /// cleared.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "A refresh token of the session to end (in cookie mode, leave it \
                          out to use the cookie)."
        )]
        refresh_token: Option<String>,
    ) -> Result<bool> {
        let presented = cookie::presented(ctx, refresh_token.as_deref())?;
        let ended = sessions::logout(context::state(ctx)?, presented.token()).await;
        // The cookie is kept only when its session may still be live (the database could
        // not be asked).
        if matches!(presented, Presented::Cookie(_))
            && matches!(ended, Ok(()) | Err(AppError::Unauthenticated(_)))
        {
            cookie::clear(ctx)?;
        }
        ended.extend()?;
        Ok(true)
    }

    /// Ends every session of the signed-in user, this one included.
    async fn logout_all(&self, ctx: &Context<'_>) -> Result<bool> {
        let me = context::current_user(ctx).await?;
        sessions::logout_all(context::state(ctx)?, me)
            .await
            .extend()?;
        Ok(true)
    }

    /// Ends one of the signed-in user's sessions (see `sessions`).
    async fn revoke_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session's id (from `sessions`).")] id: ID,
    ) -> Result<bool> {
        let me = context::current_user(ctx).await?;
        let session_id = uuid::Uuid::parse_str(&id)
            .map_err(|_| AppError::input(Field::Id, "Not a session id"))
            .extend()?;
        sessions::revoke_session(context::state(ctx)?, me, session_id)
            .await
            .extend()?;
        Ok(true)
    }
}
