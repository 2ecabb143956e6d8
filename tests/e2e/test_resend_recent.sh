#!/usr/bin/env bash
# A worker that dies under a steady flow holds records sent a moment before: not a second old
# when the sources hear of the death, they are not resent then. They are resent once they are a
# second old and still not acknowledged, instead of after ack_timeout_ms (60 s here), while the
# read-ordered dedup holds back everything read after them. Each article is stored once.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/in"
cat >"$T/r.cfg" <<CFG
state_dir = "$T/var";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; watch = true; settle_ms = 50;
            ack_timeout_ms = 60000; max_attempts = 2; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; };
  dedup = { plugin = "dedup"; inputs = ["clean"]; in_read_order = true; };
  store = { plugin = "store_sqlite"; inputs = ["dedup"]; path = "$T/db"; flush_ms = 20; };
};
CFG
add() { # FROM TO: files aFROM..aTO renamed into the watched directory
    for i in $(seq "$1" "$2"); do
        { cat "$NF_SOURCE_DIR"/conf/sample/00$((i % 5))_*.txt; echo "Article $i."; } >"$T/in/.t"
        mv "$T/in/.t" "$T/in/a$i.txt"
    done
}
rows() { [ "$(sql "$T/db" "select count(*) from articles" 2>/dev/null)" = "$1" ]; }
"$NF" run "$T/r.cfg" >"$T/log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
add 1 20
wait_for 30 rows 20 || { cat "$T/log"; fail "the first articles were not stored"; }
clean=$(pgrep -f "newsflow stage $T/r.cfg clean --worker 0") || fail "no clean worker"
# clean stops taking records; new files are read and sent into its queue; it dies with them
# while they are less than a second old
kill -STOP "$clean"
add 21 40
sleep 0.4 # the source sees the files within settle_ms (50 ms) and sends them at once
kill -KILL "$clean"
t0=$SECONDS
wait_for 20 rows 40 || { tail -20 "$T/log"; fail "the records the dead worker held waited for their acknowledgement timeout"; }
echo "stored $((SECONDS - t0)) s after the kill"
add 41 50
wait_for 20 rows 50 || { tail -20 "$T/log"; fail "the articles after the death were not stored"; }
kill -TERM "$SUP"
wait "$SUP" || { tail -20 "$T/log"; fail "the supervisor did not exit 0"; }
# (on a machine too slow to read the files within 0.4 s, they go to the next worker, and
# nothing is resent)
grep -o "resent_early=[0-9]*" "$T/log" || true
assert_eq "$(sql "$T/db" "select count(*) from articles")" 50 "every article is stored once"
dead=0
[ -f "$T/var/deadletter.db" ] && dead=$(sql "$T/var/deadletter.db" "select count(*) from dead_letters")
assert_eq "$dead" 0 "nothing is dead-lettered for the resends the death caused"
echo "all passed"
