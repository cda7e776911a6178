/*
 * restore_secrets.c - the sealed secrets into the target's secrets
 * (restore.h). Values live in memory only, are zeroed after use and never
 * reach a log line or an error message (messages name logical ids and ARNs).
 */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "aws/client_internal.h"
#include "restore/restore_int.h"
#include "util/mem.h"

/* Members of a JSON secret that locate the target's own database: always
 * the target's (absent when the target has none). */
static const char *const KEEP[] = {"host", "port", "url"};

static void wipe_json(json_t *j)
{
    if (!j)
        return;
    if (json_is_string(j)) {
        char *s = (char *)json_string_value(j);
        dr_secure_zero(s, strlen(s));
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) wipe_json(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) wipe_json(v);
    }
}

static void json_free_secret(json_t *j)
{
    if (j && j->refcount == 1)
        wipe_json(j);
    json_decref(j);
}

static void uuid4(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        memset(b, 0x5a, sizeof(b)); /* only an idempotency token */
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* RFC 3986 userinfo encoding (unreserved kept). */
static void pct(dr_buf *b, const char *s)
{
    static const char hexd[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            dr_buf_putc(b, (char)*p);
        } else {
            dr_buf_putc(b, '%');
            dr_buf_putc(b, hexd[*p >> 4]);
            dr_buf_putc(b, hexd[*p & 15]);
        }
    }
}

/* "scheme://user:pass@rest" with user:pass replaced; NULL when url has no
 * such form (then it is kept as it is). Caller dr_free_secret()s. */
static char *url_with_credentials(const char *url, const char *user, const char *pw)
{
    const char *p = strstr(url, "://");
    if (!p)
        return NULL;
    const char *auth = p + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *q = auth; q < auth + alen; q++)
        if (*q == '@')
            at = q;
    if (!at)
        return NULL;
    dr_buf b = DR_BUF_INIT;
    dr_buf_append(&b, url, (size_t)(auth - url));
    pct(&b, user);
    if (pw) {
        dr_buf_putc(&b, ':');
        pct(&b, pw);
    }
    dr_buf_puts(&b, at);
    char *s = dr_xstrdup(dr_buf_cstr(&b));
    dr_buf_free_secret(&b);
    return s;
}

/*
 * The value to write: the bundle's, except for JSON objects, where host,
 * port and url are the target's (its url with the restored credentials), and
 * members only the target has stay. Returns a new JSON (caller
 * json_free_secret) or NULL when the value is not a JSON object pair.
 */
static json_t *merge(const char *want, size_t wn, const char *have)
{
    json_t *w = json_loadb(want, wn, 0, NULL);
    json_t *h = have ? json_loads(have, 0, NULL) : NULL;
    if (!json_is_object(w) || !json_is_object(h)) {
        json_free_secret(w);
        json_free_secret(h);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(KEEP) / sizeof(KEEP[0]); i++) {
        wipe_json(json_object_get(w, KEEP[i]));
        json_object_del(w, KEEP[i]);
    }
    const char *k;
    json_t *v;
    json_object_foreach(h, k, v)
    {
        if (!json_object_get(w, k)) /* a kept member, or one the bundle lacks */
            json_object_set_new(w, k, json_deep_copy(v)); /* h is wiped below */
    }
    const char *url = json_string_value(json_object_get(h, "url"));
    if (url) {
        const char *user = json_string_value(json_object_get(w, "username"));
        const char *pw = json_string_value(json_object_get(w, "password"));
        char *nu = user ? url_with_credentials(url, user, pw) : NULL;
        json_object_set_new(w, "url", json_string(nu ? nu : url));
        if (nu)
            dr_free_secret(nu);
    }
    json_free_secret(h);
    return w;
}

typedef struct sctx {
    dr_aws *aws;
    const char *region;
    const json_t *res;
    const dr_log *log;
    size_t restored, unchanged;
} sctx;

static const char *arn_of(const json_t *resources, const char *name)
{
    return json_string_value(json_object_get(json_object_get(resources, name), "physical_id"));
}

static int one_secret(void *ud, const char *name, const unsigned char *value, size_t n, dr_err *err)
{
    sctx *s = ud;
    const char *arn = arn_of(s->res, name);
    if (!arn)
        return dr_err_set(err, DR_E_NOT_FOUND, "the target has no secret %s", name);
    json_t *in = json_pack("{s:s}", "SecretId", arn), *out = NULL;
    int rc = dr_aws_json(s->aws, "secretsmanager", s->region, "GetSecretValue", in, &out, err);
    json_decref(in);
    if (rc != 0) {
        if (err->has_aws && strcmp(err->aws.code, "ResourceNotFoundException") == 0) {
            err->code = DR_E_NOT_FOUND;
            dr_err_hint(err, "deploy the target region first (drctl deploy %s)", s->region);
        }
        return dr_err_wrap(err, "reading the target's secret %s (%s)", name, arn);
    }
    const char *cur_s = json_string_value(json_object_get(out, "SecretString"));
    const char *cur_b64 = json_string_value(json_object_get(out, "SecretBinary"));
    json_t *merged = merge((const char *)value, n, cur_s);
    char *put_s = NULL; /* the SecretString to write, or NULL for binary */
    int same;
    if (merged) {
        json_t *cur = json_loads(cur_s, 0, NULL);
        same = json_equal(merged, cur);
        json_free_secret(cur);
        if (!same)
            put_s = json_dumps(merged, JSON_COMPACT);
        json_free_secret(merged);
    } else if (cur_b64) {
        char *mine = dr_base64(value, n);
        same = strcmp(mine, cur_b64) == 0;
        dr_free_secret(mine);
    } else {
        same = cur_s && strlen(cur_s) == n && memcmp(cur_s, value, n) == 0;
        if (!same) {
            json_t *probe = json_stringn((const char *)value, n); /* NULL unless UTF-8 */
            if (probe && !memchr(value, 0, n)) {
                put_s = dr_xstrndup((const char *)value, n);
            }
            json_free_secret(probe);
        }
    }
    json_free_secret(out);
    if (same) {
        s->unchanged++;
        dr_info(s->log, "secret %s: unchanged", name);
        return 0;
    }
    char token[37];
    uuid4(token);
    json_t *put;
    if (put_s) {
        put = json_pack("{s:s, s:s, s:s}", "SecretId", arn, "ClientRequestToken", token,
                        "SecretString", put_s);
        dr_free_secret(put_s);
    } else {
        char *b64 = dr_base64(value, n);
        put = json_pack("{s:s, s:s, s:s}", "SecretId", arn, "ClientRequestToken", token,
                        "SecretBinary", b64);
        dr_free_secret(b64);
    }
    rc = dr_aws_json(s->aws, "secretsmanager", s->region, "PutSecretValue", put, NULL, err);
    json_free_secret(put);
    if (rc != 0)
        return dr_err_wrap(err, "restoring secret %s (%s)", name, arn);
    s->restored++;
    dr_info(s->log, "secret %s: restored into %s", name, arn);
    return 0;
}

int dr_restore_secrets(dr_restore_chain *c, dr_aws *aws, const char *region,
                       const json_t *target_resources, const dr_log *log, size_t *restored,
                       size_t *unchanged, dr_err *err)
{
    if (restored)
        *restored = 0;
    if (unchanged)
        *unchanged = 0;
    const json_t *names =
        json_object_get(json_object_get(dr_restore_chain_manifest(c), "secrets"), "names");
    /* Every target first: nothing is written when one is missing. */
    dr_buf missing = DR_BUF_INIT;
    size_t n_missing = 0, i;
    const json_t *nm;
    json_array_foreach(names, i, nm)
    {
        const char *name = json_string_value(nm);
        if (name && !arn_of(target_resources, name)) {
            dr_buf_printf(&missing, "%s%s", n_missing ? ", " : "", name);
            n_missing++;
        }
    }
    if (n_missing) {
        dr_err_set(err, DR_E_NOT_FOUND, "the target in %s lacks %zu secret%s of bundle v%llu: %s",
                   region, n_missing, n_missing == 1 ? "" : "s",
                   (unsigned long long)c->b[0].version, dr_buf_cstr(&missing));
        dr_buf_free(&missing);
        return dr_err_hint(err, "deploy the target region first (drctl deploy %s)", region);
    }
    dr_buf_free(&missing);
    sctx s = {.aws = aws, .region = region, .res = target_resources, .log = log};
    int rc = dr_bundle_reader_secrets(c->b[0].r, one_secret, &s, err);
    if (restored)
        *restored = s.restored;
    if (unchanged)
        *unchanged = s.unchanged;
    if (rc == 0)
        dr_notice(log, "secrets from bundle v%llu: %zu restored, %zu unchanged",
                  (unsigned long long)c->b[0].version, s.restored, s.unchanged);
    return rc;
}
