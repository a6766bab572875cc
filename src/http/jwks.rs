//! `GET /.well-known/jwks.json`: the public signing keys, for services that verify access
//! tokens offline.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use super::HttpState;

use crate::auth::keys::JWKS_MAX_AGE;

pub async fn jwks(State(http): State<Arc<HttpState>>) -> Response {
    let body = http.state.keys.jwks_json().as_str().to_owned();
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    // A rotated-in key is published longer than this before it signs (ROTATION_DELAY).
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={}", JWKS_MAX_AGE.as_secs())) {
        h.insert(header::CACHE_CONTROL, v);
    }
    res
}
