#!/bin/sh
# seed-explore.sh: runs a program under gort's deterministic mode
# (GORT_DEBUG=deterministic=SEED, docs/deterministic.md) over many seeds
# and reports the first seed whose run fails: exits non-zero, dies of a
# signal, or outlives the time limit (a goroutine that loops without
# entering the runtime hangs this mode). Replay a failure with the
# command it prints.
#
# usage: tools/seed-explore.sh [-n COUNT] [-s FIRST] [-p PROCS]
#                              [-t SECONDS] [-a] -- PROGRAM [ARGS...]
#   -n  seeds to try (default 1000)     -s  first seed (default 0)
#   -p  virtual Ps, GORT_MAXPROCS (default: the program's own)
#   -t  time limit per run in seconds (default 10)
#   -a  try every seed and count failures instead of stopping at the first
# Exit status: 0 no seed failed, 1 a seed failed, 2 bad usage.
# Any GORT_DEBUG already set is kept; the seed is appended to it.
set -u
count=1000 first=0 procs= limit=10 all=0
usage() {
    sed -n '9,16p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
while getopts n:s:p:t:ah opt; do
    case $opt in
    n) count=$OPTARG ;;
    s) first=$OPTARG ;;
    p) procs=$OPTARG ;;
    t) limit=$OPTARG ;;
    a) all=1 ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || usage
for v in "$count" "$first" "$limit"; do
    case $v in '' | *[!0-9]*) echo "seed-explore: $v: want a number" >&2; exit 2 ;; esac
done
case $procs in *[!0-9]*) echo "seed-explore: -p $procs: want a number" >&2; exit 2 ;; esac
command -v "$1" >/dev/null 2>&1 || [ -x "$1" ] || {
    echo "seed-explore: $1: not an executable" >&2
    exit 2
}
base=${GORT_DEBUG:-}
failed=0 firstbad=
log=$(mktemp)
trap 'rm -f "$log"' EXIT
seed=$first
end=$((first + count))
while [ "$seed" -lt "$end" ]; do
    dbg="deterministic=$seed"
    [ -n "$base" ] && dbg="$base,$dbg"
    if [ -n "$procs" ]; then
        GORT_DEBUG=$dbg GORT_MAXPROCS=$procs timeout "$limit" "$@" >"$log" 2>&1
    else
        GORT_DEBUG=$dbg timeout "$limit" "$@" >"$log" 2>&1
    fi
    rc=$?
    if [ $rc -ne 0 ]; then
        why="exit status $rc"
        [ $rc -eq 124 ] && why="no end within ${limit}s (a hang, or a loop that never enters the runtime)"
        [ $rc -gt 128 ] && [ $rc -ne 124 ] && why="killed by signal $((rc - 128))"
        failed=$((failed + 1))
        if [ -z "$firstbad" ]; then
            firstbad=$seed
            echo "seed $seed fails: $why"
            tail -n 5 "$log" | sed 's/^/  | /'
            p=
            [ -n "${GORT_MAXPROCS:-}" ] && p="GORT_MAXPROCS=$GORT_MAXPROCS "
            [ -n "$procs" ] && p="GORT_MAXPROCS=$procs "
            echo "replay: ${p}GORT_DEBUG=$dbg $*"
        fi
        [ $all -eq 0 ] && exit 1
    fi
    seed=$((seed + 1))
done
if [ -z "$firstbad" ]; then
    echo "no failure in seeds $first..$((end - 1))"
    exit 0
fi
echo "$failed of $count seeds failed; first: $firstbad"
exit 1
