/*
 * model_int.h - what the resource families share while building a model.
 *
 * Private to src/stack/model*.c. A builder (dr_mb) holds the profile, the
 * resolved state (which parts of the stack this model has), the carved
 * subnets and the model being filled. Each family file adds its resources
 * with dr_mb_add and its outputs with dr_mb_output; model.c then tags every
 * taggable resource, derives the dependencies from the references and
 * checks that every reference resolves.
 *
 * Properties are jansson values whose ownership passes to the model
 * (json_pack's "o" and the helpers below return new references).
 */
#ifndef DRCTL_STACK_MODEL_INT_H
#define DRCTL_STACK_MODEL_INT_H

#include <jansson.h>

#include "stack/model.h"

/* The parts a regional model can hold; see the table in model.h. */
enum {
    DR_PART_KEY = 1 << 0,      /* KMS key and alias */
    DR_PART_VAULT = 1 << 1,    /* bundle vault bucket (standby) */
    DR_PART_NETWORK = 1 << 2,  /* VPC, subnets, gateways, routes, endpoints, flow logs */
    DR_PART_SECURITY = 1 << 3, /* security groups, secrets, IAM roles, certificate */
    DR_PART_COMPUTE = 1 << 4,  /* cluster, task definition, service, ALB, log group */
    DR_PART_SCALING = 1 << 5,  /* scalable target and policies */
    DR_PART_DB = 1 << 6,       /* the RDS instance (its subnet group comes with NETWORK) */
    DR_PART_CACHE = 1 << 7,    /* the ElastiCache replication group (when cache.enabled) */
    DR_PART_BUCKET = 1 << 8,   /* the data bucket */
    DR_PART_REPLICATE = 1 << 9 /* the data bucket replicates to the standby (warm standby) */
};

typedef struct dr_mb {
    const dr_profile_set *set;
    const dr_region_profile *p; /* NULL for the global model */
    const char *region;
    const char *stack;
    dr_model_state state; /* ACTIVE or RESTING once resolved */
    dr_strategy strategy;
    unsigned parts;
    dr_db_source db;
    const char *db_snapshot;
    const dr_region_profile *peer; /* the other region: standby for the primary and vice versa */
    int peer_serves;               /* global model: the standby has a load balancer */
    dr_subnet_layout net;
    dr_model *m;
    size_t cap;
    dr_err *err;
} dr_mb;

/* Adds a resource; steals props. Logical ids must be unique (a bug
 * otherwise: aborts the build with an internal error at the end). */
dr_resource *dr_mb_add(dr_mb *b, const char *logical_id, const char *type, json_t *props);
/* An explicit dependency, on top of those the references imply. */
void dr_mb_depends(dr_resource *r, const char *logical_id);
/* An output; steals value. */
void dr_mb_output(dr_mb *b, const char *name, json_t *value, const char *description);
/* A template parameter (dr_model.parameters). */
void dr_mb_parameter(dr_mb *b, const char *name, const char *description);

/* Intrinsics, each a new reference. */
json_t *dr_ref(const char *logical_id);
json_t *dr_getatt(const char *logical_id, const char *attr);
json_t *dr_sub(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_t *dr_join(const char *sep, json_t *parts); /* steals parts (an array) */
json_t *dr_other_output(const char *region, const char *output);
/* A JSON array of the refs of logical ids "<prefix>1".."<prefix>n". */
json_t *dr_refs_numbered(const char *prefix, int n, const char *suffix);
/* A name string as a new json string, and free(s). */
json_t *dr_str_take(char *s);

/* Family builders (one file each). */
void dr_build_security_key(dr_mb *b);    /* model_security.c: KMS key, alias */
void dr_build_security(dr_mb *b);        /* model_security.c: SGs, secrets, roles, certificate */
void dr_build_network(dr_mb *b);         /* model_network.c */
void dr_build_compute(dr_mb *b);         /* model_compute.c */
void dr_build_data(dr_mb *b);            /* model_data.c: database, cache, buckets */
void dr_build_monitoring(dr_mb *b);      /* model_monitoring.c: log groups, alarms, dashboard */
void dr_build_monitoring_logs(dr_mb *b); /* model_monitoring.c: log groups only (before compute) */
void dr_build_edge(dr_mb *b);            /* model_edge.c: WAF, CloudFront, Route 53 */

/* An IAM role assumed by an AWS service of this account (flow logs, S3
 * replication): properties for AWS::IAM::Role named
 * "<stack>-<region>-<purpose>"; steals statements. */
json_t *dr_service_role(dr_mb *b, const char *purpose, const char *desc, const char *service,
                        const char *policy_name, json_t *statements);

/* The standby of the set (the one region with role standby), or NULL. */
const dr_region_profile *dr_mb_standby(const dr_profile_set *set);

#endif
