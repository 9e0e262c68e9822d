//! `--capture DIR`: every frame a venue feed receives, as one line `<ts_recv ns> <frame text>`
//! (`tickd_formats::venue::capture::write_line`), in `DIR/<feed>-<YYYY-MM-DD>.log` (UTC day of
//! the receive time; `.log.gz` with gzip), `<feed>` being the venue's name, or the venue and
//! first symbol (`binance-btcusdt`) when a venue has several feeds, so no two feeds share a
//! file. Files are opened for append, so a restart continues
//! the day's file (a gzip file then holds several members, which every gzip reader reads as
//! one stream). `--replay` reads these files back through the same parser.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use tickd_formats::venue::capture::write_line;
use tickd_protocol::UnixNanos;

/// Where and how a feed captures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureConfig {
    /// The directory (created if missing).
    pub dir: PathBuf,
    /// Gzip the files.
    pub gzip: bool,
}

enum Sink {
    Plain(BufWriter<File>),
    Gzip(Box<GzEncoder<BufWriter<File>>>),
}

impl Sink {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Self::Plain(w) => w,
            Self::Gzip(w) => w,
        }
    }
}

/// One venue's capture files.
pub struct CaptureWriter {
    config: CaptureConfig,
    stem: String,
    day: Option<Date>,
    sink: Option<Sink>,
}

impl std::fmt::Debug for CaptureWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureWriter")
            .field("config", &self.config)
            .field("stem", &self.stem)
            .field("day", &self.day)
            .finish_non_exhaustive()
    }
}

impl CaptureWriter {
    /// A writer of feed `name`'s frames (`binance`, `binance:btcusdt`); nothing is opened
    /// before the first frame.
    pub fn new(config: CaptureConfig, name: &str) -> Self {
        Self {
            config,
            stem: name.replace(':', "-"),
            day: None,
            sink: None,
        }
    }

    /// The file of the frames of the feed with file name stem `stem` received on `day`.
    pub fn path(dir: &Path, stem: &str, day: Date, gzip: bool) -> PathBuf {
        let ext = if gzip { "log.gz" } else { "log" };
        dir.join(format!("{stem}-{day}.{ext}"))
    }

    /// Appends `text` received at `ts_recv`, moving to the next day's file when the UTC day
    /// changes.
    ///
    /// # Errors
    ///
    /// The file cannot be created or written (the caller reports it and keeps feeding).
    pub fn write(&mut self, ts_recv: UnixNanos, text: &str) -> io::Result<()> {
        let day = Timestamp::from_nanosecond(i128::from(ts_recv.0))
            .map(|t| t.to_zoned(TimeZone::UTC).date())
            .map_err(io::Error::other)?;
        if self.day != Some(day) || self.sink.is_none() {
            self.finish()?;
            std::fs::create_dir_all(&self.config.dir)?;
            let path = Self::path(&self.config.dir, &self.stem, day, self.config.gzip);
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            let file = BufWriter::new(file);
            self.sink = Some(if self.config.gzip {
                Sink::Gzip(Box::new(GzEncoder::new(file, Compression::fast())))
            } else {
                Sink::Plain(file)
            });
            self.day = Some(day);
        }
        let Some(sink) = self.sink.as_mut() else {
            return Err(io::Error::other("capture file not open"));
        };
        let sink = sink.writer();
        sink.write_all(write_line(ts_recv, text).as_bytes())?;
        sink.write_all(b"\n")
    }

    /// Pushes what is buffered to the file (once per wake-up: a crash loses at most the
    /// frames of the last one).
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Some(s) => s.writer().flush(),
            None => Ok(()),
        }
    }

    /// Closes the current file (a gzip member ends here).
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub fn finish(&mut self) -> io::Result<()> {
        match self.sink.take() {
            Some(Sink::Plain(mut w)) => w.flush(),
            Some(Sink::Gzip(w)) => w.finish()?.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for CaptureWriter {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn lines_go_to_the_file_of_their_utc_day_and_append() {
        let dir = tempfile::tempdir().unwrap();
        for gzip in [false, true] {
            let config = CaptureConfig {
                dir: dir.path().to_owned(),
                gzip,
            };
            // 2026-12-05T23:59:59.5Z, then just after midnight.
            let late = UnixNanos(1_796_515_199_500_000_000);
            let next = UnixNanos(1_796_515_200_100_000_000);
            for _ in 0..2 {
                let mut w = CaptureWriter::new(config.clone(), "coinbase");
                w.write(late, "{\"a\":1}").unwrap();
                w.write(next, "{\"b\":2}").unwrap();
            }
            let read = |day: &str| {
                let ext = if gzip { "log.gz" } else { "log" };
                let file = File::open(dir.path().join(format!("coinbase-{day}.{ext}"))).unwrap();
                let mut text = String::new();
                if gzip {
                    flate2::read::MultiGzDecoder::new(file)
                        .read_to_string(&mut text)
                        .unwrap();
                } else {
                    io::BufReader::new(file).read_to_string(&mut text).unwrap();
                }
                text
            };
            let line = format!("{} {{\"a\":1}}\n", late.0);
            assert_eq!(read("2026-12-05"), line.repeat(2));
            let line = format!("{} {{\"b\":2}}\n", next.0);
            assert_eq!(read("2026-12-06"), line.repeat(2));
        }
    }
}
