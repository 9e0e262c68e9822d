//! Ring delivery: per wake-up, every subscription encodes what is available since its cursor
//! (bounded per frame and per wake-up), and applies its slow-consumer policy when the ring has
//! lapped it: conflate, drop with a `Gap`, or disconnect.

use crate::storage::journal::JournalCursor;
use tickd_protocol::files::candle_from_slot;
use tickd_protocol::tick_frame::TickBatchFrame;
use tickd_protocol::{
    CandleBatch, ErrorCode, Gap, GapReason, Message, Records, Seq, SlowConsumerPolicy, TickBatch,
    TickRecord,
};

use super::sink::emit_to;
use super::{Conn, ConnError, FRAMES_PER_WAKE};
use crate::clock;

impl Conn {
    /// Encodes what is available for every subscription. Returns whether more is waiting.
    pub(super) fn deliver(&mut self) -> Result<bool, ConnError> {
        let epoch = self.services.query.epoch();
        let mut frames = 0;
        let mut sent_any = false;
        let can_backfill = self.services.query.shared.journal_dir.is_some();
        let head = self.services.query.head().0;
        let transport = if self.quic.is_some() { "quic" } else { "tcp" };
        for sub in &mut self.subs {
            while frames < FRAMES_PER_WAKE && sub.backfill.is_none() {
                match sub.ticks.read_batch(&mut self.tick_buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        // Written straight from the ring words into the frame (one copy).
                        let out = match &mut sub.sink {
                            Some(sink) => &mut sink.building,
                            None => &mut self.scratch,
                        };
                        let mut frame = TickBatchFrame::begin(out, sub.id, epoch, n);
                        for w in &self.tick_buf[..n] {
                            let t = TickRecord::from_words(w);
                            if !sub.filter.matches_tick(&t) {
                                continue;
                            }
                            if sub.datagrams && t.kind() == Some(tickd_protocol::TickKind::Quote) {
                                // Conflated: keep only the latest quote per instrument.
                                self.latest_quotes.insert(t.instrument_id, t);
                            } else {
                                frame.push_words(w);
                            }
                        }
                        if frame.finish() > 0 {
                            match &mut sub.sink {
                                Some(sink) => sink.seal(),
                                None => self.session.send_frame(self.scratch.split().freeze()),
                            }
                            frames += 1;
                            sent_any = true;
                        }
                    }
                    Err(_)
                        if sub.lossless
                            && can_backfill
                            && sub.policy != SlowConsumerPolicy::Disconnect =>
                    {
                        // Fill from the journal, then rejoin the ring.
                        if let Some(dir) = &self.services.query.shared.journal_dir {
                            let from = Seq(sub.ticks.next_seq());
                            sub.backfill = Some(Box::new(JournalCursor::new(dir, from)));
                        }
                        break;
                    }
                    Err(_) if sub.policy == SlowConsumerPolicy::Conflate => {
                        // Skip to now, with the latest record per instrument and kind.
                        let snap = self.services.query.snapshot(sub.ids.as_deref(), &[]);
                        let gap = Gap {
                            subscription_id: sub.id,
                            epoch,
                            from: Seq(sub.ticks.next_seq()),
                            to: snap.seq,
                            reason: GapReason::Conflated,
                        };
                        crate::metrics::gap("conflated");
                        sub.emit(&mut self.session, &mut self.encoder, &Message::Gap(gap));
                        let mut latest: Vec<TickRecord> = snap
                            .ticks
                            .into_iter()
                            .filter(|t| sub.filter.matches_tick(t))
                            .collect();
                        latest.sort_by_key(|t| t.seq);
                        sub.emit_ticks(&mut self.session, &mut self.encoder, epoch, &latest);
                        sub.ticks.seek(snap.seq.next().0);
                        frames += 1;
                    }
                    Err(oldest) => {
                        let gap = Gap {
                            subscription_id: sub.id,
                            epoch,
                            from: Seq(sub.ticks.next_seq()),
                            to: Seq(oldest - 1),
                            reason: GapReason::Overrun,
                        };
                        crate::metrics::gap("overrun");
                        sub.emit(&mut self.session, &mut self.encoder, &Message::Gap(gap));
                        if sub.policy == SlowConsumerPolicy::Disconnect {
                            self.session.send_error(
                                0,
                                ErrorCode::LimitExceeded,
                                "slow consumer: fell behind the ring, disconnecting",
                            );
                            crate::metrics::slow_consumer_disconnect();
                            return Err(ConnError::SlowConsumer);
                        }
                        sub.ticks.seek(oldest);
                        frames += 1;
                    }
                }
            }
            crate::metrics::subscriber_lag(
                transport,
                head.saturating_sub(sub.ticks.next_seq().saturating_sub(1)),
            );
            if !self.latest_quotes.is_empty() {
                if let Some(connection) = &self.quic {
                    for (_, q) in self.latest_quotes.drain() {
                        let quote = [q];
                        let msg = TickBatch {
                            subscription_id: sub.id,
                            epoch,
                            ticks: Records::Slice(&quote),
                        };
                        let payload = bytes::Bytes::copy_from_slice(
                            self.encoder.payload(&Message::TickBatch(msg)),
                        );
                        // Unreliable by design: a datagram the path drops is superseded by the next.
                        let _ = connection.send_datagram(payload);
                    }
                }
                self.latest_quotes.clear();
            }
            if let Some(candles) = &mut sub.candles {
                loop {
                    match candles.read_batch(&mut self.candle_buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            self.out_candles.clear();
                            self.out_candles.extend(
                                self.candle_buf[..n]
                                    .iter()
                                    .map(candle_from_slot)
                                    .filter(|c| sub.filter.matches_candle(c)),
                            );
                            if !self.out_candles.is_empty() {
                                let batch = CandleBatch {
                                    subscription_id: sub.id,
                                    epoch,
                                    candles: Records::Slice(&self.out_candles),
                                };
                                emit_to(
                                    &mut sub.sink,
                                    &mut self.session,
                                    &mut self.encoder,
                                    &Message::CandleBatch(batch),
                                );
                                sent_any = true;
                            }
                        }
                        // Candle updates are conflatable: skip to the oldest still held.
                        Err(oldest) => candles.seek(oldest),
                    }
                }
            }
        }
        if sent_any {
            self.session.data_sent(clock::now());
        }
        Ok(frames >= FRAMES_PER_WAKE)
    }
}
