//! `--feed venue:SYMBOLS[@WS_URL[@REST_URL]]`: which venue, which symbols, and where, parsed
//! and checked when the option is read (a bad one stops the start, not the feed thread).

use tickd_formats::venue::Venue;
use tickd_formats::venue::subscribe::Subscription;

/// One `--feed`: a venue, its symbols, and optionally the endpoints to use instead of the
/// venue's (`venue:SYM1,SYM2[@WS_URL[@REST_URL]]`; for Binance the WebSocket URL is the base
/// `/stream` is appended to; the REST URL is where refills come from).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedSpec {
    /// The venue.
    pub venue: Venue,
    /// Its symbols, as the venue spells them.
    pub symbols: Vec<String>,
    /// The endpoint, if not the venue's.
    pub url: Option<String>,
    /// The REST endpoint refills come from, if not the venue's.
    pub rest: Option<String>,
}

impl std::str::FromStr for FeedSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (venue, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("feed {s:?}: expected venue:SYMBOL[,SYMBOL…][@URL]"))?;
        let venue: Venue = venue.parse()?;
        let mut parts = rest.splitn(3, '@');
        let symbols = parts.next().unwrap_or_default();
        let url = parts.next().map(str::to_owned);
        let rest = parts.next().map(str::to_owned);
        let symbols: Vec<String> = symbols
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let spec = Self {
            venue,
            symbols,
            url,
            rest,
        };
        // Checked now, so a bad option stops the start, not the feed thread.
        spec.subscription()?;
        Ok(spec)
    }
}

impl std::fmt::Display for FeedSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.venue, self.symbols.join(","))?;
        if let Some(url) = &self.url {
            write!(f, "@{url}")?;
        }
        if let Some(rest) = &self.rest {
            write!(f, "@{rest}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for FeedSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for FeedSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl FeedSpec {
    /// What to open and send.
    ///
    /// # Errors
    ///
    /// See [`Venue::subscription`].
    pub fn subscription(&self) -> Result<Subscription, String> {
        self.venue.subscription(self.url.as_deref(), &self.symbols)
    }

    /// The feed's name in `/health` and `/metrics`: the venue's name, with the first symbol
    /// when the venue has several feeds (`binance`, `binance:btcusdt`).
    pub fn name(&self, several: bool) -> String {
        match (several, self.symbols.first()) {
            (true, Some(s)) => format!("{}:{}", self.venue, s.to_ascii_lowercase()),
            _ => self.venue.name().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_options_name_venue_symbols_and_endpoints() {
        let spec: FeedSpec = "binance:btcusdt, ethusdt".parse().unwrap();
        assert_eq!(
            (spec.venue, spec.symbols.as_slice(), &spec.url, &spec.rest),
            (
                Venue::Binance,
                &["btcusdt".to_owned(), "ethusdt".to_owned()][..],
                &None,
                &None
            )
        );
        let spec: FeedSpec = "coinbase:BTC-USD@ws://127.0.0.1:9@http://127.0.0.1:8"
            .parse()
            .unwrap();
        assert_eq!(spec.url.as_deref(), Some("ws://127.0.0.1:9"));
        assert_eq!(spec.rest.as_deref(), Some("http://127.0.0.1:8"));
        assert_eq!(
            spec.to_string(),
            "coinbase:BTC-USD@ws://127.0.0.1:9@http://127.0.0.1:8"
        );
        assert_eq!(spec.name(false), "coinbase");
        assert_eq!(spec.name(true), "coinbase:btc-usd");
        for (bad, says) in [
            ("binance", "expected venue:SYMBOL"),
            ("nyse:IBM", "unknown venue"),
            ("okx:", "no symbols"),
            ("okx:BTC USDT", "symbol"),
        ] {
            let e = bad.parse::<FeedSpec>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
