//! One venue feed's frames in order → ticks and venue-gap records, sans-IO: each frame through
//! the venue's parser, then per-instrument trade-id continuity. The live feed and the replay of
//! its capture both go through here, so a capture replays to the same records, gaps included.
//!
//! **Continuity** (venues whose trade ids are sequential per instrument: Binance `t`, or `a` for
//! `aggTrade`; Coinbase `trade_id`; OKX `tradeId`):
//!
//! - a trade whose id is at or below the instrument's last is a **duplicate** (Coinbase's
//!   `last_match` on subscribe, frames repeated across a reconnect or by two overlapping
//!   connections) and is dropped before sequencing;
//! - a trade whose id skips ahead is delivered after a **venue-gap record**
//!   ([`TickRecord::venue_gap`]) naming the missing ids;
//! - a Coinbase heartbeat whose `last_trade_id` is ahead of the last trade declares the hole at
//!   once (between trades); trades that still arrive inside a declared range are delivered,
//!   and no id is declared twice.
//!
//! A **reconnect** ([`VenueStream::connected`]) on a venue without sequential ids (Kraken v1)
//! declares a venue gap of unknown extent (ids 0, 0) for every instrument traded so far: the
//! window between the sockets may have held trades no one can name. On the other venues the
//! ids tell, at the next trade or heartbeat.
//!
//! In a capture a (re)connect is the line `<ns> {"tickd":"connected"}` ([`CONNECTED`]).

use std::collections::HashMap;

use tickd_protocol::{InstrumentId, Symbol, TickKind, TickRecord, UnixNanos};

use super::{Frame, Venue, VenueError, VenueTick};

/// The capture frame text tickd writes when a connection to the venue opens.
pub const CONNECTED: &str = r#"{"tickd":"connected"}"#;

/// Counters of one stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Frames read.
    pub frames: u64,
    /// Ticks passed on.
    pub ticks: u64,
    /// Trades dropped as duplicates.
    pub duplicates: u64,
    /// Venue-gap records written.
    pub gaps: u64,
    /// Trade ids declared missing (0 for gaps of unknown extent).
    pub missing_trades: u64,
    /// Connections opened.
    pub connects: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Ids {
    /// The last trade id passed on.
    last: u64,
    /// The highest id covered by a declared gap.
    declared: u64,
}

/// See the module docs.
#[derive(Debug)]
pub struct VenueStream {
    venue: Venue,
    ids: HashMap<Symbol, Ids>,
    /// Instruments traded so far, for reconnect gaps on venues without ids.
    traded: Vec<Symbol>,
    scratch: Vec<VenueTick>,
    stats: StreamStats,
}

impl VenueStream {
    /// A stream of `venue`'s frames, with no instrument seen yet.
    pub fn new(venue: Venue) -> Self {
        Self {
            venue,
            ids: HashMap::new(),
            traded: Vec::new(),
            scratch: Vec::new(),
            stats: StreamStats::default(),
        }
    }

    /// The venue.
    pub fn venue(&self) -> Venue {
        self.venue
    }

    /// The counters so far.
    pub fn stats(&self) -> StreamStats {
        self.stats
    }

    /// Whether the venue's trade ids are sequential per instrument.
    pub fn sequential_ids(venue: Venue) -> bool {
        !matches!(venue, Venue::Kraken)
    }

    /// A connection opened at `ts_recv`. After the first, on a venue without sequential ids,
    /// appends a venue gap of unknown extent for each instrument traded so far.
    pub fn connected(&mut self, ts_recv: UnixNanos, out: &mut Vec<VenueTick>) {
        self.stats.connects += 1;
        if self.stats.connects == 1 || Self::sequential_ids(self.venue) {
            return;
        }
        for &symbol in &self.traded {
            out.push(gap(symbol, ts_recv, 0, 0));
            self.stats.gaps += 1;
        }
    }

    /// Reads one frame received at `ts_recv`, appending its ticks (and any venue gap before
    /// them) to `out`.
    ///
    /// # Errors
    ///
    /// The parser's [`VenueError`]; nothing is appended then and no state changes.
    pub fn frame(
        &mut self,
        text: &str,
        ts_recv: UnixNanos,
        out: &mut Vec<VenueTick>,
    ) -> Result<Frame, VenueError> {
        self.stats.frames += 1;
        if text == CONNECTED {
            self.connected(ts_recv, out);
            return Ok(Frame::Other);
        }
        self.scratch.clear();
        let frame = self.venue.parse(text, ts_recv, &mut self.scratch)?;
        let sequential = Self::sequential_ids(self.venue);
        for i in 0..self.scratch.len() {
            let t = self.scratch[i];
            if t.tick.kind() == Some(TickKind::Trade) {
                if sequential && !self.trade(t.symbol, t.tick.body[2], ts_recv, out) {
                    continue;
                }
                if !sequential && !self.traded.contains(&t.symbol) {
                    self.traded.push(t.symbol);
                }
            }
            out.push(t);
            self.stats.ticks += 1;
        }
        if let Frame::Heartbeat {
            symbol,
            last_trade_id,
        } = &frame
            && let Some(ids) = self.ids.get_mut(symbol)
        {
            let covered = ids.last.max(ids.declared);
            if *last_trade_id > covered {
                out.push(gap(*symbol, ts_recv, covered + 1, *last_trade_id));
                self.stats.gaps += 1;
                self.stats.missing_trades += last_trade_id - covered;
                ids.declared = *last_trade_id;
            }
        }
        Ok(frame)
    }

    /// Checks trade `id` of `symbol`; appends a gap before it if ids were skipped. Returns
    /// whether the trade is new (not a duplicate).
    fn trade(
        &mut self,
        symbol: Symbol,
        id: u64,
        ts_recv: UnixNanos,
        out: &mut Vec<VenueTick>,
    ) -> bool {
        let Some(ids) = self.ids.get_mut(&symbol) else {
            self.ids.insert(
                symbol,
                Ids {
                    last: id,
                    declared: 0,
                },
            );
            return true;
        };
        if id <= ids.last {
            self.stats.duplicates += 1;
            return false;
        }
        let from = ids.last.max(ids.declared) + 1;
        if id > from {
            out.push(gap(symbol, ts_recv, from, id - 1));
            self.stats.gaps += 1;
            self.stats.missing_trades += id - from;
            ids.declared = id - 1;
        }
        ids.last = id;
        true
    }
}

/// A venue-gap record of `symbol` (ids inclusive; 0, 0 when unknown), found at `ts_recv`.
fn gap(symbol: Symbol, ts_recv: UnixNanos, from: u64, to: u64) -> VenueTick {
    let mut tick = TickRecord::venue_gap(InstrumentId(0), ts_recv, from, to);
    tick.ts_recv = ts_recv.0;
    VenueTick { symbol, tick }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coinbase_match(id: u64) -> String {
        format!(
            r#"{{"type":"match","trade_id":{id},"sequence":1,"maker_order_id":"a","taker_order_id":"b","time":"2026-12-05T10:00:00.000001Z","product_id":"BTC-USD","size":"0.5","price":"100.25","side":"sell"}}"#
        )
    }

    fn read(s: &mut VenueStream, text: &str) -> Vec<VenueTick> {
        let mut out = Vec::new();
        s.frame(text, UnixNanos(7), &mut out).unwrap();
        out
    }

    #[test]
    fn duplicates_are_dropped_and_holes_declared_once() {
        let mut s = VenueStream::new(Venue::Coinbase);
        assert_eq!(read(&mut s, &coinbase_match(10)).len(), 1);
        // `last_match` again after a reconnect: dropped.
        assert!(read(&mut s, &coinbase_match(10)).is_empty());
        let out = read(&mut s, &coinbase_match(14));
        assert_eq!(out.len(), 2);
        let hole = out[0].tick.venue_hole().unwrap();
        assert_eq!((hole.from_trade_id, hole.to_trade_id), (11, 13));
        assert_eq!(out[0].symbol.as_str(), "COINBASE:BTC-USD");
        assert_eq!(out[0].tick.ts_event, 7);
        assert_eq!(out[1].tick.body[2], 14);
        // A heartbeat ahead of the last trade declares at once; the late trade inside the
        // declared range is still delivered, and the next trade declares nothing again.
        let hb = r#"{"type":"heartbeat","sequence":9,"last_trade_id":17,"product_id":"BTC-USD","time":"2026-12-05T10:00:01.000000Z"}"#;
        let out = read(&mut s, hb);
        let hole = out[0].tick.venue_hole().unwrap();
        assert_eq!((hole.from_trade_id, hole.to_trade_id), (15, 17));
        assert_eq!(read(&mut s, &coinbase_match(16)).len(), 1);
        assert_eq!(read(&mut s, &coinbase_match(18)).len(), 1);
        let out = read(&mut s, &coinbase_match(20));
        let hole = out[0].tick.venue_hole().unwrap();
        assert_eq!((hole.from_trade_id, hole.to_trade_id), (19, 19));
        assert_eq!(
            s.stats(),
            StreamStats {
                frames: 7,
                ticks: 5,
                duplicates: 1,
                gaps: 3,
                missing_trades: 7,
                connects: 0,
            }
        );
    }

    #[test]
    fn a_reconnect_without_trade_ids_declares_an_unknown_gap() {
        let mut s = VenueStream::new(Venue::Kraken);
        let mut out = Vec::new();
        s.frame(CONNECTED, UnixNanos(1), &mut out).unwrap();
        assert!(out.is_empty(), "the first connection is no gap");
        let trade =
            r#"[0,[["5541.20000","0.15850568","1534614057.321597","s","l",""]],"trade","XBT/USD"]"#;
        assert_eq!(read(&mut s, trade).len(), 1);
        s.frame(CONNECTED, UnixNanos(9), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        let hole = out[0].tick.venue_hole().unwrap();
        assert_eq!((hole.from_trade_id, hole.to_trade_id), (0, 0));
        assert_eq!(out[0].symbol.as_str(), "KRAKEN:XBT/USD");
        assert_eq!(out[0].tick.ts_event, 9);
    }
}
