#!/usr/bin/env bash
# bench/fleet.sh: many collectors, one analyzer, over loopback, with an analyzer restart.
#
# Run as root from the repository:  sudo bash bench/fleet.sh
#   COLLECTORS=20 (collector processes)  RATE=1000 (kernel events per second each)
#   SECONDS_RUN=300 (how long the workloads run)  DOWN=10 (seconds serve stays down)
#   AGENTSIGHT=/path (else a release build)
#
# Starts `agentsight serve` on 127.0.0.1, a scripted LLM server over plaintext HTTP, and
# COLLECTORS `agentsight collect --ship` processes, each tracing bench/fleet_agent.py (an
# agent-shaped workload: an LLM call a second, two commands, file opens up to RATE events/s)
# and writing what it recorded with `-o`. Halfway through, serve is killed (SIGKILL), stays down
# DOWN seconds and is started again on the same data directory; the collectors spool meanwhile. At the end it
# checks, per session, that the index holds exactly the events the collector recorded (nothing
# lost, nothing doubled) and prints: events/s recorded and indexed, the p95 from a window's
# arrival, and from its last event, to being searchable (serve's histograms, second run), and
# serve's CPU seconds and peak RSS for each run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ $EUID -ne 0 ]]; then
    echo "bench/fleet.sh: must run as root (the collectors load eBPF programs)" >&2
    exit 2
fi
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
COLLECTORS=${COLLECTORS:-20}
RATE=${RATE:-1000}
SECONDS_RUN=${SECONDS_RUN:-300}
DOWN=${DOWN:-10}

work=$(mktemp -d /tmp/agentsight-fleet.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [[ -n ${serve_pid:-} ]] && kill "$serve_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$work/data
start_serve() {
    "$AS" serve --data "$data" --listen "127.0.0.1:$port" >"$work/serve-$1.log" 2>&1 &
    serve_pid=$!
    for _ in $(seq 200); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return
        sleep 0.1
    done
    echo "bench: serve did not start" >&2
    cat "$work/serve-$1.log" >&2
    exit 1
}
# CPU seconds (user + system) and peak RSS (MiB) of a live process.
usage_of() {
    local ticks hz
    hz=$(getconf CLK_TCK)
    ticks=$(awk '{print $14 + $15}' "/proc/$1/stat")
    echo "$(awk -v t="$ticks" -v h="$hz" 'BEGIN{printf "%.1f", t/h}') $(awk '/VmHWM/{printf "%.0f", $2/1024}' "/proc/$1/status")"
}
metric() { curl -sf "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# The p95 of a histogram from /metrics: the smallest bucket bound holding 95% of the count.
p95() {
    curl -sf "http://127.0.0.1:$port/metrics" | awk -v h="$1" '
        $1 == h "_count" {count = $2}
        index($1, h "_bucket{le=\"") == 1 {split($1, a, "\""); le[n] = a[2]; c[n++] = $2}
        END {for (i = 0; i < n; i++) if (c[i] >= 0.95 * count) {print le[i]; exit}}'
}

start_serve 1
llm_port_file=$work/llm.port
python3 "$ROOT/tests/fixtures/llm_server.py" --plain >"$llm_port_file" 2>"$work/llm.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $llm_port_file ]] && break; sleep 0.1; done
llm_port=$(head -1 "$llm_port_file")

echo "fleet: $COLLECTORS collectors x $RATE events/s for ${SECONDS_RUN}s -> serve on 127.0.0.1:$port ($REV)" >&2
begin=$(date +%s.%N)
collectors=()
for i in $(seq "$COLLECTORS"); do
    "$AS" collect --ship "http://127.0.0.1:$port" --spool "$work/spool-$i" -q -o "$work/trace-$i.jsonl" \
        -- python3 "$ROOT/bench/fleet_agent.py" "$llm_port" "$RATE" "$SECONDS_RUN" "$work/ws-$i" \
        >"$work/collect-$i.log" 2>&1 &
    collectors+=($!)
done
pids+=("${collectors[@]}")

sleep $((SECONDS_RUN / 2))
read -r cpu1 rss1 < <(usage_of "$serve_pid")
# The harsh restart: killed (no drain), down for DOWN seconds while the collectors spool.
kill -KILL "$serve_pid"
wait "$serve_pid" || true
down=$(date +%s.%N)
sleep "$DOWN"
start_serve 2
echo "fleet: serve restarted after $(awk -v a="$down" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s down" >&2

failed=0
for c in "${collectors[@]}"; do wait "$c" || failed=$((failed + 1)); done
end=$(date +%s.%N)
# Let the last windows be committed.
sleep 3
read -r cpu2 rss2 < <(usage_of "$serve_pid")

# Nothing lost, nothing doubled: per session, the events each collector wrote vs the index.
report=$(python3 - "$work" "$port" "$COLLECTORS" <<'PY'
import json, sys, urllib.request
work, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
indexed = {s["id"]: s["events"] for s in json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/sessions"))}
recorded, bad = 0, []
for i in range(1, n + 1):
    sessions = {}
    for line in open(f"{work}/trace-{i}.jsonl"):
        s = json.loads(line)["session"]
        sessions[s] = sessions.get(s, 0) + 1
    for s, count in sessions.items():
        recorded += count
        if indexed.get(s) != count:
            bad.append(f"{s}: recorded {count}, indexed {indexed.get(s)}")
print(recorded, sum(indexed.values()), len(bad))
for b in bad[:10]:
    print(b, file=sys.stderr)
PY
)
read -r recorded indexed mismatched <<<"$report"
secs=$(awk -v a="$begin" -v b="$end" 'BEGIN{printf "%.1f", b-a}')
lost=$(cat "$work"/collect-*.log | grep -c "lost\|dropped\|left in the spool" || true)

echo
echo "| | value |"
echo "|---|---:|"
echo "| collectors | $COLLECTORS ($failed exited non-zero) |"
echo "| run | ${secs} s, serve killed once and down ${DOWN} s |"
echo "| events recorded | $recorded ($(awk -v e="$recorded" -v s="$secs" 'BEGIN{printf "%.0f", e/s}')/s) |"
echo "| events indexed | $indexed |"
echo "| sessions where index != recorded | $mismatched |"
echo "| collector lines naming loss or spool leftovers | $lost |"
echo "| p95 window arrival -> searchable (2nd run) | $(p95 agentsight_window_received_to_searchable_seconds) s |"
echo "| p95 window last event -> searchable (2nd run) | $(p95 agentsight_window_event_to_searchable_seconds) s |"
echo "| duplicate windows received (2nd run, resent from spools) | $(metric agentsight_windows_duplicate_total) |"
echo "| serve CPU, 1st run / 2nd run | ${cpu1} s / ${cpu2} s |"
echo "| serve peak RSS, 1st run / 2nd run | ${rss1} MiB / ${rss2} MiB |"
[[ $mismatched -eq 0 && $failed -eq 0 ]] || exit 1
