/*
 * ring.h: growing a FIFO ring buffer whose capacity is a power of two (the
 * global run queues, globrunq.c; the timers' in-order queues, timerq.c).
 */
#ifndef GORT_RING_H
#define GORT_RING_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

/* ring_regrow returns a malloc'd array of newcap elements of `size` bytes
 * that holds, from index 0 on, the n elements of the ring `slots`
 * (capacity cap, 0 when none yet, first element at head), and frees the
 * old array. Running out of memory is fatal: the caller's queue has no
 * other place for what it holds. `what` names the queue for the message. */
static inline void *ring_regrow(void *slots, size_t size, uint32_t head,
                                uint32_t n, uint32_t cap, uint32_t newcap,
                                const char *what)
{
    char *fresh = malloc((size_t)newcap * size);
    if (fresh == NULL)
        gort__throw(what);
    /* The n elements run from head to the end of the array, then wrap. */
    uint32_t first = n < cap - head ? n : cap - head;
    if (n > 0) {
        memcpy(fresh, (char *)slots + (size_t)head * size, first * size);
        memcpy(fresh + (size_t)first * size, slots, (n - first) * size);
    }
    free(slots);
    return fresh;
}

#endif /* GORT_RING_H */
