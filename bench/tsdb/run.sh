#!/bin/sh
# bench/tsdb/run.sh - storage benchmarks, side by side with Prometheus's promtool.
#   sh bench/tsdb/run.sh [BUILD_DIR]   (default build/; SERIES, SAMPLES, READY_SERIES, READY_SAMPLES, RSS_SERIES override)
# Sizes are allocated bytes (du -B1): LMDB data files are sparse.
# Figures: append samples/s (one core), bytes/sample after sealing (data file over samples)
# for promlite import vs promtool create-blocks-from openmetrics on the same file, bytes/sample
# per data shape, memory per active series with 2 h in the head, time to ready, decode speed.
set -eu
B=${1:-build}
BIN=$B/bin
SERIES=${SERIES:-10000}
SAMPLES=${SAMPLES:-720}
READY_SERIES=${READY_SERIES:-200000}
RSS_SERIES=${RSS_SERIES:-100000}
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-tsdb-XXXXXX")
trap 'rm -rf "$W"' EXIT
echo "== data: $SERIES series x $SAMPLES samples (15 s), node_exporter-like mix"
"$BIN/bench_tsdb" gen "$W/data.om" "$SERIES" "$SAMPLES"
N=$((SERIES * SAMPLES))
ls -l "$W/data.om" | awk '{print "   file bytes:", $5}'

echo "== promlite import"
/usr/bin/time -f "   import: %e s wall, %M KiB max RSS" "$BIN/promlite" import --storage.tsdb.path="$W/promlite" "$W/data.om"
"$BIN/promlite" tsdb snapshot --storage.tsdb.path="$W/promlite" "$W/promlite-compact" >/dev/null
P=$(du -s -B1 "$W/promlite" | cut -f1)
PC=$(du -s -B1 "$W/promlite-compact" | cut -f1)
echo "   promlite data dir: $P bytes = $(echo "scale=3; $P / $N" | bc) bytes/sample; compacted snapshot: $(echo "scale=3; $PC / $N" | bc) bytes/sample"
"$BIN/promlite" tsdb stats --storage.tsdb.path="$W/promlite" --limit=3 | sed 's/^/   /'

if command -v promtool >/dev/null; then
  echo "== promtool tsdb create-blocks-from openmetrics (Prometheus $(promtool --version 2>&1 | head -1 | awk '{print $3}'))"
  /usr/bin/time -f "   promtool: %e s wall, %M KiB max RSS" promtool tsdb create-blocks-from openmetrics "$W/data.om" "$W/prom" >/dev/null
  Q=$(du -s -B1 "$W/prom" | cut -f1)
  echo "   prometheus blocks: $Q bytes = $(echo "scale=3; $Q / $N" | bc) bytes/sample"
  echo "   ratio promlite/prometheus: $(echo "scale=3; $P / $Q" | bc) (compacted $(echo "scale=3; $PC / $Q" | bc))"
fi

echo "== decode"
"$BIN/bench_tsdb" decode "$W/promlite"
echo "== bytes/sample by shape (2000 series x $SAMPLES)"
"$BIN/bench_tsdb" shapes "$W" 2000 "$SAMPLES"
echo "== append throughput (one thread)"
"$BIN/bench_tsdb" append "$W" "$SERIES" 200
echo "== memory per active series"
"$BIN/bench_tsdb" rss "$W/rss" "$RSS_SERIES"
echo "== time to ready"
"$BIN/bench_tsdb" ready "$W" "$READY_SERIES" "${READY_SAMPLES:-480}"
