//! Subscribes to trades and 1-minute candles of some symbols and prints them.
//!
//! ```text
//! cargo run -p tickd-client --example subscribe -- 127.0.0.1:7400 AAPL MSFT
//! ```
//! (`tickd serve` first: its synthetic feed publishes AAPL GOOGL MSFT TSLA AMZN.)

use tickd_client::{Client, Event};
use tickd_protocol::{Interval, Price, Selection, SlowConsumerPolicy, Start, Subscribe, Symbol};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7400".into());
    let symbols = args
        .map(|s| Symbol::new(&s))
        .collect::<Result<Vec<_>, _>>()?;
    let selection = if symbols.is_empty() {
        Selection::All
    } else {
        Selection::Symbols(symbols)
    };
    let mut client = Client::connect(addr.as_str()).await?;
    let ack = client
        .subscribe(Subscribe {
            request_id: 0,
            selection,
            trades: true,
            quotes: false,
            candles: vec![Interval::M1],
            start: Start::Latest,
            snapshot: true,
            policy: SlowConsumerPolicy::Drop,
            datagrams: false,
        })
        .await?;
    println!(
        "subscription {} from seq {} of epoch {}",
        ack.subscription_id, ack.start_seq.0, ack.epoch.0
    );
    // Instrument ids in records map to symbols through the ack.
    let name = |id: u32| {
        ack.instruments
            .iter()
            .find(|i| i.id.0 == id)
            .map_or_else(|| id.to_string(), |i| i.symbol.to_string())
    };
    while let Some(event) = client.next_event().await? {
        match event {
            Event::Ticks { ticks, .. } => {
                for t in ticks {
                    if let Some(trade) = t.trade() {
                        println!(
                            "seq {} {} trade {} x {}",
                            t.seq,
                            name(t.instrument_id),
                            trade.price,
                            trade.size
                        );
                    }
                }
            }
            Event::Candles { candles, .. } => {
                for c in candles {
                    println!(
                        "{} {}s candle open at {} ns: o {} h {} l {} c {}",
                        name(c.instrument_id),
                        c.interval_s,
                        c.ts_open,
                        Price::from_raw(c.open),
                        Price::from_raw(c.high),
                        Price::from_raw(c.low),
                        Price::from_raw(c.close)
                    );
                }
            }
            Event::Gap(g) => println!("gap: seqs {}..={} lost ({:?})", g.from.0, g.to.0, g.reason),
            _ => {}
        }
    }
    Ok(())
}
