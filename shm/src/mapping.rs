//! Memory-mapped files: creation with the init handshake, validated opening, and the one place
//! where pointers become references.
//!
//! Files are mapped with [`memmap2::MmapRaw`], which never hands out references to its
//! interior, only raw pointers: other processes write this memory, so a `&mut [u8]` would claim
//! an exclusivity that does not exist. Files are never truncated while mapped (that would turn
//! reads into SIGBUS): re-creating a file unlinks the old one, whose existing mappings stay valid.

use std::fs::{self, File, OpenOptions, Permissions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::{Duration, Instant};

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{CreateError, OpenError};
use crate::layout::{FileKind, HEADER_BYTES, Header, LAYOUT_VERSION, MAGIC};
use crate::slot::Slot;

/// Mode of every created file: owner read-write, group read (readers map read-only).
pub const FILE_MODE: u32 = 0o640;

/// What to put in a new file's header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub(crate) kind: FileKind,
    pub(crate) slot_words: usize,
    pub(crate) capacity: u64,
    pub(crate) epoch: u64,
    pub(crate) base_seq: u64,
}

/// A mapped tickd shm file whose header has been validated.
#[derive(Debug)]
pub(crate) struct Mapping {
    map: MmapRaw,
    path: PathBuf,
    slot_words: usize,
    capacity: u64,
}

fn total_bytes(slot_words: usize, capacity: u64) -> Option<u64> {
    let slot_bytes = u64::try_from(slot_words).ok()?.checked_mul(8)?;
    slot_bytes
        .checked_mul(capacity)?
        .checked_add(HEADER_BYTES as u64)
}

impl Mapping {
    /// Creates (or replaces) the file at `path` and initialises its header.
    ///
    /// Handshake: the file is created zero-filled, so `layout_version` reads 0 until the very
    /// last store below; openers wait for it (see [`Mapping::open`]).
    pub(crate) fn create(path: &Path, shape: Shape) -> Result<Self, CreateError> {
        let io = |op| {
            move |source| CreateError::Io {
                op,
                path: path.to_owned(),
                source,
            }
        };
        let len = total_bytes(shape.slot_words, shape.capacity)
            .filter(|&len| usize::try_from(len).is_ok())
            .ok_or_else(|| CreateError::TooLarge {
                path: path.to_owned(),
                capacity: shape.capacity,
                slot_words: shape.slot_words,
            })?;
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("remove old")(e)),
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(path)
            .map_err(io("create"))?;
        // The umask may have cleared bits of FILE_MODE; set it exactly.
        file.set_permissions(Permissions::from_mode(FILE_MODE))
            .map_err(io("chmod"))?;
        file.set_len(len).map_err(io("resize"))?;
        // Populated: every page is allocated and mapped now, so the writer's first lap takes no
        // page fault on the hot path (a fault per 64 records otherwise).
        let map = MmapOptions::new()
            .populate()
            .map_raw(&file)
            .map_err(io("map"))?;
        let mapping = Self {
            map,
            path: path.to_owned(),
            slot_words: shape.slot_words,
            capacity: shape.capacity,
        };
        let h = mapping.header();
        // Relaxed: none of these is read before the Release store of `layout_version` below,
        // which orders them all (SYNC(H0)).
        h.magic.store(MAGIC, Relaxed);
        h.kind.store(shape.kind as u32, Relaxed);
        // `slot_words` is at most `u32::MAX` words for every kind this crate creates (checked
        // by the typed constructors), so the cast is lossless.
        h.slot_words.store(shape.slot_words as u32, Relaxed);
        h.capacity.store(shape.capacity, Relaxed);
        h.epoch.store(shape.epoch, Relaxed);
        h.base_seq.store(shape.base_seq, Relaxed);
        h.head.store(shape.base_seq, Relaxed);
        // SYNC(H0): publish the initialised header; pairs with the Acquire load in `open`.
        h.layout_version.store(LAYOUT_VERSION, Release);
        Ok(mapping)
    }

    /// Opens and validates the file at `path`, mapped read-only, waiting up to `timeout` for a
    /// creator that is still initialising it.
    pub(crate) fn open(
        path: &Path,
        kind: FileKind,
        slot_words: usize,
        timeout: Duration,
    ) -> Result<Self, OpenError> {
        let io = |op| {
            move |source| OpenError::Io {
                op,
                path: path.to_owned(),
                source,
            }
        };
        let deadline = Instant::now() + timeout;
        loop {
            let file = File::open(path).map_err(io("open"))?;
            let len = file.metadata().map_err(io("stat"))?.len();
            if len < HEADER_BYTES as u64 {
                // Created but not yet sized: the creator is initialising.
                if Instant::now() >= deadline {
                    return Err(OpenError::Initializing {
                        path: path.to_owned(),
                    });
                }
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            // Populated: a reader takes no page fault as it first crosses each page.
            let map = MmapOptions::new()
                .populate()
                .map_raw_read_only(&file)
                .map_err(io("map"))?;
            let mut mapping = Self {
                map,
                path: path.to_owned(),
                slot_words: 0,
                capacity: 0,
            };
            match mapping.validate(kind, slot_words, len)? {
                true => return Ok(mapping),
                false if Instant::now() >= deadline => {
                    return Err(OpenError::Initializing {
                        path: path.to_owned(),
                    });
                }
                false => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    /// Checks the header; `Ok(false)` while the creator is still initialising.
    fn validate(&mut self, kind: FileKind, slot_words: usize, len: u64) -> Result<bool, OpenError> {
        let path = || self.path.clone();
        let h = self.header();
        // SYNC(H0): pairs with the Release store that ends `create`.
        let version = h.layout_version.load(Acquire);
        // Relaxed: every field below was ordered by the Acquire load above.
        let magic = h.magic.load(Relaxed);
        if version == 0 {
            // A zero magic too means "not written yet"; anything else is a corrupt header.
            return if magic == 0 || magic == MAGIC {
                Ok(false)
            } else {
                Err(OpenError::BadMagic {
                    path: path(),
                    found: magic,
                })
            };
        }
        if magic != MAGIC {
            return Err(OpenError::BadMagic {
                path: path(),
                found: magic,
            });
        }
        if version != LAYOUT_VERSION {
            return Err(OpenError::VersionMismatch {
                path: path(),
                found: version,
                expected: LAYOUT_VERSION,
            });
        }
        let found_kind = h.kind.load(Relaxed);
        if FileKind::from_u32(found_kind) != Some(kind) {
            return Err(OpenError::WrongKind {
                path: path(),
                found: found_kind,
                expected: kind,
            });
        }
        let found_words = h.slot_words.load(Relaxed);
        if found_words as usize != slot_words {
            return Err(OpenError::SlotSizeMismatch {
                path: path(),
                found: found_words,
                expected: slot_words,
            });
        }
        let capacity = h.capacity.load(Relaxed);
        let needed = total_bytes(slot_words, capacity);
        let ring_ok = kind != FileKind::Ring || capacity.is_power_of_two();
        match needed {
            Some(needed) if needed <= len && capacity > 0 && ring_ok => {}
            _ => {
                return Err(OpenError::SizeMismatch {
                    path: path(),
                    capacity,
                    needed: needed.unwrap_or(u64::MAX),
                    len,
                });
            }
        }
        self.slot_words = slot_words;
        self.capacity = capacity;
        Ok(true)
    }

    /// Number of slots (validated against the file length).
    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The shared header at offset 0.
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: every constructor checked that the mapping is at least HEADER_BYTES long
        // (`create` sized it, `open` checked the file length before mapping). mmap returns
        // page-aligned memory, which satisfies `align_of::<Header>()` (128). Every field of
        // `Header` is an atomic, so any bytes another process wrote form a valid `Header` and
        // shared access races no plain data. The borrow is tied to `&self`, which owns the
        // mapping (files are never truncated while mapped).
        unsafe { &*self.map.as_ptr().cast::<Header>() }
    }

    /// The payload as `capacity` slots of `W` words.
    ///
    /// # Panics
    ///
    /// If `W` differs from the validated slot size (an internal bug: typed handles pass
    /// their own `W` to `create`/`open`).
    pub(crate) fn slots<const W: usize>(&self) -> &[Slot<W>] {
        assert_eq!(W, self.slot_words, "slot size was validated for another W");
        // `total_bytes` fit in usize when the file was created or validated.
        let count = self.capacity as usize;
        // In bounds (see below); `wrapping_add` keeps the pointer arithmetic out of `unsafe`.
        let payload = self
            .map
            .as_ptr()
            .wrapping_add(HEADER_BYTES)
            .cast::<Slot<W>>();
        // SAFETY: `create`/`validate` checked HEADER_BYTES + capacity * W * 8 <= mapping length,
        // and W == slot_words was asserted above, so the range is inside the mapping. The
        // payload starts at HEADER_BYTES (384), a multiple of 8 from a page-aligned base, which
        // satisfies `align_of::<Slot<W>>()` (8). `Slot<W>` is `repr(C)` atomics only, so every
        // bit pattern is valid and shared access races no plain data. The borrow is tied to
        // `&self`, which owns the mapping.
        unsafe { std::slice::from_raw_parts(payload, count) }
    }
}
