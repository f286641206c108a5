/*
 * stack.c: goroutine stacks. C cannot move a stack, so instead of Go's
 * copying stacks each goroutine gets a fixed virtual reservation (the
 * GORT_STACK_MAX maximum) whose pages the kernel commits only when touched:
 * a goroutine that used little stack costs about one page.
 *
 * Slots are carved from slabs of SLAB_SLOTS reservations (one mmap each,
 * so a million stacks cost ~16K mappings, well under vm.max_map_count).
 * Below every slot's usable range lies a guard region, installed with
 * MADV_GUARD_INSTALL where the kernel has it (no extra mapping), else with
 * mprotect (which splits the mapping, costing two map entries) within a
 * budget derived from vm.max_map_count, and past that a canary word that
 * the scheduler checks at every switch.
 *
 * Invariants:
 *  - Reservations held + free credit (global and per P) == slots in all
 *    slabs: every G that may run holds a reservation (gort__stack_reserve)
 *    before it is queued, so spawning fails with -ENOMEM, not starting. A
 *    start still maps a slab when the free stacks sit in other Ps' caches
 *    (carve); only an mmap failure there is fatal.
 *  - A stack is in exactly one place: attached to a G, in one P's cache, in
 *    the global pool, or in the hands of the gort__stack_alloc taking it.
 *    Pool entries below ncold are cold: their pages were returned with
 *    MADV_DONTNEED. Cache entries and stacks on a G are primed (guard
 *    installed, top page committed).
 * Locking: stk.lock (rank: after sched.lock) guards the pool, the slab
 * list and the global credit; per-P caches are owner-only. The system
 * calls that prime a stack run outside stk.lock (gort__stack_alloc): with
 * several Ps starting goroutines at once they would otherwise queue the
 * other Ps behind microseconds of kernel work.
 * See also: runtime/signal.c (overflow reports), docs/scheduler.md#stacks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime.h"
#include "stack.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(lo, hi) 0
#endif

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13; Debian 12's headers lack it */
#endif

enum {
    SLAB_SLOTS = 64,         /* reservations per mmap */
    CACHE_MAX = 64,          /* stacks per P cache */
    CREDIT_BATCH = 64,       /* reservations a P takes from the pool */
    POOL_WARM = 1024,        /* pooled stacks kept with their pages */
    MAP_RESERVE = 4096,      /* map entries left for everybody else */
};
#define STACK_MAX_DEFAULT (256u << 10)
#define STACK_MAX_MIN (16u << 10)
#define STACK_MAX_MAX (1ull << 30)
#define GUARD_BYTES (16u << 10)

struct stack_cache {
    uint32_t n;
    struct stack s[CACHE_MAX];
};

struct slab {
    struct slab *next;
    uintptr_t base;
};

static struct {
    struct lock lock;
    size_t slot;             /* guard + usable, page multiple */
    size_t pagesize;
    struct slab *slabs, *slabs_tail; /* in mapping order */
    struct slab *carve;      /* slab being carved */
    uint32_t carve_next;     /* next unused slot in it */
    uint64_t carved;         /* slots handed out of slabs, ever */
    uint64_t slots;          /* slots in all slabs */
    int64_t credit;          /* free reservations not held by any P */
    struct stack *pool;      /* LIFO; [0, ncold) are cold */
    size_t npool, cappool, ncold;
    size_t lowwater;         /* least npool since the last scavenge */
    bool madv_guard;         /* MADV_GUARD_INSTALL works here */
    uint64_t mprotect_budget;
    _Atomic uint32_t nmadvise, nmprotect, ncanary;
} stk = {.lock = LOCK_INIT(LOCKRANK_STACK)};

size_t gort__stack_cache_size(void)
{
    return sizeof(struct stack_cache);
}

static long read_max_map_count(void)
{
    long v = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 65530;
        fclose(f);
    }
    return v;
}

/* probe_guard checks once whether this kernel has MADV_GUARD_INSTALL. */
static bool probe_guard(void)
{
    size_t len = 2 * stk.pagesize;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return false;
    bool ok = madvise(p, stk.pagesize, MADV_GUARD_INSTALL) == 0;
    munmap(p, len);
    return ok;
}

int gort__parse_stack_max(const char *s, uint64_t *bytes)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10, end++;
    else if (*end == 'm' || *end == 'M')
        shift = 20, end++;
    else if (*end == 'g' || *end == 'G')
        shift = 30, end++;
    /* Check before shifting: a huge count must not wrap into range. */
    if (*end != '\0' || s[0] < '0' || s[0] > '9' ||
        v > (STACK_MAX_MAX >> shift) || (v << shift) < STACK_MAX_MIN)
        return -EINVAL;
    *bytes = v << shift;
    return 0;
}

int gort__stack_init(void)
{
    stk.pagesize = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t max = STACK_MAX_DEFAULT;
    const char *env = getenv("GORT_STACK_MAX");
    if (env && *env && gort__parse_stack_max(env, &max) != 0) {
        fprintf(stderr, "gort: GORT_STACK_MAX=%s: want bytes (or K/M/G "
                        "suffix) between 16K and 1G\n", env);
        return -EINVAL;
    }
    max = (max + stk.pagesize - 1) & ~(uint64_t)(stk.pagesize - 1);
    stk.slot = (size_t)max + GUARD_BYTES;
    stk.madv_guard = probe_guard();
    long maps = read_max_map_count();
    /* An mprotect guard turns one mapping into two more entries. */
    stk.mprotect_budget = maps > 2 * MAP_RESERVE
                              ? (uint64_t)(maps - MAP_RESERVE) / 2 : 0;
    /* GORT_STACK_GUARD=mprotect|canary forces a fallback, to test it or
     * to keep map entries for something else. */
    const char *g = getenv("GORT_STACK_GUARD");
    if (g && *g) {
        if (strcmp(g, "canary") == 0) {
            stk.madv_guard = false;
            stk.mprotect_budget = 0;
        } else if (strcmp(g, "mprotect") == 0) {
            stk.madv_guard = false;
        } else if (strcmp(g, "madvise") != 0) {
            fprintf(stderr, "gort: GORT_STACK_GUARD=%s: want madvise, "
                            "mprotect or canary\n", g);
            return -EINVAL;
        }
    }
    return 0;
}

void gort__stack_fini(void)
{
    gort__lock(&stk.lock);
    for (struct slab *s = stk.slabs, *next; s; s = next) {
        next = s->next;
        munmap((void *)s->base, SLAB_SLOTS * stk.slot);
        free(s);
    }
    stk.slabs = stk.slabs_tail = stk.carve = NULL;
    stk.carve_next = stk.carved = stk.slots = 0;
    stk.credit = 0;
    free(stk.pool);
    stk.pool = NULL;
    stk.npool = stk.cappool = stk.ncold = stk.lowwater = 0;
    atomic_store(&stk.nmadvise, 0);
    atomic_store(&stk.nmprotect, 0);
    atomic_store(&stk.ncanary, 0);
    gort__unlock(&stk.lock);
}

/* grow_slabs maps one more slab; its slots become free credit, which
 * keeps reservations + credit == slots. Caller holds stk.lock. */
static int grow_slabs(void)
{
    ASSERT_HELD(&stk.lock);
    struct slab *s = malloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    size_t len = SLAB_SLOTS * stk.slot;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        free(s);
        return -ENOMEM;
    }
    /* A huge page behind a stack would commit 2 MiB for one touched page. */
    madvise(p, len, MADV_NOHUGEPAGE);
    s->base = (uintptr_t)p;
    s->next = NULL;
    if (stk.slabs_tail)
        stk.slabs_tail->next = s;
    else
        stk.slabs = s;
    stk.slabs_tail = s;
    stk.slots += SLAB_SLOTS;
    stk.credit += SLAB_SLOTS;
    return 0;
}

/* install_guard protects the guard region of the slot at base and returns
 * how its overflow will be caught. Called without stk.lock: the budget
 * is claimed before the call and handed back if it fails. */
static uint32_t install_guard(uintptr_t base)
{
    if (stk.madv_guard &&
        madvise((void *)base, GUARD_BYTES, MADV_GUARD_INSTALL) == 0) {
        atomic_fetch_add(&stk.nmadvise, 1);
        return GUARD_MADVISE;
    }
    if (atomic_fetch_add(&stk.nmprotect, 1) < stk.mprotect_budget &&
        mprotect((void *)base, GUARD_BYTES, PROT_NONE) == 0)
        return GUARD_MPROTECT;
    atomic_fetch_sub(&stk.nmprotect, 1);
    atomic_fetch_add(&stk.ncanary, 1);
    return GUARD_CANARY;
}

/* populate_top commits the top page of a stack that has none, where the
 * goroutine's first frame goes. A page fault taken in a virtual machine
 * costs several times a system call that commits the same page (measured
 * here: ~50us against ~7us), and on bare metal the two cost about the
 * same. Kernels before 5.14 lack MADV_POPULATE_WRITE: then the first
 * write faults the page in as usual. */
static void populate_top(const struct stack *st)
{
    madvise((void *)(st->hi - stk.pagesize), stk.pagesize,
            MADV_POPULATE_WRITE);
}

/* carve claims a never-used slot; its guard and top page are set up by
 * prime, after stk.lock is dropped. Caller holds stk.lock.
 *
 * Every reservation has a slot behind it, but not always one the caller
 * can reach: a goroutine reserved on one P and started on another needs a
 * stack there, while the free stack that matches its claim may sit in a
 * third P's cache, which only its owner touches. So past the last slab
 * carve maps another, whose slots become free reservations; this happens
 * at most about once per CACHE_MAX stacks that the Ps' caches can hold. */
static void carve(struct stack *st)
{
    ASSERT_HELD(&stk.lock);
    if (!stk.carve || stk.carve_next == SLAB_SLOTS) {
        struct slab *next = stk.carve ? stk.carve->next : stk.slabs;
        if (!next) {
            if (grow_slabs() != 0)
                gort__throw("stack: out of memory mapping goroutine stacks");
            next = stk.slabs_tail;
        }
        stk.carve = next;
        stk.carve_next = 0;
    }
    uintptr_t base = stk.carve->base + (uintptr_t)stk.carve_next++ * stk.slot;
    stk.carved++;
    st->guard = GUARD_NONE;
    st->lo = base + GUARD_BYTES;
    st->hi = base + stk.slot;
}

/* prime readies a stack that has no pages: a freshly carved one (guard
 * still to install) or a cold one from the pool (scavenged). The system
 * calls it makes cost microseconds in a virtual machine, so they run
 * outside stk.lock, on a stack nobody else can reach yet. */
static void prime(struct stack *st)
{
    if (st->guard == GUARD_NONE) {
        st->guard = install_guard(st->lo - GUARD_BYTES);
        /* Tell valgrind this range is a stack, so switching onto it is
         * not taken for a wild stack-pointer change; a no-op outside
         * valgrind. */
        (void)VALGRIND_STACK_REGISTER(st->lo, st->hi);
    }
    populate_top(st);
}

int gort__stack_reserve(struct p *pp)
{
    if (pp && pp->stack_credit > 0) {
        pp->stack_credit--;
        return 0;
    }
    gort__lock(&stk.lock);
    int64_t want = pp ? CREDIT_BATCH : 1;
    while (stk.credit < want) {
        if (grow_slabs() != 0) {
            if (stk.credit == 0) {
                gort__unlock(&stk.lock);
                return -ENOMEM;
            }
            want = stk.credit;
            break;
        }
    }
    stk.credit -= want;
    gort__unlock(&stk.lock);
    if (pp)
        pp->stack_credit += (int32_t)want - 1;
    return 0;
}

void gort__stack_unreserve(struct p *pp)
{
    if (pp && pp->stack_credit < 2 * CREDIT_BATCH) {
        pp->stack_credit++;
        return;
    }
    int64_t give = 1;
    if (pp) {
        give += pp->stack_credit - CREDIT_BATCH;
        pp->stack_credit = CREDIT_BATCH;
    }
    gort__lock(&stk.lock);
    stk.credit += give;
    gort__unlock(&stk.lock);
}

static void write_canary(struct stack *st)
{
    if (st->guard == GUARD_CANARY)
        *(volatile uint64_t *)st->lo = STACK_CANARY;
}

void gort__stack_alloc(struct p *pp, struct stack *st)
{
    struct stack_cache *c = pp ? pp->stackcache : NULL;
    if (c && c->n > 0) {
        *st = c->s[--c->n];
        return;
    }
    /* Refill half a cache at once so the lock is taken rarely. The last
     * ncold taken are cold: the pool is LIFO with its cold part at the
     * bottom. */
    struct stack got[CACHE_MAX / 2];
    uint32_t want = c ? CACHE_MAX / 2 : 1, n = 0, ncold = 0;
    gort__lock(&stk.lock);
    while (n < want && stk.npool > 0) {
        got[n++] = stk.pool[--stk.npool];
        if (stk.npool < stk.ncold) {
            stk.ncold = stk.npool;
            ncold++;
        }
        if (stk.npool < stk.lowwater)
            stk.lowwater = stk.npool;
    }
    if (n == 0) {
        carve(&got[0]);
        n = ncold = 1;
    }
    gort__unlock(&stk.lock);
    for (uint32_t i = 0; i < n; i++) {
        if (i >= n - ncold)
            prime(&got[i]);
        write_canary(&got[i]); /* a cold stack lost it with its pages */
    }
    *st = got[--n];
    if (c) {
        memcpy(c->s, got, n * sizeof got[0]);
        c->n = n;
    }
}

/* pool_put appends n stacks to the pool. Caller holds stk.lock. */
static void pool_put(struct stack *s, uint32_t n)
{
    ASSERT_HELD(&stk.lock);
    if (n == 0)
        return;
    if (stk.npool + n > stk.cappool) {
        size_t cap = stk.cappool ? stk.cappool * 2 : 1024;
        while (cap < stk.npool + n)
            cap *= 2;
        struct stack *np = realloc(stk.pool, cap * sizeof *np);
        if (!np) {
            /* Keep the stacks' memory rather than lose track of it: drop
             * their pages; the slots stay mapped until shutdown. */
            for (uint32_t i = 0; i < n; i++)
                madvise((void *)s[i].lo, s[i].hi - s[i].lo, MADV_DONTNEED);
            return;
        }
        stk.pool = np;
        stk.cappool = cap;
    }
    memcpy(&stk.pool[stk.npool], s, n * sizeof *s);
    stk.npool += n;
}

void gort__stack_free(struct p *pp, struct stack *st)
{
    struct stack_cache *c = pp ? pp->stackcache : NULL;
    if (c && c->n < CACHE_MAX) {
        c->s[c->n++] = *st;
        st->hi = st->lo = 0;
        return;
    }
    gort__lock(&stk.lock);
    if (c) {
        /* Spill the older half of the cache together with this one. */
        pool_put(c->s, CACHE_MAX / 2);
        memmove(c->s, c->s + CACHE_MAX / 2,
                (c->n - CACHE_MAX / 2) * sizeof c->s[0]);
        c->n -= CACHE_MAX / 2;
    }
    pool_put(st, 1);
    gort__unlock(&stk.lock);
    st->hi = st->lo = 0;
}

void gort__stack_cache_flush(struct p *pp)
{
    struct stack_cache *c = pp->stackcache;
    gort__lock(&stk.lock);
    if (c) {
        pool_put(c->s, c->n);
        c->n = 0;
    }
    stk.credit += pp->stack_credit;
    pp->stack_credit = 0;
    gort__unlock(&stk.lock);
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = ((const struct stack *)a)->lo;
    uintptr_t y = ((const struct stack *)b)->lo;
    return (x > y) - (x < y);
}

/* gort__stack_scavenge returns the pages of pooled stacks that stayed
 * unused for a whole scavenge period (the pool's low-water mark since the
 * last call: entries below it were never popped), keeping the POOL_WARM
 * most recently freed. So a pool that churns keeps its pages, and one
 * left idle gives them back, as Go's scavenger does. The idle entries are
 * the oldest, at the bottom of the LIFO; sorting them lets adjacent slots
 * share one madvise call (a whole slab's worth at best). Runs on sysmon
 * every SCAVENGE_NS. */
void gort__stack_scavenge(void)
{
    gort__lock(&stk.lock);
    size_t to = stk.lowwater < stk.npool ? stk.lowwater : stk.npool;
    to = to > POOL_WARM ? to - POOL_WARM : 0;
    stk.lowwater = stk.npool;
    if (to <= stk.ncold) {
        gort__unlock(&stk.lock);
        return;
    }
    size_t from = stk.ncold;
    qsort(&stk.pool[from], to - from, sizeof stk.pool[0], by_address);
    size_t i = from;
    while (i < to) {
        /* Usable parts of neighbouring slots are separated only by the
         * next slot's guard, which MADV_DONTNEED leaves in place. */
        uintptr_t lo = stk.pool[i].lo, hi = stk.pool[i].hi;
        size_t j = i + 1;
        while (j < to && stk.pool[j].lo == hi + GUARD_BYTES &&
               stk.pool[j].guard != GUARD_MPROTECT &&
               stk.pool[j - 1].guard != GUARD_MPROTECT) {
            hi = stk.pool[j].hi;
            j++;
        }
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
        i = j;
    }
    stk.ncold = to;
    gort__unlock(&stk.lock);
}

void gort__stack_check_canary(struct g *gp)
{
    if (gp->stk.guard == GUARD_CANARY &&
        *(volatile uint64_t *)gp->stk.lo != STACK_CANARY) {
        char msg[96];
        snprintf(msg, sizeof msg, "stack overflow (goroutine %llu, "
                 "canary overwritten)", (unsigned long long)gp->goid);
        gort__throw(msg);
    }
}

bool gort__stack_is_guard(struct g *gp, uintptr_t addr)
{
    if (!gp || gp->stk.hi == 0)
        return false;
    return addr < gp->stk.lo && addr >= gp->stk.lo - GUARD_BYTES;
}

void gort__stack_stats(struct stack_stats *st)
{
    gort__lock(&stk.lock);
    st->cached = stk.npool;
    st->reserved = stk.slots * stk.slot;
    gort__unlock(&stk.lock);
    st->madvise = atomic_load(&stk.nmadvise);
    st->mprotect = atomic_load(&stk.nmprotect);
    st->canary = atomic_load(&stk.ncanary);
}
