//! What the relay could not write: a row's new state (published, failed, released) kept
//! while the database is out of reach and written before the relay claims anything else.

use chrono::{DateTime, Utc};

use crate::{repo, repo::outbox::Claimed};

/// A row's new state that could not be written (the database went away in between). It is
/// written before the relay claims anything else, so the row is settled as soon as the
/// database answers again instead of waiting out its lease. At most one batch's worth.
pub(super) enum Settlement {
    /// Handed on: mark it published.
    Published { row: Claimed, at: DateTime<Utc> },
    /// Sending failed: record the attempt (and, with `dead`, give up).
    Failed {
        row: Claimed,
        attempts: i32,
        retry_at: DateTime<Utc>,
        dead: Option<DateTime<Utc>>,
        error: String,
    },
    /// Not handed on: give the rows back to the next claim.
    Release(Vec<Claimed>),
}

impl Settlement {
    async fn write(&self, db: &repo::Db) -> Result<(), repo::Error> {
        match self {
            Self::Published { row, at } => repo::outbox::mark_published(db, row, *at).await,
            Self::Failed {
                row,
                attempts,
                retry_at,
                dead,
                error,
            } => repo::outbox::mark_failed(db, row, *attempts, *retry_at, *dead, error).await,
            Self::Release(rows) => repo::outbox::release(db, rows).await,
        }
    }
}

/// Settlements waiting for the database.
#[derive(Default)]
pub(super) struct Unsettled(std::sync::Mutex<Vec<Settlement>>);

impl Unsettled {
    /// Writes `settlement`, or keeps it for [`Unsettled::settle`] when the database is out
    /// of reach. One the database refuses is dropped (loudly): kept, it would hold up
    /// every claim; dropped, its row comes back when its lease runs out.
    pub(super) async fn write(
        &self,
        db: &repo::Db,
        settlement: Settlement,
    ) -> Result<(), repo::Error> {
        let written = settlement.write(db).await;
        match &written {
            Err(err) if repo::is_unavailable(err) => self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(settlement),
            Err(err) => {
                tracing::error!(error = %err, "a mail's new state was refused; its row waits out its lease");
            }
            Ok(()) => {}
        }
        written
    }

    /// Writes every kept settlement, oldest first; stops at the first that fails.
    pub(super) async fn settle(&self, db: &repo::Db) -> Result<(), repo::Error> {
        let kept = std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let mut kept = kept.into_iter();
        while let Some(settlement) = kept.next() {
            if let Err(err) = settlement.write(db).await {
                let mut rest = self
                    .0
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let newer = std::mem::take(&mut *rest);
                rest.push(settlement);
                rest.extend(kept);
                rest.extend(newer);
                return Err(err);
            }
        }
        Ok(())
    }
}
