//! A message body as it arrives (de-chunked or de-framed, still content-encoded), and its
//! decoding once it ends.
//!
//! Invariants: at most `cap` bytes are kept, before and after decoding, while `wire` counts every
//! byte; decoding reads at most `cap + 1` output bytes, so a compression bomb costs no more than a
//! large plain body. A body that cannot be decoded is kept as sent with the reason.

use std::io::Read;

use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};

/// Bytes of a body received so far.
#[derive(Debug, Default)]
pub(crate) struct Body {
    raw: Vec<u8>,
    wire: u64,
    cap: usize,
    /// Timestamp of the first byte, if any came.
    pub(crate) first_ns: Option<u64>,
}

/// A finished body, ready for [`super::Request`] or [`super::Response`].
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub(crate) body: Vec<u8>,
    pub(crate) wire_bytes: u64,
    pub(crate) truncated: bool,
    pub(crate) decode_error: Option<String>,
}

impl Body {
    pub(crate) fn new(cap: usize) -> Self {
        Body { cap, ..Body::default() }
    }

    pub(crate) fn push(&mut self, ts_ns: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.first_ns.get_or_insert(ts_ns);
        self.wire += data.len() as u64;
        let room = self.cap.saturating_sub(self.raw.len());
        self.raw.extend_from_slice(data.get(..room).unwrap_or(data));
    }

    /// Undoes `content_encoding` (a `Content-Encoding` value, codings in the order applied).
    /// `cut` says the body ended early (connection lost), so decoders that fail at the end of
    /// their input still give what they decoded.
    pub(crate) fn finish(self, content_encoding: Option<&str>, cut: bool) -> Decoded {
        let raw_truncated = self.wire > self.raw.len() as u64;
        let mut done = Decoded { body: self.raw, wire_bytes: self.wire, truncated: raw_truncated, decode_error: None };
        let Some(encoding) = content_encoding else {
            return done;
        };
        if done.body.is_empty() {
            return done;
        }
        // A body kept only in part cannot decode to its end either.
        let cut = cut || raw_truncated;
        let mut decoded: Option<Vec<u8>> = None;
        let codings = encoding.split(',').map(|c| c.trim().to_ascii_lowercase());
        let codings: Vec<String> = codings.filter(|c| !c.is_empty() && c != "identity").collect();
        for coding in codings.iter().rev() {
            let input = decoded.as_deref().unwrap_or(&done.body);
            let step = decode(coding, input, self.cap);
            match step.error {
                Some(error) if !cut || step.out.is_empty() => {
                    done.truncated = raw_truncated;
                    done.decode_error = Some(format!("failed to decode `{coding}` body: {error}"));
                    return done;
                }
                _ => {
                    done.truncated |= step.over_cap;
                    decoded = Some(step.out);
                }
            }
        }
        if let Some(body) = decoded {
            done.body = body;
        }
        done
    }
}

/// The output of one decoder: at most `cap` bytes, whether there was more, and the error that
/// stopped it early, if one did.
struct Step {
    out: Vec<u8>,
    over_cap: bool,
    error: Option<String>,
}

fn decode(coding: &str, input: &[u8], cap: usize) -> Step {
    match coding {
        "gzip" | "x-gzip" => read_capped(MultiGzDecoder::new(input), cap),
        // `deflate` is zlib-wrapped by the RFC, but some servers send raw deflate.
        "deflate" if is_zlib(input) => read_capped(ZlibDecoder::new(input), cap),
        "deflate" => read_capped(DeflateDecoder::new(input), cap),
        "br" => read_capped(brotli_decompressor::Decompressor::new(input, 4096), cap),
        "zstd" => match ruzstd::decoding::StreamingDecoder::new(input) {
            Ok(decoder) => read_capped(decoder, cap),
            Err(e) => Step { out: Vec::new(), over_cap: false, error: Some(e.to_string()) },
        },
        _ => Step { out: Vec::new(), over_cap: false, error: Some("unsupported coding".to_owned()) },
    }
}

/// A zlib stream starts with a CMF/FLG pair: compression method 8, and a checksum that makes the
/// pair a multiple of 31.
fn is_zlib(input: &[u8]) -> bool {
    match input {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

fn read_capped(reader: impl Read, cap: usize) -> Step {
    let mut out = Vec::new();
    // One byte past the cap tells "exactly cap" from "more".
    let result = reader.take((cap as u64).saturating_add(1)).read_to_end(&mut out);
    let over_cap = out.len() > cap;
    out.truncate(cap);
    Step { out, over_cap, error: result.err().map(|e| e.to_string()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).expect("compress");
        e.finish().expect("compress")
    }

    fn body_of(cap: usize, data: &[u8]) -> Body {
        let mut body = Body::new(cap);
        body.push(1, data);
        body
    }

    #[test]
    fn plain_body_over_cap_is_cut_and_counted() {
        let d = body_of(4, b"0123456789").finish(None, false);
        assert_eq!((d.body.as_slice(), d.wire_bytes, d.truncated), (&b"0123"[..], 10, true));
    }

    #[test]
    fn deflate_zlib_and_raw_both_decode() {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(b"zlib wrapped").expect("compress");
        let mut r = DeflateEncoder::new(Vec::new(), Compression::default());
        r.write_all(b"raw deflate").expect("compress");
        let zlib = body_of(100, &z.finish().expect("compress")).finish(Some("deflate"), false);
        let raw = body_of(100, &r.finish().expect("compress")).finish(Some("Deflate"), false);
        assert_eq!(zlib.body, b"zlib wrapped");
        assert_eq!(raw.body, b"raw deflate");
    }

    #[test]
    fn stacked_codings_are_undone_in_reverse() {
        let twice = gzip(&gzip(b"inner"));
        let d = body_of(100, &twice).finish(Some("gzip, identity, gzip"), false);
        assert_eq!((d.body.as_slice(), d.decode_error), (&b"inner"[..], None));
    }

    #[test]
    fn decoded_output_is_capped() {
        let zeros = gzip(&[0u8; 10_000]);
        let d = body_of(1 << 20, &zeros).finish(Some("gzip"), false);
        assert_eq!(d.body.len(), 10_000);
        let d = body_of(100, &zeros).finish(Some("gzip"), false);
        assert_eq!((d.body.len(), d.truncated, d.wire_bytes), (100, true, zeros.len() as u64));
    }

    #[test]
    fn undecodable_body_is_kept_raw_with_reason() {
        let d = body_of(100, b"not gzip at all").finish(Some("gzip"), false);
        assert_eq!(d.body, b"not gzip at all");
        assert!(d.decode_error.as_deref().expect("decode error").starts_with("failed to decode `gzip` body"));
        let d = body_of(100, b"abc").finish(Some("compress"), false);
        assert_eq!(d.decode_error.as_deref(), Some("failed to decode `compress` body: unsupported coding"));
    }

    #[test]
    fn cut_compressed_body_gives_its_decoded_prefix() {
        let text: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let gz = gzip(&text);
        let d = body_of(100_000, &gz[..gz.len() / 2]).finish(Some("gzip"), true);
        assert!(d.decode_error.is_none());
        assert!(!d.body.is_empty() && text.starts_with(&d.body));
    }

    #[test]
    fn empty_body_is_not_decoded() {
        assert_eq!(Body::new(10).finish(Some("br"), false), Decoded::default());
    }
}
