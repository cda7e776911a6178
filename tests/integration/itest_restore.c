/*
 * itest_restore.c - the restore library (src/restore/restore.h) against the
 * private sandbox: moto with its signature checks on, and the two real
 * PostgreSQL clusters.
 *
 * The bundles are made with the real capture code: a source bucket in
 * us-east-1 (~60 objects: a 20 MiB multipart one, an empty one, content
 * types, content encoding / cache control / disposition, user metadata,
 * SSE AES256), the us-east-1 database dumped with dr_pg_dump_* into
 * db/dump.pgc parts plus db/tables.json, dr_objects_capture, and sealed
 * secrets; published into a local store as v1; two objects changed and v2
 * captured incrementally (the rest, the 20 MiB object included, referenced
 * from v1). Then everything is restored into us-west-2 and checked
 * independently: psql for the rows, the AWS CLI (list, head-object, a sync
 * whose files are hashed) for the objects, the CLI for the secrets.
 * Restores run twice to show they are idempotent, and a corrupt v1 makes
 * opening v2 fail before anything is written.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/client.h"
#include "aws/s3.h"
#include "backup/objects.h"
#include "backup/store.h"
#include "bundle/bundle.h"
#include "db/dbmap.h"
#include "db/pg.h"
#include "restore/restore.h"
#include "sandbox_env.h"
#include "util/mem.h"

#define MIB (1024u * 1024u)
#define STACK "itrest"

static dr_log lg;
static FILE *log_mem;
static char *log_buf;
static size_t log_len;
static dr_aws *aws;
static dr_dbmap map;
static const char *east, *west;
static char tmp[64];
static char *rec_pub, *rec_priv;
static char src_bucket[96];
static json_t *want; /* key -> {"sha256", "size"} of the source's current objects */

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

static void setup(void)
{
    sandbox_load_env();
    log_mem = open_memstream(&log_buf, &log_len);
    lg.level = DR_LOG_INFO;
    lg.out = log_mem;
    lg.progress = 0;
    dr_aws_opts o = {.log = &lg};
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_aws_new(&o, &aws, &err) == 0, "%s", err.msg);
    cr_assert(dr_dbmap_from_env(&map, &err) == 0, "%s", err.msg);
    east = dr_dbmap_lookup(&map, "us-east-1");
    west = dr_dbmap_lookup(&map, "us-west-2");
    cr_assert(east && west, "DRCTL_DB_MAP lacks a region");
    snprintf(tmp, sizeof(tmp), "/tmp/drctl-itest-restore-XXXXXX");
    cr_assert(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
    setenv("TMPDIR", tmp, 1);
    gen_keys();
    want = json_object();
}

static void fini(void)
{
    dr_aws_free(aws);
    dr_dbmap_free(&map);
    sh(NULL, "rm -rf '%s'", tmp);
    free(rec_pub);
    free(rec_priv);
    json_decref(want);
    fclose(log_mem);
    free(log_buf);
}

TestSuite(restore, .init = setup, .fini = fini, .timeout = 600);

/* ---- the source ------------------------------------------------------------ */

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

static void put_obj(const char *bucket, const char *key, size_t size, uint64_t seed,
                    const char *ctype, const char *sse, int with_meta)
{
    unsigned char *data = gen(seed, size);
    dr_kvlist meta = DR_KVLIST_INIT;
    if (with_meta) {
        dr_kv_add(&meta, "owner", "team-a");
        dr_kv_addf(&meta, "seq", "%llu", (unsigned long long)seed);
    }
    dr_s3_put_opts po = {.content_type = ctype, .metadata = with_meta ? &meta : NULL, .sse = sse};
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

static void put_big(const char *bucket, const char *key, size_t size, uint64_t seed)
{
    unsigned char *data = gen(seed, size);
    char *path = dr_xasprintf("%s/big.bin", tmp);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(data, 1, size, f), size);
    fclose(f);
    int fd = open(path, O_RDONLY);
    dr_kvlist meta = DR_KVLIST_INIT;
    dr_kv_add(&meta, "kind", "big");
    dr_s3_put_opts po = {.content_type = "application/x-tar",
                         .metadata = &meta,
                         .sse = "AES256",
                         .part_size = 5 * MIB,
                         .concurrency = 3};
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
    dr_kv_free(&meta);
    free(data);
}

/* One object with the headers dr_s3_put_opts has no field for, by the CLI. */
static void put_with_headers(const char *bucket, const char *key)
{
    char *path = dr_xasprintf("%s/hdr.txt", tmp);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("{\"hello\": \"restore\"}\n", f);
    fclose(f);
    json_t *r = aws_cli("us-east-1",
                        "s3api put-object --bucket %s --key %s --body %s --content-type "
                        "application/json --content-encoding identity --cache-control "
                        "'max-age=60' --content-disposition 'attachment; filename=\"h.json\"' "
                        "--metadata team=blue",
                        bucket, key, path);
    cr_assert(r);
    json_decref(r);
    char h[65];
    file_sha256(path, h);
    json_object_set_new(want, key, json_pack("{s:s, s:I}", "sha256", h, "size", (json_int_t)21));
    unlink(path);
    free(path);
}

static void make_source(void)
{
    snprintf(src_bucket, sizeof(src_bucket), "drctl-itest-rs-src-%s", test_suffix());
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_s3_create_bucket(aws, "us-east-1", src_bucket, &err) == 0, "%s", err.msg);
    static const char *types[] = {"text/plain", "application/json", "image/png", NULL};
    for (int i = 0; i < 56; i++) {
        char key[96];
        snprintf(key, sizeof(key), "%s/obj-%03d%s", i % 2 ? "logs/2024" : "uploads", i,
                 i % 4 == 1 ? ".json" : ".bin");
        put_obj(src_bucket, key, (size_t)(100 + i * 1537) % 70000, (uint64_t)i + 1, types[i % 4],
                i % 3 == 0 ? "AES256" : NULL, i % 5 == 0);
    }
    put_obj(src_bucket, "empty", 0, 999, "text/plain", NULL, 0);
    put_obj(src_bucket, "with space/and-unicode-free name.txt", 4000, 77, "text/plain", NULL, 1);
    put_with_headers(src_bucket, "config/headers.json");
    put_big(src_bucket, "big/archive.tar", 20 * MIB, 4242);
}

/* ---- bundles --------------------------------------------------------------- */

static dr_store *store;

static json_t *summary_of(uint64_t v, uint64_t parent, const char *path)
{
    char h[65];
    file_sha256(path, h);
    struct stat st;
    cr_assert(stat(path, &st) == 0);
    return json_pack("{s:i, s:s, s:I, s:I, s:s, s:I, s:s, s:I, s:s}", "format", 1, "stack", STACK,
                     "version", (json_int_t)v, "parent", (json_int_t)parent, "kind",
                     parent ? "incremental" : "full", "captured_at", (json_int_t)1700000000,
                     "source_region", "us-east-1", "size", (json_int_t)st.st_size, "file_sha256",
                     h);
}

static const char *const DB_SECRET_SRC =
    "{\"username\":\"litellm\",\"password\":\"s3cret-source-pw\",\"host\":\"db.east.example\","
    "\"port\":5432,\"dbname\":\"litellm\",\"url\":\"postgresql://litellm:s3cret-source-pw@db.east."
    "example:5432/litellm\"}";
static const char *const SALT_SRC = "salt-of-the-source-0123456789";

/* A bundle as backup.c makes one; returns the index (new ref). */
static json_t *make_bundle(uint64_t v, const json_t *parent_index)
{
    dr_err err;
    dr_err_clear(&err);
    char *staged = dr_store_staging_path(store, STACK, v, &err);
    cr_assert(staged, "%s", err.msg);
    dr_bundle_wopts wo = {.stack = STACK,
                          .region = "us-east-1",
                          .version = v,
                          .parent = parent_index ? v - 1 : 0,
                          .kind = parent_index ? DR_BUNDLE_INCREMENTAL : DR_BUNDLE_FULL,
                          .encryption = DR_BUNDLE_ENC_AES,
                          .captured_at = 1700000000 + (int64_t)v,
                          .recovery_pubkey_pem = rec_pub,
                          .part_size = 256 * 1024, /* many dump parts */
                          .log = &lg};
    dr_bundle_writer *w = NULL;
    cr_assert(dr_bundle_writer_open(staged, &wo, &w, &err) == 0, "%s", err.msg);
    const char *state = "{\"format\":1,\"resources\":{}}";
    cr_assert(dr_bundle_writer_add_buffer(w, "config/state/us-east-1.json", state, strlen(state),
                                          NULL, &err) == 0,
              "%s", err.msg);
    cr_assert(dr_bundle_writer_add_secret(w, "DbSecret", DB_SECRET_SRC, strlen(DB_SECRET_SRC),
                                          &err) == 0);
    cr_assert(dr_bundle_writer_add_secret(w, "SaltKeySecret", SALT_SRC, strlen(SALT_SRC), &err) ==
              0);
    /* the database, as backup.c does it */
    dr_pg_dump_opts dopts = {.conn = {east, NULL}, .compress = 0, .log = &lg};
    dr_pg_dump *d = NULL;
    cr_assert(dr_pg_dump_start(&dopts, &d, &err) == 0, "%s", err.msg);
    cr_assert(dr_bundle_writer_add_stream(w, "db/dump.pgc", dr_pg_dump_read, d, NULL, &err) == 0,
              "%s", err.msg);
    dr_pg_sums sums = {0};
    cr_assert(dr_pg_dump_finish(d, &sums, NULL, &err) == 0, "%s", err.msg);
    json_t *tj = dr_pg_sums_to_json(&sums);
    char *ts = json_dumps(tj, JSON_INDENT(2) | JSON_SORT_KEYS);
    cr_assert(dr_bundle_writer_add_buffer(w, "db/tables.json", ts, strlen(ts), NULL, &err) == 0);
    free(ts);
    json_decref(tj);
    dr_pg_sums_free(&sums);
    /* the objects */
    dr_objects_opts oo = {.aws = aws,
                          .region = "us-east-1",
                          .bucket = src_bucket,
                          .concurrency = 8,
                          .parent_index = parent_index,
                          .version = v,
                          .log = &lg};
    json_t *index = NULL;
    dr_objects_result ores;
    cr_assert(dr_objects_capture(w, &oo, &index, &ores, &err) == 0, "%s", err.msg);
    if (parent_index)
        cr_assert_eq(ores.captured, 2, "v%llu captured %zu", (unsigned long long)v, ores.captured);
    cr_assert(dr_bundle_writer_close(w, NULL, &err) == 0, "%s", err.msg);
    json_t *s = summary_of(v, parent_index ? v - 1 : 0, staged);
    cr_assert(dr_store_publish(store, STACK, v, staged, s, 0, &err) == 0, "%s", err.msg);
    json_decref(s);
    free(staged);
    return index;
}

static void make_bundles(void)
{
    make_source();
    dr_err err;
    dr_err_clear(&err);
    char *dir = dr_xasprintf("%s/store", tmp);
    cr_assert(dr_store_open(dir, NULL, NULL, &store, &err) == 0, "%s", err.msg);
    free(dir);
    json_t *i1 = make_bundle(1, NULL);
    /* two objects change */
    put_obj(src_bucket, "uploads/obj-000.bin", 5000, 100001, "text/csv", "AES256", 1);
    put_obj(src_bucket, "logs/2024/obj-001.json", 123, 100002, "application/json", NULL, 0);
    json_t *i2 = make_bundle(2, i1);
    json_decref(i1);
    json_decref(i2);
}

/* ---- helpers --------------------------------------------------------------- */

static dr_bundle_keyring keyring(void)
{
    dr_bundle_keyring kr = {.recovery_privkey_pem = rec_priv};
    return kr;
}

static int64_t rows_of(const char *conninfo, const char *table)
{
    char *out = NULL;
    int st =
        sh(&out, "psql -X -A -t -q -d '%s' -c 'SELECT count(*) FROM \"%s\"' 2>&1", conninfo, table);
    cr_assert_eq(st, 0, "psql: %s", out);
    int64_t n = strtoll(out, NULL, 10);
    free(out);
    return n;
}

static char *secret_value(const char *region, const char *arn)
{
    json_t *r = aws_cli(region, "secretsmanager get-secret-value --secret-id '%s'", arn);
    cr_assert(r);
    char *v = dr_xstrdup(json_string_value(json_object_get(r, "SecretString")));
    json_decref(r);
    return v;
}

static char *create_secret(const char *name, const char *value)
{
    json_t *r = aws_cli(
        "us-west-2", "secretsmanager create-secret --name '%s' --secret-string '%s'", name, value);
    cr_assert(r);
    char *arn = dr_xstrdup(json_string_value(json_object_get(r, "ARN")));
    json_decref(r);
    return arn;
}

/* ---- the test -------------------------------------------------------------- */

Test(restore, chain_db_objects_secrets)
{
    make_bundles();
    dr_err err;
    dr_err_clear(&err);
    dr_bundle_keyring kr = keyring();

    /* the chain: v2 pulls in v1 (it holds the 20 MiB object and 57 others) */
    dr_restore_chain *c = NULL;
    cr_assert(dr_restore_chain_open(store, STACK, 2, &kr, NULL, &lg, &c, &err) == 0, "%s", err.msg);
    const uint64_t *vs;
    cr_assert_eq(dr_restore_chain_versions(c, &vs), 2);
    cr_expect_eq(vs[0], 2);
    cr_expect_eq(vs[1], 1);
    cr_expect_eq(dr_restore_chain_captured_at(c), 1700000002);
    cr_assert(dr_restore_chain_tables(c));
    cr_assert_eq(json_array_size(json_object_get(dr_restore_chain_index(c), "objects")),
                 json_object_size(want));
    dr_buf b = DR_BUF_INIT;
    cr_assert(dr_restore_chain_read_entry(c, "config/state/us-east-1.json", &b, &err) == 0, "%s",
              err.msg);
    cr_expect_str_eq(b.data, "{\"format\":1,\"resources\":{}}");
    cr_expect_eq(dr_restore_chain_read_entry(c, "config/nope.json", &b, &err), -1);
    cr_expect_eq(err.code, DR_E_NOT_FOUND);
    dr_buf_free(&b);

    /* the database, into an empty one on the us-west-2 server, twice */
    char dbname[64];
    snprintf(dbname, sizeof(dbname), "itrest_%s", test_suffix());
    for (char *p = dbname; *p; p++)
        if (*p == '-')
            *p = '_';
    dr_pg_conn server = {west, NULL};
    cr_assert(dr_pg_create_database(&server, dbname, &err) == 0, "%s", err.msg);
    char *target_ci = dr_pg_conninfo_with_db(west, dbname);
    dr_pg_conn target = {target_ci, NULL};
    int64_t src_rows = rows_of(east, "LiteLLM_SpendLogs");
    cr_assert(src_rows > 0);
    dr_restore_db_result dres;
    cr_assert(dr_restore_db(c, &target, 2, tmp, &lg, &dres, &err) == 0, "%s", err.msg);
    cr_expect(dres.tables > 5 && dres.rows > 0 && dres.dump_bytes > 0);
    cr_expect_eq(rows_of(target_ci, "LiteLLM_SpendLogs"), src_rows);
    /* again, streamed this time: same sums, no duplicate rows */
    dr_restore_db_result dres2;
    cr_assert(dr_restore_db(c, &target, 1, NULL, &lg, &dres2, &err) == 0, "%s", err.msg);
    cr_expect_eq(dres2.rows, dres.rows);
    cr_expect_eq(dres2.dump_bytes, dres.dump_bytes);
    cr_expect_eq(rows_of(target_ci, "LiteLLM_SpendLogs"), src_rows, "no duplicate rows");
    cr_expect_eq(dr_restore_verify_db(c, &target, &err), 0, "%s", err.msg);
    char *leftovers = NULL;
    sh(&leftovers, "ls -A '%s' | grep drctl-restore || true", tmp);
    cr_expect_str_eq(leftovers, "", "scratch dump left behind: %s", leftovers);
    free(leftovers);
    /* a changed row is named */
    char *out = NULL;
    cr_assert_eq(sh(&out,
                    "psql -X -q -d '%s' -c 'UPDATE \"LiteLLM_SpendLogs\" SET spend = spend + 1 "
                    "WHERE request_id = (SELECT min(request_id) FROM \"LiteLLM_SpendLogs\")' 2>&1",
                    target_ci),
                 0, "%s", out);
    free(out);
    cr_expect_eq(dr_restore_verify_db(c, &target, &err), -1);
    cr_expect_eq(err.code, DR_E_VERIFY);
    cr_expect(strstr(err.msg, "LiteLLM_SpendLogs"), "%s", err.msg);
    cr_expect_eq(dr_pg_drop_database(&server, dbname, &err), 0, "%s", err.msg);
    /* a target that is gone: refused, and the scratch dump is still removed */
    cr_expect_eq(dr_restore_db(c, &target, 2, tmp, &lg, &dres2, &err), -1);
    cr_expect_eq(err.code, DR_E_NOT_FOUND, "code %d: %s", err.code, err.msg);
    sh(&leftovers, "ls -A '%s' | grep drctl-restore || true", tmp);
    cr_expect_str_eq(leftovers, "", "scratch dump left behind after a failure: %s", leftovers);
    free(leftovers);
    dr_free_secret(target_ci);

    /* the objects, into a new bucket in us-west-2 */
    char dst[96];
    snprintf(dst, sizeof(dst), "drctl-itest-rs-dst-%s", test_suffix());
    cr_assert(dr_s3_create_bucket(aws, "us-west-2", dst, &err) == 0, "%s", err.msg);
    dr_restore_obj_result ores;
    cr_assert(dr_restore_objects(c, aws, "us-west-2", dst, NULL, 8, &lg, &ores, &err) == 0, "%s",
              err.msg);
    cr_expect_eq(ores.objects, json_object_size(want));
    cr_expect_eq(ores.uploaded, json_object_size(want));
    cr_expect_eq(ores.skipped_same, 0);

    /* independently: the CLI lists the same keys, ... */
    json_t *ls = aws_cli("us-west-2", "s3api list-objects-v2 --bucket %s", dst);
    cr_assert(ls);
    cr_expect_eq(json_array_size(json_object_get(ls, "Contents")), json_object_size(want));
    json_decref(ls);
    /* ... head-object shows the metadata, types, headers and encryption, ... */
    json_t *h =
        aws_cli("us-west-2", "s3api head-object --bucket %s --key config/headers.json", dst);
    cr_assert(h);
    cr_expect_str_eq(json_string_value(json_object_get(h, "ContentType")), "application/json");
    cr_expect_str_eq(json_string_value(json_object_get(h, "ContentEncoding")), "identity");
    cr_expect_str_eq(json_string_value(json_object_get(h, "CacheControl")), "max-age=60");
    cr_expect_str_eq(json_string_value(json_object_get(h, "ContentDisposition")),
                     "attachment; filename=\"h.json\"");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(h, "Metadata"), "team")),
                     "blue");
    json_decref(h);
    h = aws_cli("us-west-2", "s3api head-object --bucket %s --key uploads/obj-000.bin", dst);
    cr_assert(h);
    cr_expect_str_eq(json_string_value(json_object_get(h, "ContentType")), "text/csv");
    cr_expect_str_eq(json_string_value(json_object_get(h, "ServerSideEncryption")), "AES256");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(h, "Metadata"), "seq")),
                     "100001");
    json_decref(h);
    h = aws_cli("us-west-2", "s3api head-object --bucket %s --key big/archive.tar", dst);
    cr_assert(h);
    cr_expect_eq(json_integer_value(json_object_get(h, "ContentLength")), 20 * MIB);
    cr_expect_str_eq(json_string_value(json_object_get(h, "ContentType")), "application/x-tar");
    cr_expect_str_eq(json_string_value(json_object_get(h, "ServerSideEncryption")), "AES256");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(h, "Metadata"), "kind")),
                     "big");
    json_decref(h);
    /* ... and every object downloaded has the source's bytes */
    char *dl = dr_xasprintf("%s/dl", tmp);
    out = NULL;
    cr_assert_eq(sh(&out,
                    "aws --endpoint-url %s --region us-west-2 s3 sync --only-show-errors "
                    "s3://%s '%s' 2>&1",
                    sandbox_endpoint(), dst, dl),
                 0, "%s", out);
    free(out);
    const char *key;
    const json_t *wv;
    json_object_foreach(want, key, wv)
    {
        char *p = dr_xasprintf("%s/%s", dl, key);
        char hh[65];
        file_sha256(p, hh);
        cr_expect_str_eq(hh, json_string_value(json_object_get(wv, "sha256")), "%s", key);
        free(p);
    }
    sh(NULL, "rm -rf '%s'", dl);
    free(dl);

    /* a second restore uploads nothing */
    cr_assert(dr_restore_objects(c, aws, "us-west-2", dst, NULL, 8, &lg, &ores, &err) == 0, "%s",
              err.msg);
    cr_expect_eq(ores.uploaded, 0);
    cr_expect_eq(ores.skipped_same, json_object_size(want));

    /* verification passes, then fails naming an overwritten object */
    size_t checked = 0;
    cr_expect_eq(dr_restore_verify_objects(c, aws, "us-west-2", dst, 8, &checked, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(checked, json_object_size(want));
    dr_s3_put_opts po = {.content_type = "text/plain"};
    cr_assert(dr_s3_put_buffer(aws, "us-west-2", dst, "logs/2024/obj-007.bin", "tampered", 8, &po,
                               &err) == 0);
    cr_expect_eq(dr_restore_verify_objects(c, aws, "us-west-2", dst, 8, &checked, &err), -1);
    cr_expect_eq(err.code, DR_E_VERIFY);
    cr_expect(strstr(err.msg, "logs/2024/obj-007.bin"), "%s", err.msg);
    /* same size, other bytes: found by content, re-uploaded; an extra object is left alone */
    unsigned char *same_size = gen(31337, 20 * MIB);
    char *bp = dr_xasprintf("%s/big2.bin", tmp);
    FILE *f = fopen(bp, "wb");
    cr_assert(f);
    fwrite(same_size, 1, 20 * MIB, f);
    fclose(f);
    free(same_size);
    int fd = open(bp, O_RDONLY);
    dr_s3_put_opts bpo = {.content_type = "application/x-tar", .part_size = 8 * MIB};
    cr_assert(dr_s3_put_file(aws, "us-west-2", dst, "big/archive.tar", fd, 20 * MIB, &bpo, &err) ==
              0);
    close(fd);
    unlink(bp);
    free(bp);
    cr_assert(dr_s3_put_buffer(aws, "us-west-2", dst, "not-in-bundle.txt", "x", 1, &po, &err) == 0);
    fflush(log_mem);
    size_t log_mark = log_len;
    cr_assert(dr_restore_objects(c, aws, "us-west-2", dst, NULL, 8, &lg, &ores, &err) == 0, "%s",
              err.msg);
    cr_expect_eq(ores.uploaded, 2, "uploaded %zu", ores.uploaded);
    cr_expect_eq(ores.skipped_same, json_object_size(want) - 2);
    cr_expect_eq(ores.extra, 1);
    fflush(log_mem);
    cr_expect(strstr(log_buf + log_mark, "not-in-bundle.txt") &&
                  strstr(log_buf + log_mark, "left alone"),
              "no warning about the extra object");
    cr_expect(strstr(log_buf + log_mark, "differ from the bucket's: reading again"),
              "the same-size big object was not found different by its content");
    cr_expect_eq(dr_restore_verify_objects(c, aws, "us-west-2", dst, 8, &checked, &err), -1);
    cr_expect(strstr(err.msg, "not-in-bundle.txt"), "%s", err.msg);
    cr_assert(dr_s3_delete(aws, "us-west-2", dst, "not-in-bundle.txt", &err) == 0);
    cr_expect_eq(dr_restore_verify_objects(c, aws, "us-west-2", dst, 8, &checked, &err), 0, "%s",
                 err.msg);

    /* secrets: the target has its own values */
    char name1[96], name2[96];
    snprintf(name1, sizeof(name1), "itrest-db-%s", test_suffix());
    snprintf(name2, sizeof(name2), "itrest-salt-%s", test_suffix());
    const char *db_target = "{\"username\":\"litellm\",\"password\":\"target-pw\",\"host\":"
                            "\"db.west.example\",\"port\":5432,\"dbname\":\"litellm\",\"url\":"
                            "\"postgresql://litellm:target-pw@db.west.example:5432/litellm\"}";
    char *arn1 = create_secret(name1, db_target);
    char *arn2 = create_secret(name2, "salt-of-the-target");
    json_t *res_partial = json_pack("{s:{s:s, s:s}}", "DbSecret", "type",
                                    "AWS::SecretsManager::Secret", "physical_id", arn1);
    size_t restored = 9, unchanged = 9;
    cr_expect_eq(
        dr_restore_secrets(c, aws, "us-west-2", res_partial, &lg, &restored, &unchanged, &err), -1);
    cr_expect_eq(err.code, DR_E_NOT_FOUND);
    cr_expect(strstr(err.msg, "SaltKeySecret"), "%s", err.msg);
    char *v = secret_value("us-west-2", arn1);
    cr_expect_str_eq(v, db_target, "nothing written when a secret is missing");
    free(v);
    json_decref(res_partial);

    json_t *res = json_pack("{s:{s:s, s:s}, s:{s:s, s:s}}", "DbSecret", "type",
                            "AWS::SecretsManager::Secret", "physical_id", arn1, "SaltKeySecret",
                            "type", "AWS::SecretsManager::Secret", "physical_id", arn2);
    cr_assert(dr_restore_secrets(c, aws, "us-west-2", res, &lg, &restored, &unchanged, &err) == 0,
              "%s", err.msg);
    cr_expect_eq(restored, 2);
    cr_expect_eq(unchanged, 0);
    v = secret_value("us-west-2", arn2);
    cr_expect_str_eq(v, SALT_SRC);
    free(v);
    v = secret_value("us-west-2", arn1);
    json_t *j = json_loads(v, 0, NULL);
    cr_assert(j, "DbSecret is not JSON: %s", v);
    cr_expect_str_eq(json_string_value(json_object_get(j, "host")), "db.west.example");
    cr_expect_str_eq(json_string_value(json_object_get(j, "password")), "s3cret-source-pw");
    cr_expect_str_eq(json_string_value(json_object_get(j, "url")),
                     "postgresql://litellm:s3cret-source-pw@db.west.example:5432/litellm");
    json_decref(j);
    free(v);
    cr_assert(dr_restore_secrets(c, aws, "us-west-2", res, &lg, &restored, &unchanged, &err) == 0,
              "%s", err.msg);
    cr_expect_eq(restored, 0);
    cr_expect_eq(unchanged, 2);
    fflush(log_mem);
    cr_expect(!strstr(log_buf, "s3cret-source-pw") && !strstr(log_buf, SALT_SRC) &&
                  !strstr(log_buf, "target-pw"),
              "a secret value reached the log");
    json_decref(res);
    free(arn1);
    free(arn2);
    dr_restore_chain_free(c);

    /* the same chain from an S3 vault: fetched to a cache, then reused */
    char vault[96];
    snprintf(vault, sizeof(vault), "drctl-itest-rs-vault-%s", test_suffix());
    cr_assert(dr_s3_create_bucket(aws, "us-west-2", vault, &err) == 0, "%s", err.msg);
    char *spec = dr_xasprintf("s3://%s", vault);
    dr_store *vs3 = NULL;
    cr_assert(dr_store_open(spec, aws, "us-west-2", &vs3, &err) == 0, "%s", err.msg);
    free(spec);
    dr_store_list l = {0};
    cr_assert(dr_store_list(store, STACK, &l, &err) == 0);
    for (size_t i = 0; i < l.n; i++)
        cr_assert(dr_store_publish(vs3, STACK, l.v[i].version, l.v[i].location, l.v[i].summary, 0,
                                   &err) == 0,
                  "%s", err.msg);
    dr_store_list_free(&l);
    char *cache = dr_xasprintf("%s/cache", tmp);
    cr_assert(dr_restore_chain_open(vs3, STACK, 2, &kr, cache, &lg, &c, &err) == 0, "%s", err.msg);
    dr_restore_chain_free(c);
    char *cached = dr_xasprintf("%s/" STACK "-v000001.drb", cache);
    struct stat st1, st2;
    cr_assert(stat(cached, &st1) == 0, "v1 was not fetched to the cache");
    cr_expect_eq(st1.st_mode & 0777, 0600);
    sleep(1);
    fflush(log_mem);
    log_mark = log_len;
    cr_assert(dr_restore_chain_open(vs3, STACK, 2, &kr, cache, &lg, &c, &err) == 0, "%s", err.msg);
    dr_restore_chain_free(c);
    cr_assert(stat(cached, &st2) == 0);
    cr_expect_eq(st1.st_mtime, st2.st_mtime, "the cached copy was fetched again");
    fflush(log_mem);
    cr_expect(!strstr(log_buf + log_mark, "fetching"), "fetched again");
    free(cached);
    free(cache);
    dr_store_free(vs3);

    /* a damaged v1: opening v2 fails before anything is written */
    char *bad = dr_xasprintf("%s/store/bundles/" STACK "/" STACK "-v000001.drb", tmp);
    struct stat sb;
    cr_assert(stat(bad, &sb) == 0);
    fd = open(bad, O_RDWR);
    cr_assert(fd >= 0);
    unsigned char byte;
    off_t at = sb.st_size / 2;
    cr_assert(pread(fd, &byte, 1, at) == 1);
    byte ^= 0x40;
    cr_assert(pwrite(fd, &byte, 1, at) == 1);
    close(fd);
    free(bad);
    char dst2[96];
    snprintf(dst2, sizeof(dst2), "drctl-itest-rs-dst2-%s", test_suffix());
    cr_assert(dr_s3_create_bucket(aws, "us-west-2", dst2, &err) == 0, "%s", err.msg);
    c = NULL;
    dr_err_clear(&err);
    cr_expect_eq(dr_restore_chain_open(store, STACK, 2, &kr, NULL, &lg, &c, &err), -1);
    cr_expect_null(c);
    cr_expect_eq(err.code, DR_E_VERIFY, "code %d: %s", err.code, err.msg);
    cr_expect(strstr(err.msg, "v1"), "the message names v1: %s", err.msg);
    ls = aws_cli("us-west-2", "s3api list-objects-v2 --bucket %s", dst2);
    cr_assert(ls);
    cr_expect_eq(json_array_size(json_object_get(ls, "Contents")), 0, "the target was written");
    json_decref(ls);
    dr_store_free(store);
}
