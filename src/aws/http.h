/*
 * http.h - one HTTP exchange over a reusable libcurl easy handle.
 *
 * This is the transport under client.c and knows nothing about AWS: no
 * signing, no retries, no error parsing. One dr_http is one easy handle and
 * therefore one set of live connections; it must not be used by two threads
 * at once (the client keeps a pool for parallel work).
 *
 * Bodies: request bodies come from a buffer or a read callback and are sent
 * with an explicit length (CURLOPT_UPLOAD + INFILESIZE, never POSTFIELDS, so
 * libcurl adds no form Content-Type of its own) and without
 * "Expect: 100-continue". Response bodies of 2xx answers go to the sink when
 * one is given, else into a bounded buffer; bodies of other answers are
 * always buffered (bounded: they are error documents).
 */
#ifndef DRCTL_AWS_HTTP_H
#define DRCTL_AWS_HTTP_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/client.h"
#include "util/buf.h"
#include "util/kv.h"

/* Error documents are small; anything beyond this is dropped, not an error. */
#define DR_HTTP_ERROR_BODY_MAX (256u * 1024u)
/* Default limit for buffered 2xx bodies (control-plane documents). */
#define DR_HTTP_BODY_MAX_DEFAULT (64u * 1024u * 1024u)

typedef struct dr_http dr_http;

typedef struct dr_http_opts {
    long connect_timeout_ms; /* > 0 */
    long low_speed_time_s;   /* > 0: abort below 1 byte/s for this long */
    const char *ca_bundle;   /* CURLOPT_CAINFO or NULL (copied) */
    CURLSH *share;           /* DNS/TLS-session cache shared with siblings, or NULL */
} dr_http_opts;

dr_http *dr_http_new(const dr_http_opts *opts);
void dr_http_free(dr_http *h);

typedef struct dr_http_req {
    const char *method;
    const char *url;
    const dr_kvlist *headers; /* sent as given (names as given) */
    int has_body;             /* 1: send a body (possibly 0 bytes) with Content-Length */
    const void *body;         /* buffer body ... */
    size_t body_len;
    dr_read_fn body_read;     /* ... or a stream of body_size bytes */
    dr_rewind_fn body_rewind; /* lets libcurl resend on a stale connection; may be NULL */
    void *body_ud;
    int64_t body_size;
    dr_write_fn sink; /* 2xx bodies go here when set */
    void *sink_ud;
    size_t max_body; /* limit for buffered 2xx bodies; 0 = default */
} dr_http_req;

typedef struct dr_http_resp {
    long status;       /* 0 when no response arrived */
    dr_kvlist headers; /* of the last response; names lower-cased */
    dr_buf body;       /* buffered body (2xx without sink, or any other status) */
    CURLcode curl_code;
    char curl_msg[CURL_ERROR_SIZE];
    int sink_failed; /* the sink returned -1 */
    int read_failed; /* the body reader returned -1 */
    int too_large;   /* a buffered 2xx body exceeded max_body */
    int64_t sink_bytes;
    double elapsed_ms;
} dr_http_resp;

void dr_http_resp_init(dr_http_resp *r);
/* Empties for reuse (keeps nothing). */
void dr_http_resp_reset(dr_http_resp *r);
void dr_http_resp_free(dr_http_resp *r);

/* Performs the exchange. Returns 0 when a complete response arrived (any
 * status), -1 when libcurl failed (curl_code/curl_msg say why; status and
 * headers may still hold a partial response). */
int dr_http_perform(dr_http *h, const dr_http_req *req, dr_http_resp *resp);

/* What a libcurl failure means for retrying: 0 not retryable (bad URL, TLS
 * verification, aborted by a callback), 1 connection-level (refused, reset,
 * DNS, partial transfer), 2 timeout. */
int dr_http_curl_failure_kind(CURLcode code);

#endif
