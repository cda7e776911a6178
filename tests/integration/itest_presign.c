/*
 * itest_presign.c - a presigned S3 GET made by drctl is the one botocore
 * makes for the same inputs and time, and it downloads the object with
 * plain curl.
 *
 * botocore and drctl order the X-Amz-* parameters differently (drctl
 * follows the aws-c-auth suite, botocore puts X-Amz-Expires earlier); AWS
 * accepts any order, so the comparison is of the path, of the parameters
 * as a sorted set, and of the signature, byte for byte. moto answers 500 to
 * presigned URLs while its signature checks are on (SANDBOX-NOTES.md), so
 * the download runs with the checks off.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws/client.h"
#include "aws/s3.h"
#include "sandbox_env.h"
#include "util/mem.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "path?query" -> path (returned) and the query's parameters, sorted. */
static char *split_sorted(const char *url, char ***params, size_t *n)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : url;
    cr_assert(p, "no path in %s", url);
    const char *q = strchr(p, '?');
    char *path = dr_xstrndup(p, q ? (size_t)(q - p) : strlen(p));
    *params = NULL;
    *n = 0;
    if (q) {
        char *copy = dr_xstrdup(q + 1), *save = NULL;
        for (char *t = strtok_r(copy, "&", &save); t; t = strtok_r(NULL, "&", &save)) {
            *params = dr_xrealloc(*params, (*n + 1) * sizeof(char *));
            (*params)[(*n)++] = dr_xstrdup(t);
        }
        free(copy);
        qsort(*params, *n, sizeof(char *), cmp_str);
    }
    return path;
}

static const char *param(char **params, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (strncmp(params[i], name, len) == 0 && params[i][len] == '=')
            return params[i] + len + 1;
    return NULL;
}

Test(presign, s3_get_matches_botocore_and_downloads, .timeout = 120)
{
    sandbox_load_env();
    dr_log log;
    dr_log_init(&log);
    dr_aws_opts o = {0};
    o.log = &log;
    dr_aws *aws = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_aws_new(&o, &aws, &err) == 0, "%s", err.msg);

    char bucket[96];
    snprintf(bucket, sizeof(bucket), "drctl-itest-presign-%s", test_suffix());
    const char *key = "reports/drill report 2026.txt";
    const char *body = "the drill passed\n";
    cr_assert(dr_s3_create_bucket(aws, "us-east-1", bucket, &err) == 0, "%s", err.msg);
    cr_assert(dr_s3_put_buffer(aws, "us-east-1", bucket, key, body, strlen(body), NULL, &err) == 0,
              "%s", err.msg);

    time_t now = time(NULL);
    dr_aws_rest_req req = {0};
    req.service = "s3";
    req.region = "us-east-1";
    req.operation = "GetObject";
    req.method = "GET";
    req.bucket = bucket;
    req.path = key;
    char *url = NULL;
    cr_assert(dr_aws_presign(aws, &req, now, 900, &url, &err) == 0, "%s", err.msg);

    /* botocore, same inputs and time. */
    char iso[32];
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_t *in = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "mode", "presign", "method",
        "GET", "endpoint", sandbox_endpoint(), "bucket", bucket, "key", key, "time", iso,
        "access_key", getenv("AWS_ACCESS_KEY_ID"), "secret_key", getenv("AWS_SECRET_ACCESS_KEY"),
        "region", "us-east-1", "service", "s3", "expires", 900);
    char inpath[] = "/tmp/drctl-itest-presign-XXXXXX";
    int fd = mkstemp(inpath);
    char *s = json_dumps(in, 0);
    cr_assert(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
    close(fd);
    free(s);
    json_decref(in);
    char *out = NULL;
    cr_assert(sh(&out, "python3 '%s/tests/tools/botocore_sign.py' %s", getenv("DRCTL_SOURCE_DIR"),
                 inpath) == 0,
              "botocore_sign.py failed");
    unlink(inpath);
    json_error_t jerr;
    json_t *bc = json_loads(out, 0, &jerr);
    cr_assert(bc, "botocore_sign.py printed: %s", out);
    const char *bc_url = json_string_value(json_object_get(bc, "url"));
    cr_assert(bc_url);

    char **mine, **theirs;
    size_t nmine, ntheirs;
    char *mpath = split_sorted(url, &mine, &nmine);
    char *tpath = split_sorted(bc_url, &theirs, &ntheirs);
    cr_expect_str_eq(mpath, tpath, "path differs");
    cr_expect_eq(nmine, ntheirs, "%zu parameters vs botocore's %zu", nmine, ntheirs);
    for (size_t i = 0; i < nmine && i < ntheirs; i++)
        cr_expect_str_eq(mine[i], theirs[i], "parameter %zu differs", i);
    cr_expect_str_eq(param(mine, nmine, "X-Amz-Signature"),
                     param(theirs, ntheirs, "X-Amz-Signature"));

    /* Plain curl downloads the object with the URL drctl made. */
    sandbox_auth(0);
    char *got = NULL;
    int st = sh(&got, "curl -sf '%s'", url);
    sandbox_auth(1);
    cr_expect_eq(st, 0, "curl failed on %s", url);
    cr_expect_str_eq(got ? got : "", body);

    for (size_t i = 0; i < nmine; i++)
        free(mine[i]);
    for (size_t i = 0; i < ntheirs; i++)
        free(theirs[i]);
    free(mine);
    free(theirs);
    free(mpath);
    free(tpath);
    free(got);
    free(out);
    free(url);
    json_decref(bc);
    dr_aws_free(aws);
}
