//! The re-encoder: uploaded images are decoded and written out again
//! ([`image::reencode`]) on the blocking pool, at most [`AT_ONCE`] at a time, so a few
//! large uploads can take neither the async runtime's threads nor much memory. Uploads
//! wait for a turn in a short queue ([`QUEUE`]) for at most [`WAIT`]; past either they are
//! answered `RATE_LIMITED`, like a password hash that gets no hasher in time.

use std::{sync::Arc, time::Duration};

use tokio::sync::Semaphore;

use crate::{
    domain::image::{self, ImageError, Reencoded},
    error::AppError,
};

/// Images decoded at once. Each may hold [`image::MAX_DECODED_BYTES`] of pixels (twice
/// while turning) and its encoded copy, so two keep the peak near 300 MiB, and on a
/// two-core machine two decodes still leave the hashers and requests their share.
pub const AT_ONCE: usize = 2;
/// Uploads that may wait for a turn, each holding its file (at most 2 MiB).
pub const QUEUE: usize = 8;
/// Longest an upload waits for its turn.
pub const WAIT: Duration = Duration::from_secs(5);

/// Turns for decoding images; cheap to clone.
#[derive(Debug, Clone)]
pub struct Reencoder {
    /// Decodes running.
    running: Arc<Semaphore>,
    /// Uploads running or waiting.
    admitted: Arc<Semaphore>,
    wait: Duration,
}

impl Default for Reencoder {
    fn default() -> Self {
        Self::new(AT_ONCE, QUEUE, WAIT)
    }
}

impl Reencoder {
    /// `at_once` decodes running, `queue` more waiting, each for at most `wait`.
    pub fn new(at_once: usize, queue: usize, wait: Duration) -> Self {
        Self {
            running: Arc::new(Semaphore::new(at_once.max(1))),
            admitted: Arc::new(Semaphore::new(at_once.max(1) + queue)),
            wait,
        }
    }

    /// Re-encodes `bytes` in its turn. The outer result is the turn's; the inner one is
    /// the image's verdict.
    ///
    /// # Errors
    /// `RATE_LIMITED` when the queue is full or no turn comes within the wait; internal
    /// when the work could not run.
    pub async fn reencode(
        &self,
        bytes: Vec<u8>,
    ) -> Result<Result<Reencoded, ImageError>, AppError> {
        let busy = |why: &'static str| {
            tracing::debug!(why, "image decoding refused");
            crate::metrics::throttled("image_decode");
            AppError::RateLimited {
                retry_after_secs: 1,
            }
        };
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy("queue full"))?;
        let turn = tokio::time::timeout(self.wait, self.running.clone().acquire_owned())
            .await
            .map_err(|_| busy("no turn in time"))?
            .map_err(AppError::internal)?;
        // The permits go with the work: an upload whose client has gone keeps its turn
        // until its decode ends, so the bound holds for work that no one awaits.
        tokio::task::spawn_blocking(move || {
            let _held = (admitted, turn);
            image::reencode(&bytes)
        })
        .await
        .map_err(AppError::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = include_bytes!("../../tests/fixtures/avatar.png");

    #[tokio::test]
    async fn uploads_past_the_queue_or_the_wait_are_rate_limited() {
        let reencoder = Reencoder::new(1, 1, Duration::from_millis(200));
        // The one turn is taken.
        let turn = reencoder.running.clone().acquire_owned().await.unwrap();
        // One upload may wait for it; a second finds the queue full at once.
        let waiting = tokio::spawn({
            let r = reencoder.clone();
            async move { r.reencode(PNG.to_vec()).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let full = reencoder.reencode(PNG.to_vec()).await;
        assert!(
            matches!(full, Err(AppError::RateLimited { .. })),
            "{full:?}"
        );
        // The waiting one gets no turn within the wait.
        let late = waiting.await.unwrap();
        assert!(
            matches!(late, Err(AppError::RateLimited { .. })),
            "{late:?}"
        );
        // Once the turn is free, an upload runs.
        drop(turn);
        let done = reencoder.reencode(PNG.to_vec()).await.unwrap().unwrap();
        assert_eq!((done.width, done.height), (16, 12));
    }
}
