//! Reading records back by seq, for gap fill beyond the ring: a [`JournalCursor`] keeps its
//! place (segment and byte offset), so reading a range chunk by chunk costs O(records read),
//! whatever the block sizes, never a rescan from the segment's start per chunk.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use tickd_protocol::{Seq, TickRecord};

use super::format::{HEADER_BYTES, RECORD_BYTES, SYMBOL_KIND, decode_block, read_record, segments};

/// Bytes read ahead per syscall.
const READ_AHEAD: usize = 256 << 10;

/// A reader's place in the journal: the next seq it returns and where that seq's block is.
#[derive(Debug)]
pub struct JournalCursor {
    dir: PathBuf,
    /// The next seq to return.
    next: u64,
    /// The open segment: its first seq, the file, and the offset of the next block to read.
    at: Option<(u64, File, u64)>,
    /// Read-ahead of the open segment: `buf` holds its bytes from offset `buf_at` (one read
    /// syscall per [`READ_AHEAD`] bytes, however small the blocks).
    buf: Vec<u8>,
    buf_at: u64,
    /// Bytes read from segments so far.
    bytes_read: u64,
}

impl JournalCursor {
    /// A cursor in the journal in `dir` that reads from seq `from` on.
    pub fn new(dir: &Path, from: Seq) -> Self {
        Self {
            dir: dir.to_owned(),
            next: from.0,
            at: None,
            buf: Vec::new(),
            buf_at: 0,
            bytes_read: 0,
        }
    }

    /// Bytes this cursor has read from the journal's files (each once, through the
    /// read-ahead, unless the cursor moves back).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The next seq [`JournalCursor::read`] returns.
    pub fn next_seq(&self) -> Seq {
        Seq(self.next)
    }

    /// Moves to `seq` (a reader that resumes elsewhere). Keeps the open segment when `seq` is
    /// at or after the cursor; otherwise the next read finds its segment again.
    pub fn seek(&mut self, seq: Seq) {
        if seq.0 < self.next {
            self.at = None;
        }
        self.next = seq.0;
    }

    /// Up to `max` records from the cursor on, in seq order (ticks and control records, not
    /// symbol definitions), and advances past them. Fewer (or none) when the journal ends: the
    /// block being written is read again by the next call. Records before the journal's first
    /// retained seq are not there: the first record returned then has a later seq.
    ///
    /// # Errors
    ///
    /// If a segment cannot be listed, opened or read.
    pub fn read(&mut self, max: usize) -> anyhow::Result<Vec<TickRecord>> {
        // The read-ahead lives for one call: the file's tail may change between calls (a block
        // the writer cut off after a failed sync is written again differently).
        self.buf.clear();
        let mut out = Vec::new();
        while out.len() < max {
            if self.at.is_none() && !self.open()? {
                break;
            }
            if !self.read_block(max, &mut out)? && !self.next_segment()? {
                break;
            }
        }
        Ok(out)
    }

    /// Opens the segment holding `next` at its start; false if there is none.
    fn open(&mut self) -> anyhow::Result<bool> {
        let segs = segments(&self.dir)?;
        let Some(i) = segs
            .iter()
            .rposition(|(first, _)| *first <= self.next)
            .or(if segs.is_empty() { None } else { Some(0) })
        else {
            return Ok(false);
        };
        let (first, path) = &segs[i];
        let file = File::open(path).with_context(|| format!("open {}", path.display()))?;
        self.at = Some((*first, file, 0));
        self.buf.clear();
        Ok(true)
    }

    /// Moves to the segment after the open one, if it exists; false if there is none.
    fn next_segment(&mut self) -> anyhow::Result<bool> {
        let Some((current, ..)) = self.at else {
            return Ok(false);
        };
        let segs = segments(&self.dir)?;
        let Some((first, path)) = segs.into_iter().find(|(first, _)| *first > current) else {
            return Ok(false);
        };
        let file = File::open(&path).with_context(|| format!("open {}", path.display()))?;
        self.at = Some((first, file, 0));
        self.buf.clear();
        Ok(true)
    }

    /// The `len` bytes of the open segment at `offset`, from the read-ahead (refilled from
    /// `offset` when they are not all in it); `None` past the end of the file.
    fn bytes_at(&mut self, offset: u64, len: usize) -> anyhow::Result<Option<&[u8]>> {
        let Some((_, file, _)) = &self.at else {
            return Ok(None);
        };
        let start = offset.checked_sub(self.buf_at).map(|s| s as usize);
        let cached = start.filter(|&s| s + len <= self.buf.len());
        let start = match cached {
            Some(s) => s,
            None => {
                self.buf.resize(len.max(READ_AHEAD), 0);
                let mut filled = 0;
                while filled < self.buf.len() {
                    let n = file
                        .read_at(&mut self.buf[filled..], offset + filled as u64)
                        .context("read a journal segment")?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                self.buf.truncate(filled);
                self.buf_at = offset;
                self.bytes_read += filled as u64;
                if filled < len {
                    return Ok(None);
                }
                0
            }
        };
        Ok(Some(&self.buf[start..start + len]))
    }

    /// Reads the block at the cursor's offset into `out` (its records from `next` on, up to
    /// `max` in all); false at the end of the segment's complete blocks.
    fn read_block(&mut self, max: usize, out: &mut Vec<TickRecord>) -> anyhow::Result<bool> {
        let Some((_, _, offset)) = self.at else {
            return Ok(false);
        };
        let Some(header) = self.bytes_at(offset, HEADER_BYTES)? else {
            return Ok(false);
        };
        let word =
            |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        let count = word(4) as usize;
        let mut seq_bytes = [0u8; 8];
        seq_bytes.copy_from_slice(&header[8..16]);
        let first_seq = u64::from_le_bytes(seq_bytes);
        let len = HEADER_BYTES + count * RECORD_BYTES;
        let ends = first_seq + count as u64;
        // A block that ends before `next` is stepped over without decoding its records (a
        // block of only symbol definitions has first seq 0 and is decoded, and yields nothing).
        if first_seq == 0 || ends > self.next {
            let next = self.next;
            // The block being written is not all there yet: read again next time.
            let Some(bytes) = self.bytes_at(offset, len)? else {
                return Ok(false);
            };
            let Some((block, _)) = decode_block(bytes) else {
                return Ok(false);
            };
            let room = max - out.len();
            let mut taken = 0;
            let mut last = None;
            let mut full = false;
            for raw in block.records.chunks_exact(RECORD_BYTES) {
                let r = read_record(raw);
                if r.kind == SYMBOL_KIND || r.seq < next {
                    continue;
                }
                if taken == room {
                    full = true;
                    break;
                }
                last = Some(r.seq);
                out.push(r);
                taken += 1;
            }
            if let Some(last) = last {
                self.next = last + 1;
            }
            if full {
                // The rest of this block is for the next call: stay on it.
                return Ok(true);
            }
        }
        if let Some((_, _, at)) = &mut self.at {
            *at += len as u64;
        }
        Ok(true)
    }
}

/// Up to `max` records from `from` on, read from the journal in `dir` (a one-off
/// [`JournalCursor`]).
///
/// # Errors
///
/// If a segment cannot be read.
pub fn read_from(dir: &Path, from: Seq, max: usize) -> anyhow::Result<Vec<TickRecord>> {
    JournalCursor::new(dir, from).read(max)
}
