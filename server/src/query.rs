//! The read side: what every door (TCP, QUIC, HTTP, WebSocket) shares with the sequencer
//! ([`Shared`]) and the answers it computes ([`Query`]): symbol resolution, queries (candles,
//! latest, symbols, stats) and snapshots, all read from the same ring, latest table and candle
//! book the sequencer writes (no second copy of the data).

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use anyhow::Context;
use tickd_engine::{Take, fill_previous};
use tickd_protocol::files::{
    CANDLE_SLOT_WORDS, CANDLES_RING, LATEST_CELL_WORDS, LATEST_TABLE, TICK_SLOT_WORDS, TICKS_RING,
    latest_cell,
};
use tickd_protocol::{
    CandleRecord, Epoch, ErrorCode, ErrorMessage, FeedStat, Instrument, InstrumentId, Interval,
    Page, QuerySpec, Scales, Seq, Symbol, TickKind, TickRecord, UnixNanos,
};
use tickd_shm::{ReadOutcome, Reader, TableReader};

use crate::ingest::input::{FeedStats, InputTx};
use crate::ingest::instruments::Instruments;
use crate::ingest::sequencer::Published;
use crate::ingest::status::IngestStatus;

/// Most candles in one query answer (keeps the frame under 1 MiB).
pub const MAX_QUERY_CANDLES: usize = 7_000;

/// Most instruments in one answer (a page): well inside every client's FlatBuffers verifier
/// limits (tables per message) and the frame size, whatever the directory's size.
pub const MAX_PAGE_INSTRUMENTS: u32 = 4_096;

/// Most tick-ring records one trades lookup ([`Query::trades`]) reads: bounds the work an
/// unauthenticated `/api/v3/trades` for a rarely traded symbol can cause (about 16 MiB of ring).
pub const MAX_TRADE_SCAN: u64 = 1 << 18;

/// Where a trades lookup ([`Query::trades`]) starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradesFrom {
    /// The newest trades, looking back from the head.
    Newest,
    /// Trades at or after this seq, forward.
    Seq(Seq),
    /// Trades with `ts_event` at or after this time, forward.
    Time(UnixNanos),
}

/// What network sessions and queries share.
#[derive(Debug, Clone)]
pub struct Shared {
    /// Symbol table.
    pub instruments: Instruments,
    /// Candles, as readers see them (the sequencer updates them once per batch).
    pub candles: Arc<tickd_engine::CandleView>,
    /// Head notifications, once per batch.
    pub published: tokio::sync::watch::Receiver<Published>,
    /// Per-feed counters.
    pub feeds: Arc<Vec<Arc<FeedStats>>>,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// The shm directory.
    pub shm_dir: std::path::PathBuf,
    /// The journal directory, when journaling (gap fill reads it).
    pub journal_dir: Option<std::path::PathBuf>,
    /// The sequencer's input, for publishers.
    pub input: InputTx,
    /// Ingest health (journal failures).
    pub ingest: Arc<IngestStatus>,
    /// The venues' instrument definitions (live feeds load them).
    pub definitions: Arc<crate::ingest::definitions::Definitions>,
    /// This node's JetStream role and state (none: standalone).
    pub cluster: Option<Arc<crate::cluster::status::ClusterStatus>>,
}

/// The read side: the server state shared with the sequencer and readers of the shm files it
/// writes. Cheap to clone (one per connection or subscription).
#[derive(Debug, Clone)]
pub struct Query {
    /// Server state shared with the sequencer.
    pub shared: Shared,
    /// A tick-ring reader to clone per subscription.
    pub ticks: Reader<TICK_SLOT_WORDS>,
    /// A candle-ring reader to clone per subscription.
    pub candles: Reader<CANDLE_SLOT_WORDS>,
    /// The latest-value table.
    pub latest: Arc<TableReader<LATEST_CELL_WORDS>>,
}

/// State at one seq: latest ticks and current candles.
#[derive(Debug, Default)]
pub struct SnapshotData {
    /// Valid as of this seq.
    pub seq: Seq,
    /// Last trade and quote of each instrument.
    pub ticks: Vec<TickRecord>,
    /// Current candles.
    pub candles: Vec<CandleRecord>,
}

/// A query's answer.
#[derive(Debug, Default)]
pub struct Answer {
    /// Valid as of this seq.
    pub head: Seq,
    /// Candles.
    pub candles: Vec<CandleRecord>,
    /// Ticks.
    pub ticks: Vec<TickRecord>,
    /// Instruments.
    pub instruments: Vec<Instrument>,
    /// Feed counters.
    pub feeds: Vec<FeedStat>,
    /// Where the next page of a paged instrument list starts (`None`: last page).
    pub next_id: Option<InstrumentId>,
}

fn error(request_id: u64, code: ErrorCode, message: String) -> ErrorMessage {
    ErrorMessage {
        request_id,
        code,
        message,
    }
}

impl Query {
    /// Opens the shm files the sequencer created.
    ///
    /// # Errors
    ///
    /// If a file cannot be opened.
    pub fn open(shared: Shared) -> anyhow::Result<Self> {
        let dir = shared.shm_dir.clone();
        let wait = Duration::from_secs(5);
        Ok(Self {
            ticks: Reader::open(&dir.join(TICKS_RING), wait).context("open the tick ring")?,
            candles: Reader::open(&dir.join(CANDLES_RING), wait).context("open the candle ring")?,
            latest: Arc::new(
                TableReader::open(&dir.join(LATEST_TABLE), wait)
                    .context("open the latest table")?,
            ),
            shared,
        })
    }

    /// The ring's epoch.
    pub fn epoch(&self) -> Epoch {
        self.shared.epoch
    }

    /// The scales of instrument `id` (9 and 9 if unknown).
    pub fn scales(&self, id: InstrumentId) -> Scales {
        self.shared
            .instruments
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .scales(id)
            .unwrap_or_default()
    }

    /// The published head.
    pub fn head(&self) -> Seq {
        Seq(self.ticks.head())
    }

    /// Resolves symbols to ids.
    ///
    /// # Errors
    ///
    /// `UnknownSymbol` naming the first symbol tickd does not know.
    pub fn resolve(
        &self,
        request_id: u64,
        symbols: &[Symbol],
    ) -> Result<Vec<InstrumentId>, ErrorMessage> {
        let table = self
            .shared
            .instruments
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        symbols
            .iter()
            .map(|s| {
                table.id(s).ok_or_else(|| {
                    error(
                        request_id,
                        ErrorCode::UnknownSymbol,
                        format!("unknown symbol {:?}: see the symbols query", s.as_str()),
                    )
                })
            })
            .collect()
    }

    /// A page of the instruments whose symbol starts with `prefix`, in id order, and where the
    /// next page starts. O(page) for an empty prefix.
    pub fn instrument_page(
        &self,
        prefix: &str,
        page: Page,
    ) -> (Vec<Instrument>, Option<InstrumentId>) {
        let limit = page
            .limit
            .map_or(MAX_PAGE_INSTRUMENTS, |l| l.clamp(1, MAX_PAGE_INSTRUMENTS))
            as usize;
        let table = self
            .shared
            .instruments
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::new();
        // Ids are dense from 0: the table holds 0..len.
        let end = u32::try_from(table.len()).unwrap_or(u32::MAX);
        for id in page.from_id..end {
            let Some(i) = table.instrument(InstrumentId(id)) else {
                continue;
            };
            if !i.symbol.as_str().starts_with(prefix) {
                continue;
            }
            if out.len() == limit {
                return (out, Some(InstrumentId(id)));
            }
            out.push(i);
        }
        (out, None)
    }

    /// Every instrument, or those in `ids`.
    pub fn instruments(&self, ids: Option<&[InstrumentId]>) -> Vec<Instrument> {
        let table = self
            .shared
            .instruments
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        match ids {
            None => table.all(),
            Some(ids) => ids.iter().filter_map(|&id| table.instrument(id)).collect(),
        }
    }

    fn latest_of(&self, id: InstrumentId, out: &mut Vec<TickRecord>) {
        let mut words = [0u64; LATEST_CELL_WORDS];
        for kind in [TickKind::Trade, TickKind::Quote] {
            match self.latest.read(latest_cell(id, kind), &mut words) {
                Ok(Some(_)) => out.push(TickRecord::from_words(&words)),
                Ok(None) => {}
                Err(e) => tracing::error!("latest table: {e}"),
            }
        }
    }

    /// Last trade and quote of `ids`, consistent at the head, without the candle book's lock
    /// (which every HTTP request for a price would otherwise contend on with the sequencer).
    ///
    /// The sequencer writes a batch's latest cells, each versioned by its tick's seq, before it
    /// publishes the batch's head (Release; our Acquire load in `head` pairs with it). So once
    /// `head` = H is loaded, every cell write with seq <= H is visible, and a cell whose
    /// version is <= H holds the newest value it had at H. A cell newer than H (a batch not yet
    /// published) means trying again; `None` after a few tries (the caller takes the lock).
    fn latest_at_head(&self, ids: &[InstrumentId]) -> Option<SnapshotData> {
        let mut words = [0u64; LATEST_CELL_WORDS];
        let mut snap = SnapshotData::default();
        'retry: for _ in 0..4 {
            snap.seq = self.head();
            snap.ticks.clear();
            for &id in ids {
                for kind in [TickKind::Trade, TickKind::Quote] {
                    // The writer is this process's sequencer: a cell cannot stay mid-write while
                    // it is alive, so a stall is only reported, never waited on again.
                    match self.latest.read(latest_cell(id, kind), &mut words) {
                        Ok(Some(version)) if version > snap.seq.0 => continue 'retry,
                        Ok(Some(_)) => snap.ticks.push(TickRecord::from_words(&words)),
                        Ok(None) => {}
                        Err(e) => tracing::error!("latest table: {e}"),
                    }
                }
            }
            return Some(snap);
        }
        None
    }

    /// Last trade and quote of `ids` (all if `None`) and their latest candles of `intervals`
    /// (in progress, else the last closed), consistent at one seq: read again if the sequencer
    /// published a batch meanwhile ([`tickd_engine::CandleView::consistent`]); the sequencer
    /// never waits for it.
    pub fn snapshot(&self, ids: Option<&[InstrumentId]>, intervals: &[Interval]) -> SnapshotData {
        let all: Vec<InstrumentId>;
        let ids = match ids {
            Some(ids) => ids,
            None => {
                all = self.instruments(None).iter().map(|i| i.id).collect();
                &all
            }
        };
        if intervals.is_empty()
            && let Some(snap) = self.latest_at_head(ids)
        {
            return snap;
        }
        let (snap, _) = self.shared.candles.consistent(|view| {
            let mut snap = SnapshotData {
                seq: self.head(),
                ..SnapshotData::default()
            };
            for &id in ids {
                self.latest_of(id, &mut snap.ticks);
                for &interval in intervals {
                    snap.candles.extend(view.latest(id, interval));
                }
            }
            snap
        });
        snap
    }

    /// Answers a query.
    ///
    /// # Errors
    ///
    /// An [`ErrorMessage`] for an unknown symbol.
    pub fn answer(&self, request_id: u64, spec: &QuerySpec) -> Result<Answer, ErrorMessage> {
        match spec {
            QuerySpec::Candles {
                symbol,
                interval,
                from,
                to,
                limit,
                fill_previous: fill,
            } => {
                let id = self.resolve(request_id, std::slice::from_ref(symbol))?[0];
                let limit =
                    limit.map_or(MAX_QUERY_CANDLES, |l| (l as usize).min(MAX_QUERY_CANDLES));
                // With a start time (0 too: the usual first page of a pagination loop): the
                // first candles from it (pages forward, as Binance's klines do); without: the
                // latest ones.
                let take = if from.is_some() {
                    Take::First(limit)
                } else {
                    Take::Last(limit)
                };
                let from = from.unwrap_or(UnixNanos(0));
                let to = to.unwrap_or(UnixNanos(u64::MAX));
                // The range and, for filling, the candle before it, at one head.
                let ((candles, seed, head), _) = self.shared.candles.consistent(|view| {
                    let head = self.head();
                    let candles = view.candles(id, *interval, from, to, take);
                    let seed = if *fill {
                        view.candles(id, *interval, UnixNanos(0), from, Take::Last(1))
                    } else {
                        Vec::new()
                    };
                    (candles, seed, head)
                });
                let mut candles = candles;
                if *fill {
                    // Seeded with the candle before the range, so a range that starts in a gap
                    // is filled from its first interval; gaps between candles only: nothing
                    // is invented past the latest candle.
                    let seeded: Vec<_> = seed.iter().chain(&candles).copied().collect();
                    let fill_to = UnixNanos(seeded.last().map_or(0, |c| c.ts_open));
                    candles = fill_previous(
                        &seeded,
                        *interval,
                        fill_to,
                        limit.saturating_add(seed.len()),
                    );
                    candles.retain(|c| c.ts_open >= from.0);
                    if let Take::Last(n) = take {
                        let skip = candles.len().saturating_sub(n);
                        candles.drain(..skip);
                    }
                    candles.truncate(limit);
                }
                Ok(Answer {
                    head,
                    candles,
                    ..Answer::default()
                })
            }
            QuerySpec::Latest { symbols, page } => {
                let (ids, next_id) = if symbols.is_empty() {
                    let (page, next) = self.instrument_page("", *page);
                    (page.iter().map(|i| i.id).collect(), next)
                } else {
                    (self.resolve(request_id, symbols)?, None)
                };
                let snap = self.snapshot(Some(&ids), &[]);
                Ok(Answer {
                    head: snap.seq,
                    ticks: snap.ticks,
                    instruments: self.instruments(Some(&ids)),
                    next_id,
                    ..Answer::default()
                })
            }
            QuerySpec::Stats => {
                let feeds = self
                    .shared
                    .feeds
                    .iter()
                    .map(|f| FeedStat {
                        name: f.name.clone(),
                        ingested: f.ingested.load(Ordering::Acquire),
                        skipped: f.skipped(),
                        finished: f.finished.load(Ordering::Acquire),
                        error: f
                            .error
                            .lock()
                            .ok()
                            .and_then(|e| e.clone())
                            .unwrap_or_default(),
                    })
                    .collect();
                Ok(Answer {
                    head: self.head(),
                    feeds,
                    ..Answer::default()
                })
            }
            QuerySpec::Symbols { prefix, page } => {
                let (instruments, next_id) = self.instrument_page(prefix, *page);
                Ok(Answer {
                    head: self.head(),
                    instruments,
                    next_id,
                    ..Answer::default()
                })
            }
        }
    }

    /// Up to `limit` trades of `id` still in the tick ring, oldest first: the newest ones, or
    /// those from a seq or time on (with `ts_event < to`, when given). Reads at most
    /// [`MAX_TRADE_SCAN`] records, so a rarely traded instrument may get fewer than it has in
    /// the ring; stops at the ring's oldest record (older trades are in the journal only).
    pub fn trades(
        &self,
        id: InstrumentId,
        from: TradesFrom,
        to: Option<UnixNanos>,
        limit: usize,
    ) -> Vec<TickRecord> {
        let mut reader = self.ticks.clone();
        let head = reader.head();
        let oldest = (head + 2)
            .saturating_sub(reader.capacity())
            .max(reader.base_seq() + 1);
        let to = to.unwrap_or(UnixNanos(u64::MAX));
        let mut out = Vec::new();
        let mut words = [0u64; TICK_SLOT_WORDS];
        let mut read = |reader: &mut Reader<TICK_SLOT_WORDS>, seq: u64| {
            reader.seek(seq);
            match reader.try_read(&mut words) {
                ReadOutcome::Record(_) => Some(TickRecord::from_words(&words)),
                ReadOutcome::Overrun { .. } | ReadOutcome::NotYet => None,
            }
        };
        let wanted = |t: &TickRecord| {
            t.instrument_id == id.0 && t.kind() == Some(TickKind::Trade) && t.ts_event < to.0
        };
        let forward = match from {
            TradesFrom::Newest => None,
            TradesFrom::Seq(s) => Some((s.0, 0)),
            TradesFrom::Time(t) => Some((self.seq_at_time(t).0, t.0)),
        };
        if let Some((start, since)) = forward {
            let start = start.max(oldest);
            let end = head.min(start.saturating_add(MAX_TRADE_SCAN - 1));
            for seq in start..=end {
                if out.len() >= limit {
                    break;
                }
                // None: lapped while reading (the ring moved past `seq`): stop.
                let Some(t) = read(&mut reader, seq) else {
                    break;
                };
                if wanted(&t) && t.ts_event >= since {
                    out.push(t);
                }
            }
        } else {
            let stop = oldest.max(head.saturating_sub(MAX_TRADE_SCAN - 1));
            let mut seq = head;
            while seq >= stop && seq > 0 && out.len() < limit {
                let Some(t) = read(&mut reader, seq) else {
                    break;
                };
                if wanted(&t) {
                    out.push(t);
                }
                seq -= 1;
            }
            out.reverse();
        }
        out
    }

    /// The first seq at or after which every tick has `ts_event >= t`, by binary search over
    /// the ticks still in the ring (event times are non-decreasing per feed; across feeds this
    /// finds a boundary near `t`). Returns the head + 1 if every tick is older.
    pub fn seq_at_time(&self, t: UnixNanos) -> Seq {
        let mut reader = self.ticks.clone();
        let head = reader.head();
        let oldest = (head + 2)
            .saturating_sub(reader.capacity())
            .max(reader.base_seq() + 1);
        let (mut lo, mut hi) = (oldest, head + 1);
        let mut words = [0u64; TICK_SLOT_WORDS];
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            reader.seek(mid);
            match reader.try_read(&mut words) {
                ReadOutcome::Record(_) if TickRecord::from_words(&words).ts_event < t.0 => {
                    lo = mid + 1
                }
                ReadOutcome::Record(_) => hi = mid,
                ReadOutcome::Overrun { oldest } => lo = oldest.max(mid + 1),
                ReadOutcome::NotYet => hi = mid,
            }
        }
        Seq(lo)
    }
}
