#!/bin/sh
# bench/exporter/run.sh [BUILD_DIR] - CPU time per scrape and resident memory of
# promlite-exporter and node_exporter 1.5, side by side in one run.
#
# Both serve on free 127.0.0.1 ports. Each gets WARMUP scrapes, then SCRAPES
# scrapes (sequential, with Prometheus 2.42's Accept and Accept-Encoding: gzip
# headers); CPU per scrape is the utime+stime delta of the server process
# (/proc/PID/stat, all threads) divided by SCRAPES; memory is VmRSS and VmHWM
# from /proc/PID/status afterwards. node_exporter runs twice: with the same
# collectors as promlite-exporter (the like-for-like ratio) and with its
# defaults (what a stock install does).
#   SCRAPES=1000 WARMUP=50 sh bench/exporter/run.sh build
set -eu
BUILD=${1:-build}
SCRAPES=${SCRAPES:-1000}
WARMUP=${WARMUP:-50}
OURS="$BUILD/bin/promlite-exporter"
[ -x "$OURS" ] || { echo "build $OURS first" >&2; exit 1; }
NE=$(command -v prometheus-node-exporter || command -v node_exporter || true)
exec python3 - "$OURS" "$NE" "$SCRAPES" "$WARMUP" <<'PY'
import os, re, signal, socket, subprocess, sys, tempfile, time, urllib.request

ours, ne, scrapes, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
HZ = os.sysconf("SC_CLK_TCK")
COLLECTORS = ["cpu", "meminfo", "loadavg", "diskstats", "filesystem", "netdev", "netstat",
              "sockstat", "stat", "vmstat", "filefd", "pressure", "time", "uname", "os",
              "entropy", "conntrack", "netclass", "timex", "softnet", "arp", "udp_queues",
              "textfile"]
HEADERS = {"Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
           "Accept-Encoding": "gzip"}

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def cpu_ticks(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])  # utime, stime (fields 14, 15)

def mem_kb(pid, key):
    m = re.search(r"^%s:\s+(\d+) kB" % key, open("/proc/%d/status" % pid).read(), re.M)
    return int(m.group(1))

def run(name, argv, port):
    """Starts argv; port None means read it from the log (promlite-exporter port 0)."""
    log = tempfile.NamedTemporaryFile("w+", delete=False)
    p = subprocess.Popen(argv, stdout=log, stderr=log)
    try:
        end, ready = time.time() + 15, False
        while not ready:
            if time.time() > end:
                raise RuntimeError("%s did not start: %s" % (name, open(log.name).read()))
            if port is None:
                m = re.search(r"port=(\d+)", open(log.name).read())
                if not m:
                    time.sleep(0.05)
                    continue
                port = int(m.group(1))
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2).read()
                ready = True
            except OSError:
                time.sleep(0.05)
        url = "http://127.0.0.1:%d/metrics" % port
        size = 0
        for _ in range(warmup):
            urllib.request.urlopen(urllib.request.Request(url, headers=HEADERS), timeout=10).read()
        t0, w0 = cpu_ticks(p.pid), time.time()
        for _ in range(scrapes):
            body = urllib.request.urlopen(urllib.request.Request(url, headers=HEADERS),
                                          timeout=10).read()
            size = len(body)
        t1, w1 = cpu_ticks(p.pid), time.time()
        rss, hwm = mem_kb(p.pid, "VmRSS"), mem_kb(p.pid, "VmHWM")
        return {"name": name, "cpu_ms": (t1 - t0) * 1000.0 / HZ / scrapes, "rss": rss,
                "hwm": hwm, "wall_ms": (w1 - w0) * 1000.0 / scrapes, "bytes": size}
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill(); p.wait()
        os.unlink(log.name)

res = [run("promlite-exporter", [ours, "--web.listen-address=127.0.0.1:0"], None)]
if ne:
    for label, extra in [("node_exporter (same collectors)",
                          ["--collector.disable-defaults"] + ["--collector." + c for c in COLLECTORS]),
                         ("node_exporter (defaults)", [])]:
        port = free_port()
        res.append(run(label, [ne, "--web.listen-address=127.0.0.1:%d" % port] + extra, port))
print("scrapes=%d warmup=%d (Prometheus Accept header, gzip)" % (scrapes, warmup))
print("%-34s %12s %12s %10s %10s %10s" % ("exporter", "cpu ms/scr", "wall ms/scr", "RSS KiB",
                                          "peak KiB", "gz bytes"))
for r in res:
    print("%-34s %12.3f %12.3f %10d %10d %10d" % (r["name"], r["cpu_ms"], r["wall_ms"], r["rss"],
                                                   r["hwm"], r["bytes"]))
if len(res) > 1:
    for r in res[1:]:
        cpu = res[0]["cpu_ms"] / r["cpu_ms"] if r["cpu_ms"] else float("nan")
        mem = res[0]["rss"] / r["rss"]
        print("ratio promlite/%s: cpu %.3f (target <= 0.333), rss %.3f (target <= 0.200)"
              % (r["name"], cpu, mem))
else:
    print("node_exporter not installed: no ratios")
PY
