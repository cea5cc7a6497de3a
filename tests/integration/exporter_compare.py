#!/usr/bin/env python3
"""exporter_compare.py - promlite-exporter against node_exporter 1.5.

Checks HELP texts too.

Starts prometheus-node-exporter and promlite-exporter on free loopback ports
with the same collectors and the same textfile directory, scrapes promlite,
node_exporter, promlite again, and checks for every node_* family: it exists
in both, with the same type, the same label names and the same series; static
values agree exactly, moving values lie between promlite's two scrapes (plus a
small slack for gauges that move both ways). Exits 77 (ctest: skipped) when
node_exporter is not installed.

usage: exporter_compare.py PATH/TO/promlite-exporter
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

COLLECTORS = ["cpu", "meminfo", "loadavg", "diskstats", "filesystem", "netdev", "netstat",
              "sockstat", "stat", "vmstat", "filefd", "pressure", "time", "uname", "os",
              "entropy", "conntrack", "netclass", "timex", "softnet", "arp", "udp_queues",
              "textfile"]

# Families whose values must be identical in both.
STATIC = re.compile(r"^node_(memory_(MemTotal|SwapTotal|Hugepagesize)_bytes|memory_HugePages_Total"
                    r"|filesystem_(size_bytes|files|readonly|device_error)|boot_time_seconds"
                    r"|filefd_maximum|entropy_pool_size_bits|nf_conntrack_entries_limit"
                    r"|uname_info|os_info|os_version|disk_info|time_zone_offset_seconds"
                    r"|time_clocksource_\w+|textfile_\w+|scrape_collector_success|compare_\w+)$")
# Gauges that move both ways: allowed slack beyond the bracket (relative, absolute).
SLACK = [
    (re.compile(r"^node_memory_"), 0.02, 64 << 20),
    (re.compile(r"^node_filesystem_"), 0.01, 256 << 20),
    (re.compile(r"^node_load"), 0.0, 1.0),
    (re.compile(r"^node_procs_"), 0.0, 16),
    (re.compile(r"^node_filefd_allocated$"), 0.0, 512),
    (re.compile(r"^node_sockstat_"), 0.1, 64 * 4096),
    (re.compile(r"^node_entropy_available_bits$"), 0.0, 4096),
    (re.compile(r"^node_nf_conntrack_entries$"), 0.0, 100),
    (re.compile(r"^node_netstat_Tcp_CurrEstab$"), 0.0, 32),
    (re.compile(r"^node_disk_io_now$"), 0.0, 64),
    (re.compile(r"^node_time_seconds$"), 0.0, 1.0),
    (re.compile(r"^node_udp_queues$"), 0.0, 1 << 20),
    (re.compile(r"^node_arp_entries$"), 0.0, 8),
    (re.compile(r"^node_timex_"), 0.01, 0.01),
]
SKIP_VALUES = re.compile(r"^node_scrape_collector_duration_seconds$")
# Counters may move between scrapes; a little absolute slack covers rounding.
COUNTER_SLACK = 0.02

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """Returns {family: {"type": t, "series": {labels_tuple: value}}} (simple 0.0.4 parser)."""
    fams, types, owner = {}, {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            parts = line.split(" ", 3)
            fams.setdefault(parts[2], {"type": None, "series": {}})["help"] = (
                parts[3] if len(parts) > 3 else "")
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            fams.setdefault(name, {"type": typ, "series": {}})["type"] = typ
            continue
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if not m:
            raise ValueError("unparsable line: %r" % line)
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        fam = name
        for suf in ("_bucket", "_sum", "_count"):
            if name.endswith(suf) and name[: -len(suf)] in types:
                fam = name[: -len(suf)]
        lab = tuple(sorted(LABEL.findall(labels)))
        fams.setdefault(fam, {"type": types.get(fam, "untyped"), "series": {}})
        fams[fam]["series"][(name, lab)] = float(value)
    return fams


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def scrape(port, deadline=10.0):
    end = time.time() + deadline
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
                return r.read().decode()
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.05)


def main():
    ours_bin = sys.argv[1]
    ne_bin = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if not ne_bin:
        print("SKIP: prometheus-node-exporter not installed")
        return 77
    tmp = tempfile.mkdtemp(prefix="exporter-compare-")
    procs = []
    try:
        tdir = os.path.join(tmp, "textfile")
        os.mkdir(tdir)
        with open(os.path.join(tdir, "compare.prom"), "w") as f:
            f.write("# HELP node_compare_batch_last_success Last success of the batch job.\n"
                    "# TYPE node_compare_batch_last_success gauge\n"
                    'node_compare_batch_last_success{job="backup"} 1.7e+09\n'
                    'node_compare_batch_last_success{job="sync"} 42\n'
                    "# TYPE node_compare_runs_total counter\n"
                    "node_compare_runs_total 7\n")
        common = ["--collector.textfile.directory=" + tdir]
        ne_port = free_port()
        ne_args = [ne_bin, "--web.listen-address=127.0.0.1:%d" % ne_port,
                   "--collector.disable-defaults"] + ["--collector." + c for c in COLLECTORS]
        ne_log = open(os.path.join(tmp, "ne.log"), "w")
        procs.append(subprocess.Popen(ne_args + common, stdout=ne_log, stderr=ne_log))
        our_log_path = os.path.join(tmp, "ours.log")
        our_log = open(our_log_path, "w")
        # Debian's node_exporter excludes lo from netdev by default; match it.
        procs.append(subprocess.Popen([ours_bin, "--web.listen-address=127.0.0.1:0",
                                       "--collector.netdev.device-exclude=^lo$"] + common,
                                      stdout=our_log, stderr=our_log))
        our_port = None
        end = time.time() + 10
        while our_port is None and time.time() < end:
            m = re.search(r"port=(\d+)", open(our_log_path).read())
            if m:
                our_port = int(m.group(1))
            else:
                time.sleep(0.05)
        if our_port is None:
            print("FAIL: promlite-exporter did not start:\n" + open(our_log_path).read())
            return 1
        scrape(ne_port)  # readiness
        # Other processes move gauges on a shared machine. A real difference
        # shows in every round; only differences seen in two rounds fail.
        persistent = None
        for rnd in range(2):
            a = parse(scrape(our_port))
            n = parse(scrape(ne_port))
            b = parse(scrape(our_port))
            errs, fams, vals = compare(a, n, b)
            keys = {e.split(":")[0] + "|" + e.split(": ", 1)[1].split(" ")[0] for e in errs}
            persistent = keys if persistent is None else persistent & keys
            print("round %d: compared %d families, %d values; %d differences"
                  % (rnd + 1, fams, vals, len(errs)))
            for e in errs:
                print("  ", e)
            if not errs:
                break
        if fams < 100:
            print("FAIL: too few families compared")
            return 1
        if errs and persistent:
            print("FAIL: differences in both rounds:", sorted(persistent))
            return 1
        return 0
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def compare(a, n, b):
    errors, checked_fams, checked_vals = [], 0, 0
    names = sorted(f for f in set(n) | set(a) if f.startswith("node_")
                   and f != "node_exporter_build_info")
    for fam in names:
        if fam not in n or fam not in a:
            # A family only present with zero series on one side is no difference.
            side = n if fam in n else a
            if side[fam]["series"]:
                errors.append("%s: only in %s" % (fam, "node_exporter" if fam in n else "promlite"))
            continue
        checked_fams += 1
        tn, ta = n[fam]["type"], a[fam]["type"]
        if tn != ta:
            errors.append("%s: type %s in node_exporter, %s in promlite" % (fam, tn, ta))
        if n[fam].get("help") != a[fam].get("help"):
            errors.append("%s: HELP %r in node_exporter, %r in promlite"
                          % (fam, n[fam].get("help"), a[fam].get("help")))
        ln = {tuple(k for k, _ in lab) for (_, lab) in n[fam]["series"]}
        la = {tuple(k for k, _ in lab) for (_, lab) in a[fam]["series"]}
        if ln != la:
            errors.append("%s: label names %s vs %s" % (fam, sorted(ln), sorted(la)))
        sn, sa = set(n[fam]["series"]), set(a[fam]["series"])
        if fam == "node_textfile_mtime_seconds":
            pass
        elif sn != sa:
            errors.append("%s: series only in node_exporter %s, only in promlite %s"
                          % (fam, sorted(sn - sa)[:3], sorted(sa - sn)[:3]))
        if SKIP_VALUES.match(fam):
            continue
        for key in sn & sa:
            vn, va = n[fam]["series"][key], a[fam]["series"][key]
            vb = b.get(fam, {"series": {}})["series"].get(key, va)
            checked_vals += 1
            if STATIC.match(fam):
                ok = vn == va or (vn != vn and va != va)
                if not ok:
                    errors.append("%s%s: static value %r (node_exporter) != %r (promlite)"
                                  % (fam, key[1], vn, va))
                continue
            lo, hi = min(va, vb), max(va, vb)
            rel, absl = (COUNTER_SLACK, 1e-6) if tn == "counter" or tn == "untyped" else (0.0, 0.0)
            for pat, r, s in SLACK:
                if pat.match(fam):
                    rel, absl = r, s
            slack = rel * max(abs(lo), abs(hi)) + absl + 1e-9
            if not (lo - slack <= vn <= hi + slack):
                errors.append("%s%s: node_exporter %r outside promlite's [%r, %r] (+/- %g)"
                              % (fam, key[1], vn, lo, hi, slack))
    return errors, checked_fams, checked_vals


if __name__ == "__main__":
    sys.exit(main())
