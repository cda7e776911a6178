/*
 * kv.h - an ordered list of name/value string pairs.
 *
 * Used for HTTP headers (names compared case-insensitively by the lookup
 * functions), query parameters and query-protocol request parameters.
 * Order of insertion is kept; duplicates are allowed (the SigV4 suite has
 * repeated headers and query keys).
 */
#ifndef DRCTL_UTIL_KV_H
#define DRCTL_UTIL_KV_H

#include <stddef.h>

typedef struct dr_kv {
    char *name;
    char *value;
} dr_kv;

typedef struct dr_kvlist {
    dr_kv *items;
    size_t n;
    size_t cap;
} dr_kvlist;

#define DR_KVLIST_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void dr_kv_init(dr_kvlist *l);
void dr_kv_add(dr_kvlist *l, const char *name, const char *value);
void dr_kv_addf(dr_kvlist *l, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Replaces every entry named `name` (case-insensitive) by one with `value`. */
void dr_kv_set(dr_kvlist *l, const char *name, const char *value);
/* First value for `name`, case-insensitive; NULL if absent. */
const char *dr_kv_get(const dr_kvlist *l, const char *name);
/* Removes every entry named `name` (case-insensitive). */
void dr_kv_del(dr_kvlist *l, const char *name);
void dr_kv_copy(dr_kvlist *dst, const dr_kvlist *src);
void dr_kv_free(dr_kvlist *l);

#endif
