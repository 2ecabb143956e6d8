#!/usr/bin/env bash
# Hostile input on the wire: malformed msgpack, truncated frames and random bytes sent straight
# to a running stage's inbox (as any process that can reach the socket could), and garbage sent
# to a source's acknowledgement socket. Each bad message is dead-lettered with its reason and
# counted; no worker crashes or restarts; a record from an outside producer without delivery
# fields is stored, one whose id is not the schema's 32 hex digits is refused where it enters;
# the pipeline keeps storing new articles and stops cleanly on SIGTERM.
. "$(dirname "$0")/lib.sh"
INJECT="$NF_BUILD_DIR/tests/tools/nf_inject"
[ -x "$INJECT" ] || fail "$INJECT not built"
mkdir -p "$T/in"
cp "$NF_SOURCE_DIR"/conf/sample/000_*.txt "$T/in/"
cat >"$T/svc.cfg" <<CFG
state_dir = "$T/var";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; watch = true; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; };
  store = { plugin = "store_sqlite"; inputs = ["clean"]; path = "$T/db"; flush_ms = 50; };
};
CFG
"$NF" run "$T/svc.cfg" >"$T/log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
rows() { [ "$(sql "$T/db" "select count(*) from articles" 2>/dev/null)" = "$1" ]; }
wait_for 30 rows 1 || { cat "$T/log"; fail "the first article was not stored"; }
ok "the service is running and storing"
clean_pid=$(pgrep -f "newsflow stage $T/svc.cfg clean --worker 0") || fail "no clean[0] worker"
fetch_pid=$(pgrep -f "newsflow stage $T/svc.cfg fetch --worker 0") || fail "no fetch[0] worker"

INBOX="ipc://$T/var/run/clean-0.in"
ACKS="ipc://$T/var/run/fetch-0.ack"
OUTSIDE=0123456789abcdef0123456789abcd01
BEFORE=0123456789abcdef0123456789abcd02
BODY="An outside producer sent this article straight into the cleaning stage. It has no delivery fields, so nobody waits for its acknowledgement, but it is processed and stored like any other."
# Each -m ends one message. Hex: 81 = map of 1, a4 = str of 4, 91 = array of 1, c0 = nil,
# c1 = a byte msgpack never uses, dd/df = array/map with a 32-bit count.
"$INJECT" "$INBOX" \
    -r 4096 -m \
    -j "{\"id\": \"ext-truncated\", \"text\": \"$BODY\"}" -c 20 -m \
    -j "{\"id\": \"$BEFORE\", \"text\": \"$BODY\"}" -x 'c1 ff 00 13' -m \
    -j "{\"id\": \"ext-not-an-id\", \"text\": \"$BODY\"}" -m \
    -j "{\"id\": \"ext-int-title\", \"title\": 42, \"text\": \"$BODY\"}" -m \
    -j "{\"v\": 2, \"id\": \"ext-v2\", \"text\": \"$BODY\"}" -m \
    -x 'df ffffffff' -x 'a2 6964 a3 616263' -m \
    -x '82 a2 6964 a3 616263 a8 656e746974696573 dd ffffffff 00 00' -m \
    -x '81 a4 64656570' -p 91 200 -x c0 -m \
    -x '93 01 02 03' -m \
    -j "{\"id\": \"$OUTSIDE\", \"source\": {\"uri\": \"test://outside/1\", \"kind\": \"test\"}, \"content_type\": \"text/plain\", \"text\": \"$BODY\"}" \
    || fail "nf_inject could not send to the inbox"
ok "hostile messages sent to the inbox of clean"
"$INJECT" "$ACKS" -r 100 -m -x 'dd ffffffff 01' -m -x '92 91 01 01' -m \
    -x '92 cf ffffffffffffffff 01' -m -x '93 01 01 01' -m -x 'de 0001 a1 61 01' \
    || fail "nf_inject could not send to the acknowledgement socket"
ok "garbage sent to the acknowledgement socket of fetch"
# well-formed acknowledgements of records fetch never sent (seq 12345, 2 and 3): ignored, counted
"$INJECT" "$ACKS" -x '92 cd 3039 01' -m -x '94 02 01 03 01' \
    || fail "nf_inject could not send to the acknowledgement socket"

# The pipeline still works: a file dropped now is stored, with the outside record.
cp "$NF_SOURCE_DIR"/conf/sample/001_*.txt "$T/in/.tmp" && mv "$T/in/.tmp" "$T/in/late.txt"
late() { [ "$(sql "$T/db" "select count(*) from articles where source_uri = 'file://$T/in/late.txt'")" = 1 ]; }
wait_for 30 late || { cat "$T/log"; fail "the file dropped after the hostile input was not stored"; }
ok "a file dropped after the hostile input is stored"
assert_eq "$(sql "$T/db" "select count(*) from articles where id = '$OUTSIDE' and source_uri = 'test://outside/1'")" 1 \
    "a record without delivery fields from an outside producer is stored"
assert_eq "$(sql "$T/db" "select count(*) from articles where id = '$BEFORE'")" 1 \
    "the good record before the garbage in its message is stored"
assert_eq "$(sql "$T/db" "select count(*) from articles where id like 'ext-%' or id like '0123456789abcdef%'")" 2 \
    "no malformed record was stored"

dl="$T/var/deadletter.db"
dead() { [ "$(sql "$dl" "select count(*) from dead_letters" 2>/dev/null)" = "$1" ]; }
wait_for 10 dead 10 || { sql "$dl" "select stage, id, error from dead_letters"; fail "expected 10 dead letters"; }
assert_eq "$(sql "$dl" "select count(*) from dead_letters where stage = 'clean' and error like 'malformed record at byte %' and length(record) > 0")" 9 \
    "each bad message is a dead letter of clean with a 'malformed record' reason and its bytes"
assert_eq "$(sql "$dl" "select count(*) from dead_letters where stage = 'clean' and id = 'ext-not-an-id' and error = 'the record''s id is not 32 hex digits'")" 1 \
    "a record whose id is not 32 hex digits is refused by the first stage it reaches"
sql "$dl" "select error from dead_letters order by n" >"$T/reasons"
for why in "field 'title' is a msgpack int" "unsupported schema version 2" \
    "record map declares 4294967295 keys" "truncated or invalid value of 'entities'" \
    "nest deeper than 32 levels" "record is a msgpack array, not a map" \
    "truncated or invalid value of 'text'"; do
    assert_contains "$T/reasons" "$why" "reason: $why"
done
grep -Eq "^malformed record at byte [1-9][0-9]* of a [0-9]+-byte message: record starts with 0xc1" "$T/reasons" ||
    fail "the garbage after a good record is not dead-lettered from its own offset"
ok "the garbage after a good record is dead-lettered from its offset"

[ "$(pgrep -f "newsflow stage $T/svc.cfg clean --worker 0")" = "$clean_pid" ] || fail "clean[0] was replaced"
[ "$(pgrep -f "newsflow stage $T/svc.cfg fetch --worker 0")" = "$fetch_pid" ] || fail "fetch[0] was replaced"
ok "the same clean and fetch workers are still running"

kill -TERM "$SUP"
wait_for 30 sh -c "! kill -0 $SUP" || fail "the supervisor did not stop on SIGTERM"
wait "$SUP"; rc=$?
assert_eq "$rc" 0 "the supervisor exits 0 after SIGTERM"
assert_contains "$T/log" "clean[0]: counts:" "clean logged its counts"
grep -E "clean\[0\]: counts: .*malformed=10( |$)" "$T/log" >/dev/null || { grep counts "$T/log"; fail "clean does not count 10 malformed records"; }
ok "clean counts malformed=10"
grep -E "fetch\[0\]: counts: .*bad_ack=6( |$)" "$T/log" >/dev/null || { grep counts "$T/log"; fail "fetch does not count 6 bad acknowledgements"; }
ok "fetch counts bad_ack=6"
n=$(sed -n 's/.*fetch\[0\]: counts: .*acks_ignored=\([0-9]*\).*/\1/p' "$T/log")
[ "${n:-0}" -ge 3 ] || { grep counts "$T/log"; fail "fetch does not count the 3 acknowledgements of records it never sent"; }
ok "fetch ignores and counts acknowledgements of records it never sent ($n)"
assert_contains "$T/log" "ignored a malformed acknowledgement" "bad acknowledgements are logged"
if grep -E "killed by signal|restarting|exited with status" "$T/log"; then fail "a worker crashed or restarted"; fi
ok "no worker crashed or restarted"
pgrep -f "newsflow stage $T/svc.cfg" >/dev/null && fail "workers outlived the supervisor"
if grep -E "Sanitizer|runtime error:" "$T/log"; then fail "a sanitizer reported an error"; fi
echo "all passed"
