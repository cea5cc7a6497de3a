#!/bin/sh
# run.sh - exposition parsing throughput, single core, both formats and both
# strictness modes, on a generated node_exporter-like exposition of
# SERIES series (default 1,000,000) with histograms. Files go to a temporary
# directory that is removed afterwards.
#
#   sh bench/parse/run.sh [BUILD_DIR]     (default: build)
set -eu
cd "$(dirname "$0")/../.."
build=${1:-build}
series=${SERIES:-1000000}
iters=${ITERS:-5}
if [ ! -x "$build/bin/bench_parse" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j2 --target bench_parse >/dev/null
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-parse-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
b=$build/bin/bench_parse
$b gen --format=prometheus --series="$series" >"$tmp/metrics.prom"
$b gen --format=openmetrics --series="$series" >"$tmp/metrics.om"
ls -l "$tmp" | sed 1d | awk '{print "input: " $NF " " $5 " bytes"}'
# Pinned to one core when taskset exists: the parser is single-threaded.
pin=""
command -v taskset >/dev/null 2>&1 && pin="taskset -c 0"
for fmt in prometheus openmetrics; do
    f=$tmp/metrics.prom
    [ $fmt = openmetrics ] && f=$tmp/metrics.om
    $pin $b run --format=$fmt --iters="$iters" "$f"
    $pin $b run --format=$fmt --strict --iters="$iters" "$f"
done
