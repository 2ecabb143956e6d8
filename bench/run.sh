#!/usr/bin/env bash
# make bench: the runtime's throughput and memory, then the whole pipeline on a real corpus.
# Usage: bench/run.sh [BUILD_DIR]   (env: NF_BENCH_N records for the plumbing run, default 200000;
#                                     NF_BENCH_ARTICLES for the corpus run, default 20000)
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NF="$ROOT/$BUILD/bin/newsflow"
N=${NF_BENCH_N:-200000}
ARTICLES=${NF_BENCH_ARTICLES:-20000}
TMP=$(mktemp -d /tmp/nf-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export NEWSFLOW_PLUGIN_DIR="$ROOT/$BUILD/plugins"

seconds_of() { sed -n 's/.*acknowledged after \([0-9.]*\) s.*/\1/p' "$1" | tail -1; }
rss_of() { sed -n 's/.*worker \([a-z0-9_]*\[[0-9]*\]\): peak RSS \([0-9.]*\) MiB.*/\1=\2MiB/p' "$1" | tr '\n' ' '; }

echo "== plumbing: 3 KB records through five pass-through stage processes (+ generator)"
echo "   journal=true: every record durable in the source's journal before it leaves, kept until"
echo "   acknowledged; journal=false: acknowledged but not journaled (lost if the source dies)"
for journal in true false; do
    for n in $((N / 2)) "$N"; do
        rm -rf "$TMP/var"
        cmd=("$NF" run "$ROOT/bench/conf/plumbing.cfg" --once --set "state_dir=$TMP/var"
             --set "gen.count=$n" --set "gen.journal=$journal")
        # CPU of the supervisor and every worker it reaped: user (ours and libzmq's) against
        # system (the kernel moving the bytes between processes)
        /usr/bin/time -f '%U %S' -o "$TMP/cpu" "${cmd[@]}" >"$TMP/plumb.log" 2>&1 \
            || { tail -20 "$TMP/plumb.log"; exit 1; }
        s=$(seconds_of "$TMP/plumb.log")
        read -r user sys <"$TMP/cpu"
        printf '  journal=%-5s %8d records in %6.2f s: %8.0f records/s; CPU user %.2f s, system %.2f s (%.0f%% kernel), %.1f us a record\n' \
            "$journal" "$n" "$s" "$(echo "$n / $s" | bc -l)" "$user" "$sys" \
            "$(echo "100 * $sys / ($user + $sys)" | bc -l)" "$(echo "1000000 * ($user + $sys) / $n" | bc -l)"
        echo "    peak RSS: $(rss_of "$TMP/plumb.log")"
    done
done
echo "  reproduce: ${cmd[*]}"

# The same plumbing over tcp on 127.0.0.1, plain (insecure = true) against CURVE (encrypted and
# authenticated links), in interleaved runs: what the security of a multi-host link costs.
bench_curve() {
    local n=$((N / 2)) keys="$TMP/keys" base
    mkdir -p "$keys"
    "$NF" keygen "$keys/server" >/dev/null && "$NF" keygen "$keys/client" >/dev/null
    cp "$keys/client.pub" "$keys/allowed"
    base=$(python3 -c 'import random; print(random.randrange(20000, 60000, 20))')
    local tcp=(--set "gen.count=$n" --set "gen.ack_endpoint=tcp://127.0.0.1:$base")
    for i in 1 2 3 4 5; do
        tcp+=(--set "p$i.endpoint=tcp://127.0.0.1:$((base + 2 * i + 2))")
    done
    local plain=(--set insecure=true)
    local curve=(--set "curve_server_key=$keys/server.key" --set "curve_server_public=$keys/server.pub"
                 --set "curve_client_key=$keys/client.key" --set "curve_allow=$keys/allowed")
    echo "== plumbing over tcp on 127.0.0.1: plain against CURVE, $n records, 3 interleaved rounds"
    local sum_p=0 sum_c=0
    for round in 1 2 3; do
        for mode in plain curve; do
            rm -rf "$TMP/var"
            local -n extra=$mode
            cmd=("$NF" run "$ROOT/bench/conf/plumbing.cfg" --once --set "state_dir=$TMP/var"
                 "${tcp[@]}" "${extra[@]}")
            "${cmd[@]}" >"$TMP/curve.log" 2>&1 || { tail -20 "$TMP/curve.log"; exit 1; }
            local s r
            s=$(seconds_of "$TMP/curve.log")
            r=$(echo "$n / $s" | bc -l)
            printf '  round %d %-5s %8.0f records/s\n' "$round" "$mode" "$r"
            if [ "$mode" = plain ]; then sum_p=$(echo "$sum_p + $r" | bc -l); else sum_c=$(echo "$sum_c + $r" | bc -l); fi
        done
    done
    printf '  CURVE moves %.0f%% of plain tcp'"'"'s records/s (mean of 3 rounds each)\n' \
        "$(echo "100 * $sum_c / $sum_p" | bc -l)"
    echo "  reproduce: ${cmd[*]}"
}
bench_curve

CORPUS_TOOL="$ROOT/../shared/tools/make_corpus.py"
sum_rss() { sed -n 's/.*peak RSS \([0-9.]*\) MiB.*/\1/p' "$1" | paste -sd+ | bc; }
# The default pipeline on make_corpus articles, into SQLite (with its full-text index) and into
# JSON lines: articles/s, the CPU of every process, and the peak RSS of each and all together
# (the supervisor's included). Then the same into SQLite at NF_BENCH_MEM_ARTICLES (default
# 100,000) for the memory a longer run holds.
bench_pipeline() {
    if [ ! -f "$CORPUS_TOOL" ]; then
        echo "== whole pipeline: skipped (no ../shared/tools/make_corpus.py here)"
        return 0
    fi
    python3 "$CORPUS_TOOL" "$TMP/corpus" --articles "$ARTICLES" >/dev/null
    local store
    for store in store_sqlite store_jsonl; do
        echo "== whole pipeline (conf/newsflow.cfg: fetch_dir -> clean_html -> clean_text -> extract_meta"
        echo "   -> minhash -> dedup -> story -> $store) on $ARTICLES articles"
        rm -rf "$TMP/var"
        cmd=("$NF" run "$ROOT/conf/newsflow.cfg" --once --set "state_dir=$TMP/var"
             --set "fetch.path=$TMP/corpus/articles" --set "store.plugin=$store"
             --set "store.path=$TMP/var/bench.$([ $store = store_sqlite ] && echo db || echo jsonl)")
        /usr/bin/time -f '%U %S' -o "$TMP/cpu" "${cmd[@]}" >"$TMP/pipe.log" 2>&1 \
            || { tail -20 "$TMP/pipe.log"; exit 1; }
        s=$(seconds_of "$TMP/pipe.log")
        if [ $store = store_sqlite ]; then
            stored=$(sqlite3 "$TMP/var/bench.db" "select count(*) from articles")
        else
            stored=$(grep -c '"id"' "$TMP/var/bench.jsonl")
        fi
        read -r user sys <"$TMP/cpu"
        printf '  %d articles stored in %.2f s: %.0f articles/s; CPU user %.2f s, system %.2f s\n' \
            "$stored" "$s" "$(echo "$stored / $s" | bc -l)" "$user" "$sys"
        echo "    peak RSS: $(rss_of "$TMP/pipe.log")supervisor=$(sed -n 's/.*supervisor and inbox brokers: peak RSS \([0-9.]*\) MiB.*/\1MiB/p' "$TMP/pipe.log")"
        echo "    summed peak RSS: $(sum_rss "$TMP/pipe.log") MiB"
        echo "  reproduce: python3 $CORPUS_TOOL /tmp/corpus --articles $ARTICLES && ${cmd[*]//$TMP\/corpus//tmp/corpus}"
    done
    local big=${NF_BENCH_MEM_ARTICLES:-100000}
    echo "== memory: the default pipeline into SQLite on $big articles"
    rm -rf "$TMP/corpus" "$TMP/var"
    python3 "$CORPUS_TOOL" "$TMP/corpus" --articles "$big" >/dev/null
    cmd=("$NF" run "$ROOT/conf/newsflow.cfg" --once --set "state_dir=$TMP/var"
         --set "fetch.path=$TMP/corpus/articles" --set "store.path=$TMP/var/bench.db")
    "${cmd[@]}" >"$TMP/pipe.log" 2>&1 || { tail -20 "$TMP/pipe.log"; exit 1; }
    s=$(seconds_of "$TMP/pipe.log")
    printf '  %d articles in %.2f s: %.0f articles/s\n' "$big" "$s" "$(echo "$big / $s" | bc -l)"
    echo "    peak RSS: $(rss_of "$TMP/pipe.log")"
    echo "    summed peak RSS: $(sum_rss "$TMP/pipe.log") MiB"
    echo "  reproduce: python3 $CORPUS_TOOL /tmp/corpus --articles $big && ${cmd[*]//$TMP\/corpus//tmp/corpus}"
    rm -rf "$TMP/corpus" "$TMP/var"
}
bench_pipeline

# clean_html on real web pages: the pipeline's pages/s, and the plugin's own CPU time per page
# (its cpu_us counter), i.e. pages/s per core of decoding, parsing and extraction alone.
bench_clean_html() {
    local pages_dir="$ROOT/../shared/corpus/html/pages"
    if [ ! -d "$pages_dir" ]; then
        echo "== clean_html: skipped (no ../shared/corpus/html/pages here)"
        return 0
    fi
    echo "== clean_html: fetch_dir -> clean_html -> store_jsonl on $(ls "$pages_dir" | wc -l) web pages"
    rm -rf "$TMP/var"
    local cmd=("$NF" run "$ROOT/bench/conf/clean_html.cfg" --once --set "state_dir=$TMP/var"
               --set "fetch.path=$pages_dir" --set "store.path=$TMP/html.jsonl")
    "${cmd[@]}" --set log_level=info >"$TMP/html.log" 2>&1 || { tail -20 "$TMP/html.log"; exit 1; }
    local s counts pages dead cpu
    s=$(seconds_of "$TMP/html.log")
    counts=$(grep 'clean\[0\]: counts:' "$TMP/html.log" | tail -1)
    pages=$(sed -n 's/.* pages=\([0-9]*\).*/\1/p' <<<"$counts")
    dead=$(sed -n 's/.* dead=\([0-9]*\).*/\1/p' <<<"$counts")
    dead=${dead:-0}
    cpu=$(sed -n 's/.* cpu_us=\([0-9]*\).*/\1/p' <<<"$counts")
    printf '  %d pages extracted (%d dead-lettered) in %.2f s: %.0f pages/s through the pipeline\n' \
        "$pages" "$dead" "$s" "$(echo "$pages / $s" | bc -l)"
    printf '  clean_html alone: %.2f ms CPU a page, %.0f pages/s per core\n' \
        "$(echo "$cpu / 1000 / ($pages + $dead)" | bc -l)" "$(echo "($pages + $dead) * 1000000 / $cpu" | bc -l)"
    echo "    peak RSS: $(rss_of "$TMP/html.log")"
    echo "  reproduce: NEWSFLOW_PLUGIN_DIR=$NEWSFLOW_PLUGIN_DIR ${cmd[*]//$TMP//tmp/nf-html} --set log_level=info"
}
bench_clean_html

# Near-duplicate detection: the stage functions alone (signature, then LSH query and insert, one
# core), then the backfill pipeline (fetch_jsonl -> clean_text -> minhash -> dedup -> store_jsonl)
# scored against the corpus's known copies.
bench_dedup() {
    local n=${NF_BENCH_DEDUP_ARTICLES:-50000} bin="$ROOT/$BUILD/bench/bench_dedup"
    local score="$ROOT/../shared/tools/score_dups.py"
    if [ ! -x "$bin" ]; then
        echo "== dedup: skipped (no $bin: build the bench_dedup target)"
        return 0
    fi
    echo "== dedup: signatures and LSH index on $n articles (make_corpus.py --format jsonl)"
    python3 "$CORPUS_TOOL" "$TMP/dups" --articles "$n" --format jsonl >/dev/null
    "$bin" "$TMP/dups/articles.jsonl" --window "$n" --rounds 3 | sed 's/^/  /'
    echo "  reproduce: python3 $CORPUS_TOOL /tmp/dups --articles $n --format jsonl && $bin /tmp/dups/articles.jsonl --window $n --rounds 3"
    rm -rf "$TMP/var"
    local cmd=("$NF" run "$ROOT/conf/backfill.cfg" --once --set "state_dir=$TMP/var"
               --set "fetch.path=$TMP/dups/articles.jsonl" --set "store.path=$TMP/var/dups.jsonl")
    "${cmd[@]}" >"$TMP/dups.log" 2>&1 || { tail -20 "$TMP/dups.log"; exit 1; }
    local s
    s=$(seconds_of "$TMP/dups.log")
    printf '  pipeline: %d articles in %.2f s: %.0f articles/s\n' "$n" "$s" "$(echo "$n / $s" | bc -l)"
    echo "    peak RSS: $(rss_of "$TMP/dups.log")"
    python3 "$score" "$TMP/dups" "$TMP/var/dups.jsonl" | sed 's/^/  /'
}
bench_dedup

# Story clustering: the story plugin's process() alone through its descriptor (mock host, one
# core), on articles cleaned and extracted beforehand; then BASIL through conf/stories.cfg,
# scored. Reuters texts are short (~800 bytes); BASIL's are ~4 KB, repeated to reach the count
# (the repeats join their stories).
bench_story() {
    local n=${NF_BENCH_STORY_ARTICLES:-20000} bin="$ROOT/$BUILD/tests/test_story"
    local reuters="$ROOT/../shared/corpus/news/reuters21578.jsonl.gz"
    local basil="$ROOT/../shared/corpus/stories/basil.jsonl"
    if [ ! -x "$bin" ] || [ ! -f "$reuters" ] || [ ! -f "$basil" ]; then
        echo "== story: skipped (needs $bin and ../shared/corpus)"
        return 0
    fi
    echo "== story: assignment speed, $n articles"
    for corpus in "$reuters" "$basil"; do
        "$bin" --bench "$corpus" "$n" | sed 's/^  //; s/^/  /'
        echo "  reproduce: $bin --bench $corpus $n"
    done
    rm -rf "$TMP/var"
    local cmd=("$NF" run "$ROOT/conf/stories.cfg" --once --set "state_dir=$TMP/var"
               --set "fetch.path=$basil" --set "store.path=$TMP/var/stories.jsonl")
    "${cmd[@]}" >"$TMP/stories.log" 2>&1 || { tail -20 "$TMP/stories.log"; exit 1; }
    echo "== story: BASIL (300 articles, 100 stories) through conf/stories.cfg"
    python3 "$ROOT/../shared/tools/score_clusters.py" "$TMP/var/stories.jsonl" | sed 's/^/  /'
    echo "  reproduce: ${cmd[*]/$TMP\/var//tmp/nf-var} && python3 ../shared/tools/score_clusters.py /tmp/nf-var/stories.jsonl"
}
bench_story
