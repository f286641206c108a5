#!/bin/sh
# determ-explore.sh: tools/seed-explore.sh finds the lost update of
# docs/examples/lostupdate.c under GORT_DEBUG=deterministic=SEED, the
# seed it names loses it again on every replay, and the locked variant
# passes every seed tried. Run by `make test` (EXTRA_TESTS), B= the build.
set -u
B=${B:-build/default}
prog=$B/examples/lostupdate
[ -x "$prog" ] || { echo "determ-explore: $prog not built" >&2; exit 1; }
out=$(GORT_MAXPROCS=2 tools/seed-explore.sh -n 300 -t 20 -- "$prog")
rc=$?
[ $rc -eq 1 ] || { echo "determ-explore: no failing seed in 0..299 (rc $rc)" >&2; exit 1; }
seed=$(printf '%s\n' "$out" | sed -n 's/^seed \([0-9]*\) fails.*/\1/p')
[ -n "$seed" ] || { echo "determ-explore: no seed in: $out" >&2; exit 1; }
dbg="deterministic=$seed"
[ -n "${GORT_DEBUG:-}" ] && dbg="$GORT_DEBUG,$dbg"
for i in 1 2 3; do
    if GORT_MAXPROCS=2 GORT_DEBUG=$dbg "$prog" >/dev/null 2>&1; then
        echo "determ-explore: seed $seed passed on replay $i" >&2
        exit 1
    fi
done
GORT_MAXPROCS=2 tools/seed-explore.sh -n 50 -t 20 -- "$prog" lock >/dev/null || {
    echo "determ-explore: the locked variant failed a seed" >&2
    exit 1
}
echo "determ-explore: seed $seed loses the update, every time"
