//! The on-disk format: segment names, block encoding and decoding, symbol-definition records.

use std::fs::{self};
use std::io::{self};
use std::path::{Path, PathBuf};

use anyhow::Context;
use tickd_protocol::files::{scales_of_tag, scales_tag};
use tickd_protocol::{InstrumentId, Scales, Symbol, TickRecord};

/// Block magic, `"TJB1"` little-endian.
pub const BLOCK_MAGIC: u32 = u32::from_le_bytes(*b"TJB1");
/// Bytes of a block header.
pub const HEADER_BYTES: usize = 24;
/// `kind` of a symbol-definition record (never a tick kind).
pub const SYMBOL_KIND: u8 = 0xF0;
pub(super) const RECORD_BYTES: usize = 64;

/// A symbol definition as a journal record.
pub fn symbol_record(id: InstrumentId, symbol: &Symbol, scales: Scales) -> TickRecord {
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
        ts_recv: scales_tag(scales),
        body,
        ..TickRecord::default()
    }
}

/// The symbol and scales of a symbol-definition record (a record written before scales were
/// journaled has `ts_recv` 0: 9 and 9).
pub fn symbol_of(r: &TickRecord) -> Option<(Symbol, Scales)> {
    let mut bytes = [0u8; 32];
    for (chunk, w) in bytes.chunks_exact_mut(8).zip(r.body) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    let symbol = bytes
        .get(..usize::from(r.flags))
        .and_then(|b| Symbol::from_bytes(b).ok())?;
    Some((symbol, scales_of_tag(r.ts_recv)?))
}

pub(super) fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.tjl")
}

/// Segments in `dir`, sorted by first seq.
pub(super) fn segments(dir: &Path) -> anyhow::Result<Vec<(u64, PathBuf)>> {
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
pub(super) struct Block<'a> {
    pub(super) records: &'a [u8],
}

/// Decodes the block at the start of `bytes`; `None` if it is short, torn or corrupt.
pub(super) fn decode_block(bytes: &[u8]) -> Option<(Block<'_>, usize)> {
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

pub(super) fn encode_block(first_seq: u64, records: &[TickRecord], out: &mut Vec<u8>) {
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

pub(super) fn read_record(bytes: &[u8]) -> TickRecord {
    let mut b = [0u8; RECORD_BYTES];
    b.copy_from_slice(bytes);
    TickRecord::from_le_bytes(&b)
}
