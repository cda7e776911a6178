/*
 * res_data_cache.c - AWS::ElastiCache::SubnetGroup and
 * AWS::ElastiCache::ReplicationGroup (Redis).
 *
 * Why it looks like this:
 * - The AUTH token is a Secrets Manager dynamic reference in the model
 *   (in-transit encryption requires one): read right before
 *   CreateReplicationGroup, sent, wiped; never logged or kept.
 * - Redis holds only cache and rate-limit counters: nothing is kept on
 *   delete (the model says DeletionPolicy Delete; a final snapshot is
 *   taken only if the engine asks for one).
 * - A group that is "deleting" counts as gone for plan, and as deleted for
 *   wait_deleted once none of its member clusters exists any more: the
 *   nodes are what hold the network interfaces in the subnets and security
 *   groups, so nothing depends on the group after that. (moto never lets a
 *   deleted group go: it keeps it "deleting" for ever, listing members that
 *   do not exist as cache clusters.)
 * - Properties this file does not know are errors, never dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/xml.h"
#include "stack/res_data_int.h"
#include "stack/resolve.h"
#include "util/mem.h"

static int query(dr_apply_ctx *c, const char *action, const dr_kvlist *p, xmlDocPtr *doc,
                 dr_err *err)
{
    return dr_aws_query(c->aws, "elasticache", c->region, action, p, doc, err);
}

static xmlNodePtr root_of(xmlDocPtr d)
{
    return d ? xmlDocGetRootElement(d) : NULL;
}

static int check_props(const json_t *props, const char *const *allowed, const char *type,
                       dr_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)props, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, k) == 0;
        if (!ok)
            return dr_err_set(err, DR_E_CONFIG, "%s: property %s is not supported by drctl", type,
                              k);
    }
    return 0;
}

static int add_scalar(dr_kvlist *p, const char *param, const json_t *props, const char *prop,
                      dr_err *err)
{
    const json_t *v = json_object_get(props, prop);
    if (!v || json_is_null(v))
        return 0;
    char *s = dr_data_scalar(v);
    if (!s)
        return dr_err_set(err, DR_E_CONFIG, "%s must be a string, number or boolean", prop);
    dr_kv_add(p, param, s);
    free(s);
    return 0;
}

static json_t *list_tags(dr_apply_ctx *c, const char *arn, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "ResourceName", arn);
    xmlDocPtr d = NULL;
    int rc = query(c, "ListTagsForResource", &p, &d, err);
    dr_kv_free(&p);
    if (rc != 0)
        return NULL;
    json_t *tags = dr_data_xml_tags(dr_xml_find(root_of(d), "ListTagsForResourceResult/TagList"));
    xmlFreeDoc(d);
    return tags;
}

/* ---- subnet group --------------------------------------------------------- */

static const char *const subnet_group_props[] = {"CacheSubnetGroupName", "Description", "SubnetIds",
                                                 "Tags", NULL};

static int describe_subnet_group(dr_apply_ctx *c, const char *name, xmlDocPtr *doc, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "CacheSubnetGroupName", name);
    int rc = query(c, "DescribeCacheSubnetGroups", &p, doc, err);
    dr_kv_free(&p);
    if (rc != 0 && dr_data_code_is(err, "CacheSubnetGroupNotFound")) {
        dr_err_clear(err);
        *doc = NULL;
        return 0;
    }
    return rc;
}

static xmlNodePtr subnet_group_node(xmlDocPtr d)
{
    return dr_xml_find(root_of(d),
                       "DescribeCacheSubnetGroupsResult/CacheSubnetGroups/CacheSubnetGroup");
}

/* The ARN for tags: the one AWS reports, else built from the account. */
static char *subnet_group_arn(dr_apply_ctx *c, xmlNodePtr g, const char *name)
{
    char *arn = dr_xml_text(g, "ARN");
    if (arn && *arn)
        return arn;
    free(arn);
    if (!c->account_id)
        return NULL;
    return dr_xasprintf("arn:%s:elasticache:%s:%s:subnetgroup:%s", dr_partition_of(c->region),
                        c->region, c->account_id, name);
}

static void subnet_group_live(xmlNodePtr g, const json_t *props, dr_live *out)
{
    char *name = dr_xml_text(g, "CacheSubnetGroupName");
    char *desc = dr_xml_text(g, "CacheSubnetGroupDescription");
    out->physical_id = name ? name : dr_xstrdup("");
    json_t *live = json_object();
    dr_data_live_put(live, props, "Description", desc);
    if (json_object_get(props, "SubnetIds")) {
        json_t *ids = json_array();
        for (xmlNodePtr s = dr_xml_find(g, "Subnets/Subnet"); s; s = dr_xml_next_same(s)) {
            char *id = dr_xml_text(s, "SubnetIdentifier");
            if (id)
                json_array_append_new(ids, json_string(id));
            free(id);
        }
        json_object_set_new(live, "SubnetIds",
                            dr_data_same_set(json_object_get(props, "SubnetIds"), ids));
    }
    json_decref(out->properties);
    out->properties = live;
    free(desc);
}

int dr_data_cache_subnet_group_create(dr_apply_ctx *c, const char *logical_id, json_t *props,
                                      json_t *tags, const char *token, dr_live *out, dr_err *err)
{
    (void)token; /* the name makes it idempotent */
    if (check_props(props, subnet_group_props, "AWS::ElastiCache::SubnetGroup", err) != 0)
        return -1;
    const char *name = dr_data_str(props, "CacheSubnetGroupName");
    const char *desc = dr_data_str(props, "Description");
    if (!name || !*name || !desc)
        return dr_err_set(err, DR_E_CONFIG,
                          "AWS::ElastiCache::SubnetGroup needs a "
                          "CacheSubnetGroupName and a Description");
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "CacheSubnetGroupName", name);
    dr_kv_add(&p, "CacheSubnetGroupDescription", desc);
    int rc = dr_data_add_list(&p, "SubnetIds.SubnetIdentifier", json_object_get(props, "SubnetIds"),
                              "SubnetIds", err);
    dr_data_add_tags(&p, "Tags.Tag", tags);
    xmlDocPtr d = NULL;
    if (rc == 0)
        rc = query(c, "CreateCacheSubnetGroup", &p, &d, err);
    dr_kv_free(&p);
    if (rc == 0) {
        xmlNodePtr g = dr_xml_find(root_of(d), "CreateCacheSubnetGroupResult/CacheSubnetGroup");
        char *n = g ? dr_xml_text(g, "CacheSubnetGroupName") : NULL;
        out->physical_id = n ? n : dr_xstrdup(name);
        xmlFreeDoc(d);
        return 0;
    }
    if (!dr_data_code_is(err, "CacheSubnetGroupAlreadyExists"))
        return -1;
    dr_err saved = *err;
    int found = 0;
    if (dr_data_cache_subnet_group_find(c, logical_id, props, &found, out, err) != 0)
        return -1;
    if (!found) {
        *err = saved;
        return -1;
    }
    return 0;
}

int dr_data_cache_subnet_group_find(dr_apply_ctx *c, const char *logical_id, json_t *props,
                                    int *found, dr_live *out, dr_err *err)
{
    *found = 0;
    const char *name = dr_data_str(props, "CacheSubnetGroupName");
    if (!name || !*name || dr_json_unknown(json_object_get(props, "CacheSubnetGroupName")))
        return 0;
    xmlDocPtr d = NULL;
    if (describe_subnet_group(c, name, &d, err) != 0)
        return -1;
    xmlNodePtr g = subnet_group_node(d);
    if (!g) {
        xmlFreeDoc(d);
        return 0;
    }
    char *arn = subnet_group_arn(c, g, name);
    json_t *tags = arn ? list_tags(c, arn, err) : json_array();
    free(arn);
    if (!tags) {
        xmlFreeDoc(d);
        return -1;
    }
    char *other = NULL;
    int owner = dr_data_tags_owner(tags, c->stack, logical_id, &other);
    json_decref(tags);
    if (owner != 1) {
        xmlFreeDoc(d);
        int rc =
            dr_data_not_ours(err, "ElastiCache subnet group", name, c->stack, logical_id, other);
        free(other);
        return rc;
    }
    subnet_group_live(g, props, out);
    xmlFreeDoc(d);
    *found = 1;
    return 0;
}

int dr_data_cache_subnet_group_read(dr_apply_ctx *c, const char *physical_id, json_t *props,
                                    int *exists, dr_live *out, dr_err *err)
{
    xmlDocPtr d = NULL;
    if (describe_subnet_group(c, physical_id, &d, err) != 0)
        return -1;
    xmlNodePtr g = subnet_group_node(d);
    *exists = g != NULL;
    if (g)
        subnet_group_live(g, props, out);
    xmlFreeDoc(d);
    return 0;
}

int dr_data_cache_subnet_group_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                                      json_t *new_props, dr_live *out, dr_err *err)
{
    if (check_props(new_props, subnet_group_props, "AWS::ElastiCache::SubnetGroup", err) != 0)
        return -1;
    if (dr_data_changed(old_props, new_props, "Description") ||
        dr_data_changed(old_props, new_props, "SubnetIds")) {
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "CacheSubnetGroupName", physical_id);
        int rc = add_scalar(&p, "CacheSubnetGroupDescription", new_props, "Description", err);
        if (rc == 0)
            rc = dr_data_add_list(&p, "SubnetIds.SubnetIdentifier",
                                  json_object_get(new_props, "SubnetIds"), "SubnetIds", err);
        if (rc == 0)
            rc = query(c, "ModifyCacheSubnetGroup", &p, NULL, err);
        dr_kv_free(&p);
        if (rc != 0)
            return -1;
    }
    xmlDocPtr d = NULL;
    if (describe_subnet_group(c, physical_id, &d, err) != 0)
        return -1;
    xmlNodePtr g = subnet_group_node(d);
    if (!g) {
        xmlFreeDoc(d);
        return dr_err_set(err, DR_E_AWS,
                          "ElastiCache subnet group %s disappeared during its update", physical_id);
    }
    subnet_group_live(g, new_props, out);
    json_decref(out->properties);
    out->properties = NULL;
    char *arn = subnet_group_arn(c, g, physical_id);
    xmlFreeDoc(d);
    int rc = 0;
    if (arn && dr_data_changed(old_props, new_props, "Tags"))
        rc = dr_data_retag(c, "elasticache", arn, json_object_get(old_props, "Tags"),
                           json_object_get(new_props, "Tags"), err);
    free(arn);
    return rc;
}

int dr_data_cache_subnet_group_remove(dr_apply_ctx *c, const char *physical_id, json_t *props,
                                      dr_err *err)
{
    (void)props;
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "CacheSubnetGroupName", physical_id);
    int rc = query(c, "DeleteCacheSubnetGroup", &p, NULL, err);
    dr_kv_free(&p);
    if (rc != 0 && dr_data_code_is(err, "CacheSubnetGroupNotFound")) {
        dr_err_clear(err);
        rc = 0;
    }
    return rc;
}

/* ---- replication group ----------------------------------------------------------- */

typedef struct rg_param {
    const char *prop, *param;
    char kind; /* 's' scalar, 'l' list (param: prefix), 'x' secret, '-' handled apart */
} rg_param;

static const rg_param rg_params[] = {
    {"ReplicationGroupId", "ReplicationGroupId", 's'},
    {"ReplicationGroupDescription", "ReplicationGroupDescription", 's'},
    {"Engine", "Engine", 's'},
    {"EngineVersion", "EngineVersion", 's'},
    {"CacheNodeType", "CacheNodeType", 's'},
    {"NumCacheClusters", "NumCacheClusters", 's'},
    {"NumNodeGroups", "NumNodeGroups", 's'},
    {"ReplicasPerNodeGroup", "ReplicasPerNodeGroup", 's'},
    {"PreferredCacheClusterAZs", "PreferredCacheClusterAZs.AvailabilityZone", 'l'},
    {"AutomaticFailoverEnabled", "AutomaticFailoverEnabled", 's'},
    {"MultiAZEnabled", "MultiAZEnabled", 's'},
    {"AtRestEncryptionEnabled", "AtRestEncryptionEnabled", 's'},
    {"TransitEncryptionEnabled", "TransitEncryptionEnabled", 's'},
    {"TransitEncryptionMode", "TransitEncryptionMode", 's'},
    {"AuthToken", "AuthToken", 'x'},
    {"KmsKeyId", "KmsKeyId", 's'},
    {"CacheSubnetGroupName", "CacheSubnetGroupName", 's'},
    {"CacheParameterGroupName", "CacheParameterGroupName", 's'},
    {"SecurityGroupIds", "SecurityGroupIds.SecurityGroupId", 'l'},
    {"Port", "Port", 's'},
    {"SnapshotRetentionLimit", "SnapshotRetentionLimit", 's'},
    {"SnapshotWindow", "SnapshotWindow", 's'},
    {"PreferredMaintenanceWindow", "PreferredMaintenanceWindow", 's'},
    {"AutoMinorVersionUpgrade", "AutoMinorVersionUpgrade", 's'},
    {"NotificationTopicArn", "NotificationTopicArn", 's'},
    {"DataTieringEnabled", "DataTieringEnabled", 's'},
    {"NetworkType", "NetworkType", 's'},
    {"IpDiscovery", "IpDiscovery", 's'},
    {"ClusterMode", "ClusterMode", 's'},
    {"SnapshotArns", "SnapshotArns.SnapshotArn", 'l'},
    {"SnapshotName", "SnapshotName", 's'},
    {"Tags", NULL, '-'},
};

#define NRG (sizeof(rg_params) / sizeof(rg_params[0]))

static int check_rg_props(const json_t *props, dr_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)props, k, v)
    {
        int ok = 0;
        for (size_t i = 0; i < NRG && !ok; i++)
            ok = strcmp(rg_params[i].prop, k) == 0;
        if (!ok)
            return dr_err_set(
                err, DR_E_CONFIG,
                "AWS::ElastiCache::ReplicationGroup: property %s is not supported by drctl", k);
    }
    return 0;
}

static int describe_rg(dr_apply_ctx *c, const char *id, xmlDocPtr *doc, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "ReplicationGroupId", id);
    int rc = query(c, "DescribeReplicationGroups", &p, doc, err);
    dr_kv_free(&p);
    if (rc != 0 && dr_data_code_is(err, "ReplicationGroupNotFound")) {
        dr_err_clear(err);
        *doc = NULL;
        return 0;
    }
    return rc;
}

static xmlNodePtr rg_node(xmlDocPtr d)
{
    return dr_xml_find(root_of(d),
                       "DescribeReplicationGroupsResult/ReplicationGroups/ReplicationGroup");
}

static int rg_status_is(xmlNodePtr g, const char *s)
{
    char *st = dr_xml_text(g, "Status");
    int r = st && strcmp(st, s) == 0;
    free(st);
    return r;
}

static void put_attr(json_t *a, const char *name, xmlNodePtr n, const char *path)
{
    char *v = dr_xml_text(n, path);
    if (v && *v)
        json_object_set_new(a, name, json_string(v));
    free(v);
}

static void rg_live(xmlNodePtr g, const json_t *props, dr_live *out)
{
    char *id = dr_xml_text(g, "ReplicationGroupId");
    out->physical_id = id ? id : dr_xstrdup("");
    json_t *a = json_object();
    /* Cluster mode disabled: one node group with a primary and a reader
     * endpoint; cluster mode enabled: a configuration endpoint. */
    xmlNodePtr ng = dr_xml_find(g, "NodeGroups/NodeGroup");
    put_attr(a, "PrimaryEndPoint.Address", ng, "PrimaryEndpoint/Address");
    put_attr(a, "PrimaryEndPoint.Port", ng, "PrimaryEndpoint/Port");
    put_attr(a, "ReaderEndPoint.Address", ng, "ReaderEndpoint/Address");
    put_attr(a, "ReaderEndPoint.Port", ng, "ReaderEndpoint/Port");
    put_attr(a, "ConfigurationEndPoint.Address", g, "ConfigurationEndpoint/Address");
    put_attr(a, "ConfigurationEndPoint.Port", g, "ConfigurationEndpoint/Port");
    put_attr(a, "Arn", g, "ARN");
    json_decref(out->attributes);
    out->attributes = a;
    json_t *live = json_object();
    static const struct {
        const char *prop, *path;
    } scalars[] = {
        {"ReplicationGroupDescription", "Description"},
        {"CacheNodeType", "CacheNodeType"},
        {"AutomaticFailoverEnabled", "AutomaticFailover"},
        {"MultiAZEnabled", "MultiAZ"},
        {"AtRestEncryptionEnabled", "AtRestEncryptionEnabled"},
        {"TransitEncryptionEnabled", "TransitEncryptionEnabled"},
        {"SnapshotRetentionLimit", "SnapshotRetentionLimit"},
        {"KmsKeyId", "KmsKeyId"},
    };
    for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
        char *v = dr_xml_text(g, scalars[i].path);
        dr_data_live_put(live, props, scalars[i].prop, v);
        free(v);
    }
    json_decref(out->properties);
    out->properties = live;
}

int dr_data_replication_group_create(dr_apply_ctx *c, const char *logical_id, json_t *props,
                                     json_t *tags, const char *token, dr_live *out, dr_err *err)
{
    (void)token; /* the id makes it idempotent */
    if (check_rg_props(props, err) != 0)
        return -1;
    const char *id = dr_data_str(props, "ReplicationGroupId");
    if (!id || !*id || !dr_data_str(props, "ReplicationGroupDescription"))
        return dr_err_set(err, DR_E_CONFIG,
                          "AWS::ElastiCache::ReplicationGroup needs a "
                          "ReplicationGroupId and a ReplicationGroupDescription");
    dr_kvlist p = DR_KVLIST_INIT;
    int rc = 0;
    for (size_t i = 0; i < NRG && rc == 0; i++) {
        const rg_param *d = &rg_params[i];
        const json_t *v = json_object_get(props, d->prop);
        if (!v || json_is_null(v) || d->kind == '-')
            continue;
        if (d->kind == 'l') {
            rc = dr_data_add_list(&p, d->param, v, d->prop, err);
        } else if (d->kind == 'x') {
            const char *s = json_string_value(v);
            if (!s) {
                rc = dr_err_set(err, DR_E_CONFIG, "%s must be a string", d->prop);
            } else if (dr_data_is_dynref(s)) {
                char *tok = NULL;
                rc = dr_data_dynref_resolve(c, s, &tok, err);
                if (rc == 0)
                    dr_kv_add(&p, d->param, tok);
                else
                    dr_err_wrap(err, "reading the Redis AUTH token");
                dr_free_secret(tok);
            } else {
                dr_kv_add(&p, d->param, s);
            }
        } else {
            rc = add_scalar(&p, d->param, props, d->prop, err);
        }
    }
    dr_data_add_tags(&p, "Tags.Tag", tags);
    xmlDocPtr d = NULL;
    if (rc == 0)
        rc = query(c, "CreateReplicationGroup", &p, &d, err);
    dr_data_kv_free_secret(&p);
    if (rc == 0) {
        xmlNodePtr g = dr_xml_find(root_of(d), "CreateReplicationGroupResult/ReplicationGroup");
        rg_live(g, props, out);
        json_decref(out->properties);
        out->properties = NULL;
        xmlFreeDoc(d);
        if (!*out->physical_id) {
            free(out->physical_id);
            out->physical_id = dr_xstrdup(id);
        }
        return 0;
    }
    if (!dr_data_code_is(err, "ReplicationGroupAlreadyExists"))
        return -1;
    dr_err saved = *err;
    int found = 0;
    if (dr_data_replication_group_find(c, logical_id, props, &found, out, err) != 0)
        return -1;
    if (!found) {
        *err = saved;
        return dr_err_hint(err,
                           "replication group %s may still be being deleted: run again "
                           "once it is gone",
                           id);
    }
    return 0;
}

int dr_data_replication_group_find(dr_apply_ctx *c, const char *logical_id, json_t *props,
                                   int *found, dr_live *out, dr_err *err)
{
    *found = 0;
    const char *id = dr_data_str(props, "ReplicationGroupId");
    if (!id || !*id || dr_json_unknown(json_object_get(props, "ReplicationGroupId")))
        return 0;
    xmlDocPtr d = NULL;
    if (describe_rg(c, id, &d, err) != 0)
        return -1;
    xmlNodePtr g = rg_node(d);
    if (!g || rg_status_is(g, "deleting")) {
        xmlFreeDoc(d);
        return 0;
    }
    char *arn = dr_xml_text(g, "ARN");
    if (!arn && c->account_id)
        arn = dr_xasprintf("arn:%s:elasticache:%s:%s:replicationgroup:%s",
                           dr_partition_of(c->region), c->region, c->account_id, id);
    json_t *tags = arn ? list_tags(c, arn, err) : json_array();
    free(arn);
    if (!tags) {
        xmlFreeDoc(d);
        return -1;
    }
    char *other = NULL;
    int owner = dr_data_tags_owner(tags, c->stack, logical_id, &other);
    json_decref(tags);
    if (owner != 1) {
        xmlFreeDoc(d);
        int rc =
            dr_data_not_ours(err, "ElastiCache replication group", id, c->stack, logical_id, other);
        free(other);
        return rc;
    }
    rg_live(g, props, out);
    xmlFreeDoc(d);
    *found = 1;
    return 0;
}

int dr_data_replication_group_read(dr_apply_ctx *c, const char *physical_id, json_t *props,
                                   int *exists, dr_live *out, dr_err *err)
{
    xmlDocPtr d = NULL;
    if (describe_rg(c, physical_id, &d, err) != 0)
        return -1;
    xmlNodePtr g = rg_node(d);
    *exists = g && !rg_status_is(g, "deleting");
    if (*exists)
        rg_live(g, props, out);
    xmlFreeDoc(d);
    return 0;
}

static const char *const rg_modifiable[] = {"ReplicationGroupDescription",
                                            "CacheNodeType",
                                            "SnapshotRetentionLimit",
                                            "SnapshotWindow",
                                            "PreferredMaintenanceWindow",
                                            "EngineVersion",
                                            "AutoMinorVersionUpgrade",
                                            "SecurityGroupIds",
                                            NULL};

int dr_data_cache_modify_params(const char *id, const json_t *old_props, const json_t *new_props,
                                dr_kvlist *p, dr_err *err)
{
    size_t before = p->n;
    for (const char *const *k = rg_modifiable; *k; k++) {
        if (!dr_data_changed(old_props, new_props, *k) || !json_object_get(new_props, *k))
            continue;
        int rc = strcmp(*k, "SecurityGroupIds") == 0
                     ? dr_data_add_list(p, "SecurityGroupIds.SecurityGroupId",
                                        json_object_get(new_props, *k), *k, err)
                     : add_scalar(p, *k, new_props, *k, err);
        if (rc != 0)
            return -1;
    }
    /* Multi-AZ needs automatic failover: when either changes, both are
     * sent, so that AWS sees a consistent pair. */
    if (dr_data_changed(old_props, new_props, "AutomaticFailoverEnabled") ||
        dr_data_changed(old_props, new_props, "MultiAZEnabled")) {
        if (add_scalar(p, "AutomaticFailoverEnabled", new_props, "AutomaticFailoverEnabled", err) !=
                0 ||
            add_scalar(p, "MultiAZEnabled", new_props, "MultiAZEnabled", err) != 0)
            return -1;
    }
    if (p->n == before)
        return 0;
    dr_kv_add(p, "ReplicationGroupId", id);
    dr_kv_add(p, "ApplyImmediately", "true");
    return 0;
}

int dr_data_replication_group_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                                     json_t *new_props, dr_live *out, dr_err *err)
{
    if (check_rg_props(new_props, err) != 0)
        return -1;
    dr_kvlist p = DR_KVLIST_INIT;
    int rc = dr_data_cache_modify_params(physical_id, old_props, new_props, &p, err);
    if (rc == 0 && p.n)
        rc = query(c, "ModifyReplicationGroup", &p, NULL, err);
    dr_kv_free(&p);
    if (rc != 0)
        return -1;
    xmlDocPtr d = NULL;
    if (describe_rg(c, physical_id, &d, err) != 0)
        return -1;
    xmlNodePtr g = rg_node(d);
    if (!g) {
        xmlFreeDoc(d);
        return dr_err_set(err, DR_E_AWS,
                          "ElastiCache replication group %s disappeared during its update",
                          physical_id);
    }
    rg_live(g, new_props, out);
    json_decref(out->properties);
    out->properties = NULL;
    char *arn = dr_xml_text(g, "ARN");
    xmlFreeDoc(d);
    if (arn && dr_data_changed(old_props, new_props, "Tags"))
        rc = dr_data_retag(c, "elasticache", arn, json_object_get(old_props, "Tags"),
                           json_object_get(new_props, "Tags"), err);
    free(arn);
    return rc;
}

/* ---- waits and remove --------------------------------------------------------------- */

static int rg_ready_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    const char *id = ud;
    xmlDocPtr d = NULL;
    if (describe_rg(c, id, &d, err) != 0)
        return -1;
    xmlNodePtr g = rg_node(d);
    char *st = g ? dr_xml_text(g, "Status") : NULL;
    int rc = 0;
    if (!g || (st && strcmp(st, "deleting") == 0))
        rc = dr_err_set(err, DR_E_AWS,
                        "ElastiCache replication group %s went away while it was "
                        "being made",
                        id);
    else if (st && strcmp(st, "create-failed") == 0)
        rc = dr_err_set(err, DR_E_AWS, "ElastiCache replication group %s failed to create", id);
    else if (st && strcmp(st, "available") == 0)
        rc = 1;
    free(st);
    xmlFreeDoc(d);
    return rc;
}

int dr_data_replication_group_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    char what[160];
    snprintf(what, sizeof(what), "ElastiCache replication group %s to be available", physical_id);
    return dr_wait(c, what, 3600, rg_ready_check, (void *)physical_id, err);
}

/* 1 when a cache cluster (a member node) no longer exists. */
static int cluster_gone(dr_apply_ctx *c, const char *id, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "CacheClusterId", id);
    int rc = query(c, "DescribeCacheClusters", &p, NULL, err);
    dr_kv_free(&p);
    if (rc == 0)
        return 0;
    if (dr_data_code_is(err, "CacheClusterNotFound")) {
        dr_err_clear(err);
        return 1;
    }
    return -1;
}

/* Deleted: not found, or "deleting" with every member cluster gone (see
 * the top: the nodes hold the network interfaces). */
static int rg_gone_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    xmlDocPtr d = NULL;
    if (describe_rg(c, (const char *)ud, &d, err) != 0)
        return -1;
    xmlNodePtr g = rg_node(d);
    int gone = !g;
    if (g && rg_status_is(g, "deleting")) {
        gone = 1;
        for (xmlNodePtr m = dr_xml_find(g, "MemberClusters/ClusterId"); m && gone == 1;
             m = dr_xml_next_same(m)) {
            xmlChar *id = xmlNodeGetContent(m);
            gone = id && *id ? cluster_gone(c, (const char *)id, err) : 1;
            xmlFree(id);
        }
    }
    xmlFreeDoc(d);
    return gone;
}

int dr_data_replication_group_wait_deleted(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    char what[160];
    snprintf(what, sizeof(what), "ElastiCache replication group %s to be deleted", physical_id);
    return dr_wait(c, what, 3600, rg_gone_check, (void *)physical_id, err);
}

/* Statuses in which ElastiCache refuses a delete until the group settles. */
static int rg_settled_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    xmlDocPtr d = NULL;
    if (describe_rg(c, (const char *)ud, &d, err) != 0)
        return -1;
    xmlNodePtr g = rg_node(d);
    int done = !g || !(rg_status_is(g, "creating") || rg_status_is(g, "modifying") ||
                       rg_status_is(g, "snapshotting"));
    xmlFreeDoc(d);
    return done;
}

int dr_data_replication_group_remove(dr_apply_ctx *c, const char *physical_id, json_t *props,
                                     dr_err *err)
{
    (void)props;
    const char *id = physical_id;
    xmlDocPtr d = NULL;
    if (describe_rg(c, id, &d, err) != 0)
        return -1;
    xmlNodePtr g = rg_node(d);
    int absent = !g || rg_status_is(g, "deleting");
    int busy = g && !absent && !rg_status_is(g, "available");
    xmlFreeDoc(d);
    if (absent)
        return 0;
    if (busy) {
        char what[160];
        snprintf(what, sizeof(what),
                 "ElastiCache replication group %s to settle before its "
                 "deletion",
                 id);
        if (dr_wait(c, what, 3600, rg_settled_check, (void *)id, err) != 0)
            return -1;
    }
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "ReplicationGroupId", id);
    char *snap = NULL;
    if (c->final_snapshot) {
        snap = dr_data_final_snapshot_id(id, time(NULL));
        dr_kv_add(&p, "FinalSnapshotIdentifier", snap);
    }
    int rc = query(c, "DeleteReplicationGroup", &p, NULL, err);
    dr_kv_free(&p);
    if (rc != 0 && (dr_data_code_is(err, "ReplicationGroupNotFound") ||
                    (dr_data_code_is(err, "InvalidReplicationGroupState") &&
                     strstr(err->aws.message, "deleting")))) {
        dr_err_clear(err);
        rc = 0;
    }
    free(snap);
    return rc;
}
