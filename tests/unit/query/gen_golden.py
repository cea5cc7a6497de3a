#!/usr/bin/env python3
"""Fill in expectations of a promqltest script from a reference Prometheus.

Reads IN (promqltest format whose `eval` lines may lack expectations), plays
its loads against a Prometheus started by shared/promql-tests/prometheus_ctl.sh
(restarted at the start and at every `clear`), runs each eval as an instant
query there, and writes OUT with the reference answers as expectations (an
error becomes `eval_fail`). promlite then checks the same file in process
(promqltest --strict), so hand-written cases are checked against
Prometheus 2.42 itself rather than against our reading of it.

usage: gen_golden.py SUITE_DIR PORT IN OUT
"""
import os
import re
import subprocess
import sys


def main():
    suite, port, src, dst = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    sys.path.insert(0, suite)
    import promqltest_runner as R

    class A:
        pass
    args = A()
    args.url = "http://127.0.0.1:%s" % port
    args.timeout = 60
    args.ingest = "remote-write"
    args.write_path = "/api/v1/write"
    args.batch_samples = 5000
    args.clear = "restart"
    args.restart_cmd = "%s/prometheus_ctl.sh restart %s" % (suite, port)
    args.ready_timeout = 60
    client = R.Client(args)

    text = open(src).read()
    lines = text.split("\n")
    out = []
    if client.clear():
        sys.exit("cannot start the reference server")
    i = 0
    while i < len(lines):
        raw = lines[i]
        l = raw.strip()
        if l.startswith("#") or not l:
            out.append(raw)
            i += 1
            continue
        word = l.split()[0]
        if word == "clear":
            err = client.clear()
            if err:
                sys.exit(err)
            out.append(raw)
            i += 1
            continue
        if word == "load":
            block = [raw]
            j = i + 1
            while j < len(lines) and lines[j].strip():
                block.append(lines[j])
                j += 1
            cmds = R.parse_test_file("\n".join(block) + "\n")
            for c in cmds:
                err = client.ingest(c)
                if err:
                    sys.exit(err)
            out.extend(block)
            i = j
            continue
        m = re.match(r"^eval(_ordered|_fail)?\s+instant\s+at\s+(\S+)\s+(.+)$", l)
        if not m:
            sys.exit("line %d: cannot handle %r" % (i + 1, l))
        j = i + 1
        while (j < len(lines) and lines[j].strip() and not lines[j].strip().startswith("#")
               and lines[j].strip().split()[0] not in ("eval", "eval_fail", "eval_ordered",
                                                       "load", "clear")):
            j += 1  # drop any old expectations
        t = R.parse_duration_ms(m.group(2))
        ok, data, _, _ = client.query("/api/v1/query", {"query": m.group(3), "time": R.fmt_time(t)})
        if not ok:
            out.append("eval_fail instant at %s %s" % (m.group(2), m.group(3)))
        else:
            out.append("eval%s instant at %s %s" % (m.group(1) if m.group(1) == "_ordered" else "",
                                                    m.group(2), m.group(3)))
            rt = data["resultType"]
            if rt == "scalar":
                out.append("  " + data["result"][1])
            elif rt == "string":
                out.append('  "%s"' % data["result"][1].replace("\\", "\\\\").replace('"', '\\"'))
            elif rt == "vector":
                for r in data["result"]:
                    met = dict(r["metric"])
                    name = met.pop("__name__", "")
                    lbl = ", ".join('%s="%s"' % (k, v.replace("\\", "\\\\").replace('"', '\\"')
                                                 .replace("\n", "\\n"))
                                    for k, v in sorted(met.items()))
                    out.append("  %s{%s} %s" % (name, lbl, r["value"][1]))
            else:
                out.append("# matrix result: not representable")
        out.append("")
        i = j
        while i < len(lines) and not lines[i].strip():
            i += 1
    with open(dst, "w") as f:
        f.write("\n".join(out).rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
