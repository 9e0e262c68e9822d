//! TCP fan-out: tickd's TCP subscribers beside NATS and Redis pub/sub, each server its own
//! process, the same 64-byte ticks at the same fixed rate, in the same run.
//!
//! For each subscriber count `n` the publish rate is `deliveries / n` ticks/s (at most
//! `max_rate`): with the defaults, 1 subscriber at 100k ticks/s, 10 at 100k (1M deliveries/s)
//! and 100 at 10k (1M deliveries/s). One publisher, on a thread of its own, sends batches of
//! `batch` ticks at fixed times ([`crate::pace`]; 100 by default: a batch every millisecond at
//! 100k ticks/s, every 10 ms at 10k): to tickd one `Publish` of the batch, acknowledged; to NATS
//! a message per tick and a flush; to Redis a pipeline of `PUBLISH`es. Publishers send `symbols`
//! symbols of `kinds`; subscribers take the first `subscribe_symbols` of them, of
//! `subscribe_kinds` (by default everything), and record latency against the schedule
//! (coordinated-omission corrected) and raw.
//!
//! Measured per run: ticks delivered and lost, server CPU per delivered tick (from `/proc`,
//! publishing included, as users pay for it), the load generator's CPU per received tick (the
//! receivers run on a thread of their own, and that thread's CPU is what counts), server
//! memory.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use tickd_client::Client;
use tickd_protocol::Start;

use crate::baseline::{nats, redis};
use crate::pace::{Recorder, Schedule, on_own_thread, spawn_publisher};
use crate::process::{ServerProcess, thread_cpu_ns};
use crate::record::{Interest, Mix, MixArgs};
use crate::report::{Chart, Latency, Row, count, dur, median, median_item};
use crate::scenario::ws_receiver::WsReceiver;
use crate::tickd::{self, Tickd};
use crate::tls::Identity;

/// Scenario options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Subscriber counts to run.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100")]
    pub(crate) subscribers: Vec<usize>,
    /// Deliveries per second to aim for: the publish rate is this ÷ subscribers.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) deliveries: u64,
    /// The highest publish rate, ticks/s.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) max_rate: u64,
    /// Seconds of publishing per run.
    #[arg(long, default_value_t = 3)]
    pub(crate) seconds: u64,
    /// Repetitions, the systems interleaved (odd: the median is one of them). Five: the
    /// 1-subscriber p99 and the load generator's cost move from run to run on a shared 2-core
    /// machine, and a median of three still lands on an outlier.
    #[arg(long, default_value_t = 5)]
    pub(crate) repeat: usize,
    /// Ticks per publish: at 100k ticks/s a publish every millisecond, at 10k every 10 ms
    /// (0: a publish every millisecond of rate ÷ 1,000 ticks).
    #[arg(long, default_value_t = 100)]
    pub(crate) batch: u64,
    /// What is published and what each subscriber takes.
    #[command(flatten)]
    pub(crate) mix: MixArgs,
    /// Subscriber counts to run over WebSocket too (tickd's seed dialect; trades only; 0 runs
    /// none).
    #[arg(long, value_delimiter = ',', default_value = "1,10")]
    pub(crate) ws_subscribers: Vec<usize>,
}

impl Args {
    fn rate(&self, subscribers: usize) -> u64 {
        (self.deliveries / subscribers.max(1) as u64).min(self.max_rate)
    }

    fn mix(&self) -> Mix {
        self.mix.mix()
    }

    fn interest(&self) -> Interest {
        self.mix.interest()
    }
}

/// The systems compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum System {
    Tickd,
    Nats,
    Redis,
    /// tickd publishing over TCP, subscribers on WebSocket (seed dialect, JSON).
    #[serde(rename = "tickd_ws")]
    TickdWs,
}

/// The systems compared at every subscriber count.
const SYSTEMS: [System; 3] = [System::Tickd, System::Nats, System::Redis];

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Delivery {
    pub(crate) system: System,
    pub(crate) repetition: usize,
    pub(crate) subscribers: usize,
    pub(crate) rate: u64,
    /// Ticks per publish.
    pub(crate) batch: u64,
    /// Ticks every subscriber should have had, summed.
    pub(crate) expected: u64,
    pub(crate) delivered: u64,
    pub(crate) lost: u64,
    pub(crate) server_cpu_ns_per_delivery: f64,
    pub(crate) client_cpu_ns_per_delivery: f64,
    pub(crate) publisher_cpu_ns_per_tick: f64,
    pub(crate) server_rss_bytes: u64,
    /// Receive − due time (coordinated-omission corrected).
    pub(crate) latency: Latency,
    /// Receive − `ts_event` (when the batch was made).
    pub(crate) latency_raw: Latency,
}

enum Receiver {
    Tickd(Box<Client>),
    Nats(nats::Subscriber),
    Redis(redis::Subscriber),
    Ws(WsReceiver),
}

impl Receiver {
    async fn connect(
        system: System,
        addr: SocketAddr,
        mix: &Mix,
        interest: &Interest,
    ) -> anyhow::Result<Self> {
        Ok(match system {
            System::Tickd => {
                let mut c = Client::connect(addr).await?;
                c.subscribe(tickd::subscription(mix, interest, Start::Latest))
                    .await?;
                Self::Tickd(Box::new(c))
            }
            System::Nats => Self::Nats(nats::Subscriber::connect(addr, mix, interest).await?),
            System::Redis => Self::Redis(redis::Subscriber::connect(addr, mix, interest).await?),
            System::TickdWs => Self::Ws(WsReceiver::connect(addr, mix, interest).await?),
        })
    }

    async fn receive(self, schedule: Schedule, expected: u64) -> anyhow::Result<Recorder> {
        Ok(match self {
            Self::Tickd(c) => tickd::receive(*c, schedule, expected).await?,
            Self::Nats(s) => s.receive(schedule, expected).await,
            Self::Redis(s) => s.receive(schedule, expected).await,
            Self::Ws(s) => s.receive(schedule, expected).await,
        })
    }
}

async fn publish(
    system: System,
    addr: SocketAddr,
    schedule: Schedule,
    mix: Mix,
) -> anyhow::Result<()> {
    match system {
        System::Tickd | System::TickdWs => {
            tickd::publish(Client::connect(addr).await?, schedule, mix).await
        }
        System::Nats => nats::publish(addr, schedule, mix).await,
        System::Redis => redis::publish(addr, schedule, mix).await,
    }
}

/// A system's server, running.
enum Server {
    Tickd(Tickd),
    Other(ServerProcess, SocketAddr),
}

impl Server {
    async fn start(
        system: System,
        dir: &std::path::Path,
        identity: &Identity,
    ) -> anyhow::Result<Self> {
        Ok(match system {
            System::Tickd | System::TickdWs => Self::Tickd(Tickd::start(dir, identity, &[]).await?),
            System::Nats => {
                let (p, a) = nats::start().await?;
                Self::Other(p, a)
            }
            System::Redis => {
                let (p, a) = redis::start().await?;
                Self::Other(p, a)
            }
        })
    }

    fn process(&self) -> &ServerProcess {
        match self {
            Self::Tickd(t) => &t.process,
            Self::Other(p, _) => p,
        }
    }

    /// Where publishers connect.
    fn addr(&self) -> SocketAddr {
        match self {
            Self::Tickd(t) => t.tcp,
            Self::Other(_, a) => *a,
        }
    }

    /// Where `system`'s subscribers connect.
    fn subscribe_addr(&self, system: System) -> SocketAddr {
        match (self, system) {
            (Self::Tickd(t), System::TickdWs) => t.http,
            _ => self.addr(),
        }
    }
}

async fn run_one(
    system: System,
    subscribers: usize,
    rate: u64,
    args: &Args,
    dir: &std::path::Path,
    identity: &Identity,
) -> anyhow::Result<Delivery> {
    let server = Server::start(system, dir, identity).await?;
    let (addr, sub_addr) = (server.addr(), server.subscribe_addr(system));
    let (mix, interest) = (args.mix(), args.interest());
    // Subscribers that name symbols need them known (WebSocket subscribers always name them).
    if system == System::TickdWs || (system == System::Tickd && !interest.every_symbol(&mix)) {
        tickd::register(&mut Client::connect(addr).await?, &mix).await?;
    }
    // The receivers connect, then wait for the schedule, on a thread of their own.
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<Schedule>();
    let receiving = on_own_thread("receivers", move || async move {
        let mut receivers = Vec::with_capacity(subscribers);
        for _ in 0..subscribers {
            receivers.push(Receiver::connect(system, sub_addr, &mix, &interest).await?);
        }
        let _ = ready_tx.send(());
        let schedule = go_rx.await.context("no schedule")?;
        let expected = interest.expected(&mix, schedule.total());
        let cpu0 = thread_cpu_ns();
        let tasks: Vec<_> = receivers
            .into_iter()
            .map(|r| tokio::spawn(r.receive(schedule, expected)))
            .collect();
        let mut all = Recorder::new(schedule, expected * subscribers as u64);
        for task in tasks {
            all.add(&task.await??)?;
        }
        Ok((all, thread_cpu_ns().saturating_sub(cpu0)))
    });
    if ready_rx.await.is_err() {
        // The thread ended before its receivers were ready: its error says why.
        receiving.await?;
        anyhow::bail!("the receivers ended before they connected");
    }
    let schedule =
        Schedule::new(rate, args.seconds, Duration::from_millis(300)).batched(args.batch);
    let _ = go_tx.send(schedule);
    let server_cpu0 = server.process().cpu_ns();
    let publisher_cpu = spawn_publisher(move || publish(system, addr, schedule, mix))
        .await
        .context("publisher")?;
    let (all, client_cpu) = receiving.await.context("receivers")?;
    let server_cpu = server.process().cpu_ns().saturating_sub(server_cpu0) as f64;
    let client_cpu = client_cpu as f64;
    let expected = all.expected;
    let delivered = all.received.max(1) as f64;
    Ok(Delivery {
        system,
        repetition: 0,
        subscribers,
        rate,
        batch: schedule.per_batch(),
        expected,
        delivered: all.received,
        lost: expected.saturating_sub(all.received),
        server_cpu_ns_per_delivery: server_cpu / delivered,
        client_cpu_ns_per_delivery: client_cpu / delivered,
        publisher_cpu_ns_per_tick: publisher_cpu as f64 / schedule.total() as f64,
        server_rss_bytes: server.process().rss_bytes(),
        latency: Latency::of(&all.corrected),
        latency_raw: Latency::of(&all.raw),
    })
}

/// Runs every subscriber count against every system, `repeat` times interleaved.
pub(crate) async fn run(args: &Args, dir: &std::path::Path) -> anyhow::Result<Vec<Delivery>> {
    let identity = Identity::generate(dir)?;
    let mut runs = Vec::new();
    for rep in 0..args.repeat {
        // WebSocket subscribers take trades only (quotes are conflated per batch there).
        let ws_counts: &[usize] = if args.interest().kinds.quotes() {
            &[]
        } else {
            &args.ws_subscribers
        };
        let ws = ws_counts.iter().map(|&n| (n, System::TickdWs));
        let runs_of = args
            .subscribers
            .iter()
            .flat_map(|&n| SYSTEMS.iter().map(move |&s| (n, s)))
            .chain(ws)
            .filter(|&(n, _)| n > 0);
        for (n, system) in runs_of {
            let rate = args.rate(n);
            {
                let dir = dir.join(format!("tickd-tcp-{rep}-{n}"));
                let mut d = run_one(system, n, rate, args, &dir, &identity)
                    .await
                    .with_context(|| format!("{system:?}, {n} subscribers at {rate} ticks/s"))?;
                d.repetition = rep;
                eprintln!(
                    "tcp-fanout rep {rep}: {system:?} {n} subs at {rate}/s: {} of {} delivered, \
                     server {:.0} ns/delivery, client {:.0} ns, p50 {} p99 {} (raw p50 {} p99 {})",
                    d.delivered,
                    d.expected,
                    d.server_cpu_ns_per_delivery,
                    d.client_cpu_ns_per_delivery,
                    dur(d.latency.p50_ns as f64),
                    dur(d.latency.p99_ns as f64),
                    dur(d.latency_raw.p50_ns as f64),
                    dur(d.latency_raw.p99_ns as f64),
                );
                runs.push(d);
            }
        }
    }
    Ok(runs)
}

/// The median over repetitions of `f` for `system` at `subscribers`.
fn med(runs: &[Delivery], system: System, subscribers: usize, f: fn(&Delivery) -> f64) -> f64 {
    median(
        runs.iter()
            .filter(|d| d.system == system && d.subscribers == subscribers)
            .map(f)
            .collect(),
    )
}

/// The targets: fan-out CPU against NATS, single-subscriber latency against Redis, lossless
/// delivery at 1M deliveries/s, and the load generator's own cost.
pub(crate) fn rows(args: &Args, runs: &[Delivery]) -> Vec<Row> {
    let mut rows = Vec::new();
    for &n in args.subscribers.iter().filter(|&&n| n > 1) {
        let t = med(runs, System::Tickd, n, |d| d.server_cpu_ns_per_delivery);
        let b = med(runs, System::Nats, n, |d| d.server_cpu_ns_per_delivery);
        rows.push(Row {
            path: format!(
                "TCP fan-out, {n} subscribers at {} ticks/s",
                count(args.rate(n) as f64)
            ),
            figure: "server CPU per delivered tick".into(),
            target: "<= 0.3x NATS and <= 60 ns".into(),
            tickd: format!("{t:.0} ns"),
            baseline: format!("{b:.0} ns"),
            ratio: t / b,
            met: t / b <= 0.3 && t <= 60.0,
            limit: "the kernel: each write to a loopback socket also runs the receiver's TCP input \
                    and wake-up on the sender's CPU; perf at 10 subscribers puts 46% of tickd's \
                    CPU in send (about 60 ns per tick at one 100-tick write per subscriber per \
                    batch), 25% in thread and task wake-ups (publisher task to sequencer thread \
                    to subscriber tasks) and about 20% in tickd's own code; going lower needs \
                    fewer, larger writes (coalescing across batches, which costs latency) or \
                    fewer wake-ups per batch",
        });
    }
    if args.subscribers.contains(&1) {
        let path = format!(
            "TCP, 1 subscriber at {} ticks/s",
            count(args.rate(1) as f64)
        );
        for (figure, target, limit, f) in [
            (
                "p50 (CO-corrected)",
                "<= 0.5x Redis pub/sub",
                0.5,
                (|d: &Delivery| d.latency.p50_ns as f64) as fn(&Delivery) -> f64,
            ),
            (
                "p99 (CO-corrected)",
                "<= 0.75x Redis pub/sub",
                0.75,
                |d: &Delivery| d.latency.p99_ns as f64,
            ),
        ] {
            let t = med(runs, System::Tickd, 1, f);
            let b = med(runs, System::Redis, 1, f);
            rows.push(Row {
                path: path.clone(),
                figure: figure.into(),
                target: target.into(),
                tickd: dur(t),
                baseline: dur(b),
                ratio: t / b,
                met: t / b <= limit,
                limit: "each batch crosses two threads in tickd (connection task to sequencer \
                        thread to the subscriber's task), each a wake-up of several µs in this \
                        VM; Redis does it in one event loop",
            });
        }
    }
    // The 1M deliveries/s target: the first run at the largest delivery rate.
    let most = args
        .subscribers
        .iter()
        .map(|&n| args.rate(n) * n as u64)
        .max();
    if let Some(&n) = args
        .subscribers
        .iter()
        .find(|&&n| Some(args.rate(n) * n as u64) == most)
    {
        let worst_loss = |system| {
            runs.iter()
                .filter(|d| d.system == system && d.subscribers == n)
                .map(|d| d.lost)
                .max()
                .unwrap_or(0)
        };
        let p99 = |system| med(runs, system, n, |d| d.latency.p99_ns as f64);
        let (lost_t, p99_t) = (worst_loss(System::Tickd), p99(System::Tickd));
        rows.push(Row {
            path: format!(
                "TCP, {} deliveries/s ({n} subscribers × {} ticks/s)",
                count((args.rate(n) * n as u64) as f64),
                count(args.rate(n) as f64)
            ),
            figure: "ticks lost (worst run), p99 (CO-corrected)".into(),
            target: "lossless, p99 <= 2 ms".into(),
            tickd: format!("{} lost, p99 {}", count(lost_t as f64), dur(p99_t)),
            baseline: format!(
                "NATS {} lost, p99 {}",
                count(worst_loss(System::Nats) as f64),
                dur(p99(System::Nats))
            ),
            ratio: 0.0,
            met: lost_t == 0 && p99_t <= 2e6,
            limit: "",
        });
    }
    // WebSocket subscribers: delivery and latency (no baseline: what users would run instead
    // is a JSON bridge of their own).
    for &n in &args.ws_subscribers {
        if !runs
            .iter()
            .any(|d| d.system == System::TickdWs && d.subscribers == n)
        {
            continue;
        }
        let lost = runs
            .iter()
            .filter(|d| d.system == System::TickdWs && d.subscribers == n)
            .map(|d| d.lost)
            .max()
            .unwrap_or(0);
        let p50 = med(runs, System::TickdWs, n, |d| d.latency.p50_ns as f64);
        let p99 = med(runs, System::TickdWs, n, |d| d.latency.p99_ns as f64);
        let cpu = med(runs, System::TickdWs, n, |d| d.server_cpu_ns_per_delivery);
        rows.push(Row {
            path: format!(
                "WebSocket (seed dialect JSON), {n} subscriber{} at {} trades/s",
                plural(n),
                count(args.rate(n) as f64)
            ),
            figure: "ticks lost (worst run); p50, p99 (CO-corrected); server CPU per delivery"
                .into(),
            target: "lossless".into(),
            tickd: format!(
                "{} lost; {}, {}; {cpu:.0} ns",
                count(lost as f64),
                dur(p50),
                dur(p99)
            ),
            baseline: String::new(),
            ratio: 0.0,
            met: lost == 0,
            limit: "",
        });
    }
    // The load generator's own cost, per subscriber count and transport.
    let own_rows = args
        .subscribers
        .iter()
        .map(|&n| (n, System::Tickd))
        .chain(args.ws_subscribers.iter().map(|&n| (n, System::TickdWs)));
    for (n, system) in own_rows {
        if !runs
            .iter()
            .any(|d| d.system == system && d.subscribers == n)
        {
            continue;
        }
        let own = med(runs, system, n, |d| d.client_cpu_ns_per_delivery);
        let (transport, limit) = if system == System::TickdWs {
            (
                "WebSocket",
                "the kernel's receive: each trade is a ~210-byte JSON message (64 bytes on TCP), \
                 read in one wake-up per 100-trade batch; perf puts about 60% of the receiver \
                 thread in the kernel (epoll, the switch back in after an idle vCPU, a ~21 KB \
                 copy) and about 40 ns per message in frame cutting, the scan and recording \
                 (frames are cut in place, no allocation); with the vCPUs kept busy it falls to \
                 about 120 ns; it stays 10x below the server's CPU per delivery, so it is not \
                 the bottleneck",
            )
        } else {
            (
                "TCP",
                "fixed costs per read (an epoll wake-up, a recv, a task poll, about 3 µs) spread \
                 over the ticks the read carries",
            )
        };
        rows.push(Row {
            path: format!(
                "load generator, tickd {transport}, {n} subscriber{} at {} ticks/s",
                plural(n),
                count(args.rate(n) as f64)
            ),
            figure: "own CPU per received tick".into(),
            target: "<= 100 ns".into(),
            tickd: format!("{own:.0} ns"),
            baseline: String::new(),
            ratio: 0.0,
            met: own <= 100.0,
            limit,
        });
    }
    rows
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A CO-corrected latency chart per subscriber count: the median repetition (by p99) of each
/// system.
pub(crate) fn charts(args: &Args, runs: &[Delivery]) -> Vec<Chart> {
    args.subscribers
        .iter()
        .map(|&n| Chart {
            stem: format!("latency-tcp-{n}"),
            title: format!(
                "TCP, {n} subscriber{} at {} ticks/s (CO-corrected)",
                if n == 1 { "" } else { "s" },
                count(args.rate(n) as f64)
            ),
            series: SYSTEMS
                .iter()
                .chain([System::TickdWs].iter())
                .filter_map(|&system| {
                    let of = runs
                        .iter()
                        .filter(|d| d.system == system && d.subscribers == n);
                    let d = median_item(of, |d| d.latency.p99_ns as f64)?;
                    Some((format!("{system:?}"), d.latency.clone()))
                })
                .collect(),
        })
        .collect()
}
