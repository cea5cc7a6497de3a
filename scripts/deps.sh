#!/bin/sh
# deps.sh [--test]: installs the Debian packages promlite needs, only when some
# are missing (apt-get update runs only then). --test adds what the test suite
# uses: cmocka, clang's fuzzer runtime, and the real Prometheus peers.
set -eu
pkgs="build-essential cmake pkg-config libmicrohttpd-dev liblmdb-dev libsnappy-dev
libcurl4-openssl-dev libyaml-dev libjansson-dev libprotobuf-c-dev protobuf-c-compiler
libpcre2-dev libxxhash-dev zlib1g-dev libssl-dev"
if [ "${1:-}" = "--test" ]; then
    pkgs="$pkgs libcmocka-dev clang libclang-rt-14-dev python3 curl prometheus
prometheus-node-exporter victoria-metrics"
else
    # The default build compiles the unit tests too.
    pkgs="$pkgs libcmocka-dev"
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages:$missing (run as root, or install them)" >&2
    exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The Debian prometheus packages start their services where systemd runs;
# policy-rc.d keeps them from starting (we run our own instances on free ports).
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
