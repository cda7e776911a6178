/*
 * service.h - the AWS services drctl talks to, and where they live.
 *
 * One static table describes each service: its protocol, API version,
 * signing name, endpoint prefix, JSON target prefix, the SDKs' service id
 * (which names AWS_ENDPOINT_URL_<ID>), and whether it is global (IAM,
 * Route 53, CloudFront: signed for us-east-1 on one global endpoint).
 * Values come from botocore's service models (metadata section).
 */
#ifndef DRCTL_AWS_SERVICE_H
#define DRCTL_AWS_SERVICE_H

#include "util/err.h"

typedef enum dr_protocol {
    DR_PROTO_QUERY,   /* Action=...&Version=..., XML response */
    DR_PROTO_EC2,     /* query dialect of EC2 */
    DR_PROTO_JSON,    /* POST / with X-Amz-Target, application/x-amz-json-1.x */
    DR_PROTO_REST_XML /* S3, Route 53, CloudFront */
} dr_protocol;

typedef struct dr_service {
    const char *key;             /* drctl's name: "s3", "ec2", "elbv2", "logs", ... */
    const char *service_id;      /* the SDKs' serviceId, e.g. "Elastic Load Balancing v2" */
    const char *env_suffix;      /* AWS_ENDPOINT_URL_<this>, e.g. "ELASTIC_LOAD_BALANCING_V2" */
    const char *config_key;      /* key in the config file's services section, e.g.
                                    "elastic_load_balancing_v2" */
    const char *endpoint_prefix; /* e.g. "elasticloadbalancing" */
    const char *signing_name;    /* e.g. "elasticloadbalancing" */
    dr_protocol protocol;
    const char *api_version;   /* e.g. "2015-12-01" */
    const char *json_version;  /* "1.0" / "1.1" for JSON services, else NULL */
    const char *target_prefix; /* JSON X-Amz-Target prefix, else NULL */
    int global;                /* 1: one endpoint, signed for us-east-1 */
} dr_service;

/* Looks up by drctl key; NULL if unknown. */
const dr_service *dr_service_find(const char *key);
/* All services, terminated by an entry whose key is NULL. */
const dr_service *dr_service_all(void);

/* 1 if `region` is a known AWS region name (commercial, GovCloud, China). */
int dr_region_known(const char *region);

/* The known regions, NULL-terminated, in botocore's endpoints.json order
 * (aws, aws-cn, aws-us-gov), for --help and the tests. */
const char *const *dr_regions_all(void);

/* "aws", "aws-cn" or "aws-us-gov" for a known region (for ARNs); NULL if
 * the region is unknown. */
const char *dr_region_partition(const char *region);

typedef struct dr_endpoint {
    char url[512];           /* scheme://host[:port][/base-path], no trailing slash */
    char host[300];          /* Host header: host[:port] as in the URL */
    char signing_region[32]; /* region to sign for (us-east-1 for global services) */
    int custom;      /* 1: from --endpoint-url / AWS_ENDPOINT_URL*; S3 then uses path style */
    char source[64]; /* "--endpoint-url", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "default" */
} dr_endpoint;

/*
 * Resolves the endpoint for a service in a region. Precedence, as in the
 * SDKs: explicit endpoint_url (--endpoint-url), AWS_ENDPOINT_URL_<SERVICE>,
 * AWS_ENDPOINT_URL, then the standard endpoint for the region and
 * partition (https://<prefix>.<region>.amazonaws.com, .amazonaws.com.cn for
 * China; global endpoints for IAM, Route 53, CloudFront; S3 virtual-host
 * style is left to the S3 layer). An unknown region is a config error
 * unless an endpoint URL was given.
 */
int dr_endpoint_resolve(const dr_service *svc, const char *region, const char *endpoint_url,
                        dr_endpoint *out, dr_err *err);

/*
 * As dr_endpoint_resolve, with the shared config file's endpoint settings
 * for `profile` (NULL: AWS_PROFILE, else "default") as well, in the SDKs'
 * order: endpoint_url (--endpoint-url), AWS_ENDPOINT_URL_<SERVICE>, the
 * profile's [services NAME] block for the service, AWS_ENDPOINT_URL, the
 * profile's endpoint_url, then the standard endpoint.
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true, or
 * ignore_configured_endpoint_urls = true in the profile, leaves only
 * endpoint_url. source is then "config: services NAME" or
 * "config: endpoint_url". -1 also on a malformed config file.
 */
int dr_endpoint_resolve_profile(const dr_service *svc, const char *region, const char *endpoint_url,
                                const char *profile, dr_endpoint *out, dr_err *err);

#endif
