//! `tickctl`: tickd from a terminal (DESIGN.md §10).
//!
//! `tickctl --server ADDR COMMAND` where `ADDR` is `tcp://host:port` (default
//! `tcp://127.0.0.1:7400`), `quic://host:port`, or `shm://DIR` (read a co-located server's
//! shared memory directly). `ADDR` may list several network servers, comma-separated (an origin
//! and its edges: the same `(epoch, seq)` on each): a command runs on the first that answers,
//! and `subscribe` moves to the next one when its connection is lost, resuming after the last
//! record it printed.
#![forbid(unsafe_code)]

mod publish;
mod render;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use mimalloc::MiMalloc;
use serde_json::json;
use tickd_client::quic::Verify;
use tickd_client::shm::{Next, ShmClient};
use tickd_client::{Client, Event};
use tickd_protocol::{
    Epoch, Instrument, Interval, QuerySpec, Scales, Selection, Seq, SlowConsumerPolicy, Start,
    Subscribe, Symbol, TickKind, UnixNanos,
};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// tickd from a terminal.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Server: tcp://host:port, quic://host:port or shm://DIR; several network servers
    /// comma-separated (subscribe fails over to the next, resuming after its last record).
    #[arg(
        long,
        global = true,
        env = "TICKD_SERVER",
        default_value = "tcp://127.0.0.1:7400"
    )]
    server: String,
    /// quic://: the server certificate's SHA-256 fingerprint (hex), as tickd logs it at start.
    #[arg(long, global = true, env = "TICKD_FINGERPRINT")]
    fingerprint: Option<String>,
    /// quic://: CA certificates (PEM) the server's certificate must chain to.
    #[arg(long, global = true, env = "TICKD_CA")]
    ca: Option<PathBuf>,
    /// quic://: do not verify the server at all (local testing only).
    #[arg(long, global = true)]
    insecure: bool,
    /// quic://: the name to verify the certificate for [default: the host of --server].
    #[arg(long, global = true)]
    server_name: Option<String>,
    /// Access token, when the server has tokens configured.
    #[arg(long, global = true, env = "TICKD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

#[derive(Clone, Debug, Subcommand)]
enum Command {
    /// List symbols, one per line.
    Symbols,
    /// Last trade and quote of a symbol, as JSON.
    Latest {
        /// The symbol.
        symbol: String,
    },
    /// Candles of a symbol (tcp:// only).
    Candles {
        /// The symbol.
        symbol: String,
        /// Interval: 1s 1m 5m 15m 1h 4h 1d.
        #[arg(long, default_value = "1m")]
        interval: String,
        /// First open time, inclusive (ns or RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// Last open time, exclusive (ns or RFC 3339).
        #[arg(long)]
        to: Option<String>,
        /// At most this many (the latest).
        #[arg(long)]
        limit: Option<u32>,
        /// Fill empty intervals with the previous close (`previous`).
        #[arg(long)]
        fill: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
    },
    /// Stream records.
    Subscribe {
        /// Symbols (all when none).
        symbols: Vec<String>,
        /// Kinds: trades, quotes, candles:INTERVAL such as candles:1m (comma-separated).
        #[arg(long, default_value = "trades,quotes")]
        kinds: String,
        /// Start at this seq of the server's current epoch (default: the next record).
        #[arg(long)]
        from_seq: Option<u64>,
        /// Send a snapshot first (tcp:// only).
        #[arg(long)]
        snapshot: bool,
        /// quic:// only: quotes as conflated, unreliable datagrams (latest per instrument).
        #[arg(long)]
        datagrams: bool,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
        /// Exit after this many records.
        #[arg(long)]
        count: Option<u64>,
        /// Exit after this long without a record, in seconds.
        #[arg(long)]
        idle_exit: Option<f64>,
    },
    /// Server and feed counters, as JSON.
    Stats,
    /// Publish a generic-CSV file (needs the publish role); ends with one JSON summary line.
    Publish {
        /// The file (`.csv`, `.csv.gz`, `.csv.zst`).
        file: PathBuf,
        /// Ticks per batch.
        #[arg(long, default_value_t = 4096)]
        batch: usize,
        /// Skip and count invalid lines instead of stopping at the first.
        #[arg(long)]
        skip_invalid: bool,
        /// An instrument's decimal scales, `SYMBOL=PRICE:SIZE` (`PEPEUSDT=8:0`), to parse its
        /// values and define it with. Repeatable [default: 9:9].
        #[arg(long = "scales", value_parser = parse_symbol_scales)]
        scales: Vec<(Symbol, Scales)>,
    },
}

fn parse_symbol_scales(text: &str) -> Result<(Symbol, Scales), String> {
    let (sym, scales) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected SYMBOL=PRICE:SIZE"))?;
    let sym = Symbol::new(sym).map_err(|e| format!("symbol {sym:?}: {e}"))?;
    Ok((sym, scales.parse()?))
}

enum Target {
    Tcp(String),
    Quic(String),
    Shm(PathBuf),
}

fn target(server: &str) -> anyhow::Result<Target> {
    if let Some(addr) = server.strip_prefix("tcp://") {
        Ok(Target::Tcp(addr.to_owned()))
    } else if let Some(addr) = server.strip_prefix("quic://") {
        Ok(Target::Quic(addr.to_owned()))
    } else if let Some(dir) = server.strip_prefix("shm://") {
        Ok(Target::Shm(PathBuf::from(dir)))
    } else {
        bail!("--server {server:?}: expected tcp://host:port, quic://host:port or shm://DIR")
    }
}

/// Certificates from PEM text.
fn pem_certs(pem: &[u8]) -> anyhow::Result<Vec<rustls_pki_types::CertificateDer<'static>>> {
    use rustls_pki_types::pem::PemObject;
    let certs =
        rustls_pki_types::CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?;
    anyhow::ensure!(!certs.is_empty(), "no certificate in the file");
    Ok(certs)
}

fn symbol(text: &str) -> anyhow::Result<Symbol> {
    Symbol::new(text).with_context(|| format!("symbol {text:?}"))
}

/// Parses a time given as integer ns or RFC 3339.
fn time(text: &str) -> anyhow::Result<UnixNanos> {
    tickd_formats::time::parse_time(text).map_err(|e| anyhow::anyhow!("time {e}"))
}

struct Kinds {
    trades: bool,
    quotes: bool,
    candles: Vec<Interval>,
}

fn kinds(text: &str) -> anyhow::Result<Kinds> {
    let mut k = Kinds {
        trades: false,
        quotes: false,
        candles: Vec::new(),
    };
    for part in text.split(',').map(str::trim) {
        match part {
            "trades" => k.trades = true,
            "quotes" => k.quotes = true,
            other => match other.strip_prefix("candles:") {
                Some(i) => k
                    .candles
                    .push(i.parse().with_context(|| format!("--kinds {other:?}"))?),
                None => bail!("--kinds {other:?}: expected trades, quotes or candles:<interval>"),
            },
        }
    }
    Ok(k)
}

/// Runs the command. A closed standard output (`tickctl subscribe | head`) ends it quietly with
/// exit 0; any other error is one line on stderr, `tickctl: <what failed>: <why>`, with exit 1
/// (the whole chain and a backtrace with `RUST_BACKTRACE=1`).
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
                eprintln!("tickctl: {e:?}");
            } else {
                eprintln!("tickctl: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Whether `e` came from writing to a pipe whose reader has gone.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let targets = cli
        .server
        .split(',')
        .map(|s| target(s.trim()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let [Target::Shm(dir)] = targets.as_slice() {
        return shm(dir, cli.command);
    }
    if targets.iter().any(|t| matches!(t, Target::Shm(_))) {
        bail!("--server: shm:// is one directory, not part of a list");
    }
    rt.block_on(async {
        let mut progress = Progress::default();
        let mut failed = 0;
        for i in 0.. {
            let t = &targets[i % targets.len()];
            let result = match connect(&cli, t).await {
                Ok(client) => {
                    failed = 0;
                    tcp(client, cli.command.clone(), &mut progress).await
                }
                Err(e) => Err(e.context(Lost)),
            };
            match result {
                Err(e) if targets.len() > 1 && lost(&e) => {
                    eprintln!("tickctl: {e:#}; trying the next server");
                    failed += 1;
                    // A full round of servers that cannot be reached: wait before the next.
                    if failed % targets.len() == 0 {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
                other => return other,
            }
        }
        Ok(())
    })
}

/// Whether `e` means the connection is gone (not a refusal by the server): then, with several
/// servers, the next one is tried.
fn lost(e: &anyhow::Error) -> bool {
    e.is::<Lost>()
        || e.chain().any(|c| {
            matches!(
                c.downcast_ref::<tickd_client::ClientError>(),
                Some(
                    tickd_client::ClientError::Io(_)
                        | tickd_client::ClientError::Closed
                        | tickd_client::ClientError::Frame(_)
                        | tickd_client::ClientError::Decode(_)
                )
            )
        })
}

/// A network server that could not be reached, or whose connection was lost mid-command:
/// with several servers, the next one is tried.
#[derive(Debug, thiserror::Error)]
#[error("connection lost")]
struct Lost;

/// Where a subscription is, across servers: what it printed and the seq to resume at.
#[derive(Debug, Default)]
struct Progress {
    /// The CSV header is out.
    header: bool,
    printed: u64,
    /// The seq after the last record received, and its epoch.
    resume: Option<(Epoch, Seq)>,
}

/// Connects to a network target and says `Hello`.
async fn connect(cli: &Cli, t: &Target) -> anyhow::Result<Client> {
    match t {
        Target::Tcp(addr) => Client::connect_with_token(addr.as_str(), cli.token.clone())
            .await
            .with_context(|| format!("connect to tcp://{addr}")),
        Target::Quic(addr) => {
            let verify = match (&cli.fingerprint, cli.insecure, &cli.ca) {
                (Some(f), false, None) => Verify::Fingerprint(f.clone()),
                (None, true, None) => Verify::InsecureSkip,
                (None, false, Some(ca)) => {
                    let pem =
                        std::fs::read(ca).with_context(|| format!("read --ca {}", ca.display()))?;
                    let certs =
                        pem_certs(&pem).with_context(|| format!("--ca {}", ca.display()))?;
                    Verify::Ca(certs)
                }
                _ => bail!(
                    "quic:// needs exactly one of --fingerprint HEX (tickd logs it at start), --ca FILE or --insecure"
                ),
            };
            let sock = tokio::net::lookup_host(addr.as_str())
                .await
                .with_context(|| format!("resolve {addr}"))?
                .next()
                .with_context(|| format!("resolve {addr}: no address"))?;
            let host = addr
                .rsplit_once(':')
                .map_or(addr.as_str(), |(h, _)| h)
                .trim_matches(['[', ']']);
            let name = cli.server_name.clone().unwrap_or_else(|| host.to_owned());
            Client::connect_quic(sock, &name, verify, cli.token.clone())
                .await
                .with_context(|| format!("connect to quic://{addr}"))
        }
        Target::Shm(_) => bail!("shm:// is not a network server"),
    }
}

/// The scales of `sym` as the server defined them (9 and 9 if it does not know it).
async fn scales_of(client: &mut Client, sym: Symbol) -> anyhow::Result<Scales> {
    Ok(client
        .symbols(sym.as_str())
        .await?
        .iter()
        .find(|i| i.symbol == sym)
        .map_or(Scales::DEFAULT, |i| i.scales))
}

/// Runs `command` over a network connection (TCP or QUIC). A subscription starts where
/// `progress` says (after a failover) and keeps it current; a lost connection is [`Lost`].
async fn tcp(mut client: Client, command: Command, progress: &mut Progress) -> anyhow::Result<()> {
    let epoch = client.welcome().epoch.0;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match command {
        Command::Symbols => {
            for i in client.symbols("").await? {
                writeln!(out, "{}", i.symbol)?;
            }
        }
        Command::Latest { symbol: s } => {
            let sym = symbol(&s)?;
            let scales = scales_of(&mut client, sym).await?;
            let a = client
                .query(QuerySpec::Latest {
                    symbols: vec![sym],
                    page: Default::default(),
                })
                .await?;
            let inst = render::Inst {
                symbol: sym.as_str(),
                scales,
            };
            let pick = |k: TickKind| {
                a.ticks
                    .iter()
                    .find(|t| t.kind == k as u8)
                    .map_or(serde_json::Value::Null, |t| {
                        render::tick_json(epoch, inst, t)
                    })
            };
            let v = json!({"symbol": sym.as_str(), "epoch": epoch, "head_seq": a.head_seq.0, "trade": pick(TickKind::Trade), "quote": pick(TickKind::Quote)});
            writeln!(out, "{v}")?;
        }
        Command::Candles {
            symbol: s,
            interval,
            from,
            to,
            limit,
            fill,
            format,
        } => {
            let sym = symbol(&s)?;
            let interval: Interval = interval
                .parse()
                .map_err(|e| anyhow::anyhow!("--interval: {e}"))?;
            let fill_previous = match fill.as_deref() {
                None => false,
                Some("previous") => true,
                Some(other) => bail!("--fill {other:?}: only `previous` is supported"),
            };
            let spec = QuerySpec::Candles {
                symbol: sym,
                interval,
                from: from.as_deref().map(time).transpose()?,
                to: to.as_deref().map(time).transpose()?,
                limit,
                fill_previous,
            };
            if format == Format::Csv {
                writeln!(out, "{}", render::CANDLE_CSV_HEADER)?;
            }
            // With --limit, one answer; without, page forward until the range is exhausted.
            let mut spec = spec;
            if let (None, QuerySpec::Candles { from, .. }) = (limit, &mut spec) {
                from.get_or_insert(UnixNanos(1));
            }
            let mut all = Vec::new();
            loop {
                let page = client.query(spec.clone()).await?.candles;
                let (Some(last), None, QuerySpec::Candles { from, .. }) =
                    (page.last(), limit, &mut spec)
                else {
                    all.extend(page);
                    break;
                };
                *from = Some(UnixNanos(last.ts_open + 1));
                all.extend(page);
            }
            let inst = render::Inst {
                symbol: sym.as_str(),
                scales: scales_of(&mut client, sym).await?,
            };
            for c in &all {
                match format {
                    Format::Csv => writeln!(out, "{}", render::candle_csv(inst, c))?,
                    Format::Json => writeln!(out, "{}", render::candle_json(inst, c))?,
                }
            }
        }
        Command::Subscribe {
            symbols,
            kinds: k,
            from_seq,
            snapshot,
            format,
            count,
            idle_exit,
            datagrams,
        } => {
            let k = kinds(&k)?;
            if format == Format::Csv && !k.candles.is_empty() {
                bail!("--format csv prints ticks only: use json with candles");
            }
            let selection = if symbols.is_empty() {
                Selection::All
            } else {
                Selection::Symbols(
                    symbols
                        .iter()
                        .map(|s| symbol(s))
                        .collect::<anyhow::Result<_>>()?,
                )
            };
            let start = match progress.resume {
                Some((epoch, seq)) => Start::Seq { epoch, seq },
                None => from_seq.map_or(Start::Latest, |s| Start::Seq {
                    epoch: Epoch(epoch),
                    seq: Seq(s),
                }),
            };
            let sub = Subscribe {
                request_id: 0,
                selection,
                trades: k.trades,
                quotes: k.quotes,
                candles: k.candles,
                start,
                snapshot,
                policy: SlowConsumerPolicy::Drop,
                datagrams,
            };
            let ack = client.subscribe(sub).await?;
            let names: std::collections::HashMap<u32, Instrument> = client
                .symbols("")
                .await?
                .into_iter()
                .chain(ack.instruments)
                .map(|i| (i.id.0, i))
                .collect();
            let name = |id: u32| {
                names.get(&id).map_or_else(
                    || (id.to_string(), Scales::DEFAULT),
                    |i| (i.symbol.as_str().to_owned(), i.scales),
                )
            };
            fn inst(n: &(String, Scales)) -> render::Inst<'_> {
                render::Inst {
                    symbol: n.0.as_str(),
                    scales: n.1,
                }
            }
            if format == Format::Csv && !progress.header {
                writeln!(out, "{}", render::TICK_CSV_HEADER)?;
                progress.header = true;
            }
            let printed = &mut progress.printed;
            let resume = &mut progress.resume;
            let idle = idle_exit.map(Duration::from_secs_f64);
            'events: loop {
                out.flush()?;
                let ev = match idle {
                    Some(d) => match tokio::time::timeout(d, client.next_event()).await {
                        Ok(ev) => ev.context(Lost)?,
                        Err(_) => break,
                    },
                    None => client.next_event().await.context(Lost)?,
                };
                let Some(ev) = ev else {
                    return Err(anyhow::anyhow!("the server closed the connection").context(Lost));
                };
                match ev {
                    Event::Ticks { epoch, ticks, .. } => {
                        if let Some(t) = ticks.last() {
                            *resume = Some((epoch, Seq(t.seq + 1)));
                        }
                        for t in &ticks {
                            let s = name(t.instrument_id);
                            match format {
                                Format::Json => {
                                    writeln!(out, "{}", render::tick_json(epoch.0, inst(&s), t))?
                                }
                                Format::Csv => {
                                    writeln!(out, "{}", render::tick_csv(epoch.0, inst(&s), t))?
                                }
                            }
                            *printed += 1;
                            if count.is_some_and(|c| *printed >= c) {
                                break 'events;
                            }
                        }
                    }
                    Event::Latest { epoch, tick, .. } => {
                        let s = name(tick.instrument_id);
                        match format {
                            Format::Json => {
                                let mut v = render::tick_json(epoch.0, inst(&s), &tick);
                                v["datagram"] = json!(true);
                                writeln!(out, "{v}")?;
                            }
                            Format::Csv => {
                                writeln!(out, "{}", render::tick_csv(epoch.0, inst(&s), &tick))?
                            }
                        }
                        *printed += 1;
                        if count.is_some_and(|c| *printed >= c) {
                            break 'events;
                        }
                    }
                    Event::Candles { epoch, candles, .. } => {
                        for c in &candles {
                            let mut v = render::candle_json(inst(&name(c.instrument_id)), c);
                            v["kind"] = json!("candle");
                            v["epoch"] = json!(epoch.0);
                            writeln!(out, "{v}")?;
                            *printed += 1;
                            if count.is_some_and(|n| *printed >= n) {
                                break 'events;
                            }
                        }
                    }
                    Event::Snapshot {
                        epoch,
                        seq,
                        ticks,
                        candles,
                        ..
                    } => {
                        let v = json!({
                            "kind": "snapshot", "epoch": epoch.0, "seq": seq.0,
                            "ticks": ticks.iter().map(|t| render::tick_json(epoch.0, inst(&name(t.instrument_id)), t)).collect::<Vec<_>>(),
                            "candles": candles.iter().map(|c| render::candle_json(inst(&name(c.instrument_id)), c)).collect::<Vec<_>>(),
                        });
                        eprintln!("{v}");
                    }
                    Event::Gap(g) => {
                        *resume = Some((g.epoch, Seq(g.to.0 + 1)));
                        let mut v = json!({"kind": "gap", "epoch": g.epoch.0, "from": g.from.0, "to": g.to.0, "reason": g.reason.as_str()});
                        if let tickd_protocol::GapReason::Venue(h) = g.reason {
                            // A hole in the venue's own data: which instrument, which trade ids.
                            v["symbol"] = json!(name(h.instrument.0).0);
                            v["from_trade_id"] = json!(h.from_trade_id);
                            v["to_trade_id"] = json!(h.to_trade_id);
                        }
                        match format {
                            Format::Json => writeln!(out, "{v}")?,
                            Format::Csv => eprintln!("{v}"),
                        }
                    }
                    Event::Heartbeat(_) => {}
                    Event::Error(e) => bail!("server error {:?}: {}", e.code, e.message),
                }
            }
        }
        Command::Publish {
            file,
            batch,
            skip_invalid,
            scales,
        } => {
            let scales = std::sync::Arc::new(tickd_protocol::ScaleMap::new(scales));
            publish::run(
                &mut client,
                &file,
                batch.max(1),
                skip_invalid,
                scales,
                &mut out,
            )
            .await?;
        }
        Command::Stats => {
            let a = client.query(QuerySpec::Stats).await?;
            let feeds: Vec<_> = a
                .feeds
                .iter()
                .map(|f| {
                    let mut v = json!({"name": f.name, "ingested": f.ingested, "skipped": f.skipped, "finished": f.finished});
                    if !f.error.is_empty() {
                        v["error"] = json!(f.error);
                    }
                    v
                })
                .collect();
            writeln!(
                out,
                "{}",
                json!({"epoch": a.epoch.0, "head_seq": a.head_seq.0, "feeds": feeds})
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

fn shm(dir: &std::path::Path, command: Command) -> anyhow::Result<()> {
    let mut c = ShmClient::open(dir).with_context(|| format!("open shm://{}", dir.display()))?;
    let epoch = c.epoch().0;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match command {
        Command::Symbols => {
            for (_, s) in c.symbols() {
                writeln!(out, "{s}")?;
            }
        }
        Command::Latest { symbol: s } => {
            let sym = symbol(&s)?;
            let id = c
                .id_of(&sym)
                .with_context(|| format!("unknown symbol {s:?}"))?;
            let inst = render::Inst {
                symbol: sym.as_str(),
                scales: c.scales_of(id).unwrap_or_default(),
            };
            let pick = |k| -> anyhow::Result<serde_json::Value> {
                Ok(c.latest(id, k)?.map_or(serde_json::Value::Null, |t| {
                    render::tick_json(epoch, inst, &t)
                }))
            };
            let v = json!({"symbol": sym.as_str(), "epoch": epoch, "head_seq": c.head().0, "trade": pick(TickKind::Trade)?, "quote": pick(TickKind::Quote)?});
            writeln!(out, "{v}")?;
        }
        Command::Candles { .. } => {
            bail!("candles are served over tcp://: the candle store is not in shared memory")
        }
        Command::Publish { .. } => {
            bail!("publish needs tcp://: shared memory is read-only to clients")
        }
        Command::Stats => writeln!(
            out,
            "{}",
            json!({"epoch": epoch, "head_seq": c.head().0, "feeds": [], "source": "shm"})
        )?,
        Command::Subscribe {
            symbols,
            kinds: k,
            from_seq,
            snapshot,
            format,
            count,
            idle_exit,
            datagrams,
        } => {
            let k = kinds(&k)?;
            if !k.candles.is_empty() || snapshot || datagrams {
                bail!(
                    "over shm:// subscribe streams ticks only (no candles, snapshot or datagrams)"
                );
            }
            let ids: Option<Vec<u32>> = if symbols.is_empty() {
                None
            } else {
                Some(
                    symbols
                        .iter()
                        .map(|s| {
                            let sym = symbol(s)?;
                            c.id_of(&sym)
                                .map(|i| i.0)
                                .with_context(|| format!("unknown symbol {s:?}"))
                        })
                        .collect::<anyhow::Result<_>>()?,
                )
            };
            match from_seq {
                Some(s) => c.seek(Seq(s)),
                None => c.seek(c.head().next()),
            }
            if format == Format::Csv {
                writeln!(out, "{}", render::TICK_CSV_HEADER)?;
            }
            let wait = idle_exit.map_or(Duration::from_secs(3600), Duration::from_secs_f64);
            let mut printed = 0u64;
            loop {
                // Caught up: show what is buffered before waiting for more.
                let next = match c.next(Duration::ZERO) {
                    Next::Idle => {
                        out.flush()?;
                        c.next(wait)
                    }
                    next => next,
                };
                match next {
                    Next::Tick(t) => {
                        let kind_ok = match t.kind() {
                            Some(TickKind::Trade) => k.trades,
                            Some(TickKind::Quote) => k.quotes,
                            None => false,
                        };
                        if !kind_ok
                            || ids
                                .as_ref()
                                .is_some_and(|ids| !ids.contains(&t.instrument_id))
                        {
                            continue;
                        }
                        let s = c
                            .symbol_of(t.instrument())
                            .map_or_else(|| t.instrument_id.to_string(), |s| s.as_str().to_owned());
                        let inst = render::Inst {
                            symbol: &s,
                            scales: c.scales_of(t.instrument()).unwrap_or_default(),
                        };
                        match format {
                            Format::Json => {
                                writeln!(out, "{}", render::tick_json(epoch, inst, &t))?
                            }
                            Format::Csv => writeln!(out, "{}", render::tick_csv(epoch, inst, &t))?,
                        }
                        printed += 1;
                        if count.is_some_and(|n| printed >= n) {
                            break;
                        }
                    }
                    Next::Gap { from, to } => {
                        let v = json!({"kind": "gap", "epoch": epoch, "from": from.0, "to": to.0, "reason": "Overrun"});
                        match format {
                            Format::Json => writeln!(out, "{v}")?,
                            Format::Csv => eprintln!("{v}"),
                        }
                    }
                    Next::Idle => {
                        if idle_exit.is_some() {
                            break;
                        }
                    }
                }
                if printed.is_multiple_of(1024) {
                    out.flush()?;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}
