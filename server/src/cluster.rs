//! Scale-out on NATS JetStream (DESIGN.md §9): one **origin** sequences and publishes, **edges**
//! write its records verbatim and serve them, so `(epoch, seq)` means the same on every node.
//!
//! The stream of an epoch is `TICKD_<epoch>`, subject `tickd.<epoch>.records`. A message holds
//! consecutive records, 64 bytes each, exactly as in the ring and the journal: symbol
//! definitions first (the journal's encoding, kind [`SYMBOL_KIND`]) for the instruments its
//! records use that earlier messages may not have defined, then ticks and control records
//! (candle closes, venue gaps) in seq order, with no hole. Headers:
//!
//! | header | value |
//! |---|---|
//! | `Nats-Msg-Id` | `<epoch>:<first seq>`: a retried publish inside the duplicate window is stored once |
//! | `Tickd-First-Seq`, `Tickd-Last-Seq` | the seqs of its first and last record |
//! | `Tickd-Origin` | the publishing process's id |
//!
//! Each publish also carries `Nats-Expected-Last-Sequence` (the stream sequence of the previous
//! message this origin published): a second writer is refused by the stream rather than
//! interleaved. A lease in the stream [`LEASE_STREAM`] (subject per epoch; messages expire after
//! [`LEASE_TTL`] unless renewed) keeps a second origin from starting to publish at all.
//!
//! Every definition is also kept, one message per instrument id, in the stream
//! [`symbols_stream_name`] (no retention limit), published before the first records message
//! that uses it: an edge that joins after retention dropped an instrument's first message
//! still learns its name.
//!
//! [`origin`] publishes, [`edge`] follows.

pub mod edge;
pub mod origin;
pub mod status;

use std::time::Duration;

use anyhow::Context;
use tickd_protocol::TickRecord;

use crate::storage::journal::{Definition, SYMBOL_KIND, symbol_of, symbol_record};

/// The stream of origin leases: one subject per epoch, `tickd.origins.<epoch>`, holding the
/// holder's id, one message per subject, each expiring after [`LEASE_TTL`] (a KV bucket's
/// layout, made directly: nats-server 2.9 and async-nats's KV API disagree).
pub const LEASE_STREAM: &str = "TICKD_ORIGINS";
/// The subject prefix of leases.
pub const LEASE_SUBJECT: &str = "tickd.origins";
/// How long an origin's lease lasts unless renewed (it renews every third of it).
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// Header: the seq of a message's first record.
pub const FIRST_SEQ: &str = "Tickd-First-Seq";
/// Header: the seq of a message's last record.
pub const LAST_SEQ: &str = "Tickd-Last-Seq";
/// Header: the id of the origin process that published a message.
pub const ORIGIN: &str = "Tickd-Origin";
/// Records per message at most (256 KiB of records: under NATS's 1 MiB default payload limit
/// with every definition a message may carry).
pub const MESSAGE_RECORDS: usize = 4_096;

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sequences its feeds and publishes (`--publish-to`).
    Origin,
    /// Follows an origin (`--follow`).
    Edge,
}

/// Where and how a node takes part in a JetStream cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Origin or edge.
    pub role: Role,
    /// NATS server URLs (`nats://host:port`), comma-separated.
    pub servers: String,
    /// Replicas of the stream an origin creates.
    pub replicas: usize,
    /// How long the stream keeps records.
    pub max_age: Duration,
    /// The most messages the stream keeps (none: no limit).
    pub max_messages: Option<usize>,
}

impl ClusterConfig {
    /// The role `--publish-to` or `--follow` gives (none: standalone).
    ///
    /// # Errors
    ///
    /// Both given, or a server list with something other than `nats://` or `tls://` URLs.
    pub fn of(
        publish_to: Option<&str>,
        follow: Option<&str>,
        replicas: usize,
        max_age: Duration,
        max_messages: Option<usize>,
    ) -> anyhow::Result<Option<Self>> {
        let (role, servers) = match (publish_to, follow) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => anyhow::bail!("--publish-to and --follow exclude each other"),
            (Some(s), None) => (Role::Origin, s),
            (None, Some(s)) => (Role::Edge, s),
        };
        let flag = match role {
            Role::Origin => "--publish-to",
            Role::Edge => "--follow",
        };
        for url in servers.split(',') {
            let url = url.trim();
            if !(url.starts_with("nats://") || url.starts_with("tls://")) {
                anyhow::bail!("{flag} {url:?}: expected nats://host:port (comma-separated)");
            }
        }
        Ok(Some(Self {
            role,
            servers: servers.to_owned(),
            replicas,
            max_age,
            max_messages,
        }))
    }

    /// Connects to the NATS servers, retrying until one answers.
    ///
    /// # Errors
    ///
    /// If the URLs do not parse.
    pub async fn connect(&self, name: &str) -> anyhow::Result<async_nats::Client> {
        let urls: Vec<async_nats::ServerAddr> = self
            .servers
            .split(',')
            .map(|u| u.trim().parse())
            .collect::<Result<_, _>>()
            .with_context(|| format!("NATS servers {:?}", self.servers))?;
        async_nats::ConnectOptions::new()
            .name(name)
            .retry_on_initial_connect()
            .connect(urls)
            .await
            .with_context(|| format!("connect to NATS at {}", self.servers))
    }
}

/// Runs `task` on a thread named `name` with a single-threaded tokio runtime of its own (the
/// publisher and the follower: one connection each, off the listeners' runtime).
///
/// # Errors
///
/// If the thread cannot be spawned.
pub(crate) fn spawn_on_own_runtime<F>(
    name: &str,
    task: impl FnOnce() -> F + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>>
where
    F: std::future::Future<Output = ()>,
{
    let label = name.to_owned();
    std::thread::Builder::new()
        .name(label.clone())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(task()),
                Err(e) => tracing::error!("the {label} thread's runtime: {e}"),
            }
        })
}

/// Runs `task` to its end on a new thread's runtime and returns what it returns: questions an
/// edge asks the servers at start, before anything else runs.
///
/// # Errors
///
/// What `task` returns, or a failure to make the runtime or the thread.
pub(crate) fn block_on_own_runtime<T, F>(
    task: impl FnOnce() -> F + Send + 'static,
) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(task())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("a start-up thread panicked"))?
}

/// The stream of `epoch`.
pub fn stream_name(epoch: u64) -> String {
    format!("TICKD_{epoch}")
}

/// The subject of `epoch`'s records.
pub fn subject(epoch: u64) -> String {
    format!("tickd.{epoch}.records")
}

/// The stream of `epoch`'s symbol definitions: message `n` defines instrument `n - 1`, kept
/// without limit (an edge that starts after the records stream dropped the message that first
/// defined an instrument reads it here).
pub fn symbols_stream_name(epoch: u64) -> String {
    format!("TICKD_{epoch}_SYMBOLS")
}

/// The subject of `epoch`'s symbol definitions.
pub fn symbols_subject(epoch: u64) -> String {
    format!("tickd.{epoch}.symbols")
}

/// Whether a record names an instrument (its id must be defined before it is applied).
pub fn names_instrument(r: &TickRecord) -> bool {
    r.kind().is_some() || r.kind == TickRecord::KIND_VENUE_GAP
}

/// A message's payload: `definitions` (as journal symbol records), then `records`.
pub fn encode(definitions: &[Definition], records: &[TickRecord], out: &mut Vec<u8>) {
    out.clear();
    out.reserve((definitions.len() + records.len()) * 64);
    for &(id, symbol, scales) in definitions {
        push_words(out, &symbol_record(id, &symbol, scales));
    }
    for r in records {
        push_words(out, r);
    }
}

fn push_words(out: &mut Vec<u8>, r: &TickRecord) {
    for w in r.to_words() {
        out.extend_from_slice(&w.to_le_bytes());
    }
}

/// A message's definitions and records.
///
/// # Errors
///
/// A payload that is not whole records, or a definition that does not decode.
pub fn decode(payload: &[u8]) -> anyhow::Result<(Vec<Definition>, Vec<TickRecord>)> {
    if !payload.len().is_multiple_of(64) {
        anyhow::bail!(
            "a payload of {} bytes is not whole 64-byte records",
            payload.len()
        );
    }
    let mut definitions = Vec::new();
    let mut records = Vec::with_capacity(payload.len() / 64);
    for chunk in payload.chunks_exact(64) {
        let mut words = [0u64; 8];
        for (w, b) in words.iter_mut().zip(chunk.chunks_exact(8)) {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            *w = u64::from_le_bytes(a);
        }
        let r = TickRecord::from_words(&words);
        if r.kind == SYMBOL_KIND {
            let (symbol, scales) = symbol_of(&r).with_context(|| {
                format!("a symbol definition of instrument {}", r.instrument_id)
            })?;
            definitions.push((
                tickd_protocol::InstrumentId(r.instrument_id),
                symbol,
                scales,
            ));
        } else {
            records.push(r);
        }
    }
    Ok((definitions, records))
}

#[cfg(test)]
mod tests {
    use tickd_protocol::{InstrumentId, Scales, Symbol};

    use super::*;

    #[test]
    fn a_message_decodes_to_its_definitions_and_records() {
        let defs = vec![(
            InstrumentId(3),
            Symbol::new("BINANCE:BTCUSDT").unwrap(),
            Scales::new(2, 8).unwrap(),
        )];
        let records: Vec<TickRecord> = (1..=3)
            .map(|i| TickRecord {
                seq: 10 + i,
                ts_recv: 7 * i,
                instrument_id: 3,
                kind: 1,
                ..TickRecord::default()
            })
            .collect();
        let mut out = Vec::new();
        encode(&defs, &records, &mut out);
        assert_eq!(out.len(), 4 * 64);
        let (d, r) = decode(&out).unwrap();
        assert_eq!(d, defs);
        assert_eq!(r, records);
        assert!(
            decode(&out[..100])
                .unwrap_err()
                .to_string()
                .contains("100 bytes")
        );
    }
}
