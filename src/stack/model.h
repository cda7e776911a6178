/*
 * model.h - the resource model: what a region (or the global edge) should
 * contain, as data.
 *
 * A profile resolves into a list of resources, each with a logical id, a
 * CloudFormation type and CloudFormation-named properties. References
 * between resources are the CloudFormation intrinsic functions in their
 * JSON form ({"Ref": "Vpc"}, {"Fn::GetAtt": ["Alb", "DNSName"]},
 * {"Fn::Join": ...}, {"Fn::Sub": ...}), so that one model renders as a
 * template (synth.h) and drives the engine, which resolves the same
 * references to physical ids. Values that live in another region's model
 * (the global edge needs both regions' load balancers) are
 * {"drctl::Output": ["us-west-2", "AlbDnsName"]}: a template parameter when
 * rendered, the other region's saved output when applied. Today's
 * cross-region inputs: the global model takes each serving region's
 * AlbDnsName and AlbHostedZoneId; under warm standby the standby's replica
 * takes the primary's DbInstanceArn, and the primary's bucket replication
 * takes the standby's BucketArn and KmsKeyArn. So warm standby's regions
 * need each other: the primary's bucket replication can only be applied
 * once the standby exists.
 *
 * Everything is deterministic: subnet CIDRs are carved from network.cidr
 * here (not with Fn::Cidr), AZ names are the region name plus a, b, c...,
 * and resources are listed in a stable order.
 *
 * Secrets are data: the model has the Secrets Manager secrets (names,
 * KMS key) but never their values.
 */
#ifndef DRCTL_STACK_MODEL_H
#define DRCTL_STACK_MODEL_H

#include <jansson.h>
#include <stddef.h>

#include "stack/profile.h"
#include "util/err.h"

typedef struct dr_resource {
    char *logical_id;   /* e.g. "PublicSubnet1" */
    char *type;         /* e.g. "AWS::EC2::Subnet" */
    json_t *properties; /* owned; CloudFormation property names and shapes */
    char **depends_on;  /* logical ids this one needs first: every Ref/GetAtt target
                           plus explicit dependencies (e.g. routes after the gateway
                           attachment); sorted, unique */
    size_t ndepends;
    /* "Retain" or "Snapshot" for resources that hold data (buckets, key,
     * secrets, database), "Delete" where a stateful resource is deliberately
     * not kept (cache, replica, log groups), NULL otherwise; rendered as both
     * DeletionPolicy and UpdateReplacePolicy. The engine's destroy of a drill
     * ignores it. */
    const char *deletion_policy; /* static string */
    /* A top-level property that may wait for another region's output
     * (static string, or NULL): when that output is not saved yet, deploy
     * applies the resource without it and says so, and the next deploy,
     * once the other region exists, adds it in place. Only properties whose
     * absence is safe go here (bucket replication, the replication role's
     * policy); anything else that needs a missing output fails the deploy. */
    const char *deferrable;
} dr_resource;

typedef struct dr_model {
    char *stack;  /* stack name */
    char *region; /* where the resources live ("us-east-1" for the global model) */
    int global;   /* 1 for the edge model (WAF, CloudFront, Route 53) */
    dr_resource *resources;
    size_t n;
    json_t *outputs; /* owned; name -> {"Value": <intrinsic>, "Description": "..."} */
    /* owned; inputs known only when applying (the snapshot a database is
     * restored from): name -> {"Type": "String", "Description": "..."}.
     * The model refers to them with {"Ref": name}, as CloudFormation does;
     * the engine takes their values from the caller (runbook). Usually empty. */
    json_t *parameters;
    char *description; /* one line: stack, region, role, strategy, state */
} dr_model;

/*
 * Which set of resources a region's model holds.
 *
 * ACTIVE: the region serves traffic: the whole regional stack. The primary
 * always; a standby after failover (and during a drill).
 *
 * RESTING: a standby between failovers; what it holds depends on the stack's
 * DR strategy (dr.strategy), so that failover has less to build:
 *   backup-and-restore  KMS key (+alias) and the bundle vault bucket only:
 *                       everything else is built at failover.
 *   pilot-light         + network (VPC, subnets, NAT, routes, endpoints, flow
 *                       logs), security groups, KMS, secrets, IAM roles, log
 *                       groups, ECS cluster, task definition and service at
 *                       desired count 0 (no scaling target: it would raise the
 *                       count to its minimum), load balancer, certificate,
 *                       listeners, target group, DB and cache subnet groups,
 *                       data bucket, service/ALB alarms, dashboard. No database
 *                       instance (restored at failover) and no cache (rebuilt).
 *   warm-standby        the whole stack at its minimum (desired = scaling
 *                       minimum), with the database as a cross-region read
 *                       replica of the primary's instance and the data bucket
 *                       as the destination of the primary's S3 replication.
 * The vault bucket is in every standby model, resting or active.
 */
typedef enum dr_model_state {
    DR_MODEL_AUTO, /* primary: ACTIVE; standby: RESTING */
    DR_MODEL_ACTIVE,
    DR_MODEL_RESTING /* a config error for the primary */
} dr_model_state;

/* Where the database instance comes from. */
typedef enum dr_db_source {
    DR_DB_AUTO,     /* see dr_model_db_source */
    DR_DB_NONE,     /* no instance in the model (resting backup-and-restore, pilot light) */
    DR_DB_FRESH,    /* a new, empty instance: MasterUsername, and MasterUserPassword as a
                       dynamic reference to the database secret (never the value) */
    DR_DB_SNAPSHOT, /* RDS restore from a snapshot: DBSnapshotIdentifier */
    DR_DB_REPLICA,  /* cross-region read replica of the primary's instance:
                       SourceDBInstanceIdentifier = the primary's DbInstanceArn output */
    DR_DB_PROMOTED  /* a former replica promoted at failover: standalone, credentials
                       inherited, backups on */
} dr_db_source;

typedef struct dr_model_opts {
    dr_model_state state;
    dr_db_source db_source; /* DR_DB_AUTO unless a runbook knows better */
    /* DBSnapshotIdentifier for DR_DB_SNAPSHOT; NULL: the model gets a
     * parameter "DbSnapshotIdentifier" for it. */
    const char *db_snapshot;
} dr_model_opts;

/* The regional model of one region of the set, as the region rests
 * (dr_model_opts {DR_MODEL_AUTO, DR_DB_AUTO, NULL}). */
int dr_model_build_regional(const dr_profile_set *set, const dr_region_profile *p, dr_model *out,
                            dr_err *err);

/* The regional model in a chosen state (NULL opts: as dr_model_build_regional).
 * Config errors: RESTING for the primary, a database source for a model that
 * has no database, REPLICA/PROMOTED in the primary, a strategy that differs
 * between primary and standby, a network that does not fit (dr_subnets_carve). */
int dr_model_build_regional_opts(const dr_profile_set *set, const dr_region_profile *p,
                                 const dr_model_opts *opts, dr_model *out, dr_err *err);

/*
 * The database source AUTO resolves to, for a region in a state:
 *   primary (active)                       FRESH
 *   standby resting: backup-and-restore,   NONE
 *                    pilot-light
 *   standby resting: warm-standby          REPLICA
 *   standby active:  warm-standby          PROMOTED
 *   standby active:  other strategies      SNAPSHOT, or FRESH when
 *                                          database.restore_path is logical
 */
dr_db_source dr_model_db_source(const dr_profile_set *set, const dr_region_profile *p,
                                dr_model_state state);

const char *dr_model_state_name(dr_model_state s);
const char *dr_db_source_name(dr_db_source s);

/* The global model (edge on): WAF web ACL, CloudFront with an origin group
 * primary -> standby, Route 53 health checks and failover records. A config
 * error when edge is off or there is not exactly one standby.
 * The same as dr_model_build_global_as(set, DR_MODEL_AUTO, ...). */
int dr_model_build_global(const dr_profile_set *set, dr_model *out, dr_err *err);

/* The global model for a standby in the given state. The standby's half of
 * the edge (its CloudFront origin and the origin group, its health check and
 * SECONDARY record) exists only when the standby has a load balancer: when
 * it is active, or resting as a pilot light or warm standby. A resting
 * backup-and-restore standby has none, so the edge then fronts the primary
 * alone, and failover re-applies it with the standby ACTIVE. */
int dr_model_build_global_as(const dr_profile_set *set, dr_model_state standby_state, dr_model *out,
                             dr_err *err);

void dr_model_free(dr_model *m);

const dr_resource *dr_model_find(const dr_model *m, const char *logical_id);

/* Indices of resources in an order where every resource comes after all
 * it depends on (stable: ties keep model order). Caller frees *order.
 * An internal error if the graph has a cycle (naming it). */
int dr_model_order(const dr_model *m, size_t **order, dr_err *err);

/*
 * Subnet carving. The VPC block (network.cidr, /16../24) is split in a
 * fixed, deterministic way, with S = the AZ count rounded up to a power of
 * two (2, 4 or 8 slots):
 *   first half      private subnets (tasks, interface endpoints): S slots
 *   third quarter   public subnets (load balancer, NAT gateways):  S slots
 *   fourth quarter  database subnets (RDS, ElastiCache):           S slots
 * AZ i (0-based) takes slot i of each range; unused slots stay free for
 * growth. So 10.10.0.0/16 with 3 AZs (4 slots) gives private /19s at
 * 10.10.0.0, 10.10.32.0, 10.10.64.0, public /20s at 10.10.128.0, .144.0,
 * .160.0 and database /20s at 10.10.192.0, .208.0, .224.0. A block too small
 * for the AZ count is a config error: the load balancer needs public
 * subnets of /27 or larger (and AWS allows no subnet smaller than /28), so
 * a /24 holds 2 AZs, a /23 4, a /22 6.
 */
#define DR_MAX_AZS 6

typedef struct dr_subnet_layout {
    int az_count;
    char az[DR_MAX_AZS][32]; /* region + "a", "b", ... */
    char public_cidr[DR_MAX_AZS][20];
    char private_cidr[DR_MAX_AZS][20];
    char database_cidr[DR_MAX_AZS][20];
} dr_subnet_layout;

int dr_subnets_carve(const char *region, const char *cidr, int az_count, dr_subnet_layout *out,
                     dr_err *err);

/*
 * Physical names, where AWS needs a name (the rule, so that the engine, the
 * bundle code and people can derive them):
 *   - "<stack>-<purpose>" for regional names (cluster "<stack>", DB
 *     "<stack>-db", cache "<stack>-cache", security groups, alarms, ...);
 *     when that exceeds AWS's limit (load balancer and target group: 32),
 *     the stack part is cut and a 4-hex hash of the stack name keeps it
 *     unique: "<cut stack>-<hash4>-<purpose>".
 *   - "<stack>-<region>-<purpose>" for account-global names (IAM roles,
 *     CloudWatch dashboards).
 *   - "<stack>-<purpose>-<region>-<hash8>" for S3 buckets (globally unique
 *     across accounts): hash8 = FNV-1a 32-bit of "<stack>/<region>" in hex,
 *     a fixed suffix that makes a clash with someone else's bucket unlikely;
 *     when it still clashes, choose another stack name.
 *   - Secrets "<stack>/<name>" and the key alias "alias/<stack>": the same in
 *     every region, so that a region's secrets are found by the same name.
 * Caller frees.
 */
char *dr_model_name(const char *stack, const char *purpose, size_t max);
char *dr_model_bucket_name(const char *stack, const char *purpose, const char *region);

/* The property that holds a type's tags ("Tags", "HealthCheckTags"), or
 * NULL when CloudFormation cannot tag the type. Every taggable resource of
 * a model carries drctl:stack, drctl:logical-id and Name. */
const char *dr_model_tags_property(const char *type);

/* The logical ids (and parameter names) that a property value refers to
 * through Ref, Fn::GetAtt and Fn::Sub, pseudo parameters excluded; in order
 * of appearance, unique. Caller frees each and the array. */
void dr_model_implied_deps(json_t *props, char ***ids, size_t *n);

/* The template parameter that stands for {"drctl::Output": [region, output]}:
 * "UsEast1AlbDnsName". Caller frees. */
char *dr_model_output_param(const char *region, const char *output);

#endif
