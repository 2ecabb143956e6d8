#!/bin/sh
# Runs one libFuzzer binary for SECONDS over its seeds (tests/fuzz/corpus/<name>/, read only),
# keeping what it discovers and any crash input beside the binary, never in the source tree.
# Usage: tests/fuzz/run.sh BUILD/.../fuzz_<name> SECONDS
set -eu
bin=$1
secs=$2
name=$(basename "$bin")
name=${name#fuzz_}
here=$(cd "$(dirname "$0")" && pwd)
out=$(dirname "$bin")/fuzz-$name
mkdir -p "$out/corpus" "$out/artifacts"
seeds=""
[ -d "$here/corpus/$name" ] && seeds="$here/corpus/$name"
dict=""
[ -f "$here/$name.dict" ] && dict="-dict=$here/$name.dict"
# shellcheck disable=SC2086
exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/" $dict "$out/corpus" $seeds
