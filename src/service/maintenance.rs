//! Housekeeping that every replica runs in the background: purge ended sessions, stale
//! throttle counters and keys no token can still need; re-read the signing keys so a
//! rotation by another process is picked up.

use std::time::Duration;

use chrono::TimeDelta;
use tokio::sync::watch;

use crate::{auth::keys::LEEWAY, error::AppError, repo, state::AppState};

/// How often the signing keys are re-read.
const KEY_RELOAD_EVERY: Duration = Duration::from_secs(60);
/// How often ended rows are purged (every this many key reloads).
const PURGE_EVERY_TICKS: u32 = 10;
/// Ended sessions are kept this long (for `revokedReason` in investigations), then purged.
const SESSION_RETENTION: TimeDelta = TimeDelta::days(1);

/// What one purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub throttle_counters: u64,
    pub signing_keys: u64,
}

/// Deletes what has ended: sessions over a day past their end (with their refresh tokens),
/// throttle counters whose window is over, and retired keys past their last token's expiry.
///
/// # Errors
/// Only internal ones.
pub async fn purge(state: &AppState) -> Result<Purged, AppError> {
    let now = state.clock.now();
    let s = &state.settings;
    let window = TimeDelta::from_std(s.login_throttle_window).map_err(AppError::internal)?;
    let key_life = TimeDelta::from_std(s.access_token_ttl + LEEWAY).map_err(AppError::internal)?;
    Ok(Purged {
        sessions: repo::sessions::delete_ended_before(&state.db, now - SESSION_RETENTION).await?,
        throttle_counters: repo::login_throttle::delete_stale(&state.db, now - window).await?,
        signing_keys: repo::signing_keys::delete_retired_before(&state.db, now - key_life).await?,
    })
}

/// Runs housekeeping until `stop` turns true.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut ticks = 0u32;
    let mut interval = tokio::time::interval(KEY_RELOAD_EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.wait_for(|stopping| *stopping) => return,
        }
        ticks = ticks.wrapping_add(1);
        if let Err(err) = state.keys.reload(state.clock.now()).await {
            tracing::warn!(error = ?err, "reloading signing keys failed");
        }
        if ticks.is_multiple_of(PURGE_EVERY_TICKS) {
            match purge(&state).await {
                Ok(p) => tracing::debug!(?p, "purged ended rows"),
                Err(err) => tracing::warn!(error = ?err, "purge failed"),
            }
        }
    }
}
