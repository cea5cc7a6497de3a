#!/bin/sh
# test.sh: installs what is missing, builds, and runs every test: the unit and
# integration tests (ctest), the same suite under ASan+UBSan, and each fuzz
# target for a bounded time. Exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh --test
jobs=$(nproc)

echo "== build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs" >/dev/null
echo "== ctest"
(cd build && ctest --output-on-failure -j"$jobs")

echo "== build (ASan+UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPROMLITE_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs" >/dev/null
echo "== ctest under ASan+UBSan"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j"$jobs")

if [ -d tests/fuzz ] && ls tests/fuzz/fuzz_*.c >/dev/null 2>&1; then
    echo "== fuzz (libFuzzer, bounded)"
    cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
        -DPROMLITE_FUZZ=ON -DPROMLITE_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
    cmake --build build-fuzz -j"$jobs" >/dev/null
    secs=${PROMLITE_FUZZ_SECONDS:-30}
    for f in build-fuzz/bin/fuzz_*; do
        name=$(basename "$f")
        corpus=tests/fuzz/corpus/$name
        scratch=$(mktemp -d)
        echo "-- $name for ${secs}s"
        "$f" -max_total_time="$secs" -max_len=65536 -print_final_stats=0 "$scratch" "$corpus" \
            >"$scratch.log" 2>&1 || { tail -50 "$scratch.log"; exit 1; }
        rm -rf "$scratch" "$scratch.log"
    done
fi
echo "== all tests passed"
