/*
 * runbook.h - the runbook language: loading and validating the YAML files in runbooks/.
 *
 * A runbook is a named, ordered list of steps, each one action (deploy,
 * restore-database, shell...) with parameters, a timeout, retries and what
 * to do when it fails, plus an optional `finally:` list of steps that run at
 * the end of every run that ends (succeeded or failed, not interrupted).
 * docs/runbooks.md is the reference for the file format.
 *
 * The set of actions is not fixed here: the caller passes a table of
 * dr_rb_action_def (name, parameters, default timeout, the function that
 * runs it). Two generic actions are built in and always available, "shell"
 * and "confirm" (run.c); a caller's entry of the same name replaces them.
 *
 * Loading never stops at the first problem: every problem becomes a
 * dr_diag (file, line, column, key path such as "steps[2].timeout",
 * message), the same way region profiles report, and the load fails with
 * DR_E_CONFIG before anything runs.
 */
#ifndef DRCTL_RUNBOOK_RUNBOOK_H
#define DRCTL_RUNBOOK_RUNBOOK_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "stack/profile.h" /* dr_diags */
#include "util/err.h"
#include "util/log.h"

typedef enum dr_rb_on_failure {
    DR_RB_ABORT,    /* "abort" (default): stop, the run failed */
    DR_RB_CONTINUE, /* "continue": record "continued", go on with the next step */
    DR_RB_ROLLBACK  /* "rollback": undo this step and the finished earlier ones, run failed */
} dr_rb_on_failure;

typedef struct dr_rb_step {
    char *name;   /* unique within the runbook (steps and finally together) */
    char *action; /* a name of the action table */
    json_t *with; /* parameters: an object, empty when absent; strings may hold ${var} */
    long timeout_s;
    int retries; /* 0..10 */
    dr_rb_on_failure on_failure;
    int rto_end;    /* `rto: end`: this step's end ends the RTO clock */
    int is_finally; /* listed under finally: */
    int line, column;
} dr_rb_step;

typedef struct dr_runbook {
    char *file;        /* the path as given to dr_runbook_load */
    char *name;        /* [a-z0-9][a-z0-9_-]*, at most 48 characters: it starts every run id */
    char *description; /* "" when absent */
    json_t *vars;      /* object: variable name -> default value (string) */
    dr_rb_step *steps; /* the main steps, in order */
    size_t n;
    dr_rb_step *finally; /* the finally steps, in order */
    size_t nfinally;
} dr_runbook;

/*
 * What an action receives. Everything is borrowed for the duration of the
 * call only.
 */
typedef struct dr_rb_call {
    const dr_rb_step *step;
    size_t index;         /* 0-based; finally steps follow the main steps */
    const json_t *params; /* the step's `with` after ${var} interpolation (object) */
    const json_t *vars;   /* every variable's current value (object of strings) */
    double deadline;      /* dr_rb_mono() time the step's timeout ends */
    int attempt;          /* 1 for the first try, 2 for the first retry... */
    const char *run_id;   /* this run's id */
    const char *run_dir;  /* <runs_dir>/<run_id>: actions may keep files there */
    const dr_log *log;    /* may be NULL */
    FILE *out;            /* progress lines (never NULL) */
    int dry_run;          /* always 0 from dr_rb_run (--dry-run calls no action); for callers
                             that reuse actions outside the engine */
    int yes;              /* --yes: the confirm action does not ask */
    volatile sig_atomic_t *interrupted; /* non-zero once SIGINT/SIGTERM arrived; may be NULL */
} dr_rb_call;

typedef struct dr_rb_action_def {
    const char *name;
    const char *const *required; /* parameter names, NULL-terminated; may be NULL */
    const char *const *optional; /* the same */
    long default_timeout_s;      /* <= 0: 30 minutes */
    double typical_s; /* expected duration when no earlier run says otherwise (dry-run) */
    int is_verify;    /* ends the RTO clock by default (the last such step that succeeded) */
    /*
     * Runs the step: 0, or -1 with err filled. *detail (NULL on entry) is a
     * JSON object the action may return, on success or failure; the engine
     * takes the reference. It is journaled and reported, so it never holds
     * secret values. Members the engine reads:
     *   "set": {"var": "value", ...}  sets variables for later steps (only
     *          when the step succeeds; journaled, so it survives --resume);
     *   "recovery_point": Unix seconds the restored data is from (RPO);
     *   "service_resumed": true  this step's end is when service resumed.
     * Long actions poll dr_rb_expired(call) and return early when it says so.
     * Actions are idempotent by contract: after a crash, --resume runs the
     * step that was running again.
     */
    int (*run)(void *app, const dr_rb_call *call, json_t **detail, dr_err *err);
    /* Optional (NULL): undoes the step, for on_failure: rollback. */
    int (*rollback)(void *app, const dr_rb_call *call, dr_err *err);
} dr_rb_action_def;

/* Monotonic seconds (CLOCK_MONOTONIC), the clock of dr_rb_call.deadline. */
double dr_rb_mono(void);
/* Unix seconds with a fraction (CLOCK_REALTIME), the clock of journals and records. */
double dr_rb_now(void);
/* 1 when the action should stop now: its deadline passed or the run was
 * interrupted. The engine then decides which ("timed out after 2m" or
 * "interrupted"). */
int dr_rb_expired(const dr_rb_call *call);

/* The built-in actions ("confirm", "shell"), defined in run.c. */
const dr_rb_action_def *dr_rb_builtin_actions(size_t *n);

/* The definition of an action: the caller's table first, then the built-ins;
 * NULL when unknown. */
const dr_rb_action_def *dr_rb_action_find(const dr_rb_action_def *actions, size_t nactions,
                                          const char *name);

/* Variables that always exist without a vars: entry. target, source, stack:
 * given by the command; bundle: set by check-bundle or backup; run_id: the
 * id of the (original) run; rto, rpo: the targets as durations ("30m").
 * NULL-terminated. */
extern const char *const dr_rb_builtin_vars[];

/*
 * Loads and validates a runbook. extra_vars (NULL-terminated, may be NULL)
 * are variable names the caller will provide beyond the built-ins and the
 * runbook's vars:. On any problem: -1, err is DR_E_CONFIG ("N problems in
 * FILE"), every problem is appended to *diags (sorted by line and column;
 * the caller frees diags in both cases) and *out is left zeroed. A file that
 * cannot be read is a config error with one diagnostic.
 */
int dr_runbook_load(const char *path, const dr_rb_action_def *actions, size_t nactions,
                    const char *const *extra_vars, dr_runbook *out, dr_diags *diags, dr_err *err);
void dr_runbook_free(dr_runbook *rb);

/* The step at a run index: main steps 0..n-1, then finally steps. NULL when out of range. */
const dr_rb_step *dr_runbook_step(const dr_runbook *rb, size_t index);

/*
 * Durations as runbooks write them: "90s", "5m", "1h", "1h30m", "2h5m10s"
 * (units h, m, s in that order, each at most once, a number before each).
 * 0 and the value in seconds, or -1.
 */
int dr_rb_parse_duration(const char *s, long *out);
/* The shortest form of the same syntax: 90 -> "1m30s", 3600 -> "1h". */
void dr_rb_format_duration(long seconds, char *out, size_t cap);

/*
 * Replaces every ${name} in the strings of v (recursively through objects
 * and arrays; keys are left alone) by the variable's value; "$${" stands for
 * a literal "${". Returns a new reference, or NULL with a DR_E_CONFIG error
 * naming the variable when one has no value (strict), or leaves such
 * references as they are (strict == 0, for --dry-run).
 */
json_t *dr_rb_interpolate(const json_t *v, const json_t *vars, int strict, dr_err *err);

#endif
