#!/usr/bin/env bash
# soak.sh: `make soak` (docs/soak.md). Runs bench/soak (an echo server, a
# timer-heavy and a spawn-heavy workload in one gort program, sampling its
# RSS, fds, goroutines and stack slabs into a CSV) against
# tools/soak-load (SOAK_CONNS connections, each closed and reopened after
# a few checked echoes) for SOAK_SECONDS, then tools/soak-report.py's
# slope test. Fails on a lost or corrupted byte (the client), on anything
# left behind after the client is gone (the server), or on a metric that
# grows over the second half of the run (the report).
#
#   SOAK_SECONDS  run length (default 600; 60 for a short run)
#   SOAK_CONNS    connections kept open (default 8000)
#   SOAK_OUT      directory for soak.csv, soak.svg and the logs
#                 (default $B/soak)
#   B             build directory with bench/soak and tools/soak-load
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build/default}
secs=${SOAK_SECONDS:-600}
conns=${SOAK_CONNS:-8000}
out=${SOAK_OUT:-$B/soak}
# Each program holds a descriptor per connection and raises its soft
# limit to the hard one; fewer connections where that is too low.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((conns + 256)) ]; then
    echo "soak: open-file hard limit $hard: $((hard - 256)) connections," \
         "not $conns"
    conns=$((hard - 256))
fi
# About 120 samples in a full run; at least one a second in a short one.
interval=$(awk -v s="$secs" 'BEGIN { i = s / 120; print (i < 1 ? 1 : i) }')
mkdir -p "$out"
rm -f "$out/soak.csv" "$out/server.err"

"$B/bench/soak" -secs "$secs" -interval "$interval" -csv "$out/soak.csv" \
    >"$out/server.out" 2>"$out/server.err" &
spid=$!
trap 'kill -TERM $spid 2>/dev/null || true' EXIT
port=
for _ in $(seq 100); do
    port=$(sed -n 's/^soak: listening on 127.0.0.1:\([0-9]*\)$/\1/p' \
        "$out/server.err")
    [ -n "$port" ] && break
    kill -0 $spid 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "soak: the server did not start:" >&2
    cat "$out/server.err" >&2
    exit 1
fi
echo "soak: ${secs}s, $conns connections, sampling every ${interval}s" \
     "into $out/soak.csv; load $(cut -d' ' -f1-3 /proc/loadavg)"

rc=0
"$B/tools/soak-load" -p "$port" -c "$conns" -t 2 -d "$secs" \
    >"$out/load.out" || rc=1
cat "$out/load.out"
kill -TERM $spid
wait $spid || rc=1
trap - EXIT
cat "$out/server.out"
grep -v '^soak: listening' "$out/server.err" >&2 || true
plot=()
command -v gnuplot >/dev/null && plot=(--svg "$out/soak.svg")
python3 tools/soak-report.py "$out/soak.csv" "${plot[@]}" || rc=1
[ ${#plot[@]} -gt 0 ] && echo "soak: plot in $out/soak.svg"
if [ $rc -ne 0 ]; then
    echo "soak: FAIL" >&2
    exit 1
fi
echo "soak: ok"
