//! Requests per client address: a token bucket per address (`HTTP_RATE_PER_IP` requests
//! a second, bursts of `HTTP_RATE_BURST`), checked before a request's body is read. A
//! client over it gets `429` with `RATE_LIMITED` and `Retry-After`, for the cost of a map
//! lookup, a second later: a client that sends as fast as it is answered is slowed to the
//! rate (and a refusal a second per connection) rather than answered thousands of times a
//! second, so one client's flood cannot take the processor from everyone else; at most
//! `HTTP_MAX_CONNECTIONS_PER_IP` refusals wait at once. Health
//! probes are not counted. Per replica, in memory: a bound on work, not an account-level
//! throttle (those live in the database).

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{domain::ClientKey, error::code, state::AppState};

/// How long a refusal is held back.
const REFUSAL_DELAY: Duration = Duration::from_secs(1);

/// Most addresses tracked at once; past it, addresses whose bucket is full are forgotten,
/// and a new address is let through untracked if none is.
const MAX_TRACKED: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// Refused since it last had a token (the first refusal is logged, not the rest).
    dry: bool,
}

/// The buckets of every address seen lately.
#[derive(Debug, Clone)]
pub struct RequestRate {
    per_second: f64,
    burst: f64,
    buckets: Arc<Mutex<HashMap<ClientKey, Bucket>>>,
}

impl RequestRate {
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Arc::default(),
        }
    }

    /// Takes a token for `client`; `Err` with the time until one is there.
    pub fn take(&self, client: ClientKey, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&client) {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, b| refill(*b, now, rate, burst).tokens < burst);
            if buckets.len() >= MAX_TRACKED {
                return Ok(());
            }
        }
        let bucket = buckets.entry(client.clone()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
            dry: false,
        });
        *bucket = refill(*bucket, now, self.per_second, self.burst);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            bucket.dry = false;
            Ok(())
        } else {
            if !bucket.dry {
                bucket.dry = true;
                tracing::info!(client = client.as_str(), "address over its request rate");
            }
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }
}

fn refill(bucket: Bucket, now: Instant, per_second: f64, burst: f64) -> Bucket {
    let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
    Bucket {
        tokens: (bucket.tokens + elapsed * per_second).min(burst),
        at: now,
        dry: bucket.dry,
    }
}

/// Middleware: refuses a request from an address that has spent its tokens.
pub async fn limit(
    State(state): State<(AppState, RequestRate)>,
    mut req: Request,
    next: Next,
) -> Response {
    let (state, rate) = state;
    let path = req.uri().path();
    if path == "/healthz" || path == "/readyz" {
        return next.run(req).await;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    // Worked out once per request: the handlers find it in the request's extensions.
    let client = super::client::client_info(&state, peer, req.headers());
    let key = client.key();
    req.extensions_mut().insert(client);
    match rate.take(key, Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            tokio::time::sleep(REFUSAL_DELAY).await;
            let retry_after = wait.as_secs_f64().ceil().max(1.0) as u64;
            let has_body = req.headers().contains_key(header::CONTENT_LENGTH)
                || req.headers().contains_key(header::TRANSFER_ENCODING);
            crate::metrics::throttled("requests");
            let body = json!({ "errors": [{
                "message": format!("Too many requests from this address; try again in {retry_after} s"),
                "extensions": { "code": code::RATE_LIMITED, "retryAfter": retry_after },
            }] });
            let mut res = (StatusCode::TOO_MANY_REQUESTS, body.to_string()).into_response();
            let headers = res.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            if has_body {
                // Its body is not read: the connection cannot carry another request.
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn client(n: u8) -> ClientKey {
        ClientKey::of(Some(IpAddr::from([10, 0, 0, n])))
    }

    #[test]
    fn a_burst_then_the_rate_per_address() {
        let rate = RequestRate::new(10, 5);
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(rate.take(client(1), t0).is_ok());
        }
        assert_eq!(rate.take(client(1), t0), Err(Duration::from_millis(100)));
        // Another address has its own bucket.
        assert!(rate.take(client(2), t0).is_ok());
        // A tenth of a second later, one more.
        let later = t0 + Duration::from_millis(100);
        assert!(rate.take(client(1), later).is_ok());
        assert!(rate.take(client(1), later).is_err());
    }
}
