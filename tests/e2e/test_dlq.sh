#!/usr/bin/env bash
# Dead letters of a long-running pipeline (fetch_dir watching -> clean_text -> store_sqlite):
# `dlq list` shows why each record failed; `dlq replay` sends a record back into the running
# pipeline, where it fails again (a new dead letter, the old one marked replayed) until the
# pipeline is restarted with a setting that lets it through. Once with the SQLite store, once
# with the JSON-lines store.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 not installed"

# write_config NAME: a watching pipeline under $T/NAME
write_config() {
    local d="$T/$1"
    mkdir -p "$d/in"
    cp "$NF_SOURCE_DIR"/conf/sample/000_*.txt "$d/in/"
    : >"$d/in/empty.txt"
    printf 'Advertisement\n' >"$d/in/ad.txt"
    cat >"$d/p.cfg" <<CFG
state_dir = "$d/var";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$d/in"; watch = true; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; };
  store = { plugin = "store_sqlite"; inputs = ["clean"]; path = "$d/db"; };
};
CFG
}

SUP=
start() { # start CONFIG LOG [--set ...]
    local cfg=$1 log=$2
    shift 2
    "$NF" run "$cfg" "$@" >>"$log" 2>&1 &
    SUP=$!
    PIDS+=("$SUP")
}
stop() {
    kill -TERM "$SUP" 2>/dev/null
    local until=$((SECONDS + 30))
    while kill -0 "$SUP" 2>/dev/null; do
        [ $SECONDS -ge $until ] && fail "the pipeline did not stop within 30 s"
        sleep 0.1
    done
}
articles() { sql "$1" "select count(*) from articles" 2>/dev/null; }
has_articles() { [ "$(articles "$1")" = "$2" ]; }

# ---- SQLite store (the default) ----------------------------------------------------------------
write_config a
A="$T/a/p.cfg"
DB="$T/a/var/deadletter.db"
rows() { sql "$DB" "$1" 2>/dev/null; }
has_rows() { [ "$(rows "select count(*) from dead_letters")" = "$1" ]; }

start "$A" "$T/a.log"
wait_for 60 has_rows 2 || { cat "$T/a.log"; fail "two dead letters within 60 s"; }
wait_for 30 has_articles "$T/a/db" 1 || fail "the good article stored"
"$NF" dlq list "$A" >"$T/list" 2>&1 || { cat "$T/list"; fail "dlq list"; }
assert_contains "$T/list" "empty.txt is empty" "the empty file's reason is listed"
assert_contains "$T/list" "no text left after cleaning" "the boilerplate file's reason is listed"
assert_contains "$T/list" "file://$T/a/in/ad.txt" "the boilerplate file's source is listed"
assert_contains "$T/list" "2 dead letters" "both counted"
assert_eq "$(rows "select stage from dead_letters where error like '%empty%'")" fetch \
    "the empty file was dead-lettered by fetch"
assert_eq "$(rows "select stage from dead_letters where error like 'no text left%'")" clean \
    "the boilerplate file was dead-lettered by clean"
# From here on only replay can bring these records back: the files are gone.
rm "$T/a/in/ad.txt" "$T/a/in/empty.txt"

# Replayed into the running pipeline unchanged, the record fails again: a new dead letter.
"$NF" dlq replay "$A" --stage clean >"$T/replay1" 2>&1 || { cat "$T/replay1"; fail "replay"; }
assert_contains "$T/replay1" "to clean" "replay says where the record went"
assert_contains "$T/replay1" "nobody waits for their acknowledgement" "replay says no ack is awaited"
wait_for 30 has_rows 3 || { cat "$T/a.log"; fail "the replayed record dead-lettered again"; }
assert_eq "$(rows "select count(*) from dead_letters where stage = 'clean'")" 2 \
    "a second dead letter from clean"
assert_eq "$(rows "select count(*) from dead_letters where stage = 'clean' and replayed_at is not null")" 1 \
    "the first one is marked replayed, the new one is not"
NEW_ID=$(rows "select id from dead_letters where stage = 'clean' and replayed_at is null")
OLD_ID=$(rows "select id from dead_letters where stage = 'clean' and replayed_at is not null")
assert_eq "$NEW_ID" "$OLD_ID" "the new dead letter is the same record"

# A source's dead letter keeps what the source made of the input as a record (id and source;
# no raw for an empty file), so it can be replayed to the source's consumers once fixed.
assert_eq "$(rows "select count(*) from dead_letters where stage = 'fetch' and length(record) > 0")" 1 \
    "the fetch dead letter carries its record"

stop
ok "the pipeline stopped"
# No pipeline: a bounded wait, a clear message, nothing marked.
if timeout 60 "$NF" dlq replay "$A" --stage clean --timeout 1000 >"$T/replay3" 2>&1; then
    cat "$T/replay3"
    fail "replay without a pipeline must fail"
fi
assert_contains "$T/replay3" "is the pipeline running?" "replay without a pipeline says why it failed"
assert_eq "$(rows "select count(*) from dead_letters where replayed_at is null and stage = 'clean'")" 1 \
    "a record that could not be sent is not marked replayed"

# Restarted with the boilerplate filter off, the replayed record goes through to the store.
start "$A" "$T/a.log" --set clean.builtin_patterns=false
"$NF" dlq replay "$A" --stage clean --timeout 30000 >"$T/replay4" 2>&1 || { cat "$T/replay4"; fail "replay after the fix"; }
assert_contains "$T/replay4" "1 sent" "the unreplayed dead letter sent"
assert_contains "$T/replay4" "1 already replayed" "the replayed one skipped"
wait_for 60 has_articles "$T/a/db" 2 || { cat "$T/a.log"; fail "the replayed record stored"; }
assert_eq "$(sql "$T/a/db" "select count(*) from articles where id = '$NEW_ID' and text like '%Advertisement%'")" 1 \
    "the stored article is the replayed record"
assert_eq "$(rows "select count(*) from dead_letters")" 3 "no new dead letter"
assert_eq "$(rows "select count(*) from dead_letters where stage = 'clean' and replayed_at is null")" 0 \
    "every clean dead letter is marked replayed"
# Again: nothing left to send unless forced; --id takes the first characters of an id.
"$NF" dlq replay "$A" --stage clean >"$T/replay5" 2>&1 || { cat "$T/replay5"; fail "replay again"; }
assert_contains "$T/replay5" "0 sent" "nothing resent without --force"
"$NF" dlq replay "$A" --id "${NEW_ID:0:12}" --force --timeout 30000 >"$T/replay6" 2>&1 ||
    { cat "$T/replay6"; fail "replay --force --id"; }
assert_contains "$T/replay6" "2 sent" "--force resends both dead letters of the record"
if "$NF" dlq replay "$A" --id nosuchid >"$T/replay7" 2>&1; then fail "an --id that matches nothing must fail"; fi
assert_contains "$T/replay7" "no dead letter" "an --id that matches nothing says so"
stop

# ---- JSON-lines store ------------------------------------------------------------------------
write_config b
B="$T/b/p.cfg"
JL="$T/b/dl.jsonl"
lines() { [ -f "$JL" ] && wc -l <"$JL" || echo 0; }
has_lines() { [ "$(lines)" -eq "$1" ]; }
start "$B" "$T/b.log" --set "deadletter=$JL"
wait_for 60 has_lines 2 || { cat "$T/b.log"; fail "two dead-letter lines within 60 s"; }
"$NF" dlq list "$B" --set "deadletter=$JL" >"$T/blist" 2>&1 || { cat "$T/blist"; fail "dlq list jsonl"; }
assert_contains "$T/blist" "empty.txt is empty" "JSON lines: the empty file's reason is listed"
assert_contains "$T/blist" "no text left after cleaning" "JSON lines: the boilerplate file's reason"
"$NF" dlq list "$B" --set "deadletter=$JL" --json >"$T/bjson" 2>&1 || { cat "$T/bjson"; fail "dlq list --json"; }
python3 - "$JL" "$T/bjson" <<'PY' || fail "the JSON-lines store and list --json are whole JSON with the documented fields"
import base64, json, sys
store = [json.loads(l) for l in open(sys.argv[1])]
listed = [json.loads(l) for l in open(sys.argv[2])]
assert len(store) == 2 and len(listed) == 2, (store, listed)
keys = {"at", "id", "source_uri", "stage", "worker", "attempt", "error", "record"}
for d in store:
    assert set(d) == keys, d.keys()
clean = [d for d in store if d["stage"] == "clean"][0]
assert clean["record"] and b"Advertisement" in base64.b64decode(clean["record"])
assert [d["record"] for d in listed] == [d["record"] for d in store]
PY
ok "the JSON-lines store and list --json are whole JSON with the documented fields"
rm "$T/b/in/ad.txt" "$T/b/in/empty.txt"
"$NF" dlq replay "$B" --set "deadletter=$JL" --stage clean >"$T/breplay" 2>&1 || { cat "$T/breplay"; fail "replay jsonl"; }
assert_contains "$T/breplay" "1 sent" "JSON lines: the clean dead letter replayed"
# the marker line and the new dead letter (in either order)
wait_for 30 has_lines 4 || { cat "$T/b.log"; cat "$JL"; fail "JSON lines: dead-lettered again"; }
python3 - "$JL" <<'PY' || fail "JSON lines: one replay marker naming the first clean dead letter"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
marks = [r for r in rows if "replayed" in r]
letters = [(i + 1, r) for i, r in enumerate(rows) if "replayed" not in r]
clean = [n for n, r in letters if r["stage"] == "clean"]
assert len(marks) == 1 and len(clean) == 2, rows
assert marks[0]["replayed"] == clean[0], (marks, clean)
PY
ok "JSON lines: one replay marker naming the first clean dead letter"
"$NF" dlq list "$B" --set "deadletter=$JL" >"$T/blist2" 2>&1
assert_contains "$T/blist2" "3 dead letters" "JSON lines: markers are not counted as dead letters"
assert_contains "$T/blist2" "replayed 20" "JSON lines: the listing shows when it was replayed"
stop
# A worker that a sanitizer stops is restarted by the supervisor: look for its report.
if grep -E "Sanitizer|runtime error:" "$T/a.log" "$T/b.log" >&2; then
    fail "a sanitizer reported an error"
fi
echo "all passed"
