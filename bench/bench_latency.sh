#!/usr/bin/env bash
# End-to-end latency of the default pipeline as a service: files appear in a watched directory
# at a steady rate, and each file's time from its rename into the directory to its row in the
# store (store_sqlite's stored_at, taken in the transaction that commits it) is measured.
# Usage: bench/bench_latency.sh [BUILD_DIR]
#   env: NF_LATENCY_RATE files/s, default 2500: about half of the 5,000-5,300 articles a second
#        the pipeline sustains on 2 cores in bench/run.sh;
#        NF_LATENCY_FILES, default 40000 (16 s at the default rate): the store's tail shows only
#        once its full-text index has grown (at 2,000 files/s, 10,000 files gave p99 37 ms
#        where 40,000 gave 63-70).
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
NF="$BUILD/bin/newsflow"
RATE=${NF_LATENCY_RATE:-2500}
FILES=${NF_LATENCY_FILES:-40000}
TMP=$(mktemp -d /tmp/nf-latency.XXXXXX)
trap 'kill "$SUP" 2>/dev/null; wait "$SUP" 2>/dev/null; rm -rf "$TMP"' EXIT
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
cmd=("$NF" run "$ROOT/conf/newsflow.cfg" --set "state_dir=$TMP/var" --set "fetch.path=$TMP/in"
     --set fetch.watch=true --set "store.path=$TMP/db" --set store.flush_ms=5
     --set dedup.flush_ms=5 --set story.flush_ms=5)
"${cmd[@]}" >"$TMP/log" 2>&1 &
SUP=$!
for _ in $(seq 100); do [ -S "$TMP/var/run/html-0.in" ] && break; sleep 0.1; done
sleep 1
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
for _ in $(seq 600); do
    n=$(sqlite3 "$TMP/db" "select count(*) from articles" 2>/dev/null || echo 0)
    [ "$n" -ge "$FILES" ] && break
    sleep 0.1
done
python3 - "$TMP/sent.tsv" "$TMP/db" "$RATE" <<'PY'
import datetime, sqlite3, sys
sent = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[1]))
db = sqlite3.connect(sys.argv[2])
lat = []
for uri, stored in db.execute("select source_uri, stored_at from articles"):
    path = uri[len("file://"):]
    if path in sent:
        t = datetime.datetime.fromisoformat(stored.replace("Z", "+00:00")).timestamp()
        lat.append((t - int(sent[path]) / 1e9) * 1000)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f"  {len(lat)} of {len(sent)} files at {sys.argv[3]}/s: latency p50 {q(0.5):.1f} ms, "
      f"p99 {q(0.99):.1f} ms, max {lat[-1]:.1f} ms")
PY
echo "  reproduce: NF_LATENCY_RATE=$RATE NF_LATENCY_FILES=$FILES bench/bench_latency.sh $BUILD"
