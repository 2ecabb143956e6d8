#!/usr/bin/env bash
# newsflow show and query over the embedded store: a limit, one story, a day; columns that never
# run into each other whatever the title; full-text search best first, and a query that is not
# FTS5 syntax searched as plain words.
. "$(dirname "$0")/lib.sh"
CFG="$NF_SOURCE_DIR/conf/newsflow.cfg"
DB="$T/q.db"
S=(--set "state_dir=$T/var" --set "store.path=$DB")
"$NF" run "$CFG" --once "${S[@]}" >"$T/log" 2>&1 || { cat "$T/log"; fail "the sample run failed"; }
"$NF" show "$CFG" "${S[@]}" --limit 2 >"$T/show" || fail "show failed"
assert_contains "$T/show" "2 of 5 articles, latest first" "show --limit 2 shows 2 of the 5"
# every row: the columns start where the header's do, and two spaces come before each
awk 'NR == 2 { for (i = 1; i <= length($0); i++) if (substr($0, i, 2) == "  " && substr($0, i + 2, 1) != " ") starts[++n] = i + 2 }
     NR > 2 && /^[0-9a-f]+  / { rows++; for (k = 1; k <= n; k++) if (substr($0, starts[k] - 2, 2) != "  ") { print "row " NR " runs into column " k; bad = 1 } }
     END { if (rows != 2 || n < 3) { print "looked at " rows + 0 " rows and " n + 0 " columns"; bad = 1 }; exit bad }' "$T/show" || { cat "$T/show"; fail "columns run into each other"; }
ok "columns never run into each other"
story=$(sql "$DB" "select story_id from articles group by story_id order by count(*) desc limit 1")
n=$(sql "$DB" "select count(*) from articles where story_id = '$story'")
"$NF" show "$CFG" "${S[@]}" --story "${story:0:8}" >"$T/story" || fail "show --story failed"
assert_contains "$T/story" "$n of $n articles" "show --story (by its first characters) shows its $n articles"
"$NF" show "$CFG" "${S[@]}" --story "$(echo "${story:0:8}" | tr a-f A-F)" >"$T/story2" || fail "show --story in capitals failed"
assert_contains "$T/story2" "$n of $n articles" "show --story takes the id in capitals too"
"$NF" show "$CFG" "${S[@]}" --story "%" >"$T/story3" || fail "show --story % failed"
assert_contains "$T/story3" "0 of 0 articles" "show --story % is an id's first character, not a pattern"
# a store older than schema 4 has no story_members view: its articles are found all the same
cp "$DB" "$T/old.db"
sql "$T/old.db" "DROP VIEW story_members" >/dev/null
"$NF" show "$CFG" --set "state_dir=$T/var" --set "store.path=$T/old.db" --story "${story:0:8}" >"$T/story4" || fail "show --story on a store without story_members failed"
assert_contains "$T/story4" "$n of $n articles" "show --story over a store without story_members"
"$NF" show "$CFG" "${S[@]}" --since 2023-11-01 >"$T/since" || fail "show --since failed"
m=$(sql "$DB" "select count(*) from articles where coalesce(published_at, fetched_at) >= '2023-11-01'")
assert_contains "$T/since" "$m of $m articles" "show --since counts the articles from that day"
"$NF" query "$CFG" "${S[@]}" "Goïta" >"$T/q1" || fail "query failed"
grep -qE "^[1-9][0-9]* of [1-9][0-9]* articles? matching" "$T/q1" || { cat "$T/q1"; fail "query found nothing for Goïta"; }
ok "query finds Goïta"
"$NF" query "$CFG" "${S[@]}" 'al-Qaida "' >"$T/q2" 2>"$T/q2.err" || { cat "$T/q2.err"; fail "a query with a stray quote failed"; }
assert_contains "$T/q2.err" "searching for the words themselves" "a query that is not FTS5 syntax is searched as words"
"$NF" query "$CFG" "${S[@]}" "zzzunknownword" >"$T/q3" || fail "query without a match failed"
assert_contains "$T/q3" "0 of 0 articles matching" "a query without a match says so"
# The full-text index in parts (a new part at every commit that finds the newest holding one
# row): the sample in three runs of 2, 2 and 1 articles makes three parts. A search reads every
# part, finds each article once, best first.
DB2="$T/parts.db"
P=(--set "state_dir=$T/var2" --set "store.path=$DB2" --set store.fts_part=1)
for run in "000 001" "002 003" "004"; do
    rm -rf "$T/in"; mkdir "$T/in"
    for f in $run; do cp "$NF_SOURCE_DIR"/conf/sample/"$f"_* "$T/in/"; done
    "$NF" run "$CFG" --once "${P[@]}" --set "fetch.path=$T/in" >"$T/log2" 2>&1 || { cat "$T/log2"; fail "the run into parts failed"; }
done
parts=$(sql "$DB2" "select count(*) from articles_fts_parts")
assert_eq "$parts" 3 "three runs made three parts of the index"
"$NF" query "$CFG" "${P[@]}" "Mali" >"$T/q4" || fail "query over the parts failed"
assert_contains "$T/q4" "5 of 5 articles matching, best first" "query finds the 5 articles over $parts parts"
ids=$(awk 'NR > 2 && /^[0-9a-f]+  / { print $1 }' "$T/q4" | sort -u | wc -l)
assert_eq "$ids" 5 "each article once"
# best first: the order of the rows is the order of their bm25 in their parts
want=$(for k in $(sql "$DB2" "select name from articles_fts_parts"); do
           sql "$DB2" "select printf('%.17g', bm25($k)), substr(a.id, 1, 16) from $k join articles a on a.rowid = $k.rowid where $k match 'Mali'"
       done | sort -t'|' -k1,1g -k2,2 | cut -d'|' -f2 | tr '\n' ' ')
got=$(awk 'NR > 2 && /^[0-9a-f]+  / { printf "%s ", $1 }' "$T/q4")
assert_eq "$got" "$want" "rows ranked by bm25 across the parts"
echo "all passed"
