//! The process tree of a trace: who started whom, what each ran, how it ended.
//!
//! Built one event at a time from `fork`, `exec` and `exit`. A process is a node from its first
//! sighting; a pid that is reused after an exit gets a new node, so a long trace with pid
//! wrap-around stays correct. Roots are processes whose parent is not in the trace.

use std::collections::HashMap;
use std::fmt::Write as _;

use model::{Event, EventBody};

/// One process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    /// The arguments of its last exec (empty if it never exec'd in the trace).
    pub argv: Vec<String>,
    pub execs: u32,
    /// Exit code (128 + signal when killed), once it exited.
    pub exit_code: Option<i32>,
    pub duration_ns: Option<u64>,
    pub children: Vec<usize>,
    has_parent: bool,
}

/// All processes of a trace, in order of first sighting.
#[derive(Debug, Clone, Default)]
pub struct ProcessTree {
    nodes: Vec<Node>,
    /// pid -> index of the live (or last) node with that pid.
    by_pid: HashMap<u32, usize>,
}

impl ProcessTree {
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut tree = ProcessTree::default();
        for ev in events {
            tree.push(ev);
        }
        tree
    }

    fn node(&mut self, pid: u32, ppid: u32, comm: &str) -> usize {
        if let Some(&i) = self.by_pid.get(&pid) {
            if self.nodes[i].exit_code.is_none() {
                return i;
            }
        }
        let parent = self.by_pid.get(&ppid).copied().filter(|&p| self.nodes[p].exit_code.is_none());
        let i = self.nodes.len();
        self.nodes.push(Node {
            pid,
            ppid,
            comm: comm.to_string(),
            argv: Vec::new(),
            execs: 0,
            exit_code: None,
            duration_ns: None,
            children: Vec::new(),
            has_parent: parent.is_some(),
        });
        if let Some(p) = parent {
            self.nodes[p].children.push(i);
        }
        self.by_pid.insert(pid, i);
        i
    }

    pub fn push(&mut self, ev: &Event) {
        match &ev.body {
            EventBody::Fork(fork) => {
                self.node(ev.pid, ev.ppid, &ev.comm);
                // a fork makes a new process even if an old one with this pid is still known
                if let Some(&old) = self.by_pid.get(&fork.child_pid) {
                    if self.nodes[old].exit_code.is_none() && self.nodes[old].ppid != ev.pid {
                        self.nodes[old].exit_code = Some(-1);
                    }
                }
                self.node(fork.child_pid, ev.pid, &ev.comm);
            }
            EventBody::Exec(exec) => {
                let i = self.node(ev.pid, ev.ppid, &ev.comm);
                let node = &mut self.nodes[i];
                node.comm = ev.comm.clone();
                node.argv = exec.argv.clone();
                node.execs += 1;
            }
            EventBody::Exit(exit) => {
                let i = self.node(ev.pid, ev.ppid, &ev.comm);
                let node = &mut self.nodes[i];
                node.comm = ev.comm.clone();
                node.exit_code = Some(exit.exit_code);
                node.duration_ns = Some(exit.duration_ns);
            }
            _ => {}
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Processes whose parent is not in the trace.
    pub fn roots(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| !n.has_parent)
    }

    /// Indices in [`Self::nodes`] of the processes whose parent is not in the trace.
    pub fn root_indices(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|&i| !self.nodes[i].has_parent)
    }

    /// The tree as text, one process a line, at most `max_lines` lines.
    pub fn render(&self, max_lines: usize) -> String {
        let mut out = String::new();
        let mut lines = 0;
        let roots: Vec<usize> = self.root_indices().collect();
        let mut stack: Vec<(usize, String, bool, bool)> = Vec::new(); // (node, prefix, last, is_root)
        for (k, &r) in roots.iter().enumerate().rev() {
            stack.push((r, String::new(), k + 1 == roots.len(), true));
        }
        while let Some((i, prefix, last, is_root)) = stack.pop() {
            if lines == max_lines {
                let _ = writeln!(out, "… and {} more processes", self.nodes.len() - lines);
                break;
            }
            let branch = if is_root {
                ""
            } else if last {
                "└─ "
            } else {
                "├─ "
            };
            let _ = writeln!(out, "{prefix}{branch}{}", describe(&self.nodes[i]));
            lines += 1;
            let child_prefix =
                if is_root { prefix.clone() } else { format!("{prefix}{}", if last { "   " } else { "│  " }) };
            let children = &self.nodes[i].children;
            for (k, &c) in children.iter().enumerate().rev() {
                stack.push((c, child_prefix.clone(), k + 1 == children.len(), false));
            }
        }
        out
    }
}

/// `python3 -c 'print(1)' [1235] exit 0, 40 ms`
fn describe(node: &Node) -> String {
    let command = if node.argv.is_empty() { format!("({})", node.comm) } else { shorten(&quote_argv(&node.argv), 100) };
    let status = match (node.exit_code, node.duration_ns) {
        (Some(-1), _) => "gone".to_string(),
        (Some(code), Some(d)) => format!("exit {code}, {}", human_duration(d)),
        (Some(code), None) => format!("exit {code}"),
        (None, _) => "running".to_string(),
    };
    format!("{command} [{}] {status}", node.pid)
}

/// Arguments as a shell would need them typed.
pub fn quote_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn shorten(s: &str, max_chars: usize) -> String {
    let s = s.replace('\n', "⏎");
    if s.chars().count() <= max_chars {
        s
    } else {
        format!("{}…", s.chars().take(max_chars - 1).collect::<String>())
    }
}

/// `850 µs`, `40 ms`, `1.20 s`, `3 m 5 s`.
pub fn human_duration(ns: u64) -> String {
    match ns {
        0..=999_999 => format!("{} µs", ns / 1_000),
        1_000_000..=999_999_999 => format!("{} ms", ns / 1_000_000),
        1_000_000_000..=59_999_999_999 => format!("{:.2} s", ns as f64 / 1e9),
        _ => format!("{} m {} s", ns / 60_000_000_000, (ns / 1_000_000_000) % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{Exec, Exit, Fork};

    fn ev(pid: u32, ppid: u32, comm: &str, body: EventBody) -> Event {
        Event { ts_ns: 0, session: "s".into(), pid, tid: pid, ppid, comm: comm.into(), body }
    }
    fn exec(argv: &[&str]) -> EventBody {
        EventBody::Exec(Exec {
            filename: argv[0].into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            cwd: "/".into(),
            uid: 0,
            argv_truncated: false,
            argv_bytes: 0,
            truncated: vec![],
            non_utf8: false,
        })
    }
    fn exit(code: i32) -> EventBody {
        EventBody::Exit(Exit { exit_code: code, signal: 0, core_dumped: false, duration_ns: 40_000_000 })
    }

    fn sample() -> Vec<Event> {
        vec![
            ev(10, 1, "bash", exec(&["bash", "-c", "python3 x; ls /nope"])),
            ev(10, 1, "bash", EventBody::Fork(Fork { child_pid: 11 })),
            ev(11, 10, "python3", exec(&["python3", "x"])),
            ev(11, 10, "python3", exit(0)),
            ev(10, 1, "bash", EventBody::Fork(Fork { child_pid: 12 })),
            ev(12, 10, "ls", exec(&["ls", "/nope"])),
            ev(12, 10, "ls", exit(2)),
            ev(10, 1, "bash", exit(3)),
        ]
    }

    #[test]
    fn builds_parent_child_links() {
        let tree = ProcessTree::from_events(&sample());
        assert_eq!(tree.len(), 3);
        let roots: Vec<u32> = tree.roots().map(|n| n.pid).collect();
        assert_eq!(roots, [10]);
        let root = &tree.nodes()[0];
        assert_eq!(root.children.len(), 2);
        assert_eq!(root.exit_code, Some(3));
        assert_eq!(tree.nodes()[2].argv, ["ls", "/nope"]);
    }

    #[test]
    fn renders_with_branches() {
        let text = ProcessTree::from_events(&sample()).render(10);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "bash -c 'python3 x; ls /nope' [10] exit 3, 40 ms");
        assert_eq!(lines[1], "├─ python3 x [11] exit 0, 40 ms");
        assert_eq!(lines[2], "└─ ls /nope [12] exit 2, 40 ms");
    }

    #[test]
    fn render_is_capped() {
        let text = ProcessTree::from_events(&sample()).render(1);
        assert!(text.ends_with("… and 2 more processes\n"), "{text}");
    }

    #[test]
    fn reused_pid_after_exit_is_a_new_process() {
        let mut events = sample();
        events.push(ev(10, 1, "bash", EventBody::Fork(Fork { child_pid: 11 })));
        let tree = ProcessTree::from_events(&events);
        assert_eq!(tree.len(), 5, "the exited bash [10] is not reused as a parent");
    }

    #[test]
    fn quoting_and_durations() {
        assert_eq!(quote_argv(&["echo".into(), "a b".into(), "it's".into()]), r"echo 'a b' 'it'\''s'");
        assert_eq!(human_duration(850_000), "850 µs");
        assert_eq!(human_duration(1_200_000_000), "1.20 s");
        assert_eq!(human_duration(185_000_000_000), "3 m 5 s");
    }
}
