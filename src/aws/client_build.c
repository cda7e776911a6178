/*
 * client_build.c - pure request-building helpers of the AWS client
 * (client_internal.h): form bodies, targets, URLs, ranges, encodings.
 */
#include "aws/client_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/sigv4.h"
#include "util/buf.h"
#include "util/mem.h"

static void put_encoded(dr_buf *b, const char *s, int keep_slash)
{
    char *e = dr_uri_encode(s, strlen(s), keep_slash);
    dr_buf_puts(b, e);
    free(e);
}

/* RFC 3986 encoding, except that a space becomes '+' when `plus_space`:
 * the application/x-www-form-urlencoded rule for request bodies. AWS hashes
 * the body as sent, so either form signs correctly there; moto re-encodes
 * the parsed form with '+' before checking the signature, so '+' is the one
 * spelling both accept. */
static void put_form_encoded(dr_buf *b, const char *s, int plus_space)
{
    char *e = dr_uri_encode(s, strlen(s), 0);
    if (plus_space) {
        for (const char *p = e; *p; p++) {
            if (p[0] == '%' && p[1] == '2' && p[2] == '0') {
                dr_buf_putc(b, '+');
                p += 2;
            } else {
                dr_buf_putc(b, *p);
            }
        }
    } else {
        dr_buf_puts(b, e);
    }
    free(e);
}

static char *encode_pairs(const dr_kvlist *params, int plus_space)
{
    dr_buf b = DR_BUF_INIT;
    for (size_t i = 0; params && i < params->n; i++) {
        if (b.len)
            dr_buf_putc(&b, '&');
        put_form_encoded(&b, params->items[i].name, plus_space);
        dr_buf_putc(&b, '=');
        put_form_encoded(&b, params->items[i].value, plus_space);
    }
    return dr_buf_detach(&b);
}

char *dr_aws_form_encode(const dr_kvlist *params)
{
    return encode_pairs(params, 0);
}

char *dr_aws_form_body(const dr_kvlist *params)
{
    return encode_pairs(params, 1);
}

char *dr_aws_query_body(const char *action, const char *version, const dr_kvlist *params)
{
    dr_kvlist all = DR_KVLIST_INIT;
    dr_kv_add(&all, "Action", action);
    dr_kv_add(&all, "Version", version);
    for (size_t i = 0; params && i < params->n; i++) {
        /* The caller's own Action/Version would make a second, conflicting
         * pair; ours win. */
        if (strcmp(params->items[i].name, "Action") == 0 ||
            strcmp(params->items[i].name, "Version") == 0)
            continue;
        dr_kv_add(&all, params->items[i].name, params->items[i].value);
    }
    char *s = dr_aws_form_body(&all);
    dr_kv_free(&all);
    return s;
}

char *dr_aws_json_target(const dr_service *svc, const char *operation)
{
    return dr_xasprintf("%s.%s", svc->target_prefix ? svc->target_prefix : "", operation);
}

const char *dr_aws_json_content_type(const dr_service *svc)
{
    if (svc->json_version && strcmp(svc->json_version, "1.0") == 0)
        return "application/x-amz-json-1.0";
    return "application/x-amz-json-1.1";
}

int dr_s3_dns_compatible(const char *b)
{
    size_t n = b ? strlen(b) : 0;
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = b[i];
        int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!alnum && ch != '-')
            return 0;
        if ((i == 0 || i == n - 1) && !alnum)
            return 0;
    }
    return 1;
}

void dr_aws_target_free(dr_aws_target *t)
{
    if (!t)
        return;
    free(t->origin);
    free(t->host);
    free(t->path);
    free(t->query);
    free(t->url);
    memset(t, 0, sizeof(*t));
}

int dr_aws_build_target(const dr_service *svc, const dr_endpoint *ep, const char *bucket,
                        const char *path, const dr_kvlist *query, dr_aws_target *out, dr_err *err)
{
    memset(out, 0, sizeof(*out));
    const char *url = ep->url;
    const char *sep = strstr(url, "://");
    if (!sep)
        return dr_err_set(err, DR_E_CONFIG, "endpoint URL '%s' has no scheme", url);
    const char *hostpart = sep + 3;
    const char *slash = strchr(hostpart, '/');
    size_t scheme_len = (size_t)(sep - url);
    const char *base = slash ? slash : "";
    size_t base_len = strlen(base);
    while (base_len > 0 && base[base_len - 1] == '/') /* ".../base/" -> ".../base" */
        base_len--;
    size_t hostport_len = slash ? (size_t)(slash - hostpart) : strlen(hostpart);
    if (hostport_len == 0)
        return dr_err_set(err, DR_E_CONFIG, "endpoint URL '%s' has no host", url);

    int s3 = strcmp(svc->key, "s3") == 0;
    int virt = 0;
    if (s3 && bucket && *bucket && !ep->custom && dr_s3_dns_compatible(bucket))
        virt = 1;

    dr_buf b = DR_BUF_INIT;
    /* origin */
    dr_buf_append(&b, url, scheme_len);
    dr_buf_puts(&b, "://");
    if (virt) {
        dr_buf_puts(&b, bucket);
        dr_buf_putc(&b, '.');
    }
    dr_buf_append(&b, hostpart, hostport_len);
    out->origin = dr_buf_detach(&b);
    /* Host header: what service.c resolved (the URL's host[:port]). */
    if (virt)
        out->host = dr_xasprintf("%s.%s", bucket, ep->host);
    else
        out->host = dr_xstrdup(ep->host);

    /* path */
    dr_buf_append(&b, base, base_len);
    if (s3) {
        if (bucket && *bucket && !virt) {
            dr_buf_putc(&b, '/');
            put_encoded(&b, bucket, 0);
        }
        if (path) {
            dr_buf_putc(&b, '/');
            put_encoded(&b, path, 1);
        }
    } else if (path && *path) {
        if (path[0] != '/')
            dr_buf_putc(&b, '/');
        put_encoded(&b, path, 1);
    }
    if (b.len == 0)
        dr_buf_putc(&b, '/');
    out->path = dr_buf_detach(&b);

    out->query = dr_aws_form_encode(query);
    if (out->query[0])
        out->url = dr_xasprintf("%s%s?%s", out->origin, out->path, out->query);
    else
        out->url = dr_xasprintf("%s%s", out->origin, out->path);
    return 0;
}

static int parse_i64(const char **pp, int64_t *out)
{
    const char *p = *pp;
    if (!isdigit((unsigned char)*p))
        return -1;
    int64_t v = 0;
    while (isdigit((unsigned char)*p)) {
        int d = *p - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        p++;
    }
    *pp = p;
    *out = v;
    return 0;
}

int dr_parse_content_range(const char *v, int64_t *start, int64_t *end, int64_t *total)
{
    if (!v)
        return -1;
    while (*v == ' ')
        v++;
    if (strncasecmp(v, "bytes", 5) != 0)
        return -1;
    v += 5;
    while (*v == ' ' || *v == '=')
        v++;
    if (parse_i64(&v, start) != 0 || *v++ != '-' || parse_i64(&v, end) != 0 || *v++ != '/')
        return -1;
    if (*v == '*') {
        *total = -1;
        v++;
    } else if (parse_i64(&v, total) != 0) {
        return -1;
    }
    while (*v == ' ')
        v++;
    return *v == '\0' && *end >= *start ? 0 : -1;
}

int dr_parse_range(const char *v, int64_t *first, int64_t *last)
{
    if (!v)
        return -1;
    while (*v == ' ')
        v++;
    if (strncasecmp(v, "bytes=", 6) != 0)
        return -1;
    v += 6;
    if (parse_i64(&v, first) != 0 || *v++ != '-')
        return -1;
    if (*v == '\0') {
        *last = -1;
        return 0;
    }
    if (parse_i64(&v, last) != 0 || *v != '\0' || *last < *first)
        return -1;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *dr_url_decode(const char *s, int plus_is_space)
{
    size_t n = strlen(s);
    char *out = dr_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

char *dr_base64(const unsigned char *data, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = dr_xmalloc(4 * ((len + 2) / 3) + 1);
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
        out[o++] = tbl[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)data[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)data[i + 1] << 8;
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}
