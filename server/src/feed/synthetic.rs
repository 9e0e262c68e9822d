//! The default feed: a seeded random walk of trades and top-of-book quotes for a few symbols,
//! stamped with wall-clock event time, at a configurable rate. Its values are 1e-9 units, so its
//! symbols are defined 9:9 whatever `--scales` says.

use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tickd_protocol::{
    InstrumentId, Price, Quantity, Quote, Scales, Side, Symbol, TickRecord, Trade, UnixNanos,
};

use super::{FeedSender, SequencerGone};

/// Synthetic feed settings.
#[derive(Clone, Debug)]
pub struct SyntheticConfig {
    /// Symbols to simulate.
    pub symbols: Vec<Symbol>,
    /// Ticks per second across all symbols (trades and quotes).
    pub rate_per_s: u32,
    /// RNG seed: the same seed gives the same prices and sizes.
    pub seed: u64,
}

impl Default for SyntheticConfig {
    /// AAPL GOOGL MSFT TSLA AMZN at 1,000 ticks/s.
    fn default() -> Self {
        let symbols = ["AAPL", "GOOGL", "MSFT", "TSLA", "AMZN"]
            .iter()
            .filter_map(|s| Symbol::new(s).ok())
            .collect();
        Self {
            symbols,
            rate_per_s: 1_000,
            seed: 42,
        }
    }
}

/// Random-walk state of one symbol, in cents.
struct Walk {
    local: u32,
    mid_cents: i64,
}

fn now_ns() -> u64 {
    crate::clock::now().0
}

/// Runs the feed until `stop` returns true or the sequencer goes away.
///
/// # Errors
///
/// [`SequencerGone`] if the sequencer stopped.
pub fn run(
    config: &SyntheticConfig,
    sender: &mut FeedSender,
    stop: impl Fn() -> bool,
) -> Result<(), SequencerGone> {
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let start_prices = [17_000i64, 13_500, 32_000, 25_000, 14_000];
    let mut walks: Vec<Walk> = config
        .symbols
        .iter()
        .enumerate()
        .map(|(i, s)| Walk {
            // The walk's values are 1e-9 units: its symbols are 9:9 whatever is configured.
            local: sender.symbol_with(*s, Scales::DEFAULT),
            mid_cents: start_prices[i % start_prices.len()],
        })
        .collect();
    if walks.is_empty() {
        return Ok(());
    }
    let rate = f64::from(config.rate_per_s.max(1));
    let tick_every = Duration::from_secs_f64(1.0 / rate);
    // Send at most every millisecond, so latency stays low without a batch per tick.
    let per_wake = ((rate / 1_000.0).ceil() as u64).max(1);
    let start = Instant::now();
    let mut sent = 0u64;
    while !stop() {
        for _ in 0..per_wake {
            let n = walks.len();
            let w = &mut walks[rng.random_range(0..n)];
            w.mid_cents = (w.mid_cents + rng.random_range(-3..=3)).max(100);
            let ts = UnixNanos(now_ns());
            let id = InstrumentId(w.local);
            let tick = if rng.random_bool(0.4) {
                let side = if rng.random_bool(0.5) {
                    Side::Buy
                } else {
                    Side::Sell
                };
                let cents = w.mid_cents + if side == Side::Buy { 1 } else { -1 };
                let trade = Trade {
                    price: Price::from_scaled(cents, 2).unwrap_or(Price::ZERO),
                    size: Quantity::from_units(rng.random_range(1..=20) * 100)
                        .unwrap_or(Quantity::ZERO),
                    trade_id: sent + 1,
                    venue: 0,
                    conditions: 0,
                };
                TickRecord::new_trade(id, ts, side, &trade)
            } else {
                let quote = Quote {
                    bid_px: Price::from_scaled(w.mid_cents - 1, 2).unwrap_or(Price::UNDEF),
                    bid_sz: Quantity::from_units(rng.random_range(1..=50) * 100)
                        .unwrap_or(Quantity::ZERO),
                    ask_px: Price::from_scaled(w.mid_cents + 1, 2).unwrap_or(Price::UNDEF),
                    ask_sz: Quantity::from_units(rng.random_range(1..=50) * 100)
                        .unwrap_or(Quantity::ZERO),
                };
                TickRecord::new_quote(id, ts, &quote)
            };
            sender.push(tick)?;
            sent += 1;
        }
        sender.flush()?;
        let due = start + tick_every.mul_f64(sent as f64);
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
    }
    Ok(())
}
