/*
 * sync.c: the fault driver's sync program (tests/faults/run.sh): workers
 * share a mutex-guarded counter, a rwmutex-guarded table, a cond-signalled
 * queue, a weighted semaphore, a once and a pool, and a waitgroup waits for
 * them. Checks the counts at the end; every error return is reported
 * (prog.h) after the goroutines already started are wound down.
 */
#include "prog.h"

#include <errno.h>
#include <stdint.h>

const char *prog_name = "sync";

enum { NWORKERS = 8, ROUNDS = 200 };

static gort_mutex mu = GORT_MUTEX_INIT;
static long counter;
static gort_rwmutex rw = GORT_RWMUTEX_INIT;
static long table[4];
static gort_cond nonempty = GORT_COND_INIT;
static int queued;
static gort_sema sema = GORT_SEMA_INIT(3);
static gort_once once = GORT_ONCE_INIT;
static _Atomic int inits;
static gort_wg workers = GORT_WG_INIT;

static void *obj_new(void *arg) { (void)arg; return malloc(64); }
static void obj_free(void *x, void *arg) { (void)arg; free(x); }
static gort_pool pool = GORT_POOL_INIT(obj_new, obj_free, NULL);

static void init_once(void *arg) { (void)arg; inits++; }

static void worker(void *arg)
{
    int id = *(int *)arg;
    gort_once_do(&once, init_once, NULL);
    for (int i = 0; i < ROUNDS; i++) {
        gort_mutex_lock(&mu);
        counter++;
        gort_mutex_unlock(&mu);
        if (i % 16 == 0) {
            gort_rwmutex_lock(&rw);
            table[id % 4]++;
            gort_rwmutex_unlock(&rw);
        } else {
            gort_rwmutex_rlock(&rw);
            long x = table[id % 4];
            (void)x;
            gort_rwmutex_runlock(&rw);
        }
        if (gort_sema_acquire(&sema, 1 + i % 2) == 0)
            gort_sema_release(&sema, 1 + i % 2);
        void *o = gort_pool_get(&pool);
        if (o != NULL)
            gort_pool_put(&pool, o);
        if (i % 32 == 0)
            gort_yield();
    }
    gort_mutex_lock(&mu);
    queued++;
    gort_cond_signal(&nonempty);
    gort_mutex_unlock(&mu);
}

static int sync_main(void *arg)
{
    (void)arg;
    int rc = 0, started = 0;
    for (; started < NWORKERS; started++) {
        int err = gort_wg_go_copy(&workers, worker, &started, sizeof started);
        if (err != 0) {
            rc = report("gort_wg_go_copy", err);
            break;
        }
    }
    gort_mutex_lock(&mu);
    while (queued < started)
        gort_cond_wait(&nonempty, &mu);
    gort_mutex_unlock(&mu);
    gort_wg_wait(&workers);
    if (counter != (long)started * ROUNDS || (started > 0 && inits != 1)) {
        fprintf(stderr, "sync: FAIL: counter %ld inits %d for %d workers\n",
                counter, (int)inits, started);
        rc = 1;
    }
    gort_pool_destroy(&pool);
    return rc;
}

int main(void) { return main_of(sync_main); }
