#!/usr/bin/env bash
# bench/tls.sh: what TLS plaintext capture (uprobes on OpenSSL's SSL_write/SSL_read) costs, and
# how much of it `agentsight record` keeps byte-exact.
#
# Run as root, from anywhere in the repository:  sudo bash bench/tls.sh
# (about 6 minutes on 2 cores; REPS=N changes the repetitions, default 5; SIZES="65536 ..."
# the request sizes of part 2; NODELAY=1 runs the server with TCP_NODELAY, see below;
# AGENTSIGHT=/path/to/agentsight measures that binary instead of building one)
#
# A throwaway CA and server certificate are made with the openssl CLI, and
# tests/fixtures/llm_server.py (the OpenAI chat completions API over real TLS, fixed reply) runs
# on 127.0.0.1 OUTSIDE the traced tree for the whole run, so only the client is traced. The
# client is bench/tls_client.py: the Python `openai` SDK (system libssl.so.3), one client
# object, sequential calls, SSL_CERT_FILE pointing at the CA. It times its own loop, so Python's
# start-up and agentsight's start (BPF load) and stop (final drain) are not in the numbers.
# The fixture server sets TCP_NODELAY (without it, its split writes met the client's delayed
# ACK and every call waited ~40 ms, which diluted the tracing cost); calls take ~15 ms
# (streamed), and part 2 sends enough requests per size for ~1-2 s (NODELAY=0: fewer).
#   1. Slowdown of 200 streamed chat completions, untraced vs traced
#      (`agentsight record -q -o FILE -- python3 tls_client.py stream ...`), REPS runs each,
#      interleaved A/B then B/A to cancel drift, medians; target: ratio ≤ 1.02. Each trace must
#      hold exactly 200 `llm_call` events with stream=true, status 200, incomplete absent/false
#      and response.text equal to the server's fixed reply, and no `loss` event.
#      "whole record" is agentsight's own wall time around it; "collector CPU" its own
#      user+sys (all threads, not the client), read by bench/measure.py at its exit.
#   2. The highest TLS throughput captured byte-exact without loss: non-streamed chat
#      completions whose user message is a fresh random ASCII (hex) string of S bytes, N
#      requests per size (~1-2 s of sending), once untraced and once traced (alternating which
#      goes first). Client-side MB/s = message bytes sent / loop time (1 MB = 10^6 bytes). The
#      client writes the sha256 of every message it sent; the trace is checked in Python: one
#      `llm_call` per request, request.messages[0].content of exactly S bytes and the same
#      sha256, a complete reply, no `loss` event. The largest size is run again with
#      --ring-mib 16 (smaller than one request: losses must show, counted and marked).
#   3. Plaintext HTTP capture throughput, and the same over HTTPS, side by side with strace -f:
#      bench/http_server.py (plain, and TLS with the same certificate) outside the traced tree,
#      bench/http_client.py (Python http.client, one keep-alive connection, the system libssl
#      for https) making HTTP_REQUESTS small chat completions (requests/s), HTTP_UPLOADS 1 MiB
#      prompts and HTTP_DOWNLOADS streamed 8 MiB replies (MB/s of payload), untraced, under
#      `record` and under `strace -f -o /dev/null`, HTTP_REPS rounds (default 3) in rotating
#      order, medians. Each trace must hold one complete `llm_call` per request with the prompt
#      (or the streamed reply's sha256) exact, and no `loss` event.
# The load average is read before every run. At the end it prints Markdown tables for
# docs/BENCHMARKS.md. Other agentsight captures
# running at the same time (e.g. a test suite) add their probes' cost: the script warns.
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
    echo "bench/tls.sh: must run as root (it loads eBPF programs); try: sudo bash bench/tls.sh" >&2
    exit 2
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
REPS=${REPS:-5}
STREAM_N=200
WARM_N=20 # streamed calls of the warm-up runs (not reported)
read -ra SIZES <<<"${SIZES:-65536 1048576 4194304 16777216}"
HTTP_REPS=${HTTP_REPS:-3}
HTTP_REQUESTS=${HTTP_REQUESTS:-3000}  # part 3: small requests per run
HTTP_UPLOADS=${HTTP_UPLOADS:-200}     # part 3: 1 MiB prompts per run
HTTP_DOWNLOADS=${HTTP_DOWNLOADS:-8}   # part 3: 8 MiB streamed replies per run
REPLY='The answer is 42. 答案是四十二。' # tests/fixtures/llm_server.py's REPLY

NODELAY=${NODELAY:-1} # the fixture now sets TCP_NODELAY itself; NODELAY=0 keeps the small counts

# Requests per size: ~1-2 s of sending on the machine this was written on (with the fixture
# server as it is, every request costs ~45 ms of round trips whatever its size).
count_for() {
    local s=$1
    if ((NODELAY)); then
        if ((s <= 262144)); then echo 400
        elif ((s <= 2097152)); then echo 150
        elif ((s <= 8388608)); then echo 40
        else echo 10
        fi
    elif ((s <= 262144)); then echo 30
    elif ((s <= 2097152)); then echo 25
    elif ((s <= 8388608)); then echo 12
    else echo 6
    fi
}

PY=$(command -v python3 || true)
[[ -n $PY ]] || { echo "bench/tls.sh: python3 is needed" >&2; exit 2; }
command -v openssl >/dev/null || { echo "bench/tls.sh: the openssl CLI is needed" >&2; exit 2; }
command -v strace >/dev/null || { echo "bench/tls.sh: strace is needed" >&2; exit 2; }
"$PY" -c 'import openai' 2>/dev/null || {
    echo "bench/tls.sh: the Python openai SDK is needed: python3 -m pip install openai" >&2
    exit 2
}

# shellcheck source=bench/common.sh
. "$BENCH/common.sh"

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
TMP=$(mktemp -d /tmp/agentsight-tls-bench.XXXXXX)
SERVER_PID=
SERVERS=() # every server this script started, killed on exit
cleanup() {
    local pid
    for pid in "${SERVERS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$TMP/r"

echo "making a throwaway CA and server certificate..." >&2
(
    cd "$TMP"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 \
        -subj '/CN=agentsight bench CA'
    openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj '/CN=localhost'
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' >ext
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 1 \
        -extfile ext
) >"$TMP/openssl.log" 2>&1 || { cat "$TMP/openssl.log" >&2; echo "bench/tls.sh: openssl failed" >&2; exit 1; }
export SSL_CERT_FILE=$TMP/ca.pem

# The server: started here, outside any traced tree, killed on exit.
if ((NODELAY)); then
    "$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import llm_server as s
s.Handler.disable_nagle_algorithm = True; sys.argv = sys.argv[1:]; s.main()' \
        "$ROOT/tests/fixtures" "$TMP/srv.pem" "$TMP/srv.key" >"$TMP/port" 2>"$TMP/server.err" &
else
    "$PY" "$ROOT/tests/fixtures/llm_server.py" "$TMP/srv.pem" "$TMP/srv.key" >"$TMP/port" 2>"$TMP/server.err" &
fi
SERVER_PID=$!
SERVERS+=("$SERVER_PID")
for ((i = 0; i < 100; i++)); do
    [[ -s $TMP/port ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
PORT=$(head -n1 "$TMP/port" 2>/dev/null || true)
if ! [[ $PORT =~ ^[0-9]+$ ]]; then
    echo "bench/tls.sh: the fixture server did not start:" >&2
    cat "$TMP/server.err" >&2
    exit 1
fi
URL=https://localhost:$PORT/v1
echo "fixture server on port $PORT$( ((NODELAY)) && echo ', TCP_NODELAY')" >&2

measure() { "$PY" "$BENCH/measure.py" "$@"; }
client() { "$PY" "$BENCH/tls_client.py" "$@"; }

# Other agentsight processes (not ours: called between our runs) would add their own probes.
OTHERS=0
check_others() {
    local n
    n=$(pgrep -xc agentsight || true)
    ((n > OTHERS)) && OTHERS=$n
    cut -d' ' -f1 /proc/loadavg >>"$TMP/r/load"
    return 0
}

# Fails loudly with what the client or agentsight said.
fail() {
    echo "bench/tls.sh: $1" >&2
    [[ -s ${2:-/dev/null} ]] && sed 's/^/    /' "$2" >&2
    exit 1
}

# Part 1. One untraced run: the result in $TMP/r/stream.u.$1.json.
stream_untraced() {
    local i=$1 n=$2
    client stream "$URL" "$n" "$TMP/r/stream.u.$i.json" 2>"$TMP/r/stream.u.$i.err" ||
        fail "untraced streaming client failed (run $i)" "$TMP/r/stream.u.$i.err"
}

# One traced run: inner = the client's loop, outer = agentsight itself, check = the trace.
stream_traced() {
    local i=$1 n=$2 base=$TMP/r/stream.t.$1
    measure "$base.outer.json" -- "$AS" record -q -o "$TMP/t.jsonl" -- \
        "$PY" "$BENCH/tls_client.py" stream "$URL" "$n" "$base.inner.json" 2>"$base.err" ||
        fail "traced streaming client failed (run $i)" "$base.err"
    client check-stream "$TMP/t.jsonl" "$n" "$REPLY" "$base.check.json"
    rm -f "$TMP/t.jsonl"
}

echo "streamed calls: warm-up..." >&2
stream_untraced 0 "$WARM_N"
stream_traced 0 "$WARM_N"
for ((i = 1; i <= REPS; i++)); do
    echo "streamed calls: run $i/$REPS ($STREAM_N calls each, untraced and traced)" >&2
    check_others
    if ((i % 2)); then
        stream_untraced "$i" "$STREAM_N"
        stream_traced "$i" "$STREAM_N"
    else
        stream_traced "$i" "$STREAM_N"
        stream_untraced "$i" "$STREAM_N"
    fi
done

# Part 2. One size: $1 label, $2 size, $3 requests, $4 ring MiB, $5 1 = untraced first.
upload() {
    local label=$1 size=$2 n=$3 ring=$4 first=$5 base=$TMP/r/up.$1
    echo "upload $label: $n × $size bytes..." >&2
    check_others
    printf '%s\n' "$size" "$n" "$ring" >"$base.params"
    up_untraced() {
        client upload "$URL" "$size" "$n" "$base.u.json" "$base.u.sha" 2>"$base.u.err" ||
            fail "untraced upload client failed ($label)" "$base.u.err"
    }
    up_traced() {
        measure "$base.outer.json" -- "$AS" record -q -o "$TMP/t.jsonl" --ring-mib "$ring" -- \
            "$PY" "$BENCH/tls_client.py" upload "$URL" "$size" "$n" "$base.t.json" "$base.t.sha" \
            2>"$base.err" || fail "traced upload client failed ($label)" "$base.err"
        client check-upload "$TMP/t.jsonl" "$size" "$base.t.sha" "$REPLY" "$base.check.json"
        rm -f "$TMP/t.jsonl"
    }
    if ((first)); then up_untraced; up_traced; else up_traced; up_untraced; fi
}

labels=()
k=0
for size in "${SIZES[@]}"; do
    upload "$size" "$size" "$(count_for "$size")" 64 $((k % 2 == 0))
    labels+=("$size")
    k=$((k + 1))
done
# the largest size again with a ring smaller than one request: losses must be counted and the
# cut calls marked incomplete, not silently missing
LARGEST=${SIZES[-1]}
upload "$LARGEST-ring16" "$LARGEST" "$(count_for "$LARGEST")" 16 1
labels+=("$LARGEST-ring16")

# Part 3. Plaintext HTTP and HTTPS throughput, same client, same server, three columns.
# Starts bench/http_server.py (plain, or TLS with $2 $3), outside any traced tree; its port in
# the variable named $1.
start_http_server() {
    local var=$1 out=$TMP/http-port.$1 pid port i
    shift
    "$PY" "$BENCH/http_server.py" "$@" >"$out" 2>"$out.err" &
    pid=$!
    SERVERS+=("$pid")
    for ((i = 0; i < 100; i++)); do
        [[ -s $out ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    port=$(head -n1 "$out" 2>/dev/null || true)
    [[ $port =~ ^[0-9]+$ ]] || fail "bench/http_server.py did not start" "$out.err"
    printf -v "$var" '%s' "$port"
}
start_http_server HTTP_PORT
start_http_server HTTPS_PORT "$TMP/srv.pem" "$TMP/srv.key"
echo "bench/http_server.py on ports $HTTP_PORT (plain) and $HTTPS_PORT (TLS)" >&2

# workload -> "SIZE N" (SIZE 0: small requests)
declare -A HTTP_LOAD=(
    [requests]="0 $HTTP_REQUESTS"
    [upload]="1048576 $HTTP_UPLOADS"
    [download]="8388608 $HTTP_DOWNLOADS"
)
HTTP_WORKLOADS=(requests upload download)

# One run: $1 scheme, $2 workload, $3 round, $4 mode (u: untraced, t: record, s: strace -f).
http_run() {
    local scheme=$1 work=$2 i=$3 mode=$4
    local base=$TMP/r/http.$scheme.$work.$mode.$i url size n args
    if [[ $scheme == http ]]; then url=http://127.0.0.1:$HTTP_PORT/v1; else url=https://localhost:$HTTPS_PORT/v1; fi
    read -r size n <<<"${HTTP_LOAD[$work]}"
    if [[ $work == requests ]]; then
        args=(requests "$url" "$n" "$base.json")
    else
        args=("$work" "$url" "$size" "$n" "$base.json" "$base.sha")
    fi
    local cmd=("$PY" "$BENCH/http_client.py" "${args[@]}")
    case $mode in
    u) "${cmd[@]}" 2>"$base.err" || fail "$scheme $work client failed (untraced, round $i)" "$base.err" ;;
    s)
        strace -f -o /dev/null -- "${cmd[@]}" 2>"$base.err" ||
            fail "$scheme $work client failed (strace, round $i)" "$base.err"
        ;;
    t)
        measure "$base.outer.json" -- "$AS" record -q -o "$TMP/t.jsonl" -- "${cmd[@]}" 2>"$base.err" ||
            fail "$scheme $work client failed (traced, round $i)" "$base.err"
        "$PY" "$BENCH/http_client.py" check "$TMP/t.jsonl" "$work" "$n" \
            "$([[ $work == requests ]] && echo - || echo "$base.sha")" "$REPLY" "$base.check.json"
        rm -f "$TMP/t.jsonl"
        ;;
    esac
}

ORDERS=("u t s" "t s u" "s u t" "u s t" "t u s" "s t u")
for scheme in http https; do
    for work in "${HTTP_WORKLOADS[@]}"; do
        echo "$scheme $work: warm-up..." >&2
        http_run "$scheme" "$work" 0 u
        http_run "$scheme" "$work" 0 t
        for ((i = 1; i <= HTTP_REPS; i++)); do
            echo "$scheme $work: round $i/$HTTP_REPS" >&2
            check_others
            for mode in ${ORDERS[$(((i - 1) % 6))]}; do
                http_run "$scheme" "$work" "$i" "$mode"
            done
        done
    done
done

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
SSLV=$("$PY" -c 'import ssl; print(ssl.OPENSSL_VERSION)')
SDKV=$("$PY" -c 'import openai, sys; print(f"openai {openai.__version__}, Python {sys.version.split()[0]}")')
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
printf '{"reps": %d, "requests": %d, "uploads": %d, "downloads": %d, "load_end": "%s"}\n' \
    "$HTTP_REPS" "$HTTP_REQUESTS" "$HTTP_UPLOADS" "$HTTP_DOWNLOADS" "$LOAD_END" >"$TMP/r/http.params"

"$PY" - "$TMP/r" "$REPS" "$STREAM_N" "$(nproc)" "$(uname -r)" "$CPU" "$REV" "$(date -u '+%Y-%m-%d %H:%M UTC')" \
    "$OTHERS" "$LOAD" "$SSLV" "$SDKV" "$NODELAY" "${labels[@]}" <<'PY'
import json, statistics, sys
from pathlib import Path

r = Path(sys.argv[1])
reps, stream_n = int(sys.argv[2]), int(sys.argv[3])
nproc, kernel, cpu, rev, date, others, load, sslv, sdkv, nodelay = sys.argv[4:14]
nodelay = int(nodelay)
labels = sys.argv[14:]
runs = range(1, reps + 1)
med = statistics.median
MB = 1e6


def js(p):
    return json.loads(Path(p).read_text())


def txt(p):
    return Path(p).read_text().strip() if Path(p).exists() else ""


def size_s(n):
    for unit, div in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return f"{n:,} B"


hp = js(r / "http.params")
loads = [float(x) for x in txt(r / "load").split()]
print()
print("### Results")
print()
print(f"Machine: {nproc} CPUs ({cpu}), kernel {kernel}; {sslv}, {sdkv}; agentsight {rev}; {date}. "
      f"Medians of {reps} interleaved runs (parts 1 and 2), {hp['reps']} rounds (part 3). "
      f"**Load average** (1, 5, 15 min) {load} at the start, {hp['load_end']} at the end; the "
      f"1-minute figure ranged {min(loads):.2f}–{max(loads):.2f} over the runs ({nproc} CPUs). "
      "Server of parts 1 and 2: "
      + ("the fixture with TCP_NODELAY (`NODELAY=1`)." if nodelay else
         "the fixture as it is (no TCP_NODELAY: ~40 ms of delayed ACK in every call)."))
if int(others):
    print()
    print(f"**Warning:** {others} other agentsight process(es) ran during the benchmark; their probes "
          "add to the traced cost.")
print()
u = [js(r / f"stream.u.{i}.json") for i in runs]
ti = [js(r / f"stream.t.{i}.inner.json") for i in runs]
to = [js(r / f"stream.t.{i}.outer.json") for i in runs]
ck = [js(r / f"stream.t.{i}.check.json") for i in runs]
uw, tw, ow = med(x["wall_s"] for x in u), med(x["wall_s"] for x in ti), med(x["wall_s"] for x in to)
coll = med(x["self_cpu_s"] for x in to)
good = [c["good"] for c in ck]
calls = [c["calls"] for c in ck]
lost = sum(c["lost"] for c in ck)
all_ok = all(c["ok"] for c in ck)
good_s = (f"{stream_n} in each run" if all_ok
          else "**" + ", ".join(f"{g}/{c}" for g, c in zip(good, calls)) + "**")
ratio = tw / uw
print("| workload | untraced | traced | ratio | whole `record` | complete streamed `llm_call`s | lost "
      "| collector CPU |")
print("|---|---|---|---|---|---|---|---|")
print(f"| {stream_n} streamed chat completions (`openai` SDK, one client) | {uw:.2f} s | {tw:.2f} s "
      f"| **{ratio:.3f}** | {ow:.2f} s | {good_s} | {lost} | {coll:.2f} s ({coll / ow:.1%} of its wall) |")
print()
print("untraced / traced = the client's own loop (start-up and agentsight's start and stop "
      "excluded); ratio = traced / untraced (target ≤ 1.02"
      + ("" if ratio <= 1.02 else ", **not met**") + "). Complete = `stream` true, status 200, "
      "not `incomplete`, `response.text` equal to the server's reply, no loss; per run as "
      "complete/recorded when not all are. whole `record` = agentsight's wall time, start "
      "(BPF load) and stop included; collector CPU = its own user+sys (all threads, not the client).")
for i, c in zip(runs, ck):
    if c["bad"]:
        print(f"\nrun {i}, first incomplete calls: `{json.dumps(c['bad'], ensure_ascii=False)[:300]}`")
print()
print("| request size | requests | ring | untraced | traced | traced / untraced | `llm_call`s "
      "| byte-exact | complete | lost | collector CPU / wall | stderr |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
best = None
notes = []
for label in labels:
    b = f"up.{label}"
    size, n, ring = (int(x) for x in txt(r / f"{b}.params").split())
    un, tr = js(r / f"{b}.u.json"), js(r / f"{b}.t.json")
    c = js(r / f"{b}.check.json")
    outer = js(r / f"{b}.outer.json")
    umb, tmb = un["bytes"] / un["wall_s"] / MB, tr["bytes"] / tr["wall_s"] / MB
    err = " ".join(txt(r / f"{b}.err").split())
    lost_s = f"{c['lost']:,}" + (" (" + ", ".join(f"{k}: {v:,}" for k, v in c["reasons"].items()) + ")"
                                 if c["reasons"] else "")
    ok = c["ok"]
    if ok and (best is None or tmb > best[0]):
        best = (tmb, size, ring)
    if c["wrong_len"]:
        first = ", ".join(f"{ln:,} bytes{' (incomplete)' if inc else ' (not marked incomplete)'}"
                          for ln, inc in c["wrong_lens"])
        notes.append(f"{size_s(size)}, {ring} MiB ring: {c['wrong_len']} call(s) with a message of the "
                     f"wrong length: {first}")
    if c["raw_reasons"]:
        notes.append(f"{size_s(size)}, {ring} MiB ring: call(s) kept as raw text: "
                     + ", ".join(f"{k!r} × {v}" for k, v in c["raw_reasons"].items()))
    if c["exact"] == c["sent"] and not c["in_order"]:
        notes.append(f"{size_s(size)}, {ring} MiB ring: every message is there but not in the order sent")
    mark = (lambda v: f"{v}/{n}" if v == n else f"**{v}/{n}**")
    print(f"| {size_s(size)} | {n} | {ring} MiB | {umb:,.1f} MB/s | {tmb:,.1f} MB/s | {tmb / umb:.3f} "
          f"| {mark(c['calls'])} | {mark(c['exact'])} | {mark(c['complete'])} | {lost_s} "
          f"| {outer['self_cpu_s']:.2f} s / {outer['wall_s']:.1f} s | {f'`{err[:90]}`' if err else '–'} |")
print()
print("MB/s = bytes of user message sent / the client's loop time (1 MB = 10^6 bytes; JSON framing "
      "and every request's round trip included"
      + ("" if nodelay else ", ~45 ms each with the fixture server as it is") + "), one run each. "
      "byte-exact = calls whose `request.messages[0].content` has the sent length and sha256; "
      "complete = not `incomplete`, status 200, reply text exact; stderr = agentsight's.")
for note in notes:
    print(f"\n- {note}")
print()
if best:
    print(f"Highest client throughput captured byte-exact without loss: **{best[0]:,.1f} MB/s** "
          f"({size_s(best[1])} requests, {best[2]} MiB ring).")
else:
    print("No upload run was captured byte-exact without loss.")

print()
hr = range(1, hp["reps"] + 1)
works = {
    "requests": (f"{hp['requests']:,} small requests", "req/s", lambda j: j["calls"] / j["wall_s"]),
    "upload": (f"{hp['uploads']} × 1 MiB prompt", "MB/s", lambda j: j["bytes"] / j["wall_s"] / MB),
    "download": (f"{hp['downloads']} × 8 MiB streamed reply", "MB/s", lambda j: j["bytes"] / j["wall_s"] / MB),
}
print("| scheme | workload | untraced | `record` | ratio (per round) | `strace -f` | ratio "
      "| every exchange captured | lost | collector CPU / wall |")
print("|---|---|---|---|---|---|---|---|---|---|")
bad_notes = []
sent = {"requests": hp["requests"], "upload": hp["uploads"], "download": hp["downloads"]}
for scheme in ("http", "https"):
    for work, (title, unit, rate) in works.items():
        b = f"http.{scheme}.{work}"
        u = [rate(js(r / f"{b}.u.{i}.json")) for i in hr]
        t = [rate(js(r / f"{b}.t.{i}.json")) for i in hr]
        st = [rate(js(r / f"{b}.s.{i}.json")) for i in hr]
        ck = [js(r / f"{b}.t.{i}.check.json") for i in hr]
        outer = [js(r / f"{b}.t.{i}.outer.json") for i in hr]
        per = [x / y for x, y in zip(t, u)]
        lost = sum(c["lost"] for c in ck)
        reasons = {}
        for c in ck:
            for k, v in c["reasons"].items():
                reasons[k] = reasons.get(k, 0) + v
        n = ck[0]["calls"] if all(c["ok"] for c in ck) else None
        cap = (f"yes ({ck[0]['good']:,} × {hp['reps']})" if n is not None
               else "**no**: complete/sent " + ", ".join(f"{c['good']}/{sent[work]}" for c in ck)
               + " (`llm_call`s: " + ", ".join(str(c["calls"]) for c in ck) + ")")
        lost_s = f"{lost:,}" + (" (" + ", ".join(f"{k}: {v:,}" for k, v in reasons.items()) + ")" if reasons else "")
        fmt = (lambda v: f"{v:,.0f}") if unit == "req/s" else (lambda v: f"{v:,.1f}")
        print(f"| {scheme} | {title} | {fmt(med(u))} {unit} | {fmt(med(t))} {unit} | **{med(t) / med(u):.3f}** "
              f"({min(per):.2f}–{max(per):.2f}) | {fmt(med(st))} {unit} | {med(st) / med(u):.3f} | {cap} "
              f"| {lost_s} | {med(o['self_cpu_s'] for o in outer):.2f} s / {med(o['wall_s'] for o in outer):.1f} s |")
        for i, c in zip(hr, ck):
            if c["bad"]:
                bad_notes.append(f"{scheme} {work}, round {i}, first bad calls: "
                                 f"`{json.dumps(c['bad'], ensure_ascii=False)[:300]}`")
print()
print("Throughput of the client's own loop (Python `http.client`, one keep-alive connection, "
      "bench/http_server.py outside the traced tree; start-up excluded), median of the rounds; "
      "ratio = traced (or strace) / untraced throughput, 1.0 = no cost. Every exchange captured = "
      "one `llm_call` per request in every traced round, status 200, not `incomplete`, and the "
      "prompt (requests: text; upload: sha256) or the streamed reply (sha256) exact.")
for note in bad_notes:
    print(f"\n- {note}")
PY
