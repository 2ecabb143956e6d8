#!/usr/bin/env bash
# A source that can read its input again keeps its in-flight records without their bytes and
# reads the file again to resend one. When the file is gone by then, the resend goes to the
# dead-letter store with the reason, and the rest is stored. (Its first send, queued for the
# stopped store, is stored too once the store goes on: the dead letter says a resend failed.)
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/in"
for i in 1 2 3; do cp "$NF_SOURCE_DIR"/conf/sample/00${i}_*.txt "$T/in/a$i.txt"; done
cat >"$T/g.cfg" <<CFG
state_dir = "$T/var";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; watch = true; ack_timeout_ms = 300; max_attempts = 1000; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; };
  store = { plugin = "store_sqlite"; inputs = ["clean"]; path = "$T/db"; flush_ms = 50; };
};
CFG
"$NF" run "$T/g.cfg" >"$T/log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
rows() { [ "$(sql "$T/db" "select count(*) from articles" 2>/dev/null)" = "$1" ]; }
wait_for 30 rows 3 || { cat "$T/log"; fail "the first articles were not stored"; }
# the store stops taking records: what fetch sends now is not acknowledged and will be resent
store=$(pgrep -f "newsflow stage $T/g.cfg store --worker 0") || fail "no store worker"
kill -STOP "$store"
cp "$NF_SOURCE_DIR"/conf/sample/004_*.txt "$T/in/.t" && mv "$T/in/.t" "$T/in/gone.txt"
cp "$NF_SOURCE_DIR"/conf/sample/000_*.txt "$T/in/.t" && echo "Kept." >>"$T/in/.t" && mv "$T/in/.t" "$T/in/kept.txt"
sleep 0.5
rm "$T/in/gone.txt"
dead() { "$NF" dlq list "$T/g.cfg" 2>/dev/null | grep -q "cannot read the input again to resend it"; }
wait_for 20 dead || { kill -CONT "$store"; "$NF" dlq list "$T/g.cfg"; cat "$T/log"; fail "no dead letter for the record whose file went"; }
ok "the record whose file is gone is dead-lettered with the reason"
"$NF" dlq list "$T/g.cfg" >"$T/dlq"
assert_contains "$T/dlq" "gone.txt" "the dead letter names the file"
kill -CONT "$store"
wait_for 30 rows 5 || { cat "$T/log"; fail "the articles queued for the store were not stored"; }
assert_eq "$(sql "$T/db" "select count(*) from articles where source_uri like '%kept.txt'")" 1 "the other article is stored"
kill -TERM "$SUP"
wait "$SUP" || fail "the supervisor did not exit 0"
echo "all passed"
