/*
 * runbookcmd.c - the commands that run a runbook: failover, failback,
 * drill, restore, clone (and `drctl run FILE` for one's own runbooks).
 *
 * Each fills the runbook's variables (target, source, stack), holds the
 * stack's DR lock for the run, turns SIGINT/SIGTERM into the engine's
 * interrupted flag (the step in flight is journaled, --resume continues),
 * and ends with the RTO/RPO report: report.json, report.md and report.html
 * in the run directory, and the text summary on stdout.
 */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "cmd/ops.h"
#include "cmd/stackcmd.h"
#include "report/report.h"
#include "runbook/run.h"
#include "util/buf.h"
#include "util/lock.h"
#include "util/mem.h"

/* The flag the engine polls. A signal handler can only reach it through a
 * file-scope object; it is written by the handler and read by the run,
 * nothing else. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef enum { K_FAILOVER, K_FAILBACK, K_DRILL, K_RESTORE, K_CLONE, K_RUN } kind;

static const char *kind_name(kind k)
{
    static const char *const n[] = {"failover", "failback", "drill", "restore", "clone", "run"};
    return n[k];
}

/* "2026-11-27T03:10:00Z" or Unix seconds. */
static int parse_time(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*s && !*end) {
        *out = v;
        return 0;
    }
    struct tm tm = {0};
    const char *r = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!r || (*r && strcmp(r, "Z") != 0))
        return -1;
    *out = (double)timegm(&tm);
    return 0;
}

static int run_kind(kind k, dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    const dr_command *self = dr_command_find(kind_name(k));
    static const struct option longopts[] = {{"yes", no_argument, NULL, 'y'},
                                             {"dry-run", no_argument, NULL, 'n'},
                                             {"resume", required_argument, NULL, 'R'},
                                             {"declared-at", required_argument, NULL, 'd'},
                                             {"runbook", required_argument, NULL, 'b'},
                                             {"region", required_argument, NULL, 'r'},
                                             {"keep", no_argument, NULL, 'k'},
                                             {"config-dir", required_argument, NULL, 'c'},
                                             {"store", required_argument, NULL, 's'},
                                             {"var", required_argument, NULL, 'v'},
                                             {NULL, 0, NULL, 0}};
    const char *dir_opt = NULL, *store_opt = NULL, *resume = NULL, *runbook = NULL,
               *region_opt = NULL;
    int yes = 0, dry = 0, keep = 0, c;
    double declared = 0;
    json_t *extra = json_object();
    int rc = -1;
    while ((c = dr_getopt(self, argc, argv, ":ynR:d:b:r:kc:s:v:", longopts, err)) != -1) {
        switch (c) {
        case -2:
            json_decref(extra);
            return -1;
        case 'y':
            yes = 1;
            break;
        case 'n':
            dry = 1;
            break;
        case 'R':
            resume = optarg;
            break;
        case 'd':
            if (parse_time(optarg, &declared) != 0) {
                json_decref(extra);
                return dr_err_set(err, DR_E_USAGE,
                                  "--declared-at: '%s' is not YYYY-MM-DDTHH:MM:SSZ or Unix "
                                  "seconds",
                                  optarg);
            }
            break;
        case 'b':
            runbook = optarg;
            break;
        case 'r':
            region_opt = optarg;
            break;
        case 'k':
            keep = 1;
            break;
        case 'c':
            dir_opt = optarg;
            break;
        case 's':
            store_opt = optarg;
            break;
        case 'v': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                json_decref(extra);
                return dr_err_set(err, DR_E_USAGE, "--var: '%s' is not NAME=VALUE", optarg);
            }
            char *name = dr_xstrndup(optarg, (size_t)(eq - optarg));
            json_object_set_new(extra, name, json_string(eq + 1));
            free(name);
            break;
        }
        }
    }
    int nargs = argc - optind;
    int want = k == K_CLONE ? 2 : 1;
    if (nargs != want) {
        json_decref(extra);
        dr_err_set(err, DR_E_USAGE, "%s needs %s", kind_name(k),
                   k == K_CLONE     ? "SOURCE-REGION and TARGET-REGION"
                   : k == K_RESTORE ? "a bundle version"
                   : k == K_RUN     ? "a runbook file"
                                    : "a region");
        return dr_err_hint(err, "usage: %s", self->usage);
    }
    const char *a1 = argv[optind], *a2 = want == 2 ? argv[optind + 1] : NULL;
    const char *dir = dr_cmd_config_dir(dir_opt);
    const char *store = dr_cmd_store_dir(store_opt);
    const char *rbdir = getenv("DRCTL_RUNBOOK_DIR") ? getenv("DRCTL_RUNBOOK_DIR") : "runbooks";

    dr_ops ops;
    dr_runbook rb = {0};
    dr_diags diags = {0};
    dr_lock lock = DR_LOCK_INIT;
    json_t *record = NULL;
    char *rbpath = NULL, *alt = NULL;
    int ops_ok = 0;

    /* Who is target and source. */
    dr_profile_set probe = {0};
    if (dr_cmd_load_profiles(dir, &probe, err) != 0) {
        json_decref(extra);
        return -1;
    }
    const char *stack = probe.primary ? probe.primary->stack : NULL;
    char target[32] = "", source[32] = "";
    const char *primary = probe.primary ? probe.primary->region : NULL;
    const char *standby = NULL;
    for (size_t i = 0; i < probe.n; i++)
        if (probe.regions[i].role == DR_ROLE_STANDBY)
            standby = probe.regions[i].region;
    switch (k) {
    case K_FAILOVER:
    case K_DRILL:
        snprintf(target, sizeof(target), "%s", a1);
        snprintf(source, sizeof(source), "%s",
                 primary && strcmp(primary, a1) != 0 ? primary : (standby ? standby : ""));
        break;
    case K_FAILBACK:
        snprintf(target, sizeof(target), "%s", a1);
        snprintf(source, sizeof(source), "%s",
                 standby && strcmp(standby, a1) != 0 ? standby : (primary ? primary : ""));
        break;
    case K_RESTORE:
        snprintf(target, sizeof(target), "%s",
                 region_opt ? region_opt : (standby ? standby : (primary ? primary : "")));
        snprintf(source, sizeof(source), "%s", primary ? primary : "");
        json_object_set_new(extra, "bundle", json_string(a1));
        break;
    case K_CLONE:
        snprintf(source, sizeof(source), "%s", a1);
        snprintf(target, sizeof(target), "%s", a2);
        break;
    case K_RUN:
        snprintf(target, sizeof(target), "%s",
                 region_opt ? region_opt : (standby ? standby : (primary ? primary : "")));
        snprintf(source, sizeof(source), "%s", primary ? primary : "");
        break;
    }
    if (!stack) {
        dr_err_set(err, DR_E_CONFIG, "no primary region in %s: cannot tell the stack", dir);
        goto out;
    }
    if (!*target || dr_check_region(target, "the target region", err) != 0 ||
        (*source && dr_check_region(source, "the source region", err) != 0))
        goto out;
    if (!dr_profiles_find(&probe, target)) {
        dr_err_set(err, DR_E_CONFIG, "no profile for %s in %s", target, dir);
        goto out;
    }
    if (k == K_FAILOVER && primary && strcmp(target, primary) == 0) {
        dr_err_set(err, DR_E_USAGE, "%s is the primary region of %s: failover goes to a standby",
                   target, stack);
        dr_err_hint(err, "to return to the primary after a failover, run 'drctl failback %s'",
                    target);
        goto out;
    }
    if ((k == K_FAILOVER || k == K_FAILBACK) && strcmp(target, source) == 0) {
        dr_err_set(err, DR_E_USAGE, "%s to %s: that is already where the stack is served from",
                   kind_name(k), target);
        goto out;
    }
    if (k == K_DRILL)
        alt = dr_xasprintf("%s-drill", stack);

    if (k == K_RUN)
        rbpath = dr_xstrdup(a1);
    else if (runbook)
        rbpath = dr_xstrdup(runbook);
    else
        rbpath = dr_xasprintf("%s/%s.yaml", rbdir,
                              k == K_CLONE || k == K_RESTORE ? "restore" : kind_name(k));

    if (dr_ops_init(&ops, ctx, dir, store, alt, err) != 0)
        goto out;
    ops_ok = 1;
    size_t nact;
    const dr_rb_action_def *acts = dr_ops_actions(&nact);
    const char *const extra_vars[] = {"health_timeout", NULL};
    if (dr_runbook_load(rbpath, acts, nact, extra_vars, &rb, &diags, err) != 0) {
        dr_diags_print(&diags, stderr);
        goto out;
    }
    if (keep && k == K_DRILL)
        rb.nfinally = 0; /* --keep: the drill's stack stays for a look */
    if (!dry) {
        char *lname = dr_xasprintf("%s-dr", stack);
        int lrc = dr_lock_acquire(store, lname, 0, &lock, err);
        free(lname);
        if (lrc != 0)
            goto out;
    }
    const dr_region_profile *tp = dr_profiles_find(&probe, target);
    json_object_set_new(extra, "target", json_string(target));
    json_object_set_new(extra, "source", json_string(source));
    json_object_set_new(extra, "stack", json_string(stack));
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* The engine's progress lines go to the terminal's stdout; actions that
     * run other commands send their output to the step's log file. */
    FILE *out = fdopen(dup(STDOUT_FILENO), "w");
    if (out)
        setvbuf(out, NULL, _IOLBF, 0);
    char *runs = dr_xasprintf("%s/runs", store);
    dr_rb_run_opts o = {.runs_dir = runs,
                        .resume = resume,
                        .dry_run = dry,
                        .yes = yes,
                        .declared_at = declared,
                        .rto_target_s = (long)tp->dr.rto_minutes * 60,
                        .rpo_target_s = (long)tp->dr.rpo_minutes * 60,
                        .vars = extra,
                        .actions = acts,
                        .nactions = nact,
                        .app = &ops,
                        .log = &ctx->log,
                        .out = out ? out : stdout,
                        .interrupted = &interrupted};
    rc = dr_rb_run(&rb, &o, &record, err);
    if (out)
        fclose(out);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (record && !dry) {
        const char *id = json_string_value(json_object_get(record, "run_id"));
        char *rdir = dr_xasprintf("%s/%s", runs, id ? id : "?");
        dr_err re;
        dr_err_clear(&re);
        if (id && dr_report_write(record, rdir, &re) != 0)
            dr_warn(&ctx->log, "report not written: %s", re.msg);
        dr_buf b;
        dr_buf_init(&b);
        if (dr_report_render(record, ctx->output == DR_OUTPUT_JSON ? "json" : "text", &b, &re) == 0)
            fputs(dr_buf_cstr(&b), stdout);
        dr_buf_free(&b);
        printf("report: %s/report.html\n", rdir);
        free(rdir);
    }
    free(runs);
out:
    json_decref(record);
    dr_lock_release(&lock);
    dr_runbook_free(&rb);
    dr_diags_free(&diags);
    if (ops_ok)
        dr_ops_free(&ops);
    dr_profiles_free(&probe);
    json_decref(extra);
    free(rbpath);
    free(alt);
    return rc;
}

int cmd_failover(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    return run_kind(K_FAILOVER, ctx, argc, argv, err);
}

int cmd_failback(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    return run_kind(K_FAILBACK, ctx, argc, argv, err);
}

int cmd_drill(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    return run_kind(K_DRILL, ctx, argc, argv, err);
}

int cmd_restore(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    return run_kind(K_RESTORE, ctx, argc, argv, err);
}

int cmd_clone(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    return run_kind(K_CLONE, ctx, argc, argv, err);
}

int cmd_run(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    return run_kind(K_RUN, ctx, argc, argv, err);
}
