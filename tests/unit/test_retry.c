/*
 * test_retry.c - the standard retry mode: classification, backoff bounds,
 * the retry quota, and configuration from the environment.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aws/retry.h"

/* ---- classification ---- */

typedef struct cls_case {
    long status;
    int curl_failed;
    const char *code;
    dr_retry_class want;
} cls_case;

static const cls_case cls_cases[] = {
    /* transient statuses, whatever the code */
    {500, 0, NULL, DR_RETRY_TRANSIENT},
    {502, 0, "", DR_RETRY_TRANSIENT},
    {503, 0, "ServiceUnavailable", DR_RETRY_TRANSIENT},
    {504, 0, "GatewayTimeout", DR_RETRY_TRANSIENT},
    {500, 0, "InternalError", DR_RETRY_TRANSIENT},
    /* not transient statuses */
    {501, 0, NULL, DR_RETRY_NONE},
    {400, 0, "ValidationError", DR_RETRY_NONE},
    {403, 0, "AccessDenied", DR_RETRY_NONE},
    {403, 0, "SignatureDoesNotMatch", DR_RETRY_NONE},
    {404, 0, "NoSuchKey", DR_RETRY_NONE},
    {404, 0, "HttpError404", DR_RETRY_NONE},
    {409, 0, "BucketAlreadyExists", DR_RETRY_NONE},
    {412, 0, "PreconditionFailed", DR_RETRY_NONE},
    /* transient codes with a 4xx status */
    {400, 0, "RequestTimeout", DR_RETRY_TRANSIENT},
    {400, 0, "RequestTimeoutException", DR_RETRY_TRANSIENT},
    {400, 0, "PriorRequestNotComplete", DR_RETRY_TRANSIENT},
    {400, 0, "InternalError", DR_RETRY_TRANSIENT},
    /* throttling codes */
    {400, 0, "Throttling", DR_RETRY_THROTTLE},
    {400, 0, "ThrottlingException", DR_RETRY_THROTTLE},
    {400, 0, "ThrottledException", DR_RETRY_THROTTLE},
    {400, 0, "RequestThrottledException", DR_RETRY_THROTTLE},
    {400, 0, "TooManyRequestsException", DR_RETRY_THROTTLE},
    {400, 0, "ProvisionedThroughputExceededException", DR_RETRY_THROTTLE},
    {400, 0, "TransactionInProgressException", DR_RETRY_THROTTLE},
    {503, 0, "RequestLimitExceeded", DR_RETRY_THROTTLE},
    {400, 0, "BandwidthLimitExceeded", DR_RETRY_THROTTLE},
    {400, 0, "LimitExceededException", DR_RETRY_THROTTLE},
    {400, 0, "RequestThrottled", DR_RETRY_THROTTLE},
    {503, 0, "SlowDown", DR_RETRY_THROTTLE},
    {400, 0, "EC2ThrottledException", DR_RETRY_THROTTLE},
    {429, 0, NULL, DR_RETRY_THROTTLE},
    {429, 0, "HttpError429", DR_RETRY_THROTTLE},
    /* codes are case-sensitive, as AWS sends them */
    {400, 0, "throttling", DR_RETRY_NONE},
    /* no response at all */
    {0, 1, NULL, DR_RETRY_TRANSIENT},
    {0, 2, NULL, DR_RETRY_TIMEOUT},
    {0, 2, "Throttling", DR_RETRY_TIMEOUT},
    {0, 0, NULL, DR_RETRY_NONE},
};

Test(retry, classification_table)
{
    for (size_t i = 0; i < sizeof(cls_cases) / sizeof(cls_cases[0]); i++) {
        const cls_case *c = &cls_cases[i];
        dr_retry_class got = dr_retry_classify(c->status, c->curl_failed, c->code);
        cr_expect_eq(got, c->want, "case %zu: status %ld curl %d code %s: got %d want %d", i,
                     c->status, c->curl_failed, c->code ? c->code : "(null)", got, c->want);
    }
}

Test(retry, class_names)
{
    cr_expect_str_eq(dr_retry_class_name(DR_RETRY_THROTTLE), "throttling");
    cr_expect_str_eq(dr_retry_class_name(DR_RETRY_NONE), "not retryable");
}

/* ---- backoff ---- */

static const dr_retry_config std_cfg = {
    .max_attempts = 3, .base_seconds = 1.0, .cap_seconds = 20.0};

Test(retry, backoff_bounds)
{
    static const double rs[] = {0.0, 1e-9, 0.25, 0.5, 0.75, 0.999999, 0.9999999999999999};
    for (int n = 1; n <= 40; n++) {
        double ceiling = fmin(20.0, ldexp(1.0, n - 1));
        for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
            double d = dr_retry_backoff(&std_cfg, n, rs[i]);
            cr_expect(d >= 0.0 && d <= ceiling, "attempt %d r %g: %g not in [0,%g]", n, rs[i], d,
                      ceiling);
            cr_expect(d <= 20.0);
        }
    }
}

Test(retry, backoff_full_jitter_values)
{
    /* botocore: rand * 2^(retry - 1) */
    cr_expect_float_eq(dr_retry_backoff(&std_cfg, 1, 0.5), 0.5, 1e-12);
    cr_expect_float_eq(dr_retry_backoff(&std_cfg, 2, 0.5), 1.0, 1e-12);
    cr_expect_float_eq(dr_retry_backoff(&std_cfg, 3, 0.25), 1.0, 1e-12);
    cr_expect_float_eq(dr_retry_backoff(&std_cfg, 1, 0.0), 0.0, 1e-12);
    /* capped: 2^5 = 32 > 20 */
    cr_expect_float_eq(dr_retry_backoff(&std_cfg, 6, 0.5), 10.0, 1e-12);
    cr_expect(dr_retry_backoff(&std_cfg, 6, 0.9999999) < 20.0);
}

Test(retry, backoff_hostile_inputs)
{
    cr_expect(dr_retry_backoff(&std_cfg, 1000000, 0.999) <= 20.0);
    cr_expect(dr_retry_backoff(&std_cfg, 0, 0.5) <= 2.0);
    cr_expect(dr_retry_backoff(&std_cfg, -3, 0.5) >= 0.0);
    cr_expect(dr_retry_backoff(&std_cfg, 2, -1.0) == 0.0);
    cr_expect(dr_retry_backoff(&std_cfg, 2, 5.0) < 4.0);
    cr_expect(dr_retry_backoff(&std_cfg, 2, NAN) == 0.0);
    dr_retry_config zero = {0};
    double d = dr_retry_backoff(&zero, 10, 0.99);
    cr_expect(d >= 0.0 && d <= 20.0, "defaults apply to a zeroed config: %g", d);
}

Test(retry, backoff_small_base_for_tests)
{
    dr_retry_config fast = {.max_attempts = 3, .base_seconds = 0.001, .cap_seconds = 20.0};
    cr_expect(dr_retry_backoff(&fast, 3, 0.999) < 0.008);
}

/* ---- quota ---- */

Test(retry, quota_exhaustion)
{
    dr_retry_quota q;
    dr_retry_quota_init(&q);
    cr_assert_eq(q.tokens, 500);
    int cost = -1, n = 0;
    while (dr_retry_quota_acquire(&q, DR_RETRY_TRANSIENT, &cost)) {
        cr_assert_eq(cost, 5);
        n++;
    }
    cr_expect_eq(n, 100, "500 tokens / 5 = 100 retries, got %d", n);
    cr_expect_eq(q.tokens, 0);
    cr_expect_eq(cost, 0, "a refused acquire takes nothing");
    /* a plain success gives back one token */
    dr_retry_quota_release(&q, 0);
    cr_expect_eq(q.tokens, 1);
    cr_expect_not(dr_retry_quota_acquire(&q, DR_RETRY_THROTTLE, &cost));
    cr_expect_eq(q.tokens, 1);
}

Test(retry, quota_timeout_costs_more)
{
    dr_retry_quota q;
    dr_retry_quota_init(&q);
    int cost = 0;
    cr_assert(dr_retry_quota_acquire(&q, DR_RETRY_TIMEOUT, &cost));
    cr_expect_eq(cost, 10);
    cr_expect_eq(q.tokens, 490);
    /* a success after the retry returns its cost */
    dr_retry_quota_release(&q, cost);
    cr_expect_eq(q.tokens, 500);
    /* never above the initial capacity */
    dr_retry_quota_release(&q, 0);
    cr_expect_eq(q.tokens, 500);
    q.tokens = 9;
    cr_expect_not(dr_retry_quota_acquire(&q, DR_RETRY_TIMEOUT, &cost));
    cr_expect(dr_retry_quota_acquire(&q, DR_RETRY_TRANSIENT, &cost));
    cr_expect_eq(q.tokens, 4);
}

/* ---- environment ---- */

static void clear_env(void)
{
    unsetenv("AWS_MAX_ATTEMPTS");
    unsetenv("AWS_RETRY_MODE");
}

Test(retry, env_defaults, .init = clear_env)
{
    dr_retry_config cfg;
    char msg[256] = "x";
    cr_assert_eq(dr_retry_config_from_env(&cfg, msg, sizeof(msg)), 0);
    cr_expect_eq(cfg.max_attempts, 3);
    cr_expect_float_eq(cfg.base_seconds, 1.0, 1e-12);
    cr_expect_float_eq(cfg.cap_seconds, 20.0, 1e-12);
    cr_expect_eq(cfg.adaptive, 0);
    cr_expect_str_eq(msg, "");
}

Test(retry, env_max_attempts_valid, .init = clear_env)
{
    dr_retry_config cfg;
    char msg[256];
    setenv("AWS_MAX_ATTEMPTS", "1", 1);
    cr_assert_eq(dr_retry_config_from_env(&cfg, msg, sizeof(msg)), 0);
    cr_expect_eq(cfg.max_attempts, 1);
    setenv("AWS_MAX_ATTEMPTS", " 10 ", 1);
    cr_assert_eq(dr_retry_config_from_env(&cfg, msg, sizeof(msg)), 0);
    cr_expect_eq(cfg.max_attempts, 10);
    setenv("AWS_MAX_ATTEMPTS", "", 1); /* empty = unset */
    cr_assert_eq(dr_retry_config_from_env(&cfg, msg, sizeof(msg)), 0);
    cr_expect_eq(cfg.max_attempts, 3);
}

Test(retry, env_max_attempts_invalid, .init = clear_env)
{
    static const char *const bad[] = {"0", "-1", "abc", "3x", "1.5", "101", "99999999999999999999",
                                      "+3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dr_retry_config cfg;
        char msg[256] = "";
        setenv("AWS_MAX_ATTEMPTS", bad[i], 1);
        cr_expect_eq(dr_retry_config_from_env(&cfg, msg, sizeof(msg)), -1, "'%s' accepted", bad[i]);
        cr_expect(strstr(msg, "AWS_MAX_ATTEMPTS") != NULL, "message: %s", msg);
        cr_expect(strstr(msg, bad[i]) != NULL, "message names the value: %s", msg);
    }
}

Test(retry, env_modes, .init = clear_env)
{
    dr_retry_config cfg;
    char msg[256];
    setenv("AWS_RETRY_MODE", "standard", 1);
    cr_expect_eq(dr_retry_config_from_env(&cfg, msg, sizeof(msg)), 0);
    cr_expect_eq(cfg.adaptive, 0);
    setenv("AWS_RETRY_MODE", "legacy", 1);
    cr_expect_eq(dr_retry_config_from_env(&cfg, msg, sizeof(msg)), 0);
    cr_expect_eq(cfg.adaptive, 0);
    setenv("AWS_RETRY_MODE", "adaptive", 1);
    cr_expect_eq(dr_retry_config_from_env(&cfg, msg, sizeof(msg)), 0);
    cr_expect_eq(cfg.adaptive, 1);
    cr_expect_eq(cfg.max_attempts, 3);
    setenv("AWS_RETRY_MODE", "turbo", 1);
    cr_expect_eq(dr_retry_config_from_env(&cfg, msg, sizeof(msg)), -1);
    cr_expect(strstr(msg, "AWS_RETRY_MODE") && strstr(msg, "turbo"), "message: %s", msg);
}

Test(retry, parse_max_attempts)
{
    int v = 0;
    cr_expect_eq(dr_retry_parse_max_attempts("5", &v), 0);
    cr_expect_eq(v, 5);
    cr_expect_eq(dr_retry_parse_max_attempts("100", &v), 0);
    cr_expect_eq(dr_retry_parse_max_attempts("", &v), -1);
    cr_expect_eq(dr_retry_parse_max_attempts("0x10", &v), -1);
}
