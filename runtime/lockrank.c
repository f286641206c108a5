/*
 * lockrank.c: the debug build's lock-order checker (lockrank.h has the
 * ranks and why). Go: lockrank_on.go.
 *
 * Each thread keeps the locks it holds, in the order it took them, in a
 * small thread-local stack. An acquire checks the new lock against every
 * entry (a lock may be released out of order, so the top alone would not
 * do), then pushes it; a release removes its entry wherever it is.
 *
 * Invariants: held[0..nheld) are exactly the ranked locks this thread
 * holds. Locking: none (thread-local state only). The checks print what
 * the thread holds and throw, so a violation stops the first run that
 * makes it, not the rare run that deadlocks on it.
 */
#include "lockrank.h"

#if GORT_LOCKRANK
#include <execinfo.h>
#include <stdio.h>

#include "runtime.h"

enum { HELD_MAX = 64 };

struct held {
    const void *l;
    uint32_t rank;
};

static _Thread_local struct held held[HELD_MAX];
static _Thread_local int nheld;
/* Counted ranks (is_counted): how many of each this thread holds, and
 * the last one taken. */
static _Thread_local uint32_t ncounted[LOCKRANK_COUNT];
static _Thread_local uintptr_t lastcounted[LOCKRANK_COUNT];
#define nchan ncounted[LOCKRANK_CHAN]
#define lastchan lastcounted[LOCKRANK_CHAN]

static const char *const rank_names[LOCKRANK_COUNT] = {
    [LOCKRANK_NONE] = "unranked",
    [LOCKRANK_CTX] = "ctx",
    [LOCKRANK_TIMECHAN] = "timechan",
    [LOCKRANK_CHAN] = "chan",
    [LOCKRANK_POOL] = "pool",
    [LOCKRANK_SEMA] = "sema",
    [LOCKRANK_PDINIT] = "pdinit",
    [LOCKRANK_PD] = "pd",
    [LOCKRANK_PDCACHE] = "pdcache",
    [LOCKRANK_SYSBATCH_ENTER] = "sysbatch_enter",
    [LOCKRANK_SYSBATCH_SQ] = "sysbatch_sq",
    [LOCKRANK_SCHED] = "sched",
    [LOCKRANK_TIMER] = "timer",
    [LOCKRANK_TIMERS] = "timers",
    [LOCKRANK_ALLG] = "allg",
    [LOCKRANK_STACK] = "stack",
};

static const char *rank_name(uint32_t r)
{
    return r < LOCKRANK_COUNT ? rank_names[r] : "bad rank";
}

/* is_counted: the ranks a thread may hold without bound (a select's
 * channels, a cancel's chain of contexts), counted instead of listed. */
static bool is_counted(uint32_t r)
{
    return r == LOCKRANK_CHAN || r == LOCKRANK_CTX;
}

_Noreturn static void rank_throw(const char *msg, const void *l, uint32_t r)
{
    fprintf(stderr, "lock rank: %s: %p (%s)\nheld by this thread:\n", msg, l,
            rank_name(r));
    for (int i = 0; i < nheld; i++)
        fprintf(stderr, "  %p (%s)\n", held[i].l, rank_name(held[i].rank));
    for (uint32_t c = 0; c < LOCKRANK_COUNT; c++)
        if (ncounted[c])
            fprintf(stderr, "  %u %s locks, the last %p\n", ncounted[c],
                    rank_name(c), (void *)lastcounted[c]);
    /* Raw frames (addr2line -e BINARY names them): the runtime's symbols
     * are hidden, so backtrace_symbols could not. */
    void *pcs[32];
    int n = backtrace(pcs, 32);
    fprintf(stderr, "called from:");
    for (int i = 1; i < n; i++)
        fprintf(stderr, " %p", pcs[i]);
    fprintf(stderr, "\n");
    gort__throw("lock ordering problem");
}

/* order_ok: may a lock of rank r at l be taken while h is held? Only
 * the P heaps nest with their own rank among listed locks. */
static bool order_ok(const struct held *h, const void *l, uint32_t r)
{
    if (h->rank < r)
        return true;
    return h->rank == r && r == LOCKRANK_TIMERS &&
           (uintptr_t)h->l < (uintptr_t)l;
}

/* counted_ok: may a lock of rank r at l be taken while this thread holds
 * counted locks? Channels nest in ascending address order, contexts in
 * tree order (which ctx/context.c keeps: no address order describes it). */
static bool counted_ok(const void *l, uint32_t r)
{
    for (uint32_t c = r + 1; c < LOCKRANK_COUNT; c++)
        if (ncounted[c])
            return false;
    if (r == LOCKRANK_CHAN && nchan && (uintptr_t)l <= lastchan)
        return false;
    return true;
}

void gort__lockrank_acquire(const void *l, uint32_t rank, bool trylock)
{
    if (rank == LOCKRANK_NONE || rank >= LOCKRANK_COUNT)
        rank_throw("acquire of a lock without a rank", l, rank);
    if (!trylock && !counted_ok(l, rank))
        rank_throw("acquire out of rank order", l, rank);
    for (int i = 0; i < nheld && !trylock; i++) {
        if (held[i].l == l)
            rank_throw("acquire of a lock this thread holds", l, rank);
        if (!order_ok(&held[i], l, rank))
            rank_throw("acquire out of rank order", l, rank);
    }
    if (is_counted(rank)) {
        ncounted[rank]++;
        lastcounted[rank] = (uintptr_t)l;
        return;
    }
    if (nheld == HELD_MAX)
        rank_throw("too many locks held", l, rank);
    held[nheld++] = (struct held){l, rank};
}

void gort__lockrank_release(const void *l, uint32_t rank)
{
    if (is_counted(rank)) {
        if (ncounted[rank] == 0)
            rank_throw("release of a lock this thread does not hold", l,
                       rank);
        if (--ncounted[rank] == 0)
            lastcounted[rank] = 0;
        return;
    }
    for (int i = nheld - 1; i >= 0; i--) {
        if (held[i].l != l)
            continue;
        for (int j = i; j + 1 < nheld; j++)
            held[j] = held[j + 1];
        nheld--;
        return;
    }
    rank_throw("release of a lock this thread does not hold", l,
               LOCKRANK_NONE);
}

void gort__lockrank_assert_held(const void *l, const char *what)
{
    for (int i = 0; i < nheld; i++)
        if (held[i].l == l)
            return;
    fprintf(stderr, "lock rank: caller must hold %s\n", what);
    rank_throw("lock not held", l, LOCKRANK_NONE);
}

void gort__lockrank_assert_chan(const _Atomic uint32_t *key, const char *what)
{
    if (nchan == 0 || atomic_load_explicit(key, memory_order_relaxed) == 0) {
        fprintf(stderr, "lock rank: caller must hold %s's lock\n", what);
        rank_throw("channel lock not held", key, LOCKRANK_CHAN);
    }
}

void gort__lockrank_assert_below(uint32_t rank, const char *what)
{
    for (uint32_t r = rank; r < LOCKRANK_COUNT; r++)
        if (ncounted[r])
            rank_throw("lock held", (void *)lastcounted[r], r);
    for (int i = 0; i < nheld; i++) {
        if (held[i].rank >= rank) {
            fprintf(stderr, "lock rank: caller must hold nothing from %s up\n",
                    what);
            rank_throw("lock held", held[i].l, held[i].rank);
        }
    }
}
#else
/* ISO C wants a declaration in every translation unit. */
typedef int gort__lockrank_off;
#endif
