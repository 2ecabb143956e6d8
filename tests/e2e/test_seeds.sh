#!/usr/bin/env bash
# The default pipeline over the bundled seed articles: every stage its own process, five rows
# in SQLite with the facts the texts give.
. "$(dirname "$0")/lib.sh"
CFG="$NF_SOURCE_DIR/conf/newsflow.cfg"
DB="$T/newsflow.db"
timeout 120 "$NF" run "$CFG" --once --set state_dir="$T/var" --set store.path="$DB" >"$T/log" 2>&1 \
    || { cat "$T/log"; fail "newsflow run --once failed"; }
ok "newsflow run --once exited 0"
assert_contains "$T/log" "every source is exhausted and acknowledged" "supervisor saw the source finish"
for s in fetch clean extract dedup store; do
    assert_contains "$T/log" "$s[0]" "stage $s ran as its own worker"
done
assert_eq "$(sql "$DB" "select count(*) from articles")" 5 "five articles stored"
date_of() { sql "$DB" "select coalesce(published_at,'') from articles where source_uri like '%/$1%'"; }
assert_eq "$(date_of 000_)" 2023-11-06 "000 date from its header"
assert_eq "$(date_of 001_)" 2023-09-16 "001 date from its header"
assert_eq "$(date_of 004_)" 2023-11-08 "004 date from its header"
assert_eq "$(sql "$DB" "select title from articles where source_uri like '%/003_%'")" \
    "Mali, Burkina Faso and Niger forge NATO-like pact to fight Sahel insurgents" "003 title"
assert_eq "$(sql "$DB" "select byline || '|' || outlet from articles where source_uri like '%/003_%'")" \
    "Ali Musa|Axadle Times" "003 byline and outlet"
assert_eq "$(sql "$DB" "select dateline_place from articles where source_uri like '%/003_%'")" \
    "Bamako" "003 dateline place"
assert_eq "$(sql "$DB" "select count(*) from articles where text like '%Advertisement%'")" 0 \
    "no Advertisement in any body"
assert_eq "$(sql "$DB" "select count(*) from articles where text like '%date 2023%'")" 0 \
    "no date header in any body"
ents() { sql "$DB" "select group_concat(name, '|') from (select e.name from entities e join articles a on a.id = e.article_id where a.source_uri like '%/$1%' order by e.name)"; }
has_ent() { case "|$(ents "$1")|" in *"|$2|"*) ok "$1 has $2";; *) fail "$1 lacks entity $2: $(ents "$1")";; esac; }
for e in "Assimi Goïta" "al-Qaeda" "Islamic State" "Alliance of Sahel States" "ECOWAS" "Mali" "Niger" "Burkina Faso"; do
    has_ent 001_ "$e"
    has_ent 002_ "$e"
done
assert_eq "$(sql "$DB" "select count(*) from entities where name in ('Goita','Goïta','al Qaeda','al-Qaida','ISIS','Sahel States Alliance')")" 0 \
    "only canonical entity names"
assert_eq "$(sql "$DB" "select count(*) from articles where lang = 'en'")" 5 "all five in English"
assert_eq "$(sql "$DB" "select count(*) from articles_fts where articles_fts match 'Bamako'")" 1 "full-text search finds Bamako"
# A second run over the same input upserts: still five rows, nothing twice.
timeout 120 "$NF" run "$CFG" --once --set state_dir="$T/var" --set store.path="$DB" >"$T/log2" 2>&1 \
    || { cat "$T/log2"; fail "second run failed"; }
assert_eq "$(sql "$DB" "select count(*) from articles")" 5 "a second run stores nothing twice"
"$NF" show "$CFG" --set store.path="$DB" >"$T/show" || fail "newsflow show failed"
assert_contains "$T/show" "5 articles" "newsflow show lists the store"
echo "all passed"
