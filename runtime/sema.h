/*
 * sema.h: the runtime semaphore table (Go: runtime/sema.go), the one place
 * sync objects and the poller's fd locks (netpoll.c) park goroutines.
 *
 * A semaphore is any uint32_t in memory: its value counts available units.
 * gort__semacquire takes one, parking while it is zero; gort__semrelease
 * adds one and wakes the oldest waiter for that address. Waiters are kept
 * in one of 251 roots chosen by the address, so a semaphore needs no
 * storage besides its word and any address may be used.
 *
 * Waiters on a thread the runtime does not own (gort__getm() == NULL) are
 * supported: they sleep on a futex in their wait record instead of parking.
 * On runtime code that is not a goroutine (g0) a wait is a fatal error.
 *
 * The same roots also serve Go's notifyList (the ticket queue under
 * sync.Cond): gort__notifylist_* below.
 */
#ifndef GORT_SEMA_H
#define GORT_SEMA_H

#include <stdbool.h>
#include <stdint.h>

#include <gort/sync.h>

#include "runtime.h"

/*
 * gort__semacquire takes one unit of *addr, parking until one is free (Go:
 * semacquire1). lifo queues the caller at the front of addr's waiters (a
 * mutex waiter that was woken and lost the race). reason names the wait in
 * goroutine dumps and in the fatal error when called off a goroutine.
 */
GORT_HIDDEN void gort__semacquire(uint32_t *addr, bool lifo,
                                  enum waitreason reason);

/*
 * gort__semrelease adds one unit to *addr and readies the oldest waiter
 * (Go: semrelease1). With handoff the unit is passed to that waiter
 * directly and, on a goroutine, the caller yields so the waiter (now in the
 * caller's runnext slot) runs at once. Never parks otherwise.
 */
GORT_HIDDEN void gort__semrelease(uint32_t *addr, bool handoff);

/* gort__notifylist_add hands out the next ticket (Go: notifyListAdd). The
 * caller must then call gort__notifylist_wait with it. */
GORT_HIDDEN uint32_t gort__notifylist_add(struct gort__notifylist *l);
/* gort__notifylist_wait parks until ticket t is notified; returns at once
 * if it already was (Go: notifyListWait). */
GORT_HIDDEN void gort__notifylist_wait(struct gort__notifylist *l, uint32_t t,
                                       enum waitreason reason);
/* gort__notifylist_notify_one wakes the oldest unnotified ticket (Go:
 * notifyListNotifyOne). */
GORT_HIDDEN void gort__notifylist_notify_one(struct gort__notifylist *l);
/* gort__notifylist_notify_all wakes every ticket handed out so far (Go:
 * notifyListNotifyAll). */
GORT_HIDDEN void gort__notifylist_notify_all(struct gort__notifylist *l);

/*
 * gort__sync_check_block dies with "gort: <call> called outside a
 * goroutine" if the caller runs runtime code that is not a goroutine (g0 of
 * a runtime thread), where blocking would stall a P. Foreign threads pass.
 */
GORT_HIDDEN void gort__sync_check_block(const char *fatal_msg);

#endif /* GORT_SEMA_H */
