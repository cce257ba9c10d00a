//! Server-sent events (`collector::llm::sse`).
//!
//! Input: the stream's bytes. Checks: no panic, and the module's split invariant: pushing the
//! bytes in any chunks, then `finish`, yields the same events as `parse` of the whole.
#![no_main]

use agentsight_fuzz::{chunks, Rng};
use collector::llm::sse::{self, SseParser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = sse::parse(data);
    let _ = sse::looks_like_sse(data);
    let mut rng = Rng::new(data.len() as u64 ^ u64::from(data.first().copied().unwrap_or(0)));
    let mut parser = SseParser::new();
    let mut split = Vec::new();
    for c in chunks(data, &mut rng) {
        split.extend(parser.push(c));
    }
    split.extend(parser.finish());
    assert_eq!(whole, split, "a different chunking gave different events");
    for e in &whole {
        let _ = e.is_done();
    }
});
