//! Everything the services under test log, as JSON lines (one process-wide capture, so a
//! test looks for its own request ids and secrets in it).

use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::prelude::*;

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut logs) = self.0.lock() {
            logs.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Starts capturing logs (idempotent).
pub fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        // The services' own JSON lines (`LOG_FORMAT=json`).
        let _ = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("info,authql=debug"))
            .with(authql::telemetry::JsonLines::new(Capture(buffer.clone())))
            .try_init();
        buffer
    });
}

/// What the services have logged so far.
pub fn logs() -> String {
    LOGS.get()
        .and_then(|l| {
            l.lock()
                .ok()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
        })
        .unwrap_or_default()
}
