#!/usr/bin/env bash
# bench/modes.sh: each fast path against its switched-off path. For every
# row and processor count it runs, in turn, the default build (setting
# "on") and the same program with one GORT_DEBUG key at 0, one run of each
# in a fixed rotation, so that a noisy neighbour hurts every setting alike.
# Prints bench= result lines with mode=KEY setting=on|off added (stdout),
# then a summary of medians per row and key: off/on - 1 is what the fast
# path buys (positive: the fast path is faster).
#
# usage: bench/modes.sh [-p "1 2"] [-r RUNS] [-k "KEYS"] [ROW...]
#   -p  processor counts                  (env PROCS, default "1 2")
#   -r  rotations (runs of each setting)  (env RUNS, default 5)
#   -k  GORT_DEBUG keys to switch off     (env KEYS, default
#       "solo plainchan chanowner batch membarrier")
#   ROW: pingpong threadring yield chanmpmc select echo (default: all;
#        echo is the echo example under tools/echo-load at 1000
#        connections for SECS seconds, env SECS, default 2)
# CALLGRIND=1: instead, two runs per setting at one P under
#   valgrind --tool=callgrind, with -n $CG_N and -n $((2 * CG_N)) (default
#   CG_N 20000), and print the instructions executed per operation, the
#   difference of the two runs' totals over CG_N (ir_per_op; start-up and
#   the traceback tables' loading cancel out), a deterministic figure;
#   echo is skipped.
# Needs $B/bench/bench_* (make benchbins), and for echo $B/examples/echo
# and $B/tools/echo-load.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
B=${B:-build/default}
PROCS=${PROCS:-"1 2"} RUNS=${RUNS:-5} SECS=${SECS:-2} CG_N=${CG_N:-20000}
KEYS=${KEYS:-"solo plainchan chanowner batch membarrier"}
ECHO_PORT=${ECHO_PORT:-9000}
while getopts p:r:k:h opt; do
  case $opt in
    p) PROCS=$OPTARG ;; r) RUNS=$OPTARG ;; k) KEYS=$OPTARG ;;
    *) sed -n '2,/^set /p' "$0" | sed '$d' >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
ROWS=${*:-"pingpong threadring yield chanmpmc select echo"}
SETTINGS="on $KEYS"

debug_of() { [[ $1 == on ]] && echo "" || echo "$1=0"; }

# one ROW PROCS SETTING: one timed run; prints its result line.
one() {
  local row=$1 p=$2 s=$3 line
  if [[ $row == echo ]]; then
    line=$(one_echo "$p" "$s")
  else
    line=$(GORT_DEBUG=$(debug_of "$s") GORT_MAXPROCS=$p timeout 300 \
           "$B/bench/bench_$row" | grep '^bench=')
  fi
  [[ -n $line ]] || { echo "modes.sh: $row p=$p $s failed" >&2; return; }
  echo "$line mode=${s/on/none} setting=$([[ $s == on ]] && echo on || echo off)"
}

one_echo() {
  local p=$1 s=$2 log pid line
  log=$(mktemp)
  GORT_DEBUG=$(debug_of "$s") GORT_MAXPROCS=$p "$B/examples/echo" \
      -port "$ECHO_PORT" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.05; done
  line=$(timeout 120 "$B/tools/echo-load" -p "$ECHO_PORT" -c 1000 -d "$SECS")
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$log"
  [[ $line == bench=echo* ]] && echo "${line/bench=echo /bench=echo impl=gort procs=$p }"
}

# cg_ir ROW SETTING N: instructions of one run at one P.
cg_ir() {
  local out ir
  out=$(mktemp)
  GORT_DEBUG=$(debug_of "$2") GORT_MAXPROCS=1 valgrind --tool=callgrind \
      --callgrind-out-file="$out" "$B/bench/bench_$1" -n "$3" >/dev/null 2>&1
  ir=$(awk '/^summary:/ {print $2}' "$out"); rm -f "$out"
  echo "${ir:-0}"
}

# cg ROW SETTING: instructions per operation at one P.
cg() {
  local row=$1 s=$2 a b
  a=$(cg_ir "$row" "$s" "$CG_N")
  b=$(cg_ir "$row" "$s" $((2 * CG_N)))
  echo "bench=$row impl=gort procs=1 n=$CG_N ir_n=$a ir_2n=$b" \
       "ir_per_op=$(awk -v a="$a" -v b="$b" -v n="$CG_N" 'BEGIN {printf "%.1f", (b - a) / n}')" \
       "mode=${s/on/none} setting=$([[ $s == on ]] && echo on || echo off)"
}

if [[ ${CALLGRIND:-0} == 1 ]]; then
  for row in $ROWS; do
    [[ $row == echo ]] && continue
    for s in $SETTINGS; do cg "$row" "$s"; done
  done
  exit 0
fi

for row in $ROWS; do
  for p in $PROCS; do
    for ((r = 0; r < RUNS; r++)); do
      for s in $SETTINGS; do one "$row" "$p" "$s"; done
    done
  done
done
