/*
 * res_data_rds.c - AWS::RDS::DBSubnetGroup and AWS::RDS::DBInstance.
 *
 * The instance comes in three shapes (model_data.c): fresh
 * (CreateDBInstance), restored from a snapshot
 * (RestoreDBInstanceFromDBSnapshot) or a cross-region read replica
 * (CreateDBInstanceReadReplica). Each property is sent to the calls that
 * take it (botocore's shapes); a property of the model that is not in the
 * table below is an error, never silently dropped.
 *
 * Why it looks like this:
 * - The master password is a Secrets Manager dynamic reference in the
 *   model: it is read right before CreateDBInstance, sent, and wiped; it is
 *   never logged, never in an error, never in attributes or the state.
 * - The database secret gets "host", "port" and "url" once the instance is
 *   ready (wait_ready), because the endpoint only exists then and the ECS
 *   task reads DATABASE_URL from the secret. wait_ready only has the
 *   identifier, so create records which secret in a tag on the instance
 *   (drctl:connection-secret = the secret's ARN, not its value). A restored
 *   instance or a replica has no password reference; their region's
 *   database secret is then found by its drctl tags. The merge is
 *   idempotent (written only when something differs), so a resumed apply
 *   does it again safely.
 * - A cross-region replica needs a PreSignedUrl for an encrypted source in
 *   real AWS: it is made here as botocore makes it from SourceRegion (the
 *   same request, GET, presigned for the source region, with
 *   DestinationRegion added).
 * - remove turns deletion protection off first and takes the final
 *   snapshot when asked ("<id>-final-<UTC yyyymmddHHMMSS>"), except for a
 *   read replica, of which RDS takes none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/xml.h"
#include "stack/res_data_int.h"
#include "stack/resolve.h"
#include "util/mem.h"

/* The logical id of the database secret in the model (model_security.c),
 * for the instances whose properties do not name it. */
#define DB_SECRET_LOGICAL_ID "DbSecret"
#define CONNECTION_SECRET_TAG "drctl:connection-secret"

/* ---- helpers ----------------------------------------------------------- */

static int query(dr_apply_ctx *c, const char *action, const dr_kvlist *p, xmlDocPtr *doc,
                 dr_err *err)
{
    return dr_aws_query(c->aws, "rds", c->region, action, p, doc, err);
}

/* Adds props[prop] as a scalar parameter, when present. */
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

static xmlNodePtr root_of(xmlDocPtr d)
{
    return d ? xmlDocGetRootElement(d) : NULL;
}

/* ---- DB subnet group ------------------------------------------------------ */

static const char *const subnet_group_props[] = {"DBSubnetGroupName", "DBSubnetGroupDescription",
                                                 "SubnetIds", "Tags", NULL};

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

/* DescribeDBSubnetGroups for one name: *doc NULL when there is none. */
static int describe_subnet_group(dr_apply_ctx *c, const char *name, xmlDocPtr *doc, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "DBSubnetGroupName", name);
    int rc = query(c, "DescribeDBSubnetGroups", &p, doc, err);
    dr_kv_free(&p);
    if (rc != 0 && dr_data_code_is(err, "DBSubnetGroupNotFound")) {
        dr_err_clear(err);
        *doc = NULL;
        return 0;
    }
    return rc;
}

static xmlNodePtr subnet_group_node(xmlDocPtr d)
{
    return dr_xml_find(root_of(d), "DescribeDBSubnetGroupsResult/DBSubnetGroups/DBSubnetGroup");
}

static json_t *list_tags(dr_apply_ctx *c, const char *service, const char *arn, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "ResourceName", arn);
    xmlDocPtr d = NULL;
    int rc = dr_aws_query(c->aws, service, c->region, "ListTagsForResource", &p, &d, err);
    dr_kv_free(&p);
    if (rc != 0)
        return NULL;
    json_t *tags = dr_data_xml_tags(dr_xml_find(root_of(d), "ListTagsForResourceResult/TagList"));
    xmlFreeDoc(d);
    return tags;
}

static void subnet_group_live(const xmlNodePtr g, const json_t *props, dr_live *out)
{
    char *name = dr_xml_text(g, "DBSubnetGroupName");
    char *arn = dr_xml_text(g, "DBSubnetGroupArn");
    char *desc = dr_xml_text(g, "DBSubnetGroupDescription");
    out->physical_id = name ? name : dr_xstrdup("");
    out->attributes = json_object();
    if (arn)
        json_object_set_new(out->attributes, "Arn", json_string(arn));
    json_t *live = json_object();
    dr_data_live_put(live, props, "DBSubnetGroupDescription", desc);
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
    out->properties = live;
    free(arn);
    free(desc);
}

int dr_data_db_subnet_group_create(dr_apply_ctx *c, const char *logical_id, json_t *props,
                                   json_t *tags, const char *token, dr_live *out, dr_err *err)
{
    (void)token; /* the name makes it idempotent */
    if (check_props(props, subnet_group_props, "AWS::RDS::DBSubnetGroup", err) != 0)
        return -1;
    const char *name = dr_data_str(props, "DBSubnetGroupName");
    if (!name || !*name)
        return dr_err_set(err, DR_E_CONFIG, "AWS::RDS::DBSubnetGroup needs a DBSubnetGroupName");
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "DBSubnetGroupName", name);
    const char *desc = dr_data_str(props, "DBSubnetGroupDescription");
    dr_kv_add(&p, "DBSubnetGroupDescription", desc ? desc : name);
    xmlDocPtr d = NULL;
    int rc = dr_data_add_list(&p, "SubnetIds.SubnetIdentifier", json_object_get(props, "SubnetIds"),
                              "SubnetIds", err);
    dr_data_add_tags(&p, "Tags.Tag", tags);
    if (rc == 0)
        rc = query(c, "CreateDBSubnetGroup", &p, &d, err);
    dr_kv_free(&p);
    if (rc == 0) {
        xmlNodePtr g = dr_xml_find(root_of(d), "CreateDBSubnetGroupResult/DBSubnetGroup");
        subnet_group_live(g, props, out);
        xmlFreeDoc(d);
        json_decref(out->properties);
        out->properties = NULL;
        return 0;
    }
    if (!dr_data_code_is(err, "DBSubnetGroupAlreadyExists"))
        return -1;
    /* A create whose answer was lost, or someone else's group. */
    dr_err saved = *err;
    int found = 0;
    if (dr_data_db_subnet_group_find(c, logical_id, props, &found, out, err) != 0)
        return -1;
    if (!found) {
        *err = saved;
        return -1;
    }
    return 0;
}

int dr_data_db_subnet_group_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                                 dr_live *out, dr_err *err)
{
    *found = 0;
    const char *name = dr_data_str(props, "DBSubnetGroupName");
    if (!name || !*name || dr_json_unknown(json_object_get(props, "DBSubnetGroupName")))
        return 0;
    xmlDocPtr d = NULL;
    if (describe_subnet_group(c, name, &d, err) != 0)
        return -1;
    xmlNodePtr g = subnet_group_node(d);
    if (!g) {
        xmlFreeDoc(d);
        return 0;
    }
    char *arn = dr_xml_text(g, "DBSubnetGroupArn");
    json_t *tags = arn ? list_tags(c, "rds", arn, err) : json_array();
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
        int rc = dr_data_not_ours(err, "DB subnet group", name, c->stack, logical_id, other);
        free(other);
        return rc;
    }
    subnet_group_live(g, props, out);
    xmlFreeDoc(d);
    *found = 1;
    return 0;
}

int dr_data_db_subnet_group_read(dr_apply_ctx *c, const char *physical_id, json_t *props,
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

int dr_data_db_subnet_group_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                                   json_t *new_props, dr_live *out, dr_err *err)
{
    if (check_props(new_props, subnet_group_props, "AWS::RDS::DBSubnetGroup", err) != 0)
        return -1;
    /* The group as ModifyDBSubnetGroup answers it, else as described: one
     * call fewer, and moto 5.2.1 loses a group it modified (its
     * DescribeDBSubnetGroups no longer finds it). */
    xmlDocPtr d = NULL;
    xmlNodePtr g = NULL;
    if (dr_data_changed(old_props, new_props, "DBSubnetGroupDescription") ||
        dr_data_changed(old_props, new_props, "SubnetIds")) {
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "DBSubnetGroupName", physical_id);
        int rc =
            add_scalar(&p, "DBSubnetGroupDescription", new_props, "DBSubnetGroupDescription", err);
        if (rc == 0)
            rc = dr_data_add_list(&p, "SubnetIds.SubnetIdentifier",
                                  json_object_get(new_props, "SubnetIds"), "SubnetIds", err);
        if (rc == 0)
            rc = query(c, "ModifyDBSubnetGroup", &p, &d, err);
        dr_kv_free(&p);
        if (rc != 0)
            return -1;
        g = dr_xml_find(root_of(d), "ModifyDBSubnetGroupResult/DBSubnetGroup");
    } else {
        if (describe_subnet_group(c, physical_id, &d, err) != 0)
            return -1;
        g = subnet_group_node(d);
    }
    if (!g) {
        xmlFreeDoc(d);
        return dr_err_set(err, DR_E_AWS, "DB subnet group %s disappeared during its update",
                          physical_id);
    }
    subnet_group_live(g, new_props, out);
    json_decref(out->properties);
    out->properties = NULL;
    char *arn = dr_xml_text(g, "DBSubnetGroupArn");
    xmlFreeDoc(d);
    int rc = 0;
    if (arn && dr_data_changed(old_props, new_props, "Tags"))
        rc = dr_data_retag(c, "rds", arn, json_object_get(old_props, "Tags"),
                           json_object_get(new_props, "Tags"), err);
    free(arn);
    return rc;
}

int dr_data_db_subnet_group_remove(dr_apply_ctx *c, const char *physical_id, json_t *props,
                                   dr_err *err)
{
    (void)props;
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "DBSubnetGroupName", physical_id);
    int rc = query(c, "DeleteDBSubnetGroup", &p, NULL, err);
    dr_kv_free(&p);
    if (rc != 0 && dr_data_code_is(err, "DBSubnetGroupNotFound")) {
        dr_err_clear(err);
        rc = 0;
    }
    return rc;
}

/* ---- DB instance: properties ------------------------------------------------ */

enum { FRESH = 1, SNAP = 2, REPL = 4, ALL = 7 };

typedef struct db_param {
    const char *prop;  /* CloudFormation's name */
    const char *param; /* the API's (a list's prefix for kind 'l') */
    char kind;         /* 's' scalar, 'l' list, 'x' secret, '-' handled apart */
    int ops;           /* which calls take it */
} db_param;

static const db_param db_params[] = {
    {"DBInstanceIdentifier", "DBInstanceIdentifier", 's', ALL},
    {"DBInstanceClass", "DBInstanceClass", 's', ALL},
    {"Engine", "Engine", 's', FRESH | SNAP},
    {"EngineVersion", "EngineVersion", 's', FRESH},
    {"AllocatedStorage", "AllocatedStorage", 's', ALL},
    {"StorageType", "StorageType", 's', ALL},
    {"Iops", "Iops", 's', ALL},
    {"StorageThroughput", "StorageThroughput", 's', ALL},
    {"MaxAllocatedStorage", "MaxAllocatedStorage", 's', FRESH | REPL},
    {"MultiAZ", "MultiAZ", 's', ALL},
    {"DBSubnetGroupName", "DBSubnetGroupName", 's', ALL},
    {"VPCSecurityGroups", "VpcSecurityGroupIds.VpcSecurityGroupId", 'l', ALL},
    {"PubliclyAccessible", "PubliclyAccessible", 's', ALL},
    {"DeletionProtection", "DeletionProtection", 's', ALL},
    {"CopyTagsToSnapshot", "CopyTagsToSnapshot", 's', ALL},
    {"AutoMinorVersionUpgrade", "AutoMinorVersionUpgrade", 's', ALL},
    {"Port", "Port", 's', ALL},
    {"StorageEncrypted", "StorageEncrypted", 's', FRESH},
    {"KmsKeyId", "KmsKeyId", 's', FRESH | REPL},
    {"BackupRetentionPeriod", "BackupRetentionPeriod", 's', FRESH | SNAP},
    {"PreferredBackupWindow", "PreferredBackupWindow", 's', FRESH | SNAP},
    {"PreferredMaintenanceWindow", "PreferredMaintenanceWindow", 's', FRESH},
    {"DBName", "DBName", 's', FRESH},
    {"MasterUsername", "MasterUsername", 's', FRESH},
    {"MasterUserPassword", "MasterUserPassword", 'x', FRESH},
    {"ManageMasterUserPassword", "ManageMasterUserPassword", 's', FRESH | SNAP},
    {"DBParameterGroupName", "DBParameterGroupName", 's', ALL},
    {"EnableCloudwatchLogsExports", "EnableCloudwatchLogsExports.member", 'l', ALL},
    {"EnablePerformanceInsights", "EnablePerformanceInsights", 's', FRESH | REPL},
    {"EnableIAMDatabaseAuthentication", "EnableIAMDatabaseAuthentication", 's', ALL},
    {"MonitoringInterval", "MonitoringInterval", 's', FRESH | REPL},
    {"MonitoringRoleArn", "MonitoringRoleArn", 's', FRESH | REPL},
    {"DBSnapshotIdentifier", "DBSnapshotIdentifier", 's', SNAP},
    {"SourceDBInstanceIdentifier", "SourceDBInstanceIdentifier", 's', REPL},
    {"SourceRegion", NULL, '-', REPL},
    {"Tags", NULL, '-', ALL},
};

#define NPARAMS (sizeof(db_params) / sizeof(db_params[0]))

static int db_shape(const json_t *props)
{
    if (json_object_get(props, "SourceDBInstanceIdentifier"))
        return REPL;
    if (json_object_get(props, "DBSnapshotIdentifier"))
        return SNAP;
    return FRESH;
}

static const char *shape_action(int shape)
{
    return shape == REPL   ? "CreateDBInstanceReadReplica"
           : shape == SNAP ? "RestoreDBInstanceFromDBSnapshot"
                           : "CreateDBInstance";
}

static int check_db_props(const json_t *props, dr_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)props, k, v)
    {
        int ok = 0;
        for (size_t i = 0; i < NPARAMS && !ok; i++)
            ok = strcmp(db_params[i].prop, k) == 0;
        if (!ok)
            return dr_err_set(err, DR_E_CONFIG,
                              "AWS::RDS::DBInstance: property %s is not supported by drctl", k);
    }
    return 0;
}

/* The parameters of the create call for this shape. The password (if
 * any) is read from Secrets Manager here: the caller frees p with
 * dr_data_kv_free_secret. *secret_arn gets the secret the reference names,
 * for the connection tag. */
static int db_create_params(dr_apply_ctx *c, const json_t *props, int shape, dr_kvlist *p,
                            char **secret_id, dr_err *err)
{
    *secret_id = NULL;
    for (size_t i = 0; i < NPARAMS; i++) {
        const db_param *d = &db_params[i];
        const json_t *v = json_object_get(props, d->prop);
        if (!v || json_is_null(v) || d->kind == '-')
            continue;
        if (!(d->ops & shape)) {
            /* What the snapshot or the source decides (a restored
             * instance's engine version, say): the call has no such
             * parameter. */
            dr_debug(c->log, "%s: %s comes from the %s, not sent", shape_action(shape), d->prop,
                     shape == SNAP ? "snapshot" : "source instance");
            continue;
        }
        if (d->kind == 'l') {
            if (dr_data_add_list(p, d->param, v, d->prop, err) != 0)
                return -1;
        } else if (d->kind == 'x') {
            const char *s = json_string_value(v);
            if (!s)
                return dr_err_set(err, DR_E_CONFIG, "%s must be a string", d->prop);
            if (dr_data_is_dynref(s)) {
                dr_data_dynref r;
                if (dr_data_dynref_parse(s, &r, err) != 0)
                    return -1;
                *secret_id = dr_xstrdup(r.secret_id);
                dr_data_dynref_free(&r);
                char *pw = NULL;
                if (dr_data_dynref_resolve(c, s, &pw, err) != 0)
                    return dr_err_wrap(err, "reading the master password");
                dr_kv_add(p, d->param, pw);
                dr_free_secret(pw);
            } else {
                dr_kv_add(p, d->param, s);
            }
        } else if (add_scalar(p, d->param, props, d->prop, err) != 0) {
            return -1;
        }
    }
    return 0;
}

/* botocore's PreSignedUrl for a cross-region replica: the same request as
 * a GET, presigned for the source region, with DestinationRegion. */
static int presign_replica(dr_apply_ctx *c, const char *source_region, dr_kvlist *p, dr_err *err)
{
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "Action", "CreateDBInstanceReadReplica");
    dr_kv_add(&q, "Version", "2014-10-31");
    for (size_t i = 0; i < p->n; i++)
        dr_kv_add(&q, p->items[i].name, p->items[i].value);
    dr_kv_add(&q, "DestinationRegion", c->region);
    dr_aws_rest_req req = {
        .service = "rds",
        .region = source_region,
        .operation = "CreateDBInstanceReadReplica",
        .method = "GET",
        .path = "/",
        .query = &q,
    };
    char *url = NULL;
    int rc = dr_aws_presign(c->aws, &req, time(NULL), 3600, &url, err);
    dr_kv_free(&q);
    if (rc != 0)
        return dr_err_wrap(err, "presigning the read replica request for %s", source_region);
    dr_kv_add(p, "PreSignedUrl", url);
    dr_free_secret(url); /* a credential in effect: wipe it */
    return 0;
}

/* ---- DB instance: describe ------------------------------------------------- */

/* DescribeDBInstances for one identifier: *doc NULL when there is none. */
static int describe_db(dr_apply_ctx *c, const char *id, xmlDocPtr *doc, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "DBInstanceIdentifier", id);
    int rc = query(c, "DescribeDBInstances", &p, doc, err);
    dr_kv_free(&p);
    if (rc != 0 && dr_data_code_is(err, "DBInstanceNotFound")) {
        dr_err_clear(err);
        *doc = NULL;
        return 0;
    }
    return rc;
}

static xmlNodePtr db_node(xmlDocPtr d)
{
    return dr_xml_find(root_of(d), "DescribeDBInstancesResult/DBInstances/DBInstance");
}

static void put_attr(json_t *a, const char *name, xmlNodePtr n, const char *path)
{
    char *v = dr_xml_text(n, path);
    if (v && *v)
        json_object_set_new(a, name, json_string(v));
    free(v);
}

/* Attributes (GetAtt) and live properties of an instance; only what the
 * model has, in the model's kinds (see dr_data_live_put). EngineVersion is
 * left out: with AutoMinorVersionUpgrade AWS moves it on by itself, and
 * plan must not read that as a wish to go back. */
static void db_live(xmlNodePtr inst, const json_t *props, dr_live *out)
{
    char *id = dr_xml_text(inst, "DBInstanceIdentifier");
    out->physical_id = id ? id : dr_xstrdup("");
    json_t *a = json_object();
    put_attr(a, "Endpoint.Address", inst, "Endpoint/Address");
    put_attr(a, "Endpoint.Port", inst, "Endpoint/Port");
    put_attr(a, "DBInstanceArn", inst, "DBInstanceArn");
    put_attr(a, "DbiResourceId", inst, "DbiResourceId");
    json_decref(out->attributes);
    out->attributes = a;
    json_t *live = json_object();
    static const struct {
        const char *prop, *path;
    } scalars[] = {
        {"DBInstanceClass", "DBInstanceClass"},
        {"Engine", "Engine"},
        {"AllocatedStorage", "AllocatedStorage"},
        {"StorageType", "StorageType"},
        {"MultiAZ", "MultiAZ"},
        {"DBSubnetGroupName", "DBSubnetGroup/DBSubnetGroupName"},
        {"PubliclyAccessible", "PubliclyAccessible"},
        {"DeletionProtection", "DeletionProtection"},
        {"CopyTagsToSnapshot", "CopyTagsToSnapshot"},
        {"AutoMinorVersionUpgrade", "AutoMinorVersionUpgrade"},
        {"Port", "Endpoint/Port"},
        {"StorageEncrypted", "StorageEncrypted"},
        {"KmsKeyId", "KmsKeyId"},
        {"BackupRetentionPeriod", "BackupRetentionPeriod"},
        {"DBName", "DBName"},
        {"MasterUsername", "MasterUsername"},
    };
    for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
        char *v = dr_xml_text(inst, scalars[i].path);
        dr_data_live_put(live, props, scalars[i].prop, v);
        free(v);
    }
    if (json_object_get(props, "VPCSecurityGroups")) {
        json_t *ids = json_array();
        for (xmlNodePtr g = dr_xml_find(inst, "VpcSecurityGroups/VpcSecurityGroupMembership"); g;
             g = dr_xml_next_same(g)) {
            char *v = dr_xml_text(g, "VpcSecurityGroupId");
            if (v)
                json_array_append_new(ids, json_string(v));
            free(v);
        }
        json_object_set_new(live, "VPCSecurityGroups",
                            dr_data_same_set(json_object_get(props, "VPCSecurityGroups"), ids));
    }
    json_decref(out->properties);
    out->properties = live;
}

static char *db_status(xmlNodePtr inst)
{
    return dr_xml_text(inst, "DBInstanceStatus");
}

static int is_status(xmlNodePtr inst, const char *s)
{
    char *st = db_status(inst);
    int r = st && strcmp(st, s) == 0;
    free(st);
    return r;
}

/* ---- DB instance: create, find, read ----------------------------------------- */

int dr_data_db_instance_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                               const char *token, dr_live *out, dr_err *err)
{
    (void)token; /* RDS takes no token: the identifier makes it idempotent */
    if (check_db_props(props, err) != 0)
        return -1;
    const char *id = dr_data_str(props, "DBInstanceIdentifier");
    if (!id || !*id)
        return dr_err_set(err, DR_E_CONFIG, "AWS::RDS::DBInstance needs a DBInstanceIdentifier");
    int shape = db_shape(props);
    if (shape == FRESH && !dr_data_str(props, "Engine"))
        return dr_err_set(err, DR_E_CONFIG,
                          "AWS::RDS::DBInstance %s: a new instance needs an Engine (or a "
                          "DBSnapshotIdentifier, or a SourceDBInstanceIdentifier)",
                          id);
    dr_kvlist p = DR_KVLIST_INIT;
    char *secret_id = NULL;
    int rc = db_create_params(c, props, shape, &p, &secret_id, err);
    if (rc == 0) {
        json_t *all = json_deep_copy(tags);
        if (!all)
            all = json_array();
        /* Which secret takes the connection details (see the top). */
        if (secret_id)
            json_array_append_new(
                all, json_pack("{s:s, s:s}", "Key", CONNECTION_SECRET_TAG, "Value", secret_id));
        dr_data_add_tags(&p, "Tags.Tag", all);
        json_decref(all);
        const char *src_region = dr_data_str(props, "SourceRegion");
        if (shape == REPL && src_region && strcmp(src_region, c->region) != 0)
            rc = presign_replica(c, src_region, &p, err);
    }
    xmlDocPtr d = NULL;
    if (rc == 0)
        rc = query(c, shape_action(shape), &p, &d, err);
    dr_data_kv_free_secret(&p);
    free(secret_id);
    if (rc == 0) {
        xmlNodePtr inst = dr_xml_find_any(root_of(d), "DBInstance");
        db_live(inst, props, out);
        json_decref(out->properties);
        out->properties = NULL;
        xmlFreeDoc(d);
        if (!*out->physical_id) {
            free(out->physical_id);
            out->physical_id = dr_xstrdup(id);
        }
        return 0;
    }
    if (!dr_data_code_is(err, "DBInstanceAlreadyExists"))
        return -1;
    /* A create whose answer was lost (ours: carry on), or a clash. */
    dr_err saved = *err;
    int found = 0;
    if (dr_data_db_instance_find(c, logical_id, props, &found, out, err) != 0)
        return -1;
    if (!found) {
        *err = saved;
        return dr_err_hint(err, "instance %s is still being deleted: run again once it is gone",
                           id);
    }
    return 0;
}

int dr_data_db_instance_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                             dr_live *out, dr_err *err)
{
    *found = 0;
    const char *id = dr_data_str(props, "DBInstanceIdentifier");
    if (!id || !*id || dr_json_unknown(json_object_get(props, "DBInstanceIdentifier")))
        return 0;
    xmlDocPtr d = NULL;
    if (describe_db(c, id, &d, err) != 0)
        return -1;
    xmlNodePtr inst = db_node(d);
    if (!inst || is_status(inst, "deleting")) {
        xmlFreeDoc(d);
        return 0;
    }
    json_t *tags = dr_data_xml_tags(dr_xml_find(inst, "TagList"));
    char *other = NULL;
    int owner = dr_data_tags_owner(tags, c->stack, logical_id, &other);
    json_decref(tags);
    if (owner != 1) {
        xmlFreeDoc(d);
        int rc = dr_data_not_ours(err, "RDS instance", id, c->stack, logical_id, other);
        free(other);
        return rc;
    }
    db_live(inst, props, out);
    xmlFreeDoc(d);
    *found = 1;
    return 0;
}

int dr_data_db_instance_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                             dr_live *out, dr_err *err)
{
    xmlDocPtr d = NULL;
    if (describe_db(c, physical_id, &d, err) != 0)
        return -1;
    xmlNodePtr inst = db_node(d);
    /* One being deleted is gone as far as plan is concerned. */
    *exists = inst && !is_status(inst, "deleting");
    if (*exists)
        db_live(inst, props, out);
    xmlFreeDoc(d);
    return 0;
}

/* ---- DB instance: update ---------------------------------------------------------- */

static int db_settled_check(dr_apply_ctx *c, void *ud, dr_err *err);

/* Postgres majors: "15" of "15.12"; before 10, "9.6" of "9.6.24". */
static char *pg_major(const char *v)
{
    const char *dot = strchr(v, '.');
    if (!dot)
        return dr_xstrdup(v);
    if (atoi(v) >= 10)
        return dr_xstrndup(v, (size_t)(dot - v));
    const char *dot2 = strchr(dot + 1, '.');
    return dot2 ? dr_xstrndup(v, (size_t)(dot2 - v)) : dr_xstrdup(v);
}

static const char *const db_modifiable[] = {"DBInstanceClass",
                                            "AllocatedStorage",
                                            "BackupRetentionPeriod",
                                            "MultiAZ",
                                            "DeletionProtection",
                                            "EngineVersion",
                                            "AutoMinorVersionUpgrade",
                                            "CopyTagsToSnapshot",
                                            "PreferredBackupWindow",
                                            "PreferredMaintenanceWindow",
                                            "MaxAllocatedStorage",
                                            "PubliclyAccessible",
                                            "StorageType",
                                            "Iops",
                                            "StorageThroughput",
                                            "VPCSecurityGroups",
                                            NULL};

int dr_data_db_modify_params(const char *id, const json_t *old_props, const json_t *new_props,
                             dr_kvlist *p, dr_err *err)
{
    size_t before = p->n;
    for (const char *const *k = db_modifiable; *k; k++) {
        if (!dr_data_changed(old_props, new_props, *k) || !json_object_get(new_props, *k))
            continue;
        if (strcmp(*k, "EngineVersion") == 0) {
            const char *o = dr_data_str(old_props, *k), *n = dr_data_str(new_props, *k);
            /* A version the model only starts to name (a promoted replica
             * inherited its source's) is a description, not a change: AWS
             * may have moved it on since, and going back fails. */
            if (!o)
                continue;
            if (n) {
                char *mo = pg_major(o), *mn = pg_major(n);
                int major = strcmp(mo, mn) != 0;
                free(mo);
                free(mn);
                if (major) {
                    dr_err_set(err, DR_E_CONFIG,
                               "RDS instance %s: engine version %s -> %s is a major upgrade, "
                               "which drctl does not do in place",
                               id, o, n);
                    return dr_err_hint(err, "upgrade it with a snapshot first (aws rds "
                                            "modify-db-instance --allow-major-version-upgrade), "
                                            "then set the new version in the region profile");
                }
            }
        }
        if (strcmp(*k, "VPCSecurityGroups") == 0) {
            if (dr_data_add_list(p, "VpcSecurityGroupIds.VpcSecurityGroupId",
                                 json_object_get(new_props, *k), *k, err) != 0)
                return -1;
        } else if (add_scalar(p, *k, new_props, *k, err) != 0) {
            return -1;
        }
    }
    if (p->n == before)
        return 0;
    dr_kv_add(p, "DBInstanceIdentifier", id);
    /* Now, not in the next maintenance window: an apply means it. */
    dr_kv_add(p, "ApplyImmediately", "true");
    return 0;
}

int dr_data_db_shape_change(const char *id, const json_t *old_props, const json_t *new_props,
                            int *promote, dr_err *err)
{
    *promote = 0;
    const char *os = dr_data_str(old_props, "SourceDBInstanceIdentifier");
    const char *ns = dr_data_str(new_props, "SourceDBInstanceIdentifier");
    if (os && !ns) {
        *promote = 1;
    } else if (ns && (!os || strcmp(os, ns) != 0)) {
        dr_err_set(err, DR_E_CONFIG,
                   "RDS instance %s cannot become a read replica of %s in place: RDS makes "
                   "replicas only as new instances",
                   id, ns);
        return dr_err_hint(err, "delete the instance (drctl destroy of this region, or aws rds "
                                "delete-db-instance) and deploy again to make the replica");
    }
    static const char *const fixed[] = {"Engine", "StorageEncrypted", NULL};
    for (const char *const *k = fixed; *k; k++) {
        const json_t *o = json_object_get(old_props, *k), *n = json_object_get(new_props, *k);
        if (o && n && !json_equal(o, n)) {
            dr_err_set(err, DR_E_CONFIG,
                       "RDS instance %s: %s cannot change in place, and drctl does not replace "
                       "a database by itself",
                       id, *k);
            return dr_err_hint(err, "move the data to a new instance (drctl backup, then restore "
                                    "into a stack with the new setting)");
        }
    }
    return 0;
}

int dr_data_db_instance_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                               json_t *new_props, dr_live *out, dr_err *err)
{
    if (check_db_props(new_props, err) != 0)
        return -1;
    int promote = 0;
    if (dr_data_db_shape_change(physical_id, old_props, new_props, &promote, err) != 0)
        return -1;
    dr_kvlist p = DR_KVLIST_INIT;
    int rc = dr_data_db_modify_params(physical_id, old_props, new_props, &p, err);
    if (rc == 0 && promote) {
        /* The model no longer names a source: the replica is promoted, as
         * CloudFormation does when SourceDBInstanceIdentifier goes away
         * (a failover's runbook may have promoted it already). */
        xmlDocPtr d = NULL;
        rc = describe_db(c, physical_id, &d, err);
        char *src = rc == 0 && db_node(d)
                        ? dr_xml_text(db_node(d), "ReadReplicaSourceDBInstanceIdentifier")
                        : NULL;
        xmlFreeDoc(d);
        if (src && *src) {
            dr_kvlist pp = DR_KVLIST_INIT;
            dr_kv_add(&pp, "DBInstanceIdentifier", physical_id);
            rc = add_scalar(&pp, "BackupRetentionPeriod", new_props, "BackupRetentionPeriod", err);
            if (rc == 0)
                rc = add_scalar(&pp, "PreferredBackupWindow", new_props, "PreferredBackupWindow",
                                err);
            if (rc == 0)
                rc = query(c, "PromoteReadReplica", &pp, NULL, err);
            dr_kv_free(&pp);
            if (rc == 0)
                dr_notice(c->log, "RDS instance %s: promoted from read replica of %s", physical_id,
                          src);
        }
        free(src);
        /* PromoteReadReplica set the backups; the rest waits until the
         * promotion is done (RDS refuses a modification meanwhile). */
        dr_kv_del(&p, "BackupRetentionPeriod");
        dr_kv_del(&p, "PreferredBackupWindow");
        /* More than the identifier and ApplyImmediately left: wait. */
        if (rc == 0 && p.n > 2) {
            char what[160];
            snprintf(what, sizeof(what), "RDS instance %s to finish its promotion", physical_id);
            rc = dr_wait(c, what, 3600, db_settled_check, (void *)physical_id, err);
        }
    }
    if (rc == 0 && p.n > 2) /* a change beyond the identifier and ApplyImmediately */
        rc = query(c, "ModifyDBInstance", &p, NULL, err);
    dr_kv_free(&p);
    if (rc != 0)
        return -1;
    xmlDocPtr d = NULL;
    if (describe_db(c, physical_id, &d, err) != 0)
        return -1;
    xmlNodePtr inst = db_node(d);
    if (!inst) {
        xmlFreeDoc(d);
        return dr_err_set(err, DR_E_AWS, "RDS instance %s disappeared during its update",
                          physical_id);
    }
    db_live(inst, new_props, out);
    json_decref(out->properties);
    out->properties = NULL;
    char *arn = dr_xml_text(inst, "DBInstanceArn");
    xmlFreeDoc(d);
    if (arn && dr_data_changed(old_props, new_props, "Tags"))
        rc = dr_data_retag(c, "rds", arn, json_object_get(old_props, "Tags"),
                           json_object_get(new_props, "Tags"), err);
    free(arn);
    return rc;
}

/* ---- DB instance: waits -------------------------------------------------------------- */

/* Statuses from which an instance does not become available by itself. */
static int db_failed(const char *st)
{
    static const char *const bad[] = {"failed",
                                      "incompatible-network",
                                      "incompatible-option-group",
                                      "incompatible-parameters",
                                      "incompatible-restore",
                                      "incompatible-credentials",
                                      "inaccessible-encryption-credentials",
                                      "restore-error",
                                      "storage-full",
                                      NULL};
    for (const char *const *b = bad; *b; b++)
        if (strcmp(st, *b) == 0)
            return 1;
    return 0;
}

/* Ready: available (or optimising storage, which serves), and none of the
 * changes an update applies immediately still pending. */
static int db_ready(xmlNodePtr inst)
{
    char *st = db_status(inst);
    int ok = st && (strcmp(st, "available") == 0 || strcmp(st, "storage-optimization") == 0);
    free(st);
    static const char *const pending[] = {"DBInstanceClass",       "AllocatedStorage", "MultiAZ",
                                          "BackupRetentionPeriod", "EngineVersion",    NULL};
    for (const char *const *k = pending; ok && *k; k++) {
        char path[96];
        snprintf(path, sizeof(path), "PendingModifiedValues/%s", *k);
        ok = dr_xml_find(inst, path) == NULL;
    }
    return ok;
}

static const char *secret_region(const char *arn, char *buf, size_t n)
{
    /* arn:partition:secretsmanager:REGION:... */
    if (strncmp(arn, "arn:", 4) != 0)
        return NULL;
    const char *p = arn;
    for (int i = 0; i < 3 && p; i++) {
        p = strchr(p, ':');
        if (p)
            p++;
    }
    const char *e = p ? strchr(p, ':') : NULL;
    if (!e || (size_t)(e - p) >= n)
        return NULL;
    memcpy(buf, p, (size_t)(e - p));
    buf[e - p] = '\0';
    return buf;
}

/* This region's database secret by its drctl tags, for instances whose
 * properties do not name it (restored, replica). NULL (and 0) when there is
 * none. */
static int find_db_secret(dr_apply_ctx *c, char **arn, dr_err *err)
{
    *arn = NULL;
    if (!c->stack)
        return 0;
    char *token = NULL;
    int rc = 0;
    do {
        json_t *in = json_pack("{s:[{s:s, s:[s]}, {s:s, s:[s]}]}", "Filters", "Key", "tag-key",
                               "Values", "drctl:stack", "Key", "tag-value", "Values", c->stack);
        if (token)
            json_object_set_new(in, "NextToken", json_string(token));
        free(token);
        token = NULL;
        json_t *out = NULL;
        rc = dr_aws_json(c->aws, "secretsmanager", c->region, "ListSecrets", in, &out, err);
        json_decref(in);
        if (rc != 0)
            break;
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(out, "SecretList"), i, s)
        {
            if (dr_data_tags_owner(json_object_get(s, "Tags"), c->stack, DB_SECRET_LOGICAL_ID,
                                   NULL) == 1 &&
                !*arn && json_string_value(json_object_get(s, "ARN")))
                *arn = dr_xstrdup(json_string_value(json_object_get(s, "ARN")));
        }
        const char *nt = json_string_value(json_object_get(out, "NextToken"));
        if (nt && !*arn)
            token = dr_xstrdup(nt);
        json_decref(out);
    } while (token);
    return rc;
}

static int json_str_is(const json_t *o, const char *k, const char *v)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && v && strcmp(s, v) == 0;
}

/* Writes host, port and url into the database secret (see the top). */
static int merge_connection(dr_apply_ctx *c, xmlNodePtr inst, dr_err *err)
{
    char *id = dr_xml_text(inst, "DBInstanceIdentifier");
    char *secret = NULL;
    json_t *tags = dr_data_xml_tags(dr_xml_find(inst, "TagList"));
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) if (json_str_is(t, "Key", CONNECTION_SECRET_TAG) && !secret)
        secret = dr_xstrdup(json_string_value(json_object_get(t, "Value")));
    json_decref(tags);
    int rc = 0;
    if (!secret && (rc = find_db_secret(c, &secret, err)) != 0) {
        free(id);
        return rc;
    }
    char reg[32];
    const char *sr = secret ? secret_region(secret, reg, sizeof(reg)) : NULL;
    if (!secret || (sr && strcmp(sr, c->region) != 0)) {
        /* A tag copied from another region's snapshot names that region's
         * secret: never point it at this instance. */
        dr_warn(c->log,
                "RDS instance %s: no database secret in %s to write its endpoint to; "
                "DATABASE_URL stays unset until one exists and the stack is applied again",
                id ? id : "?", c->region);
        free(secret);
        free(id);
        return 0;
    }
    char *host = dr_xml_text(inst, "Endpoint/Address");
    char *port_s = dr_xml_text(inst, "Endpoint/Port");
    char *master = dr_xml_text(inst, "MasterUsername");
    char *dbname = dr_xml_text(inst, "DBName");
    json_t *in = json_pack("{s:s}", "SecretId", secret), *out = NULL, *j = NULL;
    if (!host || !port_s) {
        rc = dr_err_set(err, DR_E_AWS, "RDS instance %s is available but has no endpoint",
                        id ? id : "?");
        goto done;
    }
    if ((rc = dr_aws_json(c->aws, "secretsmanager", c->region, "GetSecretValue", in, &out, err)) !=
        0)
        goto done;
    j = json_loads(json_string_value(json_object_get(out, "SecretString"))
                       ? json_string_value(json_object_get(out, "SecretString"))
                       : "",
                   0, NULL);
    const char *pw = json_string_value(json_object_get(j, "password"));
    if (!json_is_object(j) || !pw) {
        rc = dr_err_set(err, DR_E_CONFIG,
                        "database secret %s does not hold a JSON object with a password", secret);
        goto done;
    }
    const char *user = json_string_value(json_object_get(j, "username"));
    if (!user)
        user = master ? master : "postgres";
    const char *db = dbname ? dbname : json_string_value(json_object_get(j, "dbname"));
    long port = strtol(port_s, NULL, 10);
    char *url = dr_data_pg_url(user, pw, host, port, db ? db : "postgres");
    const json_t *old_port = json_object_get(j, "port");
    int same = json_str_is(j, "host", host) && json_str_is(j, "url", url) &&
               ((json_is_integer(old_port) && json_integer_value(old_port) == port) ||
                json_str_is(j, "port", port_s));
    if (!same) {
        json_object_set_new(j, "host", json_string(host));
        json_object_set_new(j, "port", json_integer(port));
        json_object_set_new(j, "url", json_string(url));
        char *value = json_dumps(j, JSON_COMPACT);
        char token[37];
        dr_data_uuid(token);
        json_t *put = json_pack("{s:s, s:s, s:s}", "SecretId", secret, "ClientRequestToken", token,
                                "SecretString", value);
        rc = dr_aws_json(c->aws, "secretsmanager", c->region, "PutSecretValue", put, NULL, err);
        dr_data_json_free_secret(put);
        dr_free_secret(value);
        if (rc == 0)
            dr_info(c->log, "RDS instance %s: wrote host, port and url to secret %s", id, secret);
    }
    dr_free_secret(url);
done:
    dr_data_json_free_secret(j);
    dr_data_json_free_secret(out);
    json_decref(in);
    if (rc != 0)
        dr_err_wrap(err, "writing the endpoint of RDS instance %s to its secret", id ? id : "?");
    free(host);
    free(port_s);
    free(master);
    free(dbname);
    free(secret);
    free(id);
    return rc;
}

static int db_ready_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    const char *id = ud;
    xmlDocPtr d = NULL;
    if (describe_db(c, id, &d, err) != 0)
        return -1;
    xmlNodePtr inst = db_node(d);
    int rc = 0;
    char *st = inst ? db_status(inst) : NULL;
    if (!inst) {
        rc = dr_err_set(err, DR_E_AWS, "RDS instance %s disappeared while it was being made", id);
    } else if (st && db_failed(st)) {
        rc = dr_err_set(err, DR_E_AWS, "RDS instance %s is in status %s", id, st);
        dr_err_hint(err,
                    "see the instance's events: aws rds describe-events --source-identifier "
                    "%s --source-type db-instance",
                    id);
    } else if (db_ready(inst)) {
        rc = merge_connection(c, inst, err) == 0 ? 1 : -1;
    }
    free(st);
    xmlFreeDoc(d);
    return rc;
}

int dr_data_db_instance_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    char what[160];
    snprintf(what, sizeof(what), "RDS instance %s to be available", physical_id);
    /* A Multi-AZ create or a restore of a large snapshot takes long. */
    return dr_wait(c, what, 3600, db_ready_check, (void *)physical_id, err);
}

static int db_gone_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    xmlDocPtr d = NULL;
    if (describe_db(c, (const char *)ud, &d, err) != 0)
        return -1;
    int gone = db_node(d) == NULL;
    xmlFreeDoc(d);
    return gone;
}

int dr_data_db_instance_wait_deleted(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    char what[160];
    snprintf(what, sizeof(what), "RDS instance %s to be deleted", physical_id);
    return dr_wait(c, what, 3600, db_gone_check, (void *)physical_id, err);
}

/* ---- DB instance: remove ------------------------------------------------------------- */

/* Statuses an instance leaves by itself, in which RDS refuses a
 * modification or a final snapshot. */
static int db_busy(const char *st)
{
    static const char *const busy[] = {"creating",
                                       "modifying",
                                       "backing-up",
                                       "configuring-enhanced-monitoring",
                                       "configuring-iam-database-auth",
                                       "configuring-log-exports",
                                       "converting-to-vpc",
                                       "maintenance",
                                       "moving-to-vpc",
                                       "rebooting",
                                       "renaming",
                                       "resetting-master-credentials",
                                       "starting",
                                       "stopping",
                                       "upgrading",
                                       NULL};
    for (const char *const *b = busy; *b; b++)
        if (strcmp(st, *b) == 0)
            return 1;
    return 0;
}

static int db_settled_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    xmlDocPtr d = NULL;
    if (describe_db(c, (const char *)ud, &d, err) != 0)
        return -1;
    xmlNodePtr inst = db_node(d);
    char *st = inst ? db_status(inst) : NULL;
    int done = !inst || !st || !db_busy(st);
    free(st);
    xmlFreeDoc(d);
    return done;
}

int dr_data_db_instance_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    (void)props;
    const char *id = physical_id;
    xmlDocPtr d = NULL;
    if (describe_db(c, id, &d, err) != 0)
        return -1;
    xmlNodePtr inst = db_node(d);
    char *st = inst ? db_status(inst) : NULL;
    if (!inst || (st && strcmp(st, "deleting") == 0)) {
        free(st);
        xmlFreeDoc(d);
        return 0;
    }
    char *prot = dr_xml_text(inst, "DeletionProtection");
    char *source = dr_xml_text(inst, "ReadReplicaSourceDBInstanceIdentifier");
    int protected_ = prot && strcmp(prot, "true") == 0;
    /* RDS takes no final snapshot of a read replica (and refuses the
     * request): its data is the source's. */
    int snapshot = c->final_snapshot && !(source && *source);
    int busy = st && db_busy(st);
    free(prot);
    free(source);
    free(st);
    xmlFreeDoc(d);
    int rc = 0;
    if (busy && (protected_ || snapshot)) {
        char what[160];
        snprintf(what, sizeof(what), "RDS instance %s to settle before its deletion", id);
        if (dr_wait(c, what, 3600, db_settled_check, (void *)id, err) != 0)
            return -1;
    }
    if (protected_) {
        dr_kvlist p = DR_KVLIST_INIT;
        dr_kv_add(&p, "DBInstanceIdentifier", id);
        dr_kv_add(&p, "DeletionProtection", "false");
        dr_kv_add(&p, "ApplyImmediately", "true");
        rc = query(c, "ModifyDBInstance", &p, NULL, err);
        dr_kv_free(&p);
        if (rc != 0)
            return dr_data_code_is(err, "DBInstanceNotFound") ? (dr_err_clear(err), 0) : -1;
    }
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "DBInstanceIdentifier", id);
    char *snap = NULL;
    if (snapshot) {
        snap = dr_data_final_snapshot_id(id, time(NULL));
        dr_kv_add(&p, "SkipFinalSnapshot", "false");
        dr_kv_add(&p, "FinalDBSnapshotIdentifier", snap);
    } else {
        dr_kv_add(&p, "SkipFinalSnapshot", "true");
    }
    rc = query(c, "DeleteDBInstance", &p, NULL, err);
    dr_kv_free(&p);
    if (rc == 0 && snap)
        dr_notice(c->log, "RDS instance %s: final snapshot %s", id, snap);
    if (rc != 0 && (dr_data_code_is(err, "DBInstanceNotFound") ||
                    (dr_data_code_is(err, "InvalidDBInstanceState") &&
                     strstr(err->aws.message, "already being deleted")))) {
        dr_err_clear(err);
        rc = 0;
    }
    free(snap);
    return rc;
}
