#!/usr/bin/env python3
"""trace-summary.py: summarize a gort trace (GORT_TRACE / gort_trace_stop JSON).

usage: tools/trace-summary.py [--top N] TRACE.json

Prints, from the trace alone (docs/trace.md has the format):
  - per-P utilization: the share of the traced time each P ran goroutines,
    with its slice count and how those slices ended (park, yield, ...);
  - runnable-to-running latency: for each wake-up or creation joined by a
    flow to the start it caused, start time minus ready time, as a
    power-of-two histogram with percentiles;
  - the steal matrix: goroutines each thief P took from each victim P;
  - the longest goroutine slices that no preemption cut (end != preempt),
    which are what keeps other goroutines waiting;
  - why goroutines parked (wait reasons), and the drop counter.

Python 3 standard library only (Debian's python3).
"""
import argparse
import collections
import json
import sys


def load(path):
    with open(path) as f:
        d = json.load(f)
    return d["traceEvents"], d.get("otherData", {})


def fmt_us(us):
    """A duration given in microseconds, in a readable unit."""
    ns = us * 1000.0
    if ns < 1000:
        return "%.0f ns" % ns
    if ns < 1e6:
        return "%.1f us" % (ns / 1e3)
    if ns < 1e9:
        return "%.2f ms" % (ns / 1e6)
    return "%.2f s" % (ns / 1e9)


def percentile(sorted_vals, q):
    if not sorted_vals:
        return 0.0
    i = min(len(sorted_vals) - 1, int(q * (len(sorted_vals) - 1) + 0.5))
    return sorted_vals[i]


def summarize(events, other, top, out):
    gslices = [e for e in events
               if e.get("ph") == "X" and e.get("pid") == 1 and e.get("cat") == "g"]
    span = other.get("duration_us")
    if not span:
        span = max((e["ts"] + e.get("dur", 0) for e in events if "ts" in e),
                   default=0.0)
    out.write("trace: %d events, %s traced, clock %s, drops %d\n\n" % (
        other.get("events", len(events)), fmt_us(span), other.get("clock", "?"),
        other.get("drops", 0)))

    # ---- per-P utilization
    busy = collections.defaultdict(float)
    count = collections.Counter()
    ends = collections.defaultdict(collections.Counter)
    goroutines = collections.defaultdict(set)
    for e in gslices:
        p = e["tid"]
        busy[p] += e["dur"]
        count[p] += 1
        ends[p][e["args"].get("end", "?")] += 1
        goroutines[p].add(e["args"].get("g"))
    out.write("per-P utilization (share of %s running goroutines)\n" % fmt_us(span))
    out.write("  %-4s %7s %10s %9s %6s  %s\n" % (
        "P", "util", "busy", "slices", "Gs", "slice ends"))
    for p in sorted(busy):
        util = 100.0 * busy[p] / span if span else 0.0
        endtxt = " ".join("%s=%d" % kv for kv in ends[p].most_common())
        out.write("  P%-3d %6.1f%% %10s %9d %6d  %s\n" % (
            p, util, fmt_us(busy[p]), count[p], len(goroutines[p]), endtxt))
    if not busy:
        out.write("  (no goroutine ran)\n")
    out.write("\n")

    # ---- runnable-to-running latency
    src = {}
    for e in events:
        if e.get("ph") == "s" and e.get("cat") == "sched":
            src[e["id"]] = e["ts"]
    lat = sorted(e["ts"] - src[e["id"]] for e in events
                 if e.get("ph") == "f" and e.get("cat") == "sched"
                 and e["id"] in src)
    out.write("runnable-to-running latency (%d wake-ups and creations)\n" % len(lat))
    if lat:
        hist = collections.Counter()
        for v in lat:
            ns = max(v * 1000.0, 1.0)
            b = 0
            while (1 << (b + 1)) <= ns:
                b += 1
            hist[b] += 1
        width = 50
        most = max(hist.values())
        for b in range(min(hist), max(hist) + 1):
            n = hist.get(b, 0)
            lo = fmt_us((1 << b) / 1000.0)
            hi = fmt_us((1 << (b + 1)) / 1000.0)
            bar = "#" * max(1 if n else 0, int(width * n / most))
            out.write("  %9s - %-9s %8d  %s\n" % (lo, hi, n, bar))
        out.write("  p50 %s  p90 %s  p99 %s  max %s\n" % (
            fmt_us(percentile(lat, 0.5)), fmt_us(percentile(lat, 0.9)),
            fmt_us(percentile(lat, 0.99)), fmt_us(lat[-1])))
    out.write("\n")

    # ---- steal matrix
    steals = collections.defaultdict(collections.Counter)
    nsteal = 0
    for e in events:
        if e.get("ph") == "i" and e.get("name") == "steal" and e.get("pid") == 1:
            steals[e["tid"]][e["args"]["victim"]] += e["args"]["n"]
            nsteal += 1
    out.write("steal matrix (goroutines taken; row: thief, column: victim; "
              "%d steals)\n" % nsteal)
    if steals:
        ps = sorted(set(steals) | {v for r in steals.values() for v in r})
        out.write("  %6s" % "" + "".join("%8s" % ("P%d" % v) for v in ps) + "\n")
        for t in ps:
            out.write("  %6s" % ("P%d" % t) +
                      "".join("%8d" % steals[t].get(v, 0) for v in ps) + "\n")
    else:
        out.write("  (no steals)\n")
    out.write("\n")

    # ---- longest slices no preemption cut
    longest = sorted((e for e in gslices if e["args"].get("end") != "preempt"),
                     key=lambda e: -e["dur"])[:top]
    out.write("longest non-preempted slices (top %d)\n" % top)
    for e in longest:
        a = e["args"]
        why = a.get("end", "?")
        if why == "park":
            why += " (%s)" % a.get("reason", "?")
        out.write("  G%-8s P%-3d at %12s  ran %10s  then %s\n" % (
            a.get("g"), e["tid"], fmt_us(e["ts"]), fmt_us(e["dur"]), why))
    out.write("\n")

    # ---- wait reasons
    reasons = collections.Counter(e["args"].get("reason") for e in gslices
                                  if e["args"].get("end") == "park")
    out.write("parks by wait reason\n")
    for r, n in reasons.most_common():
        out.write("  %-24s %d\n" % (r, n))
    if not reasons:
        out.write("  (none)\n")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trace")
    ap.add_argument("--top", type=int, default=10,
                    help="longest slices to list (default 10)")
    args = ap.parse_args(argv)
    events, other = load(args.trace)
    summarize(events, other, args.top, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
