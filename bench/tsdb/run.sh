#!/bin/sh
# bench/tsdb/run.sh - storage benchmarks, side by side with Prometheus's promtool.
#   sh bench/tsdb/run.sh [BUILD_DIR]   (default build/; SERIES, SAMPLES, READY_SERIES, READY_SAMPLES, RSS_SERIES, CHURN_SERIES, CHURN_HOURS override)
# Sizes are allocated bytes (du -B1): LMDB data files are sparse.
# Figures: bytes/sample on disk (data directory over samples) for promlite import (backfill +
# repack) vs promtool create-blocks-from openmetrics vs VictoriaMetrics on the same file, with
# promlite's breakdown by LMDB database; the server path (the same data scraped in time order);
# decode speed; bytes/sample per data shape; append samples/s (one core); memory per active
# series with 2 h in the head; time to ready.
set -eu
B=${1:-build}
BIN=$B/bin
SERIES=${SERIES:-10000}
SAMPLES=${SAMPLES:-720}
READY_SERIES=${READY_SERIES:-200000}
RSS_SERIES=${RSS_SERIES:-100000}
CHURN_SERIES=${CHURN_SERIES:-20000}
CHURN_HOURS=${CHURN_HOURS:-6}
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
"$BIN/promlite" tsdb stats --storage.tsdb.path="$W/promlite" --limit=0 | sed 's/^/   /'

if command -v promtool >/dev/null; then
  echo "== promtool tsdb create-blocks-from openmetrics (Prometheus $(promtool --version 2>&1 | head -1 | awk '{print $3}'))"
  /usr/bin/time -f "   promtool: %e s wall, %M KiB max RSS" promtool tsdb create-blocks-from openmetrics "$W/data.om" "$W/prom" >/dev/null
  Q=$(du -s -B1 "$W/prom" | cut -f1)
  echo "   prometheus blocks: $Q bytes = $(echo "scale=3; $Q / $N" | bc) bytes/sample"
  echo "   ratio promlite/prometheus: $(echo "scale=3; $P / $Q" | bc) (compacted $(echo "scale=3; $PC / $Q" | bc))"
fi

if command -v victoria-metrics >/dev/null && command -v curl >/dev/null; then
  echo "== VictoriaMetrics $(victoria-metrics -version 2>&1 | head -1) /api/v1/import/prometheus"
  "$BIN/bench_tsdb" gen-text "$W/data.prom" "$SERIES" "$SAMPLES"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  victoria-metrics -storageDataPath="$W/vm" -retentionPeriod=100y -httpListenAddr="127.0.0.1:$PORT" \
    -loggerLevel=ERROR >"$W/vm.log" 2>&1 &
  VMPID=$!
  i=0
  until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.1
  done
  curl -sf --data-binary @"$W/data.prom" "http://127.0.0.1:$PORT/api/v1/import/prometheus"
  curl -sf "http://127.0.0.1:$PORT/internal/force_flush" >/dev/null || true
  sleep 5
  kill "$VMPID"; wait "$VMPID" 2>/dev/null || true
  V=$(du -s -B1 "$W/vm" | cut -f1)
  echo "   victoria-metrics data dir: $V bytes = $(echo "scale=3; $V / $N" | bc) bytes/sample"
  echo "   ratio promlite/victoria-metrics: $(echo "scale=3; $P / $V" | bc) (compacted $(echo "scale=3; $PC / $V" | bc))"
  rm -f "$W/data.prom"
fi

echo "== server path (the same shapes scraped in time order, one commit per scrape, then closed)"
"$BIN/bench_tsdb" server-size "$W/server" "$SERIES" "$SAMPLES" | sed 's/^/   /'
"$BIN/promlite" tsdb stats --storage.tsdb.path="$W/server" --limit=0 | sed -n '/^space/,/file extent/p' | sed 's/^/   /'
rm -rf "$W/server"
echo "== decode (user+sys CPU of the whole run in brackets)"
/usr/bin/time -f "   [%U s user, %S s sys]" "$BIN/bench_tsdb" decode "$W/promlite"
echo "== bytes/sample by shape (2000 series x $SAMPLES)"
"$BIN/bench_tsdb" shapes "$W" 2000 "$SAMPLES"
echo "== append throughput (one thread)"
"$BIN/bench_tsdb" append "$W" "$SERIES" 200
echo "== memory per active series"
"$BIN/bench_tsdb" rss "$W/rss" "$RSS_SERIES"
echo "== head series under pod churn, without and with eviction"
"$BIN/bench_tsdb" churn "$W" "$CHURN_SERIES" "$CHURN_HOURS"
echo "== time to ready"
"$BIN/bench_tsdb" ready "$W" "$READY_SERIES" "${READY_SAMPLES:-480}"
