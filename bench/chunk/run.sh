#!/bin/sh
# run.sh [BUILD_DIR] [bench_chunk args...]: builds bench_chunk (release) and
# prints bytes/sample (head Gorilla vs sealed) and samples/s per data shape,
# for 120- and 480-sample chunks. When promtool is installed, it also turns
# the same series (a smaller set: PROM_SERIES per shape) into Prometheus
# blocks and prints Prometheus's bytes/sample next to ours.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-bench}
[ $# -gt 0 ] && shift
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPROMLITE_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target bench_chunk >/dev/null
bench=$build/bin/bench_chunk
echo "bench_chunk on $(uname -m), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "columns: gorB/s, strB/s, sealB/s = bytes per sample of open Gorilla chunks, open"
echo "TSDB_ENC_STREAM chunks and sealed chunks; raw/gor/pk = chunks sealed as raw/Gorilla/packed;"
echo "appG/appS = append into Gorilla/stream chunks, decG/decS = decode Gorilla/sealed with"
echo "dec_next, batS = sealed with dec_batch (M samples per CPU-second, one core);"
echo "sealus = CPU microseconds per tsdb_chunk_seal"
"$bench" "$@"

command -v promtool >/dev/null 2>&1 || { echo "promtool not installed: no Prometheus comparison"; exit 0; }
series=${PROM_SERIES:-100}
samples=1920
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-chunk-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# compare JITTER_MS: Prometheus blocks vs our sealed chunks on identical data.
compare() {
    jit=$1
    "$bench" --series "$series" --samples "$samples" --jitter "$jit" --export "$tmp/om"
    echo
    echo "same data ($series series x $samples samples per shape, 15 s, jitter sd $jit ms) in"
    echo "Prometheus $(promtool --version 2>&1 | head -1 | awk '{print $3}') blocks (promtool tsdb create-blocks-from openmetrics, 120-sample chunks)"
    echo "vs our sealed 120-sample chunks (bytes/sample; prom block includes its index)"
    printf "%-14s %12s %12s %12s\n" shape "prom chunks" "prom block" "ours sealed"
    ours=$("$bench" --series "$series" --samples "$samples" --jitter "$jit" --chunk 120 --reps 1)
    : >"$tmp/rows"
    for f in "$tmp"/om.*; do
        shape=${f##*.}
        rm -rf "$tmp/prom"
        promtool tsdb create-blocks-from openmetrics "$f" "$tmp/prom" >/dev/null 2>&1
        n=$((series * samples))
        chunks=$(cat "$tmp"/prom/*/chunks/* | wc -c)
        total=$(du -sb "$tmp/prom" | awk '{print $1}')
        mine=$(echo "$ours" | awk -v s="$shape" '$1 == s {print $5}')
        echo "$shape $chunks $total $n $mine" >>"$tmp/rows"
    done
    awk 'BEGIN { w["cpu_seconds"]=.10; w["bytes_counter"]=.15; w["memory_gauge"]=.12;
                 w["load_average"]=.05; w["histogram_bkt"]=.10; w["constant"]=.40;
                 w["random_float"]=.08 }
         { pc=$2/$4; pb=$3/$4; printf "%-14s %12.3f %12.3f %12.3f\n", $1, pc, pb, $5;
           mc+=w[$1]*pc; mb+=w[$1]*pb; mo+=w[$1]*$5 }
         END { printf "%-14s %12.3f %12.3f %12.3f\n", "node_exp mix", mc, mb, mo }' "$tmp/rows"
    rm -f "$tmp"/om.*
}
compare 2
compare 0
