//! AgentSight's analyzer: what recorded agent sessions say, computed from [`model::Window`]s and
//! [`model::Event`]s alone (no capture, so it builds without clang or libbpf).
//!
//! [`service::Analyzer`] is the running service: it stores each window in the [`store`] log,
//! indexes it ([`index`], tantivy), runs the [`detect`] detectors and the LLM [`judge`], sends
//! [`webhook`] alerts, exports sessions over OpenTelemetry ([`otlp`]), prunes old ones, and
//! answers the HTTP [`api`] and the web UI. [`view`] turns a session into the turn view people
//! read; [`report`], [`eval`] and [`metrics`] serve the CLI, the eval gate and `/metrics`; the
//! pure [`summary::Summary`] and [`tree::ProcessTree`] are what `record` prints when it ends.
//! The contracts are in `docs/DESIGN.md`, the map in `docs/ARCHITECTURE.md`.

pub mod api;
pub mod config;
pub mod detect;
pub mod error;
pub mod eval;
pub mod index;
pub mod judge;
pub mod metrics;
pub mod otlp;
pub mod report;
pub mod service;
pub mod store;
pub mod summary;
pub mod tree;
pub mod view;
pub mod webhook;

pub use error::{Error, Result};

pub use summary::Summary;
pub use tree::ProcessTree;
