//! The password policy: 8–128 characters, not a common password, not the username or email.
//! A password is checked and stored exactly as sent: never trimmed, case-folded or cut.

use std::{collections::HashSet, sync::LazyLock};

use crate::error::{AppError, Field};

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

/// The 19,640 most common passwords (see `assets/passwords/README.txt`), lower-cased.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../assets/passwords/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// A password as typed. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    /// A password to check against a stored hash: only its length is bounded (so a 1 MB
    /// string is refused before it reaches the hasher).
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `field` when empty or longer than any password can be.
    pub fn candidate(raw: String, field: Field) -> Result<Self, AppError> {
        if raw.is_empty() {
            return Err(AppError::input(field, "A password is required"));
        }
        if raw.len() > MAX_LEN * 4 || raw.chars().count() > MAX_LEN {
            return Err(AppError::input(field, too_long()));
        }
        Ok(Self(raw))
    }

    /// A new password, held to every rule of the policy.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `field`, naming the rule that failed.
    pub fn new_for(
        raw: String,
        field: Field,
        username: &str,
        email: &str,
    ) -> Result<Self, AppError> {
        if raw.len() > MAX_LEN * 4 {
            return Err(AppError::input(field, too_long()));
        }
        let len = raw.chars().count();
        if len < MIN_LEN {
            return Err(AppError::input(
                field,
                format!("Passwords are at least {MIN_LEN} characters long"),
            ));
        }
        if len > MAX_LEN {
            return Err(AppError::input(field, too_long()));
        }
        if raw.contains('\0') {
            return Err(AppError::input(
                field,
                "Passwords cannot contain NUL characters",
            ));
        }
        let folded = raw.to_lowercase();
        if COMMON.contains(folded.as_str()) {
            return Err(AppError::input(
                field,
                "This password is too common; choose one that is harder to guess",
            ));
        }
        if folded == username.to_lowercase() {
            return Err(AppError::input(
                field,
                "The password cannot be the username",
            ));
        }
        if folded == email.to_lowercase() {
            return Err(AppError::input(
                field,
                "The password cannot be the email address",
            ));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn too_long() -> String {
    format!("Passwords are at most {MAX_LEN} characters long")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(raw: &str) -> String {
        match Password::new_for(raw.into(), Field::Password, "alice", "alice@example.com") {
            Err(AppError::BadUserInput { field, message }) => {
                assert_eq!(field, Field::Password);
                message
            }
            Ok(_) => panic!("{raw:?} was accepted"),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_common_list_is_shipped_whole() {
        assert!(COMMON.len() >= 10_000, "{}", COMMON.len());
        assert!(COMMON.contains("password") && COMMON.contains("123456789"));
    }

    #[test]
    fn each_rule_has_its_own_message() {
        assert!(rule("short").contains("at least 8"));
        assert!(rule(&"x".repeat(129)).contains("at most 128"));
        assert!(rule(&"x".repeat(1_000_000)).contains("at most 128"));
        assert!(rule("password1").contains("too common"));
        assert!(rule("PassWord1").contains("too common"));
        assert!(rule("ALICE@example.com").contains("email"));
        assert!(rule("with\0nul-char").contains("NUL"));
        let long_name = Password::new_for(
            "alice-wonder".into(),
            Field::Password,
            "Alice-Wonder",
            "a@b.co",
        );
        assert!(long_name.is_err());
    }

    #[test]
    fn a_good_password_is_kept_exactly_as_typed() {
        let raw = "  Correct Horse Battery Staple  ";
        let p =
            Password::new_for(raw.into(), Field::Password, "alice", "alice@example.com").unwrap();
        assert_eq!(p.expose(), raw);
        let multibyte = "ñandú-über-straße";
        assert!(Password::new_for(multibyte.into(), Field::Password, "a", "a@b.co").is_ok());
    }

    #[test]
    fn debug_never_shows_the_password() {
        let p = Password::candidate("hunter2-secret".into(), Field::Password).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
