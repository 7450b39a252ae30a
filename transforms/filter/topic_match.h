/* MQTT topic filters ("f2/+/data", "f2/#") matched against origin topics. */
#ifndef FILTER_TOPIC_MATCH_H
#define FILTER_TOPIC_MATCH_H

#include <stddef.h>

/* 0 if `pattern` is a valid filter, else -1 with the reason in why. */
int topic_pattern_check(const char *pattern, char *why, size_t len);
/* 1 if `topic` matches the (valid) `pattern`. */
int topic_match(const char *pattern, const char *topic);

#endif
