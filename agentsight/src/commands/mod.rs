//! One module per command: each turns what `main` parsed into calls on `pipeline` (the commands
//! that record), the analyzer (those that read or write the data directory) and `render`, and
//! returns the exit code. None of them imports another's internals but `demo`, which records
//! through `record`, and `export`, which resolves sessions as `show` does.

pub mod demo;
pub mod eval;
pub mod export;
pub mod findings;
pub mod ingest;
pub mod manual;
pub mod prune;
pub mod record;
pub mod report;
pub mod search;
pub mod serve;
pub mod sessions;
