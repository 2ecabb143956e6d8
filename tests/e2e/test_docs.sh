#!/usr/bin/env bash
# docs/config.md is what `newsflow doc config` prints from the loader's own key tables: a key
# added, removed or redescribed without regenerating the page fails here. Every key the page
# lists is one the loader accepts, and a key it does not know is refused naming the allowed.
. "$(dirname "$0")/lib.sh"
"$NF" doc config >"$T/config.md" || fail "newsflow doc config failed"
diff -u "$NF_SOURCE_DIR/docs/config.md" "$T/config.md" >"$T/diff" ||
    { cat "$T/diff"; fail "docs/config.md is stale: newsflow doc config > docs/config.md"; }
ok "docs/config.md is what newsflow doc config prints"
printf 'stages = { fetch = { plugin = "fetch_dir"; path = "%s"; }; };\n' "$T" >"$T/k.cfg"
"$NF" check "$T/k.cfg" --set nosuchkey=1 >"$T/out" 2>&1 && fail "an unknown top-level key was accepted"
for key in $(sed -n '/^## Top-level keys/,/^## Stage keys/s/^| `\([a-z_]*\)`.*/\1/p' "$T/config.md"); do
    grep -q "$key" "$T/out" || fail "the refusal does not list the documented key $key"
done
ok "every documented top-level key is one the loader lists as allowed"
"$NF" doc >"$T/plugins" || fail "newsflow doc without a plugin failed"
assert_contains "$T/plugins" "fetch_dir" "newsflow doc without a plugin lists the plugins"
"$NF" doc nosuch >"$T/nosuch" 2>&1 && fail "doc of an unknown plugin succeeded"
assert_contains "$T/nosuch" "store_sqlite" "doc of an unknown plugin lists the plugins there are"
"$NF" help >"$T/help" || fail "newsflow help does not exit 0"
"$NF" run --help >"$T/help2" || fail "newsflow run --help does not exit 0"
assert_contains "$T/help" "reload CONFIG" "help lists the commands"
"$NF" run 2>"$T/usage" && fail "run without a config succeeded"
assert_contains "$T/usage" "which config?" "a usage error says what is wrong"
echo "all passed"
