//! Whether ingest is healthy: the sequencer's journal state, read by `/health` and `/metrics`.
//!
//! A journal write that fails (a full disk, an IO error) turns ingest `degraded` with the
//! error's text; the sequencer keeps the failed feed batches, answers failed publishes with the
//! error, retries, and turns healthy again by itself at the first write that succeeds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Ingest health, shared by the sequencer (writer) and the read side.
#[derive(Debug, Default)]
pub struct IngestStatus {
    /// The last journal error while degraded; `None` when healthy.
    journal_error: Mutex<Option<String>>,
    /// Journal writes that failed, since start.
    journal_failures: AtomicU64,
    /// Times ingest came back after a failure, since start.
    recoveries: AtomicU64,
}

impl IngestStatus {
    /// Records a failed journal write: ingest is degraded, for `reason`.
    pub fn journal_failed(&self, reason: &str) {
        // Relaxed: a counter read only for reporting.
        self.journal_failures.fetch_add(1, Ordering::Relaxed);
        *self
            .journal_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(reason.to_owned());
    }

    /// Records a journal write that succeeded; returns whether ingest was degraded until now.
    pub fn journal_ok(&self) -> bool {
        let mut error = self
            .journal_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let was = error.take().is_some();
        if was {
            self.recoveries.fetch_add(1, Ordering::Relaxed);
        }
        was
    }

    /// Why ingest is degraded, if it is.
    pub fn degraded(&self) -> Option<String> {
        self.journal_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Failed journal writes since start.
    pub fn journal_failures(&self) -> u64 {
        self.journal_failures.load(Ordering::Relaxed)
    }

    /// Recoveries from a failed journal since start.
    pub fn recoveries(&self) -> u64 {
        self.recoveries.load(Ordering::Relaxed)
    }
}
