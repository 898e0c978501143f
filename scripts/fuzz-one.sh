#!/bin/sh
# `make fuzz` runs this once per target, two at a time: scripts/fuzz-one.sh
# NAME SECONDS. It replays fuzz/corpus/NAME and tests/cases with
# build-fuzz/NAME (any crash, leak or slow input fails), then fuzzes for
# what is left of SECONDS (at least a quarter of it) from those and
# build-fuzz/work-NAME, with fuzz/dict/NAME.dict (http.dict for the three
# HTTP/1.1 parsers). libFuzzer's -max_total_time does not count the
# separate replay, hence the subtraction. FUZZ_TIMEOUT (seconds, default
# 10) fails any single slow input. Prints one line; on failure, the log's
# tail (a crashing input is saved as build-fuzz/NAME-crash-SHA1), and exits 1.
set -u
cd "$(dirname "$0")/.." || exit 1
name=$1
seconds=$2
timeout=${FUZZ_TIMEOUT:-10}
bin=build-fuzz/$name
log=build-fuzz/$name.log
art=build-fuzz/$name-
mkdir -p "fuzz/corpus/$name" "build-fuzz/work-$name"
case $name in
fuzz_reqhead | fuzz_resphead | fuzz_chunked) dict=fuzz/dict/http.dict ;;
*) dict=fuzz/dict/${name#fuzz_}.dict ;;
esac
set --
if [ -f "$dict" ]; then
    set -- "-dict=$dict"
fi

# One write per report, so the two parallel runs do not interleave lines.
fail() {
    printf '== %s: FAILED (%s)\n%s\n' "$name" "$1" "$(tail -50 "$log")"
    exit 1
}

start=$(date +%s)
"$bin" -runs=0 -timeout="$timeout" -artifact_prefix="$art" "fuzz/corpus/$name" tests/cases >"$log" 2>&1 ||
    fail "corpus replay; $log"
left=$((seconds - ($(date +%s) - start)))
if [ "$left" -lt $((seconds / 4)) ]; then
    left=$((seconds / 4))
fi
if [ "$left" -lt 1 ]; then
    left=1
fi
"$bin" -max_total_time="$left" -timeout="$timeout" -max_len=16384 -artifact_prefix="$art" "$@" \
    -print_final_stats=1 \
    "build-fuzz/work-$name" "fuzz/corpus/$name" tests/cases >"$log" 2>&1 ||
    fail "fuzzing; $log"
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
printf '== %-14s %3ss %10s execs  %s\n' "$name" "$(($(date +%s) - start))" "${runs:-?}" \
    "$(grep -E '^#[0-9]+' "$log" | tail -1)"
