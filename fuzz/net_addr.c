/*
 * net_addr.c: libFuzzer target for the address parsing behind gort_listen
 * and gort_dial (netpoll/dial.c: gort__split_hostport, gort__parse_port).
 *
 * Each input, cut at its first NUL, is parsed by gort and by a reference
 * written here from Go 1.19's source (net.SplitHostPort, net.parsePort and
 * LookupPort's range check), plus the two forms gort documents beyond Go's
 * SplitHostPort: a host alone and "[v6]" alone (port -1, "none"). The two
 * must agree on accepting, on the host and on the port; a disagreement
 * aborts, which libFuzzer reports as a crash. ASan and UBSan catch the rest.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netpoll.h"

/* go_parse_port is Go's parsePort followed by LookupPort's range check;
 * needsLookup (a service name) is an error, since gort looks none up. */
static bool go_parse_port(const char *service, int *port)
{
    if (*service == '\0') {
        *port = 0;
        return true;
    }
    const uint32_t max = UINT32_MAX, cutoff = 1u << 30;
    bool neg = false;
    if (*service == '+')
        service++;
    else if (*service == '-')
        neg = true, service++;
    uint32_t n = 0;
    for (const char *d = service; *d; d++) {
        if (*d < '0' || *d > '9')
            return false; /* needsLookup */
        if (n >= cutoff) {
            n = max;
            break;
        }
        n *= 10;
        uint32_t nn = n + (uint32_t)(*d - '0');
        if (nn < n) {
            n = max;
            break;
        }
        n = nn;
    }
    long p;
    if (!neg && n >= cutoff)
        p = cutoff - 1;
    else if (neg && n > cutoff)
        p = cutoff;
    else
        p = n;
    if (neg)
        p = -p;
    if (p < 0 || p > 0xFFFF)
        return false; /* "invalid port" */
    *port = (int)p;
    return true;
}

/* go_split is Go's SplitHostPort with gort's two extra forms; host gets
 * at most GORT_HOST_MAX - 1 bytes (gort's limit). */
static bool go_split(const char *hp, char *host, int *port)
{
    size_t len = strlen(hp);
    const char *i = strrchr(hp, ':');
    const char *h = hp;
    size_t hlen, j = 0, k = 0;
    bool has_port = true;
    if (hp[0] == '[') {
        const char *end = strchr(hp, ']');
        if (end == NULL)
            return false; /* missing ']' */
        if ((size_t)(end + 1 - hp) == len)
            has_port = false; /* gort: "[v6]" alone; Go: missing port */
        else if (end + 1 != i)
            return false; /* too many colons, or missing port */
        h = hp + 1;
        hlen = (size_t)(end - h);
        j = 1;
        k = (size_t)(end + 1 - hp);
    } else if (i == NULL) {
        has_port = false; /* gort: a host alone */
        hlen = len;
    } else {
        hlen = (size_t)(i - hp);
        if (memchr(hp, ':', hlen))
            return false; /* too many colons */
    }
    if (strchr(hp + j, '['))
        return false; /* unexpected '[' */
    if (strchr(hp + k, ']'))
        return false; /* unexpected ']' */
    if (hlen >= GORT_HOST_MAX)
        return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = -1;
    return has_port ? go_parse_port(i + 1, port) : true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[1024];
    if (size >= sizeof s)
        size = sizeof s - 1;
    memcpy(s, data, size);
    s[size] = '\0';

    int got = -7, want = -7;
    bool ok = gort__parse_port(s, &got) == 0;
    if (ok != go_parse_port(s, &want) || (ok && got != want))
        abort();

    char ghost[GORT_HOST_MAX], whost[GORT_HOST_MAX];
    got = want = -7;
    ok = gort__split_hostport(s, ghost, &got) == 0;
    if (ok != go_split(s, whost, &want))
        abort();
    if (ok && (got != want || strcmp(ghost, whost) != 0))
        abort();
    return 0;
}
