//! Bare `/ws`: the seed protocol and Binance's method messages share the path, so the socket's
//! first text message decides its dialect for good. A JSON object with a `method`
//! (`{"method":"SUBSCRIBE","params":["aapl@trade"],"id":1}`, as binance-connector sends on
//! `/ws`) makes it a Binance raw-stream socket; anything else (`{"type":"subscribe",…}`) a seed
//! socket. Until then it behaves as a seed socket (its heartbeats), which no Binance client
//! minds before it has subscribed.

use tickd_protocol::{CandleRecord, Epoch, Gap, Instrument, Seq, TickRecord};

use super::binance::Binance;
use super::seed::Seed;
use super::{Dialect, Reply, Subs};
use crate::http::HttpState;

/// See the module docs.
#[derive(Default)]
pub struct Auto {
    inner: Option<Box<dyn Dialect>>,
}

/// Whether `text` is a Binance method message.
fn is_binance(text: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        method: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_str::<Probe>(text).is_ok_and(|p| p.method.is_some())
}

impl Auto {
    fn decided(&self) -> &dyn Dialect {
        match &self.inner {
            Some(d) => d.as_ref(),
            None => &Seed,
        }
    }
}

impl Dialect for Auto {
    fn on_text(&mut self, state: &HttpState, text: &str, subs: &mut Subs) -> Reply {
        let inner = self.inner.get_or_insert_with(|| {
            if is_binance(text) {
                Box::new(Binance::new(false))
            } else {
                Box::new(Seed)
            }
        });
        inner.on_text(state, text, subs)
    }

    fn trade(&self, epoch: Epoch, inst: &Instrument, tick: &TickRecord) -> String {
        self.decided().trade(epoch, inst, tick)
    }

    fn quote(&self, epoch: Epoch, inst: &Instrument, tick: &TickRecord) -> Option<String> {
        self.decided().quote(epoch, inst, tick)
    }

    fn candle(&self, epoch: Epoch, seq: Seq, inst: &Instrument, candle: &CandleRecord) -> String {
        self.decided().candle(epoch, seq, inst, candle)
    }

    fn gap(&self, gap: &Gap, venue: Option<&Instrument>) -> Option<String> {
        self.decided().gap(gap, venue)
    }

    fn heartbeat(&self, epoch: Epoch, head: u64) -> Option<String> {
        self.decided().heartbeat(epoch, head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_message_tells_the_dialects_apart() {
        assert!(is_binance(
            r#"{"method":"SUBSCRIBE","params":["aapl@trade"],"id":1}"#
        ));
        assert!(!is_binance(
            r#"{"type":"subscribe","data":{"symbols":["AAPL"],"channels":["trades"]}}"#
        ));
        assert!(!is_binance("not json"));
        assert!(!is_binance("[1,2]"));
    }
}
