# gort: one top-level Makefile, no recursion (style rule 36).
#
#   make                 libgort.a, libgort.so, examples
#   make test            build and run the Criterion suites (installs deps)
#   make bench           build and run the benchmark suite beside Go
#   make SAN=address     ASan+UBSan build (separate build dir); SAN=thread: TSan
#   make install PREFIX=/usr/local DESTDIR=
#   make check-headers   every internal header compiles alone
#
# Local overrides go in config.mak (CC=clang, JEMALLOC=0, ...).

-include config.mak

CC       ?= cc
PREFIX   ?= /usr/local
SAN      ?=
JEMALLOC ?= 1
NETPOLL  ?= epoll
ARCH     ?= $(shell uname -m | sed -e 's/x86_64/amd64/' -e 's/aarch64/arm64/')

VERSION  := 0.1.0
B        := build/$(if $(SAN),$(SAN),default)

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g -Wall -Wextra -Wshadow -Werror \
               -Iinclude -fvisibility=hidden -fPIC
# glibc declares __errno_location and pthread_self const, which lets the
# compiler reuse a TLS address across a call that parks and resumes on
# another thread (peer pitfall 1). Renaming the attribute disarms it.
CFLAGS_BASE += -D__const__=__unused__
OPT      ?= -O2
# cmpxchg16b: the double-width CAS behind runtime/lfstack.h.
ifeq ($(ARCH),amd64)
  CFLAGS_BASE += -mcx16
endif
LDLIBS   := -lpthread -lm
# Tracebacks (runtime/traceback.c, symtab.c): libunwind unwinds, elfutils'
# libdw names and lines. Each is left out where its header is missing (a
# cross build); the sources check the same headers with __has_include.
have_hdr = $(shell printf '\043include <%s>\n' $(1) | $(CC) -E -x c - >/dev/null 2>&1 && echo y)
LDLIBS   += $(if $(call have_hdr,libunwind.h),-lunwind) \
            $(if $(call have_hdr,elfutils/libdwfl.h),-ldw)

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
  LDLIBS += -ljemalloc
endif

CFLAGS   ?=
CFLAGS   += $(CFLAGS_BASE) $(OPT) $(SANFLAGS)
LDFLAGS  += $(SANFLAGS)

LIB_SRCS := $(wildcard runtime/*.c chan/*.c sync/*.c) \
            $(filter-out netpoll/netpoll_%.c,$(wildcard netpoll/*.c)) \
            $(wildcard netpoll/netpoll_$(NETPOLL).c) \
            $(wildcard arch/*_$(ARCH).c) $(wildcard arch/*_$(ARCH)_*.S)
LIB_OBJS := $(patsubst %,$(B)/%.o,$(basename $(LIB_SRCS)))

TEST_SRCS := $(wildcard tests/test_*.c tests/internal/test_*.c)
TEST_BINS := $(patsubst %.c,$(B)/%,$(TEST_SRCS))
TEST_HELPERS := $(wildcard tests/helpers/*.c)
EX_SRCS  := $(wildcard docs/examples/*.c)
EX_BINS  := $(patsubst docs/examples/%.c,$(B)/examples/%,$(EX_SRCS))
BENCH_SRCS := $(wildcard bench/bench_*.c)
BENCH_BINS := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRCS))
TOOL_BINS := $(B)/tools/echo-load

.PHONY: all lib test test-build bench install uninstall clean check-headers \
        deps-test deps-bench examples benchbins
all: lib examples

lib: $(B)/libgort.a $(B)/libgort.so
examples: $(EX_BINS)
benchbins: $(BENCH_BINS) $(TOOL_BINS) $(EX_BINS)

# Every library object's code goes to one section, gort_text, so that the
# linker keeps gort's code together and brackets it with __start_gort_text
# and __stop_gort_text: asynchronous preemption never stops a goroutine in
# gort's own code (runtime/asyncpreempt.c). The compiler's cold, startup
# and hot sections are renamed too; objcopy skips those an object lacks.
OBJCOPY ?= $(shell $(CC) -print-prog-name=objcopy)
GORT_TEXT = $(OBJCOPY) $(foreach s,.text .text.unlikely .text.startup \
              .text.hot .text.exit,--rename-section $(s)=gort_text) $@

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<
	$(GORT_TEXT)

$(B)/%.o: %.S
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<
	$(GORT_TEXT)

# traceback.c embeds the gdb script (.incbin): rebuild it when it changes.
$(B)/runtime/traceback.o: tools/gdb/gort-gdb.py

$(B)/libgort.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/libgort.so: $(LIB_OBJS)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,libgort.so.0 -o $@ $^ $(LDLIBS)

# Tests, examples and benchmarks link the static library.
$(B)/tests/lite/runner.o: tests/lite/runner.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lite -c -o $@ $<

$(B)/tests/%: tests/%.c $(B)/libgort.a $(TEST_HELPERS) $(TEST_RUNNER)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -MMD -MP -o $@ $< $(TEST_HELPERS) $(TEST_RUNNER) \
	    $(B)/libgort.a $(LDFLAGS) $(TEST_LIBS) $(LDLIBS)

$(B)/examples/%: docs/examples/%.c $(B)/libgort.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libgort.a $(LDFLAGS) $(LDLIBS)

$(B)/bench/%: bench/%.c $(wildcard bench/*.h) $(B)/libgort.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libgort.a $(LDFLAGS) $(LDLIBS)

$(B)/tools/%: tools/%.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $< -lpthread

test-build: lib examples $(TEST_BINS)

# make test: install what is missing, build, run every suite (tests/run.sh
# also reruns the stress suites with more Ps than CPUs).
test: deps-test
	$(MAKE) test-build
	B=$(B) SAN=$(SAN) EXTRA_TESTS="tests/arch/run-smoke.sh tools/cross-arm64.sh" ./tests/run.sh $(TEST_BINS)

bench: deps-bench
	$(MAKE) benchbins
	B=$(B) ./bench/run.sh

deps-test:
	@./tools/deps.sh test
deps-bench:
	@./tools/deps.sh bench

check-headers:
	@for h in $(wildcard runtime/*.h chan/*.h sync/*.h netpoll/*.h arch/*.h include/*.h include/gort/*.h); do \
	    printf '#include "%s"\n' "$$h" | $(CC) $(CFLAGS_BASE) -I. -x c -fsyntax-only - || exit 1; \
	done; echo "check-headers: ok"

gort.pc: gort.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS@|$(LDLIBS)|' $< > $@

install: lib gort.pc
	install -d $(DESTDIR)$(PREFIX)/include/gort $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/gort.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/gort/*.h $(DESTDIR)$(PREFIX)/include/gort/
	install -m 644 $(B)/libgort.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/libgort.so $(DESTDIR)$(PREFIX)/lib/libgort.so.$(VERSION)
	ln -sf libgort.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libgort.so.0
	ln -sf libgort.so.0 $(DESTDIR)$(PREFIX)/lib/libgort.so
	install -m 644 gort.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -D -m 644 tools/gdb/gort-gdb.py $(DESTDIR)$(PREFIX)/share/gort/gort-gdb.py

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/include/gort $(DESTDIR)$(PREFIX)/include/gort.h
	rm -f $(DESTDIR)$(PREFIX)/lib/libgort.* $(DESTDIR)$(PREFIX)/lib/pkgconfig/gort.pc
	rm -rf $(DESTDIR)$(PREFIX)/share/gort

clean:
	rm -rf build gort.pc

-include $(LIB_OBJS:.o=.d) $(TEST_BINS:=.d)
