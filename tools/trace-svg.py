#!/usr/bin/env python3
"""trace-svg.py: draw a gort trace's timeline as SVG, no browser needed.

usage: tools/trace-svg.py [-o OUT.svg] [--from US] [--to US] [--width PX]
                          [--flows N] TRACE.json

One row per P (the goroutines it ran, coloured by goroutine id, labelled
when wide enough) and one per thread (M): the P it held, its system calls
and its idle sleeps. Ticks above a row mark steals (red), timer firings
(green) and poller wake-ups (blue); --flows draws up to N wake-up arrows
from a ready to the start it caused. --from/--to (microseconds from the
trace's start) zoom in. Each drawn box has a tooltip (<title>).

Slices narrower than a pixel are merged with their neighbours in the same
pixel column, so a trace of millions of events still makes a small file.
Python 3 standard library only (Debian's python3).
"""
import argparse
import json
import sys
from xml.sax.saxutils import escape

ROW_H = 18
GAP = 4
LEFT = 70
TOP = 40


def colour(g):
    """A stable colour per goroutine id (golden-ratio hue steps)."""
    h = (g * 0.618033988749895) % 1.0
    return "hsl(%d,60%%,55%%)" % int(h * 360)


M_COLOURS = {"idle": "#dddddd", "syscall": "#f0a040"}


def load(path):
    with open(path) as f:
        d = json.load(f)
    return d["traceEvents"], d.get("otherData", {})


def nice_step(span):
    """A round axis step giving about 8 ticks over span microseconds."""
    raw = span / 8.0 if span > 0 else 1.0
    mag = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 0.001
    while mag * 10 <= raw:
        mag *= 10
    for m in (1, 2, 5, 10):
        if mag * m >= raw:
            return mag * m
    return mag * 10


def fmt_us(us):
    if us >= 1e6:
        return "%gs" % round(us / 1e6, 6)
    if us >= 1e3:
        return "%gms" % round(us / 1e3, 6)
    return "%gus" % round(us, 6)


def render(events, other, t0, t1, width, nflows, out):
    rows = {}   # (pid, tid) -> label
    names = {}
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[(e["pid"], e["tid"])] = e["args"]["name"]
    for e in events:
        if e.get("ph") in ("X", "i") and e.get("pid") in (1, 2):
            key = (e["pid"], e["tid"])
            rows.setdefault(key, names.get(key, "%s%d" % (
                "P" if e["pid"] == 1 else "M", e["tid"])))
    order = sorted(rows)
    y_of = {k: TOP + i * (ROW_H + GAP) for i, k in enumerate(order)}
    if t1 is None:
        t1 = max((e["ts"] + e.get("dur", 0) for e in events if "ts" in e),
                 default=1.0)
    span = max(t1 - t0, 1e-3)
    plot_w = width - LEFT - 10
    scale = plot_w / span
    height = TOP + len(order) * (ROW_H + GAP) + 30

    def x(ts):
        return LEFT + (ts - t0) * scale

    w = out.write
    w('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
      'font-family="sans-serif" font-size="10">\n' % (width, height))
    w('<rect width="100%" height="100%" fill="white"/>\n')
    w('<text x="%d" y="14" font-size="12">gort trace: %s to %s, %d events, '
      'drops %d</text>\n' % (LEFT, fmt_us(t0), fmt_us(t1),
                             other.get("events", 0), other.get("drops", 0)))
    # Axis.
    step = nice_step(span)
    tick = (int(t0 / step) + 1) * step if t0 > 0 else 0.0
    while tick <= t1:
        xx = x(tick)
        w('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>\n' % (
            xx, TOP - 4, xx, height - 26))
        w('<text x="%.1f" y="%d" text-anchor="middle">%s</text>\n' % (
            xx, height - 14, fmt_us(tick)))
        tick += step
    for k in order:
        w('<text x="4" y="%d">%s</text>\n' % (y_of[k] + ROW_H - 5,
                                              escape(rows[k])))

    # Slices, merged per pixel column per row.
    last_px = {}
    slices = sorted((e for e in events if e.get("ph") == "X"
                     and (e["pid"], e["tid"]) in y_of
                     and e["ts"] + e.get("dur", 0) >= t0 and e["ts"] <= t1),
                    key=lambda e: e["ts"])
    for e in slices:
        key = (e["pid"], e["tid"])
        a = max(e["ts"], t0)
        b = min(e["ts"] + e.get("dur", 0), t1)
        xa, xb = x(a), x(b)
        if xb - xa < 1.0:
            px = int(xa)
            if last_px.get(key) == px:
                continue
            last_px[key] = px
            xb = xa + 1.0
        y = y_of[key]
        name = e.get("name", "")
        args = e.get("args", {})
        if e["pid"] == 1 and e.get("cat") == "g":
            fill = colour(args.get("g", 0))
            tip = "%s %s-%s %s" % (name, fmt_us(e["ts"]),
                                   fmt_us(e["ts"] + e["dur"]), args.get("end", ""))
            if args.get("reason"):
                tip += " (%s)" % args["reason"]
        else:
            fill = M_COLOURS.get(name, "#9ec5e8")
            tip = "%s %s for %s" % (name, fmt_us(e["ts"]),
                                    fmt_us(e.get("dur", 0)))
        h = ROW_H if e.get("cat") in ("g", "m") else ROW_H / 2
        w('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s">'
          '<title>%s</title></rect>\n' % (xa, y, xb - xa, h, fill, escape(tip)))
        if xb - xa > 6 * len(name) + 4:
            w('<text x="%.1f" y="%d" fill="black">%s</text>\n' % (
                xa + 2, y + ROW_H - 5, escape(name)))

    # Instants: steals, timers, poller wake-ups.
    tick_col = {"steal": "red", "timer": "green", "netpoll": "blue",
                "handoff": "purple"}
    for e in events:
        if e.get("ph") != "i" or e.get("name") not in tick_col:
            continue
        key = (e["pid"], e["tid"])
        if key not in y_of or not t0 <= e["ts"] <= t1:
            continue
        xx = x(e["ts"])
        y = y_of[key]
        w('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" '
          'stroke-width="1.5"><title>%s %s</title></line>\n' % (
              xx, y - 3, xx, y + 4, tick_col[e["name"]], e["name"],
              escape(json.dumps(e.get("args", {})))))

    # Flows.
    if nflows:
        src = {e["id"]: e for e in events if e.get("ph") == "s"}
        drawn = 0
        for e in events:
            if drawn >= nflows:
                break
            if e.get("ph") != "f" or e["id"] not in src:
                continue
            s = src[e["id"]]
            ks, kf = (s["pid"], s["tid"]), (e["pid"], e["tid"])
            if ks not in y_of or kf not in y_of:
                continue
            if not (t0 <= s["ts"] <= t1 and t0 <= e["ts"] <= t1):
                continue
            w('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" '
              'stroke-width="0.6" opacity="0.6"/>\n' % (
                  x(s["ts"]), y_of[ks] + ROW_H // 2, x(e["ts"]),
                  y_of[kf] + ROW_H // 2))
            drawn += 1
    w('</svg>\n')


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trace")
    ap.add_argument("-o", "--output", help="SVG file (default: stdout)")
    ap.add_argument("--from", dest="t0", type=float, default=0.0,
                    help="start of the window, us from the trace's start")
    ap.add_argument("--to", dest="t1", type=float, default=None,
                    help="end of the window, us (default: the end)")
    ap.add_argument("--width", type=int, default=1600)
    ap.add_argument("--flows", type=int, default=0,
                    help="draw up to N wake-up arrows (default 0)")
    args = ap.parse_args(argv)
    events, other = load(args.trace)
    out = open(args.output, "w") if args.output else sys.stdout
    render(events, other, args.t0, args.t1, args.width, args.flows, out)
    if args.output:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
