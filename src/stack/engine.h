/*
 * engine.h - converging AWS to a resource model: plan, apply, destroy.
 *
 * plan compares the model (references resolved against the state) with the
 * state and with AWS (one read per resource: a resource deleted behind
 * drctl's back is planned again), and lists per logical id: create, update
 * (which properties), replace, delete, or nothing. It changes nothing in
 * AWS; it refreshes the state in memory (resources adopted by their tags
 * when the state did not know them, resources found gone), which the caller
 * saves or not (plan->state_changed).
 *
 * apply executes a plan in dependency order, independent resources
 * concurrently (one AWS client per worker), journaling each resource in
 * the state before the create call ("creating") and after it ("ready"), so
 * that a run killed at any point continues where it stopped: a resource in
 * "creating" is looked up by its tags before anything is created again.
 * The first failure stops new work; what is in flight finishes; the error
 * names the resource, its type and AWS's error, and lists what exists.
 * Throttling and transient AWS errors that outlast the client's own retries
 * are retried by the engine per step (with find before a create again).
 *
 * Order inside apply: creates, updates and replacements first (dependencies
 * before dependents), then deletions (dependents before dependencies): the
 * resources removed from the model and the old copies of replaced ones, as
 * CloudFormation does in its clean-up phase.
 *
 * Replacement creates the new resource first and deletes the old one in
 * the deletion phase, once dependents point to the new one; when the type
 * has a unique physical name (dr_handler.name_properties) that does not
 * change, the two cannot coexist, so the old one is deleted first.
 *
 * destroy deletes everything in the state (and everything found by the
 * stack's tags for the model's logical ids) in reverse dependency order,
 * waiting where AWS needs time, and reports anything it could not delete.
 *
 * Idempotency tokens are the first 32 hex digits of SHA-256 over
 * "drctl/<stack>/<scope>/<logical id>/<generation>/<state epoch>" (state.h):
 * the same for a retried or resumed create of the same resource, different
 * for a replacement, a resource re-created after it was deleted, or a stack
 * deployed again after destroy. 32 characters fit every API's limit
 * (EC2 ClientToken 64, Route 53 and CloudFront CallerReference 128, ...).
 */
#ifndef DRCTL_STACK_ENGINE_H
#define DRCTL_STACK_ENGINE_H

#include <stddef.h>

#include "stack/handler.h"
#include "stack/model.h"
#include "stack/state.h"
#include "util/err.h"

typedef enum dr_action {
    DR_ACT_NOOP,
    DR_ACT_CREATE,
    DR_ACT_UPDATE,
    DR_ACT_REPLACE,
    DR_ACT_DELETE
} dr_action;

typedef struct dr_plan_item {
    char *logical_id;
    char *type;
    dr_action action;
    char **changed; /* property names that differ (update/replace), sorted */
    size_t nchanged;
    char *reason; /* e.g. "not in state", "deleted outside drctl", "CidrBlock cannot change in
                     place"; may be NULL */
    /* Added: */
    char *physical_id; /* what exists now, when known (NULL for a create) */
    int previous;      /* DELETE of the old copy a replacement left behind */
    int retain;        /* DELETE that only forgets it (removed from the model, DeletionPolicy
                          Retain): AWS keeps the resource */
    int adopted;       /* found by its tags during this plan (the state did not know it) */
} dr_plan_item;

typedef struct dr_plan {
    dr_plan_item *items; /* dependency order of the model, then deletions (dependents first) */
    size_t n;
    size_t ncreate, nupdate, nreplace, ndelete;
    /* Added: */
    size_t nnoop, nadopted;
    int state_changed; /* the state was refreshed in memory: save it even with nothing to do */
} dr_plan;

void dr_plan_free(dr_plan *p);
const char *dr_action_name(dr_action a);
/* 1 when applying the plan would call AWS to change something. */
int dr_plan_has_changes(const dr_plan *p);

/* Added: one progress event (replaces the earlier positional callback). */
typedef struct dr_progress_event {
    const dr_plan_item *item;
    const char *phase;       /* "start", "done", "failed" */
    const char *verb;        /* "creating"/"created", "updating"/"updated", "replacing"/
                                "replaced", "deleting"/"deleted", "forgetting"/"forgotten" */
    const char *physical_id; /* "done": the resource's id; may be NULL */
    double seconds;          /* "done"/"failed": time the resource took */
    const dr_err *err;       /* "failed": why */
} dr_progress_event;

typedef struct dr_engine_opts {
    const dr_aws_opts *aws_opts; /* each worker makes its own client from these */
    dr_aws *aws;                 /* the caller's client, for sequential work (plan, finds) */
    const dr_log *log;
    const dr_region_profile *profile;
    int concurrency;                                   /* workers; 0 = 4 */
    long wait_initial_ms, wait_max_ms, wait_timeout_s; /* see dr_apply_ctx */
    /* Called at each resource's start and end, never concurrently (the
     * engine holds its lock: keep it quick); may be NULL. */
    void (*on_progress)(void *ud, const dr_progress_event *ev);
    void *progress_ud;
    /* Added: */
    const dr_handler *handlers; /* a table terminated by {NULL}; NULL = the built-in registry
                                   (tests pass fakes here) */
    const char *account_id;     /* NULL: STS GetCallerIdentity once, if the model needs it */
    json_t *parameters;         /* values of the model's parameters ({name: value}), or NULL */
    int skip_final_snapshot;    /* no final snapshot when deleting "Snapshot" resources */
    int step_attempts;          /* tries per step on throttling/transient errors; 0 = 4 */
    /* Other regions of the profile set (NULL-terminated, may be NULL): see
     * dr_apply_ctx.peer_regions. */
    const char *const *peer_regions;
} dr_engine_opts;

int dr_engine_plan(const dr_engine_opts *o, const dr_model *m, dr_state *st, dr_plan *out,
                   dr_err *err);
/* Applies a plan made by dr_engine_plan on the same model and state. Then
 * resolves the model's outputs into st->outputs and saves the state. With
 * nothing to change it makes no AWS call (beyond what the outputs need:
 * none) and only saves when the state or outputs changed. */
int dr_engine_apply(const dr_engine_opts *o, const dr_model *m, dr_state *st, const dr_plan *plan,
                    dr_err *err);

/* What destroy would delete, in deletion order (DELETE items), looking up
 * by tags the model's resources the state does not know. Changes nothing
 * in AWS; adopts what it finds into st in memory. */
int dr_engine_destroy_plan(const dr_engine_opts *o, const dr_model *m, dr_state *st, dr_plan *out,
                           dr_err *err);

/* Deletes everything of the stack in st's scope, DeletionPolicy Retain
 * included (destroy leaves nothing), taking final snapshots of "Snapshot"
 * resources unless o->skip_final_snapshot. Removes state entries as it
 * goes and the state file when nothing is left. *leftovers lists what could
 * not be deleted ("Type logical-id physical-id: reason"), caller frees each
 * and the array; then the return is -1 with a DR_E_AWS error that counts
 * them (the first reason in the message). */
int dr_engine_destroy(const dr_engine_opts *o, const dr_model *m, dr_state *st, char ***leftovers,
                      size_t *nleftovers, dr_err *err);

/* The idempotency token for a resource (33 bytes with the NUL). */
void dr_engine_token(const dr_state *st, const char *logical_id, long generation, char out[33]);

#endif
