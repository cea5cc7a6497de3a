#!/usr/bin/env python3
"""exporter_http.py - promlite-exporter end to end over HTTP on 127.0.0.1.

Runs the binary on the fixture trees (tests/fixtures/exporter), checks the
flags (--collector.X / --no-collector.X / --collector.disable-defaults, paths,
telemetry path), content negotiation, gzip, that promtool (when installed)
parses the output, that bad flags exit 2 with a message, and that SIGTERM
stops it with status 0.

usage: exporter_http.py PATH/TO/promlite-exporter FIXTURE_DIR
"""
import gzip
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


class Exporter:
    def __init__(self, binary, args):
        self.log = tempfile.NamedTemporaryFile("w+", prefix="exporter-http-", delete=False)
        self.p = subprocess.Popen([binary, "--web.listen-address=127.0.0.1:0"] + args,
                                  stdout=self.log, stderr=self.log)
        self.port = None
        end = time.time() + 10
        while time.time() < end and self.port is None:
            m = re.search(r"port=(\d+)", open(self.log.name).read())
            if m:
                self.port = int(m.group(1))
            elif self.p.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("exporter did not start:\n" + open(self.log.name).read())

    def get(self, path, headers=None):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path),
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        os.unlink(self.log.name)
        return rc


def main():
    binary, fx = sys.argv[1], sys.argv[2]
    paths = ["--path.procfs=%s/proc" % fx, "--path.sysfs=%s/sys" % fx,
             "--path.rootfs=%s/root" % fx, "--path.udev.data=%s/udev" % fx,
             "--collector.textfile.directory=%s/textfile_good" % fx]

    e = Exporter(binary, paths + ["--web.telemetry-path=/node"])
    try:
        code, hdr, body = e.get("/node")
        text = body.decode()
        check(code == 200, "GET /node is 200")
        check(hdr.get("Content-Type") == "text/plain; version=0.0.4; charset=utf-8",
              "text content type")
        for want in ['node_cpu_seconds_total{cpu="1",mode="user"} 2.01\n',
                     "node_memory_MemTotal_bytes 25276502016\n",
                     'node_network_receive_bytes_total{device="eth0"} 62023610\n',
                     "node_load1 0.04\n", "node_boot_time_seconds 1795423752\n",
                     'node_disk_reads_completed_total{device="vda"} 33741\n',
                     'batch_last_success_seconds{job="sync"} 42\n',
                     "process_resident_memory_bytes ",
                     'node_scrape_collector_success{collector="conntrack"} 1\n',
                     'node_os_version{id="debian",id_like="",name="Debian GNU/Linux"} 12\n']:
            check(want in text, "scrape contains %r" % want)
        fams = re.findall(r"^# TYPE (\S+) ", text, re.M)
        check(len(fams) == len(set(fams)), "no family appears twice")
        check(e.get("/metrics")[0] == 404, "the default path is not served when changed")
        code, hdr, body = e.get("/node", {"Accept-Encoding": "gzip"})
        check(hdr.get("Content-Encoding") == "gzip", "gzip when accepted")
        check(b"node_load1 0.04\n" in gzip.decompress(body), "gzip body decodes")
        code, hdr, body = e.get("/node", {"Accept": "application/openmetrics-text; version=1.0.0"})
        om = body.decode()
        check(hdr.get("Content-Type", "").startswith("application/openmetrics-text"),
              "OpenMetrics content type")
        check(om.endswith("# EOF\n"), "OpenMetrics ends with # EOF")
        check("# TYPE node_cpu_seconds counter\n" in om, "OpenMetrics counter family name")
        check("# TYPE node_vmstat_pgfault unknown\n" in om, "OpenMetrics unknown type")
        promtool = shutil.which("promtool")
        if promtool:
            r = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                               capture_output=True, timeout=30)
            # 0: clean, 3: lint remarks only (node_exporter's own names have them); 1: parse error.
            check(r.returncode in (0, 3), "promtool parses the exposition: %s" %
                  r.stderr.decode()[:300])
    finally:
        check(e.stop() == 0, "SIGTERM exits 0")

    e = Exporter(binary, paths + ["--collector.disable-defaults", "--collector.loadavg"])
    try:
        text = e.get("/metrics")[2].decode()
        check("node_load5 0.05\n" in text, "loadavg enabled alone")
        check("node_cpu_seconds_total" not in text, "cpu disabled by --collector.disable-defaults")
        check(text.count("node_scrape_collector_success{") == 1, "one collector reported")
    finally:
        e.stop()

    e = Exporter(binary, paths + ["--no-collector.cpu", "--path.procfs=/nonexistent-proc"])
    try:
        code, _, body = e.get("/metrics")
        text = body.decode()
        check(code == 200, "a scrape with failing collectors is still 200")
        check("node_cpu_seconds_total" not in text and
              'node_scrape_collector_success{collector="cpu"}' not in text, "--no-collector.cpu")
        check('node_scrape_collector_success{collector="meminfo"} 0\n' in text,
              "missing procfs reported as success 0")
        check('node_scrape_collector_success{collector="os"} 1\n' in text,
              "collectors not needing procfs still succeed")
    finally:
        e.stop()

    for args, msg in [(["--no-such-flag"], "unknown flag"),
                      (["--collector.nosuch"], "unknown flag"),
                      (["--collector.diskstats.device-exclude=(("], "device-exclude"),
                      (["--web.listen-address=nonsense"], "listen")]:
        r = subprocess.run([binary] + args, capture_output=True, timeout=10)
        check(r.returncode in (1, 2) and msg in r.stderr.decode(),
              "%s is refused with a message (rc %d: %s)" % (args, r.returncode,
                                                            r.stderr.decode()[:200]))
    r = subprocess.run([binary, "--help"], capture_output=True, timeout=10)
    check(r.returncode == 0 and b"--collector.textfile.directory" in r.stdout, "--help")

    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
