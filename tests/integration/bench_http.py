#!/usr/bin/env python3
"""HTTP benchmark: promlite and Prometheus side by side on the same data (not a test).

Starts `promlite server` and, when installed, Prometheus 2.42 (`prometheus`),
each on 127.0.0.1 with a free port and a temporary directory, sends both the
same remote-write requests (pre-encoded, so the sender's cost is not timed),
then runs Grafana-style range queries against both and prints the median
latency of each query and the ratio promlite / Prometheus.

usage: bench_http.py PATH/TO/promlite [--series 2000] [--samples 240] [--runs 7]
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server import free_port, snappy_literal, write_request  # noqa: E402


def start(cmd, port, log):
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % port, timeout=2) as r:
                if r.status == 200:
                    return p
        except Exception:
            pass
        time.sleep(0.05)
    p.kill()
    raise SystemExit("%s did not become ready" % cmd[0])


def post(port, body):
    req = urllib.request.Request("http://127.0.0.1:%d/api/v1/write" % port, data=body, method="POST",
                                 headers={"Content-Type": "application/x-protobuf",
                                          "Content-Encoding": "snappy",
                                          "X-Prometheus-Remote-Write-Version": "0.1.0"})
    with urllib.request.urlopen(req, timeout=60) as r:
        if r.status // 100 != 2:
            raise SystemExit("write failed: %d" % r.status)


def query(port, params):
    url = "http://127.0.0.1:%d/api/v1/query_range?%s" % (port, urllib.parse.urlencode(params))
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as r:
        body = r.read()
    return time.perf_counter() - t0, len(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("promlite")
    ap.add_argument("--prometheus", default=shutil.which("prometheus"))
    ap.add_argument("--series", type=int, default=2000, help="counter series (plus 10 buckets x 20 histograms)")
    ap.add_argument("--samples", type=int, default=240, help="samples per series, 15 s apart")
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args()

    step_ms = 15000
    now = (int(time.time()) // 15) * 15000
    t0 = now - a.samples * step_ms
    series = []
    for i in range(a.series):
        lab = {"__name__": "bench_requests_total", "job": "job%d" % (i % 10), "instance": "host%d:9100" % (i // 10),
               "code": "200"}
        series.append((lab, [(t0 + k * step_ms, float(k * (i % 7 + 1))) for k in range(a.samples)]))
    for h in range(20):
        for b, le in enumerate(["0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "10", "50", "+Inf"]):
            lab = {"__name__": "bench_latency_seconds_bucket", "job": "job%d" % (h % 10), "instance": "h%d" % h, "le": le}
            series.append((lab, [(t0 + k * step_ms, float(k * (b + 1))) for k in range(a.samples)]))
    # Requests of about 2000 samples, cut in time order as a remote-write sender does.
    per = max(1, 2000 // len(series)) if len(series) < 2000 else 1
    bodies = []
    for k0 in range(0, a.samples, per):
        batch, n = [], 0
        for lab, pts in series:
            batch.append((lab, pts[k0:k0 + per]))
            n += len(pts[k0:k0 + per])
            if n >= 2000:
                bodies.append(snappy_literal(write_request(batch)))
                batch, n = [], 0
        if batch:
            bodies.append(snappy_literal(write_request(batch)))
    total = len(series) * a.samples

    tmp = tempfile.mkdtemp(prefix="promlite-bench-")
    procs = []
    try:
        servers = []
        pl_port = free_port()
        log = open(os.path.join(tmp, "promlite.log"), "w")
        cfg = os.path.join(tmp, "prometheus.yml")
        open(cfg, "w").write("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
        procs.append(start([a.promlite, "server", "--web.listen-address=127.0.0.1:%d" % pl_port,
                            "--config.file=" + cfg,
                            "--storage.tsdb.path=" + os.path.join(tmp, "pl"), "--web.enable-remote-write-receiver",
                            "--log.level=warn"], pl_port, log))
        servers.append(("promlite", pl_port, procs[-1]))
        if a.prometheus:
            pr_port = free_port()
            log2 = open(os.path.join(tmp, "prometheus.log"), "w")
            procs.append(start([a.prometheus, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(tmp, "pr"),
                                "--web.listen-address=127.0.0.1:%d" % pr_port, "--web.enable-remote-write-receiver",
                                "--log.level=warn"], pr_port, log2))
            servers.append(("prometheus", pr_port, procs[-1]))

        print("data: %d series x %d samples = %d samples in %d remote-write requests" %
              (len(series), a.samples, total, len(bodies)))
        ingest = {}
        for name, port, _ in servers:
            t = time.perf_counter()
            for b in bodies:
                post(port, b)
            dt = time.perf_counter() - t
            ingest[name] = total / dt
            print("ingest %-10s %10.0f samples/s over HTTP (one sender)" % (name, ingest[name]))

        start_s = (t0 + 60 * 60 * 1000 if a.samples * 15 > 4000 else t0) / 1000.0
        end_s = (t0 + (a.samples - 1) * step_ms) / 1000.0
        queries = [
            ("rate", "rate(bench_requests_total[5m])"),
            ("sum by job", "sum by (job) (rate(bench_requests_total[5m]))"),
            ("topk", "topk(5, rate(bench_requests_total[5m]))"),
            ("histogram_quantile", "histogram_quantile(0.99, sum by (le) (rate(bench_latency_seconds_bucket[5m])))"),
        ]
        print("range queries from %.0f to %.0f, step 15s, median of %d runs:" % (start_s, end_s, a.runs))
        for label, q in queries:
            med = {}
            for name, port, _ in servers:
                params = {"query": q, "start": "%.3f" % start_s, "end": "%.3f" % end_s, "step": "15"}
                query(port, params)  # warm-up
                times = [query(port, params)[0] for _ in range(a.runs)]
                med[name] = statistics.median(times)
            line = "  %-20s promlite %8.2f ms" % (label, med["promlite"] * 1000)
            if "prometheus" in med:
                line += "   prometheus %8.2f ms   ratio %.2f" % (med["prometheus"] * 1000, med["promlite"] / med["prometheus"])
            print(line)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
