/* Binary COPY needs big-endian integers appended to the shared growing
 * buffer (sluice/sluice_util.h). */
#ifndef TS_BUF_H
#define TS_BUF_H

#include <sluice/sluice_util.h>
#include <stdint.h>

/* Network byte order, as PostgreSQL's binary COPY wants. */
static inline void ts_buf_be16(sluice_buf *b, uint16_t v)
{
    unsigned char x[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    sluice_buf_put(b, x, 2);
}

static inline void ts_buf_be32(sluice_buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    sluice_buf_put(b, x, 4);
}

static inline void ts_buf_be64(sluice_buf *b, uint64_t v)
{
    ts_buf_be32(b, (uint32_t)(v >> 32));
    ts_buf_be32(b, (uint32_t)v);
}

#endif
