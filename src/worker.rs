//! `authql worker`: consumes the mail queue and sends each mail over SMTP.
//!
//! Manual acknowledgements with a bounded prefetch: the broker hands the worker at most
//! `MAIL_PREFETCH` messages, which it sends concurrently, and a message is acknowledged only
//! once it was sent, rescheduled into a retry queue, or parked in the dead-letter queue
//! (each of those publishes confirmed first). A worker that dies holding messages has them
//! redelivered to another; a redelivered message already sent is skipped by its id.
//! On SIGTERM it stops taking messages, finishes the ones it holds (or leaves them to be
//! redelivered), and closes the channel.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use futures_util::StreamExt as _;
use lapin::{
    Channel,
    message::Delivery,
    options::{
        BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    },
    types::{AMQPValue, FieldTable},
};
use tokio::task::JoinSet;

use crate::{
    config::Settings,
    db,
    mail::{
        MailMessage,
        broker::{self, ATTEMPT_HEADER, Topology},
        reconnect::{self, Backoff, Outage},
        sender::{DeliveryError, Mailer, NextStep},
    },
};

/// How long to wait before requeueing a message that could not be rescheduled.
const REQUEUE_PAUSE: Duration = Duration::from_secs(2);

/// The message with the `link` variable (it holds a token) replaced, for parking.
fn without_link(data: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<MailMessage>(data) {
        Ok(mut msg) => {
            if let Some(link) = msg.vars.get_mut("link") {
                *link = "(removed when the mail was parked)".to_owned();
            }
            serde_json::to_vec(&msg).unwrap_or_default()
        }
        Err(_) => data.to_vec(),
    }
}

/// How long in-flight sends may run on after a shutdown signal.
pub const WORKER_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Sent (or found already sent): acknowledged.
    Sent,
    /// Failed; waits in a retry queue for its next attempt.
    Retried { next_attempt: u32 },
    /// Failed for good (permanently, or out of attempts): parked in the dead-letter queue.
    Parked { reason: String },
}

fn attempt_of(delivery: &Delivery) -> u32 {
    delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(ATTEMPT_HEADER))
        .and_then(|v| match v {
            AMQPValue::LongUInt(n) => Some(*n),
            AMQPValue::LongLongInt(n) => u32::try_from(*n).ok(),
            AMQPValue::LongInt(n) => u32::try_from(*n).ok(),
            AMQPValue::ShortUInt(n) => Some(u32::from(*n)),
            _ => None,
        })
        .unwrap_or(1)
        .max(1)
}

/// How long a message stays with the worker while the database does not answer, before it
/// goes to a retry queue. Held, it is not redelivered (which would count against the
/// queue's delivery limit) and is sent within a backoff step of the database's return.
const HOLD_AT_MOST: Duration = Duration::from_secs(300);

/// Delivers `msg`, trying again with a capped backoff while the database is out.
async fn deliver_holding(mailer: &Mailer, msg: &MailMessage) -> Result<(), DeliveryError> {
    let held = Instant::now();
    let mut backoff = Backoff::default();
    loop {
        match mailer.deliver(msg).await {
            Err(DeliveryError::Database(_)) if held.elapsed() < HOLD_AT_MOST => {
                tokio::time::sleep(backoff.next_wait()).await;
            }
            other => return other.map(|_| ()),
        }
    }
}

/// Handles one delivery: send, then acknowledge; or reschedule or park, then acknowledge.
/// When even that cannot be published, the message goes back to the queue (nack, requeue).
///
/// # Errors
/// Only broker errors while acknowledging.
pub async fn handle(
    mailer: &Mailer,
    ch: &Channel,
    topology: &Topology,
    delivery: Delivery,
) -> lapin::Result<Outcome> {
    let attempt = attempt_of(&delivery);
    let id = delivery
        .properties
        .message_id()
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    let result = match serde_json::from_slice::<MailMessage>(&delivery.data) {
        Ok(msg) => deliver_holding(mailer, &msg).await,
        Err(e) => Err(DeliveryError::Permanent(format!("unreadable message: {e}"))),
    };
    let mut body = delivery.data.clone();
    let (outcome, target) = match result {
        Ok(()) => (Outcome::Sent, None),
        Err(err) => match err.next_step(attempt, topology.max_attempts) {
            // Held by another sender (or one that died), or the database is still out after
            // `HOLD_AT_MOST`: wait a retry delay, same attempt.
            NextStep::Wait | NextStep::Hold => (
                Outcome::Retried {
                    next_attempt: attempt,
                },
                Some((topology.retry_queue(attempt).to_owned(), attempt, None)),
            ),
            NextStep::Retry { next_attempt } => {
                tracing::warn!(message_id = %id, attempt, error = %err, "mail not sent; will retry");
                crate::metrics::mail("failed");
                (
                    Outcome::Retried { next_attempt },
                    Some((topology.retry_queue(attempt).to_owned(), next_attempt, None)),
                )
            }
            NextStep::Park => {
                let reason = err.to_string();
                // A parked message keeps no working link.
                body = without_link(&delivery.data);
                tracing::error!(message_id = %id, attempt, error = %reason,
                    "mail parked in the dead-letter queue");
                crate::metrics::mail("dead_lettered");
                (
                    Outcome::Parked {
                        reason: reason.clone(),
                    },
                    Some((topology.dead.clone(), attempt, Some(reason))),
                )
            }
        },
    };
    if let Some((queue, next, error)) = target {
        let published =
            broker::publish_raw(ch, "", &queue, &body, &id, next, error.as_deref()).await;
        if let Err(err) = published {
            tracing::warn!(message_id = %id, error = %err, "could not reschedule; requeueing");
            // Not straight back: give the broker a moment before the message returns.
            tokio::time::sleep(REQUEUE_PAUSE).await;
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await?;
            return Ok(outcome);
        }
    }
    delivery.ack(BasicAckOptions::default()).await?;
    Ok(outcome)
}

/// Runs the worker until `shutdown` completes.
///
/// # Errors
/// When the configuration cannot be used or the database is unreachable at start. A broker
/// that is down is waited for, not an error.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let Some(url) = settings.broker.amqp_url.clone() else {
        anyhow::bail!(
            "authql worker needs AMQP_URL (without a broker, `authql serve` sends mail itself)"
        );
    };
    if settings.is_production() && settings.mail.smtp_url.is_none() {
        // Else the mail of every user would go to a folder on this container's disk.
        anyhow::bail!(
            "authql worker needs SMTP_URL with APP_ENV=production (the dev mailbox is for \
             development)"
        );
    }
    let conn = db::connect(&settings).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot connect to the database ({}): {e}",
            db::describe_url(settings.database.url.expose())
        )
    })?;
    db::migrate(&conn).await?;
    let mailer = Mailer::new(&settings, conn.clone())?;
    let topology = Topology::from_settings(&settings);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    serve_metrics(&settings, stop_rx.clone()).await;
    let mut backoff = Backoff::default();
    let mut outage = Outage::default();
    while !*stop_rx.borrow() {
        let connected = || {
            crate::metrics::broker_connected("worker", true);
            if let Some(lasted) = outage.recovered(Instant::now()) {
                reconnect::log_recovery("mail worker", lasted);
            }
            backoff.reset();
        };
        let ended = consume(url.expose(), &mailer, &topology, stop_rx.clone(), connected).await;
        crate::metrics::broker_connected("worker", false);
        match ended {
            Ok(()) => break,
            Err(err) => {
                reconnect::log_failure("mail worker", outage.failed(Instant::now()), &err);
                let mut stop = stop_rx.clone();
                tokio::select! {
                    () = tokio::time::sleep(backoff.next_wait()) => {}
                    _ = stop.wait_for(|s| *s) => {}
                }
            }
        }
    }
    conn.close().await.ok();
    tracing::info!("worker stopped");
    Ok(())
}

/// Serves the worker's own `/metrics` on `METRICS_BIND`. A worker beside an API on one
/// host finds the port taken: it says so and goes on without.
async fn serve_metrics(settings: &Settings, mut stop: tokio::sync::watch::Receiver<bool>) {
    let (Some(addr), Some(handle)) = (settings.metrics_bind, crate::metrics::install()) else {
        return;
    };
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => {
            let router = crate::http::metrics::router(handle, None);
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(stopped)
                    .await;
            });
        }
        Err(err) => tracing::warn!(%addr, error = %err, "worker metrics not served (METRICS_BIND)"),
    }
}

/// One connection's worth of consuming. `Ok` means a clean shutdown.
/// `connected` runs once the consumer is in place.
async fn consume(
    url: &str,
    mailer: &Mailer,
    topology: &Topology,
    mut stop: tokio::sync::watch::Receiver<bool>,
    connected: impl FnOnce(),
) -> anyhow::Result<()> {
    let (conn, ch) = broker::connect(url).await?;
    topology.declare(&conn).await?;
    ch.basic_qos(topology.prefetch, BasicQosOptions::default())
        .await?;
    let tag = format!("authql-worker-{}", uuid::Uuid::new_v4().simple());
    let mut consumer = ch
        .basic_consume(
            topology.queue.as_str().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue = %topology.queue, prefetch = topology.prefetch, "worker consuming");
    connected();
    let mut in_flight = JoinSet::new();
    let ended = loop {
        tokio::select! {
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    let (mailer, ch, topology) = (mailer.clone(), ch.clone(), topology.clone());
                    in_flight.spawn(async move {
                        if let Err(err) = handle(&mailer, &ch, &topology, delivery).await {
                            tracing::warn!(error = %err, "could not acknowledge a message");
                        }
                    });
                }
                Some(Err(err)) => {
                    // Let sends in progress finish (their acks fail; the broker redelivers,
                    // and the sent ones are skipped) rather than cut them off mid-SMTP.
                    in_flight.detach_all();
                    break Err(err.into());
                }
                None => {
                    in_flight.detach_all();
                    break Err(anyhow::anyhow!("the broker ended the consumer"));
                }
            },
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            _ = stop.wait_for(|s| *s) => break Ok(()),
        }
    };
    if ended.is_ok() {
        let _ = ch
            .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
            .await;
        let drained = tokio::time::timeout(WORKER_SHUTDOWN_GRACE, async {
            while in_flight.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "in-flight mails did not finish in time; the broker will redeliver them"
            );
        }
        let _ = ch.close(200, "shutting down".into()).await;
        let _ = conn.close(200, "shutting down".into()).await;
    }
    ended
}
