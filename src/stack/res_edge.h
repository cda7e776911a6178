/*
 * res_edge.h - the edge family's translations and the Route 53 calls that
 * the failover runbook reuses.
 *
 * The edge handlers themselves (WAFv2 web ACL, CloudFront distribution,
 * Route 53 health check and record set) are registered through
 * dr_handlers_edge in res_edge.c; this header exposes what is useful
 * beyond them:
 *
 * - The translation between CloudFormation's property shapes (JSON, as the
 *   model writes them) and the rest-xml request bodies of CloudFront and
 *   Route 53 (res_edge_cf.c). It is table-driven, follows botocore's member
 *   order (CloudFront validates its XML against a schema with ordered
 *   sequences), refuses properties it does not know instead of dropping
 *   them, and reads AWS's answers back into CloudFormation's shapes.
 * - Route 53 record changes in one atomic change batch, and waiting for a
 *   change to be INSYNC: what `failover` needs to flip the PRIMARY and
 *   SECONDARY records (UPSERT both in one batch).
 */
#ifndef DRCTL_STACK_RES_EDGE_H
#define DRCTL_STACK_RES_EDGE_H

#include <jansson.h>
#include <libxml/tree.h>

#include "aws/client.h"
#include "stack/handler.h"
#include "util/buf.h"
#include "util/err.h"

#define DR_CLOUDFRONT_XMLNS "http://cloudfront.amazonaws.com/doc/2020-05-31/"
#define DR_ROUTE53_XMLNS "https://route53.amazonaws.com/doc/2013-04-01/"

/* ---- CloudFront ------------------------------------------------------ */

/*
 * Appends <DistributionConfig>...</DistributionConfig> (no namespace
 * declaration: the caller's root element carries it; pass xmlns to put one
 * on this element when it is the root) for CloudFormation's
 * DistributionConfig, with CallerReference first. Lists become
 * <Quantity>N</Quantity><Items>...</Items>, AllowedMethods takes the
 * sibling CachedMethods inside it, IPV6Enabled becomes IsIPV6Enabled, and
 * so on. DR_E_CONFIG naming the property path for a property it does not
 * know or a value of the wrong type; `out` is then left with partial
 * content that the caller discards.
 */
int dr_cf_config_xml(json_t *config, const char *caller_reference, const char *xmlns, dr_buf *out,
                     dr_err *err);

/* CloudFormation's DistributionConfig from a <DistributionConfig> element
 * of a CloudFront answer (elements drctl does not know are left out; so are
 * empty lists). New reference; never NULL. */
json_t *dr_cf_config_json(xmlNodePtr config);

/* The whole CreateDistributionWithTags body: DistributionConfigWithTags
 * with the tags (a JSON array of {Key, Value}). */
int dr_cf_create_with_tags_xml(json_t *config, const char *caller_reference, json_t *tags,
                               dr_buf *out, dr_err *err);

/* ---- Route 53 -------------------------------------------------------- */

/* Appends <HealthCheckConfig>...</HealthCheckConfig> for CloudFormation's
 * HealthCheckConfig. */
int dr_route53_health_check_config_xml(json_t *config, dr_buf *out, dr_err *err);

/* The whole UpdateHealthCheck body that turns old_config into new_config:
 * every updatable field of new_config, and ResetElements for the resettable
 * ones (FullyQualifiedDomainName, Regions, ResourcePath, ChildHealthChecks)
 * that old_config had and new_config dropped. DR_E_CONFIG when a field that
 * Route 53 cannot change in place (Type, RequestInterval, MeasureLatency,
 * RoutingControlArn) differs. */
int dr_route53_health_check_update_xml(json_t *old_config, json_t *new_config, dr_buf *out,
                                       dr_err *err);

json_t *dr_route53_health_check_config_json(xmlNodePtr config);

/* Appends <ResourceRecordSet>...</ResourceRecordSet> for the properties of
 * an AWS::Route53::RecordSet (HostedZoneName, HostedZoneId and Comment are
 * not part of it). */
int dr_route53_record_xml(json_t *record, dr_buf *out, dr_err *err);

json_t *dr_route53_record_json(xmlNodePtr rrset);

/*
 * The whole ChangeResourceRecordSets body: one change with `action`
 * ("CREATE", "UPSERT", "DELETE") per element of `records` (an array of
 * RecordSet properties), in one batch that Route 53 applies atomically.
 * comment may be NULL.
 */
int dr_route53_change_batch_xml(const char *action, json_t *records, const char *comment,
                                dr_buf *out, dr_err *err);

/* The ChangeResourceRecordSets body that deletes a record exactly as
 * Route 53 listed it (`rrset` is a <ResourceRecordSet> of a
 * ListResourceRecordSets answer): DELETE must repeat every value. */
void dr_route53_delete_xml(xmlNodePtr rrset, dr_buf *out);

/* The id ("Z0123...", without "/hostedzone/") of the hosted zone named
 * zone_name (trailing dot optional). DR_E_NOT_FOUND when there is none,
 * DR_E_CONFIG when two zones have that name (public and private): the model
 * must then give HostedZoneId. */
int dr_route53_zone_id(dr_aws *aws, const char *zone_name, char **out, dr_err *err);

/* Applies dr_route53_change_batch_xml(action, records, comment) to the zone;
 * *change_id (may be NULL) receives the change's id for
 * dr_route53_wait_insync. */
int dr_route53_change_records(dr_aws *aws, const char *zone_id, const char *action, json_t *records,
                              const char *comment, char **change_id, dr_err *err);

/* Polls GetChange until the change is INSYNC (all Route 53 name servers
 * answer with it), paced by c's wait settings; default limit 10 minutes. */
int dr_route53_wait_insync(dr_apply_ctx *c, const char *change_id, dr_err *err);

#endif
