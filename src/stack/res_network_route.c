/*
 * res_network_route.c - AWS::EC2::RouteTable, Route,
 * SubnetRouteTableAssociation, VPCEndpoint and FlowLog.
 *
 * Physical ids (CloudFormation's Ref): the route table id; "<rtb-id>|<destination>"
 * for a route (the registry resource's id: a route has no id in EC2); the
 * association id (rtbassoc-...); the endpoint id; the flow log id.
 *
 * Creates converge rather than fail where EC2 says "already there", so that
 * a retry after a lost answer, or a state file that was lost, ends in the
 * same place: a route that exists is replaced to point at the model's
 * target; a subnet associated with another table is moved over
 * (ReplaceRouteTableAssociation); a flow log that exists for the same
 * resource and destination with our tags is taken as ours.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stack/res_network_int.h"
#include "util/mem.h"

/* A call whose "not found" answer means done. */
static int call_gone_ok(dr_apply_ctx *c, const char *action, dr_kvlist *p, dr_err *err)
{
    int rc = net_ec2(c, action, p, NULL, err);
    if (rc != 0 && net_err_not_found(err)) {
        dr_err_clear(err);
        rc = 0;
    }
    return rc;
}

/* The first entry of an "unsuccessful" set (DeleteVpcEndpoints,
 * CreateFlowLogs, DeleteFlowLogs answer HTTP 200 with per-item errors) as
 * an AWS error; 0 when there is none or it is a NotFound and gone_ok. */
static int unsuccessful(xmlNodePtr root, const char *operation, int gone_ok, dr_err *err)
{
    xmlNodePtr u = dr_xml_find(root, "unsuccessful/item");
    if (!u)
        return 0;
    char *code = dr_xml_text(u, "error/code");
    char *msg = dr_xml_text(u, "error/message");
    char *res = dr_xml_text(u, "resourceId");
    int rc = 0;
    if (!(gone_ok && code && strstr(code, "NotFound"))) {
        dr_aws_error a;
        memset(&a, 0, sizeof(a));
        snprintf(a.service, sizeof(a.service), "ec2");
        snprintf(a.operation, sizeof(a.operation), "%s", operation);
        a.http_status = 200;
        snprintf(a.code, sizeof(a.code), "%s", code ? code : "Unsuccessful");
        snprintf(a.message, sizeof(a.message), "%s%s%s", res ? res : "", res ? ": " : "",
                 msg ? msg : "(no message)");
        rc = dr_err_set_aws(err, &a);
    }
    free(code);
    free(msg);
    free(res);
    return rc;
}

/* ======================================================================== */
/* AWS::EC2::RouteTable                                                     */
/* ======================================================================== */

static int rtb_live(xmlNodePtr item, dr_live *out, dr_err *err)
{
    char *id = dr_xml_text(item, "routeTableId");
    if (!id)
        return dr_err_set(err, DR_E_AWS, "EC2 answered without a route table id");
    json_t *props = json_object();
    json_t *v = net_json_text(item, "vpcId");
    if (v)
        json_object_set_new(props, "VpcId", v);
    net_live_set(out, id, json_pack("{s:s}", "RouteTableId", id), props);
    free(id);
    return 0;
}

int net_rtb_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                   const char *token, dr_live *out, dr_err *err)
{
    const char *vpc = net_str(props, "VpcId");
    if (!vpc)
        return dr_err_set(err, DR_E_CONFIG, "AWS::EC2::RouteTable %s: VpcId is not known",
                          logical_id);
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "VpcId", vpc);
    if (token && *token)
        dr_kv_add(&p, "ClientToken", token);
    net_tag_spec(&p, 1, "route-table", tags);
    xmlDocPtr doc = NULL;
    int rc = net_ec2(c, "CreateRouteTable", &p, &doc, err);
    dr_kv_free(&p);
    if (rc == 0) {
        xmlNodePtr item = dr_xml_find(net_root(doc), "routeTable");
        rc = item ? rtb_live(item, out, err)
                  : dr_err_set(err, DR_E_AWS, "CreateRouteTable answered without a table");
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_rtb_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                 dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *found = 0;
    int rc = net_find_tagged(c, "DescribeRouteTables", "routeTableSet/item", logical_id, NULL, NULL,
                             &doc, &item, err);
    if (rc == 0 && item) {
        rc = rtb_live(item, out, err);
        *found = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_rtb_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists, dr_live *out,
                 dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *exists = 0;
    int rc = net_describe_one(c, "DescribeRouteTables", "RouteTableId.1", physical_id,
                              "routeTableSet/item", &doc, &item, err);
    if (rc == 0 && item) {
        rc = rtb_live(item, out, err);
        *exists = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_rtb_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                   dr_live *out, dr_err *err)
{
    if (net_update_tags(c, physical_id, json_object_get(old_props, "Tags"),
                        json_object_get(new_props, "Tags"), err) != 0)
        return -1;
    int exists = 0;
    if (net_rtb_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    return exists
               ? 0
               : dr_err_set(err, DR_E_AWS, "route table %s disappeared during update", physical_id);
}

typedef struct del_ud {
    const char *action;
    const char *param;
    const char *id;
} del_ud;

static int del_attempt(dr_apply_ctx *c, void *ud, dr_err *err)
{
    del_ud *d = ud;
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, d->param, d->id);
    int rc = call_gone_ok(c, d->action, &p, err);
    dr_kv_free(&p);
    return rc;
}

int net_rtb_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    /* Associations and gateway endpoints are removed before the table; AWS
     * may take a moment to let go of them. */
    static const char *const busy[] = {"DependencyViolation", NULL};
    del_ud d = {"DeleteRouteTable", "RouteTableId", physical_id};
    char what[128];
    snprintf(what, sizeof(what), "route table %s to be free of associations", physical_id);
    return net_retry_busy(c, what, 300, busy, del_attempt, &d, err);
}

/* ======================================================================== */
/* AWS::EC2::Route                                                          */
/* ======================================================================== */

/* Route targets: the CloudFormation property (= the CreateRoute parameter)
 * and where DescribeRouteTables reports it. A gateway load balancer
 * endpoint target is reported as gatewayId. */
static const struct {
    const char *prop;
    const char *xml;
} targets[] = {
    {"GatewayId", "gatewayId"},
    {"NatGatewayId", "natGatewayId"},
    {"VpcEndpointId", "gatewayId"},
    {"TransitGatewayId", "transitGatewayId"},
    {"NetworkInterfaceId", "networkInterfaceId"},
    {"VpcPeeringConnectionId", "vpcPeeringConnectionId"},
    {"EgressOnlyInternetGatewayId", "egressOnlyInternetGatewayId"},
    {"InstanceId", "instanceId"},
    {"LocalGatewayId", "localGatewayId"},
    {"CarrierGatewayId", "carrierGatewayId"},
    {"CoreNetworkArn", "coreNetworkArn"},
};
#define NTARGETS (sizeof(targets) / sizeof(targets[0]))

static const char *const dest_props[] = {"DestinationCidrBlock", "DestinationIpv6CidrBlock",
                                         "DestinationPrefixListId", NULL};

/* The route's destination from the properties (any of the three). */
static const char *route_dest(json_t *props)
{
    for (const char *const *k = dest_props; *k; k++) {
        const char *s = net_str(props, *k);
        if (s)
            return s;
    }
    return NULL;
}

static void route_target_params(dr_kvlist *p, json_t *props)
{
    for (size_t i = 0; i < NTARGETS; i++) {
        const char *s = net_str(props, targets[i].prop);
        if (s)
            dr_kv_add(p, targets[i].prop, s);
    }
}

/* The XML element name of a destination parameter. */
static const char *dest_xml(const char *param)
{
    if (strcmp(param, "DestinationPrefixListId") == 0)
        return "destinationPrefixListId";
    if (strcmp(param, "DestinationIpv6CidrBlock") == 0)
        return "destinationIpv6CidrBlock";
    return "destinationCidrBlock";
}

/* The route to dest in a routeTableSet item, skipping the local route. */
static xmlNodePtr route_in(xmlNodePtr table, const char *dest)
{
    const char *field = dest_xml(net_route_dest_param(dest));
    for (xmlNodePtr r = dr_xml_find(table, "routeSet/item"); r; r = dr_xml_next_same(r)) {
        if (!net_xml_eq(r, field, dest))
            continue;
        if (net_xml_eq(r, "origin", "CreateRouteTable") || net_xml_eq(r, "gatewayId", "local"))
            continue;
        return r;
    }
    return NULL;
}

static void route_live(const char *rtb, const char *dest, xmlNodePtr route, dr_live *out)
{
    char *phys = dr_xasprintf("%s|%s", rtb, dest);
    json_t *props = json_pack("{s:s, s:s}", "RouteTableId", rtb, net_route_dest_param(dest), dest);
    for (size_t i = 0; route && i < NTARGETS; i++) {
        if (strcmp(targets[i].prop, "VpcEndpointId") == 0)
            continue; /* reported as gatewayId: GatewayId covers it */
        json_t *v = net_json_text(route, targets[i].xml);
        if (v && json_string_length(v) > 0)
            json_object_set_new(props, targets[i].prop, v);
        else
            json_decref(v);
    }
    net_live_set(out, phys, json_pack("{s:s}", "CidrBlock", dest), props);
    free(phys);
}

/* 1 when the route already points where props say. */
static int route_matches(xmlNodePtr route, json_t *props)
{
    for (size_t i = 0; i < NTARGETS; i++) {
        const char *s = net_str(props, targets[i].prop);
        if (s && !net_xml_eq(route, targets[i].xml, s))
            return 0;
    }
    return 1;
}

static int route_replace(dr_apply_ctx *c, const char *rtb, const char *dest, json_t *props,
                         dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "RouteTableId", rtb);
    dr_kv_add(&p, net_route_dest_param(dest), dest);
    route_target_params(&p, props);
    int rc = net_ec2(c, "ReplaceRoute", &p, NULL, err);
    dr_kv_free(&p);
    return rc;
}

/* The table and its route to dest (doc to free; *route NULL if none). */
static int route_lookup(dr_apply_ctx *c, const char *rtb, const char *dest, xmlDocPtr *doc,
                        xmlNodePtr *table, xmlNodePtr *route, dr_err *err)
{
    *route = NULL;
    if (net_describe_one(c, "DescribeRouteTables", "RouteTableId.1", rtb, "routeTableSet/item", doc,
                         table, err) != 0)
        return -1;
    if (*table)
        *route = route_in(*table, dest);
    return 0;
}

int net_route_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                     const char *token, dr_live *out, dr_err *err)
{
    const char *rtb = net_str(props, "RouteTableId");
    const char *dest = route_dest(props);
    if (!rtb || !dest)
        return dr_err_set(err, DR_E_CONFIG,
                          "AWS::EC2::Route %s: RouteTableId and a destination must be known",
                          logical_id);
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "RouteTableId", rtb);
    dr_kv_add(&p, net_route_dest_param(dest), dest);
    route_target_params(&p, props);
    int rc = net_ec2(c, "CreateRoute", &p, NULL, err);
    dr_kv_free(&p);
    if (rc != 0 && net_err_is(err, "RouteAlreadyExists")) {
        /* Ours from a retried create, or one made by hand: the model says
         * where this destination goes. */
        dr_err keep = *err;
        xmlDocPtr doc = NULL;
        xmlNodePtr table = NULL, route = NULL;
        rc = route_lookup(c, rtb, dest, &doc, &table, &route, err);
        if (rc == 0 && route && !route_matches(route, props))
            rc = route_replace(c, rtb, dest, props, err);
        else if (rc == 0 && !route) {
            *err = keep;
            rc = -1;
        }
        xmlFreeDoc(doc);
    }
    if (rc != 0)
        return -1;
    route_live(rtb, dest, NULL, out);
    /* What was asked is what is there now. */
    for (size_t i = 0; i < NTARGETS; i++) {
        const char *s = net_str(props, targets[i].prop);
        if (s)
            json_object_set_new(out->properties, targets[i].prop, json_string(s));
    }
    return 0;
}

int net_route_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                   dr_err *err)
{
    const char *rtb = net_str(props, "RouteTableId");
    const char *dest = route_dest(props);
    *found = 0;
    if (!rtb || !dest)
        return 0;
    xmlDocPtr doc = NULL;
    xmlNodePtr table = NULL, route = NULL;
    int rc = route_lookup(c, rtb, dest, &doc, &table, &route, err);
    if (rc == 0 && route) {
        route_live(rtb, dest, route, out);
        *found = 1;
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_route_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                   dr_live *out, dr_err *err)
{
    char *rtb = NULL, *dest = NULL;
    *exists = 0;
    if (net_split_id(physical_id, &rtb, &dest) != 0)
        return dr_err_set(err, DR_E_INTERNAL, "not a route id: %s", physical_id);
    xmlDocPtr doc = NULL;
    xmlNodePtr table = NULL, route = NULL;
    int rc = route_lookup(c, rtb, dest, &doc, &table, &route, err);
    if (rc == 0 && route) {
        route_live(rtb, dest, route, out);
        *exists = 1;
    }
    xmlFreeDoc(doc);
    free(rtb);
    free(dest);
    return rc;
}

int net_route_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                     dr_live *out, dr_err *err)
{
    char *rtb = NULL, *dest = NULL;
    if (net_split_id(physical_id, &rtb, &dest) != 0)
        return dr_err_set(err, DR_E_INTERNAL, "not a route id: %s", physical_id);
    int rc = route_replace(c, rtb, dest, new_props, err);
    int exists = 0;
    if (rc == 0)
        rc = net_route_read(c, physical_id, new_props, &exists, out, err);
    if (rc == 0 && !exists)
        rc = dr_err_set(err, DR_E_AWS, "route %s disappeared during update", physical_id);
    free(rtb);
    free(dest);
    return rc;
}

int net_route_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    char *rtb = NULL, *dest = NULL;
    if (net_split_id(physical_id, &rtb, &dest) != 0)
        return dr_err_set(err, DR_E_INTERNAL, "not a route id: %s", physical_id);
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "RouteTableId", rtb);
    dr_kv_add(&p, net_route_dest_param(dest), dest);
    int rc = call_gone_ok(c, "DeleteRoute", &p, err);
    dr_kv_free(&p);
    free(rtb);
    free(dest);
    return rc;
}

/* ======================================================================== */
/* AWS::EC2::SubnetRouteTableAssociation                                    */
/* ======================================================================== */

/* Where a subnet is associated now: *assoc and *rtb (caller frees) or NULL. */
static int subnet_assoc(dr_apply_ctx *c, const char *subnet, char **assoc, char **rtb, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    int k = 0;
    net_filter(&p, &k, "association.subnet-id", subnet);
    xmlDocPtr doc = NULL;
    *assoc = *rtb = NULL;
    int rc = net_ec2(c, "DescribeRouteTables", &p, &doc, err);
    dr_kv_free(&p);
    if (rc != 0)
        return -1;
    for (xmlNodePtr t = dr_xml_find(net_root(doc), "routeTableSet/item"); t && !*assoc;
         t = dr_xml_next_same(t))
        for (xmlNodePtr a = dr_xml_find(t, "associationSet/item"); a && !*assoc;
             a = dr_xml_next_same(a)) {
            if (!net_xml_eq(a, "subnetId", subnet))
                continue;
            char *st = dr_xml_text(a, "associationState/state");
            int live = !st || strcmp(st, "associated") == 0 || strcmp(st, "associating") == 0;
            free(st);
            if (!live)
                continue;
            *assoc = dr_xml_text(a, "routeTableAssociationId");
            *rtb = dr_xml_text(a, "routeTableId");
            if (!*rtb)
                *rtb = dr_xml_text(t, "routeTableId");
        }
    xmlFreeDoc(doc);
    return 0;
}

static void assoc_live(const char *id, const char *rtb, const char *subnet, dr_live *out)
{
    net_live_set(out, id, json_pack("{s:s}", "Id", id),
                 json_pack("{s:s, s:s}", "RouteTableId", rtb, "SubnetId", subnet));
}

int net_assoc_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                     const char *token, dr_live *out, dr_err *err)
{
    const char *rtb = net_str(props, "RouteTableId");
    const char *subnet = net_str(props, "SubnetId");
    if (!rtb || !subnet)
        return dr_err_set(err, DR_E_CONFIG,
                          "AWS::EC2::SubnetRouteTableAssociation %s: RouteTableId and SubnetId "
                          "must be known",
                          logical_id);
    char *assoc = NULL, *cur = NULL;
    if (subnet_assoc(c, subnet, &assoc, &cur, err) != 0)
        return -1;
    int rc = 0;
    char *id = NULL;
    dr_kvlist p = DR_KVLIST_INIT;
    xmlDocPtr doc = NULL;
    if (assoc && cur && strcmp(cur, rtb) == 0) {
        id = dr_xstrdup(assoc); /* already there: a retried create */
    } else if (assoc) {
        /* With another table (the main one's explicit association, or a
         * table of before): move it; a subnet has one association. */
        dr_kv_add(&p, "AssociationId", assoc);
        dr_kv_add(&p, "RouteTableId", rtb);
        rc = net_ec2(c, "ReplaceRouteTableAssociation", &p, &doc, err);
        if (rc == 0)
            id = dr_xml_text(net_root(doc), "newAssociationId");
    } else {
        dr_kv_add(&p, "RouteTableId", rtb);
        dr_kv_add(&p, "SubnetId", subnet);
        rc = net_ec2(c, "AssociateRouteTable", &p, &doc, err);
        if (rc == 0)
            id = dr_xml_text(net_root(doc), "associationId");
    }
    if (rc == 0 && !id)
        rc = dr_err_set(err, DR_E_AWS, "EC2 answered without an association id");
    if (rc == 0)
        assoc_live(id, rtb, subnet, out);
    xmlFreeDoc(doc);
    dr_kv_free(&p);
    free(id);
    free(assoc);
    free(cur);
    return rc;
}

int net_assoc_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                   dr_err *err)
{
    const char *rtb = net_str(props, "RouteTableId");
    const char *subnet = net_str(props, "SubnetId");
    *found = 0;
    if (!rtb || !subnet)
        return 0;
    char *assoc = NULL, *cur = NULL;
    if (subnet_assoc(c, subnet, &assoc, &cur, err) != 0)
        return -1;
    /* Associated elsewhere is not ours: create moves it over. */
    if (assoc && cur && strcmp(cur, rtb) == 0) {
        assoc_live(assoc, cur, subnet, out);
        *found = 1;
    }
    free(assoc);
    free(cur);
    return 0;
}

int net_assoc_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                   dr_live *out, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    int k = 0;
    net_filter(&p, &k, "association.route-table-association-id", physical_id);
    xmlDocPtr doc = NULL;
    *exists = 0;
    int rc = net_ec2(c, "DescribeRouteTables", &p, &doc, err);
    dr_kv_free(&p);
    if (rc != 0) {
        if (!net_err_not_found(err))
            return -1;
        dr_err_clear(err);
        return 0;
    }
    for (xmlNodePtr t = dr_xml_find(net_root(doc), "routeTableSet/item"); t && !*exists;
         t = dr_xml_next_same(t))
        for (xmlNodePtr a = dr_xml_find(t, "associationSet/item"); a && !*exists;
             a = dr_xml_next_same(a)) {
            if (!net_xml_eq(a, "routeTableAssociationId", physical_id))
                continue;
            char *st = dr_xml_text(a, "associationState/state");
            int live = !st || strcmp(st, "associated") == 0 || strcmp(st, "associating") == 0;
            free(st);
            char *rtb = dr_xml_text(a, "routeTableId");
            char *subnet = dr_xml_text(a, "subnetId");
            if (live && rtb && subnet) {
                assoc_live(physical_id, rtb, subnet, out);
                *exists = 1;
            }
            free(rtb);
            free(subnet);
        }
    xmlFreeDoc(doc);
    return 0;
}

int net_assoc_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "AssociationId", physical_id);
    int rc = call_gone_ok(c, "DisassociateRouteTable", &p, err);
    dr_kv_free(&p);
    return rc;
}

/* ======================================================================== */
/* AWS::EC2::VPCEndpoint                                                    */
/* ======================================================================== */

static const char *const VPCE_DEAD[] = {"deleting", "deleted", "failed",
                                        "rejected", "expired", NULL};

/* The policy as the API takes it: CloudFormation allows an object. */
static char *policy_text(json_t *props)
{
    json_t *v = json_object_get(props, "PolicyDocument");
    if (json_is_string(v))
        return net_known(json_string_value(v)) ? dr_xstrdup(json_string_value(v)) : NULL;
    if (json_is_object(v))
        return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    return NULL;
}

static int vpce_is_gateway(json_t *props)
{
    const char *t = net_str(props, "VpcEndpointType");
    return !t || strcmp(t, "Gateway") == 0; /* CloudFormation's default */
}

static int vpce_live(xmlNodePtr item, json_t *want, dr_live *out, dr_err *err)
{
    char *id = dr_xml_text(item, "vpcEndpointId");
    if (!id)
        return dr_err_set(err, DR_E_AWS, "EC2 answered without an endpoint id");
    json_t *attrs = json_pack("{s:s}", "Id", id);
    json_t *v = net_json_text(item, "creationTimestamp");
    if (v)
        json_object_set_new(attrs, "CreationTimestamp", v);
    /* CloudFormation's DnsEntries: "<hosted zone id>:<dns name>". */
    json_t *dns = json_array();
    for (xmlNodePtr d = dr_xml_find(item, "dnsEntrySet/item"); d; d = dr_xml_next_same(d)) {
        char *zone = dr_xml_text(d, "hostedZoneId");
        char *name = dr_xml_text(d, "dnsName");
        if (name) {
            char *e = dr_xasprintf("%s:%s", zone ? zone : "", name);
            json_array_append_new(dns, json_string(e));
            free(e);
        }
        free(zone);
        free(name);
    }
    json_object_set_new(attrs, "DnsEntries", dns);
    json_object_set_new(attrs, "NetworkInterfaceIds",
                        net_xml_list(item, "networkInterfaceIdSet/item", NULL));

    json_t *props = json_object();
    static const char *const map[][2] = {
        {"vpcId", "VpcId"}, {"serviceName", "ServiceName"}, {"vpcEndpointType", "VpcEndpointType"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if ((v = net_json_text(item, map[i][0])))
            json_object_set_new(props, map[i][1], v);
    if (net_xml_eq(item, "vpcEndpointType", "Gateway")) {
        json_object_set_new(props, "RouteTableIds",
                            net_order_like(net_xml_list(item, "routeTableIdSet/item", NULL),
                                           json_object_get(want, "RouteTableIds")));
    } else {
        if ((v = net_json_bool(item, "privateDnsEnabled")))
            json_object_set_new(props, "PrivateDnsEnabled", v);
        json_object_set_new(props, "SubnetIds",
                            net_order_like(net_xml_list(item, "subnetIdSet/item", NULL),
                                           json_object_get(want, "SubnetIds")));
        json_object_set_new(props, "SecurityGroupIds",
                            net_order_like(net_xml_list(item, "groupSet/item", "groupId"),
                                           json_object_get(want, "SecurityGroupIds")));
    }
    net_live_set(out, id, attrs, props);
    free(id);
    return 0;
}

int net_vpce_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                    const char *token, dr_live *out, dr_err *err)
{
    const char *vpc = net_str(props, "VpcId");
    const char *svc = net_str(props, "ServiceName");
    if (!vpc || !svc)
        return dr_err_set(err, DR_E_CONFIG,
                          "AWS::EC2::VPCEndpoint %s: VpcId and ServiceName must be known",
                          logical_id);
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "VpcId", vpc);
    dr_kv_add(&p, "ServiceName", svc);
    const char *type = net_str(props, "VpcEndpointType");
    dr_kv_add(&p, "VpcEndpointType", type ? type : "Gateway");
    char *policy = policy_text(props);
    if (policy)
        dr_kv_add(&p, "PolicyDocument", policy);
    free(policy);
    net_add_list(&p, "RouteTableId", props, "RouteTableIds");
    net_add_list(&p, "SubnetId", props, "SubnetIds");
    net_add_list(&p, "SecurityGroupId", props, "SecurityGroupIds");
    /* Private DNS is a property of interface endpoints only; EC2 refuses
     * it on a gateway endpoint. */
    if (!vpce_is_gateway(props) && net_has_bool(props, "PrivateDnsEnabled"))
        dr_kv_add(&p, "PrivateDnsEnabled",
                  net_bool(props, "PrivateDnsEnabled", 0) ? "true" : "false");
    const char *s = net_str(props, "IpAddressType");
    if (s)
        dr_kv_add(&p, "IpAddressType", s);
    json_t *dns = json_object_get(props, "DnsOptions");
    if ((s = net_str(dns, "DnsRecordIpType")))
        dr_kv_add(&p, "DnsOptions.DnsRecordIpType", s);
    if (net_has_bool(dns, "PrivateDnsOnlyForInboundResolverEndpoint"))
        dr_kv_add(&p, "DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint",
                  net_bool(dns, "PrivateDnsOnlyForInboundResolverEndpoint", 0) ? "true" : "false");
    if (token && *token)
        dr_kv_add(&p, "ClientToken", token);
    net_tag_spec(&p, 1, "vpc-endpoint", tags);
    xmlDocPtr doc = NULL;
    int rc = net_ec2(c, "CreateVpcEndpoint", &p, &doc, err);
    dr_kv_free(&p);
    if (rc == 0) {
        xmlNodePtr item = dr_xml_find(net_root(doc), "vpcEndpoint");
        rc = item ? vpce_live(item, props, out, err)
                  : dr_err_set(err, DR_E_AWS, "CreateVpcEndpoint answered without an endpoint");
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_vpce_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                  dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *found = 0;
    int rc = net_find_tagged(c, "DescribeVpcEndpoints", "vpcEndpointSet/item", logical_id, "state",
                             VPCE_DEAD, &doc, &item, err);
    if (rc == 0 && item) {
        rc = vpce_live(item, props, out, err);
        *found = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

static int vpce_state_dead(xmlNodePtr item)
{
    char *st = dr_xml_text(item, "state");
    int dead = 0;
    for (const char *const *d = VPCE_DEAD; *d && !dead; d++)
        dead = st && strcasecmp(st, *d) == 0;
    free(st);
    return dead;
}

int net_vpce_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                  dr_live *out, dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *exists = 0;
    int rc = net_describe_one(c, "DescribeVpcEndpoints", "VpcEndpointId.1", physical_id,
                              "vpcEndpointSet/item", &doc, &item, err);
    if (rc == 0 && item && !vpce_state_dead(item)) {
        rc = vpce_live(item, props, out, err);
        *exists = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

/* Add<Name>.n / Remove<Name>.n for the difference of two id lists. */
static int list_diff(dr_kvlist *p, const char *add, const char *remove, json_t *old_list,
                     json_t *new_list)
{
    int changed = 0, na = 0, nr = 0;
    size_t i;
    json_t *v;
    char name[64];
    json_array_foreach(new_list, i, v)
    {
        const char *s = json_string_value(v);
        int had = 0;
        size_t j;
        json_t *w;
        json_array_foreach(old_list, j, w) had |=
            s && json_string_value(w) && strcmp(s, json_string_value(w)) == 0;
        if (s && !had) {
            snprintf(name, sizeof(name), "%s.%d", add, ++na);
            dr_kv_add(p, name, s);
            changed = 1;
        }
    }
    json_array_foreach(old_list, i, v)
    {
        const char *s = json_string_value(v);
        int has = 0;
        size_t j;
        json_t *w;
        json_array_foreach(new_list, j, w) has |=
            s && json_string_value(w) && strcmp(s, json_string_value(w)) == 0;
        if (s && !has) {
            snprintf(name, sizeof(name), "%s.%d", remove, ++nr);
            dr_kv_add(p, name, s);
            changed = 1;
        }
    }
    return changed;
}

int net_vpce_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                    dr_live *out, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "VpcEndpointId", physical_id);
    int changed = 0;
    changed |= list_diff(&p, "AddRouteTableId", "RemoveRouteTableId",
                         json_object_get(old_props, "RouteTableIds"),
                         json_object_get(new_props, "RouteTableIds"));
    changed |=
        list_diff(&p, "AddSubnetId", "RemoveSubnetId", json_object_get(old_props, "SubnetIds"),
                  json_object_get(new_props, "SubnetIds"));
    changed |= list_diff(&p, "AddSecurityGroupId", "RemoveSecurityGroupId",
                         json_object_get(old_props, "SecurityGroupIds"),
                         json_object_get(new_props, "SecurityGroupIds"));
    char *pol0 = policy_text(old_props), *pol1 = policy_text(new_props);
    if (pol1 && (!pol0 || strcmp(pol0, pol1) != 0)) {
        dr_kv_add(&p, "PolicyDocument", pol1);
        changed = 1;
    } else if (!pol1 && pol0) {
        dr_kv_add(&p, "ResetPolicy", "true");
        changed = 1;
    }
    free(pol0);
    free(pol1);
    if (!vpce_is_gateway(new_props) && net_bool(old_props, "PrivateDnsEnabled", 0) !=
                                           net_bool(new_props, "PrivateDnsEnabled", 0)) {
        dr_kv_add(&p, "PrivateDnsEnabled",
                  net_bool(new_props, "PrivateDnsEnabled", 0) ? "true" : "false");
        changed = 1;
    }
    int rc = changed ? net_ec2(c, "ModifyVpcEndpoint", &p, NULL, err) : 0;
    dr_kv_free(&p);
    if (rc == 0)
        rc = net_update_tags(c, physical_id, json_object_get(old_props, "Tags"),
                             json_object_get(new_props, "Tags"), err);
    if (rc != 0)
        return -1;
    int exists = 0;
    if (net_vpce_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    return exists ? 0
                  : dr_err_set(err, DR_E_AWS, "endpoint %s disappeared during update", physical_id);
}

int net_vpce_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "VpcEndpointId.1", physical_id);
    xmlDocPtr doc = NULL;
    int rc = net_ec2(c, "DeleteVpcEndpoints", &p, &doc, err);
    dr_kv_free(&p);
    if (rc != 0 && net_err_not_found(err)) {
        dr_err_clear(err);
        rc = 0;
    } else if (rc == 0) {
        rc = unsuccessful(net_root(doc), "DeleteVpcEndpoints", 1, err);
    }
    xmlFreeDoc(doc);
    return rc;
}

static const char *const VPCE_OK[] = {"available", NULL};
static const char *const VPCE_BAD[] = {"failed",  "rejected", "deleting",
                                       "deleted", "expired",  NULL};
static const char *const VPCE_GONE[] = {"deleted", NULL};

int net_vpce_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    char what[128];
    snprintf(what, sizeof(what), "VPC endpoint %s to be available", physical_id);
    net_state_wait w = {what,
                        "DescribeVpcEndpoints",
                        "VpcEndpointId.1",
                        physical_id,
                        "vpcEndpointSet/item",
                        "state",
                        VPCE_OK,
                        VPCE_BAD,
                        "lastError/message",
                        0,
                        600};
    return net_wait_state(c, &w, err);
}

int net_vpce_wait_deleted(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    char what[128];
    snprintf(what, sizeof(what), "VPC endpoint %s to be deleted", physical_id);
    net_state_wait w = {what,
                        "DescribeVpcEndpoints",
                        "VpcEndpointId.1",
                        physical_id,
                        "vpcEndpointSet/item",
                        "state",
                        VPCE_GONE,
                        NULL,
                        NULL,
                        1,
                        600};
    return net_wait_state(c, &w, err);
}

/* ======================================================================== */
/* AWS::EC2::FlowLog                                                        */
/* ======================================================================== */

/* CloudFormation's ResourceType from the id's prefix (EC2 does not report
 * it). */
static const char *flow_resource_type(const char *id)
{
    static const struct {
        const char *prefix, *type;
    } m[] = {{"vpc-", "VPC"},
             {"subnet-", "Subnet"},
             {"eni-", "NetworkInterface"},
             {"tgw-attach-", "TransitGatewayAttachment"},
             {"tgw-", "TransitGateway"}};
    for (size_t i = 0; id && i < sizeof(m) / sizeof(m[0]); i++)
        if (strncmp(id, m[i].prefix, strlen(m[i].prefix)) == 0)
            return m[i].type;
    return NULL;
}

static int flow_live(xmlNodePtr item, json_t *want, dr_live *out, dr_err *err)
{
    char *id = dr_xml_text(item, "flowLogId");
    if (!id)
        return dr_err_set(err, DR_E_AWS, "EC2 answered without a flow log id");
    json_t *props = json_object();
    static const char *const map[][2] = {{"resourceId", "ResourceId"},
                                         {"trafficType", "TrafficType"},
                                         {"logDestinationType", "LogDestinationType"},
                                         {"logGroupName", "LogGroupName"},
                                         {"logDestination", "LogDestination"},
                                         {"deliverLogsPermissionArn", "DeliverLogsPermissionArn"},
                                         {"deliverCrossAccountRole", "DeliverCrossAccountRole"}};
    json_t *v;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if ((v = net_json_text(item, map[i][0])) && json_string_length(v) > 0)
            json_object_set_new(props, map[i][1], v);
        else
            json_decref(v);
    if ((v = net_json_int(item, "maxAggregationInterval")))
        json_object_set_new(props, "MaxAggregationInterval", v);
    /* AWS fills in a default format: report it only when the model sets one. */
    if (json_object_get(want, "LogFormat") && (v = net_json_text(item, "logFormat")))
        json_object_set_new(props, "LogFormat", v);
    const char *rt = flow_resource_type(json_string_value(json_object_get(props, "ResourceId")));
    if (rt)
        json_object_set_new(props, "ResourceType", json_string(rt));
    net_live_set(out, id, json_pack("{s:s}", "Id", id), props);
    free(id);
    return 0;
}

typedef struct flow_key {
    const char *resource;
    const char *group;
    const char *dest;
    const char *logical_id;
} flow_key;

/* The flow log of the same resource and destination that carries our tags
 * (AWS allows one per resource and destination). */
static int flow_same(dr_apply_ctx *c, xmlNodePtr item, void *ud)
{
    flow_key *k = ud;
    if (!net_xml_eq(item, "resourceId", k->resource))
        return 0;
    if (k->group && !net_xml_eq(item, "logGroupName", k->group))
        return 0;
    if (k->dest && !net_xml_eq(item, "logDestination", k->dest))
        return 0;
    return net_tags_match(c, item, k->logical_id);
}

int net_flowlog_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                       const char *token, dr_live *out, dr_err *err)
{
    const char *res = net_str(props, "ResourceId");
    const char *rtype = net_str(props, "ResourceType");
    if (!res || !rtype)
        return dr_err_set(err, DR_E_CONFIG,
                          "AWS::EC2::FlowLog %s: ResourceId and ResourceType must be known",
                          logical_id);
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "ResourceId.1", res);
    dr_kv_add(&p, "ResourceType", rtype);
    static const char *const pass[] = {"TrafficType",
                                       "LogDestinationType",
                                       "LogDestination",
                                       "LogGroupName",
                                       "DeliverLogsPermissionArn",
                                       "DeliverCrossAccountRole",
                                       "LogFormat",
                                       NULL};
    for (const char *const *k = pass; *k; k++) {
        const char *s = net_str(props, *k);
        if (s)
            dr_kv_add(&p, *k, s);
    }
    char buf[32];
    const char *s = net_scalar(props, "MaxAggregationInterval", buf, sizeof(buf));
    if (s)
        dr_kv_add(&p, "MaxAggregationInterval", s);
    json_t *opt = json_object_get(props, "DestinationOptions");
    if ((s = net_str(opt, "FileFormat")))
        dr_kv_add(&p, "DestinationOptions.FileFormat", s);
    if (net_has_bool(opt, "HiveCompatiblePartitions"))
        dr_kv_add(&p, "DestinationOptions.HiveCompatiblePartitions",
                  net_bool(opt, "HiveCompatiblePartitions", 0) ? "true" : "false");
    if (net_has_bool(opt, "PerHourPartition"))
        dr_kv_add(&p, "DestinationOptions.PerHourPartition",
                  net_bool(opt, "PerHourPartition", 0) ? "true" : "false");
    if (token && *token)
        dr_kv_add(&p, "ClientToken", token);
    net_tag_spec(&p, 1, "vpc-flow-log", tags);
    xmlDocPtr doc = NULL;
    int rc = net_ec2(c, "CreateFlowLogs", &p, &doc, err);
    dr_kv_free(&p);
    if (rc == 0)
        rc = unsuccessful(net_root(doc), "CreateFlowLogs", 0, err);
    char *id = rc == 0 ? dr_xml_text(net_root(doc), "flowLogIdSet/item") : NULL;
    xmlFreeDoc(doc);
    doc = NULL;
    if (rc != 0 && net_err_is(err, "FlowLogAlreadyExists")) {
        /* A retried create whose answer was lost (moto ignores ClientToken):
         * take it if it is ours. */
        dr_err keep = *err;
        dr_kvlist q = DR_KVLIST_INIT;
        int k = 0;
        net_filter(&q, &k, "resource-id", res);
        flow_key key = {res, net_str(props, "LogGroupName"), net_str(props, "LogDestination"),
                        logical_id};
        xmlNodePtr item = NULL;
        rc = net_describe_find(c, "DescribeFlowLogs", &q, "flowLogSet/item", flow_same, &key, &doc,
                               &item, err);
        dr_kv_free(&q);
        if (rc == 0 && item)
            id = dr_xml_text(item, "flowLogId");
        else if (rc == 0) {
            *err = keep;
            rc = -1;
        }
        xmlFreeDoc(doc);
        doc = NULL;
    }
    if (rc == 0 && !id)
        rc = dr_err_set(err, DR_E_AWS, "CreateFlowLogs answered without a flow log id");
    if (rc == 0) {
        int exists = 0;
        rc = net_flowlog_read(c, id, props, &exists, out, err);
        if (rc == 0 && !exists)
            net_live_set(out, id, json_pack("{s:s}", "Id", id), NULL);
    }
    free(id);
    return rc;
}

int net_flowlog_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                     dr_live *out, dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *found = 0;
    int rc = net_find_tagged(c, "DescribeFlowLogs", "flowLogSet/item", logical_id, NULL, NULL, &doc,
                             &item, err);
    if (rc == 0 && item) {
        rc = flow_live(item, props, out, err);
        *found = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_flowlog_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                     dr_live *out, dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *exists = 0;
    int rc = net_describe_one(c, "DescribeFlowLogs", "FlowLogId.1", physical_id, "flowLogSet/item",
                              &doc, &item, err);
    if (rc == 0 && item && net_xml_eq(item, "flowLogId", physical_id)) {
        rc = flow_live(item, props, out, err);
        *exists = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_flowlog_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                       json_t *new_props, dr_live *out, dr_err *err)
{
    if (net_update_tags(c, physical_id, json_object_get(old_props, "Tags"),
                        json_object_get(new_props, "Tags"), err) != 0)
        return -1;
    int exists = 0;
    if (net_flowlog_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    return exists ? 0
                  : dr_err_set(err, DR_E_AWS, "flow log %s disappeared during update", physical_id);
}

int net_flowlog_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "FlowLogId.1", physical_id);
    xmlDocPtr doc = NULL;
    int rc = net_ec2(c, "DeleteFlowLogs", &p, &doc, err);
    dr_kv_free(&p);
    if (rc != 0 && net_err_not_found(err)) {
        dr_err_clear(err);
        rc = 0;
    } else if (rc == 0) {
        rc = unsuccessful(net_root(doc), "DeleteFlowLogs", 1, err);
    }
    xmlFreeDoc(doc);
    return rc;
}
