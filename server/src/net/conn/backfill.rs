//! Journal reads for the delivery engine: a lossless subscription behind the ring gets the
//! records from the journal segments, read off the async runtime, a chunk per turn.

use tickd_protocol::Seq;

use super::{Conn, FRAME_RECORDS};
use crate::storage::journal::JournalCursor;

impl Conn {
    /// Reads one chunk from `from` for subscription `id` and hands it to the engine (which
    /// declares what the journal no longer has with a `Gap`).
    pub(super) async fn backfill(&mut self, id: u32, from: Seq) {
        let Some(dir) = self.services.query.shared.journal_dir.clone() else {
            return;
        };
        let mut cursor = self
            .cursors
            .remove(&id)
            .filter(|c| c.next_seq() == from)
            .unwrap_or_else(|| Box::new(JournalCursor::new(&dir, from)));
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
        if self.delivery.backfilled(id, &records, &mut self.render)
            && let Some(cursor) = cursor
        {
            self.cursors.insert(id, cursor);
        }
    }
}
