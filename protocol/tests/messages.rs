//! Every message survives encode → frame → verify → decode, and hostile bytes are rejected
//! with the right error instead of a panic.

use bytes::BytesMut;
use proptest::prelude::*;
use tickd_protocol::*;

fn trade(seq: u64) -> TickRecord {
    let mut r = TickRecord::new_trade(
        InstrumentId(3),
        UnixNanos(1_696_680_000_000_000_000 + seq),
        Side::Sell,
        &Trade {
            price: Price::from_raw(171_230_000_000 + seq as i64),
            size: Quantity::from_units(100).unwrap(),
            trade_id: seq,
            venue: 2,
            conditions: 0,
        },
    );
    r.seq = seq;
    r.ts_recv = r.ts_event + 5;
    r
}

fn candle() -> CandleRecord {
    let mut c = CandleRecord {
        instrument_id: 3,
        interval_s: 60,
        ts_open: 1_696_680_000_000_000_000,
        open: 1,
        high: 4,
        low: -2,
        close: 3,
        volume: 500,
        trades: 5,
        version: 2,
        flags: CandleRecord::CLOSED,
        last_seq: 77,
        ts_last_event: 1_696_680_059_000_000_000,
        ..CandleRecord::default()
    };
    c.set_notional(-12345678901234567890123456789);
    c
}

fn round_trip(msg: &Message<'_>) {
    let mut enc = Encoder::new();
    let mut wire = BytesMut::new();
    enc.encode(msg, &mut wire);
    let frame = split_frame(&mut wire, MAX_FRAME_LEN)
        .unwrap()
        .expect("whole frame");
    assert!(wire.is_empty());
    let back = Message::decode(&frame).unwrap();
    assert_eq!(&back, msg);
}

#[test]
fn every_message_round_trips() {
    let ticks: Vec<_> = (1..=64).map(trade).collect();
    let candles = [
        candle(),
        CandleRecord {
            interval_s: 86_400,
            ..candle()
        },
    ];
    let sym = |s: &str| Symbol::new(s).unwrap();
    let msgs = [
        Message::Hello(Hello {
            request_id: 1,
            min_version: 1,
            max_version: 3,
            client_name: "test".into(),
            token: Some("secret".into()),
        }),
        Message::Hello(Hello {
            request_id: 1,
            min_version: 1,
            max_version: 1,
            client_name: String::new(),
            token: None,
        }),
        Message::Welcome(Welcome {
            request_id: 1,
            version: 1,
            server_name: "tickd".into(),
            epoch: Epoch(9),
            head_seq: Seq(1_000),
            server_time: UnixNanos(5),
            heartbeat_interval_ms: 1_000,
            max_frame_len: MAX_FRAME_LEN,
            roles: Roles::SUBSCRIBE.union(Roles::PUBLISH),
        }),
        Message::Subscribe(Subscribe {
            request_id: 2,
            selection: Selection::Symbols(vec![sym("AAPL"), sym("BRK.B")]),
            trades: true,
            quotes: false,
            candles: vec![Interval::M1, Interval::D1],
            start: Start::Seq {
                epoch: Epoch(9),
                seq: Seq(500),
            },
            snapshot: true,
            policy: SlowConsumerPolicy::Drop,
            datagrams: true,
        }),
        Message::Subscribe(Subscribe {
            request_id: 3,
            selection: Selection::All,
            trades: false,
            quotes: true,
            candles: vec![],
            start: Start::Time(UnixNanos(77)),
            snapshot: false,
            policy: SlowConsumerPolicy::Disconnect,
            datagrams: false,
        }),
        Message::SubscribeAck(SubscribeAck {
            request_id: 2,
            subscription_id: 1,
            epoch: Epoch(9),
            start_seq: Seq(500),
            instruments: vec![Instrument {
                id: InstrumentId(0),
                symbol: sym("AAPL"),
                scales: Scales::DEFAULT,
            }],
        }),
        Message::Unsubscribe(Unsubscribe {
            request_id: 4,
            subscription_id: 1,
        }),
        Message::TickBatch(TickBatch {
            subscription_id: 1,
            epoch: Epoch(9),
            ticks: Records::Slice(&ticks),
        }),
        Message::CandleBatch(CandleBatch {
            subscription_id: 1,
            epoch: Epoch(9),
            candles: Records::Slice(&candles),
        }),
        Message::Snapshot(Snapshot {
            request_id: 2,
            subscription_id: 1,
            epoch: Epoch(9),
            seq: Seq(499),
            ticks: Records::Slice(&ticks[..2]),
            candles: Records::Slice(&candles[..1]),
        }),
        Message::Gap(Gap {
            subscription_id: 1,
            epoch: Epoch(9),
            from: Seq(10),
            to: Seq(20),
            reason: GapReason::Overrun,
        }),
        Message::Gap(Gap {
            subscription_id: 1,
            epoch: Epoch(9),
            from: Seq(21),
            to: Seq(21),
            reason: GapReason::Venue(tickd_protocol::VenueHole {
                instrument: tickd_protocol::InstrumentId(3),
                from_trade_id: 100,
                to_trade_id: u64::MAX,
            }),
        }),
        Message::Heartbeat(Heartbeat {
            epoch: Epoch(9),
            head_seq: Seq(1),
            server_time: UnixNanos(2),
        }),
        Message::Publish(Publish {
            request_id: 5,
            symbols: vec![sym("MSFT")],
            scales: vec![Scales::new(8, 0).unwrap()],
            ticks: Records::Slice(&ticks[..3]),
        }),
        Message::PublishAck(PublishAck {
            request_id: 5,
            epoch: Epoch(9),
            first_seq: Seq(1_001),
            last_seq: Seq(1_002),
            accepted: 2,
            rejected: vec![Rejection {
                index: 1,
                reason: "crossed quote".into(),
            }],
        }),
        Message::Query(Query {
            request_id: 6,
            spec: QuerySpec::Candles {
                symbol: sym("AAPL"),
                interval: Interval::M5,
                from: Some(UnixNanos(1)),
                to: None,
                limit: Some(10),
                fill_previous: true,
            },
        }),
        Message::Query(Query {
            request_id: 7,
            spec: QuerySpec::Latest {
                symbols: vec![sym("IBM")],
                page: Default::default(),
            },
        }),
        Message::Query(Query {
            request_id: 8,
            spec: QuerySpec::Symbols {
                prefix: "A".into(),
                page: tickd_protocol::Page {
                    from_id: 4_096,
                    limit: Some(100),
                },
            },
        }),
        Message::QueryResult(QueryResult {
            request_id: 6,
            epoch: Epoch(9),
            head_seq: Seq(1_002),
            candles: Records::Slice(&candles),
            ticks: Records::Slice(&ticks[..1]),
            instruments: vec![Instrument {
                id: InstrumentId(3),
                symbol: sym("IBM"),
                scales: Scales::new(2, 0).unwrap(),
            }],
            feeds: vec![FeedStat {
                name: "replay".into(),
                ingested: 5,
                skipped: 1,
                finished: true,
                error: String::new(),
            }],
            next_id: Some(InstrumentId(4)),
        }),
        Message::Query(Query {
            request_id: 9,
            spec: QuerySpec::Stats,
        }),
        Message::Error(ErrorMessage {
            request_id: 6,
            code: ErrorCode::UnknownSymbol,
            message: "unknown symbol \"XYZ\"".into(),
        }),
    ];
    for m in &msgs {
        round_trip(m);
    }
}

#[test]
fn tick_batch_payload_holds_records_verbatim() {
    let ticks: Vec<_> = (1..=64).map(trade).collect();
    let mut enc = Encoder::new();
    let payload = enc
        .payload(&Message::TickBatch(TickBatch {
            subscription_id: 1,
            epoch: Epoch(1),
            ticks: Records::Slice(&ticks),
        }))
        .to_vec();
    let mut expected = Vec::new();
    for t in &ticks {
        expected.extend_from_slice(&t.to_le_bytes());
    }
    let at = payload
        .windows(expected.len())
        .position(|w| w == expected.as_slice());
    assert!(
        at.is_some(),
        "the 64 records appear contiguously, byte for byte, in the payload"
    );
    assert_eq!(&payload[4..8], b"TICK");
}

#[test]
fn rejects_wrong_identifier_and_garbage() {
    let mut enc = Encoder::new();
    let mut payload = enc
        .payload(&Message::Heartbeat(Heartbeat {
            epoch: Epoch(1),
            head_seq: Seq(1),
            server_time: UnixNanos(1),
        }))
        .to_vec();
    payload[4..8].copy_from_slice(b"NOPE");
    let err = Message::decode(&payload).unwrap_err();
    assert_eq!(err, DecodeError::WrongIdentifier);
    assert!(err.is_fatal());

    let mut garbage = vec![0xff; 64];
    garbage[4..8].copy_from_slice(b"TICK");
    let err = Message::decode(&garbage).unwrap_err();
    assert!(matches!(err, DecodeError::Malformed(_)), "{err:?}");
    assert!(err.is_fatal());
    assert_eq!(err.code(), ErrorCode::MalformedFrame);

    assert_eq!(
        Message::decode(&[]).unwrap_err(),
        DecodeError::WrongIdentifier
    );
}

#[test]
fn invalid_symbols_are_rejected_with_their_index() {
    // Encode a Publish through the raw schema path with a symbol the typed API cannot build.
    let err = decode_publish_with_symbols(&["AAPL", "BAD SYM"]);
    match err {
        DecodeError::InvalidSymbol {
            field,
            index,
            source,
        } => {
            assert_eq!(field, "publish.symbols");
            assert_eq!(index, 1);
            assert_eq!(source, SymbolError::InvalidChar { ch: ' ', pos: 3 });
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Builds a Publish whose symbol list skips validation, by encoding valid placeholders of the
/// same length and patching the bytes.
fn decode_publish_with_symbols(symbols: &[&str]) -> DecodeError {
    let placeholder = |i: usize, len: usize| char::from(b'K' + i as u8).to_string().repeat(len);
    let placeholders: Vec<Symbol> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| Symbol::new(&placeholder(i, s.len())).unwrap())
        .collect();
    let mut enc = Encoder::new();
    let mut payload = enc
        .payload(&Message::Publish(Publish {
            request_id: 1,
            symbols: placeholders,
            scales: Vec::new(),
            ticks: Records::Slice(&[]),
        }))
        .to_vec();
    for (i, s) in symbols.iter().enumerate() {
        let ph = placeholder(i, s.len());
        let at = payload
            .windows(ph.len())
            .position(|w| w == ph.as_bytes())
            .unwrap();
        payload[at..at + s.len()].copy_from_slice(s.as_bytes());
    }
    Message::decode(&payload).unwrap_err()
}

proptest! {
    /// Decoding arbitrary bytes (with or without the identifier) never panics.
    #[test]
    fn prop_decode_never_panics(mut bytes in prop::collection::vec(any::<u8>(), 0..512), tag in any::<bool>()) {
        if tag && bytes.len() >= 8 {
            bytes[4..8].copy_from_slice(b"TICK");
        }
        // Whatever verified must be fully readable.
        if let Ok(Message::TickBatch(b)) = Message::decode(&bytes) {
            let _ = b.ticks.iter().count();
        }
    }

    /// Flipping any byte of a valid frame never panics the decoder.
    #[test]
    fn prop_corrupted_frames_never_panic(idx in 0usize..4096, val in any::<u8>()) {
        let ticks: Vec<_> = (1..=8).map(trade).collect();
        let mut payload = Encoder::new()
            .payload(&Message::TickBatch(TickBatch { subscription_id: 1, epoch: Epoch(1), ticks: Records::Slice(&ticks) }))
            .to_vec();
        let i = idx % payload.len();
        payload[i] = val;
        let _ = Message::decode(&payload);
    }
}

#[test]
fn an_unknown_message_type_is_not_fatal() {
    let p = tickd_protocol::message::testing::unknown_message(99);
    let err = Message::decode(&p).unwrap_err();
    assert_eq!(err, DecodeError::UnsupportedMessage(99));
    assert!(!err.is_fatal());
    assert_eq!(err.code(), ErrorCode::UnsupportedMessage);
}
