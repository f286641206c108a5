# gort: one top-level Makefile, no recursion (style rule 36).
#
#   make                 libgort.a, libgort.so, examples
#   make test            build and run the Criterion suites (installs deps)
#   make bench           build and run the benchmark suite beside Go
#   make test-policies   the guarantee suites under every GORT_SCHED policy
#   make sweep           workloads x GORT_SCHED policies x P counts (bench/sweep.sh)
#   make fuzz            libFuzzer targets, FUZZ_SECONDS each (docs/fuzzing.md)
#   make soak            echo, timer and spawn churn for SOAK_SECONDS (default
#                        600); fails if memory, fds, goroutines or stack
#                        slabs grow, or a byte is lost (docs/soak.md)
#   make check-faults    each system call and allocation fails in turn
#                        (docs/faults.md); FAULTS_SHORT=1: CI's shorter pass
#   make SAN=address     ASan+UBSan build (separate build dir); SAN=thread: TSan
#   make DEBUG=1         checked build: lock ranks and held-lock asserts
#                        (runtime/lockrank.h), in build/<san>-debug
#   make install PREFIX=/usr/local DESTDIR= [LIBDIR=$(PREFIX)/lib]
#   make check-headers   every internal header compiles alone
#   make check-abi       libgort.so exports exactly abi/libgort.symbols
#   make check-install   install to temporary prefixes, link via pkg-config
#   make deb             Debian packages libgort0, libgort-dev (+ dbgsym)
#   make check-deb       build, apt install, use and purge them (root)
#   make JEMALLOC=1 ...  programs built here and gort.pc's static links use
#                        jemalloc; libgort.so never links an allocator
#
# Every target that compiles first checks the Debian packages it needs
# (tools/deps.sh): as root it installs them, otherwise it prints the
# apt-get line. Local overrides go in config.mak (CC=clang, JEMALLOC=1, ...).

-include config.mak

CC       ?= cc
PREFIX   ?= /usr/local
LIBDIR   ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
SAN      ?=
DEBUG    ?= 0
# STATIC=1: the benchmark programs link everything statically (-static),
# so a sweep's binaries run on a machine with nothing installed.
STATIC   ?= 0
# The program's malloc unless asked: docs/install.md, "Allocator".
JEMALLOC ?= 0
NETPOLL  ?= epoll
ARCH     ?= $(shell uname -m | sed -e 's/x86_64/amd64/' -e 's/aarch64/arm64/')

# One version, from the header; SOVERSION changes with every incompatible
# ABI change (docs/install.md, "ABI").
VERSION  := $(shell sed -n 's/^\#define GORT_VERSION_[A-Z]* \([0-9]*\)$$/\1/p' include/gort.h | paste -sd.)
SOVERSION := 0
B        := build/$(if $(SAN),$(SAN),default)$(if $(filter 1,$(DEBUG)),-debug)$(if $(filter 1,$(STATIC)),-static)

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g -Wall -Wextra -Wshadow -Werror \
               -Iinclude -fvisibility=hidden -fPIC
# glibc declares __errno_location and pthread_self const, which lets the
# compiler reuse a TLS address across a call that parks and resumes on
# another thread (peer pitfall 1). Renaming the attribute disarms it.
CFLAGS_BASE += -D__const__=__unused__
OPT      ?= -O2
ifeq ($(DEBUG),1)
  CFLAGS_BASE += -DGORT_LOCKRANK=1
endif
# cmpxchg16b: the double-width CAS behind runtime/lfstack.h.
ifeq ($(ARCH),amd64)
  CFLAGS_BASE += -mcx16
endif
# LIB_LIBS: what libgort itself uses; libgort.so links these and never an
# allocator (docs/install.md, "Allocator"). LDLIBS: what programs link
# after libgort.a, also gort.pc's Libs.private; static links need each
# library before those it uses (jemalloc's archive calls round and exp).
# Tracebacks (runtime/traceback.c, symtab.c): libunwind unwinds, elfutils'
# libdw names and lines. Each is left out where its header is missing (a
# cross build); the sources check the same headers with __has_include.
# Both are recursive (=): plain `make` on a fresh machine installs the
# headers (deps-build) after this file is read.
have_hdr = $(shell printf '\043include <%s>\n' $(1) | $(CC) -E -x c - >/dev/null 2>&1 && echo y)
LIB_LIBS  = $(if $(call have_hdr,libunwind.h),-lunwind) \
            $(if $(call have_hdr,elfutils/libdwfl.h),-ldw) -lm -lpthread
LDLIBS    = $(LIB_LIBS)
# gort.pc's Libs.private is for static links, where nothing brings its
# own dependencies: a fully -static one needs what libdw uses in turn.
# With jemalloc, whose archive brings libgcc_eh's _Unwind_* functions,
# static libunwind's copies of them collide: the first wins.
PC_LIBS   = $(subst -ldw,-ldw -lelf -lz -llzma -lbz2,$(LDLIBS)) \
            $(if $(filter 1,$(JEMALLOC)),-Wl$(comma)--allow-multiple-definition)
comma    := ,
BENCH_LIBS = $(if $(filter 1,$(STATIC)),-static $(PC_LIBS),$(LDLIBS))

# Criterion cannot start under TSan (Snaipe/Criterion#274): the TSan build
# runs the same tests on criterion-lite (tests/lite), a forking runner.
TEST_CFLAGS  := -Iruntime
TEST_LIBS    := -lcriterion
TEST_RUNNER  :=
ifeq ($(SAN),thread)
  TEST_CFLAGS := -Itests/lite -Iruntime
  TEST_LIBS   :=
  TEST_RUNNER := $(B)/tests/lite/runner.o
endif

ifeq ($(SAN),address)
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -DGORT_SAN=1
  JEMALLOC := 0
else ifeq ($(SAN),thread)
  SANFLAGS := -fsanitize=thread -DGORT_SAN=1
  JEMALLOC := 0
else ifneq ($(SAN),)
  $(error SAN must be address or thread)
endif
ifeq ($(JEMALLOC),1)
  LDLIBS = -ljemalloc $(LIB_LIBS)
endif

CFLAGS   ?=
CFLAGS   += $(CFLAGS_BASE) $(OPT) $(SANFLAGS)
LDFLAGS  += $(SANFLAGS)

LIB_SRCS := $(wildcard runtime/*.c chan/*.c sync/*.c ctx/*.c) \
            $(filter-out netpoll/netpoll_%.c,$(wildcard netpoll/*.c)) \
            $(wildcard netpoll/netpoll_$(NETPOLL).c) \
            $(wildcard arch/*_$(ARCH).c) $(wildcard arch/*_$(ARCH)_*.S)
LIB_OBJS := $(patsubst %,$(B)/%.o,$(basename $(LIB_SRCS)))

TEST_SRCS := $(wildcard tests/test_*.c tests/internal/test_*.c)
TEST_BINS := $(patsubst %.c,$(B)/%,$(TEST_SRCS))
TEST_HELPERS := $(wildcard tests/helpers/*.c)
# kvhttp needs hiredis: built by `make kvhttp`, test-build and benchbins,
# not by plain `make` (whose packages, tools/deps.sh build, lack it).
EX_SRCS  := $(filter-out docs/examples/kvhttp.c,$(wildcard docs/examples/*.c))
EX_BINS  := $(patsubst docs/examples/%.c,$(B)/examples/%,$(EX_SRCS))
KV_BINS  := $(B)/examples/kvhttp $(B)/examples/kvhttp-hook
BENCH_SRCS := $(wildcard bench/bench_*.c)
BENCH_BINS := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRCS))
TOOL_BINS := $(B)/tools/echo-load $(B)/tools/soak-load
# C++ smoke program (the headers compile as C++): g++ and clang++; in
# sanitizer builds g++ only, whose runtimes match the gcc-built library.
CXX_SMOKE := $(B)/tests/cxx/smoke-g++ $(if $(SAN),,$(B)/tests/cxx/smoke-clang++)

.PHONY: all lib hook test test-build test-policies sweep bench install uninstall clean check-headers \
        check-abi abi-symbols check-install check-deb deb deps-build deps-test \
        deps-bench deps-install deps-deb deps-soak examples kvhttp benchbins \
        fuzz soak sweepbins FORCE check-faults faults-build
all: lib examples

lib: $(B)/libgort.a $(B)/libgort.so
examples: $(EX_BINS)
benchbins: $(BENCH_BINS) $(TOOL_BINS) $(EX_BINS) $(KV_BINS)
kvhttp: $(KV_BINS)

# Every library object's code goes to one section, gort_text, so that the
# linker keeps gort's code together and brackets it with __start_gort_text
# and __stop_gort_text: asynchronous preemption never stops a goroutine in
# gort's own code (runtime/asyncpreempt.c). The compiler's cold, startup
# and hot sections are renamed too; objcopy skips those an object lacks.
OBJCOPY ?= $(shell $(CC) -print-prog-name=objcopy)
GORT_TEXT = $(OBJCOPY) $(foreach s,.text .text.unlikely .text.startup \
              .text.hot .text.exit,--rename-section $(s)=gort_text) $@

$(B)/%.o: %.c | deps-build
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<
	$(GORT_TEXT)

$(B)/%.o: %.S | deps-build
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<
	$(GORT_TEXT)

# traceback.c embeds the gdb script (.incbin): rebuild it when it changes.
$(B)/runtime/traceback.o: tools/gdb/gort-gdb.py

$(B)/libgort.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# abi/libgort.map exports gort_* and the gort__ symbols that the public
# headers' inline functions call, nothing else (docs/install.md, "ABI").
$(B)/libgort.so: $(LIB_OBJS) abi/libgort.map $(B)/link.flags
	$(CC) -shared $(LDFLAGS) -Wl,-soname,libgort.so.$(SOVERSION) \
	    -Wl,--version-script=abi/libgort.map -o $@ $(LIB_OBJS) $(LIB_LIBS)

# Whatever links depends on link.flags, rewritten only when the link flags
# change, so that `make JEMALLOC=1` after `make` links again.
$(B)/link.flags: FORCE
	@mkdir -p $(@D)
	@f='$(LDFLAGS) $(LDLIBS)'; [ "$$f" = "$$(cat $@ 2>/dev/null)" ] || echo "$$f" > $@

# Tests, examples and benchmarks link the static library.
$(B)/tests/lite/runner.o: tests/lite/runner.c | deps-build
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lite -c -o $@ $<

$(B)/tests/%: tests/%.c $(B)/libgort.a $(TEST_HELPERS) $(TEST_RUNNER) $(B)/link.flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -MMD -MP -o $@ $< $(TEST_HELPERS) $(TEST_RUNNER) \
	    $(B)/libgort.a $(LDFLAGS) $(TEST_LIBS) $(LDLIBS)

# libgort-hook (hook/hook.c, docs/blocking.md "Hooks"): opt-in, never part
# of libgort; `make hook` builds it. test_hook links its object first, so
# that its libc definitions win for the test and hiredis.
HOOK_OBJ := $(B)/hook/hook.o $(B)/hook/sock.o $(B)/hook/gai.o
hook: $(B)/libgort-hook.a $(B)/libgort-hook.so
$(B)/libgort-hook.a: $(HOOK_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(B)/libgort-hook.so: $(HOOK_OBJ) $(B)/libgort.so
	$(CC) -shared $(LDFLAGS) -Wl,-soname,libgort-hook.so.$(SOVERSION) \
	    -o $@ $(HOOK_OBJ) -L$(B) -lgort -ldl -lpthread
HOOK_TESTS := $(B)/tests/test_hook $(B)/tests/test_hook_sock
$(HOOK_TESTS): $(HOOK_OBJ) tests/extlibs/servers.c tests/extlibs/servers.h
$(HOOK_TESTS): TEST_HELPERS += $(HOOK_OBJ) tests/extlibs/servers.c
$(HOOK_TESTS): TEST_CFLAGS += -Itests -I/usr/include/postgresql
$(HOOK_TESTS): TEST_LIBS += -lhiredis -lpq -ldl

# Only the suites that drive hiredis and libpq link them and their server
# helpers (redis-server and postgresql come from tools/deps.sh).
EXTLIB_TESTS := $(B)/tests/test_hiredis $(B)/tests/test_libpq
$(EXTLIB_TESTS): tests/extlibs/servers.c tests/extlibs/servers.h
$(EXTLIB_TESTS): TEST_HELPERS += tests/extlibs/servers.c
$(EXTLIB_TESTS): TEST_CFLAGS += -Itests -I/usr/include/postgresql
$(EXTLIB_TESTS): TEST_LIBS += -lhiredis -lpq
# test_kvhttp starts redis-server (servers.c) and both kvhttp binaries.
$(B)/tests/test_kvhttp: $(KV_BINS) tests/extlibs/servers.c tests/extlibs/servers.h
$(B)/tests/test_kvhttp: TEST_HELPERS += tests/extlibs/servers.c
$(B)/tests/test_kvhttp: TEST_CFLAGS += -Itests -I/usr/include/postgresql
$(B)/tests/test_kvhttp: TEST_LIBS += -lhiredis -lpq

# docs/examples/kvhttp.c twice: kvhttp wraps its hiredis calls in
# GORT_SYSCALL; kvhttp-hook links libgort-hook's object ahead of libc and
# lets the hooks carry them (docs/blocking.md, "Hooks").
$(B)/examples/kvhttp: docs/examples/kvhttp.c docs/examples/httpreq.h $(B)/libgort.a $(B)/link.flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libgort.a $(LDFLAGS) $(LDLIBS) -lhiredis
$(B)/examples/kvhttp-hook: docs/examples/kvhttp.c docs/examples/httpreq.h $(HOOK_OBJ) $(B)/libgort.a $(B)/link.flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DKVHTTP_HOOKS=1 -o $@ $< $(HOOK_OBJ) $(B)/libgort.a \
	    $(LDFLAGS) $(LDLIBS) -lhiredis -ldl

$(B)/examples/%: docs/examples/%.c $(B)/libgort.a $(B)/link.flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libgort.a $(LDFLAGS) $(LDLIBS)
# The HTTP example's request reader, shared with fuzz/http.c.
$(B)/examples/http $(B)/fuzz/http: docs/examples/httpreq.h
$(EX_BINS) $(KV_BINS): docs/examples/serve.h
$(B)/fuzz/chan $(B)/fuzz/sync: fuzz/rt.h

$(B)/bench/%: bench/%.c $(wildcard bench/*.h) $(B)/libgort.a $(B)/link.flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libgort.a $(LDFLAGS) $(BENCH_LIBS)
# The soak server uses the example servers' shared pieces.
$(B)/bench/soak: docs/examples/serve.h
$(B)/bench/soak: CFLAGS += -Idocs/examples

$(B)/tests/cxx/smoke-%: tests/cxx/smoke.cpp $(B)/libgort.a $(wildcard include/*.h include/gort/*.h)
	@mkdir -p $(@D)
	$* -std=c++11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wshadow -Werror -Iinclude \
	    $(SANFLAGS) -o $@ $< $(B)/libgort.a $(LDFLAGS) $(LDLIBS)

$(B)/tools/%: tools/%.c | deps-build
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $< -lpthread

test-build: lib hook examples $(KV_BINS) $(TEST_BINS) $(CXX_SMOKE)

# make test: install what is missing, build, run every suite (tests/run.sh
# also reruns the stress suites with more Ps than CPUs).
test: deps-test
	$(MAKE) test-build
	B=$(B) SAN=$(SAN) EXTRA_TESTS="tests/determ-explore.sh tests/arch/run-smoke.sh tools/cross-arm64.sh $(CXX_SMOKE) tests/flags/run.sh" ./tests/run.sh $(TEST_BINS)

# make test-policies: the scheduling-guarantee suites under every
# non-default GORT_SCHED knob (tests/policies.sh; POLICIES=, SUITES=).
test-policies: deps-test
	$(MAKE) test-build
	B=$(B) ./tests/policies.sh

# make fuzz: the libFuzzer targets in fuzz/ (docs/fuzzing.md), built by
# clang with ASan+UBSan against a library instrumented for coverage, in
# build/fuzz; each runs FUZZ_SECONDS from its seeds in fuzz/corpus/.
FUZZ_SECONDS ?= 60
FUZZ_BINS := $(patsubst fuzz/%.c,build/fuzz/fuzz/%,$(wildcard fuzz/*.c))
# Objects do not depend on CFLAGS: a build/fuzz made with other flags
# (before the panic hook, -DGORT_FUZZ) is rebuilt whole.
FUZZ_CFLAGS := -fsanitize=fuzzer-no-link -DGORT_FUZZ=1
fuzz:
	@./tools/deps.sh fuzz
	@mkdir -p build/fuzz; f='$(FUZZ_CFLAGS)'; \
	    [ "$$f" = "$$(cat build/fuzz/cflags 2>/dev/null)" ] || \
	    { find build/fuzz -name '*.o' -delete; rm -f build/fuzz/libgort.a; \
	      echo "$$f" > build/fuzz/cflags; }
	CFLAGS="$(FUZZ_CFLAGS)" $(MAKE) CC=clang SAN=address B=build/fuzz \
	    JEMALLOC=0 $(FUZZ_BINS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./fuzz/run.sh $(FUZZ_BINS)
$(B)/fuzz/%: fuzz/%.c $(B)/libgort.a $(B)/link.flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Iruntime -Inetpoll -Idocs/examples -fsanitize=fuzzer \
	    -o $@ $< \
	    $(B)/libgort.a $(LDFLAGS) $(LDLIBS)

# make check-faults: every system call and allocation gort makes fails in
# turn (tests/faults/run.sh, docs/faults.md). The ASan build in
# build/faults is copied into libgort-faults.a with gort's references to
# those calls renamed to tests/faults/inject.c's (objcopy), so libgort
# itself carries no injection code. FAULTS_SHORT=1: the CI pass.
FAULT_PROGS := spawn timer sync echo
check-faults: deps-test
	$(MAKE) SAN=address B=build/faults JEMALLOC=0 faults-build
	B=build/faults ./tests/faults/run.sh
faults-build: $(patsubst %,$(B)/faults/%,$(FAULT_PROGS)) $(B)/tools/echo-load
$(B)/libgort-faults.a: $(B)/libgort.a tests/faults/syms
	$(OBJCOPY) --redefine-syms=tests/faults/syms $< $@
$(B)/faults/inject.o: tests/faults/inject.c | deps-build
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<
FAULT_DEPS = $(B)/faults/inject.o $(B)/libgort-faults.a $(B)/link.flags
$(B)/faults/%: tests/faults/%.c tests/faults/prog.h $(FAULT_DEPS)
	$(CC) $(CFLAGS) -o $@ $< $(B)/faults/inject.o $(B)/libgort-faults.a \
	    $(LDFLAGS) $(LDLIBS)
$(B)/faults/echo: docs/examples/echo.c docs/examples/serve.h $(FAULT_DEPS)
	$(CC) $(CFLAGS) -o $@ $< $(B)/faults/inject.o $(B)/libgort-faults.a \
	    $(LDFLAGS) $(LDLIBS)

bench: deps-bench
	$(MAKE) benchbins
	B=$(B) ./bench/run.sh

# make soak (docs/soak.md): bench/soak.c serves tools/soak-load's churning
# connections beside timer and spawn workloads; tools/soak-report.py fits
# the second half of each metric and plots the run ($(B)/soak/soak.svg).
SOAK_SECONDS ?= 600
soak: deps-soak
	$(MAKE) $(B)/bench/soak $(B)/tools/soak-load
	B=$(B) SOAK_SECONDS=$(SOAK_SECONDS) ./bench/soak.sh

# make sweep: workloads x GORT_SCHED policies x processor counts, tables
# and SVG plots under bench/results/ (bench/sweep.sh; WORKLOADS=,
# POLICIES=, PROCS=, RUNS=).
sweepbins: $(BENCH_BINS)

sweep: deps-bench
	$(MAKE) benchbins
	B=$(B) ./bench/sweep.sh

# Each checks (as root: installs) the Debian packages its target needs.
deps-build:
	@JEMALLOC=$(JEMALLOC) ./tools/deps.sh build
deps-test:
	@CC=$(CC) JEMALLOC=$(JEMALLOC) ./tools/deps.sh test
deps-bench:
	@CC=$(CC) JEMALLOC=$(JEMALLOC) ./tools/deps.sh bench
deps-install:
	@./tools/deps.sh install
deps-deb:
	@./tools/deps.sh deb
deps-soak:
	@./tools/deps.sh soak

check-headers: deps-build
	@for h in $(wildcard runtime/*.h chan/*.h sync/*.h ctx/*.h netpoll/*.h arch/*.h include/*.h include/gort/*.h); do \
	    printf '#include "%s"\n' "$$h" | $(CC) $(CFLAGS_BASE) -I. -x c -fsyntax-only - || exit 1; \
	done; echo "check-headers: ok"

# gort.pc is written at every install, for that PREFIX, LIBDIR and LDLIBS.
$(B)/gort.pc: gort.pc.in FORCE
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS@|$(PC_LIBS)|' $< > $@

# gort-hook.pc: the opt-in hook library (docs/blocking.md, "Hooks"),
# linked even where --as-needed is the default (no symbol of it is named).
$(B)/gort-hook.pc: FORCE
	@mkdir -p $(@D)
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' '' 'Name: gort-hook' \
	    'Description: gort hooks: blocking libc calls park goroutines (opt-in)' \
	    'Version: $(VERSION)' 'Requires: gort' \
	    'Libs: -L$${libdir} -Wl,--push-state,--no-as-needed -lgort-hook -Wl,--pop-state' > $@

install: lib hook $(B)/gort.pc $(B)/gort-hook.pc
	install -d $(DESTDIR)$(INCLUDEDIR)/gort $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 include/gort.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 include/gort/*.h $(DESTDIR)$(INCLUDEDIR)/gort/
	install -m 644 $(B)/libgort.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(B)/libgort.so $(DESTDIR)$(LIBDIR)/libgort.so.$(VERSION)
	ln -sf libgort.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgort.so.$(SOVERSION)
	ln -sf libgort.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libgort.so
	install -m 644 $(B)/gort.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 644 $(B)/libgort-hook.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(B)/libgort-hook.so $(DESTDIR)$(LIBDIR)/libgort-hook.so.$(VERSION)
	ln -sf libgort-hook.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgort-hook.so.$(SOVERSION)
	ln -sf libgort-hook.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libgort-hook.so
	install -m 644 $(B)/gort-hook.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -D -m 644 tools/gdb/gort-gdb.py $(DESTDIR)$(PREFIX)/share/gort/gort-gdb.py
	@# The loader finds /usr/local/lib's libraries through its cache only.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && [ -z "$$FAKEROOTKEY" ]; then \
	    ldconfig || true; fi

uninstall:
	rm -rf $(DESTDIR)$(INCLUDEDIR)/gort $(DESTDIR)$(INCLUDEDIR)/gort.h
	rm -f $(DESTDIR)$(LIBDIR)/libgort.* $(DESTDIR)$(LIBDIR)/pkgconfig/gort.pc
	rm -f $(DESTDIR)$(LIBDIR)/libgort-hook.* $(DESTDIR)$(LIBDIR)/pkgconfig/gort-hook.pc
	rm -rf $(DESTDIR)$(PREFIX)/share/gort

# The exported symbols are abi/libgort.symbols, one a line: a change there
# is an ABI change (docs/install.md, "ABI"); `make abi-symbols` rewrites it.
ABI_SYMS = nm -D --defined-only $(B)/libgort.so | awk '{print $$3}' | LC_ALL=C sort
check-abi: $(B)/libgort.so
	@[ "$$(readelf -d $< | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" = libgort.so.$(SOVERSION) ] || \
	    { echo "check-abi: SONAME is not libgort.so.$(SOVERSION)"; exit 1; }
	@$(ABI_SYMS) | diff -u abi/libgort.symbols - || \
	    { echo "check-abi: libgort.so's exports differ from abi/libgort.symbols (-: gone, +: new)"; exit 1; }
	@echo "check-abi: ok ($$(wc -l < abi/libgort.symbols) symbols, libgort.so.$(SOVERSION))"
abi-symbols: $(B)/libgort.so
	$(ABI_SYMS) > abi/libgort.symbols

# make deb: libgort$(SOVERSION), libgort-dev and libgort$(SOVERSION)-dbgsym in
# build/deb, built by debhelper (debian/) from a copy of this tree.
DEB_DIR := build/deb
deb: deps-deb
	@v=$$(dpkg-parsechangelog -S Version); [ "$$v" = $(VERSION) ] || \
	    { echo "deb: debian/changelog says $$v, include/gort.h $(VERSION)"; exit 1; }
	@grep -qx 'Package: libgort$(SOVERSION)' debian/control || \
	    { echo "deb: debian/control must name libgort$(SOVERSION) (SOVERSION)"; exit 1; }
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/gort-$(VERSION)
	tar -c --exclude=./build --exclude=./.git --exclude=./config.mak -f - . | \
	    tar -x -C $(DEB_DIR)/gort-$(VERSION)
	cd $(DEB_DIR)/gort-$(VERSION) && dpkg-buildpackage -b -us -uc -Jauto
	@ls $(DEB_DIR)/*.deb

# make check-install: install into temporary prefixes and build the
# README's first program through pkg-config (tests/install/run.sh).
check-install: deps-install
	B=$(B) ./tests/install/run.sh
# make check-deb: make deb, apt install the packages, build the first
# program against them, purge them (tests/deb/run.sh; root).
check-deb:
	./tests/deb/run.sh

clean:
	rm -rf build gort.pc

-include $(LIB_OBJS:.o=.d) $(TEST_BINS:=.d)
