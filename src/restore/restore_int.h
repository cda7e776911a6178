/*
 * restore_int.h - what the restore sources share: the chain's layout and a
 * few helpers. Not for use outside src/restore/.
 */
#ifndef DRCTL_RESTORE_RESTORE_INT_H
#define DRCTL_RESTORE_RESTORE_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "restore/restore.h"

/* One opened, verified bundle of the chain. */
typedef struct dr_rs_bundle {
    uint64_t version;
    char *path;          /* the local file read */
    dr_bundle_reader *r; /* open for the chain's lifetime */
    json_t *entries;     /* manifest path -> manifest entry (borrowed from the manifest) */
} dr_rs_bundle;

struct dr_restore_chain {
    const dr_log *log;
    char *stack;
    dr_rs_bundle *b; /* b[0]: the asked bundle; then referenced ones, newest first */
    size_t n;
    uint64_t *versions;
    json_t *tables; /* db/tables.json or NULL */
    json_t *index;  /* s3/index.json or NULL */
    int64_t captured_at;
};

/* The chain's bundle of a version, or NULL. */
dr_rs_bundle *dr_rs_find(dr_restore_chain *c, uint64_t version);

/* Lower-case hex of n bytes into out (2n+1). */
void dr_rs_hex(const unsigned char *p, size_t n, char *out);

/* Monotonic seconds. */
double dr_rs_now(void);

/* Scans stop early by returning -1 from a visitor callback with the
 * visitor's own "stopped" flag set: what was needed is read (and, for an
 * entry, verified), so the caller clears the error and goes on. The skipped
 * rest of the bundle was verified when the chain was opened. */

#endif
