/*
 * retry.h - the SDKs' "standard" retry mode, as pure functions.
 *
 * - attempts: AWS_MAX_ATTEMPTS (default 3) including the first try;
 *   AWS_RETRY_MODE standard (default) or legacy (treated as standard) or
 *   adaptive (standard plus client-side rate limiting is not implemented:
 *   treated as standard, with a notice).
 * - retryable: transient HTTP statuses (500, 502, 503, 504), connection and
 *   timeout failures, transient codes (RequestTimeout, RequestTimeoutException,
 *   PriorRequestNotComplete, InternalError, ...), and throttling codes
 *   (Throttling, ThrottlingException, ThrottledException, RequestThrottledException,
 *   TooManyRequestsException, ProvisionedThroughputExceededException,
 *   TransactionInProgressException, RequestLimitExceeded, BandwidthLimitExceeded,
 *   LimitExceededException, RequestThrottled, SlowDown, PriorRequestNotComplete,
 *   EC2ThrottledException).
 * - backoff: full jitter, min(20 s, random[0,1) * 2^(retry-1)) with base 1 s, as botocore.
 * - quota: a bucket of 500 tokens per client; a retry costs 5 (10 after a
 *   timeout); a success returns 1 token (or the retry's cost when the
 *   success followed a retry); no tokens, no retry.
 */
#ifndef DRCTL_AWS_RETRY_H
#define DRCTL_AWS_RETRY_H

#include <stddef.h>
#include <stdint.h>

typedef enum dr_retry_class {
    DR_RETRY_NONE = 0,  /* not retryable */
    DR_RETRY_TRANSIENT, /* 5xx, connection reset, RequestTimeout... */
    DR_RETRY_THROTTLE,  /* throttling codes, 429 */
    DR_RETRY_TIMEOUT    /* the request timed out locally */
} dr_retry_class;

typedef struct dr_retry_config {
    int max_attempts;    /* >= 1 */
    double base_seconds; /* 1.0 */
    double cap_seconds;  /* 20.0 */
    /* Added: 1 when AWS_RETRY_MODE=adaptive was asked for; the client logs a
     * notice that it runs as standard. */
    int adaptive;
} dr_retry_config;

typedef struct dr_retry_quota {
    int tokens; /* starts at 500 */
} dr_retry_quota;

#define DR_RETRY_QUOTA_INITIAL 500
#define DR_RETRY_COST 5
#define DR_RETRY_TIMEOUT_COST 10

/* Reads AWS_MAX_ATTEMPTS / AWS_RETRY_MODE; invalid values are a config error
 * (returns -1 and writes a message into msg[msglen]). */
int dr_retry_config_from_env(dr_retry_config *cfg, char *msg, size_t msglen);

/* Added: parses a max_attempts value ("3"; 1..100, nothing else) as the env
 * variable and the config file's max_attempts take it. 0 ok, -1 invalid. */
int dr_retry_parse_max_attempts(const char *s, int *out);

/* Added: a full quota (DR_RETRY_QUOTA_INITIAL tokens). */
void dr_retry_quota_init(dr_retry_quota *q);

/* Added: "transient", "throttling", "timeout" or "not retryable", for logs. */
const char *dr_retry_class_name(dr_retry_class cls);

/*
 * Classifies one failed attempt. http_status is 0 when no response arrived;
 * curl_failed is 1 for connection failures (refused, reset, DNS), 2 for a
 * local timeout; aws_code may be NULL or "".
 */
dr_retry_class dr_retry_classify(long http_status, int curl_failed, const char *aws_code);

/* Delay before retry number `attempt` (1 = the first retry), full jitter:
 * rand01 in [0,1) is passed in so tests are deterministic. */
double dr_retry_backoff(const dr_retry_config *cfg, int attempt, double rand01);

/* Tries to take the cost of a retry of this class; returns 1 if allowed. */
int dr_retry_quota_acquire(dr_retry_quota *q, dr_retry_class cls, int *cost_taken);
/* After a success: returns `cost_taken` of a retried request, else 1 token. */
void dr_retry_quota_release(dr_retry_quota *q, int cost_taken);

#endif
