//! A node's cluster state, as `/health` and `/metrics` show it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Role;

/// See the module docs. Shared by the cluster thread (writer) and the HTTP handlers.
#[derive(Debug)]
pub struct ClusterStatus {
    /// Origin or edge.
    pub role: Role,
    /// Origin: the last seq handed to JetStream.
    pub published: AtomicU64,
    /// Origin: the last seq JetStream acknowledged (stored on its replicas).
    pub acked: AtomicU64,
    /// Edge: the last seq written here from the stream.
    pub applied: AtomicU64,
    /// Edge: records the stream holds past `applied` (from the consumer's pending count).
    pub pending_messages: AtomicU64,
    /// Connections made again after a failure.
    pub reconnects: AtomicU64,
    /// Origin: publishes that failed (each one republished).
    pub publish_errors: AtomicU64,
    state: Mutex<(&'static str, Option<String>)>,
    /// Bumped at every change above, for whoever waits on one (tests, without polling).
    changed: tokio::sync::watch::Sender<u64>,
}

impl ClusterStatus {
    /// A node of `role`, not connected yet.
    pub fn new(role: Role) -> Self {
        Self {
            role,
            published: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            pending_messages: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            publish_errors: AtomicU64::new(0),
            state: Mutex::new(("starting", None)),
            changed: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Says that something changed (after storing it).
    pub fn notify(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// A receiver that wakes at each [`ClusterStatus::notify`].
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// `publishing`, `following`, `reconnecting`, `waiting for the lease`, `refused`, …
    pub fn set_state(&self, state: &'static str) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0 = state;
        self.notify();
    }

    /// The last error, kept until the next one.
    pub fn set_error(&self, error: String) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = Some(error);
        self.notify();
    }

    /// The state and the last error.
    pub fn state(&self) -> (&'static str, Option<String>) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `origin` or `edge`.
    pub fn role_name(&self) -> &'static str {
        match self.role {
            Role::Origin => "origin",
            Role::Edge => "edge",
        }
    }

    /// Records behind: origin, head minus acked; edge, what the consumer reports pending.
    pub fn lag(&self, head: u64) -> u64 {
        match self.role {
            Role::Origin => head.saturating_sub(self.acked.load(Ordering::Relaxed)),
            Role::Edge => self.pending_messages.load(Ordering::Relaxed),
        }
    }
}
