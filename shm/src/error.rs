//! Errors of creating and opening shm files.

use std::io;
use std::path::PathBuf;

use crate::layout::FileKind;

/// Why a requested shape is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Ring capacity is not a power of two, or below 2.
    #[error("ring capacity {0} is not a power of two >= 2")]
    Capacity(u64),
    /// Slot size below two words (a stamp and one payload word) or above `u32::MAX` words.
    #[error("slot size of {0} words is out of range")]
    SlotWords(usize),
    /// A directory or table with no room.
    #[error("capacity must be at least 1")]
    Empty,
}

/// Why a file could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateError {
    /// The requested shape is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A filesystem call failed.
    #[error("{op} {path}")]
    Io {
        /// What was being done (`create`, `resize`, `map`, …).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The requested size does not fit in memory.
    #[error("{path}: {capacity} slots of {slot_words} words do not fit in memory")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Requested slots.
        capacity: u64,
        /// Requested words per slot.
        slot_words: usize,
    },
}

/// Why a file could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A filesystem call failed.
    #[error("{op} {path}")]
    Io {
        /// What was being done (`open`, `map`, …).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The creator had not finished initialising the file when the timeout ran out.
    #[error("{path}: still being initialised by its creator")]
    Initializing {
        /// The file.
        path: PathBuf,
    },
    /// The file does not start with [`crate::MAGIC`]: not a tickd shm file, or corrupted.
    #[error("{path}: bad magic {found:#018x} (not a tickd shm file, or corrupted)")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first eight bytes, as a little-endian `u64`.
        found: u64,
    },
    /// The file was written with another layout version.
    #[error(
        "{path}: layout version {found}, this build reads version {expected}: the writer and \
         this reader are different releases; restart the writer with this release (it recreates \
         its shm files) or use a reader of the writer's release"
    )]
    VersionMismatch {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u64,
        /// [`crate::LAYOUT_VERSION`].
        expected: u64,
    },
    /// The file holds another kind of structure.
    #[error("{path}: holds kind {found}, expected {expected:?}")]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// Kind word in the file.
        found: u32,
        /// Kind asked for.
        expected: FileKind,
    },
    /// The slot size in the file differs from the one asked for.
    #[error("{path}: slots are {found} words, expected {expected}")]
    SlotSizeMismatch {
        /// The file.
        path: PathBuf,
        /// Words per slot in the file.
        found: u32,
        /// Words per slot asked for.
        expected: usize,
    },
    /// The header's capacity is invalid or the file is shorter than it implies.
    #[error("{path}: header says {capacity} slots ({needed} bytes) but the file is {len} bytes")]
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// Capacity in the header.
        capacity: u64,
        /// Bytes the header implies.
        needed: u64,
        /// Actual file length.
        len: u64,
    },
}
