//! Email addresses: validated, stored trimmed and lower-cased.

use crate::error::{AppError, Field};

/// Longest address SMTP can carry (RFC 5321 path limit).
pub const MAX_LEN: usize = 254;

/// A valid, trimmed, lower-cased email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// # Errors
    /// `BAD_USER_INPUT` on the field `email`.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::parse_field(raw, Field::Email)
    }

    /// # Errors
    /// `BAD_USER_INPUT` on `field`, saying what is wrong.
    pub fn parse_field(raw: &str, field: Field) -> Result<Self, AppError> {
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
        let invalid = || {
            AppError::input(
                field,
                "This is not a valid email address (give only the address, like \
                 name@example.com)",
            )
        };
        if super::has_control(email) {
            return Err(invalid());
        }
        let normalised = bare_address(email).ok_or_else(invalid)?;
        if normalised.len() > MAX_LEN {
            return Err(AppError::input(
                field,
                format!("Email addresses are at most {MAX_LEN} characters long"),
            ));
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// `s` as one bare address (`local@domain`) in its one spelling, if it is one: NFKC
/// (full-width `ａ` is `a`), a dot-atom local part of ASCII characters, lower-cased, and a
/// domain of dotted labels in its ASCII form (UTS 46: `bücher.example` is
/// `xn--bcher-kva.example`, `ＥＸＡＭＰＬＥ.com` is `example.com`). Display names
/// (`Eve <a@b.c>`), comments (`a(x)@b.c`), quoted local parts (`"a@b.c"@evil.test`) and
/// domain literals (`a@[127.0.0.1]`) are valid RFC 5322 but name a mailbox other than the
/// text suggests; each would be a separate "address" for uniqueness and for the
/// per-address mail limit, so none is accepted.
fn bare_address(s: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    let s: String = s.nfkc().collect();
    let (local, domain) = s.split_once('@')?;
    let atom_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom = |part: &str| {
        !part.is_empty()
            && part
                .split('.')
                .all(|atom| !atom.is_empty() && atom.chars().all(atom_char))
    };
    if !dot_atom(local) || local.len() > 64 {
        return None;
    }
    // STD3 rules: letters, digits and hyphens only, in labels of at most 63.
    let domain = idna::domain_to_ascii_strict(domain).ok()?;
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    // A dotless domain (user@localhost) is valid in RFC 5322 but never a real mailbox a
    // user signs up with.
    if !domain.contains('.') || !domain.split('.').all(label_ok) {
        return None;
    }
    let address = format!("{}@{domain}", local.to_ascii_lowercase());
    // The library's RFC checks on top (a last guard: the same rules or stricter).
    email_address::EmailAddress::parse_with_options(
        &address,
        email_address::Options::default()
            .without_display_text()
            .without_domain_literal(),
    )
    .is_ok()
    .then_some(address)
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
    fn one_mailbox_has_one_spelling() {
        for (typed, stored) in [
            ("victim@ｅｘａｍｐｌｅ.com", "victim@example.com"),
            ("ｖｉｃｔｉｍ@example.com", "victim@example.com"),
            ("Victim@EXAMPLE.com", "victim@example.com"),
            ("a@Bücher.example", "a@xn--bcher-kva.example"),
        ] {
            assert_eq!(Email::parse(typed).unwrap().as_str(), stored, "{typed}");
        }
        // Letters outside ASCII in the local part need SMTPUTF8 and are refused.
        assert!(Email::parse("josé@example.com").is_err());
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
                    Err(AppError::BadUserInput {
                        field: Field::Email,
                        ..
                    })
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
