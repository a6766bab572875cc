//! Domain values that cannot exist unless valid: each is built by `parse`, which says in a
//! `BAD_USER_INPUT` error which field broke which rule.

mod email;
mod password;
mod username;

pub use email::Email;
pub use password::Password;
pub use username::{Username, lookup_key as username_lookup_key};

/// Rejects NUL and other control characters, which no name or address legitimately holds.
fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}
