#!/usr/bin/env bash
# Delivery under crashes: a corpus of articles goes through fetch_dir -> clean_text ->
# extract_meta -> dedup -> story -> store_sqlite while every stage's workers, the source and the
# store included, are killed with SIGKILL at random moments. The run must still finish by itself,
# and the store must hold every input file exactly once, with nothing dead-lettered. Then the same
# input runs again without faults and with other worker counts: the copies (dup_of) must be the
# same, each group's original the article read first, each story named after its article read
# first, and the story groups the same.
# NF_E2E_SEED=N replays the same kill schedule; NF_E2E_SCALE=F scales the corpus (0 < F <= 1);
# NF_CHAOS_ACK_MS=N sets the source's acknowledgement timeout (2000) and NF_CHAOS_MIN_RESENDS=N
# the resends on timeout a run must have made to prove anything (test_chaos_resend.sh).
. "$(dirname "$0")/lib.sh"
TOOL="$NF_SOURCE_DIR/../shared/tools/make_corpus.py"
[ -f "$TOOL" ] || skip "no corpus tool at $TOOL (the ../shared tree is absent)"
command -v python3 >/dev/null || skip "python3 not installed"

ARTICLES=20000
ROUNDS=4 # each worker is killed this many times (while the pipeline still runs)
WINDOW=500
if nm "$NF" 2>/dev/null | grep -q __asan_init; then
    # The sanitized build runs several times slower: a smaller corpus keeps it near two minutes,
    # and a smaller window keeps records from timing out merely by queueing.
    ARTICLES=8000
    WINDOW=200
    echo "note: sanitized build detected: $ARTICLES articles instead of 20000"
fi
if [ -n "${NF_E2E_SCALE:-}" ]; then
    ARTICLES=$(awk -v a="$ARTICLES" -v f="$NF_E2E_SCALE" 'BEGIN { n = int(a * f); print n < 100 ? 100 : n }')
    echo "note: NF_E2E_SCALE=$NF_E2E_SCALE: $ARTICLES articles"
fi
SEED=${NF_E2E_SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$SEED
echo "seed $SEED (rerun with NF_E2E_SEED=$SEED)"

python3 "$TOOL" "$T/corpus" --articles "$ARTICLES" >/dev/null || fail "make_corpus.py failed"
IN=$(realpath "$T/corpus/articles")
inputs=$(find "$IN" -type f | wc -l)
assert_eq "$inputs" "$ARTICLES" "the corpus has $ARTICLES files"

# A short acknowledgement timeout brings lost records back quickly; the window is kept small
# enough that a record in flight is normally acknowledged well within that time, so resends come
# from the kills, not from queueing. max_attempts is raised because every restart of the
# source counts as one more attempt for all it has in flight: the test is about losing nothing,
# not about when to give up on a record.
CFG="$T/chaos.cfg"
cat >"$CFG" <<CFG
state_dir = "$T/var";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$IN"; window = $WINDOW;
            ack_timeout_ms = ${NF_CHAOS_ACK_MS:-2000}; max_attempts = 50; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; workers = 2; };
  extract = { plugin = "extract_meta"; inputs = ["clean"];
              gazetteer = "$NF_SOURCE_DIR/conf/gazetteer.tsv"; };
  dedup = { plugin = "dedup"; inputs = ["extract"]; in_read_order = true; };
  story = { plugin = "story"; inputs = ["dedup"]; in_read_order = true; };
  store = { plugin = "store_sqlite"; inputs = ["story"]; path = "$T/db"; };
};
CFG
DB="$T/db"
LOG="$T/log"
"$NF" run "$CFG" --once >"$LOG" 2>&1 &
SUP=$!
PIDS+=("$SUP")

TARGETS=("fetch --worker 0" "clean --worker 0" "clean --worker 1" "extract --worker 0"
         "dedup --worker 0" "story --worker 0" "store --worker 0")
declare -A KILLS=()
kills=0
finished() { ! kill -0 "$SUP" 2>/dev/null || grep -q "every source is exhausted" "$LOG"; }
# Sleeps 100-499 ms, in a way that the seed decides: the whole run takes a few seconds once the
# ordered stages take most records as they arrive (read_prev), and 200-999 ms let it finish
# after four kills.
nap() { sleep "0.$(( RANDOM % 400 + 100 ))"; }
# Kills one worker of TARGET; waits a little for it to come back if it is being restarted.
kill_one() {
    local pat="newsflow stage $CFG $1" pid until=$((SECONDS + 5))
    while ! pid=$(pgrep -f -- "$pat" | head -1) || [ -z "$pid" ]; do
        finished && return 1
        [ $SECONDS -ge $until ] && return 1
        sleep 0.1
    done
    finished && return 1
    kill -KILL "$pid" 2>/dev/null || return 1
    KILLS[$1]=$(( ${KILLS[$1]:-0} + 1 ))
    kills=$((kills + 1))
    echo "  killed ${1/ --worker /[}] (pid $pid) at ${SECONDS}s"
}
# Let some records reach the store first, so the kills land mid-stream.
has_rows() { [ "$(sql "$DB" "select count(*) > 0 from articles" 2>/dev/null)" = 1 ]; }
wait_for 60 has_rows || { tail -30 "$LOG"; fail "nothing was stored within 60 s"; }
for ((round = 0; round < ROUNDS; round++)); do
    order=("${TARGETS[@]}")
    for ((i = ${#order[@]} - 1; i > 0; i--)); do # Fisher-Yates with the seeded RANDOM
        j=$((RANDOM % (i + 1)))
        tmp=${order[i]}; order[i]=${order[j]}; order[j]=$tmp
    done
    for target in "${order[@]}"; do
        nap
        finished && break 2
        kill_one "$target"
    done
done
echo "kills: $kills ($(for t in "${TARGETS[@]}"; do printf '%s=%s ' "${t/ --worker /[}]" "${KILLS[$t]:-0}"; done))"

# Bounded: a run that hangs fails here, and the cleanup stops it.
until=$((SECONDS + 300))
while kill -0 "$SUP" 2>/dev/null; do
    [ $SECONDS -ge $until ] && { grep -v resending "$LOG" | tail -40; fail "the run did not finish within 300 s"; }
    sleep 0.2
done
wait "$SUP"; rc=$?
[ "$rc" = 0 ] || { grep -v resending "$LOG" | tail -40; fail "newsflow run --once exited $rc"; }
ok "the run finished by itself after $kills kills"
grep -o "every source is exhausted and acknowledged after [0-9.]* s" "$LOG"
[ "$kills" -ge 6 ] || fail "only $kills kills landed before the input was done: the test proved little"

# What reached the store, against what was put in.
find "$IN" -type f | sed 's|^|file://|' | sort >"$T/expected"
sql "$DB" "select source_uri from articles" | sort >"$T/stored"
rows=$(sql "$DB" "select count(*) from articles")
distinct=$(sql "$DB" "select count(distinct source_uri) from articles")
ids=$(sql "$DB" "select count(distinct id) from articles")
missing=$(comm -23 "$T/expected" "$T/stored" | wc -l)
extra=$(comm -13 "$T/expected" "$T/stored" | wc -l)
twice=$(uniq -d "$T/stored" | wc -l)
dlq=0
[ -f "$T/var/deadletter.db" ] && dlq=$(sql "$T/var/deadletter.db" "select count(*) from dead_letters")
resends=$(sed -n 's/.*fetch\[0\]: resent \([0-9]*\) records.*/\1/p' "$LOG" | awk '{s += $1} END {print s + 0}')
recovered=$(sed -n 's/.*fetch\[0\]: recovered \([0-9]*\) unacknowledged.*/\1/p' "$LOG" |
            awk '{ n += $1 } END { print n + 0 }')
restarts=$(grep -c "killed by signal 9; restarting" "$LOG")
echo "inputs $inputs, stored $rows, distinct uris $distinct, distinct ids $ids, missing $missing," \
     "extra $extra, stored twice $twice, dead letters $dlq, resent on timeout $resends," \
     "recovered from the journal $recovered, kills $kills, restarts logged $restarts"
want=${NF_CHAOS_MIN_RESENDS:-0}
[ "$resends" -ge "$want" ] ||
    fail "only $resends records were resent on timeout ($want wanted): the test proved little"
if [ "$missing" != 0 ] || [ "$extra" != 0 ] || [ "$twice" != 0 ]; then
    comm -3 "$T/expected" "$T/stored" | head -20 >&2
fi
assert_eq "$missing" 0 "no input file is missing from the store"
assert_eq "$extra" 0 "no row comes from anything but an input file"
assert_eq "$twice" 0 "no source uri is stored twice"
assert_eq "$rows" "$inputs" "one row per input file"
assert_eq "$distinct" "$rows" "distinct source uris = rows"
assert_eq "$ids" "$rows" "distinct ids = rows"
if [ "$dlq" != 0 ]; then
    "$NF" dlq list "$CFG" >&2
    fail "$dlq records were dead-lettered"
fi
ok "nothing dead-lettered"
# dedup is killed too: a replayed record must get the verdict it got before, so no article
# ends up a copy of itself, of a missing article, or of its own copy.
dups=$(sql "$DB" "select count(*) from articles where dup_of is not null")
bad=$(sql "$DB" "select count(*) from articles a where a.dup_of = a.id
    or (a.dup_of is not null and not exists (select 1 from articles b where b.id = a.dup_of))
    or exists (select 1 from articles b where b.id = a.dup_of and b.dup_of = a.id)")
echo "marked as copies: $dups"
assert_eq "$bad" 0 "every dup_of names another stored article that is not its copy"
# A worker that a sanitizer stops is just restarted by the supervisor: look for its report.
if grep -E "AddressSanitizer|LeakSanitizer|runtime error:" "$LOG" >&2; then
    fail "a sanitizer reported an error"
fi

# fetch_dir reads its one shard in file name order: the article read first of a group is the
# one with the smallest source uri. Each copy group's original (dup_of of its copies) and each
# story's id must be that article, whatever order the workers delivered them in.
first_read() { # DB COLUMN: groups whose name is not their member read first
    sql "$1" "select count(*) from (select $2 g, min(source_uri) m from articles group by g) x
        join articles r on r.id = x.g where r.source_uri != x.m"
}
assert_eq "$(first_read "$DB" "coalesce(dup_of, id)")" 0 \
    "every copy points at the article of its group read first"
assert_eq "$(first_read "$DB" "story_id")" 0 "every story is named after its article read first"

# The same input again, without faults, one clean worker and two extract workers.
sed -e "s|$T/var|$T/var2|; s|path = \"$T/db\"|path = \"$T/db2\"|" \
    -e 's|workers = 2;|workers = 1;|' -e 's|inputs = \["clean"\];|inputs = ["clean"]; workers = 2;|' \
    "$CFG" >"$T/calm.cfg"
grep -q "db2" "$T/calm.cfg" && grep -q 'workers = 2;' "$T/calm.cfg" || fail "the calm config was not made"
t0=$SECONDS
"$NF" run "$T/calm.cfg" --once >"$T/calm.log" 2>&1 &
CALM=$!
PIDS+=("$CALM")
until=$((SECONDS + 300))
while kill -0 "$CALM" 2>/dev/null; do
    [ $SECONDS -ge $until ] && { tail -20 "$T/calm.log"; fail "the run without faults did not finish within 300 s"; }
    sleep 0.2
done
wait "$CALM" || { tail -20 "$T/calm.log"; fail "the run without faults failed"; }
ok "the run without faults took $((SECONDS - t0)) s"
DB2="$T/db2"
assert_eq "$(sql "$DB2" "select count(*) from articles")" "$inputs" "the run without faults stored every article"
assert_eq "$(first_read "$DB2" "coalesce(dup_of, id)")" 0 \
    "without faults too, every copy points at the article of its group read first"
assert_eq "$(first_read "$DB2" "story_id")" 0 \
    "without faults too, every story is named after its article read first"
cmp_runs() { # WHAT: articles whose WHAT differs between the two runs
    sql "$DB" "attach '$DB2' as calm; select count(*) from articles a join calm.articles b
        on b.id = a.id where a.$1 is not b.$1"
}
dup_diff=$(cmp_runs dup_of)
story_diff=$(cmp_runs story_id)
stories=$(sql "$DB" "select count(distinct story_id) from articles")
stories2=$(sql "$DB2" "select count(distinct story_id) from articles")
echo "copies $dups and $(sql "$DB2" "select count(*) from articles where dup_of is not null") marked;" \
     "dup_of differs for $dup_diff articles; stories $stories and $stories2;" \
     "story_id differs for $story_diff articles"
if [ "$dup_diff" != 0 ]; then
    sql "$DB" "attach '$DB2' as calm; select a.source_uri, a.dup_of, b.dup_of from articles a
        join calm.articles b on b.id = a.id where a.dup_of is not b.dup_of limit 10" >&2
fi
assert_eq "$dup_diff" 0 "the run with faults and the run without give every article the same dup_of"
# dedup and story take records in read order (in_read_order), so the workers before them and
# their kills do not decide what each sees first; a story worker killed starts again from its
# snapshot, which keeps its state as it was, and its log: the story groups are the same too.
if [ "$story_diff" != 0 ]; then
    sql "$DB" "attach '$DB2' as calm; select a.source_uri, a.story_id, b.story_id from articles a
        join calm.articles b on b.id = a.id where a.story_id is not b.story_id limit 10" >&2
fi
assert_eq "$story_diff" 0 "the run with faults and the run without put every article in the same story"
echo "all passed"
