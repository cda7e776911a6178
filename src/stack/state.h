/*
 * state.h - the deployed state of one stack in one region.
 *
 * What the engine knows it built: for each logical id, the physical id, the
 * properties it last applied (references resolved), the attributes other
 * resources and outputs read (Arn, DNSName, Endpoint.Address, ...), and a
 * status. Saved as JSON in the store (<store>/state/<stack>/<scope>.json,
 * the scope being the region name, or "global" for the edge model, whose
 * resources live in us-east-1 beside that region's own stack) after every
 * change, atomically (temporary file in the same directory, fsync, rename,
 * fsync of the directory; file 0600, directories 0700), so a crash loses at
 * most the resource in flight, which the engine then finds again by its
 * tags.
 *
 * State is a cache of the truth, not the truth: if it is lost, the engine
 * rebuilds it from AWS by tags (drctl:stack, drctl:logical-id).
 *
 * File format (DR_STATE_FORMAT 1):
 *   {"format": 1, "stack": S, "region": SCOPE, "epoch": HEX, "updated_at": ISO8601,
 *    "resources": {"<logical id>": ENTRY, ...}, "outputs": {"AlbDnsName": "...", ...}}
 *   ENTRY = {"type": T, "physical_id": S|null, "status": "creating"|"ready"|"deleting",
 *            "properties": {...}, "attributes": {...}, "updated_at": ISO8601,
 *            -- engine bookkeeping, kept by dr_state_put --
 *            "generation": N,        bumped each time the resource is created anew
 *                                    (replacement, deleted outside drctl); part of
 *                                    the idempotency token
 *            "depends_on": [ids],    from the model, so that a resource removed
 *                                    from the model is still deleted in order
 *            "deletion_policy": S,   "Retain"/"Snapshot" from the model, or absent
 *            "previous": {"physical_id", "properties", "attributes", "depends_on"}
 *                                    the old copy of a resource replaced
 *                                    create-before-delete, until it is deleted}
 * "epoch" is random, made when a state file is first written: idempotency
 * tokens include it, so that a stack destroyed and deployed again (a new
 * state file) never presents AWS a token it already used for a resource
 * that is gone.
 */
#ifndef DRCTL_STACK_STATE_H
#define DRCTL_STACK_STATE_H

#include <jansson.h>

#include "util/err.h"

#define DR_STATE_FORMAT 1

/* The scope name of the global (edge) model's state. */
#define DR_STATE_GLOBAL "global"

typedef enum dr_res_status {
    DR_RES_CREATING, /* create sent (or about to be); physical id may be unknown */
    DR_RES_READY,    /* created or updated, and waited for */
    DR_RES_DELETING  /* delete sent */
} dr_res_status;

typedef struct dr_state {
    char *path;  /* the file */
    char *store; /* the store directory it belongs to (other scopes' outputs live there) */
    char *stack;
    char *region; /* the scope: a region name or DR_STATE_GLOBAL */
    char *epoch;  /* see above; made at load time when the file does not exist */
    /* {"<logical id>": ENTRY} as above */
    json_t *resources;
    json_t *outputs; /* {"AlbDnsName": "...", ...} */
} dr_state;

/* Loads the state file of stack/region under store_dir; a missing file
 * gives an empty state (not an error); a corrupt one (not JSON, wrong
 * shape, another stack's, a newer format) is a DR_E_IO error that names the
 * file. stack and region must be plain names ([A-Za-z0-9._-], no "..") as
 * they become path components. */
int dr_state_load(const char *store_dir, const char *stack, const char *region, dr_state *out,
                  dr_err *err);
/* Writes atomically (see above); creates the directories. */
int dr_state_save(const dr_state *s, dr_err *err);
/* Deletes the file (destroy, once nothing is left); a missing file is fine. */
int dr_state_remove_file(const dr_state *s, dr_err *err);
/* 1 when the file exists. */
int dr_state_exists(const char *store_dir, const char *stack, const char *region);
void dr_state_free(dr_state *s);

/* Entry for a logical id, or NULL. Borrowed (and mutable: the engine sets
 * its bookkeeping members in place). */
json_t *dr_state_get(const dr_state *s, const char *logical_id);
/* Sets (replaces) an entry; steals nothing: properties/attributes are copied
 * (NULL: an empty object). physical_id NULL is stored as null. The
 * bookkeeping members of an entry being replaced (generation, depends_on,
 * deletion_policy, previous) are kept. */
void dr_state_put(dr_state *s, const char *logical_id, const char *type, const char *physical_id,
                  dr_res_status status, json_t *properties, json_t *attributes);
void dr_state_remove(dr_state *s, const char *logical_id);

/* Accessors of an entry (NULL entry: NULL / -1 / 0). */
const char *dr_state_physical_id(const json_t *entry);
const char *dr_state_type(const json_t *entry);
/* -1 when the status is missing or unknown. */
int dr_state_status(const json_t *entry);
long dr_state_generation(const json_t *entry);

const char *dr_res_status_name(dr_res_status st);

#endif
