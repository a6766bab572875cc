//! Login throttling: attempts per account name and per client address, counted in the
//! database so every replica sees them.
//!
//! An attempt is counted *before* the password is checked, so a burst of concurrent
//! requests (or many `login` fields in one request) cannot slip past the limit; a login
//! that succeeds then clears its account counter and gives back its address attempt.

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};

use crate::{error::AppError, repo::rate_counters, state::AppState};

/// The counters one login attempt was charged to.
#[derive(Debug)]
pub struct Charged {
    account_key: String,
    ip_key: Option<String>,
}

/// The part of an address that identifies one client: an IPv6 host controls a whole /64,
/// so it is counted as one.
fn address_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", std::net::Ipv6Addr::from(prefix))
        }
    }
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
        ip_key: ip.map(|ip| format!("ip:{}", address_key(ip))),
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

#[cfg(test)]
mod tests {
    use super::address_key;

    #[test]
    fn an_ipv6_slash_64_counts_as_one_client() {
        let a = address_key("2001:db8:1:2::1".parse().unwrap());
        let b = address_key("2001:db8:1:2:ffff::9".parse().unwrap());
        let c = address_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            address_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7"
        );
    }
}
