/*
 * chan.c: libFuzzer target for channels, select and channel timers,
 * checked against a model of Go's semantics.
 *
 * An input decodes to a program (decode below): up to 4 channels of
 * capacity 0..3 carrying 4-byte values, an optional timer, and up to 3
 * goroutines, each with its list of operations: send, receive, their
 * non-blocking forms, close, select (blocking or with default, up to 4
 * cases, duplicates and nil channels allowed), len/cap, timer stop and
 * reset. Every input runs in its own gort_run with 2 Ps.
 *
 * One goroutine: the program is compared with the model step by step
 * (single_step): each result, each value and its FIFO order, each panic
 * and its message. An operation the model says blocks forever runs in
 * its non-blocking form and must report "would block".
 *
 * Several goroutines (no fixed schedule yet): invariants that hold for
 * every interleaving (multi_check and quiescent_check): every value
 * received was sent on that channel and is received at most once, the
 * values of one sender arrive at one receiver in send order, a receive
 * reports "closed" only once a close began, an operation that starts
 * after a close returned behaves as on a closed channel, exactly one
 * close of a channel succeeds, panics happen only where Go allows them,
 * and once every goroutine is parked (runtime status G_WAITING, nothing
 * moving) no parked operation could proceed and each channel holds
 * exactly the values sent and not received.
 *
 * Go's panics: the fuzz build's gort__fuzz_panic_hook (runtime/
 * traceback.c) calls panic_hook, which checks the panic was due and
 * ends that goroutine. At the end the main goroutine closes what is open
 * and fires the timer so that nothing stays parked on a channel, then
 * frees everything. A failed check prints why and aborts (a libFuzzer
 * crash).
 */
#include <gort.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"
#include "rt.h"

#define MAXCH 4
#define MAXG 3
#define MAXOPS 48
#define MAXCASES 4

enum kind { SEND, RECV, TRYSEND, TRYRECV, CLOSE, SELECT, LENCAP, TSTOP,
            TRESET, NKIND };
enum { P_SEND = 1, P_CLOSE_CLOSED = 2, P_CLOSE_NIL = 4 };
static const char *const pmsg[] = {"", "send on closed channel",
                                   "close of closed channel", "",
                                   "close of nil channel"};

struct op {
    uint8_t kind, flags, a, b;
};

/* Resolved select: slot per case (MAXCH = nil, MAXCH+1 = timer). */
struct sel {
    int n;
    int slot[MAXCASES];
    bool send[MAXCASES];
    bool try;
};

struct worker {
    int id;
    _Atomic(struct g *) gp;
    _Atomic uint64_t goid;
    _Atomic int done;
    _Atomic int in_op;          /* the op index in progress + 1, 0: none */
    struct op ops[MAXOPS];
    int n;
    _Atomic uint32_t seq;       /* values sent so far */
    int must_panic;             /* P_*: the op in progress must panic */
    uint16_t last_seen[MAXG][MAXCH]; /* last seq received from each */
};

/* The model, shared by the goroutines; counters are atomics. */
static struct {
    int nch, ng, nslots;
    bool timer;
    int cap[MAXCH];
    gort_chan *c[MAXCH];
    gort_timer *t;
    gort_chan *tc;
    struct worker w[MAXG];
    _Atomic int ndone, progress, draining;
    _Atomic int close_attempts[MAXCH], close_ok[MAXCH], close_panics[MAXCH];
    _Atomic int sent[MAXCH], received[MAXCH];
    _Atomic uint8_t got[MAXG][1 << 10]; /* times each value was received */
    /* single goroutine: exact channel contents and timer state */
    uint32_t buf[MAXCH][4];
    int len[MAXCH];
    enum { T_ACTIVE, T_STOPPED, T_RECEIVED } tstate;
} M;

#define fail(...)                                                            \
    do {                                                                     \
        fprintf(stderr, "fuzz chan: " __VA_ARGS__);                          \
        fputc('\n', stderr);                                                 \
        abort();                                                             \
    } while (0)

static bool single(void) { return M.ng == 1; }

static gort_chan *chan_of(int slot)
{
    return slot < M.nch ? M.c[slot] : slot == MAXCH + 1 ? M.tc : NULL;
}

/* slot_of maps a byte to a channel slot: a channel, nil, or the timer's
 * channel (receives only: a send or close there becomes nil). */
static int slot_of(unsigned x, bool recv)
{
    int s = (int)(x % (unsigned)M.nslots);
    if (s < M.nch)
        return s;
    if (s == M.nch + 1 && recv)
        return MAXCH + 1;
    return MAXCH;
}

static struct sel sel_of(const struct op *o)
{
    struct sel s = {.n = 1 + (o->a & 3), .try = o->flags & 1};
    int rot = o->a >> 6;
    for (int k = 0; k < s.n; k++) {
        s.send[k] = (o->a >> (2 + k)) & 1;
        s.slot[k] = slot_of(((o->b >> (2 * k)) & 3) + (unsigned)rot, !s.send[k]);
    }
    return s;
}

/* ---- values ------------------------------------------------------------ */

static uint32_t value_new(struct worker *w, int slot)
{
    return (uint32_t)(w->id + 1) << 24 | (uint32_t)slot << 16 |
           (atomic_fetch_add(&w->seq, 1) + 1);
}

/* value_got checks one received value: sent by a goroutine of this
 * program on this channel, received once, in its sender's order. */
static void value_got(struct worker *w, int slot, uint32_t v, bool ok)
{
    if (slot == MAXCH + 1) /* the timer's time */
        return;
    if (!ok) {
        if (v != 0)
            fail("closed receive on %d gave %#x, not zero", slot, v);
        if (atomic_load(&M.close_attempts[slot]) == 0)
            fail("receive on %d reports closed before any close", slot);
        return;
    }
    int from = (int)(v >> 24) - 1, ch = (int)(v >> 16 & 0xff);
    uint32_t seq = v & 0xffff;
    if (from < 0 || from >= M.ng || ch != slot || seq == 0 ||
        seq > atomic_load(&M.w[from].seq) || seq >= (1u << 10))
        fail("received %#x on channel %d: never sent there", v, slot);
    if (atomic_fetch_add(&M.got[from][seq], 1) != 0)
        fail("value %#x received twice", v);
    if (seq <= w->last_seen[from][slot])
        fail("goroutine %d got %#x after seq %u of the same sender on %d",
             w->id, v, w->last_seen[from][slot], slot);
    w->last_seen[from][slot] = (uint16_t)seq;
    atomic_fetch_add(&M.received[slot], 1);
}

/* ---- the exact model (one goroutine) ---------------------------------- */

static bool m_closed(int s) { return atomic_load(&M.close_ok[s]) != 0; }

/* m_send_ready: a send on slot s completes (or panics) now. */
static bool m_send_ready(int s)
{
    return s < MAXCH && (m_closed(s) || M.len[s] < M.cap[s]);
}

static bool m_recv_ready(int s)
{
    if (s == MAXCH + 1)
        return false; /* the timer: see m_timer_maybe */
    return s < MAXCH && (M.len[s] > 0 || m_closed(s));
}

static bool m_timer_maybe(int s)
{
    return s == MAXCH + 1 && M.tstate == T_ACTIVE;
}

/* m_apply_send: the model's side of a completed send of v on s. */
static void m_apply_send(int s, uint32_t v)
{
    if (M.len[s] >= M.cap[s])
        fail("model: send on %d completed with a full buffer", s);
    M.buf[s][M.len[s]++] = v;
}

/* m_apply_recv: the model's side of a receive on s that gave v, ok. */
static void m_apply_recv(int s, uint32_t v, bool ok)
{
    if (s == MAXCH + 1) {
        if (M.tstate != T_ACTIVE || !ok)
            fail("timer receive (ok %d) with the timer not active", ok);
        M.tstate = T_RECEIVED;
        return;
    }
    if (M.len[s] > 0) {
        if (!ok || v != M.buf[s][0])
            fail("receive on %d gave %#x ok %d, model %#x", s, v, ok,
                 M.buf[s][0]);
        memmove(M.buf[s], M.buf[s] + 1, sizeof(uint32_t) * 3);
        M.len[s]--;
    } else if (!m_closed(s) || ok) {
        fail("receive on empty %d completed (ok %d, closed %d)", s, ok,
             m_closed(s));
    }
}

/* ---- operations -------------------------------------------------------- */

static void sent(struct worker *w, int s, uint32_t v, bool closed_before)
{
    (void)w;
    if (closed_before)
        fail("send on %d completed after its close returned", s);
    atomic_fetch_add(&M.sent[s], 1);
    if (single())
        m_apply_send(s, v);
}

static void got(struct worker *w, int s, uint32_t v, bool ok)
{
    value_got(w, s, v, ok);
    if (single())
        m_apply_recv(s, v, ok);
}

static void op_send(struct worker *w, const struct op *o, bool try)
{
    int s = slot_of(o->a, false);
    gort_chan *c = chan_of(s);
    bool closed = s < MAXCH && m_closed(s);
    if (closed)
        w->must_panic = P_SEND;
    uint32_t v = value_new(w, s);
    /* Blocking forever (nil, or one goroutine and no room): the
     * non-blocking form must report "would block". */
    if (!try && (s == MAXCH || (single() && !m_send_ready(s))))
        try = true;
    if (try) {
        bool ready = single() ? m_send_ready(s) : false;
        bool r = gort_chan_trysend(c, &v);
        if (single() && r != ready)
            fail("trysend on %d returned %d, model %d", s, r, ready);
        if (r)
            sent(w, s, v, closed);
        return;
    }
    gort_chan_send(c, &v);
    sent(w, s, v, closed);
}

static void op_recv(struct worker *w, const struct op *o, bool try)
{
    int s = slot_of(o->a, true);
    gort_chan *c = chan_of(s);
    bool closed = s < MAXCH && m_closed(s);
    uint64_t v = 0;
    bool ok = false;
    if (!try && (s == MAXCH ||
                 (single() && !m_recv_ready(s) && !m_timer_maybe(s))))
        try = true;
    if (try) {
        bool r = gort_chan_tryrecv(c, &v, &ok);
        if (single() && !m_timer_maybe(s) && r != m_recv_ready(s))
            fail("tryrecv on %d returned %d, model %d", s, r,
                 m_recv_ready(s));
        if (closed && !r)
            fail("tryrecv on closed %d would block", s);
        if (r)
            got(w, s, (uint32_t)v, ok);
        return;
    }
    ok = gort_chan_recv(c, &v);
    got(w, s, (uint32_t)v, ok);
}

static void op_close(struct worker *w, const struct op *o)
{
    int s = slot_of(o->a, false);
    if (s == MAXCH) {
        w->must_panic = P_CLOSE_NIL;
        gort_chan_close(NULL);
        fail("close of nil channel returned");
    }
    atomic_fetch_add(&M.close_attempts[s], 1);
    if (m_closed(s))
        w->must_panic = P_CLOSE_CLOSED;
    gort_chan_close(M.c[s]);
    if (w->must_panic)
        fail("close of closed %d returned", s);
    if (atomic_fetch_add(&M.close_ok[s], 1) != 0)
        fail("two closes of %d succeeded", s);
}

/* op_select runs a select. In the exact model the case chosen must be
 * one that was ready (Go picks among them at random); with no case ready
 * a blocking select blocks forever, so it runs with default instead. */
static void op_select(struct worker *w, const struct op *o)
{
    struct sel s = sel_of(o);
    gort_select_case cs[MAXCASES];
    uint32_t out[MAXCASES];
    uint64_t in[MAXCASES];
    bool ok[MAXCASES], ready[MAXCASES], closed[MAXCASES], maybe = false;
    bool any = false, all_nil = true;
    for (int k = 0; k < s.n; k++) {
        int sl = s.slot[k];
        gort_chan *c = chan_of(sl);
        ok[k] = false;
        in[k] = 0;
        closed[k] = sl < MAXCH && m_closed(sl);
        all_nil &= sl == MAXCH;
        if (s.send[k]) {
            out[k] = value_new(w, sl);
            cs[k] = GORT_SEND(c, &out[k]);
            ready[k] = m_send_ready(sl);
        } else {
            cs[k] = GORT_RECV(c, &in[k], &ok[k]);
            ready[k] = m_recv_ready(sl);
            maybe |= m_timer_maybe(sl);
        }
        any |= ready[k];
    }
    bool try = s.try || all_nil || (single() && !any && !maybe);
    int r = try ? gort_select_try(cs, s.n) : gort_select(cs, s.n);
    if (r == GORT_SELECT_DEFAULT) {
        if (!try)
            fail("blocking select returned default");
        if (single() && any)
            fail("select chose default with a case ready");
        for (int k = 0; k < s.n; k++)
            if (closed[k])
                fail("select chose default with closed %d", s.slot[k]);
        return;
    }
    if (r < 0 || r >= s.n)
        fail("select returned %d of %d cases", r, s.n);
    int sl = s.slot[r];
    if (sl == MAXCH)
        fail("select chose case %d, a nil channel", r);
    if (single() && !ready[r] && !(maybe && sl == MAXCH + 1))
        fail("select chose case %d (slot %d) that was not ready", r, sl);
    if (s.send[r]) {
        sent(w, sl, out[r], closed[r]);
        return;
    }
    got(w, sl, (uint32_t)in[r], ok[r]);
}

static void op_lencap(const struct op *o)
{
    int s = slot_of(o->a, false);
    if (s == MAXCH + 1 || s == MAXCH)
        return;
    size_t l = gort_chan_len(M.c[s]), c = gort_chan_cap(M.c[s]);
    if (c != (size_t)M.cap[s] || l > c)
        fail("len %zu cap %zu of %d (cap %d)", l, c, s, M.cap[s]);
    if (single() && l != (size_t)M.len[s])
        fail("len of %d is %zu, model %d", s, l, M.len[s]);
}

static void op_timer(const struct op *o)
{
    if (!M.t)
        return;
    bool was = M.tstate == T_ACTIVE;
    bool r = o->kind == TSTOP ? gort_timer_stop(M.t)
                              : gort_timer_reset(M.t, (o->b & 3) * 1000);
    if (!single())
        return;
    if (r != was)
        fail("timer %s returned %d, model %d",
             o->kind == TSTOP ? "stop" : "reset", r, was);
    M.tstate = o->kind == TSTOP ? T_STOPPED : T_ACTIVE;
}

static void run_op(struct worker *w, const struct op *o)
{
    w->must_panic = 0;
    switch (o->kind) {
    case SEND: op_send(w, o, false); break;
    case TRYSEND: op_send(w, o, true); break;
    case RECV: op_recv(w, o, false); break;
    case TRYRECV: op_recv(w, o, true); break;
    case CLOSE: op_close(w, o); break;
    case SELECT: op_select(w, o); break;
    case LENCAP: op_lencap(o); break;
    default: op_timer(o); break;
    }
    if (w->must_panic)
        fail("goroutine %d: op %d did not panic with \"%s\"", w->id, o->kind,
             pmsg[w->must_panic]);
}

static void finish(struct worker *w)
{
    atomic_store(&w->done, 1);
    atomic_fetch_add(&M.ndone, 1);
    atomic_fetch_add(&M.progress, 1);
}

static void worker_fn(void *arg)
{
    struct worker *w = arg;
    atomic_store(&w->goid, gort_id());
    atomic_store(&w->gp, gort__getg());
    for (int i = 0; i < w->n && !atomic_load(&M.draining); i++) {
        atomic_store(&w->in_op, i + 1);
        atomic_fetch_add(&M.progress, 1);
        run_op(w, &w->ops[i]);
        atomic_store(&w->in_op, 0);
        atomic_fetch_add(&M.progress, 1);
    }
    finish(w);
}

/* panics_allowed: the panics Go allows op o now: a send on a channel
 * that a close began on, a close of nil, a second close. */
static int panics_allowed(const struct op *o)
{
    if (o->kind == CLOSE) {
        int s = slot_of(o->a, false);
        if (s == MAXCH)
            return P_CLOSE_NIL;
        return atomic_load(&M.close_attempts[s]) > 1 ? P_CLOSE_CLOSED : 0;
    }
    struct sel sl = {.n = 1, .slot = {slot_of(o->a, false)}, .send = {true}};
    if (o->kind == SELECT)
        sl = sel_of(o);
    else if (o->kind != SEND && o->kind != TRYSEND)
        return 0;
    for (int k = 0; k < sl.n; k++)
        if (sl.send[k] && sl.slot[k] < MAXCH &&
            atomic_load(&M.close_attempts[sl.slot[k]]) > 0)
            return P_SEND;
    return 0;
}

/* panic_hook: a goroutine panicked (it ends when this returns). */
static void panic_hook(const char *msg)
{
    uint64_t id = gort_id();
    struct worker *w = NULL;
    for (int i = 0; i < M.ng; i++)
        if (atomic_load(&M.w[i].goid) == id)
            w = &M.w[i];
    if (w == NULL)
        fail("panic outside a worker: %s", msg);
    if (!atomic_load(&M.draining)) {
        int kind = 0;
        for (int k = 1; k <= P_CLOSE_NIL; k <<= 1)
            if (strcmp(msg, pmsg[k]) == 0)
                kind = k;
        int in = atomic_load(&w->in_op) - 1;
        if (kind == 0 || in < 0 || !(panics_allowed(&w->ops[in]) & kind))
            fail("goroutine %d: unexpected panic \"%s\" in op %d", w->id,
                 msg, in);
        if (kind == P_CLOSE_CLOSED)
            atomic_fetch_add(&M.close_panics[slot_of(w->ops[in].a, false)], 1);
    }
    atomic_store(&w->in_op, 0);
    finish(w);
}

/* ---- quiescence -------------------------------------------------------- */

/* waiting_on: the slots worker w is parked on, with their directions. */
static int waiting_on(struct worker *w, int *slots, bool *send)
{
    int in = atomic_load(&w->in_op) - 1;
    if (in < 0)
        return 0;
    const struct op *o = &w->ops[in];
    if (o->kind == SEND || o->kind == RECV) {
        slots[0] = slot_of(o->a, o->kind == RECV);
        send[0] = o->kind == SEND;
        return 1;
    }
    if (o->kind != SELECT || (o->flags & 1))
        return 0;
    struct sel s = sel_of(o);
    for (int k = 0; k < s.n; k++) {
        slots[k] = s.slot[k];
        send[k] = s.send[k];
    }
    return s.n;
}

static bool parked(struct worker *w)
{
    struct g *gp = atomic_load(&w->gp);
    return gp && atomic_load(&gp->status) == G_WAITING;
}

/* quiescent: every unfinished worker is parked inside an operation and
 * nothing moved while we looked. */
static bool quiescent(void)
{
    int p0 = atomic_load(&M.progress);
    for (int i = 0; i < M.ng; i++) {
        struct worker *w = &M.w[i];
        if (atomic_load(&w->done))
            continue;
        if (!atomic_load(&w->in_op) || !parked(w))
            return false;
    }
    return atomic_load(&M.progress) == p0;
}

/* quiescent_check: with everything parked, no parked operation could
 * proceed, and each channel holds what was sent and not received. */
static char qerr[160];
#define qfail(...)                                                           \
    do {                                                                     \
        snprintf(qerr, sizeof qerr, __VA_ARGS__);                            \
        return qerr;                                                         \
    } while (0)

static const char *quiescent_check(void)
{
    int slots[MAXG][MAXCASES], n[MAXG];
    bool send[MAXG][MAXCASES];
    size_t len[MAXCH];
    for (int s = 0; s < M.nch; s++)
        len[s] = gort_chan_len(M.c[s]);
    for (int i = 0; i < M.ng; i++)
        n[i] = atomic_load(&M.w[i].done)
                   ? 0 : waiting_on(&M.w[i], slots[i], send[i]);
    for (int i = 0; i < M.ng; i++)
        for (int k = 0; k < n[i]; k++) {
            int s = slots[i][k];
            if (s == MAXCH + 1) {
                if (gort_chan_len(M.tc) > 0)
                    qfail("goroutine %d parked on a timer holding a value", i);
                continue;
            }
            if (s == MAXCH)
                continue;
            if (m_closed(s))
                qfail("goroutine %d parked on closed %d", i, s);
            if (send[i][k] ? len[s] < (size_t)M.cap[s] : len[s] > 0)
                qfail("goroutine %d parked %s %d (len %zu cap %d)", i,
                      send[i][k] ? "sending to" : "receiving from", s,
                      len[s], M.cap[s]);
            for (int j = 0; j < M.ng; j++)
                for (int l = 0; j != i && l < n[j]; l++)
                    if (slots[j][l] == s && send[j][l] != send[i][k])
                        qfail("goroutines %d and %d parked on both ends "
                              "of %d", i, j, s);
        }
    for (int s = 0; s < M.nch; s++) {
        int sn = atomic_load(&M.sent[s]), rn = atomic_load(&M.received[s]);
        if ((size_t)(sn - rn) != len[s])
            qfail("channel %d: %d sent, %d received, %zu buffered", s, sn,
                  rn, len[s]);
        int a = atomic_load(&M.close_attempts[s]);
        if (atomic_load(&M.close_ok[s]) != (a > 0) ||
            atomic_load(&M.close_panics[s]) != (a > 0 ? a - 1 : 0))
            qfail("channel %d: %d closes, %d succeeded, %d panicked", s,
                  a, atomic_load(&M.close_ok[s]),
                  atomic_load(&M.close_panics[s]));
        if (single() && len[s] != (size_t)M.len[s])
            qfail("channel %d holds %zu, model %d", s, len[s], M.len[s]);
    }
    return NULL;
}

static bool all_done(void) { return atomic_load(&M.ndone) == M.ng; }

/* settle waits until every worker finished or everything is parked (and
 * stayed so across a pause longer than any timer). */
static void settle(void)
{
    struct rt_stall st = {0};
    for (long q = 0; !all_done();) {
        if (rt_stalled(&st, atomic_load(&M.progress)))
            fail("nothing moved for 30 s, and not all parked");
        if (!quiescent()) {
            q = 0;
            gort_yield();
            continue;
        }
        if (++q >= 3) {
            int p = atomic_load(&M.progress);
            const char *e = quiescent_check();
            if (quiescent() && atomic_load(&M.progress) == p) {
                if (e)
                    fail("%s", e);
                return;
            }
            q = 0;
        }
        gort_sleep(20000);
    }
}

/* drain wakes every parked worker (close what is open, fire the timer)
 * and waits for all to end: none may stay (rt.h). */
static void drain(void)
{
    atomic_store(&M.draining, 1);
    for (int s = 0; s < M.nch; s++)
        if (atomic_load(&M.close_attempts[s]) == 0) {
            atomic_fetch_add(&M.close_attempts[s], 1);
            gort_chan_close(M.c[s]);
        }
    for (long i = 0; !all_done(); i++) {
        if (i > 20000)
            fail("a goroutine stayed parked after every channel closed");
        if (M.t)
            gort_timer_reset(M.t, 0);
        gort_sleep(1000);
    }
}

static void fuzz_main(void)
{
    for (int s = 0; s < M.nch; s++)
        M.c[s] = gort_chan_make(sizeof(uint32_t), (size_t)M.cap[s]);
    if (M.timer) {
        M.t = gort_timer_new(1000);
        M.tc = gort_timer_chan(M.t);
    }
    for (int i = 0; i < M.ng; i++)
        if (gort_go(worker_fn, &M.w[i]) != 0)
            fail("gort_go");
    settle();
    drain();
    gort_timer_free(M.t);
    for (int s = 0; s < M.nch; s++)
        gort_chan_free(M.c[s]);
}

/* decode: byte 0 the shape, then one byte per channel capacity, then
 * 4 bytes an operation: goroutine|kind, flags, a, b. */
static bool decode(const uint8_t *d, size_t n)
{
    if (n < 2)
        return false;
    memset(&M, 0, sizeof M);
    M.nch = 1 + d[0] % MAXCH;
    M.ng = 1 + (d[0] >> 2) % MAXG;
    M.timer = (d[0] >> 4) & 1;
    M.nslots = M.nch + 1 + M.timer;
    size_t i = 1;
    for (int s = 0; s < M.nch && i < n; s++)
        M.cap[s] = d[i++] % 4;
    for (int g = 0; g < M.ng; g++)
        M.w[g].id = g;
    for (; i + 4 <= n; i += 4) {
        struct worker *w = &M.w[(d[i] >> 4) % M.ng];
        if (w->n == MAXOPS)
            continue;
        w->ops[w->n++] = (struct op){.kind = (d[i] & 15) % NKIND,
                                     .flags = d[i + 1], .a = d[i + 2],
                                     .b = d[i + 3]};
    }
    return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    gort__fuzz_panic_hook = panic_hook;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!decode(data, size))
        return 0;
    rt_call(fuzz_main);
    return 0;
}
