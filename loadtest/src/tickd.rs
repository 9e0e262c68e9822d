//! tickd under test: `tickd serve` as its own process (built beside this binary), no journal,
//! every listener on a free loopback port, TLS from the run's certificate; no synthetic feed
//! unless the scenario's extra arguments start one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tickd_client::quic::Verify;
use tickd_client::{Client, Event};
use tickd_protocol::{Selection, SlowConsumerPolicy, Start, Subscribe};

use crate::pace::{Recorder, Schedule};
use crate::process::{ServerProcess, free_port, sibling};
use crate::record::{Interest, Mix, now_ns};
use crate::tls::Identity;

/// A running tickd.
pub(crate) struct Tickd {
    pub(crate) process: ServerProcess,
    pub(crate) tcp: SocketAddr,
    pub(crate) quic: SocketAddr,
    pub(crate) http: SocketAddr,
    shm_dir: PathBuf,
}

impl Tickd {
    /// Starts tickd with its state under `dir`; `extra` arguments come last (so they win).
    pub(crate) async fn start(
        dir: &Path,
        identity: &Identity,
        extra: &[&str],
    ) -> anyhow::Result<Self> {
        let tcp: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
        let quic: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
        let http: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
        let shm_dir = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm").join(format!("tickd-loadtest-{}", std::process::id()))
        } else {
            dir.join("shm")
        };
        let synthetic: &[&str] = if extra.contains(&"--synthetic") {
            &[]
        } else {
            &["--synthetic", "off"]
        };
        let args: Vec<String> = ["serve"]
            .iter()
            .chain(synthetic)
            .chain(&[
                "--no-journal",
                "--ring-slots",
                "4194304",
                "--log-format",
                "json",
                "--max-connections-per-ip",
                "100000",
            ])
            .map(|s| (*s).to_owned())
            .chain([
                "--tcp".into(),
                tcp.to_string(),
                "--quic".into(),
                quic.to_string(),
                "--http".into(),
                http.to_string(),
                "--shm-dir".into(),
                shm_dir.display().to_string(),
                "--data-dir".into(),
                dir.join("data").display().to_string(),
                "--tls-cert".into(),
                identity.cert_path.display().to_string(),
                "--tls-key".into(),
                identity.key_path.display().to_string(),
            ])
            .chain(extra.iter().map(|s| (*s).to_owned()))
            .collect();
        let mut process = ServerProcess::spawn("tickd", &sibling("tickd")?, &args)?;
        process.wait_tcp(tcp).await?;
        process.wait_tcp(http).await?;
        Ok(Self {
            process,
            tcp,
            quic,
            http,
            shm_dir,
        })
    }

    /// A QUIC client verifying the run's certificate.
    pub(crate) async fn quic_client(&self, identity: &Identity) -> anyhow::Result<Client> {
        let verify = Verify::Ca(vec![identity.cert.clone()]);
        Ok(Client::connect_quic(self.quic, "localhost", verify, None).await?)
    }
}

impl Drop for Tickd {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.shm_dir);
    }
}

/// The subscription of a subscriber taking `interest` of `mix`, from `start`.
pub(crate) fn subscription(mix: &Mix, interest: &Interest, start: Start) -> Subscribe {
    let selection = if interest.every_symbol(mix) {
        Selection::All
    } else {
        Selection::Symbols(mix.symbols()[..interest.symbols as usize].to_vec())
    };
    Subscribe {
        request_id: 0,
        selection,
        trades: interest.kinds.trades(),
        quotes: interest.kinds.quotes(),
        candles: vec![],
        start,
        snapshot: false,
        policy: SlowConsumerPolicy::Drop,
        datagrams: false,
    }
}

/// Makes every symbol of `mix` known to tickd before subscribers name them: a tick each,
/// published on `c` before any subscriber starts (so none receives them), numbered past any
/// schedule.
///
/// # Errors
///
/// If the publish fails.
pub(crate) async fn register(c: &mut Client, mix: &Mix) -> anyhow::Result<()> {
    let n = u64::from(mix.symbols);
    // A multiple of the symbol count: tick `base + k` is for symbol `k`.
    let base = u64::MAX / 2 / n * n;
    let ticks: Vec<_> = (0..n).map(|k| mix.tick(base + k, now_ns())).collect();
    c.publish(mix.symbols(), &ticks).await?;
    Ok(())
}

/// Receives on subscribed client `c` until `expected` ticks, a gap, or the schedule's deadline.
///
/// # Errors
///
/// If the connection fails.
pub(crate) async fn receive(
    mut c: Client,
    schedule: Schedule,
    expected: u64,
) -> anyhow::Result<Recorder> {
    let mut rec = Recorder::new(schedule, expected);
    let received = schedule
        .until_deadline(async {
            while !rec.done() {
                match c.next_event().await? {
                    Some(Event::Ticks { ticks, .. }) => rec.record_frame(now_ns(), &ticks),
                    Some(Event::Gap(_)) | None => break,
                    Some(_) => {}
                }
            }
            anyhow::Ok(())
        })
        .await;
    if let Some(Err(e)) = received {
        return Err(e);
    }
    Ok(rec)
}

/// Publishes `schedule`'s ticks of `mix` on client `c`: one acknowledged `Publish` per batch,
/// stamped when it is made. For the publisher's own thread ([`crate::pace::spawn_publisher`]).
///
/// # Errors
///
/// If a publish fails.
pub(crate) async fn publish(mut c: Client, schedule: Schedule, mix: Mix) -> anyhow::Result<()> {
    let symbols = mix.symbols();
    let mut ticks = Vec::new();
    for b in 0..schedule.batches() {
        schedule.wait_for(b);
        let ts = now_ns();
        ticks.clear();
        ticks.extend(schedule.batch(b).map(|i| mix.tick(i, ts)));
        c.publish(symbols.clone(), &ticks).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Kinds, MixArgs};

    #[test]
    fn a_narrow_interest_subscribes_by_name_and_kind() {
        let args = MixArgs {
            symbols: 10,
            kinds: Kinds::Both,
            subscribe_symbols: Some(2),
            subscribe_kinds: Some(Kinds::Quotes),
        };
        let (mix, interest) = (args.mix(), args.interest());
        let sub = subscription(&mix, &interest, Start::Latest);
        assert_eq!(
            sub.selection,
            Selection::Symbols(mix.symbols()[..2].to_vec())
        );
        assert_eq!((sub.trades, sub.quotes), (false, true));
        // Of ticks 0..100: odd ones are quotes, and 2 of every 10 symbols are taken.
        assert_eq!(interest.expected(&mix, 100), 10);

        let all = MixArgs {
            symbols: 5,
            kinds: Kinds::Trades,
            subscribe_symbols: None,
            subscribe_kinds: None,
        };
        let sub = subscription(&all.mix(), &all.interest(), Start::Latest);
        assert_eq!(sub.selection, Selection::All);
        assert_eq!((sub.trades, sub.quotes), (true, false));
    }
}
