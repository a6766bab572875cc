//! RabbitMQ: the mail topology, connecting, and publishing with confirms.
//!
//! ```text
//! MAIL_EXCHANGE (direct) ──MAIL_QUEUE──▶ MAIL_QUEUE ──worker──▶ SMTP
//!        ▲                                             │ failed, attempts left
//!        └── dead-lettered after the TTL ── MAIL_QUEUE.retry.<delay> ◀┘
//!                                                      │ failed for good, rejected, or
//!                                                      │ over the delivery limit
//!                                                      ▼
//!                                             MAIL_QUEUE.dead (parked, kept)
//! ```
//! Every queue is durable and every message persistent. Each retry delay has its own
//! queue whose TTL sends messages back to the exchange, so a long wait never holds up a
//! short one.

use std::time::Duration;

use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
        QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable, ShortString},
};

use super::MailMessage;
use crate::config::Settings;

/// Header carrying which attempt a message is on (1 for the first).
pub const ATTEMPT_HEADER: &str = "x-authql-attempt";
/// Deliveries of one message from the main queue before the broker dead-letters it instead
/// (quorum queues; each redelivery after a worker died or requeued it counts).
pub const DELIVERY_LIMIT: i32 = 50;
/// Header on a parked message saying why it was parked.
pub const ERROR_HEADER: &str = "x-authql-error";

/// Names and shapes of the mail queues.
#[derive(Debug, Clone)]
pub struct Topology {
    pub exchange: String,
    pub queue: String,
    pub dead: String,
    /// Each delay and its queue, in attempt order.
    pub retries: Vec<(Duration, String)>,
    pub max_attempts: u32,
    pub prefetch: u16,
    /// Quorum queues (replicated, and dead-lettering at least once) or classic ones.
    pub quorum: bool,
}

fn delay_name(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else {
        format!("{}s", ms / 1000)
    }
}

impl Topology {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            exchange: s.broker.exchange.clone(),
            queue: s.broker.queue.clone(),
            dead: format!("{}.dead", s.broker.queue),
            retries: s
                .broker
                .retry_delays
                .iter()
                .map(|d| (*d, format!("{}.retry.{}", s.broker.queue, delay_name(*d))))
                .collect(),
            max_attempts: s.broker.max_attempts,
            prefetch: s.broker.prefetch,
            quorum: s.broker.queue_type == crate::config::QueueType::Quorum,
        }
    }

    /// The queue a message waits in after failing attempt `attempt` (1-based): the
    /// attempt's delay, or the last one when there are more attempts than delays.
    pub fn retry_queue(&self, attempt: u32) -> &str {
        super::for_attempt(&self.retries, attempt).map_or(self.queue.as_str(), |(_, q)| q.as_str())
    }

    /// The main queue's arguments: a message the broker has redelivered
    /// [`DELIVERY_LIMIT`] times (a worker that keeps dying on it) goes to the dead-letter
    /// queue instead of being dropped (RabbitMQ 4 drops after 20 by default) or redelivered
    /// for ever; so does one a consumer rejects without requeueing.
    fn main_queue_arguments(&self, base: FieldTable) -> FieldTable {
        let mut args = base;
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString("".into()),
        );
        args.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(self.dead.as_str().into()),
        );
        if self.quorum {
            // Dead-lettered at most once (the default): at-least-once would start a
            // dead-letter process per main queue, which RabbitMQ 3.10 loses for good when
            // such queues are deleted while it starts. A message only gets here after
            // 50 failed deliveries; the retry queues, which every retried mail crosses,
            // dead-letter at least once.
            args.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongInt(DELIVERY_LIMIT),
            );
        }
        args
    }

    /// Declares the exchange and every queue (idempotent; the relay and the worker both
    /// do it, so either may start first), on channels of its own.
    ///
    /// A main queue declared by an earlier version without the dead-letter arguments is
    /// used as it is, with a warning that says how to add them: the broker refuses to
    /// change a queue's arguments, and deleting it would drop the mail it holds.
    ///
    /// # Errors
    /// When the broker refuses a declaration (e.g. an existing queue with other arguments).
    pub async fn declare(&self, conn: &Connection) -> lapin::Result<()> {
        let durable = QueueDeclareOptions::durable();
        let base = || {
            let mut args = FieldTable::default();
            if self.quorum {
                args.insert(
                    "x-queue-type".into(),
                    AMQPValue::LongString("quorum".into()),
                );
            }
            args
        };
        let ch = conn.create_channel().await?;
        let declared = ch
            .queue_declare(
                self.queue.as_str().into(),
                durable,
                self.main_queue_arguments(base()),
            )
            .await;
        let ch = match declared {
            Ok(_) => ch,
            Err(err) if is_precondition_failed(&err) => {
                tracing::warn!(
                    queue = %self.queue,
                    broker_said = %err,
                    "the mail queue exists with other arguments (an earlier version's: no \
                     dead-letter exchange or delivery limit); using it as it is; \
                     add them with a policy (rabbitmqctl set_policy authql-mail '^{}$' \
                     '{{\"dead-letter-exchange\":\"\",\"dead-letter-routing-key\":\"{}\",\
                     \"delivery-limit\":{DELIVERY_LIMIT}}}' --apply-to queues)",
                    self.queue,
                    self.dead
                );
                let ch = conn.create_channel().await?;
                ch.queue_declare(
                    self.queue.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..durable
                    },
                    FieldTable::default(),
                )
                .await?;
                ch
            }
            Err(err) => return Err(err),
        };
        ch.exchange_declare(
            self.exchange.as_str().into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
        ch.queue_bind(
            self.queue.as_str().into(),
            self.exchange.as_str().into(),
            self.queue.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        for (delay, name) in &self.retries {
            let mut args = base();
            if self.quorum {
                // A message moving from a retry queue back to the main queue is confirmed
                // like a publish, so a broker crash at that moment cannot drop it.
                args.insert(
                    "x-dead-letter-strategy".into(),
                    AMQPValue::LongString("at-least-once".into()),
                );
                args.insert(
                    "x-overflow".into(),
                    AMQPValue::LongString("reject-publish".into()),
                );
            }
            let ttl = u32::try_from(delay.as_millis()).unwrap_or(u32::MAX);
            args.insert("x-message-ttl".into(), AMQPValue::LongUInt(ttl));
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(self.exchange.as_str().into()),
            );
            args.insert(
                "x-dead-letter-routing-key".into(),
                AMQPValue::LongString(self.queue.as_str().into()),
            );
            ch.queue_declare(name.as_str().into(), durable, args)
                .await?;
        }
        ch.queue_declare(self.dead.as_str().into(), durable, base())
            .await?;
        let _ = ch.close(200, "declared".into()).await;
        Ok(())
    }
}

/// Whether the broker refused a declaration because the queue exists with other arguments.
fn is_precondition_failed(err: &lapin::Error) -> bool {
    use lapin::{
        ErrorKind,
        protocol::{AMQPErrorKind, AMQPSoftError},
    };
    matches!(err.kind(), ErrorKind::ProtocolError(e)
        if matches!(e.kind(), AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED)))
}

/// Opens a connection and a channel with publisher confirms.
///
/// # Errors
/// When the broker cannot be reached or refuses the login.
pub async fn connect(url: &str) -> lapin::Result<(Connection, Channel)> {
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok((conn, ch))
}

/// Why a publish did not end in the broker's hands.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker did not confirm the message")]
    Nacked,
    #[error("no queue took the message")]
    Unroutable,
}

/// Message properties: persistent, JSON, with the message id and attempt number.
fn properties(msg_id: &str, attempt: u32, error: Option<&str>) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(ATTEMPT_HEADER.into(), AMQPValue::LongUInt(attempt));
    if let Some(error) = error {
        let error: String = error.chars().take(500).collect();
        headers.insert(
            ERROR_HEADER.into(),
            AMQPValue::LongString(error.as_str().into()),
        );
    }
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(ShortString::from(msg_id))
        .with_headers(headers)
}

/// Publishes raw bytes and waits for the broker to confirm it stored them.
///
/// # Errors
/// When the broker is gone, refuses the message, or has no queue for it.
pub async fn publish_raw(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    msg_id: &str,
    attempt: u32,
    error: Option<&str>,
) -> Result<(), PublishError> {
    let confirm = ch
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            body,
            properties(msg_id, attempt, error),
        )
        .await?
        .await?;
    if !confirm.is_ack() {
        return Err(PublishError::Nacked);
    }
    if confirm.take_message().is_some() {
        return Err(PublishError::Unroutable);
    }
    Ok(())
}

/// Publishes a mail for its first attempt.
///
/// # Errors
/// As [`publish_raw`].
pub async fn publish(
    ch: &Channel,
    topology: &Topology,
    msg: &MailMessage,
) -> Result<(), PublishError> {
    let body = serde_json::to_vec(msg).map_err(|_| PublishError::Nacked)?;
    publish_raw(
        ch,
        &topology.exchange,
        &topology.queue,
        &body,
        &msg.id.to_string(),
        1,
        None,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology(delays: &[u64]) -> Topology {
        Topology {
            exchange: "x".into(),
            queue: "q".into(),
            dead: "q.dead".into(),
            retries: delays
                .iter()
                .map(|ms| {
                    let d = Duration::from_millis(*ms);
                    (d, format!("q.retry.{}", delay_name(d)))
                })
                .collect(),
            max_attempts: 5,
            prefetch: 1,
            quorum: true,
        }
    }

    #[test]
    fn retry_queues_follow_the_attempts_and_the_last_delay_repeats() {
        let t = topology(&[10_000, 60_000, 250]);
        assert_eq!(t.retry_queue(1), "q.retry.10s");
        assert_eq!(t.retry_queue(2), "q.retry.60s");
        assert_eq!(t.retry_queue(3), "q.retry.250ms");
        assert_eq!(t.retry_queue(9), "q.retry.250ms");
    }
}
