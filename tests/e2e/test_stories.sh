#!/usr/bin/env bash
# Story clustering end to end: the default pipeline (conf/newsflow.cfg), whose story stage sits
# between dedup and store, over the seed articles, every stage its own process. 000, 001 and
# 002 tell one story (002 is a translation with other spellings), 003 and 004 each another; a
# second run over the same input (a warm restart from the snapshot) gives every article the
# same story again.
. "$(dirname "$0")/lib.sh"
CFG="$NF_SOURCE_DIR/conf/newsflow.cfg"
DB="$T/newsflow.db"
grep -q 'inputs = \["story"\]' "$CFG" || fail "the default pipeline has no story stage before the store"
"$NF" check "$CFG" >/dev/null || fail "the default config with a story stage does not check"
run() {
    timeout 120 "$NF" run "$CFG" --once --set state_dir="$T/var" --set store.path="$DB" \
        --set fetch.path="$NF_SOURCE_DIR/conf/sample" \
        --set extract.gazetteer="$NF_SOURCE_DIR/conf/gazetteer.tsv" >"$T/log$1" 2>&1 \
        || { cat "$T/log$1"; fail "newsflow run --once failed (run $1)"; }
}
run 1
ok "newsflow run --once exited 0"
assert_contains "$T/log1" "story[0]" "the story stage ran as its own worker"
assert_eq "$(sql "$DB" "select count(*) from articles")" 5 "five articles stored"
assert_eq "$(sql "$DB" "select count(*) from articles where story_id is null or length(story_id) != 32")" 0 \
    "every article has a story id"
story() { sql "$DB" "select story_id from articles where source_uri like '%/$1%'"; }
id() { sql "$DB" "select id from articles where source_uri like '%/$1%'"; }
assert_eq "$(story 001_)" "$(story 000_)" "001 tells 000's story"
assert_eq "$(story 002_)" "$(story 000_)" "002 (a translation) tells 000's story"
assert_eq "$(story 000_)" "$(id 000_)" "a story is named after its first article"
assert_eq "$(story 003_)" "$(id 003_)" "003 is a story of its own"
assert_eq "$(story 004_)" "$(id 004_)" "004 is a story of its own"
assert_eq "$(sql "$DB" "select count(distinct story_id) from articles")" 3 "three stories"
[ -s "$T/var/story/story.snap" ] || fail "no snapshot in the state directory"
ok "the story stage left a snapshot"
sql "$DB" "select id, story_id from articles order by id" >"$T/before"
sql "$DB" "update articles set story_id = null"
# forget what fetch read, so that the same articles come again (a replay), to a story stage
# that starts from its snapshot
rm -rf "$T/var/fetch"
run 2
assert_contains "$T/log2" "story_replayed=5" "the story stage knew all five again"
sql "$DB" "select id, story_id from articles order by id" >"$T/after"
cmp -s "$T/before" "$T/after" || { diff "$T/before" "$T/after" >&2; fail "stories changed on a second run"; }
ok "a second run (warm restart) gives every article its story again"
echo "all passed"
