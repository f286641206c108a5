/*
 * tracebuf.c: the event trace's memory (trace.c emits, tracejson.c
 * converts; docs/trace.md): each thread's buffer, the 64 KiB chunks they
 * fill, the free pool, and the writer thread that spills full chunks to an
 * unlinked temporary file.
 *
 * Why spill, and convert only at stop: a ping-pong records 6 events per
 * round trip, some 40 million a second at 2 Ps, while turning one into
 * JSON takes ~0.5 us; converting as it runs would drop most events or
 * steal a CPU from the program (two CPUs here). Keeping every chunk in
 * memory instead costs a first touch of a fresh page every 28 round trips,
 * which on this VM (65 us a page) made tracing 10x slower. So full chunks
 * go, as they are, to the temporary file (write(2) is fast: the page
 * cache recycles its pages) and come back to a free pool: a session
 * touches a bounded set of pages however long it runs.
 *
 * Invariants:
 *  - A chunk belongs to one of: a thread (its buffer's cur), the full list
 *    (pushed by its thread, taken whole by the writer), the writer, or the
 *    free pool. Chunks of one thread reach the spill file in the order
 *    they were filled, since each thread pushes its own in order and the
 *    writer takes the whole list and reverses it.
 *  - A buffer's cur is touched by its thread only inside its busy section
 *    (trace.c), and by gort__tracebuf_end only once every busy word was
 *    seen at 0 with tracing off.
 *  - Buffers are never freed (a thread's TLS pointer may outlive any
 *    session); chunks are freed at the end of a session, after the writer
 *    has exited.
 * Locking: none; begin and end run under trace.c's ctl.mu.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lfstack.h"
#include "proc.h"
#include "trace.h"

static struct {
    int spill;                    /* the temporary file, or -1 */
    pthread_t writer;
    _Atomic bool writer_stop;
    _Atomic uint32_t writer_wake; /* futex word: bumped to wake it */
    _Atomic int spill_err;        /* first write error (negative errno) */
    uint64_t cap_chunks;          /* chunks a session may allocate */
    _Atomic uint64_t nchunks;     /* chunks allocated this session */
    _Atomic uint64_t drops;       /* events lost: no chunk, no buffer */
    struct trace_chunk *_Atomic full; /* filled, newest first */
    struct lfstack pool;          /* empty chunks */
    struct trace_chunk *_Atomic all;  /* every chunk of the session */
    struct trace_buf *_Atomic bufs; /* every buffer, newest first */
    _Atomic uint32_t nbufs;
} ctl = {.spill = -1};

void gort__tracebuf_drop(void)
{
    atomic_fetch_add_explicit(&ctl.drops, 1, memory_order_relaxed);
}

/* gort__tracebuf_new makes the calling thread's buffer and links it for
 * the stopper (a lock-free push: buffers are never unlinked). */
struct trace_buf *gort__tracebuf_new(void)
{
    struct trace_buf *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    struct m *mp = gort__getm();
    b->mid = mp ? mp->id : -1;
    b->mid0 = b->mid;
    b->idx = atomic_fetch_add(&ctl.nbufs, 1);
    b->next = atomic_load(&ctl.bufs);
    while (!atomic_compare_exchange_weak(&ctl.bufs, &b->next, b))
        ;
    return b;
}

/* chunk_get gives b an empty chunk: from the pool, else a new one within
 * the session's budget; NULL when neither (the event is dropped). */
static struct trace_chunk *chunk_get(struct trace_buf *b)
{
    struct trace_chunk *c =
        lfstack_pop(&ctl.pool, offsetof(struct trace_chunk, next));
    if (!c) {
        if (atomic_fetch_add_explicit(&ctl.nchunks, 1,
                                      memory_order_relaxed) >= ctl.cap_chunks)
            return NULL;
        if (!(c = malloc(sizeof *c)))
            return NULL;
        c->all = atomic_load(&ctl.all);
        while (!atomic_compare_exchange_weak(&ctl.all, &c->all, c))
            ;
    }
    c->next = NULL;
    c->len = 0;
    c->idx = b->idx;
    b->cur = c;
    return c;
}

/* gort__tracebuf_full hands b's chunk to the writer (a Treiber push: the writer
 * takes the whole list at once, so no ABA), waking it if the list was
 * empty, and takes another. */
struct trace_chunk *gort__tracebuf_full(struct trace_buf *b)
{
    struct trace_chunk *c = b->cur;
    b->cur = NULL;
    if (c) {
        struct trace_chunk *head = atomic_load(&ctl.full);
        do
            c->next = head;
        while (!atomic_compare_exchange_weak(&ctl.full, &head, c));
        if (!head) {
            atomic_fetch_add(&ctl.writer_wake, 1);
            gort__futex_wake(&ctl.writer_wake, 1);
        }
    }
    return chunk_get(b);
}

/* spill_chunk appends c to the temporary file: its thread, its length,
 * its words. */
static void spill_chunk(const struct trace_chunk *c)
{
    if (!c->len || atomic_load(&ctl.spill_err))
        return;
    uint32_t hdr[2] = {c->idx, c->len};
    struct iovec iov[2] = {{hdr, sizeof hdr},
                           {(void *)c->w, c->len * sizeof c->w[0]}};
    size_t want = iov[0].iov_len + iov[1].iov_len;
    ssize_t n;
    do
        n = writev(ctl.spill, iov, 2);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)want) {
        int zero = 0;
        atomic_compare_exchange_strong(&ctl.spill_err, &zero,
                                       n < 0 ? -errno : -EIO);
    }
}

/* writer is the spilling thread: it takes the full list, writes it oldest
 * first, and returns the chunks to the pool; at writer_stop it drains the
 * list once more and ends. It never emits events. */
static void *writer(void *arg)
{
    (void)arg;
    for (;;) {
        uint32_t w = atomic_load(&ctl.writer_wake);
        bool stop = atomic_load(&ctl.writer_stop);
        struct trace_chunk *c = atomic_exchange(&ctl.full, NULL), *fifo = NULL;
        while (c) { /* reverse: oldest first */
            struct trace_chunk *next = c->next;
            c->next = fifo;
            fifo = c;
            c = next;
        }
        for (c = fifo; c;) {
            struct trace_chunk *next = c->next;
            spill_chunk(c);
            lfstack_push(&ctl.pool, c, (void **)&c->next);
            c = next;
        }
        if (stop)
            return NULL;
        if (!fifo)
            gort__futex_wait(&ctl.writer_wake, w, 100000000);
    }
}

/* The chunk budget: GORT_TRACEBUF bytes, with an optional k, m or g
 * suffix (default 64m). Chunks come back from the writer, so this bounds
 * the events waiting to be spilled, not the trace. */
static uint64_t budget_chunks(void)
{
    uint64_t bytes = 64ull << 20;
    const char *env = getenv("GORT_TRACEBUF");
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        int shift = *end == 'k' || *end == 'K'   ? 10
                    : *end == 'm' || *end == 'M' ? 20
                    : *end == 'g' || *end == 'G' ? 30
                                                 : 0;
        if (shift)
            end++;
        if (!*end && v > 0 && v < (1ull << (63 - shift)))
            bytes = (uint64_t)v << shift;
    }
    uint64_t n = bytes / sizeof(struct trace_chunk);
    return n ? n : 1;
}

/* spill_open makes the unlinked temporary file chunks go to. */
static int spill_open(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char path[4096];
    snprintf(path, sizeof path, "%s/gort-trace-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    unlink(path);
    return fd;
}

int gort__tracebuf_begin(void)
{
    int spill = spill_open();
    if (spill < 0)
        return spill;
    ctl.spill = spill;
    ctl.cap_chunks = budget_chunks();
    atomic_store(&ctl.nchunks, 0);
    atomic_store(&ctl.drops, 0);
    atomic_store(&ctl.spill_err, 0);
    atomic_store(&ctl.writer_stop, false);
    /* Every buffer starts the session empty: the last end freed the
     * chunks, and nobody writes a buffer while tracing is off. */
    for (struct trace_buf *b = atomic_load(&ctl.bufs); b; b = b->next) {
        b->cur = NULL;
        b->mid0 = b->mid;
        b->nflow = 0;
    }
    /* The writer takes no signals: they are the program's and gort's. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&ctl.writer, NULL, writer, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        close(spill);
        ctl.spill = -1;
        return -err;
    }
    return 0;
}

int gort__tracebuf_end(struct trace_session *s)
{
    uint32_t nbufs = atomic_load(&ctl.nbufs);
    struct trace_buf *bufs = atomic_load(&ctl.bufs);
    for (struct trace_buf *b = bufs; b; b = b->next)
        while (atomic_load(&b->busy))
            sched_yield(); /* an event being written: a few instructions */
    atomic_store(&ctl.writer_stop, true);
    atomic_fetch_add(&ctl.writer_wake, 1);
    gort__futex_wake(&ctl.writer_wake, 1);
    pthread_join(ctl.writer, NULL);
    /* What the threads were filling goes last: after their full chunks. */
    int64_t *mid0 = calloc(nbufs ? nbufs : 1, sizeof *mid0);
    for (struct trace_buf *b = bufs; b; b = b->next) {
        if (b->cur)
            spill_chunk(b->cur);
        b->cur = NULL;
        if (mid0 && b->idx < nbufs)
            mid0[b->idx] = b->mid0;
    }
    for (struct trace_chunk *c = atomic_exchange(&ctl.all, NULL), *next; c;
         c = next) {
        next = c->all;
        free(c);
    }
    ctl.pool = (struct lfstack){0};
    s->spill = ctl.spill;
    s->mid0 = mid0;
    s->nbufs = nbufs;
    s->drops = atomic_load(&ctl.drops);
    int err = atomic_load(&ctl.spill_err);
    return err ? err : mid0 ? 0 : -ENOMEM;
}

void gort__tracebuf_close(struct trace_session *s)
{
    free((void *)s->mid0);
    s->mid0 = NULL;
    close(ctl.spill);
    ctl.spill = -1;
}
