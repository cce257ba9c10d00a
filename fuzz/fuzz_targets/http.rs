//! HTTP/1.1 and HTTP/2 reassembly (`collector::http::Conn`), then LLM decoding of what it yields.
//!
//! Input: one control byte, then the bytes the process wrote, [`SEP`], the bytes it read.
//! Control bit 0 picks small limits (so body and header caps are hit); the byte also seeds
//! the chunking. Checks: no panic on any interleaving of the two directions, and the module's
//! split invariant: with the directions in the same order (all written, then all read), any
//! chunking yields the same exchanges as pushing each stream whole. Only the exchanges: the
//! reason a stream is given up on may differ (a bad head seen whole is "invalid", seen in
//! pieces it may first be "too long"), and a stream that ends inside a bad head may or may not
//! be reported (a head is parsed once its end is seen; a whole first request is parsed to
//! detect the protocol).
#![no_main]

use agentsight_fuzz::{chunks, split2, Rng};
use collector::http::{Conn, Direction, Exchange, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let limits = if control & 1 == 1 {
        Limits { max_body_bytes: 300, max_header_bytes: 200 }
    } else {
        Limits::default()
    };
    let (out, inn) = split2(rest);
    let mut rng = Rng::new(u64::from(control) << 32 | data.len() as u64);

    // Interleaved, with rising timestamps: the way capture feeds it.
    let mut out_chunks = chunks(out, &mut rng).into_iter();
    let mut in_chunks = chunks(inn, &mut rng).into_iter();
    let mut conn = Conn::new(limits);
    let mut got: Vec<Exchange> = Vec::new();
    let mut ts = 0u64;
    loop {
        ts += 1;
        let (dir, chunk) = if rng.next() & 1 == 0 {
            match out_chunks.next() {
                Some(c) => (Direction::Out, c),
                None => match in_chunks.next() {
                    Some(c) => (Direction::In, c),
                    None => break,
                },
            }
        } else {
            match in_chunks.next() {
                Some(c) => (Direction::In, c),
                None => match out_chunks.next() {
                    Some(c) => (Direction::Out, c),
                    None => break,
                },
            }
        };
        got.extend(conn.push(dir, ts, chunk));
    }
    got.extend(conn.close(ts + 1));
    let _ = conn.error();
    for ex in &got {
        let _ = collector::llm::decode(ex);
    }

    // Split invariance, directions in a fixed order, one timestamp.
    let whole = run(limits, &[(Direction::Out, vec![out]), (Direction::In, vec![inn])]);
    let split = run(
        limits,
        &[(Direction::Out, chunks(out, &mut rng)), (Direction::In, chunks(inn, &mut rng))],
    );
    assert_eq!(whole, split, "a different chunking gave different exchanges");
});

fn run(limits: Limits, plan: &[(Direction, Vec<&[u8]>)]) -> Vec<Exchange> {
    let mut conn = Conn::new(limits);
    let mut got = Vec::new();
    for (dir, chunks) in plan {
        for c in chunks {
            got.extend(conn.push(*dir, 1, c));
        }
    }
    got.extend(conn.close(1));
    got
}
