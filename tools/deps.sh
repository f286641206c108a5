#!/bin/sh
# deps.sh build|test|bench|install|deb|fuzz|soak: make sure the Debian packages that a
# make target needs are installed. As root it installs what is missing with
# apt-get; otherwise, or inside a package build (dpkg-buildpackage, fakeroot:
# its build dependencies are debian/control's business), it prints the exact
# command and fails.
#   build    plain `make` and every target that compiles
#   test     make test
#   bench    make bench
#   install  tests/install/run.sh (pkg-config; jemalloc for JEMALLOC=1)
#   deb      make deb (debhelper)
#   fuzz     make fuzz (clang, which brings libFuzzer's runtime)
#   soak     make soak (python3 for the slope test, gnuplot for the plot)
# JEMALLOC=1 in the environment adds libjemalloc-dev.
set -eu
build="make gcc libc6-dev libatomic-ops-dev libunwind-dev libdw-dev"
[ "${JEMALLOC:-0}" = 1 ] && build="$build libjemalloc-dev"
optional=
case "${1:-build}" in
build)   pkgs=$build ;;
test)    pkgs="$build libcriterion-dev g++ clang gdb python3 python3-prometheus-client"
         # tests/test_hiredis.c, test_libpq.c, test_hook.c, tests/flags:
         # real servers, their client libraries, pkg-config.
         pkgs="$pkgs pkg-config redis-server libhiredis-dev postgresql libpq-dev"
         # For the arm64 switch smoke test; it is skipped without them.
         optional="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user" ;;
bench)   pkgs="$build libcriterion-dev golang-go wrk gnuplot-nox"
         # The kvhttp rows: the example links hiredis; a private Redis.
         pkgs="$pkgs libhiredis-dev redis-server redis-tools" ;;
install) pkgs="$build pkg-config libjemalloc-dev" ;;
deb)     pkgs="$build build-essential debhelper dpkg-dev pkg-config" ;;
fuzz)    pkgs="$build clang" ;;
soak)    pkgs="$build python3 gnuplot-nox" ;;
*)       echo "usage: $0 build|test|bench|install|deb|fuzz|soak" >&2; exit 2 ;;
esac
# A clang build (make CC=clang) needs the compiler itself.
case "${CC:-}" in *clang*) pkgs="$pkgs clang" ;; esac
absent() {
    out=
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q "install ok installed" || out="$out $p"
    done
    echo "$out"
}
missing=$(absent $pkgs)
want=$(absent $optional)
# Under fakeroot id -u says 0 but apt-get cannot work, and a package build
# must not change the machine it runs on.
pkgbuild=${FAKEROOTKEY:-}${DEB_RULES_REQUIRES_ROOT:-}
if [ "$(id -u)" != 0 ] || [ -n "$pkgbuild" ]; then
    if [ -n "$missing" ]; then
        echo "deps: missing Debian packages:$missing" >&2
        echo "deps: run as root:  apt-get update && apt-get install -y$missing$want" >&2
        exit 1
    fi
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing$want" ]; then
    apt-get update -qq >&2
fi
if [ -n "$missing" ]; then
    echo "deps: installing$missing" >&2
    apt-get install -y -qq $missing >&2
fi
if [ -n "$want" ]; then
    echo "deps: installing (optional)$want" >&2
    apt-get install -y -qq $want >&2 ||
        echo "deps: optional packages unavailable; arm64 smoke test skipped" >&2
fi
