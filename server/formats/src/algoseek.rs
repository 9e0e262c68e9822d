//! AlgoSeek/Lean US equity tick zips (DESIGN.md §11): `<symbol>/<YYYYMMDD>_trade.zip` and
//! `_quote.zip`, each holding one header-less CSV.
//!
//! - Time: integer milliseconds after local midnight, America/New_York, converted to UTC with
//!   the tz database (a constant offset per file unless the day has a DST change, which is then
//!   converted row by row).
//! - Prices: integer 1/10000 USD, converted exactly to [`Price`]. Sizes: whole shares.
//! - Trades: `time,price,size,exchange,condition_hex,suspicious`.
//! - Quotes: `time,bid_px,bid_sz,ask_px,ask_sz,exchange,condition_hex,suspicious`, one side per
//!   row, per venue; consolidated into NBBO ticks by [`Nbbo`].
//! - Rows flagged suspicious (`1` in the last column) are excluded and counted.
//!
//! The parser is hand-written for speed (the format is six or eight ASCII integers per line):
//! the whole sample week (12.3 M rows, 377 MB of CSV) must parse into the ring in seconds.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use tickd_protocol::{InstrumentId, Price, Quantity, Side, Symbol, TickRecord, Trade, UnixNanos};

use crate::LineError;
use crate::nbbo::{BookSide, Nbbo, venue_index};

/// Trade or quote file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    /// `_trade.zip`.
    Trade,
    /// `_quote.zip`.
    Quote,
}

/// One AlgoSeek file found on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// The zip's path.
    pub path: PathBuf,
    /// Upper-cased symbol from the parent directory's name.
    pub symbol: Symbol,
    /// Trading date (New York) from the file name.
    pub date: Date,
    /// Trades or quotes.
    pub kind: FileKind,
}

/// If `path` is named like an AlgoSeek file (`<symbol>/<YYYYMMDD>_trade.zip`), describe it.
pub fn recognise(path: &Path) -> Option<SourceFile> {
    let name = path.file_name()?.to_str()?;
    let (stem, kind) = if let Some(s) = name.strip_suffix("_trade.zip") {
        (s, FileKind::Trade)
    } else if let Some(s) = name.strip_suffix("_quote.zip") {
        (s, FileKind::Quote)
    } else {
        return None;
    };
    if stem.len() != 8 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let date = Date::strptime("%Y%m%d", stem).ok()?;
    let dir = path.parent()?.file_name()?.to_str()?;
    let symbol = Symbol::new(&dir.to_ascii_uppercase()).ok()?;
    Some(SourceFile {
        path: path.to_owned(),
        symbol,
        date,
        kind,
    })
}

/// Rows counted while parsing one file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileCounts {
    /// Data rows in the file.
    pub rows: u64,
    /// Rows excluded as suspicious.
    pub suspicious: u64,
    /// Rows skipped as invalid (only with `skip_invalid`).
    pub invalid: u64,
    /// Ticks produced (trades, or NBBO changes for quote files).
    pub ticks: u64,
}

/// A parsed file: its ticks in file order (`instrument_id` 0), counts, and the first bad line
/// if parsing stopped there.
#[derive(Debug, Default)]
pub struct ParsedFile {
    /// Ticks, each with `ts_event` set.
    pub ticks: Vec<TickRecord>,
    /// Row counts.
    pub counts: FileCounts,
    /// `file:line: reason` of the bad line that stopped parsing (when not skipping).
    pub error: Option<LineError>,
}

/// Converts New York local milliseconds-after-midnight of one date to UTC nanoseconds.
struct LocalClock {
    date: Date,
    tz: TimeZone,
    /// UTC ns of local midnight, when the offset is the same all day.
    fixed_midnight_ns: Option<i128>,
}

impl LocalClock {
    fn new(date: Date, tz: &TimeZone) -> anyhow::Result<Self> {
        let start = date.to_zoned(tz.clone()).context("local midnight")?;
        let end = date
            .at(23, 59, 59, 999_999_999)
            .to_zoned(tz.clone())
            .context("local end of day")?;
        let fixed = (start.offset() == end.offset()).then(|| start.timestamp().as_nanosecond());
        Ok(Self {
            date,
            tz: tz.clone(),
            fixed_midnight_ns: fixed,
        })
    }

    fn to_utc(&self, ms: u64) -> Result<UnixNanos, &'static str> {
        if ms >= 86_400_000 + 3_600_000 {
            return Err("time is past the end of the day");
        }
        let ns = match self.fixed_midnight_ns {
            Some(midnight) => midnight + i128::from(ms) * 1_000_000,
            None => {
                let dt = self
                    .date
                    .at(0, 0, 0, 0)
                    .checked_add(jiff::SignedDuration::from_millis(ms as i64))
                    .map_err(|_| "time out of range")?;
                dt.to_zoned(self.tz.clone())
                    .map_err(|_| "local time does not exist")?
                    .timestamp()
                    .as_nanosecond()
            }
        };
        u64::try_from(ns)
            .map(UnixNanos)
            .map_err(|_| "time before 1970")
    }
}

/// Splits `line` on commas into exactly `N` fields.
fn fields<const N: usize>(line: &[u8]) -> Result<[&[u8]; N], String> {
    let mut out = [&line[..0]; N];
    let mut it = line.split(|&b| b == b',');
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = it
            .next()
            .ok_or_else(|| format!("expected {N} fields, found {i}"))?;
    }
    if it.next().is_some() {
        return Err(format!("expected {N} fields, found more"));
    }
    Ok(out)
}

fn dec(field: &[u8], what: &str) -> Result<u64, String> {
    if field.is_empty() || field.len() > 19 {
        return Err(format!("bad {what} {:?}", String::from_utf8_lossy(field)));
    }
    let mut v = 0u64;
    for &b in field {
        if !b.is_ascii_digit() {
            return Err(format!("bad {what} {:?}", String::from_utf8_lossy(field)));
        }
        v = v * 10 + u64::from(b - b'0');
    }
    Ok(v)
}

fn hex(field: &[u8], what: &str) -> Result<u32, String> {
    std::str::from_utf8(field)
        .ok()
        .filter(|s| !s.is_empty())
        .and_then(|s| u32::from_str_radix(s, 16).ok())
        .ok_or_else(|| format!("bad {what} {:?}", String::from_utf8_lossy(field)))
}

fn price(field: &[u8]) -> Result<Price, String> {
    let raw = dec(field, "price")?;
    i64::try_from(raw)
        .ok()
        .and_then(|v| Price::from_scaled(v, 4))
        .ok_or_else(|| format!("price {raw} out of range"))
}

fn shares(field: &[u8]) -> Result<Quantity, String> {
    let raw = dec(field, "size")?;
    Quantity::from_units(raw).ok_or_else(|| format!("size {raw} out of range"))
}

fn flag(field: &[u8]) -> Result<bool, String> {
    match field {
        b"0" => Ok(false),
        b"1" => Ok(true),
        other => Err(format!(
            "bad suspicious flag {:?}",
            String::from_utf8_lossy(other)
        )),
    }
}

fn venue(field: &[u8]) -> Result<(u8, usize), String> {
    match field {
        [code] => venue_index(*code)
            .map(|i| (*code, i))
            .ok_or_else(|| format!("bad exchange code {:?}", char::from(*code))),
        other => Err(format!(
            "bad exchange code {:?}",
            String::from_utf8_lossy(other)
        )),
    }
}

/// Reads the single CSV inside `file.path` (a zip).
fn read_csv(file: &SourceFile) -> anyhow::Result<(String, Vec<u8>)> {
    let f = File::open(&file.path).with_context(|| format!("open {}", file.path.display()))?;
    let mut zip =
        zip::ZipArchive::new(f).with_context(|| format!("read zip {}", file.path.display()))?;
    if zip.len() != 1 {
        bail!(
            "{}: expected one CSV in the zip, found {} entries",
            file.path.display(),
            zip.len()
        );
    }
    let mut entry = zip
        .by_index(0)
        .with_context(|| format!("read zip {}", file.path.display()))?;
    let name = entry.name().to_owned();
    let mut csv = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    entry
        .read_to_end(&mut csv)
        .with_context(|| format!("inflate {}", file.path.display()))?;
    Ok((name, csv))
}

/// Parses one file into ticks. With `skip_invalid` a bad line is counted and skipped;
/// otherwise parsing stops before it and [`ParsedFile::error`] says where.
///
/// # Errors
///
/// If the zip cannot be read or the date cannot be placed in New York time.
pub fn parse(file: &SourceFile, tz: &TimeZone, skip_invalid: bool) -> anyhow::Result<ParsedFile> {
    let (inner, csv) = read_csv(file)?;
    let clock = LocalClock::new(file.date, tz)?;
    let mut out = ParsedFile::default();
    let mut nbbo = Nbbo::default();
    let approx_rows = csv.len() / if file.kind == FileKind::Trade { 28 } else { 35 };
    out.ticks.reserve(approx_rows);
    for (i, line) in csv.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        out.counts.rows += 1;
        let parsed = match file.kind {
            FileKind::Trade => trade_line(line, &clock),
            FileKind::Quote => quote_line(line, &clock, &mut nbbo),
        };
        match parsed {
            Ok(Row::Tick(t)) => {
                out.counts.ticks += 1;
                out.ticks.push(t);
            }
            Ok(Row::Unchanged) => {}
            Ok(Row::Suspicious) => out.counts.suspicious += 1,
            Err(reason) => {
                let at = LineError {
                    file: format!("{}:{inner}", file.path.display()),
                    line: i as u64 + 1,
                    reason,
                };
                if skip_invalid {
                    out.counts.invalid += 1;
                    tracing::warn!("skipped {at}");
                } else {
                    out.counts.rows -= 1;
                    out.error = Some(at);
                    break;
                }
            }
        }
    }
    Ok(out)
}

enum Row {
    Tick(TickRecord),
    Unchanged,
    Suspicious,
}

fn trade_line(line: &[u8], clock: &LocalClock) -> Result<Row, String> {
    let [time, px, sz, exch, cond, susp] = fields::<6>(line)?;
    let ts = clock.to_utc(dec(time, "time")?)?;
    let price = price(px)?;
    let size = shares(sz)?;
    let (code, _) = venue(exch)?;
    let conditions = hex(cond, "sale condition")?;
    if flag(susp)? {
        return Ok(Row::Suspicious);
    }
    if price.raw() <= 0 || size.raw() == 0 {
        return Err("trade with zero price or size".into());
    }
    let trade = Trade {
        price,
        size,
        trade_id: 0,
        venue: u32::from(code),
        conditions,
    };
    Ok(Row::Tick(TickRecord::new_trade(
        InstrumentId(0),
        ts,
        Side::None,
        &trade,
    )))
}

fn quote_line(line: &[u8], clock: &LocalClock, nbbo: &mut Nbbo) -> Result<Row, String> {
    let [time, bid_px, bid_sz, ask_px, ask_sz, exch, cond, susp] = fields::<8>(line)?;
    let ts = clock.to_utc(dec(time, "time")?)?;
    let (bid_px, bid_sz) = (price(bid_px)?, shares(bid_sz)?);
    let (ask_px, ask_sz) = (price(ask_px)?, shares(ask_sz)?);
    let (_, v) = venue(exch)?;
    hex(cond, "quote condition")?;
    if flag(susp)? {
        return Ok(Row::Suspicious);
    }
    let has_bid = bid_px.raw() != 0 || bid_sz.raw() != 0;
    let has_ask = ask_px.raw() != 0 || ask_sz.raw() != 0;
    if !has_bid && !has_ask {
        return Err("quote row has neither a bid nor an ask".into());
    }
    let mut changed = None;
    if has_bid {
        changed = nbbo.update(v, BookSide::Bid, bid_px, bid_sz).or(changed);
    }
    if has_ask {
        changed = nbbo.update(v, BookSide::Ask, ask_px, ask_sz).or(changed);
    }
    Ok(match changed {
        Some(q) => Row::Tick(TickRecord::new_quote(InstrumentId(0), ts, &q)),
        None => Row::Unchanged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> TimeZone {
        TimeZone::get("America/New_York").unwrap()
    }

    #[test]
    fn recognises_lean_paths() {
        let f = recognise(Path::new("/data/bac/20131008_trade.zip")).unwrap();
        assert_eq!(f.symbol.as_str(), "BAC");
        assert_eq!(f.date, jiff::civil::date(2013, 10, 8));
        assert_eq!(f.kind, FileKind::Trade);
        assert!(recognise(Path::new("/data/bac/2013100_trade.zip")).is_none());
        assert!(recognise(Path::new("/data/bac/20131008_trades.zip")).is_none());
    }

    #[test]
    fn new_york_local_time_converts_to_utc() {
        // 2013-10-08 is EDT (UTC-4): local midnight is 04:00Z.
        let c = LocalClock::new(jiff::civil::date(2013, 10, 8), &ny()).unwrap();
        assert!(c.fixed_midnight_ns.is_some());
        // 05:59:08.450 ET = 09:59:08.450Z
        assert_eq!(
            c.to_utc(21_548_450).unwrap(),
            UnixNanos(1_381_226_348_450_000_000)
        );
        // 2013-11-03 has the fall-back change: 01:30 happens twice; 03:00 local is 08:00Z.
        let dst = LocalClock::new(jiff::civil::date(2013, 11, 3), &ny()).unwrap();
        assert!(dst.fixed_midnight_ns.is_none());
        assert_eq!(
            dst.to_utc(3 * 3_600_000).unwrap(),
            UnixNanos(1_383_465_600_000_000_000)
        );
    }

    #[test]
    fn trade_rows_parse_exactly() {
        let c = LocalClock::new(jiff::civil::date(2013, 10, 8), &ny()).unwrap();
        let Row::Tick(t) = trade_line(b"24555178,138300,500,Q,20002020,0", &c).unwrap() else {
            panic!("not a tick")
        };
        let tr = t.trade().unwrap();
        assert_eq!(tr.price, "13.83".parse().unwrap());
        assert_eq!(tr.size, "500".parse().unwrap());
        assert_eq!(tr.venue, u32::from(b'Q'));
        assert_eq!(tr.conditions, 0x2000_2020);
        // 06:49:15.178 ET = 10:49:15.178Z
        assert_eq!(t.ts_event, 1_381_229_355_178_000_000);
        assert!(matches!(
            trade_line(b"1,138300,500,Q,1,1", &c),
            Ok(Row::Suspicious)
        ));
        assert_eq!(
            trade_line(b"1,13x,500,Q,1,0", &c).err().unwrap(),
            "bad price \"13x\""
        );
        assert_eq!(
            trade_line(b"1,1,500,Q,1", &c).err().unwrap(),
            "expected 6 fields, found 5"
        );
        assert_eq!(
            trade_line(b"1,1,500,q,1,0", &c).err().unwrap(),
            "bad exchange code 'q'"
        );
    }
}
