//! `LOG_FORMAT=json`: one JSON object per event, exactly as tracing-subscriber's JSON format
//! writes them with a flattened event, the current span and the span list, but with each
//! span's fields kept as values.
//!
//! tracing-subscriber keeps a span's fields as JSON text: every record on the span parses
//! and rewrites that text, and every event inside it parses it again twice (for `span` and
//! `spans`). For a request's span (recorded twice, one line at the end) that was most of
//! what its log line cost. Here the fields are a map, recorded into and written out.

use std::{cell::RefCell, collections::BTreeMap, fmt, io::Write as _};

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id, Record},
};
use tracing_log::NormalizeEvent as _;
use tracing_serde::{AsSerde as _, SerdeMapVisitor};
use tracing_subscriber::{
    Layer,
    fmt::{
        MakeWriter,
        format::Writer,
        time::{FormatTime as _, SystemTime},
    },
    layer::Context,
    registry::{LookupSpan, SpanRef},
};

/// The layer: JSON lines written to what `make_writer` makes, one write per line.
pub struct JsonLines<W> {
    make_writer: W,
}

impl<W> JsonLines<W> {
    pub fn new(make_writer: W) -> Self {
        Self { make_writer }
    }
}

/// A span's fields by name, recorded as tracing-subscriber's JSON fields record them: a
/// later record of a field replaces the earlier value.
#[derive(Debug, Default)]
struct SpanFields(BTreeMap<&'static str, serde_json::Value>);

impl Visit for SpanFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.into());
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.0.insert(field.name(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        // Log metadata of events from the `log` crate is not a field.
        if name.starts_with("log.") {
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.0.insert(name, format!("{value:?}").into());
    }
}

/// A span as an object: its fields, then its name.
struct SpanJson<'a, 'b, S: for<'l> LookupSpan<'l>>(&'b SpanRef<'a, S>);

impl<S: for<'l> LookupSpan<'l>> Serialize for SpanJson<'_, '_, S> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(fields) = self.0.extensions().get::<SpanFields>() {
            for (name, value) in &fields.0 {
                map.serialize_entry(name, value)?;
            }
        }
        map.serialize_entry("name", self.0.metadata().name())?;
        map.end()
    }
}

/// The spans entered on this thread, from the root to the current one.
struct SpanList<'a, 'b, S>(&'b Context<'a, S>);

impl<S: Subscriber + for<'l> LookupSpan<'l>> Serialize for SpanList<'_, '_, S> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut list = serializer.serialize_seq(None)?;
        if let Some(leaf) = self.0.lookup_current() {
            for span in leaf.scope().from_root() {
                list.serialize_element(&SpanJson(&span))?;
            }
        }
        list.end()
    }
}

fn write_event<S>(event: &Event<'_>, ctx: &Context<'_, S>, out: &mut Vec<u8>) -> fmt::Result
where
    S: Subscriber + for<'l> LookupSpan<'l>,
{
    let mut timestamp = String::new();
    SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
    let normalized = event.normalized_metadata();
    let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
    let current = event
        .parent()
        .and_then(|id| ctx.span(id))
        .or_else(|| ctx.lookup_current());
    let mut serializer = serde_json::Serializer::new(&mut *out);
    let written = (|| {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("timestamp", &timestamp)?;
        map.serialize_entry("level", &meta.level().as_serde())?;
        let mut fields = SerdeMapVisitor::new(map);
        event.record(&mut fields);
        let mut map = fields.take_serializer()?;
        map.serialize_entry("target", meta.target())?;
        if let Some(span) = &current {
            map.serialize_entry("span", &SpanJson(span))?;
            map.serialize_entry("spans", &SpanList(ctx))?;
        }
        SerializeMap::end(map)
    })();
    written.map_err(|_| fmt::Error)?;
    out.push(b'\n');
    Ok(())
}

impl<S, W> Layer<S> for JsonLines<W>
where
    S: Subscriber + for<'l> LookupSpan<'l>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if extensions.get_mut::<SpanFields>().is_none() {
            let mut fields = SpanFields::default();
            attrs.record(&mut fields);
            extensions.insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<SpanFields>() {
            Some(fields) => values.record(fields),
            None => {
                let mut fields = SpanFields::default();
                values.record(&mut fields);
                extensions.insert(fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        thread_local! {
            static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        BUF.with(|buf| {
            // An event logged while one is being written (by a field's Debug, say) gets a
            // buffer of its own.
            let mut own = Vec::new();
            let mut borrowed = buf.try_borrow_mut();
            let out = match &mut borrowed {
                Ok(buf) => &mut **buf,
                Err(_) => &mut own,
            };
            out.clear();
            if write_event(event, &ctx, out).is_ok() {
                let _ = self
                    .make_writer
                    .make_writer_for(event.metadata())
                    .write_all(out);
            }
            out.clear();
        });
    }
}

#[cfg(test)]
mod tests;
