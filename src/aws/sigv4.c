/*
 * sigv4.c - AWS Signature Version 4 (see sigv4.h for what it promises).
 *
 * The reference points, in order of authority: the aws-c-auth test suite
 * (shared/sigv4-test-suite, byte for byte, both modes), then botocore (for
 * the S3 rules the suite does not exercise: no path normalization, no
 * second encoding, x-amz-content-sha256 always).
 *
 * Secrets: the secret key only ever enters the "AWS4"+secret buffer and the
 * HMAC chain; each derived key is wiped as soon as the next one exists.
 * Canonical strings contain the session token, so they are wiped too.
 */
#include "aws/sigv4.h"

#include "util/buf.h"
#include "util/mem.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
/* SigV4 caps presigned URLs at seven days. */
#define MAX_EXPIRES 604800L

/* Headers never signed: Authorization is what we compute; the others are
 * hop-by-hop or routinely rewritten by proxies and HTTP stacks (the same
 * list botocore keeps, plus Connection), so signing them only invites
 * SignatureDoesNotMatch. */
static const char *const k_unsigned_headers[] = {
    "authorization", "connection", "expect", "transfer-encoding", "user-agent", "x-amzn-trace-id",
};

/* ---- small helpers ------------------------------------------------------ */

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void put_pct(dr_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    char t[3] = {'%', hex[c >> 4], hex[c & 15]};
    dr_buf_append(b, t, 3);
}

static void uri_encode_into(dr_buf *b, const char *s, size_t len, int keep_slash)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/'))
            dr_buf_putc(b, (char)c);
        else
            put_pct(b, c);
    }
}

char *dr_uri_encode(const char *s, size_t len, int keep_slash)
{
    dr_buf b = DR_BUF_INIT;
    uri_encode_into(&b, s, len, keep_slash);
    return dr_buf_detach(&b);
}

/* Percent-decoding for query components. A '%' not followed by two hex
 * digits is kept literally (and so re-encoded as %25), which is what
 * aws-c-auth does; '+' is a literal plus, not a space, in SigV4. */
static void uri_decode_into(dr_buf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            dr_buf_putc(b, (char)(hi << 4 | lo));
            i += 2;
        } else {
            dr_buf_putc(b, s[i]);
        }
    }
}

/* Canonical form of a query component as sent: decode, then encode exactly
 * once, so "a%20b" and a raw "a b" both sign as "a%20b" (the value the
 * service sees after its own decoding) and "%e1" signs as "%E1". */
static char *query_component(const char *s, size_t len)
{
    dr_buf dec = DR_BUF_INIT;
    uri_decode_into(&dec, s, len);
    char *out = dr_uri_encode(dr_buf_cstr(&dec), dec.len, 0);
    dr_buf_free_secret(&dec);
    return out;
}

static int amz_date(time_t t, char out[17])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year < 70 || tm.tm_year > 8099)
        return -1;
    if (strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        return -1;
    return 0;
}

void dr_amz_date(time_t t, char out[17])
{
    if (amz_date(t, out) != 0)
        memcpy(out, "19700101T000000Z", 17);
}

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void dr_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    /* EVP_Digest of SHA-256 fails only when libcrypto itself is unusable; a
     * wrong hash would be signed silently, so stop like dr_xmalloc does. */
    if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        fprintf(stderr, "drctl: error: OpenSSL SHA-256 failed\n");
        exit(DR_E_INTERNAL);
    }
    to_hex(md, 32, out);
}

static int hmac256(const void *key, size_t keylen, const char *msg, size_t msglen,
                   unsigned char out[32], dr_err *err)
{
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, msglen, out, &n) ||
        n != 32)
        return dr_err_set(err, DR_E_INTERNAL, "sigv4: HMAC-SHA256 failed in OpenSSL");
    return 0;
}

/* ---- canonical path ------------------------------------------------------ */

/* RFC 3986 5.2.4 dot-segment removal plus empty-segment removal, as botocore
 * (utils.remove_dot_segments) and aws-c-auth do it: "//a//b/../c/" -> "/a/c/".
 * A trailing slash survives only if a segment remains before it. */
static void normalize_path(dr_buf *out, const char *path)
{
    size_t len = strlen(path);
    size_t cap = len / 2 + 2;
    const char **seg = dr_xmalloc(cap * sizeof(*seg));
    size_t *seglen = dr_xmalloc(cap * sizeof(*seglen));
    size_t n = 0;

    for (size_t i = 0; i <= len;) {
        size_t j = i;
        while (j < len && path[j] != '/')
            j++;
        size_t sl = j - i;
        if (sl == 0 || (sl == 1 && path[i] == '.')) {
            /* nothing */
        } else if (sl == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (n > 0)
                n--;
        } else {
            seg[n] = path + i;
            seglen[n] = sl;
            n++;
        }
        i = j + 1;
    }

    dr_buf_putc(out, '/');
    for (size_t k = 0; k < n; k++) {
        if (k > 0)
            dr_buf_putc(out, '/');
        dr_buf_append(out, seg[k], seglen[k]);
    }
    if (n > 0 && len > 0 && path[len - 1] == '/')
        dr_buf_putc(out, '/');
    free(seg);
    free(seglen);
}

/* May this byte appear unencoded in an HTTP request-target path (RFC 3986
 * pchar or '/')? '%' is handled by the caller. */
static int is_path_char(unsigned char c)
{
    return is_unreserved(c) || c == '/' || c == ':' || c == '@' || c == '!' || c == '$' ||
           c == '&' || c == '\'' || c == '(' || c == ')' || c == '*' || c == '+' || c == ',' ||
           c == ';' || c == '=';
}

static void canonical_path(dr_buf *cr, const char *path, int normalize)
{
    if (!path || !*path)
        path = "/";
    if (normalize) {
        /* Every service but S3 decodes the path once before computing its
         * own canonical form, so what it signs is the wire path encoded
         * again: '%' becomes %25 here on purpose. */
        dr_buf norm = DR_BUF_INIT;
        normalize_path(&norm, path);
        uri_encode_into(cr, dr_buf_cstr(&norm), norm.len, 1);
        dr_buf_free(&norm);
        return;
    }
    /* S3 signs the path exactly as it travels. Bytes that cannot travel
     * unencoded (space, controls, non-ASCII, a stray '%') are encoded the
     * one way a conforming client would send them; a correctly encoded path
     * (dr_uri_encode with keep_slash) passes through untouched. */
    size_t len = strlen(path);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c == '%' && i + 2 < len && hexval((unsigned char)path[i + 1]) >= 0 &&
            hexval((unsigned char)path[i + 2]) >= 0)
            dr_buf_putc(cr, '%');
        else if (is_path_char(c))
            dr_buf_putc(cr, (char)c);
        else
            put_pct(cr, c);
    }
}

/* ---- canonical query ----------------------------------------------------- */

typedef struct qparam {
    char *key; /* encoded */
    char *val; /* encoded */
} qparam;

typedef struct qlist {
    qparam *items;
    size_t n, cap;
} qlist;

static void qlist_add_owned(qlist *q, char *key, char *val)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 16;
        q->items = dr_xrealloc(q->items, q->cap * sizeof(*q->items));
    }
    q->items[q->n].key = key;
    q->items[q->n].val = val;
    q->n++;
}

static void qlist_free(qlist *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->items[i].key);
        dr_free_secret(q->items[i].val); /* may be the session token */
    }
    free(q->items);
    q->items = NULL;
    q->n = q->cap = 0;
}

static void qlist_parse(qlist *q, const char *query)
{
    if (!query)
        return;
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t plen = amp ? (size_t)(amp - p) : strlen(p);
        if (plen > 0) { /* "a&&b" has no parameter between the '&'s */
            const char *eq = memchr(p, '=', plen);
            size_t klen = eq ? (size_t)(eq - p) : plen;
            const char *v = eq ? eq + 1 : p + plen;
            size_t vlen = eq ? plen - klen - 1 : 0;
            qlist_add_owned(q, query_component(p, klen), query_component(v, vlen));
        }
        if (!amp)
            break;
        p = amp + 1;
    }
}

static int qparam_cmp(const void *a, const void *b)
{
    const qparam *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->val, y->val);
}

static void qlist_canonical(qlist *q, dr_buf *cr)
{
    if (q->n > 1)
        qsort(q->items, q->n, sizeof(*q->items), qparam_cmp);
    for (size_t i = 0; i < q->n; i++) {
        if (i > 0)
            dr_buf_putc(cr, '&');
        dr_buf_puts(cr, q->items[i].key);
        dr_buf_putc(cr, '=');
        dr_buf_puts(cr, q->items[i].val);
    }
}

/* ---- canonical headers --------------------------------------------------- */

typedef struct hent {
    char *lname;
    const char *value;
    size_t order; /* position in the request, to keep repeated headers in order */
} hent;

static int hent_cmp(const void *a, const void *b)
{
    const hent *x = a, *y = b;
    int c = strcmp(x->lname, y->lname);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trimall: leading/trailing whitespace dropped, every inner run (including
 * the CRLF+indent of a folded header line) becomes one space. */
static void put_trimmed(dr_buf *b, const char *v)
{
    int pending = 0, started = 0;
    for (; *v; v++) {
        if (is_ws(*v)) {
            pending = started;
            continue;
        }
        if (pending)
            dr_buf_putc(b, ' ');
        pending = 0;
        started = 1;
        dr_buf_putc(b, *v);
    }
}

static char *lower_trimmed_name(const char *name)
{
    while (is_ws(*name))
        name++;
    size_t len = strlen(name);
    while (len > 0 && is_ws(name[len - 1]))
        len--;
    char *l = dr_xstrndup(name, len);
    for (char *p = l; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return l;
}

static int is_unsigned_header(const char *lname, const char *skip_extra)
{
    for (size_t i = 0; i < sizeof(k_unsigned_headers) / sizeof(k_unsigned_headers[0]); i++)
        if (strcmp(lname, k_unsigned_headers[i]) == 0)
            return 1;
    return skip_extra && strcmp(lname, skip_extra) == 0;
}

/* Appends the canonical header block (each "name:value\n") to cr and the
 * ';'-joined names to signed_headers. */
static void canonical_headers(const dr_kvlist *h, const char *skip_extra, dr_buf *cr,
                              dr_buf *signed_headers)
{
    hent *e = dr_xcalloc(h->n ? h->n : 1, sizeof(*e));
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++) {
        char *l = lower_trimmed_name(h->items[i].name);
        if (!*l || is_unsigned_header(l, skip_extra)) {
            free(l);
            continue;
        }
        e[n].lname = l;
        e[n].value = h->items[i].value ? h->items[i].value : "";
        e[n].order = i;
        n++;
    }
    qsort(e, n, sizeof(*e), hent_cmp);
    for (size_t i = 0; i < n; i++) {
        int first = i == 0 || strcmp(e[i].lname, e[i - 1].lname) != 0;
        int last = i + 1 == n || strcmp(e[i].lname, e[i + 1].lname) != 0;
        if (first) {
            if (signed_headers->len)
                dr_buf_putc(signed_headers, ';');
            dr_buf_puts(signed_headers, e[i].lname);
            dr_buf_puts(cr, e[i].lname);
            dr_buf_putc(cr, ':');
        } else {
            dr_buf_putc(cr, ',');
        }
        put_trimmed(cr, e[i].value);
        if (last)
            dr_buf_putc(cr, '\n');
    }
    for (size_t i = 0; i < n; i++)
        free(e[i].lname);
    free(e);
}

/* ---- signing ------------------------------------------------------------- */

static int check_params(const dr_sigv4_params *p, const dr_sigv4_request *req, dr_err *err)
{
    if (!p->access_key || !*p->access_key || !p->secret_key || !*p->secret_key)
        return dr_err_set(err, DR_E_CREDENTIALS, "sigv4: no access key id or secret access key");
    if (!p->region || !*p->region || !p->service || !*p->service)
        return dr_err_set(err, DR_E_INTERNAL, "sigv4: region and service are required");
    if (!req->method || !*req->method || !req->path)
        return dr_err_set(err, DR_E_INTERNAL, "sigv4: method and path are required");
    if (!req->headers || !dr_kv_get(req->headers, "host"))
        return dr_err_set(err, DR_E_INTERNAL, "sigv4: the request has no Host header");
    return 0;
}

static int has_token(const dr_sigv4_params *p)
{
    return p->session_token && *p->session_token;
}

static void payload_hash(const dr_sigv4_request *req, char out[65])
{
    if (req->payload_hash) {
        snprintf(out, 65, "%s", req->payload_hash);
        return;
    }
    dr_sha256_hex(req->body, req->body_len, out);
}

/* Signature over string_to_sign with the key derived from the secret, the
 * date and the scope. Every intermediate key is wiped before returning. */
static int compute_signature(const dr_sigv4_params *p, const char *date8, const char *sts,
                             char out[65], dr_err *err)
{
    unsigned char k1[32], k2[32], sig[32];
    char *ksecret = dr_xasprintf("AWS4%s", p->secret_key);
    int rc = -1;

    if (hmac256(ksecret, strlen(ksecret), date8, 8, k1, err) == 0 &&
        hmac256(k1, 32, p->region, strlen(p->region), k2, err) == 0 &&
        hmac256(k2, 32, p->service, strlen(p->service), k1, err) == 0 &&
        hmac256(k1, 32, "aws4_request", 12, k2, err) == 0 &&
        hmac256(k2, 32, sts, strlen(sts), sig, err) == 0) {
        to_hex(sig, 32, out);
        rc = 0;
    }
    dr_free_secret(ksecret);
    dr_secure_zero(k1, sizeof(k1));
    dr_secure_zero(k2, sizeof(k2));
    dr_secure_zero(sig, sizeof(sig));
    return rc;
}

/* Shared tail of both modes: canonical request already complete in cr.
 * Builds the string to sign, signs, and hands the strings to dbg. */
static int finish(const dr_sigv4_params *p, const char *amzdate, const char *scope, dr_buf *cr,
                  char sig[65], dr_sigv4_debug *dbg, dr_err *err)
{
    char crhash[65];
    dr_sha256_hex(dr_buf_cstr(cr), cr->len, crhash);
    char *sts = dr_xasprintf(ALGORITHM "\n%s\n%s\n%s", amzdate, scope, crhash);
    int rc = compute_signature(p, amzdate, sts, sig, err);
    if (rc == 0 && dbg) {
        dbg->canonical_request = dr_buf_detach(cr);
        dbg->string_to_sign = sts;
        memcpy(dbg->signature, sig, 65);
        sts = NULL;
    }
    free(sts); /* contains no secret: a hash, a date and the scope */
    return rc;
}

void dr_sigv4_debug_free(dr_sigv4_debug *d)
{
    if (!d)
        return;
    dr_free_secret(d->canonical_request);
    free(d->string_to_sign);
    d->canonical_request = NULL;
    d->string_to_sign = NULL;
    d->signature[0] = '\0';
}

static void debug_init(dr_sigv4_debug *dbg)
{
    if (dbg) {
        dbg->canonical_request = NULL;
        dbg->string_to_sign = NULL;
        dbg->signature[0] = '\0';
    }
}

int dr_sigv4_sign_headers(const dr_sigv4_params *p, dr_sigv4_request *req, dr_sigv4_debug *dbg,
                          dr_err *err)
{
    debug_init(dbg);
    if (check_params(p, req, err) != 0)
        return -1;
    char amzdate[17];
    if (amz_date(p->now, amzdate) != 0)
        return dr_err_set(err, DR_E_INTERNAL, "sigv4: time %lld out of range", (long long)p->now);

    char hash[65];
    payload_hash(req, hash);

    /* Added in aws-c-auth's order (token, date, content hash, then
     * Authorization), which the suite's signed requests show. A retry
     * re-signs the same list, so stale copies go first. */
    dr_kv_del(req->headers, "authorization");
    if (has_token(p))
        dr_kv_set(req->headers, "X-Amz-Security-Token", p->session_token);
    else
        dr_kv_del(req->headers, "x-amz-security-token");
    dr_kv_set(req->headers, "X-Amz-Date", amzdate);
    /* S3 refuses a request without it, whatever the caller asked for. */
    if (p->sign_body || strcmp(p->service, "s3") == 0)
        dr_kv_set(req->headers, "x-amz-content-sha256", hash);

    dr_buf cr = DR_BUF_INIT, sh = DR_BUF_INIT;
    dr_buf_puts(&cr, req->method);
    dr_buf_putc(&cr, '\n');
    canonical_path(&cr, req->path, p->normalize_path);
    dr_buf_putc(&cr, '\n');
    qlist q = {0};
    qlist_parse(&q, req->query);
    qlist_canonical(&q, &cr);
    qlist_free(&q);
    dr_buf_putc(&cr, '\n');
    canonical_headers(req->headers,
                      has_token(p) && p->omit_session_token ? "x-amz-security-token" : NULL, &cr,
                      &sh);
    dr_buf_putc(&cr, '\n');
    dr_buf_puts(&cr, dr_buf_cstr(&sh));
    dr_buf_putc(&cr, '\n');
    dr_buf_puts(&cr, hash);

    char *scope = dr_xasprintf("%.8s/%s/%s/aws4_request", amzdate, p->region, p->service);
    char sig[65];
    int rc = finish(p, amzdate, scope, &cr, sig, dbg, err);
    if (rc == 0) {
        dr_kv_addf(req->headers, "Authorization",
                   ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s", p->access_key,
                   scope, dr_buf_cstr(&sh), sig);
    }
    free(scope);
    dr_buf_free(&sh);
    dr_buf_free_secret(&cr);
    return rc;
}

int dr_sigv4_presign(const dr_sigv4_params *p, const dr_sigv4_request *req, char **out_query,
                     dr_sigv4_debug *dbg, dr_err *err)
{
    *out_query = NULL;
    debug_init(dbg);
    if (check_params(p, req, err) != 0)
        return -1;
    if (p->expires < 1 || p->expires > MAX_EXPIRES)
        return dr_err_set(err, DR_E_USAGE,
                          "sigv4: presigned URL lifetime %ld s is outside 1..%ld s (7 days)",
                          p->expires, MAX_EXPIRES);
    char amzdate[17];
    if (amz_date(p->now, amzdate) != 0)
        return dr_err_set(err, DR_E_INTERNAL, "sigv4: time %lld out of range", (long long)p->now);

    char hash[65];
    payload_hash(req, hash);

    dr_buf cr = DR_BUF_INIT, sh = DR_BUF_INIT, hdrs = DR_BUF_INIT;
    canonical_headers(req->headers, NULL, &hdrs, &sh);

    char *scope = dr_xasprintf("%.8s/%s/%s/aws4_request", amzdate, p->region, p->service);
    char *cred = dr_xasprintf("%s/%s", p->access_key, scope);
    char *e_cred = dr_uri_encode(cred, strlen(cred), 0);
    char *e_sh = dr_uri_encode(dr_buf_cstr(&sh), sh.len, 0);
    char *e_tok =
        has_token(p) ? dr_uri_encode(p->session_token, strlen(p->session_token), 0) : NULL;
    char expires[24];
    snprintf(expires, sizeof(expires), "%ld", p->expires);

    qlist q = {0};
    qlist_parse(&q, req->query);
    qlist_add_owned(&q, dr_xstrdup("X-Amz-Algorithm"), dr_xstrdup(ALGORITHM));
    qlist_add_owned(&q, dr_xstrdup("X-Amz-Credential"), dr_xstrdup(e_cred));
    qlist_add_owned(&q, dr_xstrdup("X-Amz-Date"), dr_xstrdup(amzdate));
    qlist_add_owned(&q, dr_xstrdup("X-Amz-Expires"), dr_xstrdup(expires));
    qlist_add_owned(&q, dr_xstrdup("X-Amz-SignedHeaders"), dr_xstrdup(e_sh));
    /* omit_session_token: the token rides along in the URL but outside the
     * signature (services that validate it separately, e.g. IoT). */
    if (e_tok && !p->omit_session_token)
        qlist_add_owned(&q, dr_xstrdup("X-Amz-Security-Token"), dr_xstrdup(e_tok));

    dr_buf_puts(&cr, req->method);
    dr_buf_putc(&cr, '\n');
    canonical_path(&cr, req->path, p->normalize_path);
    dr_buf_putc(&cr, '\n');
    qlist_canonical(&q, &cr);
    qlist_free(&q);
    dr_buf_putc(&cr, '\n');
    dr_buf_append(&cr, dr_buf_cstr(&hdrs), hdrs.len);
    dr_buf_putc(&cr, '\n');
    dr_buf_puts(&cr, dr_buf_cstr(&sh));
    dr_buf_putc(&cr, '\n');
    dr_buf_puts(&cr, hash);

    char sig[65];
    int rc = finish(p, amzdate, scope, &cr, sig, dbg, err);
    if (rc == 0) {
        /* The request's own query goes first, as sent; then the X-Amz-*
         * parameters in aws-c-auth's order (the suite's signed requests).
         * botocore puts X-Amz-Expires before X-Amz-SignedHeaders; the order
         * is not signed, so both are accepted. */
        dr_buf out = DR_BUF_INIT;
        if (req->query && *req->query) {
            dr_buf_puts(&out, req->query);
            dr_buf_putc(&out, '&');
        }
        dr_buf_printf(&out,
                      "X-Amz-Algorithm=" ALGORITHM "&X-Amz-Credential=%s&X-Amz-Date=%s"
                      "&X-Amz-SignedHeaders=%s&X-Amz-Expires=%s",
                      e_cred, amzdate, e_sh, expires);
        if (e_tok)
            dr_buf_printf(&out, "&X-Amz-Security-Token=%s", e_tok);
        dr_buf_printf(&out, "&X-Amz-Signature=%s", sig);
        *out_query = dr_buf_detach(&out);
    }
    dr_free_secret(e_tok);
    free(e_sh);
    free(e_cred);
    free(cred);
    free(scope);
    dr_buf_free(&sh);
    dr_buf_free_secret(&hdrs);
    dr_buf_free_secret(&cr);
    return rc;
}
