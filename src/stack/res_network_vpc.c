/*
 * res_network_vpc.c - AWS::EC2::VPC, Subnet, InternetGateway,
 * VPCGatewayAttachment, EIP and NatGateway.
 *
 * Physical ids are what CloudFormation's Ref returns: the VPC, subnet,
 * internet gateway and NAT gateway ids, the EIP's public address, and
 * "IGW|<vpc-id>" for a gateway attachment (the registry resource's id: the
 * attachment has no id of its own in EC2).
 *
 * Why some things are done the way they are:
 * - CreateVpc and CreateSubnet take no idempotency token; the engine looks
 *   by tags before a retried create. Their attributes (DNS support and
 *   hostnames, public IPs on launch) are separate calls: when one fails,
 *   create deletes what it just made, so that a retry does not adopt a
 *   half-configured resource.
 * - A NAT gateway is deleted asynchronously and its EIP stays associated
 *   until it is gone: remove waits (wait_deleted) and the EIP's remove
 *   retries InvalidIPAddress.InUse for a while. The internet gateway cannot
 *   be detached while public addresses are mapped in the VPC
 *   (DependencyViolation): detach retries too. Subnets and VPCs answer
 *   DependencyViolation until AWS has released the ENIs of endpoints, NAT
 *   gateways and tasks: their removes retry, bounded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack/res_network_int.h"
#include "util/mem.h"

static const char *const BUSY_DEPENDENCY[] = {"DependencyViolation", NULL};

/* ======================================================================== */
/* AWS::EC2::VPC                                                            */
/* ======================================================================== */

static int vpc_attr_get(dr_apply_ctx *c, const char *vpc, const char *attr, json_t **out,
                        dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "VpcId", vpc);
    dr_kv_add(&p, "Attribute", attr);
    xmlDocPtr doc = NULL;
    int rc = net_ec2(c, "DescribeVpcAttribute", &p, &doc, err);
    dr_kv_free(&p);
    if (rc == 0) {
        char path[64];
        snprintf(path, sizeof(path), "%s/value", attr);
        *out = net_json_bool(net_root(doc), path);
    }
    xmlFreeDoc(doc);
    return rc;
}

static int vpc_attr_set(dr_apply_ctx *c, const char *vpc, const char *attr, int on, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "VpcId", vpc);
    char name[64];
    snprintf(name, sizeof(name), "%s.Value", attr);
    dr_kv_add(&p, name, on ? "true" : "false");
    int rc = net_ec2(c, "ModifyVpcAttribute", &p, NULL, err);
    dr_kv_free(&p);
    return rc;
}

/* The id of the first item a filtered Describe returns, or NULL. */
static int first_id(dr_apply_ctx *c, const char *action, const char *items_path,
                    const char *id_field, const char *f1, const char *v1, const char *f2,
                    const char *v2, char **out, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    int k = 0;
    net_filter(&p, &k, f1, v1);
    if (f2)
        net_filter(&p, &k, f2, v2);
    xmlDocPtr doc = NULL;
    int rc = net_ec2(c, action, &p, &doc, err);
    dr_kv_free(&p);
    *out = NULL;
    if (rc == 0) {
        xmlNodePtr it = dr_xml_find(net_root(doc), items_path);
        *out = it ? dr_xml_text(it, id_field) : NULL;
    }
    xmlFreeDoc(doc);
    return rc;
}

/* Attributes from a vpcSet item (or CreateVpc's vpc); with `full`, also
 * the DNS settings as properties and the default security group and
 * network ACL, which cost a call each. */
static int vpc_live(dr_apply_ctx *c, xmlNodePtr item, int full, dr_live *out, dr_err *err)
{
    char *id = dr_xml_text(item, "vpcId");
    if (!id)
        return dr_err_set(err, DR_E_AWS, "EC2 answered without a VPC id");
    json_t *attrs = json_object();
    json_object_set_new(attrs, "VpcId", json_string(id));
    json_t *v = net_json_text(item, "cidrBlock");
    if (v)
        json_object_set_new(attrs, "CidrBlock", v);
    json_object_set_new(attrs, "CidrBlockAssociations",
                        net_xml_list(item, "cidrBlockAssociationSet/item", "associationId"));
    json_object_set_new(attrs, "Ipv6CidrBlocks",
                        net_xml_list(item, "ipv6CidrBlockAssociationSet/item", "ipv6CidrBlock"));
    json_t *props = json_object();
    if ((v = net_json_text(item, "cidrBlock")))
        json_object_set_new(props, "CidrBlock", v);
    if ((v = net_json_text(item, "instanceTenancy")))
        json_object_set_new(props, "InstanceTenancy", v);
    int rc = 0;
    if (full) {
        json_t *sup = NULL, *host = NULL;
        char *sg = NULL, *acl = NULL;
        rc = vpc_attr_get(c, id, "enableDnsSupport", &sup, err);
        if (rc == 0)
            rc = vpc_attr_get(c, id, "enableDnsHostnames", &host, err);
        if (rc == 0)
            rc = first_id(c, "DescribeSecurityGroups", "securityGroupInfo/item", "groupId",
                          "vpc-id", id, "group-name", "default", &sg, err);
        if (rc == 0)
            rc = first_id(c, "DescribeNetworkAcls", "networkAclSet/item", "networkAclId", "vpc-id",
                          id, "default", "true", &acl, err);
        if (sup)
            json_object_set_new(props, "EnableDnsSupport", sup);
        if (host)
            json_object_set_new(props, "EnableDnsHostnames", host);
        if (sg)
            json_object_set_new(attrs, "DefaultSecurityGroup", json_string(sg));
        if (acl)
            json_object_set_new(attrs, "DefaultNetworkAcl", json_string(acl));
        free(sg);
        free(acl);
    }
    if (rc == 0)
        net_live_set(out, id, attrs, props);
    else {
        json_decref(attrs);
        json_decref(props);
    }
    free(id);
    return rc;
}

int net_vpc_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                   const char *token, dr_live *out, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    const char *s;
    char buf[32];
    if ((s = net_str(props, "CidrBlock")))
        dr_kv_add(&p, "CidrBlock", s);
    if ((s = net_str(props, "InstanceTenancy")))
        dr_kv_add(&p, "InstanceTenancy", s);
    if ((s = net_str(props, "Ipv4IpamPoolId")))
        dr_kv_add(&p, "Ipv4IpamPoolId", s);
    if ((s = net_scalar(props, "Ipv4NetmaskLength", buf, sizeof(buf))))
        dr_kv_add(&p, "Ipv4NetmaskLength", s);
    net_tag_spec(&p, 1, "vpc", tags);
    xmlDocPtr doc = NULL;
    int rc = net_ec2(c, "CreateVpc", &p, &doc, err);
    dr_kv_free(&p);
    if (rc != 0)
        return -1;
    xmlNodePtr item = dr_xml_find(net_root(doc), "vpc");
    rc = item ? vpc_live(c, item, 0, out, err)
              : dr_err_set(err, DR_E_AWS, "CreateVpc answered without a VPC");
    xmlFreeDoc(doc);
    if (rc != 0)
        return -1;
    /* DNS support is on by default and must be on before hostnames. */
    if (net_has_bool(props, "EnableDnsSupport") && !net_bool(props, "EnableDnsSupport", 1))
        rc = vpc_attr_set(c, out->physical_id, "EnableDnsSupport", 0, err);
    if (rc == 0 && net_bool(props, "EnableDnsHostnames", 0))
        rc = vpc_attr_set(c, out->physical_id, "EnableDnsHostnames", 1, err);
    if (rc != 0) {
        /* Leave nothing half-configured behind for find to adopt. */
        dr_err keep = *err;
        dr_kvlist d = DR_KVLIST_INIT;
        dr_kv_add(&d, "VpcId", out->physical_id);
        dr_err ignored;
        dr_err_clear(&ignored);
        if (net_ec2(c, "DeleteVpc", &d, NULL, &ignored) != 0)
            dr_warn(c->log, "VPC %s was created but not configured, and deleting it failed: %s",
                    out->physical_id, ignored.msg);
        dr_kv_free(&d);
        *err = keep;
        dr_live_free(out);
        return -1;
    }
    return 0;
}

int net_vpc_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                 dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *found = 0;
    int rc =
        net_find_tagged(c, "DescribeVpcs", "vpcSet/item", logical_id, NULL, NULL, &doc, &item, err);
    if (rc == 0 && item) {
        rc = vpc_live(c, item, 1, out, err);
        *found = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_vpc_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists, dr_live *out,
                 dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *exists = 0;
    int rc = net_describe_one(c, "DescribeVpcs", "VpcId.1", physical_id, "vpcSet/item", &doc, &item,
                              err);
    if (rc == 0 && item) {
        rc = vpc_live(c, item, 1, out, err);
        *exists = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_vpc_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                   dr_live *out, dr_err *err)
{
    int sup0 = net_bool(old_props, "EnableDnsSupport", 1);
    int sup1 = net_bool(new_props, "EnableDnsSupport", 1);
    int host0 = net_bool(old_props, "EnableDnsHostnames", 0);
    int host1 = net_bool(new_props, "EnableDnsHostnames", 0);
    int rc = 0;
    /* Hostnames need support: switch hostnames off before support, and
     * support on before hostnames. */
    if (host0 && !host1)
        rc = vpc_attr_set(c, physical_id, "EnableDnsHostnames", 0, err);
    if (rc == 0 && sup0 != sup1)
        rc = vpc_attr_set(c, physical_id, "EnableDnsSupport", sup1, err);
    if (rc == 0 && host1 && !host0)
        rc = vpc_attr_set(c, physical_id, "EnableDnsHostnames", 1, err);
    if (rc == 0)
        rc = net_update_tags(c, physical_id, json_object_get(old_props, "Tags"),
                             json_object_get(new_props, "Tags"), err);
    if (rc != 0)
        return -1;
    int exists = 0;
    if (net_vpc_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    return exists ? 0 : dr_err_set(err, DR_E_AWS, "VPC %s disappeared during update", physical_id);
}

typedef struct del_ud {
    const char *action;
    const char *param;
    const char *id;
    const char *param2;
    const char *id2;
    /* The codes that mean "already gone"; NULL: any ...NotFound. */
    const char *const *gone;
} del_ud;

/* One delete call; "already gone" counts as done. */
static int del_attempt(dr_apply_ctx *c, void *ud, dr_err *err)
{
    del_ud *d = ud;
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, d->param, d->id);
    if (d->param2)
        dr_kv_add(&p, d->param2, d->id2);
    int rc = net_ec2(c, d->action, &p, NULL, err);
    dr_kv_free(&p);
    int gone = 0;
    if (rc != 0 && d->gone) {
        for (const char *const *g = d->gone; *g && !gone; g++)
            gone = net_err_is(err, *g);
    } else if (rc != 0) {
        gone = net_err_not_found(err);
    }
    if (gone) {
        dr_err_clear(err);
        rc = 0;
    }
    return rc;
}

int net_vpc_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    del_ud d = {"DeleteVpc", "VpcId", physical_id, NULL, NULL, NULL};
    char what[128];
    snprintf(what, sizeof(what), "VPC %s to be free of dependencies", physical_id);
    return net_retry_busy(c, what, 600, BUSY_DEPENDENCY, del_attempt, &d, err);
}

static const char *const ST_AVAILABLE[] = {"available", NULL};

int net_vpc_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    char what[128];
    snprintf(what, sizeof(what), "VPC %s to be available", physical_id);
    net_state_wait w = {what,    "DescribeVpcs", "VpcId.1", physical_id, "vpcSet/item",
                        "state", ST_AVAILABLE,   NULL,      NULL,        0,
                        300};
    return net_wait_state(c, &w, err);
}

/* ======================================================================== */
/* AWS::EC2::Subnet                                                         */
/* ======================================================================== */

static int subnet_live(xmlNodePtr item, dr_live *out, dr_err *err)
{
    char *id = dr_xml_text(item, "subnetId");
    if (!id)
        return dr_err_set(err, DR_E_AWS, "EC2 answered without a subnet id");
    json_t *attrs = json_object();
    json_object_set_new(attrs, "SubnetId", json_string(id));
    static const char *const map[][2] = {{"availabilityZone", "AvailabilityZone"},
                                         {"availabilityZoneId", "AvailabilityZoneId"},
                                         {"cidrBlock", "CidrBlock"},
                                         {"vpcId", "VpcId"},
                                         {"outpostArn", "OutpostArn"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        json_t *v = net_json_text(item, map[i][0]);
        if (v)
            json_object_set_new(attrs, map[i][1], v);
    }
    json_object_set_new(attrs, "Ipv6CidrBlocks",
                        net_xml_list(item, "ipv6CidrBlockAssociationSet/item", "ipv6CidrBlock"));
    json_t *props = json_object();
    static const char *const pmap[][2] = {
        {"vpcId", "VpcId"}, {"cidrBlock", "CidrBlock"}, {"availabilityZone", "AvailabilityZone"}};
    for (size_t i = 0; i < sizeof(pmap) / sizeof(pmap[0]); i++) {
        json_t *v = net_json_text(item, pmap[i][0]);
        if (v)
            json_object_set_new(props, pmap[i][1], v);
    }
    json_t *m = net_json_bool(item, "mapPublicIpOnLaunch");
    if (m)
        json_object_set_new(props, "MapPublicIpOnLaunch", m);
    net_live_set(out, id, attrs, props);
    free(id);
    return 0;
}

static int subnet_map_public(dr_apply_ctx *c, const char *id, int on, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "SubnetId", id);
    dr_kv_add(&p, "MapPublicIpOnLaunch.Value", on ? "true" : "false");
    int rc = net_ec2(c, "ModifySubnetAttribute", &p, NULL, err);
    dr_kv_free(&p);
    return rc;
}

int net_subnet_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                      const char *token, dr_live *out, dr_err *err)
{
    const char *vpc = net_str(props, "VpcId");
    if (!vpc)
        return dr_err_set(err, DR_E_CONFIG, "AWS::EC2::Subnet %s: VpcId is not known", logical_id);
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "VpcId", vpc);
    static const char *const pass[] = {
        "CidrBlock",  "AvailabilityZone", "AvailabilityZoneId", "Ipv6CidrBlock",
        "OutpostArn", "Ipv4IpamPoolId",   "Ipv6IpamPoolId",     NULL};
    for (const char *const *k = pass; *k; k++) {
        const char *s = net_str(props, *k);
        if (s)
            dr_kv_add(&p, *k, s);
    }
    if (net_has_bool(props, "Ipv6Native"))
        dr_kv_add(&p, "Ipv6Native", net_bool(props, "Ipv6Native", 0) ? "true" : "false");
    net_tag_spec(&p, 1, "subnet", tags);
    xmlDocPtr doc = NULL;
    int rc = net_ec2(c, "CreateSubnet", &p, &doc, err);
    dr_kv_free(&p);
    if (rc != 0)
        return -1;
    xmlNodePtr item = dr_xml_find(net_root(doc), "subnet");
    rc = item ? subnet_live(item, out, err)
              : dr_err_set(err, DR_E_AWS, "CreateSubnet answered without a subnet");
    xmlFreeDoc(doc);
    if (rc != 0)
        return -1;
    if (net_bool(props, "MapPublicIpOnLaunch", 0)) {
        if (subnet_map_public(c, out->physical_id, 1, err) != 0) {
            dr_err keep = *err, ignored;
            dr_err_clear(&ignored);
            del_ud d = {"DeleteSubnet", "SubnetId", out->physical_id, NULL, NULL, NULL};
            if (del_attempt(c, &d, &ignored) != 0)
                dr_warn(c->log,
                        "subnet %s was created but not configured, and deleting it "
                        "failed: %s",
                        out->physical_id, ignored.msg);
            *err = keep;
            dr_live_free(out);
            return -1;
        }
        json_object_set_new(out->properties, "MapPublicIpOnLaunch", json_true());
    }
    return 0;
}

int net_subnet_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                    dr_live *out, dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *found = 0;
    int rc = net_find_tagged(c, "DescribeSubnets", "subnetSet/item", logical_id, NULL, NULL, &doc,
                             &item, err);
    if (rc == 0 && item) {
        rc = subnet_live(item, out, err);
        *found = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_subnet_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                    dr_live *out, dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *exists = 0;
    int rc = net_describe_one(c, "DescribeSubnets", "SubnetId.1", physical_id, "subnetSet/item",
                              &doc, &item, err);
    if (rc == 0 && item) {
        rc = subnet_live(item, out, err);
        *exists = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_subnet_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                      json_t *new_props, dr_live *out, dr_err *err)
{
    int m0 = net_bool(old_props, "MapPublicIpOnLaunch", 0);
    int m1 = net_bool(new_props, "MapPublicIpOnLaunch", 0);
    int rc = 0;
    if (m0 != m1)
        rc = subnet_map_public(c, physical_id, m1, err);
    if (rc == 0)
        rc = net_update_tags(c, physical_id, json_object_get(old_props, "Tags"),
                             json_object_get(new_props, "Tags"), err);
    if (rc != 0)
        return -1;
    int exists = 0;
    if (net_subnet_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    return exists ? 0
                  : dr_err_set(err, DR_E_AWS, "subnet %s disappeared during update", physical_id);
}

int net_subnet_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    del_ud d = {"DeleteSubnet", "SubnetId", physical_id, NULL, NULL, NULL};
    char what[128];
    snprintf(what, sizeof(what), "subnet %s to be free of network interfaces", physical_id);
    return net_retry_busy(c, what, 900, BUSY_DEPENDENCY, del_attempt, &d, err);
}

int net_subnet_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    char what[128];
    snprintf(what, sizeof(what), "subnet %s to be available", physical_id);
    static const char *const bad[] = {"failed", "failed-insufficient-capacity", NULL};
    net_state_wait w = {what,    "DescribeSubnets", "SubnetId.1", physical_id, "subnetSet/item",
                        "state", ST_AVAILABLE,      bad,          NULL,        0,
                        300};
    return net_wait_state(c, &w, err);
}

/* ======================================================================== */
/* AWS::EC2::InternetGateway                                                */
/* ======================================================================== */

static int igw_live(xmlNodePtr item, dr_live *out, dr_err *err)
{
    char *id = dr_xml_text(item, "internetGatewayId");
    if (!id)
        return dr_err_set(err, DR_E_AWS, "EC2 answered without an internet gateway id");
    net_live_set(out, id, json_pack("{s:s}", "InternetGatewayId", id), json_object());
    free(id);
    return 0;
}

int net_igw_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                   const char *token, dr_live *out, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    net_tag_spec(&p, 1, "internet-gateway", tags);
    xmlDocPtr doc = NULL;
    int rc = net_ec2(c, "CreateInternetGateway", &p, &doc, err);
    dr_kv_free(&p);
    if (rc == 0) {
        xmlNodePtr item = dr_xml_find(net_root(doc), "internetGateway");
        rc = item ? igw_live(item, out, err)
                  : dr_err_set(err, DR_E_AWS, "CreateInternetGateway answered without a gateway");
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_igw_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                 dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *found = 0;
    int rc = net_find_tagged(c, "DescribeInternetGateways", "internetGatewaySet/item", logical_id,
                             NULL, NULL, &doc, &item, err);
    if (rc == 0 && item) {
        rc = igw_live(item, out, err);
        *found = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_igw_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists, dr_live *out,
                 dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *exists = 0;
    int rc = net_describe_one(c, "DescribeInternetGateways", "InternetGatewayId.1", physical_id,
                              "internetGatewaySet/item", &doc, &item, err);
    if (rc == 0 && item) {
        rc = igw_live(item, out, err);
        *exists = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_igw_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                   dr_live *out, dr_err *err)
{
    if (net_update_tags(c, physical_id, json_object_get(old_props, "Tags"),
                        json_object_get(new_props, "Tags"), err) != 0)
        return -1;
    int exists = 0;
    if (net_igw_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    return exists ? 0
                  : dr_err_set(err, DR_E_AWS, "internet gateway %s disappeared during update",
                               physical_id);
}

/* Detaches the gateway from the VPC; "not attached" and "gone" are done.
 * Retries while public addresses are still mapped in the VPC (the EIPs of
 * NAT gateways being deleted). */
static int igw_detach(dr_apply_ctx *c, const char *igw, const char *vpc, dr_err *err)
{
    static const char *const busy[] = {"DependencyViolation", NULL};
    del_ud d = {"DetachInternetGateway", "InternetGatewayId", igw, "VpcId", vpc, NULL};
    char what[160];
    snprintf(what, sizeof(what), "VPC %s to have no public addresses mapped (detaching %s)", vpc,
             igw);
    int rc = net_retry_busy(c, what, 600, busy, del_attempt, &d, err);
    if (rc != 0 && net_err_is(err, "Gateway.NotAttached")) {
        dr_err_clear(err);
        rc = 0;
    }
    return rc;
}

int net_igw_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    /* Normally the attachment is deleted first; detach whatever is left so
     * that a gateway attached out of band does not block the destroy. */
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    if (net_describe_one(c, "DescribeInternetGateways", "InternetGatewayId.1", physical_id,
                         "internetGatewaySet/item", &doc, &item, err) != 0)
        return -1;
    if (!item) {
        xmlFreeDoc(doc);
        return 0;
    }
    json_t *vpcs = net_xml_list(item, "attachmentSet/item", "vpcId");
    xmlFreeDoc(doc);
    size_t i;
    json_t *v;
    int rc = 0;
    json_array_foreach(vpcs, i, v)
    {
        if (rc == 0)
            rc = igw_detach(c, physical_id, json_string_value(v), err);
    }
    json_decref(vpcs);
    if (rc != 0)
        return -1;
    del_ud d = {"DeleteInternetGateway", "InternetGatewayId", physical_id, NULL, NULL, NULL};
    char what[128];
    snprintf(what, sizeof(what), "internet gateway %s to be free of dependencies", physical_id);
    return net_retry_busy(c, what, 300, BUSY_DEPENDENCY, del_attempt, &d, err);
}

/* ======================================================================== */
/* AWS::EC2::VPCGatewayAttachment                                           */
/* ======================================================================== */

/* 1 when the gateway item has an attachment to vpc in a live state. */
static int igw_attached_to(xmlNodePtr item, const char *vpc)
{
    for (xmlNodePtr a = dr_xml_find(item, "attachmentSet/item"); a; a = dr_xml_next_same(a)) {
        char *v = dr_xml_text(a, "vpcId");
        char *st = dr_xml_text(a, "state");
        int hit = v && strcmp(v, vpc) == 0 &&
                  (!st || strcmp(st, "available") == 0 || strcmp(st, "attached") == 0 ||
                   strcmp(st, "attaching") == 0);
        free(v);
        free(st);
        if (hit)
            return 1;
    }
    return 0;
}

/* AttachmentType is the id's first part ("IGW"; "VGW" would be a VPN
 * gateway's), as the registry resource reports it. */
static void attach_live(const char *vpc, const char *igw, dr_live *out)
{
    char *phys = dr_xasprintf("IGW|%s", vpc);
    net_live_set(out, phys, json_pack("{s:s}", "AttachmentType", "IGW"),
                 json_pack("{s:s, s:s}", "VpcId", vpc, "InternetGatewayId", igw));
    free(phys);
}

/* Whether igw is attached to vpc: *attached 1/0; *gone when the gateway
 * does not exist. */
static int igw_state(dr_apply_ctx *c, const char *igw, const char *vpc, int *attached, dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *attached = 0;
    if (net_describe_one(c, "DescribeInternetGateways", "InternetGatewayId.1", igw,
                         "internetGatewaySet/item", &doc, &item, err) != 0)
        return -1;
    *attached = item && igw_attached_to(item, vpc);
    xmlFreeDoc(doc);
    return 0;
}

static int attach_igw(dr_apply_ctx *c, const char *igw, const char *vpc, dr_err *err)
{
    int attached = 0;
    if (igw_state(c, igw, vpc, &attached, err) != 0)
        return -1;
    if (attached)
        return 0;
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "InternetGatewayId", igw);
    dr_kv_add(&p, "VpcId", vpc);
    int rc = net_ec2(c, "AttachInternetGateway", &p, NULL, err);
    dr_kv_free(&p);
    if (rc != 0 && net_err_is(err, "Resource.AlreadyAssociated")) {
        /* A retry after an answer that was lost: fine if it is to this VPC. */
        dr_err keep = *err;
        if (igw_state(c, igw, vpc, &attached, err) != 0)
            return -1;
        if (attached) {
            dr_err_clear(err);
            return 0;
        }
        *err = keep;
    }
    return rc;
}

int net_attach_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                      const char *token, dr_live *out, dr_err *err)
{
    const char *vpc = net_str(props, "VpcId");
    const char *igw = net_str(props, "InternetGatewayId");
    if (net_str(props, "VpnGatewayId"))
        return dr_err_set(err, DR_E_CONFIG,
                          "AWS::EC2::VPCGatewayAttachment %s: VPN gateway attachments are not "
                          "supported by drctl",
                          logical_id);
    if (!vpc || !igw)
        return dr_err_set(err, DR_E_CONFIG,
                          "AWS::EC2::VPCGatewayAttachment %s: VpcId and InternetGatewayId must "
                          "be known",
                          logical_id);
    if (attach_igw(c, igw, vpc, err) != 0)
        return -1;
    attach_live(vpc, igw, out);
    return 0;
}

int net_attach_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                    dr_live *out, dr_err *err)
{
    const char *vpc = net_str(props, "VpcId");
    const char *igw = net_str(props, "InternetGatewayId");
    *found = 0;
    if (!vpc || !igw)
        return 0;
    int attached = 0;
    if (igw_state(c, igw, vpc, &attached, err) != 0)
        return -1;
    if (attached) {
        attach_live(vpc, igw, out);
        *found = 1;
    }
    return 0;
}

/* The internet gateway attached to vpc (caller frees), or NULL. */
static int igw_of_vpc(dr_apply_ctx *c, const char *vpc, char **igw, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    int k = 0;
    net_filter(&p, &k, "attachment.vpc-id", vpc);
    xmlDocPtr doc = NULL;
    *igw = NULL;
    int rc = net_ec2(c, "DescribeInternetGateways", &p, &doc, err);
    dr_kv_free(&p);
    if (rc == 0) {
        for (xmlNodePtr it = dr_xml_find(net_root(doc), "internetGatewaySet/item"); it && !*igw;
             it = dr_xml_next_same(it))
            if (igw_attached_to(it, vpc))
                *igw = dr_xml_text(it, "internetGatewayId");
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_attach_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                    dr_live *out, dr_err *err)
{
    char *kind = NULL, *vpc = NULL, *igw = NULL;
    *exists = 0;
    if (net_split_id(physical_id, &kind, &vpc) != 0 || strcmp(kind, "IGW") != 0) {
        free(kind);
        free(vpc);
        return dr_err_set(err, DR_E_INTERNAL, "not a gateway attachment id: %s", physical_id);
    }
    int rc = igw_of_vpc(c, vpc, &igw, err);
    if (rc == 0 && igw) {
        attach_live(vpc, igw, out);
        *exists = 1;
    }
    free(kind);
    free(vpc);
    free(igw);
    return rc;
}

int net_attach_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                      json_t *new_props, dr_live *out, dr_err *err)
{
    const char *vpc = net_str(new_props, "VpcId");
    const char *igw0 = net_str(old_props, "InternetGatewayId");
    const char *igw1 = net_str(new_props, "InternetGatewayId");
    if (!vpc || !igw1)
        return dr_err_set(err, DR_E_CONFIG, "VpcId and InternetGatewayId must be known");
    /* A VPC takes one internet gateway: the old one goes first. */
    if (igw0 && strcmp(igw0, igw1) != 0 && igw_detach(c, igw0, vpc, err) != 0)
        return -1;
    if (attach_igw(c, igw1, vpc, err) != 0)
        return -1;
    attach_live(vpc, igw1, out);
    return 0;
}

int net_attach_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    char *kind = NULL, *vpc = NULL, *igw = NULL;
    if (net_split_id(physical_id, &kind, &vpc) != 0 || strcmp(kind, "IGW") != 0) {
        free(kind);
        free(vpc);
        return dr_err_set(err, DR_E_INTERNAL, "not a gateway attachment id: %s", physical_id);
    }
    int rc = 0;
    const char *known = net_str(props, "InternetGatewayId");
    if (known)
        igw = dr_xstrdup(known);
    else
        rc = igw_of_vpc(c, vpc, &igw, err);
    if (rc == 0 && igw)
        rc = igw_detach(c, igw, vpc, err);
    free(kind);
    free(vpc);
    free(igw);
    return rc;
}

/* ======================================================================== */
/* AWS::EC2::EIP                                                            */
/* ======================================================================== */

static int eip_live(xmlNodePtr item, dr_live *out, dr_err *err)
{
    char *ip = dr_xml_text(item, "publicIp");
    char *alloc = dr_xml_text(item, "allocationId");
    if (!ip) {
        free(alloc);
        return dr_err_set(err, DR_E_AWS, "EC2 answered without a public IP");
    }
    json_t *attrs = json_pack("{s:s}", "PublicIp", ip);
    if (alloc)
        json_object_set_new(attrs, "AllocationId", json_string(alloc));
    json_t *props = json_object();
    json_t *d = net_json_text(item, "domain");
    if (d)
        json_object_set_new(props, "Domain", d);
    net_live_set(out, ip, attrs, props);
    free(ip);
    free(alloc);
    return 0;
}

int net_eip_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                   const char *token, dr_live *out, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    const char *domain = net_str(props, "Domain");
    dr_kv_add(&p, "Domain", domain ? domain : "vpc");
    static const char *const pass[] = {"PublicIpv4Pool", "NetworkBorderGroup", "IpamPoolId",
                                       "Address", NULL};
    for (const char *const *k = pass; *k; k++) {
        const char *s = net_str(props, *k);
        if (s)
            dr_kv_add(&p, *k, s);
    }
    net_tag_spec(&p, 1, "elastic-ip", tags);
    xmlDocPtr doc = NULL;
    int rc = net_ec2(c, "AllocateAddress", &p, &doc, err);
    dr_kv_free(&p);
    if (rc == 0)
        rc = eip_live(net_root(doc), out, err);
    xmlFreeDoc(doc);
    return rc;
}

int net_eip_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                 dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *found = 0;
    int rc = net_find_tagged(c, "DescribeAddresses", "addressesSet/item", logical_id, NULL, NULL,
                             &doc, &item, err);
    if (rc == 0 && item) {
        rc = eip_live(item, out, err);
        *found = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

/* The address by its public IP; a filter rather than PublicIp.1 so that a
 * released address is an empty answer, not an error. */
static int eip_describe(dr_apply_ctx *c, const char *ip, xmlDocPtr *doc, xmlNodePtr *item,
                        dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    int k = 0;
    net_filter(&p, &k, "public-ip", ip);
    *item = NULL;
    int rc = net_ec2(c, "DescribeAddresses", &p, doc, err);
    dr_kv_free(&p);
    if (rc != 0) {
        if (!net_err_not_found(err))
            return -1;
        dr_err_clear(err);
        return 0;
    }
    *item = dr_xml_find(net_root(*doc), "addressesSet/item");
    return 0;
}

int net_eip_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists, dr_live *out,
                 dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *exists = 0;
    int rc = eip_describe(c, physical_id, &doc, &item, err);
    if (rc == 0 && item) {
        rc = eip_live(item, out, err);
        *exists = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_eip_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                   dr_live *out, dr_err *err)
{
    int exists = 0;
    if (net_eip_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    if (!exists)
        return dr_err_set(err, DR_E_AWS, "address %s is gone", physical_id);
    /* Tags live on the allocation id. */
    const char *alloc = json_string_value(json_object_get(out->attributes, "AllocationId"));
    if (!alloc)
        return dr_err_set(err, DR_E_AWS, "address %s has no allocation id", physical_id);
    return net_update_tags(c, alloc, json_object_get(old_props, "Tags"),
                           json_object_get(new_props, "Tags"), err);
}

int net_eip_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    if (eip_describe(c, physical_id, &doc, &item, err) != 0)
        return -1;
    if (!item) {
        xmlFreeDoc(doc);
        return 0;
    }
    char *alloc = dr_xml_text(item, "allocationId");
    char *assoc = dr_xml_text(item, "associationId");
    char *inst = dr_xml_text(item, "instanceId");
    xmlFreeDoc(doc);
    int rc = 0;
    /* An instance that took the address out of band: let go of it. A NAT
     * gateway's association cannot be undone by hand; it goes with the
     * gateway, which the engine deletes first. */
    if (assoc && *assoc && inst && *inst) {
        static const char *const gone[] = {"InvalidAssociationID.NotFound", NULL};
        del_ud d = {"DisassociateAddress", "AssociationId", assoc, NULL, NULL, gone};
        rc = del_attempt(c, &d, err);
    }
    if (rc == 0) {
        /* Right after its NAT gateway is deleted, AWS still holds the
         * address: ReleaseAddress answers InvalidIPAddress.InUse,
         * AuthFailure (the association is AWS-managed) or
         * InvalidNetworkInterfaceID.NotFound (the gateway's interface went
         * first) for a while. AuthFailure is waited out only for such a
         * managed association, so that a real lack of permission fails at
         * once. Only the address's own NotFound means it is gone. */
        int managed = assoc && *assoc && !(inst && *inst);
        static const char *const busy_managed[] = {
            "InvalidIPAddress.InUse", "InvalidNetworkInterfaceID.NotFound", "AuthFailure", NULL};
        static const char *const busy_plain[] = {"InvalidIPAddress.InUse",
                                                 "InvalidNetworkInterfaceID.NotFound", NULL};
        static const char *const gone[] = {"InvalidAllocationID.NotFound",
                                           "InvalidAddress.NotFound", NULL};
        del_ud d = alloc && *alloc
                       ? (del_ud){"ReleaseAddress", "AllocationId", alloc, NULL, NULL, gone}
                       : (del_ud){"ReleaseAddress", "PublicIp", physical_id, NULL, NULL, gone};
        char what[128];
        snprintf(what, sizeof(what), "address %s to be released by its NAT gateway", physical_id);
        rc =
            net_retry_busy(c, what, 600, managed ? busy_managed : busy_plain, del_attempt, &d, err);
    }
    free(alloc);
    free(assoc);
    free(inst);
    return rc;
}

/* ======================================================================== */
/* AWS::EC2::NatGateway                                                     */
/* ======================================================================== */

static const char *const NAT_DEAD[] = {"deleting", "deleted", "failed", NULL};

static int nat_live(xmlNodePtr item, dr_live *out, dr_err *err)
{
    char *id = dr_xml_text(item, "natGatewayId");
    if (!id)
        return dr_err_set(err, DR_E_AWS, "EC2 answered without a NAT gateway id");
    json_t *props = json_object();
    json_t *v;
    if ((v = net_json_text(item, "subnetId")))
        json_object_set_new(props, "SubnetId", v);
    if ((v = net_json_text(item, "connectivityType")))
        json_object_set_new(props, "ConnectivityType", v);
    /* The primary address is the first of the set. */
    xmlNodePtr addr = dr_xml_find(item, "natGatewayAddressSet/item");
    if (addr && (v = net_json_text(addr, "allocationId")))
        json_object_set_new(props, "AllocationId", v);
    net_live_set(out, id, json_pack("{s:s}", "NatGatewayId", id), props);
    free(id);
    return 0;
}

int net_nat_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                   const char *token, dr_live *out, dr_err *err)
{
    const char *subnet = net_str(props, "SubnetId");
    if (!subnet)
        return dr_err_set(err, DR_E_CONFIG, "AWS::EC2::NatGateway %s: SubnetId is not known",
                          logical_id);
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "SubnetId", subnet);
    static const char *const pass[] = {"AllocationId", "ConnectivityType", "PrivateIpAddress",
                                       NULL};
    for (const char *const *k = pass; *k; k++) {
        const char *s = net_str(props, *k);
        if (s)
            dr_kv_add(&p, *k, s);
    }
    char buf[32];
    const char *s = net_scalar(props, "SecondaryPrivateIpAddressCount", buf, sizeof(buf));
    if (s)
        dr_kv_add(&p, "SecondaryPrivateIpAddressCount", s);
    net_add_list(&p, "SecondaryAllocationId", props, "SecondaryAllocationIds");
    net_add_list(&p, "SecondaryPrivateIpAddress", props, "SecondaryPrivateIpAddresses");
    /* The same token returns the same gateway (AWS; moto ignores it). */
    if (token && *token)
        dr_kv_add(&p, "ClientToken", token);
    net_tag_spec(&p, 1, "natgateway", tags);
    xmlDocPtr doc = NULL;
    int rc = net_ec2(c, "CreateNatGateway", &p, &doc, err);
    dr_kv_free(&p);
    if (rc == 0) {
        xmlNodePtr item = dr_xml_find(net_root(doc), "natGateway");
        rc = item ? nat_live(item, out, err)
                  : dr_err_set(err, DR_E_AWS, "CreateNatGateway answered without a gateway");
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_nat_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                 dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *found = 0;
    int rc = net_find_tagged(c, "DescribeNatGateways", "natGatewaySet/item", logical_id, "state",
                             NAT_DEAD, &doc, &item, err);
    if (rc == 0 && item) {
        rc = nat_live(item, out, err);
        *found = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_nat_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists, dr_live *out,
                 dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *exists = 0;
    int rc = net_describe_one(c, "DescribeNatGateways", "NatGatewayId.1", physical_id,
                              "natGatewaySet/item", &doc, &item, err);
    if (rc == 0 && item) {
        char *st = dr_xml_text(item, "state");
        int dead = 0;
        for (const char *const *d = NAT_DEAD; *d && !dead; d++)
            dead = st && strcmp(st, *d) == 0;
        free(st);
        /* Deleting, deleted or failed: of no use any more, so gone. */
        if (!dead) {
            rc = nat_live(item, out, err);
            *exists = rc == 0;
        }
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_nat_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                   dr_live *out, dr_err *err)
{
    if (net_update_tags(c, physical_id, json_object_get(old_props, "Tags"),
                        json_object_get(new_props, "Tags"), err) != 0)
        return -1;
    int exists = 0;
    if (net_nat_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    return exists
               ? 0
               : dr_err_set(err, DR_E_AWS, "NAT gateway %s disappeared during update", physical_id);
}

int net_nat_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    /* Look first: a second DeleteNatGateway of a deleted gateway is
     * pointless, and moto answers HTTP 500 for an unknown id. */
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    if (net_describe_one(c, "DescribeNatGateways", "NatGatewayId.1", physical_id,
                         "natGatewaySet/item", &doc, &item, err) != 0)
        return -1;
    int live = 0;
    if (item) {
        char *st = dr_xml_text(item, "state");
        live = !st || (strcmp(st, "deleting") != 0 && strcmp(st, "deleted") != 0);
        free(st);
    }
    xmlFreeDoc(doc);
    if (!live)
        return 0;
    del_ud d = {"DeleteNatGateway", "NatGatewayId", physical_id, NULL, NULL, NULL};
    return del_attempt(c, &d, err);
}

static const char *const NAT_BAD[] = {"failed", "deleting", "deleted", NULL};
/* A failed gateway is as good as deleted: it holds nothing. */
static const char *const ST_DELETED[] = {"deleted", "failed", NULL};

int net_nat_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    char what[128];
    snprintf(what, sizeof(what), "NAT gateway %s to be available", physical_id);
    net_state_wait w = {
        what,    "DescribeNatGateways", "NatGatewayId.1", physical_id,      "natGatewaySet/item",
        "state", ST_AVAILABLE,          NAT_BAD,          "failureMessage", 0,
        900};
    return net_wait_state(c, &w, err);
}

int net_nat_wait_deleted(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    char what[128];
    snprintf(what, sizeof(what), "NAT gateway %s to be deleted", physical_id);
    net_state_wait w = {what,
                        "DescribeNatGateways",
                        "NatGatewayId.1",
                        physical_id,
                        "natGatewaySet/item",
                        "state",
                        ST_DELETED,
                        NULL,
                        NULL,
                        1,
                        900};
    return net_wait_state(c, &w, err);
}
