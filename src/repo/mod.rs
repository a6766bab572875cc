//! Database queries, one module per table. Functions take any connection or transaction,
//! so services decide where transactions begin.

pub mod login_throttle;
pub mod profiles;
pub mod refresh_tokens;
pub mod sessions;
pub mod signing_keys;
pub mod users;
