//! Ed25519 signing keys: generated on first start, stored in the database so every replica
//! signs and verifies with the same set, rotated with `authql rotate-keys`, and published
//! as a JWK Set until the last token signed by a retired key has expired.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey,
    jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash},
};
use sea_orm::DatabaseConnection;

use crate::{
    entity::signing_keys::{self, PrivateKey},
    error::AppError,
    repo,
};

/// RFC 8410 PKCS#8 v1 prefix of an Ed25519 private key; the 32-byte seed follows.
const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Tokens may be verified this long after their `exp` (clock skew), so a retired key stays
/// published for the access-token lifetime plus this.
pub const LEEWAY: Duration = Duration::from_secs(30);

/// An unknown `kid` triggers at most one reload from the database per this interval.
const RELOAD_AT_MOST_EVERY: Duration = Duration::from_secs(5);

/// A freshly generated key, ready to store.
fn generate(now: DateTime<Utc>) -> Result<signing_keys::Model, AppError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| AppError::internal(anyhow::anyhow!("OS randomness unavailable: {e}")))?;
    let der = [&ED25519_PKCS8_V1_PREFIX[..], &seed].concat();
    let jwk = public_jwk(&der)?;
    let kid = jwk.common.key_id.clone().unwrap_or_default();
    let x = match &jwk.algorithm {
        jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(okp) => okp.x.clone(),
        _ => return Err(AppError::internal(anyhow::anyhow!("not an OKP key"))),
    };
    Ok(signing_keys::Model {
        kid,
        private_key: PrivateKey(STANDARD.encode(&der)),
        public_key: x,
        active: Some(true),
        created_at: now,
        retired_at: None,
    })
}

/// The public JWK of a PKCS#8 private key, with its thumbprint as `kid`.
fn public_jwk(der: &[u8]) -> Result<Jwk, AppError> {
    let enc = EncodingKey::from_ed_der(der);
    let mut jwk = Jwk::from_encoding_key(&enc, Algorithm::EdDSA).map_err(AppError::internal)?;
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = Some(KeyAlgorithm::EdDSA);
    jwk.common.key_id = Some(
        jwk.thumbprint(ThumbprintHash::SHA256)
            .map_err(AppError::internal)?,
    );
    Ok(jwk)
}

fn jwk_of(row: &signing_keys::Model) -> Result<Jwk, AppError> {
    let der = STANDARD
        .decode(&row.private_key.0)
        .map_err(AppError::internal)?;
    public_jwk(&der)
}

/// Makes sure exactly one key signs, creating the first one if there is none.
///
/// # Errors
/// Only internal ones.
pub async fn ensure_active(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<(), AppError> {
    if repo::signing_keys::find_active(db).await?.is_some() {
        return Ok(());
    }
    match repo::signing_keys::insert(db, generate(now)?).await {
        Ok(()) => {
            tracing::info!("generated the first signing key");
            Ok(())
        }
        // Another replica created it at the same moment: theirs is the one.
        Err(e) if e.sql_err().is_some() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Adds a new signing key and retires the current one (which stays published while tokens
/// it signed can still be valid). Returns the new key's id.
///
/// # Errors
/// Only internal ones.
pub async fn rotate(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<String, AppError> {
    let key = generate(now)?;
    let kid = key.kid.clone();
    repo::signing_keys::replace_active(db, key, now).await?;
    Ok(kid)
}

struct Loaded {
    signing: Option<(String, EncodingKey)>,
    verifying: HashMap<String, DecodingKey>,
    jwks: Arc<String>,
}

/// The keys this process signs and verifies with, cached from the database.
pub struct KeyRing {
    db: DatabaseConnection,
    access_ttl: Duration,
    loaded: RwLock<Loaded>,
    last_reload: Mutex<Instant>,
}

impl KeyRing {
    /// Ensures a signing key exists, then loads every published key.
    ///
    /// # Errors
    /// Only internal ones.
    pub async fn load(
        db: DatabaseConnection,
        access_ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Self, AppError> {
        ensure_active(&db, now).await?;
        let loaded = Self::fetch(&db, access_ttl, now).await?;
        Ok(Self {
            db,
            access_ttl,
            loaded: RwLock::new(loaded),
            last_reload: Mutex::new(Instant::now()),
        })
    }

    async fn fetch(
        db: &DatabaseConnection,
        access_ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Loaded, AppError> {
        let window = TimeDelta::from_std(access_ttl + LEEWAY).map_err(AppError::internal)?;
        let rows = repo::signing_keys::published(db, now - window).await?;
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        let mut signing = None;
        for row in &rows {
            let x = &row.public_key;
            verifying.insert(
                row.kid.clone(),
                DecodingKey::from_ed_components(x).map_err(AppError::internal)?,
            );
            jwks.push(jwk_of(row)?);
            if row.active == Some(true) {
                let der = STANDARD
                    .decode(&row.private_key.0)
                    .map_err(AppError::internal)?;
                signing = Some((row.kid.clone(), EncodingKey::from_ed_der(&der)));
            }
        }
        let jwks = serde_json::to_string(&JwkSet { keys: jwks }).map_err(AppError::internal)?;
        Ok(Loaded {
            signing,
            verifying,
            jwks: Arc::new(jwks),
        })
    }

    /// Re-reads the keys (after a rotation by another process, or periodically).
    ///
    /// # Errors
    /// Only internal ones.
    pub async fn reload(&self, now: DateTime<Utc>) -> Result<(), AppError> {
        let fresh = Self::fetch(&self.db, self.access_ttl, now).await?;
        if let Ok(mut loaded) = self.loaded.write() {
            *loaded = fresh;
        }
        if let Ok(mut at) = self.last_reload.lock() {
            *at = Instant::now();
        }
        Ok(())
    }

    /// The key id and key that new tokens are signed with.
    ///
    /// # Errors
    /// Internal, if no key signs (the database lost it since start).
    pub fn signing_key(&self) -> Result<(String, EncodingKey), AppError> {
        self.loaded
            .read()
            .ok()
            .and_then(|l| l.signing.clone())
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("no active signing key")))
    }

    /// The key to verify a token signed with `kid`, reloading once if it is unknown (a key
    /// another replica just rotated in).
    pub async fn verifying_key(&self, kid: &str, now: DateTime<Utc>) -> Option<DecodingKey> {
        if let Some(key) = self.cached(kid) {
            return Some(key);
        }
        let may_reload = self
            .last_reload
            .lock()
            .map(|at| at.elapsed() >= RELOAD_AT_MOST_EVERY)
            .unwrap_or(false);
        if may_reload && self.reload(now).await.is_ok() {
            return self.cached(kid);
        }
        None
    }

    fn cached(&self, kid: &str) -> Option<DecodingKey> {
        self.loaded.read().ok()?.verifying.get(kid).cloned()
    }

    /// The JWK Set of every published key, serialised.
    pub fn jwks_json(&self) -> Arc<String> {
        self.loaded
            .read()
            .map(|l| l.jwks.clone())
            .unwrap_or_else(|_| Arc::new(r#"{"keys":[]}"#.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_has_a_thumbprint_kid_and_a_32_byte_public_key() {
        let key = generate(Utc::now()).unwrap();
        assert_eq!(key.kid.len(), 43, "{}", key.kid);
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&key.public_key)
            .unwrap();
        assert_eq!(x.len(), 32);
        assert_eq!(
            jwk_of(&key).unwrap().common.key_id.as_deref(),
            Some(key.kid.as_str())
        );
        assert!(!format!("{key:?}").contains(&key.private_key.0));
    }
}
