//! Typed settings, read once at start from the environment (and `.env`) and validated.
//!
//! Every variable is declared once, as a field below: its name (`env`), default, parser and
//! meaning (the doc comment). The same declaration drives parsing, `authql --help` and a test
//! that keeps `.env.example` complete. An invalid value is an error that names the variable;
//! `APP_ENV=production` also refuses values that are only safe on a developer's machine.

mod parse;
mod production;
mod values;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use chrono::TimeDelta;
use clap::{Args, Parser};
pub use parse::parse_duration;
use parse::{
    amqp_name, amqp_url, app_env, base_url, boolean, cidr_list, cors_origins, database_url, delta,
    dur, log_format, mailbox, metrics_bind, non_empty, queue_type, retry_delays, sealing_key,
    smtp_url, socket_addr, within,
};
pub use values::{
    AppEnv, ConfigError, CorsOrigins, DatabaseKind, LogFormat, QueueType, SealingKey, Secret,
    Variable, help_text, variables,
};

use crate::domain::cidr::Cidr;

const fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}
const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
const DAY: u64 = 86_400;

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
    /// folder for uploaded avatars (default: `media` beside the SQLite file, or in the working
    /// directory)
    #[arg(long, env = "MEDIA_DIR", value_parser = non_empty)]
    media_dir_setting: Option<String>,
    /// Where uploaded avatars are kept: MEDIA_DIR, or its default.
    #[arg(skip)]
    pub media_dir: PathBuf,
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

/// RabbitMQ, which carries mail from the API to the workers.
#[derive(Debug, Clone, Args)]
pub struct BrokerSettings {
    /// RabbitMQ URL; unset means mail is dispatched in-process
    #[arg(long, env = "AMQP_URL", hide_env_values = true, value_parser = amqp_url)]
    pub amqp_url: Option<Secret>,
    /// RabbitMQ exchange the relay publishes mail to
    #[arg(long, env = "MAIL_EXCHANGE", default_value = "authql.mail", value_parser = amqp_name)]
    pub exchange: String,
    /// RabbitMQ queue of mail to send; retries wait in <queue>.retry.<delay>, mail that keeps
    /// failing is parked in <queue>.dead
    #[arg(id = "mail_queue", long = "mail-queue", env = "MAIL_QUEUE", default_value = "authql.mail",
          value_parser = amqp_name)]
    pub queue: String,
    /// quorum (replicated; retries move back at least once) or classic
    #[arg(long, env = "MAIL_QUEUE_TYPE", default_value = "quorum", value_parser = queue_type)]
    pub queue_type: QueueType,
    /// sending attempts before a mail is parked in the dead-letter queue
    #[arg(long, env = "MAIL_MAX_ATTEMPTS", default_value = "5",
          value_parser = within::<u32>(1, 100))]
    pub max_attempts: u32,
    /// waits before the 2nd, 3rd… attempt (the last repeats)
    #[arg(long, env = "MAIL_RETRY_DELAYS", default_value = "10s,1m,5m,30m",
          value_parser = retry_delays)]
    pub retry_delays: ::std::vec::Vec<Duration>,
    /// mails a worker sends at once (unacknowledged messages it holds)
    #[arg(long, env = "MAIL_PREFETCH", default_value = "16", value_parser = within::<u16>(1, 1000))]
    pub prefetch: u16,
}

/// How mail is written and sent, and the links it carries.
#[derive(Debug, Clone, Args)]
pub struct MailSettings {
    /// smtp://host:port (plain), ?tls=required (STARTTLS), smtps:// (TLS), user:pass@ for AUTH;
    /// unset means the dev mailbox
    #[arg(long, env = "SMTP_URL", hide_env_values = true, value_parser = smtp_url)]
    pub smtp_url: Option<Secret>,
    /// longest one SMTP conversation may take before it counts as failed
    #[arg(long, env = "SMTP_TIMEOUT", default_value = "30s", value_parser = dur(s(1), s(600)))]
    pub smtp_timeout: Duration,
    /// sender of every mail
    #[arg(long, env = "MAIL_FROM", default_value = "authql <no-reply@localhost>",
          value_parser = mailbox)]
    pub from: String,
    /// dev mailbox folder: without SMTP_URL, mails are written here as .eml files
    #[arg(long, env = "MAIL_DIR", default_value = "mailbox", value_parser = non_empty)]
    pub dir: String,
    /// the product name mails speak of
    #[arg(long, env = "PRODUCT_NAME", default_value = "authql", value_parser = non_empty)]
    pub product_name: String,
    /// verification, reset and sign-up-attempt mails per address per MAIL_LIMIT_WINDOW
    #[arg(long, env = "MAIL_LIMIT_PER_ADDRESS", default_value = "3",
          value_parser = within::<u32>(1, 10_000))]
    pub limit_per_address: u32,
    /// the window MAIL_LIMIT_PER_ADDRESS counts in
    #[arg(long, env = "MAIL_LIMIT_WINDOW", default_value = "1h",
          value_parser = delta(s(1), s(7 * DAY)))]
    pub limit_window: TimeDelta,
    /// how long an email verification link works
    #[arg(long, env = "VERIFICATION_TOKEN_TTL", default_value = "24h",
          value_parser = delta(s(60), s(30 * DAY)))]
    pub verification_ttl: TimeDelta,
    /// how long a password reset link works
    #[arg(long, env = "RESET_TOKEN_TTL", default_value = "1h",
          value_parser = delta(s(60), s(7 * DAY)))]
    pub reset_ttl: TimeDelta,
    /// base URL of the frontend that mail links point to (required in production)
    #[arg(long, env = "APP_URL", default_value = "http://localhost:3000", value_parser = base_url)]
    pub app_url: String,
}

/// The API's listener, its public address, and what one connection may take of it.
#[derive(Debug, Clone, Args)]
pub struct HttpSettings {
    /// listen address of the API
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8000", value_parser = socket_addr)]
    pub bind: SocketAddr,
    /// public base URL of this service, for absolute avatar URLs (default: http://<BIND>;
    /// required in production)
    #[arg(long, env = "PUBLIC_URL", value_parser = base_url)]
    pub public_url: Option<String>,
    /// comma-separated origins allowed to call the API from a browser
    #[arg(long, env = "CORS_ORIGINS", default_value = "",
          hide_default_value = true, value_parser = cors_origins)]
    pub cors_origins: CorsOrigins,
    /// comma-separated CIDRs whose X-Forwarded-For is believed
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "",
          hide_default_value = true, value_parser = cidr_list)]
    pub trusted_proxies: ::std::vec::Vec<Cidr>,
    /// largest multipart (upload) request body: 2 MiB for an avatar plus its envelope
    #[arg(long, env = "HTTP_MAX_BODY_BYTES", default_value = "2162688",
          value_parser = within::<usize>(1024, 256 << 20))]
    pub max_body_bytes: usize,
    /// largest JSON request body, and longest GET query string
    #[arg(long, env = "HTTP_MAX_JSON_BYTES", default_value = "65536",
          value_parser = within::<usize>(1024, 16 << 20))]
    pub max_json_bytes: usize,
    /// time a client has to send a request's line and headers
    #[arg(long, env = "HTTP_HEADER_TIMEOUT", default_value = "10s",
          value_parser = dur(ms(100), s(3600)))]
    pub header_timeout: Duration,
    /// time a client has to send a request's body
    #[arg(long, env = "HTTP_BODY_TIMEOUT", default_value = "30s",
          value_parser = dur(ms(100), s(3600)))]
    pub body_timeout: Duration,
    /// longest a request may take from its headers to the end of its answer (a client that
    /// does not read its answers is dropped)
    #[arg(long, env = "HTTP_REQUEST_TIMEOUT", default_value = "60s",
          value_parser = dur(ms(100), s(3600)))]
    pub request_timeout: Duration,
    /// a kept-alive connection with no request for this long is closed
    #[arg(long, env = "HTTP_IDLE_TIMEOUT", default_value = "60s",
          value_parser = dur(ms(100), s(3600)))]
    pub idle_timeout: Duration,
    /// requests a second one client address may send (health probes aside); 429 past it
    #[arg(long, env = "HTTP_RATE_PER_IP", default_value = "100",
          value_parser = within::<u32>(1, 10_000_000))]
    pub rate_per_ip: u32,
    /// requests one client address may send at once before HTTP_RATE_PER_IP applies
    #[arg(long, env = "HTTP_RATE_BURST", default_value = "200",
          value_parser = within::<u32>(1, 10_000_000))]
    pub rate_burst: u32,
    /// open client connections; past it new ones wait to be accepted
    #[arg(long, env = "HTTP_MAX_CONNECTIONS", default_value = "1024",
          value_parser = within::<usize>(1, 1_000_000))]
    pub max_connections: usize,
    /// open connections per client address (TRUSTED_PROXIES exempt); past it refused
    #[arg(long, env = "HTTP_MAX_CONNECTIONS_PER_IP",
          default_value = "64", value_parser = within::<usize>(1, 1_000_000))]
    pub max_connections_per_ip: usize,
}

/// Access tokens, the keys that sign them, and the sessions they come from.
#[derive(Debug, Clone, Args)]
pub struct TokenSettings {
    /// `iss` claim of access tokens
    #[arg(long, env = "JWT_ISSUER", default_value = "authql", value_parser = non_empty)]
    pub issuer: String,
    /// `aud` claim of access tokens
    #[arg(long, env = "JWT_AUDIENCE", default_value = "authql", value_parser = non_empty)]
    pub audience: String,
    /// `client_id` claim of access tokens (the frontend they are issued to)
    #[arg(long, env = "JWT_CLIENT_ID", default_value = "authql", value_parser = non_empty)]
    pub client_id: String,
    /// base64 of 32 random bytes (openssl rand -base64 32) sealing the private signing keys at
    /// rest; required in production; keys stored in clear are sealed at start
    #[arg(long, env = "SIGNING_KEY_ENCRYPTION_KEY",
          hide_env_values = true, value_parser = sealing_key)]
    pub signing_key_encryption_key: Option<SealingKey>,
    /// lifetime of an access token (e.g. 15m)
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value = "15m",
          value_parser = delta(s(30), s(DAY)))]
    pub access_ttl: TimeDelta,
    /// a session ends after this long without a refresh
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value = "14d",
          value_parser = delta(s(60), s(400 * DAY)))]
    pub refresh_ttl: TimeDelta,
    /// absolute lifetime of a session, however often it is refreshed
    #[arg(long, env = "SESSION_MAX_AGE", default_value = "30d",
          value_parser = delta(s(60), s(400 * DAY)))]
    pub session_max_age: TimeDelta,
    /// how long a just-rotated refresh token is still accepted (tabs racing); at most 5m, so
    /// that reuse detection still catches a stolen one
    #[arg(long, env = "REFRESH_REUSE_GRACE", default_value = "10s",
          value_parser = delta(Duration::ZERO, s(300)))]
    pub refresh_reuse_grace: TimeDelta,
}

/// How many attempts a client or an account gets before RATE_LIMITED.
#[derive(Debug, Clone, Args)]
pub struct ThrottleSettings {
    /// failed logins on one account (whichever name is typed; an unknown name by name) from one
    /// client address within LOGIN_THROTTLE_WINDOW before RATE_LIMITED
    #[arg(long, env = "LOGIN_MAX_FAILURES", default_value = "10",
          value_parser = within::<u32>(1, 10_000))]
    pub login_max_failures: u32,
    /// failed logins on one account from all addresses within LOGIN_THROTTLE_WINDOW before it is
    /// locked (its owner is mailed a link that unlocks it for the address opening it; a
    /// completed password reset lifts the lock)
    #[arg(long, env = "LOGIN_MAX_FAILURES_PER_ACCOUNT",
          default_value = "50", value_parser = within::<u32>(1, 1_000_000))]
    pub login_max_failures_per_account: u32,
    /// failed logins per client address within LOGIN_THROTTLE_WINDOW before RATE_LIMITED
    #[arg(long, env = "LOGIN_MAX_FAILURES_PER_IP",
          default_value = "50", value_parser = within::<u32>(1, 1_000_000))]
    pub login_max_failures_per_ip: u32,
    /// the window login failures are counted in
    #[arg(long, env = "LOGIN_THROTTLE_WINDOW", default_value = "15m",
          value_parser = delta(s(1), s(DAY)))]
    pub login_window: TimeDelta,
    /// successful logins per account within LOGIN_THROTTLE_WINDOW before RATE_LIMITED
    #[arg(long, env = "LOGIN_MAX_SUCCESSES", default_value = "30",
          value_parser = within::<u32>(1, 1_000_000))]
    pub login_max_successes: u32,
    /// sign-ups per client address within SIGNUP_THROTTLE_WINDOW before RATE_LIMITED
    #[arg(long, env = "SIGNUP_MAX_PER_IP", default_value = "20",
          value_parser = within::<u32>(1, 1_000_000))]
    pub signup_max_per_ip: u32,
    /// the window sign-ups are counted in
    #[arg(long, env = "SIGNUP_THROTTLE_WINDOW", default_value = "1h",
          value_parser = delta(s(1), s(DAY)))]
    pub signup_window: TimeDelta,
    /// live sessions per account; a login past it ends the oldest
    #[arg(long, env = "SESSIONS_MAX_PER_ACCOUNT",
          default_value = "50", value_parser = within::<u32>(1, 10_000))]
    pub sessions_max_per_account: u32,
}

/// Argon2id cost parameters (OWASP's minimum is m = 19 MiB, t = 2, p = 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct HashParams {
    /// Argon2id memory cost in KiB (at least OWASP's 19456)
    #[arg(long, env = "PASSWORD_HASH_MEMORY_KIB",
          default_value = "19456", value_parser = within::<u32>(19 * 1024, 4 << 20))]
    pub memory_kib: u32,
    /// Argon2id time cost (at least 2)
    #[arg(long, env = "PASSWORD_HASH_ITERATIONS",
          default_value = "2", value_parser = within::<u32>(2, 100))]
    pub iterations: u32,
    /// Argon2id lanes (at least 1)
    #[arg(long, env = "PASSWORD_HASH_PARALLELISM",
          default_value = "1", value_parser = within::<u32>(1, 64))]
    pub parallelism: u32,
}

impl HashParams {
    pub const OWASP: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
}

/// How much password hashing requests may ask for, and how long they may wait for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct HashBudget {
    /// passwords hashed at once (default: the number of CPU cores)
    #[arg(long, env = "PASSWORD_HASH_CONCURRENCY", value_parser = within::<usize>(1, 1024))]
    pub concurrency: Option<usize>,
    /// password hashes that may wait for a hasher; past it RATE_LIMITED at once
    #[arg(long, env = "PASSWORD_HASH_QUEUE", default_value = "64",
          value_parser = within::<usize>(1, 1_000_000))]
    pub queue: usize,
    /// of those, how many one client address may have waiting; hashers serve addresses in turn
    #[arg(long, env = "PASSWORD_HASH_QUEUE_PER_CLIENT",
          default_value = "8", value_parser = within::<usize>(1, 1_000_000))]
    pub queue_per_client: usize,
    /// longest a request waits for a hasher before RATE_LIMITED
    #[arg(long, env = "PASSWORD_HASH_WAIT", default_value = "2s",
          value_parser = dur(ms(10), s(60)))]
    pub wait: Duration,
}

impl HashBudget {
    /// For a command-line tool, the one client of its hasher: `concurrency` hashes at once,
    /// and as many waiting, for as long as it takes.
    pub fn for_tool(concurrency: usize) -> Self {
        Self {
            concurrency: Some(concurrency),
            queue: concurrency,
            queue_per_client: concurrency,
            wait: s(3600),
        }
    }

    /// Hashes run at once: PASSWORD_HASH_CONCURRENCY, or one per CPU core.
    pub fn hashers(&self) -> usize {
        self.concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
    }
}

/// What one GraphQL request may ask for.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct GraphqlLimits {
    /// deepest selection an operation may have
    #[arg(long, env = "GRAPHQL_MAX_DEPTH", default_value = "15",
          value_parser = within::<usize>(1, 1000))]
    pub max_depth: usize,
    /// most fields an operation may select in all
    #[arg(long, env = "GRAPHQL_MAX_COMPLEXITY", default_value = "500",
          value_parser = within::<usize>(1, 1_000_000))]
    pub max_complexity: usize,
    /// most aliases one document may use
    #[arg(long, env = "GRAPHQL_MAX_ALIASES", default_value = "30",
          value_parser = within::<usize>(1, 10_000))]
    pub max_aliases: usize,
    /// most root fields one operation may have
    #[arg(long, env = "GRAPHQL_MAX_ROOT_FIELDS", default_value = "20",
          value_parser = within::<usize>(1, 10_000))]
    pub max_root_fields: usize,
    /// most operations one batched request may hold
    #[arg(long, env = "GRAPHQL_MAX_BATCH", default_value = "10",
          value_parser = within::<usize>(1, 1000))]
    pub max_batch: usize,
    /// deepest nesting of braces, brackets and parentheses a document may have before it is
    /// parsed (guards the parser's recursion)
    #[arg(long, env = "GRAPHQL_MAX_NESTING", default_value = "64",
          value_parser = within::<usize>(1, 256))]
    pub max_nesting: usize,
    /// most tokens (names, values, punctuation) a document may have before it is parsed
    #[arg(long, env = "GRAPHQL_MAX_TOKENS", default_value = "2000",
          value_parser = within::<usize>(1, 50_000))]
    pub max_tokens: usize,
    /// most directives on one field
    #[arg(long, env = "GRAPHQL_MAX_DIRECTIVES", default_value = "5",
          value_parser = within::<usize>(1, 100))]
    pub max_directives: usize,
    /// most errors one answer lists; the rest are counted in one last error
    #[arg(long, env = "GRAPHQL_MAX_ERRORS", default_value = "20",
          value_parser = within::<usize>(1, 1000))]
    pub max_errors: usize,
    /// operations one client address may have running at once; the rest wait their turn
    #[arg(long, env = "GRAPHQL_MAX_RUNNING_PER_CLIENT",
          default_value = "4", value_parser = within::<usize>(1, 10_000))]
    pub max_running_per_client: usize,
    /// longest an operation waits for its client's turn before RATE_LIMITED
    #[arg(long, env = "GRAPHQL_CLIENT_WAIT", default_value = "10s",
          value_parser = dur(ms(10), s(600)))]
    pub client_wait: Duration,
    /// true or false: schema introspection (default: on in development, off in production)
    #[arg(long, env = "GRAPHQL_INTROSPECTION", value_parser = boolean)]
    introspection_setting: Option<bool>,
    /// true or false: "did you mean" hints in errors (default: as GRAPHQL_INTROSPECTION)
    #[arg(long, env = "GRAPHQL_SUGGESTIONS", value_parser = boolean)]
    suggestions_setting: Option<bool>,
    /// Whether the schema can be introspected: GRAPHQL_INTROSPECTION, or its default.
    #[arg(skip)]
    pub introspection: bool,
    /// Whether errors carry "did you mean" hints: GRAPHQL_SUGGESTIONS, or its default.
    #[arg(skip)]
    pub suggestions: bool,
}

impl Settings {
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
        let graphql = &mut settings.graphql;
        graphql.introspection = graphql.introspection_setting.unwrap_or(dev);
        graphql.suggestions = graphql.suggestions_setting.unwrap_or(graphql.introspection);
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
