/*
 * client.h - the AWS client core: one object per command run.
 *
 * A dr_aws owns the credentials provider, the libcurl handles (connections
 * are reused), the retry configuration and quota, and the request counters.
 * Every call goes through one path: resolve the endpoint (service.h), sign
 * (sigv4.h), send with libcurl (TLS verification always on; AWS_CA_BUNDLE
 * honoured), classify the outcome (retry.h), back off and retry, and turn a
 * final failure into one dr_err carrying service, operation, HTTP status,
 * AWS code, message and request id.
 *
 * Protocols: dr_aws_query for query and ec2 services, dr_aws_json for JSON
 * 1.0/1.1 services, dr_aws_rest for rest-xml (S3, Route 53, CloudFront).
 *
 * Streaming: request bodies can come from a read callback (rewound for a
 * retry) and response bodies can go to a write callback. A streamed GET that
 * breaks after delivering N bytes is resumed from byte N (Range plus If-Match
 * on the first response's ETag), so the sink never sees a byte twice and
 * never sees bytes of a different version of the object.
 *
 * Logging: -v logs each retry (service, operation, attempt, reason, delay);
 * -vv logs every request line and status. Authorization headers, security
 * tokens and request bodies are never logged.
 */
#ifndef DRCTL_AWS_CLIENT_H
#define DRCTL_AWS_CLIENT_H

#include <jansson.h>
#include <libxml/tree.h>
#include <stdint.h>

#include "aws/creds.h"
#include "aws/service.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/kv.h"
#include "util/log.h"

/* One thread drives a dr_aws (its sequential calls share one libcurl
 * handle); s3.c's parallel multipart parts use per-thread handles from an
 * internal pool (client_internal.h), with credentials, retry quota and
 * counters locked inside. */
typedef struct dr_aws dr_aws;

typedef struct dr_aws_opts {
    const char *profile;      /* --profile or NULL */
    const char *endpoint_url; /* --endpoint-url or NULL */
    const dr_log *log;
    long connect_timeout_ms; /* 0 = 10 s */
    /* Abort a transfer that moves fewer than 1 byte/s for this long; 0 = 60 s. */
    long low_speed_time_s;
} dr_aws_opts;

int dr_aws_new(const dr_aws_opts *opts, dr_aws **out, dr_err *err);
void dr_aws_free(dr_aws *c);

typedef struct dr_aws_stats {
    long requests; /* HTTP requests sent, retries included */
    long retries;  /* of which were retries */
} dr_aws_stats;

void dr_aws_get_stats(const dr_aws *c, dr_aws_stats *out);

/* Current credentials (copied; caller clears), for doctor and presigning. */
int dr_aws_credentials(dr_aws *c, dr_creds *out, dr_err *err);

/* The endpoint a call to this service in this region would use. */
int dr_aws_endpoint(dr_aws *c, const char *service_key, const char *region, dr_endpoint *out,
                    dr_err *err);

/*
 * Query and EC2 protocols. `params` are the request parameters as the API
 * names them, already flattened ("Filter.1.Name", "Tags.member.1.Key", ...);
 * Action and Version are added here. On success *out_doc is the parsed
 * response document (caller xmlFreeDoc), or pass NULL to discard it.
 */
int dr_aws_query(dr_aws *c, const char *service_key, const char *region, const char *action,
                 const dr_kvlist *params, xmlDocPtr *out_doc, dr_err *err);

/*
 * JSON 1.0/1.1 protocols. `input` is borrowed (NULL sends {}). On success
 * *out is the response object (caller json_decref), or pass NULL.
 */
int dr_aws_json(dr_aws *c, const char *service_key, const char *region, const char *operation,
                json_t *input, json_t **out, dr_err *err);

/* Streaming callbacks. read: bytes copied into buf (0 at end, -1 on error).
 * rewind: back to the start for a retry (0 ok). write: 0 ok, -1 aborts. */
typedef long (*dr_read_fn)(void *ud, char *buf, size_t n);
typedef int (*dr_rewind_fn)(void *ud);
typedef int (*dr_write_fn)(void *ud, const char *data, size_t n);

typedef struct dr_aws_rest_req {
    const char *service;   /* "s3", "route53", "cloudfront" */
    const char *region;    /* ignored for global services */
    const char *operation; /* for errors and logs, e.g. "PutObject" */
    const char *method;    /* "GET", "PUT", "POST", "DELETE", "HEAD" */
    /* S3: the bucket (path style on custom endpoints, virtual-host style on
     * AWS for DNS-compatible names) or NULL for ListBuckets. */
    const char *bucket;
    /* The unencoded path: for S3 the object key (may contain '/', unicode,
     * spaces; NULL for bucket operations); for other services the request
     * path such as "/2013-04-01/hostedzone". The client percent-encodes it. */
    const char *path;
    const dr_kvlist *query;   /* unencoded names and values, or NULL */
    const dr_kvlist *headers; /* extra request headers, or NULL */

    /* Request body: either a buffer ... */
    const void *body;
    size_t body_len;
    /* ... or a stream of body_size bytes. */
    dr_read_fn body_read;
    dr_rewind_fn body_rewind;
    void *body_ud;
    int64_t body_size;
    /* Hex SHA-256 of a streamed body if known, else NULL: S3 then signs
     * UNSIGNED-PAYLOAD (over TLS in real AWS). Buffers are hashed here unless
     * this is set (then it is trusted: pass it only if you computed it). */
    const char *body_sha256;

    /* Response body sink; NULL to buffer it in resp->body. */
    dr_write_fn resp_write;
    void *resp_ud;
} dr_aws_rest_req;

typedef struct dr_aws_rest_resp {
    long status;
    dr_kvlist headers; /* names lower-cased */
    dr_buf body;       /* when not streamed */
} dr_aws_rest_resp;

void dr_aws_rest_resp_init(dr_aws_rest_resp *r);
void dr_aws_rest_resp_free(dr_aws_rest_resp *r);

/* Any 2xx is success (and 304 for conditional GETs); anything else becomes an
 * AWS error after retries. */
int dr_aws_rest(dr_aws *c, const dr_aws_rest_req *req, dr_aws_rest_resp *resp, dr_err *err);

/*
 * A presigned URL for `method` on an S3 object (or any rest request without
 * body), valid `expires` seconds from `now` (pass time(NULL) normally; tests
 * pass a fixed time to compare with botocore). Caller frees *out_url.
 */
int dr_aws_presign(dr_aws *c, const dr_aws_rest_req *req, time_t now, long expires, char **out_url,
                   dr_err *err);

#endif
