#!/bin/sh
# Runs one libFuzzer binary for SECONDS over its seeds (tests/fuzz/corpus/<name>/, read only, and
# the fixture folders tests/fuzz/<name>.seeds names),
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
# NAME.seeds lists test fixture folders (from the repository's top) whose files seed the fuzzer
# too, so that the fixtures are not kept twice: gzipped ones are unpacked, files over 64 KiB
# left out (they slow every run more than they add).
if [ -f "$here/$name.seeds" ]; then
    fix="$out/fixtures"
    rm -rf "$fix" && mkdir -p "$fix"
    while read -r dir; do
        case $dir in '' | '#'*) continue ;; esac
        find "$here/../../$dir" -type f | while read -r f; do
            base=$(basename "$f")
            case $f in
            *.gz) gzip -dc "$f" >"$fix/${base%.gz}" 2>/dev/null || rm -f "$fix/${base%.gz}" ;;
            *) cp "$f" "$fix/$base" ;;
            esac
            [ ! -f "$fix/${base%.gz}" ] || [ "$(wc -c <"$fix/${base%.gz}")" -le 65536 ] ||
                rm -f "$fix/${base%.gz}"
        done
    done <"$here/$name.seeds"
    seeds="$seeds $fix"
fi
dict=""
[ -f "$here/$name.dict" ] && dict="-dict=$here/$name.dict"
# shellcheck disable=SC2086
exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/" $dict "$out/corpus" $seeds
