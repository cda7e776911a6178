/*
 * backup.h - one backup of a deployed stack into a bundle (the library
 * behind `drctl backup`; the failback runbook calls it too).
 *
 * What is captured comes from the engine's state of the region (physical
 * ids and outputs), never from guessed names:
 *   config/   the profile files, the rendered templates of every region (and
 *             the global edge), the state files, the ECS task definition in
 *             use, the LiteLLM config.yaml when the profile directory has one;
 *   secrets/  every Secrets Manager secret of the stack, sealed (never on
 *             disk in clear), named by logical id;
 *   db/       pg_dump -Fc streamed as parts (db/dump.pgc.part-NNNNNN) and
 *             db/tables.json, the per-table row counts and checksums taken in
 *             the dump's own snapshot; with database.native_snapshots, an RDS
 *             snapshot tagged with the bundle version and its copy in the
 *             standby region under that region's KMS key (ARNs in the
 *             manifest);
 *   s3/       the bucket's objects (objects.h), full or incremental.
 *
 * Publishing: the bundle is written in the local store's staging area,
 * reopened and its signed manifest checked, then published atomically
 * (store.h) and copied to the vault, the S3 bucket of the standby region.
 * Bundles the vault lacks (an upload that a crash cut short) are uploaded
 * first. A crash at any moment leaves the stores as they were plus garbage
 * that the next run removes under the same lock.
 */
#ifndef DRCTL_BACKUP_BACKUP_H
#define DRCTL_BACKUP_BACKUP_H

#include <stdint.h>

#include "aws/client.h"
#include "stack/profile.h"
#include "util/err.h"
#include "util/log.h"

typedef struct dr_backup_opts {
    dr_aws *aws;                 /* sequential calls */
    const dr_aws_opts *aws_opts; /* for parallel workers */
    const dr_log *log;
    const dr_profile_set *set;
    const dr_region_profile *p; /* the region backed up */
    const char *state_store;    /* local store: state, locks, staging, local bundles */
    const char *store_spec;     /* where bundles go: NULL = state_store, a directory, or s3://B/P */
    const char *store_region;   /* the region of an s3:// store; NULL = the standby region */
    int full;                   /* force a full bundle */
    int wait;                   /* wait for the lock instead of failing */
    int no_vault;               /* do not copy to the standby's vault bucket */
    int concurrency;            /* parallel object transfers; 0 = 8 */
    const char *recovery_key;   /* PEM public key path; NULL = encryption.recovery_public_key */
} dr_backup_opts;

typedef struct dr_backup_result {
    uint64_t version;
    uint64_t parent; /* 0 for a full bundle */
    int incremental;
    uint64_t size;       /* bundle bytes */
    uint64_t data_bytes; /* entry bytes before compression */
    double seconds;
    int64_t captured_at; /* the recovery point */
    size_t tables;
    int64_t rows;
    size_t objects_listed, objects_captured, objects_referenced;
    size_t snapshots;    /* native snapshot ARNs recorded */
    size_t uploaded_old; /* earlier bundles the vault lacked, uploaded now */
    char location[1024]; /* where the bundle is */
    char vault[1024];    /* its vault copy, or "" */
} dr_backup_result;

int dr_backup_run(const dr_backup_opts *o, dr_backup_result *res, dr_err *err);

#endif
