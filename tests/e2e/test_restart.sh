#!/usr/bin/env bash
# A long-running pipeline: a worker killed with SIGKILL is restarted by the supervisor and the
# pipeline goes on; SIGTERM drains and stops everything.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/in"
cp "$NF_SOURCE_DIR"/conf/sample/00[0-2]_*.txt "$T/in/"
cat >"$T/svc.cfg" <<CFG
state_dir = "$T/var";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; watch = true; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; workers = 2; };
  store = { plugin = "store_sqlite"; inputs = ["clean"]; path = "$T/db"; flush_ms = 50; };
};
CFG
"$NF" run "$T/svc.cfg" >"$T/log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
rows() { [ "$(sql "$T/db" "select count(*) from articles" 2>/dev/null)" = "$1" ]; }
wait_for 30 rows 3 || { cat "$T/log"; fail "the first three articles were not stored"; }
ok "three articles stored by the running service"
victim=$(pgrep -f "newsflow stage $T/svc.cfg clean --worker 0") || fail "no clean[0] worker found"
kill -KILL "$victim"
restarted() { p=$(pgrep -f "newsflow stage $T/svc.cfg clean --worker 0") && [ "$p" != "$victim" ]; }
wait_for 20 restarted || { cat "$T/log"; fail "clean[0] was not restarted"; }
assert_contains "$T/log" "clean[0] killed by signal 9; restarting" "the supervisor logged the restart"
# The restarted pipeline keeps working: new files are picked up and stored.
for f in "$NF_SOURCE_DIR"/conf/sample/00[34]_*.txt; do
    cp "$f" "$T/in/.tmp" && mv "$T/in/.tmp" "$T/in/$(basename "$f")"
done
wait_for 60 rows 5 || { cat "$T/log"; fail "articles written after the restart were not stored"; }
ok "articles arriving after the restart are stored"
kill -TERM "$SUP"
wait_for 30 sh -c "! kill -0 $SUP" || fail "the supervisor did not stop on SIGTERM"
wait "$SUP"; rc=$?
assert_eq "$rc" 0 "the supervisor exits 0 after SIGTERM"
pgrep -f "newsflow stage $T/svc.cfg" >/dev/null && fail "workers outlived the supervisor"
ok "no worker left behind"
echo "all passed"
