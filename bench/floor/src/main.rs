//! The floor of authql's `me`: a minimal axum server doing exactly the work `me` needs, and
//! nothing else, against authql's own database. It reads the bearer token, verifies the
//! EdDSA JWT against the keys authql publishes (with a cache of verified tokens, as authql
//! keeps), loads the live user and session in one query with authql's filters, and answers
//! the JSON authql answers for
//! `query Me { me { id username email emailVerified firstName lastName isActive createdAt
//! lastLoginAt } }`. It parses no GraphQL, logs nothing and has no middleware: what `me`
//! costs when only the work is paid for. `bench/run` measures authql beside it.
//!
//! Settings (environment): `DATABASE_URL`, `AUTHQL_URL` (whose `/.well-known/jwks.json` is
//! read at start), `FLOOR_BIND`, `FLOOR_DB_POOL` (default 10, authql's default pool),
//! `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_CLIENT_ID` (default `authql`, as authql's).

use std::{
    collections::HashMap,
    env,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::post,
    serve::ListenerExt as _,
};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, postgres::PgPoolOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// authql's leeway on `exp` and `iat`, and its cap on remembered tokens.
const LEEWAY: i64 = 30;
const CACHE_CAPACITY: usize = 10_000;

/// The live user of a session: `repo::sessions::find_live_user`'s filters, and only the
/// columns the document selects.
const LIVE_USER: &str = "SELECT u.id, u.username, u.email, u.email_verified, u.first_name, \
    u.last_name, u.is_active, u.created_at, u.last_login_at \
    FROM users u JOIN sessions s ON s.user_id = u.id \
    WHERE u.id = $1 AND u.is_active AND s.id = $2 AND s.revoked_at IS NULL \
    AND s.idle_expires_at > $3 AND s.absolute_expires_at > $3";

type Row = (
    Uuid,
    String,
    String,
    bool,
    String,
    String,
    bool,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

#[derive(Debug, Clone, Deserialize)]
struct Claims {
    sub: Uuid,
    sid: Uuid,
    client_id: String,
    iat: i64,
    exp: i64,
}

struct Floor {
    db: PgPool,
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
    client_id: String,
    /// Token → its verified claims; cleared when full, as authql's `VerifiedTokens`.
    verified: Mutex<HashMap<String, Claims>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Me {
    id: Uuid,
    username: String,
    email: String,
    email_verified: bool,
    first_name: String,
    last_name: String,
    is_active: bool,
    created_at: String,
    last_login_at: Option<String>,
}

impl Floor {
    /// The claims of a token whose signature, issuer, audience, type and client are right
    /// and whose time is now: from the cache, or verified and remembered.
    fn verify(&self, token: &str, now: i64) -> Option<Claims> {
        let cached = self.verified.lock().ok()?.get(token).cloned();
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let header = jsonwebtoken::decode_header(token).ok()?;
                let typ_ok = header.typ.as_deref().is_some_and(|t| {
                    t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
                });
                if header.alg != Algorithm::EdDSA || !typ_ok || header.crit.is_some() {
                    return None;
                }
                let key = self.keys.get(header.kid.as_deref()?)?;
                let claims = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
                    .ok()?
                    .claims;
                if claims.client_id != self.client_id {
                    return None;
                }
                let mut verified = self.verified.lock().ok()?;
                if verified.len() >= CACHE_CAPACITY {
                    verified.clear();
                }
                verified.insert(token.to_owned(), claims.clone());
                claims
            }
        };
        let live = claims.exp.saturating_add(LEEWAY) >= now && claims.iat - LEEWAY <= now;
        live.then_some(claims)
    }
}

fn json(body: String) -> Response {
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn unauthenticated(message: &str) -> Response {
    json(
        serde_json::json!({
            "data": null,
            "errors": [{ "message": message, "path": ["me"],
                         "extensions": { "code": "UNAUTHENTICATED" } }],
        })
        .to_string(),
    )
}

/// `POST /graphql`: the body (the `me` document) is read and not parsed.
async fn me(State(floor): State<Arc<Floor>>, headers: HeaderMap, _body: Bytes) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let now = Utc::now();
    let Some(claims) = token.and_then(|t| floor.verify(t, now.timestamp())) else {
        return unauthenticated("The access token is invalid or has expired");
    };
    let row: Result<Option<Row>, _> = sqlx::query_as(LIVE_USER)
        .bind(claims.sub)
        .bind(claims.sid)
        .bind(now)
        .fetch_optional(&floor.db)
        .await;
    let user = match row {
        Ok(Some(user)) => user,
        Ok(None) => return unauthenticated("The session has ended; sign in again"),
        Err(err) => return unauthenticated(&format!("database: {err}")),
    };
    let me = Me {
        id: user.0,
        username: user.1,
        email: user.2,
        email_verified: user.3,
        first_name: user.4,
        last_name: user.5,
        is_active: user.6,
        created_at: user.7.to_rfc3339(),
        last_login_at: user.8.map(|t| t.to_rfc3339()),
    };
    json(serde_json::json!({ "data": { "me": me } }).to_string())
}

/// authql's published keys: `GET /.well-known/jwks.json` over a plain HTTP/1.0 exchange.
async fn published_keys(authql: &str) -> Result<HashMap<String, DecodingKey>, Error> {
    let host = authql.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let request = format!("GET /.well-known/jwks.json HTTP/1.0\r\nHost: {host}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let (_, body) = answer.split_once("\r\n\r\n").ok_or("no JWKS body")?;
    let set: JwkSet = serde_json::from_str(body)?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        if let Some(kid) = &jwk.common.key_id {
            keys.insert(kid.clone(), DecodingKey::from_jwk(jwk)?);
        }
    }
    if keys.is_empty() {
        return Err("authql publishes no keys".into());
    }
    Ok(keys)
}

fn setting(name: &str, default: &str) -> String {
    env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let pool: u32 = setting("FLOOR_DB_POOL", "10").parse()?;
    let db = PgPoolOptions::new()
        .max_connections(pool)
        .min_connections(1)
        // authql pings only a connection idle for 30 s: under load, never.
        .test_before_acquire(false)
        .connect(&env::var("DATABASE_URL")?)
        .await?;
    let keys = published_keys(&env::var("AUTHQL_URL")?).await?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[setting("JWT_ISSUER", "authql")]);
    validation.set_audience(&[setting("JWT_AUDIENCE", "authql")]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Time is checked against the clock with authql's 30 s leeway, on every request.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let floor = Arc::new(Floor {
        db,
        keys,
        validation,
        client_id: setting("JWT_CLIENT_ID", "authql"),
        verified: Mutex::default(),
    });
    let app = Router::new()
        .route("/graphql", post(me))
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .with_state(floor);
    let listener = tokio::net::TcpListener::bind(setting("FLOOR_BIND", "127.0.0.1:8100"))
        .await?
        // As authql's server loop does.
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    axum::serve(listener, app).await?;
    Ok(())
}
