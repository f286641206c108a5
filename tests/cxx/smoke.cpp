// smoke.cpp: the public headers used from C++ (issue 17, item 7). Built
// with g++ and clang++ by `make test-build` and run by `make test`; it
// exits 0 when every check passed and prints the first one that did not.
//
// It compiles every header as C++ (C linkage, no C11-only keywords, the
// inline fast paths of sync.h and atomic.h), builds select cases with the
// C++ forms of GORT_SEND/GORT_RECV, and runs goroutines, a channel, a
// select, a mutex, a wait group, a timer, an atomic counter and a typed
// channel once.
#include <gort.h>
#include <gort/atomic.h>
#include <gort/typed.h>

#include <cstdio>
#include <cstdlib>

GORT_CHAN_DECLARE(intch, int);

namespace {

int failures = 0;

void check(bool ok, const char *what)
{
    if (!ok && failures++ == 0)
        std::fprintf(stderr, "cxx smoke: %s failed\n", what);
}

struct shared {
    gort_chan *c;
    gort_mutex mu;
    gort_wg wg;
    int64_t hits;
    long total;
};

struct job {
    shared *s;
    int v;
};

void worker(void *arg)
{
    job *j = static_cast<job *>(arg); // a by-value copy (gort_go_copy)
    gort_mutex_lock(&j->s->mu);
    j->s->total += j->v;
    gort_mutex_unlock(&j->s->mu);
    gort_atomic_add_int64(&j->s->hits, 1);
    gort_chan_send(j->s->c, &j->v);
    gort_wg_done(&j->s->wg);
}

int main_fn(void *)
{
    shared s = {};
    s.c = gort_chan_make(sizeof(int), 4);
    check(s.c != nullptr, "gort_chan_make");
    const int n = 8;
    gort_wg_add(&s.wg, n);
    for (int i = 1; i <= n; i++) {
        job j = {&s, i};
        check(gort_go_copy(worker, &j, sizeof j) == 0, "gort_go_copy");
    }
    long got = 0;
    for (int i = 0; i < n; i++) {
        int v = 0;
        bool ok = false;
        gort_select_case cs[] = {GORT_RECV(s.c, &v, &ok),
                                 GORT_RECV(nullptr, nullptr, nullptr)};
        check(gort_select(cs, 2) == 0 && ok, "gort_select");
        got += v;
    }
    gort_wg_wait(&s.wg);
    check(got == n * (n + 1) / 2, "values received");
    check(s.total == got, "mutex-protected total");
    check(gort_atomic_load_int64(&s.hits) == n, "atomic counter");

    int one = 1;
    gort_select_case send[] = {GORT_SEND(s.c, &one)};
    check(gort_select_try(send, 1) == 0, "send case");
    gort_chan_close(s.c);
    int v = 0;
    check(gort_chan_recv(s.c, &v) && v == 1, "buffered value after close");
    check(!gort_chan_recv(s.c, &v), "closed channel");
    gort_chan_free(s.c);

    intch tc = intch_make(2); // typed channels, and the range macro
    intch_send(tc, 20);
    intch_sendonly_send(intch_sender(tc), 22);
    intch_close(tc);
    int tsum = 0;
    GORT_CHAN_RANGE(int, x, intch_receiver(tc).c)
        tsum += x;
    check(tsum == 42, "typed channel");
    intch_free(tc);

    gort_timer *t = gort_timer_new(GORT_MS(1));
    int64_t when = 0;
    check(gort_chan_recv(gort_timer_chan(t), &when) && when > 0, "timer");
    gort_timer_free(t);
    long r = GORT_SYSCALL(0L + 1);
    check(r == 1, "GORT_SYSCALL");
    check(gort_strerror(-9) != nullptr, "gort_strerror");
    return failures == 0 ? 0 : 1;
}

} // namespace

int main()
{
    int rc = gort_run(main_fn, nullptr);
    if (rc != 0)
        std::fprintf(stderr, "cxx smoke: exit %d (%d checks failed)\n", rc,
                     failures);
    return rc == 0 ? 0 : 1;
}
