#!/usr/bin/env bash
# Bad files each get a clear reason in the dead-letter store naming the file; the other files
# are all stored and the pipeline finishes normally.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/in"
cp "$NF_SOURCE_DIR"/conf/sample/00[0-1]_*.txt "$T/in/"
: >"$T/in/empty.txt"
printf 'some text\0with a NUL byte\n' >"$T/in/binary.txt"
truncate -s 100M "$T/in/huge.txt"
printf 'Caf\xe9 au lait is served in Bamako, where the caf\xe9s are full.\n\nA second paragraph follows here.\n' >"$T/in/latin1.txt"
ln -s "$T/nowhere.txt" "$T/in/dangling.txt"
printf '\x1f\x8b\x08\x00garbage that is not deflate' >"$T/in/corrupt.txt.gz"
cat >"$T/bad.cfg" <<CFG
state_dir = "$T/var";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; };
  extract = { plugin = "extract_meta"; inputs = ["clean"]; gazetteer = "$NF_SOURCE_DIR/conf/gazetteer.tsv"; };
  store = { plugin = "store_sqlite"; inputs = ["extract"]; path = "$T/db"; };
};
CFG
timeout 120 "$NF" run "$T/bad.cfg" --once >"$T/log" 2>&1 || { cat "$T/log"; fail "the run did not finish cleanly"; }
ok "the run finished despite the bad files"
assert_eq "$(sql "$T/db" "select count(*) from articles")" 3 "both good files and the Latin-1 file stored"
assert_eq "$(sql "$T/db" "select count(*) from articles where text like '%Café au lait%'")" 1 \
    "invalid UTF-8 read as windows-1252"
"$NF" dlq list "$T/bad.cfg" >"$T/dlq" 2>&1 || { cat "$T/dlq"; fail "dlq list failed"; }
for f in empty.txt binary.txt huge.txt dangling.txt corrupt.txt.gz; do
    assert_contains "$T/dlq" "$f" "dead letter for $f"
done
assert_contains "$T/dlq" "104857600" "the huge file's reason gives its size"
assert_eq "$(sql "$T/var/deadletter.db" "select count(*) from dead_letters where stage = 'fetch' and error <> ''")" 5 \
    "five dead letters from the fetch stage, each with a reason"
assert_contains "$T/log" "dead-lettered" "dead letters are logged"
# Replaying what the source refused sends nothing into the pipeline: only the source may judge
# an input again, once it is fixed.
"$NF" dlq replay "$T/bad.cfg" --stage fetch --timeout 3000 >"$T/replay" 2>&1 || { cat "$T/replay"; fail "dlq replay failed"; }
assert_contains "$T/replay" "0 sent" "no refused input is sent into the pipeline"
assert_contains "$T/replay" "5 refused by their source" "the five refused inputs are named as such"
assert_contains "$T/replay" "binary.txt): refused by source fetch when it read it" "the replay says why, per input"
assert_eq "$(sql "$T/db" "select count(*) from articles")" 3 "nothing more was stored"
echo "all passed"
