//! The relay: hands outbox rows on, from every `authql serve` replica.
//!
//! It wakes as soon as a request commits a mail (and every second regardless, for rows
//! written by other replicas or due for a retry), claims a batch of rows under a
//! lease (so replicas never take the same row), and hands each on: with `AMQP_URL`, to
//! RabbitMQ with publisher confirms; without it, straight to the sender. A row is marked
//! published, and its secrets erased, only once the broker (or the SMTP server, or the dev
//! mailbox) has it. While the broker is down rows stay in the outbox and the relay
//! reconnects with growing waits.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use chrono::TimeDelta;
use futures_util::StreamExt as _;
use lapin::{Channel, Connection};
use tokio::sync::{Notify, watch};

use super::{
    broker::{self, Topology},
    outbox,
    sender::{Mailer, NextStep},
};
use crate::{clock::Clock, config::Settings, repo, repo::outbox::Claimed};

/// Rows claimed at once.
const BATCH: u32 = 32;
/// How long a claim holds before another replica may take the row: longer than a batch
/// can take (32 rows, 16 at a time, each SMTP conversation at most 30 s).
const LEASE: TimeDelta = TimeDelta::minutes(5);
/// Look for work this often even when nobody wakes the relay (rows of other replicas,
/// retries coming due).
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Longest wait for the broker to connect, declare or confirm.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);
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

/// What the relay works with.
#[derive(Clone)]
pub struct RelayContext {
    pub db: crate::repo::Db,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub signals: Arc<RelaySignals>,
}

/// The delay before attempt `attempt + 1` after `attempt` failed.
pub fn retry_delay(delays: &[Duration], attempt: u32) -> Duration {
    super::for_attempt(delays, attempt)
        .copied()
        .unwrap_or(Duration::from_secs(60))
}

/// Runs the relay until `stop` turns true.
pub async fn run(ctx: RelayContext, mailer: Option<Mailer>, mut stop: watch::Receiver<bool>) {
    let topology = Topology::from_settings(&ctx.settings);
    let mut broker: Option<(Connection, Channel)> = None;
    let mut backoff = Duration::from_millis(250);
    loop {
        if *stop.borrow() {
            break;
        }
        let handed_on = match (&ctx.settings.broker.amqp_url, &mailer) {
            (Some(url), _) => to_broker(&ctx, url.expose(), &topology, &mut broker).await,
            (None, Some(mailer)) => in_process(&ctx, mailer).await,
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
            () = ctx.signals.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
    if let Some((conn, _)) = broker {
        let _ = conn.close(200, "shutting down".into()).await;
    }
    ctx.signals.broker_up.store(false, Ordering::Relaxed);
}

async fn to_broker(
    ctx: &RelayContext,
    url: &str,
    topology: &Topology,
    broker: &mut Option<(Connection, Channel)>,
) -> anyhow::Result<usize> {
    let connected = broker
        .as_ref()
        .is_some_and(|(conn, ch)| conn.status().connected() && ch.status().connected());
    if !connected {
        ctx.signals.broker_up.store(false, Ordering::Relaxed);
        *broker = None;
        let (conn, ch) = tokio::time::timeout(BROKER_TIMEOUT, broker::connect(url))
            .await
            .map_err(|_| anyhow::anyhow!("connecting to the broker timed out"))??;
        tokio::time::timeout(BROKER_TIMEOUT, topology.declare(&ch))
            .await
            .map_err(|_| anyhow::anyhow!("declaring the mail queues timed out"))??;
        tracing::info!("mail relay connected to the broker");
        *broker = Some((conn, ch));
    }
    ctx.signals.broker_up.store(true, Ordering::Relaxed);
    let Some(ch) = broker.as_ref().map(|(_, ch)| ch.clone()) else {
        return Ok(0);
    };
    let now = ctx.clock.now();
    let rows = repo::outbox::claim(&ctx.db, now, now + LEASE, BATCH).await?;
    let count = rows.len();
    for (i, row) in rows.iter().enumerate() {
        let msg = match outbox::message(row) {
            Ok(msg) => msg,
            Err(reason) => {
                give_up(ctx, row, &reason).await;
                continue;
            }
        };
        // A broker that blocks publishers (a memory or disk alarm) must not hold the relay.
        let published = tokio::time::timeout(BROKER_TIMEOUT, broker::publish(&ch, topology, &msg))
            .await
            .map_err(|_| anyhow::anyhow!("the broker did not confirm within {BROKER_TIMEOUT:?}"))
            .and_then(|r| r.map_err(anyhow::Error::from));
        let marked = match published {
            Ok(()) => repo::outbox::mark_published(&ctx.db, row, ctx.clock.now())
                .await
                .map_err(anyhow::Error::from),
            Err(err) => {
                ctx.signals.broker_up.store(false, Ordering::Relaxed);
                *broker = None;
                Err(err)
            }
        };
        if let Err(err) = marked {
            // Give back what this batch has not handed on, for the next try (or replica).
            if let Err(release) = repo::outbox::release(&ctx.db, &rows[i..]).await {
                tracing::warn!(error = %release, "could not release claimed mail");
            }
            return Err(err);
        }
    }
    Ok(count)
}

async fn in_process(ctx: &RelayContext, mailer: &Mailer) -> anyhow::Result<usize> {
    let now = ctx.clock.now();
    let rows = repo::outbox::claim(&ctx.db, now, now + LEASE, BATCH).await?;
    let count = rows.len();
    futures_util::stream::iter(rows)
        .for_each_concurrent(IN_PROCESS_CONCURRENCY, |row| async move {
            let msg = match outbox::message(&row) {
                Ok(msg) => msg,
                Err(reason) => return give_up(ctx, &row, &reason).await,
            };
            let result = match mailer.deliver(&msg).await {
                Ok(_) => repo::outbox::mark_published(&ctx.db, &row, ctx.clock.now()).await,
                Err(err) => {
                    let this_attempt = u32::try_from(row.attempts).unwrap_or(0) + 1;
                    let attempts =
                        match err.next_step(this_attempt, ctx.settings.broker.max_attempts) {
                            NextStep::Park => return give_up(ctx, &row, &err.to_string()).await,
                            // Busy (another sender holds it) waits without using up an attempt.
                            NextStep::Wait => this_attempt - 1,
                            NextStep::Retry { .. } => this_attempt,
                        };
                    let delay = retry_delay(&ctx.settings.broker.retry_delays, attempts.max(1));
                    tracing::warn!(message_id = %row.id, attempts, error = %err, retry_in = ?delay,
                        "mail not sent; will retry");
                    crate::metrics::mail("failed");
                    let retry_at = ctx.clock.now()
                        + TimeDelta::from_std(delay).unwrap_or(TimeDelta::seconds(60));
                    let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
                    let error = err.to_string();
                    repo::outbox::mark_failed(&ctx.db, &row, attempts, retry_at, None, &error).await
                }
            };
            if let Err(err) = result {
                tracing::warn!(message_id = %row.id, error = %err, "could not mark a mail");
            }
        })
        .await;
    Ok(count)
}

/// Marks a row dead: it will not be tried again. Loud, never silent.
async fn give_up(ctx: &RelayContext, row: &Claimed, reason: &str) {
    let attempts = row.attempts.saturating_add(1);
    tracing::error!(message_id = %row.id, attempts, reason, "mail given up");
    crate::metrics::mail("dead_lettered");
    let now = ctx.clock.now();
    if let Err(err) =
        repo::outbox::mark_failed(&ctx.db, row, attempts, now, Some(now), reason).await
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
