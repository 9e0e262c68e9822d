//! QUIC fan-out: tickd serving N QUIC subscribers beside a bare quinn server sending the same
//! 64-byte records in the same batches to N clients, in the same run.
//!
//! - Throughput: a backlog of `records` ticks, delivered in full to every subscriber (tickd:
//!   subscribe from seq 1; bare quinn: one unidirectional stream per client). Records/s =
//!   subscribers × records / time until the last subscriber has everything.
//! - Latency at `rate` ticks/s: batches every millisecond, each tick stamped with the wall clock
//!   at publish; subscribers record receive time − stamp (same clock, same machine).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bytes::{BufMut, Bytes, BytesMut};
use hdrhistogram::Histogram;
use serde_json::json;
use tickd_client::quic::Verify;
use tickd_client::{Client, Event};
use tickd_protocol::{
    InstrumentId, Price, Quantity, Selection, Seq, Side, SlowConsumerPolicy, Start, Subscribe,
    Symbol, TickRecord, Trade, UnixNanos,
};
use tickd_server::config::{ServeArgs, ServerConfig};
use tokio::io::AsyncReadExt;

/// Scenario options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Subscribers.
    #[arg(long, default_value_t = 10)]
    subscribers: usize,
    /// Backlog size for the throughput run, ticks.
    #[arg(long, default_value_t = 500_000)]
    records: u64,
    /// Publish rate for the latency run, ticks/s.
    #[arg(long, default_value_t = 100_000)]
    rate: u64,
    /// Duration of the latency run, seconds.
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Write the results here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

const BATCH: usize = 1_024;

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn tick(i: u64, ts: u64) -> TickRecord {
    let t = Trade {
        price: Price::from_raw(100_000_000_000 + (i % 100) as i64),
        size: Quantity::from_raw(1),
        trade_id: i,
        venue: 0,
        conditions: 0,
    };
    TickRecord::new_trade(InstrumentId((i % 5) as u32), UnixNanos(ts), Side::Buy, &t)
}

fn symbols() -> Vec<Symbol> {
    ["AAPL", "GOOGL", "MSFT", "TSLA", "AMZN"]
        .iter()
        .filter_map(|s| Symbol::new(s).ok())
        .collect()
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

/// Results of one system.
#[derive(Debug)]
struct Figures {
    records_per_s: f64,
    latency: Histogram<u64>,
}

struct Tickd {
    running: Option<tickd_server::app::Running>,
    listeners: Option<tickd_server::serve::Listeners>,
    tcp: SocketAddr,
    quic: SocketAddr,
    fingerprint: String,
    _dir: TempDir,
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start_tickd() -> anyhow::Result<Tickd> {
    let dir = std::env::temp_dir().join(format!("tickd-loadtest-{}", std::process::id()));
    let shm = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm").join(format!("tickd-loadtest-{}", std::process::id()))
    } else {
        dir.join("shm")
    };
    let args = ServeArgs {
        synthetic: Some("off".into()),
        tcp: Some("127.0.0.1:0".into()),
        quic: Some("127.0.0.1:0".into()),
        http: Some("off".into()),
        shm_dir: Some(shm),
        data_dir: Some(dir.join("data")),
        no_journal: true,
        ring_slots: Some(1 << 22),
        ..ServeArgs::default()
    };
    let config = ServerConfig::load(args)?;
    let running = tickd_server::app::start(&config)?;
    let listeners = tickd_server::serve::start(&config, &running.shared).await?;
    let fingerprint = tickd_server::tls::load_or_create(&dir.join("data"), None, None)?.fingerprint;
    Ok(Tickd {
        tcp: listeners.tcp.context("tcp")?,
        quic: listeners.quic.context("quic")?,
        running: Some(running),
        listeners: Some(listeners),
        fingerprint,
        _dir: TempDir(dir),
    })
}

impl Tickd {
    async fn stop(mut self) {
        if let Some(l) = self.listeners.take() {
            l.stop().await;
        }
        if let Some(r) = self.running.take() {
            r.shutdown();
        }
    }
}

fn subscribe(start: Start) -> Subscribe {
    Subscribe {
        request_id: 0,
        selection: Selection::All,
        trades: true,
        quotes: true,
        candles: vec![],
        start,
        snapshot: false,
        policy: SlowConsumerPolicy::Drop,
        datagrams: false,
    }
}

async fn tickd_throughput(t: &Tickd, args: &Args) -> anyhow::Result<f64> {
    let mut publisher = Client::connect(t.tcp).await?;
    let mut i = 0u64;
    while i < args.records {
        let n = (args.records - i).min(4_096);
        let ticks: Vec<_> = (i..i + n).map(|k| tick(k, now_ns())).collect();
        publisher.publish(symbols(), &ticks).await?;
        i += n;
    }
    let head = publisher.welcome().head_seq.0 + args.records;
    let epoch = publisher.welcome().epoch;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.subscribers {
        let (addr, fp) = (t.quic, t.fingerprint.clone());
        tasks.push(tokio::spawn(async move {
            let mut c =
                Client::connect_quic(addr, "localhost", Verify::Fingerprint(fp), None).await?;
            c.subscribe(subscribe(Start::Seq { epoch, seq: Seq(1) }))
                .await?;
            let mut last = 0;
            while last < head {
                match c.next_event().await? {
                    Some(Event::Ticks { ticks, .. }) => last = ticks.last().map_or(last, |t| t.seq),
                    Some(Event::Gap(g)) => anyhow::bail!("gap {g:?}"),
                    Some(_) => {}
                    None => anyhow::bail!("closed"),
                }
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(args.subscribers as f64 * args.records as f64 / start.elapsed().as_secs_f64())
}

async fn tickd_latency(t: &Tickd, args: &Args) -> anyhow::Result<Histogram<u64>> {
    let mut publisher = Client::connect(t.tcp).await?;
    let total = args.rate * args.seconds;
    let mut tasks = Vec::new();
    for _ in 0..args.subscribers {
        let (addr, fp) = (t.quic, t.fingerprint.clone());
        let mut c = Client::connect_quic(addr, "localhost", Verify::Fingerprint(fp), None).await?;
        c.subscribe(subscribe(Start::Latest)).await?;
        tasks.push(tokio::spawn(async move {
            let mut h = histogram();
            let mut got = 0;
            while got < total {
                match tokio::time::timeout(Duration::from_secs(10), c.next_event()).await {
                    Ok(Ok(Some(Event::Ticks { ticks, .. }))) => {
                        let now = now_ns();
                        for t in &ticks {
                            h.saturating_record(now.saturating_sub(t.ts_event).max(1));
                        }
                        got += ticks.len() as u64;
                    }
                    Ok(Ok(Some(_))) => {}
                    _ => break,
                }
            }
            h
        }));
    }
    let per_ms = (args.rate / 1_000).max(1);
    let start = tokio::time::Instant::now();
    let mut sent = 0u64;
    let mut ms = 0u64;
    while sent < total {
        ms += 1;
        tokio::time::sleep_until(start + Duration::from_millis(ms)).await;
        let ticks: Vec<_> = (sent..sent + per_ms).map(|k| tick(k, now_ns())).collect();
        publisher.publish(symbols(), &ticks).await?;
        sent += per_ms;
    }
    let mut all = histogram();
    for task in tasks {
        all.add(task.await?)?;
    }
    Ok(all)
}

fn tls_pair() -> anyhow::Result<(quinn::ServerConfig, quinn::ClientConfig)> {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der())
        .map_err(anyhow::Error::msg)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)?;
    server.alpn_protocols = vec![b"bare".to_vec()];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der)?;
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"bare".to_vec()];
    // The same transport settings tickd uses.
    let mut transport = quinn::TransportConfig::default();
    transport
        .stream_receive_window((8u32 << 20).into())
        .receive_window((64u32 << 20).into())
        .send_window(64 << 20);
    let mut server_config = quinn::ServerConfig::with_crypto(Arc::new(
        quinn::crypto::rustls::QuicServerConfig::try_from(server)?,
    ));
    server_config.transport_config(Arc::new(transport));
    let client_config = quinn::ClientConfig::new(Arc::new(
        quinn::crypto::rustls::QuicClientConfig::try_from(client)?,
    ));
    Ok((server_config, client_config))
}

/// One frame: `u32` LE length, then `n` 64-byte records.
fn frame(first: u64, n: usize, ts: u64) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + n * 64);
    b.put_u32_le((n * 64) as u32);
    for k in first..first + n as u64 {
        b.put_slice(&tick(k, ts).to_le_bytes());
    }
    b.freeze()
}

/// A bare quinn server: each accepted client gets a unidirectional stream carrying `expect`
/// records in frames, as fast as flow control allows or paced at `rate` records/s (a frame per
/// millisecond, each record stamped when its frame is made). Returns its address.
fn bare_server(
    config: quinn::ServerConfig,
    clients: usize,
    expect: u64,
    rate: Option<u64>,
) -> anyhow::Result<SocketAddr> {
    let endpoint = quinn::Endpoint::server(config, "127.0.0.1:0".parse()?)?;
    let addr = endpoint.local_addr()?;
    tokio::spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let Some(incoming) = endpoint.accept().await else {
                return;
            };
            tasks.push(tokio::spawn(async move {
                let conn = incoming.await?;
                let mut send = conn.open_uni().await?;
                let mut sent = 0u64;
                let t0 = tokio::time::Instant::now();
                let mut ms = 0;
                while sent < expect {
                    let n = match rate {
                        Some(r) => {
                            ms += 1;
                            tokio::time::sleep_until(t0 + Duration::from_millis(ms)).await;
                            (r / 1_000).max(1)
                        }
                        None => BATCH as u64,
                    }
                    .min(expect - sent);
                    send.write_all(&frame(sent, n as usize, now_ns())).await?;
                    sent += n;
                }
                send.finish()?;
                conn.closed().await;
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        drop(endpoint);
    });
    Ok(addr)
}

async fn bare_client(
    addr: SocketAddr,
    config: quinn::ClientConfig,
    expect: u64,
) -> anyhow::Result<Histogram<u64>> {
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
    endpoint.set_default_client_config(config);
    let conn = endpoint.connect(addr, "localhost")?.await?;
    let mut recv = conn.accept_uni().await?;
    let mut h = histogram();
    let mut buf = BytesMut::with_capacity(1 << 20);
    let mut got = 0u64;
    while got < expect {
        while buf.len() >= 4 {
            let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if buf.len() < 4 + len {
                break;
            }
            let now = now_ns();
            let body = buf.split_to(4 + len);
            for rec in body[4..].chunks_exact(64) {
                let ts = u64::from_le_bytes(rec[8..16].try_into().expect("8 bytes"));
                h.saturating_record(now.saturating_sub(ts).max(1));
                got += 1;
            }
        }
        if recv.read_buf(&mut buf).await? == 0 {
            break;
        }
    }
    conn.close(0u32.into(), b"done");
    Ok(h)
}

async fn bare(args: &Args, paced: bool) -> anyhow::Result<Figures> {
    let (server_config, client_config) = tls_pair()?;
    let expect = if paced {
        args.rate * args.seconds
    } else {
        args.records
    };
    let addr = bare_server(
        server_config,
        args.subscribers,
        expect,
        paced.then_some(args.rate),
    )?;
    let start = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..args.subscribers {
        clients.push(tokio::spawn(bare_client(
            addr,
            client_config.clone(),
            expect,
        )));
    }
    let mut latency = histogram();
    for c in clients {
        latency.add(c.await??)?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    Ok(Figures {
        records_per_s: args.subscribers as f64 * expect as f64 / elapsed,
        latency,
    })
}

fn row(name: &str, f: &Figures) -> String {
    format!(
        "{name:<12} {:>14.0} {:>10} {:>10} {:>10}",
        f.records_per_s,
        f.latency.value_at_quantile(0.5),
        f.latency.value_at_quantile(0.99),
        f.latency.value_at_quantile(0.999)
    )
}

/// Runs the scenario and prints (and optionally writes) the comparison.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let tickd = start_tickd().await?;
    let tickd_tput = tickd_throughput(&tickd, &args)
        .await
        .context("tickd throughput")?;
    let tickd_lat = tickd_latency(&tickd, &args)
        .await
        .context("tickd latency")?;
    tickd.stop().await;
    let bare_tput = bare(&args, false).await.context("bare quinn throughput")?;
    let bare_lat = bare(&args, true).await.context("bare quinn latency")?;

    let t = Figures {
        records_per_s: tickd_tput,
        latency: tickd_lat,
    };
    println!(
        "QUIC fan-out to {} subscribers (throughput: {} ticks backlog; latency: {} ticks/s for {} s), latency in ns",
        args.subscribers, args.records, args.rate, args.seconds
    );
    println!(
        "{:<12} {:>14} {:>10} {:>10} {:>10}",
        "system", "records/s", "p50", "p99", "p99.9"
    );
    println!(
        "{}",
        row(
            "tickd",
            &Figures {
                records_per_s: t.records_per_s,
                latency: t.latency.clone()
            }
        )
    );
    println!(
        "{}",
        row(
            "bare quinn",
            &Figures {
                records_per_s: bare_tput.records_per_s,
                latency: bare_lat.latency.clone()
            }
        )
    );
    let tput_ratio = t.records_per_s / bare_tput.records_per_s;
    let p99_ratio = t.latency.value_at_quantile(0.99) as f64
        / bare_lat.latency.value_at_quantile(0.99).max(1) as f64;
    println!(
        "throughput ratio tickd/bare {tput_ratio:.2} (target >= 0.8); p99 ratio {p99_ratio:.2} (target <= 1.5)"
    );
    if let Some(path) = args.json {
        let v = json!({
            "scenario": "quic-fanout",
            "subscribers": args.subscribers,
            "tickd": {"records_per_s": t.records_per_s, "p50_ns": t.latency.value_at_quantile(0.5), "p99_ns": t.latency.value_at_quantile(0.99), "p999_ns": t.latency.value_at_quantile(0.999)},
            "bare_quinn": {"records_per_s": bare_tput.records_per_s, "p50_ns": bare_lat.latency.value_at_quantile(0.5), "p99_ns": bare_lat.latency.value_at_quantile(0.99), "p999_ns": bare_lat.latency.value_at_quantile(0.999)},
            "throughput_ratio": tput_ratio,
            "p99_ratio": p99_ratio,
        });
        std::fs::write(&path, format!("{v}\n"))
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}
