//! Throttles: login attempts per account name and per client address, successful logins
//! per account, sign-ups per client address; counted in the database so every replica
//! sees them.
//!
//! An attempt is counted *before* the password is checked, so a burst of concurrent
//! requests (or many `login` fields in one request) cannot slip past the limit; a login
//! that succeeds then clears its account counter and gives back its address attempt.
//!
//! Once a counter is over its limit, this replica remembers it until its window ends
//! ([`Limited`]): a flood of attempts that can only be refused is refused without a
//! database write each, so it cannot take the connection pool (or lock the counter's row)
//! from everyone else.

use std::{collections::HashMap, net::IpAddr, sync::Mutex};

use chrono::{DateTime, TimeDelta, Utc};

use crate::{domain::ClientKey, error::AppError, repo::rate_counters, state::AppState};

/// Counters known to be over their limit, with the end of their window. Bounded: when full
/// of live entries, a new one is simply not remembered (the database still refuses it).
#[derive(Debug, Default)]
pub struct Limited(Mutex<HashMap<String, DateTime<Utc>>>);

/// Most counters remembered at once.
const MAX_REMEMBERED: usize = 65_536;

impl Limited {
    /// Seconds until the window of the first of `keys` known to be limited ends.
    fn retry_after(&self, keys: &[&str], now: DateTime<Utc>) -> Option<u64> {
        let known = self.0.lock().ok()?;
        keys.iter()
            .filter_map(|k| known.get(*k))
            .filter(|until| **until > now)
            .map(|until| {
                u64::try_from((*until - now).num_seconds())
                    .unwrap_or(0)
                    .max(1)
            })
            .max()
    }

    fn remember(&self, key: &str, until: DateTime<Utc>, now: DateTime<Utc>) {
        let Ok(mut known) = self.0.lock() else { return };
        if known.len() >= MAX_REMEMBERED {
            known.retain(|_, u| *u > now);
        }
        if known.len() < MAX_REMEMBERED {
            known.insert(key.to_owned(), until);
        }
    }
}

/// A refusal served from memory: counted in the metrics, logged only at debug (a flood
/// would otherwise write a log line per attempt).
fn refused_again(kind: &'static str, retry_after_secs: u64) -> AppError {
    tracing::debug!(kind, retry_after_secs, "throttled (known)");
    crate::metrics::throttled(kind);
    AppError::RateLimited { retry_after_secs }
}

/// The counters one login attempt was charged to.
#[derive(Debug)]
pub struct Charged {
    account_key: String,
    ip_key: Option<String>,
}

fn retry_after(window_start: DateTime<Utc>, window: TimeDelta, now: DateTime<Utc>) -> u64 {
    let left = (window_start + window - now).num_seconds();
    u64::try_from(left).unwrap_or(0).max(1)
}

/// Charges one attempt to `account` (the normalised name as typed, known or not) and to
/// the client address.
///
/// # Errors
/// `RATE_LIMITED` with the seconds until the window ends, when either limit is passed.
pub async fn charge_login(
    state: &AppState,
    account: &str,
    ip: Option<IpAddr>,
) -> Result<Charged, AppError> {
    let s = &state.settings;
    let now = state.clock.now();
    let window = TimeDelta::from_std(s.login_throttle_window).map_err(AppError::internal)?;
    let floor = now - window;
    let charged = Charged {
        account_key: format!("account:{account}"),
        ip_key: ip.map(|ip| format!("ip:{}", ClientKey::of(Some(ip)).as_str())),
    };
    // Both counters in one statement: one round trip, one commit.
    let mut keys = vec![charged.account_key.as_str()];
    keys.extend(charged.ip_key.as_deref());
    if let Some(retry_after_secs) = state.throttled.retry_after(&keys, now) {
        return Err(refused_again("login", retry_after_secs));
    }
    let counted = rate_counters::hit_many(&state.db, &keys, now, floor).await?;
    let limit = |key: &str| {
        let max = if key == charged.account_key {
            s.login_max_failures
        } else {
            s.login_max_failures_per_ip
        };
        i32::try_from(max).unwrap_or(i32::MAX)
    };
    let over: Vec<_> = counted
        .iter()
        .filter(|(key, hits, _)| *hits > limit(key))
        .collect();
    for (key, _, started) in &over {
        state.throttled.remember(key, *started + window, now);
    }
    let limited = over
        .iter()
        .map(|(_, _, started)| retry_after(*started, window, now))
        .max();
    match limited {
        Some(retry_after_secs) => {
            tracing::info!(retry_after_secs, "login throttled");
            crate::metrics::throttled("login");
            Err(AppError::RateLimited { retry_after_secs })
        }
        None => Ok(charged),
    }
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
        s.login_max_successes,
        s.login_throttle_window,
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
        s.signup_max_per_ip,
        s.signup_throttle_window,
        "signup",
    )
    .await
}

/// Counts one hit on `key` in a fixed window of `window`.
async fn charge(
    state: &AppState,
    key: &str,
    max: u32,
    window: std::time::Duration,
    kind: &'static str,
) -> Result<(), AppError> {
    let now = state.clock.now();
    if let Some(retry_after_secs) = state.throttled.retry_after(&[key], now) {
        return Err(refused_again(kind, retry_after_secs));
    }
    let window = TimeDelta::from_std(window).map_err(AppError::internal)?;
    let (hits, started) = rate_counters::hit(&state.db, key, now, now - window).await?;
    if hits > i32::try_from(max).unwrap_or(i32::MAX) {
        state.throttled.remember(key, started + window, now);
        let retry_after_secs = retry_after(started, window, now);
        tracing::info!(kind, retry_after_secs, "throttled");
        crate::metrics::throttled(kind);
        return Err(AppError::RateLimited { retry_after_secs });
    }
    Ok(())
}

/// A login succeeded: its account starts over, and its address gets the attempt back. Run
/// it in the transaction that records the login.
///
/// # Errors
/// Only internal ones.
pub async fn settle_success(
    db: &impl sea_orm::ConnectionTrait,
    charged: Charged,
) -> Result<(), AppError> {
    rate_counters::clear(db, &charged.account_key).await?;
    if let Some(ip_key) = &charged.ip_key {
        rate_counters::refund(db, ip_key).await?;
    }
    Ok(())
}
