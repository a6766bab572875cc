//! `GET /.well-known/jwks.json`: the public signing keys, for services that verify access
//! tokens offline.

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use super::HttpState;

/// How long verifiers may cache the key set. A rotated-in key is published as soon as it
/// signs, and a verifier that sees an unknown `kid` should re-fetch.
const MAX_AGE: &str = "public, max-age=300";

pub async fn jwks(State(http): State<HttpState>) -> Response {
    let body = http.state.keys.jwks_json().as_str().to_owned();
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
    res
}
