//! The shared file header: magic, layout version, what the file holds, and the published
//! position, each on its own 128-byte line. Layout pinned by the `const` block below.

use crate::sync::atomic::{AtomicU32, AtomicU64};

/// First eight bytes of every tickd shm file: `"TICKDSHM"` as a little-endian `u64`.
pub const MAGIC: u64 = u64::from_le_bytes(*b"TICKDSHM");
/// Version of this file layout. Bumped on any change to the file header or the slot format.
/// 2: directory entries carry a tag (tickd: the instrument's scales); a reader of version 1
/// would read those instruments' records with the wrong scales, so it refuses the file.
pub const LAYOUT_VERSION: u64 = 2;
/// Size of the header in bytes; payload (slots, entries or cells) starts here.
pub const HEADER_BYTES: usize = 384;

/// What a file holds, stored in the header's `kind` word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum FileKind {
    /// A broadcast ring ([`crate::Writer`], [`crate::Reader`]).
    Ring = 1,
    /// A name directory ([`crate::DirectoryWriter`], [`crate::DirectoryReader`]).
    Directory = 2,
    /// A latest-value table ([`crate::TableWriter`], [`crate::TableReader`]).
    Table = 3,
}

impl FileKind {
    pub(crate) const fn from_u32(raw: u32) -> Option<Self> {
        match raw {
            1 => Some(Self::Ring),
            2 => Some(Self::Directory),
            3 => Some(Self::Table),
            _ => None,
        }
    }
}

/// First [`HEADER_BYTES`] bytes of every file.
///
/// Lives in memory that other processes map, so every field is an atomic (valid for any bit
/// pattern, no data race even on write-once fields), padding included. No pointers: positions
/// are sequence numbers and counts.
#[repr(C, align(128))]
#[derive(Debug)]
pub(crate) struct Header {
    /// [`MAGIC`].
    pub(crate) magic: AtomicU64,
    /// 0 while the creator initialises the file, then [`LAYOUT_VERSION`].
    /// SYNC(H0): stored with Release after every other field is initialised (`Mapping::create`);
    /// `Mapping::open` loads it with Acquire and refuses any other non-zero value.
    pub(crate) layout_version: AtomicU64,
    /// A [`FileKind`] value.
    pub(crate) kind: AtomicU32,
    /// Size of one slot, entry or cell, in 8-byte words.
    pub(crate) slot_words: AtomicU32,
    /// Number of slots, entries or cells. For rings a power of two.
    pub(crate) capacity: AtomicU64,
    /// The writer's epoch: identity of the history in this file.
    pub(crate) epoch: AtomicU64,
    /// For rings: the seq before the first one written (the file starts "empty at" this seq).
    pub(crate) base_seq: AtomicU64,
    _pad0: [AtomicU64; 10],
    /// Published position. Rings: the last published seq. Directories: the number of entries.
    /// Tables: unused. Own line: readers poll it.
    /// SYNC(H1): stored with Release by the writer after the records it covers; loaded with
    /// Acquire by readers before they read those records.
    pub(crate) head: AtomicU64,
    _pad1: [AtomicU64; 15],
    /// Futex word: bumped by the writer on every publish; parked readers wait on it.
    /// SYNC(N1): see `wait.rs`.
    pub(crate) notify: AtomicU32,
    _pad2: AtomicU32,
    _pad3: [AtomicU64; 15],
}

#[cfg(not(shm_loom))]
const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<Header>() == HEADER_BYTES);
    assert!(align_of::<Header>() == 128);
    assert!(offset_of!(Header, magic) == 0);
    assert!(offset_of!(Header, layout_version) == 8);
    assert!(offset_of!(Header, kind) == 16);
    assert!(offset_of!(Header, slot_words) == 20);
    assert!(offset_of!(Header, capacity) == 24);
    assert!(offset_of!(Header, epoch) == 32);
    assert!(offset_of!(Header, base_seq) == 40);
    assert!(offset_of!(Header, head) == 128);
    assert!(offset_of!(Header, notify) == 256);
};

impl Header {
    /// A zeroed header on the heap, for loom models and unit tests that run without a mapping.
    #[cfg(shm_loom)]
    pub(crate) fn new_zeroed() -> Self {
        let z = || AtomicU64::new(0);
        Self {
            magic: z(),
            layout_version: z(),
            kind: AtomicU32::new(0),
            slot_words: AtomicU32::new(0),
            capacity: z(),
            epoch: z(),
            base_seq: z(),
            _pad0: std::array::from_fn(|_| z()),
            head: z(),
            _pad1: std::array::from_fn(|_| z()),
            notify: AtomicU32::new(0),
            _pad2: AtomicU32::new(0),
            _pad3: std::array::from_fn(|_| z()),
        }
    }
}
