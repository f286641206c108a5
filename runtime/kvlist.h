/*
 * kvlist.h: reading the GORT_* variables that hold a list of settings,
 * "key=value[,key=value]" (GORT_DEBUG in debug.c, GORT_SCHED in
 * policy.c): one tokenizer, so both lists split, cut and complain alike.
 */
#ifndef GORT_KVLIST_H
#define GORT_KVLIST_H

#include "runtime.h"

/* KVLIST_MAX: the longest list read, NUL excluded. Every knob of either
 * variable set at once takes under 200 bytes. */
#define KVLIST_MAX 255

/* gort__kvlist_each calls fn(key, value, arg) on each item of s, the
 * value of the variable `name`, in order; empty items are skipped and
 * value may be empty. It says on stderr and returns -EINVAL for a list
 * longer than KVLIST_MAX bytes (it would be cut and its last item
 * misread, as fuzz/env.c found; no item is applied) and for an item without '=' (the walk
 * stops there). It stops at fn's first nonzero result and returns it;
 * else 0. s NULL reads as empty. Never allocates. */
GORT_HIDDEN int gort__kvlist_each(const char *name, const char *s,
                                  int (*fn)(char *key, char *value,
                                            void *arg),
                                  void *arg);

#endif /* GORT_KVLIST_H */
