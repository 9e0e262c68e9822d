//! `tickd-loadtest`: whole-path load tests against baselines. Arrives with the load-test issue;
//! component speed lives in `benches/`.
#![forbid(unsafe_code)]

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() -> anyhow::Result<()> {
    let _ = hdrhistogram::Histogram::<u64>::new(3)?;
    let protocol = tickd_client::protocol::PROTOCOL_VERSION;
    anyhow::bail!("tickd-loadtest (protocol {protocol}): no scenarios yet, see the open issues")
}
