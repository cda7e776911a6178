/*
 * itest_bundle_kms.c - bundle key wraps against moto's KMS.
 *
 * A key in us-east-1 and one in us-west-2 (created through drctl's own
 * client); a bundle wrapped for both and for an offline recovery key. It
 * must open with only the us-west-2 wrap (us-east-1 "down": its endpoint
 * unreachable), with the recovery key and no AWS at all, and the AWS CLI
 * must agree that each wrap is a real KMS ciphertext under its region's
 * key and the bundle's encryption context.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/client.h"
#include "bundle/bundle.h"
#include "sandbox_env.h"
#include "util/mem.h"

static dr_log quiet_log;
static dr_aws *aws;
static char tmp[64];

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
    snprintf(tmp, sizeof(tmp), "/tmp/drctl-itest-bundle-XXXXXX");
    cr_assert(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void teardown(void)
{
    dr_aws_free(aws);
    aws = NULL;
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(bundle_kms, .init = setup, .fini = teardown, .timeout = 300);

static char *create_key(const char *region)
{
    json_t *in = json_pack("{s:s, s:s}", "Description", "drctl itest bundle key", "KeyUsage",
                           "ENCRYPT_DECRYPT");
    json_t *out = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_aws_json(aws, "kms", region, "CreateKey", in, &out, &err), 0, "%s", err.msg);
    json_decref(in);
    const char *arn =
        json_string_value(json_object_get(json_object_get(out, "KeyMetadata"), "Arn"));
    cr_assert(arn, "CreateKey returned no ARN");
    char *r = dr_xstrdup(arn);
    json_decref(out);
    return r;
}

static void gen_recovery(char **pub, char **priv)
{
    EVP_PKEY *pk = EVP_RSA_gen(3072);
    cr_assert(pk);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, pk);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    *pub = dr_xstrndup(p, (size_t)n);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(b, &p);
    *priv = dr_xstrndup(p, (size_t)n);
    BIO_free(b);
    EVP_PKEY_free(pk);
}

/* KMS per region: us-east-1 through a client whose endpoint is a closed
 * port (the region is down), the others through the sandbox. */
typedef struct split_kms {
    dr_bundle_kms down;
    dr_bundle_kms up;
    int down_calls, up_calls;
} split_kms;

static int split_decrypt(void *ud, const char *region, const char *key_id, const dr_kvlist *ctx,
                         const unsigned char *ct, size_t n, unsigned char **pt, size_t *pt_len,
                         dr_err *err)
{
    split_kms *s = ud;
    int east = strcmp(region, "us-east-1") == 0;
    if (east)
        s->down_calls++;
    else
        s->up_calls++;
    const dr_bundle_kms *k = east ? &s->down : &s->up;
    return k->decrypt(k->ud, region, key_id, ctx, ct, n, pt, pt_len, err);
}

#define SECRET "sk-itest-master-key-0123456789"

typedef struct got {
    int n;
    char value[64];
} got;

static int on_secret(void *ud, const char *name, const unsigned char *v, size_t n, dr_err *err)
{
    got *g = ud;
    g->n++;
    if (strcmp(name, "litellm/master-key") == 0 && n < sizeof(g->value)) {
        memcpy(g->value, v, n);
        g->value[n] = 0;
    }
    return 0;
}

static long zero_read(void *ud, char *buf, size_t n)
{
    size_t *left = ud;
    if (n > *left)
        n = *left;
    memset(buf, 'z', n);
    *left -= n;
    return (long)n;
}

static void write_bundle(const char *path, dr_bundle_enc enc, const char *east_arn,
                         const char *west_arn, const char *pub)
{
    dr_bundle_kms kms;
    dr_bundle_kms_aws(aws, &kms);
    dr_bundle_kms_key keys[2] = {{"us-east-1", east_arn}, {"us-west-2", west_arn}};
    dr_bundle_wopts o = {.stack = "litellm-itest",
                         .region = "us-east-1",
                         .version = 7,
                         .captured_at = 1714564800,
                         .encryption = enc,
                         .kms_keys = keys,
                         .n_kms_keys = 2,
                         .kms = &kms,
                         .recovery_pubkey_pem = pub,
                         .part_size = 1048576};
    dr_bundle_writer *w;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_bundle_writer_open(path, &o, &w, &err), 0, "%s", err.msg);
    cr_assert_eq(dr_bundle_writer_add_secret(w, "litellm/master-key", SECRET, strlen(SECRET), &err),
                 0);
    cr_assert_eq(
        dr_bundle_writer_add_buffer(w, "config/us-east-1.yaml", "stack: x\n", 9, NULL, &err), 0);
    size_t left = 3 * 1048576 + 5;
    cr_assert_eq(dr_bundle_writer_add_stream(w, "db/dump.pgc", zero_read, &left, NULL, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(dr_bundle_writer_close(w, NULL, &err), 0, "%s", err.msg);
}

static void open_and_check(const char *path, const dr_bundle_keyring *kr, const char *want)
{
    dr_bundle_reader *r;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_bundle_reader_open(path, kr, &r, &err), 0, "%s", err.msg);
    cr_expect_str_eq(dr_bundle_reader_info(r)->opened_with, want);
    cr_expect(dr_bundle_reader_info(r)->authenticated);
    cr_assert_eq(dr_bundle_reader_verify(r, &err), 0, "%s", err.msg);
    got g = {0};
    cr_assert_eq(dr_bundle_reader_secrets(r, on_secret, &g, &err), 0, "%s", err.msg);
    cr_expect_eq(g.n, 1);
    cr_expect_str_eq(g.value, SECRET);
    dr_bundle_reader_close(r);
}

/* The wraps as the AWS CLI sees them: each decrypts in its own region with
 * the bundle's context, to 32 bytes. */
static void cli_checks_wraps(const char *path, const char *east_arn, const char *west_arn)
{
    dr_bundle_reader *r;
    dr_err err;
    dr_bundle_kms kms;
    dr_bundle_kms_aws(aws, &kms);
    dr_bundle_keyring kr = {.kms = &kms};
    cr_assert_eq(dr_bundle_reader_open(path, &kr, &r, &err), 0, "%s", err.msg);
    const json_t *wraps = json_object_get(dr_bundle_reader_manifest(r), "key_wraps");
    cr_assert_eq(json_array_size(wraps), 3);
    size_t i;
    const json_t *w;
    int kms_wraps = 0;
    json_array_foreach(wraps, i, w)
    {
        const char *type = json_string_value(json_object_get(w, "type"));
        if (strcmp(type, "aws-kms") != 0)
            continue;
        kms_wraps++;
        const char *region = json_string_value(json_object_get(w, "region"));
        const char *key_id = json_string_value(json_object_get(w, "key_id"));
        cr_expect_str_eq(key_id, strcmp(region, "us-east-1") == 0 ? east_arn : west_arn);
        char *blob = dr_xasprintf("%s/wrap-%s.b64", tmp, region);
        FILE *f = fopen(blob, "w");
        fputs(json_string_value(json_object_get(w, "ciphertext")), f);
        fclose(f);
        char *bin = dr_xasprintf("%s/wrap-%s.bin", tmp, region);
        cr_assert_eq(sh(NULL, "base64 -d %s > %s", blob, bin), 0);
        json_t *d = aws_cli(region,
                            "kms decrypt --ciphertext-blob fileb://%s --key-id %s "
                            "--encryption-context '{\"drctl:stack\":\"litellm-itest\","
                            "\"drctl:bundle\":\"7\"}'",
                            bin, key_id);
        const char *pt = json_string_value(json_object_get(d, "Plaintext"));
        cr_assert(pt);
        cr_expect_eq(strlen(pt), 44, "the wrap does not hold a 32-byte key");
        json_decref(d);
        /* The wrong context is refused by KMS itself. */
        cr_expect_neq(sh(NULL,
                         "aws --endpoint-url '%s' --region %s kms decrypt --ciphertext-blob "
                         "fileb://%s --key-id %s --encryption-context "
                         "'{\"drctl:stack\":\"litellm-itest\",\"drctl:bundle\":\"8\"}' "
                         ">/dev/null 2>&1",
                         sandbox_endpoint(), region, bin, key_id),
                      0);
        free(bin);
        free(blob);
    }
    cr_expect_eq(kms_wraps, 2);
    dr_bundle_reader_close(r);
}

Test(bundle_kms, encrypted_bundle_opens_in_either_region_or_offline)
{
    char *east = create_key("us-east-1"), *west = create_key("us-west-2");
    char *pub, *priv;
    gen_recovery(&pub, &priv);
    char *path = dr_xasprintf("%s/b7.drb", tmp);
    write_bundle(path, DR_BUNDLE_ENC_AES, east, west, pub);

    /* us-east-1 down: its KMS endpoint refuses connections. */
    dr_aws *dead;
    dr_aws_opts o = {
        .log = &quiet_log, .endpoint_url = "http://127.0.0.1:9", .connect_timeout_ms = 500};
    dr_err err;
    cr_assert_eq(dr_aws_new(&o, &dead, &err), 0, "%s", err.msg);
    split_kms s = {0};
    dr_bundle_kms_aws(dead, &s.down);
    dr_bundle_kms_aws(aws, &s.up);
    dr_bundle_kms split = {.decrypt = split_decrypt, .ud = &s};
    /* Only the us-west-2 wrap is offered: us-east-1 is never called. */
    const char *west_only[] = {"us-west-2"};
    dr_bundle_keyring kr = {.kms = &split, .kms_regions = west_only, .n_kms_regions = 1};
    open_and_check(path, &kr, "aws-kms us-west-2");
    cr_expect_eq(s.down_calls, 0);
    /* Both regions in order: us-east-1 fails (network), us-west-2 opens. */
    const char *both[] = {"us-east-1", "us-west-2"};
    dr_bundle_keyring kr2 = {.kms = &split, .kms_regions = both, .n_kms_regions = 2};
    open_and_check(path, &kr2, "aws-kms us-west-2");
    cr_expect_gt(s.down_calls, 0);
    dr_aws_free(dead);

    /* No AWS at all: the recovery key. */
    dr_bundle_keyring off = {.recovery_privkey_pem = priv};
    unsetenv("AWS_ENDPOINT_URL");
    open_and_check(path, &off, "rsa-oaep-sha256 recovery key");
    sandbox_load_env();

    /* Nothing usable: the error lists every wrap. */
    const char *eu[] = {"eu-central-1"};
    dr_bundle_kms real;
    dr_bundle_kms_aws(aws, &real);
    dr_bundle_keyring none = {.kms = &real, .kms_regions = eu, .n_kms_regions = 1};
    dr_bundle_reader *r;
    cr_assert_neq(dr_bundle_reader_open(path, &none, &r, &err), 0);
    cr_expect_eq(err.code, DR_E_CREDENTIALS);
    char *want = dr_xasprintf("aws-kms us-east-1 (%s)", east);
    cr_expect(strstr(err.msg, want), "%s", err.msg);
    free(want);
    want = dr_xasprintf("aws-kms us-west-2 (%s)", west);
    cr_expect(strstr(err.msg, want), "%s", err.msg);
    free(want);
    cr_expect(strstr(err.msg, "rsa-oaep-sha256 recovery key"), "%s", err.msg);
    cr_expect_null(strstr(err.msg, SECRET));

    cli_checks_wraps(path, east, west);
    free(path);
    free(pub);
    free(priv);
    free(east);
    free(west);
}

Test(bundle_kms, unencrypted_bundle_is_signed_and_its_secrets_sealed_with_kms)
{
    char *east = create_key("us-east-1"), *west = create_key("us-west-2");
    char *path = dr_xasprintf("%s/b7.tar.zst", tmp);
    write_bundle(path, DR_BUNDLE_ENC_NONE, east, west, NULL);
    dr_bundle_kms kms;
    dr_bundle_kms_aws(aws, &kms);
    const char *west_only[] = {"us-west-2"};
    dr_bundle_keyring kr = {.kms = &kms, .kms_regions = west_only, .n_kms_regions = 1};
    open_and_check(path, &kr, "aws-kms us-west-2");
    /* tar sees the files; the secret stays sealed. */
    cr_expect_eq(sh(NULL,
                    "cd %s && mkdir x && tar --zstd -xf b7.tar.zst -C x && "
                    "test -f x/MANIFEST.json && ! grep -rq '%s' x",
                    tmp, SECRET),
                 0);
    free(path);
    free(east);
    free(west);
}
