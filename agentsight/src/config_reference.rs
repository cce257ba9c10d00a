//! `docs/CONFIG.md` names every key the configuration file takes, and no key it does not.
//!
//! The keys come from the config loader itself (`crate::config::parse`, the whole tree), not from
//! a list kept here: a key the structs do
//! not know is refused with serde's "unknown field `x`, expected one of ..." listing the fields
//! of that table. Each field is then tried as a table (`[path.field]`, then `[[path.field]]`): if
//! the loader answers with another "unknown field" list it is one, and is walked in turn.

use std::collections::BTreeSet;

use crate::config::parse;

/// The fields serde lists for the table at `header` (`None`: the top level), if the loader
/// takes it as a table at all.
fn fields_of(header: Option<&str>) -> Option<Vec<String>> {
    let text = match header {
        None => "zz_not_a_key = 1\n".to_owned(),
        Some(h) => format!("{h}\nzz_not_a_key = 1\n"),
    };
    let err = parse(&text).expect_err("an unknown key is refused").to_string();
    // serde says "expected one of `a`, `b`, `c`", "expected `a` or `b`" or "expected `a`".
    let list = err.split_once("unknown field `zz_not_a_key`, expected ")?.1;
    let list = list.strip_prefix("one of ").unwrap_or(list);
    Some(list.split(", ").flat_map(|f| f.split(" or ")).map(|f| f.trim().trim_matches('`').to_owned()).collect())
}

/// Every key as a dotted path (`window.max_turns`), tables included (`analyzer.judge.gate`).
fn config_keys() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut tables = vec![(None::<String>, String::new())];
    while let Some((header, prefix)) = tables.pop() {
        let fields = fields_of(header.as_deref()).unwrap_or_else(|| panic!("`{header:?}` is not a table"));
        for field in fields {
            let path = if prefix.is_empty() { field } else { format!("{prefix}.{field}") };
            for h in [format!("[{path}]"), format!("[[{path}]]")] {
                if fields_of(Some(&h)).is_some() {
                    tables.push((Some(h), path.clone()));
                    break;
                }
            }
            keys.insert(path);
        }
    }
    keys
}

/// The keys `docs/CONFIG.md` documents: the first cell of each table row, in backticks.
fn documented_keys(doc: &str) -> BTreeSet<String> {
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(key, _)| key.to_owned())
        .collect()
}

#[test]
fn the_walk_finds_nested_tables_and_arrays_of_tables() {
    let keys = config_keys();
    for key in [
        "capture.ring_mib",
        "redact.extra_headers",
        "window.max_turns",
        "ship.backoff_max_ms",
        "analyzer.listen",
        "analyzer.index.writer_heap_mib",
        "analyzer.judge.gate.prompts",
        "analyzer.judge.local.model",
        "analyzer.webhooks.rules.secret_env",
    ] {
        assert!(keys.contains(key), "`{key}` not found: {keys:?}");
    }
}

#[test]
fn docs_config_md_documents_every_config_key_and_no_other() {
    let doc = include_str!("../../docs/CONFIG.md");
    let keys = config_keys();
    let documented = documented_keys(doc);
    let missing: Vec<_> = keys.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "keys missing from docs/CONFIG.md (add a row `| `key` | type | default | meaning |`): {missing:?}"
    );
    let unknown: Vec<_> = documented.difference(&keys).collect();
    assert!(unknown.is_empty(), "docs/CONFIG.md documents keys the config does not take: {unknown:?}");
}
