#!/bin/sh
# run-smoke.sh: build tests/arch/ctx_smoke.c against the bare context switch
# of one architecture (no runtime, no Criterion) and run it.
#
#   tests/arch/run-smoke.sh                      native (ARCH from uname -m)
#   CC=aarch64-linux-gnu-gcc ARCH=arm64 \
#   RUN="qemu-aarch64 -L /usr/aarch64-linux-gnu" tests/arch/run-smoke.sh
#
# Environment: CC (default cc), ARCH (amd64 | arm64), RUN (a prefix such as
# qemu-aarch64 ...), B (build dir, default build/default; the binary goes
# to $B/tests/arch/ctx_smoke-$ARCH), EXTRA_CFLAGS.
# Exit status: the smoke test's (0 when every check passed), 1 if it does
# not build.
set -eu
cd "$(dirname "$0")/../.."
CC=${CC:-cc}
ARCH=${ARCH:-$(uname -m | sed -e 's/x86_64/amd64/' -e 's/aarch64/arm64/')}
B=${B:-build/default}
RUN=${RUN:-}
out=$B/tests/arch/ctx_smoke-$ARCH
mkdir -p "$(dirname "$out")"
# The same warnings as the Makefile's CFLAGS_BASE (style: -Werror clean).
# shellcheck disable=SC2086 # word splitting of RUN and EXTRA_CFLAGS wanted
$CC -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wshadow -Werror \
    ${EXTRA_CFLAGS:-} -Iarch -o "$out" tests/arch/ctx_smoke.c \
    arch/context_"$ARCH".c arch/switch_"$ARCH"_*.S -lm
# shellcheck disable=SC2086
exec $RUN "$out"
