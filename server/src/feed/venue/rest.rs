//! A venue's REST API (HTTPS, webpki roots; plain HTTP for a local endpoint), for what the
//! WebSocket does not give: the instrument definitions (`tickd_formats::venue::instruments`) and
//! the trades of a hole (`tickd_formats::venue::refill`, paged). Requests are paced by a strict
//! limiter and each has a timeout. A refill's trade objects are kept as they came, for the
//! refill line the stream reads and the capture keeps.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::value::RawValue;
use tickd_formats::venue::Venue;
use tickd_formats::venue::instruments::Definition;
use tickd_formats::venue::stream::Hole;
use tickd_protocol::UnixNanos;

use super::connection::{Limiter, strict};

/// Pages one refill may fetch (of up to 1,000 trades each); what is left is declared missing.
pub(super) const MAX_PAGES: usize = 5;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer read (a venue's whole instrument list is a few MB).
const MAX_BODY: usize = 32 << 20;

/// A venue's REST endpoint and the client that asks it.
pub(super) struct Rest {
    venue: Venue,
    base: String,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
    requests: Arc<Limiter>,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest")
            .field("venue", &self.venue)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// What one refill got: the trade objects (any order), when the last answer came, and why it
/// stopped short, if it did.
#[derive(Debug, Default)]
pub(super) struct Fetched {
    pub(super) trades: Vec<Box<RawValue>>,
    pub(super) ts_recv: UnixNanos,
    pub(super) failure: Option<Failure>,
}

/// Why a refill stopped short.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) reason: String,
    pub(super) rate_limited: bool,
}

impl Rest {
    /// The REST API of `venue` at `base` (`None`: the venue's endpoint).
    pub(super) fn new(venue: Venue, base: Option<&str>) -> Self {
        let base = base
            .unwrap_or(venue.default_rest_url())
            .trim_end_matches('/')
            .to_owned();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        Self {
            venue,
            base,
            client,
            // Binance weighs `historicalTrades` at 25 of 6,000 a minute: four a second is far
            // inside it; Coinbase allows 10 public requests a second.
            requests: strict(Duration::from_millis(250)),
        }
    }

    /// The definitions of `symbols` (the venue's spelling).
    pub(super) async fn instruments(&self, symbols: &[String]) -> Result<Vec<Definition>, Failure> {
        let path = self.venue.instruments_request(symbols);
        self.requests.until_ready().await;
        let body = self.get(&path).await?;
        self.venue
            .parse_instruments(&String::from_utf8_lossy(&body), symbols)
            .map_err(|e| Failure {
                reason: format!("{}{path}: {e}", self.base),
                rate_limited: false,
            })
    }

    /// The trades of `hole`, `venue_symbol` being the symbol as the venue spells it: pages
    /// until the range is covered, an answer is empty, or [`MAX_PAGES`].
    pub(super) async fn fetch(&self, hole: &Hole, venue_symbol: &str) -> Fetched {
        let mut got = Fetched::default();
        let (mut from, mut to) = (hole.from, hole.to);
        for _ in 0..MAX_PAGES {
            let Some(path) = self.venue.refill_request(venue_symbol, from, to) else {
                break;
            };
            self.requests.until_ready().await;
            let body = match self.get(&path).await {
                Ok(body) => body,
                Err(failure) => {
                    got.failure = Some(failure);
                    break;
                }
            };
            got.ts_recv = crate::clock::now();
            let text = String::from_utf8_lossy(&body);
            // The page's trades as the stream will read them (for their ids), and as they came
            // (for the refill line).
            let mut ticks = Vec::new();
            let read = self
                .venue
                .parse_refill(hole.symbol, &text, got.ts_recv, (0, u64::MAX), &mut ticks)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    serde_json::from_str::<Vec<Box<RawValue>>>(&text).map_err(|e| e.to_string())
                });
            let rows = match read {
                Ok(rows) => rows,
                Err(e) => {
                    got.failure = Some(Failure {
                        reason: format!("{}{path}: {e}", self.base),
                        rate_limited: false,
                    });
                    break;
                }
            };
            let ids: Vec<u64> = ticks.iter().map(|t| t.tick.body[2]).collect();
            got.trades.extend(rows);
            let (Some(&lo), Some(&hi)) = (ids.iter().min(), ids.iter().max()) else {
                break;
            };
            // Binance pages forward from `fromId`, Coinbase backward from `after`.
            if self.venue == Venue::Coinbase {
                if lo <= from {
                    break;
                }
                to = lo - 1;
            } else {
                if hi >= to {
                    break;
                }
                from = hi + 1;
            }
        }
        got
    }

    async fn get(&self, path: &str) -> Result<Bytes, Failure> {
        let url = format!("{}{path}", self.base);
        let fail = |reason: String, rate_limited: bool| Failure {
            reason: format!("GET {url}: {reason}"),
            rate_limited,
        };
        let uri: hyper::Uri = url.parse().map_err(|e| fail(format!("{e}"), false))?;
        let request = async {
            let response = self
                .client
                .get(uri)
                .await
                .map_err(|e| fail(e.to_string(), false))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| fail(e.to_string(), false))?
                .to_bytes();
            if !status.is_success() {
                let limited = status.as_u16() == 418 || status.as_u16() == 429;
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                return Err(fail(format!("HTTP {status}: {text}"), limited));
            }
            Ok(body)
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
            Ok(result) => result,
            Err(_) => Err(fail(format!("no answer within {REQUEST_TIMEOUT:?}"), false)),
        }
    }
}
