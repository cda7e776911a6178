/*
 * res_data_int.h - what the data family's files share, and nothing else
 * sees: res_data.c holds the handler table, res_data_s3.c, res_data_rds.c
 * and res_data_cache.c the handlers, res_data_util.c the helpers they have
 * in common. The pure helpers (XML bodies, the database URL, dynamic
 * reference parsing, parameter building) are declared here so that
 * tests/unit/test_res_data.c can check them without AWS.
 */
#ifndef DRCTL_STACK_RES_DATA_INT_H
#define DRCTL_STACK_RES_DATA_INT_H

#include <jansson.h>
#include <libxml/tree.h>
#include <stddef.h>
#include <time.h>

#include "stack/handler.h"
#include "util/buf.h"
#include "util/kv.h"

/* ---- handlers (res_data_s3.c, res_data_rds.c, res_data_cache.c) ---- */

#define DR_DATA_HANDLER_DECL(t)                                                                    \
    int dr_data_##t##_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags, \
                             const char *token, dr_live *out, dr_err *err);                        \
    int dr_data_##t##_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,     \
                           dr_live *out, dr_err *err);                                             \
    int dr_data_##t##_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,   \
                           dr_live *out, dr_err *err);                                             \
    int dr_data_##t##_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,          \
                             json_t *new_props, dr_live *out, dr_err *err);                        \
    int dr_data_##t##_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err);

DR_DATA_HANDLER_DECL(bucket)
DR_DATA_HANDLER_DECL(bucket_policy)
DR_DATA_HANDLER_DECL(db_subnet_group)
DR_DATA_HANDLER_DECL(db_instance)
DR_DATA_HANDLER_DECL(cache_subnet_group)
DR_DATA_HANDLER_DECL(replication_group)

int dr_data_bucket_wait_deleted(dr_apply_ctx *c, const char *physical_id, dr_err *err);
int dr_data_db_instance_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err);
int dr_data_db_instance_wait_deleted(dr_apply_ctx *c, const char *physical_id, dr_err *err);
int dr_data_replication_group_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err);
int dr_data_replication_group_wait_deleted(dr_apply_ctx *c, const char *physical_id, dr_err *err);

/* ---- property values (res_data_util.c) ---- */

/* A property as the string an AWS query parameter takes: strings as they
 * are, integers in decimal, booleans "true"/"false". NULL for null, arrays,
 * objects or a missing value. Caller frees. */
char *dr_data_scalar(const json_t *v);

/* The string of props[key], or NULL when absent or not a string. */
const char *dr_data_str(const json_t *props, const char *key);

/* props[key] as a boolean: true/false, "true"/"false" (any case), 0/1.
 * Returns 1 and sets *out when present and readable, else 0. */
int dr_data_bool(const json_t *props, const char *key, int *out);

/* props[key] as an integer: a JSON integer or a decimal string. Returns 1
 * and sets *out when present and readable, else 0. */
int dr_data_int(const json_t *props, const char *key, long long *out);

/* A value of the same JSON kind as `like` (string, integer, boolean) made
 * from AWS's text `text`, so that live properties compare equal to the
 * model's where AWS holds the same value: the model writes AllocatedStorage
 * "100" and Port "5432" as strings, BackupRetentionPeriod 7 as an integer.
 * NULL when text is NULL or does not fit the kind. */
json_t *dr_data_like(const json_t *like, const char *text);

/* 1 when props[key] differs between two property sets (absent counts). */
int dr_data_changed(const json_t *a, const json_t *b, const char *key);

/* Sets live[key] to the live value only when the model has the key (a key
 * the model lacks would show as a change in plan). `text` may be NULL. */
void dr_data_live_put(json_t *live, const json_t *props, const char *key, const char *text);

/* A list property (e.g. SubnetIds) for the live properties: when the live
 * set equals the model's set, the model's list (AWS reorders lists), else
 * the live list as AWS gave it. Takes ownership of `live_list`. */
json_t *dr_data_same_set(const json_t *model_list, json_t *live_list);

/* ---- query parameters ---- */

/* "<prefix>.<i>" = each string of a JSON array (1-based), e.g.
 * prefix "SubnetIds.SubnetIdentifier". Non-strings are an error. */
int dr_data_add_list(dr_kvlist *p, const char *prefix, const json_t *list, const char *what,
                     dr_err *err);

/* "<prefix>.<i>.Key"/".Value" for a [{Key, Value}] array, e.g.
 * prefix "Tags.Tag". */
void dr_data_add_tags(dr_kvlist *p, const char *prefix, const json_t *tags);

/* Zeroes every value, then frees the list: for parameters that carried a
 * password or an AUTH token. */
void dr_data_kv_free_secret(dr_kvlist *p);

/* ---- tags ---- */

/* Whether a tag list says the resource is this stack's logical id:
 * 1 yes, 0 no drctl tags at all, -1 drctl tags for something else (then
 * *other, if non-NULL, gets "stack S, logical id L"; caller frees). `tags`
 * is a [{Key, Value}] array. */
int dr_data_tags_owner(const json_t *tags, const char *stack, const char *logical_id, char **other);

/* The [{Key, Value}] array under a query response element holding
 * <Tag><Key/><Value/></Tag> children (RDS TagList, ElastiCache TagList).
 * Never NULL. */
json_t *dr_data_xml_tags(xmlNodePtr parent);

/* Applies the difference between two [{Key, Value}] arrays to a resource
 * through the RDS/ElastiCache tag calls (AddTagsToResource,
 * RemoveTagsFromResource). */
int dr_data_retag(dr_apply_ctx *c, const char *service, const char *arn, const json_t *old_tags,
                  const json_t *new_tags, dr_err *err);

/* The error for a resource that exists under our deterministic name but
 * is not ours (see dr_data_tags_owner). Returns -1. */
int dr_data_not_ours(dr_err *err, const char *what, const char *name, const char *stack,
                     const char *logical_id, const char *other);

/* ---- AWS errors ---- */

/* 1 when err is an AWS error whose code starts with `code` (moto and AWS
 * differ in a "Fault" suffix here and there). */
int dr_data_code_is(const dr_err *err, const char *code);

/* ---- secrets ---- */

/* A Secrets Manager dynamic reference, as CloudFormation writes it:
 * {{resolve:secretsmanager:<secret-id>:SecretString:<json-key>:<stage>:<version-id>}}
 * where secret-id may be an ARN (with its own colons), and everything
 * after secret-id is optional. Members point into `buf` (owned). */
typedef struct dr_data_dynref {
    char *buf;
    const char *secret_id;
    const char *json_key;   /* NULL: the whole SecretString */
    const char *stage;      /* NULL: AWSCURRENT */
    const char *version_id; /* NULL: the current version */
} dr_data_dynref;

/* 1 when `s` looks like a secretsmanager dynamic reference. */
int dr_data_is_dynref(const char *s);

/* Parses a reference; -1 (DR_E_CONFIG) when it is malformed. The error
 * names the reference, which holds no secret value. */
int dr_data_dynref_parse(const char *s, dr_data_dynref *out, dr_err *err);
void dr_data_dynref_free(dr_data_dynref *r);

/* Reads the value a reference points to, right before the call that needs
 * it (GetSecretValue in c->region). Caller frees with dr_free_secret.
 * Errors name the secret, never its value. */
int dr_data_dynref_resolve(dr_apply_ctx *c, const char *ref, char **value, dr_err *err);

/* Recursively zeroes every string of a JSON value, then releases it: for
 * parsed SecretStrings. */
void dr_data_json_free_secret(json_t *v);

/* A random UUID (version 4) for idempotency tokens such as
 * PutSecretValue's ClientRequestToken. */
void dr_data_uuid(char out[37]);

/* ---- the database URL ---- */

/* postgresql://USER:PASSWORD@HOST:PORT/DBNAME with user, password and
 * database name percent-encoded (RFC 3986: everything but ALPHA DIGIT - . _ ~),
 * so that a password with '@', ':', '/' or '%' cannot break the URL.
 * Caller frees with dr_free_secret. */
char *dr_data_pg_url(const char *user, const char *password, const char *host, long port,
                     const char *dbname);

/* "<id>-final-<UTC yyyymmddHHMMSS>" for a final snapshot taken at `when`. */
char *dr_data_final_snapshot_id(const char *id, time_t when);

/* ---- S3 XML bodies (res_data_s3.c) ----
 * Each takes the CloudFormation property value and returns the request
 * body in the 2006-03-01 namespace (caller frees), or NULL with err set
 * (DR_E_CONFIG) for a value it cannot translate; never a silently partial
 * body. */
char *dr_data_s3x_versioning(const json_t *cfg, dr_err *err);
char *dr_data_s3x_encryption(const json_t *cfg, dr_err *err);
char *dr_data_s3x_lifecycle(const json_t *cfg, dr_err *err);
char *dr_data_s3x_public_access_block(const json_t *cfg, dr_err *err);
char *dr_data_s3x_ownership(const json_t *cfg, dr_err *err);
/* cfg may be NULL when only ObjectLockEnabled is set. */
char *dr_data_s3x_object_lock(const json_t *cfg, dr_err *err);
char *dr_data_s3x_replication(const json_t *cfg, dr_err *err);
char *dr_data_s3x_tagging(const json_t *tags, dr_err *err);

/* One object version (or delete marker) for DeleteObjects. */
typedef struct dr_data_s3_version {
    char *key;
    char *version_id; /* may be NULL (an unversioned bucket's "null" version) */
} dr_data_s3_version;

/* <Delete><Quiet>true</Quiet><Object>...</Object>...</Delete> for at most
 * 1000 versions. */
char *dr_data_s3x_delete_objects(const dr_data_s3_version *v, size_t n);

/* 1 when a key can travel in an XML 1.0 body (no control characters other
 * than tab, line feed and carriage return). */
int dr_data_xml_safe(const char *s);

/* Appends s with XML's special characters escaped (and '\r' as a
 * character reference, which XML parsers would otherwise turn into '\n'). */
void dr_data_xml_escape(dr_buf *b, const char *s);

/* ---- ElastiCache / RDS parameter building (res_data_cache.c, res_data_rds.c) ---- */

/* The ModifyReplicationGroup parameters for what changed between two
 * property sets (ReplicationGroupId and ApplyImmediately included), or an
 * empty list when nothing updatable changed. */
int dr_data_cache_modify_params(const char *id, const json_t *old_props, const json_t *new_props,
                                dr_kvlist *p, dr_err *err);

/* The ModifyDBInstance parameters for what changed (DBInstanceIdentifier
 * and ApplyImmediately included); an empty list when nothing changed. A
 * major engine version change is refused (DR_E_CONFIG): it is not done in
 * place. */
int dr_data_db_modify_params(const char *id, const json_t *old_props, const json_t *new_props,
                             dr_kvlist *p, dr_err *err);

/* What a change of the instance's shape means (res_data_rds.c): *promote
 * = 1 when the model dropped SourceDBInstanceIdentifier (promote the
 * replica, in place, as CloudFormation does). Making an instance a
 * replica, pointing a replica at another source, or changing Engine or
 * StorageEncrypted cannot be done in place: refused (DR_E_CONFIG) rather
 * than left to a replacement, which would delete a database. */
int dr_data_db_shape_change(const char *id, const json_t *old_props, const json_t *new_props,
                            int *promote, dr_err *err);

#endif
