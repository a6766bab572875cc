//! Use cases: the rules of authql. Each returns `Result<_, AppError>` and owns its
//! transactions; resolvers call exactly one of these.

pub mod accounts;
pub mod admin;
pub mod bootstrap;
pub mod current_user;
pub mod login;
pub mod mailing;
pub mod maintenance;
pub mod passwords;
pub mod profiles;
pub mod reauthentication;
pub mod second_factor;
pub mod session_events;
pub mod sessions;
pub mod throttle;
pub mod verification;
