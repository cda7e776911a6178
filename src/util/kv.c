#include "util/kv.h"
#include "util/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void dr_kv_init(dr_kvlist *l)
{
    l->items = NULL;
    l->n = 0;
    l->cap = 0;
}

void dr_kv_add(dr_kvlist *l, const char *name, const char *value)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = dr_xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->n].name = dr_xstrdup(name);
    l->items[l->n].value = dr_xstrdup(value ? value : "");
    l->n++;
}

void dr_kv_addf(dr_kvlist *l, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(tmp)) {
        dr_kv_add(l, name, tmp);
        return;
    }
    char *big = dr_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    dr_kv_add(l, name, big);
    free(big);
}

void dr_kv_del(dr_kvlist *l, const char *name)
{
    size_t j = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (strcasecmp(l->items[i].name, name) == 0) {
            free(l->items[i].name);
            free(l->items[i].value);
        } else {
            l->items[j++] = l->items[i];
        }
    }
    l->n = j;
}

void dr_kv_set(dr_kvlist *l, const char *name, const char *value)
{
    dr_kv_del(l, name);
    dr_kv_add(l, name, value);
}

const char *dr_kv_get(const dr_kvlist *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcasecmp(l->items[i].name, name) == 0)
            return l->items[i].value;
    return NULL;
}

void dr_kv_copy(dr_kvlist *dst, const dr_kvlist *src)
{
    for (size_t i = 0; i < src->n; i++)
        dr_kv_add(dst, src->items[i].name, src->items[i].value);
}

void dr_kv_free(dr_kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].name);
        dr_free_secret(l->items[i].value); /* headers may carry tokens */
    }
    free(l->items);
    dr_kv_init(l);
}
