/*
 * gort/typed.h: typed channels (Go: chan T, chan<- T, <-chan T) over the
 * untyped gort_chan of <gort/chan.h>. Include it yourself; <gort.h> does
 * not. Header-only: every call is a static inline wrapper, so a typed
 * channel costs nothing over the untyped API it calls.
 *
 * GORT_CHAN_DECLARE(name, T) at file scope declares a channel family for
 * element type T (a complete object type under 64 KiB, checked at compile
 * time, Go's limit on channel elements):
 *
 *   types      name            a channel of T (Go: chan T); a struct
 *                              holding the gort_chan, so a channel of
 *                              another family, or a raw gort_chan, does
 *                              not convert to it silently
 *              name##_sendonly the send end (Go: chan<- T)
 *              name##_recvonly the receive end (Go: <-chan T)
 *   make/free  name##_make(cap)          Go: make(chan T, cap); .c is
 *                                        NULL if memory ran out
 *              name##_retain(c), name##_free(c)  references, as gort_chan
 *   ops        name##_send(c, v)         c <- v; v is a value, so an
 *                                        rvalue works: name##_send(c, 42)
 *              name##_recv(c, &v)        v, ok := <-c; returns ok;
 *                                        &v may be NULL to discard
 *              name##_trysend(c, v), name##_tryrecv(c, &v, &ok)
 *              name##_close(c), name##_len(c), name##_cap(c)
 *   select     name##_send_case(c, &v), name##_recv_case(c, &v, &ok)
 *              build gort_select_case values whose pointers are T *
 *   ends       name##_sender(c), name##_receiver(c)  narrow c to one end
 *                (Go's implicit conversion from chan T); the ends share
 *                c's references: retain one to hand it to a goroutine
 *              name##_sendonly_send/_trysend/_send_case/_close/_retain/
 *              _free, and name##_recvonly_recv/_tryrecv/_recv_case/
 *              _retain/_free: the operations Go allows on that end, so
 *              receiving from a send-only end (or closing a receive-only
 *              one) does not compile, as in Go
 *
 * Semantics, panics, parking and reference counting are those of the
 * untyped calls in <gort/chan.h>, which stay available: c.c is the
 * gort_chan (for gort_select over channels of several families, or for
 * GORT_CHAN_RANGE). A nil channel is a zero struct: (name){NULL}.
 *
 *   GORT_CHAN_DECLARE(intch, int);
 *   intch c = intch_make(10);
 *   intch_send(c, 42);
 *   int v;
 *   bool ok = intch_recv(c, &v);
 */
#ifndef GORT_TYPED_H
#define GORT_TYPED_H

#include <stdbool.h>
#include <stddef.h>

#include <gort/chan.h>

/* The wrappers are expanded in the user's own file, where clang warns of
 * the ones a program does not call: mark them possibly unused. */
#define GORT_TYPED_FN_ static inline __attribute__((__unused__))

#ifdef __cplusplus
#define GORT_STATIC_ASSERT_(cond, msg) static_assert(cond, msg)
#else
#define GORT_STATIC_ASSERT_(cond, msg) _Static_assert(cond, msg)
#endif

/* GORT_CHAN_DECLARE_END_ declares one end type, with the reference calls
 * and the conversion from the channel; the operations come separately. */
#define GORT_CHAN_DECLARE_END_(name, end, conv)                              \
    typedef struct name##_##end {                                            \
        gort_chan *c;                                                        \
    } name##_##end;                                                          \
    /* name##_##conv narrows a channel to this end (shares its refs). */     \
    GORT_TYPED_FN_ name##_##end name##_##conv(name ch)                        \
    {                                                                        \
        name##_##end e = {ch.c};                                             \
        return e;                                                            \
    }                                                                        \
    GORT_TYPED_FN_ name##_##end name##_##end##_retain(name##_##end e)         \
    {                                                                        \
        gort_chan_retain(e.c);                                               \
        return e;                                                            \
    }                                                                        \
    GORT_TYPED_FN_ void name##_##end##_free(name##_##end e)                   \
    {                                                                        \
        gort_chan_free(e.c);                                                 \
    }

/* GORT_CHAN_DECLARE_SEND_ declares the send operations of a type P. */
#define GORT_CHAN_DECLARE_SEND_(P, T)                                        \
    GORT_TYPED_FN_ void P##_send(P ch, T v) { gort_chan_send(ch.c, &v); }     \
    GORT_TYPED_FN_ bool P##_trysend(P ch, T v)                                \
    {                                                                        \
        return gort_chan_trysend(ch.c, &v);                                  \
    }                                                                        \
    GORT_TYPED_FN_ gort_select_case P##_send_case(P ch, const T *v)           \
    {                                                                        \
        gort_select_case k = {ch.c, GORT_SELECT_SEND, (void *)v, NULL};      \
        return k;                                                            \
    }                                                                        \
    GORT_TYPED_FN_ void P##_close(P ch) { gort_chan_close(ch.c); }

/* GORT_CHAN_DECLARE_RECV_ declares the receive operations of a type P. */
#define GORT_CHAN_DECLARE_RECV_(P, T)                                        \
    GORT_TYPED_FN_ bool P##_recv(P ch, T *v)                                 \
    {                                                                        \
        return gort_chan_recv(ch.c, v);                                      \
    }                                                                        \
    GORT_TYPED_FN_ bool P##_tryrecv(P ch, T *v, bool *ok)                     \
    {                                                                        \
        return gort_chan_tryrecv(ch.c, v, ok);                               \
    }                                                                        \
    GORT_TYPED_FN_ gort_select_case P##_recv_case(P ch, T *v, bool *ok)       \
    {                                                                        \
        gort_select_case k = {ch.c, GORT_SELECT_RECV, v, ok};                \
        return k;                                                            \
    }

/* GORT_CHAN_DECLARE(name, T); at file scope declares the typed channel
 * family described at the top of this file: the types name,
 * name##_sendonly and name##_recvonly and their static inline calls. */
#define GORT_CHAN_DECLARE(name, T)                                           \
    GORT_STATIC_ASSERT_(sizeof(T) < 65536,                                   \
                        "GORT_CHAN_DECLARE(" #name ", " #T "): element "     \
                        "of 64 KiB or more (Go's limit)");                   \
    typedef struct name {                                                    \
        gort_chan *c;                                                        \
    } name;                                                                  \
    GORT_TYPED_FN_ name name##_make(size_t cap)                               \
    {                                                                        \
        name ch = {gort_chan_make(sizeof(T), cap)};                          \
        return ch;                                                           \
    }                                                                        \
    GORT_TYPED_FN_ name name##_retain(name ch)                                \
    {                                                                        \
        gort_chan_retain(ch.c);                                              \
        return ch;                                                           \
    }                                                                        \
    GORT_TYPED_FN_ void name##_free(name ch) { gort_chan_free(ch.c); }        \
    GORT_TYPED_FN_ size_t name##_len(name ch) { return gort_chan_len(ch.c); } \
    GORT_TYPED_FN_ size_t name##_cap(name ch) { return gort_chan_cap(ch.c); } \
    GORT_CHAN_DECLARE_SEND_(name, T)                                         \
    GORT_CHAN_DECLARE_RECV_(name, T)                                         \
    GORT_CHAN_DECLARE_END_(name, sendonly, sender)                           \
    GORT_CHAN_DECLARE_SEND_(name##_sendonly, T)                              \
    GORT_CHAN_DECLARE_END_(name, recvonly, receiver)                         \
    GORT_CHAN_DECLARE_RECV_(name##_recvonly, T)                              \
    typedef int name##_declared_ /* swallows the caller's semicolon */

#endif /* GORT_TYPED_H */
