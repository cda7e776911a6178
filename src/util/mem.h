/*
 * mem.h - allocation that never returns NULL.
 *
 * As in git's xmalloc: running out of memory in a batch CLI is not a
 * condition we can recover from meaningfully, and checking every small
 * allocation hides the real error paths. These functions print one line and
 * exit(DR_E_INTERNAL) on failure. Large, data-sized buffers are never
 * allocated: data streams (see the bundle and S3 code).
 */
#ifndef DRCTL_UTIL_MEM_H
#define DRCTL_UTIL_MEM_H

#include <stddef.h>

void *dr_xmalloc(size_t n);
void *dr_xcalloc(size_t n, size_t size);
void *dr_xrealloc(void *p, size_t n);
char *dr_xstrdup(const char *s);
char *dr_xstrndup(const char *s, size_t n);
char *dr_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Overwrites n bytes with zeros in a way the compiler cannot elide; for
 * buffers that held secrets. */
void dr_secure_zero(void *p, size_t n);
/* dr_secure_zero(s, strlen(s)) then free(s). NULL is fine. */
void dr_free_secret(char *s);

#endif
