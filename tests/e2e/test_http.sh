#!/usr/bin/env bash
# The operator's HTTP endpoint of a running pipeline: /metrics in the Prometheus text format
# with the workers' counts, a latency histogram and RSS; /ready; /health failing within
# health_stuck_ms when a worker is stopped (SIGSTOP) and healthy again after SIGCONT, telling a
# stopped worker from those held up by it (they wait to send to its stage); the status
# page in headless Chromium showing the same numbers as /metrics once its script has run; an
# address in use stops start-up with the reason.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is not installed (make test installs it)"
mkdir -p "$T/in"
for i in $(seq 12); do cp "$NF_SOURCE_DIR"/conf/sample/00$((i % 5))_*.txt "$T/in/a$i.txt"; done
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$T/h.cfg" <<CFG
state_dir = "$T/var";
http = "127.0.0.1:$PORT";
health_stuck_ms = 2000;
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; watch = true; ack_timeout_ms = 600000; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; workers = 2; };
  store = { plugin = "store_sqlite"; inputs = ["clean"]; path = "$T/db"; flush_ms = 50; };
};
CFG
"$NF" run "$T/h.cfg" >"$T/log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
URL="http://127.0.0.1:$PORT"
rows() { [ "$(sql "$T/db" "select count(*) from articles" 2>/dev/null)" = "$1" ]; }
wait_for 30 rows 12 || { cat "$T/log"; fail "the articles were not stored"; }
wait_for 10 curl -sf "$URL/ready" || fail "/ready did not answer 200"
ok "/ready answers 200 once every worker runs"
# the workers report their numbers every so often: the rows can be in before the count
stored() { curl -sf "$URL/metrics" | grep -q '^newsflow_worker_count_total{stage="store",worker="0",count="stored"} 12$'; }
wait_for 10 stored || { curl -s "$URL/metrics"; fail "/metrics does not count 12 stored"; }
curl -sf "$URL/metrics" >"$T/metrics" || fail "/metrics failed"
grep -q '^newsflow_worker_process_seconds_bucket{stage="clean",worker="1",le="+Inf"} ' "$T/metrics" ||
    fail "/metrics has no latency histogram for clean[1]"
grep -qE '^newsflow_worker_rss_bytes\{stage="fetch",worker="0"\} [1-9][0-9]*$' "$T/metrics" || fail "no RSS"
grep -q '^newsflow_worker_up{stage="clean",worker="1"} 1$' "$T/metrics" || fail "no up gauge"
# (the source's stats page is rewritten a few times a second: the size shows within a moment)
journal() { curl -sf "$URL/metrics" | grep -qE '^newsflow_worker_journal_bytes\{stage="fetch",worker="0"\} [1-9][0-9]*$'; }
wait_for 5 journal || fail "/metrics does not give the source's journal size"
ok "/metrics has counts, a latency histogram, RSS and up gauges"
curl -sf "$URL/status.json" >"$T/status.json" || fail "/status.json failed"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert {"stages", "dead_letters", "stories", "healthy"} <= set(d), d.keys()' "$T/status.json" ||
    fail "/status.json lacks what the page shows"
code=$(curl -s -o "$T/health" -w "%{http_code}" "$URL/health")
[ "$code" = 200 ] || { cat "$T/health"; fail "/health is $code while all is well"; }
ok "/health is 200 while all is well"

# A stopped worker: /health fails within health_stuck_ms (and a tick), then recovers.
victim=$(pgrep -f "newsflow stage $T/h.cfg clean --worker 1") || fail "no clean[1]"
kill -STOP "$victim"
t0=$SECONDS
unhealthy() { [ "$(curl -s -o "$T/health" -w '%{http_code}' "$URL/health")" = 503 ]; }
wait_for 10 unhealthy || { kill -CONT "$victim"; fail "/health did not fail with a stopped worker"; }
[ $((SECONDS - t0)) -le 6 ] || fail "/health took $((SECONDS - t0)) s to fail"
assert_contains "$T/health" "clean[1]" "/health names the stopped worker"
kill -CONT "$victim"
healthy() { [ "$(curl -s -o "$T/health" -w '%{http_code}' "$URL/health")" = 200 ]; }
wait_for 10 healthy || fail "/health did not recover after SIGCONT"
ok "/health fails within its set time for a stopped worker and recovers after SIGCONT"

# The store stopped while articles keep coming: /health names it as stopped, and the clean
# workers that wait for it as held up by stage store (alive, not hung).
victim=$(pgrep -f "newsflow stage $T/h.cfg store --worker 0") || fail "no store[0]"
kill -STOP "$victim"
# (until the queues on the way to it are full: then clean waits)
held() { curl -s "$URL/health" >"$T/health"; grep -q "to send to stage store" "$T/health"; }
late=0
for round in $(seq 20); do
    for i in $(seq 200); do
        late=$((late + 1))
        cp "$NF_SOURCE_DIR"/conf/sample/00$((late % 5))_*.txt "$T/in/.tmp" && echo "Late $late." >>"$T/in/.tmp"
        mv "$T/in/.tmp" "$T/in/b$late.txt"
    done
    wait_for 4 held && break
done
held || { kill -CONT "$victim"; cat "$T/health"; fail "/health does not say who waits for the stopped store ($late late articles)"; }
assert_contains "$T/health" "worker store[0] (pid $victim) has not moved" "/health names the stopped store"
grep -qE 'worker clean\[[01]\] has waited [0-9]+ s to send to stage store' "$T/health" ||
    { cat "$T/health"; fail "/health does not say clean waits for store"; }
if grep -q 'worker clean\[[01]\] (pid [0-9]*) has not moved' "$T/health"; then
    cat "$T/health"; fail "/health calls the waiting clean workers stopped or hung"
fi
ok "/health tells the stopped store from the clean workers held up by it"
"$NF" top "$T/h.cfg" >"$T/top" || fail "newsflow top failed"
grep -qE '^clean +[01] .* store [0-9]+\.[0-9] s$' "$T/top" || { cat "$T/top"; fail "top does not say whom clean waits for"; }
ok "top says clean waits for store"
kill -CONT "$victim"
wait_for 60 rows $((12 + late)) || { cat "$T/log"; fail "the late articles were not stored after SIGCONT"; }
wait_for 10 healthy || { cat "$T/health"; fail "/health did not recover after the store's SIGCONT"; }
ok "everything is stored and /health recovers"
# what the page must show: once the store's stats page has caught up with its rows
settled() { curl -sf "$URL/metrics" >"$T/metrics" && grep -q "^newsflow_worker_count_total{stage=\"store\",worker=\"0\",count=\"in\"} $((12 + late))\$" "$T/metrics"; }
wait_for 10 settled || { grep 'count="in"' "$T/metrics"; fail "store's count did not reach its $((12 + late)) rows"; }

# The status page in a real browser: its script fetches the numbers and draws them.
if command -v chromium >/dev/null; then
    timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$T/chromium" --virtual-time-budget=4000 --dump-dom "$URL/" \
        >"$T/dom.html" 2>"$T/chromium.log" || { tail -5 "$T/chromium.log"; fail "chromium failed"; }
    grep -q 'id="stage-store"' "$T/dom.html" || { head -c 2000 "$T/dom.html"; fail "the page drew no stage"; }
    grep -qE 'id="stage-clean"[^>]*data-workers="2"' "$T/dom.html" ||
        grep -qE 'data-workers="2"[^>]*id="stage-clean"' "$T/dom.html" || fail "the page does not show clean's 2 workers"
    stored_page=$(grep -oE '<tr id="row-store">(<td[^>]*>[^<]*</td>){5}' "$T/dom.html" | grep -oE '>[0-9,]+<' | tail -1 | tr -d '>,<')
    stored_metrics=$(sed -n 's/^newsflow_worker_count_total{stage="store",worker="0",count="in"} //p' "$T/metrics")
    assert_eq "$stored_page" "$stored_metrics" "the page shows the records store received, as /metrics counts them"
    grep -q '<span id="health" class="ok">healthy</span>' "$T/dom.html" || fail "the page does not say healthy"
    ok "the status page, run in Chromium, shows the live numbers"
else
    echo "SKIP part: chromium is not installed (make test installs it)"
fi

# The endpoint's address in use: start-up stops with the reason.
"$NF" run "$T/h.cfg" --set "state_dir=$T/var2" --set "store.path=$T/db2" >"$T/log2" 2>&1
[ $? -ne 0 ] || fail "a second pipeline on the same http address started"
assert_contains "$T/log2" "http 127.0.0.1:$PORT: cannot listen there" "an address in use is refused with the reason"
kill -TERM "$SUP"
wait "$SUP"
assert_eq "$?" 0 "the supervisor exits 0"
echo "all passed"
