/* MQTT 3.1.1 section 4.7 semantics: levels split on '/', "+" matches one
 * level (possibly empty), "#" matches the rest including the parent level
 * itself ("a/#" matches "a"), and wildcards in the first level do not match
 * topics beginning with '$' (broker topics like $SYS). */
#include "topic_match.h"

#include <stdio.h>
#include <string.h>

int topic_pattern_check(const char *p, char *why, size_t len)
{
    if (!*p) {
        snprintf(why, len, "an empty pattern matches nothing");
        return -1;
    }
    for (const char *c = p; *c; c++) {
        int level_start = c == p || c[-1] == '/';
        int level_end = c[1] == '/' || c[1] == '\0';
        if (*c == '#' && !(level_start && c[1] == '\0')) {
            snprintf(why, len, "'#' must be a whole level and the last one");
            return -1;
        }
        if (*c == '+' && !(level_start && level_end)) {
            snprintf(why, len, "'+' must be a whole level");
            return -1;
        }
    }
    return 0;
}

int topic_match(const char *p, const char *t)
{
    if (*t == '$' && (*p == '+' || *p == '#'))
        return 0;
    for (;;) {
        if (*p == '#')
            return 1;
        if (*p == '+') {
            p++;
            while (*t && *t != '/')
                t++;
        } else {
            while (*p && *p != '/' && *p == *t) {
                p++;
                t++;
            }
            if ((*p && *p != '/') || (*t && *t != '/'))
                return 0;    /* the level differs */
        }
        if (!*p && !*t)
            return 1;
        if (*p == '/' && *t == '/') {
            p++;
            t++;
            continue;
        }
        /* The topic ended a level early: only "/#" may remain. */
        return !*t && p[0] == '/' && p[1] == '#' && p[2] == '\0';
    }
}
