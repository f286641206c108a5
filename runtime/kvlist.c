/*
 * kvlist.c: the tokenizer of the GORT_* settings lists (kvlist.h).
 *
 * Invariants: the caller's string is never written (items are cut in a
 * copy on the stack); fn sees each item once, in order.
 * No locks: called while the runtime starts, before other threads.
 * See also: runtime/debug.c (GORT_DEBUG), runtime/policy.c (GORT_SCHED).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kvlist.h"

int gort__kvlist_each(const char *name, const char *s,
                      int (*fn)(char *key, char *value, void *arg), void *arg)
{
    if (s == NULL)
        return 0;
    char buf[KVLIST_MAX + 1];
    if (strlen(s) > KVLIST_MAX) {
        fprintf(stderr, "gort: %s: longer than %d bytes\n", name, KVLIST_MAX);
        return -EINVAL;
    }
    memcpy(buf, s, strlen(s) + 1);
    for (char *save, *kv = strtok_r(buf, ",", &save); kv;
         kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (eq == NULL) {
            fprintf(stderr, "gort: %s=%s: want key=value[,key=value]\n", name,
                    s);
            return -EINVAL;
        }
        *eq = '\0';
        int rc = fn(kv, eq + 1, arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}
