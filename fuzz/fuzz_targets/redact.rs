//! The redactor (`collector::redact::Redactor`, built-in patterns) on text, bytes, headers,
//! argv and, when the input is one, a JSON event.
//!
//! Checks, from the module's invariants: no panic; redacting twice equals redacting once (the
//! second pass finds nothing); bytes that are UTF-8 are redacted as the same text would be; a
//! JSON text stays JSON when its secrets sit inside strings.
#![no_main]

use std::borrow::Cow;
use std::sync::OnceLock;

use collector::redact::{RedactConfig, Redactor};
use libfuzzer_sys::fuzz_target;

fn redactor() -> &'static Redactor {
    static R: OnceLock<Redactor> = OnceLock::new();
    R.get_or_init(|| RedactConfig::default().build().expect("built-in patterns compile"))
}

fuzz_target!(|data: &[u8]| {
    let r = redactor();

    let mut body = data.to_vec();
    let n = r.bytes(&mut body);
    let mut again = body.clone();
    assert_eq!(r.bytes(&mut again), 0, "second pass over bytes found more: {:?}", String::from_utf8_lossy(&body));
    assert_eq!(again, body);
    if n == 0 {
        assert_eq!(body, data);
    }

    let Ok(text) = std::str::from_utf8(data) else { return };
    let (once, count) = r.text(text);
    assert_eq!(count, n, "text and bytes disagree");
    assert_eq!(once.as_bytes(), &body[..], "text and bytes disagree");
    let (twice, more) = r.text(&once);
    assert_eq!(more, 0, "second pass found more in {once:?}");
    assert!(matches!(twice, Cow::Borrowed(_)));
    if count > 0
        && serde_json::from_str::<serde_json::Value>(text).is_ok()
        && serde_json::from_str::<serde_json::Value>(&once).is_err()
    {
        panic!("redaction broke JSON: {text:?} -> {once:?}");
    }

    let mut headers: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_owned(), v.trim_start().to_owned()))
        .collect();
    r.headers(&mut headers);
    let before = headers.clone();
    assert_eq!(r.headers(&mut headers), 0, "second pass over headers changed {before:?}");
    assert_eq!(headers, before);

    let mut argv: Vec<String> = text.split(['\0', ' ']).map(str::to_owned).collect();
    r.argv(&mut argv);
    let before = argv.clone();
    assert_eq!(r.argv(&mut argv), 0, "second pass over argv changed {before:?}");

    if let Ok(mut event) = serde_json::from_str::<model::Event>(text) {
        r.event(&mut event);
        let before = event.clone();
        assert_eq!(r.event(&mut event), 0, "second pass over an event changed {before:?}");
    }
});
