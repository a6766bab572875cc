//! Access tokens: EdDSA JWTs in the RFC 9068 profile.
//!
//! Header `{"alg":"EdDSA","typ":"at+jwt","kid":…}`; claims `iss aud sub client_id iat exp
//! jti sid auth_time amr` (the last two say when and how the session's user signed in,
//! RFC 9068 section 2.2.1 and RFC 8176; tokens issued before authql wrote them still verify). Verification pins the algorithm, issuer, audience and `typ`, requires every
//! claim, ignores key-carrying headers (`jku`, `x5u`, `jwk`), refuses `crit`, and allows
//! [`LEEWAY`] of clock skew on `exp` and `iat`, measured with authql's own clock.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keys::{KeyRing, LEEWAY};
use crate::{
    domain::session::{AuthMethods, Authentication},
    error::AppError,
};

/// The `typ` header of an access token (RFC 9068 section 2.1).
pub const TYP: &str = "at+jwt";

/// The claims of an access token; every one is required.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: Uuid,
    pub client_id: String,
    pub iat: i64,
    pub exp: i64,
    /// A unique id of this token.
    pub jti: Uuid,
    /// The session (refresh-token family) the token was issued for.
    pub sid: Uuid,
    /// When the session's user last proved who they are (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// How they proved it (RFC 8176 values).
    #[serde(default, with = "amr")]
    pub amr: AuthMethods,
}

/// `amr` as the array of RFC 8176 values it is in a token.
mod amr {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::domain::session::AuthMethods;

    pub fn serialize<S: Serializer>(m: &AuthMethods, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.amr())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<AuthMethods, D::Error> {
        let values = Vec::<String>::deserialize(d)?;
        Ok(AuthMethods::from_stored(&values.join(",")))
    }
}

/// Who a token is for, and how and when its session signed in.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub authentication: Authentication,
}

/// Who a token's claims are about and what they may be checked against.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub issuer: String,
    pub audience: String,
    pub client_id: String,
    pub ttl: chrono::TimeDelta,
}

/// Access tokens: issued with the current signing key, verified against the published
/// keys and the claims authql expects, and remembered once verified.
pub struct AccessTokens {
    keys: Arc<KeyRing>,
    config: TokenConfig,
    verified: VerifiedTokens,
}

impl AccessTokens {
    pub fn new(keys: Arc<KeyRing>, config: TokenConfig) -> Self {
        Self {
            keys,
            config,
            verified: VerifiedTokens::default(),
        }
    }

    /// Signs an access token for a user's session.
    ///
    /// # Errors
    /// Only internal ones (no signing key).
    pub fn issue(&self, subject: Subject, now: DateTime<Utc>) -> Result<String, AppError> {
        issue(&self.keys, &self.config, subject, now)
    }

    /// Verifies an access token and returns its claims.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` for any token that is not a live access token of this service.
    pub async fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, AppError> {
        verify(&self.keys, &self.config, &self.verified, token, now).await
    }
}

fn issue(
    keys: &KeyRing,
    config: &TokenConfig,
    subject: Subject,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    let (kid, key) = keys.signing_key(now)?;
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some(TYP.to_owned());
    header.kid = Some(kid);
    let iat = now.timestamp();
    let claims = AccessClaims {
        iss: config.issuer.clone(),
        aud: config.audience.clone(),
        sub: subject.user_id,
        client_id: config.client_id.clone(),
        iat,
        exp: iat + config.ttl.num_seconds(),
        jti: Uuid::new_v4(),
        sid: subject.session_id,
        auth_time: Some(subject.authentication.time.timestamp()),
        amr: subject.authentication.methods,
    };
    jsonwebtoken::encode(&header, &claims, &key).map_err(AppError::internal)
}

fn refused() -> AppError {
    AppError::Unauthenticated("The access token is invalid or has expired")
}

async fn verify(
    keys: &KeyRing,
    config: &TokenConfig,
    cache: &VerifiedTokens,
    token: &str,
    now: DateTime<Utc>,
) -> Result<AccessClaims, AppError> {
    // Longer than any token we issue: refuse before parsing.
    if token.len() > 4096 {
        return Err(refused());
    }
    if let Some((kid, claims)) = cache.get(token) {
        // A key revoked since is forgotten with every token it verified.
        if !keys.verifies(&kid) {
            cache.forget_kid(&kid);
            return Err(refused());
        }
        return check_time(claims, config, now);
    }
    let (kid, claims) = verify_signature_and_claims(keys, config, token, now).await?;
    let claims = check_time(claims, config, now)?;
    cache.put(token, kid, &claims);
    Ok(claims)
}

/// Time is checked against authql's clock, with a 30 s leeway (not the library's 60); a
/// token may not live longer than authql issues them for (`exp − iat` at most the
/// configured lifetime), so one minted with a stolen key for years is refused too.
fn check_time(
    claims: AccessClaims,
    config: &TokenConfig,
    now: DateTime<Utc>,
) -> Result<AccessClaims, AppError> {
    let leeway = i64::try_from(LEEWAY.as_secs()).unwrap_or(30);
    let lifetime = config.ttl.num_seconds();
    let now = now.timestamp();
    if claims.exp.saturating_add(leeway) < now
        || claims.iat.saturating_sub(leeway) > now
        || claims.exp.saturating_sub(claims.iat) > lifetime
    {
        return Err(refused());
    }
    Ok(claims)
}

/// The token's key id and its verified claims.
async fn verify_signature_and_claims(
    keys: &KeyRing,
    config: &TokenConfig,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(String, AccessClaims), AppError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| refused())?;
    let typ_ok = header.typ.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case(TYP) || t.eq_ignore_ascii_case("application/at+jwt")
    });
    if header.alg != Algorithm::EdDSA || !typ_ok || header.crit.is_some() {
        return Err(refused());
    }
    let kid = header.kid.ok_or_else(refused)?;
    let key = keys.verifying_key(&kid, now).await.ok_or_else(refused)?;

    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&[&config.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Time is checked below against authql's clock, with a 30 s leeway (not the library's 60).
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.leeway = LEEWAY.as_secs();
    let data =
        jsonwebtoken::decode::<AccessClaims>(token, &key, &validation).map_err(|_| refused())?;
    let claims = data.claims;
    if claims.client_id != config.client_id {
        return Err(refused());
    }
    Ok((kid, claims))
}

/// Access tokens whose signature and claims were verified already, so a client that sends
/// the same token with every request costs one signature check per token, not per request.
/// Keyed by the whole token, so only that exact token is remembered; its time is still
/// checked on every use. Bounded: when full, it starts over.
#[derive(Debug, Default)]
pub struct VerifiedTokens {
    /// Token → the key id that verified it, and its claims.
    entries: std::sync::Mutex<std::collections::HashMap<String, (String, AccessClaims)>>,
}

/// Tokens remembered at most (a few MiB).
const CACHE_CAPACITY: usize = 10_000;

impl VerifiedTokens {
    fn get(&self, token: &str) -> Option<(String, AccessClaims)> {
        self.entries.lock().ok()?.get(token).cloned()
    }

    fn put(&self, token: &str, kid: String, claims: &AccessClaims) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
            entries.insert(token.to_owned(), (kid, claims.clone()));
        }
    }

    /// Forgets every token the key `kid` verified (it was revoked).
    pub fn forget_kid(&self, kid: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (k, _)| k != kid);
        }
    }
}
