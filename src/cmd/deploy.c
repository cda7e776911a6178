/*
 * deploy.c - `drctl deploy REGION`: converge a region (and then the global
 * edge) to what the profiles say.
 *
 * plan, show it, confirm when something would be replaced or deleted,
 * apply with progress, save the outputs. Safe to run again at any point: a
 * run that was killed continues from the state it journaled, and a run
 * with nothing to change says so and sends AWS no write.
 *
 * The global model (WAF, CloudFront, Route 53 failover in us-east-1) needs
 * every region's load balancer, so it follows the regional deploy once
 * every region of the set has saved the outputs it refers to.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "cmd/stackcmd.h"
#include "util/buf.h"
#include "util/lock.h"
#include "util/mem.h"

typedef struct deploy_opts {
    const char *store;
    int dry_run, yes, wait, concurrency;
    char *account; /* asked once, shared by the regional and the edge deploy */
    /* The profile set's regions but the one deployed, NULL-terminated: where
     * a new secret looks for the value it must share. */
    const char *peers[64];
} deploy_opts;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether to go ahead: on a terminal ask (unless --yes); without one,
 * creates and in-place updates go ahead and anything destructive needs
 * --yes, so a cron job never deletes by surprise. */
static int confirm(const dr_plan *plan, const char *what, const deploy_opts *d, dr_err *err)
{
    if (d->yes)
        return 0;
    size_t destructive = plan->nreplace + plan->ndelete;
    if (isatty(STDIN_FILENO) && isatty(STDERR_FILENO)) {
        char q[256];
        snprintf(q, sizeof(q), "Apply these changes to %s?", what);
        if (dr_cmd_confirm(q))
            return 0;
        dr_err_set(err, DR_E_USAGE, "deploy of %s cancelled: nothing was changed", what);
        return dr_err_hint(err, "run it again and answer 'y', or pass --yes");
    }
    if (destructive == 0)
        return 0;
    dr_err_set(err, DR_E_USAGE, "the plan for %s replaces or deletes %zu resource%s", what,
               destructive, destructive == 1 ? "" : "s");
    return dr_err_hint(err, "review it with 'drctl plan', then pass --yes to apply it without a "
                            "terminal");
}

/* Plans and applies one model in one state scope. */
static int deploy_model(dr_ctx *ctx, const dr_model *m, const char *scope,
                        const dr_region_profile *p, deploy_opts *d, json_t *report, dr_err *err)
{
    int text = ctx->output == DR_OUTPUT_TEXT;
    dr_lock lock = DR_LOCK_INIT;
    dr_state st = {0};
    dr_plan plan = {0};
    dr_aws_opts aws_opts;
    dr_engine_opts o;
    int rc = -1, locked = 0;
    if (!d->dry_run) {
        char *name = dr_cmd_lock_name(m->stack, scope);
        rc = dr_lock_acquire(d->store, name, d->wait, &lock, err);
        free(name);
        if (rc != 0)
            return -1;
        rc = -1;
        locked = 1;
    }
    if (dr_state_load(d->store, m->stack, scope, &st, err) != 0 ||
        dr_cmd_engine_opts(ctx, p, &aws_opts, &o, err) != 0 ||
        dr_cmd_account_id(ctx, m->region, &d->account, err) != 0)
        goto out;
    o.concurrency = d->concurrency;
    o.account_id = d->account;
    o.peer_regions = d->peers;
    if (dr_engine_plan(&o, m, &st, &plan, err) != 0)
        goto out;
    json_t *entry = json_pack("{s:s, s:s, s:o}", "scope", scope, "region", m->region, "plan",
                              dr_cmd_plan_json(&plan));
    json_array_append_new(json_object_get(report, "deployments"), entry);
    if (text) {
        printf("%s\n", m->description ? m->description : m->region);
        if (dr_plan_has_changes(&plan))
            dr_cmd_print_plan(stdout, &plan, 1);
        else if (plan.nadopted)
            dr_cmd_print_plan_items(stdout, &plan, 1); /* the summary line follows below */
        fflush(stdout);
    }
    if (d->dry_run) {
        if (text && !dr_plan_has_changes(&plan))
            printf("No changes.\n");
        json_object_set_new(entry, "applied", json_false());
        rc = 0;
        goto out;
    }
    size_t total = plan.nnoop + plan.ncreate + plan.nupdate + plan.nreplace;
    if (!dr_plan_has_changes(&plan)) {
        /* Nothing to send AWS; apply only refreshes outputs and saves
         * what plan adopted. */
        if (dr_engine_apply(&o, m, &st, &plan, err) != 0)
            goto out;
        if (text) {
            printf("No changes: %zu resource%s up to date", total, total == 1 ? "" : "s");
            if (plan.nadopted)
                printf(" (%zu adopted by their tags into the state)", plan.nadopted);
            printf(".\n");
        }
    } else {
        if (confirm(&plan, scope, d, err) != 0)
            goto out;
        dr_ui ui;
        dr_ui_start(&ui, ctx);
        o.on_progress = dr_ui_event;
        o.progress_ud = &ui;
        double t0 = mono_s();
        int arc = dr_engine_apply(&o, m, &st, &plan, err);
        dr_ui_stop(&ui);
        if (arc != 0) {
            if (json_object_size(st.resources)) {
                fprintf(stderr, "What exists now in %s (%s):\n", scope, st.path);
                dr_cmd_print_state_resources(stderr, &st, "  ");
            }
            goto out;
        }
        if (text)
            printf("Applied in %.1fs: %zu created, %zu updated, %zu replaced, %zu deleted.\n",
                   mono_s() - t0, plan.ncreate, plan.nupdate, plan.nreplace, plan.ndelete);
    }
    json_object_set_new(entry, "applied", json_boolean(dr_plan_has_changes(&plan)));
    json_object_set_new(entry, "outputs", json_deep_copy(st.outputs));
    if (text && json_object_size(st.outputs)) {
        printf("Outputs:\n");
        dr_cmd_print_outputs(stdout, st.outputs, "  ");
    }
    rc = 0;
out:
    dr_plan_free(&plan);
    dr_state_free(&st);
    if (locked)
        dr_lock_release(&lock);
    return rc;
}

/* Collects the [region, output] pairs of drctl::Output references. */
static void other_outputs(json_t *v, json_t *acc)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) other_outputs(x, acc);
        return;
    }
    if (!json_is_object(v))
        return;
    json_t *o = json_object_get(v, "drctl::Output");
    if (json_object_size(v) == 1 && json_is_array(o)) {
        json_array_append(acc, o);
        return;
    }
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) other_outputs(x, acc);
}

/* "" when every region has saved what the global model reads; else what
 * is missing, e.g. "us-west-2 AlbDnsName". Caller frees. */
static char *missing_outputs(const dr_model *g, const char *store)
{
    json_t *refs = json_array();
    for (size_t i = 0; i < g->n; i++)
        other_outputs(g->resources[i].properties, refs);
    dr_buf b = DR_BUF_INIT;
    json_t *cache = json_object();
    size_t i;
    json_t *ref;
    json_array_foreach(refs, i, ref)
    {
        const char *region = json_string_value(json_array_get(ref, 0));
        const char *name = json_string_value(json_array_get(ref, 1));
        if (!region || !name)
            continue;
        json_t *outs = json_object_get(cache, region);
        if (!outs) {
            dr_state st;
            dr_err e;
            dr_err_clear(&e);
            if (dr_state_exists(store, g->stack, region) &&
                dr_state_load(store, g->stack, region, &st, &e) == 0) {
                outs = json_incref(st.outputs);
                dr_state_free(&st);
            } else {
                outs = json_object();
            }
            json_object_set_new(cache, region, outs);
        }
        if (!json_object_get(outs, name)) {
            char *item = dr_xasprintf("%s %s", region, name);
            if (!strstr(dr_buf_cstr(&b), item)) {
                if (b.len)
                    dr_buf_puts(&b, ", ");
                dr_buf_puts(&b, item);
            }
            free(item);
        }
    }
    json_decref(cache);
    json_decref(refs);
    return dr_buf_detach(&b);
}

/* After a regional deploy: the edge, when it is on and can be built. */
static int deploy_edge(dr_ctx *ctx, const dr_profile_set *set, deploy_opts *d, json_t *report,
                       dr_err *err)
{
    dr_model g;
    dr_err ge;
    dr_err_clear(&ge);
    if (dr_model_build_global(set, &g, &ge) != 0) {
        dr_warn(&ctx->log, "edge not deployed: %s", ge.msg);
        json_object_set_new(report, "edge",
                            json_pack("{s:s, s:s}", "status", "skipped", "reason", ge.msg));
        return 0;
    }
    char *missing = missing_outputs(&g, d->store);
    int rc = 0;
    if (*missing) {
        dr_notice(&ctx->log,
                  "edge (global, us-east-1) not deployed yet: waiting for %s (deploy those "
                  "regions first)",
                  missing);
        json_object_set_new(report, "edge",
                            json_pack("{s:s, s:s}", "status", "waiting", "missing", missing));
    } else {
        if (ctx->output == DR_OUTPUT_TEXT)
            printf("\n");
        rc = deploy_model(ctx, &g, DR_STATE_GLOBAL, NULL, d, report, err);
        json_object_set_new(report, "edge", json_pack("{s:s}", "status", rc ? "failed" : "ok"));
    }
    free(missing);
    dr_model_free(&g);
    return rc;
}

int cmd_deploy(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    static const struct option longopts[] = {{"config-dir", required_argument, NULL, 'c'},
                                             {"store", required_argument, NULL, 's'},
                                             {"dry-run", no_argument, NULL, 'n'},
                                             {"yes", no_argument, NULL, 'y'},
                                             {"concurrency", required_argument, NULL, 'j'},
                                             {"wait", no_argument, NULL, 'w'},
                                             {"global", no_argument, NULL, 'g'},
                                             {"no-edge", no_argument, NULL, 'E'},
                                             {"active", no_argument, NULL, 'A'},
                                             {"db-source", required_argument, NULL, 'D'},
                                             {"db-snapshot", required_argument, NULL, 'N'},
                                             {NULL, 0, NULL, 0}};
    const dr_command *self = dr_command_find("deploy");
    dr_model_opts mo = {DR_MODEL_AUTO, DR_DB_AUTO, NULL};
    const char *dir_opt = NULL, *store_opt = NULL;
    deploy_opts d = {0};
    int global = 0, no_edge = 0, c;
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
            d.dry_run = 1;
            break;
        case 'y':
            d.yes = 1;
            break;
        case 'j':
            if (dr_cmd_parse_concurrency(optarg, &d.concurrency, err) != 0)
                return -1;
            break;
        case 'w':
            d.wait = 1;
            break;
        case 'g':
            global = 1;
            break;
        case 'E':
            no_edge = 1;
            break;
        case 'A':
            mo.state = DR_MODEL_ACTIVE;
            break;
        case 'D':
            if (strcmp(optarg, "auto") == 0)
                mo.db_source = DR_DB_AUTO;
            else if (strcmp(optarg, "fresh") == 0)
                mo.db_source = DR_DB_FRESH;
            else if (strcmp(optarg, "snapshot") == 0)
                mo.db_source = DR_DB_SNAPSHOT;
            else if (strcmp(optarg, "promoted") == 0)
                mo.db_source = DR_DB_PROMOTED;
            else {
                dr_err_set(err, DR_E_USAGE,
                           "--db-source: '%s' is not auto, fresh, snapshot or "
                           "promoted",
                           optarg);
                return -1;
            }
            break;
        case 'N':
            mo.db_snapshot = optarg;
            break;
        }
    }
    int nargs = argc - optind;
    const char *region = nargs == 1 ? argv[optind] : NULL;
    if (mo.db_source == DR_DB_SNAPSHOT && !mo.db_snapshot) {
        dr_err_set(err, DR_E_USAGE, "--db-source snapshot needs --db-snapshot ID");
        return -1;
    }
    if (nargs > 1 || (!region && !global)) {
        dr_err_set(err, DR_E_USAGE,
                   nargs > 1 ? "deploy takes one region" : "deploy needs a region");
        return dr_err_hint(err, "usage: %s", self->usage);
    }
    if (region && dr_check_region(region, "the command line", err) != 0)
        return -1;
    if (global && region && strcmp(region, "us-east-1") != 0) {
        dr_err_set(err, DR_E_USAGE, "the global model lives in us-east-1, not %s", region);
        return dr_err_hint(err, "run 'drctl deploy --global'");
    }
    const char *dir = dr_cmd_config_dir(dir_opt);
    d.store = dr_cmd_store_dir(store_opt);

    dr_profile_set set = {0};
    if (dr_cmd_load_profiles(dir, &set, err) != 0)
        return -1;
    size_t npeers = 0;
    for (size_t i = 0; i < set.n && npeers + 1 < sizeof(d.peers) / sizeof(*d.peers); i++)
        if (!region || strcmp(set.regions[i].region, region) != 0)
            d.peers[npeers++] = set.regions[i].region;
    json_t *report = json_pack("{s:[]}", "deployments");
    int rc = -1;
    if (global) {
        dr_model g;
        if (dr_model_build_global_as(&set, mo.state, &g, err) != 0)
            goto out;
        char *missing = missing_outputs(&g, d.store);
        if (*missing) {
            dr_err_set(err, DR_E_CONFIG, "the edge needs outputs not saved yet: %s", missing);
            dr_err_hint(err, "deploy those regions first (with the same --store)");
            free(missing);
            dr_model_free(&g);
            goto out;
        }
        free(missing);
        rc = deploy_model(ctx, &g, DR_STATE_GLOBAL, NULL, &d, report, err);
        dr_model_free(&g);
        if (rc != 0)
            goto out;
    } else {
        const dr_region_profile *p = NULL;
        dr_model m;
        if (dr_cmd_region_profile(&set, dir, region, &p, err) != 0 ||
            dr_model_build_regional_opts(&set, p, &mo, &m, err) != 0)
            goto out;
        rc = deploy_model(ctx, &m, m.region, p, &d, report, err);
        dr_model_free(&m);
        if (rc != 0)
            goto out;
        if (set.primary && set.primary->edge.enabled && !no_edge)
            rc = deploy_edge(ctx, &set, &d, report, err);
        if (rc != 0)
            goto out;
    }
    rc = 0;
out:
    if (ctx->output == DR_OUTPUT_JSON) {
        json_object_set_new(report, "ok", json_boolean(rc == 0));
        if (rc != 0)
            json_object_set_new(report, "error", json_string(err->msg));
        char *s = json_dumps(report, JSON_INDENT(2));
        puts(s);
        free(s);
    }
    json_decref(report);
    dr_profiles_free(&set);
    free(d.account);
    return rc;
}
