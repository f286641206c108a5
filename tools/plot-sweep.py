#!/usr/bin/env python3
"""plot-sweep.py: draw SVG charts of a policy sweep with gnuplot.

    tools/plot-sweep.py [-o DIR] SWEEP.csv

SWEEP.csv is what bench/sweep.sh writes (workload, policy, procs, medians
of ns_per_op and p99_us, speedup_vs_1p, vs_default). Writes, in DIR
(default: the CSV's directory), one clustered bar chart each:

  ns_per_op.svg   per workload and P, the median ns/op of each policy
                  (log scale: workloads differ by orders of magnitude)
  vs_default.svg  per workload and P, the default policy's ns/op over each
                  policy's (> 1: the policy is faster; 1 = parity)
  speedup.svg     only with more than one P: per workload, each policy's
                  ns/op at 1 P over its ns/op at the largest P
  p99.svg         only for workloads that report it (schedlat): the median
                  p99 latency in us per workload and P

Needs gnuplot (Debian: gnuplot-nox) and Python's standard library. Prints
the files it wrote.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

TERM = ("set terminal svg size %d,%d dynamic enhanced font 'sans,11' "
        "background rgb 'white'\n")


def gnuplot(script):
    r = subprocess.run(["gnuplot"], input=script, text=True,
                       capture_output=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit("plot-sweep: gnuplot failed")


def uniq(seq):
    out = []
    for x in seq:
        if x not in out:
            out.append(x)
    return out


def chart(out, tmp, title, ylabel, rows, policies, log, unity):
    """rows: [(label, {policy: value})]; one cluster per row."""
    rows = [(l, d) for l, d in rows if any(p in d for p in policies)]
    if not rows:
        return None
    dat = os.path.join(tmp, os.path.basename(out) + ".dat")
    with open(dat, "w") as f:
        f.write("row %s\n" % " ".join('"%s"' % p for p in policies))
        for label, d in rows:
            f.write('"%s" %s\n' % (label, " ".join(
                "%.6g" % d[p] if p in d else "?" for p in policies)))
    width = max(700, 30 * len(rows) * len(policies) + 240)
    gnuplot(TERM % (width, 520) + """
set output '%s'
set title "%s" noenhanced
set ylabel "%s" noenhanced
%s
set grid ytics
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics scale 0 nomirror noenhanced
set bmargin 4
set datafile missing '?'
set key outside top center horizontal noenhanced
%s
plot for [i=2:%d] '%s' using i:xtic(1) title columnheader(i)
""" % (out, title, ylabel, "set logscale y 10" if log else "set yrange [0:*]",
       "set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 front"
       if unity else "", len(policies) + 1, dat))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--out", help="output directory")
    ap.add_argument("csv")
    a = ap.parse_args()
    outdir = a.out or os.path.dirname(os.path.abspath(a.csv))
    with open(a.csv) as f:
        recs = list(csv.DictReader(f))
    if not recs:
        raise SystemExit("plot-sweep: %s has no rows" % a.csv)
    works = uniq(r["workload"] for r in recs)
    pols = uniq(r["policy"] for r in recs)
    procs = sorted(uniq(int(r["procs"]) for r in recs))
    val = {}
    for r in recs:
        val[(r["workload"], r["policy"], int(r["procs"]))] = r

    def rows_of(field, works_=works, procs_=procs):
        rows = []
        for w in works_:
            for p in procs_:
                d = {}
                for pol in pols:
                    r = val.get((w, pol, p))
                    if r and r.get(field):
                        d[pol] = float(r[field])
                rows.append(("%s\\nP=%d" % (w, p), d))
        return rows

    wrote = []
    with tempfile.TemporaryDirectory() as tmp:
        wrote.append(chart(os.path.join(outdir, "ns_per_op.svg"), tmp,
                           "ns/op by policy (median)", "ns/op (log scale)",
                           rows_of("ns_per_op"), pols, True, False))
        wrote.append(chart(os.path.join(outdir, "vs_default.svg"), tmp,
                           "default ns/op over the policy's (>1: faster)",
                           "times faster than default", rows_of("vs_default"),
                           pols, False, True))
        if len(procs) > 1:
            top = procs[-1]
            rows = []
            for w in works:
                d = {}
                for pol in pols:
                    r = val.get((w, pol, top))
                    if r and r.get("speedup_vs_1p"):
                        d[pol] = float(r["speedup_vs_1p"])
                rows.append((w, d))
            wrote.append(chart(os.path.join(outdir, "speedup.svg"), tmp,
                               "speedup at P=%d over P=1, per policy" % top,
                               "ns/op at 1 P / ns/op at %d Ps" % top, rows,
                               pols, False, True))
        lat = [w for w in works if any(val.get((w, pol, p), {}).get("p99_us")
                                       for pol in pols for p in procs)]
        if lat:
            wrote.append(chart(os.path.join(outdir, "p99.svg"), tmp,
                               "p99 latency by policy (median of runs)",
                               "p99 (us)", rows_of("p99_us", lat), pols,
                               False, False))
    for w in wrote:
        if w:
            print(w)


if __name__ == "__main__":
    main()
