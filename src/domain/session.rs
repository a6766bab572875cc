//! Sessions: one per login, and the refresh tokens each has been given.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::TokenHash;

/// A session: a login and the refreshes that followed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    /// When it ends unless refreshed before.
    pub idle_expires_at: DateTime<Utc>,
    /// When it ends however often it is refreshed.
    pub absolute_expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The browser or app that signed in, as it described itself.
    pub user_agent: Option<String>,
    /// The client address it signed in from.
    pub ip: Option<String>,
}

impl Session {
    /// A new session of `user_id`, started `now`.
    pub fn start(
        user_id: Uuid,
        now: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
        absolute_expires_at: DateTime<Utc>,
        user_agent: Option<String>,
        ip: Option<String>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            user_id,
            created_at: now,
            last_used_at: now,
            idle_expires_at,
            absolute_expires_at,
            revoked_at: None,
            user_agent,
            ip,
        }
    }

    /// Whether it is neither revoked nor expired at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.idle_expires_at > now && self.absolute_expires_at > now
    }

    /// When it ends unless refreshed before (never after its maximum age).
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.idle_expires_at.min(self.absolute_expires_at)
    }
}

/// A refresh token given to a session (only its hash is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub hash: TokenHash,
    pub session_id: Uuid,
    /// The token this one was issued in exchange for (none for a login's first token).
    pub parent: Option<TokenHash>,
    pub created_at: DateTime<Utc>,
    pub spent_at: Option<DateTime<Utc>>,
    /// The successor token, sealed so that only a holder of this token can open it.
    pub successor_sealed: Option<String>,
}
