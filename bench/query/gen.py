#!/usr/bin/env python3
"""bench/query/gen.py - node_exporter-like data set for the PromQL latency benchmark.

Writes OpenMetrics 1.0 text (timestamps in seconds, ending in "# EOF"): the input of
`promtool tsdb create-blocks-from openmetrics` and of `promlite import`, so both servers
hold exactly the same samples.

Per host (instance="host-NN:9100"; cluster="cK" groups HOSTS_PER_CLUSTER hosts):
  node_cpu_seconds_total{cpu,mode}       CPUS x 8 modes counters (0.01 s resolution)
  node_network_{receive,transmit}_bytes_total{device}  3 devices each, integer counters
  node_memory_MemAvailable_bytes, node_load1, node_filesystem_avail_bytes{mountpoint} x2
  http_request_duration_seconds{handler,method} histogram (job="api"): 2 handlers x
      (10 finite buckets + "+Inf" + _count + _sum)
With the defaults (50 hosts, 25 CPUs): node_cpu_seconds_total has 10,000 series, and
node_cpu_seconds_total{cluster="c0"} has 1,000; 11,800 series in all.
One host ("host-07") reboots at 60% of the range: its counters restart from zero, so
both engines' counter-reset handling is on the measured path.

Series are written one after another (each with all its samples), histograms one
label set at a time with all buckets per timestamp, as OpenMetrics requires.
Deterministic for a given --seed and --end.

usage: gen.py --out FILE [--hosts 50] [--cpus 25] [--hours 6.5] [--end UNIX_S]
              [--interval 15] [--seed 1]
"""
import argparse
import math
import random
import sys
import time

MODES = [("idle", 0.78), ("user", 0.12), ("system", 0.05), ("iowait", 0.02), ("irq", 0.002),
         ("softirq", 0.008), ("steal", 0.001), ("nice", 0.019)]
DEVICES = ["eth0", "eth1", "lo"]
MOUNTS = ["/", "/var"]
LE = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5"]
HANDLERS = [("/api/v1/query_range", "GET", 0.08), ("/api/v1/write", "POST", 0.012)]
HOSTS_PER_CLUSTER = 5


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--cpus", type=int, default=25)
    ap.add_argument("--hours", type=float, default=6.5)
    ap.add_argument("--interval", type=int, default=15)
    ap.add_argument("--end", type=int, default=0, help="last timestamp (s); default now")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.hosts < 1 or a.cpus < 1 or a.interval < 1 or not 0 < a.hours <= 24 * 30:
        sys.exit("gen.py: bad --hosts/--cpus/--interval/--hours")
    end = a.end or int(time.time())
    end -= end % a.interval
    n = int(a.hours * 3600) // a.interval + 1
    start = end - (n - 1) * a.interval
    ts = [" %d\n" % (start + i * a.interval) for i in range(n)]
    reboot = int(n * 0.6)
    rnd = random.Random(a.seed)
    out = open(a.out, "w", buffering=1 << 20)
    w = out.write
    nseries = 0

    def hostlabels(h, job="node"):
        return 'cluster="c%d",instance="host-%02d:9100",job="%s"' % (
            h // HOSTS_PER_CLUSTER, h, job)

    def counter(prefix, v0, step_mean, jitter, fmt, h):
        """One counter series: prefix is 'name{labels}'; increments ~ step_mean."""
        nonlocal nseries
        nseries += 1
        v = v0
        lines = []
        r = rnd.random
        for i in range(n):
            if i == reboot and h == 7:
                v = 0.0
            v += step_mean * (1.0 + jitter * (r() - 0.5))
            lines.append(prefix + (fmt % v) + ts[i])
        w("".join(lines))

    def gauge(prefix, mid, amp, fmt):
        nonlocal nseries
        nseries += 1
        phase = rnd.random() * 6.28
        r = rnd.random
        lines = []
        for i in range(n):
            v = mid + amp * (math.sin(phase + i / 240.0) + 0.3 * (r() - 0.5))
            lines.append(prefix + (fmt % v) + ts[i])
        w("".join(lines))

    w("# HELP node_cpu_seconds Seconds the CPUs spent in each mode.\n")
    w("# TYPE node_cpu_seconds counter\n")
    for h in range(a.hosts):
        hl = hostlabels(h)
        load = 0.5 + rnd.random()  # hosts differ in how busy they are
        for c in range(a.cpus):
            for mode, share in MODES:
                s = share * (load if mode != "idle" else 1.0) * a.interval
                counter('node_cpu_seconds_total{%s,cpu="%d",mode="%s"} ' % (hl, c, mode),
                        round(rnd.uniform(1e4, 1e6), 2), s, 0.6, "%.2f", h)
    for name, help_ in [("node_network_receive_bytes", "Network device statistic receive_bytes."),
                        ("node_network_transmit_bytes",
                         "Network device statistic transmit_bytes.")]:
        w("# HELP %s %s\n# TYPE %s counter\n" % (name, help_, name))
        for h in range(a.hosts):
            hl = hostlabels(h)
            for d in DEVICES:
                rate = rnd.uniform(1e3, 5e6)
                counter('%s_total{%s,device="%s"} ' % (name, hl, d), float(rnd.randrange(1 << 40)),
                        rate * a.interval, 0.8, "%.0f", h)
    w("# HELP node_memory_MemAvailable_bytes Memory information field MemAvailable_bytes.\n")
    w("# TYPE node_memory_MemAvailable_bytes gauge\n")
    for h in range(a.hosts):
        gauge("node_memory_MemAvailable_bytes{%s} " % hostlabels(h), 8e9, 2e9, "%.0f")
    w("# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\n")
    for h in range(a.hosts):
        gauge("node_load1{%s} " % hostlabels(h), 2.0, 1.5, "%.2f")
    w("# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in "
      "bytes.\n# TYPE node_filesystem_avail_bytes gauge\n")
    for h in range(a.hosts):
        for m in MOUNTS:
            gauge('node_filesystem_avail_bytes{%s,device="/dev/vda",fstype="ext4",'
                  'mountpoint="%s"} ' % (hostlabels(h), m), 5e10, 1e9, "%.0f")

    # Classic histogram: per label set and timestamp, buckets then _count and _sum.
    w("# HELP http_request_duration_seconds Latency of HTTP requests.\n")
    w("# TYPE http_request_duration_seconds histogram\n")
    bounds = [float(x) for x in LE]
    for h in range(a.hosts):
        hl = hostlabels(h, "api")
        for handler, method, median in HANDLERS:
            nseries += len(LE) + 3
            base = '{%s,handler="%s",method="%s"' % (hl, handler, method)
            pre = ['http_request_duration_seconds_bucket%s,le="%s"} ' % (base, le) for le in LE]
            pre.append('http_request_duration_seconds_bucket%s,le="+Inf"} ' % base)
            pcount = "http_request_duration_seconds_count%s} " % base
            psum = "http_request_duration_seconds_sum%s} " % base
            cum = [0] * (len(LE) + 1)
            total = 0.0
            reqs = rnd.uniform(5, 50)  # requests per second
            lines = []
            mu = math.log(median)
            for i in range(n):
                if i == reboot and h == 7:
                    cum = [0] * (len(LE) + 1)
                    total = 0.0
                k = int(reqs * a.interval * (0.7 + 0.6 * rnd.random()))
                # 16 latencies from a log-normal, each standing for k/16 requests.
                draws = 16
                hits = [0] * (len(LE) + 1)
                for _ in range(draws):
                    x = math.exp(rnd.gauss(mu, 1.1))
                    total += x * k / draws
                    j = 0
                    while j < len(bounds) and x > bounds[j]:
                        j += 1
                    hits[j] += 1
                acc = 0
                for j in range(len(LE) + 1):
                    acc += hits[j] * k // draws
                    cum[j] += acc
                    lines.append(pre[j] + "%d" % cum[j] + ts[i])
                lines.append(pcount + "%d" % cum[len(LE)] + ts[i])
                lines.append(psum + "%.3f" % total + ts[i])
            w("".join(lines))
    w("# EOF\n")
    out.close()
    sys.stderr.write("gen.py: %d series x %d samples (%d..%d, every %d s) = %d samples\n" %
                     (nseries, n, start, end, a.interval, nseries * n))
    print(start, end, nseries, nseries * n)


if __name__ == "__main__":
    main()
