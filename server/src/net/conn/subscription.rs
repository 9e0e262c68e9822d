//! Subscription admission: limits, symbol resolution, where the stream starts (latest, a seq
//! or a time, with a `Gap` first for what is gone), the snapshot, and the QUIC stream it uses.
//! Then the delivery engine has it.

use tickd_engine::Filter;
use tickd_engine::delivery::SubSpec;
use tickd_protocol::{
    ErrorCode, Gap, GapReason, Message, Records, Selection, Seq, Snapshot, Start, Subscribe,
    SubscribeAck,
};

use super::{Conn, Sink};
use crate::net::delivery::ShmRing;
use tickd_engine::delivery::Render;

impl Conn {
    pub(super) async fn subscribe(&mut self, s: Subscribe) {
        let rid = s.request_id;
        let max_subs = self.services.session.max_subscriptions;
        if self.delivery.len() >= max_subs {
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
        let journal = self.services.query.shared.journal_dir.is_some();
        let backfill_from = if journal && start <= base {
            Some(Seq(start))
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
        // The ack goes before anything of the subscription's.
        self.collect_session();
        if let Some(connection) = &self.quic {
            match connection.open_uni().await {
                Ok(stream) => {
                    self.sinks.insert(id, Sink::new(stream));
                }
                Err(e) => {
                    return self.session.send_error(
                        rid,
                        ErrorCode::Internal,
                        format!("cannot open a data stream: {e}"),
                    );
                }
            }
        }
        let datagrams = s.datagrams
            && self
                .quic
                .as_ref()
                .is_some_and(|c| c.max_datagram_size().is_some());
        let spec = SubSpec {
            policy: s.policy,
            lossless,
            backfill_from,
            datagram_quotes: datagrams,
            own_stream: self.quic.is_some(),
            instruments: ids,
            ..SubSpec::new(id, filter)
        };
        let mut candles = self.services.query.candles.clone();
        candles.seek_to_head();
        self.delivery.add(spec, ShmRing(ticks), ShmRing(candles));
        let dest = self.delivery.dest(id);
        if let Some(snap) = snapshot {
            let msg = Snapshot {
                request_id: rid,
                subscription_id: id,
                epoch,
                seq: snap.seq,
                ticks: Records::Slice(&snap.ticks),
                candles: Records::Slice(&snap.candles),
            };
            let frame = self.render.message(&Message::Snapshot(msg));
            self.delivery.push(dest, frame);
        }
        if let Some((from, to)) = pre_gap {
            let gap = Gap {
                subscription_id: id,
                epoch,
                from: Seq(from),
                to: Seq(to),
                reason: GapReason::NotRetained,
            };
            let mut frames = Vec::new();
            self.render.gap(&gap, &mut frames);
            for frame in frames {
                self.delivery.push(dest, frame);
            }
        }
    }
}
