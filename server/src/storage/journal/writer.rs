//! The appending side: blocks per batch, segment rotation, the flush policy and retention.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use tickd_protocol::TickRecord;

use super::format::{encode_block, segment_name, segments, symbol_record};
use super::{Definition, FlushPolicy, JournalConfig};

/// The appending side: owned by the sequencer.
///
/// A failed append or commit (a full disk, an IO error) leaves the journal as it was after the
/// last successful commit: the partial block is cut off (`set_len`), so the next append after
/// the disk recovers continues a readable journal. Under `--journal-flush batch` a block
/// counts as committed once fdatasync returned; under the other policies, once written.
#[derive(Debug)]
pub struct Journal {
    config: JournalConfig,
    file: File,
    segment_len: u64,
    /// The current segment's length after the last successful commit.
    committed_len: u64,
    /// A failed append or commit could not be cut off yet: retried before the next append.
    torn: bool,
    buf: Vec<u8>,
    last_sync: Instant,
    /// fdatasync latency (`tickd_journal_sync_seconds`).
    sync_seconds: metrics::Histogram,
    dirty: bool,
}

impl Journal {
    /// Opens the journal in `config.dir` for appending after `last_seq` (from [`recover`](super::recover())).
    ///
    /// # Errors
    ///
    /// If the directory or segment cannot be created or opened.
    pub fn open(config: JournalConfig, last_seq: u64) -> anyhow::Result<Self> {
        tickd_shm::private_dir(&config.dir).context("the journal directory")?;
        let (file, len) = match segments(&config.dir)?.last() {
            Some((_, path)) => {
                let mut f = OpenOptions::new()
                    .append(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(path)
                    .with_context(|| format!("open {}", path.display()))?;
                let len = f.seek(SeekFrom::End(0))?;
                (f, len)
            }
            None => Self::create_segment(&config.dir, last_seq + 1)?,
        };
        Ok(Self {
            config,
            file,
            segment_len: len,
            committed_len: len,
            torn: false,
            buf: Vec::with_capacity(1 << 20),
            last_sync: Instant::now(),
            sync_seconds: crate::metrics::journal_sync(),
            dirty: false,
        })
    }

    fn create_segment(dir: &Path, first_seq: u64) -> anyhow::Result<(File, u64)> {
        let path = dir.join(segment_name(first_seq));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(tickd_shm::FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
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
    /// If the write fails, or a failed block could not be cut off. Nothing of this block is
    /// then kept; the sequencer answers the batch with the error and retries later.
    pub fn append(&mut self, symbols: &[Definition], ticks: &[TickRecord]) -> anyhow::Result<()> {
        if symbols.is_empty() && ticks.is_empty() {
            return Ok(());
        }
        if self.torn {
            self.cut_back()?;
        }
        let written = self.write_block(symbols, ticks);
        if written.is_err() {
            let _ = self.cut_back();
        }
        written
    }

    /// Cuts the current segment back to its length at the last successful commit.
    fn cut_back(&mut self) -> anyhow::Result<()> {
        self.torn = true;
        self.file
            .set_len(self.committed_len)
            .context("cut a failed block off the journal")?;
        self.segment_len = self.committed_len;
        self.torn = false;
        Ok(())
    }

    fn write_block(&mut self, symbols: &[Definition], ticks: &[TickRecord]) -> anyhow::Result<()> {
        let first_seq = ticks.first().map_or(0, |t| t.seq);
        if self.segment_len >= self.config.segment_bytes && first_seq != 0 {
            self.sync()?;
            let (file, len) = Self::create_segment(&self.config.dir, first_seq)?;
            self.file = file;
            self.segment_len = len;
            self.committed_len = len;
            self.apply_retention()?;
        }
        self.buf.clear();
        let defs: Vec<TickRecord> = symbols
            .iter()
            .map(|&(id, s, scales)| symbol_record(id, &s, scales))
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
    /// If fdatasync fails: under `batch` the uncommitted blocks are cut off (they were never
    /// visible); under `interval` the blocks stay (they were published already, as that policy
    /// allows) and the error is reported.
    pub fn commit(&mut self) -> anyhow::Result<()> {
        let synced = match self.config.flush {
            FlushPolicy::None => Ok(()),
            FlushPolicy::Batch => self.sync(),
            FlushPolicy::Interval(every) if self.last_sync.elapsed() >= every => self.sync(),
            FlushPolicy::Interval(_) => Ok(()),
        };
        match (&synced, self.config.flush) {
            (Err(_), FlushPolicy::Batch) => {
                let _ = self.cut_back();
            }
            _ => self.committed_len = self.segment_len,
        }
        synced
    }

    /// fdatasync now (shutdown, or a due interval).
    ///
    /// # Errors
    ///
    /// If fdatasync fails.
    pub fn sync(&mut self) -> anyhow::Result<()> {
        if self.dirty {
            let started = Instant::now();
            self.file.sync_data().context("sync the journal")?;
            self.sync_seconds.record(started.elapsed().as_secs_f64());
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
