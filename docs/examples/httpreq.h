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
#define HTTPREQ_BAD_VALUE 4003  /* "invalid header value" */

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

/* is_value_char: the bytes Go allows in a field value (RFC 9110
 * field-content and httpguts.ValidHeaderFieldValue): no control byte
 * but HTAB. */
static bool is_value_char(char c)
{
    return c == '\t' || ((unsigned char)c >= ' ' && c != 0x7f);
}

/*
 * request_line reads "method SP target SP HTTP/d.d CRLF" at [*pp, end)
 * into r and *major, leaving *pp past the CRLF. The version is Go's
 * ParseHTTPVersion: one digit each side. Returns 0 or 400.
 */
static int request_line(const char **pp, const char *end, struct req *r,
                        unsigned *major)
{
    const char *p = *pp, *m = p;
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
    p += 5; /* at least 5 bytes left: d.d and the first CRLF of the end */
    if (p[0] < '0' || p[0] > '9' || p[1] != '.' || p[2] < '0' ||
        p[2] > '9' || p[3] != '\r' || p[4] != '\n')
        return 400;
    *major = (unsigned)(p[0] - '0');
    r->http10 = p[2] == '0';
    *pp = p + 5;
    return 0;
}

/*
 * parse_request reads the head [p, end) (end just past its "\r\n\r\n")
 * into r. Returns 0, or the status Go's server answers, in Go's order:
 * 400 for a malformed request line, field line or Content-Length
 * (negative, too long, two different ones); then 505 for a major version
 * other than 1; then, each 400 with its own text, HTTPREQ_NO_HOST for an
 * HTTP/1.1 request without Host, HTTPREQ_MANY_HOSTS for two Host lines
 * and HTTPREQ_BAD_VALUE for a control byte in a field value.
 */
static int parse_request(const char *p, const char *end, struct req *r)
{
    *r = (struct req){0};
    unsigned major;
    if (request_line(&p, end, r, &major) != 0)
        return 400;
    bool keep_alive = false, close = false, have_cl = false, bad = false;
    int hosts = 0;
    /* Field lines: name ":" value CRLF, up to the empty line. */
    while (p + 2 < end) {
        const char *n = p;
        while (is_tchar(*p))
            p++;
        if (p == n || *p != ':')
            return 400;
        size_t nlen = (size_t)(p - n);
        const char *v = p + 1, *eol = memchr(v, '\r', (size_t)(end - v));
        if (eol == NULL || eol[1] != '\n')
            return 400;
        for (const char *c = v; c < eol; c++)
            bad |= !is_value_char(*c);
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        const char *ve = eol;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (nlen == 4 && strncasecmp(n, "Host", 4) == 0) {
            hosts++;
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
    if (major != 1)
        return 505;
    if (hosts == 0 && !r->http10)
        return HTTPREQ_NO_HOST; /* Go: HTTP/1.1 requires Host */
    if (hosts > 1)
        return HTTPREQ_MANY_HOSTS;
    if (bad)
        return HTTPREQ_BAD_VALUE;
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
