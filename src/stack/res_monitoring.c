/*
 * res_monitoring.c - resource handlers of the monitoring family: CloudWatch
 * Logs log groups, CloudWatch alarms and the dashboard.
 *
 * Contract in handler.h. What is particular here:
 * - All three have names the model makes deterministic (the region is in
 *   the dashboard's, whose names are account-wide), so find() looks them up
 *   by name; a dashboard has no tags in CloudFormation anyway.
 * - PutMetricAlarm and PutDashboard create and overwrite alike: update
 *   sends the whole new definition, and a retried create is harmless.
 * - CloudWatch speaks JSON 1.0 here (the "cloudwatch" row of the service
 *   table; its first protocol, CBOR, drctl does not speak), which moto
 *   accepts; its errors carry the query protocol's codes
 *   ("ResourceNotFound").
 * - A log group's ARN as CloudFormation's GetAtt Arn gives it ends in ":*"
 *   (it covers the log streams, which is what the execution role's policy
 *   needs); the tagging APIs want it without.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stack/handler.h"
#include "util/mem.h"

/* ---- small helpers --------------------------------------------------------- */

static int is_code(const dr_err *e, const char *code)
{
    return e->has_aws && strcmp(e->aws.code, code) == 0;
}

static int not_found(const dr_err *e)
{
    return is_code(e, "ResourceNotFoundException") || is_code(e, "ResourceNotFound") ||
           is_code(e, "DashboardNotFoundError");
}

static const char *pstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int known(const char *s)
{
    return s && *s && strcmp(s, DR_KNOWN_AFTER_APPLY) != 0;
}

static int same(json_t *a, json_t *b)
{
    if (!a || !b)
        return a == b;
    return json_equal(a, b);
}

static int prop_changed(json_t *old_props, json_t *new_props, const char *k)
{
    return !same(json_object_get(old_props, k), json_object_get(new_props, k));
}

/* An integer property given as a number or a numeric string. */
static int pint(json_t *o, const char *k, long long *out)
{
    json_t *v = json_object_get(o, k);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        *out = (long long)json_real_value(v);
        return 1;
    }
    if (json_is_string(v) && *json_string_value(v)) {
        char *end;
        long long n = strtoll(json_string_value(v), &end, 10);
        if (*end == '\0') {
            *out = n;
            return 1;
        }
    }
    return 0;
}

static void set_live(dr_live *out, const char *phys, json_t *attrs)
{
    free(out->physical_id);
    out->physical_id = dr_xstrdup(phys);
    json_decref(out->attributes);
    out->attributes = attrs;
}

/* The property, or "<stack>-<logical id>" when the model leaves the name
 * out: deterministic, so that find() can look for it. */
static char *name_of(const dr_apply_ctx *c, const char *logical_id, json_t *props, const char *prop)
{
    const char *n = pstr(props, prop);
    if (known(n))
        return dr_xstrdup(n);
    return dr_xasprintf("%s-%s", c->stack ? c->stack : "drctl", logical_id);
}

/* [{Key, Value}] as {Key: Value} (CloudWatch Logs' shape). */
static json_t *tags_map(json_t *tags)
{
    json_t *m = json_object();
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *k = pstr(t, "Key"), *v = pstr(t, "Value");
        if (k)
            json_object_set_new(m, k, json_string(v ? v : ""));
    }
    return m;
}

/* [{Key, Value}] without anything else a tag object might carry. */
static json_t *tags_kv(json_t *tags)
{
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *k = pstr(t, "Key"), *v = pstr(t, "Value");
        if (k)
            json_array_append_new(out, json_pack("{s:s, s:s}", "Key", k, "Value", v ? v : ""));
    }
    return out;
}

/* Keys of old_tags that new_tags dropped, never drctl's own (find and
 * destroy rely on them); NULL when none. */
static json_t *tags_removed(json_t *old_tags, json_t *new_tags)
{
    json_t *out = NULL;
    size_t i, j;
    json_t *t, *u;
    json_array_foreach(old_tags, i, t)
    {
        const char *k = pstr(t, "Key");
        if (!k || strcmp(k, "drctl:stack") == 0 || strcmp(k, "drctl:logical-id") == 0)
            continue;
        int kept = 0;
        json_array_foreach(new_tags, j, u)
        {
            kept |= pstr(u, "Key") && strcmp(pstr(u, "Key"), k) == 0;
        }
        if (kept)
            continue;
        if (!out)
            out = json_array();
        json_array_append_new(out, json_string(k));
    }
    return out;
}

/* ---- CloudWatch Logs log groups --------------------------------------------- */

static int logs(dr_apply_ctx *c, const char *op, json_t *in, json_t **out, dr_err *err)
{
    int rc = dr_aws_json(c->aws, "logs", c->region, op, in, out, err);
    json_decref(in);
    return rc;
}

/* The log group of exactly this name (new reference) or NULL. */
static int lg_describe(dr_apply_ctx *c, const char *name, json_t **lg, dr_err *err)
{
    *lg = NULL;
    char *next = NULL;
    for (;;) {
        json_t *in = json_pack("{s:s, s:i}", "logGroupNamePrefix", name, "limit", 50);
        if (next)
            json_object_set_new(in, "nextToken", json_string(next));
        free(next);
        next = NULL;
        json_t *out = NULL;
        if (logs(c, "DescribeLogGroups", in, &out, err) != 0)
            return -1;
        size_t i;
        json_t *g;
        json_array_foreach(json_object_get(out, "logGroups"), i, g)
        {
            const char *n = pstr(g, "logGroupName");
            if (n && strcmp(n, name) == 0 && !*lg)
                *lg = json_incref(g);
        }
        if (!*lg && pstr(out, "nextToken"))
            next = dr_xstrdup(pstr(out, "nextToken"));
        json_decref(out);
        if (!next)
            return 0;
    }
}

/* "arn:...:log-group:NAME" (tagging) from whichever form AWS gave. */
static char *lg_bare_arn(json_t *lg)
{
    const char *a = pstr(lg, "logGroupArn");
    if (a)
        return dr_xstrdup(a);
    a = pstr(lg, "arn");
    if (!a)
        return NULL;
    size_t n = strlen(a);
    if (n > 2 && strcmp(a + n - 2, ":*") == 0)
        n -= 2;
    return dr_xstrndup(a, n);
}

/* GetAtt Arn: CloudFormation's form, ending in ":*". */
static json_t *lg_attrs(json_t *lg)
{
    json_t *a = json_object();
    const char *arn = pstr(lg, "arn");
    if (arn) {
        json_object_set_new(a, "Arn", json_string(arn));
    } else if (pstr(lg, "logGroupArn")) {
        char *s = dr_xasprintf("%s:*", pstr(lg, "logGroupArn"));
        json_object_set_new(a, "Arn", json_string(s));
        free(s);
    }
    return a;
}

/* Retention and key towards new_props (old_props NULL: a group just made,
 * which has neither, or one taken over, whose values are unknown). */
static int lg_configure(dr_apply_ctx *c, const char *name, json_t *lg, json_t *old_props,
                        json_t *new_props, dr_err *err)
{
    long long days = 0;
    int want_days = pint(new_props, "RetentionInDays", &days);
    int do_ret = old_props ? prop_changed(old_props, new_props, "RetentionInDays") : want_days;
    if (!old_props && lg && want_days) {
        long long have = 0;
        do_ret = !(pint(lg, "retentionInDays", &have) && have == days);
    }
    if (do_ret) {
        json_t *in = json_pack("{s:s}", "logGroupName", name);
        if (want_days) {
            json_object_set_new(in, "retentionInDays", json_integer(days));
            if (logs(c, "PutRetentionPolicy", in, NULL, err) != 0)
                return -1;
        } else if (logs(c, "DeleteRetentionPolicy", in, NULL, err) != 0) {
            return -1;
        }
    }
    const char *key = pstr(new_props, "KmsKeyId");
    int do_key = old_props ? prop_changed(old_props, new_props, "KmsKeyId")
                           : (lg && known(key) &&
                              !(pstr(lg, "kmsKeyId") && strcmp(pstr(lg, "kmsKeyId"), key) == 0));
    if (do_key) {
        if (known(key)) {
            if (logs(c, "AssociateKmsKey",
                     json_pack("{s:s, s:s}", "logGroupName", name, "kmsKeyId", key), NULL,
                     err) != 0)
                return -1;
        } else if (logs(c, "DisassociateKmsKey", json_pack("{s:s}", "logGroupName", name), NULL,
                        err) != 0) {
            return -1;
        }
    }
    return 0;
}

static int lg_tag(dr_apply_ctx *c, json_t *lg, json_t *tags, json_t *gone, dr_err *err)
{
    char *arn = lg_bare_arn(lg);
    if (!arn) {
        json_decref(gone);
        return dr_err_set(err, DR_E_AWS, "log group %s: DescribeLogGroups gave no ARN",
                          pstr(lg, "logGroupName") ? pstr(lg, "logGroupName") : "?");
    }
    int rc = 0;
    if (json_array_size(tags) > 0)
        rc = logs(c, "TagResource",
                  json_pack("{s:s, s:o}", "resourceArn", arn, "tags", tags_map(tags)), NULL, err);
    if (rc == 0 && gone) {
        rc = logs(c, "UntagResource", json_pack("{s:s, s:O}", "resourceArn", arn, "tagKeys", gone),
                  NULL, err);
    }
    json_decref(gone);
    free(arn);
    return rc;
}

static int lg_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                     const char *token, dr_live *out, dr_err *err)
{
    char *name = name_of(c, logical_id, props, "LogGroupName");
    json_t *in = json_pack("{s:s}", "logGroupName", name);
    if (json_array_size(tags) > 0)
        json_object_set_new(in, "tags", tags_map(tags));
    if (known(pstr(props, "KmsKeyId")))
        json_object_set_new(in, "kmsKeyId", json_string(pstr(props, "KmsKeyId")));
    if (known(pstr(props, "LogGroupClass")))
        json_object_set_new(in, "logGroupClass", json_string(pstr(props, "LogGroupClass")));
    int taken_over = 0;
    if (logs(c, "CreateLogGroup", in, NULL, err) != 0) {
        if (!is_code(err, "ResourceAlreadyExistsException")) {
            free(name);
            return -1;
        }
        /* A lost answer, or a group something else made first (the awslogs
         * driver can): the name is ours by the model, take it over. */
        dr_err_clear(err);
        taken_over = 1;
    }
    json_t *lg = NULL;
    if (lg_describe(c, name, &lg, err) != 0) {
        free(name);
        return -1;
    }
    if (!lg) {
        dr_err_set(err, DR_E_AWS, "log group %s: not found right after CreateLogGroup", name);
        free(name);
        return -1;
    }
    if ((taken_over && lg_tag(c, lg, tags, NULL, err) != 0) ||
        lg_configure(c, name, taken_over ? lg : NULL, NULL, props, err) != 0) {
        json_decref(lg);
        free(name);
        return -1;
    }
    set_live(out, name, lg_attrs(lg));
    json_decref(lg);
    free(name);
    (void)token; /* CreateLogGroup takes no token: the name is the key. */
    return 0;
}

static int lg_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                   dr_err *err)
{
    *found = 0;
    char *name = name_of(c, logical_id, props, "LogGroupName");
    json_t *lg = NULL;
    int rc = lg_describe(c, name, &lg, err);
    if (rc == 0 && lg) {
        set_live(out, name, lg_attrs(lg));
        json_t *lp = json_object();
        if (json_object_get(props, "LogGroupName"))
            json_object_set_new(lp, "LogGroupName", json_string(name));
        long long days;
        if (json_object_get(props, "RetentionInDays") && pint(lg, "retentionInDays", &days))
            json_object_set_new(lp, "RetentionInDays", json_integer(days));
        if (json_object_get(props, "LogGroupClass") && pstr(lg, "logGroupClass"))
            json_object_set_new(lp, "LogGroupClass", json_string(pstr(lg, "logGroupClass")));
        json_decref(out->properties);
        out->properties = lp;
        *found = 1;
    }
    json_decref(lg);
    free(name);
    return rc;
}

static int lg_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                   dr_live *out, dr_err *err)
{
    json_t *lg = NULL;
    if (lg_describe(c, physical_id, &lg, err) != 0)
        return -1;
    *exists = lg != NULL;
    if (lg)
        set_live(out, physical_id, lg_attrs(lg));
    json_decref(lg);
    return 0;
}

static int lg_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                     dr_live *out, dr_err *err)
{
    json_t *lg = NULL;
    if (lg_describe(c, physical_id, &lg, err) != 0)
        return -1;
    if (!lg)
        return dr_err_set(err, DR_E_AWS, "log group %s is gone", physical_id);
    int rc = lg_configure(c, physical_id, NULL, old_props, new_props, err);
    if (rc == 0 && prop_changed(old_props, new_props, "Tags")) {
        json_t *tags = json_object_get(new_props, "Tags");
        rc = lg_tag(c, lg, tags, tags_removed(json_object_get(old_props, "Tags"), tags), err);
    }
    if (rc == 0)
        set_live(out, physical_id, lg_attrs(lg));
    json_decref(lg);
    return rc;
}

static int lg_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    if (logs(c, "DeleteLogGroup", json_pack("{s:s}", "logGroupName", physical_id), NULL, err) == 0)
        return 0;
    if (not_found(err)) {
        dr_err_clear(err);
        return 0;
    }
    return -1;
}

/* ---- CloudWatch alarms ------------------------------------------------------ */

static int cw(dr_apply_ctx *c, const char *op, json_t *in, json_t **out, dr_err *err)
{
    int rc = dr_aws_json(c->aws, "cloudwatch", c->region, op, in, out, err);
    json_decref(in);
    return rc;
}

/* PutMetricAlarm's members that CloudFormation's AWS::CloudWatch::Alarm
 * names alike, by JSON type. */
static const char *const alarm_ints[] = {"Period", "EvaluationPeriods", "DatapointsToAlarm", NULL};
static const char *const alarm_copied[] = {"AlarmDescription",
                                           "OKActions",
                                           "AlarmActions",
                                           "InsufficientDataActions",
                                           "MetricName",
                                           "Namespace",
                                           "Statistic",
                                           "ExtendedStatistic",
                                           "Dimensions",
                                           "Unit",
                                           "ComparisonOperator",
                                           "TreatMissingData",
                                           "EvaluateLowSampleCountPercentile",
                                           "Metrics",
                                           "ThresholdMetricId",
                                           NULL};

static int alarm_threshold(json_t *props, double *out)
{
    json_t *v = json_object_get(props, "Threshold");
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 1;
    }
    if (json_is_string(v)) {
        char *end;
        *out = strtod(json_string_value(v), &end);
        return *json_string_value(v) && *end == '\0';
    }
    return 0;
}

/* The PutMetricAlarm request for the model's properties. */
static json_t *alarm_input(const char *name, json_t *props)
{
    json_t *in = json_pack("{s:s}", "AlarmName", name);
    for (int i = 0; alarm_copied[i]; i++) {
        json_t *v = json_object_get(props, alarm_copied[i]);
        if (v && !json_is_null(v))
            json_object_set_new(in, alarm_copied[i], json_deep_copy(v));
    }
    for (int i = 0; alarm_ints[i]; i++) {
        long long n;
        if (pint(props, alarm_ints[i], &n))
            json_object_set_new(in, alarm_ints[i], json_integer(n));
    }
    double t;
    if (alarm_threshold(props, &t))
        json_object_set_new(in, "Threshold", json_real(t));
    json_t *ae = json_object_get(props, "ActionsEnabled");
    if (json_is_boolean(ae))
        json_object_set(in, "ActionsEnabled", ae);
    else if (json_is_string(ae))
        json_object_set_new(in, "ActionsEnabled",
                            json_boolean(strcasecmp(json_string_value(ae), "true") == 0));
    return in;
}

/* The metric alarm of this name (new reference) or NULL. */
static int alarm_describe(dr_apply_ctx *c, const char *name, json_t **alarm, dr_err *err)
{
    *alarm = NULL;
    json_t *out = NULL;
    if (cw(c, "DescribeAlarms",
           json_pack("{s:[s], s:[s]}", "AlarmNames", name, "AlarmTypes", "MetricAlarm"), &out,
           err) != 0)
        return -1;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(out, "MetricAlarms"), i, a)
    {
        if (pstr(a, "AlarmName") && strcmp(pstr(a, "AlarmName"), name) == 0 && !*alarm)
            *alarm = json_incref(a);
    }
    json_decref(out);
    return 0;
}

static json_t *alarm_attrs(json_t *alarm)
{
    json_t *a = json_object();
    if (pstr(alarm, "AlarmArn"))
        json_object_set_new(a, "Arn", json_string(pstr(alarm, "AlarmArn")));
    return a;
}

static int alarm_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                        const char *token, dr_live *out, dr_err *err)
{
    char *name = name_of(c, logical_id, props, "AlarmName");
    json_t *in = alarm_input(name, props);
    if (json_array_size(tags) > 0)
        json_object_set_new(in, "Tags", tags_kv(tags));
    json_t *alarm = NULL;
    int rc = cw(c, "PutMetricAlarm", in, NULL, err);
    if (rc == 0)
        rc = alarm_describe(c, name, &alarm, err);
    if (rc == 0 && !alarm)
        rc = dr_err_set(err, DR_E_AWS, "alarm %s: not found right after PutMetricAlarm", name);
    if (rc == 0)
        set_live(out, name, alarm_attrs(alarm));
    json_decref(alarm);
    free(name);
    (void)token; /* PutMetricAlarm is an upsert: a retry overwrites. */
    return rc;
}

/* What the alarm has, for the properties the model sets. */
static json_t *alarm_live_props(json_t *alarm, json_t *props)
{
    json_t *lp = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(props, k, v)
    {
        json_t *have = json_object_get(alarm, k);
        if (!have || strcmp(k, "Tags") == 0)
            continue;
        if (strcmp(k, "Threshold") == 0 && json_is_number(have))
            json_object_set_new(lp, k, json_real(json_number_value(have)));
        else
            json_object_set(lp, k, have);
    }
    return lp;
}

static int alarm_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                      dr_live *out, dr_err *err)
{
    *found = 0;
    char *name = name_of(c, logical_id, props, "AlarmName");
    json_t *alarm = NULL;
    int rc = alarm_describe(c, name, &alarm, err);
    if (rc == 0 && alarm) {
        set_live(out, name, alarm_attrs(alarm));
        json_decref(out->properties);
        out->properties = alarm_live_props(alarm, props);
        *found = 1;
    }
    json_decref(alarm);
    free(name);
    return rc;
}

static int alarm_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                      dr_live *out, dr_err *err)
{
    json_t *alarm = NULL;
    if (alarm_describe(c, physical_id, &alarm, err) != 0)
        return -1;
    *exists = alarm != NULL;
    if (alarm)
        set_live(out, physical_id, alarm_attrs(alarm));
    json_decref(alarm);
    return 0;
}

static int alarm_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                        json_t *new_props, dr_live *out, dr_err *err)
{
    /* The whole definition: PutMetricAlarm replaces what it is not given. */
    if (cw(c, "PutMetricAlarm", alarm_input(physical_id, new_props), NULL, err) != 0)
        return -1;
    json_t *alarm = NULL;
    if (alarm_describe(c, physical_id, &alarm, err) != 0)
        return -1;
    if (!alarm)
        return dr_err_set(err, DR_E_AWS, "alarm %s is gone", physical_id);
    int rc = 0;
    const char *arn = pstr(alarm, "AlarmArn");
    if (arn && prop_changed(old_props, new_props, "Tags")) {
        /* PutMetricAlarm's Tags apply at creation only. */
        json_t *tags = json_object_get(new_props, "Tags");
        if (json_array_size(tags) > 0)
            rc = cw(c, "TagResource",
                    json_pack("{s:s, s:o}", "ResourceARN", arn, "Tags", tags_kv(tags)), NULL, err);
        json_t *gone = tags_removed(json_object_get(old_props, "Tags"), tags);
        if (rc == 0 && gone)
            rc = cw(c, "UntagResource",
                    json_pack("{s:s, s:O}", "ResourceARN", arn, "TagKeys", gone), NULL, err);
        json_decref(gone);
    }
    if (rc == 0)
        set_live(out, physical_id, alarm_attrs(alarm));
    json_decref(alarm);
    return rc;
}

static int alarm_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    if (cw(c, "DeleteAlarms", json_pack("{s:[s]}", "AlarmNames", physical_id), NULL, err) == 0)
        return 0;
    if (not_found(err)) {
        dr_err_clear(err);
        return 0;
    }
    return -1;
}

/* ---- CloudWatch dashboard --------------------------------------------------- */

/* DashboardBody is a JSON string (the model's Fn::Sub resolved); an object
 * is serialized. */
static char *dash_body(json_t *props)
{
    json_t *b = json_object_get(props, "DashboardBody");
    if (json_is_string(b))
        return dr_xstrdup(json_string_value(b));
    if (json_is_object(b))
        return json_dumps(b, JSON_COMPACT);
    return NULL;
}

/* GetDashboard's answer (new reference) or NULL when there is none. */
static int dash_get(dr_apply_ctx *c, const char *name, json_t **dash, dr_err *err)
{
    *dash = NULL;
    if (cw(c, "GetDashboard", json_pack("{s:s}", "DashboardName", name), dash, err) == 0)
        return 0;
    if (not_found(err)) {
        dr_err_clear(err);
        return 0;
    }
    return -1;
}

static json_t *dash_attrs(json_t *dash)
{
    json_t *a = json_object();
    if (pstr(dash, "DashboardArn"))
        json_object_set_new(a, "Arn", json_string(pstr(dash, "DashboardArn")));
    return a;
}

/* PutDashboard; AWS's validation messages are warnings (the dashboard is
 * saved), so they are shown, not failed on. */
static int dash_put(dr_apply_ctx *c, const char *name, json_t *props, json_t *tags, dr_err *err)
{
    char *body = dash_body(props);
    if (!body)
        return dr_err_set(err, DR_E_CONFIG, "dashboard %s: DashboardBody is missing", name);
    json_t *in = json_pack("{s:s, s:s}", "DashboardName", name, "DashboardBody", body);
    free(body);
    if (json_array_size(tags) > 0)
        json_object_set_new(in, "Tags", tags_kv(tags));
    json_t *out = NULL;
    if (cw(c, "PutDashboard", in, &out, err) != 0)
        return -1;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(out, "DashboardValidationMessages"), i, m)
    {
        dr_warn(c->log, "dashboard %s: %s%s%s", name,
                pstr(m, "DataPath") ? pstr(m, "DataPath") : "", pstr(m, "DataPath") ? ": " : "",
                pstr(m, "Message") ? pstr(m, "Message") : "?");
    }
    json_decref(out);
    return 0;
}

static int dash_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                       const char *token, dr_live *out, dr_err *err)
{
    char *name = name_of(c, logical_id, props, "DashboardName");
    json_t *dash = NULL;
    int rc = dash_put(c, name, props, tags, err);
    if (rc == 0)
        rc = dash_get(c, name, &dash, err);
    if (rc == 0 && !dash)
        rc = dr_err_set(err, DR_E_AWS, "dashboard %s: not found right after PutDashboard", name);
    if (rc == 0)
        set_live(out, name, dash_attrs(dash));
    json_decref(dash);
    free(name);
    (void)token; /* PutDashboard is an upsert. */
    return rc;
}

static int dash_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                     dr_live *out, dr_err *err)
{
    *found = 0;
    char *name = name_of(c, logical_id, props, "DashboardName");
    json_t *dash = NULL;
    int rc = dash_get(c, name, &dash, err);
    if (rc == 0 && dash) {
        set_live(out, name, dash_attrs(dash));
        json_t *lp = json_object();
        if (json_object_get(props, "DashboardName"))
            json_object_set_new(lp, "DashboardName", json_string(name));
        if (json_is_string(json_object_get(props, "DashboardBody")) && pstr(dash, "DashboardBody"))
            json_object_set_new(lp, "DashboardBody", json_string(pstr(dash, "DashboardBody")));
        json_decref(out->properties);
        out->properties = lp;
        *found = 1;
    }
    json_decref(dash);
    free(name);
    return rc;
}

static int dash_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                     dr_live *out, dr_err *err)
{
    json_t *dash = NULL;
    if (dash_get(c, physical_id, &dash, err) != 0)
        return -1;
    *exists = dash != NULL;
    if (dash)
        set_live(out, physical_id, dash_attrs(dash));
    json_decref(dash);
    return 0;
}

static int dash_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                       json_t *new_props, dr_live *out, dr_err *err)
{
    if (dash_put(c, physical_id, new_props, NULL, err) != 0)
        return -1;
    json_t *dash = NULL;
    if (dash_get(c, physical_id, &dash, err) != 0)
        return -1;
    if (!dash)
        return dr_err_set(err, DR_E_AWS, "dashboard %s is gone", physical_id);
    set_live(out, physical_id, dash_attrs(dash));
    json_decref(dash);
    return 0;
}

static int dash_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    if (cw(c, "DeleteDashboards", json_pack("{s:[s]}", "DashboardNames", physical_id), NULL, err) ==
        0)
        return 0;
    if (not_found(err)) {
        dr_err_clear(err);
        return 0;
    }
    return -1;
}

/* ---- the table -------------------------------------------------------------- */

static const char *const lg_updatable[] = {"RetentionInDays", "KmsKeyId", "Tags", NULL};
static const char *const lg_names[] = {"LogGroupName", NULL};

/* Everything but the name: PutMetricAlarm overwrites the whole alarm. */
static const char *const alarm_updatable[] = {"AlarmDescription",
                                              "ActionsEnabled",
                                              "OKActions",
                                              "AlarmActions",
                                              "InsufficientDataActions",
                                              "MetricName",
                                              "Namespace",
                                              "Statistic",
                                              "ExtendedStatistic",
                                              "Dimensions",
                                              "Period",
                                              "Unit",
                                              "EvaluationPeriods",
                                              "DatapointsToAlarm",
                                              "Threshold",
                                              "ComparisonOperator",
                                              "TreatMissingData",
                                              "EvaluateLowSampleCountPercentile",
                                              "Metrics",
                                              "ThresholdMetricId",
                                              "Tags",
                                              NULL};
static const char *const alarm_names[] = {"AlarmName", NULL};

static const char *const dash_updatable[] = {"DashboardBody", NULL};
static const char *const dash_names[] = {"DashboardName", NULL};

const dr_handler dr_handlers_monitoring[] = {
    {.type = "AWS::Logs::LogGroup",
     .create = lg_create,
     .find = lg_find,
     .read = lg_read,
     .update = lg_update,
     .remove = lg_remove,
     .update_in_place = lg_updatable,
     .name_properties = lg_names},
    {.type = "AWS::CloudWatch::Alarm",
     .create = alarm_create,
     .find = alarm_find,
     .read = alarm_read,
     .update = alarm_update,
     .remove = alarm_remove,
     .update_in_place = alarm_updatable,
     .name_properties = alarm_names},
    {.type = "AWS::CloudWatch::Dashboard",
     .create = dash_create,
     .find = dash_find,
     .read = dash_read,
     .update = dash_update,
     .remove = dash_remove,
     .update_in_place = dash_updatable,
     .name_properties = dash_names},
    {.type = NULL},
};
