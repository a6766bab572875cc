//! Sessions: what a sign-in issues, refresh-token rotation with reuse detection, logout,
//! and listing. Signing in itself is [`super::login`].
//!
//! A session is a family of refresh tokens. Each `refresh` spends the presented token (an
//! atomic `UPDATE … WHERE spent_at IS NULL`, so exactly one caller wins) and issues a new
//! random one; no token is derived from another.
//!
//! Reuse grace: browser tabs sharing one refresh token may race. A spent token presented
//! again within `REFRESH_REUSE_GRACE` of being spent is still honoured, as long as it is
//! the *just-spent* token (the token issued for it is still unspent): the answer carries
//! that same successor and a fresh access token. The successor is kept sealed with its
//! parent (see [`seal`]), so only a holder of the parent can open it, and the session stays
//! one chain: two holders of one token hold the same next token too, and whichever of them
//! falls behind is caught on its next refresh. Presenting an older ancestor, or any spent
//! token after the grace, is reuse: the whole session is revoked (RFC 9700 4.14.2). With a
//! grace of 0 every second presentation is reuse, so of many concurrent refreshes of one
//! token exactly one gets a pair, and the race itself ends the session.

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::{
    auth::{
        jwt::Subject,
        opaque_token::{OpaqueToken, looks_like_token, seal, unseal},
    },
    domain::{
        Account, ClientKey, TokenHash,
        session::{AuthMethods, Session},
    },
    error::AppError,
    repo::{
        self,
        sessions::{RevokeReason, Scope},
    },
    service::current_user::CurrentUser,
    state::AppState,
};

/// Where a request came from, as recorded on the sessions it starts.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// The client as per-client limits count it.
    pub fn key(&self) -> ClientKey {
        ClientKey::of(self.ip)
    }
}

/// The user an issued pair belongs to: loaded already, or only known by id.
#[derive(Debug, Clone)]
pub enum IssuedFor {
    Loaded(Account),
    Id(Uuid),
}

/// A new access token and refresh token. `Debug` leaves the tokens out.
pub struct Issued {
    pub access_token: String,
    pub refresh_token: OpaqueToken,
    /// Seconds the access token is valid.
    pub expires_in: u64,
    /// Seconds the refresh token (its session) stays usable without a refresh.
    pub refresh_expires_in: u64,
    pub user: IssuedFor,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("expires_in", &self.expires_in)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .finish_non_exhaustive()
    }
}

/// A live session, as its owner may see it.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub current: bool,
    pub auth_methods: AuthMethods,
}

fn invalid_refresh() -> AppError {
    AppError::Unauthenticated("The refresh token is invalid, expired or revoked")
}

pub(super) fn seconds_until(t: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    u64::try_from((t - now).num_seconds()).unwrap_or(0)
}

/// An access token for a session, saying when and how its user signed in.
pub(super) fn access_token(
    state: &AppState,
    session: &Session,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    state.tokens.issue(
        Subject {
            user_id: session.user_id,
            session_id: session.id,
            authentication: session.authentication,
        },
        now,
    )
}

/// Exchanges a refresh token for a new pair of the same session (see the module docs for
/// the reuse grace).
///
/// # Errors
/// `UNAUTHENTICATED` for an unknown, expired or revoked token, and for reuse (which also
/// revokes the session).
#[tracing::instrument(skip_all)]
pub async fn refresh(state: &AppState, presented: &str) -> Result<Issued, AppError> {
    if !looks_like_token(presented) {
        return Err(invalid_refresh());
    }
    let hash = TokenHash::of(presented);
    let now = state.clock.now();
    let (_, session) = repo::refresh_tokens::find_with_session(&state.db, &hash)
        .await?
        .ok_or_else(invalid_refresh)?;
    if !session.is_live(now) {
        return Err(invalid_refresh());
    }
    let s = &state.settings;
    let txn = repo::begin(&state.db).await?;
    // The one successor, sealed under the presented token for tabs racing this request;
    // housekeeping erases the seal once the grace is over.
    let next = OpaqueToken::generate()?;
    let sealed = seal(presented, &next)?;
    let next = if repo::refresh_tokens::spend(&txn, &hash, sealed, now).await? {
        repo::refresh_tokens::insert(&txn, &next.hash(), session.id, Some(&hash), now).await?;
        next
    } else {
        // Spent before: by a racing tab moments ago, or replayed by someone else.
        match just_spent_successor(&txn, presented, &hash, now, s.tokens.refresh_reuse_grace)
            .await?
        {
            Some(next) => next,
            None => {
                let scope = Scope::One(session.id);
                repo::sessions::revoke(&txn, scope, RevokeReason::TokenReuse, now).await?;
                repo::commit(txn).await?;
                tracing::warn!(session_id = %session.id, user_id = %session.user_id,
                    "refresh token reused: session revoked");
                return Err(invalid_refresh());
            }
        }
    };
    let idle = (now + s.tokens.refresh_ttl).min(session.absolute_expires_at);
    if !repo::sessions::touch(&txn, session.id, now, idle).await? {
        // Ended (logout, revocation) since it was read above.
        return Err(invalid_refresh());
    }
    repo::commit(txn).await?;

    Ok(Issued {
        // The session's sign-in time and methods: a refresh is not a new sign-in.
        access_token: access_token(state, &session, now)?,
        refresh_token: next,
        expires_in: s.tokens.access_ttl.num_seconds().unsigned_abs(),
        refresh_expires_in: seconds_until(idle, now),
        user: IssuedFor::Id(session.user_id),
    })
}

/// The successor already issued for a token spent less than `grace` ago, if that successor
/// is still unspent (the token is the just-spent one, not an older ancestor).
async fn just_spent_successor(
    txn: &repo::Tx,
    presented: &str,
    hash: &TokenHash,
    now: DateTime<Utc>,
    grace: TimeDelta,
) -> Result<Option<OpaqueToken>, AppError> {
    // Read inside the transaction: the request that spent it has committed by now.
    let Some(row) = repo::refresh_tokens::find(txn, hash).await? else {
        return Ok(None);
    };
    // Another request may have read the clock before this one yet spent the token after
    // it: a negative age is "just now". A grace of 0 never applies.
    let age = (now - row.spent_at.unwrap_or(now)).max(TimeDelta::zero());
    if age >= grace {
        return Ok(None);
    }
    let Some(next) = row.successor_sealed.and_then(|s| unseal(presented, &s)) else {
        return Ok(None);
    };
    let unspent = repo::refresh_tokens::find(txn, &next.hash())
        .await?
        .is_some_and(|t| t.spent_at.is_none());
    Ok(unspent.then_some(next))
}

/// Ends the session a refresh token belongs to (any token of it, spent or not).
///
/// # Errors
/// `UNAUTHENTICATED` for a token authql never issued (or whose session is gone).
#[tracing::instrument(skip_all)]
pub async fn logout(state: &AppState, presented: &str) -> Result<(), AppError> {
    if !looks_like_token(presented) {
        return Err(invalid_refresh());
    }
    let (_, session) =
        repo::refresh_tokens::find_with_session(&state.db, &TokenHash::of(presented))
            .await?
            .ok_or_else(invalid_refresh)?;
    let now = state.clock.now();
    repo::sessions::revoke(&state.db, Scope::One(session.id), RevokeReason::Logout, now).await?;
    Ok(())
}

/// Ends every session of the signed-in user, this one included.
///
/// # Errors
/// Only internal ones.
pub async fn logout_all(state: &AppState, me: &CurrentUser) -> Result<u64, AppError> {
    let scope = Scope::AllOf {
        user: me.account.id,
        keep: None,
    };
    let now = state.clock.now();
    Ok(repo::sessions::revoke(&state.db, scope, RevokeReason::LogoutAll, now).await?)
}

/// Ends one of the signed-in user's own sessions.
///
/// # Errors
/// `NOT_FOUND` when the user has no live session with that id.
pub async fn revoke_session(
    state: &AppState,
    me: &CurrentUser,
    session_id: Uuid,
) -> Result<(), AppError> {
    let scope = Scope::OneOf {
        session: session_id,
        user: me.account.id,
    };
    let now = state.clock.now();
    match repo::sessions::revoke(&state.db, scope, RevokeReason::Revoked, now).await? {
        0 => Err(AppError::NotFound("You have no live session with this id")),
        _ => Ok(()),
    }
}

/// The signed-in user's live sessions, most recently used first.
///
/// # Errors
/// Only internal ones.
pub async fn list(state: &AppState, me: &CurrentUser) -> Result<Vec<SessionInfo>, AppError> {
    let rows = repo::sessions::list_live(&state.db, me.account.id, state.clock.now()).await?;
    Ok(rows
        .into_iter()
        .map(|s| SessionInfo {
            id: s.id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at(),
            current: s.id == me.session_id,
            user_agent: s.user_agent,
            ip: s.ip,
            auth_methods: s.authentication.methods,
        })
        .collect())
}
