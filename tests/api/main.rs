//! API tests: the real service over HTTP, on SQLite and (with TEST_DATABASE_URL) PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod admin;
mod avatars;
mod broker;
mod budgets;
mod cli;
mod connections;
mod crafted;
mod deployment;
mod documents;
mod graphiql;
mod graphql_http;
mod hardening;
mod harness;
mod health;
mod inputs;
mod integrity;
mod login;
mod mail;
mod outages;
mod pipeline;
mod profile;
mod schema;
mod sessions;
mod tokens;
