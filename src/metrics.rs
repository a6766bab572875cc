//! Prometheus metrics: the recorder and the counters every layer bumps. They are served in
//! the text format at `GET /metrics` on the internal listener `METRICS_BIND` (never on the
//! public port) by [`crate::http::metrics`].
//!
//! | metric | kind | labels |
//! | --- | --- | --- |
//! | `authql_http_requests_total` | counter | `route`, `method`, `status` |
//! | `authql_http_request_duration_seconds` | histogram | `route` |
//! | `authql_graphql_operations_total` | counter | `operation` (its root fields), `outcome` |
//! | `authql_graphql_operation_duration_seconds` | histogram | `operation` |
//! | `authql_logins_total` | counter | `outcome`: `success`, `failure`, `throttled`, `mfa_required` |
//! | `authql_throttled_total` | counter | `kind`: `login`, `login_success`, `signup`, `password_hash`, `image_decode`, `client_operations`, `requests` |
//! | `authql_connections_dropped_total` | counter | `reason`: `per_ip`, `timeout` |
//! | `authql_outbox_depth` | gauge | mails waiting to be handed on |
//! | `authql_outbox_oldest_age_seconds` | gauge | age of the oldest of them |
//! | `authql_mail_total` | counter | `outcome`: `sent`, `failed`, `dead_lettered` |
//! | `authql_broker_connected` | gauge | `role`: `relay`, `worker`; 1 while it holds a broker connection |
//! | `authql_log_lines_dropped_total` | counter | log lines dropped because stderr's reader fell behind |

use std::sync::OnceLock;

use metrics::SharedString;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: from a cached lookup to a slow password hash.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls return the same handle).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(BUCKETS).ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(err) => {
                    tracing::warn!(error = %err, "metrics recorder not installed");
                    None
                }
            }
        })
        .clone()
}

/// The routes of the public listener (and `unmatched`): label values used as they are,
/// without a copy per request.
const ROUTES: &[&str] = &[
    "/graphql",
    "/graphiql",
    "/graphiql/{file}",
    "/.well-known/jwks.json",
    "/media/{file}",
    "/healthz",
    "/readyz",
    "unmatched",
];

fn route_label(route: &str) -> SharedString {
    ROUTES.iter().find(|known| **known == route).map_or_else(
        || SharedString::from(route.to_owned()),
        |known| SharedString::const_str(known),
    )
}

/// The status as a label: the ones authql answers with, without a copy per request.
fn status_label(status: u16) -> SharedString {
    let known = match status {
        200 => "200",
        204 => "204",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        414 => "414",
        415 => "415",
        429 => "429",
        500 => "500",
        503 => "503",
        _ => return SharedString::from(status.to_string()),
    };
    SharedString::const_str(known)
}

pub fn http_request(route: &str, method: &'static str, status: u16, seconds: f64) {
    let route = route_label(route);
    metrics::counter!(
        "authql_http_requests_total",
        "route" => route.clone(),
        "method" => method,
        "status" => status_label(status)
    )
    .increment(1);
    metrics::histogram!("authql_http_request_duration_seconds", "route" => route).record(seconds);
}

/// `operation`: a label from a closed set (see `graphql::observe`), shared, not copied.
pub fn graphql_operation(operation: SharedString, ok: bool, seconds: f64) {
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!(
        "authql_graphql_operations_total",
        "operation" => operation.clone(),
        "outcome" => outcome
    )
    .increment(1);
    metrics::histogram!(
        "authql_graphql_operation_duration_seconds",
        "operation" => operation
    )
    .record(seconds);
}

/// `outcome`: `success`, `failure`, `throttled` or `mfa_required` (a right password on an
/// account with a second factor: the code is still to come).
pub fn login(outcome: &'static str) {
    metrics::counter!("authql_logins_total", "outcome" => outcome).increment(1);
}

/// A request refused by a rate limit or budget (`kind`: a closed set, see the table above).
pub fn throttled(kind: &'static str) {
    metrics::counter!("authql_throttled_total", "kind" => kind).increment(1);
}

/// A connection closed by the server (`reason`: `per_ip` when refused at the per-address
/// cap, `timeout` when too slow to send its headers or idle too long).
pub fn connection_dropped(reason: &'static str) {
    metrics::counter!("authql_connections_dropped_total", "reason" => reason).increment(1);
}

/// `outcome`: `sent`, `failed` (will be retried) or `dead_lettered`.
pub fn mail(outcome: &'static str) {
    metrics::counter!("authql_mail_total", "outcome" => outcome).increment(1);
}

/// Whether the relay or the worker (`role`) holds a working broker connection.
pub fn broker_connected(role: &'static str, up: bool) {
    metrics::gauge!("authql_broker_connected", "role" => role).set(if up { 1.0 } else { 0.0 });
}

/// A JSON log line dropped because the log queue was full (stderr's reader fell behind).
pub fn log_line_dropped() {
    metrics::counter!("authql_log_lines_dropped_total").increment(1);
}
