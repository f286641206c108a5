/*
 * gort/chan.h: channels and select (Go: chan, select). Included by
 * <gort.h>, which is what programs include.
 *
 * A channel carries fixed-size values, copied in and out by memcpy. Values
 * are passed by pointer: gort_chan_send(c, &v) copies elem_size bytes from
 * &v, gort_chan_recv(c, &v) copies them into v.
 *
 * Channels are reference counted: gort_chan_make returns one reference,
 * gort_chan_retain adds one and gort_chan_free drops one, freeing the
 * channel with the last. Dropping the last reference while a goroutine is
 * still blocked on the channel is a fatal error ("fatal error: gort_chan_free:
 * goroutines blocked on channel"): in Go that goroutine would simply block
 * forever, in C it would wait on freed memory.
 *
 * Calls that "can park" block only the calling goroutine. Outside a
 * goroutine (on a thread the runtime does not own, or before gort_run) a
 * call that would have to park is a fatal error; one that can complete at
 * once works, and the non-blocking calls work on any thread. Such a
 * thread (or a goroutine between gort_syscall_enter and _exit) that takes
 * a channel's lock while the runtime has one processor pays a
 * membarrier(2) system call, some microseconds, for the processor's
 * goroutines to lock without atomic instructions (docs/channels.md).
 *
 * Go's channel panics end the program as Go's do, with exit status 2:
 *   panic: send on closed channel
 *   panic: close of closed channel
 *   panic: close of nil channel
 */
#ifndef GORT_CHAN_H
#define GORT_CHAN_H

#include <stdbool.h>
#include <stddef.h>

#ifndef GORT_API /* so the header also compiles alone (make check-headers) */
#define GORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_chan gort_chan;

/*
 * gort_chan_make creates a channel of values of elem_size bytes with room
 * for cap values buffered (Go: make(chan T, cap)). cap 0 makes an
 * unbuffered channel, whose sends complete only when received; elem_size 0
 * is a signal channel (chan struct{}). Returns the channel holding one
 * reference, or NULL if memory ran out or elem_size >= 65536 (Go's limit
 * on element types) or cap * elem_size overflows. Does not park.
 */
GORT_API gort_chan *gort_chan_make(size_t elem_size, size_t cap);

/*
 * gort_chan_send sends the value at elem (Go: c <- v). Can park: until a
 * receiver takes the value (unbuffered) or the buffer has room. If a
 * receiver is waiting the value is copied straight into it. A NULL channel
 * blocks forever. Sending on a closed channel, or having the channel
 * closed while blocked, panics with "send on closed channel".
 */
GORT_API void gort_chan_send(gort_chan *c, const void *elem);

/*
 * gort_chan_recv receives a value into elem (Go: v, ok := <-c); elem may be
 * NULL to discard the value. Can park: until a value arrives or the
 * channel is closed. Buffered values are drained before a close is seen.
 * A NULL channel blocks forever.
 * Returns true if a value was received, false if the channel is closed and
 * drained (elem is then zeroed).
 */
GORT_API bool gort_chan_recv(gort_chan *c, void *elem);

/*
 * gort_chan_trysend sends without blocking (Go: select with a send case
 * and default). Never parks; callable from any thread.
 * Returns true if the value was sent, false if it would have blocked or c
 * is NULL. Panics with "send on closed channel" if c is closed.
 */
GORT_API bool gort_chan_trysend(gort_chan *c, const void *elem);

/*
 * gort_chan_tryrecv receives without blocking (Go: select with a receive
 * case and default). Never parks; callable from any thread. elem may be
 * NULL to discard; ok may be NULL.
 * Returns true if a receive completed: then *ok is true if a value was
 * received, false if the channel is closed and drained (elem zeroed).
 * Returns false if it would have blocked or c is NULL (elem, *ok untouched).
 */
GORT_API bool gort_chan_tryrecv(gort_chan *c, void *elem, bool *ok);

/*
 * gort_chan_close closes c (Go: close(c)): every blocked receiver wakes
 * with a zero value and false, every blocked sender panics; values still
 * buffered can be received. Does not park; callable from any thread.
 * Panics with "close of nil channel" if c is NULL and with "close of closed
 * channel" if c is already closed.
 */
GORT_API void gort_chan_close(gort_chan *c);

/* gort_chan_len returns the number of buffered values (Go: len(c)); 0 for
 * NULL. A snapshot: it may change at once. Does not park. */
GORT_API size_t gort_chan_len(gort_chan *c);

/* gort_chan_cap returns the buffer capacity (Go: cap(c)); 0 for NULL or
 * unbuffered. Does not park. */
GORT_API size_t gort_chan_cap(gort_chan *c);

/* gort_chan_retain adds a reference to c and returns c (NULL stays NULL).
 * Does not park; callable from any thread. */
GORT_API gort_chan *gort_chan_retain(gort_chan *c);

/*
 * gort_chan_free drops a reference to c; the last one frees the channel
 * (NULL is ignored). Does not park; callable from any thread. Goroutines
 * still blocked on c when the last reference goes are a fatal error
 * ("gort_chan_free: goroutines blocked on channel"); a goroutine woken from
 * a select on c that has not yet finished the select is fine (the memory
 * is released when it does).
 */
GORT_API void gort_chan_free(gort_chan *c);

/*
 * GORT_CHAN_RANGE(T, v, c) { ... } is Go's `for v := range c { ... }`: it
 * declares v of type T for the loop and receives into it until c is
 * closed and drained (each receive can park). break leaves early, with c
 * still open. T must be the channel's element type (elem_size bytes).
 */
#define GORT_CHAN_RANGE(T, v, c) for (T v; gort_chan_recv((c), &v);)

/* ---- select ------------------------------------------------------------- */

/* Directions of a select case. */
enum { GORT_SELECT_SEND = 1, GORT_SELECT_RECV = 2 };

/*
 * gort_select_case is one case of a select. For a send, elem points at the
 * value to send; for a receive, elem is where the value goes (NULL:
 * discard) and *ok (if ok is not NULL) is set to true for a value, false
 * for a closed channel. A case with a NULL channel is never ready, as a
 * nil channel in Go (the idiom for switching a case off).
 */
typedef struct gort_select_case {
    gort_chan *c;
    int dir;    /* GORT_SELECT_SEND or GORT_SELECT_RECV */
    void *elem;
    bool *ok;   /* receive only; may be NULL */
} gort_select_case;

/* GORT_SEND(c, ptr) and GORT_RECV(c, ptr, okp) build cases as compound
 * literals: gort_select((gort_select_case[]){GORT_SEND(a, &x),
 * GORT_RECV(b, &y, &ok)}, 2). */
#ifndef __cplusplus
#define GORT_SEND(ch, ptr)                                                   \
    ((gort_select_case){.c = (ch), .dir = GORT_SELECT_SEND,                  \
                        .elem = (void *)(ptr), .ok = NULL})
#define GORT_RECV(ch, ptr, okp)                                              \
    ((gort_select_case){.c = (ch), .dir = GORT_SELECT_RECV,                  \
                        .elem = (ptr), .ok = (okp)})
#else /* C++ has no compound literals: gort_select_case cs[] = {...}; */
#define GORT_SEND(ch, ptr)                                                   \
    (gort_select_case{(ch), GORT_SELECT_SEND, (void *)(ptr), NULL})
#define GORT_RECV(ch, ptr, okp)                                              \
    (gort_select_case{(ch), GORT_SELECT_RECV, (ptr), (okp)})
#endif

/* Most cases a select may have (Go's limit too). Up to
 * GORT_SELECT_STACK_CASES cases need no allocation; larger selects
 * malloc their wait records for the time they block. */
#define GORT_SELECT_MAX 65536
#define GORT_SELECT_STACK_CASES 32

/* gort_select_try's result when no case is ready (Go: the default case). */
#define GORT_SELECT_DEFAULT (-1)

/*
 * gort_select waits until one of the n cases can proceed, performs it and
 * returns its index (Go: select without default). Among cases ready at
 * once, the choice is uniformly random. Can park. n == 0, or only NULL
 * channels, blocks forever. A send case on a closed channel that is
 * chosen panics with "send on closed channel".
 * Returns the index chosen, or:
 *   -EINVAL  n < 0, n > GORT_SELECT_MAX, cases NULL with n > 0, or a case
 *            with a direction other than GORT_SELECT_SEND/RECV.
 *   -ENOMEM  n > GORT_SELECT_STACK_CASES and no memory for wait records.
 */
GORT_API int gort_select(gort_select_case *cases, int n);

/*
 * gort_select_try is gort_select with a default case: it never parks.
 * Returns the index of the case performed, GORT_SELECT_DEFAULT (-1) if
 * none was ready, or -EINVAL as gort_select. Callable from any thread.
 */
GORT_API int gort_select_try(gort_select_case *cases, int n);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GORT_CHAN_H */
