//! Gap fill from the journal: a lossless subscription that starts behind the ring reads the
//! missing records from the journal segments (off the async runtime), then joins the ring.

use tickd_protocol::files::TICK_SLOT_WORDS;
use tickd_protocol::{Gap, GapReason, Message, Seq};

use super::{Conn, FRAME_RECORDS};

impl Conn {
    /// Whether some subscription is catching up from the journal.
    pub(super) fn backfilling(&self) -> bool {
        self.subs.iter().any(|s| s.backfill.is_some())
    }

    /// One journal chunk for every subscription that is catching up: records the ring no
    /// longer holds, in seq order, then back to the ring as soon as it holds the next one. A
    /// range the journal no longer has either is declared with a `Gap` (never skipped).
    pub(super) async fn backfill(&mut self) {
        if self.services.query.shared.journal_dir.is_none() {
            return;
        }
        let epoch = self.services.query.epoch();
        let mut probe_buf = [0u64; TICK_SLOT_WORDS];
        for sub in &mut self.subs {
            let Some(mut cursor) = sub.backfill.take() else {
                continue;
            };
            let from = cursor.next_seq();
            let mut probe = sub.ticks.clone();
            probe.seek(from.0);
            if !matches!(
                probe.try_read(&mut probe_buf),
                tickd_shm::ReadOutcome::Overrun { .. }
            ) {
                sub.ticks.seek(from.0);
                continue;
            }
            let chunk = tokio::task::spawn_blocking(move || {
                let records = cursor.read(FRAME_RECORDS);
                (cursor, records)
            })
            .await;
            let (cursor, records) = match chunk {
                Ok((cursor, Ok(r))) => (Some(cursor), r),
                Ok((cursor, Err(e))) => {
                    tracing::warn!("journal read for gap fill: {e:#}");
                    (Some(cursor), Vec::new())
                }
                Err(_) => (None, Vec::new()),
            };
            let first = records.first().map(|t| Seq(t.seq));
            if first != Some(from) {
                // Not in the journal either: declare exactly what is lost.
                let resume = first.unwrap_or_else(|| {
                    let mut r = sub.ticks.clone();
                    r.seek(from.0);
                    match r.try_read(&mut probe_buf) {
                        tickd_shm::ReadOutcome::Overrun { oldest } => Seq(oldest),
                        _ => from,
                    }
                });
                let gap = Gap {
                    subscription_id: sub.id,
                    epoch,
                    from,
                    to: Seq(resume.0.saturating_sub(1)),
                    reason: GapReason::NotRetained,
                };
                crate::metrics::gap("not_retained");
                sub.emit(&mut self.session, &mut self.encoder, &Message::Gap(gap));
                if first.is_none() {
                    sub.ticks.seek(resume.0);
                    continue;
                }
            }
            self.out_ticks.clear();
            self.out_ticks
                .extend(records.iter().filter(|t| sub.filter.matches_tick(t)));
            sub.emit_ticks(&mut self.session, &mut self.encoder, epoch, &self.out_ticks);
            crate::metrics::backfilled(records.len() as u64);
            // The cursor is past the last record returned; it reads on from there.
            sub.backfill = cursor.filter(|_| !records.is_empty());
        }
    }
}
