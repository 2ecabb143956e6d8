#!/usr/bin/env bash
# A plugin built against another plugin ABI is refused before anything of it is used.
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
echo "all passed"
