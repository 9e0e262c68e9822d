//! Replay of recorded ticks: discovers files, merges them into one stream in event-time order,
//! paces it (recorded speed, a multiple, or as fast as possible) and hands it to the sequencer.
//!
//! Order: a k-way merge by `ts_event`, ties broken by file (sorted by path) and then by line, so
//! every replay of the same files produces the same sequence at any speed. AlgoSeek files are
//! parsed ahead of the merge on worker threads (bounded look-ahead); CSV files and venue
//! captures (received frames, one per line, through the venue's parser) stream.
//!
//! Bad lines: without `skip_invalid` the replay stops at the first bad line, after ingesting
//! everything ordered before it; with it, bad lines are counted and skipped.
//!
//! Here: discovery and the replay thread; `merge` (the k-way merge), `pace` (when each tick is
//! due) and `progress` (the terminal progress line) are files of their own.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use crossbeam::channel::{Receiver, bounded};
use jiff::tz::TimeZone;
use tickd_protocol::{Symbol, TickRecord};

use super::FeedSender;
use crate::ingest::input::SkipReason;
use tickd_formats::TickLines;
use tickd_formats::algoseek::{self, ParsedFile, SourceFile};
use tickd_formats::csv::{self, CsvTicks};
use tickd_formats::venue::Venue;
use tickd_formats::venue::capture::{self, CaptureTicks};

mod merge;
mod pace;
mod progress;

/// How fast to replay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// At the pace the ticks were recorded.
    Recorded,
    /// `n` times the recorded pace.
    Multiple(f64),
    /// As fast as the sequencer takes them.
    Max,
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "recorded" => Ok(Self::Recorded),
            "max" => Ok(Self::Max),
            n => match n.parse::<f64>() {
                Ok(x) if x > 0.0 && x.is_finite() => Ok(Self::Multiple(x)),
                _ => Err(format!(
                    "speed {n:?} is not `recorded`, `max` or a positive number"
                )),
            },
        }
    }
}

impl std::fmt::Display for Speed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Recorded => f.write_str("recorded"),
            Self::Multiple(x) => x.fmt(f),
            Self::Max => f.write_str("max"),
        }
    }
}

/// What a replay did, for the final summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Files replayed.
    pub files: u64,
    /// Trade rows in AlgoSeek trade files.
    pub trade_rows: u64,
    /// Quote rows in AlgoSeek quote files.
    pub quote_rows: u64,
    /// Data lines in CSV files.
    pub csv_rows: u64,
    /// Trade ticks sent.
    pub trades: u64,
    /// Quote ticks sent (NBBO changes for AlgoSeek quotes).
    pub quotes: u64,
    /// Trade rows excluded as suspicious.
    pub suspicious_trades: u64,
    /// Quote rows excluded as suspicious.
    pub suspicious_quotes: u64,
    /// Lines skipped as invalid.
    pub invalid: u64,
    /// Wall time from start to the last tick sequenced.
    pub elapsed: Duration,
}

/// Finds replayable files under `paths` (files or directories, recursively), sorted by path;
/// with `venue`, files of a capture's form whose name gives no venue are that venue's captures.
///
/// # Errors
///
/// If a path does not exist or holds no replayable file.
pub fn discover(paths: &[PathBuf], venue: Option<Venue>) -> anyhow::Result<Vec<PathBuf>> {
    let replayable = |p: &Path| {
        algoseek::recognise(p).is_some()
            || csv::recognise(p)
            || capture::recognise(p)
            || (venue.is_some() && capture::has_capture_form(p))
    };
    fn walk(
        p: &Path,
        out: &mut Vec<PathBuf>,
        replayable: &dyn Fn(&Path) -> bool,
    ) -> anyhow::Result<()> {
        let meta = std::fs::metadata(p).with_context(|| format!("replay path {}", p.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(p)
                .with_context(|| format!("read directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for e in entries {
                if e.is_dir() || replayable(&e) {
                    walk(&e, out, replayable)?;
                }
            }
        } else if replayable(p) {
            out.push(p.to_owned());
        } else {
            bail!(
                "{}: not a replay file (expected <symbol>/<YYYYMMDD>_trade.zip, _quote.zip, .csv, .csv.gz, .csv.zst, or a venue capture <venue>-<date>.log[.gz] or <VENUE>.ws.<n>.<n>[.gz])",
                p.display()
            );
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out, &replayable)?;
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        bail!(
            "no replayable files under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(out)
}

enum Source {
    Zip {
        file: SourceFile,
        rx: Receiver<anyhow::Result<ParsedFile>>,
        parsed: Option<ParsedFile>,
        pos: usize,
        local: u32,
    },
    /// A generic CSV file or a venue capture.
    Csv {
        ticks: Box<dyn TickLines>,
        /// The next line: a tick, or the bad line that stops the replay once it is reached.
        head: Option<Result<(Symbol, TickRecord), String>>,
    },
}

/// Replays `paths` into `sender` at `speed`. Runs on the calling thread (a feed thread).
///
/// # Errors
///
/// On a bad line (without `skip_invalid`), an unreadable file, or if the sequencer stops.
pub fn run(
    paths: &[PathBuf],
    venue: Option<Venue>,
    speed: Speed,
    skip_invalid: bool,
    sender: &mut FeedSender,
    stop: &(dyn Fn() -> bool + Sync),
) -> anyhow::Result<ReplaySummary> {
    let started = Instant::now();
    let files = discover(paths, venue)?;
    let tz = TimeZone::get("America/New_York").context("load the America/New_York time zone")?;
    let mut summary = ReplaySummary {
        files: files.len() as u64,
        ..ReplaySummary::default()
    };

    // AlgoSeek files: parse ahead on worker threads, in (date, path) order (the order the merge
    // first needs them), at most `workers + 2` files ahead of the merge.
    let mut zips: Vec<(usize, SourceFile)> = Vec::new();
    let mut sources: Vec<Source> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    for path in &files {
        if let Some(file) = algoseek::recognise(path) {
            let midnight = file
                .date
                .to_zoned(tz.clone())
                .map(|z| z.timestamp().as_nanosecond().max(0) as u64)
                .unwrap_or(0);
            zips.push((sources.len(), file.clone()));
            // Replaced below by the channel its parser answers on.
            let (_, rx) = bounded(1);
            let local = sender.symbol(file.symbol);
            heap.push(Reverse((midnight, sources.len())));
            sources.push(Source::Zip {
                file,
                rx,
                parsed: None,
                pos: 0,
                local,
            });
        } else {
            let named = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(capture::venue_of_file);
            let is_capture =
                capture::recognise(path) || (venue.is_some() && capture::has_capture_form(path));
            let mut ticks: Box<dyn TickLines> = if is_capture {
                // The venue the file's name gives, else the one given by option.
                Box::new(CaptureTicks::open(path, named.or(venue))?)
            } else {
                Box::new(CsvTicks::open(path)?.with_scales(Arc::clone(sender.scales())))
            };
            let head = next_csv(ticks.as_mut(), skip_invalid, &mut summary, sender);
            match &head {
                Some(Ok((_, t))) => heap.push(Reverse((t.ts_event, sources.len()))),
                Some(Err(_)) => heap.push(Reverse((0, sources.len()))),
                None => {}
            }
            sources.push(Source::Csv { ticks, head });
        }
    }
    zips.sort_by_key(|(_, f)| (f.date, f.path.clone()));
    // The replayed span ends with the last AlgoSeek day (CSV files give no end up front).
    let end = zips
        .iter()
        .filter_map(|(_, f)| f.date.tomorrow().ok()?.to_zoned(tz.clone()).ok())
        .map(|z| z.timestamp().as_nanosecond().max(0) as u64)
        .max()
        .filter(|_| zips.len() == files.len());
    let workers = thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let (job_tx, job_rx) = bounded::<(
        SourceFile,
        crossbeam::channel::Sender<anyhow::Result<ParsedFile>>,
    )>(0);
    let (token_tx, token_rx) = bounded::<()>(workers + 2);
    for _ in 0..workers + 2 {
        let _ = token_tx.send(());
    }
    let mut result_txs = Vec::new();
    for (idx, file) in &zips {
        let (tx, rx) = bounded(1);
        if let Source::Zip { rx: slot, .. } = &mut sources[*idx] {
            *slot = rx;
        }
        result_txs.push((file.clone(), tx));
    }
    let tz_workers = tz.clone();
    let result = thread::scope(|scope| -> anyhow::Result<()> {
        // Dispatcher: a token per file parsed but not yet taken by the merge.
        let token_rx2 = token_rx.clone();
        scope.spawn(move || {
            for job in result_txs {
                if token_rx2.recv().is_err() || job_tx.send(job).is_err() {
                    return;
                }
            }
        });
        for _ in 0..workers {
            let job_rx = job_rx.clone();
            let tz = tz_workers.clone();
            scope.spawn(move || {
                for (file, tx) in job_rx {
                    let _ = tx.send(algoseek::parse(&file, &tz, skip_invalid));
                }
            });
        }
        drop(job_rx);
        let res = merge::merge(
            &mut sources,
            &mut heap,
            speed,
            skip_invalid,
            &mut summary,
            sender,
            &token_tx,
            stop,
            end,
        );
        drop(sources);
        drop(token_rx);
        res
    });
    // Whatever was read before a stop is ingested, then the error (if any) is reported.
    sender.flush()?;
    wait_until_sequenced(sender, summary.trades + summary.quotes);
    result?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

fn next_csv(
    ticks: &mut dyn TickLines,
    skip_invalid: bool,
    summary: &mut ReplaySummary,
    sender: &FeedSender,
) -> Option<Result<(Symbol, TickRecord), String>> {
    loop {
        match ticks.next_tick() {
            Ok(Some(t)) => {
                summary.csv_rows += 1;
                return Some(Ok(t));
            }
            Ok(None) => return None,
            Err(e) if skip_invalid => {
                summary.csv_rows += 1;
                summary.invalid += 1;
                sender.stats.skip(SkipReason::Invalid, 1);
                tracing::warn!("skipped {e}");
            }
            Err(e) => return Some(Err(e.to_string())),
        }
    }
}

/// Waits (bounded) until the sequencer has accounted for `sent` ticks of this feed.
fn wait_until_sequenced(sender: &FeedSender, sent: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while sender.stats.ingested.load(Ordering::Acquire)
        + sender.stats.rejected.load(Ordering::Acquire)
        < sent
        && Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(1));
    }
}
