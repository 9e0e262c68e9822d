//! `tickd`: the market data server binary.
//!
//! The foundation issue provides the crates it stands on; `tickd serve` arrives with the
//! main-job issue.
#![forbid(unsafe_code)]

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() -> anyhow::Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let protocol = tickd_protocol::PROTOCOL_VERSION;
    let layout = tickd_shm::LAYOUT_VERSION;
    println!("tickd {version} (protocol {protocol}, shm layout {layout})");
    anyhow::bail!("`tickd serve` is not built yet: see the open issues")
}
