#!/usr/bin/env bash
# A reload that could not run is refused before anything is stopped, naming the file:line: an
# input directory that is missing, or a new tcp inbox whose port another process holds. The
# pipeline runs on unchanged; once the port is free the same reload goes through.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/in"
# Below the kernel's ephemeral range (32768 and up by default), where the pipeline's own tcp
# connections take their local ports: one of them on BASE + 10 made the port holder below fail
# to bind ("Address already in use") now and then.
LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
BASE=$(python3 -c "import random; print(random.randrange(20000, min(32000, $LOW) - 20, 20))")
N=0
drop() { # drop COUNT: new distinct articles into the watched directory
    for _ in $(seq "$1"); do
        N=$((N + 1))
        { cat "$NF_SOURCE_DIR"/conf/sample/000_*.txt; echo "Item $N of the reload test."; } >"$T/in/.tmp"
        mv "$T/in/.tmp" "$T/in/a$N.txt"
    done
}
# records in flight to a worker that a reload stops are sent again after ack_timeout_ms
write_cfg() { # write_cfg EXTRA_STAGE_LINES STORE_INPUT
    cat >"$T/p.cfg.new" <<CFG
state_dir = "$T/var";
insecure = true;
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; watch = true; ack_timeout_ms = 2000; ack_endpoint = "tcp://127.0.0.1:$BASE"; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; endpoint = "tcp://127.0.0.1:$((BASE + 2))"; };
  $1
  store = { plugin = "store_sqlite"; inputs = ["$2"]; path = "$T/db"; flush_ms = 50; };
};
CFG
    mv "$T/p.cfg.new" "$T/p.cfg"
}
rows() { [ "$(sql "$T/db" "select count(*) from articles" 2>/dev/null)" = "$1" ]; }
write_cfg "" clean
drop 5
"$NF" run "$T/p.cfg" >"$T/log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
wait_for 30 rows 5 || { cat "$T/log"; fail "the first 5 articles were not stored"; }
ok "the pipeline runs over tcp"
clean_pid=$(pgrep -f "newsflow stage $T/p.cfg clean --worker 0") || fail "no clean worker"

# An input directory that is not there: refused with the option's file:line, nothing stopped.
sed "s#path = \"$T/in\"#path = \"$T/missing\"#" "$T/p.cfg" >"$T/p.cfg.new" && mv "$T/p.cfg.new" "$T/p.cfg"
if "$NF" reload "$T/p.cfg" >"$T/reload0.out" 2>&1; then
    cat "$T/reload0.out"; fail "a reload whose input directory is missing was accepted"
fi
assert_contains "$T/reload0.out" "p.cfg:4: stage 'fetch'" "the refusal names the input's file:line and stage"
assert_contains "$T/reload0.out" "$T/missing" "the refusal names the missing directory"
write_cfg "" clean

# Another process holds the port the new stage's inbox would take.
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(120)' $((BASE + 10)) &
HOLDER=$!
PIDS+=("$HOLDER")
wait_for 10 sh -c "ss -ltn | grep -q ':$((BASE + 10)) '" || fail "the port holder did not start"
write_cfg "pass = { plugin = \"filter_pass\"; inputs = [\"clean\"]; endpoint = \"tcp://127.0.0.1:$((BASE + 10))\"; };" pass
if "$NF" reload "$T/p.cfg" >"$T/reload1.out" 2>&1; then
    cat "$T/reload1.out"; fail "a reload whose inbox port is taken was accepted"
fi
ok "newsflow reload exits 1 when the new inbox's port is taken"
assert_contains "$T/reload1.out" "p.cfg:6: stage 'pass': endpoint tcp://127.0.0.1:$((BASE + 10)) cannot be bound" \
    "the refusal names the file:line, stage and endpoint"
assert_contains "$T/log" "reload refused, the pipeline runs on unchanged" "the supervisor logged the refusal"
assert_eq "$(pgrep -f "newsflow stage $T/p.cfg clean --worker 0")" "$clean_pid" "clean was not restarted"
pgrep -f "newsflow stage $T/p.cfg pass" >/dev/null && fail "a pass worker was started"
drop 5
wait_for 30 rows 10 || { cat "$T/log"; fail "the pipeline stopped storing after the refused reload"; }
ok "the pipeline stores on, unchanged"

# The port is free again: the same config reloads.
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null || true
"$NF" reload "$T/p.cfg" >"$T/reload2.out" 2>&1 || { cat "$T/reload2.out" "$T/log"; fail "the reload failed once the port was free"; }
assert_contains "$T/reload2.out" "added [pass]" "the reload added pass"
drop 5
wait_for 30 rows 15 || { cat "$T/log"; fail "articles after the reload were not stored"; }
ok "articles pass through the new stage"
kill -TERM "$SUP"
wait "$SUP" || fail "the supervisor did not exit 0"
# the store worker the reload replaced stored 10 of them: they count in the run's summary
grep -E "summary: read 15, stored 15, " "$T/log" >/dev/null || { grep summary "$T/log"; fail "the summary lost what the replaced workers did"; }
ok "the summary counts what the workers a reload replaced had done"
echo "all passed"
