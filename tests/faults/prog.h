/*
 * prog.h: what the fault driver's programs share (tests/faults/run.sh).
 * A gort call's error return is reported as one line on stderr,
 *   PROG: CALL: MESSAGE
 * and the program exits 1: the "documented error return" outcome of
 * docs/faults.md. Anything else the program prints is its own.
 */
#ifndef GORT_FAULTS_PROG_H
#define GORT_FAULTS_PROG_H

#include <gort.h>

#include <stdio.h>
#include <stdlib.h>

extern const char *prog_name;

/* report prints a gort call's error return and gives the exit status.
 * The programs then wind down (every goroutine they started ends) and
 * return from gort_run, so that LeakSanitizer's check at exit sees what
 * the runtime left, not what an abandoned goroutine held. */
static inline int report(const char *call, int err)
{
    fprintf(stderr, "%s: %s: %s\n", prog_name, call, gort_strerror(err));
    return 1;
}

/* main_of runs fn as the main goroutine and reports gort_run's own error. */
static inline int main_of(int (*fn)(void *))
{
    int rc = gort_run(fn, NULL);
    return rc < 0 ? report("gort_run", rc) : rc;
}

#endif
