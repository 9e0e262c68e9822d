//! The generic CSV replay format (DESIGN.md §11):
//!
//! ```text
//! ts_event,symbol,kind,price,size,side,bid_px,bid_sz,ask_px,ask_sz
//! 1696680000123000000,AAPL,trade,171.2300,100,buy,,,,
//! 1696680000123500000,AAPL,quote,,,,171.22,300,171.24,200
//! ```
//!
//! Columns by header name, in any order; unknown columns ignored. `ts_event` is integer ns since
//! the Unix epoch (UTC) or RFC 3339 with up to 9 fractional digits. Decimals are exact, with at
//! most as many fractional digits as the instrument's scales allow (9 and 9 unless
//! [`CsvTicks::with_scales`] says otherwise); a value that does not fit is a line error naming the
//! instrument and its scales, never rounded. `side` is `buy`, `sell` or empty. An empty quote side is absent. `.gz`
//! and `.zst` files are decompressed by extension. Every error names `file:line`.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use tickd_protocol::{
    InstrumentId, ParseDecimalError, Price, Quantity, Quote, ScaleMap, Scales, Side, Symbol,
    TickRecord, Trade,
};

use crate::LineError;
use crate::time::parse_time;

/// Whether `path` looks like a generic CSV file (`.csv`, `.csv.gz`, `.csv.zst`).
pub fn recognise(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.ends_with(".csv") || name.ends_with(".csv.gz") || name.ends_with(".csv.zst")
}

/// Column positions found in the header.
#[derive(Debug, Clone, Copy)]
struct Columns {
    ts_event: usize,
    symbol: usize,
    kind: usize,
    price: Option<usize>,
    size: Option<usize>,
    side: Option<usize>,
    bid_px: Option<usize>,
    bid_sz: Option<usize>,
    ask_px: Option<usize>,
    ask_sz: Option<usize>,
}

/// A streaming reader of one generic CSV file.
pub struct CsvTicks {
    path: PathBuf,
    reader: csv::Reader<Box<dyn Read + Send>>,
    columns: Columns,
    record: csv::ByteRecord,
    scales: Arc<ScaleMap>,
}

impl std::fmt::Debug for CsvTicks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvTicks")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn open(path: &Path) -> anyhow::Result<Box<dyn Read + Send>> {
    let file = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let name = path.to_string_lossy();
    Ok(if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
    } else if name.ends_with(".zst") {
        Box::new(zstd::Decoder::new(file).with_context(|| format!("open zstd {}", path.display()))?)
    } else {
        Box::new(file)
    })
}

fn field(rec: &csv::ByteRecord, col: Option<usize>) -> &[u8] {
    col.and_then(|c| rec.get(c)).unwrap_or_default()
}

fn text<'r>(raw: &'r [u8], what: &str) -> Result<&'r str, String> {
    std::str::from_utf8(raw)
        .map(str::trim)
        .map_err(|_| format!("{what} is not UTF-8"))
}

/// How a parse error names the instrument: nothing for the default scales (today's messages),
/// else ` (SYMBOL scales P:S)`.
fn whose(symbol: &Symbol, scales: Scales) -> String {
    if scales == Scales::DEFAULT {
        String::new()
    } else {
        format!(" ({symbol} scales {scales})")
    }
}

/// An optional decimal field of `sym` parsed at its `scales` by `parse` (`Scales::parse_price`
/// or `Scales::parse_size`); empty is `None`.
fn opt_decimal<T>(
    raw: &[u8],
    what: &str,
    sym: &Symbol,
    scales: Scales,
    parse: fn(Scales, &str) -> Result<T, ParseDecimalError>,
) -> Result<Option<T>, String> {
    let t = text(raw, what)?;
    if t.is_empty() {
        return Ok(None);
    }
    parse(scales, t)
        .map(Some)
        .map_err(|e| format!("{what}: {e}{}", whose(sym, scales)))
}

impl CsvTicks {
    /// Opens `path` and reads its header.
    ///
    /// # Errors
    ///
    /// If the file cannot be opened or decompressed, or the header lacks `ts_event`, `symbol`
    /// or `kind`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        Self::from_reader(path, open(path)?)
    }

    /// Reads CSV text from `input` (already decompressed), naming it `path` in errors.
    ///
    /// # Errors
    ///
    /// As [`CsvTicks::open`], but for opening the file.
    pub fn from_reader(path: &Path, input: Box<dyn Read + Send>) -> anyhow::Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(input);
        let headers = reader
            .byte_headers()
            .with_context(|| format!("{}:1: read header", path.display()))?
            .clone();
        let find = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim_ascii() == name.as_bytes())
        };
        let need = |name: &str| {
            find(name)
                .ok_or_else(|| anyhow::anyhow!("{}:1: missing column {name:?}", path.display()))
        };
        let columns = Columns {
            ts_event: need("ts_event")?,
            symbol: need("symbol")?,
            kind: need("kind")?,
            price: find("price"),
            size: find("size"),
            side: find("side"),
            bid_px: find("bid_px"),
            bid_sz: find("bid_sz"),
            ask_px: find("ask_px"),
            ask_sz: find("ask_sz"),
        };
        if columns.price.is_none() != columns.size.is_none() {
            bail!("{}:1: columns price and size come together", path.display());
        }
        Ok(Self {
            path: path.to_owned(),
            reader,
            columns,
            record: csv::ByteRecord::new(),
            scales: Arc::default(),
        })
    }

    /// Parses each instrument's decimals at its scales in `scales` (others at 9 and 9).
    #[must_use]
    pub fn with_scales(mut self, scales: Arc<ScaleMap>) -> Self {
        self.scales = scales;
        self
    }

    /// The next tick: `Ok(None)` at the end, `Err` for a bad line (the caller decides whether
    /// to stop or skip; reading can go on after an error).
    ///
    /// # Errors
    ///
    /// [`LineError`] naming the file and line.
    pub fn next_tick(&mut self) -> Result<Option<(Symbol, TickRecord)>, LineError> {
        let more = self
            .reader
            .read_byte_record(&mut self.record)
            .map_err(|e| LineError {
                file: self.path.display().to_string(),
                line: e.position().map_or(0, csv::Position::line),
                reason: e.to_string(),
            })?;
        if !more {
            return Ok(None);
        }
        let line = self.record.position().map_or(0, csv::Position::line);
        self.parse_record().map(Some).map_err(|reason| LineError {
            file: self.path.display().to_string(),
            line,
            reason,
        })
    }

    fn parse_record(&self) -> Result<(Symbol, TickRecord), String> {
        let c = self.columns;
        let r = &self.record;
        let ts = parse_time(text(field(r, Some(c.ts_event)), "ts_event")?)
            .map_err(|e| format!("ts_event {e}"))?;
        let sym_text = text(field(r, Some(c.symbol)), "symbol")?;
        let symbol = Symbol::new(sym_text).map_err(|e| format!("symbol {sym_text:?}: {e}"))?;
        let scales = self.scales.get(&symbol);
        let kind = text(field(r, Some(c.kind)), "kind")?;
        let record = match kind {
            "trade" => {
                let price = opt_decimal(
                    field(r, c.price),
                    "price",
                    &symbol,
                    scales,
                    Scales::parse_price,
                )?
                .ok_or("trade without price")?;
                let size = opt_decimal(
                    field(r, c.size),
                    "size",
                    &symbol,
                    scales,
                    Scales::parse_size,
                )?
                .ok_or("trade without size")?;
                let side = match text(field(r, c.side), "side")? {
                    "buy" => Side::Buy,
                    "sell" => Side::Sell,
                    "" => Side::None,
                    other => return Err(format!("side {other:?} is not buy, sell or empty")),
                };
                let trade = Trade {
                    price,
                    size,
                    trade_id: 0,
                    venue: 0,
                    conditions: 0,
                };
                TickRecord::new_trade(InstrumentId(0), ts, side, &trade)
            }
            "quote" => {
                let side = |px_col, sz_col, name: &str| -> Result<(Price, Quantity), String> {
                    let px = opt_decimal(
                        field(r, px_col),
                        &format!("{name}_px"),
                        &symbol,
                        scales,
                        Scales::parse_price,
                    )?;
                    let sz = opt_decimal(
                        field(r, sz_col),
                        &format!("{name}_sz"),
                        &symbol,
                        scales,
                        Scales::parse_size,
                    )?;
                    match (px, sz) {
                        (Some(px), Some(sz)) => Ok((px, sz)),
                        (None, None) => Ok((Price::UNDEF, Quantity::ZERO)),
                        (Some(_), None) => Err(format!("{name}_px without {name}_sz")),
                        (None, Some(_)) => Err(format!("{name}_sz without {name}_px")),
                    }
                };
                let (bid_px, bid_sz) = side(c.bid_px, c.bid_sz, "bid")?;
                let (ask_px, ask_sz) = side(c.ask_px, c.ask_sz, "ask")?;
                if bid_px.is_undef() && ask_px.is_undef() {
                    return Err("quote with neither bid nor ask".into());
                }
                TickRecord::new_quote(
                    InstrumentId(0),
                    ts,
                    &Quote {
                        bid_px,
                        bid_sz,
                        ask_px,
                        ask_sz,
                    },
                )
            }
            other => return Err(format!("kind {other:?} is not trade or quote")),
        };
        Ok((symbol, record))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn parses_the_design_example_in_any_column_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "t.csv",
            "kind,symbol,extra,ts_event,price,size,side,bid_px,bid_sz,ask_px,ask_sz\n\
             trade,AAPL,x,1696680000123000000,171.2300,100,buy,,,,\n\
             quote,AAPL,y,2023-10-07T12:00:00.1235Z,,,,171.22,300,,\n",
        );
        let mut r = CsvTicks::open(&p).unwrap();
        let (s, t) = r.next_tick().unwrap().unwrap();
        assert_eq!(s.as_str(), "AAPL");
        assert_eq!(t.ts_event, 1_696_680_000_123_000_000);
        let tr = t.trade().unwrap();
        assert_eq!(tr.price.raw(), 171_230_000_000);
        assert_eq!(tr.size.raw(), 100_000_000_000);
        assert_eq!(t.side, Side::Buy as u8);
        let (_, q) = r.next_tick().unwrap().unwrap();
        assert_eq!(q.ts_event, 1_696_680_000_123_500_000);
        let q = q.quote().unwrap();
        assert_eq!(
            (q.bid_px.raw(), q.bid_sz.raw()),
            (171_220_000_000, 300_000_000_000)
        );
        assert!(q.ask_px.is_undef());
        assert_eq!(r.next_tick().unwrap(), None);
    }

    #[test]
    fn bad_lines_are_reported_by_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "bad.csv",
            "ts_event,symbol,kind,price,size,side\n\
             1,AAPL,trade,1.5,1,\n\
             2,AAPL,trade,1.0000000001,1,\n\
             3,AA PL,trade,1,1,\n\
             4,AAPL,cancel,1,1,\n\
             5,AAPL,trade,1,1,hold\n\
             x,AAPL,trade,1,1,\n\
             7,AAPL,trade,,1,\n\
             8,AAPL,trade,2,2,sell\n",
        );
        let mut r = CsvTicks::open(&p).unwrap();
        let f = p.display().to_string();
        assert!(r.next_tick().unwrap().is_some());
        let errs: Vec<String> = (0..6)
            .map(|_| r.next_tick().unwrap_err().to_string())
            .collect();
        assert_eq!(
            errs[0],
            format!(
                "{f}:3: price: decimal \"1.0000000001\" has 10 fractional digits, at most 9 are allowed"
            )
        );
        assert!(
            errs[1].starts_with(&format!("{f}:4: symbol \"AA PL\": invalid character ' '")),
            "{}",
            errs[1]
        );
        assert_eq!(
            errs[2],
            format!("{f}:5: kind \"cancel\" is not trade or quote")
        );
        assert_eq!(
            errs[3],
            format!("{f}:6: side \"hold\" is not buy, sell or empty")
        );
        assert!(
            errs[4].starts_with(&format!("{f}:7: ts_event \"x\" is neither ns nor RFC 3339")),
            "{}",
            errs[4]
        );
        assert_eq!(errs[5], format!("{f}:8: trade without price"));
        let (_, t) = r.next_tick().unwrap().unwrap();
        assert_eq!(t.ts_event, 8, "reading goes on after a bad line");
    }

    #[test]
    fn reads_gzip_and_zstd_by_extension() {
        let dir = tempfile::tempdir().unwrap();
        let body = "ts_event,symbol,kind,price,size\n5,IBM,trade,180.01,3\n";
        let gz = dir.path().join("t.csv.gz");
        let mut enc =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(body.as_bytes()).unwrap();
        enc.finish().unwrap();
        let zst = dir.path().join("t.csv.zst");
        std::fs::write(&zst, zstd::encode_all(body.as_bytes(), 1).unwrap()).unwrap();
        for p in [gz, zst] {
            let (s, t) = CsvTicks::open(&p).unwrap().next_tick().unwrap().unwrap();
            assert_eq!(
                (s.as_str(), t.trade().unwrap().price.raw()),
                ("IBM", 180_010_000_000)
            );
        }
    }

    #[test]
    fn a_missing_required_column_is_an_error_at_line_1() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "h.csv", "time,symbol,kind\n");
        let err = CsvTicks::open(&p).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("{}:1: missing column \"ts_event\"", p.display())
        );
    }
}
