//! Subscription admission: limits, symbol resolution, where the stream starts (latest, a seq
//! or a time, with a `Gap` first for what is gone), the snapshot, and the QUIC stream it uses.

use crate::storage::journal::JournalCursor;
use tickd_engine::Filter;
use tickd_protocol::files::{CANDLE_SLOT_WORDS, TICK_SLOT_WORDS};
use tickd_protocol::{
    ErrorCode, Gap, GapReason, Message, Records, Selection, Seq, SlowConsumerPolicy, Snapshot,
    Start, Subscribe, SubscribeAck,
};
use tickd_shm::Reader;

use super::{Conn, Sink};

/// One live subscription.
pub(super) struct Sub {
    pub(super) id: u32,
    pub(super) filter: Filter,
    pub(super) ticks: Reader<TICK_SLOT_WORDS>,
    pub(super) candles: Option<Reader<CANDLE_SLOT_WORDS>>,
    pub(super) policy: SlowConsumerPolicy,
    /// Started from a seq or a time: missing records are filled from the journal rather than
    /// skipped (unless the policy is `disconnect`).
    pub(super) lossless: bool,
    /// Where to read the journal next, while the ring no longer holds the next seq (the
    /// cursor keeps its file position: reading a range costs O(records)).
    pub(super) backfill: Option<Box<JournalCursor>>,
    /// The instruments selected (`None`: all), for conflated catch-up.
    pub(super) ids: Option<Vec<tickd_protocol::InstrumentId>>,
    /// QUIC: this subscription's own unidirectional stream for its data.
    pub(super) sink: Option<Sink>,
    /// QUIC datagram mode: quotes go out as conflated datagrams, not on the stream.
    pub(super) datagrams: bool,
}

impl Conn {
    pub(super) async fn subscribe(&mut self, s: Subscribe) {
        let rid = s.request_id;
        let max_subs = self.services.session.max_subscriptions;
        if self.subs.len() >= max_subs {
            let text = format!(
                "at most {max_subs} subscriptions per connection (--max-subscriptions-per-connection)"
            );
            return self.session.send_error(rid, ErrorCode::LimitExceeded, text);
        }
        let max_symbols = self.services.session.max_symbols_per_subscription;
        if !s.trades && !s.quotes && s.candles.is_empty() {
            return self.session.send_error(
                rid,
                ErrorCode::InvalidRequest,
                "subscribe selects nothing: ask for trades, quotes or candles",
            );
        }
        let ids = match &s.selection {
            Selection::All => None,
            Selection::Symbols(list) if list.len() > max_symbols => {
                let text = format!(
                    "{} symbols in one subscription, at most {max_symbols} \
                     (--max-symbols-per-subscription)",
                    list.len()
                );
                return self.session.send_error(rid, ErrorCode::LimitExceeded, text);
            }
            Selection::Symbols(list) if list.is_empty() => {
                return self.session.send_error(
                    rid,
                    ErrorCode::InvalidRequest,
                    "subscribe names no symbols (use all_symbols for every one)",
                );
            }
            Selection::Symbols(list) => match self.services.query.resolve(rid, list) {
                Ok(ids) => Some(ids),
                Err(e) => return self.session.send(&Message::Error(e)),
            },
        };
        // A snapshot is bounded by the request, not by the universe: of every instrument only
        // while there are at most a page of them.
        let page = crate::query::MAX_PAGE_INSTRUMENTS as usize;
        if s.snapshot && ids.is_none() {
            let n = self.services.query.instruments(None).len();
            if n > page {
                let text = format!(
                    "a snapshot of every instrument covers at most {page} instruments and there \
                     are {n}: name the symbols, or subscribe without a snapshot and query \
                     `Latest` page by page"
                );
                return self.session.send_error(rid, ErrorCode::LimitExceeded, text);
            }
        }
        let filter = Filter::new(ids.as_deref(), s.trades, s.quotes, &s.candles);
        let mut ticks = self.services.query.ticks.clone();
        let candles = filter.wants_candles().then(|| {
            let mut r = self.services.query.candles.clone();
            r.seek_to_head();
            r
        });
        let epoch = self.services.query.epoch();
        let snapshot = s
            .snapshot
            .then(|| self.services.query.snapshot(ids.as_deref(), &s.candles));
        let start = match (s.start, &snapshot) {
            (_, Some(snap)) if s.start == Start::Latest => snap.seq.0 + 1,
            (Start::Latest, _) => ticks.head() + 1,
            (Start::Seq { epoch: e, seq }, _) if e == epoch => seq.0.max(1),
            (Start::Seq { epoch: e, .. }, _) => {
                let text = format!(
                    "epoch {e} is not this server's epoch {epoch}: resume with start=latest or a seq of epoch {epoch}"
                );
                return self.session.send_error(rid, ErrorCode::NotFound, text);
            }
            (Start::Time(t), _) => self.services.query.seq_at_time(t).0,
        };
        // Records before the ring's first ever seq exist only if the journal still has them.
        let mut start = start;
        let mut pre_gap = None;
        let base = ticks.base_seq();
        let lossless = !matches!(s.start, Start::Latest);
        let journal = self.services.query.shared.journal_dir.as_deref();
        let backfill = if let Some(dir) = journal.filter(|_| start <= base) {
            Some(Box::new(JournalCursor::new(dir, Seq(start))))
        } else {
            if start <= base {
                pre_gap = Some((start, base));
                start = base + 1;
            }
            None
        };
        ticks.seek(start);
        let id = self.next_sub_id;
        self.next_sub_id += 1;
        let instruments = self.services.query.instruments(ids.as_deref());
        let ack = SubscribeAck {
            request_id: rid,
            subscription_id: id,
            epoch,
            start_seq: Seq(start),
            instruments,
        };
        self.session.send(&Message::SubscribeAck(ack));
        let sink = match &self.quic {
            Some(connection) => match connection.open_uni().await {
                Ok(stream) => Some(Sink::new(stream)),
                Err(e) => {
                    return self.session.send_error(
                        rid,
                        ErrorCode::Internal,
                        format!("cannot open a data stream: {e}"),
                    );
                }
            },
            None => None,
        };
        let mut sub = Sub {
            lossless,
            backfill,
            ids: ids.clone(),
            id,
            filter,
            ticks,
            candles,
            policy: s.policy,
            sink,
            datagrams: s.datagrams
                && self
                    .quic
                    .as_ref()
                    .is_some_and(|c| c.max_datagram_size().is_some()),
        };
        if let Some(snap) = snapshot {
            let msg = Snapshot {
                request_id: rid,
                subscription_id: id,
                epoch,
                seq: snap.seq,
                ticks: Records::Slice(&snap.ticks),
                candles: Records::Slice(&snap.candles),
            };
            sub.emit(
                &mut self.session,
                &mut self.encoder,
                &Message::Snapshot(msg),
            );
        }
        if let Some((from, to)) = pre_gap {
            let gap = Gap {
                subscription_id: id,
                epoch,
                from: Seq(from),
                to: Seq(to),
                reason: GapReason::NotRetained,
            };
            sub.emit(&mut self.session, &mut self.encoder, &Message::Gap(gap));
        }
        self.subs.push(sub);
    }
}
