//! Deterministic simulation of the delivery engine: a feed writing to in-memory rings, and
//! readers that drain the connection's queue at a rate set per virtual step (fast, slow,
//! stalled, bursty). No sockets, no clock, no sleeps: each step is one publish + one poll +
//! the reader taking its bytes, so every run is the same and every figure exact.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use tickd_engine::Filter;
use tickd_engine::delivery::{Binary, Delivery, DeliveryConfig, Dest, Ring, Store, SubSpec};
use tickd_protocol::files::{CANDLE_SLOT_WORDS, TICK_SLOT_WORDS, candle_slot};
use tickd_protocol::{
    CandleRecord, Epoch, GapReason, InstrumentId, Message, Price, Quantity, Quote, Seq, Side,
    SlowConsumerPolicy, TickRecord, Trade, UnixNanos, split_frame,
};

/// An in-memory broadcast ring: every record ever written is kept (so the test knows what was
/// lost), but a reader sees only the last `capacity`, like the shm ring.
struct SimRing<const W: usize> {
    log: Rc<RefCell<Vec<[u64; W]>>>,
    capacity: u64,
    next: u64,
}

impl<const W: usize> SimRing<W> {
    fn oldest(&self) -> u64 {
        let head = self.head();
        (head + 1).saturating_sub(self.capacity).max(1)
    }
}

impl<const W: usize> Ring<W> for SimRing<W> {
    fn read_batch(&mut self, out: &mut [[u64; W]]) -> Result<usize, u64> {
        let head = self.head();
        let oldest = self.oldest();
        if self.next < oldest {
            return Err(oldest);
        }
        let log = self.log.borrow();
        let mut n = 0;
        while n < out.len() && self.next <= head {
            out[n] = log[(self.next - 1) as usize];
            self.next += 1;
            n += 1;
        }
        Ok(n)
    }
    fn seek(&mut self, seq: u64) {
        self.next = seq.max(1);
    }
    fn next_seq(&self) -> u64 {
        self.next
    }
    fn head(&self) -> u64 {
        self.log.borrow().len() as u64
    }
    fn holds(&self, seq: u64) -> Result<(), u64> {
        if seq < self.oldest() {
            Err(self.oldest())
        } else {
            Ok(())
        }
    }
}

/// The feed: a tick ring, a candle ring, the latest tick per instrument and kind, and the
/// journal (every tick, as the server's journal keeps them).
struct Feed {
    ticks: Rc<RefCell<Vec<[u64; TICK_SLOT_WORDS]>>>,
    candles: Rc<RefCell<Vec<[u64; CANDLE_SLOT_WORDS]>>>,
    capacity: u64,
    journal: bool,
}

impl Feed {
    fn new(capacity: u64) -> Self {
        Self {
            ticks: Rc::default(),
            candles: Rc::default(),
            capacity,
            journal: false,
        }
    }

    fn tick_reader(&self) -> SimRing<TICK_SLOT_WORDS> {
        let mut r = SimRing {
            log: Rc::clone(&self.ticks),
            capacity: self.capacity,
            next: 0,
        };
        r.next = r.head() + 1;
        r
    }

    fn candle_reader(&self) -> SimRing<CANDLE_SLOT_WORDS> {
        let mut r = SimRing {
            log: Rc::clone(&self.candles),
            capacity: self.capacity,
            next: 0,
        };
        r.next = r.head() + 1;
        r
    }

    /// Writes `n` ticks: instrument `seq % 4`, a trade when seq is odd, else a quote.
    fn publish(&self, n: usize) {
        let mut log = self.ticks.borrow_mut();
        for _ in 0..n {
            let seq = log.len() as u64 + 1;
            let id = InstrumentId((seq % 4) as u32);
            let mut t = if seq % 2 == 1 {
                let trade = Trade {
                    price: Price::from_raw(seq as i64),
                    size: Quantity::from_raw(1),
                    trade_id: seq,
                    venue: 0,
                    conditions: 0,
                };
                TickRecord::new_trade(id, UnixNanos(seq), Side::Buy, &trade)
            } else {
                let quote = Quote {
                    bid_px: Price::from_raw(seq as i64),
                    bid_sz: Quantity::from_raw(1),
                    ask_px: Price::from_raw(seq as i64 + 1),
                    ask_sz: Quantity::from_raw(1),
                };
                TickRecord::new_quote(id, UnixNanos(seq), &quote)
            };
            t.seq = seq;
            log.push(t.to_words());
        }
    }

    fn publish_candles(&self, n: usize) {
        let mut log = self.candles.borrow_mut();
        for k in 0..n {
            let c = CandleRecord {
                instrument_id: (k % 4) as u32,
                interval_s: 60,
                ts_open: k as u64,
                ..CandleRecord::default()
            };
            log.push(candle_slot(&c));
        }
    }

    fn record(&self, seq: u64) -> TickRecord {
        TickRecord::from_words(&self.ticks.borrow()[(seq - 1) as usize])
    }
}

impl Store for Feed {
    fn latest(&mut self, instruments: Option<&[InstrumentId]>) -> (Seq, Vec<TickRecord>) {
        let log = self.ticks.borrow();
        let head = log.len() as u64;
        let mut latest: Vec<TickRecord> = Vec::new();
        for w in log.iter().rev() {
            let t = TickRecord::from_words(w);
            let wanted = instruments.is_none_or(|ids| ids.contains(&t.instrument()));
            if wanted
                && !latest
                    .iter()
                    .any(|l| l.instrument_id == t.instrument_id && l.kind == t.kind)
            {
                latest.push(t);
            }
        }
        (Seq(head), latest)
    }

    fn has_journal(&self) -> bool {
        self.journal
    }
}

type Engine = Delivery<SimRing<TICK_SLOT_WORDS>, SimRing<CANDLE_SLOT_WORDS>>;

/// What a client decoded from the frames it read.
#[derive(Default)]
struct Client {
    seqs: Vec<u64>,
    gaps: Vec<(u64, u64, GapReason)>,
    candles: usize,
    other: usize,
    /// Most bytes the engine held queued at any step.
    peak_queued: usize,
    bytes: usize,
}

impl Client {
    /// Takes whole frames while fewer than `budget` bytes are taken.
    fn read(&mut self, engine: &mut Engine, budget: usize) {
        self.peak_queued = self.peak_queued.max(engine.queued());
        let mut taken = 0;
        while taken < budget {
            let Some((dest, frame)) = engine.pop() else {
                break;
            };
            assert_eq!(dest, Dest::Control);
            taken += frame.len();
            self.decode(frame);
        }
        self.bytes += taken;
    }

    fn decode(&mut self, frame: Bytes) {
        let mut buf = BytesMut::from(&frame[..]);
        let payload = split_frame(&mut buf, 1 << 24).unwrap().unwrap();
        assert!(buf.is_empty(), "one frame per queue entry");
        match Message::decode(&payload).unwrap() {
            Message::TickBatch(b) => self.seqs.extend(b.ticks.iter().map(|t| t.seq)),
            Message::Gap(g) => self.gaps.push((g.from.0, g.to.0, g.reason)),
            Message::CandleBatch(b) => self.candles += b.candles.len(),
            _ => self.other += 1,
        }
    }
}

/// Asserts `got` is exactly `want`, naming the first difference (not printing 30,000 seqs).
#[track_caller]
fn assert_seqs(got: &[u64], want: impl IntoIterator<Item = u64>) {
    let want: Vec<u64> = want.into_iter().collect();
    if let Some(i) = got.iter().zip(&want).position(|(g, w)| g != w) {
        panic!("seq #{i}: got {}, want {}", got[i], want[i]);
    }
    assert_eq!(got.len(), want.len(), "count of seqs");
}

fn config(budget: usize) -> DeliveryConfig {
    DeliveryConfig {
        budget,
        frame_records: 64,
        frames_per_poll: 8,
    }
}

fn all_ticks(id: u32, policy: SlowConsumerPolicy) -> SubSpec {
    SubSpec {
        policy,
        ..SubSpec::new(id, Filter::new(None, true, true, &[]))
    }
}

/// One tick frame of 64 records, at most: 64 × 64 bytes, the header and the length prefix.
const FRAME: usize = 64 * 64 + 128;

/// Runs `steps` steps: publish `rate` ticks, poll until nothing more, let the client read
/// `read(step)` bytes (`usize::MAX`: it reads until it has caught up, polling as it goes).
fn run(
    feed: &mut Feed,
    engine: &mut Engine,
    client: &mut Client,
    steps: usize,
    rate: usize,
    read: impl Fn(usize) -> usize,
) {
    let mut render = Binary::new();
    for step in 0..steps {
        feed.publish(rate);
        while engine.poll(feed, &mut render).unwrap() {}
        client.peak_queued = client.peak_queued.max(engine.queued());
        let want = read(step);
        client.read(engine, want);
        while want == usize::MAX && engine.poll(feed, &mut render).unwrap() | (engine.queued() > 0)
        {
            client.read(engine, want);
        }
    }
}

fn drain(feed: &mut Feed, engine: &mut Engine, client: &mut Client) {
    let mut render = Binary::new();
    loop {
        while engine.poll(feed, &mut render).unwrap() {}
        while let Some(backfill) = engine.backfill_wanted() {
            fill(feed, engine, backfill, &mut render);
        }
        if engine.queued() == 0 {
            break;
        }
        client.read(engine, usize::MAX);
    }
}

/// The shell's part of a journal fill: up to 100 records from `from`.
fn fill(feed: &Feed, engine: &mut Engine, (id, from): (u32, Seq), render: &mut Binary) {
    let head = feed.ticks.borrow().len() as u64;
    let records: Vec<TickRecord> = (from.0..=head.min(from.0 + 99))
        .map(|s| feed.record(s))
        .collect();
    engine.backfilled(id, &records, render);
}

#[test]
fn a_fast_reader_gets_every_tick_in_order() {
    let mut feed = Feed::new(1024);
    let mut engine = Engine::new(config(64 * 1024), Epoch(1));
    engine.add(
        all_ticks(1, SlowConsumerPolicy::Drop),
        feed.tick_reader(),
        feed.candle_reader(),
    );
    let mut client = Client::default();
    run(&mut feed, &mut engine, &mut client, 200, 100, |_| {
        usize::MAX
    });
    drain(&mut feed, &mut engine, &mut client);
    assert_seqs(&client.seqs, 1..=20_000);
    assert!(client.gaps.is_empty());
}

#[test]
fn a_stalled_reader_holds_at_most_the_budget_then_gets_a_gap() {
    let budget = 16 * 1024;
    let mut feed = Feed::new(1024);
    let mut engine = Engine::new(config(budget), Epoch(1));
    engine.add(
        all_ticks(1, SlowConsumerPolicy::Drop),
        feed.tick_reader(),
        feed.candle_reader(),
    );
    let mut client = Client::default();
    // Stalled for 100 steps of 100 ticks: 10,000 ticks published, the ring holds 1,024.
    run(&mut feed, &mut engine, &mut client, 100, 100, |_| 0);
    // Never more than the budget and one frame, however long the stall.
    assert!(
        client.peak_queued < budget + FRAME,
        "peak {}",
        client.peak_queued
    );
    assert_eq!(client.seqs.len(), 0);
    drain(&mut feed, &mut engine, &mut client);
    // Before the stall was noticed: the budget's worth; then a gap to the oldest held.
    let taken = client.seqs.len() - 1024;
    let last_before = client.seqs[taken - 1];
    assert_seqs(&client.seqs[..taken], 1..=last_before);
    assert_eq!(
        client.gaps,
        vec![(last_before + 1, 10_000 - 1024, GapReason::Overrun)]
    );
    assert_seqs(&client.seqs[taken..], 10_000 - 1023..=10_000);
}

#[test]
fn a_slow_reader_with_conflate_gets_the_latest_tick_per_instrument_and_kind() {
    let budget = 16 * 1024;
    let mut feed = Feed::new(1024);
    let mut engine = Engine::new(config(budget), Epoch(1));
    engine.add(
        all_ticks(1, SlowConsumerPolicy::Conflate),
        feed.tick_reader(),
        feed.candle_reader(),
    );
    let mut client = Client::default();
    // Reads 2 KiB per step while 100 ticks (6.4 KiB) arrive: it falls behind.
    run(&mut feed, &mut engine, &mut client, 100, 100, |_| 2048);
    assert!(client.peak_queued < budget + FRAME);
    drain(&mut feed, &mut engine, &mut client);
    assert!(!client.gaps.is_empty());
    for (from, to, reason) in &client.gaps {
        assert_eq!(*reason, GapReason::Conflated);
        assert!(from <= to);
    }
    // Seqs only ever increase, and the last ones are the feed's last (nothing stale at the end).
    assert!(client.seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(client.seqs.last(), Some(&10_000));
    // The catch-up after the last gap: the latest trade and quote of each of 4 instruments
    // as of the gap's end, then the live stream.
    let (_, to, _) = *client.gaps.last().unwrap();
    let after: Vec<u64> = client.seqs.iter().copied().filter(|s| *s <= to).collect();
    let tail: Vec<u64> = after[after.len() - 4..].to_vec();
    assert_eq!(tail, vec![to - 3, to - 2, to - 1, to]);
}

#[test]
fn a_lapped_disconnect_subscriber_ends_the_connection_even_while_over_budget() {
    let budget = 16 * 1024;
    let mut feed = Feed::new(1024);
    let mut engine = Engine::new(config(budget), Epoch(1));
    engine.add(
        all_ticks(7, SlowConsumerPolicy::Disconnect),
        feed.tick_reader(),
        feed.candle_reader(),
    );
    let mut render = Binary::new();
    let mut outcome = Ok(false);
    let mut steps = 0;
    while outcome.is_ok() && steps < 100 {
        feed.publish(100);
        outcome = engine.poll(&mut feed, &mut render);
        steps += 1;
    }
    let err = outcome.unwrap_err();
    assert_eq!(err.subscription, 7);
    // Lapped at the first poll after the ring no longer held its next seq.
    // Two steps of 100 ticks (a frame of 64 and one of 36 each) and one frame of 64 fill the
    // 16 KiB budget: 264 ticks rendered, lapped from 265.
    assert_eq!(err.gap.from, Seq(265));
    assert_eq!(err.gap.reason, GapReason::Overrun);
    assert!(engine.queued() < budget + 2 * FRAME);
}

#[test]
fn a_bursty_reader_within_the_ring_loses_nothing() {
    let mut feed = Feed::new(4096);
    let mut engine = Engine::new(config(32 * 1024), Epoch(1));
    engine.add(
        all_ticks(1, SlowConsumerPolicy::Drop),
        feed.tick_reader(),
        feed.candle_reader(),
    );
    let mut client = Client::default();
    // Reads nothing for 9 steps, then everything: 900 ticks behind at most, in a 4,096 ring.
    run(&mut feed, &mut engine, &mut client, 300, 100, |s| {
        if s % 10 == 9 { usize::MAX } else { 0 }
    });
    drain(&mut feed, &mut engine, &mut client);
    assert_seqs(&client.seqs, 1..=30_000);
    assert!(client.gaps.is_empty());
    assert!(client.peak_queued < 32 * 1024 + FRAME);
}

#[test]
fn a_lossless_resume_is_filled_from_the_journal_without_a_gap() {
    let mut feed = Feed::new(1024);
    feed.journal = true;
    feed.publish(5_000);
    let mut engine = Engine::new(config(16 * 1024), Epoch(1));
    let mut ticks = feed.tick_reader();
    ticks.seek(100);
    let spec = SubSpec {
        lossless: true,
        backfill_from: Some(Seq(100)),
        ..all_ticks(1, SlowConsumerPolicy::Drop)
    };
    engine.add(spec, ticks, feed.candle_reader());
    let mut client = Client::default();
    // The reader is slow while the feed goes on: the fill and the ring both lap it.
    let mut render = Binary::new();
    for _ in 0..200 {
        feed.publish(50);
        while engine.poll(&mut feed, &mut render).unwrap() {}
        if let Some(b) = engine.backfill_wanted() {
            fill(&feed, &mut engine, b, &mut render);
        }
        client.read(&mut engine, 4 * 1024);
    }
    drain(&mut feed, &mut engine, &mut client);
    assert_seqs(&client.seqs, 100..=15_000);
    assert!(client.gaps.is_empty());
    assert!(client.peak_queued < 16 * 1024 + FRAME * 2);
}

#[test]
fn what_the_journal_lost_too_is_a_not_retained_gap() {
    let mut feed = Feed::new(1024);
    feed.journal = true;
    feed.publish(5_000);
    let mut engine = Engine::new(config(1 << 20), Epoch(1));
    let mut ticks = feed.tick_reader();
    ticks.seek(1);
    let spec = SubSpec {
        lossless: true,
        backfill_from: Some(Seq(1)),
        ..all_ticks(1, SlowConsumerPolicy::Drop)
    };
    engine.add(spec, ticks, feed.candle_reader());
    let mut render = Binary::new();
    // The journal has nothing before seq 3,000.
    let (id, from) = engine.backfill_wanted().unwrap();
    assert_eq!((id, from), (1, Seq(1)));
    let records: Vec<TickRecord> = (3_000..3_100).map(|s| feed.record(s)).collect();
    assert!(engine.backfilled(id, &records, &mut render));
    let mut client = Client::default();
    client.read(&mut engine, usize::MAX);
    assert_eq!(client.gaps, vec![(1, 2_999, GapReason::NotRetained)]);
    assert_seqs(&client.seqs, 3_000..3_100);
    // Then an empty read (the journal ends): back to the ring's oldest, with a gap.
    assert_eq!(engine.backfill_wanted(), Some((1, Seq(3_100))));
    assert!(!engine.backfilled(1, &[], &mut render));
    drain(&mut feed, &mut engine, &mut client);
    assert_eq!(
        client.gaps[1..],
        [(3_100, 5_000 - 1024, GapReason::NotRetained)]
    );
    assert_eq!(client.seqs.last(), Some(&5_000));
}

#[test]
fn answers_count_against_the_budget_and_stop_requests() {
    let budget = 16 * 1024;
    let mut engine = Engine::new(config(budget), Epoch(1));
    let mut answers = 0;
    // The shell answers requests while the engine accepts them.
    while engine.accepting() {
        engine.push(Dest::Control, Bytes::from(vec![0u8; 3_000]));
        answers += 1;
    }
    assert_eq!(answers, 6);
    assert_eq!(engine.queued(), 18_000);
    engine.pop();
    assert!(engine.accepting());
}

#[test]
fn a_candle_backlog_is_read_within_the_budget() {
    let budget = 16 * 1024;
    let mut feed = Feed::new(1 << 16);
    let mut engine = Engine::new(config(budget), Epoch(1));
    let spec = SubSpec::new(
        1,
        Filter::new(None, false, false, &[tickd_protocol::Interval::M1]),
    );
    engine.add(spec, feed.tick_reader(), feed.candle_reader());
    feed.publish_candles(50_000);
    let mut render = Binary::new();
    while engine.poll(&mut feed, &mut render).unwrap() {}
    assert!(
        engine.queued() < budget + 256 * tickd_protocol::CandleRecord::SIZE_BYTES,
        "queued {}",
        engine.queued()
    );
    let mut client = Client::default();
    drain(&mut feed, &mut engine, &mut client);
    assert_eq!(client.candles, 50_000);
}

#[test]
fn subscriptions_take_turns() {
    let mut feed = Feed::new(1 << 16);
    let mut engine = Engine::new(config(1 << 30), Epoch(1));
    for id in 1..=3 {
        engine.add(
            all_ticks(id, SlowConsumerPolicy::Drop),
            feed.tick_reader(),
            feed.candle_reader(),
        );
    }
    feed.publish(64 * 30);
    let mut render = Binary::new();
    let mut polls = 0;
    while engine.poll(&mut feed, &mut render).unwrap() {
        polls += 1;
    }
    // 90 frames at 8 per poll.
    assert_eq!(polls, 11);
    let mut per_sub = [0usize; 4];
    while let Some((_, frame)) = engine.pop() {
        let mut buf = BytesMut::from(&frame[..]);
        let payload = split_frame(&mut buf, 1 << 24).unwrap().unwrap();
        if let Message::TickBatch(b) = Message::decode(&payload).unwrap() {
            per_sub[b.subscription_id as usize] += b.ticks.len();
        }
    }
    assert_eq!(per_sub[1..], [64 * 30; 3]);
}

#[test]
fn a_venue_gap_reaches_trade_subscribers_of_its_instrument_in_place() {
    let mut feed = Feed::new(1024);
    let mut engine = Engine::new(config(64 * 1024), Epoch(1));
    // Subscription 1: trades of instrument 1; 2: quotes of every instrument; 3: trades of 2.
    let trades_of = |id: u32, inst: u32| {
        SubSpec::new(
            id,
            Filter::new(Some(&[InstrumentId(inst)]), true, false, &[]),
        )
    };
    let quotes = SubSpec::new(2, Filter::new(None, false, true, &[]));
    for spec in [trades_of(1, 1), quotes, trades_of(3, 2)] {
        engine.add(spec, feed.tick_reader(), feed.candle_reader());
    }
    feed.publish(8);
    // Seq 9: the venue skipped trade ids 100..=104 of instrument 1.
    let mut hole = TickRecord::venue_gap(InstrumentId(1), UnixNanos(9), 100, 104);
    hole.seq = 9;
    feed.ticks.borrow_mut().push(hole.to_words());
    feed.publish(8);
    let mut render = Binary::new();
    while engine.poll(&mut feed, &mut render).unwrap() {}
    let mut got: std::collections::HashMap<u32, Vec<String>> = Default::default();
    while let Some((_, frame)) = engine.pop() {
        let mut buf = BytesMut::from(&frame[..]);
        let payload = split_frame(&mut buf, 1 << 24).unwrap().unwrap();
        match Message::decode(&payload).unwrap() {
            Message::TickBatch(b) => got
                .entry(b.subscription_id)
                .or_default()
                .extend(b.ticks.iter().map(|t| t.seq.to_string())),
            Message::Gap(g) => {
                let GapReason::Venue(h) = g.reason else {
                    panic!("{g:?}")
                };
                got.entry(g.subscription_id).or_default().push(format!(
                    "gap {}..={} of {}: ids {}..={}",
                    g.from.0, g.to.0, h.instrument.0, h.from_trade_id, h.to_trade_id
                ));
            }
            other => panic!("{other:?}"),
        }
    }
    // Instrument 1's trades are seqs 1, 5, 13, 17; the gap sits between 5 and 13.
    assert_eq!(
        got[&1],
        ["1", "5", "gap 9..=9 of 1: ids 100..=104", "13", "17"]
    );
    // Quotes and another instrument's trades never see it.
    assert_eq!(got[&2], ["2", "4", "6", "8", "10", "12", "14", "16"]);
    assert!(!got.contains_key(&3), "instrument 2 has no trades: {got:?}");
    assert_eq!(engine.take_stats().venue_gaps, 1);
}
