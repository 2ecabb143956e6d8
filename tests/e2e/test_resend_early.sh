#!/usr/bin/env bash
# A worker that dies takes the records it held with it. The supervisor tells the sources at once
# (SIGURG), and they resend what they sent more than a second ago, instead of waiting for the
# acknowledgements to be overdue: with ack_timeout_ms at 60 s, a run whose clean worker is killed
# twice while it holds records still ends within seconds, with every article stored once. Such a
# resend is no attempt of the record's own: with max_attempts at 2, none is dead-lettered.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/in"
for i in $(seq 600); do
    { cat "$NF_SOURCE_DIR"/conf/sample/00$((i % 5))_*.txt; echo "Article $i."; } >"$T/in/a$i.txt"
done
cat >"$T/e.cfg" <<CFG
state_dir = "$T/var";
stages = {
  fetch = { plugin = "fetch_dir"; path = "$T/in"; window = 100; ack_timeout_ms = 60000;
            max_attempts = 2; };
  clean = { plugin = "clean_text"; inputs = ["fetch"]; };
  dedup = { plugin = "dedup"; inputs = ["clean"]; in_read_order = true; };
  store = { plugin = "store_sqlite"; inputs = ["dedup"]; path = "$T/db"; };
};
CFG
"$NF" run "$T/e.cfg" --once >"$T/log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
# clean stops taking records: the window fills up in its queue; then it is killed with them,
# twice
for round in 1 2; do
    wait_for 20 pgrep -f "newsflow stage $T/e.cfg clean --worker 0" || fail "no clean worker"
    clean=$(pgrep -f "newsflow stage $T/e.cfg clean --worker 0")
    kill -STOP "$clean"
    sleep 1.5
    kill -KILL "$clean"
    t0=$SECONDS
    sleep 0.5
done
until=$((SECONDS + 40))
while kill -0 "$SUP" 2>/dev/null; do
    [ $SECONDS -ge $until ] && { tail -20 "$T/log"; fail "the run did not end within 40 s of the kill"; }
    sleep 0.2
done
wait "$SUP" || { tail -20 "$T/log"; fail "the run failed"; }
took=$((SECONDS - t0))
echo "the run ended $took s after the kill"
[ "$took" -lt 30 ] || fail "the lost records waited for their acknowledgement timeout ($took s)"
assert_contains "$T/log" "resent_early=" "the source resent early what the dead worker held"
assert_eq "$(sql "$T/db" "select count(*) from articles")" 600 "every article is stored once"
dead=0
[ -f "$T/var/deadletter.db" ] && dead=$(sql "$T/var/deadletter.db" "select count(*) from dead_letters")
assert_eq "$dead" 0 "nothing is dead-lettered for the resends the deaths caused"
echo "all passed"
