#!/bin/sh
# run.sh: build user code the way a user would, through `pkg-config
# --cflags --libs gort` and nothing else, and check that it is correct on
# goroutines (tests/flags/safe_user.c): errno and pthread_self across parks
# at 1, 2 and 4 Ps, and a frame larger than the stack stopping with
# "fatal error: stack overflow". The .pc file comes from gort.pc.in with
# the prefix pointed at a temporary tree that links this build's headers
# and libgort.so. Run by `make test` (EXTRA_TESTS); B names the build dir.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
B=${B:-build/default}
CC=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "flags: FAIL: $*"; exit 1; }

[ -f "$root/$B/libgort.so" ] || fail "$root/$B/libgort.so not built"
command -v pkg-config >/dev/null || fail "pkg-config missing (apt-get install pkg-config)"
mkdir -p "$tmp/lib/pkgconfig"
ln -s "$root/include" "$tmp/include"
ln -s "$root/$B/libgort.so" "$tmp/lib/libgort.so"
ln -s "$root/$B/libgort.so" "$tmp/lib/libgort.so.0"
# Unknown placeholders (Libs.private and the like) become empty: the test
# links the shared library, which carries its own dependencies.
sed -e "s|@PREFIX@|$tmp|g" -e "s|@LIBDIR@|$tmp/lib|g" \
    -e "s|@INCLUDEDIR@|$tmp/include|g" -e 's|@VERSION@|0|g' -e 's|@[A-Za-z_]*@||g' \
    "$root/gort.pc.in" >"$tmp/lib/pkgconfig/gort.pc"
export PKG_CONFIG_PATH="$tmp/lib/pkgconfig"
cflags=$(pkg-config --cflags gort) || fail "pkg-config --cflags gort"
libs=$(pkg-config --libs gort) || fail "pkg-config --libs gort"
for want in -D__const__=__unused__ -fstack-clash-protection; do
    case " $cflags " in *" $want "*) ;; *) fail "cflags lack $want: $cflags" ;; esac
done
san=
case "${SAN:-}" in
address) san="-fsanitize=address,undefined" ;;
thread)  san="-fsanitize=thread" ;;
esac
# shellcheck disable=SC2086
$CC -O2 $san $cflags -o "$tmp/safe_user" "$here/safe_user.c" $libs \
    -Wl,-rpath,"$tmp/lib" || fail "build with $cflags"

for p in 1 2 4; do
    out=$(GORT_MAXPROCS=$p "$tmp/safe_user" errno 2>&1) ||
        fail "errno/pthread_self at $p Ps: $out"
    echo "flags: $out"
done

# Sanitizers keep their own fault handling and stack layout: the
# overflow check belongs to the plain build.
if [ -z "$san" ]; then
    out=$("$tmp/safe_user" overflow 2>&1)
    rc=$?
    case "$out" in
    *"fatal error: stack overflow"*) [ "$rc" = 2 ] ||
        fail "overflow: exit $rc, want 2: $out" ;;
    *) fail "overflow: exit $rc without 'fatal error: stack overflow': $out" ;;
    esac
    echo "flags: overflow stopped with 'fatal error: stack overflow'"
fi
echo "flags: ok"
