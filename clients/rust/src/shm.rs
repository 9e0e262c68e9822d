//! Reading a co-located server's shared-memory files directly (DESIGN.md §6 "shm readers"):
//! the tick ring, the symbol directory and the latest table, mapped read-only. No server round
//! trip: records arrive as fast as the sequencer publishes them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tickd_protocol::files::{
    LATEST_CELL_WORDS, LATEST_TABLE, SYMBOLS_DIR, TICK_SLOT_WORDS, TICKS_RING, latest_cell,
};
use tickd_protocol::{Epoch, InstrumentId, Scales, Seq, Symbol, TickKind, TickRecord};
use tickd_shm::{
    DirectoryReader, OpenError, ReadOutcome, Reader, StalledWriter, TableReader, WaitStrategy,
};

/// A reader of a server's shm directory.
#[derive(Debug)]
pub struct ShmClient {
    dir: PathBuf,
    ticks: Reader<TICK_SLOT_WORDS>,
    symbols: DirectoryReader,
    latest: TableReader<LATEST_CELL_WORDS>,
}

/// What [`ShmClient::next`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// A record: a tick, or a sequenced control record such as a candle close
    /// ([`TickRecord::candle_close_cutoff`]; its `kind()` is `None`), which takes a seq like
    /// any record.
    Tick(TickRecord),
    /// Records `[from, to]` were overwritten before this reader got to them; the cursor moved
    /// past them.
    Gap {
        /// First lost seq.
        from: Seq,
        /// Last lost seq.
        to: Seq,
    },
    /// Nothing within the wait.
    Idle,
}

impl ShmClient {
    /// Opens the files in `dir` (e.g. `/dev/shm/tickd`).
    ///
    /// # Errors
    ///
    /// [`OpenError`] if a file is missing, not a tickd file, or of another layout.
    pub fn open(dir: &Path) -> Result<Self, OpenError> {
        let wait = Duration::from_secs(2);
        Ok(Self {
            dir: dir.to_owned(),
            ticks: Reader::open(&dir.join(TICKS_RING), wait)?,
            symbols: DirectoryReader::open(&dir.join(SYMBOLS_DIR), wait)?,
            latest: TableReader::open(&dir.join(LATEST_TABLE), wait)?,
        })
    }

    /// The directory read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The ring's epoch.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.ticks.epoch())
    }

    /// The last published seq.
    pub fn head(&self) -> Seq {
        Seq(self.ticks.head())
    }

    /// Every symbol with its id.
    pub fn symbols(&mut self) -> Vec<(InstrumentId, Symbol)> {
        self.symbols
            .names()
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                Symbol::from_bytes(n.as_bytes())
                    .ok()
                    .map(|s| (InstrumentId(i as u32), s))
            })
            .collect()
    }

    /// The id of `symbol`.
    pub fn id_of(&mut self, symbol: &Symbol) -> Option<InstrumentId> {
        self.symbols.id_of(symbol.as_bytes()).map(InstrumentId)
    }

    /// The scales of `id`, from its directory entry (`None` if unknown, or written by a
    /// server this client does not understand).
    pub fn scales_of(&mut self, id: InstrumentId) -> Option<Scales> {
        self.symbols
            .tag(id.0)
            .and_then(tickd_protocol::files::scales_of_tag)
    }

    /// The symbol of `id`.
    pub fn symbol_of(&mut self, id: InstrumentId) -> Option<Symbol> {
        self.symbols
            .name(id.0)
            .and_then(|n| Symbol::from_bytes(n.as_bytes()).ok())
    }

    /// The last tick of `kind` for `id`; `None` if there is none yet.
    ///
    /// # Errors
    ///
    /// [`StalledWriter`] if the cell stayed mid-write for the table's stall timeout: the server
    /// was killed in the middle of writing it (it reads again once a restarted server rewrites
    /// it).
    pub fn latest(
        &self,
        id: InstrumentId,
        kind: TickKind,
    ) -> Result<Option<TickRecord>, StalledWriter> {
        let mut words = [0u64; LATEST_CELL_WORDS];
        Ok(self
            .latest
            .read(latest_cell(id, kind), &mut words)?
            .map(|_| TickRecord::from_words(&words)))
    }

    /// Moves the cursor to `seq` (default: after the current head).
    pub fn seek(&mut self, seq: Seq) {
        self.ticks.seek(seq.0);
    }

    /// The next record at the cursor, waiting up to `wait` (spin, then park on the futex).
    pub fn next(&mut self, wait: Duration) -> Next {
        let mut words = [0u64; TICK_SLOT_WORDS];
        loop {
            match self.ticks.try_read(&mut words) {
                ReadOutcome::Record(_) => return Next::Tick(TickRecord::from_words(&words)),
                ReadOutcome::Overrun { oldest } => {
                    let from = self.ticks.next_seq();
                    self.ticks.seek(oldest);
                    return Next::Gap {
                        from: Seq(from),
                        to: Seq(oldest - 1),
                    };
                }
                ReadOutcome::NotYet => {
                    if !self.ticks.wait(WaitStrategy::default(), wait) {
                        return Next::Idle;
                    }
                }
            }
        }
    }
}
