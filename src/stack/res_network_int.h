/*
 * res_network_int.h - what the network family's files share (private to
 * src/stack/res_network*.c).
 *
 * All of the family is the EC2 API (ec2 protocol, 2016-11-15): parameters
 * are flattened as botocore's EC2 serializer does ("TagSpecification.1.Tag.1.Key",
 * "Filter.1.Value.1", "IpPermissions.1.Groups.1.GroupId", "SubnetId.1"),
 * answers are XML read by local names ("vpcSet/item").
 *
 * Conventions of these helpers:
 * - props are the resolved CloudFormation properties; a value that still
 *   reads DR_KNOWN_AFTER_APPLY counts as absent (net_str returns NULL).
 * - find never trusts server-side filters alone: it re-checks the
 *   drctl:stack / drctl:logical-id tags and the state on every item, because
 *   moto ignores tag filters for some calls (DescribeNatGateways) and AWS
 *   keeps deleted NAT gateways and endpoints visible for a while.
 */
#ifndef DRCTL_STACK_RES_NETWORK_INT_H
#define DRCTL_STACK_RES_NETWORK_INT_H

#include <jansson.h>
#include <libxml/tree.h>

#include "aws/xml.h"
#include "stack/handler.h"
#include "util/kv.h"

/* ---- calls and errors ---------------------------------------------------- */

/* One EC2 call in the context's region; *doc (if non-NULL) gets the answer. */
int net_ec2(dr_apply_ctx *c, const char *action, const dr_kvlist *params, xmlDocPtr *doc,
            dr_err *err);

/* 1 when AWS answered with exactly this error code. */
int net_err_is(const dr_err *err, const char *code);

/* 1 when AWS said the thing does not exist ("...NotFound" codes:
 * InvalidVpcID.NotFound, NatGatewayNotFound, InvalidAllocationID.NotFound...). */
int net_err_not_found(const dr_err *err);

/* ---- properties ---------------------------------------------------------- */

/* The string at key, or NULL when absent, not a string, or not known yet. */
const char *net_str(json_t *props, const char *key);

/* A string or a number (CloudFormation writes ports either way) as a
 * string in buf; NULL when absent or unknown. */
const char *net_scalar(json_t *props, const char *key, char *buf, size_t len);

/* Booleans as CloudFormation takes them: JSON true/false or "true"/"false".
 * Returns dflt when absent. */
int net_bool(json_t *props, const char *key, int dflt);

/* 1 when key holds a boolean (or "true"/"false"). */
int net_has_bool(json_t *props, const char *key);

/* A whole number (JSON integer or numeric string) into *out; 0 when absent. */
int net_long(json_t *props, const char *key, long *out);

/* A usable id: non-NULL, non-empty and not DR_KNOWN_AFTER_APPLY. */
int net_known(const char *s);

/* Appends "<prefix>.<n>" = each string of the JSON array at key (n from 1);
 * returns how many. */
int net_add_list(dr_kvlist *p, const char *prefix, json_t *props, const char *key);

/* ---- tags ---------------------------------------------------------------- */

/* TagSpecification.<n>.ResourceType and .Tag.<i>.Key/Value from a JSON
 * array of {Key, Value}. */
void net_tag_spec(dr_kvlist *p, int n, const char *resource_type, json_t *tags);

/* Adds "Filter.<k>" entries for drctl:stack and drctl:logical-id, starting
 * at *k (incremented). */
void net_tag_filters(dr_apply_ctx *c, dr_kvlist *p, const char *logical_id, int *k);

/* Adds one "Filter.<k>" with a single value. */
void net_filter(dr_kvlist *p, int *k, const char *name, const char *value);

/* 1 when the item's tagSet says drctl:stack = c->stack and drctl:logical-id
 * = logical_id. */
int net_tags_match(dr_apply_ctx *c, xmlNodePtr item, const char *logical_id);

/* The value of one tag in the item's tagSet (caller frees), or NULL. */
char *net_tag_value(xmlNodePtr item, const char *key);

/* Brings the tags of a resource from old to new (each a JSON array of
 * {Key, Value} or NULL): CreateTags for what is new or changed, DeleteTags
 * for keys that the old list had and the new one does not. Tags drctl did
 * not set are left alone. */
int net_update_tags(dr_apply_ctx *c, const char *id, json_t *old_tags, json_t *new_tags,
                    dr_err *err);

/* ---- reading answers ----------------------------------------------------- */

xmlNodePtr net_root(xmlDocPtr doc);

/* Text of a child path as a JSON string / boolean / integer, or NULL. */
json_t *net_json_text(xmlNodePtr n, const char *path);
json_t *net_json_bool(xmlNodePtr n, const char *path);
json_t *net_json_int(xmlNodePtr n, const char *path);

/* 1/0 for "true"/"false" at path, dflt when absent. */
int net_xml_bool(xmlNodePtr n, const char *path, int dflt);

/* 1 when the text at path equals s. */
int net_xml_eq(xmlNodePtr n, const char *path, const char *s);

/* The strings of a list ("subnetIdSet/item"), or of one field of each
 * element ("groupSet/item", "groupId") as a JSON array. */
json_t *net_xml_list(xmlNodePtr n, const char *items_path, const char *field);

/* `live`, or a copy of `want` when both are arrays of the same strings in
 * another order: AWS reports lists in an order of its own, and the model's
 * order is the one that must not show as a change. Steals live. */
json_t *net_order_like(json_t *live, json_t *want);

/*
 * Walks Describe* pages (NextToken) and returns the first item under
 * items_path ("vpcSet/item") that `match` accepts (1), with its document
 * (caller frees *doc); *item = NULL when none. match may be NULL (first
 * item). params are not modified.
 */
typedef int (*net_match_fn)(dr_apply_ctx *c, xmlNodePtr item, void *ud);
int net_describe_find(dr_apply_ctx *c, const char *action, const dr_kvlist *params,
                      const char *items_path, net_match_fn match, void *ud, xmlDocPtr *doc,
                      xmlNodePtr *item, dr_err *err);

/* Describes one resource by id ("VpcId.1" = id): *item NULL when it is gone
 * (a NotFound answer or an empty set); caller frees *doc. */
int net_describe_one(dr_apply_ctx *c, const char *action, const char *id_param, const char *id,
                     const char *items_path, xmlDocPtr *doc, xmlNodePtr *item, dr_err *err);

/*
 * The find of a tagged type: Describe with the tag filters, items re-checked
 * for the tags and, when state_path is set, for a state outside
 * dead_states (NULL-terminated). Warns when several match (a create that
 * was not idempotent) and takes the first.
 */
int net_find_tagged(dr_apply_ctx *c, const char *action, const char *items_path,
                    const char *logical_id, const char *state_path, const char *const *dead_states,
                    xmlDocPtr *doc, xmlNodePtr *item, dr_err *err);

/* ---- waiting ------------------------------------------------------------- */

/*
 * Polls `action` with "<id_param>" = id until the item's state_path reads one
 * of `ok` (done), one of `bad` (an error naming the state and the item's
 * failure message at fail_msg_path, if any), or, with gone_ok, until the
 * item is gone (NotFound or empty). default_timeout_s as for dr_wait.
 */
typedef struct net_state_wait {
    const char *what;     /* "NAT gateway nat-0123 to be available" */
    const char *action;   /* "DescribeNatGateways" */
    const char *id_param; /* "NatGatewayId.1" */
    const char *id;
    const char *items_path; /* "natGatewaySet/item" */
    const char *state_path; /* "state" */
    const char *const *ok;
    const char *const *bad;
    const char *fail_msg_path; /* "failureMessage" or NULL */
    int gone_ok;
    long default_timeout_s;
} net_state_wait;

int net_wait_state(dr_apply_ctx *c, const net_state_wait *w, dr_err *err);

/*
 * Runs `attempt` until it succeeds, retrying (bounded, with dr_wait pacing)
 * while it fails with one of the `busy` codes: AWS lets go of network
 * interfaces, addresses and attachments some time after the thing that held
 * them is gone, and answers DependencyViolation (or InvalidIPAddress.InUse)
 * meanwhile. Any other error is returned as it came.
 */
typedef int (*net_attempt_fn)(dr_apply_ctx *c, void *ud, dr_err *err);
int net_retry_busy(dr_apply_ctx *c, const char *what, long default_timeout_s,
                   const char *const *busy, net_attempt_fn attempt, void *ud, dr_err *err);

/* ---- results ------------------------------------------------------------- */

/* Fills out (physical id copied; attrs and props stolen, may be NULL). */
void net_live_set(dr_live *out, const char *phys, json_t *attrs, json_t *props);

/* ---- the handlers (res_network_vpc.c, res_network_route.c, res_network_sg.c) */

#define NET_HANDLER_DECL(name)                                                                     \
    int name##_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,        \
                      const char *token, dr_live *out, dr_err *err);                               \
    int name##_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,            \
                    dr_live *out, dr_err *err);                                                    \
    int name##_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,          \
                    dr_live *out, dr_err *err);                                                    \
    int name##_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err);

#define NET_UPDATE_DECL(name)                                                                      \
    int name##_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,                 \
                      json_t *new_props, dr_live *out, dr_err *err);

NET_HANDLER_DECL(net_vpc)
NET_UPDATE_DECL(net_vpc)
int net_vpc_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err);

NET_HANDLER_DECL(net_subnet)
NET_UPDATE_DECL(net_subnet)
int net_subnet_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err);

NET_HANDLER_DECL(net_igw)
NET_UPDATE_DECL(net_igw)

NET_HANDLER_DECL(net_attach)
NET_UPDATE_DECL(net_attach)

NET_HANDLER_DECL(net_eip)
NET_UPDATE_DECL(net_eip)

NET_HANDLER_DECL(net_nat)
NET_UPDATE_DECL(net_nat)
int net_nat_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err);
int net_nat_wait_deleted(dr_apply_ctx *c, const char *physical_id, dr_err *err);

NET_HANDLER_DECL(net_rtb)
NET_UPDATE_DECL(net_rtb)

NET_HANDLER_DECL(net_route)
NET_UPDATE_DECL(net_route)

NET_HANDLER_DECL(net_assoc)

NET_HANDLER_DECL(net_vpce)
NET_UPDATE_DECL(net_vpce)
int net_vpce_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err);
int net_vpce_wait_deleted(dr_apply_ctx *c, const char *physical_id, dr_err *err);

NET_HANDLER_DECL(net_flowlog)
NET_UPDATE_DECL(net_flowlog)

NET_HANDLER_DECL(net_sg)
NET_UPDATE_DECL(net_sg)

NET_HANDLER_DECL(net_sgegress)
NET_UPDATE_DECL(net_sgegress)

/* ---- pure helpers, exposed for unit tests -------------------------------- */

/* Splits "IGW|vpc-0123" / "rtb-0123|0.0.0.0/0" at the first '|': *a and *b
 * are copies (caller frees). -1 when there is no '|' or a side is empty. */
int net_split_id(const char *id, char **a, char **b);

/* Which destination parameter a route's destination belongs to:
 * "DestinationPrefixListId" (pl-...), "DestinationIpv6CidrBlock" (has ':'),
 * else "DestinationCidrBlock". */
const char *net_route_dest_param(const char *dest);

/* A security group rule, normalised so that the CloudFormation form and
 * AWS's answer compare equal: protocol names ("6" -> "tcp", "all" -> "-1"),
 * ports -1 where the protocol has none. */
typedef enum net_peer_kind {
    NET_PEER_CIDR4,
    NET_PEER_CIDR6,
    NET_PEER_GROUP,
    NET_PEER_PREFIX
} net_peer_kind;
typedef struct net_rule {
    char proto[16];
    long from, to;
    net_peer_kind kind;
    char peer[128]; /* CIDR, group id, or prefix list id */
    char owner[32]; /* group owner (account) when given */
    char desc[256]; /* "" when none */
    int has_desc;
} net_rule;

/* From one CloudFormation rule object (SecurityGroupIngress/Egress element,
 * or an AWS::EC2::SecurityGroupEgress's properties). egress picks the
 * Destination* names, else Source*. -1 (err set) when it names no peer or
 * the peer is not known yet. */
int net_rule_from_cfn(json_t *o, int egress, net_rule *r, dr_err *err);

/* The CloudFormation object of a rule (new reference). */
json_t *net_rule_to_cfn(const net_rule *r, int egress);

/* 1 when two rules are the same permission (description aside). */
int net_rule_same(const net_rule *a, const net_rule *b);

/* Normalises an IpProtocol value in place: lower case, names for 6/17/1,
 * "-1" for all. */
void net_proto_norm(char *p);

/* Adds the rule as IpPermissions.<n>.* (with its description when with_desc). */
void net_rule_params(dr_kvlist *p, int n, const net_rule *r, int with_desc);

#endif
