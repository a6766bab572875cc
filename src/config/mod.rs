//! Typed settings, read once at start from the environment (and `.env`) and validated.
//!
//! Every variable is declared once, as a field below: its name (`env`), default, parser and
//! meaning (the doc comment). The same declaration drives parsing, `authql --help` and a test
//! that keeps `.env.example` complete. An invalid value is an error that names the variable;
//! `APP_ENV=production` also refuses values that are only safe on a developer's machine.

mod auth;
mod http;
mod mail;
mod parse;
mod production;
mod values;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

pub use auth::{HashBudget, HashParams, ThrottleSettings, TokenSettings};
use clap::{Args, Parser};
pub use http::{GraphqlLimits, HttpSettings};
pub use mail::{BrokerSettings, MailSettings};
pub use parse::parse_duration;
use parse::{
    amqp_name, amqp_url, app_env, base_url, boolean, cidr_list, cors_origins, database_url, delta,
    dur, log_format, mailbox, media_store, metrics_bind, non_empty, queue_type, retry_delays,
    sealing_key, smtp_url, socket_addr, within,
};
pub use values::{
    AppEnv, ConfigError, CorsOrigins, DatabaseKind, LogFormat, MediaStoreKind, QueueType,
    SealingKey, Secret, Variable, help_text, variables,
};

use crate::domain::cidr::Cidr;

pub(crate) const fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}
pub(crate) const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
pub(crate) const DAY: u64 = 86_400;

/// The validated settings of one authql process.
#[derive(Debug, Clone, Parser)]
#[command(name = "authql", no_binary_name = true)]
pub struct Settings {
    /// development or production; production refuses unsafe settings
    #[arg(long, env = "APP_ENV", default_value = "development", value_parser = app_env)]
    pub app_env: AppEnv,
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(flatten)]
    pub broker: BrokerSettings,
    #[command(flatten)]
    pub mail: MailSettings,
    /// true lets APP_ENV=production send mail (SMTP_URL smtp:// without ?tls=required) and reach
    /// RabbitMQ (AMQP_URL amqp://) in cleartext to a host that is not loopback: only for a
    /// private network you trust
    #[arg(long, env = "ALLOW_CLEARTEXT_TRANSPORT", default_value = "false", value_parser = boolean,
          action = clap::ArgAction::Set)]
    pub allow_cleartext_transport: bool,
    #[command(flatten)]
    pub http: HttpSettings,
    /// folder for uploaded avatars with MEDIA_STORE=local (default: `media` beside the SQLite
    /// file, or in the working directory)
    #[arg(long, env = "MEDIA_DIR", value_parser = non_empty)]
    media_dir_setting: Option<String>,
    /// Where uploaded avatars are kept: MEDIA_DIR, or its default.
    #[arg(skip)]
    pub media_dir: PathBuf,
    /// database or local (files in MEDIA_DIR): where uploaded avatars are kept (default:
    /// database on PostgreSQL, so that every replica serves every avatar; local on SQLite)
    #[arg(long, env = "MEDIA_STORE", value_parser = media_store)]
    media_store_setting: Option<MediaStoreKind>,
    /// Where uploaded avatars are kept: MEDIA_STORE, or its default for the database.
    #[arg(skip)]
    pub media_store: MediaStoreKind,
    #[command(flatten)]
    pub tokens: TokenSettings,
    #[command(flatten)]
    pub throttle: ThrottleSettings,
    #[command(flatten)]
    pub password_hash: HashParams,
    #[command(flatten)]
    pub hash_budget: HashBudget,
    #[command(flatten)]
    pub graphql: GraphqlLimits,
    /// pretty or json
    #[arg(long, env = "LOG_FORMAT", default_value = "pretty", value_parser = log_format)]
    pub log_format: LogFormat,
    /// internal listener for /metrics; empty disables it
    #[arg(long, env = "METRICS_BIND", default_value = "127.0.0.1:9100", value_parser = metrics_bind)]
    pub metrics_bind: ::std::option::Option<SocketAddr>,
}

/// The database and its connection pool.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// postgres://user:pass@host/db or sqlite://file.db?mode=rwc
    #[arg(long, env = "DATABASE_URL", hide_env_values = true,
          default_value = "sqlite://authql.db?mode=rwc", value_parser = database_url)]
    pub url: Secret,
    /// size of the database connection pool
    #[arg(id = "database_max_connections", long = "database-max-connections", env = "DATABASE_MAX_CONNECTIONS",
          default_value = "10", value_parser = within::<u32>(1, 1000))]
    pub max_connections: u32,
}

impl DatabaseSettings {
    /// Which engine the (validated) URL points at.
    pub fn kind(&self) -> DatabaseKind {
        parse::database_kind(self.url.expose()).unwrap_or(DatabaseKind::Sqlite)
    }
}

impl Settings {
    /// `PUBLIC_URL`, or `http://` and the address the API is bound to.
    pub fn public_url_for(&self, bound: SocketAddr) -> String {
        self.http
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
    }

    /// Where mailed links point: `APP_URL`, or authql's own account pages.
    pub fn app_url_for(&self, bound: SocketAddr) -> String {
        self.mail
            .app_url
            .clone()
            .unwrap_or_else(|| format!("{}/account", self.public_url_for(bound)))
    }

    /// Reads the process environment, after loading `.env` if there is one.
    ///
    /// # Errors
    /// The first variable with an invalid or (in production) unsafe value.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is reported by the values it leaves unset.
        let _ = dotenvy::dotenv();
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds settings from any source of variables (the environment, or a test's map).
    ///
    /// # Errors
    /// The first variable with an invalid or (in production) unsafe value.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let is_set = |name: &str| lookup(name).is_some_and(|v| !v.trim().is_empty());
        let mut settings: Self = values::read(&lookup)?;
        let dev = settings.app_env == AppEnv::Development;
        settings.media_dir = match &settings.media_dir_setting {
            Some(dir) => dir.into(),
            None => parse::media_dir_beside(settings.database.url.expose()),
        };
        settings.media_store = settings
            .media_store_setting
            .unwrap_or_else(|| parse::default_media_store(settings.database.kind()));
        let graphql = &mut settings.graphql;
        graphql.introspection = graphql.introspection_setting.unwrap_or(dev);
        graphql.suggestions = graphql.suggestions_setting.unwrap_or(graphql.introspection);
        let http = &settings.http;
        if http.ws_max_connections >= http.max_connections {
            // Each live connection holds an HTTP place too: requests must keep some.
            return Err(ConfigError::Invalid {
                name: "WS_MAX_CONNECTIONS".into(),
                value: Some(http.ws_max_connections.to_string()),
                reason: format!(
                    "must be below HTTP_MAX_CONNECTIONS ({}), under which each live \
                     connection also counts, so that requests keep places",
                    http.max_connections
                ),
            });
        }
        if settings.is_production() {
            production::refuse_unsafe(&settings, is_set)?;
        }
        Ok(settings)
    }

    /// Settings for a test or a tool: the development defaults plus the given overrides.
    ///
    /// # Errors
    /// As [`Settings::from_lookup`].
    pub fn with_overrides(overrides: &[(&str, &str)]) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| {
            overrides
                .iter()
                .rev()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }
}

#[cfg(test)]
mod tests;
