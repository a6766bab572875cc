//! The relay: hands outbox rows on, from every `authql serve` replica.
//!
//! It wakes as soon as a request commits a mail (and every few seconds regardless, for
//! rows written by other replicas or due for a retry), claims a batch of rows under a
//! lease (so replicas never take the same row), and hands each on: with `AMQP_URL`, to
//! RabbitMQ with publisher confirms; without it, straight to the sender. A row is marked
//! published, and its secrets erased, only once the broker (or the SMTP server, or the dev
//! mailbox) has it. While the broker is down rows stay in the outbox and the relay
//! reconnects with growing waits.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use chrono::{TimeDelta, Utc};
use futures_util::StreamExt as _;
use lapin::{Channel, Connection};
use tokio::sync::{Notify, watch};

use super::{
    broker::{self, Topology},
    outbox,
    sender::Mailer,
};
use crate::{repo, state::AppState};

/// Rows claimed at once.
const BATCH: u32 = 64;
/// How long a claim holds before another replica may take the row.
const LEASE: TimeDelta = TimeDelta::seconds(60);
/// Look for work this often even when nobody wakes the relay.
const IDLE_POLL: Duration = Duration::from_secs(5);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Mails sent at once in-process.
const IN_PROCESS_CONCURRENCY: usize = 16;

/// How the rest of the process talks to the relay.
#[derive(Debug, Default)]
pub struct RelaySignals {
    /// Notified after a transaction that wrote mail commits.
    pub wake: Notify,
    /// Whether the relay holds a working broker connection (for `/readyz`).
    pub broker_up: AtomicBool,
}

impl RelaySignals {
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn broker_up(&self) -> bool {
        self.broker_up.load(Ordering::Relaxed)
    }
}

/// The delay before attempt `attempt + 1` after `attempt` failed.
pub fn retry_delay(delays: &[Duration], attempt: u32) -> Duration {
    super::for_attempt(delays, attempt)
        .copied()
        .unwrap_or(Duration::from_secs(60))
}

/// Runs the relay until `stop` turns true.
pub async fn run(state: AppState, mailer: Option<Mailer>, mut stop: watch::Receiver<bool>) {
    let topology = Topology::from_settings(&state.settings);
    let mut broker: Option<(Connection, Channel)> = None;
    let mut backoff = Duration::from_millis(250);
    loop {
        if *stop.borrow() {
            break;
        }
        let handed_on = match (&state.settings.amqp_url, &mailer) {
            (Some(url), _) => to_broker(&state, url.expose(), &topology, &mut broker).await,
            (None, Some(mailer)) => in_process(&state, mailer).await,
            (None, None) => Ok(0),
        };
        let wait = match handed_on {
            Ok(0) => IDLE_POLL,
            Ok(_) => {
                backoff = Duration::from_millis(250);
                continue;
            }
            Err(err) => {
                tracing::warn!(error = %err, retry_in = ?backoff, "mail relay: will retry");
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                wait
            }
        };
        tokio::select! {
            () = state.relay.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
    if let Some((conn, _)) = broker {
        let _ = conn.close(200, "shutting down".into()).await;
    }
    state.relay.broker_up.store(false, Ordering::Relaxed);
}

async fn to_broker(
    state: &AppState,
    url: &str,
    topology: &Topology,
    broker: &mut Option<(Connection, Channel)>,
) -> anyhow::Result<usize> {
    let connected = broker
        .as_ref()
        .is_some_and(|(conn, ch)| conn.status().connected() && ch.status().connected());
    if !connected {
        state.relay.broker_up.store(false, Ordering::Relaxed);
        *broker = None;
        let (conn, ch) = broker::connect(url).await?;
        topology.declare(&ch).await?;
        tracing::info!("mail relay connected to the broker");
        *broker = Some((conn, ch));
    }
    state.relay.broker_up.store(true, Ordering::Relaxed);
    let Some((_, ch)) = broker.as_ref() else {
        return Ok(0);
    };
    let now = state.clock.now();
    let rows = repo::outbox::claim(&state.db, now, now + LEASE, BATCH).await?;
    let count = rows.len();
    for (i, row) in rows.iter().enumerate() {
        let msg = match outbox::message(row) {
            Ok(msg) => msg,
            Err(reason) => {
                give_up(state, row.id, row.attempts, &reason).await;
                continue;
            }
        };
        if let Err(err) = broker::publish(ch, topology, &msg).await {
            let unpublished: Vec<_> = rows[i..].iter().map(|r| r.id).collect();
            repo::outbox::release(&state.db, &unpublished).await?;
            state.relay.broker_up.store(false, Ordering::Relaxed);
            *broker = None;
            return Err(err.into());
        }
        repo::outbox::mark_published(&state.db, row.id, state.clock.now()).await?;
    }
    Ok(count)
}

async fn in_process(state: &AppState, mailer: &Mailer) -> anyhow::Result<usize> {
    let now = state.clock.now();
    let rows = repo::outbox::claim(&state.db, now, now + LEASE, BATCH).await?;
    let count = rows.len();
    futures_util::stream::iter(rows)
        .for_each_concurrent(IN_PROCESS_CONCURRENCY, |row| async move {
            let msg = match outbox::message(&row) {
                Ok(msg) => msg,
                Err(reason) => return give_up(state, row.id, row.attempts, &reason).await,
            };
            match mailer.deliver(&msg).await {
                Ok(_) => {
                    if let Err(err) =
                        repo::outbox::mark_published(&state.db, row.id, state.clock.now()).await
                    {
                        tracing::warn!(error = %err, "could not mark a sent mail");
                    }
                }
                Err(err) => {
                    let attempts = u32::try_from(row.attempts).unwrap_or(0) + 1;
                    if err.is_permanent() || attempts >= state.settings.mail_max_attempts {
                        give_up(state, row.id, row.attempts + 1, &err.to_string()).await;
                    } else {
                        let delay = retry_delay(&state.settings.mail_retry_delays, attempts);
                        tracing::warn!(message_id = %row.id, attempts, error = %err, retry_in = ?delay,
                            "mail not sent; will retry");
                        crate::metrics::mail("failed");
                        let retry_at = state.clock.now()
                            + TimeDelta::from_std(delay).unwrap_or(TimeDelta::seconds(60));
                        let result = repo::outbox::mark_failed(
                            &state.db,
                            row.id,
                            i32::try_from(attempts).unwrap_or(i32::MAX),
                            retry_at,
                            None,
                            &err.to_string(),
                        )
                        .await;
                        if let Err(err) = result {
                            tracing::warn!(error = %err, "could not reschedule a mail");
                        }
                    }
                }
            }
        })
        .await;
    Ok(count)
}

/// Marks a row dead: it will not be tried again. Loud, never silent.
async fn give_up(state: &AppState, id: uuid::Uuid, attempts: i32, reason: &str) {
    tracing::error!(message_id = %id, attempts, reason, "mail given up");
    crate::metrics::mail("dead_lettered");
    let now = Utc::now();
    if let Err(err) =
        repo::outbox::mark_failed(&state.db, id, attempts, now, Some(now), reason).await
    {
        tracing::warn!(error = %err, "could not mark a mail as given up");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_then_repeat_the_last() {
        let d = [Duration::from_secs(10), Duration::from_secs(60)];
        assert_eq!(retry_delay(&d, 1), Duration::from_secs(10));
        assert_eq!(retry_delay(&d, 2), Duration::from_secs(60));
        assert_eq!(retry_delay(&d, 7), Duration::from_secs(60));
    }
}
