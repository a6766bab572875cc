//! Settings of the API's HTTP surface and of what one GraphQL request may ask for.

use std::{net::SocketAddr, time::Duration};

use clap::Args;

use super::{
    Cidr, CorsOrigins, base_url, boolean, cidr_list, cors_origins, dur, ms, s, socket_addr, within,
};

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
    /// true or false: serve the account pages under /account/ (sign up, sign in, verify an
    /// email, reset a password, security)
    #[arg(long, env = "ACCOUNT_PAGES", default_value = "true", value_parser = boolean,
          action = clap::ArgAction::Set)]
    pub account_pages: bool,
    /// open WebSocket connections (/graphql/ws) on this process; past it 503. Each also
    /// counts under HTTP_MAX_CONNECTIONS (which must be larger) and
    /// HTTP_MAX_CONNECTIONS_PER_IP
    #[arg(long, env = "WS_MAX_CONNECTIONS", default_value = "512",
          value_parser = within::<usize>(1, 1_000_000))]
    pub ws_max_connections: usize,
    /// WebSocket connections one client address may have open on this process (behind
    /// TRUSTED_PROXIES, the address they forward for); past it 429
    #[arg(long, env = "WS_MAX_CONNECTIONS_PER_IP", default_value = "16",
          value_parser = within::<usize>(1, 1_000_000))]
    pub ws_max_connections_per_ip: usize,
    /// signed-in WebSocket connections one user may have open on this process
    #[arg(long, env = "WS_MAX_PER_USER", default_value = "8",
          value_parser = within::<usize>(1, 10_000))]
    pub ws_max_per_user: usize,
    /// largest WebSocket message (or frame) a client may send
    #[arg(long, env = "WS_MAX_MESSAGE_BYTES", default_value = "16384",
          value_parser = within::<usize>(256, 1 << 20))]
    pub ws_max_message_bytes: usize,
    /// a WebSocket from which nothing arrives (not even the pong to authql's pings, sent
    /// every third of this) for this long is closed; it must also send its connection_init
    /// within a third of it
    #[arg(long, env = "WS_IDLE_TIMEOUT", default_value = "60s",
          value_parser = dur(s(3), s(3600)))]
    pub ws_idle_timeout: Duration,
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
    pub(super) introspection_setting: Option<bool>,
    /// true or false: "did you mean" hints in errors (default: as GRAPHQL_INTROSPECTION)
    #[arg(long, env = "GRAPHQL_SUGGESTIONS", value_parser = boolean)]
    pub(super) suggestions_setting: Option<bool>,
    /// Whether the schema can be introspected: GRAPHQL_INTROSPECTION, or its default.
    #[arg(skip)]
    pub introspection: bool,
    /// Whether errors carry "did you mean" hints: GRAPHQL_SUGGESTIONS, or its default.
    #[arg(skip)]
    pub suggestions: bool,
}
