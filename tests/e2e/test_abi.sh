#!/usr/bin/env bash
# A plugin built against another plugin ABI is refused before anything of it is used; one built
# for ABI 1, whose option rows were shorter, is read through them.
. "$(dirname "$0")/lib.sh"
[ -f "$NF_BUILD_DIR/plugins/tp_bad_abi.so" ] || skip "test plugin tp_bad_abi not built"
cat >"$T/abi.cfg" <<CFG
state_dir = "$T/var";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T"; };
  odd = { plugin = "tp_bad_abi"; inputs = ["fetch"]; };
};
CFG
if timeout 30 "$NF" run "$T/abi.cfg" --once >"$T/out" 2>&1; then fail "a wrong-ABI plugin was run"; fi
assert_contains "$T/out" "tp_bad_abi.so" "the refusal names the plugin's path"
assert_contains "$T/out" "ABI" "the refusal says why"
assert_contains "$T/out" "$T/abi.cfg:4" "the refusal names the stage's line"

# A plugin built for ABI 1 (shorter option rows) still loads and runs: its rows are read as
# ABI 1 wrote them, so its options are checked and filled as before.
[ -f "$NF_BUILD_DIR/plugins/tp_abi1.so" ] || skip "test plugin tp_abi1 not built"
mkdir -p "$T/in"
cp "$NF_SOURCE_DIR"/conf/sample/*.txt "$T/in/"
cat >"$T/abi1.cfg" <<CFG
state_dir = "$T/var1";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; };
  old = { plugin = "tp_abi1"; inputs = ["fetch"]; limit = 3; label = "kept"; };
  store = { plugin = "store_jsonl"; inputs = ["old"]; path = "$T/out.jsonl"; };
};
CFG
"$NF" check "$T/abi1.cfg" >"$T/out" 2>&1 || { cat "$T/out"; fail "check refused an ABI 1 plugin"; }
sed -i 's/limit = 3;/limit = "three";/' "$T/abi1.cfg"
"$NF" check "$T/abi1.cfg" >"$T/out" 2>&1 && fail "an ABI 1 plugin's option of the wrong type was accepted"
assert_contains "$T/out" "$T/abi1.cfg:4: stage 'old': option 'limit' expects an integer" \
    "an ABI 1 plugin's options are checked through its own rows"
sed -i 's/limit = "three";/limit = 3;/' "$T/abi1.cfg"
timeout 60 "$NF" run "$T/abi1.cfg" --once >"$T/out" 2>&1 || { cat "$T/out"; fail "a pipeline with an ABI 1 plugin failed"; }
assert_eq "$(wc -l <"$T/out.jsonl")" "$(ls "$T/in" | wc -l)" "an ABI 1 plugin runs in a pipeline"
echo "all passed"
