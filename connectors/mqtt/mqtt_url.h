/* Broker addresses: mqtt://host[:port] and mqtts://host[:port]. */
#ifndef MQTT_URL_H
#define MQTT_URL_H

#include <stddef.h>

typedef struct mq_url {
    int tls;                 /* mqtts:// */
    char host[256];          /* without brackets for IPv6 literals */
    int port;
} mq_url;

/* 0, or -1 with a message naming what is wrong with `s`.  IPv6 literals are
 * written in brackets (mqtt://[::1]:1883); the port defaults to 1883, or
 * 8883 for mqtts. */
int mq_url_parse(const char *s, mq_url *u, char *err, size_t errlen);

#endif
