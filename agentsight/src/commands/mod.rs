//! One module per command: each turns what `main` parsed into calls on `pipeline` (the commands
//! that record), the analyzer (those that read or write the data directory) and `render`, and
//! returns the exit code. None of them imports another's internals but `demo`, which records
//! through `record`, and `export`, which resolves sessions as `show` does.

pub(crate) mod demo;
pub(crate) mod eval;
pub(crate) mod export;
pub(crate) mod findings;
pub(crate) mod ingest;
pub(crate) mod manual;
pub(crate) mod prune;
pub(crate) mod record;
pub(crate) mod report;
pub(crate) mod search;
pub(crate) mod serve;
pub(crate) mod sessions;
