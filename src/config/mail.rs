//! Settings of mail: the broker that carries it, and how it is written and sent.

use std::time::Duration;

use chrono::TimeDelta;
use clap::Args;

use super::{
    DAY, QueueType, Secret, amqp_name, amqp_url, base_url, delta, dur, mailbox, non_empty,
    queue_type, retry_delays, s, smtp_url, within,
};

/// RabbitMQ, which carries mail from the API to the workers.
#[derive(Debug, Clone, Args)]
pub struct BrokerSettings {
    /// RabbitMQ URL; unset means mail is dispatched in-process
    #[arg(long, env = "AMQP_URL", hide_env_values = true, value_parser = amqp_url)]
    pub amqp_url: Option<Secret>,
    /// RabbitMQ exchange the relay publishes mail to
    #[arg(long, env = "MAIL_EXCHANGE", default_value = "authql.mail", value_parser = amqp_name)]
    pub exchange: String,
    /// RabbitMQ queue of mail to send; retries wait in <queue>.retry.<delay>, mail that keeps
    /// failing is parked in <queue>.dead
    #[arg(id = "mail_queue", long = "mail-queue", env = "MAIL_QUEUE", default_value = "authql.mail",
          value_parser = amqp_name)]
    pub queue: String,
    /// quorum (replicated; retries move back at least once) or classic
    #[arg(long, env = "MAIL_QUEUE_TYPE", default_value = "quorum", value_parser = queue_type)]
    pub queue_type: QueueType,
    /// sending attempts before a mail is parked in the dead-letter queue
    #[arg(long, env = "MAIL_MAX_ATTEMPTS", default_value = "5",
          value_parser = within::<u32>(1, 100))]
    pub max_attempts: u32,
    /// waits before the 2nd, 3rd… attempt (the last repeats)
    #[arg(long, env = "MAIL_RETRY_DELAYS", default_value = "10s,1m,5m,30m",
          value_parser = retry_delays)]
    pub retry_delays: ::std::vec::Vec<Duration>,
    /// mails a worker sends at once (unacknowledged messages it holds, and its most SMTP
    /// connections); it opens only as many as the mail waiting needs
    #[arg(long, env = "MAIL_PREFETCH", default_value = "64", value_parser = within::<u16>(1, 1000))]
    pub prefetch: u16,
}

/// How mail is written and sent, and the links it carries.
#[derive(Debug, Clone, Args)]
pub struct MailSettings {
    /// smtp://host:port (plain), ?tls=required (STARTTLS), smtps:// (TLS), user:pass@ for AUTH;
    /// unset means the dev mailbox
    #[arg(long, env = "SMTP_URL", hide_env_values = true, value_parser = smtp_url)]
    pub smtp_url: Option<Secret>,
    /// longest one SMTP conversation may take before it counts as failed
    #[arg(long, env = "SMTP_TIMEOUT", default_value = "30s", value_parser = dur(s(1), s(600)))]
    pub smtp_timeout: Duration,
    /// sender of every mail
    #[arg(long, env = "MAIL_FROM", default_value = "authql <no-reply@localhost>",
          value_parser = mailbox)]
    pub from: String,
    /// dev mailbox folder: without SMTP_URL, mails are written here as .eml files
    #[arg(long, env = "MAIL_DIR", default_value = "mailbox", value_parser = non_empty)]
    pub dir: String,
    /// the product name mails speak of (and the issuer authenticator apps show for TOTP)
    #[arg(long, env = "PRODUCT_NAME", default_value = "authql", value_parser = non_empty)]
    pub product_name: String,
    /// verification, reset and sign-up-attempt mails per address per MAIL_LIMIT_WINDOW
    #[arg(long, env = "MAIL_LIMIT_PER_ADDRESS", default_value = "3",
          value_parser = within::<u32>(1, 10_000))]
    pub limit_per_address: u32,
    /// the window MAIL_LIMIT_PER_ADDRESS counts in
    #[arg(long, env = "MAIL_LIMIT_WINDOW", default_value = "1h",
          value_parser = delta(s(1), s(7 * DAY)))]
    pub limit_window: TimeDelta,
    /// how long an email verification link works
    #[arg(long, env = "VERIFICATION_TOKEN_TTL", default_value = "24h",
          value_parser = delta(s(60), s(30 * DAY)))]
    pub verification_ttl: TimeDelta,
    /// how long a password reset link works
    #[arg(long, env = "RESET_TOKEN_TTL", default_value = "1h",
          value_parser = delta(s(60), s(7 * DAY)))]
    pub reset_ttl: TimeDelta,
    /// base URL of the frontend that mail links point to (default: authql's own account
    /// pages, {PUBLIC_URL}/account; required in production when ACCOUNT_PAGES=false)
    #[arg(long, env = "APP_URL", value_parser = base_url)]
    pub app_url: Option<String>,
}
