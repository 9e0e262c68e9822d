//! The bare quinn baseline: the least a QUIC market data server can do, run as its own process
//! (`tickd-loadtest bare-quinn-server`) with the same TLS suite and transport settings as tickd.
//!
//! Each client opens a bidirectional stream and sends a 17-byte request: a mode byte, then
//! `count` and `rate` (`u64` LE).
//! - `G` (generate): the server opens a unidirectional stream and writes `count` records in
//!   frames of [`BATCH`], as fast as flow control allows (`rate` 0) or a frame per millisecond
//!   at `rate` records/s; each record stamped when its frame is made.
//! - `S` (subscribe): the server opens a unidirectional stream and forwards every frame any
//!   publisher sends, the same `Bytes` to every subscriber (no copy); it answers one byte once
//!   the subscriber is registered.
//! - `P` (publish): the client writes frames on its stream; the server relays each to every
//!   subscriber (waiting for a subscriber whose queue is full: lossless, like tickd from a seq).
//!
//! Frames: `u32` LE payload length, then 64-byte records ([`crate::record::frame`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;

use crate::pace::Schedule;
use crate::record::{RECORD_LEN, frame, now_ns};
use crate::tls::Identity;

/// Records per frame when generating as fast as possible.
pub(crate) const BATCH: usize = 1_024;
const ALPN: &[u8] = b"bare";

/// `tickd-loadtest bare-quinn-server` options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServerArgs {
    /// UDP address to listen on.
    #[arg(long)]
    listen: SocketAddr,
    /// TLS certificate (PEM).
    #[arg(long)]
    cert: PathBuf,
    /// TLS private key (PEM).
    #[arg(long)]
    key: PathBuf,
}

type Subscribers = Arc<Mutex<Vec<tokio::sync::mpsc::Sender<Bytes>>>>;

/// Runs the baseline server until killed.
pub(crate) async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    let identity = Identity::load(&args.cert, &args.key)?;
    let endpoint = quinn::Endpoint::server(identity.quinn_server(ALPN)?, args.listen)?;
    let subscribers: Subscribers = Arc::default();
    while let Some(incoming) = endpoint.accept().await {
        let subscribers = Arc::clone(&subscribers);
        tokio::spawn(async move {
            if let Err(e) = client(incoming, subscribers).await {
                eprintln!("bare quinn client: {e:#}");
            }
        });
    }
    Ok(())
}

async fn client(incoming: quinn::Incoming, subscribers: Subscribers) -> anyhow::Result<()> {
    let conn = incoming.await?;
    let (mut ctl_send, mut ctl_recv) = conn.accept_bi().await?;
    let mut req = [0u8; 17];
    ctl_recv.read_exact(&mut req).await?;
    let count = u64::from_le_bytes(req[1..9].try_into()?);
    let rate = u64::from_le_bytes(req[9..17].try_into()?);
    match req[0] {
        b'G' => {
            let mut send = conn.open_uni().await?;
            let t0 = tokio::time::Instant::now();
            let (mut sent, mut ms) = (0u64, 0u64);
            while sent < count {
                let n = if rate == 0 {
                    BATCH as u64
                } else {
                    ms += 1;
                    tokio::time::sleep_until(t0 + Duration::from_millis(ms)).await;
                    (rate / 1_000).max(1)
                }
                .min(count - sent);
                send.write_chunk(frame(sent, n as usize, now_ns())).await?;
                sent += n;
            }
            send.finish()?;
        }
        b'S' => {
            let mut send = conn.open_uni().await?;
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4_096);
            subscribers.lock().expect("not poisoned").push(tx);
            ctl_send.write_all(b"k").await?;
            while let Some(f) = rx.recv().await {
                send.write_chunk(f).await?;
            }
        }
        b'P' => {
            let mut buf = BytesMut::with_capacity(1 << 20);
            loop {
                while buf.len() >= 4 {
                    let len = u32::from_le_bytes(buf[..4].try_into()?) as usize;
                    if buf.len() < 4 + len {
                        break;
                    }
                    let f = buf.split_to(4 + len).freeze();
                    let subs = subscribers.lock().expect("not poisoned").clone();
                    for s in subs {
                        let _ = s.send(f.clone()).await;
                    }
                }
                if ctl_recv.read_buf(&mut buf).await? == 0 {
                    break;
                }
            }
        }
        other => anyhow::bail!("unknown mode {other}"),
    }
    conn.closed().await;
    Ok(())
}

/// A connection to the baseline server.
pub(crate) struct BareClient {
    _endpoint: quinn::Endpoint,
    conn: quinn::Connection,
    ctl_send: quinn::SendStream,
    _ctl_recv: quinn::RecvStream,
}

impl BareClient {
    /// Connects and sends the request `mode count rate`.
    pub(crate) async fn connect(
        addr: SocketAddr,
        identity: &Identity,
        mode: u8,
        count: u64,
        rate: u64,
    ) -> anyhow::Result<Self> {
        let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
        endpoint.set_default_client_config(identity.quinn_client(ALPN)?);
        let conn = endpoint.connect(addr, "localhost")?.await?;
        let (mut ctl_send, mut ctl_recv) = conn.open_bi().await?;
        let mut req = [0u8; 17];
        req[0] = mode;
        req[1..9].copy_from_slice(&count.to_le_bytes());
        req[9..17].copy_from_slice(&rate.to_le_bytes());
        ctl_send.write_all(&req).await?;
        if mode == b'S' {
            let mut ok = [0u8; 1];
            ctl_recv.read_exact(&mut ok).await?;
        }
        Ok(Self {
            _endpoint: endpoint,
            conn,
            ctl_send,
            _ctl_recv: ctl_recv,
        })
    }

    /// Receives `expect` records on the server's stream, handing each to `on_record` with its
    /// receive time (ns).
    pub(crate) async fn receive(
        self,
        expect: u64,
        mut on_record: impl FnMut(u64, &[u8]),
    ) -> anyhow::Result<()> {
        let mut recv = self.conn.accept_uni().await?;
        let mut buf = BytesMut::with_capacity(1 << 20);
        let mut got = 0u64;
        while got < expect {
            while buf.len() >= 4 {
                let len = u32::from_le_bytes(buf[..4].try_into()?) as usize;
                if buf.len() < 4 + len {
                    break;
                }
                let now = now_ns();
                let body = buf.split_to(4 + len);
                for rec in body[4..].chunks_exact(RECORD_LEN) {
                    on_record(now, rec);
                    got += 1;
                }
            }
            if got >= expect || recv.read_buf(&mut buf).await? == 0 {
                break;
            }
        }
        self.conn.close(0u32.into(), b"done");
        anyhow::ensure!(got >= expect, "bare quinn: {got} of {expect} records");
        Ok(())
    }

    /// Publishes `schedule`: a frame per batch, stamped when made, at the batch's due time.
    /// Returns the connection, to keep it open until subscribers have it all.
    pub(crate) async fn publish(mut self, schedule: Schedule) -> anyhow::Result<Self> {
        for b in 0..schedule.batches() {
            schedule.wait_for(b);
            let batch = schedule.batch(b);
            let n = (batch.end - batch.start) as usize;
            self.ctl_send
                .write_chunk(frame(batch.start, n, now_ns()))
                .await?;
        }
        Ok(self)
    }
}
