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

# Copies: make_corpus.py corpora (10,000 and 100,000 articles, JSON lines) through
# conf/backfill.cfg, scored by score_dups.py. Stories: BASIL and ECB+ (dev half) through
# conf/stories.cfg, scored by score_clusters.py. NF_EVAL_SIZES="10000" keeps it short.
eval_dups() { # ARTICLES SEED
    local n=$1 seed=$2 dir="$TMP/dups-$1-$2"
    python3 "$SHARED/tools/make_corpus.py" "$dir" --articles "$n" --seed "$seed" --format jsonl >/dev/null
    rm -rf "$TMP/var"
    local cmd=("$NF" run "$ROOT/conf/backfill.cfg" --once --set "state_dir=$TMP/var"
               --set "fetch.path=$dir/articles.jsonl" --set "store.path=$OUT/dups-$n.jsonl")
    "${cmd[@]}" >"$TMP/dups.log" 2>&1 || { tail -20 "$TMP/dups.log"; exit 1; }
    echo "== copies: $n articles (make_corpus.py seed $seed)"
    python3 "$SHARED/tools/score_dups.py" "$dir" "$OUT/dups-$n.jsonl" | sed 's/^/  /'
    # The copies of word-for-word repeats in the corpus: counted missed whatever dedup does.
    python3 "$ROOT/bench/dups_twins.py" "$dir" | sed 's/^/  /'
    local shown="${cmd[*]/$dir//tmp/c$n}"
    echo "  reproduce: python3 $SHARED/tools/make_corpus.py /tmp/c$n --articles $n --seed $seed --format jsonl && ${shown/$TMP\/var//tmp/nf-var} && python3 $SHARED/tools/score_dups.py /tmp/c$n $OUT/dups-$n.jsonl"
}
# Heavier edits than the generator's (bench/more_edits.py): the 10,000-article corpus with every
# copy made again another way.
eval_edits() { # KIND
    local kind=$1 src="$TMP/dups-10000-1" dir="$TMP/edits-$1"
    [ -f "$src/articles.jsonl" ] ||
        python3 "$SHARED/tools/make_corpus.py" "$src" --articles 10000 --seed 1 --format jsonl >/dev/null
    python3 "$ROOT/bench/more_edits.py" "$src" "$dir" "$kind" >/dev/null
    rm -rf "$TMP/var"
    local cmd=("$NF" run "$ROOT/conf/backfill.cfg" --once --set "state_dir=$TMP/var"
               --set "fetch.path=$dir/articles.jsonl" --set "store.path=$OUT/edits-$kind.jsonl")
    "${cmd[@]}" >"$TMP/edits.log" 2>&1 || { tail -20 "$TMP/edits.log"; exit 1; }
    printf '  %-8s %s\n' "$kind" "$(python3 "$SHARED/tools/score_dups.py" "$dir" "$OUT/edits-$kind.jsonl" | tail -1)"
}
if [ -f "$SHARED/tools/make_corpus.py" ]; then
    for n in ${NF_EVAL_SIZES:-10000 100000}; do
        eval_dups "$n" 1
    done
    echo "== copies: 10000 articles, every copy edited again by bench/more_edits.py KIND"
    for kind in lead words shuffle cut50 two numbers marker typo retitle; do
        eval_edits "$kind"
    done
    echo "  reproduce: python3 bench/more_edits.py /tmp/c10000 /tmp/e-KIND KIND, then as above on /tmp/e-KIND"
fi
# Stories: each set through conf/stories.cfg in its own order, then shuffled with seeds 1-3 (an
# online clustering depends on the order of arrival): BCubed F1 of each order and their spread.
resolve_amends() { # EXPORT: its records with the story renames and moves of the amend lines applied
    python3 -c 'import json, sys
recs = []
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    r = json.loads(line)
    if "source" not in r and isinstance(r.get("amend"), dict):
        for old, new in (r["amend"].get("story_id") or {}).items():
            for x in recs:
                if x.get("story_id") == old:
                    x["story_id"] = new
        for art, new in (r["amend"].get("story_of") or {}).items():
            for x in recs:
                if x.get("id") == art:
                    x["story_id"] = new
        continue
    recs.append(r)
sys.stdout.writelines(json.dumps(r) + "\n" for r in recs)' "$1"
}
eval_stories() { # NAME FILE
    local name=$1 file=$2 f fs=() order input
    for order in 0 1 2 3; do
        input=$file
        if [ "$order" != 0 ]; then
            input="$TMP/stories-$name-$order.jsonl"
            python3 -c 'import random, sys
lines = open(sys.argv[1]).read().splitlines(True)
random.Random(int(sys.argv[2])).shuffle(lines)
sys.stdout.writelines(lines)' "$file" "$order" >"$input"
        fi
        rm -rf "$TMP/var" "$OUT/stories-$name.jsonl"
        cmd=("$NF" run "$ROOT/conf/stories.cfg" --once --set "state_dir=$TMP/var"
             --set "fetch.path=$input" --set "store.path=$OUT/stories-$name.jsonl")
        "${cmd[@]}" >"$TMP/stories.log" 2>&1 || { tail -20 "$TMP/stories.log"; exit 1; }
        # the story stage renames stories it merges: store_jsonl writes each rename on a line
        # of its own after the record's, {"amend": {"story_id": {OLD: NEW}}}, for the reader to
        # apply to the lines before it, which the scorer does not: applied here
        resolve_amends "$OUT/stories-$name.jsonl" >"$OUT/stories-$name.resolved.jsonl"
        if [ "$order" = 0 ]; then
            echo "== stories: $name"
            python3 "$SHARED/tools/score_clusters.py" "$OUT/stories-$name.resolved.jsonl" "$file" | sed 's/^/  /'
            echo "  reproduce: ${cmd[*]/$TMP\/var//tmp/nf-var} && python3 $SHARED/tools/score_clusters.py $OUT/stories-$name.resolved.jsonl $file"
        fi
        f=$(python3 "$SHARED/tools/score_clusters.py" "$OUT/stories-$name.resolved.jsonl" "$file" |
            awk '/^BCubed/ {print $NF}')
        fs+=("$f")
    done
    printf '  BCubed F1 in file order and shuffled (seeds 1-3): %s  (spread %s)\n' "${fs[*]}" \
        "$(printf '%s\n' "${fs[@]}" | sort -n | sed -n '1p;$p' | paste -sd- -)"
}
for set in basil ecbplus-dev; do
    if [ -f "$SHARED/corpus/stories/$set.jsonl" ]; then
        eval_stories "$set" "$SHARED/corpus/stories/$set.jsonl"
    else
        echo "== stories: $set skipped (no ../shared/corpus/stories/$set.jsonl here)"
    fi
done
