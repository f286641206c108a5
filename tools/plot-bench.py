#!/usr/bin/env python3
"""plot-bench.py: draw SVG charts of a benchmark results file with gnuplot.

    tools/plot-bench.py [-o DIR] [-p PREFIX] RESULTS.txt...

RESULTS are raw result lines as bench/run.sh writes them (bench=... impl=...
procs=... key=value ...; bench/results/*.txt). Runs of one (bench, impl,
procs, size) are reduced to their median, the lower middle one for an
even count, as bench/median.sh does. Writes, in DIR (default .):

  PREFIX-ratio.svg    per workload and size, how many times better gort
                      is than Go on the workload's headline metric (the
                      first one bench/run.sh's table shows): Go/gort for
                      times, latencies and memory, gort/Go for rates. One
                      bar per processor count, log scale, 1 = parity.
  PREFIX-scaling.svg  only when more than one processor count ran: per
                      workload (its largest size), throughput against
                      processors for gort and Go (1e9/ns_per_op, or
                      messages or requests per second). Latency workloads
                      (schedlat, hog, spawnburst) have no throughput and
                      are left out.

PREFIX defaults to "bench". Needs gnuplot (Debian: gnuplot-nox) and
nothing beyond Python's standard library. Prints the files it wrote.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from collections import OrderedDict

# The headline metric of each workload: bench/run.sh's metrics() first.
HEADLINE = {
    "echo": "msgs_per_s", "http": "reqs_per_s", "httpcpu": "reqs_per_s",
    "alive": "wall_ms", "schedlat": "p99_us", "hog": "p99_us",
    "spawnburst": "p99_us",
}
HIGHER_IS_BETTER = ("msgs_per_s", "reqs_per_s", "ops_per_s")
LATENCY_ONLY = ("schedlat", "hog", "spawnburst")


def parse(paths):
    """Yields one dict per result line."""
    for path in paths:
        with open(path) as f:
            for line in f:
                if not line.startswith("bench="):
                    continue
                kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
                yield kv


def median(vals):
    vals = sorted(vals)
    return vals[(len(vals) + 1) // 2 - 1]


def size_of(kv):
    if "n" in kv:
        return "n=" + kv["n"]
    if "conns" in kv:
        return "c=" + kv["conns"]
    return ""


def collect(rows, metric_of):
    """{(bench, size): {(impl, procs): median}} in first-seen order."""
    runs = OrderedDict()
    for kv in rows:
        b = kv.get("bench")
        m = metric_of(kv)
        if not b or not m or m not in kv:
            continue
        try:
            v = float(kv[m])
            procs = int(kv.get("procs", "0"))
        except ValueError:
            continue
        key = (b, size_of(kv))
        runs.setdefault(key, {}).setdefault((kv.get("impl"), procs),
                                            []).append(v)
    return OrderedDict((k, {ip: median(v) for ip, v in d.items()})
                       for k, d in runs.items())


def short(size):
    """n=1000000 -> n=1e6, to keep the axis labels readable."""
    k, _, v = size.partition("=")
    if v.isdigit() and len(v) > 4 and v.rstrip("0") == v[0]:
        return "%s=1e%d" % (k, len(v) - 1) if v[0] == "1" else \
            "%s=%se%d" % (k, v[0], len(v) - 1)
    return size


def gnuplot(script):
    r = subprocess.run(["gnuplot"], input=script, text=True,
                       capture_output=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit("plot-bench: gnuplot failed")


TERM = ("set terminal svg size %d,%d dynamic enhanced font 'sans,11' "
        "background rgb 'white'\n")


def ratio_chart(rows, procs, out, tmp, title):
    def metric(kv):
        return HEADLINE.get(kv.get("bench"), "ns_per_op")
    data = collect(rows, metric)
    lines = []
    for (b, size), d in data.items():
        m = HEADLINE.get(b, "ns_per_op")
        vals = []
        for p in procs:
            a, g = d.get(("gort", p)), d.get(("go", p))
            if a is None or g is None or a <= 0 or g <= 0:
                vals.append("?")
            elif m in HIGHER_IS_BETTER:
                vals.append("%.4g" % (a / g))
            else:
                vals.append("%.4g" % (g / a))
        if all(v == "?" for v in vals):
            continue
        label = b + (" " + short(size) if sum(1 for k in data if k[0] == b)
                     > 1 else "")
        lines.append('"%s" %s' % (label, " ".join(vals)))
    if not lines:
        return None
    dat = os.path.join(tmp, "ratio.dat")
    with open(dat, "w") as f:
        f.write("workload %s\n" % " ".join("P=%d" % p for p in procs))
        f.write("\n".join(lines) + "\n")
    width = max(900, 34 * len(lines) * max(1, len(procs)) // 2 + 200)
    gnuplot(TERM % (width, 560) + """
set output '%s'
set title "%s" noenhanced
set ylabel "times better than Go (log scale; >1: gort better)"
set logscale y 10
set yrange [0.1:*]
set grid ytics
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by 45 right scale 0 nomirror noenhanced font ',10'
set bmargin 9
set label 1 "metric: ns/op; echo msgs/s; http, httpcpu requests/s; alive wall time; schedlat, hog, spawnburst p99 latency" at screen 0.5, screen 0.02 center font ',9' noenhanced
set datafile missing '?'
set key top right
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 front
plot for [i=2:%d] '%s' using i:xtic(1) title columnheader(i)
""" % (out, title, len(procs) + 1, dat))
    return out


def scaling_chart(rows, procs, out, tmp, title):
    def metric(kv):
        b = kv.get("bench")
        if b in LATENCY_ONLY:
            return None
        if "ns_per_op" in kv:
            return "ns_per_op"
        return HEADLINE.get(b)
    data = collect(rows, metric)
    # The largest size of each workload at which both ran at every
    # processor count (else the largest at which gort did).
    def score(b, size):
        d = data[(b, size)]
        both = all((i, p) in d for i in ("gort", "go") for p in procs)
        n = size.partition("=")[2]
        return (both, int(n) if n.isdigit() else 0)
    pick = OrderedDict()
    for (b, size) in data:
        if b not in pick or score(b, size) >= score(b, pick[b]):
            pick[b] = size
    panels = []
    for b, size in pick.items():
        d = data[(b, size)]
        m = "ns_per_op" if b not in ("echo", "http", "httpcpu") else \
            HEADLINE[b]
        rate = (lambda v: 1e9 / v) if m == "ns_per_op" else (lambda v: v)
        path = os.path.join(tmp, "scale-%s.dat" % b)
        have = 0
        with open(path, "w") as f:
            for p in procs:
                a, g = d.get(("gort", p)), d.get(("go", p))
                f.write("%d %s %s\n" % (
                    p, "%.6g" % rate(a) if a else "?",
                    "%.6g" % rate(g) if g else "?"))
                have += a is not None
        if have >= 2:
            unit = "ops/s" if m == "ns_per_op" else m.replace("_per_s", "/s")
            panels.append((b + " " + short(size), unit, path))
    if not panels:
        return None
    cols = 4
    nrow = (len(panels) + cols - 1) // cols
    script = [TERM % (cols * 300, nrow * 240), "set output '%s'" % out,
              "set datafile missing '?'",
              "set multiplot layout %d,%d title \"%s\" noenhanced"
              % (nrow, cols, title),
              "set xtics (%s)" % ", ".join("'%d' %d" % (p, p) for p in procs),
              "set xrange [%g:%g]" % (min(procs) - 0.3, max(procs) + 0.3),
              "set format y '%.1s%c'", "set grid", "set key top right font ',9'",
              "set yrange [0:*]", "set offsets 0, 0, graph 0.3, 0",
              "set xlabel 'processors' offset 0,0.5"]
    for name, unit, path in panels:
        script.append("set title \"%s\" noenhanced" % name)
        script.append("set ylabel \"%s\" noenhanced offset 1,0" % unit)
        script.append("plot '%s' using 1:2 with linespoints lw 2 pt 7 "
                      "title 'gort', '' using 1:3 with linespoints lw 2 "
                      "pt 5 title 'Go'" % path)
    script.append("unset multiplot")
    gnuplot("\n".join(script) + "\n")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--outdir", default=".")
    ap.add_argument("-p", "--prefix", default="bench")
    ap.add_argument("results", nargs="+")
    a = ap.parse_args()
    rows = list(parse(a.results))
    if not rows:
        raise SystemExit("plot-bench: no result lines in %s"
                         % " ".join(a.results))
    procs = sorted({int(kv["procs"]) for kv in rows if "procs" in kv})
    name = ", ".join(os.path.basename(r) for r in a.results)
    os.makedirs(a.outdir, exist_ok=True)
    wrote = []
    with tempfile.TemporaryDirectory() as tmp:
        r = ratio_chart(rows, procs,
                        os.path.join(a.outdir, a.prefix + "-ratio.svg"), tmp,
                        "gort vs Go, median of runs (%s)" % name)
        if r:
            wrote.append(r)
        if len(procs) > 1:
            s = scaling_chart(rows, procs,
                              os.path.join(a.outdir,
                                           a.prefix + "-scaling.svg"),
                              tmp, "throughput by processors (%s)" % name)
            if s:
                wrote.append(s)
    for w in wrote:
        print(w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
