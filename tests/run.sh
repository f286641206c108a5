#!/bin/sh
# run.sh BIN...: run each Criterion suite, then the stress pass: the same
# suites again with GORT_MAXPROCS=8 on this machine's CPUs, to shake out
# lost wake-ups (tests that pin their own processor count keep it).
# STRESS=0 skips the stress pass (CI's fast-paths-off run: .ci/run).
# Prints one "N passed, N failed" line at the end and fails if any did.
set -u
# ASan builds: leaks fail the run, except Criterion's own (tests/lsan.supp).
export LSAN_OPTIONS="suppressions=$(dirname "$0")/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
pass=0 fail=0 failed=
# What failed, kept for the end of the log: CI shows only its tail.
report=$(mktemp)
trap 'rm -f "$report"' EXIT
jobs=${JOBS:-2}
run() {
    label=$1; shift
    for t in "$@"; do
        name=$(basename "$t")
        out=$("$t" --jobs "$jobs" --short-filename 2>&1)
        rc=$?
        summary=$(printf '%s\n' "$out" | grep -E '^\[====\] Synthesis:' | tail -1)
        printf '%-28s %-8s %s\n' "$name" "$label" "${summary:-<no synthesis, exit $rc>}"
        p=$(printf '%s' "$summary" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
        f=$(printf '%s' "$summary" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
        c=$(printf '%s' "$summary" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
        pass=$((pass + ${p:-0}))
        if [ "$rc" != 0 ] || [ -z "$summary" ]; then
            fail=$((fail + ${f:-0} + ${c:-0}))
            [ -z "$summary" ] && fail=$((fail + 1))
            failed="$failed $name($label)"
            printf '%s\n' "$out" | grep -vE '^\[----\] .*: Passing' | tail -40
            printf '%s\n' "$out" | grep -E '^\[(----|FAIL)\]' |
                grep -vE ': Passing' | sed "s/^/$name($label): /" |
                tail -20 >>"$report"
        fi
    done
}
run default "$@"
[ "${STRESS:-1}" = 0 ] || GORT_MAXPROCS=8 run stress "$@"
for s in ${EXTRA_TESTS:-}; do
    if sh -c "$s"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $s"; fi
done
if [ -n "$failed" ]; then
    cat "$report"
    echo "failed:$failed"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
