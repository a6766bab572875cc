//! Settings of credentials: tokens and sessions, attempt limits, password hashing.

use std::time::Duration;

use chrono::TimeDelta;
use clap::Args;

use super::{DAY, SealingKey, delta, dur, ms, non_empty, s, sealing_key, within};

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
    /// sensitive changes (changePassword, ...) need a sign-in or reauthenticate within this
    /// long (1m to 1d); older sessions get REAUTHENTICATION_REQUIRED
    #[arg(long, env = "REAUTH_MAX_AGE", default_value = "10m",
          value_parser = delta(s(60), s(DAY)))]
    pub reauth_max_age: TimeDelta,
    /// how long a login that answered MFA_REQUIRED may be completed with verifyMfa (30s to 1h)
    #[arg(long, env = "MFA_TOKEN_TTL", default_value = "5m",
          value_parser = delta(s(30), s(3600)))]
    pub mfa_token_ttl: TimeDelta,
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
