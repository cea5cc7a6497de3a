#!/bin/sh
# bench/query/run.sh [BUILD_DIR] - PromQL range-query latency of promlite and
# Prometheus 2.42 side by side, on the same data, in one run.
#
# 1. gen.py writes a node_exporter-like data set (OpenMetrics, seconds; 11,800
#    series, node_cpu_seconds_total has 10,000 of them, 15 s interval, HOURS
#    hours ending now).
# 2. The same file goes into Prometheus blocks (promtool tsdb create-blocks-from
#    openmetrics) and into a promlite data dir (promlite import); load times and
#    sizes are printed.
# 3. Both servers start on free 127.0.0.1 ports. Each query is run REPS times per
#    server, interleaved (P,L then L,P ...), as a Grafana-style POST to
#    /api/v1/query_range with Accept-Encoding: gzip. Latency is the wall time
#    until the last byte of the answer; CPU is the server's utime+stime delta
#    (/proc/PID/stat, all threads) per query. Median and p90 per query, and the
#    ratio promlite/Prometheus (target: <= 0.5).
# 4. The first answer of each server is decoded and compared: same series, same
#    timestamps, values within 1e-9 relative. A mismatch is printed loudly and
#    makes the script exit 1.
# 5. VmRSS / VmHWM of both servers after the queries.
#
#   sh bench/query/run.sh build            # REPS=20 HOURS=6.5 HOSTS=50 CPUS=25
#   REPS=5 HOURS=2 sh bench/query/run.sh build   # quicker, smaller
# Without promtool/prometheus installed, only promlite is measured.
# Builds BUILD_DIR/bin/promlite (RelWithDebInfo) when it is missing. The work
# directory (about 2.2 GB of text while loading) is removed at the end unless
# KEEP=1 (then REUSE=DIR reruns the queries on it without regenerating).
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
if [ ! -x "$build/bin/promlite" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROMLITE_TESTS=OFF >/dev/null
    cmake --build "$build" -j2 --target promlite >/dev/null
fi
exec python3 "$src/bench/query/bench.py" --promlite "$build/bin/promlite" \
    --gen "$src/bench/query/gen.py" --reps "${REPS:-20}" --hours "${HOURS:-6.5}" \
    --hosts "${HOSTS:-50}" --cpus "${CPUS:-25}" --keep "${KEEP:-0}" --reuse "${REUSE:-}"
