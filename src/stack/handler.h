/*
 * handler.h - how the engine creates, reads, updates and deletes one
 * resource type through the AWS APIs.
 *
 * One dr_handler per CloudFormation type, grouped by family in
 * src/stack/res_<family>.c (network, compute, data, security, monitoring,
 * edge). Handlers receive properties with every reference already resolved
 * to physical values, in CloudFormation's names and shapes, and translate
 * them to the API's calls. They never see the state file.
 *
 * Contract for every handler:
 * - create tags the resource with `tags` (drctl:stack, drctl:logical-id,
 *   Name, plus the model's own Tags) in the create call itself where the API
 *   allows (TagSpecifications, Tags), so that a crash right after create
 *   still leaves a resource that find() can see; and passes `token` as the
 *   idempotency token (ClientToken, CallerReference, ...) where the API
 *   takes one, so a retried create after a crash returns the same resource.
 * - create returns as soon as AWS accepted the request; wait_ready (if set)
 *   then polls with dr_wait (bounded, backing off).
 * - find looks the resource up by its tags (or its deterministic name);
 *   *found=0 when absent. This is what makes a lost state file harmless.
 * - read reports *exists=0 when the resource is gone (deleted out of band),
 *   so plan shows it as to be created again.
 * - update changes in place only the properties listed in update_in_place;
 *   the engine replaces the resource when any other property changed.
 * - remove deletes and treats "already gone" as success; wait_deleted (if
 *   set) polls until AWS has really let it go (NAT gateways, ENIs...).
 * - out->attributes receives what GetAtt and outputs need (e.g. "Arn",
 *   "DNSName", "Endpoint.Address", "CanonicalHostedZoneID"), from create,
 *   find, read and update alike; never secret values (they are saved in
 *   the state file). After wait_ready the engine calls read again for the
 *   attributes that exist only once the resource is ready (an RDS
 *   endpoint), so create may leave those out.
 *
 * Also:
 * - props may hold Secrets Manager dynamic references as strings
 *   ("{{resolve:secretsmanager:<name>:SecretString:password}}"): the engine
 *   never resolves them (the value would end up in the state file); the
 *   handler that needs the value reads it right before the call.
 * - Handlers run concurrently on several threads, each with its own
 *   dr_apply_ctx and dr_aws: no static mutable state.
 * - An AWS error is returned as the client produced it (dr_err with
 *   has_aws): the engine prefixes the resource ("creating Subnet
 *   PublicSubnet1 (AWS::EC2::Subnet): ...") and retries the step itself on
 *   throttling and transient errors, calling find before a create again.
 * - find and remove also run for destroy, where props are resolved as far
 *   as the state allows: a reference to something not in the state reads
 *   "(known after apply)" (DR_KNOWN_AFTER_APPLY). Look resources up by tags
 *   or deterministic name, not through references.
 * - remove of a resource whose model has DeletionPolicy "Snapshot" (the RDS
 *   instance) sees c->final_snapshot = 1 and must take a final snapshot
 *   (RDS: FinalDBSnapshotIdentifier "<id>-final-<UTC yyyymmddHHMMSS>",
 *   SkipFinalSnapshot false); with 0 it skips it. Deletion protection, an
 *   S3 bucket's objects and versions, a KMS key's pending window, a
 *   secret's recovery window: remove clears whatever stands in the way of
 *   deletion, because destroy is asked to leave nothing behind.
 *
 * Registration: each family file src/stack/res_<family>.c (network,
 * compute, data, security, monitoring, edge) defines
 *     const dr_handler dr_handlers_<family>[] = { {...}, ..., {NULL} };
 * terminated by an entry whose type is NULL. handlers.c lists the six
 * tables; nothing else is needed to register a handler.
 */
#ifndef DRCTL_STACK_HANDLER_H
#define DRCTL_STACK_HANDLER_H

#include <jansson.h>

#include "aws/client.h"
#include "stack/profile.h"
#include "util/err.h"
#include "util/log.h"

/* What a reference to something not created yet resolves to during plan
 * (and in destroy's look-ups). */
#define DR_KNOWN_AFTER_APPLY "(known after apply)"

typedef struct dr_apply_ctx {
    dr_aws *aws;
    const char *region; /* where the resource lives */
    const char *stack;
    const dr_log *log;
    const dr_region_profile *profile; /* NULL for the global model */
    /* Wait pacing, so tests can make waits fast: first delay and cap, in
     * milliseconds, and the overall limit in seconds (0 = the handler's). */
    long wait_initial_ms;
    long wait_max_ms;
    long wait_timeout_s;
    /* Added (all zero/NULL-safe for handlers that ignore them): */
    int final_snapshot;     /* remove: take a final snapshot (see above) */
    const char *account_id; /* the account, when the engine knew it; may be NULL */
    const char *scope;      /* the state's scope: the region, or "global" */
    /* The other regions of the profile set (NULL-terminated; may be NULL):
     * a secret created here takes the value of the same secret in a peer
     * region when one exists, so both regions share the database password
     * and LITELLM_SALT_KEY. */
    const char *const *peer_regions;
} dr_apply_ctx;

typedef struct dr_live {
    char *physical_id;  /* owned */
    json_t *attributes; /* owned; may be NULL */
    /* Added: owned; may be NULL. The live values of properties the handler
     * can read back, in CloudFormation's names and shapes. Used when a
     * resource is adopted (found by tags with no state): plan compares the
     * model with these, so that an adopted resource that differs is
     * updated. Leave out what AWS reports in another shape than the model
     * writes it (defaults filled in, reordered lists), or it shows as a
     * change every time. */
    json_t *properties;
} dr_live;

/* Frees the members and zeroes them. */
void dr_live_free(dr_live *l);

typedef struct dr_handler {
    const char *type; /* "AWS::EC2::VPC" */
    int (*create)(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                  const char *token, dr_live *out, dr_err *err);
    int (*find)(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                dr_err *err);
    int (*read)(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists, dr_live *out,
                dr_err *err);
    int (*update)(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                  dr_live *out, dr_err *err); /* NULL: nothing is updatable in place */
    int (*remove)(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err);
    int (*wait_ready)(dr_apply_ctx *c, const char *physical_id, dr_err *err);   /* may be NULL */
    int (*wait_deleted)(dr_apply_ctx *c, const char *physical_id, dr_err *err); /* may be NULL */
    const char *const *update_in_place; /* NULL-terminated property names */
    /* Added: NULL-terminated names of properties that hold a physical name
     * AWS keeps unique (DBInstanceIdentifier, BucketName, RoleName, Name...),
     * or NULL. Replacement creates the new resource before deleting the
     * old one, unless one of these is set and unchanged: the two could not
     * coexist, so the old one is deleted first. */
    const char *const *name_properties;
} dr_handler;

/* The handler for a type in the built-in registry (the family tables), or
 * NULL. */
const dr_handler *dr_handler_find(const char *type);

/* The handler for a type in one table terminated by {NULL} (tests pass
 * their own table through dr_engine_opts.handlers), or NULL. */
const dr_handler *dr_handler_find_in(const dr_handler *table, const char *type);

/*
 * Polls `check` until it reports done (1), fails (-1, with err set), or the
 * time limit passes (a DR_E_AWS timeout error naming `what`). check
 * returns 0 for "not yet". The first check is immediate; then delays start
 * at c->wait_initial_ms (default 2 s) and double up to c->wait_max_ms
 * (default 30 s), each with jitter (a uniform draw in [delay/2, delay]) so
 * that parallel waits do not poll in lockstep; the last sleep is cut to end
 * at the limit, which is c->wait_timeout_s if set, else default_timeout_s
 * (else 30 minutes).
 */
typedef int (*dr_wait_check_fn)(dr_apply_ctx *c, void *ud, dr_err *err);
int dr_wait(dr_apply_ctx *c, const char *what, long default_timeout_s, dr_wait_check_fn check,
            void *ud, dr_err *err);

#endif
