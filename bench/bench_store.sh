#!/usr/bin/env bash
# store_sqlite's rows per CPU second, with its full-text index, at two sizes of make_corpus.py
# articles (default 20,000 and 200,000): the plugin alone through the mock core (bench_store),
# one transaction per 500 records as conf/newsflow.cfg commits them. The CPU per row along each
# run shows whether the store slows down as it grows: by tenth of the run, and at 20,000,
# 100,000 and 200,000 rows of the same run (over the last tenth before each), with the pages the
# store wrote to its log and read from its file a row by tenth (counts that the load of the
# machine does not blur). Prints each figure and its command.
# Usage: bench/bench_store.sh [BUILD_DIR] [ARTICLES...]
#   env: NF_BENCH_STORE_BATCH (default 500), NF_BENCH_STORE_SHUFFLE (a seed: the articles in a
#   shuffled order; default 0, the corpus's order, copies near their originals)
set -euo pipefail
BUILD=${1:-build}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(20000 200000)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
BIN="$BUILD/bench/bench_store"
CORPUS_TOOL="$ROOT/../shared/tools/make_corpus.py"
BATCH=${NF_BENCH_STORE_BATCH:-500}
SHUFFLE=${NF_BENCH_STORE_SHUFFLE:-0}
[ -x "$BIN" ] || { echo "no $BIN: build the bench_store target first" >&2; exit 1; }
if [ ! -f "$CORPUS_TOOL" ]; then
    echo "== store_sqlite: skipped (no ../shared/tools/make_corpus.py here)"
    exit 0
fi
TMP=$(mktemp -d /tmp/nf-bench-store.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

for n in "${SIZES[@]}"; do
    echo "== store_sqlite with its full-text index, $n make_corpus.py articles, $BATCH a transaction"
    python3 "$CORPUS_TOOL" "$TMP/corpus" --articles "$n" >/dev/null
    # CPU times stretch on a busy machine (shared caches): the load says how busy it was.
    echo "  load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$BIN" "$TMP/corpus" --batch "$BATCH" --shuffle "$SHUFFLE" --db "$TMP/store.db" | sed 's/^/  /'
    echo "  reproduce: python3 $CORPUS_TOOL /tmp/corpus --articles $n && $BIN /tmp/corpus --batch $BATCH --shuffle $SHUFFLE"
    rm -rf "$TMP/corpus" "$TMP"/store.db*
done
