//! `tickctl publish FILE`: reads a generic-CSV file and publishes it in batches, waiting for
//! each `PublishAck`; a progress line on a terminal, then one JSON summary line
//! (`sent`, `acked`, `rejected`, `first_seq`, `last_seq`, `epoch`, `elapsed_s`, `rate`).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use tickd_client::Client;
use tickd_formats::csv::CsvTicks;
use tickd_protocol::{ScaleMap, Symbol, TickRecord};

/// Publishes `file` through `client`, parsing and defining each symbol at its `scales` (others
/// 9 and 9); writes the summary line to `out`.
pub(crate) async fn run(
    client: &mut Client,
    file: &Path,
    batch: usize,
    skip_invalid: bool,
    scales: Arc<ScaleMap>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut reader = CsvTicks::open(file)?.with_scales(Arc::clone(&scales));
    let scales_of = |symbols: &[Symbol]| symbols.iter().map(|s| scales.get(s)).collect::<Vec<_>>();
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let mut last_progress = started;
    let (mut sent, mut acked, mut rejected, mut invalid) = (0u64, 0u64, 0u64, 0u64);
    let (mut first_seq, mut last_seq) = (0u64, 0u64);
    let mut symbols: Vec<Symbol> = Vec::new();
    let mut index: HashMap<Symbol, u32> = HashMap::new();
    let mut ticks: Vec<TickRecord> = Vec::with_capacity(batch);
    let mut done = false;
    while !done {
        symbols.clear();
        index.clear();
        ticks.clear();
        while ticks.len() < batch {
            match reader.next_tick() {
                Ok(Some((symbol, mut tick))) => {
                    let next = symbols.len() as u32;
                    tick.instrument_id = *index.entry(symbol).or_insert_with(|| {
                        symbols.push(symbol);
                        next
                    });
                    ticks.push(tick);
                }
                Ok(None) => {
                    done = true;
                    break;
                }
                Err(e) if skip_invalid => {
                    invalid += 1;
                    eprintln!("skipped {e}");
                }
                Err(e) => {
                    // Everything before the bad line is published first.
                    if !ticks.is_empty() {
                        let ack = client
                            .publish_scaled(symbols.clone(), scales_of(&symbols), &ticks)
                            .await?;
                        sent += ticks.len() as u64;
                        acked += u64::from(ack.accepted);
                    }
                    bail!("{e} (published {sent} ticks before it, {acked} acked)");
                }
            }
        }
        if ticks.is_empty() {
            break;
        }
        let ack = client
            .publish_scaled(symbols.clone(), scales_of(&symbols), &ticks)
            .await
            .context("publish")?;
        sent += ticks.len() as u64;
        acked += u64::from(ack.accepted);
        rejected += ack.rejected.len() as u64;
        for r in &ack.rejected {
            eprintln!(
                "rejected tick {} of batch {}: {}",
                r.index, ack.request_id, r.reason
            );
        }
        if ack.accepted > 0 {
            if first_seq == 0 {
                first_seq = ack.first_seq.0;
            }
            last_seq = ack.last_seq.0;
        }
        if tty && last_progress.elapsed() >= Duration::from_millis(250) {
            last_progress = Instant::now();
            let rate = sent as f64 / started.elapsed().as_secs_f64().max(1e-9);
            eprint!("\rpublish: {sent} sent, {acked} acked, {rate:.0} ticks/s   ");
        }
    }
    if tty {
        eprintln!();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let summary = json!({
        "sent": sent,
        "acked": acked,
        "rejected": rejected,
        "invalid": invalid,
        "first_seq": first_seq,
        "last_seq": last_seq,
        "epoch": client.welcome().epoch.0,
        "elapsed_s": elapsed,
        "rate": sent as f64 / elapsed.max(1e-9),
    });
    writeln!(out, "{summary}")?;
    Ok(())
}
