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
        if super::has_control(email) || !is_bare_address(email) {
            return Err(AppError::input(
                field,
                "This is not a valid email address (give only the address, like \
                 name@example.com)",
            ));
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

/// Whether `s` is a bare address (`local@domain`): a dot-atom local part, a domain of
/// dotted labels, nothing else. Display names (`Eve <a@b.c>`), comments (`a(x)@b.c`),
/// quoted local parts (`"a@b.c"@evil.test`) and domain literals (`a@[127.0.0.1]`) are all
/// valid RFC 5322 but name a mailbox other than the text suggests: each would be a separate
/// "address" for uniqueness and for the per-address mail limit.
fn is_bare_address(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let atom_char = |c: char| {
        c.is_ascii_alphanumeric()
            || "!#$%&'*+-/=?^_`{|}~".contains(c)
            || (!c.is_ascii() && c.is_alphanumeric())
    };
    let dot_atom = |part: &str, char_ok: &dyn Fn(char) -> bool| {
        !part.is_empty()
            && part
                .split('.')
                .all(|atom| !atom.is_empty() && atom.chars().all(char_ok))
    };
    let label_char =
        |c: char| c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && c.is_alphanumeric());
    // A dotless domain (user@localhost) is valid in RFC 5322 but never a real mailbox a
    // user signs up with.
    dot_atom(local, &atom_char)
        && local.len() <= 64
        && domain.contains('.')
        && dot_atom(domain, &label_char)
        && domain.split('.').all(|l| l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'))
        // The library's RFC checks on top (a last guard, same rules or stricter).
        && email_address::EmailAddress::parse_with_options(
            s,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        )
        .is_ok()
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
            // Display names, comments, quoted local parts, domain literals: not bare.
            "x <victim@example.com>",
            "victim@example.com <eve@evil.test>",
            "\"victim@example.com\"@evil.test",
            "<victim@example.com>",
            "victim(comment)@example.com",
            "victim@example.com(comment)",
            "\"a b\"@example.com",
            "a@b@example.com",
            "a..b@example.com",
            ".a@example.com",
            "a.@example.com",
            "a@example..com",
            "a@-example.com",
            "a@example.com.",
            "a,b@example.com",
            "a;b@example.com",
            "a\\b@example.com",
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

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever is accepted is one bare address: one `@`, and none of the characters
        /// that build display names, comments, quoting or literals.
        #[test]
        fn accepted_addresses_are_bare(raw in "[ -~]{0,40}") {
            if let Ok(email) = Email::parse(&raw) {
                let s = email.as_str();
                prop_assert_eq!(s.matches('@').count(), 1);
                prop_assert!(!s.contains(|c: char| "<>\"()[],;:\\ ".contains(c)), "{s:?}");
            }
        }

        /// A valid address wrapped in display text or quotes is refused.
        #[test]
        fn wrapped_addresses_are_refused(
            local in "[a-z0-9]{1,12}",
            domain in "[a-z]{1,10}\\.[a-z]{2,5}",
            name in "[A-Za-z ]{0,12}",
        ) {
            let bare = format!("{local}@{domain}");
            prop_assert!(Email::parse(&bare).is_ok());
            for wrapped in [
                format!("{name}<{bare}>"),
                format!("{bare} <eve@evil.test>"),
                format!("\"{bare}\"@evil.test"),
                format!("{local}({name})@{domain}"),
            ] {
                prop_assert!(Email::parse(&wrapped).is_err(), "{wrapped:?} accepted");
            }
        }
    }
}
