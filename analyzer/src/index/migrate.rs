//! Upgrading an index made with an older schema.
//!
//! The schema gains fields now and then (`model`, `provider`, `exit_code`), and tantivy opens
//! an index only with the schema it was made with. So the first writable open of an older
//! index rebuilds it: each live document's stored JSON (with its stored link texts, and its
//! window from the `window_id` terms) becomes a document of the current schema, and the old
//! commit payload is kept, so the store's replay resumes where it was. Nothing is detected,
//! judged or alerted again, and the judge's findings, which the window log does not hold, stay.
//! A read-only open cannot rebuild (a running `serve` may hold the writer) and says so instead.
//!
//! Crash safety: the new index is built and committed in `<dir>.rebuild` while the old one's
//! writer lock is held; then `<dir>` becomes `<dir>.old`, `<dir>.rebuild` becomes `<dir>`, and
//! `<dir>.old` is removed. An open that finds `<dir>` missing beside a `<dir>.rebuild` and a
//! `<dir>.old` finishes the second rename; a leftover `<dir>.old` or `<dir>.rebuild` is removed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use model::{Event, Finding};
use tantivy::directory::{Directory, MmapDirectory, INDEX_WRITER_LOCK};
use tantivy::schema::{IndexRecordOption, Schema, Value};
use tantivy::{DocId, DocSet, TantivyDocument, TantivyError, TERMINATED};

use super::doc::{self, Fields, LinkTexts, DOC_FINDING};
use super::{index_error, start_writer, tokenizers, IndexConfig};
use crate::error::{Error, Result};

/// What an upgrade did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Upgrade {
    pub events: u64,
    pub findings: u64,
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

fn io_error<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io { op, path: path.to_path_buf(), source }
}

/// Removes `path` if it is there.
fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error("remove", path)(e)),
        _ => Ok(()),
    }
}

/// Finishes an upgrade that a crash cut between its renames (see the module's doc).
pub(super) fn finish_interrupted(dir: &Path) -> Result<()> {
    let (rebuilt, old) = (sibling(dir, ".rebuild"), sibling(dir, ".old"));
    if !dir.exists() && rebuilt.exists() && old.exists() {
        std::fs::rename(&rebuilt, dir).map_err(io_error("move the rebuilt index to", dir))?;
    }
    if dir.exists() {
        remove(&old)?;
    }
    Ok(())
}

/// Whether `dir` holds an index made with another schema than `schema`.
pub(super) fn is_outdated(dir: &Path, schema: &Schema) -> Result<bool> {
    let context = || format!("open index in `{}`", dir.display());
    let directory = MmapDirectory::open(dir).map_err(|e| index_error(context())(TantivyError::from(e)))?;
    if !tantivy::Index::exists(&directory).map_err(|e| index_error(context())(TantivyError::from(e)))? {
        return Ok(false);
    }
    let old = tantivy::Index::open(directory).map_err(index_error(context()))?;
    Ok(old.schema() != *schema)
}

/// Rebuilds the index in `dir` with `schema` (see the module's doc). `dir` must hold an index
/// with another schema.
pub(super) fn upgrade(dir: &Path, schema: &Schema, fields: &Fields, config: &IndexConfig) -> Result<Upgrade> {
    let context = format!("upgrade the index in `{}` to the current schema", dir.display());
    let directory = MmapDirectory::open(dir).map_err(|e| index_error(context.clone())(TantivyError::from(e)))?;
    // Held to the end: no other process writes the old index while it is copied.
    let lock =
        directory.acquire_lock(&INDEX_WRITER_LOCK).map_err(|e| index_error(context.clone())(TantivyError::from(e)))?;
    let old = tantivy::Index::open(directory).map_err(index_error(context.clone()))?;
    let payload = old.load_metas().map_err(index_error(context.clone()))?.payload;

    let rebuilt = sibling(dir, ".rebuild");
    remove(&rebuilt)?;
    std::fs::create_dir_all(&rebuilt).map_err(io_error("create index directory", &rebuilt))?;
    let new = tantivy::Index::builder()
        .schema(schema.clone())
        .tokenizers(tokenizers())
        .create_in_dir(&rebuilt)
        .map_err(index_error(context.clone()))?;
    let mut writer = start_writer(&new, config)?;
    let done = copy(&old, fields, |d| writer.add_document(d).map(|_| ()).map_err(index_error(context.clone())))?;
    let mut prepared = writer.prepare_commit().map_err(index_error(context.clone()))?;
    if let Some(p) = &payload {
        prepared.set_payload(p);
    }
    prepared.commit().map_err(index_error(context.clone()))?;
    writer.wait_merging_threads().map_err(index_error(context.clone()))?;
    drop(old);

    let outdated = sibling(dir, ".old");
    remove(&outdated)?;
    std::fs::rename(dir, &outdated).map_err(io_error("move the outdated index to", &outdated))?;
    drop(lock);
    std::fs::rename(&rebuilt, dir).map_err(io_error("move the rebuilt index to", dir))?;
    remove(&outdated)?;
    Ok(done)
}

/// Turns every live document of `old` into a document of the current schema.
fn copy(old: &tantivy::Index, fields: &Fields, mut add: impl FnMut(TantivyDocument) -> Result<()>) -> Result<Upgrade> {
    let schema = old.schema();
    let field = |name: &str| schema.get_field(name).ok();
    let (Some(kind_field), Some(json_field)) = (field("doc"), field("json")) else {
        return Err(Error::Index {
            context: "upgrade the index".into(),
            source: TantivyError::SchemaError("the old index has no stored `doc` and `json` to rebuild from".into()),
        });
    };
    let reader = old.reader().map_err(index_error("read the old index"))?;
    let searcher = reader.searcher();
    let mut done = Upgrade::default();
    for segment in searcher.segment_readers() {
        let window_of = match field("window_id") {
            Some(f) => windows_of(segment, f).map_err(index_error("read the old index's windows"))?,
            None => HashMap::new(),
        };
        let store =
            segment.get_store_reader(64).map_err(|e| index_error("read the old index")(TantivyError::from(e)))?;
        for doc_id in segment.doc_ids_alive() {
            let stored: TantivyDocument = store.get(doc_id).map_err(index_error("read the old index"))?;
            let text = |f: Option<tantivy::schema::Field>| {
                f.and_then(|f| stored.get_first(f)).and_then(|v| v.as_str()).unwrap_or_default()
            };
            let (kind, json) = (text(Some(kind_field)), text(Some(json_field)));
            let parse_error =
                |source| Error::Json { context: format!("parse a stored {kind} while upgrading the index"), source };
            if kind == DOC_FINDING {
                let f: Finding = serde_json::from_str(json).map_err(parse_error)?;
                add(doc::finding_doc(fields, &f, json))?;
                done.findings += 1;
            } else {
                let ev: Event = serde_json::from_str(json).map_err(parse_error)?;
                let mut links = LinkTexts::default();
                links.insert(ev.id(), text(field("caused_by")), text(field("causes")));
                let window_id = window_of.get(&doc_id).map(String::as_str).unwrap_or_default();
                add(doc::event_doc(fields, window_id, &ev, json, &links))?;
                done.events += 1;
            }
        }
    }
    Ok(done)
}

/// Each document's `window_id`, from the terms of that (indexed, not stored) field.
fn windows_of(
    segment: &tantivy::SegmentReader,
    field: tantivy::schema::Field,
) -> tantivy::Result<HashMap<DocId, String>> {
    let inverted = segment.inverted_index(field)?;
    let mut out = HashMap::new();
    let mut terms = inverted.terms().stream()?;
    while terms.advance() {
        let window_id = String::from_utf8_lossy(terms.key()).into_owned();
        let mut postings = inverted.read_postings_from_terminfo(terms.value(), IndexRecordOption::Basic)?;
        let mut doc = postings.doc();
        while doc != TERMINATED {
            out.insert(doc, window_id.clone());
            doc = postings.advance();
        }
    }
    Ok(out)
}
