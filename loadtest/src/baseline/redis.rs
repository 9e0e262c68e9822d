//! Redis pub/sub (redis-server from apt, persistence off): a channel per symbol and kind
//! (`ticks.AAPL.trade`), one 64-byte tick per `PUBLISH`, a pipeline per batch; subscribers
//! `SUBSCRIBE` to the channels they take.

use std::net::SocketAddr;

use anyhow::Context;

use crate::pace::{Recorder, Schedule};
use crate::process::{ServerProcess, free_port, installed};
use crate::record::{Interest, Mix, now_ns};

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

fn client(addr: SocketAddr) -> anyhow::Result<redis::Client> {
    redis::Client::open(format!("redis://{addr}/")).context("Redis client")
}

/// A subscriber to the channels of an [`Interest`].
pub(crate) struct Subscriber {
    stream: redis::aio::PubSubStream,
}

impl Subscriber {
    pub(crate) async fn connect(
        addr: SocketAddr,
        mix: &Mix,
        interest: &Interest,
    ) -> anyhow::Result<Self> {
        let mut pubsub = client(addr)?.get_async_pubsub().await?;
        pubsub
            .subscribe(interest.channels(mix))
            .await
            .context("SUBSCRIBE")?;
        Ok(Self {
            stream: pubsub.into_on_message(),
        })
    }

    /// Receives until `expected` ticks or the schedule's deadline.
    pub(crate) async fn receive(self, schedule: Schedule, expected: u64) -> Recorder {
        Recorder::new(schedule, expected)
            .receive(self.stream, redis::Msg::get_payload_bytes)
            .await
    }
}

/// Publishes the schedule: each tick a `PUBLISH` on its symbol's channel, a pipeline per batch.
pub(crate) async fn publish(addr: SocketAddr, schedule: Schedule, mix: Mix) -> anyhow::Result<()> {
    let mut con = client(addr)?.get_multiplexed_async_connection().await?;
    let channels = mix.channels();
    for b in 0..schedule.batches() {
        schedule.wait_for(b);
        let ts = now_ns();
        let mut pipe = redis::pipe();
        for i in schedule.batch(b) {
            pipe.cmd("PUBLISH")
                .arg(&channels[mix.channel_of(i)])
                .arg(&mix.tick(i, ts).to_le_bytes()[..])
                .ignore();
        }
        pipe.query_async::<()>(&mut con).await?;
    }
    Ok(())
}
