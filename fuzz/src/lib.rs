//! Helpers shared by the fuzz targets: how one fuzz input becomes two byte streams and a way
//! to cut them into chunks.
//!
//! Inputs are plain bytes so that seeds are readable files (`seeds/<target>/`, made by
//! `seeds.py`) and libFuzzer's byte mutations keep most of their structure: where a target needs
//! two streams (request and response, bytes written and bytes read) they are separated by
//! [`SEP`]. Chunk sizes come from a small deterministic generator seeded by the input, so a
//! crash reproduces from its file alone.

/// Separates the two streams of an input; without it, the second stream is empty.
pub const SEP: &[u8] = b"\n--8<--\n";

/// `data` cut at the first [`SEP`]: (before, after).
pub fn split2(data: &[u8]) -> (&[u8], &[u8]) {
    match data.windows(SEP.len()).position(|w| w == SEP) {
        Some(at) => (&data[..at], &data[at + SEP.len()..]),
        None => (data, &[]),
    }
}

/// xorshift64*: deterministic chunk sizes and choices, no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A chunk length in `1..=max`, small ones (the split points that matter) most often.
    pub fn chunk_len(&mut self, max: usize) -> usize {
        let max = max.max(1);
        let r = self.next();
        let cap = match r & 3 {
            0 => 1,
            1 => 8,
            2 => 64,
            _ => 4096,
        };
        1 + ((r >> 8) as usize % cap.min(max))
    }
}

/// `bytes` cut into chunks of lengths drawn from `rng`.
pub fn chunks<'a>(bytes: &'a [u8], rng: &mut Rng) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = rng.chunk_len(rest.len());
        let (head, tail) = rest.split_at(n);
        out.push(head);
        rest = tail;
    }
    out
}
