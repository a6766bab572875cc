//! The HTTP surface: routes, middleware and the handlers that are not GraphQL resolvers.

pub mod client;
pub mod graphiql;
pub mod graphql;
mod health;
mod jwks;
mod media;
pub mod request_id;

use axum::{
    Json, Router,
    extract::DefaultBodyLimit,
    http::{HeaderValue, StatusCode, header},
    middleware,
    routing::get,
};
use serde_json::json;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::{graphql::AuthqlSchema, state::AppState};

/// Largest request body accepted on any route: a 2 MiB upload with its multipart envelope,
/// or room for a 1 MB field to be refused with a clear GraphQL error rather than cut off.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024 + 64 * 1024;

/// What the handlers share: the application state and the schema built on it.
#[derive(Clone)]
pub struct HttpState {
    pub state: AppState,
    pub schema: AuthqlSchema,
}

/// Every public route of authql.
pub fn router(http: HttpState) -> Router {
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphiql", get(graphiql::page))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/.well-known/jwks.json", get(jwks::jwks))
        .route("/media/{file}", get(media::serve))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(middleware::from_fn(request_id::middleware))
        .with_state(http)
}

async fn not_found() -> (StatusCode, Json<serde_json::Value>) {
    (StatusCode::NOT_FOUND, Json(json!({ "error": "not found" })))
}
