//! The records every system carries: tickd's 64-byte tick, stamped with the publish time in
//! `ts_event` (same clock, same machine), and the histogram they are measured into.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use hdrhistogram::Histogram;
use tickd_protocol::{
    InstrumentId, Price, Quantity, Quote, Side, Symbol, TickKind, TickRecord, Trade, UnixNanos,
};

/// Bytes per record on every path.
pub(crate) const RECORD_LEN: usize = 64;

/// Wall clock, ns since the Unix epoch.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Which kinds of tick a publisher sends or a subscriber takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kinds {
    /// Trades only.
    Trades,
    /// Top-of-book quotes only.
    Quotes,
    /// Both: even tick numbers are trades, odd ones quotes.
    Both,
}

impl Kinds {
    pub(crate) fn trades(self) -> bool {
        self != Self::Quotes
    }

    pub(crate) fn quotes(self) -> bool {
        self != Self::Trades
    }
}

/// What a publisher sends: tick `i` is for symbol `i % symbols`, of the kind [`Kinds`] gives.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct Mix {
    pub(crate) symbols: u32,
    pub(crate) kinds: Kinds,
}

impl Default for Mix {
    fn default() -> Self {
        Self {
            symbols: 5,
            kinds: Kinds::Trades,
        }
    }
}

/// The first five symbols' names; the rest are `S0005`, `S0006`, ….
const NAMES: [&str; 5] = ["AAPL", "GOOGL", "MSFT", "TSLA", "AMZN"];

impl Mix {
    /// The symbols, in instrument order (local index `k` is symbol `k`).
    pub(crate) fn symbols(&self) -> Vec<Symbol> {
        (0..self.symbols as usize)
            .filter_map(|k| match NAMES.get(k) {
                Some(name) => Symbol::new(name).ok(),
                None => Symbol::new(&format!("S{k:04}")).ok(),
            })
            .collect()
    }

    /// Whether tick `i` is a trade.
    pub(crate) fn is_trade(&self, i: u64) -> bool {
        match self.kinds {
            Kinds::Trades => true,
            Kinds::Quotes => false,
            Kinds::Both => i.is_multiple_of(2),
        }
    }

    /// The local symbol index of tick `i`.
    pub(crate) fn symbol_of(&self, i: u64) -> u32 {
        (i % u64::from(self.symbols.max(1))) as u32
    }

    /// Message-bus channel names (NATS subjects, Redis channels): `ticks.<symbol>.trade` and
    /// `ticks.<symbol>.quote` for each symbol, in that order; tick `i` goes to
    /// [`Mix::channel_of`].
    pub(crate) fn channels(&self) -> Vec<String> {
        self.symbols()
            .iter()
            .flat_map(|s| [format!("ticks.{s}.trade"), format!("ticks.{s}.quote")])
            .collect()
    }

    /// Index in [`Mix::channels`] of tick `i`'s channel.
    pub(crate) fn channel_of(&self, i: u64) -> usize {
        self.symbol_of(i) as usize * 2 + usize::from(!self.is_trade(i))
    }

    /// Tick number `i`, stamped `ts` (ns), carrying `i` where [`tick_number`] finds it.
    pub(crate) fn tick(&self, i: u64, ts: u64) -> TickRecord {
        let instrument = InstrumentId(self.symbol_of(i));
        let px = 100_000_000_000 + (i % 100) as i64;
        if self.is_trade(i) {
            let t = Trade {
                price: Price::from_raw(px),
                size: Quantity::from_raw(1),
                trade_id: i,
                venue: 0,
                conditions: 0,
            };
            TickRecord::new_trade(instrument, UnixNanos(ts), Side::Buy, &t)
        } else {
            let q = Quote {
                bid_px: Price::from_raw(px),
                bid_sz: Quantity::from_raw(1),
                ask_px: Price::from_raw(px + 10_000_000),
                ask_sz: Quantity::from_raw(i),
            };
            TickRecord::new_quote(instrument, UnixNanos(ts), &q)
        }
    }
}

/// The publish mix and each subscriber's interest, as scenario options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct MixArgs {
    /// Symbols published; tick `i` is for symbol `i % symbols`.
    #[arg(long, default_value_t = 5)]
    pub(crate) symbols: u32,
    /// Kinds published (both: even ticks trades, odd quotes).
    #[arg(long, value_enum, default_value_t = Kinds::Trades)]
    pub(crate) kinds: Kinds,
    /// Symbols each subscriber takes, the first of those published (default: all).
    #[arg(long)]
    pub(crate) subscribe_symbols: Option<u32>,
    /// Kinds each subscriber takes (default: what is published).
    #[arg(long, value_enum)]
    pub(crate) subscribe_kinds: Option<Kinds>,
}

impl MixArgs {
    /// What the publisher sends.
    pub(crate) fn mix(&self) -> Mix {
        Mix {
            symbols: self.symbols.max(1),
            kinds: self.kinds,
        }
    }

    /// What each subscriber takes.
    pub(crate) fn interest(&self) -> Interest {
        let all = Interest::all(&self.mix());
        Interest {
            symbols: self.subscribe_symbols.unwrap_or(all.symbols),
            kinds: self.subscribe_kinds.unwrap_or(all.kinds),
        }
    }
}

/// What a subscriber takes: the first `symbols` of the publisher's symbols, of `kinds`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct Interest {
    pub(crate) symbols: u32,
    pub(crate) kinds: Kinds,
}

impl Interest {
    /// Everything `mix` publishes.
    pub(crate) fn all(mix: &Mix) -> Self {
        Self {
            symbols: mix.symbols,
            kinds: mix.kinds,
        }
    }

    /// Whether the subscriber takes every symbol.
    pub(crate) fn every_symbol(&self, mix: &Mix) -> bool {
        self.symbols >= mix.symbols
    }

    /// Whether the subscriber takes tick `i` of `mix`.
    pub(crate) fn takes(&self, mix: &Mix, i: u64) -> bool {
        let kind = if mix.is_trade(i) {
            self.kinds.trades()
        } else {
            self.kinds.quotes()
        };
        kind && mix.symbol_of(i) < self.symbols
    }

    /// The channels of [`Mix::channels`] the subscriber takes.
    pub(crate) fn channels(&self, mix: &Mix) -> Vec<String> {
        let all = mix.channels();
        all.into_iter()
            .enumerate()
            .filter(|(k, _)| {
                let kind = if k % 2 == 0 {
                    self.kinds.trades()
                } else {
                    self.kinds.quotes()
                };
                kind && ((k / 2) as u32) < self.symbols
            })
            .map(|(_, c)| c)
            .collect()
    }

    /// How many of ticks `0..total` of `mix` the subscriber takes.
    pub(crate) fn expected(&self, mix: &Mix, total: u64) -> u64 {
        (0..total).filter(|&i| self.takes(mix, i)).count() as u64
    }
}

/// Where a record carries its tick number: `trade_id` for a trade, `ask_sz` for a quote.
pub(crate) fn tick_number(t: &TickRecord) -> u64 {
    if t.kind == TickKind::Quote as u8 {
        t.body[3]
    } else {
        t.body[2]
    }
}

/// Trade number `i` of the default [`Mix`], stamped `ts` (ns).
pub(crate) fn tick(i: u64, ts: u64) -> TickRecord {
    Mix::default().tick(i, ts)
}

/// Tick number of a record in its 64-byte little-endian form (see [`tick_number`]).
pub(crate) fn number_of(record: &[u8]) -> u64 {
    // The header: seq, ts_event, ts_recv (8 bytes each), instrument_id (4), kind (1), ….
    let at = if record.get(28) == Some(&(TickKind::Quote as u8)) {
        56
    } else {
        48
    };
    let mut b = [0u8; 8];
    if let Some(s) = record.get(at..at + 8) {
        b.copy_from_slice(s);
    }
    u64::from_le_bytes(b)
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
