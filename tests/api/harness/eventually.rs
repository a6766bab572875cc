//! Waiting for what happens in the background (mail handed on, a process exiting, a
//! service becoming ready): a check polled until it passes, or a failure that says what was
//! awaited and what was last seen.

use std::{
    fmt::Debug,
    future::Future,
    time::{Duration, Instant},
};

/// How often [`eventually`] polls its check.
pub const EVERY: Duration = Duration::from_millis(50);

/// What one run of a check saw: ready (with a value), or not yet (with what it saw).
pub trait Observation {
    type Value;

    /// The value once ready; otherwise a description of what was seen.
    fn ready(self) -> Result<Self::Value, String>;
}

impl<T> Observation for Option<T> {
    type Value = T;

    fn ready(self) -> Result<T, String> {
        self.ok_or_else(|| "nothing yet".to_owned())
    }
}

impl<T, E: Debug> Observation for Result<T, E> {
    type Value = T;

    fn ready(self) -> Result<T, String> {
        self.map_err(|seen| format!("{seen:?}"))
    }
}

impl Observation for bool {
    type Value = ();

    fn ready(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("false".to_owned())
        }
    }
}

/// Runs `check` every [`EVERY`] until it is ready and returns its value; panics after
/// `timeout`, naming `what` was awaited and the last observation.
pub async fn eventually<O, F, Fut>(what: &str, timeout: Duration, check: F) -> O::Value
where
    O: Observation,
    F: FnMut() -> Fut,
    Fut: Future<Output = O>,
{
    eventually_every(what, timeout, EVERY, check).await
}

/// As [`eventually`], polling every `every` (for a check that is costly to run).
pub async fn eventually_every<O, F, Fut>(
    what: &str,
    timeout: Duration,
    every: Duration,
    check: F,
) -> O::Value
where
    O: Observation,
    F: FnMut() -> Fut,
    Fut: Future<Output = O>,
{
    within(timeout, every, check)
        .await
        .unwrap_or_else(|last| panic!("{what}: not within {timeout:?}; last seen: {last}"))
}

/// Runs `check` every `every` until it is ready or `timeout` has passed; returns the value,
/// or the last observation. The check runs at least once, and once more at the end.
pub async fn within<O, F, Fut>(
    timeout: Duration,
    every: Duration,
    mut check: F,
) -> Result<O::Value, String>
where
    O: Observation,
    F: FnMut() -> Fut,
    Fut: Future<Output = O>,
{
    let started = Instant::now();
    loop {
        let last = match check().await.ready() {
            Ok(value) => return Ok(value),
            Err(last) => last,
        };
        let Some(left) = timeout
            .checked_sub(started.elapsed())
            .filter(|l| !l.is_zero())
        else {
            return Err(last);
        };
        tokio::time::sleep(every.min(left)).await;
    }
}

/// [`eventually_every`] for a check that blocks (a browser driven over a pipe).
pub fn eventually_blocking<O: Observation>(
    what: &str,
    timeout: Duration,
    every: Duration,
    check: impl FnMut() -> O,
) -> O::Value {
    within_blocking(timeout, every, check)
        .unwrap_or_else(|last| panic!("{what}: not within {timeout:?}; last seen: {last}"))
}

/// [`within`] for a check that blocks.
pub fn within_blocking<O: Observation>(
    timeout: Duration,
    every: Duration,
    mut check: impl FnMut() -> O,
) -> Result<O::Value, String> {
    let started = Instant::now();
    loop {
        let last = match check().ready() {
            Ok(value) => return Ok(value),
            Err(last) => last,
        };
        let Some(left) = timeout
            .checked_sub(started.elapsed())
            .filter(|l| !l.is_zero())
        else {
            return Err(last);
        };
        std::thread::sleep(every.min(left));
    }
}
