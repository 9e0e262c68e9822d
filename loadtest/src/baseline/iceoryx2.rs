//! iceoryx2 publish-subscribe (zero-copy shared memory, crates.io), the baseline for tickd's shm
//! ring: the same 64-byte records as `[u64; 8]` samples, the publisher in its own process
//! (`tickd-loadtest iceoryx2-publisher`), the subscriber polling in the load generator.
//!
//! The service keeps a subscriber buffer of [`BUFFER`] samples, no history, no safe overflow,
//! and the publisher retries until delivered when the buffer is full: lossless, like a tickd reader within the
//! ring's capacity.

use std::time::Duration;

use anyhow::Context;
use iceoryx2::prelude::*;

use crate::process::{ServerProcess, sibling};
use crate::record::{now_ns, tick};
use crate::scenario::shm::{Mode, Received, StreamArgs, poll};

/// Samples a subscriber buffers.
const BUFFER: usize = 4_096;

/// Sample type: a tick record's 8 words.
type Words = [u64; 8];

fn service(
    node: &Node<ipc::Service>,
    name: &str,
) -> anyhow::Result<
    iceoryx2::service::port_factory::publish_subscribe::PortFactory<ipc::Service, Words, ()>,
> {
    let name: ServiceName = name.try_into().context("iceoryx2 service name")?;
    node.service_builder(&name)
        .publish_subscribe::<Words>()
        .subscriber_max_buffer_size(BUFFER)
        .history_size(0)
        .enable_safe_overflow(false)
        .open_or_create()
        .map_err(|e| anyhow::anyhow!("iceoryx2 service {name}: {e:?}"))
}

/// `tickd-loadtest iceoryx2-publisher`: sends the stream `args` describes, then exits.
pub(crate) fn publish(args: StreamArgs) -> anyhow::Result<()> {
    let node = NodeBuilder::new()
        .create::<ipc::Service>()
        .map_err(|e| anyhow::anyhow!("iceoryx2 node: {e:?}"))?;
    let service = service(&node, &args.name)?;
    let publisher = service
        .publisher_builder()
        .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
        .create()
        .map_err(|e| anyhow::anyhow!("iceoryx2 publisher: {e:?}"))?;
    let send = |i: u64, ts: u64| {
        publisher
            .send_copy(tick(i, ts).to_words())
            .map_err(|e| anyhow::anyhow!("iceoryx2 send: {e:?}"))
    };
    match args.mode {
        Mode::Latency => {
            let schedule = args.schedule();
            for b in 0..schedule.batches() {
                schedule.wait_for(b);
                for i in schedule.batch(b) {
                    send(i, now_ns())?;
                }
            }
        }
        Mode::Throughput => {
            args.schedule().wait_for(0);
            for i in 0..args.count {
                send(i, 0)?;
            }
        }
    }
    // Stay until the subscriber has taken the samples (they live in this process's segment).
    std::thread::sleep(Duration::from_secs(1));
    Ok(())
}

/// Subscribes, starts the publisher process, and polls until the stream is in or `idle` passes
/// without a sample. Runs on the calling thread (it spins).
pub(crate) fn run(args: &StreamArgs, idle: Duration) -> anyhow::Result<Received> {
    let node = NodeBuilder::new()
        .create::<ipc::Service>()
        .map_err(|e| anyhow::anyhow!("iceoryx2 node: {e:?}"))?;
    let service = service(&node, &args.name)?;
    let subscriber = service
        .subscriber_builder()
        .buffer_size(BUFFER)
        .create()
        .map_err(|e| anyhow::anyhow!("iceoryx2 subscriber: {e:?}"))?;
    let _publisher = ServerProcess::spawn(
        "iceoryx2 publisher",
        &sibling("tickd-loadtest")?,
        &args.to_command("iceoryx2-publisher"),
    )?;
    poll(args, idle, |words| match subscriber.receive() {
        Ok(Some(sample)) => {
            *words = *sample;
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(e) => anyhow::bail!("iceoryx2 receive: {e:?}"),
    })
}
