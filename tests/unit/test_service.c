/*
 * test_service.c - the service table, regions and endpoint resolution.
 *
 * The first tests re-read botocore's data files (service models and
 * endpoints.json) and check every row of drctl's static tables against
 * them, so the tables cannot drift from what the AWS CLI on the same machine
 * uses. They are skipped when botocore's data directory is absent (set
 * DRCTL_BOTOCORE_DATA to point elsewhere).
 */
#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/service.h"
#include "util/buf.h"
#include "util/mem.h"

extern char **environ;

#define BOTOCORE_DATA_DEFAULT                                                                      \
    "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/botocore/data"

static void unset_endpoint_env(void)
{
    char *names[512];
    size_t n = 0;
    for (char **e = environ; *e && n < 512; e++)
        if (strncmp(*e, "AWS_ENDPOINT_URL", 16) == 0 ||
            strncmp(*e, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", 35) == 0)
            names[n++] = dr_xstrndup(*e, strcspn(*e, "="));
    for (size_t i = 0; i < n; i++) {
        unsetenv(names[i]);
        free(names[i]);
    }
}

TestSuite(service, .init = unset_endpoint_env, .fini = unset_endpoint_env);

/* ---- botocore's files ---------------------------------------------------- */

static const char *botocore_data(void)
{
    const char *d = getenv("DRCTL_BOTOCORE_DATA");
    if (!d || !*d)
        d = BOTOCORE_DATA_DEFAULT;
    struct stat sb;
    return stat(d, &sb) == 0 && S_ISDIR(sb.st_mode) ? d : NULL;
}

/* Reads a JSON file, gzip-compressed or not (libarchive's raw format). */
static json_t *load_json(const char *path)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    cr_assert_eq(archive_read_open_filename(a, path, 65536), ARCHIVE_OK, "open %s: %s", path,
                 archive_error_string(a));
    struct archive_entry *ent;
    cr_assert_eq(archive_read_next_header(a, &ent), ARCHIVE_OK, "%s", path);
    dr_buf b = DR_BUF_INIT;
    char chunk[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0)
        dr_buf_append(&b, chunk, (size_t)n);
    cr_assert_geq(n, 0, "read %s: %s", path, archive_error_string(a));
    archive_read_free(a);
    json_error_t je;
    json_t *doc = json_loadb(b.data, b.len, 0, &je);
    cr_assert_not_null(doc, "%s: %s", path, je.text);
    dr_buf_free(&b);
    return doc;
}

/* The newest API version's service-2.json(.gz) of a botocore service. */
static char *model_path(const char *data, const char *name)
{
    char *dir = dr_xasprintf("%s/%s", data, name);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "no botocore model directory %s", dir);
    char *best = NULL, *best_path = NULL;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        const char *leaves[] = {"service-2.json", "service-2.json.gz"};
        for (int i = 0; i < 2; i++) {
            char *p = dr_xasprintf("%s/%s/%s", dir, de->d_name, leaves[i]);
            struct stat sb;
            if (stat(p, &sb) == 0 && (!best || strcmp(de->d_name, best) > 0)) {
                free(best);
                free(best_path);
                best = dr_xstrdup(de->d_name);
                best_path = p;
            } else {
                free(p);
            }
        }
    }
    closedir(d);
    free(dir);
    free(best);
    cr_assert_not_null(best_path, "no service-2.json for %s", name);
    return best_path;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void assert_str_or_null(const char *got, const char *want, const char *what)
{
    if (!want)
        cr_assert_null(got, "%s: expected NULL, got '%s'", what, got);
    else
        cr_assert(got && strcmp(got, want) == 0, "%s: expected '%s', got '%s'", what, want,
                  got ? got : "(null)");
}

static int proto_of(const char *name, dr_protocol *out)
{
    static const struct {
        const char *name;
        dr_protocol p;
    } map[] = {{"query", DR_PROTO_QUERY},
               {"ec2", DR_PROTO_EC2},
               {"json", DR_PROTO_JSON},
               {"rest-xml", DR_PROTO_REST_XML}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].name, name) == 0) {
            *out = map[i].p;
            return 1;
        }
    return 0;
}

static json_t *partition(json_t *endpoints, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(endpoints, "partitions"), i, p)
    {
        if (strcmp(jstr(p, "partition"), name) == 0)
            return p;
    }
    cr_assert_fail("partition %s not in endpoints.json", name);
    return NULL;
}

Test(service, table_matches_botocore_models)
{
    const char *data = botocore_data();
    if (!data)
        cr_skip_test("botocore data not found; set DRCTL_BOTOCORE_DATA");
    char *ep_path = dr_xasprintf("%s/endpoints.json", data);
    json_t *endpoints = load_json(ep_path);
    free(ep_path);
    json_t *aws = partition(endpoints, "aws");

    static const char *const expected_keys[] = {"sts",
                                                "ec2",
                                                "rds",
                                                "elasticache",
                                                "cloudformation",
                                                "iam",
                                                "elbv2",
                                                "cloudwatch",
                                                "sns",
                                                "ecs",
                                                "kms",
                                                "secretsmanager",
                                                "logs",
                                                "wafv2",
                                                "application-autoscaling",
                                                "s3",
                                                "route53",
                                                "cloudfront",
                                                "acm"};
    size_t rows = 0;
    for (const dr_service *s = dr_service_all(); s->key; s++)
        rows++;
    cr_assert_eq(rows, sizeof(expected_keys) / sizeof(expected_keys[0]));

    for (size_t k = 0; k < rows; k++) {
        const dr_service *s = dr_service_find(expected_keys[k]);
        cr_assert_not_null(s, "service %s missing from the table", expected_keys[k]);
        char *path = model_path(data, s->key);
        json_t *model = load_json(path);
        json_t *md = json_object_get(model, "metadata");
        char what[256];
#define CHECK(field, want)                                                                         \
    do {                                                                                           \
        snprintf(what, sizeof(what), "%s: %s (%s)", s->key, #field, path);                         \
        assert_str_or_null(s->field, (want), what);                                                \
    } while (0)

        CHECK(api_version, jstr(md, "apiVersion"));
        CHECK(service_id, jstr(md, "serviceId"));
        CHECK(endpoint_prefix, jstr(md, "endpointPrefix"));
        const char *signing = jstr(md, "signingName");
        CHECK(signing_name, signing ? signing : jstr(md, "endpointPrefix"));

        /* env_suffix / config_key: serviceId, spaces to '_', upper / lower. */
        char suffix[128], config[128];
        const char *sid = jstr(md, "serviceId");
        size_t i = 0;
        for (; sid[i] && i < sizeof(suffix) - 1; i++) {
            char c = sid[i] == ' ' ? '_' : sid[i];
            suffix[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
            config[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        suffix[i] = config[i] = '\0';
        CHECK(env_suffix, suffix);
        CHECK(config_key, config);

        /* Protocol: the first of metadata.protocols drctl speaks. */
        json_t *protos = json_object_get(md, "protocols");
        dr_protocol want_proto = DR_PROTO_QUERY;
        const char *want_name = NULL;
        if (json_is_array(protos)) {
            size_t j;
            json_t *v;
            json_array_foreach(protos, j, v)
            {
                if (proto_of(json_string_value(v), &want_proto)) {
                    want_name = json_string_value(v);
                    break;
                }
            }
        } else if (proto_of(jstr(md, "protocol"), &want_proto)) {
            want_name = jstr(md, "protocol");
        }
        cr_assert_not_null(want_name, "%s: no protocol drctl speaks", s->key);
        cr_assert_eq(s->protocol, want_proto, "%s: protocol should be %s", s->key, want_name);
        int json = want_proto == DR_PROTO_JSON;
        CHECK(json_version, json ? jstr(md, "jsonVersion") : NULL);
        CHECK(target_prefix, json ? jstr(md, "targetPrefix") : NULL);
#undef CHECK

        /* Global: endpoints.json marks it not regionalized. */
        json_t *ep = json_object_get(json_object_get(aws, "services"), s->endpoint_prefix);
        cr_assert_not_null(ep, "%s: %s not in endpoints.json", s->key, s->endpoint_prefix);
        json_t *reg = json_object_get(ep, "isRegionalized");
        int global = json_is_false(reg);
        cr_assert_eq(s->global, global, "%s: global should be %d", s->key, global);
        if (global)
            cr_assert_not_null(jstr(md, "globalEndpoint"), "%s: global without globalEndpoint",
                               s->key);

        json_decref(model);
        free(path);
    }
    json_decref(endpoints);
}

static int region_in_list(const char *r)
{
    for (const char *const *p = dr_regions_all(); *p; p++)
        if (strcmp(*p, r) == 0)
            return 1;
    return 0;
}

Test(service, regions_match_endpoints_json)
{
    const char *data = botocore_data();
    if (!data)
        cr_skip_test("botocore data not found; set DRCTL_BOTOCORE_DATA");
    char *ep_path = dr_xasprintf("%s/endpoints.json", data);
    json_t *endpoints = load_json(ep_path);
    free(ep_path);
    const char *parts[] = {"aws", "aws-cn", "aws-us-gov"};
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        json_t *regions = json_object_get(partition(endpoints, parts[i]), "regions");
        const char *r;
        json_t *v;
        json_object_foreach(regions, r, v)
        {
            (void)v;
            cr_assert(dr_region_known(r), "region %s (%s) missing", r, parts[i]);
            cr_assert(region_in_list(r));
            cr_assert_str_eq(dr_region_partition(r), parts[i]);
            total++;
        }
    }
    size_t ours = 0;
    for (const char *const *p = dr_regions_all(); *p; p++)
        ours++;
    cr_assert_eq(ours, total, "drctl lists %zu regions, endpoints.json %zu", ours, total);
    json_decref(endpoints);
}

/* Expands "{service}.{region}.{dnsSuffix}". */
static char *expand_template(const char *t, const char *svc, const char *region, const char *dns)
{
    dr_buf b = DR_BUF_INIT;
    while (*t) {
        if (strncmp(t, "{service}", 9) == 0) {
            dr_buf_puts(&b, svc);
            t += 9;
        } else if (strncmp(t, "{region}", 8) == 0) {
            dr_buf_puts(&b, region);
            t += 8;
        } else if (strncmp(t, "{dnsSuffix}", 11) == 0) {
            dr_buf_puts(&b, dns);
            t += 11;
        } else {
            dr_buf_putc(&b, *t++);
        }
    }
    return dr_buf_detach(&b);
}

Test(service, default_endpoints_match_endpoints_json)
{
    const char *data = botocore_data();
    if (!data)
        cr_skip_test("botocore data not found; set DRCTL_BOTOCORE_DATA");
    char *ep_path = dr_xasprintf("%s/endpoints.json", data);
    json_t *endpoints = load_json(ep_path);
    free(ep_path);
    const char *parts[] = {"aws", "aws-cn", "aws-us-gov"};
    int checked = 0;
    for (int pi = 0; pi < 3; pi++) {
        json_t *p = partition(endpoints, parts[pi]);
        const char *dns = jstr(p, "dnsSuffix");
        const char *ptemplate = jstr(json_object_get(p, "defaults"), "hostname");
        const char *region;
        json_t *unused;
        json_object_foreach(json_object_get(p, "regions"), region, unused)
        {
            (void)unused;
            for (const dr_service *s = dr_service_all(); s->key; s++) {
                json_t *svc = json_object_get(json_object_get(p, "services"), s->endpoint_prefix);
                dr_endpoint out;
                dr_err e;
                dr_err_clear(&e);
                int rc = dr_endpoint_resolve(s, region, NULL, &out, &e);
                if (s->global) {
                    if (!svc) {
                        /* Not offered in this partition (CloudFront in GovCloud). */
                        cr_assert_eq(rc, -1, "%s in %s should fail", s->key, region);
                        cr_assert_eq(e.code, DR_E_CONFIG);
                        continue;
                    }
                    json_t *pe = json_object_get(json_object_get(svc, "endpoints"),
                                                 jstr(svc, "partitionEndpoint"));
                    const char *host = jstr(pe, "hostname");
                    const char *scope = jstr(json_object_get(pe, "credentialScope"), "region");
                    cr_assert_eq(rc, 0, "%s %s: %s", s->key, region, e.msg);
                    cr_assert_str_eq(out.host, host, "%s %s", s->key, region);
                    cr_assert_str_eq(out.signing_region, scope, "%s %s", s->key, region);
                } else {
                    cr_assert_eq(rc, 0, "%s %s: %s", s->key, region, e.msg);
                    json_t *re =
                        svc ? json_object_get(json_object_get(svc, "endpoints"), region) : NULL;
                    const char *host = re ? jstr(re, "hostname") : NULL;
                    const char *t = svc ? jstr(json_object_get(svc, "defaults"), "hostname") : NULL;
                    char *want =
                        host ? dr_xstrdup(host)
                             : expand_template(t ? t : ptemplate, s->endpoint_prefix, region, dns);
                    const char *scope =
                        re ? jstr(json_object_get(re, "credentialScope"), "region") : NULL;
                    cr_assert_str_eq(out.host, want, "%s %s", s->key, region);
                    cr_assert_str_eq(out.signing_region, scope ? scope : region);
                    free(want);
                }
                char url[600];
                snprintf(url, sizeof(url), "https://%s", out.host);
                cr_assert_str_eq(out.url, url);
                cr_assert_eq(out.custom, 0);
                cr_assert_str_eq(out.source, "default");
                checked++;
            }
        }
    }
    cr_assert_gt(checked, 500);
    json_decref(endpoints);
}

/* ---- lookups ------------------------------------------------------------- */

Test(service, find)
{
    const dr_service *s = dr_service_find("elbv2");
    cr_assert_not_null(s);
    cr_assert_str_eq(s->service_id, "Elastic Load Balancing v2");
    cr_assert_str_eq(s->env_suffix, "ELASTIC_LOAD_BALANCING_V2");
    cr_assert_str_eq(s->config_key, "elastic_load_balancing_v2");
    cr_assert_str_eq(s->endpoint_prefix, "elasticloadbalancing");
    cr_assert_eq(s->protocol, DR_PROTO_QUERY);
    s = dr_service_find("kms");
    cr_assert_str_eq(s->target_prefix, "TrentService");
    cr_assert_str_eq(s->json_version, "1.1");
    cr_assert_null(dr_service_find("lambda"));
    cr_assert_null(dr_service_find(NULL));
}

Test(service, regions)
{
    cr_assert(dr_region_known("us-east-1"));
    cr_assert(dr_region_known("eu-central-2"));
    cr_assert(dr_region_known("cn-northwest-1"));
    cr_assert(dr_region_known("us-gov-west-1"));
    cr_assert_not(dr_region_known("us-est-1"));
    cr_assert_not(dr_region_known(""));
    cr_assert_not(dr_region_known(NULL));
    cr_assert_str_eq(dr_region_partition("cn-north-1"), "aws-cn");
    cr_assert_null(dr_region_partition("mars-1"));
}

/* ---- resolution ---------------------------------------------------------- */

static dr_endpoint resolve_ok(const char *key, const char *region, const char *url)
{
    dr_endpoint out;
    dr_err e;
    dr_err_clear(&e);
    int rc = dr_endpoint_resolve(dr_service_find(key), region, url, &out, &e);
    cr_assert_eq(rc, 0, "%s %s: %s", key, region ? region : "(none)", e.msg);
    return out;
}

static dr_err resolve_fail(const char *key, const char *region, const char *url)
{
    dr_endpoint out;
    dr_err e;
    dr_err_clear(&e);
    int rc = dr_endpoint_resolve(dr_service_find(key), region, url, &out, &e);
    cr_assert_eq(rc, -1, "%s %s resolved to %s", key, region ? region : "(none)", out.url);
    return e;
}

Test(service, default_regional)
{
    dr_endpoint ep = resolve_ok("ec2", "eu-west-1", NULL);
    cr_assert_str_eq(ep.url, "https://ec2.eu-west-1.amazonaws.com");
    cr_assert_str_eq(ep.host, "ec2.eu-west-1.amazonaws.com");
    cr_assert_str_eq(ep.signing_region, "eu-west-1");
    cr_assert_eq(ep.custom, 0);
    cr_assert_str_eq(ep.source, "default");
    ep = resolve_ok("elbv2", "us-west-2", NULL);
    cr_assert_str_eq(ep.url, "https://elasticloadbalancing.us-west-2.amazonaws.com");
    ep = resolve_ok("cloudwatch", "us-west-2", NULL);
    cr_assert_str_eq(ep.url, "https://monitoring.us-west-2.amazonaws.com");
    /* STS and S3 are regional, us-east-1 included. */
    ep = resolve_ok("sts", "us-west-2", NULL);
    cr_assert_str_eq(ep.url, "https://sts.us-west-2.amazonaws.com");
    cr_assert_str_eq(ep.signing_region, "us-west-2");
    ep = resolve_ok("s3", "us-east-1", NULL);
    cr_assert_str_eq(ep.url, "https://s3.us-east-1.amazonaws.com");
}

Test(service, global_services)
{
    dr_endpoint ep = resolve_ok("iam", "us-west-2", NULL);
    cr_assert_str_eq(ep.url, "https://iam.amazonaws.com");
    cr_assert_str_eq(ep.host, "iam.amazonaws.com");
    cr_assert_str_eq(ep.signing_region, "us-east-1");
    ep = resolve_ok("route53", "eu-west-1", NULL);
    cr_assert_str_eq(ep.url, "https://route53.amazonaws.com");
    cr_assert_str_eq(ep.signing_region, "us-east-1");
    ep = resolve_ok("cloudfront", "ap-southeast-2", NULL);
    cr_assert_str_eq(ep.url, "https://cloudfront.amazonaws.com");
    cr_assert_str_eq(ep.signing_region, "us-east-1");
    /* A global service needs no region. */
    ep = resolve_ok("iam", NULL, NULL);
    cr_assert_str_eq(ep.url, "https://iam.amazonaws.com");
}

Test(service, china_and_govcloud)
{
    dr_endpoint ep = resolve_ok("ec2", "cn-north-1", NULL);
    cr_assert_str_eq(ep.url, "https://ec2.cn-north-1.amazonaws.com.cn");
    cr_assert_str_eq(ep.signing_region, "cn-north-1");
    ep = resolve_ok("iam", "cn-northwest-1", NULL);
    cr_assert_str_eq(ep.url, "https://iam.cn-north-1.amazonaws.com.cn");
    cr_assert_str_eq(ep.signing_region, "cn-north-1");
    ep = resolve_ok("route53", "cn-north-1", NULL);
    cr_assert_str_eq(ep.url, "https://route53.amazonaws.com.cn");
    cr_assert_str_eq(ep.signing_region, "cn-northwest-1");
    ep = resolve_ok("iam", "us-gov-east-1", NULL);
    cr_assert_str_eq(ep.url, "https://iam.us-gov.amazonaws.com");
    cr_assert_str_eq(ep.signing_region, "us-gov-west-1");
    ep = resolve_ok("rds", "us-gov-west-1", NULL);
    cr_assert_str_eq(ep.url, "https://rds.us-gov-west-1.amazonaws.com");
    dr_err e = resolve_fail("cloudfront", "us-gov-west-1", NULL);
    cr_assert_eq(e.code, DR_E_CONFIG);
    cr_assert_str_eq(e.msg, "CloudFront is not available in the aws-us-gov partition (region "
                            "us-gov-west-1)");
}

Test(service, no_region)
{
    dr_err e = resolve_fail("ec2", NULL, NULL);
    cr_assert_eq(e.code, DR_E_CONFIG);
    cr_assert_str_eq(e.msg, "no region set for EC2");
    e = resolve_fail("s3", "", "http://127.0.0.1:5000");
    cr_assert_str_eq(e.msg, "no region set for S3");
}

Test(service, unknown_region_with_suggestion)
{
    dr_err e = resolve_fail("ec2", "us-est-1", NULL);
    cr_assert_eq(e.code, DR_E_CONFIG);
    cr_assert_str_eq(e.msg, "unknown region 'us-est-1'");
    cr_assert_not_null(strstr(e.hint, "did you mean 'us-east-1'?"), "%s", e.hint);
    e = resolve_fail("s3", "eu-wset-2", NULL);
    cr_assert_not_null(strstr(e.hint, "did you mean 'eu-west-2'?"), "%s", e.hint);
    e = resolve_fail("iam", "mars-central-9", NULL);
    cr_assert_str_eq(e.msg, "unknown region 'mars-central-9'");
    cr_assert_null(strstr(e.hint, "did you mean"), "%s", e.hint);
    cr_assert_not_null(strstr(e.hint, "see drctl --help"), "%s", e.hint);
}

Test(service, custom_endpoint_precedence)
{
    /* default */
    dr_endpoint ep = resolve_ok("s3", "us-east-1", NULL);
    cr_assert_str_eq(ep.source, "default");
    /* AWS_ENDPOINT_URL */
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000", 1);
    ep = resolve_ok("s3", "us-east-1", NULL);
    cr_assert_str_eq(ep.url, "http://127.0.0.1:5000");
    cr_assert_str_eq(ep.host, "127.0.0.1:5000");
    cr_assert_str_eq(ep.source, "AWS_ENDPOINT_URL");
    cr_assert_eq(ep.custom, 1);
    cr_assert_str_eq(ep.signing_region, "us-east-1");
    /* AWS_ENDPOINT_URL_<SERVICE> beats it, for that service only */
    setenv("AWS_ENDPOINT_URL_S3", "http://localhost:9000/", 1);
    ep = resolve_ok("s3", "us-east-1", NULL);
    cr_assert_str_eq(ep.url, "http://localhost:9000");
    cr_assert_str_eq(ep.host, "localhost:9000");
    cr_assert_str_eq(ep.source, "AWS_ENDPOINT_URL_S3");
    ep = resolve_ok("ec2", "us-east-1", NULL);
    cr_assert_str_eq(ep.source, "AWS_ENDPOINT_URL");
    /* --endpoint-url beats both */
    ep = resolve_ok("s3", "us-east-1", "https://s3.example.test:8443/base/");
    cr_assert_str_eq(ep.url, "https://s3.example.test:8443/base");
    cr_assert_str_eq(ep.host, "s3.example.test:8443");
    cr_assert_str_eq(ep.source, "--endpoint-url");
    /* an empty variable counts as unset */
    setenv("AWS_ENDPOINT_URL_S3", "", 1);
    ep = resolve_ok("s3", "us-east-1", NULL);
    cr_assert_str_eq(ep.source, "AWS_ENDPOINT_URL");
    /* AWS_IGNORE_CONFIGURED_ENDPOINT_URLS switches the variables off */
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
    ep = resolve_ok("s3", "us-east-1", NULL);
    cr_assert_str_eq(ep.source, "default");
    ep = resolve_ok("s3", "us-east-1", "http://127.0.0.1:1");
    cr_assert_str_eq(ep.source, "--endpoint-url");
}

Test(service, service_specific_variable_names)
{
    setenv("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "http://127.0.0.1:7001", 1);
    setenv("AWS_ENDPOINT_URL_ROUTE_53", "http://127.0.0.1:7002", 1);
    setenv("AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING", "http://127.0.0.1:7003", 1);
    setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "http://127.0.0.1:7004", 1);
    cr_assert_str_eq(resolve_ok("elbv2", "us-east-1", NULL).url, "http://127.0.0.1:7001");
    cr_assert_str_eq(resolve_ok("route53", "us-east-1", NULL).url, "http://127.0.0.1:7002");
    cr_assert_str_eq(resolve_ok("application-autoscaling", "us-east-1", NULL).url,
                     "http://127.0.0.1:7003");
    cr_assert_str_eq(resolve_ok("logs", "us-east-1", NULL).url, "http://127.0.0.1:7004");
    /* CloudWatch's own variable is not CloudWatch Logs'. */
    cr_assert_str_eq(resolve_ok("cloudwatch", "us-east-1", NULL).source, "default");
}

Test(service, custom_endpoint_accepts_any_region_name)
{
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000", 1);
    dr_endpoint ep = resolve_ok("ec2", "us-est-1", NULL);
    cr_assert_str_eq(ep.signing_region, "us-est-1");
    ep = resolve_ok("ec2", "local", NULL);
    cr_assert_str_eq(ep.signing_region, "local");
    /* Global services keep their partition's signing region. */
    ep = resolve_ok("iam", "eu-west-1", NULL);
    cr_assert_str_eq(ep.signing_region, "us-east-1");
    cr_assert_str_eq(ep.url, "http://127.0.0.1:5000");
    ep = resolve_ok("route53", "cn-north-1", NULL);
    cr_assert_str_eq(ep.signing_region, "cn-northwest-1");
    /* ...but not syntactic nonsense. */
    dr_err e = resolve_fail("ec2", "US_EAST_1", NULL);
    cr_assert_eq(e.code, DR_E_CONFIG);
    cr_assert_str_eq(e.msg, "'US_EAST_1' is not a valid region name");
}

Test(service, url_forms)
{
    dr_endpoint ep = resolve_ok("s3", "us-east-1", "HTTP://127.0.0.1:5000");
    cr_assert_str_eq(ep.url, "http://127.0.0.1:5000");
    ep = resolve_ok("s3", "us-east-1", "http://[::1]:5000/");
    cr_assert_str_eq(ep.url, "http://[::1]:5000");
    cr_assert_str_eq(ep.host, "[::1]:5000");
    ep = resolve_ok("s3", "us-east-1", "https://minio_1");
    cr_assert_str_eq(ep.host, "minio_1");
    ep = resolve_ok("s3", "us-east-1", "http://h:1/a/b//");
    cr_assert_str_eq(ep.url, "http://h:1/a/b");
}

static void check_bad(const char *var, const char *url, const char *want_msg)
{
    dr_err e;
    if (var) {
        setenv(var, url, 1);
        e = resolve_fail("s3", "us-east-1", NULL);
        unsetenv(var);
    } else {
        e = resolve_fail("s3", "us-east-1", url);
    }
    cr_assert_eq(e.code, DR_E_CONFIG);
    cr_assert_str_eq(e.msg, want_msg);
    cr_assert_neq(e.hint[0], '\0');
}

Test(service, bad_urls)
{
    check_bad("AWS_ENDPOINT_URL_S3", "ftp://127.0.0.1",
              "AWS_ENDPOINT_URL_S3 is not a valid endpoint URL ('ftp://127.0.0.1'): the scheme "
              "must be http or https");
    check_bad("AWS_ENDPOINT_URL", "localhost:5000",
              "AWS_ENDPOINT_URL is not a valid endpoint URL ('localhost:5000'): no scheme "
              "(expected http:// or https://)");
    check_bad(NULL, "http://", "--endpoint-url is not a valid endpoint URL ('http://'): no host");
    check_bad(NULL, "http://:5000",
              "--endpoint-url is not a valid endpoint URL ('http://:5000'): no host");
    check_bad(NULL, "http://h:99999",
              "--endpoint-url is not a valid endpoint URL ('http://h:99999'): the port must be "
              "1-65535");
    check_bad(NULL, "http://h:x",
              "--endpoint-url is not a valid endpoint URL ('http://h:x'): "
              "invalid port");
    check_bad(NULL, "http://h/?a=b",
              "--endpoint-url is not a valid endpoint URL "
              "('http://h/?a=b'): a query or fragment is not allowed");
    check_bad(NULL, "http://a b",
              "--endpoint-url is not a valid endpoint URL ('http://a b'): it "
              "contains a space or control character");
    check_bad(NULL, "", "--endpoint-url is not a valid endpoint URL (''): it is empty");
    /* user information is refused and never echoed */
    check_bad("AWS_ENDPOINT_URL", "http://admin:hunter2@127.0.0.1:5000",
              "AWS_ENDPOINT_URL is not a valid endpoint URL: user information (user@) is not "
              "allowed");
}

/* ---- endpoints from the shared config file ------------------------------ */

static char *write_config(const char *text)
{
    char *path = dr_xstrdup("/tmp/drctl-svc-config-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    setenv("AWS_CONFIG_FILE", path, 1);
    unsetenv("AWS_PROFILE");
    return path;
}

static dr_endpoint resolve_profile_ok(const char *key, const char *profile)
{
    dr_endpoint out;
    dr_err e;
    dr_err_clear(&e);
    int rc =
        dr_endpoint_resolve_profile(dr_service_find(key), "us-east-1", NULL, profile, &out, &e);
    cr_assert_eq(rc, 0, "%s: %s", key, e.msg);
    return out;
}

Test(service, config_file_endpoints)
{
    char *path = write_config("[profile local]\n"
                              "services = moto\n"
                              "endpoint_url = http://127.0.0.1:6000\n"
                              "[profile ign]\n"
                              "services = moto\n"
                              "ignore_configured_endpoint_urls = true\n"
                              "[services moto]\n"
                              "s3 =\n"
                              "  endpoint_url = http://127.0.0.1:5000/\n"
                              "elastic_load_balancing_v2 =\n"
                              "  endpoint_url = http://127.0.0.1:5001\n");
    dr_endpoint ep = resolve_profile_ok("s3", "local");
    cr_assert_str_eq(ep.url, "http://127.0.0.1:5000");
    cr_assert_str_eq(ep.source, "config: services moto");
    cr_assert_eq(ep.custom, 1);
    ep = resolve_profile_ok("elbv2", "local");
    cr_assert_str_eq(ep.url, "http://127.0.0.1:5001");
    ep = resolve_profile_ok("ec2", "local");
    cr_assert_str_eq(ep.url, "http://127.0.0.1:6000");
    cr_assert_str_eq(ep.source, "config: endpoint_url");

    /* AWS_ENDPOINT_URL sits between the services block and endpoint_url. */
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:7000", 1);
    cr_assert_str_eq(resolve_profile_ok("s3", "local").source, "config: services moto");
    cr_assert_str_eq(resolve_profile_ok("ec2", "local").source, "AWS_ENDPOINT_URL");
    /* AWS_ENDPOINT_URL_<SERVICE> beats the services block. */
    setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:7001", 1);
    cr_assert_str_eq(resolve_profile_ok("s3", "local").source, "AWS_ENDPOINT_URL_S3");
    unsetenv("AWS_ENDPOINT_URL_S3");
    unsetenv("AWS_ENDPOINT_URL");
    /* --endpoint-url beats everything. */
    dr_endpoint out;
    dr_err e;
    cr_assert_eq(dr_endpoint_resolve_profile(dr_service_find("s3"), "us-east-1",
                                             "http://127.0.0.1:8000", "local", &out, &e),
                 0);
    cr_assert_str_eq(out.source, "--endpoint-url");
    /* The profile comes from AWS_PROFILE when not given. */
    setenv("AWS_PROFILE", "local", 1);
    cr_assert_str_eq(resolve_profile_ok("s3", NULL).url, "http://127.0.0.1:5000");
    unsetenv("AWS_PROFILE");
    /* No profile settings: the standard endpoint. */
    cr_assert_str_eq(resolve_profile_ok("s3", NULL).source, "default");
    /* Both ways of ignoring the configured endpoints. */
    cr_assert_str_eq(resolve_profile_ok("s3", "ign").source, "default");
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
    cr_assert_str_eq(resolve_profile_ok("s3", "local").source, "default");
    unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    unlink(path);
    free(path);
}

Test(service, config_file_endpoint_errors)
{
    char *path = write_config("[default]\n"
                              "services = bad\n"
                              "[services bad]\n"
                              "s3 =\n"
                              "  endpoint_url = ftp://127.0.0.1\n");
    dr_endpoint out;
    dr_err e;
    dr_err_clear(&e);
    cr_assert_eq(
        dr_endpoint_resolve_profile(dr_service_find("s3"), "us-east-1", NULL, NULL, &out, &e), -1);
    cr_assert_eq(e.code, DR_E_CONFIG);
    char *want = dr_xasprintf("endpoint_url for s3 in [services bad] of %s is not a valid "
                              "endpoint URL ('ftp://127.0.0.1'): the scheme must be http or https",
                              path);
    cr_assert_str_eq(e.msg, want);
    free(want);
    unlink(path);
    free(path);

    path = write_config("[default]\nservices\n");
    cr_assert_eq(
        dr_endpoint_resolve_profile(dr_service_find("s3"), "us-east-1", NULL, NULL, &out, &e), -1);
    want = dr_xasprintf("%s:2: malformed line (expected 'key = value' or '[section]')", path);
    cr_assert_str_eq(e.msg, want);
    free(want);
    unlink(path);
    free(path);
}
