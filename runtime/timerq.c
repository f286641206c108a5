/*
 * timerq.c: a P's timer queue: the 4-ary min-heap of timer entries and,
 * beside it, the in-order queue of tagged entries armed in due order (Go:
 * the heap of runtime/time.go; the in-order queue is gort's).
 *
 * Invariants (caller holds ts->lock for everything here):
 *  - ts->whens[0..len) is a 4-ary min-heap (parent (i-1)/4, children
 *    4i+1..4i+4); ts->heap[i] is the entry due at ts->whens[i], and an
 *    untagged entry's timer has idx == i.
 *  - ts->fifo holds tagged entries only, in nondecreasing when order.
 *  - An entry's timer (a sleeper has none) has t->ts == ts while the
 *    entry is on either structure, NULL once it is taken off, and t->when
 *    == its due time; heap sifts never write a tagged entry's timer.
 *
 * The in-order queue. Goroutines sleeping for the same duration on one P
 * are armed in nondecreasing `when` order, and so are gort_after timers
 * of one duration. A tagged entry due no earlier than the in-order
 * queue's tail goes to that FIFO ring beside the heap, at O(1) on both
 * ends, instead of paying a sift on each end (a sift down per firing cost
 * a tenth of the sleep benchmark at 1 P). Untagged timers, which Stop and
 * Reset must find by index, and tagged ones armed out of order go to the
 * heap. The next due entry is the earlier of the two heads.
 *
 * See also: runtime/timerq.h (entries), runtime/timer.c (arming and
 * firing), docs/time.md.
 */
#include <stdlib.h>

#include "ring.h"
#include "runtime.h"
#include "timerq.h"

/* heap_set stores entry e (due at when) at slot i. */
static inline void heap_set(struct timers *ts, size_t i, uintptr_t e,
                            int64_t when)
{
    ts->heap[i] = e;
    ts->whens[i] = when;
    if (!(e & E_TAGS))
        entry_timer(e)->idx = (int32_t)i;
}

static void sift_up(struct timers *ts, size_t i)
{
    uintptr_t e = ts->heap[i];
    int64_t when = ts->whens[i];
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (when >= ts->whens[parent])
            break;
        heap_set(ts, i, ts->heap[parent], ts->whens[parent]);
        i = parent;
    }
    heap_set(ts, i, e, when);
}

static void sift_down(struct timers *ts, size_t i)
{
    size_t n = ts->len;
    uintptr_t e = ts->heap[i];
    int64_t when = ts->whens[i];
    for (;;) {
        size_t c = 4 * i + 1;
        if (c >= n)
            break;
        size_t end = c + 4 < n ? c + 4 : n, best = c;
        int64_t bw = ts->whens[c];
        for (size_t k = c + 1; k < end; k++) {
            if (ts->whens[k] < bw) {
                best = k;
                bw = ts->whens[k];
            }
        }
        if (bw >= when)
            break;
        heap_set(ts, i, ts->heap[best], bw);
        i = best;
    }
    heap_set(ts, i, e, when);
}

/* gort__tq_heap_fix restores the heap order around slot i after whens[i]
 * changed. */
void gort__tq_heap_fix(struct timers *ts, size_t i)
{
    if (i > 0 && ts->whens[i] < ts->whens[(i - 1) / 4])
        sift_up(ts, i);
    else
        sift_down(ts, i);
}

static void heap_grow(struct timers *ts)
{
    uint32_t cap = ts->cap ? ts->cap * 2 : 64;
    uintptr_t *heap = realloc(ts->heap, cap * sizeof *heap);
    if (heap == NULL)
        gort__throw("out of memory allocating timer heap");
    ts->heap = heap;
    int64_t *whens = realloc(ts->whens, cap * sizeof *whens);
    if (whens == NULL)
        gort__throw("out of memory allocating timer heap");
    ts->whens = whens;
    ts->cap = cap;
}

/* placed tells the timer behind entry e (a sleeper has none) that it is
 * on ts, due at when. */
static inline void placed(uintptr_t e, struct timers *ts, int64_t when)
{
    if (!(e & E_SLEEPER)) {
        struct timer *t = entry_timer(e);
        t->when = when;
        /* store-release; pairs with the load-acquire in lock_heap_of. */
        __atomic_store_n(&t->ts, ts, __ATOMIC_RELEASE);
    }
}

/* removed tells the timer behind entry e that it is on no heap. */
static inline void removed(uintptr_t e)
{
    if (!(e & E_SLEEPER)) {
        struct timer *t = entry_timer(e);
        t->idx = -1;
        /* store-release; pairs with the load-acquire in lock_heap_of and
         * publishes the t->running increment of the firing path. */
        __atomic_store_n(&t->ts, NULL, __ATOMIC_RELEASE);
    }
}

/* gort__tq_heap_put puts entry e on ts's heap, due at when. */
void gort__tq_heap_put(struct timers *ts, uintptr_t e, int64_t when)
{
    if (ts->len == ts->cap)
        heap_grow(ts);
    size_t i = ts->len++;
    heap_set(ts, i, e, when);
    sift_up(ts, i);
    placed(e, ts, when);
}

/* gort__tq_heap_del takes the entry at slot i off ts's heap and returns it. */
uintptr_t gort__tq_heap_del(struct timers *ts, size_t i)
{
    uintptr_t e = ts->heap[i];
    size_t last = --ts->len;
    if (i != last) {
        heap_set(ts, i, ts->heap[last], ts->whens[last]);
        gort__tq_heap_fix(ts, i);
    }
    ts->heap[last] = 0;
    removed(e);
    return e;
}

static void fifo_grow(struct tfifo *q)
{
    uint32_t cap = q->cap ? q->cap * 2 : 64;
    q->slot = ring_regrow(q->slot, sizeof *q->slot, q->head, q->len, q->cap,
                          cap, "out of memory allocating timer queue");
    q->head = 0;
    q->cap = cap;
}

/* fifo_put appends tagged entry e, due at when, to ts's in-order queue if
 * that keeps it in order; false if it would not. */
static bool fifo_put(struct timers *ts, uintptr_t e, int64_t when)
{
    struct tfifo *q = &ts->fifo;
    if (q->len > 0 &&
        when < q->slot[(q->head + q->len - 1) & (q->cap - 1)].when)
        return false;
    if (q->len == q->cap)
        fifo_grow(q);
    q->slot[(q->head + q->len++) & (q->cap - 1)] =
        (struct tfifo_slot){when, e};
    placed(e, ts, when);
    return true;
}

uintptr_t gort__tq_fifo_pop(struct timers *ts)
{
    struct tfifo *q = &ts->fifo;
    uintptr_t e = q->slot[q->head].e;
    q->head = (q->head + 1) & (q->cap - 1);
    q->len--;
    removed(e);
    return e;
}

/* gort__tq_put_tagged puts tagged entry e on ts, due at when. */
void gort__tq_put_tagged(struct timers *ts, uintptr_t e, int64_t when)
{
    if (!fifo_put(ts, e, when))
        gort__tq_heap_put(ts, e, when);
}

/* gort__tq_free frees ts's arrays; entries still on them are abandoned. */
void gort__tq_free(struct timers *ts)
{
    free(ts->heap);
    free(ts->whens);
    free(ts->fifo.slot);
    ts->heap = NULL;
    ts->whens = NULL;
    ts->len = ts->cap = 0;
    ts->fifo = (struct tfifo){0};
}
