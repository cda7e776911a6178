/*
 * model_data.c - the data family: the RDS PostgreSQL instance and its
 * subnet group, the ElastiCache Redis replication group and its subnet
 * group, the data bucket (and its replication to the standby), and the
 * standby's bundle vault bucket.
 *
 * Why it looks like this:
 * - The database is one resource whose shape says where it comes from
 *   (dr_db_source): fresh, restored from a snapshot, a cross-region read
 *   replica of the primary, or a promoted former replica. Its password is
 *   never in the model: a fresh instance gets MasterUserPassword as a
 *   Secrets Manager dynamic reference to the database secret, which drctl
 *   fills before the instance is created (ManageMasterUserPassword is off
 *   because the password must be the same in both regions, which an
 *   RDS-managed secret cannot promise).
 * - Port 5432 is explicit: CloudFormation (and moto) default it to 3306.
 * - Redis holds only cache and rate-limit counters: it is rebuilt at
 *   failover, never restored, so it keeps no snapshots. Its AUTH token is a
 *   dynamic reference as well (in-transit encryption requires one).
 * - Buckets: versioned, SSE-KMS with the stack's key (bucket keys on),
 *   public access blocked, owner-enforced, TLS-only policy, lifecycle from
 *   the profile. Bucket names follow dr_model_bucket_name, so that another
 *   region's bucket (the replication destination) and the vault are known
 *   by name.
 * - Warm standby: the primary's bucket replicates to the standby's (with
 *   delete markers and SSE-KMS objects, re-encrypted with the standby's
 *   key). The destination's ARN and key come from the standby's outputs
 *   (drctl::Output): the primary's replication is configured once the
 *   standby exists. The replication role names the source bucket by its
 *   deterministic ARN rather than by reference, since the bucket refers to
 *   the role.
 * - The vault bucket (standby only) has Object Lock enabled with no default
 *   retention: the bundle store sets retention per bundle, so that
 *   retention pruning stays possible.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack/model_int.h"
#include "util/mem.h"

/* {"Fn::Sub": "{{resolve:secretsmanager:${Secret}<suffix>"}: the secret's
 * ARN goes in, CloudFormation (or the engine) reads the value at create
 * time, and the value is in no template, model or state. */
static json_t *secret_ref(const char *secret, const char *suffix)
{
    return dr_sub("{{resolve:secretsmanager:${%s}%s", secret, suffix);
}

static void subnet_groups(dr_mb *b)
{
    const int n = b->net.az_count;
    char *name = dr_model_name(b->stack, "db", 255);
    dr_mb_add(b, "DbSubnetGroup", "AWS::RDS::DBSubnetGroup",
              json_pack("{s:o, s:s, s:o}", "DBSubnetGroupName", dr_str_take(name),
                        "DBSubnetGroupDescription", "LiteLLM database: the database subnets",
                        "SubnetIds", dr_refs_numbered("DatabaseSubnet", n, NULL)));
    if (b->p->cache.enabled) {
        name = dr_model_name(b->stack, "cache", 255);
        dr_mb_add(b, "CacheSubnetGroup", "AWS::ElastiCache::SubnetGroup",
                  json_pack("{s:o, s:s, s:o}", "CacheSubnetGroupName", dr_str_take(name),
                            "Description", "LiteLLM Redis: the database subnets", "SubnetIds",
                            dr_refs_numbered("DatabaseSubnet", n, NULL)));
    }
}

static void database(dr_mb *b)
{
    const dr_region_profile *p = b->p;
    char *id = dr_model_name(b->stack, "db", 63);
    char storage[16];
    snprintf(storage, sizeof(storage), "%d", p->database.allocated_storage);
    json_t *props = json_pack(
        "{s:o, s:s, s:s, s:s, s:b, s:o, s:[o], s:b, s:b, s:b, s:b, s:s}", "DBInstanceIdentifier",
        dr_str_take(id), "DBInstanceClass", p->database.instance_class, "AllocatedStorage", storage,
        "StorageType", "gp3", "MultiAZ", p->database.multi_az, "DBSubnetGroupName",
        dr_ref("DbSubnetGroup"), "VPCSecurityGroups", dr_getatt("DbSecurityGroup", "GroupId"),
        "PubliclyAccessible", 0, "DeletionProtection", p->database.deletion_protection,
        "CopyTagsToSnapshot", 1, "AutoMinorVersionUpgrade", 1, "Port", "5432");
    /* What each source may carry follows RDS: a replica inherits engine,
     * version, credentials and encryption (but a cross-region one needs a
     * key in its own region); a snapshot brings its credentials and key. */
    switch (b->db) {
    case DR_DB_FRESH:
        json_object_set_new(props, "Engine", json_string("postgres"));
        json_object_set_new(props, "EngineVersion", json_string(p->database.engine_version));
        json_object_set_new(props, "StorageEncrypted", json_true());
        json_object_set_new(props, "KmsKeyId", dr_getatt("Key", "Arn"));
        json_object_set_new(props, "BackupRetentionPeriod",
                            json_integer(p->database.backup_retention));
        json_object_set_new(props, "DBName", json_string(p->database.name));
        json_object_set_new(props, "MasterUsername", json_string(p->database.username));
        json_object_set_new(props, "ManageMasterUserPassword", json_false());
        json_object_set_new(props, "MasterUserPassword",
                            secret_ref("DbSecret", ":SecretString:password}}"));
        break;
    case DR_DB_SNAPSHOT:
        json_object_set_new(props, "Engine", json_string("postgres"));
        json_object_set_new(props, "EngineVersion", json_string(p->database.engine_version));
        json_object_set_new(props, "BackupRetentionPeriod",
                            json_integer(p->database.backup_retention));
        if (b->db_snapshot) {
            json_object_set_new(props, "DBSnapshotIdentifier", json_string(b->db_snapshot));
        } else {
            dr_mb_parameter(b, "DbSnapshotIdentifier",
                            "The RDS snapshot (ARN or identifier, in this region) that the "
                            "database is restored from");
            json_object_set_new(props, "DBSnapshotIdentifier", dr_ref("DbSnapshotIdentifier"));
        }
        break;
    case DR_DB_REPLICA:
        json_object_set_new(props, "SourceDBInstanceIdentifier",
                            dr_other_output(b->peer->region, "DbInstanceArn"));
        json_object_set_new(props, "SourceRegion", json_string(b->peer->region));
        json_object_set_new(props, "KmsKeyId", dr_getatt("Key", "Arn"));
        break;
    case DR_DB_PROMOTED:
        json_object_set_new(props, "Engine", json_string("postgres"));
        json_object_set_new(props, "EngineVersion", json_string(p->database.engine_version));
        json_object_set_new(props, "StorageEncrypted", json_true());
        json_object_set_new(props, "KmsKeyId", dr_getatt("Key", "Arn"));
        json_object_set_new(props, "BackupRetentionPeriod",
                            json_integer(p->database.backup_retention));
        break;
    case DR_DB_AUTO:
    case DR_DB_NONE:
        break;
    }
    dr_resource *r = dr_mb_add(b, "Db", "AWS::RDS::DBInstance", props);
    /* Every shape writes host, port and url into this region's database
     * secret once ready; the fresh one references it already, the others
     * (snapshot, replica, promoted) must wait for it explicitly. */
    if (b->db != DR_DB_FRESH)
        dr_mb_depends(r, "DbSecret");
    /* A replica holds only a copy of the primary's data (and RDS takes no
     * final snapshot of one); everything else keeps a final snapshot. */
    r->deletion_policy = b->db == DR_DB_REPLICA ? "Delete" : "Snapshot";
    dr_mb_output(b, "DbEndpoint", dr_getatt("Db", "Endpoint.Address"),
                 "PostgreSQL endpoint address");
    dr_mb_output(b, "DbPort", dr_getatt("Db", "Endpoint.Port"), "PostgreSQL port");
    dr_mb_output(b, "DbInstanceArn", dr_getatt("Db", "DBInstanceArn"),
                 "ARN of the RDS instance (the source of the standby's replica)");
    dr_mb_output(b, "DbInstanceIdentifier", dr_ref("Db"), "RDS instance identifier");
}

static void cache(dr_mb *b)
{
    const dr_region_profile *p = b->p;
    int multi = p->cache.replicas > 0;
    char *id = dr_model_name(b->stack, "cache", 40);
    json_t *props = json_pack(
        "{s:o, s:s, s:s, s:s, s:s, s:i, s:b, s:b, s:b, s:o, s:b, s:s, s:o, s:o, s:[o],"
        " s:i, s:i, s:b}",
        "ReplicationGroupId", dr_str_take(id), "ReplicationGroupDescription",
        "LiteLLM cache and rate-limit counters (rebuilt, never restored)", "Engine", "redis",
        "EngineVersion", "7.1", "CacheNodeType", p->cache.node_type, "NumCacheClusters",
        1 + p->cache.replicas, "AutomaticFailoverEnabled", multi, "MultiAZEnabled", multi,
        "AtRestEncryptionEnabled", 1, "KmsKeyId", dr_getatt("Key", "Arn"),
        "TransitEncryptionEnabled", 1, "TransitEncryptionMode", "required", "AuthToken",
        secret_ref("CacheAuthSecret", ":SecretString}}"), "CacheSubnetGroupName",
        dr_ref("CacheSubnetGroup"), "SecurityGroupIds", dr_getatt("CacheSecurityGroup", "GroupId"),
        "Port", 6379, "SnapshotRetentionLimit", 0, "AutoMinorVersionUpgrade", 1);
    dr_resource *r = dr_mb_add(b, "Cache", "AWS::ElastiCache::ReplicationGroup", props);
    r->deletion_policy = "Delete"; /* said explicitly: nothing in it is kept */
    dr_mb_output(b, "CacheEndpoint", dr_getatt("Cache", "PrimaryEndPoint.Address"),
                 "Redis primary endpoint address");
    dr_mb_output(b, "CachePort", dr_getatt("Cache", "PrimaryEndPoint.Port"), "Redis port");
}

static json_t *bucket_base(const char *name)
{
    return json_pack("{s:s, s:{s:s}, s:{s:[{s:{s:s, s:o}, s:b}]}, s:{s:b, s:b, s:b, s:b},"
                     " s:{s:[{s:s}]}}",
                     "BucketName", name, "VersioningConfiguration", "Status", "Enabled",
                     "BucketEncryption", "ServerSideEncryptionConfiguration",
                     "ServerSideEncryptionByDefault", "SSEAlgorithm", "aws:kms", "KMSMasterKeyID",
                     dr_getatt("Key", "Arn"), "BucketKeyEnabled", 1,
                     "PublicAccessBlockConfiguration", "BlockPublicAcls", 1, "BlockPublicPolicy", 1,
                     "IgnorePublicAcls", 1, "RestrictPublicBuckets", 1, "OwnershipControls",
                     "Rules", "ObjectOwnership", "BucketOwnerEnforced");
}

static void tls_only_policy(dr_mb *b, const char *id, const char *bucket)
{
    /* The sandbox speaks plain HTTP to moto, and moto enforces
     * aws:SecureTransport: with this policy no object could be read or
     * written there. Real environments always get it. */
    if (b->p->environment && strcmp(b->p->environment, "sandbox") == 0)
        return;
    char arn_objects[128];
    snprintf(arn_objects, sizeof(arn_objects), "${%s.Arn}/*", bucket);
    dr_mb_add(b, id, "AWS::S3::BucketPolicy",
              json_pack("{s:o, s:{s:s, s:[{s:s, s:s, s:s, s:s, s:[o, o], s:{s:{s:s}}}]}}", "Bucket",
                        dr_ref(bucket), "PolicyDocument", "Version", "2012-10-17", "Statement",
                        "Sid", "DenyInsecureTransport", "Effect", "Deny", "Principal", "*",
                        "Action", "s3:*", "Resource", dr_getatt(bucket, "Arn"),
                        dr_sub("%s", arn_objects), "Condition", "Bool", "aws:SecureTransport",
                        "false"));
}

static json_t *replication(dr_mb *b, const char *source_name)
{
    const char *standby = b->peer->region;
    char *src_arn = dr_xasprintf("arn:${AWS::Partition}:s3:::%s", source_name);
    json_t *statements = json_pack(
        "[{s:s, s:s, s:[s, s], s:o}, {s:s, s:s, s:[s, s, s], s:o},"
        " {s:s, s:s, s:[s, s, s], s:o}, {s:s, s:s, s:s, s:o, s:{s:{s:o}}},"
        " {s:s, s:s, s:s, s:o, s:{s:{s:o}}}]",
        "Sid", "ReadReplicationConfiguration", "Effect", "Allow", "Action",
        "s3:GetReplicationConfiguration", "s3:ListBucket", "Resource", dr_sub("%s", src_arn), "Sid",
        "ReadSourceVersions", "Effect", "Allow", "Action", "s3:GetObjectVersionForReplication",
        "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging", "Resource", dr_sub("%s/*", src_arn),
        "Sid", "WriteStandbyReplicas", "Effect", "Allow", "Action", "s3:ReplicateObject",
        "s3:ReplicateDelete", "s3:ReplicateTags", "Resource",
        json_pack("{s:[s, {s:o}]}", "Fn::Sub", "${Destination}/*", "Destination",
                  dr_other_output(standby, "BucketArn")),
        "Sid", "DecryptSourceObjects", "Effect", "Allow", "Action", "kms:Decrypt", "Resource",
        dr_getatt("Key", "Arn"), "Condition", "StringEquals", "kms:ViaService",
        dr_str_take(dr_xasprintf("s3.%s.amazonaws.com", b->region)), "Sid",
        "EncryptReplicasWithStandbyKey", "Effect", "Allow", "Action", "kms:Encrypt", "Resource",
        dr_other_output(standby, "KmsKeyArn"), "Condition", "StringEquals", "kms:ViaService",
        dr_str_take(dr_xasprintf("s3.%s.amazonaws.com", standby)));
    free(src_arn);
    dr_resource *role = dr_mb_add(
        b, "ReplicationRole", "AWS::IAM::Role",
        dr_service_role(b, "replication", "S3 replication of the data bucket to the standby region",
                        "s3.amazonaws.com", "replicate-to-standby", statements));
    /* The standby's bucket and key exist only once the standby is deployed,
     * and the standby's replica needs the primary's database first. */
    role->deferrable = "Policies";
    char rule[64];
    snprintf(rule, sizeof(rule), "to-%s", standby);
    return json_pack(
        "{s:o, s:[{s:s, s:s, s:i, s:{s:s}, s:{s:s}, s:{s:o, s:s, s:{s:o}},"
        " s:{s:{s:s}}}]}",
        "Role", dr_getatt("ReplicationRole", "Arn"), "Rules", "Id", rule, "Status", "Enabled",
        "Priority", 1, "Filter", "Prefix", "", "DeleteMarkerReplication", "Status", "Enabled",
        "Destination", "Bucket", dr_other_output(standby, "BucketArn"), "StorageClass", "STANDARD",
        "EncryptionConfiguration", "ReplicaKmsKeyID", dr_other_output(standby, "KmsKeyArn"),
        "SourceSelectionCriteria", "SseKmsEncryptedObjects", "Status", "Enabled");
}

static void data_bucket(dr_mb *b)
{
    const dr_region_profile *p = b->p;
    char *name = dr_model_bucket_name(b->stack, "data", b->region);
    json_t *props = bucket_base(name);
    json_t *rule = json_pack("{s:s, s:s, s:{s:i}}", "Id", "archive-and-expire", "Status", "Enabled",
                             "AbortIncompleteMultipartUpload", "DaysAfterInitiation", 7);
    if (p->bucket.archive_after_days > 0 && p->bucket.archive_storage_class)
        json_object_set_new(rule, "Transitions",
                            json_pack("[{s:s, s:i}]", "StorageClass",
                                      p->bucket.archive_storage_class, "TransitionInDays",
                                      p->bucket.archive_after_days));
    if (p->bucket.noncurrent_expire_days > 0)
        json_object_set_new(rule, "NoncurrentVersionExpiration",
                            json_pack("{s:i}", "NoncurrentDays", p->bucket.noncurrent_expire_days));
    json_object_set_new(props, "LifecycleConfiguration", json_pack("{s:[o]}", "Rules", rule));
    if (b->parts & DR_PART_REPLICATE)
        json_object_set_new(props, "ReplicationConfiguration", replication(b, name));
    free(name);
    dr_resource *r = dr_mb_add(b, "Bucket", "AWS::S3::Bucket", props);
    r->deletion_policy = "Retain";
    if (b->parts & DR_PART_REPLICATE)
        r->deferrable = "ReplicationConfiguration";
    tls_only_policy(b, "BucketPolicy", "Bucket");
    dr_mb_output(b, "BucketName", dr_ref("Bucket"), "The LiteLLM data bucket");
    dr_mb_output(b, "BucketArn", dr_getatt("Bucket", "Arn"),
                 "ARN of the data bucket (the primary's replication destination)");
}

static void vault_bucket(dr_mb *b)
{
    char *name = dr_model_bucket_name(b->stack, "vault", b->region);
    json_t *props = bucket_base(name);
    free(name);
    json_object_set_new(props, "ObjectLockEnabled", json_true());
    json_object_set_new(props, "ObjectLockConfiguration",
                        json_pack("{s:s}", "ObjectLockEnabled", "Enabled"));
    json_object_set_new(props, "LifecycleConfiguration",
                        json_pack("{s:[{s:s, s:s, s:{s:i}}]}", "Rules", "Id",
                                  "abort-incomplete-uploads", "Status", "Enabled",
                                  "AbortIncompleteMultipartUpload", "DaysAfterInitiation", 7));
    dr_resource *r = dr_mb_add(b, "VaultBucket", "AWS::S3::Bucket", props);
    r->deletion_policy = "Retain";
    tls_only_policy(b, "VaultBucketPolicy", "VaultBucket");
    dr_mb_output(b, "VaultBucketName", dr_ref("VaultBucket"),
                 "The bundle vault bucket (Object Lock) in the standby region");
    dr_mb_output(b, "VaultBucketArn", dr_getatt("VaultBucket", "Arn"), "ARN of the vault bucket");
}

void dr_build_data(dr_mb *b)
{
    if (b->parts & DR_PART_NETWORK)
        subnet_groups(b);
    if (b->parts & DR_PART_DB)
        database(b);
    if (b->parts & DR_PART_CACHE)
        cache(b);
    if (b->parts & DR_PART_BUCKET)
        data_bucket(b);
    if (b->parts & DR_PART_VAULT)
        vault_bucket(b);
}
