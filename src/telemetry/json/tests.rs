//! The lines are tracing-subscriber's JSON lines, byte for byte but the timestamp.

use std::sync::{Arc, Mutex};

use tracing_subscriber::{fmt, prelude::*};

use super::JsonLines;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Buffer {
    /// The lines written, each without its timestamp.
    fn lines(&self) -> Vec<String> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| {
                let (stamp, rest) = line.split_once(r#"","level":"#).unwrap();
                assert!(stamp.starts_with(r#"{"timestamp":"20"#), "{line}");
                rest.to_owned()
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the disk is \"full\"")]
struct DiskFull;

/// Events and spans of every kind of field, nested and recorded later.
fn log_things() {
    tracing::info!(a = 1, b = "x", "hello {}", 5);
    let id = uuid::Uuid::nil();
    let outer = tracing::info_span!(
        "request",
        request_id = %id,
        method = "POST",
        path = %"/graphql",
        operation = tracing::field::Empty,
        user_id = tracing::field::Empty,
    );
    outer.in_scope(|| {
        tracing::Span::current().record("user_id", tracing::field::display(id));
        tracing::warn!(status = 200u16, latency_ms = 1.5, "request done");
        let inner = tracing::info_span!("inner", r#type = "x", n = -3i64, ok = true, f = 0.1);
        inner.in_scope(|| {
            tracing::info!(list = ?vec![1, 2], text = "tab\there \u{1b}[31m é \"q\"", "in inner");
            tracing::Span::current().record("n", 7u64);
            tracing::error!(error = &DiskFull as &dyn std::error::Error, "failed");
            tracing::info!(parent: &outer, "explicit parent");
        });
        outer.record("operation", "me");
        tracing::info!(big = u64::MAX, neg = i64::MIN, "after");
    });
    tracing::info!(parent: &outer, "explicit parent, none entered");
    let empty = tracing::info_span!("empty");
    empty.in_scope(|| tracing::debug!("inside a span without fields"));
}

#[test]
fn lines_are_tracing_subscribers_json_lines() {
    let theirs = Buffer::default();
    let subscriber = tracing_subscriber::registry().with(
        fmt::layer()
            .json()
            .with_writer(theirs.clone())
            .flatten_event(true)
            .with_current_span(true),
    );
    tracing::subscriber::with_default(subscriber, log_things);

    let ours = Buffer::default();
    let subscriber = tracing_subscriber::registry().with(JsonLines::new(ours.clone()));
    tracing::subscriber::with_default(subscriber, log_things);

    let (theirs, ours) = (theirs.lines(), ours.lines());
    assert_eq!(ours.len(), 8);
    for (ours, theirs) in ours.iter().zip(&theirs) {
        assert_eq!(ours, theirs);
    }
    assert_eq!(ours.len(), theirs.len());
}
