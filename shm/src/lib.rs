//! Lock-free shared-memory structures in memory-mapped files (DESIGN.md §4): a single-writer,
//! many-reader broadcast ring of fixed-size seqlock slots, an append-only name directory, and
//! a latest-value table. Readers may live in other processes and map the files read-only.
//!
//! This crate carries words, not market data: a record is `[u64; W]` whose word 0 the ring
//! owns (it holds the record's sequence number). `tickd-protocol` gives those words meaning.
//!
//! - [`Writer`] / [`Reader`]: the broadcast ring. The writer never blocks; a reader that falls
//!   a lap behind gets [`ReadOutcome::Overrun`] with the oldest seq still readable.
//! - [`DirectoryWriter`] / [`DirectoryReader`]: names (≤ 32 bytes) ↔ dense ids.
//! - [`TableWriter`] / [`TableReader`]: newest record per cell.
//! - [`WaitStrategy`]: spin, or spin then park on a cross-process futex.
//!
//! Every file starts with a header (magic, layout version, kind, slot size, capacity, epoch)
//! written with an init handshake: an opener never sees a half-made file. Files are created
//! with mode 0640.
//!
//! ```
//! use std::time::Duration;
//! use tickd_shm::{ReadOutcome, Reader, RingConfig, Writer};
//!
//! let dir = std::env::temp_dir().join(format!("tickd-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("ticks.ring");
//! let mut writer = Writer::<8>::create(&path, &RingConfig { capacity_slots: 1024, ..RingConfig::default() })?;
//! let mut reader = Reader::<8>::open(&path, Duration::from_secs(1))?;
//!
//! writer.push(&[0, 1, 2, 3, 4, 5, 6, 7]);
//! writer.publish();
//!
//! let mut record = [0u64; 8];
//! assert_eq!(reader.try_read(&mut record), ReadOutcome::Record(1));
//! assert_eq!(record, [1, 1, 2, 3, 4, 5, 6, 7]); // word 0 is the seq
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Verification
//!
//! Loom models of the slot seqlock, head publication, directory and table run with
//! `RUSTFLAGS="--cfg shm_loom" cargo test -p tickd-shm --profile loom --lib loom`;
//! `tests/cross_process.rs` runs a reader in a child process against a writer in the parent.
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(shm_loom, allow(dead_code, unused_imports))]

mod broadcast;
mod directory;
mod error;
mod layout;
#[cfg(not(shm_loom))]
mod mapping;
#[cfg(not(shm_loom))]
mod private;
mod slot;
mod sync;
mod table;
mod wait;

pub use broadcast::{ReadOutcome, RingConfig};
#[cfg(not(shm_loom))]
pub use broadcast::{Reader, Writer};
#[cfg(not(shm_loom))]
pub use directory::{DirectoryReader, DirectoryWriter};
pub use directory::{InsertError, Name};
pub use error::{ConfigError, CreateError, OpenError};
pub use layout::{FileKind, HEADER_BYTES, LAYOUT_VERSION, MAGIC};
#[cfg(not(shm_loom))]
pub use mapping::FILE_MODE;
#[cfg(not(shm_loom))]
pub use private::{DIR_MODE, PrivateDirError, effective_uid, private_dir};
pub use table::TableError;
#[cfg(not(shm_loom))]
pub use table::{StalledWriter, TableReader, TableWriter};
pub use wait::WaitStrategy;
