#!/usr/bin/env python3
"""Integration test: `promlite server` on a full disk.

Runs itself again in a private mount namespace (`unshare -m`, needs root;
exits 77 = skipped otherwise), mounts a 40 MiB tmpfs, starts the server with
its data directory there, and writes by remote write (and text import) until
the disk is full. Checks that writes get a 5xx with a clear "disk full"
message (remote write senders retry 5xx), that the server keeps running and
answering queries, that nothing acknowledged is lost, and that writes succeed
again once space is freed, also after a restart.

usage: test_diskfull.py PATH/TO/promlite
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server import (FAILURES, Server, check, free_port, self_scrape_config,  # noqa: E402
                         snappy_literal, wait_for, write_request)

SKIP = 77
BATCH = 300  # new series per request
BASE = (int(time.time()) - 3600) * 1000  # inside the default retention, before the self-scrapes


def body(b, n=BATCH):
    pad = "x" * 200
    series = [({"__name__": "df_fill", "b": str(b), "i": str(i), "pad": "%s-%d-%d" % (pad, b, i)},
               [(BASE + b * 1000, float(b * 1000 + i))]) for i in range(n)]
    return snappy_literal(write_request(series))


def count(srv):
    st, doc = srv.json("GET", "/api/v1/query", {"query": "count(last_over_time(df_fill[1h]))",
                                                "time": "%d" % (BASE // 1000 + 3000)})
    res = doc.get("data", {}).get("result", []) if st == 200 else None
    if res is None:
        return -1
    return int(res[0]["value"][1]) if res else 0


def run(binary, mnt):
    filler = os.path.join(mnt, "filler")
    with open(filler, "wb") as f:
        f.write(b"\0" * (8 << 20))
    data = os.path.join(mnt, "data")
    port = free_port()
    srv = Server(binary, data, ["--web.enable-remote-write-receiver"],
                 config=self_scrape_config(port, "self"), port=port)

    def target():
        st, doc = srv.json("GET", "/api/v1/targets")
        act = doc.get("data", {}).get("activeTargets", []) if st == 200 else []
        return act[0] if act else {}
    try:
        check(srv.wait_ready(), "server on a 40 MiB tmpfs becomes ready")
        acked, b, st, resp = 0, 0, 204, b""
        while b < 2000:
            st, resp = srv.write(None, raw=body(b))
            b += 1
            if st != 204:
                break
            acked += 1
        check(st == 500 and b"disk full" in resp and data.encode() in resp,
              "remote write on a full disk: 500 with a clear message (after %d requests: %d %r)"
              % (acked, st, resp[:300]))
        check(acked > 10, "the disk held %d requests before it was full" % acked)
        st, resp = srv.write(None, raw=body(b))
        b += 1
        check(st == 500, "a retry on the full disk is refused again (%d)" % st)
        imp = "".join('df_import{k="%d",pad="%s"} 1 %d\n' % (i, "y" * 200, BASE)
                      for i in range(BATCH)).encode()
        st, _, resp = srv.request("POST", "/api/v1/import/prometheus", body=imp)
        check(st == 500 and b"disk full" in resp,
              "text import on a full disk: 500 with a clear message (%d %r)" % (st, resp[:200]))
        # Small writes still fit in what was reserved for the data file: use it up.
        small = 0
        while small < 3000:
            st, resp = srv.write(None, raw=body(b, 5))
            b += 1
            if st != 204:
                break
            small += 1
        check(st == 500 and b"disk full" in resp,
              "small writes fill the reserve, then get 500 too (%d of them)" % small)
        t = wait_for(lambda: target() if "disk full" in target().get("lastError", "") else None)
        check(t and t.get("health") == "down",
              "a scrape on a full disk: target down with the disk-full error (%s)" % (t or target()))
        check(srv.proc.poll() is None, "the server keeps running on a full disk")
        st, _, _ = srv.get("/-/healthy")
        check(st == 200, "healthy on a full disk")
        n = count(srv)
        check(n == acked * BATCH + small * 5, "queries answer on a full disk: %d series (want %d)"
              % (n, acked * BATCH + small * 5))
        os.unlink(filler)
        st, resp = srv.write(None, raw=body(b))
        b += 1
        check(st == 204, "remote write succeeds once space is freed (%d %r)" % (st, resp[:200]))
        if st == 204:
            acked += 1
        t = wait_for(lambda: target() if target().get("health") == "up" else None)
        check(t is not None, "scraping resumes once space is freed (%s)" % target())
        took = srv.stop()
        check(srv.proc.returncode == 0 and took < 10, "clean shutdown after a full disk")
        srv2 = Server(binary, data, ["--web.enable-remote-write-receiver"])
        try:
            check(srv2.wait_ready(), "restart after a full disk")
            n = count(srv2)
            check(n == acked * BATCH + small * 5,
                  "every acknowledged series is there after a restart: %d (want %d)"
                  % (n, acked * BATCH + small * 5))
            st, resp = srv2.write(None, raw=body(b))
            check(st == 204, "writes continue after the restart (%d)" % st)
            srv2.stop()
        finally:
            if srv2.proc.poll() is None:
                srv2.proc.kill()
                srv2.proc.wait()
            if FAILURES:
                print(srv2.dump_log()[-3000:])
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()
        if FAILURES:
            print("---- server log ----")
            print(srv.dump_log()[-3000:])


def main():
    binary = os.path.abspath(sys.argv[1])
    if os.environ.get("PROMLITE_DISKFULL_NS") != "1":
        if os.geteuid() != 0 or not shutil.which("unshare"):
            print("skipped: needs root and unshare(1) to mount a tmpfs")
            return SKIP
        env = dict(os.environ, PROMLITE_DISKFULL_NS="1")
        r = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                            os.path.abspath(__file__), binary], env=env)
        return r.returncode
    tmp = tempfile.mkdtemp(prefix="promlite-df-")
    try:
        mnt = os.path.join(tmp, "mnt")
        os.mkdir(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", mnt])
        if r.returncode != 0:
            print("skipped: cannot mount a tmpfs here")
            return SKIP
        try:
            run(binary, mnt)
        finally:
            subprocess.run(["umount", mnt])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
