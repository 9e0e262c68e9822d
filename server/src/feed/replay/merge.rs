//! The k-way merge of every file's ticks by `ts_event` (ties by file, then line), paced and
//! handed to the sequencer.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tickd_protocol::UnixNanos;

use super::pace::Pace;
use super::progress::Progress;
use super::{ReplaySummary, Source, Speed, next_csv};
use crate::feed::FeedSender;
use crate::ingest::input::SkipReason;
use tickd_formats::algoseek::{FileKind, ParsedFile};

#[allow(clippy::too_many_arguments)]
pub(super) fn merge(
    sources: &mut [Source],
    heap: &mut BinaryHeap<Reverse<(u64, usize)>>,
    speed: Speed,
    skip_invalid: bool,
    summary: &mut ReplaySummary,
    sender: &mut FeedSender,
    tokens: &crossbeam::channel::Sender<()>,
    stop: &(dyn Fn() -> bool + Sync),
    end: Option<u64>,
) -> anyhow::Result<()> {
    let mut pace = Pace {
        speed,
        origin: None,
    };
    let mut progress = Progress::new(end, speed);
    while let Some(Reverse((_, idx))) = heap.pop() {
        if stop() {
            bail!("stopped by shutdown");
        }
        let tick = match &mut sources[idx] {
            Source::Zip {
                file,
                rx,
                parsed,
                pos,
                local,
            } => {
                if parsed.is_none() {
                    let p = rx.recv().context("parser thread stopped")??;
                    // Let the dispatcher parse one more file ahead.
                    let _ = tokens.send(());
                    let counts = p.counts;
                    match file.kind {
                        FileKind::Trade => {
                            summary.trade_rows += counts.rows + u64::from(p.error.is_some());
                            summary.suspicious_trades += counts.suspicious;
                        }
                        FileKind::Quote => {
                            summary.quote_rows += counts.rows + u64::from(p.error.is_some());
                            summary.suspicious_quotes += counts.suspicious;
                        }
                    }
                    summary.invalid += counts.invalid;
                    sender.stats.skip(SkipReason::Suspicious, counts.suspicious);
                    sender.stats.skip(SkipReason::Invalid, counts.invalid);
                    sender.stats.rows.fetch_add(counts.rows, Ordering::Relaxed);
                    // Re-enter the merge at the first tick's own time (the key that brought
                    // us here was only the file's lower bound).
                    match (p.ticks.first(), &p.error) {
                        (Some(first), _) => heap.push(Reverse((first.ts_event, idx))),
                        (None, Some(e)) => bail!("{e}"),
                        (None, None) => {}
                    }
                    *parsed = Some(p);
                    continue;
                }
                let Some(p) = parsed.as_ref() else { continue };
                match p.ticks.get(*pos) {
                    Some(t) => {
                        let mut t = *t;
                        t.instrument_id = *local;
                        *pos += 1;
                        match p.ticks.get(*pos) {
                            Some(next) => heap.push(Reverse((next.ts_event, idx))),
                            None if p.error.is_some() => heap.push(Reverse((t.ts_event, idx))),
                            None => *parsed = Some(ParsedFile::default()),
                        }
                        t
                    }
                    None => {
                        if let Some(e) = &p.error {
                            bail!("{e}");
                        }
                        continue;
                    }
                }
            }
            Source::Csv { ticks, head } => {
                let (symbol, mut t) = match head.take() {
                    None => continue,
                    Some(Err(e)) => bail!("{e}"),
                    Some(Ok(tick)) => tick,
                };
                t.instrument_id = sender.symbol(symbol);
                *head = next_csv(ticks.as_mut(), skip_invalid, summary, sender);
                match head {
                    Some(Ok((_, next))) => heap.push(Reverse((next.ts_event, idx))),
                    // Stop right after this tick, before anything later in time.
                    Some(Err(_)) => heap.push(Reverse((t.ts_event, idx))),
                    None => {}
                }
                sender.stats.rows.fetch_add(1, Ordering::Relaxed);
                t
            }
        };
        if let Some(due) = pace.due(tick.ts_event) {
            let now = Instant::now();
            if due > now {
                sender.flush()?;
                let mut left = due - now;
                while !left.is_zero() && !stop() {
                    let step = left.min(Duration::from_millis(100));
                    thread::sleep(step);
                    left -= step;
                }
            }
        }
        if tick.kind() == Some(tickd_protocol::TickKind::Trade) {
            summary.trades += 1;
        } else {
            summary.quotes += 1;
        }
        sender.push(tick)?;
        progress.tick(summary.trades + summary.quotes, UnixNanos(tick.ts_event));
    }
    Ok(())
}
