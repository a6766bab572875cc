//! SeaORM entities: the shape of each table, no business logic, never GraphQL types.

pub mod profiles;
pub mod users;
