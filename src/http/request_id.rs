//! Request ids: every response carries `x-request-id`, and every log line of the request
//! carries the same id. A sane id sent by the client (or a proxy) is kept.

use std::time::Instant;

use axum::{
    extract::{FromRequestParts, MatchedPath, Request},
    http::{HeaderName, HeaderValue, request::Parts},
    middleware::Next,
    response::Response,
};
use tracing::Instrument;

use crate::graphql::RequestId;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Ids are kept only if short and made of unreserved URL characters, so that a client
/// cannot inject anything into logs or headers through them.
fn is_sane(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

/// Middleware: assigns the id, runs the request inside a span that carries it (and, once
/// known, the GraphQL operation and the user id), logs one line when the response is
/// ready, counts the request in the metrics, and returns the id in the response header.
pub async fn middleware(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        %method,
        %path,
        operation = tracing::field::Empty,
        user_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    let status = res.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64();
    crate::metrics::http_request(&route, method.as_str(), status, elapsed);
    let latency_ms = elapsed * 1000.0;
    span.in_scope(|| {
        if path == "/healthz" || path == "/readyz" {
            tracing::debug!(status, latency_ms, "request done");
        } else {
            tracing::info!(status, latency_ms, "request done");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    res
}

/// Extractor for the id the middleware assigned.
pub struct RequestIdExt(pub RequestId);

impl<S: Send + Sync> FromRequestParts<S> for RequestIdExt {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let id = parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(uuid::Uuid::new_v4().to_string()));
        Ok(Self(id))
    }
}

#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn only_short_plain_ids_are_kept() {
        assert!(is_sane("3f2b6c1e-9a4d-4e1f-8c2a-0b5d7e9f1a2c"));
        assert!(is_sane("req_01HX.abc~1"));
        assert!(!is_sane(""));
        assert!(!is_sane("a b"));
        assert!(!is_sane("x\r\nset-cookie: y"));
        assert!(!is_sane(&"a".repeat(129)));
    }
}
