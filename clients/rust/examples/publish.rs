//! Publishes a few trades and prints the server's acknowledgement: the seqs they got.
//!
//! ```text
//! cargo run -p tickd-client --example publish -- 127.0.0.1:7400 [TOKEN]
//! ```
//! The token needs the `publish` role when the server has tokens configured.

use std::time::{SystemTime, UNIX_EPOCH};

use tickd_client::Client;
use tickd_protocol::{InstrumentId, Price, Quantity, Side, Symbol, TickRecord, Trade, UnixNanos};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7400".into());
    let token = args.next();
    let mut client = Client::connect_with_token(addr.as_str(), token).await?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64;
    // A publish batch names its symbols; `instrument_id` in each tick indexes that list.
    let symbols = vec![Symbol::new("DEMO")?];
    let ticks: Vec<TickRecord> = (0..10u64)
        .map(|i| {
            let trade = Trade {
                price: "101.25".parse::<Price>().expect("a valid price"),
                size: Quantity::from_raw(100 * 1_000_000_000),
                trade_id: i,
                venue: 0,
                conditions: 0,
            };
            TickRecord::new_trade(InstrumentId(0), UnixNanos(now + i), Side::Buy, &trade)
        })
        .collect();
    let ack = client.publish(symbols, &ticks).await?;
    println!(
        "accepted {} (seqs {}..={} of epoch {}), rejected {}",
        ack.accepted,
        ack.first_seq.0,
        ack.last_seq.0,
        ack.epoch.0,
        ack.rejected.len()
    );
    for r in ack.rejected {
        println!("  tick {}: {}", r.index, r.reason);
    }
    Ok(())
}
