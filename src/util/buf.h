/*
 * buf.h - a growable byte buffer, always NUL-terminated.
 *
 * For small things: request bodies of control-plane calls, canonical
 * strings, XML/JSON documents of a few MB at most. Never for object or
 * bundle data, which streams.
 */
#ifndef DRCTL_UTIL_BUF_H
#define DRCTL_UTIL_BUF_H

#include <stddef.h>

typedef struct dr_buf {
    char *data; /* NUL-terminated once anything was appended; NULL when empty */
    size_t len;
    size_t cap;
} dr_buf;

#define DR_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void dr_buf_init(dr_buf *b);
void dr_buf_append(dr_buf *b, const void *p, size_t n);
void dr_buf_puts(dr_buf *b, const char *s);
void dr_buf_putc(dr_buf *b, char c);
void dr_buf_printf(dr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empties the buffer, keeps the allocation. */
void dr_buf_reset(dr_buf *b);
/* Returns the contents ("" when empty; caller frees) and empties the buffer. */
char *dr_buf_detach(dr_buf *b);
/* Returns data or "" when empty; never NULL. */
const char *dr_buf_cstr(const dr_buf *b);
void dr_buf_free(dr_buf *b);
/* Zeroes then frees: for buffers that held secrets. */
void dr_buf_free_secret(dr_buf *b);

#endif
