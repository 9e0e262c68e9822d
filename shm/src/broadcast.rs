//! The single-writer, many-reader broadcast ring: fixed-size seqlock slots, message `n` in slot
//! `n % capacity`, a published head, and readers that never block the writer.
//!
//! Algorithm: a Disruptor-style broadcast ring (Thompson et al., "Disruptor", LMAX 2011)
//! without consumer gating: the writer never waits, and each slot is a seqlock ([`crate::slot`])
//! so a reader that falls a whole lap behind detects it instead of reading torn data. The head
//! is published once per batch (SYNC(H1)); readers cache it and reload it only when they catch
//! up, as rtrb caches the other side's index.
//!
//! Readers never read past the published head, even though a slot's stamp already shows its
//! record complete: a record is delivered only after the writer has declared it durable (the
//! sequencer journals a batch before publishing it), so a crash can never show a reader a seq
//! that is later reused.

#[cfg(not(shm_loom))]
use std::path::Path;
#[cfg(not(shm_loom))]
use std::sync::Arc;
use std::time::Duration;
#[cfg(not(shm_loom))]
use std::time::Instant;

#[cfg(not(shm_loom))]
use crate::layout::FileKind;
use crate::layout::Header;
#[cfg(not(shm_loom))]
use crate::mapping::{Mapping, Shape};
use crate::slot::{Slot, SlotRead, stamp_seq};
use crate::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use crate::sync::spin_hint;
use crate::wait::{self, WaitStrategy};
#[cfg(not(shm_loom))]
use crate::{ConfigError, CreateError, OpenError};

/// What a read found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// The record with this seq was copied into the output buffer.
    Record(u64),
    /// Nothing new: the cursor is past the published head.
    NotYet,
    /// The writer overwrote the cursor's record. `oldest` is the lowest seq that was still in
    /// the ring when this was detected (it may be overwritten again before you read it; then
    /// you get another `Overrun`). The cursor is left where it was: `seek(oldest)` to go on.
    Overrun {
        /// Lowest seq still readable when the overrun was detected.
        oldest: u64,
    },
}

/// The ring algorithm over a header and slots, wherever they live (a mapping, or the heap in
/// loom models).
pub(crate) struct Ring<'a, const W: usize> {
    header: &'a Header,
    slots: &'a [Slot<W>],
    mask: u64,
}

impl<'a, const W: usize> Ring<'a, W> {
    /// `slots.len()` must be a power of two.
    pub(crate) fn new(header: &'a Header, slots: &'a [Slot<W>]) -> Self {
        debug_assert!(slots.len().is_power_of_two());
        Self {
            header,
            slots,
            mask: slots.len() as u64 - 1,
        }
    }

    fn slot(&self, seq: u64) -> &Slot<W> {
        // `mask < slots.len()`, so the index is in bounds.
        &self.slots[(seq & self.mask) as usize]
    }

    /// Writes record `seq` into its slot; invisible to readers until `publish(seq)`.
    pub(crate) fn write(&self, seq: u64, record: &[u64; W]) {
        self.slot(seq).write(seq, record);
    }

    /// Makes every record up to `head` visible and wakes parked readers.
    pub(crate) fn publish(&self, head: u64) {
        // SYNC(H1): Release orders every slot write before it; pairs with the Acquire load in
        // `head`.
        self.header.head.store(head, Release);
        wait::notify_all(&self.header.notify);
    }

    /// The last published seq.
    pub(crate) fn head(&self) -> u64 {
        // SYNC(H1): pairs with the Release store in `publish`.
        self.header.head.load(Acquire)
    }

    /// Reads record `seq`, which must be `<= head` as loaded by this reader.
    pub(crate) fn read_published(&self, seq: u64, head: u64, out: &mut [u64; W]) -> ReadOutcome {
        match self.slot(seq).read(seq, out) {
            SlotRead::Copied => ReadOutcome::Record(seq),
            // Unreachable for seq <= head: the Acquire head load made the slot's write visible.
            // Kept as a non-panicking answer for a corrupted file.
            SlotRead::NotYet => ReadOutcome::NotYet,
            SlotRead::Overwritten(stamp) => {
                let newest = stamp_seq(stamp).max(head);
                let oldest = (newest + 1)
                    .saturating_sub(self.slots.len() as u64)
                    .max(seq + 1);
                ReadOutcome::Overrun { oldest }
            }
        }
    }

    /// Waits until `head >= seq` or `timeout` passes; returns the head seen.
    pub(crate) fn wait_for(&self, seq: u64, strategy: WaitStrategy, timeout: Duration) -> u64 {
        #[cfg(not(shm_loom))]
        let deadline = Instant::now() + timeout;
        let spins = match strategy {
            WaitStrategy::Spin => None,
            WaitStrategy::SpinThenPark { spins } => Some(spins),
        };
        let mut spun = 0u32;
        loop {
            let head = self.head();
            if head >= seq {
                return head;
            }
            if spins.is_none_or(|limit| spun < limit) {
                spun = spun.wrapping_add(1);
                spin_hint();
                #[cfg(not(shm_loom))]
                if spun.is_multiple_of(1024) && Instant::now() >= deadline {
                    return head;
                }
                continue;
            }
            #[cfg(not(shm_loom))]
            let slice = {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return head;
                }
                left.min(Duration::from_millis(100))
            };
            #[cfg(shm_loom)]
            let slice = timeout;
            let seen = wait::notify_value(&self.header.notify);
            let head = self.head();
            if head >= seq {
                return head;
            }
            wait::park(&self.header.notify, seen, slice);
            #[cfg(shm_loom)]
            return self.head();
        }
    }
}

/// Sizing of a new ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingConfig {
    /// Number of slots, a power of two. Memory: `capacity * W * 8` bytes plus a 384-byte header.
    pub capacity_slots: u64,
    /// Identity of the history this ring holds (see DESIGN.md §2).
    pub epoch: u64,
    /// The seq before the first one this ring will hold: 0 for a new history, or the last seq
    /// already issued when continuing one.
    pub base_seq: u64,
}

impl Default for RingConfig {
    /// 2^20 slots (64 MiB of 64-byte records: seconds to minutes of a busy feed), epoch 1.
    fn default() -> Self {
        Self {
            capacity_slots: 1 << 20,
            epoch: 1,
            base_seq: 0,
        }
    }
}

/// The ring's only writer. Not `Clone`, and every write takes `&mut self`: one writer by type.
///
/// Records are `[u64; W]`; word 0 is the ring's (the writer's value is ignored, readers get the
/// record's seq there).
#[cfg(not(shm_loom))]
#[derive(Debug)]
pub struct Writer<const W: usize> {
    map: Arc<Mapping>,
    /// Next seq to write.
    next: u64,
    /// Last published seq.
    published: u64,
}

#[cfg(not(shm_loom))]
impl<const W: usize> Writer<W> {
    /// Creates the ring file at `path` (replacing any old one: its readers keep the old,
    /// unlinked file) with mode 0640.
    ///
    /// # Errors
    ///
    /// [`CreateError`] if the configuration is invalid or a filesystem call fails.
    pub fn create(path: &Path, config: &RingConfig) -> Result<Self, CreateError> {
        check_shape(W, config.capacity_slots)?;
        let shape = Shape {
            kind: FileKind::Ring,
            slot_words: W,
            capacity: config.capacity_slots,
            epoch: config.epoch,
            base_seq: config.base_seq,
        };
        let map = Arc::new(Mapping::create(path, shape)?);
        Ok(Self {
            map,
            next: config.base_seq + 1,
            published: config.base_seq,
        })
    }

    fn ring(&self) -> Ring<'_, W> {
        Ring::new(self.map.header(), self.map.slots::<W>())
    }

    /// Writes `record` as the next seq and returns that seq. Readers see it after the next
    /// [`Writer::publish`]. O(1), no allocation, no syscall.
    pub fn push(&mut self, record: &[u64; W]) -> u64 {
        let seq = self.next;
        self.ring().write(seq, record);
        self.next += 1;
        seq
    }

    /// Publishes every pushed record and wakes parked readers (one futex wake syscall).
    pub fn publish(&mut self) {
        if self.published + 1 == self.next {
            return;
        }
        self.published = self.next - 1;
        self.ring().publish(self.published);
    }

    /// The seq the next [`Writer::push`] will assign.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// The last published seq.
    pub fn head(&self) -> u64 {
        self.published
    }

    /// Number of slots.
    pub fn capacity(&self) -> u64 {
        self.map.capacity()
    }

    /// The ring's epoch.
    pub fn epoch(&self) -> u64 {
        // Relaxed: written once before this writer existed.
        self.map.header().epoch.load(Relaxed)
    }

    /// A reader of this ring sharing the writer's mapping (for in-process consumers), starting
    /// after the current head.
    pub fn reader(&self) -> Reader<W> {
        Reader::from_mapping(Arc::clone(&self.map))
    }
}

#[cfg(not(shm_loom))]
fn check_shape(slot_words: usize, capacity: u64) -> Result<(), CreateError> {
    if capacity < 2 || !capacity.is_power_of_two() {
        return Err(CreateError::Config(ConfigError::Capacity(capacity)));
    }
    if slot_words < 2 || u32::try_from(slot_words).is_err() {
        return Err(CreateError::Config(ConfigError::SlotWords(slot_words)));
    }
    Ok(())
}

/// A reader with its own cursor. Cheap to create; any number per ring, in any process.
/// Cloning shares the mapping and copies the cursor.
#[cfg(not(shm_loom))]
#[derive(Debug, Clone)]
pub struct Reader<const W: usize> {
    map: Arc<Mapping>,
    /// Next seq to read.
    next: u64,
    /// Head as last loaded; reloaded only when `next` passes it.
    cached_head: u64,
}

#[cfg(not(shm_loom))]
impl<const W: usize> Reader<W> {
    /// Opens the ring at `path` read-only, waiting up to `timeout` for a creator that is still
    /// initialising it. The cursor starts after the current head (only new records).
    ///
    /// # Errors
    ///
    /// [`OpenError`]: missing file, not a ring, wrong layout version or slot size, a header
    /// that does not match the file size, or still initialising after `timeout`.
    pub fn open(path: &Path, timeout: Duration) -> Result<Self, OpenError> {
        let map = Mapping::open(path, FileKind::Ring, W, timeout)?;
        Ok(Self::from_mapping(Arc::new(map)))
    }

    fn from_mapping(map: Arc<Mapping>) -> Self {
        let mut reader = Self {
            map,
            next: 0,
            cached_head: 0,
        };
        reader.seek_to_head();
        reader
    }

    fn ring(&self) -> Ring<'_, W> {
        Ring::new(self.map.header(), self.map.slots::<W>())
    }

    /// The last published seq.
    pub fn head(&self) -> u64 {
        self.ring().head()
    }

    /// The ring's epoch.
    pub fn epoch(&self) -> u64 {
        // Relaxed: written before the Acquire handshake load in `open`.
        self.map.header().epoch.load(Relaxed)
    }

    /// Number of slots.
    pub fn capacity(&self) -> u64 {
        self.map.capacity()
    }

    /// The seq before the first one this ring file ever held.
    pub fn base_seq(&self) -> u64 {
        // Relaxed: written before the Acquire handshake load in `open`.
        self.map.header().base_seq.load(Relaxed)
    }

    /// The next seq this reader will read.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// Moves the cursor to `seq` (it may be in the future, or already overwritten).
    pub fn seek(&mut self, seq: u64) {
        self.next = seq.max(self.base_seq() + 1);
    }

    /// Moves the cursor just past the current head: only records published from now on.
    pub fn seek_to_head(&mut self) {
        self.cached_head = self.head();
        self.next = self.cached_head + 1;
    }

    /// Reads the record at the cursor into `out` and advances. O(1), no syscall; loads the
    /// shared head only when the cursor has caught up with the cached one.
    pub fn try_read(&mut self, out: &mut [u64; W]) -> ReadOutcome {
        if self.next > self.cached_head {
            self.cached_head = self.head();
            if self.next > self.cached_head {
                return ReadOutcome::NotYet;
            }
        }
        let outcome = self.ring().read_published(self.next, self.cached_head, out);
        if let ReadOutcome::Record(_) = outcome {
            self.next += 1;
        }
        outcome
    }

    /// Reads up to `out.len()` consecutive records from the cursor. Returns how many were
    /// read (0 if none are published), or the overrun that stopped the batch before its first
    /// record. A batch cut short by an overrun returns the records before it; the next call
    /// reports the overrun.
    ///
    /// # Errors
    ///
    /// [`ReadOutcome::Overrun`]'s `oldest`, if the first record was overwritten.
    pub fn read_batch(&mut self, out: &mut [[u64; W]]) -> Result<usize, u64> {
        let mut n = 0;
        for slot in out.iter_mut() {
            match self.try_read(slot) {
                ReadOutcome::Record(_) => n += 1,
                ReadOutcome::NotYet => break,
                ReadOutcome::Overrun { oldest } if n == 0 => return Err(oldest),
                ReadOutcome::Overrun { .. } => break,
            }
        }
        Ok(n)
    }

    /// Waits until a record is published at the cursor, or `timeout` passes. Returns whether
    /// one is available. Spins and/or parks per `strategy`; see [`WaitStrategy`].
    pub fn wait(&mut self, strategy: WaitStrategy, timeout: Duration) -> bool {
        if self.next <= self.cached_head {
            return true;
        }
        self.cached_head = self.ring().wait_for(self.next, strategy, timeout);
        self.next <= self.cached_head
    }
}

#[cfg(all(test, not(shm_loom)))]
mod tests {
    use super::*;

    fn ring_path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tickd-shm-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn rec(seq: u64) -> [u64; 8] {
        [
            0,
            seq * 10,
            seq * 10 + 1,
            seq * 10 + 2,
            seq * 10 + 3,
            seq * 10 + 4,
            seq * 10 + 5,
            !seq,
        ]
    }

    #[test]
    fn reads_exactly_what_was_published() {
        let path = ring_path("exact.ring");
        let mut w = Writer::<8>::create(
            &path,
            &RingConfig {
                capacity_slots: 8,
                epoch: 7,
                base_seq: 0,
            },
        )
        .unwrap();
        let mut r = Reader::<8>::open(&path, Duration::from_secs(1)).unwrap();
        assert_eq!(
            (r.epoch(), r.head(), r.next_seq(), r.capacity()),
            (7, 0, 1, 8)
        );
        let mut out = [0; 8];
        assert_eq!(r.try_read(&mut out), ReadOutcome::NotYet);
        assert_eq!(w.push(&rec(1)), 1);
        assert_eq!(w.push(&rec(2)), 2);
        assert_eq!(
            r.try_read(&mut out),
            ReadOutcome::NotYet,
            "pushed but not published"
        );
        w.publish();
        assert_eq!(r.try_read(&mut out), ReadOutcome::Record(1));
        let mut want = rec(1);
        want[0] = 1;
        assert_eq!(out, want);
        assert_eq!(r.try_read(&mut out), ReadOutcome::Record(2));
        assert_eq!(out[0], 2);
        assert_eq!(r.try_read(&mut out), ReadOutcome::NotYet);
    }

    #[test]
    fn overrun_reports_oldest_readable() {
        let path = ring_path("overrun.ring");
        let mut w = Writer::<8>::create(
            &path,
            &RingConfig {
                capacity_slots: 4,
                epoch: 1,
                base_seq: 0,
            },
        )
        .unwrap();
        let mut r = w.reader();
        for s in 1..=10 {
            w.push(&rec(s));
        }
        w.publish();
        let mut out = [0; 8];
        // Records 1..=6 are gone; 7..=10 remain in the 4 slots.
        assert_eq!(r.try_read(&mut out), ReadOutcome::Overrun { oldest: 7 });
        assert_eq!(r.next_seq(), 1, "the cursor stays put on overrun");
        r.seek(7);
        let mut batch = [[0; 8]; 8];
        assert_eq!(r.read_batch(&mut batch), Ok(4));
        assert_eq!(
            batch[..4].iter().map(|b| b[0]).collect::<Vec<_>>(),
            vec![7, 8, 9, 10]
        );
        assert_eq!(batch[3][1], 100);
    }

    #[test]
    fn continues_a_history_from_base_seq() {
        let path = ring_path("base.ring");
        let mut w = Writer::<8>::create(
            &path,
            &RingConfig {
                capacity_slots: 4,
                epoch: 3,
                base_seq: 41,
            },
        )
        .unwrap();
        assert_eq!(w.push(&rec(42)), 42);
        w.publish();
        let mut r = Reader::<8>::open(&path, Duration::from_secs(1)).unwrap();
        assert_eq!(r.head(), 42);
        r.seek(1);
        assert_eq!(
            r.next_seq(),
            42,
            "nothing before base_seq + 1 ever existed here"
        );
        let mut out = [0; 8];
        assert_eq!(r.try_read(&mut out), ReadOutcome::Record(42));
    }

    #[test]
    fn wait_parks_until_published() {
        let path = ring_path("wait.ring");
        let mut w = Writer::<8>::create(
            &path,
            &RingConfig {
                capacity_slots: 16,
                epoch: 1,
                base_seq: 0,
            },
        )
        .unwrap();
        let mut r = Reader::<8>::open(&path, Duration::from_secs(1)).unwrap();
        assert!(!r.wait(
            WaitStrategy::SpinThenPark { spins: 10 },
            Duration::from_millis(5)
        ));
        let t = std::thread::spawn(move || {
            let ok = r.wait(
                WaitStrategy::SpinThenPark { spins: 10 },
                Duration::from_secs(30),
            );
            let mut out = [0; 8];
            (ok, r.try_read(&mut out))
        });
        std::thread::sleep(Duration::from_millis(20));
        w.push(&rec(1));
        w.publish();
        assert_eq!(t.join().unwrap(), (true, ReadOutcome::Record(1)));
    }

    #[test]
    fn rejects_bad_capacity() {
        let path = ring_path("bad.ring");
        let err = Writer::<8>::create(
            &path,
            &RingConfig {
                capacity_slots: 6,
                epoch: 1,
                base_seq: 0,
            },
        )
        .unwrap_err();
        assert!(
            matches!(err, CreateError::Config(ConfigError::Capacity(6))),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "ring capacity 6 is not a power of two >= 2"
        );
    }
}

#[cfg(all(test, shm_loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    struct Heap {
        header: Header,
        slots: Vec<Slot<3>>,
    }

    /// A reader that sees the published head reads every record up to it intact: never
    /// "not yet", never a torn or stale record.
    #[test]
    fn loom_head_publication_makes_records_visible() {
        loom::model(|| {
            let heap = Arc::new(Heap {
                header: Header::new_zeroed(),
                slots: (0..4).map(|_| Slot::new()).collect(),
            });
            let writer = {
                let heap = Arc::clone(&heap);
                thread::spawn(move || {
                    let ring = Ring::new(&heap.header, &heap.slots);
                    ring.write(1, &[0, 11, 12]);
                    ring.write(2, &[0, 21, 22]);
                    ring.publish(2);
                })
            };
            let ring = Ring::new(&heap.header, &heap.slots);
            let head = ring.head();
            let mut out = [0; 3];
            for seq in 1..=head {
                assert_eq!(
                    ring.read_published(seq, head, &mut out),
                    ReadOutcome::Record(seq)
                );
                assert_eq!(out, [seq, seq * 10 + 1, seq * 10 + 2]);
            }
            writer.join().unwrap();
        });
    }

    /// A reader racing a lap of the ring (capacity 2) gets each record intact or an overrun,
    /// and the overrun's `oldest` is past what it asked for.
    #[test]
    fn loom_lapped_reader_detects_overrun() {
        loom::model(|| {
            let heap = Arc::new(Heap {
                header: Header::new_zeroed(),
                slots: (0..2).map(|_| Slot::new()).collect(),
            });
            {
                let ring = Ring::new(&heap.header, &heap.slots);
                ring.write(1, &[0, 11, 12]);
                ring.publish(1);
            }
            let writer = {
                let heap = Arc::clone(&heap);
                thread::spawn(move || {
                    let ring = Ring::new(&heap.header, &heap.slots);
                    ring.write(2, &[0, 21, 22]);
                    ring.write(3, &[0, 31, 32]);
                    ring.publish(3);
                })
            };
            let ring = Ring::new(&heap.header, &heap.slots);
            let head = ring.head();
            let mut out = [0; 3];
            match ring.read_published(1, head, &mut out) {
                ReadOutcome::Record(1) => assert_eq!(out, [1, 11, 12]),
                ReadOutcome::Overrun { oldest } => assert!(oldest >= 2),
                other => panic!("unexpected {other:?}"),
            }
            writer.join().unwrap();
        });
    }
}
