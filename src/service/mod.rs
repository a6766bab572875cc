//! Use cases: the rules of authql. Each returns `Result<_, AppError>` and owns its
//! transactions; resolvers call exactly one of these.

pub mod profiles;
