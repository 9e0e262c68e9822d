//! `tickctl`: tickd from a terminal. Commands arrive with the main-job issue.
#![forbid(unsafe_code)]

fn main() -> anyhow::Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let protocol = tickd_client::protocol::PROTOCOL_VERSION;
    println!("tickctl {version} (protocol {protocol})");
    anyhow::bail!("no commands yet: see the open issues")
}
