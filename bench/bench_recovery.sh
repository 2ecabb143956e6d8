#!/usr/bin/env bash
# A source's recovery after a crash: fetch_jsonl killed with NF_RECOVERY_INFLIGHT records in flight
# from a gzipped JSON-lines file of about NF_RECOVERY_MB megabytes, the lines before them already
# finished (in its ledger, NF_RECOVERY_DEPTH per cent of the file); then the time and the bytes
# its restart takes to read those records again and resend them.
# Usage: bench/bench_recovery.sh [BUILD_DIR]
#   env: NF_RECOVERY_MB (default 1024), NF_RECOVERY_INFLIGHT (10000), NF_RECOVERY_DEPTH (90),
#        NF_RECOVERY_INPUT (default /tmp/nf-recovery-MB.jsonl.gz: made once from make_corpus.py
#        output repeated, and kept for the next run), NF_RECOVERY_TIMEOUT seconds (1800)
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
NF="$BUILD/bin/newsflow"
MB=${NF_RECOVERY_MB:-1024}
INFLIGHT=${NF_RECOVERY_INFLIGHT:-10000}
DEPTH=${NF_RECOVERY_DEPTH:-90}
INPUT=${NF_RECOVERY_INPUT:-/tmp/nf-recovery-${MB}MB.jsonl.gz}
TIMEOUT=${NF_RECOVERY_TIMEOUT:-1800}
CORPUS_TOOL="$ROOT/../shared/tools/make_corpus.py"
export NEWSFLOW_PLUGIN_DIR=${NEWSFLOW_PLUGIN_DIR:-$BUILD/plugins}
TMP=$(mktemp -d /tmp/nf-recovery.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
    pkill -9 -f -- "$TMP/recovery.cfg" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
[ -n "${NF_RECOVERY_KEEP:-}" ] && trap - EXIT

if [ ! -f "$INPUT" ]; then
    if [ ! -f "$CORPUS_TOOL" ]; then
        echo "== source recovery: skipped (no ../shared/tools/make_corpus.py here)"
        exit 0
    fi
    echo "== making $INPUT (about $MB MB of gzip) from make_corpus.py output repeated"
    python3 "$CORPUS_TOOL" "$TMP/corpus" --articles 20000 --format jsonl >/dev/null
    python3 "$ROOT/bench/recovery_input.py" "$TMP/corpus/articles.jsonl" "$INPUT" "$MB" >/dev/null
    rm -rf "$TMP/corpus"
fi

cat >"$TMP/recovery.cfg" <<CFG
state_dir = "$TMP/var";
metrics_dir = "$TMP/metrics";
grace_ms = 0;
stages = {
  fetch = {
    plugin = "fetch_jsonl"; path = "$INPUT";
    window = $INFLIGHT; hwm = 1000000; ack_timeout_ms = 86400000;
  };
  done = { plugin = "filter_pass"; inputs = ["fetch"]; };
};
CFG
mkdir -p "$TMP/var/fetch" "$TMP/metrics"
chmod 700 "$TMP/var" "$TMP/var/fetch"
read -r finished total < <(python3 "$ROOT/bench/recovery_input.py" --ledger "$INPUT" "$DEPTH" \
                              "$TMP/var/fetch/fetch_jsonl-0.ledger")
echo "== source recovery: fetch_jsonl, $INPUT ($(du -m "$INPUT" | cut -f1) MB gzipped," \
     "$total lines); lines 1-$finished finished, the next $INFLIGHT in flight"

count_of() { # count_of NAME: a counter of the fetch worker's metrics file
    sed -n "s/^newsflow_stage_count_total{stage=\"fetch\",worker=\"0\",count=\"$1\"} //p" \
        "$TMP/metrics/newsflow-fetch-0.prom" 2>/dev/null | tail -1 || true
}

# 1. The pipeline under its supervisor, its last stage stopped (SIGSTOP) once it is up, so that
#    nothing acknowledges: the source skips the finished lines, sends the next INFLIGHT records
#    (journaled; they wait in the stopped stage's queue) and waits; then every process is killed.
#    (A source started alone cannot send: its sockets queue nothing to an inbox nobody serves.)
"$NF" run "$TMP/recovery.cfg" >"$TMP/first.log" 2>&1 &
PID=$!
DONE=
for ((i = 0; i < 200; i++)); do
    DONE=$(pgrep -f -- "$TMP/recovery.cfg done --worker 0" | head -1 || true)
    [ -n "$DONE" ] && break
    kill -0 "$PID" 2>/dev/null || { tail -20 "$TMP/first.log"; exit 1; }
    sleep 0.1
done
# stopped once its inbox is bound and the source has connected to it: a source sends nothing to
# an inbox until their handshake is done, which a stopped worker never answers
for ((i = 0; i < 300; i++)); do
    [ -S "$TMP/var/run/done-0.in" ] && grep -q "source fetch_jsonl started" "$TMP/first.log" && break
    sleep 0.1
done
[ -n "$DONE" ] && grep -q "source fetch_jsonl started" "$TMP/first.log" ||
    { echo "  the pipeline did not start"; tail -20 "$TMP/first.log"; exit 1; }
sleep 1
kill -STOP "$DONE"
for ((i = 0; i < TIMEOUT * 2; i++)); do
    out=$(count_of out)
    [ "${out:-0}" -ge "$INFLIGHT" ] && break
    kill -0 "$PID" 2>/dev/null || { tail -20 "$TMP/first.log"; exit 1; }
    sleep 0.5
done
FETCH=$(pgrep -f -- "$TMP/recovery.cfg fetch --worker 0" | head -1 || true)
{ for p in $FETCH $PID $DONE; do kill -9 "$p" || true; done; wait "$PID"; } 2>/dev/null || true
PID=
for ((i = 0; i < 50; i++)); do
    pgrep -f -- "$TMP/recovery.cfg" >/dev/null || break
    sleep 0.1
done
[ "${out:-0}" -ge "$INFLIGHT" ] || { echo "  the source sent only ${out:-0} records"; exit 1; }
rm -f "$TMP/metrics/newsflow-fetch-0.prom"

# 2. The restart: recovery refetches every journaled record and sends it again; stopped once it
#    says so. Its CPU time covers start-up (ledger, journal) and recovery.
cmd=("$NF" stage "$TMP/recovery.cfg" fetch --worker 0)
start=$(date +%s.%N)
"${cmd[@]}" >"$TMP/second.log" 2>&1 &
PID=$!
for ((i = 0; i < TIMEOUT * 10; i++)); do
    grep -q "recovered .* unacknowledged records" "$TMP/second.log" && break
    kill -0 "$PID" 2>/dev/null || { tail -20 "$TMP/second.log"; exit 1; }
    sleep 0.1
done
wall=$(echo "$(date +%s.%N) - $start" | bc -l)
# utime and stime (fields 14 and 15 after the command name) in clock ticks, and peak RSS
read -r user sys < <(sed 's/.*) //' "/proc/$PID/stat" | awk '{print $12, $13}')
hz=$(getconf CLK_TCK)
user=$(echo "$user / $hz" | bc -l)
sys=$(echo "$sys / $hz" | bc -l)
rss=$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status")
{ kill -TERM "$PID" && wait "$PID"; } 2>/dev/null || true
PID=
grep -q "recovered .* unacknowledged records" "$TMP/second.log" ||
    { echo "  no recovery within ${TIMEOUT} s"; tail -5 "$TMP/second.log"; exit 1; }
recovered=$(count_of recovered)
bytes=$(count_of refetch_bytes)
rereads=$(count_of refetch_rereads)
inflated=$(gzip -dc "$INPUT" | wc -c)
printf '  recovered %s records in %.2f s wall (to the log line), %.2f s CPU (user %.2f + sys %.2f), peak RSS %d MiB\n' \
    "${recovered:-0}" "$wall" "$(echo "$user + $sys" | bc -l)" "$user" "$sys" "$((rss / 1024))"
printf '  refetch read %s bytes of the %s inflated (%.2f times the file), %s times behind the reader\n' \
    "${bytes:-0}" "$inflated" "$(echo "${bytes:-0} / $inflated" | bc -l)" "${rereads:-0}"
echo "  reproduce: NF_RECOVERY_MB=$MB NF_RECOVERY_INFLIGHT=$INFLIGHT NF_RECOVERY_DEPTH=$DEPTH bench/bench_recovery.sh $BUILD"
