#!/usr/bin/env bash
# bench/fuzz.sh: runs every cargo-fuzz target in fuzz/ for a bounded time and prints, per
# target, the inputs executed and the crashes found, as one Markdown table for
# docs/BENCHMARKS.md. Not part of CI: it needs a nightly toolchain and cargo-fuzz
# (`rustup toolchain install nightly && cargo install cargo-fuzz`).
#
#   bash bench/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 300 s, all targets)
#
# Environment: PARALLEL=N runs N targets at once (default 1; one core each),
# FUZZ_TOOLCHAIN (default nightly), RSS_MB (memory limit per target, default 2048),
# TIMEOUT_S (one input running longer is a finding, default 10).
#
# Targets build once with debug assertions (integer overflow panics) and without a sanitizer
# (the code is safe Rust; ASan would only slow it down). Each target starts from its committed
# seeds (fuzz/seeds/T) plus the corpus of earlier runs (fuzz/corpus/T, kept between runs and not
# committed). libFuzzer stops at the first crash; the script then restarts it until the time is
# used up, so "crashes" counts crashing inputs (fuzz/artifacts/T/crash-*, oom-*, timeout-*),
# not distinct bugs: reproduce one with `fuzz/target/*/release/T ARTIFACT`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FUZZ=$ROOT/fuzz
SECONDS_PER_TARGET=${1:-300}
shift || true
PARALLEL=${PARALLEL:-1}
TOOLCHAIN=${FUZZ_TOOLCHAIN:-nightly}
RSS_MB=${RSS_MB:-2048}
TIMEOUT_S=${TIMEOUT_S:-10}
ALL=(http sse llm redact window search)
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=("${ALL[@]}")

REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git -C "$ROOT" status --porcelain -- collector analyzer model fuzz 2>/dev/null) ]] || REV="$REV (uncommitted changes)"
cd "$FUZZ"
if ! cargo "+$TOOLCHAIN" fuzz --version >/dev/null 2>&1; then
    echo "bench/fuzz.sh: needs cargo-fuzz on the $TOOLCHAIN toolchain: cargo install cargo-fuzz" >&2
    exit 2
fi
echo "building fuzz targets ($TOOLCHAIN, debug assertions, no sanitizer)..." >&2
cargo "+$TOOLCHAIN" fuzz build -s none -a >&2
BIN=$(find "$FUZZ/target" -path '*/release/http' -type f -perm -u+x | head -n1)
BIN=$(dirname "$BIN")
LOGS=$FUZZ/artifacts/logs
mkdir -p "$LOGS"

# 1234567 -> 1,234,567
group() { sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta' <<<"$1"; }

# Runs one target for SECONDS_PER_TARGET, restarting after each crash; writes its table row.
fuzz_one() {
    local t=$1 start=$SECONDS execs=0 runs=0 left n
    local deadline=$((SECONDS + SECONDS_PER_TARGET))
    mkdir -p "$FUZZ/corpus/$t" "$FUZZ/artifacts/$t"
    local before
    before=$(find "$FUZZ/artifacts/$t" -maxdepth 1 -type f | wc -l)
    local log=$LOGS/$t.log
    : >"$log"
    while (( (left = deadline - SECONDS) > 0 && runs < 50 )); do
        runs=$((runs + 1))
        # -print_final_stats prints stat::number_of_executed_units even when a crash stops it.
        "$BIN/$t" "$FUZZ/corpus/$t" "$FUZZ/seeds/$t" \
            -max_total_time="$left" -timeout="$TIMEOUT_S" -rss_limit_mb="$RSS_MB" \
            -print_final_stats=1 -artifact_prefix="$FUZZ/artifacts/$t/" >"$log.run" 2>&1 || true
        cat "$log.run" >>"$log"
        n=$(grep -a 'stat::number_of_executed_units' "$log.run" | tail -n1 | awk '{print $2}')
        execs=$((execs + ${n:-0}))
        # Restart only after a finding; any other early end (a bad flag, a broken build) stops.
        grep -aqE 'ERROR: libFuzzer|deadly signal|panicked at' "$log.run" || break
    done
    rm -f "$log.run"
    local after crashes corpus elapsed
    after=$(find "$FUZZ/artifacts/$t" -maxdepth 1 -type f | wc -l)
    crashes=$((after - before))
    corpus=$(find "$FUZZ/corpus/$t" -type f | wc -l)
    elapsed=$((SECONDS - start))
    printf '| `%s` | %s | %s | %s | %s | %s |\n' "$t" "$elapsed" \
        "$(group "$execs")" "$(group $((execs / (elapsed > 0 ? elapsed : 1))))" \
        "$crashes" "$corpus" >"$LOGS/$t.row"
    echo "fuzz: $t done: $execs executions in ${elapsed}s, $crashes crashing inputs (log: $log)" >&2
}

echo "fuzzing ${#TARGETS[@]} targets for ${SECONDS_PER_TARGET}s each, $PARALLEL at a time..." >&2
running=0
for t in "${TARGETS[@]}"; do
    [[ -x $BIN/$t ]] || { echo "bench/fuzz.sh: no target \`$t\` (have: ${ALL[*]})" >&2; exit 2; }
    fuzz_one "$t" &
    running=$((running + 1))
    if (( running >= PARALLEL )); then
        wait -n
        running=$((running - 1))
    fi
done
wait

echo
echo "Fuzzing, $(date -u +%Y-%m-%d), built from $REV," \
    "$(nproc) cores, $PARALLEL target(s) at a time:"
echo
echo '| target | seconds | executions | per second | crashes | corpus |'
echo '|---|---:|---:|---:|---:|---:|'
for t in "${TARGETS[@]}"; do cat "$LOGS/$t.row"; done
found=$(find "$FUZZ/artifacts" -maxdepth 2 -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) | sort)
if [[ -n $found ]]; then
    echo
    echo "Crashing inputs (all runs so far):"
    echo "$found" | sed "s|^$ROOT/||"
fi
