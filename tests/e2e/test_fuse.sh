#!/usr/bin/env bash
# Fused stages (fuse = true): clean and extract run inside the workers of pass, the record handed
# from plugin to plugin in memory. The stored articles are the same as with a worker a stage;
# only pass's workers run (at their nice); each fused stage keeps its own counters, metrics, tap and dead
# letters (filed under pass, whose input they hold, with the fused stage's reason, and replayed
# through pass); a fused stage cannot be started on its own; a reload that unfuses a stage
# restarts the chain's workers and the flow goes on.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 not installed"

# write_cfg NAME FUSE: a watching pipeline under $T/NAME, clean and extract fused or not
write_cfg() {
    local d="$T/$1"
    mkdir -p "$d/in"
    cat >"$d/p.cfg" <<CFG
state_dir = "$d/var";
metrics_dir = "$d/metrics";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$d/in"; watch = true; };
  pass = { plugin = "filter_pass"; inputs = ["fetch"]; nice = 3; };
  clean = { plugin = "clean_text"; inputs = ["pass"]; fuse = $2; };
  extract = { plugin = "extract_meta"; inputs = ["clean"]; fuse = $2;
              gazetteer = "$NF_SOURCE_DIR/conf/gazetteer.tsv"; };
  store = { plugin = "store_sqlite"; inputs = ["extract"]; path = "$d/db"; flush_ms = 50; };
};
CFG
}
rows() { sql "$1" "select count(*) from articles" 2>/dev/null; }
has_rows() { [ "$(rows "$1")" = "$2" ]; }
dead() { sql "$T/f/var/deadletter.db" "$1" 2>/dev/null; }
has_dead() { [ "$(dead "select count(*) from dead_letters")" = "$1" ]; }

# A stage with state (dedup flushes its index before what it judged goes on) cannot be fused:
# refused at start-up with the stage's file:line, before any worker starts.
cat >"$T/bad.cfg" <<CFG
state_dir = "$T/bad";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$NF_SOURCE_DIR/conf/sample"; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; };
  sign = { plugin = "minhash"; inputs = ["clean"]; fuse = true; };
  dedup = { plugin = "dedup"; inputs = ["sign"]; fuse = true; };
  store = { plugin = "store_jsonl"; inputs = ["dedup"]; path = "$T/bad.jsonl"; };
};
CFG
timeout 60 "$NF" run "$T/bad.cfg" --once >"$T/bad.log" 2>&1
assert_eq "$?" 2 "a fused stage with state stops start-up (exit 2)"
assert_contains "$T/bad.log" "bad.cfg:6: stage 'dedup': fuse is for a filter without state" \
    "the refusal names the file:line and the stage"
"$NF" check "$T/bad.cfg" >"$T/check.out" 2>&1 && fail "newsflow check accepted it"
assert_contains "$T/check.out" "stage 'dedup': fuse is for a filter without state" "newsflow check refuses it too"

# The same articles through both: one run unfused (--once), one fused and watching.
write_cfg u false
cp "$NF_SOURCE_DIR"/conf/sample/00[0-4]_*.txt "$T/u/in/"
printf 'Advertisement\n' >"$T/u/in/ad.txt"
timeout 120 "$NF" run "$T/u/p.cfg" --once --set fetch.watch=false >"$T/u.log" 2>&1 ||
    { cat "$T/u.log"; fail "the unfused run failed"; }
# What clean dead-lettered in its own workers holds clean's input: once clean is fused, a replay
# would hand it to pass, so it is skipped, with what to do.
sed 's/fuse = false/fuse = true/' "$T/u/p.cfg" >"$T/u/fused.cfg"
"$NF" dlq replay "$T/u/fused.cfg" --stage clean >"$T/u.replay" 2>&1
assert_contains "$T/u.replay" "stage clean is fused into the workers of pass now" \
    "a dead letter of clean from before it was fused is not replayed through pass"
assert_eq "$(sql "$T/u/var/deadletter.db" "select count(*) from dead_letters where replayed_at is null")" 1 \
    "and it stays, not marked replayed"

write_cfg f true
"$NF" run "$T/f/p.cfg" >"$T/f.log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
wait_for 20 test -S "$T/f/var/run/pass-0.in" || { cat "$T/f.log"; fail "the pipeline did not start"; }
assert_contains "$T/f.log" "started 3 workers" "three workers: fetch, pass (with clean and extract), store"
assert_contains "$T/f.log" "runs 2 fused stages after pass, up to extract" "pass's worker runs the chain"
pgrep -f "newsflow stage $T/f/p.cfg clean" >/dev/null && fail "clean has a worker of its own"
ok "clean and extract have no workers of their own"

# nice = 3 on pass: every thread of its worker (ZeroMQ's too) runs 3 below the supervisor; the
# store's at the supervisor's own.
nice_of() { awk '{sub(/.*\) /, ""); print $17}' "$1"; }
sup_nice=$(nice_of "/proc/$SUP/stat")
pass_pid=$(pgrep -f "newsflow stage $T/f/p.cfg pass --worker 0")
store_pid=$(pgrep -f "newsflow stage $T/f/p.cfg store --worker 0")
[ -n "$pass_pid" ] && [ -n "$store_pid" ] || fail "the pass and store workers are running"
want=$((sup_nice + 3 > 19 ? 19 : sup_nice + 3))
n_threads=0
for t in /proc/$pass_pid/task/*/stat; do
    assert_eq "$(nice_of "$t")" "$want" "pass's thread ${t%/stat} runs at nice $want"
    n_threads=$((n_threads + 1))
done
[ $n_threads -ge 2 ] || fail "pass's worker has its ZeroMQ threads ($n_threads threads)"
assert_eq "$(nice_of "/proc/$store_pid/stat")" "$sup_nice" "the store runs at the supervisor's nice"

# A fused stage cannot be run by hand as a worker of its own.
"$NF" stage "$T/f/p.cfg" clean --worker 0 >"$T/stage.out" 2>&1
assert_eq "$?" 2 "newsflow stage on a fused stage exits 2"
assert_contains "$T/stage.out" "stage clean is fused" "and says why"

# A tap on a fused stage sees the records as they leave it, while articles arrive.
"$NF" tap "$T/f/p.cfg" clean --keys source,trace --limit 2 --timeout 30000 >"$T/tap.jsonl" 2>"$T/tap.err" &
TAP=$!
PIDS+=("$TAP")
wait_for 10 grep -q "tapped: publishing what leaves on .*/tap/clean-0" "$T/f.log" ||
    { cat "$T/f.log"; fail "the worker did not see the tap of clean"; }
N=0
for f in "$NF_SOURCE_DIR"/conf/sample/00[0-4]_*.txt; do
    cp "$f" "$T/f/in/.t" && mv "$T/f/in/.t" "$T/f/in/$(basename "$f")"
    sleep 0.3
done
wait_for 30 has_rows "$T/f/db" 5 || { cat "$T/f.log"; fail "five articles stored through the fused stages"; }
wait "$TAP" || { cat "$T/tap.err"; fail "the tap of clean failed"; }
python3 - "$T/tap.jsonl" <<'PY' || fail "the tap of clean shows records that left clean and not yet extract"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 2, recs
for r in recs:
    stages = [h["stage"] for h in r["trace"]]
    assert stages == ["fetch", "pass", "clean"], stages
PY
ok "the tap of a fused stage shows what leaves it"

# What is stored is what the unfused pipeline stored, stage for stage (trace aside).
q="select source_uri, title, lang, text, published_at from articles order by source_uri"
assert_eq "$(sql "$T/f/db" "$q" | sed "s#$T/f/#X/#")" "$(sql "$T/u/db" "$q" | sed "s#$T/u/#X/#")" \
    "the fused pipeline stores the same articles as the unfused one"

# A record the fused clean refuses: a dead letter filed under pass (its bytes are what pass
# took in), with clean's reason; the fused stages count their own.
printf 'Advertisement\n' >"$T/f/in/.t" && mv "$T/f/in/.t" "$T/f/in/ad.txt"
wait_for 30 has_dead 1 || { cat "$T/f.log"; fail "the boilerplate file was not dead-lettered"; }
assert_eq "$(dead "select stage from dead_letters")" pass "the dead letter is filed under pass"
assert_contains <(dead "select error from dead_letters") "stage clean (fused after pass): no text left after cleaning" \
    "its reason names the fused stage"
wait_for 10 grep -q 'stage="clean".*dead' "$T/f/metrics/newsflow-clean-0.prom" ||
    { cat "$T/f/metrics/newsflow-clean-0.prom"; fail "clean's metrics count its dead letter"; }
ok "clean's own metrics file counts its dead letter"
grep -q 'stage="extract"' "$T/f/metrics/newsflow-extract-0.prom" || fail "extract has a metrics file"
ok "extract has its own metrics file"

# Replayed, it goes to pass and through clean again: refused again, a new dead letter.
"$NF" dlq replay "$T/f/p.cfg" --stage pass >"$T/replay" 2>&1 || { cat "$T/replay"; fail "replay"; }
assert_contains "$T/replay" "to pass" "replay sends it to pass"
wait_for 30 has_dead 2 || { cat "$T/f.log"; fail "the replayed record was refused again"; }
ok "the replayed record went through the fused clean again"

# A reload that unfuses extract: pass's workers restart (their chain changed), extract gets
# workers of its own, and articles keep being stored.
sed -i 's/extract = { plugin = "extract_meta"; inputs = \["clean"\]; fuse = true;/extract = { plugin = "extract_meta"; inputs = ["clean"]; fuse = false;/' "$T/f/p.cfg"
"$NF" reload "$T/f/p.cfg" >"$T/reload.out" 2>&1 || { cat "$T/reload.out" "$T/f.log"; fail "the reload failed"; }
assert_contains "$T/reload.out" "restarted [pass" "the reload restarted pass's workers"
wait_for 20 pgrep -f "newsflow stage $T/f/p.cfg extract --worker 0" ||
    { cat "$T/f.log"; fail "extract got no worker of its own"; }
ok "extract runs in a worker of its own"
cp "$NF_SOURCE_DIR"/conf/sample/000_*.txt "$T/f/in/.t" && mv "$T/f/in/.t" "$T/f/in/again.txt"
wait_for 30 has_rows "$T/f/db" 6 || { cat "$T/f.log"; fail "an article after the reload was not stored"; }
ok "articles are stored after the reload"
kill -TERM "$SUP"
wait "$SUP" || { cat "$T/f.log"; fail "the supervisor did not exit 0"; }
grep -q "killed by signal" "$T/f.log" && { cat "$T/f.log"; fail "a worker crashed"; }
ok "no worker crashed"
