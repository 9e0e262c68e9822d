//! One seqlock slot: `W` atomic words, the first of which is the slot's sequence stamp.
//!
//! Message `n` (n ≥ 1) lives in a slot whose word 0 reads `2n + 1` while it is being written
//! and `2n + 2` once complete; 0 means never written. So a reader asking for `n` can tell "not
//! yet" from "already overwritten", and stamps never repeat (ABA-free: `u64` lasts ~292 years at
//! 10^9 messages per second). Word 0 of the payload belongs to the slot: the writer's value is
//! ignored and a reader gets `n` there. (tickd's 64-byte tick record starts with its seq for
//! exactly this reason, so a slot is one cache line.)
//!
//! Payload words are atomics used with `Relaxed`, so a reader racing the writer may copy torn
//! data but commits no data race; the stamp check discards torn copies. Algorithm: the
//! fence-based seqlock of Boehm, "Can seqlocks get along with programming language memory
//! models?" (MSPC 2012), §5.

use crate::sync::atomic::{
    AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release, fence,
};
#[cfg(test)]
use crate::sync::spin_hint;

/// What a read of message `n` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotRead {
    /// Message `n` was copied intact.
    Copied,
    /// Message `n` is not complete yet.
    NotYet,
    /// The slot moved past `n`; the stamp seen is attached.
    Overwritten(u64),
}

/// A slot of `W` words (`8 * W` bytes); word 0 is the stamp.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Slot<const W: usize> {
    words: [AtomicU64; W],
}

/// The message number a stamp belongs to (`2n + 1` and `2n + 2` both map to `n`).
pub(crate) const fn stamp_seq(stamp: u64) -> u64 {
    (stamp - 1) / 2
}

impl<const W: usize> Slot<W> {
    /// A never-written slot, for heap-backed tests and loom models.
    #[cfg(any(test, shm_loom))]
    pub(crate) fn new() -> Self {
        Self {
            words: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// The current stamp. Only the single writer may rely on it without synchronisation.
    pub(crate) fn stamp_relaxed(&self) -> u64 {
        // Relaxed: the single writer reads its own last store; readers use `read`/`read_latest`.
        self.words[0].load(Relaxed)
    }

    /// Writes message `n` (≥ 1) from `payload[1..]`. Only the single writer may call this, with
    /// increasing `n` per slot.
    pub(crate) fn write(&self, n: u64, payload: &[u64; W]) {
        // SYNC(S1): mark the slot busy before touching the payload. The Release fence orders
        // this store before the payload stores below; it pairs with the Acquire fence in `read`
        // and `read_latest`, so a reader that copied any of the new payload sees the busy stamp
        // (or later) on its re-check.
        self.words[0].store(2 * n + 1, Relaxed);
        fence(Release);
        for (dst, &src) in self.words[1..].iter().zip(&payload[1..]) {
            // Relaxed: ordered by the fence above and the Release store below.
            dst.store(src, Relaxed);
        }
        // SYNC(S2): publish. Pairs with the Acquire stamp loads in `read` and `read_latest`.
        self.words[0].store(2 * n + 2, Release);
    }

    /// Copies message `n` into `out` (with `out[0] = n`) if the slot holds it intact.
    pub(crate) fn read(&self, n: u64, out: &mut [u64; W]) -> SlotRead {
        let want = 2 * n + 2;
        // SYNC(S2): pairs with the publishing Release store in `write`.
        let before = self.words[0].load(Acquire);
        if before < want {
            return SlotRead::NotYet;
        }
        if before > want {
            return SlotRead::Overwritten(before);
        }
        for (dst, src) in out[1..].iter_mut().zip(&self.words[1..]) {
            // Relaxed: validated by the stamp re-check below.
            *dst = src.load(Relaxed);
        }
        // SYNC(S1): if any word above came from a later write, this fence makes the re-check
        // below see that write's busy stamp (or something newer).
        fence(Acquire);
        let after = self.words[0].load(Relaxed);
        if after == want {
            out[0] = n;
            SlotRead::Copied
        } else {
            SlotRead::Overwritten(after)
        }
    }

    /// One attempt to copy whatever complete message the slot holds into `out` (with `out[0]` =
    /// its `n`). [`Latest::Busy`] when a write was in progress during the attempt: the caller
    /// decides how long to retry (a writer killed mid-write leaves the slot busy for good).
    pub(crate) fn try_read_latest(&self, out: &mut [u64; W]) -> Latest {
        // SYNC(S2): pairs with the publishing Release store in `write`.
        let before = self.words[0].load(Acquire);
        if before == 0 {
            return Latest::Never;
        }
        if !before.is_multiple_of(2) {
            return Latest::Busy(before);
        }
        for (dst, src) in out[1..].iter_mut().zip(&self.words[1..]) {
            // Relaxed: validated by the stamp re-check below.
            *dst = src.load(Relaxed);
        }
        // SYNC(S1): as in `read`.
        fence(Acquire);
        let after = self.words[0].load(Relaxed);
        if after == before {
            let n = stamp_seq(before);
            out[0] = n;
            Latest::Copied(n)
        } else {
            Latest::Busy(after)
        }
    }

    /// [`Slot::try_read_latest`] retried while a write is in progress, without bound: only for
    /// a writer known to be alive (tests and loom models).
    #[cfg(test)]
    pub(crate) fn read_latest(&self, out: &mut [u64; W]) -> Option<u64> {
        loop {
            match self.try_read_latest(out) {
                Latest::Never => return None,
                Latest::Copied(n) => return Some(n),
                Latest::Busy(_) => spin_hint(),
            }
        }
    }
}

/// What one [`Slot::try_read_latest`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Latest {
    /// Never written.
    Never,
    /// Message `n` copied whole.
    Copied(u64),
    /// A write was in progress; the stamp seen.
    Busy(u64),
}

#[cfg(all(test, not(shm_loom)))]
mod tests {
    use super::*;

    #[test]
    fn stamps_tell_not_yet_intact_and_overwritten() {
        let slot = Slot::<4>::new();
        let mut out = [0; 4];
        assert_eq!(slot.read(1, &mut out), SlotRead::NotYet);
        assert_eq!(slot.read_latest(&mut out), None);
        slot.write(1, &[99, 1, 2, 3]);
        assert_eq!(slot.read(1, &mut out), SlotRead::Copied);
        assert_eq!(
            out,
            [1, 1, 2, 3],
            "word 0 carries the message number, not the payload's"
        );
        assert_eq!(slot.read(2, &mut out), SlotRead::NotYet);
        slot.write(5, &[0, 4, 5, 6]);
        assert_eq!(slot.read(1, &mut out), SlotRead::Overwritten(12));
        assert_eq!(stamp_seq(12), 5);
        assert_eq!(stamp_seq(11), 5);
        assert_eq!(slot.read_latest(&mut out), Some(5));
        assert_eq!(out, [5, 4, 5, 6]);
    }
}

#[cfg(all(test, shm_loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    /// A reader racing one overwrite sees the old message whole or reports it overwritten;
    /// never a mix of old and new words.
    #[test]
    fn loom_reader_never_sees_torn_message() {
        loom::model(|| {
            let slot = Arc::new(Slot::<3>::new());
            slot.write(1, &[0, 1, 1]);
            let writer = {
                let slot = Arc::clone(&slot);
                thread::spawn(move || slot.write(2, &[0, 2, 2]))
            };
            let mut out = [0; 3];
            match slot.read(1, &mut out) {
                SlotRead::Copied => assert_eq!(out, [1, 1, 1]),
                SlotRead::Overwritten(stamp) => assert!(stamp >= 5),
                SlotRead::NotYet => panic!("message 1 was published before the race"),
            }
            writer.join().unwrap();
        });
    }

    /// A reader that finds message 2 complete copies exactly its words.
    #[test]
    fn loom_reader_of_new_message_sees_it_whole() {
        loom::model(|| {
            let slot = Arc::new(Slot::<3>::new());
            slot.write(1, &[0, 1, 1]);
            let writer = {
                let slot = Arc::clone(&slot);
                thread::spawn(move || slot.write(2, &[0, 2, 2]))
            };
            let mut out = [0; 3];
            match slot.read(2, &mut out) {
                SlotRead::Copied => assert_eq!(out, [2, 2, 2]),
                SlotRead::NotYet => {}
                SlotRead::Overwritten(_) => panic!("nothing newer than 2 is written"),
            }
            writer.join().unwrap();
        });
    }

    /// `read_latest` returns one whole version: the old or the new, never a mix.
    #[test]
    fn loom_latest_is_never_torn() {
        loom::model(|| {
            let slot = Arc::new(Slot::<3>::new());
            slot.write(1, &[0, 1, 1]);
            let writer = {
                let slot = Arc::clone(&slot);
                thread::spawn(move || slot.write(2, &[0, 2, 2]))
            };
            let mut out = [0; 3];
            let n = slot.read_latest(&mut out).expect("written before the race");
            assert_eq!(out, [n, n, n]);
            writer.join().unwrap();
        });
    }
}
