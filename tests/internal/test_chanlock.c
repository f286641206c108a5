/*
 * test_chanlock.c: white-box tests of the channel lock's modes
 * (chan/chan.h, "Plain channel locks"; chan/chanowner.c): the owner's
 * thread (the only live P, or the only P running) locks with plain
 * stores, another P revokes that before it locks, a thread without a P
 * counts itself and waits for the plain holder, and the P side falls back
 * to the CAS while a thread without a P holds or wants a lock. The
 * black-box stress versions are in tests/test_chan.c.
 *
 * Where membarrier(2) is missing solo mode stays off and every P-side
 * lock must use the CAS: the expected mode is read from sched.solo.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <pthread.h>
#include <time.h>

#include "../../chan/chan.h"
#include "../helpers/harness.h"

static uint32_t key_of(gort_chan *c)
{
    return atomic_load(&hchan_of(c)->lock.key);
}

static void lock_here(gort_chan *c)
{
    chan_lock(hchan_of(c), chan_caller_p(gort__getg()));
}

static void sleep_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL); /* blocks the thread, lock held: on purpose */
}

/* ---- The P side ---------------------------------------------------------- */

static int plain_main(void *arg)
{
    (void)arg;
    gort_chan *a = gort_chan_make(sizeof(int), 1);
    gort_chan *b = gort_chan_make(sizeof(int), 1);
    bool solo = atomic_load(&gort__sched.solo);
    uint32_t want = solo ? CHANLOCK_PLAIN : CHANLOCK_HELD;
    lock_here(a);
    CHECK_EQ(key_of(a), want);
    CHECK_EQ(atomic_load(&gort__chown.plain_held), solo ? 1 : 0);
    lock_here(b); /* a select's second lock: no new handshake */
    CHECK_EQ(key_of(b), want);
    CHECK_EQ(atomic_load(&gort__chown.plain_held), solo ? 2 : 0);
    chan_unlock(hchan_of(b));
    chan_unlock(hchan_of(a));
    CHECK_EQ(key_of(a), CHANLOCK_FREE);
    CHECK_EQ(key_of(b), CHANLOCK_FREE);
    CHECK_EQ(atomic_load(&gort__chown.plain_held), 0);
    gort_chan_free(a);
    gort_chan_free(b);
    return 0;
}

Test(chanlock, the_only_p_locks_plainly_and_nests_for_a_select)
{
    run(1, plain_main, NULL);
}

/* await_owner waits (spinning: parking could hand our P away) until the
 * other Ps are idle and ours is named the channel owner; false if that
 * never happens, as without membarrier(2). */
static bool await_owner(void)
{
    struct p *me = gort__getm()->p;
    int64_t until = now_ns() + 2000000000LL;
    while (now_ns() < until) {
        if (atomic_load(&gort__chown.owner) == me &&
            atomic_load(&gort__chown.plain_ok))
            return true;
        sleep_ms(1);
    }
    return false;
}

static int running_alone_main(void *arg)
{
    (void)arg;
    gort_chan *a = gort_chan_make(sizeof(int), 1);
    CHECK(!atomic_load(&gort__sched.solo));
    if (!await_owner()) { /* no membarrier: the CAS, always */
        lock_here(a);
        CHECK_EQ(key_of(a), CHANLOCK_HELD);
        chan_unlock(hchan_of(a));
        gort_chan_free(a);
        return 0;
    }
    lock_here(a);
    CHECK_EQ(key_of(a), CHANLOCK_PLAIN);
    CHECK_EQ(atomic_load(&gort__chown.plain_held), 1);
    chan_unlock(hchan_of(a));
    CHECK_EQ(key_of(a), CHANLOCK_FREE);
    CHECK_EQ(atomic_load(&gort__chown.plain_held), 0);
    gort_chan_free(a);
    return 0;
}

Test(chanlock, with_several_ps_the_only_one_running_locks_plainly)
{
    run(2, running_alone_main, NULL);
}

struct second {
    gort_chan *c;
    struct p *pp;            /* the P it ran on */
    _Atomic bool started;    /* it is about to lock */
    _Atomic bool locked;     /* it holds the lock now */
    _Atomic bool done;
    uint32_t mode;           /* the key it saw while holding */
};

static void second_locker(void *arg)
{
    struct second *s = arg;
    s->pp = gort__getm()->p;
    atomic_store(&s->started, true);
    lock_here(s->c);
    s->mode = key_of(s->c);
    atomic_store(&s->locked, true);
    chan_unlock(hchan_of(s->c));
    atomic_store(&s->done, true);
}

static int revoke_main(void *arg)
{
    (void)arg;
    gort_chan *a = gort_chan_make(sizeof(int), 1);
    gort_chan *b = gort_chan_make(sizeof(int), 1);
    struct second s = {.c = gort_chan_make(sizeof(int), 1)};
    if (!await_owner())
        return 0; /* no membarrier: nothing to revoke */
    struct p *me = gort__getm()->p;
    lock_here(a);
    CHECK_EQ(key_of(a), CHANLOCK_PLAIN);
    /* We keep the thread (sleep_ms blocks it), so the idle P steals the
     * new goroutine from our runnext and runs it. */
    CHECK_EQ(gort_go(second_locker, &s), 0);
    int64_t until = now_ns() + 5000000000LL;
    while (!atomic_load(&s.started) && now_ns() < until)
        sleep_ms(1);
    CHECK(atomic_load(&s.started));
    CHECK(s.pp != me);
    while (atomic_load(&gort__chown.owner) != NULL && now_ns() < until)
        sleep_ms(1);
    CHECK(atomic_load(&gort__chown.owner) == NULL); /* revoking */
    CHECK(atomic_load(&gort__chown.revoked_owner) == me);
    sleep_ms(50);
    CHECK(!atomic_load(&s.locked)); /* it waits for our plain section */
    /* A select's further lock stays plain: the revoker waits for it. */
    lock_here(b);
    CHECK_EQ(key_of(b), CHANLOCK_PLAIN);
    CHECK_EQ(atomic_load(&gort__chown.plain_held), 2);
    chan_unlock(hchan_of(b));
    chan_unlock(hchan_of(a));
    while (!atomic_load(&s.done) && now_ns() < until)
        sleep_ms(1);
    CHECK(atomic_load(&s.done));
    CHECK_EQ(s.mode, CHANLOCK_HELD);
    CHECK(!atomic_load(&gort__chown.plain_ok));
    CHECK_EQ(atomic_load(&gort__chown.plain_held), 0);
    gort_chan_free(a);
    gort_chan_free(b);
    gort_chan_free(s.c);
    return 0;
}

Test(chanlock, a_second_p_revokes_the_owner_and_waits_for_its_plain_locks)
{
    run(2, revoke_main, NULL);
}

/* ---- Threads without a P ------------------------------------------------- */

struct foreign {
    gort_chan *c;
    int hold_ms;             /* how long it keeps the lock */
    _Atomic bool locked;     /* it holds the lock now */
    _Atomic bool done;       /* it released it */
    uint32_t mode;           /* the key it saw while holding */
};

static void *foreign_locker(void *arg)
{
    struct foreign *f = arg;
    CHECK(chan_caller_p(NULL) == NULL);
    chan_lock(hchan_of(f->c), NULL);
    f->mode = key_of(f->c);
    atomic_store(&f->locked, true);
    sleep_ms(f->hold_ms);
    chan_unlock(hchan_of(f->c));
    atomic_store(&f->done, true);
    return NULL;
}

static int waits_main(void *arg)
{
    (void)arg;
    struct foreign f = {.c = gort_chan_make(sizeof(int), 1)};
    lock_here(f.c);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, foreign_locker, &f) == 0);
    int64_t until = now_ns() + 2000000000LL;
    while (atomic_load(&gort__chown.foreign) == 0 && now_ns() < until)
        sleep_ms(1);
    CHECK_EQ(atomic_load(&gort__chown.foreign), 1); /* counted */
    sleep_ms(50);
    CHECK(!atomic_load(&f.locked)); /* still waiting for us */
    chan_unlock(hchan_of(f.c));
    pthread_join(th, NULL);
    CHECK(atomic_load(&f.done));
    CHECK_EQ(f.mode, CHANLOCK_FOREIGN);
    CHECK_EQ(key_of(f.c), CHANLOCK_FREE);
    CHECK_EQ(atomic_load(&gort__chown.foreign), 0);
    gort_chan_free(f.c);
    return 0;
}

Test(chanlock, a_thread_without_a_p_waits_for_the_p_holder)
{
    run(1, waits_main, NULL);
}

static int fallback_main(void *arg)
{
    (void)arg;
    struct foreign f = {.c = gort_chan_make(sizeof(int), 1), .hold_ms = 50};
    gort_chan *other = gort_chan_make(sizeof(int), 1);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, foreign_locker, &f) == 0);
    int64_t until = now_ns() + 2000000000LL;
    while (!atomic_load(&f.locked) && now_ns() < until)
        sleep_ms(1);
    CHECK(atomic_load(&f.locked));
    /* While it is counted, even a channel it does not hold is locked with
     * the CAS: a plain store could not see the foreign thread. */
    lock_here(other);
    CHECK_EQ(key_of(other), CHANLOCK_HELD);
    CHECK_EQ(atomic_load(&gort__chown.plain_held), 0);
    chan_unlock(hchan_of(other));
    /* Its own channel: we wait until it lets go, then hold it. */
    lock_here(f.c);
    uint32_t k = key_of(f.c);
    CHECK(k == CHANLOCK_HELD || k == CHANLOCK_PLAIN);
    chan_unlock(hchan_of(f.c));
    pthread_join(th, NULL);
    CHECK(atomic_load(&f.done));
    CHECK_EQ(atomic_load(&gort__chown.foreign), 0);
    gort_chan_free(f.c);
    gort_chan_free(other);
    return 0;
}

Test(chanlock, the_p_side_uses_the_cas_while_a_thread_without_a_p_holds_one)
{
    run(1, fallback_main, NULL);
}
