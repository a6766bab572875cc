//! Rules for the free-text fields of an account and its profile.

use crate::error::{AppError, Field};

/// The profile fields of one account (its username lives on the account).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileData {
    pub bio: String,
    pub contact: String,
    /// The avatar's media key.
    pub avatar: Option<String>,
}

/// What anyone may see of an active account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicProfile {
    /// In the case its owner chose.
    pub username: String,
    pub bio: String,
    pub contact: String,
    /// The avatar's media key.
    pub avatar: Option<String>,
}

pub const NAME_MAX: usize = 150;
pub const BIO_MAX: usize = 1000;
pub const CONTACT_MAX: usize = 200;

fn too_long(field: Field, max: usize) -> AppError {
    AppError::input(field, format!("At most {max} characters"))
}

/// A first or last name: trimmed, at most [`NAME_MAX`] characters, no control characters.
///
/// # Errors
/// `BAD_USER_INPUT` on `field`.
pub fn name(raw: &str, field: Field) -> Result<String, AppError> {
    let value = raw.trim();
    if value.len() > NAME_MAX * 4 || value.chars().count() > NAME_MAX {
        return Err(too_long(field, NAME_MAX));
    }
    if super::has_control(value) {
        return Err(AppError::input(
            field,
            "Names cannot contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// Free text that may span lines (a bio): at most `max` characters; line breaks and tabs
/// are kept, other control characters (NUL included) are refused.
///
/// # Errors
/// `BAD_USER_INPUT` on `field`.
pub fn text(raw: &str, field: Field, max: usize) -> Result<String, AppError> {
    let value = raw.trim_end();
    if value.len() > max * 4 || value.chars().count() > max {
        return Err(too_long(field, max));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::input(field, "Control characters are not allowed"));
    }
    Ok(value.to_owned())
}

/// A bio.
///
/// # Errors
/// `BAD_USER_INPUT` on `bio`.
pub fn bio(raw: &str) -> Result<String, AppError> {
    text(raw, Field::Bio, BIO_MAX)
}

/// How to reach the user (one line).
///
/// # Errors
/// `BAD_USER_INPUT` on `contact`.
pub fn contact(raw: &str) -> Result<String, AppError> {
    let value = text(raw, Field::Contact, CONTACT_MAX)?;
    if value.contains(['\n', '\r']) {
        return Err(AppError::input(
            Field::Contact,
            "Contact details fit on one line",
        ));
    }
    Ok(value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(r: Result<String, AppError>) -> Field {
        match r {
            Err(AppError::BadUserInput { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_are_trimmed_and_capped() {
        assert_eq!(name("  Ada  ", Field::FirstName).unwrap(), "Ada");
        assert_eq!(name("", Field::FirstName).unwrap(), "");
        assert_eq!(
            field_of(name(&"x".repeat(151), Field::LastName)),
            Field::LastName
        );
        assert_eq!(field_of(name("a\0b", Field::FirstName)), Field::FirstName);
    }

    #[test]
    fn a_bio_keeps_its_lines_but_not_other_control_characters() {
        assert_eq!(bio("line one\nline two\n").unwrap(), "line one\nline two");
        assert_eq!(field_of(bio("nul\0")), Field::Bio);
        assert_eq!(field_of(bio(&"é".repeat(1001))), Field::Bio);
        assert!(bio(&"é".repeat(1000)).is_ok());
    }

    #[test]
    fn contact_is_one_line() {
        assert_eq!(contact(" @ada on mastodon ").unwrap(), "@ada on mastodon");
        assert_eq!(field_of(contact("a\nb")), Field::Contact);
        assert_eq!(field_of(contact(&"x".repeat(201))), Field::Contact);
    }
}
