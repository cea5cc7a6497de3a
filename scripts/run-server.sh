#!/bin/sh
# run-server.sh [FLAGS]: installs what is missing, builds, and runs
# `promlite server` in the foreground on its embedded default configuration.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec ./build/bin/promlite server "$@"
