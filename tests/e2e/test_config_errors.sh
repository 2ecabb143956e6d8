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
python3 -c "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', $PORT)); s.listen(); open('$T/held', 'w').close(); time.sleep(20)" &
HOLD=$!
PIDS+=($HOLD)
# the port is taken once the holder says so (python's start can take longer than a fixed sleep
# on a busy machine)
wait_for 10 test -f "$T/held" || fail "the port holder did not start"
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

# Value rules that check sees before anything runs, each with the key's file:line: a stage key
# out of its range, a plugin option out of its table's bounds, a value that is not one of the
# allowed ones, a rule joining two options (the plugin's validate), and the paths a plugin
# declares: a missing input directory, an output directory that cannot be written.
mkdir -p "$T/in2" "$T/ro"
rules_cfg() { # $1: the fetch stage's extra keys, $2: the kw stage's keys, $3: the store's path
    cat >"$T/rules.cfg" <<CFG
state_dir = "$T/rvar";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in2"; $1 };
  kw = { plugin = "tp_keyword"; inputs = ["fetch"];
    $2 };
  store = { plugin = "store_jsonl"; inputs = ["kw"]; path = "${3:-$T/rout/out.jsonl}"; };
};
CFG
}
check_refuses() { # $1: what, $2: the expected message
    if "$NF" check "$T/rules.cfg" >"$T/out" 2>&1; then cat "$T/out"; fail "check accepted $1"; fi
    assert_contains "$T/out" "$2" "check refuses $1 with where and why"
}
rules_cfg "" "mode = \"drop\"; words = \"ad\";"
"$NF" check "$T/rules.cfg" >"$T/out" 2>&1 || { cat "$T/out"; fail "the rules config is refused"; }
ok "the config the cases below break passes check (a store directory that will be made)"
rules_cfg "window = 0;" "mode = \"drop\"; words = \"ad\";"
check_refuses "window = 0" "$T/rules.cfg:3: stage 'fetch': 'window' must be an integer from 1 to 10000000, got 0"
rules_cfg "" "mode = \"drop\"; words = \"ad\"; in_read_order = true; workers = 2;"
check_refuses "in_read_order with two workers" "$T/rules.cfg:4: stage 'kw': in_read_order needs workers = 1 (it has 2)"
rules_cfg "in_read_order = true;" "mode = \"drop\"; words = \"ad\";"
check_refuses "in_read_order on a source" "$T/rules.cfg:3: stage 'fetch': in_read_order is for a stage with inputs"
rules_cfg "settle_ms = -1;" "mode = \"drop\"; words = \"ad\";"
check_refuses "a plugin option below its bound" "$T/rules.cfg:3: stage 'fetch': option 'settle_ms' must be at least 0, got -1"
rules_cfg "" "mode = \"drop\"; words = \"ad\";"
"$NF" check "$T/rules.cfg" --set kw.min_len=65 >"$T/out" 2>&1 && fail "check accepted --set kw.min_len=65"
assert_contains "$T/out" "--set kw.min_len=65: stage 'kw': option 'min_len' must be between 1 and 64, got 65" \
    "a bound broken on the command line names the --set"
rules_cfg "" "mode = \"dorp\"; words = \"ad\";"
check_refuses "a value that is not one of the allowed ones" \
    "$T/rules.cfg:5: stage 'kw': option 'mode' must be one of keep, drop or count, got \"dorp\""
if timeout 30 "$NF" run "$T/rules.cfg" --once >"$T/out" 2>&1; then fail "run accepted mode = \"dorp\""; fi
assert_contains "$T/out" "option 'mode' must be one of keep, drop or count" "run refuses it too"
[ ! -e "$T/rvar/fetch" ] || [ -z "$(ls -A "$T/rvar/fetch" 2>/dev/null)" ] || fail "the source journaled before the refusal"
rules_cfg "" "mode = \"drop\";"
check_refuses "mode = \"drop\" without words (the plugin's validate)" \
    "$T/rules.cfg:4 (default of 'words'): stage 'kw': option 'words' (or 'words_file') is needed when mode is \"drop\""
rules_cfg "" "mode = \"count\";
    words_file = \"$T/words.txt\";"
check_refuses "a missing input file" \
    "$T/rules.cfg:6: stage 'kw': option 'words_file': file $T/words.txt: does not exist"
rules_cfg "" "mode = \"drop\"; words = \"ad\";"
sed -i "s|path = \"$T/in2\"|path = \"$T/nope\"|" "$T/rules.cfg"
check_refuses "a missing input directory" \
    "$T/rules.cfg:3: stage 'fetch': option 'path': directory $T/nope: does not exist"
rules_cfg "" "mode = \"drop\"; words = \"ad\";" "$T/ro/out.jsonl"
if [ "$(id -u)" = 0 ]; then
    # root writes through any mode bits: an immutable directory is what it cannot write
    if chattr +i "$T/ro" 2>/dev/null; then
        "$NF" check "$T/rules.cfg" >"$T/out" 2>&1 && { chattr -i "$T/ro"; fail "check accepted an unwritable store directory"; }
        chattr -i "$T/ro"
        assert_contains "$T/out" "$T/rules.cfg:6: stage 'store': option 'path': directory $T/ro is not writable" \
            "check refuses an output directory that cannot be written"
    else
        echo "SKIP part: root without chattr +i cannot make a directory it cannot write"
    fi
else
    chmod 0555 "$T/ro"
    check_refuses "an unwritable output directory" \
        "$T/rules.cfg:6: stage 'store': option 'path': directory $T/ro is not writable"
    chmod 0755 "$T/ro"
fi

# Every config the project ships passes check as it is (feeds.cfg's default feeds_file is
# shipped beside it), with the paths its comments document.
for c in "$NF_SOURCE_DIR"/conf/*.cfg; do
    "$NF" check "$c" >"$T/shipped.out" 2>&1 || { cat "$T/shipped.out"; fail "$(basename "$c") does not pass check"; }
done
ok "every shipped config passes check"
echo "all passed"
