#!/usr/bin/env bash
# End-to-end latency of the default pipeline as a service: files appear in a watched directory
# at a steady rate, and each file's time from its rename into the directory to its row committed
# in the store (seen by a reader of the database) is measured.
# Usage: bench/bench_latency.sh [BUILD_DIR]
#   env: NF_LATENCY_RATE files/s, default 2500: about half of the 5,000-5,300 articles a second
#        the pipeline sustains on 2 cores in bench/run.sh;
#        NF_LATENCY_SET, more --set options (e.g. "--set store.fsync=false");
#        NF_LATENCY_ROUNDS, default 1: that many runs one after the other, with the medians;
#        NF_LATENCY_FILES, default 40000 (16 s at the default rate): the store's tail shows only
#        once its full-text index has grown (at 2,000 files/s, 10,000 files gave p99 37 ms
#        where 40,000 gave 63-70);
#        NF_LATENCY_HOPS=1, a diagnostic: where the time goes, hop by hop. `newsflow tap
#        --keys source,trace` reads the records leaving the last stage before the store (the
#        tap drops what it cannot take: the hops are of the records it saw), and each record's
#        trace (every stage appends its name and the time, in ms, as it sends) gives the time
#        from the rename to each stage, and from each stage to the next; the store's hop ends
#        at stored_at, and the commit at the reader's sighting. The tap costs some CPU; the
#        default figures are without it.
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
# NF_LATENCY_ROUNDS=N runs the bench N times and gives the median of each figure too: one run's
# p99 moves by a factor of two or three with the host's other work.
ROUNDS=${NF_LATENCY_ROUNDS:-1}
if [ "$ROUNDS" -gt 1 ]; then
    p50s=() p99s=()
    for r in $(seq "$ROUNDS"); do
        out=$(NF_LATENCY_ROUNDS=1 bash "$0" "$BUILD")
        echo "$out" | sed "s/^/  [round $r] /" | grep -v "reproduce:"
        line=$(echo "$out" | grep "latency p50")
        p50s+=("$(echo "$line" | sed 's/.*latency p50 \([0-9.]*\) ms.*/\1/')")
        p99s+=("$(echo "$line" | sed 's/.*p99 \([0-9.]*\) ms.*/\1/')")
    done
    median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
    echo "  over $ROUNDS rounds: p50 median $(median "${p50s[@]}") ms (${p50s[*]}), p99 median" \
         "$(median "${p99s[@]}") ms (${p99s[*]})"
    echo "  reproduce: NF_LATENCY_ROUNDS=$ROUNDS NF_LATENCY_RATE=${NF_LATENCY_RATE:-2500}" \
         "NF_LATENCY_FILES=${NF_LATENCY_FILES:-40000} bench/bench_latency.sh $BUILD"
    exit 0
fi
NF="$BUILD/bin/newsflow"
RATE=${NF_LATENCY_RATE:-2500}
FILES=${NF_LATENCY_FILES:-40000}
TMP=$(mktemp -d /tmp/nf-latency.XXXXXX)
trap 'kill ${TAPPED:-} "$SUP" 2>/dev/null; wait "$SUP" 2>/dev/null; rm -rf "$TMP"' EXIT
export NEWSFLOW_PLUGIN_DIR="$BUILD/plugins"
mkdir -p "$TMP/in" "$TMP/src"
# The articles: make_corpus output when ../shared is here, else the sample articles varied.
if [ -f "$ROOT/../shared/tools/make_corpus.py" ]; then
    python3 "$ROOT/../shared/tools/make_corpus.py" "$TMP/corpus" --articles "$FILES" >/dev/null
    SRC="$TMP/corpus/articles"
else
    for i in $(seq "$FILES"); do
        { cat "$ROOT"/conf/sample/00$((i % 5))_*.txt; echo "Article $i."; } >"$TMP/src/a$i.txt"
    done
    SRC="$TMP/src"
fi
# What earlier work left unwritten (the corpus just made, another bench's gigabytes) is written
# back first: else the store's commits wait behind it, and the tail measures the disk's backlog.
sync
# The shipped pipeline as it is (its flush_ms too), watching the directory.
cmd=("$NF" run "$ROOT/conf/newsflow.cfg" --set "state_dir=$TMP/var" --set "fetch.path=$TMP/in"
     --set fetch.watch=true --set "store.path=$TMP/db" ${NF_LATENCY_SET:-})
"${cmd[@]}" >"$TMP/log" 2>&1 &
SUP=$!
for _ in $(seq 100); do [ -S "$TMP/var/run/html-0.in" ] && break; sleep 0.1; done
sleep 1
TAPPED=""
if [ "${NF_LATENCY_HOPS:-0}" = 1 ]; then
    # the stage whose output the store reads: the store's `inputs`
    LAST=$(sed -n '/^  store = {/,/^  };/s/.*inputs = \["\([a-z_]*\)"\].*/\1/p' "$ROOT/conf/newsflow.cfg")
    "$NF" tap "$ROOT/conf/newsflow.cfg" "$LAST" --keys source,trace --set "state_dir=$TMP/var" \
        >"$TMP/trace.jsonl" 2>"$TMP/tap.err" &
    TAPPED=$!
    for _ in $(seq 100); do grep -q "tapped: publishing" "$TMP/log" && break; sleep 0.1; done
fi
# Committed rows are what a reader sees: a reader polls the store every 2 ms for rows beyond the
# last it saw and notes when each appeared (WAL mode: it does not hold up the writer). It ends
# once it has seen every file, or after 60 s without a new row.
python3 - "$TMP/db" "$FILES" "$TMP/seen.tsv" <<'PY' &
import os, sqlite3, sys, time
db_path, files, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
while not os.path.exists(db_path):
    time.sleep(0.01)
db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
seen, last, idle_since = {}, 0, time.time()
while len(seen) < files and time.time() - idle_since < 60:
    try:
        rows = db.execute("select rowid, source_uri from articles where rowid > ?", (last,)).fetchall()
    except sqlite3.OperationalError:
        rows = [] # the schema is not there yet
    now = time.time_ns()
    for rowid, uri in rows:
        seen.setdefault(uri[len("file://"):], now)
        last = max(last, rowid)
    if rows:
        idle_since = time.time()
    time.sleep(0.002)
with open(out, "w") as f:
    f.writelines(f"{k}\t{v}\n" for k, v in seen.items())
PY
POLL=$!
# Each file is written beside the directory and renamed into it at its time; the rename times
# go to a log (nanoseconds since the epoch).
python3 - "$SRC" "$TMP/in" "$RATE" "$TMP/sent.tsv" <<'PY'
import os, sys, time
src, dst, rate, log = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
names = sorted(os.listdir(src))
stage = dst + "/../stage"
os.makedirs(stage, exist_ok=True)
for n in names:
    with open(os.path.join(src, n), "rb") as f, open(os.path.join(stage, n), "wb") as g:
        g.write(f.read())
t0 = time.time()
with open(log, "w") as out:
    for i, n in enumerate(names):
        due = t0 + i / rate
        while time.time() < due:
            time.sleep(max(0, min(0.001, due - time.time())))
        os.rename(os.path.join(stage, n), os.path.join(dst, n))
        out.write(f"{dst}/{n}\t{time.time_ns()}\n")
PY
wait "$POLL"
[ -n "$TAPPED" ] && { kill "$TAPPED"; wait "$TAPPED" || true; }
python3 - "$TMP/sent.tsv" "$TMP/seen.tsv" "$TMP/db" "$RATE" <<'PY'
import datetime, sqlite3, sys
sent = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[1]))
seen = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[2]))
db = sqlite3.connect(sys.argv[3])
lat, written = [], []
for uri, stored in db.execute("select source_uri, stored_at from articles"):
    path = uri[len("file://"):]
    if path not in sent:
        continue
    t0 = int(sent[path]) / 1e9
    t = datetime.datetime.fromisoformat(stored.replace("Z", "+00:00")).timestamp()
    written.append((t - t0) * 1000)
    if path in seen:
        lat.append((int(seen[path]) / 1e9 - t0) * 1000)
lat.sort()
written.sort()
q = lambda xs, p: xs[min(len(xs) - 1, int(p * len(xs)))]
print(f"  {len(lat)} of {len(sent)} files at {sys.argv[4]}/s, rename to committed row (seen by a "
      f"reader polling every 2 ms): latency p50 {q(lat, 0.5):.1f} ms, p99 {q(lat, 0.99):.1f} ms, "
      f"max {lat[-1]:.1f} ms")
print(f"  rename to the row's write (stored_at, before its commit): p50 {q(written, 0.5):.1f} ms, "
      f"p99 {q(written, 0.99):.1f} ms")
PY
if [ -n "$TAPPED" ]; then
    python3 - "$TMP/sent.tsv" "$TMP/seen.tsv" "$TMP/db" "$TMP/trace.jsonl" <<'PY'
import datetime, json, sqlite3, sys
sent = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[1]))
seen = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[2]))
stored = {}
for uri, at in sqlite3.connect(sys.argv[3]).execute("select source_uri, stored_at from articles"):
    t = datetime.datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
    stored[uri[len("file://"):]] = t * 1000
# per record: the times (ms since the epoch) of the rename, each stage's send, the row's write
# and the reader's sighting; a record resent (two traces) counts its first
chains, names = {}, None
for line in open(sys.argv[4]):
    r = json.loads(line)
    path = r.get("source", {}).get("uri", "")[len("file://"):]
    if path not in sent or path not in stored or path not in seen or path in chains:
        continue
    hops = [(h["stage"], h["t"]) for h in r.get("trace", [])]
    if names is None:
        names = [h[0] for h in hops]
    if [h[0] for h in hops] != names:
        continue
    chains[path] = ([int(sent[path]) / 1e6] + [t for _, t in hops] +
                    [stored[path], int(seen[path]) / 1e6])
if not chains:
    sys.exit("  hops: the tap saw no record (see its stderr)")
points = ["rename"] + names + ["store (stored_at)", "commit (seen)"]
q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]
print(f"  hops of {len(chains)} records (trace times in whole ms): each hop's p50 / p99, and "
      f"from the rename to its end p50 / p99")
for i in range(1, len(points)):
    hop = [c[i] - c[i - 1] for c in chains.values()]
    cum = [c[i] - c[0] for c in chains.values()]
    print(f"    {points[i - 1] + ' -> ' + points[i]:34} {q(hop, .5):6.1f} / {q(hop, .99):6.1f}   "
          f"{q(cum, .5):6.1f} / {q(cum, .99):6.1f}")
PY
fi
echo "  reproduce: NF_LATENCY_RATE=$RATE NF_LATENCY_FILES=$FILES${NF_LATENCY_SET:+ NF_LATENCY_SET=\"$NF_LATENCY_SET\"}${TAPPED:+ NF_LATENCY_HOPS=1} bench/bench_latency.sh $BUILD"
