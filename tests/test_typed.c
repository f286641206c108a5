/*
 * test_typed.c: typed channels (include/gort/typed.h) and the
 * range-over-channel macro GORT_CHAN_RANGE (include/gort/chan.h): values
 * of scalar and struct types sent as rvalues, receive with ok, close,
 * select cases of two families, the send-only and receive-only ends, and
 * the compile-time checks (element size, direction, element type), which
 * are tested by running the compiler on small programs.
 *
 * The harness is tests/helpers/harness.h; the compile checks assume the
 * tests run from the repository root (as make test runs them) and use
 * $CC or cc.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gort.h>
#include <gort/typed.h>

#include "helpers/harness.h"

struct point {
    int x, y;
    char tag[24];
};

GORT_CHAN_DECLARE(intch, int);
GORT_CHAN_DECLARE(pointch, struct point);
GORT_CHAN_DECLARE(dblch, double);

static int basics_main(void *arg)
{
    (void)arg;
    intch c = intch_make(3);
    CHECK(c.c != NULL);
    intch_send(c, 40 + 2); /* an rvalue */
    intch_send(c, 7);
    CHECK_EQ(intch_len(c), 2);
    CHECK_EQ(intch_cap(c), 3);
    int v = 0;
    CHECK(intch_recv(c, &v));
    CHECK_EQ(v, 42);
    CHECK(intch_trysend(c, 8));
    bool ok = false;
    CHECK(intch_tryrecv(c, &v, &ok));
    CHECK(ok);
    CHECK_EQ(v, 7);
    intch_close(c);
    CHECK(intch_recv(c, &v)); /* buffered values outlive the close */
    CHECK_EQ(v, 8);
    v = 99;
    CHECK(!intch_recv(c, &v)); /* closed and drained: zero, not ok */
    CHECK_EQ(v, 0);
    CHECK(!intch_recv(c, NULL));
    intch_free(c);

    pointch p = pointch_make(1);
    pointch_send(p, (struct point){1, 2, "struct by value"});
    struct point q;
    CHECK(pointch_recv(p, &q));
    CHECK_EQ(q.x + q.y, 3);
    CHECK_EQ(strcmp(q.tag, "struct by value"), 0);
    pointch_free(p);

    intch nil = {NULL}; /* a nil channel: never ready */
    CHECK(!intch_trysend(nil, 1));
    CHECK(!intch_tryrecv(nil, &v, &ok));
    return 0;
}

Test(typed, values_go_in_as_rvalues_and_come_out_with_ok)
{
    run(1, basics_main, NULL);
}

static void dbl_sender(void *arg)
{
    dblch d = {(gort_chan *)arg};
    dblch_send(d, 2.5);
}

static int select_main(void *arg)
{
    (void)arg;
    intch a = intch_make(0);
    dblch d = dblch_make(0);
    CHECK_EQ(gort_go(dbl_sender, d.c), 0);
    int iv = 0;
    double dv = 0;
    bool ok = false;
    gort_select_case cs[] = {intch_recv_case(a, &iv, NULL),
                             dblch_recv_case(d, &dv, &ok)};
    CHECK_EQ(gort_select(cs, 2), 1);
    CHECK(ok);
    CHECK(dv == 2.5);
    int one = 1;
    gort_select_case ss[] = {intch_send_case(a, &one)};
    CHECK_EQ(gort_select_try(ss, 1), GORT_SELECT_DEFAULT); /* no receiver */
    settle();
    intch_free(a);
    dblch_free(d);
    return 0;
}

Test(typed, select_cases_of_two_families_mix_in_one_select)
{
    run(2, select_main, NULL);
}

/* Go's producer(out chan<- int) and consumer(in <-chan int). */
static void producer(void *arg)
{
    intch_sendonly out = *(intch_sendonly *)arg;
    for (int i = 1; i <= 100; i++)
        intch_sendonly_send(out, i);
    intch_sendonly_close(out); /* Go allows close on a send-only end */
    intch_sendonly_free(out);
}

static int ends_main(void *arg)
{
    (void)arg;
    intch c = intch_make(0);
    intch_sendonly out = intch_sendonly_retain(intch_sender(c));
    CHECK_EQ(gort_go_copy(producer, &out, sizeof out), 0);
    intch_recvonly in = intch_receiver(c);
    long sum = 0;
    int n = 0;
    GORT_CHAN_RANGE(int, v, in.c) {
        sum += v;
        n++;
    }
    CHECK_EQ(n, 100);
    CHECK_EQ(sum, 5050);
    int v = 5;
    CHECK(!intch_recvonly_recv(in, &v));
    CHECK_EQ(v, 0);
    bool ok = true;
    CHECK(intch_recvonly_tryrecv(in, &v, &ok));
    CHECK(!ok);
    settle();
    intch_free(c);
    return 0;
}

Test(typed, send_only_and_receive_only_ends_carry_a_range_loop)
{
    run(2, ends_main, NULL);
}

/* The untyped channel ranges too; break leaves it open. */
static int range_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(long), 4);
    for (long i = 0; i < 4; i++)
        gort_chan_send(c, &i);
    long seen = 0;
    GORT_CHAN_RANGE(long, v, c) {
        if (v == 2)
            break;
        seen += v + 1;
    }
    CHECK_EQ(seen, 3);
    CHECK_EQ(gort_chan_len(c), 1);
    gort_chan_close(c);
    GORT_CHAN_RANGE(long, v, c)
        seen += v;
    CHECK_EQ(seen, 6);
    gort_chan_free(c);
    return 0;
}

Test(typed, range_macro_receives_until_close_and_break_leaves_early)
{
    run(1, range_main, NULL);
}

/* ---- Compile-time checks ------------------------------------------------ */

/* compiles runs the C compiler on body (after the includes) and returns
 * whether it compiled without a diagnostic (-Werror). */
static bool compiles(const char *body)
{
    char path[] = "/tmp/gort-typed-XXXXXX.c";
    int fd = mkstemps(path, 2);
    cr_assert(ge(int, fd, 0));
    FILE *f = fdopen(fd, "w");
    fprintf(f, "#include <gort.h>\n#include <gort/typed.h>\n%s\n", body);
    fclose(f);
    const char *cc = getenv("CC");
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "%s -std=c11 -Wall -Wextra -Werror -Iinclude -fsyntax-only %s "
             "2>/dev/null",
             cc && *cc ? cc : "cc", path);
    int st = system(cmd);
    unlink(path);
    cr_assert(ne(int, st, -1));
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

Test(typed, element_size_direction_and_type_are_checked_at_compile_time)
{
    cr_assert(eq(int, access("include/gort/typed.h", R_OK), 0),
              "run from the repository root");
    /* The control: a correct program compiles, so a failure below is the
     * check, not a missing compiler. */
    cr_assert(compiles("GORT_CHAN_DECLARE(ic, int);\n"
                       "void f(ic c) { int v; ic_send(c, 1);"
                       " (void)ic_recv(c, &v);"
                       " ic_recvonly r = ic_receiver(c); (void)r;"
                       " ic_sendonly s = ic_sender(c); ic_sendonly_close(s); }"));
    cr_assert(compiles("struct big { char b[65535]; };\n"
                       "GORT_CHAN_DECLARE(bc, struct big);"));
    /* Go's limit: elements of 64 KiB or more. */
    cr_assert(not(compiles("struct big { char b[65536]; };\n"
                           "GORT_CHAN_DECLARE(bc, struct big);")));
    /* Receiving from a send-only end, sending or closing on a
     * receive-only end: Go rejects them at compile time. */
    cr_assert(not(compiles("GORT_CHAN_DECLARE(ic, int);\n"
                           "void f(ic_sendonly s) { int v;"
                           " (void)ic_sendonly_recv(s, &v); }")));
    cr_assert(not(compiles("GORT_CHAN_DECLARE(ic, int);\n"
                           "void f(ic_recvonly r) { ic_recvonly_send(r, 1); }")));
    cr_assert(not(compiles("GORT_CHAN_DECLARE(ic, int);\n"
                           "void f(ic_recvonly r) { ic_recvonly_close(r); }")));
    /* Element types and families do not mix. */
    cr_assert(not(compiles("GORT_CHAN_DECLARE(ic, int);\n"
                           "void f(ic c) { double d; (void)ic_recv(c, &d); }")));
    cr_assert(not(compiles("GORT_CHAN_DECLARE(ic, int);\n"
                           "GORT_CHAN_DECLARE(dc, double);\n"
                           "void f(dc d) { ic_send(d, 1); }")));
    cr_assert(not(compiles("GORT_CHAN_DECLARE(ic, int);\n"
                           "void f(gort_chan *raw) { ic_send(raw, 1); }")));
}
