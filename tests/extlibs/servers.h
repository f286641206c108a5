/*
 * servers.h: servers, ticker and hold records for the suites that drive
 * real C libraries (tests/extlibs/servers.c).
 */
#ifndef GORT_TESTS_EXTLIBS_SERVERS_H
#define GORT_TESTS_EXTLIBS_SERVERS_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include <gort.h>

#include "helpers/harness.h"

/* 1,000 goroutines x 100 commands (the size); figures for this
 * size on the 2-CPU reference machine are in docs/blocking.md. */
#define GS SCALE3(1000, 100, 20)
#define CMDS 100
#define HOLD_MS 500 /* how long the server holds one command */

/* The running server's temporary directory. */
extern char dir[64];

/* sh runs a shell command line; returns its exit status. */
int sh(const char *fmt, ...);
/* reap sends sig to *pid, waits for it and clears *pid. */
void reap(pid_t *pid, int sig);

/* redis-server on a Unix socket (redis_sock), no TCP, no persistence. */
extern pid_t redis_pid;
extern char redis_sock[128];
void start_redis(void);
void stop_redis(void);

/* A PostgreSQL cluster of its own (initdb + postgres, as nobody when run
 * as root), reachable through pg_conninfo. */
extern pid_t pg_pid;
extern char pg_conninfo[256];
void start_pg(void);
void stop_pg(void);

/* A 10 ms ticker goroutine that counts its ticks and its largest gap. */
struct ticking {
    gort_chan *stop;
    gort_chan *done;
    int ticks;
    int64_t max_gap;
    int64_t start;
    int hold_ticks;  /* ticks while some command was held */
    int max_threads; /* Ms alive, most seen at a tick */
};
void ticker_start(struct ticking *t);
void ticker_stop(struct ticking *t);

/* hold_begin / hold_end bracket a command the server holds HOLD_MS. */
extern atomic_int holding;
void hold_begin(int64_t *t0);
void hold_end(int64_t t0);
/* check_overlap prints the run's figures and asserts that the holds
 * overlapped (their span under half their sum, which serial holds would
 * take whole) and that the ticker ticked while they were held. */
void check_overlap(const char *what, int64_t took, struct ticking *t);

#endif /* GORT_TESTS_EXTLIBS_SERVERS_H */
