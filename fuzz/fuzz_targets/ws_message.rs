//! Arbitrary text messages from a WebSocket client, to each dialect (the seed `/ws` protocol,
//! Binance single and combined streams), with the subscriptions they build up kept across the
//! messages of one input. No input may panic, and a subscription names only instruments the
//! server has (a client cannot grow the server's sets with names of its own).
#![no_main]

#[path = "../common/server.rs"]
mod server;

use libfuzzer_sys::fuzz_target;
use tickd_server::http::ws::binance::Binance;
use tickd_server::http::ws::seed::Seed;
use tickd_server::http::ws::{Dialect, Subs};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let f = server::fixture();
    let mut dialect: Box<dyn Dialect> = match pick % 3 {
        0 => Box::new(Seed),
        1 => Box::new(Binance::new(false)),
        _ => Box::new(Binance::new(true)),
    };
    let known = f.state.services.query.instruments(None).len();
    let mut subs = Subs::default();
    // Messages separated by a 0 byte, as a client would send several.
    for message in rest.split(|b| *b == 0) {
        let text = String::from_utf8_lossy(message);
        let _reply = dialect.on_text(&f.state, &text, &mut subs);
        assert!(subs.trades.len() <= known && subs.quotes.len() <= known);
        assert!(subs.candles.len() <= known * 7);
    }
});
