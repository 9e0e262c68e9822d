//! Reading records back by seq, for gap fill beyond the ring.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use anyhow::Context;
use tickd_protocol::{Seq, TickRecord};

use super::format::{
    BLOCK_MAGIC, HEADER_BYTES, RECORD_BYTES, SYMBOL_KIND, decode_block, read_record, segments,
};

/// Up to `max` tick records from `from_seq` on, read from the journal in `dir` (for gap fill).
/// Streams block by block, seeking over blocks that end before `from_seq`.
///
/// # Errors
///
/// If a segment cannot be read.
pub fn read_from(dir: &Path, from: Seq, max: usize) -> anyhow::Result<Vec<TickRecord>> {
    let from_seq = from.0;
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
