#!/bin/sh
# run.sh: the fault-injection driver of `make check-faults` (docs/faults.md).
# For each program and each call that tests/faults/inject.c can fail, runs
# the program with GORT_FAULT=CALL:N for N = 1, 2, 3, ... until a run makes
# fewer than N such calls (the fault never fired) and N is past the most
# calls any run of the program made (scheduling changes the counts: three
# runs without a fault measure them first). Every run must end in
#   ok     exit 0
#   error  exit 1 with a gort call's error return reported on stderr
#          ("PROG: gort_CALL: MESSAGE"; echo: "FAIL: echo: WHAT ...:" or a
#          connection the server dropped, reported by the client)
#   fatal  exit 2 with Go's "fatal error: ..." or "panic: ..."
# and never in a signal, a hang (timeout), a sanitizer report, or a leak
# LeakSanitizer reports beyond tests/faults/lsan.supp.
#
#   B=build/faults tests/faults/run.sh [PROG...]    (default: all four)
#   FAULTS_SHORT=1   CI's pass: fewer N past 8 (next_n below)
#   FAULTS_MAXN=5000 the largest N tried for one call
#   FAULTS_CALLS="mmap malloc"   only these calls
#
# Prints a line per run that failed, a table per program and call (runs,
# outcomes, the distinct messages) and a total; exits 1 if any run failed.
# The per-run log is $B/faults/results.txt (or $FAULTS_RESULTS).
set -u
B=${B:-build/faults}
dir=$(cd "$(dirname "$0")" && pwd)
progs=${*:-spawn timer sync echo}
calls=${FAULTS_CALLS:-"mmap munmap madvise mprotect malloc pthread_create \
epoll_create1 epoll_ctl eventfd timerfd_create io_uring_setup io_uring_enter \
accept socket"}
maxn=${FAULTS_MAXN:-5000}
tmo=${FAULTS_TIMEOUT:-30}
export ASAN_OPTIONS=detect_leaks=1:handle_abort=1
export LSAN_OPTIONS="suppressions=$dir/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS=print_stacktrace=1
export GORT_MAXPROCS=${GORT_MAXPROCS:-2}
export GORT_FAULT_COUNTS=1   # inject.c prints each call's count at exit
results=${FAULTS_RESULTS:-$B/faults/results.txt}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$results"
: >"${results%.txt}-stalls.txt"

# run_echo: the echo example under a small client. The server gets the
# fault and listens on a port the kernel picks (other programs on this
# machine hold ports of their own); the client (tools/echo-load, no fault)
# sends once it listens; SIGTERM then ends the server. Leaves the server's
# stderr in $work/err and its exit status in $rc; the client's failure, if
# any, in $work/client.
# stall_report pid: what a server that never listened is doing, for
# $B/faults/results-stalls.txt: its state, where it waits, its threads.
stall_report() {
    echo "== GORT_FAULT=${GORT_FAULT:-} pid $1 at $(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg)"
    grep -E '^(State|Threads)' "/proc/$1/status" 2>/dev/null
    echo "wchan: $(cat "/proc/$1/wchan" 2>/dev/null); fds: $(ls "/proc/$1/fd" 2>/dev/null | wc -l)"
    if command -v gdb >/dev/null; then
        gdb -p "$1" -batch -ex 'thread apply all bt 12' 2>&1 |
            grep -E '^(Thread|#)' | head -60
    fi
}

run_echo() {
    : >"$work/client"
    "$B/faults/echo" -port 0 >/dev/null 2>"$work/err" &
    spid=$!
    i=0
    while [ $i -lt $((tmo * 20)) ] && kill -0 $spid 2>/dev/null &&
          ! grep -q '^echo: listening' "$work/err"; do
        sleep 0.05; i=$((i + 1))
    done
    if kill -0 $spid 2>/dev/null && grep -q '^echo: listening' "$work/err"; then
        port=$(sed -n 's/^echo: listening on .*:\([0-9]*\)$/\1/p' "$work/err")
        if ! timeout 20 "$B/tools/echo-load" -p $port -c 4 -n 100 -d 0.3 \
                >/dev/null 2>"$work/client.err"; then
            head -1 "$work/client.err" >"$work/client"
            [ -s "$work/client" ] || echo "client failed" >"$work/client"
        fi
    fi
    if kill -0 $spid 2>/dev/null && ! grep -q '^echo: listening' "$work/err"
    then
        echo "driver: no listening line after ${tmo}s" >>"$work/err"
        stall_report $spid >>"${results%.txt}-stalls.txt"
    fi
    kill -TERM $spid 2>/dev/null
    i=0
    while [ $i -lt $((tmo * 10)) ] && kill -0 $spid 2>/dev/null; do
        sleep 0.1; i=$((i + 1))
    done
    if kill -0 $spid 2>/dev/null; then
        # Hung: every thread's stack, for the log, then the end of it.
        if command -v gdb >/dev/null; then
            gdb -p $spid -batch -ex 'thread apply all bt 20' 2>&1 |
                grep -E '^(Thread|#)' >>"$work/err"
        fi
        kill -KILL $spid 2>/dev/null
        wait $spid
        rc=124
    else
        wait $spid
        rc=$?
    fi
}

# classify prog: the outcome of the run whose stderr is $work/err and
# status $rc, as "OUTCOME MESSAGE"; OUTCOME is ok, error, fatal or FAIL.
classify() {
    e=$work/err
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$e"; then
        echo "FAIL $(grep -m1 -E 'ERROR: |runtime error:' "$e")"
    elif grep -q '^driver: no listening line' "$e"; then
        echo "FAIL hang (no listening line after ${tmo}s, exit $rc)"
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "FAIL hang (timeout ${tmo}s)"
    elif [ "$rc" -gt 128 ]; then
        echo "FAIL signal $((rc - 128))"
    elif grep -q 'FAIL: [a-z]*: sum\|FAIL: [a-z]*: counter' "$e"; then
        echo "FAIL $(grep -m1 'FAIL: ' "$e")"
    elif [ "$rc" = 2 ] && grep -qE '^(fatal error|panic): ' "$e"; then
        m=$(grep -m1 -E '^(fatal error|panic): ' "$e")
        case $m in
        *signal*|*"invalid memory address"*) echo "FAIL $m" ;;
        *) echo "fatal $m" ;;
        esac
    elif [ "$rc" = 1 ] && grep -qE "^($1: gort_[a-z_]+|FAIL: echo: [a-z_]+( [^ ]*)?): " "$e"; then
        echo "error $(grep -m1 -E "^($1: gort_[a-z_]+|FAIL: echo: [a-z_]+( [^ ]*)?): " "$e" |
            sed 's/127.0.0.1:[0-9]*/ADDR/')"
    elif [ "$rc" = 0 ] && [ -s "$work/client" ]; then
        echo "error connection dropped: $(cat "$work/client")"
    elif [ "$rc" = 0 ]; then
        echo "ok"
    else
        echo "FAIL exit $rc: $(grep -v '^gort-fault' "$e" | head -1)"
    fi
}

# next_n n: the N after n. Every N up to $dense, then steps of an eighth
# (FAULTS_SHORT: every N up to 8, then steps of a half), so that a call
# made hundreds of times (echo's allocations) is still followed to its end.
dense=64
[ -n "${FAULTS_SHORT:-}" ] && dense=8
next_n() {
    if [ "$1" -lt "$dense" ]; then
        echo $(($1 + 1))
    elif [ -n "${FAULTS_SHORT:-}" ]; then
        echo $(($1 + $1 / 2))
    else
        echo $(($1 + $1 / 8))
    fi
}

# run_prog p: one run of p with the environment's GORT_FAULT. An echo
# server that printed nothing at all in $tmo s, not even the injector's
# line, stalled before reaching any call of gort's (docs/faults.md, "A
# stall before start": seen only on a loaded machine): it is run once
# more, and counted in $stalls. A second stall is the run's outcome.
stalls=0
run_prog() {
    if [ "$1" = echo ]; then
        run_echo
        if [ "$rc" = 143 ] && [ "$(cat "$work/err")" = \
             "driver: no listening line after ${tmo}s" ]; then
            stalls=$((stalls + 1))
            run_echo
        fi
    else
        timeout -s QUIT -k 5 "$tmo" "$B/faults/$1" >/dev/null 2>"$work/err"
        rc=$?
        : >"$work/client"
    fi
}

# count c: the most calls to c the program made in any run so far that
# printed its counts ($work/counts collects their lines).
count() {
    sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$work/counts" | sort -n | tail -1
}

fails=0 injected=0 survived=0
for p in $progs; do
    : >"$work/counts"
    for i in 1 2 3; do
        GORT_FAULT= run_prog "$p"
        out=$(classify "$p")
        grep '^gort-fault: counts' "$work/err" >>"$work/counts"
        if [ "$out" != ok ]; then
            fails=$((fails + 1))
            echo "FAIL: $p without a fault: $out"
            grep -v '^gort-fault' "$work/err" | head -${FAULTS_LOG_LINES:-40} |
                sed 's/^/    /'
        fi
    done
    echo "faults: $p makes $(sed 's/^gort-fault: counts//' "$work/counts" | tail -1)"
    for c in $calls; do
        n=1
        while [ "$n" -le "$maxn" ]; do
            GORT_FAULT=$c:$n run_prog "$p"
            grep '^gort-fault: counts' "$work/err" >>"$work/counts"
            out=$(classify "$p")
            hit=$(grep -c "^gort-fault: $c call $n fails" "$work/err")
            printf '%s %s %s %s %s\n' "$p" "$c" "$n" "$hit" "$out" >>"$results"
            if [ "${out%% *}" = FAIL ]; then
                fails=$((fails + 1))
                echo "FAIL: $p GORT_FAULT=$c:$n: ${out#FAIL }"
                grep -v '^gort-fault' "$work/err" | head -${FAULTS_LOG_LINES:-40} |
                    sed 's/^/    /'
            fi
            [ "$hit" = 0 ] && [ "$n" -gt "$(count "$c")" ] && break
            [ "$hit" = 0 ] && { n=$(next_n "$n"); continue; }
            injected=$((injected + 1))
            [ "${out%% *}" != FAIL ] && survived=$((survived + 1))
            n=$(next_n "$n")
        done
    done
done

# The table: per program and call, the runs that hit the fault and their
# outcomes, then each distinct message once.
awk '$4 == 1 {
    k = $1 " " $2; runs[k]++; o[k, $5]++
    if (!(k in order)) { order[k] = ++nk; keys[nk] = k }
    m = $5; for (i = 6; i <= NF; i++) m = m " " $i
    if (m != "ok" && !((k, m) in seen)) { seen[k, m] = 1; msgs[k] = msgs[k] "\n      " m }
} END {
    printf "%-8s %-16s %5s %5s %5s %5s %5s\n", "program", "call", "runs", "ok", "error", "fatal", "FAIL"
    for (i = 1; i <= nk; i++) {
        k = keys[i]; split(k, a, " ")
        printf "%-8s %-16s %5d %5d %5d %5d %5d%s\n", a[1], a[2], runs[k], o[k, "ok"], \
            o[k, "error"], o[k, "fatal"], o[k, "FAIL"], msgs[k]
    }
}' "$results"
for p in $progs; do
    awk -v p="$p" '$1 == p && $4 == 1 { n++; if ($5 != "FAIL") s++ }
        END { printf "faults: %s: %d injected, %d survived\n", p, n, s }' "$results"
done
[ "$stalls" = 0 ] ||
    echo "faults: $stalls echo runs stalled before start and were run again (${results%.txt}-stalls.txt)"
echo "faults: $injected injected, $survived survived, $fails failed runs"
[ "$fails" = 0 ]
