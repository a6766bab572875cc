//! The relay: hands outbox rows on, from every `authql serve` replica.
//!
//! It wakes as soon as a request commits a mail (and every second regardless, for rows
//! written by other replicas or due for a retry), claims a batch of rows under a
//! lease (so replicas never take the same row), and hands each on: with `AMQP_URL`, to
//! RabbitMQ with publisher confirms; without it, straight to the sender. A row is marked
//! published, and its secrets erased, only once the broker (or the SMTP server, or the dev
//! mailbox) has it. While the broker or the database is down rows stay in the outbox and
//! the relay tries again with a capped, jittered backoff ([`reconnect`]) that a commit
//! does not cut short; a row whose new state could not be written is settled as soon as
//! the database answers again.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::TimeDelta;
use futures_util::StreamExt as _;
use lapin::{Channel, Connection};
use tokio::sync::{Notify, watch};

use super::{
    broker::{self, Topology},
    outbox,
    reconnect::{self, Backoff, Outage},
    sender::{Mailer, NextStep},
    settlement::{Settlement, Unsettled},
};
use crate::{clock::Clock, config::Settings, repo, repo::outbox::Claimed};

/// Rows claimed at once.
const BATCH: u32 = 32;
/// How long a claim holds before another replica may take the row: longer than a batch
/// can take (in-process, each row's SMTP conversation takes at most 30 s and a batch is
/// sent all at once).
const LEASE: TimeDelta = TimeDelta::minutes(5);
/// Look for work this often even when nobody wakes the relay (rows of other replicas,
/// retries coming due).
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Longest wait for the broker to connect, declare or confirm.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

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

fn set_broker_up(ctx: &RelayContext, up: bool) {
    ctx.signals.broker_up.store(up, Ordering::Relaxed);
    crate::metrics::broker_connected("relay", up);
}

/// Runs the relay until `stop` turns true.
pub async fn run(ctx: RelayContext, mailer: Option<Mailer>, mut stop: watch::Receiver<bool>) {
    let topology = Topology::from_settings(&ctx.settings);
    let mut broker: Option<(Connection, Channel)> = None;
    let unsettled = Unsettled::default();
    let mut backoff = Backoff::default();
    let mut outage = Outage::default();
    loop {
        if *stop.borrow() {
            break;
        }
        let handed_on = async {
            unsettled.settle(&ctx.db).await?;
            match (&ctx.settings.broker.amqp_url, &mailer) {
                (Some(url), _) => {
                    to_broker(&ctx, url.expose(), &topology, &mut broker, &unsettled).await
                }
                (None, Some(mailer)) => in_process(&ctx, mailer, &unsettled).await,
                (None, None) => Ok(0),
            }
        }
        .await;
        match handed_on {
            Ok(count) => {
                if let Some(lasted) = outage.recovered(Instant::now()) {
                    reconnect::log_recovery("mail relay", lasted);
                }
                backoff.reset();
                if count > 0 {
                    continue;
                }
                tokio::select! {
                    () = ctx.signals.wake.notified() => {}
                    () = tokio::time::sleep(IDLE_POLL) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(err) => {
                reconnect::log_failure("mail relay", outage.failed(Instant::now()), &err);
                // A commit does not cut this wait short: during an outage every sign-up
                // would otherwise cost an attempt (and a warning).
                tokio::select! {
                    () = tokio::time::sleep(backoff.next_wait()) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
    if let Some((conn, _)) = broker {
        // Every row handed on was confirmed: a broker slow to say goodbye holds nothing.
        let closing = conn.close(200, "shutting down".into());
        let _ = tokio::time::timeout(Duration::from_secs(1), closing).await;
    }
    set_broker_up(&ctx, false);
}

async fn to_broker(
    ctx: &RelayContext,
    url: &str,
    topology: &Topology,
    broker: &mut Option<(Connection, Channel)>,
    unsettled: &Unsettled,
) -> anyhow::Result<usize> {
    let connected = broker
        .as_ref()
        .is_some_and(|(conn, ch)| conn.status().connected() && ch.status().connected());
    if !connected {
        set_broker_up(ctx, false);
        *broker = None;
        let (conn, ch) = tokio::time::timeout(BROKER_TIMEOUT, broker::connect(url))
            .await
            .map_err(|_| anyhow::anyhow!("connecting to the broker timed out"))??;
        tokio::time::timeout(BROKER_TIMEOUT, topology.declare(&conn))
            .await
            .map_err(|_| anyhow::anyhow!("declaring the mail queues timed out"))??;
        tracing::info!("mail relay connected to the broker");
        *broker = Some((conn, ch));
    }
    set_broker_up(ctx, true);
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
                give_up(ctx, row, &reason, unsettled).await;
                continue;
            }
        };
        // A broker that blocks publishers (a memory or disk alarm) must not hold the relay.
        let published = tokio::time::timeout(BROKER_TIMEOUT, broker::publish(&ch, topology, &msg))
            .await
            .map_err(|_| anyhow::anyhow!("the broker did not confirm within {BROKER_TIMEOUT:?}"))
            .and_then(|r| r.map_err(anyhow::Error::from));
        let (err, not_handed_on) = match published {
            Ok(()) => {
                let at = ctx.clock.now();
                let settlement = Settlement::Published {
                    row: row.clone(),
                    at,
                };
                match unsettled.write(&ctx.db, settlement).await {
                    Ok(()) => continue,
                    // The broker has this one: only the rest go back.
                    Err(err) => (anyhow::Error::from(err), &rows[i + 1..]),
                }
            }
            Err(err) => {
                set_broker_up(ctx, false);
                *broker = None;
                (err, &rows[i..])
            }
        };
        // Give back what this batch has not handed on, for the next try (or replica).
        if !not_handed_on.is_empty() {
            let release = Settlement::Release(not_handed_on.to_vec());
            if let Err(release) = unsettled.write(&ctx.db, release).await {
                tracing::debug!(error = %release, "claimed mail released once the database answers");
            }
        }
        return Err(err);
    }
    Ok(count)
}

async fn in_process(
    ctx: &RelayContext,
    mailer: &Mailer,
    unsettled: &Unsettled,
) -> anyhow::Result<usize> {
    // As many at once as a worker would send (MAIL_PREFETCH), in batches at least as large.
    let concurrency = usize::from(ctx.settings.broker.prefetch);
    let now = ctx.clock.now();
    let limit = BATCH.max(u32::from(ctx.settings.broker.prefetch));
    let rows = repo::outbox::claim(&ctx.db, now, now + LEASE, limit).await?;
    let count = rows.len();
    let held = AtomicBool::new(false);
    let held = &held;
    futures_util::stream::iter(rows)
        .for_each_concurrent(concurrency, |row| async move {
            let msg = match outbox::message(&row) {
                Ok(msg) => msg,
                Err(reason) => return give_up(ctx, &row, &reason, unsettled).await,
            };
            let settlement = match mailer.deliver(&msg).await {
                Ok(_) => Settlement::Published {
                    row,
                    at: ctx.clock.now(),
                },
                Err(err) => {
                    let this_attempt = u32::try_from(row.attempts).unwrap_or(0) + 1;
                    let attempts =
                        match err.next_step(this_attempt, ctx.settings.broker.max_attempts) {
                            NextStep::Park => {
                                return give_up(ctx, &row, &err.to_string(), unsettled).await;
                            }
                            // Nothing was tried (the database is out): the next claim, once
                            // it answers, takes the row again.
                            NextStep::Hold => None,
                            // Busy (another sender holds it) waits without using up an attempt.
                            NextStep::Wait => Some(this_attempt - 1),
                            NextStep::Retry { .. } => Some(this_attempt),
                        };
                    match attempts {
                        None => {
                            held.store(true, Ordering::Relaxed);
                            Settlement::Release(vec![row])
                        }
                        Some(attempts) => {
                            let delay =
                                retry_delay(&ctx.settings.broker.retry_delays, attempts.max(1));
                            tracing::warn!(message_id = %row.id, attempts, error = %err,
                                retry_in = ?delay, "mail not sent; will retry");
                            crate::metrics::mail("failed");
                            let retry_at = ctx.clock.now()
                                + TimeDelta::from_std(delay).unwrap_or(TimeDelta::seconds(60));
                            Settlement::Failed {
                                row,
                                attempts: i32::try_from(attempts).unwrap_or(i32::MAX),
                                retry_at,
                                dead: None,
                                error: err.to_string(),
                            }
                        }
                    }
                }
            };
            if let Err(err) = unsettled.write(&ctx.db, settlement).await {
                tracing::debug!(error = %err, "a mail's state is written once the database answers");
            }
        })
        .await;
    if held.load(Ordering::Relaxed) {
        // Back off before claiming the same rows again.
        anyhow::bail!("the database is out of reach: mail waits");
    }
    Ok(count)
}

/// Marks a row dead: it will not be tried again. Loud, never silent.
async fn give_up(ctx: &RelayContext, row: &Claimed, reason: &str, unsettled: &Unsettled) {
    let attempts = row.attempts.saturating_add(1);
    tracing::error!(message_id = %row.id, attempts, reason, "mail given up");
    crate::metrics::mail("dead_lettered");
    let now = ctx.clock.now();
    let settlement = Settlement::Failed {
        row: row.clone(),
        attempts,
        retry_at: now,
        dead: Some(now),
        error: reason.to_owned(),
    };
    if let Err(err) = unsettled.write(&ctx.db, settlement).await {
        tracing::debug!(error = %err, "a given-up mail is marked once the database answers");
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
