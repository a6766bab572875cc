//! Mail: what authql sends, how it is rendered, and how it travels.
//!
//! ```text
//! service ──(same transaction)──▶ outbox row ──relay──▶ RabbitMQ ──worker──▶ SMTP
//!                                               └─(no AMQP_URL)─▶ sender (in-process)
//! ```
//! A mail is an outbox row written with the change that causes it; the relay hands rows
//! on (to the broker with publisher confirms, or straight to the sender) and erases the
//! secrets they carry; the worker renders and sends, retrying with growing delays and
//! parking what keeps failing in a dead-letter queue.

pub mod broker;
pub mod outbox;
pub mod reconnect;
pub mod relay;
pub mod sender;
mod settlement;
pub mod templates;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The entry for a failed `attempt` (1-based) in a list of per-attempt settings: the
/// attempt's own, or the last one when there are more attempts than entries.
pub fn for_attempt<T>(items: &[T], attempt: u32) -> Option<&T> {
    let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
    items.get(index).or_else(|| items.last())
}

/// The mails authql sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// A link to confirm the address (after signUp, or resendVerification).
    VerifyEmail,
    /// A link to choose a new password (requestReset).
    ResetPassword,
    /// Notice: the password was changed (changePassword).
    PasswordChanged,
    /// Notice: the password was reset with a mailed link (confirmReset).
    PasswordReset,
    /// Notice: someone tried to sign up with an address that has an account.
    SignupAttempt,
    /// Notice: failed logins locked the account; a link unlocks it for the owner.
    SignInAttempts,
    /// Notice: TOTP was turned on (confirmTotpEnrollment).
    TotpEnabled,
    /// Notice: TOTP was turned off (disableTotp).
    TotpDisabled,
    /// Notice: a recovery code was used to sign in (verifyMfa).
    RecoveryCodeUsed,
    /// Notice: an administrator reset the second factor (adminResetMfa).
    MfaReset,
}

impl MailKind {
    pub const ALL: [Self; 10] = [
        Self::VerifyEmail,
        Self::ResetPassword,
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::SignupAttempt,
        Self::SignInAttempts,
        Self::TotpEnabled,
        Self::TotpDisabled,
        Self::RecoveryCodeUsed,
        Self::MfaReset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::SignupAttempt => "signup_attempt",
            Self::SignInAttempts => "sign_in_attempts",
            Self::TotpEnabled => "totp_enabled",
            Self::TotpDisabled => "totp_disabled",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::MfaReset => "mfa_reset",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A mail to write to the outbox, with what its template needs.
#[derive(Clone, PartialEq, Eq)]
pub enum Mail {
    /// A link to confirm the address.
    VerifyEmail(Link),
    /// A link to choose a new password.
    ResetPassword(Link),
    /// Failed logins locked the account; the link unlocks it for the owner.
    SignInAttempts(Link),
    /// The password was changed.
    PasswordChanged { username: String },
    /// The password was reset with a mailed link.
    PasswordReset { username: String },
    /// Someone tried to sign up with the address.
    SignupAttempt { username: String },
    /// A notice about the account's second factor.
    SecondFactor {
        kind: SecondFactorNotice,
        username: String,
    },
}

/// What happened to an account's second factor, as its owner is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactorNotice {
    TotpEnabled,
    TotpDisabled,
    RecoveryCodeUsed,
    Reset,
}

/// A mailed link to act on an account. No `Debug`: the URL holds a token.
#[derive(Clone, PartialEq, Eq)]
pub struct Link {
    pub username: String,
    pub url: String,
    /// How long the link works, in words ("24 hours").
    pub valid_for: String,
}

impl Mail {
    pub fn kind(&self) -> MailKind {
        match self {
            Self::VerifyEmail(_) => MailKind::VerifyEmail,
            Self::ResetPassword(_) => MailKind::ResetPassword,
            Self::SignInAttempts(_) => MailKind::SignInAttempts,
            Self::PasswordChanged { .. } => MailKind::PasswordChanged,
            Self::PasswordReset { .. } => MailKind::PasswordReset,
            Self::SignupAttempt { .. } => MailKind::SignupAttempt,
            Self::SecondFactor { kind, .. } => match kind {
                SecondFactorNotice::TotpEnabled => MailKind::TotpEnabled,
                SecondFactorNotice::TotpDisabled => MailKind::TotpDisabled,
                SecondFactorNotice::RecoveryCodeUsed => MailKind::RecoveryCodeUsed,
                SecondFactorNotice::Reset => MailKind::MfaReset,
            },
        }
    }

    /// The template's variables, as the outbox row and the broker's message carry them.
    pub fn into_vars(self) -> BTreeMap<String, String> {
        let pairs = match self {
            Self::VerifyEmail(link) | Self::ResetPassword(link) | Self::SignInAttempts(link) => {
                vec![
                    ("username", link.username),
                    ("link", link.url),
                    ("valid_for", link.valid_for),
                ]
            }
            Self::PasswordChanged { username }
            | Self::PasswordReset { username }
            | Self::SignupAttempt { username }
            | Self::SecondFactor { username, .. } => vec![("username", username)],
        };
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

/// One mail on its way: what the broker carries and the sender renders. `vars` may hold a
/// link with a token, so `Debug` leaves them out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailMessage {
    /// The outbox row's id; the sender skips an id it has already sent.
    pub id: Uuid,
    pub kind: MailKind,
    pub to: String,
    pub vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for MailMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailMessage")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}
