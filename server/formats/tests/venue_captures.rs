//! Every venue's parser against the real captured frames in `../shared/data/venue-captures-cryptofeed`
//! (read its README): each received line is parsed by tickd and, independently here, read as a
//! `serde_json::Value` with the venue's documented field meanings and a decimal reader of the
//! test's own; the ticks must match field by field. The captures must be there: a missing file
//! fails the test.

mod reading;

use reading::{Expect, actual, frames};
use serde_json::Value;
use tickd_formats::venue::{Frame, Venue};
use tickd_protocol::{TickKind, UnixNanos};

/// Parses every frame of `file` both ways; returns (ticks, frames that gave none).
fn check(venue: Venue, file: &str, expect: impl Fn(UnixNanos, &Value) -> Vec<Expect>) -> usize {
    let mut ticks = 0;
    let mut out = Vec::new();
    for (ts_recv, text) in frames(file) {
        out.clear();
        let frame = venue
            .parse(&text, ts_recv, &mut out)
            .unwrap_or_else(|e| panic!("{e}: {text}"));
        let v: Value = serde_json::from_str(&text).unwrap();
        let want = expect(ts_recv, &v);
        let got: Vec<Expect> = out
            .iter()
            .map(|t| actual(t.symbol.as_str(), &t.tick))
            .collect();
        assert_eq!(got, want, "{text}");
        for t in &out {
            assert_eq!(t.tick.ts_recv, ts_recv.0);
            assert!(t.tick.kind == TickKind::Trade as u8 || t.tick.kind == TickKind::Quote as u8);
        }
        if want.is_empty() {
            assert!(
                matches!(frame, Frame::Other | Frame::Heartbeat { .. } | Frame::Data),
                "{text}"
            );
        }
        ticks += out.len();
    }
    ticks
}

#[test]
fn binance_spot_usdm_and_coinm_frames_match_an_independent_reading() {
    let spot = check(
        Venue::Binance,
        "BINANCE.ws.1.0.gz",
        reading::binance("BINANCE"),
    );
    let usdm = check(
        Venue::BinanceFutures,
        "BINANCE_FUTURES.ws.1.0.gz",
        reading::binance("BINANCEF"),
    );
    let coinm = check(
        Venue::BinanceDelivery,
        "BINANCE_DELIVERY.ws.1.0.gz",
        reading::binance("BINANCED"),
    );
    assert!(
        spot > 10 && usdm > 100 && coinm > 100,
        "{spot} {usdm} {coinm}"
    );
}

#[test]
fn coinbase_frames_match_an_independent_reading_with_the_taker_side() {
    let n = check(Venue::Coinbase, "COINBASE.ws.28.0.gz", reading::coinbase());
    assert!(n > 200, "{n}");
}

#[test]
fn okx_frames_match_an_independent_reading() {
    let n = check(Venue::Okx, "OKX.ws.1.0.gz", reading::okx());
    assert!(n > 100, "{n}");
}

#[test]
fn kraken_frames_match_an_independent_reading() {
    let expect = reading::kraken();
    let mut n = 0;
    for file in [
        "KRAKEN.ws.48.0.gz",
        "KRAKEN.ws.49.0.gz",
        "KRAKEN.ws.50.0.gz",
    ] {
        n += check(Venue::Kraken, file, &expect);
    }
    assert!(n >= 20, "{n}");
}

#[test]
fn bad_frames_are_errors_that_name_the_field_and_append_nothing() {
    let mut out = Vec::new();
    let t = UnixNanos(1);
    let e = Venue::Binance
        .parse(
            r#"{"e":"trade","s":"BTCUSDT","t":1,"p":"1e5","q":"1","T":1,"m":true}"#,
            t,
            &mut out,
        )
        .unwrap_err();
    assert!(e.to_string().starts_with("binance frame: p \"1e5\""), "{e}");
    let e = Venue::Coinbase
        .parse(r#"{"type":"match","product_id":"BTC-USD","trade_id":1,"side":"up","size":"1","price":"1","time":"2021-04-17T16:43:37.089723Z"}"#, t, &mut out)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "coinbase frame: side \"up\" is not buy or sell"
    );
    let e = Venue::Okx
        .parse(r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1"},{"instId":"BTC-USDT","tradeId":"2","px":"1","side":"buy","ts":"1"}]}"#, t, &mut out)
        .unwrap_err();
    assert_eq!(e.to_string(), "okx frame: sz missing");
    assert!(
        out.is_empty(),
        "a bad frame appends nothing, not even its good ticks"
    );
    assert!(Venue::Kraken.parse("[1,2]", t, &mut out).is_err());
    assert!(Venue::Kraken.parse("not json", t, &mut out).is_err());
    assert_eq!(
        Venue::Kraken.parse(r#"{"event":"subscriptionStatus","status":"error","errorMessage":"Currency pair not supported"}"#, t, &mut out),
        Ok(Frame::Refused("Currency pair not supported".into()))
    );
    assert_eq!(
        Venue::Coinbase.parse(r#"{"type":"heartbeat","last_trade_id":42,"product_id":"BTC-USD","sequence":1,"time":"2021-04-17T16:43:37Z"}"#, t, &mut out),
        Ok(Frame::Heartbeat { symbol: tickd_protocol::Symbol::new("COINBASE:BTC-USD").unwrap(), last_trade_id: 42 })
    );
}
