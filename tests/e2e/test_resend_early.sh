#!/usr/bin/env bash
# A worker that dies takes the records it held with it. The supervisor tells the sources at once
# (SIGURG), and they resend what they sent more than a second ago, instead of waiting for the
# acknowledgements to be overdue: with ack_timeout_ms at 60 s, a run whose clean worker is killed
# twice while it holds records still ends within seconds, with every article stored once. Such a
# resend is no attempt of the record's own: with max_attempts at 2, none is dead-lettered.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/in"
# enough articles that the run is still going at the second kill: batches are committed as soon
# as the store's input is idle, and 600 could all be stored between the two
python3 - "$NF_SOURCE_DIR/conf/sample" "$T/in" 3000 <<'PY'
import glob, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
texts = [open(f, encoding="utf-8").read() for f in sorted(glob.glob(src + "/00[0-4]_*.txt"))]
for i in range(1, n + 1):
    with open(f"{dst}/a{i}.txt", "w", encoding="utf-8") as f:
        f.write(texts[i % 5] + f"Article {i}.\n")
PY
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
assert_eq "$(sql "$T/db" "select count(*) from articles")" 3000 "every article is stored once"
dead=0
[ -f "$T/var/deadletter.db" ] && dead=$(sql "$T/var/deadletter.db" "select count(*) from dead_letters")
assert_eq "$dead" 0 "nothing is dead-lettered for the resends the deaths caused"
echo "all passed"
