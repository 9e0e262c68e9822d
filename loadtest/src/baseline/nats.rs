//! NATS (nats-server from apt) as users run it for market data: a subject per symbol and kind
//! (`ticks.AAPL.trade`), one 64-byte tick per message; a subscriber to everything takes
//! `ticks.>`, one to part of it a subject each.

use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;

use crate::pace::{Recorder, Schedule};
use crate::process::{ServerProcess, free_port, installed};
use crate::record::{Interest, Mix, now_ns};

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

/// A subscriber to the subjects of an [`Interest`].
pub(crate) struct Subscriber {
    _client: async_nats::Client,
    subs: futures_util::stream::SelectAll<async_nats::Subscriber>,
}

impl Subscriber {
    pub(crate) async fn connect(
        addr: SocketAddr,
        mix: &Mix,
        interest: &Interest,
    ) -> anyhow::Result<Self> {
        let client = async_nats::connect(format!("nats://{addr}"))
            .await
            .context("NATS connect")?;
        let subjects = if interest.every_symbol(mix) && interest.kinds == mix.kinds {
            vec!["ticks.>".to_owned()]
        } else {
            interest.channels(mix)
        };
        let mut subs = Vec::with_capacity(subjects.len());
        for subject in subjects {
            subs.push(
                client
                    .subscribe(subject.clone())
                    .await
                    .with_context(|| format!("NATS subscribe {subject}"))?,
            );
        }
        client.flush().await.context("NATS flush")?;
        Ok(Self {
            _client: client,
            subs: futures_util::stream::select_all(subs),
        })
    }

    /// Receives until `expected` ticks or the schedule's deadline.
    pub(crate) async fn receive(self, schedule: Schedule, expected: u64) -> Recorder {
        Recorder::new(schedule, expected)
            .receive(self.subs, |m| &m.payload)
            .await
    }
}

/// Publishes the schedule: each tick a message on its subject, a flush per batch.
pub(crate) async fn publish(addr: SocketAddr, schedule: Schedule, mix: Mix) -> anyhow::Result<()> {
    let client = async_nats::connect(format!("nats://{addr}"))
        .await
        .context("NATS connect")?;
    let subjects: Vec<async_nats::Subject> = mix.channels().into_iter().map(Into::into).collect();
    for b in 0..schedule.batches() {
        schedule.wait_for(b);
        let ts = now_ns();
        for i in schedule.batch(b) {
            let payload = Bytes::copy_from_slice(&mix.tick(i, ts).to_le_bytes());
            client
                .publish(subjects[mix.channel_of(i)].clone(), payload)
                .await?;
        }
        client.flush().await?;
    }
    Ok(())
}
