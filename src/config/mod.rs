//! Typed settings, read once at start from the environment (and `.env`) and validated.
//!
//! Every variable is declared once in [`VARIABLES`]: its name, default and meaning. The same
//! table drives parsing, `authql --help` and a test that keeps `.env.example` complete. An
//! invalid value is an error that names the variable; `APP_ENV=production` also refuses
//! values that are only safe on a developer's machine.

mod parse;

use std::{net::SocketAddr, time::Duration};

pub use parse::{Cidr, parse_duration};

/// One configuration variable: what it is called, what it defaults to, what it means.
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    pub name: &'static str,
    /// `None`: unset by default (the feature it configures is off, or a dev fallback is used).
    pub default: Option<&'static str>,
    pub help: &'static str,
    /// Secret values (URLs with passwords) are never echoed back in errors or logs.
    pub secret: bool,
}

const fn var(
    name: &'static str,
    default: Option<&'static str>,
    help: &'static str,
    secret: bool,
) -> Variable {
    Variable {
        name,
        default,
        help,
        secret,
    }
}

/// Every variable authql reads, in the order `.env.example` documents them.
pub const VARIABLES: &[Variable] = &[
    var(
        "APP_ENV",
        Some("development"),
        "development or production; production refuses unsafe settings",
        false,
    ),
    var(
        "DATABASE_URL",
        Some(DEFAULT_DATABASE_URL),
        "postgres://user:pass@host/db or sqlite://file.db?mode=rwc",
        true,
    ),
    var(
        "DATABASE_MAX_CONNECTIONS",
        Some("10"),
        "size of the database connection pool",
        false,
    ),
    var(
        "AMQP_URL",
        None,
        "RabbitMQ URL; unset means mail is dispatched in-process",
        true,
    ),
    var(
        "SMTP_URL",
        None,
        "smtp://host:port (plain), ?tls=required (STARTTLS), smtps:// (TLS), user:pass@ for \
         AUTH; unset means the dev mailbox",
        true,
    ),
    var(
        "ALLOW_CLEARTEXT_TRANSPORT",
        Some("false"),
        "true lets APP_ENV=production send mail (SMTP_URL smtp:// without ?tls=required) and \
         reach RabbitMQ (AMQP_URL amqp://) in cleartext to a host that is not loopback: \
         only for a private network you trust",
        false,
    ),
    var(
        "SMTP_TIMEOUT",
        Some("30s"),
        "longest one SMTP conversation may take before it counts as failed",
        false,
    ),
    var(
        "MAIL_FROM",
        Some("authql <no-reply@localhost>"),
        "sender of every mail",
        false,
    ),
    var(
        "MAIL_DIR",
        Some("mailbox"),
        "dev mailbox folder: without SMTP_URL, mails are written here as .eml files",
        false,
    ),
    var(
        "PRODUCT_NAME",
        Some("authql"),
        "the product name mails speak of",
        false,
    ),
    var(
        "MAIL_EXCHANGE",
        Some("authql.mail"),
        "RabbitMQ exchange the relay publishes mail to",
        false,
    ),
    var(
        "MAIL_QUEUE",
        Some("authql.mail"),
        "RabbitMQ queue of mail to send; retries wait in <queue>.retry.<delay>, mail that \
         keeps failing is parked in <queue>.dead",
        false,
    ),
    var(
        "MAIL_QUEUE_TYPE",
        Some("quorum"),
        "quorum (replicated; retries move back at least once) or classic",
        false,
    ),
    var(
        "MAIL_MAX_ATTEMPTS",
        Some("5"),
        "sending attempts before a mail is parked in the dead-letter queue",
        false,
    ),
    var(
        "MAIL_RETRY_DELAYS",
        Some("10s,1m,5m,30m"),
        "waits before the 2nd, 3rd… attempt (the last repeats)",
        false,
    ),
    var(
        "MAIL_PREFETCH",
        Some("16"),
        "mails a worker sends at once (unacknowledged messages it holds)",
        false,
    ),
    var(
        "MAIL_LIMIT_PER_ADDRESS",
        Some("3"),
        "verification, reset and sign-up-attempt mails per address per MAIL_LIMIT_WINDOW",
        false,
    ),
    var(
        "MAIL_LIMIT_WINDOW",
        Some("1h"),
        "the window MAIL_LIMIT_PER_ADDRESS counts in",
        false,
    ),
    var(
        "VERIFICATION_TOKEN_TTL",
        Some("24h"),
        "how long an email verification link works",
        false,
    ),
    var(
        "RESET_TOKEN_TTL",
        Some("1h"),
        "how long a password reset link works",
        false,
    ),
    var(
        "APP_URL",
        Some(DEFAULT_APP_URL),
        "base URL of the frontend that mail links point to (required in production)",
        false,
    ),
    var(
        "BIND",
        Some("127.0.0.1:8000"),
        "listen address of the API",
        false,
    ),
    var(
        "PUBLIC_URL",
        None,
        "public base URL of this service, for absolute avatar URLs (default: http://<BIND>; \
         required in production)",
        false,
    ),
    var(
        "MEDIA_DIR",
        None,
        "folder for uploaded avatars (default: `media` beside the SQLite file, or in the \
         working directory)",
        false,
    ),
    var(
        "JWT_ISSUER",
        Some("authql"),
        "`iss` claim of access tokens",
        false,
    ),
    var(
        "JWT_AUDIENCE",
        Some("authql"),
        "`aud` claim of access tokens",
        false,
    ),
    var(
        "JWT_CLIENT_ID",
        Some("authql"),
        "`client_id` claim of access tokens (the frontend they are issued to)",
        false,
    ),
    var(
        "SIGNING_KEY_ENCRYPTION_KEY",
        None,
        "base64 of 32 random bytes (openssl rand -base64 32) sealing the private signing keys \
         at rest; required in production; keys stored in clear are sealed at start",
        true,
    ),
    var(
        "ACCESS_TOKEN_TTL",
        Some("15m"),
        "lifetime of an access token (e.g. 15m)",
        false,
    ),
    var(
        "REFRESH_TOKEN_TTL",
        Some("14d"),
        "a session ends after this long without a refresh",
        false,
    ),
    var(
        "SESSION_MAX_AGE",
        Some("30d"),
        "absolute lifetime of a session, however often it is refreshed",
        false,
    ),
    var(
        "REFRESH_REUSE_GRACE",
        Some("10s"),
        "how long a just-rotated refresh token is still accepted (tabs racing)",
        false,
    ),
    var(
        "CORS_ORIGINS",
        None,
        "comma-separated origins allowed to call the API from a browser",
        false,
    ),
    var(
        "LOGIN_MAX_FAILURES",
        Some("10"),
        "failed logins on one account (whichever name is typed; an unknown name by name) \
         from one client address within LOGIN_THROTTLE_WINDOW before RATE_LIMITED",
        false,
    ),
    var(
        "LOGIN_MAX_FAILURES_PER_ACCOUNT",
        Some("50"),
        "failed logins on one account from all addresses within LOGIN_THROTTLE_WINDOW before \
         it is locked (its owner is mailed a link that unlocks it for the address opening it; \
         a completed password reset lifts the lock)",
        false,
    ),
    var(
        "LOGIN_MAX_FAILURES_PER_IP",
        Some("50"),
        "failed logins per client address within LOGIN_THROTTLE_WINDOW before RATE_LIMITED",
        false,
    ),
    var(
        "LOGIN_THROTTLE_WINDOW",
        Some("15m"),
        "the window login failures are counted in",
        false,
    ),
    var(
        "PASSWORD_HASH_MEMORY_KIB",
        Some("19456"),
        "Argon2id memory cost in KiB (at least OWASP's 19456)",
        false,
    ),
    var(
        "PASSWORD_HASH_ITERATIONS",
        Some("2"),
        "Argon2id time cost (at least 2)",
        false,
    ),
    var(
        "PASSWORD_HASH_PARALLELISM",
        Some("1"),
        "Argon2id lanes (at least 1)",
        false,
    ),
    var(
        "PASSWORD_HASH_CONCURRENCY",
        None,
        "passwords hashed at once (default: the number of CPU cores)",
        false,
    ),
    var(
        "PASSWORD_HASH_QUEUE",
        Some("64"),
        "password hashes that may wait for a hasher; past it RATE_LIMITED at once",
        false,
    ),
    var(
        "PASSWORD_HASH_QUEUE_PER_CLIENT",
        Some("8"),
        "of those, how many one client address may have waiting; hashers serve addresses \
         in turn",
        false,
    ),
    var(
        "PASSWORD_HASH_WAIT",
        Some("2s"),
        "longest a request waits for a hasher before RATE_LIMITED",
        false,
    ),
    var(
        "SIGNUP_MAX_PER_IP",
        Some("20"),
        "sign-ups per client address within SIGNUP_THROTTLE_WINDOW before RATE_LIMITED",
        false,
    ),
    var(
        "SIGNUP_THROTTLE_WINDOW",
        Some("1h"),
        "the window sign-ups are counted in",
        false,
    ),
    var(
        "LOGIN_MAX_SUCCESSES",
        Some("30"),
        "successful logins per account within LOGIN_THROTTLE_WINDOW before RATE_LIMITED",
        false,
    ),
    var(
        "SESSIONS_MAX_PER_ACCOUNT",
        Some("50"),
        "live sessions per account; a login past it ends the oldest",
        false,
    ),
    var(
        "GRAPHQL_MAX_DEPTH",
        Some("15"),
        "deepest selection an operation may have",
        false,
    ),
    var(
        "GRAPHQL_MAX_COMPLEXITY",
        Some("500"),
        "most fields an operation may select in all",
        false,
    ),
    var(
        "GRAPHQL_MAX_ALIASES",
        Some("30"),
        "most aliases one document may use",
        false,
    ),
    var(
        "GRAPHQL_MAX_ROOT_FIELDS",
        Some("20"),
        "most root fields one operation may have",
        false,
    ),
    var(
        "GRAPHQL_MAX_BATCH",
        Some("10"),
        "most operations one batched request may hold",
        false,
    ),
    var(
        "GRAPHQL_MAX_NESTING",
        Some("64"),
        "deepest nesting of braces, brackets and parentheses a document may have before it \
         is parsed (guards the parser's recursion)",
        false,
    ),
    var(
        "GRAPHQL_MAX_TOKENS",
        Some("2000"),
        "most tokens (names, values, punctuation) a document may have before it is parsed",
        false,
    ),
    var(
        "GRAPHQL_MAX_DIRECTIVES",
        Some("5"),
        "most directives on one field",
        false,
    ),
    var(
        "GRAPHQL_MAX_ERRORS",
        Some("20"),
        "most errors one answer lists; the rest are counted in one last error",
        false,
    ),
    var(
        "GRAPHQL_MAX_RUNNING_PER_CLIENT",
        Some("4"),
        "operations one client address may have running at once; the rest wait their turn",
        false,
    ),
    var(
        "GRAPHQL_CLIENT_WAIT",
        Some("10s"),
        "longest an operation waits for its client's turn before RATE_LIMITED",
        false,
    ),
    var(
        "GRAPHQL_INTROSPECTION",
        None,
        "true or false: schema introspection (default: on in development, off in production)",
        false,
    ),
    var(
        "GRAPHQL_SUGGESTIONS",
        None,
        "true or false: \"did you mean\" hints in errors (default: as GRAPHQL_INTROSPECTION)",
        false,
    ),
    var(
        "HTTP_MAX_BODY_BYTES",
        Some("2162688"),
        "largest multipart (upload) request body: 2 MiB for an avatar plus its envelope",
        false,
    ),
    var(
        "HTTP_MAX_JSON_BYTES",
        Some("65536"),
        "largest JSON request body, and longest GET query string",
        false,
    ),
    var(
        "HTTP_HEADER_TIMEOUT",
        Some("10s"),
        "time a client has to send a request's line and headers",
        false,
    ),
    var(
        "HTTP_BODY_TIMEOUT",
        Some("30s"),
        "time a client has to send a request's body",
        false,
    ),
    var(
        "HTTP_REQUEST_TIMEOUT",
        Some("60s"),
        "longest a request may take from its headers to the end of its answer (a client that \
         does not read its answers is dropped)",
        false,
    ),
    var(
        "HTTP_IDLE_TIMEOUT",
        Some("60s"),
        "a kept-alive connection with no request for this long is closed",
        false,
    ),
    var(
        "HTTP_RATE_PER_IP",
        Some("100"),
        "requests a second one client address may send (health probes aside); 429 past it",
        false,
    ),
    var(
        "HTTP_RATE_BURST",
        Some("200"),
        "requests one client address may send at once before HTTP_RATE_PER_IP applies",
        false,
    ),
    var(
        "HTTP_MAX_CONNECTIONS",
        Some("1024"),
        "open client connections; past it new ones wait to be accepted",
        false,
    ),
    var(
        "HTTP_MAX_CONNECTIONS_PER_IP",
        Some("64"),
        "open connections per client address (TRUSTED_PROXIES exempt); past it refused",
        false,
    ),
    var("LOG_FORMAT", Some("pretty"), "pretty or json", false),
    var(
        "METRICS_BIND",
        Some("127.0.0.1:9100"),
        "internal listener for /metrics; empty disables it",
        false,
    ),
    var(
        "TRUSTED_PROXIES",
        None,
        "comma-separated CIDRs whose X-Forwarded-For is believed",
        false,
    ),
];

const DEFAULT_DATABASE_URL: &str = "sqlite://authql.db?mode=rwc";
const DEFAULT_APP_URL: &str = "http://localhost:3000";

/// Longest grace that still lets reuse detection catch a stolen refresh token.
const MAX_REUSE_GRACE: Duration = Duration::from_secs(5 * 60);

/// Where authql runs; production refuses settings that are only safe for development.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The 32-byte key that seals the private signing keys. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealingKey(pub [u8; 32]);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(***)")
    }
}

/// A value that must never be printed: `Debug` shows only that it is there.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (a connection, a signature).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Which database engine a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Postgres,
    Sqlite,
}

/// Browser origins allowed by CORS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `*`: any origin (development only; never combined with credentials).
    Any,
    /// Exact origins such as `https://app.example.com`.
    List(Vec<String>),
}

/// What one GraphQL request may ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphqlLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    pub max_batch: usize,
    pub max_nesting: usize,
    pub max_tokens: usize,
    pub max_directives: usize,
    pub max_errors: usize,
    pub max_running_per_client: usize,
    pub client_wait: Duration,
    pub introspection: bool,
    pub suggestions: bool,
}

/// What one connection may take of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest multipart (upload) body.
    pub max_body_bytes: usize,
    /// Largest JSON body, and longest GET query string.
    pub max_json_bytes: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub request_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub rate_per_ip: u32,
    pub rate_burst: u32,
}

/// Argon2id cost parameters (OWASP's minimum is m = 19 MiB, t = 2, p = 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashBudget {
    /// Hashes run at once.
    pub concurrency: usize,
    /// Hashes waiting, from all clients.
    pub queue: usize,
    /// Hashes waiting, from one client address.
    pub queue_per_client: usize,
    /// Longest wait for a hasher.
    pub wait: Duration,
}

impl HashBudget {
    /// For a command-line tool, the one client of its hasher: `concurrency` hashes at once,
    /// and as many waiting, for as long as it takes.
    pub fn for_tool(concurrency: usize) -> Self {
        Self {
            concurrency,
            queue: concurrency,
            queue_per_client: concurrency,
            wait: Duration::from_secs(3600),
        }
    }
}

/// The validated settings of one authql process.
#[derive(Debug, Clone)]
pub struct Settings {
    pub app_env: AppEnv,
    pub database_url: Secret,
    pub database_kind: DatabaseKind,
    pub database_max_connections: u32,
    pub amqp_url: Option<Secret>,
    pub smtp_url: Option<Secret>,
    /// Production may speak plain SMTP and AMQP to other machines.
    pub allow_cleartext_transport: bool,
    pub mail_from: String,
    pub smtp_timeout: Duration,
    pub mail_dir: std::path::PathBuf,
    pub product_name: String,
    pub mail_exchange: String,
    pub mail_queue: String,
    pub mail_quorum_queues: bool,
    pub mail_max_attempts: u32,
    pub mail_retry_delays: Vec<Duration>,
    pub mail_prefetch: u16,
    pub mail_limit_per_address: u32,
    pub mail_limit_window: Duration,
    pub verification_token_ttl: Duration,
    pub reset_token_ttl: Duration,
    /// Without a trailing slash, so links are `format!("{app_url}/verify-email?…")`.
    pub app_url: String,
    pub bind: SocketAddr,
    /// Without a trailing slash. Unset: `http://` and the address the listener is bound to.
    pub public_url: Option<String>,
    pub media_dir: std::path::PathBuf,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub jwt_client_id: String,
    pub access_token_ttl: Duration,
    /// The key sealing the private signing keys at rest.
    pub signing_key_encryption_key: Option<SealingKey>,
    pub refresh_token_ttl: Duration,
    pub session_max_age: Duration,
    pub refresh_reuse_grace: Duration,
    pub cors_origins: CorsOrigins,
    pub log_format: LogFormat,
    pub graphql: GraphqlLimits,
    pub http: HttpLimits,
    pub metrics_bind: Option<SocketAddr>,
    pub trusted_proxies: Vec<Cidr>,
    pub login_max_failures: u32,
    pub login_max_failures_per_ip: u32,
    pub login_max_failures_per_account: u32,
    pub login_throttle_window: Duration,
    pub login_max_successes: u32,
    pub signup_max_per_ip: u32,
    pub signup_throttle_window: Duration,
    pub sessions_max_per_account: u32,
    pub password_hash: HashParams,
    pub hash_budget: HashBudget,
}

/// Why the configuration was refused. The message always names the variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("invalid {name}: {reason}{}", shown(.value))]
    Invalid {
        name: &'static str,
        value: Option<String>,
        reason: String,
    },
    #[error("unsafe {name} for APP_ENV=production: {reason}")]
    Unsafe { name: &'static str, reason: String },
}

fn shown(value: &Option<String>) -> String {
    value
        .as_ref()
        .map(|v| format!(" (got {v:?})"))
        .unwrap_or_default()
}

impl ConfigError {
    /// The variable this error is about.
    pub fn variable(&self) -> &'static str {
        match self {
            Self::Invalid { name, .. } | Self::Unsafe { name, .. } => name,
        }
    }
}

/// Reads raw values by name, applying the declared defaults, and builds typed errors.
struct Reader<F> {
    lookup: F,
}

impl<F: Fn(&str) -> Option<String>> Reader<F> {
    fn declared(name: &str) -> &'static Variable {
        VARIABLES
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| unreachable!("{name} is not declared in VARIABLES"))
    }

    /// The value if set and non-empty, else the default (which may be unset).
    fn raw(&self, name: &'static str) -> Option<String> {
        (self.lookup)(name)
            .filter(|v| !v.trim().is_empty())
            .or_else(|| Self::declared(name).default.map(str::to_owned))
    }

    /// Whether the operator set the variable, as opposed to relying on its default.
    fn is_set(&self, name: &'static str) -> bool {
        (self.lookup)(name).is_some_and(|v| !v.trim().is_empty())
    }

    fn required(&self, name: &'static str) -> String {
        self.raw(name).unwrap_or_default()
    }

    fn parse<T>(
        &self,
        name: &'static str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let raw = self.required(name);
        f(raw.trim()).map_err(|reason| invalid(name, &raw, reason))
    }

    fn parse_opt<T>(
        &self,
        name: &'static str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        match self.raw(name) {
            None => Ok(None),
            Some(raw) => f(raw.trim())
                .map(Some)
                .map_err(|reason| invalid(name, &raw, reason)),
        }
    }
}

fn invalid(name: &'static str, raw: &str, reason: String) -> ConfigError {
    let secret = Reader::<fn(&str) -> Option<String>>::declared(name).secret;
    ConfigError::Invalid {
        name,
        value: (!secret).then(|| raw.to_owned()),
        reason,
    }
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
        let r = Reader { lookup };
        let app_env = r.parse("APP_ENV", parse::app_env)?;
        let database_url = r.required("DATABASE_URL");
        let database_kind = parse::database_kind(database_url.trim())
            .map_err(|reason| invalid("DATABASE_URL", &database_url, reason))?;
        let settings = Settings {
            app_env,
            database_url: Secret::new(database_url.trim()),
            database_kind,
            database_max_connections: r
                .parse("DATABASE_MAX_CONNECTIONS", |v| parse::number_in(v, 1, 1000))?,
            amqp_url: r
                .parse_opt("AMQP_URL", |v| {
                    parse::url_with_scheme(v, &["amqp", "amqps"])
                })?
                .map(Secret::new),
            smtp_url: r
                .parse_opt("SMTP_URL", |v| {
                    parse::url_with_scheme(v, &["smtp", "smtps"])
                })?
                .map(Secret::new),
            allow_cleartext_transport: r.parse("ALLOW_CLEARTEXT_TRANSPORT", parse::boolean)?,
            mail_from: r.parse("MAIL_FROM", parse::mailbox)?,
            smtp_timeout: r.parse("SMTP_TIMEOUT", |v| {
                parse::duration_in(v, Duration::from_secs(1), Duration::from_secs(600))
            })?,
            mail_dir: r.parse("MAIL_DIR", |v| parse::non_empty(v).map(Into::into))?,
            product_name: r.parse("PRODUCT_NAME", parse::non_empty)?,
            mail_exchange: r.parse("MAIL_EXCHANGE", parse::amqp_name)?,
            mail_queue: r.parse("MAIL_QUEUE", parse::amqp_name)?,
            mail_quorum_queues: r.parse("MAIL_QUEUE_TYPE", |v| match v {
                "quorum" => Ok(true),
                "classic" => Ok(false),
                _ => Err("expected quorum or classic".to_owned()),
            })?,
            mail_max_attempts: r.parse("MAIL_MAX_ATTEMPTS", |v| parse::number_in(v, 1, 100))?,
            mail_retry_delays: r.parse("MAIL_RETRY_DELAYS", |v| {
                parse::list(v, |d| {
                    parse::duration_in(d, Duration::from_millis(10), Duration::from_secs(86_400))
                })
            })?,
            mail_prefetch: r.parse("MAIL_PREFETCH", |v| {
                parse::number_in(v, 1, 1000).map(|n| n as u16)
            })?,
            mail_limit_per_address: r
                .parse("MAIL_LIMIT_PER_ADDRESS", |v| parse::number_in(v, 1, 10_000))?,
            mail_limit_window: r.parse("MAIL_LIMIT_WINDOW", |v| {
                parse::duration_in(v, Duration::from_secs(1), Duration::from_secs(7 * 86_400))
            })?,
            verification_token_ttl: r.parse("VERIFICATION_TOKEN_TTL", |v| {
                parse::duration_in(v, Duration::from_secs(60), Duration::from_secs(30 * 86_400))
            })?,
            reset_token_ttl: r.parse("RESET_TOKEN_TTL", |v| {
                parse::duration_in(v, Duration::from_secs(60), Duration::from_secs(7 * 86_400))
            })?,
            app_url: r.parse("APP_URL", parse::base_url)?,
            bind: r.parse("BIND", parse::socket_addr)?,
            public_url: r.parse_opt("PUBLIC_URL", parse::base_url)?,
            media_dir: match r.parse_opt("MEDIA_DIR", parse::non_empty)? {
                Some(dir) => dir.into(),
                None => parse::media_dir_beside(database_url.trim()),
            },
            jwt_issuer: r.parse("JWT_ISSUER", parse::non_empty)?,
            jwt_audience: r.parse("JWT_AUDIENCE", parse::non_empty)?,
            jwt_client_id: r.parse("JWT_CLIENT_ID", parse::non_empty)?,
            signing_key_encryption_key: r
                .parse_opt("SIGNING_KEY_ENCRYPTION_KEY", parse::sealing_key)?
                .map(SealingKey),
            access_token_ttl: r.parse("ACCESS_TOKEN_TTL", |v| {
                parse::duration_in(v, Duration::from_secs(30), Duration::from_secs(24 * 3600))
            })?,
            refresh_token_ttl: r.parse("REFRESH_TOKEN_TTL", |v| {
                parse::duration_in(v, Duration::from_secs(60), Duration::from_secs(400 * 86400))
            })?,
            session_max_age: r.parse("SESSION_MAX_AGE", |v| {
                parse::duration_in(v, Duration::from_secs(60), Duration::from_secs(400 * 86400))
            })?,
            refresh_reuse_grace: r.parse("REFRESH_REUSE_GRACE", |v| {
                parse::duration_in(v, Duration::ZERO, MAX_REUSE_GRACE)
            })?,
            cors_origins: r
                .parse_opt("CORS_ORIGINS", parse::cors_origins)?
                .unwrap_or(CorsOrigins::List(Vec::new())),
            log_format: r.parse("LOG_FORMAT", parse::log_format)?,
            graphql: {
                let n =
                    |name, max| r.parse(name, |v| parse::number_in(v, 1, max).map(|n| n as usize));
                let introspection = r
                    .parse_opt("GRAPHQL_INTROSPECTION", parse::boolean)?
                    .unwrap_or(app_env == AppEnv::Development);
                GraphqlLimits {
                    max_depth: n("GRAPHQL_MAX_DEPTH", 1000)?,
                    max_complexity: n("GRAPHQL_MAX_COMPLEXITY", 1_000_000)?,
                    max_aliases: n("GRAPHQL_MAX_ALIASES", 10_000)?,
                    max_root_fields: n("GRAPHQL_MAX_ROOT_FIELDS", 10_000)?,
                    max_batch: n("GRAPHQL_MAX_BATCH", 1000)?,
                    max_nesting: n("GRAPHQL_MAX_NESTING", 256)?,
                    max_tokens: n("GRAPHQL_MAX_TOKENS", 50_000)?,
                    max_directives: n("GRAPHQL_MAX_DIRECTIVES", 100)?,
                    max_errors: n("GRAPHQL_MAX_ERRORS", 1000)?,
                    max_running_per_client: n("GRAPHQL_MAX_RUNNING_PER_CLIENT", 10_000)?,
                    client_wait: r.parse("GRAPHQL_CLIENT_WAIT", |v| {
                        parse::duration_in(v, Duration::from_millis(10), Duration::from_secs(600))
                    })?,
                    introspection,
                    suggestions: r
                        .parse_opt("GRAPHQL_SUGGESTIONS", parse::boolean)?
                        .unwrap_or(introspection),
                }
            },
            http: {
                let bytes = |name, min, max| {
                    r.parse(name, |v| parse::number_in(v, min, max).map(|n| n as usize))
                };
                let timeout = |name| {
                    r.parse(name, |v| {
                        parse::duration_in(v, Duration::from_millis(100), Duration::from_secs(3600))
                    })
                };
                HttpLimits {
                    max_body_bytes: bytes("HTTP_MAX_BODY_BYTES", 1024, 256 * 1024 * 1024)?,
                    max_json_bytes: bytes("HTTP_MAX_JSON_BYTES", 1024, 16 * 1024 * 1024)?,
                    header_timeout: timeout("HTTP_HEADER_TIMEOUT")?,
                    body_timeout: timeout("HTTP_BODY_TIMEOUT")?,
                    request_timeout: timeout("HTTP_REQUEST_TIMEOUT")?,
                    idle_timeout: timeout("HTTP_IDLE_TIMEOUT")?,
                    max_connections: bytes("HTTP_MAX_CONNECTIONS", 1, 1_000_000)?,
                    max_connections_per_ip: bytes("HTTP_MAX_CONNECTIONS_PER_IP", 1, 1_000_000)?,
                    rate_per_ip: r
                        .parse("HTTP_RATE_PER_IP", |v| parse::number_in(v, 1, 10_000_000))?,
                    rate_burst: r
                        .parse("HTTP_RATE_BURST", |v| parse::number_in(v, 1, 10_000_000))?,
                }
            },
            // An explicitly empty METRICS_BIND disables the listener.
            metrics_bind: match (r.lookup)("METRICS_BIND") {
                Some(v) if v.trim().is_empty() => None,
                _ => r.parse_opt("METRICS_BIND", parse::socket_addr)?,
            },
            trusted_proxies: r
                .parse_opt("TRUSTED_PROXIES", parse::cidr_list)?
                .unwrap_or_default(),
            login_max_failures: r
                .parse("LOGIN_MAX_FAILURES", |v| parse::number_in(v, 1, 10_000))?,
            login_max_failures_per_ip: r.parse("LOGIN_MAX_FAILURES_PER_IP", |v| {
                parse::number_in(v, 1, 1_000_000)
            })?,
            login_max_failures_per_account: r.parse("LOGIN_MAX_FAILURES_PER_ACCOUNT", |v| {
                parse::number_in(v, 1, 1_000_000)
            })?,
            login_throttle_window: r.parse("LOGIN_THROTTLE_WINDOW", |v| {
                parse::duration_in(v, Duration::from_secs(1), Duration::from_secs(86_400))
            })?,
            password_hash: HashParams {
                memory_kib: r.parse("PASSWORD_HASH_MEMORY_KIB", |v| {
                    parse::number_in(v, HashParams::OWASP.memory_kib, 4 * 1024 * 1024)
                })?,
                iterations: r.parse("PASSWORD_HASH_ITERATIONS", |v| {
                    parse::number_in(v, HashParams::OWASP.iterations, 100)
                })?,
                parallelism: r
                    .parse("PASSWORD_HASH_PARALLELISM", |v| parse::number_in(v, 1, 64))?,
            },
            login_max_successes: r
                .parse("LOGIN_MAX_SUCCESSES", |v| parse::number_in(v, 1, 1_000_000))?,
            signup_max_per_ip: r
                .parse("SIGNUP_MAX_PER_IP", |v| parse::number_in(v, 1, 1_000_000))?,
            signup_throttle_window: r.parse("SIGNUP_THROTTLE_WINDOW", |v| {
                parse::duration_in(v, Duration::from_secs(1), Duration::from_secs(86_400))
            })?,
            sessions_max_per_account: r.parse("SESSIONS_MAX_PER_ACCOUNT", |v| {
                parse::number_in(v, 1, 10_000)
            })?,
            hash_budget: HashBudget {
                concurrency: r
                    .parse_opt("PASSWORD_HASH_CONCURRENCY", |v| {
                        parse::number_in(v, 1, 1024)
                    })?
                    .map_or_else(
                        || std::thread::available_parallelism().map_or(1, usize::from),
                        |n| n as usize,
                    ),
                queue: r.parse("PASSWORD_HASH_QUEUE", |v| parse::number_in(v, 1, 1_000_000))?
                    as usize,
                queue_per_client: r.parse("PASSWORD_HASH_QUEUE_PER_CLIENT", |v| {
                    parse::number_in(v, 1, 1_000_000)
                })? as usize,
                wait: r.parse("PASSWORD_HASH_WAIT", |v| {
                    parse::duration_in(v, Duration::from_millis(10), Duration::from_secs(60))
                })?,
            },
        };
        if settings.app_env == AppEnv::Production {
            settings.refuse_unsafe_for_production(r.is_set("APP_URL"), r.is_set("PUBLIC_URL"))?;
        }
        Ok(settings)
    }

    fn refuse_unsafe_for_production(
        &self,
        app_url_set: bool,
        public_url_set: bool,
    ) -> Result<(), ConfigError> {
        let unsafe_ = |name, reason: &str| {
            Err(ConfigError::Unsafe {
                name,
                reason: reason.to_owned(),
            })
        };
        if !app_url_set {
            return unsafe_("APP_URL", "must be set to the frontend's public https URL");
        }
        if !self.app_url.starts_with("https://") {
            return unsafe_("APP_URL", "mail links must use https");
        }
        if !public_url_set
            || !self
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
        {
            return unsafe_(
                "PUBLIC_URL",
                "must be set to the service's public https URL",
            );
        }
        if self.cors_origins == CorsOrigins::Any {
            return unsafe_("CORS_ORIGINS", "`*` lets any website call the API");
        }
        if self.signing_key_encryption_key.is_none() {
            return unsafe_(
                "SIGNING_KEY_ENCRYPTION_KEY",
                "must be set (base64 of 32 random bytes) so that the private signing keys are \
                 sealed at rest",
            );
        }
        if self.amqp_url.is_none() && self.smtp_url.is_none() {
            return unsafe_(
                "SMTP_URL",
                "without AMQP_URL the API sends mail itself and needs an SMTP server \
                 (the dev mailbox is for development)",
            );
        }
        if !self.allow_cleartext_transport {
            self.refuse_cleartext_transport()?;
        }
        Ok(())
    }

    /// Mail (with its reset and verification links) and the broker's messages must not
    /// cross a network in cleartext: TLS, or this machine, or an operator's explicit
    /// `ALLOW_CLEARTEXT_TRANSPORT=true`.
    fn refuse_cleartext_transport(&self) -> Result<(), ConfigError> {
        let remote_and_cleartext = |url: &Option<Secret>, cleartext: fn(&url::Url) -> bool| {
            url.as_ref()
                .and_then(|u| url::Url::parse(u.expose()).ok())
                .is_some_and(|u| cleartext(&u) && !parse::is_loopback_host(&u))
        };
        if remote_and_cleartext(&self.smtp_url, parse::smtp_is_cleartext) {
            return Err(ConfigError::Unsafe {
                name: "SMTP_URL",
                reason: "mail would cross the network in cleartext: use smtps:// or \
                         smtp://…?tls=required, or, on a private network you trust, set \
                         ALLOW_CLEARTEXT_TRANSPORT=true"
                    .to_owned(),
            });
        }
        if remote_and_cleartext(&self.amqp_url, parse::amqp_is_cleartext) {
            return Err(ConfigError::Unsafe {
                name: "AMQP_URL",
                reason: "mail would cross the network to RabbitMQ in cleartext: use amqps://, \
                         or, on a private network you trust, set ALLOW_CLEARTEXT_TRANSPORT=true"
                    .to_owned(),
            });
        }
        Ok(())
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

/// The variables table as help text, for `authql --help`.
pub fn help_text() -> String {
    let mut out = String::from("Configuration (environment variables; .env is read if present):\n");
    for v in VARIABLES {
        let default = v.default.unwrap_or("unset");
        out.push_str(&format!(
            "  {:<26} {} [default: {}]\n",
            v.name, v.help, default
        ));
    }
    out
}

#[cfg(test)]
mod tests;
