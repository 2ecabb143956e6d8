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
echo "all passed"
