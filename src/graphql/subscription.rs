//! The subscription root: `sessionEvents`, served over WebSocket at `/graphql/ws`
//! (`http::ws`), which authenticates the connection and hands the resolver its feed.

use async_graphql::{Context, Enum, Result, ResultExt, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use tokio::sync::watch;

use crate::{
    domain::session::{self, SessionEnd},
    error::AppError,
};

/// The end of the session a live connection signed in with, once it ends: attached to the
/// connection by the WebSocket layer after `connection_init` authenticated it.
#[derive(Clone)]
pub struct SessionFeed(pub watch::Receiver<Option<SessionEnd>>);

// The domain's reasons, as the schema names and describes them; the conversions both ways
// are derived (`remote`).
/// Why a session ended.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "session::SessionEndReason")]
pub enum SessionEndReason {
    /// Signed out with `logout`.
    Logout,
    /// Ended by its user from another session (`revokeSession`), or by the account's own
    /// security: a newer sign-in past the session limit, a second factor turned on.
    Revoked,
    /// `logoutAll`.
    LogoutAll,
    /// The password was changed (other sessions end).
    PasswordChanged,
    /// The password was reset from a mailed link.
    PasswordReset,
    /// An administrator ended it (revoked sessions, deactivated the account, reset the
    /// second factor).
    Admin,
    /// A spent refresh token of the session was presented again: it may be stolen.
    ReuseDetected,
    /// Not refreshed in time, or at its maximum age.
    Expired,
}

/// The end of a session.
#[derive(SimpleObject, Debug)]
pub struct SessionEvent {
    /// Why it ended.
    pub reason: SessionEndReason,
    /// When it ended.
    pub at: DateTime<Utc>,
}

#[derive(Default)]
pub struct Subscription;

/// The entry point of what a live connection (`/graphql/ws`) is told as it happens.
#[Subscription]
impl Subscription {
    /// One event when the connection's session ends (a logout elsewhere, `revokeSession`,
    /// `logoutAll`, a password change or reset, an administrator, reuse detected, expiry),
    /// within a second on any replica; the connection is then closed. Over WebSocket only:
    /// the graphql-transport-ws protocol at `/graphql/ws`, signed in by
    /// `{"authorization": "Bearer <accessToken>"}` in `connection_init` or, in cookie mode,
    /// by the refresh cookie.
    async fn session_events(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = SessionEvent>> {
        let Ok(feed) = ctx.data::<SessionFeed>() else {
            return Err(AppError::Unauthenticated(
                "Subscribe over WebSocket at /graphql/ws, signed in by connection_init",
            ))
            .extend();
        };
        let mut ended = feed.0.clone();
        let once = futures_util::stream::once(async move {
            ended
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|end| *end)
        });
        Ok(once.filter_map(|end| async move {
            end.map(|end| SessionEvent {
                reason: end.reason.into(),
                at: end.at,
            })
        }))
    }
}
