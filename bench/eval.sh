#!/usr/bin/env bash
# make eval: quality of clean_html on the shared evaluation pages.
#   main text: ../shared/corpus/html (990 pages, snippets in and out of the article) -> score_html.py
#   dates:     ../shared/corpus/dates (500 pages with their publication day)        -> score_dates.py
# Each run is fetch_dir -> clean_html -> store_jsonl with `newsflow run --once`.
# Usage: bench/eval.sh [BUILD_DIR]   (env: NF_EVAL_KEEP=DIR: where the exports go, default
#                                     /tmp/nf-eval-out)
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED="$ROOT/../shared"
case $BUILD in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
NF="$BUILD/bin/newsflow"
if [ ! -d "$SHARED/corpus/html/pages" ] || [ ! -f "$SHARED/tools/score_html.py" ]; then
    echo "eval: skipped (no ../shared/corpus/html or ../shared/tools here)"
    exit 0
fi
TMP=$(mktemp -d /tmp/nf-eval.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
OUT=${NF_EVAL_KEEP:-/tmp/nf-eval-out} # kept, so that the reproduce lines work
mkdir -p "$OUT"
export NEWSFLOW_PLUGIN_DIR="$BUILD/plugins"


run_set() { # NAME PAGES_DIR SCORER
    local name=$1 pages=$2 scorer=$3
    rm -rf "$TMP/var"
    local cmd=("$NF" run "$ROOT/bench/conf/clean_html.cfg" --once --set "state_dir=$TMP/var"
               --set "fetch.path=$pages" --set "store.path=$OUT/$name.jsonl")
    local t0 t1
    t0=$(date +%s.%N)
    "${cmd[@]}" >"$TMP/$name.log" 2>&1 || { tail -20 "$TMP/$name.log"; exit 1; }
    t1=$(date +%s.%N)
    local n dl
    n=$(wc -l <"$OUT/$name.jsonl")
    dl=$(grep -c "dead-letter\|dead letter" "$TMP/$name.log" || true)
    echo "== $name: $n records exported in $(printf '%.1f' "$(echo "$t1 - $t0" | bc -l)") s"
    python3 "$scorer" "$OUT/$name.jsonl" | sed 's/^/  /'
    echo "  reproduce: NEWSFLOW_PLUGIN_DIR=$NEWSFLOW_PLUGIN_DIR ${cmd[*]/$TMP\/var//tmp/nf-var} && python3 $scorer $OUT/$name.jsonl"
}

run_set html "$SHARED/corpus/html/pages" "$SHARED/tools/score_html.py"
if [ -d "$SHARED/corpus/dates/pages" ] && [ -f "$SHARED/tools/score_dates.py" ]; then
    run_set dates "$SHARED/corpus/dates/pages" "$SHARED/tools/score_dates.py"
else
    echo "== dates: skipped (no ../shared/corpus/dates here)"
fi
