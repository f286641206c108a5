#!/usr/bin/python3
"""prom_parse.py: read Prometheus text exposition on stdin with the
official client's parser (Debian's python3-prometheus-client; hence
/usr/bin/python3, not whatever python3 is first on PATH) and print
what it understood, one line each, for tests/test_metrics.c to check:

    family NAME TYPE
    sample NAME{label=value,...} VALUE

Labels are sorted; VALUE is printed with repr (a float). Exits 1 with a
message if the text does not parse.
"""
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and friends
        print("parse error: %s" % e, file=sys.stderr)
        return 1
    for f in families:
        print("family %s %s" % (f.name, f.type))
        for s in f.samples:
            labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
            print("sample %s{%s} %r" % (s.name, labels, float(s.value)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
