//! Signals while a trace runs. SIGINT/SIGTERM/SIGHUP never kill `agentsight` mid-write: they
//! are counted, so the trace can stop cleanly and flush. A signal that another process sent
//! (`kill`) is forwarded to the traced command; one that the terminal sent (Ctrl-C) already
//! reached the command through its process group, so it is not sent twice.

use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use rustix::process::{kill_process, Pid, Signal};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::iterator::SignalsInfo;
use signal_hook::low_level::siginfo::Cause;

#[derive(Debug, Default)]
struct State {
    /// Stop requests received (Ctrl-C, SIGTERM, SIGHUP).
    stops: AtomicU32,
    /// The last stop signal's number.
    last: AtomicI32,
    /// The traced command's pid, once started: where signals from other processes go.
    forward_to: AtomicU32,
}

/// The stop requests seen so far; cheap to query from a polling loop.
#[derive(Debug, Clone)]
pub(crate) struct Stops(Arc<State>);

impl Stops {
    /// Handle SIGINT, SIGTERM and SIGHUP from now on.
    pub(crate) fn install() -> Result<Self> {
        let state = Arc::new(State::default());
        let mut signals =
            SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP]).context("failed to install signal handlers")?;
        let thread_state = Arc::clone(&state);
        std::thread::Builder::new()
            .name("agentsight-signals".into())
            .spawn(move || {
                for origin in signals.forever() {
                    thread_state.stops.fetch_add(1, Ordering::AcqRel);
                    thread_state.last.store(origin.signal, Ordering::Release);
                    let from_process = matches!(origin.cause, Cause::Sent(_));
                    let child = thread_state.forward_to.load(Ordering::Acquire);
                    if from_process && child != 0 {
                        if let (Some(pid), Some(sig)) =
                            (Pid::from_raw(child as i32), Signal::from_named_raw(origin.signal))
                        {
                            let _ = kill_process(pid, sig);
                        }
                    }
                }
            })
            .context("failed to start the signal thread")?;
        Ok(Stops(state))
    }

    /// Forward signals sent by other processes to `pid` from now on.
    pub(crate) fn forward_to(&self, pid: u32) {
        self.0.forward_to.store(pid, Ordering::Release);
    }

    /// How many stop requests arrived.
    pub(crate) fn count(&self) -> u32 {
        self.0.stops.load(Ordering::Acquire)
    }

    /// The exit code a stop by the last signal means (128 + its number).
    pub(crate) fn exit_code(&self) -> i32 {
        128 + self.0.last.load(Ordering::Acquire)
    }
}
