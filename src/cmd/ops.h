/*
 * ops.h - the runbook actions of drctl: what failover, failback, drill,
 * restore and clone do, step by step (runbook/run.h runs them).
 *
 * Each action is idempotent, because --resume runs the step that was in
 * flight again: deploy converges, restores skip what is already there
 * (restore/restore.h), scaling sets a count, DNS is an UPSERT, teardown of
 * what is gone is a no-op.
 *
 * deploy and teardown reuse the deploy and destroy commands in process,
 * their output going to a log file per step in the run directory
 * (<run dir>/step-NN.log), so the run's own output stays one line per step.
 *
 * A drill runs under its own stack name ("<stack>-drill"): the actions that
 * take a `stack` parameter use a profile directory generated for it (the
 * same profiles with that stack name), so nothing is shared with
 * production. In the sandbox, whose databases are PostgreSQL clusters named
 * by DRCTL_DB_MAP, the drill's database is its own database on the region's
 * cluster (named after the stack), created here and dropped by teardown.
 */
#ifndef DRCTL_CMD_OPS_H
#define DRCTL_CMD_OPS_H

#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "restore/restore.h"
#include "runbook/runbook.h"
#include "stack/profile.h"

typedef struct dr_ops {
    dr_ctx *ctx;
    const char *config_dir; /* the production profiles */
    const char *store;      /* the local store: state, bundles, runs */
    dr_profile_set set;     /* loaded from config_dir */
    /* A second stack name (a drill) and its generated profile directory. */
    char *alt_stack;
    char *alt_config_dir;
    /* The opened bundle chain, for the restore and verify steps. */
    dr_restore_chain *chain;
    uint64_t chain_version;
    dr_store *chain_store;
    dr_bundle_kms kms;
} dr_ops;

/* Loads the profiles. alt_stack (may be NULL): the drill stack name; its
 * profile directory is made under <store>/drill/<alt_stack>/profiles. */
int dr_ops_init(dr_ops *ops, dr_ctx *ctx, const char *config_dir, const char *store,
                const char *alt_stack, dr_err *err);
void dr_ops_free(dr_ops *ops);

/* The action table (app = the dr_ops). */
const dr_rb_action_def *dr_ops_actions(size_t *n);

#endif
