//! Configuration: a TOML file, then `TICKD_*` environment variables, then flags (DESIGN.md §10).
//! Every option has a documented default and unit; [`ServerConfig`] is the validated result.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;
use std::sync::Arc;

use tickd_engine::{Auth, CandleConfig, SessionConfig, Token};

use crate::storage::journal::JournalConfig;
use tickd_protocol::Roles;
use tickd_protocol::Symbol;

use crate::feed::replay::Speed;
use crate::storage::store::StoreConfig;

/// `tickd serve` flags. Each also reads `TICKD_<NAME>` from the environment, and falls back to
/// the `--config` file, then to the default shown.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// TOML configuration file (keys as the flags, with underscores).
    #[arg(long, env = "TICKD_CONFIG")]
    pub config: Option<PathBuf>,
    /// TCP listener address, or `off` [default: 127.0.0.1:7400].
    #[arg(long, env = "TICKD_TCP")]
    pub tcp: Option<String>,
    /// QUIC listener address (UDP), or `off` [default: 127.0.0.1:7401].
    #[arg(long, env = "TICKD_QUIC")]
    pub quic: Option<String>,
    /// HTTP bridge address, or `off` [default: 127.0.0.1:8000].
    #[arg(long, env = "TICKD_HTTP")]
    pub http: Option<String>,
    /// Directory of the shared-memory files [default: /dev/shm/tickd].
    #[arg(long, env = "TICKD_SHM_DIR")]
    pub shm_dir: Option<PathBuf>,
    /// Data directory [default: ./tickd-data].
    #[arg(long, env = "TICKD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Replay recorded ticks: files or directories (generic CSV, AlgoSeek/Lean zips).
    #[arg(long, num_args = 1.., env = "TICKD_REPLAY", value_delimiter = ',')]
    pub replay: Vec<PathBuf>,
    /// Replay speed: `recorded`, a multiple such as `10`, or `max` [default: recorded].
    #[arg(long, env = "TICKD_SPEED")]
    pub speed: Option<String>,
    /// Skip and count invalid replay lines instead of stopping at the first.
    #[arg(long, env = "TICKD_SKIP_INVALID")]
    pub skip_invalid: bool,
    /// Synthetic feed symbols (comma-separated), or `off` [default: AAPL,GOOGL,MSFT,TSLA,AMZN
    /// when no replay is given, else off].
    #[arg(long, env = "TICKD_SYNTHETIC")]
    pub synthetic: Option<String>,
    /// Synthetic ticks per second, all symbols together [default: 1000].
    #[arg(long, env = "TICKD_SYNTHETIC_RATE")]
    pub synthetic_rate: Option<u32>,
    /// Tick ring capacity in slots of 64 bytes, a power of two [default: 4194304].
    #[arg(long, env = "TICKD_RING_SLOTS")]
    pub ring_slots: Option<u64>,
    /// Closed candles kept in memory per instrument and interval; older late trades are
    /// counted, not applied [default: per interval, a day of 1s and 1m, a week of the others].
    #[arg(long, env = "TICKD_CANDLE_RETENTION")]
    pub candle_retention: Option<usize>,
    /// How long after its end, in ms of event time, a candle stays open for out-of-order trades
    /// before the watermark closes it [default: 1000].
    #[arg(long, env = "TICKD_CANDLE_GRACE_MS")]
    pub candle_grace_ms: Option<u64>,
    /// Heartbeat period on network sessions, ms [default: 1000].
    #[arg(long, env = "TICKD_HEARTBEAT_MS")]
    pub heartbeat_ms: Option<u64>,
    /// Close a network session that sent nothing (not even a heartbeat) for this long, ms
    /// [default: 30000].
    #[arg(long, env = "TICKD_IDLE_TIMEOUT_MS")]
    pub idle_timeout_ms: Option<u64>,
    /// An access token, `NAME:SHA256:ROLES` (SHA-256 of the token in hex, as printed by
    /// `tickd token-hash`; roles `subscribe`, `publish`, `admin` joined by `+`). Repeatable.
    /// With none, only loopback is served and every client has every role.
    #[arg(long = "token", env = "TICKD_TOKENS", value_delimiter = ',')]
    pub tokens: Vec<String>,
    /// TLS certificate chain for QUIC (PEM) [default: a self-signed certificate kept in
    /// `<data dir>/tls`].
    #[arg(long, env = "TICKD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key for QUIC (PEM), with `--tls-cert`.
    #[arg(long, env = "TICKD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Most open connections (TCP and QUIC together) from one client IP [default: 1024].
    #[arg(long, env = "TICKD_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: Option<u32>,
    /// Most open connections authenticated with one token (when tokens are configured)
    /// [default: 1024].
    #[arg(long, env = "TICKD_MAX_CONNECTIONS_PER_TOKEN")]
    pub max_connections_per_token: Option<u32>,
    /// Most open WebSockets on the HTTP bridge [default: 20000].
    #[arg(long, env = "TICKD_MAX_WEBSOCKETS")]
    pub max_websockets: Option<u32>,
    /// HTTP requests per second allowed per client IP and per token (token bucket, burst of
    /// the same size; 0 = unlimited) [default: 0].
    #[arg(long, env = "TICKD_HTTP_RATE")]
    pub http_rate: Option<u32>,
    /// Journal flush policy: `batch` (fdatasync before a batch is published or acked), `none`,
    /// or `interval[:ms]` [default: batch].
    #[arg(long, env = "TICKD_JOURNAL_FLUSH")]
    pub journal_flush: Option<String>,
    /// Journal segment size, MiB [default: 256].
    #[arg(long, env = "TICKD_JOURNAL_SEGMENT_MB")]
    pub journal_segment_mb: Option<u64>,
    /// Keep at most this much journal, MiB (oldest segments go first) [default: unlimited].
    #[arg(long, env = "TICKD_JOURNAL_RETAIN_MB")]
    pub journal_retain_mb: Option<u64>,
    /// Delete journal segments older than this, hours [default: unlimited].
    #[arg(long, env = "TICKD_JOURNAL_RETAIN_HOURS")]
    pub journal_retain_hours: Option<u64>,
    /// Run without a journal: nothing survives a restart (every start is a new epoch).
    #[arg(long, env = "TICKD_NO_JOURNAL")]
    pub no_journal: bool,
    /// Serve beyond loopback without tokens (anyone who can connect may publish).
    #[arg(long, env = "TICKD_ALLOW_ANONYMOUS")]
    pub allow_anonymous: bool,
    /// Log format: `human` or `json` [default: human].
    #[arg(long, env = "TICKD_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Threads that run the network listeners (TCP, QUIC, HTTP); the sequencer and each feed
    /// have a thread of their own besides [default: the number of CPUs]. Fewer than the CPUs
    /// leaves cores to co-located readers or other processes, and avoids preempting the
    /// listeners (tail latency) when the machine is shared.
    #[arg(long, env = "TICKD_IO_THREADS")]
    pub io_threads: Option<usize>,
}

/// The TOML file's shape: the flags' names with underscores; all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    tcp: Option<String>,
    quic: Option<String>,
    http: Option<String>,
    shm_dir: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    replay: Option<Vec<PathBuf>>,
    speed: Option<String>,
    skip_invalid: Option<bool>,
    synthetic: Option<String>,
    synthetic_rate: Option<u32>,
    ring_slots: Option<u64>,
    candle_retention: Option<usize>,
    candle_grace_ms: Option<u64>,
    heartbeat_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    tokens: Option<Vec<FileToken>>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    max_connections_per_ip: Option<u32>,
    max_connections_per_token: Option<u32>,
    max_websockets: Option<u32>,
    io_threads: Option<usize>,
    http_rate: Option<u32>,
    journal_flush: Option<String>,
    journal_segment_mb: Option<u64>,
    journal_retain_mb: Option<u64>,
    journal_retain_hours: Option<u64>,
    no_journal: Option<bool>,
    allow_anonymous: Option<bool>,
    log_format: Option<String>,
}

/// A `[[tokens]]` entry of the config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToken {
    name: String,
    sha256: String,
    roles: Vec<String>,
}

fn token(name: &str, sha256: &str, roles: &[&str]) -> anyhow::Result<Token> {
    let sha256 = tickd_engine::auth::parse_hash(sha256)
        .map_err(|e| anyhow::anyhow!("token {name:?}: {e}"))?;
    let mut granted = Roles(0);
    for r in roles {
        let role = tickd_engine::auth::parse_role(r).with_context(|| {
            format!("token {name:?}: role {r:?} is not subscribe, publish or admin")
        })?;
        granted = granted.union(role);
    }
    Ok(Token {
        name: name.to_owned(),
        sha256,
        roles: granted,
    })
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// Replay speed.
    pub speed: Speed,
    /// Skip invalid replay lines.
    pub skip_invalid: bool,
    /// Synthetic feed symbols (`None`: off).
    pub synthetic: Option<Vec<Symbol>>,
    /// Synthetic ticks per second.
    pub synthetic_rate: u32,
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
    /// Most open connections with one token.
    pub max_connections_per_token: u32,
    /// Most open WebSockets.
    pub max_websockets: u32,
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

fn addr(flag: &str, value: Option<String>, default: &str) -> anyhow::Result<Option<SocketAddr>> {
    let v = value.unwrap_or_else(|| default.to_owned());
    if v == "off" {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .with_context(|| format!("--{flag} {v:?} is not an address (host:port) or `off`"))
}

impl ServerConfig {
    /// Layers `args` (flags and environment) over the `--config` file over defaults.
    ///
    /// # Errors
    ///
    /// A bad value, naming the option; an unreadable or invalid config file.
    pub fn load(args: ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let replay = if args.replay.is_empty() {
            file.replay.unwrap_or_default()
        } else {
            args.replay
        };
        let speed: Speed = args
            .speed
            .or(file.speed)
            .map_or(Ok(Speed::Recorded), |s| s.parse())
            .map_err(|e: String| anyhow::anyhow!("--speed: {e}"))?;
        let synthetic = match args.synthetic.or(file.synthetic) {
            Some(s) if s == "off" => None,
            Some(list) => Some(
                list.split(',')
                    .map(|s| {
                        Symbol::new(s.trim()).with_context(|| format!("--synthetic symbol {s:?}"))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?,
            ),
            None if replay.is_empty() => {
                Some(crate::feed::synthetic::SyntheticConfig::default().symbols)
            }
            None => None,
        };
        let mut store = StoreConfig::default();
        if let Some(slots) = args.ring_slots.or(file.ring_slots) {
            if slots < 2 || !slots.is_power_of_two() {
                bail!("--ring-slots {slots} is not a power of two >= 2");
            }
            store.tick_slots = slots;
        }
        let mut candles = CandleConfig::default();
        if let Some(n) = args.candle_retention.or(file.candle_retention) {
            if n == 0 {
                bail!("--candle-retention must be at least 1");
            }
            candles.retention = vec![n; candles.intervals.len()];
        }
        if let Some(ms) = args.candle_grace_ms.or(file.candle_grace_ms) {
            candles.grace_ns = ms
                .checked_mul(1_000_000)
                .context("--candle-grace-ms is too large")?;
        }
        let mut session = SessionConfig::default();
        if let Some(ms) = args.heartbeat_ms.or(file.heartbeat_ms) {
            session.heartbeat_ns = ms.max(1).saturating_mul(1_000_000);
        }
        if let Some(ms) = args.idle_timeout_ms.or(file.idle_timeout_ms) {
            session.idle_timeout_ns = ms.max(1).saturating_mul(1_000_000);
        }
        let mut tokens = Vec::new();
        for spec in &args.tokens {
            let mut parts = spec.splitn(3, ':');
            let (Some(name), Some(hash), Some(roles)) = (parts.next(), parts.next(), parts.next())
            else {
                bail!("--token {spec:?}: expected NAME:SHA256:ROLES");
            };
            tokens.push(token(name, hash, &roles.split('+').collect::<Vec<_>>())?);
        }
        for t in file.tokens.iter().flatten() {
            tokens.push(token(
                &t.name,
                &t.sha256,
                &t.roles.iter().map(String::as_str).collect::<Vec<_>>(),
            )?);
        }
        let allow_anonymous = args.allow_anonymous || file.allow_anonymous.unwrap_or(false);
        session.auth = Arc::new(Auth::with_tokens(tokens));
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("tickd-data"));
        let journal = if args.no_journal || file.no_journal.unwrap_or(false) {
            None
        } else {
            let mut j = JournalConfig::new(data_dir.join("journal"));
            if let Some(f) = args.journal_flush.or(file.journal_flush) {
                j.flush = f
                    .parse()
                    .map_err(|e: String| anyhow::anyhow!("--journal-flush: {e}"))?;
            }
            if let Some(mb) = args.journal_segment_mb.or(file.journal_segment_mb) {
                j.segment_bytes = mb.max(1) << 20;
            }
            j.retain_bytes = args
                .journal_retain_mb
                .or(file.journal_retain_mb)
                .map(|mb| mb << 20);
            j.retain_age = args
                .journal_retain_hours
                .or(file.journal_retain_hours)
                .map(|h| std::time::Duration::from_secs(h.saturating_mul(3600)));
            Some(j)
        };
        let log_format = match args.log_format.or(file.log_format).as_deref() {
            None | Some("human") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("--log-format {other:?} is not `human` or `json`"),
        };
        Ok(Self {
            tcp: addr("tcp", args.tcp.or(file.tcp), "127.0.0.1:7400")?,
            quic: addr("quic", args.quic.or(file.quic), "127.0.0.1:7401")?,
            http: addr("http", args.http.or(file.http), "127.0.0.1:8000")?,
            shm_dir: args
                .shm_dir
                .or(file.shm_dir)
                .unwrap_or_else(|| PathBuf::from("/dev/shm/tickd")),
            data_dir,
            replay,
            speed,
            skip_invalid: args.skip_invalid || file.skip_invalid.unwrap_or(false),
            synthetic,
            synthetic_rate: args.synthetic_rate.or(file.synthetic_rate).unwrap_or(1_000),
            store,
            candles,
            session,
            allow_anonymous,
            journal,
            max_connections_per_ip: args
                .max_connections_per_ip
                .or(file.max_connections_per_ip)
                .unwrap_or(1024)
                .max(1),
            max_connections_per_token: args
                .max_connections_per_token
                .or(file.max_connections_per_token)
                .unwrap_or(1024)
                .max(1),
            max_websockets: args
                .max_websockets
                .or(file.max_websockets)
                .unwrap_or(20_000),
            io_threads: args
                .io_threads
                .or(file.io_threads)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
                .max(1),
            http_rate: args.http_rate.or(file.http_rate).unwrap_or(0),
            tls_cert: args.tls_cert.or(file.tls_cert),
            tls_key: args.tls_key.or(file.tls_key),
            log_format,
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("read config {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config {}", path.display()))
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
            tcp: Some("127.0.0.1:9100".into()),
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

        let err = ServerConfig::load(ServeArgs {
            speed: Some("fast".into()),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--speed: speed \"fast\" is not `recorded`, `max` or a positive number"
        );
        let err = ServerConfig::load(ServeArgs {
            tcp: Some("nowhere".into()),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--tcp \"nowhere\" is not an address (host:port) or `off`"
        );
        std::fs::write(&path, "tpc = 1\n").unwrap();
        let err = ServerConfig::load(ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown field `tpc`"),
            "{err:#}"
        );
    }
}
