//! Usernames: 3–32 characters, ASCII letters, digits and `_ . -`, unique case-insensitively.

use unicode_normalization::UnicodeNormalization;

use crate::error::{AppError, Field};

pub const MIN_LEN: usize = 3;
pub const MAX_LEN: usize = 32;

/// A valid username, in the case its owner chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Normalises with NFKC (so full-width `ａｌｉｃｅ` is `alice`), then checks the rules.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `field`, saying which rule failed.
    pub fn parse_field(raw: &str, field: Field) -> Result<Self, AppError> {
        // Refuse absurd input before normalising it.
        if raw.len() > MAX_LEN * 8 {
            return Err(AppError::input(field, too_long()));
        }
        if super::has_control(raw) {
            return Err(AppError::input(
                field,
                "Usernames cannot contain control characters",
            ));
        }
        let name: String = raw.trim().nfkc().collect();
        let len = name.chars().count();
        if len < MIN_LEN {
            return Err(AppError::input(
                field,
                format!("Usernames are at least {MIN_LEN} characters long"),
            ));
        }
        if len > MAX_LEN {
            return Err(AppError::input(field, too_long()));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(AppError::input(
                field,
                "Usernames may contain only letters a–z, digits and _ . -",
            ));
        }
        Ok(Self(name))
    }

    /// # Errors
    /// As [`Username::parse_field`], on the field `username`.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::parse_field(raw, Field::Username)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form two usernames are compared in: they are the same name when these are equal.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

fn too_long() -> String {
    format!("Usernames are at most {MAX_LEN} characters long")
}

/// The comparison key of something a user typed as a username (for lookups, not storage).
/// Only for input already bounded (see [`parse_lookup`]) or names authql stored itself.
pub fn lookup_key(raw: &str) -> String {
    raw.trim().nfkc().collect::<String>().to_lowercase()
}

/// Longest login name that can name an account: an email address (RFC 5321).
pub const MAX_LOOKUP_LEN: usize = super::email::MAX_LEN;

/// Why something typed to name an account cannot name one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupRefused {
    Empty,
    TooLong,
    ControlCharacters,
}

impl LookupRefused {
    /// The error for `field`, which is at most `max_len` characters.
    pub fn input_error(self, field: Field, max_len: usize) -> AppError {
        AppError::input(
            field,
            match self {
                Self::Empty => "Enter a username or an email address".to_owned(),
                Self::TooLong => format!("At most {max_len} characters"),
                Self::ControlCharacters => "Control characters are not allowed".to_owned(),
            },
        )
    }
}

/// What a user typed to name an account (a username or an email), as lookups compare it:
/// bounded before it is normalised, and free of control characters (which no name holds,
/// and which PostgreSQL refuses in text).
///
/// # Errors
/// Why it cannot name an account of at most `max_len` characters.
pub fn parse_lookup(raw: &str, max_len: usize) -> Result<String, LookupRefused> {
    // NFKC can grow text, so the raw length is bounded first (4 bytes per character).
    if raw.len() > max_len * 4 {
        return Err(LookupRefused::TooLong);
    }
    if super::has_control(raw) {
        return Err(LookupRefused::ControlCharacters);
    }
    let key = lookup_key(raw);
    if key.is_empty() {
        return Err(LookupRefused::Empty);
    }
    if key.chars().count() > max_len {
        return Err(LookupRefused::TooLong);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_error(raw: &str) -> String {
        match Username::parse(raw) {
            Err(AppError::BadUserInput { field, message }) => {
                assert_eq!(field, Field::Username);
                message
            }
            other => panic!("{raw:?} gave {other:?}"),
        }
    }

    #[test]
    fn accepts_letters_digits_and_three_marks() {
        for ok in ["abc", "Alice_1", "a.b-c", "x".repeat(32).as_str()] {
            assert_eq!(Username::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn normalises_compatibility_forms() {
        assert_eq!(Username::parse("ａｌｉｃｅ").unwrap().as_str(), "alice");
        assert_eq!(Username::parse("  bob  ").unwrap().as_str(), "bob");
    }

    #[test]
    fn refuses_each_broken_rule_with_its_own_message() {
        assert!(field_error("").contains("at least 3"));
        assert!(field_error("ab").contains("at least 3"));
        assert!(field_error(&"x".repeat(33)).contains("at most 32"));
        assert!(field_error(&"x".repeat(1_000_000)).contains("at most 32"));
        assert!(field_error("bad name").contains("only letters"));
        assert!(field_error("émile").contains("only letters"));
        assert!(field_error("evil\0name").contains("control"));
    }

    #[test]
    fn a_lookup_is_bounded_before_it_is_normalised() {
        use LookupRefused::*;
        assert_eq!(parse_lookup(" ＡLICE ", 254).unwrap(), "alice");
        for (bad, why) in [
            ("", Empty),
            ("  ", Empty),
            ("a\0b", ControlCharacters),
            ("a\u{1b}[31m", ControlCharacters),
            ("a\u{85}b", ControlCharacters),
            (&"x".repeat(255), TooLong),
            // 300 characters NFKC would turn into 5,400.
            (&"ﷺ".repeat(300), TooLong),
        ] {
            assert_eq!(parse_lookup(bad, 254), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn keys_compare_case_insensitively() {
        assert_eq!(Username::parse("Alice").unwrap().key(), "alice");
        assert_eq!(lookup_key(" ＡLICE "), "alice");
    }
}
