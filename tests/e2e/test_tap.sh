#!/usr/bin/env bash
# Looking into a running pipeline. newsflow tap CONFIG STAGE: the records leaving a stage as
# JSON lines, without changing the flow (everything is still stored) and ending cleanly (the
# workers stop publishing once the tap is gone). newsflow top CONFIG: every worker's numbers,
# one table when not on a terminal, refreshed in place under a pseudo-terminal.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/in"
cat >"$T/t.cfg" <<CFG
state_dir = "$T/var";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; watch = true; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; workers = 2; };
  store = { plugin = "store_sqlite"; inputs = ["clean"]; path = "$T/db"; flush_ms = 50; };
};
CFG
"$NF" run "$T/t.cfg" >"$T/log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
wait_for 20 test -S "$T/var/run/clean-0.in" || fail "the pipeline did not start"
"$NF" tap "$T/t.cfg" clean --limit 3 --timeout 30000 >"$T/tap.jsonl" 2>"$T/tap.err" &
TAP=$!
PIDS+=("$TAP")
wait_for 10 grep -q "tapped: publishing" "$T/log" || { cat "$T/log"; fail "the workers did not see the tap"; }
# A tap joins a running flow: it sees what leaves once its connection is up (a moment after
# the workers start publishing), so articles keep arriving until it has had its three.
N=0
while kill -0 "$TAP" 2>/dev/null && [ $N -lt 100 ]; do
    N=$((N + 1))
    cp "$NF_SOURCE_DIR"/conf/sample/00$((N % 5))_*.txt "$T/in/.t" && mv "$T/in/.t" "$T/in/a$N.txt"
    sleep 0.2
done
wait "$TAP" || { cat "$T/tap.err"; fail "tap failed"; }
assert_eq "$(wc -l <"$T/tap.jsonl")" 3 "tap --limit 3 printed 3 records"
python3 - "$T/tap.jsonl" "$T/db" <<'PY' || fail "the tapped records are not the stage's records as JSON"
import json, sqlite3, sys, time
recs = [json.loads(l) for l in open(sys.argv[1])]
for r in recs:
    assert len(r["id"]) == 32 and r["text"] and r["source"]["uri"].startswith("file://"), r
    assert any(h["stage"] == "clean" for h in r.get("trace", [])), r.get("trace")
db = sqlite3.connect(sys.argv[2])
for _ in range(100):
    ids = {row[0] for row in db.execute("select id from articles")}
    if all(r["id"] in ids for r in recs):
        break
    time.sleep(0.1)
assert all(r["id"] in ids for r in recs), "a tapped record was not stored"
print("ok: the tapped records are JSON with id, source, text and clean's trace, and were stored")
PY
# --keys: only the named top-level keys of each record (a trace reader on a busy stage)
"$NF" tap "$T/t.cfg" clean --limit 2 --timeout 30000 --keys id,trace >"$T/keys.jsonl" 2>"$T/keys.err" &
TAP=$!
PIDS+=("$TAP")
while kill -0 "$TAP" 2>/dev/null && [ $N -lt 200 ]; do
    N=$((N + 1))
    cp "$NF_SOURCE_DIR"/conf/sample/00$((N % 5))_*.txt "$T/in/.t" && mv "$T/in/.t" "$T/in/a$N.txt"
    sleep 0.2
done
wait "$TAP" || { cat "$T/keys.err"; fail "tap --keys failed"; }
python3 - "$T/keys.jsonl" <<'PY' || fail "tap --keys did not print only id and trace"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 2, recs
for r in recs:
    assert sorted(r) == ["id", "trace"] and len(r["id"]) == 32, r
    assert any(h["stage"] == "clean" for h in r["trace"]), r
print("ok: tap --keys id,trace printed those keys only")
PY
rows() { [ "$(sql "$T/db" "select count(*) from articles")" = "$N" ]; }
wait_for 30 rows || fail "the flow changed: not all $N articles were stored"
ok "every article was stored while tapped"
wait_for 5 sh -c "! ls $T/var/run/tap/clean.* 2>/dev/null | grep -q ." || fail "the tap's announcement stayed"
wait_for 10 grep -q "tap ended" "$T/log" || fail "the workers did not stop publishing"
ok "the tap ended and the workers stopped publishing"
# the workers publish their numbers a few times a second: top catches up within a moment
top_shows() { "$NF" top "$T/t.cfg" >"$T/top" && grep -qE "^store +0 +[0-9]+ +$N +$N " "$T/top"; }
wait_for 10 top_shows || { cat "$T/top"; fail "top does not show store's $N in and $N stored"; }
[ "$(grep -cE '^clean +[01] +[0-9]+ ' "$T/top")" = 2 ] || { cat "$T/top"; fail "top does not show clean's two workers"; }
ok "top shows every worker with its counts"
if command -v script >/dev/null; then
    script -qfec "$NF top $T/t.cfg --timeout 2500" "$T/top.tty" >/dev/null 2>&1 || fail "top under a terminal failed"
    [ "$(grep -c "newsflow top" "$T/top.tty")" -ge 2 ] || fail "top did not refresh under a terminal"
    grep -q $'\x1b\[2J' "$T/top.tty" || fail "top did not redraw in place"
    ok "top refreshes in place under a pseudo-terminal"
fi
# --keys has no limit of its own: a record with 70 keys of an outside producer's, all asked for,
# is printed with all 70 (and a long key whole)
INJECT="$NF_BUILD_DIR/tests/tools/nf_inject"
[ -x "$INJECT" ] || fail "$INJECT not built"
LONG=$(printf 'x%.0s' $(seq 300))
WANT="id,$LONG"
EXTRA="\"$LONG\": 1"
for k in $(seq -w 0 69); do WANT="$WANT,k$k"; EXTRA="$EXTRA, \"k$k\": $((10#$k))"; done
"$NF" tap "$T/t.cfg" clean --limit 1 --timeout 30000 --keys "$WANT" >"$T/many.jsonl" 2>"$T/many.err" &
TAP=$!
PIDS+=("$TAP")
M=0
while kill -0 "$TAP" 2>/dev/null && [ $M -lt 100 ]; do
    M=$((M + 1))
    "$INJECT" "ipc://$T/var/run/clean-0.in" \
        -j "{\"id\": \"$(printf '%032x' $((0xabc000 + M)))\", \"text\": \"Seventy keys.\", $EXTRA}" \
        || fail "nf_inject could not send to the inbox of clean"
    sleep 0.2
done
wait "$TAP" || { cat "$T/many.err"; fail "tap --keys with 72 keys failed"; }
python3 - "$T/many.jsonl" <<'PY' || fail "tap --keys did not print every key asked for"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1, recs
want = {"id", "x" * 300} | {"k%02d" % i for i in range(70)}
assert set(recs[0]) == want, sorted(want - set(recs[0]))
assert all(recs[0]["k%02d" % i] == i for i in range(70)), recs[0]
print("ok: tap --keys printed all 72 keys asked for, the 300-byte one whole")
PY
kill -TERM "$SUP"
wait "$SUP"
assert_eq "$?" 0 "the supervisor exits 0"
echo "all passed"
