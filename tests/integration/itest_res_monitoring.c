/*
 * itest_res_monitoring.c - the monitoring family's handlers (log group,
 * alarm, dashboard) against moto, each result checked independently with
 * the AWS CLI.
 *
 * Per type: create with the properties the model produces, the AWS CLI
 * sees retention / thresholds, metric and dimensions / the dashboard body
 * and drctl's tags where the type has tags, find() returns the same name (a
 * lost state file), read() works, an in-place update shows in the AWS CLI,
 * a second create makes no duplicate, remove() leaves nothing, and read()
 * then says the resource is gone.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_env.h"
#include "stack/handler.h"
#include "util/mem.h"

static dr_log quiet_log;
static dr_aws *aws;
static char stack[64];

static void setup(void)
{
    sandbox_load_env();
    dr_log_init(&quiet_log);
    quiet_log.progress = 0;
    dr_aws_opts o = {0};
    o.log = &quiet_log;
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_aws_new(&o, &aws, &err) == 0, "dr_aws_new: %s", err.msg);
    snprintf(stack, sizeof(stack), "itmon-%s", test_suffix());
}

static void teardown(void)
{
    dr_aws_free(aws);
    aws = NULL;
}

TestSuite(monitoring, .init = setup, .fini = teardown, .timeout = 300);

static const dr_handler *handler(const char *type)
{
    const dr_handler *h = dr_handler_find(type);
    cr_assert_not_null(h, "no handler for %s", type);
    return h;
}

static dr_apply_ctx ctx_in(const char *region)
{
    dr_apply_ctx c;
    memset(&c, 0, sizeof(c));
    c.aws = aws;
    c.region = region;
    c.stack = stack;
    c.log = &quiet_log;
    c.wait_initial_ms = 5;
    c.wait_max_ms = 50;
    c.wait_timeout_s = 30;
    c.scope = region;
    return c;
}

static json_t *model_tags(const char *logical_id)
{
    char name[160];
    snprintf(name, sizeof(name), "%s-%s", stack, logical_id);
    return json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "Key", "drctl:stack", "Value", stack,
                     "Key", "drctl:logical-id", "Value", logical_id, "Key", "Name", "Value", name);
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const char *cli_tag(json_t *tags, const char *key)
{
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        if (jstr(t, "Key") && strcmp(jstr(t, "Key"), key) == 0)
            return jstr(t, "Value");
    }
    return NULL;
}

/* ---- log group ------------------------------------------------------------ */

/* The log group of that name as the AWS CLI lists it (new reference), or NULL. */
static json_t *cli_log_group(const char *name)
{
    json_t *l = aws_cli("us-east-1", "logs describe-log-groups --log-group-name-prefix '%s'", name);
    json_t *out = NULL;
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(l, "logGroups"), i, g)
    {
        if (jstr(g, "logGroupName") && strcmp(jstr(g, "logGroupName"), name) == 0)
            out = json_incref(g);
    }
    json_decref(l);
    return out;
}

Test(monitoring, log_group_lifecycle)
{
    const dr_handler *h = handler("AWS::Logs::LogGroup");
    dr_apply_ctx c = ctx_in("us-east-1");
    dr_err err;
    dr_err_clear(&err);
    char name[160];
    snprintf(name, sizeof(name), "/drctl/%s/litellm", stack);
    json_t *props = json_pack("{s:s, s:i, s:o}", "LogGroupName", name, "RetentionInDays", 30,
                              "Tags", model_tags("ServiceLogGroup"));
    json_t *tags = model_tags("ServiceLogGroup");
    dr_live live = {0};
    cr_assert(h->create(&c, "ServiceLogGroup", props, tags, "tok", &live, &err) == 0, "create: %s",
              err.msg);
    cr_expect_str_eq(live.physical_id, name);
    const char *arn = jstr(live.attributes, "Arn");
    cr_assert(arn, "no Arn attribute");
    size_t n = strlen(arn);
    cr_expect(n > 2 && strcmp(arn + n - 2, ":*") == 0 && strstr(arn, name),
              "Arn %s is not CloudFormation's log-group ARN", arn);
    char *arn_copy = dr_xstrdup(arn);
    dr_live_free(&live);

    json_t *g = cli_log_group(name);
    cr_assert(g, "log group not listed");
    cr_expect_eq(json_integer_value(json_object_get(g, "retentionInDays")), 30);
    cr_expect_str_eq(jstr(g, "arn"), arn_copy);
    json_decref(g);
    char *bare = dr_xstrndup(arn_copy, strlen(arn_copy) - 2);
    json_t *t = aws_cli("us-east-1", "logs list-tags-for-resource --resource-arn '%s'", bare);
    json_t *tm = json_object_get(t, "tags");
    cr_expect_str_eq(jstr(tm, "drctl:stack"), stack);
    cr_expect_str_eq(jstr(tm, "drctl:logical-id"), "ServiceLogGroup");
    json_decref(t);

    /* A second create: the name is taken, the group is taken over, still one. */
    cr_assert(h->create(&c, "ServiceLogGroup", props, tags, "tok", &live, &err) == 0,
              "second create: %s", err.msg);
    dr_live_free(&live);
    json_t *l = aws_cli("us-east-1", "logs describe-log-groups --log-group-name-prefix '%s'", name);
    cr_expect_eq(json_array_size(json_object_get(l, "logGroups")), 1);
    json_decref(l);

    int found = 0, exists = 0;
    cr_assert(h->find(&c, "ServiceLogGroup", props, &found, &live, &err) == 0, "find: %s", err.msg);
    cr_assert(found);
    cr_expect_str_eq(live.physical_id, name);
    cr_expect(json_equal(json_object_get(live.properties, "RetentionInDays"),
                         json_object_get(props, "RetentionInDays")));
    dr_live_free(&live);
    cr_assert(h->read(&c, name, props, &exists, &live, &err) == 0, "read: %s", err.msg);
    cr_expect(exists);
    cr_expect_str_eq(jstr(live.attributes, "Arn"), arn_copy);
    dr_live_free(&live);

    /* Update in place: retention and a tag. */
    json_t *np = json_deep_copy(props);
    json_object_set_new(np, "RetentionInDays", json_integer(7));
    json_array_append_new(json_object_get(np, "Tags"),
                          json_pack("{s:s, s:s}", "Key", "team", "Value", "platform"));
    cr_assert(h->update(&c, name, props, np, &live, &err) == 0, "update: %s", err.msg);
    dr_live_free(&live);
    g = cli_log_group(name);
    cr_expect_eq(json_integer_value(json_object_get(g, "retentionInDays")), 7);
    json_decref(g);
    t = aws_cli("us-east-1", "logs list-tags-for-resource --resource-arn '%s'", bare);
    cr_expect_str_eq(jstr(json_object_get(t, "tags"), "team"), "platform");
    json_decref(t);
    cr_assert(h->update(&c, name, np, props, &live, &err) == 0, "update back: %s", err.msg);
    dr_live_free(&live);
    t = aws_cli("us-east-1", "logs list-tags-for-resource --resource-arn '%s'", bare);
    cr_expect_null(json_object_get(json_object_get(t, "tags"), "team"));
    cr_expect_str_eq(jstr(json_object_get(t, "tags"), "drctl:stack"), stack);
    json_decref(t);

    cr_assert(h->remove(&c, name, props, &err) == 0, "remove: %s", err.msg);
    g = cli_log_group(name);
    cr_expect_null(g, "log group still listed");
    json_decref(g);
    cr_assert(h->read(&c, name, props, &exists, &live, &err) == 0, "read after remove: %s",
              err.msg);
    cr_expect_not(exists);
    dr_live_free(&live);
    cr_assert(h->find(&c, "ServiceLogGroup", props, &found, &live, &err) == 0);
    cr_expect_not(found);
    dr_live_free(&live);
    cr_assert(h->remove(&c, name, props, &err) == 0, "second remove: %s", err.msg);

    json_decref(np);
    json_decref(props);
    json_decref(tags);
    free(bare);
    free(arn_copy);
}

/* ---- alarm ---------------------------------------------------------------- */

static json_t *cli_alarm(const char *name)
{
    json_t *l = aws_cli("us-east-1", "cloudwatch describe-alarms --alarm-names '%s'", name);
    json_t *a = json_incref(json_array_get(json_object_get(l, "MetricAlarms"), 0));
    json_decref(l);
    return a;
}

Test(monitoring, alarm_lifecycle)
{
    const dr_handler *h = handler("AWS::CloudWatch::Alarm");
    dr_apply_ctx c = ctx_in("us-east-1");
    dr_err err;
    dr_err_clear(&err);
    char name[160], cluster[96], service[96];
    snprintf(name, sizeof(name), "%s-service-cpu", stack);
    snprintf(cluster, sizeof(cluster), "%s-cluster", stack);
    snprintf(service, sizeof(service), "%s-litellm", stack);
    /* The model's ServiceCpuAlarm, references resolved. */
    json_t *props = json_pack(
        "{s:s, s:s, s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}], s:s, s:i, s:i, s:i, s:f, s:s, s:s, "
        "s:o}",
        "AlarmName", name, "AlarmDescription", "LiteLLM tasks: CPU above 90 % for 5 minutes",
        "Namespace", "AWS/ECS", "MetricName", "CPUUtilization", "Dimensions", "Name", "ClusterName",
        "Value", cluster, "Name", "ServiceName", "Value", service, "Statistic", "Average", "Period",
        60, "EvaluationPeriods", 5, "DatapointsToAlarm", 5, "Threshold", 90.0, "ComparisonOperator",
        "GreaterThanThreshold", "TreatMissingData", "notBreaching", "Tags",
        model_tags("ServiceCpuAlarm"));
    json_t *tags = model_tags("ServiceCpuAlarm");
    dr_live live = {0};
    cr_assert(h->create(&c, "ServiceCpuAlarm", props, tags, "tok", &live, &err) == 0, "create: %s",
              err.msg);
    cr_expect_str_eq(live.physical_id, name);
    char *arn = dr_xstrdup(jstr(live.attributes, "Arn"));
    cr_expect(strstr(arn, ":alarm:") != NULL, "Arn %s", arn);
    dr_live_free(&live);

    json_t *a = cli_alarm(name);
    cr_assert(a, "alarm not listed");
    cr_expect_str_eq(jstr(a, "Namespace"), "AWS/ECS");
    cr_expect_str_eq(jstr(a, "MetricName"), "CPUUtilization");
    cr_expect_str_eq(jstr(a, "Statistic"), "Average");
    cr_expect_eq(json_integer_value(json_object_get(a, "Period")), 60);
    cr_expect_eq(json_integer_value(json_object_get(a, "EvaluationPeriods")), 5);
    cr_expect_eq(json_integer_value(json_object_get(a, "DatapointsToAlarm")), 5);
    cr_expect(json_number_value(json_object_get(a, "Threshold")) == 90.0);
    cr_expect_str_eq(jstr(a, "ComparisonOperator"), "GreaterThanThreshold");
    cr_expect_str_eq(jstr(a, "TreatMissingData"), "notBreaching");
    cr_expect(json_equal(json_object_get(a, "Dimensions"), json_object_get(props, "Dimensions")),
              "dimensions differ");
    json_decref(a);
    json_t *t = aws_cli("us-east-1", "cloudwatch list-tags-for-resource --resource-arn '%s'", arn);
    const char *ts = cli_tag(json_object_get(t, "Tags"), "drctl:stack");
    const char *tl = cli_tag(json_object_get(t, "Tags"), "drctl:logical-id");
    cr_expect(ts && strcmp(ts, stack) == 0, "drctl:stack tag");
    cr_expect(tl && strcmp(tl, "ServiceCpuAlarm") == 0, "drctl:logical-id tag");
    json_decref(t);

    /* A second create overwrites; still one alarm. */
    cr_assert(h->create(&c, "ServiceCpuAlarm", props, tags, "tok", &live, &err) == 0,
              "second create: %s", err.msg);
    dr_live_free(&live);
    json_t *l = aws_cli("us-east-1", "cloudwatch describe-alarms --alarm-name-prefix '%s'", stack);
    cr_expect_eq(json_array_size(json_object_get(l, "MetricAlarms")), 1);
    json_decref(l);

    int found = 0, exists = 0;
    cr_assert(h->find(&c, "ServiceCpuAlarm", props, &found, &live, &err) == 0, "find: %s", err.msg);
    cr_assert(found);
    cr_expect_str_eq(live.physical_id, name);
    /* Adopted: what it has, as the model writes it. */
    json_t *want = json_deep_copy(props);
    json_object_del(want, "Tags");
    cr_expect(json_equal(live.properties, want), "adopted properties differ from the model's");
    json_decref(want);
    dr_live_free(&live);
    cr_assert(h->read(&c, name, props, &exists, &live, &err) == 0, "read: %s", err.msg);
    cr_expect(exists);
    cr_expect_str_eq(jstr(live.attributes, "Arn"), arn);
    dr_live_free(&live);

    /* Update in place: threshold, periods, a tag. */
    json_t *np = json_deep_copy(props);
    json_object_set_new(np, "Threshold", json_real(80.0));
    json_object_set_new(np, "EvaluationPeriods", json_integer(3));
    json_object_set_new(np, "DatapointsToAlarm", json_integer(3));
    json_array_append_new(json_object_get(np, "Tags"),
                          json_pack("{s:s, s:s}", "Key", "team", "Value", "platform"));
    cr_assert(h->update(&c, name, props, np, &live, &err) == 0, "update: %s", err.msg);
    dr_live_free(&live);
    a = cli_alarm(name);
    cr_expect(json_number_value(json_object_get(a, "Threshold")) == 80.0);
    cr_expect_eq(json_integer_value(json_object_get(a, "EvaluationPeriods")), 3);
    cr_expect(json_equal(json_object_get(a, "Dimensions"), json_object_get(props, "Dimensions")),
              "dimensions lost in the update");
    json_decref(a);
    t = aws_cli("us-east-1", "cloudwatch list-tags-for-resource --resource-arn '%s'", arn);
    const char *team = cli_tag(json_object_get(t, "Tags"), "team");
    cr_expect(team && strcmp(team, "platform") == 0, "team tag missing");
    json_decref(t);

    cr_assert(h->remove(&c, name, props, &err) == 0, "remove: %s", err.msg);
    l = aws_cli("us-east-1", "cloudwatch describe-alarms --alarm-name-prefix '%s'", stack);
    cr_expect_eq(json_array_size(json_object_get(l, "MetricAlarms")), 0, "alarm still listed");
    json_decref(l);
    cr_assert(h->read(&c, name, props, &exists, &live, &err) == 0, "read after remove: %s",
              err.msg);
    cr_expect_not(exists);
    dr_live_free(&live);
    cr_assert(h->find(&c, "ServiceCpuAlarm", props, &found, &live, &err) == 0);
    cr_expect_not(found);
    dr_live_free(&live);
    cr_assert(h->remove(&c, name, props, &err) == 0, "second remove: %s", err.msg);

    json_decref(np);
    json_decref(props);
    json_decref(tags);
    free(arn);
}

/* ---- dashboard ------------------------------------------------------------ */

static char *dashboard_body(const char *cluster, const char *title)
{
    json_t *b = json_pack(
        "{s:[{s:s, s:i, s:i, s:i, s:i, s:{s:s, s:[[s, s, s, s]], s:s, s:s, s:i}}]}", "widgets",
        "type", "metric", "x", 0, "y", 0, "width", 12, "height", 6, "properties", "title", title,
        "metrics", "AWS/ECS", "CPUUtilization", "ClusterName", cluster, "region", "us-east-1",
        "view", "timeSeries", "period", 60);
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return s;
}

static int dashboards_listed(const char *prefix)
{
    json_t *l =
        aws_cli("us-east-1", "cloudwatch list-dashboards --dashboard-name-prefix '%s'", prefix);
    int n = (int)json_array_size(json_object_get(l, "DashboardEntries"));
    json_decref(l);
    return n;
}

Test(monitoring, dashboard_lifecycle)
{
    const dr_handler *h = handler("AWS::CloudWatch::Dashboard");
    dr_apply_ctx c = ctx_in("us-east-1");
    dr_err err;
    dr_err_clear(&err);
    char name[160], cluster[96];
    snprintf(name, sizeof(name), "%s-us-east-1", stack);
    snprintf(cluster, sizeof(cluster), "%s-cluster", stack);
    char *body = dashboard_body(cluster, "LiteLLM tasks: CPU and memory %");
    json_t *props = json_pack("{s:s, s:s}", "DashboardName", name, "DashboardBody", body);
    json_t *tags = model_tags("Dashboard");
    dr_live live = {0};
    cr_assert(h->create(&c, "Dashboard", props, tags, "tok", &live, &err) == 0, "create: %s",
              err.msg);
    cr_expect_str_eq(live.physical_id, name);
    dr_live_free(&live);

    json_t *d = aws_cli("us-east-1", "cloudwatch get-dashboard --dashboard-name '%s'", name);
    json_t *got = json_loads(jstr(d, "DashboardBody"), 0, NULL);
    json_t *sent = json_loads(body, 0, NULL);
    cr_assert(got, "dashboard body is not JSON");
    cr_expect(json_equal(got, sent), "dashboard body differs");
    json_decref(got);
    json_decref(sent);
    json_decref(d);

    /* A second create overwrites; still one dashboard. */
    cr_assert(h->create(&c, "Dashboard", props, tags, "tok", &live, &err) == 0, "second create: %s",
              err.msg);
    dr_live_free(&live);
    cr_expect_eq(dashboards_listed(stack), 1);

    int found = 0, exists = 0;
    cr_assert(h->find(&c, "Dashboard", props, &found, &live, &err) == 0, "find: %s", err.msg);
    cr_assert(found);
    cr_expect_str_eq(live.physical_id, name);
    cr_expect(json_equal(live.properties, props), "adopted properties differ from the model's");
    dr_live_free(&live);
    cr_assert(h->read(&c, name, props, &exists, &live, &err) == 0, "read: %s", err.msg);
    cr_expect(exists);
    dr_live_free(&live);

    /* Update in place: the body. */
    char *body2 = dashboard_body(cluster, "LiteLLM tasks: CPU");
    json_t *np = json_pack("{s:s, s:s}", "DashboardName", name, "DashboardBody", body2);
    cr_assert(h->update(&c, name, props, np, &live, &err) == 0, "update: %s", err.msg);
    dr_live_free(&live);
    d = aws_cli("us-east-1", "cloudwatch get-dashboard --dashboard-name '%s'", name);
    cr_expect(strstr(jstr(d, "DashboardBody"), "\"LiteLLM tasks: CPU\"") != NULL,
              "new body not visible: %s", jstr(d, "DashboardBody"));
    json_decref(d);

    cr_assert(h->remove(&c, name, props, &err) == 0, "remove: %s", err.msg);
    cr_expect_eq(dashboards_listed(stack), 0, "dashboard still listed");
    cr_assert(h->read(&c, name, props, &exists, &live, &err) == 0, "read after remove: %s",
              err.msg);
    cr_expect_not(exists);
    dr_live_free(&live);
    cr_assert(h->find(&c, "Dashboard", props, &found, &live, &err) == 0);
    cr_expect_not(found);
    dr_live_free(&live);
    cr_assert(h->remove(&c, name, props, &err) == 0, "second remove: %s", err.msg);

    json_decref(np);
    json_decref(props);
    json_decref(tags);
    free(body);
    free(body2);
}
