//! The time authql works with. Production reads the system clock; tests move it forward to
//! reach an expiry without waiting for it.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use chrono::{DateTime, TimeDelta, Utc};

/// The system clock, plus an offset that only an adjustable clock can change.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that starts at the system time and can be moved forward with [`Clock::advance`].
    pub fn adjustable() -> Self {
        Self {
            offset_ms: Some(Arc::new(AtomicI64::new(0))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let offset = self
            .offset_ms
            .as_ref()
            .map_or(0, |o| o.load(Ordering::Relaxed));
        Utc::now() + TimeDelta::milliseconds(offset)
    }

    /// Moves an adjustable clock forward; the system clock ignores it.
    pub fn advance(&self, by: std::time::Duration) {
        if let Some(offset) = &self.offset_ms {
            let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            offset.fetch_add(ms, Ordering::Relaxed);
        }
    }
}
