//! Log output: human-readable for development, one JSON object per line for machines.
//!
//! Logs go to stderr, so that commands which print data (`authql schema`,
//! `authql migrate status`) keep stdout for it.

pub mod background;
mod json;

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogFormat;

pub use json::JsonLines;

/// Verbosity when `RUST_LOG` is not set.
const DEFAULT_LEVEL: &str = "info";

/// Chatty libraries, quieter unless `RUST_LOG` names them. lapin logs every failed broker
/// connection as an error of its own (three lines a second during an outage); authql
/// reports the same failure once, rate limited, so lapin is silent by default.
const QUIET: &[(&str, &str)] = &[
    ("sqlx", "warn"),
    ("sea_orm", "warn"),
    ("sea_orm_migration", "warn"),
    ("lapin", "off"),
];

/// The filter for `RUST_LOG` (or its absence): its own directives, and the quiet defaults
/// for the libraries it does not name.
pub fn directives(rust_log: Option<&str>) -> String {
    let given = rust_log.map(str::trim).filter(|s| !s.is_empty());
    let mut out = given.unwrap_or(DEFAULT_LEVEL).to_owned();
    for (target, level) in QUIET {
        let named = given.is_some_and(|g| {
            g.split(',')
                .any(|d| d.trim().split(['=', '[', ':']).next() == Some(*target))
        });
        if !named {
            out.push_str(&format!(",{target}={level}"));
        }
    }
    out
}

/// Installs the global subscriber. Call once, from `main`, and keep the guard until the
/// process ends: JSON lines are written by a thread of their own
/// ([`background`]), and the guard writes out what is still queued.
pub fn init(format: LogFormat) -> Option<background::LogGuard> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = EnvFilter::try_new(directives(rust_log.as_deref()))
        .unwrap_or_else(|_| EnvFilter::new(directives(None)));
    let registry = tracing_subscriber::registry().with(filter);
    // A second call (e.g. from a test that already installed one) is not an error worth a panic.
    match format {
        LogFormat::Pretty => {
            let _ = registry
                .with(
                    fmt::layer()
                        .with_writer(std::io::stderr)
                        .with_ansi(std::io::stderr().is_terminal()),
                )
                .try_init();
            None
        }
        LogFormat::Json => match background::spawn(std::io::stderr()) {
            Ok((lines, guard)) => {
                let _ = registry.with(JsonLines::new(lines)).try_init();
                Some(guard)
            }
            // No thread for it: the request threads write their own lines.
            Err(_) => {
                let _ = registry.with(JsonLines::new(std::io::stderr)).try_init();
                None
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::directives;

    #[test]
    fn libraries_stay_quiet_unless_rust_log_names_them() {
        assert_eq!(
            directives(None),
            "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,lapin=off"
        );
        assert_eq!(
            directives(Some("debug")),
            "debug,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,lapin=off"
        );
        assert_eq!(
            directives(Some("info,lapin=debug")),
            "info,lapin=debug,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"
        );
        // `sea_orm` named does not name `sea_orm_migration`.
        assert_eq!(
            directives(Some("warn,sea_orm=info")),
            "warn,sea_orm=info,sqlx=warn,sea_orm_migration=warn,lapin=off"
        );
    }
}
