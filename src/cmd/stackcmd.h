/*
 * stackcmd.h - what plan, deploy, status and destroy share: where the
 * profiles and the store are, loading a region's profile and model, engine
 * options from the command's context, plan rendering, and the progress
 * display.
 */
#ifndef DRCTL_CMD_STACKCMD_H
#define DRCTL_CMD_STACKCMD_H

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>

#include "cli.h"
#include "stack/engine.h"
#include "stack/model.h"
#include "stack/profile.h"

/* --store, else DRCTL_STORE, else "snapshots" (as doctor). */
const char *dr_cmd_store_dir(const char *opt);
/* --config-dir, else DRCTL_CONFIG_DIR, else "regions". */
const char *dr_cmd_config_dir(const char *opt);

/* Loads the profiles; problems go to stderr as validate prints them. */
int dr_cmd_load_profiles(const char *dir, dr_profile_set *set, dr_err *err);
/* The profile of region, or a config error listing the regions there are. */
int dr_cmd_region_profile(const dr_profile_set *set, const char *dir, const char *region,
                          const dr_region_profile **out, dr_err *err);

/* Parses --concurrency N (1..32). */
int dr_cmd_parse_concurrency(const char *s, int *out, dr_err *err);

/*
 * Engine options for this run: AWS client options from the context (each
 * engine worker makes its own client), the context's client for sequential
 * work, wait pacing from DRCTL_WAIT_INITIAL_MS / DRCTL_WAIT_MAX_MS /
 * DRCTL_WAIT_TIMEOUT_S when set (tests make waits fast with them).
 * aws_opts must outlive o.
 */
int dr_cmd_engine_opts(dr_ctx *ctx, const dr_region_profile *p, dr_aws_opts *aws_opts,
                       dr_engine_opts *o, dr_err *err);

/* The account id from STS GetCallerIdentity in region, asked once per run:
 * *cache (initially NULL, caller frees) keeps it for the next call. */
int dr_cmd_account_id(dr_ctx *ctx, const char *region, char **cache, dr_err *err);

/* The lock name of a stack's scope: "<stack>-<scope>". Caller frees. */
char *dr_cmd_lock_name(const char *stack, const char *scope);

/* Plan as text: one line per change ("+ create", "~ update (A, B)",
 * "-/+ replace (A: why)", "- delete"), then the summary line. */
void dr_cmd_print_plan(FILE *out, const dr_plan *p, int show_adopted);
/* The lines only, no summary. */
void dr_cmd_print_plan_items(FILE *out, const dr_plan *p, int show_adopted);
/* "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete." or "No changes." */
void dr_cmd_plan_summary(const dr_plan *p, char *buf, size_t len);
json_t *dr_cmd_plan_json(const dr_plan *p);

/* Prints "name = value" per output, sorted. */
void dr_cmd_print_outputs(FILE *out, json_t *outputs, const char *indent);

/*
 * Progress of a running engine. On a TTY (ctx->log.progress) a live block
 * with one line per resource in flight and its elapsed time, redrawn by a
 * ticker thread; completed resources scroll above it. Otherwise one line
 * per completed resource. Nothing with -q.
 */
typedef struct dr_ui_flight {
    const dr_plan_item *item;
    char verb[16];
    double t0;
} dr_ui_flight;

typedef struct dr_ui {
    FILE *out;
    int live;
    int quiet;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t ticker;
    int ticking, stop;
    dr_ui_flight *fl;
    size_t nfl, cap;
    int drawn; /* lines of the live block on screen */
    size_t ndone, nfailed;
} dr_ui;

void dr_ui_start(dr_ui *ui, dr_ctx *ctx);
void dr_ui_stop(dr_ui *ui);
/* dr_engine_opts.on_progress with progress_ud = the dr_ui. */
void dr_ui_event(void *ud, const dr_progress_event *ev);

/* Prints a resource list of a state, dependents last, for "what exists". */
void dr_cmd_print_state_resources(FILE *out, const dr_state *st, const char *indent);

/* Asks a yes/no question on the terminal; 1 only for "y"/"yes". */
int dr_cmd_confirm(const char *question);
/* Asks to type `expected`; 1 when the answer matches. */
int dr_cmd_confirm_typed(const char *prompt, const char *expected);

#endif
