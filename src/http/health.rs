//! Liveness and readiness probes.

use std::{sync::Arc, time::Duration};

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

use super::HttpState;
use crate::db;

/// How long the database may take to answer before the service counts as not ready.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: 200 while the process runs.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the database answers within the timeout, 503 otherwise. The
/// broker is reported but does not count: without it sign-ups and logins go on (mail waits
/// in the outbox), so a broker outage must not take every replica out of a load balancer.
/// Its state is in `/metrics` (`authql_broker_connected`) and the log.
pub async fn readyz(State(http): State<Arc<HttpState>>) -> (StatusCode, Json<Value>) {
    let database = match tokio::time::timeout(CHECK_TIMEOUT, db::ping(&http.state.db)).await {
        Ok(Ok(())) => "ok",
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness: database check failed");
            "unavailable"
        }
        Err(_) => {
            tracing::warn!("readiness: database did not answer in time");
            "unavailable"
        }
    };
    let mut checks = json!({ "database": database });
    let ready = database == "ok";
    if http.state.settings.broker.amqp_url.is_some() {
        let up = http.state.relay.broker_up();
        checks["broker"] = json!(if up { "ok" } else { "unavailable" });
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": checks,
    });
    (status, Json(body))
}
