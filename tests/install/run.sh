#!/usr/bin/env bash
# tests/install/run.sh: install gort as a user does and build the README's
# first program against it through pkg-config, three ways, running each:
#   shared   cc first.c $(pkg-config --cflags --libs gort)
#   archive  libgort.a, the C library shared (Libs.private after it)
#   static   cc -static first.c $(pkg-config --static --cflags --libs gort)
# and a program through the hook library (gort-hook.pc, and its archive),
# for the default build into two prefixes one after the other (gort.pc
# must follow PREFIX) and for JEMALLOC=1 (its own build dir; its static
# links bring jemalloc, libgort.so never does); uninstalls each and checks
# that nothing is left. Also builds the README's build-tree command.
# Needs pkg-config and libjemalloc-dev (tools/deps.sh install: make
# check-install). Run by .ci/run; takes about a minute.
# Prints "install: N passed, M failed"; exit 1 on any failure.
set -uo pipefail # hence no `| grep -q`: it can SIGPIPE the writer and fail
cd "$(dirname "$0")/../.." || exit 2
B=${B:-build/default}
JOBS=${JOBS:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 failn=0
ok() { echo "install: ok: $*"; pass=$((pass + 1)); }
bad() { echo "install: FAIL: $*"; failn=$((failn + 1)); }

# The README's first program, as the README shows it.
awk '/^## A first program/ { f = 1 } f && /^```c/ { p = 1; next }
     p && /^```/ { exit } p' README.md >"$tmp/first.c"
[[ -s $tmp/first.c ]] || { echo "install: no first program in README.md"; exit 1; }

# run_first NAME EXE: it must print three "got N" lines and exit 0.
run_first() {
    local out rc=0
    out=$(timeout 20 "$2" 2>&1) || rc=$?
    if ((rc != 0)); then
        bad "$1: exit status $rc ($out)"
    elif [[ $(grep -c '^got [0-9]*$' <<<"$out") != 3 ]]; then
        bad "$1: unexpected output: $out"
    else
        ok "$1 runs"
    fi
}

# try NAME CMD...: compile; on success run it.
try() {
    local name=$1 exe=$tmp/$1
    shift
    if ! "$@" -o "$exe" >"$tmp/cc.log" 2>&1; then
        bad "$name: compiling failed: $*"; sed 's/^/    /' "$tmp/cc.log"; return 1
    fi
    run_first "$name" "$exe"
}

# A program whose usleep parks its goroutine only when the hooks are in.
cat >"$tmp/hook.c" <<'EOF'
#include <gort.h>
#include <stdio.h>
#include <unistd.h>
static int main_g(void *arg)
{
    (void)arg;
    gort_stats_t a, b;
    gort_stats(&a);
    usleep(10000);
    gort_stats(&b);
    puts(b.parks > a.parks ? "hooked" : "not hooked");
    return b.parks > a.parks ? 0 : 1;
}
int main(void) { return gort_run(main_g, NULL); }
EOF

# try_hook NAME CMD...: compile; it must print "hooked".
try_hook() {
    local name=$1 exe=$tmp/$1 out
    shift
    if ! "$@" -o "$exe" >"$tmp/cc.log" 2>&1; then
        bad "$name: compiling failed: $*"; sed 's/^/    /' "$tmp/cc.log"; return 1
    fi
    out=$(timeout 20 "$exe" 2>&1)
    if [[ $out == hooked ]]; then ok "$name: a usleep parks"; else bad "$name: $out"; fi
}

# check_prefix TAG PREFIX MAKEARGS...: install there, build three ways.
check_prefix() {
    local tag=$1 prefix=$2 libdir pc_libs
    shift 2
    if ! make -s -j"$JOBS" "$@" install PREFIX="$prefix" >"$tmp/make.log" 2>&1; then
        bad "$tag: make install PREFIX=$prefix failed"; tail -n 20 "$tmp/make.log"; return
    fi
    export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
    if [[ $(pkg-config --variable=prefix gort) == "$prefix" ]] && pkg-config --validate gort; then
        ok "$tag: gort.pc says prefix=$prefix"
    else
        bad "$tag: gort.pc in $prefix: $(grep '^prefix=' "$prefix/lib/pkgconfig/gort.pc")"
    fi
    libdir=$(pkg-config --variable=libdir gort)

    # shared: the run-time path as a program installed beside it would have.
    # shellcheck disable=SC2046
    if try "$tag-shared" cc -O2 "$tmp/first.c" $(pkg-config --cflags --libs gort) \
           -Wl,-rpath,"$libdir"; then
        if ldd "$tmp/$tag-shared" | grep "libgort.so.0 => $libdir/" >/dev/null; then
            ok "$tag-shared: loads $libdir/libgort.so.0"
        else
            bad "$tag-shared: does not load libgort.so.0 from $libdir"; ldd "$tmp/$tag-shared"
        fi
    fi
    # archive: libgort.a, then Libs.private (everything but -lgort).
    pc_libs=$(pkg-config --static --libs-only-l gort | sed 's/-lgort\b//')
    # shellcheck disable=SC2046,SC2086
    if try "$tag-archive" cc -O2 "$tmp/first.c" $(pkg-config --cflags gort) \
           "$libdir/libgort.a" $pc_libs; then
        if ldd "$tmp/$tag-archive" | grep libgort >/dev/null; then
            bad "$tag-archive: still loads libgort.so"
        fi
    fi
    # static: everything, the C library too.
    # shellcheck disable=SC2046
    if try "$tag-static" cc -static -O2 "$tmp/first.c" \
           $(pkg-config --static --cflags --libs gort); then
        if ldd "$tmp/$tag-static" >/dev/null 2>&1; then
            bad "$tag-static: is a dynamic executable"
        fi
    fi
    # The hook library (docs/blocking.md, "Hooks"): through gort-hook.pc,
    # and its archive whole into a dynamically linked program; a usleep on
    # a goroutine must park it (a timer), not block its thread.
    # shellcheck disable=SC2046
    try_hook "$tag-hook-shared" cc -O2 "$tmp/hook.c" \
        $(pkg-config --cflags --libs gort-hook) -Wl,-rpath,"$libdir"
    # shellcheck disable=SC2046,SC2086
    try_hook "$tag-hook-archive" cc -O2 "$tmp/hook.c" $(pkg-config --cflags gort) \
        -Wl,--whole-archive "$libdir/libgort-hook.a" -Wl,--no-whole-archive \
        "$libdir/libgort.a" $pc_libs -ldl
    # The allocator (docs/install.md): libgort.so never links one; with
    # JEMALLOC=1 the static links (archive, -static) get jemalloc.
    if readelf -d "$libdir/libgort.so" | grep 'NEEDED.*libjemalloc' >/dev/null; then
        bad "$tag: libgort.so links jemalloc"
    else
        ok "$tag: libgort.so links no allocator"
    fi
    if [[ " $* " == *" JEMALLOC=1 "* ]]; then
        ldd "$tmp/$tag-archive" | grep libjemalloc >/dev/null &&
            nm "$tmp/$tag-static" | grep ' je_malloc' >/dev/null &&
            ok "$tag: the archive and static links use jemalloc" ||
            bad "$tag: JEMALLOC=1 but the static links do not use jemalloc"
    elif ldd "$tmp/$tag-archive" | grep libjemalloc >/dev/null; then
        bad "$tag: the archive link uses jemalloc unasked"
    fi
    if make -s "$@" uninstall PREFIX="$prefix" >/dev/null 2>&1 &&
       [[ -z $(find "$prefix" -type f -o -type l) ]]; then
        ok "$tag: uninstall leaves no file"
    else
        bad "$tag: after uninstall: $(find "$prefix" -type f -o -type l | tr '\n' ' ')"
    fi
    unset PKG_CONFIG_PATH
}

check_prefix default "$tmp/prefix-a" B="$B"
check_prefix again "$tmp/prefix-b" B="$B"
check_prefix jemalloc "$tmp/prefix-j" B="$tmp/build-jemalloc" JEMALLOC=1

# The README's build-tree command, as written there.
cmd=$(sed -n 's/^`\(cc -O2 -Iinclude [^`]*first\.c [^`]*\)`.*/\1/p' README.md)
if [[ -z $cmd ]]; then
    bad "README.md has no build-tree command"
else
    # shellcheck disable=SC2086
    try buildtree ${cmd/first.c/$tmp/first.c}
fi

echo "install: $pass passed, $failn failed"
[[ $failn == 0 ]]
