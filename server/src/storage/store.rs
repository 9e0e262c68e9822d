//! The shared-memory files the sequencer writes (DESIGN.md §4): tick ring, candle-update ring,
//! symbol directory and latest-value table, named as in [`tickd_protocol::files`].

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use tickd_protocol::files::{
    CANDLE_SLOT_WORDS, CANDLES_RING, LATEST_CELL_WORDS, LATEST_TABLE, SYMBOLS_DIR, TICK_SLOT_WORDS,
    TICKS_RING,
};
use tickd_shm::{DirectoryWriter, RingConfig, TableWriter, Writer};

/// Sizes of the shm files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// Tick ring slots (power of two; 64 bytes each).
    pub tick_slots: u64,
    /// Candle ring slots (power of two; 136 bytes each).
    pub candle_slots: u64,
    /// Most instruments (directory entries; two latest cells each).
    pub max_instruments: u32,
}

impl Default for StoreConfig {
    /// 2^22 ticks (256 MiB), 2^16 candle updates, 65,536 instruments.
    fn default() -> Self {
        Self {
            tick_slots: 1 << 22,
            candle_slots: 1 << 16,
            max_instruments: 65_536,
        }
    }
}

/// The writers of every shm file. Owned by the sequencer thread.
#[derive(Debug)]
pub struct Store {
    /// Tick ring.
    pub ticks: Writer<TICK_SLOT_WORDS>,
    /// Candle-update ring.
    pub candles: Writer<CANDLE_SLOT_WORDS>,
    /// Symbol directory.
    pub symbols: DirectoryWriter,
    /// Latest trade and quote per instrument.
    pub latest: TableWriter<LATEST_CELL_WORDS>,
    /// The directory holding them.
    pub dir: PathBuf,
    /// Exclusive lock on `dir/.lock`, held while this store lives: one writer per directory.
    _lock: std::fs::File,
}

impl Store {
    /// Creates (or replaces) the files in `dir`, for history `epoch` continuing after
    /// `base_seq`.
    ///
    /// # Errors
    ///
    /// If the directory or a file cannot be created.
    pub fn create(
        dir: &Path,
        config: &StoreConfig,
        epoch: u64,
        base_seq: u64,
    ) -> anyhow::Result<Self> {
        // Only tickd may write where co-located readers map the ring from.
        tickd_shm::private_dir(dir).context("the shm directory")?;
        let lock_path = dir.join(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(tickd_shm::FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&lock_path)
            .with_context(|| format!("open {}", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                anyhow::bail!(
                    "another tickd is serving from {} (choose another --shm-dir)",
                    dir.display()
                )
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("lock {}", lock_path.display()));
            }
        }
        let ring = |slots| RingConfig {
            capacity_slots: slots,
            epoch,
            base_seq,
        };
        Ok(Self {
            ticks: Writer::create(&dir.join(TICKS_RING), &ring(config.tick_slots))?,
            candles: Writer::create(
                &dir.join(CANDLES_RING),
                &RingConfig {
                    base_seq: 0,
                    ..ring(config.candle_slots)
                },
            )?,
            symbols: DirectoryWriter::create(
                &dir.join(SYMBOLS_DIR),
                config.max_instruments,
                epoch,
            )?,
            latest: TableWriter::create(
                &dir.join(LATEST_TABLE),
                config.max_instruments.saturating_mul(2),
                epoch,
            )?,
            dir: dir.to_owned(),
            _lock: lock,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_writer_per_directory() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig {
            tick_slots: 16,
            candle_slots: 16,
            max_instruments: 4,
        };
        let first = Store::create(dir.path(), &config, 1, 0).unwrap();
        let err = Store::create(dir.path(), &config, 2, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "another tickd is serving from {} (choose another --shm-dir)",
                dir.path().display()
            )
        );
        drop(first);
        Store::create(dir.path(), &config, 3, 0).unwrap();
    }
}
