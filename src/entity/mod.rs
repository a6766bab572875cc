//! SeaORM entities: the shape of each table, no business logic, never GraphQL types.

pub mod email_tokens;
pub mod mail_sent;
pub mod media;
pub mod mfa_challenges;
pub mod outbox;
pub mod profiles;
pub mod rate_counters;
pub mod recovery_codes;
pub mod refresh_tokens;
pub mod sessions;
pub mod signing_keys;
pub mod totp_factors;
pub mod users;
