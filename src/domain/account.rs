//! The account: who a user is to authql, the credential they sign in with, and the
//! changes an account may undergo.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A PHC-format password hash (`$argon2id$…`). Its `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// An account, without its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: Uuid,
    /// In the case its owner chose; unique regardless of case.
    pub username: String,
    /// Trimmed and lower-cased; unique.
    pub email: String,
    pub email_verified: bool,
    pub first_name: String,
    pub last_name: String,
    pub is_admin: bool,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// What a password is checked against: the stored hash, and the credential version it
/// belongs to (bumped by every password change and reset, so that a login only starts a
/// session if the password it checked is still the stored one).
#[derive(Debug, Clone)]
pub struct Credential {
    pub version: i32,
    pub hash: PasswordHash,
}

/// Changes to an account; `None` leaves a field as it is. What an administrator asks for
/// (`adminUpdateUser`), and, once checked, what is written.
#[derive(Debug, Clone, Default)]
pub struct AccountChanges {
    pub username: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub is_admin: Option<bool>,
    pub is_active: Option<bool>,
    pub email_verified: Option<bool>,
}
