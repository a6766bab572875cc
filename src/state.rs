//! What every request handler and service shares.

use std::sync::Arc;

use crate::{
    auth::{custody::Custody, jwt::AccessTokens, keys::KeyRing, password::Hasher},
    clock::Clock,
    config::Settings,
    mail::relay::RelaySignals,
    media::MediaStore,
};

/// What every request shares, behind one pointer: a clone (one per request and per
/// resolver that needs it) is one reference count, not one per handle.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The handles and settings in an [`AppState`].
pub struct Shared {
    pub db: crate::repo::Db,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub hasher: Hasher,
    pub keys: Arc<KeyRing>,
    /// Seals and opens secrets at rest (signing keys, TOTP secrets).
    pub custody: Custody,
    /// Issues and verifies access tokens with `keys`.
    pub tokens: Arc<AccessTokens>,
    pub relay: Arc<RelaySignals>,
    /// Throttle counters this replica knows are over their limit.
    pub throttled: Arc<crate::repo::rate_counters::Limited>,
    pub media: Arc<dyn MediaStore>,
    /// Turns for decoding uploaded images off the async runtime.
    pub reencoder: crate::media::reencoder::Reencoder,
    /// `PUBLIC_URL`, or `http://` and the bound address: the base of absolute media URLs.
    pub public_url: Arc<str>,
    /// `APP_URL`, or the account pages at `public_url`: where mailed links point.
    pub app_url: Arc<str>,
    /// The sessions this process's live connections (`sessionEvents`) watch.
    pub session_watch: Arc<crate::service::session_events::SessionWatch>,
}
