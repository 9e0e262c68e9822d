//! The in-process symbol table: symbol ↔ [`InstrumentId`], shared by the sequencer (the only
//! writer) and network sessions. Co-located processes read the same mapping from the shm
//! directory.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tickd_protocol::{Instrument, InstrumentId, Symbol};

/// Symbols in id order, and their index.
#[derive(Debug, Default)]
pub struct InstrumentTable {
    symbols: Vec<Symbol>,
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

    /// Every instrument in id order.
    pub fn all(&self) -> Vec<Instrument> {
        self.symbols
            .iter()
            .enumerate()
            .map(|(i, s)| Instrument {
                id: InstrumentId(i as u32),
                symbol: *s,
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

    /// Records `symbol` as `id` (ids are dense: `id` must equal `len()`).
    pub(crate) fn insert(&mut self, symbol: Symbol, id: InstrumentId) {
        debug_assert_eq!(id.0 as usize, self.symbols.len());
        self.symbols.push(symbol);
        self.ids.insert(symbol, id);
    }
}

/// The shared table.
pub type Instruments = Arc<RwLock<InstrumentTable>>;
