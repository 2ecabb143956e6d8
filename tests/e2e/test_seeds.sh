#!/usr/bin/env bash
# The default pipeline over the bundled seed articles: every stage its own process, five rows
# in SQLite with the facts the texts give.
. "$(dirname "$0")/lib.sh"
CFG="$NF_SOURCE_DIR/conf/newsflow.cfg"
DB="$T/newsflow.db"
timeout 120 "$NF" run "$CFG" --once --set state_dir="$T/var" --set store.path="$DB" >"$T/log" 2>&1 \
    || { cat "$T/log"; fail "newsflow run --once failed"; }
ok "newsflow run --once exited 0"
grep -E "AddressSanitizer|LeakSanitizer|runtime error:" "$T/log" && { cat "$T/log"; fail "a sanitizer reported an error"; }
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
# Every fact of every seed, and nothing more: titles, bylines, outlets, datelines and the
# complete entity lists with their mentions (type:name:mentions, by name).
facts() { sql "$DB" "select coalesce(title,'-') || ' | ' || coalesce(byline,'-') || ' | ' || coalesce(outlet,'-') || ' | ' || coalesce(dateline_place,'-') from articles where source_uri like '%/$1%'"; }
assert_eq "$(facts 000_)" "In a groundbreaking move, Mali, Burkina Faso, and Niger have signed a historic pact known as the Alliance of Sahel States | - | - | -" "000 title, no byline, outlet or dateline"
assert_eq "$(facts 001_)" "In a significant development on September 16th, three West African Sahel nations—Mali, Niger, and Burkina Faso—governed by military juntas, came together to ink a security pact | - | - | -" "001 title, no byline, outlet or dateline"
assert_eq "$(facts 002_)" "Mali, Niger, and Burkina Faso, three countries in the Sahel region of West Africa governed by military councils, signed a security agreement today, Saturday, pledging to assist each other in the… | - | - | -" "002 title cut at 200 characters, no byline, outlet or dateline"
assert_eq "$(facts 003_)" "Mali, Burkina Faso and Niger forge NATO-like pact to fight Sahel insurgents | Ali Musa | Axadle Times | Bamako" "003 title, byline, outlet, dateline"
assert_eq "$(facts 004_)" "Niger has taken a significant step to strengthen regional security cooperation by authorizing the armed forces of Mali and Burkina Faso to intervene on its territory in the event of an attack | - | - | -" "004 title, no byline, outlet or dateline"
assert_eq "$(sql "$DB" "select count(*) from articles where published_at is not null")" 3 "only 000, 001 and 004 are dated"
all_ents() { sql "$DB" "select group_concat(x, '|') from (select e.type || ':' || e.name || ':' || e.mentions as x from entities e join articles a on a.id = e.article_id where a.source_uri like '%/$1%' order by e.name, e.type)"; }
assert_eq "$(all_ents 000_)" "org:Alliance of Sahel States:2|place:Burkina Faso:5|place:France:2|place:Liptako-Gourma:1|place:Mali:5|place:Niger:5|place:Sahel:3" "000 entities, all and only"
assert_eq "$(all_ents 001_)" "org:Alliance of Sahel States:2|person:Assimi Goïta:1|place:Burkina Faso:3|org:ECOWAS:3|place:France:4|org:G5 Sahel:1|org:Islamic State:1|place:Mali:5|place:Niger:5|place:Sahel:2|org:al-Qaeda:1" "001 entities, all and only"
assert_eq "$(all_ents 002_)" "org:Alliance of Sahel States:2|person:Assimi Goïta:1|place:Burkina Faso:4|place:Chad:1|org:ECOWAS:2|place:France:4|org:G5 Sahel:1|org:Islamic State:1|place:Liptako-Gourma:1|place:Mali:6|place:Mauritania:1|person:Mohamed Bazoum:1|place:Niger:5|place:Sahel:1|place:West Africa:1|org:al-Qaeda:1" "002 entities, all and only"
assert_eq "$(all_ents 003_)" "place:Bamako:1|place:Burkina Faso:2|org:Islamic State:1|place:Mali:3|org:NATO:2|place:Niger:2|place:Sahel:2|org:al-Qaeda:1" "003 entities, all and only"
assert_eq "$(all_ents 004_)" "person:Abdourahamane Tiani:1|place:Burkina Faso:3|org:ECOWAS:4|place:Mali:3|place:Niger:9|place:West Africa:1" "004 entities, all and only"
# The committed gazetteer is what conf/make-gazetteer.py makes of the curated list and iso-codes.
if command -v python3 >/dev/null && [ -e /usr/share/iso-codes/json/iso_3166-1.json ]; then
    python3 "$NF_SOURCE_DIR/conf/make-gazetteer.py" --check --out "$NF_SOURCE_DIR/conf/gazetteer.tsv" \
        || fail "conf/gazetteer.tsv is stale: run python3 conf/make-gazetteer.py"
    ok "conf/gazetteer.tsv is up to date"
else
    echo "note: python3 or iso-codes missing, gazetteer freshness not checked"
fi
assert_eq "$(sql "$DB" "select count(*) from articles where lang = 'en'")" 5 "all five in English"
assert_eq "$(sql "$DB" "select count(*) from articles_fts where articles_fts match 'Bamako'")" 1 "full-text search finds Bamako"
# A second run over the same input upserts: still five rows, nothing twice.
timeout 120 "$NF" run "$CFG" --once --set state_dir="$T/var" --set store.path="$DB" >"$T/log2" 2>&1 \
    || { cat "$T/log2"; fail "second run failed"; }
assert_eq "$(sql "$DB" "select count(*) from articles")" 5 "a second run stores nothing twice"
"$NF" show "$CFG" --set store.path="$DB" >"$T/show" || fail "newsflow show failed"
assert_contains "$T/show" "5 articles" "newsflow show lists the store"
echo "all passed"
