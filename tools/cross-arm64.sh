#!/bin/sh
# cross-arm64.sh: cross-build gort for AArch64 and run it under qemu-user.
#
#   tools/cross-arm64.sh          the context-switch smoke test
#                                 (tests/arch/ctx_smoke.c + the arm64 switch)
#   tools/cross-arm64.sh --lib    also the whole library (build/arm64) and a
#                                 few benchmarks as runtime smoke tests
#   tools/cross-arm64.sh --strict fail (exit 1) instead of skipping when the
#                                 cross tools are missing
#
# Needs: apt-get install -y gcc-aarch64-linux-gnu libc6-dev-arm64-cross
# qemu-user. Without them it prints "SKIP" and exits 0 (or 1 with --strict).
# libatomic_ops and jemalloc are not installed for arm64 and no gort source
# includes their headers, so --lib links with JEMALLOC=0 and
# LDLIBS="-lpthread -lm" (docs/arch.md, "Cross-building").
# Environment: CROSS_B (build dir, default build/arm64; not B, which
# make test exports for the native build), CROSS_CC, QEMU.
# Exit status: 0 when everything run passed (or was skipped).
set -u
cd "$(dirname "$0")/.." || exit 2
CROSS_CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-aarch64}
SYSROOT=/usr/aarch64-linux-gnu
B=${CROSS_B:-build/arm64}
lib=0 strict=0
for a in "$@"; do
    case $a in
    --lib) lib=1 ;;
    --strict) strict=1 ;;
    *) echo "usage: $0 [--lib] [--strict]" >&2; exit 2 ;;
    esac
done

for tool in "$CROSS_CC" "$QEMU"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "cross-arm64: SKIP: $tool not found (apt-get install -y" \
             "gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)"
        exit "$strict"
    fi
done
run="$QEMU -L $SYSROOT"

CC=$CROSS_CC ARCH=arm64 RUN=$run B=$B tests/arch/run-smoke.sh || exit 1
[ "$lib" = 1 ] || exit 0

# The whole library, then benchmarks with small sizes as runtime smoke tests
# (they check their own results and exit non-zero on a wrong one).
benches="pingpong yield mutex skynet"
bins=
for b in $benches; do bins="$bins $B/bench/bench_$b"; done
# shellcheck disable=SC2086 # $bins is a list
if ! make -s CC="$CROSS_CC" ARCH=arm64 B="$B" JEMALLOC=0 \
        LDLIBS="-lpthread -lm" lib $bins; then
    echo "cross-arm64: FAIL: the library does not build for arm64"
    exit 1
fi
echo "cross-arm64: $B/libgort.a and $B/libgort.so built for arm64"
fail=0
for b in $benches; do
    n=20000
    [ "$b" = skynet ] && n=10000 # skynet wants a power of 10
    for procs in 1 2 8; do
        # shellcheck disable=SC2086 # $run is a command with arguments
        if GORT_MAXPROCS=$procs timeout 120 $run "$B/bench/bench_$b" \
                -n "$n" >/dev/null; then
            echo "cross-arm64: ok   bench_$b procs=$procs"
        else
            echo "cross-arm64: FAIL bench_$b procs=$procs"
            fail=1
        fi
    done
done
exit "$fail"
