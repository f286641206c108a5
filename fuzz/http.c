/*
 * http.c: libFuzzer target for the HTTP example's request reader
 * (docs/examples/httpreq.h, used by docs/examples/http.c).
 *
 * The input is a byte stream as a connection delivers it, copied to a
 * buffer of exactly its size so that ASan catches any read past it. It is
 * cut into requests as the example's respond() does (httpreq_head, then
 * the Content-Length body skipped) until a head is incomplete or refused.
 * Each head is also judged by a reference written here from the grammar
 * the example claims (RFC 9112's request line and field lines, and the
 * refusals of Go's net/http server: 400 for a malformed request line,
 * field line, field value or Content-Length, for a missing (HTTP/1.1) or
 * repeated Host; 505 for a major version other than 1). The two must
 * agree on the status and, for a request accepted, on HEAD, HTTP/1.0,
 * close and the body length. A disagreement aborts (a libFuzzer crash).
 * The reference splits the head into lines first and tests whole
 * fields, a different route from the reader's single pass.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpreq.h"

struct ref {
    int status;
    bool head, http10, close;
    uint64_t body;
};

static bool tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* span: the length of the prefix of [s, e) whose bytes satisfy ok. */
static size_t span(const char *s, const char *e, bool (*ok)(unsigned char))
{
    size_t n = 0;
    while (s + n < e && ok((unsigned char)s[n]))
        n++;
    return n;
}

static bool target_char(unsigned char c) { return c > ' ' && c != 0x7f; }
static bool digit(unsigned char c) { return c >= '0' && c <= '9'; }
/* RFC 9110 field-value bytes: VCHAR, obs-text, SP, HTAB (Go:
 * httpguts.ValidHeaderFieldValue). */
static bool value_char(unsigned char c)
{
    return c == '\t' || (c >= ' ' && c != 0x7f);
}
static bool ows(unsigned char c) { return c == ' ' || c == '\t'; }

/* has_word: some piece of [v, e) cut at SP, HTAB and comma is w. */
static bool has_word(const char *v, const char *e, const char *w)
{
    size_t n = strlen(w);
    while (v < e) {
        const char *p = v;
        while (p < e && *p != ' ' && *p != '\t' && *p != ',')
            p++;
        if ((size_t)(p - v) == n && strncasecmp(v, w, n) == 0)
            return true;
        v = p + 1;
    }
    return false;
}

/* ref_request_line: method SP target SP HTTP/d.d, nothing else (Go's
 * parseRequestLine and ParseHTTPVersion). Returns 400 or the major. */
static int ref_request_line(const char *l, const char *e, struct ref *r)
{
    size_t m = span(l, e, tchar);
    if (m == 0 || l + m == e || l[m] != ' ')
        return 400;
    r->head = m == 4 && memcmp(l, "HEAD", 4) == 0;
    const char *t = l + m + 1;
    size_t tn = span(t, e, target_char);
    if (tn == 0 || t + tn == e || t[tn] != ' ')
        return 400;
    const char *v = t + tn + 1;
    if (e - v < 5 || memcmp(v, "HTTP/", 5) != 0)
        return 400;
    v += 5;
    if (e - v != 3 || !digit((unsigned char)v[0]) || v[1] != '.' ||
        !digit((unsigned char)v[2]))
        return 400;
    r->http10 = v[2] == '0';
    return v[0] - '0';
}

/* content_length: 1*DIGIT, at most 2^63 - 1. */
static bool content_length(const char *v, const char *e, uint64_t *out)
{
    if (v == e || span(v, e, digit) != (size_t)(e - v))
        return false;
    uint64_t n = 0;
    for (; v < e; v++) {
        if (n > (uint64_t)(INT64_MAX - (*v - '0')) / 10)
            return false;
        n = n * 10 + (uint64_t)(*v - '0');
    }
    *out = n;
    return true;
}

/* reference judges the head [h, h + n), which ends with its first
 * "\r\n\r\n": lines cut at CRLF, the request line, then field lines;
 * the refusals in Go's order: what ReadRequest refuses (request line,
 * field lines, Content-Length), then the server's checks (version,
 * Host, field values). */
static struct ref reference(const char *h, size_t n)
{
    struct ref r = {0};
    const char *end = h + n - 2; /* the final empty line's CRLF */
    const char *l = h, *e = memmem(l, (size_t)(end - l), "\r\n", 2);
    int major = ref_request_line(l, e, &r);
    if (major == 400) {
        r.status = 400;
        return r;
    }
    int hosts = 0;
    bool have_cl = false, keep_alive = false, bad_value = false;
    for (l = e + 2; l < end; l = e + 2) {
        e = memmem(l, (size_t)(end - l + 2), "\r\n", 2);
        size_t nl = span(l, e, tchar);
        if (nl == 0 || l[nl] != ':' || memchr(l, '\r', (size_t)(e - l))) {
            r.status = 400; /* no name, or a CR alone: not a field line */
            return r;
        }
        const char *v = l + nl + 1, *ve = e;
        bad_value |= span(v, ve, value_char) != (size_t)(ve - v);
        v += span(v, ve, ows);
        while (ve > v && ows((unsigned char)ve[-1]))
            ve--;
        if (nl == 4 && strncasecmp(l, "host", 4) == 0) {
            hosts++;
        } else if (nl == 10 && strncasecmp(l, "connection", 10) == 0) {
            r.close |= has_word(v, ve, "close");
            keep_alive |= has_word(v, ve, "keep-alive");
        } else if (nl == 14 && strncasecmp(l, "content-length", 14) == 0) {
            uint64_t len;
            if (!content_length(v, ve, &len) || (have_cl && len != r.body)) {
                r.status = 400;
                return r;
            }
            r.body = len;
            have_cl = true;
        }
    }
    if (major != 1)
        r.status = 505;
    else if (hosts == 0 && !r.http10)
        r.status = HTTPREQ_NO_HOST;
    else if (hosts > 1)
        r.status = HTTPREQ_MANY_HOSTS;
    else if (bad_value)
        r.status = HTTPREQ_BAD_VALUE;
    r.close = r.close || (r.http10 && !keep_alive);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size ? size : 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    size_t off = 0;
    for (int n = 0;; n++) {
        struct req r;
        int status = -1;
        size_t hl = httpreq_head(in + off, size - off, &r, &status);
        if (hl == 0)
            break;
        struct ref want = reference(in + off, hl);
        if (status != want.status ||
            (status == 0 &&
             (r.head != want.head || r.http10 != want.http10 ||
              r.close != want.close || r.body != want.body))) {
            fprintf(stderr,
                    "fuzz http: request %d at %zu: reader %d head %d "
                    "1.0 %d close %d body %llu; reference %d head %d "
                    "1.0 %d close %d body %llu\n", n, off, status, r.head,
                    r.http10, r.close, (unsigned long long)r.body,
                    want.status, want.head, want.http10, want.close,
                    (unsigned long long)want.body);
            abort();
        }
        if (status != 0 || r.close)
            break;
        off += hl;
        off += r.body < size - off ? (size_t)r.body : size - off;
    }
    free(in);
    return 0;
}
