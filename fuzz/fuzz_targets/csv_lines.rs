//! Arbitrary CSV text as a replay file: with its own header, or after the canonical one so the
//! fuzzer reaches the field parsers at once. No input may panic; every bad line is an error
//! that names the file and its line, and reading goes on after it.
#![no_main]

use std::io::Cursor;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tickd_formats::csv::CsvTicks;

const HEADER: &[u8] = b"ts_event,symbol,kind,price,size,side,bid_px,bid_sz,ask_px,ask_sz\n";

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut text = Vec::with_capacity(HEADER.len() + rest.len());
    if pick % 2 == 0 {
        text.extend_from_slice(HEADER);
    }
    text.extend_from_slice(rest);
    let lines = text.iter().filter(|b| **b == b'\n').count() + 2;
    let Ok(mut ticks) = CsvTicks::from_reader(Path::new("fuzz.csv"), Box::new(Cursor::new(text)))
    else {
        return;
    };
    // Each call consumes a record or ends the file, so this many calls reach the end.
    for _ in 0..lines {
        match ticks.next_tick() {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => assert!(e.to_string().starts_with("fuzz.csv:"), "{e}"),
        }
    }
});
