/*
 * select.c: select over several channel operations (Go: selectgo in
 * runtime/select.go).
 *
 * A select runs in three passes, all under the locks of every channel it
 * names, after a lock-free fast pass of gort's own (select_fast):
 *   0. in a random permutation of the cases (pollorder), peek at each case
 *      without locks and try the first that looks ready under its own
 *      channel lock alone;
 *   1. in pollorder, with every lock held, do the first case that can
 *      proceed;
 *   2. if none can and the select blocks, enqueue one sudog per case (on
 *      the caller's stack, chained from g->waiting in lock order, cases
 *      on one channel in poll order) and park;
 *      the channel locks are dropped by selparkcommit once the goroutine
 *      is off its stack;
 *   3. when woken, relock everything, take the winning sudog from
 *      g->param and unlink the others from their queues.
 *
 * Invariants:
 *  - A parked select is woken exactly once: a waker must win the CAS of
 *    g->selectdone 0 -> 1 (in waitq_dequeue) before using a sudog of it;
 *    losers drop the sudog. selectdone is reset to 0 in pass 3, when no
 *    sudog of the goroutine is reachable by anyone else.
 *  - Between pass 2 and the end of pass 3, c->nselect counts this select
 *    on each channel it names, so freeing a channel a woken select still
 *    has to relock is deferred to that select (select_cleanup).
 *  - NULL channels appear in neither order: their cases are never ready.
 *
 * Locking: the channel locks of one select are taken in increasing
 * address order, each distinct channel once (sellock; a channel named by
 * several cases sits in adjacent slots of lockorder), and dropped in
 * reverse (selunlock), or in order by selparkcommit. This is the only place
 * that holds two channel locks, so address order is the whole rule.
 *
 * See also: chan/chan.h, chan/chan.c, docs/channels.md, Go's
 * src/runtime/select.go.
 */
#include <errno.h>
#include <stdlib.h>

#include "chan.h"

/* Below this many cases the lock order is built by insertion sort; above
 * it, heap sort (Go always heap-sorts; insertion wins for the common
 * handful of cases and heap sort bounds the worst case). */
#define SELECT_INSERTION_SORT_MAX 16

static inline struct hchan *case_chan(const gort_select_case *cases,
                                      uint16_t i)
{
    return hchan_of(cases[i].c);
}

/* sellock locks every distinct channel of the cases, in lockorder (Go:
 * sellock), for a caller that holds P pp or none (chan_lock). */
static void sellock(const gort_select_case *cases, const uint16_t *lockorder,
                    int n, struct p *pp)
{
    struct hchan *last = NULL;
    for (int k = 0; k < n; k++) {
        struct hchan *c = case_chan(cases, lockorder[k]);
        if (c != last) {
            last = c;
            chan_lock(c, pp);
        }
    }
}

/* selunlock unlocks them in reverse order (Go: selunlock). */
static void selunlock(const gort_select_case *cases,
                      const uint16_t *lockorder, int n)
{
    for (int k = n - 1; k >= 0; k--) {
        struct hchan *c = case_chan(cases, lockorder[k]);
        if (k > 0 && c == case_chan(cases, lockorder[k - 1]))
            continue; /* unlock a channel once, at its first slot */
        chan_unlock(c);
    }
}

/*
 * selparkcommit drops the channel locks once the selecting goroutine is
 * off its stack (Go: selparkcommit). Runs on g0. As soon as a channel is
 * unlocked a waker may complete one of our sudogs and ready gp, which then
 * blocks in sellock on the channels still held here; so each sudog is read
 * only while its channel is still locked, and a channel is unlocked only
 * after its last sudog was passed.
 */
static bool selparkcommit(struct g *gp, void *arg)
{
    (void)arg;
    struct hchan *lastc = NULL;
    for (struct sudog *sg = gp->waiting; sg != NULL; sg = sg->waitlink) {
        if (sg->c != lastc && lastc != NULL)
            chan_unlock(lastc);
        lastc = sg->c;
    }
    if (lastc != NULL)
        chan_unlock(lastc);
    return true;
}

static inline bool chan_less(const gort_select_case *cases, uint16_t a,
                             uint16_t b)
{
    return (uintptr_t)cases[a].c < (uintptr_t)cases[b].c;
}

/* heap_sift moves entry k down the max-heap order[0..n). */
static void heap_sift(const gort_select_case *cases, uint16_t *order, int k,
                      int n)
{
    uint16_t v = order[k];
    for (;;) {
        int j = 2 * k + 1;
        if (j >= n)
            break;
        if (j + 1 < n && chan_less(cases, order[j], order[j + 1]))
            j++;
        if (!chan_less(cases, v, order[j]))
            break;
        order[k] = order[j];
        k = j;
    }
    order[k] = v;
}

/*
 * sort_lockorder fills lockorder with the cases of non-NULL channels,
 * sorted by channel address (Go: the heap sort in selectgo), and returns
 * their count. It sorts the cases in their given order, not the random
 * poll order, so a select in a loop presents the same input each time and
 * the branches of the small insertion sort predict well.
 */
static int sort_lockorder(const gort_select_case *cases, int n,
                          uint16_t *lockorder)
{
    int m = 0;
    if (n <= SELECT_INSERTION_SORT_MAX) {
        for (int i = 0; i < n; i++) {
            if (cases[i].c == NULL)
                continue;
            int j = m++;
            for (; j > 0 && chan_less(cases, (uint16_t)i, lockorder[j - 1]);
                 j--)
                lockorder[j] = lockorder[j - 1];
            lockorder[j] = (uint16_t)i;
        }
        return m;
    }
    for (int i = 0; i < n; i++)
        if (cases[i].c != NULL)
            lockorder[m++] = (uint16_t)i;
    for (int k = m / 2 - 1; k >= 0; k--)
        heap_sift(cases, lockorder, k, m);
    for (int end = m - 1; end > 0; end--) {
        uint16_t top = lockorder[0];
        lockorder[0] = lockorder[end];
        lockorder[end] = top;
        heap_sift(cases, lockorder, 0, end);
    }
    return m;
}

/*
 * order_runs_by_poll puts the cases that share a channel (adjacent slots of
 * lockorder, in case order after sort_lockorder) in pollorder instead. Go
 * builds its lock order from the random poll order, and a blocked select
 * enqueues its waiters in lock order, so a peer that takes the first
 * waiter of a channel picks among several cases on that channel at random
 * (Go's TestPseudoRandomSend). Only a select about to block needs it: the
 * order inside a run changes nothing for locking. Cost: one comparison per
 * case, and a scan of pollorder per channel named twice.
 */
static void order_runs_by_poll(const gort_select_case *cases,
                               const uint16_t *pollorder, uint16_t *lockorder,
                               int n)
{
    for (int k = 0; k + 1 < n; k++) {
        gort_chan *c = cases[lockorder[k]].c;
        if (cases[lockorder[k + 1]].c != c)
            continue;
        int w = k; /* the run holds every case on c: lockorder is sorted */
        for (int j = 0; j < n; j++)
            if (cases[pollorder[j]].c == c)
                lockorder[w++] = pollorder[j];
        k = w - 1;
    }
}

/* set_ok reports a receive's outcome through the case's ok pointer. */
static inline void set_ok(gort_select_case *cas, bool ok)
{
    if (cas->dir == GORT_SELECT_RECV && cas->ok != NULL)
        *cas->ok = ok;
}

/*
 * select_cleanup is pass 3: with every channel locked again, find the
 * winning case, unlink the other sudogs, and drop this select's count on
 * each channel. Returns the winning case index; *success is the winner's
 * outcome. Channels whose last reference went while we were parked are
 * marked in their first sudog's releasechan, to free after unlocking.
 */
static int select_cleanup(struct g *gp, gort_select_case *cases,
                          const uint16_t *lockorder, int n,
                          struct sudog *sgs, bool *success)
{
    /* Nobody can reach our sudogs now: reset the wake-once flag. store
     * relaxed; the channel locks we hold order it before any new CAS. */
    atomic_store_explicit(&gp->selectdone, 0, memory_order_relaxed);
    struct sudog *win = gp->param;
    gp->param = NULL;
    gp->waiting = NULL;
    int casi = -1;
    struct hchan *last = NULL;
    for (int k = 0; k < n; k++) {
        struct sudog *sg = &sgs[k];
        struct hchan *c = sg->c;
        if (c != last) {
            last = c;
            sg->releasechan = --c->nselect == 0 && c->freed;
        }
        if (sg == win) {
            casi = lockorder[k];
            *success = sg->success;
            continue;
        }
        struct waitq *q =
            cases[lockorder[k]].dir == GORT_SELECT_SEND ? &c->sendq
                                                        : &c->recvq;
        waitq_remove(q, sg);
    }
    if (casi < 0)
        gort__throw("gort_select: woken without a winning case");
    return casi;
}

/*
 * select_wait is passes 2 and 3 with the sudogs at sgs (n of them, one per
 * entry of lockorder). Caller holds every channel lock; they are released.
 */
static int select_wait(struct g *gp, gort_select_case *cases,
                       const uint16_t *lockorder, int n, struct sudog *sgs)
{
    atomic_store_explicit(&gp->selectdone, 0, memory_order_relaxed);
    struct hchan *last = NULL;
    for (int k = 0; k < n; k++) {
        gort_select_case *cas = &cases[lockorder[k]];
        struct hchan *c = hchan_of(cas->c);
        struct sudog *sg = &sgs[k];
        *sg = (struct sudog){.g = gp, .elem = cas->elem, .c = c,
                             .isselect = true,
                             .waitlink = k + 1 < n ? &sgs[k + 1] : NULL};
        if (c != last) {
            last = c;
            c->nselect++;
        }
        waitq_enqueue(cas->dir == GORT_SELECT_SEND ? &c->sendq : &c->recvq,
                      sg);
    }
    gp->waiting = n > 0 ? &sgs[0] : NULL;
    gp->param = NULL;
    gort__park_g(gp, selparkcommit, NULL, WAIT_SELECT);

    sellock(cases, lockorder, n, chan_caller_p(gp)); /* maybe a new M */
    bool success = false;
    int casi = select_cleanup(gp, cases, lockorder, n, sgs, &success);
    selunlock(cases, lockorder, n);
    for (int k = 0; k < n; k++)
        if (sgs[k].releasechan)
            gort__chan_destroy(sgs[k].c);

    gort_select_case *cas = &cases[casi];
    if (cas->dir == GORT_SELECT_SEND && !success)
        gort__panic("send on closed channel");
    set_ok(cas, success);
    return casi;
}

/* select_park needs a goroutine and room for n sudogs: on the stack up to
 * GORT_SELECT_STACK_CASES, else from malloc for the time it blocks. Out of
 * line so the frame exists only when a select blocks. */
__attribute__((noinline)) static int select_park(struct g *gp,
                                                 gort_select_case *cases,
                                                 const uint16_t *lockorder,
                                                 int n)
{
    if (gp == NULL) {
        selunlock(cases, lockorder, n);
        gort__throw("gort_select: blocking select outside a goroutine");
    }
    if (n <= GORT_SELECT_STACK_CASES) {
        struct sudog sgs[GORT_SELECT_STACK_CASES];
        return select_wait(gp, cases, lockorder, n, sgs);
    }
    struct sudog *sgs = malloc((size_t)n * sizeof *sgs);
    if (sgs == NULL) {
        selunlock(cases, lockorder, n);
        return -ENOMEM;
    }
    int casi = select_wait(gp, cases, lockorder, n, sgs);
    free(sgs);
    return casi;
}

/* Outcomes of case_poll. */
enum { CASE_NOT_READY, CASE_DONE, CASE_SEND_CLOSED };

/*
 * case_poll performs cas if it can proceed now (Go: the body of pass 1).
 * Caller holds the case's channel lock and keeps it: on CASE_DONE it must
 * drop its locks and then gort__ready(*peer) if that is not NULL, and set
 * the case's ok from *ok. CASE_SEND_CLOSED: a send case on a closed
 * channel, which panics once the locks are dropped.
 */
static inline int case_poll(gort_select_case *cas, struct g **peer, bool *ok)
{
    ASSERT_CHAN_HELD(hchan_of(cas->c));
    struct hchan *c = hchan_of(cas->c);
    struct sudog *sg;
    *peer = NULL;
    *ok = true;
    if (cas->dir == GORT_SELECT_RECV) {
        if ((sg = waitq_dequeue(&c->sendq)) != NULL)
            *peer = chan_recv_from(c, sg, cas->elem);
        else if (chan_qcount(c) > 0)
            chan_buf_get(c, cas->elem);
        else if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
            chan_elem_zero(c, cas->elem);
            *ok = false;
        } else
            return CASE_NOT_READY;
        return CASE_DONE;
    }
    if (atomic_load_explicit(&c->closed, memory_order_relaxed))
        return CASE_SEND_CLOSED;
    if ((sg = waitq_dequeue(&c->recvq)) != NULL)
        *peer = chan_send_to(c, sg, cas->elem);
    else if (chan_qcount(c) < c->dataqsiz)
        chan_buf_put(c, cas->elem);
    else
        return CASE_NOT_READY;
    return CASE_DONE;
}

/* case_finish completes a case that case_poll performed, after the locks
 * were dropped. Returns i. */
static int case_finish(gort_select_case *cas, int i, struct g *peer,
                       bool ok)
{
    if (peer != NULL)
        gort__ready(peer);
    set_ok(cas, ok);
    return i;
}

/* case_looks_ready is the lock-free peek of the fast pass: the case can
 * probably proceed now (or panic, for a send on a closed channel). */
static inline bool case_looks_ready(const gort_select_case *cas)
{
    struct hchan *c = hchan_of(cas->c);
    if (atomic_load_explicit(&c->closed, memory_order_acquire) != 0)
        return true;
    if (cas->dir == GORT_SELECT_RECV)
        return !chan_recv_would_block(c);
    return !chan_send_would_block(c);
}

/*
 * select_fast is an accelerated pass 1, gort's addition to selectgo: in
 * poll order, peek at each case without locks and try the first one that
 * looks ready under its own channel lock only. When a case is ready this
 * takes one lock instead of one per channel. The answer is one Go's pass 1
 * could give: the cases before it were seen not ready, and the order is
 * the same uniform permutation. It never decides "nothing is ready":
 * that needs pass 1 under all locks, so the answer is atomic.
 * Returns the case done, or -1.
 */
static int select_fast(gort_select_case *cases, const uint16_t *pollorder,
                       int n, struct p *pp)
{
    for (int k = 0; k < n; k++) {
        int i = pollorder[k];
        gort_select_case *cas = &cases[i];
        if (!case_looks_ready(cas))
            continue;
        struct hchan *c = hchan_of(cas->c);
        struct g *peer;
        bool ok;
        chan_lock(c, pp);
        int r = case_poll(cas, &peer, &ok);
        chan_unlock(c);
        if (r == CASE_DONE)
            return case_finish(cas, i, peer, ok);
        if (r == CASE_SEND_CLOSED)
            gort__panic("send on closed channel");
    }
    return -1;
}

/*
 * select_poll is pass 1: with all channels locked, try the cases in
 * pollorder. Returns the case done (locks released), or -1 with the locks
 * still held.
 */
static int select_poll(gort_select_case *cases, const uint16_t *pollorder,
                       const uint16_t *lockorder, int n)
{
    for (int k = 0; k < n; k++) {
        int i = pollorder[k];
        struct g *peer;
        bool ok;
        int r = case_poll(&cases[i], &peer, &ok);
        if (r == CASE_NOT_READY)
            continue;
        selunlock(cases, lockorder, n);
        if (r == CASE_SEND_CLOSED)
            gort__panic("send on closed channel");
        return case_finish(&cases[i], i, peer, ok);
    }
    return -1;
}

/*
 * select_run is selectgo proper, given scratch space for the two orders
 * (2 * n entries).
 */
static int select_run(struct g *gp, gort_select_case *cases, int n,
                      bool block, uint16_t *order)
{
    uint16_t *pollorder = order, *lockorder = order + n;
    /* pollorder: a uniform random permutation of the non-NULL cases
     * (inside-out Fisher-Yates, as Go). */
    int norder = 0;
    /* The draws come from one 64-bit word, each the high part of the
     * word times its range, the low part carrying the rest on (batched
     * bounded draws); a fresh word once the product of the ranges passed
     * 2^32, so every draw keeps 32 bits of entropy, as fastrandn does. */
    uint64_t rnd = 0, span = UINT64_MAX;
    for (int i = 0; i < n; i++) {
        if (cases[i].c == NULL)
            continue;
        uint64_t range = (uint64_t)norder + 1;
        if (span > ((uint64_t)1 << 32) / range) {
            rnd = gort__fastrand64();
            span = 1;
        }
        __uint128_t prod = (__uint128_t)rnd * range;
        uint32_t j = (uint32_t)(prod >> 64);
        rnd = (uint64_t)prod;
        span *= range;
        pollorder[norder] = pollorder[j];
        pollorder[j] = (uint16_t)i;
        norder++;
    }
    struct p *pp = chan_caller_p(gp);
    int casi = select_fast(cases, pollorder, norder, pp);
    if (casi >= 0)
        return casi;
    sort_lockorder(cases, n, lockorder);

    sellock(cases, lockorder, norder, pp);
    casi = select_poll(cases, pollorder, lockorder, norder);
    if (casi >= 0)
        return casi;
    if (!block) {
        selunlock(cases, lockorder, norder);
        return GORT_SELECT_DEFAULT;
    }
    order_runs_by_poll(cases, pollorder, lockorder, norder);
    return select_park(gp, cases, lockorder, norder);
}

/* select_one is the one-case select without the machinery (Go's compiler
 * turns it into a plain send or receive). */
static int select_one(gort_select_case *cas, bool block)
{
    bool ok = true;
    bool done;
    if (cas->dir == GORT_SELECT_SEND)
        done = gort__chan_send(hchan_of(cas->c), cas->elem, block);
    else
        done = gort__chan_recv(hchan_of(cas->c), cas->elem, block, &ok);
    if (!done)
        return GORT_SELECT_DEFAULT;
    set_ok(cas, ok);
    return 0;
}

static int selectgo(gort_select_case *cases, int n, bool block)
{
    if (n < 0 || n > GORT_SELECT_MAX || (n > 0 && cases == NULL))
        return -EINVAL;
    for (int i = 0; i < n; i++)
        if (cases[i].dir != GORT_SELECT_SEND &&
            cases[i].dir != GORT_SELECT_RECV)
            return -EINVAL;
    if (n == 0) {
        if (!block)
            return GORT_SELECT_DEFAULT;
        if (gort__getg() == NULL)
            gort__throw("gort_select: empty select outside a goroutine "
                        "blocks forever");
        gort__park(NULL, NULL, WAIT_SELECT_NO_CASES);
        gort__throw("gort: goroutine blocked forever was woken");
    }
    if (n == 1)
        return select_one(cases, block);
    /* Every select is a preemption point; a blocking one keeps gp for
     * parking (NULL outside a goroutine). */
    struct g *gp = NULL;
    if (block) {
        gp = gort__getg();
        gort__maybe_preempt(gp);
    } else {
        gort__preempt_point(); /* one load: no TLS read on this path */
    }
    if (n <= GORT_SELECT_STACK_CASES) {
        uint16_t order[2 * GORT_SELECT_STACK_CASES];
        return select_run(gp, cases, n, block, order);
    }
    uint16_t *order = malloc(2 * (size_t)n * sizeof *order);
    if (order == NULL)
        return -ENOMEM;
    int casi = select_run(gp, cases, n, block, order);
    free(order);
    return casi;
}

int gort_select(gort_select_case *cases, int n)
{
    RT_ENTRY();
    return selectgo(cases, n, true);
}

int gort_select_try(gort_select_case *cases, int n)
{
    RT_ENTRY();
    return selectgo(cases, n, false);
}
