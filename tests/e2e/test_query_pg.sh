#!/usr/bin/env bash
# newsflow show and query over PostgreSQL (store_pg, conf/postgres.cfg) against a real server
# started for the test: the same columns and count lines as over SQLite, --limit, --story,
# --since, full-text search best first through the tsv column (and row by row when the stage
# has fts = false), and clear errors: a server that cannot be reached (named without its
# password), a conninfo that is not valid, a table that is not there.
# Skips when the PostgreSQL server is not installed.
. "$(dirname "$0")/lib.sh"
CFG="$NF_SOURCE_DIR/conf/postgres.cfg"
PGS="$NF_SOURCE_DIR/tests/support/pg_server.sh"
if [ -n "${NF_PG_BIN:-}" ]; then
    [ -x "$NF_PG_BIN/initdb" ] || skip "NF_PG_BIN=$NF_PG_BIN has no initdb"
else
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null ||
        skip "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin (Debian package postgresql, or set NF_PG_BIN)"
fi
PGDIR=$(mktemp -d /tmp/nf-pg.XXXXXX)
trap 'bash "$PGS" stop "$PGDIR" >/dev/null 2>&1; cleanup' EXIT
NEWSFLOW_PG=$(bash "$PGS" start "$PGDIR" $$) ||
    fail "cannot start a PostgreSQL server (tests/support/pg_server.sh)"
export NEWSFLOW_PG
ok "PostgreSQL started: $NEWSFLOW_PG"
q() { bash "$PGS" psql "$PGDIR" -c "$1"; }
S=(--set "state_dir=$T/var")
timeout 120 "$NF" run "$CFG" --once "${S[@]}" >"$T/log" 2>&1 ||
    { cat "$T/log"; fail "newsflow run conf/postgres.cfg --once failed"; }
assert_eq "$(q "select count(*) from articles")" 5 "the sample is stored in PostgreSQL"
id_of() { q "select left(id, 16) from articles where source_uri like '%/$1%'"; }
rows() { awk 'NR > 2 && /^[0-9a-f]+  / { print $1 }' "$1" | paste -sd ' '; }

# show: every article, latest first (the two undated ones by the time they were fetched, today)
"$NF" show "$CFG" "${S[@]}" >"$T/all" 2>"$T/all.err" || { cat "$T/all.err"; fail "show failed"; }
assert_contains "$T/all" "store store (database postgres on 127.0.0.1:" "the title line names the stage and the database"
assert_eq "$(sed -n 2p "$T/all" | tr -s ' ')" "id date outlet title story copy of" "the same columns as over SQLite"
assert_contains "$T/all" "5 of 5 articles, latest first" "show counts the five"
assert_eq "$(awk 'NR > 2 && /^[0-9a-f]+  / { print substr($0, 19, 10) }' "$T/all" | tr -s ' ' | paste -sd ,)" \
    " , ,2023-11-08,2023-11-06,2023-09-16" "latest first, by publication date (else fetch time)"
assert_contains "$T/all" "$(id_of 003_)  " "a row starts with the article's id"
grep -q "Axadle Times" "$T/all" || fail "the outlet column is empty"
ok "the outlet column shows the outlet"
"$NF" show "$CFG" "${S[@]}" --limit 2 >"$T/show" || fail "show --limit failed"
assert_contains "$T/show" "2 of 5 articles, latest first" "show --limit 2 shows 2 of the 5"
assert_eq "$(rows "$T/show" | wc -w)" 2 "two rows"
awk 'NR == 2 { for (i = 1; i <= length($0); i++) if (substr($0, i, 2) == "  " && substr($0, i + 2, 1) != " ") starts[++n] = i + 2 }
     NR > 2 && /^[0-9a-f]+  / { for (k = 1; k <= n; k++) if (substr($0, starts[k] - 2, 2) != "  ") { print "row " NR " runs into column " k; bad = 1 } }
     END { exit bad }' "$T/all" || { cat "$T/all"; fail "columns run into each other"; }
ok "columns never run into each other"

story=$(q "select story_id from articles group by story_id order by count(*) desc, story_id limit 1")
n=$(q "select count(*) from articles where story_id = '$story'")
"$NF" show "$CFG" "${S[@]}" --story "${story:0:8}" >"$T/story" || fail "show --story failed"
assert_contains "$T/story" "$n of $n articles" "show --story (by its first characters) shows its $n articles"
# (the story is each row's last word: no article of the sample is a copy)
assert_eq "$(awk 'NR > 2 && /^[0-9a-f]+  / { print $NF }' "$T/story" | sort -u)" "${story:0:16}" \
    "every row shown is of that story"
"$NF" show "$CFG" "${S[@]}" --story "$(echo "${story:0:16}" | tr a-f A-F)" >"$T/story2" || fail "show --story in capitals failed"
assert_contains "$T/story2" "$n of $n articles" "show --story takes the id in capitals too, as over SQLite"
"$NF" show "$CFG" "${S[@]}" --since 2023-11-01 >"$T/since" || fail "show --since failed"
assert_contains "$T/since" "4 of 4 articles" "show --since counts the articles from that day (two dated, two fetched today)"
"$NF" show "$CFG" "${S[@]}" --since 2023-11-07 --story "$(id_of 004_)" >"$T/since2" || fail "show --since --story failed"
assert_contains "$T/since2" "1 of 1 article," "--since and --story together"

# query: websearch syntax, best first
"$NF" query "$CFG" "${S[@]}" "Tiani" >"$T/q1" || fail "query failed"
assert_contains "$T/q1" "1 of 1 article matching, best first" "query finds the one article that names Tiani"
assert_eq "$(rows "$T/q1")" "$(id_of 004_)" "and it is 004"
"$NF" query "$CFG" "${S[@]}" "Mauritania or Liptako" >"$T/q2" || fail "query with or failed"
assert_eq "$(rows "$T/q2" | tr ' ' '\n' | sort | paste -sd ' ')" \
    "$(printf '%s\n' "$(id_of 000_)" "$(id_of 002_)" | sort | paste -sd ' ')" "'or' finds the texts with either word"
"$NF" query "$CFG" "${S[@]}" '"Burkina Faso" -Tiani' >"$T/q3" || fail "query with a phrase and a minus failed"
assert_contains "$T/q3" "4 of 4 articles matching" "a phrase, and a word left out"
"$NF" query "$CFG" "${S[@]}" "alliance" >"$T/q4" || fail "query alliance failed"
assert_contains "$T/q4" "4 of 4 articles matching" "alliance is in four texts"
assert_eq "$(rows "$T/q4" | cut -d' ' -f1)" "$(id_of 000_)" "best first: the one with alliance in its title"
"$NF" query "$CFG" "${S[@]}" "alliance" --limit 1 --since 2023-11-07 >"$T/q5" || fail "query with --since failed"
assert_contains "$T/q5" "1 of 2 articles matching" "query with --since and --limit (the two undated ones)"
"$NF" query "$CFG" "${S[@]}" 'al-Qaida "' >"$T/q6" 2>"$T/q6.err" || { cat "$T/q6.err"; fail "a query with a stray quote failed"; }
ok "a stray quote is no error"
"$NF" query "$CFG" "${S[@]}" "zzzunknownword" >"$T/q7" || fail "query without a match failed"
assert_contains "$T/q7" "0 of 0 articles matching" "a query without a match says so"

# a store without the full-text column (fts = false): searched row by row, and said so
timeout 120 "$NF" run "$CFG" --once --set "state_dir=$T/var2" --set store.table_prefix=plain_ \
    --set store.fts=false >"$T/log2" 2>&1 || { cat "$T/log2"; fail "the run with fts = false failed"; }
assert_eq "$(q "select count(*) from pg_attribute where attrelid = 'plain_articles'::regclass and attname = 'tsv'")" 0 \
    "with fts = false the table has no tsv column"
"$NF" query "$CFG" "${S[@]}" --set store.table_prefix=plain_ "Tiani" >"$T/p1" 2>"$T/p1.err" ||
    { cat "$T/p1.err"; fail "query without the tsv column failed"; }
assert_contains "$T/p1" "1 of 1 article matching" "without the column the query still finds Tiani"
assert_contains "$T/p1.err" "has no full-text column" "and says it searched row by row"
"$NF" query "$CFG" "${S[@]}" --set store.table_prefix=plain_ "alliance" >"$T/p2" 2>/dev/null || fail "query alliance without tsv failed"
assert_eq "$(rows "$T/p2" | cut -d' ' -f1)" "$(id_of 000_)" "row by row, the title still weighs more"

# errors: nothing on stdout, exit 1, a reason that names what to fix
expect_error() { # NAME TEXT ARGS...: fails unless the command fails with TEXT on stderr
    local name=$1 text=$2
    shift 2
    if "$NF" "$@" >"$T/err.out" 2>"$T/err"; then fail "$name: exited 0"; fi
    [ -s "$T/err.out" ] && fail "$name: printed on stdout: $(head -3 "$T/err.out")"
    assert_contains "$T/err" "$text" "$name"
}
expect_error "an unreachable server is named" "cannot reach the PostgreSQL server (user=reader dbname=news host=127.0.0.1 port=1)" \
    show "$CFG" "${S[@]}" --set "store.conninfo=host=127.0.0.1 port=1 user=reader password=hunter2 dbname=news"
grep -q hunter2 "$T/err" && fail "the message shows the password: $(cat "$T/err")"
ok "without its password"
expect_error "a URI's password is left out too" "cannot reach the PostgreSQL server (user=reader dbname=news host=127.0.0.1 port=1" \
    query "$CFG" "${S[@]}" --set "store.conninfo=postgresql://reader:hunter2@127.0.0.1:1/news" "Tiani"
grep -q hunter2 "$T/err" && fail "the message shows the URI's password: $(cat "$T/err")"
ok "without the URI's password"
expect_error "a conninfo that is not valid" "conninfo is not valid" \
    show "$CFG" "${S[@]}" --set "store.conninfo=host=127.0.0.1 port"
expect_error "a table that is not there" 'there is no table "none_articles"' \
    show "$CFG" "${S[@]}" --set store.table_prefix=none_
expect_error "a schema that is not there" 'there is no table "elsewhere"."articles"' \
    query "$CFG" "${S[@]}" --set store.schema=elsewhere "Tiani"
echo "all passed"
