/*
 * imds.c - the ECS container endpoint and EC2 instance metadata (IMDSv2).
 *
 * Behaviour follows botocore (ContainerProvider, InstanceMetadataProvider):
 * the same variables, the same host allow-list for a FULL_URI over plain
 * HTTP, the same token header names and TTL. Differences: IMDSv1 is never
 * used (a token is always required), and a configured ECS endpoint that
 * fails is an error rather than a fall-through, so that drctl never
 * silently runs as a different identity.
 */
#include "aws/imds.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/mem.h"

#ifndef DRCTL_VERSION
#define DRCTL_VERSION "dev"
#endif

#define ECS_HOST "http://169.254.170.2"
#define IMDS_V4 "http://169.254.169.254"
#define IMDS_V6 "http://[fd00:ec2::254]"
/* botocore's value: the token lives 6 hours; we fetch one per resolution. */
#define IMDS_TOKEN_TTL "21600"

/* Credentials documents are a few hundred bytes; anything large is wrong. */
enum { BODY_MAX = 64 * 1024 };
/* EKS writes a JWT of about 1 KB; cap what we read. */
enum { TOKEN_FILE_MAX = 16 * 1024 };
enum { ECS_ATTEMPTS = 3 };

static const char *getenv_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* ---- ISO 8601 ---------------------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int dr_iso8601_parse(const char *s, time_t *out)
{
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 19)
        return -1;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    if (*p == '.' || *p == ',') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = (oh * 3600L + om * 60L) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return -1; /* no zone: ambiguous, and the endpoints always send one */
    }
    if (*p)
        return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec > 59 ? 59 : sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = t - offset;
    return 0;
}

/* ---- HTTP --------------------------------------------------------------- */

typedef struct http_result {
    long status;
    char *body; /* BODY_MAX + 1 bytes, NUL-terminated; may hold secrets */
    size_t len;
    int too_large;
    CURLcode code;
    char errbuf[CURL_ERROR_SIZE];
} http_result;

static void http_result_init(http_result *r)
{
    memset(r, 0, sizeof(*r));
    /* One fixed buffer rather than a growing one: a realloc would leave
     * copies of the secret key behind in freed memory. */
    r->body = dr_xmalloc(BODY_MAX + 1);
    r->body[0] = '\0';
}

static void http_result_free(http_result *r)
{
    if (r->body) {
        dr_secure_zero(r->body, r->len);
        free(r->body);
    }
    r->body = NULL;
    r->len = 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    http_result *r = ud;
    size_t n = size * nmemb;
    if (n > BODY_MAX - r->len) {
        r->too_large = 1;
        return 0; /* aborts the transfer */
    }
    memcpy(r->body + r->len, ptr, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static size_t no_upload(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)size;
    (void)nmemb;
    (void)ud;
    return 0;
}

/* Frees a header list after zeroing it: it may hold a bearer token. */
static void free_headers(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next)
        if (p->data)
            dr_secure_zero(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

/*
 * One request on a fresh easy handle. Returns 0 when an HTTP response
 * arrived (any status), -1 on a transport failure (r->code, r->errbuf).
 */
static int http_request(const char *method, const char *url, struct curl_slist *headers,
                        long timeout_ms, http_result *r)
{
    CURL *c = curl_easy_init();
    if (!c) {
        r->code = CURLE_FAILED_INIT;
        return -1;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    /* Link-local and loopback addresses: a proxy could only intercept the
     * credentials, and http_proxy is often set in CI. */
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "drctl/" DRCTL_VERSION);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
    if (headers)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (strcmp(method, "PUT") == 0) {
        /* An empty PUT with Content-Length: 0, as the IMDS token call wants. */
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_INFILESIZE, 0L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, no_upload);
    }
    r->code = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    return r->code == CURLE_OK ? 0 : -1;
}

static void describe_failure(const http_result *r, long timeout_ms, char *out, size_t n)
{
    if (r->too_large)
        snprintf(out, n, "response larger than %d bytes", BODY_MAX);
    else if (r->code == CURLE_OPERATION_TIMEDOUT)
        snprintf(out, n, "timed out after %ld ms", timeout_ms);
    else if (r->errbuf[0])
        snprintf(out, n, "%s", r->errbuf);
    else
        snprintf(out, n, "%s", curl_easy_strerror(r->code));
}

/* The URL without query or fragment, for messages. */
static void display_url(const char *url, char *out, size_t n)
{
    size_t len = strcspn(url, "?#");
    snprintf(out, n, "%.*s", (int)len, url);
}

/* ---- the credentials document ------------------------------------------ */

static const char *json_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Overwrites a string inside a parsed document before it is freed. */
static void wipe_json_string(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        dr_secure_zero((char *)json_string_value(v), json_string_length(v));
}

/*
 * Parses {AccessKeyId, SecretAccessKey, Token, Expiration[, Code]}. `what`
 * names the source in messages. Messages never quote the document: jansson's
 * error text can contain a piece of it.
 */
static int parse_creds_json(const char *what, const char *body, size_t len, int check_code,
                            dr_creds *out, dr_err *err)
{
    json_error_t je;
    json_t *doc = json_loadb(body, len, 0, &je);
    int rc = -1;
    if (!json_is_object(doc)) {
        dr_err_set(err, DR_E_CREDENTIALS, "%s: the response is not a JSON object", what);
        goto done;
    }
    if (check_code) {
        const char *code = json_str(doc, "Code");
        if (!code || strcmp(code, "Success") != 0) {
            dr_err_set(err, DR_E_CREDENTIALS, "%s: the response has Code '%.64s', not 'Success'",
                       what, code ? code : "(none)");
            goto done;
        }
    }
    const char *ak = json_str(doc, "AccessKeyId");
    const char *sk = json_str(doc, "SecretAccessKey");
    const char *tok = json_str(doc, "Token");
    const char *exp = json_str(doc, "Expiration");
    if (!ak || !*ak || !sk || !*sk) {
        dr_err_set(err, DR_E_CREDENTIALS, "%s: the response has no %s", what,
                   (!ak || !*ak) ? "AccessKeyId" : "SecretAccessKey");
        goto done;
    }
    time_t expiration = 0;
    if (exp && *exp && dr_iso8601_parse(exp, &expiration) != 0) {
        dr_err_set(err, DR_E_CREDENTIALS, "%s: Expiration '%.64s' is not an ISO 8601 time", what,
                   exp);
        goto done;
    }
    memset(out, 0, sizeof(*out));
    out->access_key = dr_xstrdup(ak);
    out->secret_key = dr_xstrdup(sk);
    out->session_token = tok && *tok ? dr_xstrdup(tok) : NULL;
    out->expiration = expiration;
    rc = 0;
done:
    if (doc) {
        wipe_json_string(doc, "SecretAccessKey");
        wipe_json_string(doc, "Token");
        json_decref(doc);
    }
    return rc;
}

/* ---- ECS container endpoint ------------------------------------------- */

static int is_loopback_or_allowed(const char *host)
{
    /* botocore's allow-list for plain HTTP, plus any loopback address. */
    static const char *const allowed[] = {"169.254.170.2", "169.254.170.23", "fd00:ec2::23",
                                          "localhost"};
    char h[256];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        snprintf(h, sizeof(h), "%.*s", (int)(n - 2), host + 1);
    } else {
        snprintf(h, sizeof(h), "%s", host);
    }
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        if (strcasecmp(h, allowed[i]) == 0)
            return 1;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, h, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, h, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

static int check_full_uri(const char *uri, dr_err *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int rc = -1;
    if (!u)
        return dr_err_set(err, DR_E_INTERNAL, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        dr_err_set(err, DR_E_CONFIG, "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a valid URL");
        dr_err_hint(err, "set it to an http(s) URL such as http://127.0.0.1:51679/creds");
        goto done;
    }
    if (strcasecmp(scheme, "https") == 0) {
        rc = 0;
    } else if (strcasecmp(scheme, "http") != 0) {
        dr_err_set(err, DR_E_CONFIG,
                   "AWS_CONTAINER_CREDENTIALS_FULL_URI: scheme '%.16s' is not supported", scheme);
        dr_err_hint(err, "use an http or https URL");
    } else if (!is_loopback_or_allowed(host)) {
        dr_err_set(err, DR_E_CONFIG,
                   "AWS_CONTAINER_CREDENTIALS_FULL_URI: host '%.128s' is not allowed over plain "
                   "HTTP",
                   host);
        dr_err_hint(err, "over http only loopback addresses, localhost, 169.254.170.2, "
                         "169.254.170.23 and fd00:ec2::23 are allowed (as in the AWS SDKs); "
                         "use https for any other host");
    } else {
        rc = 0;
    }
done:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

/* The Authorization value: the token file wins over the variable, as in
 * botocore. The file is re-read on every fetch because EKS rotates it.
 * *out NULL when neither is set. */
static int container_auth_token(char **out, dr_err *err)
{
    *out = NULL;
    const char *file = getenv_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *var = getenv_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    char *tok = NULL;
    if (file) {
        FILE *f = fopen(file, "rb");
        if (!f) {
            int e = errno;
            dr_err_set(err, DR_E_CONFIG,
                       "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s", file,
                       strerror(e));
            return -1;
        }
        tok = dr_xmalloc(TOKEN_FILE_MAX + 1);
        size_t n = fread(tok, 1, TOKEN_FILE_MAX + 1, f);
        int bad = ferror(f) || n > TOKEN_FILE_MAX;
        fclose(f);
        if (bad) {
            dr_secure_zero(tok, n > TOKEN_FILE_MAX ? TOKEN_FILE_MAX + 1 : n);
            free(tok);
            return dr_err_set(err, DR_E_CONFIG,
                              "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s", file,
                              n > TOKEN_FILE_MAX ? "larger than 16 KiB" : "read error");
        }
        tok[n] = '\0';
        /* A trailing newline is an editor's, not the token's. */
        while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r'))
            tok[--n] = '\0';
    } else if (var) {
        tok = dr_xstrdup(var);
    } else {
        return 0;
    }
    /* A line break would let the value inject headers. */
    if (strpbrk(tok, "\r\n")) {
        dr_free_secret(tok);
        return dr_err_set(err, DR_E_CONFIG,
                          "the container authorization token (%s) contains a "
                          "line break",
                          file ? "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
                               : "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    }
    *out = tok;
    return 0;
}

static void short_pause(int attempt)
{
    struct timespec ts = {0, 100L * 1000 * 1000 * attempt};
    nanosleep(&ts, NULL);
}

int dr_ecs_creds_fetch(long timeout_ms, const dr_log *log, dr_creds *out, char *why, size_t why_len,
                       dr_err *err)
{
    const char *rel = getenv_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = getenv_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!rel && !full) {
        snprintf(why, why_len, "AWS_CONTAINER_CREDENTIALS_* not set");
        return 0;
    }
    char *url;
    /* The relative URI wins when both are set (the SDKs' order). */
    if (rel) {
        url = dr_xasprintf("%s%s%s", ECS_HOST, rel[0] == '/' ? "" : "/", rel);
    } else {
        if (check_full_uri(full, err) < 0)
            return -1;
        url = dr_xstrdup(full);
    }
    char shown[300];
    display_url(url, shown, sizeof(shown));

    char *token = NULL;
    if (container_auth_token(&token, err) < 0) {
        free(url);
        return -1;
    }
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    if (token) {
        char *h = dr_xasprintf("Authorization: %s", token);
        headers = curl_slist_append(headers, h);
        dr_free_secret(h);
        dr_free_secret(token);
    }

    char what[400];
    snprintf(what, sizeof(what), "ECS container credentials endpoint %s", shown);
    int rc = -1;
    http_result r;
    http_result_init(&r);
    /* A task's agent can be briefly unavailable at start-up: retry
     * transport failures and 5xx a few times, quickly. */
    for (int attempt = 1;; attempt++) {
        int sent = http_request("GET", url, headers, timeout_ms, &r);
        int retryable = sent < 0 ? !r.too_large : r.status >= 500;
        if (!retryable || attempt == ECS_ATTEMPTS)
            break;
        dr_debug(log, "%s: attempt %d failed, retrying", what, attempt);
        dr_secure_zero(r.body, r.len);
        r.len = 0;
        r.too_large = 0;
        r.errbuf[0] = '\0';
        short_pause(attempt);
    }
    if (r.code != CURLE_OK) {
        char desc[CURL_ERROR_SIZE + 64];
        describe_failure(&r, timeout_ms, desc, sizeof(desc));
        dr_err_set(err, DR_E_NETWORK, "%s: %s", what, desc);
        dr_err_hint(err,
                    "AWS_CONTAINER_CREDENTIALS_%s is set but the endpoint does not answer; "
                    "unset it outside a container",
                    rel ? "RELATIVE_URI" : "FULL_URI");
    } else if (r.status != 200) {
        dr_err_set(err, DR_E_CREDENTIALS, "%s returned HTTP %ld", what, r.status);
        if (r.status == 401 || r.status == 403)
            dr_err_hint(err, "check AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)");
    } else if (parse_creds_json(what, r.body, r.len, 0, out, err) == 0) {
        snprintf(out->source, sizeof(out->source), "ecs-container");
        snprintf(out->source_detail, sizeof(out->source_detail), "%.250s", shown);
        rc = 1;
    }
    http_result_free(&r);
    free_headers(headers);
    free(url);
    return rc;
}

/* ---- EC2 instance metadata (IMDSv2) ------------------------------------ */

static int imds_base(char *out, size_t n, dr_err *err)
{
    const char *ep = getenv_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *mode = getenv_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    if (ep) {
        if (strncasecmp(ep, "http://", 7) != 0 && strncasecmp(ep, "https://", 8) != 0) {
            dr_err_set(err, DR_E_CONFIG,
                       "AWS_EC2_METADATA_SERVICE_ENDPOINT must be an http(s) URL, e.g. "
                       "http://169.254.169.254");
            return -1;
        }
        size_t len = strcspn(ep, "?#");
        while (len && ep[len - 1] == '/')
            len--;
        if (len >= n)
            return dr_err_set(err, DR_E_CONFIG, "AWS_EC2_METADATA_SERVICE_ENDPOINT is too long");
        snprintf(out, n, "%.*s", (int)len, ep);
        return 0;
    }
    if (!mode || strcasecmp(mode, "IPv4") == 0) {
        snprintf(out, n, "%s", IMDS_V4);
    } else if (strcasecmp(mode, "IPv6") == 0) {
        snprintf(out, n, "%s", IMDS_V6);
    } else {
        dr_err_set(err, DR_E_CONFIG,
                   "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE '%.32s' is not IPv4 or IPv6", mode);
        return -1;
    }
    return 0;
}

/* IAM role names: letters, digits and +=,.@_- (the IAM rule). Checked
 * because the name goes into the next URL. */
static int valid_role_name(const char *s)
{
    if (!*s || strlen(s) > 128)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("+=,.@_-", *s))
            return 0;
    return 1;
}

int dr_imds_creds_fetch(long timeout_ms, const dr_log *log, dr_creds *out, char *why,
                        size_t why_len, dr_err *err)
{
    const char *disabled = getenv("AWS_EC2_METADATA_DISABLED");
    if (disabled && strcasecmp(disabled, "true") == 0) {
        snprintf(why, why_len, "disabled by AWS_EC2_METADATA_DISABLED");
        return 0;
    }
    char base[256];
    if (imds_base(base, sizeof(base), err) < 0)
        return -1;

    int rc = -1;
    char *url = NULL, *token = NULL, *role = NULL;
    struct curl_slist *headers = NULL;
    http_result r;
    http_result_init(&r);

    /* 1. The session token. No answer here means "not on EC2": that is an
     * ordinary miss, not an error. */
    url = dr_xasprintf("%s/latest/api/token", base);
    headers = curl_slist_append(NULL, "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL);
    int sent = http_request("PUT", url, headers, timeout_ms, &r);
    free_headers(headers);
    headers = NULL;
    if (sent < 0) {
        char desc[CURL_ERROR_SIZE + 64];
        describe_failure(&r, timeout_ms, desc, sizeof(desc));
        snprintf(why, why_len, "no response from %s: %s", base, desc);
        rc = 0;
        goto done;
    }
    if (r.status != 200 || r.len == 0) {
        snprintf(why, why_len, "IMDSv2 token request to %s returned HTTP %ld", base, r.status);
        rc = 0;
        goto done;
    }
    size_t tl = r.len;
    while (tl && isspace((unsigned char)r.body[tl - 1]))
        tl--;
    token = dr_xstrndup(r.body, tl);
    dr_secure_zero(r.body, r.len);
    r.len = 0;
    char *th = dr_xasprintf("X-aws-ec2-metadata-token: %s", token);
    headers = curl_slist_append(NULL, th);
    dr_free_secret(th);

    /* 2. The role name. */
    free(url);
    url = dr_xasprintf("%s/latest/meta-data/iam/security-credentials/", base);
    if (http_request("GET", url, headers, timeout_ms, &r) < 0) {
        char desc[CURL_ERROR_SIZE + 64];
        describe_failure(&r, timeout_ms, desc, sizeof(desc));
        dr_err_set(err, DR_E_NETWORK, "EC2 instance metadata %s: listing the IAM role: %s", base,
                   desc);
        goto done;
    }
    if (r.status == 404) {
        snprintf(why, why_len, "no IAM role attached to the instance (%s)", base);
        rc = 0;
        goto done;
    }
    if (r.status != 200) {
        dr_err_set(err, DR_E_CREDENTIALS,
                   "EC2 instance metadata %s: listing the IAM role returned HTTP %ld", base,
                   r.status);
        goto done;
    }
    size_t rl = strcspn(r.body, "\r\n");
    role = dr_xstrndup(r.body, rl);
    if (!*role) {
        snprintf(why, why_len, "no IAM role attached to the instance (%s)", base);
        rc = 0;
        goto done;
    }
    if (!valid_role_name(role)) {
        dr_err_set(err, DR_E_CREDENTIALS,
                   "EC2 instance metadata %s: the IAM role name is not a valid role name", base);
        goto done;
    }
    r.len = 0;

    /* 3. The role's credentials. */
    free(url);
    url = dr_xasprintf("%s/latest/meta-data/iam/security-credentials/%s", base, role);
    char what[400];
    snprintf(what, sizeof(what), "EC2 instance metadata %s, role %s", base, role);
    if (http_request("GET", url, headers, timeout_ms, &r) < 0) {
        char desc[CURL_ERROR_SIZE + 64];
        describe_failure(&r, timeout_ms, desc, sizeof(desc));
        dr_err_set(err, DR_E_NETWORK, "%s: %s", what, desc);
        goto done;
    }
    if (r.status != 200) {
        dr_err_set(err, DR_E_CREDENTIALS, "%s: HTTP %ld", what, r.status);
        goto done;
    }
    if (parse_creds_json(what, r.body, r.len, 1, out, err) < 0)
        goto done;
    snprintf(out->source, sizeof(out->source), "ec2-imds");
    snprintf(out->source_detail, sizeof(out->source_detail), "role %.128s via %.110s", role, base);
    dr_debug(log, "credentials from instance metadata, role %s", role);
    rc = 1;
done:
    http_result_free(&r);
    free_headers(headers);
    dr_free_secret(token);
    free(role);
    free(url);
    return rc;
}
