//! Names and layouts of the shared-memory files a tickd server writes in its shm directory
//! (`/dev/shm/tickd` by default), so co-located readers can find and interpret them.
//!
//! | file | structure | slot |
//! |---|---|---|
//! | [`TICKS_RING`] | broadcast ring | [`TickRecord`](crate::TickRecord) words (8); word 0 = seq |
//! | [`CANDLES_RING`] | broadcast ring of candle updates | word 0 = candle-ring seq, words 1..=24 = [`CandleRecord`](crate::CandleRecord) |
//! | [`SYMBOLS_DIR`] | directory | name = symbol, id = [`InstrumentId`], tag = [`scales_tag`] |
//! | [`LATEST_TABLE`] | latest-value table | last trade and last quote per instrument, see [`latest_cell`] |

use crate::scale::Scales;
use crate::types::{InstrumentId, TickKind};

/// The tick ring.
pub const TICKS_RING: &str = "ticks.ring";
/// The candle-update ring.
pub const CANDLES_RING: &str = "candles.ring";
/// The symbol directory.
pub const SYMBOLS_DIR: &str = "symbols.dir";
/// The latest-value table.
pub const LATEST_TABLE: &str = "latest.tbl";
/// Words per tick-ring slot.
pub const TICK_SLOT_WORDS: usize = 8;
/// Words per candle-ring slot: a stamp word, then the 24 words of a candle.
pub const CANDLE_SLOT_WORDS: usize = 1 + crate::CandleRecord::WORDS;
/// Words per latest-table cell (one tick record).
pub const LATEST_CELL_WORDS: usize = 8;

/// The latest-table cell holding the last tick of `kind` for `instrument`: `2 * id` for trades,
/// `2 * id + 1` for quotes. The cell's version is the tick's seq.
pub const fn latest_cell(instrument: InstrumentId, kind: TickKind) -> u64 {
    instrument.0 as u64 * 2
        + match kind {
            TickKind::Trade => 0,
            TickKind::Quote => 1,
        }
}

/// A candle as a candle-ring slot (word 0 is the ring's).
pub const fn candle_slot(candle: &crate::CandleRecord) -> [u64; CANDLE_SLOT_WORDS] {
    let w = candle.to_words();
    let mut out = [0u64; CANDLE_SLOT_WORDS];
    let mut i = 0;
    while i < crate::CandleRecord::WORDS {
        out[i + 1] = w[i];
        i += 1;
    }
    out
}

/// The candle in a candle-ring slot.
pub fn candle_from_slot(slot: &[u64; CANDLE_SLOT_WORDS]) -> crate::CandleRecord {
    let mut w = [0u64; crate::CandleRecord::WORDS];
    w.copy_from_slice(&slot[1..]);
    crate::CandleRecord::from_words(&w)
}

/// Marks a tag that carries scales (bit 16), so a 0 tag (a directory entry or journal record
/// written before per-instrument scales) reads as [`Scales::DEFAULT`].
const SCALES_PRESENT: u64 = 1 << 16;

/// An instrument's scales as the `u64` tag of its directory entry and journal definition:
/// `1 << 16 | price << 8 | size`.
pub const fn scales_tag(scales: Scales) -> u64 {
    SCALES_PRESENT | (scales.price_scale() as u64) << 8 | scales.size_scale() as u64
}

/// The scales a tag carries: [`Scales::DEFAULT`] for 0 (no scales recorded), `None` for a tag
/// that is not one [`scales_tag`] makes.
pub const fn scales_of_tag(tag: u64) -> Option<Scales> {
    if tag == 0 {
        return Some(Scales::DEFAULT);
    }
    if tag >> 16 != 1 {
        return None;
    }
    match Scales::new(((tag >> 8) & 0xff) as u32, (tag & 0xff) as u32) {
        Ok(s) => Some(s),
        Err(_) => None,
    }
}
