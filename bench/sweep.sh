#!/usr/bin/env bash
# bench/sweep.sh: run chosen workloads under chosen GORT_SCHED policies
# (runtime/policy.c, docs/research.md) at chosen processor counts, several
# alternated runs each, and write the medians as a table (CSV, Markdown)
# and SVG plots, with the machine and the commit recorded. `make sweep`
# runs it as `B=build/default ./bench/sweep.sh` after building the
# benchmarks; on another machine, copy the tree with $B/bench and run it
# there (nothing is built or installed; the plots need python3 and
# gnuplot, the tables only bash and awk).
#
# usage: bench/sweep.sh [-w WORKLOADS] [-s POLICIES] [-p PROCS] [-r RUNS] [-o DIR]
#   -w  workloads, from bench/bench_*.c      (env WORKLOADS, default "fib skynet chanmpmc schedlat")
#   -s  GORT_SCHED values, "default" for none (env POLICIES, default "default steal=one thief=oldest")
#   -p  processor counts (GORT_MAXPROCS)     (env PROCS, default "1 2")
#   -r  runs of each (workload, policy, P)   (env RUNS, default 5)
#   -o  output directory                     (env OUT, default bench/results/sweep-DATE)
# Env: TABLE_ONLY=1 (no runs: the tables and plots of DIR/raw.txt again),
#      B (build dir with bench/bench_*; build/default), BENCH_TIMEOUT (s per
#      run; 120), ARGS_<workload> (its arguments, e.g. ARGS_fib="-n 30";
#      defaults size each run to well under a second on a 2-CPU VM).
# Runs alternate: each run goes over every (workload, P) and, inside, over
# the policies forwards on odd runs and backwards on even ones, so drift of
# a loaded machine spreads over all policies alike.
# Output in DIR: raw.txt (every result line, with policy=), sweep.csv,
# sweep.md, machine.txt, and from tools/plot-sweep.py: ns_per_op.svg,
# vs_default.svg, speedup.svg (when more than one P count ran) and
# p99.svg (workloads that report p99_us: schedlat). A policy's commas read
# "+" in the tables (thief=oldest+steal=one). Exit 1 if a run failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
B=${B:-build/default}
WORKLOADS=${WORKLOADS:-"fib skynet chanmpmc schedlat"}
POLICIES=${POLICIES:-"default steal=one thief=oldest"}
PROCS=${PROCS:-"1 2"} RUNS=${RUNS:-5} BENCH_TIMEOUT=${BENCH_TIMEOUT:-120}
OUT=${OUT:-bench/results/sweep-$(date +%Y%m%d-%H%M%S)}
while getopts w:s:p:r:o:h opt; do
  case $opt in
    w) WORKLOADS=$OPTARG ;; s) POLICIES=$OPTARG ;; p) PROCS=$OPTARG ;;
    r) RUNS=$OPTARG ;; o) OUT=$OPTARG ;;
    *) sed -n '2,/^set /p' "$0" | sed '$d' >&2; exit 2 ;;
  esac
done
log() { echo "sweep.sh: $*" >&2; }

# args W: the arguments of workload W (ARGS_W overrides).
args() {
  local v="ARGS_$1"
  if [[ -n ${!v:-} ]]; then echo "${!v}"; return; fi
  case $1 in
    fib) echo "-n 27" ;; skynet) echo "-n 100000" ;;
    chanmpmc) echo "-n 2000000" ;; schedlat) echo "-n 500" ;;
    spawn | park) echo "-n 100000" ;; yieldmany | alive) echo "-n 10000" ;;
    *) echo "" ;;
  esac
}

for w in $WORKLOADS; do
  [[ -x $B/bench/bench_$w ]] || { log "$B/bench/bench_$w is missing (make benchbins)"; exit 2; }
done
mkdir -p "$OUT" || exit 2
RAW=$OUT/raw.txt
TABLE_ONLY=${TABLE_ONLY:-0}
if [[ $TABLE_ONLY == 1 ]]; then
  [[ -s $RAW ]] || { log "$RAW is missing or empty"; exit 2; }
  RUNS=0
  WORKLOADS=$(sed -n 's/^workloads: //p' "$OUT/machine.txt")
  POLICIES=$(sed -n 's/^policies: //p' "$OUT/machine.txt")
  PROCS=$(sed -n 's/^procs: //p' "$OUT/machine.txt")
else
  : >"$RAW"
fi
((RUNS > 0)) && {
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
  echo "nproc: $(nproc)"
  echo "kernel: $(uname -sr)"
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
  echo "workloads: $WORKLOADS"
  for w in $WORKLOADS; do echo "args $w: $(args "$w")"; done
  echo "policies: $POLICIES"
  echo "procs: $PROCS"
  echo "runs: $RUNS"
} >"$OUT/machine.txt"

FAILED=0
# run_one W POLICY P: one run; its result line goes to raw.txt with policy=.
run_one() {
  local w=$1 pol=$2 p=$3 out rc env=(GORT_MAXPROCS="$p")
  [[ $pol != default ]] && env+=(GORT_SCHED="$pol")
  # shellcheck disable=SC2046
  out=$(env "${env[@]}" timeout -k 5 "$BENCH_TIMEOUT" "$B/bench/bench_$w" $(args "$w") 2>&1)
  rc=$?
  if ((rc != 0)) || ! grep -q '^bench=' <<<"$out"; then
    log "FAIL $w policy=$pol procs=$p: exit $rc: $(tail -c 300 <<<"$out" | tr '\n' ' ')"
    FAILED=1
    return
  fi
  grep '^bench=' <<<"$out" | head -1 | sed "s/^bench=[^ ]* /&policy=$pol /" | tee -a "$RAW" >&2
}

read -r -a POLS <<<"$POLICIES"
NRUNS=$(sed -n 's/^runs: //p' "$OUT/machine.txt")
for ((r = 1; r <= RUNS; r++)); do
  log "run $r of $RUNS"
  for w in $WORKLOADS; do
    for p in $PROCS; do
      if ((r % 2)); then order=("${POLS[@]}"); else
        order=(); for ((i = ${#POLS[@]} - 1; i >= 0; i--)); do order+=("${POLS[i]}"); done
      fi
      for pol in "${order[@]}"; do run_one "$w" "$pol" "$p"; done
    done
  done
done

# ---- tables: medians (the lower middle for an even count, as median.sh) --
awk -v pols="$POLICIES" -v procs="$PROCS" -v works="$WORKLOADS" '
  function kv(k,   i, q) {
    for (i = 1; i <= NF; i++) { q = index($i, "="); if (substr($i, 1, q - 1) == k) return substr($i, q + 1) }
    return ""
  }
  function med(key,   c, i, j, t, a) {
    c = cnt[key]
    for (i = 1; i <= c; i++) a[i] = vals[key, i]
    for (i = 2; i <= c; i++) for (j = i; j > 1 && a[j] < a[j - 1]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    lo[key] = a[1]; hi[key] = a[c]
    return a[int((c + 1) / 2)]
  }
  /^bench=/ {
    g = kv("bench") SUBSEP kv("policy") SUBSEP kv("procs")
    k = g SUBSEP "ns"; vals[k, ++cnt[k]] = kv("ns_per_op") + 0
    if (kv("p99_us") != "") { k = g SUBSEP "p99"; vals[k, ++cnt[k]] = kv("p99_us") + 0 }
  }
  END {
    nw = split(works, W, " "); np = split(pols, PO, " "); nq = split(procs, PR, " ")
    print "workload,policy,procs,runs,ns_per_op,ns_per_op_min,ns_per_op_max,p99_us,p99_us_min,p99_us_max,speedup_vs_1p,vs_default" > csv
    for (a = 1; a <= nw; a++) for (b = 1; b <= np; b++) for (c = 1; c <= nq; c++) {
      g = W[a] SUBSEP PO[b] SUBSEP PR[c]; k = g SUBSEP "ns"
      if (!(k in cnt)) continue
      ns[g] = med(k); nlo[g] = lo[k]; nhi[g] = hi[k]
      k2 = g SUBSEP "p99"
      if (k2 in cnt) { p99[g] = med(k2); plo[g] = lo[k2]; phi[g] = hi[k2] }
    }
    for (a = 1; a <= nw; a++) for (b = 1; b <= np; b++) for (c = 1; c <= nq; c++) {
      g = W[a] SUBSEP PO[b] SUBSEP PR[c]
      if (!(g in ns)) continue
      one = W[a] SUBSEP PO[b] SUBSEP "1"; def = W[a] SUBSEP "default" SUBSEP PR[c]
      sp = (one in ns && ns[g] > 0) ? sprintf("%.2f", ns[one] / ns[g]) : ""
      vd = (def in ns && ns[g] > 0) ? sprintf("%.2f", ns[def] / ns[g]) : ""
      label = PO[b]; gsub(/,/, "+", label)
      printf "%s,%s,%s,%d,%.2f,%.2f,%.2f,%s,%s,%s,%s,%s\n", W[a], label, PR[c], cnt[g SUBSEP "ns"],
        ns[g], nlo[g], nhi[g], (g in p99) ? sprintf("%.1f", p99[g]) : "",
        (g in p99) ? sprintf("%.1f", plo[g]) : "", (g in p99) ? sprintf("%.1f", phi[g]) : "", sp, vd > csv
    }
  }' csv="$OUT/sweep.csv" "$RAW"

{
  echo "# Policy sweep"
  echo
  sed 's/^/    /' "$OUT/machine.txt"
  echo
  echo "Medians of $NRUNS alternated runs; [min-max] in brackets. vs default: the"
  echo "default policy's ns/op over this one's at the same P (> 1: this one is"
  echo "faster). speedup: the policy's ns/op at 1 P over its ns/op at this P."
  echo
  echo "| workload | policy | P | ns/op [min-max] | p99 us [min-max] | speedup | vs default |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
  awk -F, 'NR > 1 {
    p99 = $8 == "" ? "" : $8 " [" $9 "-" $10 "]"
    printf "| %s | %s | %s | %s [%s-%s] | %s | %s | %s |\n", $1, $2, $3, $5, $6, $7, p99, $11, $12
  }' "$OUT/sweep.csv"
} >"$OUT/sweep.md"

if command -v python3 >/dev/null && command -v gnuplot >/dev/null; then
  python3 tools/plot-sweep.py -o "$OUT" "$OUT/sweep.csv" >&2 || FAILED=1
else
  log "note: python3 or gnuplot missing: no plots (Debian: gnuplot-nox)"
fi
cat "$OUT/sweep.md"
log "wrote $OUT"
exit $FAILED
