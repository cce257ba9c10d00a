//! What `/proc` says about processes that already run: used by `attach` to find its targets and
//! their existing descendants, and by the pre-flight checks for privileges.

use std::collections::{HashMap, HashSet};
use std::fs;

use crate::Error;

/// The ppid and comm of a running process, from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(u32, String)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split at the last ')'
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let ppid = text.get(close + 2..)?.split_whitespace().nth(1)?.parse().ok()?;
    Some((ppid, comm))
}

/// Every running process: pid -> (ppid, comm).
fn all_processes() -> Result<HashMap<u32, (u32, String)>, Error> {
    let dir = fs::read_dir("/proc").map_err(|source| Error::Io { what: "read `/proc`".into(), source })?;
    Ok(dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?)))
        .collect())
}

/// Check that every pid exists.
pub fn check_pids(pids: &[u32]) -> Result<(), Error> {
    match pids.iter().find(|pid| fs::metadata(format!("/proc/{pid}")).is_err()) {
        Some(&pid) => Err(Error::NoSuchPid { pid }),
        None => Ok(()),
    }
}

/// Pids of running processes whose comm is `comm`.
pub fn pids_by_comm(comm: &str) -> Result<Vec<u32>, Error> {
    let mut pids: Vec<u32> = all_processes()?.into_iter().filter(|(_, (_, c))| c == comm).map(|(p, _)| p).collect();
    pids.sort_unstable();
    Ok(pids)
}

/// `roots` and every process descended from them, now.
pub fn with_descendants(roots: &[u32]) -> Result<Vec<u32>, Error> {
    let procs = all_processes()?;
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&pid, &(ppid, _)) in &procs {
        children.entry(ppid).or_default().push(pid);
    }
    let mut seen: HashSet<u32> = HashSet::new();
    let mut stack: Vec<u32> = roots.to_vec();
    while let Some(pid) = stack.pop() {
        if seen.insert(pid) {
            stack.extend(children.get(&pid).into_iter().flatten());
        }
    }
    let mut out: Vec<u32> = seen.into_iter().collect();
    out.sort_unstable();
    Ok(out)
}

/// Whether this process holds what loading tracing programs takes: CAP_SYS_ADMIN, or CAP_BPF
/// with CAP_PERFMON (Linux 5.8+).
pub fn has_bpf_privileges() -> bool {
    let has = effective_caps();
    has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))
}

/// Whether this process holds CAP_SYS_ADMIN (classic uprobes need it on patched kernels).
pub fn has_cap_sys_admin() -> bool {
    effective_caps()(CAP_SYS_ADMIN)
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// This process's effective capabilities, as a membership test.
fn effective_caps() -> impl Fn(u32) -> bool {
    let eff = fs::read_to_string("/proc/self/status").ok().and_then(|status| {
        status.lines().find_map(|l| l.strip_prefix("CapEff:")).and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
    });
    move |cap: u32| eff.is_some_and(|eff| eff & (1u64 << cap) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_found_with_its_comm_and_parent() {
        let me = std::process::id();
        let (ppid, comm) = stat(me).expect("own stat");
        assert!(ppid > 0);
        assert!(pids_by_comm(&comm).expect("scan").contains(&me));
        assert!(with_descendants(&[ppid]).expect("scan").contains(&me));
        assert!(check_pids(&[me]).is_ok());
    }

    #[test]
    fn missing_pid_is_named() {
        // pid_max is at most 2^22, so this pid cannot exist
        let err = check_pids(&[u32::MAX - 1]).expect_err("no such pid");
        assert_eq!(err.to_string(), format!("no process with pid {}", u32::MAX - 1));
    }
}
