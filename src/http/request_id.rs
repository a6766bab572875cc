//! Request ids: every response carries `x-request-id`, and every log line of the request
//! carries the same id. A sane id sent by the client (or a proxy) is kept.

use std::time::Instant;

use axum::{
    extract::{FromRequestParts, MatchedPath, Request},
    http::{HeaderName, HeaderValue, Method, request::Parts},
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

/// The client's id if it is sane, else a new one.
fn id_of(req: &Request) -> String {
    req.headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// The method as metrics and logs name it: the standard ones, and `other` for any other
/// (a client may send any token as a method; labels must come from a closed set).
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Longest path a log line repeats.
const MAX_LOGGED_PATH: usize = 256;

/// The path as logged: cut at [`MAX_LOGGED_PATH`] bytes.
fn logged_path(path: &str) -> String {
    if path.len() <= MAX_LOGGED_PATH {
        return path.to_owned();
    }
    let mut end = MAX_LOGGED_PATH;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &path[..end])
}

/// Middleware for the internal listener: only the id, in the request and the answer.
pub async fn tag(mut req: Request, next: Next) -> Response {
    let id = id_of(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    res
}

/// Middleware: assigns the id, runs the request inside a span that carries it (and, once
/// known, the GraphQL operation and the user id), logs one line when the response is
/// ready, counts the request in the metrics, and returns the id in the response header.
pub async fn middleware(mut req: Request, next: Next) -> Response {
    let id = id_of(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = method_label(req.method());
    let path = logged_path(req.uri().path());
    let route = req.extensions().get::<MatchedPath>().cloned();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method,
        %path,
        operation = tracing::field::Empty,
        user_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    let status = res.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    crate::metrics::http_request(route, method, status, elapsed);
    let latency_ms = elapsed * 1000.0;
    span.in_scope(|| {
        // Probes, and requests refused by the per-address rate (a flood of them would be a
        // flood of log lines; the metrics count them, and the refusal is logged once).
        if path == "/healthz" || path == "/readyz" || status == 429 {
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
    fn methods_outside_the_standard_set_are_one_label() {
        use super::{Method, method_label};
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(
            method_label(&Method::from_bytes(b"PROPFIND").unwrap()),
            "other"
        );
        assert_eq!(
            method_label(&Method::from_bytes(b"X1234567").unwrap()),
            "other"
        );
    }

    #[test]
    fn long_paths_are_cut_in_logs() {
        let long = format!("/{}", "é".repeat(500));
        let logged = super::logged_path(&long);
        assert!(
            logged.len() <= super::MAX_LOGGED_PATH + "…".len(),
            "{}",
            logged.len()
        );
        assert_eq!(super::logged_path("/graphql"), "/graphql");
    }

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
