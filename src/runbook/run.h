/*
 * run.h - the runbook engine: runs a loaded runbook's steps, journaled.
 *
 * A run: a new run id and directory under runs_dir, the journal's run event,
 * then each step in order, each attempt journaled before it starts and
 * after it ends (journal.h), retries with backoff, the step's timeout,
 * on_failure (abort, continue, rollback), then the finally steps, then the
 * RTO and RPO checks and <run dir>/run.json (written atomically; the report
 * module reads it). Progress goes to opts->out, one line per step start and
 * end.
 *
 * --resume RUN starts a new run (new id and directory) that continues RUN:
 * it inherits RUN's variables and finished steps (journaled again in the new
 * journal, so a resumed run can itself be resumed), runs the first
 * unfinished step again (actions are idempotent by contract), and measures
 * the RTO from RUN's original start (or declared time).
 *
 * --dry-run calls no action and writes nothing: it prints each step with
 * the duration earlier runs of this runbook took (median of their
 * run.json), the cumulative time and the predicted RTO against the target.
 *
 * The engine installs no signal handler: the caller's SIGINT/SIGTERM
 * handler sets *interrupted; the step in flight is journaled as failed
 * ("interrupted"), the run ends "interrupted" with DR_E_INTERRUPTED, finally
 * steps do not run (the run is not over: --resume continues it).
 *
 * No global state: two runs in one process are independent.
 */
#ifndef DRCTL_RUNBOOK_RUN_H
#define DRCTL_RUNBOOK_RUN_H

#include <jansson.h>
#include <signal.h>
#include <stdio.h>

#include "runbook/runbook.h"
#include "util/err.h"
#include "util/log.h"

#define DR_RUN_FORMAT 1
#define DR_RUN_RECORD "run.json"

typedef struct dr_rb_run_opts {
    const char *runs_dir; /* <store>/runs */
    const char *resume;   /* run id to resume, or NULL */
    int dry_run, yes;
    double declared_at; /* 0 = the run's start; else Unix time the outage was declared */
    long rto_target_s, rpo_target_s; /* 0 = no target */
    const json_t *vars;              /* the caller's variables (target, source, stack...) */
    const dr_rb_action_def *actions; /* the action table (built-ins are added, see runbook.h) */
    size_t nactions;
    void *app;         /* passed to every action */
    const dr_log *log; /* may be NULL */
    FILE *out;         /* progress lines; NULL = stdout */
    volatile sig_atomic_t
        *interrupted; /* set by the caller's SIGINT/SIGTERM handler; may be NULL */
} dr_rb_run_opts;

/*
 * Runs rb. Returns 0 when the run succeeded and met its objectives, else -1
 * with err set: the failing step's error (its code is the exit code),
 * DR_E_INTERRUPTED, DR_E_OBJECTIVE when every step succeeded but the RTO or
 * RPO exceeded its target, DR_E_CONFIG for a resume of a changed runbook,
 * DR_E_NOT_FOUND for an unknown run id, DR_E_IO when the journal cannot be
 * written. *record_out (may be NULL) receives the run record (the content
 * of run.json; with --dry-run the plan, see docs/runbooks.md) whenever the
 * run got as far as starting, also when -1 is returned; the caller
 * decrefs it.
 *
 * Variables for ${...}: the built-ins (run_id; rto and rpo from the
 * targets), the runbook's vars: defaults, the caller's vars over those, and
 * every "set" of a succeeded step over everything. On resume the journaled
 * variables win over the caller's.
 */
int dr_rb_run(const dr_runbook *rb, const dr_rb_run_opts *o, json_t **record_out, dr_err *err);

#endif
