#!/usr/bin/env bash
# tests/deb/run.sh: build the Debian packages (make deb), install them with
# apt as a user would, build the README's first program against the
# installed package through pkg-config (shared and fully static) and run
# it, check that libgort0-dbgsym holds libgort.so.0's debug information,
# then purge the packages. Needs root (apt); elsewhere it says SKIP.
# Run by .ci/run; takes about two minutes (the package build compiles the
# library once more, with Debian's hardening flags).
# Prints "deb: N passed, M failed"; exit 1 on any failure.
set -uo pipefail # hence no `| grep -q`: it can SIGPIPE the writer and fail
cd "$(dirname "$0")/../.." || exit 2
if [[ $(id -u) != 0 ]]; then
    echo "deb: SKIP: installing packages needs root"
    exit 0
fi
PKGS="libgort0 libgort-dev libgort0-dbgsym"
tmp=$(mktemp -d)
purge() { apt-get purge -y -qq $PKGS >/dev/null 2>&1; }
trap 'purge; rm -rf "$tmp"' EXIT
pass=0 failn=0
ok() { echo "deb: ok: $*"; pass=$((pass + 1)); }
bad() { echo "deb: FAIL: $*"; failn=$((failn + 1)); }
export DEBIAN_FRONTEND=noninteractive

if ! make deb >"$tmp/deb.log" 2>&1; then
    tail -n 40 "$tmp/deb.log"
    echo "deb: FAIL: make deb"; echo "deb: 0 passed, 1 failed"; exit 1
fi
ok "make deb"
purge
debs=()
for p in $PKGS; do debs+=("$(ls build/deb/${p}_*.deb)"); done
if apt-get install -y -qq "${debs[@]/#/./}" >"$tmp/apt.log" 2>&1; then
    ok "apt-get install ${debs[*]}"
else
    tail -n 20 "$tmp/apt.log"
    echo "deb: FAIL: apt-get install"; echo "deb: $pass passed, 1 failed"; exit 1
fi

awk '/^## A first program/ { f = 1 } f && /^```c/ { p = 1; next }
     p && /^```/ { exit } p' README.md >"$tmp/first.c"
# try NAME CC-ARGS...: compile, run, expect three "got N" lines.
try() {
    local name=$1 out
    shift
    if ! cc "$@" -o "$tmp/$name" >"$tmp/cc.log" 2>&1; then
        bad "$name: cc $*"; sed 's/^/    /' "$tmp/cc.log"; return
    fi
    if out=$(cd "$tmp" && timeout 20 "./$name" 2>&1) &&
       [[ $(grep -c '^got [0-9]*$' <<<"$out") == 3 ]]; then
        ok "$name runs"
    else
        bad "$name: $out"
    fi
}
# shellcheck disable=SC2046
try shared -O2 "$tmp/first.c" $(pkg-config --cflags --libs gort)
if ldd "$tmp/shared" | grep -E "libgort\.so\.0 => (/usr)?/lib/" >/dev/null; then
    ok "shared loads the packaged libgort.so.0"
else
    bad "shared does not load /usr/lib/.../libgort.so.0"
fi
# shellcheck disable=SC2046
try static -static -O2 "$tmp/first.c" $(pkg-config --static --cflags --libs gort)

# The dbgsym package: debug information found by build id, as gdb does.
lib=$(dpkg -L libgort0 | grep '/libgort\.so\.[0-9.]*$' | head -n 1)
id=$(readelf -n "$(readlink -f "$lib")" | sed -n 's/.*Build ID: *//p')
dbg=/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
if [[ -n $id && -f $dbg ]] && readelf -S "$dbg" | grep '\.debug_info' >/dev/null; then
    ok "libgort0-dbgsym holds $dbg"
else
    bad "no debug information for $lib (build id '$id')"
fi

purge
if dpkg-query -W -f='${Status}\n' $PKGS 2>/dev/null | grep 'install ok installed' >/dev/null; then
    bad "packages still installed after purge"
else
    ok "purged"
fi
echo "deb: $pass passed, $failn failed"
[[ $failn == 0 ]]
