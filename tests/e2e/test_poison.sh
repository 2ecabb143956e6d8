#!/usr/bin/env bash
# A poison record: one article makes every worker that processes it abort. The supervisor
# restarts the workers, the source resends the unacknowledged records, the poison one ends in
# the dead-letter store after max_attempts, and every other article is stored.
# clean_text lifts only a headline of three words or more, so extract_meta (which takes the first
# line of a text without a title) is what makes "poison" the title that tp_poison aborts on.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/in"
cp "$NF_SOURCE_DIR"/conf/sample/00[0-4]_*.txt "$T/in/"
# Named to sort among the others: the source sends it between normal articles, in one batch.
cat >"$T/in/002b_poison.txt" <<'TXT'
poison

This article has a one-word first line that becomes its title. The stage after extraction aborts
on that title every time it sees it, so the record can never be acknowledged.

The pipeline must not lose the articles that travelled with it.
TXT
cat >"$T/poison.cfg" <<CFG
state_dir = "$T/var";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; ack_timeout_ms = 1000; max_attempts = 3; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; };
  extract = { plugin = "extract_meta"; inputs = ["clean"]; gazetteer = "$NF_SOURCE_DIR/conf/gazetteer.tsv"; };
  poison = { plugin = "tp_poison"; inputs = ["extract"]; workers = 2; };
  store = { plugin = "store_sqlite"; inputs = ["poison"]; path = "$T/db"; };
};
CFG
timeout 120 "$NF" run "$T/poison.cfg" --once >"$T/log" 2>&1
rc=$?
[ $rc -eq 0 ] || { cat "$T/log"; fail "the run exited $rc"; }
ok "the run finished (exit 0) despite the crashing record"

# Every normal article is stored, by its file name; the poison one is not.
for f in "$NF_SOURCE_DIR"/conf/sample/00[0-4]_*.txt; do
    uri="file://$T/in/$(basename "$f")"
    assert_eq "$(sql "$T/db" "select count(*) from articles where source_uri = '$uri'")" 1 \
        "$(basename "$f") stored"
done
assert_eq "$(sql "$T/db" "select count(*) from articles")" 5 "five articles stored, no more"
assert_eq "$(sql "$T/db" "select count(*) from articles where title = 'poison' or source_uri like '%poison%'")" 0 \
    "the poison article is not stored"

# It is in the dead-letter store, once, with the reason, from the source that gave up on it.
dl="$T/var/deadletter.db"
assert_eq "$(sql "$dl" "select count(*) from dead_letters")" 1 "exactly one dead letter"
assert_eq "$(sql "$dl" "select stage || ' ' || attempt || ' ' || source_uri from dead_letters")" \
    "fetch 3 file://$T/in/002b_poison.txt" "the dead letter is the poison file, from fetch, attempt 3"
"$NF" dlq list "$T/poison.cfg" >"$T/dlq" 2>&1 || { cat "$T/dlq"; fail "dlq list failed"; }
assert_contains "$T/dlq" "002b_poison.txt" "dlq list names the poison file"
assert_contains "$T/dlq" "not acknowledged after 3 attempts" "dlq list gives the reason"

# The workers that got it died of SIGABRT (the first try and each resend) and were restarted.
kills=$(grep -c "worker poison\[[01]\] killed by signal 6; restarting" "$T/log")
[ "$kills" -ge 3 ] || { cat "$T/log"; fail "expected a tp_poison worker killed by signal 6 on each of 3 attempts, saw $kills"; }
ok "tp_poison workers killed by signal 6 on each attempt ($kills)"
restarts=$(sed -n 's/.*worker poison\[[01]\]: peak RSS .*, restarts \([0-9]*\)$/\1/p' "$T/log" | paste -sd+ | bc)
assert_eq "$restarts" "$kills" "the supervisor restarted a tp_poison worker after each kill"
grep -q "killed by signal" <(grep -v "worker poison\[" "$T/log") && { cat "$T/log"; fail "a worker of another stage crashed"; }
ok "no other stage crashed"
assert_contains "$T/log" "records not acknowledged in time" "the source resent the unacknowledged records"
if grep -E "Sanitizer|runtime error:" "$T/log"; then fail "a sanitizer reported an error"; fi

# Several poison records among many: a worker that aborts loses every message queued to it, so
# normal records die with the poison ones on each try; none of them may end dead-lettered.
mkdir -p "$T/many"
for i in $(seq 1 40); do
    f=$(ls "$NF_SOURCE_DIR"/conf/sample/*.txt | sed -n "$((i % 5 + 1))p")
    cp "$f" "$T/many/$(printf %03d "$i").txt"
done
for i in 008 020 032; do cp "$T/in/002b_poison.txt" "$T/many/${i}b_poison.txt"; done
cat >"$T/many.cfg" <<CFG
state_dir = "$T/var-many";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/many"; ack_timeout_ms = 1000; max_attempts = 3; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; };
  extract = { plugin = "extract_meta"; inputs = ["clean"]; gazetteer = "$NF_SOURCE_DIR/conf/gazetteer.tsv"; };
  poison = { plugin = "tp_poison"; inputs = ["extract"]; workers = 2; };
  store = { plugin = "store_sqlite"; inputs = ["poison"]; path = "$T/many.db"; };
};
CFG
timeout 120 "$NF" run "$T/many.cfg" --once >"$T/many.log" 2>&1
rc=$?
[ $rc -eq 0 ] || { cat "$T/many.log"; fail "the run with three poison records exited $rc"; }
assert_eq "$(sql "$T/many.db" "select count(*) from articles")" 40 "all 40 normal articles stored beside three poison ones"
assert_eq "$(sql "$T/var-many/deadletter.db" "select count(*) from dead_letters where source_uri like '%_poison.txt'")/$(sql "$T/var-many/deadletter.db" "select count(*) from dead_letters")" \
    "3/3" "the three poison records, and only they, are dead letters"
if grep -E "Sanitizer|runtime error:" "$T/many.log"; then fail "a sanitizer reported an error"; fi
echo "all passed"
