//! Window JSON as `POST /v1/windows` takes it (one window or an array), then what the analyzer
//! does with a window before the index: validation, the detectors and their features, and the
//! windower cutting the window's events again (small limits, so every close reason is hit).
//!
//! Input: JSON text. Check: no panic.
#![no_main]

use std::sync::OnceLock;

use analyzer::detect::{DetectConfig, Detectors};
use analyzer::service::Analyzer;
use libfuzzer_sys::fuzz_target;
use model::windower::WindowerConfig;
use model::Window;

fn detectors() -> &'static Detectors {
    static D: OnceLock<Detectors> = OnceLock::new();
    D.get_or_init(|| DetectConfig::default().build().expect("default detectors build"))
}

fuzz_target!(|data: &[u8]| {
    // As `api::body::parse_windows` reads a body.
    let windows = if data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        serde_json::from_slice::<Vec<Window>>(data)
    } else {
        serde_json::from_slice::<Window>(data).map(|w| vec![w])
    };
    let Ok(windows) = windows else { return };
    let d = detectors();
    for w in &windows {
        let _ = Analyzer::validate(w);
        let _ = d.run(w);
        let _ = d.features(w);
        let _ = model::windower::links(&w.events);
        let _ = serde_json::to_string(w);

        let mut windower = WindowerConfig {
            max_turns: 2,
            max_tokens: 200,
            max_events: 8,
            idle_timeout_ns: 1_000_000_000,
            max_claims: 2,
            claim_chars: 20,
            instructions_chars: 40,
            history_turns: 2,
            history_events: 4,
            history_chars: 20,
        }
        .build();
        let mut cut = Vec::new();
        for ev in w.events.iter().chain(&w.context.history) {
            cut.extend(windower.push(ev.clone()));
            cut.extend(windower.tick(ev.ts_ns));
        }
        cut.extend(windower.end_session(&w.session));
        cut.extend(windower.finish());
        for c in &cut {
            let _ = d.run(c);
        }
    }
});
