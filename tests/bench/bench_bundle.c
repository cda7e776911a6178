/*
 * bench_bundle.c - bundle writer throughput and peak RSS (not a test).
 *
 *   bench_bundle [--plain] [--stream] [--out FILE] [--level N] [--workers N] DIR
 *
 * Writes every regular file under DIR into one bundle (encrypted unless
 * --plain; to /dev/null unless --out), as s3/<relative path>, through
 * dr_bundle_writer_add_file (or add_stream with --stream, which exercises
 * the parts path), then prints input bytes, output bytes, seconds, MB/s of
 * input and peak RSS. Compare with:
 *
 *   time (tar -cf - DIR | zstd -T0 -3 > /dev/null)
 *
 * Key wraps use an in-process stand-in for KMS (no network), so the figure
 * is the writer's own.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "util/mem.h"

static int copy_wrap(void *ud, const char *region, const char *key_id, const dr_kvlist *ctx,
                     const unsigned char *pt, size_t n, unsigned char **ct, size_t *ct_len,
                     char **arn, dr_err *err)
{
    *ct = dr_xmalloc(n);
    memcpy(*ct, pt, n);
    *ct_len = n;
    if (arn)
        *arn = dr_xstrdup("arn:aws:kms:us-east-1:000000000000:key/bench");
    return 0;
}

static int copy_unwrap(void *ud, const char *region, const char *key_id, const dr_kvlist *ctx,
                       const unsigned char *ct, size_t n, unsigned char **pt, size_t *pt_len,
                       dr_err *err)
{
    return copy_wrap(ud, region, key_id, ctx, ct, n, pt, pt_len, NULL, err);
}

static dr_bundle_writer *W;
static size_t ROOT_LEN;
static int STREAM;
static int FAILED;
static unsigned long long FILES;

static long fd_read(void *ud, char *buf, size_t n)
{
    ssize_t k = read(*(int *)ud, buf, n);
    return k < 0 ? -1 : (long)k;
}

static int add_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (flag != FTW_F || !S_ISREG(st->st_mode))
        return 0;
    char *name = dr_xasprintf("s3/%s", path + ROOT_LEN);
    dr_err err;
    int rc;
    if (STREAM) {
        int fd = open(path, O_RDONLY);
        rc = fd < 0 ? -1 : dr_bundle_writer_add_stream(W, name, fd_read, &fd, NULL, &err);
        if (fd >= 0)
            close(fd);
    } else {
        rc = dr_bundle_writer_add_file(W, name, path, NULL, &err);
    }
    if (rc != 0) {
        fprintf(stderr, "bench_bundle: %s: %s\n", name, err.msg);
        FAILED = 1;
    }
    FILES++;
    free(name);
    return rc != 0;
}

int main(int argc, char **argv)
{
    const char *out = "/dev/null", *dir = NULL;
    dr_bundle_enc enc = DR_BUNDLE_ENC_AES;
    int level = 0, workers = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--plain") == 0)
            enc = DR_BUNDLE_ENC_NONE;
        else if (strcmp(argv[i], "--stream") == 0)
            STREAM = 1;
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--level") == 0 && i + 1 < argc)
            level = atoi(argv[++i]);
        else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
            workers = atoi(argv[++i]);
        else
            dir = argv[i];
    }
    if (!dir) {
        fprintf(stderr, "usage: bench_bundle [--plain] [--stream] [--out FILE] [--level N] "
                        "[--workers N] DIR\n");
        return 2;
    }
    ROOT_LEN = strlen(dir) + (dir[strlen(dir) - 1] == '/' ? 0 : 1);
    dr_bundle_kms kms = {copy_wrap, copy_unwrap, NULL};
    dr_bundle_kms_key keys[1] = {{"us-east-1", "bench"}};
    dr_bundle_wopts o = {.stack = "bench",
                         .region = "us-east-1",
                         .version = 1,
                         .captured_at = (int64_t)time(NULL),
                         .encryption = enc,
                         .kms_keys = keys,
                         .n_kms_keys = 1,
                         .kms = &kms,
                         .level = level,
                         .workers = workers};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    dr_err err;
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dr_bundle_writer_open_fd(fd, &o, &W, &err) != 0) {
        fprintf(stderr, "bench_bundle: %s\n", fd < 0 ? out : err.msg);
        return 1;
    }
    if (nftw(dir, add_one, 32, FTW_PHYS) != 0 || FAILED) {
        dr_bundle_writer_abort(W);
        return 1;
    }
    dr_bundle_result res;
    if (dr_bundle_writer_close(W, &res, &err) != 0) {
        fprintf(stderr, "bench_bundle: %s\n", err.msg);
        return 1;
    }
    close(fd);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf("%s%s: %llu files, %llu bytes in, %llu bytes out (%.1f%%), %.2f s, %.1f MB/s, "
           "cpu %.2f s, peak RSS %ld KiB\n",
           enc == DR_BUNDLE_ENC_AES ? "encrypted" : "plain", STREAM ? " (streamed parts)" : "",
           FILES, (unsigned long long)res.bytes_in, (unsigned long long)res.bytes_out,
           100.0 * (double)res.bytes_out / (double)(res.bytes_in ? res.bytes_in : 1), s,
           (double)res.bytes_in / s / 1e6, cpu, ru.ru_maxrss);
    return 0;
}
