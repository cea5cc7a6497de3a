#!/bin/sh
# bench/scrape/run.sh [BUILD_DIR] [TARGETS] [SECONDS] [SYNC]
#
# Scrape ingestion, promlite against Prometheus on the same targets: TARGETS
# loopback targets (default 50) serve one page of promlite-exporter output
# (captured at the start), scraped every 1s for SECONDS (default 60) by
# promlite's scrape manager (bench_scrape) and then by `prometheus` with the
# same prometheus.yml. SYNC (batch, the server's default; interval; none) is
# promlite's fsync policy: Prometheus does not fsync its WAL per scrape, so
# `interval` is the like-for-like setting. Reports CPU seconds per million samples ingested and
# resident memory for both, and the ratios. Runs one at a time (2 cores).
set -eu
B=${1:-build}
N=${2:-50}
T=${3:-60}
SYNC=${4:-batch}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-scrape-XXXXXX")
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# A base with N consecutive free ports, below the kernel's ephemeral range: a
# target port the kernel also hands out to an outgoing connection fails every
# scrape of that target and silently skews the figures.
free_base() {
    python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    base = random.randint(10000, max(10001, low - n - 1))
    socks = []
    try:
        for i in range(n):
            s = socket.socket(); s.bind(("127.0.0.1", base + i)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
}

# 1. Realistic content from the project's own exporter.
ep=$(free_port)
"$B/bin/promlite-exporter" --web.listen-address=127.0.0.1:$ep >/dev/null 2>&1 &
epid=$!
pids="$pids $epid"
i=0
until curl -sf "http://127.0.0.1:$ep/metrics" -o "$tmp/body.txt"; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "exporter did not start" >&2; exit 1; }
    sleep 0.1
done
kill $epid; wait $epid 2>/dev/null || true
lines=$(grep -vc '^#' "$tmp/body.txt")

# 2. The targets.
base=$(free_base "$N")
"$B/bin/bench_scrape" serve "$base" "$N" "$tmp/body.txt" >/dev/null &
pids="$pids $!"
sleep 0.5
{
    echo "global: {scrape_interval: 1s, scrape_timeout: 1s}"
    echo "scrape_configs:"
    echo "  - job_name: bench"
    echo "    static_configs:"
    echo "      - targets:"
    i=0
    while [ $i -lt "$N" ]; do echo "        - 127.0.0.1:$((base + i))"; i=$((i + 1)); done
} > "$tmp/prometheus.yml"

echo "targets=$N samples_per_page=$lines interval=1s duration=${T}s promlite_sync=$SYNC"

# 3. promlite.
out=$(BENCH_SYNC=$SYNC "$B/bin/bench_scrape" scrape "$tmp/prometheus.yml" "$tmp/pl" "$T")
echo "promlite:   $out"
pl_samples=$(echo "$out" | sed 's/.*samples=\([0-9]*\).*/\1/')
pl_cpu=$(echo "$out" | sed 's/.*cpu_s=\([0-9.]*\).*/\1/')
pl_rss=$(echo "$out" | sed 's/.*rss_kib=\([0-9]*\).*/\1/')

# 4. Prometheus, when installed.
if ! command -v prometheus >/dev/null 2>&1; then
    echo "prometheus not installed: no comparison"
    awk -v s="$pl_samples" -v c="$pl_cpu" -v r="$pl_rss" 'BEGIN {
        printf "promlite: %.3f cpu_s per million samples, rss %.1f MiB\n", c / (s / 1e6), r / 1024 }'
    exit 0
fi
pp=$(free_port)
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prom" \
    --web.listen-address=127.0.0.1:$pp >"$tmp/prom.log" 2>&1 &
ppid=$!
pids="$pids $ppid"
sleep "$T"
tck=$(getconf CLK_TCK)
pr_cpu=$(awk -v t="$tck" '{ printf "%.3f", ($14 + $15) / t }' /proc/$ppid/stat)
pr_rss=$(awk '/^VmRSS/ { print $2 }' /proc/$ppid/status)
pr_samples=$(curl -s "http://127.0.0.1:$pp/metrics" |
    awk '/^prometheus_tsdb_head_samples_appended_total/ { s += $2 } END { printf "%d", s }')
kill $ppid; wait $ppid 2>/dev/null || true
echo "prometheus: samples=$pr_samples cpu_s=$pr_cpu rss_kib=$pr_rss"
awk -v ps="$pl_samples" -v pc="$pl_cpu" -v pr="$pl_rss" -v qs="$pr_samples" -v qc="$pr_cpu" -v qr="$pr_rss" 'BEGIN {
    a = pc / (ps / 1e6); b = qc / (qs / 1e6)
    printf "cpu_s per million samples: promlite %.3f, prometheus %.3f (ratio %.2f)\n", a, b, a / b
    printf "rss: promlite %.1f MiB, prometheus %.1f MiB (ratio %.2f)\n", pr / 1024, qr / 1024, pr / qr }'
