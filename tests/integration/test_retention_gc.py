#!/usr/bin/env python3
"""Integration test: series that retention leaves without data leave the API.

Starts `promlite server` with --storage.tsdb.retention.time=2h, writes (remote
write) a short-lived series, then a series that goes on for 12 h (so chunks
seal and retention runs), and checks that the short-lived series is gone from
/api/v1/series, /api/v1/labels, /api/v1/label/<name>/values and queries, while
the long-lived one stays; then the forgotten series is written again and is
back. Also after a restart.

usage: test_retention_gc.py PATH/TO/promlite
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server import FAILURES, Server, check, snappy_literal, write_request  # noqa: E402

HOUR = 3600 * 1000


def names(srv):
    st, doc = srv.json("GET", "/api/v1/label/__name__/values")
    return doc.get("data") if st == 200 else None


def series(srv, match, start, end):
    st, doc = srv.json("GET", "/api/v1/series", {"match[]": match, "start": str(start / 1000),
                                                  "end": str(end / 1000)})
    return doc.get("data") if st == 200 else None


def run(binary, data):
    t0 = (int(time.time()) // 7200 * 7200 - 14 * 3600) * 1000  # a partition start, 14 h ago
    srv = Server(binary, data, ["--web.enable-remote-write-receiver",
                                "--storage.tsdb.retention.time=2h"])
    try:
        check(srv.wait_ready(), "server with 2 h retention becomes ready")
        short = {"__name__": "gc_short", "job": "churn", "pod": "p-1"}
        st, _ = srv.write([(short, [(t0 + i * 60000, float(i)) for i in range(30)])])
        check(st == 204, "short-lived series written (%d)" % st)
        check("gc_short" in (names(srv) or []), "it is listed")
        live = {"__name__": "gc_live", "job": "churn", "pod": "p-2"}
        for h in range(12):
            st, _ = srv.write([(live, [(t0 + h * HOUR + i * 60000, float(i)) for i in range(60)])])
            if st != 204:
                break
        check(st == 204, "12 h of the long-lived series written (%d)" % st)
        end = t0 + 12 * HOUR
        check(names(srv) == ["gc_live"], "label values: only the live series is left (%s)"
              % names(srv))
        got = series(srv, '{job="churn"}', t0 - HOUR, end)
        check([s.get("pod") for s in got or []] == ["p-2"],
              "/api/v1/series: the forgotten series is gone (%s)" % got)
        st, doc = srv.json("GET", "/api/v1/label/pod/values")
        check(doc.get("data") == ["p-2"], "label values of pod: %s" % doc.get("data"))
        st, doc = srv.json("GET", "/api/v1/query", {"query": "count_over_time(gc_short[1d])",
                                                    "time": str(end / 1000)})
        check(st == 200 and doc["data"]["result"] == [], "queries: no data for it")
        took = srv.stop()
        check(srv.proc.returncode == 0 and took < 10, "clean shutdown")
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()
        if FAILURES:
            print(srv.dump_log()[-3000:])
    srv = Server(binary, data, ["--web.enable-remote-write-receiver",
                                "--storage.tsdb.retention.time=2h"])
    try:
        check(srv.wait_ready(), "restart")
        check(names(srv) == ["gc_live"], "still gone after a restart (%s)" % names(srv))
        st, _ = srv.write([(short, [(end, 7.0)])])
        check(st == 204, "the forgotten series can be written again (%d)" % st)
        got = series(srv, '{job="churn"}', end - HOUR, end + HOUR)
        check(sorted(s.get("pod") for s in got or []) == ["p-1", "p-2"],
              "and is back in /api/v1/series (%s)" % got)
        st, doc = srv.json("GET", "/api/v1/query", {"query": "gc_short", "time": str(end / 1000)})
        res = doc.get("data", {}).get("result", [])
        check(len(res) == 1 and res[0]["value"][1] == "7", "and queries see its new sample")
        srv.stop()
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()
        if FAILURES:
            print(srv.dump_log()[-3000:])


def main():
    binary = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="promlite-gc-")
    try:
        run(binary, os.path.join(tmp, "data"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
