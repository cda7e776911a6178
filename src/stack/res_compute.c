/*
 * res_compute.c - resource handlers of the compute family: the Application
 * Load Balancer (load balancer, target group, listeners), the ECS cluster,
 * task definition and service, and Application Auto Scaling (scalable
 * target, scaling policies). The contract is in handler.h.
 *
 * The three APIs and how CloudFormation's properties reach them:
 * - ELBv2 speaks the query protocol and uses CloudFormation's own member
 *   names (checked against botocore's elbv2 model and cfn-lint's schemas):
 *   properties are flattened as they are (Name.member.N, Name.Sub), see
 *   dr_compute_query_flatten. LoadBalancerAttributes/TargetGroupAttributes
 *   are separate Modify* calls.
 * - ECS speaks JSON with camelCase members: dr_compute_ecs_keys lower-cases
 *   the first letter of every key, except the few names the two disagree on
 *   and map-typed members (log options, Docker labels) whose keys are the
 *   user's and stay as written.
 * - Application Auto Scaling speaks JSON with CloudFormation's names.
 *
 * Physical ids are what CloudFormation's Ref returns: the load balancer's,
 * target group's, listener's, service's and scaling policy's ARNs, the
 * cluster's name, the task definition's ARN (with its revision), and
 * "resourceId|scalableDimension|serviceNamespace" for a scalable target.
 *
 * Why the creates look up the name first: for an existing name AWS's
 * CreateLoadBalancer, CreateTargetGroup, CreateCluster and CreateService
 * return the existing resource (or refuse), and moto quietly makes a second
 * one. A create retried after a lost answer must continue with its own
 * resource, and must never take over one of the same name that another
 * stack (or a person) owns: so create adopts a resource of that name only
 * when it carries this stack's drctl:stack and drctl:logical-id tags, and
 * otherwise stops with an error that names the conflict.
 *
 * Deleting: a load balancer is deleted with its deletion protection turned
 * off, and waited for until its network interfaces are gone too (they keep
 * the subnets and security groups busy for minutes after the delete); a
 * service is scaled to 0 and force-deleted, then waited for until INACTIVE
 * (a DRAINING service keeps its cluster from being deleted and its name
 * from being reused); a task definition revision is deregistered and then
 * deleted; a target group still "in use" right after its listener went is
 * tried again for a while.
 */
#include <ctype.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/client.h"
#include "aws/xml.h"
#include "stack/handler.h"
#include "util/buf.h"
#include "util/kv.h"
#include "util/mem.h"

/* Pure helpers, exported for tests/unit/test_res_compute.c (no header: they
 * are internal to this family). */
json_t *dr_compute_ecs_keys(json_t *v);
void dr_compute_query_flatten(dr_kvlist *out, const char *prefix, json_t *v);
int dr_compute_target_id_parse(const char *id, char **rid, char **dim, char **ns);
int dr_compute_policy_arn_parse(const char *arn, char **ns, char **rid, char **name);
char *dr_compute_service_cluster(const char *arn);
char *dr_compute_elb_full_name(const char *arn);

/* ---- small helpers ------------------------------------------------------ */

static const char *known(const char *s)
{
    return s && *s && strcmp(s, DR_KNOWN_AFTER_APPLY) != 0 ? s : NULL;
}

/* A string property, NULL when absent or not known yet. */
static const char *pstr(json_t *o, const char *key)
{
    return known(json_string_value(json_object_get(o, key)));
}

static int is_code(const dr_err *e, const char *code)
{
    return e->has_aws && strcmp(e->aws.code, code) == 0;
}

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

/* 1 when property k differs between the two (absent on one side counts). */
static int changed(json_t *a, json_t *b, const char *k)
{
    json_t *x = json_object_get(a, k), *y = json_object_get(b, k);
    if (!x && !y)
        return 0;
    if (!x || !y)
        return 1;
    return !json_equal(x, y);
}

static int any_changed(json_t *a, json_t *b, const char *const *keys)
{
    for (; *keys; keys++)
        if (changed(a, b, *keys))
            return 1;
    return 0;
}

/* The shortest decimal form that reads back as the same double. */
static char *real_str(double d)
{
    char buf[64];
    /* Whole numbers as integers ("70", not "7e+01"). */
    if (d > -1e15 && d < 1e15 && d == (double)(long long)d)
        return dr_xasprintf("%lld", (long long)d);
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return dr_xstrdup(buf);
}

/* A scalar as the query protocol writes it; NULL for objects, arrays, null. */
static char *scalar_str(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return dr_xstrdup(json_string_value(v));
    case JSON_INTEGER:
        return dr_xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL:
        return real_str(json_real_value(v));
    case JSON_TRUE:
        return dr_xstrdup("true");
    case JSON_FALSE:
        return dr_xstrdup("false");
    default:
        return NULL;
    }
}

/*
 * A deterministic name when the model gives none: "<stack>-<logical id>"
 * reduced to what all the APIs here accept (letters, digits, hyphens), at
 * most max characters, no hyphen at either end. Deterministic so that find
 * can look it up after a lost state file.
 */
static char *derived_name(const dr_apply_ctx *c, const char *logical_id, size_t max)
{
    char *raw = dr_xasprintf("%s-%s", c->stack ? c->stack : "drctl", logical_id);
    dr_buf b = DR_BUF_INIT;
    for (const char *p = raw; *p && b.len < max; p++) {
        char ch = isalnum((unsigned char)*p) ? *p : '-';
        if (ch == '-' && (b.len == 0 || b.data[b.len - 1] == '-'))
            continue;
        dr_buf_putc(&b, ch);
    }
    while (b.len > 0 && b.data[b.len - 1] == '-')
        b.data[--b.len] = '\0';
    free(raw);
    if (b.len == 0)
        dr_buf_puts(&b, "drctl");
    return dr_buf_detach(&b);
}

static char *name_of(const dr_apply_ctx *c, json_t *props, const char *key, const char *logical_id,
                     size_t max)
{
    const char *n = pstr(props, key);
    return n ? dr_xstrdup(n) : derived_name(c, logical_id, max);
}

/* Keeps in live only the properties the model sets: AWS reports defaults
 * the model leaves out, and those would show as changes on every plan. */
static json_t *only_model_keys(json_t *live, json_t *props)
{
    if (!live)
        return NULL;
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(live, tmp, k, v)
    {
        if (!json_object_get(props, k))
            json_object_del(live, k);
    }
    return live;
}

/* ---- tags --------------------------------------------------------------- */

/* {Key: Value} of a list of {kname, vname} objects. */
static json_t *tags_obj_named(json_t *list, const char *kname, const char *vname)
{
    json_t *o = json_object();
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t)
    {
        const char *k = json_string_value(json_object_get(t, kname));
        const char *v = json_string_value(json_object_get(t, vname));
        if (k)
            json_object_set_new(o, k, json_string(v ? v : ""));
    }
    return o;
}

static json_t *tags_obj(json_t *list)
{
    return tags_obj_named(list, "Key", "Value");
}

static int tags_ours(json_t *obj, const dr_apply_ctx *c, const char *logical_id)
{
    const char *s = json_string_value(json_object_get(obj, "drctl:stack"));
    const char *l = json_string_value(json_object_get(obj, "drctl:logical-id"));
    return s && l && c->stack && strcmp(s, c->stack) == 0 && strcmp(l, logical_id) == 0;
}

static int tags_of_stack(json_t *obj, const dr_apply_ctx *c)
{
    const char *s = json_string_value(json_object_get(obj, "drctl:stack"));
    return s && c->stack && strcmp(s, c->stack) == 0;
}

/* What a change of the Tags property means: the tags to set ([{Key,
 * Value}]) and the keys to drop. drctl's own keys are never dropped: find
 * relies on them. */
static void tag_delta(json_t *old_props, json_t *new_props, json_t **set, json_t **drop)
{
    json_t *o = tags_obj(json_object_get(old_props, "Tags"));
    json_t *n = tags_obj(json_object_get(new_props, "Tags"));
    *set = json_array();
    *drop = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(n, k, v)
    {
        if (!json_equal(v, json_object_get(o, k)))
            json_array_append_new(*set, json_pack("{s:s, s:O}", "Key", k, "Value", v));
    }
    json_object_foreach(o, k, v)
    {
        if (!json_object_get(n, k) && strcmp(k, "drctl:stack") != 0 &&
            strcmp(k, "drctl:logical-id") != 0)
            json_array_append_new(*drop, json_string(k));
    }
    json_decref(o);
    json_decref(n);
}

/* ---- ELBv2: the query protocol ------------------------------------------ */

/* Map-typed ELBv2 members among CloudFormation's properties: the query
 * protocol writes them as Name.entry.N.key / Name.entry.N.value. */
static const char *const elb_maps[] = {"AuthenticationRequestExtraParams", NULL};

/*
 * Flattens a CloudFormation value into query parameters under `prefix`:
 * objects as prefix.Member, lists as prefix.member.N (ELBv2's lists are not
 * "flattened" in botocore's sense), scalars as text (booleans as
 * true/false). null is left out.
 */
void dr_compute_query_flatten(dr_kvlist *out, const char *prefix, json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            char *p = dr_xasprintf("%s.%s", prefix, k);
            if (in_list(elb_maps, k) && json_is_object(x)) {
                size_t n = 0;
                const char *mk;
                json_t *mv;
                json_object_foreach(x, mk, mv)
                {
                    char *s = scalar_str(mv);
                    if (!s)
                        continue;
                    n++;
                    char *kn = dr_xasprintf("%s.entry.%zu.key", p, n);
                    char *vn = dr_xasprintf("%s.entry.%zu.value", p, n);
                    dr_kv_add(out, kn, mk);
                    dr_kv_add(out, vn, s);
                    free(kn);
                    free(vn);
                    free(s);
                }
            } else {
                dr_compute_query_flatten(out, p, x);
            }
            free(p);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            char *p = dr_xasprintf("%s.member.%zu", prefix, i + 1);
            dr_compute_query_flatten(out, p, x);
            free(p);
        }
    } else {
        char *s = scalar_str(v);
        if (s)
            dr_kv_add(out, prefix, s);
        free(s);
    }
}

static void flatten_keys(dr_kvlist *p, json_t *props, const char *const *keys)
{
    for (; *keys; keys++) {
        json_t *v = json_object_get(props, *keys);
        if (v && !json_is_null(v))
            dr_compute_query_flatten(p, *keys, v);
    }
}

/* "app/<name>/<id>" of a load balancer ARN (CloudWatch's LoadBalancer
 * dimension), "targetgroup/<name>/<id>" of a target group ARN; NULL for
 * anything else. */
char *dr_compute_elb_full_name(const char *arn)
{
    if (!arn)
        return NULL;
    const char *p = strstr(arn, ":loadbalancer/");
    if (p)
        return p[14] ? dr_xstrdup(p + 14) : NULL;
    p = strstr(arn, ":targetgroup/");
    if (p)
        return dr_xstrdup(p + 1);
    return NULL;
}

static int elb(dr_apply_ctx *c, const char *action, const dr_kvlist *p, xmlDocPtr *doc, dr_err *err)
{
    return dr_aws_query(c->aws, "elbv2", c->region, action, p, doc, err);
}

static xmlNodePtr doc_find(xmlDocPtr doc, const char *path)
{
    return doc ? dr_xml_find(xmlDocGetRootElement(doc), path) : NULL;
}

/* Text of an element into o[key], when present. */
static void put_text(json_t *o, const char *key, xmlNodePtr n, const char *path)
{
    char *s = dr_xml_text(n, path);
    if (s)
        json_object_set_new(o, key, json_string(s));
    free(s);
}

static void put_int(json_t *o, const char *key, xmlNodePtr n, const char *path)
{
    char *s = dr_xml_text(n, path);
    if (s && *s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (*end == '\0')
            json_object_set_new(o, key, json_integer(v));
    }
    free(s);
}

static void put_bool(json_t *o, const char *key, xmlNodePtr n, const char *path)
{
    char *s = dr_xml_text(n, path);
    if (s && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0))
        json_object_set_new(o, key, json_boolean(strcmp(s, "true") == 0));
    free(s);
}

/* The text of each <member> of a list element, as a JSON array. */
static json_t *member_texts(xmlNodePtr n, const char *path)
{
    json_t *a = json_array();
    char *full = dr_xasprintf("%s/member", path);
    for (xmlNodePtr m = dr_xml_find(n, full); m; m = dr_xml_next_same(m)) {
        xmlChar *t = xmlNodeGetContent(m);
        if (t)
            json_array_append_new(a, json_string((const char *)t));
        xmlFree(t);
    }
    free(full);
    return a;
}

/* Tags of ELBv2 resources, 20 ARNs per DescribeTags (its limit):
 * *out = {arn: {key: value}}. */
static int elb_tags(dr_apply_ctx *c, json_t *arns, json_t **out, dr_err *err)
{
    json_t *res = json_object();
    size_t n = json_array_size(arns);
    for (size_t off = 0; off < n; off += 20) {
        dr_kvlist p = DR_KVLIST_INIT;
        for (size_t i = off; i < n && i < off + 20; i++) {
            char *k = dr_xasprintf("ResourceArns.member.%zu", i - off + 1);
            dr_kv_add(&p, k, json_string_value(json_array_get(arns, i)));
            free(k);
        }
        xmlDocPtr doc = NULL;
        int rc = elb(c, "DescribeTags", &p, &doc, err);
        dr_kv_free(&p);
        if (rc != 0) {
            json_decref(res);
            return -1;
        }
        for (xmlNodePtr d = doc_find(doc, "DescribeTagsResult/TagDescriptions/member"); d;
             d = dr_xml_next_same(d)) {
            char *arn = dr_xml_text(d, "ResourceArn");
            json_t *t = json_object();
            for (xmlNodePtr tg = dr_xml_find(d, "Tags/member"); tg; tg = dr_xml_next_same(tg)) {
                char *k = dr_xml_text(tg, "Key"), *v = dr_xml_text(tg, "Value");
                if (k)
                    json_object_set_new(t, k, json_string(v ? v : ""));
                free(k);
                free(v);
            }
            if (arn)
                json_object_set_new(res, arn, t);
            else
                json_decref(t);
            free(arn);
        }
        xmlFreeDoc(doc);
    }
    *out = res;
    return 0;
}

static int elb_is_ours(dr_apply_ctx *c, const char *arn, const char *logical_id, int *ours,
                       dr_err *err)
{
    *ours = 0;
    json_t *arns = json_pack("[s]", arn), *tags = NULL;
    int rc = elb_tags(c, arns, &tags, err);
    if (rc == 0)
        *ours = tags_ours(json_object_get(tags, arn), c, logical_id);
    json_decref(arns);
    json_decref(tags);
    return rc;
}

static int elb_update_tags(dr_apply_ctx *c, const char *arn, json_t *old_props, json_t *new_props,
                           dr_err *err)
{
    if (!changed(old_props, new_props, "Tags"))
        return 0;
    json_t *set, *drop;
    tag_delta(old_props, new_props, &set, &drop);
    int rc = 0;
    if (json_array_size(set)) {
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "ResourceArns.member.1", arn);
        dr_compute_query_flatten(&p, "Tags", set);
        rc = elb(c, "AddTags", &p, NULL, err);
        dr_kv_free(&p);
    }
    if (rc == 0 && json_array_size(drop)) {
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "ResourceArns.member.1", arn);
        dr_compute_query_flatten(&p, "TagKeys", drop);
        rc = elb(c, "RemoveTags", &p, NULL, err);
        dr_kv_free(&p);
    }
    json_decref(set);
    json_decref(drop);
    return rc;
}

/* Modify{LoadBalancer,TargetGroup}Attributes with the model's [{Key,
 * Value}] list. Keys the model stops setting keep their last value (AWS
 * has no "reset to default"). */
static int elb_set_attributes(dr_apply_ctx *c, const char *action, const char *arn_param,
                              const char *arn, json_t *list, dr_err *err)
{
    if (!json_is_array(list) || json_array_size(list) == 0)
        return 0;
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, arn_param, arn);
    dr_compute_query_flatten(&p, "Attributes", list);
    int rc = elb(c, action, &p, NULL, err);
    dr_kv_free(&p);
    return rc;
}

/* The live values of the attributes the model sets, in the model's order
 * and shape (so that equal means unchanged); *out NULL when the model sets
 * none. */
static int elb_get_attributes(dr_apply_ctx *c, const char *action, const char *arn_param,
                              const char *arn, json_t *want, json_t **out, dr_err *err)
{
    *out = NULL;
    if (!json_is_array(want) || json_array_size(want) == 0)
        return 0;
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, arn_param, arn);
    xmlDocPtr doc = NULL;
    int rc = elb(c, action, &p, &doc, err);
    dr_kv_free(&p);
    if (rc != 0)
        return -1;
    char *path = dr_xasprintf("%sResult/Attributes/member", action);
    json_t *live = json_object();
    for (xmlNodePtr m = doc_find(doc, path); m; m = dr_xml_next_same(m)) {
        char *k = dr_xml_text(m, "Key"), *v = dr_xml_text(m, "Value");
        if (k)
            json_object_set_new(live, k, json_string(v ? v : ""));
        free(k);
        free(v);
    }
    free(path);
    xmlFreeDoc(doc);
    json_t *res = json_array();
    size_t i;
    json_t *w;
    json_array_foreach(want, i, w)
    {
        const char *k = json_string_value(json_object_get(w, "Key"));
        json_t *v = k ? json_object_get(live, k) : NULL;
        if (v)
            json_array_append_new(res, json_pack("{s:s, s:O}", "Key", k, "Value", v));
    }
    json_decref(live);
    *out = res;
    return 0;
}

/* Best-effort delete of what a failed create made; the create's own error
 * is the one reported (with a warning if this fails too). */
static void elb_rollback(dr_apply_ctx *c, const char *action, const char *arn_param,
                         const char *arn)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, arn_param, arn);
    dr_err e2;
    dr_err_clear(&e2);
    if (elb(c, action, &p, NULL, &e2) != 0)
        dr_warn(c->log, "could not delete %s after its failed create: %s", arn, e2.msg);
    dr_kv_free(&p);
}

/* ---- AWS::ElasticLoadBalancingV2::LoadBalancer --------------------------- */

static const char *const lb_create_keys[] = {
    "Subnets", "SubnetMappings", "SecurityGroups",        "Scheme",
    "Type",    "IpAddressType",  "CustomerOwnedIpv4Pool", NULL};
static const char *const lb_update_keys[] = {
    "SecurityGroups", "Subnets", "SubnetMappings", "IpAddressType", "LoadBalancerAttributes",
    "Tags",           NULL};
static const char *const lb_name_keys[] = {"Name", NULL};

/* 1 found (*doc, *m set; caller frees *doc), 0 absent, -1 error. */
static int lb_describe(dr_apply_ctx *c, const char *param, const char *value, xmlDocPtr *doc,
                       xmlNodePtr *m, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, param, value);
    *doc = NULL;
    *m = NULL;
    int rc = elb(c, "DescribeLoadBalancers", &p, doc, err);
    dr_kv_free(&p);
    if (rc != 0) {
        if (is_code(err, "LoadBalancerNotFound")) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    *m = doc_find(*doc, "DescribeLoadBalancersResult/LoadBalancers/member");
    if (!*m) {
        xmlFreeDoc(*doc);
        *doc = NULL;
        return 0;
    }
    return 1;
}

static void lb_live_from(xmlNodePtr m, dr_live *out)
{
    out->physical_id = dr_xml_text(m, "LoadBalancerArn");
    json_t *a = json_object();
    put_text(a, "DNSName", m, "DNSName");
    put_text(a, "CanonicalHostedZoneID", m, "CanonicalHostedZoneId");
    put_text(a, "LoadBalancerName", m, "LoadBalancerName");
    if (out->physical_id) {
        json_object_set_new(a, "LoadBalancerArn", json_string(out->physical_id));
        char *full = dr_compute_elb_full_name(out->physical_id);
        if (full)
            json_object_set_new(a, "LoadBalancerFullName", json_string(full));
        free(full);
    }
    json_object_set_new(a, "SecurityGroups", member_texts(m, "SecurityGroups"));
    json_t *pr = json_object();
    put_text(pr, "Name", m, "LoadBalancerName");
    put_text(pr, "Scheme", m, "Scheme");
    put_text(pr, "Type", m, "Type");
    put_text(pr, "IpAddressType", m, "IpAddressType");
    out->attributes = a;
    out->properties = pr;
}

static int lb_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                     const char *token, dr_live *out, dr_err *err)
{
    char *name = name_of(c, props, "Name", logical_id, 32);
    xmlDocPtr doc = NULL;
    xmlNodePtr m = NULL;
    int rc = -1;
    int f = lb_describe(c, "Names.member.1", name, &doc, &m, err);
    if (f < 0)
        goto out;
    if (f == 1) {
        char *arn = dr_xml_text(m, "LoadBalancerArn");
        int ours = 0;
        int trc = arn ? elb_is_ours(c, arn, logical_id, &ours, err) : 0;
        free(arn);
        if (trc != 0)
            goto out;
        if (!ours) {
            dr_err_set(err, DR_E_CONFIG,
                       "a load balancer named %s already exists and is not this stack's %s", name,
                       logical_id);
            dr_err_hint(err, "delete or rename it, or give the stack another name");
            goto out;
        }
        /* Ours: a create whose answer was lost. Carry on with it. */
    } else {
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "Name", name);
        flatten_keys(&p, props, lb_create_keys);
        dr_compute_query_flatten(&p, "Tags", tags);
        int crc = elb(c, "CreateLoadBalancer", &p, &doc, err);
        dr_kv_free(&p);
        if (crc != 0)
            goto out;
        m = doc_find(doc, "CreateLoadBalancerResult/LoadBalancers/member");
    }
    if (m)
        lb_live_from(m, out);
    if (!out->physical_id) {
        dr_err_set(err, DR_E_AWS, "CreateLoadBalancer returned no load balancer for %s", name);
        goto out;
    }
    if (elb_set_attributes(c, "ModifyLoadBalancerAttributes", "LoadBalancerArn", out->physical_id,
                           json_object_get(props, "LoadBalancerAttributes"), err) != 0) {
        /* Undo a create of this call: a retry would find it by its tags and
         * never set the attributes. */
        if (f == 0)
            elb_rollback(c, "DeleteLoadBalancer", "LoadBalancerArn", out->physical_id);
        goto out;
    }
    rc = 0;
out:
    xmlFreeDoc(doc);
    free(name);
    return rc;
}

static int lb_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                   dr_live *out, dr_err *err)
{
    xmlDocPtr doc;
    xmlNodePtr m;
    int f = lb_describe(c, "LoadBalancerArns.member.1", physical_id, &doc, &m, err);
    if (f < 0)
        return -1;
    *exists = f;
    if (f)
        lb_live_from(m, out);
    xmlFreeDoc(doc);
    return 0;
}

static int lb_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                   dr_err *err)
{
    *found = 0;
    char *name = name_of(c, props, "Name", logical_id, 32);
    xmlDocPtr doc;
    xmlNodePtr m;
    int f = lb_describe(c, "Names.member.1", name, &doc, &m, err);
    free(name);
    if (f <= 0)
        return f;
    int rc = 0, ours = 0;
    char *arn = dr_xml_text(m, "LoadBalancerArn");
    if (arn)
        rc = elb_is_ours(c, arn, logical_id, &ours, err);
    if (rc == 0 && ours) {
        lb_live_from(m, out);
        json_t *attrs = NULL;
        rc = elb_get_attributes(c, "DescribeLoadBalancerAttributes", "LoadBalancerArn", arn,
                                json_object_get(props, "LoadBalancerAttributes"), &attrs, err);
        if (attrs)
            json_object_set_new(out->properties, "LoadBalancerAttributes", attrs);
        only_model_keys(out->properties, props);
        *found = rc == 0;
    }
    free(arn);
    xmlFreeDoc(doc);
    return rc;
}

static int lb_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                     dr_live *out, dr_err *err)
{
    static const char *const sg_keys[] = {"SecurityGroups", NULL};
    static const char *const subnet_keys[] = {"Subnets", "SubnetMappings", NULL};
    static const char *const ip_keys[] = {"IpAddressType", NULL};
    static const struct {
        const char *action;
        const char *const *keys;
    } steps[] = {
        {"SetSecurityGroups", sg_keys}, {"SetSubnets", subnet_keys}, {"SetIpAddressType", ip_keys}};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (!any_changed(old_props, new_props, steps[i].keys))
            continue;
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "LoadBalancerArn", physical_id);
        flatten_keys(&p, new_props, steps[i].keys);
        int rc = elb(c, steps[i].action, &p, NULL, err);
        dr_kv_free(&p);
        if (rc != 0)
            return -1;
    }
    if (changed(old_props, new_props, "LoadBalancerAttributes") &&
        elb_set_attributes(c, "ModifyLoadBalancerAttributes", "LoadBalancerArn", physical_id,
                           json_object_get(new_props, "LoadBalancerAttributes"), err) != 0)
        return -1;
    if (elb_update_tags(c, physical_id, old_props, new_props, err) != 0)
        return -1;
    int exists = 0;
    if (lb_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    if (!exists)
        return dr_err_set(err, DR_E_AWS, "load balancer %s disappeared during its update",
                          physical_id);
    return 0;
}

static int lb_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    /* Deletion protection would refuse the delete: destroy leaves nothing. */
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "LoadBalancerArn", physical_id);
    dr_kv_add(&p, "Attributes.member.1.Key", "deletion_protection.enabled");
    dr_kv_add(&p, "Attributes.member.1.Value", "false");
    int rc = elb(c, "ModifyLoadBalancerAttributes", &p, NULL, err);
    dr_kv_free(&p);
    if (rc == 0) {
        dr_kvlist d = DR_KVLIST_INIT;
        dr_kv_add(&d, "LoadBalancerArn", physical_id);
        rc = elb(c, "DeleteLoadBalancer", &d, NULL, err);
        dr_kv_free(&d);
    }
    if (rc != 0 && is_code(err, "LoadBalancerNotFound")) {
        dr_err_clear(err);
        rc = 0;
    }
    return rc;
}

static int lb_ready_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    const char *arn = ud;
    xmlDocPtr doc;
    xmlNodePtr m;
    int f = lb_describe(c, "LoadBalancerArns.member.1", arn, &doc, &m, err);
    if (f < 0)
        return -1;
    if (f == 0)
        return dr_err_set(err, DR_E_AWS, "load balancer %s disappeared while provisioning", arn);
    char *state = dr_xml_text(m, "State/Code");
    char *reason = dr_xml_text(m, "State/Reason");
    int rc = 0;
    if (state && (strcmp(state, "active") == 0 || strcmp(state, "active_impaired") == 0))
        rc = 1;
    else if (state && strcmp(state, "failed") == 0)
        rc = dr_err_set(err, DR_E_AWS, "load balancer %s failed to provision: %s", arn,
                        reason ? reason : "no reason given");
    free(state);
    free(reason);
    xmlFreeDoc(doc);
    return rc;
}

static int lb_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    return dr_wait(c, "the load balancer to become active", 600, lb_ready_check,
                   (void *)physical_id, err);
}

typedef struct lb_gone {
    const char *arn;
    char *eni_description; /* "ELB app/<name>/<id>" */
    int lb_gone;
} lb_gone;

/* Gone when DescribeLoadBalancers no longer knows it and no network
 * interface of it is left (AWS releases them minutes after the delete, and
 * until then they keep the subnets and security groups from being deleted). */
static int lb_gone_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    lb_gone *g = ud;
    if (!g->lb_gone) {
        xmlDocPtr doc;
        xmlNodePtr m;
        int f = lb_describe(c, "LoadBalancerArns.member.1", g->arn, &doc, &m, err);
        xmlFreeDoc(doc);
        if (f < 0)
            return -1;
        if (f == 1)
            return 0;
        g->lb_gone = 1;
    }
    if (!g->eni_description)
        return 1;
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "Filter.1.Name", "description");
    dr_kv_add(&p, "Filter.1.Value.1", g->eni_description);
    xmlDocPtr doc = NULL;
    int rc = dr_aws_query(c->aws, "ec2", c->region, "DescribeNetworkInterfaces", &p, &doc, err);
    dr_kv_free(&p);
    if (rc != 0)
        return -1;
    int left = doc_find(doc, "networkInterfaceSet/item") != NULL;
    xmlFreeDoc(doc);
    return left ? 0 : 1;
}

static int lb_wait_deleted(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    lb_gone g = {physical_id, NULL, 0};
    char *full = dr_compute_elb_full_name(physical_id);
    if (full)
        g.eni_description = dr_xasprintf("ELB %s", full);
    free(full);
    int rc = dr_wait(c, "the load balancer and its network interfaces to go", 900, lb_gone_check,
                     &g, err);
    free(g.eni_description);
    return rc;
}

/* ---- AWS::ElasticLoadBalancingV2::TargetGroup ---------------------------- */

static const char *const tg_create_keys[] = {"Protocol",
                                             "ProtocolVersion",
                                             "Port",
                                             "VpcId",
                                             "HealthCheckProtocol",
                                             "HealthCheckPort",
                                             "HealthCheckEnabled",
                                             "HealthCheckPath",
                                             "HealthCheckIntervalSeconds",
                                             "HealthCheckTimeoutSeconds",
                                             "HealthyThresholdCount",
                                             "UnhealthyThresholdCount",
                                             "Matcher",
                                             "TargetType",
                                             "IpAddressType",
                                             NULL};
/* What ModifyTargetGroup takes. */
static const char *const tg_health_keys[] = {"HealthCheckProtocol",
                                             "HealthCheckPort",
                                             "HealthCheckEnabled",
                                             "HealthCheckPath",
                                             "HealthCheckIntervalSeconds",
                                             "HealthCheckTimeoutSeconds",
                                             "HealthyThresholdCount",
                                             "UnhealthyThresholdCount",
                                             "Matcher",
                                             NULL};
static const char *const tg_update_keys[] = {"HealthCheckProtocol",
                                             "HealthCheckPort",
                                             "HealthCheckEnabled",
                                             "HealthCheckPath",
                                             "HealthCheckIntervalSeconds",
                                             "HealthCheckTimeoutSeconds",
                                             "HealthyThresholdCount",
                                             "UnhealthyThresholdCount",
                                             "Matcher",
                                             "TargetGroupAttributes",
                                             "Tags",
                                             NULL};
static const char *const tg_name_keys[] = {"Name", NULL};

static int tg_describe(dr_apply_ctx *c, const char *param, const char *value, xmlDocPtr *doc,
                       xmlNodePtr *m, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, param, value);
    *doc = NULL;
    *m = NULL;
    int rc = elb(c, "DescribeTargetGroups", &p, doc, err);
    dr_kv_free(&p);
    if (rc != 0) {
        if (is_code(err, "TargetGroupNotFound")) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    *m = doc_find(*doc, "DescribeTargetGroupsResult/TargetGroups/member");
    if (!*m) {
        xmlFreeDoc(*doc);
        *doc = NULL;
        return 0;
    }
    return 1;
}

static void tg_live_from(xmlNodePtr m, dr_live *out)
{
    out->physical_id = dr_xml_text(m, "TargetGroupArn");
    json_t *a = json_object();
    put_text(a, "TargetGroupName", m, "TargetGroupName");
    if (out->physical_id) {
        json_object_set_new(a, "TargetGroupArn", json_string(out->physical_id));
        char *full = dr_compute_elb_full_name(out->physical_id);
        if (full)
            json_object_set_new(a, "TargetGroupFullName", json_string(full));
        free(full);
    }
    json_object_set_new(a, "LoadBalancerArns", member_texts(m, "LoadBalancerArns"));
    json_t *pr = json_object();
    put_text(pr, "Name", m, "TargetGroupName");
    put_int(pr, "Port", m, "Port");
    put_text(pr, "Protocol", m, "Protocol");
    put_text(pr, "TargetType", m, "TargetType");
    put_text(pr, "VpcId", m, "VpcId");
    put_bool(pr, "HealthCheckEnabled", m, "HealthCheckEnabled");
    put_text(pr, "HealthCheckPath", m, "HealthCheckPath");
    put_text(pr, "HealthCheckProtocol", m, "HealthCheckProtocol");
    put_int(pr, "HealthCheckIntervalSeconds", m, "HealthCheckIntervalSeconds");
    put_int(pr, "HealthCheckTimeoutSeconds", m, "HealthCheckTimeoutSeconds");
    put_int(pr, "HealthyThresholdCount", m, "HealthyThresholdCount");
    put_int(pr, "UnhealthyThresholdCount", m, "UnhealthyThresholdCount");
    char *code = dr_xml_text(m, "Matcher/HttpCode");
    if (code)
        json_object_set_new(pr, "Matcher", json_pack("{s:s}", "HttpCode", code));
    free(code);
    out->attributes = a;
    out->properties = pr;
}

static int tg_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                     const char *token, dr_live *out, dr_err *err)
{
    /* ECS registers and deregisters the tasks itself; static targets would
     * fight it, and silently ignoring them would be worse. */
    json_t *targets = json_object_get(props, "Targets");
    if (json_array_size(targets) > 0)
        return dr_err_set(err, DR_E_CONFIG,
                          "%s: Targets is not supported on a target group (ECS registers "
                          "the tasks)",
                          logical_id);
    char *name = name_of(c, props, "Name", logical_id, 32);
    xmlDocPtr doc = NULL;
    xmlNodePtr m = NULL;
    int rc = -1;
    int f = tg_describe(c, "Names.member.1", name, &doc, &m, err);
    if (f < 0)
        goto out;
    if (f == 1) {
        char *arn = dr_xml_text(m, "TargetGroupArn");
        int ours = 0;
        int trc = arn ? elb_is_ours(c, arn, logical_id, &ours, err) : 0;
        free(arn);
        if (trc != 0)
            goto out;
        if (!ours) {
            dr_err_set(err, DR_E_CONFIG,
                       "a target group named %s already exists and is not this stack's %s", name,
                       logical_id);
            dr_err_hint(err, "delete or rename it, or give the stack another name");
            goto out;
        }
    } else {
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "Name", name);
        flatten_keys(&p, props, tg_create_keys);
        dr_compute_query_flatten(&p, "Tags", tags);
        int crc = elb(c, "CreateTargetGroup", &p, &doc, err);
        dr_kv_free(&p);
        if (crc != 0)
            goto out;
        m = doc_find(doc, "CreateTargetGroupResult/TargetGroups/member");
    }
    if (m)
        tg_live_from(m, out);
    if (!out->physical_id) {
        dr_err_set(err, DR_E_AWS, "CreateTargetGroup returned no target group for %s", name);
        goto out;
    }
    if (elb_set_attributes(c, "ModifyTargetGroupAttributes", "TargetGroupArn", out->physical_id,
                           json_object_get(props, "TargetGroupAttributes"), err) != 0) {
        if (f == 0) /* as for the load balancer */
            elb_rollback(c, "DeleteTargetGroup", "TargetGroupArn", out->physical_id);
        goto out;
    }
    rc = 0;
out:
    xmlFreeDoc(doc);
    free(name);
    return rc;
}

static int tg_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                   dr_live *out, dr_err *err)
{
    xmlDocPtr doc;
    xmlNodePtr m;
    int f = tg_describe(c, "TargetGroupArns.member.1", physical_id, &doc, &m, err);
    if (f < 0)
        return -1;
    *exists = f;
    if (f)
        tg_live_from(m, out);
    xmlFreeDoc(doc);
    return 0;
}

static int tg_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                   dr_err *err)
{
    *found = 0;
    char *name = name_of(c, props, "Name", logical_id, 32);
    xmlDocPtr doc;
    xmlNodePtr m;
    int f = tg_describe(c, "Names.member.1", name, &doc, &m, err);
    free(name);
    if (f <= 0)
        return f;
    int rc = 0, ours = 0;
    char *arn = dr_xml_text(m, "TargetGroupArn");
    if (arn)
        rc = elb_is_ours(c, arn, logical_id, &ours, err);
    if (rc == 0 && ours) {
        tg_live_from(m, out);
        json_t *attrs = NULL;
        rc = elb_get_attributes(c, "DescribeTargetGroupAttributes", "TargetGroupArn", arn,
                                json_object_get(props, "TargetGroupAttributes"), &attrs, err);
        if (attrs)
            json_object_set_new(out->properties, "TargetGroupAttributes", attrs);
        only_model_keys(out->properties, props);
        *found = rc == 0;
    }
    free(arn);
    xmlFreeDoc(doc);
    return rc;
}

static int tg_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                     dr_live *out, dr_err *err)
{
    if (any_changed(old_props, new_props, tg_health_keys)) {
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "TargetGroupArn", physical_id);
        flatten_keys(&p, new_props, tg_health_keys);
        int rc = elb(c, "ModifyTargetGroup", &p, NULL, err);
        dr_kv_free(&p);
        if (rc != 0)
            return -1;
    }
    if (changed(old_props, new_props, "TargetGroupAttributes") &&
        elb_set_attributes(c, "ModifyTargetGroupAttributes", "TargetGroupArn", physical_id,
                           json_object_get(new_props, "TargetGroupAttributes"), err) != 0)
        return -1;
    if (elb_update_tags(c, physical_id, old_props, new_props, err) != 0)
        return -1;
    int exists = 0;
    if (tg_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    if (!exists)
        return dr_err_set(err, DR_E_AWS, "target group %s disappeared during its update",
                          physical_id);
    return 0;
}

/* One delete attempt: 1 done (or gone), 0 still in use, -1 error. */
static int tg_delete_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "TargetGroupArn", (const char *)ud);
    int rc = elb(c, "DeleteTargetGroup", &p, NULL, err);
    dr_kv_free(&p);
    if (rc == 0)
        return 1;
    if (is_code(err, "TargetGroupNotFound")) {
        dr_err_clear(err);
        return 1;
    }
    /* Right after its listener or service went, a target group can still
     * read as in use for a while. */
    if (is_code(err, "ResourceInUse")) {
        dr_err_clear(err);
        return 0;
    }
    return -1;
}

static int tg_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    return dr_wait(c, "the target group to be released by its listeners", 300, tg_delete_check,
                   (void *)physical_id, err);
}

/* ---- AWS::ElasticLoadBalancingV2::Listener ------------------------------- */

static const char *const listener_keys[] = {"Protocol",
                                            "Port",
                                            "SslPolicy",
                                            "Certificates",
                                            "DefaultActions",
                                            "AlpnPolicy",
                                            "MutualAuthentication",
                                            NULL};

static void listener_live_from(xmlNodePtr m, dr_live *out)
{
    out->physical_id = dr_xml_text(m, "ListenerArn");
    json_t *a = json_object();
    if (out->physical_id)
        json_object_set_new(a, "ListenerArn", json_string(out->physical_id));
    json_t *pr = json_object();
    put_text(pr, "LoadBalancerArn", m, "LoadBalancerArn");
    put_int(pr, "Port", m, "Port");
    put_text(pr, "Protocol", m, "Protocol");
    put_text(pr, "SslPolicy", m, "SslPolicy");
    out->attributes = a;
    out->properties = pr;
}

/* The listeners of a load balancer; *doc NULL when the load balancer is
 * gone. (An ALB has at most 50 listeners: one page.) */
static int listeners_of(dr_apply_ctx *c, const char *lb_arn, xmlDocPtr *doc, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "LoadBalancerArn", lb_arn);
    *doc = NULL;
    int rc = elb(c, "DescribeListeners", &p, doc, err);
    dr_kv_free(&p);
    if (rc != 0 && is_code(err, "LoadBalancerNotFound")) {
        dr_err_clear(err);
        return 0;
    }
    return rc;
}

/* The listener of lb_arn tagged as logical_id of this stack, if any. */
static int listener_find_on(dr_apply_ctx *c, const char *lb_arn, const char *logical_id, int *found,
                            dr_live *out, dr_err *err)
{
    xmlDocPtr doc;
    if (listeners_of(c, lb_arn, &doc, err) != 0)
        return -1;
    json_t *arns = json_array();
    for (xmlNodePtr m = doc_find(doc, "DescribeListenersResult/Listeners/member"); m;
         m = dr_xml_next_same(m)) {
        char *arn = dr_xml_text(m, "ListenerArn");
        if (arn)
            json_array_append_new(arns, json_string(arn));
        free(arn);
    }
    json_t *tags = NULL;
    int rc = json_array_size(arns) ? elb_tags(c, arns, &tags, err) : 0;
    for (xmlNodePtr m = doc_find(doc, "DescribeListenersResult/Listeners/member");
         rc == 0 && m && !*found; m = dr_xml_next_same(m)) {
        char *arn = dr_xml_text(m, "ListenerArn");
        if (arn && tags_ours(json_object_get(tags, arn), c, logical_id)) {
            listener_live_from(m, out);
            *found = 1;
        }
        free(arn);
    }
    json_decref(arns);
    json_decref(tags);
    xmlFreeDoc(doc);
    return rc;
}

/* The ARNs of this stack's load balancers (tag drctl:stack), for look-ups
 * whose load balancer reference is not known (destroy after a lost state). */
static int stack_load_balancers(dr_apply_ctx *c, json_t **out, dr_err *err)
{
    json_t *all = json_array();
    char *marker = NULL;
    int rc = 0;
    do {
        dr_kvlist p = DR_KVLIST_INIT;
        if (marker)
            dr_kv_add(&p, "Marker", marker);
        free(marker);
        marker = NULL;
        xmlDocPtr doc = NULL;
        rc = elb(c, "DescribeLoadBalancers", &p, &doc, err);
        dr_kv_free(&p);
        if (rc != 0)
            break;
        for (xmlNodePtr m = doc_find(doc, "DescribeLoadBalancersResult/LoadBalancers/member"); m;
             m = dr_xml_next_same(m)) {
            char *arn = dr_xml_text(m, "LoadBalancerArn");
            if (arn)
                json_array_append_new(all, json_string(arn));
            free(arn);
        }
        char *next =
            dr_xml_text(xmlDocGetRootElement(doc), "DescribeLoadBalancersResult/NextMarker");
        if (next && *next)
            marker = next;
        else
            free(next);
        xmlFreeDoc(doc);
    } while (marker);
    json_t *tags = NULL;
    if (rc == 0 && json_array_size(all))
        rc = elb_tags(c, all, &tags, err);
    json_t *res = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(all, i, a)
    {
        if (tags_of_stack(json_object_get(tags, json_string_value(a)), c))
            json_array_append(res, a);
    }
    json_decref(all);
    json_decref(tags);
    if (rc != 0) {
        json_decref(res);
        return -1;
    }
    *out = res;
    return 0;
}

static int listener_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                           const char *token, dr_live *out, dr_err *err)
{
    const char *lb = pstr(props, "LoadBalancerArn");
    if (!lb)
        return dr_err_set(err, DR_E_INTERNAL, "%s: LoadBalancerArn is not known", logical_id);
    /* ModifyListenerAttributes is not wired in: refuse rather than drop. */
    if (json_array_size(json_object_get(props, "ListenerAttributes")))
        return dr_err_set(err, DR_E_CONFIG, "%s: ListenerAttributes is not supported", logical_id);
    /* One listener per port: one already there is ours from a create whose
     * answer was lost, or someone else's. (moto does not refuse a second
     * listener on the same port; AWS does.) */
    char *port = scalar_str(json_object_get(props, "Port"));
    xmlDocPtr doc = NULL;
    int rc = listeners_of(c, lb, &doc, err);
    xmlNodePtr hit = NULL;
    for (xmlNodePtr m = doc_find(doc, "DescribeListenersResult/Listeners/member");
         rc == 0 && port && m && !hit; m = dr_xml_next_same(m)) {
        char *mp = dr_xml_text(m, "Port");
        if (mp && strcmp(mp, port) == 0)
            hit = m;
        free(mp);
    }
    if (rc == 0 && hit) {
        char *arn = dr_xml_text(hit, "ListenerArn");
        int ours = 0;
        rc = arn ? elb_is_ours(c, arn, logical_id, &ours, err) : 0;
        free(arn);
        if (rc == 0 && ours)
            listener_live_from(hit, out);
        else if (rc == 0)
            rc = dr_err_set(err, DR_E_CONFIG,
                            "load balancer %s already has a listener on port %s that is not "
                            "this stack's %s",
                            lb, port, logical_id);
    } else if (rc == 0) {
        xmlFreeDoc(doc);
        doc = NULL;
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "LoadBalancerArn", lb);
        flatten_keys(&p, props, listener_keys);
        dr_compute_query_flatten(&p, "Tags", tags);
        rc = elb(c, "CreateListener", &p, &doc, err);
        dr_kv_free(&p);
        xmlNodePtr m = rc == 0 ? doc_find(doc, "CreateListenerResult/Listeners/member") : NULL;
        if (m)
            listener_live_from(m, out);
        if (rc == 0 && !out->physical_id)
            rc = dr_err_set(err, DR_E_AWS, "CreateListener returned no listener");
    }
    xmlFreeDoc(doc);
    free(port);
    return rc;
}

static int listener_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                         dr_live *out, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "ListenerArns.member.1", physical_id);
    xmlDocPtr doc = NULL;
    int rc = elb(c, "DescribeListeners", &p, &doc, err);
    dr_kv_free(&p);
    if (rc != 0) {
        if (is_code(err, "ListenerNotFound") || is_code(err, "LoadBalancerNotFound")) {
            dr_err_clear(err);
            *exists = 0;
            return 0;
        }
        return -1;
    }
    xmlNodePtr m = doc_find(doc, "DescribeListenersResult/Listeners/member");
    *exists = m != NULL;
    if (m)
        listener_live_from(m, out);
    xmlFreeDoc(doc);
    return 0;
}

static int listener_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                         dr_live *out, dr_err *err)
{
    *found = 0;
    /* Through the load balancer when its reference is known, else through
     * this stack's load balancers (destroy after a lost state). */
    const char *lb = pstr(props, "LoadBalancerArn");
    int rc = 0;
    json_t *lbs = NULL;
    if (lb) {
        rc = listener_find_on(c, lb, logical_id, found, out, err);
    } else if (stack_load_balancers(c, &lbs, err) != 0)
        return -1;
    size_t i;
    json_t *a;
    json_array_foreach(lbs, i, a)
    {
        if (rc != 0 || *found)
            break;
        rc = listener_find_on(c, json_string_value(a), logical_id, found, out, err);
    }
    json_decref(lbs);
    if (rc == 0 && *found)
        only_model_keys(out->properties, props);
    return rc;
}

static int listener_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                           json_t *new_props, dr_live *out, dr_err *err)
{
    /* ModifyListener with the whole desired listener: a protocol change
     * (HTTPS -> HTTP) needs the certificate and policy left out together. */
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "ListenerArn", physical_id);
    flatten_keys(&p, new_props, listener_keys);
    int rc = elb(c, "ModifyListener", &p, NULL, err);
    dr_kv_free(&p);
    if (rc != 0)
        return -1;
    int exists = 0;
    if (listener_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    if (!exists)
        return dr_err_set(err, DR_E_AWS, "listener %s disappeared during its update", physical_id);
    return 0;
}

static int listener_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "ListenerArn", physical_id);
    int rc = elb(c, "DeleteListener", &p, NULL, err);
    dr_kv_free(&p);
    if (rc != 0 && (is_code(err, "ListenerNotFound") || is_code(err, "LoadBalancerNotFound"))) {
        dr_err_clear(err);
        rc = 0;
    }
    return rc;
}

static const char *const listener_update_keys[] = {"Port",
                                                   "Protocol",
                                                   "SslPolicy",
                                                   "Certificates",
                                                   "DefaultActions",
                                                   "AlpnPolicy",
                                                   "MutualAuthentication",
                                                   NULL};

/* ---- ECS: CloudFormation -> API names ------------------------------------ */

/* Member names where ECS's API is not CloudFormation's name with its first
 * letter lower-cased (botocore's ecs model against the CloudFormation
 * schemas of Cluster, TaskDefinition and Service). */
static const struct {
    const char *cfn, *api;
} ecs_renames[] = {
    {"ClusterSettings", "settings"},
    {"EFSVolumeConfiguration", "efsVolumeConfiguration"},
    {"FSxWindowsFileServerVolumeConfiguration", "fsxWindowsFileServerVolumeConfiguration"},
    {"S3FilesVolumeConfiguration", "s3filesVolumeConfiguration"},
    {"FilesystemId", "fileSystemId"},
    {"IAM", "iam"},
    {"ProxyConfigurationProperties", "properties"},
    {"PlacementStrategies", "placementStrategy"},
};

/* Map-typed members: their keys are the user's (awslogs-group, Docker
 * labels, driver options) and are copied as written. */
static const char *const ecs_maps[] = {"DockerLabels", "Options", "DriverOpts", "Labels", NULL};

static char *ecs_key(const char *k)
{
    for (size_t i = 0; i < sizeof(ecs_renames) / sizeof(ecs_renames[0]); i++)
        if (strcmp(ecs_renames[i].cfn, k) == 0)
            return dr_xstrdup(ecs_renames[i].api);
    char *s = dr_xstrdup(k);
    s[0] = (char)tolower((unsigned char)s[0]);
    return s;
}

/*
 * A CloudFormation value with ECS's member names: a new value, deep. The
 * values themselves are unchanged (Cpu "1024" stays a string, as both
 * want). A secret's ValueFrom ("<arn>:url::") is a value and passes as is.
 */
json_t *dr_compute_ecs_keys(json_t *v)
{
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            char *nk = ecs_key(k);
            json_object_set_new(o, nk,
                                in_list(ecs_maps, k) ? json_deep_copy(x) : dr_compute_ecs_keys(x));
            free(nk);
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, dr_compute_ecs_keys(x));
        return a;
    }
    return v ? json_deep_copy(v) : NULL;
}

static int ecs(dr_apply_ctx *c, const char *op, json_t *in, json_t **out, dr_err *err)
{
    return dr_aws_json(c->aws, "ecs", c->region, op, in, out, err);
}

/* Like ecs() but steals `in`. */
static int ecs_take(dr_apply_ctx *c, const char *op, json_t *in, json_t **out, dr_err *err)
{
    int rc = ecs(c, op, in, out, err);
    json_decref(in);
    return rc;
}

static int ecs_update_tags(dr_apply_ctx *c, const char *arn, json_t *old_props, json_t *new_props,
                           dr_err *err)
{
    if (!changed(old_props, new_props, "Tags"))
        return 0;
    json_t *set, *drop;
    tag_delta(old_props, new_props, &set, &drop);
    int rc = 0;
    if (json_array_size(set))
        rc = ecs_take(c, "TagResource",
                      json_pack("{s:s, s:o}", "resourceArn", arn, "tags", dr_compute_ecs_keys(set)),
                      NULL, err);
    if (rc == 0 && json_array_size(drop))
        rc = ecs_take(c, "UntagResource",
                      json_pack("{s:s, s:O}", "resourceArn", arn, "tagKeys", drop), NULL, err);
    json_decref(set);
    json_decref(drop);
    return rc;
}

static json_t *ecs_tags_obj(json_t *o)
{
    return tags_obj_named(json_object_get(o, "tags"), "key", "value");
}

/* ---- AWS::ECS::Cluster --------------------------------------------------- */

static const char *const cluster_update_keys[] = {"ClusterSettings",
                                                  "Configuration",
                                                  "ServiceConnectDefaults",
                                                  "CapacityProviders",
                                                  "DefaultCapacityProviderStrategy",
                                                  "Tags",
                                                  NULL};
static const char *const cluster_name_keys[] = {"ClusterName", NULL};

/* The cluster (a new reference), or NULL when missing or INACTIVE. */
static int cluster_get(dr_apply_ctx *c, const char *name, json_t **cl, dr_err *err)
{
    *cl = NULL;
    json_t *out = NULL;
    if (ecs_take(c, "DescribeClusters",
                 json_pack("{s:[s], s:[s, s]}", "clusters", name, "include", "SETTINGS", "TAGS"),
                 &out, err) != 0)
        return -1;
    json_t *first = json_array_get(json_object_get(out, "clusters"), 0);
    const char *status = json_string_value(json_object_get(first, "status"));
    if (first && !(status && strcmp(status, "INACTIVE") == 0))
        *cl = json_incref(first);
    json_decref(out);
    return 0;
}

static void cluster_live_from(json_t *cl, dr_live *out)
{
    const char *name = json_string_value(json_object_get(cl, "clusterName"));
    const char *arn = json_string_value(json_object_get(cl, "clusterArn"));
    out->physical_id = name ? dr_xstrdup(name) : NULL;
    out->attributes = json_object();
    if (arn)
        json_object_set_new(out->attributes, "Arn", json_string(arn));
    out->properties = json_object();
    if (name)
        json_object_set_new(out->properties, "ClusterName", json_string(name));
    json_t *settings = json_object_get(cl, "settings");
    if (json_array_size(settings)) {
        json_t *s = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(settings, i, x)
        {
            json_array_append_new(s, json_pack("{s:O?, s:O?}", "Name", json_object_get(x, "name"),
                                               "Value", json_object_get(x, "value")));
        }
        json_object_set_new(out->properties, "ClusterSettings", s);
    }
}

static int cluster_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                          const char *token, dr_live *out, dr_err *err)
{
    char *name = name_of(c, props, "ClusterName", logical_id, 255);
    json_t *cl = NULL, *resp = NULL;
    int rc = cluster_get(c, name, &cl, err);
    if (rc == 0 && cl) {
        json_t *t = ecs_tags_obj(cl);
        int ours = tags_ours(t, c, logical_id);
        json_decref(t);
        if (ours)
            cluster_live_from(cl, out);
        else {
            rc = dr_err_set(err, DR_E_CONFIG,
                            "an ECS cluster named %s already exists and is not this stack's %s",
                            name, logical_id);
            dr_err_hint(err, "delete it, or give the stack another name");
        }
    } else if (rc == 0) {
        json_t *in = dr_compute_ecs_keys(props);
        json_object_set_new(in, "clusterName", json_string(name));
        json_object_set_new(in, "tags", dr_compute_ecs_keys(tags));
        rc = ecs_take(c, "CreateCluster", in, &resp, err);
        if (rc == 0) {
            json_t *created = json_object_get(resp, "cluster");
            if (created)
                cluster_live_from(created, out);
            if (!out->physical_id)
                rc = dr_err_set(err, DR_E_AWS, "CreateCluster returned no cluster for %s", name);
        }
    }
    json_decref(cl);
    json_decref(resp);
    free(name);
    return rc;
}

static int cluster_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                        dr_live *out, dr_err *err)
{
    json_t *cl = NULL;
    if (cluster_get(c, physical_id, &cl, err) != 0)
        return -1;
    *exists = cl != NULL;
    if (cl)
        cluster_live_from(cl, out);
    json_decref(cl);
    return 0;
}

static int cluster_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                        dr_live *out, dr_err *err)
{
    *found = 0;
    char *name = name_of(c, props, "ClusterName", logical_id, 255);
    json_t *cl = NULL;
    int rc = cluster_get(c, name, &cl, err);
    free(name);
    if (rc == 0 && cl) {
        json_t *t = ecs_tags_obj(cl);
        if (tags_ours(t, c, logical_id)) {
            cluster_live_from(cl, out);
            only_model_keys(out->properties, props);
            *found = 1;
        }
        json_decref(t);
    }
    json_decref(cl);
    return rc;
}

static int cluster_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                          json_t *new_props, dr_live *out, dr_err *err)
{
    static const char *const cfg_keys[] = {"ClusterSettings", "Configuration",
                                           "ServiceConnectDefaults", NULL};
    static const char *const cap_keys[] = {"CapacityProviders", "DefaultCapacityProviderStrategy",
                                           NULL};
    if (any_changed(old_props, new_props, cfg_keys)) {
        json_t *sub = json_object();
        for (const char *const *k = cfg_keys; *k; k++) {
            json_t *v = json_object_get(new_props, *k);
            if (v)
                json_object_set(sub, *k, v);
        }
        json_t *in = dr_compute_ecs_keys(sub);
        json_decref(sub);
        json_object_set_new(in, "cluster", json_string(physical_id));
        if (ecs_take(c, "UpdateCluster", in, NULL, err) != 0)
            return -1;
    }
    if (any_changed(old_props, new_props, cap_keys)) {
        /* Both members are required: absent means none. */
        json_t *cp = json_object_get(new_props, "CapacityProviders");
        json_t *st = json_object_get(new_props, "DefaultCapacityProviderStrategy");
        json_t *in = json_pack("{s:s, s:o, s:o}", "cluster", physical_id, "capacityProviders",
                               cp ? dr_compute_ecs_keys(cp) : json_array(),
                               "defaultCapacityProviderStrategy",
                               st ? dr_compute_ecs_keys(st) : json_array());
        if (ecs_take(c, "PutClusterCapacityProviders", in, NULL, err) != 0)
            return -1;
    }
    int exists = 0;
    if (cluster_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    if (!exists)
        return dr_err_set(err, DR_E_AWS, "ECS cluster %s disappeared during its update",
                          physical_id);
    const char *arn = json_string_value(json_object_get(out->attributes, "Arn"));
    if (arn && ecs_update_tags(c, arn, old_props, new_props, err) != 0)
        return -1;
    return 0;
}

/* One delete attempt: 1 done or gone, 0 still busy (services draining,
 * tasks stopping), -1 error. */
static int cluster_delete_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    int rc =
        ecs_take(c, "DeleteCluster", json_pack("{s:s}", "cluster", (const char *)ud), NULL, err);
    if (rc == 0)
        return 1;
    if (is_code(err, "ClusterNotFoundException")) {
        dr_err_clear(err);
        return 1;
    }
    if (is_code(err, "ClusterContainsServicesException") ||
        is_code(err, "ClusterContainsTasksException") ||
        is_code(err, "ClusterContainsContainerInstancesException") ||
        is_code(err, "UpdateInProgressException")) {
        dr_err_clear(err);
        return 0;
    }
    return -1;
}

static int cluster_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    return dr_wait(c, "the ECS cluster's services and tasks to stop", 900, cluster_delete_check,
                   (void *)physical_id, err);
}

static int cluster_gone_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    json_t *cl = NULL;
    if (cluster_get(c, ud, &cl, err) != 0)
        return -1;
    json_decref(cl);
    return cl ? 0 : 1;
}

static int cluster_wait_deleted(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    return dr_wait(c, "the ECS cluster to become inactive", 600, cluster_gone_check,
                   (void *)physical_id, err);
}

/* The ARNs of this stack's ACTIVE clusters (tag drctl:stack). */
static int stack_clusters(dr_apply_ctx *c, json_t **out, dr_err *err)
{
    json_t *all = json_array();
    char *next = NULL;
    int rc = 0;
    do {
        json_t *in = json_pack("{s:i}", "maxResults", 100);
        if (next)
            json_object_set_new(in, "nextToken", json_string(next));
        free(next);
        next = NULL;
        json_t *resp = NULL;
        rc = ecs_take(c, "ListClusters", in, &resp, err);
        if (rc == 0) {
            json_array_extend(all, json_object_get(resp, "clusterArns"));
            const char *t = json_string_value(json_object_get(resp, "nextToken"));
            if (t && *t)
                next = dr_xstrdup(t);
        }
        json_decref(resp);
    } while (rc == 0 && next);
    json_t *res = json_array();
    for (size_t off = 0; rc == 0 && off < json_array_size(all); off += 100) {
        json_t *batch = json_array();
        for (size_t i = off; i < json_array_size(all) && i < off + 100; i++)
            json_array_append(batch, json_array_get(all, i));
        json_t *resp = NULL;
        rc = ecs_take(c, "DescribeClusters",
                      json_pack("{s:o, s:[s]}", "clusters", batch, "include", "TAGS"), &resp, err);
        size_t i;
        json_t *cl;
        json_array_foreach(json_object_get(resp, "clusters"), i, cl)
        {
            const char *status = json_string_value(json_object_get(cl, "status"));
            json_t *t = ecs_tags_obj(cl);
            if (status && strcmp(status, "ACTIVE") == 0 && tags_of_stack(t, c))
                json_array_append(res, json_object_get(cl, "clusterArn"));
            json_decref(t);
        }
        json_decref(resp);
    }
    json_decref(all);
    if (rc != 0) {
        json_decref(res);
        return -1;
    }
    *out = res;
    return 0;
}

/* ---- AWS::ECS::TaskDefinition -------------------------------------------- */

static const char *const td_update_keys[] = {"Tags", NULL};

static void td_live_from(json_t *td, dr_live *out)
{
    const char *arn = json_string_value(json_object_get(td, "taskDefinitionArn"));
    out->physical_id = arn ? dr_xstrdup(arn) : NULL;
    out->attributes = json_object();
    if (arn)
        json_object_set_new(out->attributes, "TaskDefinitionArn", json_string(arn));
    static const struct {
        const char *cfn, *api;
    } simple[] = {{"Family", "family"},
                  {"Cpu", "cpu"},
                  {"Memory", "memory"},
                  {"NetworkMode", "networkMode"},
                  {"ExecutionRoleArn", "executionRoleArn"},
                  {"TaskRoleArn", "taskRoleArn"}};
    out->properties = json_object();
    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
        json_t *v = json_object_get(td, simple[i].api);
        if (json_is_string(v))
            json_object_set(out->properties, simple[i].cfn, v);
    }
}

/* The revision: ACTIVE (*td, *tags new references), or *td NULL when it is
 * unknown, deregistered or being deleted. */
static int td_get(dr_apply_ctx *c, const char *arn, json_t **td, json_t **tags, dr_err *err)
{
    *td = NULL;
    if (tags)
        *tags = NULL;
    json_t *resp = NULL;
    int rc =
        ecs_take(c, "DescribeTaskDefinition",
                 json_pack("{s:s, s:[s]}", "taskDefinition", arn, "include", "TAGS"), &resp, err);
    if (rc != 0) {
        /* "Unable to describe task definition." */
        if (is_code(err, "ClientException")) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    json_t *t = json_object_get(resp, "taskDefinition");
    const char *status = json_string_value(json_object_get(t, "status"));
    if (t && status && strcmp(status, "ACTIVE") == 0) {
        *td = json_incref(t);
        if (tags)
            *tags = ecs_tags_obj(resp);
    }
    json_decref(resp);
    return 0;
}

static int td_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                     const char *token, dr_live *out, dr_err *err)
{
    /* RegisterTaskDefinition has no idempotency token: every call is a new
     * revision. The engine's find-by-tags before a retried create is what
     * keeps a lost answer from leaving a stray revision. */
    json_t *in = dr_compute_ecs_keys(props);
    json_object_del(in, "taskDefinitionArn"); /* read-only in CloudFormation */
    if (!pstr(props, "Family")) {
        char *fam = derived_name(c, logical_id, 255);
        json_object_set_new(in, "family", json_string(fam));
        free(fam);
    }
    json_object_set_new(in, "tags", dr_compute_ecs_keys(tags));
    json_t *resp = NULL;
    int rc = ecs_take(c, "RegisterTaskDefinition", in, &resp, err);
    if (rc == 0) {
        json_t *td = json_object_get(resp, "taskDefinition");
        if (td)
            td_live_from(td, out);
        if (!out->physical_id)
            rc = dr_err_set(err, DR_E_AWS, "RegisterTaskDefinition returned no task definition");
    }
    json_decref(resp);
    return rc;
}

static int td_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                   dr_live *out, dr_err *err)
{
    json_t *td = NULL;
    if (td_get(c, physical_id, &td, NULL, err) != 0)
        return -1;
    *exists = td != NULL;
    if (td)
        td_live_from(td, out);
    json_decref(td);
    return 0;
}

static long arn_revision(const char *arn)
{
    const char *p = arn ? strrchr(arn, ':') : NULL;
    return p ? strtol(p + 1, NULL, 10) : 0;
}

static int cmp_revision_desc(const void *a, const void *b)
{
    long ra = arn_revision(json_string_value(*(json_t *const *)a));
    long rb = arn_revision(json_string_value(*(json_t *const *)b));
    return ra < rb ? 1 : ra > rb ? -1 : 0;
}

/* The newest ACTIVE revision of the family that carries this stack's tags
 * for logical_id. ListTaskDefinitions' familyPrefix is a prefix, and its
 * sort is not honoured everywhere (moto): both are checked here. */
static int td_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                   dr_err *err)
{
    *found = 0;
    char *family = name_of(c, props, "Family", logical_id, 255);
    json_t *arns = json_array();
    char *next = NULL;
    int rc = 0;
    do {
        json_t *in = json_pack("{s:s, s:s, s:s}", "familyPrefix", family, "status", "ACTIVE",
                               "sort", "DESC");
        if (next)
            json_object_set_new(in, "nextToken", json_string(next));
        free(next);
        next = NULL;
        json_t *resp = NULL;
        rc = ecs_take(c, "ListTaskDefinitions", in, &resp, err);
        if (rc == 0) {
            json_array_extend(arns, json_object_get(resp, "taskDefinitionArns"));
            const char *t = json_string_value(json_object_get(resp, "nextToken"));
            if (t && *t)
                next = dr_xstrdup(t);
        }
        json_decref(resp);
    } while (rc == 0 && next);
    size_t n = json_array_size(arns);
    json_t **v = dr_xcalloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(arns, i);
    qsort(v, n, sizeof(*v), cmp_revision_desc);
    for (size_t i = 0; rc == 0 && i < n && !*found; i++) {
        json_t *td = NULL, *tags = NULL;
        rc = td_get(c, json_string_value(v[i]), &td, &tags, err);
        const char *fam = json_string_value(json_object_get(td, "family"));
        if (rc == 0 && td && fam && strcmp(fam, family) == 0 && tags_ours(tags, c, logical_id)) {
            td_live_from(td, out);
            only_model_keys(out->properties, props);
            *found = 1;
        }
        json_decref(td);
        json_decref(tags);
    }
    free(v);
    json_decref(arns);
    free(family);
    return rc;
}

static int td_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                     dr_live *out, dr_err *err)
{
    if (ecs_update_tags(c, physical_id, old_props, new_props, err) != 0)
        return -1;
    int exists = 0;
    if (td_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    if (!exists)
        return dr_err_set(err, DR_E_AWS, "task definition %s disappeared during its update",
                          physical_id);
    return 0;
}

/* Deregistered, then deleted: destroy leaves no revision behind (a
 * deregistered one would stay listed forever). A revision a task still
 * runs is deleted by ECS once the task stops. */
static int td_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    int rc = ecs_take(c, "DeregisterTaskDefinition",
                      json_pack("{s:s}", "taskDefinition", physical_id), NULL, err);
    if (rc != 0) {
        if (!is_code(err, "ClientException"))
            return -1;
        /* Unknown revision: nothing left to delete either. */
        dr_err_clear(err);
        return 0;
    }
    json_t *resp = NULL;
    rc = ecs_take(c, "DeleteTaskDefinitions", json_pack("{s:[s]}", "taskDefinitions", physical_id),
                  &resp, err);
    if (rc == 0) {
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(resp, "failures"), i, f)
        {
            const char *why = json_string_value(json_object_get(f, "reason"));
            const char *detail = json_string_value(json_object_get(f, "detail"));
            dr_warn(c->log, "task definition %s deregistered but not deleted: %s%s%s", physical_id,
                    why ? why : "no reason given", detail ? ": " : "", detail ? detail : "");
        }
    } else if (is_code(err, "ClientException")) {
        dr_err_clear(err);
        rc = 0;
    }
    json_decref(resp);
    return rc;
}

/* ---- AWS::ECS::Service --------------------------------------------------- */

/* UpdateService's members among CloudFormation's properties. */
static const char *const svc_update_api_keys[] = {"DesiredCount",
                                                  "TaskDefinition",
                                                  "DeploymentConfiguration",
                                                  "HealthCheckGracePeriodSeconds",
                                                  "NetworkConfiguration",
                                                  "CapacityProviderStrategy",
                                                  "EnableExecuteCommand",
                                                  "EnableECSManagedTags",
                                                  "PropagateTags",
                                                  "LoadBalancers",
                                                  "PlatformVersion",
                                                  "PlacementConstraints",
                                                  "PlacementStrategies",
                                                  "ServiceRegistries",
                                                  "AvailabilityZoneRebalancing",
                                                  "ServiceConnectConfiguration",
                                                  "VolumeConfigurations",
                                                  "VpcLatticeConfigurations",
                                                  NULL};
static const char *const svc_update_keys[] = {"DesiredCount",
                                              "TaskDefinition",
                                              "DeploymentConfiguration",
                                              "HealthCheckGracePeriodSeconds",
                                              "NetworkConfiguration",
                                              "CapacityProviderStrategy",
                                              "EnableExecuteCommand",
                                              "EnableECSManagedTags",
                                              "PropagateTags",
                                              "LoadBalancers",
                                              "PlatformVersion",
                                              "PlacementConstraints",
                                              "PlacementStrategies",
                                              "ServiceRegistries",
                                              "AvailabilityZoneRebalancing",
                                              "ServiceConnectConfiguration",
                                              "VolumeConfigurations",
                                              "VpcLatticeConfigurations",
                                              "Tags",
                                              NULL};
static const char *const svc_name_keys[] = {"ServiceName", NULL};

/* The cluster named by a service's ARN in the long format
 * (".../service/<cluster>/<name>"); NULL for the short one
 * (".../service/<name>"), which names none. */
char *dr_compute_service_cluster(const char *arn)
{
    const char *p = arn ? strstr(arn, ":service/") : NULL;
    if (!p)
        return NULL;
    p += 9;
    const char *slash = strchr(p, '/');
    return slash && slash > p ? dr_xstrndup(p, (size_t)(slash - p)) : NULL;
}

/* The service in the cluster (a new reference, any status), or NULL when
 * the cluster or the service is not there. */
static int service_get(dr_apply_ctx *c, const char *cluster, const char *service, json_t **svc,
                       dr_err *err)
{
    *svc = NULL;
    json_t *in = json_pack("{s:[s], s:[s]}", "services", service, "include", "TAGS");
    if (cluster)
        json_object_set_new(in, "cluster", json_string(cluster));
    json_t *resp = NULL;
    if (ecs_take(c, "DescribeServices", in, &resp, err) != 0) {
        if (is_code(err, "ClusterNotFoundException")) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    json_t *first = json_array_get(json_object_get(resp, "services"), 0);
    if (first)
        *svc = json_incref(first);
    json_decref(resp);
    return 0;
}

static const char *svc_status(json_t *svc)
{
    const char *s = json_string_value(json_object_get(svc, "status"));
    return s ? s : "";
}

/*
 * Finds a service by ARN: in the cluster its ARN names (the long format),
 * else in the model's Cluster, else in this stack's clusters (a short ARN
 * names no cluster, and wait_* get no properties). *cluster (caller frees)
 * is where it was found; *svc NULL when it is nowhere.
 */
static int service_locate(dr_apply_ctx *c, const char *arn, json_t *props, char **cluster,
                          json_t **svc, dr_err *err)
{
    *cluster = NULL;
    *svc = NULL;
    char *cl = dr_compute_service_cluster(arn);
    if (!cl && pstr(props, "Cluster"))
        cl = dr_xstrdup(pstr(props, "Cluster"));
    if (cl) {
        if (service_get(c, cl, arn, svc, err) != 0) {
            free(cl);
            return -1;
        }
        if (*svc)
            *cluster = cl;
        else
            free(cl);
        return 0;
    }
    json_t *clusters = NULL;
    if (stack_clusters(c, &clusters, err) != 0)
        return -1;
    int rc = 0;
    size_t i;
    json_t *a;
    json_array_foreach(clusters, i, a)
    {
        rc = service_get(c, json_string_value(a), arn, svc, err);
        if (rc != 0)
            break;
        if (*svc) {
            *cluster = dr_xstrdup(json_string_value(a));
            break;
        }
    }
    json_decref(clusters);
    return rc;
}

static void svc_live_from(json_t *svc, dr_live *out)
{
    const char *arn = json_string_value(json_object_get(svc, "serviceArn"));
    const char *name = json_string_value(json_object_get(svc, "serviceName"));
    out->physical_id = arn ? dr_xstrdup(arn) : NULL;
    out->attributes = json_object();
    if (arn)
        json_object_set_new(out->attributes, "ServiceArn", json_string(arn));
    if (name)
        json_object_set_new(out->attributes, "Name", json_string(name));
    /* DesiredCount is left out on purpose: Application Auto Scaling moves
     * it, and an adopted service must not be "corrected" back. */
    static const struct {
        const char *cfn, *api;
    } simple[] = {{"ServiceName", "serviceName"},
                  {"TaskDefinition", "taskDefinition"},
                  {"PropagateTags", "propagateTags"},
                  {"HealthCheckGracePeriodSeconds", "healthCheckGracePeriodSeconds"},
                  {"EnableExecuteCommand", "enableExecuteCommand"}};
    out->properties = json_object();
    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
        json_t *v = json_object_get(svc, simple[i].api);
        if (v && !json_is_null(v))
            json_object_set(out->properties, simple[i].cfn, v);
    }
}

static int svc_inactive_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    const char *const *cs = ud; /* {cluster, service} */
    json_t *svc = NULL;
    if (service_get(c, cs[0], cs[1], &svc, err) != 0)
        return -1;
    int done = !svc || strcmp(svc_status(svc), "INACTIVE") == 0;
    json_decref(svc);
    return done;
}

static int svc_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                      const char *token, dr_live *out, dr_err *err)
{
    const char *cluster = pstr(props, "Cluster");
    char *name = name_of(c, props, "ServiceName", logical_id, 255);
    json_t *svc = NULL, *resp = NULL;
    int rc = service_get(c, cluster, name, &svc, err);
    if (rc == 0 && svc && strcmp(svc_status(svc), "DRAINING") == 0) {
        /* A replaced copy of the same name still draining: ECS refuses the
         * name until it is INACTIVE. */
        const char *cs[2] = {cluster, name};
        json_decref(svc);
        svc = NULL;
        rc = dr_wait(c, "the previous service of this name to finish draining", 900,
                     svc_inactive_check, (void *)cs, err);
    } else if (rc == 0 && svc && strcmp(svc_status(svc), "INACTIVE") != 0) {
        json_t *t = ecs_tags_obj(svc);
        int ours = tags_ours(t, c, logical_id);
        json_decref(t);
        if (ours) {
            svc_live_from(svc, out);
            goto out;
        }
        rc = dr_err_set(err, DR_E_CONFIG,
                        "an ECS service named %s already exists in cluster %s and is not this "
                        "stack's %s",
                        name, cluster ? cluster : "default", logical_id);
        goto out;
    }
    if (rc != 0)
        goto out;
    json_t *in = dr_compute_ecs_keys(props);
    json_object_del(in, "forceNewDeployment"); /* CloudFormation-only */
    json_object_set_new(in, "serviceName", json_string(name));
    json_object_set_new(in, "tags", dr_compute_ecs_keys(tags));
    json_object_set_new(in, "clientToken", json_string(token));
    rc = ecs_take(c, "CreateService", in, &resp, err);
    if (rc == 0) {
        json_t *created = json_object_get(resp, "service");
        if (created)
            svc_live_from(created, out);
        if (!out->physical_id)
            rc = dr_err_set(err, DR_E_AWS, "CreateService returned no service for %s", name);
    }
out:
    json_decref(svc);
    json_decref(resp);
    free(name);
    return rc;
}

static int svc_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                    dr_live *out, dr_err *err)
{
    char *cluster = NULL;
    json_t *svc = NULL;
    if (service_locate(c, physical_id, props, &cluster, &svc, err) != 0)
        return -1;
    /* DRAINING is a service on its way out: gone for planning. */
    *exists = svc && strcmp(svc_status(svc), "ACTIVE") == 0;
    if (*exists)
        svc_live_from(svc, out);
    json_decref(svc);
    free(cluster);
    return 0;
}

static int svc_find_in(dr_apply_ctx *c, const char *cluster, const char *name,
                       const char *logical_id, int *found, dr_live *out, dr_err *err)
{
    json_t *svc = NULL;
    if (service_get(c, cluster, name, &svc, err) != 0)
        return -1;
    if (svc && strcmp(svc_status(svc), "ACTIVE") == 0) {
        json_t *t = ecs_tags_obj(svc);
        if (tags_ours(t, c, logical_id)) {
            svc_live_from(svc, out);
            *found = 1;
        }
        json_decref(t);
    }
    json_decref(svc);
    return 0;
}

static int svc_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                    dr_live *out, dr_err *err)
{
    *found = 0;
    char *name = name_of(c, props, "ServiceName", logical_id, 255);
    const char *cluster = pstr(props, "Cluster");
    int rc = 0;
    if (cluster || !json_object_get(props, "Cluster")) {
        rc = svc_find_in(c, cluster, name, logical_id, found, out, err);
    } else {
        json_t *clusters = NULL;
        rc = stack_clusters(c, &clusters, err);
        size_t i;
        json_t *a;
        json_array_foreach(clusters, i, a)
        {
            if (rc != 0 || *found)
                break;
            rc = svc_find_in(c, json_string_value(a), name, logical_id, found, out, err);
        }
        json_decref(clusters);
    }
    if (rc == 0 && *found)
        only_model_keys(out->properties, props);
    free(name);
    return rc;
}

static int svc_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                      json_t *new_props, dr_live *out, dr_err *err)
{
    char *cluster = NULL;
    json_t *svc = NULL;
    if (service_locate(c, physical_id, new_props, &cluster, &svc, err) != 0)
        return -1;
    if (!svc || strcmp(svc_status(svc), "ACTIVE") != 0) {
        json_decref(svc);
        free(cluster);
        return dr_err_set(err, DR_E_AWS, "ECS service %s is not active: cannot update it",
                          physical_id);
    }
    json_decref(svc);
    /* Only what changed: DesiredCount in particular is the scaler's between
     * two applies, and sending it unchanged would undo its work. */
    json_t *chg = json_object();
    for (const char *const *k = svc_update_api_keys; *k; k++) {
        if (!changed(old_props, new_props, *k))
            continue;
        json_t *v = json_object_get(new_props, *k);
        if (v)
            json_object_set(chg, *k, v);
        else if (json_is_array(json_object_get(old_props, *k)))
            json_object_set_new(chg, *k, json_array()); /* a list taken away: clear it */
    }
    int rc = 0;
    if (json_object_size(chg)) {
        json_t *in = dr_compute_ecs_keys(chg);
        json_object_set_new(in, "cluster", json_string(cluster));
        json_object_set_new(in, "service", json_string(physical_id));
        /* A new capacity provider strategy takes effect only with a new
         * deployment. */
        if (json_object_get(chg, "CapacityProviderStrategy"))
            json_object_set_new(in, "forceNewDeployment", json_true());
        rc = ecs_take(c, "UpdateService", in, NULL, err);
    }
    json_decref(chg);
    if (rc == 0)
        rc = ecs_update_tags(c, physical_id, old_props, new_props, err);
    free(cluster);
    if (rc != 0)
        return -1;
    int exists = 0;
    if (svc_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    if (!exists)
        return dr_err_set(err, DR_E_AWS, "ECS service %s disappeared during its update",
                          physical_id);
    return 0;
}

static int svc_gone_code(dr_err *err)
{
    if (is_code(err, "ServiceNotFoundException") || is_code(err, "ServiceNotActiveException") ||
        is_code(err, "ClusterNotFoundException")) {
        dr_err_clear(err);
        return 1;
    }
    return 0;
}

static int svc_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    char *cluster = NULL;
    json_t *svc = NULL;
    if (service_locate(c, physical_id, props, &cluster, &svc, err) != 0)
        return -1;
    int gone = !svc || strcmp(svc_status(svc), "INACTIVE") == 0;
    json_decref(svc);
    if (gone) {
        free(cluster);
        return 0;
    }
    /* Scale to 0 first so the tasks drain from the target group, then
     * force the delete (a service above 0 is refused otherwise). */
    int rc = ecs_take(
        c, "UpdateService",
        json_pack("{s:s, s:s, s:i}", "cluster", cluster, "service", physical_id, "desiredCount", 0),
        NULL, err);
    if (rc != 0 && svc_gone_code(err)) {
        free(cluster);
        return 0;
    }
    if (rc == 0) {
        rc = ecs_take(
            c, "DeleteService",
            json_pack("{s:s, s:s, s:b}", "cluster", cluster, "service", physical_id, "force", 1),
            NULL, err);
        if (rc != 0 && svc_gone_code(err))
            rc = 0;
    }
    free(cluster);
    return rc;
}

static int svc_ready_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    char *cluster = NULL;
    json_t *svc = NULL;
    if (service_locate(c, ud, NULL, &cluster, &svc, err) != 0)
        return -1;
    free(cluster);
    int rc = 0;
    if (!svc)
        rc = dr_err_set(err, DR_E_AWS, "ECS service %s disappeared after its create",
                        (const char *)ud);
    else if (strcmp(svc_status(svc), "ACTIVE") == 0)
        rc = 1;
    else if (strcmp(svc_status(svc), "INACTIVE") == 0)
        rc = dr_err_set(err, DR_E_AWS, "ECS service %s became INACTIVE after its create",
                        (const char *)ud);
    json_decref(svc);
    return rc;
}

static int svc_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    return dr_wait(c, "the ECS service to become active", 600, svc_ready_check, (void *)physical_id,
                   err);
}

static int svc_gone_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    char *cluster = NULL;
    json_t *svc = NULL;
    if (service_locate(c, ud, NULL, &cluster, &svc, err) != 0)
        return -1;
    free(cluster);
    int done = !svc || strcmp(svc_status(svc), "INACTIVE") == 0;
    json_decref(svc);
    return done;
}

static int svc_wait_deleted(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    return dr_wait(c, "the ECS service to drain and become inactive", 900, svc_gone_check,
                   (void *)physical_id, err);
}

/* ---- Application Auto Scaling -------------------------------------------- */

static int aas(dr_apply_ctx *c, const char *op, json_t *in, json_t **out, dr_err *err)
{
    int rc = dr_aws_json(c->aws, "application-autoscaling", c->region, op, in, out, err);
    json_decref(in);
    return rc;
}

/* "resourceId|scalableDimension|serviceNamespace" (CloudFormation's Ref of a
 * scalable target) into its parts; -1 when it is not of that form. */
int dr_compute_target_id_parse(const char *id, char **rid, char **dim, char **ns)
{
    *rid = *dim = *ns = NULL;
    const char *b = id ? strrchr(id, '|') : NULL;
    if (!b || b == id)
        return -1;
    const char *a = b - 1;
    while (a > id && *a != '|')
        a--;
    if (*a != '|' || a == id || b - a < 2 || !b[1])
        return -1;
    *rid = dr_xstrndup(id, (size_t)(a - id));
    *dim = dr_xstrndup(a + 1, (size_t)(b - a - 1));
    *ns = dr_xstrdup(b + 1);
    return 0;
}

/* A scaling policy's ARN
 * ("arn:...:scalingPolicy:<uuid>:resource/<ns>/<resource id>:policyName/<name>")
 * into namespace, resource id and name; -1 when it is not of that form. */
int dr_compute_policy_arn_parse(const char *arn, char **ns, char **rid, char **name)
{
    *ns = *rid = *name = NULL;
    const char *r = arn ? strstr(arn, ":resource/") : NULL;
    if (!r)
        return -1;
    r += 10;
    const char *slash = strchr(r, '/');
    const char *pn = strstr(r, ":policyName/");
    if (!slash || !pn || slash > pn || slash == r || pn == slash + 1 || !pn[12])
        return -1;
    *ns = dr_xstrndup(r, (size_t)(slash - r));
    *rid = dr_xstrndup(slash + 1, (size_t)(pn - slash - 1));
    *name = dr_xstrdup(pn + 12);
    return 0;
}

static void free3(char *a, char *b, char *c3)
{
    free(a);
    free(b);
    free(c3);
}

/* The scalable target (a new reference) or NULL. */
static int target_get(dr_apply_ctx *c, const char *ns, const char *rid, const char *dim, json_t **t,
                      dr_err *err)
{
    *t = NULL;
    json_t *resp = NULL;
    if (aas(c, "DescribeScalableTargets",
            json_pack("{s:s, s:[s], s:s}", "ServiceNamespace", ns, "ResourceIds", rid,
                      "ScalableDimension", dim),
            &resp, err) != 0)
        return -1;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(resp, "ScalableTargets"), i, x)
    {
        const char *r = json_string_value(json_object_get(x, "ResourceId"));
        const char *d = json_string_value(json_object_get(x, "ScalableDimension"));
        if (r && d && strcmp(r, rid) == 0 && strcmp(d, dim) == 0) {
            *t = json_incref(x);
            break;
        }
    }
    json_decref(resp);
    return 0;
}

static void target_live_from(json_t *t, const char *id, dr_live *out)
{
    out->physical_id = dr_xstrdup(id);
    out->attributes = json_object();
    json_object_set_new(out->attributes, "Id", json_string(id));
    out->properties = json_object();
    static const char *const keys[] = {"ResourceId",  "ScalableDimension", "ServiceNamespace",
                                       "MinCapacity", "MaxCapacity",       NULL};
    for (const char *const *k = keys; *k; k++) {
        json_t *v = json_object_get(t, *k);
        if (v)
            json_object_set(out->properties, *k, v);
    }
}

static const char *const target_update_keys[] = {"MinCapacity", "MaxCapacity", "RoleARN",
                                                 "SuspendedState", NULL};
static const char *const target_name_keys[] = {"ResourceId", NULL};

/* RegisterScalableTarget: creates or updates (the API is an upsert). */
static int target_register(dr_apply_ctx *c, json_t *props, json_t *tags, dr_err *err)
{
    json_t *in = json_object();
    static const char *const keys[] = {"ServiceNamespace", "ResourceId",  "ScalableDimension",
                                       "MinCapacity",      "MaxCapacity", "RoleARN",
                                       "SuspendedState",   NULL};
    for (const char *const *k = keys; *k; k++) {
        json_t *v = json_object_get(props, *k);
        if (v && !json_is_null(v))
            json_object_set(in, *k, v);
    }
    /* Tags only when creating: the API takes them there (a map). */
    if (json_array_size(tags))
        json_object_set_new(in, "Tags", tags_obj(tags));
    return aas(c, "RegisterScalableTarget", in, NULL, err);
}

static int target_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                         const char *token, dr_live *out, dr_err *err)
{
    const char *ns = pstr(props, "ServiceNamespace"), *rid = pstr(props, "ResourceId");
    const char *dim = pstr(props, "ScalableDimension");
    if (!ns || !rid || !dim)
        return dr_err_set(err, DR_E_INTERNAL,
                          "%s: ServiceNamespace, ResourceId and ScalableDimension must be known",
                          logical_id);
    if (json_array_size(json_object_get(props, "ScheduledActions")))
        return dr_err_set(err, DR_E_CONFIG, "%s: ScheduledActions is not supported", logical_id);
    if (target_register(c, props, tags, err) != 0)
        return -1;
    json_t *t = NULL;
    if (target_get(c, ns, rid, dim, &t, err) != 0)
        return -1;
    char *id = dr_xasprintf("%s|%s|%s", rid, dim, ns);
    int rc = 0;
    if (t)
        target_live_from(t, id, out);
    else
        rc =
            dr_err_set(err, DR_E_AWS, "scalable target %s is missing right after its register", id);
    json_decref(t);
    free(id);
    return rc;
}

static int target_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                       dr_live *out, dr_err *err)
{
    char *rid, *dim, *ns;
    if (dr_compute_target_id_parse(physical_id, &rid, &dim, &ns) != 0)
        return dr_err_set(err, DR_E_INTERNAL, "'%s' is not a scalable target id", physical_id);
    json_t *t = NULL;
    int rc = target_get(c, ns, rid, dim, &t, err);
    if (rc == 0) {
        *exists = t != NULL;
        if (t)
            target_live_from(t, physical_id, out);
    }
    json_decref(t);
    free3(rid, dim, ns);
    return rc;
}

static int target_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                       dr_live *out, dr_err *err)
{
    *found = 0;
    const char *ns = pstr(props, "ServiceNamespace"), *rid = pstr(props, "ResourceId");
    const char *dim = pstr(props, "ScalableDimension");
    /* Not taggable in moto and not findable by tags in a way both agree
     * on: the resource id (the service) is the deterministic key. */
    if (!ns || !rid || !dim)
        return 0;
    json_t *t = NULL;
    if (target_get(c, ns, rid, dim, &t, err) != 0)
        return -1;
    if (t) {
        char *id = dr_xasprintf("%s|%s|%s", rid, dim, ns);
        target_live_from(t, id, out);
        only_model_keys(out->properties, props);
        free(id);
        *found = 1;
    }
    json_decref(t);
    return 0;
}

static int target_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                         json_t *new_props, dr_live *out, dr_err *err)
{
    char *rid, *dim, *ns;
    if (dr_compute_target_id_parse(physical_id, &rid, &dim, &ns) != 0)
        return dr_err_set(err, DR_E_INTERNAL, "'%s' is not a scalable target id", physical_id);
    /* The identity comes from the id: it cannot change in place. */
    json_t *p = json_deep_copy(new_props);
    json_object_set_new(p, "ResourceId", json_string(rid));
    json_object_set_new(p, "ScalableDimension", json_string(dim));
    json_object_set_new(p, "ServiceNamespace", json_string(ns));
    free3(rid, dim, ns);
    int rc = target_register(c, p, NULL, err);
    json_decref(p);
    if (rc != 0)
        return -1;
    int exists = 0;
    if (target_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    if (!exists)
        return dr_err_set(err, DR_E_AWS, "scalable target %s disappeared during its update",
                          physical_id);
    return 0;
}

static int target_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    char *rid, *dim, *ns;
    if (dr_compute_target_id_parse(physical_id, &rid, &dim, &ns) != 0)
        return dr_err_set(err, DR_E_INTERNAL, "'%s' is not a scalable target id", physical_id);
    /* Looked up first: a missing target is ObjectNotFoundException in AWS
     * but a ValidationException in moto, and only the first is "gone". */
    json_t *t = NULL;
    int rc = target_get(c, ns, rid, dim, &t, err);
    if (rc == 0 && t) {
        rc = aas(c, "DeregisterScalableTarget",
                 json_pack("{s:s, s:s, s:s}", "ServiceNamespace", ns, "ResourceId", rid,
                           "ScalableDimension", dim),
                 NULL, err);
        if (rc != 0 && is_code(err, "ObjectNotFoundException")) {
            dr_err_clear(err);
            rc = 0;
        }
    }
    json_decref(t);
    free3(rid, dim, ns);
    return rc;
}

/* ---- AWS::ApplicationAutoScaling::ScalingPolicy ---------------------------- */

static const char *const policy_update_keys[] = {
    "PolicyType", "TargetTrackingScalingPolicyConfiguration", "StepScalingPolicyConfiguration",
    "PredictiveScalingPolicyConfiguration", NULL};
static const char *const policy_name_keys[] = {"PolicyName", NULL};

/* The target a policy scales: from ScalingTargetId (the target's Ref) or
 * from ResourceId/ScalableDimension/ServiceNamespace; -1 when not known. */
static int policy_target(json_t *props, char **rid, char **dim, char **ns)
{
    const char *id = pstr(props, "ScalingTargetId");
    if (id)
        return dr_compute_target_id_parse(id, rid, dim, ns);
    const char *r = pstr(props, "ResourceId"), *d = pstr(props, "ScalableDimension");
    const char *n = pstr(props, "ServiceNamespace");
    *rid = *dim = *ns = NULL;
    if (!r || !d || !n)
        return -1;
    *rid = dr_xstrdup(r);
    *dim = dr_xstrdup(d);
    *ns = dr_xstrdup(n);
    return 0;
}

/* The policy named `name` in the namespace (and on rid when given), a new
 * reference, or NULL. Filtered here: moto ignores PolicyNames, and its
 * ResourceId match is a substring match. */
static int policy_get(dr_apply_ctx *c, const char *ns, const char *rid, const char *name,
                      json_t **pol, dr_err *err)
{
    *pol = NULL;
    char *next = NULL;
    int rc = 0;
    do {
        json_t *in = json_pack("{s:s, s:[s]}", "ServiceNamespace", ns, "PolicyNames", name);
        if (rid)
            json_object_set_new(in, "ResourceId", json_string(rid));
        if (next)
            json_object_set_new(in, "NextToken", json_string(next));
        free(next);
        next = NULL;
        json_t *resp = NULL;
        rc = aas(c, "DescribeScalingPolicies", in, &resp, err);
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(resp, "ScalingPolicies"), i, x)
        {
            const char *pn = json_string_value(json_object_get(x, "PolicyName"));
            const char *pr = json_string_value(json_object_get(x, "ResourceId"));
            if (!*pol && pn && strcmp(pn, name) == 0 && (!rid || (pr && strcmp(pr, rid) == 0)))
                *pol = json_incref(x);
        }
        const char *t = json_string_value(json_object_get(resp, "NextToken"));
        if (rc == 0 && !*pol && t && *t)
            next = dr_xstrdup(t);
        json_decref(resp);
    } while (rc == 0 && next);
    return rc;
}

static void policy_live_from(json_t *pol, const char *phys, dr_live *out)
{
    const char *arn = json_string_value(json_object_get(pol, "PolicyARN"));
    out->physical_id = dr_xstrdup(phys ? phys : arn ? arn : "");
    out->attributes = json_object();
    if (arn)
        json_object_set_new(out->attributes, "Arn", json_string(arn));
    out->properties = json_object();
    static const char *const keys[] = {"PolicyName", "PolicyType", NULL};
    for (const char *const *k = keys; *k; k++) {
        json_t *v = json_object_get(pol, *k);
        if (v)
            json_object_set(out->properties, *k, v);
    }
}

static int policy_put(dr_apply_ctx *c, json_t *props, const char *name, const char *rid,
                      const char *dim, const char *ns, char **arn, dr_err *err)
{
    json_t *in = json_pack("{s:s, s:s, s:s, s:s}", "PolicyName", name, "ServiceNamespace", ns,
                           "ResourceId", rid, "ScalableDimension", dim);
    static const char *const keys[] = {"PolicyType", "TargetTrackingScalingPolicyConfiguration",
                                       "StepScalingPolicyConfiguration",
                                       "PredictiveScalingPolicyConfiguration", NULL};
    for (const char *const *k = keys; *k; k++) {
        json_t *v = json_object_get(props, *k);
        if (v && !json_is_null(v))
            json_object_set(in, *k, v);
    }
    json_t *resp = NULL;
    int rc = aas(c, "PutScalingPolicy", in, &resp, err);
    const char *a = json_string_value(json_object_get(resp, "PolicyARN"));
    if (rc == 0 && !a)
        rc = dr_err_set(err, DR_E_AWS, "PutScalingPolicy returned no policy ARN for %s", name);
    if (rc == 0)
        *arn = dr_xstrdup(a);
    json_decref(resp);
    return rc;
}

static int policy_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                         const char *token, dr_live *out, dr_err *err)
{
    char *rid, *dim, *ns;
    if (policy_target(props, &rid, &dim, &ns) != 0)
        return dr_err_set(err, DR_E_INTERNAL,
                          "%s: the scalable target (ScalingTargetId, or ResourceId, "
                          "ScalableDimension and ServiceNamespace) is not known",
                          logical_id);
    char *name = name_of(c, props, "PolicyName", logical_id, 255);
    char *arn = NULL;
    int rc = policy_put(c, props, name, rid, dim, ns, &arn, err);
    if (rc == 0) {
        json_t *pol = json_pack("{s:s, s:s}", "PolicyARN", arn, "PolicyName", name);
        json_t *pt = json_object_get(props, "PolicyType");
        if (pt)
            json_object_set(pol, "PolicyType", pt);
        policy_live_from(pol, arn, out);
        json_decref(pol);
    }
    free(arn);
    free(name);
    free3(rid, dim, ns);
    return rc;
}

/* Namespace, resource id and name of the policy behind an ARN, from the
 * ARN itself (it names all three), else from the properties. */
static int policy_ident(const char *arn, json_t *props, char **ns, char **rid, char **name)
{
    if (dr_compute_policy_arn_parse(arn, ns, rid, name) == 0)
        return 0;
    char *dim;
    if (policy_target(props, rid, &dim, ns) != 0 || !pstr(props, "PolicyName")) {
        free3(*rid, dim, *ns);
        *rid = *ns = NULL;
        return -1;
    }
    free(dim);
    *name = dr_xstrdup(pstr(props, "PolicyName"));
    return 0;
}

static int policy_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                       dr_live *out, dr_err *err)
{
    char *ns, *rid, *name;
    if (policy_ident(physical_id, props, &ns, &rid, &name) != 0)
        return dr_err_set(err, DR_E_INTERNAL, "'%s' is not a scaling policy ARN", physical_id);
    json_t *pol = NULL;
    /* By name, not by ARN: an update may give the policy a new ARN (moto
     * does) while the state keeps the first one. */
    int rc = policy_get(c, ns, rid, name, &pol, err);
    if (rc == 0) {
        *exists = pol != NULL;
        if (pol)
            policy_live_from(pol, physical_id, out);
    }
    json_decref(pol);
    free3(ns, rid, name);
    return rc;
}

static int policy_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                       dr_live *out, dr_err *err)
{
    *found = 0;
    char *rid = NULL, *dim = NULL, *ns = NULL;
    if (policy_target(props, &rid, &dim, &ns) != 0) {
        /* Destroy without the target's id: the name (which carries the
         * stack's) in the namespace the model names, ECS by default. */
        const char *n = pstr(props, "ServiceNamespace");
        ns = dr_xstrdup(n ? n : "ecs");
    }
    char *name = name_of(c, props, "PolicyName", logical_id, 255);
    json_t *pol = NULL;
    int rc = policy_get(c, ns, rid, name, &pol, err);
    if (rc == 0 && pol) {
        policy_live_from(pol, NULL, out);
        only_model_keys(out->properties, props);
        *found = 1;
    }
    json_decref(pol);
    free(name);
    free3(rid, dim, ns);
    return rc;
}

static int policy_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                         json_t *new_props, dr_live *out, dr_err *err)
{
    char *ns, *rid, *name;
    if (policy_ident(physical_id, new_props, &ns, &rid, &name) != 0)
        return dr_err_set(err, DR_E_INTERNAL, "'%s' is not a scaling policy ARN", physical_id);
    json_t *pol = NULL;
    int rc = policy_get(c, ns, rid, name, &pol, err);
    if (rc == 0 && !pol)
        rc = dr_err_set(err, DR_E_AWS, "scaling policy %s is gone: cannot update it", name);
    char *arn = NULL;
    if (rc == 0)
        rc =
            policy_put(c, new_props, name, rid,
                       json_string_value(json_object_get(pol, "ScalableDimension")), ns, &arn, err);
    if (rc == 0) {
        json_object_set_new(pol, "PolicyARN", json_string(arn));
        json_t *pt = json_object_get(new_props, "PolicyType");
        if (pt)
            json_object_set(pol, "PolicyType", pt);
        policy_live_from(pol, physical_id, out);
    }
    free(arn);
    json_decref(pol);
    free3(ns, rid, name);
    return rc;
}

static int policy_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    char *ns, *rid, *name;
    if (policy_ident(physical_id, props, &ns, &rid, &name) != 0)
        return dr_err_set(err, DR_E_INTERNAL, "'%s' is not a scaling policy ARN", physical_id);
    json_t *pol = NULL;
    int rc = policy_get(c, ns, rid, name, &pol, err);
    const char *dim = json_string_value(json_object_get(pol, "ScalableDimension"));
    if (rc == 0 && pol && dim) {
        rc = aas(c, "DeleteScalingPolicy",
                 json_pack("{s:s, s:s, s:s, s:s}", "PolicyName", name, "ServiceNamespace", ns,
                           "ResourceId", rid, "ScalableDimension", dim),
                 NULL, err);
        if (rc != 0 && is_code(err, "ObjectNotFoundException")) {
            dr_err_clear(err);
            rc = 0;
        }
    }
    json_decref(pol);
    free3(ns, rid, name);
    return rc;
}

/* ---- the table ------------------------------------------------------------ */

const dr_handler dr_handlers_compute[] = {{.type = "AWS::ElasticLoadBalancingV2::LoadBalancer",
                                           .create = lb_create,
                                           .find = lb_find,
                                           .read = lb_read,
                                           .update = lb_update,
                                           .remove = lb_remove,
                                           .wait_ready = lb_wait_ready,
                                           .wait_deleted = lb_wait_deleted,
                                           .update_in_place = lb_update_keys,
                                           .name_properties = lb_name_keys},
                                          {.type = "AWS::ElasticLoadBalancingV2::TargetGroup",
                                           .create = tg_create,
                                           .find = tg_find,
                                           .read = tg_read,
                                           .update = tg_update,
                                           .remove = tg_remove,
                                           .update_in_place = tg_update_keys,
                                           .name_properties = tg_name_keys},
                                          {.type = "AWS::ElasticLoadBalancingV2::Listener",
                                           .create = listener_create,
                                           .find = listener_find,
                                           .read = listener_read,
                                           .update = listener_update,
                                           .remove = listener_remove,
                                           .update_in_place = listener_update_keys},
                                          {.type = "AWS::ECS::Cluster",
                                           .create = cluster_create,
                                           .find = cluster_find,
                                           .read = cluster_read,
                                           .update = cluster_update,
                                           .remove = cluster_remove,
                                           .wait_deleted = cluster_wait_deleted,
                                           .update_in_place = cluster_update_keys,
                                           .name_properties = cluster_name_keys},
                                          {.type = "AWS::ECS::TaskDefinition",
                                           .create = td_create,
                                           .find = td_find,
                                           .read = td_read,
                                           .update = td_update,
                                           .remove = td_remove,
                                           .update_in_place = td_update_keys},
                                          {.type = "AWS::ECS::Service",
                                           .create = svc_create,
                                           .find = svc_find,
                                           .read = svc_read,
                                           .update = svc_update,
                                           .remove = svc_remove,
                                           .wait_ready = svc_wait_ready,
                                           .wait_deleted = svc_wait_deleted,
                                           .update_in_place = svc_update_keys,
                                           .name_properties = svc_name_keys},
                                          {.type = "AWS::ApplicationAutoScaling::ScalableTarget",
                                           .create = target_create,
                                           .find = target_find,
                                           .read = target_read,
                                           .update = target_update,
                                           .remove = target_remove,
                                           .update_in_place = target_update_keys,
                                           .name_properties = target_name_keys},
                                          {.type = "AWS::ApplicationAutoScaling::ScalingPolicy",
                                           .create = policy_create,
                                           .find = policy_find,
                                           .read = policy_read,
                                           .update = policy_update,
                                           .remove = policy_remove,
                                           .update_in_place = policy_update_keys,
                                           .name_properties = policy_name_keys},
                                          {.type = NULL}};
