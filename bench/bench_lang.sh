#!/usr/bin/env bash
# extract_meta's speed with language identification on and off, and the accuracy of the
# language it gives: on English news (make_corpus articles from BBC and Reuters, and the BBC
# set as it is) and on the multilingual web pages of ../shared (corpus/html and corpus/dates),
# whose own declared language (<html lang>, read by clean_html) is the gold; there the main text
# goes through extract_meta again without that declaration.
# Usage: bench/bench_lang.sh [BUILD_DIR] [--set STAGE.OPTION=VALUE]...
#   the --set arguments go to every extract run (e.g. --set extract.phrases=false)
#   env: NF_LANG_ARTICLES articles for the speed run (default 20000)
# Speed is CPU time (user + system of the extract worker, from the supervisor's report; and the
# plugin's own cpu_us counter when it has one), so the figure holds on a loaded machine.
set -euo pipefail
BUILD=${1:-build}
[ $# -gt 0 ] && shift
EXTRA=("$@")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
NF="$BUILD/bin/newsflow"
SHARED="$ROOT/../shared"
ARTICLES=${NF_LANG_ARTICLES:-20000}
SCORE=(python3 "$ROOT/bench/lang_score.py")
TMP=$(mktemp -d /tmp/nf-bench-lang.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export NEWSFLOW_PLUGIN_DIR="$BUILD/plugins"

if [ ! -d "$SHARED/corpus" ]; then
    echo "== language identification: skipped (no ../shared/corpus here)"
    exit 0
fi

# run CONFIG NAME INPUT [--set ...]: one pipeline run into $TMP/NAME.jsonl, its log $TMP/NAME.log
run() {
    local conf=$1 name=$2 input=$3
    shift 3
    rm -rf "$TMP/var"
    last_cmd=("$NF" run "$ROOT/bench/conf/$conf" --once --set "state_dir=$TMP/var"
              --set "fetch.path=$input" --set "store.path=$TMP/$name.jsonl" "$@")
    "${last_cmd[@]}" >"$TMP/$name.log" 2>&1 || { tail -20 "$TMP/$name.log"; exit 1; }
}
extract_cpu() { sed -n 's/.*worker extract\[0\]: .* CPU \([0-9.]*\) s.*/\1/p' "$TMP/$1.log" | tail -1; }
extract_count() {
    grep 'extract\[0\]: counts:' "$TMP/$1.log" | tail -1 | sed -n "s/.* $2=\([0-9]*\).*/\1/p"
}

echo "== extract_meta on $ARTICLES make_corpus articles (fetch_dir -> clean_html -> clean_text"
echo "   -> extract_meta -> store_jsonl; extract's CPU alone)"
python3 "$SHARED/tools/make_corpus.py" "$TMP/corpus" --articles "$ARTICLES" >/dev/null
# language identification off (an older extract_meta had no `language` option)
OFF_OPT=language=false
doc=$("$NF" doc extract_meta)
grep -q '^  language ' <<<"$doc" || OFF_OPT=textcat_conf=
OFF=(--set "extract.$OFF_OPT")
for lang in on off; do
    off=()
    [ $lang = off ] && off=("${OFF[@]}")
    run lang.cfg "corpus-$lang" "$TMP/corpus/articles" "${EXTRA[@]}" "${off[@]}"
    cpu=$(extract_cpu "corpus-$lang")
    own=$(extract_count "corpus-$lang" cpu_us)
    printf '  language %-3s: extract worker %.2f s CPU: %.0f articles/s per core' "$lang" "$cpu" \
        "$(echo "$ARTICLES / $cpu" | bc -l)"
    if [ -n "$own" ]; then
        printf '; the plugin alone %.1f us an article, %.0f articles/s per core' \
            "$(echo "$own / $ARTICLES" | bc -l)" "$(echo "$ARTICLES * 1000000 / $own" | bc -l)"
    fi
    echo
    [ $lang = on ] && echo "    reproduce: python3 $SHARED/tools/make_corpus.py /tmp/corpus --articles $ARTICLES && ${last_cmd[*]//$TMP//tmp}"
done
# The same articles through extract_meta alone in one process (bench_lang: the mock core, no
# plumbing), with the same options.
if [ -x "$BUILD/bench/bench_lang" ]; then
    opts=("gazetteer=$ROOT/conf/gazetteer.tsv")
    for a in "${EXTRA[@]}"; do
        case $a in extract.*) opts+=("${a#extract.}") ;; esac
    done
    echo "== extract_meta alone, in one process ($BUILD/bench/bench_lang, CPU time of its pass)"
    for lang in on off; do
        off=()
        [ $lang = off ] && off=("$OFF_OPT")
        printf '  language %-3s: ' $lang
        "$BUILD/bench/bench_lang" "$TMP/corpus/articles" 0 "${opts[@]}" "${off[@]}" 2>/dev/null |
            sed 's/^extract_meta alone: //'
    done
    echo "    reproduce: $BUILD/bench/bench_lang /tmp/corpus/articles 0 ${opts[*]}"
fi
echo "== language accuracy"
"${SCORE[@]}" score en "$TMP/corpus-on.jsonl" "make_corpus articles (English)"

run lang.cfg bbc "$SHARED/corpus/news/bbc" "${EXTRA[@]}"
"${SCORE[@]}" score en "$TMP/bbc.jsonl" "BBC News as it is (English)"

# The pages' main text and declared language, then the text alone through extract_meta.
for set in html dates; do
    run lang.cfg "$set-front" "$SHARED/corpus/$set/pages" "${OFF[@]}"
    "${SCORE[@]}" split "$TMP/$set-front.jsonl" "$TMP/$set-texts.jsonl" "$TMP/$set-gold.tsv"
    cat "$TMP/$set-texts.jsonl" >>"$TMP/pages-texts.jsonl"
    cat "$TMP/$set-gold.tsv" >>"$TMP/pages-gold.tsv"
done
run lang_text.cfg pages "$TMP/pages-texts.jsonl" "${EXTRA[@]}"
"${SCORE[@]}" score "$TMP/pages-gold.tsv" "$TMP/pages.jsonl" \
    "web pages of corpus/html and corpus/dates against their <html lang>"
echo "  reproduce: $0 ${BUILD#"$ROOT/"} ${EXTRA[*]}"
