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
pub struct Auto {
    /// The seed dialect until the first message decides.
    inner: Box<dyn Dialect>,
    decided: bool,
}

impl Default for Auto {
    fn default() -> Self {
        Self {
            inner: Box::new(Seed),
            decided: false,
        }
    }
}

/// Whether `text` is a Binance method message.
fn is_binance(text: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        method: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_str::<Probe>(text).is_ok_and(|p| p.method.is_some())
}

impl Dialect for Auto {
    fn on_text(&mut self, state: &HttpState, text: &str, subs: &mut Subs) -> Reply {
        if !self.decided {
            self.decided = true;
            if is_binance(text) {
                self.inner = Box::new(Binance::new(false));
            }
        }
        self.inner.on_text(state, text, subs)
    }

    fn trade(
        &mut self,
        state: &HttpState,
        epoch: Epoch,
        inst: &Instrument,
        tick: &TickRecord,
        out: &mut Vec<String>,
    ) {
        self.inner.trade(state, epoch, inst, tick, out);
    }

    fn quote(
        &mut self,
        state: &HttpState,
        epoch: Epoch,
        inst: &Instrument,
        tick: &TickRecord,
        out: &mut Vec<String>,
    ) {
        self.inner.quote(state, epoch, inst, tick, out);
    }

    fn candle(
        &mut self,
        state: &HttpState,
        epoch: Epoch,
        seq: Seq,
        inst: &Instrument,
        candle: &CandleRecord,
        out: &mut Vec<String>,
    ) {
        self.inner.candle(state, epoch, seq, inst, candle, out);
    }

    fn gap(&self, gap: &Gap, venue: Option<&Instrument>) -> Option<String> {
        self.inner.gap(gap, venue)
    }

    fn heartbeat(&self, epoch: Epoch, head: u64) -> Option<String> {
        self.inner.heartbeat(epoch, head)
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
