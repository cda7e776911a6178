/*
 * test_sigv4.c - SigV4 against the official suite, published examples and
 * botocore.
 *
 * 1. The aws-c-auth suite (shared/sigv4-test-suite/v4, read from
 *    $DRCTL_SHARED_DIR, default ../shared): one parameterized test per case
 *    and mode, comparing canonical request, string to sign, signature and
 *    the whole signed request byte for byte. A separate test checks the
 *    suite is really there, so an empty or missing folder fails instead of
 *    running zero cases.
 * 2. Unit tests of the pieces and of S3 rules the suite does not cover,
 *    against AWS's published S3 examples.
 * 3. Cross-checks with botocore through tests/tools/botocore_sign.py.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws/sigv4.h"
#include "util/buf.h"
#include "util/mem.h"

/* ---- helpers ----------------------------------------------------------- */

static char *slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    dr_buf b = DR_BUF_INIT;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        dr_buf_append(&b, tmp, n);
    fclose(f);
    if (len_out)
        *len_out = b.len;
    return dr_buf_detach(&b);
}

/* Non-fatal byte-for-byte comparison that names the case and the field and
 * shows where the strings part, so a failing run reads like a diff. */
static int same(const char *what, const char *field, const char *want, const char *got)
{
    if (!want || !got) {
        cr_expect(want && got, "%s: %s: %s is missing", what, field, want ? "result" : "expected");
        return 0;
    }
    if (strcmp(want, got) == 0)
        return 1;
    size_t i = 0;
    while (want[i] && want[i] == got[i])
        i++;
    cr_expect(0,
              "%s: %s differs at byte %zu\n"
              "---- expected ----\n%s\n---- got ----\n%s\n---- expected from byte %zu ----\n%s\n"
              "---- got from byte %zu ----\n%s\n------------------",
              what, field, i, want, got, i, want + i, i, got + i);
    return 0;
}

static int has_prefix(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static size_t kv_count(const dr_kvlist *l, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += strcasecmp(l->items[i].name, name) == 0;
    return n;
}

static time_t parse_time(const char *iso)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cr_assert(end && *end == '\0', "bad timestamp '%s'", iso);
    return timegm(&tm);
}

static const char *default_params_secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/* ---- the suite ----------------------------------------------------------- */

static char *suite_dir(void)
{
    const char *shared = getenv("DRCTL_SHARED_DIR");
    if (!shared || !*shared)
        shared = "../shared";
    return dr_xasprintf("%s/sigv4-test-suite/v4", shared);
}

typedef struct suite_case {
    char name[128];
} suite_case;

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const suite_case *)a)->name, ((const suite_case *)b)->name);
}

/* Every subdirectory is a case: a folder without its files must fail, not
 * vanish from the run. */
static size_t list_cases(suite_case **out, void *(*alloc)(size_t))
{
    char *dir = suite_dir();
    size_t n = 0, cap = 0;
    suite_case *cases = NULL;
    /* Two passes: count, then fill, so the array comes from `alloc` in one
     * piece (Criterion wants parameters in its own shared memory). */
    for (int pass = 0; pass < 2; pass++) {
        DIR *d = opendir(dir);
        if (!d)
            break;
        if (pass == 1) {
            cases = alloc((cap ? cap : 1) * sizeof(*cases));
            memset(cases, 0, (cap ? cap : 1) * sizeof(*cases));
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char *p = dr_xasprintf("%s/%s", dir, e->d_name);
            if (is_dir(p) && strlen(e->d_name) < sizeof(cases[0].name)) {
                if (pass == 0)
                    cap++;
                else if (n < cap)
                    memcpy(cases[n++].name, e->d_name, strlen(e->d_name));
            }
            free(p);
        }
        closedir(d);
    }
    free(dir);
    if (!cases) {
        cases = alloc(sizeof(*cases));
        memset(cases, 0, sizeof(*cases));
    }
    qsort(cases, n, sizeof(*cases), name_cmp);
    *out = cases;
    return n;
}

static void free_case_params(struct criterion_test_params *crp)
{
    cr_free(crp->params);
}

typedef struct suite_req {
    char *method;
    char *target; /* path[?query] as in the file */
    char *path;
    char *query; /* NULL when the target has no '?' */
    dr_kvlist headers;
    char *body;
    size_t body_len;
} suite_req;

/* request.txt: "METHOD target HTTP/1.1", header lines "Name:value" (value
 * kept raw, continuation lines folded in with their newline and indent, so
 * the signed request can be printed back byte for byte), a blank line, the
 * body. The target may contain spaces (get-space-*). */
static void parse_request(const char *text, suite_req *r)
{
    memset(r, 0, sizeof(*r));
    dr_kv_init(&r->headers);
    const char *nl = strchr(text, '\n');
    size_t l0 = nl ? (size_t)(nl - text) : strlen(text);
    char *line = dr_xstrndup(text, l0);
    char *sp = strchr(line, ' ');
    char *proto = strstr(line, " HTTP/");
    cr_assert(sp && proto && proto >= sp, "bad request line '%s'", line);
    r->method = dr_xstrndup(line, (size_t)(sp - line));
    r->target = dr_xstrndup(sp + 1, (size_t)(proto - sp - 1));
    free(line);
    char *q = strchr(r->target, '?');
    r->path = dr_xstrndup(r->target, q ? (size_t)(q - r->target) : strlen(r->target));
    r->query = q ? dr_xstrdup(q + 1) : NULL;

    const char *p = nl ? nl + 1 : text + l0;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len == 0) {
            p = eol ? eol + 1 : p;
            r->body_len = strlen(p);
            r->body = dr_xstrdup(p);
            break;
        }
        if (p[0] == ' ' || p[0] == '\t') {
            cr_assert(r->headers.n > 0, "continuation line before any header");
            dr_kv *last = &r->headers.items[r->headers.n - 1];
            char *v = dr_xasprintf("%s\n%.*s", last->value, (int)len, p);
            free(last->value);
            last->value = v;
        } else {
            const char *colon = memchr(p, ':', len);
            cr_assert(colon, "header line without ':': '%.*s'", (int)len, p);
            char *name = dr_xstrndup(p, (size_t)(colon - p));
            char *value = dr_xstrndup(colon + 1, len - (size_t)(colon - p) - 1);
            dr_kv_add(&r->headers, name, value);
            free(name);
            free(value);
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    if (!r->body)
        r->body = dr_xstrdup("");
}

static void free_request(suite_req *r)
{
    free(r->method);
    free(r->target);
    free(r->path);
    free(r->query);
    free(r->body);
    dr_kv_free(&r->headers);
}

static char *format_request(const char *method, const char *target, const dr_kvlist *h,
                            const char *body)
{
    dr_buf b = DR_BUF_INIT;
    dr_buf_printf(&b, "%s %s HTTP/1.1\n", method, target);
    for (size_t i = 0; i < h->n; i++)
        dr_buf_printf(&b, "%s:%s\n", h->items[i].name, h->items[i].value);
    dr_buf_putc(&b, '\n');
    dr_buf_puts(&b, body);
    return dr_buf_detach(&b);
}

typedef struct suite_ctx {
    json_t *root;
    dr_sigv4_params p;
} suite_ctx;

static void load_context(const char *path, suite_ctx *c)
{
    json_error_t je;
    c->root = json_load_file(path, 0, &je);
    cr_assert(c->root, "%s: %s (line %d)", path, je.text, je.line);
    json_t *cred = json_object_get(c->root, "credentials");
    cr_assert(json_is_object(cred), "%s: no credentials", path);
    memset(&c->p, 0, sizeof(c->p));
    c->p.access_key = json_string_value(json_object_get(cred, "access_key_id"));
    c->p.secret_key = json_string_value(json_object_get(cred, "secret_access_key"));
    c->p.session_token = json_string_value(json_object_get(cred, "token"));
    c->p.region = json_string_value(json_object_get(c->root, "region"));
    c->p.service = json_string_value(json_object_get(c->root, "service"));
    const char *ts = json_string_value(json_object_get(c->root, "timestamp"));
    cr_assert(c->p.access_key && c->p.secret_key && c->p.region && c->p.service && ts,
              "%s: incomplete context", path);
    c->p.now = parse_time(ts);
    c->p.normalize_path = json_is_true(json_object_get(c->root, "normalize"));
    c->p.sign_body = json_is_true(json_object_get(c->root, "sign_body"));
    c->p.omit_session_token = json_is_true(json_object_get(c->root, "omit_session_token"));
    json_t *exp = json_object_get(c->root, "expiration_in_seconds");
    c->p.expires = json_is_integer(exp) ? (long)json_integer_value(exp) : 0;
}

static char *case_file(const char *casedir, const char *name)
{
    char *p = dr_xasprintf("%s/%s", casedir, name);
    char *s = slurp(p, NULL);
    cr_expect(s != NULL, "%s: cannot read: %s", p, strerror(errno));
    free(p);
    return s;
}

static void run_case(const char *name, int presign)
{
    char *dir = suite_dir();
    char *casedir = dr_xasprintf("%s/%s", dir, name);
    free(dir);
    char *reqtext = case_file(casedir, "request.txt");
    char *ctxpath = dr_xasprintf("%s/context.json", casedir);
    cr_assert(reqtext, "%s: no request.txt", name);

    const char *pre = presign ? "query" : "header";
    char *fname;
    fname = dr_xasprintf("%s-canonical-request.txt", pre);
    char *want_cr = case_file(casedir, fname);
    free(fname);
    fname = dr_xasprintf("%s-string-to-sign.txt", pre);
    char *want_sts = case_file(casedir, fname);
    free(fname);
    fname = dr_xasprintf("%s-signature.txt", pre);
    char *want_sig = case_file(casedir, fname);
    free(fname);
    fname = dr_xasprintf("%s-signed-request.txt", pre);
    char *want_signed = case_file(casedir, fname);
    free(fname);

    suite_ctx ctx;
    load_context(ctxpath, &ctx);
    suite_req r;
    parse_request(reqtext, &r);

    dr_sigv4_request req = {
        .method = r.method,
        .path = r.path,
        .query = r.query,
        .headers = &r.headers,
        .payload_hash = NULL,
        .body = r.body,
        .body_len = r.body_len,
    };
    dr_sigv4_debug dbg;
    dr_err err;
    dr_err_clear(&err);
    char *label = dr_xasprintf("%s [%s mode]", name, pre);
    char *got_signed = NULL;
    int rc;
    if (presign) {
        char *q = NULL;
        rc = dr_sigv4_presign(&ctx.p, &req, &q, &dbg, &err);
        if (rc == 0) {
            char *target = dr_xasprintf("%s?%s", r.path, q);
            got_signed = format_request(r.method, target, &r.headers, r.body);
            free(target);
        }
        free(q);
    } else {
        rc = dr_sigv4_sign_headers(&ctx.p, &req, &dbg, &err);
        if (rc == 0)
            got_signed = format_request(r.method, r.target, &r.headers, r.body);
    }
    cr_expect_eq(rc, 0, "%s: signing failed: %s", label, err.msg);
    if (rc == 0) {
        same(label, "canonical request", want_cr, dbg.canonical_request);
        same(label, "string to sign", want_sts, dbg.string_to_sign);
        same(label, "signature", want_sig, dbg.signature);
        same(label, "signed request", want_signed, got_signed);
    }

    dr_sigv4_debug_free(&dbg);
    free(got_signed);
    free(label);
    free_request(&r);
    json_decref(ctx.root);
    free(want_cr);
    free(want_sts);
    free(want_sig);
    free(want_signed);
    free(reqtext);
    free(ctxpath);
    free(casedir);
}

ParameterizedTestParameters(sigv4_suite, header_mode)
{
    suite_case *cases;
    size_t n = list_cases(&cases, cr_malloc);
    return cr_make_param_array(suite_case, cases, n, free_case_params);
}

ParameterizedTest(suite_case *c, sigv4_suite, header_mode)
{
    run_case(c->name, 0);
}

ParameterizedTestParameters(sigv4_suite, query_mode)
{
    suite_case *cases;
    size_t n = list_cases(&cases, cr_malloc);
    return cr_make_param_array(suite_case, cases, n, free_case_params);
}

ParameterizedTest(suite_case *c, sigv4_suite, query_mode)
{
    run_case(c->name, 1);
}

/* The parameterized tests above run zero times if the suite is missing;
 * this is what makes that a failure. */
Test(sigv4_suite, suite_is_present_and_complete)
{
    char *dir = suite_dir();
    cr_assert(is_dir(dir), "SigV4 suite not found at %s (set DRCTL_SHARED_DIR)", dir);
    suite_case *cases;
    size_t n = list_cases(&cases, dr_xmalloc);

    /* Count independently of list_cases: every directory entry. */
    size_t on_disk = 0;
    DIR *d = opendir(dir);
    cr_assert(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            on_disk++;
    closedir(d);

    cr_expect_eq(n, on_disk, "%zu cases listed but %zu entries in %s", n, on_disk, dir);
    cr_expect_geq(n, 30, "only %zu cases in %s", n, dir);
    static const char *const files[] = {
        "request.txt",
        "context.json",
        "header-canonical-request.txt",
        "header-string-to-sign.txt",
        "header-signature.txt",
        "header-signed-request.txt",
        "query-canonical-request.txt",
        "query-string-to-sign.txt",
        "query-signature.txt",
        "query-signed-request.txt",
    };
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
            char *p = dr_xasprintf("%s/%s/%s", dir, cases[i].name, files[k]);
            cr_expect(access(p, R_OK) == 0, "%s missing", p);
            free(p);
        }
    }
    free(cases);
    free(dir);
}

/* ---- pieces ------------------------------------------------------------- */

Test(sigv4_unit, uri_encode)
{
    const char *s = "a b/c+\xc4\x89~-_.*%";
    char *e1 = dr_uri_encode(s, strlen(s), 1);
    char *e0 = dr_uri_encode(s, strlen(s), 0);
    cr_expect_str_eq(e1, "a%20b/c%2B%C4%89~-_.%2A%25");
    cr_expect_str_eq(e0, "a%20b%2Fc%2B%C4%89~-_.%2A%25");
    free(e1);
    free(e0);
    char *empty = dr_uri_encode("", 0, 1);
    cr_expect_str_eq(empty, "");
    free(empty);
    /* Length-bounded: the NUL and what follows are not read. */
    char *part = dr_uri_encode("ab cd", 3, 0);
    cr_expect_str_eq(part, "ab%20");
    free(part);
}

Test(sigv4_unit, sha256_and_date)
{
    char h[65];
    dr_sha256_hex("", 0, h);
    cr_expect_str_eq(h, DR_SIGV4_EMPTY_SHA256);
    dr_sha256_hex("abc", 3, h);
    cr_expect_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char d[17];
    dr_amz_date(0, d);
    cr_expect_str_eq(d, "19700101T000000Z");
    dr_amz_date(1440938160, d);
    cr_expect_str_eq(d, "20150830T123600Z");
}

static dr_sigv4_params s3_example_params(void)
{
    /* The credentials and time of the S3 SigV4 examples in the AWS docs
     * ("Signature Calculations for the Authorization Header: Transferring
     * Payload in a Single Chunk" and "Query String Authentication"). */
    dr_sigv4_params p = {
        .access_key = "AKIAIOSFODNN7EXAMPLE",
        .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        .region = "us-east-1",
        .service = "s3",
        .now = 1369353600, /* 2013-05-24T00:00:00Z */
        .normalize_path = 0,
        .sign_body = 1,
    };
    return p;
}

static char *sign_one(const dr_sigv4_params *p, const char *method, const char *path,
                      const char *query, dr_kvlist *h, const char *payload_hash, const char *body,
                      dr_sigv4_debug *dbg)
{
    dr_sigv4_request req = {
        .method = method,
        .path = path,
        .query = query,
        .headers = h,
        .payload_hash = payload_hash,
        .body = body,
        .body_len = body ? strlen(body) : 0,
    };
    dr_err err;
    dr_err_clear(&err);
    int rc = dr_sigv4_sign_headers(p, &req, dbg, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    const char *a = dr_kv_get(h, "authorization");
    cr_assert(a);
    return dr_xstrdup(a);
}

Test(sigv4_s3, aws_doc_get_object)
{
    dr_sigv4_params p = s3_example_params();
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Host", "examplebucket.s3.amazonaws.com");
    dr_kv_add(&h, "Range", "bytes=0-9");
    dr_sigv4_debug dbg;
    char *a = sign_one(&p, "GET", "/test.txt", NULL, &h, NULL, NULL, &dbg);
    same("s3 GET object", "canonical request",
         "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
         "x-amz-content-sha256:" DR_SIGV4_EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n\n"
         "host;range;x-amz-content-sha256;x-amz-date\n" DR_SIGV4_EMPTY_SHA256,
         dbg.canonical_request);
    same("s3 GET object", "Authorization",
         "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
         "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
         a);
    free(a);
    dr_sigv4_debug_free(&dbg);
    dr_kv_free(&h);
}

Test(sigv4_s3, aws_doc_put_object)
{
    dr_sigv4_params p = s3_example_params();
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Host", "examplebucket.s3.amazonaws.com");
    dr_kv_add(&h, "Date", "Fri, 24 May 2013 00:00:00 GMT");
    dr_kv_add(&h, "x-amz-storage-class", "REDUCED_REDUNDANCY");
    char *key = dr_uri_encode("test$file.text", 14, 1);
    char *path = dr_xasprintf("/%s", key);
    cr_expect_str_eq(path, "/test%24file.text");
    dr_sigv4_debug dbg;
    char *a = sign_one(&p, "PUT", path, NULL, &h, NULL, "Welcome to Amazon S3.", &dbg);
    same("s3 PUT object", "Authorization",
         "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
         "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
         "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
         a);
    cr_expect_str_eq(dr_kv_get(&h, "x-amz-content-sha256"),
                     "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    free(a);
    free(path);
    free(key);
    dr_sigv4_debug_free(&dbg);
    dr_kv_free(&h);
}

Test(sigv4_s3, aws_doc_get_lifecycle_and_list)
{
    dr_sigv4_params p = s3_example_params();
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Host", "examplebucket.s3.amazonaws.com");
    /* "?lifecycle": a parameter without '=' signs as "lifecycle=". */
    char *a = sign_one(&p, "GET", "/", "lifecycle", &h, NULL, NULL, NULL);
    cr_expect(
        strstr(a, "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        "lifecycle: %s", a);
    free(a);
    dr_kv_free(&h);

    dr_kv_add(&h, "Host", "examplebucket.s3.amazonaws.com");
    a = sign_one(&p, "GET", "/", "max-keys=2&prefix=J", &h, NULL, NULL, NULL);
    cr_expect(
        strstr(a, "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
        "list: %s", a);
    free(a);
    dr_kv_free(&h);
}

Test(sigv4_s3, aws_doc_presigned_get)
{
    dr_sigv4_params p = s3_example_params();
    p.expires = 86400;
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Host", "examplebucket.s3.amazonaws.com");
    dr_sigv4_request req = {.method = "GET",
                            .path = "/test.txt",
                            .headers = &h,
                            .payload_hash = DR_SIGV4_UNSIGNED_PAYLOAD};
    char *q = NULL;
    dr_err err;
    cr_assert_eq(dr_sigv4_presign(&p, &req, &q, NULL, &err), 0, "%s", err.msg);
    same("s3 presigned GET", "query",
         "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-"
         "east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host&X-Amz-"
         "Expires=86400&X-Amz-Signature="
         "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
         q);
    cr_expect_eq(h.n, 1, "presign must not touch the headers");
    free(q);
    dr_kv_free(&h);
}

/* S3 signs the path as sent: no dot-segment removal, no second encoding. */
Test(sigv4_s3, path_not_normalized_nor_double_encoded)
{
    dr_sigv4_params p = s3_example_params();
    p.sign_body = 0; /* S3 adds x-amz-content-sha256 anyway */
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Host", "b.s3.amazonaws.com");
    const char *key = "a/../b//c d+\xe2\x82\xac.txt";
    char *ekey = dr_uri_encode(key, strlen(key), 1);
    cr_expect_str_eq(ekey, "a/../b//c%20d%2B%E2%82%AC.txt");
    char *path = dr_xasprintf("/%s", ekey);
    dr_sigv4_debug dbg;
    char *a = sign_one(&p, "PUT", path, NULL, &h, DR_SIGV4_UNSIGNED_PAYLOAD, NULL, &dbg);
    cr_expect(has_prefix(dbg.canonical_request, "PUT\n/a/../b//c%20d%2B%E2%82%AC.txt\n\n"), "%s",
              dbg.canonical_request);
    cr_expect_str_eq(dr_kv_get(&h, "x-amz-content-sha256"), DR_SIGV4_UNSIGNED_PAYLOAD);
    size_t crlen = strlen(dbg.canonical_request);
    cr_expect(crlen > 17 &&
                  strcmp(dbg.canonical_request + crlen - 17, "\n" DR_SIGV4_UNSIGNED_PAYLOAD) == 0,
              "payload line: %s", dbg.canonical_request);
    cr_expect(strstr(a, "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"), "%s", a);
    free(a);
    free(path);
    free(ekey);
    dr_sigv4_debug_free(&dbg);
    dr_kv_free(&h);
}

/* The same wire path, for any other service: normalized and encoded again. */
Test(sigv4_unit, non_s3_path_normalized_and_double_encoded)
{
    dr_sigv4_params p = s3_example_params();
    p.service = "lambda";
    p.normalize_path = 1;
    p.sign_body = 0;
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Host", "lambda.us-east-1.amazonaws.com");
    dr_sigv4_debug dbg;
    char *a = sign_one(&p, "GET", "/a/./x/../b//fn%3Aalias%20x/", NULL, &h, NULL, NULL, &dbg);
    cr_expect(has_prefix(dbg.canonical_request, "GET\n/a/b/fn%253Aalias%2520x/\n\n"), "%s",
              dbg.canonical_request);
    cr_expect_null(dr_kv_get(&h, "x-amz-content-sha256"));
    free(a);
    dr_sigv4_debug_free(&dbg);
    dr_kv_free(&h);
}

Test(sigv4_unit, query_canonicalization)
{
    dr_sigv4_params p = s3_example_params();
    p.service = "ec2";
    p.normalize_path = 1;
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Host", "ec2.amazonaws.com");
    dr_sigv4_debug dbg;
    /* Lower-case escapes normalized, '+' literal, raw bytes encoded, empty
     * values and valueless keys kept, empty pieces dropped, duplicate keys
     * sorted by value, and '%' without two hex digits taken literally. */
    char *a = sign_one(&p, "GET", "/", "b=2&a=%e1%88%b4&&c&a=+x&d=&e=50%&b=1&%7E=~", &h, NULL, NULL,
                       &dbg);
    cr_expect(
        has_prefix(dbg.canonical_request, "GET\n/\na=%2Bx&a=%E1%88%B4&b=1&b=2&c=&d=&e=50%25&~=~\n"),
        "%s", dbg.canonical_request);
    free(a);
    dr_sigv4_debug_free(&dbg);
    dr_kv_free(&h);
}

Test(sigv4_unit, headers_trim_join_and_unsigned)
{
    dr_sigv4_params p = s3_example_params();
    p.service = "ec2";
    p.normalize_path = 1;
    p.sign_body = 0;
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Host", "ec2.amazonaws.com");
    dr_kv_add(&h, "X-B", "  two\t  words  ");
    dr_kv_add(&h, "User-Agent", "drctl/0.1");
    dr_kv_add(&h, "x-b", "second");
    dr_kv_add(&h, "X-A", "");
    dr_kv_add(&h, "Transfer-Encoding", "chunked");
    dr_sigv4_debug dbg;
    char *a = sign_one(&p, "GET", "/", NULL, &h, NULL, NULL, &dbg);
    cr_expect(strstr(dbg.canonical_request,
                     "\nhost:ec2.amazonaws.com\nx-a:\nx-amz-date:20130524T000000Z\n"
                     "x-b:two words,second\n\nhost;x-a;x-amz-date;x-b\n"),
              "%s", dbg.canonical_request);
    cr_expect(strstr(a, "SignedHeaders=host;x-a;x-amz-date;x-b,"), "%s", a);
    free(a);
    dr_sigv4_debug_free(&dbg);
    dr_kv_free(&h);
}

/* A retry re-signs the same header list: one copy of each added header, the
 * same signature, the token dropped when credentials no longer have one. */
Test(sigv4_unit, resign_replaces_headers)
{
    dr_sigv4_params p = s3_example_params();
    p.session_token = "tok";
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Host", "examplebucket.s3.amazonaws.com");
    char *a1 = sign_one(&p, "GET", "/k", NULL, &h, NULL, NULL, NULL);
    char *a2 = sign_one(&p, "GET", "/k", NULL, &h, NULL, NULL, NULL);
    cr_expect_str_eq(a1, a2);
    cr_expect_eq(kv_count(&h, "authorization"), 1);
    cr_expect_eq(kv_count(&h, "x-amz-date"), 1);
    cr_expect_eq(kv_count(&h, "x-amz-security-token"), 1);
    cr_expect_eq(kv_count(&h, "x-amz-content-sha256"), 1);
    cr_expect(strstr(a1, "x-amz-security-token"), "token not signed: %s", a1);
    cr_expect_eq(h.n, 5);
    p.session_token = NULL;
    char *a3 = sign_one(&p, "GET", "/k", NULL, &h, NULL, NULL, NULL);
    cr_expect_null(dr_kv_get(&h, "x-amz-security-token"));
    cr_expect(!strstr(a3, "x-amz-security-token"), "%s", a3);
    free(a1);
    free(a2);
    free(a3);
    dr_kv_free(&h);
}

Test(sigv4_unit, errors)
{
    dr_sigv4_params p = s3_example_params();
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Content-Type", "text/plain");
    dr_sigv4_request req = {.method = "GET", .path = "/", .headers = &h};
    dr_err err;
    dr_sigv4_debug dbg;
    dr_err_clear(&err);
    cr_expect_eq(dr_sigv4_sign_headers(&p, &req, &dbg, &err), -1);
    cr_expect_eq(err.code, DR_E_INTERNAL);
    cr_expect(strstr(err.msg, "Host"), "%s", err.msg);
    cr_expect_null(dbg.canonical_request);
    cr_expect_eq(h.n, 1, "failed signing must not add headers before validation");

    dr_kv_add(&h, "Host", "x");
    p.secret_key = "";
    dr_err_clear(&err);
    cr_expect_eq(dr_sigv4_sign_headers(&p, &req, NULL, &err), -1);
    cr_expect_eq(err.code, DR_E_CREDENTIALS);

    p = s3_example_params();
    char *q = (char *)"sentinel";
    p.expires = 0;
    cr_expect_eq(dr_sigv4_presign(&p, &req, &q, NULL, &err), -1);
    cr_expect_null(q);
    p.expires = 604801;
    cr_expect_eq(dr_sigv4_presign(&p, &req, &q, NULL, &err), -1);
    p.expires = 604800;
    cr_expect_eq(dr_sigv4_presign(&p, &req, &q, NULL, &err), 0, "%s", err.msg);
    free(q);
    dr_kv_free(&h);
}

/* ---- botocore cross-checks ---------------------------------------------- */

static char *botocore_script(void)
{
    const char *src = getenv("DRCTL_SOURCE_DIR");
    if (src && *src)
        return dr_xasprintf("%s/tests/tools/botocore_sign.py", src);
    /* CMake compiles with absolute paths: tests/unit/test_sigv4.c. */
    const char *self = __FILE__;
    const char *slash = strrchr(self, '/');
    return dr_xasprintf("%.*s/../tools/botocore_sign.py", slash ? (int)(slash - self) : 1,
                        slash ? self : ".");
}

static void require_botocore(void)
{
    if (system("python3 -c 'import botocore' >/dev/null 2>&1") != 0)
        cr_skip_test("python3 with botocore is not available");
}

/* Runs the helper on `in` and returns its JSON answer (caller decrefs). */
static json_t *botocore_sign(json_t *in)
{
    char tmpl[] = "/tmp/drctl-sigv4-XXXXXX";
    int fd = mkstemp(tmpl);
    cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
    cr_assert_eq(json_dumpfd(in, fd, JSON_COMPACT), 0);
    close(fd);
    char *script = botocore_script();
    cr_assert(access(script, R_OK) == 0, "%s not found (set DRCTL_SOURCE_DIR)", script);
    char *cmd = dr_xasprintf("python3 '%s' '%s'", script, tmpl);
    FILE *f = popen(cmd, "r");
    cr_assert(f, "popen %s", cmd);
    json_error_t je;
    json_t *out = json_loadf(f, 0, &je);
    int st = pclose(f);
    unlink(tmpl);
    cr_assert(st == 0 && out, "%s failed (status %d): %s", cmd, st, je.text);
    free(cmd);
    free(script);
    return out;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    cr_assert(s, "botocore output has no '%s'", k);
    return s;
}

/* Value of a header in botocore's answer, case-insensitively. */
static const char *boto_header(json_t *out, const char *name)
{
    json_t *hs = json_object_get(out, "headers");
    size_t i;
    json_t *pair;
    json_array_foreach(hs, i, pair)
    {
        const char *n = json_string_value(json_array_get(pair, 0));
        if (n && strcasecmp(n, name) == 0)
            return json_string_value(json_array_get(pair, 1));
    }
    return NULL;
}

#define TEST_AK "AKIDEXAMPLE"
#define TEST_TIME "2015-08-30T12:36:00Z"
#define TEST_TOKEN "IQoJb3JpZ2luX2VjEPT//////////wEaCXVzLWVhc3QtMSJGMEQCIB+abc/def=="

static json_t *boto_input(const char *mode, const char *method, const char *service,
                          const char *region, const char *token)
{
    json_t *in = json_object();
    json_object_set_new(in, "mode", json_string(mode));
    json_object_set_new(in, "method", json_string(method));
    json_object_set_new(in, "service", json_string(service));
    json_object_set_new(in, "region", json_string(region));
    json_object_set_new(in, "time", json_string(TEST_TIME));
    json_object_set_new(in, "access_key", json_string(TEST_AK));
    json_object_set_new(in, "secret_key", json_string(default_params_secret));
    if (token)
        json_object_set_new(in, "token", json_string(token));
    return in;
}

static void add_pair(json_t *arr, const char *k, const char *v)
{
    json_t *p = json_array();
    json_array_append_new(p, json_string(k));
    json_array_append_new(p, json_string(v));
    json_array_append_new(arr, p);
}

static dr_sigv4_params boto_params(const char *service, const char *region, const char *token)
{
    dr_sigv4_params p = {
        .access_key = TEST_AK,
        .secret_key = default_params_secret,
        .session_token = token,
        .region = region,
        .service = service,
        .now = 1440938160,
        .normalize_path = strcmp(service, "s3") != 0,
        .sign_body = strcmp(service, "s3") == 0,
        .expires = 3600,
    };
    return p;
}

/* Encodes name=value pairs as a caller would put them on the wire. */
static char *encode_query(const char *const *kv, size_t n)
{
    dr_buf b = DR_BUF_INIT;
    for (size_t i = 0; i + 1 < n; i += 2) {
        char *k = dr_uri_encode(kv[i], strlen(kv[i]), 0);
        char *v = dr_uri_encode(kv[i + 1], strlen(kv[i + 1]), 0);
        dr_buf_printf(&b, "%s%s=%s", i ? "&" : "", k, v);
        free(k);
        free(v);
    }
    return dr_buf_detach(&b);
}

/* Header-mode cross-check: our canonical request, string to sign,
 * Authorization and added headers against botocore's. */
static void check_header_mode(const char *label, json_t *out, const dr_kvlist *h,
                              const dr_sigv4_debug *dbg)
{
    same(label, "canonical request", jstr(out, "canonical_request"), dbg->canonical_request);
    same(label, "string to sign", jstr(out, "string_to_sign"), dbg->string_to_sign);
    same(label, "Authorization", jstr(out, "authorization"), dr_kv_get(h, "authorization"));
    static const char *const added[] = {"X-Amz-Date", "X-Amz-Security-Token",
                                        "X-Amz-Content-SHA256"};
    for (size_t i = 0; i < 3; i++) {
        const char *want = boto_header(out, added[i]);
        const char *got = dr_kv_get(h, added[i]);
        if (want || got)
            same(label, added[i], want, got);
    }
}

Test(sigv4_botocore, s3_put_unicode_key_with_token)
{
    require_botocore();
    const char *key = "backups/\xc4\x89"
                      "a fait+1 (copy)~.tar.zst";
    const char *body = "bundle bytes\n";
    json_t *in = boto_input("header", "PUT", "s3", "eu-west-1", TEST_TOKEN);
    json_object_set_new(in, "endpoint", json_string("https://s3.eu-west-1.amazonaws.com"));
    json_object_set_new(in, "bucket", json_string("drctl-vault"));
    json_object_set_new(in, "key", json_string(key));
    json_object_set_new(in, "body", json_string(body));
    json_t *hs = json_array();
    add_pair(hs, "Host", "s3.eu-west-1.amazonaws.com");
    add_pair(hs, "Content-Type", "application/zstd");
    add_pair(hs, "x-amz-meta-sha256", "  abc   def ");
    json_object_set_new(in, "headers", hs);
    json_t *out = botocore_sign(in);

    char *ekey = dr_uri_encode(key, strlen(key), 1);
    char *path = dr_xasprintf("/drctl-vault/%s", ekey);
    same("s3 PUT", "path (dr_uri_encode vs botocore's serializer)", jstr(out, "path"), path);

    dr_sigv4_params p = boto_params("s3", "eu-west-1", TEST_TOKEN);
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Host", "s3.eu-west-1.amazonaws.com");
    dr_kv_add(&h, "Content-Type", "application/zstd");
    dr_kv_add(&h, "x-amz-meta-sha256", "  abc   def ");
    dr_sigv4_debug dbg;
    char *a = sign_one(&p, "PUT", path, NULL, &h, NULL, body, &dbg);
    check_header_mode("s3 PUT unicode key", out, &h, &dbg);

    free(a);
    dr_sigv4_debug_free(&dbg);
    dr_kv_free(&h);
    free(path);
    free(ekey);
    json_decref(in);
    json_decref(out);
}

Test(sigv4_botocore, s3_get_with_query_unsigned_payload)
{
    require_botocore();
    static const char *const qp[] = {
        "list-type",
        "2",
        "prefix",
        "snap shots/\xe2\x82\xac+",
        "continuation-token",
        "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=",
        "max-keys",
        "1000",
    };
    json_t *in = boto_input("header", "GET", "s3", "us-west-2", NULL);
    json_object_set_new(in, "url", json_string("https://drctl-vault.s3.us-west-2.amazonaws.com/"));
    json_t *params = json_array();
    for (size_t i = 0; i < 8; i += 2)
        add_pair(params, qp[i], qp[i + 1]);
    json_object_set_new(in, "params", params);
    json_t *hs = json_array();
    add_pair(hs, "Host", "drctl-vault.s3.us-west-2.amazonaws.com");
    json_object_set_new(in, "headers", hs);
    json_object_set_new(in, "unsigned_payload", json_true());
    json_t *out = botocore_sign(in);

    char *query = encode_query(qp, 8);
    same("s3 GET list", "query string", jstr(out, "query"), query);
    dr_sigv4_params p = boto_params("s3", "us-west-2", NULL);
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Host", "drctl-vault.s3.us-west-2.amazonaws.com");
    dr_sigv4_debug dbg;
    char *a = sign_one(&p, "GET", "/", query, &h, DR_SIGV4_UNSIGNED_PAYLOAD, NULL, &dbg);
    check_header_mode("s3 GET list", out, &h, &dbg);
    cr_expect_str_eq(boto_header(out, "X-Amz-Content-SHA256"), DR_SIGV4_UNSIGNED_PAYLOAD);

    free(a);
    free(query);
    dr_sigv4_debug_free(&dbg);
    dr_kv_free(&h);
    json_decref(in);
    json_decref(out);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A query string's parameters, sorted, '\n'-joined: equal for two presigned
 * URLs that differ only in parameter order (botocore vs aws-c-auth). */
static char *sorted_params(const char *q)
{
    char *copy = dr_xstrdup(q);
    char **v = dr_xmalloc((strlen(q) + 1) * sizeof(*v));
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(copy, "&", &save); t; t = strtok_r(NULL, "&", &save))
        v[n++] = t;
    qsort(v, n, sizeof(*v), str_cmp);
    dr_buf b = DR_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        dr_buf_printf(&b, "%s\n", v[i]);
    free(v);
    free(copy);
    return dr_buf_detach(&b);
}

static const char *param_value(const char *q, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1;
            *len = strcspn(v, "&");
            return v;
        }
    }
    return NULL;
}

static void check_presign(const char *label, json_t *out, const char *path, const char *q,
                          const dr_sigv4_debug *dbg)
{
    same(label, "canonical request", jstr(out, "canonical_request"), dbg->canonical_request);
    same(label, "string to sign", jstr(out, "string_to_sign"), dbg->string_to_sign);
    same(label, "path", jstr(out, "path"), path);
    char *want = sorted_params(jstr(out, "query"));
    char *got = sorted_params(q);
    same(label, "query parameters (sorted)", want, got);
    free(want);
    free(got);
    size_t wl = 0, gl = 0;
    const char *ws = param_value(jstr(out, "query"), "X-Amz-Signature", &wl);
    const char *gs = param_value(q, "X-Amz-Signature", &gl);
    cr_expect(ws && gs && wl == 64 && gl == 64 && memcmp(ws, gs, 64) == 0,
              "%s: X-Amz-Signature differs: botocore %.*s, ours %.*s", label, (int)wl, ws ? ws : "",
              (int)gl, gs ? gs : "");
    /* The order is the suite's (aws-c-auth), and the signature comes last. */
    const char *sig = strstr(q, "&X-Amz-Signature=");
    cr_expect(sig && strlen(sig) == 17 + 64, "%s: X-Amz-Signature not last: %s", label, q);
}

Test(sigv4_botocore, s3_presigned_get_with_token)
{
    require_botocore();
    const char *key = "bundles/v42/\xe2\x98\x83 snow+man.tar.zst";
    json_t *in = boto_input("presign", "GET", "s3", "us-east-2", TEST_TOKEN);
    json_object_set_new(in, "endpoint", json_string("https://s3.us-east-2.amazonaws.com"));
    json_object_set_new(in, "bucket", json_string("drctl-vault"));
    json_object_set_new(in, "key", json_string(key));
    json_t *params = json_array();
    add_pair(params, "versionId", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY");
    json_object_set_new(in, "params", params);
    json_t *hs = json_array();
    add_pair(hs, "Host", "s3.us-east-2.amazonaws.com");
    json_object_set_new(in, "headers", hs);
    json_object_set_new(in, "expires", json_integer(900));
    json_t *out = botocore_sign(in);

    char *ekey = dr_uri_encode(key, strlen(key), 1);
    char *path = dr_xasprintf("/drctl-vault/%s", ekey);
    static const char *const qp[] = {"versionId", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"};
    char *query = encode_query(qp, 2);
    dr_sigv4_params p = boto_params("s3", "us-east-2", TEST_TOKEN);
    p.expires = 900;
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Host", "s3.us-east-2.amazonaws.com");
    dr_sigv4_request req = {.method = "GET",
                            .path = path,
                            .query = query,
                            .headers = &h,
                            .payload_hash = DR_SIGV4_UNSIGNED_PAYLOAD};
    char *q = NULL;
    dr_sigv4_debug dbg;
    dr_err err;
    cr_assert_eq(dr_sigv4_presign(&p, &req, &q, &dbg, &err), 0, "%s", err.msg);
    check_presign("s3 presigned GET", out, path, q, &dbg);

    free(q);
    free(query);
    free(path);
    free(ekey);
    dr_sigv4_debug_free(&dbg);
    dr_kv_free(&h);
    json_decref(in);
    json_decref(out);
}

/* Query protocol (EC2 and friends): form body, no x-amz-content-sha256. */
Test(sigv4_botocore, query_protocol_post)
{
    require_botocore();
    const char *body = "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3Adrctl"
                       "&Filter.1.Value.1=a%20b";
    json_t *in = boto_input("header", "POST", "ec2", "us-west-2", TEST_TOKEN);
    json_object_set_new(in, "url", json_string("https://ec2.us-west-2.amazonaws.com/"));
    json_object_set_new(in, "body", json_string(body));
    json_t *hs = json_array();
    add_pair(hs, "Host", "ec2.us-west-2.amazonaws.com");
    add_pair(hs, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    add_pair(hs, "User-Agent", "drctl/0.1.0");
    json_object_set_new(in, "headers", hs);
    json_t *out = botocore_sign(in);

    dr_sigv4_params p = boto_params("ec2", "us-west-2", TEST_TOKEN);
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Host", "ec2.us-west-2.amazonaws.com");
    dr_kv_add(&h, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    dr_kv_add(&h, "User-Agent", "drctl/0.1.0");
    dr_sigv4_debug dbg;
    char *a = sign_one(&p, "POST", "/", NULL, &h, NULL, body, &dbg);
    check_header_mode("ec2 query POST", out, &h, &dbg);

    free(a);
    dr_sigv4_debug_free(&dbg);
    dr_kv_free(&h);
    json_decref(in);
    json_decref(out);
}

/* A rest service other than S3 with escapes in the path: botocore encodes
 * the wire path once more ("%3A" signs as "%253A"), and so must we. */
Test(sigv4_botocore, rest_path_double_encoded)
{
    require_botocore();
    const char *path = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012"
                       "%3Afunction%3Adrctl/./invocations";
    json_t *in = boto_input("header", "POST", "lambda", "us-east-1", NULL);
    char *url = dr_xasprintf("https://lambda.us-east-1.amazonaws.com%s?Qualifier=%%24LATEST", path);
    json_object_set_new(in, "url", json_string(url));
    json_object_set_new(in, "body", json_string("{\"k\": \"v\"}"));
    json_t *hs = json_array();
    add_pair(hs, "Host", "lambda.us-east-1.amazonaws.com");
    add_pair(hs, "X-Amz-Invocation-Type", "RequestResponse");
    json_object_set_new(in, "headers", hs);
    json_t *out = botocore_sign(in);

    dr_sigv4_params p = boto_params("lambda", "us-east-1", NULL);
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Host", "lambda.us-east-1.amazonaws.com");
    dr_kv_add(&h, "X-Amz-Invocation-Type", "RequestResponse");
    dr_sigv4_debug dbg;
    char *a = sign_one(&p, "POST", path, "Qualifier=%24LATEST", &h, NULL, "{\"k\": \"v\"}", &dbg);
    check_header_mode("lambda invoke", out, &h, &dbg);
    cr_expect(strstr(dbg.canonical_request, "%253Afunction%253Adrctl/invocations\n"), "%s",
              dbg.canonical_request);

    free(a);
    free(url);
    dr_sigv4_debug_free(&dbg);
    dr_kv_free(&h);
    json_decref(in);
    json_decref(out);
}

/* Presigning for a non-S3 service (the RDS IAM auth token shape). */
Test(sigv4_botocore, non_s3_presign_with_token)
{
    require_botocore();
    static const char *const qp[] = {"Action", "connect", "DBUser", "drctl_admin"};
    json_t *in = boto_input("presign", "GET", "rds-db", "eu-central-1", TEST_TOKEN);
    json_object_set_new(in, "url",
                        json_string("https://db.abc.eu-central-1.rds.amazonaws.com:5432/"));
    json_t *params = json_array();
    add_pair(params, qp[0], qp[1]);
    add_pair(params, qp[2], qp[3]);
    json_object_set_new(in, "params", params);
    json_t *hs = json_array();
    add_pair(hs, "Host", "db.abc.eu-central-1.rds.amazonaws.com:5432");
    json_object_set_new(in, "headers", hs);
    json_object_set_new(in, "expires", json_integer(900));
    json_t *out = botocore_sign(in);

    char *query = encode_query(qp, 4);
    dr_sigv4_params p = boto_params("rds-db", "eu-central-1", TEST_TOKEN);
    p.expires = 900;
    p.sign_body = 0;
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Host", "db.abc.eu-central-1.rds.amazonaws.com:5432");
    dr_sigv4_request req = {.method = "GET", .path = "/", .query = query, .headers = &h};
    char *q = NULL;
    dr_sigv4_debug dbg;
    dr_err err;
    cr_assert_eq(dr_sigv4_presign(&p, &req, &q, &dbg, &err), 0, "%s", err.msg);
    check_presign("rds-db presign", out, "/", q, &dbg);

    free(q);
    free(query);
    dr_sigv4_debug_free(&dbg);
    dr_kv_free(&h);
    json_decref(in);
    json_decref(out);
}
