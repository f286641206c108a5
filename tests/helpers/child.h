/*
 * child.h: the example servers (docs/examples) as child processes, for
 * the suites that talk to them over plain blocking sockets: test_http,
 * test_kvhttp and test_metrics. The test process runs no gort runtime
 * while it does.
 *
 * Invariants: a started child has PR_SET_PDEATHSIG set, so a failed
 * assertion in the test never leaves it running; it is stopped by
 * SIGTERM, which the examples answer by printing their result line and
 * exiting 0.
 */
#ifndef GORT_TESTS_CHILD_H
#define GORT_TESTS_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A running example: its process and the loopback port it listens on. */
struct child_server {
    pid_t pid;
    int port;
};

/* free_port returns a port nobody listens on now (the kernel's pick). */
int free_port(void);

/* connect_port opens a blocking connection to 127.0.0.1:port with 20 s
 * send and receive timeouts; -1 when nobody accepts. */
int connect_port(int port);

/* child_server_start runs $B/examples/NAME (built beside this test) with
 * "-port P" and then args (NULL-terminated, or NULL), after setting env
 * ("KEY=VALUE" strings, NULL-terminated, or NULL), its stdout and, unless
 * keep_stderr, its stderr on /dev/null, and returns once it accepts a
 * connection. Another process may take the free port first; the child
 * then exits and another port is tried, 5 times in all. Asserts. */
void child_server_start(struct child_server *s, const char *name,
                        const char *const *args, const char *const *env,
                        bool keep_stderr);

/* child_server_stop sends SIGTERM and waits; returns the wait status
 * (-1 if none was running). */
int child_server_stop(struct child_server *s);

/* exchange_all connects to port, sends len bytes of req (stopping early
 * if the server refuses and closes), shuts its write side and reads to
 * end of file into out (NUL-terminated, at most cap - 1 bytes). Returns
 * the bytes read. Asserts the connection. */
size_t exchange_all(int port, const char *req, size_t len, char *out,
                    size_t cap);

#endif /* GORT_TESTS_CHILD_H */
