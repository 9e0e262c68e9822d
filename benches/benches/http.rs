//! `GET /price/latest` through tickd's whole HTTP router (routing, the latency layer, the
//! handler reading the latest table, exact-number JSON), beside a service that answers the same
//! bytes with no work, measured in the same run. No sockets: this is the user-space cost per
//! request that the REST load test adds to the kernel's.
#![allow(missing_docs)]

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use tickd_protocol::{
    Epoch, InstrumentId, Price, Quantity, Side, Symbol, TickRecord, Trade, UnixNanos,
};
use tickd_server::app;
use tickd_server::config::{ServeArgs, ServerConfig};
use tickd_server::http::ws::seed::Seed;
use tickd_server::http::{HttpState, router};
use tickd_server::net::Services;
use tickd_server::net::limits::ConnectionLimits;
use tower::ServiceExt;

// The server's allocator: allocation is part of the cost measured.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PATH: &str = "/price/latest?symbol=AAPL";

/// One `GET` through `service`, body collected.
async fn answer<S>(service: S) -> bytes::Bytes
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    let request = Request::get(PATH)
        .body(Body::empty())
        .expect("a valid request");
    let response = service.oneshot(request).await.expect("infallible");
    response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ServerConfig::load(ServeArgs {
        shm_dir: Some(dir.path().join("shm")),
        data_dir: Some(dir.path().join("data")),
        synthetic: Some("AAPL".parse().unwrap()),
        synthetic_rate: Some(1_000),
        no_journal: true,
        ..ServeArgs::default()
    })
    .expect("config");
    let running = app::start(&config).expect("start");
    tickd_server::metrics::install();
    let services = Services::open(
        running.shared.clone(),
        config.session.clone(),
        ConnectionLimits::new(0, 0, 0),
    )
    .expect("services");
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let app = router(HttpState::new(services, &config, stop_rx));
    // Wait for AAPL's first trade, so the answer carries every field.
    let body = rt.block_on(async {
        for _ in 0..500 {
            let body = answer(app.clone()).await;
            if !body.starts_with(b"{\"symbol\":\"AAPL\",\"price\":null") {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no AAPL trade in 5 s");
    });

    let mut g = c.benchmark_group("price_latest");
    g.bench_function("tickd_router", |b| {
        b.iter(|| rt.block_on(answer(app.clone())));
    });
    let same_bytes = tower::service_fn(move |_req: Request<Body>| {
        let body = body.clone();
        async move {
            Ok::<_, Infallible>(
                Response::builder()
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .expect("a valid response"),
            )
        }
    });
    g.bench_function("same_bytes_baseline", |b| {
        b.iter(|| rt.block_on(answer(same_bytes.clone())));
    });
    g.finish();
    running.shutdown();
}

/// One trade as the seed dialect's WebSocket message (what every subscriber's socket costs per
/// trade), beside copying the same bytes into a new `String` (the least a message can cost).
fn ws_trade(c: &mut Criterion) {
    let trade = Trade {
        price: Price::from_raw(171_230_000_000),
        size: Quantity::from_raw(100_000_000_000),
        trade_id: 7,
        venue: 0,
        conditions: 0,
    };
    let mut tick = TickRecord::new_trade(
        InstrumentId(0),
        UnixNanos(1_795_229_620_561_398_518),
        Side::Buy,
        &trade,
    );
    tick.seq = 9;
    let symbol = tickd_protocol::Instrument {
        id: tickd_protocol::InstrumentId(0),
        symbol: Symbol::new("AAPL").expect("a valid symbol"),
        scales: tickd_protocol::Scales::DEFAULT,
    };
    let epoch = Epoch(1_795_229_000_000_000_000);
    let text = Seed::trade_text(epoch, &symbol, &tick);
    let mut g = c.benchmark_group("ws_trade");
    g.bench_function("seed_render", |b| {
        b.iter(|| Seed::trade_text(epoch, &symbol, std::hint::black_box(&tick)));
    });
    g.bench_function("same_bytes_baseline", |b| {
        b.iter(|| String::from(std::hint::black_box(text.as_str())));
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = bench, ws_trade
}
criterion_main!(benches);
