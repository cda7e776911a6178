/*
 * test_res_edge.c - the edge family's JSON <-> XML translations.
 *
 * What is proven: the CloudFront DistributionConfig and the Route 53 bodies
 * drctl sends for the real global model (built from the shipped region
 * profiles) are valid for botocore's models of the two services - every
 * element a member of its shape, in the model's member order (CloudFront's
 * schema is ordered), every required member there, every list item named
 * as the model names it, integers, booleans and enums well-formed - and
 * read back into the same CloudFormation JSON. The CloudFormation shapes
 * the model does not use yet (trusted signers, logging, geo restriction,
 * forwarded values, error responses, resource records) are translated and
 * validated too; unknown properties and wrong types are refused with their
 * path; a Route 53 DELETE repeats the listed record in Route 53's
 * namespace whatever prefix the answer used.
 *
 * botocore's models are found through python3's botocore (the AWS CLI's);
 * without it the model checks are skipped, not passed.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/xml.h"
#include "stack/model.h"
#include "stack/profile.h"
#include "stack/res_edge.h"
#include "util/mem.h"

/* ---- botocore's models ----------------------------------------------- */

static json_t *botocore_model(const char *service, const char *version)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "d=$(python3 -c 'import botocore, os; print(os.path.dirname(botocore.__file__))' "
             "2>/dev/null) && gzip -dc \"$d/data/%s/%s/service-2.json.gz\" 2>/dev/null",
             service, version);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    json_error_t je;
    json_t *m = json_loadf(p, 0, &je);
    int st = pclose(p);
    if (!m || st != 0) {
        json_decref(m);
        cr_skip_test("botocore's %s model is not available: cannot check against it", service);
    }
    return m;
}

static int is_int(const char *s)
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

static const char *local(xmlNodePtr n)
{
    return (const char *)n->name;
}

/* Checks one element against a botocore shape (see the file comment). */
static void validate(json_t *shapes, const char *shape_name, xmlNodePtr el, const char *path)
{
    json_t *shape = json_object_get(shapes, shape_name);
    cr_assert(shape, "%s: shape %s not in the model", path, shape_name);
    const char *type = json_string_value(json_object_get(shape, "type"));
    xmlChar *content = NULL;
    if (strcmp(type, "structure") == 0) {
        json_t *members = json_object_get(shape, "members");
        const char *last = NULL;
        long last_idx = -1;
        for (xmlNodePtr c = el->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            long idx = 0, found = -1;
            const char *mk = NULL;
            json_t *mv = NULL;
            const char *k;
            json_object_foreach(members, k, mv)
            {
                const char *ln = json_string_value(json_object_get(mv, "locationName"));
                if (!json_object_get(mv, "location") && strcmp(ln ? ln : k, local(c)) == 0) {
                    found = idx;
                    mk = k;
                    break;
                }
                idx++;
            }
            cr_assert(found >= 0, "%s/%s: not a member of %s", path, local(c), shape_name);
            cr_assert(found > last_idx, "%s/%s: out of order (after %s) in %s", path, local(c),
                      last, shape_name);
            last_idx = found;
            last = mk;
            char sub[512];
            snprintf(sub, sizeof(sub), "%s/%s", path, local(c));
            validate(shapes, json_string_value(json_object_get(mv, "shape")), c, sub);
        }
        size_t i;
        json_t *req;
        json_array_foreach(json_object_get(shape, "required"), i, req)
        {
            const char *r = json_string_value(req);
            json_t *mv = json_object_get(members, r);
            if (json_object_get(mv, "location"))
                continue; /* a URI, header or query member: not in the body */
            const char *ln = json_string_value(json_object_get(mv, "locationName"));
            cr_assert(dr_xml_find(el, ln ? ln : r), "%s: required %s missing (%s)", path, r,
                      shape_name);
        }
    } else if (strcmp(type, "list") == 0) {
        json_t *member = json_object_get(shape, "member");
        const char *ln = json_string_value(json_object_get(member, "locationName"));
        for (xmlNodePtr c = el->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            cr_assert_str_eq(local(c), ln ? ln : "member", "%s: list item name", path);
            char sub[512];
            snprintf(sub, sizeof(sub), "%s/%s", path, local(c));
            validate(shapes, json_string_value(json_object_get(member, "shape")), c, sub);
        }
    } else {
        content = xmlNodeGetContent(el);
        const char *s = (const char *)content;
        if (strcmp(type, "integer") == 0 || strcmp(type, "long") == 0)
            cr_assert(is_int(s), "%s: %s is not an integer", path, s);
        else if (strcmp(type, "boolean") == 0)
            cr_assert(strcmp(s, "true") == 0 || strcmp(s, "false") == 0, "%s: %s not boolean", path,
                      s);
        json_t *en = json_object_get(shape, "enum");
        if (en) {
            int ok = 0;
            size_t i;
            json_t *v;
            json_array_foreach(en, i, v) ok |= strcmp(json_string_value(v), s) == 0;
            cr_assert(ok, "%s: %s is not one of %s's values", path, s, shape_name);
        }
    }
    xmlFree(content);
}

/* Validates a whole request body for an operation of the model. */
static void validate_request(json_t *model, const char *op, const char *body)
{
    json_t *shapes = json_object_get(model, "shapes");
    json_t *input =
        json_object_get(json_object_get(json_object_get(model, "operations"), op), "input");
    cr_assert(input, "operation %s", op);
    const char *in_shape = json_string_value(json_object_get(input, "shape"));
    const char *root_name = json_string_value(json_object_get(input, "locationName"));
    const char *shape = in_shape;
    json_t *in = json_object_get(shapes, in_shape);
    const char *payload = json_string_value(json_object_get(in, "payload"));
    if (payload) {
        json_t *pm = json_object_get(json_object_get(in, "members"), payload);
        shape = json_string_value(json_object_get(pm, "shape"));
        const char *ln = json_string_value(json_object_get(pm, "locationName"));
        root_name = ln ? ln : payload;
    }
    xmlDocPtr doc = dr_xml_parse(body, strlen(body));
    cr_assert(doc, "%s: body is not XML:\n%s", op, body);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    cr_assert_str_eq(local(root), root_name, "%s: root element", op);
    validate(shapes, shape, root, root_name);
    xmlFreeDoc(doc);
}

/* ---- the real global model ---------------------------------------------- */

/* Replaces references by what they resolve to, as the engine would. */
static json_t *resolve(json_t *v)
{
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) json_array_append_new(a, resolve(e));
        return a;
    }
    if (!json_is_object(v))
        return json_deep_copy(v);
    json_t *out;
    if ((out = json_object_get(v, "drctl::Output"))) {
        const char *region = json_string_value(json_array_get(out, 0));
        const char *what = json_string_value(json_array_get(out, 1));
        if (strcmp(what, "AlbHostedZoneId") == 0)
            return json_string("Z35SXDOTRQ7X7K");
        char *s = dr_xasprintf("litellm-%s-1234567890.%s.elb.amazonaws.com", region, region);
        json_t *r = json_string(s);
        free(s);
        return r;
    }
    if ((out = json_object_get(v, "Fn::GetAtt")))
        return json_string("arn:aws:wafv2:us-east-1:123456789012:global/webacl/litellm-prod-edge/"
                           "0f0e0d0c-1111-2222-3333-444455556666");
    if ((out = json_object_get(v, "Ref"))) {
        char *s = dr_xasprintf("id-of-%s", json_string_value(out));
        json_t *r = json_string(s);
        free(s);
        return r;
    }
    json_t *o = json_object();
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e) json_object_set_new(o, k, resolve(e));
    return o;
}

static json_t *model_props(const char *logical_id)
{
    const char *src = getenv("DRCTL_SOURCE_DIR");
    cr_assert(src, "DRCTL_SOURCE_DIR is not set (run through ctest)");
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/regions", src);
    dr_profile_set set;
    memset(&set, 0, sizeof(set));
    dr_diags d = {0};
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_profiles_load(dir, &set, &d, &err), 0, "%s", err.msg);
    dr_model m;
    cr_assert_eq(dr_model_build_global(&set, &m, &err), 0, "%s", err.msg);
    const dr_resource *r = dr_model_find(&m, logical_id);
    cr_assert(r, "no %s in the global model", logical_id);
    json_t *p = resolve(r->properties);
    dr_model_free(&m);
    dr_profiles_free(&set);
    dr_diags_free(&d);
    return p;
}

static char *cf_body(json_t *config, dr_err *err)
{
    dr_buf b = DR_BUF_INIT;
    json_t *tags = json_pack("[{s:s, s:s}, {s:s, s:s}]", "Key", "drctl:stack", "Value",
                             "litellm-prod", "Key", "drctl:logical-id", "Value", "Distribution");
    int rc = dr_cf_create_with_tags_xml(config, "0123456789abcdef0123456789abcdef", tags, &b, err);
    json_decref(tags);
    if (rc != 0) {
        dr_buf_free(&b);
        return NULL;
    }
    return dr_buf_detach(&b);
}

/* The <DistributionConfig> of a CreateDistributionWithTags body, as JSON. */
static json_t *cf_back(const char *body)
{
    xmlDocPtr doc = dr_xml_parse(body, strlen(body));
    cr_assert(doc);
    json_t *j = dr_cf_config_json(dr_xml_find(xmlDocGetRootElement(doc), "DistributionConfig"));
    xmlFreeDoc(doc);
    return j;
}

TestSuite(cloudfront);

Test(cloudfront, model_distribution_is_valid_for_botocore_and_reads_back)
{
    json_t *bc = botocore_model("cloudfront", "2020-05-31");
    json_t *props = model_props("Distribution");
    json_t *config = json_object_get(props, "DistributionConfig");
    dr_err err;
    dr_err_clear(&err);
    char *body = cf_body(config, &err);
    cr_assert(body, "%s", err.msg);
    validate_request(bc, "CreateDistributionWithTags", body);
    json_t *back = cf_back(body);
    char *a = json_dumps(config, JSON_SORT_KEYS), *b = json_dumps(back, JSON_SORT_KEYS);
    cr_expect(json_equal(config, back), "read back differs:\n%s\n%s", a, b);
    free(a);
    free(b);
    json_decref(back);
    free(body);
    json_decref(props);
    json_decref(bc);
}

static xmlDocPtr parse(const char *body)
{
    xmlDocPtr doc = dr_xml_parse(body, strlen(body));
    cr_assert(doc, "not XML: %s", body);
    return doc;
}

static char *text_at(xmlDocPtr doc, const char *path)
{
    return dr_xml_text(xmlDocGetRootElement(doc), path);
}

static void expect_text(xmlDocPtr doc, const char *path, const char *want)
{
    char *got = text_at(doc, path);
    cr_expect(got, "%s missing", path);
    if (got)
        cr_expect_str_eq(got, want, "%s", path);
    free(got);
}

Test(cloudfront, model_translation_details)
{
    json_t *props = model_props("Distribution");
    dr_err err;
    dr_err_clear(&err);
    char *body = cf_body(json_object_get(props, "DistributionConfig"), &err);
    cr_assert(body, "%s", err.msg);
    xmlDocPtr doc = parse(body);
    const char *dc = "DistributionConfig";
    char p[256];
#define AT(s) (snprintf(p, sizeof(p), "%s/%s", dc, s), p)
    expect_text(doc, AT("CallerReference"), "0123456789abcdef0123456789abcdef");
    expect_text(doc, AT("Origins/Quantity"), "3");
    expect_text(doc, AT("Origins/Items/Origin/Id"), "api-failover-dns");
    expect_text(doc, AT("Origins/Items/Origin/CustomOriginConfig/OriginSslProtocols/Quantity"),
                "1");
    expect_text(doc,
                AT("Origins/Items/Origin/CustomOriginConfig/OriginSslProtocols/Items/SslProtocol"),
                "TLSv1.2");
    expect_text(doc, AT("OriginGroups/Quantity"), "1");
    expect_text(doc, AT("OriginGroups/Items/OriginGroup/FailoverCriteria/StatusCodes/Quantity"),
                "4");
    expect_text(doc, AT("OriginGroups/Items/OriginGroup/Members/Items/OriginGroupMember/OriginId"),
                "primary-alb");
    /* CachedMethods sits inside AllowedMethods in the API. */
    expect_text(doc, AT("DefaultCacheBehavior/AllowedMethods/Quantity"), "7");
    expect_text(doc, AT("DefaultCacheBehavior/AllowedMethods/CachedMethods/Quantity"), "2");
    cr_expect_null(
        dr_xml_find(xmlDocGetRootElement(doc), AT("DefaultCacheBehavior/CachedMethods")));
    expect_text(doc, AT("CacheBehaviors/Quantity"), "3");
    expect_text(doc, AT("CacheBehaviors/Items/CacheBehavior/PathPattern"), "/health/*");
    expect_text(doc, AT("IsIPV6Enabled"), "true");
    expect_text(doc, AT("WebACLId"),
                "arn:aws:wafv2:us-east-1:123456789012:global/webacl/litellm-prod-edge/"
                "0f0e0d0c-1111-2222-3333-444455556666");
    expect_text(doc, AT("Enabled"), "true");
    expect_text(doc, "Tags/Items/Tag/Key", "drctl:stack");
#undef AT
    /* The 500/502/503/504 failover criteria, in order. */
    xmlNodePtr sc =
        dr_xml_find(xmlDocGetRootElement(doc), "DistributionConfig/OriginGroups/Items/OriginGroup/"
                                               "FailoverCriteria/StatusCodes/Items/StatusCode");
    const char *want[] = {"500", "502", "503", "504"};
    for (int i = 0; i < 4; i++, sc = dr_xml_next_same(sc)) {
        cr_assert(sc);
        xmlChar *t = xmlNodeGetContent(sc);
        cr_expect_str_eq((const char *)t, want[i]);
        xmlFree(t);
    }
    xmlFreeDoc(doc);
    free(body);
    json_decref(props);
}

/* Every CloudFormation shape the translation knows, beyond what the model
 * uses today. */
static const char *full_config =
    "{\"Enabled\": true, \"Comment\": \"a <b> & c\", \"Aliases\": [\"llm.example.com\"],"
    " \"DefaultRootObject\": \"index.html\","
    " \"Origins\": [{\"Id\": \"s3\", \"DomainName\": \"b.s3.amazonaws.com\", \"OriginPath\": "
    "\"/p\","
    "   \"S3OriginConfig\": {}, \"OriginShield\": {\"Enabled\": true, \"OriginShieldRegion\": "
    "\"us-east-1\"},"
    "   \"OriginCustomHeaders\": [{\"HeaderName\": \"X-A\", \"HeaderValue\": \"1\"}]},"
    "  {\"Id\": \"c\", \"DomainName\": \"c.example.com\", \"CustomOriginConfig\": "
    "{\"OriginProtocolPolicy\": \"match-viewer\"}}],"
    " \"DefaultCacheBehavior\": {\"TargetOriginId\": \"s3\", \"ViewerProtocolPolicy\": "
    "\"redirect-to-https\","
    "   \"TrustedSigners\": [\"123456789012\"], \"TrustedKeyGroups\": [\"kg1\", \"kg2\"],"
    "   \"ForwardedValues\": {\"QueryString\": true, \"Headers\": [\"Origin\"],"
    "     \"QueryStringCacheKeys\": [\"q\"]},"
    "   \"LambdaFunctionAssociations\": [{\"EventType\": \"origin-request\", "
    "\"LambdaFunctionARN\": \"arn:aws:lambda:us-east-1:1:function:f:1\", \"IncludeBody\": "
    "false}],"
    "   \"FunctionAssociations\": [{\"EventType\": \"viewer-request\", \"FunctionARN\": "
    "\"arn:aws:cloudfront::1:function/f\"}],"
    "   \"MinTTL\": 0, \"DefaultTTL\": 60, \"MaxTTL\": 3600},"
    " \"CacheBehaviors\": [{\"PathPattern\": \"/x/*\", \"TargetOriginId\": \"c\","
    "   \"ViewerProtocolPolicy\": \"allow-all\", \"ForwardedValues\": {\"QueryString\": false,"
    "   \"Cookies\": {\"Forward\": \"whitelist\", \"WhitelistedNames\": [\"session\"]}}}],"
    " \"CustomErrorResponses\": [{\"ErrorCode\": 404, \"ResponseCode\": 200, "
    "\"ResponsePagePath\": \"/index.html\", \"ErrorCachingMinTTL\": 10}],"
    " \"Logging\": {\"Bucket\": \"logs.s3.amazonaws.com\", \"IncludeCookies\": false, "
    "\"Prefix\": \"cf/\"},"
    " \"PriceClass\": \"PriceClass_100\","
    " \"ViewerCertificate\": {\"AcmCertificateArn\": "
    "\"arn:aws:acm:us-east-1:1:certificate/x\", \"SslSupportMethod\": \"sni-only\","
    "   \"MinimumProtocolVersion\": \"TLSv1.2_2021\"},"
    " \"Restrictions\": {\"GeoRestriction\": {\"RestrictionType\": \"whitelist\", "
    "\"Locations\": [\"US\", \"DE\"]}},"
    " \"HttpVersion\": \"http2\", \"IPV6Enabled\": false, \"Staging\": false}";

Test(cloudfront, every_known_shape_is_valid_and_reads_back)
{
    json_t *bc = botocore_model("cloudfront", "2020-05-31");
    json_error_t je;
    json_t *config = json_loads(full_config, 0, &je);
    cr_assert(config, "%s", je.text);
    dr_err err;
    dr_err_clear(&err);
    char *body = cf_body(config, &err);
    cr_assert(body, "%s", err.msg);
    validate_request(bc, "CreateDistributionWithTags", body);
    xmlDocPtr doc = parse(body);
    const char *b = "DistributionConfig/DefaultCacheBehavior/";
    char p[256];
    snprintf(p, sizeof(p), "%sTrustedSigners/Enabled", b);
    expect_text(doc, p, "true");
    snprintf(p, sizeof(p), "%sTrustedKeyGroups/Quantity", b);
    expect_text(doc, p, "2");
    /* Required by the API, implied in CloudFormation. */
    snprintf(p, sizeof(p), "%sForwardedValues/Cookies/Forward", b);
    expect_text(doc, p, "none");
    expect_text(doc, "DistributionConfig/Logging/Enabled", "true");
    expect_text(doc, "DistributionConfig/Origins/Items/Origin/S3OriginConfig/OriginAccessIdentity",
                "");
    expect_text(doc, "DistributionConfig/Restrictions/GeoRestriction/Quantity", "2");
    expect_text(doc, "DistributionConfig/Restrictions/GeoRestriction/Items/Location", "US");
    expect_text(doc, "DistributionConfig/ViewerCertificate/ACMCertificateArn",
                "arn:aws:acm:us-east-1:1:certificate/x");
    expect_text(doc, "DistributionConfig/Comment", "a <b> & c");
    xmlFreeDoc(doc);

    /* Back to CloudFormation: the same, but for what the API requires and
     * CloudFormation defaulted (filled in above). */
    json_t *back = cf_back(body);
    json_t *want = json_deep_copy(config);
    json_t *s3 =
        json_object_get(json_array_get(json_object_get(want, "Origins"), 0), "S3OriginConfig");
    json_object_set_new(s3, "OriginAccessIdentity", json_string(""));
    json_t *c2 =
        json_object_get(json_array_get(json_object_get(want, "Origins"), 1), "CustomOriginConfig");
    json_object_set_new(c2, "HTTPPort", json_integer(80));
    json_object_set_new(c2, "HTTPSPort", json_integer(443));
    json_t *fv = json_object_get(json_object_get(want, "DefaultCacheBehavior"), "ForwardedValues");
    json_object_set_new(fv, "Cookies", json_pack("{s:s}", "Forward", "none"));
    char *x = json_dumps(want, JSON_SORT_KEYS), *y = json_dumps(back, JSON_SORT_KEYS);
    cr_expect(json_equal(want, back), "read back differs:\nwant %s\ngot  %s", x, y);
    free(x);
    free(y);
    json_decref(want);
    json_decref(back);
    free(body);
    json_decref(config);
    json_decref(bc);
}

static void expect_refused(const char *config_json, const char *path_in_msg)
{
    json_error_t je;
    json_t *config = json_loads(config_json, 0, &je);
    cr_assert(config, "%s", je.text);
    dr_err err;
    dr_err_clear(&err);
    char *body = cf_body(config, &err);
    cr_expect_null(body, "accepted %s", config_json);
    cr_expect_eq(err.code, DR_E_CONFIG);
    cr_expect(strstr(err.msg, path_in_msg), "message %s lacks %s", err.msg, path_in_msg);
    free(body);
    json_decref(config);
}

#define MINIMAL_ORIGINS "\"Origins\": [{\"Id\": \"o\", \"DomainName\": \"d.example.com\"}]"
#define MINIMAL_DEFAULT                                                                            \
    "\"DefaultCacheBehavior\": {\"TargetOriginId\": \"o\", \"ViewerProtocolPolicy\": "             \
    "\"allow-all\"}"

Test(cloudfront, unknown_properties_and_wrong_types_are_refused_with_their_path)
{
    expect_refused("{\"Enabled\": true, \"Bogus\": 1, " MINIMAL_ORIGINS ", " MINIMAL_DEFAULT "}",
                   "DistributionConfig.Bogus");
    expect_refused("{\"Enabled\": true, \"Origins\": [{\"Id\": \"o\", \"DomainName\": \"d\", "
                   "\"Nope\": 1}], " MINIMAL_DEFAULT "}",
                   "DistributionConfig.Origins[0].Nope");
    expect_refused("{\"Enabled\": \"yes\", " MINIMAL_ORIGINS ", " MINIMAL_DEFAULT "}",
                   "DistributionConfig.Enabled: expected true or false");
    expect_refused("{\"Enabled\": true, " MINIMAL_ORIGINS ", " MINIMAL_DEFAULT
                   ", \"CacheBehaviors\": [{\"PathPattern\": \"/a\", \"TargetOriginId\": \"o\", "
                   "\"ViewerProtocolPolicy\": \"allow-all\", \"MaxTTL\": \"ten\"}]}",
                   "DistributionConfig.CacheBehaviors[0].MaxTTL: expected an integer");
    /* DefaultCacheBehavior has no PathPattern. */
    expect_refused("{\"Enabled\": true, " MINIMAL_ORIGINS
                   ", \"DefaultCacheBehavior\": {\"PathPattern\": \"/\", \"TargetOriginId\": "
                   "\"o\", \"ViewerProtocolPolicy\": \"allow-all\"}}",
                   "DistributionConfig.DefaultCacheBehavior.PathPattern");
    /* An origin group's Quantity must match its Items. */
    expect_refused("{\"Enabled\": true, " MINIMAL_ORIGINS ", " MINIMAL_DEFAULT
                   ", \"OriginGroups\": {\"Quantity\": 2, \"Items\": []}}",
                   "DistributionConfig.OriginGroups.Quantity");
    /* The legacy shapes are not supported: refused, not dropped. */
    expect_refused("{\"Enabled\": true, \"CNAMEs\": [\"a\"], " MINIMAL_ORIGINS ", " MINIMAL_DEFAULT
                   "}",
                   "DistributionConfig.CNAMEs");
}

Test(cloudfront, minimal_config_gets_the_required_defaults)
{
    json_t *bc = botocore_model("cloudfront", "2020-05-31");
    json_error_t je;
    json_t *config =
        json_loads("{\"Enabled\": false, " MINIMAL_ORIGINS ", " MINIMAL_DEFAULT "}", 0, &je);
    dr_err err;
    dr_err_clear(&err);
    char *body = cf_body(config, &err);
    cr_assert(body, "%s", err.msg);
    validate_request(bc, "CreateDistributionWithTags", body);
    xmlDocPtr doc = parse(body);
    expect_text(doc, "DistributionConfig/Comment", "");
    expect_text(doc, "DistributionConfig/Enabled", "false");
    xmlFreeDoc(doc);

    /* UpdateDistribution's body is the bare DistributionConfig. */
    dr_buf b = DR_BUF_INIT;
    cr_assert_eq(dr_cf_config_xml(config, "ref-1", DR_CLOUDFRONT_XMLNS, &b, &err), 0, "%s",
                 err.msg);
    validate_request(bc, "UpdateDistribution", dr_buf_cstr(&b));
    dr_buf_free(&b);
    free(body);
    json_decref(config);
    json_decref(bc);
}

/* ---- Route 53 ------------------------------------------------------------ */

TestSuite(route53);

static char *create_hc_body(json_t *config)
{
    dr_buf b = DR_BUF_INIT;
    dr_buf_printf(&b,
                  "<CreateHealthCheckRequest xmlns=\"%s\"><CallerReference>tok"
                  "</CallerReference>",
                  DR_ROUTE53_XMLNS);
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_route53_health_check_config_xml(config, &b, &err), 0, "%s", err.msg);
    dr_buf_puts(&b, "</CreateHealthCheckRequest>");
    return dr_buf_detach(&b);
}

Test(route53, model_health_check_is_valid_and_reads_back)
{
    json_t *bc = botocore_model("route53", "2013-04-01");
    json_t *props = model_props("PrimaryHealthCheck");
    json_t *config = json_object_get(props, "HealthCheckConfig");
    char *body = create_hc_body(config);
    validate_request(bc, "CreateHealthCheck", body);
    xmlDocPtr doc = parse(body);
    expect_text(doc, "HealthCheckConfig/Type", "HTTPS_STR_MATCH");
    expect_text(doc, "HealthCheckConfig/ResourcePath", "/health/readiness");
    expect_text(doc, "HealthCheckConfig/SearchString", "\"db\":\"connected\"");
    expect_text(doc, "HealthCheckConfig/FullyQualifiedDomainName",
                "litellm-us-east-1-1234567890.us-east-1.elb.amazonaws.com");
    json_t *back = dr_route53_health_check_config_json(
        dr_xml_find(xmlDocGetRootElement(doc), "HealthCheckConfig"));
    cr_expect(json_equal(back, config));
    json_decref(back);
    xmlFreeDoc(doc);
    free(body);

    /* Every field, lists included. */
    json_error_t je;
    json_t *full = json_loads(
        "{\"Type\": \"CALCULATED\", \"Inverted\": true, \"Disabled\": false, "
        "\"HealthThreshold\": 1, \"ChildHealthChecks\": [\"a\", \"b\"], \"Regions\": "
        "[\"us-east-1\", \"us-west-2\", \"eu-west-1\"], \"InsufficientDataHealthStatus\": "
        "\"Healthy\", \"AlarmIdentifier\": {\"Name\": \"al\", \"Region\": \"us-east-1\"}}",
        0, &je);
    body = create_hc_body(full);
    validate_request(bc, "CreateHealthCheck", body);
    doc = parse(body);
    back = dr_route53_health_check_config_json(
        dr_xml_find(xmlDocGetRootElement(doc), "HealthCheckConfig"));
    cr_expect(json_equal(back, full));
    json_decref(back);
    xmlFreeDoc(doc);
    free(body);
    json_decref(full);
    json_decref(props);
    json_decref(bc);
}

Test(route53, health_check_update_resets_dropped_fields_and_refuses_fixed_ones)
{
    json_t *bc = botocore_model("route53", "2013-04-01");
    json_t *props = model_props("PrimaryHealthCheck");
    json_t *old = json_object_get(props, "HealthCheckConfig");
    json_t *nw = json_deep_copy(old);
    json_object_set_new(nw, "FailureThreshold", json_integer(5));
    json_object_set_new(nw, "SearchString", json_string("ok & <ready>"));
    json_object_del(nw, "ResourcePath");
    dr_buf b = DR_BUF_INIT;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_route53_health_check_update_xml(old, nw, &b, &err), 0, "%s", err.msg);
    validate_request(bc, "UpdateHealthCheck", dr_buf_cstr(&b));
    xmlDocPtr doc = parse(dr_buf_cstr(&b));
    expect_text(doc, "FailureThreshold", "5");
    expect_text(doc, "SearchString", "ok & <ready>");
    expect_text(doc, "ResetElements/ResettableElementName", "ResourcePath");
    cr_expect_null(dr_xml_find(xmlDocGetRootElement(doc), "Type"));
    xmlFreeDoc(doc);
    dr_buf_free(&b);

    json_object_set_new(nw, "RequestInterval", json_integer(10));
    cr_expect_eq(dr_route53_health_check_update_xml(old, nw, &b, &err), -1);
    cr_expect_eq(err.code, DR_E_CONFIG);
    cr_expect(strstr(err.msg, "RequestInterval"), "%s", err.msg);
    dr_buf_free(&b);
    json_decref(nw);
    json_decref(props);
    json_decref(bc);
}

Test(route53, failover_pair_change_batch_is_valid_and_reads_back)
{
    json_t *bc = botocore_model("route53", "2013-04-01");
    json_t *primary = model_props("PrimaryRecord");
    json_t *standby = model_props("StandbyRecord");
    json_t *records = json_pack("[O, O]", primary, standby);
    dr_buf b = DR_BUF_INIT;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_route53_change_batch_xml("UPSERT", records, "drctl failover", &b, &err), 0,
                 "%s", err.msg);
    validate_request(bc, "ChangeResourceRecordSets", dr_buf_cstr(&b));
    xmlDocPtr doc = parse(dr_buf_cstr(&b));
    expect_text(doc, "ChangeBatch/Comment", "drctl failover");
    expect_text(doc, "ChangeBatch/Changes/Change/Action", "UPSERT");
    xmlNodePtr ch = dr_xml_find(xmlDocGetRootElement(doc), "ChangeBatch/Changes/Change");
    const char *fo[] = {"PRIMARY", "SECONDARY"};
    json_t *src[] = {primary, standby};
    for (int i = 0; i < 2; i++, ch = dr_xml_next_same(ch)) {
        cr_assert(ch);
        xmlNodePtr rr = dr_xml_find(ch, "ResourceRecordSet");
        char *f = dr_xml_text(rr, "Failover");
        cr_expect_str_eq(f, fo[i]);
        free(f);
        char *hc = dr_xml_text(rr, "HealthCheckId");
        cr_expect_str_eq(hc, i ? "id-of-StandbyHealthCheck" : "id-of-PrimaryHealthCheck");
        free(hc);
        char *ev = dr_xml_text(rr, "AliasTarget/EvaluateTargetHealth");
        cr_expect_str_eq(ev, "true");
        free(ev);
        /* Back to CloudFormation: the record's own properties. */
        json_t *back = dr_route53_record_json(rr);
        json_t *want = json_deep_copy(src[i]);
        json_object_del(want, "HostedZoneName");
        cr_expect(json_equal(back, want));
        json_decref(want);
        json_decref(back);
    }
    xmlFreeDoc(doc);
    dr_buf_free(&b);

    /* A plain record: TTL as CloudFormation's string, ResourceRecords as
     * <ResourceRecord><Value>. */
    json_t *plain = json_pack("[{s:s, s:s, s:s, s:s, s:[s, s], s:s}]", "Name", "a.example.com.",
                              "Type", "TXT", "TTL", "300", "HostedZoneId", "Z1", "ResourceRecords",
                              "\"v=1\"", "\"x & y\"", "Comment", "c");
    cr_assert_eq(dr_route53_change_batch_xml("CREATE", plain, NULL, &b, &err), 0, "%s", err.msg);
    validate_request(bc, "ChangeResourceRecordSets", dr_buf_cstr(&b));
    doc = parse(dr_buf_cstr(&b));
    const char *rrp = "ChangeBatch/Changes/Change/ResourceRecordSet/";
    char p[256];
    snprintf(p, sizeof(p), "%sTTL", rrp);
    expect_text(doc, p, "300");
    snprintf(p, sizeof(p), "%sResourceRecords/ResourceRecord/Value", rrp);
    expect_text(doc, p, "\"v=1\"");
    snprintf(p, sizeof(p), "%sHostedZoneId", rrp);
    cr_expect_null(dr_xml_find(xmlDocGetRootElement(doc), p));
    xmlFreeDoc(doc);
    dr_buf_free(&b);

    json_object_set_new(json_array_get(plain, 0), "Foo", json_string("x"));
    cr_expect_eq(dr_route53_change_batch_xml("CREATE", plain, NULL, &b, &err), -1);
    cr_expect(strstr(err.msg, "Foo"), "%s", err.msg);
    dr_buf_free(&b);
    json_decref(plain);
    json_decref(records);
    json_decref(primary);
    json_decref(standby);
    json_decref(bc);
}

/* The answer's namespace, default or prefixed, must carry over into the
 * DELETE request. */
static void check_delete(const char *answer)
{
    xmlDocPtr in = parse(answer);
    xmlNodePtr rr = dr_xml_find(xmlDocGetRootElement(in), "ResourceRecordSets/ResourceRecordSet");
    cr_assert(rr);
    dr_buf b = DR_BUF_INIT;
    dr_route53_delete_xml(rr, &b);
    xmlDocPtr out = parse(dr_buf_cstr(&b));
    xmlNodePtr orr =
        dr_xml_find(xmlDocGetRootElement(out), "ChangeBatch/Changes/Change/ResourceRecordSet");
    cr_assert(orr, "%s", dr_buf_cstr(&b));
    cr_assert(orr->ns && orr->ns->href, "no namespace: %s", dr_buf_cstr(&b));
    cr_expect_str_eq((const char *)orr->ns->href, DR_ROUTE53_XMLNS);
    xmlNodePtr alias = dr_xml_find(orr, "AliasTarget/DNSName");
    cr_assert(alias && alias->ns);
    cr_expect_str_eq((const char *)alias->ns->href, DR_ROUTE53_XMLNS);
    expect_text(out, "ChangeBatch/Changes/Change/Action", "DELETE");
    json_t *a = dr_route53_record_json(rr), *o = dr_route53_record_json(orr);
    cr_expect(json_equal(a, o));
    json_decref(a);
    json_decref(o);
    xmlFreeDoc(out);
    xmlFreeDoc(in);
    dr_buf_free(&b);
}

#define RRSET                                                                                      \
    "<%sResourceRecordSet><%sName>llm.example.com.</%sName><%sType>A</%sType>"                     \
    "<%sSetIdentifier>s-us-east-1</%sSetIdentifier><%sFailover>PRIMARY</%sFailover>"               \
    "<%sAliasTarget><%sHostedZoneId>Z35SXDOTRQ7X7K</%sHostedZoneId><%sDNSName>a.elb.amazonaws."    \
    "com.</%sDNSName><%sEvaluateTargetHealth>true</%sEvaluateTargetHealth></%sAliasTarget>"        \
    "<%sHealthCheckId>hc-1</%sHealthCheckId></%sResourceRecordSet>"

Test(route53, delete_repeats_the_listed_record_in_route53s_namespace)
{
    char rr[2048], doc[4096];
    const char *np = "";
    snprintf(rr, sizeof(rr), RRSET, np, np, np, np, np, np, np, np, np, np, np, np, np, np, np, np,
             np, np, np, np);
    snprintf(doc, sizeof(doc),
             "<?xml version=\"1.0\"?><ListResourceRecordSetsResponse xmlns=\"%s\">"
             "<ResourceRecordSets>%s</ResourceRecordSets></ListResourceRecordSetsResponse>",
             DR_ROUTE53_XMLNS, rr);
    check_delete(doc);
    np = "r:";
    snprintf(rr, sizeof(rr), RRSET, np, np, np, np, np, np, np, np, np, np, np, np, np, np, np, np,
             np, np, np, np);
    snprintf(doc, sizeof(doc),
             "<?xml version=\"1.0\"?><r:ListResourceRecordSetsResponse xmlns:r=\"%s\">"
             "<r:ResourceRecordSets>%s</r:ResourceRecordSets></r:ListResourceRecordSetsResponse>",
             DR_ROUTE53_XMLNS, rr);
    check_delete(doc);
}
