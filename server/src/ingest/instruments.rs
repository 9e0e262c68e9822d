//! The in-process symbol table: symbol ↔ [`InstrumentId`] and each instrument's [`Scales`],
//! shared by the sequencer (the only writer) and network sessions. Co-located processes read the
//! same mapping from the shm directory (scales in each entry's tag).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tickd_protocol::{Instrument, InstrumentId, Scales, Symbol};

/// Symbols in id order, and their index.
#[derive(Debug, Default)]
pub struct InstrumentTable {
    symbols: Vec<Symbol>,
    scales: Vec<Scales>,
    ids: HashMap<Symbol, InstrumentId>,
}

impl InstrumentTable {
    /// The id of `symbol`, if known.
    pub fn id(&self, symbol: &Symbol) -> Option<InstrumentId> {
        self.ids.get(symbol).copied()
    }

    /// The symbol of `id`, if known.
    pub fn symbol(&self, id: InstrumentId) -> Option<Symbol> {
        self.symbols.get(id.0 as usize).copied()
    }

    /// The scales of `id`, if known.
    pub fn scales(&self, id: InstrumentId) -> Option<Scales> {
        self.scales.get(id.0 as usize).copied()
    }

    /// Instrument `id`, if known.
    pub fn instrument(&self, id: InstrumentId) -> Option<Instrument> {
        Some(Instrument {
            id,
            symbol: self.symbol(id)?,
            scales: self.scales(id)?,
        })
    }

    /// Every instrument in id order.
    pub fn all(&self) -> Vec<Instrument> {
        self.symbols
            .iter()
            .zip(&self.scales)
            .enumerate()
            .map(|(i, (s, scales))| Instrument {
                id: InstrumentId(i as u32),
                symbol: *s,
                scales: *scales,
            })
            .collect()
    }

    /// Number of instruments.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// Records `symbol` as `id` with `scales` (ids are dense: `id` must equal `len()`).
    pub(crate) fn insert(&mut self, symbol: Symbol, id: InstrumentId, scales: Scales) {
        debug_assert_eq!(id.0 as usize, self.symbols.len());
        self.symbols.push(symbol);
        self.scales.push(scales);
        self.ids.insert(symbol, id);
    }
}

/// The shared table.
pub type Instruments = Arc<RwLock<InstrumentTable>>;
