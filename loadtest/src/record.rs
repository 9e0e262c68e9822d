//! The records every system carries: tickd's 64-byte tick, stamped with the publish time in
//! `ts_event` (same clock, same machine), and the histogram they are measured into.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use hdrhistogram::Histogram;
use tickd_protocol::{InstrumentId, Price, Quantity, Side, Symbol, TickRecord, Trade, UnixNanos};

/// Bytes per record on every path.
pub(crate) const RECORD_LEN: usize = 64;

/// Wall clock, ns since the Unix epoch.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The symbols publishers use; tick `i` is for symbol `i % 5`.
pub(crate) fn symbols() -> Vec<Symbol> {
    ["AAPL", "GOOGL", "MSFT", "TSLA", "AMZN"]
        .iter()
        .filter_map(|s| Symbol::new(s).ok())
        .collect()
}

/// Trade number `i`, stamped `ts` (ns).
pub(crate) fn tick(i: u64, ts: u64) -> TickRecord {
    let t = Trade {
        price: Price::from_raw(100_000_000_000 + (i % 100) as i64),
        size: Quantity::from_raw(1),
        trade_id: i,
        venue: 0,
        conditions: 0,
    };
    TickRecord::new_trade(InstrumentId((i % 5) as u32), UnixNanos(ts), Side::Buy, &t)
}

/// `ts_event` of a record in its 64-byte little-endian form.
pub(crate) fn ts_of(record: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&record[8..16]);
    u64::from_le_bytes(b)
}

/// A baseline frame: `u32` LE payload length, then `n` records from number `first`, all
/// stamped `ts`.
pub(crate) fn frame(first: u64, n: usize, ts: u64) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + n * RECORD_LEN);
    b.put_u32_le((n * RECORD_LEN) as u32);
    for k in first..first + n as u64 {
        b.put_slice(&tick(k, ts).to_le_bytes());
    }
    b.freeze()
}

/// A latency histogram, 1 ns to 60 s, 3 significant digits.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}
