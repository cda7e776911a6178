/*
 * res_security.c - resource handlers of the security family: IAM roles,
 * the stack's KMS key and its alias, Secrets Manager secrets and the
 * load balancer's ACM certificate.
 *
 * Contract in handler.h. What is particular here:
 * - IAM is global: a role name is unique in the account, so the model puts
 *   the region in it, and find() accepts a role of that name only when it
 *   carries this stack's and this logical id's tags (a role of someone
 *   else's with the same name is not adopted; create then fails with
 *   EntityAlreadyExists, which says what is wrong).
 * - A role is complete only with its inline and managed policies. If a
 *   policy call fails right after CreateRole, create deletes the role again
 *   (best effort) so that the engine's retry does not find, and adopt, a
 *   role without its permissions.
 * - KMS keys have no name and no idempotency token: find() lists the keys
 *   and reads their tags. A key scheduled for deletion counts as gone (it
 *   cannot be used, and a new one is made). remove() schedules deletion
 *   with the shortest window AWS allows (7 days): destroy must leave
 *   nothing, and a key cannot be deleted sooner.
 * - Secrets are data, not infrastructure: the model names them and gives
 *   no value. create fills them: with the value of the same secret in a
 *   peer region when there is one (the database password and
 *   LITELLM_SALT_KEY must be identical in both regions), else with a value
 *   generated here from OpenSSL's RAND_bytes. Values never reach a log, an
 *   error, an attribute or the state; buffers that held them are zeroed.
 *   update changes Description, KmsKeyId and Tags only, never the value.
 * - ACM certificates with DNS validation are not ISSUED until the
 *   validation record exists in DNS, which is written from this resource's
 *   attributes after create. wait_ready therefore accepts
 *   PENDING_VALIDATION once AWS has published the record to write (with a
 *   notice): waiting for ISSUED here would wait for something that happens
 *   only after this step (and moto stays PENDING_VALIDATION for 60 s).
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws/xml.h"
#include "stack/handler.h"
#include "stack/res_security_int.h"
#include "util/buf.h"
#include "util/mem.h"

/* ---- small helpers --------------------------------------------------------- */

static int is_code(const dr_err *e, const char *code)
{
    return e->has_aws && strcmp(e->aws.code, code) == 0;
}

static const char *pstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A string that names something real (not empty, not "(known after apply)"). */
static int known(const char *s)
{
    return s && *s && strcmp(s, DR_KNOWN_AFTER_APPLY) != 0;
}

/* Booleans may arrive as JSON booleans or as "true"/"false" strings. */
static int pbool(json_t *o, const char *k, int def)
{
    json_t *v = json_object_get(o, k);
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_string(v))
        return strcasecmp(json_string_value(v), "true") == 0;
    return def;
}

/* An integer property (number or numeric string); 0 if absent. */
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

/* A policy document as the APIs take it: strings pass, objects are
 * serialized compactly (jansson keeps the model's key order). */
static char *doc_text(json_t *v)
{
    if (json_is_string(v))
        return dr_xstrdup(json_string_value(v));
    if (json_is_object(v) || json_is_array(v))
        return json_dumps(v, JSON_COMPACT);
    return NULL;
}

/* Zeroes every string of a JSON value in place before it is freed: for
 * request and response documents that carried a secret value. */
static void wipe_json(json_t *v)
{
    if (json_is_string(v)) {
        dr_secure_zero((char *)json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            wipe_json(x);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            wipe_json(x);
        }
    }
}

static void set_live(dr_live *out, const char *phys, json_t *attrs)
{
    free(out->physical_id);
    out->physical_id = dr_xstrdup(phys);
    json_decref(out->attributes);
    out->attributes = attrs;
}

/* Lower-case hex SHA-256 of a string. */
static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- tags ------------------------------------------------------------------- */

/* The model's and the engine's tags are [{Key, Value}]; the APIs differ. */

static const char *tag_value(json_t *tags, const char *kname, const char *vname, const char *key)
{
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *k = pstr(t, kname);
        if (k && strcmp(k, key) == 0)
            return pstr(t, vname) ? pstr(t, vname) : "";
    }
    return NULL;
}

/* 1 when tags say: this stack, this logical id. */
static int tags_ours(const dr_apply_ctx *c, const char *logical_id, json_t *tags, const char *kname,
                     const char *vname)
{
    const char *s = tag_value(tags, kname, vname, "drctl:stack");
    const char *l = tag_value(tags, kname, vname, "drctl:logical-id");
    return s && l && c->stack && strcmp(s, c->stack) == 0 && strcmp(l, logical_id) == 0;
}

/* [{Key, Value}] renamed to [{kname, vname}] (new reference). */
static json_t *tags_as(json_t *tags, const char *kname, const char *vname)
{
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *k = pstr(t, "Key");
        if (!k)
            continue;
        const char *v = pstr(t, "Value");
        json_array_append_new(out, json_pack("{s:s, s:s}", kname, k, vname, v ? v : ""));
    }
    return out;
}

/* Keys in old_tags that new_tags no longer has; drctl's own keys are never
 * taken off (find relies on them). NULL when there are none. */
static json_t *tags_removed(json_t *old_tags, json_t *new_tags)
{
    json_t *out = NULL;
    size_t i;
    json_t *t;
    json_array_foreach(old_tags, i, t)
    {
        const char *k = pstr(t, "Key");
        if (!k || strcmp(k, "drctl:stack") == 0 || strcmp(k, "drctl:logical-id") == 0)
            continue;
        if (tag_value(new_tags, "Key", "Value", k))
            continue;
        if (!out)
            out = json_array();
        json_array_append_new(out, json_string(k));
    }
    return out;
}

/* ---- IAM roles ------------------------------------------------------------ */

static int iam(dr_apply_ctx *c, const char *action, dr_kvlist *p, xmlDocPtr *doc, dr_err *err)
{
    int rc = dr_aws_query(c->aws, "iam", c->region, action, p, doc, err);
    dr_kv_free(p);
    return rc;
}

static char *node_text(xmlNodePtr n)
{
    xmlChar *t = xmlNodeGetContent(n);
    char *s = dr_xstrdup(t ? (const char *)t : "");
    xmlFree(t);
    return s;
}

/* Every value of a paginated IAM list of a role: `items` is the path of the
 * member elements below <Action>Result, `field` a child element of each
 * member (NULL: the member's own text). */
static int iam_list(dr_apply_ctx *c, const char *action, const char *role, const char *items,
                    const char *field, json_t **out, dr_err *err)
{
    json_t *arr = json_array();
    char *marker = NULL;
    for (;;) {
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "RoleName", role);
        if (marker)
            dr_kv_add(&p, "Marker", marker);
        free(marker);
        marker = NULL;
        xmlDocPtr doc = NULL;
        if (iam(c, action, &p, &doc, err) != 0) {
            json_decref(arr);
            return -1;
        }
        xmlNodePtr root = xmlDocGetRootElement(doc);
        char path[192];
        snprintf(path, sizeof(path), "%sResult/%s", action, items);
        for (xmlNodePtr n = dr_xml_find(root, path); n; n = dr_xml_next_same(n)) {
            char *v = field ? dr_xml_text(n, field) : node_text(n);
            if (v)
                json_array_append_new(arr, json_string(v));
            free(v);
        }
        snprintf(path, sizeof(path), "%sResult/IsTruncated", action);
        char *trunc = dr_xml_text(root, path);
        if (trunc && strcmp(trunc, "true") == 0) {
            snprintf(path, sizeof(path), "%sResult/Marker", action);
            marker = dr_xml_text(root, path);
        }
        free(trunc);
        xmlFreeDoc(doc);
        if (!marker)
            break;
    }
    *out = arr;
    return 0;
}

/* RoleName, or "<stack>-<logical id>" (64 characters at most) when the
 * model leaves it out: deterministic, so that find() can look for it. */
static void role_name(const dr_apply_ctx *c, const char *logical_id, json_t *props, char out[65])
{
    const char *n = pstr(props, "RoleName");
    if (known(n))
        snprintf(out, 65, "%s", n);
    else
        snprintf(out, 65, "%s-%s", c->stack ? c->stack : "drctl", logical_id);
}

static int role_get(dr_apply_ctx *c, const char *name, xmlDocPtr *doc, int *exists, dr_err *err)
{
    *doc = NULL;
    *exists = 0;
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "RoleName", name);
    if (iam(c, "GetRole", &p, doc, err) != 0) {
        if (is_code(err, "NoSuchEntity")) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    *exists = 1;
    return 0;
}

static json_t *role_attrs(xmlDocPtr doc)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr role = dr_xml_find_any(root, "Role");
    json_t *a = json_object();
    char *arn = role ? dr_xml_text(role, "Arn") : NULL;
    char *id = role ? dr_xml_text(role, "RoleId") : NULL;
    if (arn)
        json_object_set_new(a, "Arn", json_string(arn));
    if (id)
        json_object_set_new(a, "RoleId", json_string(id));
    free(arn);
    free(id);
    return a;
}

static json_t *role_tags(xmlDocPtr doc)
{
    json_t *tags = json_array();
    xmlNodePtr role = dr_xml_find_any(xmlDocGetRootElement(doc), "Role");
    for (xmlNodePtr n = role ? dr_xml_find(role, "Tags/member") : NULL; n;
         n = dr_xml_next_same(n)) {
        char *k = dr_xml_text(n, "Key");
        char *v = dr_xml_text(n, "Value");
        if (k)
            json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", k, "Value", v ? v : ""));
        free(k);
        free(v);
    }
    return tags;
}

/* IAM returns policy documents URL-encoded (RFC 3986). */
static char *url_decode(const char *s)
{
    size_t n = strlen(s);
    char *out = dr_xmalloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            out[j++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

/* A policy document read back from IAM, parsed; NULL if it is not JSON. */
static json_t *policy_parse(const char *text)
{
    if (!text)
        return NULL;
    char *dec = url_decode(text);
    json_t *j = json_loads(dec, 0, NULL);
    free(dec);
    if (!j)
        j = json_loads(text, 0, NULL);
    return j;
}

/* Orders `live` (a new array) like `model`: matching elements first in the
 * model's order, then the rest. `key`: member compared (NULL: the element). */
static json_t *order_like(json_t *live, json_t *model, const char *key)
{
    json_t *out = json_array();
    size_t n = json_array_size(live);
    unsigned char *used = dr_xcalloc(n ? n : 1, 1);
    size_t i, j;
    json_t *m, *l;
    json_array_foreach(model, i, m)
    {
        json_t *mk = key ? json_object_get(m, key) : m;
        json_array_foreach(live, j, l)
        {
            json_t *lk = key ? json_object_get(l, key) : l;
            if (!used[j] && mk && lk && json_equal(mk, lk)) {
                used[j] = 1;
                json_array_append(out, l);
                break;
            }
        }
    }
    json_array_foreach(live, j, l)
    {
        if (!used[j])
            json_array_append(out, l);
    }
    free(used);
    return out;
}

/* The role's properties as the model writes them, for adoption (only those
 * the model sets: a property the model leaves out would always differ). */
static int role_live_props(dr_apply_ctx *c, const char *name, xmlDocPtr doc, json_t *props,
                           json_t **out, dr_err *err)
{
    json_t *p = json_object();
    xmlNodePtr role = dr_xml_find_any(xmlDocGetRootElement(doc), "Role");
    if (json_object_get(props, "RoleName"))
        json_object_set_new(p, "RoleName", json_string(name));
    if (json_object_get(props, "Description")) {
        char *d = role ? dr_xml_text(role, "Description") : NULL;
        json_object_set_new(p, "Description", json_string(d ? d : ""));
        free(d);
    }
    if (json_object_get(props, "Path")) {
        char *d = role ? dr_xml_text(role, "Path") : NULL;
        if (d)
            json_object_set_new(p, "Path", json_string(d));
        free(d);
    }
    if (json_object_get(props, "MaxSessionDuration")) {
        char *d = role ? dr_xml_text(role, "MaxSessionDuration") : NULL;
        if (d)
            json_object_set_new(p, "MaxSessionDuration", json_integer(strtoll(d, NULL, 10)));
        free(d);
    }
    if (json_object_get(props, "AssumeRolePolicyDocument")) {
        char *d = role ? dr_xml_text(role, "AssumeRolePolicyDocument") : NULL;
        json_t *j = policy_parse(d);
        if (j)
            json_object_set_new(p, "AssumeRolePolicyDocument", j);
        free(d);
    }
    if (json_object_get(props, "Policies")) {
        json_t *names = NULL;
        if (iam_list(c, "ListRolePolicies", name, "PolicyNames/member", NULL, &names, err) != 0)
            goto fail;
        json_t *live = json_array();
        size_t i;
        json_t *n;
        json_array_foreach(names, i, n)
        {
            dr_kvlist q = DR_KVLIST_INIT;
            dr_kv_add(&q, "RoleName", name);
            dr_kv_add(&q, "PolicyName", json_string_value(n));
            xmlDocPtr d = NULL;
            if (iam(c, "GetRolePolicy", &q, &d, err) != 0) {
                json_decref(live);
                json_decref(names);
                goto fail;
            }
            char *text = dr_xml_text(xmlDocGetRootElement(d), "GetRolePolicyResult/PolicyDocument");
            json_t *j = policy_parse(text);
            free(text);
            xmlFreeDoc(d);
            json_array_append_new(live, json_pack("{s:O, s:o}", "PolicyName", n, "PolicyDocument",
                                                  j ? j : json_null()));
        }
        json_decref(names);
        json_object_set_new(p, "Policies",
                            order_like(live, json_object_get(props, "Policies"), "PolicyName"));
        json_decref(live);
    }
    if (json_object_get(props, "ManagedPolicyArns")) {
        json_t *arns = NULL;
        if (iam_list(c, "ListAttachedRolePolicies", name, "AttachedPolicies/member", "PolicyArn",
                     &arns, err) != 0)
            goto fail;
        json_object_set_new(p, "ManagedPolicyArns",
                            order_like(arns, json_object_get(props, "ManagedPolicyArns"), NULL));
        json_decref(arns);
    }
    *out = p;
    return 0;
fail:
    json_decref(p);
    return -1;
}

/* Puts every inline policy of the model; with `prune`, deletes the inline
 * policies the model does not have. */
static int role_put_policies(dr_apply_ctx *c, const char *name, json_t *props, int prune,
                             dr_err *err)
{
    json_t *pols = json_object_get(props, "Policies");
    size_t i;
    json_t *pol;
    json_array_foreach(pols, i, pol)
    {
        const char *pn = pstr(pol, "PolicyName");
        char *doc = doc_text(json_object_get(pol, "PolicyDocument"));
        if (!pn || !doc) {
            free(doc);
            return dr_err_set(err, DR_E_CONFIG,
                              "role %s: Policies[%zu] needs PolicyName and PolicyDocument", name,
                              i);
        }
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "RoleName", name);
        dr_kv_add(&p, "PolicyName", pn);
        dr_kv_add(&p, "PolicyDocument", doc);
        free(doc);
        if (iam(c, "PutRolePolicy", &p, NULL, err) != 0)
            return -1;
    }
    if (!prune)
        return 0;
    json_t *names = NULL;
    if (iam_list(c, "ListRolePolicies", name, "PolicyNames/member", NULL, &names, err) != 0)
        return -1;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        int wanted = 0;
        size_t k;
        json_array_foreach(pols, k, pol)
        {
            const char *pn = pstr(pol, "PolicyName");
            wanted |= pn && strcmp(pn, json_string_value(n)) == 0;
        }
        if (wanted)
            continue;
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "RoleName", name);
        dr_kv_add(&p, "PolicyName", json_string_value(n));
        if (iam(c, "DeleteRolePolicy", &p, NULL, err) != 0 && !is_code(err, "NoSuchEntity")) {
            json_decref(names);
            return -1;
        }
        dr_err_clear(err);
    }
    json_decref(names);
    return 0;
}

/* Attaches the model's managed policies that are not attached; with
 * `prune`, detaches the others. */
static int role_sync_managed(dr_apply_ctx *c, const char *name, json_t *props, int prune,
                             dr_err *err)
{
    json_t *want = json_object_get(props, "ManagedPolicyArns");
    if (!prune && json_array_size(want) == 0)
        return 0;
    json_t *have = NULL;
    if (iam_list(c, "ListAttachedRolePolicies", name, "AttachedPolicies/member", "PolicyArn", &have,
                 err) != 0)
        return -1;
    int rc = 0;
    size_t i, k;
    json_t *a, *h;
    json_array_foreach(want, i, a)
    {
        int attached = 0;
        json_array_foreach(have, k, h)
        {
            attached |= json_equal(a, h);
        }
        if (attached || !json_is_string(a))
            continue;
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "RoleName", name);
        dr_kv_add(&p, "PolicyArn", json_string_value(a));
        if ((rc = iam(c, "AttachRolePolicy", &p, NULL, err)) != 0)
            goto out;
    }
    if (prune) {
        json_array_foreach(have, k, h)
        {
            int wanted = 0;
            json_array_foreach(want, i, a)
            {
                wanted |= json_equal(a, h);
            }
            if (wanted)
                continue;
            dr_kvlist p = DR_KVLIST_INIT;
            dr_kv_add(&p, "RoleName", name);
            dr_kv_add(&p, "PolicyArn", json_string_value(h));
            if (iam(c, "DetachRolePolicy", &p, NULL, err) != 0 && !is_code(err, "NoSuchEntity")) {
                rc = -1;
                goto out;
            }
            dr_err_clear(err);
        }
    }
out:
    json_decref(have);
    return rc;
}

static void q_tags(dr_kvlist *p, const char *prefix, json_t *tags)
{
    size_t i;
    json_t *t;
    size_t n = 0;
    json_array_foreach(tags, i, t)
    {
        const char *k = pstr(t, "Key");
        if (!k)
            continue;
        n++;
        char name[64];
        snprintf(name, sizeof(name), "%s.member.%zu.Key", prefix, n);
        dr_kv_add(p, name, k);
        snprintf(name, sizeof(name), "%s.member.%zu.Value", prefix, n);
        dr_kv_add(p, name, pstr(t, "Value") ? pstr(t, "Value") : "");
    }
}

/* Deletes the role with whatever stands in the way: inline policies,
 * attached policies, instance profiles. Gone already is success. */
static int role_delete(dr_apply_ctx *c, const char *name, dr_err *err)
{
    json_t *list = NULL;
    size_t i;
    json_t *v;
    if (iam_list(c, "ListRolePolicies", name, "PolicyNames/member", NULL, &list, err) != 0)
        goto check;
    json_array_foreach(list, i, v)
    {
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "RoleName", name);
        dr_kv_add(&p, "PolicyName", json_string_value(v));
        if (iam(c, "DeleteRolePolicy", &p, NULL, err) != 0 && !is_code(err, "NoSuchEntity"))
            goto check;
        dr_err_clear(err);
    }
    json_decref(list);
    list = NULL;
    if (iam_list(c, "ListAttachedRolePolicies", name, "AttachedPolicies/member", "PolicyArn", &list,
                 err) != 0)
        goto check;
    json_array_foreach(list, i, v)
    {
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "RoleName", name);
        dr_kv_add(&p, "PolicyArn", json_string_value(v));
        if (iam(c, "DetachRolePolicy", &p, NULL, err) != 0 && !is_code(err, "NoSuchEntity"))
            goto check;
        dr_err_clear(err);
    }
    json_decref(list);
    list = NULL;
    if (iam_list(c, "ListInstanceProfilesForRole", name, "InstanceProfiles/member",
                 "InstanceProfileName", &list, err) != 0)
        goto check;
    json_array_foreach(list, i, v)
    {
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "InstanceProfileName", json_string_value(v));
        dr_kv_add(&p, "RoleName", name);
        if (iam(c, "RemoveRoleFromInstanceProfile", &p, NULL, err) != 0 &&
            !is_code(err, "NoSuchEntity"))
            goto check;
        dr_err_clear(err);
    }
    json_decref(list);
    list = NULL;
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "RoleName", name);
    if (iam(c, "DeleteRole", &p, NULL, err) == 0)
        return 0;
check:
    json_decref(list);
    if (is_code(err, "NoSuchEntity")) {
        dr_err_clear(err);
        return 0;
    }
    return -1;
}

static int role_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                     dr_live *out, dr_err *err)
{
    *found = 0;
    char name[65];
    role_name(c, logical_id, props, name);
    xmlDocPtr doc = NULL;
    int exists = 0;
    if (role_get(c, name, &doc, &exists, err) != 0)
        return -1;
    if (!exists)
        return 0;
    json_t *tags = role_tags(doc);
    int ours = tags_ours(c, logical_id, tags, "Key", "Value");
    json_decref(tags);
    if (!ours) {
        dr_info(c->log, "IAM role %s exists but is not tagged as %s of stack %s: not adopted", name,
                logical_id, c->stack ? c->stack : "?");
        xmlFreeDoc(doc);
        return 0;
    }
    json_t *lp = NULL;
    if (role_live_props(c, name, doc, props, &lp, err) != 0) {
        xmlFreeDoc(doc);
        return -1;
    }
    set_live(out, name, role_attrs(doc));
    json_decref(out->properties);
    out->properties = lp;
    xmlFreeDoc(doc);
    *found = 1;
    return 0;
}

static int role_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                       const char *token, dr_live *out, dr_err *err)
{
    char name[65];
    role_name(c, logical_id, props, name);
    char *trust = doc_text(json_object_get(props, "AssumeRolePolicyDocument"));
    if (!trust)
        return dr_err_set(err, DR_E_CONFIG, "role %s: AssumeRolePolicyDocument is missing", name);
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "RoleName", name);
    dr_kv_add(&p, "AssumeRolePolicyDocument", trust);
    free(trust);
    if (pstr(props, "Description"))
        dr_kv_add(&p, "Description", pstr(props, "Description"));
    if (known(pstr(props, "Path")))
        dr_kv_add(&p, "Path", pstr(props, "Path"));
    long long msd;
    if (pint(props, "MaxSessionDuration", &msd))
        dr_kv_addf(&p, "MaxSessionDuration", "%lld", msd);
    if (known(pstr(props, "PermissionsBoundary")))
        dr_kv_add(&p, "PermissionsBoundary", pstr(props, "PermissionsBoundary"));
    q_tags(&p, "Tags", tags);
    xmlDocPtr doc = NULL;
    int fresh = 1;
    if (iam(c, "CreateRole", &p, &doc, err) != 0) {
        if (!is_code(err, "EntityAlreadyExists"))
            return -1;
        /* A create whose answer was lost: carry on with the role if it is
         * ours (tags say so), else the error stands. */
        dr_err first = *err;
        int exists = 0;
        if (role_get(c, name, &doc, &exists, err) != 0)
            return -1;
        json_t *t = exists ? role_tags(doc) : NULL;
        int ours = exists && tags_ours(c, logical_id, t, "Key", "Value");
        json_decref(t);
        if (!ours) {
            xmlFreeDoc(doc);
            *err = first;
            return dr_err_hint(err,
                               "an IAM role named %s exists and is not this stack's %s: "
                               "IAM role names are unique in the account",
                               name, logical_id);
        }
        dr_err_clear(err);
        fresh = 0;
    }
    /* Policies: on a fresh role nothing is there to prune. */
    if (role_put_policies(c, name, props, !fresh, err) != 0 ||
        role_sync_managed(c, name, props, !fresh, err) != 0) {
        if (fresh) {
            /* Take the incomplete role away again, so that a retry does not
             * find and adopt a role without its permissions. */
            dr_err scratch;
            dr_err_clear(&scratch);
            if (role_delete(c, name, &scratch) != 0)
                dr_warn(c->log, "IAM role %s: could not delete the incomplete role: %s", name,
                        scratch.msg);
        }
        xmlFreeDoc(doc);
        return -1;
    }
    set_live(out, name, role_attrs(doc));
    xmlFreeDoc(doc);
    (void)token; /* IAM takes no idempotency token: the name is the key. */
    return 0;
}

static int role_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                     dr_live *out, dr_err *err)
{
    xmlDocPtr doc = NULL;
    if (role_get(c, physical_id, &doc, exists, err) != 0)
        return -1;
    if (*exists)
        set_live(out, physical_id, role_attrs(doc));
    xmlFreeDoc(doc);
    return 0;
}

static int role_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                       json_t *new_props, dr_live *out, dr_err *err)
{
    const char *name = physical_id;
    if (prop_changed(old_props, new_props, "Description") ||
        prop_changed(old_props, new_props, "MaxSessionDuration")) {
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "RoleName", name);
        const char *d = pstr(new_props, "Description");
        dr_kv_add(&p, "Description", d ? d : "");
        long long msd;
        if (pint(new_props, "MaxSessionDuration", &msd))
            dr_kv_addf(&p, "MaxSessionDuration", "%lld", msd);
        if (iam(c, "UpdateRole", &p, NULL, err) != 0)
            return -1;
    }
    if (prop_changed(old_props, new_props, "AssumeRolePolicyDocument")) {
        char *trust = doc_text(json_object_get(new_props, "AssumeRolePolicyDocument"));
        if (!trust)
            return dr_err_set(err, DR_E_CONFIG, "role %s: AssumeRolePolicyDocument is missing",
                              name);
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "RoleName", name);
        dr_kv_add(&p, "PolicyDocument", trust);
        free(trust);
        if (iam(c, "UpdateAssumeRolePolicy", &p, NULL, err) != 0)
            return -1;
    }
    if (prop_changed(old_props, new_props, "Policies") &&
        role_put_policies(c, name, new_props, 1, err) != 0)
        return -1;
    if (prop_changed(old_props, new_props, "ManagedPolicyArns") &&
        role_sync_managed(c, name, new_props, 1, err) != 0)
        return -1;
    if (prop_changed(old_props, new_props, "Tags")) {
        json_t *tags = json_object_get(new_props, "Tags");
        if (json_array_size(tags) > 0) {
            dr_kvlist p = DR_KVLIST_INIT;
            dr_kv_add(&p, "RoleName", name);
            q_tags(&p, "Tags", tags);
            if (iam(c, "TagRole", &p, NULL, err) != 0)
                return -1;
        }
        json_t *gone = tags_removed(json_object_get(old_props, "Tags"), tags);
        if (gone) {
            dr_kvlist p = DR_KVLIST_INIT;
            dr_kv_add(&p, "RoleName", name);
            size_t i;
            json_t *k;
            json_array_foreach(gone, i, k)
            {
                char key[48];
                snprintf(key, sizeof(key), "TagKeys.member.%zu", i + 1);
                dr_kv_add(&p, key, json_string_value(k));
            }
            json_decref(gone);
            if (iam(c, "UntagRole", &p, NULL, err) != 0)
                return -1;
        }
    }
    int exists = 0;
    xmlDocPtr doc = NULL;
    if (role_get(c, name, &doc, &exists, err) != 0)
        return -1;
    if (!exists)
        return dr_err_set(err, DR_E_AWS, "IAM role %s disappeared during its update", name);
    set_live(out, name, role_attrs(doc));
    xmlFreeDoc(doc);
    return 0;
}

static int role_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    return role_delete(c, physical_id, err);
}

/* IAM is eventually consistent: a role may not be visible everywhere right
 * after CreateRole. Waiting until GetRole sees it is the least we can do. */
static int role_ready_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    xmlDocPtr doc = NULL;
    int exists = 0;
    if (role_get(c, ud, &doc, &exists, err) != 0)
        return -1;
    xmlFreeDoc(doc);
    return exists;
}

static int role_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    char what[128];
    snprintf(what, sizeof(what), "IAM role %s", physical_id);
    return dr_wait(c, what, 120, role_ready_check, (void *)physical_id, err);
}

/* ---- KMS key ---------------------------------------------------------------- */

/* Calls a KMS operation; `in` is taken. */
static int kms(dr_apply_ctx *c, const char *op, json_t *in, json_t **out, dr_err *err)
{
    int rc = dr_aws_json(c->aws, "kms", c->region, op, in, out, err);
    json_decref(in);
    return rc;
}

static int key_state_gone(const char *state)
{
    return state &&
           (strcmp(state, "PendingDeletion") == 0 || strcmp(state, "PendingReplicaDeletion") == 0);
}

/* DescribeKey. *meta (new reference) is set when the key exists and is not
 * scheduled for deletion. */
static int key_describe(dr_apply_ctx *c, const char *id, json_t **meta, dr_err *err)
{
    *meta = NULL;
    json_t *out = NULL;
    if (kms(c, "DescribeKey", json_pack("{s:s}", "KeyId", id), &out, err) != 0) {
        if (is_code(err, "NotFoundException")) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    json_t *m = json_object_get(out, "KeyMetadata");
    if (json_is_object(m) && !key_state_gone(pstr(m, "KeyState")))
        *meta = json_incref(m);
    json_decref(out);
    return 0;
}

static json_t *key_attrs(json_t *meta)
{
    json_t *a = json_object();
    if (pstr(meta, "Arn"))
        json_object_set_new(a, "Arn", json_string(pstr(meta, "Arn")));
    if (pstr(meta, "KeyId"))
        json_object_set_new(a, "KeyId", json_string(pstr(meta, "KeyId")));
    return a;
}

/* Rotation and enabled state towards new_props; old_props NULL for a new
 * key (rotation off, enabled). */
static int key_configure(dr_apply_ctx *c, const char *id, json_t *old_props, json_t *new_props,
                         dr_err *err)
{
    int rot = pbool(new_props, "EnableKeyRotation", 0);
    int rot_changed = old_props ? (prop_changed(old_props, new_props, "EnableKeyRotation") ||
                                   prop_changed(old_props, new_props, "RotationPeriodInDays"))
                                : rot;
    if (rot_changed) {
        json_t *in = json_pack("{s:s}", "KeyId", id);
        long long days;
        if (rot && pint(new_props, "RotationPeriodInDays", &days))
            json_object_set_new(in, "RotationPeriodInDays", json_integer(days));
        if (kms(c, rot ? "EnableKeyRotation" : "DisableKeyRotation", in, NULL, err) != 0)
            return -1;
    }
    int enabled = pbool(new_props, "Enabled", 1);
    int en_changed = old_props ? prop_changed(old_props, new_props, "Enabled") : !enabled;
    if (en_changed && kms(c, enabled ? "EnableKey" : "DisableKey", json_pack("{s:s}", "KeyId", id),
                          NULL, err) != 0)
        return -1;
    return 0;
}

/* The shortest pending window AWS allows: destroy leaves nothing, and a key
 * cannot go sooner. */
#define KEY_PENDING_WINDOW_DAYS 7

static int key_schedule_deletion(dr_apply_ctx *c, const char *id, dr_err *err)
{
    if (kms(c, "ScheduleKeyDeletion",
            json_pack("{s:s, s:i}", "KeyId", id, "PendingWindowInDays", KEY_PENDING_WINDOW_DAYS),
            NULL, err) == 0)
        return 0;
    if (is_code(err, "NotFoundException")) {
        dr_err_clear(err);
        return 0;
    }
    if (is_code(err, "KMSInvalidStateException")) {
        /* Already pending deletion is gone enough. */
        dr_err first = *err;
        json_t *meta = NULL;
        dr_err_clear(err);
        if (key_describe(c, id, &meta, err) != 0)
            return -1;
        if (!meta)
            return 0;
        json_decref(meta);
        *err = first;
    }
    return -1;
}

static int key_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                      const char *token, dr_live *out, dr_err *err)
{
    json_t *in = json_object();
    const char *s;
    if ((s = pstr(props, "Description")))
        json_object_set_new(in, "Description", json_string(s));
    if ((s = pstr(props, "KeyUsage")))
        json_object_set_new(in, "KeyUsage", json_string(s));
    if ((s = pstr(props, "KeySpec")))
        json_object_set_new(in, "KeySpec", json_string(s));
    if (json_object_get(props, "MultiRegion"))
        json_object_set_new(in, "MultiRegion", json_boolean(pbool(props, "MultiRegion", 0)));
    if (json_object_get(props, "BypassPolicyLockoutSafetyCheck"))
        json_object_set_new(in, "BypassPolicyLockoutSafetyCheck",
                            json_boolean(pbool(props, "BypassPolicyLockoutSafetyCheck", 0)));
    char *policy = doc_text(json_object_get(props, "KeyPolicy"));
    if (policy) {
        json_object_set_new(in, "Policy", json_string(policy));
        free(policy);
    }
    json_object_set_new(in, "Tags", tags_as(tags, "TagKey", "TagValue"));
    json_t *res = NULL;
    if (kms(c, "CreateKey", in, &res, err) != 0)
        return -1;
    json_t *meta = json_object_get(res, "KeyMetadata");
    const char *id = pstr(meta, "KeyId");
    if (!id) {
        json_decref(res);
        return dr_err_set(err, DR_E_AWS, "KMS CreateKey answered without a KeyId");
    }
    if (key_configure(c, id, NULL, props, err) != 0) {
        /* A key without its rotation must not be found and adopted by a
         * retry: schedule it away (a pending key counts as gone). */
        dr_err scratch;
        dr_err_clear(&scratch);
        if (key_schedule_deletion(c, id, &scratch) != 0)
            dr_warn(c->log, "KMS key %s: could not schedule the incomplete key's deletion: %s", id,
                    scratch.msg);
        json_decref(res);
        return -1;
    }
    set_live(out, id, key_attrs(meta));
    json_decref(res);
    (void)logical_id;
    (void)token; /* CreateKey takes no idempotency token: find() covers retries. */
    return 0;
}

/* All tags of a key ([{TagKey, TagValue}]). */
static int key_tags(dr_apply_ctx *c, const char *id, json_t **tags, dr_err *err)
{
    json_t *all = json_array();
    char *marker = NULL;
    for (;;) {
        json_t *in = json_pack("{s:s, s:i}", "KeyId", id, "Limit", 50);
        if (marker)
            json_object_set_new(in, "Marker", json_string(marker));
        free(marker);
        marker = NULL;
        json_t *out = NULL;
        if (kms(c, "ListResourceTags", in, &out, err) != 0) {
            json_decref(all);
            return -1;
        }
        json_array_extend(all, json_object_get(out, "Tags"));
        if (json_is_true(json_object_get(out, "Truncated")) && pstr(out, "NextMarker"))
            marker = dr_xstrdup(pstr(out, "NextMarker"));
        json_decref(out);
        if (!marker)
            break;
    }
    *tags = all;
    return 0;
}

static int key_live_props(dr_apply_ctx *c, const char *id, json_t *meta, json_t *props,
                          json_t **out, dr_err *err)
{
    json_t *p = json_object();
    static const char *const direct[] = {"Description", "KeyUsage", "KeySpec", "MultiRegion",
                                         "Enabled"};
    for (size_t i = 0; i < sizeof(direct) / sizeof(direct[0]); i++)
        if (json_object_get(props, direct[i]) && json_object_get(meta, direct[i]))
            json_object_set(p, direct[i], json_object_get(meta, direct[i]));
    if (json_object_get(props, "EnableKeyRotation")) {
        json_t *r = NULL;
        if (kms(c, "GetKeyRotationStatus", json_pack("{s:s}", "KeyId", id), &r, err) != 0) {
            json_decref(p);
            return -1;
        }
        json_object_set_new(p, "EnableKeyRotation",
                            json_boolean(json_is_true(json_object_get(r, "KeyRotationEnabled"))));
        json_decref(r);
    }
    if (json_is_object(json_object_get(props, "KeyPolicy"))) {
        json_t *r = NULL;
        if (kms(c, "GetKeyPolicy", json_pack("{s:s, s:s}", "KeyId", id, "PolicyName", "default"),
                &r, err) != 0) {
            json_decref(p);
            return -1;
        }
        json_t *pol = pstr(r, "Policy") ? json_loads(pstr(r, "Policy"), 0, NULL) : NULL;
        if (pol)
            json_object_set_new(p, "KeyPolicy", pol);
        json_decref(r);
    }
    *out = p;
    return 0;
}

static int key_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                    dr_live *out, dr_err *err)
{
    *found = 0;
    char *marker = NULL;
    json_t *hit = NULL; /* KeyMetadata of the first live key with our tags */
    for (;;) {
        json_t *in = json_pack("{s:i}", "Limit", 1000);
        if (marker)
            json_object_set_new(in, "Marker", json_string(marker));
        free(marker);
        marker = NULL;
        json_t *res = NULL;
        if (kms(c, "ListKeys", in, &res, err) != 0) {
            json_decref(hit);
            return -1;
        }
        size_t i;
        json_t *k;
        json_array_foreach(json_object_get(res, "Keys"), i, k)
        {
            const char *id = pstr(k, "KeyId");
            if (!id)
                continue;
            json_t *tags = NULL;
            if (key_tags(c, id, &tags, err) != 0) {
                /* Keys we may not read (AWS managed, other owners) are not ours. */
                if (is_code(err, "AccessDeniedException") || is_code(err, "NotFoundException")) {
                    dr_err_clear(err);
                    continue;
                }
                json_decref(res);
                json_decref(hit);
                return -1;
            }
            int ours = tags_ours(c, logical_id, tags, "TagKey", "TagValue");
            json_decref(tags);
            if (!ours)
                continue;
            json_t *meta = NULL;
            if (key_describe(c, id, &meta, err) != 0) {
                json_decref(res);
                json_decref(hit);
                return -1;
            }
            if (!meta)
                continue; /* pending deletion: gone */
            if (hit) {
                dr_warn(c->log,
                        "KMS keys %s and %s both carry the tags of %s: using the first; "
                        "schedule the other's deletion if it is not needed",
                        pstr(hit, "KeyId"), id, logical_id);
                json_decref(meta);
            } else {
                hit = meta;
            }
        }
        if (json_is_true(json_object_get(res, "Truncated")) && pstr(res, "NextMarker"))
            marker = dr_xstrdup(pstr(res, "NextMarker"));
        json_decref(res);
        if (!marker)
            break;
    }
    if (!hit)
        return 0;
    const char *id = pstr(hit, "KeyId");
    json_t *lp = NULL;
    if (key_live_props(c, id, hit, props, &lp, err) != 0) {
        json_decref(hit);
        return -1;
    }
    set_live(out, id, key_attrs(hit));
    json_decref(out->properties);
    out->properties = lp;
    json_decref(hit);
    *found = 1;
    return 0;
}

static int key_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                    dr_live *out, dr_err *err)
{
    json_t *meta = NULL;
    if (key_describe(c, physical_id, &meta, err) != 0)
        return -1;
    *exists = meta != NULL;
    if (meta)
        set_live(out, physical_id, key_attrs(meta));
    json_decref(meta);
    return 0;
}

/* Tags the key with the model's tags, takes off the tags the model dropped. */
static int key_retag(dr_apply_ctx *c, const char *id, json_t *old_props, json_t *new_props,
                     dr_err *err)
{
    json_t *tags = json_object_get(new_props, "Tags");
    if (json_array_size(tags) > 0 &&
        kms(c, "TagResource",
            json_pack("{s:s, s:o}", "KeyId", id, "Tags", tags_as(tags, "TagKey", "TagValue")), NULL,
            err) != 0)
        return -1;
    json_t *gone = tags_removed(json_object_get(old_props, "Tags"), tags);
    if (gone && kms(c, "UntagResource", json_pack("{s:s, s:o}", "KeyId", id, "TagKeys", gone), NULL,
                    err) != 0)
        return -1;
    return 0;
}

static int key_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                      json_t *new_props, dr_live *out, dr_err *err)
{
    const char *id = physical_id;
    if (prop_changed(old_props, new_props, "Description")) {
        const char *d = pstr(new_props, "Description");
        if (kms(c, "UpdateKeyDescription",
                json_pack("{s:s, s:s}", "KeyId", id, "Description", d ? d : ""), NULL, err) != 0)
            return -1;
    }
    if (prop_changed(old_props, new_props, "KeyPolicy")) {
        char *policy = doc_text(json_object_get(new_props, "KeyPolicy"));
        if (!policy)
            return dr_err_set(err, DR_E_CONFIG,
                              "KMS key %s: a key policy cannot be removed, only replaced", id);
        int rc = kms(
            c, "PutKeyPolicy",
            json_pack("{s:s, s:s, s:s}", "KeyId", id, "PolicyName", "default", "Policy", policy),
            NULL, err);
        free(policy);
        if (rc != 0)
            return -1;
    }
    if (key_configure(c, id, old_props, new_props, err) != 0)
        return -1;
    if (prop_changed(old_props, new_props, "Tags") &&
        key_retag(c, id, old_props, new_props, err) != 0)
        return -1;
    json_t *meta = NULL;
    if (key_describe(c, id, &meta, err) != 0)
        return -1;
    if (!meta)
        return dr_err_set(err, DR_E_AWS, "KMS key %s disappeared during its update", id);
    set_live(out, id, key_attrs(meta));
    json_decref(meta);
    return 0;
}

static int key_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    return key_schedule_deletion(c, physical_id, err);
}

static int key_ready_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    json_t *out = NULL;
    if (kms(c, "DescribeKey", json_pack("{s:s}", "KeyId", (const char *)ud), &out, err) != 0)
        return -1;
    const char *state = pstr(json_object_get(out, "KeyMetadata"), "KeyState");
    int rc = 0;
    if (!state || strcmp(state, "Enabled") == 0 || strcmp(state, "Disabled") == 0)
        rc = 1;
    else if (strcmp(state, "Creating") != 0 && strcmp(state, "Updating") != 0)
        rc = dr_err_set(err, DR_E_AWS, "KMS key %s is %s, not usable", (const char *)ud, state);
    json_decref(out);
    return rc;
}

static int key_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    char what[128];
    snprintf(what, sizeof(what), "KMS key %s", physical_id);
    return dr_wait(c, what, 300, key_ready_check, (void *)physical_id, err);
}

/* ---- KMS alias -------------------------------------------------------------- */

/* The key id of a key id or key ARN ("arn:...:key/<id>"). */
static const char *key_id_of(const char *s)
{
    const char *k = s ? strstr(s, ":key/") : NULL;
    return k ? k + 5 : s;
}

/* Looks an alias up by name; *alias (new reference) or NULL. */
static int alias_lookup(dr_apply_ctx *c, const char *name, json_t **alias, dr_err *err)
{
    *alias = NULL;
    char *marker = NULL;
    for (;;) {
        json_t *in = json_pack("{s:i}", "Limit", 100);
        if (marker)
            json_object_set_new(in, "Marker", json_string(marker));
        free(marker);
        marker = NULL;
        json_t *out = NULL;
        if (kms(c, "ListAliases", in, &out, err) != 0)
            return -1;
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(out, "Aliases"), i, a)
        {
            const char *n = pstr(a, "AliasName");
            if (n && strcmp(n, name) == 0 && !*alias)
                *alias = json_incref(a);
        }
        if (!*alias && json_is_true(json_object_get(out, "Truncated")) && pstr(out, "NextMarker"))
            marker = dr_xstrdup(pstr(out, "NextMarker"));
        json_decref(out);
        if (!marker)
            return 0;
    }
}

static json_t *alias_attrs(json_t *alias)
{
    json_t *a = json_object();
    if (alias && pstr(alias, "AliasArn"))
        json_object_set_new(a, "Arn", json_string(pstr(alias, "AliasArn")));
    return a;
}

static int alias_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                        const char *token, dr_live *out, dr_err *err)
{
    const char *name = pstr(props, "AliasName");
    const char *target = pstr(props, "TargetKeyId");
    if (!known(name) || !known(target))
        return dr_err_set(err, DR_E_CONFIG, "KMS alias %s: AliasName and TargetKeyId are required",
                          logical_id);
    if (kms(c, "CreateAlias", json_pack("{s:s, s:s}", "AliasName", name, "TargetKeyId", target),
            NULL, err) != 0) {
        if (!is_code(err, "AlreadyExistsException"))
            return -1;
        /* Ours already (a lost answer) when it points at our key. */
        dr_err first = *err;
        json_t *a = NULL;
        if (alias_lookup(c, name, &a, err) != 0)
            return -1;
        if (!a || strcmp(key_id_of(pstr(a, "TargetKeyId")), key_id_of(target)) != 0) {
            json_decref(a);
            *err = first;
            return dr_err_hint(err, "the alias %s exists and points at another key", name);
        }
        json_decref(a);
        dr_err_clear(err);
    }
    json_t *a = NULL;
    if (alias_lookup(c, name, &a, err) != 0)
        return -1;
    set_live(out, name, alias_attrs(a));
    json_decref(a);
    (void)tags;
    (void)token;
    return 0;
}

static int alias_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                      dr_live *out, dr_err *err)
{
    *found = 0;
    const char *name = pstr(props, "AliasName");
    if (!known(name))
        return 0;
    json_t *a = NULL;
    if (alias_lookup(c, name, &a, err) != 0)
        return -1;
    if (!a)
        return 0;
    set_live(out, name, alias_attrs(a));
    json_t *lp = json_pack("{s:s}", "AliasName", name);
    if (pstr(a, "TargetKeyId") && json_object_get(props, "TargetKeyId"))
        json_object_set_new(lp, "TargetKeyId", json_string(pstr(a, "TargetKeyId")));
    json_decref(out->properties);
    out->properties = lp;
    json_decref(a);
    *found = 1;
    return 0;
}

static int alias_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                      dr_live *out, dr_err *err)
{
    json_t *a = NULL;
    if (alias_lookup(c, physical_id, &a, err) != 0)
        return -1;
    *exists = a != NULL;
    if (a)
        set_live(out, physical_id, alias_attrs(a));
    json_decref(a);
    return 0;
}

static int alias_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                        json_t *new_props, dr_live *out, dr_err *err)
{
    const char *target = pstr(new_props, "TargetKeyId");
    if (!known(target))
        return dr_err_set(err, DR_E_CONFIG, "KMS alias %s: TargetKeyId is required", physical_id);
    if (kms(c, "UpdateAlias",
            json_pack("{s:s, s:s}", "AliasName", physical_id, "TargetKeyId", target), NULL,
            err) != 0)
        return -1;
    json_t *a = NULL;
    if (alias_lookup(c, physical_id, &a, err) != 0)
        return -1;
    set_live(out, physical_id, alias_attrs(a));
    json_decref(a);
    return 0;
}

static int alias_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    if (kms(c, "DeleteAlias", json_pack("{s:s}", "AliasName", physical_id), NULL, err) == 0)
        return 0;
    if (is_code(err, "NotFoundException")) {
        dr_err_clear(err);
        return 0;
    }
    return -1;
}

/* ---- secret values ---------------------------------------------------------- */

/* [A-Za-z0-9]: nothing RDS forbids in a master password (/ @ " space),
 * nothing ElastiCache forbids in an AUTH token (@ " /), nothing that needs
 * quoting in a URL, a shell or JSON. */
static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* n random characters of [A-Za-z0-9] and a NUL; -1 if the generator fails.
 * Rejection sampling: bytes >= 248 (= 4 * 62) are dropped, so that every
 * character is equally likely. */
int dr_sec_random_alnum(char *out, size_t n)
{
    unsigned char buf[64];
    size_t i = 0;
    while (i < n) {
        if (RAND_bytes(buf, (int)sizeof(buf)) != 1) {
            dr_secure_zero(out, i);
            dr_secure_zero(buf, sizeof(buf));
            return -1;
        }
        for (size_t j = 0; j < sizeof(buf) && i < n; j++)
            if (buf[j] < 248)
                out[i++] = alnum[buf[j] % 62];
    }
    out[n] = '\0';
    dr_secure_zero(buf, sizeof(buf));
    return 0;
}

/* What a secret holds, from the last part of its name (the model names
 * them "<stack>/database", "<stack>/litellm-master-key", ...). */
const char *dr_sec_secret_kind(const char *name)
{
    const char *slash = name ? strrchr(name, '/') : NULL;
    const char *tail = slash ? slash + 1 : (name ? name : "");
    static const char *const kinds[] = {"database",      "litellm-master-key", "litellm-salt-key",
                                        "provider-keys", "cache-auth-token",   NULL};
    for (int i = 0; kinds[i]; i++)
        if (strcmp(tail, kinds[i]) == 0)
            return kinds[i];
    return "other";
}

/* A random string of n [A-Za-z0-9] characters after `prefix`. */
static char *random_value(const char *prefix, size_t n)
{
    size_t pl = strlen(prefix);
    char *v = dr_xmalloc(pl + n + 1);
    memcpy(v, prefix, pl);
    if (dr_sec_random_alnum(v + pl, n) != 0) {
        free(v);
        return NULL;
    }
    return v;
}

/*
 * A new value for a secret of this name (caller dr_free_secret()s it); NULL
 * if the random generator failed. *placeholder = 1 when the value is only a
 * placeholder for the operator to fill (the provider keys).
 */
char *dr_sec_generate_secret(const char *name, const dr_region_profile *p, int *placeholder)
{
    const char *kind = dr_sec_secret_kind(name);
    *placeholder = 0;
    if (strcmp(kind, "database") == 0) {
        char pw[33];
        if (dr_sec_random_alnum(pw, 32) != 0)
            return NULL;
        const char *user =
            p && p->database.username && *p->database.username ? p->database.username : "litellm";
        const char *db = p && p->database.name && *p->database.name ? p->database.name : "litellm";
        json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:s}", "username", user, "password", pw,
                              "engine", "postgres", "port", 5432, "dbname", db);
        dr_secure_zero(pw, sizeof(pw));
        char *v = json_dumps(j, JSON_COMPACT);
        wipe_json(j);
        json_decref(j);
        return v;
    }
    if (strcmp(kind, "litellm-master-key") == 0)
        return random_value("sk-", 48); /* LiteLLM master keys start with sk- */
    if (strcmp(kind, "litellm-salt-key") == 0)
        return random_value("", 64);
    if (strcmp(kind, "provider-keys") == 0) {
        *placeholder = 1;
        return dr_xstrdup("{}");
    }
    if (strcmp(kind, "cache-auth-token") == 0)
        return random_value("", 32); /* AUTH: 16-128 printable, no @ " / */
    return random_value("", 32);
}

/*
 * The value to store here when a peer region has one: the same, except that
 * the database secret loses its region's "host" and "url" (this region's
 * database handler writes its own; until then nothing here may point at the
 * other region's database). Caller dr_free_secret()s it.
 */
char *dr_sec_adapt_peer_value(const char *name, const char *value)
{
    if (strcmp(dr_sec_secret_kind(name), "database") != 0)
        return dr_xstrdup(value);
    json_t *j = json_loads(value, 0, NULL);
    if (!json_is_object(j)) {
        if (j) {
            wipe_json(j);
            json_decref(j);
        }
        return dr_xstrdup(value);
    }
    json_t *h = json_object_get(j, "host"), *u = json_object_get(j, "url");
    wipe_json(h);
    wipe_json(u);
    json_object_del(j, "host");
    json_object_del(j, "url");
    char *v = json_dumps(j, JSON_COMPACT);
    wipe_json(j);
    json_decref(j);
    return v;
}

static int throttled(const dr_err *e)
{
    return e->has_aws && (strstr(e->aws.code, "Throttl") != NULL ||
                          strcmp(e->aws.code, "TooManyRequestsException") == 0 ||
                          strcmp(e->aws.code, "RequestLimitExceeded") == 0);
}

/*
 * The first value of a new secret: the same secret's value in the first
 * peer region that has it, else a generated one. `fetch` reads a peer's
 * value (1 found, 0 absent, -1 error). A peer that cannot be read (the
 * failed region during a failover, say) does not stop the create: a value
 * is generated with a warning, and the runbook's restore of the secrets
 * from a bundle puts the shared value back. Throttling fails the call, so
 * that the engine retries it rather than make the regions differ.
 * *source is the peer the value came from, or NULL when generated.
 */
int dr_sec_initial_value(const char *name, const char *self_region, const char *const *peers,
                         const dr_region_profile *p, dr_sec_fetch_fn fetch, void *ud,
                         const dr_log *log, char **value, const char **source, dr_err *err)
{
    *value = NULL;
    *source = NULL;
    const char *unread = NULL;
    for (const char *const *r = peers; r && *r; r++) {
        if (!**r || (self_region && strcmp(*r, self_region) == 0))
            continue;
        char *v = NULL;
        dr_err perr;
        dr_err_clear(&perr);
        int rc = fetch(ud, *r, name, &v, &perr);
        if (rc > 0 && v) {
            *value = dr_sec_adapt_peer_value(name, v);
            dr_free_secret(v);
            *source = *r;
            dr_notice(log, "secret %s: value copied from %s, so that both regions share it", name,
                      *r);
            return 0;
        }
        dr_free_secret(v);
        if (rc < 0) {
            if (throttled(&perr)) {
                *err = perr;
                return -1;
            }
            dr_warn(log, "secret %s: could not read it in %s: %s", name, *r, perr.msg);
            if (!unread)
                unread = *r;
        }
    }
    int placeholder = 0;
    *value = dr_sec_generate_secret(name, p, &placeholder);
    if (!*value)
        return dr_err_set(err, DR_E_INTERNAL,
                          "secret %s: the random generator (OpenSSL RAND_bytes) failed", name);
    if (placeholder)
        dr_notice(log,
                  "secret %s holds an empty JSON object: put the model providers' API keys in "
                  "it (JSON: OPENAI_API_KEY, ...) with `aws secretsmanager put-secret-value`",
                  name);
    if (unread)
        dr_warn(log,
                "secret %s: generated a new value although %s may hold one: restore the "
                "secrets from a bundle (or copy the value from %s) so that both regions share it",
                name, unread, unread);
    return 0;
}

/* ---- Secrets Manager -------------------------------------------------------- */

/* Calls a Secrets Manager operation in `region`; `in` is taken, and its
 * SecretString (a copy of the value) is zeroed before it is freed. */
static int sm(dr_apply_ctx *c, const char *region, const char *op, json_t *in, json_t **out,
              dr_err *err)
{
    int rc = dr_aws_json(c->aws, "secretsmanager", region, op, in, out, err);
    wipe_json(json_object_get(in, "SecretString"));
    json_decref(in);
    return rc;
}

/* Reads a peer region's value (dr_sec_fetch_fn). A secret scheduled for
 * deletion there (InvalidRequestException) counts as absent. */
static int fetch_peer(void *ud, const char *region, const char *name, char **value, dr_err *err)
{
    dr_apply_ctx *c = ud;
    json_t *out = NULL;
    if (sm(c, region, "GetSecretValue", json_pack("{s:s}", "SecretId", name), &out, err) != 0) {
        if (is_code(err, "ResourceNotFoundException") || is_code(err, "InvalidRequestException")) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    const char *s = pstr(out, "SecretString");
    int rc = 0;
    if (s && *s) {
        *value = dr_xstrdup(s);
        rc = 1;
    }
    wipe_json(out);
    json_decref(out);
    return rc;
}

/* Secrets Manager takes 32 to 64 characters: the engine's token when it
 * fits, else its SHA-256 in hex (deterministic, so a retry sends the same). */
static void sm_token(const char *token, char out[65])
{
    size_t n = token ? strlen(token) : 0;
    if (n >= 32 && n <= 64)
        snprintf(out, 65, "%s", token);
    else
        sha256_hex(token ? token : "", out);
}

/* UpdateSecret's ClientRequestToken is an idempotency token the SDKs
 * fill with a random UUID when the caller gives none, and moto refuses the
 * call without one (ResourceExistsException). No value goes with it, so no
 * version is made and a random token is right. */
static void sm_update_token(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, (int)sizeof(b)) != 1) {
        /* Not secret: any unique enough string does. */
        snprintf(out, 37, "%08x-0000-4000-8000-000000000000", (unsigned)time(NULL));
        return;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static int secret_update_call(dr_apply_ctx *c, json_t *in, dr_err *err)
{
    char tok[37];
    sm_update_token(tok);
    json_object_set_new(in, "ClientRequestToken", json_string(tok));
    return sm(c, c->region, "UpdateSecret", in, NULL, err);
}

static int secret_describe(dr_apply_ctx *c, const char *id, json_t **out, dr_err *err)
{
    *out = NULL;
    if (sm(c, c->region, "DescribeSecret", json_pack("{s:s}", "SecretId", id), out, err) != 0) {
        if (is_code(err, "ResourceNotFoundException")) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    return 0;
}

static int secret_pending_deletion(json_t *d)
{
    json_t *v = json_object_get(d, "DeletedDate");
    return v && !json_is_null(v);
}

/* 1 when some version carries AWSCURRENT (the secret has a value). */
static int secret_has_value(json_t *d)
{
    const char *k;
    json_t *stages;
    json_object_foreach(json_object_get(d, "VersionIdsToStages"), k, stages)
    {
        size_t i;
        json_t *s;
        json_array_foreach(stages, i, s)
        {
            if (json_is_string(s) && strcmp(json_string_value(s), "AWSCURRENT") == 0)
                return 1;
        }
    }
    return 0;
}

static json_t *secret_attrs(json_t *d)
{
    json_t *a = json_object();
    if (pstr(d, "ARN"))
        json_object_set_new(a, "Id", json_string(pstr(d, "ARN")));
    if (pstr(d, "Name"))
        json_object_set_new(a, "Name", json_string(pstr(d, "Name")));
    return a;
}

/* The first value of a secret here: a peer region's, or generated. */
static int secret_initial(dr_apply_ctx *c, const char *name, char **value, dr_err *err)
{
    const char *source = NULL;
    return dr_sec_initial_value(name, c->region, c->peer_regions, c->profile, fetch_peer, c, c->log,
                                value, &source, err);
}

/* An existing secret of this name becomes ours: restored if it was
 * scheduled for deletion (its value is kept: secrets are data), brought to
 * the model's description, key and tags, and given a value if it has none. */
static int secret_take_over(dr_apply_ctx *c, const char *name, json_t *d, json_t *props,
                            json_t *tags, const char *token, dr_err *err)
{
    const char *arn = pstr(d, "ARN");
    if (!arn)
        return dr_err_set(err, DR_E_AWS, "secret %s: DescribeSecret answered without an ARN", name);
    if (secret_pending_deletion(d)) {
        if (sm(c, c->region, "RestoreSecret", json_pack("{s:s}", "SecretId", arn), NULL, err) != 0)
            return -1;
        dr_notice(c->log, "secret %s was scheduled for deletion: restored, with its value", name);
    }
    json_t *in = json_pack("{s:s}", "SecretId", arn);
    const char *want = pstr(props, "Description");
    if (want && !(pstr(d, "Description") && strcmp(pstr(d, "Description"), want) == 0))
        json_object_set_new(in, "Description", json_string(want));
    want = pstr(props, "KmsKeyId");
    if (known(want) && !(pstr(d, "KmsKeyId") && strcmp(pstr(d, "KmsKeyId"), want) == 0))
        json_object_set_new(in, "KmsKeyId", json_string(want));
    if (json_object_size(in) > 1) {
        if (secret_update_call(c, in, err) != 0)
            return -1;
    } else {
        json_decref(in);
    }
    if (json_array_size(tags) > 0 &&
        sm(c, c->region, "TagResource",
           json_pack("{s:s, s:o}", "SecretId", arn, "Tags", tags_as(tags, "Key", "Value")), NULL,
           err) != 0)
        return -1;
    if (!secret_has_value(d)) {
        char *value = NULL;
        if (secret_initial(c, name, &value, err) != 0)
            return -1;
        char tok[65];
        sm_token(token, tok);
        json_t *put = json_pack("{s:s, s:s, s:s}", "SecretId", arn, "ClientRequestToken", tok,
                                "SecretString", value);
        dr_free_secret(value);
        if (sm(c, c->region, "PutSecretValue", put, NULL, err) != 0)
            return -1;
    }
    return 0;
}

static int secret_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                         const char *token, dr_live *out, dr_err *err)
{
    const char *name = pstr(props, "Name");
    if (!known(name))
        return dr_err_set(err, DR_E_CONFIG, "secret %s: Name is required", logical_id);
    /* A secret of this name already (kept by DeletionPolicy Retain, or a
     * create whose answer was lost): its value is data, keep it. */
    json_t *d = NULL;
    if (secret_describe(c, name, &d, err) != 0)
        return -1;
    if (!d) {
        char *value = NULL;
        if (secret_initial(c, name, &value, err) != 0)
            return -1;
        char tok[65];
        sm_token(token, tok);
        json_t *in = json_pack("{s:s, s:s, s:s}", "Name", name, "ClientRequestToken", tok,
                               "SecretString", value);
        dr_free_secret(value);
        if (pstr(props, "Description"))
            json_object_set_new(in, "Description", json_string(pstr(props, "Description")));
        if (known(pstr(props, "KmsKeyId")))
            json_object_set_new(in, "KmsKeyId", json_string(pstr(props, "KmsKeyId")));
        if (json_array_size(tags) > 0)
            json_object_set_new(in, "Tags", tags_as(tags, "Key", "Value"));
        json_t *res = NULL;
        if (sm(c, c->region, "CreateSecret", in, &res, err) == 0) {
            if (!pstr(res, "ARN")) {
                json_decref(res);
                return dr_err_set(err, DR_E_AWS, "secret %s: CreateSecret answered without an ARN",
                                  name);
            }
            set_live(out, pstr(res, "ARN"), secret_attrs(res));
            json_decref(res);
            return 0;
        }
        if (!is_code(err, "ResourceExistsException"))
            return -1;
        /* Made meanwhile (a lost answer, another run): take it over. */
        dr_err_clear(err);
        if (secret_describe(c, name, &d, err) != 0)
            return -1;
        if (!d)
            return dr_err_set(err, DR_E_AWS, "secret %s: exists and cannot be described", name);
    }
    if (secret_take_over(c, name, d, props, tags, token, err) != 0) {
        json_decref(d);
        return -1;
    }
    set_live(out, pstr(d, "ARN"), secret_attrs(d));
    json_decref(d);
    return 0;
}

static int secret_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                       dr_live *out, dr_err *err)
{
    *found = 0;
    const char *name = pstr(props, "Name");
    if (!known(name))
        return 0;
    json_t *d = NULL;
    if (secret_describe(c, name, &d, err) != 0)
        return -1;
    if (!d || secret_pending_deletion(d) || !pstr(d, "ARN")) {
        json_decref(d);
        return 0;
    }
    set_live(out, pstr(d, "ARN"), secret_attrs(d));
    json_t *lp = json_pack("{s:s}", "Name", name);
    if (json_object_get(props, "Description"))
        json_object_set_new(lp, "Description",
                            json_string(pstr(d, "Description") ? pstr(d, "Description") : ""));
    json_decref(out->properties);
    out->properties = lp;
    json_decref(d);
    *found = 1;
    return 0;
}

static int secret_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                       dr_live *out, dr_err *err)
{
    json_t *d = NULL;
    if (secret_describe(c, physical_id, &d, err) != 0)
        return -1;
    *exists = d && !secret_pending_deletion(d);
    if (*exists)
        set_live(out, physical_id, secret_attrs(d));
    json_decref(d);
    return 0;
}

static int secret_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                         json_t *new_props, dr_live *out, dr_err *err)
{
    json_t *in = json_pack("{s:s}", "SecretId", physical_id);
    if (prop_changed(old_props, new_props, "Description")) {
        const char *d = pstr(new_props, "Description");
        json_object_set_new(in, "Description", json_string(d ? d : ""));
    }
    if (prop_changed(old_props, new_props, "KmsKeyId")) {
        const char *k = pstr(new_props, "KmsKeyId");
        /* No key in the model: back to the AWS managed key. */
        json_object_set_new(in, "KmsKeyId", json_string(known(k) ? k : "alias/aws/secretsmanager"));
    }
    /* Never a SecretString: the value is data, and UpdateSecret without one
     * makes no new version. */
    if (json_object_size(in) > 1) {
        if (secret_update_call(c, in, err) != 0)
            return -1;
    } else {
        json_decref(in);
    }
    if (prop_changed(old_props, new_props, "Tags")) {
        json_t *tags = json_object_get(new_props, "Tags");
        if (json_array_size(tags) > 0 && sm(c, c->region, "TagResource",
                                            json_pack("{s:s, s:o}", "SecretId", physical_id, "Tags",
                                                      tags_as(tags, "Key", "Value")),
                                            NULL, err) != 0)
            return -1;
        json_t *gone = tags_removed(json_object_get(old_props, "Tags"), tags);
        if (gone &&
            sm(c, c->region, "UntagResource",
               json_pack("{s:s, s:o}", "SecretId", physical_id, "TagKeys", gone), NULL, err) != 0)
            return -1;
    }
    json_t *d = NULL;
    if (secret_describe(c, physical_id, &d, err) != 0)
        return -1;
    if (!d)
        return dr_err_set(err, DR_E_AWS, "secret %s disappeared during its update", physical_id);
    set_live(out, physical_id, secret_attrs(d));
    json_decref(d);
    return 0;
}

/* Deleted at once (no recovery window): destroy leaves nothing. A secret
 * already scheduled for deletion is restored first, as AWS refuses to
 * force-delete it. */
static int secret_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (sm(c, c->region, "DeleteSecret",
               json_pack("{s:s, s:b}", "SecretId", physical_id, "ForceDeleteWithoutRecovery", 1),
               NULL, err) == 0)
            return 0;
        if (is_code(err, "ResourceNotFoundException")) {
            dr_err_clear(err);
            return 0;
        }
        if (!is_code(err, "InvalidRequestException") || attempt > 0)
            return -1;
        dr_err first = *err;
        dr_err_clear(err);
        if (sm(c, c->region, "RestoreSecret", json_pack("{s:s}", "SecretId", physical_id), NULL,
               err) != 0) {
            *err = first;
            return -1;
        }
    }
    return -1;
}

/* ---- ACM certificate -------------------------------------------------------- */

static int acm(dr_apply_ctx *c, const char *op, json_t *in, json_t **out, dr_err *err)
{
    int rc = dr_aws_json(c->aws, "acm", c->region, op, in, out, err);
    json_decref(in);
    return rc;
}

/* ACM's IdempotencyToken is \w{1,32}: the engine's token when it fits,
 * else the first 32 hex digits of its SHA-256. */
static void acm_token(const char *token, char out[33])
{
    size_t n = token ? strlen(token) : 0;
    int ok = n >= 1 && n <= 32;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)token[i]) || token[i] == '_';
    if (ok) {
        snprintf(out, 33, "%s", token);
    } else {
        char hex[65];
        sha256_hex(token ? token : "", hex);
        snprintf(out, 33, "%.32s", hex);
    }
}

static int cert_describe(dr_apply_ctx *c, const char *arn, json_t **cert, dr_err *err)
{
    *cert = NULL;
    json_t *out = NULL;
    if (acm(c, "DescribeCertificate", json_pack("{s:s}", "CertificateArn", arn), &out, err) != 0) {
        if (is_code(err, "ResourceNotFoundException")) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    json_t *crt = json_object_get(out, "Certificate");
    if (json_is_object(crt))
        *cert = json_incref(crt);
    json_decref(out);
    return 0;
}

/* Status and the DNS records validation needs, for whoever writes them into
 * the hosted zone (and for people): ValidationRecords lists them all,
 * ValidationRecordName/Type/Value is the certificate's own domain's. */
static json_t *cert_attrs(json_t *cert)
{
    json_t *a = json_object();
    if (!cert)
        return a;
    if (pstr(cert, "CertificateArn"))
        json_object_set_new(a, "Id", json_string(pstr(cert, "CertificateArn")));
    if (pstr(cert, "Status"))
        json_object_set_new(a, "Status", json_string(pstr(cert, "Status")));
    json_t *recs = json_array();
    const char *domain = pstr(cert, "DomainName");
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(cert, "DomainValidationOptions"), i, o)
    {
        json_t *rr = json_object_get(o, "ResourceRecord");
        if (!json_is_object(rr))
            continue;
        const char *d = pstr(o, "DomainName"), *n = pstr(rr, "Name"), *t = pstr(rr, "Type"),
                   *v = pstr(rr, "Value");
        if (!n || !t || !v)
            continue;
        json_array_append_new(recs, json_pack("{s:s, s:s, s:s, s:s}", "DomainName", d ? d : "",
                                              "Name", n, "Type", t, "Value", v));
        if (d && domain && strcmp(d, domain) == 0 && !json_object_get(a, "ValidationRecordName")) {
            json_object_set_new(a, "ValidationRecordName", json_string(n));
            json_object_set_new(a, "ValidationRecordType", json_string(t));
            json_object_set_new(a, "ValidationRecordValue", json_string(v));
        }
    }
    json_object_set_new(a, "ValidationRecords", recs);
    return a;
}

static int cert_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                       const char *token, dr_live *out, dr_err *err)
{
    const char *domain = pstr(props, "DomainName");
    if (!known(domain))
        return dr_err_set(err, DR_E_CONFIG, "certificate %s: DomainName is required", logical_id);
    char tok[33];
    acm_token(token, tok);
    json_t *in = json_pack("{s:s, s:s}", "DomainName", domain, "IdempotencyToken", tok);
    const char *s;
    if ((s = pstr(props, "ValidationMethod")))
        json_object_set_new(in, "ValidationMethod", json_string(s));
    if (json_array_size(json_object_get(props, "SubjectAlternativeNames")) > 0)
        json_object_set(in, "SubjectAlternativeNames",
                        json_object_get(props, "SubjectAlternativeNames"));
    if ((s = pstr(props, "KeyAlgorithm")))
        json_object_set_new(in, "KeyAlgorithm", json_string(s));
    if ((s = pstr(props, "CertificateAuthorityArn")))
        json_object_set_new(in, "CertificateAuthorityArn", json_string(s));
    if ((s = pstr(props, "CertificateTransparencyLoggingPreference")))
        json_object_set_new(in, "Options",
                            json_pack("{s:s}", "CertificateTransparencyLoggingPreference", s));
    /* CloudFormation's DomainValidationOptions may carry HostedZoneId (for
     * CloudFormation to write the record); the API takes ValidationDomain
     * only. */
    json_t *dvo = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(props, "DomainValidationOptions"), i, o)
    {
        if (pstr(o, "DomainName") && pstr(o, "ValidationDomain"))
            json_array_append_new(dvo, json_pack("{s:s, s:s}", "DomainName", pstr(o, "DomainName"),
                                                 "ValidationDomain", pstr(o, "ValidationDomain")));
    }
    if (json_array_size(dvo) > 0)
        json_object_set_new(in, "DomainValidationOptions", dvo);
    else
        json_decref(dvo);
    if (json_array_size(tags) > 0)
        json_object_set_new(in, "Tags", tags_as(tags, "Key", "Value"));
    json_t *res = NULL;
    if (acm(c, "RequestCertificate", in, &res, err) != 0)
        return -1;
    const char *arn = pstr(res, "CertificateArn");
    if (!arn) {
        json_decref(res);
        return dr_err_set(err, DR_E_AWS, "ACM RequestCertificate answered without an ARN");
    }
    /* The validation record may not be published yet: read() after
     * wait_ready fills it in. */
    json_t *cert = NULL;
    if (cert_describe(c, arn, &cert, err) != 0) {
        json_decref(res);
        return -1;
    }
    set_live(out, arn, cert_attrs(cert));
    json_decref(cert);
    json_decref(res);
    return 0;
}

static int cert_rank(const char *status)
{
    if (!status)
        return 0;
    if (strcmp(status, "ISSUED") == 0)
        return 3;
    if (strcmp(status, "PENDING_VALIDATION") == 0)
        return 2;
    return 1;
}

static int cert_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                     dr_live *out, dr_err *err)
{
    *found = 0;
    const char *domain = pstr(props, "DomainName");
    char *next = NULL;
    char *best = NULL;
    int best_rank = 0;
    for (;;) {
        /* Every status, every key type: ListCertificates returns only
         * RSA_2048 certificates unless told otherwise. */
        json_t *in = json_pack("{s:[s, s, s, s, s, s, s], s:{s:[s, s, s, s, s, s, s]}, s:i}",
                               "CertificateStatuses", "PENDING_VALIDATION", "ISSUED", "INACTIVE",
                               "EXPIRED", "VALIDATION_TIMED_OUT", "REVOKED", "FAILED", "Includes",
                               "keyTypes", "RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096",
                               "EC_prime256v1", "EC_secp384r1", "EC_secp521r1", "MaxItems", 100);
        if (next)
            json_object_set_new(in, "NextToken", json_string(next));
        free(next);
        next = NULL;
        json_t *res = NULL;
        if (acm(c, "ListCertificates", in, &res, err) != 0) {
            free(best);
            return -1;
        }
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(res, "CertificateSummaryList"), i, s)
        {
            const char *arn = pstr(s, "CertificateArn");
            if (!arn || (known(domain) && pstr(s, "DomainName") &&
                         strcmp(pstr(s, "DomainName"), domain) != 0))
                continue;
            int rank = cert_rank(pstr(s, "Status"));
            if (rank <= best_rank)
                continue;
            json_t *t = NULL;
            if (acm(c, "ListTagsForCertificate", json_pack("{s:s}", "CertificateArn", arn), &t,
                    err) != 0) {
                if (is_code(err, "ResourceNotFoundException")) {
                    dr_err_clear(err);
                    continue;
                }
                json_decref(res);
                free(best);
                return -1;
            }
            if (tags_ours(c, logical_id, json_object_get(t, "Tags"), "Key", "Value")) {
                free(best);
                best = dr_xstrdup(arn);
                best_rank = rank;
            }
            json_decref(t);
        }
        if (pstr(res, "NextToken"))
            next = dr_xstrdup(pstr(res, "NextToken"));
        json_decref(res);
        if (!next)
            break;
    }
    if (!best)
        return 0;
    json_t *cert = NULL;
    if (cert_describe(c, best, &cert, err) != 0) {
        free(best);
        return -1;
    }
    if (cert) {
        set_live(out, best, cert_attrs(cert));
        json_t *lp = json_object();
        if (json_object_get(props, "DomainName") && pstr(cert, "DomainName"))
            json_object_set_new(lp, "DomainName", json_string(pstr(cert, "DomainName")));
        json_t *first = json_array_get(json_object_get(cert, "DomainValidationOptions"), 0);
        if (json_object_get(props, "ValidationMethod") && pstr(first, "ValidationMethod"))
            json_object_set_new(lp, "ValidationMethod",
                                json_string(pstr(first, "ValidationMethod")));
        json_decref(out->properties);
        out->properties = lp;
        *found = 1;
    }
    json_decref(cert);
    free(best);
    return 0;
}

static int cert_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                     dr_live *out, dr_err *err)
{
    json_t *cert = NULL;
    if (cert_describe(c, physical_id, &cert, err) != 0)
        return -1;
    *exists = cert != NULL;
    if (cert)
        set_live(out, physical_id, cert_attrs(cert));
    json_decref(cert);
    return 0;
}

static int cert_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                       json_t *new_props, dr_live *out, dr_err *err)
{
    json_t *tags = json_object_get(new_props, "Tags");
    if (json_array_size(tags) > 0 && acm(c, "AddTagsToCertificate",
                                         json_pack("{s:s, s:o}", "CertificateArn", physical_id,
                                                   "Tags", tags_as(tags, "Key", "Value")),
                                         NULL, err) != 0)
        return -1;
    json_t *gone = tags_removed(json_object_get(old_props, "Tags"), tags);
    if (gone) {
        json_t *rm = json_array();
        size_t i;
        json_t *k;
        json_array_foreach(gone, i, k)
        {
            json_array_append_new(rm, json_pack("{s:O}", "Key", k));
        }
        json_decref(gone);
        if (acm(c, "RemoveTagsFromCertificate",
                json_pack("{s:s, s:o}", "CertificateArn", physical_id, "Tags", rm), NULL, err) != 0)
            return -1;
    }
    json_t *cert = NULL;
    if (cert_describe(c, physical_id, &cert, err) != 0)
        return -1;
    if (!cert)
        return dr_err_set(err, DR_E_AWS, "certificate %s disappeared during its update",
                          physical_id);
    set_live(out, physical_id, cert_attrs(cert));
    json_decref(cert);
    return 0;
}

static int cert_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    if (acm(c, "DeleteCertificate", json_pack("{s:s}", "CertificateArn", physical_id), NULL, err) ==
        0)
        return 0;
    if (is_code(err, "ResourceNotFoundException")) {
        dr_err_clear(err);
        return 0;
    }
    if (is_code(err, "ResourceInUseException"))
        dr_err_hint(err, "a load balancer listener or a CloudFront distribution still uses it: "
                         "they go first");
    return -1;
}

/* Ready: ISSUED, or pending validation with the record to write known (see
 * the top of the file for why PENDING_VALIDATION is accepted). */
static int cert_ready_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    const char *arn = ud;
    json_t *cert = NULL;
    if (cert_describe(c, arn, &cert, err) != 0)
        return -1;
    if (!cert)
        return dr_err_set(err, DR_E_AWS, "certificate %s is gone", arn);
    const char *status = pstr(cert, "Status");
    int rc = 0;
    if (status && strcmp(status, "ISSUED") == 0) {
        rc = 1;
    } else if (status && strcmp(status, "PENDING_VALIDATION") == 0) {
        json_t *a = cert_attrs(cert);
        json_t *first = json_array_get(json_object_get(cert, "DomainValidationOptions"), 0);
        const char *method = pstr(first, "ValidationMethod");
        if (pstr(a, "ValidationRecordName")) {
            dr_notice(c->log,
                      "certificate for %s is pending DNS validation: it is issued once the "
                      "record %s %s %s exists (the HTTPS listener can use it only then)",
                      pstr(cert, "DomainName") ? pstr(cert, "DomainName") : "?",
                      pstr(a, "ValidationRecordName"), pstr(a, "ValidationRecordType"),
                      pstr(a, "ValidationRecordValue"));
            rc = 1;
        } else if (method && strcmp(method, "DNS") != 0) {
            dr_notice(c->log, "certificate for %s is pending %s validation",
                      pstr(cert, "DomainName") ? pstr(cert, "DomainName") : "?", method);
            rc = 1;
        }
        json_decref(a);
    } else {
        rc = dr_err_set(err, DR_E_AWS, "certificate %s is %s%s%s", arn, status ? status : "?",
                        pstr(cert, "FailureReason") ? ": " : "",
                        pstr(cert, "FailureReason") ? pstr(cert, "FailureReason") : "");
        dr_err_hint(err, "delete it (drctl destroy, or aws acm delete-certificate) and deploy "
                         "again to request a new one");
    }
    json_decref(cert);
    return rc;
}

static int cert_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    char what[256];
    snprintf(what, sizeof(what), "the validation record of certificate %s", physical_id);
    return dr_wait(c, what, 300, cert_ready_check, (void *)physical_id, err);
}

/* ---- the table -------------------------------------------------------------- */

static const char *const role_updatable[] = {
    "Description", "MaxSessionDuration", "AssumeRolePolicyDocument",
    "Policies",    "ManagedPolicyArns",  "Tags",
    NULL};
static const char *const role_names[] = {"RoleName", NULL};

static const char *const key_updatable[] = {"Description",
                                            "KeyPolicy",
                                            "EnableKeyRotation",
                                            "RotationPeriodInDays",
                                            "Enabled",
                                            "PendingWindowInDays",
                                            "Tags",
                                            NULL};

static const char *const alias_updatable[] = {"TargetKeyId", NULL};
static const char *const alias_names[] = {"AliasName", NULL};

static const char *const secret_updatable[] = {"Description", "KmsKeyId", "Tags", NULL};
static const char *const secret_names[] = {"Name", NULL};

static const char *const cert_updatable[] = {"Tags", NULL};

const dr_handler dr_handlers_security[] = {
    {.type = "AWS::IAM::Role",
     .create = role_create,
     .find = role_find,
     .read = role_read,
     .update = role_update,
     .remove = role_remove,
     .wait_ready = role_wait_ready,
     .update_in_place = role_updatable,
     .name_properties = role_names},
    {.type = "AWS::KMS::Key",
     .create = key_create,
     .find = key_find,
     .read = key_read,
     .update = key_update,
     .remove = key_remove,
     .wait_ready = key_wait_ready,
     .update_in_place = key_updatable},
    {.type = "AWS::KMS::Alias",
     .create = alias_create,
     .find = alias_find,
     .read = alias_read,
     .update = alias_update,
     .remove = alias_remove,
     .update_in_place = alias_updatable,
     .name_properties = alias_names},
    {.type = "AWS::SecretsManager::Secret",
     .create = secret_create,
     .find = secret_find,
     .read = secret_read,
     .update = secret_update,
     .remove = secret_remove,
     .update_in_place = secret_updatable,
     .name_properties = secret_names},
    {.type = "AWS::CertificateManager::Certificate",
     .create = cert_create,
     .find = cert_find,
     .read = cert_read,
     .update = cert_update,
     .remove = cert_remove,
     .wait_ready = cert_wait_ready,
     .update_in_place = cert_updatable},
    {.type = NULL},
};
