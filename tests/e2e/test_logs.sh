#!/usr/bin/env bash
# log_format = "json": every line a pipeline writes is one JSON object with time, level, stage,
# worker, the record being handled and the message; a dead letter's line names its record.
. "$(dirname "$0")/lib.sh"
INJECT="$NF_BUILD_DIR/tests/tools/nf_inject"
mkdir -p "$T/in"
cp "$NF_SOURCE_DIR"/conf/sample/00[01]_*.txt "$T/in/"
cat >"$T/j.cfg" <<CFG
state_dir = "$T/var";
log_format = "json";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; watch = true; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; min_chars = 5000; };
  store = { plugin = "store_sqlite"; inputs = ["clean"]; path = "$T/db"; flush_ms = 50; };
};
CFG
"$NF" run "$T/j.cfg" >"$T/log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
wait_for 30 grep -q "dead-lettered record" "$T/log" || { cat "$T/log"; fail "no dead letter was logged"; }
kill -TERM "$SUP"
wait "$SUP"
python3 - "$T/log" <<'PY' || fail "the log is not JSON lines as documented"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert lines, "no log lines"
dead = []
for n, line in enumerate(lines, 1):
    o = json.loads(line)  # every line is one object
    for k in ("time", "level", "stage", "msg"):
        assert k in o, f"line {n} has no {k}: {line}"
    assert o["level"] in ("error", "warn", "info", "debug"), line
    if "dead-lettered record" in o["msg"]:
        dead.append(o)
assert dead, "no dead-letter line"
d = dead[0]
assert d["stage"] == "clean" and d["worker"] == 0, d
assert isinstance(d["record"], str) and len(d["record"]) == 32, d
assert d["record"] in d["msg"], d
print(f"ok: {len(lines)} JSON lines; a dead letter's line names record {d['record']}")
PY
echo "all passed"
