//! The origin's publisher (`--publish-to`): reads the journal from the record after the last
//! one the stream holds and publishes it, batched and pipelined, in seq order.
//!
//! The journal, not the ring, is the source: what is published was journaled first, and a
//! stream that was unreachable for longer than the ring holds is caught up from disk. Whatever
//! goes wrong with a publish (a timeout while the stream leader is re-elected, a broken
//! connection, a refused expectation), every publish in flight is dropped and the publisher
//! asks the stream where it ends, then continues from there: the stream gets every record
//! once, in order (retries within the duplicate window carry the same `Nats-Msg-Id`; after it,
//! the expected-last-sequence check refuses a second copy).
//!
//! Fencing: a lease in [`super::LEASE_STREAM`] is taken before the first publish and renewed
//! every third of [`super::LEASE_TTL`]; a node that finds another origin's lease waits for it
//! to expire and publishes nothing meanwhile. A node refuses to publish for good (it keeps
//! serving locally) when the stream holds records past its own head or another origin's
//! message appears where its own should be.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, context::PublishErrorKind, stream};
use bytes::Bytes;
use tickd_protocol::InstrumentId;

use super::status::ClusterStatus;
use super::{
    ClusterConfig, FIRST_SEQ, LAST_SEQ, LEASE_STREAM, LEASE_SUBJECT, LEASE_TTL, MESSAGE_RECORDS,
    ORIGIN,
};
use crate::ingest::instruments::Instruments;
use crate::ingest::sequencer::Published;
use crate::storage::journal::{Definition, JournalCursor};

/// Publishes in flight at most (each up to [`MESSAGE_RECORDS`] records).
const WINDOW: usize = 16;
/// First and longest wait between attempts after a failure.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// What the origin's publisher reads and reports.
#[derive(Debug)]
pub struct Origin {
    /// Servers, replicas, retention.
    pub config: ClusterConfig,
    /// The epoch published.
    pub epoch: u64,
    /// The journal read.
    pub journal_dir: PathBuf,
    /// Symbols, for the definitions messages carry.
    pub instruments: Instruments,
    /// The sequencer's head, to wake on.
    pub published: tokio::sync::watch::Receiver<Published>,
    /// Set at shutdown.
    pub stop: Arc<AtomicBool>,
    /// What `/health` and `/metrics` show.
    pub status: Arc<ClusterStatus>,
}

/// Why publishing stopped for good.
#[derive(Debug, thiserror::Error)]
enum Stop {
    #[error("stopped")]
    Shutdown,
    #[error("refused: {0}")]
    Fenced(String),
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Stop {
    fn from(e: anyhow::Error) -> Self {
        Self::Failed(e)
    }
}

/// Runs the publisher on a thread of its own until `stop` is set.
///
/// # Errors
///
/// If the thread cannot be spawned.
pub fn spawn(origin: Origin) -> std::io::Result<std::thread::JoinHandle<()>> {
    super::spawn_on_own_runtime("cluster-origin", move || async move { run(&origin).await })
}

async fn run(o: &Origin) {
    let id = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
    o.status.set_state("connecting");
    let mut retry = RETRY_MIN;
    loop {
        match session(o, &id).await {
            Err(Stop::Shutdown) => return,
            Err(Stop::Fenced(why)) => {
                tracing::error!(epoch = o.epoch, "this origin will not publish: {why}");
                o.status.set_state("refused");
                o.status.set_error(why);
                return;
            }
            Err(Stop::Failed(e)) => {
                let text = format!("{e:#}");
                tracing::warn!(epoch = o.epoch, "publishing to JetStream: {text}; retrying");
                o.status.set_error(text);
                o.status.reconnects.fetch_add(1, Ordering::Relaxed);
                o.status.set_state("reconnecting");
                if sleep_or_stop(o, retry).await {
                    return;
                }
                retry = (retry * 2).min(RETRY_MAX);
            }
            Ok(()) => retry = RETRY_MIN,
        }
    }
}

/// Sleeps `d`, or less when shutting down; returns whether it is.
async fn sleep_or_stop(o: &Origin, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if o.stop.load(Ordering::Relaxed) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50).min(until - Instant::now())).await;
    }
    o.stop.load(Ordering::Relaxed)
}

/// The stream's tail: its last message's stream sequence and last record seq (0, 0 when
/// empty), and who published it.
async fn tail(stream: &mut stream::Stream) -> anyhow::Result<(u64, u64, String)> {
    let last = stream
        .info()
        .await
        .context("stream info")?
        .state
        .last_sequence;
    if last == 0 {
        return Ok((0, 0, String::new()));
    }
    let msg = stream
        .get_raw_message(last)
        .await
        .with_context(|| format!("read stream message {last}"))?;
    let header = |name: &str| msg.headers.get(name).map(|v| v.as_str().to_owned());
    let seq = header(LAST_SEQ)
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("stream message {last} has no {LAST_SEQ} header"))?;
    Ok((last, seq, header(ORIGIN).unwrap_or_default()))
}

/// One connection's worth of publishing: returns `Ok` only to reconnect at once.
async fn session(o: &Origin, id: &str) -> Result<(), Stop> {
    let client = tokio::select! {
        c = o.config.connect("tickd-origin") => c?,
        () = stopped(o) => return Err(Stop::Shutdown),
    };
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(5))
        .build(client);
    let epoch = o.epoch;
    // The lease: one origin per epoch publishes.
    let leases = js
        .get_or_create_stream(stream::Config {
            name: LEASE_STREAM.to_owned(),
            subjects: vec![format!("{LEASE_SUBJECT}.>")],
            num_replicas: o.config.replicas,
            storage: stream::StorageType::File,
            max_messages_per_subject: 1,
            max_age: LEASE_TTL,
            duplicate_window: LEASE_TTL,
            ..Default::default()
        })
        .await
        .context("create the lease stream")?;
    let key = format!("{LEASE_SUBJECT}.{epoch}");
    let mut revision = loop {
        match lease(&js, &key, id, 0).await {
            Ok(rev) => break rev,
            Err(e) => {
                let held = leases.get_last_raw_message_by_subject(&key).await.ok();
                let holder = held
                    .as_ref()
                    .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
                    .unwrap_or_default();
                if let Some(m) = held
                    && holder == id
                {
                    // Ours, from before a reconnect.
                    break m.sequence;
                }
                let text = if holder.is_empty() {
                    format!("taking the lease of epoch {epoch}: {e:#}")
                } else {
                    format!(
                        "another origin ({holder}) holds the lease of epoch {epoch}: waiting for it to expire"
                    )
                };
                o.status.set_state("waiting for the lease");
                o.status.set_error(text.clone());
                tracing::warn!("{text}");
                if sleep_or_stop(o, LEASE_TTL / 5).await {
                    return Err(Stop::Shutdown);
                }
            }
        }
    };
    let mut renew_at = Instant::now() + LEASE_TTL / 3;
    let mut stream = js
        .get_or_create_stream(stream::Config {
            name: super::stream_name(epoch),
            subjects: vec![super::subject(epoch)],
            num_replicas: o.config.replicas,
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            max_age: o.config.max_age,
            max_messages: o
                .config
                .max_messages
                .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX)),
            discard: stream::DiscardPolicy::Old,
            ..Default::default()
        })
        .await
        .context("create the stream")?;
    let symbols = js
        .get_or_create_stream(stream::Config {
            name: super::symbols_stream_name(epoch),
            subjects: vec![super::symbols_subject(epoch)],
            num_replicas: o.config.replicas,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .context("create the symbols stream")?;
    let mut symbols_kept = symbols_count(&symbols).await?;
    let head = o.published.borrow().head.0;
    let (mut expected, tail_seq, holder) = tail(&mut stream).await?;
    if tail_seq > head {
        return Err(Stop::Fenced(format!(
            "the stream of epoch {epoch} holds seq {tail_seq} (published by {holder}), past this node's head {head}"
        )));
    }
    let mut cursor = JournalCursor::new(&o.journal_dir, tickd_protocol::Seq(tail_seq + 1));
    o.status.acked.store(tail_seq, Ordering::Relaxed);
    o.status.published.store(tail_seq, Ordering::Relaxed);
    o.status.set_state("publishing");
    tracing::info!(epoch, from = tail_seq + 1, stream = %super::stream_name(epoch), "publishing to JetStream");
    let subject = super::subject(epoch);
    // Definitions the stream has from this session: none (the first message repeats them all).
    let mut defined = 0usize;
    let mut definitions: Vec<Definition> = Vec::new();
    let mut payload = Vec::new();
    let mut inflight: VecDeque<(u64, jetstream::context::PublishAckFuture)> = VecDeque::new();
    let mut published = o.published.clone();
    loop {
        if o.stop.load(Ordering::Relaxed) && inflight.is_empty() {
            // Hand the lease back: a restarted origin need not wait for it to expire. What is
            // not published yet is published by the next start, from the journal.
            if let Err(e) = leases.delete_message(revision).await {
                tracing::warn!("releasing the lease of epoch {epoch}: {e}");
            }
            return Err(Stop::Shutdown);
        }
        if Instant::now() >= renew_at {
            revision = lease(&js, &key, id, revision)
                .await
                .map_err(|e| Stop::Fenced(format!("the lease of epoch {epoch} was lost: {e:#}")))?;
            renew_at = Instant::now() + LEASE_TTL / 3;
        }
        let records = if inflight.len() < WINDOW {
            cursor.read(MESSAGE_RECORDS).context("read the journal")?
        } else {
            Vec::new()
        };
        if let (Some(first), Some(last)) = (records.first(), records.last()) {
            keep_symbols(o, &js, &mut symbols_kept).await?;
            new_definitions(o, &mut defined, &mut definitions);
            super::encode(&definitions, &records, &mut payload);
            definitions.clear();
            let msg = jetstream::message::PublishMessage::build()
                .payload(Bytes::copy_from_slice(&payload))
                .message_id(format!("{epoch}:{}", first.seq))
                .expected_last_sequence(expected + inflight.len() as u64)
                .header(FIRST_SEQ, first.seq.to_string())
                .header(LAST_SEQ, last.seq.to_string())
                .header(ORIGIN, id);
            let ack = js
                .send_publish(subject.clone(), msg)
                .await
                .context("publish")?;
            inflight.push_back((last.seq, ack));
            o.status.published.store(last.seq, Ordering::Relaxed);
            continue;
        }
        if let Some((last, ack)) = inflight.pop_front() {
            match ack.await {
                Ok(ack) => {
                    expected = ack.sequence;
                    o.status.acked.store(last, Ordering::Relaxed);
                    o.status.notify();
                }
                Err(e) => {
                    let refused = e.kind() == PublishErrorKind::WrongLastSequence;
                    drop(inflight);
                    if refused {
                        // Someone else's message where ours should be, or ours already there.
                        let (_, seq, holder) = tail(&mut stream).await?;
                        if holder != id {
                            return Err(Stop::Fenced(format!(
                                "origin {holder} published seq {seq} of epoch {epoch} in this origin's place"
                            )));
                        }
                    }
                    o.status.publish_errors.fetch_add(1, Ordering::Relaxed);
                    return Err(anyhow::Error::new(e)
                        .context("publish acknowledgement")
                        .into());
                }
            }
            continue;
        }
        // Nothing to read and nothing in flight: wait for the sequencer (or the lease timer).
        let renew_in = renew_at.saturating_duration_since(Instant::now());
        tokio::select! {
            changed = published.changed() => if changed.is_err() { return Err(Stop::Shutdown) },
            () = tokio::time::sleep(renew_in.min(Duration::from_millis(100))) => {}
        }
    }
}

/// Takes (`after` 0) or renews (`after`: the stream sequence of this origin's last lease
/// message) the lease at `key`: a publish that the stream stores only if the subject's last
/// message is `after`. Returns the new message's stream sequence.
async fn lease(js: &jetstream::Context, key: &str, id: &str, after: u64) -> anyhow::Result<u64> {
    let msg = jetstream::message::PublishMessage::build()
        .payload(Bytes::from(id.to_owned()))
        .expected_last_subject_sequence(after);
    let ack = js.send_publish(key.to_owned(), msg).await?.await?;
    Ok(ack.sequence)
}

/// Definitions the symbols stream holds (its last sequence: one message per id, dense).
async fn symbols_count(symbols: &stream::Stream) -> anyhow::Result<usize> {
    let mut symbols = symbols.clone();
    let last = symbols
        .info()
        .await
        .context("symbols stream info")?
        .state
        .last_sequence;
    Ok(usize::try_from(last).unwrap_or(usize::MAX))
}

/// Publishes to the symbols stream every instrument defined since `kept`, in id order, each
/// acknowledged before the next (definitions are rare; records that use them follow).
async fn keep_symbols(o: &Origin, js: &jetstream::Context, kept: &mut usize) -> anyhow::Result<()> {
    loop {
        let next = {
            let table = o
                .instruments
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *kept >= table.len() {
                return Ok(());
            }
            let id = InstrumentId(*kept as u32);
            table
                .symbol(id)
                .zip(table.scales(id))
                .map(|(s, sc)| (id, s, sc))
        };
        let Some(def) = next else {
            anyhow::bail!("instrument {kept} has no definition in the table");
        };
        let mut payload = Vec::new();
        super::encode(&[def], &[], &mut payload);
        let msg = jetstream::message::PublishMessage::build()
            .payload(Bytes::from(payload))
            .message_id(format!("{}:symbol:{}", o.epoch, def.0.0))
            .expected_last_sequence(*kept as u64);
        js.send_publish(super::symbols_subject(o.epoch), msg)
            .await
            .context("publish a symbol definition")?
            .await
            .context("a symbol definition's acknowledgement")?;
        *kept += 1;
    }
}

/// Resolves once shutdown is asked for.
async fn stopped(o: &Origin) {
    while !o.stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Appends to `out` the instruments defined since `defined` (every one of them was registered
/// before any record that uses it was journaled), and moves `defined` past them.
fn new_definitions(o: &Origin, defined: &mut usize, out: &mut Vec<Definition>) {
    let table = o
        .instruments
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    while *defined < table.len() {
        let id = InstrumentId(*defined as u32);
        if let (Some(symbol), Some(scales)) = (table.symbol(id), table.scales(id)) {
            out.push((id, symbol, scales));
        }
        *defined += 1;
    }
}
