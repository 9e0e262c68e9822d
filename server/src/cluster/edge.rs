//! The edge's follower (`--follow`): consumes the origin's stream with an ordered consumer
//! from the message holding the record after this node's journal's last one, and hands each
//! message's definitions and records to the sequencer, which writes them verbatim (the
//! origin's seq, `ts_recv` and instrument ids) to the journal, the ring, the latest table and
//! the candles. An edge never re-sequences, never reorders and never invents a record: a
//! record past the next seq stops it with the error, records it already holds are skipped.
//!
//! The edge takes the origin's epoch: kept in its data directory, or, on the first start,
//! the newest `TICKD_<epoch>` stream the servers have.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;

use super::status::ClusterStatus;
use super::{ClusterConfig, FIRST_SEQ, LAST_SEQ};
use crate::ingest::input::{Input, InputTx};
use crate::ingest::sequencer::Published;

const RETRY_MIN: Duration = Duration::from_millis(100);
/// How long a pull request waits at most (the ordered consumer's heartbeats follow from it).
const PULL_EXPIRES: Duration = Duration::from_secs(2);
/// Silence after which a consumer that should have messages is made again.
const STALL: Duration = Duration::from_secs(10);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// What the edge's follower writes through and reports.
#[derive(Debug)]
pub struct Edge {
    /// Servers.
    pub config: ClusterConfig,
    /// The origin's epoch, which this node's ring has.
    pub epoch: u64,
    /// The sequencer's input.
    pub input: InputTx,
    /// The instruments this node has defined.
    pub instruments: crate::ingest::instruments::Instruments,
    /// The head this node holds.
    pub published: tokio::sync::watch::Receiver<Published>,
    /// Set at shutdown.
    pub stop: Arc<AtomicBool>,
    /// What `/health` and `/metrics` show.
    pub status: Arc<ClusterStatus>,
}

/// The epoch an edge with nothing of its own takes: the newest `TICKD_<epoch>` stream at the
/// servers, waiting up to `wait` for an origin to create one.
///
/// # Errors
///
/// No stream within `wait`, or the servers cannot be reached.
pub fn discover_epoch(config: &ClusterConfig, wait: Duration) -> anyhow::Result<u64> {
    let config = config.clone();
    super::block_on_own_runtime(move || async move {
        tokio::time::timeout(wait, async {
            let client = config.connect("tickd-edge").await?;
            let js = jetstream::new(client);
            loop {
                let mut names = js.stream_names();
                let mut newest = None;
                while let Some(name) = names.next().await {
                    match name {
                        Ok(name) => {
                            let epoch = name.strip_prefix("TICKD_").and_then(|e| e.parse().ok());
                            newest = newest.max(epoch);
                        }
                        // A cluster still electing its JetStream leader: ask again.
                        Err(e) => {
                            tracing::info!("listing the origin's streams: {e}; asking again");
                            break;
                        }
                    }
                }
                if let Some(e) = newest {
                    return Ok::<u64, anyhow::Error>(e);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "--follow {}: no origin stream (TICKD_<epoch>) within {} s",
                config.servers,
                wait.as_secs()
            )
        })?
    })
}

/// The seq of the first record the origin's stream of `epoch` still holds (`None`: it has
/// none yet); when everything it had has expired, waits up to `wait` for the next message.
///
/// # Errors
///
/// No stream, or the servers cannot be reached within `wait`.
pub fn stream_first_seq(
    config: &ClusterConfig,
    epoch: u64,
    wait: Duration,
) -> anyhow::Result<Option<u64>> {
    let config = config.clone();
    super::block_on_own_runtime(move || async move {
        tokio::time::timeout(wait, async {
            let client = config.connect("tickd-edge").await?;
            let js = jetstream::new(client);
            let name = super::stream_name(epoch);
            loop {
                // Errors here are a cluster electing a leader or a message expiring between
                // two requests: ask again until `wait` ends.
                let asked: anyhow::Result<Option<Option<u64>>> = async {
                    let mut stream = js
                        .get_stream(&name)
                        .await
                        .with_context(|| format!("the origin's stream {name}"))?;
                    let state = stream.info().await.context("stream info")?.state.clone();
                    if state.last_sequence == 0 {
                        return Ok(Some(None));
                    }
                    if state.messages == 0 {
                        // Everything expired: the next message says where the stream goes on.
                        return Ok(None);
                    }
                    let msg = stream
                        .get_raw_message(state.first_sequence)
                        .await
                        .context("read the stream")?;
                    Ok(Some(Some(
                        seqs(Some(&msg.headers), state.first_sequence)?.0,
                    )))
                }
                .await;
                match asked {
                    Ok(Some(first)) => return Ok::<_, anyhow::Error>(first),
                    Ok(None) => {}
                    Err(e) => tracing::info!("{e:#}; asking again"),
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "the origin's stream of epoch {epoch}: no message within {} s",
                wait.as_secs()
            )
        })?
    })
}

/// Runs the follower on a thread of its own until `stop` is set.
///
/// # Errors
///
/// If the thread cannot be spawned.
pub fn spawn(edge: Edge) -> std::io::Result<std::thread::JoinHandle<()>> {
    super::spawn_on_own_runtime("cluster-edge", move || async move { run(&edge).await })
}

async fn run(e: &Edge) {
    e.status.set_state("connecting");
    let mut retry = RETRY_MIN;
    loop {
        let result = tokio::select! {
            r = follow(e) => r,
            () = stopped(e) => return,
        };
        match result {
            Ok(()) => return,
            Err(err) => {
                let text = format!("{err:#}");
                tracing::warn!(epoch = e.epoch, "following the origin's stream: {text}");
                e.status.set_error(text);
                e.status.reconnects.fetch_add(1, Ordering::Relaxed);
                e.status.set_state("reconnecting");
                let until = Instant::now() + retry;
                while Instant::now() < until {
                    if e.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

async fn stopped(e: &Edge) {
    while !e.stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A message's first and last record seq, from its headers.
fn seqs(headers: Option<&async_nats::HeaderMap>, at: u64) -> anyhow::Result<(u64, u64)> {
    let get = |name: &str| {
        headers
            .and_then(|h| h.get(name))
            .and_then(|v| v.as_str().parse::<u64>().ok())
            .with_context(|| format!("stream message {at} has no {name} header"))
    };
    Ok((get(FIRST_SEQ)?, get(LAST_SEQ)?))
}

/// The stream sequence of the message holding record `next` (past the end: the stream's
/// last sequence + 1), by bisection over the messages' seq headers.
///
/// # Errors
///
/// If the stream no longer holds `next` (retention), or cannot be read.
async fn start_of(stream: &mut stream::Stream, next: u64) -> anyhow::Result<u64> {
    let state = stream.info().await.context("stream info")?.state.clone();
    if state.messages == 0 {
        return Ok(state.last_sequence + 1);
    }
    let (mut lo, mut hi) = (state.first_sequence, state.last_sequence);
    let first = stream
        .get_raw_message(lo)
        .await
        .context("read the stream")?;
    let (first_seq, _) = seqs(Some(&first.headers), lo)?;
    if next < first_seq {
        anyhow::bail!(
            "the stream no longer holds seq {next}..{}: it starts at {first_seq} (retention); \
             restart this edge to go on from there, declaring the lost range a gap",
            first_seq - 1
        );
    }
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        let msg = stream
            .get_raw_message(mid)
            .await
            .context("read the stream")?;
        let (f, l) = seqs(Some(&msg.headers), mid)?;
        if next < f {
            hi = mid - 1;
        } else if next > l {
            lo = mid + 1;
        } else {
            return Ok(mid);
        }
    }
    Ok(lo)
}

/// The definitions to apply before `records`: those the message carries, and any instrument
/// the records use that this node has not defined and the message does not carry (an edge
/// that started after retention dropped its first message), from the symbols stream; in id
/// order from the first this node lacks.
async fn complete(
    e: &Edge,
    js: &jetstream::Context,
    inline: Vec<crate::storage::journal::Definition>,
    records: &[tickd_protocol::TickRecord],
) -> anyhow::Result<Vec<crate::storage::journal::Definition>> {
    let known = e
        .instruments
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .len() as u32;
    let needed = records
        .iter()
        .filter(|r| super::names_instrument(r))
        .map(|r| r.instrument_id + 1)
        .max()
        .unwrap_or(0);
    let end = inline
        .iter()
        .map(|d| d.0.0 + 1)
        .max()
        .unwrap_or(0)
        .max(needed);
    let mut by_id: std::collections::BTreeMap<u32, crate::storage::journal::Definition> =
        inline.into_iter().map(|d| (d.0.0, d)).collect();
    let mut symbols = None;
    for id in known..end {
        if by_id.contains_key(&id) {
            continue;
        }
        if symbols.is_none() {
            let name = super::symbols_stream_name(e.epoch);
            symbols = Some(
                js.get_stream(&name)
                    .await
                    .with_context(|| format!("the origin's symbols stream {name}"))?,
            );
        }
        let Some(stream) = &symbols else { continue };
        let msg = stream
            .get_raw_message(u64::from(id) + 1)
            .await
            .with_context(|| format!("the definition of instrument {id}"))?;
        let (defs, _) = super::decode(&msg.payload)?;
        for d in defs {
            by_id.insert(d.0.0, d);
        }
    }
    Ok(by_id.into_values().filter(|d| d.0.0 >= known).collect())
}

/// Follows the stream from the record after this node's head, until an error.
async fn follow(e: &Edge) -> anyhow::Result<()> {
    let client = e.config.connect("tickd-edge").await?;
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(5))
        .build(client);
    let name = super::stream_name(e.epoch);
    let mut stream = js
        .get_stream(&name)
        .await
        .with_context(|| format!("the origin's stream {name}"))?;
    let next = e.published.borrow().head.0 + 1;
    let start = start_of(&mut stream, next).await?;
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: super::subject(e.epoch),
            deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            // Short pulls: a consumer whose node died is noticed (missed heartbeats) and made
            // again within seconds, not after the 30 s default.
            max_expires: PULL_EXPIRES,
            ..Default::default()
        })
        .await
        .context("create the ordered consumer")?;
    let mut messages = consumer.messages().await.context("consume")?;
    e.status.set_state("following");
    tracing::info!(epoch = e.epoch, from = next, stream = %name, "following the origin");
    let mut consumed = start.saturating_sub(1);
    loop {
        // A watchdog besides the consumer's own: no message for a while although the stream
        // has gone past what was consumed means the consumer is stuck (its node died in a
        // way it did not notice): follow again from this node's head.
        let next = match tokio::time::timeout(STALL, messages.next()).await {
            Ok(next) => next,
            Err(_) => {
                let last = stream
                    .info()
                    .await
                    .context("stream info")?
                    .state
                    .last_sequence;
                if last > consumed {
                    anyhow::bail!(
                        "no message for {} s while the stream holds {} past this edge",
                        STALL.as_secs(),
                        last - consumed
                    );
                }
                continue;
            }
        };
        let Some(msg) = next else { break };
        let msg = msg.context("consume")?;
        if let Ok(info) = msg.info() {
            consumed = info.stream_sequence;
            e.status
                .pending_messages
                .store(info.pending, Ordering::Relaxed);
        }
        let (inline, records) = super::decode(&msg.payload)?;
        let definitions = complete(e, &js, inline, &records).await?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        e.input
            .send(Input::Sequenced {
                definitions,
                records,
                reply,
            })
            .map_err(|_| anyhow::anyhow!("the sequencer stopped"))?;
        match answer.await {
            Ok(Ok(head)) => {
                e.status.applied.store(head.0, Ordering::Relaxed);
                e.status.notify();
            }
            Ok(Err(why)) => {
                e.status.set_state("stopped");
                anyhow::bail!("the origin's records could not be written: {why}");
            }
            Err(_) => anyhow::bail!("the sequencer stopped"),
        }
    }
    anyhow::bail!("the consumer ended")
}
