/*
 * res_network_common.c - the pieces every network handler uses: the EC2
 * call, error codes, property access, tags, Describe paging, state waits
 * and retries while AWS still holds a dependency.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stack/res_network_int.h"
#include "util/mem.h"

/* ---- calls and errors ---------------------------------------------------- */

int net_ec2(dr_apply_ctx *c, const char *action, const dr_kvlist *params, xmlDocPtr *doc,
            dr_err *err)
{
    return dr_aws_query(c->aws, "ec2", c->region, action, params, doc, err);
}

int net_err_is(const dr_err *err, const char *code)
{
    return err->has_aws && strcmp(err->aws.code, code) == 0;
}

int net_err_not_found(const dr_err *err)
{
    return err->has_aws && strstr(err->aws.code, "NotFound") != NULL;
}

/* ---- properties ---------------------------------------------------------- */

int net_known(const char *s)
{
    return s && *s && !strstr(s, DR_KNOWN_AFTER_APPLY);
}

const char *net_str(json_t *props, const char *key)
{
    const char *s = json_string_value(json_object_get(props, key));
    return net_known(s) ? s : NULL;
}

const char *net_scalar(json_t *props, const char *key, char *buf, size_t len)
{
    json_t *v = json_object_get(props, key);
    if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, len, "%.0f", json_real_value(v));
        return buf;
    }
    const char *s = json_string_value(v);
    if (!net_known(s))
        return NULL;
    snprintf(buf, len, "%s", s);
    return buf;
}

int net_has_bool(json_t *props, const char *key)
{
    json_t *v = json_object_get(props, key);
    if (json_is_boolean(v))
        return 1;
    const char *s = json_string_value(v);
    return s && (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0);
}

int net_bool(json_t *props, const char *key, int dflt)
{
    json_t *v = json_object_get(props, key);
    if (json_is_boolean(v))
        return json_is_true(v);
    const char *s = json_string_value(v);
    if (s && strcasecmp(s, "true") == 0)
        return 1;
    if (s && strcasecmp(s, "false") == 0)
        return 0;
    return dflt;
}

int net_long(json_t *props, const char *key, long *out)
{
    json_t *v = json_object_get(props, key);
    if (json_is_integer(v)) {
        *out = (long)json_integer_value(v);
        return 1;
    }
    const char *s = json_string_value(v);
    if (!s || !*s)
        return 0;
    char *end = NULL;
    long n = strtol(s, &end, 10);
    if (*end)
        return 0;
    *out = n;
    return 1;
}

int net_add_list(dr_kvlist *p, const char *prefix, json_t *props, const char *key)
{
    json_t *a = json_object_get(props, key);
    size_t i;
    json_t *v;
    int n = 0;
    json_array_foreach(a, i, v)
    {
        const char *s = json_string_value(v);
        if (!net_known(s))
            continue;
        char name[96];
        snprintf(name, sizeof(name), "%s.%d", prefix, ++n);
        dr_kv_add(p, name, s);
    }
    return n;
}

/* ---- tags ---------------------------------------------------------------- */

void net_tag_spec(dr_kvlist *p, int n, const char *resource_type, json_t *tags)
{
    if (!json_is_array(tags) || json_array_size(tags) == 0)
        return;
    char name[96];
    snprintf(name, sizeof(name), "TagSpecification.%d.ResourceType", n);
    dr_kv_add(p, name, resource_type);
    size_t i;
    json_t *t;
    int k = 0;
    json_array_foreach(tags, i, t)
    {
        const char *key = json_string_value(json_object_get(t, "Key"));
        const char *val = json_string_value(json_object_get(t, "Value"));
        if (!key)
            continue;
        k++;
        snprintf(name, sizeof(name), "TagSpecification.%d.Tag.%d.Key", n, k);
        dr_kv_add(p, name, key);
        snprintf(name, sizeof(name), "TagSpecification.%d.Tag.%d.Value", n, k);
        dr_kv_add(p, name, val ? val : "");
    }
}

void net_filter(dr_kvlist *p, int *k, const char *name, const char *value)
{
    char key[64];
    (*k)++;
    snprintf(key, sizeof(key), "Filter.%d.Name", *k);
    dr_kv_add(p, key, name);
    snprintf(key, sizeof(key), "Filter.%d.Value.1", *k);
    dr_kv_add(p, key, value);
}

void net_tag_filters(dr_apply_ctx *c, dr_kvlist *p, const char *logical_id, int *k)
{
    net_filter(p, k, "tag:drctl:stack", c->stack);
    net_filter(p, k, "tag:drctl:logical-id", logical_id);
}

char *net_tag_value(xmlNodePtr item, const char *key)
{
    for (xmlNodePtr t = dr_xml_find(item, "tagSet/item"); t; t = dr_xml_next_same(t)) {
        char *k = dr_xml_text(t, "key");
        int hit = k && strcmp(k, key) == 0;
        free(k);
        if (hit) {
            char *v = dr_xml_text(t, "value");
            return v ? v : dr_xstrdup("");
        }
    }
    return NULL;
}

int net_tags_match(dr_apply_ctx *c, xmlNodePtr item, const char *logical_id)
{
    if (!c->stack || !logical_id)
        return 0;
    char *s = net_tag_value(item, "drctl:stack");
    char *l = net_tag_value(item, "drctl:logical-id");
    int ok = s && l && strcmp(s, c->stack) == 0 && strcmp(l, logical_id) == 0;
    free(s);
    free(l);
    return ok;
}

static const char *tag_in(json_t *tags, const char *key)
{
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        if (k && strcmp(k, key) == 0) {
            const char *v = json_string_value(json_object_get(t, "Value"));
            return v ? v : "";
        }
    }
    return NULL;
}

int net_update_tags(dr_apply_ctx *c, const char *id, json_t *old_tags, json_t *new_tags,
                    dr_err *err)
{
    dr_kvlist add = DR_KVLIST_INIT, del = DR_KVLIST_INIT;
    int nadd = 0, ndel = 0;
    char name[64];
    size_t i;
    json_t *t;
    json_array_foreach(new_tags, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        const char *v = json_string_value(json_object_get(t, "Value"));
        if (!k)
            continue;
        const char *was = tag_in(old_tags, k);
        if (was && strcmp(was, v ? v : "") == 0)
            continue;
        nadd++;
        snprintf(name, sizeof(name), "Tag.%d.Key", nadd);
        dr_kv_add(&add, name, k);
        snprintf(name, sizeof(name), "Tag.%d.Value", nadd);
        dr_kv_add(&add, name, v ? v : "");
    }
    json_array_foreach(old_tags, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        if (!k || tag_in(new_tags, k))
            continue;
        ndel++;
        snprintf(name, sizeof(name), "Tag.%d.Key", ndel);
        dr_kv_add(&del, name, k);
    }
    int rc = 0;
    if (nadd) {
        dr_kv_add(&add, "ResourceId.1", id);
        rc = net_ec2(c, "CreateTags", &add, NULL, err);
    }
    if (rc == 0 && ndel) {
        dr_kv_add(&del, "ResourceId.1", id);
        rc = net_ec2(c, "DeleteTags", &del, NULL, err);
    }
    dr_kv_free(&add);
    dr_kv_free(&del);
    return rc;
}

/* ---- reading answers ----------------------------------------------------- */

xmlNodePtr net_root(xmlDocPtr doc)
{
    return doc ? xmlDocGetRootElement(doc) : NULL;
}

json_t *net_json_text(xmlNodePtr n, const char *path)
{
    char *s = dr_xml_text(n, path);
    if (!s)
        return NULL;
    json_t *j = json_string(s);
    free(s);
    return j;
}

int net_xml_bool(xmlNodePtr n, const char *path, int dflt)
{
    char *s = dr_xml_text(n, path);
    int v = s ? strcmp(s, "true") == 0 : dflt;
    free(s);
    return v;
}

json_t *net_json_bool(xmlNodePtr n, const char *path)
{
    char *s = dr_xml_text(n, path);
    if (!s)
        return NULL;
    json_t *j = json_boolean(strcmp(s, "true") == 0);
    free(s);
    return j;
}

json_t *net_json_int(xmlNodePtr n, const char *path)
{
    char *s = dr_xml_text(n, path);
    if (!s)
        return NULL;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    json_t *j = (*s && !*end) ? json_integer(v) : NULL;
    free(s);
    return j;
}

int net_xml_eq(xmlNodePtr n, const char *path, const char *want)
{
    char *s = dr_xml_text(n, path);
    int eq = s && strcmp(s, want) == 0;
    free(s);
    return eq;
}

json_t *net_xml_list(xmlNodePtr n, const char *items_path, const char *field)
{
    json_t *a = json_array();
    for (xmlNodePtr it = dr_xml_find(n, items_path); it; it = dr_xml_next_same(it)) {
        char *s = field ? dr_xml_text(it, field) : (char *)xmlNodeGetContent(it);
        if (s && *s)
            json_array_append_new(a, json_string(s));
        if (field)
            free(s);
        else
            xmlFree(s);
    }
    return a;
}

static int str_in_array(json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        const char *x = json_string_value(v);
        if (x && strcmp(x, s) == 0)
            return 1;
    }
    return 0;
}

json_t *net_order_like(json_t *live, json_t *want)
{
    if (!json_is_array(live) || !json_is_array(want) ||
        json_array_size(live) != json_array_size(want))
        return live;
    size_t i;
    json_t *v;
    json_array_foreach(want, i, v)
    {
        const char *s = json_string_value(v);
        if (!s || !str_in_array(live, s))
            return live;
    }
    json_decref(live);
    return json_deep_copy(want);
}

/* Calls one Describe page after page; cb sees every item. cb: 0 next, 1
 * take this item and stop, 2 take this item if none was taken yet and go
 * on (to count the rest), -1 error. The taken item's page is returned in
 * *keep (caller frees). */
typedef int (*page_item_fn)(dr_apply_ctx *c, xmlNodePtr item, void *ud);

static int describe_pages(dr_apply_ctx *c, const char *action, const dr_kvlist *params,
                          const char *items_path, page_item_fn cb, void *ud, xmlDocPtr *keep,
                          xmlNodePtr *keep_item, dr_err *err)
{
    char *next = NULL;
    int rc = 0;
    /* A bound on pages: a misbehaving endpoint that keeps answering with a
     * token must not loop forever. */
    for (int page = 0; page < 1000; page++) {
        dr_kvlist p = DR_KVLIST_INIT;
        if (params)
            dr_kv_copy(&p, params);
        if (next)
            dr_kv_add(&p, "NextToken", next);
        free(next);
        next = NULL;
        xmlDocPtr doc = NULL;
        rc = net_ec2(c, action, &p, &doc, err);
        dr_kv_free(&p);
        if (rc != 0)
            break;
        xmlNodePtr root = net_root(doc);
        int stop = 0, kept = 0;
        for (xmlNodePtr it = dr_xml_find(root, items_path); it && !stop;
             it = dr_xml_next_same(it)) {
            int r = cb(c, it, ud);
            if (r < 0) {
                rc = -1;
                stop = 1;
            } else if (r > 0 && keep && !*keep_item) {
                *keep_item = it;
                kept = 1;
            }
            if (r == 1)
                stop = 1;
        }
        if (!stop)
            next = dr_xml_text(root, "nextToken");
        if (kept)
            *keep = doc;
        else
            xmlFreeDoc(doc);
        if (stop || !next || !*next)
            break;
    }
    free(next);
    if (rc != 0 && keep && *keep) {
        xmlFreeDoc(*keep);
        *keep = NULL;
        *keep_item = NULL;
    }
    return rc;
}

typedef struct match_ud {
    net_match_fn match;
    void *ud;
    int count;
} match_ud;

static int first_cb(dr_apply_ctx *c, xmlNodePtr item, void *ud)
{
    match_ud *m = ud;
    return !m->match || m->match(c, item, m->ud) ? 1 : 0;
}

/* Counts matches and takes the first. */
static int count_cb(dr_apply_ctx *c, xmlNodePtr item, void *ud)
{
    match_ud *m = ud;
    if (m->match && !m->match(c, item, m->ud))
        return 0;
    m->count++;
    return 2;
}

int net_describe_find(dr_apply_ctx *c, const char *action, const dr_kvlist *params,
                      const char *items_path, net_match_fn match, void *ud, xmlDocPtr *doc,
                      xmlNodePtr *item, dr_err *err)
{
    *doc = NULL;
    *item = NULL;
    match_ud m = {match, ud, 0};
    return describe_pages(c, action, params, items_path, first_cb, &m, doc, item, err);
}

typedef struct tagged_ud {
    const char *logical_id;
    const char *state_path;
    const char *const *dead;
} tagged_ud;

static int str_in(const char *s, const char *const *set)
{
    /* EC2 spells endpoint states in either case ("available" on the wire,
     * "Available" in the API model). */
    for (; set && *set; set++)
        if (s && strcasecmp(s, *set) == 0)
            return 1;
    return 0;
}

static int tagged_match(dr_apply_ctx *c, xmlNodePtr item, void *ud)
{
    tagged_ud *t = ud;
    if (!net_tags_match(c, item, t->logical_id))
        return 0;
    if (!t->state_path)
        return 1;
    char *st = dr_xml_text(item, t->state_path);
    int live = !str_in(st, t->dead);
    free(st);
    return live;
}

int net_find_tagged(dr_apply_ctx *c, const char *action, const char *items_path,
                    const char *logical_id, const char *state_path, const char *const *dead_states,
                    xmlDocPtr *doc, xmlNodePtr *item, dr_err *err)
{
    *doc = NULL;
    *item = NULL;
    if (!c->stack || !logical_id)
        return 0; /* nothing to look with */
    dr_kvlist p = DR_KVLIST_INIT;
    int k = 0;
    net_tag_filters(c, &p, logical_id, &k);
    tagged_ud t = {logical_id, state_path, dead_states};
    match_ud m = {tagged_match, &t, 0};
    *doc = NULL;
    *item = NULL;
    int rc = describe_pages(c, action, &p, items_path, count_cb, &m, doc, item, err);
    dr_kv_free(&p);
    if (rc == 0 && m.count > 1)
        dr_warn(c->log,
                "%d resources carry the tags drctl:stack=%s drctl:logical-id=%s (%s); using the "
                "first: delete the others by hand",
                m.count, c->stack, logical_id, action);
    return rc;
}

int net_describe_one(dr_apply_ctx *c, const char *action, const char *id_param, const char *id,
                     const char *items_path, xmlDocPtr *doc, xmlNodePtr *item, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, id_param, id);
    *doc = NULL;
    *item = NULL;
    int rc = net_ec2(c, action, &p, doc, err);
    dr_kv_free(&p);
    if (rc != 0) {
        if (!net_err_not_found(err))
            return -1;
        dr_err_clear(err);
        return 0;
    }
    *item = dr_xml_find(net_root(*doc), items_path);
    return 0;
}

/* ---- waiting ------------------------------------------------------------- */

static int state_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    const net_state_wait *w = ud;
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, w->id_param, w->id);
    xmlDocPtr doc = NULL;
    int rc = net_ec2(c, w->action, &p, &doc, err);
    dr_kv_free(&p);
    if (rc != 0) {
        if (w->gone_ok && net_err_not_found(err)) {
            dr_err_clear(err);
            return 1;
        }
        return -1;
    }
    xmlNodePtr item = dr_xml_find(net_root(doc), w->items_path);
    int out;
    if (!item) {
        out = w->gone_ok ? 1 : 0;
    } else {
        char *st = dr_xml_text(item, w->state_path);
        if (str_in(st, w->ok)) {
            out = 1;
        } else if (str_in(st, w->bad)) {
            char *why = w->fail_msg_path ? dr_xml_text(item, w->fail_msg_path) : NULL;
            dr_err_set(err, DR_E_AWS, "%s %s is %s%s%s", w->action, w->id, st,
                       why && *why ? ": " : "", why && *why ? why : "");
            free(why);
            out = -1;
        } else {
            out = 0;
        }
        free(st);
    }
    xmlFreeDoc(doc);
    return out;
}

int net_wait_state(dr_apply_ctx *c, const net_state_wait *w, dr_err *err)
{
    return dr_wait(c, w->what, w->default_timeout_s, state_check, (void *)w, err);
}

typedef struct busy_ud {
    const char *const *busy;
    net_attempt_fn attempt;
    void *ud;
    dr_err last; /* the last busy answer, to report if time runs out */
} busy_ud;

static int busy_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    busy_ud *b = ud;
    if (b->attempt(c, b->ud, err) == 0)
        return 1;
    if (err->has_aws && str_in(err->aws.code, b->busy)) {
        dr_debug(c->log, "%s: %s, trying again", err->aws.code, err->aws.message);
        b->last = *err;
        dr_err_clear(err);
        return 0;
    }
    return -1;
}

int net_retry_busy(dr_apply_ctx *c, const char *what, long default_timeout_s,
                   const char *const *busy, net_attempt_fn attempt, void *ud, dr_err *err)
{
    busy_ud *b = dr_xcalloc(1, sizeof(*b));
    b->busy = busy;
    b->attempt = attempt;
    b->ud = ud;
    dr_err_clear(&b->last);
    int rc = dr_wait(c, what, default_timeout_s, busy_check, b, err);
    if (rc != 0 && b->last.has_aws && !err->has_aws) {
        /* Timed out: what AWS kept saying is the useful part. */
        char msg[sizeof(err->msg)], hint[sizeof(err->hint)];
        snprintf(msg, sizeof(msg), "%s", err->msg);
        snprintf(hint, sizeof(hint), "%s", err->hint);
        *err = b->last;
        dr_err_wrap(err, "%s", msg);
        if (hint[0])
            dr_err_hint(err, "%s", hint);
    }
    free(b);
    return rc;
}

/* ---- results ------------------------------------------------------------- */

void net_live_set(dr_live *out, const char *phys, json_t *attrs, json_t *props)
{
    free(out->physical_id);
    json_decref(out->attributes);
    json_decref(out->properties);
    out->physical_id = phys ? dr_xstrdup(phys) : NULL;
    out->attributes = attrs;
    out->properties = props;
}

/* ---- pure helpers -------------------------------------------------------- */

int net_split_id(const char *id, char **a, char **b)
{
    *a = *b = NULL;
    const char *bar = id ? strchr(id, '|') : NULL;
    if (!bar || bar == id || !bar[1])
        return -1;
    *a = dr_xstrndup(id, (size_t)(bar - id));
    *b = dr_xstrdup(bar + 1);
    return 0;
}

const char *net_route_dest_param(const char *dest)
{
    if (strncmp(dest, "pl-", 3) == 0)
        return "DestinationPrefixListId";
    if (strchr(dest, ':'))
        return "DestinationIpv6CidrBlock";
    return "DestinationCidrBlock";
}
