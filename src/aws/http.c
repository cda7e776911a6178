/*
 * http.c - one HTTP exchange over a reusable libcurl easy handle (http.h).
 */
#include "aws/http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/mem.h"

#ifndef DRCTL_VERSION
#define DRCTL_VERSION "dev"
#endif

struct dr_http {
    CURL *easy;
    long connect_timeout_ms;
    long low_speed_time_s;
    char *ca_bundle;
    CURLSH *share;
    char errbuf[CURL_ERROR_SIZE];
};

dr_http *dr_http_new(const dr_http_opts *opts)
{
    CURL *easy = curl_easy_init();
    if (!easy)
        return NULL;
    dr_http *h = dr_xcalloc(1, sizeof(*h));
    h->easy = easy;
    h->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000;
    h->low_speed_time_s = opts->low_speed_time_s > 0 ? opts->low_speed_time_s : 60;
    h->ca_bundle = opts->ca_bundle && *opts->ca_bundle ? dr_xstrdup(opts->ca_bundle) : NULL;
    h->share = opts->share;
    return h;
}

void dr_http_free(dr_http *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->easy);
    free(h->ca_bundle);
    free(h);
}

void dr_http_resp_init(dr_http_resp *r)
{
    memset(r, 0, sizeof(*r));
    dr_kv_init(&r->headers);
    dr_buf_init(&r->body);
}

void dr_http_resp_reset(dr_http_resp *r)
{
    dr_http_resp_free(r);
    dr_http_resp_init(r);
}

void dr_http_resp_free(dr_http_resp *r)
{
    dr_kv_free(&r->headers);
    dr_buf_free(&r->body);
}

typedef struct xfer {
    const dr_http_req *req;
    dr_http_resp *resp;
    size_t body_off; /* for buffer bodies */
} xfer;

static size_t header_cb(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t len = size * nmemb;
    /* A status line starts a new response (after a 100 Continue, say):
     * forget the headers of the previous one. */
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        dr_kv_free(&x->resp->headers);
        const char *sp = memchr(data, ' ', len);
        long st = 0;
        if (sp) {
            const char *p = sp + 1, *end = data + len;
            while (p < end && isdigit((unsigned char)*p))
                st = st * 10 + (*p++ - '0');
        }
        x->resp->status = st;
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon || colon == data)
        return len; /* the blank line, or junk */
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    char *name = dr_xstrndup(data, nlen);
    for (char *p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    char *value = dr_xstrndup(v, (size_t)(end - v));
    dr_kv_add(&x->resp->headers, name, value);
    free(name);
    free(value);
    return len;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t len = size * nmemb;
    long st = x->resp->status;
    int ok = st >= 200 && st < 300;
    if (ok && x->req->sink) {
        if (x->req->sink(x->req->sink_ud, data, len) != 0) {
            x->resp->sink_failed = 1;
            return 0; /* CURLE_WRITE_ERROR */
        }
        x->resp->sink_bytes += (int64_t)len;
        return len;
    }
    size_t limit = ok ? (x->req->max_body ? x->req->max_body : DR_HTTP_BODY_MAX_DEFAULT)
                      : DR_HTTP_ERROR_BODY_MAX;
    size_t have = x->resp->body.len;
    if (have + len > limit) {
        if (ok) {
            x->resp->too_large = 1;
            return 0;
        }
        /* keep the start of an oversized error document, drop the rest */
        if (have < limit)
            dr_buf_append(&x->resp->body, data, limit - have);
        return len;
    }
    dr_buf_append(&x->resp->body, data, len);
    return len;
}

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t max = size * nmemb;
    const dr_http_req *r = x->req;
    if (r->body_read) {
        long n = r->body_read(r->body_ud, buf, max);
        if (n < 0 || (size_t)n > max) {
            x->resp->read_failed = 1;
            return CURL_READFUNC_ABORT;
        }
        return (size_t)n;
    }
    size_t left = r->body_len - x->body_off;
    size_t n = left < max ? left : max;
    if (n)
        memcpy(buf, (const char *)r->body + x->body_off, n);
    x->body_off += n;
    return n;
}

/* Rewinding a buffer body is free; libcurl asks when it must resend (e.g.
 * after an auth negotiation or a redirect, neither of which we use, but a
 * refused reused connection is retried inside libcurl the same way). */
static int seek_cb(void *ud, curl_off_t offset, int origin)
{
    xfer *x = ud;
    if (x->req->body_read) {
        /* streams can only go back to the start */
        if (origin != SEEK_SET || offset != 0 || !x->req->body_rewind)
            return CURL_SEEKFUNC_CANTSEEK;
        return x->req->body_rewind(x->req->body_ud) == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
    }
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > x->req->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    x->body_off = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int dr_http_perform(dr_http *h, const dr_http_req *req, dr_http_resp *resp)
{
    CURL *e = h->easy;
    xfer x = {.req = req, .resp = resp, .body_off = 0};
    struct curl_slist *hl = NULL;
    int rc = -1;

    /* Each exchange starts from default options; live connections, the DNS
     * cache and TLS sessions survive curl_easy_reset. */
    curl_easy_reset(e);
    h->errbuf[0] = '\0';
    resp->status = 0;
    resp->curl_code = CURLE_OK;
    resp->curl_msg[0] = '\0';

    for (size_t i = 0; req->headers && i < req->headers->n; i++) {
        const dr_kv *kv = &req->headers->items[i];
        /* "Name;" is libcurl's syntax for a header with an empty value. */
        char *line = kv->value[0] ? dr_xasprintf("%s: %s", kv->name, kv->value)
                                  : dr_xasprintf("%s;", kv->name);
        struct curl_slist *n = curl_slist_append(hl, line);
        dr_free_secret(line); /* may be Authorization or a session token */
        if (!n)
            goto oom;
        hl = n;
    }
    /* No "Expect: 100-continue" round trip (moto does not answer it; AWS
     * does not need it), and no libcurl default Accept. */
    struct curl_slist *n1 = curl_slist_append(hl, "Expect:");
    if (!n1)
        goto oom;
    hl = n1;

    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L); /* threads; no SIGALRM for DNS timeouts */
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
    /* No total timeout: a multi-GB stream may take long, and that is fine
     * as long as it moves. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, h->low_speed_time_s);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->ca_bundle)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_bundle);
    if (h->share)
        curl_easy_setopt(e, CURLOPT_SHARE, h->share);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "drctl/" DRCTL_VERSION);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &x);

    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (req->has_body) {
        curl_off_t size = req->body_read ? (curl_off_t)req->body_size : (curl_off_t)req->body_len;
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, size);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(e, CURLOPT_READDATA, &x);
        curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, seek_cb);
        curl_easy_setopt(e, CURLOPT_SEEKDATA, &x);
        if (strcmp(req->method, "PUT") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    } else if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    }

    double t0 = now_ms();
    CURLcode cc = curl_easy_perform(e);
    resp->elapsed_ms = now_ms() - t0;
    resp->curl_code = cc;
    if (cc == CURLE_OK) {
        long st = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &st);
        if (st)
            resp->status = st;
        rc = 0;
    } else {
        snprintf(resp->curl_msg, sizeof(resp->curl_msg), "%s",
                 h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc));
    }
    /* Drop the pointers to our stack and our header list before returning. */
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hl);
    return rc;

oom:
    curl_slist_free_all(hl);
    resp->curl_code = CURLE_OUT_OF_MEMORY;
    snprintf(resp->curl_msg, sizeof(resp->curl_msg), "out of memory building headers");
    return -1;
}

int dr_http_curl_failure_kind(CURLcode code)
{
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
        return 2;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
        return 1;
    default:
        return 0;
    }
}
