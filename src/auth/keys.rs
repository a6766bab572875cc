//! Ed25519 signing keys: generated on first start, stored in the database so every replica
//! signs and verifies with the same set, rotated with `authql rotate-keys`, and published
//! as a JWK Set.
//!
//! Rotation is staged: a new key is published at once but signs only from
//! [`ROTATION_DELAY`] later, by when every replica has re-read the keys and every verifier
//! has re-fetched the JWKS; the old key signs until then and stays published until the
//! last token it signed has expired.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey,
    jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash},
};

use super::custody::Custody;
use crate::{
    domain::signing_key::{PrivateKey, SigningKey},
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

/// Every replica re-reads the keys this often.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(60);

/// How long verifiers may cache the JWKS (`Cache-Control: max-age`).
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(300);

/// How long after `rotate-keys` the new key starts signing.
pub const ROTATION_DELAY: Duration = Duration::from_secs(300 + 60);

/// How long a retired key stays published: its last token's lifetime, the verification
/// leeway, and the time a replica may go on signing with it before it re-reads the keys.
pub fn publish_after_retirement(access_ttl: TimeDelta) -> TimeDelta {
    access_ttl + TimeDelta::seconds((LEEWAY + RELOAD_INTERVAL).as_secs().cast_signed())
}

/// A freshly generated key that signs from `activates_at`, ready to store (its private
/// half in `custody`'s form).
fn generate(
    custody: &Custody,
    now: DateTime<Utc>,
    activates_at: DateTime<Utc>,
) -> Result<SigningKey, AppError> {
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
    let private_key = PrivateKey(custody.seal(&kid, &der).map_err(AppError::internal)?);
    Ok(SigningKey {
        kid,
        private_key,
        public_key: x,
        created_at: now,
        activates_at,
        retired_at: None,
        revoked_at: None,
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

/// The public JWK of a stored key, from its public half alone.
fn jwk_of(row: &SigningKey) -> Jwk {
    use jsonwebtoken::jwk::{
        AlgorithmParameters, CommonParameters, EllipticCurve, OctetKeyPairParameters,
        OctetKeyPairType,
    };
    Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(KeyAlgorithm::EdDSA),
            key_id: Some(row.kid.clone()),
            ..CommonParameters::default()
        },
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: row.public_key.clone(),
        }),
    }
}

/// Opens (and so checks) every stored key with `custody`, and seals those stored in clear
/// when `custody` seals: the migration of keys stored before sealing existed. Refuses a
/// sealed key without a key to open it, and a key this one does not open.
///
/// # Errors
/// A [`CustodyError`] (as an internal error carrying its message) or a database error.
pub async fn seal_stored_keys(db: &repo::Db, custody: &Custody) -> Result<u64, AppError> {
    let mut sealed = 0;
    // A revoked key is never used again: it need not open.
    let rows = repo::signing_keys::all(db).await?;
    for row in rows.into_iter().filter(|r| r.revoked_at.is_none()) {
        let der = custody
            .open(&row.kid, &row.private_key.0)
            .map_err(AppError::internal)?;
        if custody.seals() && !Custody::is_sealed(&row.private_key.0) {
            let stored = custody.seal(&row.kid, &der).map_err(AppError::internal)?;
            if repo::signing_keys::reseal(db, &row.kid, &row.private_key.0, stored).await? {
                sealed += 1;
            }
        }
    }
    if sealed > 0 {
        tracing::info!(sealed, "signing keys stored in clear are sealed now");
    }
    Ok(sealed)
}

/// Makes sure a key exists, creating the first one if there is none. (Replicas starting
/// together may each create one; all are published and the newest signs, which is harmless.)
///
/// # Errors
/// Only internal ones.
pub async fn ensure_active(
    db: &repo::Db,
    custody: &Custody,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if !repo::signing_keys::current(db).await?.is_empty() {
        return Ok(());
    }
    repo::signing_keys::insert(db, generate(custody, now, now)?).await?;
    tracing::info!("generated the first signing key");
    Ok(())
}

/// Adds a new key that signs from `now + delay`, retiring the current key at that moment.
/// Returns the new key's id and when it starts signing.
///
/// # Errors
/// Only internal ones.
pub async fn rotate(
    db: &repo::Db,
    custody: &Custody,
    now: DateTime<Utc>,
    delay: Duration,
) -> Result<(String, DateTime<Utc>), AppError> {
    let activates_at = now + TimeDelta::from_std(delay).map_err(AppError::internal)?;
    let key = generate(custody, now, activates_at)?;
    let kid = key.kid.clone();
    repo::signing_keys::stage(db, key).await?;
    Ok((kid, activates_at))
}

/// What `revoke-key` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The key that signs from now on, when the revoked one was signing (or about to) and
    /// no other key could take over.
    pub replacement: Option<String>,
}

/// Revokes the key `kid`: from now it neither signs nor verifies, and is no longer
/// published; every replica drops it at its next key refresh ([`RELOAD_INTERVAL`]), and
/// with it the tokens it had verified. When no key is left to sign, a new one signs at once.
///
/// # Errors
/// `NOT_FOUND` for an unknown or already revoked key; otherwise only internal ones.
pub async fn revoke(
    db: &repo::Db,
    custody: &Custody,
    kid: &str,
    now: DateTime<Utc>,
) -> Result<Revoked, AppError> {
    let txn = crate::repo::begin(db).await?;
    // Two revocations at once take turns, so the second sees the first and neither leaves
    // the service without a key that signs.
    repo::signing_keys::lock_current(&txn).await?;
    if repo::signing_keys::revoke(&txn, kid, now).await?.is_none() {
        return Err(AppError::NotFound(
            "No signing key with this id (or it is revoked already)",
        ));
    }
    let replacement = if repo::signing_keys::current(&txn).await?.is_empty() {
        let key = generate(custody, now, now)?;
        let kid = key.kid.clone();
        repo::signing_keys::insert(&txn, key).await?;
        Some(kid)
    } else {
        // A staged key (rotate-keys) takes over now rather than when it was due.
        None
    };
    crate::repo::commit(txn).await?;
    Ok(Revoked { replacement })
}

/// A key this process may sign with, and when.
#[derive(Clone)]
struct Signer {
    kid: String,
    activates_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
    key: EncodingKey,
}

struct Loaded {
    /// Newest first.
    signers: Vec<Signer>,
    verifying: HashMap<String, DecodingKey>,
    jwks: Arc<String>,
}

/// The keys this process signs and verifies with, cached from the database.
pub struct KeyRing {
    db: repo::Db,
    custody: Custody,
    access_ttl: TimeDelta,
    loaded: RwLock<Loaded>,
    last_reload: Mutex<Instant>,
}

impl KeyRing {
    /// Checks every stored key opens with `custody` (sealing those in clear when it
    /// seals), ensures a signing key exists, then loads every published key.
    ///
    /// # Errors
    /// A key that `custody` cannot open (its message says why); otherwise only internal ones.
    pub async fn load(
        db: repo::Db,
        custody: Custody,
        access_ttl: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<Self, AppError> {
        seal_stored_keys(&db, &custody).await?;
        ensure_active(&db, &custody, now).await?;
        let loaded = Self::fetch(&db, &custody, access_ttl, now).await?;
        Ok(Self {
            db,
            custody,
            access_ttl,
            loaded: RwLock::new(loaded),
            last_reload: Mutex::new(Instant::now()),
        })
    }

    async fn fetch(
        db: &repo::Db,
        custody: &Custody,
        access_ttl: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<Loaded, AppError> {
        let window = publish_after_retirement(access_ttl);
        let rows = repo::signing_keys::published(db, now - window).await?;
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        let mut signers = Vec::new();
        for row in &rows {
            let x = &row.public_key;
            verifying.insert(
                row.kid.clone(),
                DecodingKey::from_ed_components(x).map_err(AppError::internal)?,
            );
            jwks.push(jwk_of(row));
            if row.retired_at.is_none_or(|r| r > now) {
                // Checked at start; a key written since by a process with another
                // encryption key cannot sign here, but the refresh goes on (a revocation
                // must still take effect).
                let der = match custody.open(&row.kid, &row.private_key.0) {
                    Ok(der) => der,
                    Err(err) => {
                        tracing::error!(kid = %row.kid, error = %err, "a signing key does not open");
                        continue;
                    }
                };
                signers.push(Signer {
                    kid: row.kid.clone(),
                    activates_at: row.activates_at,
                    retired_at: row.retired_at,
                    key: EncodingKey::from_ed_der(&der),
                });
            }
        }
        signers.sort_by(|a, b| b.activates_at.cmp(&a.activates_at).then(a.kid.cmp(&b.kid)));
        let jwks = serde_json::to_string(&JwkSet { keys: jwks }).map_err(AppError::internal)?;
        Ok(Loaded {
            signers,
            verifying,
            jwks: Arc::new(jwks),
        })
    }

    /// Re-reads the keys (after a rotation by another process, or periodically).
    ///
    /// # Errors
    /// Only internal ones.
    pub async fn reload(&self, now: DateTime<Utc>) -> Result<(), AppError> {
        let fresh = Self::fetch(&self.db, &self.custody, self.access_ttl, now).await?;
        if let Ok(mut loaded) = self.loaded.write() {
            *loaded = fresh;
        }
        if let Ok(mut at) = self.last_reload.lock() {
            *at = Instant::now();
        }
        Ok(())
    }

    /// The key id and key that tokens issued at `now` are signed with: the newest key whose
    /// time has come and that has not been retired.
    ///
    /// # Errors
    /// Internal, if no key signs (the database lost them since start).
    pub fn signing_key(&self, now: DateTime<Utc>) -> Result<(String, EncodingKey), AppError> {
        self.loaded
            .read()
            .ok()
            .and_then(|l| {
                l.signers
                    .iter()
                    .find(|s| s.activates_at <= now && s.retired_at.is_none_or(|r| r > now))
                    .or_else(|| l.signers.last())
                    .map(|s| (s.kid.clone(), s.key.clone()))
            })
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("no signing key")))
    }

    /// The key to verify a token signed with `kid`, reloading once if it is unknown (a key
    /// another replica just rotated in).
    pub async fn verifying_key(&self, kid: &str, now: DateTime<Utc>) -> Option<DecodingKey> {
        if let Some(key) = self.cached(kid) {
            return Some(key);
        }
        // Claim the reload slot before fetching, so a burst of unknown kids costs one read.
        let claimed = self.last_reload.lock().is_ok_and(|mut at| {
            let free = at.elapsed() >= RELOAD_AT_MOST_EVERY;
            if free {
                *at = Instant::now();
            }
            free
        });
        if claimed && self.reload(now).await.is_ok() {
            return self.cached(kid);
        }
        None
    }

    /// Whether tokens signed with `kid` still verify (the key was not revoked or dropped
    /// at the last refresh).
    pub fn verifies(&self, kid: &str) -> bool {
        self.loaded
            .read()
            .is_ok_and(|l| l.verifying.contains_key(kid))
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
mod tests;
