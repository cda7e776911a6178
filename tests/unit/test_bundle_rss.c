/*
 * test_bundle_rss.c - memory stays bounded whatever the data size.
 *
 * Each test forks a child that writes (or reads) a bundle with a 1 GiB
 * streamed entry from a generator, and takes the child's peak RSS from
 * wait4(): it must stay under 64 MiB. A binary of its own so that the
 * measurement is not disturbed by the other bundle tests. Skipped under
 * AddressSanitizer, whose shadow memory and quarantine inflate RSS.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "util/mem.h"

#define GIB (1024ull * 1024 * 1024)
#define LIMIT_KIB (64 * 1024)

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

static char tmp[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    if (UNDER_ASAN)
        return;
    snprintf(tmp, sizeof(tmp), "/tmp/drctl-bundle-rss-XXXXXX");
    cr_assert(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
}

static void teardown(void)
{
    if (!UNDER_ASAN)
        nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(bundle_rss, .init = setup, .fini = teardown);

/* A fake KMS that "wraps" by copying: these tests are about memory. */
static int copy_encrypt(void *ud, const char *region, const char *key_id, const dr_kvlist *ctx,
                        const unsigned char *pt, size_t n, unsigned char **ct, size_t *ct_len,
                        char **arn, dr_err *err)
{
    *ct = dr_xmalloc(n);
    memcpy(*ct, pt, n);
    *ct_len = n;
    *arn = dr_xstrdup("arn:aws:kms:us-east-1:000000000000:key/k");
    return 0;
}

static int copy_decrypt(void *ud, const char *region, const char *key_id, const dr_kvlist *ctx,
                        const unsigned char *ct, size_t n, unsigned char **pt, size_t *pt_len,
                        dr_err *err)
{
    *pt = dr_xmalloc(n);
    memcpy(*pt, ct, n);
    *pt_len = n;
    return 0;
}

static dr_bundle_kms kms = {copy_encrypt, copy_decrypt, NULL};

/* 1 GiB of LiteLLM-ish data: one 64 KiB block in four random, the others
 * JSON lines with some digits changed per block. Generated on the fly. */
typedef struct gen {
    uint64_t s;
    uint64_t left;
    uint64_t pos;
    char text[65536];
} gen;

static uint64_t xs(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void gen_init(gen *g, uint64_t n)
{
    g->s = 88172645463325252ull;
    g->left = n;
    g->pos = 0;
    size_t o = 0;
    while (o < sizeof(g->text)) {
        char line[96];
        uint64_t r = xs(&g->s);
        int k = snprintf(line, sizeof(line),
                         "{\"model\":\"gpt-4o\",\"user\":\"user_%u\",\"spend\":0.%06u}\n",
                         (unsigned)(r % 5000), (unsigned)(r >> 40) % 1000000);
        size_t c = (size_t)k < sizeof(g->text) - o ? (size_t)k : sizeof(g->text) - o;
        memcpy(g->text + o, line, c);
        o += c;
    }
}

static long gen_read(void *ud, char *buf, size_t n)
{
    gen *g = ud;
    size_t in = (size_t)(g->pos & 65535);
    if (n > 65536 - in)
        n = 65536 - in; /* one block at a time */
    if (n > g->left)
        n = (size_t)g->left;
    if ((g->pos >> 16) % 4 == 1) {
        for (size_t i = 0; i < n; i += 8) {
            uint64_t r = xs(&g->s);
            memcpy(buf + i, &r, n - i < 8 ? n - i : 8);
        }
    } else {
        memcpy(buf, g->text + in, n);
        for (size_t i = 40; i < n; i += 97)
            buf[i] = (char)('0' + xs(&g->s) % 10);
    }
    g->pos += n;
    g->left -= n;
    return (long)n;
}

static void write_bundle(int fd, dr_bundle_enc enc)
{
    dr_bundle_kms_key keys[1] = {{"us-east-1", "k"}};
    dr_bundle_wopts o = {.stack = "s",
                         .region = "us-east-1",
                         .version = 1,
                         .captured_at = 1,
                         .encryption = enc,
                         .kms_keys = keys,
                         .n_kms_keys = 1,
                         .kms = &kms};
    dr_bundle_writer *w;
    dr_err err;
    if (dr_bundle_writer_open_fd(fd, &o, &w, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        _exit(2);
    }
    dr_bundle_writer_add_secret(w, "k", "v", 1, &err);
    static gen g;
    gen_init(&g, GIB);
    if (dr_bundle_writer_add_stream(w, "db/dump.pgc", gen_read, &g, NULL, &err) != 0 ||
        dr_bundle_writer_close(w, NULL, &err) != 0) {
        fprintf(stderr, "write: %s\n", err.msg);
        _exit(3);
    }
}

static long child_peak_kib(void (*fn)(void *), void *arg, double *secs)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    int st;
    struct rusage ru;
    cr_assert_eq(wait4(pid, &st, 0, &ru), pid);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed (status %d)", st);
    return ru.ru_maxrss;
}

static void write_encrypted_to_file(void *arg)
{
    int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        _exit(4);
    write_bundle(fd, DR_BUNDLE_ENC_AES);
    close(fd);
}

static void write_plain_to_null(void *arg)
{
    int fd = open("/dev/null", O_WRONLY);
    write_bundle(fd, DR_BUNDLE_ENC_NONE);
    close(fd);
}

static void verify_file(void *arg)
{
    dr_bundle_keyring kr = {.kms = &kms};
    dr_bundle_reader *r;
    dr_err err;
    if (dr_bundle_reader_open(arg, &kr, &r, &err) != 0 || dr_bundle_reader_verify(r, &err) != 0) {
        fprintf(stderr, "verify: %s\n", err.msg);
        _exit(5);
    }
    if (dr_bundle_reader_info(r)->data_bytes < GIB)
        _exit(6);
    dr_bundle_reader_close(r);
}

Test(bundle_rss, one_gib_streamed_entry_in_bounded_memory)
{
    if (UNDER_ASAN)
        cr_skip_test("RSS is meaningless under AddressSanitizer");
    char *path = dr_xasprintf("%s/big.drb", tmp);
    double secs;
    long w = child_peak_kib(write_encrypted_to_file, path, &secs);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_log_info("write, encrypted, 1 GiB: peak RSS %ld KiB, %.1f s, %.0f MB/s, %lld bytes", w, secs,
                GIB / secs / 1e6, (long long)st.st_size);
    cr_expect_lt(w, LIMIT_KIB, "writer peak RSS %ld KiB", w);

    long v = child_peak_kib(verify_file, path, &secs);
    cr_log_info("verify, encrypted, 1 GiB: peak RSS %ld KiB, %.1f s", v, secs);
    cr_expect_lt(v, LIMIT_KIB, "reader peak RSS %ld KiB", v);
    unlink(path);

    long p = child_peak_kib(write_plain_to_null, NULL, &secs);
    cr_log_info("write, unencrypted, 1 GiB: peak RSS %ld KiB, %.1f s", p, secs);
    cr_expect_lt(p, LIMIT_KIB, "writer peak RSS %ld KiB", p);
    free(path);
}
