/*
 * test_stackcmd.c - what plan and deploy print: plan lines and summary,
 * the plan as JSON, and the progress lines of a run without a terminal.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/stackcmd.h"
#include "util/mem.h"

static dr_plan_item mk(const char *id, const char *type, dr_action a, const char *reason,
                       const char *phys)
{
    dr_plan_item it;
    memset(&it, 0, sizeof(it));
    it.logical_id = dr_xstrdup(id);
    it.type = dr_xstrdup(type);
    it.action = a;
    it.reason = reason ? dr_xstrdup(reason) : NULL;
    it.physical_id = phys ? dr_xstrdup(phys) : NULL;
    return it;
}

static void sample(dr_plan *p)
{
    memset(p, 0, sizeof(*p));
    p->items = dr_xcalloc(6, sizeof(dr_plan_item));
    p->items[p->n++] = mk("Vpc", "AWS::EC2::VPC", DR_ACT_NOOP, NULL, "vpc-1");
    p->items[p->n++] = mk("PublicSubnet1", "AWS::EC2::Subnet", DR_ACT_CREATE, "not in state", NULL);
    dr_plan_item up = mk("Service", "AWS::ECS::Service", DR_ACT_UPDATE, NULL, "svc-1");
    up.changed = dr_xcalloc(2, sizeof(char *));
    up.changed[0] = dr_xstrdup("DesiredCount");
    up.changed[1] = dr_xstrdup("TaskDefinition");
    up.nchanged = 2;
    p->items[p->n++] = up;
    dr_plan_item rep = mk("Db", "AWS::RDS::DBInstance", DR_ACT_REPLACE,
                          "Engine: cannot change in place", "app-db");
    rep.changed = dr_xcalloc(1, sizeof(char *));
    rep.changed[0] = dr_xstrdup("Engine");
    rep.nchanged = 1;
    p->items[p->n++] = rep;
    p->items[p->n++] =
        mk("Old", "AWS::Logs::LogGroup", DR_ACT_DELETE, "not in the model", "/app/old");
    dr_plan_item ad = mk("Cluster", "AWS::ECS::Cluster", DR_ACT_NOOP, "adopted", "app");
    ad.adopted = 1;
    p->items[p->n++] = ad;
    p->ncreate = p->nupdate = p->nreplace = p->ndelete = 1;
    p->nnoop = 2;
    p->nadopted = 1;
}

static char *render(const dr_plan *p, int adopted)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    dr_cmd_print_plan(f, p, adopted);
    fclose(f);
    return buf;
}

Test(stackcmd, plan_text)
{
    dr_plan p;
    sample(&p);
    char *out = render(&p, 1);
    cr_assert_str_eq(out,
                     "+   create  PublicSubnet1 AWS::EC2::Subnet\n"
                     "~   update  Service AWS::ECS::Service svc-1 (DesiredCount, TaskDefinition)\n"
                     "-/+ replace Db AWS::RDS::DBInstance app-db (Engine: cannot change in place)\n"
                     "-   delete  Old AWS::Logs::LogGroup /app/old (not in the model)\n"
                     "=   adopt   Cluster AWS::ECS::Cluster app (adopted)\n"
                     "Plan: 1 to create, 1 to update, 1 to replace, 1 to delete.\n",
                     "got:\n%s", out);
    free(out);
    dr_plan_free(&p);
}

Test(stackcmd, no_changes)
{
    dr_plan p;
    memset(&p, 0, sizeof(p));
    char *out = render(&p, 1);
    cr_assert_str_eq(out, "No changes.\n");
    free(out);
}

Test(stackcmd, plan_json)
{
    dr_plan p;
    sample(&p);
    json_t *j = dr_cmd_plan_json(&p);
    cr_assert(json_is_true(json_object_get(j, "changes")));
    json_t *sum = json_object_get(j, "summary");
    cr_assert_eq(json_integer_value(json_object_get(sum, "update")), 1);
    cr_assert_eq(json_integer_value(json_object_get(sum, "adopted")), 1);
    json_t *items = json_object_get(j, "items");
    cr_assert_eq(json_array_size(items), 6);
    json_t *svc = json_array_get(items, 2);
    cr_assert_str_eq(json_string_value(json_object_get(svc, "action")), "update");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(svc, "changed"), 0)),
                     "DesiredCount");
    cr_assert(json_is_null(json_object_get(json_array_get(items, 1), "physical_id")));
    json_decref(j);
    dr_plan_free(&p);
}

Test(stackcmd, progress_lines_without_a_terminal)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    dr_ctx ctx;
    dr_ctx_init(&ctx);
    ctx.log.out = f;
    ctx.log.progress = 0;
    dr_ui ui;
    dr_ui_start(&ui, &ctx);
    dr_plan_item it = mk("Vpc", "AWS::EC2::VPC", DR_ACT_CREATE, NULL, NULL);
    dr_progress_event ev = {&it, "start", "creating", NULL, 0, NULL};
    dr_ui_event(&ui, &ev);
    dr_progress_event done = {&it, "done", "created", "vpc-123", 0.42, NULL};
    dr_ui_event(&ui, &done);
    dr_err e;
    dr_err_set(&e, DR_E_AWS, "boom");
    dr_progress_event failed = {&it, "failed", "creating", NULL, 1.0, &e};
    dr_ui_event(&ui, &failed);
    dr_ui_stop(&ui);
    fclose(f);
    cr_assert_str_eq(buf,
                     "created Vpc (AWS::EC2::VPC) vpc-123 in 0.4s\n"
                     "FAILED creating Vpc (AWS::EC2::VPC) after 1.0s\n",
                     "got:\n%s", buf);
    free(buf);
    free(it.logical_id);
    free(it.type);
    dr_ctx_free(&ctx);
}

Test(stackcmd, progress_quiet_prints_nothing)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    dr_ctx ctx;
    dr_ctx_init(&ctx);
    ctx.log.out = f;
    ctx.log.level = DR_LOG_ERROR;
    dr_ui ui;
    dr_ui_start(&ui, &ctx);
    dr_plan_item it = mk("Vpc", "AWS::EC2::VPC", DR_ACT_CREATE, NULL, NULL);
    dr_progress_event done = {&it, "done", "created", "vpc-123", 0.42, NULL};
    dr_ui_event(&ui, &done);
    dr_ui_stop(&ui);
    fclose(f);
    cr_assert_str_eq(buf, "");
    free(buf);
    free(it.logical_id);
    free(it.type);
    dr_ctx_free(&ctx);
}

Test(stackcmd, live_progress_draws_and_erases_the_block)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    dr_ctx ctx;
    dr_ctx_init(&ctx);
    ctx.log.out = f;
    ctx.log.level = DR_LOG_NOTICE;
    ctx.log.progress = 1;
    dr_ui ui;
    dr_ui_start(&ui, &ctx);
    dr_plan_item a = mk("Vpc", "AWS::EC2::VPC", DR_ACT_CREATE, NULL, NULL);
    dr_plan_item b = mk("Key", "AWS::KMS::Key", DR_ACT_CREATE, NULL, NULL);
    dr_progress_event sa = {&a, "start", "creating", NULL, 0, NULL};
    dr_progress_event sb = {&b, "start", "creating", NULL, 0, NULL};
    dr_progress_event da = {&a, "done", "created", "vpc-1", 0.1, NULL};
    dr_ui_event(&ui, &sa);
    dr_ui_event(&ui, &sb);
    dr_ui_event(&ui, &da);
    dr_ui_stop(&ui);
    fclose(f);
    cr_assert(strstr(buf, "  creating Vpc (AWS::EC2::VPC) 0s\n"), "%s", buf);
    cr_assert(strstr(buf, "  creating Key (AWS::KMS::Key) 0s\n"), "%s", buf);
    cr_assert(strstr(buf, "\033[2A\033[J" /* the two in-flight lines erased */
                          "created Vpc (AWS::EC2::VPC) vpc-1 in 0.1s\n"
                          "  creating Key (AWS::KMS::Key) 0s\n"),
              "%s", buf);
    const char *tail = buf + strlen(buf) - strlen("\033[1A\033[J");
    cr_assert_str_eq(tail, "\033[1A\033[J", "the last in-flight line is erased at the end");
    free(buf);
    free(a.logical_id);
    free(a.type);
    free(b.logical_id);
    free(b.type);
    dr_ctx_free(&ctx);
}
