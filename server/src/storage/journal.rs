//! The journal (DESIGN.md §5): append-only segment files of the ring's 64-byte records in the
//! data directory, the source of truth for restart and for replay beyond the ring.
//!
//! Format: a segment `journal/<first seq, 20 digits>.tjl` is a sequence of blocks, one per
//! sequencer batch:
//!
//! ```text
//! block  := header(24 B) record(64 B) × count
//! header := magic u32 "TJB1" | count u32 | first_seq u64 | crc32 u32 | reserved u32   (LE)
//! ```
//!
//! `crc32` (IEEE, crc32fast) covers `count`, `first_seq` and the records. Records are tick
//! records in seq order, preceded in their block by symbol definitions (`kind` =
//! [`SYMBOL_KIND`], `instrument_id` = the id, the name's length in `flags`, its bytes in the
//! body, and its scales in `ts_recv` as [`tickd_protocol::files::scales_tag`] makes them; 0 in a
//! journal written before per-instrument scales, read as 9 and 9) for instruments first used
//! in that block. A block that is short or fails its checksum
//! ends the journal: recovery cuts the last segment there (a torn tail after a crash), so no
//! record that reads as valid is ever corrupt.
//!
//! Flush policy: `none` (the OS writes back; survives a process crash, not a power loss),
//! `interval` (fdatasync at most every interval), `batch` (fdatasync before the batch is
//! published and acknowledged).

use std::path::PathBuf;
use std::time::Duration;

mod format;
mod reader;
mod recover;
mod writer;

pub use format::{BLOCK_MAGIC, HEADER_BYTES, SYMBOL_KIND, symbol_of, symbol_record};
pub use reader::{JournalCursor, read_from};
pub use recover::{Recovery, first_segment_seq, recover};
pub use writer::Journal;

/// An instrument's definition as the journal keeps it: id, symbol and scales.
pub type Definition = (
    tickd_protocol::InstrumentId,
    tickd_protocol::Symbol,
    tickd_protocol::Scales,
);

/// When journal writes reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushPolicy {
    /// Never fdatasync: the OS writes back (a process crash loses nothing, a power loss may).
    None,
    /// fdatasync at most this often.
    Interval(Duration),
    /// fdatasync every batch before it is published and acknowledged.
    Batch,
}

impl std::str::FromStr for FlushPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Self::None),
            "batch" => Ok(Self::Batch),
            "interval" => Ok(Self::Interval(Duration::from_millis(100))),
            other => match other
                .strip_prefix("interval:")
                .and_then(|ms| ms.parse::<u64>().ok())
            {
                Some(ms) => Ok(Self::Interval(Duration::from_millis(ms.max(1)))),
                None => Err(format!(
                    "flush policy {other:?} is not none, batch, interval or interval:<ms>"
                )),
            },
        }
    }
}

impl std::fmt::Display for FlushPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Interval(d) => write!(f, "interval:{}", d.as_millis()),
            Self::Batch => f.write_str("batch"),
        }
    }
}

/// Journal settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalConfig {
    /// Directory of the segments (`<data dir>/journal`).
    pub dir: PathBuf,
    /// When writes reach the disk.
    pub flush: FlushPolicy,
    /// Start a new segment past this size, bytes.
    pub segment_bytes: u64,
    /// Delete the oldest segments while the journal is larger than this, bytes (never the
    /// segment being written).
    pub retain_bytes: Option<u64>,
    /// Delete segments whose newest record is older than this (by file modification time).
    pub retain_age: Option<Duration>,
}

impl JournalConfig {
    /// Defaults for `dir`: `batch` flush, 256 MiB segments, unlimited retention.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            flush: FlushPolicy::Batch,
            segment_bytes: 256 << 20,
            retain_bytes: None,
            retain_age: None,
        }
    }
}

#[cfg(test)]
mod tests {

    use tickd_protocol::{
        InstrumentId, Price, Quantity, Side, Symbol, TickRecord, Trade, UnixNanos,
    };

    use std::fs::{self, OpenOptions};

    use super::format::segments;
    use super::*;

    fn tick(seq: u64) -> TickRecord {
        let t = Trade {
            price: Price::from_raw(seq as i64),
            size: Quantity::from_raw(1),
            trade_id: seq,
            venue: 0,
            conditions: 0,
        };
        TickRecord {
            seq,
            ..TickRecord::new_trade(InstrumentId(0), UnixNanos(seq), Side::Buy, &t)
        }
    }

    #[test]
    fn append_recover_and_cut_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let config = JournalConfig {
            segment_bytes: 2_000,
            ..JournalConfig::new(dir.path().to_owned())
        };
        let mut j = Journal::open(config.clone(), 0).unwrap();
        let aapl = Symbol::new("AAPL").unwrap();
        let pepe = Symbol::new("PEPEUSDT").unwrap();
        let pepe_scales = tickd_protocol::Scales::new(8, 0).unwrap();
        j.append(
            &[
                (InstrumentId(0), aapl, tickd_protocol::Scales::DEFAULT),
                (InstrumentId(1), pepe, pepe_scales),
            ],
            &(1..=10).map(tick).collect::<Vec<_>>(),
        )
        .unwrap();
        j.commit().unwrap();
        for b in 0..9u64 {
            j.append(
                &[],
                &(11 + b * 10..=20 + b * 10).map(tick).collect::<Vec<_>>(),
            )
            .unwrap();
            j.commit().unwrap();
        }
        drop(j);
        assert!(segments(dir.path()).unwrap().len() > 1, "segments rotate");

        let mut seen = Vec::new();
        let rec = recover(dir.path(), |t| seen.push(t.seq)).unwrap();
        assert_eq!(seen, (1..=100).collect::<Vec<_>>());
        assert_eq!(
            (rec.first_seq, rec.last_seq, rec.truncated_bytes),
            (1, 100, 0)
        );
        assert_eq!(
            rec.symbols,
            vec![
                (InstrumentId(0), aapl, tickd_protocol::Scales::DEFAULT),
                (InstrumentId(1), pepe, pepe_scales)
            ]
        );
        assert_eq!(
            read_from(dir.path(), tickd_protocol::Seq(95), 3)
                .unwrap()
                .iter()
                .map(|t| t.seq)
                .collect::<Vec<_>>(),
            vec![95, 96, 97]
        );

        // Tear the last block: half of it reaches the disk.
        let (_, last) = segments(dir.path()).unwrap().pop().unwrap();
        let len = fs::metadata(&last).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&last)
            .unwrap()
            .set_len(len - 100)
            .unwrap();
        let mut seen = Vec::new();
        let rec = recover(dir.path(), |t| seen.push(t.seq)).unwrap();
        assert_eq!(rec.last_seq, 90, "the torn block is cut whole");
        assert_eq!(seen.len(), 90);
        assert!(rec.truncated_bytes > 0);
        // Appending continues after the cut.
        let mut j = Journal::open(config, rec.last_seq).unwrap();
        j.append(&[], &[tick(91)]).unwrap();
        j.commit().unwrap();
        let rec = recover(dir.path(), |_| {}).unwrap();
        assert_eq!((rec.last_seq, rec.truncated_bytes), (91, 0));
    }

    #[test]
    fn a_cursor_reads_one_tick_blocks_in_chunks_in_linear_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let config = JournalConfig {
            segment_bytes: 1 << 20,
            flush: FlushPolicy::None,
            ..JournalConfig::new(dir.path().to_owned())
        };
        let mut j = Journal::open(config, 0).unwrap();
        let aapl = Symbol::new("AAPL").unwrap();
        j.append(
            &[(InstrumentId(0), aapl, tickd_protocol::Scales::DEFAULT)],
            &[],
        )
        .unwrap();
        const N: u64 = 50_000;
        for seq in 1..=N {
            j.append(&[], &[tick(seq)]).unwrap();
        }
        j.commit().unwrap();
        drop(j);
        let total: u64 = segments(dir.path())
            .unwrap()
            .iter()
            .map(|(_, p)| fs::metadata(p).unwrap().len())
            .sum();
        assert!(segments(dir.path()).unwrap().len() > 3, "several segments");

        let mut cursor = JournalCursor::new(dir.path(), tickd_protocol::Seq(1));
        let mut seen = Vec::new();
        let mut calls = 0;
        loop {
            calls += 1;
            let chunk = cursor.read(1_024).unwrap();
            if chunk.is_empty() {
                break;
            }
            assert!(chunk.len() <= 1_024);
            seen.extend(chunk.iter().map(|t| t.seq));
        }
        assert_eq!(seen, (1..=N).collect::<Vec<_>>());
        // Each byte is read once, plus at most one read-ahead (256 KiB) per call: linear in
        // the journal's size, where a rescan per chunk reads it about N / 2,048 times over.
        assert!(
            cursor.bytes_read() <= total + calls * (256 << 10),
            "{} bytes read of {total} in {calls} calls",
            cursor.bytes_read()
        );

        // From the middle, and from inside a block of many records, in small chunks.
        let mut mid = JournalCursor::new(dir.path(), tickd_protocol::Seq(40_000));
        assert_eq!(
            mid.read(3)
                .unwrap()
                .iter()
                .map(|t| t.seq)
                .collect::<Vec<_>>(),
            [40_000, 40_001, 40_002]
        );
        let big = tempfile::tempdir().unwrap();
        let mut j = Journal::open(JournalConfig::new(big.path().to_owned()), 0).unwrap();
        j.append(&[], &(1..=10).map(tick).collect::<Vec<_>>())
            .unwrap();
        j.append(&[], &(11..=12).map(tick).collect::<Vec<_>>())
            .unwrap();
        drop(j);
        let mut c = JournalCursor::new(big.path(), tickd_protocol::Seq(4));
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(c.read(3).unwrap().iter().map(|t| t.seq).collect::<Vec<_>>());
        }
        assert_eq!(
            got,
            [vec![4, 5, 6], vec![7, 8, 9], vec![10, 11, 12], vec![]]
        );
    }

    #[test]
    fn a_flipped_bit_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(JournalConfig::new(dir.path().to_owned()), 0).unwrap();
        j.append(&[], &(1..=5).map(tick).collect::<Vec<_>>())
            .unwrap();
        j.append(&[], &(6..=9).map(tick).collect::<Vec<_>>())
            .unwrap();
        drop(j);
        let (_, seg) = segments(dir.path()).unwrap().pop().unwrap();
        let mut bytes = fs::read(&seg).unwrap();
        let second_block = HEADER_BYTES + 5 * 64;
        bytes[second_block + HEADER_BYTES + 70] ^= 1;
        fs::write(&seg, &bytes).unwrap();
        let rec = recover(dir.path(), |_| {}).unwrap();
        assert_eq!(
            rec.last_seq, 5,
            "the corrupt block and what follows are cut"
        );
    }

    #[test]
    fn retention_removes_old_segments() {
        let dir = tempfile::tempdir().unwrap();
        let config = JournalConfig {
            segment_bytes: 1_000,
            retain_bytes: Some(2_500),
            ..JournalConfig::new(dir.path().to_owned())
        };
        let mut j = Journal::open(config, 0).unwrap();
        for b in 0..20u64 {
            j.append(&[], &(1 + b * 5..=5 + b * 5).map(tick).collect::<Vec<_>>())
                .unwrap();
        }
        let rec = recover(dir.path(), |_| {}).unwrap();
        assert!(rec.first_seq > 1, "old segments were removed");
        assert_eq!(rec.last_seq, 100);
        assert_eq!(
            "interval:50".parse::<FlushPolicy>(),
            Ok(FlushPolicy::Interval(Duration::from_millis(50)))
        );
    }
}
