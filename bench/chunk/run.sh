#!/bin/sh
# run.sh [BUILD_DIR] [bench_chunk args...]: builds bench_chunk (release) and
# prints bytes/sample (head Gorilla vs sealed) and samples/s per data shape,
# for 120- and 480-sample chunks.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-bench}
[ $# -gt 0 ] && shift
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPROMLITE_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target bench_chunk >/dev/null
echo "bench_chunk on $(uname -m), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "columns: B/s = bytes per sample; raw/gor/pk = chunks sealed as raw/Gorilla/packed;"
echo "app = Gorilla append, decG/decS = decode Gorilla/sealed with dec_next, batS = sealed with dec_batch (M samples/s, one core)"
"$build/bin/bench_chunk" "$@"
