//! `tickd serve`: wires the store, the sequencer, the feeds and the listeners together, and
//! shuts them down in order on SIGINT/SIGTERM.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use anyhow::Context;
use tickd_engine::CandleBook;

use crate::clock;
use crate::cluster::status::ClusterStatus;
use crate::cluster::{self, ClusterConfig, Role};
use crate::config::ServerConfig;
use crate::feed::FeedSender;
use crate::feed::replay::{self, ReplaySummary};
use crate::feed::synthetic::{self, SyntheticConfig};
use crate::feed::venue;
use crate::ingest::input::{self, FeedClock, FeedStats, InputTx};
use crate::ingest::instruments::{InstrumentTable, Instruments};
use crate::ingest::sequencer::{self, Published, Sequencer};
use crate::ingest::status::IngestStatus;
use crate::query::Shared;
use crate::storage::epoch;
use crate::storage::journal::{self, Journal};
use crate::storage::store::Store;

/// Ticks per batch handed from a feed to the sequencer.
const BATCH_LEN: usize = 4_096;
/// Batches queued between feeds and the sequencer before feeds block.
const QUEUE_BATCHES: usize = 64;
/// How long a new edge waits for its origin's stream to exist.
const EPOCH_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// A running server: its shared state and the threads to stop.
pub struct Running {
    /// Shared state for listeners.
    pub shared: Shared,
    stop: Arc<AtomicBool>,
    feeds: Vec<JoinHandle<()>>,
    sequencer: Option<JoinHandle<Sequencer>>,
    tx: Option<InputTx>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

/// Creates the store and starts the sequencer and feeds.
///
/// # Errors
///
/// If a listener is beyond loopback with no tokens ([`crate::net::check_listeners`]), the shm
/// files cannot be created or a thread cannot start.
pub fn start(config: &ServerConfig) -> anyhow::Result<Running> {
    // The bind rule first: a refused configuration creates no store (a 256 MiB ring) and no
    // journal, so a container that restarts on it costs nothing.
    crate::net::check_listeners(config)?;
    // The metrics recorder before any thread takes a metric handle: a handle taken earlier
    // records nowhere, for good (the feeds and the journal keep theirs).
    crate::metrics::install();
    // An edge takes its origin's epoch: kept in its data directory once it has one.
    let edge = config.cluster.as_ref().filter(|c| c.role == Role::Edge);
    let origin_epoch = |c: &ClusterConfig| cluster::edge::discover_epoch(c, EPOCH_WAIT);
    let (epoch, base_seq) = match &config.journal {
        // The data directory keeps the epoch; the ring restarts just below the oldest
        // journaled seq and is refilled from the journal.
        Some(j) => {
            let epoch = match edge {
                Some(c) if !epoch::exists(&config.data_dir) => {
                    let e = origin_epoch(c)?;
                    epoch::load_or_create_with(&config.data_dir, || e)?
                }
                _ => epoch::load_or_create(&config.data_dir)?,
            };
            (
                epoch,
                journal::first_segment_seq(&j.dir)?.map_or(0, |s| s - 1),
            )
        }
        // No journal: every start is a new history, so it gets a new epoch (DESIGN.md §2);
        // an edge's is its origin's, followed from the stream's start.
        None => (
            edge.map(origin_epoch)
                .transpose()?
                .unwrap_or(clock::now().0),
            0,
        ),
    };
    let base_seq = match edge {
        Some(c) => edge_base(c, config, epoch, base_seq)?,
        None => base_seq,
    };
    let store = Store::create(&config.shm_dir, &config.store, epoch, base_seq)?;
    let book = CandleBook::new(config.candles.clone());
    let candles = Arc::clone(book.view());
    let instruments: Instruments = Arc::new(RwLock::new(InstrumentTable::default()));
    let (pub_tx, pub_rx) = tokio::sync::watch::channel(Published::default());
    let ingest = Arc::new(IngestStatus::default());
    let mut seq = Sequencer::with_status(
        store,
        book,
        Arc::clone(&instruments),
        pub_tx,
        Arc::clone(&ingest),
    );
    if edge.is_some() {
        seq.set_follower();
    }
    seq.set_max_future_skew(config.max_future_skew);
    seq.set_symbol_quota(config.symbol_quota);
    if let Some(j) = &config.journal {
        let started = std::time::Instant::now();
        let rec = journal::recover(&j.dir, |t| seq.restore(t)).context("recover the journal")?;
        seq.finish_restore(&rec.symbols)?;
        tracing::info!(
            epoch,
            first_seq = rec.first_seq,
            last_seq = rec.last_seq,
            symbols = rec.symbols.len(),
            cut_bytes = rec.truncated_bytes,
            ms = started.elapsed().as_millis() as u64,
            "recovered from the journal"
        );
        seq.set_journal(Journal::open(j.clone(), rec.last_seq)?);
    }
    let (tx, rx) = input::queue(QUEUE_BATCHES);
    let publish_stats = FeedStats::new("publish");
    let publishers = seq.add_feed(Arc::clone(&publish_stats), FeedClock::Wall);
    let stop = Arc::new(AtomicBool::new(false));
    let mut feed_stats = Vec::new();
    let mut feeds = Vec::new();

    if let Some(symbols) = &config.synthetic {
        let stats = FeedStats::new("synthetic");
        let id = seq.add_feed(Arc::clone(&stats), FeedClock::Wall);
        feed_stats.push(Arc::clone(&stats));
        let mut sender =
            FeedSender::new(id, tx.clone(), stats, BATCH_LEN, Arc::clone(&config.scales));
        let cfg = SyntheticConfig {
            symbols: symbols.clone(),
            rate_per_s: config.synthetic_rate,
            ..SyntheticConfig::default()
        };
        let stop = Arc::clone(&stop);
        feeds.push(
            std::thread::Builder::new()
                .name("feed-synthetic".into())
                .spawn(move || {
                    let _ = synthetic::run(&cfg, &mut sender, || stop.load(Ordering::Relaxed));
                    let _ = sender.finish();
                })?,
        );
        tracing::info!(
            symbols = symbols.len(),
            rate = config.synthetic_rate,
            "synthetic feed started"
        );
    }
    if !config.replay.is_empty() {
        let stats = FeedStats::new("replay");
        let id = seq.add_feed(Arc::clone(&stats), FeedClock::Event);
        feed_stats.push(Arc::clone(&stats));
        let mut sender =
            FeedSender::new(id, tx.clone(), stats, BATCH_LEN, Arc::clone(&config.scales));
        let (paths, speed, skip) = (config.replay.clone(), config.speed, config.skip_invalid);
        let venue = config.replay_venue;
        let stop = Arc::clone(&stop);
        feeds.push(
            std::thread::Builder::new()
                .name("feed-replay".into())
                .spawn(move || {
                    let result = replay::run(&paths, venue, speed, skip, &mut sender, &|| {
                        stop.load(Ordering::Relaxed)
                    });
                    match result {
                        Ok(summary) => report(&summary, &sender.stats),
                        Err(e) => {
                            let msg = format!("{e:#}");
                            tracing::error!("replay stopped: {msg}");
                            eprintln!("replay stopped: {msg}");
                            if let Ok(mut slot) = sender.stats.error.lock() {
                                *slot = Some(msg);
                            }
                        }
                    }
                    // The sequencer marks the feed finished once it has sequenced everything.
                    let _ = sender.finish();
                })?,
        );
    }
    let attempts = venue::attempt_limiters(&config.feeds);
    let definitions = Arc::new(crate::ingest::definitions::Definitions::default());
    for spec in &config.feeds {
        let several = config
            .feeds
            .iter()
            .filter(|f| f.venue == spec.venue)
            .count()
            > 1;
        let stats = FeedStats::live(&spec.name(several));
        let id = seq.add_feed(Arc::clone(&stats), FeedClock::Wall);
        feed_stats.push(Arc::clone(&stats));
        let sender = FeedSender::new(id, tx.clone(), stats, BATCH_LEN, Arc::clone(&config.scales));
        let cfg = venue::VenueFeedConfig {
            spec: spec.clone(),
            silence: config.feed_silence,
            backoff_max: config.feed_backoff_max,
            capture: config.capture.clone(),
            attempts: Arc::clone(&attempts[&spec.venue]),
            definitions: Arc::clone(&definitions),
        };
        feeds.push(venue::spawn(cfg, sender, Arc::clone(&stop))?);
        tracing::info!(feed = %spec, "live feed started");
    }
    feed_stats.push(publish_stats);
    // Close at once what the wall clock has passed since the journal's candles were built (no
    // replay running), rather than at the first idle sweep: a restarted server answers with
    // the same candles from its first request.
    if let Err(e) = seq.on_idle(clock::now()) {
        tracing::error!("{e}");
    }
    let sequencer = sequencer::spawn(seq, rx, publishers, Arc::clone(&stop))
        .context("start the sequencer thread")?;
    let cluster_status = config
        .cluster
        .as_ref()
        .map(|c| Arc::new(ClusterStatus::new(c.role)));
    if let (Some(c), Some(status)) = (&config.cluster, &cluster_status) {
        let status = Arc::clone(status);
        let stop = Arc::clone(&stop);
        feeds.push(match c.role {
            Role::Origin => {
                cluster::origin::spawn(cluster::origin::Origin {
                    config: c.clone(),
                    epoch,
                    journal_dir: config.journal.as_ref().map(|j| j.dir.clone()).context(
                        "--publish-to publishes from the journal: not with --no-journal",
                    )?,
                    instruments: Arc::clone(&instruments),
                    published: pub_rx.clone(),
                    stop,
                    status,
                })?
            }
            Role::Edge => cluster::edge::spawn(cluster::edge::Edge {
                config: c.clone(),
                epoch,
                input: tx.clone(),
                instruments: Arc::clone(&instruments),
                published: pub_rx.clone(),
                stop,
                status,
            })?,
        });
    }
    tracing::info!(epoch, shm_dir = %config.shm_dir.display(), "sequencer started");
    Ok(Running {
        shared: Shared {
            instruments,
            candles,
            published: pub_rx,
            feeds: Arc::new(feed_stats),
            epoch: tickd_protocol::Epoch(epoch),
            shm_dir: config.shm_dir.clone(),
            journal_dir: config.journal.as_ref().map(|j| j.dir.clone()),
            input: tx.clone(),
            ingest,
            definitions,
            cluster: cluster_status,
        },
        stop,
        feeds,
        sequencer: Some(sequencer),
        tx: Some(tx),
    })
}

/// Where an edge's ring starts: after its journal, or, when the origin's stream no longer
/// holds the records after it (retention), just before the stream's first record. The journal
/// it has is then moved aside (`journal.before-<seq>`), and a subscriber asking for the lost
/// range gets a `Gap` (not retained) for it, as from any trimmed journal.
fn edge_base(
    c: &ClusterConfig,
    config: &ServerConfig,
    epoch: u64,
    base_seq: u64,
) -> anyhow::Result<u64> {
    let Some(first) = cluster::edge::stream_first_seq(c, epoch, EPOCH_WAIT)? else {
        return Ok(base_seq);
    };
    let held = match &config.journal {
        Some(j) if journal::first_segment_seq(&j.dir)?.is_some() => {
            journal::recover(&j.dir, |_| {})
                .context("read the journal")?
                .last_seq
        }
        _ => 0,
    };
    if held + 1 >= first {
        return Ok(base_seq);
    }
    if let Some(j) = &config.journal
        && held > 0
    {
        let aside = j.dir.with_file_name(format!("journal.before-{first}"));
        std::fs::rename(&j.dir, &aside)
            .with_context(|| format!("move {} aside", j.dir.display()))?;
        tracing::warn!(aside = %aside.display(), "the journal's records are kept aside");
    }
    tracing::warn!(
        epoch,
        lost_from = held + 1,
        lost_to = first - 1,
        "the origin's stream no longer holds the records after this edge's: they are a gap here"
    );
    Ok(first - 1)
}

impl Running {
    /// Stops the feeds, lets the sequencer drain its queue, and joins every thread.
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for f in self.feeds.drain(..) {
            let _ = f.join();
        }
        drop(self.tx.take());
        if let Some(Ok(seq)) = self.sequencer.take().map(JoinHandle::join) {
            tracing::info!(head = seq.head().0, "sequencer stopped");
        }
    }
}

/// Prints a replay's final summary (stderr and the log).
fn report(s: &ReplaySummary, stats: &FeedStats) {
    let ingested = stats.ingested.load(Ordering::Acquire);
    let rejected = stats.rejected.load(Ordering::Acquire);
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let rows = s.trade_rows + s.quote_rows + s.csv_rows;
    let line = format!(
        "replay finished: {files} files, {rows} rows ({trade_rows} trade rows, {quote_rows} quote rows, {csv_rows} csv rows); \
         ingested {ingested} ticks ({trades} trades, {quotes} quotes{nbbo}); skipped: {st} suspicious trades, {sq} suspicious quotes, \
         {inv} invalid lines, {rejected} rejected; elapsed {secs:.3} s, {rate:.0} rows/s, {trate:.0} ticks/s",
        files = s.files,
        trade_rows = s.trade_rows,
        quote_rows = s.quote_rows,
        csv_rows = s.csv_rows,
        trades = s.trades,
        quotes = s.quotes,
        nbbo = if s.quote_rows > 0 { " NBBO" } else { "" },
        st = s.suspicious_trades,
        sq = s.suspicious_quotes,
        inv = s.invalid,
        rate = rows as f64 / secs,
        trate = ingested as f64 / secs,
    );
    tracing::info!("{line}");
    eprintln!("{line}");
}
