#!/usr/bin/env bash
# bench/kernel.sh: what kernel-side tracing with `agentsight record` costs, side by side with
# the untraced run and with `strace -f`, the peer a user would otherwise reach for.
#
# Run as root, from anywhere in the repository:  sudo bash bench/kernel.sh
# (about 6 minutes on 2 cores; REPS=N changes the repetitions, default 5; STRACE_REPS=N those
# under strace, default 3; LOOP_N=N the loop's processes, default 8000; BURST=0 skips part 3;
# AGENTSIGHT=/path/to/agentsight measures that binary instead of building one)
#
# It builds target/release/agentsight and measures, in one run:
#   1. Three workloads, each run untraced, under `agentsight record -q -o FILE -- ...` and under
#      `strace -f -o /dev/null -- ...`, in rounds whose order rotates through the six orders of
#      the three (drift and the neighbours' load spread over all columns), medians reported:
#        - a shell loop spawning LOOP_N processes (`for i in $(seq 8000); do /bin/true; done`)
#        - `tar cf` of a ~500 MiB tree (two copies of /usr/include and /usr/share/doc, in
#          /dev/shm when it has room, so that disk writeback adds no noise)
#        - `/bin/true` alone: the fixed cost of `record` (start-up and stop)
#      The headline is the WHOLE process: the wall time of `agentsight record` (or `strace`)
#      from fork to exit, BPF load and attach, final drain and detach included, against the
#      untraced command; targets: loop ≤ 1.05×, tar ≤ 1.10×, `record -- /bin/true` ≤ 0.3 s and
#      ≤ 40 MiB peak RSS. Every column runs the command as `bench/timed.c RESULT -- CMD` (one
#      fork and exec, ~1 ms), which also times the workload itself inside the traced session.
#   2. agentsight's own cost: CPU (user+sys of the agentsight process, all its threads, not the
#      traced children, read exactly from /proc/PID/stat while it is a zombie: bench/measure.py
#      waits with WNOWAIT) and peak RSS (VmHWM, polled every 10 ms; and wait4's ru_maxrss, the
#      largest of agentsight and the processes it reaped, which are small); the in-kernel cost
#      charged to the traced programs (their CPU traced minus untraced); events and losses.
#   3. The highest event rate recorded without loss: bench/burst.c makes N failing opens
#      (one `file` event each) at 50k..400k events/s (RATES="..." to change) and unpaced,
#      ~2 s each; for each run the achieved rate, events in the trace, losses (loss events in
#      the trace, and the stderr line), and whether all N are there. The unpaced run is
#      repeated with --ring-mib 64 and with one generator per CPU; each run is also done
#      untraced, for the generator's own speed.
# The load average is read before every round: the machine this was written on is shared, and
# the figures are only as good as it was quiet. At the end it prints Markdown tables for
# docs/BENCHMARKS.md. Other agentsight captures running at the same time (e.g. a test suite)
# add their probes' cost: the script warns. bench/startup.sh shows where `record`'s fixed
# cost goes.
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
    echo "bench/kernel.sh: must run as root (it loads eBPF programs); try: sudo bash bench/kernel.sh" >&2
    exit 2
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
REPS=${REPS:-5}
STRACE_REPS=${STRACE_REPS:-3}
LOOP_N=${LOOP_N:-8000}
BURST=${BURST:-1}
read -ra RATES <<<"${RATES:-50000 100000 200000 400000}"
UNPACED_N=1000000
BURST_PATH=/nonexistent/agentsight-burst

PY=$(command -v python3 || true)
[[ -n $PY ]] || { echo "bench/kernel.sh: python3 is needed" >&2; exit 2; }
for tool in cc tar jq strace; do
    command -v "$tool" >/dev/null || { echo "bench/kernel.sh: $tool is needed" >&2; exit 2; }
done

# shellcheck source=bench/common.sh
. "$BENCH/common.sh"

TMP=$(mktemp -d /tmp/agentsight-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/r"
cc -O2 -o "$TMP/burst" "$BENCH/burst.c"
cc -O2 -o "$TMP/timed" "$BENCH/timed.c"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# The tar job reads and writes in tmpfs when there is one: no disk writeback to add noise.
WORK=$TMP
if [[ -d /dev/shm && -w /dev/shm ]] && (($(df -Pm /dev/shm | awk 'NR == 2 {print $4}') > 2048)); then
    WORK=$(mktemp -d /dev/shm/agentsight-bench.XXXXXX)
    trap 'rm -rf "$TMP" "$WORK"' EXIT
fi
echo "copying the source tree for tar..." >&2
for copy in 1 2; do # two copies: about 1 s of tar on the machine this was written on
    mkdir -p "$WORK/src/$copy"
    cp -a /usr/include "$WORK/src/$copy/include"
    [[ -d /usr/share/doc ]] && cp -a /usr/share/doc "$WORK/src/$copy/doc"
done
SRC_MIB=$(du -sm "$WORK/src" | cut -f1)
SRC_FILES=$(find "$WORK/src" -type f | wc -l)

measure() { "$PY" "$BENCH/measure.py" "$@"; }

# Other agentsight processes (not ours: called between our runs) would add their own probes.
OTHERS=0
check_others() {
    local n
    n=$(pgrep -xc agentsight || true)
    ((n > OTHERS)) && OTHERS=$n
    cut -d' ' -f1 /proc/loadavg >>"$TMP/r/load"
    return 0
}

# One run of workload $1, round $2, mode $3 (u: untraced, t: record, s: strace -f); the rest is
# the command. outer = the whole process (the command, agentsight or strace), inner = the
# command itself (bench/timed.c), in $TMP/r/NAME.MODE.ROUND.{outer,inner}.json.
run_one() {
    local name=$1 i=$2 mode=$3; shift 3
    local base=$TMP/r/$name.$mode.$i
    local inner=("$TMP/timed" "$base.inner.json" -- "$@")
    case $mode in
    u) measure "$base.outer.json" -- "${inner[@]}" >/dev/null ;;
    s) measure "$base.outer.json" -- strace -f -o /dev/null -- "${inner[@]}" >/dev/null ;;
    t)
        measure "$base.outer.json" -- "$AS" record -q -o "$TMP/trace.jsonl" -- "${inner[@]}" \
            >/dev/null 2>"$base.err"
        wc -l <"$TMP/trace.jsonl" >"$base.events"
        { grep -F '"kind":"loss"' "$TMP/trace.jsonl" || true; } | jq -s 'map(.count) | add // 0' >"$base.lost"
        rm -f "$TMP/trace.jsonl"
        ;;
    esac
}

# The six orders of the three modes, one per round in turn.
ORDERS=("u t s" "t s u" "s u t" "u s t" "t u s" "s t u")

bench_workload() {
    local name=$1; shift
    echo "workload $name: warm-up..." >&2
    run_one "$name" 0 u "$@"
    run_one "$name" 0 t "$@"
    for ((i = 1; i <= REPS; i++)); do
        echo "workload $name: round $i/$REPS" >&2
        check_others
        for mode in ${ORDERS[$(((i - 1) % 6))]}; do
            [[ $mode == s ]] && ((i > STRACE_REPS)) && continue
            run_one "$name" "$i" "$mode" "$@"
        done
    done
}

bench_workload loop bash -c "for i in \$(seq $LOOP_N); do /bin/true; done"
bench_workload tar tar cf "$WORK/out.tar" -C "$WORK/src" .
rm -rf "$WORK/out.tar" "$WORK/src"
bench_workload true /bin/true

# One burst run: $1 label, $2 N, $3 rate (0 = unpaced), $4 generator processes, $5 ring MiB.
burst() {
    local label=$1 n=$2 rate=$3 procs=$4 ring=$5
    local base=$TMP/r/burst.$label
    echo "burst $label: $n events..." >&2
    check_others
    printf '%s\n' "$n" "$rate" "$procs" "$ring" >"$base.params"
    "$TMP/burst" "$n" "$rate" "$BURST_PATH" "$procs" >"$base.untraced" # the generator alone
    measure "$base.outer.json" -- "$AS" record -q -o "$TMP/burst.jsonl" --ring-mib "$ring" -- \
        "$TMP/burst" "$n" "$rate" "$BURST_PATH" "$procs" >"$base.out" 2>"$base.err" || true
    grep -cF "\"path\":\"$BURST_PATH\"" "$TMP/burst.jsonl" >"$base.recorded" || true
    { grep -F '"kind":"loss"' "$TMP/burst.jsonl" || true; } | jq -s 'map(.count) | add // 0' >"$base.lost"
    { grep -F '"kind":"loss"' "$TMP/burst.jsonl" || true; } |
        jq -r '"\(.reason) \(.count)"' | paste -sd, - >"$base.reasons"
    rm -f "$TMP/burst.jsonl"
}

labels=()
if ((BURST)); then
    for rate in "${RATES[@]}"; do
        burst "$rate" $((rate * 2)) "$rate" 1 16
        labels+=("$rate")
    done
    burst unpaced "$UNPACED_N" 0 1 16
    burst unpaced-ring64 "$UNPACED_N" 0 1 64
    # one generator per CPU: can the collector keep up when it has to share them?
    burst unpaced-x$(nproc) "$UNPACED_N" 0 "$(nproc)" 16
    burst unpaced-x$(nproc)-ring64 "$UNPACED_N" 0 "$(nproc)" 64
    labels+=(unpaced unpaced-ring64 "unpaced-x$(nproc)" "unpaced-x$(nproc)-ring64")
fi

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
STRACEV=$(strace -V | head -n1)

"$PY" - "$TMP/r" "$REPS" "$STRACE_REPS" "$LOOP_N" "$SRC_MIB" "$SRC_FILES" "$(nproc)" "$(uname -r)" \
    "$CPU" "$REV" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$OTHERS" "$LOAD_START" "$LOAD_END" "$STRACEV" \
    "${labels[@]}" <<'PY'
import json, statistics, sys
from pathlib import Path

r = Path(sys.argv[1])
reps, strace_reps, loop_n, src_mib, src_files = (int(x) for x in sys.argv[2:7])
nproc, kernel, cpu, rev, date, others, load_start, load_end, stracev = sys.argv[7:16]
labels = sys.argv[16:]
runs = range(1, reps + 1)
sruns = range(1, min(reps, strace_reps) + 1)
med = statistics.median
MIB = 1024


def js(p):
    return json.loads(Path(p).read_text())


def txt(p):
    return Path(p).read_text().strip()


def col(name, mode, part, key, rr=None):
    return [js(r / f"{name}.{mode}.{i}.{part}.json")[key] for i in (rr or runs)]


def rng(xs, fmt):
    return f"{fmt(min(xs))}–{fmt(max(xs))}"


loads = [float(x) for x in txt(r / "load").split()]
print()
print("### Results")
print()
print(f"Machine: {nproc} CPUs ({cpu}), kernel {kernel}; {stracev}; agentsight {rev}; {date}. "
      f"Medians of {reps} rounds ({min(reps, strace_reps)} under strace), the three columns "
      f"interleaved in rotating order. **Load average** (1, 5, 15 min) {load_start} at the start, "
      f"{load_end} at the end; the 1-minute figure ranged {min(loads):.2f}–{max(loads):.2f} "
      f"over the rounds ({nproc} CPUs).")
if int(others):
    print()
    print(f"**Warning:** {others} other agentsight process(es) ran during the benchmark; their probes "
          "add to the traced cost.")
print()
names = {
    "loop": (f"shell loop, {loop_n:,} × `/bin/true`", 1.05),
    "tar": (f"`tar cf` of {src_mib} MiB, {src_files:,} files", 1.10),
    "true": ("`/bin/true`", None),
}
print("Whole process: wall time of `agentsight record -q -o FILE -- CMD` (or `strace -f -o /dev/null "
      "-- CMD`) from fork to exit, against CMD alone.")
print()
print("| workload | untraced | `record` | ratio (per round) | target | `strace -f` | ratio "
      "| agentsight CPU | agentsight peak RSS |")
print("|---|---|---|---|---|---|---|---|---|")
for name, (title, target) in names.items():
    uo = col(name, "u", "outer", "wall_s")
    to = col(name, "t", "outer", "wall_s")
    so = col(name, "s", "outer", "wall_s", sruns)
    per = [t / u for t, u in zip(to, uo)]
    cpu_s = med(col(name, "t", "outer", "self_cpu_s"))
    hwm = med(col(name, "t", "outer", "self_hwm_kib")) / MIB
    ratio = med(to) / med(uo)
    tgt = "–" if target is None else (f"≤ {target:.2f}× " + ("met" if ratio <= target else "**not met**"))
    print(f"| {title} | {med(uo):.3f} s | {med(to):.3f} s | **{ratio:.3f}×** ({rng(per, lambda x: f'{x:.2f}')}) "
          f"| {tgt} | {med(so):.3f} s | {med(so) / med(uo):.2f}× | {cpu_s:.2f} s | {hwm:.0f} MiB |")
print()
fo = [js(r / f"true.t.{i}.outer.json") for i in runs]
fw = med(x["wall_s"] for x in fo)
fu, fs = med(x["self_user_s"] for x in fo), med(x["self_sys_s"] for x in fo)
fh = med(x["self_hwm_kib"] for x in fo) / MIB
fm = med(x["tree_maxrss_kib"] for x in fo) / MIB
print("| `record -- /bin/true` | wall | CPU (user + sys) | peak RSS (VmHWM) | ru_maxrss |")
print("|---|---|---|---|---|")
print(f"| median of {reps} | **{fw:.3f} s** ({rng([x['wall_s'] for x in fo], lambda v: f'{v:.2f}')}) "
      f"| {fu + fs:.2f} s ({fu:.2f} + {fs:.2f}) | **{fh:.0f} MiB** | {fm:.0f} MiB |")
print(f"| target | ≤ 0.3 s: {'met' if fw <= 0.3 else f'**not met** ({fw / 0.3:.1f}×)'} | "
      f"| ≤ 40 MiB: {'met' if fh <= 40 else f'**not met** ({fh / 40:.1f}×)'} | |")
print()
print("Inside the session: the workload's own wall time (bench/timed.c around it) and what the "
      "capture adds to it.")
print()
print("| workload | untraced | under `record` | ratio | under `strace -f` | ratio | events | lost "
      "| agentsight CPU after start-up | in-kernel CPU added |")
print("|---|---|---|---|---|---|---|---|---|---|")
fixed_cpu = med(x["self_cpu_s"] for x in fo)
for name, (title, _) in names.items():
    if name == "true":
        continue
    ui = col(name, "u", "inner", "wall_s")
    ti = col(name, "t", "inner", "wall_s")
    si = col(name, "s", "inner", "wall_s", sruns)
    ucpu, tcpu = med(col(name, "u", "inner", "tree_cpu_s")), med(col(name, "t", "inner", "tree_cpu_s"))
    coll = med(col(name, "t", "outer", "self_cpu_s"))
    events = med(int(txt(r / f"{name}.t.{i}.events")) for i in runs)
    lost = sum(int(txt(r / f"{name}.t.{i}.lost")) for i in runs)
    print(f"| {title} | {med(ui):.3f} s | {med(ti):.3f} s | {med(ti) / med(ui):.3f} | {med(si):.3f} s "
          f"| {med(si) / med(ui):.2f} | {events:,.0f} | {lost} | {coll - fixed_cpu:.2f} s "
          f"({(coll - fixed_cpu) / med(ti):.1%} of the workload's wall) | {tcpu - ucpu:+.2f} s |")
print()
print("agentsight CPU = user+sys of the agentsight process (all threads, not the traced programs), "
      "read from /proc/PID/stat at its exit; after start-up = minus the median of `record -- "
      "/bin/true`. Peak RSS = agentsight's VmHWM. In-kernel CPU added = the workload's CPU traced "
      "minus untraced (the probes' cost, charged to the traced processes).")
if not labels:
    sys.exit(0)
print()
print("| target rate | generators | ring | N | generator alone | achieved | recorded | lost | complete "
      "| collector CPU / wall | stderr |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
best = None
for label in labels:
    b = f"burst.{label}"
    n, rate, procs, ring = (int(x) for x in txt(r / f"{b}.params").split())
    out = txt(r / f"{b}.out").split()
    achieved = float(out[2]) if len(out) == 3 else 0.0
    alone = float(txt(r / f"{b}.untraced").split()[2])
    recorded = int(txt(r / f"{b}.recorded") or 0)
    lost = int(txt(r / f"{b}.lost") or 0)
    reasons = txt(r / f"{b}.reasons")
    err = " ".join(txt(r / f"{b}.err").split())
    coll = js(r / f"{b}.outer.json")
    complete = recorded == n and lost == 0
    if complete and (best is None or achieved > best[0]):
        best = (achieved, f"target {rate:,}/s" if rate else "unpaced", procs, ring)
    lost_s = f"{lost:,}" + (f" ({reasons})" if reasons else "")
    err_s = f"`{err[:90]}`" if err else "–"
    print(f"| {f'{rate:,}/s' if rate else 'unpaced'} | {procs} | {ring} MiB | {n:,} | {alone:,.0f}/s "
          f"| {achieved:,.0f}/s | {recorded:,} | {lost_s} | {'yes' if complete else '**no**'} "
          f"| {coll['self_cpu_s']:.2f} s / {coll['wall_s']:.1f} s | {err_s} |")
print()
print("generator alone = the same run untraced; achieved = the rate under `record` (the probes "
      "slow the generator, and the collector shares the CPUs with it); complete = every open is in "
      "the trace and no loss was reported.")
print()
if best:
    print(f"Highest rate recorded with no loss and every event present: **{best[0]:,.0f} events/s** "
          f"({best[1]}, {best[2]} generator(s), {best[3]} MiB ring).")
else:
    print("No burst run was recorded without loss.")
PY
