/*
 * lockrank.h: the rank of every runtime lock, and the checks that the
 * debug build (make DEBUG=1, GORT_LOCKRANK=1) runs on every acquire and
 * release (Go: lockrank.go, lockrank_on.go).
 *
 * A lock may be taken only while every lock the thread holds has a lower
 * rank. Two ranks nest with themselves, in ascending address order: the
 * channel locks of a select (sellock sorts them) and two P heaps while
 * gort__timers_move merges one into the other. A select may lock 65,536
 * channels and a cancel holds one lock per level of a context tree, so
 * those two ranks are counted rather than listed: the thread keeps how
 * many it holds and the last one taken, which the next channel must
 * follow by address. A try-lock never waits,
 * so it cannot close a cycle: it is recorded but not checked. A lock that
 * a park hands to its unlock callback is released by the same thread,
 * which is why the held set is thread-local: runtime locks block
 * threads, not goroutines.
 *
 * A context's lock nests with its descendants' in tree order (a cancel
 * walks down holding each level), which no address order describes: the
 * checker lets CTX nest with itself and ctx/context.c keeps the order.
 *
 * Why the order is what it is (lowest first):
 *   CTX        a context's mu (ctx/context.c): a cancel closes the done
 *              channel, stops the deadline timer and readies watchers
 *              under it.
 *   TIMECHAN   gort_timer.mu: a timer's channel is sent to and drained
 *              under it (chan/timechan.c).
 *   CHAN       channel locks: a send readies a goroutine, which may take
 *              every lock below sched.lock's rank and sched.lock itself.
 *   POOL       a gort_pool's shared list (sync/pool.c).
 *   SEMA       a semaphore root (runtime/sema.c): readies under it.
 *   PDINIT     the poller's lazy start-up, which allocates descriptors.
 *   PD         a poll descriptor: readies under it.
 *   PDCACHE    the descriptor free list.
 *   SYSBATCH_*  the io_uring batcher's locks, held alone.
 *   SCHED      sched.lock: idle Ps and Ms, the global queue; gort_maxprocs
 *              moves a retired P's timers under it.
 *   TIMER      a runtime timer's mu (struct timer).
 *   TIMERS     a P's timer heap.
 *   ALLG       the list of all goroutines.
 *   STACK      the stack pool.
 *
 * A lock left at LOCKRANK_NONE (zeroed memory never given a rank) fails
 * its first acquire in the debug build, so every new lock is ranked.
 * Without GORT_LOCKRANK everything here compiles to nothing.
 */
#ifndef GORT_LOCKRANK_H
#define GORT_LOCKRANK_H

#include <stdbool.h>
#include <stdint.h>

enum lockrank {
    LOCKRANK_NONE,
    LOCKRANK_CTX,
    LOCKRANK_TIMECHAN,
    LOCKRANK_CHAN,
    LOCKRANK_POOL,
    LOCKRANK_SEMA,
    LOCKRANK_PDINIT,
    LOCKRANK_PD,
    LOCKRANK_PDCACHE,
    LOCKRANK_SYSBATCH_ENTER,
    LOCKRANK_SYSBATCH_SQ,
    LOCKRANK_SCHED,
    LOCKRANK_TIMER,
    LOCKRANK_TIMERS,
    LOCKRANK_ALLG,
    LOCKRANK_STACK,
    LOCKRANK_COUNT
};

#ifndef GORT_LOCKRANK
#define GORT_LOCKRANK 0
#endif

#if GORT_LOCKRANK
/* gort__lockrank_acquire checks that a lock of rank r at address l may be
 * taken now (trylock: it is taken, record it only) and records it. */
__attribute__((visibility("hidden"))) void gort__lockrank_acquire(
    const void *l, uint32_t rank, bool trylock);
/* gort__lockrank_release forgets l, of rank r; this thread must hold it. */
__attribute__((visibility("hidden"))) void gort__lockrank_release(
    const void *l, uint32_t rank);
/* gort__lockrank_assert_held throws unless this thread holds l: what a
 * "Caller holds X" comment says, checked. */
__attribute__((visibility("hidden"))) void gort__lockrank_assert_held(
    const void *l, const char *what);
/* gort__lockrank_assert_chan throws unless this thread holds a channel
 * lock and the channel lock at l is held. */
__attribute__((visibility("hidden"))) void gort__lockrank_assert_chan(
    const _Atomic uint32_t *key, const char *what);
/* gort__lockrank_assert_below throws if this thread holds any lock of rank
 * r or above ("call with no timer lock held"). */
__attribute__((visibility("hidden"))) void gort__lockrank_assert_below(
    uint32_t rank, const char *what);
#define LOCKRANK_ACQUIRE(l, r, try) gort__lockrank_acquire((l), (r), (try))
#define LOCKRANK_RELEASE(l, r) gort__lockrank_release((l), (r))
#define ASSERT_HELD(l) gort__lockrank_assert_held((l), #l)
#define ASSERT_CHAN_HELD(c) gort__lockrank_assert_chan(&(c)->lock.key, #c)
#define ASSERT_BELOW(r) gort__lockrank_assert_below((r), #r)
#else
#define LOCKRANK_ACQUIRE(l, r, try) ((void)0)
#define LOCKRANK_RELEASE(l, r) ((void)0)
#define ASSERT_HELD(l) ((void)0)
#define ASSERT_CHAN_HELD(c) ((void)0)
#define ASSERT_BELOW(r) ((void)0)
#endif

#endif /* GORT_LOCKRANK_H */
