/*
 * httpreq.h: the request reader of the HTTP example (http.c), apart so
 * that the fuzz target fuzz/http.c reads requests with the very same
 * code. It parses one request head as Go's net/http server does and says
 * which status Go would refuse it with; it never reads outside the head
 * it is given. Header-only (static functions): each user includes it once.
 */
#ifndef HTTPREQ_H
#define HTTPREQ_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* Refusals with their own text after "400 Bad Request: " (Go's
 * badRequestError); parse_request's other refusals are plain statuses. */
#define HTTPREQ_NO_HOST 4001    /* "missing required Host header" */
#define HTTPREQ_MANY_HOSTS 4002 /* "too many Host headers" */

struct req {
    bool head;      /* HEAD: the response has no body */
    bool http10;    /* HTTP/1.0: answered as 1.0, closed unless keep-alive */
    bool close;     /* close after the response */
    uint64_t body;  /* Content-Length: body bytes to skip */
};

/* is_tchar: RFC 9110 token characters (methods, header names). */
static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* has_token: the comma-separated value [v, end) holds tok (Go: hasToken,
 * case-insensitive). */
static bool has_token(const char *v, const char *end, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = v; p + n <= end; p++)
        if (strncasecmp(p, tok, n) == 0 &&
            (p == v || p[-1] == ',' || p[-1] == ' ' || p[-1] == '\t') &&
            (p + n == end || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
            return true;
    return false;
}

/* parse_length reads a Content-Length value as Go does: decimal digits
 * only (no sign, no blank inside), at most 2^63 - 1. */
static bool parse_length(const char *v, const char *end, uint64_t *out)
{
    uint64_t n = 0;
    if (v == end)
        return false;
    for (; v < end; v++) {
        if (*v < '0' || *v > '9' || n > (UINT64_MAX >> 1) / 10)
            return false;
        n = n * 10 + (uint64_t)(*v - '0');
    }
    if (n > (UINT64_MAX >> 1))
        return false;
    *out = n;
    return true;
}

/*
 * parse_request reads the head [p, end) (end just past its "\r\n\r\n")
 * into r. Returns 0, or the status Go's server answers: 400 for a
 * malformed request line, header line or Content-Length (negative, too
 * long, two different ones), HTTPREQ_NO_HOST (400 with its own text) for an
 * HTTP/1.1 request without Host, 505 for a major version other than 1.
 */
static int parse_request(const char *p, const char *end, struct req *r)
{
    *r = (struct req){0};
    /* Request line: method SP target SP HTTP/major.minor CRLF. */
    const char *m = p;
    while (p < end && is_tchar(*p))
        p++;
    if (p == m || *p != ' ')
        return 400;
    r->head = p - m == 4 && memcmp(m, "HEAD", 4) == 0;
    const char *t = ++p;
    while (p < end && *p != ' ' && (unsigned char)*p > ' ' && *p != 0x7f)
        p++;
    if (p == t || *p != ' ' || end - ++p < 10 || memcmp(p, "HTTP/", 5) != 0)
        return 400;
    p += 5;
    unsigned major = 0, minor = 0;
    int digits = 0;
    for (; p < end && *p >= '0' && *p <= '9' && digits < 3; p++, digits++)
        major = major * 10 + (unsigned)(*p - '0');
    if (digits == 0 || *p++ != '.')
        return 400;
    for (digits = 0; p < end && *p >= '0' && *p <= '9' && digits < 3;
         p++, digits++)
        minor = minor * 10 + (unsigned)(*p - '0');
    if (digits == 0 || p[0] != '\r' || p[1] != '\n')
        return 400;
    if (major != 1)
        return 505;
    r->http10 = minor == 0;
    bool keep_alive = false, close = false, have_cl = false, host = false;
    /* Header lines: name ":" value CRLF, up to the empty line. */
    for (p += 2; p + 2 < end; ) {
        const char *n = p;
        while (is_tchar(*p))
            p++;
        if (p == n || *p != ':')
            return 400;
        size_t nlen = (size_t)(p - n);
        const char *v = p + 1, *eol = memchr(v, '\r', (size_t)(end - v));
        if (eol == NULL || eol[1] != '\n')
            return 400;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        const char *ve = eol;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (nlen == 4 && strncasecmp(n, "Host", 4) == 0) {
            host = true;
        } else if (nlen == 10 && strncasecmp(n, "Connection", 10) == 0) {
            close |= has_token(v, ve, "close");
            keep_alive |= has_token(v, ve, "keep-alive");
        } else if (nlen == 14 && strncasecmp(n, "Content-Length", 14) == 0) {
            uint64_t len;
            if (!parse_length(v, ve, &len) || (have_cl && len != r->body))
                return 400;
            r->body = len;
            have_cl = true;
        }
        p = eol + 2;
    }
    if (!host && !r->http10)
        return HTTPREQ_NO_HOST; /* Go: HTTP/1.1 requires Host */
    r->close = close || (r->http10 && !keep_alive);
    return 0;
}

/*
 * httpreq_head finds the request head at the start of [in, in + n) (up to
 * and including its "\r\n\r\n") and parses it into r. Returns the head's
 * length with *status 0 or the refusal status (parse_request), or 0 when
 * the head is not complete yet.
 */
static size_t httpreq_head(const char *in, size_t n, struct req *r,
                           int *status)
{
    const char *end = memmem(in, n, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    end += 4;
    *status = parse_request(in, end, r);
    return (size_t)(end - in);
}

#endif /* HTTPREQ_H */
