#!/usr/bin/env bash
# bench/startup.sh: where the fixed cost of `agentsight record -- /bin/true` goes.
#
# Run as root, from anywhere in the repository:  sudo bash bench/startup.sh
# (under a minute; REPS=N changes the repetitions, default 5; AGENTSIGHT=/path/to/agentsight
# measures that binary instead of building one)
#
#   1. Wall time by phase: REPS runs of `record -q -o FILE -- /bin/true` under
#      `strace -f --seccomp-bpf -ttt -T` limited to the syscalls that mark the phases (bpf,
#      openat, read, close, mmap, munmap, execve, exit_group: only those stop the process, so
#      strace inflates the total by ~10%, not by its usual factor), medians per phase: process
#      start to the first bpf() call; the BPF objects (program verification summed by program
#      type, map creation with the ring buffer apart, and the rest: libbpf's own BTF and CO-RE
#      work); TLS discovery and attach (reads of files over 1 MiB, i.e. whole binaries, and
#      uprobe link creation); the command itself; noticing its exit and draining; detaching
#      (closes of BPF links that take over 1 ms: uprobe unregistration waits for RCU grace
#      periods); exit.
#   2. Peak RSS by cause: the default, `--ring-mib 1`, no `node` on PATH, both; and the Rss of
#      the ring buffer's mapping in /proc/PID/smaps while recording.
#   3. CPU by component, when `perf` is there: `perf record -g` of REPS more runs (no strace),
#      the share of agentsight's samples under the kernel's verifier (bpf_check), libbpf's
#      object preparation (BTF, CO-RE relocation), reading files (std::fs::read), the ring
#      buffer's allocation, page faults, and the process's own wall and CPU without any tracer.
# Prints Markdown for docs/BENCHMARKS.md.
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
    echo "bench/startup.sh: must run as root (it loads eBPF programs); try: sudo bash bench/startup.sh" >&2
    exit 2
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
REPS=${REPS:-5}
PY=$(command -v python3 || true)
[[ -n $PY ]] || { echo "bench/startup.sh: python3 is needed" >&2; exit 2; }
command -v strace >/dev/null || { echo "bench/startup.sh: strace is needed" >&2; exit 2; }

# shellcheck source=bench/common.sh
. "$BENCH/common.sh"

TMP=$(mktemp -d /tmp/agentsight-startup.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

for ((i = 1; i <= REPS; i++)); do
    echo "strace run $i/$REPS" >&2
    strace -f --seccomp-bpf -ttt -T -o "$TMP/strace.$i" \
        -e trace=bpf,openat,read,close,mmap,munmap,execve,exit_group \
        "$AS" record -q -o "$TMP/t.jsonl" -- /bin/true
    "$PY" "$BENCH/measure.py" "$TMP/plain.$i.json" -- "$AS" record -q -o "$TMP/t.jsonl" -- /bin/true
done

# the interpreter itself, not a shim (pyenv's are shell scripts that need PATH)
PY_EXE=$("$PY" -c 'import sys; print(sys.executable)')
# Peak RSS by cause: the default, a 1 MiB ring, no `node` on PATH (TLS discovery then reads no
# 94 MiB binary), both; and what the ring buffer's mapping alone holds while recording.
for variant in default ring1 nonode both; do
    args=() path=$PATH
    [[ $variant == ring1 || $variant == both ]] && args=(--ring-mib 1)
    [[ $variant == nonode || $variant == both ]] && path=/nonexistent
    PATH=$path "$PY_EXE" "$BENCH/measure.py" "$TMP/rss.$variant.json" -- \
        "$AS" record -q "${args[@]}" -o "$TMP/t.jsonl" -- /bin/true
done
"$AS" record -q -o "$TMP/t.jsonl" -- sleep 1.5 &
REC=$!
sleep 1
if [[ -r /proc/$REC/smaps ]]; then
    awk '/^[0-9a-f]+-[0-9a-f]+ / {map = $NF} /^Rss:/ && map == "anon_inode:bpf-map" {kb += $2}
         END {print kb + 0}' "/proc/$REC/smaps" >"$TMP/ring.rss"
    grep -E '^(VmRSS|RssAnon|RssFile)' "/proc/$REC/status" | awk '{print $1, $2}' >"$TMP/ring.status"
fi
wait "$REC" || true

PERF=0
if command -v perf >/dev/null && perf record -q -o "$TMP/probe.data" -- true 2>/dev/null; then
    PERF=1
    echo "perf runs..." >&2
    for ((i = 1; i <= REPS; i++)); do
        perf record -q -F 4999 -g -o "$TMP/perf.$i.data" -- "$AS" record -q -o "$TMP/t.jsonl" -- /bin/true 2>/dev/null
        perf report -i "$TMP/perf.$i.data" --children --sort sym --stdio -g none 2>/dev/null >"$TMP/perf.$i.txt"
    done
fi

"$PY" - "$TMP" "$REPS" "$PERF" "$REV" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$LOAD_START" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" <<'PY'
import json, re, statistics, sys
from collections import defaultdict
from pathlib import Path

tmp, reps, perf, rev, date, load_start, load_end, nproc = sys.argv[1:9]
tmp, reps, perf = Path(tmp), int(reps), int(perf)
med = statistics.median
LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*?)(?:\s+<(\d+\.\d+)>)?$")


def parse(path):
    """Each syscall as (pid, name, start, end, text), unfinished/resumed pairs joined."""
    calls, pending = [], {}
    for raw in path.read_text().splitlines():
        m = LINE.match(raw)
        if not m:
            continue
        pid, ts, text, dur = m.group(1), float(m.group(2)), m.group(3), m.group(4)
        if text.endswith("<unfinished ...>"):
            pending[pid] = (ts, text)
            continue
        if text.startswith("<... "):
            name = text[5:].split(" ", 1)[0]
            start, first = pending.pop(pid, (ts - float(dur or 0), ""))
            calls.append((pid, name, start, ts, first + text))
            continue
        if text.startswith("+++") or text.startswith("---"):
            calls.append((pid, "+++", ts, ts, text))
            continue
        name = text.split("(", 1)[0]
        calls.append((pid, name, ts, ts + float(dur or 0), text))
    return sorted(calls, key=lambda c: c[2])


def phases(calls):
    root = calls[0][0]
    t0 = calls[0][2]
    ph = defaultdict(float)
    first_bpf = next(c[2] for c in calls if c[1] == "bpf")
    child = next(c for c in calls if c[1] == "execve" and c[0] != root)
    child_exit = next(c[2] for c in calls if c[0] == child[0] and c[1] in ("exit_group", "+++"))
    end = max(c[3] for c in calls)
    fds = {}
    verify = defaultdict(float)
    ring = maps = links = reads = read_bytes = 0.0
    for pid, name, s, e, text in calls:
        if s >= child[2]:
            break
        if name == "openat":
            m = re.search(r'"([^"]+)".*= (\d+)', text)
            if m:
                fds[m.group(2)] = m.group(1)
        if name == "bpf":
            if "BPF_PROG_LOAD" in text:
                kind = re.search(r"prog_type=BPF_PROG_TYPE_(\w+)", text)
                verify[kind.group(1) if kind else "?"] += e - s
            elif "BPF_MAP_CREATE" in text:
                if "RINGBUF" in text:
                    ring += e - s
                else:
                    maps += e - s
            elif "BPF_LINK_CREATE" in text:
                links += e - s
        if name == "read":
            m = re.search(r"= (\d+)$", text)
            if m and int(m.group(1)) > 1 << 20:
                reads += e - s
                read_bytes += int(m.group(1))
        detach = [(s, e) for pid, name, s, e, _ in calls if name == "close" and s >= child_exit and e - s > 0.001]
    d0 = min((s for s, _ in detach), default=child_exit)
    d1 = max((e for _, e in detach), default=child_exit)
    ph["start: exec to the first bpf()"] = first_bpf - t0
    ph["BPF objects and TLS attach: first bpf() to the command's exec"] = child[2] - first_bpf
    for k, v in sorted(verify.items()):
        ph[f"  of which verifying {k} programs"] = v
    ph["  of which creating the ring buffer"] = ring
    ph["  of which creating the other maps"] = maps
    ph[f"  of which reading whole binaries for TLS discovery ({read_bytes / 2**20:.0f} MiB)"] = reads
    ph["  of which creating uprobe links"] = links
    ph["  of which the rest: libbpf's BTF parsing and CO-RE relocation, ELF parsing, probing"] = (
        child[2] - first_bpf - sum(verify.values()) - ring - maps - reads - links)
    ph["the command itself (`/bin/true`)"] = child_exit - child[2]
    ph["from the command's exit to detaching (exit noticed, ring drained)"] = d0 - child_exit
    ph[f"detaching: {len(detach)} BPF link close(s) over 1 ms, in parallel"] = d1 - d0
    ph["after detaching: closing the rest, exit"] = end - d1
    ph["total under strace"] = end - t0
    return ph


runs = [phases(parse(tmp / f"strace.{i}")) for i in range(1, reps + 1)]
plain = [json.loads((tmp / f"plain.{i}.json").read_text()) for i in range(1, reps + 1)]
print()
print(f"agentsight {rev}; {date}; {nproc} CPUs; load average {load_start} at the start, {load_end} at the end. "
      f"Medians of {reps} runs each.")
print()
print("| phase of `record -q -o FILE -- /bin/true` | wall (under strace) |")
print("|---|---|")
for key in runs[0]:
    vals = [r.get(key, 0.0) for r in runs]
    label = key.replace("  of which", "&nbsp;&nbsp;of which")
    print(f"| {label} | {med(vals) * 1000:.0f} ms |")
w = med(p["wall_s"] for p in plain)
print(f"| **without strace**: wall / CPU (user + sys) / peak RSS | **{w * 1000:.0f} ms** / "
      f"{med(p['self_user_s'] for p in plain):.2f} + {med(p['self_sys_s'] for p in plain):.2f} s / "
      f"{med(p['self_hwm_kib'] for p in plain) / 1024:.0f} MiB |")
rss = {v: json.loads((tmp / f"rss.{v}.json").read_text())["self_hwm_kib"] / 1024
       for v in ("default", "ring1", "nonode", "both")}
ring_rss = (tmp / "ring.rss").read_text().strip() if (tmp / "ring.rss").exists() else "?"
status = (tmp / "ring.status").read_text().split() if (tmp / "ring.status").exists() else []
print()
print("| peak RSS (VmHWM) of `record -- /bin/true` | default `--ring-mib 64` | `--ring-mib 1` |")
print("|---|---|---|")
print(f"| `node` on PATH | {rss['default']:.0f} MiB | {rss['ring1']:.0f} MiB |")
print(f"| no `node` on PATH | {rss['nonode']:.0f} MiB | {rss['both']:.0f} MiB |")
print()
print(f"While recording (`record -- sleep 1.5`, default ring): the ring buffer's mapping "
      f"(`anon_inode:bpf-map`, data pages mapped twice) holds {int(ring_rss) / 1024 if ring_rss.isdigit() else ring_rss:.0f} MiB "
      f"of Rss; /proc status: {' '.join(status)} (kB).")
if not perf:
    print()
    print("(`perf` is not available: no CPU breakdown.)")
    sys.exit(0)
PARTS = {
    "bpf_check": "kernel verifier (`bpf_check`)",
    "btf_find_by_name_kind": "&nbsp;&nbsp;of which `btf_find_by_name_kind` (linear BTF lookups)",
    "bpf_object_prepare.constprop.0": "libbpf object preparation (BTF, CO-RE relocation)",
    "std::fs::read::inner": "reading whole files (`std::fs::read`)",
    "ringbuf_map_alloc": "ring buffer allocation (`ringbuf_map_alloc`)",
    "asm_exc_page_fault": "page faults",
}
share = defaultdict(list)
for i in range(1, reps + 1):
    text = (tmp / f"perf.{i}.txt").read_text()
    for sym in PARTS:
        m = re.search(r"^\s+([\d.]+)%\s+[\d.]+%\s+\[[.k]\]\s+" + re.escape(sym) + r"\s*$", text, re.M)
        share[sym].append(float(m.group(1)) if m else 0.0)
print()
print("| CPU of `record -- /bin/true` (perf, all threads) | share of samples |")
print("|---|---|")
for sym, label in PARTS.items():
    print(f"| {label} | {med(share[sym]):.0f}% |")
PY
