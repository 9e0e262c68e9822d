//! A venue's instrument definitions (sans-IO: the request to make, and the answer read): tick
//! size, lot size, minimum size and notional, base and quote, for the symbols a feed carries.
//!
//! | venue | request | fields read |
//! |---|---|---|
//! | Binance spot | `GET /api/v3/exchangeInfo?symbols=[…]` | `symbols[]`: `symbol`, `status`, `baseAsset`, `quoteAsset`, `filters`: `PRICE_FILTER.tickSize`, `LOT_SIZE.stepSize`/`minQty`, `MIN_NOTIONAL.minNotional` or `NOTIONAL.minNotional` |
//! | Binance USD-M, COIN-M | `GET /fapi/v1/exchangeInfo`, `/dapi/v1/exchangeInfo` | as spot (`contractStatus` on COIN-M; USD-M's `MIN_NOTIONAL.notional`) |
//! | Coinbase Exchange | `GET /products` | `id`, `base_currency`, `quote_currency`, `quote_increment`, `base_increment`, `base_min_size`, `min_market_funds`, `status`, `trading_disabled` |
//! | OKX v5 | `GET /api/v5/public/instruments?instType=SPOT` | `data[]`: `instId`, `baseCcy`, `quoteCcy`, `tickSz`, `lotSz`, `minSz`, `state` |
//! | Kraken | `GET /0/public/AssetPairs` | `result{}`: `wsname` (the WebSocket v1 symbol; base and quote are its halves), `pair_decimals` (tick 10^-n), `lot_decimals` (lot 10^-n), `ordermin`, `costmin`, `status` |
//!
//! Sizes and prices are read as decimal text into 1e-9 units, like the venues' trades. Source:
//! the venues' public REST documentation; the real answers in
//! `../shared/data/venue-captures-cryptofeed/*.0.gz`.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use tickd_protocol::{Price, Quantity, Symbol};

use super::{Venue, VenueError, price, size};

/// One instrument as its venue defines it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    /// The directory symbol (`BINANCE:BTCUSDT`).
    pub symbol: Symbol,
    /// The base asset (`BTC`).
    pub base: String,
    /// The quote asset (`USDT`).
    pub quote: String,
    /// The price increment, 1e-9 units.
    pub tick_size: Price,
    /// The size increment, 1e-9 units.
    pub lot_size: Quantity,
    /// The least order size, 1e-9 units (0: none given).
    pub min_size: Quantity,
    /// The least order value in the quote asset, 1e-9 units (0: none given).
    pub min_notional: Price,
    /// Whether the venue says it trades now.
    pub trading: bool,
}

impl Venue {
    /// The path and query of the venue's instrument list; `symbols` (the venue's spelling)
    /// narrow it where the venue can (Binance spot).
    pub fn instruments_request(self, symbols: &[String]) -> String {
        match self {
            Self::Binance => {
                let list: Vec<String> = symbols
                    .iter()
                    .map(|s| format!("%22{}%22", s.to_ascii_uppercase()))
                    .collect();
                format!("/api/v3/exchangeInfo?symbols=%5B{}%5D", list.join(","))
            }
            Self::BinanceFutures => "/fapi/v1/exchangeInfo".into(),
            Self::BinanceDelivery => "/dapi/v1/exchangeInfo".into(),
            Self::Coinbase => "/products".into(),
            Self::Okx => "/api/v5/public/instruments?instType=SPOT".into(),
            Self::Kraken => "/0/public/AssetPairs".into(),
        }
    }

    /// The definitions of `symbols` (the venue's spelling) in the venue's instrument list
    /// `body`; symbols the list does not have are left out.
    ///
    /// # Errors
    ///
    /// [`VenueError`] when `body` is not the venue's instrument list, or a wanted instrument's
    /// field is missing or malformed.
    pub fn parse_instruments(
        self,
        body: &str,
        symbols: &[String],
    ) -> Result<Vec<Definition>, VenueError> {
        let bad = |e: String| VenueError::new(self, format!("instrument list: {e}"));
        let wanted: Vec<String> = symbols.iter().map(|s| s.to_ascii_uppercase()).collect();
        let wants = |s: &str| wanted.iter().any(|w| w.eq_ignore_ascii_case(s));
        let mut out = Vec::new();
        match self {
            Self::Binance | Self::BinanceFutures | Self::BinanceDelivery => {
                #[derive(Deserialize)]
                struct List<'a> {
                    #[serde(borrow)]
                    symbols: Vec<&'a RawValue>,
                }
                let list: List<'_> = serde_json::from_str(body).map_err(|e| bad(e.to_string()))?;
                for raw in list.symbols {
                    let s: BinanceSymbol<'_> =
                        serde_json::from_str(raw.get()).map_err(|e| bad(e.to_string()))?;
                    if wants(s.symbol) {
                        out.push(s.definition(self)?);
                    }
                }
            }
            Self::Coinbase => {
                let list: Vec<CoinbaseProduct<'_>> =
                    serde_json::from_str(body).map_err(|e| bad(e.to_string()))?;
                for p in list.into_iter().filter(|p| wants(p.id)) {
                    out.push(p.definition()?);
                }
            }
            Self::Okx => {
                #[derive(Deserialize)]
                struct List<'a> {
                    #[serde(borrow)]
                    data: Vec<OkxInstrument<'a>>,
                }
                let list: List<'_> = serde_json::from_str(body).map_err(|e| bad(e.to_string()))?;
                for i in list.data.into_iter().filter(|i| wants(i.inst_id)) {
                    out.push(i.definition()?);
                }
            }
            Self::Kraken => {
                #[derive(Deserialize)]
                struct List<'a> {
                    #[serde(borrow)]
                    result: HashMap<&'a str, KrakenPair>,
                }
                let list: List<'_> = serde_json::from_str(body).map_err(|e| bad(e.to_string()))?;
                let mut pairs: Vec<KrakenPair> = list
                    .result
                    .into_values()
                    .filter(|p| p.wsname.as_deref().is_some_and(wants))
                    .collect();
                pairs.sort_by(|a, b| a.wsname.cmp(&b.wsname));
                for p in pairs {
                    out.push(p.definition()?);
                }
            }
        }
        Ok(out)
    }
}

#[derive(Deserialize)]
struct BinanceSymbol<'a> {
    symbol: &'a str,
    status: Option<&'a str>,
    #[serde(rename = "contractStatus")]
    contract_status: Option<&'a str>,
    #[serde(rename = "baseAsset")]
    base: &'a str,
    #[serde(rename = "quoteAsset")]
    quote: &'a str,
    #[serde(borrow)]
    filters: Vec<BinanceFilter<'a>>,
}

#[derive(Deserialize)]
struct BinanceFilter<'a> {
    #[serde(rename = "filterType")]
    kind: &'a str,
    #[serde(rename = "tickSize")]
    tick_size: Option<&'a str>,
    #[serde(rename = "stepSize")]
    step_size: Option<&'a str>,
    #[serde(rename = "minQty")]
    min_qty: Option<&'a str>,
    #[serde(rename = "minNotional")]
    min_notional: Option<&'a str>,
    /// USD-M's `MIN_NOTIONAL` calls it `notional`.
    notional: Option<&'a str>,
}

impl BinanceSymbol<'_> {
    fn definition(&self, venue: Venue) -> Result<Definition, VenueError> {
        let filter = |kind: &str| self.filters.iter().find(|f| f.kind == kind);
        let missing = |what: &str| {
            VenueError::new(venue, format!("{}: no {what} in its filters", self.symbol))
        };
        let tick = filter("PRICE_FILTER")
            .and_then(|f| f.tick_size)
            .ok_or_else(|| missing("PRICE_FILTER.tickSize"))?;
        let lot = filter("LOT_SIZE").ok_or_else(|| missing("LOT_SIZE"))?;
        let notional = filter("MIN_NOTIONAL")
            .or_else(|| filter("NOTIONAL"))
            .and_then(|f| f.min_notional.or(f.notional));
        let status = self.status.or(self.contract_status).unwrap_or("TRADING");
        Ok(Definition {
            symbol: venue.symbol(self.symbol)?,
            base: self.base.to_owned(),
            quote: self.quote.to_owned(),
            tick_size: price(venue, "tickSize", tick)?,
            lot_size: size(
                venue,
                "stepSize",
                lot.step_size.ok_or_else(|| missing("LOT_SIZE.stepSize"))?,
            )?,
            min_size: lot
                .min_qty
                .map_or(Ok(Quantity::from_raw(0)), |q| size(venue, "minQty", q))?,
            min_notional: notional
                .map_or(Ok(Price::from_raw(0)), |n| price(venue, "minNotional", n))?,
            trading: status == "TRADING",
        })
    }
}

#[derive(Deserialize)]
struct CoinbaseProduct<'a> {
    id: &'a str,
    base_currency: &'a str,
    quote_currency: &'a str,
    quote_increment: &'a str,
    base_increment: &'a str,
    base_min_size: Option<&'a str>,
    min_market_funds: Option<&'a str>,
    status: Option<&'a str>,
    trading_disabled: Option<bool>,
}

impl CoinbaseProduct<'_> {
    fn definition(&self) -> Result<Definition, VenueError> {
        let v = Venue::Coinbase;
        Ok(Definition {
            symbol: v.symbol(self.id)?,
            base: self.base_currency.to_owned(),
            quote: self.quote_currency.to_owned(),
            tick_size: price(v, "quote_increment", self.quote_increment)?,
            lot_size: size(v, "base_increment", self.base_increment)?,
            min_size: self
                .base_min_size
                .map_or(Ok(Quantity::from_raw(0)), |s| size(v, "base_min_size", s))?,
            min_notional: self
                .min_market_funds
                .map_or(Ok(Price::from_raw(0)), |s| price(v, "min_market_funds", s))?,
            trading: self.status.is_none_or(|s| s == "online")
                && self.trading_disabled != Some(true),
        })
    }
}

#[derive(Deserialize)]
struct OkxInstrument<'a> {
    #[serde(rename = "instId")]
    inst_id: &'a str,
    #[serde(rename = "baseCcy")]
    base: &'a str,
    #[serde(rename = "quoteCcy")]
    quote: &'a str,
    #[serde(rename = "tickSz")]
    tick: &'a str,
    #[serde(rename = "lotSz")]
    lot: &'a str,
    #[serde(rename = "minSz")]
    min: Option<&'a str>,
    state: Option<&'a str>,
}

impl OkxInstrument<'_> {
    fn definition(&self) -> Result<Definition, VenueError> {
        let v = Venue::Okx;
        Ok(Definition {
            symbol: v.symbol(self.inst_id)?,
            base: self.base.to_owned(),
            quote: self.quote.to_owned(),
            tick_size: price(v, "tickSz", self.tick)?,
            lot_size: size(v, "lotSz", self.lot)?,
            min_size: self
                .min
                .map_or(Ok(Quantity::from_raw(0)), |s| size(v, "minSz", s))?,
            min_notional: Price::from_raw(0),
            trading: self.state.is_none_or(|s| s == "live"),
        })
    }
}

#[derive(Deserialize)]
struct KrakenPair {
    wsname: Option<String>,
    pair_decimals: u32,
    lot_decimals: u32,
    ordermin: Option<String>,
    costmin: Option<String>,
    status: Option<String>,
}

impl KrakenPair {
    fn definition(&self) -> Result<Definition, VenueError> {
        let v = Venue::Kraken;
        let name = self.wsname.as_deref().unwrap_or_default();
        let (base, quote) = name
            .split_once('/')
            .ok_or_else(|| VenueError::new(v, format!("wsname {name:?} is not BASE/QUOTE")))?;
        let step = |places: u32, field: &str| {
            if places > 9 {
                return Err(VenueError::new(
                    v,
                    format!("{name}: {field} {places} is finer than 1e-9"),
                ));
            }
            Ok(10i64.pow(9 - places))
        };
        Ok(Definition {
            symbol: v.symbol(name)?,
            base: base.to_owned(),
            quote: quote.to_owned(),
            tick_size: Price::from_raw(step(self.pair_decimals, "pair_decimals")?),
            lot_size: Quantity::from_raw(step(self.lot_decimals, "lot_decimals")? as u64),
            min_size: self
                .ordermin
                .as_deref()
                .map_or(Ok(Quantity::from_raw(0)), |s| size(v, "ordermin", s))?,
            min_notional: self
                .costmin
                .as_deref()
                .map_or(Ok(Price::from_raw(0)), |s| price(v, "costmin", s))?,
            trading: self.status.as_deref().is_none_or(|s| s == "online"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binance_spot_asks_for_its_symbols_only() {
        assert_eq!(
            Venue::Binance.instruments_request(&["btcusdt".into(), "ETHUSDT".into()]),
            "/api/v3/exchangeInfo?symbols=%5B%22BTCUSDT%22,%22ETHUSDT%22%5D"
        );
    }

    #[test]
    fn a_list_that_is_not_the_venues_is_an_error() {
        let e = Venue::Okx
            .parse_instruments(
                r#"{"code":"50011","msg":"Too Many Requests"}"#,
                &["BTC-USDT".into()],
            )
            .unwrap_err();
        assert!(e.to_string().contains("instrument list"), "{e}");
        let kraken = r#"{"error":[],"result":{"X":{"wsname":"XBT/USD","pair_decimals":12,"lot_decimals":8}}}"#;
        let e = Venue::Kraken
            .parse_instruments(kraken, &["XBT/USD".into()])
            .unwrap_err();
        assert!(e.to_string().contains("finer than 1e-9"), "{e}");
    }
}
