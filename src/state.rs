//! What every request handler and service shares.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{
    auth::{jwt::TokenConfig, keys::KeyRing, password::Hasher},
    clock::Clock,
    config::Settings,
    mail::relay::RelaySignals,
};

/// Cheap to clone: handles and shared pointers only.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub hasher: Hasher,
    pub keys: Arc<KeyRing>,
    pub tokens: Arc<TokenConfig>,
    pub relay: Arc<RelaySignals>,
}
