//! Coming back from an outage of the broker or the database: a capped, jittered backoff
//! between attempts, and warnings that say when an outage began, that it goes on (at most
//! every [`REMIND_EVERY`]) and when it ended, instead of one line per failed attempt.

use std::time::{Duration, Instant};

/// The wait after the first failure.
const FIRST: Duration = Duration::from_millis(100);
/// The longest wait between attempts: a service that comes back is used within it.
pub const CAP: Duration = Duration::from_secs(1);
/// While an outage lasts, it is logged again this often.
pub const REMIND_EVERY: Duration = Duration::from_secs(30);

/// Waits between attempts: doubling from [`FIRST`] to [`CAP`], each drawn between half and
/// all of its step (so that replicas cut off together do not come back in lockstep). Only
/// [`Backoff::reset`] (a success) starts it over; nothing else cuts it short or resets it.
#[derive(Debug, Clone)]
pub struct Backoff {
    step: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { step: FIRST }
    }
}

impl Backoff {
    /// The wait before the next attempt, given a random `draw` in `0..=u32::MAX`.
    pub fn next_with(&mut self, draw: u32) -> Duration {
        let step = self.step;
        self.step = (step * 2).min(CAP);
        let half = step / 2;
        let extra = half.mul_f64(f64::from(draw) / f64::from(u32::MAX));
        half + extra
    }

    /// The wait before the next attempt.
    pub fn next_wait(&mut self) -> Duration {
        let mut bytes = [0u8; 4];
        // Without randomness the wait is the whole step: still bounded, only not spread.
        let draw = getrandom::fill(&mut bytes).map_or(u32::MAX, |()| u32::from_le_bytes(bytes));
        self.next_with(draw)
    }

    pub fn reset(&mut self) {
        self.step = FIRST;
    }
}

/// What to say about a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The first failure after a success: the outage begins.
    Began,
    /// The outage goes on (said at most every [`REMIND_EVERY`]).
    Continues { lasted: Duration, failures: u64 },
}

/// Whether something is out, since when, and when it was last reported.
#[derive(Debug, Clone, Default)]
pub struct Outage {
    since: Option<Instant>,
    reported: Option<Instant>,
    failures: u64,
}

impl Outage {
    /// An attempt failed at `now`: what to log, if anything.
    pub fn failed(&mut self, now: Instant) -> Option<Report> {
        self.failures += 1;
        let Some(since) = self.since else {
            self.since = Some(now);
            self.reported = Some(now);
            return Some(Report::Began);
        };
        let last = self.reported.unwrap_or(since);
        (now.saturating_duration_since(last) >= REMIND_EVERY).then(|| {
            self.reported = Some(now);
            Report::Continues {
                lasted: now.saturating_duration_since(since),
                failures: self.failures,
            }
        })
    }

    /// An attempt succeeded at `now`: how long the outage lasted, if there was one.
    pub fn recovered(&mut self, now: Instant) -> Option<Duration> {
        let since = self.since.take()?;
        self.reported = None;
        self.failures = 0;
        Some(now.saturating_duration_since(since))
    }

    pub fn is_out(&self) -> bool {
        self.since.is_some()
    }
}

/// Logs a failed attempt as `report` says: a warning when the outage begins, a reminder
/// while it goes on, nothing in between.
pub fn log_failure(what: &'static str, report: Option<Report>, error: &dyn std::fmt::Display) {
    match report {
        Some(Report::Began) => {
            tracing::warn!(%error, "{what}: unavailable; retrying every second at most");
        }
        Some(Report::Continues { lasted, failures }) => {
            tracing::warn!(%error, lasted_s = lasted.as_secs(), failures, "{what}: still unavailable");
        }
        None => tracing::debug!(%error, "{what}: still unavailable"),
    }
}

/// Logs the end of an outage that lasted `lasted`.
pub fn log_recovery(what: &'static str, lasted: Duration) {
    tracing::info!(
        lasted_ms = u64::try_from(lasted.as_millis()).unwrap_or(u64::MAX),
        "{what}: available again"
    );
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn every_wait_is_at_most_the_cap_and_at_least_half_its_step(
            draws in proptest::collection::vec(any::<u32>(), 1..40)
        ) {
            let mut backoff = Backoff::default();
            let mut step = FIRST;
            for draw in draws {
                let wait = backoff.next_with(draw);
                prop_assert!(wait <= CAP, "{wait:?}");
                prop_assert!(wait >= step / 2, "{wait:?} < half of {step:?}");
                step = (step * 2).min(CAP);
            }
        }
    }

    #[test]
    fn the_wait_grows_to_the_cap_and_a_success_starts_it_over() {
        let mut backoff = Backoff::default();
        let waits: Vec<_> = (0..8).map(|_| backoff.next_with(u32::MAX)).collect();
        assert_eq!(waits[0], FIRST);
        assert_eq!(waits[1], FIRST * 2);
        assert_eq!(*waits.last().unwrap(), CAP);
        backoff.reset();
        assert_eq!(backoff.next_with(u32::MAX), FIRST);
        assert_eq!(backoff.next_with(0), FIRST);
    }

    #[test]
    fn an_outage_is_reported_when_it_begins_then_at_most_every_interval_and_when_it_ends() {
        let t0 = Instant::now();
        let mut outage = Outage::default();
        assert_eq!(outage.failed(t0), Some(Report::Began));
        let mut said = 0;
        for ms in (100..=65_000).step_by(100) {
            if outage.failed(t0 + Duration::from_millis(ms)).is_some() {
                said += 1;
            }
        }
        // 650 failures in 65 s: reminded at 30 s and 60 s only.
        assert_eq!(said, 2);
        assert!(outage.is_out());
        let lasted = outage.recovered(t0 + Duration::from_secs(66)).unwrap();
        assert_eq!(lasted, Duration::from_secs(66));
        assert!(!outage.is_out());
        assert_eq!(outage.recovered(t0 + Duration::from_secs(67)), None);
        assert_eq!(
            outage.failed(t0 + Duration::from_secs(70)),
            Some(Report::Began)
        );
    }
}
