//! Replay of recorded ticks: discovers files, merges them into one stream in event-time order,
//! paces it (recorded speed, a multiple, or as fast as possible) and hands it to the sequencer.
//!
//! Order: a k-way merge by `ts_event`, ties broken by file (sorted by path) and then by line, so
//! every replay of the same files produces the same sequence at any speed. AlgoSeek files are
//! parsed ahead of the merge on worker threads (bounded look-ahead); CSV files stream.
//!
//! Bad lines: without `skip_invalid` the replay stops at the first bad line, after ingesting
//! everything ordered before it; with it, bad lines are counted and skipped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use crossbeam::channel::{Receiver, bounded};
use jiff::tz::TimeZone;
use tickd_protocol::{Symbol, TickRecord, UnixNanos};

use super::FeedSender;
use crate::ingest::input::SkipReason;
use tickd_formats::algoseek::{self, FileKind, ParsedFile, SourceFile};
use tickd_formats::csv::{self, CsvTicks};

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

/// Finds replayable files under `paths` (files or directories, recursively), sorted by path.
///
/// # Errors
///
/// If a path does not exist or holds no replayable file.
pub fn discover(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        let meta = std::fs::metadata(p).with_context(|| format!("replay path {}", p.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(p)
                .with_context(|| format!("read directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for e in entries {
                if e.is_dir() || algoseek::recognise(&e).is_some() || csv::recognise(&e) {
                    walk(&e, out)?;
                }
            }
        } else if algoseek::recognise(p).is_some() || csv::recognise(p) {
            out.push(p.to_owned());
        } else {
            bail!(
                "{}: not a replay file (expected <symbol>/<YYYYMMDD>_trade.zip, _quote.zip, .csv, .csv.gz or .csv.zst)",
                p.display()
            );
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out)?;
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
    Csv {
        ticks: Box<CsvTicks>,
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
    speed: Speed,
    skip_invalid: bool,
    sender: &mut FeedSender,
    stop: &(dyn Fn() -> bool + Sync),
) -> anyhow::Result<ReplaySummary> {
    let started = Instant::now();
    let files = discover(paths)?;
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
            let mut ticks = Box::new(CsvTicks::open(path)?);
            let head = next_csv(&mut ticks, skip_invalid, &mut summary, sender);
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
        let res = merge(
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
    ticks: &mut CsvTicks,
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

/// Pacing: when each tick is due on the wall clock.
struct Pace {
    speed: Speed,
    origin: Option<(u64, Instant)>,
}

impl Pace {
    fn due(&mut self, ts_event: u64) -> Option<Instant> {
        let factor = match self.speed {
            Speed::Max => return None,
            Speed::Recorded => 1.0,
            Speed::Multiple(x) => x,
        };
        let (t0, start) = *self.origin.get_or_insert((ts_event, Instant::now()));
        let ahead_ns = ts_event.saturating_sub(t0) as f64 / factor;
        Some(start + Duration::from_nanos(ahead_ns as u64))
    }
}

#[allow(clippy::too_many_arguments)]
fn merge(
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
                *head = next_csv(ticks, skip_invalid, summary, sender);
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

/// A progress line on stderr when it is a terminal: records, rate, event time.
struct Progress {
    enabled: bool,
    start: Instant,
    last: Instant,
    /// Event time of the first tick, and the end of the replayed span when known (the last
    /// AlgoSeek day's end), for the ETA.
    first: Option<u64>,
    end: Option<u64>,
    speed: Speed,
}

impl Progress {
    fn new(end: Option<u64>, speed: Speed) -> Self {
        let now = Instant::now();
        Self {
            enabled: std::io::stderr().is_terminal(),
            start: now,
            last: now,
            first: None,
            end,
            speed,
        }
    }

    fn tick(&mut self, records: u64, at: UnixNanos) {
        let first = *self.first.get_or_insert(at.0);
        if !self.enabled || !records.is_multiple_of(4096) {
            return;
        }
        let now = Instant::now();
        if now.duration_since(self.last) < Duration::from_millis(250) {
            return;
        }
        self.last = now;
        let secs = now.duration_since(self.start).as_secs_f64().max(1e-9);
        let ts = jiff::Timestamp::from_nanosecond(i128::from(at.0))
            .map(|t| t.to_string())
            .unwrap_or_default();
        let eta = match (self.end, self.speed) {
            (Some(end), Speed::Max) if at.0 > first && end > first => {
                let done = (at.0 - first) as f64 / (end - first) as f64;
                format!(", ETA {:.0} s", secs * (1.0 - done) / done)
            }
            (Some(end), Speed::Recorded) => {
                format!(", ETA {:.0} s", end.saturating_sub(at.0) as f64 / 1e9)
            }
            (Some(end), Speed::Multiple(x)) => {
                format!(", ETA {:.0} s", end.saturating_sub(at.0) as f64 / 1e9 / x)
            }
            _ => String::new(),
        };
        eprint!(
            "\rreplay: {records} records, {:.0} records/s, at {ts}{eta}   ",
            records as f64 / secs
        );
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.enabled {
            eprintln!();
        }
    }
}
