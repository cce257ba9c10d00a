//! The capture stage: load `bpf/process.bpf.c`, scope it to the traced tree, poll its ring
//! buffer on a thread of its own, and send decoded events into a bounded channel, in batches
//! (one per poll, at most `BATCH` events) so that the channel costs little per event.
//!
//! `CaptureConfig -> start() -> Capture`. All libbpf objects live on the capture thread; the
//! rest of the program talks to it through atomics (stop, the traced-process count). The
//! thread's loop is: poll the ring buffer (up to 100 ms), decode each record, send it on (this
//! blocks when the consumer is slow, so the kernel ring buffer absorbs bursts and counts what it
//! cannot hold), then every 100 ms: publish loss-counter deltas as `loss` events, count the
//! traced processes, re-sample the clock. On stop it drains the ring buffer, ends the write
//! summaries of processes still running, and publishes the final losses.

use std::collections::{BTreeMap, VecDeque};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, PrintLevel, RingBufferBuilder};
use model::Event;

use crate::bpf::bytes_of;
use crate::bpf::process::{types, ProcessSkel, ProcessSkelBuilder};
use crate::bpf::tls::{TlsSkel, TlsSkelBuilder};
use crate::clock::Clock;
use crate::decode::Decoder;
use crate::raw::{self, EVENT_KIND_NAMES, LOSS_REASONS};
use crate::redact::{RedactConfig, Redactor};
use crate::uprobes::{self, Outcome, SslProbes};
use crate::{procfs, Error};

/// The oldest kernel the programs verify on (bpf_loop).
pub const MIN_KERNEL: (u32, u32) = (5, 17);
const TRACED_MEMBER: u32 = 1 << 0;
const TRACED_SPAWNER: u32 = 1 << 1;
/// Its reads are looked at for socket data (`bpf/process.h`): a process attached to while it
/// runs may hold connections opened before.
const TRACED_NET: u32 = 1 << 2;
const TICK: Duration = Duration::from_millis(100);
/// The longest the capture thread waits on the ring buffer: how soon it notices a stop or a
/// wanted tick (the kernel wakes it earlier when records pile up or a process execs).
const POLL: Duration = Duration::from_millis(10);
/// The first ring buffer's size: enough for an agent's steady traffic and ordinary bursts;
/// a burst that fills it switches the kernel to the `--ring-mib` ring.
pub const FIRST_RING_BYTES: u32 = 4 << 20;
/// Events per batch sent to the consumer.
pub const BATCH: usize = 1024;

/// What to trace and how. Its lasting settings are the configuration file's `[capture]` table
/// (`ring_mib`, `tls`, `tls_binaries`, `full_requests`); what to trace (session, spawner, pids,
/// comms) is given per run, and `redact` is the file's own `[redact]` table.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// Session id stamped on every event.
    #[serde(skip)]
    pub session: String,
    /// Size of the kernel ring buffer in bytes (a power of two, at least one page). Records go
    /// to a first ring of at most [`FIRST_RING_BYTES`] until it fills, then to this one,
    /// which is mapped (resident, twice over) only from then on. In the file: `ring_mib`.
    #[serde(rename = "ring_mib", deserialize_with = "ring_mib")]
    pub ring_bytes: u32,
    /// A process (normally this one) whose children become traced roots; itself untraced.
    #[serde(skip)]
    pub spawner: Option<u32>,
    /// Processes to trace from now on, with their future children.
    #[serde(skip)]
    pub pids: Vec<u32>,
    /// Process names: processes that exec into one of these are traced from that exec on.
    #[serde(skip)]
    pub comms: Vec<String>,
    /// Capture TLS plaintext (LLM calls) through uprobes on OpenSSL.
    pub tls: bool,
    /// Extra executables or libraries to offer the TLS probes at start (besides the system's
    /// libssl, `node` on PATH, and every executable the traced tree runs).
    pub tls_binaries: Vec<std::path::PathBuf>,
    /// What else to redact.
    #[serde(skip)]
    pub redact: RedactConfig,
    /// Write every `llm_call` request whole, as the agent sent it, instead of compacting it to
    /// what is new in its conversation (`model::conversation`).
    pub full_requests: bool,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig::new(String::new())
    }
}

/// The ring buffer's size in bytes for `mib` MiB: a power of two from 1 to 1024 (`--ring-mib`,
/// `capture.ring_mib`).
pub fn ring_bytes(mib: u32) -> Result<u32, String> {
    if mib.is_power_of_two() && (1..=1024).contains(&mib) {
        Ok(mib << 20)
    } else {
        Err(format!("{mib} is not a power of two between 1 and 1024"))
    }
}

fn ring_mib<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let mib = <u32 as serde::Deserialize>::deserialize(d)?;
    ring_bytes(mib).map_err(serde::de::Error::custom)
}

impl CaptureConfig {
    pub fn new(session: impl Into<String>) -> Self {
        CaptureConfig {
            session: session.into(),
            ring_bytes: 64 << 20,
            spawner: None,
            pids: Vec::new(),
            comms: Vec::new(),
            tls: true,
            tls_binaries: Vec::new(),
            redact: RedactConfig::default(),
            full_requests: false,
        }
    }

    /// Check the machine, then load and attach the programs on a new thread. Returns once the
    /// probes are live: from then on every scoped process is recorded.
    pub fn start(self, tx: SyncSender<Vec<Event>>) -> Result<Capture, Error> {
        preflight()?;
        let redactor = self.redact.build()?;
        for comm in &self.comms {
            if comm.len() > 15 {
                return Err(Error::CommTooLong { comm: comm.clone() });
            }
        }
        let shared = Arc::new(Shared::default());
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("agentsight-capture".into())
            .spawn(move || run(self, redactor, tx, thread_shared, ready_tx))
            .map_err(|source| Error::Io { what: "start the capture thread".into(), source })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Capture { thread: Some(thread), shared }),
            Ok(Err(err)) => {
                let _ = thread.join();
                Err(err)
            }
            Err(_) => Err(match thread.join() {
                Ok(Err(err)) => err,
                _ => Error::ThreadPanicked,
            }),
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    /// Processes in the traced tree, as of tick `ticks`.
    members: AtomicU64,
    ticks: AtomicU64,
    /// Someone waits for a fresh count: tick now rather than at the next `TICK`.
    tick_wanted: AtomicBool,
}

/// A running capture. Dropping it stops the capture too, without the final drain's errors.
#[derive(Debug)]
pub struct Capture {
    thread: Option<JoinHandle<Result<(), Error>>>,
    shared: Arc<Shared>,
}

impl Capture {
    /// Processes now in the traced tree, counted on the capture thread's last tick.
    pub fn members(&self) -> u64 {
        self.shared.members.load(Ordering::Acquire)
    }

    /// Wait until a tick that started after this call has published its count, and return it.
    pub fn fresh_members(&self) -> u64 {
        let start = self.shared.ticks.load(Ordering::Acquire);
        while self.shared.ticks.load(Ordering::Acquire) < start + 2 {
            self.shared.tick_wanted.store(true, Ordering::Release);
            if self.thread.as_ref().is_none_or(|t| t.is_finished()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.members()
    }

    /// Whether the capture thread has ended by itself (an error, or the consumer went away).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stop: drain what the kernel holds, publish final losses, close the channel.
    pub fn stop(mut self) -> Result<(), Error> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), Error> {
        self.shared.stop.store(true, Ordering::Release);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::ThreadPanicked),
            None => Ok(()),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

fn kernel_release() -> String {
    rustix::system::uname().release().to_string_lossy().into_owned()
}

fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn preflight() -> Result<(), Error> {
    let release = kernel_release();
    if parse_release(&release).is_some_and(|v| v < MIN_KERNEL) {
        return Err(Error::KernelTooOld { release, needed: format!("{}.{}", MIN_KERNEL.0, MIN_KERNEL.1) });
    }
    if std::fs::metadata("/sys/kernel/btf/vmlinux").is_err() {
        return Err(Error::NoBtf);
    }
    if !procfs::has_bpf_privileges() {
        return Err(Error::NoPrivilege);
    }
    Ok(())
}

/// libbpf reports through a plain `fn` callback, so its last lines wait here until a load error
/// needs them. Bounded; only this module touches it.
static LIBBPF_LOG: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

fn libbpf_print(level: PrintLevel, msg: String) {
    if std::env::var_os("AGENTSIGHT_LIBBPF_LOG").is_some() {
        tracing::info!(target: "libbpf", level = ?level, "{}", msg.trim_end());
    }
    if matches!(level, PrintLevel::Debug) {
        return;
    }
    if let Ok(mut log) = LIBBPF_LOG.lock() {
        if log.len() >= 40 {
            log.pop_front();
        }
        log.push_back(msg);
    }
}

fn libbpf_log_tail() -> String {
    let Ok(log) = LIBBPF_LOG.lock() else { return String::new() };
    let useful: Vec<&str> = log.iter().map(|l| l.trim_end()).filter(|l| !l.is_empty()).collect();
    let tail = &useful[useful.len().saturating_sub(8)..];
    if tail.is_empty() {
        String::new()
    } else {
        format!("\n  libbpf: {}\n  (set AGENTSIGHT_LIBBPF_LOG=1 for the whole log)", tail.join("\n  libbpf: "))
    }
}

fn map_err(what: impl Into<String>) -> impl FnOnce(libbpf_rs::Error) -> Error {
    let what = what.into();
    move |source| Error::Map { what, source }
}

fn load<'obj>(
    config: &CaptureConfig,
    open_object: &'obj mut MaybeUninit<libbpf_rs::OpenObject>,
) -> Result<ProcessSkel<'obj>, Error> {
    libbpf_rs::set_print(Some((PrintLevel::Debug, libbpf_print)));
    let load_err = |source: libbpf_rs::Error| {
        if source.kind() == libbpf_rs::ErrorKind::PermissionDenied {
            Error::NoPrivilege
        } else {
            Error::Load { source, log: libbpf_log_tail() }
        }
    };
    let mut open = ProcessSkelBuilder::default().open(open_object).map_err(load_err)?;
    let cpus = libbpf_rs::num_possible_cpus().map_err(load_err)? as u32;
    open.maps.scratch.set_max_entries(cpus).map_err(load_err)?;
    open.maps.events.set_max_entries(config.ring_bytes.min(first_ring_bytes())).map_err(load_err)?;
    open.maps.spill.set_max_entries(config.ring_bytes).map_err(load_err)?;
    if let Some(rodata) = open.maps.rodata_data.as_deref_mut() {
        rodata.watch_comms = !config.comms.is_empty();
    }
    let mut skel = open.load().map_err(load_err)?;

    let member = types::traced_info { flags: TRACED_MEMBER | TRACED_NET, ..Default::default() };
    let spawner = types::traced_info { flags: TRACED_SPAWNER, ..Default::default() };
    if let Some(pid) = config.spawner {
        skel.maps
            .traced
            .update(&pid.to_ne_bytes(), bytes_of(&spawner), MapFlags::ANY)
            .map_err(map_err("register the collector as spawner"))?;
    }
    for comm in &config.comms {
        let mut key = [0u8; 16];
        key[..comm.len()].copy_from_slice(comm.as_bytes());
        skel.maps.comm_watch.update(&key, &[1], MapFlags::ANY).map_err(map_err(format!("watch for `{comm}`")))?;
    }
    attach(&mut skel)?;
    // Targets go in once the fork probe is live; a second scan then catches children forked
    // while the first scan ran (later forks are added by the kernel itself).
    let trace_pid = |pid: u32| {
        skel.maps
            .traced
            .update(&pid.to_ne_bytes(), bytes_of(&member), MapFlags::NO_EXIST)
            .or_else(|err| if err.kind() == libbpf_rs::ErrorKind::AlreadyExists { Ok(()) } else { Err(err) })
            .map_err(map_err(format!("trace pid {pid}")))
    };
    for &pid in &config.pids {
        trace_pid(pid)?;
    }
    if !config.pids.is_empty() {
        for pid in procfs::with_descendants(&config.pids)? {
            trace_pid(pid)?;
        }
    }
    Ok(skel)
}

/// Load `tls.bpf.c` on the maps of the loaded process programs (one ring buffer, one traced
/// set, one set of loss counters).
fn load_tls<'obj>(
    process: &ProcessSkel<'_>,
    open_object: &'obj mut MaybeUninit<libbpf_rs::OpenObject>,
    multi: bool,
) -> Result<TlsSkel<'obj>, Error> {
    use std::os::fd::AsFd;
    let load_err = |source: libbpf_rs::Error| Error::Load { source, log: libbpf_log_tail() };
    let mut open = TlsSkelBuilder::default().open(open_object).map_err(load_err)?;
    if !multi {
        // older kernels reject the uprobe_multi program type: leave those programs out
        open.progs.ssl_enter_multi.set_autoload(false);
        open.progs.ssl_exit_multi.set_autoload(false);
    } else {
        // and with them, the one-per-function programs are never attached: not verifying
        // them saves ~50 ms of start-up
        let progs = &mut open.progs;
        for prog in [
            &mut progs.ssl_write_enter,
            &mut progs.ssl_write_exit,
            &mut progs.ssl_read_enter,
            &mut progs.ssl_read_exit,
            &mut progs.ssl_write_ex_enter,
            &mut progs.ssl_write_ex_exit,
            &mut progs.ssl_read_ex_enter,
            &mut progs.ssl_read_ex_exit,
            &mut progs.ssl_free_enter,
        ] {
            prog.set_autoload(false);
        }
    }
    open.maps.events.reuse_fd(process.maps.events.as_fd()).map_err(load_err)?;
    open.maps.spill.reuse_fd(process.maps.spill.as_fd()).map_err(load_err)?;
    open.maps.ring_spilled.reuse_fd(process.maps.ring_spilled.as_fd()).map_err(load_err)?;
    open.maps.traced.reuse_fd(process.maps.traced.as_fd()).map_err(load_err)?;
    open.maps.losses.reuse_fd(process.maps.losses.as_fd()).map_err(load_err)?;
    open.maps.ringbuf_lost.reuse_fd(process.maps.ringbuf_lost.as_fd()).map_err(load_err)?;
    open.maps.tls_calls.reuse_fd(process.maps.tls_calls.as_fd()).map_err(load_err)?;
    open.load().map_err(load_err)
}

fn attach(skel: &mut ProcessSkel<'_>) -> Result<(), Error> {
    let progs = &skel.progs;
    let links = &mut skel.links;
    let attach_one = |prog: &libbpf_rs::ProgramMut<'_>| {
        prog.attach().map_err(|source| Error::Attach { program: prog.name().to_string_lossy().into_owned(), source })
    };
    links.handle_fork = Some(attach_one(&progs.handle_fork)?);
    links.handle_exec = Some(attach_one(&progs.handle_exec)?);
    links.handle_exit = Some(attach_one(&progs.handle_exit)?);
    links.handle_sys_exit = Some(attach_one(&progs.handle_sys_exit)?);
    Ok(())
}

/// The consumer side of the ring buffer, shared by its callback and the tick.
struct Sink {
    decoder: Decoder,
    tx: SyncSender<Vec<Event>>,
    batch: Vec<Event>,
    /// Processes that exec'd since the last poll (pid, comm, executable): their executables are
    /// offered to the TLS probes.
    execs: Vec<(u32, String, String)>,
    /// Records that did not decode, by reason, not yet published.
    decode_errors: BTreeMap<String, u64>,
    disconnected: bool,
}

impl Sink {
    fn send(&mut self, event: Event) {
        self.batch.push(event);
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    /// Hand the batch to the consumer; blocks while the channel is full.
    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        if !self.disconnected && self.tx.send(batch).is_err() {
            self.disconnected = true;
        }
    }

    fn record(&mut self, data: &[u8]) -> i32 {
        match raw::parse(data) {
            Ok(rec) => {
                if let raw::RawRecord::ExecMap { hdr, path, .. } = &rec {
                    let comm = crate::text::escape_bytes(&hdr.comm).0;
                    self.execs.push((hdr.pid, comm, crate::text::escape_bytes(path).0));
                }
                let mut out = Vec::new();
                self.decoder.push(rec, &mut out);
                for ev in out {
                    if let model::EventBody::Exec(exec) = &ev.body {
                        self.execs.push((ev.pid, ev.comm.clone(), exec.filename.clone()));
                    }
                    self.send(ev);
                }
            }
            Err(err) => {
                let reason = match err {
                    raw::RawError::Short { .. } => "short record",
                    raw::RawError::UnknownKind { .. } => "unknown record kind",
                    raw::RawError::BadLengths { .. } => "record lengths inconsistent",
                };
                *self.decode_errors.entry(reason.into()).or_default() += 1;
            }
        }
        // a negative return stops the poll: the consumer is gone, nothing more can be delivered
        if self.disconnected {
            -1
        } else {
            0
        }
    }
}

/// Per-CPU counters, summed, and what was already published.
#[derive(Default)]
struct LossTracker {
    published: BTreeMap<String, u64>,
}

impl LossTracker {
    fn sum_percpu(map: &libbpf_rs::MapMut<'_>, index: u32) -> u64 {
        map.lookup_percpu(&index.to_ne_bytes(), MapFlags::ANY)
            .ok()
            .flatten()
            .map(|cpus| {
                cpus.iter()
                    .map(|v| u64::from_ne_bytes(v.get(..8).and_then(|b| b.try_into().ok()).unwrap_or_default()))
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Publish any counter that grew since the last call as a `loss` event.
    fn publish(&mut self, skel: &ProcessSkel<'_>, sink: &mut Sink) {
        let now = Clock::boot_now_ns();
        let mut totals: Vec<(String, String, u64)> = Vec::new();
        for (i, reason) in LOSS_REASONS.iter().enumerate().skip(1) {
            totals.push(("kernel".into(), reason.to_string(), Self::sum_percpu(&skel.maps.losses, i as u32)));
        }
        for (kind, name) in EVENT_KIND_NAMES.iter().enumerate().skip(1) {
            let n = Self::sum_percpu(&skel.maps.ringbuf_lost, kind as u32);
            totals.push(("ringbuf".into(), format!("{} ({name})", LOSS_REASONS[0]), n));
        }
        // counted in gaps (the chunks themselves are counted as ring-buffer losses)
        let (tls, plain) = (sink.decoder.stream_gaps(false), sink.decoder.stream_gaps(true));
        totals.push(("tls".into(), "TLS stream gaps (an exchange cut by lost records)".into(), tls.count));
        totals.push(("net".into(), "plaintext HTTP stream gaps (an exchange cut by lost records)".into(), plain.count));
        for (reason, n) in std::mem::take(&mut sink.decode_errors) {
            let key = format!("decode\0{reason}");
            let total = self.published.get(&key).copied().unwrap_or(0) + n;
            totals.push(("decode".into(), reason, total));
        }
        for (source, reason, total) in totals {
            let key = format!("{source}\0{reason}");
            let before = self.published.get(&key).copied().unwrap_or(0);
            if total > before {
                let ev = sink.decoder.loss(now, &source, total - before, &reason);
                sink.send(ev);
                self.published.insert(key, total);
            }
        }
    }
}

/// The second ring buffer, mapped, its records going where the first ring's go.
fn second_ring<'a>(
    skel: &'a ProcessSkel<'_>,
    sink: &'a std::cell::RefCell<Sink>,
) -> Result<libbpf_rs::RingBuffer<'a>, Error> {
    let mut builder = RingBufferBuilder::new();
    builder
        .add(&skel.maps.spill, |data: &[u8]| sink.borrow_mut().record(data))
        .map_err(map_err("set up the second ring buffer"))?;
    builder.build().map_err(map_err("set up the second ring buffer"))
}

/// Whether the kernel has switched to the second ring buffer (common.bpf.h).
fn spilled(skel: &ProcessSkel<'_>) -> bool {
    let value = skel.maps.ring_spilled.lookup(&0u32.to_ne_bytes(), MapFlags::ANY).ok().flatten();
    value.is_some_and(|v| v.iter().any(|&b| b != 0))
}

/// Processes in the traced tree. An entry whose process is gone without an exit (it died
/// between `attach` finding it and the map update) is pruned here, or it would never leave.
fn count_members(skel: &ProcessSkel<'_>) -> u64 {
    let traced = &skel.maps.traced;
    let mut members = 0;
    for key in traced.keys() {
        let Some(value) = traced.lookup(&key, MapFlags::ANY).ok().flatten() else { continue };
        let mut info = types::traced_info::default();
        if plain::copy_from_bytes(&mut info, &value).is_err() || info.flags & TRACED_MEMBER == 0 {
            continue;
        }
        let pid = key.get(..4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_ne_bytes);
        if std::fs::metadata(format!("/proc/{pid}")).is_ok() {
            members += 1;
        } else {
            let _ = traced.delete(&key);
        }
    }
    members
}

/// Offer the executables of processes that just exec'd to the TLS probes.
/// A process that does TLS the probes cannot see is named in a `loss` event, never missed
/// silently.
fn offer_execs(probes: &mut SslProbes<'_>, execs: Vec<(u32, String, String)>, sink: &mut Sink) {
    for (pid, comm, exe) in execs {
        let reason = match probes.offer(std::path::Path::new(&exe)) {
            Outcome::Uncapturable(library) => format!("TLS via {library}, not captured"),
            Outcome::Failed(why) => format!("TLS probes failed to attach ({why})"),
            _ => continue,
        };
        let reason = format!("pid {pid} `{comm}` ({exe}): {reason}");
        let ev = sink.decoder.loss(Clock::boot_now_ns(), "tls", 1, &reason);
        sink.send(ev);
    }
}

/// `AGENTSIGHT_FIRST_RING_KIB=N` sizes the first ring buffer (a power of two, at least one
/// page), to test the switch to the second or to tune it; else [`FIRST_RING_BYTES`].
fn first_ring_bytes() -> u32 {
    std::env::var("AGENTSIGHT_FIRST_RING_KIB")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .and_then(|kib| kib.checked_mul(1024))
        .filter(|b| b.is_power_of_two() && *b >= 4096)
        .unwrap_or(FIRST_RING_BYTES)
}

/// `AGENTSIGHT_UPROBE_MULTI=0` attaches one uprobe per function even where uprobe_multi
/// links work (for kernels or sandboxes where they misbehave, and to test that path).
fn uprobe_multi_wanted() -> bool {
    std::env::var("AGENTSIGHT_UPROBE_MULTI").map_or(true, |v| v != "0")
}

fn run(
    config: CaptureConfig,
    redactor: Redactor,
    tx: SyncSender<Vec<Event>>,
    shared: Arc<Shared>,
    ready: mpsc::Sender<Result<(), Error>>,
) -> Result<(), Error> {
    let mut open_object = MaybeUninit::uninit();
    let skel = match load(&config, &mut open_object) {
        Ok(skel) => skel,
        Err(err) => {
            let _ = ready.send(Err(err));
            return Ok(());
        }
    };
    let mut tls_object = MaybeUninit::uninit();
    // TLS probes that cannot be set up do not stop the capture: the kernel boundary and
    // plaintext HTTP need no uprobes. Why TLS is not captured goes out as a `loss` event.
    let mut tls_refused = None;
    let mut probes = if config.tls {
        let multi = uprobe_multi_wanted() && parse_release(&kernel_release()).is_some_and(uprobes::multi_supported);
        match load_tls(&skel, &mut tls_object, multi) {
            Ok(tls) => {
                let mut probes = SslProbes::new(tls, multi);
                let targets = uprobes::system_libraries()
                    .into_iter()
                    .chain(uprobes::well_known_executables())
                    .chain(config.tls_binaries.iter().cloned());
                for path in targets {
                    if let Outcome::Failed(why) = probes.offer(&path) {
                        tls_refused = Some(format!("attaching uprobes to {} failed: {why}", path.display()));
                        break;
                    }
                }
                if tls_refused.is_some() {
                    probes.detach_all();
                    None
                } else {
                    Some(probes)
                }
            }
            Err(err) => {
                tls_refused = Some(format!("the TLS programs did not load: {err}"));
                None
            }
        }
    } else {
        None
    };
    let sink = std::cell::RefCell::new(Sink {
        decoder: Decoder::new(config.session.clone(), Clock::sample(), redactor).full_requests(config.full_requests),
        tx,
        batch: Vec::with_capacity(BATCH),
        execs: Vec::new(),
        decode_errors: BTreeMap::new(),
        disconnected: false,
    });
    let mut builder = RingBufferBuilder::new();
    builder
        .add(&skel.maps.events, |data: &[u8]| sink.borrow_mut().record(data))
        .map_err(map_err("set up the ring buffer"))?;
    let ringbuf = builder.build().map_err(map_err("set up the ring buffer"))?;
    // the `--ring-mib` ring, mapped once the kernel has switched to it (common.bpf.h)
    let mut spill: Option<libbpf_rs::RingBuffer<'_>> = None;
    if let Some(why) = tls_refused {
        let privileges = if procfs::has_cap_sys_admin() {
            ""
        } else {
            " (since the CVE-2025-38466 fix, uprobes without uprobe_multi need CAP_SYS_ADMIN)"
        };
        let reason = format!(
            "TLS plaintext not captured: {why}{privileges}; the kernel boundary and plaintext HTTP are recorded, and each TLS connection is named"
        );
        let ev = sink.borrow().decoder.loss(Clock::boot_now_ns(), "tls", 1, &reason);
        sink.borrow_mut().send(ev);
    }
    shared.members.store(count_members(&skel), Ordering::Release);
    shared.ticks.fetch_add(1, Ordering::AcqRel);
    let _ = ready.send(Ok(()));

    let mut losses = LossTracker::default();
    let mut last_tick = Instant::now();
    let mut last_clock = Instant::now();
    while !shared.stop.load(Ordering::Acquire) {
        if spill.is_none() && spilled(&skel) {
            spill = Some(second_ring(&skel, &sink)?);
        }
        // once switched, what is left in the first ring (written before the switch) goes first
        let polled = match &spill {
            Some(second) => ringbuf.consume().and_then(|_| second.poll(POLL)),
            None => ringbuf.poll(POLL),
        };
        if let Err(source) = polled {
            if !sink.borrow().disconnected && source.kind() != libbpf_rs::ErrorKind::Interrupted {
                return Err(Error::Poll { source });
            }
        }
        sink.borrow_mut().flush();
        let execs = std::mem::take(&mut sink.borrow_mut().execs);
        if let Some(probes) = probes.as_mut() {
            offer_execs(probes, execs, &mut sink.borrow_mut());
        }
        if sink.borrow().disconnected {
            return Ok(()); // nobody is listening any more
        }
        if last_tick.elapsed() >= TICK || shared.tick_wanted.swap(false, Ordering::AcqRel) {
            last_tick = Instant::now();
            losses.publish(&skel, &mut sink.borrow_mut());
            shared.members.store(count_members(&skel), Ordering::Release);
            shared.ticks.fetch_add(1, Ordering::AcqRel);
            if last_clock.elapsed() >= Duration::from_secs(1) {
                last_clock = Instant::now();
                sink.borrow_mut().decoder.clock_mut().refresh();
            }
        }
    }

    // Final drain: everything the kernel already holds, then summaries of files still open.
    let _ = ringbuf.consume();
    if spill.is_none() && spilled(&skel) {
        spill = Some(second_ring(&skel, &sink)?);
    }
    if let Some(second) = &spill {
        let _ = second.consume();
    }
    let now = Clock::boot_now_ns();
    let leftovers: Vec<_> = skel
        .maps
        .writes
        .keys()
        .filter_map(|k: Vec<u8>| {
            let v = skel.maps.writes.lookup(&k, MapFlags::ANY).ok().flatten()?;
            raw::leftover_write(&k, &v, now)
        })
        .collect();
    let mut sink = sink.borrow_mut();
    let execs = std::mem::take(&mut sink.execs);
    if let Some(probes) = probes.as_mut() {
        offer_execs(probes, execs, &mut sink);
    }
    let mut out = Vec::new();
    for rec in leftovers {
        sink.decoder.push(rec, &mut out);
    }
    sink.decoder.finish(now, &mut out);
    for ev in out {
        sink.send(ev);
    }
    losses.publish(&skel, &mut sink);
    sink.flush();
    if let Some(probes) = probes.as_mut() {
        probes.detach_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_release_parses() {
        assert_eq!(parse_release("6.18.44-fc-v782"), Some((6, 18)));
        assert_eq!(parse_release("5.4.0-150-generic"), Some((5, 4)));
        assert!(parse_release("5.4.0").is_some_and(|v| v < MIN_KERNEL));
        assert_eq!(parse_release("garbage"), None);
    }

    #[test]
    fn capture_config_reads_its_file_keys_and_rejects_others() {
        let c: CaptureConfig = serde_json::from_str(
            r#"{"ring_mib": 128, "tls": false, "full_requests": true, "tls_binaries": ["/opt/agent"]}"#,
        )
        .expect("parse");
        assert_eq!(c.ring_bytes, 128 << 20);
        assert!(!c.tls && c.full_requests);
        assert_eq!(c.tls_binaries, [std::path::PathBuf::from("/opt/agent")]);
        assert_eq!(serde_json::from_str::<CaptureConfig>("{}").expect("empty"), CaptureConfig::default());
        let err = serde_json::from_str::<CaptureConfig>(r#"{"ring_mib": 3}"#).expect_err("not a power of two");
        assert!(err.to_string().contains("3 is not a power of two"), "{err}");
        for runtime in [r#"{"ring_bytes": 1}"#, r#"{"session": "s"}"#, r#"{"pids": [1]}"#, r#"{"redact": {}}"#] {
            assert!(serde_json::from_str::<CaptureConfig>(runtime).is_err(), "{runtime} is not a file key");
        }
    }
}
