/*
 * lostupdate.c: a lost update for the seed explorer (docs/deterministic.md).
 * Three goroutines add to a shared balance, the last one three times;
 * its last deposit reads the balance, yields (standing for any call that
 * may switch goroutines: a log write, a channel send) and writes it back,
 * without a lock. Schedules where another deposit falls in that window
 * lose it. With the argument "lock" the section holds a
 * gort_mutex and no schedule loses one.
 *
 *   GORT_MAXPROCS=2 tools/seed-explore.sh -- build/default/examples/lostupdate
 *   GORT_MAXPROCS=2 GORT_DEBUG=deterministic=SEED build/default/examples/lostupdate
 *
 * Exits 1 when a deposit was lost.
 */
#include <gort.h>
#include <stdio.h>
#include <string.h>

static long balance;
static gort_mutex mu;
static int locked;

static void deposit(void *arg)
{
    long amount = (long)(intptr_t)arg;
    int n = amount == 100 ? 3 : 1;
    for (int i = 0; i < n; i++) {
        if (locked)
            gort_mutex_lock(&mu);
        long b = balance;
        if (i == 2 && amount == 100) /* one deposit has the window */
            gort_yield();
        balance = b + amount;
        if (locked)
            gort_mutex_unlock(&mu);
        gort_yield();
    }
}

static int main_fn(void *arg)
{
    (void)arg;
    gort_wg wg = {0};
    gort_wg_go(&wg, deposit, (void *)(intptr_t)1);
    gort_wg_go(&wg, deposit, (void *)(intptr_t)10);
    gort_wg_go(&wg, deposit, (void *)(intptr_t)100);
    gort_wg_wait(&wg);
    printf("balance %ld (want 311)\n", balance);
    return balance == 311 ? 0 : 1;
}

int main(int argc, char **argv)
{
    locked = argc > 1 && strcmp(argv[1], "lock") == 0;
    int rc = gort_run(main_fn, NULL);
    if (rc < 0) {
        fprintf(stderr, "gort_run: %s\n", gort_strerror(rc));
        return 2;
    }
    return rc;
}
