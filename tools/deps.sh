#!/bin/sh
# deps.sh test|bench: make sure the Debian packages that `make test` or
# `make bench` needs are installed. As root it installs what is missing
# with apt-get; otherwise it prints the exact command and fails.
set -eu
case "${1:-test}" in
test)  pkgs="make gcc libcriterion-dev libjemalloc-dev libatomic-ops-dev" ;;
bench) pkgs="make gcc libcriterion-dev libjemalloc-dev libatomic-ops-dev golang-go wrk" ;;
*)     echo "usage: $0 test|bench" >&2; exit 2 ;;
esac
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq $missing >&2
else
    echo "deps: missing Debian packages:$missing" >&2
    echo "deps: run as root:  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
