//! Live venue feeds (`--feed binance:btcusdt,ethusdt --feed coinbase:BTC-USD`): public trades
//! and top of book from a crypto venue's WebSocket, through the venue's parser and trade-id
//! continuity ([`VenueStream`]), to the sequencer. One thread per feed, with a single-threaded
//! runtime of its own: a full sequencer queue blocks only this feed (back-pressure).
//!
//! **Connection discipline.**
//!
//! - Connection attempts pass a strict limiter (one a second per venue, with no burst: Binance
//!   allows 300 per 5 minutes per IP) and, after a failure, a capped exponential backoff with
//!   jitter (250 ms doubling to `--feed-backoff-max-ms`, 30 s by default; reset once a
//!   connection has stayed up a minute). A close with code 1008 (policy: Binance's rate limit)
//!   or a handshake refused with 418/429 waits at least the cap before the next attempt.
//! - Subscribe messages and keep-alives pass a strict per-connection limiter
//!   ([`Subscription::message_period`]).
//! - Venue pings are answered as they are read; OKX gets its text `ping` after 20 s without a
//!   message (or half the silence allowed, if shorter).
//! - A socket silent for `--feed-silence-ms` (default 30 s) is closed and replaced: every venue
//!   sends something well within that (trades, quotes, heartbeats, or pings).
//! - Before a venue's connection lifetime ends (Binance: 24 h) or on its shutdown notice
//!   (Binance `serverShutdown`, OKX `notice`), a replacement is opened while the old
//!   connection is still read; the feed switches once the replacement is subscribed, and the
//!   overlap's trades are dropped as duplicates by trade id (make before break).
//!
//! **Gaps.** A hole in an instrument's trade ids is first refilled from the venue's REST API
//! where it has one (Binance `historicalTrades`/`aggTrades`, Coinbase `trades`; up to
//! 5 pages of 1,000, paced by a strict limiter): the missing trades are sequenced before the
//! frame that showed the hole. What the feed still cannot prove it received is declared: a
//! venue-gap record per remaining hole, or per instrument at a reconnect on a venue without ids
//! (see [`VenueStream`]). Subscribers receive it as a `Gap` with reason `Venue`.
//!
//! **Capture.** With `--capture DIR` every frame received is written once read, each new
//! connection as the line [`CONNECTED`] and each refill as its refill line (before the frame
//! that showed the hole), so `--replay` of the capture sequences the same ticks and gaps
//! ([`capture`]).

pub mod capture;
mod connection;
mod rest;
mod spec;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use serde_json::value::RawValue;
use tickd_formats::venue::stream::{CONNECTED, Hole, Read, StreamStats, VenueStream, refill_line};
use tickd_formats::venue::subscribe::Subscription;
use tickd_formats::venue::{Frame, NO_EVENT_TIME, Venue, VenueTick};
use tickd_protocol::{Scales, UnixNanos};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use self::capture::{CaptureConfig, CaptureWriter};
use self::connection::Connection;
pub use self::connection::{Limiter, strict};
use self::rest::Rest;
pub use self::spec::FeedSpec;
use super::FeedSender;
use crate::clock;
use crate::ingest::definitions::Definitions;
use crate::ingest::input::{FeedStats, LiveState};

/// A live feed's settings.
#[derive(Clone, Debug)]
pub struct VenueFeedConfig {
    /// Venue, symbols, endpoint.
    pub spec: FeedSpec,
    /// Close and replace a connection silent for this long.
    pub silence: Duration,
    /// The longest wait between connection attempts (and the least after a rate limit).
    pub backoff_max: Duration,
    /// Capture received frames.
    pub capture: Option<CaptureConfig>,
    /// Connection attempts of this venue (shared by its feeds).
    pub attempts: Arc<Limiter>,
    /// Where the venue's instrument definitions go.
    pub definitions: Arc<Definitions>,
}

/// Connection attempts per venue: one a second, shared by the venue's feeds.
pub fn attempt_limiters(specs: &[FeedSpec]) -> HashMap<Venue, Arc<Limiter>> {
    specs
        .iter()
        .map(|s| (s.venue, strict(Duration::from_secs(1))))
        .collect()
}

/// Starts the feed on a thread of its own; it runs until `stop` is set.
///
/// # Errors
///
/// The thread or its runtime could not be started.
pub fn spawn(
    config: VenueFeedConfig,
    sender: FeedSender,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    crate::metrics::install();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(format!("feed-{}", config.spec.venue))
        .spawn(move || {
            let mut feed = Feed::new(config, sender, stop);
            runtime.block_on(feed.run());
            let _ = feed.sender.finish();
        })
}

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// The server is stopping.
    Stop,
    /// A replacement is open and subscribed (lifetime or shutdown notice).
    Replaced(Box<Connection>),
    /// Lost: the reason, and whether the venue signalled a rate limit.
    Lost { reason: String, rate_limited: bool },
}

struct Feed {
    config: VenueFeedConfig,
    sub: Arc<Subscription>,
    sender: FeedSender,
    stop: Arc<AtomicBool>,
    stream: VenueStream,
    capture: Option<CaptureWriter>,
    /// The venue's REST API: instrument definitions, refills.
    rest: Rest,
    /// Whether holes are refilled (venues with a REST refill).
    refill: bool,
    /// Whether the instrument definitions are loaded.
    defined: bool,
    /// The skew histogram's handle, registered once (a lookup and a label string per frame
    /// otherwise).
    skew: metrics::Histogram,
    ticks: Vec<VenueTick>,
    /// What the stream's counters were when last copied to the shared state.
    reported: StreamStats,
    backoff: ExponentialBackoff,
}

/// Backoff after failures: 250 ms (or `max`, if less) doubling to `max`, with jitter, never
/// giving up.
fn backoff(max: Duration) -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250).min(max))
        .with_max_delay(max)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
}

/// A connection up this long resets the backoff.
const HEALTHY: Duration = Duration::from_secs(60);

/// How often a connection's read loop checks for shutdown.
const STOP_POLL: Duration = Duration::from_millis(100);

impl Feed {
    fn new(config: VenueFeedConfig, sender: FeedSender, stop: Arc<AtomicBool>) -> Self {
        let sub = Arc::new(
            config
                .spec
                .subscription()
                .expect("checked when the option was parsed"),
        );
        let capture = config
            .capture
            .clone()
            .map(|c| CaptureWriter::new(c, &sender.stats.name));
        Self {
            stream: VenueStream::new(config.spec.venue),
            backoff: backoff(config.backoff_max),
            rest: Rest::new(config.spec.venue, config.spec.rest.as_deref()),
            refill: config.spec.venue.has_refill(),
            defined: false,
            skew: crate::metrics::feed_skew(&sender.stats.name),
            config,
            sub,
            sender,
            stop,
            capture,
            ticks: Vec::new(),
            reported: StreamStats::default(),
        }
    }

    fn live(&self) -> &LiveState {
        self.sender
            .stats
            .live
            .as_ref()
            .expect("venue feeds have live state")
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    async fn run(&mut self) {
        let mut next: Option<Connection> = None;
        loop {
            if self.stopping() {
                return;
            }
            if !self.defined {
                self.define().await;
            }
            let conn = match next.take() {
                Some(c) => c,
                None => {
                    self.config.attempts.until_ready().await;
                    match Connection::open(Arc::clone(&self.sub)).await {
                        Ok(c) => {
                            tracing::info!(feed = %self.sender.stats.name, url = %self.sub.url, "connected");
                            if self.connected().is_err() {
                                return;
                            }
                            c
                        }
                        Err(reason) => {
                            let limited = reason.contains("418") || reason.contains("429");
                            self.lost(&reason, limited).await;
                            continue;
                        }
                    }
                }
            };
            let opened = Instant::now();
            self.live().connected.store(true, Ordering::Relaxed);
            let end = self.read(conn).await;
            self.live().connected.store(false, Ordering::Relaxed);
            match end {
                Ok(End::Stop) | Err(_) => return,
                Ok(End::Replaced(c)) => {
                    tracing::info!(feed = %self.sender.stats.name, "switched to the replacement connection");
                    next = Some(*c);
                }
                Ok(End::Lost {
                    reason,
                    rate_limited,
                }) => {
                    if opened.elapsed() >= HEALTHY {
                        self.backoff = backoff(self.config.backoff_max);
                    }
                    self.lost(&reason, rate_limited).await;
                }
            }
        }
    }

    /// Loads the venue's definitions of the feed's instruments (tick and lot sizes, minimums,
    /// base and quote) into the server's table. A failure is logged; the next connection
    /// attempt tries again, and the feed runs meanwhile.
    async fn define(&mut self) {
        let name = self.sender.stats.name.clone();
        match self.rest.instruments(&self.config.spec.symbols).await {
            Ok(defs) => {
                let missing: Vec<&String> = self
                    .config
                    .spec
                    .symbols
                    .iter()
                    .filter(|s| {
                        let symbol = self.config.spec.venue.symbol(s).ok();
                        !defs.iter().any(|d| Some(d.symbol) == symbol)
                    })
                    .collect();
                if !missing.is_empty() {
                    tracing::warn!(feed = %name, ?missing, "the venue does not list these symbols");
                }
                tracing::info!(feed = %name, defined = defs.len(), "instrument definitions loaded");
                self.config.definitions.set(defs);
                self.defined = true;
            }
            Err(f) => {
                tracing::warn!(feed = %name, "instrument definitions: {}", f.reason);
                if let Ok(mut e) = self.live().last_error.lock() {
                    *e = Some(format!("instrument definitions: {}", f.reason));
                }
            }
        }
    }

    /// A connection was lost or not made: counted, reported, and waited out.
    async fn lost(&mut self, reason: &str, rate_limited: bool) {
        let live = self.live();
        live.reconnects.fetch_add(1, Ordering::Relaxed);
        if rate_limited {
            live.rate_limits.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut e) = live.last_error.lock() {
            *e = Some(reason.to_owned());
        }
        let cap = self.config.backoff_max;
        let mut wait = self.backoff.next().unwrap_or(cap);
        if rate_limited {
            wait = wait.max(cap);
        }
        tracing::warn!(
            feed = %self.sender.stats.name,
            url = %self.sub.url,
            retry_in_ms = wait.as_millis() as u64,
            rate_limited,
            "venue connection lost: {reason}"
        );
        let until = Instant::now() + wait;
        while Instant::now() < until && !self.stopping() {
            tokio::time::sleep_until(until.min(Instant::now() + STOP_POLL)).await;
        }
    }

    /// A connection opened (not a replacement): the stream declares what a reconnect may have
    /// lost, the capture marks it.
    fn connected(&mut self) -> Result<(), super::SequencerGone> {
        let now = clock::now();
        self.capture_line(now, CONNECTED);
        self.stream.connected(now, &mut self.ticks);
        self.ship()
    }

    /// Reads `conn` until it ends. `Err`: the sequencer has stopped.
    async fn read(&mut self, mut conn: Connection) -> Result<End, super::SequencerGone> {
        let silence = self.config.silence;
        let mut last = Instant::now();
        let mut pinged = false;
        let opened = Instant::now();
        let mut renew_at = self.sub.lifetime.map(|l| opened + l);
        let mut replacement: Option<tokio::task::JoinHandle<Result<Connection, String>>> = None;
        let mut stop_poll = tokio::time::interval(STOP_POLL);
        loop {
            // The venue's keep-alive interval, or half the silence allowed if that is shorter:
            // the answer must come before the socket is judged silent.
            let keepalive_at = self
                .sub
                .keepalive
                .map(|(after, _)| last + after.min(silence / 2));
            tokio::select! {
                msg = conn.next() => {
                    last = Instant::now();
                    pinged = false;
                    let mut msg = msg;
                    // Everything already received is handled in this wake-up, shipped once.
                    loop {
                        match self.message(msg).await? {
                            Step::Go => {}
                            Step::Renew if replacement.is_none() => renew_at = Some(Instant::now()),
                            Step::Renew => {}
                            Step::End(reason, rate_limited) => {
                                self.flush()?;
                                if let Some(r) = replacement.take() {
                                    r.abort();
                                }
                                return Ok(End::Lost { reason, rate_limited });
                            }
                        }
                        match conn.ready() {
                            Some(m) => msg = m,
                            None => break,
                        }
                    }
                    self.flush()?;
                }
                _ = tokio::time::sleep_until(last + silence) => {
                    if let Some(r) = replacement.take() {
                        r.abort();
                    }
                    return Ok(End::Lost {
                        reason: format!("no message for {} ms (--feed-silence-ms)", silence.as_millis()),
                        rate_limited: false,
                    });
                }
                _ = sleep_until_opt(keepalive_at), if !pinged && keepalive_at.is_some() => {
                    pinged = true;
                    if let Some((_, text)) = self.sub.keepalive
                        && let Err(reason) = conn.send(text).await
                    {
                        return Ok(End::Lost { reason, rate_limited: false });
                    }
                }
                _ = sleep_until_opt(renew_at), if replacement.is_none() && renew_at.is_some() => {
                    tracing::info!(feed = %self.sender.stats.name, "opening a replacement connection (lifetime or shutdown notice)");
                    let sub = Arc::clone(&self.sub);
                    let attempts = Arc::clone(&self.config.attempts);
                    replacement = Some(tokio::spawn(async move {
                        attempts.until_ready().await;
                        Connection::open(sub).await
                    }));
                }
                r = async { replacement.as_mut().expect("guarded").await }, if replacement.is_some() => {
                    replacement = None;
                    match r.map_err(|e| e.to_string()).and_then(|r| r) {
                        Ok(new) => {
                            // Frames the old connection already holds are read first.
                            while let Some(m) = conn.ready() {
                                if let Step::End(..) = self.message(m).await? {
                                    break;
                                }
                            }
                            self.flush()?;
                            tokio::spawn(conn.close());
                            return Ok(End::Replaced(Box::new(new)));
                        }
                        Err(reason) => {
                            tracing::warn!(feed = %self.sender.stats.name, "replacement connection failed, retrying in 60 s: {reason}");
                            renew_at = Some(Instant::now() + Duration::from_secs(60));
                        }
                    }
                }
                _ = stop_poll.tick() => {
                    if self.stopping() {
                        if let Some(r) = replacement.take() {
                            r.abort();
                        }
                        conn.close().await;
                        return Ok(End::Stop);
                    }
                }
            }
        }
    }

    /// Handles one message of the connection.
    async fn message(
        &mut self,
        msg: Option<Result<Message, String>>,
    ) -> Result<Step, super::SequencerGone> {
        let msg = match msg {
            None => return Ok(Step::End("the venue closed the connection".into(), false)),
            Some(Err(reason)) => return Ok(Step::End(reason, false)),
            Some(Ok(m)) => m,
        };
        let text = match &msg {
            Message::Text(t) => t.as_str(),
            Message::Close(frame) => {
                let (code, reason) = frame
                    .as_ref()
                    .map(|f| (f.code, f.reason.to_string()))
                    .unwrap_or((CloseCode::Status, String::new()));
                let limited = code == CloseCode::Policy;
                return Ok(Step::End(
                    format!("the venue closed the connection: {code} {reason}"),
                    limited,
                ));
            }
            // Pings are answered by the WebSocket layer; binary frames carry nothing tickd maps.
            _ => return Ok(Step::Go),
        };
        let now = clock::now();
        let live = self.live();
        live.messages.fetch_add(1, Ordering::Relaxed);
        live.last_message_ns.store(now.0, Ordering::Relaxed);
        let mut read = if self.refill {
            self.stream.frame_or_hole(text, now, &mut self.ticks)
        } else {
            self.stream
                .frame(text, now, &mut self.ticks)
                .map(Read::Frame)
        };
        if let Ok(Read::Hole(hole)) = read {
            // The missing trades first (their refill line goes to the capture before the
            // frame, in the order the stream reads them), then the frame declares the rest.
            self.refill(&hole).await;
            read = self
                .stream
                .frame(text, now, &mut self.ticks)
                .map(Read::Frame);
        }
        self.capture_line(now, text);
        let step = match read {
            Ok(Read::Frame(Frame::Refused(reason))) => {
                tracing::error!(feed = %self.sender.stats.name, "the venue refused: {reason}");
                if let Ok(mut e) = self.live().last_error.lock() {
                    *e = Some(format!("refused: {reason}"));
                }
                Step::Go
            }
            Ok(Read::Frame(Frame::Shutdown)) => Step::Renew,
            Ok(_) => Step::Go,
            Err(e) => {
                self.live().bad_frames.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(feed = %self.sender.stats.name, "skipped a frame: {e}: {:.200}", text);
                Step::Go
            }
        };
        self.ship()?;
        Ok(step)
    }

    /// Fetches the trades of `hole` and passes them to the stream as a refill line (captured
    /// too). What does not come back is declared by the frame that showed the hole.
    async fn refill(&mut self, hole: &Hole) {
        let prefix = self.config.spec.venue.prefix().len() + 1;
        let venue_symbol = &hole.symbol.as_str()[prefix..];
        let fetched = self.rest.fetch(hole, venue_symbol).await;
        let name = self.sender.stats.name.clone();
        if let Some(f) = &fetched.failure {
            tracing::warn!(feed = %name, from = hole.from, to = hole.to, "refill: {}", f.reason);
            let live = self.live();
            if f.rate_limited {
                live.rate_limits.fetch_add(1, Ordering::Relaxed);
            }
            if let Ok(mut e) = live.last_error.lock() {
                *e = Some(format!("refill: {}", f.reason));
            }
        }
        if fetched.trades.is_empty() {
            return;
        }
        let rows: Vec<&RawValue> = fetched.trades.iter().map(AsRef::as_ref).collect();
        let line = refill_line(hole.symbol, hole.from, hole.to, &rows);
        self.capture_line(fetched.ts_recv, &line);
        let before = self.ticks.len();
        match self.stream.frame(&line, fetched.ts_recv, &mut self.ticks) {
            Ok(_) => {
                let n = self.ticks[before..]
                    .iter()
                    .filter(|t| t.tick.kind().is_some())
                    .count() as u64;
                self.live().refilled.fetch_add(n, Ordering::Relaxed);
                tracing::info!(feed = %name, from = hole.from, to = hole.to, refilled = n, "refilled a hole in the trade ids");
            }
            Err(e) => tracing::warn!(feed = %name, "refill answer: {e}"),
        }
    }

    /// Hands the parsed ticks and gaps to the sender (batched; shipped by [`Feed::flush`]).
    fn ship(&mut self) -> Result<(), super::SequencerGone> {
        let skew = &self.skew;
        for vt in self.ticks.drain(..) {
            let mut tick = vt.tick;
            if tick.kind().is_some() && tick.flags & NO_EVENT_TIME == 0 {
                skew.record((tick.ts_recv as f64 - tick.ts_event as f64) / 1e9);
            }
            tick.instrument_id = self.sender.symbol_with(vt.symbol, Scales::DEFAULT);
            self.sender.push(tick)?;
        }
        let stats = self.stream.stats();
        if stats != self.reported {
            let live = self
                .sender
                .stats
                .live
                .as_ref()
                .expect("venue feeds have live state");
            live.gaps.store(stats.gaps, Ordering::Relaxed);
            live.missing_trades
                .store(stats.missing_trades, Ordering::Relaxed);
            live.duplicates.store(stats.duplicates, Ordering::Relaxed);
            self.reported = stats;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), super::SequencerGone> {
        if let Some(c) = &mut self.capture
            && let Err(e) = c.flush()
        {
            capture_failed(&self.sender.stats, &e);
        }
        self.sender.flush()
    }

    fn capture_line(&mut self, now: UnixNanos, text: &str) {
        if let Some(c) = &mut self.capture
            && let Err(e) = c.write(now, text)
        {
            capture_failed(&self.sender.stats, &e);
        }
    }
}

/// A capture write failed: reported, the feed goes on.
fn capture_failed(stats: &FeedStats, e: &std::io::Error) {
    tracing::error!(feed = %stats.name, "capture: {e}");
    if let Some(live) = &stats.live
        && let Ok(mut slot) = live.last_error.lock()
    {
        *slot = Some(format!("capture: {e}"));
    }
}

/// What to do after one message.
enum Step {
    Go,
    /// The venue will close soon: open a replacement.
    Renew,
    /// The connection ended: why, and whether for a rate limit.
    End(String, bool),
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
