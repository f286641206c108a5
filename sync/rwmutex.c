/*
 * rwmutex.c: gort_rwmutex, readers/writer lock (Go: sync/rwmutex.go).
 *
 * Invariants:
 *  - reader_count counts readers inside or arriving; a writer subtracts
 *    MAX_READERS from it, so a negative value tells new readers that a
 *    writer is pending or active and they must wait on reader_sem.
 *  - reader_wait counts the readers that were inside when the writer
 *    announced itself; the last of them to leave releases writer_sem.
 *  - At most one writer is pending or active: writers serialise on _w.
 *  - A writer's Unlock happens-before every reader that waited for it
 *    returns from RLock; a reader's RUnlock happens-before the pending
 *    writer's Lock returns (atomic RMWs, seq_cst as Go's, and the
 *    semaphore wakes).
 *
 * Locking: _w (a gort_mutex) is held by the writer from Lock to Unlock.
 * Parking goes through sema.c only.
 *
 * See also: sync/mutex.c, runtime/sema.c, docs/sync.md.
 */
#include "../runtime/sema.h"

/* Go: rwmutexMaxReaders. */
#define MAX_READERS (1 << 30)

static int32_t add(int32_t *p, int32_t d)
{
    return __atomic_add_fetch(p, d, __ATOMIC_SEQ_CST);
}

void gort_rwmutex_rlock(gort_rwmutex *rw)
{
    RT_ENTRY();
    gort__preempt_point();
    if (add(&rw->_reader_count, 1) < 0) {
        /* A writer is pending: wait for its Unlock. */
        gort__semacquire(&rw->_reader_sem, false, WAIT_RWMUTEX_R);
    }
}

bool gort_rwmutex_try_rlock(gort_rwmutex *rw)
{
    gort__preempt_point();
    int32_t c = __atomic_load_n(&rw->_reader_count, __ATOMIC_SEQ_CST);
    for (;;) {
        if (c < 0)
            return false;
        if (__atomic_compare_exchange_n(&rw->_reader_count, &c, c + 1, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return true;
    }
}

void gort_rwmutex_runlock(gort_rwmutex *rw)
{
    RT_ENTRY();
    int32_t r = add(&rw->_reader_count, -1);
    if (r >= 0)
        return;
    /* Go: rUnlockSlow. */
    if (r + 1 == 0 || r + 1 == -MAX_READERS)
        gort__fatal("sync: RUnlock of unlocked RWMutex");
    /* A writer is pending; the last reader it waits for lets it in. */
    if (add(&rw->_reader_wait, -1) == 0)
        gort__semrelease(&rw->_writer_sem, false);
}

void gort_rwmutex_lock(gort_rwmutex *rw)
{
    RT_ENTRY();
    /* First, resolve competition with other writers. */
    gort_mutex_lock(&rw->_w);
    /* Announce the writer to readers; r is the number of active readers. */
    int32_t r = add(&rw->_reader_count, -MAX_READERS) + MAX_READERS;
    if (r != 0 && add(&rw->_reader_wait, r) != 0)
        gort__semacquire(&rw->_writer_sem, false, WAIT_RWMUTEX_W);
}

bool gort_rwmutex_trylock(gort_rwmutex *rw)
{
    RT_ENTRY();
    if (!gort_mutex_trylock(&rw->_w))
        return false;
    int32_t zero = 0;
    if (!__atomic_compare_exchange_n(&rw->_reader_count, &zero, -MAX_READERS,
                                     false, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST)) {
        gort_mutex_unlock(&rw->_w);
        return false;
    }
    return true;
}

void gort_rwmutex_unlock(gort_rwmutex *rw)
{
    RT_ENTRY();
    /* Announce to readers there is no active writer. */
    int32_t r = add(&rw->_reader_count, MAX_READERS);
    if (r >= MAX_READERS)
        gort__fatal("sync: Unlock of unlocked RWMutex");
    /* Let in the readers that arrived while the writer was pending. */
    for (int32_t i = 0; i < r; i++)
        gort__semrelease(&rw->_reader_sem, false);
    /* Allow other writers to proceed. */
    gort_mutex_unlock(&rw->_w);
}
