//! Configuration (DESIGN.md §10): one definition of every option, [`ServeArgs`], read from a
//! TOML file (keys as the flags, with underscores), then `TICKD_*` environment variables, then
//! flags. clap reads the flags and the environment, serde the file, and figment layers the two
//! (a value given by a flag or the environment replaces the file's, lists included). Values are
//! typed where they are read ([`values`]), so a bad one is refused naming the option;
//! [`ServerConfig::load`] then applies the defaults and builds the runtime settings.

pub mod values;

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use tickd_engine::{Auth, CandleConfig, SessionConfig};
use tickd_protocol::{ScaleMap, Symbol};

use crate::feed::replay::Speed;
use crate::feed::venue::FeedSpec;
use crate::feed::venue::capture::CaptureConfig;
use crate::storage::journal::{FlushPolicy, JournalConfig};
use crate::storage::store::StoreConfig;
pub use values::{Listen, RingSlots, SymbolList, SymbolScales, TokenSpec};

/// Default TCP listener.
pub const DEFAULT_TCP: &str = "127.0.0.1:7400";
/// Default QUIC listener.
pub const DEFAULT_QUIC: &str = "127.0.0.1:7401";
/// Default HTTP listener.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8000";
/// Default shared-memory directory.
pub const DEFAULT_SHM_DIR: &str = "/dev/shm/tickd";
/// Default data directory (relative to where tickd starts).
pub const DEFAULT_DATA_DIR: &str = "tickd-data";

/// `tickd serve` options. Each flag also reads `TICKD_<NAME>` from the environment and the key
/// `<name>` (underscores) from the `--config` file; the default applies when none gives it.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeArgs {
    /// TOML configuration file (keys as the flags, with underscores).
    #[arg(long, env = "TICKD_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// TCP listener address, or `off` [default: 127.0.0.1:7400].
    #[arg(long, env = "TICKD_TCP")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<Listen>,
    /// QUIC listener address (UDP), or `off` [default: 127.0.0.1:7401].
    #[arg(long, env = "TICKD_QUIC")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic: Option<Listen>,
    /// HTTP bridge address, or `off` [default: 127.0.0.1:8000].
    #[arg(long, env = "TICKD_HTTP")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Listen>,
    /// Directory of the shared-memory files [default: /dev/shm/tickd].
    #[arg(long, env = "TICKD_SHM_DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_dir: Option<PathBuf>,
    /// Data directory [default: ./tickd-data].
    #[arg(long, env = "TICKD_DATA_DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Replay recorded ticks: files or directories (generic CSV, AlgoSeek/Lean zips).
    #[arg(long, num_args = 1.., env = "TICKD_REPLAY", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replay: Vec<PathBuf>,
    /// The venue of replayed capture files whose name gives none (`binance`, `coinbase`, …):
    /// with it, any `.log`, `.log.gz` or `.ws.` file is a capture of that venue.
    #[arg(long, env = "TICKD_REPLAY_VENUE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_venue: Option<String>,
    /// Replay speed: `recorded`, a multiple such as `10`, or `max` [default: recorded].
    #[arg(long, env = "TICKD_SPEED")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<Speed>,
    /// Skip and count invalid replay lines instead of stopping at the first.
    #[arg(long, env = "TICKD_SKIP_INVALID")]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skip_invalid: bool,
    /// A live venue feed, `venue:SYMBOL[,SYMBOL…][@WS_URL[@REST_URL]]`: venue `binance`,
    /// `binance-futures`, `binance-delivery`, `coinbase`, `okx` or `kraken`; symbols as the
    /// venue spells them (`btcusdt`, `BTC-USD`, `BTC-USDT`, `XBT/USD`); the URLs replace the
    /// venue's WebSocket endpoint and the REST endpoint holes are refilled from (a proxy, a
    /// test server). Repeatable (`;` between feeds in the environment variable).
    /// Symbols are `<VENUE>:<SYMBOL>` in tickd.
    #[arg(long = "feed", env = "TICKD_FEEDS", value_delimiter = ';')]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<FeedSpec>,
    /// Replace a live feed's connection after this long without a message, ms [default: 30000].
    #[arg(long, env = "TICKD_FEED_SILENCE_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed_silence_ms: Option<u64>,
    /// The longest wait between two connection attempts of a live feed, ms; also the least
    /// wait after the venue signals a rate limit [default: 30000].
    #[arg(long, env = "TICKD_FEED_BACKOFF_MAX_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed_backoff_max_ms: Option<u64>,
    /// Write every frame live feeds receive to `<feed>-<YYYY-MM-DD>.log` files in this
    /// directory (`<ns> <frame>` lines, replayable with --replay).
    #[arg(long, env = "TICKD_CAPTURE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<PathBuf>,
    /// Make this node an origin: after journaling, publish its sequenced records to NATS
    /// JetStream (stream `TICKD_<epoch>`, R3) at these servers (`nats://host:port`,
    /// comma-separated).
    #[arg(long, env = "TICKD_PUBLISH_TO", conflicts_with = "follow")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_to: Option<String>,
    /// Make this node an edge: no feeds of its own; write an origin's records, consumed from
    /// its JetStream stream at these NATS servers (`nats://host:port`, comma-separated), and
    /// serve them.
    #[arg(long, env = "TICKD_FOLLOW")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow: Option<String>,
    /// Replicas of an origin's JetStream stream [default: 3].
    #[arg(long, env = "TICKD_NATS_REPLICAS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_replicas: Option<NonZeroUsize>,
    /// How long an origin's JetStream stream keeps records, in seconds; an edge offline
    /// longer gets a gap [default: 86400].
    #[arg(long, env = "TICKD_NATS_MAX_AGE_S")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_max_age_s: Option<u64>,
    /// The most messages an origin's JetStream stream keeps (each up to 4,096 records; the
    /// oldest go first); an edge behind them gets a gap [default: unlimited].
    #[arg(long, env = "TICKD_NATS_MAX_MESSAGES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_max_messages: Option<NonZeroUsize>,
    /// Gzip the capture files (`.log.gz`).
    #[arg(long, env = "TICKD_CAPTURE_GZIP")]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub capture_gzip: bool,
    /// Synthetic feed symbols (comma-separated), or `off` [default: AAPL,GOOGL,MSFT,TSLA,AMZN
    /// when no replay or live feed is given, else off].
    #[arg(long, env = "TICKD_SYNTHETIC")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<SymbolList>,
    /// Synthetic ticks per second, all symbols together [default: 1000].
    #[arg(long, env = "TICKD_SYNTHETIC_RATE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synthetic_rate: Option<u32>,
    /// Tick ring capacity in slots of 64 bytes, a power of two [default: 4194304].
    #[arg(long, env = "TICKD_RING_SLOTS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring_slots: Option<RingSlots>,
    /// Closed candles kept in memory per instrument and interval; older late trades are
    /// counted, not applied [default: per interval, a day of 1s and 1m, a week of the others].
    #[arg(long, env = "TICKD_CANDLE_RETENTION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candle_retention: Option<NonZeroUsize>,
    /// How long after its end, in ms by the wall clock, a candle stays open for late trades
    /// before a candle-close record closes it (a newer trade of the same instrument closes it at
    /// once) [default: 1000].
    #[arg(long, env = "TICKD_CANDLE_GRACE_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candle_grace_ms: Option<u64>,
    /// An instrument's decimal scales, `SYMBOL=PRICE:SIZE` (`PEPEUSDT=8:0`: prices to 8 places,
    /// sizes in whole tokens), set when the instrument is first defined. Repeatable [default:
    /// 9:9 for every instrument].
    #[arg(long = "scales", env = "TICKD_SCALES", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scales: Vec<SymbolScales>,
    /// Reject ticks of live feeds and publishers whose `ts_event` is more than this far ahead of
    /// the server's clock, ms; 0 for no limit (replays are judged by their own time) [default:
    /// 300000].
    #[arg(long, env = "TICKD_MAX_FUTURE_SKEW_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_future_skew_ms: Option<u64>,
    /// Capacity of the symbol directory: instruments the server can define, ever (per epoch)
    /// [default: 65536].
    #[arg(long, env = "TICKD_MAX_INSTRUMENTS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_instruments: Option<NonZeroU32>,
    /// New symbols one publisher (one token; on a server without tokens, all publishers
    /// together) may define; a batch that would go beyond is refused with `LimitExceeded`; 0 for
    /// no limit [default: 4096].
    #[arg(long, env = "TICKD_SYMBOL_QUOTA")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol_quota: Option<u32>,
    /// How long a new TCP or QUIC connection has to say `Hello` (on QUIC, to open its
    /// control stream and say it), ms [default: 10000].
    #[arg(long, env = "TICKD_HELLO_TIMEOUT_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hello_timeout_ms: Option<u64>,
    /// Largest frame a client may send after `Hello`, bytes (before it, 4 KiB) [default:
    /// 1048576].
    #[arg(long, env = "TICKD_MAX_FRAME_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_frame_bytes: Option<NonZeroU32>,
    /// Most symbols one subscription may name [default: 10000].
    #[arg(long, env = "TICKD_MAX_SYMBOLS_PER_SUBSCRIPTION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_symbols_per_subscription: Option<NonZeroUsize>,
    /// Most subscriptions one connection may hold [default: 64].
    #[arg(long, env = "TICKD_MAX_SUBSCRIPTIONS_PER_CONNECTION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_subscriptions_per_connection: Option<NonZeroUsize>,
    /// Bytes queued for one TCP or QUIC connection (answers, snapshots, data frames) beyond
    /// which nothing more is rendered for it and none of its requests is read until the client
    /// drains them; its subscriptions meanwhile fall behind and get their slow-consumer policy
    /// [default: 4194304].
    #[arg(long, env = "TICKD_SEND_BUDGET_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_budget_bytes: Option<NonZeroUsize>,
    /// The same for one WebSocket [default: 262144].
    #[arg(long, env = "TICKD_WS_SEND_BUDGET_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ws_send_budget_bytes: Option<NonZeroUsize>,
    /// Heartbeat period on network sessions, ms [default: 1000].
    #[arg(long, env = "TICKD_HEARTBEAT_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_ms: Option<u64>,
    /// Close a network session that sent nothing (not even a heartbeat) for this long, ms
    /// [default: 30000].
    #[arg(long, env = "TICKD_IDLE_TIMEOUT_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<u64>,
    /// An access token, `NAME:SHA256:ROLES` (SHA-256 of the token in hex, as printed by
    /// `tickd token-hash`; roles `subscribe`, `publish`, `admin` joined by `+`). Repeatable; in
    /// the file, `[[tokens]]` tables with `name`, `sha256`, `roles`. With none, only loopback is
    /// served and every client has every role.
    #[arg(long = "token", env = "TICKD_TOKENS", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<TokenSpec>,
    /// A file of access tokens, one `NAME:SHA256:ROLES` per line as `--token` takes them (blank
    /// lines and `#` comments skipped), added to `--token`'s: for Docker and Kubernetes secrets.
    #[arg(long, env = "TICKD_TOKEN_FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// TLS certificate chain for QUIC (PEM) [default: a self-signed certificate kept in the
    /// data directory, under tls/].
    #[arg(long, env = "TICKD_TLS_CERT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key for QUIC (PEM), with `--tls-cert`.
    #[arg(long, env = "TICKD_TLS_KEY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Most open TCP and QUIC connections in all; beyond, a connection is refused with the
    /// limit named [default: 10000].
    #[arg(long, env = "TICKD_MAX_CONNECTIONS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// Most open connections from one client IP: TCP and QUIC together, and HTTP (WebSockets
    /// included) on its own [default: 1024].
    #[arg(long, env = "TICKD_MAX_CONNECTIONS_PER_IP")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections_per_ip: Option<u32>,
    /// Most open connections authenticated with one token (when tokens are configured)
    /// [default: 1024].
    #[arg(long, env = "TICKD_MAX_CONNECTIONS_PER_TOKEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections_per_token: Option<u32>,
    /// Most open WebSockets on the HTTP bridge [default: 20000].
    #[arg(long, env = "TICKD_MAX_WEBSOCKETS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_websockets: Option<u32>,
    /// Most open HTTP connections (WebSockets included); beyond, a connection gets a 503 naming
    /// the limit [default: 25000].
    #[arg(long, env = "TICKD_MAX_HTTP_CONNECTIONS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_http_connections: Option<u32>,
    /// Longest an HTTP client may take to send a request's headers, and longest a keep-alive
    /// connection may sit idle between requests, ms [default: 10000].
    #[arg(long, env = "TICKD_HTTP_HEADER_TIMEOUT_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_header_timeout_ms: Option<u64>,
    /// HTTP requests per second allowed per client IP and per token (token bucket, burst of
    /// the same size; 0 = unlimited) [default: 0].
    #[arg(long, env = "TICKD_HTTP_RATE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_rate: Option<u32>,
    /// Journal flush policy: `batch` (fdatasync before a batch is published or acked), `none`,
    /// or `interval[:ms]` [default: batch].
    #[arg(long, env = "TICKD_JOURNAL_FLUSH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_flush: Option<FlushPolicy>,
    /// Journal segment size, MiB [default: 256].
    #[arg(long, env = "TICKD_JOURNAL_SEGMENT_MB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_segment_mb: Option<u64>,
    /// Keep at most this much journal, MiB (oldest segments go first) [default: unlimited].
    #[arg(long, env = "TICKD_JOURNAL_RETAIN_MB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_retain_mb: Option<u64>,
    /// Delete journal segments older than this, hours [default: unlimited].
    #[arg(long, env = "TICKD_JOURNAL_RETAIN_HOURS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_retain_hours: Option<u64>,
    /// Run without a journal: nothing survives a restart (every start is a new epoch).
    #[arg(long, env = "TICKD_NO_JOURNAL")]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_journal: bool,
    /// Serve beyond loopback without tokens (anyone who can connect may publish).
    #[arg(long, env = "TICKD_ALLOW_ANONYMOUS")]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_anonymous: bool,
    /// Log format [default: human].
    #[arg(long, env = "TICKD_LOG_FORMAT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// Threads that run the network listeners (TCP, QUIC, HTTP); the sequencer and each feed
    /// have a thread of their own besides [default: the number of CPUs]. Fewer than the CPUs
    /// leaves cores to co-located readers or other processes, and avoids preempting the
    /// listeners (tail latency) when the machine is shared.
    #[arg(long, env = "TICKD_IO_THREADS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_threads: Option<NonZeroUsize>,
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// The validated server configuration.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// TCP listener, if on.
    pub tcp: Option<SocketAddr>,
    /// QUIC listener, if on.
    pub quic: Option<SocketAddr>,
    /// HTTP listener, if on.
    pub http: Option<SocketAddr>,
    /// Shared-memory directory.
    pub shm_dir: PathBuf,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Replay inputs (empty: no replay).
    pub replay: Vec<PathBuf>,
    /// The venue of captures whose file name gives none.
    pub replay_venue: Option<tickd_formats::venue::Venue>,
    /// Replay speed.
    pub speed: Speed,
    /// Skip invalid replay lines.
    pub skip_invalid: bool,
    /// Live venue feeds.
    pub feeds: Vec<FeedSpec>,
    /// Replace a live feed's connection after this long without a message.
    pub feed_silence: Duration,
    /// The longest wait between a live feed's connection attempts.
    pub feed_backoff_max: Duration,
    /// Capture live feeds' frames.
    pub capture: Option<CaptureConfig>,
    /// This node's role in a JetStream cluster (none: standalone).
    pub cluster: Option<crate::cluster::ClusterConfig>,
    /// Synthetic feed symbols (`None`: off).
    pub synthetic: Option<Vec<Symbol>>,
    /// Synthetic ticks per second.
    pub synthetic_rate: u32,
    /// Configured instrument scales (others: 9 and 9).
    pub scales: Arc<ScaleMap>,
    /// How far ahead of the clock live ticks may be dated (`None`: no limit).
    pub max_future_skew: Option<Duration>,
    /// New symbols one publisher may define (`None`: no limit).
    pub symbol_quota: Option<usize>,
    /// Shared-memory sizes.
    pub store: StoreConfig,
    /// Candle engine settings.
    pub candles: CandleConfig,
    /// Network session settings, including the tokens.
    pub session: SessionConfig,
    /// Serve beyond loopback without tokens.
    pub allow_anonymous: bool,
    /// The journal, unless disabled.
    pub journal: Option<JournalConfig>,
    /// Most open connections from one client IP.
    pub max_connections_per_ip: u32,
    /// Most open TCP and QUIC connections.
    pub max_connections: u32,
    /// Most open connections with one token.
    pub max_connections_per_token: u32,
    /// Most open WebSockets.
    pub max_websockets: u32,
    /// Most open HTTP connections.
    pub max_http_connections: u32,
    /// HTTP header-read (and keep-alive idle) timeout.
    pub http_header_timeout: Duration,
    /// Threads of the network runtime (at least 1).
    pub io_threads: usize,
    /// HTTP requests per second per client IP and per token (0: unlimited).
    pub http_rate: u32,
    /// TLS certificate (PEM) for QUIC, if configured.
    pub tls_cert: Option<PathBuf>,
    /// TLS key (PEM) for QUIC, if configured.
    pub tls_key: Option<PathBuf>,
    /// Log format.
    pub log_format: LogFormat,
}

fn listen(value: Option<Listen>, default: &str) -> Option<SocketAddr> {
    value
        .unwrap_or_else(|| default.parse().unwrap_or(Listen::Off))
        .addr()
}

/// `ms` milliseconds, at least 1 ms.
fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms.max(1))
}

impl ServeArgs {
    /// These options layered over the `--config` file's (a value given here replaces the
    /// file's).
    ///
    /// # Errors
    ///
    /// If the file cannot be read, is not TOML, has an unknown key or a bad value (named).
    pub fn layered(self) -> anyhow::Result<Self> {
        let Some(path) = self.config.clone() else {
            return Ok(self);
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("read config {}", path.display()))?;
        let mut layered: Self = Figment::new()
            .merge(Toml::string(&text))
            .merge(Serialized::defaults(&self))
            .extract()
            .map_err(|e| anyhow::anyhow!(describe(e)))
            .with_context(|| format!("config {}", path.display()))?;
        layered.config = Some(path);
        Ok(layered)
    }
}

/// Every error of a layering as `key: what`, joined by `; `.
fn describe(errors: figment::Error) -> String {
    errors
        .into_iter()
        .map(|e| {
            if e.path.is_empty() {
                e.kind.to_string()
            } else {
                format!("{}: {}", e.path.join("."), e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The tokens of a `--token-file`: one `NAME:SHA256:ROLES` per line, blank lines and `#`
/// comments skipped.
///
/// # Errors
///
/// If the file cannot be read, or a line is not a token (named by `file:line`).
pub fn read_token_file(path: &std::path::Path) -> anyhow::Result<Vec<TokenSpec>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("read the token file {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let token = line
            .parse::<TokenSpec>()
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))?;
        out.push(token);
    }
    Ok(out)
}

impl ServerConfig {
    /// Layers `args` (flags and environment) over the `--config` file over the defaults.
    ///
    /// # Errors
    ///
    /// An unreadable or invalid config file, naming the key.
    pub fn load(args: ServeArgs) -> anyhow::Result<Self> {
        let a = args.layered()?;
        let synthetic = match a.synthetic {
            Some(list) if list.0.is_empty() => None,
            Some(list) => Some(list.0),
            None if a.replay.is_empty() && a.feeds.is_empty() && a.follow.is_none() => {
                Some(crate::feed::synthetic::SyntheticConfig::default().symbols)
            }
            None => None,
        };
        let mut store = StoreConfig::default();
        if let Some(slots) = a.ring_slots {
            store.tick_slots = slots.get();
        }
        if let Some(n) = a.max_instruments {
            store.max_instruments = n.get();
        }
        let mut candles = CandleConfig::default();
        if let Some(n) = a.candle_retention {
            candles.retention = vec![n.get(); candles.intervals.len()];
        }
        if let Some(ms) = a.candle_grace_ms {
            candles.grace = Duration::from_millis(ms);
        }
        let mut session = SessionConfig::default();
        if let Some(n) = a.max_frame_bytes {
            session.max_frame_len = n.get();
        }
        if let Some(n) = a.max_symbols_per_subscription {
            session.max_symbols_per_subscription = n.get();
        }
        if let Some(n) = a.max_subscriptions_per_connection {
            session.max_subscriptions = n.get();
        }
        if let Some(n) = a.send_budget_bytes {
            session.send_budget = n.get();
        }
        if let Some(n) = a.ws_send_budget_bytes {
            session.ws_send_budget = n.get();
        }
        if let Some(ms) = a.hello_timeout_ms {
            session.hello_timeout = Duration::from_millis(ms.max(1));
        }
        if let Some(ms) = a.heartbeat_ms {
            session.heartbeat = millis(ms);
        }
        if let Some(ms) = a.idle_timeout_ms {
            session.idle_timeout = millis(ms);
        }
        let mut tokens = a.tokens;
        if let Some(path) = &a.token_file {
            tokens.extend(read_token_file(path)?);
        }
        session.auth = Arc::new(Auth::with_tokens(tokens.into_iter().map(|t| t.0).collect()));
        let data_dir = a
            .data_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let journal = (!a.no_journal).then(|| {
            let mut j = JournalConfig::new(data_dir.join("journal"));
            if let Some(f) = a.journal_flush {
                j.flush = f;
            }
            if let Some(mb) = a.journal_segment_mb {
                j.segment_bytes = mb.max(1) << 20;
            }
            j.retain_bytes = a.journal_retain_mb.map(|mb| mb << 20);
            j.retain_age = a
                .journal_retain_hours
                .map(|h| Duration::from_secs(h.saturating_mul(3600)));
            j
        });
        let cluster = crate::cluster::ClusterConfig::of(
            a.publish_to.as_deref(),
            a.follow.as_deref(),
            a.nats_replicas.map_or(3, NonZeroUsize::get),
            Duration::from_secs(a.nats_max_age_s.unwrap_or(86_400)),
            a.nats_max_messages.map(NonZeroUsize::get),
        )?;
        if let Some(c) = &cluster
            && c.role == crate::cluster::Role::Edge
            && (!a.replay.is_empty() || !a.feeds.is_empty() || synthetic.is_some())
        {
            anyhow::bail!(
                "--follow: an edge has no feeds of its own (no --replay, --feed or --synthetic)"
            );
        }
        Ok(Self {
            cluster,
            tcp: listen(a.tcp, DEFAULT_TCP),
            quic: listen(a.quic, DEFAULT_QUIC),
            http: listen(a.http, DEFAULT_HTTP),
            shm_dir: a.shm_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_SHM_DIR)),
            data_dir,
            replay: a.replay,
            replay_venue: a
                .replay_venue
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e: String| anyhow::anyhow!("--replay-venue: {e}"))?,
            speed: a.speed.unwrap_or(Speed::Recorded),
            skip_invalid: a.skip_invalid,
            feeds: a.feeds,
            feed_silence: Duration::from_millis(a.feed_silence_ms.unwrap_or(30_000).max(1)),
            feed_backoff_max: Duration::from_millis(a.feed_backoff_max_ms.unwrap_or(30_000).max(1)),
            capture: a.capture.map(|dir| CaptureConfig {
                dir,
                gzip: a.capture_gzip,
            }),
            synthetic,
            synthetic_rate: a.synthetic_rate.unwrap_or(1_000),
            scales: Arc::new(ScaleMap::new(a.scales.iter().map(|s| (s.symbol, s.scales)))),
            max_future_skew: match a.max_future_skew_ms.unwrap_or(300_000) {
                0 => None,
                ms => Some(Duration::from_millis(ms)),
            },
            symbol_quota: match a.symbol_quota.unwrap_or(4_096) {
                0 => None,
                n => Some(n as usize),
            },
            store,
            candles,
            session,
            allow_anonymous: a.allow_anonymous,
            journal,
            max_connections_per_ip: a.max_connections_per_ip.unwrap_or(1024).max(1),
            max_connections: a.max_connections.unwrap_or(10_000).max(1),
            max_connections_per_token: a.max_connections_per_token.unwrap_or(1024).max(1),
            max_websockets: a.max_websockets.unwrap_or(20_000),
            max_http_connections: a.max_http_connections.unwrap_or(25_000).max(1),
            http_header_timeout: Duration::from_millis(
                a.http_header_timeout_ms.unwrap_or(10_000).max(1),
            ),
            io_threads: a.io_threads.map_or_else(
                || std::thread::available_parallelism().map_or(1, usize::from),
                NonZeroUsize::get,
            ),
            http_rate: a.http_rate.unwrap_or(0),
            tls_cert: a.tls_cert,
            tls_key: a.tls_key,
            log_format: a.log_format.unwrap_or(LogFormat::Human),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_design() {
        let c = ServerConfig::load(ServeArgs::default()).unwrap();
        assert_eq!(c.tcp, Some("127.0.0.1:7400".parse().unwrap()));
        assert_eq!(c.quic, Some("127.0.0.1:7401".parse().unwrap()));
        assert_eq!(c.http, Some("127.0.0.1:8000".parse().unwrap()));
        assert_eq!(c.shm_dir, PathBuf::from("/dev/shm/tickd"));
        assert_eq!(c.synthetic.unwrap().len(), 5);
        assert_eq!(c.speed, Speed::Recorded);
        assert_eq!(
            c.io_threads,
            std::thread::available_parallelism().map_or(1, usize::from)
        );
    }

    #[test]
    fn flags_override_the_file_and_bad_values_name_the_option() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tickd.toml");
        std::fs::write(
            &path,
            "tcp = \"127.0.0.1:9000\"\nhttp = \"off\"\nspeed = \"max\"\nreplay = [\"a.csv\"]\nio_threads = 3\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path.clone()),
            tcp: Some("127.0.0.1:9100".parse().unwrap()),
            ..ServeArgs::default()
        };
        let c = ServerConfig::load(args).unwrap();
        assert_eq!(c.tcp, Some("127.0.0.1:9100".parse().unwrap()));
        assert_eq!(c.http, None);
        assert_eq!(c.speed, Speed::Max);
        assert_eq!(c.io_threads, 3);
        assert!(
            c.synthetic.is_none(),
            "a replay turns the synthetic default off"
        );

        // Live feeds in the file, as on the command line.
        std::fs::write(
            &path,
            "feeds = [\"binance:btcusdt,ethusdt\", \"coinbase:BTC-USD@ws://127.0.0.1:1\"]\ncapture = \"caps\"\n",
        )
        .unwrap();
        let c = ServerConfig::load(ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        })
        .unwrap();
        let feeds: Vec<String> = c.feeds.iter().map(ToString::to_string).collect();
        assert_eq!(
            feeds,
            [
                "binance:btcusdt,ethusdt",
                "coinbase:BTC-USD@ws://127.0.0.1:1"
            ]
        );
        assert!(
            c.synthetic.is_none(),
            "a live feed turns the synthetic default off"
        );
        assert_eq!(c.capture.map(|c| c.dir), Some(PathBuf::from("caps")));
        std::fs::write(&path, "feeds = [\"nyse:IBM\"]\n").unwrap();
        let err = ServerConfig::load(ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown venue \"nyse\""),
            "{err:#}"
        );

        std::fs::write(&path, "speed = \"fast\"\n").unwrap();
        let err = ServerConfig::load(ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(
            format!("{err:#}")
                .contains("speed \"fast\" is not `recorded`, `max` or a positive number"),
            "{err:#}"
        );
        std::fs::write(&path, "tcp = \"nowhere\"\n").unwrap();
        let err = ServerConfig::load(ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("\"nowhere\" is not an address (host:port) or `off`"),
            "{err:#}"
        );
        std::fs::write(&path, "tpc = 1\n").unwrap();
        let err = ServerConfig::load(ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("tpc: unknown field: found `tpc`"),
            "{err:#}"
        );
    }

    #[test]
    fn file_tokens_are_tables_and_flags_replace_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tickd.toml");
        let hash = "ab".repeat(32);
        std::fs::write(
            &path,
            format!(
                "ring_slots = 1024\n[[tokens]]\nname = \"feed\"\nsha256 = \"{hash}\"\nroles = [\"publish\", \"subscribe\"]\n"
            ),
        )
        .unwrap();
        let from_file = ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        }
        .layered()
        .unwrap();
        assert_eq!(
            from_file
                .tokens
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [format!("feed:{hash}:subscribe+publish")]
        );
        assert_eq!(from_file.ring_slots, RingSlots::new(1024));
        let flag: TokenSpec = format!("ui:{hash}:subscribe").parse().unwrap();
        let layered = ServeArgs {
            config: Some(path.clone()),
            tokens: vec![flag.clone()],
            ..ServeArgs::default()
        }
        .layered()
        .unwrap();
        assert_eq!(layered.tokens, [flag]);

        std::fs::write(&path, "ring_slots = 1000\n").unwrap();
        let err = ServerConfig::load(ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("ring_slots: 1000 is not a power of two >= 2"),
            "{err:#}"
        );
    }

    /// The README's option table, made from the definition above (one row per flag: name,
    /// environment variable, help with unit and default).
    fn option_table() -> String {
        use clap::Args as _;
        let cmd = ServeArgs::augment_args(clap::Command::new("serve"));
        let mut t = String::from("| flag | environment | what |\n|---|---|---|\n");
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            let value = if arg.get_action().takes_values() {
                format!(" {}", arg.get_id().as_str().to_uppercase())
            } else {
                String::new()
            };
            let env = arg
                .get_env()
                .map_or(String::new(), |e| format!("`{}`", e.to_string_lossy()));
            let help = arg
                .get_long_help()
                .or(arg.get_help())
                .map(ToString::to_string)
                .unwrap_or_default()
                .replace('\n', " ")
                .replace('|', "\\|");
            t.push_str(&format!("| `--{long}{value}` | {env} | {help} |\n"));
        }
        t
    }

    #[test]
    fn the_readme_option_table_comes_from_the_definition() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let (start, end) = ("<!-- options: begin -->\n", "<!-- options: end -->");
        let from = readme.find(start).expect("README has the options markers") + start.len();
        let to = readme.find(end).expect("README has the options markers");
        let table = option_table();
        if std::env::var_os("TICKD_BLESS").is_some() {
            let updated = format!("{}{table}{}", &readme[..from], &readme[to..]);
            std::fs::write(path, updated).unwrap();
        } else {
            assert_eq!(
                readme[from..to],
                table,
                "README.md's option table is stale: rerun with TICKD_BLESS=1"
            );
        }
    }
}
