//! SeaORM entities: the shape of each table, no business logic, never GraphQL types.

pub mod login_throttle;
pub mod profiles;
pub mod refresh_tokens;
pub mod sessions;
pub mod signing_keys;
pub mod users;
