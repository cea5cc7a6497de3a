#!/usr/bin/env python3
"""Integration test of `promlite server` over HTTP (Python 3 standard library only).

Starts the real binary on 127.0.0.1 with a free port and a temporary data
directory, waits for /-/ready, writes samples by remote write 1.0 (protobuf and
snappy, encoded here by hand), queries them back (instant and range), checks
series/labels endpoints, Prometheus error shapes and status codes, deletes
series, stops the server with SIGTERM (timed) and restarts it on the same
directory to check persistence.

usage: test_server.py PATH/TO/promlite
"""
import json
import math
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

STALE = struct.unpack('<d', struct.pack('<Q', 0x7ff0000000000002))[0]
FAILURES = []


def check(cond, what):
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        FAILURES.append(what)


# ---- remote write encoding (remote_write_spec.md) ----

def uvarint(n):
    n &= (1 << 64) - 1  # int64 on the wire is two's complement
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def fld(num, wt, payload):
    key = uvarint((num << 3) | wt)
    if wt == 2:
        return key + uvarint(len(payload)) + payload
    return key + payload


def write_request(series):
    """series: list of (labels dict, [(ms, value), ...])."""
    out = b''
    for labels, samples in series:
        body = b''
        for k in sorted(labels):
            body += fld(1, 2, fld(1, 2, k.encode()) + fld(2, 2, labels[k].encode()))
        for t, v in samples:
            body += fld(2, 2, fld(1, 1, struct.pack('<d', v)) + fld(2, 0, uvarint(t)))
        out += fld(1, 2, body)
    return out


def snappy_literal(data):
    """A valid snappy block made of literals only."""
    out = bytearray(uvarint(len(data)))
    i = 0
    while i < len(data):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack('<H', n)
        out += chunk
        i += len(chunk)
    return bytes(out)


# ---- the server ----

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


NO_SCRAPE = "global:\n  scrape_interval: 1m\nscrape_configs: []\n"


class Server:
    """promlite on a free port; `config` is the prometheus.yml text (no scraping by default)."""

    def __init__(self, binary, datadir, extra, config=NO_SCRAPE, port=None):
        self.port = port or free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        top = os.path.dirname(datadir)
        self.log = open(os.path.join(top, "server-%d.log" % self.port), "w+")
        self.config = os.path.join(top, "prometheus-%d.yml" % self.port)
        with open(self.config, "w") as f:
            f.write(config)
        self.proc = subprocess.Popen(
            [binary, "server", "--web.listen-address=127.0.0.1:%d" % self.port,
             "--storage.tsdb.path=" + datadir, "--config.file=" + self.config] + extra,
            stdout=self.log, stderr=subprocess.STDOUT)

    def set_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        saw_healthy = False
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            st, _, _ = self.get("/-/healthy")
            saw_healthy = saw_healthy or st == 200
            st, _, _ = self.get("/-/ready")
            if st == 200:
                return saw_healthy
            time.sleep(0.05)
        return False

    def request(self, method, path, params=None, body=None, headers=None):
        url = self.base + path
        if params is not None and method == "GET":
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        elif params is not None:
            body = urllib.parse.urlencode(params, doseq=True).encode()
            headers = dict(headers or {})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read()
        except (urllib.error.URLError, ConnectionError):
            return 0, "", b""

    def get(self, path, params=None):
        return self.request("GET", path, params)

    def json(self, method, path, params=None):
        st, ct, body = self.request(method, path, params)
        try:
            return st, json.loads(body)
        except ValueError:
            return st, {"raw": body.decode(errors="replace")}

    def write(self, series, raw=None):
        body = raw if raw is not None else snappy_literal(write_request(series))
        st, _, resp = self.request("POST", "/api/v1/write", body=body, headers={
            "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
            "X-Prometheus-Remote-Write-Version": "0.1.0"})
        return st, resp

    def stop(self, timeout=15):
        """SIGTERM; returns the seconds the process took to exit."""
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return 99.0
        return time.time() - t0

    def dump_log(self):
        self.log.seek(0)
        return self.log.read()


def err_of(doc):
    return (doc.get("status"), doc.get("errorType"), doc.get("error"))


def main():
    binary = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="promlite-it-")
    data = os.path.join(tmp, "data")
    srv = Server(binary, data, ["--web.enable-remote-write-receiver", "--web.enable-admin-api",
                                "--query.max-concurrency=4", "--web.max-connections=40"])
    try:
        run(srv, binary, data)
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()
        if FAILURES:
            print("---- server log ----")
            print(srv.dump_log()[-4000:])
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % len(FAILURES))
    return 1 if FAILURES else 0


def run(srv, binary, data):
    check(srv.wait_ready(), "server becomes healthy, then ready")

    # Routing and methods.
    st, ct, body = srv.get("/api/v1/nope")
    check(st == 404 and body == b"404 page not found\n", "unknown endpoint is 404 text")
    st, ct, body = srv.request("PUT", "/api/v1/query", body=b"")
    check(st == 405, "PUT /api/v1/query is 405")

    # Remote write: two series, one ending in a stale marker.
    base = 1700000000000
    a = {"__name__": "it_requests_total", "job": "api", "instance": "a:1"}
    b = {"__name__": "it_requests_total", "job": "api", "instance": "b:1"}
    c = {"__name__": "it_gauge", "job": "db", "path": "/x<y>&\"z\""}
    pts_a = [(base + i * 15000, float(i)) for i in range(20)]
    pts_b = [(base + i * 15000, 100.0 + i * 0.5) for i in range(20)]
    st, resp = srv.write([(a, pts_a), (b, pts_b), (c, [(base, 1e-7), (base + 15000, STALE)])])
    check(st == 204 and resp == b"", "remote write answers 204 with no body (got %d %r)" % (st, resp[:200]))
    st, _ = srv.write([], raw=snappy_literal(b""))
    check(st == 204, "empty write request is 204")

    # Instant query.
    t_last = (base + 19 * 15000) / 1000.0
    st, doc = srv.json("GET", "/api/v1/query", {"query": "it_requests_total", "time": "%.3f" % t_last})
    res = doc.get("data", {}).get("result", [])
    check(st == 200 and doc.get("status") == "success" and doc["data"]["resultType"] == "vector",
          "instant query succeeds with a vector")
    check([r["metric"]["instance"] for r in res] == ["a:1", "b:1"], "vector series sorted by labels")
    check(len(res) == 2 and res[0]["value"] == [t_last, "19"] and res[1]["value"] == [t_last, "109.5"],
          "instant values and timestamp (got %s)" % res)
    # Raw text: timestamps keep 3 decimals only when ms != 0, values are strings.
    st, ct, raw = srv.get("/api/v1/query", {"query": "it_gauge", "time": "%.3f" % ((base + 1) / 1000.0)})
    check(ct.startswith("application/json") and
          raw == b'{"status":"success","data":{"resultType":"vector","result":[{"metric":'
                 b'{"__name__":"it_gauge","job":"db","path":"/x\\u003cy\\u003e\\u0026\\"z\\""},'
                 b'"value":[1700000000.001,"1e-07"]}]}}',
          "exact JSON bytes of a vector answer (got %r)" % raw[:300])
    st, doc = srv.json("GET", "/api/v1/query", {"query": "it_gauge", "time": "%.3f" % ((base + 20000) / 1000.0)})
    check(st == 200 and doc["data"]["result"] == [], "stale marker ends the series")
    st, doc = srv.json("POST", "/api/v1/query", {"query": "1+1", "time": "4"})
    check(st == 200 and doc == {"status": "success", "data": {"resultType": "scalar", "result": [4, "2"]}},
          "Grafana health check: POST form 1+1 at time 4 (got %s)" % doc)
    st, doc = srv.json("GET", "/api/v1/query", {"query": '"hello"', "time": "1795416322.146"})
    check(doc.get("data") == {"resultType": "string", "result": [1795416322.146, "hello"]}, "string result")
    st, doc = srv.json("GET", "/api/v1/query", {"query": "it_requests_total[1m]", "time": "%.3f" % t_last})
    check(st == 200 and doc["data"]["resultType"] == "matrix" and len(doc["data"]["result"][0]["values"]) == 5,
          "range selector in an instant query gives a matrix, [t-1m, t] inclusive as in 2.42")

    # Range query.
    st, doc = srv.json("GET", "/api/v1/query_range", {
        "query": 'it_requests_total{instance="a:1"}', "start": str(base / 1000), "end": str(t_last), "step": "60s"})
    vals = doc.get("data", {}).get("result", [{}])[0].get("values") if st == 200 else None
    check(vals == [[base / 1000 + i * 60, str(i * 4)] for i in range(5)],
          "range query values (got %s)" % vals)
    st, doc = srv.json("POST", "/api/v1/query_range", {"query": "time()", "start": "0", "end": "120", "step": "60"})
    check(doc.get("data") == {"resultType": "matrix", "result": [{"metric": {}, "values": [[0, "0"], [60, "60"], [120, "120"]]}]},
          "scalar range query is a matrix with empty metric")

    # Parameter and query errors, as captured from Prometheus 2.42.
    cases = [
        ("/api/v1/query", {"query": "up{"}, 400, "bad_data",
         'invalid parameter "query": 1:4: parse error: unexpected end of input inside braces'),
        ("/api/v1/query", {"query": ""}, 400, "bad_data",
         'invalid parameter "query": 1:1: parse error: no expression found in input'),
        ("/api/v1/query", {"query": "1", "time": "abc"}, 400, "bad_data",
         'invalid parameter "time": Invalid time value for \'time\': cannot parse "abc" to a valid timestamp'),
        ("/api/v1/query", {"query": "1", "timeout": "1ns"}, 400, "bad_data",
         'invalid parameter "timeout": cannot parse "1ns" to a valid duration'),
        ("/api/v1/query_range", {"query": "1", "end": "1", "step": "1"}, 400, "bad_data",
         'invalid parameter "start": cannot parse "" to a valid timestamp'),
        ("/api/v1/query_range", {"query": "1", "start": "10", "end": "1", "step": "1"}, 400, "bad_data",
         'invalid parameter "end": end timestamp must not be before start time'),
        ("/api/v1/query_range", {"query": "1", "start": "0", "end": "1", "step": "0"}, 400, "bad_data",
         'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer'),
        ("/api/v1/query_range", {"query": "1", "start": "0", "end": "11001", "step": "1"}, 400, "bad_data",
         "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"),
        ("/api/v1/query_range", {"query": '"s"', "start": "0", "end": "1", "step": "1"}, 400, "bad_data",
         'invalid expression type "string" for range query, must be Scalar or instant Vector'),
        ("/api/v1/series", {}, 400, "bad_data", "no match[] parameter provided"),
        ("/api/v1/series", {"match[]": '{job=~".*"}'}, 400, "bad_data",
         'invalid parameter "match[]": match[] must contain at least one non-empty matcher'),
        ("/api/v1/label/1bad/values", {}, 400, "bad_data", 'invalid label name: "1bad"'),
    ]
    for path, params, want_st, want_type, want_msg in cases:
        st, doc = srv.json("GET", path, params)
        check(st == want_st and err_of(doc) == ("error", want_type, want_msg),
              "%s %s -> %d %s (got %d %s)" % (path, params, want_st, want_msg[:50], st, err_of(doc)))
    st, doc = srv.json("GET", "/api/v1/query", {"query": "it_requests_total + on() it_requests_total",
                                                "time": "%.3f" % t_last})
    check(st == 422 and doc.get("errorType") == "execution", "many-to-many match is 422 execution")

    # Series and labels.
    st, doc = srv.json("GET", "/api/v1/series", {"match[]": ["it_requests_total", "it_gauge"]})
    check(st == 200 and [d.get("instance", d.get("path")) for d in doc["data"]] == ["/x<y>&\"z\"", "a:1", "b:1"],
          "series over two match[] sorted and merged (got %s)" % doc.get("data"))
    st, doc = srv.json("POST", "/api/v1/series", {"match[]": 'it_requests_total{instance="b:1"}'})
    check(doc.get("data") == [b], "POST series with a matcher")
    st, doc = srv.json("GET", "/api/v1/labels")
    check(doc.get("data") == ["__name__", "instance", "job", "path"], "label names (got %s)" % doc.get("data"))
    st, doc = srv.json("GET", "/api/v1/labels", {"match[]": '{job=~".*"}'})
    check(doc.get("data") == ["__name__", "instance", "job", "path"], "labels accept an all-empty matcher")
    st, doc = srv.json("GET", "/api/v1/labels", {"match[]": "it_gauge"})
    check(doc.get("data") == ["__name__", "job", "path"], "label names restricted by match[]")
    st, doc = srv.json("GET", "/api/v1/label/__name__/values")
    check(doc.get("data") == ["it_gauge", "it_requests_total"], "metric names")
    st, doc = srv.json("GET", "/api/v1/label/job/values", {"match[]": "it_requests_total"})
    check(doc.get("data") == ["api"], "label values restricted by match[]")
    st, doc = srv.json("GET", "/api/v1/label/nosuch/values")
    check(doc.get("data") == [], "values of an unknown label are []")
    st, doc = srv.json("GET", "/api/v1/labels", {"start": "1", "end": "2"})
    check(doc.get("data") == [], "label names outside the data's time range are [] (got %s)" % doc.get("data"))

    # Status endpoints.
    st, doc = srv.json("GET", "/api/v1/status/buildinfo")
    check(st == 200 and "version" in doc["data"] and "features" not in doc["data"], "buildinfo")
    st, doc = srv.json("GET", "/api/v1/status/flags")
    check(doc.get("data", {}).get("web.enable-admin-api") == "true" and
          doc["data"].get("query.max-concurrency") == "4", "status/flags reflects the flags")
    st, doc = srv.json("GET", "/api/v1/status/runtimeinfo")
    check(doc.get("data", {}).get("storageRetention") == "15d", "runtimeinfo")
    st, doc = srv.json("GET", "/api/v1/metadata")
    check(doc == {"status": "success", "data": {}}, "metadata is empty")
    st, doc = srv.json("GET", "/api/v1/query_exemplars", {"query": "up", "start": "1", "end": "2"})
    check(doc == {"status": "success", "data": []}, "exemplars are []")
    st, doc = srv.json("GET", "/api/v1/format_query", {"query": "sum(rate(up[5m]))by(job)"})
    check(doc.get("data") == "sum by (job) (rate(up[5m]))", "format_query (got %s)" % doc)

    # Remote write rejections.
    st, resp = srv.write(None, raw=b"\x00\x01\x02garbage")
    check(st == 400 and b"snappy" in resp, "corrupt snappy is 400 (got %d %r)" % (st, resp[:100]))
    st, resp = srv.write(None, raw=snappy_literal(b"\xff\xff\xff"))
    check(st == 400, "bad protobuf is 400")
    st, resp = srv.write([(a, [(base, 5.0)])])
    check(st == 400 and b"out of order" in resp, "out-of-order sample is 400 (got %d %r)" % (st, resp[:100]))
    st, doc = srv.json("GET", "/api/v1/query", {"query": 'it_requests_total{instance="a:1"}', "time": str(base / 1000)})
    check(doc["data"]["result"][0]["value"][1] == "0", "a rejected request leaves no sample behind")

    # Text import: one body is one batch; `stale` is the stale marker.
    imp = ("# TYPE it_imported gauge\n"
           "it_imported{k=\"1\"} 1.5 %d\n"
           "it_imported{k=\"1\"} 2.5 %d\n"
           "it_imported{k=\"2\"} -Inf %d\n"
           "it_imported{k=\"1\"} stale %d\n") % (base, base + 15000, base, base + 30000)
    st, _, body = srv.request("POST", "/api/v1/import/prometheus", body=imp.encode(),
                              headers={"Content-Type": "text/plain"})
    check(st == 204, "text import is 204 (got %d %r)" % (st, body[:200]))
    st, doc = srv.json("GET", "/api/v1/query", {"query": "it_imported", "time": str((base + 15000) / 1000)})
    check([(r["metric"]["k"], r["value"][1]) for r in doc["data"]["result"]] == [("1", "2.5"), ("2", "-Inf")],
          "imported samples are queryable (got %s)" % doc.get("data"))
    st, doc = srv.json("GET", "/api/v1/query", {"query": 'it_imported{k="1"}', "time": str((base + 31000) / 1000)})
    check(doc["data"]["result"] == [], "imported `stale` ends the series")
    bad = "it_imported2 1 %d\nit_imported2 2 %d\nit_imported2{ 3 %d\n" % (base, base + 1000, base + 2000)
    st, ct, body = srv.request("POST", "/api/v1/import/prometheus", body=bad.encode())
    doc = json.loads(body) if body.startswith(b"{") else {}
    check(st == 400 and doc.get("errorType") == "bad_data" and doc.get("error", "").startswith("line 3:"),
          "an invalid line rejects the import with 400 naming the line (got %d %s)" % (st, doc))
    st, doc = srv.json("GET", "/api/v1/series", {"match[]": "it_imported2"})
    check(doc.get("data") == [], "a rejected import stores nothing")
    st, ct, body = srv.request("POST", "/api/v1/import/prometheus", body=("it_imported{k=\"2\"} 9 %d\n" % (base - 1000)).encode())
    check(st == 400 and b"line 1: out of order sample" in body, "an out-of-order imported sample is 400 (got %d %r)" % (st, body[:200]))

    # Large POST form body (Grafana sends long match[] lists).
    many = ["it_requests_total{instance=\"%d\"}" % i for i in range(3000)] + ["it_gauge"]
    st, doc = srv.json("POST", "/api/v1/series", {"match[]": many})
    check(st == 200 and len(doc.get("data", [])) == 1, "series with 3001 match[] in a POST body")

    # Concurrent queries.
    results = []

    def worker():
        for _ in range(10):
            s2, d2 = srv.json("GET", "/api/v1/query_range", {"query": "it_requests_total", "start": str(base / 1000),
                                                              "end": str(t_last), "step": "15"})
            results.append(s2 == 200 and len(d2["data"]["result"]) == 2)
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(len(results) == 80 and all(results), "80 range queries from 8 threads")

    # Large answers are gzipped for clients that accept it.
    import gzip as _gzip
    q = urllib.parse.urlencode({"query": "it_requests_total", "start": str(base / 1000), "end": str(t_last), "step": "1"})
    req = urllib.request.Request(srv.base + "/api/v1/query_range?" + q, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=30) as r:
        enc, raw = r.headers.get("Content-Encoding"), r.read()
    plain = srv.get("/api/v1/query_range?" + q)[2]
    check(enc == "gzip" and _gzip.decompress(raw) == plain and len(plain) > 1024,
          "gzip answer when accepted, identical once decompressed (%s, %d -> %d bytes)" % (enc, len(plain), len(raw)))

    # Admin: delete one series; write it again from its beginning.
    st, _, body = srv.request("POST", "/api/v1/admin/tsdb/delete_series?" + urllib.parse.urlencode({"match[]": 'it_requests_total{instance="b:1"}'}))
    check(st == 204, "delete_series is 204 (got %d %r)" % (st, body[:200]))
    st, doc = srv.json("GET", "/api/v1/series", {"match[]": "it_requests_total"})
    check([d["instance"] for d in doc.get("data", [])] == ["a:1"], "deleted series is gone")
    st, resp = srv.write([(b, [(base, 7.0)])])
    check(st == 204, "a deleted series can be written again from its start (got %d %r)" % (st, resp[:100]))
    st, _, _ = srv.request("POST", "/api/v1/admin/tsdb/clean_tombstones")
    check(st == 204, "clean_tombstones is 204")
    st, doc = srv.json("POST", "/api/v1/admin/tsdb/snapshot")
    name = doc.get("data", {}).get("name", "")
    check(st == 200 and name and os.path.isdir(os.path.join(data, "snapshots", name)), "snapshot creates its directory")

    # Self-metrics, in a valid exposition.
    st, ct, body = srv.get("/metrics")
    text = body.decode(errors="replace")
    check(st == 200 and ct.startswith("text/plain"), "/metrics answers 200 text")
    check('prometheus_http_requests_total{code="200",handler="/api/v1/query"}' in text and
          'prometheus_http_request_duration_seconds_bucket{handler="/api/v1/query_range",le="0.1"}' in text,
          "HTTP requests by handler and code, with duration histograms")
    appended = [l for l in text.splitlines() if l.startswith("prometheus_tsdb_head_samples_appended_total ")]
    check(appended and float(appended[0].split()[1]) >= 45, "tsdb samples appended are exposed (%s)" % appended)
    check("\nprocess_resident_memory_bytes " in text and "\nprometheus_tsdb_head_series " in text,
          "process and head metrics are exposed")
    r = subprocess.run([binary, "check", "metrics", "-"], input=body, capture_output=True, timeout=30)
    check(r.returncode == 0, "promlite check metrics accepts /metrics (%r)" % (r.stdout[-300:] + r.stderr[-300:]))

    # A `timeout` shorter than --query.timeout applies (captures/query_timeout2.json).
    st, doc = srv.json("GET", "/api/v1/query", {"query": "count_over_time(vector(1)[100d:1s])", "timeout": "20ms"})
    check(st == 503 and err_of(doc) == ("error", "timeout", "query timed out in expression evaluation"),
          "timeout parameter: 503 timeout (got %d %s)" % (st, err_of(doc)))
    # One series, all the work in per-step loops: a day-long window slid over
    # 1.7M subquery steps (unbounded: ~1.5e11 window reads, hours of CPU). The
    # engine checks the deadline inside those loops, so 1 s is kept.
    slow = "count_over_time(sum_over_time(vector(1)[1d:1s])[20d:1s])"
    t0 = time.time()
    st, doc = srv.json("GET", "/api/v1/query", {"query": slow, "timeout": "1s"})
    took = time.time() - t0
    check(st == 503 and err_of(doc) == ("error", "timeout", "query timed out in expression evaluation")
          and took < 10, "step-heavy query with timeout=1s: 503 timeout in %.2f s (got %d %s)" % (took, st, err_of(doc)))

    slow_queries_delay_nothing(srv, slow)
    connection_limit(srv, 40)

    # Shutdown, with an unbounded query in flight, and restart on the same
    # directory. Shutdown sets the engine's cancel flag, which the per-step
    # loops look at, so the query answers 503 canceled well within the 5 s the
    # server gives requests in progress (server.c).
    inflight = []
    th = threading.Thread(target=lambda: inflight.append(srv.json("GET", "/api/v1/query", {"query": slow})))
    th.start()
    # Stop only once the query is being evaluated (prometheus_engine_queries, as Prometheus names
    # it), not while its connection may still wait in the listen backlog.
    running = wait_for(lambda: metrics_of(srv).get("prometheus_engine_queries", 0) >= 1, timeout=30)
    check(running, "prometheus_engine_queries counts the query in flight")
    took = srv.stop(timeout=60)
    th.join()
    drain_expired = "closing connections with requests still in progress" in srv.dump_log()
    check(srv.proc.returncode == 0 and took < 10 and not drain_expired,
          "SIGTERM with an unbounded query in flight cancels it and stops cleanly in %.2f s" % took)
    answered = inflight[0] if inflight else (0, {})
    check(answered[0] == 503 and err_of(answered[1])[:2] == ("error", "canceled"),
          "the query in flight answers 503 canceled (got %d %s)" % (answered[0], err_of(answered[1])))
    srv2 = Server(binary, data, [])
    try:
        check(srv2.wait_ready(), "restarted server becomes ready")
        st, doc = srv2.json("GET", "/api/v1/query", {"query": "it_requests_total", "time": "%.3f" % t_last})
        res = doc.get("data", {}).get("result", [])
        # b:1 was rewritten with one sample at `base`, still inside the 5m lookback.
        check([r["value"][1] for r in res] == ["19", "7"], "data survives a restart (got %s)" % res)
        st, doc = srv2.json("GET", "/api/v1/query", {"query": "it_requests_total", "time": str(base / 1000)})
        check(sorted(r["value"][1] for r in doc["data"]["result"]) == ["0", "7"], "rewritten series survives a restart")
        st, _, body = srv2.request("POST", "/api/v1/write", body=snappy_literal(b""))
        check(st == 404 and b"--web.enable-remote-write-receiver" in body, "remote write is 404 unless enabled")
        st, _, body = srv2.request("POST", "/api/v1/import/prometheus", body=b"x 1 1\n")
        check(st == 404, "text import is 404 unless enabled")
        st, doc = srv2.json("POST", "/api/v1/admin/tsdb/clean_tombstones")
        check(st == 503 and err_of(doc) == ("error", "unavailable", "admin APIs disabled"), "admin API is off by default")
        r = subprocess.run([binary, "query", "--url", srv2.base, "--time", "%.3f" % t_last,
                            'it_requests_total{instance="a:1"}'], capture_output=True, timeout=60)
        check(r.returncode == 0 and r.stdout.decode().strip() ==
              'it_requests_total{instance="a:1", job="api"} => 19 @[%.3f]' % t_last,
              "promlite query --url prints a table (got %r %r)" % (r.stdout[:200], r.stderr[:200]))
        st, _, body = srv2.request("POST", "/-/quit")
        check(st == 403, "/-/quit is 403 without --web.enable-lifecycle")
        r = subprocess.run([binary, "query", "--url", srv2.base, "up{"], capture_output=True, timeout=60)
        check(r.returncode == 1 and b"bad_data" in r.stderr, "promlite query --url reports a parse error")
        took = srv2.stop()
        check(srv2.proc.returncode == 0 and took < 10, "second SIGTERM stop in %.2f s" % took)
        r = subprocess.run([binary, "query", "--data", data, "--start", str(base / 1000), "--end", str(t_last),
                            "--step", "60s", "--format", "json", 'it_requests_total{instance="a:1"}'],
                           capture_output=True, timeout=60)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            doc = {}
        vals = [v[1] for v in doc.get("data", {}).get("result", [{}])[0].get("values", [])] if doc.get("data", {}).get("result") else None
        check(r.returncode == 0 and vals == ["0", "4", "8", "12", "16"],
              "promlite query --data runs a range query on the stopped server's directory (got %r %r)" % (r.stdout[:200], r.stderr[:300]))
    finally:
        if srv2.proc.poll() is None:
            srv2.proc.kill()
            srv2.proc.wait()
        if FAILURES:
            print(srv2.dump_log()[-3000:])

    # Lifecycle: POST /-/quit stops the server cleanly.
    srv3 = Server(binary, data, ["--web.enable-lifecycle"])
    try:
        check(srv3.wait_ready(), "third start on the same directory is ready")
        t0 = time.time()
        st, _, body = srv3.request("POST", "/-/quit")
        srv3.proc.wait(timeout=15)
        check(st == 200 and srv3.proc.returncode == 0 and time.time() - t0 < 10,
              "POST /-/quit with --web.enable-lifecycle exits cleanly (got %d %r)" % (st, body))
    finally:
        if srv3.proc.poll() is None:
            srv3.proc.kill()
            srv3.proc.wait()

    # Scraping: a configuration scraping the server itself every second.
    scrape_test(binary, os.path.join(os.path.dirname(data), "scrape-data"))

    # Bad flags.
    r = subprocess.run([binary, "server", "--no-such-flag"], capture_output=True, timeout=10)
    check(r.returncode == 2 and b"unknown long flag '--no-such-flag'" in r.stderr, "unknown flag exits 2 with a message")


def slow_queries_delay_nothing(srv, slow):
    """A request arriving together with a long query is answered while the query runs.

    Each pair is a query (1 s timeout) and a GET /metrics sent at once on two connections. With
    a thread pool one thread could accept both and serve /metrics after the query.
    """
    port = int(srv.base.rsplit(":", 1)[1])
    q = "/api/v1/query?" + urllib.parse.urlencode({"query": slow, "timeout": "1s"})
    pairs = []
    for _ in range(10):
        a = socket.create_connection(("127.0.0.1", port))
        b = socket.create_connection(("127.0.0.1", port))
        a.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % q).encode())
        b.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        pairs.append((a, b))
    late = 0
    for a, b in pairs:
        # Late: the query's answer is there and /metrics' is not (both there: cannot tell, fine).
        ready, _, _ = select.select([a, b], [], [], 30)
        b.settimeout(30)
        late += b not in ready or not b.recv(12).startswith(b"HTTP/1.1 200")
    for a, b in pairs:
        a.settimeout(30)
        while a.recv(65536):
            pass
        a.close()
        b.close()
    check(late == 0, "GET /metrics sent with a long query is answered while it runs (%d of 10 late)" % late)


def connection_limit(srv, limit):
    """--web.max-connections: one connection over the limit is closed unanswered, then served."""
    port = int(srv.base.rsplit(":", 1)[1])
    req = b"GET /-/ready HTTP/1.1\r\nHost: x\r\n\r\n"
    held = []
    for _ in range(limit):
        c = socket.create_connection(("127.0.0.1", port))
        c.settimeout(10)
        c.sendall(req)
        c.recv(64)
        held.append(c)
    extra = socket.create_connection(("127.0.0.1", port))
    extra.settimeout(10)
    try:
        extra.sendall(req)
        refused = extra.recv(64) == b""
    except OSError:
        refused = True
    extra.close()
    for c in held:
        c.close()
    st = wait_for(lambda: srv.get("/-/ready")[0] == 200, timeout=10)
    check(refused and st, "--web.max-connections=%d: connection %d is closed, later ones are served" % (limit, limit + 1))


def self_scrape_config(port, job):
    return ("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
            "  - job_name: %s\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % (job, port))


def wait_for(fn, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    return None


def metrics_of(srv):
    """GET /metrics as {series text: value}."""
    st, _, body = srv.get("/metrics")
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def self_metrics_test(srv, port):
    """Figures of GET /metrics move with scrapes: a failing target counts errors."""
    dead = free_port()  # nothing listens there
    srv.set_config(self_scrape_config(port, "self") +
                   "  - job_name: dead\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % dead)
    st, _, body = srv.request("POST", "/-/reload")
    check(st == 200, "reload adding a failing target (got %d %r)" % (st, body[:200]))
    err = 'promlite_scrapes_total{scrape_job="dead",result="error"}'
    ok = 'promlite_scrapes_total{scrape_job="self",result="success"}'
    first = wait_for(lambda: (lambda m: m if m.get(err, 0) >= 1 else None)(metrics_of(srv)))
    check(first is not None, "a failing target counts result=\"error\" in promlite_scrapes_total")
    if first is None:
        return
    later = wait_for(lambda: (lambda m: m if m.get(err, 0) >= first[err] + 2 and m.get(ok, 0) >= first[ok] + 2 else None)(metrics_of(srv)), timeout=10)
    check(later is not None, "error and success counts grow with each scrape")
    m = later or {}
    check(m.get('promlite_scrapes_total{scrape_job="dead",result="success"}') == 0 and
          m.get('promlite_scrapes_total{scrape_job="dead",result="timeout"}') == 0,
          "the failing target has no successes or timeouts")
    check(m.get('prometheus_target_scrape_pool_targets{scrape_job="dead"}') == 1 and
          m.get('prometheus_target_scrape_pool_targets{scrape_job="self"}') == 1,
          "prometheus_target_scrape_pool_targets per job")
    check(m.get('prometheus_sd_discovered_targets{config="dead",name="scrape"}') == 1,
          "prometheus_sd_discovered_targets per job")
    check(m.get('promlite_scrape_duration_seconds_count{scrape_job="self"}', 0) >= m.get(ok, 1) and
          m.get('promlite_scrape_duration_seconds_bucket{scrape_job="self",le="+Inf"}') ==
          m.get('promlite_scrape_duration_seconds_count{scrape_job="self"}'),
          "scrape duration histogram per job")
    check(m.get('prometheus_target_interval_length_seconds_count{interval="1s"}', 0) >= 2 and
          0.5 < m.get('prometheus_target_interval_length_seconds{interval="1s",quantile="0.5"}', 0) < 1.5,
          "prometheus_target_interval_length_seconds{interval=\"1s\"} near 1 s")
    check(m.get('prometheus_target_scrape_pool_reloads_total', 0) >= 1, "pool reloads counted")
    # Samples appended by scrapes reach the TSDB figures.
    app = m.get('promlite_scrape_samples_appended_total{scrape_job="self"}', 0)
    check(app > 0 and m.get('prometheus_tsdb_head_samples_appended_total', 0) >= app and
          m.get('promlite_scrape_samples_appended_total{scrape_job="dead"}', 0) >= 5,
          "samples appended by job (a failed scrape still stores up and its report series)")
    check(m.get('promlite_tsdb_lmdb_map_bytes', 0) >= m.get('promlite_tsdb_lmdb_used_bytes', 1) > 0 and
          m.get('promlite_tsdb_wal_records_total', 0) > 0 and m.get('prometheus_tsdb_head_series', 0) > 0,
          "LMDB map/used bytes, WAL records and head series are reported")
    check(any(k.startswith('prometheus_http_requests_total{code="200",handler="/metrics"}') for k in m) and
          m.get('prometheus_http_request_duration_seconds_count{handler="/metrics"}', 0) >= 1,
          "HTTP requests by handler and code with a duration histogram")
    check(m.get('process_resident_memory_bytes', 0) > 0, "process metrics")
    # The job leaves: its per-job series go, the totals stay.
    srv.set_config(self_scrape_config(port, "self"))
    srv.request("POST", "/-/reload")
    m = wait_for(lambda: (lambda m: m if err not in m else None)(metrics_of(srv)), timeout=10) or {}
    check(err not in m and ok in m, "a removed job leaves promlite_scrapes_total")


def scrape_test(binary, data):
    port = free_port()
    srv = Server(binary, data, ["--web.enable-lifecycle"], config=self_scrape_config(port, "self"), port=port)
    try:
        check(srv.wait_ready(), "server with a scrape configuration becomes ready")

        def up_of(job):
            st, doc = srv.json("GET", "/api/v1/query", {"query": 'up{job="%s"}' % job})
            res = doc.get("data", {}).get("result", []) if st == 200 else []
            return res[0]["value"][1] if res else None
        check(wait_for(lambda: up_of("self") == "1"), "the server scrapes itself: up{job=\"self\"} is 1")
        # The counter has a series only once a request has finished, and the first scrape can
        # start before the readiness probes above have: wait for a later scrape.
        check(wait_for(lambda: srv.json("GET", "/api/v1/query", {"query": 'prometheus_http_requests_total{job="self"}'})[1].get("data", {}).get("result")),
              "its own /metrics series are stored")
        check(wait_for(lambda: srv.json("GET", "/api/v1/query", {"query": 'promlite_scrapes_total{job="self",scrape_job="self",result="success"} > 0'})[1].get("data", {}).get("result")),
              "scrape counts are in the self-metrics")
        self_metrics_test(srv, port)
        # One slow scrape (sanitized build, loaded machine) makes the target down until the next.
        def active():
            act = srv.json("GET", "/api/v1/targets")[1].get("data", {}).get("activeTargets", [])
            return act if len(act) == 1 and act[0]["health"] == "up" else None
        act = wait_for(active) or srv.json("GET", "/api/v1/targets")[1].get("data", {}).get("activeTargets", [])
        check(len(act) == 1 and act[0]["labels"]["job"] == "self" and act[0]["health"] == "up",
              "/api/v1/targets lists the target as up (got %s)" % act)
        # SIGHUP with a bad file keeps the running configuration.
        srv.set_config("scrape_configs:\n  - job_name: [\n")
        srv.proc.send_signal(signal.SIGHUP)
        ok = wait_for(lambda: srv.json("GET", "/api/v1/status/runtimeinfo")[1].get("data", {}).get("reloadConfigSuccess") is False)
        check(ok, "a bad configuration on SIGHUP is reported by runtimeinfo")
        st, doc = srv.json("GET", "/api/v1/targets")
        check([a["labels"]["job"] for a in doc["data"]["activeTargets"]] == ["self"], "the old configuration keeps running")
        # POST /-/reload with a new job.
        srv.set_config(self_scrape_config(port, "again"))
        st, _, body = srv.request("POST", "/-/reload")
        check(st == 200, "POST /-/reload is 200 (got %d %r)" % (st, body[:200]))
        check(wait_for(lambda: up_of("again") == "1"), "the reloaded job is scraped")
        st, doc = srv.json("GET", "/api/v1/status/runtimeinfo")
        check(doc["data"]["reloadConfigSuccess"] is True, "runtimeinfo reports the successful reload")
        srv.set_config("scrape_configs: 5\n")
        st, _, body = srv.request("POST", "/-/reload")
        check(st == 500 and body.startswith(b"failed to reload config: "), "POST /-/reload with a bad file is 500 (got %d %r)" % (st, body[:200]))
        took = srv.stop()
        check(srv.proc.returncode == 0 and took < 10, "scraping server stops cleanly in %.2f s" % took)
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()
        if FAILURES:
            print(srv.dump_log()[-3000:])
    # A bad configuration file fails the start, as in Prometheus.
    bad = Server(binary, data + "-bad", [], config="scrape_configs:\n  - job_name: [\n")
    try:
        bad.proc.wait(timeout=20)
        check(bad.proc.returncode == 1 and "Error loading config" in bad.dump_log(), "a bad --config.file fails the start")
    finally:
        if bad.proc.poll() is None:
            bad.proc.kill()
            bad.proc.wait()


if __name__ == "__main__":
    sys.exit(main())
