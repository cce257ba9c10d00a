# bench/common.sh: sourced by the bench scripts. Sets AS (the agentsight binary to measure) and
# REV (what it was built from): $AGENTSIGHT if given, else a release build of this checkout,
# made as the invoking user under sudo so that target/ keeps its owner. Needs ROOT set.

if [[ -n ${AGENTSIGHT:-} ]]; then
    AS=$(realpath "$AGENTSIGHT")
    REV="$AS"
else
    CARGO=${CARGO:-$(command -v cargo || true)}
    if [[ -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
        home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
        [[ -n $CARGO ]] || CARGO=$home/.cargo/bin/cargo
        build=(sudo -u "$SUDO_USER" env "PATH=$(dirname "$CARGO"):$PATH" "$CARGO")
    else
        [[ -n $CARGO ]] || CARGO=$HOME/.cargo/bin/cargo
        build=("$CARGO")
    fi
    echo "building agentsight (release)..." >&2
    (cd "$ROOT" && "${build[@]}" build --release -p agentsight -q)
    AS=$ROOT/target/release/agentsight
    REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    [[ -z $(git -C "$ROOT" status --porcelain 2>/dev/null) ]] || REV="$REV (uncommitted changes)"
fi
[[ -x $AS ]] || { echo "bench: no agentsight binary at $AS" >&2; exit 2; }
