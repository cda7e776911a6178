/*
 * res_edge_cf.c - CloudFormation JSON <-> rest-xml for CloudFront (and the
 * Route 53 shapes, which use the same machinery).
 *
 * Why tables: CloudFront's DistributionConfig is a deep tree whose
 * CloudFormation shape differs from the API's in regular ways (a JSON list
 * becomes <Quantity>N</Quantity><Items><Item/>...</Items>, some names
 * change, CachedMethods moves inside AllowedMethods, GeoRestriction's list
 * is inlined). Writing that as code per element would hide the mapping in
 * control flow; a table per structure, in botocore's member order, makes
 * each mapping one line that can be checked against botocore's model
 * (tests/unit/test_res_edge.c walks the generated XML through the model's
 * shapes). The order matters: CloudFront validates request bodies against
 * an XML schema of ordered sequences.
 *
 * Both directions use the same tables: JSON -> XML for requests, XML -> JSON
 * for reading AWS's answer back in CloudFormation's shape (adoption
 * compares the two). Properties a table does not know are refused with the
 * property path, never dropped silently: a dropped property would be a
 * distribution that differs from the model with nobody told.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "aws/xml.h"
#include "stack/res_edge.h"
#include "util/mem.h"

typedef enum xkind {
    XK_END = 0,
    XK_STR,     /* text */
    XK_INT,     /* integer (JSON number or numeric string) */
    XK_BOOL,    /* true/false (JSON boolean or "true"/"false") */
    XK_STRUCT,  /* a nested structure: `sub` */
    XK_LIST,    /* JSON list -> <api><item>...</item>...</api> */
    XK_QLIST,   /* JSON list -> <api><Quantity>N</Quantity><Items><item/>...</Items></api> */
    XK_QOBJ,    /* JSON {Quantity, Items} (CloudFormation keeps the API's shape) -> as XK_QLIST */
    XK_QINLINE, /* JSON list -> <Quantity>N</Quantity><Items>...</Items> inside the parent */
    XK_SKIP     /* accepted in JSON, not part of this XML (handled by the caller) */
} xkind;

/* The API requires it: emitted (the default `def`, or an empty structure
 * with its own required members) when CloudFormation leaves it out. */
#define XF_REQ 1u
/* XK_QLIST: an <Enabled> before <Quantity>, true when there are items
 * (TrustedSigners, TrustedKeyGroups take a plain list in CloudFormation). */
#define XF_ENABLED 2u
/* Always emitted with `def`, never read back (Logging's Enabled, which
 * CloudFormation implies by the presence of Logging). */
#define XF_IMPLIED 4u

typedef struct xfield {
    const char *api; /* element name: botocore's member name */
    const char *cfn; /* CloudFormation's property name; NULL: the same */
    xkind kind;
    unsigned flags;
    const char *def;           /* scalar default for XF_REQ / XF_IMPLIED */
    const struct xfield *sub;  /* XK_STRUCT fields; list items' fields when they are structures */
    const char *item;          /* list item element name (botocore's member locationName) */
    xkind item_kind;           /* list items' scalar kind when sub is NULL */
    const char *wrap;          /* scalar list items each wrapped: <item><wrap>v</wrap></item> */
    const struct xfield *nest; /* XK_QLIST: a sibling JSON list emitted inside, after Items */
} xfield;

#define F_STR(n)                                                                                   \
    {                                                                                              \
        .api = n, .kind = XK_STR                                                                   \
    }
#define F_INT(n)                                                                                   \
    {                                                                                              \
        .api = n, .kind = XK_INT                                                                   \
    }
#define F_BOOL(n)                                                                                  \
    {                                                                                              \
        .api = n, .kind = XK_BOOL                                                                  \
    }
#define F_STRUCT(n, s)                                                                             \
    {                                                                                              \
        .api = n, .kind = XK_STRUCT, .sub = s                                                      \
    }
#define F_END                                                                                      \
    {                                                                                              \
        .kind = XK_END                                                                             \
    }

static const char *cfn_name(const xfield *f)
{
    return f->cfn ? f->cfn : f->api;
}

/* ---- CloudFront tables (botocore cloudfront 2020-05-31 member order) ---- */

static const xfield cf_custom_header[] = {F_STR("HeaderName"), F_STR("HeaderValue"), F_END};
static const xfield cf_s3_origin[] = {
    {.api = "OriginAccessIdentity", .kind = XK_STR, .flags = XF_REQ, .def = ""},
    F_INT("OriginReadTimeout"),
    F_END,
};
static const xfield cf_origin_mtls[] = {F_STR("ClientCertificateArn"), F_END};
static const xfield cf_custom_origin[] = {
    {.api = "HTTPPort", .kind = XK_INT, .flags = XF_REQ, .def = "80"},
    {.api = "HTTPSPort", .kind = XK_INT, .flags = XF_REQ, .def = "443"},
    F_STR("OriginProtocolPolicy"),
    {.api = "OriginSslProtocols",
     .cfn = "OriginSSLProtocols",
     .kind = XK_QLIST,
     .item = "SslProtocol",
     .item_kind = XK_STR},
    F_INT("OriginReadTimeout"),
    F_INT("OriginKeepaliveTimeout"),
    F_STR("IpAddressType"),
    F_STRUCT("OriginMtlsConfig", cf_origin_mtls),
    F_END,
};
static const xfield cf_vpc_origin[] = {
    F_STR("VpcOriginId"),
    F_STR("OwnerAccountId"),
    F_INT("OriginReadTimeout"),
    F_INT("OriginKeepaliveTimeout"),
    F_END,
};
static const xfield cf_origin_shield[] = {
    {.api = "Enabled", .kind = XK_BOOL, .flags = XF_REQ, .def = "false"},
    F_STR("OriginShieldRegion"),
    F_END,
};
static const xfield cf_origin[] = {
    F_STR("Id"),
    F_STR("DomainName"),
    F_STR("OriginPath"),
    {.api = "CustomHeaders",
     .cfn = "OriginCustomHeaders",
     .kind = XK_QLIST,
     .item = "OriginCustomHeader",
     .sub = cf_custom_header},
    F_STRUCT("S3OriginConfig", cf_s3_origin),
    F_STRUCT("CustomOriginConfig", cf_custom_origin),
    F_STRUCT("VpcOriginConfig", cf_vpc_origin),
    F_INT("ConnectionAttempts"),
    F_INT("ConnectionTimeout"),
    F_INT("ResponseCompletionTimeout"),
    F_STRUCT("OriginShield", cf_origin_shield),
    F_STR("OriginAccessControlId"),
    F_END,
};
static const xfield cf_failover_criteria[] = {
    {.api = "StatusCodes", .kind = XK_QOBJ, .item = "StatusCode", .item_kind = XK_INT},
    F_END,
};
static const xfield cf_group_member[] = {F_STR("OriginId"), F_END};
static const xfield cf_origin_group[] = {
    F_STR("Id"),
    F_STRUCT("FailoverCriteria", cf_failover_criteria),
    {.api = "Members", .kind = XK_QOBJ, .item = "OriginGroupMember", .sub = cf_group_member},
    F_STR("SelectionCriteria"),
    F_END,
};
static const xfield cf_lambda_assoc[] = {
    F_STR("LambdaFunctionARN"),
    F_STR("EventType"),
    F_BOOL("IncludeBody"),
    F_END,
};
static const xfield cf_function_assoc[] = {F_STR("FunctionARN"), F_STR("EventType"), F_END};
static const xfield cf_cookies[] = {
    {.api = "Forward", .kind = XK_STR, .flags = XF_REQ, .def = "none"},
    {.api = "WhitelistedNames", .kind = XK_QLIST, .item = "Name", .item_kind = XK_STR},
    F_END,
};
static const xfield cf_forwarded[] = {
    {.api = "QueryString", .kind = XK_BOOL, .flags = XF_REQ, .def = "false"},
    {.api = "Cookies", .kind = XK_STRUCT, .flags = XF_REQ, .sub = cf_cookies},
    {.api = "Headers", .kind = XK_QLIST, .item = "Name", .item_kind = XK_STR},
    {.api = "QueryStringCacheKeys", .kind = XK_QLIST, .item = "Name", .item_kind = XK_STR},
    F_END,
};
static const xfield cf_grpc[] = {F_BOOL("Enabled"), F_END};
/* CloudFormation has CachedMethods beside AllowedMethods; the API nests it. */
static const xfield cf_cached_methods = {
    .api = "CachedMethods", .kind = XK_QLIST, .item = "Method", .item_kind = XK_STR};
/* CacheBehavior; DefaultCacheBehavior is the same without PathPattern, so
 * its table is cf_behavior + 1. */
static const xfield cf_behavior[] = {
    F_STR("PathPattern"),
    F_STR("TargetOriginId"),
    {.api = "TrustedSigners",
     .kind = XK_QLIST,
     .flags = XF_ENABLED,
     .item = "AwsAccountNumber",
     .item_kind = XK_STR},
    {.api = "TrustedKeyGroups",
     .kind = XK_QLIST,
     .flags = XF_ENABLED,
     .item = "KeyGroup",
     .item_kind = XK_STR},
    F_STR("ViewerProtocolPolicy"),
    {.api = "AllowedMethods",
     .kind = XK_QLIST,
     .item = "Method",
     .item_kind = XK_STR,
     .nest = &cf_cached_methods},
    F_BOOL("SmoothStreaming"),
    F_BOOL("Compress"),
    {.api = "LambdaFunctionAssociations",
     .kind = XK_QLIST,
     .item = "LambdaFunctionAssociation",
     .sub = cf_lambda_assoc},
    {.api = "FunctionAssociations",
     .kind = XK_QLIST,
     .item = "FunctionAssociation",
     .sub = cf_function_assoc},
    F_STR("FieldLevelEncryptionId"),
    F_STR("RealtimeLogConfigArn"),
    F_STR("CachePolicyId"),
    F_STR("OriginRequestPolicyId"),
    F_STR("ResponseHeadersPolicyId"),
    F_STRUCT("GrpcConfig", cf_grpc),
    F_STRUCT("ForwardedValues", cf_forwarded),
    F_INT("MinTTL"),
    F_INT("DefaultTTL"),
    F_INT("MaxTTL"),
    F_END,
};
static const xfield cf_error_response[] = {
    F_INT("ErrorCode"),
    F_STR("ResponsePagePath"),
    /* A string in the API, an integer in CloudFormation: the text is the
     * same either way. */
    F_INT("ResponseCode"),
    F_INT("ErrorCachingMinTTL"),
    F_END,
};
static const xfield cf_logging[] = {
    {.api = "Enabled", .kind = XK_BOOL, .flags = XF_IMPLIED, .def = "true"},
    F_BOOL("IncludeCookies"),
    F_STR("Bucket"),
    F_STR("Prefix"),
    F_END,
};
static const xfield cf_viewer_cert[] = {
    F_BOOL("CloudFrontDefaultCertificate"),
    {.api = "IAMCertificateId", .cfn = "IamCertificateId", .kind = XK_STR},
    {.api = "ACMCertificateArn", .cfn = "AcmCertificateArn", .kind = XK_STR},
    {.api = "SSLSupportMethod", .cfn = "SslSupportMethod", .kind = XK_STR},
    F_STR("MinimumProtocolVersion"),
    F_END,
};
static const xfield cf_geo[] = {
    F_STR("RestrictionType"),
    {.api = "Items",
     .cfn = "Locations",
     .kind = XK_QINLINE,
     .item = "Location",
     .item_kind = XK_STR},
    F_END,
};
static const xfield cf_restrictions[] = {F_STRUCT("GeoRestriction", cf_geo), F_END};
static const xfield cf_config[] = {
    {.api = "Aliases", .kind = XK_QLIST, .item = "CNAME", .item_kind = XK_STR},
    F_STR("DefaultRootObject"),
    {.api = "Origins", .kind = XK_QLIST, .flags = XF_REQ, .item = "Origin", .sub = cf_origin},
    {.api = "OriginGroups", .kind = XK_QOBJ, .item = "OriginGroup", .sub = cf_origin_group},
    {.api = "DefaultCacheBehavior", .kind = XK_STRUCT, .flags = XF_REQ, .sub = cf_behavior + 1},
    {.api = "CacheBehaviors", .kind = XK_QLIST, .item = "CacheBehavior", .sub = cf_behavior},
    {.api = "CustomErrorResponses",
     .kind = XK_QLIST,
     .item = "CustomErrorResponse",
     .sub = cf_error_response},
    {.api = "Comment", .kind = XK_STR, .flags = XF_REQ, .def = ""},
    F_STRUCT("Logging", cf_logging),
    F_STR("PriceClass"),
    {.api = "Enabled", .kind = XK_BOOL, .flags = XF_REQ, .def = "true"},
    F_STRUCT("ViewerCertificate", cf_viewer_cert),
    F_STRUCT("Restrictions", cf_restrictions),
    F_STR("WebACLId"),
    F_STR("HttpVersion"),
    {.api = "IsIPV6Enabled", .cfn = "IPV6Enabled", .kind = XK_BOOL},
    F_STR("ContinuousDeploymentPolicyId"),
    F_BOOL("Staging"),
    F_STR("AnycastIpListId"),
    F_END,
};

/* ---- Route 53 tables (botocore route53 2013-04-01 member order) ------- */

static const xfield r53_alarm[] = {F_STR("Region"), F_STR("Name"), F_END};
static const xfield r53_hc_config[] = {
    F_STR("IPAddress"),
    F_INT("Port"),
    F_STR("Type"),
    F_STR("ResourcePath"),
    F_STR("FullyQualifiedDomainName"),
    F_STR("SearchString"),
    F_INT("RequestInterval"),
    F_INT("FailureThreshold"),
    F_BOOL("MeasureLatency"),
    F_BOOL("Inverted"),
    F_BOOL("Disabled"),
    F_INT("HealthThreshold"),
    {.api = "ChildHealthChecks", .kind = XK_LIST, .item = "ChildHealthCheck", .item_kind = XK_STR},
    F_BOOL("EnableSNI"),
    {.api = "Regions", .kind = XK_LIST, .item = "Region", .item_kind = XK_STR},
    F_STRUCT("AlarmIdentifier", r53_alarm),
    F_STR("InsufficientDataHealthStatus"),
    F_STR("RoutingControlArn"),
    F_END,
};
/* UpdateHealthCheckRequest's members after HealthCheckId/HealthCheckVersion;
 * what cannot change in place is checked by the caller, then skipped. */
static const xfield r53_hc_update[] = {
    F_STR("IPAddress"),
    F_INT("Port"),
    F_STR("ResourcePath"),
    F_STR("FullyQualifiedDomainName"),
    F_STR("SearchString"),
    F_INT("FailureThreshold"),
    F_BOOL("Inverted"),
    F_BOOL("Disabled"),
    F_INT("HealthThreshold"),
    {.api = "ChildHealthChecks", .kind = XK_LIST, .item = "ChildHealthCheck", .item_kind = XK_STR},
    F_BOOL("EnableSNI"),
    {.api = "Regions", .kind = XK_LIST, .item = "Region", .item_kind = XK_STR},
    F_STRUCT("AlarmIdentifier", r53_alarm),
    F_STR("InsufficientDataHealthStatus"),
    {.api = "Type", .kind = XK_SKIP},
    {.api = "RequestInterval", .kind = XK_SKIP},
    {.api = "MeasureLatency", .kind = XK_SKIP},
    {.api = "RoutingControlArn", .kind = XK_SKIP},
    F_END,
};
static const char *const r53_hc_fixed[] = {"Type", "RequestInterval", "MeasureLatency",
                                           "RoutingControlArn", NULL};
static const char *const r53_hc_resettable[] = {"FullyQualifiedDomainName", "Regions",
                                                "ResourcePath", "ChildHealthChecks", NULL};

static const xfield r53_alias[] = {
    F_STR("HostedZoneId"),
    F_STR("DNSName"),
    /* Optional in CloudFormation (default false), required by the API. */
    {.api = "EvaluateTargetHealth", .kind = XK_BOOL, .flags = XF_REQ, .def = "false"},
    F_END,
};
static const xfield r53_geo[] = {
    F_STR("ContinentCode"),
    F_STR("CountryCode"),
    F_STR("SubdivisionCode"),
    F_END,
};
static const xfield r53_cidr[] = {F_STR("CollectionId"), F_STR("LocationName"), F_END};
static const xfield r53_coordinates[] = {F_STR("Latitude"), F_STR("Longitude"), F_END};
static const xfield r53_geoprox[] = {
    F_STR("AWSRegion"),
    F_STR("LocalZoneGroup"),
    F_STRUCT("Coordinates", r53_coordinates),
    F_INT("Bias"),
    F_END,
};
static const xfield r53_rrset[] = {
    F_STR("Name"),
    F_STR("Type"),
    F_STR("SetIdentifier"),
    F_INT("Weight"),
    F_STR("Region"),
    F_STRUCT("GeoLocation", r53_geo),
    F_STR("Failover"),
    F_BOOL("MultiValueAnswer"),
    F_INT("TTL"),
    {.api = "ResourceRecords",
     .kind = XK_LIST,
     .item = "ResourceRecord",
     .item_kind = XK_STR,
     .wrap = "Value"},
    F_STRUCT("AliasTarget", r53_alias),
    F_STR("HealthCheckId"),
    F_STRUCT("CidrRoutingConfig", r53_cidr),
    F_STRUCT("GeoProximityLocation", r53_geoprox),
    /* The zone and the batch comment are the change's, not the record's. */
    {.api = "HostedZoneName", .kind = XK_SKIP},
    {.api = "HostedZoneId", .kind = XK_SKIP},
    {.api = "Comment", .kind = XK_SKIP},
    F_END,
};

/* ---- JSON -> XML ------------------------------------------------------ */

static void put_escaped(dr_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            dr_buf_puts(b, "&amp;");
            break;
        case '<':
            dr_buf_puts(b, "&lt;");
            break;
        case '>':
            dr_buf_puts(b, "&gt;");
            break;
        case '\r':
            dr_buf_puts(b, "&#13;"); /* a raw CR would be normalised away by the parser */
            break;
        default:
            dr_buf_putc(b, *s);
        }
    }
}

static void open_tag(dr_buf *b, const char *name)
{
    dr_buf_printf(b, "<%s>", name);
}

static void close_tag(dr_buf *b, const char *name)
{
    dr_buf_printf(b, "</%s>", name);
}

static int is_int_text(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* One scalar as element text, checked against its kind. */
static int emit_scalar(xkind kind, const char *name, json_t *v, const char *path, dr_buf *b,
                       dr_err *err)
{
    char num[32];
    const char *text = NULL;
    switch (kind) {
    case XK_STR:
        if (json_is_string(v))
            text = json_string_value(v);
        else if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            text = num;
        }
        break;
    case XK_INT:
        if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            text = num;
        } else if (json_is_string(v) && is_int_text(json_string_value(v))) {
            text = json_string_value(v); /* CloudFormation writes TTL as a string */
        }
        break;
    case XK_BOOL:
        if (json_is_boolean(v))
            text = json_is_true(v) ? "true" : "false";
        else if (json_is_string(v) && (strcmp(json_string_value(v), "true") == 0 ||
                                       strcmp(json_string_value(v), "false") == 0))
            text = json_string_value(v);
        break;
    default:
        break;
    }
    if (!text)
        return dr_err_set(err, DR_E_CONFIG, "%s: expected %s", path,
                          kind == XK_INT    ? "an integer"
                          : kind == XK_BOOL ? "true or false"
                                            : "a string");
    if (name)
        open_tag(b, name);
    put_escaped(b, text);
    if (name)
        close_tag(b, name);
    return 0;
}

static int emit_struct(const xfield *fields, json_t *obj, const char *path, dr_buf *b, dr_err *err);

static int emit_item(const xfield *f, json_t *v, const char *path, dr_buf *b, dr_err *err)
{
    open_tag(b, f->item);
    int rc;
    if (f->sub) {
        if (!json_is_object(v))
            return dr_err_set(err, DR_E_CONFIG, "%s: expected an object", path);
        rc = emit_struct(f->sub, v, path, b, err);
    } else if (f->wrap) {
        rc = emit_scalar(f->item_kind, f->wrap, v, path, b, err);
    } else {
        rc = emit_scalar(f->item_kind, NULL, v, path, b, err);
    }
    close_tag(b, f->item);
    return rc;
}

/* <Quantity>N</Quantity><Items>...</Items> (Items left out when empty, as
 * botocore does). */
static int emit_quantity_items(const xfield *f, json_t *list, const char *path, dr_buf *b,
                               dr_err *err)
{
    size_t n = json_array_size(list);
    dr_buf_printf(b, "<Quantity>%zu</Quantity>", n);
    if (n == 0)
        return 0;
    open_tag(b, "Items");
    for (size_t i = 0; i < n; i++) {
        char *p = dr_xasprintf("%s[%zu]", path, i);
        int rc = emit_item(f, json_array_get(list, i), p, b, err);
        free(p);
        if (rc != 0)
            return -1;
    }
    close_tag(b, "Items");
    return 0;
}

static int emit_field(const xfield *f, json_t *obj, const char *path, dr_buf *b, dr_err *err)
{
    json_t *v = json_object_get(obj, cfn_name(f));
    if (json_is_null(v))
        v = NULL;
    char *p = dr_xasprintf("%s%s%s", path, *path ? "." : "", cfn_name(f));
    int rc = 0;
    switch (f->kind) {
    case XK_STR:
    case XK_INT:
    case XK_BOOL:
        if (f->flags & XF_IMPLIED) {
            if (v) {
                rc = dr_err_set(err, DR_E_CONFIG, "%s: not a CloudFormation property", p);
                break;
            }
            dr_buf_printf(b, "<%s>%s</%s>", f->api, f->def, f->api);
        } else if (v) {
            rc = emit_scalar(f->kind, f->api, v, p, b, err);
        } else if ((f->flags & XF_REQ) && f->def) {
            open_tag(b, f->api);
            put_escaped(b, f->def);
            close_tag(b, f->api);
        }
        break;
    case XK_STRUCT: {
        json_t *empty = NULL;
        if (!v && (f->flags & XF_REQ))
            v = empty = json_object();
        if (!v)
            break;
        if (!json_is_object(v)) {
            rc = dr_err_set(err, DR_E_CONFIG, "%s: expected an object", p);
            break;
        }
        open_tag(b, f->api);
        rc = emit_struct(f->sub, v, p, b, err);
        close_tag(b, f->api);
        json_decref(empty);
        break;
    }
    case XK_LIST:
        if (!v)
            break;
        if (!json_is_array(v)) {
            rc = dr_err_set(err, DR_E_CONFIG, "%s: expected a list", p);
            break;
        }
        if (json_array_size(v) == 0)
            break;
        open_tag(b, f->api);
        for (size_t i = 0; i < json_array_size(v) && rc == 0; i++) {
            char *pi = dr_xasprintf("%s[%zu]", p, i);
            rc = emit_item(f, json_array_get(v, i), pi, b, err);
            free(pi);
        }
        close_tag(b, f->api);
        break;
    case XK_QLIST:
    case XK_QOBJ: {
        json_t *list = v;
        if (v && f->kind == XK_QOBJ) {
            list = json_is_object(v) ? json_object_get(v, "Items") : NULL;
            if (!json_is_object(v) || (list && !json_is_array(list))) {
                rc = dr_err_set(err, DR_E_CONFIG, "%s: expected {Quantity, Items: [...]}", p);
                break;
            }
            json_t *q = json_object_get(v, "Quantity");
            if (q &&
                (!json_is_integer(q) || (size_t)json_integer_value(q) != json_array_size(list))) {
                rc = dr_err_set(err, DR_E_CONFIG, "%s.Quantity: must be the number of Items", p);
                break;
            }
            const char *k;
            json_t *kv;
            json_object_foreach(v, k, kv)
            {
                if (strcmp(k, "Quantity") != 0 && strcmp(k, "Items") != 0) {
                    rc = dr_err_set(err, DR_E_CONFIG, "%s.%s: not a property drctl knows", p, k);
                    break;
                }
            }
            if (rc != 0)
                break;
        } else if (v && !json_is_array(v)) {
            rc = dr_err_set(err, DR_E_CONFIG, "%s: expected a list", p);
            break;
        }
        json_t *nested = f->nest ? json_object_get(obj, cfn_name(f->nest)) : NULL;
        if (!v && nested) {
            rc = dr_err_set(err, DR_E_CONFIG, "%s%s%s: needs %s", path, *path ? "." : "",
                            cfn_name(f->nest), cfn_name(f));
            break;
        }
        if (!v && !(f->flags & XF_REQ))
            break;
        open_tag(b, f->api);
        if (f->flags & XF_ENABLED)
            dr_buf_printf(b, "<Enabled>%s</Enabled>", json_array_size(list) ? "true" : "false");
        char *pi = f->kind == XK_QOBJ ? dr_xasprintf("%s.Items", p) : dr_xstrdup(p);
        rc = emit_quantity_items(f, list, pi, b, err);
        free(pi);
        if (rc == 0 && nested) {
            char *pn = dr_xasprintf("%s%s%s", path, *path ? "." : "", cfn_name(f->nest));
            if (!json_is_array(nested)) {
                rc = dr_err_set(err, DR_E_CONFIG, "%s: expected a list", pn);
            } else {
                open_tag(b, f->nest->api);
                rc = emit_quantity_items(f->nest, nested, pn, b, err);
                close_tag(b, f->nest->api);
            }
            free(pn);
        }
        close_tag(b, f->api);
        break;
    }
    case XK_QINLINE:
        if (v && !json_is_array(v)) {
            rc = dr_err_set(err, DR_E_CONFIG, "%s: expected a list", p);
            break;
        }
        rc = emit_quantity_items(f, v, p, b, err);
        break;
    case XK_SKIP:
    case XK_END:
        break;
    }
    free(p);
    return rc;
}

static int known_key(const xfield *fields, const char *key)
{
    for (const xfield *f = fields; f->kind != XK_END; f++) {
        if (strcmp(cfn_name(f), key) == 0)
            return 1;
        if (f->nest && strcmp(cfn_name(f->nest), key) == 0)
            return 1;
    }
    return 0;
}

static int emit_struct(const xfield *fields, json_t *obj, const char *path, dr_buf *b, dr_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (!known_key(fields, k))
            return dr_err_set(err, DR_E_CONFIG, "%s%s%s: not a property drctl knows how to send",
                              path, *path ? "." : "", k);
    }
    for (const xfield *f = fields; f->kind != XK_END; f++)
        if (emit_field(f, obj, path, b, err) != 0)
            return -1;
    return 0;
}

/* ---- XML -> JSON ------------------------------------------------------ */

static xmlNodePtr child(xmlNodePtr node, const char *name)
{
    return node ? dr_xml_find(node, name) : NULL;
}

static json_t *scalar_json(xkind kind, xmlNodePtr n)
{
    xmlChar *c = xmlNodeGetContent(n);
    const char *s = c ? (const char *)c : "";
    json_t *v;
    if (kind == XK_INT && is_int_text(s))
        v = json_integer((json_int_t)strtoll(s, NULL, 10));
    else if (kind == XK_BOOL)
        v = json_boolean(strcmp(s, "true") == 0);
    else
        v = json_string(s);
    xmlFree(c);
    return v;
}

static json_t *parse_struct(const xfield *fields, xmlNodePtr node);

static json_t *item_json(const xfield *f, xmlNodePtr n)
{
    if (f->sub)
        return parse_struct(f->sub, n);
    if (f->wrap) {
        xmlNodePtr w = child(n, f->wrap);
        return w ? scalar_json(f->item_kind, w) : json_string("");
    }
    return scalar_json(f->item_kind, n);
}

/* The items of `container` (its <Items> for the quantity shapes, itself for
 * plain lists), as a JSON array. */
static json_t *items_json(const xfield *f, xmlNodePtr container, int quantity)
{
    json_t *arr = json_array();
    xmlNodePtr holder = quantity ? child(container, "Items") : container;
    for (xmlNodePtr n = child(holder, f->item); n; n = dr_xml_next_same(n))
        json_array_append_new(arr, item_json(f, n));
    return arr;
}

static void set_nonempty(json_t *obj, const char *key, json_t *arr)
{
    if (json_array_size(arr))
        json_object_set_new(obj, key, arr);
    else
        json_decref(arr);
}

static json_t *parse_struct(const xfield *fields, xmlNodePtr node)
{
    json_t *obj = json_object();
    for (const xfield *f = fields; f->kind != XK_END; f++) {
        xmlNodePtr n = f->kind == XK_QINLINE ? node : child(node, f->api);
        if (!n || f->kind == XK_SKIP || (f->flags & XF_IMPLIED))
            continue;
        switch (f->kind) {
        case XK_STR:
        case XK_INT:
        case XK_BOOL:
            json_object_set_new(obj, cfn_name(f), scalar_json(f->kind, n));
            break;
        case XK_STRUCT:
            json_object_set_new(obj, cfn_name(f), parse_struct(f->sub, n));
            break;
        case XK_LIST:
            set_nonempty(obj, cfn_name(f), items_json(f, n, 0));
            break;
        case XK_QLIST:
        case XK_QINLINE:
            set_nonempty(obj, cfn_name(f), items_json(f, n, 1));
            if (f->nest) {
                xmlNodePtr nn = child(n, f->nest->api);
                if (nn)
                    set_nonempty(obj, cfn_name(f->nest), items_json(f->nest, nn, 1));
            }
            break;
        case XK_QOBJ: {
            json_t *items = items_json(f, n, 1);
            if (json_array_size(items))
                json_object_set_new(obj, cfn_name(f),
                                    json_pack("{s:I, s:o}", "Quantity",
                                              (json_int_t)json_array_size(items), "Items", items));
            else
                json_decref(items);
            break;
        }
        default:
            break;
        }
    }
    return obj;
}

/* ---- the public translations ------------------------------------------ */

int dr_cf_config_xml(json_t *config, const char *caller_reference, const char *xmlns, dr_buf *out,
                     dr_err *err)
{
    if (!json_is_object(config))
        return dr_err_set(err, DR_E_CONFIG, "DistributionConfig: expected an object");
    if (xmlns)
        dr_buf_printf(out, "<DistributionConfig xmlns=\"%s\">", xmlns);
    else
        open_tag(out, "DistributionConfig");
    open_tag(out, "CallerReference");
    put_escaped(out, caller_reference);
    close_tag(out, "CallerReference");
    if (emit_struct(cf_config, config, "DistributionConfig", out, err) != 0)
        return -1;
    close_tag(out, "DistributionConfig");
    return 0;
}

json_t *dr_cf_config_json(xmlNodePtr config)
{
    return parse_struct(cf_config, config);
}

static int emit_tags(json_t *tags, dr_buf *out, dr_err *err)
{
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        const char *v = json_string_value(json_object_get(t, "Value"));
        if (!k)
            return dr_err_set(err, DR_E_CONFIG, "Tags[%zu]: no Key", i);
        dr_buf_puts(out, "<Tag><Key>");
        put_escaped(out, k);
        dr_buf_puts(out, "</Key><Value>");
        put_escaped(out, v ? v : "");
        dr_buf_puts(out, "</Value></Tag>");
    }
    return 0;
}

int dr_cf_create_with_tags_xml(json_t *config, const char *caller_reference, json_t *tags,
                               dr_buf *out, dr_err *err)
{
    dr_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    dr_buf_printf(out, "<DistributionConfigWithTags xmlns=\"%s\">", DR_CLOUDFRONT_XMLNS);
    if (dr_cf_config_xml(config, caller_reference, NULL, out, err) != 0)
        return -1;
    dr_buf_puts(out, "<Tags><Items>");
    if (emit_tags(tags, out, err) != 0)
        return -1;
    dr_buf_puts(out, "</Items></Tags></DistributionConfigWithTags>");
    return 0;
}

int dr_route53_health_check_config_xml(json_t *config, dr_buf *out, dr_err *err)
{
    if (!json_is_object(config))
        return dr_err_set(err, DR_E_CONFIG, "HealthCheckConfig: expected an object");
    open_tag(out, "HealthCheckConfig");
    if (emit_struct(r53_hc_config, config, "HealthCheckConfig", out, err) != 0)
        return -1;
    close_tag(out, "HealthCheckConfig");
    return 0;
}

int dr_route53_health_check_update_xml(json_t *old_config, json_t *new_config, dr_buf *out,
                                       dr_err *err)
{
    if (!json_is_object(new_config))
        return dr_err_set(err, DR_E_CONFIG, "HealthCheckConfig: expected an object");
    for (const char *const *k = r53_hc_fixed; *k; k++) {
        json_t *a = json_object_get(old_config, *k), *b = json_object_get(new_config, *k);
        if ((a || b) && !(a && b && json_equal(a, b))) {
            dr_err_set(err, DR_E_CONFIG,
                       "HealthCheckConfig.%s: Route 53 cannot change it on an existing health "
                       "check",
                       *k);
            return dr_err_hint(err, "give the health check a new logical id in the model so "
                                    "that a new one is created, or destroy and deploy again");
        }
    }
    dr_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    dr_buf_printf(out, "<UpdateHealthCheckRequest xmlns=\"%s\">", DR_ROUTE53_XMLNS);
    if (emit_struct(r53_hc_update, new_config, "HealthCheckConfig", out, err) != 0)
        return -1;
    /* A field dropped from the model keeps its old value unless reset. */
    int resets = 0;
    for (const char *const *k = r53_hc_resettable; *k; k++) {
        if (json_object_get(old_config, *k) && !json_object_get(new_config, *k)) {
            if (!resets++)
                open_tag(out, "ResetElements");
            dr_buf_printf(out, "<ResettableElementName>%s</ResettableElementName>", *k);
        }
    }
    if (resets)
        close_tag(out, "ResetElements");
    close_tag(out, "UpdateHealthCheckRequest");
    return 0;
}

json_t *dr_route53_health_check_config_json(xmlNodePtr config)
{
    return parse_struct(r53_hc_config, config);
}

int dr_route53_record_xml(json_t *record, dr_buf *out, dr_err *err)
{
    if (!json_is_object(record))
        return dr_err_set(err, DR_E_CONFIG, "ResourceRecordSet: expected an object");
    open_tag(out, "ResourceRecordSet");
    if (emit_struct(r53_rrset, record, "", out, err) != 0)
        return -1;
    close_tag(out, "ResourceRecordSet");
    return 0;
}

json_t *dr_route53_record_json(xmlNodePtr rrset)
{
    return parse_struct(r53_rrset, rrset);
}

int dr_route53_change_batch_xml(const char *action, json_t *records, const char *comment,
                                dr_buf *out, dr_err *err)
{
    if (!json_is_array(records) || json_array_size(records) == 0)
        return dr_err_set(err, DR_E_INTERNAL, "a Route 53 change batch needs records");
    dr_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    dr_buf_printf(out, "<ChangeResourceRecordSetsRequest xmlns=\"%s\"><ChangeBatch>",
                  DR_ROUTE53_XMLNS);
    if (comment && *comment) {
        open_tag(out, "Comment");
        put_escaped(out, comment);
        close_tag(out, "Comment");
    }
    open_tag(out, "Changes");
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r)
    {
        dr_buf_printf(out, "<Change><Action>%s</Action>", action);
        if (dr_route53_record_xml(r, out, err) != 0)
            return dr_err_wrap(err, "record %zu", i);
        close_tag(out, "Change");
    }
    dr_buf_puts(out, "</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>");
    return 0;
}

void dr_route53_delete_xml(xmlNodePtr rrset, dr_buf *out)
{
    /* A copy in a document of its own: libxml2 carries the namespace that
     * the answer declared on its root onto the copy, so the element keeps
     * its namespace whatever prefix Route 53 used. */
    xmlDocPtr d = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr copy = xmlDocCopyNode(rrset, d, 1);
    xmlDocSetRootElement(d, copy);
    xmlBufferPtr xb = xmlBufferCreate();
    xmlNodeDump(xb, d, copy, 0, 0);
    dr_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    dr_buf_printf(out,
                  "<ChangeResourceRecordSetsRequest xmlns=\"%s\"><ChangeBatch><Changes>"
                  "<Change><Action>DELETE</Action>%s</Change>"
                  "</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>",
                  DR_ROUTE53_XMLNS, (const char *)xmlBufferContent(xb));
    xmlBufferFree(xb);
    xmlFreeDoc(d);
}
