#!/usr/bin/env bash
# The pipeline as a long-running service: one pipeline per state directory, a reload that cannot
# hurt (a config with a mistake is refused and the pipeline runs on unchanged; a good one adds a
# stage, rewires, scales a stage and changes an option, restarting only what changed), workers
# that end with their supervisor, a restart that recovers with nothing lost, and private state
# whatever the umask.
. "$(dirname "$0")/lib.sh"
umask 000
mkdir -p "$T/in"
N=0
drop() { # drop COUNT: new distinct articles into the watched directory
    for _ in $(seq "$1"); do
        N=$((N + 1))
        { cat "$NF_SOURCE_DIR"/conf/sample/000_*.txt; echo "Item $N of the service test."; } >"$T/in/.tmp"
        mv "$T/in/.tmp" "$T/in/a$N.txt"
    done
}
write_cfg() { # write_cfg CLEAN_WORKERS EXTRA_STAGE_LINES STORE_INPUT [TYPO]
    cat >"$T/svc.cfg.new" <<CFG
state_dir = "$T/var";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; watch = true; ack_timeout_ms = 2000; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; workers = $1; ${4:-} };
  $2
  store = { plugin = "store_sqlite"; inputs = ["$3"]; path = "$T/db"; flush_ms = 50; };
};
CFG
    mv "$T/svc.cfg.new" "$T/svc.cfg"
}
write_cfg 1 "" clean
drop 20
"$NF" run "$T/svc.cfg" >"$T/log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
rows() { [ "$(sql "$T/db" "select count(*) from articles" 2>/dev/null)" = "$1" ]; }
wait_for 30 rows 20 || { cat "$T/log"; fail "the first 20 articles were not stored"; }
ok "the service runs and stores"

# One pipeline per state directory.
"$NF" run "$T/svc.cfg" >"$T/second.log" 2>&1
assert_eq "$?" 2 "a second run on the same state directory exits 2"
assert_contains "$T/second.log" "in use by another pipeline (supervisor pid $SUP" \
    "the second run names the pid that holds the state directory"

# Private state under umask 000.
assert_eq "$(stat -c %a "$T/var")" 700 "state_dir is 0700 under umask 000"
assert_eq "$(stat -c %a "$T/var/run")" 700 "run_dir is 0700"
assert_eq "$(stat -c %a "$T/var/deadletter.db" 2>/dev/null || echo 600)" 600 "the dead-letter store is 0600"
for s in "$T"/var/run/*.in "$T"/var/run/*.ack; do
    [ "$(stat -c %a "$s")" = 700 ] || [ "$(stat -c %a "$s")" = 600 ] ||
        fail "socket $s is $(stat -c %a "$s")"
done
ok "the sockets are private"
mkdir -m 777 "$T/open" && chmod 777 "$T/open"
"$NF" run "$T/svc.cfg" --set "state_dir=$T/open" --once >"$T/open.log" 2>&1
assert_eq "$?" 2 "a state directory others can write is refused"
assert_contains "$T/open.log" "writable by every user (mode 0777)" "the refusal says why"

fetch_pid=$(pgrep -f "newsflow stage $T/svc.cfg fetch --worker 0") || fail "no fetch worker"
clean_pid=$(pgrep -f "newsflow stage $T/svc.cfg clean --worker 0") || fail "no clean worker"

# A reload with a mistake: refused with file:line, nothing restarted.
write_cfg 1 "" clean 'min_char = 2;'
"$NF" reload "$T/svc.cfg" >"$T/reload1.out" 2>&1
assert_eq "$?" 1 "newsflow reload of a config with a misspelt option exits 1"
assert_contains "$T/reload1.out" "$T/svc.cfg:4" "the refusal names the file and line"
assert_contains "$T/reload1.out" "min_char" "the refusal names the option"
kill -HUP "$SUP"
wait_for 10 grep -q "reload refused, the pipeline runs on unchanged" "$T/log" ||
    fail "SIGHUP with a bad config was not refused"
ok "SIGHUP with the bad config is refused and logged"
drop 10
wait_for 30 rows 30 || { cat "$T/log"; fail "the pipeline stopped storing after a refused reload"; }
assert_eq "$(pgrep -f "newsflow stage $T/svc.cfg clean --worker 0")" "$clean_pid" \
    "clean still runs the same worker after the refused reload"

# A good reload under load: a stage added and rewired, clean scaled 1 -> 3 with an option changed.
drop 40 &
DROPPER=$!
write_cfg 3 'pass = { plugin = "filter_pass"; inputs = ["clean"]; };' pass 'min_chars = 2;'
"$NF" reload "$T/svc.cfg" >"$T/reload2.out" 2>&1 || { cat "$T/reload2.out" "$T/log"; fail "the good reload failed"; }
wait "$DROPPER"
N=$((N + 40)) # the background drop counted in its own shell
assert_contains "$T/reload2.out" "restarted [clean store]" "the reload restarted clean and store"
assert_contains "$T/reload2.out" "added [pass]" "the reload added pass"
assert_contains "$T/reload2.out" "unchanged [fetch]" "fetch was left alone"
wait_for 60 rows 70 || { sql "$T/db" "select count(*) from articles"; cat "$T/log"; fail "not every article was stored after the reload"; }
drop 10
wait_for 60 rows 80 || { cat "$T/log"; fail "articles after the reload were not stored"; }
ok "every article was stored once, across the reload"
assert_eq "$(pgrep -f "newsflow stage $T/svc.cfg fetch --worker 0")" "$fetch_pid" \
    "the unchanged fetch worker kept running"
assert_eq "$(pgrep -fc "newsflow stage $T/svc.cfg clean --worker")" 3 "clean runs 3 workers"
pgrep -f "newsflow stage $T/svc.cfg pass --worker 0" >/dev/null || fail "no pass worker"
if grep -E "killed by signal|restarting in|exited with status" "$T/log"; then
    fail "a reload was logged as a crash"
fi
ok "no restart was logged as a crash"
assert_eq "$(sql "$T/var/deadletter.db" "select count(*) from dead_letters" 2>/dev/null || echo 0)" 0 \
    "nothing was dead-lettered"

# kill -9 of the supervisor leaves no process behind; a new run recovers.
kill -KILL "$SUP"
gone() { ! pgrep -f "newsflow stage $T/svc.cfg" >/dev/null; }
wait_for 10 gone || { pgrep -af "newsflow stage $T/svc.cfg"; fail "workers outlived a killed supervisor"; }
ok "no worker outlived the supervisor killed with SIGKILL"
drop 5
"$NF" run "$T/svc.cfg" >"$T/log2" 2>&1 &
SUP=$!
PIDS+=("$SUP")
wait_for 60 rows 85 || { cat "$T/log2"; fail "the restarted pipeline did not store what came meanwhile"; }
ok "the restarted pipeline stored what arrived while it was down"
kill -TERM "$SUP"
wait_for 30 sh -c "! kill -0 $SUP" || fail "the supervisor did not stop on SIGTERM"
wait "$SUP"
assert_eq "$?" 0 "the supervisor exits 0 after SIGTERM"
assert_eq "$(sql "$T/db" "select count(*) from articles")" 85 "85 articles, each once"
if grep -E "Sanitizer|runtime error:" "$T/log" "$T/log2"; then fail "a sanitizer reported an error"; fi
echo "all passed"
