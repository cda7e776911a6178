/*
 * client.c - the dr_aws object: one request path for every AWS call
 * (client.h). Building blocks live in client_build.c (pure helpers) and
 * http.c (libcurl); this file owns the flow: endpoint -> target -> headers
 * -> credentials -> signature -> send -> classify -> back off -> resend.
 */
#include "aws/client.h"

#include <errno.h>
#include <libxml/parser.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "aws/client_internal.h"
#include "aws/errparse.h"
#include "aws/http.h"
#include "aws/retry.h"
#include "aws/sigv4.h"
#include "aws/xml.h"
#include "util/mem.h"

struct dr_aws {
    const dr_log *log;
    char *profile;
    char *endpoint_url;
    char *ca_bundle;
    long connect_timeout_ms;
    long low_speed_time_s;
    dr_retry_config retry;

    /* DNS answers and TLS sessions are shared by every handle of this
     * client; live connections are not (each easy handle keeps its own,
     * and idle handles wait in `pool` so the next parallel job reuses
     * them). libcurl wants one lock per shared data kind. */
    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
    dr_http *main; /* sequential calls */

    /* The credentials provider is not thread-safe, and may do HTTP (IMDS):
     * a lock of its own so that a slow refresh does not stall counters. */
    pthread_mutex_t creds_mu;
    dr_creds_provider *creds;
    char creds_where[400]; /* where the last credentials came from, for hints */

    pthread_mutex_t mu; /* guards everything below */
    dr_http **pool;
    size_t pool_n, pool_cap;
    dr_retry_quota quota;
    uint64_t rng; /* xorshift64* state, seeded from getrandom */
    dr_aws_stats stats;
    int region_done;
    char *default_region;
};

/* ---- small helpers ---- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h;
    (void)access;
    dr_aws *c = ud;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
        pthread_mutex_lock(&c->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    dr_aws *c = ud;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
        pthread_mutex_unlock(&c->share_mu[data]);
}

static double rand01(dr_aws *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    uint64_t r = x * 0x2545F4914F6CDD1DULL;
    pthread_mutex_unlock(&c->mu);
    return (double)(r >> 11) * 0x1.0p-53; /* 53 random bits in [0,1) */
}

static void sleep_seconds(double s)
{
    if (s <= 0)
        return;
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    /* A signal (SIGINT) cuts the wait short; the caller's next step sees
     * the interruption flag, and resending early is harmless. */
    nanosleep(&ts, NULL);
}

static int is_s3(const dr_service *svc)
{
    return strcmp(svc->key, "s3") == 0;
}

/* ---- lifecycle ---- */

static int load_retry_config(dr_aws *c, dr_err *err)
{
    char msg[256];
    if (dr_retry_config_from_env(&c->retry, msg, sizeof(msg)) != 0)
        return dr_err_set(err, DR_E_CONFIG, "%s", msg);
    /* The shared config file's max_attempts / retry_mode apply when the
     * environment does not say, as in the SDKs. */
    const char *env_att = getenv("AWS_MAX_ATTEMPTS");
    if (!env_att || !*env_att) {
        char *v = NULL;
        if (dr_aws_config_get(c->profile, "max_attempts", &v, err) != 0)
            return -1;
        if (v) {
            int n = 0;
            if (dr_retry_parse_max_attempts(v, &n) != 0) {
                dr_err_set(err, DR_E_CONFIG,
                           "invalid max_attempts '%s' in the AWS config file (profile %s): "
                           "expected a whole number from 1 to 100",
                           v, c->profile ? c->profile : "default");
                free(v);
                return -1;
            }
            c->retry.max_attempts = n;
            free(v);
        }
    }
    const char *env_mode = getenv("AWS_RETRY_MODE");
    if (!env_mode || !*env_mode) {
        char *v = NULL;
        if (dr_aws_config_get(c->profile, "retry_mode", &v, err) != 0)
            return -1;
        if (v) {
            if (strcasecmp(v, "adaptive") == 0) {
                c->retry.adaptive = 1;
            } else if (strcasecmp(v, "standard") != 0 && strcasecmp(v, "legacy") != 0) {
                dr_err_set(err, DR_E_CONFIG,
                           "invalid retry_mode '%s' in the AWS config file: expected standard, "
                           "legacy or adaptive",
                           v);
                free(v);
                return -1;
            }
            free(v);
        }
    }
    if (c->retry.adaptive)
        dr_notice(c->log, "retry mode 'adaptive' is not implemented; using 'standard' retries");
    return 0;
}

static int load_ca_bundle(dr_aws *c, dr_err *err)
{
    const char *env = getenv("AWS_CA_BUNDLE");
    char *v = NULL;
    if (env && *env) {
        v = dr_xstrdup(env);
    } else if (dr_aws_config_get(c->profile, "ca_bundle", &v, err) != 0) {
        return -1;
    }
    if (v && *v) {
        if (access(v, R_OK) != 0) {
            dr_err_set(err, DR_E_CONFIG,
                       "CA bundle %s (AWS_CA_BUNDLE / ca_bundle) is not readable: %s", v,
                       strerror(errno));
            free(v);
            return dr_err_hint(err, "point AWS_CA_BUNDLE at a PEM file, or unset it to use the "
                                    "system certificates");
        }
        c->ca_bundle = v;
    } else {
        free(v);
    }
    return 0;
}

static dr_http *new_handle(dr_aws *c)
{
    dr_http_opts o = {
        .connect_timeout_ms = c->connect_timeout_ms,
        .low_speed_time_s = c->low_speed_time_s,
        .ca_bundle = c->ca_bundle,
        .share = c->share,
    };
    return dr_http_new(&o);
}

int dr_aws_new(const dr_aws_opts *opts, dr_aws **out, dr_err *err)
{
    *out = NULL;
    dr_aws *c = dr_xcalloc(1, sizeof(*c));
    c->log = opts ? opts->log : NULL;
    c->profile = opts && opts->profile ? dr_xstrdup(opts->profile) : NULL;
    c->endpoint_url =
        opts && opts->endpoint_url && *opts->endpoint_url ? dr_xstrdup(opts->endpoint_url) : NULL;
    c->connect_timeout_ms = opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000;
    c->low_speed_time_s = opts && opts->low_speed_time_s > 0 ? opts->low_speed_time_s : 60;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->creds_mu, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_mu[i], NULL);
    dr_retry_quota_init(&c->quota);

    /* libxml2 must be initialised before threads parse in parallel. */
    xmlInitParser();

    if (load_retry_config(c, err) != 0 || load_ca_bundle(c, err) != 0)
        goto fail;

    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        /* Jitter needs spread, not secrecy: time and address will do. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)c;
    }
    c->rng = seed ? seed : 0x9E3779B97F4A7C15ULL;

    c->share = curl_share_init();
    if (!c->share) {
        dr_err_set(err, DR_E_INTERNAL, "cannot initialise libcurl (share handle)");
        goto fail;
    }
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);

    c->main = new_handle(c);
    if (!c->main) {
        dr_err_set(err, DR_E_INTERNAL, "cannot initialise libcurl (easy handle)");
        goto fail;
    }

    dr_creds_opts co = {.profile = c->profile, .log = c->log, .http_timeout_ms = 0};
    c->creds = dr_creds_provider_new(&co);
    if (!c->creds) {
        dr_err_set(err, DR_E_INTERNAL, "cannot create the credentials provider");
        goto fail;
    }
    *out = c;
    return 0;

fail:
    dr_aws_free(c);
    return -1;
}

void dr_aws_free(dr_aws *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->pool_n; i++)
        dr_http_free(c->pool[i]);
    free(c->pool);
    dr_http_free(c->main);
    if (c->share)
        curl_share_cleanup(c->share);
    if (c->creds)
        dr_creds_provider_free(c->creds);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_mu[i]);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->creds_mu);
    free(c->profile);
    free(c->endpoint_url);
    free(c->ca_bundle);
    free(c->default_region);
    free(c);
}

void dr_aws_get_stats(const dr_aws *c, dr_aws_stats *out)
{
    dr_aws *m = (dr_aws *)c; /* the mutex is not part of the logical state */
    pthread_mutex_lock(&m->mu);
    *out = c->stats;
    pthread_mutex_unlock(&m->mu);
}

const dr_log *dr_aws_log(const dr_aws *c)
{
    return c->log;
}

void dr_aws_set_retry_config(dr_aws *c, const dr_retry_config *cfg)
{
    c->retry = *cfg;
}

int dr_aws_retry_tokens(dr_aws *c)
{
    pthread_mutex_lock(&c->mu);
    int t = c->quota.tokens;
    pthread_mutex_unlock(&c->mu);
    return t;
}

int dr_aws_credentials(dr_aws *c, dr_creds *out, dr_err *err)
{
    pthread_mutex_lock(&c->creds_mu);
    int rc = dr_creds_get(c->creds, out, err);
    pthread_mutex_unlock(&c->creds_mu);
    return rc;
}

dr_http *dr_aws_conn_acquire(dr_aws *c, dr_err *err)
{
    dr_http *h = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->pool_n > 0)
        h = c->pool[--c->pool_n];
    pthread_mutex_unlock(&c->mu);
    if (!h)
        h = new_handle(c);
    if (!h)
        dr_err_set(err, DR_E_INTERNAL, "cannot initialise libcurl (easy handle)");
    return h;
}

void dr_aws_conn_release(dr_aws *c, dr_http *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&c->mu);
    if (c->pool_n == c->pool_cap) {
        c->pool_cap = c->pool_cap ? c->pool_cap * 2 : 8;
        c->pool = dr_xrealloc(c->pool, c->pool_cap * sizeof(*c->pool));
    }
    c->pool[c->pool_n++] = h;
    pthread_mutex_unlock(&c->mu);
}

/* ---- endpoints ---- */

static int region_for(dr_aws *c, const dr_service *svc, const char *region, const char **out,
                      dr_err *err)
{
    if (region && *region) {
        *out = region;
        return 0;
    }
    if (svc->global) {
        *out = "us-east-1";
        return 0;
    }
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    if (!c->region_done) {
        rc = dr_aws_default_region(c->profile, &c->default_region, err);
        c->region_done = rc == 0;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc != 0)
        return -1;
    if (!c->default_region) {
        dr_err_set(err, DR_E_CONFIG, "no AWS region for %s", svc->key);
        return dr_err_hint(err, "pass --region, or set AWS_REGION, or region in the profile");
    }
    *out = c->default_region;
    return 0;
}

static int resolve(dr_aws *c, const char *service_key, const char *region,
                   const dr_service **svc_out, dr_endpoint *ep, dr_err *err)
{
    const dr_service *svc = dr_service_find(service_key);
    if (!svc)
        return dr_err_set(err, DR_E_INTERNAL, "unknown AWS service '%s'", service_key);
    const char *r = NULL;
    if (region_for(c, svc, region, &r, err) != 0)
        return -1;
    if (dr_endpoint_resolve(svc, r, c->endpoint_url, ep, err) != 0)
        return -1;
    *svc_out = svc;
    return 0;
}

int dr_aws_endpoint(dr_aws *c, const char *service_key, const char *region, dr_endpoint *out,
                    dr_err *err)
{
    const dr_service *svc = NULL;
    return resolve(c, service_key, region, &svc, out, err);
}

/* ---- the request engine ---- */

typedef struct call {
    const dr_service *svc;
    const char *operation;
    const char *method;
    dr_endpoint ep;
    dr_aws_target tgt;
    dr_kvlist headers; /* everything but the signature headers */
    int has_body;
    const void *body;
    size_t body_len;
    dr_read_fn body_read;
    dr_rewind_fn body_rewind;
    void *body_ud;
    int64_t body_size;
    char payload_hash[65]; /* hex SHA-256 or UNSIGNED-PAYLOAD */
    dr_write_fn sink;
    void *sink_ud;
} call;

static void call_free(call *k)
{
    dr_aws_target_free(&k->tgt);
    dr_kv_free(&k->headers);
}

/* The sink seen by http.c during a streamed GET: checks that a resumed
 * response starts where the previous one broke off, and counts what the
 * caller's sink has been given. */
typedef struct resume {
    dr_write_fn fn;
    void *ud;
    int64_t delivered;    /* bytes the caller's sink accepted, all attempts */
    int64_t expect_start; /* Content-Range start this attempt must have, -1: none */
    int checked;
    int mismatch;
    char why[256];
    dr_http_resp *hr;
} resume;

static int resume_sink(void *ud, const char *data, size_t n)
{
    resume *r = ud;
    if (!r->checked) {
        r->checked = 1;
        if (r->expect_start >= 0) {
            int64_t s = 0, e = 0, t = 0;
            const char *cr = dr_kv_get(&r->hr->headers, "content-range");
            if (r->hr->status != 206) {
                snprintf(r->why, sizeof(r->why), "expected HTTP 206 resuming at byte %lld, got %ld",
                         (long long)r->expect_start, r->hr->status);
                r->mismatch = 1;
                return -1;
            }
            if (!cr || dr_parse_content_range(cr, &s, &e, &t) != 0 || s != r->expect_start) {
                snprintf(r->why, sizeof(r->why),
                         "resumed response starts at the wrong byte (Content-Range '%s', "
                         "expected start %lld)",
                         cr ? cr : "", (long long)r->expect_start);
                r->mismatch = 1;
                return -1;
            }
        }
    }
    if (r->fn(r->ud, data, n) != 0)
        return -1;
    r->delivered += (int64_t)n;
    return 0;
}

static void aws_error_init(dr_aws_error *a, const call *k)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->service, sizeof(a->service), "%s", k->svc->key);
    snprintf(a->operation, sizeof(a->operation), "%s", k->operation);
}

static int is_auth_code(const char *code)
{
    static const char *const codes[] = {"InvalidClientTokenId",
                                        "SignatureDoesNotMatch",
                                        "AuthFailure",
                                        "InvalidAccessKeyId",
                                        "ExpiredToken",
                                        "ExpiredTokenException",
                                        "UnrecognizedClientException",
                                        "InvalidToken",
                                        "IncompleteSignature",
                                        "MissingAuthenticationToken",
                                        "RequestTimeTooSkewed",
                                        "RequestExpired",
                                        NULL};
    for (size_t i = 0; codes[i]; i++)
        if (strcmp(code, codes[i]) == 0)
            return 1;
    return 0;
}

static int sign_into(dr_aws *c, call *k, dr_kvlist *hdrs, dr_err *err)
{
    dr_creds cr;
    memset(&cr, 0, sizeof(cr));
    pthread_mutex_lock(&c->creds_mu);
    int rc = dr_creds_get(c->creds, &cr, err);
    if (rc == 0)
        snprintf(c->creds_where, sizeof(c->creds_where), "%s%s%s", cr.source,
                 cr.source_detail[0] ? ": " : "", cr.source_detail);
    pthread_mutex_unlock(&c->creds_mu);
    if (rc != 0)
        return dr_err_wrap(err, "%s %s", k->svc->key, k->operation);

    int s3 = is_s3(k->svc);
    dr_sigv4_params p = {
        .access_key = cr.access_key,
        .secret_key = cr.secret_key,
        .session_token = cr.session_token,
        .region = k->ep.signing_region,
        .service = k->svc->signing_name,
        .now = time(NULL),
        .normalize_path = !s3,
        .sign_body = s3,
    };
    dr_sigv4_request r = {
        .method = k->method,
        .path = k->tgt.path,
        .query = k->tgt.query,
        .headers = hdrs,
        .payload_hash = k->payload_hash,
        .body = k->body,
        .body_len = k->body_len,
    };
    rc = dr_sigv4_sign_headers(&p, &r, NULL, err);
    dr_creds_clear(&cr);
    if (rc != 0)
        return dr_err_wrap(err, "signing %s %s", k->svc->key, k->operation);
    return 0;
}

/* URL without the query, for messages. */
static void url_for_msg(const call *k, char *out, size_t n)
{
    snprintf(out, n, "%s%s", k->tgt.origin, k->tgt.path);
}

static int network_error(dr_aws *c, const call *k, const dr_http_resp *hr, int attempts,
                         dr_err *err)
{
    char url[1024];
    url_for_msg(k, url, sizeof(url));
    if (attempts > 1)
        dr_err_set(err, DR_E_NETWORK, "cannot reach %s for %s %s: %s (after %d attempts)", url,
                   k->svc->key, k->operation, hr->curl_msg, attempts);
    else
        dr_err_set(err, DR_E_NETWORK, "cannot reach %s for %s %s: %s", url, k->svc->key,
                   k->operation, hr->curl_msg);
    switch (hr->curl_code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return dr_err_hint(err, "TLS verification failed: if a proxy or private CA is in the "
                                "way, set AWS_CA_BUNDLE to its PEM certificate bundle");
    case CURLE_OPERATION_TIMEDOUT:
        return dr_err_hint(err, "the endpoint stopped answering; check the network path, or "
                                "raise the connect/low-speed timeouts");
    default:
        break;
    }
    if (k->ep.custom)
        return dr_err_hint(err,
                           "check --endpoint-url / AWS_ENDPOINT_URL (endpoint from %s) and that "
                           "the service is running",
                           k->ep.source);
    (void)c;
    return dr_err_hint(err, "check network access to AWS (DNS, proxy settings such as "
                            "HTTPS_PROXY/NO_PROXY, firewall)");
}

static int aws_failure(dr_aws *c, const call *k, const dr_http_resp *hr, const dr_aws_error *a,
                       int attempts, int retryable, dr_err *err)
{
    dr_err_set_aws(err, a);
    const char *bucket_region = dr_kv_get(&hr->headers, "x-amz-bucket-region");
    if (is_s3(k->svc) && bucket_region && *bucket_region &&
        strcmp(bucket_region, k->ep.signing_region) != 0) {
        /* botocore follows S3's region redirects; we say where to go. */
        dr_err_hint(err, "the bucket is in %s, not %s: use that region for it", bucket_region,
                    k->ep.signing_region);
    } else if (is_auth_code(a->code)) {
        pthread_mutex_lock(&c->creds_mu);
        dr_err_hint(err,
                    "AWS refused the credentials (from %s); check the keys, the profile "
                    "and the clock",
                    c->creds_where[0] ? c->creds_where : "the default chain");
        pthread_mutex_unlock(&c->creds_mu);
    } else if (retryable && attempts > 1) {
        dr_err_hint(err, "gave up after %d attempts; AWS_MAX_ATTEMPTS raises the limit", attempts);
    } else if (a->http_status >= 500 && k->ep.custom) {
        dr_err_hint(err,
                    "the endpoint (%s) failed internally; a local stand-in may not "
                    "implement this call",
                    k->ep.source);
    }
    err->code = DR_E_AWS;
    return -1;
}

/* S3 may answer 200 and put an <Error> document in the body
 * (CompleteMultipartUpload, CopyObject, UploadPartCopy): that is a failure. */
static int s3_200_error(const dr_http_resp *hr)
{
    if (hr->status != 200 || hr->body.len == 0)
        return 0;
    size_t scan = hr->body.len < 512 ? hr->body.len : 512;
    if (!memmem(hr->body.data, scan, "<Error>", 7))
        return 0;
    xmlDocPtr d = dr_xml_parse(hr->body.data, hr->body.len);
    int yes = d && strcmp(dr_xml_root_name(d), "Error") == 0;
    xmlFreeDoc(d);
    return yes;
}

static void describe_failure(char *out, size_t n, const dr_http_resp *hr, const dr_aws_error *a,
                             int curl_failed)
{
    if (curl_failed)
        snprintf(out, n, "%s (%s)", curl_failed == 2 ? "timeout" : "connection failure",
                 hr->curl_msg);
    else
        snprintf(out, n, "HTTP %ld %s", a->http_status, a->code);
}

/*
 * Sends the call with retries. On success returns 0 with *hr the final
 * response (status 2xx or 304). On failure returns -1 with err set and *hr
 * the last response, if any.
 */
static int send_call(dr_aws *c, dr_http *h, call *k, dr_http_resp *hr, dr_err *err)
{
    const int max = c->retry.max_attempts > 0 ? c->retry.max_attempts : 1;
    int last_cost = 0;
    resume rs = {.fn = k->sink, .ud = k->sink_ud, .expect_start = -1, .hr = hr};
    int64_t range_first = 0, range_last = -1;
    int range_ok = 1; /* a resume can be expressed as a Range */
    const char *caller_range = dr_kv_get(&k->headers, "Range");
    if (caller_range)
        range_ok = dr_parse_range(caller_range, &range_first, &range_last) == 0;
    char etag[256] = "";

    for (int attempt = 1;; attempt++) {
        dr_kvlist hdrs = DR_KVLIST_INIT;
        dr_kv_copy(&hdrs, &k->headers);
        rs.checked = 0;
        rs.mismatch = 0;
        rs.expect_start = -1;
        if (k->sink && rs.delivered > 0) {
            /* Resume: only the rest, and only of the same object version. */
            int64_t from = range_first + rs.delivered;
            dr_kv_del(&hdrs, "Range");
            dr_kv_set(&hdrs, "If-Match", etag);
            if (range_last >= 0)
                dr_kv_addf(&hdrs, "Range", "bytes=%lld-%lld", (long long)from,
                           (long long)range_last);
            else
                dr_kv_addf(&hdrs, "Range", "bytes=%lld-", (long long)from);
            rs.expect_start = from;
        }
        if (sign_into(c, k, &hdrs, err) != 0) {
            dr_kv_free(&hdrs);
            return -1;
        }
        if (attempt > 1 && k->body_read && k->body_rewind(k->body_ud) != 0) {
            dr_kv_free(&hdrs);
            return dr_err_set(err, DR_E_IO, "%s %s: cannot rewind the request body for a retry",
                              k->svc->key, k->operation);
        }

        dr_http_req rq = {
            .method = k->method,
            .url = k->tgt.url,
            .headers = &hdrs,
            .has_body = k->has_body,
            .body = k->body,
            .body_len = k->body_len,
            .body_read = k->body_read,
            .body_rewind = k->body_rewind,
            .body_ud = k->body_ud,
            .body_size = k->body_size,
            .sink = k->sink ? resume_sink : NULL,
            .sink_ud = &rs,
        };
        dr_http_resp_reset(hr);
        int prc = dr_http_perform(h, &rq, hr);
        dr_kv_free(&hdrs);

        pthread_mutex_lock(&c->mu);
        c->stats.requests++;
        if (attempt > 1)
            c->stats.retries++;
        pthread_mutex_unlock(&c->mu);

        if (prc == 0)
            dr_debug(c->log, "%s %s: %s %s -> %ld (%.0f ms)", k->svc->key, k->operation, k->method,
                     k->tgt.url, hr->status, hr->elapsed_ms);
        else
            dr_debug(c->log, "%s %s: %s %s -> failed: %s (%.0f ms)", k->svc->key, k->operation,
                     k->method, k->tgt.url, hr->curl_msg, hr->elapsed_ms);

        /* Remember the version we started streaming, for If-Match. */
        if (k->sink && !etag[0] && rs.delivered > 0) {
            const char *et = dr_kv_get(&hr->headers, "etag");
            if (et)
                snprintf(etag, sizeof(etag), "%s", et);
        }

        dr_aws_error a;
        aws_error_init(&a, k);
        int curl_failed = 0;
        dr_retry_class cls;
        if (prc == 0) {
            int ok = (hr->status >= 200 && hr->status < 300) || hr->status == 304;
            if (ok && is_s3(k->svc) && !k->sink && s3_200_error(hr))
                ok = 0;
            if (ok) {
                pthread_mutex_lock(&c->mu);
                dr_retry_quota_release(&c->quota, last_cost);
                pthread_mutex_unlock(&c->mu);
                return 0;
            }
            dr_aws_parse_error(hr->status, &hr->headers, hr->body.data, hr->body.len, &a);
            if (rs.delivered > 0 && hr->status == 412) {
                char url[1024];
                url_for_msg(k, url, sizeof(url));
                dr_err_set(err, DR_E_VERIFY,
                           "%s %s: %s changed while it was being downloaded (ETag %s no longer "
                           "matches after %lld bytes); the partial data is not usable",
                           k->svc->key, k->operation, url, etag, (long long)rs.delivered);
                err->has_aws = 1;
                err->aws = a;
                return dr_err_hint(err, "run the command again to read the new version");
            }
            cls = dr_retry_classify(hr->status, 0, a.code);
        } else {
            if (hr->sink_failed && !rs.mismatch)
                return dr_err_set(err, DR_E_IO,
                                  "%s %s: writing the response body failed after %lld bytes",
                                  k->svc->key, k->operation, (long long)rs.delivered);
            if (rs.mismatch)
                return dr_err_set(err, DR_E_AWS, "%s %s: cannot resume the download: %s",
                                  k->svc->key, k->operation, rs.why);
            if (hr->read_failed)
                return dr_err_set(err, DR_E_IO, "%s %s: reading the request body failed",
                                  k->svc->key, k->operation);
            if (hr->too_large)
                return dr_err_set(err, DR_E_AWS, "%s %s: response larger than the %u-byte limit",
                                  k->svc->key, k->operation, DR_HTTP_BODY_MAX_DEFAULT);
            curl_failed = dr_http_curl_failure_kind(hr->curl_code);
            if (!curl_failed)
                return network_error(c, k, hr, attempt, err);
            cls = dr_retry_classify(0, curl_failed, NULL);
        }

        /* Decide whether to try again. */
        const char *no_retry = NULL;
        if (cls == DR_RETRY_NONE)
            no_retry = "";
        else if (attempt >= max)
            no_retry = "";
        else if (k->body_read && !k->body_rewind)
            no_retry = "the request body cannot be rewound";
        else if (k->sink && rs.delivered > 0 && (!etag[0] || !range_ok))
            no_retry = !etag[0] ? "the interrupted download had no ETag to resume against"
                                : "the interrupted download used a Range that cannot be resumed";
        if (!no_retry) {
            int cost = 0;
            pthread_mutex_lock(&c->mu);
            int got = dr_retry_quota_acquire(&c->quota, cls, &cost);
            pthread_mutex_unlock(&c->mu);
            if (!got)
                no_retry = "the client's retry quota is exhausted";
            else
                last_cost = cost;
        }
        if (no_retry) {
            int rc = curl_failed ? network_error(c, k, hr, attempt, err)
                                 : aws_failure(c, k, hr, &a, attempt, cls != DR_RETRY_NONE, err);
            if (*no_retry)
                dr_err_hint(err, "not retried: %s", no_retry);
            return rc;
        }

        double delay = dr_retry_backoff(&c->retry, attempt, rand01(c));
        char reason[CURL_ERROR_SIZE + 160];
        describe_failure(reason, sizeof(reason), hr, &a, curl_failed);
        dr_info(c->log, "retrying %s %s (attempt %d/%d) after %s: %.2fs", k->svc->key, k->operation,
                attempt + 1, max, reason, delay);
        sleep_seconds(delay);
    }
}

/* Malformed success responses are AWS-side failures with no AWS code. */
static int malformed(const call *k, const dr_http_resp *hr, const char *what, dr_err *err)
{
    dr_aws_error a;
    aws_error_init(&a, k);
    a.http_status = hr->status;
    snprintf(a.code, sizeof(a.code), "MalformedResponse");
    size_t n = hr->body.len < 120 ? hr->body.len : 120;
    char head[121];
    for (size_t i = 0; i < n; i++) {
        char ch = hr->body.data[i];
        head[i] = (ch == '\n' || ch == '\r' || ch == '\t') ? ' ' : ch;
    }
    head[n] = '\0';
    snprintf(a.message, sizeof(a.message), "%s%s%s", what, n ? ": " : "", head);
    const char *rid = dr_kv_get(&hr->headers, "x-amzn-requestid");
    if (!rid)
        rid = dr_kv_get(&hr->headers, "x-amz-request-id");
    if (rid)
        snprintf(a.request_id, sizeof(a.request_id), "%s", rid);
    return dr_err_set_aws(err, &a);
}

static int prepare(dr_aws *c, call *k, const char *service_key, const char *region,
                   const char *operation, const char *method, const char *bucket, const char *path,
                   const dr_kvlist *query, dr_err *err)
{
    memset(k, 0, sizeof(*k));
    dr_kv_init(&k->headers);
    if (resolve(c, service_key, region, &k->svc, &k->ep, err) != 0)
        return -1;
    k->operation = operation ? operation : "";
    k->method = method;
    if (dr_aws_build_target(k->svc, &k->ep, bucket, path, query, &k->tgt, err) != 0)
        return -1;
    dr_kv_add(&k->headers, "Host", k->tgt.host);
    return 0;
}

int dr_aws_query(dr_aws *c, const char *service_key, const char *region, const char *action,
                 const dr_kvlist *params, xmlDocPtr *out_doc, dr_err *err)
{
    if (out_doc)
        *out_doc = NULL;
    call k;
    if (prepare(c, &k, service_key, region, action, "POST", NULL, "/", NULL, err) != 0) {
        call_free(&k);
        return -1;
    }
    if (k.svc->protocol != DR_PROTO_QUERY && k.svc->protocol != DR_PROTO_EC2) {
        call_free(&k);
        return dr_err_set(err, DR_E_INTERNAL, "%s is not a query-protocol service", service_key);
    }
    char *body = dr_aws_query_body(action, k.svc->api_version, params);
    dr_kv_add(&k.headers, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    k.has_body = 1;
    k.body = body;
    k.body_len = strlen(body);
    dr_sha256_hex(body, k.body_len, k.payload_hash);

    dr_http_resp hr;
    dr_http_resp_init(&hr);
    int rc = send_call(c, c->main, &k, &hr, err);
    if (rc == 0 && out_doc) {
        xmlDocPtr d = dr_xml_parse(hr.body.data, hr.body.len);
        if (!d)
            rc = malformed(&k, &hr, "response is not XML", err);
        else
            *out_doc = d;
    }
    /* Query bodies can carry secret values (e.g. a password parameter). */
    dr_free_secret(body);
    dr_http_resp_free(&hr);
    call_free(&k);
    return rc;
}

int dr_aws_json(dr_aws *c, const char *service_key, const char *region, const char *operation,
                json_t *input, json_t **out, dr_err *err)
{
    if (out)
        *out = NULL;
    call k;
    if (prepare(c, &k, service_key, region, operation, "POST", NULL, "/", NULL, err) != 0) {
        call_free(&k);
        return -1;
    }
    if (k.svc->protocol != DR_PROTO_JSON) {
        call_free(&k);
        return dr_err_set(err, DR_E_INTERNAL, "%s is not a JSON-protocol service", service_key);
    }
    char *body = input ? json_dumps(input, JSON_COMPACT) : dr_xstrdup("{}");
    if (!body) {
        call_free(&k);
        return dr_err_set(err, DR_E_INTERNAL, "%s %s: cannot serialise the request", service_key,
                          operation);
    }
    char *target = dr_aws_json_target(k.svc, operation);
    dr_kv_add(&k.headers, "Content-Type", dr_aws_json_content_type(k.svc));
    dr_kv_add(&k.headers, "X-Amz-Target", target);
    free(target);
    k.has_body = 1;
    k.body = body;
    k.body_len = strlen(body);
    dr_sha256_hex(body, k.body_len, k.payload_hash);

    dr_http_resp hr;
    dr_http_resp_init(&hr);
    int rc = send_call(c, c->main, &k, &hr, err);
    if (rc == 0 && out) {
        const char *p = hr.body.data ? hr.body.data : "";
        size_t n = hr.body.len;
        while (n > 0 && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
            p++;
            n--;
        }
        if (n == 0) {
            *out = json_object();
        } else {
            json_error_t je;
            json_t *j = json_loadb(p, n, 0, &je);
            if (!j || !json_is_object(j)) {
                json_decref(j);
                rc = malformed(&k, &hr, "response is not a JSON object", err);
            } else {
                *out = j;
            }
        }
    }
    /* JSON bodies carry secret values (PutSecretValue, Decrypt...). */
    dr_free_secret(body);
    /* ... and so do responses (GetSecretValue, GenerateDataKey). */
    if (hr.body.data)
        dr_secure_zero(hr.body.data, hr.body.len);
    dr_http_resp_free(&hr);
    call_free(&k);
    return rc;
}

void dr_aws_rest_resp_init(dr_aws_rest_resp *r)
{
    r->status = 0;
    dr_kv_init(&r->headers);
    dr_buf_init(&r->body);
}

void dr_aws_rest_resp_free(dr_aws_rest_resp *r)
{
    dr_kv_free(&r->headers);
    dr_buf_free(&r->body);
    r->status = 0;
}

/* Base64 MD5 for Content-MD5, or NULL where MD5 is unavailable (an OpenSSL
 * in FIPS mode): the header is an extra, S3 accepts requests without it. */
static char *md5_base64(const void *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16)
        return NULL;
    return dr_base64(md, mdlen);
}

static int has_checksum_header(const dr_kvlist *h)
{
    for (size_t i = 0; h && i < h->n; i++) {
        if (strcasecmp(h->items[i].name, "Content-MD5") == 0 ||
            strncasecmp(h->items[i].name, "x-amz-checksum-", 15) == 0)
            return 1;
    }
    return 0;
}

static int rest_prepare(dr_aws *c, const dr_aws_rest_req *req, call *k, dr_err *err)
{
    if (prepare(c, k, req->service, req->region, req->operation, req->method, req->bucket,
                req->path, req->query, err) != 0)
        return -1;
    if (k->svc->protocol != DR_PROTO_REST_XML)
        return dr_err_set(err, DR_E_INTERNAL, "%s is not a REST service", req->service);
    int s3 = is_s3(k->svc);
    for (size_t i = 0; req->headers && i < req->headers->n; i++) {
        const char *name = req->headers->items[i].name;
        if (strcasecmp(name, "Host") == 0 || strcasecmp(name, "Authorization") == 0)
            continue;
        dr_kv_add(&k->headers, name, req->headers->items[i].value);
    }
    int is_put_post = strcmp(req->method, "PUT") == 0 || strcmp(req->method, "POST") == 0;
    if (req->body_read) {
        k->has_body = 1;
        k->body_read = req->body_read;
        k->body_rewind = req->body_rewind;
        k->body_ud = req->body_ud;
        k->body_size = req->body_size;
        if (req->body_sha256 && *req->body_sha256) {
            snprintf(k->payload_hash, sizeof(k->payload_hash), "%s", req->body_sha256);
        } else if (s3) {
            snprintf(k->payload_hash, sizeof(k->payload_hash), "%s", DR_SIGV4_UNSIGNED_PAYLOAD);
        } else {
            return dr_err_set(err, DR_E_INTERNAL,
                              "%s %s: a streamed body needs its SHA-256 for this service",
                              req->service, k->operation);
        }
    } else {
        /* PUT and POST always carry a body, even an empty one, so that
         * Content-Length: 0 is sent (S3 CreateMultipartUpload is a bodyless
         * POST). */
        k->has_body = is_put_post || req->body_len > 0;
        k->body = req->body ? req->body : "";
        k->body_len = req->body ? req->body_len : 0;
        /* A caller that already hashed the buffer (multipart parts) saves us
         * a second pass over it. */
        if (req->body_sha256 && strlen(req->body_sha256) == 64)
            snprintf(k->payload_hash, sizeof(k->payload_hash), "%s", req->body_sha256);
        else
            dr_sha256_hex(k->body, k->body_len, k->payload_hash);
        if (s3 && k->body_len > 0 && !has_checksum_header(req->headers)) {
            /* Some S3 calls require an integrity header (DeleteObjects,
             * lifecycle, object lock); it is cheap, so send it always. */
            char *md5 = md5_base64(k->body, k->body_len);
            if (md5)
                dr_kv_add(&k->headers, "Content-MD5", md5);
            free(md5);
        }
    }
    /* An explicit Content-Type always: without one, a form type added on the
     * way makes moto (and WSGI servers) eat an S3 body as form fields. */
    if (k->has_body && !dr_kv_get(&k->headers, "Content-Type"))
        dr_kv_add(&k->headers, "Content-Type", s3 ? "application/octet-stream" : "application/xml");
    k->sink = req->resp_write;
    k->sink_ud = req->resp_ud;
    return 0;
}

int dr_aws_rest_on(dr_aws *c, dr_http *h, const dr_aws_rest_req *req, dr_aws_rest_resp *resp,
                   dr_err *err)
{
    call k;
    if (rest_prepare(c, req, &k, err) != 0) {
        call_free(&k);
        return -1;
    }
    dr_http_resp hr;
    dr_http_resp_init(&hr);
    int rc = send_call(c, h, &k, &hr, err);
    if (resp) {
        dr_aws_rest_resp_free(resp);
        resp->status = hr.status;
        resp->headers = hr.headers;
        resp->body = hr.body;
        dr_kv_init(&hr.headers);
        dr_buf_init(&hr.body);
    }
    dr_http_resp_free(&hr);
    call_free(&k);
    return rc;
}

int dr_aws_rest(dr_aws *c, const dr_aws_rest_req *req, dr_aws_rest_resp *resp, dr_err *err)
{
    return dr_aws_rest_on(c, c->main, req, resp, err);
}

int dr_aws_presign(dr_aws *c, const dr_aws_rest_req *req, time_t now, long expires, char **out_url,
                   dr_err *err)
{
    *out_url = NULL;
    call k;
    if (prepare(c, &k, req->service, req->region, req->operation, req->method, req->bucket,
                req->path, req->query, err) != 0) {
        call_free(&k);
        return -1;
    }
    dr_creds cr;
    memset(&cr, 0, sizeof(cr));
    if (dr_aws_credentials(c, &cr, err) != 0) {
        call_free(&k);
        return dr_err_wrap(err, "presigning %s %s", k.svc->key, k.operation);
    }
    int s3 = is_s3(k.svc);
    dr_sigv4_params p = {
        .access_key = cr.access_key,
        .secret_key = cr.secret_key,
        .session_token = cr.session_token,
        .region = k.ep.signing_region,
        .service = k.svc->signing_name,
        .now = now,
        .normalize_path = !s3,
        .sign_body = 0,
        .expires = expires,
    };
    dr_sigv4_request r = {
        .method = k.method,
        .path = k.tgt.path,
        .query = k.tgt.query,
        .headers = &k.headers,
        .payload_hash = DR_SIGV4_UNSIGNED_PAYLOAD,
    };
    char *q = NULL;
    int rc = dr_sigv4_presign(&p, &r, &q, NULL, err);
    dr_creds_clear(&cr);
    if (rc == 0) {
        *out_url = dr_xasprintf("%s%s?%s", k.tgt.origin, k.tgt.path, q);
        free(q);
    }
    call_free(&k);
    return rc;
}
