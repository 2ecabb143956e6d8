#!/usr/bin/env bash
# What a finite run tells its operator: a summary line at the end (read, stored, copies,
# stories, dead letters, time, rate); a progress line with done / total, rate and ETA refreshed
# in place on a terminal; plain progress lines when stderr is not a terminal; and a run whose
# source produced nothing but failures exits non-zero.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/in" "$T/bad"
for i in $(seq 60); do cp "$NF_SOURCE_DIR"/conf/sample/00$((i % 5))_*.txt "$T/in/a$i.txt"; done
cat >"$T/p.cfg" <<CFG
state_dir = "$T/var";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; window = 4; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; };
  slow  = { plugin = "clean_text"; inputs = ["clean"]; };
  store = { plugin = "store_sqlite"; inputs = ["slow"]; path = "$T/db"; };
};
CFG
"$NF" run "$T/p.cfg" --once >"$T/log" 2>&1 || { cat "$T/log"; fail "the run failed"; }
grep -E "summary: read 60, stored 60, copies 0, stories 0, dead letters 0, [0-9.]+ s, [0-9]+ articles/s" "$T/log" >/dev/null ||
    { grep summary "$T/log"; fail "no summary line with what the run did"; }
ok "the run ends with a summary line"

# On a terminal: one line refreshed in place (carriage returns), with done / total and a rate.
if command -v script >/dev/null; then
    rm -rf "$T/var" "$T/db"
    # a slow stage (stopped for a while) keeps the run going long enough to be seen
    script -qfec "$NF run $T/p.cfg --once" "$T/tty.log" >/dev/null 2>&1 &
    RUN=$!
    PIDS+=("$RUN")
    wait_for 20 pgrep -f "newsflow stage $T/p.cfg slow --worker 0" || fail "no slow worker"
    slow=$(pgrep -f "newsflow stage $T/p.cfg slow --worker 0")
    kill -STOP "$slow"; sleep 1.5; kill -CONT "$slow"
    wait "$RUN" || { cat "$T/tty.log"; fail "the run under a terminal failed"; }
    grep -q $'\r' "$T/tty.log" || fail "no carriage return: the progress line is not refreshed in place"
    grep -aE "[0-9]+ / 60 files \([0-9.]+%\)" "$T/tty.log" >/dev/null ||
        { cat -v "$T/tty.log" | tail -5; fail "the progress line has no done / total"; }
    grep -aqE "read [0-9]+, [0-9]+/s" "$T/tty.log" || fail "the progress line has no rate"
    ok "on a terminal, one progress line with done / total and rate, refreshed in place"
else
    echo "SKIP part: no script(1) to give the run a terminal"
fi

# A source whose every input failed: the run says so and exits non-zero.
head -c 4096 /dev/urandom >"$T/bad/one.txt"
printf '\x00\x01\x02binary\x00' >"$T/bad/two.txt"
cat >"$T/bad.cfg" <<CFG
state_dir = "$T/var2";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/bad"; };
  store = { plugin = "store_sqlite"; inputs = ["fetch"]; path = "$T/db2"; };
};
CFG
"$NF" run "$T/bad.cfg" --once >"$T/bad.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] || { cat "$T/bad.log"; fail "a run whose every input failed exited 0"; }
assert_contains "$T/bad.log" "produced no record: every input it tried failed" "the failure is said"
echo "all passed"
