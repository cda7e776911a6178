/*
 * res_data.c - the data family's handler table: the S3 buckets and their
 * policies (res_data_s3.c), the RDS instance and its subnet group
 * (res_data_rds.c), the ElastiCache replication group and its subnet group
 * (res_data_cache.c). The contract is handler.h's.
 *
 * The update_in_place lists name what each handler changes without
 * replacing the resource; any other property change replaces it. They
 * match what the update functions send (ModifyDBInstance,
 * ModifyReplicationGroup, the bucket's sub-resources...).
 */
#include "stack/handler.h"
#include "stack/res_data_int.h"

static const char *const bucket_update[] = {
    "VersioningConfiguration", "BucketEncryption", "OwnershipControls",
    "PublicAccessBlockConfiguration", "LifecycleConfiguration",
    /* on only: off is refused by update */
    "ObjectLockEnabled", "ObjectLockConfiguration", "ReplicationConfiguration", "Tags", NULL};
static const char *const bucket_names[] = {"BucketName", NULL};

static const char *const policy_update[] = {"PolicyDocument", NULL};
static const char *const policy_names[] = {"Bucket", NULL};

static const char *const db_subnet_update[] = {"DBSubnetGroupDescription", "SubnetIds", "Tags",
                                               NULL};
static const char *const db_subnet_names[] = {"DBSubnetGroupName", NULL};

/* What dr_data_db_modify_params sends with ApplyImmediately, and tags. */
static const char *const db_update[] = {
    "DBInstanceClass", "AllocatedStorage", "BackupRetentionPeriod", "MultiAZ", "DeletionProtection",
    "EngineVersion", "AutoMinorVersionUpgrade", "CopyTagsToSnapshot", "PreferredBackupWindow",
    "PreferredMaintenanceWindow", "MaxAllocatedStorage", "PubliclyAccessible", "StorageType",
    "Iops", "StorageThroughput", "VPCSecurityGroups", "Tags",
    /* Promotion of a replica (dropping the
     * source) is in place; other changes of
     * these are refused by update rather than
     * left to a replacement, which would
     * delete the database
     * (dr_data_db_shape_change). */
    "SourceDBInstanceIdentifier", "SourceRegion", "Engine", "StorageEncrypted", NULL};
static const char *const db_names[] = {"DBInstanceIdentifier", NULL};

static const char *const cache_subnet_update[] = {"Description", "SubnetIds", "Tags", NULL};
static const char *const cache_subnet_names[] = {"CacheSubnetGroupName", NULL};

/* What dr_data_cache_modify_params sends, and tags. */
static const char *const rg_update[] = {"ReplicationGroupDescription",
                                        "CacheNodeType",
                                        "SnapshotRetentionLimit",
                                        "SnapshotWindow",
                                        "PreferredMaintenanceWindow",
                                        "EngineVersion",
                                        "AutoMinorVersionUpgrade",
                                        "SecurityGroupIds",
                                        "AutomaticFailoverEnabled",
                                        "MultiAZEnabled",
                                        "Tags",
                                        NULL};
static const char *const rg_names[] = {"ReplicationGroupId", NULL};

const dr_handler dr_handlers_data[] = {
    {
        .type = "AWS::S3::Bucket",
        .create = dr_data_bucket_create,
        .find = dr_data_bucket_find,
        .read = dr_data_bucket_read,
        .update = dr_data_bucket_update,
        .remove = dr_data_bucket_remove,
        .wait_deleted = dr_data_bucket_wait_deleted,
        .update_in_place = bucket_update,
        .name_properties = bucket_names,
    },
    {
        .type = "AWS::S3::BucketPolicy",
        .create = dr_data_bucket_policy_create,
        .find = dr_data_bucket_policy_find,
        .read = dr_data_bucket_policy_read,
        .update = dr_data_bucket_policy_update,
        .remove = dr_data_bucket_policy_remove,
        .update_in_place = policy_update,
        .name_properties = policy_names,
    },
    {
        .type = "AWS::RDS::DBSubnetGroup",
        .create = dr_data_db_subnet_group_create,
        .find = dr_data_db_subnet_group_find,
        .read = dr_data_db_subnet_group_read,
        .update = dr_data_db_subnet_group_update,
        .remove = dr_data_db_subnet_group_remove,
        .update_in_place = db_subnet_update,
        .name_properties = db_subnet_names,
    },
    {
        .type = "AWS::RDS::DBInstance",
        .create = dr_data_db_instance_create,
        .find = dr_data_db_instance_find,
        .read = dr_data_db_instance_read,
        .update = dr_data_db_instance_update,
        .remove = dr_data_db_instance_remove,
        .wait_ready = dr_data_db_instance_wait_ready,
        .wait_deleted = dr_data_db_instance_wait_deleted,
        .update_in_place = db_update,
        .name_properties = db_names,
    },
    {
        .type = "AWS::ElastiCache::SubnetGroup",
        .create = dr_data_cache_subnet_group_create,
        .find = dr_data_cache_subnet_group_find,
        .read = dr_data_cache_subnet_group_read,
        .update = dr_data_cache_subnet_group_update,
        .remove = dr_data_cache_subnet_group_remove,
        .update_in_place = cache_subnet_update,
        .name_properties = cache_subnet_names,
    },
    {
        .type = "AWS::ElastiCache::ReplicationGroup",
        .create = dr_data_replication_group_create,
        .find = dr_data_replication_group_find,
        .read = dr_data_replication_group_read,
        .update = dr_data_replication_group_update,
        .remove = dr_data_replication_group_remove,
        .wait_ready = dr_data_replication_group_wait_ready,
        .wait_deleted = dr_data_replication_group_wait_deleted,
        .update_in_place = rg_update,
        .name_properties = rg_names,
    },
    {.type = NULL},
};
