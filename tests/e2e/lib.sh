# Shared helpers of the end-to-end tests: real processes, a private temporary directory, and
# cleanup of everything a test started, whatever happens (NF_E2E_KEEP=1 keeps the directory).
set -u
: "${NF_BUILD_DIR:?run through ctest}" "${NF_SOURCE_DIR:?run through ctest}"
NF="$NF_BUILD_DIR/bin/newsflow"
T=$(mktemp -d /tmp/nf-e2e.XXXXXX)
export NEWSFLOW_PLUGIN_DIR="$NF_BUILD_DIR/plugins"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.2
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    # workers of a supervisor that was killed hard
    pkill -KILL -f "newsflow stage $T/" 2>/dev/null
    if [ -n "${NF_E2E_KEEP:-}" ]; then echo "kept: $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
skip() { echo "SKIP: $*"; exit 77; }
sql() { sqlite3 -batch -noheader "$1" "$2"; }
assert_eq() { [ "$1" = "$2" ] || fail "$3: expected [$2], got [$1]"; ok "$3"; }
assert_contains() { grep -qF -- "$2" "$1" || { echo "--- $1:" >&2; tail -30 "$1" >&2; fail "$3: no [$2] in $1"; }; ok "$3"; }
# wait_for SECONDS COMMAND...: polls until the command succeeds.
wait_for() {
    local until=$((SECONDS + $1)); shift
    while ! "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $until ] && return 1
        sleep 0.1
    done
}
command -v sqlite3 >/dev/null || skip "sqlite3 CLI not installed"
