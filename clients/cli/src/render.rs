//! Rendering records as JSON lines and CSV rows. Decimals are exact text; nanosecond times are
//! JSON strings (DESIGN.md §2), `epoch` and `seq` JSON integers.

use serde_json::{Map, Value, json};
use tickd_protocol::{CandleRecord, Price, Quantity, Side, TickRecord, TickView};

fn px(p: Price) -> Value {
    if p.is_undef() {
        Value::Null
    } else {
        Value::String(format!("{p:#}"))
    }
}

fn qty(q: Quantity) -> Value {
    Value::String(format!("{q:#}"))
}

/// One tick as a JSON object.
pub(crate) fn tick_json(epoch: u64, symbol: &str, t: &TickRecord) -> Value {
    let mut m = Map::new();
    m.insert("epoch".into(), json!(epoch));
    m.insert("seq".into(), json!(t.seq));
    m.insert("symbol".into(), json!(symbol));
    m.insert("ts_event".into(), json!(t.ts_event.to_string()));
    m.insert("ts_recv".into(), json!(t.ts_recv.to_string()));
    match t.view() {
        Ok(TickView::Trade(tr, side)) => {
            m.insert("kind".into(), json!("trade"));
            m.insert("price".into(), px(tr.price));
            m.insert("size".into(), qty(tr.size));
            m.insert("side".into(), json!(side.as_str()));
            if tr.venue != 0 {
                let venue = char::from_u32(tr.venue)
                    .filter(char::is_ascii_graphic)
                    .map_or(tr.venue.to_string(), String::from);
                m.insert("venue".into(), json!(venue));
            }
            m.insert("conditions".into(), json!(tr.conditions));
        }
        Ok(TickView::Quote(q)) => {
            m.insert("kind".into(), json!("quote"));
            m.insert("bid_px".into(), px(q.bid_px));
            m.insert("bid_sz".into(), qty(q.bid_sz));
            m.insert("ask_px".into(), px(q.ask_px));
            m.insert("ask_sz".into(), qty(q.ask_sz));
        }
        Err(e) => {
            m.insert("kind".into(), json!("unknown"));
            m.insert("error".into(), json!(e.to_string()));
        }
    }
    Value::Object(m)
}

/// CSV header for ticks (the generic replay format plus epoch and seq).
pub(crate) const TICK_CSV_HEADER: &str =
    "epoch,seq,ts_event,symbol,kind,price,size,side,bid_px,bid_sz,ask_px,ask_sz,ts_recv";

fn cell_px(p: Price) -> String {
    if p.is_undef() {
        String::new()
    } else {
        format!("{p:#}")
    }
}

/// One tick as a CSV row matching [`TICK_CSV_HEADER`].
pub(crate) fn tick_csv(epoch: u64, symbol: &str, t: &TickRecord) -> String {
    match t.view() {
        Ok(TickView::Trade(tr, side)) => format!(
            "{epoch},{},{},{symbol},trade,{:#},{:#},{},,,,,{}",
            t.seq,
            t.ts_event,
            tr.price,
            tr.size,
            if side == Side::None {
                ""
            } else {
                side.as_str()
            },
            t.ts_recv
        ),
        Ok(TickView::Quote(q)) => {
            let sz = |p: Price, s: Quantity| {
                if p.is_undef() {
                    String::new()
                } else {
                    format!("{s:#}")
                }
            };
            format!(
                "{epoch},{},{},{symbol},quote,,,,{},{},{},{},{}",
                t.seq,
                t.ts_event,
                cell_px(q.bid_px),
                sz(q.bid_px, q.bid_sz),
                cell_px(q.ask_px),
                sz(q.ask_px, q.ask_sz),
                t.ts_recv
            )
        }
        Err(_) => format!(
            "{epoch},{},{},{symbol},unknown,,,,,,,,{}",
            t.seq, t.ts_event, t.ts_recv
        ),
    }
}

/// CSV header for candles: the DESIGN.md §10 columns first, then more.
pub(crate) const CANDLE_CSV_HEADER: &str = "ts_open,open,high,low,close,volume,trades,closed,symbol,interval,vwap,notional,version,last_seq";

fn vwap(c: &CandleRecord) -> String {
    if c.volume == 0 {
        return String::new();
    }
    // notional is in 1e-18 units, volume in 1e-9: their quotient is in 1e-9 units. Exact to
    // 1e-9, truncated toward zero.
    let raw = c.notional() / i128::from(c.volume);
    i64::try_from(raw)
        .map(|r| format!("{:#}", Price::from_raw(r)))
        .unwrap_or_default()
}

fn notional(c: &CandleRecord) -> String {
    let n = c.notional();
    let (sign, abs) = if n < 0 {
        ("-", n.unsigned_abs())
    } else {
        ("", n.unsigned_abs())
    };
    let scale = 1_000_000_000_000_000_000u128;
    let frac = format!("{:018}", abs % scale);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{}", abs / scale)
    } else {
        format!("{sign}{}.{frac}", abs / scale)
    }
}

/// One candle as a CSV row matching [`CANDLE_CSV_HEADER`].
pub(crate) fn candle_csv(symbol: &str, c: &CandleRecord) -> String {
    let [o, h, l, cl] = c.ohlc();
    format!(
        "{},{o:#},{h:#},{l:#},{cl:#},{:#},{},{},{symbol},{},{},{},{},{}",
        c.ts_open,
        c.volume(),
        c.trades,
        c.is_closed(),
        c.interval()
            .map_or_else(|| format!("{}s", c.interval_s), |i| i.name().to_owned()),
        vwap(c),
        notional(c),
        c.version,
        c.last_seq
    )
}

/// One candle as a JSON object.
pub(crate) fn candle_json(symbol: &str, c: &CandleRecord) -> Value {
    let [o, h, l, cl] = c.ohlc();
    json!({
        "symbol": symbol,
        "interval": c.interval().map_or_else(|| format!("{}s", c.interval_s), |i| i.name().to_owned()),
        "ts_open": c.ts_open.to_string(),
        "open": format!("{o:#}"),
        "high": format!("{h:#}"),
        "low": format!("{l:#}"),
        "close": format!("{cl:#}"),
        "volume": format!("{:#}", c.volume()),
        "trades": c.trades,
        "closed": c.is_closed(),
        "vwap": vwap(c),
        "notional": notional(c),
        "version": c.version,
        "last_seq": c.last_seq,
    })
}
