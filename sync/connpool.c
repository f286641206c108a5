/*
 * connpool.c: gort_connpool, a pool of connections (Go: the pool in
 * database/sql's sql.go: DB.conn, putConn, connectionCleaner).
 *
 * Built on the public API only (gort_mutex, channels, select, timers):
 * the pool is a user of the runtime, like database/sql is of Go's.
 *
 * State, all under p->mu:
 *  - open counts every connection that exists, is being opened or is
 *    being closed: idle ones, ones in use, slots a goroutine reserved
 *    before calling ops.connect, and connections in ops.close (a slot is
 *    freed only after its close returned, so gort_connpool_close, which
 *    frees the pool once open is 0, never races a callback). open <=
 *    max_open when there is a limit.
 *  - idle is a LIFO list (the most recently used first, so the rest age
 *    out); nidle is its length, <= max_idle.
 *  - waiters is a FIFO of acquirers parked on their own channel (cap 1).
 *    A waiter exists only while open >= max_open; then idle is empty,
 *    because a release hands a healthy connection straight to the first
 *    waiter instead of to the idle list.
 *
 * A freed slot (a connection closed or never opened) goes to the first
 * waiter as a grant: the waiter keeps the slot counted in `open` and
 * opens the connection itself, outside the lock. So a waiter is woken by
 * exactly one message: a connection, a grant, or -ESHUTDOWN, sent while
 * unlinking it under the lock, which is why a cap-1 channel never blocks
 * the sender. A waiter whose deadline fires first unlinks itself if still
 * linked; if not, a message is on its way (already in the channel) and it
 * gives that connection or grant back before returning -ETIMEDOUT.
 *
 * The callbacks (connect, close, check) and gort_chan_make run outside
 * the lock: they may block or park.
 *
 * Lock order: p->mu only; it is never held across a callback or a park
 * (gort_cond_wait in close releases it while parked).
 *
 * See also: include/gort/pool.h, docs/blocking.md.
 */
#include <errno.h>
#include <stdlib.h>

#include <gort.h>

struct gort_pconn {
    void *conn;
    gort_connpool *pool;
    int64_t created;  /* gort_now() at open */
    int64_t returned; /* gort_now() when last put on the idle list */
    struct gort_pconn *next;
};

struct waiter {
    struct waiter *next;
    gort_chan *ch; /* struct msg, cap 1 */
    bool linked;
};

struct msg {
    struct gort_pconn *pc; /* a connection, already counted in use */
    int err;               /* 0 with pc NULL: a grant (open one yourself) */
};

struct gort_connpool {
    gort_mutex mu;
    gort_cond drained; /* signalled when open drops while closing */
    gort_connpool_ops ops;
    int max_open, max_idle;
    int64_t max_idle_time, max_lifetime;

    int open, in_use, nidle;
    struct gort_pconn *idle;
    struct waiter *whead, *wtail;
    int nwaiting;
    bool closed;

    uint64_t wait_count, max_idle_closed, max_idle_time_closed,
        max_lifetime_closed;
    int64_t wait_duration;

    gort_chan *cleaner_stop; /* closed by gort_connpool_close */
    gort_wg cleaner_done;
};

static bool lifetime_over(gort_connpool *p, struct gort_pconn *pc, int64_t now)
{
    return p->max_lifetime > 0 && now - pc->created >= p->max_lifetime;
}

static bool idle_over(gort_connpool *p, struct gort_pconn *pc, int64_t now)
{
    return p->max_idle_time > 0 && now - pc->returned >= p->max_idle_time;
}

static struct waiter *pop_waiter(gort_connpool *p)
{
    struct waiter *w = p->whead;
    if (w) {
        p->whead = w->next;
        if (!p->whead)
            p->wtail = NULL;
        w->linked = false;
        p->nwaiting--;
    }
    return w;
}

static void unlink_waiter(gort_connpool *p, struct waiter *w)
{
    struct waiter **pp = &p->whead, *prev = NULL;
    while (*pp && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = w->next;
    if (p->wtail == w)
        p->wtail = prev;
    w->linked = false;
    p->nwaiting--;
}

static void deliver(struct waiter *w, struct gort_pconn *pc, int err)
{
    struct msg m = {pc, err};
    /* Cap 1 and one message per waiter: never full. */
    (void)gort_chan_trysend(w->ch, &m);
}

/* A slot became free: grant it to the first waiter, or uncount it. */
static void free_slot_locked(gort_connpool *p)
{
    struct waiter *w = p->closed ? NULL : pop_waiter(p);
    if (w) {
        deliver(w, NULL, 0);
        return;
    }
    p->open--;
    if (p->closed)
        gort_cond_broadcast(&p->drained);
}

static void close_conn(gort_connpool *p, struct gort_pconn *pc)
{
    p->ops.close(p->ops.ctx, pc->conn);
    free(pc);
}

/* drop closes pc, whose slot the caller still holds, then frees the slot:
 * in that order, so that gort_connpool_close, which waits for open to
 * reach 0, cannot free p while ops.close still runs. Called unlocked;
 * touches nothing of p after its last unlock. */
static void drop(gort_connpool *p, struct gort_pconn *pc)
{
    close_conn(p, pc);
    gort_mutex_lock(&p->mu);
    free_slot_locked(p);
    gort_mutex_unlock(&p->mu);
}

/* Opens a connection into a slot the caller already counted in open. */
static int open_conn(gort_connpool *p, gort_pconn **out)
{
    struct gort_pconn *pc = malloc(sizeof *pc);
    int r = pc ? p->ops.connect(p->ops.ctx, &pc->conn) : -ENOMEM;
    gort_mutex_lock(&p->mu);
    if (r == 0 && p->closed) { /* closed while we connected */
        gort_mutex_unlock(&p->mu);
        drop(p, pc);
        return -ESHUTDOWN;
    }
    if (r < 0) {
        free_slot_locked(p);
        gort_mutex_unlock(&p->mu);
        free(pc);
        return r;
    }
    p->in_use++;
    gort_mutex_unlock(&p->mu);
    pc->pool = p;
    pc->created = pc->returned = gort_now();
    pc->next = NULL;
    *out = pc;
    return 0;
}

/* The deadline fired after a message was sent: give back what came. */
static void give_back(gort_connpool *p, struct msg *m)
{
    if (m->pc) {
        gort_connpool_release(m->pc, false);
    } else if (m->err == 0) {
        gort_mutex_lock(&p->mu);
        free_slot_locked(p);
        gort_mutex_unlock(&p->mu);
    }
}

/* Parks until a message comes or the deadline passes. Called with p->mu
 * held and the pool full; returns with it released. */
static int wait_turn(gort_connpool *p, int64_t deadline, struct msg *m)
{
    gort_mutex_unlock(&p->mu);
    int64_t start = gort_now();
    struct waiter w = {NULL, gort_chan_make(sizeof(struct msg), 1), true};
    gort_timer *t = NULL;
    if (w.ch && deadline != GORT_FOREVER)
        t = gort_timer_new(deadline - start);
    if (!w.ch || (deadline != GORT_FOREVER && !t)) {
        gort_chan_free(w.ch);
        return -ENOMEM;
    }
    gort_mutex_lock(&p->mu);
    /* The pool may have changed while the lock was dropped: retry. */
    if (p->closed || p->nidle > 0 ||
        (p->max_open > 0 && p->open < p->max_open)) {
        gort_mutex_unlock(&p->mu);
        gort_timer_free(t);
        gort_chan_free(w.ch);
        return -EAGAIN;
    }
    if (p->wtail)
        p->wtail->next = &w;
    else
        p->whead = &w;
    p->wtail = &w;
    p->nwaiting++;
    p->wait_count++;
    gort_mutex_unlock(&p->mu);

    int got = gort_select(
        (gort_select_case[]){
            GORT_RECV(w.ch, m, NULL),
            GORT_RECV(t ? gort_timer_chan(t) : NULL, NULL, NULL)},
        2);
    int r = 0;
    if (got == 1) {
        gort_mutex_lock(&p->mu);
        bool was_linked = w.linked;
        if (was_linked)
            unlink_waiter(p, &w);
        gort_mutex_unlock(&p->mu);
        if (!was_linked) { /* sent under the lock: it is in the channel */
            gort_chan_recv(w.ch, m);
            give_back(p, m);
        }
        r = -ETIMEDOUT;
    }
    gort_mutex_lock(&p->mu);
    p->wait_duration += gort_now() - start;
    gort_mutex_unlock(&p->mu);
    gort_timer_free(t);
    gort_chan_free(w.ch);
    return r;
}

int gort_connpool_acquire(gort_connpool *p, int64_t deadline, gort_pconn **out)
{
    if (!p || !out || (deadline < 0 && deadline != GORT_FOREVER))
        return -EINVAL;
    for (;;) {
        gort_mutex_lock(&p->mu);
        if (p->closed) {
            gort_mutex_unlock(&p->mu);
            return -ESHUTDOWN;
        }
        int64_t now = gort_now();
        if (deadline != GORT_FOREVER && now >= deadline) {
            gort_mutex_unlock(&p->mu);
            return -ETIMEDOUT;
        }
        struct gort_pconn *pc = p->idle;
        if (pc) {
            p->idle = pc->next;
            p->nidle--;
            bool life = lifetime_over(p, pc, now);
            bool idle = !life && idle_over(p, pc, now);
            if (life || idle) {
                if (life)
                    p->max_lifetime_closed++;
                else
                    p->max_idle_time_closed++;
                gort_mutex_unlock(&p->mu);
                drop(p, pc);
                continue;
            }
            p->in_use++;
            gort_mutex_unlock(&p->mu);
            if (p->ops.check && !p->ops.check(p->ops.ctx, pc->conn)) {
                gort_connpool_release(pc, true);
                continue;
            }
            pc->next = NULL;
            *out = pc;
            return 0;
        }
        if (p->max_open <= 0 || p->open < p->max_open) {
            p->open++; /* reserve the slot, then connect unlocked */
            gort_mutex_unlock(&p->mu);
            return open_conn(p, out);
        }
        struct msg m;
        int r = wait_turn(p, deadline, &m);
        if (r == -EAGAIN)
            continue;
        if (r < 0)
            return r;
        if (m.err < 0)
            return m.err;
        if (!m.pc)
            return open_conn(p, out); /* a grant */
        if (lifetime_over(p, m.pc, gort_now())) {
            gort_mutex_lock(&p->mu);
            p->max_lifetime_closed++;
            gort_mutex_unlock(&p->mu);
            gort_connpool_release(m.pc, true);
            continue;
        }
        *out = m.pc;
        return 0;
    }
}

void *gort_connpool_raw(gort_pconn *pc)
{
    return pc ? pc->conn : NULL;
}

void gort_connpool_release(gort_pconn *pc, bool broken)
{
    if (!pc)
        return;
    gort_connpool *p = pc->pool;
    int64_t now = gort_now();
    gort_mutex_lock(&p->mu);
    p->in_use--;
    bool life = !broken && lifetime_over(p, pc, now);
    if (broken || life || p->closed) {
        if (life)
            p->max_lifetime_closed++;
        gort_mutex_unlock(&p->mu);
        drop(p, pc);
        return;
    }
    struct waiter *w = pop_waiter(p);
    if (w) {
        p->in_use++;
        deliver(w, pc, 0);
        gort_mutex_unlock(&p->mu);
        return;
    }
    if (p->nidle < p->max_idle) {
        pc->returned = now;
        pc->next = p->idle;
        p->idle = pc;
        p->nidle++;
        gort_mutex_unlock(&p->mu);
        return;
    }
    p->max_idle_closed++;
    gort_mutex_unlock(&p->mu);
    drop(p, pc);
}

/* Closes idle connections past max_idle_time or max_lifetime. */
static void clean(gort_connpool *p)
{
    int64_t now = gort_now();
    struct gort_pconn *dead = NULL;
    gort_mutex_lock(&p->mu);
    for (struct gort_pconn **pp = &p->idle; *pp;) {
        struct gort_pconn *pc = *pp;
        bool life = lifetime_over(p, pc, now);
        if (life || idle_over(p, pc, now)) {
            if (life)
                p->max_lifetime_closed++;
            else
                p->max_idle_time_closed++;
            *pp = pc->next;
            p->nidle--;
            pc->next = dead;
            dead = pc;
        } else {
            pp = &pc->next;
        }
    }
    gort_mutex_unlock(&p->mu);
    while (dead) {
        struct gort_pconn *next = dead->next;
        drop(p, dead);
        dead = next;
    }
}

static void cleaner(void *arg)
{
    gort_connpool *p = arg;
    int64_t d = 0;
    if (p->max_idle_time > 0)
        d = p->max_idle_time;
    if (p->max_lifetime > 0 && (d == 0 || p->max_lifetime < d))
        d = p->max_lifetime;
    if (d < GORT_MS(1))
        d = GORT_MS(1); /* Go clamps to 1 s; tests use short limits */
    gort_timer *t = gort_timer_new(d);
    for (;;) {
        int got = gort_select(
            (gort_select_case[]){
                GORT_RECV(p->cleaner_stop, NULL, NULL),
                GORT_RECV(t ? gort_timer_chan(t) : NULL, NULL, NULL)},
            2);
        if (got != 1)
            break;
        clean(p);
        gort_timer_reset(t, d);
    }
    gort_timer_free(t);
    gort_wg_done(&p->cleaner_done);
}

int gort_connpool_new(gort_connpool **out, const gort_connpool_ops *ops,
                      const gort_connpool_config *cfg)
{
    if (!out || !ops || !ops->connect || !ops->close)
        return -EINVAL;
    if (gort_id() == 0)
        return -EPERM;
    gort_connpool *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    gort_connpool_config c = cfg ? *cfg : (gort_connpool_config){0};
    p->ops = *ops;
    p->max_open = c.max_open > 0 ? c.max_open : 0;
    p->max_idle = c.max_idle == 0 ? 2 : c.max_idle < 0 ? 0 : c.max_idle;
    if (p->max_open > 0 && p->max_idle > p->max_open)
        p->max_idle = p->max_open;
    p->max_idle_time = c.max_idle_time > 0 ? c.max_idle_time : 0;
    p->max_lifetime = c.max_lifetime > 0 ? c.max_lifetime : 0;
    p->cleaner_done = (gort_wg)GORT_WG_INIT;
    if (p->max_idle_time || p->max_lifetime) {
        p->cleaner_stop = gort_chan_make(0, 0);
        int r = p->cleaner_stop ? 0 : -ENOMEM;
        if (r == 0) {
            gort_wg_add(&p->cleaner_done, 1);
            r = gort_go(cleaner, p);
            if (r < 0)
                gort_wg_done(&p->cleaner_done);
        }
        if (r < 0) {
            gort_chan_free(p->cleaner_stop);
            free(p);
            return r;
        }
    }
    *out = p;
    return 0;
}

int gort_connpool_stats(gort_connpool *p, gort_connpool_stats_t *st)
{
    if (!p || !st)
        return -EINVAL;
    gort_mutex_lock(&p->mu);
    *st = (gort_connpool_stats_t){
        .max_open = p->max_open,
        .open = p->open,
        .in_use = p->in_use,
        .idle = p->nidle,
        .waiting = p->nwaiting,
        .wait_count = p->wait_count,
        .wait_duration = p->wait_duration,
        .max_idle_closed = p->max_idle_closed,
        .max_idle_time_closed = p->max_idle_time_closed,
        .max_lifetime_closed = p->max_lifetime_closed,
    };
    gort_mutex_unlock(&p->mu);
    return 0;
}

int gort_connpool_close(gort_connpool *p)
{
    if (!p)
        return -EINVAL;
    gort_mutex_lock(&p->mu);
    p->closed = true;
    struct waiter *w;
    while ((w = pop_waiter(p)))
        deliver(w, NULL, -ESHUTDOWN);
    struct gort_pconn *idle = p->idle;
    p->open -= p->nidle;
    p->idle = NULL;
    p->nidle = 0;
    gort_mutex_unlock(&p->mu);
    while (idle) {
        struct gort_pconn *next = idle->next;
        close_conn(p, idle);
        idle = next;
    }
    if (p->cleaner_stop) {
        gort_chan_close(p->cleaner_stop);
        gort_wg_wait(&p->cleaner_done);
        gort_chan_free(p->cleaner_stop);
    }
    gort_mutex_lock(&p->mu);
    while (p->open > 0)
        gort_cond_wait(&p->drained, &p->mu);
    gort_mutex_unlock(&p->mu);
    free(p);
    return 0;
}
