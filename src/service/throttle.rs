//! Throttles: failed logins per account (and per account from each client address) and
//! per client address, successful logins per account, sign-ups per client address;
//! counted in the database so every replica sees them.
//!
//! Failures count against the account whatever name was typed (username or email: one
//! bucket), unknown names by name. A client address first runs out of its own attempts on
//! an account (`LOGIN_MAX_FAILURES`); only a guesser spread over many addresses reaches the
//! account-wide limit (`LOGIN_MAX_FAILURES_PER_ACCOUNT`). The owner always has a way back
//! that an attacker cannot block: a completed password reset lifts the account-wide lock
//! (and lets the resetting address past a new one for a window), and the attempt that
//! locks it account-wide mails the owner (once per window) a link that unlocks it for the
//! address that opens it.
//!
//! Only counters of client addresses are remembered in memory ([`rate_counters::Limited`]); counters on
//! accounts are read from the database on every attempt, since an unlock or a reset on any
//! replica lifts them.
//!
//! An attempt is counted *before* the password is checked, so a burst of concurrent
//! requests (or many `login` fields in one request) cannot slip past the limit; a login
//! that succeeds then clears its account counter and gives back its address attempt.
//!
//! Once an address's counter is over its limit, this replica remembers it until its window
//! ends ([`rate_counters::Limited`]): a flood of attempts that can only be refused is refused without a
//! database write each, so it cannot take the connection pool (or lock the counter's row)
//! from everyone else.

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};

use crate::{
    domain::ClientKey,
    error::AppError,
    repo::{self, rate_counters},
    state::AppState,
};

/// A refusal served from memory: counted in the metrics, logged only at debug (a flood
/// would otherwise write a log line per attempt).
fn refused_again(kind: &'static str, retry_after_secs: u64) -> AppError {
    tracing::debug!(kind, retry_after_secs, "throttled (known)");
    crate::metrics::throttled(kind);
    AppError::RateLimited { retry_after_secs }
}

/// Whose failed logins an attempt counts against: an account (one bucket, whichever of its
/// names was typed), or a name that is no account (by that name, so an unknown name is
/// throttled exactly like a real one).
#[derive(Debug, Clone, Copy)]
pub enum LoginSubject<'a> {
    Account(uuid::Uuid),
    UnknownName(&'a str),
}

impl LoginSubject<'_> {
    /// The counter key part: the account id, or a digest of the name (a typed name may be
    /// long; the key column is not).
    fn key(&self) -> String {
        use sha2::{Digest, Sha256};
        match self {
            Self::Account(id) => format!("user:{id}"),
            Self::UnknownName(name) => {
                let digest = Sha256::digest(name.as_bytes());
                let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
                format!("name:{hex}")
            }
        }
    }
}

/// The counters one login attempt was charged to.
#[derive(Debug)]
pub struct Charged {
    /// Failures of this subject from this client address.
    pair_key: String,
    /// Failures of this subject from everywhere.
    wide_key: String,
    ip_key: Option<String>,
    /// Attempts a success gives back: this one, and the password step of a two-step
    /// sign-in it completes.
    attempts: u32,
}

impl Charged {
    /// This attempt completes a two-step sign-in whose password step was charged to the
    /// same counters (same account, same client): a success gives both attempts back.
    #[must_use]
    pub fn with_password_step(mut self) -> Self {
        self.attempts += 1;
        self
    }
}

/// A login attempt refused by the throttle.
#[derive(Debug)]
pub struct LoginRefused {
    pub retry_after_secs: u64,
    /// This attempt locked the account account-wide: its owner is to be told, with a link
    /// that unlocks it for the address that opens it.
    pub locked_account_now: bool,
}

impl From<LoginRefused> for AppError {
    fn from(r: LoginRefused) -> Self {
        AppError::RateLimited {
            retry_after_secs: r.retry_after_secs,
        }
    }
}

fn retry_after(window_start: DateTime<Utc>, window: TimeDelta, now: DateTime<Utc>) -> u64 {
    let left = (window_start + window - now).num_seconds();
    u64::try_from(left).unwrap_or(0).max(1)
}

fn unlock_key(subject: &str, client: &ClientKey) -> String {
    format!("unlock:{subject}@{}", client.as_str())
}

/// Refuses at once, from memory, a client address known to be over its limit: a flood
/// from one address costs no database work.
///
/// # Errors
/// `RATE_LIMITED` while the address is known to be limited.
pub fn precheck_login(state: &AppState, ip: Option<IpAddr>) -> Result<(), AppError> {
    let Some(ip) = ip else { return Ok(()) };
    let key = format!("ip:{}", ClientKey::of(Some(ip)).as_str());
    match state.throttled.retry_after(&[&key], state.clock.now()) {
        Some(retry_after_secs) => Err(refused_again("login", retry_after_secs)),
        None => Ok(()),
    }
}

/// Charges one attempt on `subject` to three counters: the subject from this client
/// address (`LOGIN_MAX_FAILURES`), the subject from anywhere
/// (`LOGIN_MAX_FAILURES_PER_ACCOUNT`), and the client address
/// (`LOGIN_MAX_FAILURES_PER_IP`). An address that opened the account's unlock link is let
/// past the account-wide count (not past its own): an attacker elsewhere cannot keep the
/// owner out.
///
/// The inner result is [`LoginRefused`], with the seconds until the window ends, when a
/// limit is passed.
///
/// # Errors
/// Only internal ones.
pub async fn charge_login(
    state: &AppState,
    subject: LoginSubject<'_>,
    ip: Option<IpAddr>,
) -> Result<Result<Charged, LoginRefused>, AppError> {
    let s = &state.settings;
    let now = state.clock.now();
    let window = s.throttle.login_window;
    let floor = now - window;
    let client = ClientKey::of(ip);
    let subject_key = subject.key();
    let wide_key = format!("login:{subject_key}");
    let pair_key = format!("login:{subject_key}@{}", client.as_str());
    let ip_key = ip.map(|_| format!("ip:{}", client.as_str()));

    // Only the address's own counter is remembered in memory: a counter on an account
    // can be lifted (an unlock link, a reset) on any replica, so it is read from the
    // database every time.
    if let Some(ip_key) = &ip_key
        && let Some(retry_after_secs) = state.throttled.retry_after(&[ip_key], now)
    {
        return Ok(Err(LoginRefused {
            retry_after_secs,
            locked_account_now: false,
        }));
    }
    // All three counters in one statement: one round trip, one commit.
    let mut keys = vec![pair_key.as_str(), wide_key.as_str()];
    keys.extend(ip_key.as_deref());
    let counted =
        repo::idempotent(|| rate_counters::hit_many(&state.db, &keys, now, floor)).await?;
    let limit = |key: &str| {
        let max = if key == pair_key {
            s.throttle.login_max_failures
        } else if key == wide_key {
            s.throttle.login_max_failures_per_account
        } else {
            s.throttle.login_max_failures_per_ip
        };
        i32::try_from(max).unwrap_or(i32::MAX)
    };
    let mut retry = None::<u64>;
    let mut locked_account_now = false;
    for (key, hits, started) in &counted {
        if *hits <= limit(key) {
            continue;
        }
        if *key == wide_key {
            // Locked account-wide: the first attempt past the limit tells the owner; an
            // address the owner unlocked goes on (its own count still applies).
            locked_account_now = *hits == limit(key) + 1;
            let unlocked =
                rate_counters::live(&state.db, &unlock_key(&subject_key, &client), floor)
                    .await?
                    .is_some();
            if unlocked {
                continue;
            }
        } else if Some(key) == ip_key.as_ref() {
            state.throttled.remember(key, *started + window, now);
        }
        let after = retry_after(*started, window, now);
        retry = Some(retry.map_or(after, |r| r.max(after)));
    }
    if let Some(retry_after_secs) = retry {
        tracing::info!(retry_after_secs, locked_account_now, "login throttled");
        crate::metrics::throttled("login");
        return Ok(Err(LoginRefused {
            retry_after_secs,
            locked_account_now: locked_account_now && matches!(subject, LoginSubject::Account(_)),
        }));
    }
    Ok(Ok(Charged {
        pair_key,
        wide_key,
        ip_key,
        attempts: 1,
    }))
}

/// Lets the client address `client` past the account-wide lock of `user` for one login
/// window, and forgets that address's own failures on the account (the owner opened the
/// unlock link from it).
///
/// # Errors
/// Only internal ones.
pub async fn unlock_for(
    db: &impl repo::Conn,
    user: uuid::Uuid,
    client: &ClientKey,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let subject_key = LoginSubject::Account(user).key();
    rate_counters::start(db, &unlock_key(&subject_key, client), now).await?;
    rate_counters::clear(db, &format!("login:{subject_key}@{}", client.as_str())).await?;
    Ok(())
}

/// Lifts the account-wide login lock of `user` and lets `client` (the address that
/// completed a password reset, which proved the owner) past a new one for a window.
/// Other addresses keep their own counts on the account: a reset gives an attacker no
/// fresh budget.
///
/// # Errors
/// Only internal ones.
pub async fn lift_account_lock(
    db: &impl repo::Conn,
    user: uuid::Uuid,
    client: &ClientKey,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let subject_key = LoginSubject::Account(user).key();
    rate_counters::clear(db, &format!("login:{subject_key}")).await?;
    unlock_for(db, user, client, now).await
}

/// Whether one unlock mail may go to `user` now: one per login window.
///
/// # Errors
/// Only internal ones.
pub async fn unlock_mail_allowed(
    db: &impl repo::Conn,
    state: &AppState,
    user: uuid::Uuid,
) -> Result<bool, AppError> {
    let now = state.clock.now();
    let window = state.settings.throttle.login_window;
    let (hits, _) =
        rate_counters::hit(db, &format!("unlock-mail:{user}"), now, now - window).await?;
    Ok(hits <= 1)
}

/// Charges one successful login to the account.
///
/// # Errors
/// `RATE_LIMITED` past `LOGIN_MAX_SUCCESSES` within the login window.
pub async fn charge_success(state: &AppState, user_id: uuid::Uuid) -> Result<(), AppError> {
    let s = &state.settings;
    charge(
        state,
        &format!("login-ok:{user_id}"),
        s.throttle.login_max_successes,
        s.throttle.login_window,
        "login_success",
    )
    .await
}

/// Charges one sign-up to the client address.
///
/// # Errors
/// `RATE_LIMITED` past `SIGNUP_MAX_PER_IP` within `SIGNUP_THROTTLE_WINDOW`.
pub async fn charge_signup(state: &AppState, client: &ClientKey) -> Result<(), AppError> {
    let s = &state.settings;
    charge(
        state,
        &format!("signup:{}", client.as_str()),
        s.throttle.signup_max_per_ip,
        s.throttle.signup_window,
        "signup",
    )
    .await
}

/// Counts one hit on `key` in a fixed window of `window`.
async fn charge(
    state: &AppState,
    key: &str,
    max: u32,
    window: TimeDelta,
    kind: &'static str,
) -> Result<(), AppError> {
    let now = state.clock.now();
    if let Some(retry_after_secs) = state.throttled.retry_after(&[key], now) {
        return Err(refused_again(kind, retry_after_secs));
    }
    let (hits, started) =
        repo::idempotent(|| rate_counters::hit(&state.db, key, now, now - window)).await?;
    if hits > i32::try_from(max).unwrap_or(i32::MAX) {
        state.throttled.remember(key, started + window, now);
        let retry_after_secs = retry_after(started, window, now);
        tracing::info!(kind, retry_after_secs, "throttled");
        crate::metrics::throttled(kind);
        return Err(AppError::RateLimited { retry_after_secs });
    }
    Ok(())
}

/// An attempt that never got to check its password (no hasher was free in time, or the
/// service failed under it) is no failure: every counter it was charged to gets it back.
/// Otherwise a busy hasher would count as wrong guesses, and lock out an address (say, many
/// users behind one proxy) that never guessed wrong.
///
/// # Errors
/// Only internal ones.
pub async fn give_back(db: &impl repo::Conn, charged: Charged) -> Result<(), AppError> {
    rate_counters::refund(db, &charged.pair_key).await?;
    rate_counters::refund(db, &charged.wide_key).await?;
    if let Some(ip_key) = &charged.ip_key {
        rate_counters::refund(db, ip_key).await?;
    }
    Ok(())
}

/// A login succeeded: its account's count from this address starts over, and the address
/// and the account-wide count get this attempt back (it was no failure). The account-wide
/// count is not cleared: a distributed guesser gains nothing from the owner's own sign-in.
///
/// # Errors
/// Only internal ones.
pub async fn settle_success(db: &impl repo::Conn, charged: Charged) -> Result<(), AppError> {
    rate_counters::clear(db, &charged.pair_key).await?;
    for _ in 0..charged.attempts {
        rate_counters::refund(db, &charged.wide_key).await?;
        if let Some(ip_key) = &charged.ip_key {
            rate_counters::refund(db, ip_key).await?;
        }
    }
    Ok(())
}
