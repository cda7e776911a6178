#include "util/mem.h"
#include "util/err.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die_oom(size_t n)
{
    fprintf(stderr, "drctl: error: out of memory allocating %zu bytes\n", n);
    exit(DR_E_INTERNAL);
}

void *dr_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die_oom(n);
    return p;
}

void *dr_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        die_oom(n * size);
    return p;
}

void *dr_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die_oom(n);
    return q;
}

char *dr_xstrdup(const char *s)
{
    return dr_xstrndup(s, strlen(s));
}

char *dr_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = dr_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *dr_xasprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        fprintf(stderr, "drctl: error: bad format string\n");
        exit(DR_E_INTERNAL);
    }
    char *p = dr_xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void dr_secure_zero(void *p, size_t n)
{
    if (p && n)
        OPENSSL_cleanse(p, n);
}

void dr_free_secret(char *s)
{
    if (!s)
        return;
    dr_secure_zero(s, strlen(s));
    free(s);
}
