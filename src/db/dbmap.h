/*
 * dbmap.h - the explicit stand-in for RDS in the sandbox.
 *
 * moto's RDS keeps only metadata: its endpoints resolve nowhere. In the
 * sandbox each region's database is a real PostgreSQL on loopback, and
 * DRCTL_DB_MAP says which: "us-east-1=postgresql://postgres@127.0.0.1:P1/litellm,
 * us-west-2=postgresql://...". drctl never falls back to it silently: every
 * use is reported (see dr_dbmap_describe), and outside the sandbox the
 * variable is simply unset.
 */
#ifndef DRCTL_DB_DBMAP_H
#define DRCTL_DB_DBMAP_H

#include <stddef.h>

#include "util/err.h"

typedef struct dr_dbmap_entry {
    char region[32];
    char *conninfo; /* a libpq URI or key=value string; may hold a password */
} dr_dbmap_entry;

typedef struct dr_dbmap {
    dr_dbmap_entry *entries;
    size_t n;
} dr_dbmap;

/* Parses DRCTL_DB_MAP. An unset variable gives an empty map; a malformed one
 * is a config error that quotes the bad element (with any password masked). */
int dr_dbmap_from_env(dr_dbmap *m, dr_err *err);
int dr_dbmap_parse(dr_dbmap *m, const char *spec, dr_err *err);
void dr_dbmap_free(dr_dbmap *m);

/* The conninfo for a region, or NULL. */
const char *dr_dbmap_lookup(const dr_dbmap *m, const char *region);

/* "host:port/dbname as user" for display: never shows a password.
 * Caller frees. */
char *dr_dbmap_describe(const char *conninfo);

#endif
