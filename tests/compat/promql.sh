#!/usr/bin/env bash
# promql.sh SHARED_PROMQL_DIR: runs Prometheus's PromQL test suite (the
# runner and .test files in SHARED_PROMQL_DIR) against promlite.
#
# Starts build/bin/promlite (or $PROMLITE_BIN) on 127.0.0.1 with a free port
# and a temporary data directory, with no scrape targets, the remote-write
# receiver and the admin API on, runs promqltest_runner.py with `--clear delete`, stops the
# server, and prints the runner's output; its last line,
# `N passed, N failed, N skipped`, is what .ci/run reads.
# PROMQL_CLEAR=restart makes each `clear` restart promlite on an empty
# directory instead. Extra arguments after the directory go to the runner.
# Only the PIDs this script started are ever signalled.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${PROMLITE_BIN:-$root/build/bin/promlite}"

state=""
start_server() { # start_server PORT DATADIR
    printf 'global:\n  scrape_interval: 1m\nscrape_configs: []\n' >"$state/prometheus.yml"
    "$bin" server --web.listen-address="127.0.0.1:$1" --storage.tsdb.path="$2" \
        --config.file="$state/prometheus.yml" \
        --web.enable-remote-write-receiver --web.enable-admin-api --log.level=warn \
        >>"$state/server.log" 2>&1 &
    echo $! >"$state/pid"
}
stop_server() {
    [ -f "$state/pid" ] || return 0
    local pid
    pid="$(cat "$state/pid")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        wait "$pid" 2>/dev/null
    fi
    rm -f "$state/pid"
}

# Restart hook for the runner: promql.sh --restart STATE_DIR
if [ "${1:-}" = "--restart" ]; then
    state="$2"
    stop_server
    rm -rf "$state/data"
    start_server "$(cat "$state/port")" "$state/data"
    exit 0
fi

dir="${1:?usage: promql.sh SHARED_PROMQL_DIR [runner args]}"
shift
if [ ! -x "$bin" ]; then
    echo "promql.sh: $bin not built" >&2
    echo "0 passed, 0 failed, 0 skipped"
    exit 1
fi
state="$(mktemp -d "${TMPDIR:-/tmp}/promlite-promql-XXXXXX")"
trap 'stop_server; rm -rf "$state"' EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
echo "$port" >"$state/port"
start_server "$port" "$state/data"

ready=0
for _ in $(seq 600); do
    if ! kill -0 "$(cat "$state/pid")" 2>/dev/null; then break; fi
    if python3 -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$port/-/ready', timeout=2).status == 200 else 1)" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.1
done
if [ "$ready" != 1 ]; then
    echo "promql.sh: promlite did not become ready; its log:" >&2
    tail -20 "$state/server.log" >&2
    echo "0 passed, 0 failed, 0 skipped"
    exit 1
fi

if [ "${PROMQL_CLEAR:-delete}" = restart ]; then
    clear_args=(--restart-cmd "bash '$here/promql.sh' --restart '$state'")
else
    clear_args=(--clear delete)
fi
python3 "$dir/promqltest_runner.py" --url "http://127.0.0.1:$port" "${clear_args[@]}" "$@" "$dir" 2>&1
rc=$?
stop_server
exit $rc
