//! Redis pub/sub (redis-server from apt, persistence off): a channel per symbol
//! (`ticks.AAPL`), one 64-byte tick per `PUBLISH`, a pipeline per batch; subscribers
//! `SUBSCRIBE` to every symbol's channel.

use std::net::SocketAddr;

use anyhow::Context;

use crate::pace::{Recorder, Schedule};
use crate::process::{ServerProcess, free_port, installed};
use crate::record::{now_ns, symbols, tick};

/// Starts `redis-server` on a free loopback port with persistence off.
pub(crate) async fn start() -> anyhow::Result<(ServerProcess, SocketAddr)> {
    let addr: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
    let args: Vec<String> = [
        "--port",
        &addr.port().to_string(),
        "--bind",
        &addr.ip().to_string(),
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let mut server = ServerProcess::spawn("redis-server", &installed("redis-server")?, &args)?;
    server.wait_tcp(addr).await?;
    Ok((server, addr))
}

fn channels() -> Vec<String> {
    symbols().iter().map(|s| format!("ticks.{s}")).collect()
}

fn client(addr: SocketAddr) -> anyhow::Result<redis::Client> {
    redis::Client::open(format!("redis://{addr}/")).context("Redis client")
}

/// A subscriber to every symbol's channel.
pub(crate) struct Subscriber {
    stream: redis::aio::PubSubStream,
}

impl Subscriber {
    pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let mut pubsub = client(addr)?.get_async_pubsub().await?;
        pubsub.subscribe(channels()).await.context("SUBSCRIBE")?;
        Ok(Self {
            stream: pubsub.into_on_message(),
        })
    }

    /// Receives until `schedule.total()` ticks or `idle` without one.
    pub(crate) async fn receive(
        self,
        schedule: Schedule,
        idle: std::time::Duration,
    ) -> anyhow::Result<Recorder> {
        let rec = Recorder::new(schedule);
        Ok(rec
            .receive(self.stream, idle, redis::Msg::get_payload_bytes)
            .await)
    }
}

/// Publishes the schedule: each tick a `PUBLISH` on its symbol's channel, a pipeline per batch.
pub(crate) async fn publish(addr: SocketAddr, schedule: Schedule) -> anyhow::Result<()> {
    let mut con = client(addr)?.get_multiplexed_async_connection().await?;
    let channels = channels();
    for b in 0..schedule.batches() {
        schedule.wait_for(b);
        let ts = now_ns();
        let mut pipe = redis::pipe();
        for i in schedule.batch(b) {
            let channel = &channels[(i % channels.len() as u64) as usize];
            pipe.cmd("PUBLISH")
                .arg(channel)
                .arg(&tick(i, ts).to_le_bytes()[..])
                .ignore();
        }
        pipe.query_async::<()>(&mut con).await?;
    }
    Ok(())
}
