#!/usr/bin/env bash
# Bounded input: messages over max_message sent straight to a stage's inbox are dropped by the
# socket before they are kept whole (the supervisor's and the stage's memory stay flat, nothing
# of them reaches the dead-letter store), and the pipeline goes on storing.
. "$(dirname "$0")/lib.sh"
INJECT="$NF_BUILD_DIR/tests/tools/nf_inject"
mkdir -p "$T/in"
cp "$NF_SOURCE_DIR"/conf/sample/000_*.txt "$T/in/"
cat >"$T/svc.cfg" <<CFG
state_dir = "$T/var";
max_message = "1M";
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
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
clean_pid=$(pgrep -f "newsflow stage $T/svc.cfg clean --worker 0") || fail "no clean worker"
sup0=$(hwm "$SUP")
for _ in 1 2 3; do
    "$INJECT" -w 3000 "ipc://$T/var/run/clean-0.in" -r 100000000 >/dev/null 2>&1
done
ok "three 100 MB messages sent to the inbox of clean"
cp "$NF_SOURCE_DIR"/conf/sample/001_*.txt "$T/in/.tmp" && mv "$T/in/.tmp" "$T/in/late.txt"
wait_for 30 rows 2 || { cat "$T/log"; fail "the pipeline stopped storing after the oversized messages"; }
ok "the pipeline goes on storing"
sup1=$(hwm "$SUP")
clean1=$(hwm "$clean_pid")
[ $((sup1 - sup0)) -lt 20000 ] || fail "the supervisor grew from $sup0 to $sup1 kB"
[ "$clean1" -lt 60000 ] || fail "clean's peak memory is $clean1 kB"
ok "memory stays flat: supervisor $sup0 -> $sup1 kB, clean peak $clean1 kB"
size=$(sql "$T/var/deadletter.db" "select coalesce(max(length(record)), 0) from dead_letters" 2>/dev/null || echo 0)
[ "${size:-0}" -le 1048576 ] || fail "a dead letter of $size bytes was kept"
ok "nothing over max_message was kept"
kill -TERM "$SUP"
wait "$SUP"
assert_eq "$?" 0 "the supervisor exits 0"
echo "all passed"
