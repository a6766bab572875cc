//! What every request handler and service shares: the database pool and the settings.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::config::Settings;

/// Cheap to clone: a pool handle and a shared pointer.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
}
