#!/usr/bin/env python3
"""Query latency of promlite against Prometheus 2.42, side by side, over HTTP.

Starts promlite (--web.enable-remote-write-receiver, temp data dir) and a
throw-away Prometheus (shared/promql-tests/prometheus_ctl.sh), both on free
loopback ports, sends both the same data by remote write (counters on 1k and
10k series, a 10-bucket histogram on 100 instances, 15s interval), then runs
Grafana-style range queries (last 1h at 15s steps) against each in turn and
prints the median latency of N runs and the ratio promlite/Prometheus.

usage: bench_http.py PROMLITE_BIN SUITE_DIR [--minutes 75] [--runs 5]
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_ready(url, proc=None, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            sys.exit("server exited early")
        try:
            urllib.request.urlopen(url + "/api/v1/query?query=1&time=0", timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    sys.exit("server not ready: " + url)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("promlite")
    ap.add_argument("suite")
    ap.add_argument("--minutes", type=int, default=75)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, args.suite)
    import promqltest_runner as R

    step = 15000
    npts = args.minutes * 60000 // step
    now = int(time.time() * 1000) // step * step
    base = now - (npts - 1) * step
    series = []
    for name, n in (("small_total", 1000), ("big_total", 10000)):
        for i in range(n):
            labels = {"__name__": name, "job": "node", "instance": "host-%d:9100" % (i // 10),
                      "code": str(200 + (i % 10) * 10)}
            inc = 1 + (i % 7)
            series.append((labels, [float(k * inc) for k in range(npts)]))
    les = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]
    for i in range(100):
        for b, le in enumerate(les):
            labels = {"__name__": "req_duration_seconds_bucket", "job": "api",
                      "instance": "host-%d:9100" % i, "le": le}
            series.append((labels, [float(k * (b + 1)) for k in range(npts)]))

    class Load:
        pass
    load = Load()
    load.step_ms = step
    # The runner's ingest writes samples at t = index * step: shift by base.
    tmp = tempfile.mkdtemp(prefix="bench-query-")
    procs = []
    try:
        pl_port, pr_port = free_port(), free_port()
        wrap = os.environ.get("BENCH_WRAP", "").split()
        pl = subprocess.Popen(wrap + [args.promlite, "server", "--web.listen-address=127.0.0.1:%d" % pl_port,
                               "--storage.tsdb.path=%s/pl" % tmp, "--storage.tsdb.sync=none",
                               "--web.enable-remote-write-receiver", "--log.level=warn"],
                              stdout=subprocess.DEVNULL, stderr=open(tmp + "/pl.log", "w"))
        procs.append(pl)
        env = dict(os.environ, PROM_WORKDIR=tmp + "/prom")
        subprocess.run([args.suite + "/prometheus_ctl.sh", "start", str(pr_port)], env=env, check=True)
        urls = {"promlite": "http://127.0.0.1:%d" % pl_port, "prometheus": "http://127.0.0.1:%d" % pr_port}
        wait_ready(urls["promlite"], pl)
        wait_ready(urls["prometheus"])

        class A:
            pass
        for name, url in urls.items():
            a = A()
            a.url, a.timeout, a.ingest, a.write_path, a.batch_samples = url, 120, "remote-write", "/api/v1/write", 20000
            c = R.Client(a)
            t0 = time.time()
            # Time-ordered batches of (labels, [(t, v)]).
            for k0 in range(0, npts, 4):
                batch = [(lab, [(base + k * step, vals[k]) for k in range(k0, min(k0 + 4, npts))])
                         for lab, vals in series]
                err = c._send_batch(batch)
                if err:
                    sys.exit("%s: %s" % (name, err))
            print("ingested %d series x %d samples into %s in %.1fs" % (len(series), npts, name, time.time() - t0))

        start, end = (now - 3600000) / 1000.0, now / 1000.0
        queries = [q for q in os.environ.get("BENCH_QUERIES", "").split(";") if q] or [
            "rate(small_total[5m])",
            "rate(big_total[5m])",
            "sum by (code) (rate(big_total[5m]))",
            "histogram_quantile(0.99, sum by (le) (rate(req_duration_seconds_bucket[5m])))",
            "topk(5, rate(big_total[5m]))",
        ]
        print("%-80s %12s %12s %7s" % ("query (range 1h, step 15s)", "promlite ms", "prom ms", "ratio"))
        for q in queries:
            lat = {"promlite": [], "prometheus": []}
            for r in range(args.runs + 1):
                for name in ("promlite", "prometheus"):
                    u = urls[name] + "/api/v1/query_range?" + urllib.parse.urlencode(
                        {"query": q, "start": start, "end": end, "step": "15"})
                    t0 = time.perf_counter()
                    body = urllib.request.urlopen(u, timeout=120).read()
                    dt = (time.perf_counter() - t0) * 1000
                    if b'"success"' not in body[:40]:
                        sys.exit("%s failed %s: %s" % (name, q, body[:200]))
                    if r > 0:  # the first run warms caches
                        lat[name].append(dt)
            a, b = statistics.median(lat["promlite"]), statistics.median(lat["prometheus"])
            print("%-80s %12.1f %12.1f %7.2f" % (q, a, b, a / b))
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run([args.suite + "/prometheus_ctl.sh", "stop", str(pr_port)],
                       env=dict(os.environ, PROM_WORKDIR=tmp + "/prom"))
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
