//! The test harness: a real authql on a random port, against a fresh database of its own.
//!
//! Every API test goes through [`each_backend`] (or [`each_backend_with`]): the test body
//! runs once on a temporary SQLite file with mail sent in-process and, when
//! `TEST_DATABASE_URL` and `TEST_AMQP_URL` are set, once more on a freshly created
//! PostgreSQL database (dropped afterwards) with mail crossing RabbitMQ to a worker. Either
//! way mail arrives at a real SMTP server the harness starts ([`smtp`]). The body talks to
//! the service over HTTP through [`TestApp`]'s helpers ([`client`], [`multipart`]), and
//! reads what it logs ([`logs`]) and mails. What a test has to arrange behind the API's
//! back is in [`internals`].
//!
//! - [`environments`]: the database engines and brokers a test runs on, and its database.
//! - [`app`]: starting the service (and its worker, and replicas) and stopping it.
//! - [`client`]: GraphQL requests, the usual journeys, the constants tests share.
//! - [`multipart`]: multipart bodies and uploads.
//! - [`logs`]: the capture of what the services log.
//! - [`internals`]: the few arrangements the API cannot make.
//! - [`link`]: a TCP relay to PostgreSQL or RabbitMQ that a test cuts (an outage).
//! - [`process`]: `authql serve` as a separate process.
//! - [`smtp`]: the SMTP server mail is delivered to.
//! - [`browser`]: a headless Chromium for the GraphiQL page.

pub mod app;
pub mod browser;
pub mod client;
pub mod environments;
pub mod eventually;
pub mod internals;
pub mod link;
pub mod logs;
pub mod multipart;
pub mod process;
pub mod smtp;

pub use app::{
    TestApp, Worker, each_backend, each_backend_alone, each_backend_with, each_empty_database,
    each_env, each_env_alone,
};
pub use client::{Gql, LOGIN, PASSWORD, Tokens};
pub use environments::{Backend, amqp_url, broker_environments, environments, postgres_through};
pub use logs::logs;
pub use multipart::{Part, multipart_body};
