//! The sequencer's input (DESIGN.md §4): what feeds and publishers hand it ([`Input`]: a feed's
//! [`Batch`] or a publisher's request), what it answers ([`BatchOutcome`], [`PublishOutcome`]),
//! the per-feed counters it keeps ([`FeedStats`]), and the queue itself: a bounded crossbeam
//! queue plus a doorbell that wakes the sequencer thread when it is parked.
//!
//! Why a doorbell rather than the queue's own blocking receive: crossbeam's blocking `recv`
//! spins and then calls `sched_yield` up to eight times before it sleeps, on every wait. The
//! sequencer waits once per batch, and on a two-core machine each of those yields hands the core
//! to a network worker and back (measured: 4,000 `sched_yield` calls a second with a 1,000
//! ticks/s feed, about 5% of the server's CPU under HTTP load). Here the sequencer drains the
//! queue with `try_recv` and parks on a [`Parker`]; a sender rings the doorbell after each
//! push, which costs one atomic swap when the sequencer is awake and one futex wake when it
//! sleeps.
//!
//! No wake-up is lost: a sender pushes, then unparks; the sequencer sees the queue empty, then
//! parks. If the push lands after the sequencer's last look, the unpark comes after it too, and
//! either finds the sequencer parked (and wakes it) or leaves the token that makes its next
//! `park` return at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crossbeam::channel::{Receiver, SendError, Sender, TryRecvError, TrySendError, bounded};
use crossbeam::sync::{Parker, Unparker};
pub use tickd_engine::BatchOutcome;
use tickd_engine::{Invalid, PublishRequest};
use tickd_protocol::{Scales, Symbol, TickRecord};

/// Index of a feed in the sequencer's feed table.
pub type FeedId = u16;

/// Ticks from one feed. Each tick's `instrument_id` is the feed's local symbol index: an index
/// into the concatenation of every `new_symbols` list this feed has sent so far. `seq` and
/// `ts_recv` are stamped by the sequencer.
#[derive(Debug, Default)]
pub struct Batch {
    /// The sending feed.
    pub feed: FeedId,
    /// Symbols first used in this batch, in local-index order, with the scales that define
    /// them.
    pub new_symbols: Vec<(Symbol, Scales)>,
    /// The ticks, in the feed's order.
    pub ticks: Vec<TickRecord>,
    /// The feed has ended: nothing follows this batch.
    pub end: bool,
}

/// Whose clock a feed's event times follow, for closing candles (DESIGN.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedClock {
    /// Live data: event time tracks the wall clock, so candles close on the wall clock.
    Wall,
    /// Recorded data: candles close on the replay's own event time, and all of them once it
    /// ends, whatever the replay speed.
    Event,
}

/// Why a feed skipped a record, for the summary and `stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// Failed validation (`--skip-invalid`).
    Invalid,
    /// Flagged suspicious by the data vendor.
    Suspicious,
    /// Rejected by the sequencer's validation.
    Rejected,
}

/// Counters of one feed, shared by the feed thread, the sequencer and `stats`.
#[derive(Debug, Default)]
pub struct FeedStats {
    /// Feed name (`synthetic`, `replay`, …).
    pub name: String,
    /// Records the sequencer accepted.
    pub ingested: AtomicU64,
    /// Lines that failed validation and were skipped.
    pub skipped_invalid: AtomicU64,
    /// Rows excluded because the vendor flagged them suspicious.
    pub skipped_suspicious: AtomicU64,
    /// Records the sequencer rejected.
    pub rejected: AtomicU64,
    /// Source rows read (trade and quote rows of the files).
    pub rows: AtomicU64,
    /// Whether the feed has finished and the sequencer has sequenced all of it.
    pub finished: AtomicBool,
    /// Set when the feed stopped on an error; the message says what and where.
    pub error: std::sync::Mutex<Option<String>>,
    /// A live venue feed's connection state; `None` for other feeds.
    pub live: Option<LiveState>,
}

/// The connection state of a live venue feed, for `/health` and `/metrics`.
#[derive(Debug, Default)]
pub struct LiveState {
    /// Whether a connection to the venue is open and subscribed.
    pub connected: AtomicBool,
    /// Frames received.
    pub messages: AtomicU64,
    /// Connections lost (or never made) and retried.
    pub reconnects: AtomicU64,
    /// Connections the venue ended for a rate limit (close code 1008, HTTP 418/429).
    pub rate_limits: AtomicU64,
    /// Venue gaps declared (holes in the venue's trade ids, or reconnect windows).
    pub gaps: AtomicU64,
    /// Venue trade ids declared missing.
    pub missing_trades: AtomicU64,
    /// Trades fetched from the venue's REST API to fill holes.
    pub refilled: AtomicU64,
    /// Trades dropped as duplicates (seen before, e.g. across a reconnect).
    pub duplicates: AtomicU64,
    /// Frames that did not parse (logged and skipped).
    pub bad_frames: AtomicU64,
    /// When the last frame arrived, ns since the Unix epoch (0: none yet).
    pub last_message_ns: AtomicU64,
    /// The last thing that went wrong (a refused subscription, a lost connection), in words.
    pub last_error: std::sync::Mutex<Option<String>>,
}

impl FeedStats {
    /// Fresh counters for feed `name`.
    pub fn new(name: &str) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            ..Self::default()
        })
    }

    /// Fresh counters for live venue feed `name`, with its [`LiveState`].
    pub fn live(name: &str) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            live: Some(LiveState::default()),
            ..Self::default()
        })
    }

    /// Adds one to the counter for `reason`.
    pub fn skip(&self, reason: SkipReason, n: u64) {
        let c = match reason {
            SkipReason::Invalid => &self.skipped_invalid,
            SkipReason::Suspicious => &self.skipped_suspicious,
            SkipReason::Rejected => &self.rejected,
        };
        // Relaxed: independent counters, read only for reporting.
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Total skipped, all reasons.
    pub fn skipped(&self) -> u64 {
        self.skipped_invalid.load(Ordering::Relaxed)
            + self.skipped_suspicious.load(Ordering::Relaxed)
            + self.rejected.load(Ordering::Relaxed)
    }
}

/// What a publisher's batch produced: the sequenced range and each rejected tick's index in
/// the batch with the reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishOutcome {
    /// Seqs and counts.
    pub batch: BatchOutcome,
    /// Rejected ticks: index in the batch, and why.
    pub rejected: Vec<(u32, Invalid)>,
    /// Why the whole batch was refused (nothing of it sequenced): the journal could not be
    /// written, or a limit was hit. Answered to the publisher as an `Error`.
    pub error: Option<(tickd_protocol::ErrorCode, String)>,
}

/// What the sequencer thread takes in.
#[derive(Debug)]
pub enum Input {
    /// A feed's batch.
    Batch(Batch),
    /// A publisher's batch, answered on `reply` once sequenced.
    Publish {
        /// The batch.
        req: PublishRequest,
        /// Who publishes: the token's name, or `anonymous` (for the symbol quota).
        publisher: String,
        /// Where the outcome goes.
        reply: tokio::sync::oneshot::Sender<PublishOutcome>,
    },
    /// Records an origin sequenced (an edge follows it): written verbatim, answered on
    /// `reply` with the last seq once journaled and visible, or why they were refused.
    Sequenced {
        /// New instruments, in id order, before the records that use them.
        definitions: Vec<crate::storage::journal::Definition>,
        /// The records, in seq order.
        records: Vec<tickd_protocol::TickRecord>,
        /// Where the outcome goes.
        reply: tokio::sync::oneshot::Sender<Result<tickd_protocol::Seq, String>>,
    },
}

impl From<Batch> for Input {
    fn from(b: Batch) -> Self {
        Self::Batch(b)
    }
}

/// A bounded input queue of `capacity` inputs: the senders' side and the sequencer's side.
pub fn queue(capacity: usize) -> (InputTx, InputRx) {
    let (tx, rx) = bounded(capacity);
    let parker = Parker::new();
    let doorbell = parker.unparker().clone();
    (InputTx { tx, doorbell }, InputRx { rx, parker })
}

/// The sending side, one clone per feed or publisher connection.
#[derive(Debug, Clone)]
pub struct InputTx {
    tx: Sender<Input>,
    doorbell: Unparker,
}

impl InputTx {
    /// Queues `input`, blocking while the queue is full (back-pressure on the feed).
    ///
    /// # Errors
    ///
    /// [`SendError`] with `input` back if the sequencer has stopped.
    pub fn send(&self, input: Input) -> Result<(), SendError<Input>> {
        self.tx.send(input)?;
        self.doorbell.unpark();
        Ok(())
    }

    /// Inputs waiting in the queue.
    pub fn len(&self) -> usize {
        self.tx.len()
    }

    /// Whether the queue is empty.
    pub fn is_empty(&self) -> bool {
        self.tx.is_empty()
    }

    /// The queue's capacity, inputs.
    pub fn capacity(&self) -> usize {
        self.tx.capacity().unwrap_or(usize::MAX)
    }

    /// Queues `input` if there is room.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] with `input` back if the queue is full,
    /// [`TrySendError::Disconnected`] if the sequencer has stopped.
    pub fn try_send(&self, input: Input) -> Result<(), TrySendError<Input>> {
        self.tx.try_send(input)?;
        self.doorbell.unpark();
        Ok(())
    }
}

/// What [`InputRx::next`] found.
#[derive(Debug)]
pub enum Next {
    /// An input to sequence.
    Input(Input),
    /// Nothing to take after a wait: normally the whole wait passed; rarely the wait ended early
    /// on a doorbell whose input an earlier `next` had already taken. Time for idle work.
    Idle,
    /// Every sender has gone and the queue is empty.
    Closed,
}

/// The sequencer's side.
#[derive(Debug)]
pub struct InputRx {
    rx: Receiver<Input>,
    parker: Parker,
}

impl InputRx {
    /// The next input, parking for up to `idle` while the queue is empty.
    pub fn next(&self, idle: Duration) -> Next {
        match self.rx.try_recv() {
            Ok(input) => return Next::Input(input),
            Err(TryRecvError::Disconnected) => return Next::Closed,
            Err(TryRecvError::Empty) => {}
        }
        // A send after the `try_recv` above leaves a token or wakes us (module docs).
        self.parker.park_timeout(idle);
        match self.rx.try_recv() {
            Ok(input) => Next::Input(input),
            Err(TryRecvError::Disconnected) => Next::Closed,
            // Woken by a token from an input already taken, or the wait ran out.
            Err(TryRecvError::Empty) => Next::Idle,
        }
    }

    /// Whether the queue is empty now.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(feed: u16) -> Input {
        Input::Batch(Batch {
            feed,
            ..Batch::default()
        })
    }

    fn feed_of(next: Next) -> u16 {
        match next {
            Next::Input(Input::Batch(b)) => b.feed,
            other => panic!("expected a batch, got {other:?}"),
        }
    }

    #[test]
    fn inputs_come_out_in_order_then_idle_then_closed() {
        let (tx, rx) = queue(4);
        tx.send(batch(1)).unwrap();
        tx.try_send(batch(2)).unwrap();
        assert_eq!(feed_of(rx.next(Duration::from_millis(1))), 1);
        assert_eq!(feed_of(rx.next(Duration::from_millis(1))), 2);
        assert!(matches!(rx.next(Duration::from_millis(1)), Next::Idle));
        drop(tx);
        assert!(matches!(rx.next(Duration::from_millis(1)), Next::Closed));
    }

    #[test]
    fn a_full_queue_hands_the_input_back() {
        let (tx, _rx) = queue(1);
        tx.try_send(batch(1)).unwrap();
        let Err(TrySendError::Full(Input::Batch(back))) = tx.try_send(batch(2)) else {
            panic!("expected Full");
        };
        assert_eq!(back.feed, 2);
    }

    #[test]
    fn a_parked_sequencer_wakes_for_a_send_from_another_thread() {
        let (tx, rx) = queue(4);
        let sender = std::thread::spawn(move || {
            for feed in 0..100 {
                tx.send(batch(feed)).unwrap();
            }
        });
        // A wait far longer than the test: only the doorbell ends it early.
        let mut got = Vec::new();
        while got.len() < 100 {
            match rx.next(Duration::from_secs(60)) {
                Next::Input(Input::Batch(b)) => got.push(b.feed),
                Next::Idle => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        sender.join().unwrap();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        assert!(matches!(rx.next(Duration::from_secs(60)), Next::Closed));
    }
}
