/* See mqtt_url.h. */
#include "mqtt_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int mq_url_parse(const char *s, mq_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    if (!s || !*s) {
        snprintf(err, errlen, "url is empty; expected mqtt://host:port or mqtts://host:port");
        return -1;
    }
    const char *p;
    if (!strncasecmp(s, "mqtt://", 7)) {
        p = s + 7;
    } else if (!strncasecmp(s, "mqtts://", 8)) {
        p = s + 8;
        u->tls = 1;
    } else {
        snprintf(err, errlen, "url \"%s\": unknown scheme; expected mqtt://host:port or "
                 "mqtts://host:port", s);
        return -1;
    }
    u->port = u->tls ? 8883 : 1883;
    const char *host = p, *host_end;
    const char *at = strrchr(p, '@');
    if (at) {
        /* Credentials in a URL end up in logs and status pages, so the
         * refusal shows everything but them. */
        snprintf(err, errlen, "url \"%.*s***%s\": credentials do not belong in the url; use "
                 "the username and password options", (int)(p - s), s, at);
        return -1;
    }
    if (*p == '[') {
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end) {
            snprintf(err, errlen, "url \"%s\": unterminated [ in an IPv6 address", s);
            return -1;
        }
        p = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/");
        p = host_end;
    }
    size_t hl = (size_t)(host_end - host);
    if (hl == 0 || hl >= sizeof u->host) {
        snprintf(err, errlen, "url \"%s\": %s host name", s, hl ? "too long a" : "no");
        return -1;
    }
    memcpy(u->host, host, hl);
    u->host[hl] = '\0';
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535 || (*end && strcmp(end, "/") != 0)) {
            snprintf(err, errlen, "url \"%s\": bad port; expected a number from 1 to 65535", s);
            return -1;
        }
        u->port = (int)port;
    } else if (*p && strcmp(p, "/") != 0) {
        snprintf(err, errlen, "url \"%s\": unexpected \"%s\" after the host; expected "
                 "mqtt://host:port", s, p);
        return -1;
    }
    return 0;
}
