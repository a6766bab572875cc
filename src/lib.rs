//! authql: a self-hosted authentication service with a GraphQL API.
//!
//! [`App::build`] turns [`config::Settings`] into a bound, migrated, ready-to-run service;
//! `main.rs` only parses the command line and calls into this library, and the tests start
//! the very same [`App`] on a random port.

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod entity;
pub mod error;
pub mod graphql;
pub mod http;
pub mod mail;
pub mod media;
pub mod metrics;
pub mod repo;
pub mod service;
pub mod state;
pub mod telemetry;
pub mod worker;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::{
    auth::{
        jwt::{AccessTokens, TokenConfig},
        keys::KeyRing,
        password::Hasher,
    },
    clock::Clock,
    config::Settings,
    http::HttpState,
    state::AppState,
};

/// How long live connections get to close when the process stops.
const LIVE_CLOSE_GRACE: Duration = Duration::from_secs(3);

/// How long in-flight requests may run on after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A bound, ready-to-run API server.
pub struct App {
    listener: TcpListener,
    state: AppState,
    router: axum::Router,
    /// Sends mail in-process when there is no broker.
    mailer: Option<mail::sender::Mailer>,
    /// The internal `/metrics` listener (`METRICS_BIND`), if any.
    metrics: Option<(TcpListener, axum::Router)>,
    /// Tells live connections (`/graphql/ws`) that the process is stopping.
    closing: tokio::sync::watch::Sender<bool>,
}

/// Choices made by the caller of [`App::build`] rather than by configuration.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Apply pending migrations before serving (`authql serve --no-migrate` turns it off).
    pub migrate: bool,
    /// The clock (the system's, or one a test moves forward).
    pub clock: Clock,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            migrate: true,
            clock: Clock::system(),
        }
    }
}

/// Builds the shared state on an open, migrated database.
///
/// # Errors
/// When the signing keys cannot be loaded or created, or the hasher cannot start.
pub async fn build_state(
    db: crate::repo::Db,
    settings: Settings,
    clock: Clock,
    bound: SocketAddr,
) -> anyhow::Result<AppState> {
    let hasher = Hasher::new(settings.password_hash, settings.hash_budget)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("cannot start the password hasher")?;
    let custody = crate::auth::custody::Custody::from_settings(&settings);
    let keys = KeyRing::load(
        db.clone(),
        custody.clone(),
        settings.tokens.access_ttl,
        clock.now(),
    )
    .await
    .map_err(|e| match e {
        crate::error::AppError::Internal(cause) => cause,
        other => anyhow::anyhow!("{other:?}"),
    })
    .context("cannot load the signing keys")?;
    let keys = Arc::new(keys);
    let media: Arc<dyn media::MediaStore> = match settings.media_store {
        config::MediaStoreKind::Database => {
            Arc::new(media::DbStore::new(db.clone(), clock.clone()))
        }
        config::MediaStoreKind::Local => Arc::new(media::LocalDir::new(&settings.media_dir)),
    };
    let public_url = settings.public_url_for(bound);
    let app_url = settings.app_url_for(bound);
    let session_watch = service::session_events::SessionWatch::new(settings.http.ws_max_per_user);
    let tokens = TokenConfig {
        issuer: settings.tokens.issuer.clone(),
        audience: settings.tokens.audience.clone(),
        client_id: settings.tokens.client_id.clone(),
        ttl: settings.tokens.access_ttl,
    };
    Ok(AppState::new(state::Shared {
        db,
        settings: Arc::new(settings),
        clock,
        hasher,
        tokens: Arc::new(AccessTokens::new(keys.clone(), tokens)),
        keys,
        custody,
        relay: Arc::new(mail::relay::RelaySignals::default()),
        throttled: Arc::default(),
        media,
        reencoder: media::reencoder::Reencoder::default(),
        public_url: public_url.into(),
        app_url: app_url.into(),
        session_watch,
    }))
}

impl App {
    /// Connects to the database, migrates it, and binds the listener.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated, or the address cannot be bound;
    /// the message says which.
    pub async fn build(settings: Settings, options: BuildOptions) -> anyhow::Result<Self> {
        let db = db::connect(&settings).await.with_context(|| {
            format!(
                "cannot connect to the database ({})",
                db::describe_url(settings.database.url.expose())
            )
        })?;
        if options.migrate {
            db::migrate(&db)
                .await
                .context("cannot apply the database migrations")?;
        }
        let listener = TcpListener::bind(settings.http.bind)
            .await
            .with_context(|| format!("cannot listen on {} (BIND)", settings.http.bind))?;
        let mailer = match settings.broker.amqp_url {
            Some(_) => None,
            None => Some(mail::sender::Mailer::new(&settings, db.clone())?),
        };
        let metrics_listener = match settings.metrics_bind {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (METRICS_BIND)"))?,
            ),
            None => None,
        };
        let bound = listener.local_addr()?;
        let state = build_state(db, settings, options.clock, bound).await?;
        let metrics = metrics_listener.and_then(|listener| {
            metrics::install().map(|handle| {
                let router = http::metrics::router(handle, Some(state.clone()))
                    .layer(axum::middleware::from_fn(http::request_id::tag));
                (listener, router)
            })
        });
        let schema = graphql::build(state.clone());
        let admission = http::admission::Admission::new(
            state.settings.graphql.max_running_per_client,
            state.settings.graphql.client_wait,
        );
        let cookie =
            http::cookie::CookieGate::new(&state.public_url, &state.settings.http.cors_origins);
        let closing = tokio::sync::watch::Sender::new(false);
        let router = http::router(HttpState {
            state: state.clone(),
            schema,
            admission,
            cookie,
            ws_slots: Arc::new(tokio::sync::Semaphore::new(
                state.settings.http.ws_max_connections,
            )),
            ws_clients: Arc::default(),
            closing: closing.subscribe(),
        });
        Ok(Self {
            listener,
            state,
            router,
            mailer,
            metrics,
            closing,
        })
    }

    /// The address the listener is bound to (the real port when `BIND` asked for port 0).
    ///
    /// # Errors
    /// When the socket cannot report its address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address of the internal `/metrics` listener, if there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// The shared state, for tools and tests that work next to the running server.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish for at most
    /// [`SHUTDOWN_GRACE`] and closes the database pool. A failure to accept one connection
    /// (out of file descriptors, say) is logged and retried, never the end of the service.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
        let housekeeping = tokio::spawn(service::maintenance::run(
            self.state.clone(),
            stopping_rx.clone(),
        ));
        let relay_context = mail::relay::RelayContext {
            db: self.state.db.clone(),
            settings: self.state.settings.clone(),
            clock: self.state.clock.clone(),
            signals: self.state.relay.clone(),
        };
        let relay = tokio::spawn(mail::relay::run(
            relay_context,
            self.mailer,
            stopping_rx.clone(),
        ));
        let limits = http::serve::ConnectionLimits {
            header_timeout: self.state.settings.http.header_timeout,
            request_timeout: self.state.settings.http.request_timeout,
            idle_timeout: self.state.settings.http.idle_timeout,
            max_connections: self.state.settings.http.max_connections,
            max_connections_per_ip: self.state.settings.http.max_connections_per_ip,
            // Room for a GET query string as long as a JSON body may be, and its headers.
            max_head_bytes: self.state.settings.http.max_json_bytes + 16 * 1024,
            trusted_proxies: self.state.settings.http.trusted_proxies.clone(),
        };
        let metrics = self.metrics.map(|(listener, router)| {
            let mut stopping = stopping_rx.clone();
            let limits = limits.clone();
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stopping.wait_for(|s| *s).await;
                };
                http::serve::serve(listener, router, limits, stopped).await;
            })
        });
        let closing = self.closing;
        let closing_ref = &closing;
        let stopped = async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stopping_tx.send(true);
            closing_ref.send_replace(true);
        };
        let server = http::serve::serve(self.listener, self.router, limits, stopped);
        let deadline = async move {
            let _ = stopping_rx.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            () = server => {}
            () = deadline => {
                tracing::warn!("in-flight requests did not finish within {SHUTDOWN_GRACE:?}");
            }
        }
        // Live connections (`/graphql/ws`) say "going away" (1001) and end; each holds a
        // receiver of `closing` until then.
        if tokio::time::timeout(LIVE_CLOSE_GRACE, closing.closed())
            .await
            .is_err()
        {
            tracing::warn!("live connections did not close within {LIVE_CLOSE_GRACE:?}");
        }
        housekeeping.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        // The relay stops between rows: what it has not handed on stays in the outbox.
        if tokio::time::timeout(Duration::from_secs(5), relay)
            .await
            .is_err()
        {
            tracing::warn!("the mail relay did not stop in time");
        }
        if let Err(err) = self.state.db.close_by_ref().await {
            tracing::warn!(error = %err, "closing the database pool failed");
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
