/*
 * res_data_s3.c - AWS::S3::Bucket and AWS::S3::BucketPolicy.
 *
 * Everything here goes through the rest-xml client directly: a bucket is
 * created, then each sub-resource (?versioning, ?encryption,
 * ?ownershipControls, ?publicAccessBlock, ?lifecycle, ?object-lock,
 * ?replication, ?tagging) is put with an XML body in the 2006-03-01
 * namespace. Every body carries Content-MD5, which S3 requires for
 * lifecycle, DeleteObjects and object lock and accepts everywhere.
 *
 * Why it looks like this:
 * - Tags go on LAST. A bucket name is deterministic (stack, purpose,
 *   region, hash) and CreateBucket is idempotent for its owner, so the
 *   tags double as a "fully configured" mark: find() only reports a bucket
 *   that carries them, and a bucket left half-configured by a crash is
 *   simply created (that is, configured) again. Putting tags in CreateBucket
 *   itself would make find() adopt a bucket whose lifecycle or encryption
 *   was never set.
 * - remove() leaves nothing: it deletes the bucket policy (a TLS-only or
 *   deny-delete policy would refuse the deletes), aborts multipart uploads,
 *   deletes every object version and delete marker in batches of 1000
 *   (governance-mode Object Lock bypassed, legal holds lifted), and only
 *   then DeleteBucket. Compliance-mode retention cannot be bypassed by
 *   anyone: remove then fails with the count and the date, and destroy
 *   reports the bucket as a leftover.
 * - The model's values are translated, never dropped: a property this file
 *   does not know is an error, so a model change cannot silently produce a
 *   bucket without, say, its lifecycle rule.
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/xml.h"
#include "stack/res_data_int.h"
#include "stack/resolve.h"
#include "util/mem.h"

#define S3NS "http://s3.amazonaws.com/doc/2006-03-01/"
#define DELETE_BATCH 1000
#define EMPTY_PASSES 10

/* ---- XML bodies ------------------------------------------------------------ */

/* Fails (DR_E_CONFIG) when obj has a key outside `allowed`: a property
 * this translation does not know must not vanish on the way to AWS. */
static int check_keys(const json_t *obj, const char *const *allowed, const char *what, dr_err *err)
{
    if (!json_is_object(obj))
        return dr_err_set(err, DR_E_CONFIG, "%s must be an object", what);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, k) == 0;
        if (!ok)
            return dr_err_set(err, DR_E_CONFIG, "%s: property %s is not supported by drctl", what,
                              k);
    }
    return 0;
}

static void el_text(dr_buf *b, const char *name, const char *text)
{
    dr_buf_printf(b, "<%s>", name);
    dr_data_xml_escape(b, text);
    dr_buf_printf(b, "</%s>", name);
}

/* <name>props[key]</name> when present: strings, integers, booleans. */
static int el_prop(dr_buf *b, const char *name, const json_t *obj, const char *key,
                   const char *what, dr_err *err)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    char *s = dr_data_scalar(v);
    if (!s)
        return dr_err_set(err, DR_E_CONFIG, "%s: %s must be a scalar", what, key);
    el_text(b, name, s);
    free(s);
    return 0;
}

/* An integer member (a JSON integer or a numeric string). */
static int el_int(dr_buf *b, const char *name, const json_t *obj, const char *key, const char *what,
                  dr_err *err)
{
    if (!json_object_get(obj, key))
        return 0;
    long long n;
    if (!dr_data_int(obj, key, &n))
        return dr_err_set(err, DR_E_CONFIG, "%s: %s must be an integer", what, key);
    dr_buf_printf(b, "<%s>%lld</%s>", name, n, name);
    return 0;
}

static int el_bool(dr_buf *b, const char *name, const json_t *obj, const char *key,
                   const char *what, dr_err *err)
{
    if (!json_object_get(obj, key))
        return 0;
    int v;
    if (!dr_data_bool(obj, key, &v))
        return dr_err_set(err, DR_E_CONFIG, "%s: %s must be a boolean", what, key);
    dr_buf_printf(b, "<%s>%s</%s>", name, v ? "true" : "false", name);
    return 0;
}

static char *finish(dr_buf *b, int rc)
{
    if (rc != 0) {
        dr_buf_free(b);
        return NULL;
    }
    return dr_buf_detach(b);
}

char *dr_data_s3x_versioning(const json_t *cfg, dr_err *err)
{
    static const char *const keys[] = {"Status", NULL};
    const char *what = "VersioningConfiguration";
    if (check_keys(cfg, keys, what, err) != 0)
        return NULL;
    const char *st = dr_data_str(cfg, "Status");
    if (!st || (strcmp(st, "Enabled") != 0 && strcmp(st, "Suspended") != 0)) {
        dr_err_set(err, DR_E_CONFIG, "%s: Status must be Enabled or Suspended", what);
        return NULL;
    }
    dr_buf b = DR_BUF_INIT;
    dr_buf_puts(&b, "<VersioningConfiguration xmlns=\"" S3NS "\">");
    el_text(&b, "Status", st);
    dr_buf_puts(&b, "</VersioningConfiguration>");
    return dr_buf_detach(&b);
}

char *dr_data_s3x_encryption(const json_t *cfg, dr_err *err)
{
    static const char *const top[] = {"ServerSideEncryptionConfiguration", NULL};
    static const char *const rule_keys[] = {"ServerSideEncryptionByDefault", "BucketKeyEnabled",
                                            NULL};
    static const char *const def_keys[] = {"SSEAlgorithm", "KMSMasterKeyID", NULL};
    const char *what = "BucketEncryption";
    if (check_keys(cfg, top, what, err) != 0)
        return NULL;
    const json_t *rules = json_object_get(cfg, "ServerSideEncryptionConfiguration");
    if (!json_is_array(rules) || json_array_size(rules) == 0) {
        dr_err_set(err, DR_E_CONFIG,
                   "%s: ServerSideEncryptionConfiguration must be a non-empty list", what);
        return NULL;
    }
    dr_buf b = DR_BUF_INIT;
    int rc = 0;
    dr_buf_puts(&b, "<ServerSideEncryptionConfiguration xmlns=\"" S3NS "\">");
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        if ((rc = check_keys(r, rule_keys, what, err)) != 0)
            break;
        dr_buf_puts(&b, "<Rule>");
        const json_t *d = json_object_get(r, "ServerSideEncryptionByDefault");
        if (d) {
            if ((rc = check_keys(d, def_keys, what, err)) != 0)
                break;
            if (!dr_data_str(d, "SSEAlgorithm")) {
                rc = dr_err_set(err, DR_E_CONFIG, "%s: SSEAlgorithm is required", what);
                break;
            }
            dr_buf_puts(&b, "<ApplyServerSideEncryptionByDefault>");
            if ((rc = el_prop(&b, "SSEAlgorithm", d, "SSEAlgorithm", what, err)) != 0 ||
                (rc = el_prop(&b, "KMSMasterKeyID", d, "KMSMasterKeyID", what, err)) != 0)
                break;
            dr_buf_puts(&b, "</ApplyServerSideEncryptionByDefault>");
        }
        if ((rc = el_bool(&b, "BucketKeyEnabled", r, "BucketKeyEnabled", what, err)) != 0)
            break;
        dr_buf_puts(&b, "</Rule>");
    }
    dr_buf_puts(&b, "</ServerSideEncryptionConfiguration>");
    return finish(&b, rc);
}

char *dr_data_s3x_public_access_block(const json_t *cfg, dr_err *err)
{
    static const char *const keys[] = {"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                                       "RestrictPublicBuckets", NULL};
    const char *what = "PublicAccessBlockConfiguration";
    if (check_keys(cfg, keys, what, err) != 0)
        return NULL;
    dr_buf b = DR_BUF_INIT;
    dr_buf_puts(&b, "<PublicAccessBlockConfiguration xmlns=\"" S3NS "\">");
    /* All four always, in botocore's order; a missing one is false, as in
     * CloudFormation. */
    for (const char *const *k = keys; *k; k++) {
        int v = 0;
        if (json_object_get(cfg, *k) && !dr_data_bool(cfg, *k, &v)) {
            dr_buf_free(&b);
            dr_err_set(err, DR_E_CONFIG, "%s: %s must be a boolean", what, *k);
            return NULL;
        }
        dr_buf_printf(&b, "<%s>%s</%s>", *k, v ? "true" : "false", *k);
    }
    dr_buf_puts(&b, "</PublicAccessBlockConfiguration>");
    return dr_buf_detach(&b);
}

char *dr_data_s3x_ownership(const json_t *cfg, dr_err *err)
{
    static const char *const keys[] = {"Rules", NULL};
    static const char *const rule_keys[] = {"ObjectOwnership", NULL};
    const char *what = "OwnershipControls";
    if (check_keys(cfg, keys, what, err) != 0)
        return NULL;
    const json_t *rules = json_object_get(cfg, "Rules");
    if (!json_is_array(rules) || json_array_size(rules) == 0) {
        dr_err_set(err, DR_E_CONFIG, "%s: Rules must be a non-empty list", what);
        return NULL;
    }
    dr_buf b = DR_BUF_INIT;
    int rc = 0;
    dr_buf_puts(&b, "<OwnershipControls xmlns=\"" S3NS "\">");
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        if ((rc = check_keys(r, rule_keys, what, err)) != 0)
            break;
        dr_buf_puts(&b, "<Rule>");
        if ((rc = el_prop(&b, "ObjectOwnership", r, "ObjectOwnership", what, err)) != 0)
            break;
        dr_buf_puts(&b, "</Rule>");
    }
    dr_buf_puts(&b, "</OwnershipControls>");
    return finish(&b, rc);
}

static int tag_el(dr_buf *b, const json_t *t, const char *what, dr_err *err)
{
    const char *k = dr_data_str(t, "Key"), *v = dr_data_str(t, "Value");
    if (!k || !v)
        return dr_err_set(err, DR_E_CONFIG, "%s: a tag needs a string Key and Value", what);
    dr_buf_puts(b, "<Tag>");
    el_text(b, "Key", k);
    el_text(b, "Value", v);
    dr_buf_puts(b, "</Tag>");
    return 0;
}

/* A lifecycle rule's <Filter>: CloudFormation spreads it over Prefix,
 * TagFilters and ObjectSize*; S3 wants one condition bare, several in
 * <And>, and none as an empty prefix. */
static int lifecycle_filter(dr_buf *b, const json_t *r, const char *what, dr_err *err)
{
    const char *prefix = dr_data_str(r, "Prefix");
    const json_t *tags = json_object_get(r, "TagFilters");
    if (tags && !json_is_array(tags))
        return dr_err_set(err, DR_E_CONFIG, "%s: TagFilters must be a list", what);
    size_t ntags = json_array_size(tags);
    int gt = json_object_get(r, "ObjectSizeGreaterThan") != NULL;
    int lt = json_object_get(r, "ObjectSizeLessThan") != NULL;
    size_t nconds = (prefix && *prefix ? 1 : 0) + ntags + (size_t)gt + (size_t)lt;
    dr_buf_puts(b, "<Filter>");
    if (nconds > 1)
        dr_buf_puts(b, "<And>");
    if (nconds == 0 || (prefix && *prefix))
        el_text(b, "Prefix", prefix ? prefix : "");
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) if (tag_el(b, t, what, err) != 0) return -1;
    if (el_int(b, "ObjectSizeGreaterThan", r, "ObjectSizeGreaterThan", what, err) != 0 ||
        el_int(b, "ObjectSizeLessThan", r, "ObjectSizeLessThan", what, err) != 0)
        return -1;
    if (nconds > 1)
        dr_buf_puts(b, "</And>");
    dr_buf_puts(b, "</Filter>");
    return 0;
}

/* One transition: CloudFormation's TransitionInDays/TransitionDate become
 * Days/Date (NoncurrentDays for noncurrent versions). */
static int transition_el(dr_buf *b, const char *el, const json_t *t, int noncurrent,
                         const char *what, dr_err *err)
{
    static const char *const cur[] = {"StorageClass", "TransitionInDays", "TransitionDate", NULL};
    static const char *const nonc[] = {"StorageClass", "TransitionInDays",
                                       "NewerNoncurrentVersions", NULL};
    if (check_keys(t, noncurrent ? nonc : cur, what, err) != 0)
        return -1;
    if (!dr_data_str(t, "StorageClass"))
        return dr_err_set(err, DR_E_CONFIG, "%s: a transition needs a StorageClass", what);
    dr_buf_printf(b, "<%s>", el);
    if (noncurrent) {
        if (el_int(b, "NoncurrentDays", t, "TransitionInDays", what, err) != 0)
            return -1;
    } else if (el_prop(b, "Date", t, "TransitionDate", what, err) != 0 ||
               el_int(b, "Days", t, "TransitionInDays", what, err) != 0) {
        return -1;
    }
    if (el_prop(b, "StorageClass", t, "StorageClass", what, err) != 0)
        return -1;
    if (noncurrent &&
        el_int(b, "NewerNoncurrentVersions", t, "NewerNoncurrentVersions", what, err) != 0)
        return -1;
    dr_buf_printf(b, "</%s>", el);
    return 0;
}

/* The singular and plural forms CloudFormation allows for transitions. */
static int transitions(dr_buf *b, const json_t *r, const char *one, const char *many,
                       const char *el, int noncurrent, const char *what, dr_err *err)
{
    const json_t *t1 = json_object_get(r, one);
    if (t1 && transition_el(b, el, t1, noncurrent, what, err) != 0)
        return -1;
    const json_t *ts = json_object_get(r, many);
    if (ts && !json_is_array(ts))
        return dr_err_set(err, DR_E_CONFIG, "%s: %s must be a list", what, many);
    size_t i;
    json_t *t;
    json_array_foreach(ts, i, t) if (transition_el(b, el, t, noncurrent, what, err) != 0) return -1;
    return 0;
}

static int lifecycle_rule(dr_buf *b, const json_t *r, dr_err *err)
{
    static const char *const keys[] = {"Id",
                                       "Status",
                                       "Prefix",
                                       "TagFilters",
                                       "ObjectSizeGreaterThan",
                                       "ObjectSizeLessThan",
                                       "ExpirationInDays",
                                       "ExpirationDate",
                                       "ExpiredObjectDeleteMarker",
                                       "Transition",
                                       "Transitions",
                                       "NoncurrentVersionTransition",
                                       "NoncurrentVersionTransitions",
                                       "NoncurrentVersionExpiration",
                                       "NoncurrentVersionExpirationInDays",
                                       "AbortIncompleteMultipartUpload",
                                       NULL};
    const char *what = "LifecycleConfiguration";
    if (check_keys(r, keys, what, err) != 0)
        return -1;
    const char *st = dr_data_str(r, "Status");
    if (!st || (strcmp(st, "Enabled") != 0 && strcmp(st, "Disabled") != 0))
        return dr_err_set(err, DR_E_CONFIG, "%s: a rule's Status must be Enabled or Disabled",
                          what);
    dr_buf_puts(b, "<Rule>");
    /* botocore's member order: Expiration, ID, Filter, Status, Transition,
     * NoncurrentVersionTransition, NoncurrentVersionExpiration,
     * AbortIncompleteMultipartUpload. */
    if (json_object_get(r, "ExpirationInDays") || json_object_get(r, "ExpirationDate") ||
        json_object_get(r, "ExpiredObjectDeleteMarker")) {
        dr_buf_puts(b, "<Expiration>");
        if (el_prop(b, "Date", r, "ExpirationDate", what, err) != 0 ||
            el_int(b, "Days", r, "ExpirationInDays", what, err) != 0 ||
            el_bool(b, "ExpiredObjectDeleteMarker", r, "ExpiredObjectDeleteMarker", what, err) != 0)
            return -1;
        dr_buf_puts(b, "</Expiration>");
    }
    if (el_prop(b, "ID", r, "Id", what, err) != 0 || lifecycle_filter(b, r, what, err) != 0)
        return -1;
    el_text(b, "Status", st);
    if (transitions(b, r, "Transition", "Transitions", "Transition", 0, what, err) != 0 ||
        transitions(b, r, "NoncurrentVersionTransition", "NoncurrentVersionTransitions",
                    "NoncurrentVersionTransition", 1, what, err) != 0)
        return -1;
    const json_t *nve = json_object_get(r, "NoncurrentVersionExpiration");
    if (nve || json_object_get(r, "NoncurrentVersionExpirationInDays")) {
        static const char *const nk[] = {"NoncurrentDays", "NewerNoncurrentVersions", NULL};
        if (nve && check_keys(nve, nk, what, err) != 0)
            return -1;
        dr_buf_puts(b, "<NoncurrentVersionExpiration>");
        if (nve ? (el_int(b, "NoncurrentDays", nve, "NoncurrentDays", what, err) != 0 ||
                   el_int(b, "NewerNoncurrentVersions", nve, "NewerNoncurrentVersions", what,
                          err) != 0)
                : el_int(b, "NoncurrentDays", r, "NoncurrentVersionExpirationInDays", what, err) !=
                      0)
            return -1;
        dr_buf_puts(b, "</NoncurrentVersionExpiration>");
    }
    const json_t *ab = json_object_get(r, "AbortIncompleteMultipartUpload");
    if (ab) {
        static const char *const ak[] = {"DaysAfterInitiation", NULL};
        if (check_keys(ab, ak, what, err) != 0)
            return -1;
        dr_buf_puts(b, "<AbortIncompleteMultipartUpload>");
        if (el_int(b, "DaysAfterInitiation", ab, "DaysAfterInitiation", what, err) != 0)
            return -1;
        dr_buf_puts(b, "</AbortIncompleteMultipartUpload>");
    }
    dr_buf_puts(b, "</Rule>");
    return 0;
}

char *dr_data_s3x_lifecycle(const json_t *cfg, dr_err *err)
{
    static const char *const keys[] = {"Rules", NULL};
    if (check_keys(cfg, keys, "LifecycleConfiguration", err) != 0)
        return NULL;
    const json_t *rules = json_object_get(cfg, "Rules");
    if (!json_is_array(rules) || json_array_size(rules) == 0) {
        dr_err_set(err, DR_E_CONFIG, "LifecycleConfiguration: Rules must be a non-empty list");
        return NULL;
    }
    dr_buf b = DR_BUF_INIT;
    int rc = 0;
    dr_buf_puts(&b, "<LifecycleConfiguration xmlns=\"" S3NS "\">");
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r) if ((rc = lifecycle_rule(&b, r, err)) != 0) break;
    dr_buf_puts(&b, "</LifecycleConfiguration>");
    return finish(&b, rc);
}

char *dr_data_s3x_object_lock(const json_t *cfg, dr_err *err)
{
    static const char *const keys[] = {"ObjectLockEnabled", "Rule", NULL};
    static const char *const rule_keys[] = {"DefaultRetention", NULL};
    static const char *const ret_keys[] = {"Mode", "Days", "Years", NULL};
    const char *what = "ObjectLockConfiguration";
    if (cfg && check_keys(cfg, keys, what, err) != 0)
        return NULL;
    dr_buf b = DR_BUF_INIT;
    int rc = 0;
    dr_buf_puts(&b, "<ObjectLockConfiguration xmlns=\"" S3NS "\">");
    /* "Enabled" is the only value S3 knows; a configuration is only put on
     * a bucket that has (or gets) Object Lock. */
    dr_buf_puts(&b, "<ObjectLockEnabled>Enabled</ObjectLockEnabled>");
    const json_t *rule = json_object_get(cfg, "Rule");
    const json_t *dr = json_object_get(rule, "DefaultRetention");
    if (rule && (rc = check_keys(rule, rule_keys, what, err)) == 0 && dr &&
        (rc = check_keys(dr, ret_keys, what, err)) == 0) {
        const char *mode = dr_data_str(dr, "Mode");
        int has_days = json_object_get(dr, "Days") != NULL,
            has_years = json_object_get(dr, "Years") != NULL;
        if (!mode || (strcmp(mode, "GOVERNANCE") != 0 && strcmp(mode, "COMPLIANCE") != 0))
            rc = dr_err_set(err, DR_E_CONFIG,
                            "%s: DefaultRetention Mode must be GOVERNANCE or COMPLIANCE", what);
        else if (has_days == has_years)
            rc = dr_err_set(err, DR_E_CONFIG,
                            "%s: DefaultRetention needs exactly one of Days and Years", what);
        if (rc == 0) {
            dr_buf_puts(&b, "<Rule><DefaultRetention>");
            el_text(&b, "Mode", mode);
            if (el_int(&b, "Days", dr, "Days", what, err) != 0 ||
                el_int(&b, "Years", dr, "Years", what, err) != 0)
                rc = -1;
            dr_buf_puts(&b, "</DefaultRetention></Rule>");
        }
    }
    dr_buf_puts(&b, "</ObjectLockConfiguration>");
    return finish(&b, rc);
}

static int status_el(dr_buf *b, const char *el, const json_t *obj, const char *what, dr_err *err)
{
    static const char *const keys[] = {"Status", NULL};
    if (!obj)
        return 0;
    if (check_keys(obj, keys, what, err) != 0 || !dr_data_str(obj, "Status"))
        return dr_err_set(err, DR_E_CONFIG, "%s: %s needs a Status", what, el);
    dr_buf_printf(b, "<%s>", el);
    el_text(b, "Status", dr_data_str(obj, "Status"));
    dr_buf_printf(b, "</%s>", el);
    return 0;
}

/* <el><Status/><Time|EventThreshold><Minutes/></...></el> (replication
 * time control and metrics). */
static int minutes_el(dr_buf *b, const char *el, const char *inner, const json_t *obj,
                      const char *what, dr_err *err)
{
    if (!obj)
        return 0;
    const char *const keys[] = {"Status", inner, NULL};
    static const char *const mk[] = {"Minutes", NULL};
    if (check_keys(obj, keys, what, err) != 0)
        return -1;
    const json_t *t = json_object_get(obj, inner);
    dr_buf_printf(b, "<%s>", el);
    if (el_prop(b, "Status", obj, "Status", what, err) != 0)
        return -1;
    if (t) {
        if (check_keys(t, mk, what, err) != 0)
            return -1;
        dr_buf_printf(b, "<%s>", inner);
        if (el_int(b, "Minutes", t, "Minutes", what, err) != 0)
            return -1;
        dr_buf_printf(b, "</%s>", inner);
    }
    dr_buf_printf(b, "</%s>", el);
    return 0;
}

static int replication_filter(dr_buf *b, const json_t *f, const char *what, dr_err *err)
{
    static const char *const keys[] = {"Prefix", "TagFilter", "And", NULL};
    static const char *const and_keys[] = {"Prefix", "TagFilters", NULL};
    if (check_keys(f, keys, what, err) != 0)
        return -1;
    dr_buf_puts(b, "<Filter>");
    const json_t *tf = json_object_get(f, "TagFilter"), *and = json_object_get(f, "And");
    if (and) {
        if (check_keys(and, and_keys, what, err) != 0)
            return -1;
        dr_buf_puts(b, "<And>");
        if (el_prop(b, "Prefix", and, "Prefix", what, err) != 0)
            return -1;
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(and, "TagFilters"), i,
                           t) if (tag_el(b, t, what, err) != 0) return -1;
        dr_buf_puts(b, "</And>");
    } else if (tf) {
        if (tag_el(b, tf, what, err) != 0)
            return -1;
    } else {
        el_text(b, "Prefix", dr_data_str(f, "Prefix") ? dr_data_str(f, "Prefix") : "");
    }
    dr_buf_puts(b, "</Filter>");
    return 0;
}

static int replication_rule(dr_buf *b, const json_t *r, dr_err *err)
{
    static const char *const keys[] = {"Id",          "Priority",
                                       "Prefix",      "Filter",
                                       "Status",      "SourceSelectionCriteria",
                                       "Destination", "DeleteMarkerReplication",
                                       NULL};
    static const char *const dest_keys[] = {"Bucket",
                                            "Account",
                                            "StorageClass",
                                            "AccessControlTranslation",
                                            "EncryptionConfiguration",
                                            "ReplicationTime",
                                            "Metrics",
                                            NULL};
    static const char *const ssc_keys[] = {"SseKmsEncryptedObjects", "ReplicaModifications", NULL};
    static const char *const enc_keys[] = {"ReplicaKmsKeyID", NULL};
    static const char *const act_keys[] = {"Owner", NULL};
    const char *what = "ReplicationConfiguration";
    if (check_keys(r, keys, what, err) != 0)
        return -1;
    const json_t *d = json_object_get(r, "Destination");
    if (!dr_data_str(r, "Status") || !d || check_keys(d, dest_keys, what, err) != 0 ||
        !dr_data_str(d, "Bucket"))
        return err->code
                   ? -1
                   : dr_err_set(err, DR_E_CONFIG,
                                "%s: a rule needs a Status and a Destination with a Bucket", what);
    dr_buf_puts(b, "<Rule>");
    if (el_prop(b, "ID", r, "Id", what, err) != 0 ||
        el_int(b, "Priority", r, "Priority", what, err) != 0)
        return -1;
    /* A rule with only a Prefix is the old schema; anything else takes the
     * current one, which needs a Filter (an empty prefix: every object). */
    const json_t *f = json_object_get(r, "Filter");
    if (!f && dr_data_str(r, "Prefix") && !json_object_get(r, "Priority") &&
        !json_object_get(r, "DeleteMarkerReplication")) {
        el_text(b, "Prefix", dr_data_str(r, "Prefix"));
    } else if (f) {
        if (replication_filter(b, f, what, err) != 0)
            return -1;
    } else {
        dr_buf_puts(b, "<Filter>");
        el_text(b, "Prefix", dr_data_str(r, "Prefix") ? dr_data_str(r, "Prefix") : "");
        dr_buf_puts(b, "</Filter>");
    }
    el_text(b, "Status", dr_data_str(r, "Status"));
    const json_t *ssc = json_object_get(r, "SourceSelectionCriteria");
    if (ssc) {
        if (check_keys(ssc, ssc_keys, what, err) != 0)
            return -1;
        dr_buf_puts(b, "<SourceSelectionCriteria>");
        if (status_el(b, "SseKmsEncryptedObjects", json_object_get(ssc, "SseKmsEncryptedObjects"),
                      what, err) != 0 ||
            status_el(b, "ReplicaModifications", json_object_get(ssc, "ReplicaModifications"), what,
                      err) != 0)
            return -1;
        dr_buf_puts(b, "</SourceSelectionCriteria>");
    }
    dr_buf_puts(b, "<Destination>");
    if (el_prop(b, "Bucket", d, "Bucket", what, err) != 0 ||
        el_prop(b, "Account", d, "Account", what, err) != 0 ||
        el_prop(b, "StorageClass", d, "StorageClass", what, err) != 0)
        return -1;
    const json_t *act = json_object_get(d, "AccessControlTranslation");
    if (act) {
        if (check_keys(act, act_keys, what, err) != 0)
            return -1;
        dr_buf_puts(b, "<AccessControlTranslation>");
        if (el_prop(b, "Owner", act, "Owner", what, err) != 0)
            return -1;
        dr_buf_puts(b, "</AccessControlTranslation>");
    }
    const json_t *enc = json_object_get(d, "EncryptionConfiguration");
    if (enc) {
        if (check_keys(enc, enc_keys, what, err) != 0)
            return -1;
        dr_buf_puts(b, "<EncryptionConfiguration>");
        if (el_prop(b, "ReplicaKmsKeyID", enc, "ReplicaKmsKeyID", what, err) != 0)
            return -1;
        dr_buf_puts(b, "</EncryptionConfiguration>");
    }
    if (minutes_el(b, "ReplicationTime", "Time", json_object_get(d, "ReplicationTime"), what,
                   err) != 0 ||
        minutes_el(b, "Metrics", "EventThreshold", json_object_get(d, "Metrics"), what, err) != 0)
        return -1;
    dr_buf_puts(b, "</Destination>");
    if (status_el(b, "DeleteMarkerReplication", json_object_get(r, "DeleteMarkerReplication"), what,
                  err) != 0)
        return -1;
    dr_buf_puts(b, "</Rule>");
    return 0;
}

char *dr_data_s3x_replication(const json_t *cfg, dr_err *err)
{
    static const char *const keys[] = {"Role", "Rules", NULL};
    const char *what = "ReplicationConfiguration";
    if (check_keys(cfg, keys, what, err) != 0)
        return NULL;
    const json_t *rules = json_object_get(cfg, "Rules");
    if (!dr_data_str(cfg, "Role") || !json_is_array(rules) || json_array_size(rules) == 0) {
        dr_err_set(err, DR_E_CONFIG, "%s needs a Role and a non-empty list of Rules", what);
        return NULL;
    }
    dr_buf b = DR_BUF_INIT;
    int rc = 0;
    dr_buf_puts(&b, "<ReplicationConfiguration xmlns=\"" S3NS "\">");
    el_text(&b, "Role", dr_data_str(cfg, "Role"));
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r) if ((rc = replication_rule(&b, r, err)) != 0) break;
    dr_buf_puts(&b, "</ReplicationConfiguration>");
    return finish(&b, rc);
}

char *dr_data_s3x_tagging(const json_t *tags, dr_err *err)
{
    if (!json_is_array(tags)) {
        dr_err_set(err, DR_E_CONFIG, "Tags must be a list");
        return NULL;
    }
    dr_buf b = DR_BUF_INIT;
    int rc = 0;
    dr_buf_puts(&b, "<Tagging xmlns=\"" S3NS "\"><TagSet>");
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) if ((rc = tag_el(&b, t, "Tags", err)) != 0) break;
    dr_buf_puts(&b, "</TagSet></Tagging>");
    return finish(&b, rc);
}

char *dr_data_s3x_delete_objects(const dr_data_s3_version *v, size_t n)
{
    dr_buf b = DR_BUF_INIT;
    /* Quiet: the answer lists only the failures, not 1000 successes. */
    dr_buf_puts(&b, "<Delete xmlns=\"" S3NS "\"><Quiet>true</Quiet>");
    for (size_t i = 0; i < n; i++) {
        dr_buf_puts(&b, "<Object>");
        el_text(&b, "Key", v[i].key);
        if (v[i].version_id)
            el_text(&b, "VersionId", v[i].version_id);
        dr_buf_puts(&b, "</Object>");
    }
    dr_buf_puts(&b, "</Delete>");
    return dr_buf_detach(&b);
}

/* ---- S3 calls ---------------------------------------------------------------- */

static char *md5_base64(const void *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16)
        return NULL; /* FIPS: the client falls back to what it can send */
    char out[32];
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
    return dr_xstrdup(out);
}

typedef struct s3req {
    const char *op;
    const char *method;
    const char *bucket;
    const char *key;         /* NULL for bucket operations */
    const char *sub;         /* sub-resource ("versioning"...) or NULL */
    const char *version_id;  /* versionId query parameter, or NULL */
    const char *body;        /* XML or JSON body, or NULL */
    const char *ctype;       /* body's Content-Type; NULL = application/xml */
    int bypass_governance;   /* x-amz-bypass-governance-retention: true */
    const char *object_lock; /* x-amz-bucket-object-lock-enabled value, or NULL */
    const dr_kvlist *query;  /* more query parameters, or NULL */
} s3req;

/* One S3 call; resp (if non-NULL) receives the answer, to be freed by the
 * caller with dr_aws_rest_resp_free. */
static int s3_call(dr_apply_ctx *c, const s3req *r, dr_aws_rest_resp *resp, dr_err *err)
{
    dr_kvlist q = DR_KVLIST_INIT, h = DR_KVLIST_INIT;
    if (r->sub)
        dr_kv_add(&q, r->sub, "");
    if (r->version_id)
        dr_kv_add(&q, "versionId", r->version_id);
    for (size_t i = 0; r->query && i < r->query->n; i++)
        dr_kv_add(&q, r->query->items[i].name, r->query->items[i].value);
    size_t blen = r->body ? strlen(r->body) : 0;
    if (r->body) {
        dr_kv_add(&h, "Content-Type", r->ctype ? r->ctype : "application/xml");
        char *md5 = md5_base64(r->body, blen);
        if (md5)
            dr_kv_add(&h, "Content-MD5", md5);
        free(md5);
    }
    if (r->bypass_governance)
        dr_kv_add(&h, "x-amz-bypass-governance-retention", "true");
    if (r->object_lock)
        dr_kv_add(&h, "x-amz-bucket-object-lock-enabled", r->object_lock);
    dr_aws_rest_req req = {
        .service = "s3",
        .region = c->region,
        .operation = r->op,
        .method = r->method,
        .bucket = r->bucket,
        .path = r->key,
        .query = q.n ? &q : NULL,
        .headers = h.n ? &h : NULL,
        .body = r->body,
        .body_len = blen,
    };
    dr_aws_rest_resp own;
    dr_aws_rest_resp *rp = resp ? resp : &own;
    dr_aws_rest_resp_init(rp);
    int rc = dr_aws_rest(c->aws, &req, rp, err);
    if (!resp)
        dr_aws_rest_resp_free(&own);
    dr_kv_free(&q);
    dr_kv_free(&h);
    return rc;
}

/* GET ?sub, parsed. *doc = NULL (and 0 returned) when S3 answers with one
 * of the `absent` codes (e.g. NoSuchTagSet); NoSuchBucket is an error the
 * caller checks with no_bucket(). */
static int s3_get_xml(dr_apply_ctx *c, const char *op, const char *bucket, const char *sub,
                      const char *absent, xmlDocPtr *doc, dr_err *err)
{
    *doc = NULL;
    dr_aws_rest_resp resp;
    s3req r = {.op = op, .method = "GET", .bucket = bucket, .sub = sub};
    if (s3_call(c, &r, &resp, err) != 0) {
        dr_aws_rest_resp_free(&resp);
        if (absent && dr_data_code_is(err, absent)) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    *doc = dr_xml_parse(resp.body.data, resp.body.len);
    dr_aws_rest_resp_free(&resp);
    if (!*doc)
        return dr_err_set(err, DR_E_AWS, "s3 %s: s3://%s: the answer is not XML", op, bucket);
    return 0;
}

static int no_bucket(const dr_err *err)
{
    return dr_data_code_is(err, "NoSuchBucket") ||
           (err->has_aws && err->aws.http_status == 404 && !*err->aws.code);
}

static int put_sub(dr_apply_ctx *c, const char *op, const char *bucket, const char *sub,
                   const char *body, dr_err *err)
{
    s3req r = {.op = op, .method = "PUT", .bucket = bucket, .sub = sub, .body = body};
    return s3_call(c, &r, NULL, err);
}

/* DELETE ?sub; absent already counts as deleted. */
static int delete_sub(dr_apply_ctx *c, const char *op, const char *bucket, const char *sub,
                      const char *absent, dr_err *err)
{
    s3req r = {.op = op, .method = "DELETE", .bucket = bucket, .sub = sub};
    if (s3_call(c, &r, NULL, err) == 0)
        return 0;
    if (absent && dr_data_code_is(err, absent)) {
        dr_err_clear(err);
        return 0;
    }
    return -1;
}

/* ---- the bucket ------------------------------------------------------------------ */

static const char *const bucket_props[] = {"BucketName",
                                           "VersioningConfiguration",
                                           "BucketEncryption",
                                           "OwnershipControls",
                                           "PublicAccessBlockConfiguration",
                                           "LifecycleConfiguration",
                                           "ObjectLockEnabled",
                                           "ObjectLockConfiguration",
                                           "ReplicationConfiguration",
                                           "Tags",
                                           NULL};

static int object_lock_wanted(const json_t *props)
{
    int on = 0;
    return (dr_data_bool(props, "ObjectLockEnabled", &on) && on) ||
           json_object_get(props, "ObjectLockConfiguration") != NULL;
}

static void bucket_attributes(dr_apply_ctx *c, const char *name, dr_live *out)
{
    const char *part = dr_partition_of(c->region);
    const char *suffix = strcmp(part, "aws-cn") == 0 ? "amazonaws.com.cn" : "amazonaws.com";
    json_t *a = json_object();
    json_object_set_new(a, "Arn", json_sprintf("arn:%s:s3:::%s", part, name));
    json_object_set_new(a, "DomainName", json_sprintf("%s.s3.%s", name, suffix));
    json_object_set_new(a, "RegionalDomainName",
                        json_sprintf("%s.s3.%s.%s", name, c->region, suffix));
    json_object_set_new(a, "DualStackDomainName",
                        json_sprintf("%s.s3.dualstack.%s.%s", name, c->region, suffix));
    json_decref(out->attributes);
    out->attributes = a;
}

/* Puts one sub-resource from a property, or deletes it when the property
 * went away (update only: `had` is the old value). */
static int apply_sub(dr_apply_ctx *c, const char *bucket, const json_t *want, const json_t *had,
                     char *(*build)(const json_t *, dr_err *), const char *put_op,
                     const char *del_op, const char *sub, const char *absent, dr_err *err)
{
    if (want) {
        char *body = build(want, err);
        if (!body)
            return dr_err_wrap(err, "s3://%s", bucket);
        int rc = put_sub(c, put_op, bucket, sub, body, err);
        free(body);
        return rc;
    }
    if (had && del_op)
        return delete_sub(c, del_op, bucket, sub, absent, err);
    return 0;
}

/* Brings a bucket's sub-resources to `props`: all of them on create
 * (old == NULL), what changed on update. Tags last (see the top). */
static int bucket_configure(dr_apply_ctx *c, const char *name, const json_t *old,
                            const json_t *props, const json_t *tags, dr_err *err)
{
    int all = old == NULL;
#define CH(k) (all || dr_data_changed(old, props, k))
#define G(k) json_object_get(props, k)
#define O(k) (old ? json_object_get(old, k) : NULL)
    /* Versioning cannot be switched off, only suspended: a model that
     * drops it leaves the bucket as it is, as CloudFormation does. */
    if (CH("VersioningConfiguration") && G("VersioningConfiguration") &&
        apply_sub(c, name, G("VersioningConfiguration"), NULL, dr_data_s3x_versioning,
                  "PutBucketVersioning", NULL, "versioning", NULL, err) != 0)
        return -1;
    if (CH("BucketEncryption") &&
        apply_sub(c, name, G("BucketEncryption"), O("BucketEncryption"), dr_data_s3x_encryption,
                  "PutBucketEncryption", "DeleteBucketEncryption", "encryption",
                  "ServerSideEncryptionConfigurationNotFound", err) != 0)
        return -1;
    if (CH("OwnershipControls") &&
        apply_sub(c, name, G("OwnershipControls"), O("OwnershipControls"), dr_data_s3x_ownership,
                  "PutBucketOwnershipControls", "DeleteBucketOwnershipControls",
                  "ownershipControls", "OwnershipControlsNotFound", err) != 0)
        return -1;
    if (CH("PublicAccessBlockConfiguration") &&
        apply_sub(c, name, G("PublicAccessBlockConfiguration"), O("PublicAccessBlockConfiguration"),
                  dr_data_s3x_public_access_block, "PutPublicAccessBlock",
                  "DeletePublicAccessBlock", "publicAccessBlock",
                  "NoSuchPublicAccessBlockConfiguration", err) != 0)
        return -1;
    if (CH("LifecycleConfiguration") &&
        apply_sub(c, name, G("LifecycleConfiguration"), O("LifecycleConfiguration"),
                  dr_data_s3x_lifecycle, "PutBucketLifecycleConfiguration", "DeleteBucketLifecycle",
                  "lifecycle", "NoSuchLifecycleConfiguration", err) != 0)
        return -1;
    if ((CH("ObjectLockConfiguration") || CH("ObjectLockEnabled")) && object_lock_wanted(props)) {
        /* Also enables Object Lock on a bucket that already existed without
         * it (S3 allows that on a versioned bucket). Without a Rule it
         * clears a default retention the model no longer sets. */
        char *body = dr_data_s3x_object_lock(G("ObjectLockConfiguration"), err);
        if (!body)
            return dr_err_wrap(err, "s3://%s", name);
        int rc = put_sub(c, "PutObjectLockConfiguration", name, "object-lock", body, err);
        free(body);
        if (rc != 0)
            return -1;
    }
    if (CH("ReplicationConfiguration") &&
        apply_sub(c, name, G("ReplicationConfiguration"), O("ReplicationConfiguration"),
                  dr_data_s3x_replication, "PutBucketReplication", "DeleteBucketReplication",
                  "replication", "ReplicationConfigurationNotFound", err) != 0)
        return -1;
    if (tags) {
        char *body = dr_data_s3x_tagging(tags, err);
        if (!body)
            return dr_err_wrap(err, "s3://%s", name);
        int rc = put_sub(c, "PutBucketTagging", name, "tagging", body, err);
        free(body);
        if (rc != 0)
            return -1;
    }
#undef CH
#undef G
#undef O
    return 0;
}

static int bucket_create_call(dr_apply_ctx *c, const char *name, int lock, dr_err *err)
{
    /* us-east-1 is the one region that takes no LocationConstraint (and
     * refuses one naming itself). */
    char *body = NULL;
    if (strcmp(c->region, "us-east-1") != 0)
        body = dr_xasprintf("<CreateBucketConfiguration xmlns=\"" S3NS "\">"
                            "<LocationConstraint>%s</LocationConstraint>"
                            "</CreateBucketConfiguration>",
                            c->region);
    s3req r = {.op = "CreateBucket",
               .method = "PUT",
               .bucket = name,
               .body = body,
               .object_lock = lock ? "true" : NULL};
    int rc = s3_call(c, &r, NULL, err);
    free(body);
    if (rc != 0 && dr_data_code_is(err, "BucketAlreadyOwnedByYou")) {
        /* Ours already (a create that is being completed): idempotent. */
        dr_err_clear(err);
        rc = 0;
    }
    return rc;
}

int dr_data_bucket_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                          const char *token, dr_live *out, dr_err *err)
{
    (void)logical_id;
    (void)token; /* CreateBucket takes no token: the name makes it idempotent */
    if (check_keys(props, bucket_props, "AWS::S3::Bucket", err) != 0)
        return -1;
    const char *name = dr_data_str(props, "BucketName");
    if (!name || !*name)
        return dr_err_set(err, DR_E_CONFIG,
                          "AWS::S3::Bucket needs a BucketName (drctl names every bucket)");
    if (bucket_create_call(c, name, object_lock_wanted(props), err) != 0)
        return -1;
    if (bucket_configure(c, name, NULL, props, tags, err) != 0)
        return -1;
    out->physical_id = dr_xstrdup(name);
    bucket_attributes(c, name, out);
    return 0;
}

/* The live properties plan compares an adopted bucket with: those AWS
 * reports in the model's own shape. */
static int bucket_live(dr_apply_ctx *c, const char *name, const json_t *props, json_t *live,
                       int *exists, dr_err *err)
{
    xmlDocPtr d = NULL;
    *exists = 1;
    if (s3_get_xml(c, "GetBucketVersioning", name, "versioning", NULL, &d, err) != 0) {
        if (no_bucket(err)) {
            dr_err_clear(err);
            *exists = 0;
            return 0;
        }
        return -1;
    }
    char *st = dr_xml_text(xmlDocGetRootElement(d), "Status");
    xmlFreeDoc(d);
    if (json_object_get(props, "VersioningConfiguration"))
        json_object_set_new(live, "VersioningConfiguration",
                            json_pack("{s:s}", "Status", st ? st : "Suspended"));
    free(st);
    if (json_object_get(props, "PublicAccessBlockConfiguration")) {
        if (s3_get_xml(c, "GetPublicAccessBlock", name, "publicAccessBlock",
                       "NoSuchPublicAccessBlockConfiguration", &d, err) != 0)
            return -1;
        json_t *pab = json_object();
        static const char *const k[] = {"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls",
                                        "RestrictPublicBuckets"};
        for (size_t i = 0; i < 4; i++) {
            char *v = d ? dr_xml_text(xmlDocGetRootElement(d), k[i]) : NULL;
            json_object_set_new(pab, k[i], json_boolean(v && strcmp(v, "true") == 0));
            free(v);
        }
        json_object_set_new(live, "PublicAccessBlockConfiguration", pab);
        xmlFreeDoc(d);
    }
    if (json_object_get(props, "BucketEncryption")) {
        if (s3_get_xml(c, "GetBucketEncryption", name, "encryption",
                       "ServerSideEncryptionConfigurationNotFound", &d, err) != 0)
            return -1;
        json_t *rules = json_array();
        for (xmlNodePtr r = d ? dr_xml_find(xmlDocGetRootElement(d), "Rule") : NULL; r;
             r = dr_xml_next_same(r)) {
            char *alg = dr_xml_text(r, "ApplyServerSideEncryptionByDefault/SSEAlgorithm");
            char *key = dr_xml_text(r, "ApplyServerSideEncryptionByDefault/KMSMasterKeyID");
            char *bk = dr_xml_text(r, "BucketKeyEnabled");
            json_t *def = json_pack("{s:s}", "SSEAlgorithm", alg ? alg : "");
            if (key)
                json_object_set_new(def, "KMSMasterKeyID", json_string(key));
            json_array_append_new(rules,
                                  json_pack("{s:o, s:b}", "ServerSideEncryptionByDefault", def,
                                            "BucketKeyEnabled", bk && strcmp(bk, "true") == 0));
            free(alg);
            free(key);
            free(bk);
        }
        json_object_set_new(live, "BucketEncryption",
                            json_pack("{s:o}", "ServerSideEncryptionConfiguration", rules));
        xmlFreeDoc(d);
    }
    return 0;
}

int dr_data_bucket_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                        dr_live *out, dr_err *err)
{
    *found = 0;
    const char *name = dr_data_str(props, "BucketName");
    if (!name || !*name || dr_json_unknown(json_object_get(props, "BucketName")))
        return 0;
    xmlDocPtr d = NULL;
    if (s3_get_xml(c, "GetBucketTagging", name, "tagging", "NoSuchTagSet", &d, err) != 0) {
        if (no_bucket(err)) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    if (!d)
        return 0; /* untagged: a create that did not finish; create completes it */
    json_t *tags = dr_data_xml_tags(dr_xml_find(xmlDocGetRootElement(d), "TagSet"));
    xmlFreeDoc(d);
    char *other = NULL;
    int owner = dr_data_tags_owner(tags, c->stack, logical_id, &other);
    json_decref(tags);
    if (owner != 1) {
        int rc = dr_data_not_ours(err, "bucket", name, c->stack, logical_id, other);
        free(other);
        return rc;
    }
    json_t *live = json_object();
    int exists = 0;
    if (bucket_live(c, name, props, live, &exists, err) != 0) {
        json_decref(live);
        return -1;
    }
    if (!exists) { /* deleted between the two calls */
        json_decref(live);
        return 0;
    }
    *found = 1;
    out->physical_id = dr_xstrdup(name);
    out->properties = live;
    bucket_attributes(c, name, out);
    return 0;
}

int dr_data_bucket_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                        dr_live *out, dr_err *err)
{
    json_t *live = json_object();
    if (bucket_live(c, physical_id, props, live, exists, err) != 0 || !*exists) {
        json_decref(live);
        return *exists ? -1 : 0;
    }
    out->physical_id = dr_xstrdup(physical_id);
    out->properties = live;
    bucket_attributes(c, physical_id, out);
    return 0;
}

int dr_data_bucket_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                          json_t *new_props, dr_live *out, dr_err *err)
{
    if (check_keys(new_props, bucket_props, "AWS::S3::Bucket", err) != 0)
        return -1;
    /* Object Lock can be switched on for a versioned bucket, never off. */
    if (object_lock_wanted(old_props) && !object_lock_wanted(new_props)) {
        dr_err_set(err, DR_E_CONFIG, "bucket %s: Object Lock cannot be switched off", physical_id);
        return dr_err_hint(err, "keep ObjectLockEnabled in the profile, or move the objects to a "
                                "new bucket");
    }
    const json_t *tags =
        dr_data_changed(old_props, new_props, "Tags") ? json_object_get(new_props, "Tags") : NULL;
    if (bucket_configure(c, physical_id, old_props, new_props, tags, err) != 0)
        return -1;
    out->physical_id = dr_xstrdup(physical_id);
    bucket_attributes(c, physical_id, out);
    return 0;
}

/* ---- emptying a bucket --------------------------------------------------------- */

/* Percent-decoding of keys listed with encoding-type=url ('+' is a space
 * there, as in a form). */
static char *url_decode(const char *s)
{
    size_t n = strlen(s);
    char *o = dr_xmalloc(n + 1), *w = o;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hx[3] = {s[i + 1], s[i + 2], 0};
            *w++ = (char)strtol(hx, NULL, 16);
            i += 2;
        } else {
            *w++ = s[i] == '+' ? ' ' : s[i];
        }
    }
    *w = '\0';
    return o;
}

typedef struct emptying {
    const char *bucket;
    int lock;            /* the bucket has Object Lock */
    size_t deleted;      /* versions and markers deleted in this pass */
    size_t kept;         /* versions under compliance retention */
    char kept_until[40]; /* the latest compliance retain-until date seen */
    size_t holds;        /* legal holds lifted */
} emptying;

static void versions_free(dr_data_s3_version *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].version_id);
    }
}

/* Deletes one version by itself: keys XML cannot carry, and retries after
 * a legal hold was lifted. */
static int delete_one(dr_apply_ctx *c, emptying *e, const dr_data_s3_version *v, dr_err *err)
{
    s3req r = {.op = "DeleteObject",
               .method = "DELETE",
               .bucket = e->bucket,
               .key = v->key,
               .version_id = v->version_id,
               .bypass_governance = e->lock};
    if (s3_call(c, &r, NULL, err) != 0) {
        if (dr_data_code_is(err, "NoSuchKey") || dr_data_code_is(err, "NoSuchVersion")) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    e->deleted++;
    return 0;
}

/* A version that DeleteObjects refused in an Object Lock bucket: lifts a
 * legal hold and deletes it, or counts it as kept when compliance-mode
 * retention protects it (nobody can shorten that). HeadObject reports the
 * version's retention and legal hold in one call (moto 5.2.1 has no
 * GetObjectRetention: it answers ?retention with the object itself). */
static int locked_version(dr_apply_ctx *c, emptying *e, const dr_data_s3_version *v, dr_err *err)
{
    dr_aws_rest_resp resp;
    s3req r = {.op = "HeadObject",
               .method = "HEAD",
               .bucket = e->bucket,
               .key = v->key,
               .version_id = v->version_id};
    if (s3_call(c, &r, &resp, err) != 0) {
        dr_aws_rest_resp_free(&resp);
        if (err->has_aws && (err->aws.http_status == 404 || err->aws.http_status == 405)) {
            dr_err_clear(err); /* gone meanwhile, or a delete marker */
            return 0;
        }
        return -1;
    }
    const char *m = dr_kv_get(&resp.headers, "x-amz-object-lock-mode");
    const char *u = dr_kv_get(&resp.headers, "x-amz-object-lock-retain-until-date");
    const char *h = dr_kv_get(&resp.headers, "x-amz-object-lock-legal-hold");
    char *mode = m ? dr_xstrdup(m) : NULL, *until = u ? dr_xstrdup(u) : NULL;
    int hold = h && strcmp(h, "ON") == 0;
    dr_aws_rest_resp_free(&resp);
    dr_debug(c->log, "s3://%s/%s (version %s): retention %s until %s, legal hold %s", e->bucket,
             v->key, v->version_id ? v->version_id : "null", mode ? mode : "none",
             until ? until : "-", hold ? "on" : "off");
    int rc = 0;
    if (hold) {
        s3req off = {.op = "PutObjectLegalHold",
                     .method = "PUT",
                     .bucket = e->bucket,
                     .key = v->key,
                     .sub = "legal-hold",
                     .version_id = v->version_id,
                     .body = "<LegalHold xmlns=\"" S3NS "\"><Status>OFF</Status></LegalHold>"};
        rc = s3_call(c, &off, NULL, err);
        if (rc == 0)
            e->holds++;
    }
    if (rc == 0 && mode && strcmp(mode, "COMPLIANCE") == 0) {
        /* RetainUntilDate is ISO 8601 in UTC: the string order is the time
         * order. A past date no longer protects anything: try the delete. */
        char now[40];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%S", &tm);
        if (until && strcmp(until, now) > 0) {
            e->kept++;
            if (strcmp(until, e->kept_until) > 0)
                snprintf(e->kept_until, sizeof(e->kept_until), "%s", until);
        } else {
            rc = delete_one(c, e, v, err);
        }
    } else if (rc == 0) {
        rc = delete_one(c, e, v, err);
    }
    free(mode);
    free(until);
    return rc;
}

/* DeleteObjects for up to 1000 versions; what it refuses goes through
 * locked_version (Object Lock) or fails the remove. */
static int delete_batch(dr_apply_ctx *c, emptying *e, dr_data_s3_version *v, size_t n, dr_err *err)
{
    /* Keys with control characters cannot travel in XML 1.0: one by one. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (dr_data_xml_safe(v[i].key)) {
            dr_data_s3_version t = v[m];
            v[m++] = v[i];
            v[i] = t;
        }
    }
    for (size_t i = m; i < n; i++)
        if (delete_one(c, e, &v[i], err) != 0)
            return -1;
    if (m == 0)
        return 0;
    char *body = dr_data_s3x_delete_objects(v, m);
    dr_aws_rest_resp resp;
    s3req r = {.op = "DeleteObjects",
               .method = "POST",
               .bucket = e->bucket,
               .sub = "delete",
               .body = body,
               .bypass_governance = e->lock};
    int rc = s3_call(c, &r, &resp, err);
    free(body);
    if (rc != 0) {
        dr_aws_rest_resp_free(&resp);
        return -1;
    }
    xmlDocPtr d = dr_xml_parse(resp.body.data, resp.body.len);
    dr_aws_rest_resp_free(&resp);
    if (!d)
        return dr_err_set(err, DR_E_AWS, "s3 DeleteObjects: s3://%s: the answer is not XML",
                          e->bucket);
    size_t failed = 0;
    for (xmlNodePtr x = dr_xml_find(xmlDocGetRootElement(d), "Error"); x && rc == 0;
         x = dr_xml_next_same(x)) {
        char *key = dr_xml_text(x, "Key"), *vid = dr_xml_text(x, "VersionId");
        char *code = dr_xml_text(x, "Code"), *msg = dr_xml_text(x, "Message");
        failed++;
        if (e->lock && code && strcmp(code, "AccessDenied") == 0 && key) {
            /* The version as we sent it: an answer may leave VersionId out
             * (moto does), and a delete without one would only add a
             * delete marker. */
            for (size_t i = 0; i < m && rc == 0; i++)
                if (strcmp(v[i].key, key) == 0 &&
                    (!vid || (v[i].version_id && strcmp(v[i].version_id, vid) == 0)))
                    rc = locked_version(c, e, &v[i], err);
        } else if (code && (strcmp(code, "NoSuchKey") == 0 || strcmp(code, "NoSuchVersion") == 0)) {
            /* gone meanwhile */
        } else {
            rc = dr_err_set(err, DR_E_AWS, "s3 DeleteObjects: s3://%s/%s (version %s): %s: %s",
                            e->bucket, key ? key : "?", vid ? vid : "null", code ? code : "?",
                            msg ? msg : "");
        }
        free(key);
        free(vid);
        free(code);
        free(msg);
    }
    xmlFreeDoc(d);
    if (rc == 0)
        e->deleted += m - failed;
    return rc;
}

/* One pass over every version and delete marker (ListObjectVersions pages
 * of up to 1000), deleting each page as it comes. A page that left nothing
 * behind is followed by a listing from the start again (what is left);
 * after a page that kept versions (compliance retention) the listing goes
 * on from its markers, which are positions in key order, not offsets, so
 * the deletes do not disturb them. */
static int empty_pass(dr_apply_ctx *c, emptying *e, dr_err *err)
{
    char *key_marker = NULL, *vid_marker = NULL;
    int rc = 0;
    for (;;) {
        dr_kvlist q = DR_KVLIST_INIT;
        dr_kv_add(&q, "max-keys", "1000");
        /* Keys come back percent-encoded: a raw key may hold characters
         * that XML 1.0 cannot carry. */
        dr_kv_add(&q, "encoding-type", "url");
        if (key_marker)
            dr_kv_add(&q, "key-marker", key_marker);
        if (vid_marker)
            dr_kv_add(&q, "version-id-marker", vid_marker);
        dr_aws_rest_resp resp;
        s3req r = {.op = "ListObjectVersions",
                   .method = "GET",
                   .bucket = e->bucket,
                   .sub = "versions",
                   .query = &q};
        rc = s3_call(c, &r, &resp, err);
        dr_kv_free(&q);
        free(key_marker);
        free(vid_marker);
        key_marker = vid_marker = NULL;
        if (rc != 0) {
            dr_aws_rest_resp_free(&resp);
            break;
        }
        xmlDocPtr d = dr_xml_parse(resp.body.data, resp.body.len);
        dr_aws_rest_resp_free(&resp);
        if (!d) {
            rc = dr_err_set(err, DR_E_AWS, "s3 ListObjectVersions: s3://%s: the answer is not XML",
                            e->bucket);
            break;
        }
        xmlNodePtr root = xmlDocGetRootElement(d);
        char *enc = dr_xml_text(root, "EncodingType");
        int decode = enc && strcmp(enc, "url") == 0;
        free(enc);
        size_t kept_before = e->kept, deleted_before = e->deleted;
        int restart = 0;
        dr_data_s3_version *v = dr_xcalloc(DELETE_BATCH, sizeof(*v));
        size_t n = 0;
        static const char *const kinds[] = {"Version", "DeleteMarker"};
        for (size_t k = 0; k < 2 && rc == 0; k++) {
            for (xmlNodePtr x = dr_xml_find(root, kinds[k]); x && rc == 0;
                 x = dr_xml_next_same(x)) {
                char *key = dr_xml_text(x, "Key");
                if (!key)
                    continue;
                if (decode) {
                    char *raw = url_decode(key);
                    free(key);
                    key = raw;
                }
                char *vid = dr_xml_text(x, "VersionId");
                /* "null" is the version id of an object written before
                 * versioning: delete it without a versionId. */
                if (vid && strcmp(vid, "null") == 0) {
                    free(vid);
                    vid = NULL;
                }
                v[n].key = key;
                v[n].version_id = vid;
                if (++n == DELETE_BATCH) {
                    rc = delete_batch(c, e, v, n, err);
                    versions_free(v, n);
                    memset(v, 0, DELETE_BATCH * sizeof(*v));
                    n = 0;
                }
            }
        }
        if (rc == 0 && n)
            rc = delete_batch(c, e, v, n, err);
        versions_free(v, n);
        free(v);
        char *trunc = dr_xml_text(root, "IsTruncated");
        if (rc == 0 && trunc && strcmp(trunc, "true") == 0 && e->kept == kept_before &&
            e->deleted > deleted_before) {
            /* Everything listed is gone: the next page is the start of what
             * is left. No marker needed (and moto checks the signature of a
             * key-marker holding '/' or a space wrongly). Only after
             * progress, so that this cannot loop. */
            restart = 1;
        } else if (rc == 0 && trunc && strcmp(trunc, "true") == 0) {
            key_marker = dr_xml_text(root, "NextKeyMarker");
            vid_marker = dr_xml_text(root, "NextVersionIdMarker");
            if (key_marker && decode) {
                char *raw = url_decode(key_marker);
                free(key_marker);
                key_marker = raw;
            }
        }
        free(trunc);
        xmlFreeDoc(d);
        if (rc != 0 || (!key_marker && !restart))
            break;
    }
    free(key_marker);
    free(vid_marker);
    return rc;
}

/* Aborts every multipart upload in progress: their parts are stored (and
 * billed) but listed nowhere else, and they keep DeleteBucket from
 * succeeding. */
static int abort_uploads(dr_apply_ctx *c, const char *bucket, dr_err *err)
{
    char *key_marker = NULL, *upload_marker = NULL;
    int rc = 0;
    for (;;) {
        dr_kvlist q = DR_KVLIST_INIT;
        dr_kv_add(&q, "encoding-type", "url");
        if (key_marker)
            dr_kv_add(&q, "key-marker", key_marker);
        if (upload_marker)
            dr_kv_add(&q, "upload-id-marker", upload_marker);
        free(key_marker);
        free(upload_marker);
        key_marker = upload_marker = NULL;
        dr_aws_rest_resp resp;
        s3req r = {.op = "ListMultipartUploads",
                   .method = "GET",
                   .bucket = bucket,
                   .sub = "uploads",
                   .query = &q};
        rc = s3_call(c, &r, &resp, err);
        dr_kv_free(&q);
        if (rc != 0) {
            dr_aws_rest_resp_free(&resp);
            break;
        }
        xmlDocPtr d = dr_xml_parse(resp.body.data, resp.body.len);
        dr_aws_rest_resp_free(&resp);
        if (!d) {
            rc = dr_err_set(err, DR_E_AWS,
                            "s3 ListMultipartUploads: s3://%s: the answer is not XML", bucket);
            break;
        }
        xmlNodePtr root = xmlDocGetRootElement(d);
        char *enc = dr_xml_text(root, "EncodingType");
        int decode = enc && strcmp(enc, "url") == 0;
        free(enc);
        for (xmlNodePtr u = dr_xml_find(root, "Upload"); u && rc == 0; u = dr_xml_next_same(u)) {
            char *key = dr_xml_text(u, "Key"), *id = dr_xml_text(u, "UploadId");
            if (key && id) {
                if (decode) {
                    char *raw = url_decode(key);
                    free(key);
                    key = raw;
                }
                dr_kvlist aq = DR_KVLIST_INIT;
                dr_kv_add(&aq, "uploadId", id);
                s3req a = {.op = "AbortMultipartUpload",
                           .method = "DELETE",
                           .bucket = bucket,
                           .key = key,
                           .query = &aq};
                rc = s3_call(c, &a, NULL, err);
                if (rc != 0 && dr_data_code_is(err, "NoSuchUpload")) {
                    dr_err_clear(err);
                    rc = 0;
                }
                dr_kv_free(&aq);
            }
            free(key);
            free(id);
        }
        char *trunc = dr_xml_text(root, "IsTruncated");
        if (rc == 0 && trunc && strcmp(trunc, "true") == 0) {
            key_marker = dr_xml_text(root, "NextKeyMarker");
            upload_marker = dr_xml_text(root, "NextUploadIdMarker");
            if (key_marker && decode) {
                char *raw = url_decode(key_marker);
                free(key_marker);
                key_marker = raw;
            }
        }
        free(trunc);
        xmlFreeDoc(d);
        if (rc != 0 || !key_marker)
            break;
    }
    free(key_marker);
    free(upload_marker);
    return rc;
}

/* Empties the bucket: uploads aborted, then passes over every version until
 * one deletes nothing (writers that race the delete are caught by the next
 * pass; the number of passes is bounded). */
static int empty_bucket(dr_apply_ctx *c, emptying *e, dr_err *err)
{
    if (abort_uploads(c, e->bucket, err) != 0)
        return -1;
    size_t total = 0;
    for (int pass = 0; pass < EMPTY_PASSES; pass++) {
        e->deleted = 0;
        e->kept = 0;
        e->kept_until[0] = '\0';
        if (empty_pass(c, e, err) != 0)
            return -1;
        total += e->deleted;
        if (e->deleted == 0)
            break;
    }
    if (total || e->holds)
        dr_info(c->log, "s3://%s: deleted %zu object versions and delete markers%s", e->bucket,
                total, e->holds ? " (legal holds lifted)" : "");
    return 0;
}

int dr_data_bucket_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    (void)props;
    const char *name = physical_id;
    /* The policy first: a TLS-only policy refuses a plain-http endpoint,
     * and a guard policy may deny deletes. The bucket goes anyway. */
    if (delete_sub(c, "DeleteBucketPolicy", name, "policy", "NoSuchBucketPolicy", err) != 0) {
        if (no_bucket(err)) {
            dr_err_clear(err);
            return 0;
        }
        return -1;
    }
    emptying e = {.bucket = name};
    xmlDocPtr d = NULL;
    if (s3_get_xml(c, "GetObjectLockConfiguration", name, "object-lock",
                   "ObjectLockConfigurationNotFound", &d, err) != 0)
        return no_bucket(err) ? (dr_err_clear(err), 0) : -1;
    if (d) {
        char *en = dr_xml_text(xmlDocGetRootElement(d), "ObjectLockEnabled");
        e.lock = en && strcmp(en, "Enabled") == 0;
        free(en);
        xmlFreeDoc(d);
    }
    for (int round = 0;; round++) {
        if (empty_bucket(c, &e, err) != 0)
            return no_bucket(err) ? (dr_err_clear(err), 0) : -1;
        if (e.kept) {
            dr_err_set(err, DR_E_AWS,
                       "bucket %s cannot be deleted: %zu object version%s under COMPLIANCE-mode "
                       "Object Lock, retained until %s at the latest; compliance retention cannot "
                       "be shortened or bypassed by anyone",
                       name, e.kept, e.kept == 1 ? " is" : "s are", e.kept_until);
            return dr_err_hint(err,
                               "everything else in the bucket was deleted; run destroy again "
                               "after %s to delete the rest and the bucket",
                               e.kept_until);
        }
        s3req r = {.op = "DeleteBucket", .method = "DELETE", .bucket = name};
        if (s3_call(c, &r, NULL, err) == 0)
            return 0;
        if (no_bucket(err)) {
            dr_err_clear(err);
            return 0;
        }
        /* Something wrote between the last pass and the delete: empty again
         * (a few times: a writer that never stops must be stopped first). */
        if (!dr_data_code_is(err, "BucketNotEmpty") || round >= 2)
            return -1;
        dr_err_clear(err);
    }
}

static int bucket_gone_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    xmlDocPtr d = NULL;
    if (s3_get_xml(c, "GetBucketVersioning", (const char *)ud, "versioning", NULL, &d, err) == 0) {
        xmlFreeDoc(d);
        return 0;
    }
    if (no_bucket(err)) {
        dr_err_clear(err);
        return 1;
    }
    return -1;
}

int dr_data_bucket_wait_deleted(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    char what[160];
    snprintf(what, sizeof(what), "bucket %s to be deleted", physical_id);
    return dr_wait(c, what, 300, bucket_gone_check, (void *)physical_id, err);
}

/* ---- the bucket policy ----------------------------------------------------------- */

static const char *const policy_props[] = {"Bucket", "PolicyDocument", NULL};

static char *policy_text(const json_t *props, dr_err *err)
{
    const json_t *doc = json_object_get(props, "PolicyDocument");
    if (json_is_string(doc))
        return dr_xstrdup(json_string_value(doc));
    if (!json_is_object(doc)) {
        dr_err_set(err, DR_E_CONFIG, "AWS::S3::BucketPolicy needs a PolicyDocument object");
        return NULL;
    }
    return json_dumps(doc, JSON_COMPACT);
}

static int put_policy(dr_apply_ctx *c, const char *bucket, const json_t *props, dr_err *err)
{
    char *doc = policy_text(props, err);
    if (!doc)
        return -1;
    s3req r = {.op = "PutBucketPolicy",
               .method = "PUT",
               .bucket = bucket,
               .sub = "policy",
               .body = doc,
               .ctype = "application/json"};
    int rc = s3_call(c, &r, NULL, err);
    free(doc);
    return rc;
}

int dr_data_bucket_policy_create(dr_apply_ctx *c, const char *logical_id, json_t *props,
                                 json_t *tags, const char *token, dr_live *out, dr_err *err)
{
    (void)logical_id;
    (void)tags; /* a bucket policy has no tags: it is found through its bucket */
    (void)token;
    if (check_keys(props, policy_props, "AWS::S3::BucketPolicy", err) != 0)
        return -1;
    const char *bucket = dr_data_str(props, "Bucket");
    if (!bucket || !*bucket)
        return dr_err_set(err, DR_E_CONFIG, "AWS::S3::BucketPolicy needs a Bucket");
    if (put_policy(c, bucket, props, err) != 0)
        return -1;
    out->physical_id = dr_xstrdup(bucket);
    return 0;
}

/* 1 when the bucket has a policy, 0 when it (or the bucket) has none. */
static int policy_exists(dr_apply_ctx *c, const char *bucket, dr_err *err)
{
    s3req r = {.op = "GetBucketPolicy", .method = "GET", .bucket = bucket, .sub = "policy"};
    if (s3_call(c, &r, NULL, err) == 0)
        return 1;
    if (dr_data_code_is(err, "NoSuchBucketPolicy") || no_bucket(err)) {
        dr_err_clear(err);
        return 0;
    }
    return -1;
}

int dr_data_bucket_policy_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                               dr_live *out, dr_err *err)
{
    (void)logical_id;
    *found = 0;
    const char *bucket = dr_data_str(props, "Bucket");
    if (!bucket || !*bucket || dr_json_unknown(json_object_get(props, "Bucket")))
        return 0;
    int rc = policy_exists(c, bucket, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        *found = 1;
        out->physical_id = dr_xstrdup(bucket);
    }
    return 0;
}

int dr_data_bucket_policy_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                               dr_live *out, dr_err *err)
{
    (void)props;
    int rc = policy_exists(c, physical_id, err);
    if (rc < 0)
        return -1;
    *exists = rc;
    if (rc)
        out->physical_id = dr_xstrdup(physical_id);
    return 0;
}

int dr_data_bucket_policy_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                                 json_t *new_props, dr_live *out, dr_err *err)
{
    (void)old_props;
    if (check_keys(new_props, policy_props, "AWS::S3::BucketPolicy", err) != 0 ||
        put_policy(c, physical_id, new_props, err) != 0)
        return -1;
    out->physical_id = dr_xstrdup(physical_id);
    return 0;
}

int dr_data_bucket_policy_remove(dr_apply_ctx *c, const char *physical_id, json_t *props,
                                 dr_err *err)
{
    (void)props;
    if (delete_sub(c, "DeleteBucketPolicy", physical_id, "policy", "NoSuchBucketPolicy", err) == 0)
        return 0;
    if (no_bucket(err)) {
        dr_err_clear(err);
        return 0;
    }
    return -1;
}
