//! Every venue's instrument list as it really answered (the REST bodies of
//! `../shared/data/venue-captures-cryptofeed/*.0.gz`): tickd's definitions of chosen symbols
//! against the test's own reading of the same body (`serde_json::Value`, its own decimal reader),
//! field by field.

mod reading;

use serde_json::Value;
use tickd_formats::venue::Venue;
use tickd_formats::venue::instruments::Definition;

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// What the test expects: (symbol, base, quote, tick, lot, min size, min notional, trading).
type Expect = (String, String, String, i64, u64, u64, i64, bool);

fn got(d: &Definition) -> Expect {
    (
        d.symbol.as_str().to_owned(),
        d.base.clone(),
        d.quote.clone(),
        d.tick_size.raw(),
        d.lot_size.raw(),
        d.min_size.raw(),
        d.min_notional.raw(),
        d.trading,
    )
}

fn units(text: &str) -> i64 {
    reading::units(text)
}

fn check(venue: Venue, file: &str, symbols: &[&str], expect: impl Fn(&Value, &str) -> Expect) {
    let body = reading::rest_body(file);
    let wanted: Vec<String> = symbols.iter().map(|s| (*s).to_owned()).collect();
    let defs = venue.parse_instruments(&body, &wanted).unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    let want: Vec<Expect> = symbols.iter().map(|sym| expect(&v, sym)).collect();
    let mut got: Vec<Expect> = defs.iter().map(got).collect();
    got.sort();
    let mut want = want;
    want.sort();
    assert_eq!(got, want, "{venue}");
}

fn binance(prefix: &'static str) -> impl Fn(&Value, &str) -> Expect {
    move |v, sym| {
        let i = v["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["symbol"] == sym)
            .unwrap();
        let f = |kind: &str| {
            i["filters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["filterType"] == kind)
                .cloned()
        };
        let lot = f("LOT_SIZE").unwrap();
        let notional = f("MIN_NOTIONAL").map_or(0, |n| {
            units(s(n.get("minNotional").or(n.get("notional")).unwrap()))
        });
        let status = i.get("status").or(i.get("contractStatus")).unwrap();
        (
            format!("{prefix}:{sym}"),
            s(&i["baseAsset"]).into(),
            s(&i["quoteAsset"]).into(),
            units(s(&f("PRICE_FILTER").unwrap()["tickSize"])),
            units(s(&lot["stepSize"])) as u64,
            units(s(&lot["minQty"])) as u64,
            notional,
            status == "TRADING",
        )
    }
}

#[test]
fn binance_spot_usdm_and_coinm_lists_match_an_independent_reading() {
    check(
        Venue::Binance,
        "BINANCE.0.gz",
        &["NKNUSDT", "BLZETH", "LRCBTC"],
        binance("BINANCE"),
    );
    check(
        Venue::BinanceFutures,
        "BINANCE_FUTURES.0.gz",
        &["BTCUSDT", "SUSHIUSDT"],
        binance("BINANCEF"),
    );
    check(
        Venue::BinanceDelivery,
        "BINANCE_DELIVERY.0.gz",
        &["BTCUSD_PERP", "LINKUSD_211231"],
        binance("BINANCED"),
    );
}

#[test]
fn coinbase_okx_and_kraken_lists_match_an_independent_reading() {
    check(
        Venue::Coinbase,
        "COINBASE.0.gz",
        &["SKL-EUR", "BTC-GBP"],
        |v, sym| {
            let p = v
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["id"] == sym)
                .unwrap();
            (
                format!("COINBASE:{sym}"),
                s(&p["base_currency"]).into(),
                s(&p["quote_currency"]).into(),
                units(s(&p["quote_increment"])),
                units(s(&p["base_increment"])) as u64,
                units(s(&p["base_min_size"])) as u64,
                units(s(&p["min_market_funds"])),
                p["status"] == "online" && p["trading_disabled"] == false,
            )
        },
    );
    check(
        Venue::Okx,
        "OKX.0.gz",
        &["BTC-USDT", "ETH-USDT"],
        |v, sym| {
            let i = v["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["instId"] == sym)
                .unwrap();
            (
                format!("OKX:{sym}"),
                s(&i["baseCcy"]).into(),
                s(&i["quoteCcy"]).into(),
                units(s(&i["tickSz"])),
                units(s(&i["lotSz"])) as u64,
                units(s(&i["minSz"])) as u64,
                0,
                i["state"] == "live",
            )
        },
    );
    check(
        Venue::Kraken,
        "KRAKEN.0.gz",
        &["XBT/USD", "ETH/EUR"],
        |v, sym| {
            let p = v["result"]
                .as_object()
                .unwrap()
                .values()
                .find(|p| p["wsname"] == sym)
                .unwrap();
            let (base, quote) = sym.split_once('/').unwrap();
            let step = |places: &Value| 10i64.pow(9 - places.as_u64().unwrap() as u32);
            (
                format!("KRAKEN:{sym}"),
                base.into(),
                quote.into(),
                step(&p["pair_decimals"]),
                step(&p["lot_decimals"]) as u64,
                p.get("ordermin").map_or(0, |m| units(s(m)) as u64),
                p.get("costmin").map_or(0, |m| units(s(m))),
                p.get("status").is_none_or(|st| st == "online"),
            )
        },
    );
}
