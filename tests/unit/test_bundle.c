/*
 * test_bundle.c - the bundle format: round trips, what `tar` and a second
 * reader written from docs/bundle-format.md make of it, and every way a
 * bundle can be damaged, truncated, reordered or forged.
 *
 * KMS is a fake here (AES-GCM under a key derived from the key ARN, the
 * EncryptionContext as AAD, regions that can be "down");
 * tests/integration/itest_bundle_kms.c does the same against moto.
 */
#include <criterion/criterion.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include "bundle/bundle.h"
#include "bundle/bundle_int.h"
#include "util/mem.h"

/* ---- fixtures ------------------------------------------------------------ */

static char tmp[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/drctl-bundle-XXXXXX");
    cr_assert(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
}

static void teardown(void)
{
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(bundle, .init = setup, .fini = teardown);

/* A fake KMS: ciphertext = nonce | AES-GCM(key = SHA-256("fake|" ARN),
 * AAD = context) | tag, so a wrong region, key or context fails as in KMS. */
typedef struct fake_kms {
    const char *down[4]; /* regions whose KMS "is unreachable" */
    int encrypts, decrypts;
} fake_kms;

static int is_down(const fake_kms *f, const char *region)
{
    for (int i = 0; i < 4; i++)
        if (f->down[i] && strcmp(f->down[i], region) == 0)
            return 1;
    return 0;
}

static void fake_derive(const char *arn, const dr_kvlist *ctx, unsigned char k[32], dr_buf *aad)
{
    char *s = dr_xasprintf("fake|%s", arn);
    dr_bk_sha256(s, strlen(s), k);
    free(s);
    for (size_t i = 0; i < ctx->n; i++)
        dr_buf_printf(aad, "%s=%s;", ctx->items[i].name, ctx->items[i].value);
}

static int fake_encrypt(void *ud, const char *region, const char *key_id, const dr_kvlist *ctx,
                        const unsigned char *pt, size_t pt_len, unsigned char **ct, size_t *ct_len,
                        char **arn_out, dr_err *err)
{
    fake_kms *f = ud;
    f->encrypts++;
    if (is_down(f, region))
        return dr_err_set(err, DR_E_NETWORK, "kms Encrypt in %s: connection refused", region);
    char *arn = dr_xasprintf("arn:aws:kms:%s:000000000000:key/%s", region, key_id);
    unsigned char k[32];
    dr_buf aad = DR_BUF_INIT;
    fake_derive(arn, ctx, k, &aad);
    unsigned char *out = dr_xmalloc(12 + pt_len + 16);
    RAND_bytes(out, 12);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l = 0;
    cr_assert(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, k, out) == 1);
    EVP_EncryptUpdate(c, NULL, &l, (unsigned char *)aad.data, (int)aad.len);
    EVP_EncryptUpdate(c, out + 12, &l, pt, (int)pt_len);
    EVP_EncryptFinal_ex(c, out + 12 + l, &l);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + 12 + pt_len);
    EVP_CIPHER_CTX_free(c);
    dr_buf_free(&aad);
    *ct = out;
    *ct_len = 12 + pt_len + 16;
    *arn_out = arn;
    return 0;
}

static int fake_decrypt(void *ud, const char *region, const char *key_id, const dr_kvlist *ctx,
                        const unsigned char *ct, size_t ct_len, unsigned char **pt, size_t *pt_len,
                        dr_err *err)
{
    fake_kms *f = ud;
    f->decrypts++;
    if (is_down(f, region))
        return dr_err_set(err, DR_E_NETWORK, "kms Decrypt in %s: connection refused", region);
    if (!strstr(key_id, region) || ct_len < 28)
        return dr_err_set(err, DR_E_AWS, "kms Decrypt in %s: InvalidCiphertextException", region);
    unsigned char k[32];
    dr_buf aad = DR_BUF_INIT;
    fake_derive(key_id, ctx, k, &aad);
    size_t n = ct_len - 28;
    unsigned char *out = dr_xmalloc(n + 1);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l = 0, ok;
    EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, k, ct);
    EVP_DecryptUpdate(c, NULL, &l, (unsigned char *)aad.data, (int)aad.len);
    EVP_DecryptUpdate(c, out, &l, ct + 12, (int)n);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(ct + 12 + n));
    ok = EVP_DecryptFinal_ex(c, out + l, &l) == 1;
    EVP_CIPHER_CTX_free(c);
    dr_buf_free(&aad);
    if (!ok) {
        free(out);
        return dr_err_set(err, DR_E_AWS, "kms Decrypt in %s: InvalidCiphertextException", region);
    }
    *pt = out;
    *pt_len = n;
    return 0;
}

/* RSA recovery key pair as PEM strings (2048 bits: fast enough for tests). */
static void gen_recovery(char **pub, char **priv)
{
    EVP_PKEY *pk = EVP_RSA_gen(2048);
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

/* Deterministic data: 64 KiB blocks, one in four random (incompressible),
 * the others text with random digits (compressible, like spend logs). */
typedef struct gen {
    uint64_t s;
    uint64_t left;
    uint64_t pos;
    unsigned step; /* odd read sizes to exercise buffering */
} gen;

static uint64_t xs(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static unsigned char gen_byte(gen *g)
{
    uint64_t blk = g->pos >> 16;
    uint64_t r = xs(&g->s);
    g->pos++;
    if (blk % 4 == 1)
        return (unsigned char)(r >> 32);
    static const char txt[] = "{\"model\":\"gpt-4o\",\"spend\":0.00%d,\"user\":\"user_%d\"}\n";
    char c = txt[g->pos % (sizeof(txt) - 1)];
    return c == '%' ? (unsigned char)('0' + (r >> 40) % 10) : (unsigned char)c;
}

static long gen_read(void *ud, char *buf, size_t n)
{
    gen *g = ud;
    size_t want = g->step ? (g->step < n ? g->step : n) : n;
    if (want > g->left)
        want = (size_t)g->left;
    for (size_t i = 0; i < want; i++)
        buf[i] = (char)gen_byte(g);
    g->left -= want;
    if (g->step)
        g->step = g->step * 7 % 100003 + 1;
    return (long)want;
}

static unsigned char *gen_all(uint64_t seed, size_t n)
{
    gen g = {.s = seed, .left = n};
    unsigned char *p = dr_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        p[i] = gen_byte(&g);
    return p;
}

#define UNICODE_PATH "config/ünïcödé/東京 🗼.yaml"
#define SECRET_TEXT "sk-litellm-master-9f8e7d6c5b4a-SECRET"
static const unsigned char secret_bin[] = {0x00, 's',  'e',  'k', 'r', 'i', 't',
                                           0xff, 0x00, 0x01, 'B', 'I', 'N', 'A',
                                           'R',  'Y',  '-',  'M', 'A', 'R', 'K'};

typedef struct sample {
    dr_bundle_enc enc;
    int recovery; /* wrap for the recovery key too */
    size_t dump_len;
    size_t part_size;
    size_t blob_len; /* an incompressible s3 object: several segments */
} sample;

static fake_kms kms_state;
static dr_bundle_kms kms_ops = {fake_encrypt, fake_decrypt, &kms_state};
static char *rec_pub, *rec_priv;

static void keys_once(void)
{
    if (!rec_pub)
        gen_recovery(&rec_pub, &rec_priv);
}

static void write_sample(const char *path, const sample *s)
{
    keys_once();
    dr_bundle_kms_key keys[2] = {{"us-east-1", "k-east"}, {"us-west-2", "k-west"}};
    dr_bundle_wopts o = {.stack = "litellm-prod",
                         .region = "us-east-1",
                         .version = 7,
                         .parent = 6,
                         .captured_at = 1714564800,
                         .kind = DR_BUNDLE_INCREMENTAL,
                         .encryption = s->enc,
                         .kms_keys = keys,
                         .n_kms_keys = 2,
                         .kms = &kms_ops,
                         .recovery_pubkey_pem = s->recovery ? rec_pub : NULL,
                         .part_size = s->part_size};
    dr_bundle_writer *w;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_bundle_writer_open(path, &o, &w, &err), 0, "%s", err.msg);
    cr_assert_eq(dr_bundle_writer_add_secret(w, "litellm/master-key", SECRET_TEXT,
                                             strlen(SECRET_TEXT), &err),
                 0, "%s", err.msg);
    cr_assert_eq(
        dr_bundle_writer_add_secret(w, "db/credentials-bin", secret_bin, sizeof(secret_bin), &err),
        0, "%s", err.msg);
    const char *prof = "stack: litellm-prod\nregion: us-east-1\n";
    cr_assert_eq(
        dr_bundle_writer_add_buffer(w, "config/profile.yaml", prof, strlen(prof), NULL, &err), 0,
        "%s", err.msg);
    const char *uni = "名前: テスト\n";
    cr_assert_eq(dr_bundle_writer_add_buffer(w, UNICODE_PATH, uni, strlen(uni), NULL, &err), 0,
                 "%s", err.msg);
    gen g = {.s = 42, .left = s->dump_len, .step = 1000};
    cr_assert_eq(dr_bundle_writer_add_stream(w, "db/dump.pgc", gen_read, &g, NULL, &err), 0, "%s",
                 err.msg);
    gen e = {.s = 1, .left = 0};
    cr_assert_eq(dr_bundle_writer_add_stream(w, "db/empty.pgc", gen_read, &e, NULL, &err), 0, "%s",
                 err.msg);
    const char *tables = "{\"LiteLLM_SpendLogs\":{\"rows\":1200}}\n";
    cr_assert_eq(
        dr_bundle_writer_add_buffer(w, "db/tables.json", tables, strlen(tables), NULL, &err), 0,
        "%s", err.msg);
    if (s->blob_len) {
        unsigned char *blob = dr_xmalloc(s->blob_len);
        RAND_bytes(blob, (int)s->blob_len);
        gen gb = {.s = 99};
        for (size_t i = 0; i < s->blob_len; i++)
            blob[i] = (unsigned char)(xs(&gb.s) >> 24);
        cr_assert_eq(
            dr_bundle_writer_add_buffer(w, "s3/objects/blob.bin", blob, s->blob_len, NULL, &err), 0,
            "%s", err.msg);
        free(blob);
    }
    cr_assert_eq(dr_bundle_writer_add_snapshot(w, "rds-snapshot", "us-east-1",
                                               "arn:aws:rds:us-east-1:000000000000:snapshot:s1",
                                               &err),
                 0);
    json_t *meta = json_pack("{s:i}", "rows", 1200);
    cr_assert_eq(dr_bundle_writer_set_meta(w, "db", meta, &err), 0);
    json_decref(meta);
    dr_bundle_result res;
    cr_assert_eq(dr_bundle_writer_close(w, &res, &err), 0, "%s", err.msg);
    cr_assert_gt(res.entries, 5);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = dr_xmalloc((size_t)len + 1);
    cr_assert_eq(fread(p, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return p;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* In-memory source: the corruption tests open thousands of variants. */
typedef struct memsrc {
    const unsigned char *p;
    size_t n;
} memsrc;

static int mem_pread(void *ud, void *buf, size_t n, uint64_t off, dr_err *err)
{
    memsrc *m = ud;
    if (off + n > m->n)
        return dr_err_set(err, DR_E_IO, "short read");
    memcpy(buf, m->p + off, n);
    return 0;
}

static dr_bundle_keyring kr_all(void)
{
    dr_bundle_keyring kr = {.kms = &kms_ops};
    return kr;
}

/* Opens and verifies; returns 0 or -1 with err. */
static int open_verify(const unsigned char *p, size_t n, const dr_bundle_keyring *kr, dr_err *err)
{
    memsrc m = {p, n};
    dr_bundle_source src = {.size = n, .pread = mem_pread, .ud = &m};
    dr_bundle_reader *r;
    dr_err_clear(err);
    if (dr_bundle_reader_open_source(&src, kr, &r, err) != 0)
        return -1;
    int rc = dr_bundle_reader_verify(r, err);
    dr_bundle_reader_close(r);
    return rc;
}

/* Collects every entry's data and the secrets. */
typedef struct collect {
    dr_buf profile, uni, dump, empty, tables, blob;
    int dump_parts, ends;
    int last_part_seen;
    char secret1[128];
    unsigned char secret2[64];
    size_t secret2_len;
    int nsecrets;
} collect;

static dr_buf *slot_for(collect *c, const dr_bundle_entry *e)
{
    if (e->stream && strcmp(e->stream, "db/dump.pgc") == 0)
        return &c->dump;
    if (e->stream && strcmp(e->stream, "db/empty.pgc") == 0)
        return &c->empty;
    if (strcmp(e->path, "config/profile.yaml") == 0)
        return &c->profile;
    if (strcmp(e->path, UNICODE_PATH) == 0)
        return &c->uni;
    if (strcmp(e->path, "db/tables.json") == 0)
        return &c->tables;
    if (strcmp(e->path, "s3/objects/blob.bin") == 0)
        return &c->blob;
    return NULL;
}

static int c_begin(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    collect *c = ud;
    if (e->stream && strcmp(e->stream, "db/dump.pgc") == 0) {
        c->dump_parts++;
        cr_expect_eq(e->part, (unsigned)c->dump_parts);
    }
    return slot_for(c, e) ? 0 : 1;
}

static int c_data(void *ud, const dr_bundle_entry *e, const void *p, size_t n, dr_err *err)
{
    dr_buf_append(slot_for(ud, e), p, n);
    return 0;
}

static int c_end(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    collect *c = ud;
    c->ends++;
    if (e->last_part && strcmp(e->stream, "db/dump.pgc") == 0)
        c->last_part_seen = c->dump_parts;
    return 0;
}

static int c_secret(void *ud, const char *name, const unsigned char *v, size_t n, dr_err *err)
{
    collect *c = ud;
    c->nsecrets++;
    if (strcmp(name, "litellm/master-key") == 0) {
        cr_assert_lt(n, sizeof(c->secret1));
        memcpy(c->secret1, v, n);
        c->secret1[n] = 0;
    } else if (strcmp(name, "db/credentials-bin") == 0) {
        cr_assert_leq(n, sizeof(c->secret2));
        memcpy(c->secret2, v, n);
        c->secret2_len = n;
    }
    return 0;
}

static void collect_free(collect *c)
{
    dr_buf_free(&c->profile);
    dr_buf_free(&c->uni);
    dr_buf_free(&c->dump);
    dr_buf_free(&c->empty);
    dr_buf_free(&c->tables);
    dr_buf_free(&c->blob);
}

static void check_round_trip(const char *path, const sample *s, const dr_bundle_keyring *kr,
                             const char *want_opened)
{
    dr_bundle_reader *r;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_bundle_reader_open(path, kr, &r, &err), 0, "%s", err.msg);
    const dr_bundle_info *in = dr_bundle_reader_info(r);
    cr_expect_str_eq(in->stack, "litellm-prod");
    cr_expect_str_eq(in->source_region, "us-east-1");
    cr_expect_eq(in->version, 7);
    cr_expect_eq(in->parent, 6);
    cr_expect_eq(in->kind, DR_BUNDLE_INCREMENTAL);
    cr_expect_eq(in->captured_at, 1714564800);
    cr_expect_str_eq(in->captured_at_text, "2024-05-01T12:00:00Z");
    cr_expect_eq(in->encrypted, s->enc == DR_BUNDLE_ENC_AES);
    cr_expect(in->authenticated);
    cr_expect_str_eq(in->opened_with, want_opened);
    const json_t *m = dr_bundle_reader_manifest(r);
    cr_expect_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(m, "snapshots"), 0), "arn")),
                     "arn:aws:rds:us-east-1:000000000000:snapshot:s1");
    cr_expect_eq(json_array_size(json_object_get(m, "key_wraps")), s->recovery ? 3 : 2);

    collect c;
    memset(&c, 0, sizeof(c));
    dr_bundle_visitor v = {c_begin, c_data, c_end, &c};
    cr_assert_eq(dr_bundle_reader_scan(r, &v, &err), 0, "%s", err.msg);
    cr_expect_str_eq(dr_buf_cstr(&c.profile), "stack: litellm-prod\nregion: us-east-1\n");
    cr_expect_str_eq(dr_buf_cstr(&c.uni), "名前: テスト\n");
    unsigned char *want = gen_all(42, s->dump_len);
    cr_assert_eq(c.dump.len, s->dump_len);
    cr_expect(s->dump_len == 0 || memcmp(c.dump.data, want, s->dump_len) == 0,
              "the reassembled stream differs");
    size_t ps = s->part_size ? s->part_size : DR_BUNDLE_PART_SIZE_DEFAULT;
    int parts = s->dump_len == 0 ? 1 : (int)((s->dump_len + ps - 1) / ps);
    cr_expect_eq(c.dump_parts, parts);
    cr_expect_eq(c.last_part_seen, parts);
    cr_expect_eq(c.empty.len, 0);
    free(want);
    cr_assert_eq(dr_bundle_reader_secrets(r, c_secret, &c, &err), 0, "%s", err.msg);
    cr_expect_eq(c.nsecrets, 2);
    cr_expect_str_eq(c.secret1, SECRET_TEXT);
    cr_expect_eq(c.secret2_len, sizeof(secret_bin));
    cr_expect(memcmp(c.secret2, secret_bin, sizeof(secret_bin)) == 0);
    collect_free(&c);
    dr_bundle_reader_close(r);
}

/* ---- round trips --------------------------------------------------------- */

Test(bundle, round_trip_plain_with_streams_and_unicode)
{
    char *path = dr_xasprintf("%s/b7.tar.zst", tmp);
    /* 5 parts of 1 MiB and a bit; the last part short. */
    sample s = {.enc = DR_BUNDLE_ENC_NONE,
                .dump_len = 5 * 1048576 + 4321,
                .part_size = 1048576,
                .blob_len = 300000};
    write_sample(path, &s);
    dr_bundle_keyring kr = kr_all();
    check_round_trip(path, &s, &kr, "aws-kms us-east-1");
    free(path);
}

Test(bundle, round_trip_encrypted_opens_in_either_region_or_with_recovery_key)
{
    char *path = dr_xasprintf("%s/b7.drb", tmp);
    sample s = {.enc = DR_BUNDLE_ENC_AES,
                .recovery = 1,
                .dump_len = 3 * 1048576,
                .part_size = 1048576,
                .blob_len = 2500000};
    write_sample(path, &s);
    /* Only us-west-2 reachable: the us-east-1 wrap is never needed. */
    kms_state.down[0] = "us-east-1";
    const char *west[] = {"us-west-2"};
    dr_bundle_keyring kr = {.kms = &kms_ops, .kms_regions = west, .n_kms_regions = 1};
    check_round_trip(path, &s, &kr, "aws-kms us-west-2");
    /* No KMS at all: the recovery key. */
    dr_bundle_keyring off = {.recovery_privkey_pem = rec_priv};
    int before = kms_state.decrypts;
    check_round_trip(path, &s, &off, "rsa-oaep-sha256 recovery key");
    cr_expect_eq(kms_state.decrypts, before, "KMS was called without a KMS keyring");
    kms_state.down[0] = NULL;
    free(path);
}

Test(bundle, stream_of_exact_part_multiple_has_no_empty_part)
{
    char *path = dr_xasprintf("%s/b.tar.zst", tmp);
    sample s = {.enc = DR_BUNDLE_ENC_NONE, .dump_len = 3 * 65536, .part_size = 65536};
    write_sample(path, &s);
    dr_bundle_keyring kr = kr_all();
    check_round_trip(path, &s, &kr, "aws-kms us-east-1");
    free(path);
}

Test(bundle, add_file_streams_a_local_file)
{
    char *src = dr_xasprintf("%s/input.bin", tmp);
    unsigned char *data = gen_all(5, 3000000);
    spit(src, data, 3000000);
    char *path = dr_xasprintf("%s/f.tar.zst", tmp);
    dr_bundle_kms_key keys[1] = {{"us-east-1", "k"}};
    dr_bundle_wopts o = {.stack = "s",
                         .region = "us-east-1",
                         .version = 1,
                         .captured_at = 1,
                         .kms_keys = keys,
                         .n_kms_keys = 1,
                         .kms = &kms_ops};
    dr_bundle_writer *w;
    dr_err err;
    cr_assert_eq(dr_bundle_writer_open(path, &o, &w, &err), 0, "%s", err.msg);
    cr_assert_eq(dr_bundle_writer_add_file(w, "s3/objects/input.bin", src, NULL, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(dr_bundle_writer_close(w, NULL, &err), 0, "%s", err.msg);
    char *cmd = dr_xasprintf("cd %s && mkdir x && tar --zstd -xf f.tar.zst -C x && cmp x/s3/"
                             "objects/input.bin input.bin",
                             tmp);
    cr_expect_eq(system(cmd), 0);
    free(cmd);
    free(data);
    free(src);
    free(path);
}

Test(bundle, empty_bundles_round_trip)
{
    for (int enc = 0; enc < 2; enc++) {
        char *path = dr_xasprintf("%s/empty%d", tmp, enc);
        keys_once();
        dr_bundle_wopts o = {.stack = "s",
                             .region = "us-east-1",
                             .version = 1,
                             .captured_at = 1,
                             .encryption = enc,
                             .recovery_pubkey_pem = rec_pub};
        dr_bundle_writer *w;
        dr_err err;
        cr_assert_eq(dr_bundle_writer_open(path, &o, &w, &err), 0, "%s", err.msg);
        cr_assert_eq(dr_bundle_writer_close(w, NULL, &err), 0, "%s", err.msg);
        dr_bundle_keyring kr = {.recovery_privkey_pem = rec_priv};
        dr_bundle_reader *r;
        cr_assert_eq(dr_bundle_reader_open(path, &kr, &r, &err), 0, "%s", err.msg);
        cr_expect_eq(dr_bundle_reader_info(r)->n_entries, 0);
        cr_expect_eq(dr_bundle_reader_info(r)->kind, DR_BUNDLE_FULL);
        cr_expect_eq(dr_bundle_reader_verify(r, &err), 0, "%s", err.msg);
        cr_expect_eq(dr_bundle_reader_secrets(r, c_secret, NULL, &err), 0);
        dr_bundle_reader_close(r);
        free(path);
    }
}

/* ---- what tar makes of an unencrypted bundle ----------------------------- */

static int file_has(const char *path, const void *needle, size_t n)
{
    size_t len;
    unsigned char *p = slurp(path, &len);
    int found = memmem(p, len, needle, n) != NULL;
    free(p);
    return found;
}

Test(bundle, tar_zstd_extracts_a_plain_bundle)
{
    char *path = dr_xasprintf("%s/b.tar.zst", tmp);
    sample s = {.enc = DR_BUNDLE_ENC_NONE, .dump_len = 2 * 1048576 + 77, .part_size = 1048576};
    write_sample(path, &s);
    char *cmd = dr_xasprintf("cd %s && mkdir out && LC_ALL=C.UTF-8 tar --zstd -xf b.tar.zst -C "
                             "out 2>&1 && zstd -qd < b.tar.zst | tar -tf - > list.txt",
                             tmp);
    cr_assert_eq(system(cmd), 0, "tar failed");
    free(cmd);
    char *p = dr_xasprintf("%s/out/config/profile.yaml", tmp);
    size_t n;
    unsigned char *got = slurp(p, &n);
    cr_expect_eq(n, strlen("stack: litellm-prod\nregion: us-east-1\n"));
    free(got);
    free(p);
    p = dr_xasprintf("%s/out/%s", tmp, UNICODE_PATH);
    got = slurp(p, &n);
    cr_expect_eq(n, strlen("名前: テスト\n"));
    cr_expect(memcmp(got, "名前: テスト\n", n) == 0);
    free(got);
    free(p);
    /* `cat parts` is the stream. */
    cmd = dr_xasprintf("cd %s/out/db && cat dump.pgc.part-* > ../../dump.pgc", tmp);
    cr_assert_eq(system(cmd), 0);
    free(cmd);
    p = dr_xasprintf("%s/dump.pgc", tmp);
    got = slurp(p, &n);
    unsigned char *want = gen_all(42, s.dump_len);
    cr_assert_eq(n, s.dump_len);
    cr_expect(memcmp(got, want, n) == 0);
    free(want);
    free(got);
    free(p);
    /* The manifest and its signature come last; the secrets stay sealed. */
    p = dr_xasprintf("%s/list.txt", tmp);
    got = slurp(p, &n);
    got[n] = 0;
    const char *tail = "secrets/secrets.enc\nMANIFEST.json\nMANIFEST.sig\n";
    cr_expect(n > strlen(tail) && strcmp((char *)got + n - strlen(tail), tail) == 0, "%s", got);
    free(got);
    free(p);
    p = dr_xasprintf("%s/out/secrets/secrets.enc", tmp);
    cr_expect_not(file_has(p, SECRET_TEXT, strlen(SECRET_TEXT)));
    cr_expect_not(file_has(p, "sk-litellm", 10));
    struct stat st;
    cr_expect_eq(stat(p, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
    free(p);
    p = dr_xasprintf("%s/out/MANIFEST.json", tmp);
    json_error_t je;
    json_t *m = json_load_file(p, 0, &je);
    cr_assert(m, "%s", je.text);
    cr_expect_str_eq(json_string_value(json_object_get(m, "captured_at")), "2024-05-01T12:00:00Z");
    cr_expect_str_eq(json_string_value(json_object_get(m, "encryption")), "none");
    json_decref(m);
    free(p);
    /* The standalone secrets blob opens with the keyring alone. */
    p = dr_xasprintf("%s/out/secrets/secrets.enc", tmp);
    got = slurp(p, &n);
    collect c;
    memset(&c, 0, sizeof(c));
    dr_err err;
    dr_bundle_keyring kr = {.kms = &kms_ops};
    cr_assert_eq(dr_bundle_secrets_open(got, n, &kr, c_secret, &c, &err), 0, "%s", err.msg);
    cr_expect_str_eq(c.secret1, SECRET_TEXT);
    free(got);
    free(p);
    free(path);
}

/* ---- damage -------------------------------------------------------------- */

/* Every failure must say where: an entry, a segment, the header, the
 * footer, the manifest or a key wrap. */
static void expect_located(const dr_err *err, const char *ctx)
{
    regex_t re;
    cr_assert_eq(regcomp(&re,
                         "segment [0-9]+|entry [0-9]+|entry '|header|footer|manifest|tail|"
                         "truncated|key wrap",
                         REG_EXTENDED),
                 0);
    cr_expect_eq(regexec(&re, err->msg, 0, NULL, 0), 0, "%s: error names no place: %s", ctx,
                 err->msg);
    cr_expect_eq(err->code, err->code == DR_E_CREDENTIALS ? DR_E_CREDENTIALS : DR_E_VERIFY,
                 "%s: code %d: %s", ctx, err->code, err->msg);
    cr_expect(!strstr(err->msg, SECRET_TEXT));
    regfree(&re);
}

static void flips(dr_bundle_enc enc, int n_random)
{
    char *path = dr_xasprintf("%s/flip", tmp);
    sample s = {
        .enc = enc, .recovery = 1, .dump_len = 1500000, .part_size = 262144, .blob_len = 3400000};
    write_sample(path, &s);
    size_t n;
    unsigned char *orig = slurp(path, &n);
    cr_assert_gt(n, 3 * 1048576, "the sample must span several segments");
    dr_bundle_keyring kr = {.kms = &kms_ops, .recovery_privkey_pem = rec_priv};
    dr_err err;
    cr_assert_eq(open_verify(orig, n, &kr, &err), 0, "%s", err.msg);
    unsigned char *p = dr_xmalloc(n);
    /* Random positions over the whole file, plus the ends where the header,
     * tail and footer live. Deterministic seed. */
    uint64_t seed = 0x5eed1234abcdull;
    int total = n_random + 64, segment = 0, entry = 0, other = 0;
    for (int k = 0; k < total; k++) {
        size_t pos;
        uint64_t r = xs(&seed);
        if (k < n_random)
            pos = (size_t)(r % n);
        else if (k < n_random + 32)
            pos = (size_t)(r % 600); /* header / first frame */
        else
            pos = n - 1 - (size_t)(r % 4096); /* tail, footer */
        unsigned char x = (unsigned char)(1u << (r >> 61 & 7));
        memcpy(p, orig, n);
        p[pos] ^= x;
        char ctx[64];
        snprintf(ctx, sizeof(ctx), "flip at %zu of %zu", pos, n);
        cr_assert_neq(open_verify(p, n, &kr, &err), 0, "%s went undetected", ctx);
        expect_located(&err, ctx);
        if (strstr(err.msg, "segment "))
            segment++;
        else if (strstr(err.msg, "entry "))
            entry++;
        else
            other++;
    }
    cr_log_info("%d flips: %d named a segment, %d an entry, %d header/footer/manifest/wrap", total,
                segment, entry, other);
    cr_expect_gt(segment, n_random / 2);
    free(p);
    free(orig);
    free(path);
}

Test(bundle, single_byte_flips_are_detected_and_located_plain)
{
    flips(DR_BUNDLE_ENC_NONE, 240);
}

Test(bundle, single_byte_flips_are_detected_and_located_encrypted)
{
    flips(DR_BUNDLE_ENC_AES, 240);
}

static void truncations(dr_bundle_enc enc)
{
    char *path = dr_xasprintf("%s/trunc", tmp);
    sample s = {.enc = enc, .dump_len = 900000, .part_size = 262144, .blob_len = 2100000};
    write_sample(path, &s);
    size_t n;
    unsigned char *orig = slurp(path, &n);
    dr_bundle_keyring kr = kr_all();
    dr_err err;
    /* Every segment boundary and its neighbours, then spread points. */
    size_t points[400];
    size_t np = 0;
    size_t hdr = enc == DR_BUNDLE_ENC_AES ? n - 3 * (1048576 + 16) : 0;
    for (size_t b = 0; b < n && np < 60; b += 1048576) {
        size_t base = enc == DR_BUNDLE_ENC_AES ? (n - hdr) % (1048576 + 16) : 0;
        (void)base;
        size_t at = b;
        for (int d = -2; d <= 2; d++)
            if ((long)at + d > 0 && at + (size_t)d < n)
                points[np++] = at + (size_t)d;
    }
    for (size_t i = 1; i <= 150; i++)
        points[np++] = n * i / 151;
    for (size_t i = 1; i <= 60; i++)
        points[np++] = n - i * 7;
    points[np++] = 1;
    points[np++] = 15;
    for (size_t i = 0; i < np; i++) {
        char ctx[64];
        snprintf(ctx, sizeof(ctx), "truncated to %zu of %zu", points[i], n);
        cr_assert_neq(open_verify(orig, points[i], &kr, &err), 0, "%s went undetected", ctx);
        cr_expect(err.code == DR_E_VERIFY, "%s: %s", ctx, err.msg);
        expect_located(&err, ctx);
    }
    /* Appended bytes are refused too. */
    unsigned char *more = dr_xmalloc(n + 5000);
    memcpy(more, orig, n);
    memset(more + n, 0, 5000);
    cr_expect_neq(open_verify(more, n + 1, &kr, &err), 0);
    cr_expect_neq(open_verify(more, n + 5000, &kr, &err), 0);
    free(more);
    free(orig);
    free(path);
}

Test(bundle, truncation_is_detected_plain)
{
    truncations(DR_BUNDLE_ENC_NONE);
}

Test(bundle, truncation_is_detected_encrypted)
{
    truncations(DR_BUNDLE_ENC_AES);
}

Test(bundle, truncation_at_a_segment_boundary_says_truncated)
{
    char *path = dr_xasprintf("%s/trunc", tmp);
    sample s = {.enc = DR_BUNDLE_ENC_AES, .dump_len = 100, .blob_len = 2500000};
    write_sample(path, &s);
    size_t n;
    unsigned char *orig = slurp(path, &n);
    uint64_t hl;
    dr_err err;
    cr_assert_eq(dr_seal_r_header_len(orig, &hl, &err), 0);
    /* Cut right after segment 1: segment 1 was sealed as not-final. */
    size_t cut = (size_t)hl + 2 * (1048576 + 16);
    cr_assert_lt(cut, n);
    dr_bundle_keyring kr = kr_all();
    cr_assert_neq(open_verify(orig, cut, &kr, &err), 0);
    cr_expect(strstr(err.msg, "truncated: segment 1 is not the final segment"), "%s", err.msg);
    free(orig);
    free(path);
}

Test(bundle, reordered_segments_are_detected)
{
    for (int enc = 0; enc < 2; enc++) {
        char *path = dr_xasprintf("%s/reorder", tmp);
        sample s = {.enc = enc, .dump_len = 100, .blob_len = 5000000};
        write_sample(path, &s);
        size_t n;
        unsigned char *p = slurp(path, &n);
        dr_err err;
        uint64_t hl = 0;
        if (enc)
            cr_assert_eq(dr_seal_r_header_len(p, &hl, &err), 0);
        size_t seg = enc ? 1048576 + 16 : 1048576;
        cr_assert_gt(n, hl + 4 * seg);
        /* Swap segments 1 and 2. */
        unsigned char *t = dr_xmalloc(seg);
        memcpy(t, p + hl + seg, seg);
        memmove(p + hl + seg, p + hl + 2 * seg, seg);
        memcpy(p + hl + 2 * seg, t, seg);
        free(t);
        dr_bundle_keyring kr = kr_all();
        cr_assert_neq(open_verify(p, n, &kr, &err), 0, "reordering went undetected");
        cr_expect(strstr(err.msg, "segment 1 "), "%s", err.msg);
        /* Same with the swap restored but one segment duplicated over
         * another (a replay within the file). */
        free(p);
        p = slurp(path, &n);
        memcpy(p + hl + 2 * seg, p + hl + seg, seg);
        cr_assert_neq(open_verify(p, n, &kr, &err), 0, "replayed segment went undetected");
        cr_expect(strstr(err.msg, "segment 2 "), "%s", err.msg);
        free(p);
        free(path);
    }
}

Test(bundle, an_entry_whose_data_differs_from_the_manifest_is_named)
{
    /* Every segment is intact and signed; only the entry hash disagrees
     * (a writer bug, or a forger holding the key). */
    for (int enc = 0; enc < 2; enc++) {
        char *path = dr_xasprintf("%s/sha", tmp);
        dr_bundle_kms_key keys[1] = {{"us-east-1", "k"}};
        dr_bundle_wopts o = {.stack = "s",
                             .region = "us-east-1",
                             .version = 1,
                             .captured_at = 1,
                             .encryption = enc,
                             .kms_keys = keys,
                             .n_kms_keys = 1,
                             .kms = &kms_ops};
        dr_bundle_writer *w;
        dr_err err;
        cr_assert_eq(dr_bundle_writer_open(path, &o, &w, &err), 0, "%s", err.msg);
        cr_assert_eq(dr_bundle_writer_add_buffer(w, "config/a", "aaa", 3, NULL, &err), 0);
        cr_assert_eq(dr_bundle_writer_add_buffer(w, "config/b", "bbb", 3, NULL, &err), 0);
        dr_bundle_writer_test_bad_sha(w);
        cr_assert_eq(dr_bundle_writer_add_buffer(w, "config/c", "ccc", 3, NULL, &err), 0);
        cr_assert_eq(dr_bundle_writer_close(w, NULL, &err), 0, "%s", err.msg);
        size_t n;
        unsigned char *p = slurp(path, &n);
        dr_bundle_keyring kr = kr_all();
        cr_assert_neq(open_verify(p, n, &kr, &err), 0);
        cr_expect(strstr(err.msg, "entry 2 'config/b': SHA-256 mismatch"), "%s", err.msg);
        free(p);
        free(path);
    }
}

/* ---- keys ---------------------------------------------------------------- */

Test(bundle, no_usable_key_lists_the_wraps)
{
    char *path = dr_xasprintf("%s/k.drb", tmp);
    sample s = {.enc = DR_BUNDLE_ENC_AES, .recovery = 1, .dump_len = 10};
    write_sample(path, &s);
    dr_bundle_reader *r;
    dr_err err;
    /* Both regions down, no recovery key. */
    kms_state.down[0] = "us-east-1";
    kms_state.down[1] = "us-west-2";
    dr_bundle_keyring kr = kr_all();
    cr_assert_neq(dr_bundle_reader_open(path, &kr, &r, &err), 0);
    cr_expect_eq(err.code, DR_E_CREDENTIALS);
    cr_expect(strstr(err.msg, "aws-kms us-east-1 (arn:aws:kms:us-east-1:000000000000:key/k-east)"),
              "%s", err.msg);
    cr_expect(strstr(err.msg, "aws-kms us-west-2 (arn:aws:kms:us-west-2"), "%s", err.msg);
    cr_expect(strstr(err.msg, "rsa-oaep-sha256 recovery key sha256:"), "%s", err.msg);
    cr_expect(strstr(err.msg, "connection refused"), "the reason is missing: %s", err.msg);
    kms_state.down[0] = kms_state.down[1] = NULL;
    /* A region the bundle has no wrap for. */
    const char *eu[] = {"eu-west-1"};
    dr_bundle_keyring k2 = {.kms = &kms_ops, .kms_regions = eu, .n_kms_regions = 1};
    cr_assert_neq(dr_bundle_reader_open(path, &k2, &r, &err), 0);
    cr_expect(strstr(err.msg, "nothing to try"), "%s", err.msg);
    cr_expect(strstr(err.msg, "aws-kms us-west-2"), "%s", err.msg);
    /* The wrong recovery key. */
    char *pub2, *priv2;
    gen_recovery(&pub2, &priv2);
    dr_bundle_keyring k3 = {.recovery_privkey_pem = priv2};
    cr_assert_neq(dr_bundle_reader_open(path, &k3, &r, &err), 0);
    cr_expect(strstr(err.msg, "the bundle's is sha256:"), "%s", err.msg);
    cr_expect(strstr(err.msg, "aws-kms us-east-1"), "%s", err.msg);
    /* The plain bundle needs a key as well, unless integrity-only is asked. */
    char *plain = dr_xasprintf("%s/k.tar.zst", tmp);
    sample sp = {.enc = DR_BUNDLE_ENC_NONE, .dump_len = 10};
    write_sample(plain, &sp);
    dr_bundle_keyring none = {0};
    cr_assert_neq(dr_bundle_reader_open(plain, &none, &r, &err), 0);
    cr_expect_eq(err.code, DR_E_CREDENTIALS);
    none.allow_unauthenticated = 1;
    cr_assert_eq(dr_bundle_reader_open(plain, &none, &r, &err), 0, "%s", err.msg);
    cr_expect_not(dr_bundle_reader_info(r)->authenticated);
    cr_expect_eq(dr_bundle_reader_verify(r, &err), 0, "%s", err.msg);
    cr_expect_neq(dr_bundle_reader_secrets(r, c_secret, NULL, &err), 0);
    dr_bundle_reader_close(r);
    free(plain);
    free(pub2);
    free(priv2);
    free(path);
}

Test(bundle, writer_needs_a_wrap_and_valid_paths)
{
    char *path = dr_xasprintf("%s/w.tar.zst", tmp);
    dr_bundle_wopts o = {.stack = "s", .region = "us-east-1", .version = 1, .captured_at = 1};
    dr_bundle_writer *w;
    dr_err err;
    cr_expect_neq(dr_bundle_writer_open(path, &o, &w, &err), 0);
    cr_expect(strstr(err.msg, "no key to wrap"), "%s", err.msg);
    o.kind = DR_BUNDLE_INCREMENTAL;
    cr_expect_neq(dr_bundle_writer_open(path, &o, &w, &err), 0);
    cr_expect(strstr(err.msg, "parent"), "%s", err.msg);
    o.kind = DR_BUNDLE_FULL;
    dr_bundle_kms_key keys[1] = {{"us-east-1", "k"}};
    o.kms_keys = keys;
    o.n_kms_keys = 1;
    o.kms = &kms_ops;
    cr_assert_eq(dr_bundle_writer_open(path, &o, &w, &err), 0, "%s", err.msg);
    const char *bad[] = {"../x",
                         "/etc/x",
                         "config/../x",
                         "config//x",
                         "config/./x",
                         "config/",
                         "config",
                         "other/x",
                         "config/a\\b",
                         "config/tab\there",
                         "config/\xc3\x28",
                         "db/x.part-000001",
                         "secrets/secrets.enc",
                         ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_neq(dr_bundle_writer_add_buffer(w, bad[i], "x", 1, NULL, &err), 0,
                      "'%s' accepted", bad[i]);
    cr_assert_eq(dr_bundle_writer_add_buffer(w, "config/a", "x", 1, NULL, &err), 0, "%s", err.msg);
    cr_expect_neq(dr_bundle_writer_add_buffer(w, "config/a", "x", 1, NULL, &err), 0);
    cr_expect(strstr(err.msg, "duplicate"), "%s", err.msg);
    cr_expect_neq(dr_bundle_writer_add_buffer(w, "config/a/b", "x", 1, NULL, &err), 0);
    cr_expect_neq(dr_bundle_writer_add_buffer(w, "config", "x", 1, NULL, &err), 0);
    cr_assert_eq(dr_bundle_writer_add_buffer(w, "config/d/e", "x", 1, NULL, &err), 0);
    cr_expect_neq(dr_bundle_writer_add_buffer(w, "config/d", "x", 1, NULL, &err), 0);
    cr_expect_neq(dr_bundle_writer_add_secret(w, "", "x", 1, &err), 0);
    cr_assert_eq(dr_bundle_writer_add_secret(w, "n", "x", 1, &err), 0);
    cr_expect_neq(dr_bundle_writer_add_secret(w, "n", "y", 1, &err), 0);
    /* Refused entries did not poison the writer. */
    cr_assert_eq(dr_bundle_writer_close(w, NULL, &err), 0, "%s", err.msg);
    free(path);
}

/* Gives 150000 bytes, then fails. */
static long fail_read(void *ud, char *buf, size_t n)
{
    long *left = ud;
    if (*left <= 0)
        return -1;
    size_t k = n < (size_t)*left ? n : (size_t)*left;
    memset(buf, 'x', k);
    *left -= (long)k;
    return (long)k;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d, "opendir %s", dir);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d)))
        files += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return files;
}

Test(bundle, abort_and_failed_stream_leave_nothing)
{
    char *path = dr_xasprintf("%s/x.tar.zst", tmp);
    dr_bundle_kms_key keys[1] = {{"us-east-1", "k"}};
    dr_bundle_wopts o = {.stack = "s",
                         .region = "us-east-1",
                         .version = 1,
                         .captured_at = 1,
                         .kms_keys = keys,
                         .n_kms_keys = 1,
                         .kms = &kms_ops,
                         .part_size = 65536};
    dr_bundle_writer *w;
    dr_err err;
    cr_assert_eq(dr_bundle_writer_open(path, &o, &w, &err), 0, "%s", err.msg);
    dr_bundle_writer_abort(w);
    cr_expect_eq(count_files(tmp), 0);
    cr_assert_eq(dr_bundle_writer_open(path, &o, &w, &err), 0, "%s", err.msg);
    gen g = {.s = 3, .left = 200000};
    cr_assert_eq(dr_bundle_writer_add_stream(w, "db/ok", gen_read, &g, NULL, &err), 0);
    /* Fails after two parts: the bundle cannot be finished. */
    long left = 150000;
    cr_assert_neq(dr_bundle_writer_add_stream(w, "db/fails", fail_read, &left, NULL, &err), 0);
    cr_expect(strstr(err.msg, "db/fails"), "%s", err.msg);
    cr_expect_neq(dr_bundle_writer_add_buffer(w, "config/x", "x", 1, NULL, &err), 0);
    cr_expect_neq(dr_bundle_writer_close(w, NULL, &err), 0);
    cr_expect_eq(count_files(tmp), 0, "a partial bundle was left behind");
    free(path);
}

/* ---- malicious entries ----------------------------------------------------- */

typedef struct evil {
    const char *name;
    mode_t type;
    const char *path;
    const char *symlink;
    const char *hardlink;
    const char *mtype; /* the type the manifest gives when it tells the truth */
} evil;

static const evil evils[] = {
    {"dotdot", AE_IFREG, "../x", NULL, NULL, "file"},
    {"dotdot-inside", AE_IFREG, "config/../../x", NULL, NULL, "file"},
    {"absolute", AE_IFREG, "/tmp/drctl-evil-x", NULL, NULL, "file"},
    {"symlink", AE_IFLNK, "config/link", "/etc/passwd", NULL, "symlink"},
    {"hardlink", AE_IFREG, "config/hard", NULL, "config/profile.yaml", "hardlink"},
    {"chardev", AE_IFCHR, "config/dev", NULL, NULL, "chardev"},
    {"fifo", AE_IFIFO, "config/fifo", NULL, NULL, "fifo"},
};

/* A signed bundle with a good entry, then the evil one; the manifest lists
 * it truthfully (`decoy` NULL) or under a harmless name. */
static void write_evil(const char *path, const evil *ev, const char *decoy)
{
    dr_bundle_kms_key keys[1] = {{"us-east-1", "k"}};
    dr_bundle_wopts o = {.stack = "s",
                         .region = "us-east-1",
                         .version = 1,
                         .captured_at = 1,
                         .kms_keys = keys,
                         .n_kms_keys = 1,
                         .kms = &kms_ops};
    dr_bundle_writer *w;
    dr_err err;
    cr_assert_eq(dr_bundle_writer_open(path, &o, &w, &err), 0, "%s", err.msg);
    cr_assert_eq(dr_bundle_writer_add_buffer(w, "config/profile.yaml", "ok\n", 3, NULL, &err), 0);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, ev->path);
    archive_entry_set_filetype(e, ev->type);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, ev->type == AE_IFREG && !ev->hardlink ? 5 : 0);
    if (ev->symlink)
        archive_entry_set_symlink(e, ev->symlink);
    if (ev->hardlink)
        archive_entry_set_hardlink(e, ev->hardlink);
    if (ev->type == AE_IFCHR)
        archive_entry_set_rdev(e, makedev(1, 3));
    int data = ev->type == AE_IFREG && !ev->hardlink;
    cr_assert_eq(dr_bundle_writer_test_raw(w, e, "evil\n", data ? 5 : 0, decoy,
                                           decoy ? "file" : ev->mtype, &err),
                 0, "%s", err.msg);
    archive_entry_free(e);
    cr_assert_eq(dr_bundle_writer_add_buffer(w, "config/after", "after\n", 6, NULL, &err), 0);
    cr_assert_eq(dr_bundle_writer_close(w, NULL, &err), 0, "%s", err.msg);
}

Test(bundle, malicious_entries_are_refused_before_anything_is_written)
{
    dr_bundle_keyring kr = kr_all();
    for (size_t i = 0; i < sizeof(evils) / sizeof(evils[0]); i++) {
        const evil *ev = &evils[i];
        for (int lie = 0; lie < 2; lie++) {
            char *path = dr_xasprintf("%s/evil.tar.zst", tmp);
            char *target = dr_xasprintf("%s/target", tmp);
            cr_assert_eq(mkdir(target, 0755), 0);
            write_evil(path, ev, lie ? "config/decoy" : NULL);
            dr_bundle_reader *r = NULL;
            dr_err err;
            dr_err_clear(&err);
            int rc = dr_bundle_reader_open(path, &kr, &r, &err);
            if (!lie) {
                /* The signed manifest itself lists it: refused at open. */
                cr_expect_neq(rc, 0, "%s: opened", ev->name);
            } else {
                /* The manifest lies: refused by the verification pass. */
                cr_assert_eq(rc, 0, "%s: %s", ev->name, err.msg);
                rc = dr_bundle_reader_extract(r, target, &err);
                cr_expect_neq(rc, 0, "%s: extracted", ev->name);
                cr_expect(strstr(err.msg, "nothing was written"), "%s", err.msg);
                dr_bundle_reader_close(r);
            }
            cr_expect(strstr(err.msg, "refused") || strstr(err.msg, "where the manifest lists"),
                      "%s: %s", ev->name, err.msg);
            cr_log_info("%s (%s): %s", ev->name, lie ? "manifest lies" : "manifest honest",
                        err.msg);
            cr_expect_eq(count_files(target), 0, "%s: something was written", ev->name);
            cr_expect_eq(count_files(tmp), 2, "%s: staging left behind", ev->name);
            cr_expect_neq(access("/tmp/drctl-evil-x", F_OK), 0);
            char *x = dr_xasprintf("%s/x", tmp);
            cr_expect_neq(access(x, F_OK), 0);
            free(x);
            rmdir(target);
            unlink(path);
            free(target);
            free(path);
        }
    }
}

Test(bundle, a_plain_crafted_tar_zst_is_not_a_bundle)
{
    /* What an attacker makes with stock tools: no footer, no manifest. */
    char *path = dr_xasprintf("%s/crafted.tar.zst", tmp);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_zstd(a);
    cr_assert_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "../x");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, 2);
    archive_write_header(a, e);
    archive_write_data(a, "x\n", 2);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    dr_bundle_keyring kr = kr_all();
    dr_bundle_reader *r;
    dr_err err;
    cr_assert_neq(dr_bundle_reader_open(path, &kr, &r, &err), 0);
    cr_expect(strstr(err.msg, "footer"), "%s", err.msg);
    free(path);
}

Test(bundle, extract_round_trip_and_target_rules)
{
    char *path = dr_xasprintf("%s/b.tar.zst", tmp);
    sample s = {.enc = DR_BUNDLE_ENC_AES, .dump_len = 300000, .part_size = 131072};
    write_sample(path, &s);
    dr_bundle_keyring kr = kr_all();
    dr_bundle_reader *r;
    dr_err err;
    cr_assert_eq(dr_bundle_reader_open(path, &kr, &r, &err), 0, "%s", err.msg);
    char *target = dr_xasprintf("%s/restore", tmp);
    cr_assert_eq(dr_bundle_reader_extract(r, target, &err), 0, "%s", err.msg);
    char *cmd = dr_xasprintf("cd %s/restore && test -f '%s' && cat db/dump.pgc.part-* | cmp - "
                             "/dev/stdin < /dev/null; cat db/dump.pgc.part-* | wc -c",
                             tmp, UNICODE_PATH);
    char *out = NULL;
    size_t cap = 0;
    FILE *p = popen(cmd, "r");
    cr_assert(getline(&out, &cap, p) > 0);
    pclose(p);
    cr_expect_eq(atol(out), 300000);
    free(out);
    free(cmd);
    /* A non-empty target is refused. */
    cr_expect_neq(dr_bundle_reader_extract(r, target, &err), 0);
    cr_expect(strstr(err.msg, "empty directory"), "%s", err.msg);
    char *mode = dr_xasprintf("%s/restore/secrets/secrets.enc", tmp);
    struct stat st;
    cr_assert_eq(stat(mode, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
    cr_expect_not(file_has(mode, SECRET_TEXT, strlen(SECRET_TEXT)));
    free(mode);
    dr_bundle_reader_close(r);
    free(target);
    free(path);
}

/* ---- secrets never in clear ------------------------------------------------ */

typedef struct scan_ctx {
    gen g;
    const char *dir;
    int scanned;
    int found;
} scan_ctx;

static int scan_file(const char *path, const struct stat *st, int flag, struct FTW *ftw);
static int scan_found;

static int scan_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (flag != FTW_F)
        return 0;
    size_t n;
    unsigned char *p = slurp(path, &n);
    if (memmem(p, n, SECRET_TEXT, strlen(SECRET_TEXT)) || memmem(p, n, "BINARY-MARK", 11)) {
        scan_found++;
        cr_log_error("a secret value is in %s", path);
    }
    free(p);
    return 0;
}

/* Streams data and, halfway, looks through every file in the directories
 * the writer could use. */
static long scanning_read(void *ud, char *buf, size_t n)
{
    scan_ctx *c = ud;
    if (!c->scanned && c->g.left < 2000000) {
        c->scanned = 1;
        nftw(c->dir, scan_file, 16, FTW_PHYS);
        nftw(getenv("TMPDIR"), scan_file, 16, FTW_PHYS);
        c->found = scan_found;
    }
    return gen_read(&c->g, buf, n);
}

static void decompress_all(const char *path, dr_buf *out)
{
    size_t n;
    unsigned char *p = slurp(path, &n);
    ZSTD_DCtx *d = ZSTD_createDCtx();
    ZSTD_inBuffer in = {p, n, 0};
    unsigned char buf[65536];
    while (in.pos < in.size) {
        ZSTD_outBuffer o = {buf, sizeof(buf), 0};
        size_t r = ZSTD_decompressStream(d, &o, &in);
        cr_assert(!ZSTD_isError(r), "%s", ZSTD_getErrorName(r));
        dr_buf_append(out, buf, o.pos);
    }
    ZSTD_freeDCtx(d);
    free(p);
}

Test(bundle, secret_values_are_never_in_clear_on_disk_or_in_errors)
{
    char *tdir = dr_xasprintf("%s/tmpdir", tmp);
    cr_assert_eq(mkdir(tdir, 0700), 0);
    setenv("TMPDIR", tdir, 1);
    for (int enc = 0; enc < 2; enc++) {
        char *path = dr_xasprintf("%s/s%d.bundle", tmp, enc);
        dr_bundle_kms_key keys[1] = {{"us-east-1", "k"}};
        dr_bundle_wopts o = {.stack = "s",
                             .region = "us-east-1",
                             .version = 1,
                             .captured_at = 1,
                             .encryption = enc,
                             .kms_keys = keys,
                             .n_kms_keys = 1,
                             .kms = &kms_ops,
                             .part_size = 1048576};
        dr_bundle_writer *w;
        dr_err err;
        cr_assert_eq(dr_bundle_writer_open(path, &o, &w, &err), 0, "%s", err.msg);
        cr_assert_eq(dr_bundle_writer_add_secret(w, "litellm/master-key", SECRET_TEXT,
                                                 strlen(SECRET_TEXT), &err),
                     0);
        cr_assert_eq(dr_bundle_writer_add_secret(w, "bin", secret_bin, sizeof(secret_bin), &err),
                     0);
        scan_ctx c = {.g = {.s = 8, .left = 6000000}, .dir = tmp};
        cr_assert_eq(dr_bundle_writer_add_stream(w, "db/dump.pgc", scanning_read, &c, NULL, &err),
                     0, "%s", err.msg);
        cr_expect(c.scanned);
        cr_expect_eq(c.found, 0, "a secret value was on disk during the write");
        cr_assert_eq(dr_bundle_writer_close(w, NULL, &err), 0, "%s", err.msg);
        /* The finished bundle, decompressed in full (plain), holds no
         * secret in clear either. */
        scan_found = 0;
        nftw(tmp, scan_file, 16, FTW_PHYS);
        cr_expect_eq(scan_found, 0);
        if (enc == 0) {
            dr_buf all = DR_BUF_INIT;
            decompress_all(path, &all);
            cr_expect_gt(all.len, 6000000);
            cr_expect_null(memmem(all.data, all.len, SECRET_TEXT, strlen(SECRET_TEXT)));
            cr_expect_null(memmem(all.data, all.len, "BINARY-MARK", 11));
            dr_buf_free(&all);
        }
        /* Failures while secrets are held never quote them. */
        const char *west[] = {"us-west-2"};
        dr_bundle_keyring kr = {.kms = &kms_ops, .kms_regions = west, .n_kms_regions = 1};
        dr_bundle_reader *r;
        cr_assert_neq(dr_bundle_reader_open(path, &kr, &r, &err), 0);
        cr_expect_null(strstr(err.msg, SECRET_TEXT));
        free(path);
    }
    free(tdir);
}

/* ---- a second reader, from the specification ------------------------------- */

/* docs/bundle-format.md carries a reference reader in Python, written from
 * the specification alone (OpenSSL-free: the `cryptography` package, the
 * zstd and tar programs). Run it: if the spec and the code disagree, this
 * fails. */
static char *extract_reference_reader(void)
{
    const char *src = getenv("DRCTL_SOURCE_DIR");
    char *doc = dr_xasprintf("%s/docs/bundle-format.md", src ? src : ".");
    size_t n;
    unsigned char *p = slurp(doc, &n);
    p[n] = 0;
    const char *start = strstr((char *)p, "```python\n# drctl-bundle reference reader");
    cr_assert(start, "no reference reader in %s", doc);
    start += strlen("```python\n");
    const char *end = strstr(start, "\n```");
    cr_assert(end);
    char *script = dr_xasprintf("%s/reader.py", tmp);
    spit(script, start, (size_t)(end - start) + 1);
    free(p);
    free(doc);
    return script;
}

Test(bundle, reference_reader_from_the_spec_opens_bundles)
{
    if (system("python3 -c 'import cryptography' 2>/dev/null") != 0)
        cr_skip_test("python3 with the cryptography package is not installed");
    char *script = extract_reference_reader();
    char *pem = dr_xasprintf("%s/recovery.pem", tmp);
    keys_once();
    spit(pem, rec_priv, strlen(rec_priv));
    for (int enc = 0; enc < 2; enc++) {
        char *path = dr_xasprintf("%s/r%d.bundle", tmp, enc);
        sample s = {.enc = enc,
                    .recovery = 1,
                    .dump_len = 2500000,
                    .part_size = 1048576,
                    .blob_len = 1500000};
        write_sample(path, &s);
        char *out = dr_xasprintf("%s/out%d", tmp, enc);
        char *cmd = dr_xasprintf("python3 %s --recovery-key %s --extract %s --secrets %s "
                                 "> %s/py%d.txt 2>&1",
                                 script, pem, out, path, tmp, enc);
        int rc = system(cmd);
        char *log = dr_xasprintf("%s/py%d.txt", tmp, enc);
        size_t n;
        unsigned char *text = slurp(log, &n);
        text[n] = 0;
        cr_assert_eq(rc, 0, "reference reader failed:\n%s", text);
        cr_expect(strstr((char *)text, "manifest signature OK"), "%s", text);
        cr_expect(strstr((char *)text, SECRET_TEXT), "secrets not decrypted:\n%s", text);
        free(text);
        free(log);
        free(cmd);
        cmd = dr_xasprintf("cd %s/db && cat dump.pgc.part-* | cmp -s - %s/../dump.ref || "
                           "true; cat %s/db/dump.pgc.part-* | wc -c",
                           out, out, out);
        FILE *p = popen(cmd, "r");
        char line[64] = "";
        cr_assert(fgets(line, sizeof(line), p));
        pclose(p);
        cr_expect_eq(atol(line), 2500000);
        free(cmd);
        /* A damaged copy fails in the reference reader too. */
        unsigned char *b = slurp(path, &n);
        b[n / 2] ^= 0x10;
        spit(path, b, n);
        free(b);
        cmd = dr_xasprintf("python3 %s --recovery-key %s %s > /dev/null 2>&1", script, pem, path);
        cr_expect_neq(system(cmd), 0, "the reference reader accepted a damaged bundle");
        free(cmd);
        free(out);
        free(path);
    }
    free(pem);
    free(script);
}
