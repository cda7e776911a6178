/*
 * client_internal.h - pieces of the AWS client shared with s3.c and unit
 * tests; not for command code.
 *
 * The request builders are pure functions so that tests can check the exact
 * bytes (form bodies, URLs, targets) without a network. The connection pool
 * is how s3.c runs multipart parts in parallel: each thread takes its own
 * easy handle with dr_aws_conn_acquire and sends through dr_aws_rest_on;
 * everything the threads share inside dr_aws (credentials, retry quota,
 * PRNG, counters) is behind the client's mutex.
 */
#ifndef DRCTL_AWS_CLIENT_INTERNAL_H
#define DRCTL_AWS_CLIENT_INTERNAL_H

#include <stdint.h>

#include "aws/client.h"
#include "aws/http.h"
#include "aws/retry.h"
#include "aws/service.h"

/* ---- request building ---- */

/* "n1=v1&n2=v2" with names and values RFC 3986-encoded (space -> %20, '/'
 * -> %2F), in list order. Caller frees. Empty list -> "". */
char *dr_aws_form_encode(const dr_kvlist *params);
/* The same for a request body: spaces as '+' (form encoding). */
char *dr_aws_form_body(const dr_kvlist *params);

/* The query-protocol body: Action and Version first, then params. */
char *dr_aws_query_body(const char *action, const char *version, const dr_kvlist *params);

/* "<target_prefix>.<operation>", for X-Amz-Target. Caller frees. */
char *dr_aws_json_target(const dr_service *svc, const char *operation);

/* "application/x-amz-json-1.0" or "-1.1" from the service's json_version. */
const char *dr_aws_json_content_type(const dr_service *svc);

/* botocore's check_dns_name: 3-63 characters of a-z 0-9 '-', starting and
 * ending with a letter or digit, no dots (dotted names break the TLS
 * wildcard certificate, so they go path style). */
int dr_s3_dns_compatible(const char *bucket);

typedef struct dr_aws_target {
    char *origin; /* scheme://host[:port] */
    char *host;   /* Host header value */
    char *path;   /* percent-encoded path as sent and signed */
    char *query;  /* encoded query string without '?', "" when none */
    char *url;    /* origin + path [+ '?' + query] */
} dr_aws_target;

void dr_aws_target_free(dr_aws_target *t);

/*
 * Where a request goes. S3 (svc->key "s3"): `bucket` addressed path style
 * (/<bucket>/<key>) on custom endpoints and for names that are not DNS
 * compatible, virtual-host style (<bucket>.<host>/<key>) otherwise; the key
 * is encoded with '/' kept. Other services: `path` is the request path,
 * encoded per segment. Any base path of the endpoint URL is kept in front.
 */
int dr_aws_build_target(const dr_service *svc, const dr_endpoint *ep, const char *bucket,
                        const char *path, const dr_kvlist *query, dr_aws_target *out, dr_err *err);

/* Parses a Content-Range value "bytes START-END/TOTAL" (TOTAL may be '*',
 * then *total = -1). 0 ok, -1 malformed. */
int dr_parse_content_range(const char *v, int64_t *start, int64_t *end, int64_t *total);

/* Parses a Range request value "bytes=A-" or "bytes=A-B" (B = -1 when
 * open). Suffix ranges ("bytes=-N") and multiple ranges are -1. */
int dr_parse_range(const char *v, int64_t *first, int64_t *last);

/* RFC 3986 percent-decoding; with plus_is_space, '+' decodes to ' ' (S3's
 * encoding-type=url, as botocore's unquote_plus). Caller frees. */
char *dr_url_decode(const char *s, int plus_is_space);

/* Standard base64 of a buffer; caller frees. */
char *dr_base64(const unsigned char *data, size_t len);

/* ---- connections ---- */

/* Takes an idle easy handle from the client's pool (or makes one); give it
 * back with dr_aws_conn_release so its connections are reused. */
dr_http *dr_aws_conn_acquire(dr_aws *c, dr_err *err);
void dr_aws_conn_release(dr_aws *c, dr_http *h);

/* dr_aws_rest over a given handle; safe to call from several threads at
 * once with different handles. */
int dr_aws_rest_on(dr_aws *c, dr_http *h, const dr_aws_rest_req *req, dr_aws_rest_resp *resp,
                   dr_err *err);

const dr_log *dr_aws_log(const dr_aws *c);

/* Tests: replace the retry configuration (e.g. a tiny base delay). */
void dr_aws_set_retry_config(dr_aws *c, const dr_retry_config *cfg);
/* Tests: current retry quota tokens. */
int dr_aws_retry_tokens(dr_aws *c);

#endif
