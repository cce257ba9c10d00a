//! AgentSight's analyzer: what a recorded trace says, computed from [`model::Event`]s alone.
//!
//! It builds without clang or libbpf and does no capture. Today it holds the pure parts that
//! `record` prints when it ends (a [`summary::Summary`] of counts and losses, and a
//! [`tree::ProcessTree`]); the index, detectors and judge of the analyzer service grow here.

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
