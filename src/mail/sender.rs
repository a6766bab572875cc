//! Rendering and sending one mail: over SMTP with lettre, or, without `SMTP_URL`, into the
//! dev mailbox folder as an `.eml` file (and the log). The same code runs in `authql
//! worker` and in-process in `authql serve` when there is no broker.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use chrono::Utc;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::PoolConfig,
};

use super::{MailMessage, templates};
use crate::{
    config::Settings,
    repo::{self, mail_sent::Reservation},
};

/// Where mail goes.
#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Mailbox(PathBuf),
}

/// Why a mail was not sent. Transient failures are retried; permanent ones are parked.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("temporary failure: {0}")]
    Transient(String),
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// Another sender holds this message right now (or died holding it): try again later,
    /// without counting an attempt.
    #[error("another sender holds this message")]
    Busy,
    /// The database did not answer, so nothing was sent: try again as soon as it does,
    /// without counting an attempt.
    #[error("database unavailable: {0}")]
    Database(String),
}

impl DeliveryError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent(_))
    }

    /// The one retry-or-park rule, for the relay (in-process) and the worker alike: what to
    /// do with a mail whose attempt `attempt` (1-based) failed with this error.
    pub fn next_step(&self, attempt: u32, max_attempts: u32) -> NextStep {
        match self {
            Self::Busy => NextStep::Wait,
            Self::Database(_) => NextStep::Hold,
            Self::Permanent(_) => NextStep::Park,
            Self::Transient(_) if attempt >= max_attempts => NextStep::Park,
            Self::Transient(_) => NextStep::Retry {
                next_attempt: attempt + 1,
            },
        }
    }
}

/// What follows a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Held by another sender: try again after a retry delay, without using an attempt.
    Wait,
    /// Nothing was tried (the database is out): try again once it answers, without using
    /// an attempt.
    Hold,
    /// Try again after the delay for the failed attempt.
    Retry { next_attempt: u32 },
    /// Failed for good (permanently, or out of attempts): park it.
    Park,
}

/// What delivering a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Sent,
    /// This message id was sent before (a redelivery): nothing was sent again.
    AlreadySent,
}

/// Renders and sends mail, once per message id.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    /// A reservation older than this belongs to a sender that died.
    stale_after: Duration,
    from: Mailbox,
    common: BTreeMap<String, String>,
    db: repo::Db,
}

impl Mailer {
    /// # Errors
    /// When `SMTP_URL` or `MAIL_FROM` cannot be used.
    pub fn new(settings: &Settings, db: repo::Db) -> anyhow::Result<Self> {
        let transport = match &settings.mail.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .map_err(|e| anyhow::anyhow!("SMTP_URL cannot be used: {e}"))?
                    .timeout(Some(settings.mail.smtp_timeout))
                    .pool_config(PoolConfig::new().max_size(settings.broker.prefetch.into()))
                    .build();
                Transport::Smtp(transport)
            }
            None => Transport::Mailbox(settings.mail.dir.clone().into()),
        };
        let from: Mailbox = settings
            .mail
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("MAIL_FROM cannot be used: {e}"))?;
        let common = [
            ("product", settings.mail.product_name.clone()),
            ("app_url", settings.app_url_for(settings.http.bind)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Ok(Self {
            transport,
            stale_after: settings.mail.smtp_timeout * 2,
            from,
            common,
            db,
        })
    }

    /// Sends `msg` unless its id was sent before, or is being sent by another sender right
    /// now (then a transient error: it is tried again later).
    ///
    /// # Errors
    /// Transient for failures worth retrying (connection, 4xx), permanent otherwise.
    pub async fn deliver(&self, msg: &MailMessage) -> Result<Delivered, DeliveryError> {
        // Out of reach: wait for the database. Anything else (a statement it refused) is
        // an ordinary failure, retried and in the end parked.
        let transient = |e: repo::Error| {
            if repo::is_unavailable(&e) {
                DeliveryError::Database(e.to_string())
            } else {
                DeliveryError::Transient(format!("database: {e}"))
            }
        };
        let now = Utc::now();
        let stale = now - chrono::TimeDelta::from_std(self.stale_after).unwrap_or_default();
        match repo::mail_sent::reserve(&self.db, msg.id, now, stale)
            .await
            .map_err(transient)?
        {
            Reservation::Taken => {}
            Reservation::AlreadySent => {
                tracing::info!(message_id = %msg.id, "mail already sent; skipping the redelivery");
                return Ok(Delivered::AlreadySent);
            }
            Reservation::Busy => return Err(DeliveryError::Busy),
        }
        let result = self.send(msg).await;
        match &result {
            Ok(()) => {
                crate::metrics::mail("sent");
                if let Err(err) = repo::mail_sent::mark_sent(&self.db, msg.id, Utc::now()).await {
                    tracing::warn!(message_id = %msg.id, error = %err, "could not record a sent mail");
                }
            }
            Err(_) => {
                if let Err(err) = repo::mail_sent::release(&self.db, msg.id).await {
                    tracing::warn!(message_id = %msg.id, error = %err, "could not release a mail");
                }
            }
        }
        result.map(|()| Delivered::Sent)
    }

    /// Renders and sends one message.
    async fn send(&self, msg: &MailMessage) -> Result<(), DeliveryError> {
        let mut vars = self.common.clone();
        vars.extend(msg.vars.clone());
        let rendered = templates::render(msg.kind, &vars)
            .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        let to: Mailbox = msg
            .to
            .parse()
            .map_err(|e| DeliveryError::Permanent(format!("recipient: {e}")))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject.clone())
            .message_id(Some(format!("<{}@authql>", msg.id)))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text.clone(),
                rendered.html,
            ))
            .map_err(|e| DeliveryError::Permanent(format!("message: {e}")))?;

        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(email).await.map_err(|e| {
                    if e.is_permanent() {
                        DeliveryError::Permanent(e.to_string())
                    } else {
                        DeliveryError::Transient(e.to_string())
                    }
                })?;
                tracing::info!(message_id = %msg.id, kind = msg.kind.as_str(), "mail sent");
            }
            Transport::Mailbox(dir) => {
                let path = dir.join(format!(
                    "{}-{}-{}.eml",
                    Utc::now().format("%Y%m%dT%H%M%S"),
                    msg.kind.as_str(),
                    msg.id
                ));
                let write = async {
                    tokio::fs::create_dir_all(dir).await?;
                    tokio::fs::write(&path, email.formatted()).await
                };
                write
                    .await
                    .map_err(|e| DeliveryError::Transient(format!("dev mailbox: {e}")))?;
                // Development only (production refuses the dev mailbox): the link is logged
                // so a developer can follow it without opening the file.
                tracing::info!(
                    to = %msg.to,
                    subject = %rendered.subject,
                    link = msg.vars.get("link").map(String::as_str).unwrap_or("-"),
                    file = %path.display(),
                    "mail written to the dev mailbox"
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod next_step {
    use super::{DeliveryError, NextStep};

    #[test]
    fn transient_failures_retry_until_the_last_attempt_then_park() {
        let busy = DeliveryError::Busy;
        let transient = DeliveryError::Transient("451".into());
        let permanent = DeliveryError::Permanent("550".into());
        assert_eq!(
            transient.next_step(1, 3),
            NextStep::Retry { next_attempt: 2 }
        );
        assert_eq!(
            transient.next_step(2, 3),
            NextStep::Retry { next_attempt: 3 }
        );
        assert_eq!(transient.next_step(3, 3), NextStep::Park);
        assert_eq!(permanent.next_step(1, 3), NextStep::Park);
        // Busy never uses up an attempt, however many there were.
        assert_eq!(busy.next_step(1, 3), NextStep::Wait);
        assert_eq!(busy.next_step(3, 3), NextStep::Wait);
        let database = DeliveryError::Database("connection refused".into());
        assert_eq!(database.next_step(3, 3), NextStep::Hold);
    }
}
