//! Database queries, one module per table. Functions take any connection or transaction,
//! so services decide where transactions begin.

pub mod email_tokens;
pub mod mail_sent;
pub mod outbox;
pub mod profiles;
pub mod rate_counters;
pub mod refresh_tokens;
pub mod sessions;
pub mod signing_keys;
pub mod user_pages;
pub mod username_holds;
pub mod users;
