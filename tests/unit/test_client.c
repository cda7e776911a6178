/*
 * test_client.c - the AWS client without AWS: request builders (form
 * bodies, targets, URLs, ranges) as pure functions, and the request engine
 * (retries, rewinds, resumed downloads, error mapping, logging) against a
 * scripted HTTP server on loopback that records what it was sent.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aws/client.h"
#include "aws/client_internal.h"
#include "aws/s3.h"
#include "aws/service.h"
#include "aws/xml.h"
#include "util/buf.h"
#include "util/mem.h"

/* ====================================================================== */
/* pure builders                                                          */
/* ====================================================================== */

Test(build, form_encoding_rfc3986)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "Tags.member.1.Value", "a b/c=d&e+f~g_h-i.j");
    dr_kv_add(&p, "Name", "caf\xC3\xA9");
    dr_kv_add(&p, "Empty", "");
    char *s = dr_aws_form_encode(&p);
    cr_expect_str_eq(s, "Tags.member.1.Value=a%20b%2Fc%3Dd%26e%2Bf~g_h-i.j&Name=caf%C3%A9&Empty=");
    free(s);
    dr_kv_free(&p);
    s = dr_aws_form_encode(NULL);
    cr_expect_str_eq(s, "");
    free(s);
}

Test(build, form_body_spaces_as_plus)
{
    /* Bodies use the form rule for spaces; a literal '+' stays encoded. */
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "Tag.1.Value", "a b+c  d");
    char *s = dr_aws_form_body(&p);
    cr_expect_str_eq(s, "Tag.1.Value=a+b%2Bc++d");
    free(s);
    dr_kv_free(&p);
}

Test(build, query_body_action_version_first)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "VpcId.1", "vpc-1");
    dr_kv_add(&p, "Action", "Evil"); /* ignored: ours wins */
    dr_kv_add(&p, "Filter.1.Name", "tag:drctl:stack");
    char *s = dr_aws_query_body("DescribeVpcs", "2016-11-15", &p);
    cr_expect_str_eq(s, "Action=DescribeVpcs&Version=2016-11-15&VpcId.1=vpc-1&"
                        "Filter.1.Name=tag%3Adrctl%3Astack");
    free(s);
    dr_kv_free(&p);
    s = dr_aws_query_body("GetCallerIdentity", "2011-06-15", NULL);
    cr_expect_str_eq(s, "Action=GetCallerIdentity&Version=2011-06-15");
    free(s);
}

Test(build, json_target_and_content_type)
{
    const dr_service *kms = dr_service_find("kms");
    cr_assert_not_null(kms);
    char *t = dr_aws_json_target(kms, "CreateKey");
    cr_expect_str_eq(t, "TrentService.CreateKey");
    free(t);
    cr_expect_str_eq(dr_aws_json_content_type(kms), "application/x-amz-json-1.1");
    const dr_service *ecs = dr_service_find("ecs");
    t = dr_aws_json_target(ecs, "DescribeServices");
    cr_expect_str_eq(t, "AmazonEC2ContainerServiceV20141113.DescribeServices");
    free(t);
    const dr_service *cw = dr_service_find("cloudwatch");
    if (cw && cw->json_version && strcmp(cw->json_version, "1.0") == 0)
        cr_expect_str_eq(dr_aws_json_content_type(cw), "application/x-amz-json-1.0");
}

Test(build, s3_dns_compatible)
{
    cr_expect(dr_s3_dns_compatible("my-bucket-1"));
    cr_expect(dr_s3_dns_compatible("abc"));
    cr_expect_not(dr_s3_dns_compatible("ab"));
    cr_expect_not(dr_s3_dns_compatible("My-Bucket"));
    cr_expect_not(dr_s3_dns_compatible("my.bucket"));
    cr_expect_not(dr_s3_dns_compatible("-bucket"));
    cr_expect_not(dr_s3_dns_compatible("bucket-"));
    cr_expect_not(dr_s3_dns_compatible("my_bucket"));
    cr_expect_not(dr_s3_dns_compatible(NULL));
    char long_name[70];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    cr_expect_not(dr_s3_dns_compatible(long_name));
    long_name[63] = '\0';
    cr_expect(dr_s3_dns_compatible(long_name));
}

static dr_endpoint make_ep(const char *url, const char *host, int custom)
{
    dr_endpoint ep;
    memset(&ep, 0, sizeof(ep));
    snprintf(ep.url, sizeof(ep.url), "%s", url);
    snprintf(ep.host, sizeof(ep.host), "%s", host);
    snprintf(ep.signing_region, sizeof(ep.signing_region), "us-east-1");
    ep.custom = custom;
    return ep;
}

Test(build, s3_path_style_on_custom_endpoint)
{
    const dr_service *s3 = dr_service_find("s3");
    dr_endpoint ep = make_ep("http://127.0.0.1:5000", "127.0.0.1:5000", 1);
    dr_aws_target t;
    dr_err err;
    cr_assert_eq(
        dr_aws_build_target(s3, &ep, "my-bucket", "dir/caf\xC3\xA9 file+1.txt", NULL, &t, &err), 0);
    cr_expect_str_eq(t.host, "127.0.0.1:5000");
    cr_expect_str_eq(t.path, "/my-bucket/dir/caf%C3%A9%20file%2B1.txt");
    cr_expect_str_eq(t.query, "");
    cr_expect_str_eq(t.url, "http://127.0.0.1:5000/my-bucket/dir/caf%C3%A9%20file%2B1.txt");
    dr_aws_target_free(&t);

    /* bucket operation with a query */
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "list-type", "2");
    dr_kv_add(&q, "prefix", "a b/");
    cr_assert_eq(dr_aws_build_target(s3, &ep, "my-bucket", NULL, &q, &t, &err), 0);
    cr_expect_str_eq(t.path, "/my-bucket");
    cr_expect_str_eq(t.query, "list-type=2&prefix=a%20b%2F");
    cr_expect_str_eq(t.url, "http://127.0.0.1:5000/my-bucket?list-type=2&prefix=a%20b%2F");
    dr_aws_target_free(&t);
    dr_kv_free(&q);

    /* ListBuckets */
    cr_assert_eq(dr_aws_build_target(s3, &ep, NULL, NULL, NULL, &t, &err), 0);
    cr_expect_str_eq(t.path, "/");
    dr_aws_target_free(&t);
}

Test(build, s3_virtual_host_on_aws)
{
    const dr_service *s3 = dr_service_find("s3");
    dr_endpoint ep = make_ep("https://s3.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com", 0);
    dr_aws_target t;
    dr_err err;
    cr_assert_eq(dr_aws_build_target(s3, &ep, "my-bucket", "k/ey", NULL, &t, &err), 0);
    cr_expect_str_eq(t.host, "my-bucket.s3.eu-west-1.amazonaws.com");
    cr_expect_str_eq(t.origin, "https://my-bucket.s3.eu-west-1.amazonaws.com");
    cr_expect_str_eq(t.path, "/k/ey");
    dr_aws_target_free(&t);
    cr_assert_eq(dr_aws_build_target(s3, &ep, "my-bucket", NULL, NULL, &t, &err), 0);
    cr_expect_str_eq(t.path, "/");
    dr_aws_target_free(&t);
    /* dotted names stay path style (TLS wildcard) */
    cr_assert_eq(dr_aws_build_target(s3, &ep, "my.bucket", "k", NULL, &t, &err), 0);
    cr_expect_str_eq(t.host, "s3.eu-west-1.amazonaws.com");
    cr_expect_str_eq(t.path, "/my.bucket/k");
    dr_aws_target_free(&t);
}

Test(build, endpoint_base_path_and_other_services)
{
    const dr_service *s3 = dr_service_find("s3");
    const dr_service *r53 = dr_service_find("route53");
    const dr_service *sts = dr_service_find("sts");
    dr_endpoint ep = make_ep("http://localhost:4566/prefix/", "localhost:4566", 1);
    dr_aws_target t;
    dr_err err;
    cr_assert_eq(dr_aws_build_target(s3, &ep, "b", "k", NULL, &t, &err), 0);
    cr_expect_str_eq(t.path, "/prefix/b/k");
    dr_aws_target_free(&t);
    cr_assert_eq(dr_aws_build_target(r53, &ep, NULL, "/2013-04-01/hostedzone/Z1", NULL, &t, &err),
                 0);
    cr_expect_str_eq(t.path, "/prefix/2013-04-01/hostedzone/Z1");
    dr_aws_target_free(&t);
    dr_endpoint ep2 = make_ep("http://127.0.0.1:5000", "127.0.0.1:5000", 1);
    cr_assert_eq(dr_aws_build_target(sts, &ep2, NULL, "/", NULL, &t, &err), 0);
    cr_expect_str_eq(t.path, "/");
    cr_expect_str_eq(t.url, "http://127.0.0.1:5000/");
    dr_aws_target_free(&t);
    dr_endpoint bad = make_ep("127.0.0.1:5000", "127.0.0.1:5000", 1);
    cr_expect_eq(dr_aws_build_target(sts, &bad, NULL, "/", NULL, &t, &err), -1);
    cr_expect_eq(err.code, DR_E_CONFIG);
}

Test(build, ranges)
{
    int64_t s, e, t;
    cr_expect_eq(dr_parse_content_range("bytes 40-99/100", &s, &e, &t), 0);
    cr_expect(s == 40 && e == 99 && t == 100);
    cr_expect_eq(dr_parse_content_range("bytes 0-0/*", &s, &e, &t), 0);
    cr_expect(t == -1);
    cr_expect_eq(dr_parse_content_range("bytes */100", &s, &e, &t), -1);
    cr_expect_eq(dr_parse_content_range("bytes 9-3/100", &s, &e, &t), -1);
    cr_expect_eq(dr_parse_content_range("items 1-2/3", &s, &e, &t), -1);
    cr_expect_eq(dr_parse_content_range(NULL, &s, &e, &t), -1);
    cr_expect_eq(dr_parse_range("bytes=100-", &s, &e), 0);
    cr_expect(s == 100 && e == -1);
    cr_expect_eq(dr_parse_range("bytes=5-10", &s, &e), 0);
    cr_expect(s == 5 && e == 10);
    cr_expect_eq(dr_parse_range("bytes=-500", &s, &e), -1);
    cr_expect_eq(dr_parse_range("bytes=1-2,5-6", &s, &e), -1);
}

Test(build, url_decode_and_base64)
{
    char *d = dr_url_decode("a+b%20c%2Bd%2fe%zz%", 1);
    cr_expect_str_eq(d, "a b c+d/e%zz%");
    free(d);
    d = dr_url_decode("a+b", 0);
    cr_expect_str_eq(d, "a+b");
    free(d);
    char *b = dr_base64((const unsigned char *)"", 0);
    cr_expect_str_eq(b, "");
    free(b);
    b = dr_base64((const unsigned char *)"f", 1);
    cr_expect_str_eq(b, "Zg==");
    free(b);
    b = dr_base64((const unsigned char *)"fo", 2);
    cr_expect_str_eq(b, "Zm8=");
    free(b);
    b = dr_base64((const unsigned char *)"foobar", 6);
    cr_expect_str_eq(b, "Zm9vYmFy");
    free(b);
}

/* ====================================================================== */
/* a scripted HTTP server                                                 */
/* ====================================================================== */

#define MAX_SCRIPT 8

typedef struct scripted {
    const char *head; /* status line + headers, "\r\n"-separated, no final blank line */
    const char *body;
    size_t body_len;
    long cut_after; /* send only this many body bytes, then close; -1 = all */
} scripted;

typedef struct recorded {
    char method[16];
    char target[1024];
    dr_kvlist headers;
    dr_buf body;
} recorded;

typedef struct server {
    int fd;
    int port;
    pthread_t th;
    scripted script[MAX_SCRIPT];
    int nscript;
    recorded req[MAX_SCRIPT + 4];
    int nreq;
    int stop;
} server;

static void read_request(int c, recorded *r)
{
    dr_buf in = DR_BUF_INIT;
    char buf[65536];
    char *hend = NULL;
    while (!hend) {
        ssize_t n = recv(c, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        dr_buf_append(&in, buf, (size_t)n);
        hend = strstr(in.data, "\r\n\r\n");
    }
    dr_kv_init(&r->headers);
    dr_buf_init(&r->body);
    if (!hend) {
        dr_buf_free(&in);
        return;
    }
    size_t head_len = (size_t)(hend - in.data) + 4;
    sscanf(in.data, "%15s %1023s", r->method, r->target);
    char *line = strstr(in.data, "\r\n") + 2;
    while (line < hend) {
        char *eol = strstr(line, "\r\n");
        char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon) {
            char *name = dr_xstrndup(line, (size_t)(colon - line));
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            char *val = dr_xstrndup(v, (size_t)(eol - v));
            dr_kv_add(&r->headers, name, val);
            free(name);
            free(val);
        }
        line = eol + 2;
    }
    const char *cl = dr_kv_get(&r->headers, "Content-Length");
    size_t want = cl ? (size_t)strtoull(cl, NULL, 10) : 0;
    dr_buf_append(&r->body, in.data + head_len, in.len - head_len);
    while (r->body.len < want) {
        ssize_t n = recv(c, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        dr_buf_append(&r->body, buf, (size_t)n);
    }
    dr_buf_free(&in);
}

static void *server_main(void *arg)
{
    server *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0 || s->stop) {
            if (c >= 0)
                close(c);
            break;
        }
        int i = s->nreq;
        if (i >= MAX_SCRIPT + 4) {
            close(c);
            continue;
        }
        read_request(c, &s->req[i]);
        s->nreq++;
        const scripted *sc = i < s->nscript ? &s->script[i] : NULL;
        dr_buf out = DR_BUF_INIT;
        if (!sc) {
            dr_buf_puts(&out, "HTTP/1.1 599 Script Exhausted\r\nContent-Length: 0\r\n"
                              "Connection: close\r\n\r\n");
        } else {
            dr_buf_puts(&out, sc->head);
            dr_buf_puts(&out, "\r\nConnection: close\r\n");
            /* Content-Length is the full body even when we cut it short:
             * that is how a broken transfer looks to the client. */
            if (!strcasestr(sc->head, "Content-Length:"))
                dr_buf_printf(&out, "Content-Length: %zu\r\n", sc->body_len);
            dr_buf_puts(&out, "\r\n");
            size_t n = sc->cut_after >= 0 ? (size_t)sc->cut_after : sc->body_len;
            if (n)
                dr_buf_append(&out, sc->body, n);
        }
        size_t off = 0;
        while (off < out.len) {
            ssize_t w = send(c, out.data + off, out.len - off, MSG_NOSIGNAL);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        dr_buf_free(&out);
        shutdown(c, SHUT_RDWR);
        close(c);
    }
    return NULL;
}

static void server_start(server *s)
{
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(s->fd >= 0);
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t al = sizeof(a);
    getsockname(s->fd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    cr_assert_eq(listen(s->fd, 16), 0);
    pthread_create(&s->th, NULL, server_main, s);
}

static void server_stop(server *s)
{
    s->stop = 1;
    /* wake accept() with a connection of our own */
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(c, (struct sockaddr *)&a, sizeof(a));
    close(c);
    pthread_join(s->th, NULL);
    close(s->fd);
    for (int i = 0; i < s->nreq; i++) {
        dr_kv_free(&s->req[i].headers);
        dr_buf_free(&s->req[i].body);
    }
}

static void add_n(server *s, const char *head, const char *body, size_t len, long cut_after)
{
    scripted *sc = &s->script[s->nscript++];
    sc->head = head;
    sc->body = body ? body : "";
    sc->body_len = body ? len : 0;
    sc->cut_after = cut_after;
}

static void add(server *s, const char *head, const char *body, long cut_after)
{
    add_n(s, head, body, body ? strlen(body) : 0, cut_after);
}

/* ---- client set-up ---- */

static server srv;
static dr_log test_log;
static char *log_text;
static size_t log_len;
static FILE *log_fp;

static void env_setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    memset(&srv, 0, sizeof(srv));
    server_start(&srv);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
    setenv("AWS_ENDPOINT_URL", url, 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "very-secret-key", 1);
    unsetenv("AWS_SESSION_TOKEN");
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/drctl-test-config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/drctl-test-credentials", 1);
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_MAX_ATTEMPTS");
    unsetenv("AWS_RETRY_MODE");
    unsetenv("AWS_CA_BUNDLE");
    /* loopback only, whatever proxy the environment names */
    setenv("no_proxy", "*", 1);
    setenv("NO_PROXY", "*", 1);
    log_fp = open_memstream(&log_text, &log_len);
    test_log.level = DR_LOG_DEBUG;
    test_log.out = log_fp;
    test_log.progress = 0;
}

static void env_teardown(void)
{
    server_stop(&srv);
    if (log_fp)
        fclose(log_fp);
    free(log_text);
    log_text = NULL;
    curl_global_cleanup();
}

static dr_aws *new_client(int max_attempts)
{
    dr_aws_opts o = {.log = &test_log, .connect_timeout_ms = 2000, .low_speed_time_s = 5};
    dr_aws *c = NULL;
    dr_err err;
    dr_err_clear(&err);
    int rc = dr_aws_new(&o, &c, &err);
    cr_assert_eq(rc, 0, "dr_aws_new: %s", err.msg);
    dr_retry_config fast = {
        .max_attempts = max_attempts, .base_seconds = 0.001, .cap_seconds = 0.01};
    dr_aws_set_retry_config(c, &fast);
    return c;
}

static const char *logs(void)
{
    fflush(log_fp);
    return log_text ? log_text : "";
}

/* ====================================================================== */
/* engine tests                                                           */
/* ====================================================================== */

TestSuite(engine, .init = env_setup, .fini = env_teardown);

#define HTML500                                                                                    \
    "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal "     \
    "Server Error</h1>\n"

Test(engine, json_retry_then_success)
{
    add(&srv, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html", HTML500, -1);
    add(&srv, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1",
        "{\"KeyMetadata\":{\"KeyId\":\"k-1\"}}", -1);
    dr_aws *c = new_client(3);
    json_t *in = json_pack("{s:s}", "KeyId", "alias/x");
    json_t *out = NULL;
    dr_err err;
    dr_err_clear(&err);
    int rc = dr_aws_json(c, "kms", NULL, "DescribeKey", in, &out, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_expect_str_eq(
        json_string_value(json_object_get(json_object_get(out, "KeyMetadata"), "KeyId")), "k-1");
    dr_aws_stats st;
    dr_aws_get_stats(c, &st);
    cr_expect_eq(st.requests, 2);
    cr_expect_eq(st.retries, 1);
    cr_assert_eq(srv.nreq, 2);
    for (int i = 0; i < 2; i++) {
        recorded *r = &srv.req[i];
        cr_expect_str_eq(r->method, "POST");
        cr_expect_str_eq(r->target, "/");
        cr_expect_str_eq(dr_kv_get(&r->headers, "X-Amz-Target"), "TrentService.DescribeKey");
        cr_expect_str_eq(dr_kv_get(&r->headers, "Content-Type"), "application/x-amz-json-1.1");
        cr_expect_str_eq(dr_buf_cstr(&r->body), "{\"KeyId\":\"alias/x\"}");
        const char *auth = dr_kv_get(&r->headers, "Authorization");
        cr_assert_not_null(auth);
        cr_expect(strstr(auth, "Credential=AKIDTEST/") != NULL, "%s", auth);
        cr_expect(strstr(auth, "/us-east-1/kms/aws4_request") != NULL, "%s", auth);
        cr_expect_null(dr_kv_get(&r->headers, "Expect"));
        cr_expect_str_eq(dr_kv_get(&r->headers, "Host"), dr_kv_get(&srv.req[0].headers, "Host"));
    }
    const char *l = logs();
    cr_expect(strstr(l, "drctl: info: retrying kms DescribeKey (attempt 2/3) after HTTP 503 "
                        "InternalError: ") != NULL,
              "log: %s", l);
    cr_expect(strstr(l, "drctl: debug: kms DescribeKey: POST http://127.0.0.1:") != NULL, "log: %s",
              l);
    cr_expect_null(strstr(l, "very-secret-key"));
    cr_expect_null(strstr(l, "Authorization"));
    cr_expect_null(strstr(l, "alias/x"), "bodies are never logged");
    json_decref(in);
    json_decref(out);
    dr_aws_free(c);
}

Test(engine, json_empty_body_is_empty_object)
{
    add(&srv, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1", "", -1);
    dr_aws *c = new_client(3);
    json_t *out = NULL;
    dr_err err;
    cr_assert_eq(dr_aws_json(c, "kms", "us-east-1", "EnableKeyRotation", NULL, &out, &err), 0, "%s",
                 err.msg);
    cr_assert(json_is_object(out));
    cr_expect_eq(json_object_size(out), 0);
    cr_expect_str_eq(dr_buf_cstr(&srv.req[0].body), "{}");
    json_decref(out);
    dr_aws_free(c);
}

Test(engine, query_request_and_response)
{
    add(&srv, "HTTP/1.1 200 OK\r\nContent-Type: text/xml",
        "<DescribeVpcsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><vpcSet><item>"
        "<vpcId>vpc-1</vpcId></item></vpcSet></DescribeVpcsResponse>",
        -1);
    dr_aws *c = new_client(3);
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "VpcId.1", "vpc-1");
    xmlDocPtr doc = NULL;
    dr_err err;
    cr_assert_eq(dr_aws_query(c, "ec2", "eu-west-1", "DescribeVpcs", &p, &doc, &err), 0, "%s",
                 err.msg);
    cr_expect_str_eq(dr_xml_root_name(doc), "DescribeVpcsResponse");
    char *id = dr_xml_text(xmlDocGetRootElement(doc), "vpcSet/item/vpcId");
    cr_expect_str_eq(id, "vpc-1");
    free(id);
    recorded *r = &srv.req[0];
    cr_expect_str_eq(dr_buf_cstr(&r->body), "Action=DescribeVpcs&Version=2016-11-15&VpcId.1=vpc-1");
    cr_expect_str_eq(dr_kv_get(&r->headers, "Content-Type"),
                     "application/x-www-form-urlencoded; charset=utf-8");
    cr_expect(strstr(dr_kv_get(&r->headers, "Authorization"), "/eu-west-1/ec2/aws4_request"));
    cr_expect_null(dr_kv_get(&r->headers, "X-Amz-Target"));
    xmlFreeDoc(doc);
    dr_kv_free(&p);
    dr_aws_free(c);
}

Test(engine, query_malformed_response)
{
    add(&srv, "HTTP/1.1 200 OK\r\nContent-Type: text/html", "this is not xml", -1);
    dr_aws *c = new_client(3);
    xmlDocPtr doc = NULL;
    dr_err err;
    cr_assert_eq(dr_aws_query(c, "sts", NULL, "GetCallerIdentity", NULL, &doc, &err), -1);
    cr_expect_null(doc);
    cr_expect_eq(err.code, DR_E_AWS);
    cr_expect_str_eq(err.aws.code, "MalformedResponse");
    cr_expect(strstr(err.msg, "sts GetCallerIdentity") && strstr(err.msg, "not XML"), "%s",
              err.msg);
    dr_aws_free(c);
}

Test(engine, aws_error_not_retried)
{
    add(&srv,
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nx-amzn-RequestId: rid-9",
        "{\"__type\":\"NotFoundException\",\"message\":\"Key 'x' does not exist\"}", -1);
    dr_aws *c = new_client(3);
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_aws_json(c, "kms", NULL, "DescribeKey", NULL, NULL, &err), -1);
    cr_expect_eq(srv.nreq, 1);
    cr_expect_eq(err.code, DR_E_AWS);
    cr_expect(err.has_aws);
    cr_expect_str_eq(err.aws.service, "kms");
    cr_expect_str_eq(err.aws.operation, "DescribeKey");
    cr_expect_str_eq(err.aws.code, "NotFoundException");
    cr_expect_str_eq(err.aws.request_id, "rid-9");
    cr_expect_eq(err.aws.http_status, 400);
    cr_expect_str_eq(err.msg, "kms DescribeKey: NotFoundException: Key 'x' does not exist (HTTP "
                              "400, request id rid-9)");
    dr_aws_free(c);
}

Test(engine, auth_error_hint_names_credentials_source)
{
    add(&srv, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/html",
        "<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code>"
        "<Message>The security token included in the request is invalid.</Message></Error>"
        "</Errors></ErrorResponse>",
        -1);
    dr_aws *c = new_client(3);
    dr_err err;
    cr_assert_eq(dr_aws_json(c, "secretsmanager", NULL, "ListSecrets", NULL, NULL, &err), -1);
    cr_expect_str_eq(err.aws.code, "InvalidClientTokenId");
    cr_expect(strstr(err.hint, "environment") != NULL, "hint: %s", err.hint);
    cr_expect_null(strstr(err.hint, "very-secret-key"));
    dr_aws_free(c);
}

Test(engine, attempts_exhausted)
{
    for (int i = 0; i < 3; i++)
        add(&srv, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html", HTML500, -1);
    dr_aws *c = new_client(3);
    dr_err err;
    cr_assert_eq(dr_aws_query(c, "rds", NULL, "DescribeDBInstances", NULL, NULL, &err), -1);
    cr_expect_eq(srv.nreq, 3);
    cr_expect_str_eq(err.aws.code, "InternalError");
    cr_expect_str_eq(err.aws.message, "500 Internal Server Error");
    cr_expect(strstr(err.hint, "3 attempts") != NULL, "hint: %s", err.hint);
    dr_aws_stats st;
    dr_aws_get_stats(c, &st);
    cr_expect_eq(st.requests, 3);
    cr_expect_eq(st.retries, 2);
    cr_expect_eq(dr_aws_retry_tokens(c), 490, "two retries took 2 x 5 tokens");
    dr_aws_free(c);
}

Test(engine, quota_refill_after_success)
{
    add(&srv, "HTTP/1.1 502 Bad Gateway", "", -1);
    add(&srv, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1", "{}", -1);
    dr_aws *c = new_client(3);
    dr_err err;
    cr_assert_eq(dr_aws_json(c, "kms", NULL, "ListKeys", NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(dr_aws_retry_tokens(c), 500, "the retry's cost came back");
    dr_aws_free(c);
}

Test(engine, connection_refused_is_network_error)
{
    /* a port nobody listens on: bind, note it, close */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    socklen_t al = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    int port = ntohs(a.sin_port);
    close(fd);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    setenv("AWS_ENDPOINT_URL", url, 1);

    dr_aws *c = new_client(2);
    dr_err err;
    cr_assert_eq(dr_aws_json(c, "kms", NULL, "DescribeKey", NULL, NULL, &err), -1);
    cr_expect_eq(err.code, DR_E_NETWORK);
    char want[128];
    snprintf(want, sizeof(want), "cannot reach http://127.0.0.1:%d/ for kms DescribeKey: ", port);
    cr_expect(strncmp(err.msg, want, strlen(want)) == 0, "msg: %s", err.msg);
    cr_expect(strstr(err.msg, "after 2 attempts") != NULL, "msg: %s", err.msg);
    cr_expect(strstr(err.hint, "--endpoint-url") && strstr(err.hint, "AWS_ENDPOINT_URL"),
              "hint: %s", err.hint);
    dr_aws_stats st;
    dr_aws_get_stats(c, &st);
    cr_expect_eq(st.requests, 2);
    cr_expect(strstr(logs(), "after connection failure") != NULL, "log: %s", logs());
    dr_aws_free(c);
}

/* ---- streamed bodies ---- */

typedef struct mem_stream {
    const char *data;
    size_t len, pos;
    int rewinds;
} mem_stream;

static long ms_read(void *ud, char *buf, size_t n)
{
    mem_stream *m = ud;
    size_t left = m->len - m->pos;
    if (n > left)
        n = left;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (long)n;
}

static int ms_rewind(void *ud)
{
    mem_stream *m = ud;
    m->pos = 0;
    m->rewinds++;
    return 0;
}

static char payload[1000];

static void fill_payload(void)
{
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (char)('a' + i % 26);
}

Test(engine, streamed_put_is_rewound_for_a_retry)
{
    fill_payload();
    add(&srv, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml",
        "<Error><Code>InternalError</Code><Message>try again</Message></Error>", -1);
    add(&srv, "HTTP/1.1 200 OK\r\nETag: \"e\"", "", -1);
    dr_aws *c = new_client(3);
    mem_stream m = {.data = payload, .len = sizeof(payload)};
    dr_aws_rest_req req = {
        .service = "s3",
        .operation = "PutObject",
        .method = "PUT",
        .bucket = "bkt",
        .path = "dir/a b.bin",
        .body_read = ms_read,
        .body_rewind = ms_rewind,
        .body_ud = &m,
        .body_size = (int64_t)sizeof(payload),
    };
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    dr_err err;
    cr_assert_eq(dr_aws_rest(c, &req, &resp, &err), 0, "%s", err.msg);
    cr_expect_eq(resp.status, 200);
    cr_expect_str_eq(dr_kv_get(&resp.headers, "etag"), "\"e\"");
    cr_assert_eq(srv.nreq, 2);
    cr_expect_eq(m.rewinds, 1);
    for (int i = 0; i < 2; i++) {
        recorded *r = &srv.req[i];
        cr_expect_str_eq(r->method, "PUT");
        cr_expect_str_eq(r->target, "/bkt/dir/a%20b.bin");
        cr_expect_eq(r->body.len, sizeof(payload));
        cr_expect(memcmp(r->body.data, payload, sizeof(payload)) == 0);
        cr_expect_str_eq(dr_kv_get(&r->headers, "Content-Length"), "1000");
        cr_expect_str_eq(dr_kv_get(&r->headers, "Content-Type"), "application/octet-stream");
        cr_expect_str_eq(dr_kv_get(&r->headers, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
        cr_expect_null(dr_kv_get(&r->headers, "Expect"));
        cr_expect_null(dr_kv_get(&r->headers, "Transfer-Encoding"));
    }
    dr_aws_rest_resp_free(&resp);
    dr_aws_free(c);
}

Test(engine, unrewindable_stream_is_not_retried)
{
    fill_payload();
    add(&srv, "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml",
        "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>", -1);
    dr_aws *c = new_client(3);
    mem_stream m = {.data = payload, .len = sizeof(payload)};
    dr_aws_rest_req req = {
        .service = "s3",
        .operation = "PutObject",
        .method = "PUT",
        .bucket = "bkt",
        .path = "k",
        .body_read = ms_read,
        .body_ud = &m,
        .body_size = (int64_t)sizeof(payload),
    };
    dr_err err;
    cr_assert_eq(dr_aws_rest(c, &req, NULL, &err), -1);
    cr_expect_eq(srv.nreq, 1);
    cr_expect_str_eq(err.aws.code, "SlowDown");
    cr_expect(strstr(err.hint, "cannot be rewound") != NULL, "hint: %s", err.hint);
    dr_aws_free(c);
}

Test(engine, buffered_put_and_bodyless_post)
{
    add(&srv, "HTTP/1.1 200 OK", "", -1);
    add(&srv, "HTTP/1.1 200 OK\r\nContent-Type: application/xml",
        "<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>",
        -1);
    dr_aws *c = new_client(3);
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Content-Type", "text/plain");
    dr_aws_rest_req put = {.service = "s3",
                           .operation = "PutObject",
                           .method = "PUT",
                           .bucket = "bkt",
                           .path = "k",
                           .headers = &h,
                           .body = "hello",
                           .body_len = 5};
    dr_err err;
    cr_assert_eq(dr_aws_rest(c, &put, NULL, &err), 0, "%s", err.msg);
    recorded *r = &srv.req[0];
    cr_expect_str_eq(dr_buf_cstr(&r->body), "hello");
    cr_expect_str_eq(dr_kv_get(&r->headers, "Content-Type"), "text/plain");
    cr_expect_str_eq(dr_kv_get(&r->headers, "Content-MD5"), "XUFAKrxLKna5cZ2REBfFkg==");
    cr_expect_str_eq(dr_kv_get(&r->headers, "x-amz-content-sha256"),
                     "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");

    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "uploads", "");
    dr_aws_rest_req post = {.service = "s3",
                            .operation = "CreateMultipartUpload",
                            .method = "POST",
                            .bucket = "bkt",
                            .path = "k",
                            .query = &q};
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    cr_assert_eq(dr_aws_rest(c, &post, &resp, &err), 0, "%s", err.msg);
    r = &srv.req[1];
    cr_expect_str_eq(r->method, "POST");
    cr_expect_str_eq(r->target, "/bkt/k?uploads=");
    cr_expect_str_eq(dr_kv_get(&r->headers, "Content-Length"), "0");
    cr_expect(strstr(dr_buf_cstr(&resp.body), "<UploadId>u1</UploadId>") != NULL);
    dr_aws_rest_resp_free(&resp);
    dr_kv_free(&q);
    dr_kv_free(&h);
    dr_aws_free(c);
}

Test(engine, s3_200_with_error_body_is_retried)
{
    add(&srv, "HTTP/1.1 200 OK\r\nContent-Type: application/xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>We "
        "encountered an internal error.</Message></Error>",
        -1);
    add(&srv, "HTTP/1.1 200 OK\r\nContent-Type: application/xml",
        "<CompleteMultipartUploadResult><ETag>\"x-2\"</ETag></CompleteMultipartUploadResult>", -1);
    dr_aws *c = new_client(3);
    dr_aws_rest_req req = {.service = "s3",
                           .operation = "CompleteMultipartUpload",
                           .method = "POST",
                           .bucket = "bkt",
                           .path = "k",
                           .body = "<CompleteMultipartUpload/>",
                           .body_len = 26};
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    dr_err err;
    cr_assert_eq(dr_aws_rest(c, &req, &resp, &err), 0, "%s", err.msg);
    cr_expect_eq(srv.nreq, 2);
    cr_expect(strstr(dr_buf_cstr(&resp.body), "CompleteMultipartUploadResult") != NULL);
    dr_aws_rest_resp_free(&resp);
    dr_aws_free(c);
}

/* ---- streamed GET and resume ---- */

static int buf_sink(void *ud, const char *data, size_t n)
{
    dr_buf_append(ud, data, n);
    return 0;
}

Test(engine, streamed_get_resumes_with_range_and_if_match)
{
    fill_payload();
    static char rest_head[256];
    add_n(&srv, "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Type: application/octet-stream",
          payload, sizeof(payload), 400);
    snprintf(rest_head, sizeof(rest_head),
             "HTTP/1.1 206 Partial Content\r\nETag: \"v1\"\r\nContent-Range: bytes 400-999/1000");
    add_n(&srv, rest_head, payload + 400, sizeof(payload) - 400, -1);
    dr_aws *c = new_client(3);
    dr_buf got = DR_BUF_INIT;
    dr_s3_object_info info;
    dr_err err;
    int rc = dr_s3_get(c, NULL, "bkt", "big file", buf_sink, &got, &info, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_expect_eq(got.len, sizeof(payload));
    cr_expect(memcmp(got.data, payload, sizeof(payload)) == 0, "bytes differ");
    cr_assert_eq(srv.nreq, 2);
    cr_expect_null(dr_kv_get(&srv.req[0].headers, "Range"));
    cr_expect_str_eq(dr_kv_get(&srv.req[1].headers, "Range"), "bytes=400-");
    cr_expect_str_eq(dr_kv_get(&srv.req[1].headers, "If-Match"), "\"v1\"");
    cr_expect_eq(info.size, 1000, "size from Content-Range total");
    cr_expect_str_eq(info.etag, "v1");
    cr_expect(strstr(logs(), "retrying s3 GetObject (attempt 2/3) after connection failure") !=
                  NULL,
              "log: %s", logs());
    dr_aws_stats st;
    dr_aws_get_stats(c, &st);
    cr_expect_eq(st.retries, 1);
    dr_s3_object_info_free(&info);
    dr_buf_free(&got);
    dr_aws_free(c);
}

Test(engine, streamed_get_object_changed_fails_clearly)
{
    fill_payload();
    add_n(&srv, "HTTP/1.1 200 OK\r\nETag: \"v1\"", payload, sizeof(payload), 300);
    add(&srv, "HTTP/1.1 412 Precondition Failed\r\nContent-Type: application/xml",
        "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you "
        "specified did not hold</Message></Error>",
        -1);
    dr_aws *c = new_client(3);
    dr_buf got = DR_BUF_INIT;
    dr_err err;
    cr_assert_eq(dr_s3_get(c, NULL, "bkt", "k", buf_sink, &got, NULL, &err), -1);
    cr_expect_eq(err.code, DR_E_VERIFY);
    cr_expect(strstr(err.msg, "changed while it was being downloaded") != NULL, "%s", err.msg);
    cr_expect(strstr(err.msg, "\"v1\"") != NULL, "%s", err.msg);
    cr_expect_eq(got.len, 300, "the sink saw only the first part");
    cr_expect_str_eq(err.aws.code, "PreconditionFailed");
    dr_buf_free(&got);
    dr_aws_free(c);
}

Test(engine, streamed_get_wrong_resume_offset_fails)
{
    fill_payload();
    add_n(&srv, "HTTP/1.1 200 OK\r\nETag: \"v1\"", payload, sizeof(payload), 300);
    add_n(&srv, "HTTP/1.1 206 Partial Content\r\nETag: \"v1\"\r\nContent-Range: bytes 0-999/1000",
          payload, sizeof(payload), -1);
    dr_aws *c = new_client(3);
    dr_buf got = DR_BUF_INIT;
    dr_err err;
    cr_assert_eq(dr_s3_get(c, NULL, "bkt", "k", buf_sink, &got, NULL, &err), -1);
    cr_expect(strstr(err.msg, "cannot resume") != NULL, "%s", err.msg);
    cr_expect_eq(got.len, 300, "no byte delivered twice");
    dr_buf_free(&got);
    dr_aws_free(c);
}

Test(engine, streamed_get_without_etag_is_not_resumed)
{
    fill_payload();
    add_n(&srv, "HTTP/1.1 200 OK", payload, sizeof(payload), 300);
    dr_aws *c = new_client(3);
    dr_buf got = DR_BUF_INIT;
    dr_err err;
    cr_assert_eq(dr_s3_get(c, NULL, "bkt", "k", buf_sink, &got, NULL, &err), -1);
    cr_expect_eq(srv.nreq, 1);
    cr_expect_eq(err.code, DR_E_NETWORK);
    cr_expect(strstr(err.hint, "no ETag") != NULL, "hint: %s", err.hint);
    dr_buf_free(&got);
    dr_aws_free(c);
}

Test(engine, head_404_is_not_found)
{
    add(&srv, "HTTP/1.1 404 Not Found\r\nx-amzn-requestid: r404", "", -1);
    dr_aws *c = new_client(3);
    dr_s3_object_info info;
    dr_err err;
    cr_assert_eq(dr_s3_head(c, NULL, "bkt", "missing", &info, &err), -1);
    cr_expect_eq(err.code, DR_E_NOT_FOUND);
    cr_expect(err.has_aws);
    cr_expect_str_eq(err.aws.code, "NotFound");
    cr_expect_eq(err.aws.http_status, 404);
    cr_expect_str_eq(err.aws.request_id, "r404");
    cr_expect_str_eq(srv.req[0].method, "HEAD");
    dr_s3_object_info_free(&info);
    dr_aws_free(c);
}

Test(engine, head_reads_metadata)
{
    add(&srv,
        "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nETag: \"abc\"\r\nContent-Type: text/plain\r\n"
        "Last-Modified: Fri, 27 Nov 2026 12:00:00 GMT\r\nx-amz-version-id: ver1\r\n"
        "x-amz-meta-sha256: deadbeef",
        NULL, -1);
    dr_aws *c = new_client(3);
    dr_s3_object_info info;
    dr_err err;
    cr_assert_eq(dr_s3_head(c, NULL, "bkt", "k", &info, &err), 0, "%s", err.msg);
    cr_expect_eq(info.size, 1234);
    cr_expect_str_eq(info.etag, "abc");
    cr_expect_str_eq(info.content_type, "text/plain");
    cr_expect_str_eq(info.version_id, "ver1");
    cr_expect_str_eq(info.last_modified, "Fri, 27 Nov 2026 12:00:00 GMT");
    cr_expect_str_eq(dr_kv_get(&info.metadata, "sha256"), "deadbeef");
    dr_s3_object_info_free(&info);
    dr_aws_free(c);
}

static int collect_keys(void *ud, const dr_s3_object_info *o)
{
    dr_kv_addf(ud, o->key, "%lld", (long long)o->size);
    return 0;
}

Test(engine, list_follows_tokens_and_decodes_keys)
{
    add(&srv, "HTTP/1.1 200 OK\r\nContent-Type: application/xml",
        "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
        "<NextContinuationToken>tok/1+=</NextContinuationToken>"
        "<Contents><Key>a+b%2Bc</Key><Size>3</Size><ETag>\"e1\"</ETag></Contents>"
        "<Contents><Key>caf%C3%A9/x</Key><Size>4</Size></Contents></ListBucketResult>",
        -1);
    add(&srv, "HTTP/1.1 200 OK\r\nContent-Type: application/xml",
        "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
        "<Contents><Key>z</Key><Size>5</Size></Contents></ListBucketResult>",
        -1);
    dr_aws *c = new_client(3);
    dr_kvlist keys = DR_KVLIST_INIT;
    dr_err err;
    cr_assert_eq(dr_s3_list(c, NULL, "bkt", "p q/", collect_keys, &keys, &err), 0, "%s", err.msg);
    cr_assert_eq(keys.n, 3);
    cr_expect_str_eq(keys.items[0].name, "a b+c");
    cr_expect_str_eq(keys.items[1].name, "caf\xC3\xA9/x");
    cr_expect_str_eq(keys.items[2].name, "z");
    cr_expect_str_eq(keys.items[2].value, "5");
    cr_expect_str_eq(srv.req[0].target, "/bkt?list-type=2&encoding-type=url&prefix=p%20q%2F");
    cr_expect_str_eq(srv.req[1].target, "/bkt?list-type=2&encoding-type=url&prefix=p%20q%2F&"
                                        "continuation-token=tok%2F1%2B%3D");
    dr_kv_free(&keys);
    dr_aws_free(c);
}

Test(engine, presign_url)
{
    setenv("AWS_SESSION_TOKEN", "tok+en/1", 1);
    dr_aws *c = new_client(3);
    dr_aws_rest_req req = {.service = "s3",
                           .operation = "GetObject",
                           .method = "GET",
                           .bucket = "bkt",
                           .path = "a b.txt"};
    char *url = NULL;
    dr_err err;
    cr_assert_eq(dr_aws_presign(c, &req, (time_t)1700000000, 300, &url, &err), 0, "%s", err.msg);
    char want[128];
    snprintf(want, sizeof(want), "http://127.0.0.1:%d/bkt/a%%20b.txt?", srv.port);
    cr_expect(strncmp(url, want, strlen(want)) == 0, "%s", url);
    cr_expect(strstr(url, "X-Amz-Algorithm=AWS4-HMAC-SHA256") != NULL, "%s", url);
    cr_expect(strstr(url, "X-Amz-Credential=AKIDTEST%2F20231114%2Fus-east-1%2Fs3%2Faws4_request") !=
                  NULL,
              "%s", url);
    cr_expect(strstr(url, "X-Amz-Date=20231114T221320Z") != NULL, "%s", url);
    cr_expect(strstr(url, "X-Amz-Expires=300") != NULL, "%s", url);
    cr_expect(strstr(url, "X-Amz-Security-Token=tok%2Ben%2F1") != NULL, "%s", url);
    cr_expect(strstr(url, "X-Amz-Signature=") != NULL, "%s", url);
    cr_expect_null(strstr(url, "very-secret-key"));
    cr_expect_eq(srv.nreq, 0, "presigning sends nothing");
    free(url);
    dr_aws_free(c);
}

Test(engine, invalid_max_attempts_is_config_error)
{
    setenv("AWS_MAX_ATTEMPTS", "zero", 1);
    dr_aws_opts o = {.log = &test_log};
    dr_aws *c = NULL;
    dr_err err;
    cr_expect_eq(dr_aws_new(&o, &c, &err), -1);
    cr_expect_null(c);
    cr_expect_eq(err.code, DR_E_CONFIG);
    cr_expect(strstr(err.msg, "AWS_MAX_ATTEMPTS") != NULL, "%s", err.msg);
}

Test(engine, unreadable_ca_bundle_is_config_error)
{
    setenv("AWS_CA_BUNDLE", "/nonexistent/ca.pem", 1);
    dr_aws_opts o = {.log = &test_log};
    dr_aws *c = NULL;
    dr_err err;
    cr_expect_eq(dr_aws_new(&o, &c, &err), -1);
    cr_expect_eq(err.code, DR_E_CONFIG);
    cr_expect(strstr(err.msg, "/nonexistent/ca.pem") != NULL, "%s", err.msg);
}

Test(engine, s3_wrong_region_hint)
{
    add(&srv,
        "HTTP/1.1 301 Moved Permanently\r\nContent-Type: application/xml\r\n"
        "x-amz-bucket-region: eu-west-1",
        "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access "
        "must be addressed using the specified endpoint.</Message></Error>",
        -1);
    dr_aws *c = new_client(3);
    dr_s3_object_info info;
    dr_err err;
    cr_assert_eq(dr_s3_head(c, "us-east-1", "bkt", "k", &info, &err), -1);
    cr_expect_eq(srv.nreq, 1, "a redirect is not retried");
    cr_expect_str_eq(err.aws.code, "HttpError301", "HEAD: no body, code from the status");
    cr_expect_eq(err.code, DR_E_AWS);
    cr_expect(strstr(err.hint, "eu-west-1") != NULL, "hint: %s", err.hint);
    dr_s3_object_info_free(&info);
    dr_aws_free(c);
}
