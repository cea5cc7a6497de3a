#!/usr/bin/env python3
"""bench/query/bench.py - driver of run.sh: loads one data set into promlite and
Prometheus, runs the same range queries through both HTTP APIs interleaved, compares
the answers and prints latency/CPU medians and ratios. See run.sh for the method."""
import argparse
import gzip
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HZ = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_ticks(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def mem_kb(pid, key):
    m = re.search(r"^%s:\s+(\d+) kB" % key, open("/proc/%d/status" % pid).read(), re.M)
    return int(m.group(1))


def du(path):
    """Bytes allocated on disk (LMDB map files are sparse)."""
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return total


def timed(argv, log):
    t0 = time.time()
    with open(log, "w") as lf:
        rc = subprocess.call(argv, stdout=lf, stderr=subprocess.STDOUT)
    if rc != 0:
        sys.exit("%s failed (exit %d):\n%s" % (argv[0], rc, open(log).read()[-2000:]))
    return time.time() - t0


class Server:
    def __init__(self, name, argv, port, log):
        self.name, self.port = name, port
        self.url = "http://127.0.0.1:%d" % port
        self.log = open(log, "w")
        t0 = time.time()
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        while True:
            if self.p.poll() is not None:
                sys.exit("%s exited at start:\n%s" % (name, open(log).read()[-2000:]))
            if time.time() - t0 > 180:
                self.stop()
                sys.exit("%s not ready after 180 s" % name)
            try:
                if urllib.request.urlopen(self.url + "/-/ready", timeout=2).status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        self.ready_s = time.time() - t0

    def query(self, expr, start, end, step):
        body = urllib.parse.urlencode({"query": expr, "start": start, "end": end,
                                       "step": step}).encode()
        req = urllib.request.Request(self.url + "/api/v1/query_range", data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Accept-Encoding": "gzip"})
        c0 = cpu_ticks(self.p.pid)
        t0 = time.perf_counter()
        with urllib.request.urlopen(req, timeout=300) as r:
            data = r.read()
            enc = r.headers.get("Content-Encoding", "")
        t1 = time.perf_counter()
        c1 = cpu_ticks(self.p.pid)
        return t1 - t0, (c1 - c0) / HZ, data, enc

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def decode(data, enc):
    if enc == "gzip":
        data = gzip.decompress(data)
    j = json.loads(data)
    if j.get("status") != "success":
        raise RuntimeError("query failed: %s" % data[:300])
    return j["data"]["result"]


def fval(s):
    return float(s)  # Python reads "NaN", "+Inf", "-Inf"


def compare(a, b):
    """Returns a list of differences between two matrix results (a=promlite, b=Prometheus)."""
    diffs = []
    ka = [tuple(sorted(x["metric"].items())) for x in a]
    kb = [tuple(sorted(x["metric"].items())) for x in b]
    ma, mb = dict(zip(ka, a)), dict(zip(kb, b))
    only_a, only_b = set(ka) - set(kb), set(kb) - set(ka)
    if only_a:
        diffs.append("%d series only in promlite, e.g. %s" % (len(only_a), sorted(only_a)[0]))
    if only_b:
        diffs.append("%d series only in Prometheus, e.g. %s" % (len(only_b), sorted(only_b)[0]))
    if not only_a and not only_b and ka != kb:
        diffs.append("series order differs")
    nbad = 0
    for k in set(ka) & set(kb):
        va, vb = ma[k]["values"], mb[k]["values"]
        if [t for t, _ in va] != [t for t, _ in vb]:
            nbad += 1
            if nbad <= 3:
                diffs.append("timestamps differ for %s: %d vs %d points" % (k, len(va), len(vb)))
            continue
        for (t, x), (_, y) in zip(va, vb):
            x, y = fval(x), fval(y)
            if x == y or (math.isnan(x) and math.isnan(y)):
                continue
            if abs(x - y) <= 1e-9 * max(abs(x), abs(y)):
                continue
            nbad += 1
            if nbad <= 3:
                diffs.append("value differs for %s at %s: %r vs %r" % (k, t, x, y))
            break
    if nbad > 3:
        diffs.append("... %d series differ in all" % nbad)
    return diffs


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(math.ceil(p * len(s))) - 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--promlite", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--hours", type=float, default=6.5)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--cpus", type=int, default=25)
    ap.add_argument("--keep", type=int, default=0)
    ap.add_argument("--reuse", default="", help="work dir of a KEEP=1 run: skip generate/load")
    a = ap.parse_args()
    if a.hours < 6.2:
        print("note: HOURS < 6.2: the 6 h query reaches before the data")
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    both = bool(promtool and prometheus)
    work = a.reuse or tempfile.mkdtemp(prefix="bench-query-")
    om = os.path.join(work, "data.om")
    pl_dir, pr_dir = os.path.join(work, "promlite"), os.path.join(work, "prometheus")
    servers = []
    failed = False
    try:
        print("bench/query on %s, %d cores, %s; load average %s" % (
            os.uname().machine, os.cpu_count(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            open("/proc/loadavg").read().split()[0]))
        if a.reuse:
            meta = open(os.path.join(work, "meta")).read().split()
            start, end, nser, nsamp = (int(x) for x in meta)
            print("reusing %s" % work)
        else:
            t0 = time.time()
            out = subprocess.check_output([sys.executable, a.gen, "--out", om, "--hosts",
                                           str(a.hosts), "--cpus", str(a.cpus), "--hours",
                                           str(a.hours)])
            start, end, nser, nsamp = (int(x) for x in out.split())
            open(os.path.join(work, "meta"), "w").write(out.decode())
            print("generated %d series, %d samples, %.0f MB of OpenMetrics in %.1f s" % (
                nser, nsamp, os.path.getsize(om) / 1e6, time.time() - t0))
            if both:
                t = timed([promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", om,
                           pr_dir], os.path.join(work, "promtool.log"))
                print("load Prometheus: promtool tsdb create-blocks-from openmetrics: %.1f s "
                      "(%.0f samples/s)" % (t, nsamp / t))
            t = timed([a.promlite, "import", "--storage.tsdb.path=" + pl_dir, om],
                      os.path.join(work, "import.log"))
            print("load promlite:   promlite import: %.1f s (%.0f samples/s)" % (t, nsamp / t))
            if not a.keep:
                os.unlink(om)
        print("data dir size: promlite %.1f MB (%.2f B/sample)" % (du(pl_dir) / 1e6,
                                                                   du(pl_dir) / nsamp), end="")
        if both:
            print(", Prometheus %.1f MB (%.2f B/sample)" % (du(pr_dir) / 1e6,
                                                            du(pr_dir) / nsamp))
        else:
            print()

        port = free_port()
        pl = Server("promlite", [a.promlite, "server", "--storage.tsdb.path=" + pl_dir,
                                 "--web.listen-address=127.0.0.1:%d" % port,
                                 "--storage.tsdb.retention.time=100y", "--log.level=warn"],
                    port, os.path.join(work, "promlite.log"))
        servers.append(pl)
        if both:
            cfg = os.path.join(work, "empty.yml")
            open(cfg, "w").write("scrape_configs: []\n")
            port = free_port()
            # min=max=2h: the blocks stay as promtool wrote them, so no compaction runs
            # in the background while we measure.
            pr = Server("Prometheus", [prometheus, "--storage.tsdb.path=" + pr_dir,
                                       "--config.file=" + cfg,
                                       "--web.listen-address=127.0.0.1:%d" % port,
                                       "--storage.tsdb.retention.time=100y",
                                       "--storage.tsdb.min-block-duration=2h",
                                       "--storage.tsdb.max-block-duration=2h",
                                       "--log.level=warn"],
                        port, os.path.join(work, "prometheus.log"))
            servers.append(pr)
        print("ready after start: " + ", ".join("%s %.1f s" % (s.name, s.ready_s)
                                                for s in servers))

        e15 = end - end % 15
        e60 = end - end % 60
        queries = [
            ("rate 1k", 'rate(node_cpu_seconds_total{cluster="c0"}[5m])', 3600, 15, e15),
            ("rate 10k", "rate(node_cpu_seconds_total[5m])", 3600, 15, e15),
            ("sum by mode", "sum by (mode) (rate(node_cpu_seconds_total[5m]))", 3600, 15, e15),
            ("hist_quantile", "histogram_quantile(0.99, sum by (le) "
             "(rate(http_request_duration_seconds_bucket[5m])))", 3600, 15, e15),
            ("topk 5 of 10k", "topk(5, rate(node_cpu_seconds_total[5m]))", 3600, 15, e15),
            ("sum by mode 6h", "sum by (mode) (rate(node_cpu_seconds_total[5m]))", 6 * 3600,
             60, e60),
        ]
        print("queries: query_range end=%d (last sample), step 15 s over 1 h unless noted" % end)
        stats = {}
        for qname, expr, rng, step, qend in queries:
            print("  %-15s %s  [%s, step %ds]" % (qname, expr, "%dh" % (rng // 3600), step))
            shapes = []
            results = []
            for s in servers:  # warm-up run, also the one compared
                _, _, data, enc = s.query(expr, qend - rng, qend, step)
                res = decode(data, enc)
                results.append(res)
                shapes.append((len(res), sum(len(x["values"]) for x in res), len(data)))
            stats[qname] = {"shape": shapes, "lat": {s.name: [] for s in servers},
                            "cpu": {s.name: [] for s in servers}}
            if both:
                d = compare(results[0], results[1])
                if d:
                    failed = True
                    print("!!!!!! MISMATCH promlite vs Prometheus on %s: %s" % (qname, expr))
                    for x in d:
                        print("!!!!!!   " + x)
        for rep in range(a.reps):
            for qname, expr, rng, step, qend in queries:
                order = servers if rep % 2 == 0 else servers[::-1]
                for s in order:
                    lat, cpu, _, _ = s.query(expr, qend - rng, qend, step)
                    stats[qname]["lat"][s.name].append(lat)
                    stats[qname]["cpu"][s.name].append(cpu)

        print("\n%d runs per query and server, interleaved; ms = wall latency to last byte, "
              "cpu = server CPU ms per query" % a.reps)
        hdr = "%-15s %7s %8s | %9s %9s %8s" % ("query", "series", "points", "pl med", "pl p90",
                                                 "pl cpu")
        if both:
            hdr += " | %9s %9s %8s | %7s %7s" % ("prom med", "prom p90", "prom cpu",
                                                 "lat L/P", "cpu L/P")
        print(hdr)
        ratios = []
        for qname, *_ in queries:
            st = stats[qname]
            ser, pts, _ = st["shape"][0]
            L = st["lat"]["promlite"]
            Lc = sum(st["cpu"]["promlite"]) / len(L) * 1000
            line = "%-15s %7d %8d | %9.1f %9.1f %8.1f" % (qname, ser, pts, pct(L, .5) * 1000,
                                                          pct(L, .9) * 1000, Lc)
            if both:
                P = st["lat"]["Prometheus"]
                Pc = sum(st["cpu"]["Prometheus"]) / len(P) * 1000
                r = pct(L, .5) / pct(P, .5)
                ratios.append(r)
                line += " | %9.1f %9.1f %8.1f | %7.3f %7.3f" % (
                    pct(P, .5) * 1000, pct(P, .9) * 1000, Pc, r, Lc / Pc if Pc else float("nan"))
            print(line)
        if ratios:
            print("median latency ratio promlite/Prometheus: geometric mean %.3f, worst %.3f "
                  "(target <= 0.5)" % (math.exp(sum(map(math.log, ratios)) / len(ratios)),
                                       max(ratios)))
        for s in servers:
            print("%s after the queries: VmRSS %.1f MB (anon %.1f, file %.1f), VmHWM %.1f MB" % (
                s.name, mem_kb(s.p.pid, "VmRSS") / 1024, mem_kb(s.p.pid, "RssAnon") / 1024,
                mem_kb(s.p.pid, "RssFile") / 1024, mem_kb(s.p.pid, "VmHWM") / 1024))
        print("results: " + ("MISMATCHES (see above)" if failed else
                             ("identical series and values (1e-9 relative)" if both
                              else "not compared (no Prometheus)")))
    finally:
        for s in servers:
            s.stop()
        if not a.keep and not a.reuse:
            shutil.rmtree(work, ignore_errors=True)
        elif not a.reuse:
            print("kept %s (rerun with --reuse %s)" % (work, work))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
