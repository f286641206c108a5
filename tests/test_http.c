/*
 * test_http.c: docs/examples/http.c answers as Go's net/http server does
 * (issue 17, item 9): HEAD without a body, "Connection: close" when it
 * closes, HTTP/1.0 answered as 1.0 with 1.0's keep-alive rule, 400 for a
 * malformed request line, header or Content-Length, 505 for HTTP/2.0,
 * heads up to 1 MB read and longer ones refused with 431. The expected
 * bytes were captured from Go 1.19's http.Serve with the same handler.
 *
 * Each test starts the example binary (built beside this one, in
 * $B/examples/http) on a free port, talks to it over plain blocking
 * sockets (the test process runs no gort runtime), and stops it.
 * Invariants: every exchange writes its requests, shuts its write side
 * and reads to end of file, so the reply is complete and whether the
 * server closed early shows in how many responses came back.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers/child.h"

static struct child_server server;

/* exchange sends req (len bytes), shuts the write side and reads the
 * reply to end of file into out (NUL-terminated), with each Date value
 * replaced by X. Returns the reply's length. */
static size_t exchange(const char *req, size_t len, char *out, size_t cap)
{
    exchange_all(server.port, req, len, out, cap);
    for (char *d = out; (d = strstr(d, "Date: ")) != NULL;) {
        char *eol = strstr(d, "\r\n");
        cr_assert(ne(ptr, eol, NULL));
        memmove(d + 7, eol, strlen(eol) + 1);
        d[6] = 'X';
        d += 7;
    }
    return strlen(out);
}

#define OK11 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: X\r\n" \
             "Content-Length: 13\r\n"
#define OK10 "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nDate: X\r\n" \
             "Content-Length: 13\r\n"
#define HELLO "Hello, World!"
#define GET11 "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
#define ERR(text)                                                            \
    "HTTP/1.1 " text "\r\nContent-Type: text/plain; charset=utf-8\r\n"      \
    "Connection: close\r\n\r\n" text

static void expect(const char *req, const char *want)
{
    static char out[1 << 16];
    exchange(req, strlen(req), out, sizeof out);
    cr_assert(eq(str, out, (char *)want), "request %.60s", req);
}

Test(http, head_reply_has_no_body_so_the_next_reply_stays_in_step)
{
    child_server_start(&server, "http", NULL, NULL, false);
    expect("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" GET11,
           OK11 "\r\n" OK11 "\r\n" HELLO);
    expect("HEAD / HTTP/1.0\r\n\r\n", OK10 "\r\n");
    cr_assert(eq(int, child_server_stop(&server), 0)); /* exit 0 on SIGTERM */
}

Test(http, closing_reply_says_connection_close_and_nothing_follows)
{
    child_server_start(&server, "http", NULL, NULL, false);
    expect("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" GET11,
           OK11 "Connection: close\r\n\r\n" HELLO);
    /* Still open otherwise: both requests answered. */
    expect(GET11 GET11, OK11 "\r\n" HELLO OK11 "\r\n" HELLO);
    cr_assert(eq(int, child_server_stop(&server), 0)); /* exit 0 on SIGTERM */
}

Test(http, http10_is_answered_as_http10_and_kept_open_only_on_request)
{
    child_server_start(&server, "http", NULL, NULL, false);
    expect("GET / HTTP/1.0\r\n\r\n" "GET / HTTP/1.0\r\n\r\n",
           OK10 "\r\n" HELLO);
    expect("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
           "GET / HTTP/1.0\r\n\r\n",
           OK10 "Connection: keep-alive\r\n\r\n" HELLO OK10 "\r\n" HELLO);
    cr_assert(eq(int, child_server_stop(&server), 0)); /* exit 0 on SIGTERM */
}

Test(http, malformed_requests_get_400_and_the_connection_closes)
{
    child_server_start(&server, "http", NULL, NULL, false);
    static const char *const bad[] = {
        "garbage\r\n\r\n",
        "GET /\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 12345678901234567890"
        "\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
        "Content-Length: 2\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n",
    };
    char req[256];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(req, sizeof req, "%s" GET11, bad[i]);
        expect(req, ERR("400 Bad Request"));
    }
    /* A valid request before the bad one is answered first. */
    expect(GET11 "garbage\r\n\r\n", OK11 "\r\n" HELLO ERR("400 Bad Request"));
    expect("GET / HTTP/1.1\r\n\r\n",
           ERR("400 Bad Request: missing required Host header"));
    expect("GET / HTTP/2.0\r\nHost: x\r\n\r\n",
           ERR("505 HTTP Version Not Supported: unsupported protocol "
               "version"));
    cr_assert(eq(int, child_server_stop(&server), 0)); /* exit 0 on SIGTERM */
}

/* Found by fuzz/http.c: control bytes in a header value, a repeated
 * Host and multi-digit versions were accepted, and a malformed header
 * after an unsupported version got 505 where Go answers 400. */
Test(http, refusals_follow_go_for_values_hosts_and_versions)
{
    child_server_start(&server, "http", NULL, NULL, false);
    expect("GET / HTTP/1.1\r\nHost: x\r\nX: a\001b\r\n\r\n",
           ERR("400 Bad Request: invalid header value"));
    expect("GET / HTTP/1.1\r\nHost: x\r\nX: a\nb\r\n\r\n",
           ERR("400 Bad Request: invalid header value"));
    expect("GET / HTTP/1.1\r\nHost: x\r\nhost: x\r\n\r\n",
           ERR("400 Bad Request: too many Host headers"));
    /* Go checks Host before the values. */
    expect("GET / HTTP/1.1\r\nX: \177\r\n\r\n",
           ERR("400 Bad Request: missing required Host header"));
    expect("GET / HTTP/1.00\r\nHost: x\r\n\r\n", ERR("400 Bad Request"));
    expect("GET / HTTP/11.1\r\nHost: x\r\n\r\n", ERR("400 Bad Request"));
    expect("GET / HTTP/2.0\r\nbad line\r\n\r\n", ERR("400 Bad Request"));
    /* Tabs and bytes above 0x7f stay valid in values. */
    expect("GET / HTTP/1.1\r\nHost: x\r\nX: a\tb\xe9\r\n\r\n",
           OK11 "\r\n" HELLO);
    cr_assert(eq(int, child_server_stop(&server), 0)); /* exit 0 on SIGTERM */
}

Test(http, request_bodies_are_skipped_by_content_length)
{
    child_server_start(&server, "http", NULL, NULL, false);
    expect("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab" GET11,
           OK11 "\r\n" HELLO OK11 "\r\n" HELLO);
    cr_assert(eq(int, child_server_stop(&server), 0)); /* exit 0 on SIGTERM */
}

/* big_head builds a GET whose X-Big header makes the head `size` bytes. */
static char *big_head(size_t size, size_t *len)
{
    static const char pre[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ";
    char *r = malloc(size + sizeof GET11);
    size_t fill = size - (sizeof pre - 1) - 4;
    memcpy(r, pre, sizeof pre - 1);
    memset(r + sizeof pre - 1, 'a', fill);
    memcpy(r + sizeof pre - 1 + fill, "\r\n\r\n", 4);
    memcpy(r + size, GET11, sizeof GET11); /* a second request follows */
    *len = size + sizeof GET11 - 1;
    return r;
}

Test(http, heads_up_to_go_s_1mb_limit_are_read_and_longer_get_431)
{
    child_server_start(&server, "http", NULL, NULL, false);
    static char out[1 << 16];
    size_t sizes[] = {10 * 1024, 200 * 1024, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t len;
        char *r = big_head(sizes[i], &len);
        exchange(r, len, out, sizeof out);
        cr_assert(eq(str, out, OK11 "\r\n" HELLO OK11 "\r\n" HELLO), "%zu",
                  sizes[i]);
        free(r);
    }
    size_t len;
    char *r = big_head((1 << 20) + 8192, &len);
    exchange(r, len, out, sizeof out);
    cr_assert(eq(str, out, ERR("431 Request Header Fields Too Large")));
    free(r);
    cr_assert(eq(int, child_server_stop(&server), 0)); /* exit 0 on SIGTERM */
}
