/* A growable text buffer with the few JSON writers the file sink needs for
 * its envelope format (the host's converter is reachable only as
 * api->to_json, which writes whole records).  Every writer reserves its own
 * room and returns -1 when memory runs out. */
#ifndef FILE_JSON_OUT_H
#define FILE_JSON_OUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct jbuf {
    char *p;
    size_t len, cap;
} jbuf;

int jb_reserve(jbuf *b, size_t extra);
int jb_put(jbuf *b, const char *s, size_t n);
#define JB_LIT(b, s) jb_put((b), (s), sizeof(s) - 1)
/* A JSON string; bytes that are not valid UTF-8 become U+FFFD. */
int jb_str(jbuf *b, const char *s, size_t n);
/* A JSON string of the bytes in base64. */
int jb_base64(jbuf *b, const unsigned char *s, size_t n);
int jb_int(jbuf *b, int64_t v);
/* "2023-05-25T15:13:10.543400Z", as the host's converter writes it. */
int jb_timestamp(jbuf *b, int64_t us);
void jb_free(jbuf *b);

/* 1 if s is entirely valid UTF-8. */
int utf8_valid(const char *s, size_t n);

#endif
