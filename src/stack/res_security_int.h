/*
 * res_security_int.h - the security family's secret-value helpers, for
 * res_security.c and its unit test (tests/unit/test_res_security.c) only.
 *
 * Values these functions return are secrets: free them with
 * dr_free_secret(), never log them, never put them in an error.
 */
#ifndef DRCTL_STACK_RES_SECURITY_INT_H
#define DRCTL_STACK_RES_SECURITY_INT_H

#include <stddef.h>

#include "stack/profile.h"
#include "util/err.h"
#include "util/log.h"

/* n random characters of [A-Za-z0-9] (OpenSSL RAND_bytes, rejection
 * sampling: every character equally likely) and a NUL into out[n + 1];
 * -1 if the generator fails. */
int dr_sec_random_alnum(char *out, size_t n);

/* What a secret holds, from the last part of its name: "database",
 * "litellm-master-key", "litellm-salt-key", "provider-keys",
 * "cache-auth-token", or "other". */
const char *dr_sec_secret_kind(const char *name);

/* A new value for a secret of this name; NULL if the generator failed.
 * database: {"username", "password" (32 [A-Za-z0-9]), "engine":"postgres",
 * "port":5432, "dbname"} with the profile's username and database name
 * ("litellm" without a profile); master key: "sk-" + 48; salt key: 64;
 * cache AUTH token: 32; provider keys: "{}" with *placeholder = 1 (the
 * operator fills it); anything else: 32. */
char *dr_sec_generate_secret(const char *name, const dr_region_profile *p, int *placeholder);

/* A peer region's value as this region stores it: the database secret
 * without the peer's "host" and "url"; every other value unchanged. */
char *dr_sec_adapt_peer_value(const char *name, const char *value);

/* Reads `name` in `region`: 1 and *value (caller dr_free_secret()s) when
 * it has a value, 0 when absent, -1 with err on failure. */
typedef int (*dr_sec_fetch_fn)(void *ud, const char *region, const char *name, char **value,
                               dr_err *err);

/*
 * The first value of secret `name` in self_region: the value of the first
 * peer (NULL-terminated list, self_region skipped) that has one, adapted
 * (dr_sec_adapt_peer_value), else a generated one. A peer that fails is
 * warned about and skipped, except for throttling, which fails the call
 * (-1, err) so that the caller retries rather than let the regions differ.
 * *source: the peer the value came from (a pointer into peers), or NULL.
 */
int dr_sec_initial_value(const char *name, const char *self_region, const char *const *peers,
                         const dr_region_profile *p, dr_sec_fetch_fn fetch, void *ud,
                         const dr_log *log, char **value, const char **source, dr_err *err);

#endif
