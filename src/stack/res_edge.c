/*
 * res_edge.c - resource handlers of the edge family (the global model, in
 * us-east-1): WAFv2 web ACL, CloudFront distribution, Route 53 health
 * check and record set.
 *
 * Physical ids are what CloudFormation's Ref returns:
 * - AWS::WAFv2::WebACL          "Name|Id|Scope"
 * - AWS::CloudFront::Distribution  the distribution id
 * - AWS::Route53::HealthCheck   the health check id
 * - AWS::Route53::RecordSet     the record's name; the zone, type and set
 *   identifier that find it again come from the properties (they are all
 *   literals in the model, so destroy knows them too) and are kept in the
 *   attributes as well.
 *
 * Route 53 and CloudFront are global: the client signs them for us-east-1
 * whatever region is passed. A CLOUDFRONT-scope web ACL must be managed
 * through us-east-1, so its calls go there whatever the context's region.
 *
 * Idempotency: CloudFront and Route 53 health checks take the engine's
 * token as CallerReference (AWS returns the existing resource for a repeated
 * reference with the same configuration); a web ACL's name is unique in its
 * scope, so a repeated create finds the existing one; a record set is
 * written with UPSERT.
 *
 * Waiting: a distribution is ready when its Status is Deployed (minutes on
 * AWS); deleting one means disabling it, waiting until that is deployed,
 * then DELETE with the latest ETag - all inside remove, since a disabled
 * distribution left behind would be a half-done destroy. Record changes
 * are not waited for INSYNC during deploy (nothing after them depends on
 * propagation); the failover runbook waits through dr_route53_wait_insync.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/xml.h"
#include "stack/res_edge.h"
#include "util/mem.h"

/* ---- shared helpers ---------------------------------------------------- */

static int aws_code_is(const dr_err *err, const char *code)
{
    return err->has_aws && strcmp(err->aws.code, code) == 0;
}

/* One rest-xml call; *doc (if asked) is the parsed answer, NULL for an empty
 * body. */
static int rest(dr_aws *aws, const char *service, const char *op, const char *method,
                const char *path, const dr_kvlist *query, const dr_kvlist *headers,
                const char *body, dr_aws_rest_resp *resp, xmlDocPtr *doc, dr_err *err)
{
    dr_aws_rest_req req = {0};
    req.service = service;
    req.region = "us-east-1";
    req.operation = op;
    req.method = method;
    req.path = path;
    req.query = query;
    dr_kvlist hdr = DR_KVLIST_INIT;
    if (headers)
        dr_kv_copy(&hdr, headers);
    if (body) {
        if (!dr_kv_get(&hdr, "Content-Type"))
            dr_kv_add(&hdr, "Content-Type", "application/xml");
        req.body = body;
        req.body_len = strlen(body);
    }
    req.headers = &hdr;
    dr_aws_rest_resp local;
    dr_aws_rest_resp_init(&local);
    dr_aws_rest_resp *r = resp ? resp : &local;
    int rc = dr_aws_rest(aws, &req, r, err);
    dr_kv_free(&hdr);
    if (rc == 0 && doc) {
        *doc = NULL;
        if (r->body.len > 0) {
            *doc = dr_xml_parse(r->body.data, r->body.len);
            if (!*doc)
                rc = dr_err_set(err, DR_E_AWS, "%s %s: the answer is not XML", service, op);
        }
    }
    dr_aws_rest_resp_free(&local);
    return rc;
}

static xmlNodePtr root_of(xmlDocPtr doc)
{
    return doc ? xmlDocGetRootElement(doc) : NULL;
}

/* Text of a direct child (path) as a new string, or NULL. */
static char *xtext(xmlNodePtr node, const char *path)
{
    return node ? dr_xml_text(node, path) : NULL;
}

static const char *tag_value(json_t *tags, const char *key)
{
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        if (k && strcmp(k, key) == 0)
            return json_string_value(json_object_get(t, "Value"));
    }
    return NULL;
}

/* The resource of this stack and logical id, by its drctl tags. */
static int tags_match(json_t *tags, const dr_apply_ctx *c, const char *logical_id)
{
    const char *s = tag_value(tags, "drctl:stack");
    const char *l = tag_value(tags, "drctl:logical-id");
    return s && l && c->stack && strcmp(s, c->stack) == 0 && strcmp(l, logical_id) == 0;
}

/* Tags {Key, Value} from <Tag><Key/><Value/></Tag> siblings. */
static json_t *tags_from_xml(xmlNodePtr first_tag)
{
    json_t *tags = json_array();
    for (xmlNodePtr t = first_tag; t; t = dr_xml_next_same(t)) {
        char *k = xtext(t, "Key"), *v = xtext(t, "Value");
        if (k)
            json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", k, "Value", v ? v : ""));
        free(k);
        free(v);
    }
    return tags;
}

/* Tag changes from old to new: what to set (new or changed) and which keys
 * to drop. drctl's own tags are never dropped: find relies on them. */
static void tags_diff(json_t *old_tags, json_t *new_tags, json_t **set, json_t **drop)
{
    *set = json_array();
    *drop = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(new_tags, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        const char *v = json_string_value(json_object_get(t, "Value"));
        const char *was = k ? tag_value(old_tags, k) : NULL;
        if (k && (!was || strcmp(was, v ? v : "") != 0))
            json_array_append(*set, t);
    }
    json_array_foreach(old_tags, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        if (k && strncmp(k, "drctl:", 6) != 0 && !tag_value(new_tags, k))
            json_array_append_new(*drop, json_string(k));
    }
}

/*
 * What AWS reports, cut to the shape of what the model wrote: keys the
 * model does not set are left out (AWS fills in defaults), lists of the
 * same length are cut element by element. Adoption compares the result
 * with the model, so only real differences show.
 */
static json_t *project(json_t *live, json_t *model)
{
    if (json_is_object(live) && json_is_object(model)) {
        json_t *o = json_object();
        const char *k;
        json_t *mv;
        json_object_foreach(model, k, mv)
        {
            json_t *lv = json_object_get(live, k);
            if (lv && !json_is_null(lv))
                json_object_set_new(o, k, project(lv, mv));
        }
        return o;
    }
    if (json_is_array(live) && json_is_array(model) &&
        json_array_size(live) == json_array_size(model)) {
        json_t *a = json_array();
        for (size_t i = 0; i < json_array_size(live); i++)
            json_array_append_new(a, project(json_array_get(live, i), json_array_get(model, i)));
        return a;
    }
    return json_deep_copy(live);
}

/* DNS names compare without case and without the final dot. */
static int dns_eq(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '.')
        la--;
    if (lb && b[lb - 1] == '.')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

static const char *jstr(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && strcmp(s, DR_KNOWN_AFTER_APPLY) != 0 ? s : NULL;
}

/* ======================================================================
 * AWS::WAFv2::WebACL (wafv2, JSON 1.1)
 * ====================================================================== */

/* CloudFormation properties that go to CreateWebACL/UpdateWebACL as they
 * are (the shapes are the API's, apart from ByteMatchStatement's strings,
 * see waf_fix_statements). */
static const char *const waf_passthrough[] = {
    "DefaultAction",
    "Description",
    "Rules",
    "VisibilityConfig",
    "CustomResponseBodies",
    "CaptchaConfig",
    "ChallengeConfig",
    "TokenDomains",
    "AssociationConfig",
    "DataProtectionConfig",
    NULL,
};

static const char *const waf_update_in_place[] = {
    "DefaultAction",
    "Description",
    "Rules",
    "VisibilityConfig",
    "CustomResponseBodies",
    "CaptchaConfig",
    "ChallengeConfig",
    "TokenDomains",
    "AssociationConfig",
    "DataProtectionConfig",
    "Tags",
    NULL,
};

static const char *const waf_names[] = {"Name", NULL};

typedef struct waf_ref {
    char *name, *id, *scope;
} waf_ref;

static void waf_ref_free(waf_ref *w)
{
    free(w->name);
    free(w->id);
    free(w->scope);
}

static int waf_parse(const char *phys, waf_ref *w, dr_err *err)
{
    memset(w, 0, sizeof(*w));
    const char *a = strchr(phys, '|');
    const char *b = a ? strchr(a + 1, '|') : NULL;
    if (!a || !b || strchr(b + 1, '|'))
        return dr_err_set(err, DR_E_INTERNAL, "%s: not a web ACL reference (Name|Id|Scope)", phys);
    w->name = dr_xstrndup(phys, (size_t)(a - phys));
    w->id = dr_xstrndup(a + 1, (size_t)(b - a - 1));
    w->scope = dr_xstrdup(b + 1);
    return 0;
}

/* CLOUDFRONT-scope ACLs are managed through us-east-1 only. */
static const char *waf_region(const dr_apply_ctx *c, const char *scope)
{
    return scope && strcmp(scope, "CLOUDFRONT") == 0 ? "us-east-1" : c->region;
}

static char *b64(const char *s)
{
    size_t n = strlen(s);
    char *out = dr_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    return out;
}

/* CloudFormation writes a ByteMatchStatement's SearchString as text (or
 * SearchStringBase64); the JSON API takes SearchString as a base64 blob. */
static void waf_fix_statements(json_t *v)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) waf_fix_statements(e);
        return;
    }
    if (!json_is_object(v))
        return;
    json_t *bm = json_object_get(v, "ByteMatchStatement");
    if (json_is_object(bm)) {
        json_t *b = json_object_get(bm, "SearchStringBase64");
        const char *plain = json_string_value(json_object_get(bm, "SearchString"));
        if (json_is_string(b)) {
            json_object_set(bm, "SearchString", b);
            json_object_del(bm, "SearchStringBase64");
        } else if (plain) {
            char *enc = b64(plain);
            json_object_set_new(bm, "SearchString", json_string(enc));
            free(enc);
        }
    }
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e)
    {
        if (strcmp(k, "ByteMatchStatement") != 0)
            waf_fix_statements(e);
    }
}

/* The request members shared by create and update, from the properties. */
static int waf_input(json_t *props, json_t **out, dr_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(props, k, v)
    {
        int known = strcmp(k, "Name") == 0 || strcmp(k, "Scope") == 0 || strcmp(k, "Tags") == 0;
        for (const char *const *p = waf_passthrough; !known && *p; p++)
            known = strcmp(*p, k) == 0;
        if (!known)
            return dr_err_set(err, DR_E_CONFIG, "WebACL property %s: not one drctl knows", k);
    }
    json_t *in = json_object();
    json_object_set(in, "Name", json_object_get(props, "Name"));
    json_object_set(in, "Scope", json_object_get(props, "Scope"));
    for (const char *const *p = waf_passthrough; *p; p++) {
        json_t *pv = json_object_get(props, *p);
        if (pv)
            json_object_set_new(in, *p, json_deep_copy(pv));
    }
    waf_fix_statements(json_object_get(in, "Rules"));
    *out = in;
    return 0;
}

/* GetWebACL: attributes, properties (cut to `model`), and the lock token. */
static int waf_get(dr_apply_ctx *c, const waf_ref *w, json_t *model, int *exists, dr_live *out,
                   char **lock_token, dr_err *err)
{
    json_t *in = json_pack("{s:s, s:s, s:s}", "Name", w->name, "Scope", w->scope, "Id", w->id);
    json_t *resp = NULL;
    int rc = dr_aws_json(c->aws, "wafv2", waf_region(c, w->scope), "GetWebACL", in, &resp, err);
    json_decref(in);
    if (rc != 0) {
        if (aws_code_is(err, "WAFNonexistentItemException")) {
            dr_err_clear(err);
            *exists = 0;
            return 0;
        }
        return -1;
    }
    *exists = 1;
    json_t *acl = json_object_get(resp, "WebACL");
    if (out) {
        free(out->physical_id);
        out->physical_id = dr_xasprintf("%s|%s|%s", w->name, w->id, w->scope);
        json_decref(out->attributes);
        out->attributes = json_pack("{s:O?, s:O?}", "Arn", json_object_get(acl, "ARN"), "Id",
                                    json_object_get(acl, "Id"));
        json_t *ln = json_object_get(acl, "LabelNamespace");
        json_t *cap = json_object_get(acl, "Capacity");
        if (json_is_string(ln))
            json_object_set(out->attributes, "LabelNamespace", ln);
        if (json_is_integer(cap))
            json_object_set(out->attributes, "Capacity", cap);
        json_decref(out->properties);
        out->properties = NULL;
        if (json_is_object(model)) {
            json_t *live = json_deep_copy(acl);
            json_object_set_new(live, "Scope", json_string(w->scope));
            json_object_del(live, "Tags"); /* not in GetWebACL; never compared */
            json_t *m = json_deep_copy(model);
            json_object_del(m, "Tags");
            out->properties = project(live, m);
            json_decref(live);
            json_decref(m);
        }
    }
    if (lock_token) {
        const char *lt = json_string_value(json_object_get(resp, "LockToken"));
        *lock_token = lt ? dr_xstrdup(lt) : NULL;
    }
    json_decref(resp);
    return 0;
}

/* ListWebACLs by name (names are unique in a scope and region). */
static int waf_find_by_name(dr_apply_ctx *c, const char *name, const char *scope, waf_ref *w,
                            int *found, dr_err *err)
{
    *found = 0;
    char *marker = NULL;
    int rc = 0;
    do {
        json_t *in = json_pack("{s:s, s:i}", "Scope", scope, "Limit", 100);
        if (marker)
            json_object_set_new(in, "NextMarker", json_string(marker));
        json_t *resp = NULL;
        rc = dr_aws_json(c->aws, "wafv2", waf_region(c, scope), "ListWebACLs", in, &resp, err);
        json_decref(in);
        free(marker);
        marker = NULL;
        if (rc != 0)
            break;
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(resp, "WebACLs"), i, s)
        {
            const char *n = json_string_value(json_object_get(s, "Name"));
            const char *id = json_string_value(json_object_get(s, "Id"));
            if (n && id && strcmp(n, name) == 0) {
                w->name = dr_xstrdup(n);
                w->id = dr_xstrdup(id);
                w->scope = dr_xstrdup(scope);
                *found = 1;
                break;
            }
        }
        const char *next = json_string_value(json_object_get(resp, "NextMarker"));
        /* An empty page with a marker would loop forever on a broken
         * server: stop on an empty page too. */
        if (!*found && next && *next && json_array_size(json_object_get(resp, "WebACLs")))
            marker = dr_xstrdup(next);
        json_decref(resp);
    } while (marker);
    return rc;
}

static int waf_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                    dr_live *out, dr_err *err)
{
    const char *name = jstr(props, "Name"), *scope = jstr(props, "Scope");
    *found = 0;
    if (!name || !scope)
        return 0;
    waf_ref w = {0};
    if (waf_find_by_name(c, name, scope, &w, found, err) != 0)
        return -1;
    int rc = 0;
    if (*found) {
        int exists = 0;
        rc = waf_get(c, &w, props, &exists, out, NULL, err);
        *found = rc == 0 && exists;
    }
    waf_ref_free(&w);
    return rc;
}

static int waf_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                      const char *token, dr_live *out, dr_err *err)
{
    json_t *in = NULL;
    if (waf_input(props, &in, err) != 0)
        return -1;
    if (json_array_size(tags))
        json_object_set(in, "Tags", tags);
    const char *scope = jstr(props, "Scope");
    json_t *resp = NULL;
    int rc = dr_aws_json(c->aws, "wafv2", waf_region(c, scope), "CreateWebACL", in, &resp, err);
    json_decref(in);
    if (rc != 0) {
        /* No client token in this API, but the name is unique: a repeated
         * create (a lost answer) finds the one the first call made. */
        if (!aws_code_is(err, "WAFDuplicateItemException") &&
            !aws_code_is(err, "WafV2DuplicateItem")) /* moto's name for it */
            return -1;
        dr_err err2;
        dr_err_clear(&err2);
        int found = 0;
        if (waf_find(c, logical_id, props, &found, out, &err2) != 0 || !found)
            return -1; /* the duplicate error says more than the look-up */
        dr_err_clear(err);
        return 0;
    }
    json_t *sum = json_object_get(resp, "Summary");
    const char *id = json_string_value(json_object_get(sum, "Id"));
    const char *arn = json_string_value(json_object_get(sum, "ARN"));
    if (!id || !arn) {
        json_decref(resp);
        return dr_err_set(err, DR_E_AWS, "wafv2 CreateWebACL: no Id/ARN in the answer");
    }
    out->physical_id = dr_xasprintf("%s|%s|%s", jstr(props, "Name"), id, scope);
    out->attributes = json_pack("{s:s, s:s}", "Arn", arn, "Id", id);
    json_decref(resp);
    return 0;
}

static int waf_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                    dr_live *out, dr_err *err)
{
    waf_ref w;
    if (waf_parse(physical_id, &w, err) != 0)
        return -1;
    int rc = waf_get(c, &w, props, exists, out, NULL, err);
    waf_ref_free(&w);
    return rc;
}

static int waf_tags(dr_apply_ctx *c, const char *scope, const char *arn, json_t *old_tags,
                    json_t *new_tags, dr_err *err)
{
    json_t *set, *drop;
    tags_diff(old_tags, new_tags, &set, &drop);
    int rc = 0;
    if (json_array_size(set)) {
        json_t *in = json_pack("{s:s, s:O}", "ResourceARN", arn, "Tags", set);
        rc = dr_aws_json(c->aws, "wafv2", waf_region(c, scope), "TagResource", in, NULL, err);
        json_decref(in);
    }
    if (rc == 0 && json_array_size(drop)) {
        json_t *in = json_pack("{s:s, s:O}", "ResourceARN", arn, "TagKeys", drop);
        rc = dr_aws_json(c->aws, "wafv2", waf_region(c, scope), "UntagResource", in, NULL, err);
        json_decref(in);
    }
    json_decref(set);
    json_decref(drop);
    return rc;
}

/* Lock-token operations retry a few times when someone else changed the
 * ACL between our GetWebACL and the call. */
#define WAF_LOCK_ATTEMPTS 4

static int waf_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                      json_t *new_props, dr_live *out, dr_err *err)
{
    waf_ref w;
    if (waf_parse(physical_id, &w, err) != 0)
        return -1;
    int rc = -1;
    for (int a = 1; a <= WAF_LOCK_ATTEMPTS; a++) {
        char *lock = NULL;
        int exists = 0;
        if (waf_get(c, &w, NULL, &exists, NULL, &lock, err) != 0)
            break;
        if (!exists) {
            dr_err_set(err, DR_E_NOT_FOUND, "web ACL %s is gone", physical_id);
            break;
        }
        json_t *in = NULL;
        if (waf_input(new_props, &in, err) != 0) {
            free(lock);
            break;
        }
        json_object_set_new(in, "Name", json_string(w.name)); /* not updatable: the live one */
        json_object_set_new(in, "Scope", json_string(w.scope));
        json_object_set_new(in, "Id", json_string(w.id));
        json_object_set_new(in, "LockToken", json_string(lock ? lock : ""));
        free(lock);
        rc = dr_aws_json(c->aws, "wafv2", waf_region(c, w.scope), "UpdateWebACL", in, NULL, err);
        json_decref(in);
        if (rc == 0 || !aws_code_is(err, "WAFOptimisticLockException") || a == WAF_LOCK_ATTEMPTS)
            break;
        dr_err_clear(err);
    }
    if (rc == 0) {
        int exists = 0;
        rc = waf_get(c, &w, new_props, &exists, out, NULL, err);
        const char *arn = out ? json_string_value(json_object_get(out->attributes, "Arn")) : NULL;
        if (rc == 0 && arn)
            rc = waf_tags(c, w.scope, arn, json_object_get(old_props, "Tags"),
                          json_object_get(new_props, "Tags"), err);
    }
    waf_ref_free(&w);
    return rc;
}

static int waf_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    waf_ref w;
    if (waf_parse(physical_id, &w, err) != 0)
        return -1;
    int rc = 0;
    for (int a = 1; a <= WAF_LOCK_ATTEMPTS; a++) {
        char *lock = NULL;
        int exists = 0;
        rc = waf_get(c, &w, NULL, &exists, NULL, &lock, err);
        if (rc != 0 || !exists) {
            free(lock);
            break;
        }
        json_t *in = json_pack("{s:s, s:s, s:s, s:s}", "Name", w.name, "Scope", w.scope, "Id", w.id,
                               "LockToken", lock ? lock : "");
        free(lock);
        rc = dr_aws_json(c->aws, "wafv2", waf_region(c, w.scope), "DeleteWebACL", in, NULL, err);
        json_decref(in);
        if (rc != 0 && aws_code_is(err, "WAFNonexistentItemException")) {
            dr_err_clear(err);
            rc = 0;
        }
        if (rc == 0 || !aws_code_is(err, "WAFOptimisticLockException") || a == WAF_LOCK_ATTEMPTS)
            break;
        dr_err_clear(err);
    }
    waf_ref_free(&w);
    return rc;
}

/* ======================================================================
 * AWS::CloudFront::Distribution (cloudfront, rest-xml, global)
 * ====================================================================== */

#define CF_PREFIX "/2020-05-31"

static const char *const cf_update_in_place[] = {"DistributionConfig", "Tags", NULL};

/* Attributes (and properties cut to `model`) from a <Distribution>. */
static void cf_live(xmlNodePtr dist, json_t *model, dr_live *out)
{
    char *id = xtext(dist, "Id"), *arn = xtext(dist, "ARN"), *dn = xtext(dist, "DomainName");
    free(out->physical_id);
    out->physical_id = id;
    json_decref(out->attributes);
    out->attributes = json_pack("{s:s?, s:s?, s:s?}", "Id", id, "DomainName", dn, "Arn", arn);
    free(arn);
    free(dn);
    json_decref(out->properties);
    out->properties = NULL;
    xmlNodePtr cfg = dr_xml_find(dist, "DistributionConfig");
    json_t *mcfg = json_object_get(model, "DistributionConfig");
    if (cfg && json_is_object(mcfg)) {
        json_t *live = dr_cf_config_json(cfg);
        out->properties = json_pack("{s:o}", "DistributionConfig", project(live, mcfg));
        json_decref(live);
    }
}

/* GetDistribution: the document (root <Distribution>) and its ETag, or
 * *exists = 0. */
static int cf_get(dr_apply_ctx *c, const char *id, int *exists, xmlDocPtr *doc, char **etag,
                  dr_err *err)
{
    char *path = dr_xasprintf(CF_PREFIX "/distribution/%s", id);
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = rest(c->aws, "cloudfront", "GetDistribution", "GET", path, NULL, NULL, NULL, &resp,
                  doc, err);
    free(path);
    *exists = 0;
    if (rc != 0) {
        dr_aws_rest_resp_free(&resp);
        if (aws_code_is(err, "NoSuchDistribution")) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    if (!*doc) {
        dr_aws_rest_resp_free(&resp);
        return dr_err_set(err, DR_E_AWS, "cloudfront GetDistribution: empty answer");
    }
    *exists = 1;
    if (etag) {
        const char *e = dr_kv_get(&resp.headers, "etag");
        *etag = e ? dr_xstrdup(e) : NULL;
    }
    dr_aws_rest_resp_free(&resp);
    return 0;
}

static int cf_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                   dr_live *out, dr_err *err)
{
    xmlDocPtr doc = NULL;
    if (cf_get(c, physical_id, exists, &doc, NULL, err) != 0)
        return -1;
    if (*exists)
        cf_live(root_of(doc), props, out);
    xmlFreeDoc(doc);
    return 0;
}

/* The distribution id named by "... Already exists: <id>" (AWS and moto
 * both say it that way), or NULL. */
static char *cf_existing_id(const dr_err *err)
{
    const char *p = strstr(err->aws.message, "Already exists: ");
    if (!p)
        return NULL;
    p += strlen("Already exists: ");
    size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    return n ? dr_xstrndup(p, n) : NULL;
}

static int cf_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                   dr_err *err);

static int cf_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                     const char *token, dr_live *out, dr_err *err)
{
    dr_buf body = DR_BUF_INIT;
    json_t *none = json_array();
    if (dr_cf_create_with_tags_xml(json_object_get(props, "DistributionConfig"), token,
                                   tags ? tags : none, &body, err) != 0) {
        json_decref(none);
        dr_buf_free(&body);
        return -1;
    }
    json_decref(none);
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "WithTags", "");
    xmlDocPtr doc = NULL;
    int rc = rest(c->aws, "cloudfront", "CreateDistributionWithTags", "POST",
                  CF_PREFIX "/distribution", &q, NULL, dr_buf_cstr(&body), NULL, &doc, err);
    dr_kv_free(&q);
    dr_buf_free(&body);
    if (rc != 0) {
        /* The same CallerReference again: AWS answers with the existing
         * distribution when the configuration is identical, and with
         * DistributionAlreadyExists (naming it) otherwise - moto always
         * does the latter. Either way it is ours: adopt it; a changed
         * configuration is then an update for the next plan. */
        if (!aws_code_is(err, "DistributionAlreadyExists"))
            return -1;
        char *id = cf_existing_id(err);
        dr_err saved = *err;
        dr_err_clear(err);
        int exists = 0;
        if (id) {
            rc = cf_read(c, id, props, &exists, out, err);
        } else {
            rc = cf_find(c, logical_id, props, &exists, out, err);
        }
        free(id);
        if (rc == 0 && !exists) {
            *err = saved;
            return -1;
        }
        return rc;
    }
    xmlNodePtr dist = root_of(doc);
    if (!dist || !dr_xml_find(dist, "Id")) {
        xmlFreeDoc(doc);
        return dr_err_set(err, DR_E_AWS, "cloudfront CreateDistributionWithTags: no Id");
    }
    cf_live(dist, props, out);
    xmlFreeDoc(doc);
    return 0;
}

static int cf_deployed(dr_apply_ctx *c, void *ud, dr_err *err)
{
    const char *id = ud;
    xmlDocPtr doc = NULL;
    int exists = 0;
    if (cf_get(c, id, &exists, &doc, NULL, err) != 0)
        return -1;
    if (!exists)
        return dr_err_set(err, DR_E_NOT_FOUND, "CloudFront distribution %s is gone", id);
    char *status = xtext(root_of(doc), "Status");
    int done = status && strcmp(status, "Deployed") == 0;
    free(status);
    xmlFreeDoc(doc);
    return done;
}

/* A distribution deploys to every edge location: 5 to 30 minutes on AWS. */
#define CF_DEPLOY_TIMEOUT_S 2700L

static int cf_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    char what[128];
    snprintf(what, sizeof(what), "CloudFront distribution %s to be deployed", physical_id);
    return dr_wait(c, what, CF_DEPLOY_TIMEOUT_S, cf_deployed, (void *)physical_id, err);
}

/* GetDistributionConfig: the document (root <DistributionConfig>) and ETag. */
static int cf_get_config(dr_apply_ctx *c, const char *id, int *exists, xmlDocPtr *doc, char **etag,
                         dr_err *err)
{
    char *path = dr_xasprintf(CF_PREFIX "/distribution/%s/config", id);
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = rest(c->aws, "cloudfront", "GetDistributionConfig", "GET", path, NULL, NULL, NULL,
                  &resp, doc, err);
    free(path);
    *exists = 0;
    *etag = NULL;
    if (rc != 0) {
        dr_aws_rest_resp_free(&resp);
        if (aws_code_is(err, "NoSuchDistribution")) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    const char *e = dr_kv_get(&resp.headers, "etag");
    if (!*doc || !e) {
        dr_aws_rest_resp_free(&resp);
        xmlFreeDoc(*doc);
        *doc = NULL;
        return dr_err_set(err, DR_E_AWS, "cloudfront GetDistributionConfig: no %s",
                          e ? "configuration" : "ETag");
    }
    *exists = 1;
    *etag = dr_xstrdup(e);
    dr_aws_rest_resp_free(&resp);
    return 0;
}

/* UpdateDistribution: PUT the body with If-Match; *doc is the answer
 * (<Distribution>), *new_etag its ETag (either may be NULL). */
static int cf_put_config(dr_apply_ctx *c, const char *id, const char *etag, const char *body,
                         xmlDocPtr *doc, char **new_etag, dr_err *err)
{
    char *path = dr_xasprintf(CF_PREFIX "/distribution/%s/config", id);
    dr_kvlist hdr = DR_KVLIST_INIT;
    dr_kv_add(&hdr, "If-Match", etag);
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = rest(c->aws, "cloudfront", "UpdateDistribution", "PUT", path, NULL, &hdr, body, &resp,
                  doc, err);
    if (rc == 0 && new_etag) {
        const char *e = dr_kv_get(&resp.headers, "etag");
        *new_etag = e ? dr_xstrdup(e) : NULL;
    }
    dr_aws_rest_resp_free(&resp);
    dr_kv_free(&hdr);
    free(path);
    return rc;
}

static int cf_tag_call(dr_apply_ctx *c, const char *arn, const char *operation, const char *body,
                       dr_err *err)
{
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "Operation", strcmp(operation, "TagResource") == 0 ? "Tag" : "Untag");
    dr_kv_add(&q, "Resource", arn);
    int rc = rest(c->aws, "cloudfront", operation, "POST", CF_PREFIX "/tagging", &q, NULL, body,
                  NULL, NULL, err);
    dr_kv_free(&q);
    return rc;
}

static void put_text(dr_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '&')
            dr_buf_puts(b, "&amp;");
        else if (*s == '<')
            dr_buf_puts(b, "&lt;");
        else if (*s == '>')
            dr_buf_puts(b, "&gt;");
        else
            dr_buf_putc(b, *s);
    }
}

static int cf_tags(dr_apply_ctx *c, const char *arn, json_t *old_tags, json_t *new_tags,
                   dr_err *err)
{
    json_t *set, *drop;
    tags_diff(old_tags, new_tags, &set, &drop);
    int rc = 0;
    size_t i;
    json_t *t;
    if (json_array_size(set)) {
        dr_buf b = DR_BUF_INIT;
        dr_buf_printf(&b, "<Tags xmlns=\"%s\"><Items>", DR_CLOUDFRONT_XMLNS);
        json_array_foreach(set, i, t)
        {
            const char *v = json_string_value(json_object_get(t, "Value"));
            dr_buf_puts(&b, "<Tag><Key>");
            put_text(&b, json_string_value(json_object_get(t, "Key")));
            dr_buf_puts(&b, "</Key><Value>");
            put_text(&b, v ? v : "");
            dr_buf_puts(&b, "</Value></Tag>");
        }
        dr_buf_puts(&b, "</Items></Tags>");
        rc = cf_tag_call(c, arn, "TagResource", dr_buf_cstr(&b), err);
        dr_buf_free(&b);
    }
    if (rc == 0 && json_array_size(drop)) {
        dr_buf b = DR_BUF_INIT;
        dr_buf_printf(&b, "<TagKeys xmlns=\"%s\"><Items>", DR_CLOUDFRONT_XMLNS);
        json_array_foreach(drop, i, t)
        {
            dr_buf_puts(&b, "<Key>");
            put_text(&b, json_string_value(t));
            dr_buf_puts(&b, "</Key>");
        }
        dr_buf_puts(&b, "</Items></TagKeys>");
        rc = cf_tag_call(c, arn, "UntagResource", dr_buf_cstr(&b), err);
        dr_buf_free(&b);
    }
    json_decref(set);
    json_decref(drop);
    return rc;
}

/* An ETag that went stale between our GET and PUT (someone else changed
 * the distribution): read again and retry a few times. */
#define CF_ETAG_ATTEMPTS 4

static int cf_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                     dr_live *out, dr_err *err)
{
    int rc = -1;
    for (int a = 1; a <= CF_ETAG_ATTEMPTS; a++) {
        xmlDocPtr cfg = NULL;
        char *etag = NULL;
        int exists = 0;
        if (cf_get_config(c, physical_id, &exists, &cfg, &etag, err) != 0)
            return -1;
        if (!exists)
            return dr_err_set(err, DR_E_NOT_FOUND, "CloudFront distribution %s is gone",
                              physical_id);
        /* The whole configuration is replaced; CallerReference must stay
         * the one the distribution was created with. */
        char *ref = xtext(root_of(cfg), "CallerReference");
        xmlFreeDoc(cfg);
        dr_buf body = DR_BUF_INIT;
        dr_buf_puts(&body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        rc = dr_cf_config_xml(json_object_get(new_props, "DistributionConfig"), ref ? ref : "",
                              DR_CLOUDFRONT_XMLNS, &body, err);
        free(ref);
        xmlDocPtr doc = NULL;
        if (rc == 0)
            rc = cf_put_config(c, physical_id, etag, dr_buf_cstr(&body), &doc, NULL, err);
        dr_buf_free(&body);
        free(etag);
        if (rc == 0) {
            if (doc)
                cf_live(root_of(doc), new_props, out);
            xmlFreeDoc(doc);
            break;
        }
        if (!aws_code_is(err, "PreconditionFailed") || a == CF_ETAG_ATTEMPTS)
            return -1;
        dr_err_clear(err);
    }
    const char *arn = json_string_value(json_object_get(out->attributes, "Arn"));
    if (!arn) {
        int exists = 0;
        if (cf_read(c, physical_id, new_props, &exists, out, err) != 0)
            return -1;
        arn = json_string_value(json_object_get(out->attributes, "Arn"));
    }
    if (arn)
        rc = cf_tags(c, arn, json_object_get(old_props, "Tags"), json_object_get(new_props, "Tags"),
                     err);
    return rc;
}

typedef struct cf_wait_ud {
    const char *id;
    char *etag; /* of the last GetDistribution */
    int gone;
} cf_wait_ud;

static int cf_deployed_etag(dr_apply_ctx *c, void *p, dr_err *err)
{
    cf_wait_ud *u = p;
    xmlDocPtr doc = NULL;
    int exists = 0;
    char *etag = NULL;
    if (cf_get(c, u->id, &exists, &doc, &etag, err) != 0)
        return -1;
    if (!exists) {
        u->gone = 1;
        return 1;
    }
    free(u->etag);
    u->etag = etag;
    char *status = xtext(root_of(doc), "Status");
    int done = status && strcmp(status, "Deployed") == 0;
    free(status);
    xmlFreeDoc(doc);
    return done;
}

/* Sets <Enabled> of a <DistributionConfig> document to false and returns
 * the document as text: every other element goes back exactly as CloudFront
 * gave it, including any drctl does not know. */
static char *cf_disabled_body(xmlDocPtr cfg)
{
    xmlNodePtr en = dr_xml_find(root_of(cfg), "Enabled");
    if (!en)
        return NULL;
    xmlNodeSetContent(en, BAD_CAST "false");
    xmlChar *mem = NULL;
    int len = 0;
    xmlDocDumpMemoryEnc(cfg, &mem, &len, "UTF-8");
    char *s = mem ? dr_xstrndup((const char *)mem, (size_t)len) : NULL;
    xmlFree(mem);
    return s;
}

static int cf_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    for (int a = 1;; a++) {
        xmlDocPtr cfg = NULL;
        char *etag = NULL;
        int exists = 0;
        if (cf_get_config(c, physical_id, &exists, &cfg, &etag, err) != 0)
            return -1;
        if (!exists)
            return 0;
        char *enabled = xtext(root_of(cfg), "Enabled");
        int rc = 0;
        if (enabled && strcmp(enabled, "true") == 0) {
            char *body = cf_disabled_body(cfg);
            if (!body)
                rc = dr_err_set(err, DR_E_AWS, "cloudfront: distribution %s has no Enabled",
                                physical_id);
            else
                rc = cf_put_config(c, physical_id, etag, body, NULL, NULL, err);
            free(body);
        }
        free(enabled);
        xmlFreeDoc(cfg);
        free(etag);
        if (rc == 0) {
            /* Deleting needs the disabled configuration deployed, and the
             * ETag of that version. */
            cf_wait_ud u = {.id = physical_id};
            char what[160];
            snprintf(what, sizeof(what), "CloudFront distribution %s to be deployed disabled",
                     physical_id);
            rc = dr_wait(c, what, CF_DEPLOY_TIMEOUT_S, cf_deployed_etag, &u, err);
            if (rc == 0 && !u.gone) {
                char *path = dr_xasprintf(CF_PREFIX "/distribution/%s", physical_id);
                dr_kvlist hdr = DR_KVLIST_INIT;
                dr_kv_add(&hdr, "If-Match", u.etag ? u.etag : "");
                rc = rest(c->aws, "cloudfront", "DeleteDistribution", "DELETE", path, NULL, &hdr,
                          NULL, NULL, NULL, err);
                dr_kv_free(&hdr);
                free(path);
                if (rc != 0 && aws_code_is(err, "NoSuchDistribution")) {
                    dr_err_clear(err);
                    rc = 0;
                }
            }
            free(u.etag);
        }
        if (rc == 0)
            return 0;
        /* Changed under us (stale ETag) or re-enabled meanwhile: start over. */
        if ((!aws_code_is(err, "PreconditionFailed") &&
             !aws_code_is(err, "DistributionNotDisabled")) ||
            a >= CF_ETAG_ATTEMPTS)
            return -1;
        dr_err_clear(err);
    }
}

/* ListTagsForResource of one distribution. */
static int cf_list_tags(dr_apply_ctx *c, const char *arn, json_t **tags, dr_err *err)
{
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "Resource", arn);
    xmlDocPtr doc = NULL;
    int rc = rest(c->aws, "cloudfront", "ListTagsForResource", "GET", CF_PREFIX "/tagging", &q,
                  NULL, NULL, NULL, &doc, err);
    dr_kv_free(&q);
    if (rc != 0)
        return -1;
    *tags = tags_from_xml(dr_xml_find(root_of(doc), "Items/Tag"));
    xmlFreeDoc(doc);
    return 0;
}

static int cf_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                   dr_err *err)
{
    *found = 0;
    char *marker = NULL, *match = NULL;
    int rc = 0;
    do {
        dr_kvlist q = DR_KVLIST_INIT;
        dr_kv_add(&q, "MaxItems", "100");
        if (marker)
            dr_kv_add(&q, "Marker", marker);
        free(marker);
        marker = NULL;
        xmlDocPtr doc = NULL;
        rc = rest(c->aws, "cloudfront", "ListDistributions", "GET", CF_PREFIX "/distribution", &q,
                  NULL, NULL, NULL, &doc, err);
        dr_kv_free(&q);
        if (rc != 0)
            break;
        xmlNodePtr list = root_of(doc);
        for (xmlNodePtr s = dr_xml_find(list, "Items/DistributionSummary"); s && !match;
             s = dr_xml_next_same(s)) {
            char *arn = xtext(s, "ARN"), *id = xtext(s, "Id");
            json_t *tags = NULL;
            if (arn && id && (rc = cf_list_tags(c, arn, &tags, err)) == 0 &&
                tags_match(tags, c, logical_id))
                match = dr_xstrdup(id);
            json_decref(tags);
            free(arn);
            free(id);
            if (rc != 0)
                break;
        }
        char *truncated = xtext(list, "IsTruncated");
        if (rc == 0 && !match && truncated && strcmp(truncated, "true") == 0)
            marker = xtext(list, "NextMarker");
        free(truncated);
        xmlFreeDoc(doc);
    } while (marker && *marker);
    free(marker);
    if (rc == 0 && match) {
        int exists = 0;
        rc = cf_read(c, match, props, &exists, out, err);
        *found = rc == 0 && exists;
    }
    free(match);
    return rc;
}

/* ======================================================================
 * AWS::Route53::HealthCheck (route53, rest-xml, global)
 * ====================================================================== */

#define R53_PREFIX "/2013-04-01"

static const char *const hc_update_in_place[] = {"HealthCheckConfig", "HealthCheckTags", NULL};

static void hc_live(xmlNodePtr hc, json_t *model, dr_live *out)
{
    char *id = xtext(hc, "Id");
    free(out->physical_id);
    out->physical_id = id;
    json_decref(out->attributes);
    out->attributes = json_pack("{s:s?}", "HealthCheckId", id);
    json_decref(out->properties);
    out->properties = NULL;
    xmlNodePtr cfg = dr_xml_find(hc, "HealthCheckConfig");
    json_t *mcfg = json_object_get(model, "HealthCheckConfig");
    if (cfg && json_is_object(mcfg)) {
        json_t *live = dr_route53_health_check_config_json(cfg);
        out->properties = json_pack("{s:o}", "HealthCheckConfig", project(live, mcfg));
        json_decref(live);
    }
}

/* ChangeTagsForResource: at most 10 tags and 10 keys per call. */
static int hc_change_tags(dr_apply_ctx *c, const char *id, json_t *add, json_t *remove_keys,
                          dr_err *err)
{
    size_t na = json_array_size(add), nr = json_array_size(remove_keys);
    char *path = dr_xasprintf(R53_PREFIX "/tags/healthcheck/%s", id);
    int rc = 0;
    for (size_t ia = 0, ir = 0; rc == 0 && (ia < na || ir < nr);) {
        dr_buf b = DR_BUF_INIT;
        dr_buf_printf(&b,
                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<ChangeTagsForResourceRequest xmlns=\"%s\">",
                      DR_ROUTE53_XMLNS);
        if (ia < na) {
            dr_buf_puts(&b, "<AddTags>");
            for (size_t k = 0; k < 10 && ia < na; k++, ia++) {
                json_t *t = json_array_get(add, ia);
                const char *v = json_string_value(json_object_get(t, "Value"));
                dr_buf_puts(&b, "<Tag><Key>");
                put_text(&b, json_string_value(json_object_get(t, "Key")));
                dr_buf_puts(&b, "</Key><Value>");
                put_text(&b, v ? v : "");
                dr_buf_puts(&b, "</Value></Tag>");
            }
            dr_buf_puts(&b, "</AddTags>");
        }
        if (ir < nr) {
            dr_buf_puts(&b, "<RemoveTagKeys>");
            for (size_t k = 0; k < 10 && ir < nr; k++, ir++) {
                dr_buf_puts(&b, "<Key>");
                put_text(&b, json_string_value(json_array_get(remove_keys, ir)));
                dr_buf_puts(&b, "</Key>");
            }
            dr_buf_puts(&b, "</RemoveTagKeys>");
        }
        dr_buf_puts(&b, "</ChangeTagsForResourceRequest>");
        rc = rest(c->aws, "route53", "ChangeTagsForResource", "POST", path, NULL, NULL,
                  dr_buf_cstr(&b), NULL, NULL, err);
        dr_buf_free(&b);
    }
    free(path);
    return rc;
}

static int hc_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                     const char *token, dr_live *out, dr_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(props, k, v)
    {
        if (strcmp(k, "HealthCheckConfig") != 0 && strcmp(k, "HealthCheckTags") != 0)
            return dr_err_set(err, DR_E_CONFIG, "HealthCheck property %s: not one drctl knows", k);
    }
    dr_buf body = DR_BUF_INIT;
    dr_buf_printf(&body,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<CreateHealthCheckRequest xmlns=\"%s\"><CallerReference>%s</CallerReference>",
                  DR_ROUTE53_XMLNS, token);
    if (dr_route53_health_check_config_xml(json_object_get(props, "HealthCheckConfig"), &body,
                                           err) != 0) {
        dr_buf_free(&body);
        return -1;
    }
    dr_buf_puts(&body, "</CreateHealthCheckRequest>");
    xmlDocPtr doc = NULL;
    int rc = rest(c->aws, "route53", "CreateHealthCheck", "POST", R53_PREFIX "/healthcheck", NULL,
                  NULL, dr_buf_cstr(&body), NULL, &doc, err);
    dr_buf_free(&body);
    if (rc != 0)
        return -1;
    xmlNodePtr hc = dr_xml_find(root_of(doc), "HealthCheck");
    char *id = xtext(hc, "Id");
    if (!id) {
        xmlFreeDoc(doc);
        return dr_err_set(err, DR_E_AWS, "route53 CreateHealthCheck: no Id in the answer");
    }
    hc_live(hc, props, out);
    xmlFreeDoc(doc);
    /* The API takes no tags at creation: tag right away. A crash in
     * between leaves an untagged health check, which the retried create
     * (same CallerReference) gets back from AWS and tags then. */
    rc = json_array_size(tags) ? hc_change_tags(c, id, tags, NULL, err) : 0;
    free(id);
    return rc;
}

static int hc_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                   dr_live *out, dr_err *err)
{
    char *path = dr_xasprintf(R53_PREFIX "/healthcheck/%s", physical_id);
    xmlDocPtr doc = NULL;
    int rc =
        rest(c->aws, "route53", "GetHealthCheck", "GET", path, NULL, NULL, NULL, NULL, &doc, err);
    free(path);
    *exists = 0;
    if (rc != 0) {
        if (aws_code_is(err, "NoSuchHealthCheck")) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    xmlNodePtr hc = dr_xml_find(root_of(doc), "HealthCheck");
    if (hc) {
        *exists = 1;
        hc_live(hc, props, out);
    }
    xmlFreeDoc(doc);
    return 0;
}

static int hc_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                     dr_live *out, dr_err *err)
{
    json_t *oc = json_object_get(old_props, "HealthCheckConfig");
    json_t *nc = json_object_get(new_props, "HealthCheckConfig");
    int rc = 0;
    if (!json_equal(oc, nc)) {
        dr_buf body = DR_BUF_INIT;
        rc = dr_route53_health_check_update_xml(oc, nc, &body, err);
        if (rc == 0) {
            char *path = dr_xasprintf(R53_PREFIX "/healthcheck/%s", physical_id);
            rc = rest(c->aws, "route53", "UpdateHealthCheck", "POST", path, NULL, NULL,
                      dr_buf_cstr(&body), NULL, NULL, err);
            free(path);
        }
        dr_buf_free(&body);
    }
    if (rc == 0) {
        json_t *set, *drop;
        tags_diff(json_object_get(old_props, "HealthCheckTags"),
                  json_object_get(new_props, "HealthCheckTags"), &set, &drop);
        if (json_array_size(set) || json_array_size(drop))
            rc = hc_change_tags(c, physical_id, set, drop, err);
        json_decref(set);
        json_decref(drop);
    }
    if (rc == 0) {
        int exists = 0;
        rc = hc_read(c, physical_id, new_props, &exists, out, err);
        if (rc == 0 && !exists)
            rc = dr_err_set(err, DR_E_NOT_FOUND, "health check %s is gone", physical_id);
    }
    return rc;
}

static int hc_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    char *path = dr_xasprintf(R53_PREFIX "/healthcheck/%s", physical_id);
    int rc = rest(c->aws, "route53", "DeleteHealthCheck", "DELETE", path, NULL, NULL, NULL, NULL,
                  NULL, err);
    free(path);
    if (rc != 0 && aws_code_is(err, "NoSuchHealthCheck")) {
        dr_err_clear(err);
        rc = 0;
    }
    return rc;
}

/* The tags of up to 10 health checks (ListTagsForResources, a POST). */
static int hc_tags_batch(dr_apply_ctx *c, char **ids, size_t n, const char *logical_id,
                         char **match, dr_err *err)
{
    dr_buf b = DR_BUF_INIT;
    dr_buf_printf(&b,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<ListTagsForResourcesRequest xmlns=\"%s\"><ResourceIds>",
                  DR_ROUTE53_XMLNS);
    for (size_t i = 0; i < n; i++) {
        dr_buf_puts(&b, "<ResourceId>");
        put_text(&b, ids[i]);
        dr_buf_puts(&b, "</ResourceId>");
    }
    dr_buf_puts(&b, "</ResourceIds></ListTagsForResourcesRequest>");
    xmlDocPtr doc = NULL;
    int rc = rest(c->aws, "route53", "ListTagsForResources", "POST", R53_PREFIX "/tags/healthcheck",
                  NULL, NULL, dr_buf_cstr(&b), NULL, &doc, err);
    dr_buf_free(&b);
    if (rc != 0)
        return -1;
    for (xmlNodePtr s = dr_xml_find(root_of(doc), "ResourceTagSets/ResourceTagSet"); s && !*match;
         s = dr_xml_next_same(s)) {
        json_t *tags = tags_from_xml(dr_xml_find(s, "Tags/Tag"));
        if (tags_match(tags, c, logical_id))
            *match = xtext(s, "ResourceId");
        json_decref(tags);
    }
    xmlFreeDoc(doc);
    return 0;
}

static int hc_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                   dr_err *err)
{
    *found = 0;
    char *marker = NULL, *match = NULL;
    int rc = 0;
    do {
        dr_kvlist q = DR_KVLIST_INIT;
        dr_kv_add(&q, "maxitems", "100");
        if (marker)
            dr_kv_add(&q, "marker", marker);
        free(marker);
        marker = NULL;
        xmlDocPtr doc = NULL;
        rc = rest(c->aws, "route53", "ListHealthChecks", "GET", R53_PREFIX "/healthcheck", &q, NULL,
                  NULL, NULL, &doc, err);
        dr_kv_free(&q);
        if (rc != 0)
            break;
        /* Tags come 10 health checks at a time. */
        char *ids[10];
        size_t n = 0;
        xmlNodePtr h = dr_xml_find(root_of(doc), "HealthChecks/HealthCheck");
        while (rc == 0 && !match && (h || n)) {
            for (; h && n < 10; h = dr_xml_next_same(h)) {
                char *id = xtext(h, "Id");
                if (id)
                    ids[n++] = id;
            }
            if (n)
                rc = hc_tags_batch(c, ids, n, logical_id, &match, err);
            for (size_t i = 0; i < n; i++)
                free(ids[i]);
            n = 0;
        }
        char *truncated = xtext(root_of(doc), "IsTruncated");
        if (rc == 0 && !match && truncated && strcmp(truncated, "true") == 0)
            marker = xtext(root_of(doc), "NextMarker");
        free(truncated);
        xmlFreeDoc(doc);
    } while (marker && *marker);
    free(marker);
    if (rc == 0 && match) {
        int exists = 0;
        rc = hc_read(c, match, props, &exists, out, err);
        *found = rc == 0 && exists;
    }
    free(match);
    return rc;
}

/* ======================================================================
 * AWS::Route53::RecordSet (route53, rest-xml, global)
 * ====================================================================== */

static const char *const rr_update_in_place[] = {
    "AliasTarget",
    "Failover",
    "HealthCheckId",
    "TTL",
    "ResourceRecords",
    "Weight",
    "Region",
    "GeoLocation",
    "Comment",
    "MultiValueAnswer",
    "CidrRoutingConfig",
    "GeoProximityLocation",
    NULL,
};

int dr_route53_zone_id(dr_aws *aws, const char *zone_name, char **out, dr_err *err)
{
    *out = NULL;
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "dnsname", zone_name);
    dr_kv_add(&q, "maxitems", "2");
    xmlDocPtr doc = NULL;
    int rc = rest(aws, "route53", "ListHostedZonesByName", "GET", R53_PREFIX "/hostedzonesbyname",
                  &q, NULL, NULL, NULL, &doc, err);
    dr_kv_free(&q);
    if (rc != 0)
        return -1;
    /* The list starts at the name asked for, sorted: same-named zones come
     * first. */
    int n = 0;
    for (xmlNodePtr z = dr_xml_find(root_of(doc), "HostedZones/HostedZone"); z;
         z = dr_xml_next_same(z)) {
        char *name = xtext(z, "Name");
        if (dns_eq(name, zone_name)) {
            n++;
            if (!*out) {
                char *id = xtext(z, "Id");
                const char *bare = id && strncmp(id, "/hostedzone/", 12) == 0 ? id + 12 : id;
                *out = bare ? dr_xstrdup(bare) : NULL;
                free(id);
            }
        }
        free(name);
    }
    xmlFreeDoc(doc);
    if (n > 1) {
        free(*out);
        *out = NULL;
        dr_err_set(err, DR_E_CONFIG, "more than one Route 53 hosted zone is named %s", zone_name);
        return dr_err_hint(err, "give the record set's HostedZoneId instead of HostedZoneName");
    }
    if (!*out)
        return dr_err_set(err, DR_E_NOT_FOUND, "no Route 53 hosted zone named %s", zone_name);
    return 0;
}

int dr_route53_change_records(dr_aws *aws, const char *zone_id, const char *action, json_t *records,
                              const char *comment, char **change_id, dr_err *err)
{
    if (change_id)
        *change_id = NULL;
    dr_buf body = DR_BUF_INIT;
    if (dr_route53_change_batch_xml(action, records, comment, &body, err) != 0) {
        dr_buf_free(&body);
        return -1;
    }
    char *path = dr_xasprintf(R53_PREFIX "/hostedzone/%s/rrset/", zone_id);
    xmlDocPtr doc = NULL;
    int rc = rest(aws, "route53", "ChangeResourceRecordSets", "POST", path, NULL, NULL,
                  dr_buf_cstr(&body), NULL, &doc, err);
    free(path);
    dr_buf_free(&body);
    if (rc == 0 && change_id) {
        char *id = xtext(root_of(doc), "ChangeInfo/Id");
        const char *bare = id && strncmp(id, "/change/", 8) == 0 ? id + 8 : id;
        *change_id = bare ? dr_xstrdup(bare) : NULL;
        free(id);
    }
    xmlFreeDoc(doc);
    return rc;
}

static int change_insync(dr_apply_ctx *c, void *ud, dr_err *err)
{
    char *path = dr_xasprintf(R53_PREFIX "/change/%s", (const char *)ud);
    xmlDocPtr doc = NULL;
    int rc = rest(c->aws, "route53", "GetChange", "GET", path, NULL, NULL, NULL, NULL, &doc, err);
    free(path);
    if (rc != 0)
        return -1;
    char *status = xtext(root_of(doc), "ChangeInfo/Status");
    int done = status && strcmp(status, "INSYNC") == 0;
    free(status);
    xmlFreeDoc(doc);
    return done;
}

int dr_route53_wait_insync(dr_apply_ctx *c, const char *change_id, dr_err *err)
{
    char what[128];
    snprintf(what, sizeof(what), "Route 53 change %s to be in sync", change_id);
    return dr_wait(c, what, 600, change_insync, (void *)change_id, err);
}

/* The zone of a record set's properties: HostedZoneId, else looked up by
 * HostedZoneName. */
static int rr_zone(dr_apply_ctx *c, json_t *props, char **zone, dr_err *err)
{
    const char *id = jstr(props, "HostedZoneId");
    if (id) {
        *zone = dr_xstrdup(strncmp(id, "/hostedzone/", 12) == 0 ? id + 12 : id);
        return 0;
    }
    const char *name = jstr(props, "HostedZoneName");
    if (!name)
        return dr_err_set(err, DR_E_CONFIG, "RecordSet: HostedZoneId or HostedZoneName is needed");
    return dr_route53_zone_id(c->aws, name, zone, err);
}

/* The live <ResourceRecordSet> with the name, type and set identifier of
 * `props` in the zone (ListResourceRecordSets from that name and type), as
 * a copy in *rrset (caller xmlFreeNode), or NULL. */
static int rr_lookup(dr_apply_ctx *c, const char *zone, json_t *props, xmlNodePtr *rrset,
                     dr_err *err)
{
    *rrset = NULL;
    const char *name = jstr(props, "Name"), *type = jstr(props, "Type");
    const char *set_id = jstr(props, "SetIdentifier");
    if (!name || !type)
        return dr_err_set(err, DR_E_CONFIG, "RecordSet: Name and Type are needed");
    char *path = dr_xasprintf(R53_PREFIX "/hostedzone/%s/rrset", zone);
    char *start_name = dr_xstrdup(name), *start_type = dr_xstrdup(type), *start_id = NULL;
    int rc = 0, more = 1;
    while (more && !*rrset) {
        dr_kvlist q = DR_KVLIST_INIT;
        dr_kv_add(&q, "name", start_name);
        dr_kv_add(&q, "type", start_type);
        if (start_id)
            dr_kv_add(&q, "identifier", start_id);
        dr_kv_add(&q, "maxitems", "100");
        xmlDocPtr doc = NULL;
        rc = rest(c->aws, "route53", "ListResourceRecordSets", "GET", path, &q, NULL, NULL, NULL,
                  &doc, err);
        dr_kv_free(&q);
        if (rc != 0)
            break;
        more = 0;
        int past = 0;
        for (xmlNodePtr r = dr_xml_find(root_of(doc), "ResourceRecordSets/ResourceRecordSet");
             r && !past; r = dr_xml_next_same(r)) {
            char *rn = xtext(r, "Name"), *rt = xtext(r, "Type"), *rs = xtext(r, "SetIdentifier");
            if (!dns_eq(rn, name) || !rt || strcmp(rt, type) != 0)
                past = 1; /* sorted by name and type: ours are all behind us */
            else if ((!set_id && !rs) || (set_id && rs && strcmp(set_id, rs) == 0))
                *rrset = xmlCopyNode(r, 1);
            free(rn);
            free(rt);
            free(rs);
        }
        char *truncated = xtext(root_of(doc), "IsTruncated");
        if (!*rrset && !past && truncated && strcmp(truncated, "true") == 0) {
            free(start_name);
            free(start_type);
            free(start_id);
            start_name = xtext(root_of(doc), "NextRecordName");
            start_type = xtext(root_of(doc), "NextRecordType");
            start_id = xtext(root_of(doc), "NextRecordIdentifier");
            more = start_name && start_type;
        }
        free(truncated);
        xmlFreeDoc(doc);
    }
    free(start_name);
    free(start_type);
    free(start_id);
    free(path);
    return rc;
}

/* The record's properties in the model's spelling where Route 53 only
 * differs in case or the final dot of a name. */
static json_t *rr_properties(xmlNodePtr rrset, json_t *model)
{
    json_t *live = dr_route53_record_json(rrset);
    const char *ln = jstr(live, "Name"), *mn = jstr(model, "Name");
    if (dns_eq(ln, mn))
        json_object_set_new(live, "Name", json_string(mn));
    json_t *la = json_object_get(live, "AliasTarget"), *ma = json_object_get(model, "AliasTarget");
    if (json_is_object(la) && dns_eq(jstr(la, "DNSName"), jstr(ma, "DNSName")))
        json_object_set_new(la, "DNSName", json_string(jstr(ma, "DNSName")));
    /* The zone is where we looked, not something the record reports. */
    json_t *m = json_deep_copy(model);
    json_object_del(m, "HostedZoneName");
    json_object_del(m, "HostedZoneId");
    json_object_del(m, "Comment");
    json_t *p = project(live, m);
    json_decref(m);
    json_decref(live);
    return p;
}

static void rr_attributes(const char *zone, json_t *props, dr_live *out)
{
    free(out->physical_id);
    out->physical_id = dr_xstrdup(jstr(props, "Name"));
    json_decref(out->attributes);
    out->attributes =
        json_pack("{s:s, s:s?, s:s?, s:s?}", "HostedZoneId", zone, "Name", jstr(props, "Name"),
                  "Type", jstr(props, "Type"), "SetIdentifier", jstr(props, "SetIdentifier"));
}

/* The record as the model gives it, for the change batch. */
static json_t *rr_record(json_t *props)
{
    json_t *r = json_deep_copy(props);
    json_object_del(r, "HostedZoneName");
    json_object_del(r, "HostedZoneId");
    json_object_del(r, "Comment");
    return r;
}

static int rr_upsert(dr_apply_ctx *c, json_t *props, dr_live *out, dr_err *err)
{
    char *zone = NULL;
    if (rr_zone(c, props, &zone, err) != 0)
        return -1;
    json_t *records = json_array();
    json_array_append_new(records, rr_record(props));
    int rc = dr_route53_change_records(c->aws, zone, "UPSERT", records, jstr(props, "Comment"),
                                       NULL, err);
    json_decref(records);
    if (rc == 0)
        rr_attributes(zone, props, out);
    free(zone);
    return rc;
}

static int rr_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                     const char *token, dr_live *out, dr_err *err)
{
    /* UPSERT: a repeated create is harmless, and an existing record of the
     * same name, type and set identifier is taken over (DR re-points DNS
     * at whatever serves). Record sets have no tags in Route 53. */
    return rr_upsert(c, props, out, err);
}

static int rr_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                     dr_live *out, dr_err *err)
{
    return rr_upsert(c, new_props, out, err);
}

static int rr_get(dr_apply_ctx *c, json_t *props, int *exists, dr_live *out, dr_err *err)
{
    *exists = 0;
    char *zone = NULL;
    if (rr_zone(c, props, &zone, err) != 0) {
        if (err->code == DR_E_NOT_FOUND) { /* the zone is gone: so is the record */
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    xmlNodePtr rrset = NULL;
    int rc = rr_lookup(c, zone, props, &rrset, err);
    if (rc == 0 && rrset) {
        *exists = 1;
        rr_attributes(zone, props, out);
        json_decref(out->properties);
        out->properties = rr_properties(rrset, props);
    }
    xmlFreeNode(rrset);
    free(zone);
    return rc;
}

static int rr_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                   dr_live *out, dr_err *err)
{
    return rr_get(c, props, exists, out, err);
}

static int rr_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                   dr_err *err)
{
    return rr_get(c, props, found, out, err);
}

static int rr_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    char *zone = NULL;
    if (rr_zone(c, props, &zone, err) != 0) {
        if (err->code == DR_E_NOT_FOUND) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    xmlNodePtr rrset = NULL;
    int rc = rr_lookup(c, zone, props, &rrset, err);
    if (rc == 0 && rrset) {
        /* DELETE must repeat the record exactly as it is: send back what
         * Route 53 just listed, element for element, rather than the model
         * (which may have changed, or hold values unknown in destroy). */
        dr_buf body = DR_BUF_INIT;
        dr_route53_delete_xml(rrset, &body);
        char *path = dr_xasprintf(R53_PREFIX "/hostedzone/%s/rrset/", zone);
        rc = rest(c->aws, "route53", "ChangeResourceRecordSets", "POST", path, NULL, NULL,
                  dr_buf_cstr(&body), NULL, NULL, err);
        free(path);
        dr_buf_free(&body);
    }
    xmlFreeNode(rrset);
    free(zone);
    return rc;
}

/* ---- registration ------------------------------------------------------ */

const dr_handler dr_handlers_edge[] = {
    {
        .type = "AWS::WAFv2::WebACL",
        .create = waf_create,
        .find = waf_find,
        .read = waf_read,
        .update = waf_update,
        .remove = waf_remove,
        .update_in_place = waf_update_in_place,
        .name_properties = waf_names,
    },
    {
        .type = "AWS::CloudFront::Distribution",
        .create = cf_create,
        .find = cf_find,
        .read = cf_read,
        .update = cf_update,
        .remove = cf_remove,
        .wait_ready = cf_wait_ready,
        .update_in_place = cf_update_in_place,
    },
    {
        .type = "AWS::Route53::HealthCheck",
        .create = hc_create,
        .find = hc_find,
        .read = hc_read,
        .update = hc_update,
        .remove = hc_remove,
        .update_in_place = hc_update_in_place,
    },
    {
        .type = "AWS::Route53::RecordSet",
        .create = rr_create,
        .find = rr_find,
        .read = rr_read,
        .update = rr_update,
        .remove = rr_remove,
        .update_in_place = rr_update_in_place,
    },
    {.type = NULL},
};
