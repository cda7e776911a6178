/*
 * test_bundle_sized.c - dr_bundle_writer_add_sized: an entry of known size
 * streamed from a callback. The exact size round-trips through the reader
 * (size and SHA-256 checked against the manifest); a source that delivers
 * fewer or more bytes than announced fails naming the entry, and the
 * writer then refuses to go on.
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

#include "bundle/bundle.h"
#include "util/mem.h"

static char tmp[64];
static char *rec_pub, *rec_priv;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/drctl-sized-XXXXXX");
    cr_assert(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
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

static void teardown(void)
{
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(rec_pub);
    free(rec_priv);
}

TestSuite(bundle_sized, .init = setup, .fini = teardown);

/* A source of `len` deterministic bytes handed out in odd-sized pieces. */
typedef struct src {
    const unsigned char *data;
    size_t len, pos;
    size_t step;
} src;

static long src_read(void *ud, char *buf, size_t n)
{
    src *s = ud;
    size_t k = s->len - s->pos;
    if (k > n)
        k = n;
    if (k > s->step)
        k = s->step;
    memcpy(buf, s->data + s->pos, k);
    s->pos += k;
    s->step = s->step * 7 % 300007 + 1;
    return (long)k;
}

static unsigned char *make_data(size_t n)
{
    unsigned char *p = dr_xmalloc(n + 1);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)(i % 3 ? x : 'a' + i % 26);
    }
    return p;
}

static dr_bundle_writer *open_writer(const char *path)
{
    dr_bundle_wopts o = {.stack = "s",
                         .region = "us-east-1",
                         .version = 1,
                         .captured_at = 1700000000,
                         .recovery_pubkey_pem = rec_pub};
    dr_bundle_writer *w = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_bundle_writer_open(path, &o, &w, &err), 0, "%s", err.msg);
    return w;
}

typedef struct got {
    const char *want_path;
    EVP_MD_CTX *md;
    size_t bytes;
    int ended;
} got;

static int g_begin(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    got *g = ud;
    return strcmp(e->path, g->want_path) == 0 ? 0 : 1;
}

static int g_data(void *ud, const dr_bundle_entry *e, const void *p, size_t n, dr_err *err)
{
    got *g = ud;
    EVP_DigestUpdate(g->md, p, n);
    g->bytes += n;
    return 0;
}

static int g_end(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    got *g = ud;
    if (strcmp(e->path, g->want_path) == 0)
        g->ended = 1;
    return 0;
}

Test(bundle_sized, exact_size_round_trips_and_is_verified)
{
    static const size_t sizes[] = {0, 1, 262144, 262145, 3000001};
    char *path = dr_xasprintf("%s/b.tar.zst", tmp);
    dr_bundle_writer *w = open_writer(path);
    dr_err err;
    dr_err_clear(&err);
    unsigned char *data = make_data(3000001);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
        char name[64];
        snprintf(name, sizeof(name), "s3/objects/sized-%zu", sizes[i]);
        src s = {.data = data, .len = sizes[i], .step = 1000 + i};
        dr_bundle_entry_opts eo = {.mode = 0640, .mtime = 1600000000};
        cr_assert_eq(dr_bundle_writer_add_sized(w, name, sizes[i], src_read, &s, &eo, &err), 0,
                     "%s: %s", name, err.msg);
        cr_expect_eq(s.pos, sizes[i]);
    }
    cr_assert_eq(dr_bundle_writer_close(w, NULL, &err), 0, "%s", err.msg);

    dr_bundle_keyring kr = {.recovery_privkey_pem = rec_priv};
    dr_bundle_reader *r = NULL;
    cr_assert_eq(dr_bundle_reader_open(path, &kr, &r, &err), 0, "%s", err.msg);
    cr_expect_eq(dr_bundle_reader_info(r)->n_entries, sizeof(sizes) / sizeof(*sizes));
    for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
        char name[64];
        snprintf(name, sizeof(name), "s3/objects/sized-%zu", sizes[i]);
        got g = {.want_path = name, .md = EVP_MD_CTX_new()};
        EVP_DigestInit_ex(g.md, EVP_sha256(), NULL);
        dr_bundle_visitor v = {g_begin, g_data, g_end, &g};
        cr_assert_eq(dr_bundle_reader_scan(r, &v, &err), 0, "%s", err.msg);
        unsigned char a[32], b[32];
        EVP_DigestFinal_ex(g.md, a, NULL);
        EVP_MD_CTX_free(g.md);
        EVP_Digest(data, sizes[i], b, NULL, EVP_sha256(), NULL);
        cr_expect(g.ended, "%s was not verified", name);
        cr_expect_eq(g.bytes, sizes[i]);
        cr_expect(memcmp(a, b, 32) == 0, "%s: content differs", name);
    }
    /* The manifest carries the entry options. */
    const json_t *ents = json_object_get(dr_bundle_reader_manifest(r), "entries");
    const json_t *e0 = json_array_get(ents, 0);
    cr_expect_eq(json_integer_value(json_object_get(e0, "mode")), 0640);
    cr_expect_eq(json_integer_value(json_object_get(e0, "mtime")), 1600000000);
    dr_bundle_reader_close(r);
    free(data);
    free(path);
}

static void expect_mismatch(size_t announced, size_t delivered, const char *word)
{
    char *path = dr_xasprintf("%s/bad-%zu-%zu.tar.zst", tmp, announced, delivered);
    dr_bundle_writer *w = open_writer(path);
    dr_err err;
    dr_err_clear(&err);
    unsigned char *data = make_data(delivered);
    src s = {.data = data, .len = delivered, .step = 4096};
    cr_assert_eq(dr_bundle_writer_add_buffer(w, "config/before.txt", "x", 1, NULL, &err), 0);
    cr_expect_eq(
        dr_bundle_writer_add_sized(w, "s3/objects/liar", announced, src_read, &s, NULL, &err), -1);
    cr_expect_eq(err.code, DR_E_IO);
    cr_expect(strstr(err.msg, "s3/objects/liar") != NULL, "message lacks the path: %s", err.msg);
    cr_expect(strstr(err.msg, word) != NULL, "message lacks '%s': %s", word, err.msg);
    /* Unusable from now on: close refuses and leaves nothing behind. */
    cr_expect_eq(dr_bundle_writer_add_buffer(w, "config/after.txt", "x", 1, NULL, &err), -1);
    cr_expect_eq(dr_bundle_writer_close(w, NULL, &err), -1);
    cr_expect_neq(access(path, F_OK), 0, "a failed bundle was left at %s", path);
    free(data);
    free(path);
}

Test(bundle_sized, short_read_fails_naming_the_entry)
{
    expect_mismatch(1000000, 999999, "fewer");
    expect_mismatch(10, 0, "fewer");
}

Test(bundle_sized, long_read_fails_naming_the_entry)
{
    expect_mismatch(1000000, 1000001, "more");
    expect_mismatch(0, 1, "more");
}

static long failing_read(void *ud, char *buf, size_t n)
{
    int *calls = ud;
    if ((*calls)++ == 0) {
        memset(buf, 'z', n < 100 ? n : 100);
        return n < 100 ? (long)n : 100;
    }
    return -1;
}

Test(bundle_sized, read_error_fails_and_the_writer_can_be_aborted)
{
    char *path = dr_xasprintf("%s/err.tar.zst", tmp);
    dr_bundle_writer *w = open_writer(path);
    dr_err err;
    dr_err_clear(&err);
    int calls = 0;
    cr_expect_eq(
        dr_bundle_writer_add_sized(w, "s3/objects/broken", 5000, failing_read, &calls, NULL, &err),
        -1);
    cr_expect_eq(err.code, DR_E_IO);
    cr_expect(strstr(err.msg, "s3/objects/broken") && strstr(err.msg, "byte 100"), "%s", err.msg);
    dr_bundle_writer_abort(w);
    cr_expect_neq(access(path, F_OK), 0);
    free(path);
}
