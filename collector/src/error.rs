//! The collector's one error type. Messages say what is missing and how to fix it, because the
//! person reading them is usually at a terminal wondering why `record` did not start.

/// Everything that can stop the collector.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "permission denied: loading eBPF programs needs root (or CAP_BPF, CAP_PERFMON and \
         CAP_SYS_RESOURCE); run it with sudo"
    )]
    NoPrivilege,
    #[error("kernel {release} is too old: AgentSight needs Linux {needed} or newer")]
    KernelTooOld { release: String, needed: String },
    #[error(
        "this kernel has no BTF type information (`/sys/kernel/btf/vmlinux` is missing): boot a \
         kernel built with CONFIG_DEBUG_INFO_BTF=y (every major distribution's kernel since 2021)"
    )]
    NoBtf,
    #[error("failed to load the eBPF programs: {source}{log}")]
    Load { source: libbpf_rs::Error, log: String },
    #[error("failed to attach eBPF program `{program}`: {source}")]
    Attach { program: String, source: libbpf_rs::Error },
    #[error("failed to {what}: {source}")]
    Map { what: String, source: libbpf_rs::Error },
    #[error("failed to poll the ring buffer: {source}")]
    Poll { source: libbpf_rs::Error },
    #[error("no process with pid {pid}")]
    NoSuchPid { pid: u32 },
    #[error("no running process is named `{comm}`")]
    NoSuchComm { comm: String },
    #[error("process name `{comm}` is longer than the kernel keeps (15 bytes)")]
    CommTooLong { comm: String },
    #[error("failed to {what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("failed to attach TLS probes to `{path}`: {why}")]
    Uprobe { path: String, why: String },
    #[error(transparent)]
    Redact(#[from] crate::redact::RedactError),
    #[error("shipping: {0}")]
    Ship(String),
    #[error("the capture thread stopped unexpectedly")]
    ThreadPanicked,
}
