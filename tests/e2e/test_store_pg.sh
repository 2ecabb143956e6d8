#!/usr/bin/env bash
# The default pipeline storing into PostgreSQL (conf/postgres.cfg) over the bundled seed
# articles, against a real server started for the test: five rows with the facts the texts give,
# entities, full-text search; a second run over the same input stores nothing twice.
# Fails (does not skip) when the PostgreSQL server is not installed.
. "$(dirname "$0")/lib.sh"
CFG="$NF_SOURCE_DIR/conf/postgres.cfg"
PGS="$NF_SOURCE_DIR/tests/support/pg_server.sh"
PGDIR=$(mktemp -d /tmp/nf-pg.XXXXXX)
trap 'bash "$PGS" stop "$PGDIR" >/dev/null 2>&1; cleanup' EXIT
NEWSFLOW_PG=$(bash "$PGS" start "$PGDIR" $$) ||
    fail "cannot start a PostgreSQL server (tests/support/pg_server.sh); the Debian package postgresql is needed"
export NEWSFLOW_PG
ok "PostgreSQL started: $NEWSFLOW_PG"
q() { bash "$PGS" psql "$PGDIR" -c "$1"; }

timeout 120 "$NF" run "$CFG" --once --set state_dir="$T/var" >"$T/log" 2>&1 \
    || { cat "$T/log"; fail "newsflow run conf/postgres.cfg --once failed"; }
ok "newsflow run --once exited 0"
assert_contains "$T/log" "every source is exhausted and acknowledged" "supervisor saw the source finish"
assert_contains "$T/log" "storing into database postgres on 127.0.0.1" "the store stage is store_pg"
assert_eq "$(q "select count(*) from articles")" 5 "five articles stored"
assert_eq "$(q "select value from meta where key = 'schema_version'")" 1 "schema version recorded"
date_of() { q "select coalesce(published_at, '') from articles where source_uri like '%/$1%'"; }
assert_eq "$(date_of 000_)" 2023-11-06 "000 date from its header"
assert_eq "$(date_of 001_)" 2023-09-16 "001 date from its header"
assert_eq "$(date_of 004_)" 2023-11-08 "004 date from its header"
assert_eq "$(q "select count(*) from articles where published_at is not null")" 3 "only 000, 001 and 004 are dated"
facts() { q "select coalesce(title,'-') || ' | ' || coalesce(byline,'-') || ' | ' || coalesce(outlet,'-') || ' | ' || coalesce(dateline_place,'-') from articles where source_uri like '%/$1%'"; }
assert_eq "$(facts 000_)" "In a groundbreaking move, Mali, Burkina Faso, and Niger have signed a historic pact known as the Alliance of Sahel States | - | - | -" "000 title"
assert_eq "$(facts 001_)" "In a significant development on September 16th, three West African Sahel nations—Mali, Niger, and Burkina Faso—governed by military juntas, came together to ink a security pact | - | - | -" "001 title"
assert_eq "$(facts 002_)" "Mali, Niger, and Burkina Faso, three countries in the Sahel region of West Africa governed by military councils, signed a security agreement today, Saturday, pledging to assist each other in the… | - | - | -" "002 title"
assert_eq "$(facts 003_)" "Mali, Burkina Faso and Niger forge NATO-like pact to fight Sahel insurgents | Ali Musa | Axadle Times | Bamako" "003 title, byline, outlet, dateline"
assert_eq "$(facts 004_)" "Niger has taken a significant step to strengthen regional security cooperation by authorizing the armed forces of Mali and Burkina Faso to intervene on its territory in the event of an attack | - | - | -" "004 title"
all_ents() { q "select string_agg(e.type || ':' || e.name || ':' || e.mentions, '|' order by e.name, e.type) from entities e join articles a on a.id = e.article_id where a.source_uri like '%/$1%'"; }
assert_eq "$(all_ents 003_)" "place:Bamako:1|place:Burkina Faso:2|org:Islamic State:1|place:Mali:3|org:NATO:2|place:Niger:2|place:Sahel:2|org:al-Qaeda:1" "003 entities, all and only"
assert_eq "$(all_ents 004_)" "person:Abdourahamane Tiani:1|place:Burkina Faso:3|org:ECOWAS:4|place:Mali:3|place:Niger:9|place:West Africa:1" "004 entities, all and only"
assert_eq "$(q "select count(*) from articles where lang = 'en'")" 5 "all five in English"
assert_eq "$(q "select count(*) from articles where story_id is not null")" 5 "every article has its story"
assert_eq "$(q "select count(*) from articles where tsv @@ plainto_tsquery('simple', 'Bamako')")" 1 "full-text search finds Bamako"
assert_eq "$(q "select string_agg(substring(source_uri from '[0-9]+_'), ',') from articles where tsv @@ plainto_tsquery('simple', 'Tiani')")" 004_ \
    "full-text search finds 004 by a name in its text"
assert_eq "$(q "select string_agg(substring(source_uri from '[0-9]+_'), ',' order by source_uri) from articles where tsv @@ to_tsquery('simple', 'Mauritania | Liptako')")" 000_,002_ \
    "full-text search finds the texts with either word"
n_ents=$(q "select count(*) from entities")
stamp=$(q "select max(stored_at) from articles")

# A second run from scratch (new state: every record goes through again) upserts the same rows.
timeout 120 "$NF" run "$CFG" --once --set state_dir="$T/var2" >"$T/log2" 2>&1 \
    || { cat "$T/log2"; fail "second run failed"; }
assert_eq "$(q "select count(*) from articles")" 5 "a second run stores nothing twice"
assert_eq "$(q "select count(*) from entities")" "$n_ents" "nor any entity twice"
assert_eq "$(q "select count(*) from articles where stored_at > '$stamp'")" 5 "the second run did write the five rows again"
assert_eq "$(q "select count(*) from refused")" 0 "nothing refused"

# A record the server refuses for what it holds (here a CHECK constraint an operator added)
# ends in the dead-letter store with the server's reason when it comes back; the other four
# are stored and the run completes.
q "CREATE TABLE chk_articles(id text PRIMARY KEY, source_uri text, source_kind text,
   fetched_at text, content_type text, title text, byline text, outlet text, published_at text,
   dateline_place text, lang text, url text, text text, dup_of text, story_id text, raw bytea,
   extra jsonb, stored_at timestamptz NOT NULL DEFAULT now(),
   CONSTRAINT no_tiani CHECK (text NOT LIKE '%Tiani%'))" >/dev/null
timeout 180 "$NF" run "$CFG" --once --set state_dir="$T/var3" --set store.table_prefix=chk_ \
    --set fetch.ack_timeout_ms=1500 >"$T/log3" 2>&1 \
    || { cat "$T/log3"; fail "run with a refusing table failed"; }
ok "a run with a refused record completes"
grep -qE "refused [0-9]+ of [0-9]+ records .*: [0-9a-f]{32}: new row for relation" "$T/log3" ||
    fail "no flush named the refused record: $(grep -i refused "$T/log3" | head -3)"
ok "the flush names the refused record and why"
assert_eq "$(q "select count(*) from chk_articles")" 4 "the other four are stored"
"$NF" dlq list "$CFG" --set state_dir="$T/var3" >"$T/dlq" 2>&1 || fail "dlq list failed"
assert_contains "$T/dlq" 'violates check constraint "no_tiani" (SQLSTATE 23514)' "the dead letter has the server's reason"
# (a record resent while its first copy was on its way may be dead-lettered once per copy)
assert_contains "$T/dlq" "/004_" "the dead letter is the article that names Tiani"
assert_eq "$(grep -c 'file://' "$T/dlq")" "$(grep -c '/004_' "$T/dlq")" "no other article was dead-lettered"
assert_eq "$(q "select count(*) from chk_refused")" 0 "the refusal was used up"

# The server is down when the pipeline starts: the store starts anyway (the pipeline does not
# stop), its flushes fail until the server is back, and the records come back until they are
# stored.
bash "$PGS" halt "$PGDIR" || fail "cannot halt the server"
timeout 180 "$NF" run "$CFG" --once --set state_dir="$T/var4" --set store.table_prefix=late_ \
    --set fetch.ack_timeout_ms=1000 >"$T/log4" 2>&1 &
run_pid=$!
PIDS+=("$run_pid")
wait_for 60 grep -q "nothing is stored until it answers" "$T/log4" ||
    { cat "$T/log4"; fail "the store did not report the server as unreachable"; }
ok "the store started without its server"
bash "$PGS" resume "$PGDIR" || fail "cannot start the server again"
wait "$run_pid" || { cat "$T/log4"; fail "the run with a late server failed"; }
ok "the run completed once the server was back"
assert_eq "$(q "select count(*) from late_articles")" 5 "all five stored after all"
echo "all passed"
