/*
 * sigv4.h - AWS Signature Version 4.
 *
 * Pure functions over a request description; no I/O, no clock (the caller
 * passes the time), so the official test suite can drive them byte for byte.
 * Two modes: the Authorization header, and a presigned query string.
 *
 * Canonicalization follows the AWS specification and the aws-c-auth test
 * suite: URI path normalized (remove dot segments, collapse slashes) and
 * each segment URI-encoded once more, except when normalize_path is 0 (S3:
 * the path is used exactly as sent; only bytes that cannot appear raw in a
 * request target, such as a space or non-ASCII, are percent-encoded); query
 * parameters decoded, re-encoded once and sorted by encoded name then
 * value; header names lower-cased, values trimmed with inner runs of
 * whitespace (folded lines included) collapsed, repeated headers joined
 * with ',' in request order. Authorization, User-Agent, Expect,
 * Transfer-Encoding, Connection and X-Amzn-Trace-Id are never signed.
 *
 * Passes every case of the aws-c-auth suite in both modes, and agrees with
 * botocore's SigV4Auth / S3SigV4Auth / S3SigV4QueryAuth (tests/unit/
 * test_sigv4.c). The debug strings contain the session token.
 */
#ifndef DRCTL_AWS_SIGV4_H
#define DRCTL_AWS_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "util/err.h"
#include "util/kv.h"

#define DR_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define DR_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct dr_sigv4_params {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "" when none */
    const char *region;
    const char *service; /* signing name, e.g. "s3", "ec2", "elasticloadbalancing" */
    time_t now;          /* UTC seconds */
    int normalize_path;  /* 1 for every service but S3 */
    int sign_body;       /* 1: add x-amz-content-sha256 (forced when service is "s3") */
    /* Send X-Amz-Security-Token (header or query parameter) but leave it out
     * of the signature (the suite's omit_session_token; IoT-style). Applies
     * to both modes, as the suite's post-sts-header-after case shows. */
    int omit_session_token;
    long expires; /* presign: X-Amz-Expires seconds */
} dr_sigv4_params;

typedef struct dr_sigv4_request {
    const char *method;
    /* The request target's path as sent on the wire (already percent-encoded
     * by the caller where needed), e.g. "/my%20bucket/key". */
    const char *path;
    /* The query string as sent, without the '?', possibly NULL or "". */
    const char *query;
    /* Headers as sent. Must contain Host. sign_headers() adds X-Amz-Date,
     * X-Amz-Security-Token, x-amz-content-sha256 (if sign_body or S3) and
     * Authorization; it replaces any earlier copies of those. */
    dr_kvlist *headers;
    /* Hex SHA-256 of the body, or DR_SIGV4_UNSIGNED_PAYLOAD; NULL to hash
     * body/body_len here. */
    const char *payload_hash;
    const void *body;
    size_t body_len;
} dr_sigv4_request;

/* Intermediate strings, for tests and -vv debugging. Caller frees with
 * dr_sigv4_debug_free. Pass NULL when not wanted. */
typedef struct dr_sigv4_debug {
    char *canonical_request;
    char *string_to_sign;
    char signature[65];
} dr_sigv4_debug;

void dr_sigv4_debug_free(dr_sigv4_debug *d);

/* Signs with the Authorization header: appends X-Amz-Security-Token (if a
 * token), X-Amz-Date, x-amz-content-sha256 (if sign_body or S3) and
 * Authorization to req->headers, in that order, replacing earlier copies,
 * so a retry can re-sign the same list. */
int dr_sigv4_sign_headers(const dr_sigv4_params *p, dr_sigv4_request *req, dr_sigv4_debug *dbg,
                          dr_err *err);

/* Presigns: returns in *out_query the full query string to send: the
 * request's own query exactly as given, then X-Amz-Algorithm, -Credential,
 * -Date, -SignedHeaders, -Expires, -Security-Token, -Signature (aws-c-auth's
 * order, byte for byte the suite's; botocore swaps SignedHeaders and
 * Expires, which AWS does not care about). The headers in req->headers are
 * signed, so the URL must be used with exactly those (normally just Host);
 * p->sign_body adds nothing here, the payload line is still
 * req->payload_hash or the body's hash (S3 callers pass
 * DR_SIGV4_UNSIGNED_PAYLOAD). Headers are not modified. */
int dr_sigv4_presign(const dr_sigv4_params *p, const dr_sigv4_request *req, char **out_query,
                     dr_sigv4_debug *dbg, dr_err *err);

/* RFC 3986 percent-encoding as SigV4 wants it: unreserved characters
 * (A-Z a-z 0-9 - _ . ~) kept, everything else %XX upper-case; '/' kept when
 * keep_slash (for S3 object keys in paths). Caller frees. */
char *dr_uri_encode(const char *s, size_t len, int keep_slash);

/* Lower-case hex SHA-256 of a buffer into out[65]. Exits like dr_xmalloc
 * if libcrypto cannot hash at all (a broken install, not a runtime case). */
void dr_sha256_hex(const void *data, size_t len, char out[65]);

/* "YYYYMMDDTHHMMSSZ" for t, into out[17]. */
void dr_amz_date(time_t t, char out[17]);

#endif
