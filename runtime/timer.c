/*
 * timer.c: arming, stopping and firing runtime timers on per-P timer
 * queues (a 4-ary heap and an in-order queue each: timerq.c), run by the
 * scheduler (Go: runtime/time.go).
 *
 * Invariants:
 *  - t is on heap ts iff t->ts == ts; then ts->whens[t->idx] == t->when
 *    and ts->heap[t->idx] == t, except that a TIMER_HANDOFF timer's entry
 *    is tagged (E_HANDOFF) and its idx not kept. A timer is on one heap at
 *    most. A sleeping goroutine is an entry of its own (E_SLEEPER, the G
 *    itself, no struct timer): on one heap from gort__timers_sleep until
 *    it fires, which readies it.
 *  - ts->minwhen == the earlier of the heap's and the in-order queue's
 *    heads, or 0 when both are empty. "On heap ts" below means on either
 *    of them (timerq.c).
 *  - Only a caller holding t->mu inserts t (gort__timer_reset), except
 *    that the firing path re-inserts a periodic timer it popped without
 *    ever releasing the heap lock in between, gort__timers_move moves it
 *    under both heap locks, and the owner of a TIMER_HANDOFF timer arms
 *    it without t->mu (nobody else can name it: arm_handoff). So a
 *    modifier that finds t->ts == NULL under t->mu knows t stays off
 *    every heap until it adds it.
 *  - Removal is eager (Stop/Reset take t off its heap at once): simpler
 *    than Go's lazy timerZombie/timerModified marks, and still O(log n).
 *  - The firing path copies f, arg and seq under the heap lock, counts
 *    itself in t->running (unless TIMER_HANDOFF), releases the lock, and
 *    calls f. After f it touches t only to drop t->running. Due tagged
 *    entries (handoff timers, sleepers) at the head are popped in batches
 *    of up to FIRE_BATCH under one hold of the lock (fire_batch).
 *  - minwhen is republished only when the minimum changed.
 *
 * Locking: t->mu, then a heap lock (ts->lock); a TIMER_HANDOFF timer and
 * a sleeper are armed under the heap lock alone (arm_handoff,
 * gort__timers_sleep), and the arming code must not touch them once that
 * lock is free. The firing path never takes
 * t->mu: it runs with only the heap lock and calls f with no lock held, so
 * the two orders cannot cross. Two heap locks are held together only by
 * gort__timers_move, in address order. timers_next/_pending read minwhen
 * atomically and take no lock.
 *
 * See also: runtime/timer.h (contract), runtime/timerq.c (the queues),
 * runtime/time.c (sleep), chan/timechan.c (timers with channels or
 * functions), docs/time.md, Go's runtime/time.go.
 */
#include <stdlib.h>

#include "runtime.h"
#include "timerq.h"
#include "trace.h"

#define MAX_WHEN INT64_MAX

/* gort__timers_move in progress: timers may be seen on neither heap by a
 * lock-free reader, so gort__timers_pending answers true meanwhile. */
static _Atomic int32_t moving;

/* publish stores the heap's minimum for lock-free readers. seq_cst: the
 * scheduler stores sched.polluntil then reads minwhen, we store minwhen
 * then read polluntil (gort__sched_timer_added): a Dekker pair. */
static void publish(struct timers *ts)
{
    atomic_store(&ts->minwhen, ts_next(ts));
}

/* publish_if_moved publishes ts's minimum if it differs from the one
 * published: a seq_cst store is a locked instruction, and most adds land
 * below the root. Caller holds ts->lock, under which alone minwhen is
 * written, so the relaxed load reads the current value. */
static void publish_if_moved(struct timers *ts)
{
    ASSERT_HELD(&ts->lock);
    if (ts_next(ts) !=
        atomic_load_explicit(&ts->minwhen, memory_order_relaxed))
        publish(ts);
}

/* ---- Heaps -------------------------------------------------------------- */

void gort__timers_init(struct timers *ts, struct p *pp)
{
    gort__lock_init(&ts->lock, LOCKRANK_TIMERS);
    ts->heap = NULL;
    ts->whens = NULL;
    ts->len = ts->cap = 0;
    ts->fifo = (struct tfifo){0};
    atomic_store(&ts->minwhen, 0);
    ts->pp = pp;
    ts->closed = false;
}

/* gort__timers_destroy frees the heap. Timers still on it are abandoned
 * with it, as goroutines are when gort_run ends: they are not touched (a
 * gort_after timer's memory may be gone already). */
void gort__timers_destroy(struct timers *ts)
{
    gort__lock(&ts->lock);
    gort__tq_free(ts);
    atomic_store(&ts->minwhen, 0);
    gort__unlock(&ts->lock);
}

/* run_head fires the timer at the top of ts, which is due at or before now.
 * Caller holds ts->lock; it is released around the callback and held again
 * on return. */
static void run_head(struct timers *ts, int64_t now)
{
    ASSERT_HELD(&ts->lock);
    struct timer *t = entry_timer(ts->heap[0]);
    int64_t when = ts->whens[0];
    void (*f)(void *, uintptr_t, int64_t) = t->f;
    void *arg = t->arg;
    uintptr_t seq = t->seq;
    bool handoff = (t->state & TIMER_HANDOFF) != 0;
    int64_t delay = now - when; /* >= 0; now may be stale, see timer.h */

    /* Count ourselves before t can be seen off the heap (see heap_del);
     * relaxed: published by the release store of t->ts or ts->lock. */
    if (!handoff)
        atomic_fetch_add_explicit(&t->running, 1, memory_order_relaxed);
    if (t->period > 0) {
        /* Skip missed periods as Go does: the next when is > now. */
        int64_t n = 1 + delay / t->period, next = MAX_WHEN;
        if (n <= (MAX_WHEN - when) / t->period)
            next = when + t->period * n;
        t->when = next;
        ts->whens[0] = next;
        gort__tq_heap_fix(ts, 0);
    } else {
        gort__tq_heap_del(ts, 0);
    }
    publish(ts);
    /* The next head is likely due too: start pulling its cold timer (for
     * a sleeper, a line of a parked goroutine's stack) in while f runs. */
    if (ts->len > 0)
        __builtin_prefetch(entry_timer(ts->heap[0]), 1);
    gort__unlock(&ts->lock);

    TRACE(TEV_TIMER, 0, (uintptr_t)t, delay);
    f(arg, seq, when);

    /* store-release; pairs with the load-acquire in gort__timer_wait. */
    if (!handoff)
        atomic_fetch_sub_explicit(&t->running, 1, memory_order_release);
    gort__lock(&ts->lock);
}

/* FIRE_BATCH bounds the tagged entries popped under one hold of the heap
 * lock; their copies live on the scheduler's stack. */
enum { FIRE_BATCH = 32 };

struct firing {
    uintptr_t e;
    int64_t when;
    void (*f)(void *, uintptr_t, int64_t); /* E_HANDOFF: t's callback */
    void *arg;
};

/* fire_batch pops the due tagged entries at the heads of ts (up to
 * FIRE_BATCH; the earlier head is one), then fires them with the lock
 * dropped: one lock round trip and one publish for the batch instead of
 * one per entry, which is what a crowd of sleepers waking at once costs.
 * Each popped sleeper's descriptor, then its stack's top line, is
 * prefetched, so the cache misses of the batch overlap instead of
 * queueing behind each other in gort__ready and the switches that follow.
 * Caller holds ts->lock; it is released around the firings and held on
 * return. */
static void fire_batch(struct timers *ts, int64_t now)
{
    ASSERT_HELD(&ts->lock);
    struct firing batch[FIRE_BATCH];
    int n = 0;
    enum due src = due_head(ts, now);
    do {
        struct firing *fi = &batch[n++];
        if (src == DUE_FIFO) {
            fi->when = fifo_min(ts);
            fi->e = gort__tq_fifo_pop(ts);
        } else {
            fi->when = ts->whens[0];
            fi->e = gort__tq_heap_del(ts, 0);
        }
        if (fi->e & E_SLEEPER) {
            __builtin_prefetch(entry_g(fi->e), 1);
        } else {
            fi->f = entry_timer(fi->e)->f;
            fi->arg = entry_timer(fi->e)->arg;
        }
        src = due_head(ts, now);
    } while (n < FIRE_BATCH && (src == DUE_FIFO || src == DUE_HEAP_TAGGED));
    publish_if_moved(ts);
    gort__unlock(&ts->lock);
    /* A second pass, once the descriptors are (nearly) in: pull in the
     * line each sleeper will resume from (its saved registers), which the
     * switch into it would otherwise miss on, one goroutine at a time. */
    for (int i = 0; i < n; i++) {
        if (batch[i].e & E_SLEEPER)
            __builtin_prefetch(entry_g(batch[i].e)->ctx.sp);
    }
    for (int i = 0; i < n; i++) {
        if (TRACE_ON()) /* the object: the sleeper's G or the timer */
            gort__trace_ev(TEV_TIMER, 0,
                           batch[i].e & E_SLEEPER
                               ? (uintptr_t)entry_g(batch[i].e)
                               : (uintptr_t)entry_timer(batch[i].e),
                           (uint64_t)(now - batch[i].when));
        if (batch[i].e & E_SLEEPER)
            gort__ready(entry_g(batch[i].e));
        else
            batch[i].f(batch[i].arg, 0, batch[i].when); /* seq unused */
    }
    gort__lock(&ts->lock);
}

int64_t gort__timers_check(struct timers *ts, int64_t now)
{
    /* load-acquire; a stale value only delays firing to the next check. */
    int64_t next = atomic_load_explicit(&ts->minwhen, memory_order_acquire);
    if (next == 0)
        return 0;
    if (now <= 0)
        now = gort__nanotime();
    if (next > now)
        return next;
    gort__lock(&ts->lock);
    for (enum due src; (src = due_head(ts, now)) != DUE_NONE;) {
        if (src == DUE_HEAP_TIMER)
            run_head(ts, now);
        else
            fire_batch(ts, now);
    }
    next = ts_next(ts);
    gort__unlock(&ts->lock);
    return next;
}

/* live_procs returns how many allp entries are live (GOMAXPROCS). */
static int32_t live_procs(void)
{
    int32_t n = atomic_load(&gort__sched.gomaxprocs);
    return n > GORT_MAXPROCS_LIMIT ? GORT_MAXPROCS_LIMIT : n;
}

/* allp_get reads allp[i]; relaxed atomic because gort_maxprocs may be
 * publishing it (the P is initialised before gomaxprocs covers it). */
static struct p *allp_get(int32_t i)
{
    return __atomic_load_n(&gort__sched.allp[i], __ATOMIC_ACQUIRE);
}

int64_t gort__timers_next(void)
{
    int64_t next = 0;
    for (int32_t i = 0, n = live_procs(); i < n; i++) {
        struct p *pp = allp_get(i);
        if (pp == NULL)
            continue;
        int64_t w = atomic_load(&pp->timers.minwhen); /* pairs: publish */
        if (w != 0 && (next == 0 || w < next))
            next = w;
    }
    return next;
}

bool gort__timers_pending(void)
{
    if (atomic_load(&moving) > 0)
        return true;
    for (int32_t i = 0, n = live_procs(); i < n; i++) {
        struct p *pp = allp_get(i);
        if (pp != NULL && atomic_load(&pp->timers.minwhen) != 0)
            return true;
    }
    return false;
}

void gort__timers_move(struct timers *from, struct timers *to)
{
    ASSERT_BELOW(LOCKRANK_TIMER);
    if (from == to)
        return;
    atomic_fetch_add(&moving, 1);
    struct timers *a = from < to ? from : to, *b = from < to ? to : from;
    gort__lock(&a->lock);
    gort__lock(&b->lock);
    int64_t oldmin = ts_next(to);
    for (uint32_t i = 0; i < from->len; i++) {
        if (from->heap[i] & E_TAGS)
            gort__tq_put_tagged(to, from->heap[i], from->whens[i]);
        else
            gort__tq_heap_put(to, from->heap[i], from->whens[i]);
    }
    from->len = 0;
    while (from->fifo.len > 0) {
        int64_t when = fifo_min(from);
        gort__tq_put_tagged(to, gort__tq_fifo_pop(from), when);
    }
    from->closed = true;
    publish(to);
    publish(from);
    int64_t newmin = ts_next(to);
    gort__unlock(&b->lock);
    gort__unlock(&a->lock);
    atomic_fetch_sub(&moving, 1);
    /* The caller (gort__retire_p) holds sched.lock, so no wakep here: it
     * runs, and consults gort__timers_next before it sleeps. Only an M
     * already asleep until a later time must be woken (lock-free). */
    if (newmin != 0 && (oldmin == 0 || newmin < oldmin) &&
        atomic_load(&gort__sched.lastpoll) == 0) {
        int64_t until = atomic_load(&gort__sched.polluntil);
        if (until == 0 || until > newmin)
            gort__sched_poll_break();
    }
}

/* ---- Timers ------------------------------------------------------------- */

void gort__timer_init(struct timer *t, void (*f)(void *, uintptr_t, int64_t),
                      void *arg)
{
    t->when = 0;
    t->period = 0;
    t->f = f;
    t->arg = arg;
    t->seq = 0;
    gort__lock_init(&t->mu, LOCKRANK_TIMER);
    t->ts = NULL;
    t->idx = -1;
    t->state = 0;
    atomic_store_explicit(&t->running, 0, memory_order_relaxed);
}

void gort__timer_init_handoff(struct timer *t,
                              void (*f)(void *, uintptr_t, int64_t), void *arg)
{
    gort__timer_init(t, f, arg);
    t->state = TIMER_HANDOFF;
}

/* lock_heap_of returns the heap t is on, locked, or NULL if t is on none.
 * Caller holds t->mu, so t cannot be added meanwhile (see Invariants). */
static struct timers *lock_heap_of(struct timer *t)
{
    ASSERT_HELD(&t->mu);
    for (;;) {
        /* load-acquire; pairs with the store-release in heap_add/_del. */
        struct timers *ts = __atomic_load_n(&t->ts, __ATOMIC_ACQUIRE);
        if (ts == NULL)
            return NULL;
        gort__lock(&ts->lock);
        if (__atomic_load_n(&t->ts, __ATOMIC_RELAXED) == ts)
            return ts;
        gort__unlock(&ts->lock); /* moved or fired meanwhile: retry */
    }
}

/* heap_open reports whether adders may use ts; it reopens the heap of a P
 * that gort_maxprocs brought back. Caller holds ts->lock. */
static bool heap_open(struct timers *ts)
{
    ASSERT_HELD(&ts->lock);
    if (!ts->closed)
        return true;
    struct p *pp = ts->pp;
    if (pp == NULL || pp->id >= live_procs() ||
        atomic_load(&pp->status) == P_DEAD)
        return false;
    ts->closed = false;
    return true;
}

/* my_p returns the calling M's P, or NULL on a thread without one. */
static struct p *my_p(void)
{
    struct m *mp = gort__getm();
    return mp != NULL ? mp->p : NULL;
}

/* lock_local_heap returns the heap of pp (the caller's P; Go: acquirem +
 * pp.timers), locked and open; without a P, or if pp's heap is closed, the
 * first open heap among allp. */
static struct timers *lock_local_heap(struct p *pp)
{
    if (pp != NULL) {
        gort__lock(&pp->timers.lock);
        if (heap_open(&pp->timers))
            return &pp->timers;
        gort__unlock(&pp->timers.lock);
    }
    for (int32_t i = 0; i < live_procs(); i++) {
        if ((pp = allp_get(i)) == NULL)
            continue;
        gort__lock(&pp->timers.lock);
        if (heap_open(&pp->timers))
            return &pp->timers;
        gort__unlock(&pp->timers.lock);
    }
    gort__throw("timer armed outside gort_run");
}

/* push_local puts tagged entry e on the caller's heap, due at when. Only
 * its owner can name a TIMER_HANDOFF timer or a sleeper until it fires
 * (timer.h), so t->mu, which orders modifiers, has nobody to order: the
 * sleep path saves a lock round trip. The firing path takes it off again. */
static void push_local(uintptr_t e, int64_t when)
{
    struct timers *ts = lock_local_heap(my_p());
    int64_t oldmin = ts_next(ts);
    gort__tq_put_tagged(ts, e, when);
    publish_if_moved(ts);
    gort__unlock(&ts->lock); /* e may fire, and its owner go, from here */
    if (oldmin == 0 || when < oldmin)
        gort__sched_timer_added(when);
}

/* arm_handoff adds a TIMER_HANDOFF timer to the caller's heap. */
static void arm_handoff(struct timer *t, int64_t when, int64_t period,
                        uintptr_t seq)
{
    if (period > 0)
        gort__throw("timer_reset: periodic handoff timer");
    /* relaxed: only a broken owner could race with a firing here. */
    if (__atomic_load_n(&t->ts, __ATOMIC_RELAXED) != NULL)
        gort__throw("timer_reset: handoff timer is pending");
    t->period = 0;
    t->seq = seq;
    push_local(timer_entry(t), when);
}

void gort__timers_sleep(struct g *gp, int64_t when)
{
    if (when <= 0)
        when = 1; /* 0 means "not set" */
    push_local((uintptr_t)gp | E_SLEEPER, when);
}

bool gort__timer_reset(struct timer *t, int64_t when, int64_t period,
                       uintptr_t seq)
{
    if (when <= 0)
        when = 1; /* "0: not set"; any past when fires at the next check */
    if (period < 0)
        period = 0;
    if (t->state & TIMER_HANDOFF) {
        arm_handoff(t, when, period, seq);
        return false;
    }
    gort__lock(&t->mu);
    struct timers *old = lock_heap_of(t);
    bool pending = old != NULL;
    if (old != NULL)
        gort__tq_heap_del(old, (size_t)t->idx);
    t->period = period;
    t->seq = seq;
    struct p *pp = my_p();
    struct timers *ts = old;
    if (ts == NULL || (pp != NULL && pp != ts->pp) || !heap_open(ts)) {
        /* Not on our P's heap: put it there (Go: maybeAdd). */
        if (old != NULL) {
            publish(old);
            gort__unlock(&old->lock);
        }
        ts = lock_local_heap(pp);
    }
    int64_t oldmin = ts_next(ts);
    gort__tq_heap_put(ts, timer_entry(t), when);
    publish_if_moved(ts);
    /* t->mu first, in reverse order of taking: once ts->lock is free, t
     * may fire at once. */
    gort__unlock(&t->mu);
    gort__unlock(&ts->lock);
    if (oldmin == 0 || when < oldmin)
        gort__sched_timer_added(when);
    return pending;
}

bool gort__timer_stop(struct timer *t)
{
    gort__lock(&t->mu);
    struct timers *ts = lock_heap_of(t);
    if (ts != NULL && (t->state & TIMER_HANDOFF))
        gort__throw("timer_stop: handoff timer is pending");
    if (ts != NULL) {
        gort__tq_heap_del(ts, (size_t)t->idx);
        publish(ts);
        gort__unlock(&ts->lock);
    }
    gort__unlock(&t->mu);
    return ts != NULL;
}

void gort__timer_wait(struct timer *t)
{
    /* load-acquire; pairs with the release decrement in run_head, so
     * everything f did to t's owner happens before the caller frees it. */
    for (uint32_t spins = 0;
         atomic_load_explicit(&t->running, memory_order_acquire) != 0;
         spins++) {
        if (spins < 32)
            gort__procyield(30);
        else
            gort__osyield();
    }
}
