#!/bin/sh
# deps.sh test|bench: make sure the Debian packages that `make test` or
# `make bench` needs are installed. As root it installs what is missing
# with apt-get; otherwise it prints the exact command and fails.
set -eu
case "${1:-test}" in
test)  pkgs="make gcc libcriterion-dev libjemalloc-dev libatomic-ops-dev libunwind-dev libdw-dev gdb"
       # For the arm64 switch smoke test; it is skipped without them.
       optional="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user" ;;
bench) pkgs="make gcc libcriterion-dev libjemalloc-dev libatomic-ops-dev golang-go wrk libunwind-dev libdw-dev"
       optional= ;;
*)     echo "usage: $0 test|bench" >&2; exit 2 ;;
esac
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
if [ "$(id -u)" != 0 ]; then
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
