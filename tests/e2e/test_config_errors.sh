#!/usr/bin/env bash
# Config mistakes stop start-up with file:line and what is wrong; nothing starts.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/in"
cat >"$T/typo.cfg" <<CFG
state_dir = "$T/var";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; };
  store = {
    plugin = "store_jsonl";
    inputs = ["fetch"];
    pth = "out.jsonl";
  };
};
CFG
for cmd in check run; do
    if timeout 30 "$NF" $cmd "$T/typo.cfg" --once >"$T/out" 2>&1; then fail "$cmd accepted a misspelt option"; fi
    assert_contains "$T/out" "$T/typo.cfg:7" "$cmd names file:line of the misspelt option"
    assert_contains "$T/out" "unknown option 'pth'" "$cmd names the option"
    assert_contains "$T/out" "path" "$cmd lists the allowed options"
done
[ ! -e "$T/out.jsonl" ] || fail "a sink ran despite the error"
# The same mistake made on the command line is caught the same way.
sed -i 's/pth = /path = /' "$T/typo.cfg"
if "$NF" check "$T/typo.cfg" --set store.apend=true >"$T/out" 2>&1; then fail "check accepted --set store.apend"; fi
assert_contains "$T/out" "--set store.apend=true" "a misspelt --set names itself"
"$NF" check "$T/typo.cfg" >"$T/out" 2>&1 || { cat "$T/out"; fail "the corrected config is refused"; }
ok "the corrected config passes"
# A syntax error, a missing plugin, a bad type.
printf 'stages = {\n  fetch = { plugin = "fetch_dir"; path = ; };\n};\n' >"$T/syntax.cfg"
"$NF" check "$T/syntax.cfg" >"$T/out" 2>&1 && fail "syntax error accepted"
assert_contains "$T/out" "$T/syntax.cfg:2" "syntax error with its line"
printf 'stages = {\n  fetch = {\n    plugin = "fetch_nope";\n  };\n};\n' >"$T/missing.cfg"
"$NF" check "$T/missing.cfg" >"$T/out" 2>&1 && fail "missing plugin accepted"
assert_contains "$T/out" "$T/missing.cfg:2" "missing plugin with the stage's line"
assert_contains "$T/out" "fetch_nope.so" "missing plugin with its path"
printf 'stages = {\n  fetch = { plugin = "fetch_dir"; path = "x";\n    max_bytes = true; };\n};\n' >"$T/type.cfg"
"$NF" check "$T/type.cfg" >"$T/out" 2>&1 && fail "bad type accepted"
assert_contains "$T/out" "$T/type.cfg:3" "wrong type with its line"
"$NF" check "$T/nonexistent.cfg" >"$T/out" 2>&1 && fail "missing config accepted"
assert_contains "$T/out" "nonexistent.cfg" "missing config named"

# check probes the world: a taken port, two stages on one address, an unsafe state_dir; and
# takes several configs, naming each problem.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$T/ports.cfg" <<CFG
insecure = true;
state_dir = "$T/state";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T"; ack_endpoint = "tcp://127.0.0.1:$((PORT + 10))"; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; endpoint = "tcp://127.0.0.1:$PORT"; };
};
CFG
python3 -c "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', $PORT)); s.listen(); time.sleep(20)" &
HOLD=$!
PIDS+=($HOLD)
sleep 0.5
"$NF" check "$T/ports.cfg" >"$T/out" 2>&1 && fail "check passed a config whose port is taken"
assert_contains "$T/out" "$T/ports.cfg:5: stage 'clean': endpoint tcp://127.0.0.1:$PORT: Address already in use" \
    "check names the stage, file:line and the taken port"
kill "$HOLD"
sed "s/127.0.0.1:\$((PORT + 10))/127.0.0.1:$((PORT + 1))/; s|tcp://127.0.0.1:$((PORT + 10))|tcp://127.0.0.1:$((PORT + 1))|" "$T/ports.cfg" >"$T/clash.cfg"
"$NF" check "$T/clash.cfg" >"$T/out" 2>&1 && fail "check passed two stages on one address"
assert_contains "$T/out" "binds too" "two stages binding one address are refused"
mkdir -m 777 "$T/state" && chmod 777 "$T/state"
"$NF" check "$T/ports.cfg" "$T/syntax.cfg" >"$T/out" 2>&1 && fail "check passed an unsafe state_dir"
assert_contains "$T/out" "writable by every user" "check refuses a state_dir others can write"
assert_contains "$T/out" "$T/syntax.cfg:2" "check of several configs names each one's problem"
echo "all passed"
