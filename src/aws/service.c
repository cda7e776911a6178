/*
 * service.c - the service table, the region list and endpoint resolution.
 *
 * Every value in the tables below is copied from botocore's data files
 * (service-2.json metadata, endpoints.json); tests/unit/test_service.c
 * re-reads those files and fails if a row drifts. Rules used to derive them:
 *   - protocol: the first entry of metadata.protocols (else metadata.protocol)
 *     that drctl speaks. This matters for CloudWatch, whose list starts with
 *     smithy-rpc-v2-cbor: drctl uses its next choice, JSON 1.0;
 *   - signing_name: metadata.signingName, else endpointPrefix (botocore);
 *   - env_suffix: serviceId upper-cased, spaces to '_' (the SDKs' rule for
 *     AWS_ENDPOINT_URL_<SERVICE>); config_key: the same, lower-cased;
 *   - global: endpoints.json marks the service isRegionalized=false (IAM,
 *     Route 53, CloudFront). STS and S3 also have a global endpoint in the
 *     models but the SDKs now default to the regional ones, so do we.
 */
#include "aws/service.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/creds.h"

static const dr_service services[] = {
    {"sts", "STS", "STS", "sts", "sts", "sts", DR_PROTO_QUERY, "2011-06-15", NULL, NULL, 0},
    {"ec2", "EC2", "EC2", "ec2", "ec2", "ec2", DR_PROTO_EC2, "2016-11-15", NULL, NULL, 0},
    {"rds", "RDS", "RDS", "rds", "rds", "rds", DR_PROTO_QUERY, "2014-10-31", NULL, NULL, 0},
    {"elasticache", "ElastiCache", "ELASTICACHE", "elasticache", "elasticache", "elasticache",
     DR_PROTO_QUERY, "2015-02-02", NULL, NULL, 0},
    {"cloudformation", "CloudFormation", "CLOUDFORMATION", "cloudformation", "cloudformation",
     "cloudformation", DR_PROTO_QUERY, "2010-05-15", NULL, NULL, 0},
    {"iam", "IAM", "IAM", "iam", "iam", "iam", DR_PROTO_QUERY, "2010-05-08", NULL, NULL, 1},
    {"elbv2", "Elastic Load Balancing v2", "ELASTIC_LOAD_BALANCING_V2", "elastic_load_balancing_v2",
     "elasticloadbalancing", "elasticloadbalancing", DR_PROTO_QUERY, "2015-12-01", NULL, NULL, 0},
    {"cloudwatch", "CloudWatch", "CLOUDWATCH", "cloudwatch", "monitoring", "monitoring",
     DR_PROTO_JSON, "2010-08-01", "1.0", "GraniteServiceVersion20100801", 0},
    {"sns", "SNS", "SNS", "sns", "sns", "sns", DR_PROTO_QUERY, "2010-03-31", NULL, NULL, 0},
    {"ecs", "ECS", "ECS", "ecs", "ecs", "ecs", DR_PROTO_JSON, "2014-11-13", "1.1",
     "AmazonEC2ContainerServiceV20141113", 0},
    {"kms", "KMS", "KMS", "kms", "kms", "kms", DR_PROTO_JSON, "2014-11-01", "1.1", "TrentService",
     0},
    {"secretsmanager", "Secrets Manager", "SECRETS_MANAGER", "secrets_manager", "secretsmanager",
     "secretsmanager", DR_PROTO_JSON, "2017-10-17", "1.1", "secretsmanager", 0},
    {"logs", "CloudWatch Logs", "CLOUDWATCH_LOGS", "cloudwatch_logs", "logs", "logs", DR_PROTO_JSON,
     "2014-03-28", "1.1", "Logs_20140328", 0},
    {"wafv2", "WAFV2", "WAFV2", "wafv2", "wafv2", "wafv2", DR_PROTO_JSON, "2019-07-29", "1.1",
     "AWSWAF_20190729", 0},
    {"application-autoscaling", "Application Auto Scaling", "APPLICATION_AUTO_SCALING",
     "application_auto_scaling", "application-autoscaling", "application-autoscaling",
     DR_PROTO_JSON, "2016-02-06", "1.1", "AnyScaleFrontendService", 0},
    {"s3", "S3", "S3", "s3", "s3", "s3", DR_PROTO_REST_XML, "2006-03-01", NULL, NULL, 0},
    {"route53", "Route 53", "ROUTE_53", "route_53", "route53", "route53", DR_PROTO_REST_XML,
     "2013-04-01", NULL, NULL, 1},
    {"cloudfront", "CloudFront", "CLOUDFRONT", "cloudfront", "cloudfront", "cloudfront",
     DR_PROTO_REST_XML, "2020-05-31", NULL, NULL, 1},
    {"acm", "ACM", "ACM", "acm", "acm", "acm", DR_PROTO_JSON, "2015-12-08", "1.1",
     "CertificateManager", 0},
    {NULL, NULL, NULL, NULL, NULL, NULL, DR_PROTO_QUERY, NULL, NULL, NULL, 0},
};

const dr_service *dr_service_find(const char *key)
{
    if (!key)
        return NULL;
    for (const dr_service *s = services; s->key; s++)
        if (strcmp(s->key, key) == 0)
            return s;
    return NULL;
}

const dr_service *dr_service_all(void)
{
    return services;
}

/* ---- partitions and regions --------------------------------------------- */

enum { P_AWS, P_CN, P_GOV };

static const struct {
    const char *name;
    const char *dns_suffix;
} partitions[] = {
    [P_AWS] = {"aws", "amazonaws.com"},
    [P_CN] = {"aws-cn", "amazonaws.com.cn"},
    [P_GOV] = {"aws-us-gov", "amazonaws.com"},
};

/* endpoints.json, partitions aws, aws-cn and aws-us-gov (botocore 1.43.11). */
static const char *const region_names[] = {
    "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-central-1",
    "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2",
    "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1",
    "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    /* aws-cn */
    "cn-north-1", "cn-northwest-1",
    /* aws-us-gov */
    "us-gov-east-1", "us-gov-west-1", NULL};

enum { N_REGIONS = sizeof(region_names) / sizeof(region_names[0]) - 1 };

static int region_index(const char *region)
{
    if (!region)
        return -1;
    for (int i = 0; i < (int)N_REGIONS; i++)
        if (strcmp(region_names[i], region) == 0)
            return i;
    return -1;
}

/* The partitions' regionRegex in endpoints.json: ^cn-..., ^us-gov-...,
 * everything else in our list is aws. */
static int partition_of(int idx)
{
    const char *r = region_names[idx];
    if (strncmp(r, "cn-", 3) == 0)
        return P_CN;
    if (strncmp(r, "us-gov-", 7) == 0)
        return P_GOV;
    return P_AWS;
}

int dr_region_known(const char *region)
{
    return region_index(region) >= 0;
}

const char *const *dr_regions_all(void)
{
    return region_names;
}

const char *dr_region_partition(const char *region)
{
    int i = region_index(region);
    return i < 0 ? NULL : partitions[partition_of(i)].name;
}

/* The partition endpoints of the global services (endpoints.json,
 * partitionEndpoint of each partition). CloudFront has none in GovCloud. */
static const struct {
    const char *key;
    int partition;
    const char *host;
    const char *signing_region;
} global_endpoints[] = {
    {"iam", P_AWS, "iam.amazonaws.com", "us-east-1"},
    {"iam", P_CN, "iam.cn-north-1.amazonaws.com.cn", "cn-north-1"},
    {"iam", P_GOV, "iam.us-gov.amazonaws.com", "us-gov-west-1"},
    {"route53", P_AWS, "route53.amazonaws.com", "us-east-1"},
    {"route53", P_CN, "route53.amazonaws.com.cn", "cn-northwest-1"},
    {"route53", P_GOV, "route53.us-gov.amazonaws.com", "us-gov-west-1"},
    {"cloudfront", P_AWS, "cloudfront.amazonaws.com", "us-east-1"},
    {"cloudfront", P_CN, "cloudfront.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1"},
};

static int find_global(const char *key, int partition)
{
    for (size_t i = 0; i < sizeof(global_endpoints) / sizeof(global_endpoints[0]); i++)
        if (global_endpoints[i].partition == partition && strcmp(global_endpoints[i].key, key) == 0)
            return (int)i;
    return -1;
}

/* ---- region names ------------------------------------------------------- */

/* Lower-case letters, digits and single inner hyphens, as AWS region names
 * and the names local emulators accept ("us-east-1", "local"). */
static int region_syntax_ok(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n >= sizeof(((dr_endpoint *)0)->signing_region))
        return 0;
    if (r[0] == '-' || r[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = r[i];
        if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-'))
            return 0;
        if (c == '-' && r[i + 1] == '-')
            return 0;
    }
    return 1;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return (size_t)-1;
    size_t row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The closest known region within a small distance, or NULL. */
static const char *closest_region(const char *region)
{
    const char *best = NULL;
    size_t best_d = 3; /* suggest only for one or two typos */
    for (int i = 0; i < (int)N_REGIONS; i++) {
        size_t d = edit_distance(region, region_names[i]);
        if (d < best_d) {
            best_d = d;
            best = region_names[i];
        }
    }
    return best;
}

static int unknown_region(const char *region, dr_err *err)
{
    dr_err_set(err, DR_E_CONFIG, "unknown region '%.64s'", region);
    const char *near = closest_region(region);
    if (near)
        return dr_err_hint(err, "did you mean '%s'? (see drctl --help for the list of regions)",
                           near);
    return dr_err_hint(err, "see drctl --help for the list of regions; with --endpoint-url or "
                            "AWS_ENDPOINT_URL any region name is accepted");
}

/* ---- endpoint URLs ------------------------------------------------------ */

static int bad_url(const char *source, const char *url, const char *why, dr_err *err)
{
    /* Never echo a URL with user information: it would be a password. */
    if (strchr(url, '@'))
        dr_err_set(err, DR_E_CONFIG, "%s is not a valid endpoint URL: %s", source, why);
    else
        dr_err_set(err, DR_E_CONFIG, "%s is not a valid endpoint URL ('%.200s'): %s", source, url,
                   why);
    return dr_err_hint(err, "use http(s)://host[:port][/path], e.g. http://127.0.0.1:5000");
}

static int host_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

/*
 * Checks scheme://host[:port][/path] and fills out->url (scheme lower-cased,
 * no trailing slash) and out->host (host[:port] exactly as written).
 */
static int parse_endpoint_url(const char *url, const char *source, dr_endpoint *out, dr_err *err)
{
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return bad_url(source, url, "it contains a space or control character", err);
    if (!*url)
        return bad_url(source, url, "it is empty", err);
    const char *sep = strstr(url, "://");
    if (!sep)
        return bad_url(source, url, "no scheme (expected http:// or https://)", err);
    size_t slen = (size_t)(sep - url);
    const char *scheme;
    if (slen == 4 && strncasecmp(url, "http", 4) == 0)
        scheme = "http";
    else if (slen == 5 && strncasecmp(url, "https", 5) == 0)
        scheme = "https";
    else
        return bad_url(source, url, "the scheme must be http or https", err);
    if (strpbrk(url, "?#"))
        return bad_url(source, url, "a query or fragment is not allowed", err);

    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/");
    const char *path = auth + alen;
    if (memchr(auth, '@', alen))
        return bad_url(source, url, "user information (user@) is not allowed", err);
    if (alen == 0)
        return bad_url(source, url, "no host", err);

    const char *port = NULL;
    size_t hlen;
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (!close || close == auth + 1)
            return bad_url(source, url, "malformed IPv6 address", err);
        for (const char *p = auth + 1; p < close; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                return bad_url(source, url, "malformed IPv6 address", err);
        hlen = (size_t)(close - auth) + 1;
        if (hlen < alen) {
            if (auth[hlen] != ':')
                return bad_url(source, url, "unexpected text after the IPv6 address", err);
            port = auth + hlen + 1;
        }
    } else {
        hlen = strcspn(auth, ":/");
        if (hlen == 0)
            return bad_url(source, url, "no host", err);
        for (size_t i = 0; i < hlen; i++)
            if (!host_char(auth[i]))
                return bad_url(source, url, "the host name has an invalid character", err);
        if (hlen < alen)
            port = auth + hlen + 1;
    }
    if (port) {
        size_t plen = (size_t)(auth + alen - port);
        long v = 0;
        if (plen == 0 || plen > 5)
            return bad_url(source, url, "invalid port", err);
        for (size_t i = 0; i < plen; i++) {
            if (!isdigit((unsigned char)port[i]))
                return bad_url(source, url, "invalid port", err);
            v = v * 10 + (port[i] - '0');
        }
        if (v < 1 || v > 65535)
            return bad_url(source, url, "the port must be 1-65535", err);
    }
    size_t plen = strlen(path);
    while (plen && path[plen - 1] == '/')
        plen--;
    if (alen >= sizeof(out->host))
        return bad_url(source, url, "the host is too long", err);
    int n = snprintf(out->url, sizeof(out->url), "%s://%.*s%.*s", scheme, (int)alen, auth,
                     (int)plen, path);
    if (n < 0 || (size_t)n >= sizeof(out->url))
        return bad_url(source, url, "it is too long", err);
    snprintf(out->host, sizeof(out->host), "%.*s", (int)alen, auth);
    return 0;
}

static const char *getenv_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int env_ignores_configured(void)
{
    const char *v = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    return v && strcasecmp(v, "true") == 0;
}

/*
 * The common part of both resolvers. `url` is the chosen custom endpoint or
 * NULL for the standard one; `source` goes to out->source and `what` names
 * the setting in messages (it can be longer: "endpoint_url for s3 in
 * [services moto] of /root/.aws/config").
 */
static int resolve_with(const dr_service *svc, const char *region, const char *url,
                        const char *source, const char *what, dr_endpoint *out, dr_err *err)
{
    memset(out, 0, sizeof(*out));
    if (region && !*region)
        region = NULL;
    int idx = region_index(region);
    int part = idx >= 0 ? partition_of(idx) : P_AWS;
    int g = svc->global ? find_global(svc->key, part) : -1;

    if (!region && !svc->global) {
        dr_err_set(err, DR_E_CONFIG, "no region set for %s", svc->service_id);
        return dr_err_hint(err, "pass --region or set AWS_REGION");
    }

    if (url) {
        /* A custom endpoint (moto, LocalStack, a VPC endpoint): any
         * well-formed region name is fine, the emulator decides. */
        if (region && !region_syntax_ok(region)) {
            dr_err_set(err, DR_E_CONFIG, "'%.64s' is not a valid region name", region);
            return dr_err_hint(err, "region names are lower-case letters, digits and hyphens, "
                                    "e.g. us-east-1");
        }
        if (parse_endpoint_url(url, what, out, err) < 0)
            return -1;
        /* Global services sign for their partition's home region when the
         * region is a real one (or none was given); otherwise for the
         * region given. */
        const char *sr =
            g >= 0 && (idx >= 0 || !region) ? global_endpoints[g].signing_region : region;
        snprintf(out->signing_region, sizeof(out->signing_region), "%s", sr);
        out->custom = 1;
        snprintf(out->source, sizeof(out->source), "%s", source);
        return 0;
    }

    if (region && idx < 0)
        return unknown_region(region, err);
    if (svc->global) {
        if (g < 0) {
            dr_err_set(err, DR_E_CONFIG, "%s is not available in the %s partition (region %s)",
                       svc->service_id, partitions[part].name, region);
            return dr_err_hint(err, "use a region of the aws partition for %s", svc->service_id);
        }
        snprintf(out->url, sizeof(out->url), "https://%s", global_endpoints[g].host);
        snprintf(out->host, sizeof(out->host), "%s", global_endpoints[g].host);
        snprintf(out->signing_region, sizeof(out->signing_region), "%s",
                 global_endpoints[g].signing_region);
    } else {
        snprintf(out->host, sizeof(out->host), "%s.%s.%s", svc->endpoint_prefix, region,
                 partitions[part].dns_suffix);
        snprintf(out->url, sizeof(out->url), "https://%s", out->host);
        snprintf(out->signing_region, sizeof(out->signing_region), "%s", region);
    }
    out->custom = 0;
    snprintf(out->source, sizeof(out->source), "default");
    return 0;
}

int dr_endpoint_resolve(const dr_service *svc, const char *region, const char *endpoint_url,
                        dr_endpoint *out, dr_err *err)
{
    if (!svc || !svc->key) {
        memset(out, 0, sizeof(*out));
        return dr_err_set(err, DR_E_INTERNAL, "dr_endpoint_resolve: no service");
    }
    if (endpoint_url)
        return resolve_with(svc, region, endpoint_url, "--endpoint-url", "--endpoint-url", out,
                            err);
    /* AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true switches the variables off,
     * as in the SDKs; --endpoint-url still counts. */
    if (!env_ignores_configured()) {
        char name[96];
        snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_%s", svc->env_suffix);
        const char *url = getenv_nonempty(name);
        if (url)
            return resolve_with(svc, region, url, name, name, out, err);
        url = getenv_nonempty("AWS_ENDPOINT_URL");
        if (url)
            return resolve_with(svc, region, url, "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL", out, err);
    }
    return resolve_with(svc, region, NULL, "default", "default", out, err);
}

int dr_endpoint_resolve_profile(const dr_service *svc, const char *region, const char *endpoint_url,
                                const char *profile, dr_endpoint *out, dr_err *err)
{
    if (!svc || !svc->key || endpoint_url || env_ignores_configured())
        return dr_endpoint_resolve(svc, region, endpoint_url, out, err);
    char name[96];
    snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_%s", svc->env_suffix);
    if (getenv_nonempty(name))
        return dr_endpoint_resolve(svc, region, NULL, out, err);

    dr_aws_config_endpoints cfg;
    if (dr_aws_config_endpoints_get(profile, svc->config_key, &cfg, err) < 0) {
        memset(out, 0, sizeof(*out));
        return -1;
    }
    int rc;
    if (cfg.ignore) {
        rc = resolve_with(svc, region, NULL, "default", "default", out, err);
    } else if (cfg.service_url) {
        char source[64], what[700];
        snprintf(source, sizeof(source), "config: services %.40s", cfg.services_name);
        snprintf(what, sizeof(what), "endpoint_url for %s in [services %.100s] of %.400s",
                 svc->config_key, cfg.services_name, cfg.path);
        rc = resolve_with(svc, region, cfg.service_url, source, what, out, err);
    } else if (getenv_nonempty("AWS_ENDPOINT_URL")) {
        rc = dr_endpoint_resolve(svc, region, NULL, out, err);
    } else if (cfg.profile_url) {
        char what[600];
        snprintf(what, sizeof(what), "endpoint_url of profile %.100s in %.400s", cfg.profile,
                 cfg.path);
        rc = resolve_with(svc, region, cfg.profile_url, "config: endpoint_url", what, out, err);
    } else {
        rc = resolve_with(svc, region, NULL, "default", "default", out, err);
    }
    dr_aws_config_endpoints_clear(&cfg);
    return rc;
}
