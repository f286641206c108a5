#!/usr/bin/env bash
# median.sh: read benchmark result lines (bench=... key=value ..., any impl)
# on stdin or from the files named; for each (bench, impl, procs, n, conns)
# print the line of the median run with runs=K, METRIC_min= and METRIC_max=
# appended. METRIC is ns_per_op, else msgs_per_s, else reqs_per_s. With an
# even number of runs the lower middle one is taken (same rule as
# /work/shared/bench-go/median.sh, so both sides' medians compare).
#
#   bench/median.sh build/default/bench/results.txt
#   bench/median.sh -k bytes_per_g < results.txt   # median of another key
#
# -k KEY: print, per group, "bench impl procs n conns KEY median min max runs"
# instead (the median of that key alone, for the table in bench/run.sh).
set -euo pipefail
KEY=
if [[ ${1:-} == -k ]]; then KEY=$2; shift 2; fi
exec awk -v want="$KEY" '
  function kv(k,   i, p) {
    for (i = 1; i <= NF; i++) { p = index($i, "="); if (substr($i, 1, p - 1) == k) return substr($i, p + 1) }
    return ""
  }
  /^bench=/ {
    if (want != "") { m = want; v = kv(m) }
    else {
      m = "ns_per_op"; v = kv(m)
      if (v == "") { m = "msgs_per_s"; v = kv(m) }
      if (v == "") { m = "reqs_per_s"; v = kv(m) }
    }
    if (v == "") next
    g = kv("bench") "|" kv("impl") "|" kv("procs") "|" kv("n") "|" kv("conns")
    if (!(g in cnt)) keys[++ng] = g
    c = ++cnt[g]; val[g, c] = v + 0; txt[g, c] = $0; met[g] = m
  }
  END {
    for (k = 1; k <= ng; k++) {
      g = keys[k]; c = cnt[g]
      for (i = 1; i <= c; i++) ix[i] = i
      for (i = 2; i <= c; i++)                      # insertion sort by value
        for (j = i; j > 1 && val[g, ix[j]] < val[g, ix[j - 1]]; j--) { t = ix[j]; ix[j] = ix[j - 1]; ix[j - 1] = t }
      mid = ix[int((c + 1) / 2)]
      if (want != "") {
        split(g, f, "|")
        printf "%s %s %s %s %s %s %s %s %s %d\n", f[1], f[2], f[3], (f[4] == "" ? "-" : f[4]), (f[5] == "" ? "-" : f[5]), want, val[g, mid], val[g, ix[1]], val[g, ix[c]], c
      } else
        printf "%s runs=%d %s_min=%s %s_max=%s\n", txt[g, mid], c, met[g], val[g, ix[1]], met[g], val[g, ix[c]]
    }
  }' "$@"
