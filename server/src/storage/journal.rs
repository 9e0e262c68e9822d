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
//! [`SYMBOL_KIND`], `instrument_id` = the id, the name's length in `flags` and its bytes in the
//! body) for instruments first used in that block. A block that is short or fails its checksum
//! ends the journal: recovery cuts the last segment there (a torn tail after a crash), so no
//! record that reads as valid is ever corrupt.
//!
//! Flush policy: `none` (the OS writes back; survives a process crash, not a power loss),
//! `interval` (fdatasync at most every interval), `batch` (fdatasync before the batch is
//! published and acknowledged).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tickd_protocol::{InstrumentId, Symbol, TickRecord};

/// Block magic, `"TJB1"` little-endian.
pub const BLOCK_MAGIC: u32 = u32::from_le_bytes(*b"TJB1");
/// Bytes of a block header.
pub const HEADER_BYTES: usize = 24;
/// `kind` of a symbol-definition record (never a tick kind).
pub const SYMBOL_KIND: u8 = 0xF0;
const RECORD_BYTES: usize = 64;

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

/// A symbol definition as a journal record.
pub fn symbol_record(id: InstrumentId, symbol: &Symbol) -> TickRecord {
    let mut body = [0u64; 4];
    let mut bytes = [0u8; 32];
    bytes[..symbol.as_bytes().len()].copy_from_slice(symbol.as_bytes());
    for (w, chunk) in body.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut b = [0; 8];
        b.copy_from_slice(chunk);
        *w = u64::from_le_bytes(b);
    }
    TickRecord {
        instrument_id: id.0,
        kind: SYMBOL_KIND,
        flags: symbol.as_bytes().len() as u16,
        body,
        ..TickRecord::default()
    }
}

/// The symbol of a symbol-definition record.
fn symbol_of(r: &TickRecord) -> Option<Symbol> {
    let mut bytes = [0u8; 32];
    for (chunk, w) in bytes.chunks_exact_mut(8).zip(r.body) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    bytes
        .get(..usize::from(r.flags))
        .and_then(|b| Symbol::from_bytes(b).ok())
}

fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.tjl")
}

/// Segments in `dir`, sorted by first seq.
fn segments(dir: &Path) -> anyhow::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(e).with_context(|| format!("read journal directory {}", dir.display()));
        }
    };
    for e in entries {
        let path = e?.path();
        let Some(seq) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".tjl"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        out.push((seq, path));
    }
    out.sort();
    Ok(out)
}

/// One decoded block.
struct Block<'a> {
    records: &'a [u8],
}

/// Decodes the block at the start of `bytes`; `None` if it is short, torn or corrupt.
fn decode_block(bytes: &[u8]) -> Option<(Block<'_>, usize)> {
    let header = bytes.get(..HEADER_BYTES)?;
    let word =
        |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    if word(0) != BLOCK_MAGIC {
        return None;
    }
    let count = word(4) as usize;
    let len = HEADER_BYTES.checked_add(count.checked_mul(RECORD_BYTES)?)?;
    let records = bytes.get(HEADER_BYTES..len)?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header[4..16]);
    crc.update(records);
    (crc.finalize() == word(16)).then_some((Block { records }, len))
}

fn encode_block(first_seq: u64, records: &[TickRecord], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&BLOCK_MAGIC.to_le_bytes());
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    out.extend_from_slice(&first_seq.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    for r in records {
        out.extend_from_slice(&r.to_le_bytes());
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out[start + 4..start + 16]);
    crc.update(&out[start + HEADER_BYTES..]);
    out[start + 16..start + 20].copy_from_slice(&crc.finalize().to_le_bytes());
}

/// What recovery found.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Symbols in id order.
    pub symbols: Vec<(InstrumentId, Symbol)>,
    /// First seq still in the journal (0 if empty).
    pub first_seq: u64,
    /// Last seq in the journal (0 if empty).
    pub last_seq: u64,
    /// Bytes cut from a torn tail.
    pub truncated_bytes: u64,
}

fn read_record(bytes: &[u8]) -> TickRecord {
    let mut b = [0u8; RECORD_BYTES];
    b.copy_from_slice(bytes);
    TickRecord::from_le_bytes(&b)
}

/// Reads the whole journal in `dir` in order, calling `on_tick` for every tick record, cutting
/// a torn tail off the last segment.
///
/// # Errors
///
/// If a segment cannot be read, a segment other than the last is corrupt, or the seqs are not
/// contiguous.
pub fn recover(dir: &Path, mut on_tick: impl FnMut(&TickRecord)) -> anyhow::Result<Recovery> {
    let mut rec = Recovery::default();
    let segs = segments(dir)?;
    let last = segs.len().saturating_sub(1);
    for (n, (_, path)) in segs.iter().enumerate() {
        let bytes =
            fs::read(path).with_context(|| format!("read journal segment {}", path.display()))?;
        let mut at = 0usize;
        while at < bytes.len() {
            let Some((block, len)) = decode_block(&bytes[at..]) else {
                break;
            };
            for raw in block.records.chunks_exact(RECORD_BYTES) {
                let r = read_record(raw);
                if r.kind == SYMBOL_KIND {
                    if let Some(s) = symbol_of(&r) {
                        rec.symbols.push((InstrumentId(r.instrument_id), s));
                    }
                    continue;
                }
                // Seqs are contiguous across blocks and segments (the first may be above 1
                // after retention removed old segments).
                let expected = if rec.last_seq == 0 {
                    r.seq
                } else {
                    rec.last_seq + 1
                };
                if r.seq != expected || r.seq == 0 {
                    bail!(
                        "{}: record seq {} at byte {at} where {expected} was expected: journal is not contiguous",
                        path.display(),
                        r.seq
                    );
                }
                if rec.first_seq == 0 {
                    rec.first_seq = r.seq;
                }
                rec.last_seq = r.seq;
                on_tick(&r);
            }
            at += len;
        }
        if at < bytes.len() {
            if n != last {
                bail!(
                    "{}: corrupt block at byte {at} in a segment that is not the last",
                    path.display()
                );
            }
            let file = OpenOptions::new().write(true).open(path)?;
            file.set_len(at as u64)?;
            file.sync_all()?;
            rec.truncated_bytes = (bytes.len() - at) as u64;
            tracing::warn!(segment = %path.display(), bytes = rec.truncated_bytes, "cut a torn journal tail");
        }
    }
    Ok(rec)
}

/// The first seq of the oldest segment in `dir` (its name), if any: the ring restarts just
/// below it.
///
/// # Errors
///
/// If the directory cannot be read.
pub fn first_segment_seq(dir: &Path) -> anyhow::Result<Option<u64>> {
    Ok(segments(dir)?.first().map(|(seq, _)| *seq))
}

/// Up to `max` tick records from `from_seq` on, read from the journal in `dir` (for gap fill).
/// Streams block by block, seeking over blocks that end before `from_seq`.
///
/// # Errors
///
/// If a segment cannot be read.
pub fn read_from(dir: &Path, from_seq: u64, max: usize) -> anyhow::Result<Vec<TickRecord>> {
    let segs = segments(dir)?;
    let start = segs
        .iter()
        .rposition(|(first, _)| *first <= from_seq)
        .unwrap_or(0);
    let mut out = Vec::new();
    let mut body = Vec::new();
    for (_, path) in &segs[start..] {
        let mut file = io::BufReader::new(
            File::open(path).with_context(|| format!("open {}", path.display()))?,
        );
        let mut header = [0u8; HEADER_BYTES];
        loop {
            if file.read_exact(&mut header).is_err() {
                break;
            }
            let word = |i: usize| {
                u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]])
            };
            if word(0) != BLOCK_MAGIC {
                break;
            }
            let count = word(4) as usize;
            let mut seq_bytes = [0u8; 8];
            seq_bytes.copy_from_slice(&header[8..16]);
            let first_seq = u64::from_le_bytes(seq_bytes);
            let len = count * RECORD_BYTES;
            // Skip blocks that end before `from_seq` without reading their records.
            if first_seq != 0 && first_seq + count as u64 <= from_seq {
                file.seek_relative(len as i64)?;
                continue;
            }
            body.resize(HEADER_BYTES + len, 0);
            body[..HEADER_BYTES].copy_from_slice(&header);
            if file.read_exact(&mut body[HEADER_BYTES..]).is_err() {
                break;
            }
            let Some((block, _)) = decode_block(&body) else {
                break;
            };
            for raw in block.records.chunks_exact(RECORD_BYTES) {
                let r = read_record(raw);
                if r.kind != SYMBOL_KIND && r.seq >= from_seq {
                    out.push(r);
                    if out.len() >= max {
                        return Ok(out);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The appending side: owned by the sequencer.
#[derive(Debug)]
pub struct Journal {
    config: JournalConfig,
    file: File,
    segment_len: u64,
    buf: Vec<u8>,
    last_sync: Instant,
    dirty: bool,
}

impl Journal {
    /// Opens the journal in `config.dir` for appending after `last_seq` (from [`recover`]).
    ///
    /// # Errors
    ///
    /// If the directory or segment cannot be created or opened.
    pub fn open(config: JournalConfig, last_seq: u64) -> anyhow::Result<Self> {
        fs::create_dir_all(&config.dir)
            .with_context(|| format!("create journal directory {}", config.dir.display()))?;
        let (file, len) = match segments(&config.dir)?.last() {
            Some((_, path)) => {
                let mut f = OpenOptions::new().append(true).open(path)?;
                let len = f.seek(SeekFrom::End(0))?;
                (f, len)
            }
            None => Self::create_segment(&config.dir, last_seq + 1)?,
        };
        Ok(Self {
            config,
            file,
            segment_len: len,
            buf: Vec::with_capacity(1 << 20),
            last_sync: Instant::now(),
            dirty: false,
        })
    }

    fn create_segment(dir: &Path, first_seq: u64) -> anyhow::Result<(File, u64)> {
        let path = dir.join(segment_name(first_seq));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("create {}", path.display()))?;
        // Make the new segment's directory entry durable too.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok((file, 0))
    }

    /// Appends one block: `symbols` (definitions of instruments first used here) then `ticks`
    /// (contiguous seqs starting at `ticks[0].seq`). One write syscall.
    ///
    /// # Errors
    ///
    /// If the write fails (the sequencer then stops: it must not publish what it could not
    /// journal).
    pub fn append(
        &mut self,
        symbols: &[(InstrumentId, Symbol)],
        ticks: &[TickRecord],
    ) -> anyhow::Result<()> {
        if symbols.is_empty() && ticks.is_empty() {
            return Ok(());
        }
        let first_seq = ticks.first().map_or(0, |t| t.seq);
        if self.segment_len >= self.config.segment_bytes && first_seq != 0 {
            self.sync()?;
            let (file, len) = Self::create_segment(&self.config.dir, first_seq)?;
            self.file = file;
            self.segment_len = len;
            self.apply_retention()?;
        }
        self.buf.clear();
        let defs: Vec<TickRecord> = symbols
            .iter()
            .map(|(id, s)| symbol_record(*id, s))
            .collect();
        let mut all = defs;
        all.extend_from_slice(ticks);
        encode_block(first_seq, &all, &mut self.buf);
        self.file
            .write_all(&self.buf)
            .context("append to the journal")?;
        self.segment_len += self.buf.len() as u64;
        self.dirty = true;
        Ok(())
    }

    /// Applies the flush policy: under `batch` this returns once the appended blocks are on
    /// disk.
    ///
    /// # Errors
    ///
    /// If fdatasync fails.
    pub fn commit(&mut self) -> anyhow::Result<()> {
        match self.config.flush {
            FlushPolicy::None => Ok(()),
            FlushPolicy::Batch => self.sync(),
            FlushPolicy::Interval(every) if self.last_sync.elapsed() >= every => self.sync(),
            FlushPolicy::Interval(_) => Ok(()),
        }
    }

    /// fdatasync now (shutdown, or a due interval).
    ///
    /// # Errors
    ///
    /// If fdatasync fails.
    pub fn sync(&mut self) -> anyhow::Result<()> {
        if self.dirty {
            self.file.sync_data().context("sync the journal")?;
            self.dirty = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    fn apply_retention(&mut self) -> anyhow::Result<()> {
        let segs = segments(&self.config.dir)?;
        let mut sizes: Vec<(PathBuf, u64, Option<std::time::SystemTime>)> = segs
            .iter()
            .map(|(_, p)| {
                let meta = fs::metadata(p).ok();
                (
                    p.clone(),
                    meta.as_ref().map_or(0, |m| m.len()),
                    meta.and_then(|m| m.modified().ok()),
                )
            })
            .collect();
        // Never delete the segment being written (the last one).
        let _current = sizes.pop();
        let mut total: u64 = sizes.iter().map(|s| s.1).sum::<u64>() + self.segment_len;
        for (path, len, modified) in sizes {
            let too_big = self.config.retain_bytes.is_some_and(|max| total > max);
            let too_old = match (self.config.retain_age, modified) {
                (Some(age), Some(m)) => m.elapsed().is_ok_and(|e| e > age),
                _ => false,
            };
            if !(too_big || too_old) {
                break;
            }
            fs::remove_file(&path)
                .with_context(|| format!("remove old journal segment {}", path.display()))?;
            total -= len;
            tracing::info!(segment = %path.display(), "journal retention removed a segment");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tickd_protocol::{Price, Quantity, Side, Trade, UnixNanos};

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
        j.append(
            &[(InstrumentId(0), aapl)],
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
        assert_eq!(rec.symbols, vec![(InstrumentId(0), aapl)]);
        assert_eq!(
            read_from(dir.path(), 95, 3)
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
