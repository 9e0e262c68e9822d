//! A real venue capture (Coinbase, `../shared/data/venue-captures-cryptofeed`) replayed by
//! `tickd serve --replay`, as named and renamed with the venue given by `--replay-venue`: the
//! ticks the server sequences are exactly those the venue parser reads from the same file, in
//! file order, field by field, under the venue-qualified symbols.

mod common;

use std::path::PathBuf;

use common::TestServer;
use tickd_formats::TickLines;
use tickd_formats::venue::capture::CaptureTicks;
use tickd_protocol::Start;
use tickd_server::config::ServeArgs;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coinbase_capture_replays_to_the_ticks_its_frames_hold() {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/venue-captures-cryptofeed/COINBASE.ws.28.0.gz");
    assert!(file.is_file(), "{} is required", file.display());
    // The independent reading: the parser straight over the file.
    let mut direct = Vec::new();
    let mut reader = CaptureTicks::open(&file, None).unwrap();
    while let Some(t) = reader.next_tick().unwrap() {
        direct.push(t);
    }
    assert!(direct.len() > 200, "{} ticks", direct.len());
    // Named for its venue; and renamed so that only --replay-venue says the venue.
    let unnamed = tempfile::tempdir().unwrap();
    std::fs::copy(&file, unnamed.path().join("recording.ws.1.gz")).unwrap();
    for (path, venue) in [
        (file.clone(), None),
        (unnamed.path().to_owned(), Some("coinbase".to_owned())),
    ] {
        replays_to(path, venue, &direct).await;
    }
}

async fn replays_to(
    path: PathBuf,
    venue: Option<String>,
    direct: &[(tickd_protocol::Symbol, tickd_protocol::TickRecord)],
) {
    let server = TestServer::start(ServeArgs {
        replay: vec![path],
        replay_venue: venue,
        speed: Some("max".parse().unwrap()),
        ..ServeArgs::default()
    })
    .await;
    server.wait_feeds().await;
    let mut client = tickd_client::Client::connect(server.addr).await.unwrap();
    let epoch = client.welcome().epoch;
    let ack = client
        .subscribe(common::subscribe(
            &[],
            Start::Seq {
                epoch,
                seq: tickd_protocol::Seq(1),
            },
        ))
        .await
        .unwrap();
    let names: std::collections::HashMap<u32, String> = ack
        .instruments
        .iter()
        .map(|i| (i.id.0, i.symbol.as_str().to_owned()))
        .collect();
    let got = common::ticks(&mut client, direct.len()).await;
    assert_eq!(got.len(), direct.len());
    for (i, (t, (symbol, want))) in got.iter().zip(direct).enumerate() {
        assert_eq!(names[&t.instrument_id], symbol.as_str(), "tick #{i}");
        assert_eq!(
            (t.kind, t.side, t.ts_event, t.body),
            (want.kind, want.side, want.ts_event, want.body),
            "tick #{i} of {symbol}"
        );
        assert!(symbol.as_str().starts_with("COINBASE:"));
    }
    server.stop().await;
}
