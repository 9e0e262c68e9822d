//! One in-process tickd for the targets that need its state: the sequencer with a slow
//! synthetic feed over a few symbols (so answers have instruments, ticks and candles), the
//! shm files in a temporary directory, and the HTTP bridge's state and router. Started once
//! per fuzzing process.

use std::sync::{Arc, OnceLock};

use tickd_server::app::{self, Running};
use tickd_server::config::{ServeArgs, ServerConfig};
use tickd_server::http::HttpState;
use tickd_server::net::Services;
use tickd_server::net::limits::ConnectionLimits;

pub struct Fixture {
    pub runtime: tokio::runtime::Runtime,
    pub state: HttpState,
    pub router: axum::Router,
    _running: Running,
    _shutdown: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let args = ServeArgs {
            synthetic: Some("AAPL,MSFT,BTC-USD".parse().unwrap()),
            synthetic_rate: Some(200),
            shm_dir: Some(dir.path().join("shm")),
            data_dir: Some(dir.path().join("data")),
            tcp: None,
            ..ServeArgs::default()
        };
        let config = ServerConfig::load(args).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let running = app::start(&config).unwrap();
        // Some ticks and candles to answer with.
        let mut published = running.shared.published.clone();
        runtime.block_on(async {
            for _ in 0..20 {
                let _ = published.changed().await;
            }
        });
        let limits = ConnectionLimits::new(u64::MAX, u32::MAX, u32::MAX);
        let services =
            Services::open(running.shared.clone(), config.session.clone(), Arc::clone(&limits))
                .unwrap();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let state = HttpState::new(services, &config, rx);
        let router = runtime.block_on(async { tickd_server::http::router(state.clone()) });
        Fixture {
            runtime,
            state,
            router,
            _running: running,
            _shutdown: tx,
            _dir: dir,
        }
    })
}
