/*
 * destroy.c - `drctl destroy REGION`: delete every resource of the stack in
 * a region (or, with --global, the edge in us-east-1), and say what could
 * not be deleted.
 *
 * Guard rails, because this is the one command that loses data: it asks
 * for the region's name on a terminal (or --yes without one), it refuses
 * the primary region unless --force, and the database goes with a final
 * snapshot (its DeletionPolicy is Snapshot; --no-final-snapshot skips it).
 * Everything else goes, data included: destroy leaves nothing behind.
 *
 * What gets deleted: everything in the state plus whatever AWS has with
 * the stack's tags for the model's logical ids (a lost state file, a run
 * killed between create and journal), dependents before what they use,
 * with waits where AWS takes its time (NAT gateways, ENIs, endpoints). A
 * failure does not stop the rest; it is listed, and so is whatever could
 * not be attempted because something that uses it is still there.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "cmd/stackcmd.h"
#include "util/lock.h"
#include "util/mem.h"

/* The model whose logical ids destroy looks up by tags: the region as it
 * runs when active (a superset of its resting model), else as it rests;
 * with neither buildable, the state alone (an empty model). */
static void model_for_destroy(const dr_profile_set *set, const dr_region_profile *p, int global,
                              const char *stack, const char *region, dr_model *m, const dr_log *log)
{
    dr_err e;
    dr_err_clear(&e);
    if (global) {
        if (dr_model_build_global(set, m, &e) == 0)
            return;
    } else {
        dr_model_opts active = {DR_MODEL_ACTIVE, DR_DB_AUTO, NULL};
        if (dr_model_build_regional_opts(set, p, &active, m, &e) == 0)
            return;
        dr_err_clear(&e);
        if (dr_model_build_regional(set, p, m, &e) == 0)
            return;
    }
    dr_warn(log, "destroying from the state file only (the model cannot be built: %s)", e.msg);
    memset(m, 0, sizeof(*m));
    m->stack = dr_xstrdup(stack);
    m->region = dr_xstrdup(region);
    m->global = global;
    m->outputs = json_object();
    m->parameters = json_object();
}

int cmd_destroy(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    static const struct option longopts[] = {{"config-dir", required_argument, NULL, 'c'},
                                             {"store", required_argument, NULL, 's'},
                                             {"dry-run", no_argument, NULL, 'n'},
                                             {"yes", no_argument, NULL, 'y'},
                                             {"force", no_argument, NULL, 'f'},
                                             {"wait", no_argument, NULL, 'w'},
                                             {"global", no_argument, NULL, 'g'},
                                             {"concurrency", required_argument, NULL, 'j'},
                                             {"no-final-snapshot", no_argument, NULL, 'S'},
                                             {NULL, 0, NULL, 0}};
    const dr_command *self = dr_command_find("destroy");
    const char *dir_opt = NULL, *store_opt = NULL;
    int dry_run = 0, yes = 0, force = 0, wait = 0, global = 0, no_snap = 0, conc = 0, c;
    while ((c = dr_getopt(self, argc, argv, ":", longopts, err)) != -1) {
        switch (c) {
        case -2:
            return -1;
        case 'c':
            dir_opt = optarg;
            break;
        case 's':
            store_opt = optarg;
            break;
        case 'n':
            dry_run = 1;
            break;
        case 'y':
            yes = 1;
            break;
        case 'f':
            force = 1;
            break;
        case 'w':
            wait = 1;
            break;
        case 'g':
            global = 1;
            break;
        case 'S':
            no_snap = 1;
            break;
        case 'j':
            if (dr_cmd_parse_concurrency(optarg, &conc, err) != 0)
                return -1;
            break;
        }
    }
    int nargs = argc - optind;
    const char *region = nargs == 1 ? argv[optind] : NULL;
    if (nargs > 1 || (!region && !global)) {
        dr_err_set(err, DR_E_USAGE,
                   nargs > 1 ? "destroy takes one region" : "destroy needs a region");
        return dr_err_hint(err, "usage: %s", self->usage);
    }
    if (region && dr_check_region(region, "the command line", err) != 0)
        return -1;
    if (global && region && strcmp(region, "us-east-1") != 0) {
        dr_err_set(err, DR_E_USAGE, "the global edge lives in us-east-1, not %s", region);
        return dr_err_hint(err, "run 'drctl destroy --global'");
    }
    const char *dir = dr_cmd_config_dir(dir_opt);
    const char *store = dr_cmd_store_dir(store_opt);
    dr_profile_set set = {0};
    if (dr_cmd_load_profiles(dir, &set, err) != 0)
        return -1;
    const dr_region_profile *p = NULL;
    if (!global && dr_cmd_region_profile(&set, dir, region, &p, err) != 0) {
        dr_profiles_free(&set);
        return -1;
    }
    const char *stack = p ? p->stack : set.primary ? set.primary->stack : NULL;
    const char *scope = global ? DR_STATE_GLOBAL : region;
    const char *aws_region = global ? "us-east-1" : region;
    int text = ctx->output == DR_OUTPUT_TEXT;
    dr_model m = {0};
    dr_state st = {0};
    dr_plan plan = {0};
    dr_lock lock = DR_LOCK_INIT;
    dr_aws_opts aws_opts;
    dr_engine_opts o;
    char **left = NULL;
    size_t nleft = 0;
    char *account = NULL;
    int rc = -1;
    json_t *report = json_object();
    if (!stack) {
        dr_err_set(err, DR_E_CONFIG, "no primary region in %s: cannot tell the stack", dir);
        goto out;
    }
    if (p && p->role == DR_ROLE_PRIMARY && !force) {
        dr_err_set(err, DR_E_USAGE, "%s is the primary region of stack %s: refusing to destroy it",
                   region, stack);
        dr_err_hint(err, "fail over to the standby first; or pass --force if the primary really "
                         "is to go");
        goto out;
    }
    int tty = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
    if (!dry_run && !yes && !tty) {
        /* Before any AWS call: a cron job without --yes learns it at once. */
        dr_err_set(err, DR_E_USAGE, "destroy needs --yes when not run on a terminal");
        dr_err_hint(err, "review with 'drctl destroy %s --dry-run' first",
                    global ? "--global" : region);
        goto out;
    }
    if (!dry_run) {
        char *name = dr_cmd_lock_name(stack, scope);
        int lrc = dr_lock_acquire(store, name, wait, &lock, err);
        free(name);
        if (lrc != 0)
            goto out;
    }
    model_for_destroy(&set, p, global, stack, aws_region, &m, &ctx->log);
    if (dr_state_load(store, stack, scope, &st, err) != 0 ||
        dr_cmd_engine_opts(ctx, p, &aws_opts, &o, err) != 0 ||
        dr_cmd_account_id(ctx, aws_region, &account, err) != 0)
        goto out;
    o.account_id = account; /* once for destroy_plan and destroy */
    o.concurrency = conc;
    o.skip_final_snapshot = no_snap;
    if (dr_engine_destroy_plan(&o, &m, &st, &plan, err) != 0)
        goto out;
    json_object_set_new(report, "plan", dr_cmd_plan_json(&plan));
    if (text) {
        printf("destroy %s of stack %s (state: %s)\n", scope, stack, st.path);
        dr_cmd_print_plan_items(stdout, &plan, 0);
        if (plan.n)
            printf("Destroy: %zu resource%s to delete.\n", plan.n, plan.n == 1 ? "" : "s");
        fflush(stdout);
    }
    if (plan.n == 0) {
        /* Nothing in AWS: clear a leftover empty state file too. */
        if (!dry_run && dr_state_remove_file(&st, err) != 0)
            goto out;
        if (text)
            printf("Nothing to destroy in %s.\n", scope);
        rc = 0;
        goto out;
    }
    if (dry_run) {
        rc = 0;
        goto out;
    }
    if (!yes) {
        char prompt[256];
        snprintf(prompt, sizeof(prompt),
                 "This deletes %zu resources of %s in %s, data included. Type '%s' to go on:",
                 plan.n, stack, scope, scope);
        if (!dr_cmd_confirm_typed(prompt, scope)) {
            dr_err_set(err, DR_E_USAGE, "destroy of %s cancelled: nothing was deleted", scope);
            goto out;
        }
    }
    dr_ui ui;
    dr_ui_start(&ui, ctx);
    o.on_progress = dr_ui_event;
    o.progress_ud = &ui;
    rc = dr_engine_destroy(&o, &m, &st, &left, &nleft, err);
    dr_ui_stop(&ui);
    json_t *lj = json_array();
    for (size_t i = 0; i < nleft; i++)
        json_array_append_new(lj, json_string(left[i]));
    json_object_set_new(report, "leftovers", lj);
    if (nleft) {
        fprintf(stderr, "Could not delete %zu resource%s:\n", nleft, nleft == 1 ? "" : "s");
        for (size_t i = 0; i < nleft; i++)
            fprintf(stderr, "  %s\n", left[i]);
    } else if (rc == 0 && text) {
        printf("Destroyed: nothing of %s is left in %s.\n", stack, scope);
        if (!global && dr_state_exists(store, stack, DR_STATE_GLOBAL))
            printf("The edge (global) may still point at %s: 'drctl destroy --global' removes "
                   "it.\n",
                   region);
    }
out:
    if (ctx->output == DR_OUTPUT_JSON) {
        json_object_set_new(report, "ok", json_boolean(rc == 0));
        json_object_set_new(report, "scope", json_string(scope));
        if (rc != 0)
            json_object_set_new(report, "error", json_string(err->msg));
        char *s = json_dumps(report, JSON_INDENT(2));
        puts(s);
        free(s);
    }
    json_decref(report);
    for (size_t i = 0; i < nleft; i++)
        free(left[i]);
    free(left);
    free(account);
    dr_lock_release(&lock);
    dr_plan_free(&plan);
    dr_state_free(&st);
    dr_model_free(&m);
    dr_profiles_free(&set);
    return rc;
}
