//! Counts over a trace: events by kind (files by operation), losses by reason, time span.
//! Built one event at a time, so it summarises a stream of any length in constant memory.

use std::collections::BTreeMap;

use model::{Event, EventBody};

/// What a trace holds, in numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events by `kind`, `loss` events excluded.
    pub by_kind: BTreeMap<String, u64>,
    /// `file` events by `op`.
    pub file_ops: BTreeMap<String, u64>,
    /// Lost records by reason, summed over `loss` events.
    pub losses: BTreeMap<String, u64>,
    /// Events flagged as truncated at a cap (argv, paths).
    pub truncated: u64,
    pub first_ts_ns: Option<u64>,
    pub last_ts_ns: Option<u64>,
}

impl Summary {
    pub fn push(&mut self, event: &Event) {
        match &event.body {
            EventBody::Loss(loss) => {
                *self.losses.entry(loss.reason.clone()).or_default() += loss.count;
                return;
            }
            EventBody::File(f) => {
                *self.file_ops.entry(f.op.as_str().to_string()).or_default() += 1;
                self.truncated += u64::from(!f.truncated.is_empty());
            }
            EventBody::Exec(e) => self.truncated += u64::from(!e.truncated.is_empty()),
            _ => {}
        }
        *self.by_kind.entry(event.body.kind().to_string()).or_default() += 1;
        self.first_ts_ns = Some(self.first_ts_ns.map_or(event.ts_ns, |t| t.min(event.ts_ns)));
        self.last_ts_ns = Some(self.last_ts_ns.map_or(event.ts_ns, |t| t.max(event.ts_ns)));
    }

    /// Events seen, `loss` events excluded.
    pub fn events(&self) -> u64 {
        self.by_kind.values().sum()
    }

    /// Records lost, all reasons together.
    pub fn lost(&self) -> u64 {
        self.losses.values().sum()
    }

    /// e.g. `exec 5, fork 4, exit 5, file 41 (open 38, write 2, rename 1), connect 1`.
    pub fn kinds_line(&self) -> String {
        const ORDER: &[&str] = &["exec", "fork", "exit", "file", "connect"];
        let mut kinds: Vec<&String> = self.by_kind.keys().collect();
        kinds.sort_by_key(|k| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
        kinds
            .into_iter()
            .map(|kind| {
                let n = self.by_kind[kind];
                if kind == "file" && !self.file_ops.is_empty() {
                    let ops: Vec<String> = self.file_ops.iter().map(|(op, n)| format!("{op} {n}")).collect();
                    format!("{kind} {n} ({})", ops.join(", "))
                } else {
                    format!("{kind} {n}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// e.g. `no losses` or `12 lost: ring buffer full (exec) 12`.
    pub fn losses_line(&self) -> String {
        if self.losses.is_empty() {
            return "no losses".into();
        }
        let parts: Vec<String> = self.losses.iter().map(|(r, n)| format!("{r} {n}")).collect();
        format!("{} lost: {}", self.lost(), parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{FileEvent, FileOp, Fork, Loss};

    fn ev(ts_ns: u64, body: EventBody) -> Event {
        Event { ts_ns, session: "s".into(), pid: 1, tid: 1, ppid: 0, comm: "x".into(), body }
    }

    fn file(op: FileOp) -> EventBody {
        EventBody::File(FileEvent::new(op, "/p", 0))
    }

    #[test]
    fn counts_kinds_ops_and_losses() {
        let mut s = Summary::default();
        s.push(&ev(5, EventBody::Fork(Fork { child_pid: 2 })));
        s.push(&ev(3, file(FileOp::Open)));
        s.push(&ev(9, file(FileOp::Open)));
        s.push(&ev(7, file(FileOp::Write)));
        let loss = Loss { source: "ringbuf".into(), count: 4, reason: "ring buffer full (exec)".into() };
        s.push(&ev(8, EventBody::Loss(loss.clone())));
        s.push(&ev(8, EventBody::Loss(loss)));
        assert_eq!(s.events(), 4);
        assert_eq!(s.kinds_line(), "fork 1, file 3 (open 2, write 1)");
        assert_eq!(s.lost(), 8);
        assert_eq!(s.losses_line(), "8 lost: ring buffer full (exec) 8");
        assert_eq!((s.first_ts_ns, s.last_ts_ns), (Some(3), Some(9)));
    }

    #[test]
    fn empty_summary_says_no_losses() {
        let s = Summary::default();
        assert_eq!(s.losses_line(), "no losses");
        assert_eq!(s.kinds_line(), "");
    }
}
