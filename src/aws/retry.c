/*
 * retry.c - the SDKs' "standard" retry mode as pure functions (see retry.h).
 *
 * The lists and numbers follow botocore's retries/standard.py and the AWS
 * SDKs reference guide ("Retry behavior"), so that drctl backs off the way
 * the AWS CLI does against the same service.
 */
#include "aws/retry.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Upper bound for AWS_MAX_ATTEMPTS: far above any sane setting, low enough
 * that a typo (e.g. 300000) cannot make a failing call spin for days. */
#define DR_RETRY_MAX_ATTEMPTS_LIMIT 100

static const char *const throttle_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "EC2ThrottledException",
    NULL,
};

/* Codes that mean "the service had a hiccup", whatever the status says
 * (S3 answers RequestTimeout with 400, for example). */
static const char *const transient_codes[] = {
    "RequestTimeout",     "RequestTimeoutException", "PriorRequestNotComplete",
    "InternalError",      "InternalFailure",         "InternalServerError",
    "ServiceUnavailable", "IDPCommunicationError",   NULL,
};

static int in_list(const char *const *list, const char *code)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], code) == 0)
            return 1;
    return 0;
}

/* Parses a strictly decimal positive int; 0 on success. */
static int parse_attempts(const char *s, int *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (errno != 0)
        return -1;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0' || v < 1 || v > DR_RETRY_MAX_ATTEMPTS_LIMIT)
        return -1;
    *out = (int)v;
    return 0;
}

int dr_retry_config_from_env(dr_retry_config *cfg, char *msg, size_t msglen)
{
    cfg->max_attempts = 3;
    cfg->base_seconds = 1.0;
    cfg->cap_seconds = 20.0;
    cfg->adaptive = 0;
    if (msg && msglen)
        msg[0] = '\0';

    const char *mode = getenv("AWS_RETRY_MODE");
    if (mode && *mode) {
        if (strcasecmp(mode, "adaptive") == 0) {
            cfg->adaptive = 1;
        } else if (strcasecmp(mode, "standard") != 0 && strcasecmp(mode, "legacy") != 0) {
            if (msg && msglen)
                snprintf(msg, msglen,
                         "invalid AWS_RETRY_MODE '%s': expected standard, legacy or adaptive",
                         mode);
            return -1;
        }
    }

    const char *att = getenv("AWS_MAX_ATTEMPTS");
    if (att && *att) {
        int v = 0;
        if (parse_attempts(att, &v) != 0) {
            if (msg && msglen)
                snprintf(msg, msglen,
                         "invalid AWS_MAX_ATTEMPTS '%s': expected a whole number from 1 to %d", att,
                         DR_RETRY_MAX_ATTEMPTS_LIMIT);
            return -1;
        }
        cfg->max_attempts = v;
    }
    return 0;
}

int dr_retry_parse_max_attempts(const char *s, int *out)
{
    return parse_attempts(s, out);
}

dr_retry_class dr_retry_classify(long http_status, int curl_failed, const char *aws_code)
{
    if (curl_failed == 2)
        return DR_RETRY_TIMEOUT;
    if (curl_failed)
        return DR_RETRY_TRANSIENT;
    if (aws_code && *aws_code) {
        if (in_list(throttle_codes, aws_code))
            return DR_RETRY_THROTTLE;
        if (in_list(transient_codes, aws_code))
            return DR_RETRY_TRANSIENT;
    }
    if (http_status == 429)
        return DR_RETRY_THROTTLE;
    if (http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504)
        return DR_RETRY_TRANSIENT;
    return DR_RETRY_NONE;
}

double dr_retry_backoff(const dr_retry_config *cfg, int attempt, double rand01)
{
    double base = cfg->base_seconds > 0 ? cfg->base_seconds : 1.0;
    double cap = cfg->cap_seconds > 0 ? cfg->cap_seconds : 20.0;
    if (attempt < 1)
        attempt = 1;
    if (!(rand01 >= 0.0)) /* also catches NaN */
        rand01 = 0.0;
    if (rand01 >= 1.0)
        rand01 = nextafter(1.0, 0.0);
    /* botocore's standard mode: rand * base * 2^(retry - 1), so the first
     * retry waits up to 1 s. Cap early to keep the product finite for
     * absurd attempt numbers. */
    double ceiling = attempt >= 62 ? cap : base * ldexp(1.0, attempt - 1);
    if (ceiling > cap)
        ceiling = cap;
    double d = rand01 * ceiling;
    return d > cap ? cap : d;
}

int dr_retry_quota_acquire(dr_retry_quota *q, dr_retry_class cls, int *cost_taken)
{
    int cost = cls == DR_RETRY_TIMEOUT ? DR_RETRY_TIMEOUT_COST : DR_RETRY_COST;
    if (q->tokens < cost) {
        if (cost_taken)
            *cost_taken = 0;
        return 0;
    }
    q->tokens -= cost;
    if (cost_taken)
        *cost_taken = cost;
    return 1;
}

void dr_retry_quota_release(dr_retry_quota *q, int cost_taken)
{
    q->tokens += cost_taken > 0 ? cost_taken : 1;
    if (q->tokens > DR_RETRY_QUOTA_INITIAL)
        q->tokens = DR_RETRY_QUOTA_INITIAL;
}

void dr_retry_quota_init(dr_retry_quota *q)
{
    q->tokens = DR_RETRY_QUOTA_INITIAL;
}

const char *dr_retry_class_name(dr_retry_class cls)
{
    switch (cls) {
    case DR_RETRY_TRANSIENT:
        return "transient";
    case DR_RETRY_THROTTLE:
        return "throttling";
    case DR_RETRY_TIMEOUT:
        return "timeout";
    case DR_RETRY_NONE:
        break;
    }
    return "not retryable";
}
