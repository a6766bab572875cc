//! Housekeeping that every replica runs in the background: purge ended sessions, stale
//! throttle counters and keys no token can still need; re-read the signing keys so a
//! rotation by another process is picked up.

use std::time::Duration;

use chrono::TimeDelta;
use tokio::sync::watch;

use crate::{
    auth::keys::{RELOAD_INTERVAL, publish_after_retirement},
    error::AppError,
    repo,
    state::AppState,
};

/// How often the signing keys are re-read.
const KEY_RELOAD_EVERY: Duration = RELOAD_INTERVAL;
/// How often ended rows are purged (every this many key reloads).
const PURGE_EVERY_TICKS: u32 = 10;
/// Ended sessions are kept this long (for `revokedReason` in investigations), then purged.
const SESSION_RETENTION: TimeDelta = TimeDelta::days(1);

/// Handed-on outbox rows, and records of sent mail, are kept this long.
const MAIL_RETENTION: TimeDelta = TimeDelta::days(7);

/// What one purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub rate_counters: u64,
    pub signing_keys: u64,
    pub successor_seals: u64,
    pub email_tokens: u64,
    pub outbox_rows: u64,
    pub sent_records: u64,
    pub mfa_challenges: u64,
}

/// Deletes what has ended: sessions a day past their end (with their refresh tokens),
/// rate counters whose window is over, retired keys past their last token's expiry,
/// sealed successors past the reuse grace, expired email tokens and second-factor
/// challenges, and week-old mail records.
///
/// # Errors
/// Only internal ones.
pub async fn purge(state: &AppState) -> Result<Purged, AppError> {
    let now = state.clock.now();
    let s = &state.settings;
    let window = (s.throttle.login_window)
        .max(s.mail.limit_window)
        .max(s.throttle.signup_window);
    let grace = s.tokens.refresh_reuse_grace;
    let key_life = publish_after_retirement(s.tokens.access_ttl);
    Ok(Purged {
        sessions: repo::sessions::delete_ended_before(&state.db, now - SESSION_RETENTION).await?,
        rate_counters: repo::rate_counters::delete_stale(&state.db, now - window).await?,
        signing_keys: repo::signing_keys::delete_retired_before(&state.db, now - key_life).await?,
        successor_seals: repo::refresh_tokens::erase_old_seals(&state.db, now - grace).await?,
        email_tokens: repo::email_tokens::delete_expired(&state.db, now).await?,
        outbox_rows: repo::outbox::delete_finished_before(&state.db, now - MAIL_RETENTION).await?,
        sent_records: repo::mail_sent::delete_before(&state.db, now - MAIL_RETENTION).await?,
        mfa_challenges: repo::mfa_challenges::delete_expired_before(&state.db, now).await?,
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
