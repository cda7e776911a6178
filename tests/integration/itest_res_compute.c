/*
 * itest_res_compute.c - the compute family's handlers against the sandbox:
 * load balancer, target group, listeners, ECS cluster, task definition and
 * service, scalable target and scaling policies.
 *
 * Every type goes through its life: create (+ wait_ready) with the
 * properties the model writes (references replaced by real ids made first),
 * checked with the AWS CLI (not drctl) for the properties that matter and
 * for the drctl:stack / drctl:logical-id tags; find by tags (or name) after
 * a lost state returns the same physical id; read; an update in place
 * visible in the AWS CLI; a second create with the same token makes no
 * duplicate; remove (+ wait_deleted) leaves nothing in the CLI's listing;
 * read then says it is gone.
 *
 * The handlers are taken from the built-in registry (dr_handler_find), so
 * the registration is tested too. Names carry test_suffix() (unique per
 * test process).
 */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/client.h"
#include "sandbox_env.h"
#include "stack/handler.h"
#include "util/err.h"
#include "util/log.h"

#define REGION "us-east-1"
#define TOKEN "0123456789abcdef0123456789abcdef"

static dr_log quiet_log;
static dr_aws *aws;
static dr_apply_ctx ctx;
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
    snprintf(stack, sizeof(stack), "itc%s", test_suffix());
    memset(&ctx, 0, sizeof(ctx));
    ctx.aws = aws;
    ctx.region = REGION;
    ctx.stack = stack;
    ctx.log = &quiet_log;
    ctx.wait_initial_ms = 5;
    ctx.wait_max_ms = 50;
    ctx.wait_timeout_s = 30;
}

static void teardown(void)
{
    dr_aws_free(aws);
    aws = NULL;
}

TestSuite(res_compute, .init = setup, .fini = teardown, .timeout = 300);

/* ---- helpers ------------------------------------------------------------ */

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    cr_assert(vasprintf(&s, f, ap) >= 0);
    va_end(ap);
    return s;
}

/* "a.b[0].c" into a JSON document. */
static json_t *jget(json_t *v, const char *path)
{
    char *copy = strdup(path), *save = NULL;
    for (char *seg = strtok_r(copy, ".", &save); seg && v; seg = strtok_r(NULL, ".", &save)) {
        char *br = strchr(seg, '[');
        if (br)
            *br = '\0';
        if (*seg)
            v = json_object_get(v, seg);
        if (br)
            v = json_array_get(v, (size_t)atoi(br + 1));
    }
    free(copy);
    return v;
}

static const char *jstr(json_t *v, const char *path)
{
    return json_string_value(jget(v, path));
}

static long long jint(json_t *v, const char *path)
{
    json_t *x = jget(v, path);
    cr_assert(json_is_integer(x), "%s is not an integer", path);
    return json_integer_value(x);
}

/* The value of tag `key` in a list of {Key, Value} or {key, value}. */
static const char *tag(json_t *list, const char *key)
{
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        const char *v = json_string_value(json_object_get(t, "Value"));
        if (!k) {
            k = json_string_value(json_object_get(t, "key"));
            v = json_string_value(json_object_get(t, "value"));
        }
        if (k && strcmp(k, key) == 0)
            return v;
    }
    return NULL;
}

static void expect_drctl_tags(json_t *list, const char *logical_id)
{
    cr_expect_str_eq(tag(list, "drctl:stack"), stack, "drctl:stack tag");
    cr_expect_str_eq(tag(list, "drctl:logical-id"), logical_id, "drctl:logical-id tag");
}

/* The tags the engine passes: the model's (drctl:stack, drctl:logical-id,
 * Name). */
static json_t *tags_for(const char *logical_id)
{
    char *name = fmt("%s-%s", stack, logical_id);
    json_t *t =
        json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "Key", "drctl:stack", "Value", stack,
                  "Key", "drctl:logical-id", "Value", logical_id, "Key", "Name", "Value", name);
    free(name);
    return t;
}

static const dr_handler *H(const char *type)
{
    const dr_handler *h = dr_handler_find(type);
    cr_assert(h, "no handler registered for %s", type);
    return h;
}

/* create (+ wait_ready); returns the physical id, *attrs the attributes. */
static char *create_ok(const char *type, const char *logical_id, json_t *props, json_t **attrs)
{
    const dr_handler *h = H(type);
    json_t *tags = tags_for(logical_id);
    if (json_object_get(props, "Tags"))
        json_object_set(props, "Tags", tags);
    dr_live live = {0};
    dr_err err;
    dr_err_clear(&err);
    int rc = h->create(&ctx, logical_id, props, tags, TOKEN, &live, &err);
    cr_assert_eq(rc, 0, "create %s: %s", logical_id, err.msg);
    cr_assert(live.physical_id, "create %s: no physical id", logical_id);
    if (h->wait_ready)
        cr_assert_eq(h->wait_ready(&ctx, live.physical_id, &err), 0, "wait_ready %s: %s",
                     logical_id, err.msg);
    char *phys = strdup(live.physical_id);
    if (attrs)
        *attrs = json_incref(live.attributes);
    dr_live_free(&live);
    json_decref(tags);
    return phys;
}

/* create that must fail; returns the error code. */
static dr_code create_fails(const char *type, const char *logical_id, json_t *props)
{
    const dr_handler *h = H(type);
    json_t *tags = tags_for(logical_id);
    dr_live live = {0};
    dr_err err;
    dr_err_clear(&err);
    int rc = h->create(&ctx, logical_id, props, tags, TOKEN, &live, &err);
    cr_expect_eq(rc, -1, "create %s should fail", logical_id);
    dr_live_free(&live);
    json_decref(tags);
    return err.code;
}

/* find: asserts found, returns the physical id; *props_out the live
 * properties (may be NULL). */
static char *find_ok(const char *type, const char *logical_id, json_t *props, json_t **props_out)
{
    dr_live live = {0};
    dr_err err;
    dr_err_clear(&err);
    int found = -1;
    cr_assert_eq(H(type)->find(&ctx, logical_id, props, &found, &live, &err), 0, "find %s: %s",
                 logical_id, err.msg);
    cr_assert_eq(found, 1, "find %s: not found", logical_id);
    char *phys = strdup(live.physical_id);
    if (props_out)
        *props_out = json_incref(live.properties);
    dr_live_free(&live);
    return phys;
}

/* What find reads back must equal what the model says (an adopted resource
 * that matches shows no change). */
static void expect_live_props_match(json_t *live, json_t *model)
{
    const char *k;
    json_t *v;
    json_object_foreach(live, k, v)
    {
        json_t *m = json_object_get(model, k);
        char *a = json_dumps(v, JSON_ENCODE_ANY | JSON_SORT_KEYS);
        char *b = m ? json_dumps(m, JSON_ENCODE_ANY | JSON_SORT_KEYS) : strdup("(absent)");
        cr_expect(m && json_equal(v, m), "live %s = %s, model %s", k, a, b);
        free(a);
        free(b);
    }
}

static int read_exists(const char *type, const char *phys, json_t *props, json_t **attrs)
{
    dr_live live = {0};
    dr_err err;
    dr_err_clear(&err);
    int exists = -1;
    cr_assert_eq(H(type)->read(&ctx, phys, props, &exists, &live, &err), 0, "read %s: %s", phys,
                 err.msg);
    if (attrs)
        *attrs = json_incref(live.attributes);
    dr_live_free(&live);
    return exists;
}

static void update_ok(const char *type, const char *phys, json_t *old_props, json_t *new_props,
                      json_t **attrs)
{
    dr_live live = {0};
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(H(type)->update(&ctx, phys, old_props, new_props, &live, &err), 0, "update %s: %s",
                 phys, err.msg);
    if (attrs)
        *attrs = json_incref(live.attributes);
    dr_live_free(&live);
}

static void remove_ok(const char *type, const char *phys, json_t *props)
{
    const dr_handler *h = H(type);
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(h->remove(&ctx, phys, props, &err), 0, "remove %s: %s", phys, err.msg);
    if (h->wait_deleted)
        cr_assert_eq(h->wait_deleted(&ctx, phys, &err), 0, "wait_deleted %s: %s", phys, err.msg);
}

/* A VPC with two subnets in two zones and a security group, made with the
 * AWS CLI (the network family's handlers are not under test here). */
typedef struct net {
    char vpc[64], sub1[64], sub2[64], sg[64];
} net;

static void net_setup(net *n)
{
    json_t *j = aws_cli(REGION, "ec2 create-vpc --cidr-block 10.42.0.0/16");
    snprintf(n->vpc, sizeof(n->vpc), "%s", jstr(j, "Vpc.VpcId"));
    json_decref(j);
    j = aws_cli(REGION,
                "ec2 create-subnet --vpc-id %s --cidr-block 10.42.1.0/24 --availability-zone "
                "us-east-1a",
                n->vpc);
    snprintf(n->sub1, sizeof(n->sub1), "%s", jstr(j, "Subnet.SubnetId"));
    json_decref(j);
    j = aws_cli(REGION,
                "ec2 create-subnet --vpc-id %s --cidr-block 10.42.2.0/24 --availability-zone "
                "us-east-1b",
                n->vpc);
    snprintf(n->sub2, sizeof(n->sub2), "%s", jstr(j, "Subnet.SubnetId"));
    json_decref(j);
    j = aws_cli(REGION,
                "ec2 create-security-group --group-name %s-sg --description drctl-itest "
                "--vpc-id %s",
                stack, n->vpc);
    snprintf(n->sg, sizeof(n->sg), "%s", jstr(j, "GroupId"));
    json_decref(j);
}

static json_t *lb_props(const net *n)
{
    char *name = fmt("%s-alb", stack);
    json_t *p = json_pack(
        "{s:s, s:s, s:s, s:s, s:[s, s], s:[s], s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}], s:[]}",
        "Name", name, "Type", "application", "Scheme", "internet-facing", "IpAddressType", "ipv4",
        "Subnets", n->sub1, n->sub2, "SecurityGroups", n->sg, "LoadBalancerAttributes", "Key",
        "idle_timeout.timeout_seconds", "Value", "600", "Key",
        "routing.http.drop_invalid_header_fields.enabled", "Value", "true", "Key",
        "deletion_protection.enabled", "Value", "false", "Tags");
    free(name);
    return p;
}

static json_t *tg_props(const net *n)
{
    char *name = fmt("%s-tg", stack);
    json_t *p = json_pack("{s:s, s:i, s:s, s:s, s:s, s:b, s:s, s:s, s:i, s:i, s:i, s:i, s:{s:s},"
                          " s:[{s:s, s:s}], s:[]}",
                          "Name", name, "Port", 4000, "Protocol", "HTTP", "TargetType", "ip",
                          "VpcId", n->vpc, "HealthCheckEnabled", 1, "HealthCheckPath",
                          "/health/liveliness", "HealthCheckProtocol", "HTTP",
                          "HealthCheckIntervalSeconds", 15, "HealthCheckTimeoutSeconds", 5,
                          "HealthyThresholdCount", 2, "UnhealthyThresholdCount", 3, "Matcher",
                          "HttpCode", "200", "TargetGroupAttributes", "Key",
                          "deregistration_delay.timeout_seconds", "Value", "60", "Tags");
    free(name);
    return p;
}

static int arn_listed(json_t *list, const char *field, const char *arn)
{
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x)
    {
        const char *a = json_string_value(json_object_get(x, field));
        if (a && strcmp(a, arn) == 0)
            return 1;
    }
    return 0;
}

/* ---- AWS::ElasticLoadBalancingV2::LoadBalancer --------------------------- */

#define T_LB "AWS::ElasticLoadBalancingV2::LoadBalancer"
#define T_TG "AWS::ElasticLoadBalancingV2::TargetGroup"
#define T_LISTENER "AWS::ElasticLoadBalancingV2::Listener"
#define T_CLUSTER "AWS::ECS::Cluster"
#define T_TD "AWS::ECS::TaskDefinition"
#define T_SVC "AWS::ECS::Service"
#define T_TARGET "AWS::ApplicationAutoScaling::ScalableTarget"
#define T_POLICY "AWS::ApplicationAutoScaling::ScalingPolicy"

Test(res_compute, load_balancer)
{
    net n;
    net_setup(&n);
    json_t *props = lb_props(&n);
    json_t *attrs = NULL;
    char *arn = create_ok(T_LB, "Alb", props, &attrs);

    json_t *d = aws_cli(REGION, "elbv2 describe-load-balancers --load-balancer-arns %s", arn);
    json_t *lb = jget(d, "LoadBalancers[0]");
    cr_expect_str_eq(jstr(lb, "Scheme"), "internet-facing");
    cr_expect_str_eq(jstr(lb, "Type"), "application");
    cr_expect_str_eq(jstr(lb, "State.Code"), "active", "wait_ready saw it active");
    cr_expect_str_eq(jstr(lb, "VpcId"), n.vpc);
    json_t *azs = jget(lb, "AvailabilityZones");
    cr_expect_eq(json_array_size(azs), 2);
    cr_expect(arn_listed(azs, "SubnetId", n.sub1) && arn_listed(azs, "SubnetId", n.sub2),
              "both subnets");
    cr_expect_str_eq(jstr(lb, "SecurityGroups[0]"), n.sg);
    /* GetAtt attributes under CloudFormation's names. */
    cr_expect_str_eq(jstr(attrs, "DNSName"), jstr(lb, "DNSName"));
    cr_expect_str_eq(jstr(attrs, "CanonicalHostedZoneID"), jstr(lb, "CanonicalHostedZoneId"));
    cr_expect_str_eq(jstr(attrs, "LoadBalancerName"), jstr(lb, "LoadBalancerName"));
    char *full = fmt("app/%s", strstr(arn, ":loadbalancer/app/") + 18);
    cr_expect_str_eq(jstr(attrs, "LoadBalancerFullName"), full);
    free(full);
    json_decref(d);

    d = aws_cli(REGION, "elbv2 describe-load-balancer-attributes --load-balancer-arn %s", arn);
    cr_expect_str_eq(tag(jget(d, "Attributes"), "idle_timeout.timeout_seconds"), "600");
    cr_expect_str_eq(tag(jget(d, "Attributes"), "routing.http.drop_invalid_header_fields.enabled"),
                     "true");
    json_decref(d);
    d = aws_cli(REGION, "elbv2 describe-tags --resource-arns %s", arn);
    expect_drctl_tags(jget(d, "TagDescriptions[0].Tags"), "Alb");
    json_decref(d);

    /* State lost: found by name and tags, and what it reads back matches. */
    json_t *live = NULL;
    char *found = find_ok(T_LB, "Alb", props, &live);
    cr_expect_str_eq(found, arn);
    cr_expect(json_object_get(live, "LoadBalancerAttributes"), "attributes read back");
    expect_live_props_match(live, props);
    json_decref(live);
    free(found);
    cr_expect_eq(read_exists(T_LB, arn, props, NULL), 1);

    /* Update in place: an attribute and the tags. */
    json_t *p2 = json_deep_copy(props);
    json_object_set_new(json_array_get(json_object_get(p2, "LoadBalancerAttributes"), 0), "Value",
                        json_string("300"));
    json_array_append_new(json_object_get(p2, "Tags"),
                          json_pack("{s:s, s:s}", "Key", "team", "Value", "dr"));
    update_ok(T_LB, arn, props, p2, NULL);
    d = aws_cli(REGION, "elbv2 describe-load-balancer-attributes --load-balancer-arn %s", arn);
    cr_expect_str_eq(tag(jget(d, "Attributes"), "idle_timeout.timeout_seconds"), "300");
    json_decref(d);
    d = aws_cli(REGION, "elbv2 describe-tags --resource-arns %s", arn);
    cr_expect_str_eq(tag(jget(d, "TagDescriptions[0].Tags"), "team"), "dr");
    expect_drctl_tags(jget(d, "TagDescriptions[0].Tags"), "Alb");
    json_decref(d);
    /* ... and a tag taken away again. */
    update_ok(T_LB, arn, p2, props, NULL);
    d = aws_cli(REGION, "elbv2 describe-tags --resource-arns %s", arn);
    cr_expect_null(tag(jget(d, "TagDescriptions[0].Tags"), "team"));
    expect_drctl_tags(jget(d, "TagDescriptions[0].Tags"), "Alb");
    json_decref(d);

    /* A second create continues with the same load balancer. */
    char *again = create_ok(T_LB, "Alb", props, NULL);
    cr_expect_str_eq(again, arn);
    free(again);
    d = aws_cli(REGION, "elbv2 describe-load-balancers --names %s-alb", stack);
    cr_expect_eq(json_array_size(jget(d, "LoadBalancers")), 1, "no duplicate");
    json_decref(d);

    /* A name someone else holds is not taken over. */
    d = aws_cli(REGION,
                "elbv2 create-load-balancer --name %s-other --subnets %s %s --security-groups %s",
                stack, n.sub1, n.sub2, n.sg);
    char *other = strdup(jstr(d, "LoadBalancers[0].LoadBalancerArn"));
    json_decref(d);
    json_t *p3 = json_deep_copy(props);
    char *oname = fmt("%s-other", stack);
    json_object_set_new(p3, "Name", json_string(oname));
    cr_expect_eq(create_fails(T_LB, "Alb", p3), DR_E_CONFIG);
    json_decref(aws_cli(REGION, "elbv2 delete-load-balancer --load-balancer-arn %s", other));

    /* Attributes AWS refuses: the create fails and leaves no load balancer
     * behind (a retry would otherwise find it and skip the attributes). */
    json_t *p4 = json_deep_copy(props);
    char *bname = fmt("%s-bad", stack);
    json_object_set_new(p4, "Name", json_string(bname));
    json_array_append_new(json_object_get(p4, "LoadBalancerAttributes"),
                          json_pack("{s:s, s:s}", "Key", "no.such.attribute", "Value", "1"));
    cr_expect_eq(create_fails(T_LB, "BadAlb", p4), DR_E_AWS);
    d = aws_cli(REGION, "elbv2 describe-load-balancers");
    size_t i;
    json_t *x;
    json_array_foreach(jget(d, "LoadBalancers"), i, x)
        cr_expect_str_neq(jstr(x, "LoadBalancerName"), bname, "rolled back");
    json_decref(d);
    free(bname);
    json_decref(p4);

    remove_ok(T_LB, arn, props);
    d = aws_cli(REGION, "elbv2 describe-load-balancers");
    cr_expect_not(arn_listed(jget(d, "LoadBalancers"), "LoadBalancerArn", arn), "deleted");
    json_decref(d);
    cr_expect_eq(read_exists(T_LB, arn, props, NULL), 0);
    remove_ok(T_LB, arn, props); /* already gone: fine */

    free(oname);
    free(other);
    json_decref(p2);
    json_decref(p3);
    json_decref(attrs);
    json_decref(props);
    free(arn);
}

/* ---- AWS::ElasticLoadBalancingV2::TargetGroup ----------------------------- */

Test(res_compute, target_group)
{
    net n;
    net_setup(&n);
    json_t *props = tg_props(&n);
    json_t *attrs = NULL;
    char *arn = create_ok(T_TG, "TargetGroup", props, &attrs);

    json_t *d = aws_cli(REGION, "elbv2 describe-target-groups --target-group-arns %s", arn);
    json_t *tg = jget(d, "TargetGroups[0]");
    cr_expect_str_eq(jstr(tg, "HealthCheckPath"), "/health/liveliness");
    cr_expect_eq(jint(tg, "Port"), 4000);
    cr_expect_str_eq(jstr(tg, "Protocol"), "HTTP");
    cr_expect_str_eq(jstr(tg, "TargetType"), "ip");
    cr_expect_str_eq(jstr(tg, "VpcId"), n.vpc);
    cr_expect_str_eq(jstr(tg, "Matcher.HttpCode"), "200");
    cr_expect_eq(jint(tg, "HealthCheckIntervalSeconds"), 15);
    cr_expect_eq(jint(tg, "UnhealthyThresholdCount"), 3);
    cr_expect_str_eq(jstr(attrs, "TargetGroupName"), jstr(tg, "TargetGroupName"));
    char *full = fmt("targetgroup/%s", strstr(arn, ":targetgroup/") + 13);
    cr_expect_str_eq(jstr(attrs, "TargetGroupFullName"), full);
    free(full);
    json_decref(d);
    d = aws_cli(REGION, "elbv2 describe-target-group-attributes --target-group-arn %s", arn);
    cr_expect_str_eq(tag(jget(d, "Attributes"), "deregistration_delay.timeout_seconds"), "60");
    json_decref(d);
    d = aws_cli(REGION, "elbv2 describe-tags --resource-arns %s", arn);
    expect_drctl_tags(jget(d, "TagDescriptions[0].Tags"), "TargetGroup");
    json_decref(d);

    json_t *live = NULL;
    char *found = find_ok(T_TG, "TargetGroup", props, &live);
    cr_expect_str_eq(found, arn);
    cr_expect(json_object_get(live, "HealthCheckPath"));
    expect_live_props_match(live, props);
    json_decref(live);
    free(found);
    cr_expect_eq(read_exists(T_TG, arn, props, NULL), 1);

    json_t *p2 = json_deep_copy(props);
    json_object_set_new(p2, "HealthCheckIntervalSeconds", json_integer(30));
    json_object_set_new(json_array_get(json_object_get(p2, "TargetGroupAttributes"), 0), "Value",
                        json_string("30"));
    update_ok(T_TG, arn, props, p2, NULL);
    d = aws_cli(REGION, "elbv2 describe-target-groups --target-group-arns %s", arn);
    cr_expect_eq(jint(d, "TargetGroups[0].HealthCheckIntervalSeconds"), 30);
    cr_expect_str_eq(jstr(d, "TargetGroups[0].HealthCheckPath"), "/health/liveliness");
    json_decref(d);
    d = aws_cli(REGION, "elbv2 describe-target-group-attributes --target-group-arn %s", arn);
    cr_expect_str_eq(tag(jget(d, "Attributes"), "deregistration_delay.timeout_seconds"), "30");
    json_decref(d);

    char *again = create_ok(T_TG, "TargetGroup", props, NULL);
    cr_expect_str_eq(again, arn);
    free(again);
    d = aws_cli(REGION, "elbv2 describe-target-groups --names %s-tg", stack);
    cr_expect_eq(json_array_size(jget(d, "TargetGroups")), 1, "no duplicate");
    json_decref(d);

    remove_ok(T_TG, arn, p2);
    d = aws_cli(REGION, "elbv2 describe-target-groups");
    cr_expect_not(arn_listed(jget(d, "TargetGroups"), "TargetGroupArn", arn), "deleted");
    json_decref(d);
    cr_expect_eq(read_exists(T_TG, arn, props, NULL), 0);
    remove_ok(T_TG, arn, p2);

    json_decref(p2);
    json_decref(attrs);
    json_decref(props);
    free(arn);
}

/* ---- AWS::ElasticLoadBalancingV2::Listener -------------------------------- */

static json_t *find_listener(json_t *listeners, long port)
{
    size_t i;
    json_t *l;
    json_array_foreach(listeners, i,
                       l) if (json_integer_value(json_object_get(l, "Port")) == port) return l;
    return NULL;
}

Test(res_compute, listeners)
{
    net n;
    net_setup(&n);
    json_t *lbp = lb_props(&n), *tgp = tg_props(&n);
    char *lb = create_ok(T_LB, "Alb", lbp, NULL);
    char *tg = create_ok(T_TG, "TargetGroup", tgp, NULL);
    /* The HTTPS listener needs an ACM certificate (the security family's);
     * moto's ELBv2 only checks that it exists, issued or not. */
    json_t *d = aws_cli(REGION, "acm request-certificate --domain-name %s.example.com", stack);
    char *cert = strdup(jstr(d, "CertificateArn"));
    json_decref(d);

    json_t *https = json_pack(
        "{s:s, s:i, s:s, s:s, s:[{s:s}], s:[{s:s, s:s}]}", "LoadBalancerArn", lb, "Port", 443,
        "Protocol", "HTTPS", "SslPolicy", "ELBSecurityPolicy-TLS13-1-2-2021-06", "Certificates",
        "CertificateArn", cert, "DefaultActions", "Type", "forward", "TargetGroupArn", tg);
    json_t *http =
        json_pack("{s:s, s:i, s:s, s:[{s:s, s:{s:s, s:s, s:s}}]}", "LoadBalancerArn", lb, "Port",
                  80, "Protocol", "HTTP", "DefaultActions", "Type", "redirect", "RedirectConfig",
                  "Protocol", "HTTPS", "Port", "443", "StatusCode", "HTTP_301");
    json_t *attrs = NULL;
    char *l443 = create_ok(T_LISTENER, "HttpsListener", https, &attrs);
    cr_expect_str_eq(jstr(attrs, "ListenerArn"), l443);
    char *l80 = create_ok(T_LISTENER, "HttpListener", http, NULL);

    d = aws_cli(REGION, "elbv2 describe-listeners --load-balancer-arn %s", lb);
    json_t *ls = jget(d, "Listeners");
    cr_expect_eq(json_array_size(ls), 2);
    json_t *a = find_listener(ls, 443), *b = find_listener(ls, 80);
    cr_assert(a && b);
    cr_expect_str_eq(jstr(a, "ListenerArn"), l443);
    cr_expect_str_eq(jstr(a, "Protocol"), "HTTPS");
    cr_expect_str_eq(jstr(a, "DefaultActions[0].Type"), "forward");
    cr_expect_str_eq(jstr(a, "DefaultActions[0].TargetGroupArn"), tg);
    cr_expect_str_eq(jstr(a, "Certificates[0].CertificateArn"), cert);
    cr_expect_str_eq(jstr(a, "SslPolicy"), "ELBSecurityPolicy-TLS13-1-2-2021-06");
    cr_expect_str_eq(jstr(b, "ListenerArn"), l80);
    cr_expect_str_eq(jstr(b, "DefaultActions[0].Type"), "redirect");
    cr_expect_str_eq(jstr(b, "DefaultActions[0].RedirectConfig.Protocol"), "HTTPS");
    cr_expect_str_eq(jstr(b, "DefaultActions[0].RedirectConfig.Port"), "443");
    cr_expect_str_eq(jstr(b, "DefaultActions[0].RedirectConfig.StatusCode"), "HTTP_301");
    json_decref(d);
    d = aws_cli(REGION, "elbv2 describe-tags --resource-arns %s", l443);
    expect_drctl_tags(jget(d, "TagDescriptions[0].Tags"), "HttpsListener");
    json_decref(d);
    /* The target group now knows its load balancer. */
    json_t *tga = NULL;
    cr_expect_eq(read_exists(T_TG, tg, tgp, &tga), 1);
    cr_expect_str_eq(jstr(tga, "LoadBalancerArns[0]"), lb);
    json_decref(tga);

    /* Found through the load balancer, and through the stack's load
     * balancers when the reference is not known (destroy, lost state). */
    char *found = find_ok(T_LISTENER, "HttpsListener", https, NULL);
    cr_expect_str_eq(found, l443);
    free(found);
    json_t *unknown = json_deep_copy(http);
    json_object_set_new(unknown, "LoadBalancerArn", json_string(DR_KNOWN_AFTER_APPLY));
    found = find_ok(T_LISTENER, "HttpListener", unknown, NULL);
    cr_expect_str_eq(found, l80);
    free(found);
    cr_expect_eq(read_exists(T_LISTENER, l80, http, NULL), 1);

    /* Update in place: the HTTP listener forwards instead (the edge is on). */
    json_t *http2 = json_deep_copy(http);
    json_object_set_new(http2, "DefaultActions",
                        json_pack("[{s:s, s:s}]", "Type", "forward", "TargetGroupArn", tg));
    update_ok(T_LISTENER, l80, http, http2, NULL);
    d = aws_cli(REGION, "elbv2 describe-listeners --listener-arns %s", l80);
    cr_expect_str_eq(jstr(d, "Listeners[0].DefaultActions[0].Type"), "forward");
    cr_expect_str_eq(jstr(d, "Listeners[0].DefaultActions[0].TargetGroupArn"), tg);
    json_decref(d);

    char *again = create_ok(T_LISTENER, "HttpsListener", https, NULL);
    cr_expect_str_eq(again, l443);
    free(again);
    d = aws_cli(REGION, "elbv2 describe-listeners --load-balancer-arn %s", lb);
    cr_expect_eq(json_array_size(jget(d, "Listeners")), 2, "no duplicate listener");
    json_decref(d);

    remove_ok(T_LISTENER, l443, https);
    remove_ok(T_LISTENER, l80, http2);
    d = aws_cli(REGION, "elbv2 describe-listeners --load-balancer-arn %s", lb);
    cr_expect_eq(json_array_size(jget(d, "Listeners")), 0, "listeners deleted");
    json_decref(d);
    cr_expect_eq(read_exists(T_LISTENER, l443, https, NULL), 0);
    remove_ok(T_LISTENER, l443, https);

    remove_ok(T_TG, tg, tgp);
    remove_ok(T_LB, lb, lbp);
    json_decref(unknown);
    json_decref(http2);
    json_decref(https);
    json_decref(http);
    json_decref(attrs);
    json_decref(lbp);
    json_decref(tgp);
    free(cert);
    free(l443);
    free(l80);
    free(lb);
    free(tg);
}

/* ---- AWS::ECS::Cluster ----------------------------------------------------- */

static json_t *cluster_props(const char *name)
{
    return json_pack("{s:s, s:[{s:s, s:s}], s:[s, s], s:[{s:s, s:i}], s:[]}", "ClusterName", name,
                     "ClusterSettings", "Name", "containerInsights", "Value", "enabled",
                     "CapacityProviders", "FARGATE", "FARGATE_SPOT",
                     "DefaultCapacityProviderStrategy", "CapacityProvider", "FARGATE", "Weight", 1,
                     "Tags");
}

Test(res_compute, cluster)
{
    json_t *props = cluster_props(stack);
    json_t *attrs = NULL;
    char *name = create_ok(T_CLUSTER, "Cluster", props, &attrs);
    cr_expect_str_eq(name, stack, "Ref of a cluster is its name");

    json_t *d =
        aws_cli(REGION, "ecs describe-clusters --clusters %s --include SETTINGS TAGS", name);
    json_t *cl = jget(d, "clusters[0]");
    cr_expect_str_eq(jstr(cl, "status"), "ACTIVE");
    cr_expect_str_eq(jstr(attrs, "Arn"), jstr(cl, "clusterArn"));
    cr_expect_str_eq(jstr(cl, "settings[0].name"), "containerInsights");
    cr_expect_str_eq(jstr(cl, "settings[0].value"), "enabled");
    cr_expect_str_eq(jstr(cl, "capacityProviders[0]"), "FARGATE");
    cr_expect_str_eq(jstr(cl, "capacityProviders[1]"), "FARGATE_SPOT");
    cr_expect_str_eq(jstr(cl, "defaultCapacityProviderStrategy[0].capacityProvider"), "FARGATE");
    expect_drctl_tags(jget(cl, "tags"), "Cluster");
    json_decref(d);

    json_t *live = NULL;
    char *found = find_ok(T_CLUSTER, "Cluster", props, &live);
    cr_expect_str_eq(found, name);
    expect_live_props_match(live, props);
    json_decref(live);
    free(found);
    cr_expect_eq(read_exists(T_CLUSTER, name, props, NULL), 1);

    /* Update in place: Fargate Spot by default (dev), and a tag. */
    json_t *p2 = json_deep_copy(props);
    json_object_set_new(p2, "DefaultCapacityProviderStrategy",
                        json_pack("[{s:s, s:i}]", "CapacityProvider", "FARGATE_SPOT", "Weight", 1));
    json_array_append_new(json_object_get(p2, "Tags"),
                          json_pack("{s:s, s:s}", "Key", "team", "Value", "dr"));
    update_ok(T_CLUSTER, name, props, p2, NULL);
    d = aws_cli(REGION, "ecs describe-clusters --clusters %s --include SETTINGS TAGS", name);
    cr_expect_str_eq(jstr(d, "clusters[0].defaultCapacityProviderStrategy[0].capacityProvider"),
                     "FARGATE_SPOT");
    cr_expect_str_eq(jstr(d, "clusters[0].settings[0].value"), "enabled");
    cr_expect_str_eq(tag(jget(d, "clusters[0].tags"), "team"), "dr");
    expect_drctl_tags(jget(d, "clusters[0].tags"), "Cluster");
    json_decref(d);

    char *again = create_ok(T_CLUSTER, "Cluster", props, NULL);
    cr_expect_str_eq(again, name);
    free(again);
    d = aws_cli(REGION, "ecs list-clusters");
    size_t count = 0, i;
    json_t *x;
    json_array_foreach(jget(d, "clusterArns"), i, x)
    {
        const char *s = json_string_value(x);
        const char *slash = s ? strrchr(s, '/') : NULL;
        count += slash && strcmp(slash + 1, name) == 0;
    }
    cr_expect_eq(count, 1, "no duplicate cluster");
    json_decref(d);

    /* A cluster of that name without this stack's tags is not taken over. */
    char *other = fmt("%s-other", stack);
    json_decref(aws_cli(REGION, "ecs create-cluster --cluster-name %s", other));
    json_t *p3 = cluster_props(other);
    cr_expect_eq(create_fails(T_CLUSTER, "Cluster", p3), DR_E_CONFIG);
    json_decref(aws_cli(REGION, "ecs delete-cluster --cluster %s", other));

    remove_ok(T_CLUSTER, name, p2);
    d = aws_cli(REGION, "ecs describe-clusters --clusters %s", name);
    const char *st = jstr(d, "clusters[0].status");
    cr_expect(!st || strcmp(st, "INACTIVE") == 0, "deleted (INACTIVE or gone), got %s", st);
    json_decref(d);
    cr_expect_eq(read_exists(T_CLUSTER, name, props, NULL), 0);
    remove_ok(T_CLUSTER, name, p2);

    free(other);
    json_decref(p3);
    json_decref(p2);
    json_decref(attrs);
    json_decref(props);
    free(name);
}

/* ---- AWS::ECS::TaskDefinition ---------------------------------------------- */

typedef struct td_deps {
    char exec_role[256], task_role[256];
    char db_secret[256], master_secret[256], salt_secret[256];
    char log_group[128];
} td_deps;

static void td_setup(td_deps *t)
{
    const char *trust = "'{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                        "\"Principal\":{\"Service\":\"ecs-tasks.amazonaws.com\"},\"Action\":"
                        "\"sts:AssumeRole\"}]}'";
    json_t *j =
        aws_cli(REGION, "iam create-role --role-name %s-exec --assume-role-policy-document %s",
                stack, trust);
    snprintf(t->exec_role, sizeof(t->exec_role), "%s", jstr(j, "Role.Arn"));
    json_decref(j);
    j = aws_cli(REGION, "iam create-role --role-name %s-task --assume-role-policy-document %s",
                stack, trust);
    snprintf(t->task_role, sizeof(t->task_role), "%s", jstr(j, "Role.Arn"));
    json_decref(j);
    j = aws_cli(REGION,
                "secretsmanager create-secret --name %s/db --secret-string '{\"url\":\"x\"}'",
                stack);
    snprintf(t->db_secret, sizeof(t->db_secret), "%s", jstr(j, "ARN"));
    json_decref(j);
    j = aws_cli(REGION, "secretsmanager create-secret --name %s/master --secret-string sk-x",
                stack);
    snprintf(t->master_secret, sizeof(t->master_secret), "%s", jstr(j, "ARN"));
    json_decref(j);
    j = aws_cli(REGION, "secretsmanager create-secret --name %s/salt --secret-string salt", stack);
    snprintf(t->salt_secret, sizeof(t->salt_secret), "%s", jstr(j, "ARN"));
    json_decref(j);
    snprintf(t->log_group, sizeof(t->log_group), "/%s/litellm", stack);
}

/* The task definition as model_compute.c writes it (plus a container health
 * check), references resolved. */
static json_t *td_props(const td_deps *t)
{
    char *family = fmt("%s-litellm", stack);
    char *db_url = fmt("%s:url::", t->db_secret);
    json_t *container = json_pack(
        "{s:s, s:s, s:b, s:[{s:i, s:s}], s:[{s:s, s:s}, {s:s, s:s}],"
        " s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}], s:{s:s, s:{s:s, s:s, s:s}}, s:i,"
        " s:[{s:s, s:i, s:i}], s:{s:[s, s], s:i, s:i, s:i, s:i}}",
        "Name", "litellm", "Image", "ghcr.io/berriai/litellm:main-stable", "Essential", 1,
        "PortMappings", "ContainerPort", 4000, "Protocol", "tcp", "Environment", "Name",
        "LITELLM_MODE", "Value", "PRODUCTION", "Name", "STORE_MODEL_IN_DB", "Value", "True",
        "Secrets", "Name", "DATABASE_URL", "ValueFrom", db_url, "Name", "LITELLM_MASTER_KEY",
        "ValueFrom", t->master_secret, "Name", "LITELLM_SALT_KEY", "ValueFrom", t->salt_secret,
        "LogConfiguration", "LogDriver", "awslogs", "Options", "awslogs-group", t->log_group,
        "awslogs-region", REGION, "awslogs-stream-prefix", "litellm", "StopTimeout", 120, "Ulimits",
        "Name", "nofile", "SoftLimit", 65536, "HardLimit", 65536, "HealthCheck", "Command",
        "CMD-SHELL", "curl -fsS http://localhost:4000/health/liveliness || exit 1", "Interval", 30,
        "Timeout", 5, "Retries", 3, "StartPeriod", 60);
    json_t *p =
        json_pack("{s:s, s:s, s:s, s:s, s:[s], s:s, s:s, s:{s:s, s:s}, s:[o], s:[]}", "Family",
                  family, "Cpu", "1024", "Memory", "2048", "NetworkMode", "awsvpc",
                  "RequiresCompatibilities", "FARGATE", "ExecutionRoleArn", t->exec_role,
                  "TaskRoleArn", t->task_role, "RuntimePlatform", "OperatingSystemFamily", "LINUX",
                  "CpuArchitecture", "X86_64", "ContainerDefinitions", container, "Tags");
    free(family);
    free(db_url);
    return p;
}

Test(res_compute, task_definition)
{
    td_deps t;
    td_setup(&t);
    json_t *props = td_props(&t);
    json_t *attrs = NULL;
    char *arn = create_ok(T_TD, "TaskDefinition", props, &attrs);
    cr_expect_str_eq(jstr(attrs, "TaskDefinitionArn"), arn);

    json_t *d =
        aws_cli(REGION, "ecs describe-task-definition --task-definition %s --include TAGS", arn);
    json_t *td = jget(d, "taskDefinition");
    cr_expect_str_eq(jstr(td, "status"), "ACTIVE");
    cr_expect_str_eq(jstr(td, "requiresCompatibilities[0]"), "FARGATE");
    cr_expect_str_eq(jstr(td, "networkMode"), "awsvpc");
    cr_expect_str_eq(jstr(td, "cpu"), "1024");
    cr_expect_str_eq(jstr(td, "memory"), "2048");
    cr_expect_str_eq(jstr(td, "executionRoleArn"), t.exec_role);
    cr_expect_str_eq(jstr(td, "taskRoleArn"), t.task_role);
    cr_expect_str_eq(jstr(td, "runtimePlatform.operatingSystemFamily"), "LINUX");
    json_t *c0 = jget(td, "containerDefinitions[0]");
    cr_expect_str_eq(jstr(c0, "name"), "litellm");
    cr_expect_eq(jint(c0, "portMappings[0].containerPort"), 4000);
    char *db_url = fmt("%s:url::", t.db_secret);
    cr_expect_str_eq(jstr(c0, "secrets[0].name"), "DATABASE_URL");
    cr_expect_str_eq(jstr(c0, "secrets[0].valueFrom"), db_url, "JSON-key suffix kept");
    cr_expect_str_eq(jstr(c0, "secrets[1].valueFrom"), t.master_secret);
    cr_expect_str_eq(jstr(c0, "secrets[2].valueFrom"), t.salt_secret);
    free(db_url);
    cr_expect_str_eq(jstr(c0, "environment[0].name"), "LITELLM_MODE");
    cr_expect_str_eq(jstr(c0, "logConfiguration.logDriver"), "awslogs");
    json_t *opts = jget(c0, "logConfiguration.options");
    cr_expect_str_eq(json_string_value(json_object_get(opts, "awslogs-group")), t.log_group);
    cr_expect_str_eq(json_string_value(json_object_get(opts, "awslogs-region")), REGION);
    cr_expect_str_eq(json_string_value(json_object_get(opts, "awslogs-stream-prefix")), "litellm");
    cr_expect_str_eq(jstr(c0, "healthCheck.command[0]"), "CMD-SHELL");
    cr_expect_eq(jint(c0, "healthCheck.startPeriod"), 60);
    cr_expect_eq(jint(c0, "ulimits[0].softLimit"), 65536);
    cr_expect_eq(jint(c0, "stopTimeout"), 120);
    expect_drctl_tags(jget(d, "tags"), "TaskDefinition");
    json_decref(d);

    json_t *live = NULL;
    char *found = find_ok(T_TD, "TaskDefinition", props, &live);
    cr_expect_str_eq(found, arn);
    expect_live_props_match(live, props);
    json_decref(live);
    free(found);
    cr_expect_eq(read_exists(T_TD, arn, props, NULL), 1);

    /* RegisterTaskDefinition has no idempotency: a second create is a new
     * revision (what any change of a task definition is), and find then
     * returns the newest. */
    char *rev2 = create_ok(T_TD, "TaskDefinition", props, NULL);
    cr_expect_str_neq(rev2, arn);
    cr_expect_str_eq(strrchr(rev2, ':'), ":2");
    found = find_ok(T_TD, "TaskDefinition", props, NULL);
    cr_expect_str_eq(found, rev2, "the newest revision");
    free(found);

    /* Tags are the one thing updated in place. */
    json_t *p2 = json_deep_copy(props);
    json_array_append_new(json_object_get(p2, "Tags"),
                          json_pack("{s:s, s:s}", "Key", "team", "Value", "dr"));
    update_ok(T_TD, rev2, props, p2, NULL);
    d = aws_cli(REGION, "ecs list-tags-for-resource --resource-arn %s", rev2);
    cr_expect_str_eq(tag(jget(d, "tags"), "team"), "dr");
    expect_drctl_tags(jget(d, "tags"), "TaskDefinition");
    json_decref(d);

    remove_ok(T_TD, arn, props);
    remove_ok(T_TD, rev2, p2);
    d = aws_cli(REGION, "ecs list-task-definitions --family-prefix %s-litellm --status ACTIVE",
                stack);
    cr_expect_eq(json_array_size(jget(d, "taskDefinitionArns")), 0, "no ACTIVE revision left");
    json_decref(d);
    /* Deleted revisions are unknown (moto) or INACTIVE / DELETE_IN_PROGRESS. */
    char *out = NULL;
    int st = sh(&out,
                "aws --endpoint-url '%s' --region %s ecs describe-task-definition "
                "--task-definition %s --query taskDefinition.status --output text 2>/dev/null",
                sandbox_endpoint(), REGION, arn);
    cr_expect(st != 0 || (out && strncmp(out, "ACTIVE", 6) != 0), "still ACTIVE: %s", out);
    free(out);
    cr_expect_eq(read_exists(T_TD, arn, props, NULL), 0);
    cr_expect_eq(read_exists(T_TD, rev2, props, NULL), 0);
    remove_ok(T_TD, rev2, p2);

    json_decref(p2);
    json_decref(attrs);
    json_decref(props);
    free(rev2);
    free(arn);
}

/* ---- AWS::ECS::Service ----------------------------------------------------- */

typedef struct svc_deps {
    net n;
    td_deps t;
    json_t *cluster_p, *td_p, *lb_p, *tg_p, *listener_p;
    char *cluster, *td, *lb, *tg, *listener;
} svc_deps;

static void svc_setup(svc_deps *s)
{
    net_setup(&s->n);
    td_setup(&s->t);
    s->cluster_p = cluster_props(stack);
    s->cluster = create_ok(T_CLUSTER, "Cluster", s->cluster_p, NULL);
    s->td_p = td_props(&s->t);
    s->td = create_ok(T_TD, "TaskDefinition", s->td_p, NULL);
    s->lb_p = lb_props(&s->n);
    s->lb = create_ok(T_LB, "Alb", s->lb_p, NULL);
    s->tg_p = tg_props(&s->n);
    s->tg = create_ok(T_TG, "TargetGroup", s->tg_p, NULL);
    s->listener_p =
        json_pack("{s:s, s:i, s:s, s:[{s:s, s:s}]}", "LoadBalancerArn", s->lb, "Port", 80,
                  "Protocol", "HTTP", "DefaultActions", "Type", "forward", "TargetGroupArn", s->tg);
    s->listener = create_ok(T_LISTENER, "HttpListener", s->listener_p, NULL);
}

static void svc_teardown(svc_deps *s)
{
    remove_ok(T_LISTENER, s->listener, s->listener_p);
    remove_ok(T_TG, s->tg, s->tg_p);
    remove_ok(T_LB, s->lb, s->lb_p);
    remove_ok(T_TD, s->td, s->td_p);
    remove_ok(T_CLUSTER, s->cluster, s->cluster_p);
    json_decref(s->cluster_p);
    json_decref(s->td_p);
    json_decref(s->lb_p);
    json_decref(s->tg_p);
    json_decref(s->listener_p);
    free(s->cluster);
    free(s->td);
    free(s->lb);
    free(s->tg);
    free(s->listener);
}

/* The service as model_compute.c writes it (not Fargate Spot). */
static json_t *svc_props(const svc_deps *s)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:{s:{s:[s, s], s:[s], s:s}}, s:[{s:s, s:i, s:s}],"
                     " s:i, s:{s:i, s:i, s:{s:b, s:b}}, s:s, s:b, s:s, s:[]}",
                     "ServiceName", "litellm", "Cluster", s->cluster, "TaskDefinition", s->td,
                     "DesiredCount", 2, "NetworkConfiguration", "AwsvpcConfiguration", "Subnets",
                     s->n.sub1, s->n.sub2, "SecurityGroups", s->n.sg, "AssignPublicIp", "DISABLED",
                     "LoadBalancers", "ContainerName", "litellm", "ContainerPort", 4000,
                     "TargetGroupArn", s->tg, "HealthCheckGracePeriodSeconds", 120,
                     "DeploymentConfiguration", "MinimumHealthyPercent", 100, "MaximumPercent", 200,
                     "DeploymentCircuitBreaker", "Enable", 1, "Rollback", 1, "PropagateTags",
                     "SERVICE", "EnableECSManagedTags", 1, "LaunchType", "FARGATE", "Tags");
}

Test(res_compute, service)
{
    svc_deps s;
    svc_setup(&s);
    json_t *props = svc_props(&s);
    json_t *attrs = NULL;
    char *arn = create_ok(T_SVC, "Service", props, &attrs);
    cr_expect_str_eq(jstr(attrs, "Name"), "litellm");
    cr_expect_str_eq(jstr(attrs, "ServiceArn"), arn);
    char *long_form = fmt(":service/%s/litellm", s.cluster);
    cr_expect(strstr(arn, long_form), "long ARN format: %s", arn);
    free(long_form);

    json_t *d = aws_cli(REGION, "ecs describe-services --cluster %s --services %s --include TAGS",
                        s.cluster, arn);
    json_t *sv = jget(d, "services[0]");
    cr_expect_str_eq(jstr(sv, "status"), "ACTIVE");
    cr_expect_eq(jint(sv, "desiredCount"), 2);
    cr_expect_str_eq(jstr(sv, "launchType"), "FARGATE");
    cr_expect_str_eq(jstr(sv, "taskDefinition"), s.td);
    cr_expect_str_eq(jstr(sv, "loadBalancers[0].targetGroupArn"), s.tg);
    cr_expect_str_eq(jstr(sv, "loadBalancers[0].containerName"), "litellm");
    cr_expect_eq(jint(sv, "loadBalancers[0].containerPort"), 4000);
    cr_expect_str_eq(jstr(sv, "networkConfiguration.awsvpcConfiguration.subnets[0]"), s.n.sub1);
    cr_expect_str_eq(jstr(sv, "networkConfiguration.awsvpcConfiguration.securityGroups[0]"),
                     s.n.sg);
    cr_expect_str_eq(jstr(sv, "propagateTags"), "SERVICE");
    expect_drctl_tags(jget(sv, "tags"), "Service");
    json_decref(d);

    json_t *live = NULL;
    char *found = find_ok(T_SVC, "Service", props, &live);
    cr_expect_str_eq(found, arn);
    expect_live_props_match(live, props);
    json_decref(live);
    free(found);
    cr_expect_eq(read_exists(T_SVC, arn, props, NULL), 1);

    /* Update in place: the desired count, then a new task definition
     * revision (what a changed task definition becomes). */
    json_t *p2 = json_deep_copy(props);
    json_object_set_new(p2, "DesiredCount", json_integer(3));
    update_ok(T_SVC, arn, props, p2, NULL);
    d = aws_cli(REGION, "ecs describe-services --cluster %s --services %s", s.cluster, arn);
    cr_expect_eq(jint(d, "services[0].desiredCount"), 3);
    json_decref(d);
    char *rev2 = create_ok(T_TD, "TaskDefinition", s.td_p, NULL);
    json_t *p3 = json_deep_copy(p2);
    json_object_set_new(p3, "TaskDefinition", json_string(rev2));
    update_ok(T_SVC, arn, p2, p3, NULL);
    d = aws_cli(REGION, "ecs describe-services --cluster %s --services %s", s.cluster, arn);
    cr_expect_str_eq(jstr(d, "services[0].taskDefinition"), rev2);
    cr_expect_eq(jint(d, "services[0].desiredCount"), 3, "left alone when unchanged");
    json_decref(d);

    char *again = create_ok(T_SVC, "Service", p3, NULL);
    cr_expect_str_eq(again, arn);
    free(again);
    d = aws_cli(REGION, "ecs list-services --cluster %s", s.cluster);
    cr_expect_eq(json_array_size(jget(d, "serviceArns")), 1, "no duplicate service");
    json_decref(d);

    remove_ok(T_SVC, arn, p3);
    d = aws_cli(REGION, "ecs describe-services --cluster %s --services %s", s.cluster, arn);
    const char *st = jstr(d, "services[0].status");
    cr_expect(!st || strcmp(st, "INACTIVE") == 0, "deleted (INACTIVE or gone), got %s", st);
    if (st)
        cr_expect_eq(jint(d, "services[0].desiredCount"), 0, "scaled to 0 before the delete");
    json_decref(d);
    cr_expect_eq(read_exists(T_SVC, arn, p3, NULL), 0);
    remove_ok(T_SVC, arn, p3);

    remove_ok(T_TD, rev2, s.td_p);
    svc_teardown(&s);
    free(rev2);
    json_decref(p2);
    json_decref(p3);
    json_decref(attrs);
    json_decref(props);
    free(arn);
}

/* A service ARN in the old short format names no cluster: read, the waits
 * and remove then find it through this stack's clusters. */
Test(res_compute, service_short_arn)
{
    svc_deps s;
    svc_setup(&s);
    json_decref(
        aws_cli(REGION, "ecs put-account-setting --name serviceLongArnFormat --value disabled"));
    json_t *props = svc_props(&s);
    char *arn = create_ok(T_SVC, "Service", props, NULL);
    char *cl = fmt("/%s/", s.cluster);
    cr_expect(!strstr(arn, cl), "short ARN format: %s", arn);
    free(cl);
    json_t *none = json_object();
    json_t *attrs = NULL;
    cr_expect_eq(read_exists(T_SVC, arn, none, &attrs), 1, "found through the stack's clusters");
    cr_expect_str_eq(jstr(attrs, "Name"), "litellm");
    json_decref(attrs);
    remove_ok(T_SVC, arn, none);
    cr_expect_eq(read_exists(T_SVC, arn, none, NULL), 0);
    json_decref(
        aws_cli(REGION, "ecs put-account-setting --name serviceLongArnFormat --value enabled"));
    svc_teardown(&s);
    json_decref(none);
    json_decref(props);
    free(arn);
}

/* ---- Application Auto Scaling ---------------------------------------------- */

static json_t *policy_props(const char *name, const char *target_id, const char *metric,
                            double value)
{
    return json_pack("{s:s, s:s, s:s, s:{s:f, s:{s:s}, s:i, s:i}}", "PolicyName", name,
                     "PolicyType", "TargetTrackingScaling", "ScalingTargetId", target_id,
                     "TargetTrackingScalingPolicyConfiguration", "TargetValue", value,
                     "PredefinedMetricSpecification", "PredefinedMetricType", metric,
                     "ScaleInCooldown", 300, "ScaleOutCooldown", 60);
}

static json_t *find_policy(json_t *list, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        const char *n = json_string_value(json_object_get(p, "PolicyName"));
        if (n && strcmp(n, name) == 0)
            return p;
    }
    return NULL;
}

Test(res_compute, scaling)
{
    svc_deps s;
    svc_setup(&s);
    json_t *sp = svc_props(&s);
    char *svc = create_ok(T_SVC, "Service", sp, NULL);

    char *rid = fmt("service/%s/litellm", s.cluster);
    json_t *tp =
        json_pack("{s:i, s:i, s:s, s:s, s:s}", "MinCapacity", 2, "MaxCapacity", 6, "ResourceId",
                  rid, "ScalableDimension", "ecs:service:DesiredCount", "ServiceNamespace", "ecs");
    char *tid = create_ok(T_TARGET, "ScalableTarget", tp, NULL);
    char *want_id = fmt("%s|ecs:service:DesiredCount|ecs", rid);
    cr_expect_str_eq(tid, want_id, "Ref of a scalable target");
    free(want_id);
    json_t *d = aws_cli(REGION,
                        "application-autoscaling describe-scalable-targets --service-namespace ecs "
                        "--resource-ids %s",
                        rid);
    cr_expect_eq(json_array_size(jget(d, "ScalableTargets")), 1);
    cr_expect_eq(jint(d, "ScalableTargets[0].MinCapacity"), 2);
    cr_expect_eq(jint(d, "ScalableTargets[0].MaxCapacity"), 6);
    cr_expect_str_eq(jstr(d, "ScalableTargets[0].ScalableDimension"), "ecs:service:DesiredCount");
    json_decref(d);
    char *found = find_ok(T_TARGET, "ScalableTarget", tp, NULL);
    cr_expect_str_eq(found, tid);
    free(found);
    cr_expect_eq(read_exists(T_TARGET, tid, tp, NULL), 1);

    /* Both target-tracking policies, on the target's Ref. */
    char *cpu_name = fmt("%s-cpu-target", stack), *mem_name = fmt("%s-memory-target", stack);
    json_t *cpu = policy_props(cpu_name, tid, "ECSServiceAverageCPUUtilization", 70);
    json_t *mem = policy_props(mem_name, tid, "ECSServiceAverageMemoryUtilization", 75);
    json_t *attrs = NULL;
    char *cpu_arn = create_ok(T_POLICY, "CpuScalingPolicy", cpu, &attrs);
    cr_expect_str_eq(jstr(attrs, "Arn"), cpu_arn);
    cr_expect(strstr(cpu_arn, ":scalingPolicy:"), "a policy ARN: %s", cpu_arn);
    json_decref(attrs);
    char *mem_arn = create_ok(T_POLICY, "MemoryScalingPolicy", mem, NULL);
    d = aws_cli(REGION,
                "application-autoscaling describe-scaling-policies --service-namespace ecs "
                "--resource-id %s",
                rid);
    json_t *list = jget(d, "ScalingPolicies");
    cr_expect_eq(json_array_size(list), 2);
    json_t *pc = find_policy(list, cpu_name), *pm = find_policy(list, mem_name);
    cr_assert(pc && pm);
    cr_expect_str_eq(jstr(pc, "PolicyType"), "TargetTrackingScaling");
    cr_expect_eq(
        json_number_value(jget(pc, "TargetTrackingScalingPolicyConfiguration.TargetValue")), 70.0);
    cr_expect_str_eq(jstr(pc,
                          "TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification"
                          ".PredefinedMetricType"),
                     "ECSServiceAverageCPUUtilization");
    cr_expect_eq(jint(pc, "TargetTrackingScalingPolicyConfiguration.ScaleInCooldown"), 300);
    cr_expect_eq(jint(pc, "TargetTrackingScalingPolicyConfiguration.ScaleOutCooldown"), 60);
    cr_expect_eq(
        json_number_value(jget(pm, "TargetTrackingScalingPolicyConfiguration.TargetValue")), 75.0);
    cr_expect_str_eq(jstr(pm,
                          "TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification"
                          ".PredefinedMetricType"),
                     "ECSServiceAverageMemoryUtilization");
    cr_expect_str_eq(jstr(pm, "ScalableDimension"), "ecs:service:DesiredCount");
    json_decref(d);

    found = find_ok(T_POLICY, "CpuScalingPolicy", cpu, NULL);
    cr_expect_str_eq(found, cpu_arn);
    free(found);
    /* Destroy after a lost state: the target's Ref is not known. */
    json_t *unknown = json_deep_copy(mem);
    json_object_set_new(unknown, "ScalingTargetId", json_string(DR_KNOWN_AFTER_APPLY));
    found = find_ok(T_POLICY, "MemoryScalingPolicy", unknown, NULL);
    cr_expect_str_eq(found, mem_arn);
    free(found);
    json_decref(unknown);
    cr_expect_eq(read_exists(T_POLICY, cpu_arn, cpu, NULL), 1);

    /* Updates in place: the target's bounds and the CPU target value. */
    json_t *tp2 = json_deep_copy(tp);
    json_object_set_new(tp2, "MaxCapacity", json_integer(8));
    update_ok(T_TARGET, tid, tp, tp2, NULL);
    d = aws_cli(REGION,
                "application-autoscaling describe-scalable-targets --service-namespace ecs "
                "--resource-ids %s",
                rid);
    cr_expect_eq(jint(d, "ScalableTargets[0].MaxCapacity"), 8);
    cr_expect_eq(jint(d, "ScalableTargets[0].MinCapacity"), 2);
    json_decref(d);
    json_t *cpu2 = policy_props(cpu_name, tid, "ECSServiceAverageCPUUtilization", 60);
    attrs = NULL;
    update_ok(T_POLICY, cpu_arn, cpu, cpu2, &attrs);
    cr_expect(jstr(attrs, "Arn"), "the policy's (possibly new) ARN");
    json_decref(attrs);
    d = aws_cli(REGION,
                "application-autoscaling describe-scaling-policies --service-namespace ecs "
                "--resource-id %s",
                rid);
    cr_expect_eq(json_array_size(jget(d, "ScalingPolicies")), 2);
    pc = find_policy(jget(d, "ScalingPolicies"), cpu_name);
    cr_expect_eq(
        json_number_value(jget(pc, "TargetTrackingScalingPolicyConfiguration.TargetValue")), 60.0);
    json_decref(d);
    cr_expect_eq(read_exists(T_POLICY, cpu_arn, cpu2, NULL), 1, "still found by its first ARN");

    /* Second creates: upserts, no duplicates. */
    char *again = create_ok(T_TARGET, "ScalableTarget", tp2, NULL);
    cr_expect_str_eq(again, tid);
    free(again);
    again = create_ok(T_POLICY, "MemoryScalingPolicy", mem, NULL);
    free(again);
    d = aws_cli(REGION,
                "application-autoscaling describe-scaling-policies --service-namespace ecs "
                "--resource-id %s",
                rid);
    cr_expect_eq(json_array_size(jget(d, "ScalingPolicies")), 2, "no duplicate policy");
    json_decref(d);
    d = aws_cli(REGION,
                "application-autoscaling describe-scalable-targets --service-namespace ecs "
                "--resource-ids %s",
                rid);
    cr_expect_eq(json_array_size(jget(d, "ScalableTargets")), 1, "no duplicate target");
    json_decref(d);

    remove_ok(T_POLICY, cpu_arn, cpu2);
    remove_ok(T_POLICY, mem_arn, mem);
    d = aws_cli(REGION,
                "application-autoscaling describe-scaling-policies --service-namespace ecs "
                "--resource-id %s",
                rid);
    cr_expect_eq(json_array_size(jget(d, "ScalingPolicies")), 0, "policies deleted");
    json_decref(d);
    cr_expect_eq(read_exists(T_POLICY, cpu_arn, cpu2, NULL), 0);
    remove_ok(T_POLICY, cpu_arn, cpu2);

    remove_ok(T_TARGET, tid, tp2);
    d = aws_cli(REGION,
                "application-autoscaling describe-scalable-targets --service-namespace ecs "
                "--resource-ids %s",
                rid);
    cr_expect_eq(json_array_size(jget(d, "ScalableTargets")), 0, "target deregistered");
    json_decref(d);
    cr_expect_eq(read_exists(T_TARGET, tid, tp2, NULL), 0);
    remove_ok(T_TARGET, tid, tp2);

    remove_ok(T_SVC, svc, sp);
    svc_teardown(&s);
    json_decref(cpu);
    json_decref(cpu2);
    json_decref(mem);
    json_decref(tp);
    json_decref(tp2);
    json_decref(sp);
    free(cpu_name);
    free(mem_name);
    free(cpu_arn);
    free(mem_arn);
    free(tid);
    free(rid);
    free(svc);
}
