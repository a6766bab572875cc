//! Database queries, one module per table. Functions take any connection or transaction,
//! so services decide where transactions begin.

pub mod profiles;
pub mod users;
