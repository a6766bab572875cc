//! Log output: human-readable for development, one JSON object per line for machines.
//!
//! Logs go to stderr, so that commands which print data (`authql schema`,
//! `authql migrate status`) keep stdout for it.

mod json;

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogFormat;

pub use json::JsonLines;

/// Default verbosity when `RUST_LOG` is not set: authql at info, chatty libraries quieter.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Installs the global subscriber. Call once, from `main`.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let registry = tracing_subscriber::registry().with(filter);
    // A second call (e.g. from a test that already installed one) is not an error worth a panic.
    let _ = match format {
        LogFormat::Pretty => registry
            .with(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .try_init(),
        LogFormat::Json => registry.with(JsonLines::new(std::io::stderr)).try_init(),
    };
}
