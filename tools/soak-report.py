#!/usr/bin/env python3
"""soak-report.py: the slope test of `make soak` (bench/soak.sh,
docs/soak.md), and its plot.

    soak-report.py CSV [--svg OUT.svg]

Reads the CSV that bench/soak writes (one row every few seconds) and, for
each resource metric, fits a least-squares line y = a + b*t to the rows of
the second half of the run (the first half is warm-up: caches, pools and
the allocator's arenas filling). It prints one line per metric and fails
(exit 1) if any metric grew, meaning both

  - material: the fitted growth over the second half, b * (its length),
    exceeds max(FLOOR[metric], min(REL * mean, NOISE * sigma)), sigma
    being the residuals' standard deviation: 2 % of the mean, or less
    where the metric is steadier than that (fds, goroutines), but never
    under one allocation step; and
  - significant: b is over T_MIN standard errors above zero, so that a
    noisy metric whose fit tilts by chance does not fail the run.

A flat or falling metric passes whatever its noise. With --svg it writes a
plot of the metrics over the whole run with the second-half fits, through
gnuplot. Standard library only; gnuplot only for the plot.
"""
import csv
import math
import subprocess
import sys

REL = 0.02   # growth over the second half, as a fraction of the mean
T_MIN = 3.0  # standard errors
NOISE = 4.0  # residual standard deviations
# Absolute floors: below these a growth is within one allocation step.
FLOOR = {
    "heap_rss_kb": 2048,         # 2 MiB: malloc arenas move in such steps
    "fds": 16,
    "goroutines": 16,
    "stack_excess_kb": 2 * 17408,  # two slabs of 64 slots of 272 KiB
    "threads": 2,                # Ms are kept once started, as Go's are
}
# RSS is tested without the stack slabs' pages (heap_rss_kb): a stack's
# touched pages stay with it while it is reused, so stack RSS rises, for
# minutes, towards slots x the deepest use the workload makes of them,
# and then stays (docs/soak.md, "Stack pages"). A stack that is lost
# raises stack_excess_kb; stack_rss_kb is printed and plotted, not tested.
# Stack slabs are never unmapped while the runtime runs (the reservation
# invariant of runtime/stack.c), so the reserved size follows the peak
# number of goroutines, which a noisy run raises now and then. What must
# stay flat is the excess over that peak: slabs reserved beyond one slot
# per goroutine of the peak. A stack that is never given back raises it.
SLOT_KB = 272  # GORT_STACK_MAX's default 256 KiB + the 16 KiB guard
METRICS = list(FLOOR)


def fit(ts, ys):
    """Least squares y = a + b t: returns a, b, the standard error of b
    and the residuals' standard deviation."""
    n = len(ts)
    mt, my = sum(ts) / n, sum(ys) / n
    sxx = sum((t - mt) ** 2 for t in ts)
    b = sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / sxx
    a = my - b * mt
    if n <= 2:
        return a, b, math.inf, math.inf
    rss = sum((y - a - b * t) ** 2 for t, y in zip(ts, ys))
    return a, b, math.sqrt(rss / (n - 2) / sxx), math.sqrt(rss / (n - 2))


def check(rows, metrics):
    """Yields (metric, a, b, growth, limit, tstat, mean, ok)."""
    t_end = rows[-1]["t_s"]
    half = [r for r in rows if r["t_s"] >= t_end / 2]
    span = half[-1]["t_s"] - half[0]["t_s"]
    ts = [r["t_s"] for r in half]
    for m in metrics:
        ys = [r[m] for r in half]
        a, b, se, sigma = fit(ts, ys)
        mean = sum(ys) / len(ys)
        growth = b * span
        limit = max(FLOOR.get(m, 0), min(REL * mean, NOISE * sigma))
        tstat = b / se if se > 0 else (math.inf if b > 0 else 0.0)
        ok = not (growth > limit and tstat > T_MIN)
        yield m, a, b, growth, limit, tstat, mean, ok


def plot(path, csv_path, fits, t_half):
    """Four panels through gnuplot, each metric with its second-half fit."""
    slot = SLOT_KB / 1024
    panels = [("heap_rss_kb", "RSS MiB: all (blue), stack slabs (orange), "
               "the rest (purple)", "$2/1024", 1024),
              ("fds", "open fds", "$3", 1),
              ("goroutines", "goroutines", "$4", 1),
              ("stack_excess_kb", "stack slabs reserved (MiB)", "$5/1024",
               1024)]
    lines = ["set terminal svg size 1000,720 dynamic font 'sans,10'",
             f"set output '{path}'", "set datafile separator ','",
             "set key off", "set grid", "set xlabel 'seconds'",
             "set multiplot layout 2,2 title 'make soak: 8,000 churning "
             "connections, timer and spawn workloads (dashed: the "
             "second-half fit)'"]
    for m, title, col, div in panels:
        a, b = fits[m]
        fit = f"[{t_half}:*] ({a} + {b}*x)/{div} with lines lw 2 dt 2 " \
              "lc rgb 'red'"
        if m == "heap_rss_kb":
            fit = ("'' every ::1 using 1:($14/1024) with lines lw 1.5 "
                   "lc rgb 'orange', '' every ::1 using 1:(($2-$14)/1024) "
                   "with lines lw 1.5 lc rgb 'purple', " + fit)
            slope = f"the rest: second-half slope {b:+.3g} KiB/s"
        elif m == "stack_excess_kb":
            title = "stack slabs MiB: reserved, peak x slot " \
                    "(green), excess (purple)"
            fit = (f"'' every ::1 using 1:($13*{slot}) with lines lw 1 "
                   "lc rgb 'dark-green', '' every ::1 using "
                   f"1:(($5-$13*{SLOT_KB})/1024) with lines lw 1.5 "
                   f"lc rgb 'purple', [{t_half}:*] ({a} + {b}*x)/{div}"
                   " with lines lw 2 dt 2 lc rgb 'red'")
            slope = f"excess: second-half slope {b:+.3g} KiB/s"
        else:
            slope = f"second-half slope {b:+.3g}/s"
        lines += [f'set title "{title}\\n{slope}"', "set yrange [0:*]",
                  f"plot '{csv_path}' every ::1 using 1:({col}) "
                  f"with lines lw 1.5 lc rgb 'blue', {fit}"]
    lines.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(lines) + "\n", text=True,
                   check=True)


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--svg"):
        print("usage: soak-report.py CSV [--svg OUT.svg]", file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
    for r in rows:
        r["heap_rss_kb"] = r["rss_kb"] - r["stack_rss_kb"]
        r["stack_excess_kb"] = (r["stack_reserved_kb"] -
                                r["peak_goroutines"] * SLOT_KB)
    if len(rows) < 8:
        print(f"soak-report: {len(rows)} samples; need at least 8 "
              "(a longer SOAK_SECONDS or a shorter interval)",
              file=sys.stderr)
        return 2
    bad = 0
    fits = {}
    last = rows[-1]
    print(f"soak-report: {len(rows)} samples over {last['t_s']:.0f} s; "
          f"slopes over the second half (grows: growth > max(floor, "
          f"min({REL:.0%} of mean, {NOISE:g} sigma)) and t > {T_MIN:g})")
    for m, a, b, growth, limit, tstat, mean, ok in check(rows, METRICS):
        fits[m] = (a, b)
        bad += not ok
        print(f"  {m:18s} mean {mean:14.1f}  slope {b:+12.4g}/s  "
              f"growth {growth:+12.1f} (limit {limit:.0f})  t {tstat:+7.2f}"
              f"  {'ok' if ok else 'GROWS'}")
    for m, a, b, growth, limit, tstat, mean, ok in check(rows, ["rss_kb",
                                                                "stack_rss_kb"]):
        fits[m] = (a, b)
        print(f"  {m:18s} mean {mean:14.1f}  slope {b:+12.4g}/s  "
              f"growth {growth:+12.1f}  (not tested)")
    print(f"  connections accepted {last['accepted']:.0f}, bytes echoed "
          f"{last['echoed_bytes']:.0f}, timer ops {last['timer_ops']:.0f}, "
          f"goroutines spawned {last['spawned']:.0f}")
    if len(argv) == 4:
        plot(argv[3], argv[1], fits, last["t_s"] / 2)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
