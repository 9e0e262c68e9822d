//! Recorded venue frames, one per line, in either of two forms:
//!
//! - tickd's `--capture` form: `<receive time, integer ns since the Unix epoch> <frame text>`;
//! - the cryptofeed recorder's: `<receive time, decimal seconds>: <frame text>`, with its
//!   connection (`<url> <-> <time>`), sent-message (`<url> <- <time>: …`) and REST
//!   (`<url> -> <time>: …`) lines, which are not received frames and are skipped.
//!
//! [`read_line`] tells which a line is; a replay pushes each frame through the venue's parser
//! with its receive time, so a capture replays to the ticks the live run produced.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use tickd_protocol::{Symbol, TickRecord, UnixNanos};

use super::stream::VenueStream;
use super::{Venue, VenueTick, decimal_seconds};
use crate::{LineError, TickLines};

/// One capture line, read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A frame received at a time.
    Frame {
        /// When it was received.
        ts_recv: UnixNanos,
        /// The frame's text.
        text: &'a str,
    },
    /// Not a received frame (a connection, a sent message, a REST body, a blank line).
    Skip,
}

/// Reads one line (without its newline).
///
/// # Errors
///
/// A message saying what is wrong, for a line that starts like a frame line but whose time
/// does not parse.
pub fn read_line(line: &str) -> Result<Line<'_>, String> {
    let line = line.trim_end_matches('\r');
    let Some(first) = line.bytes().next() else {
        return Ok(Line::Skip);
    };
    if !first.is_ascii_digit() {
        // `wss://… <-> t`, `wss://… <- t: …`, `https://… -> t: …`
        return Ok(Line::Skip);
    }
    let (time, text) = match line.split_once(": ") {
        // cryptofeed: `1618677817.1295161: {…}` (a decimal time, then a colon).
        Some((t, rest)) if !t.contains(' ') => (t, rest),
        _ => line
            .split_once(' ')
            .ok_or_else(|| format!("no frame after the time in {:.40?}", line))?,
    };
    let ts_recv = if time.contains('.') {
        // Recorders write up to 7 decimals; beyond 9 cannot be held in ns: truncated.
        let (int, frac) = time.split_once('.').unwrap_or((time, ""));
        let frac = &frac[..frac.len().min(9)];
        decimal_seconds(Venue::Binance, "time", &format!("{int}.{frac}"))
            .map_err(|_| format!("time {time:?} is not decimal seconds"))?
    } else {
        UnixNanos(
            time.parse()
                .map_err(|_| format!("time {time:?} is not integer ns"))?,
        )
    };
    Ok(Line::Frame { ts_recv, text })
}

/// The capture line of `text` received at `ts_recv` (tickd's form, without the newline).
pub fn write_line(ts_recv: UnixNanos, text: &str) -> String {
    format!("{} {text}", ts_recv.0)
}

/// The venue a capture file is of, from its name: tickd's `<venue>-<date>.log[.gz]`, or the
/// cryptofeed recorder's `<VENUE>.ws.<n>.<n>[.gz]` (`BINANCE_FUTURES` → `binance-futures`).
pub fn venue_of_file(name: &str) -> Option<Venue> {
    let name = name.to_ascii_lowercase().replace('_', "-");
    let mut venues = Venue::ALL;
    // The longest name first: `binance-futures` before `binance`.
    venues.sort_by_key(|v| std::cmp::Reverse(v.name().len()));
    venues.into_iter().find(|v| {
        name.strip_prefix(v.name())
            .is_some_and(|rest| rest.starts_with(['.', '-']))
    })
}

/// Whether `path` looks like a capture file: named for a venue ([`venue_of_file`]) and either
/// the recorder's `.ws.` form or tickd's `.log` / `.log.gz`.
pub fn recognise(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    venue_of_file(name).is_some() && has_capture_form(path)
}

/// Whether `path` has a capture file's form (the recorder's `.ws.`, tickd's `.log` or
/// `.log.gz`), whatever venue its name says: with a venue given by option, such files are
/// captures of that venue.
pub fn has_capture_form(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.contains(".ws.") || name.ends_with(".log") || name.ends_with(".log.gz")
}

/// A streaming reader of one capture file: each received frame through its venue's parser and
/// trade-id continuity ([`VenueStream`]: duplicates dropped, venue gaps declared, as live), a
/// tick at a time. A frame that does not parse is a line error naming `file:line`; frames that
/// carry no tick (acks, heartbeats, books) are passed over.
pub struct CaptureTicks {
    path: PathBuf,
    venue: Venue,
    lines: std::io::Lines<BufReader<Box<dyn Read + Send>>>,
    line: u64,
    stream: VenueStream,
    pending: VecDeque<VenueTick>,
    scratch: Vec<VenueTick>,
}

impl std::fmt::Debug for CaptureTicks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureTicks")
            .field("path", &self.path)
            .field("venue", &self.venue)
            .finish_non_exhaustive()
    }
}

impl CaptureTicks {
    /// Opens `path` (`.gz` decompressed), of `venue` or, when `None`, of the venue its name
    /// says.
    ///
    /// # Errors
    ///
    /// If the file cannot be opened, or no venue is given and its name names none.
    pub fn open(path: &Path, venue: Option<Venue>) -> anyhow::Result<Self> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let venue = venue.or_else(|| venue_of_file(name)).with_context(|| {
            format!(
                "{}: no venue in the file name (expected <venue>-<date>.log[.gz] or <VENUE>.ws.<n>.<n>[.gz])",
                path.display()
            )
        })?;
        let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
        let input: Box<dyn Read + Send> = if name.ends_with(".gz") {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
        } else {
            Box::new(file)
        };
        Ok(Self {
            path: path.to_owned(),
            venue,
            lines: BufReader::new(input).lines(),
            line: 0,
            stream: VenueStream::new(venue),
            pending: VecDeque::new(),
            scratch: Vec::new(),
        })
    }

    /// The venue read.
    pub fn venue(&self) -> Venue {
        self.venue
    }

    fn error(&self, reason: String) -> LineError {
        LineError {
            file: self.path.display().to_string(),
            line: self.line,
            reason,
        }
    }
}

impl TickLines for CaptureTicks {
    fn next_tick(&mut self) -> Result<Option<(Symbol, TickRecord)>, LineError> {
        loop {
            if let Some(t) = self.pending.pop_front() {
                return Ok(Some((t.symbol, t.tick)));
            }
            let Some(line) = self.lines.next() else {
                return Ok(None);
            };
            self.line += 1;
            let line = line.map_err(|e| self.error(format!("read: {e}")))?;
            let Line::Frame { ts_recv, text } = read_line(&line).map_err(|e| self.error(e))? else {
                continue;
            };
            self.scratch.clear();
            self.stream
                .frame(text, ts_recv, &mut self.scratch)
                .map_err(|e| self.error(e.to_string()))?;
            self.pending.extend(self.scratch.drain(..));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_forms_and_skips_the_rest() {
        assert_eq!(
            read_line("1618677817.1295161: {\"a\":1}"),
            Ok(Line::Frame {
                ts_recv: UnixNanos(1_618_677_817_129_516_100),
                text: "{\"a\":1}"
            })
        );
        assert_eq!(
            read_line("1618677817129516100 {\"a\": 1}"),
            Ok(Line::Frame {
                ts_recv: UnixNanos(1_618_677_817_129_516_100),
                text: "{\"a\": 1}"
            })
        );
        assert_eq!(
            read_line("wss://ws.kraken.com <-> 1618678132.368463"),
            Ok(Line::Skip)
        );
        assert_eq!(read_line("wss://x <- 1.5: {}"), Ok(Line::Skip));
        assert_eq!(read_line(""), Ok(Line::Skip));
        assert!(read_line("12x {}").is_err());
        let line = write_line(UnixNanos(42), "[1,2]");
        assert_eq!(
            read_line(&line),
            Ok(Line::Frame {
                ts_recv: UnixNanos(42),
                text: "[1,2]"
            })
        );
    }

    #[test]
    fn names_the_venue_of_a_file() {
        assert_eq!(venue_of_file("BINANCE.ws.1.0.gz"), Some(Venue::Binance));
        assert_eq!(
            venue_of_file("BINANCE_FUTURES.ws.1.0.gz"),
            Some(Venue::BinanceFutures)
        );
        assert_eq!(
            venue_of_file("BINANCE_DELIVERY.ws.1.0.gz"),
            Some(Venue::BinanceDelivery)
        );
        assert_eq!(
            venue_of_file("binance-futures-2026-12-05.log.gz"),
            Some(Venue::BinanceFutures)
        );
        assert_eq!(
            venue_of_file("coinbase-2026-12-05.log"),
            Some(Venue::Coinbase)
        );
        assert_eq!(venue_of_file("KRAKEN.ws.48.0.gz"), Some(Venue::Kraken));
        assert_eq!(venue_of_file("OKX.ws.1.0.gz"), Some(Venue::Okx));
        assert_eq!(venue_of_file("trades.csv"), None);
    }
}
