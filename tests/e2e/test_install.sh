#!/usr/bin/env bash
# make install's layout, used as an operator and a plugin author would: the installed command
# finds the installed plugins; a filter built out of tree with the installed pkg-config file
# loads and runs in a pipeline from its own plugin directory beside the built-in ones; the
# systemd units pass systemd-analyze verify with no warning.
. "$(dirname "$0")/lib.sh"
DEST="$T/root"
DESTDIR="$DEST" cmake --install "$NF_BUILD_DIR" >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "cmake --install failed"; }
PREFIX=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$NF_BUILD_DIR/CMakeCache.txt")
ROOT="$DEST$PREFIX"
for f in bin/newsflow bin/newsflow-stage lib/newsflow/plugins/fetch_dir.so lib/newsflow/plugins/store_sqlite.so \
    include/newsflow/plugin.h lib/pkgconfig/newsflow-plugin.pc lib/systemd/system/newsflow.service; do
    [ -e "$ROOT/$f" ] || fail "make install did not install $f"
done
ls "$DEST"*/newsflow/newsflow.cfg "$DEST"/*/*/newsflow/newsflow.cfg 2>/dev/null | grep -q . ||
    find "$DEST" -name newsflow.cfg | grep -q . || fail "no config installed"
[ ! -e "$ROOT/lib/newsflow/plugins/poison.so" ] || fail "a test plugin was installed"
ok "the command, the plugins, the headers, the pkg-config file, the configs and the units"
unset NEWSFLOW_PLUGIN_DIR
"$ROOT/bin/newsflow" doc >"$T/doc.out" || fail "the installed command failed"
assert_contains "$T/doc.out" "store_sqlite" "the installed command finds the installed plugins"

# A plugin written outside the tree: a filter that drops records whose title has a word.
mkdir -p "$T/mine"
cat >"$T/mine/keyword.c" <<'C'
#include <stddef.h>
#include <string.h>
#include <newsflow/plugin.h>
struct keyword_conf { const char *word; };
static const struct nf_option keyword_options[] = {
    {"word", NF_OPT_STRING, NULL, offsetof(struct keyword_conf, word), "drop titles with it"},
    {NULL, 0, NULL, 0, NULL},
};
static int keyword_init(struct nf_ctx *ctx, const void *conf, void **state)
{
    (void)ctx;
    *state = (void *)conf;
    return NF_OK;
}
static int keyword_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    const struct keyword_conf *c = state;
    const char *t = nf_record_str(rec, NF_F_TITLE, NULL);
    if (t && strstr(t, c->word)) {
        nf_ctx_count(ctx, "dropped", 1);
        return NF_SKIP;
    }
    return NF_OK;
}
static void keyword_destroy(void *state) { (void)state; }
NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI, .size = sizeof(struct nf_plugin), .name = "keyword",
    .description = "drops records whose title holds a word", .kind = NF_PLUGIN_FILTER,
    .options = keyword_options, .conf_size = sizeof(struct keyword_conf),
    .init = keyword_init, .process = keyword_process, .destroy = keyword_destroy,
};
C
export PKG_CONFIG_PATH="$ROOT/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$DEST"
flags=$(pkg-config --cflags newsflow-plugin) || fail "pkg-config does not know newsflow-plugin"
cc -std=c11 -Wall -Werror -shared -fPIC $flags -o "$T/mine/keyword.so" "$T/mine/keyword.c" ||
    fail "the out-of-tree plugin does not build with the pkg-config flags ($flags)"
ok "an out-of-tree filter builds with: cc -shared -fPIC $flags"
"$ROOT/bin/newsflow" doc keyword --plugin-dir "$T/mine" >"$T/kdoc" || fail "doc does not load it"
assert_contains "$T/kdoc" "drop titles with it" "newsflow doc reads its option table"
mkdir -p "$T/in"
cp "$NF_SOURCE_DIR"/conf/sample/*.txt "$T/in/"
cat >"$T/k.cfg" <<CFG
state_dir = "$T/var";
plugin_dir = "$T/mine:$ROOT/lib/newsflow/plugins";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; };
  drop = { plugin = "keyword"; inputs = ["clean"]; word = "Burkina"; };
  store = { plugin = "store_sqlite"; inputs = ["drop"]; path = "$T/k.db"; };
};
CFG
if "$ROOT/bin/newsflow" check "$T/k.cfg" >"$T/kcheck" 2>&1; then
    "$ROOT/bin/newsflow" run "$T/k.cfg" --once >"$T/klog" 2>&1 || { cat "$T/klog"; fail "the pipeline with the plugin failed"; }
    grep -qE "drop\[0\]: counts: in=5 .*dropped=[1-9]" "$T/klog" || { grep counts "$T/klog"; fail "the plugin did not run"; }
    ok "the out-of-tree plugin runs from its own directory beside the built-in ones (plugin_dir search path)"
else
    cat "$T/kcheck"
    fail "plugin_dir as a search path (DIR:DIR) is refused"
fi

if command -v systemd-analyze >/dev/null; then
    mkdir -p "$T/units"
    for u in "$ROOT"/lib/systemd/system/newsflow*; do
        sed "s|/usr/bin/newsflow|$ROOT/bin/newsflow|g" "$u" >"$T/units/$(basename "$u")"
    done
    cp "$T/units/newsflow@.service" "$T/units/newsflow@clean-0.service"
    (cd "$T/units" && systemd-analyze verify --man=no newsflow.service newsflow-broker.service \
        newsflow.target newsflow@clean-0.service) >"$T/verify" 2>&1 || { cat "$T/verify"; fail "systemd-analyze verify failed"; }
    [ ! -s "$T/verify" ] || { cat "$T/verify"; fail "systemd-analyze verify warned"; }
    ok "the systemd units pass systemd-analyze verify"
else
    echo "SKIP part: no systemd-analyze"
fi
echo "all passed"
