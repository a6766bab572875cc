//! Domain values that cannot exist unless valid: each is built by `parse`, which says in a
//! `BAD_USER_INPUT` error which field broke which rule.

pub mod account;
pub mod cidr;
pub mod client;
mod email;
pub mod image;
mod password;
pub mod profile;
pub mod second_factor;
pub mod session;
pub mod signing_key;
pub mod token_hash;
mod username;

pub use account::{Account, AccountChanges, Credential, PasswordHash};
pub use client::ClientKey;
pub use email::Email;
pub use password::Password;
pub use token_hash::TokenHash;
pub use username::{
    LookupRefused, MAX_LOOKUP_LEN, Username, lookup_key as username_lookup_key,
    parse_lookup as parse_username_lookup,
};

/// The longest a username can be.
pub fn username_max_len() -> usize {
    username::MAX_LEN
}

/// Rejects NUL and other control characters, which no name or address legitimately holds.
fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}
