//! The sequencer's input queue (DESIGN.md §4): a bounded crossbeam queue of [`Input`]s plus a
//! doorbell that wakes the sequencer thread when it is parked.
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

use std::time::Duration;

use crossbeam::channel::{Receiver, SendError, Sender, TryRecvError, TrySendError, bounded};
use crossbeam::sync::{Parker, Unparker};

use crate::sequencer::Input;

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
    use crate::feed::Batch;

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
