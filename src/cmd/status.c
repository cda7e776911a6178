/*
 * status.c - `drctl status [REGION]`: what is deployed where, and is it
 * serving?
 *
 * The resources and outputs come from the state files (no AWS call per
 * resource: that is what plan does); two live reads per region answer the
 * on-call question "is it up": ECS DescribeServices (desired, running,
 * pending tasks) and ELBv2 DescribeTargetHealth (healthy targets). A live
 * read that fails is shown in its place and makes the exit code non-zero,
 * after everything else is printed.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/xml.h"
#include "cmd/commands.h"
#include "cmd/stackcmd.h"
#include "util/kv.h"
#include "util/mem.h"

typedef struct status_run {
    dr_ctx *ctx;
    const char *store;
    dr_err first; /* first live-read failure */
    int nfail;
} status_run;

static void live_fail(status_run *s, json_t *errors, const char *what, const dr_err *e)
{
    if (s->nfail++ == 0)
        s->first = *e;
    json_array_append_new(errors, json_pack("{s:s, s:s}", "check", what, "error", e->msg));
}

/* ECS service counts, or NULL after recording the failure. */
static json_t *live_service(status_run *s, dr_aws *aws, const char *region, const char *cluster,
                            const char *service, json_t *errors)
{
    dr_err e;
    dr_err_clear(&e);
    json_t *in = json_pack("{s:s, s:[s]}", "cluster", cluster, "services", service);
    json_t *outj = NULL;
    int rc = dr_aws_json(aws, "ecs", region, "DescribeServices", in, &outj, &e);
    json_decref(in);
    if (rc != 0) {
        live_fail(s, errors, "service", &e);
        return NULL;
    }
    json_t *svc = json_array_get(json_object_get(outj, "services"), 0);
    json_t *res = NULL;
    if (!svc) {
        json_t *f = json_array_get(json_object_get(outj, "failures"), 0);
        dr_err_set(&e, DR_E_NOT_FOUND, "ECS service %s in cluster %s: %s", service, cluster,
                   f ? json_string_value(json_object_get(f, "reason")) : "not found");
        live_fail(s, errors, "service", &e);
    } else {
        res =
            json_pack("{s:s, s:s, s:I, s:I, s:I, s:s}", "cluster", cluster, "service", service,
                      "desired", json_integer_value(json_object_get(svc, "desiredCount")),
                      "running", json_integer_value(json_object_get(svc, "runningCount")),
                      "pending", json_integer_value(json_object_get(svc, "pendingCount")), "status",
                      json_string_value(json_object_get(svc, "status"))
                          ? json_string_value(json_object_get(svc, "status"))
                          : "?");
    }
    json_decref(outj);
    return res;
}

/* Target health counts by state, or NULL after recording the failure. */
static json_t *live_targets(status_run *s, dr_aws *aws, const char *region, const char *tg,
                            json_t *errors)
{
    dr_err e;
    dr_err_clear(&e);
    dr_kvlist params = DR_KVLIST_INIT;
    dr_kv_add(&params, "TargetGroupArn", tg);
    xmlDocPtr doc = NULL;
    int rc = dr_aws_query(aws, "elbv2", region, "DescribeTargetHealth", &params, &doc, &e);
    dr_kv_free(&params);
    if (rc != 0) {
        live_fail(s, errors, "targets", &e);
        return NULL;
    }
    json_t *res =
        json_pack("{s:i, s:i, s:i, s:[]}", "healthy", 0, "unhealthy", 0, "other", 0, "targets");
    xmlNodePtr root = xmlDocGetRootElement(doc);
    for (xmlNodePtr m =
             dr_xml_find(root, "DescribeTargetHealthResult/TargetHealthDescriptions/member");
         m; m = dr_xml_next_same(m)) {
        char *id = dr_xml_text(m, "Target/Id");
        char *port = dr_xml_text(m, "Target/Port");
        char *state = dr_xml_text(m, "TargetHealth/State");
        const char *key = state && strcmp(state, "healthy") == 0     ? "healthy"
                          : state && strcmp(state, "unhealthy") == 0 ? "unhealthy"
                                                                     : "other";
        json_object_set_new(res, key,
                            json_integer(json_integer_value(json_object_get(res, key)) + 1));
        json_array_append_new(json_object_get(res, "targets"),
                              json_pack("{s:s, s:s, s:s}", "id", id ? id : "?", "port",
                                        port ? port : "?", "state", state ? state : "?"));
        free(id);
        free(port);
        free(state);
    }
    xmlFreeDoc(doc);
    return res;
}

/* One scope (a region, or the global edge). */
static json_t *scope_status(status_run *s, const char *stack, const char *scope,
                            const char *aws_region, const dr_region_profile *p)
{
    json_t *j = json_pack("{s:s, s:s, s:[]}", "scope", scope, "region", aws_region, "errors");
    json_t *errors = json_object_get(j, "errors");
    if (p) {
        json_object_set_new(j, "role", json_string(dr_role_name(p->role)));
        json_object_set_new(j, "strategy", json_string(dr_strategy_name(p->dr.strategy)));
    }
    dr_state st;
    dr_err e;
    dr_err_clear(&e);
    if (!dr_state_exists(s->store, stack, scope)) {
        json_object_set_new(j, "deployed", json_false());
        return j;
    }
    if (dr_state_load(s->store, stack, scope, &st, &e) != 0) {
        live_fail(s, errors, "state", &e);
        json_object_set_new(j, "deployed", json_null());
        return j;
    }
    json_object_set_new(j, "deployed", json_boolean(json_object_size(st.resources) > 0));
    json_object_set_new(j, "state_file", json_string(st.path));
    json_t *counts = json_pack("{s:i, s:i, s:i}", "ready", 0, "creating", 0, "deleting", 0);
    json_t *res = json_array();
    const char *id;
    json_t *entry;
    json_object_foreach(st.resources, id, entry)
    {
        int status = dr_state_status(entry);
        const char *sn = status >= 0 ? dr_res_status_name((dr_res_status)status) : "?";
        json_t *cnt = json_object_get(counts, sn);
        if (cnt)
            json_object_set_new(counts, sn, json_integer(json_integer_value(cnt) + 1));
        const char *pid = dr_state_physical_id(entry);
        json_array_append_new(res, json_pack("{s:s, s:s, s:o, s:s}", "logical_id", id, "type",
                                             dr_state_type(entry), "physical_id",
                                             pid ? json_string(pid) : json_null(), "status", sn));
    }
    json_object_set_new(j, "counts", counts);
    json_object_set_new(j, "resources", res);
    json_object_set(j, "outputs", st.outputs);

    const char *cluster = json_string_value(json_object_get(st.outputs, "ClusterName"));
    const char *service = json_string_value(json_object_get(st.outputs, "ServiceName"));
    const char *tg = json_string_value(json_object_get(st.outputs, "TargetGroupArn"));
    if (cluster || tg) {
        dr_aws *aws = NULL;
        if (dr_ctx_aws(s->ctx, &aws, &e) != 0) {
            live_fail(s, errors, "aws client", &e);
        } else {
            if (cluster && service) {
                json_t *v = live_service(s, aws, aws_region, cluster, service, errors);
                if (v)
                    json_object_set_new(j, "service", v);
            }
            if (tg) {
                json_t *v = live_targets(s, aws, aws_region, tg, errors);
                if (v)
                    json_object_set_new(j, "targets", v);
            }
        }
    }
    dr_state_free(&st);
    return j;
}

static void print_scope(json_t *j)
{
    const char *scope = json_string_value(json_object_get(j, "scope"));
    json_t *dep = json_object_get(j, "deployed");
    const char *role = json_string_value(json_object_get(j, "role"));
    const char *strat = json_string_value(json_object_get(j, "strategy"));
    printf("%s", scope);
    if (role)
        printf("  %s, %s", role, strat ? strat : "?");
    else
        printf("  edge in %s", json_string_value(json_object_get(j, "region")));
    if (json_is_false(dep)) {
        printf("  not deployed\n");
    } else if (json_is_null(dep)) {
        printf("  state unreadable\n");
    } else {
        json_t *c = json_object_get(j, "counts");
        json_int_t ready = json_integer_value(json_object_get(c, "ready"));
        json_int_t creating = json_integer_value(json_object_get(c, "creating"));
        json_int_t deleting = json_integer_value(json_object_get(c, "deleting"));
        printf("  %zu resources (%lld ready", json_array_size(json_object_get(j, "resources")),
               (long long)ready);
        if (creating)
            printf(", %lld creating", (long long)creating);
        if (deleting)
            printf(", %lld deleting", (long long)deleting);
        printf(")%s\n", creating || deleting ? ": a deploy or destroy did not finish" : "");
    }
    json_t *svc = json_object_get(j, "service");
    if (svc)
        printf("  service    %s/%s: desired %lld, running %lld, pending %lld (%s)\n",
               json_string_value(json_object_get(svc, "cluster")),
               json_string_value(json_object_get(svc, "service")),
               (long long)json_integer_value(json_object_get(svc, "desired")),
               (long long)json_integer_value(json_object_get(svc, "running")),
               (long long)json_integer_value(json_object_get(svc, "pending")),
               json_string_value(json_object_get(svc, "status")));
    json_t *tg = json_object_get(j, "targets");
    if (tg)
        printf("  targets    %lld healthy, %lld unhealthy, %lld other\n",
               (long long)json_integer_value(json_object_get(tg, "healthy")),
               (long long)json_integer_value(json_object_get(tg, "unhealthy")),
               (long long)json_integer_value(json_object_get(tg, "other")));
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "errors"), i, x)
        printf("  %-10s unavailable: %s\n", json_string_value(json_object_get(x, "check")),
               json_string_value(json_object_get(x, "error")));
    json_t *outs = json_object_get(j, "outputs");
    if (json_object_size(outs)) {
        printf("  outputs\n");
        dr_cmd_print_outputs(stdout, outs, "    ");
    }
    json_t *res = json_object_get(j, "resources");
    if (json_array_size(res)) {
        printf("  resources\n");
        json_array_foreach(res, i, x)
        {
            const char *pid = json_string_value(json_object_get(x, "physical_id"));
            printf("    %-8s %s %s %s\n", json_string_value(json_object_get(x, "status")),
                   json_string_value(json_object_get(x, "logical_id")),
                   json_string_value(json_object_get(x, "type")), pid ? pid : "(no id yet)");
        }
    }
}

int cmd_status(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    static const struct option longopts[] = {{"config-dir", required_argument, NULL, 'c'},
                                             {"store", required_argument, NULL, 's'},
                                             {NULL, 0, NULL, 0}};
    const dr_command *self = dr_command_find("status");
    const char *dir_opt = NULL, *store_opt = NULL;
    int c;
    while ((c = dr_getopt(self, argc, argv, ":", longopts, err)) != -1) {
        if (c == -2)
            return -1;
        if (c == 'c')
            dir_opt = optarg;
        else if (c == 's')
            store_opt = optarg;
    }
    int nargs = argc - optind;
    if (nargs > 1) {
        dr_err_set(err, DR_E_USAGE, "status takes at most one region");
        return dr_err_hint(err, "usage: %s", self->usage);
    }
    const char *region = nargs == 1 ? argv[optind] : NULL;
    if (region && dr_check_region(region, "the command line", err) != 0)
        return -1;
    const char *dir = dr_cmd_config_dir(dir_opt);
    dr_profile_set set = {0};
    if (dr_cmd_load_profiles(dir, &set, err) != 0)
        return -1;
    const dr_region_profile *only = NULL;
    if (region && dr_cmd_region_profile(&set, dir, region, &only, err) != 0) {
        dr_profiles_free(&set);
        return -1;
    }
    status_run s = {.ctx = ctx, .store = dr_cmd_store_dir(store_opt)};
    dr_err_clear(&s.first);
    const char *stack = set.primary ? set.primary->stack : set.n ? set.regions[0].stack : "";
    json_t *scopes = json_array();
    for (size_t i = 0; i < set.n; i++) {
        const dr_region_profile *p = &set.regions[i];
        if (only && p != only)
            continue;
        json_array_append_new(scopes, scope_status(&s, p->stack, p->region, p->region, p));
    }
    if (!only && dr_state_exists(s.store, stack, DR_STATE_GLOBAL))
        json_array_append_new(scopes, scope_status(&s, stack, DR_STATE_GLOBAL, "us-east-1", NULL));

    if (ctx->output == DR_OUTPUT_JSON) {
        json_t *outj =
            json_pack("{s:s, s:s, s:o}", "stack", stack, "store", s.store, "regions", scopes);
        char *txt = json_dumps(outj, JSON_INDENT(2));
        puts(txt);
        free(txt);
        json_decref(outj);
    } else {
        printf("stack %s (store %s)\n", stack, s.store);
        size_t i;
        json_t *x;
        json_array_foreach(scopes, i, x) print_scope(x);
        json_decref(scopes);
    }
    dr_profiles_free(&set);
    if (s.nfail) {
        *err = s.first;
        dr_err_wrap(err, "status: %d check%s unavailable; first", s.nfail, s.nfail == 1 ? "" : "s");
        return -1;
    }
    return 0;
}
