//! Login throttling: attempts per account name and per client address, counted in the
//! database so every replica sees them.
//!
//! An attempt is counted *before* the password is checked, so a burst of concurrent
//! requests (or many `login` fields in one request) cannot slip past the limit; a login
//! that succeeds then clears its account counter and gives back its address attempt.

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};

use crate::{domain::ClientKey, error::AppError, repo::rate_counters, state::AppState};

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
    let counted = rate_counters::hit_many(&state.db, &keys, now, floor).await?;
    let limit = |key: &str| {
        let max = if key == charged.account_key {
            s.login_max_failures
        } else {
            s.login_max_failures_per_ip
        };
        i32::try_from(max).unwrap_or(i32::MAX)
    };
    let limited = counted
        .iter()
        .filter(|(key, hits, _)| *hits > limit(key))
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
    let window = TimeDelta::from_std(window).map_err(AppError::internal)?;
    let (hits, started) = rate_counters::hit(&state.db, key, now, now - window).await?;
    if hits > i32::try_from(max).unwrap_or(i32::MAX) {
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
