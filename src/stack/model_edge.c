/*
 * model_edge.c - the global family (us-east-1, edge on): the WAFv2 web
 * ACL, the CloudFront distribution, and the Route 53 health checks and
 * failover records.
 *
 * Why it looks like this:
 * - The regions' load balancers are inputs from the regional models
 *   (drctl::Output: AlbDnsName, AlbHostedZoneId), so the global model never
 *   guesses an ALB's name.
 * - WAF: a per-IP rate limit (edge.rate_limit requests per 5 minutes) ahead
 *   of AWS's IP reputation list, common rule set and known bad inputs. The
 *   common rule set's 8 KB body limit (SizeRestrictions_BODY) only counts:
 *   LLM prompts are routinely larger.
 * - Route 53: an HTTPS health check per region on the readiness path that
 *   passes only when the body says "db":"connected" (LiteLLM answers 200
 *   on readiness even with its database gone), and a PRIMARY/SECONDARY
 *   alias pair for dns.domain, so that DNS fails over on its own even when
 *   us-east-1's control plane cannot be reached; `failover` flips it too.
 * - CloudFront: an origin group fails over per request from the primary
 *   ALB to the standby's on 500/502/503/504 - but CloudFront fails over
 *   only GET/HEAD/OPTIONS and refuses an origin group on a cache behaviour
 *   that allows POST. LiteLLM's API is POST, so the default behaviour (all
 *   methods) goes to dns.domain itself over HTTPS, i.e. through the
 *   health-checked failover records to whichever region is serving (the
 *   ALBs' certificates are for dns.domain); the read-only paths (health,
 *   model lists) use the origin group. The ALB origins are plain HTTP: a
 *   certificate cannot match an ALB's own DNS name.
 * - Caching is off for everything (managed CachingDisabled), and every
 *   viewer header but Host goes to the origin (AllViewerExceptHostHeader),
 *   so that Authorization reaches LiteLLM.
 * - A resting backup-and-restore standby has no load balancer: the edge
 *   then has the primary's half only (its origin, health check and PRIMARY
 *   record, the read-only paths straight to its ALB), and failover applies
 *   the edge again once the standby serves.
 * - The distribution serves on its own *.cloudfront.net name: putting
 *   dns.domain on it would need a us-east-1 certificate, which the profile
 *   does not describe yet.
 */
#include <stdio.h>
#include <string.h>

#include "stack/model_int.h"
#include "util/mem.h"

#define CACHING_DISABLED "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
#define ALL_VIEWER_EXCEPT_HOST "b689b0a8-53d0-40ab-baf2-68738e2966ac"

static json_t *visibility(const char *stack, const char *what)
{
    char *metric = dr_xasprintf("%s-%s", stack, what);
    return json_pack("{s:b, s:b, s:o}", "SampledRequestsEnabled", 1, "CloudWatchMetricsEnabled", 1,
                     "MetricName", dr_str_take(metric));
}

static json_t *managed_rule(const char *stack, const char *name, int priority, const char *metric,
                            json_t *overrides)
{
    json_t *stmt = json_pack("{s:s, s:s}", "VendorName", "AWS", "Name", name);
    if (overrides)
        json_object_set_new(stmt, "RuleActionOverrides", overrides);
    return json_pack("{s:s, s:i, s:{s:o}, s:{s:{}}, s:o}", "Name", name, "Priority", priority,
                     "Statement", "ManagedRuleGroupStatement", stmt, "OverrideAction", "None",
                     "VisibilityConfig", visibility(stack, metric));
}

static void web_acl(dr_mb *b)
{
    const char *stack = b->stack;
    json_t *rules = json_pack("[{s:s, s:i, s:{s:{s:i, s:s}}, s:{s:{}}, s:o}]", "Name",
                              "rate-limit-per-ip", "Priority", 0, "Statement", "RateBasedStatement",
                              "Limit", b->p->edge.rate_limit, "AggregateKeyType", "IP", "Action",
                              "Block", "VisibilityConfig", visibility(stack, "rate-limit"));
    json_array_append_new(rules, managed_rule(stack, "AWSManagedRulesAmazonIpReputationList", 1,
                                              "ip-reputation", NULL));
    json_array_append_new(rules,
                          managed_rule(stack, "AWSManagedRulesCommonRuleSet", 2, "common",
                                       json_pack("[{s:s, s:{s:{}}}]", "Name",
                                                 "SizeRestrictions_BODY", "ActionToUse", "Count")));
    json_array_append_new(rules, managed_rule(stack, "AWSManagedRulesKnownBadInputsRuleSet", 3,
                                              "known-bad-inputs", NULL));
    char *name = dr_model_name(stack, "edge", 128);
    dr_mb_add(b, "WebAcl", "AWS::WAFv2::WebACL",
              json_pack("{s:o, s:s, s:s, s:{s:{}}, s:o, s:o}", "Name", dr_str_take(name),
                        "Description", "LiteLLM edge: rate limit and AWS managed rules", "Scope",
                        "CLOUDFRONT", "DefaultAction", "Allow", "VisibilityConfig",
                        visibility(stack, "edge"), "Rules", rules));
    dr_mb_output(b, "WebAclArn", dr_getatt("WebAcl", "Arn"), "WAF web ACL (CLOUDFRONT scope)");
}

static json_t *custom_origin(const char *id, json_t *domain, const char *protocol)
{
    return json_pack("{s:s, s:o, s:i, s:i, s:{s:s, s:i, s:i, s:i, s:i, s:[s]}}", "Id", id,
                     "DomainName", domain, "ConnectionAttempts", 3, "ConnectionTimeout", 10,
                     "CustomOriginConfig", "OriginProtocolPolicy", protocol, "HTTPPort", 80,
                     "HTTPSPort", 443, "OriginReadTimeout", 60, "OriginKeepaliveTimeout", 5,
                     "OriginSSLProtocols", "TLSv1.2");
}

static json_t *read_only_behaviour(const char *path, const char *target)
{
    return json_pack("{s:s, s:s, s:s, s:[s, s, s], s:[s, s], s:s, s:s, s:b}", "PathPattern", path,
                     "TargetOriginId", target, "ViewerProtocolPolicy", "https-only",
                     "AllowedMethods", "GET", "HEAD", "OPTIONS", "CachedMethods", "GET", "HEAD",
                     "CachePolicyId", CACHING_DISABLED, "OriginRequestPolicyId",
                     ALL_VIEWER_EXCEPT_HOST, "Compress", 0);
}

static void distribution(dr_mb *b)
{
    const char *primary = b->p->region, *standby = b->peer->region;
    const char *domain = b->p->dns.domain;
    char comment[128];
    if (b->peer_serves)
        snprintf(comment, sizeof(comment), "drctl %s: LiteLLM, %s -> %s", b->stack, primary,
                 standby);
    else
        snprintf(comment, sizeof(comment), "drctl %s: LiteLLM, %s", b->stack, primary);
    json_t *origins = json_pack(
        "[o, o]", custom_origin("api-failover-dns", json_string(domain), "https-only"),
        custom_origin("primary-alb", dr_other_output(primary, "AlbDnsName"), "http-only"));
    /* The read-only paths fail over per request when there is a standby
     * to fail over to, else go to the primary's ALB. */
    const char *read_target = "primary-alb";
    json_t *groups = NULL;
    if (b->peer_serves) {
        json_array_append_new(
            origins,
            custom_origin("standby-alb", dr_other_output(standby, "AlbDnsName"), "http-only"));
        groups =
            json_pack("{s:i, s:[{s:s, s:{s:{s:i, s:[i, i, i, i]}}, s:{s:i, s:[{s:s}, {s:s}]}}]}",
                      "Quantity", 1, "Items", "Id", "alb-failover", "FailoverCriteria",
                      "StatusCodes", "Quantity", 4, "Items", 500, 502, 503, 504, "Members",
                      "Quantity", 2, "Items", "OriginId", "primary-alb", "OriginId", "standby-alb");
        read_target = "alb-failover";
    }
    json_t *def =
        json_pack("{s:s, s:s, s:[s, s, s, s, s, s, s], s:[s, s], s:s, s:s, s:b}", "TargetOriginId",
                  "api-failover-dns", "ViewerProtocolPolicy", "https-only", "AllowedMethods", "GET",
                  "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE", "CachedMethods", "GET",
                  "HEAD", "CachePolicyId", CACHING_DISABLED, "OriginRequestPolicyId",
                  ALL_VIEWER_EXCEPT_HOST, "Compress", 0);
    json_t *behaviours = json_pack("[o, o, o]", read_only_behaviour("/health/*", read_target),
                                   read_only_behaviour("/v1/models", read_target),
                                   read_only_behaviour("/models", read_target));
    json_t *config = json_pack(
        "{s:b, s:s, s:s, s:b, s:s, s:o, s:o, s:o, s:o, s:{s:b}}", "Enabled", 1, "Comment", comment,
        "HttpVersion", "http2and3", "IPV6Enabled", 1, "PriceClass", "PriceClass_All", "WebACLId",
        dr_getatt("WebAcl", "Arn"), "Origins", origins, "DefaultCacheBehavior", def,
        "CacheBehaviors", behaviours, "ViewerCertificate", "CloudFrontDefaultCertificate", 1);
    if (groups)
        json_object_set_new(config, "OriginGroups", groups);
    dr_mb_add(b, "Distribution", "AWS::CloudFront::Distribution",
              json_pack("{s:o}", "DistributionConfig", config));
    dr_mb_output(b, "DistributionId", dr_ref("Distribution"), "CloudFront distribution id");
    dr_mb_output(b, "DistributionDomainName", dr_getatt("Distribution", "DomainName"),
                 "The edge's public name (*.cloudfront.net)");
}

static char *with_dot(const char *name)
{
    size_t n = strlen(name);
    return n && name[n - 1] == '.' ? dr_xstrdup(name) : dr_xasprintf("%s.", name);
}

static void failover_region(dr_mb *b, const char *role, const dr_region_profile *r,
                            const char *failover)
{
    const dr_region_profile *p = b->p;
    char hc[64], rec[64], out[64], desc[128];
    snprintf(hc, sizeof(hc), "%sHealthCheck", role);
    snprintf(rec, sizeof(rec), "%sRecord", role);
    dr_mb_add(b, hc, "AWS::Route53::HealthCheck",
              json_pack("{s:{s:s, s:o, s:i, s:s, s:s, s:i, s:i, s:b}}", "HealthCheckConfig", "Type",
                        "HTTPS_STR_MATCH", "FullyQualifiedDomainName",
                        dr_other_output(r->region, "AlbDnsName"), "Port", 443, "ResourcePath",
                        r->service.readiness_path, "SearchString", "\"db\":\"connected\"",
                        "RequestInterval", 30, "FailureThreshold", 3, "EnableSNI", 1));
    char *zone = with_dot(p->dns.hosted_zone);
    char *name = with_dot(p->dns.domain);
    char *set_id = dr_xasprintf("%s-%s", b->stack, r->region);
    dr_mb_add(b, rec, "AWS::Route53::RecordSet",
              json_pack("{s:o, s:o, s:s, s:o, s:s, s:o, s:{s:o, s:o, s:b}}", "HostedZoneName",
                        dr_str_take(zone), "Name", dr_str_take(name), "Type", "A", "SetIdentifier",
                        dr_str_take(set_id), "Failover", failover, "HealthCheckId", dr_ref(hc),
                        "AliasTarget", "DNSName", dr_other_output(r->region, "AlbDnsName"),
                        "HostedZoneId", dr_other_output(r->region, "AlbHostedZoneId"),
                        "EvaluateTargetHealth", 1));
    snprintf(out, sizeof(out), "%sHealthCheckId", role);
    snprintf(desc, sizeof(desc), "Route 53 health check of %s (%s)", r->region, failover);
    dr_mb_output(b, out, dr_ref(hc), desc);
}

void dr_build_edge(dr_mb *b)
{
    web_acl(b);
    distribution(b);
    failover_region(b, "Primary", b->p, "PRIMARY");
    if (b->peer_serves)
        failover_region(b, "Standby", b->peer, "SECONDARY");
}
