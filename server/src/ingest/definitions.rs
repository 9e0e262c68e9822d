//! Venue instrument definitions (tick size, lot size, minimum size and notional, base and
//! quote) by directory symbol, as live feeds load them from their venues at start
//! (`tickd_formats::venue::instruments`). Read by the HTTP dialects that show them (Binance
//! `exchangeInfo` filters, the seed `/symbols`). Reference data, not market data: kept in
//! memory and loaded again at each start, not sequenced.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use tickd_formats::venue::instruments::Definition;
use tickd_protocol::Symbol;

/// See the module docs.
#[derive(Debug, Default)]
pub struct Definitions(RwLock<HashMap<Symbol, Definition>>);

impl Definitions {
    /// Adds or replaces `defs`.
    pub fn set(&self, defs: Vec<Definition>) {
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        for d in defs {
            map.insert(d.symbol, d);
        }
    }

    /// The definition of `symbol`, if a venue gave one.
    pub fn get(&self, symbol: &Symbol) -> Option<Definition> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(symbol)
            .cloned()
    }
}
