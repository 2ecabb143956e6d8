#!/usr/bin/env bash
# A source that can read its input again keeps its in-flight records without their bytes and
# reads the file again to resend one. When the file is gone by then, the record is not
# dead-lettered at once: its first send may only be held up, and would then be stored as well.
# It waits as a resend would: acknowledged in time, it is stored once and nothing is
# dead-lettered; not acknowledged after max_attempts, it goes to the dead-letter store with the
# reason. (In that second case the first send, held up for longer than every attempt, is stored
# too once the store goes on: the dead letter says the resend could not be made.)
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/in"
for i in 1 2 3; do cp "$NF_SOURCE_DIR"/conf/sample/00${i}_*.txt "$T/in/a$i.txt"; done
cat >"$T/g.cfg" <<CFG
state_dir = "$T/var";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; watch = true; ack_timeout_ms = 300; max_attempts = 5; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; };
  store = { plugin = "store_sqlite"; inputs = ["clean"]; path = "$T/db"; flush_ms = 50; };
};
CFG
"$NF" run "$T/g.cfg" >"$T/log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
rows() { [ "$(sql "$T/db" "select count(*) from articles" 2>/dev/null)" = "$1" ]; }
wait_for 30 rows 3 || { cat "$T/log"; fail "the first articles were not stored"; }
store=$(pgrep -f "newsflow stage $T/g.cfg store --worker 0") || fail "no store worker"
dead() { "$NF" dlq list "$T/g.cfg" 2>/dev/null | grep -q "cannot read the input again to resend it"; }
# sent N: the source has read and sent at least N records (newsflow top's out column), so that a
# file removed after it is removed from under a record in flight
sent() { "$NF" top "$T/g.cfg" 2>/dev/null | awk -v n="$1" '$1 == "fetch" && $2 == 0 { ok = $5 >= n } END { exit !ok }'; }
add() { # NAME SAMPLE [EXTRA LINE]: a file renamed into the watched directory
    cp "$NF_SOURCE_DIR"/conf/sample/$2_*.txt "$T/in/.t" && echo "${3:-}" >>"$T/in/.t" && mv "$T/in/.t" "$T/in/$1"
}

# Held up, not lost: the store stops for less than the attempts take.
kill -STOP "$store"
add held.txt 004 "Held."
wait_for 20 sent 4 || { kill -CONT "$store"; cat "$T/log"; fail "the source did not send the new file's record"; }
rm "$T/in/held.txt"
tried() { grep -q "cannot read .* again to resend it" "$T/log"; }
wait_for 20 tried || { kill -CONT "$store"; cat "$T/log"; fail "no resend was tried for the record whose file went"; }
ok "a resend of the record whose file is gone is not possible, and it is not dead-lettered for it"
kill -CONT "$store"
wait_for 30 rows 4 || { cat "$T/log"; fail "the held record was not stored"; }
sleep 2 # past the attempts that are left
dead && { "$NF" dlq list "$T/g.cfg"; fail "a record stored in time was dead-lettered as well"; }
assert_eq "$(sql "$T/db" "select count(*) from articles where source_uri like '%held.txt'")" 1 \
    "the record whose first send was only held up is stored once, and not dead-lettered"

# Held up for longer than every attempt: dead-lettered with the reason.
kill -STOP "$store"
add gone.txt 002 "Gone."
add kept.txt 000 "Kept."
wait_for 20 sent 6 || { kill -CONT "$store"; cat "$T/log"; fail "the source did not send the new files' records"; }
rm "$T/in/gone.txt"
wait_for 30 dead || { kill -CONT "$store"; "$NF" dlq list "$T/g.cfg"; cat "$T/log"; fail "no dead letter for the record whose file went"; }
ok "the record whose file is gone is dead-lettered with the reason after its attempts"
"$NF" dlq list "$T/g.cfg" >"$T/dlq"
assert_contains "$T/dlq" "gone.txt" "the dead letter names the file"
assert_contains "$T/dlq" "not acknowledged after 5 attempts" "the dead letter says how long it waited"
kill -CONT "$store"
wait_for 30 rows 6 || { cat "$T/log"; fail "the articles queued for the store were not stored"; }
assert_eq "$(sql "$T/db" "select count(*) from articles where source_uri like '%kept.txt'")" 1 "the other article is stored"
kill -TERM "$SUP"
wait "$SUP" || fail "the supervisor did not exit 0"
echo "all passed"
