//! AgentSight's collector: everything an agent does at the kernel boundary, for a command and
//! all of its descendants, as [`model::Event`]s.
//!
//! Data flow: `bpf/process.bpf.c` (scoped in the kernel to the traced tree) -> ring buffer ->
//! [`capture`] thread -> [`raw`] (the one module that reads C structs) -> [`decode::Decoder`]
//! (wall clock, absolute paths, readable strings) -> a bounded channel the caller drains.
//! Every record that cannot be delivered is counted and published as a `loss` event.

mod boring;
mod bpf;
pub mod capture;
pub(crate) mod clock;
pub(crate) mod decode;
mod error;
pub(crate) mod gotls;
pub mod http;
mod le;
pub mod llm;
pub(crate) mod net;
pub(crate) mod ossl;
pub mod procfs;
pub(crate) mod raw;
pub mod redact;
pub mod ship;
pub(crate) mod text;
pub(crate) mod tls;
pub(crate) mod uprobes;

pub use capture::{Capture, CaptureConfig};
pub use error::Error;
