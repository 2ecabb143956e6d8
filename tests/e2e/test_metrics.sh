#!/usr/bin/env bash
# Metrics files: with metrics_dir set, every worker leaves METRICS_DIR/newsflow-STAGE-W.prom in
# the Prometheus text format, with the counts it logs; a metrics_dir that cannot be written is
# warned about and costs the pipeline nothing; a wrong value stops start-up with file:line.
. "$(dirname "$0")/lib.sh"
CFG="$NF_SOURCE_DIR/conf/newsflow.cfg"
M="$T/metrics"
timeout 120 "$NF" run "$CFG" --once --set state_dir="$T/var" --set store.path="$T/db" \
    --set metrics_dir="$M" >"$T/log" 2>&1 || { cat "$T/log"; fail "newsflow run --once failed"; }
ok "newsflow run --once with metrics_dir exited 0"
# the collector runs as another user: the directory and files are readable though state is not
[ "$(stat -c %a "$M")" = 755 ] || fail "the metrics directory is $(stat -c %a "$M"), not 755"
for f in "$M"/*.prom; do [ "$(stat -c %a "$f")" = 644 ] || fail "$f is $(stat -c %a "$f")"; done
ok "metrics directory 0755 and files 0644 under the workers' umask 077"
for s in fetch html clean extract sign dedup story store; do
    [ -f "$M/newsflow-$s-0.prom" ] || fail "no metrics file for $s[0]: $(ls "$M")"
done
ok "a metrics file for each of the 8 workers"
[ -z "$(find "$M" -name '*.tmp*')" ] || fail "temporary files left: $(ls "$M")"
ok "no temporary file left"
# Every line is a comment or NAME{LABELS} VALUE, every sample's family announced by # TYPE.
python3 - "$M" <<'PY' || fail "a metrics file is not in the Prometheus text format"
import os, re, sys
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\} (-?[0-9.]+(?:e[+-]?[0-9]+)?)$')
for name in os.listdir(sys.argv[1]):
    typed = set()
    for n, line in enumerate(open(os.path.join(sys.argv[1], name)), 1):
        line = line.rstrip('\n')
        if line.startswith('# TYPE '):
            typed.add(line.split()[2])
            continue
        if line.startswith('# HELP '):
            continue
        m = sample.match(line)
        if not m or m.group(1) not in typed:
            sys.exit(f'{name}:{n}: {line!r}')
PY
ok "every file is in the Prometheus text format"
assert_contains "$M/newsflow-store-0.prom" \
    'newsflow_stage_count_total{stage="store",worker="0",count="stored"} 5' "the store counted 5 stored"
assert_contains "$M/newsflow-fetch-0.prom" \
    'newsflow_stage_count_total{stage="fetch",worker="0",count="acked"} 5' "the source counted 5 acknowledged"

# A metrics_dir that cannot be made: a warning, and the articles are stored all the same.
touch "$T/not-a-dir"
timeout 120 "$NF" run "$CFG" --once --set state_dir="$T/var2" --set store.path="$T/db2" \
    --set metrics_dir="$T/not-a-dir/m" >"$T/log2" 2>&1 || { cat "$T/log2"; fail "the run failed"; }
assert_contains "$T/log2" "cannot make the metrics directory" "an unwritable metrics_dir is warned about"
assert_eq "$(sql "$T/db2" "select count(*) from articles")" 5 "five articles stored all the same"

# A wrong type in the file stops start-up with file:line.
printf 'metrics_dir = 5;\nstages = { f = { plugin = "fetch_dir"; path = "%s"; }; };\n' "$T" >"$T/bad.cfg"
if "$NF" check "$T/bad.cfg" >"$T/log3" 2>&1; then fail "a numeric metrics_dir was accepted"; fi
assert_contains "$T/log3" "bad.cfg:1" "the error names bad.cfg:1"
echo "all passed"
