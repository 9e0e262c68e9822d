//! A latest-value table: a fixed number of seqlock cells, each holding the newest record
//! written to it, readable from any process without the writer.
//!
//! A cell is a [`Slot`] whose message number is the record's own version (tickd uses the tick's
//! seq), so a reader gets the version back in word 0 and versions never go backwards: a write
//! older than what the cell holds is ignored. That also keeps the seqlock ABA-free.

#[cfg(not(shm_loom))]
use std::path::Path;
#[cfg(not(shm_loom))]
use std::time::Duration;

#[cfg(not(shm_loom))]
use crate::layout::FileKind;
#[cfg(not(shm_loom))]
use crate::mapping::{Mapping, Shape};
#[cfg(not(shm_loom))]
use crate::slot::Latest;
use crate::slot::{Slot, stamp_seq};
#[cfg(not(shm_loom))]
use crate::{ConfigError, CreateError, OpenError};

/// Writes `record` as version `version` into `cell` unless the cell already holds that version
/// or a newer one. Returns whether it was written. Single writer.
pub(crate) fn write_cell<const W: usize>(cell: &Slot<W>, version: u64, record: &[u64; W]) -> bool {
    let stamp = cell.stamp_relaxed();
    if stamp != 0 && stamp_seq(stamp) >= version {
        return false;
    }
    cell.write(version, record);
    true
}

/// Why a table write failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The cell index is past the table's capacity.
    #[error("cell {index} is out of range (table has {capacity} cells)")]
    OutOfRange {
        /// Index given.
        index: u64,
        /// Cells in the table.
        capacity: u64,
    },
    /// Version 0 is reserved for "never written".
    #[error("version 0 is reserved")]
    ZeroVersion,
}

/// The table's only writer. Not `Clone`; writes take `&mut self`.
#[cfg(not(shm_loom))]
#[derive(Debug)]
pub struct TableWriter<const W: usize> {
    map: Mapping,
}

#[cfg(not(shm_loom))]
impl<const W: usize> TableWriter<W> {
    /// Creates the table at `path` (replacing any old one) with `cells` cells of `W` words,
    /// mode 0640. Memory: `cells * W * 8` bytes plus a 384-byte header.
    ///
    /// # Errors
    ///
    /// [`CreateError`] if `cells` is 0, `W < 2`, or a filesystem call fails.
    pub fn create(path: &Path, cells: u32, epoch: u64) -> Result<Self, CreateError> {
        if cells == 0 {
            return Err(ConfigError::Empty.into());
        }
        if W < 2 {
            return Err(ConfigError::SlotWords(W).into());
        }
        let shape = Shape {
            kind: FileKind::Table,
            slot_words: W,
            capacity: u64::from(cells),
            epoch,
            base_seq: 0,
        };
        Ok(Self {
            map: Mapping::create(path, shape)?,
        })
    }

    /// Stores `record` (word 0 ignored) as version `version` of cell `index`, unless the cell
    /// already holds that version or a newer one. Returns whether it was stored. O(1).
    ///
    /// # Errors
    ///
    /// [`TableError`] if `index` is out of range or `version` is 0.
    pub fn write(
        &mut self,
        index: u64,
        version: u64,
        record: &[u64; W],
    ) -> Result<bool, TableError> {
        if version == 0 {
            return Err(TableError::ZeroVersion);
        }
        let cells = self.map.slots::<W>();
        let cell = usize::try_from(index)
            .ok()
            .and_then(|i| cells.get(i))
            .ok_or(TableError::OutOfRange {
                index,
                capacity: self.map.capacity(),
            })?;
        Ok(write_cell(cell, version, record))
    }

    /// Number of cells.
    pub fn capacity(&self) -> u64 {
        self.map.capacity()
    }
}

/// A cell stayed mid-write for a reader's whole stall timeout: its writer stopped between the
/// busy stamp and the publish (killed with `kill -9`, or stopped by a debugger). The cell reads
/// again once a writer rewrites it (a restarted tickd recreates the table).
#[cfg(not(shm_loom))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "cell {index} stayed mid-write (stamp {stamp}) for {waited:?}: its writer stopped mid-write, \
     probably killed; the cell reads again once a writer rewrites it"
)]
pub struct StalledWriter {
    /// The cell.
    pub index: u64,
    /// The busy stamp seen last (odd: `2 × version + 1`).
    pub stamp: u64,
    /// How long the reader retried.
    pub waited: Duration,
}

/// A read-only view of a table, in any process.
#[cfg(not(shm_loom))]
#[derive(Debug)]
pub struct TableReader<const W: usize> {
    map: Mapping,
    stall_timeout: Duration,
}

/// Busy retries that only spin before a reader starts yielding and watching the clock: a write
/// takes nanoseconds, so a live writer finishes within these unless it was preempted.
#[cfg(not(shm_loom))]
const SPINS: u32 = 128;

#[cfg(not(shm_loom))]
impl<const W: usize> TableReader<W> {
    /// Opens the table at `path` read-only, waiting up to `timeout` for its creator.
    ///
    /// # Errors
    ///
    /// [`OpenError`] as for [`crate::Reader::open`].
    pub fn open(path: &Path, timeout: Duration) -> Result<Self, OpenError> {
        Ok(Self {
            map: Mapping::open(path, FileKind::Table, W, timeout)?,
            stall_timeout: Self::DEFAULT_STALL_TIMEOUT,
        })
    }

    /// How long [`TableReader::read`] retries a cell that stays mid-write, by default: far longer
    /// than a preempted writer's pause, short enough that a reader of a killed writer moves on.
    pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_millis(250);

    /// Sets how long [`TableReader::read`] retries a cell that stays mid-write.
    pub fn set_stall_timeout(&mut self, timeout: Duration) {
        self.stall_timeout = timeout;
    }

    /// Copies cell `index` into `out` (word 0 = its version) and returns the version; `None`
    /// if the cell was never written or `index` is out of range.
    ///
    /// While a write is in progress it retries: spinning for the first 128 tries (a write
    /// takes nanoseconds), then yielding the CPU, for up to the stall timeout
    /// ([`TableReader::DEFAULT_STALL_TIMEOUT`] unless set). Never blocks the writer.
    ///
    /// # Errors
    ///
    /// [`StalledWriter`] if the cell stayed mid-write for the whole stall timeout: its writer
    /// was killed between the busy stamp and the publish. Other cells still read.
    pub fn read(&self, index: u64, out: &mut [u64; W]) -> Result<Option<u64>, StalledWriter> {
        let cells = self.map.slots::<W>();
        let Some(cell) = usize::try_from(index).ok().and_then(|i| cells.get(i)) else {
            return Ok(None);
        };
        let mut tries = 0u32;
        let mut started = None;
        loop {
            let stamp = match cell.try_read_latest(out) {
                Latest::Never => return Ok(None),
                Latest::Copied(version) => return Ok(Some(version)),
                Latest::Busy(stamp) => stamp,
            };
            tries = tries.saturating_add(1);
            if tries <= SPINS {
                std::hint::spin_loop();
                continue;
            }
            let started = *started.get_or_insert_with(std::time::Instant::now);
            let waited = started.elapsed();
            if waited >= self.stall_timeout {
                return Err(StalledWriter {
                    index,
                    stamp,
                    waited,
                });
            }
            std::thread::yield_now();
        }
    }

    /// Number of cells.
    pub fn capacity(&self) -> u64 {
        self.map.capacity()
    }
}

#[cfg(all(test, not(shm_loom)))]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_version() {
        let dir = std::env::temp_dir().join(format!("tickd-table-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("latest.tbl");
        let mut w = TableWriter::<8>::create(&path, 4, 1).unwrap();
        let r = TableReader::<8>::open(&path, Duration::from_secs(1)).unwrap();
        let mut out = [0; 8];
        assert_eq!(r.read(0, &mut out), Ok(None));
        assert_eq!(w.write(1, 10, &[0, 1, 2, 3, 4, 5, 6, 7]), Ok(true));
        assert_eq!(
            w.write(1, 9, &[0; 8]),
            Ok(false),
            "older versions never replace newer"
        );
        assert_eq!(r.read(1, &mut out), Ok(Some(10)));
        assert_eq!(out, [10, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(w.write(1, 11, &[0, 9, 9, 9, 9, 9, 9, 9]), Ok(true));
        assert_eq!(r.read(1, &mut out), Ok(Some(11)));
        assert_eq!(out[1], 9);
        assert_eq!(
            w.write(4, 1, &[0; 8]),
            Err(TableError::OutOfRange {
                index: 4,
                capacity: 4
            })
        );
        assert_eq!(w.write(0, 0, &[0; 8]), Err(TableError::ZeroVersion));
        assert_eq!(r.read(99, &mut out), Ok(None));
    }
}

#[cfg(all(test, shm_loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    /// A reader racing an update gets one whole version, and a stale write is never applied.
    #[test]
    fn loom_latest_cell_is_whole_and_monotonic() {
        loom::model(|| {
            let cell = Arc::new(Slot::<3>::new());
            assert!(write_cell(&cell, 5, &[0, 5, 5]));
            let writer = {
                let cell = Arc::clone(&cell);
                thread::spawn(move || {
                    assert!(write_cell(&cell, 7, &[0, 7, 7]));
                    assert!(!write_cell(&cell, 6, &[0, 6, 6]));
                })
            };
            let mut out = [0; 3];
            let v = cell.read_latest(&mut out).unwrap();
            assert!(v == 5 || v == 7);
            assert_eq!(out, [v, v, v]);
            writer.join().unwrap();
        });
    }
}
