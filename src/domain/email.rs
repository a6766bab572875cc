//! Email addresses: validated, stored trimmed and lower-cased.

use crate::error::AppError;

/// Longest address SMTP can carry (RFC 5321 path limit).
pub const MAX_LEN: usize = 254;

/// A valid, trimmed, lower-cased email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// # Errors
    /// `BAD_USER_INPUT` on the field `email`.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::parse_field(raw, "email")
    }

    /// # Errors
    /// `BAD_USER_INPUT` on `field`, saying what is wrong.
    pub fn parse_field(raw: &str, field: &'static str) -> Result<Self, AppError> {
        let email = raw.trim();
        if email.is_empty() {
            return Err(AppError::input(field, "An email address is required"));
        }
        if email.len() > MAX_LEN {
            return Err(AppError::input(
                field,
                format!("Email addresses are at most {MAX_LEN} characters long"),
            ));
        }
        if super::has_control(email) || !email_address::EmailAddress::is_valid(email) {
            return Err(AppError::input(field, "This is not a valid email address"));
        }
        // A dotless domain (user@localhost) is valid in RFC 5322 but never a real mailbox
        // a user signs up with.
        let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        if !domain.contains('.') || domain.starts_with('[') {
            return Err(AppError::input(field, "This is not a valid email address"));
        }
        Ok(Self(email.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "   ",
            "alice",
            "alice@",
            "@example.com",
            "a b@example.com",
            "alice@localhost",
            "alice@[127.0.0.1]",
            "al\0ice@example.com",
            &format!("{}@example.com", "a".repeat(250)),
        ] {
            assert!(
                matches!(
                    Email::parse(bad),
                    Err(AppError::BadUserInput { field: "email", .. })
                ),
                "{bad:?} was accepted"
            );
        }
    }
}
