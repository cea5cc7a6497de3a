#!/usr/bin/env python3
"""promlite and Prometheus 2.42 on one prometheus.yml store the same series.

Issue 4: "a user must be able to start promlite with their existing
prometheus.yml and get the same series Prometheus would store". This test
serves targets from this process (127.0.0.1, free ports) whose series change
between scrapes, starts Prometheus (when /usr/bin/prometheus or `prometheus`
on PATH exists) and promlite on the same configuration file, and compares:

- the stored series sets (/api/v1/series over the whole run): file_sd
  targets, relabel_configs (replace, drop, labelmap), metric_relabel_configs
  (drop, labeldrop, __name__ rewrite, replace), honor_labels true and false
  with an exported_ chain, the five report series, a hanging target;
- staleness: a series that leaves the exposition and the series of a target
  removed from file_sd are present mid-run and absent at the end in both
  (stale markers written; without them the 5 m lookback would still show them);
- values of constant series;
- a reload (SIGHUP, one job added) keeps the unchanged targets' series and
  state in promlite: no new series, no stale markers, scrape_series_added 0.

Then, promlite alone: SIGTERM stops it within 10 s while a target accepts
connections and never answers.

Without Prometheus the comparison is skipped (exit 0 with a note) and the
promlite-only checks still run. Each target counts scrapes per scraper
(User-Agent), so both servers see the same sequence of expositions.

usage: test_vs_prometheus.py PATH/TO/promlite
"""
import gzip
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- targets ----

COUNTS = {}
COUNTS_MU = threading.Lock()


def body_for(path, n):
    """The exposition of scrape number n (1-based) of one scraper."""
    if path == "/metrics":
        lines = [
            "# HELP req_total Requests.",
            "# TYPE req_total counter",
            'req_total{code="200",path="/a"} %d' % n,
            'req_total{code="503",path="/b"} %d' % (2 * n),
            "# TYPE const_gauge gauge",
            'const_gauge{tmp_id="1",x="a"} 42',
            'const_gauge{tmp_id="2",x="b"} -1.5e-3',
            "drop_me_total 1",
            'renamed_src{kind="foo"} 3',
            "# TYPE lat_seconds histogram",
            'lat_seconds_bucket{le="0.1"} %d' % n,
            'lat_seconds_bucket{le="+Inf"} %d' % (n + 1),
            "lat_seconds_sum %g" % (0.05 * n),
            "lat_seconds_count %d" % (n + 1),
            'empty_label{a="",b="x"} 1',
            'escaped{v="q\\"uote\\\\ \\n"} 1',
            'utf8_value{v="h\u00e9llo \u2713"} 1',
            "dup_series 1",
            "dup_series 2",
            "nan_gauge NaN",
            "inf_gauge +Inf",
            "# TYPE rpc_seconds summary",
            'rpc_seconds{quantile="0.5"} 0.25',
            "rpc_seconds_sum %d" % n,
            "rpc_seconds_count %d" % n,
        ]
        if n <= 3:
            lines.append('early_only{k="v"} 1')
        if n >= 5:
            lines.append("late_only 7")
        return "\n".join(lines) + "\n"
    if path == "/conflict":
        return ('conflict_total{job="fromtarget",instance="x",exported_job="already"} 1\n'
                'plain_metric{env="e"} 5\n')
    if path == "/plain":
        return "extra_metric 1\n"
    if path == "/iv":  # its job's scrape_interval changes on reload
        return "iv_metric %d\n" % n
    # Scrapes 4 to 6 fail in four ways, then the target recovers.
    bad = 4 <= n <= 6
    if path == "/flaky":
        return None if bad else 'flaky_value{k="1"} %d\nflaky_const 1\n' % n
    if path == "/grow":  # sample_limit: 3
        return "g1 %d\ng2 1\n" % n + ("g3 1\ng4 1\n" if bad else "")
    if path == "/limited":  # sample_limit: 2, always over
        return "s1 1\ns2 %d\ns3 1\n" % n
    if path == "/labels":  # label_limit: 4
        return 'l0 1\nl1{a="1"} %d\n' % n + ('l2{a="1",b="2",c="3"} 1\nl3 1\n' if bad else "")
    if path == "/big":  # body_size_limit: 1KB
        return "big1 %d\n" % n + ("# " + "x" * 2000 + "\n" if bad else "")
    if path == "/ts":
        # Exposed timestamps: honoured or not per job (5 s in the past, ms).
        return "ts_metric %d %d\n" % (n, int(time.time() * 1000) - 5000)
    if path == "/om":
        sec = time.time() - 5
        return """# TYPE om_requests counter
# HELP om_requests Requests.
om_requests_total %d
om_requests_created 1700000000.5
# TYPE om_build info
om_build_info{version="1.2"} 1
# TYPE om_state stateset
om_state{om_state="a"} 1
om_state{om_state="b"} 0
# TYPE om_gh gaugehistogram
om_gh_bucket{le="1"} 2
om_gh_bucket{le="+Inf"} 3
om_gh_gcount 3
om_gh_gsum 1.5
# TYPE om_sum summary
om_sum{quantile="0.5"} 1
om_sum_sum 10
om_sum_count 4
# TYPE om_ts gauge
om_ts 3 %.3f
# EOF
""" % (n, sec)
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path
        who = "prometheus" if self.headers.get("User-Agent", "").startswith("Prometheus") else "promlite"
        key = (who, self.server.server_port, path)
        with COUNTS_MU:
            COUNTS[key] = COUNTS.get(key, 0) + 1
            n = COUNTS[key]
        body = body_for(path, n)
        if body is None:
            self.send_response(500 if path == "/flaky" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = body.encode()
        self.send_response(200)
        if path == "/om":
            self.send_header("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
        else:
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        if "gzip" in self.headers.get("Accept-Encoding", "") and path == "/metrics":
            data = gzip.compress(data)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Target:
    def __init__(self):
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.port = self.srv.server_port
        self.addr = "127.0.0.1:%d" % self.port
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class HangTarget:
    """Accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.conns = []
        self.accepted = threading.Event()
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            self.accepted.set()

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


# ---- servers ----

class Proc:
    def __init__(self, name, argv, port, logdir):
        self.name = name
        self.port = port
        self.base = "http://127.0.0.1:%d" % port
        self.log = open(os.path.join(logdir, name + ".log"), "w+")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)

    def get(self, path, params=None, timeout=30):
        url = self.base + path
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            return 0, b""

    def api(self, path, params=None):
        st, body = self.get(path, params)
        if st != 200:
            return None
        doc = json.loads(body)
        return doc.get("data") if doc.get("status") == "success" else None

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.get("/-/ready", timeout=2)[0] == 200:
                return True
            time.sleep(0.1)
        return False

    def series(self, start, end):
        data = self.api("/api/v1/series", {"match[]": '{__name__=~".+"}', "start": "%.3f" % start,
                                           "end": "%.3f" % end})
        return None if data is None else {frozenset(d.items()) for d in data}

    def instant(self, query, t=None):
        params = {"query": query}
        if t is not None:
            params["time"] = "%.3f" % t
        data = self.api("/api/v1/query", params)
        if data is None:
            return None
        return {frozenset(r["metric"].items()): r["value"][1] for r in data["result"]}

    def stop(self):
        t0 = time.time()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.flush()
        return time.time() - t0

    def tail(self):
        self.log.seek(0)
        return self.log.read()[-3000:]


def fmt(ls):
    d = dict(ls)
    name = d.pop("__name__", "")
    return name + "{" + ",".join('%s="%s"' % (k, d[k]) for k in sorted(d)) + "}"


def config(tmp, c, hang, extra=None):
    text = """global:
  scrape_interval: 1s
  scrape_timeout: 800ms
scrape_configs:
  - job_name: app
    file_sd_configs:
      - files: ['%(tmp)s/targets.json']
    relabel_configs:
      - source_labels: [__address__]
        regex: '127\\.0\\.0\\.1:(\\d+)'
        target_label: port
        replacement: 'p$1'
      - source_labels: [role]
        regex: skipme
        action: drop
      - regex: 'team'
        action: labelmap
        replacement: 'owner'
      - source_labels: [team]
        target_label: owner
        action: keepequal
      - source_labels: [__address__]
        modulus: 8
        target_label: shard
        action: hashmod
      - source_labels: [team]
        target_label: team_upper
        action: uppercase
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'drop_me_.*'
        action: drop
      - regex: 'tmp_.*'
        action: labeldrop
      - source_labels: [__name__, kind]
        regex: 'renamed_src;(.*)'
        target_label: __name__
        replacement: 'renamed_${1}'
      - source_labels: [code]
        regex: '(\\d)\\d\\d'
        target_label: code_class
        replacement: '${1}xx'
      - source_labels: [path]
        target_label: path_upper
        action: uppercase
  - job_name: honor
    honor_labels: true
    metrics_path: /conflict
    static_configs: [{targets: ['%(c)s'], labels: {env: static}}]
  - job_name: nohonor
    metrics_path: /conflict
    static_configs: [{targets: ['%(c)s'], labels: {env: static}}]
  - job_name: hang
    static_configs: [{targets: ['%(hang)s']}]
  - job_name: om
    metrics_path: /om
    static_configs: [{targets: ['%(c)s']}]
  - job_name: ts_honored
    metrics_path: /ts
    static_configs: [{targets: ['%(c)s']}]
  - job_name: flaky
    metrics_path: /flaky
    static_configs: [{targets: ['%(c)s']}]
  - job_name: grow
    metrics_path: /grow
    sample_limit: 3
    static_configs: [{targets: ['%(c)s']}]
  - job_name: limited
    metrics_path: /limited
    sample_limit: 2
    static_configs: [{targets: ['%(c)s']}]
  - job_name: labels
    metrics_path: /labels
    label_limit: 4
    static_configs: [{targets: ['%(c)s']}]
  - job_name: big
    metrics_path: /big
    body_size_limit: 1KB
    static_configs: [{targets: ['%(c)s']}]
  - job_name: ivchange
    metrics_path: /iv
    scrape_interval: %(iv)s
    params: {module: [m1]}
    static_configs: [{targets: ['%(c)s']}]
  - job_name: ts_ignored
    metrics_path: /ts
    honor_timestamps: false
    static_configs: [{targets: ['%(c)s']}]
""" % {"tmp": tmp, "c": c, "hang": hang, "iv": "2s" if extra else "1s"}
    if extra:
        text += """  - job_name: extra
    metrics_path: /plain
    static_configs: [{targets: ['%s']}]
""" % extra
    return text


def write_targets(tmp, groups):
    path = os.path.join(tmp, "targets.json")
    with open(path + ".tmp", "w") as f:
        json.dump(groups, f)
    os.replace(path + ".tmp", path)  # one inotify event, never a half-written file


def find_prometheus():
    for p in ("/usr/bin/prometheus", shutil.which("prometheus") or ""):
        if p and os.access(p, os.X_OK):
            return p
    return None


def compare(binary, tmp):
    a, b, c, d = Target(), Target(), Target(), Target()
    hang = HangTarget()
    write_targets(tmp, [{"targets": [a.addr, b.addr], "labels": {"team": "infra"}},
                        {"targets": [d.addr], "labels": {"role": "skipme"}}])
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(config(tmp, c.addr, hang.addr))
    prom_bin = find_prometheus()
    procs = []
    lp = free_port()
    lite = Proc("promlite", [binary, "server", "--web.listen-address=127.0.0.1:%d" % lp,
                             "--storage.tsdb.path=" + os.path.join(tmp, "lite"),
                             "--config.file=" + cfg], lp, tmp)
    procs.append(lite)
    prom = None
    if prom_bin:
        pp = free_port()
        prom = Proc("prometheus", [prom_bin, "--config.file=" + cfg,
                                   "--storage.tsdb.path=" + os.path.join(tmp, "prom"),
                                   "--web.listen-address=127.0.0.1:%d" % pp], pp, tmp)
        procs.append(prom)
    else:
        print("note: prometheus not installed; comparing promlite with itself only")
    try:
        t0 = time.time()
        for p in procs:
            check(p.wait_ready(), "%s becomes ready" % p.name)

        def scraped(p, n):
            return all(COUNTS.get((p, port, "/metrics"), 0) >= n for port in (a.port, b.port))
        who = ["promlite"] + (["prometheus"] if prom else [])
        deadline = time.time() + 30
        while time.time() < deadline and not all(scraped(w, 6) for w in who):
            time.sleep(0.2)
        check(all(scraped(w, 6) for w in who), "both servers scraped the targets 6 times")
        # Mid-run: b's series and early_only (gone from the exposition) are
        # visible only through lookback if no stale marker was written.
        mid = {p.name: p.instant('{__name__=~"req_total|early_only"}') for p in procs}
        for p in procs:
            m = mid[p.name] or {}
            check(any(dict(k).get("instance") == b.addr for k in m),
                  "%s: target b's series are visible before it leaves" % p.name)
            check(not any(dict(k).get("__name__") == "early_only" for k in m),
                  "%s: early_only is stale once it leaves the exposition" % p.name)
        # A reload adding one job: promlite must keep the other targets as they are.
        before = lite.instant('scrape_series_added{job="app"}') or {}
        e = Target()
        with open(cfg, "w") as f:
            f.write(config(tmp, c.addr, hang.addr, extra=e.addr))
        t_reload = time.time()
        for p in procs:
            p.proc.send_signal(signal.SIGHUP)
        # Target b leaves file_sd; d (dropped by relabeling) stays dropped.
        write_targets(tmp, [{"targets": [a.addr], "labels": {"team": "infra"}},
                            {"targets": [d.addr], "labels": {"role": "skipme"}}])
        t_removed = time.time()
        # Prometheus's discovery sends updates at most every 5 s and writes
        # end-of-run stale markers two intervals after the last scrape.
        deadline = time.time() + 40
        gone = {}
        while time.time() < deadline:
            for p in procs:
                if p.name not in gone:
                    m = p.instant('{instance="%s"}' % b.addr)
                    if m == {}:
                        gone[p.name] = time.time() - t_removed
            extra_up = all((p.instant('up{job="extra"}') or {}) for p in procs)
            if len(gone) == len(procs) and extra_up and time.time() - t_removed > 9:
                break
            time.sleep(0.3)
        for p in procs:
            check(p.name in gone, "%s: target b's series are stale after it left file_sd (%.1f s)"
                  % (p.name, gone.get(p.name, -1)))
        check(COUNTS.get(("promlite", d.port, "/metrics"), 0) == 0, "the relabel-dropped target is never scraped")
        # promlite kept the unchanged targets through the reload.
        after = lite.api("/api/v1/query_range", {
            "query": 'scrape_series_added{job="app",instance="%s"}' % a.addr,
            "start": "%.3f" % (t_reload + 0.5), "end": "%.3f" % time.time(), "step": "0.25"})
        vals = [float(v) for r in (after or {}).get("result", []) for _, v in r["values"]]
        check(len(vals) > 0 and max(vals) == 0,
              "reload: the kept target adds no series afterwards (scrape_series_added %s)" % sorted(set(vals)))
        st = lite.api("/api/v1/targets") or {}
        kept = [t for t in st.get("activeTargets", []) if t["labels"].get("instance") == a.addr]
        check(len(kept) == 1 and kept[0]["health"] == "up", "reload: the kept target is up")
        end = time.time()
        # Final comparison.
        sets = {p.name: p.series(t0 - 60, end + 60) for p in procs}
        now_sets = {p.name: p.instant('{__name__=~".+"}', end) for p in procs}
        ls = sets["promlite"] or set()
        names = {dict(s).get("__name__") for s in ls}
        check("drop_me_total" not in names and "renamed_foo" in names and "renamed_src" not in names,
              "metric_relabel_configs drop and __name__ rewrite")
        check(any(dict(s).get("code_class") == "5xx" for s in ls), "metric_relabel_configs replace with ${1}")
        check(not any("tmp_id" in dict(s) for s in ls), "metric_relabel_configs labeldrop")
        check(any(dict(s).get("owner") == "infra" and dict(s).get("port") == "p%d" % a.port for s in ls),
              "relabel_configs labelmap and replace")
        check({"exported_exported_job": "fromtarget", "exported_job": "already", "exported_instance": "x",
               "job": "nohonor", "instance": c.addr, "env": "static", "__name__": "conflict_total"}
              in [dict(s) for s in ls], "honor_labels false: exported_ chain (got %s)"
              % [fmt(s) for s in ls if dict(s).get("__name__") == "conflict_total"])
        check({"exported_job": "already", "job": "fromtarget", "instance": "x", "env": "static",
               "__name__": "conflict_total"} in [dict(s) for s in ls], "honor_labels true: the target's labels win")
        check(any(dict(s).get("job") == "hang" and dict(s).get("__name__") == "up" for s in ls),
              "the hanging target has its up series")
        now_lite = now_sets["promlite"] or {}
        check(not any(dict(k).get("instance") == b.addr or dict(k).get("__name__") == "early_only" for k in now_lite),
              "promlite: stale series are absent at the end")
        check(any(dict(k).get("__name__") == "late_only" for k in now_lite), "promlite: late_only is present")
        check(any(dict(k).get("instance") == a.addr and dict(k).get("__name__") == "req_total" for k in now_lite),
              "promlite: the kept target's series are present at the end (no stale markers from the reload)")
        if prom:
            lp_, pp_ = sets["promlite"], sets["prometheus"]
            check(lp_ is not None and pp_ is not None and len(pp_) > 30,
                  "both servers answer /api/v1/series (%s, %s series)" % (
                      len(lp_) if lp_ else None, len(pp_) if pp_ else None))
            if lp_ is not None and pp_ is not None:
                only_l = sorted(fmt(s) for s in lp_ - pp_)
                # g3/g4 of job grow: the stale-only quirk (compare_dumps).
                only_p = sorted(fmt(s) for s in pp_ - lp_ if dict(s).get("job") != "grow" or
                                dict(s).get("__name__") not in ("g3", "g4"))
                check(not only_l and not only_p,
                      "stored series sets are identical (%d series; only promlite: %s; only Prometheus: %s)"
                      % (len(pp_), only_l[:10], only_p[:10]))
            nl, np_ = now_sets["promlite"] or {}, now_sets["prometheus"] or {}
            # Presence at the end (stale or not) must agree; up of the hanging
            # target and durations differ in value only.
            dl = sorted(fmt(k) for k in set(nl) - set(np_))
            dp = sorted(fmt(k) for k in set(np_) - set(nl))
            check(not dl and not dp, "series visible at the end agree (only promlite: %s; only Prometheus: %s)"
                  % (dl[:10], dp[:10]))
            consts = [k for k in np_ if dict(k).get("__name__") in ("const_gauge", "renamed_foo", "plain_metric",
                                                                       "conflict_total", "late_only")]
            diff = [fmt(k) for k in consts if nl.get(k) is None or float(nl[k]) != float(np_[k])]
            check(consts and not diff, "values of constant series agree (%d series; differ: %s)" % (len(consts), diff))
            up_l = {dict(k).get("job"): v for k, v in nl.items() if dict(k).get("__name__") == "up"}
            up_p = {dict(k).get("job"): v for k, v in np_.items() if dict(k).get("__name__") == "up"}
            check(up_l == up_p, "up per job agrees (%s vs %s)" % (up_l, up_p))
        took = lite.stop()
        check(lite.proc.returncode == 0 and took < 10, "promlite stops cleanly in %.2f s" % took)
        if prom:
            prom.stop()
            compare_dumps(binary, tmp, end)
    finally:
        for p in procs:
            p.stop()
        if FAILURES:
            for p in procs:
                print("---- %s log ----" % p.name)
                print(p.tail())
        for t in (a, b, c, d, hang):
            t.close()


def parse_dump(text):
    """`series value ts` lines of promlite/promtool tsdb dump as {labels: [value, ...]}."""
    out = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        ser, v, _ = line.rsplit(" ", 2)
        # promtool writes {__name__="x", a="b"}, promlite x{a="b"}: compare label lists.
        name, _, rest = ser.partition("{")
        labels = rest.rstrip("}")
        if name:
            labels = '__name__="%s", ' % name + labels if labels else '__name__="%s"' % name
        out.setdefault(labels, []).append("NaN" if v == "NaN" else repr(float(v)))
    return out


def stale_only(dump):
    """Series whose only samples are stale markers (see compare_dumps)."""
    return {k for k, vals in dump.items() if all(v == "NaN" for v in vals) and "nan_gauge" not in k}


def runs(vals):
    """Consecutive equal values collapsed, trailing stale markers dropped."""
    out = []
    for v in vals:
        if not out or out[-1] != v:
            out.append(v)
    while out and out[-1] == "NaN":
        out.pop()
    return out


def compare_dumps(binary, tmp, end):
    """Stale markers per series from both stores (NaN in a dump; no exposed value is NaN except nan_gauge)."""
    promtool = shutil.which("promtool")
    if not promtool:
        print("note: promtool not installed; stale markers compared through queries only")
        return
    # Up to `end`, taken before the stop: Prometheus fails a scrape in flight
    # at shutdown (up 0 and stale markers), promlite abandons it.
    maxt = "--max-time=%d" % int(end * 1000)
    r1 = subprocess.run([promtool, "tsdb", "dump", maxt, os.path.join(tmp, "prom")], capture_output=True,
                        text=True, timeout=60)
    r2 = subprocess.run([binary, "tsdb", "dump", maxt, "--storage.tsdb.path=" + os.path.join(tmp, "lite")],
                        capture_output=True, text=True, timeout=60)
    check(r1.returncode == 0 and r2.returncode == 0, "both stores dump (%s %s)" % (r1.stderr[-200:], r2.stderr[-200:]))
    p, l = parse_dump(r1.stdout), parse_dump(r2.stdout)
    # Deliberate divergence: after a scrape rejected for its sample limit,
    # Prometheus 2.42 writes stale markers for the series that existed only in
    # the rejected body (they never had a sample); promlite does not create
    # such series. Listed, then left out of the comparison.
    quirk = stale_only(p) - set(l)
    if quirk:
        print("note: stale-marker-only series in Prometheus only: %s" % sorted(quirk))
    for k in quirk:
        del p[k]
    check(set(p) == set(l) and len(p) > 30, "dumped series sets are identical (%d, %d; only Prometheus: %s; only promlite: %s)"
          % (len(p), len(l), sorted(set(p) - set(l))[:5], sorted(set(l) - set(p))[:5]))
    # Job ivchange changes its scrape_interval on reload, so its target is
    # replaced by one with the same labels. Both servers defer the old
    # target's end-of-run stale markers past its next scrape; whether the
    # marker lands before the replacement's first sample depends on the
    # replacement's scrape offset, in Prometheus as in promlite. Its markers
    # are not compared, its values are (markers left out).
    timing = 'job="ivchange"'
    for k in list(p):
        if timing in k:
            p[k] = [v for v in p[k] if v != "NaN"]
            if k in l:
                l[k] = [v for v in l[k] if v != "NaN"]
    diff = []
    stale_series = 0
    for k in sorted(set(p) & set(l)):
        if "nan_gauge" in k:
            continue
        np_, nl = p[k].count("NaN"), l[k].count("NaN")
        stale_series += np_ > 0
        if np_ != nl or (p[k][-1] == "NaN") != (l[k][-1] == "NaN"):
            diff.append("%s: Prometheus %d markers (last %s), promlite %d (last %s)" % (
                k[:100], np_, p[k][-1], nl, l[k][-1]))
    check(not diff and stale_series >= 10,
          "stale markers per series agree (%d series with markers; differ: %s)" % (stale_series, diff[:5]))
    # Values follow the scrape count of each scraper, so the sequences of
    # distinct values agree: one is a prefix of the other (Prometheus starts
    # scraping about 5 s later), trailing stale markers aside.
    skip = ("scrape_duration_seconds", "ts_metric", "om_ts", "nan_gauge")
    diff = []
    for k in sorted(set(p) & set(l)):
        if any('__name__="%s"' % n in k for n in skip):
            continue
        rp, rl = runs(p[k]), runs(l[k])
        if timing in k and "iv_metric" in k:
            # A scrape in flight when the reload replaces the target is given up, by
            # Prometheus (its context is cancelled) as by promlite: the target counted the
            # request, so one value can be missing there. Otherwise 1, 2, 3, ...
            def counts_up(r):
                v = [float(x) for x in r]
                steps = [b - a for a, b in zip(v, v[1:])]
                return v[:1] == [1.0] and all(s == 1 for s in steps if s != 2) and steps.count(2) <= 1
            if not (counts_up(rp) and counts_up(rl)):
                diff.append("%s: Prometheus %s, promlite %s" % (k[:90], rp[:14], rl[:14]))
            continue
        short, long_ = (rp, rl) if len(rp) <= len(rl) else (rl, rp)
        if long_[:len(short)] != short:
            diff.append("%s: Prometheus %s, promlite %s" % (k[:90], rp[:12], rl[:12]))
    check(not diff, "value sequences agree for every series (differ: %s)" % diff[:6])


def sigterm_while_hanging(binary, tmp):
    """SIGTERM stops promlite within 10 s while its targets never answer."""
    hangs = [HangTarget() for _ in range(3)]
    cfg = os.path.join(tmp, "hang.yml")
    with open(cfg, "w") as f:
        f.write("scrape_configs:\n  - job_name: hang\n    scrape_interval: 5s\n    scrape_timeout: 5s\n"
                "    static_configs: [{targets: [%s]}]\n" % ", ".join("'%s'" % h.addr for h in hangs))
    port = free_port()
    p = Proc("promlite-hang", [binary, "server", "--web.listen-address=127.0.0.1:%d" % port,
                               "--storage.tsdb.path=" + os.path.join(tmp, "hang-data"),
                               "--config.file=" + cfg], port, tmp)
    try:
        check(p.wait_ready(), "promlite with hanging targets becomes ready")
        # Scrapes start at a stable offset within 5 s: wait until all hang.
        deadline = time.time() + 10
        while time.time() < deadline and not all(h.accepted.is_set() for h in hangs):
            time.sleep(0.1)
        check(all(h.accepted.is_set() for h in hangs), "the hanging targets are being scraped")
        took = p.stop()
        check(p.proc.returncode == 0 and took < 10, "SIGTERM stops promlite in %.2f s while 3 scrapes hang" % took)
    finally:
        p.stop()
        if FAILURES:
            print(p.tail())
        for h in hangs:
            h.close()


def main():
    binary = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="promlite-vs-prom-")
    try:
        compare(binary, tmp)
        sigterm_while_hanging(binary, tmp)
    finally:
        if os.environ.get("KEEP_TMP"):
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
