/*
 * plan.c - `drctl plan REGION`: what deploy would change, changing nothing.
 *
 * The diff is per logical resource between the model the profiles resolve
 * to and what exists: the state file, checked against AWS with one read
 * per resource (so a resource deleted behind drctl's back shows as a
 * create), and, when the state does not know a resource, a look-up by its
 * tags. Only reads are sent to AWS and the state file is not written: a
 * plan can run beside a deploy.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/stackcmd.h"

int cmd_plan(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    static const struct option longopts[] = {{"config-dir", required_argument, NULL, 'c'},
                                             {"store", required_argument, NULL, 's'},
                                             {"global", no_argument, NULL, 'g'},
                                             {NULL, 0, NULL, 0}};
    const dr_command *self = dr_command_find("plan");
    const char *dir_opt = NULL, *store_opt = NULL;
    int global = 0, c;
    while ((c = dr_getopt(self, argc, argv, ":", longopts, err)) != -1) {
        if (c == -2)
            return -1;
        if (c == 'c')
            dir_opt = optarg;
        else if (c == 's')
            store_opt = optarg;
        else if (c == 'g')
            global = 1;
    }
    int nargs = argc - optind;
    const char *region = nargs == 1 ? argv[optind] : NULL;
    if (nargs > 1 || (!region && !global)) {
        dr_err_set(err, DR_E_USAGE, nargs > 1 ? "plan takes one region" : "plan needs a region");
        return dr_err_hint(err, "usage: %s", self->usage);
    }
    if (region && dr_check_region(region, "the command line", err) != 0)
        return -1;
    if (global && region && strcmp(region, "us-east-1") != 0) {
        dr_err_set(err, DR_E_USAGE, "the global model lives in us-east-1, not %s", region);
        return dr_err_hint(err, "run 'drctl plan --global'");
    }
    const char *dir = dr_cmd_config_dir(dir_opt);
    const char *store = dr_cmd_store_dir(store_opt);

    dr_profile_set set = {0};
    if (dr_cmd_load_profiles(dir, &set, err) != 0)
        return -1;
    const dr_region_profile *p = NULL;
    dr_model m = {0};
    dr_state st = {0};
    dr_plan plan = {0};
    dr_aws_opts aws_opts;
    dr_engine_opts o;
    int rc = -1;
    if (global) {
        if (dr_model_build_global(&set, &m, err) != 0)
            goto out;
        p = set.primary;
    } else {
        if (dr_cmd_region_profile(&set, dir, region, &p, err) != 0 ||
            dr_model_build_regional(&set, p, &m, err) != 0)
            goto out;
    }
    if (dr_state_load(store, m.stack, global ? DR_STATE_GLOBAL : m.region, &st, err) != 0)
        goto out;
    if (dr_cmd_engine_opts(ctx, global ? NULL : p, &aws_opts, &o, err) != 0)
        goto out;
    if (dr_engine_plan(&o, &m, &st, &plan, err) != 0)
        goto out;
    if (ctx->output == DR_OUTPUT_JSON) {
        json_t *j = dr_cmd_plan_json(&plan);
        json_object_set_new(j, "stack", json_string(m.stack));
        json_object_set_new(j, "region", json_string(m.region));
        json_object_set_new(j, "scope", json_string(st.region));
        json_object_set_new(j, "state", json_string(st.path));
        char *s = json_dumps(j, JSON_INDENT(2));
        puts(s);
        free(s);
        json_decref(j);
    } else {
        printf("%s (state: %s)\n", m.description ? m.description : m.region, st.path);
        dr_cmd_print_plan(stdout, &plan, 1);
    }
    rc = 0;
out:
    dr_plan_free(&plan);
    dr_state_free(&st);
    dr_model_free(&m);
    dr_profiles_free(&set);
    return rc;
}
