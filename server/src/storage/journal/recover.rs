//! Recovery at start: every intact block in seq order, the torn tail cut off.

use std::fs::{self, OpenOptions};
use std::path::Path;

use anyhow::{Context, bail};
use tickd_protocol::{InstrumentId, TickRecord};

use super::Definition;
use super::format::{RECORD_BYTES, SYMBOL_KIND, decode_block, read_record, segments, symbol_of};

/// What recovery found.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Symbols in id order.
    pub symbols: Vec<Definition>,
    /// First seq still in the journal (0 if empty).
    pub first_seq: u64,
    /// Last seq in the journal (0 if empty).
    pub last_seq: u64,
    /// Bytes cut from a torn tail.
    pub truncated_bytes: u64,
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
                    if let Some((s, scales)) = symbol_of(&r) {
                        rec.symbols.push((InstrumentId(r.instrument_id), s, scales));
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
