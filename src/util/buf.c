#include "util/buf.h"
#include "util/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dr_buf_init(dr_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

static void grow(dr_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = dr_xrealloc(b->data, cap);
    b->cap = cap;
}

void dr_buf_append(dr_buf *b, const void *p, size_t n)
{
    grow(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void dr_buf_puts(dr_buf *b, const char *s)
{
    dr_buf_append(b, s, strlen(s));
}

void dr_buf_putc(dr_buf *b, char c)
{
    dr_buf_append(b, &c, 1);
}

void dr_buf_printf(dr_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        grow(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void dr_buf_reset(dr_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *dr_buf_detach(dr_buf *b)
{
    char *p = b->data ? b->data : dr_xstrdup("");
    dr_buf_init(b);
    return p;
}

const char *dr_buf_cstr(const dr_buf *b)
{
    return b->data ? b->data : "";
}

void dr_buf_free(dr_buf *b)
{
    free(b->data);
    dr_buf_init(b);
}

void dr_buf_free_secret(dr_buf *b)
{
    dr_secure_zero(b->data, b->cap);
    dr_buf_free(b);
}
