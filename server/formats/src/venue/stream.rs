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

/// How a refill line starts ([`refill_line`]).
const REFILL_PREFIX: &str = r#"{"tickd":"refill","#;

/// The line carrying trades `from..=to` of `symbol` (the directory symbol) fetched from the
/// venue's REST API to fill a hole: `{"tickd":"refill","symbol":…,"from":…,"to":…,"trades":[…]}`,
/// `trades` being the venue's own trade objects ([`Venue::parse_refill`] reads them). Read by
/// [`VenueStream::frame`] like a frame, and written to captures, so a replay refills the same.
pub fn refill_line(
    symbol: Symbol,
    from: u64,
    to: u64,
    trades: &[&serde_json::value::RawValue],
) -> String {
    let trades: Vec<&str> = trades.iter().map(|t| t.get()).collect();
    format!(
        r#"{REFILL_PREFIX}"symbol":{},"from":{from},"to":{to},"trades":[{}]}}"#,
        serde_json::Value::from(symbol.as_str()),
        trades.join(",")
    )
}

/// What [`VenueStream::frame_or_hole`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Read {
    /// The frame was read.
    Frame(Frame),
    /// The frame would open this hole; it was not read.
    Hole(Hole),
}

/// Trade ids `from..=to` of `symbol` that a frame showed missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hole {
    /// The directory symbol.
    pub symbol: Symbol,
    /// The first missing id.
    pub from: u64,
    /// The last missing id.
    pub to: u64,
}

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
    /// them) to `out`. A refill line ([`refill_line`]) passes its trades through the same
    /// continuity.
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
        match self.read(text, ts_recv, out, false)? {
            Read::Frame(f) => Ok(f),
            Read::Hole(_) => unreachable!("holes are only reported when asked for"),
        }
    }

    /// [`VenueStream::frame`], except that a frame that would open a hole in an instrument's
    /// trade ids is not read: the hole is returned and nothing changes, so the caller can
    /// fetch the missing trades, pass them as a [`refill_line`], then read the frame with
    /// [`VenueStream::frame`] (which declares what is still missing). A capture of that
    /// order replays to the same records.
    ///
    /// # Errors
    ///
    /// As [`VenueStream::frame`].
    pub fn frame_or_hole(
        &mut self,
        text: &str,
        ts_recv: UnixNanos,
        out: &mut Vec<VenueTick>,
    ) -> Result<Read, VenueError> {
        self.read(text, ts_recv, out, true)
    }

    fn read(
        &mut self,
        text: &str,
        ts_recv: UnixNanos,
        out: &mut Vec<VenueTick>,
        report_holes: bool,
    ) -> Result<Read, VenueError> {
        if text == CONNECTED {
            self.stats.frames += 1;
            self.connected(ts_recv, out);
            return Ok(Read::Frame(Frame::Other));
        }
        self.scratch.clear();
        let frame = if text.starts_with(REFILL_PREFIX) {
            self.refill(text, ts_recv)?
        } else {
            self.venue.parse(text, ts_recv, &mut self.scratch)?
        };
        if report_holes && let Some(hole) = self.first_hole(&frame) {
            return Ok(Read::Hole(hole));
        }
        self.stats.frames += 1;
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
        Ok(Read::Frame(frame))
    }

    /// The trades of a refill line, into the scratch buffer.
    fn refill(&mut self, text: &str, ts_recv: UnixNanos) -> Result<Frame, VenueError> {
        #[derive(serde::Deserialize)]
        struct Line<'a> {
            symbol: &'a str,
            from: u64,
            to: u64,
            #[serde(borrow)]
            trades: &'a serde_json::value::RawValue,
        }
        let bad = |e: String| VenueError::new(self.venue, format!("refill line: {e}"));
        let line: Line<'_> = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let symbol = Symbol::new(line.symbol).map_err(|e| bad(e.to_string()))?;
        self.venue.parse_refill(
            symbol,
            line.trades.get(),
            ts_recv,
            (line.from, line.to),
            &mut self.scratch,
        )?;
        Ok(Frame::Data)
    }

    /// The first hole the parsed frame in the scratch buffer would open, if any.
    fn first_hole(&self, frame: &Frame) -> Option<Hole> {
        if !Self::sequential_ids(self.venue) {
            return None;
        }
        // Ids this frame moves forward, before its later trades are looked at.
        let mut moved: Vec<(Symbol, u64)> = Vec::new();
        let covered = |moved: &[(Symbol, u64)], symbol: &Symbol| {
            moved
                .iter()
                .rev()
                .find(|(s, _)| s == symbol)
                .map(|&(_, id)| id)
                .or_else(|| self.ids.get(symbol).map(|i| i.last.max(i.declared)))
        };
        for t in &self.scratch {
            if t.tick.kind() != Some(TickKind::Trade) {
                continue;
            }
            let id = t.tick.body[2];
            match covered(&moved, &t.symbol) {
                Some(c) if id > c.saturating_add(1) => {
                    return Some(Hole {
                        symbol: t.symbol,
                        from: c + 1,
                        to: id - 1,
                    });
                }
                Some(c) if id <= c => {}
                _ => moved.push((t.symbol, id)),
            }
        }
        if let Frame::Heartbeat {
            symbol,
            last_trade_id,
        } = frame
            && let Some(c) = covered(&moved, symbol)
            && *last_trade_id > c
        {
            return Some(Hole {
                symbol: *symbol,
                from: c + 1,
                to: *last_trade_id,
            });
        }
        None
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
    fn a_hole_is_reported_unread_then_refilled_as_a_replay_would() {
        let refill_body = r#"{"time":"2026-12-05T10:00:00.5Z","trade_id":12,"price":"1","size":"1","side":"buy"}"#;
        let row: &serde_json::value::RawValue = serde_json::from_str(refill_body).unwrap();
        let symbol = Symbol::new("COINBASE:BTC-USD").unwrap();
        let line = refill_line(symbol, 11, 13, &[row]);
        assert!(line.starts_with(
            r#"{"tickd":"refill","symbol":"COINBASE:BTC-USD","from":11,"to":13,"trades":[{"#
        ));
        // Live: the frame with trade 14 is reported, not read; the refill (only 12 came back)
        // goes in, then the frame, which declares what is still missing.
        let mut live = VenueStream::new(Venue::Coinbase);
        let mut out = Vec::new();
        live.frame(&coinbase_match(10), UnixNanos(1), &mut out)
            .unwrap();
        let hole = live
            .frame_or_hole(&coinbase_match(14), UnixNanos(2), &mut out)
            .unwrap();
        assert_eq!(
            hole,
            Read::Hole(Hole {
                symbol,
                from: 11,
                to: 13
            })
        );
        assert_eq!(out.len(), 1, "nothing of the frame was read");
        live.frame(&line, UnixNanos(3), &mut out).unwrap();
        live.frame(&coinbase_match(14), UnixNanos(2), &mut out)
            .unwrap();
        // Replay of the capture (frame 10, the refill line, frame 14).
        let mut replay = VenueStream::new(Venue::Coinbase);
        let mut again = Vec::new();
        for (text, t) in [
            (coinbase_match(10), 1),
            (line.clone(), 3),
            (coinbase_match(14), 2),
        ] {
            replay.frame(&text, UnixNanos(t), &mut again).unwrap();
        }
        assert_eq!(out, again);
        let shape: Vec<String> = out
            .iter()
            .map(|t| match t.tick.venue_hole() {
                Some(h) => format!(
                    "gap {}..={} at {}",
                    h.from_trade_id, h.to_trade_id, t.tick.ts_event
                ),
                None => format!("trade {}", t.tick.body[2]),
            })
            .collect();
        assert_eq!(
            shape,
            [
                "trade 10",
                "gap 11..=11 at 3",
                "trade 12",
                "gap 13..=13 at 2",
                "trade 14"
            ]
        );
        assert_eq!(live.stats(), replay.stats());
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
