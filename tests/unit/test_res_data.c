/*
 * test_res_data.c - the data family's pure translations: the S3 XML bodies
 * (lifecycle, encryption, public access block, DeleteObjects, object
 * lock, replication, tagging), the database URL's encoding, dynamic
 * reference parsing, the final snapshot name, the Modify* parameters, and
 * the live-property helpers that keep plan from seeing false changes.
 *
 * Bodies are compared as exact strings where the exact form matters (what
 * S3 parses) and parsed back with libxml2 where structure is the point.
 */
#include <criterion/criterion.h>

#include <libxml/parser.h>
#include <stdlib.h>
#include <string.h>

#include "aws/xml.h"
#include "stack/res_data_int.h"
#include "util/mem.h"

#define NS "<%s xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    cr_assert(j, "bad JSON in test: %s: %s", e.text, text);
    return j;
}

static char *body_of(char *(*fn)(const json_t *, dr_err *), const char *json)
{
    json_t *j = J(json);
    dr_err err;
    dr_err_clear(&err);
    char *b = fn(j, &err);
    cr_assert(b, "builder failed: %s", err.msg);
    json_decref(j);
    return b;
}

static void expect_fail(char *(*fn)(const json_t *, dr_err *), const char *json,
                        const char *msg_part)
{
    json_t *j = J(json);
    dr_err err;
    dr_err_clear(&err);
    char *b = fn(j, &err);
    cr_assert_null(b, "expected a failure for %s, got %s", json, b);
    cr_assert_eq(err.code, DR_E_CONFIG);
    cr_assert(strstr(err.msg, msg_part), "message %s lacks %s", err.msg, msg_part);
    json_decref(j);
}

static void well_formed(const char *xml)
{
    xmlDocPtr d = dr_xml_parse(xml, strlen(xml));
    cr_assert(d, "not well-formed XML: %s", xml);
    xmlFreeDoc(d);
}

/* ---- S3 bodies ------------------------------------------------------------ */

Test(s3x, versioning)
{
    char *b = body_of(dr_data_s3x_versioning, "{\"Status\":\"Enabled\"}");
    cr_assert_str_eq(b,
                     "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                     "<Status>Enabled</Status></VersioningConfiguration>");
    free(b);
    expect_fail(dr_data_s3x_versioning, "{\"Status\":\"On\"}", "Enabled or Suspended");
    expect_fail(dr_data_s3x_versioning, "{\"Status\":\"Enabled\",\"MfaDelete\":\"x\"}",
                "MfaDelete");
}

/* The model's shape (model_data.c bucket_base), the key resolved. */
Test(s3x, encryption_sse_kms_with_bucket_key)
{
    char *b =
        body_of(dr_data_s3x_encryption,
                "{\"ServerSideEncryptionConfiguration\":[{\"ServerSideEncryptionByDefault\":"
                "{\"SSEAlgorithm\":\"aws:kms\",\"KMSMasterKeyID\":"
                "\"arn:aws:kms:us-east-1:123456789012:key/k-1\"},\"BucketKeyEnabled\":true}]}");
    cr_assert_str_eq(b,
                     "<ServerSideEncryptionConfiguration "
                     "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule>"
                     "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm>"
                     "<KMSMasterKeyID>arn:aws:kms:us-east-1:123456789012:key/k-1</KMSMasterKeyID>"
                     "</ApplyServerSideEncryptionByDefault>"
                     "<BucketKeyEnabled>true</BucketKeyEnabled></Rule>"
                     "</ServerSideEncryptionConfiguration>");
    free(b);
    expect_fail(dr_data_s3x_encryption, "{\"ServerSideEncryptionConfiguration\":[]}", "non-empty");
    expect_fail(dr_data_s3x_encryption,
                "{\"ServerSideEncryptionConfiguration\":[{\"ServerSideEncryptionByDefault\":"
                "{\"KMSMasterKeyID\":\"k\"}}]}",
                "SSEAlgorithm");
}

Test(s3x, public_access_block_all_four_in_botocore_order)
{
    char *b = body_of(dr_data_s3x_public_access_block,
                      "{\"BlockPublicAcls\":true,\"BlockPublicPolicy\":true,"
                      "\"IgnorePublicAcls\":true,\"RestrictPublicBuckets\":true}");
    cr_assert_str_eq(b, "<PublicAccessBlockConfiguration "
                        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                        "<BlockPublicAcls>true</BlockPublicAcls>"
                        "<IgnorePublicAcls>true</IgnorePublicAcls>"
                        "<BlockPublicPolicy>true</BlockPublicPolicy>"
                        "<RestrictPublicBuckets>true</RestrictPublicBuckets>"
                        "</PublicAccessBlockConfiguration>");
    free(b);
    /* Missing settings are false, as in CloudFormation; "true" strings
     * (resolved values) are read as booleans. */
    b = body_of(dr_data_s3x_public_access_block, "{\"BlockPublicAcls\":\"true\"}");
    cr_assert(strstr(b, "<BlockPublicAcls>true</BlockPublicAcls>"));
    cr_assert(strstr(b, "<RestrictPublicBuckets>false</RestrictPublicBuckets>"));
    free(b);
    expect_fail(dr_data_s3x_public_access_block, "{\"BlockPublicAcls\":\"maybe\"}", "boolean");
}

/* The data bucket's rule from model_data.c: archive after 90 days, expire
 * noncurrent versions after 365, abort uploads after 7. */
Test(s3x, lifecycle_archive_and_expire)
{
    char *b = body_of(dr_data_s3x_lifecycle,
                      "{\"Rules\":[{\"Id\":\"archive-and-expire\",\"Status\":\"Enabled\","
                      "\"AbortIncompleteMultipartUpload\":{\"DaysAfterInitiation\":7},"
                      "\"Transitions\":[{\"StorageClass\":\"GLACIER_IR\",\"TransitionInDays\":90}],"
                      "\"NoncurrentVersionExpiration\":{\"NoncurrentDays\":365}}]}");
    cr_assert_str_eq(b, "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                        "<Rule><ID>archive-and-expire</ID><Filter><Prefix></Prefix></Filter>"
                        "<Status>Enabled</Status>"
                        "<Transition><Days>90</Days><StorageClass>GLACIER_IR</StorageClass>"
                        "</Transition>"
                        "<NoncurrentVersionExpiration><NoncurrentDays>365</NoncurrentDays>"
                        "</NoncurrentVersionExpiration>"
                        "<AbortIncompleteMultipartUpload><DaysAfterInitiation>7"
                        "</DaysAfterInitiation></AbortIncompleteMultipartUpload>"
                        "</Rule></LifecycleConfiguration>");
    free(b);
}

Test(s3x, lifecycle_filters_expiration_and_noncurrent_forms)
{
    /* One condition stands bare in <Filter>. */
    char *b = body_of(dr_data_s3x_lifecycle,
                      "{\"Rules\":[{\"Status\":\"Enabled\",\"Prefix\":\"logs/\","
                      "\"ExpirationInDays\":\"30\",\"NoncurrentVersionExpirationInDays\":5,"
                      "\"NoncurrentVersionTransitions\":[{\"StorageClass\":\"GLACIER\","
                      "\"TransitionInDays\":10,\"NewerNoncurrentVersions\":2}]}]}");
    cr_assert(strstr(b, "<Rule><Expiration><Days>30</Days></Expiration>"
                        "<Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status>"),
              "%s", b);
    cr_assert(strstr(b, "<NoncurrentVersionTransition><NoncurrentDays>10</NoncurrentDays>"
                        "<StorageClass>GLACIER</StorageClass>"
                        "<NewerNoncurrentVersions>2</NewerNoncurrentVersions>"
                        "</NoncurrentVersionTransition>"),
              "%s", b);
    cr_assert(strstr(b, "<NoncurrentVersionExpiration><NoncurrentDays>5</NoncurrentDays>"
                        "</NoncurrentVersionExpiration>"),
              "%s", b);
    free(b);
    /* Several conditions go in <And>. */
    b = body_of(dr_data_s3x_lifecycle,
                "{\"Rules\":[{\"Status\":\"Disabled\",\"Prefix\":\"a&b/\","
                "\"TagFilters\":[{\"Key\":\"k\",\"Value\":\"<v>\"}],"
                "\"ObjectSizeGreaterThan\":1024,\"ExpiredObjectDeleteMarker\":true}]}");
    cr_assert(strstr(b, "<Filter><And><Prefix>a&amp;b/</Prefix><Tag><Key>k</Key>"
                        "<Value>&lt;v&gt;</Value></Tag>"
                        "<ObjectSizeGreaterThan>1024</ObjectSizeGreaterThan></And></Filter>"),
              "%s", b);
    cr_assert(strstr(b, "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker>"
                        "</Expiration>"),
              "%s", b);
    well_formed(b);
    free(b);
}

Test(s3x, lifecycle_refuses_what_it_cannot_translate)
{
    expect_fail(dr_data_s3x_lifecycle, "{\"Rules\":[]}", "non-empty");
    expect_fail(dr_data_s3x_lifecycle, "{\"Rules\":[{\"Id\":\"x\"}]}", "Status");
    expect_fail(dr_data_s3x_lifecycle,
                "{\"Rules\":[{\"Status\":\"Enabled\",\"ExpirationInWeeks\":2}]}",
                "ExpirationInWeeks");
    expect_fail(dr_data_s3x_lifecycle,
                "{\"Rules\":[{\"Status\":\"Enabled\",\"ExpirationInDays\":\"soon\"}]}", "integer");
    expect_fail(dr_data_s3x_lifecycle,
                "{\"Rules\":[{\"Status\":\"Enabled\",\"Transitions\":[{\"TransitionInDays\":1}]}]}",
                "StorageClass");
}

Test(s3x, object_lock)
{
    dr_err err;
    dr_err_clear(&err);
    char *b = dr_data_s3x_object_lock(NULL, &err);
    cr_assert_str_eq(b,
                     "<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                     "<ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>");
    free(b);
    b = body_of(dr_data_s3x_object_lock,
                "{\"ObjectLockEnabled\":\"Enabled\",\"Rule\":{\"DefaultRetention\":"
                "{\"Mode\":\"GOVERNANCE\",\"Days\":30}}}");
    cr_assert(strstr(b, "<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>30</Days>"
                        "</DefaultRetention></Rule>"),
              "%s", b);
    free(b);
    expect_fail(dr_data_s3x_object_lock,
                "{\"Rule\":{\"DefaultRetention\":{\"Mode\":\"STRICT\",\"Days\":1}}}",
                "GOVERNANCE or COMPLIANCE");
    expect_fail(dr_data_s3x_object_lock,
                "{\"Rule\":{\"DefaultRetention\":{\"Mode\":\"COMPLIANCE\",\"Days\":1,"
                "\"Years\":1}}}",
                "exactly one");
}

/* The warm standby's replication from model_data.c, resolved. */
Test(s3x, replication)
{
    char *b = body_of(dr_data_s3x_replication,
                      "{\"Role\":\"arn:aws:iam::123456789012:role/r\",\"Rules\":[{\"Id\":"
                      "\"to-us-west-2\",\"Status\":\"Enabled\",\"Priority\":1,\"Filter\":"
                      "{\"Prefix\":\"\"},\"DeleteMarkerReplication\":{\"Status\":\"Enabled\"},"
                      "\"Destination\":{\"Bucket\":\"arn:aws:s3:::dst\",\"StorageClass\":"
                      "\"STANDARD\",\"EncryptionConfiguration\":{\"ReplicaKmsKeyID\":\"arn:k2\"}},"
                      "\"SourceSelectionCriteria\":{\"SseKmsEncryptedObjects\":{\"Status\":"
                      "\"Enabled\"}}}]}");
    cr_assert_str_eq(b, "<ReplicationConfiguration "
                        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                        "<Role>arn:aws:iam::123456789012:role/r</Role><Rule><ID>to-us-west-2</ID>"
                        "<Priority>1</Priority><Filter><Prefix></Prefix></Filter>"
                        "<Status>Enabled</Status><SourceSelectionCriteria>"
                        "<SseKmsEncryptedObjects><Status>Enabled</Status></SseKmsEncryptedObjects>"
                        "</SourceSelectionCriteria><Destination><Bucket>arn:aws:s3:::dst</Bucket>"
                        "<StorageClass>STANDARD</StorageClass><EncryptionConfiguration>"
                        "<ReplicaKmsKeyID>arn:k2</ReplicaKmsKeyID></EncryptionConfiguration>"
                        "</Destination><DeleteMarkerReplication><Status>Enabled</Status>"
                        "</DeleteMarkerReplication></Rule></ReplicationConfiguration>");
    free(b);
    expect_fail(dr_data_s3x_replication, "{\"Rules\":[]}", "Role");
    expect_fail(dr_data_s3x_replication,
                "{\"Role\":\"r\",\"Rules\":[{\"Status\":\"Enabled\",\"Destination\":{}}]}",
                "Bucket");
}

Test(s3x, tagging_and_ownership)
{
    char *b = body_of(dr_data_s3x_tagging, "[{\"Key\":\"drctl:stack\",\"Value\":\"s\"},"
                                           "{\"Key\":\"Name\",\"Value\":\"a & b\"}]");
    cr_assert_str_eq(b, "<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>"
                        "<Tag><Key>drctl:stack</Key><Value>s</Value></Tag>"
                        "<Tag><Key>Name</Key><Value>a &amp; b</Value></Tag></TagSet></Tagging>");
    free(b);
    b = body_of(dr_data_s3x_ownership,
                "{\"Rules\":[{\"ObjectOwnership\":\"BucketOwnerEnforced\"}]}");
    cr_assert_str_eq(b, "<OwnershipControls xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                        "<Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule>"
                        "</OwnershipControls>");
    free(b);
    expect_fail(dr_data_s3x_tagging, "[{\"Key\":\"k\"}]", "Value");
}

Test(s3x, delete_objects)
{
    dr_data_s3_version v[] = {{"a/b.txt", "v1"}, {"x&<y>\"'\r", NULL}};
    char *b = dr_data_s3x_delete_objects(v, 2);
    cr_assert_str_eq(b, "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                        "<Quiet>true</Quiet>"
                        "<Object><Key>a/b.txt</Key><VersionId>v1</VersionId></Object>"
                        "<Object><Key>x&amp;&lt;y&gt;&quot;&apos;&#13;</Key></Object></Delete>");
    /* The parsed key is the raw key again, carriage return included. */
    xmlDocPtr d = dr_xml_parse(b, strlen(b));
    cr_assert(d);
    xmlNodePtr o = dr_xml_find(xmlDocGetRootElement(d), "Object");
    o = dr_xml_next_same(o);
    char *k = dr_xml_text(o, "Key");
    cr_assert_str_eq(k, "x&<y>\"'\r");
    free(k);
    xmlFreeDoc(d);
    free(b);

    /* A full batch: 1000 objects, each with its version. */
    dr_data_s3_version *many = dr_xcalloc(1000, sizeof(*many));
    for (int i = 0; i < 1000; i++) {
        many[i].key = dr_xasprintf("k%04d", i);
        many[i].version_id = dr_xasprintf("v%d", i);
    }
    b = dr_data_s3x_delete_objects(many, 1000);
    d = dr_xml_parse(b, strlen(b));
    cr_assert(d);
    int n = 0;
    for (xmlNodePtr x = dr_xml_find(xmlDocGetRootElement(d), "Object"); x; x = dr_xml_next_same(x))
        n++;
    cr_assert_eq(n, 1000);
    xmlFreeDoc(d);
    free(b);
    for (int i = 0; i < 1000; i++) {
        free(many[i].key);
        free(many[i].version_id);
    }
    free(many);
}

Test(s3x, xml_safety)
{
    cr_assert(dr_data_xml_safe("plain/key with spaces\tand\nlines\r"));
    cr_assert_not(dr_data_xml_safe("bell\x07"));
    cr_assert_not(dr_data_xml_safe("\x01start"));
    cr_assert(dr_data_xml_safe("unicode \xc3\xa9t\xc3\xa9"));
}

/* ---- the database URL --------------------------------------------------------- */

Test(pg_url, plain)
{
    char *u = dr_data_pg_url("litellm", "abc123", "db.example.com", 5432, "litellm");
    cr_assert_str_eq(u, "postgresql://litellm:abc123@db.example.com:5432/litellm");
    dr_free_secret(u);
}

Test(pg_url, reserved_characters_are_percent_encoded)
{
    char *u = dr_data_pg_url("app user", "p@ss:w/rd%?#&=+ é", "h", 6543, "my db");
    cr_assert_str_eq(u, "postgresql://app%20user:p%40ss%3Aw%2Frd%25%3F%23%26%3D%2B%20%C3%A9@h:"
                        "6543/my%20db");
    dr_free_secret(u);
    /* Unreserved characters stay as they are. */
    u = dr_data_pg_url("u", "A-z_0.9~", "h", 1, "d");
    cr_assert_str_eq(u, "postgresql://u:A-z_0.9~@h:1/d");
    dr_free_secret(u);
}

Test(pg_url, ipv6_host_in_brackets)
{
    char *u = dr_data_pg_url("u", "p", "::1", 5432, "d");
    cr_assert_str_eq(u, "postgresql://u:p@[::1]:5432/d");
    dr_free_secret(u);
}

Test(names, final_snapshot_identifier)
{
    /* 2026-11-27 13:05:09 UTC */
    char *s = dr_data_final_snapshot_id("litellm-prod-db", (time_t)1795784709);
    cr_assert_str_eq(s, "litellm-prod-db-final-20261127130509");
    free(s);
}

/* ---- dynamic references ---------------------------------------------------------- */

Test(dynref, arn_with_json_key)
{
    dr_data_dynref r;
    dr_err err;
    dr_err_clear(&err);
    const char *s = "{{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:"
                    "secret:litellm-prod/database-AbCdEf:SecretString:password}}";
    cr_assert(dr_data_is_dynref(s));
    cr_assert_eq(dr_data_dynref_parse(s, &r, &err), 0, "%s", err.msg);
    cr_assert_str_eq(r.secret_id,
                     "arn:aws:secretsmanager:us-east-1:123456789012:secret:litellm-prod/database-"
                     "AbCdEf");
    cr_assert_str_eq(r.json_key, "password");
    cr_assert_null(r.stage);
    cr_assert_null(r.version_id);
    dr_data_dynref_free(&r);
}

Test(dynref, name_forms)
{
    dr_data_dynref r;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(
        dr_data_dynref_parse("{{resolve:secretsmanager:my/secret:SecretString}}", &r, &err), 0);
    cr_assert_str_eq(r.secret_id, "my/secret");
    cr_assert_null(r.json_key);
    dr_data_dynref_free(&r);
    cr_assert_eq(dr_data_dynref_parse("{{resolve:secretsmanager:s}}", &r, &err), 0);
    cr_assert_str_eq(r.secret_id, "s");
    cr_assert_null(r.json_key);
    dr_data_dynref_free(&r);
    cr_assert_eq(
        dr_data_dynref_parse("{{resolve:secretsmanager:s:SecretString:k:AWSPREVIOUS:}}", &r, &err),
        0);
    cr_assert_str_eq(r.json_key, "k");
    cr_assert_str_eq(r.stage, "AWSPREVIOUS");
    cr_assert_null(r.version_id);
    dr_data_dynref_free(&r);
    cr_assert_eq(dr_data_dynref_parse(
                     "{{resolve:secretsmanager:s:SecretString::AWSCURRENT:0123-ab}}", &r, &err),
                 0);
    cr_assert_null(r.json_key);
    cr_assert_str_eq(r.version_id, "0123-ab");
    dr_data_dynref_free(&r);
}

Test(dynref, malformed)
{
    dr_data_dynref r;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_not(dr_data_is_dynref("plain-password"));
    cr_assert_eq(dr_data_dynref_parse("{{resolve:ssm:x}}", &r, &err), -1);
    cr_assert_eq(dr_data_dynref_parse("{{resolve:secretsmanager:s:SecretBinary:k}}", &r, &err), -1);
    cr_assert_eq(
        dr_data_dynref_parse("{{resolve:secretsmanager:s:SecretString:k:a:b:c}}", &r, &err), -1);
    cr_assert_eq(dr_data_dynref_parse("{{resolve:secretsmanager:}}", &r, &err), -1);
    cr_assert_eq(dr_data_dynref_parse("{{resolve:secretsmanager:arn:aws:x}}", &r, &err), -1);
    cr_assert_eq(err.code, DR_E_CONFIG);
}

/* ---- values, tags, live properties ------------------------------------------------- */

Test(values, scalars_and_coercions)
{
    json_t *p = J("{\"s\":\"100\",\"i\":7,\"t\":true,\"f\":\"FALSE\",\"n\":null,\"a\":[1]}");
    char *v = dr_data_scalar(json_object_get(p, "s"));
    cr_assert_str_eq(v, "100");
    free(v);
    v = dr_data_scalar(json_object_get(p, "i"));
    cr_assert_str_eq(v, "7");
    free(v);
    v = dr_data_scalar(json_object_get(p, "t"));
    cr_assert_str_eq(v, "true");
    free(v);
    cr_assert_null(dr_data_scalar(json_object_get(p, "a")));
    long long n = 0;
    cr_assert(dr_data_int(p, "s", &n) && n == 100);
    cr_assert(dr_data_int(p, "i", &n) && n == 7);
    cr_assert_not(dr_data_int(p, "t", &n));
    int b = 0;
    cr_assert(dr_data_bool(p, "t", &b) && b == 1);
    cr_assert(dr_data_bool(p, "f", &b) && b == 0);
    cr_assert_not(dr_data_bool(p, "s", &b));
    json_decref(p);
}

/* AWS reports AllocatedStorage "100", MultiAZ "true", AutomaticFailover
 * "enabled": the live values take the model's kinds so that equal values
 * compare equal. */
Test(values, live_values_take_the_models_kinds)
{
    json_t *props = J("{\"AllocatedStorage\":\"100\",\"BackupRetentionPeriod\":7,"
                      "\"MultiAZ\":true,\"AutomaticFailoverEnabled\":true}");
    json_t *live = json_object();
    dr_data_live_put(live, props, "AllocatedStorage", "100");
    dr_data_live_put(live, props, "BackupRetentionPeriod", "7");
    dr_data_live_put(live, props, "MultiAZ", "true");
    dr_data_live_put(live, props, "AutomaticFailoverEnabled", "enabled");
    dr_data_live_put(live, props, "NotInModel", "x");
    cr_assert(json_equal(live, props), "%s", json_dumps(live, 0));
    json_decref(live);
    json_decref(props);
}

Test(values, same_set_keeps_the_models_order)
{
    json_t *model = J("[\"subnet-1\",\"subnet-2\",\"subnet-3\"]");
    json_t *r = dr_data_same_set(model, J("[\"subnet-3\",\"subnet-1\",\"subnet-2\"]"));
    cr_assert(json_equal(r, model));
    json_decref(r);
    r = dr_data_same_set(model, J("[\"subnet-3\",\"subnet-1\"]"));
    cr_assert_eq(json_array_size(r), 2);
    json_decref(r);
    json_decref(model);
}

Test(tags, owner)
{
    json_t *ours =
        J("[{\"Key\":\"Name\",\"Value\":\"x\"},{\"Key\":\"drctl:stack\",\"Value\":\"s\"},"
          "{\"Key\":\"drctl:logical-id\",\"Value\":\"Db\"}]");
    char *other = NULL;
    cr_assert_eq(dr_data_tags_owner(ours, "s", "Db", &other), 1);
    cr_assert_null(other);
    cr_assert_eq(dr_data_tags_owner(ours, "s", "Cache", &other), -1);
    cr_assert_str_eq(other, "stack s, logical id Db");
    free(other);
    json_t *none = J("[{\"Key\":\"Name\",\"Value\":\"x\"}]");
    cr_assert_eq(dr_data_tags_owner(none, "s", "Db", NULL), 0);
    json_decref(ours);
    json_decref(none);
}

Test(params, tags_and_lists_flatten_as_the_query_protocol_wants)
{
    dr_kvlist p = DR_KVLIST_INIT;
    json_t *tags = J("[{\"Key\":\"a\",\"Value\":\"1\"},{\"Key\":\"b\",\"Value\":\"\"}]");
    dr_data_add_tags(&p, "Tags.Tag", tags);
    json_t *ids = J("[\"sg-1\",\"sg-2\"]");
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_data_add_list(&p, "VpcSecurityGroupIds.VpcSecurityGroupId", ids, "x", &err), 0);
    cr_assert_str_eq(dr_kv_get(&p, "Tags.Tag.1.Key"), "a");
    cr_assert_str_eq(dr_kv_get(&p, "Tags.Tag.2.Value"), "");
    cr_assert_str_eq(dr_kv_get(&p, "VpcSecurityGroupIds.VpcSecurityGroupId.2"), "sg-2");
    json_t *bad = J("[1]");
    cr_assert_eq(dr_data_add_list(&p, "X", bad, "SubnetIds", &err), -1);
    dr_data_kv_free_secret(&p);
    json_decref(tags);
    json_decref(ids);
    json_decref(bad);
}

/* ---- Modify* parameters ------------------------------------------------------------ */

Test(params, db_modify_sends_only_what_changed)
{
    json_t *old = J("{\"DBInstanceIdentifier\":\"db\",\"DBInstanceClass\":\"db.t3.micro\","
                    "\"AllocatedStorage\":\"20\",\"MultiAZ\":false,\"EngineVersion\":\"15.10\","
                    "\"DeletionProtection\":true,\"VPCSecurityGroups\":[\"sg-1\"]}");
    json_t *nw = J("{\"DBInstanceIdentifier\":\"db\",\"DBInstanceClass\":\"db.t3.small\","
                   "\"AllocatedStorage\":\"20\",\"MultiAZ\":true,\"EngineVersion\":\"15.12\","
                   "\"DeletionProtection\":true,\"VPCSecurityGroups\":[\"sg-1\",\"sg-2\"]}");
    dr_kvlist p = DR_KVLIST_INIT;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_data_db_modify_params("db", old, nw, &p, &err), 0, "%s", err.msg);
    cr_assert_str_eq(dr_kv_get(&p, "DBInstanceIdentifier"), "db");
    cr_assert_str_eq(dr_kv_get(&p, "ApplyImmediately"), "true");
    cr_assert_str_eq(dr_kv_get(&p, "DBInstanceClass"), "db.t3.small");
    cr_assert_str_eq(dr_kv_get(&p, "MultiAZ"), "true");
    cr_assert_str_eq(dr_kv_get(&p, "EngineVersion"), "15.12");
    cr_assert_str_eq(dr_kv_get(&p, "VpcSecurityGroupIds.VpcSecurityGroupId.2"), "sg-2");
    cr_assert_null(dr_kv_get(&p, "AllocatedStorage"));
    cr_assert_null(dr_kv_get(&p, "DeletionProtection"));
    dr_kv_free(&p);
    /* Nothing changed: nothing to send, not even the identifier. */
    cr_assert_eq(dr_data_db_modify_params("db", old, old, &p, &err), 0);
    cr_assert_eq(p.n, 0);
    json_decref(old);
    json_decref(nw);
}

Test(params, db_major_upgrade_is_refused)
{
    json_t *old = J("{\"EngineVersion\":\"15.12\"}");
    json_t *nw = J("{\"EngineVersion\":\"16.4\"}");
    dr_kvlist p = DR_KVLIST_INIT;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_data_db_modify_params("db", old, nw, &p, &err), -1);
    cr_assert_eq(err.code, DR_E_CONFIG);
    cr_assert(strstr(err.msg, "major"), "%s", err.msg);
    dr_kv_free(&p);
    json_decref(old);
    json_decref(nw);
    /* 9.6.x -> 9.6.y is minor in the old numbering. */
    old = J("{\"EngineVersion\":\"9.6.20\"}");
    nw = J("{\"EngineVersion\":\"9.6.24\"}");
    cr_assert_eq(dr_data_db_modify_params("db", old, nw, &p, &err), 0);
    dr_kv_free(&p);
    json_decref(old);
    json_decref(nw);
}

/* The failover's shape change: the replica's properties lose their source
 * and gain what a standalone instance states. */
Test(params, db_promotion_is_in_place_and_sends_no_inherited_version)
{
    json_t *replica = J("{\"DBInstanceClass\":\"db.r6g.large\",\"SourceDBInstanceIdentifier\":"
                        "\"arn:aws:rds:us-east-1:1:db:p\",\"SourceRegion\":\"us-east-1\","
                        "\"KmsKeyId\":\"k\"}");
    json_t *promoted = J("{\"DBInstanceClass\":\"db.r6g.large\",\"Engine\":\"postgres\","
                         "\"EngineVersion\":\"15.12\",\"StorageEncrypted\":true,\"KmsKeyId\":\"k\","
                         "\"BackupRetentionPeriod\":7}");
    dr_err err;
    dr_err_clear(&err);
    int promote = 0;
    cr_assert_eq(dr_data_db_shape_change("db", replica, promoted, &promote, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(promote, 1);
    dr_kvlist p = DR_KVLIST_INIT;
    cr_assert_eq(dr_data_db_modify_params("db", replica, promoted, &p, &err), 0, "%s", err.msg);
    cr_assert_null(dr_kv_get(&p, "EngineVersion"), "an inherited version is not a change");
    cr_assert_str_eq(dr_kv_get(&p, "BackupRetentionPeriod"), "7");
    dr_kv_free(&p);
    /* The other way round (a standalone instance made a replica) is not
     * done in place, nor is a new source. */
    cr_assert_eq(dr_data_db_shape_change("db", promoted, replica, &promote, &err), -1);
    cr_assert(strstr(err.msg, "read replica"), "%s", err.msg);
    json_t *other = json_deep_copy(replica);
    json_object_set_new(other, "SourceDBInstanceIdentifier",
                        json_string("arn:aws:rds:us-east-1:1:db:q"));
    cr_assert_eq(dr_data_db_shape_change("db", replica, other, &promote, &err), -1);
    cr_assert_eq(dr_data_db_shape_change("db", replica, replica, &promote, &err), 0);
    cr_assert_eq(promote, 0);
    /* Engine and encryption cannot change under a database. */
    json_t *mysql = json_deep_copy(promoted);
    json_object_set_new(mysql, "Engine", json_string("mysql"));
    cr_assert_eq(dr_data_db_shape_change("db", promoted, mysql, &promote, &err), -1);
    cr_assert(strstr(err.msg, "Engine"), "%s", err.msg);
    json_decref(replica);
    json_decref(promoted);
    json_decref(other);
    json_decref(mysql);
}

Test(params, cache_modify_sends_failover_and_multi_az_together)
{
    json_t *old = J("{\"CacheNodeType\":\"cache.t3.micro\",\"SnapshotRetentionLimit\":0,"
                    "\"AutomaticFailoverEnabled\":false,\"MultiAZEnabled\":false}");
    json_t *nw = J("{\"CacheNodeType\":\"cache.t3.small\",\"SnapshotRetentionLimit\":3,"
                   "\"AutomaticFailoverEnabled\":true,\"MultiAZEnabled\":false}");
    dr_kvlist p = DR_KVLIST_INIT;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_data_cache_modify_params("rg", old, nw, &p, &err), 0);
    cr_assert_str_eq(dr_kv_get(&p, "ReplicationGroupId"), "rg");
    cr_assert_str_eq(dr_kv_get(&p, "ApplyImmediately"), "true");
    cr_assert_str_eq(dr_kv_get(&p, "CacheNodeType"), "cache.t3.small");
    cr_assert_str_eq(dr_kv_get(&p, "SnapshotRetentionLimit"), "3");
    cr_assert_str_eq(dr_kv_get(&p, "AutomaticFailoverEnabled"), "true");
    cr_assert_str_eq(dr_kv_get(&p, "MultiAZEnabled"), "false");
    dr_kv_free(&p);
    cr_assert_eq(dr_data_cache_modify_params("rg", old, old, &p, &err), 0);
    cr_assert_eq(p.n, 0);
    json_decref(old);
    json_decref(nw);
}

Test(values, uuid_v4_format)
{
    char a[37], b[37];
    dr_data_uuid(a);
    dr_data_uuid(b);
    cr_assert_eq(strlen(a), 36);
    cr_assert_eq(a[14], '4');
    cr_assert(strchr("89ab", a[19]));
    cr_assert_str_neq(a, b);
}
