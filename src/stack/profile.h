/*
 * profile.h - region profiles: what each region runs.
 *
 * A profile directory (default regions/, or --config-dir / DRCTL_CONFIG_DIR)
 * holds defaults.yaml and one <region>.yaml per region. A region's profile
 * is defaults.yaml with the region file laid over it, key by key (maps
 * merge, scalars and lists replace). regions/sandbox/ is the same shape for
 * the local moto + PostgreSQL sandbox.
 *
 * Loading never stops at the first problem: every problem becomes a
 * diagnostic with file, line, column and key path, and the load fails with
 * a config error when there is at least one.
 */
#ifndef DRCTL_STACK_PROFILE_H
#define DRCTL_STACK_PROFILE_H

#include <stddef.h>
#include <stdio.h>

#include "util/err.h"

typedef enum dr_role { DR_ROLE_PRIMARY, DR_ROLE_STANDBY } dr_role;

typedef enum dr_strategy {
    DR_STRATEGY_BACKUP_RESTORE, /* "backup-and-restore" */
    DR_STRATEGY_PILOT_LIGHT,    /* "pilot-light" */
    DR_STRATEGY_WARM_STANDBY    /* "warm-standby" */
} dr_strategy;

typedef enum dr_nat_mode { DR_NAT_PER_AZ, DR_NAT_SINGLE } dr_nat_mode;

typedef enum dr_db_restore_path {
    DR_DB_RESTORE_AUTO,     /* "auto": snapshot when one exists in the region, else logical */
    DR_DB_RESTORE_SNAPSHOT, /* "snapshot" */
    DR_DB_RESTORE_LOGICAL   /* "logical" */
} dr_db_restore_path;

typedef struct dr_region_profile {
    char *file;      /* the region file it came from */
    char region[32]; /* from the file name, e.g. "us-east-1" */
    dr_role role;    /* role: primary | standby */
    char *stack;     /* stack: name, [a-z][a-z0-9-]{2,30}; tags and resource names derive from it */
    char *environment; /* environment: prod | staging | dev | sandbox */

    struct {
        char *domain;      /* dns.domain: the public name, e.g. llm.example.com */
        char *hosted_zone; /* dns.hosted_zone: e.g. example.com */
    } dns;

    struct {
        char *image;          /* service.image (pinned by digest once known) */
        int port;             /* service.port: 4000 */
        int cpu;              /* service.cpu: Fargate CPU units (256..16384) */
        int memory;           /* service.memory: MiB */
        int desired_count;    /* service.desired_count: tasks to run; absent = min_tasks */
        int min_tasks;        /* service.scaling.min: 2 */
        int max_tasks;        /* service.scaling.max: 6 */
        int cpu_target;       /* service.scaling.cpu_target: 70 (%) */
        int memory_target;    /* service.scaling.memory_target: 75 (%) */
        int fargate_spot;     /* service.fargate_spot: bool (dev) */
        char *health_path;    /* service.health_path: /health/liveliness */
        char *readiness_path; /* service.readiness_path: /health/readiness */
    } service;

    struct {
        char *instance_class;            /* database.instance_class */
        int allocated_storage;           /* database.allocated_storage: GiB */
        char *engine_version;            /* database.engine_version: e.g. "15.12" */
        int multi_az;                    /* database.multi_az */
        int backup_retention;            /* database.backup_retention_days: 7 */
        int deletion_protection;         /* database.deletion_protection */
        char *name;                      /* database.name: litellm */
        char *username;                  /* database.username: litellm */
        dr_db_restore_path restore_path; /* database.restore_path */
        int native_snapshots; /* database.native_snapshots: RDS snapshots with each backup */
    } database;

    struct {
        int enabled;     /* cache.enabled */
        char *node_type; /* cache.node_type */
        int replicas;    /* cache.replicas: read replicas per shard (0..5) */
    } cache;

    struct {
        int archive_after_days; /* bucket.archive_after_days: transition to archive_storage_class */
        char *archive_storage_class; /* bucket.archive_storage_class: GLACIER_IR | GLACIER |
                                        DEEP_ARCHIVE */
        int noncurrent_expire_days;  /* bucket.noncurrent_expire_days */
    } bucket;

    struct {
        char *cidr;      /* network.cidr: a /16../24 IPv4 block */
        int az_count;    /* network.az_count: 2..6 */
        dr_nat_mode nat; /* network.nat: per-az | single */
        int flow_logs;   /* network.flow_logs */
    } network;

    struct {
        int enabled;    /* edge.enabled: CloudFront + WAF in us-east-1 */
        int rate_limit; /* edge.rate_limit: requests per 5 minutes per IP */
    } edge;

    struct {
        dr_strategy strategy; /* dr.strategy */
        int rto_minutes;      /* dr.rto_minutes */
        int rpo_minutes;      /* dr.rpo_minutes */
    } dr;

    struct {
        int keep_last;  /* retention.keep_last */
        int daily;      /* retention.daily */
        int weekly;     /* retention.weekly */
        int monthly;    /* retention.monthly */
        int full_every; /* retention.full_every: a full bundle every N backups */
    } retention;

    struct {
        char *mode;                /* encryption.mode: kms | none */
        char *recovery_public_key; /* encryption.recovery_public_key: PEM file path, optional */
    } encryption;

    int log_retention_days; /* logs.retention_days */
} dr_region_profile;

typedef struct dr_profile_set {
    char *dir;
    dr_region_profile *regions; /* sorted by region name */
    size_t n;
    const dr_region_profile *primary; /* the one with role primary */
} dr_profile_set;

typedef struct dr_diag {
    char *file;
    int line;   /* 1-based; 0 when the problem has no single place */
    int column; /* 1-based */
    char *path; /* key path, e.g. "network.cidr" */
    char *message;
} dr_diag;

typedef struct dr_diags {
    dr_diag *items;
    size_t n;
} dr_diags;

void dr_diags_free(dr_diags *d);
/* "file:line:column: path: message", one per line; "file: path: message"
 * when line is 0, and no "path: " when path is empty. */
void dr_diags_print(const dr_diags *d, FILE *out);
/* Appends one diagnostic (strings are copied). For other YAML readers
 * (runbooks) that report the same way. */
void dr_diags_add(dr_diags *d, const char *file, int line, int column, const char *path,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Loads and validates every profile in dir. On any problem: -1, err is a
 * config error ("N problems in DIR"), diags lists them all (appended to
 * *diags, which starts zeroed; sorted by file, line and column; the caller
 * frees it in both cases) and *out is left empty. A directory that cannot
 * be read is a config error with no diagnostics. Keys absent from both
 * files take the built-in defaults documented in docs/profiles.md. */
int dr_profiles_load(const char *dir, dr_profile_set *out, dr_diags *diags, dr_err *err);
void dr_profiles_free(dr_profile_set *s);

/* The profile of one region, or NULL. */
const dr_region_profile *dr_profiles_find(const dr_profile_set *s, const char *region);

const char *dr_strategy_name(dr_strategy s);
const char *dr_role_name(dr_role r);
const char *dr_nat_mode_name(dr_nat_mode m);
const char *dr_db_restore_path_name(dr_db_restore_path p);

/* The shortest RTO, in minutes, a strategy can honestly promise (see
 * docs/profiles.md): backup-and-restore 60, pilot-light 15, warm-standby 5.
 * dr.rto_minutes below it is a config error. */
int dr_strategy_rto_floor(dr_strategy s);

#endif
