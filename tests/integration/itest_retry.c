/*
 * itest_retry.c - the standard retry mode, through the fault-injecting
 * proxy between drctl and moto.
 *
 * Faults are seeded and deterministic, and the proxy never fails more
 * requests in a row than AWS_MAX_ATTEMPTS - 1, so these tests cannot flake:
 * every call must succeed, and the number of retries drctl logs must equal
 * the number of faults the proxy injected.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/client.h"
#include "aws/s3.h"
#include "sandbox_env.h"
#include "util/mem.h"

static dr_log log_;
static char *log_text;
static size_t log_len;

static dr_aws *client_via(const char *endpoint)
{
    log_.out = open_memstream(&log_text, &log_len);
    log_.level = DR_LOG_INFO; /* what -v shows */
    log_.progress = 0;
    dr_aws_opts o = {0};
    o.log = &log_;
    o.endpoint_url = endpoint;
    dr_aws *aws = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_aws_new(&o, &aws, &err) == 0, "%s", err.msg);
    return aws;
}

static size_t count_lines_with(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static long faults_total(json_t *stats)
{
    long n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(stats, "faults"), k, v) n += (long)json_integer_value(v);
    return n;
}

static void setup(void)
{
    sandbox_load_env();
    setenv("AWS_MAX_ATTEMPTS", "3", 1);
}

TestSuite(retry, .init = setup, .timeout = 600);

/* One call of a protocol family, chosen by i. */
static int one_call(dr_aws *aws, int i, dr_err *err)
{
    switch (i % 4) {
    case 0:
        return dr_aws_query(aws, "sts", "us-east-1", "GetCallerIdentity", NULL, NULL, err);
    case 1:
        return dr_aws_query(aws, "ec2", "us-west-2", "DescribeVpcs", NULL, NULL, err);
    case 2: {
        json_t *in = json_pack("{s:i}", "Limit", 5);
        int rc = dr_aws_json(aws, "kms", "us-east-1", "ListKeys", in, NULL, err);
        json_decref(in);
        return rc;
    }
    default: {
        dr_aws_rest_req req = {0};
        req.service = "s3";
        req.region = "us-east-1";
        req.operation = "ListBuckets";
        req.method = "GET";
        dr_aws_rest_resp resp;
        dr_aws_rest_resp_init(&resp);
        int rc = dr_aws_rest(aws, &req, &resp, err);
        dr_aws_rest_resp_free(&resp);
        return rc;
    }
    }
}

Test(retry, thirty_percent_faults_two_hundred_calls_all_succeed)
{
    fault_proxy px;
    proxy_start(&px, "--fail-rate 0.3 --seed 20261127 --max-consecutive 2 "
                     "--faults throttle,503,500,html500");
    dr_aws *aws = client_via(px.url);
    dr_err err;
    dr_err_clear(&err);
    for (int i = 0; i < 200; i++)
        cr_assert(one_call(aws, i, &err) == 0, "call %d failed: %s", i, err.msg);
    dr_aws_stats st;
    dr_aws_get_stats(aws, &st);
    json_t *ps = proxy_stats(&px);
    long faults = faults_total(ps);
    fflush(log_.out);
    /* About 30 % of requests failed, every one was retried, and -v showed
     * each retry. */
    cr_expect(faults >= 40, "only %ld faults injected", faults);
    cr_expect_eq(st.retries, faults, "drctl retried %ld times for %ld faults", st.retries, faults);
    cr_expect_eq(st.requests, 200 + faults);
    cr_expect_eq((long)json_integer_value(json_object_get(ps, "requests")), 200 + faults);
    cr_expect_eq((long)count_lines_with(log_text, "retrying"), faults,
                 "%zu retry lines logged for %ld faults", count_lines_with(log_text, "retrying"),
                 faults);
    dr_aws_free(aws);
    fclose(log_.out);
    free(log_text);
    json_decref(ps);
    proxy_stop(&px);
}

/*
 * Broken connections, separately. "partial" answers a status line and then
 * resets: drctl must see and retry every one. A bare "reset" on a reused
 * connection is re-sent once by libcurl itself before drctl sees anything,
 * so for those drctl retries at most as often as they happened.
 */
Test(retry, connection_resets_are_retried)
{
    fault_proxy px;
    proxy_start(&px, "--fail-rate 0.3 --seed 7 --max-consecutive 2 --faults partial");
    dr_aws *aws = client_via(px.url);
    dr_err err;
    dr_err_clear(&err);
    for (int i = 0; i < 60; i++)
        cr_assert(one_call(aws, i, &err) == 0, "call %d failed: %s", i, err.msg);
    dr_aws_stats st;
    dr_aws_get_stats(aws, &st);
    json_t *ps = proxy_stats(&px);
    long resets = faults_total(ps);
    cr_expect(resets >= 10, "only %ld broken answers injected", resets);
    cr_expect_eq(st.retries, resets, "%ld retries for %ld broken answers", st.retries, resets);

    proxy_config(&px, "{\"faults\": [\"reset\"], \"seed\": 8, \"reset_stats\": true}");
    dr_aws_stats before;
    dr_aws_get_stats(aws, &before);
    for (int i = 0; i < 60; i++)
        cr_assert(one_call(aws, i, &err) == 0, "call %d failed: %s", i, err.msg);
    dr_aws_get_stats(aws, &st);
    json_decref(ps);
    ps = proxy_stats(&px);
    resets = faults_total(ps);
    cr_expect(resets >= 10, "only %ld resets injected", resets);
    cr_expect(st.retries - before.retries <= resets, "%ld retries for %ld resets",
              st.retries - before.retries, resets);
    dr_aws_free(aws);
    fclose(log_.out);
    free(log_text);
    json_decref(ps);
    proxy_stop(&px);
}

Test(retry, every_request_failing_stops_after_max_attempts)
{
    fault_proxy px;
    proxy_start(&px, "--fail-all --faults throttle");
    dr_aws *aws = client_via(px.url);
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_aws_query(aws, "sts", "us-east-1", "GetCallerIdentity", NULL, NULL, &err) != 0);
    cr_expect_eq(err.code, DR_E_AWS);
    cr_expect_str_eq(err.aws.code, "Throttling");
    cr_expect(strstr(err.msg, "Throttling") && strstr(err.msg, "GetCallerIdentity"), "%s", err.msg);
    json_t *ps = proxy_stats(&px);
    cr_expect_eq(json_integer_value(json_object_get(ps, "requests")), 3,
                 "AWS_MAX_ATTEMPTS=3 must mean exactly 3 requests");
    json_decref(ps);

    /* The JSON protocol's throttling shape, and a different attempt count. */
    proxy_config(&px, "{\"reset_stats\": true}");
    dr_aws_free(aws);
    fclose(log_.out);
    free(log_text);
    setenv("AWS_MAX_ATTEMPTS", "2", 1);
    aws = client_via(px.url);
    json_t *in = json_pack("{s:i}", "Limit", 1);
    cr_assert(dr_aws_json(aws, "kms", "us-east-1", "ListKeys", in, NULL, &err) != 0);
    json_decref(in);
    cr_expect_str_eq(err.aws.code, "ThrottlingException");
    ps = proxy_stats(&px);
    cr_expect_eq(json_integer_value(json_object_get(ps, "requests")), 2);
    json_decref(ps);
    dr_aws_free(aws);
    fclose(log_.out);
    free(log_text);
    proxy_stop(&px);
}

static int sink_to_file(void *ud, const char *data, size_t n)
{
    return fwrite(data, 1, n, ud) == n ? 0 : -1;
}

Test(retry, reset_mid_download_resumes_without_corruption)
{
    /* The object goes in directly; only the download crosses the proxy. */
    dr_aws *direct = client_via(NULL);
    char bucket[96];
    snprintf(bucket, sizeof(bucket), "drctl-itest-resume-%s", test_suffix());
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_s3_create_bucket(direct, "us-east-1", bucket, &err) == 0, "%s", err.msg);
    char src[] = "/tmp/drctl-itest-resume-XXXXXX";
    int fd = mkstemp(src);
    cr_assert(sh(NULL, "head -c 12000000 /dev/urandom > %s", src) == 0);
    char want[65];
    file_sha256(src, want);
    cr_assert(dr_s3_put_file(direct, "us-east-1", bucket, "big.bin", fd, 12000000, NULL, &err) == 0,
              "%s", err.msg);
    close(fd);
    dr_aws_free(direct);
    fclose(log_.out);
    free(log_text);

    fault_proxy px;
    proxy_start(&px, "--reset-after-bytes 3000000 --reset-count 2 --reset-match '^GET '");
    dr_aws *aws = client_via(px.url);
    char dst[] = "/tmp/drctl-itest-resume-get-XXXXXX";
    FILE *f = fdopen(mkstemp(dst), "wb");
    cr_assert(dr_s3_get(aws, "us-east-1", bucket, "big.bin", sink_to_file, f, NULL, &err) == 0,
              "%s", err.msg);
    fclose(f);
    char got[65];
    file_sha256(dst, got);
    cr_expect_str_eq(got, want, "the resumed download differs from the object");
    json_t *ps = proxy_stats(&px);
    cr_expect_eq(json_integer_value(json_object_get(ps, "cuts")), 2, "the proxy cut twice");
    json_decref(ps);
    dr_aws_stats st;
    dr_aws_get_stats(aws, &st);
    cr_expect_eq(st.retries, 2);
    dr_aws_free(aws);
    fclose(log_.out);
    free(log_text);
    unlink(src);
    unlink(dst);
    proxy_stop(&px);
}
