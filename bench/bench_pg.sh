#!/usr/bin/env bash
# store_pg's rows/s through `newsflow run`: fetch_jsonl -> store_pg over synthetic articles
# (about 3 KB of text each, a 40,000-word vocabulary, so that the full-text index has real work),
# into a throwaway PostgreSQL server on this machine (tests/support/pg_server.sh). Also the same
# input into store_sqlite for comparison. Prints each figure and the command behind it.
# Usage: bench/bench_pg.sh [BUILD_DIR]   (env: NF_BENCH_PG_N articles, default 20000)
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
NF="$BUILD/bin/newsflow"
N=${NF_BENCH_PG_N:-20000}
PGS="$ROOT/tests/support/pg_server.sh"
TMP=$(mktemp -d /tmp/nf-bench-pg.XXXXXX)
PGDIR=$(mktemp -d /tmp/nf-pgb.XXXXXX)
trap 'bash "$PGS" stop "$PGDIR" >/dev/null 2>&1; rm -rf "$TMP"' EXIT
export NEWSFLOW_PLUGIN_DIR="$BUILD/plugins"
[ -x "$NF" ] || { echo "no $NF: build first (cmake --build $BUILD)" >&2; exit 1; }

python3 - "$TMP/in/articles.jsonl" "$N" <<'EOF'
import json, os, random, sys
path, n = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.dirname(path), exist_ok=True)
rnd = random.Random(7)
syll = ["ka", "lo", "mi", "sa", "hel", "ni", "ger", "ba", "ma", "ko", "tu", "re", "an", "do"]
vocab = sorted({"".join(rnd.choice(syll) for _ in range(rnd.randint(2, 4))) for _ in range(60000)})[:40000]
weights = [1.0 / (i + 1) for i in range(len(vocab))]  # Zipf-like, as words in news are
with open(path, "w") as f:
    for i in range(n):
        words = rnd.choices(vocab, weights, k=450)
        paras = [" ".join(words[j:j + 90]).capitalize() + "." for j in range(0, 450, 90)]
        f.write(json.dumps({"id": "bench-%d" % i, "title": " ".join(words[:9]).capitalize(),
                            "text": "\n\n".join(paras), "date": "2024-05-%02d" % (i % 28 + 1),
                            "url": "https://example.org/%d" % i, "outlet": "Bench Daily"}) + "\n")
EOF
bytes=$(($(stat -c %s "$TMP/in/articles.jsonl") / N))

NEWSFLOW_PG=$(bash "$PGS" start "$PGDIR" $$)
export NEWSFLOW_PG
cat >"$TMP/pg.cfg" <<'EOF'
state_dir = "${NF_BENCH_VAR:-/tmp/newsflow-bench-pg}";
log_level = "info";
stages = {
  fetch = { plugin = "fetch_jsonl"; path = "${NF_BENCH_IN}"; set_text = true; };
  store = { plugin = "store_pg"; inputs = ["fetch"]; conninfo = "${NEWSFLOW_PG:-}"; batch = 500; };
};
EOF
sed -e 's/plugin = "store_pg";/plugin = "store_sqlite";/' -e 's/conninfo = "${NEWSFLOW_PG:-}";/path = "${NF_BENCH_DB}";/' \
    "$TMP/pg.cfg" >"$TMP/sqlite.cfg"
export NF_BENCH_IN="$TMP/in"

seconds_of() { sed -n 's/.*acknowledged after \([0-9.]*\) s.*/\1/p' "$1" | tail -1; }
# the sum over the store's workers of a counter from their last counts line
counter_of() {
    grep -E 'store\[[0-9]+\]: counts:' "$1" | sed -n "s/.*store\[\([0-9]*\)\].* $2=\([0-9]*\).*/\1 \2/p" |
        awk '{v[$1] = $2} END {s = 0; for (k in v) s += v[k]; print s}'
}
q() { bash "$PGS" psql "$PGDIR" -c "$1"; }

echo "== store_pg: fetch_jsonl -> store_pg, $N articles of ~$bytes bytes of JSON each, batch 500,"
echo "   PostgreSQL 15 on this machine ($(nproc) cores shared by the client, the server and the rest)"
run() { # LABEL PREFIX FSYNC SET...
    local label=$1 prefix=$2 fsync=$3
    shift 3
    q "ALTER SYSTEM SET fsync = $fsync" >/dev/null
    q "SELECT pg_reload_conf()" >/dev/null
    rm -rf "$TMP/var"
    cmd=(env NF_BENCH_VAR="$TMP/var" "$NF" run "$TMP/pg.cfg" --once --set "store.table_prefix=$prefix" "$@")
    "${cmd[@]}" >"$TMP/run.log" 2>&1 || { tail -20 "$TMP/run.log"; exit 1; }
    local s rows us written
    s=$(seconds_of "$TMP/run.log")
    rows=$(q "SELECT count(*) FROM ${prefix}articles")
    us=$(counter_of "$TMP/run.log" write_us)
    written=$(counter_of "$TMP/run.log" written)
    printf '  %-38s %6d rows in %6.2f s: %6.0f rows/s through the pipeline; %6.0f rows/s a worker writing\n' \
        "$label" "$rows" "$s" "$(echo "$rows / $s" | bc -l)" "$(echo "$written * 1000000 / $us" | bc -l)"
}
run "1 worker, fts, fsync=on" w1_ on
run "1 worker, fts, fsync=off" w1off_ off
run "2 workers, fts, fsync=on" w2_ on --set store.workers=2
run "1 worker, no fts, fsync=on" nofts_ on --set store.fts=false
run "1 worker, fts, a second run (upsert)" w1_ on
echo "  (through the pipeline: rows / the run's time from start to the last acknowledgement;"
echo "   a worker writing: rows committed / time spent in store_pg's flush, its write_us counter)"
echo "  reproduce: NF_BENCH_PG_N=$N bash $ROOT/bench/bench_pg.sh $BUILD"
echo "    (each figure is one run of: NF_BENCH_IN=DIR NEWSFLOW_PG=CONNINFO NF_BENCH_VAR=DIR $NF run"
echo "     PG.CFG --once --set store.table_prefix=P [--set store.workers=2 | --set store.fts=false],"
echo "     with the input, PG.CFG and the server made by the script)"

rm -rf "$TMP/var"
cmd=(env NF_BENCH_VAR="$TMP/var" NF_BENCH_DB="$TMP/bench.db" "$NF" run "$TMP/sqlite.cfg" --once)
"${cmd[@]}" >"$TMP/run.log" 2>&1 || { tail -20 "$TMP/run.log"; exit 1; }
s=$(seconds_of "$TMP/run.log")
rows=$(sqlite3 "$TMP/bench.db" "select count(*) from articles")
printf '  %-38s %6d rows in %6.2f s: %6.0f rows/s through the pipeline\n' "store_sqlite (FTS5), for comparison" \
    "$rows" "$s" "$(echo "$rows / $s" | bc -l)"
