//! Domain values that cannot exist unless valid: each is built by `parse`, which says in a
//! `BAD_USER_INPUT` error which field broke which rule.

mod email;
pub mod image;
mod password;
pub mod profile;
mod username;

pub use email::Email;
pub use password::Password;
pub use username::{Username, lookup_key as username_lookup_key};

/// The longest a username can be.
pub fn username_max_len() -> usize {
    username::MAX_LEN
}

/// Rejects NUL and other control characters, which no name or address legitimately holds.
fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}
