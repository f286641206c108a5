/*
 * gort/pool.h: a pool of connections (Go: the pool inside database/sql's
 * DB), generic over what a connection is.
 *
 * The pool opens connections through the caller's callbacks, hands them
 * to goroutines one at a time, keeps up to max_idle of them for reuse and
 * never has more than max_open open at once; past that, acquirers wait in
 * order of arrival, each until its own deadline. Connections that stayed
 * idle too long or lived too long are closed, by a cleaner goroutine and
 * at acquire. Not to be confused with gort_pool (Go: sync.Pool), a cache
 * of free objects. Included by <gort.h>; callable from goroutines only.
 */
#ifndef GORT_POOL_H
#define GORT_POOL_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef GORT_API /* so the header also compiles alone (make check-headers) */
#define GORT_API __attribute__((visibility("default")))
#endif

typedef struct gort_connpool gort_connpool;
/* One open connection as the pool tracks it; gort_connpool_raw gives the
 * caller's own connection back. */
typedef struct gort_pconn gort_pconn;

/*
 * What a connection is: the pool calls these on the acquiring or
 * releasing goroutine, never under its own lock, so they may block (wrap
 * blocking C calls in GORT_SYSCALL) or park (gort_read and friends).
 */
typedef struct gort_connpool_ops {
    /* Open one connection into *conn. Returns 0 or a negative errno,
     * which gort_connpool_acquire returns. Required. */
    int (*connect)(void *ctx, void **conn);
    /* Close a connection the pool drops. Required. */
    void (*close)(void *ctx, void *conn);
    /* Optional: called on an idle connection before it is handed out
     * again (Go: driver.Validator); false drops it and the pool tries
     * the next one or opens a new one. */
    bool (*check)(void *ctx, void *conn);
    void *ctx; /* passed to each callback */
} gort_connpool_ops;

/* Limits (Go: DB.SetMaxOpenConns and friends). Zero fields take Go's
 * defaults: no limit on open connections, 2 idle ones kept, no idle
 * time or lifetime limit. */
typedef struct gort_connpool_config {
    int max_open;          /* <= 0: unlimited */
    int max_idle;          /* 0: 2; < 0: keep none; clamped to max_open */
    int64_t max_idle_time; /* ns an idle connection is kept; <= 0: forever */
    int64_t max_lifetime;  /* ns from open to close; <= 0: forever */
} gort_connpool_config;

/* Go: sql.DBStats. A snapshot; counters are monotonic. */
typedef struct gort_connpool_stats_t {
    int max_open; /* the limit; 0: unlimited */
    int open;     /* in use + idle (+ being opened) */
    int in_use;
    int idle;
    int waiting;                   /* acquirers waiting now */
    uint64_t wait_count;           /* acquires that had to wait */
    int64_t wait_duration;         /* ns waited, all of them together */
    uint64_t max_idle_closed;      /* closed because max_idle was reached */
    uint64_t max_idle_time_closed; /* closed for max_idle_time */
    uint64_t max_lifetime_closed;  /* closed for max_lifetime */
} gort_connpool_stats_t;

/*
 * gort_connpool_new makes a pool; it opens nothing until asked. With
 * max_idle_time or max_lifetime set, it starts a cleaner goroutine that
 * closes expired idle connections. Never parks. cfg may be NULL
 * (defaults). Must be called from a goroutine.
 * Returns 0 and *out, or:
 *   -EINVAL  out or ops NULL, or ops lacks connect or close.
 *   -ENOMEM  out of memory.
 *   -EPERM   called from a thread that is not a goroutine.
 */
GORT_API int gort_connpool_new(gort_connpool **out,
                               const gort_connpool_ops *ops,
                               const gort_connpool_config *cfg);

/*
 * gort_connpool_acquire hands the caller a connection (Go: DB.Conn): an
 * idle one that is not expired and passes ops.check, else a new one while
 * fewer than max_open are open, else it parks until another goroutine
 * releases one or deadline (an absolute gort_now() time; GORT_FOREVER:
 * none) passes. Waiters are served in arrival order. Can park.
 * Returns 0 and *out, or:
 *   -ETIMEDOUT  the deadline passed first (also when it had passed on entry).
 *   -ESHUTDOWN  the pool is closing.
 *   -EINVAL     p or out NULL, or deadline negative and not GORT_FOREVER.
 *   -ENOMEM     out of memory.
 *   what ops.connect returned, when opening a connection failed.
 */
GORT_API int gort_connpool_acquire(gort_connpool *p, int64_t deadline,
                                   gort_pconn **out);

/* gort_connpool_raw returns the caller's connection behind pc (what
 * ops.connect stored). Never parks. */
GORT_API void *gort_connpool_raw(gort_pconn *pc);

/*
 * gort_connpool_release gives pc back. broken says the connection failed
 * (the server went away, a protocol error): the pool closes it instead of
 * reusing it (Go: driver.ErrBadConn). A healthy one goes to the first
 * waiter, else to the idle list, else (max_idle reached) is closed.
 * pc must not be used afterwards. May call ops.close; never parks
 * otherwise.
 */
GORT_API void gort_connpool_release(gort_pconn *pc, bool broken);

/* gort_connpool_stats fills *st (Go: DB.Stats). Returns 0, or -EINVAL. */
GORT_API int gort_connpool_stats(gort_connpool *p, gort_connpool_stats_t *st);

/*
 * gort_connpool_close shuts p down and frees it (Go: DB.Close, which does
 * not wait; this does, so that p can be freed): acquirers waiting now and
 * later get -ESHUTDOWN, idle connections are closed at once, connections
 * in use are closed as they are released, and the call parks until the
 * last one is. A goroutine must not close a pool while it holds one of
 * its connections. Returns 0, or -EINVAL if p is NULL.
 */
GORT_API int gort_connpool_close(gort_connpool *p);

#ifdef __cplusplus
}
#endif

#endif /* GORT_POOL_H */
