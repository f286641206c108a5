/*
 * gort/trace.h: the event trace (Go: runtime/trace.Start and Stop, and
 * GODEBUG-free GORT_TRACE). Included by <gort.h>.
 *
 * While a trace runs, the scheduler records goroutine creation, starts,
 * ends, parks (with the wait reason and the object waited on), wake-ups
 * (and who made them), yields, preemptions, steals, system calls, P
 * hand-offs, poller wake-ups, timer firings, GOMAXPROCS changes and
 * thread starts, stops and sleeps, in per-thread memory buffers. Stopping
 * writes them as Chrome/Perfetto trace-event JSON: one track per P and
 * one per thread (M), with flow arrows from each wake-up to the start it
 * caused. Open it in https://ui.perfetto.dev or chrome://tracing, or
 * summarize and draw it with tools/trace-summary.py and tools/trace-svg.py
 * (docs/trace.md).
 *
 * Setting GORT_TRACE=path traces a whole gort_run: the file is written
 * when gort_run returns. Events go to per-thread buffers of 64 KiB chunks,
 * which a writer thread spills to an unlinked temporary file in $TMPDIR
 * (or /tmp) as they fill; GORT_TRACEBUF=bytes (k, m or g suffix; default
 * 64m) caps the memory of chunks waiting for it. An event that finds no
 * chunk is dropped and counted in the trace.
 */
#ifndef GORT_TRACE_API_H
#define GORT_TRACE_API_H

#ifndef GORT_API /* so the header also compiles alone (make check-headers) */
#define GORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * gort_trace_start begins recording events; they are written to fd, as
 * JSON, by gort_trace_stop (or when gort_run returns). fd stays the
 * caller's: gort never closes it. Callable from any thread, inside or
 * outside gort_run. Never parks.
 * Returns 0, or:
 *   -EBADF   fd is negative.
 *   -EBUSY   a trace is already running.
 *   a negative errno from creating the temporary file (open(2), e.g.
 *   -EACCES, -ENOSPC) or the writer thread (pthread_create, -EAGAIN).
 */
GORT_API int gort_trace_start(int fd);

/*
 * gort_trace_stop ends the trace and writes it to the fd given to
 * gort_trace_start. Writing takes time (about 0.5 us per event, ~126 bytes
 * of JSON each): called from
 * a goroutine, it runs as a system call (gort_syscall_enter), so its P
 * keeps running other goroutines. Callable from any thread.
 * Returns 0, or:
 *   -ENOENT  no trace is running.
 *   -ENOMEM  no memory to convert.
 *   a negative errno from writing the temporary file or fd (write(2),
 *   e.g. -ENOSPC): the trace is then missing or incomplete.
 */
GORT_API int gort_trace_stop(void);

#ifdef __cplusplus
}
#endif

#endif /* GORT_TRACE_API_H */
