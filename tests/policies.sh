#!/bin/sh
# policies.sh: run the scheduling-guarantee suites under every non-default
# GORT_SCHED knob value (runtime/policy.c, docs/research.md): each policy
# must keep the guarantees that the default one keeps (bounded waiting,
# preemption, wake-ups never stranded, spawn trees complete). `make
# test-policies` runs it after building the tests.
#
# usage: B=build/default tests/policies.sh
# Env: POLICIES (space-separated GORT_SCHED values; default: every
#      non-default value of every knob, one at a time, and the two
#      pairings of docs/research.md; globalcheck only up to 61, as
#      test_fairness holds a preempted goroutine to Go's 61 picks; not
#      preempt=local, which waives that bound: docs/research.md), SUITES (test binaries under
#      $B/tests; default: test_fairness test_preempt test_sched), JOBS
#      (Criterion jobs; 2).
# Prints one line per (policy, suite) and fails if any suite failed.
set -u
B=${B:-build/default}
jobs=${JOBS:-2}
POLICIES=${POLICIES:-"steal=one steal=allbutone victim=roundrobin
  victim=nearest thief=oldest spawn=go spawn=fifo runnext=off
  globalcheck=2 globalcheck=31 slice=1ms slice=100ms spin=all spin=1
  thief=oldest,steal=one spawn=go,runnext=off"}
SUITES=${SUITES:-"test_fairness test_preempt test_sched"}
fail=0 failed=
for pol in $POLICIES; do
    for s in $SUITES; do
        t=$B/tests/$s
        if [ ! -x "$t" ]; then
            echo "policies.sh: $t is missing (make test-build)" >&2
            exit 2
        fi
        out=$(GORT_SCHED=$pol "$t" --jobs "$jobs" --short-filename 2>&1)
        rc=$?
        summary=$(printf '%s\n' "$out" | grep -E '^\[====\] Synthesis:' | tail -1)
        printf '%-32s %-16s %s\n' "$pol" "$s" "${summary:-<no synthesis, exit $rc>}"
        if [ "$rc" != 0 ] || [ -z "$summary" ]; then
            printf '%s\n' "$out" | grep -vE '^\[----\] .*: Passing' | tail -30
            fail=1 failed="$failed $s($pol)"
        fi
    done
done
if [ "$fail" != 0 ]; then
    echo "policies.sh: FAILED:$failed"
    exit 1
fi
echo "policies.sh: every suite passed under every policy"
