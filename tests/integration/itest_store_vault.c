/*
 * itest_store_vault.c - the S3 vault store against moto (signatures
 * checked): a bucket with Object Lock in us-west-2; a real bundle (written
 * by the bundle writer, opened with a recovery key) published, locked,
 * listed, verified through ranged GETs and fetched; an interrupted
 * multipart upload resumed part for part; stray uploads cleaned up. The AWS
 * CLI is the independent check of what S3 holds.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws/client.h"
#include "backup/store.h"
#include "bundle/bundle.h"
#include "sandbox_env.h"
#include "util/mem.h"

#define REGION "us-west-2"
#define STACK "vlt"

static dr_log quiet_log;
static dr_aws *aws;
static char tmp[64];
static char bucket[64];
static char *pub, *priv;

static void gen_recovery(void)
{
    EVP_PKEY *pk = EVP_RSA_gen(2048);
    cr_assert(pk);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, pk);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    pub = dr_xstrndup(p, (size_t)n);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(b, &p);
    priv = dr_xstrndup(p, (size_t)n);
    BIO_free(b);
    EVP_PKEY_free(pk);
}

static void setup(void)
{
    sandbox_load_env();
    dr_log_init(&quiet_log);
    quiet_log.progress = 0;
    quiet_log.level = DR_LOG_ERROR;
    dr_aws_opts o = {0};
    o.log = &quiet_log;
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_aws_new(&o, &aws, &err) == 0, "dr_aws_new: %s", err.msg);
    snprintf(tmp, sizeof(tmp), "/tmp/drctl-itest-vault-XXXXXX");
    cr_assert(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
    static int n;
    snprintf(bucket, sizeof(bucket), "drctl-vault-%s-%d", test_suffix(), n++);
    json_t *j = aws_cli(REGION,
                        "s3api create-bucket --bucket %s --create-bucket-configuration "
                        "LocationConstraint=" REGION " --object-lock-enabled-for-bucket",
                        bucket);
    json_decref(j);
    gen_recovery();
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void teardown(void)
{
    dr_aws_free(aws);
    aws = NULL;
    free(pub);
    dr_free_secret(priv);
    pub = priv = NULL;
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(store_vault, .init = setup, .fini = teardown, .timeout = 600);

/* Random bytes, so the bundle is about `size` bytes whatever zstd does. */
typedef struct rnd {
    size_t left;
} rnd;

static long rnd_read(void *ud, char *buf, size_t n)
{
    rnd *r = ud;
    size_t take = n < r->left ? n : r->left;
    RAND_bytes((unsigned char *)buf, (int)take);
    r->left -= take;
    return (long)take;
}

/* Writes a bundle of about data_size bytes; returns its path. */
static char *make_bundle(uint64_t version, size_t data_size, int64_t captured_at)
{
    char *path = dr_xasprintf("%s/src-v%llu.drb", tmp, (unsigned long long)version);
    dr_bundle_wopts o = {
        .stack = STACK,
        .region = "us-east-1",
        .version = version,
        .captured_at = captured_at,
        .kind = DR_BUNDLE_FULL,
        .encryption = DR_BUNDLE_ENC_AES,
        .recovery_pubkey_pem = pub,
        .log = &quiet_log,
    };
    dr_err err;
    dr_err_clear(&err);
    dr_bundle_writer *w = NULL;
    cr_assert_eq(dr_bundle_writer_open(path, &o, &w, &err), 0, "%s", err.msg);
    const char cfg[] = "stack: vlt\n";
    cr_assert_eq(
        dr_bundle_writer_add_buffer(w, "config/profile.yaml", cfg, sizeof(cfg) - 1, NULL, &err), 0,
        "%s", err.msg);
    rnd r = {data_size};
    cr_assert_eq(dr_bundle_writer_add_stream(w, "db/dump.pgc", rnd_read, &r, NULL, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(dr_bundle_writer_add_secret(w, "master-key", "sk-1", 4, &err), 0, "%s", err.msg);
    cr_assert_eq(dr_bundle_writer_close(w, NULL, &err), 0, "%s", err.msg);
    return path;
}

static json_t *summary_for(uint64_t v, int64_t captured_at, const char *path)
{
    char sha[65];
    file_sha256(path, sha);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    return json_pack("{s:i, s:s, s:I, s:I, s:s, s:I, s:s, s:I, s:s, s:b, s:I, s:[], s:n}", "format",
                     1, "stack", STACK, "version", (json_int_t)v, "parent", (json_int_t)0, "kind",
                     "full", "captured_at", (json_int_t)captured_at, "source_region", "us-east-1",
                     "size", (json_int_t)st.st_size, "file_sha256", sha, "encrypted", 1,
                     "verified_at", (json_int_t)captured_at, "snapshots", "vault");
}

static dr_store *open_vault(const char *prefix)
{
    char *spec = dr_xasprintf("s3://%s/%s", bucket, prefix);
    dr_store *s = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_store_open(spec, aws, REGION, &s, &err), 0, "%s", err.msg);
    free(spec);
    return s;
}

static void verify_over_s3(dr_store *s, const dr_store_entry *e)
{
    dr_err err;
    dr_err_clear(&err);
    dr_bundle_source src;
    void *ud = NULL;
    cr_assert_eq(dr_store_open_source(s, e, &src, &ud, &err), 0, "%s", err.msg);
    cr_expect_eq(src.size, e->size);
    dr_bundle_keyring kr = {.recovery_privkey_pem = priv};
    dr_bundle_reader *r = NULL;
    cr_assert_eq(dr_bundle_reader_open_source(&src, &kr, &r, &err), 0, "%s", err.msg);
    const dr_bundle_info *in = dr_bundle_reader_info(r);
    cr_expect_eq(in->version, e->version);
    cr_expect(strstr(in->opened_with, "recovery"), "%s", in->opened_with);
    cr_expect_eq(dr_bundle_reader_verify(r, &err), 0, "%s", err.msg);
    dr_bundle_reader_close(r);
    dr_store_source_free(ud);
}

/* Multipart uploads whose key starts with prefix. Listed without --prefix:
 * moto refuses a signed ListMultipartUploads whose prefix holds a '/'
 * (see sent_prefix in store.c). */
static int upload_count(const char *prefix)
{
    json_t *j = aws_cli(REGION, "s3api list-multipart-uploads --bucket %s", bucket);
    int n = 0;
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(j, "Uploads"), i, u)
    {
        const char *k = json_string_value(json_object_get(u, "Key"));
        if (k && strncmp(k, prefix, strlen(prefix)) == 0)
            n++;
    }
    json_decref(j);
    return n;
}

Test(store_vault, publish_lock_list_verify_fetch_delete)
{
    int64_t now = (int64_t)time(NULL);
    char *path = make_bundle(1, 300 * 1024, now);
    json_t *sum = summary_for(1, now, path);
    dr_store *s = open_vault("dr/");
    char *desc = dr_xasprintf("s3://%s/dr (" REGION ")", bucket);
    cr_expect_str_eq(dr_store_describe(s), desc);
    free(desc);
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_store_publish(s, STACK, 1, path, sum, 3, &err), 0, "%s", err.msg);
    dr_store_publish_stats ps;
    dr_store_get_publish_stats(s, &ps);
    cr_expect_eq(ps.locked, 1, "Object Lock retention set");
    cr_expect_eq(ps.resumed, 0);
    cr_expect(access(path, F_OK) == 0, "the staged file stays for the caller");

    /* What S3 holds, says the AWS CLI. */
    json_t *lo = aws_cli(REGION, "s3api list-objects-v2 --bucket %s --prefix dr", bucket);
    json_t *contents = json_object_get(lo, "Contents");
    cr_assert_eq(json_array_size(contents), 2, "bundle and summary");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(contents, 0), "Key")),
                     "dr/bundles/vlt/vlt-v000001.drb");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(contents, 1), "Key")),
                     "dr/bundles/vlt/vlt-v000001.json");
    json_decref(lo);
    /* head-object, not get-object-retention: moto 5.2.1 has no
     * GetObjectRetention (it answers 500). */
    json_t *ret = aws_cli(
        REGION, "s3api head-object --bucket %s --key dr/bundles/vlt/vlt-v000001.drb", bucket);
    cr_expect_str_eq(json_string_value(json_object_get(ret, "ObjectLockMode")), "GOVERNANCE");
    const char *until = json_string_value(json_object_get(ret, "ObjectLockRetainUntilDate"));
    cr_assert_not_null(until);
    char want[16];
    time_t ut = (time_t)(now + 3 * 86400);
    struct tm tm;
    gmtime_r(&ut, &tm);
    strftime(want, sizeof(want), "%Y-%m-%d", &tm);
    cr_expect(strncmp(until, want, 10) == 0, "retain until %s, expected %s", until, want);
    json_decref(ret);

    /* list */
    dr_store_list l;
    cr_assert_eq(dr_store_list(s, STACK, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.n, 1);
    cr_expect_eq(l.v[0].version, 1);
    char *loc = dr_xasprintf("s3://%s/dr/bundles/vlt/vlt-v000001.drb", bucket);
    cr_expect_str_eq(l.v[0].location, loc);
    free(loc);
    cr_assert_not_null(l.v[0].summary, "the summary was uploaded");
    json_t *vault = json_object_get(l.v[0].summary, "vault");
    cr_expect_str_eq(json_string_value(json_object_get(vault, "bucket")), bucket);
    cr_expect_str_eq(json_string_value(json_object_get(vault, "key")),
                     "dr/bundles/vlt/vlt-v000001.drb");
    cr_expect_eq(dr_store_list_max_version(&l), 1);

    /* Random access through ranged GETs, every hash and tag. */
    verify_over_s3(s, &l.v[0]);

    /* fetch */
    char *dest = dr_xasprintf("%s/fetched.drb", tmp);
    cr_assert_eq(dr_store_fetch(s, &l.v[0], dest, &err), 0, "%s", err.msg);
    char a[65], b[65];
    file_sha256(path, a);
    file_sha256(dest, b);
    cr_expect_str_eq(a, b);
    cr_expect_str_eq(json_string_value(json_object_get(l.v[0].summary, "file_sha256")), a);

    /* Locked: delete is refused, naming the date. */
    cr_expect_eq(dr_store_delete(s, STACK, 1, &err), -1, "a locked bundle cannot be deleted");
    cr_expect_eq(err.code, DR_E_AWS, "%s", err.msg);
    cr_expect(strstr(err.msg, want), "the message names the date: %s", err.msg);
    dr_store_list_free(&l);

    /* Unknown version. */
    cr_expect_eq(dr_store_delete(s, STACK, 9, &err), -1);
    cr_expect_eq(err.code, DR_E_NOT_FOUND, "%s", err.msg);

    free(dest);
    json_decref(sum);
    free(path);
    dr_store_free(s);
}

Test(store_vault, unlocked_delete_and_missing_summary)
{
    int64_t now = (int64_t)time(NULL);
    char *path = make_bundle(2, 64 * 1024, now);
    json_t *sum = summary_for(2, now, path);
    dr_store *s = open_vault("");
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_store_publish(s, STACK, 2, path, sum, 0, &err), 0, "%s", err.msg);
    dr_store_publish_stats ps;
    dr_store_get_publish_stats(s, &ps);
    cr_expect_eq(ps.locked, 0, "lock_days 0: no retention");

    /* A summary lost (a crash between the two uploads): listed with "?". */
    json_decref(aws_cli(
        REGION, "s3api delete-object --bucket %s --key bundles/vlt/vlt-v000002.json", bucket));
    dr_store_list l;
    cr_assert_eq(dr_store_list(s, STACK, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.n, 1);
    cr_expect_null(l.v[0].summary);
    dr_store_list_free(&l);

    cr_assert_eq(dr_store_delete(s, STACK, 2, &err), 0, "%s", err.msg);
    cr_assert_eq(dr_store_list(s, STACK, &l, &err), 0, "%s", err.msg);
    cr_expect_eq(l.n, 0);
    dr_store_list_free(&l);
    json_decref(sum);
    free(path);
    dr_store_free(s);
}

Test(store_vault, interrupted_multipart_upload_is_resumed)
{
    int64_t now = (int64_t)time(NULL);
    /* About 20 MiB: three parts of 8 MiB. */
    char *path = make_bundle(3, 20u * 1024 * 1024, now);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(st.st_size > 2 * DR_STORE_PART_SIZE);
    const char *key = "bundles/vlt/vlt-v000003.drb";

    /* The interrupted run: an upload with part 1 right and part 2 wrong. */
    json_t *c = aws_cli(REGION,
                        "s3api create-multipart-upload --bucket %s --key %s "
                        "--checksum-algorithm SHA256",
                        bucket, key);
    const char *uid = json_string_value(json_object_get(c, "UploadId"));
    cr_assert_not_null(uid);
    char *upload_id = dr_xstrdup(uid);
    json_decref(c);
    cr_assert_eq(sh(NULL, "head -c %lld '%s' > '%s/p1'", (long long)DR_STORE_PART_SIZE, path, tmp),
                 0);
    cr_assert_eq(
        sh(NULL, "head -c %lld /dev/urandom > '%s/p2'", (long long)DR_STORE_PART_SIZE, tmp), 0);
    for (int pn = 1; pn <= 2; pn++)
        json_decref(aws_cli(REGION,
                            "s3api upload-part --bucket %s --key %s --upload-id %s "
                            "--part-number %d --body %s/p%d --checksum-algorithm SHA256",
                            bucket, key, upload_id, pn, tmp, pn));
    /* And a second, older stray upload of the same key without checksums. */
    json_decref(aws_cli(REGION, "s3api create-multipart-upload --bucket %s --key %s", bucket, key));
    cr_assert_eq(upload_count("bundles/vlt/"), 2);

    json_t *sum = summary_for(3, now, path);
    dr_store *s = open_vault("");
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_store_publish(s, STACK, 3, path, sum, 0, &err), 0, "%s", err.msg);
    dr_store_publish_stats ps;
    dr_store_get_publish_stats(s, &ps);
    cr_expect_eq(ps.resumed, 1);
    cr_expect_eq(ps.parts_reused, 1, "part 1 matched and was kept");
    cr_expect_eq(ps.parts_uploaded, 2, "part 2 (wrong) and part 3 (missing) were sent");
    cr_expect_eq(ps.uploads_aborted, 1, "the upload without checksums was aborted");
    cr_expect_eq(upload_count("bundles/vlt/"), 0);

    dr_store_list l;
    cr_assert_eq(dr_store_list(s, STACK, &l, &err), 0, "%s", err.msg);
    const dr_store_entry *e = dr_store_list_find(&l, 3);
    cr_assert_not_null(e);
    cr_expect_eq(e->size, (uint64_t)st.st_size);
    char *dest = dr_xasprintf("%s/fetched3.drb", tmp);
    cr_assert_eq(dr_store_fetch(s, e, dest, &err), 0, "%s", err.msg);
    char a[65], b[65];
    file_sha256(path, a);
    file_sha256(dest, b);
    cr_expect_str_eq(a, b, "the resumed object is the bundle");
    verify_over_s3(s, e);
    dr_store_list_free(&l);
    free(dest);
    json_decref(sum);
    free(upload_id);
    free(path);
    dr_store_free(s);
}

Test(store_vault, fresh_multipart_publish)
{
    int64_t now = (int64_t)time(NULL);
    char *path = make_bundle(4, 18u * 1024 * 1024, now);
    json_t *sum = summary_for(4, now, path);
    dr_store *s = open_vault("mp");
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_store_publish(s, STACK, 4, path, sum, 0, &err), 0, "%s", err.msg);
    dr_store_publish_stats ps;
    dr_store_get_publish_stats(s, &ps);
    cr_expect_eq(ps.resumed, 0);
    dr_store_list l;
    cr_assert_eq(dr_store_list(s, STACK, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.n, 1);
    verify_over_s3(s, &l.v[0]);
    dr_store_list_free(&l);
    json_decref(sum);
    free(path);
    dr_store_free(s);
}

Test(store_vault, cleanup_aborts_stray_uploads)
{
    for (int i = 0; i < 3; i++)
        json_decref(aws_cli(REGION,
                            "s3api create-multipart-upload --bucket %s --key "
                            "pfx/bundles/vlt/vlt-v00001%d.drb --checksum-algorithm SHA256",
                            bucket, i));
    /* Another stack's upload is not ours. */
    json_decref(aws_cli(REGION,
                        "s3api create-multipart-upload --bucket %s --key "
                        "pfx/bundles/other/other-v000001.drb",
                        bucket));
    cr_assert_eq(upload_count("pfx/bundles/vlt/"), 3);
    dr_store *s = open_vault("pfx");
    dr_err err;
    dr_err_clear(&err);
    size_t removed = 0;
    cr_assert_eq(dr_store_cleanup(s, STACK, &removed, &err), 0, "%s", err.msg);
    cr_expect_eq(removed, 3);
    cr_expect_eq(upload_count("pfx/bundles/vlt/"), 0);
    cr_expect_eq(upload_count("pfx/bundles/other/"), 1);
    cr_assert_eq(dr_store_cleanup(s, STACK, &removed, &err), 0, "%s", err.msg);
    cr_expect_eq(removed, 0);
    dr_store_free(s);
}
