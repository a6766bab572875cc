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
    /// When and how its user last proved who they are.
    pub authentication: Authentication,
}

/// Why a session ended, as a signed-in app is told (`sessionEvents`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEndReason {
    /// Signed out (`logout`).
    Logout,
    /// Ended by its user from another session (`revokeSession`), or by the account's own
    /// security changes (a newer sign-in past the session limit, a second factor turned on).
    Revoked,
    /// `logoutAll`.
    LogoutAll,
    PasswordChanged,
    PasswordReset,
    /// An administrator's action (sessions revoked, account deactivated, second factor reset).
    Admin,
    /// A spent refresh token was presented again: the session may be stolen.
    ReuseDetected,
    /// Not refreshed in time, or at its maximum age.
    Expired,
}

/// How and when a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionEnd {
    pub reason: SessionEndReason,
    pub at: DateTime<Utc>,
}

/// When and how a session's user last proved who they are: the sign-in, or a later
/// `reauthenticate`. A refresh keeps it (it is not a new sign-in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authentication {
    pub time: DateTime<Utc>,
    pub methods: AuthMethods,
}

impl Authentication {
    /// Whether it happened within `max_age` of `now`.
    pub fn within(&self, max_age: chrono::TimeDelta, now: DateTime<Utc>) -> bool {
        now - self.time <= max_age
    }
}

/// How a session's user signed in, as RFC 8176 `amr` values: a password alone, or a
/// password and then a one-time code (TOTP or a recovery code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethods {
    #[default]
    Password,
    PasswordAndCode,
}

impl AuthMethods {
    /// The `amr` values, in the order tokens carry them.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            Self::Password => &["pwd"],
            Self::PasswordAndCode => &["pwd", "otp", "mfa"],
        }
    }

    /// As stored: the values joined by commas.
    pub fn as_stored(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::PasswordAndCode => "pwd,otp,mfa",
        }
    }

    /// From the stored text; anything unknown is the weakest, a password alone.
    pub fn from_stored(stored: &str) -> Self {
        match stored {
            "pwd,otp,mfa" => Self::PasswordAndCode,
            _ => Self::Password,
        }
    }
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
        auth_methods: AuthMethods,
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
            authentication: Authentication {
                time: now,
                methods: auth_methods,
            },
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

#[cfg(test)]
mod tests {
    use super::AuthMethods;

    #[test]
    fn auth_methods_round_trip_and_unknown_text_is_a_password() {
        for m in [AuthMethods::Password, AuthMethods::PasswordAndCode] {
            assert_eq!(AuthMethods::from_stored(m.as_stored()), m);
            assert_eq!(m.as_stored(), m.amr().join(","));
        }
        assert_eq!(AuthMethods::from_stored("otp"), AuthMethods::Password);
        assert_eq!(AuthMethods::from_stored(""), AuthMethods::Password);
    }
}
