//! An append-only name directory: names of up to 32 bytes ↔ dense `u32` ids, assigned in
//! insertion order, in a shared file so other processes can resolve ids without the writer.
//! Each entry also carries an opaque `u64` tag, set once with the name (tickd keeps an
//! instrument's decimal scales there); 0 when none was given.
//!
//! Entry `id` is stored as message `id + 1` of a seqlock [`Slot`] (written once, never again);
//! the header's `head` holds the number of entries and is published with Release after the
//! entry (SYNC(H1)), so a reader that loads the count with Acquire sees every entry below it
//! whole.

#[cfg(not(shm_loom))]
use std::collections::HashMap;
#[cfg(not(shm_loom))]
use std::path::Path;
#[cfg(not(shm_loom))]
use std::time::Duration;

#[cfg(not(shm_loom))]
use crate::layout::FileKind;
use crate::layout::Header;
#[cfg(not(shm_loom))]
use crate::mapping::{Mapping, Shape};
use crate::slot::{Slot, SlotRead};
use crate::sync::atomic::Ordering::{Acquire, Release};
#[cfg(not(shm_loom))]
use crate::{ConfigError, CreateError, OpenError};

/// Words per directory entry: stamp, length, 4 words of name bytes, the tag, 1 reserved.
pub(crate) const ENTRY_WORDS: usize = 8;

/// A directory name: 1 to [`Name::MAX_LEN`] bytes, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name {
    len: u8,
    bytes: [u8; Self::MAX_LEN],
}

impl Name {
    /// Longest name, in bytes.
    pub const MAX_LEN: usize = 32;

    /// `bytes` as a name, if it is 1 to 32 bytes long.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || bytes.len() > Self::MAX_LEN {
            return None;
        }
        let mut out = [0; Self::MAX_LEN];
        out[..bytes.len()].copy_from_slice(bytes);
        // `len <= 32`, checked above.
        Some(Self {
            len: bytes.len() as u8,
            bytes: out,
        })
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    fn to_entry(self, tag: u64) -> [u64; ENTRY_WORDS] {
        let mut e = [0u64; ENTRY_WORDS];
        e[1] = u64::from(self.len);
        e[6] = tag;
        for (word, chunk) in e[2..6].iter_mut().zip(self.bytes.chunks_exact(8)) {
            let mut b = [0; 8];
            b.copy_from_slice(chunk);
            *word = u64::from_le_bytes(b);
        }
        e
    }

    fn from_entry(e: &[u64; ENTRY_WORDS]) -> Option<Self> {
        let len = usize::try_from(e[1])
            .ok()
            .filter(|l| (1..=Self::MAX_LEN).contains(l))?;
        let mut bytes = [0; Self::MAX_LEN];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(&e[2..6]) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        // `len <= 32`, checked above.
        Some(Self {
            len: len as u8,
            bytes,
        })
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Name({:?})", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// Why a name could not be inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InsertError {
    /// Every entry is used.
    #[error("directory is full ({capacity} entries)")]
    Full {
        /// Entries in the file.
        capacity: u64,
    },
    /// Empty or longer than 32 bytes.
    #[error("name of {len} bytes is not 1 to 32 bytes long")]
    BadName {
        /// Length given.
        len: usize,
    },
    /// The name is present with another tag.
    #[error("the name is present with tag {existing:#x}, not {tag:#x}")]
    TagMismatch {
        /// The tag it has.
        existing: u64,
        /// The tag given.
        tag: u64,
    },
}

/// The directory algorithm over a header and entries (a mapping, or the heap in loom models).
pub(crate) struct Entries<'a> {
    header: &'a Header,
    slots: &'a [Slot<ENTRY_WORDS>],
}

impl<'a> Entries<'a> {
    pub(crate) fn new(header: &'a Header, slots: &'a [Slot<ENTRY_WORDS>]) -> Self {
        Self { header, slots }
    }

    /// Writes entry `id` (= the current count) and publishes the new count. Single writer.
    pub(crate) fn append(&self, id: u64, name: Name, tag: u64) {
        self.slots[id as usize].write(id + 1, &name.to_entry(tag));
        // SYNC(H1): Release orders the entry before the count; pairs with `len`'s Acquire.
        self.header.head.store(id + 1, Release);
    }

    /// Number of published entries.
    pub(crate) fn len(&self) -> u64 {
        // SYNC(H1): pairs with the Release store in `append`.
        self.header.head.load(Acquire).min(self.slots.len() as u64)
    }

    /// Entry `id` and its tag, if it is below a count loaded by this thread.
    pub(crate) fn get(&self, id: u64) -> Option<(Name, u64)> {
        let slot = self.slots.get(usize::try_from(id).ok()?)?;
        let mut e = [0; ENTRY_WORDS];
        match slot.read(id + 1, &mut e) {
            SlotRead::Copied => Name::from_entry(&e).map(|n| (n, e[6])),
            SlotRead::NotYet | SlotRead::Overwritten(_) => None,
        }
    }
}

/// The directory's only writer: assigns ids in insertion order. Not `Clone`.
#[cfg(not(shm_loom))]
#[derive(Debug)]
pub struct DirectoryWriter {
    map: Mapping,
    ids: HashMap<Name, u32>,
}

#[cfg(not(shm_loom))]
impl DirectoryWriter {
    /// Creates the directory file at `path` (replacing any old one) with room for
    /// `capacity` names (64 bytes each), mode 0640.
    ///
    /// # Errors
    ///
    /// [`CreateError`] if `capacity` is 0 or a filesystem call fails.
    pub fn create(path: &Path, capacity: u32, epoch: u64) -> Result<Self, CreateError> {
        if capacity == 0 {
            return Err(ConfigError::Empty.into());
        }
        let shape = Shape {
            kind: FileKind::Directory,
            slot_words: ENTRY_WORDS,
            capacity: u64::from(capacity),
            epoch,
            base_seq: 0,
        };
        Ok(Self {
            map: Mapping::create(path, shape)?,
            ids: HashMap::new(),
        })
    }

    fn entries(&self) -> Entries<'_> {
        Entries::new(self.map.header(), self.map.slots::<ENTRY_WORDS>())
    }

    /// The id of `name`, inserting it with the next id if it is new. O(1) amortised.
    ///
    /// # Errors
    ///
    /// [`InsertError`] if the name is empty or too long, or the directory is full.
    pub fn insert(&mut self, name: &[u8]) -> Result<u32, InsertError> {
        self.insert_tagged(name, 0)
    }

    /// The id of `name`, inserting it with the next id and `tag` if it is new. O(1) amortised.
    ///
    /// # Errors
    ///
    /// [`InsertError`] if the name is empty or too long, the directory is full, or the name is
    /// present with another tag (tags are set once).
    pub fn insert_tagged(&mut self, name: &[u8], tag: u64) -> Result<u32, InsertError> {
        let name = Name::new(name).ok_or(InsertError::BadName { len: name.len() })?;
        if let Some(&id) = self.ids.get(&name) {
            let existing = self.tag(id).unwrap_or(0);
            if existing != tag {
                return Err(InsertError::TagMismatch { existing, tag });
            }
            return Ok(id);
        }
        let id = self.ids.len() as u64;
        if id >= self.map.capacity() {
            return Err(InsertError::Full {
                capacity: self.map.capacity(),
            });
        }
        self.entries().append(id, name, tag);
        // `capacity` came from a u32.
        let id = id as u32;
        self.ids.insert(name, id);
        Ok(id)
    }

    /// The id of `name`, if present.
    pub fn id_of(&self, name: &[u8]) -> Option<u32> {
        self.ids.get(&Name::new(name)?).copied()
    }

    /// The name with id `id`, if present.
    pub fn name(&self, id: u32) -> Option<Name> {
        self.entries().get(u64::from(id)).map(|(n, _)| n)
    }

    /// The tag of id `id`, if present.
    pub fn tag(&self, id: u32) -> Option<u64> {
        self.entries().get(u64::from(id)).map(|(_, t)| t)
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no names.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// A read-only view of a directory, in any process. Caches resolved names locally.
#[cfg(not(shm_loom))]
#[derive(Debug)]
pub struct DirectoryReader {
    map: Mapping,
    ids: HashMap<Name, u32>,
    names: Vec<Name>,
    tags: Vec<u64>,
}

#[cfg(not(shm_loom))]
impl DirectoryReader {
    /// Opens the directory at `path` read-only, waiting up to `timeout` for its creator.
    ///
    /// # Errors
    ///
    /// [`OpenError`] as for [`crate::Reader::open`].
    pub fn open(path: &Path, timeout: Duration) -> Result<Self, OpenError> {
        let map = Mapping::open(path, FileKind::Directory, ENTRY_WORDS, timeout)?;
        Ok(Self {
            map,
            ids: HashMap::new(),
            names: Vec::new(),
            tags: Vec::new(),
        })
    }

    fn entries(&self) -> Entries<'_> {
        Entries::new(self.map.header(), self.map.slots::<ENTRY_WORDS>())
    }

    /// Number of names published so far.
    pub fn len(&self) -> usize {
        // Bounded by the u32 capacity.
        self.entries().len() as usize
    }

    /// Whether no names are published yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pulls names published since the last call into the local cache.
    pub fn refresh(&mut self) {
        let len = self.entries().len();
        while (self.names.len() as u64) < len {
            let id = self.names.len() as u64;
            let Some((name, tag)) = self.entries().get(id) else {
                break;
            };
            // `id < capacity <= u32::MAX`.
            self.ids.insert(name, id as u32);
            self.names.push(name);
            self.tags.push(tag);
        }
    }

    /// The name with id `id`.
    pub fn name(&mut self, id: u32) -> Option<Name> {
        if id as usize >= self.names.len() {
            self.refresh();
        }
        self.names.get(id as usize).copied()
    }

    /// The tag of id `id` (0 if none was given).
    pub fn tag(&mut self, id: u32) -> Option<u64> {
        if id as usize >= self.tags.len() {
            self.refresh();
        }
        self.tags.get(id as usize).copied()
    }

    /// The id of `name`, refreshing the cache on a miss.
    pub fn id_of(&mut self, name: &[u8]) -> Option<u32> {
        let name = Name::new(name)?;
        if let Some(&id) = self.ids.get(&name) {
            return Some(id);
        }
        self.refresh();
        self.ids.get(&name).copied()
    }

    /// Every name in id order.
    pub fn names(&mut self) -> &[Name] {
        self.refresh();
        &self.names
    }
}

#[cfg(all(test, not(shm_loom)))]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_and_resolvable_from_a_reader() {
        let dir = std::env::temp_dir().join(format!("tickd-dir-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("symbols.dir");
        let mut w = DirectoryWriter::create(&path, 3, 1).unwrap();
        let mut r = DirectoryReader::open(&path, Duration::from_secs(1)).unwrap();
        assert_eq!(w.insert(b"AAPL"), Ok(0));
        assert_eq!(w.insert_tagged(b"MSFT", 0x1_0800), Ok(1));
        assert_eq!(w.insert(b"AAPL"), Ok(0));
        assert_eq!(
            w.insert_tagged(b"MSFT", 0x1_0909),
            Err(InsertError::TagMismatch {
                existing: 0x1_0800,
                tag: 0x1_0909
            }),
            "tags are set once"
        );
        assert_eq!(r.id_of(b"MSFT"), Some(1));
        assert_eq!(
            (r.tag(0), r.tag(1), r.tag(2)),
            (Some(0), Some(0x1_0800), None)
        );
        assert_eq!(w.tag(1), Some(0x1_0800));
        assert_eq!(r.name(0).unwrap().as_bytes(), b"AAPL");
        assert_eq!(r.id_of(b"TSLA"), None);
        let long = [b'X'; 32];
        assert_eq!(w.insert(&long), Ok(2));
        assert_eq!(r.name(2).unwrap().as_bytes(), &long);
        assert_eq!(w.insert(b"GOOGL"), Err(InsertError::Full { capacity: 3 }));
        assert_eq!(w.insert(&[b'X'; 33]), Err(InsertError::BadName { len: 33 }));
        assert_eq!(r.names().len(), 3);
    }
}

#[cfg(all(test, shm_loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    /// A reader that sees the count sees every entry below it whole.
    #[test]
    fn loom_published_entries_are_whole() {
        loom::model(|| {
            let header = Arc::new(Header::new_zeroed());
            let slots: Arc<Vec<Slot<ENTRY_WORDS>>> =
                Arc::new((0..2).map(|_| Slot::new()).collect());
            let writer = {
                let (header, slots) = (Arc::clone(&header), Arc::clone(&slots));
                thread::spawn(move || {
                    Entries::new(&header, &slots).append(0, Name::new(b"AAPL").unwrap(), 7)
                })
            };
            let entries = Entries::new(&header, &slots);
            for id in 0..entries.len() {
                assert_eq!(entries.get(id).unwrap().0.as_bytes(), b"AAPL");
                assert_eq!(entries.get(id).unwrap().1, 7);
            }
            writer.join().unwrap();
        });
    }
}
