//! The HTTP surface: routes, middleware and the handlers that are not GraphQL resolvers.

mod account;
pub mod admission;
pub(crate) mod assets;
pub mod body;
pub mod client;
pub mod cookie;
pub mod graphiql;
pub mod graphql;
mod health;
mod jwks;
mod media;
pub mod metrics;
pub mod multipart;
pub mod probe;
pub mod rate;
pub mod request_id;
mod respond;
pub mod serve;
pub mod ws;

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware,
    routing::get,
};
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    set_header::SetResponseHeaderLayer,
};

use crate::{config::CorsOrigins, graphql::AuthqlSchema, state::AppState};

/// What the handlers share: the application state and the schema built on it.
#[derive(Clone)]
pub struct HttpState {
    pub state: AppState,
    pub schema: AuthqlSchema,
    /// Operations each client may have running at once.
    pub admission: admission::Admission,
    /// Which requests may keep their refresh token in a cookie.
    pub cookie: cookie::CookieGate,
    /// Places for live connections (`/graphql/ws`), `WS_MAX_CONNECTIONS` of them.
    pub ws_slots: Arc<tokio::sync::Semaphore>,
    /// Live connections per client address.
    pub ws_clients: Arc<serve::PerAddress>,
    /// Turns `true` when the process stops: live connections close ("going away").
    pub closing: tokio::sync::watch::Receiver<bool>,
}

/// CORS from `CORS_ORIGINS`: the listed origins (or any, with `*` in development) may call
/// the API from a browser. Credentials (the refresh cookie of cookie mode) are allowed only
/// for listed origins, never for `*`.
fn cors(origins: &CorsOrigins) -> CorsLayer {
    let (allow, credentials) = match origins {
        CorsOrigins::Any => (AllowOrigin::any(), false),
        CorsOrigins::List(list) => (
            AllowOrigin::list(list.iter().filter_map(|o| HeaderValue::from_str(o).ok())),
            !list.is_empty(),
        ),
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_credentials(credentials)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            HeaderName::from_static("apollo-require-preflight"),
            HeaderName::from_static("x-apollo-operation-name"),
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static(crate::graphql::cookie::HEADER),
        ])
        .expose_headers([HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(600))
}

/// A header every response carries unless its handler set its own.
fn default_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// Every public route of authql.
pub fn router(http: HttpState) -> Router {
    let settings = http.state.settings.clone();
    let state = http.state.clone();
    let mut routes = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/graphiql", get(graphiql::page))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/.well-known/jwks.json", get(jwks::jwks))
        .route("/media/{file}", get(media::serve))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    if settings.http.account_pages {
        routes = routes
            .route("/account", get(account::root))
            .route("/account/", get(account::index))
            .route("/account/{name}", get(account::file));
    }
    let routes = routes
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(settings.http.max_body_bytes))
        .with_state(Arc::new(http));
    let rate = rate::RequestRate::new(settings.http.rate_per_ip, settings.http.rate_burst);
    // One stack, outermost first, added to the routes at once: a request passes through
    // its layers without a boxed service per layer. The security headers are added
    // innermost first (nosniff first, HSTS last).
    let hsts = settings.is_production().then(|| {
        default_header(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        )
    });
    let layers = ServiceBuilder::new()
        .layer(middleware::from_fn(request_id::middleware))
        .layer(cors(&settings.http.cors_origins))
        .layer(middleware::from_fn_with_state((state, rate), rate::limit))
        .option_layer(hsts)
        // JSON and errors need nothing; pages and media set their own policy.
        .layer(default_header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .layer(default_header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(default_header(header::REFERRER_POLICY, "no-referrer"))
        .layer(default_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    routes.layer(layers)
}

async fn not_found() -> (StatusCode, Json<serde_json::Value>) {
    (StatusCode::NOT_FOUND, Json(json!({ "error": "not found" })))
}
