#!/bin/sh
# exporter_install.sh BUILD_DIR SOURCE_DIR - libpromlite-client as a user gets
# it: `cmake --install` into a temporary prefix, then build the example
# against the installed header via pkg-config (shared and static), run it and
# scrape it, compile the header as C++, and check that the shared library
# exports only exp_* symbols.
set -eu
BUILD=$1
SRC=$2
prefix=$(mktemp -d "${TMPDIR:-/tmp}/exporter-install-XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$prefix"
}
trap cleanup EXIT
cmake --install "$BUILD" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name promlite-client.pc | head -1)
[ -n "$pc" ] || { echo "FAIL: promlite-client.pc not installed"; exit 1; }
[ -f "$prefix/include/promlite/client.h" ] || { echo "FAIL: header not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
libdir=$(pkg-config --variable=libdir promlite-client)
[ -f "$libdir/libpromlite-client.a" ] || { echo "FAIL: static library not installed"; exit 1; }
[ -e "$libdir/libpromlite-client.so" ] || { echo "FAIL: shared library not installed"; exit 1; }

cc ${EXTRA_CFLAGS:-} -Wall -Werror -o "$prefix/ex_shared" "$SRC/exporter/examples/example.c" \
    $(pkg-config --cflags --libs promlite-client) -lpthread
cc ${EXTRA_CFLAGS:-} -Wall -Werror -o "$prefix/ex_static" "$SRC/exporter/examples/example.c" \
    $(pkg-config --cflags promlite-client) "$libdir/libpromlite-client.a" \
    $(pkg-config --libs libmicrohttpd zlib) -lm -lpthread
printf '#include <promlite/client.h>\nint main() { struct exp_registry *r; if (exp_registry_new(&r)) return 1; exp_registry_free(r); return 0; }\n' \
    > "$prefix/t.cc"
c++ ${EXTRA_CFLAGS:-} -Wall -Werror -o "$prefix/t_cxx" "$prefix/t.cc" $(pkg-config --cflags --libs promlite-client)
LD_LIBRARY_PATH="$libdir" "$prefix/t_cxx"

bad=$(nm -D --defined-only "$libdir/libpromlite-client.so" | awk '{print $3}' | grep -v '^exp_' | grep -v '^__odr_asan' || true)
[ -z "$bad" ] || { echo "FAIL: exported non-API symbols: $bad"; exit 1; }

for ex in ex_shared ex_static; do
    LD_LIBRARY_PATH="$libdir" "$prefix/$ex" 127.0.0.1:0 20 > "$prefix/$ex.out" &
    pid=$!
    port=
    for i in $(seq 100); do
        port=$(sed -n 's|.*127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$prefix/$ex.out" 2>/dev/null || true)
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || { echo "FAIL: $ex did not start"; exit 1; }
    body=$(curl -sf "http://127.0.0.1:$port/metrics")
    for want in 'example_jobs_total{result="ok"}' 'example_job_duration_seconds_count 4000' \
        'example_job_size_bytes{quantile="0.5"}' 'process_resident_memory_bytes' \
        'example_queue_length 0'; do
        case "$body" in *"$want"*) ;; *) echo "FAIL: $ex: missing $want"; exit 1 ;; esac
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
done
echo "install, pkg-config (shared, static), C++ header, symbol visibility and example: ok"
