/*
 * test_policy.c: GORT_SCHED parsing (every key and value accepted, bad
 * ones rejected with a message saying what is wanted, gort_run failing on
 * them) and the run-queue variants behind the knobs: the owner's and the
 * thieves' ends under thief=oldest, alone and racing, and the steal
 * amounts. tests/policies.sh runs the guarantee suites under each knob.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

/* parse runs gort__policy_parse_str(s) with stderr captured into msg. */
static int parse(const char *s, char *msg, size_t len)
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    cr_assert(tmp != NULL);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    int rc = gort__policy_parse_str(s);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(msg, 1, len - 1, tmp);
    msg[n] = '\0';
    fclose(tmp);
    return rc;
}

static void reset(void)
{
    cr_assert(eq(int, gort__policy_parse_str(NULL), 0));
}

TestSuite(policy, .fini = reset);

Test(policy, no_setting_gives_the_default_policy)
{
    char msg[256];
    cr_assert(eq(int, parse("", msg, sizeof msg), 0));
    cr_assert(not(gort__pol.custom));
    cr_assert(eq(int, gort__pol.steal, POL_STEAL_HALF));
    cr_assert(eq(u32, gort__pol.fairtick, 61));
    cr_assert(eq(i64, gort__pol.slice_ns, 10000000));
    cr_assert(gort__pol.runnext);
    cr_assert(eq(str, msg, ""));
}

Test(policy, naming_every_default_keeps_the_default_paths)
{
    char msg[256];
    cr_assert(eq(int, parse("steal=half,victim=random,thief=head,"
                            "spawn=depthfirst,runnext=on,globalcheck=61,"
                            "slice=10ms,spin=half,preempt=global",
                            msg, sizeof msg), 0));
    cr_assert(not(gort__pol.custom));
}

struct accepted {
    const char *kv;
    size_t off, size;
    long long want;
};

#define FIELD(f) offsetof(struct policy, f), sizeof(((struct policy *)0)->f)

static long long field(size_t off, size_t size)
{
    const char *p = (const char *)&gort__pol + off;
    switch (size) {
    case 1: return *(const uint8_t *)p;
    case 4: return *(const int32_t *)p;
    default: return *(const int64_t *)p;
    }
}

Test(policy, every_key_takes_each_of_its_values)
{
    static const struct accepted cases[] = {
        {"steal=one", FIELD(steal), POL_STEAL_ONE},
        {"steal=allbutone", FIELD(steal), POL_STEAL_ALLBUTONE},
        {"victim=roundrobin", FIELD(victim), POL_VICTIM_ROUNDROBIN},
        {"victim=nearest", FIELD(victim), POL_VICTIM_NEAREST},
        {"thief=oldest", FIELD(thief), POL_THIEF_OLDEST},
        {"spawn=go", FIELD(spawn), POL_SPAWN_GO},
        {"spawn=fifo", FIELD(spawn), POL_SPAWN_FIFO},
        {"runnext=off", FIELD(runnext), 0},
        {"globalcheck=2", FIELD(fairtick), 2},
        {"globalcheck=7", FIELD(fairtick), 7},
        {"slice=2ms", FIELD(slice_ns), 2000000},
        {"slice=500us", FIELD(slice_ns), 500000},
        {"slice=1s", FIELD(slice_ns), 1000000000},
        {"slice=250000ns", FIELD(slice_ns), 250000},
        {"spin=all", FIELD(spin), -1},
        {"spin=1", FIELD(spin), 1},
        {"preempt=local", FIELD(preempt), POL_PREEMPT_LOCAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[256];
        cr_assert(eq(int, parse(cases[i].kv, msg, sizeof msg), 0),
                  "%s: %s", cases[i].kv, msg);
        cr_assert(gort__pol.custom, "%s", cases[i].kv);
        cr_assert(eq(i64, field(cases[i].off, cases[i].size), cases[i].want),
                  "%s", cases[i].kv);
    }
}

Test(policy, several_keys_combine_and_the_last_one_wins)
{
    char msg[256];
    cr_assert(eq(int, parse("steal=one,thief=oldest,steal=allbutone", msg,
                            sizeof msg), 0));
    cr_assert(eq(int, gort__pol.steal, POL_STEAL_ALLBUTONE));
    cr_assert(eq(int, gort__pol.thief, POL_THIEF_OLDEST));
}

struct rejected {
    const char *kv, *msg;
};

Test(policy, bad_settings_are_rejected_saying_what_is_wanted)
{
    static const struct rejected cases[] = {
        {"steal=two", "steal=two: want half, one or allbutone"},
        {"victim=far", "victim=far: want random, roundrobin or nearest"},
        {"thief=tail", "thief=tail: want head or oldest"},
        {"spawn=lifo", "spawn=lifo: want depthfirst, go or fifo"},
        {"runnext=1", "runnext=1: want on or off"},
        {"globalcheck=0", "globalcheck=0: want a count of picks"},
        {"globalcheck=1", "globalcheck=1: want a count of picks from 2"},
        {"globalcheck=x", "globalcheck=x: want a count of picks"},
        {"slice=10", "slice=10: want a duration from 100us to 60s"},
        {"slice=10us", "slice=10us: want a duration from 100us to 60s"},
        {"slice=-1ms", "slice=-1ms: want a duration"},
        {"spin=0", "spin=0: want half, all or a count"},
        {"spin=999", "spin=999: want half, all or a count"},
        {"preempt=tail", "preempt=tail: want global or local"},
        {"stael=one", "unknown setting stael (want steal, victim"},
        {"steal", "GORT_SCHED=steal: want key=value"},
        {"steal=", "steal=: want half, one or allbutone"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[512];
        cr_assert(eq(int, parse(cases[i].kv, msg, sizeof msg), -EINVAL),
                  "%s accepted", cases[i].kv);
        cr_assert(strstr(msg, cases[i].msg) != NULL, "%s: got \"%s\"", cases[i].kv,
                  msg);
        cr_assert(not(gort__pol.custom), "%s left a policy", cases[i].kv);
    }
}

Test(policy, an_overlong_setting_is_rejected)
{
    char big[400], msg[256];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert(eq(int, parse(big, msg, sizeof msg), -EINVAL));
    cr_assert(strstr(msg, "longer than") != NULL);
}

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

Test(policy, gort_run_fails_on_a_bad_gort_sched)
{
    setenv("GORT_SCHED", "steal=most", 1);
    int rc = gort_run(nothing, NULL);
    unsetenv("GORT_SCHED");
    cr_assert(eq(int, rc, -EINVAL));
    cr_assert(eq(int, gort_run(nothing, NULL), 0));
}

Test(policy, nearest_victims_cover_every_other_p_once)
{
    cr_assert(eq(int, gort__policy_parse_str("victim=nearest"), 0));
    for (int32_t procs = 1; procs <= 9; procs++)
        for (int32_t self = 0; self < procs; self++) {
            bool seen[16] = {false};
            for (int32_t k = 0; k < procs; k++) {
                uint32_t v = gort__pol_victim(self, 0, k, procs);
                cr_assert(lt(u32, v, (uint32_t)procs));
                cr_assert(not(seen[v]), "procs %d self %d k %d", procs, self,
                          k);
                seen[v] = true;
            }
        }
    cr_assert(eq(u32, gort__pol_victim(4, 0, 0, 8), 5));
    cr_assert(eq(u32, gort__pol_victim(4, 0, 1, 8), 3));
}

/* ---- The run queues under the knobs ------------------------------------- */

static struct g gs[4096];
static struct p *owner, *thief;

static void rq_setup(void)
{
    owner = calloc(1, sizeof *owner);
    thief = calloc(1, sizeof *thief);
    thief->id = 1;
    atomic_store(&gort__sched.gomaxprocs, 2);
    for (int i = 0; i < 4096; i++)
        gs[i].goid = (uint64_t)i;
}

static void rq_teardown(void)
{
    free(owner);
    free(thief);
    gort__globrunq_fini();
    reset();
}

TestSuite(policy_runq, .init = rq_setup, .fini = rq_teardown);

Test(policy_runq, oldest_owner_pops_newest_first_thief_takes_oldest)
{
    cr_assert(eq(int, gort__policy_parse_str("thief=oldest,runnext=off"), 0));
    for (int i = 0; i < 8; i++)
        gort__runq_put_spawn(owner, &gs[i]);
    bool inherit;
    cr_assert(eq(ptr, gort__runq_get(owner, &inherit), &gs[7]));
    cr_assert(eq(ptr, gort__runq_get(owner, &inherit), &gs[6]));
    /* 6 left: the thief takes half, oldest first, and runs the newest of
     * what it took. */
    cr_assert(eq(ptr, gort__runq_steal(thief, owner, true), &gs[2]));
    cr_assert(eq(u32, gort__runq_len(thief), 2));
    cr_assert(eq(ptr, gort__runq_get(owner, &inherit), &gs[5]));
    cr_assert(eq(ptr, gort__runq_get(owner, &inherit), &gs[4]));
    cr_assert(eq(ptr, gort__runq_get(owner, &inherit), &gs[3]));
    cr_assert(eq(ptr, gort__runq_get(owner, &inherit), NULL));
}

Test(policy_runq, oldest_yielders_go_to_the_back_of_the_owners_order)
{
    cr_assert(eq(int, gort__policy_parse_str("thief=oldest"), 0));
    gort__runq_put(owner, &gs[0], false);
    gort__runq_put(owner, &gs[1], false);
    bool inherit;
    cr_assert(eq(ptr, gort__runq_get(owner, &inherit), &gs[0]));
    gort__runq_put(owner, &gs[0], false); /* gs[0] yields */
    cr_assert(eq(ptr, gort__runq_get(owner, &inherit), &gs[1]));
}

Test(policy_runq, oldest_owner_serves_the_oldest_within_a_bounded_streak)
{
    cr_assert(eq(int, gort__policy_parse_str("thief=oldest,runnext=off"), 0));
    gort__runq_put_spawn(owner, &gs[0]);
    bool inherit;
    int picks = 0;
    for (int i = 1; i < 1000; i++) {
        gort__runq_put_spawn(owner, &gs[i]); /* newer work keeps coming */
        picks++;
        if (gort__runq_get(owner, &inherit) == &gs[0])
            break;
    }
    cr_assert(le(int, picks, LIFO_STREAK_MAX + 1));
}

Test(policy_runq, steal_amounts)
{
    static const char *const kv[] = {"steal=one", "steal=allbutone",
                                     "steal=half"};
    static const uint32_t want[] = {1, 9, 5};
    for (int k = 0; k < 3; k++) {
        for (int oldest = 0; oldest < 2; oldest++) {
            char s[64];
            snprintf(s, sizeof s, "%s,thief=%s", kv[k],
                     oldest ? "oldest" : "head");
            cr_assert(eq(int, gort__policy_parse_str(s), 0));
            for (int i = 0; i < 10; i++)
                gort__runq_put(owner, &gs[i], false);
            cr_assert(not(eq(ptr, gort__runq_steal(thief, owner, false),
                             NULL)));
            cr_assert(eq(u32, 1 + gort__runq_len(thief), want[k]), "%s", s);
            bool inherit;
            while (gort__runq_get(owner, &inherit) ||
                   gort__runq_get(thief, &inherit)) {
            }
        }
    }
}

/* The race: the owner pushes and pops at the tail while a thief steals at
 * the head, the ring kept short so that both often aim at the last G;
 * every G must come out exactly once (a pop that skips the CAS on the
 * last G loses or duplicates Gs, and the owner then loops: the timeout).
 * The owner's P counts as idle, so
 * the thief takes a lone G at once (gort__runq_lone_wait). */
/* Until the thief took RACE_STEALS (it may get a CPU late on a loaded
 * machine), at most RACE_ROUNDS rounds. */
enum { RACE_GS = 4096, RACE_STEALS = 20000, RACE_ROUNDS = 50000000 };
static _Atomic int taken[RACE_GS];
static _Atomic bool race_done;
static _Atomic int stolen_n;

static void *race_thief(void *arg)
{
    (void)arg;
    bool inherit;
    while (!atomic_load(&race_done)) {
        struct g *gp = gort__runq_steal(thief, owner, false);
        while (gp) {
            atomic_fetch_add(&stolen_n, 1);
            atomic_fetch_add(&taken[gp - gs], 1);
            gp = gort__runq_get(thief, &inherit);
        }
    }
    return NULL;
}

Test(policy_runq, oldest_owner_and_thief_never_take_the_same_g, .timeout = 60)
{
    cr_assert(eq(int, gort__policy_parse_str("thief=oldest,runnext=off"), 0));
    atomic_store(&gort__sched.solo, false);
    owner->status = P_IDLE;
    pthread_t t;
    pthread_create(&t, NULL, race_thief, NULL);
    bool inherit;
    int pushed = 0;
    for (int r = 0; r < RACE_ROUNDS && atomic_load_explicit(
                        &stolen_n, memory_order_relaxed) < RACE_STEALS; r++) {
        gort__runq_put_spawn(owner, &gs[pushed++ % RACE_GS]);
        if (r % 3 != 0)
            gort__runq_put_spawn(owner, &gs[pushed++ % RACE_GS]);
        struct g *gp;
        while ((gp = gort__runq_get(owner, &inherit)))
            atomic_fetch_add(&taken[gp - gs], 1);
    }
    atomic_store(&race_done, true);
    pthread_join(t, NULL);
    int total = 0;
    for (int i = 0; i < RACE_GS; i++)
        total += atomic_load(&taken[i]);
    cr_assert(eq(int, total, pushed));
    cr_assert(gt(int, atomic_load(&stolen_n), 0)); /* it did race */
}
