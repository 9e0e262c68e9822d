//! NATS (nats-server from apt) as users run it for market data: a subject per symbol
//! (`ticks.AAPL`), one 64-byte tick per message, subscribers on `ticks.>`.

use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;

use crate::pace::{Recorder, Schedule};
use crate::process::{ServerProcess, free_port, installed};
use crate::record::{now_ns, symbols, tick};

/// Starts `nats-server` on a free loopback port, with its defaults otherwise.
pub(crate) async fn start() -> anyhow::Result<(ServerProcess, SocketAddr)> {
    let addr: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
    let args = [
        "-a".to_owned(),
        addr.ip().to_string(),
        "-p".to_owned(),
        addr.port().to_string(),
    ];
    let mut server = ServerProcess::spawn("nats-server", &installed("nats-server")?, &args)?;
    server.wait_tcp(addr).await?;
    Ok((server, addr))
}

/// A subscriber to every symbol's subject.
pub(crate) struct Subscriber {
    _client: async_nats::Client,
    sub: async_nats::Subscriber,
}

impl Subscriber {
    pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let client = async_nats::connect(format!("nats://{addr}"))
            .await
            .context("NATS connect")?;
        let sub = client
            .subscribe("ticks.>")
            .await
            .context("NATS subscribe")?;
        client.flush().await.context("NATS flush")?;
        Ok(Self {
            _client: client,
            sub,
        })
    }

    /// Receives until `schedule.total()` ticks or `idle` without one.
    pub(crate) async fn receive(
        self,
        schedule: Schedule,
        idle: std::time::Duration,
    ) -> anyhow::Result<Recorder> {
        let rec = Recorder::new(schedule);
        Ok(rec.receive(self.sub, idle, |m| &m.payload).await)
    }
}

/// Publishes the schedule: each tick a message on its symbol's subject, a flush per batch.
pub(crate) async fn publish(addr: SocketAddr, schedule: Schedule) -> anyhow::Result<()> {
    let client = async_nats::connect(format!("nats://{addr}"))
        .await
        .context("NATS connect")?;
    let subjects: Vec<async_nats::Subject> = symbols()
        .iter()
        .map(|s| format!("ticks.{s}").into())
        .collect();
    for b in 0..schedule.batches() {
        schedule.wait_for(b);
        let ts = now_ns();
        for i in schedule.batch(b) {
            let payload = Bytes::copy_from_slice(&tick(i, ts).to_le_bytes());
            let subject = subjects[(i % subjects.len() as u64) as usize].clone();
            client.publish(subject, payload).await?;
        }
        client.flush().await?;
    }
    Ok(())
}
