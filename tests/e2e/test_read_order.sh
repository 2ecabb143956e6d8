#!/usr/bin/env bash
# Verdicts that do not depend on the workers (in_read_order): one corpus through fetch_dir ->
# clean_text -> extract_meta -> dedup -> story -> store_sqlite with dedup and story in read
# order, twice:
#  - calm: one worker a stage, nothing killed;
#  - busy: three clean and two extract workers, while the source, every clean, extract, dedup
#    and store worker is killed with SIGKILL now and then (story is left running: its restart
#    is e2e.chaos's);
# and both must give every article the same dup_of and the same story_id (and in the calm run
# most records go on as they arrive, on their read_prev). A third run, busy
# without read order and without kills, shows what the order buys (reported).
# NF_E2E_SEED=N replays the same kill schedule.
. "$(dirname "$0")/lib.sh"
TOOL="$NF_SOURCE_DIR/../shared/tools/make_corpus.py"
[ -f "$TOOL" ] || skip "no corpus tool at $TOOL (the ../shared tree is absent)"
command -v python3 >/dev/null || skip "python3 not installed"

# enough that the busy run lasts for several kills: batches are committed as soon as the
# store's input is idle, and 6,000 articles could be done after one
ARTICLES=15000
nm "$NF" 2>/dev/null | grep -q __asan_init && ARTICLES=5000
SEED=${NF_E2E_SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$SEED
echo "seed $SEED (rerun with NF_E2E_SEED=$SEED), $ARTICLES articles"
python3 "$TOOL" "$T/corpus" --articles "$ARTICLES" >/dev/null || fail "make_corpus.py failed"
IN=$(realpath "$T/corpus/articles")

config() { # NAME CLEAN_WORKERS EXTRACT_WORKERS ORDERED
    cat >"$T/$1.cfg" <<CFG
state_dir = "$T/var-$1";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$IN"; window = 400; ack_timeout_ms = 2000;
            max_attempts = 50; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; workers = $2; };
  extract = { plugin = "extract_meta"; inputs = ["clean"]; workers = $3;
              gazetteer = "$NF_SOURCE_DIR/conf/gazetteer.tsv"; };
  dedup = { plugin = "dedup"; inputs = ["extract"]; in_read_order = $4; };
  story = { plugin = "story"; inputs = ["dedup"]; in_read_order = $4; };
  store = { plugin = "store_sqlite"; inputs = ["story"]; path = "$T/$1.db"; };
};
CFG
}
finish() { # NAME PID: waits (bounded) for a run, which must succeed and store every article
    local until=$((SECONDS + 300))
    while kill -0 "$2" 2>/dev/null; do
        [ $SECONDS -ge $until ] && { grep -v resending "$T/$1.log" | tail -30; fail "run $1 did not finish within 300 s"; }
        sleep 0.2
    done
    wait "$2" || { grep -v resending "$T/$1.log" | tail -30; fail "run $1 failed"; }
    assert_eq "$(sql "$T/$1.db" "select count(*) from articles")" "$ARTICLES" "run $1 stored every article once"
}
differ() { # NAME1 NAME2 COLUMN: articles whose COLUMN differs between two runs
    sql "$T/$1.db" "attach '$T/$2.db' as other; select count(*) from articles a
        join other.articles b on b.id = a.id where a.$3 is not b.$3"
}

config calm 1 1 true
"$NF" run "$T/calm.cfg" --once >"$T/calm.log" 2>&1 &
CALM=$!
PIDS+=("$CALM")
finish calm "$CALM"

config busy 3 2 true
CFG="$T/busy.cfg"
"$NF" run "$CFG" --once >"$T/busy.log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
TARGETS=("fetch --worker 0" "clean --worker 0" "clean --worker 1" "clean --worker 2"
         "extract --worker 0" "extract --worker 1" "dedup --worker 0" "store --worker 0")
finished() { ! kill -0 "$SUP" 2>/dev/null || grep -q "every source is exhausted" "$T/busy.log"; }
has_rows() { [ "$(sql "$T/busy.db" "select count(*) > 0 from articles" 2>/dev/null)" = 1 ]; }
wait_for 60 has_rows || { tail -30 "$T/busy.log"; fail "nothing was stored within 60 s"; }
kills=0
while ! finished && [ $kills -lt 12 ]; do
    sleep "0.$(( RANDOM % 350 + 150 ))" # a few seconds' run: kills a few tenths apart
    target=${TARGETS[RANDOM % ${#TARGETS[@]}]}
    pid=$(pgrep -f -- "newsflow stage $CFG $target" | head -1) || continue
    finished && break
    kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1)) && echo "  killed ${target/ --worker /[}] at ${SECONDS}s"
done
finish busy "$SUP"
[ "$kills" -ge 3 ] || fail "only $kills kills landed before the input was done: the test proved little"
grep -E "AddressSanitizer|LeakSanitizer|runtime error:" "$T/busy.log" >&2 && fail "a sanitizer reported an error"

config loose 3 2 false
"$NF" run "$T/loose.cfg" --once >"$T/loose.log" 2>&1 &
LOOSE=$!
PIDS+=("$LOOSE")
finish loose "$LOOSE"

# In one file of workers the records arrive in read order, and each goes on as it arrives, on
# its read_prev, without waiting for its source's mark (order.h): most of them in the calm run
# (none without it). How many depends on the stages' pace against the marks': in a normal build
# 83% at story; under ASan 52-72% alone and 49% once beside the suite's other tests, so there a
# quarter is asked.
need=$((ARTICLES / 2))
nm "$NF" 2>/dev/null | grep -q __asan_init && need=$((ARTICLES / 4))
for st in dedup story; do
    linked=$(sed -n "s/.*$st\[0\]: counts:.* linked=\([0-9]*\).*/\1/p" "$T/calm.log" | tail -1)
    echo "calm run: $st took ${linked:-0} records on their read_prev"
    [ "${linked:-0}" -ge "$need" ] ||
        fail "$st took ${linked:-0} of $ARTICLES records on their read_prev in the calm run"
done
late=$(sed -n 's/.*story\[0\]: counts:.* late=\([0-9]*\).*/\1/p' "$T/busy.log" | tail -1)
echo "kills $kills; story's late records ${late:-0}; without read order, dup_of differs for" \
     "$(differ calm loose dup_of) and story_id for $(differ calm loose story_id) articles"
d=$(differ calm busy dup_of)
s=$(differ calm busy story_id)
if [ "$d" != 0 ] || [ "$s" != 0 ]; then
    sql "$T/calm.db" "attach '$T/busy.db' as other; select a.source_uri, a.dup_of, b.dup_of,
        a.story_id, b.story_id from articles a join other.articles b on b.id = a.id
        where a.dup_of is not b.dup_of or a.story_id is not b.story_id limit 10" >&2
fi
assert_eq "$d" 0 "with more workers and kills, every article has the dup_of it has in the calm run"
assert_eq "$s" 0 "with more workers and kills, every article is in the story it is in in the calm run"
echo "all passed"
