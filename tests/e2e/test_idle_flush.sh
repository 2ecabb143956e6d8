#!/usr/bin/env bash
# A batch is flushed as soon as its input is idle, not when flush_ms runs out: with every
# stage's flush_ms at ten minutes, the default pipeline still stores the five sample articles
# and a run --once ends (its source waits for their acknowledgements, which follow the store's
# commit). Before, the store waited flush_ms after the last record it got.
. "$(dirname "$0")/lib.sh"
CFG="$NF_SOURCE_DIR/conf/newsflow.cfg"
DB="$T/newsflow.db"
long=()
for stage in html clean extract sign dedup story store; do
    long+=(--set "$stage.flush_ms=600000")
done
timeout 60 "$NF" run "$CFG" --once --set state_dir="$T/var" --set store.path="$DB" \
    --set fetch.path="$NF_SOURCE_DIR/conf/sample" "${long[@]}" >"$T/log" 2>&1 \
    || { tail -20 "$T/log"; fail "newsflow run --once with flush_ms=600000 did not end within 60 s"; }
ok "newsflow run --once ended with every flush_ms at ten minutes"
assert_eq "$(sql "$DB" "select count(*) from articles")" 5 "five articles stored"
echo "all passed"
