//! Liveness and readiness probes.

use std::time::Duration;

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

/// `GET /readyz`: 200 when the database answers within the timeout (and, with `AMQP_URL`,
/// the mail relay holds a broker connection), 503 otherwise.
pub async fn readyz(State(http): State<HttpState>) -> (StatusCode, Json<Value>) {
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
    let mut ready = database == "ok";
    if http.state.settings.broker.amqp_url.is_some() {
        let up = http.state.relay.broker_up();
        checks["broker"] = json!(if up { "ok" } else { "unavailable" });
        ready &= up;
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
