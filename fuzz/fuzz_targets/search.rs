//! The search query path (`analyzer::index::Index::search`) over a small in-memory index of the
//! demo trace (its windows and their findings), with the fuzz input as the query text, plain
//! and wrapped the way a webhook rule's saved query is (`window_id:"…" AND (query)`).
//!
//! Searches run on a thread with a 2 MiB stack, the stack of the blocking pool `serve` searches
//! on, so a query nested deep enough to overflow it crashes here too. Checks: no panic or stack
//! overflow, and a query is either answered or refused as `Error::Query` (a 400), never an
//! index error (a 500).
#![no_main]

use std::sync::{Mutex, OnceLock};

use analyzer::detect::DetectConfig;
use analyzer::index::{Index, IndexConfig, SearchQuery};
use analyzer::Error;
use libfuzzer_sys::fuzz_target;
use model::windower::WindowerConfig;
use model::Event;

const TRACE: &str = include_str!("../../tests/fixtures/demo-trace.jsonl");

/// The stack of tokio's blocking threads, which `serve` searches on.
const STACK_BYTES: usize = 2 << 20;

fn index() -> &'static Mutex<Index> {
    static INDEX: OnceLock<Mutex<Index>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let config = IndexConfig { writer_heap_mib: 15, writer_threads: 1 };
        let mut index = config.in_ram().expect("in-RAM index");
        let detectors = DetectConfig::default().build().expect("default detectors build");
        let mut windower = WindowerConfig::default().build();
        let mut windows = Vec::new();
        for line in TRACE.lines() {
            let ev: Event = serde_json::from_str(line).expect("demo trace event");
            windows.extend(windower.push(ev));
        }
        windows.extend(windower.finish());
        assert!(!windows.is_empty());
        for w in &windows {
            index.add_window(w).expect("index window");
            index.add_findings(&detectors.run(w)).expect("index findings");
        }
        index.commit("fuzz").expect("commit");
        Mutex::new(index)
    })
}

fuzz_target!(|data: &[u8]| {
    let index = index().lock().expect("index lock");
    let text = String::from_utf8_lossy(data);
    let queries = [
        SearchQuery { query: text.to_string(), limit: 5, ..SearchQuery::default() },
        SearchQuery {
            query: format!("window_id:\"x:0\" AND ({text})"),
            limit: 1,
            ..SearchQuery::default()
        },
    ];
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(STACK_BYTES)
            .spawn_scoped(s, || {
                for q in &queries {
                    match index.search(q) {
                        Ok(_) | Err(Error::Query { .. }) => {}
                        Err(e) => panic!("query {:?} failed as a server error: {e}", q.query),
                    }
                }
            })
            .expect("spawn search thread")
            .join()
            .expect("search thread panicked");
    });
});
