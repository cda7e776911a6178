/*
 * res_data_util.c - helpers the data family's handlers share: property
 * values in the shapes the model writes them, query parameters, tags,
 * Secrets Manager dynamic references, the database URL.
 *
 * Nothing here keeps state: handlers run on several threads at once.
 */
#include <ctype.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws/xml.h"
#include "stack/res_data_int.h"
#include "util/mem.h"

/* ---- property values ---------------------------------------------------- */

char *dr_data_scalar(const json_t *v)
{
    if (json_is_string(v))
        return dr_xstrdup(json_string_value(v));
    if (json_is_integer(v))
        return dr_xasprintf("%lld", (long long)json_integer_value(v));
    if (json_is_boolean(v))
        return dr_xstrdup(json_is_true(v) ? "true" : "false");
    if (json_is_real(v))
        return dr_xasprintf("%g", json_real_value(v));
    return NULL;
}

const char *dr_data_str(const json_t *props, const char *key)
{
    return json_string_value(json_object_get(props, key));
}

int dr_data_bool(const json_t *props, const char *key, int *out)
{
    const json_t *v = json_object_get(props, key);
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 1;
    }
    if (json_is_integer(v)) {
        *out = json_integer_value(v) != 0;
        return 1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcasecmp(s, "true") == 0) {
            *out = 1;
            return 1;
        }
        if (strcasecmp(s, "false") == 0) {
            *out = 0;
            return 1;
        }
    }
    return 0;
}

int dr_data_int(const json_t *props, const char *key, long long *out)
{
    const json_t *v = json_object_get(props, key);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        if (*s && end && *end == '\0' && errno == 0) {
            *out = n;
            return 1;
        }
    }
    return 0;
}

json_t *dr_data_like(const json_t *like, const char *text)
{
    if (!text)
        return NULL;
    if (json_is_boolean(like)) {
        if (strcasecmp(text, "true") == 0 || strcmp(text, "enabled") == 0)
            return json_true();
        if (strcasecmp(text, "false") == 0 || strcmp(text, "disabled") == 0)
            return json_false();
        return NULL;
    }
    if (json_is_integer(like)) {
        char *end = NULL;
        errno = 0;
        long long n = strtoll(text, &end, 10);
        if (!*text || !end || *end || errno)
            return NULL;
        return json_integer(n);
    }
    return json_string(text);
}

int dr_data_changed(const json_t *a, const json_t *b, const char *key)
{
    const json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
    if (!x && !y)
        return 0;
    if (!x || !y)
        return 1;
    return !json_equal(x, y);
}

void dr_data_live_put(json_t *live, const json_t *props, const char *key, const char *text)
{
    const json_t *want = json_object_get(props, key);
    if (!want || !text)
        return;
    json_t *v = dr_data_like(want, text);
    if (v)
        json_object_set_new(live, key, v);
}

static int in_array(const json_t *arr, const json_t *v)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) if (json_equal(x, v)) return 1;
    return 0;
}

json_t *dr_data_same_set(const json_t *model_list, json_t *live_list)
{
    if (json_is_array(model_list) && json_array_size(model_list) == json_array_size(live_list)) {
        int same = 1;
        size_t i;
        json_t *x;
        json_array_foreach(model_list, i, x) same &= in_array(live_list, x);
        json_array_foreach(live_list, i, x) same &= in_array(model_list, x);
        if (same) {
            json_decref(live_list);
            return json_deep_copy(model_list);
        }
    }
    return live_list;
}

/* ---- query parameters --------------------------------------------------- */

int dr_data_add_list(dr_kvlist *p, const char *prefix, const json_t *list, const char *what,
                     dr_err *err)
{
    if (!list)
        return 0;
    if (!json_is_array(list))
        return dr_err_set(err, DR_E_CONFIG, "%s must be a list of strings", what);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (!json_is_string(v))
            return dr_err_set(err, DR_E_CONFIG, "%s must be a list of strings", what);
        char name[160];
        snprintf(name, sizeof(name), "%s.%zu", prefix, i + 1);
        dr_kv_add(p, name, json_string_value(v));
    }
    return 0;
}

void dr_data_add_tags(dr_kvlist *p, const char *prefix, const json_t *tags)
{
    size_t i, n = 0;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        const char *v = json_string_value(json_object_get(t, "Value"));
        if (!k)
            continue;
        n++;
        char name[160];
        snprintf(name, sizeof(name), "%s.%zu.Key", prefix, n);
        dr_kv_add(p, name, k);
        snprintf(name, sizeof(name), "%s.%zu.Value", prefix, n);
        dr_kv_add(p, name, v ? v : "");
    }
}

void dr_data_kv_free_secret(dr_kvlist *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].value)
            dr_secure_zero(p->items[i].value, strlen(p->items[i].value));
    dr_kv_free(p);
}

/* ---- tags ---------------------------------------------------------------- */

static const char *tag_value(const json_t *tags, const char *key)
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

int dr_data_tags_owner(const json_t *tags, const char *stack, const char *logical_id, char **other)
{
    const char *s = tag_value(tags, "drctl:stack");
    const char *l = tag_value(tags, "drctl:logical-id");
    if (other)
        *other = NULL;
    if (!s && !l)
        return 0;
    if (s && l && strcmp(s, stack) == 0 && strcmp(l, logical_id) == 0)
        return 1;
    if (other)
        *other = dr_xasprintf("stack %s, logical id %s", s ? s : "(none)", l ? l : "(none)");
    return -1;
}

json_t *dr_data_xml_tags(xmlNodePtr parent)
{
    json_t *tags = json_array();
    for (xmlNodePtr t = dr_xml_find(parent, "Tag"); t; t = dr_xml_next_same(t)) {
        char *k = dr_xml_text(t, "Key"), *v = dr_xml_text(t, "Value");
        if (k)
            json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", k, "Value", v ? v : ""));
        free(k);
        free(v);
    }
    return tags;
}

int dr_data_retag(dr_apply_ctx *c, const char *service, const char *arn, const json_t *old_tags,
                  const json_t *new_tags, dr_err *err)
{
    /* Removed keys first, then the new set (which also overwrites values
     * that changed): both calls are idempotent, so a retried update is
     * harmless. */
    dr_kvlist rm = DR_KVLIST_INIT;
    size_t i, n = 0;
    json_t *t;
    json_array_foreach(old_tags, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        if (!k || tag_value(new_tags, k))
            continue;
        char name[64];
        snprintf(name, sizeof(name), "TagKeys.member.%zu", ++n);
        dr_kv_add(&rm, name, k);
    }
    int rc = 0;
    if (n) {
        dr_kv_add(&rm, "ResourceName", arn);
        rc = dr_aws_query(c->aws, service, c->region, "RemoveTagsFromResource", &rm, NULL, err);
    }
    dr_kv_free(&rm);
    if (rc != 0 || json_array_size(new_tags) == 0)
        return rc;
    dr_kvlist add = DR_KVLIST_INIT;
    dr_kv_add(&add, "ResourceName", arn);
    dr_data_add_tags(&add, "Tags.Tag", new_tags);
    rc = dr_aws_query(c->aws, service, c->region, "AddTagsToResource", &add, NULL, err);
    dr_kv_free(&add);
    return rc;
}

int dr_data_not_ours(dr_err *err, const char *what, const char *name, const char *stack,
                     const char *logical_id, const char *other)
{
    if (other)
        dr_err_set(err, DR_E_CONFIG, "%s %s exists but is tagged for %s, not stack %s, %s", what,
                   name, other, stack, logical_id);
    else
        dr_err_set(err, DR_E_CONFIG,
                   "%s %s exists but carries no drctl tags: it was not made by drctl for stack "
                   "%s, %s",
                   what, name, stack, logical_id);
    return dr_err_hint(err,
                       "drctl does not take over what it did not make: delete or rename it, or "
                       "tag it drctl:stack=%s and drctl:logical-id=%s if it is really this one",
                       stack, logical_id);
}

/* ---- AWS errors ---------------------------------------------------------- */

int dr_data_code_is(const dr_err *err, const char *code)
{
    return err->has_aws && *err->aws.code && strncmp(err->aws.code, code, strlen(code)) == 0;
}

/* ---- secrets ------------------------------------------------------------- */

#define DYNREF_PREFIX "{{resolve:secretsmanager:"

int dr_data_is_dynref(const char *s)
{
    return s && strncmp(s, DYNREF_PREFIX, strlen(DYNREF_PREFIX)) == 0;
}

void dr_data_dynref_free(dr_data_dynref *r)
{
    free(r->buf);
    memset(r, 0, sizeof(*r));
}

/* The n-th ':'-separated field start after p, or NULL. */
static char *skip_fields(char *p, int n)
{
    for (int i = 0; i < n && p; i++) {
        p = strchr(p, ':');
        if (p)
            p++;
    }
    return p;
}

int dr_data_dynref_parse(const char *s, dr_data_dynref *out, dr_err *err)
{
    memset(out, 0, sizeof(*out));
    size_t len = s ? strlen(s) : 0;
    size_t plen = strlen(DYNREF_PREFIX);
    if (!dr_data_is_dynref(s) || len < plen + 3 || strcmp(s + len - 2, "}}") != 0)
        return dr_err_set(err, DR_E_CONFIG, "not a Secrets Manager dynamic reference: %s",
                          s ? s : "(null)");
    out->buf = dr_xstrndup(s + plen, len - plen - 2);
    char *id = out->buf;
    /* An ARN has six colons of its own:
     * arn:partition:secretsmanager:region:account:secret:name-XXXXXX. */
    char *rest = strncmp(id, "arn:", 4) == 0 ? skip_fields(id, 6) : id;
    if (!rest) {
        dr_data_dynref_free(out);
        return dr_err_set(err, DR_E_CONFIG, "malformed secret ARN in dynamic reference %s", s);
    }
    char *colon = strchr(rest, ':');
    out->secret_id = id;
    if (!colon) {
        if (*id)
            return 0;
        dr_data_dynref_free(out);
        return dr_err_set(err, DR_E_CONFIG, "empty secret id in dynamic reference %s", s);
    }
    *colon = '\0';
    char *f[4] = {colon + 1, NULL, NULL, NULL};
    for (int i = 1; i < 4; i++) {
        char *c2 = strchr(f[i - 1], ':');
        if (!c2)
            break;
        *c2 = '\0';
        f[i] = c2 + 1;
    }
    if (!*id || strcmp(f[0], "SecretString") != 0 || strchr(f[3] ? f[3] : "", ':')) {
        dr_data_dynref_free(out);
        return dr_err_set(err, DR_E_CONFIG,
                          "malformed dynamic reference %s: expected "
                          "{{resolve:secretsmanager:ID:SecretString:KEY:STAGE:VERSION}}",
                          s);
    }
    out->json_key = f[1] && *f[1] ? f[1] : NULL;
    out->stage = f[2] && *f[2] ? f[2] : NULL;
    out->version_id = f[3] && *f[3] ? f[3] : NULL;
    return 0;
}

void dr_data_json_free_secret(json_t *v)
{
    if (!v)
        return;
    if (json_is_string(v)) {
        dr_secure_zero((char *)json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) dr_data_json_free_secret(json_incref(x));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) dr_data_json_free_secret(json_incref(x));
    }
    json_decref(v);
}

int dr_data_dynref_resolve(dr_apply_ctx *c, const char *ref, char **value, dr_err *err)
{
    *value = NULL;
    dr_data_dynref r;
    if (dr_data_dynref_parse(ref, &r, err) != 0)
        return -1;
    json_t *in = json_pack("{s:s}", "SecretId", r.secret_id);
    if (r.version_id)
        json_object_set_new(in, "VersionId", json_string(r.version_id));
    else if (r.stage)
        json_object_set_new(in, "VersionStage", json_string(r.stage));
    json_t *out = NULL;
    int rc = dr_aws_json(c->aws, "secretsmanager", c->region, "GetSecretValue", in, &out, err);
    json_decref(in);
    if (rc != 0) {
        dr_data_dynref_free(&r);
        return -1;
    }
    const char *ss = json_string_value(json_object_get(out, "SecretString"));
    if (!ss) {
        rc = dr_err_set(err, DR_E_CONFIG, "secret %s has no SecretString", r.secret_id);
    } else if (!r.json_key) {
        *value = dr_xstrdup(ss);
    } else {
        json_t *j = json_loads(ss, 0, NULL);
        const char *v = json_string_value(json_object_get(j, r.json_key));
        if (!json_is_object(j))
            rc = dr_err_set(err, DR_E_CONFIG, "secret %s does not hold a JSON object", r.secret_id);
        else if (!v || !*v)
            rc = dr_err_set(err, DR_E_CONFIG, "secret %s has no string \"%s\"", r.secret_id,
                            r.json_key);
        else
            *value = dr_xstrdup(v);
        dr_data_json_free_secret(j);
    }
    dr_data_json_free_secret(out);
    if (rc != 0)
        dr_err_hint(err, "write the value with: aws secretsmanager put-secret-value --secret-id %s",
                    r.secret_id);
    dr_data_dynref_free(&r);
    return rc;
}

void dr_data_uuid(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1) {
        /* Only an idempotency token: uniqueness matters, not secrecy. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned seed = (unsigned)ts.tv_nsec ^ (unsigned)ts.tv_sec ^ (unsigned)(uintptr_t)out;
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)rand_r(&seed);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* ---- the database URL ----------------------------------------------------- */

static void pct_encode(dr_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            dr_buf_putc(b, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            dr_buf_append(b, e, 3);
        }
    }
}

char *dr_data_pg_url(const char *user, const char *password, const char *host, long port,
                     const char *dbname)
{
    dr_buf b = DR_BUF_INIT;
    dr_buf_puts(&b, "postgresql://");
    pct_encode(&b, user ? user : "");
    if (password) {
        dr_buf_putc(&b, ':');
        pct_encode(&b, password);
    }
    dr_buf_putc(&b, '@');
    /* A host is a DNS name or an IP address: nothing to encode, but an IPv6
     * literal needs its brackets. */
    if (host && strchr(host, ':') && host[0] != '[')
        dr_buf_printf(&b, "[%s]", host);
    else
        dr_buf_puts(&b, host ? host : "");
    dr_buf_printf(&b, ":%ld/", port);
    pct_encode(&b, dbname ? dbname : "");
    char *s = dr_xstrdup(dr_buf_cstr(&b));
    dr_buf_free_secret(&b);
    return s;
}

char *dr_data_final_snapshot_id(const char *id, time_t when)
{
    struct tm tm;
    gmtime_r(&when, &tm);
    char ts[16];
    strftime(ts, sizeof(ts), "%Y%m%d%H%M%S", &tm);
    return dr_xasprintf("%s-final-%s", id, ts);
}

/* ---- XML ------------------------------------------------------------------ */

int dr_data_xml_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
            return 0;
    return 1;
}

void dr_data_xml_escape(dr_buf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&':
            dr_buf_puts(b, "&amp;");
            break;
        case '<':
            dr_buf_puts(b, "&lt;");
            break;
        case '>':
            dr_buf_puts(b, "&gt;");
            break;
        case '"':
            dr_buf_puts(b, "&quot;");
            break;
        case '\'':
            dr_buf_puts(b, "&apos;");
            break;
        case '\r':
            dr_buf_puts(b, "&#13;");
            break;
        default:
            dr_buf_putc(b, *p);
        }
    }
}
