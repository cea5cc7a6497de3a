#!/usr/bin/env python3
"""exporter_prometheus.py - Prometheus 2.42 scrapes promlite-exporter.

Prometheus asks for OpenMetrics first and gzip, so this checks the
negotiated OpenMetrics output with Prometheus's own parser: the target is up,
no sample is dropped, and the values read back through the query API match
the fixture tree. Exits 77 (ctest: skipped) when prometheus is not installed.

usage: exporter_prometheus.py PATH/TO/promlite-exporter FIXTURE_DIR
"""
import json
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


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def query(port, q):
    url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (port, urllib.parse.quote(q))
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)["data"]["result"]


def main():
    binary, fx = sys.argv[1], sys.argv[2]
    prom = shutil.which("prometheus")
    if not prom:
        print("SKIP: prometheus not installed")
        return 77
    tmp = tempfile.mkdtemp(prefix="exporter-prom-")
    procs = []
    try:
        log = open(os.path.join(tmp, "exporter.log"), "w")
        procs.append(subprocess.Popen(
            [binary, "--web.listen-address=127.0.0.1:0", "--path.procfs=%s/proc" % fx,
             "--path.sysfs=%s/sys" % fx, "--path.rootfs=%s/root" % fx,
             "--path.udev.data=%s/udev" % fx,
             "--collector.textfile.directory=%s/textfile_good" % fx],
            stdout=log, stderr=log))
        port = None
        end = time.time() + 10
        while port is None and time.time() < end:
            m = re.search(r"port=(\d+)", open(log.name).read())
            port = int(m.group(1)) if m else None
            time.sleep(0.05)
        if port is None:
            print("FAIL: exporter did not start")
            return 1
        pport = free_port()
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: node\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % port)
        plog = open(os.path.join(tmp, "prometheus.log"), "w")
        procs.append(subprocess.Popen(
            [prom, "--config.file=" + f.name, "--storage.tsdb.path=" + os.path.join(tmp, "data"),
             "--web.listen-address=127.0.0.1:%d" % pport], stdout=plog, stderr=plog))
        ok = False
        end = time.time() + 30
        while time.time() < end and not ok:
            time.sleep(0.5)
            try:
                up = query(pport, 'up{job="node"}')
                ok = bool(up) and up[0]["value"][1] == "1" and query(pport, "node_load1")
            except OSError:
                pass
        if not ok:
            print("FAIL: target never up; prometheus log:\n" + open(plog.name).read()[-2000:])
            return 1
        checks = [
            ("node_load1", "0.04"),
            ('node_cpu_seconds_total{cpu="1",mode="user"}', "2.01"),
            ("node_memory_MemTotal_bytes", "25276502016"),
            ('node_network_receive_bytes_total{device="eth0"}', "62023610"),
            ('batch_last_success_seconds{exported_job="sync"}', "42"),  # job clashes
            ('batch_duration_seconds_bucket{le="+Inf"}', "5"),
            ('node_scrape_collector_success{collector="netclass"}', "1"),
            ('scrape_samples_post_metric_relabeling{job="node"}',
             None),  # present
        ]
        # One slow scrape of the (sanitized) exporter makes Prometheus write stale markers until
        # the next one succeeds: a check that fails is asked again a few scrapes later.
        for attempt in range(4):
            if attempt:
                time.sleep(2)
            errors = []
            for q, want in checks:
                res = query(pport, q)
                got = res[0]["value"][1] if res else None
                if got is None or (want is not None and float(got) != float(want)):
                    errors.append("%s = %s, want %s" % (q, got, want))
            res = query(pport, 'scrape_samples_scraped{job="node"}')
            scraped = float(res[0]["value"][1]) if res else 0
            if scraped < 300:
                errors.append("only %d samples scraped" % scraped)
            if not errors:
                break
        for e in errors:
            print("FAIL: " + e)
        failures = len(errors)
        print("prometheus scraped %d samples per scrape; %d failures" % (scraped, failures))
        return 1 if failures else 0
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
