/*
 * itest_objects.c - a bucket's objects into a bundle (backup/objects.h),
 * against moto with its signature checks on.
 *
 * Every object's bytes are read back from the bundle with the reader and
 * compared (SHA-256) with what was uploaded; the index's metadata is
 * compared with what `aws s3api head-object` reports. Then an incremental
 * capture after changing about 1 % of the objects, the memory bound, a
 * concurrent overwrite, and a capture through the fault-injecting proxy.
 *
 * moto 5.2.1 refuses correctly signed S3 requests for keys holding '+', '('
 * or ')' or non-ASCII characters (tests/README, itest_aws.c): those keys
 * live in a bucket of their own, uploaded and captured with the checks off.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aws/client.h"
#include "aws/s3.h"
#include "backup/objects.h"
#include "bundle/bundle.h"
#include "sandbox_env.h"
#include "util/mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define MIB (1024u * 1024u)

static dr_log quiet_log;
static dr_aws *aws;
static char tmp[64];
static char *rec_pub, *rec_priv;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void gen_keys(void)
{
    EVP_PKEY *pk = EVP_RSA_gen(2048);
    cr_assert(pk);
    char *p;
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, pk);
    long n = BIO_get_mem_data(b, &p);
    rec_pub = dr_xstrndup(p, (size_t)n);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(b, &p);
    rec_priv = dr_xstrndup(p, (size_t)n);
    BIO_free(b);
    EVP_PKEY_free(pk);
}

static dr_aws *new_client(const char *endpoint)
{
    dr_aws_opts o = {0};
    o.log = &quiet_log;
    o.endpoint_url = endpoint;
    dr_aws *c = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_aws_new(&o, &c, &err) == 0, "dr_aws_new: %s", err.msg);
    return c;
}

static void setup(void)
{
    sandbox_load_env();
    dr_log_init(&quiet_log);
    quiet_log.progress = 0;
    aws = new_client(NULL);
    snprintf(tmp, sizeof(tmp), "/tmp/drctl-itest-obj-XXXXXX");
    cr_assert(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
    gen_keys();
}

static void fini(void)
{
    dr_aws_free(aws);
    aws = NULL;
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(rec_pub);
    free(rec_priv);
    sandbox_auth(1);
}

TestSuite(objects, .init = setup, .fini = fini, .timeout = 900);

/* ---- test data ----------------------------------------------------------- */

/* Deterministic bytes: xorshift, every third byte text so that some of it
 * compresses. */
static unsigned char *gen(uint64_t seed, size_t n)
{
    unsigned char *p = dr_xmalloc(n + 1);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        p[i] = i % 3 == 0 ? (unsigned char)('a' + (s >> 33) % 26) : (unsigned char)(s >> 40);
    }
    return p;
}

static void sha_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    EVP_Digest(p, n, md, NULL, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

/* What a test uploaded: key -> {"sha256", "size", "content_type", "sse", "meta"}. */
static void put_obj(json_t *want, const char *bucket, const char *key, size_t size, uint64_t seed,
                    const char *ctype, const char *sse, int with_meta)
{
    unsigned char *data = gen(seed, size);
    dr_kvlist meta = DR_KVLIST_INIT;
    if (with_meta) {
        dr_kv_add(&meta, "owner", "team-a");
        dr_kv_addf(&meta, "seq", "%llu", (unsigned long long)seed);
    }
    dr_s3_put_opts po = {0};
    po.content_type = ctype;
    po.metadata = with_meta ? &meta : NULL;
    po.sse = sse;
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_s3_put_buffer(aws, "us-east-1", bucket, key, data, size, &po, &err) == 0,
              "put %s: %s", key, err.msg);
    char h[65];
    sha_hex(data, size, h);
    json_object_set_new(want, key, json_pack("{s:s, s:I}", "sha256", h, "size", (json_int_t)size));
    dr_kv_free(&meta);
    free(data);
}

/* A multipart upload (ETag "...-N": no MD5 to check against). */
static void put_multipart(json_t *want, const char *bucket, const char *key, size_t size,
                          uint64_t seed)
{
    unsigned char *data = gen(seed, size);
    char *path = dr_xasprintf("%s/mp.bin", tmp);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(data, 1, size, f), size);
    fclose(f);
    int fd = open(path, O_RDONLY);
    dr_s3_put_opts po = {0};
    po.part_size = 5 * MIB;
    po.concurrency = 3;
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_s3_put_file(aws, "us-east-1", bucket, key, fd, (int64_t)size, &po, &err) == 0,
              "put %s: %s", key, err.msg);
    close(fd);
    unlink(path);
    free(path);
    char h[65];
    sha_hex(data, size, h);
    json_object_set_new(want, key, json_pack("{s:s, s:I}", "sha256", h, "size", (json_int_t)size));
    free(data);
}

static void make_bucket(char *bucket, size_t n, const char *tag)
{
    snprintf(bucket, n, "drctl-itest-obj-%s-%s", tag, test_suffix());
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_s3_create_bucket(aws, "us-east-1", bucket, &err) == 0, "%s", err.msg);
}

/* ---- capture and read back ----------------------------------------------- */

static char *capture(dr_aws *c, const char *bucket, uint64_t version, const json_t *parent,
                     size_t max_buffered, json_t **index, dr_objects_result *res, dr_err *err)
{
    char *path = dr_xasprintf("%s/%s-v%llu.bundle", tmp, bucket, (unsigned long long)version);
    dr_bundle_wopts wo = {.stack = "itest",
                          .region = "us-east-1",
                          .version = version,
                          .parent = parent ? version - 1 : 0,
                          .kind = parent ? DR_BUNDLE_INCREMENTAL : DR_BUNDLE_FULL,
                          .captured_at = 1700000000,
                          .recovery_pubkey_pem = rec_pub};
    dr_bundle_writer *w = NULL;
    cr_assert(dr_bundle_writer_open(path, &wo, &w, err) == 0, "%s", err->msg);
    dr_objects_opts oo = {.aws = c,
                          .region = "us-east-1",
                          .bucket = bucket,
                          .concurrency = 8,
                          .max_buffered = max_buffered,
                          .parent_index = parent,
                          .version = version,
                          .log = &quiet_log};
    if (dr_objects_capture(w, &oo, index, res, err) != 0) {
        dr_bundle_writer_abort(w);
        free(path);
        return NULL;
    }
    cr_assert(dr_bundle_writer_close(w, NULL, err) == 0, "%s", err->msg);
    return path;
}

typedef struct readback {
    json_t *shas; /* entry path -> hex SHA-256 of its bytes */
    dr_buf index;
    EVP_MD_CTX *md;
    int is_index;
    size_t n_objects;
} readback;

static int rb_begin(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    readback *r = ud;
    r->is_index = strcmp(e->path, DR_OBJECTS_INDEX_PATH) == 0;
    if (!r->is_index && strncmp(e->path, DR_OBJECTS_PREFIX, strlen(DR_OBJECTS_PREFIX)) != 0)
        return 1;
    EVP_DigestInit_ex(r->md, EVP_sha256(), NULL);
    return 0;
}

static int rb_data(void *ud, const dr_bundle_entry *e, const void *p, size_t n, dr_err *err)
{
    readback *r = ud;
    if (r->is_index)
        dr_buf_append(&r->index, p, n);
    else
        EVP_DigestUpdate(r->md, p, n);
    return 0;
}

static int rb_end(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    readback *r = ud;
    if (r->is_index)
        return 0;
    unsigned char md[32];
    EVP_DigestFinal_ex(r->md, md, NULL);
    char h[65];
    for (int i = 0; i < 32; i++)
        sprintf(h + 2 * i, "%02x", md[i]);
    json_object_set_new(r->shas, e->path, json_string(h));
    r->n_objects++;
    return 0;
}

/* Opens, verifies and reads a bundle; *index gets its s3/index.json. */
static json_t *read_bundle(const char *path, json_t **index)
{
    dr_bundle_keyring kr = {.recovery_privkey_pem = rec_priv};
    dr_bundle_reader *r = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_bundle_reader_open(path, &kr, &r, &err) == 0, "%s", err.msg);
    readback rb = {.shas = json_object(), .md = EVP_MD_CTX_new()};
    dr_bundle_visitor v = {rb_begin, rb_data, rb_end, &rb};
    cr_assert(dr_bundle_reader_scan(r, &v, &err) == 0, "%s", err.msg);
    dr_bundle_reader_close(r);
    EVP_MD_CTX_free(rb.md);
    json_error_t jerr;
    *index = json_loadb(rb.index.data ? rb.index.data : "", rb.index.len, 0, &jerr);
    cr_assert(*index, "s3/index.json: %s", jerr.text);
    dr_buf_free(&rb.index);
    return rb.shas;
}

static const json_t *index_find(const json_t *index, const char *key)
{
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(index, "objects"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "key")), key) == 0)
            return e;
    }
    return NULL;
}

/* Every wanted object is in the index with its size and SHA-256, and its
 * bytes are in `shas` (this bundle) when the index says this bundle holds
 * them. Returns how many this bundle holds. */
static size_t check_against(const json_t *want, const json_t *index, const json_t *shas,
                            uint64_t version)
{
    const json_t *objs = json_object_get(index, "objects");
    cr_expect_eq(json_array_size(objs), json_object_size(want), "index has %zu objects, want %zu",
                 json_array_size(objs), json_object_size(want));
    /* Sorted by key, bytewise. */
    for (size_t i = 1; i < json_array_size(objs); i++)
        cr_expect(strcmp(json_string_value(json_object_get(json_array_get(objs, i - 1), "key")),
                         json_string_value(json_object_get(json_array_get(objs, i), "key"))) < 0,
                  "index not sorted at %zu", i);
    size_t held = 0;
    const char *key;
    const json_t *w;
    json_object_foreach((json_t *)want, key, w)
    {
        const json_t *e = index_find(index, key);
        cr_assert(e, "index lacks %s", key);
        const char *sha = json_string_value(json_object_get(w, "sha256"));
        cr_expect_str_eq(json_string_value(json_object_get(e, "sha256")), sha, "%s", key);
        cr_expect_eq(json_integer_value(json_object_get(e, "size")),
                     json_integer_value(json_object_get(w, "size")), "%s", key);
        char path[76];
        dr_objects_entry_path(key, path);
        cr_expect_str_eq(json_string_value(json_object_get(e, "entry")), path, "%s", key);
        if ((uint64_t)json_integer_value(json_object_get(e, "bundle")) == version) {
            const char *got = json_string_value(json_object_get(shas, path));
            cr_expect(got && strcmp(got, sha) == 0, "%s: bundle bytes %s, uploaded %s", key,
                      got ? got : "(missing)", sha);
            held++;
        }
    }
    return held;
}

static void expect_json_str(const json_t *idx_val, const json_t *cli_val, const char *what,
                            const char *key)
{
    const char *a = json_string_value(idx_val), *b = json_string_value(cli_val);
    if (!b)
        cr_expect(json_is_null(idx_val), "%s of %s: index %s, head-object none", what, key,
                  a ? a : "?");
    else
        cr_expect(a && strcmp(a, b) == 0, "%s of %s: index %s, head-object %s", what, key,
                  a ? a : "null", b);
}

/* The index's metadata of `key` against `aws s3api head-object`. */
static void check_head(const char *bucket, const json_t *index, const char *key)
{
    const json_t *e = index_find(index, key);
    cr_assert(e, "index lacks %s", key);
    char *q = dr_xstrdup(key); /* keys here hold no single quote */
    json_t *h = aws_cli("us-east-1", "s3api head-object --bucket %s --key '%s'", bucket, q);
    free(q);
    char etag[80];
    snprintf(etag, sizeof(etag), "%s", json_string_value(json_object_get(h, "ETag")));
    size_t n = strlen(etag);
    if (n >= 2 && etag[0] == '"') {
        memmove(etag, etag + 1, n - 2);
        etag[n - 2] = '\0';
    }
    cr_expect_str_eq(json_string_value(json_object_get(e, "etag")), etag, "etag of %s", key);
    cr_expect_eq(json_integer_value(json_object_get(e, "size")),
                 json_integer_value(json_object_get(h, "ContentLength")), "size of %s", key);
    expect_json_str(json_object_get(e, "content_type"), json_object_get(h, "ContentType"),
                    "content type", key);
    expect_json_str(json_object_get(e, "content_encoding"), json_object_get(h, "ContentEncoding"),
                    "content encoding", key);
    expect_json_str(json_object_get(e, "cache_control"), json_object_get(h, "CacheControl"),
                    "cache control", key);
    expect_json_str(json_object_get(e, "content_disposition"),
                    json_object_get(h, "ContentDisposition"), "content disposition", key);
    expect_json_str(json_object_get(e, "sse"), json_object_get(h, "ServerSideEncryption"), "sse",
                    key);
    const json_t *hm = json_object_get(h, "Metadata");
    const json_t *im = json_object_get(e, "metadata");
    cr_expect(json_is_object(im), "metadata of %s", key);
    cr_expect(json_equal((json_t *)(hm ? hm : json_object_get(e, "metadata")), (json_t *)im),
              "metadata of %s differs", key);
    const char *sc = json_string_value(json_object_get(h, "StorageClass"));
    cr_expect_str_eq(json_string_value(json_object_get(e, "storage_class")), sc ? sc : "STANDARD",
                     "storage class of %s", key);
    json_decref(h);
}

/* ---- full, then incremental ---------------------------------------------- */

Test(objects, full_then_incremental_capture)
{
    char bucket[96];
    make_bucket(bucket, sizeof(bucket), "main");
    json_t *want = json_object();
    put_obj(want, bucket, "empty", 0, 1, NULL, NULL, 0);
    put_obj(want, bucket, "one-byte", 1, 2, "application/octet-stream", NULL, 0);
    put_obj(want, bucket, "folder/marker/", 0, 3, NULL, NULL, 0);
    put_obj(want, bucket, "with space/a b  c.txt", 1234, 4, "text/plain; charset=utf-8", NULL, 1);
    put_obj(want, bucket, "a/b/c/d/e/f/g/h/i/j/k/deep.json", 777, 5, "application/json", NULL, 1);
    put_obj(want, bucket, "sse/aes256.bin", 300001, 6, NULL, "AES256", 1);
    put_obj(want, bucket, "sse/aes256-small", 17, 7, "text/plain", "AES256", 0);
    put_obj(want, bucket, "odd chars/~tilde-dash_under.dot", 99, 8, NULL, NULL, 0);
    put_obj(want, bucket, "io-boundary/262144", 262144, 9, NULL, NULL, 0);
    put_obj(want, bucket, "io-boundary/262145", 262145, 10, NULL, NULL, 0);
    for (int i = 0; i < 186; i++) {
        char key[64];
        snprintf(key, sizeof(key), "data/%02d/object-%03d.bin", i % 7, i);
        size_t size = (size_t)((uint64_t)i * 7919u * 13u % 400000u);
        put_obj(want, bucket, key, size, 100 + (uint64_t)i, i % 3 ? "image/png" : NULL,
                i % 11 == 0 ? "AES256" : NULL, i % 5 == 0);
    }
    /* Multi-chunk: one PUT (an MD5 ETag, checked across chunks) and
     * multipart (no MD5 to check). */
    put_obj(want, bucket, "big/single-put-21MiB.bin", 21 * MIB + 5, 1000, NULL, "AES256", 1);
    put_obj(want, bucket, "big/single-put-29MiB.bin", 29 * MIB + 333, 1001, "video/mp4", NULL, 0);
    put_multipart(want, bucket, "big/multipart 25MiB.bin", 25 * MIB + 7, 1002);
    /* Headers the drctl uploader does not send, through the AWS CLI. */
    char *body = dr_xasprintf("%s/hdrs.txt", tmp);
    FILE *f = fopen(body, "w");
    fputs("headers\n", f);
    fclose(f);
    json_decref(aws_cli("us-east-1",
                        "s3api put-object --bucket %s --key cli/headers.txt --body %s "
                        "--content-type text/css --content-encoding identity "
                        "--cache-control 'max-age=60' "
                        "--content-disposition 'attachment; filename=\"x.css\"' "
                        "--metadata k1=v1,k2=v2",
                        bucket, body));
    char h[65];
    sha_hex("headers\n", 8, h);
    json_object_set_new(want, "cli/headers.txt", json_pack("{s:s, s:I}", "sha256", h, "size", 8));
    free(body);
    size_t n = json_object_size(want);
    cr_assert_geq(n, 200);

    /* Full capture. */
    dr_err err;
    dr_err_clear(&err);
    json_t *index1 = NULL;
    dr_objects_result res;
    char *b1 = capture(aws, bucket, 1, NULL, 0, &index1, &res, &err);
    cr_assert(b1, "capture: %s", err.msg);
    cr_expect_eq(res.listed, n);
    cr_expect_eq(res.captured, n);
    cr_expect_eq(res.referenced, 0);
    cr_expect_eq(res.bytes_captured, res.bytes_total);
    json_t *idx_in_bundle = NULL;
    json_t *shas = read_bundle(b1, &idx_in_bundle);
    cr_expect(json_equal(idx_in_bundle, index1), "index_out differs from s3/index.json");
    cr_expect_eq(check_against(want, idx_in_bundle, shas, 1), n);
    cr_expect_eq(json_object_size(shas), n);
    cr_expect_str_eq(json_string_value(json_object_get(index1, "bucket")), bucket);
    cr_expect_eq(json_integer_value(json_object_get(index1, "format")), 1);
    cr_expect(strlen(json_string_value(json_object_get(index1, "captured_at"))) == 20);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(index1, "totals"), "bytes")),
                 (json_int_t)res.bytes_total);
    /* Metadata against the AWS CLI, for every kind of object. */
    static const char *const probes[] = {"empty",
                                         "one-byte",
                                         "folder/marker/",
                                         "with space/a b  c.txt",
                                         "a/b/c/d/e/f/g/h/i/j/k/deep.json",
                                         "sse/aes256.bin",
                                         "sse/aes256-small",
                                         "data/00/object-000.bin",
                                         "data/01/object-001.bin",
                                         "data/05/object-005.bin",
                                         "big/single-put-21MiB.bin",
                                         "big/single-put-29MiB.bin",
                                         "big/multipart 25MiB.bin",
                                         "cli/headers.txt"};
    for (size_t i = 0; i < sizeof(probes) / sizeof(*probes); i++)
        check_head(bucket, index1, probes[i]);
    const json_t *hd = index_find(index1, "cli/headers.txt");
    cr_expect_str_eq(json_string_value(json_object_get(hd, "cache_control")), "max-age=60");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(hd, "metadata"), "k2")),
                     "v2");
    /* Every other object's size and ETag against the CLI's listing. */
    json_t *ls = aws_cli("us-east-1", "s3api list-objects-v2 --bucket %s", bucket);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(ls, "Contents"), i, c)
    {
        const char *k = json_string_value(json_object_get(c, "Key"));
        const json_t *e = index_find(index1, k);
        cr_assert(e, "index lacks %s", k);
        char et[80];
        snprintf(et, sizeof(et), "\"%s\"", json_string_value(json_object_get(e, "etag")));
        cr_expect_str_eq(json_string_value(json_object_get(c, "ETag")), et, "%s", k);
    }
    json_decref(ls);
    json_decref(shas);
    json_decref(idx_in_bundle);

    /* About 1 %: overwrite 2, add 1, delete 1. */
    put_obj(want, bucket, "data/03/object-010.bin", 5555, 5001, NULL, NULL, 1);
    put_obj(want, bucket, "with space/a b  c.txt", 4321, 5002, "text/plain", NULL, 0);
    put_obj(want, bucket, "new/added object.txt", 100, 5003, NULL, NULL, 0);
    cr_assert(dr_s3_delete(aws, "us-east-1", bucket, "data/04/object-004.bin", &err) == 0, "%s",
              err.msg);
    json_object_del(want, "data/04/object-004.bin");

    json_t *index2 = NULL;
    char *b2 = capture(aws, bucket, 2, index1, 0, &index2, &res, &err);
    cr_assert(b2, "incremental capture: %s", err.msg);
    cr_expect_eq(res.listed, n);
    cr_expect_eq(res.captured, 3);
    cr_expect_eq(res.referenced, n - 3);
    cr_expect_eq(res.bytes_captured, 5555 + 4321 + 100);
    shas = read_bundle(b2, &idx_in_bundle);
    cr_expect_eq(json_object_size(shas), 3, "the incremental bundle holds %zu objects",
                 json_object_size(shas));
    cr_expect_eq(check_against(want, idx_in_bundle, shas, 2), 3);
    cr_expect(index_find(index2, "data/04/object-004.bin") == NULL, "deleted key still indexed");
    json_array_foreach(json_object_get(index2, "objects"), i, c)
    {
        const char *k = json_string_value(json_object_get(c, "key"));
        int changed = strcmp(k, "data/03/object-010.bin") == 0 ||
                      strcmp(k, "with space/a b  c.txt") == 0 ||
                      strcmp(k, "new/added object.txt") == 0;
        cr_expect_eq(json_integer_value(json_object_get(c, "bundle")), changed ? 2 : 1, "%s", k);
        if (!changed) /* copied whole from the parent */
            cr_expect(json_equal(c, (json_t *)index_find(index1, k)), "%s differs from parent", k);
    }
    check_head(bucket, index2, "with space/a b  c.txt");

    /* A third capture with nothing changed references everything, keeping
     * each entry's bundle number (1 or 2). */
    json_t *index3 = NULL;
    char *b3 = capture(aws, bucket, 3, index2, 0, &index3, &res, &err);
    cr_assert(b3, "%s", err.msg);
    cr_expect_eq(res.captured, 0);
    cr_expect_eq(res.referenced, n);
    json_t *objs2 = json_object_get(index2, "objects");
    json_t *objs3 = json_object_get(index3, "objects");
    cr_expect(json_equal(objs2, objs3), "an unchanged bucket indexes differently");

    json_decref(shas);
    json_decref(idx_in_bundle);
    json_decref(index1);
    json_decref(index2);
    json_decref(index3);
    json_decref(want);
    free(b1);
    free(b2);
    free(b3);
}

/* Keys moto cannot check signatures for: with the checks off. */
Test(objects, unicode_and_special_keys)
{
    sandbox_auth(0);
    char bucket[96];
    make_bucket(bucket, sizeof(bucket), "uni");
    json_t *want = json_object();
    static const char *const keys[] = {"日本語/キー.txt",
                                       "naïve ü/file.bin",
                                       "emoji/😀 + plus (paren).txt",
                                       "a+b/c(d)e",
                                       "spaces  two/and%percent",
                                       "odd chars/*star!bang&amp=eq;semi,comma@at$dollar'quote"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
        put_obj(want, bucket, keys[i], 1000 * i + 3, 300 + i, "text/plain", NULL, 1);
    dr_err err;
    dr_err_clear(&err);
    json_t *index = NULL;
    dr_objects_result res;
    char *b = capture(aws, bucket, 1, NULL, 0, &index, &res, &err);
    cr_assert(b, "%s", err.msg);
    cr_expect_eq(res.captured, sizeof(keys) / sizeof(*keys));
    json_t *idx = NULL;
    json_t *shas = read_bundle(b, &idx);
    cr_expect_eq(check_against(want, idx, shas, 1), sizeof(keys) / sizeof(*keys));
    check_head(bucket, idx, "日本語/キー.txt");
    check_head(bucket, idx, "emoji/😀 + plus (paren).txt");
    json_decref(shas);
    json_decref(idx);
    json_decref(index);
    json_decref(want);
    free(b);
}

/* ---- memory -------------------------------------------------------------- */

static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

Test(objects, memory_stays_bounded)
{
    if (UNDER_ASAN)
        cr_skip_test("RSS is meaningless under AddressSanitizer");
    char bucket[96];
    make_bucket(bucket, sizeof(bucket), "mem");
    json_t *want = json_object();
    /* 88 MiB: four big objects (chunked) and many middling ones. */
    for (int i = 0; i < 4; i++) {
        char key[32];
        snprintf(key, sizeof(key), "big/%d", i);
        put_obj(want, bucket, key, 17 * MIB + (size_t)i, 2000 + (uint64_t)i, NULL, NULL, 0);
    }
    for (int i = 0; i < 40; i++) {
        char key[32];
        snprintf(key, sizeof(key), "mid/%02d", i);
        put_obj(want, bucket, key, 500 * 1024 + (size_t)i * 1000, 3000 + (uint64_t)i, NULL, NULL,
                0);
    }
    int fds[2];
    cr_assert(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        long base = status_kib("VmRSS");
        dr_aws *c = NULL;
        dr_aws_opts o = {0};
        o.log = &quiet_log;
        dr_err err;
        dr_err_clear(&err);
        int ok = dr_aws_new(&o, &c, &err) == 0;
        char *path = dr_xasprintf("%s/mem.bundle", tmp);
        dr_bundle_wopts wo = {.stack = "itest",
                              .region = "us-east-1",
                              .version = 1,
                              .captured_at = 1700000000,
                              .recovery_pubkey_pem = rec_pub};
        dr_bundle_writer *w = NULL;
        ok = ok && dr_bundle_writer_open(path, &wo, &w, &err) == 0;
        dr_objects_opts oo = {.aws = c,
                              .region = "us-east-1",
                              .bucket = bucket,
                              .concurrency = 8,
                              .max_buffered = 16 * MIB,
                              .version = 1,
                              .log = &quiet_log};
        dr_objects_result res = {0};
        ok = ok && dr_objects_capture(w, &oo, NULL, &res, &err) == 0;
        ok = ok && dr_bundle_writer_close(w, NULL, &err) == 0;
        long hwm = status_kib("VmHWM");
        char line[1700];
        int len = snprintf(line, sizeof(line), "%d %ld %ld %llu %s\n", ok, base, hwm,
                           (unsigned long long)res.bytes_captured, ok ? "" : err.msg);
        if (write(fds[1], line, (size_t)len) != len)
            _exit(3);
        dr_aws_free(c);
        free(path);
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    char line[1700] = "";
    FILE *f = fdopen(fds[0], "r");
    cr_assert(fgets(line, sizeof(line), f), "the child said nothing");
    fclose(f);
    int st = 0;
    waitpid(pid, &st, 0);
    int ok = 0;
    long base = 0, hwm = 0;
    unsigned long long bytes = 0;
    cr_assert(sscanf(line, "%d %ld %ld %llu", &ok, &base, &hwm, &bytes) == 4, "%s", line);
    cr_assert(ok, "capture in the child failed: %s", line);
    cr_expect_geq(bytes, 80ull * MIB);
    long growth = hwm - base;
    fprintf(stderr,
            "objects memory: %llu bytes captured, baseline RSS %ld KiB, peak %ld KiB, "
            "growth %ld KiB (max_buffered 16 MiB)\n",
            bytes, base, hwm, growth);
    cr_expect_lt(growth, 60 * 1024, "peak RSS grew by %ld KiB", growth);

    json_t *idx = NULL;
    char *path = dr_xasprintf("%s/mem.bundle", tmp);
    json_t *shas = read_bundle(path, &idx);
    cr_expect_eq(check_against(want, idx, shas, 1), json_object_size(want));
    json_decref(shas);
    json_decref(idx);
    json_decref(want);
    free(path);
}

/* ---- failures ------------------------------------------------------------ */

/* An object overwritten between the listing and its download fails the
 * capture as a verification error naming the key, rather than capturing a
 * version the listing did not see. The proxy holds the object's GET for 2 s
 * while a child process overwrites it. */
Test(objects, overwrite_during_backup_is_a_verify_error)
{
    char bucket[96];
    make_bucket(bucket, sizeof(bucket), "race");
    json_t *want = json_object();
    put_obj(want, bucket, "victim.bin", 3 * MIB, 4000, NULL, NULL, 0);
    /* Every GET waits 2 s in the proxy: time to overwrite after the list. */
    fault_proxy px;
    proxy_start(&px, "--fail-rate 1 --faults slow --slow-seconds 2 --match 'GET /%s/victim'",
                bucket);
    dr_aws *slow = new_client(px.url);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        usleep(700 * 1000);
        unsigned char *d = gen(4001, 3 * MIB);
        dr_aws *c = new_client(NULL);
        dr_err e;
        dr_err_clear(&e);
        int rc = dr_s3_put_buffer(c, "us-east-1", bucket, "victim.bin", d, 3 * MIB, NULL, &e);
        dr_aws_free(c);
        free(d);
        _exit(rc == 0 ? 0 : 1);
    }
    dr_err err;
    dr_err_clear(&err);
    dr_objects_result res;
    json_t *index = NULL;
    char *b = capture(slow, bucket, 1, NULL, 0, &index, &res, &err);
    int st = 0;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the overwrite failed");
    cr_expect(b == NULL, "a capture mixing versions succeeded");
    cr_expect_eq(err.code, DR_E_VERIFY, "%s", err.msg);
    cr_expect(strstr(err.msg, "victim.bin") && strstr(err.msg, "changed during backup"), "%s",
              err.msg);
    cr_expect(index == NULL);
    cr_log_info("the error: %s", err.msg);
    dr_aws_free(slow);
    proxy_stop(&px);
    json_decref(want);
    free(b);
}

/* A fake S3 whose object bytes do not match their MD5 ETag (moto cannot be
 * made to corrupt what it stores): the capture fails naming the key. */
static const char fake_s3_py[] =
    "import hashlib, http.server, sys\n"
    "good = b'hello world'\n"
    "etag = hashlib.md5(good).hexdigest()\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "    def do_GET(self):\n"
    "        if 'list-type=2' in self.path:\n"
    "            body = ('<?xml "
    "version=\"1.0\"?><ListBucketResult><IsTruncated>false</IsTruncated>'\n"
    "                    "
    "'<Contents><Key>rotten.txt</Key><Size>11</Size><ETag>&quot;%s&quot;</ETag>'\n"
    "                    '<LastModified>2024-01-01T00:00:00.000Z</LastModified></Contents>'\n"
    "                    '</ListBucketResult>' % etag).encode()\n"
    "            ctype = 'application/xml'\n"
    "        else:\n"
    "            body = b'hello wor1d'\n"
    "            ctype = 'text/plain'\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Type', ctype)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.send_header('ETag', '\"%s\"' % etag)\n"
    "        self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
    "print(s.server_address[1], flush=True)\n"
    "s.timeout = 60\n"
    "for _ in range(20):\n"
    "    s.handle_request()\n";

Test(objects, bytes_not_matching_the_md5_etag_are_a_verify_error)
{
    char *script = dr_xasprintf("%s/fake_s3.py", tmp);
    FILE *f = fopen(script, "w");
    cr_assert(f);
    fputs(fake_s3_py, f);
    fclose(f);
    int fds[2];
    cr_assert(pipe(fds) == 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("python3", "python3", script, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *pf = fdopen(fds[0], "r");
    int port = 0;
    cr_assert(fscanf(pf, "%d", &port) == 1, "the fake S3 did not start");
    fclose(pf);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    dr_aws *c = new_client(url);
    dr_err err;
    dr_err_clear(&err);
    dr_objects_result res;
    char *b = capture(c, "rotten-bucket", 1, NULL, 0, NULL, &res, &err);
    cr_expect(b == NULL, "corrupt bytes were captured");
    cr_expect_eq(err.code, DR_E_VERIFY, "%s", err.msg);
    cr_expect(strstr(err.msg, "rotten.txt") && strstr(err.msg, "MD5"), "%s", err.msg);
    cr_log_info("the error: %s", err.msg);
    dr_aws_free(c);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    free(script);
    free(b);
}

/* 30 % of requests throttled, 503 or broken, and bodies cut mid-transfer: the capture still
 * holds exactly the right bytes. */
Test(objects, faults_are_retried_and_bytes_stay_exact)
{
    char bucket[96];
    make_bucket(bucket, sizeof(bucket), "fault");
    json_t *want = json_object();
    for (int i = 0; i < 60; i++) {
        char key[32];
        snprintf(key, sizeof(key), "f/%02d", i);
        put_obj(want, bucket, key, (size_t)i * 3001 % 70000, 6000 + (uint64_t)i, NULL, NULL, 0);
    }
    put_obj(want, bucket, "f/big", 20 * MIB + 99, 6100, NULL, NULL, 0);
    fault_proxy px;
    /* Answers that fail (throttling, 503, a broken body) and bodies cut
     * mid-transfer. Bare connection resets are left to itest_retry: with
     * parallel ranged GETs of one big object, a reset answer and a cut of
     * the same request could exhaust its attempts on a loaded machine. */
    proxy_start(&px, "--fail-rate 0.3 --seed 424242 --max-consecutive 2 "
                     "--faults throttle,503,partial "
                     "--reset-after-bytes 1000000 --reset-count 3");
    /* One request can meet 2 faults in a row and all 3 cuts: 6 attempts
     * always suffice; allow 8. */
    setenv("AWS_MAX_ATTEMPTS", "8", 1);
    dr_aws *c = new_client(px.url);
    dr_err err;
    dr_err_clear(&err);
    dr_objects_result res;
    json_t *index = NULL;
    char *b = capture(c, bucket, 1, NULL, 0, &index, &res, &err);
    cr_assert(b, "capture through faults: %s", err.msg);
    json_t *ps = proxy_stats(&px);
    long faults = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(ps, "faults"), k, v) faults += (long)json_integer_value(v);
    cr_expect_geq(faults, 10, "only %ld faults injected", faults);
    cr_expect_geq(json_integer_value(json_object_get(ps, "cuts")), 1);
    dr_aws_stats st;
    dr_aws_get_stats(c, &st);
    cr_expect_geq(st.retries, 5);
    cr_log_info("%ld faults and %lld cut bodies injected, %ld requests, %ld retries", faults,
                (long long)json_integer_value(json_object_get(ps, "cuts")), st.requests,
                st.retries);
    json_t *idx = NULL;
    json_t *shas = read_bundle(b, &idx);
    cr_expect_eq(check_against(want, idx, shas, 1), json_object_size(want));
    json_decref(shas);
    json_decref(idx);
    json_decref(index);
    json_decref(ps);
    dr_aws_free(c);
    proxy_stop(&px);
    json_decref(want);
    free(b);
}
