//! `GET /metrics` on the internal listener: the recorder's text, with the gauges that
//! describe the database (the outbox) read at scrape time.

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::{repo, state::AppState};

/// The `/metrics` router for the internal listener. Gauges that describe the database
/// (the outbox) are read at scrape time, when `state` is given.
pub fn router(handle: PrometheusHandle, state: Option<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state((handle, state))
}

async fn scrape(State((handle, state)): State<(PrometheusHandle, Option<AppState>)>) -> Response {
    if let Some(state) = state {
        match repo::outbox::pending(&state.db).await {
            Ok((depth, oldest)) => {
                metrics::gauge!("authql_outbox_depth").set(depth as f64);
                let age = oldest
                    .map(|t| (state.clock.now() - t).num_milliseconds() as f64 / 1000.0)
                    .unwrap_or(0.0);
                metrics::gauge!("authql_outbox_oldest_age_seconds").set(age.max(0.0));
            }
            Err(err) => tracing::warn!(error = %err, "reading the outbox for metrics failed"),
        }
    }
    let mut res = handle.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}
