//! Publishing over a connection: a `Publish` goes to the sequencer's queue, and its
//! `PublishAck` (or error) comes back once the batch is sequenced and journaled.

use std::time::Duration;

use crossbeam::channel::TrySendError;
use tickd_engine::PublishRequest;
use tickd_protocol::{ErrorCode, Message, PublishAck, Rejection, Seq};

use super::Conn;
use crate::ingest::input::Input;

impl Conn {
    pub(super) async fn publish(&mut self, req: PublishRequest) {
        let request_id = req.request_id;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let publisher = self.session.token_name().unwrap_or("anonymous").to_owned();
        let mut input = Input::Publish {
            req,
            publisher,
            reply,
        };
        loop {
            match self.services.query.shared.input.try_send(input) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) => {
                    input = back;
                    tokio::time::sleep(Duration::from_micros(100)).await;
                }
                Err(TrySendError::Disconnected(_)) => {
                    return self.session.send_error(
                        request_id,
                        ErrorCode::Internal,
                        "the sequencer has stopped",
                    );
                }
            }
        }
        let Ok(outcome) = answer.await else {
            return self.session.send_error(
                request_id,
                ErrorCode::Internal,
                "the server is shutting down",
            );
        };
        if let Some((code, message)) = outcome.error {
            return self.session.send_error(request_id, code, &message);
        }
        // On the wire, 0..=0 says nothing was sequenced.
        let (first_seq, last_seq) = outcome
            .batch
            .seqs
            .clone()
            .map_or((Seq(0), Seq(0)), |r| (*r.start(), *r.end()));
        let ack = PublishAck {
            request_id,
            epoch: self.services.query.epoch(),
            first_seq,
            last_seq,
            accepted: outcome.batch.accepted,
            rejected: outcome
                .rejected
                .iter()
                .map(|(index, reason)| Rejection {
                    index: *index,
                    reason: reason.to_string(),
                })
                .collect(),
        };
        self.session.send(&Message::PublishAck(ack));
    }
}
