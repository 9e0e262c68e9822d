//! Rendering records as JSON lines and CSV rows. Decimals are exact text at the instrument's
//! scales; nanosecond times are JSON strings (DESIGN.md §2), `epoch` and `seq` JSON integers.

use serde_json::{Map, Value, json};
use tickd_protocol::{CandleRecord, Price, Quantity, Scales, Side, TickRecord, TickView};

/// What rendering needs of an instrument: its name and scales.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Inst<'a> {
    pub(crate) symbol: &'a str,
    pub(crate) scales: Scales,
}

fn px(p: Price, sc: Scales) -> Value {
    if p.is_undef() {
        Value::Null
    } else {
        Value::String(format!("{:#}", sc.price(p)))
    }
}

fn qty(q: Quantity, sc: Scales) -> Value {
    Value::String(format!("{:#}", sc.size(q)))
}

/// One tick as a JSON object.
pub(crate) fn tick_json(epoch: u64, inst: Inst<'_>, t: &TickRecord) -> Value {
    let (symbol, sc) = (inst.symbol, inst.scales);
    let mut m = Map::new();
    m.insert("epoch".into(), json!(epoch));
    m.insert("seq".into(), json!(t.seq));
    m.insert("symbol".into(), json!(symbol));
    m.insert("ts_event".into(), json!(t.ts_event.to_string()));
    m.insert("ts_recv".into(), json!(t.ts_recv.to_string()));
    match t.view() {
        Ok(TickView::Trade(tr, side)) => {
            m.insert("kind".into(), json!("trade"));
            m.insert("price".into(), px(tr.price, sc));
            m.insert("size".into(), qty(tr.size, sc));
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
            m.insert("bid_px".into(), px(q.bid_px, sc));
            m.insert("bid_sz".into(), qty(q.bid_sz, sc));
            m.insert("ask_px".into(), px(q.ask_px, sc));
            m.insert("ask_sz".into(), qty(q.ask_sz, sc));
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

fn cell_px(p: Price, sc: Scales) -> String {
    if p.is_undef() {
        String::new()
    } else {
        format!("{:#}", sc.price(p))
    }
}

/// One tick as a CSV row matching [`TICK_CSV_HEADER`].
pub(crate) fn tick_csv(epoch: u64, inst: Inst<'_>, t: &TickRecord) -> String {
    let (symbol, sc) = (inst.symbol, inst.scales);
    match t.view() {
        Ok(TickView::Trade(tr, side)) => format!(
            "{epoch},{},{},{symbol},trade,{:#},{:#},{},,,,,{}",
            t.seq,
            t.ts_event,
            sc.price(tr.price),
            sc.size(tr.size),
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
                    format!("{:#}", sc.size(s))
                }
            };
            format!(
                "{epoch},{},{},{symbol},quote,,,,{},{},{},{},{}",
                t.seq,
                t.ts_event,
                cell_px(q.bid_px, sc),
                sz(q.bid_px, q.bid_sz),
                cell_px(q.ask_px, sc),
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

fn vwap(c: &CandleRecord, sc: Scales) -> String {
    let Some(volume) = i128::try_from(c.volume_total()).ok().filter(|v| *v != 0) else {
        return String::new();
    };
    // The notional is at the price + size scale, the volume at the size scale: their quotient
    // is at the price scale. Exact to the price scale, truncated toward zero.
    let raw = c.notional() / volume;
    i64::try_from(raw)
        .map(|r| format!("{:#}", sc.price(Price::from_raw(r))))
        .unwrap_or_default()
}

fn notional(c: &CandleRecord, sc: Scales) -> String {
    format!("{:#}", sc.notional(c.notional()))
}

/// One candle as a CSV row matching [`CANDLE_CSV_HEADER`].
pub(crate) fn candle_csv(inst: Inst<'_>, c: &CandleRecord) -> String {
    let (symbol, sc) = (inst.symbol, inst.scales);
    let [o, h, l, cl] = c.ohlc().map(|p| sc.price(p));
    format!(
        "{},{o:#},{h:#},{l:#},{cl:#},{:#},{},{},{symbol},{},{},{},{},{}",
        c.ts_open,
        sc.volume(c.volume_total()),
        c.trades,
        c.is_closed(),
        c.interval()
            .map_or_else(|| format!("{}s", c.interval_s), |i| i.name().to_owned()),
        vwap(c, sc),
        notional(c, sc),
        c.version,
        c.last_seq
    )
}

/// One candle as a JSON object.
pub(crate) fn candle_json(inst: Inst<'_>, c: &CandleRecord) -> Value {
    let (symbol, sc) = (inst.symbol, inst.scales);
    let [o, h, l, cl] = c.ohlc().map(|p| sc.price(p));
    json!({
        "symbol": symbol,
        "interval": c.interval().map_or_else(|| format!("{}s", c.interval_s), |i| i.name().to_owned()),
        "ts_open": c.ts_open.to_string(),
        "open": format!("{o:#}"),
        "high": format!("{h:#}"),
        "low": format!("{l:#}"),
        "close": format!("{cl:#}"),
        "volume": format!("{:#}", sc.volume(c.volume_total())),
        "trades": c.trades,
        "closed": c.is_closed(),
        "vwap": vwap(c, sc),
        "notional": notional(c, sc),
        "version": c.version,
        "last_seq": c.last_seq,
    })
}
