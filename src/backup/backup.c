/*
 * backup.c - one backup of a deployed stack (see backup.h).
 *
 * Order matters for the recovery point and for memory:
 *   1. the lock, the state, the stores, garbage of earlier runs removed;
 *   2. the database snapshot is exported first: its moment is the bundle's
 *      captured_at (the recovery point), and pg_dump starts streaming into a
 *      pipe that simply blocks until the writer reads it;
 *   3. the RDS snapshot is requested right away (AWS takes it in the
 *      background) and only waited for at the end;
 *   4. config and secrets (small), then the dump (streamed), then the
 *      objects (parallel, bounded window), then the manifest;
 *   5. reopen, check the signed manifest, publish, copy to the vault.
 */
#include "backup/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws/xml.h"
#include "backup/objects.h"
#include "backup/store.h"
#include "bundle/bundle.h"
#include "db/dbmap.h"
#include "db/pg.h"
#include "stack/model.h"
#include "stack/state.h"
#include "stack/synth.h"
#include "util/buf.h"
#include "util/kv.h"
#include "util/lock.h"
#include "util/mem.h"

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void iso8601(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Reads a whole small file (profiles, keys). */
static int slurp(const char *path, dr_buf *out, dr_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return dr_err_set(err, DR_E_IO, "reading %s: %s", path, strerror(errno));
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        dr_buf_append(out, tmp, n);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return dr_err_set(err, DR_E_IO, "reading %s: read error", path);
    return 0;
}

static const char *output_of(const dr_state *st, const char *name)
{
    return json_string_value(json_object_get(st->outputs, name));
}

/* The standby of the set (the region whose vault and KMS key back us up). */
static const dr_region_profile *standby_of(const dr_profile_set *set, const dr_region_profile *p)
{
    for (size_t i = 0; i < set->n; i++)
        if (&set->regions[i] != p && set->regions[i].role == DR_ROLE_STANDBY)
            return &set->regions[i];
    for (size_t i = 0; i < set->n; i++)
        if (&set->regions[i] != p)
            return &set->regions[i];
    return NULL;
}

/* Everything one run holds, freed in one place. */
typedef struct run {
    const dr_backup_opts *o;
    const char *stack, *region;
    const dr_region_profile *standby;
    dr_lock lock;
    dr_state st, sst; /* this region's state, the standby's */
    dr_store *local, *target, *vault;
    dr_store_list local_list, target_list, vault_list;
    const dr_store_list *tl; /* the target's list: target_list or local_list */
    dr_bundle_writer *w;
    dr_pg_dump *dump;
    char *staged;
    dr_buf recovery_pem;
    json_t *snapshots; /* [{"type","region","arn"}] */
    json_t *parent_index;
    json_t *index;
    char *rds_snapshot_id; /* requested, not yet waited for */
} run;

/* ---- secrets and the database connection -------------------------------- */

/* json_t holding a secret: overwrite its strings before freeing. */
static void json_free_secret(json_t *j)
{
    if (!j)
        return;
    if (json_is_string(j)) {
        char *s = (char *)json_string_value(j);
        dr_secure_zero(s, strlen(s));
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) json_free_secret(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) json_free_secret(v);
    }
}

static void json_decref_secret(json_t *j)
{
    if (j && j->refcount == 1)
        json_free_secret(j);
    json_decref(j);
}

/* GetSecretValue -> bytes (SecretString, or SecretBinary decoded). */
static int get_secret(run *r, const char *id, unsigned char **val, size_t *len, dr_err *err)
{
    json_t *in = json_pack("{s:s}", "SecretId", id), *out = NULL;
    int rc = dr_aws_json(r->o->aws, "secretsmanager", r->region, "GetSecretValue", in, &out, err);
    json_decref(in);
    if (rc != 0)
        return -1;
    const char *s = json_string_value(json_object_get(out, "SecretString"));
    const char *b64 = json_string_value(json_object_get(out, "SecretBinary"));
    if (s) {
        *len = strlen(s);
        *val = (unsigned char *)dr_xstrdup(s);
    } else if (b64) {
        size_t n = strlen(b64);
        *val = dr_xmalloc(n / 4 * 3 + 4);
        int m = EVP_DecodeBlock(*val, (const unsigned char *)b64, (int)n);
        if (m < 0) {
            free(*val);
            json_decref_secret(out);
            return dr_err_set(err, DR_E_AWS, "secret %s: SecretBinary is not base64", id);
        }
        while (m > 0 && n > 0 && b64[n - 1] == '=') { /* DecodeBlock counts padding */
            m--;
            n--;
        }
        *len = (size_t)m;
    } else {
        json_decref_secret(out);
        return dr_err_set(err, DR_E_AWS, "secret %s has no value (no current version)", id);
    }
    json_decref_secret(out);
    return 0;
}

/* Every secret of the state, sealed into the bundle under its logical id. */
static int capture_secrets(run *r, size_t *count, dr_err *err)
{
    const char *lid;
    json_t *e;
    *count = 0;
    json_object_foreach(r->st.resources, lid, e)
    {
        const char *type = dr_state_type(e);
        const char *arn = dr_state_physical_id(e);
        if (!type || strcmp(type, "AWS::SecretsManager::Secret") != 0 || !arn)
            continue;
        unsigned char *v = NULL;
        size_t n = 0;
        if (get_secret(r, arn, &v, &n, err) != 0)
            return dr_err_wrap(err, "backing up secret %s", lid);
        int rc = dr_bundle_writer_add_secret(r->w, lid, v, n, err);
        dr_secure_zero(v, n);
        free(v);
        if (rc != 0)
            return -1;
        (*count)++;
    }
    return 0;
}

/* Where the database is: the sandbox mapping when DRCTL_DB_MAP names this
 * region (reported), else the RDS endpoint with the credentials of the
 * stack's database secret. *conninfo and *password are the caller's
 * (password: dr_free_secret). */
static int db_conn(run *r, char **conninfo, char **password, dr_err *err)
{
    *conninfo = *password = NULL;
    dr_dbmap m;
    if (dr_dbmap_from_env(&m, err) != 0)
        return -1;
    const char *mapped = dr_dbmap_lookup(&m, r->region);
    if (mapped) {
        char *d = dr_dbmap_describe(mapped);
        dr_notice(r->o->log, "database %s: the sandbox mapping DRCTL_DB_MAP (%s), not RDS",
                  r->region, d);
        free(d);
        *conninfo = dr_xstrdup(mapped);
        dr_dbmap_free(&m);
        return 0;
    }
    dr_dbmap_free(&m);
    const char *secret = output_of(&r->st, "DbSecretArn");
    const char *host = output_of(&r->st, "DbEndpoint");
    const char *port = output_of(&r->st, "DbPort");
    if (!secret || !host) {
        dr_err_set(err, DR_E_NOT_FOUND, "the stack %s in %s has no database (no %s output)",
                   r->stack, r->region, secret ? "DbEndpoint" : "DbSecretArn");
        return dr_err_hint(err, "deploy the region first: drctl deploy %s", r->region);
    }
    unsigned char *v = NULL;
    size_t n = 0;
    if (get_secret(r, secret, &v, &n, err) != 0)
        return -1;
    json_t *j = json_loadb((const char *)v, n, 0, NULL);
    dr_secure_zero(v, n);
    free(v);
    const char *user = json_string_value(json_object_get(j, "username"));
    const char *pw = json_string_value(json_object_get(j, "password"));
    if (!json_is_object(j) || !pw) {
        json_decref_secret(j);
        return dr_err_set(err, DR_E_CONFIG,
                          "database secret %s does not hold a JSON object with a password", secret);
    }
    *conninfo = dr_xasprintf("host=%s port=%s dbname=%s user=%s sslmode=require", host,
                             port ? port : "5432", r->o->p->database.name,
                             user ? user : r->o->p->database.username);
    *password = dr_xstrdup(pw);
    json_decref_secret(j);
    return 0;
}

/* ---- native RDS snapshot -------------------------------------------------- */

static int rds_snapshot_status(run *r, const char *region, const char *id, char **status,
                               char **arn, dr_err *err)
{
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "DBSnapshotIdentifier", id);
    xmlDocPtr doc = NULL;
    int rc = dr_aws_query(r->o->aws, "rds", region, "DescribeDBSnapshots", &q, &doc, err);
    dr_kv_free(&q);
    if (rc != 0)
        return -1;
    xmlNodePtr s =
        dr_xml_find(xmlDocGetRootElement(doc), "DescribeDBSnapshotsResult/DBSnapshots/DBSnapshot");
    *status = s ? dr_xml_text(s, "Status") : NULL;
    if (arn)
        *arn = s ? dr_xml_text(s, "DBSnapshotArn") : NULL;
    xmlFreeDoc(doc);
    if (!s)
        return dr_err_set(err, DR_E_NOT_FOUND, "RDS snapshot %s not found in %s", id, region);
    return 0;
}

static void snapshot_tags(dr_kvlist *q, run *r, uint64_t version)
{
    char v[32];
    snprintf(v, sizeof(v), "%llu", (unsigned long long)version);
    dr_kv_add(q, "Tags.Tag.1.Key", "drctl:stack");
    dr_kv_add(q, "Tags.Tag.1.Value", r->stack);
    dr_kv_add(q, "Tags.Tag.2.Key", "drctl:bundle-version");
    dr_kv_add(q, "Tags.Tag.2.Value", v);
    dr_kv_add(q, "Tags.Tag.3.Key", "drctl:source-region");
    dr_kv_add(q, "Tags.Tag.3.Value", r->region);
}

/* Asks RDS for the snapshot; waited for by finish_rds_snapshot. */
static int start_rds_snapshot(run *r, uint64_t version, int64_t at, dr_err *err)
{
    const char *inst = output_of(&r->st, "DbInstanceIdentifier");
    if (!r->o->p->database.native_snapshots)
        return 0;
    if (!inst) {
        dr_notice(r->o->log, "no RDS instance in the state of %s: no native snapshot", r->region);
        return 0;
    }
    char ts[32];
    time_t tt = (time_t)at;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(ts, sizeof(ts), "%Y%m%d%H%M%S", &tm);
    r->rds_snapshot_id = dr_xasprintf("%s-v%06llu-%s", r->stack, (unsigned long long)version, ts);
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "DBInstanceIdentifier", inst);
    dr_kv_add(&q, "DBSnapshotIdentifier", r->rds_snapshot_id);
    snapshot_tags(&q, r, version);
    int rc = dr_aws_query(r->o->aws, "rds", r->region, "CreateDBSnapshot", &q, NULL, err);
    dr_kv_free(&q);
    if (rc != 0) {
        free(r->rds_snapshot_id);
        r->rds_snapshot_id = NULL;
        return dr_err_wrap(err, "native snapshot of RDS instance %s", inst);
    }
    return 0;
}

static int wait_snapshot(run *r, const char *region, const char *id, char **arn, dr_err *err)
{
    long timeout = 3600;
    const char *t = getenv("DRCTL_WAIT_TIMEOUT_S");
    if (t && atol(t) > 0)
        timeout = atol(t);
    double t0 = mono_s(), delay = 1;
    for (;;) {
        char *status = NULL;
        if (rds_snapshot_status(r, region, id, &status, arn, err) != 0)
            return -1;
        int ok = status && strcmp(status, "available") == 0;
        int bad = status && (strcmp(status, "failed") == 0 || strcmp(status, "error") == 0);
        if (ok || bad || mono_s() - t0 > (double)timeout) {
            int rc = 0;
            if (!ok)
                rc = dr_err_set(err, bad ? DR_E_AWS : DR_E_NETWORK,
                                "RDS snapshot %s in %s is %s after %.0f s", id, region,
                                status ? status : "?", mono_s() - t0);
            free(status);
            return rc;
        }
        free(status);
        free(*arn);
        *arn = NULL;
        usleep((useconds_t)(delay * 1e6));
        if (delay < 15)
            delay *= 1.5;
    }
}

/* Presigned CopyDBSnapshot for the source region, which RDS needs to copy
 * an encrypted snapshot across regions (what botocore derives from its
 * SourceRegion parameter). */
static char *copy_presigned_url(run *r, const char *src_arn, const char *dst_region,
                                const char *kms)
{
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "Action", "CopyDBSnapshot");
    dr_kv_add(&q, "Version", "2014-10-31");
    dr_kv_add(&q, "SourceDBSnapshotIdentifier", src_arn);
    dr_kv_add(&q, "KmsKeyId", kms);
    dr_kv_add(&q, "DestinationRegion", dst_region);
    dr_aws_rest_req req = {.service = "rds",
                           .region = r->region,
                           .operation = "CopyDBSnapshot",
                           .method = "GET",
                           .path = "/",
                           .query = &q};
    char *url = NULL;
    dr_err e;
    dr_err_clear(&e);
    if (dr_aws_presign(r->o->aws, &req, time(NULL), 3600, &url, &e) != 0) {
        dr_info(r->o->log, "no presigned URL for CopyDBSnapshot: %s", e.msg);
        url = NULL;
    }
    dr_kv_free(&q);
    return url;
}

/* Waits for the snapshot, copies it to the standby under its KMS key, and
 * records both ARNs in the manifest. */
static int finish_rds_snapshot(run *r, uint64_t version, dr_err *err)
{
    if (!r->rds_snapshot_id)
        return 0;
    char *arn = NULL;
    if (wait_snapshot(r, r->region, r->rds_snapshot_id, &arn, err) != 0)
        return dr_err_wrap(err, "native snapshot");
    int rc = dr_bundle_writer_add_snapshot(r->w, "rds-snapshot", r->region, arn, err);
    if (rc == 0)
        json_array_append_new(r->snapshots, json_pack("{s:s, s:s, s:s}", "type", "rds-snapshot",
                                                      "region", r->region, "arn", arn));
    const char *kms = output_of(&r->sst, "KmsKeyArn");
    if (rc == 0 && r->standby && !kms)
        dr_warn(r->o->log,
                "the standby %s has no deployed KMS key: the RDS snapshot is not copied there "
                "(the logical dump in the bundle still is)",
                r->standby->region);
    if (rc == 0 && r->standby && kms) {
        const char *dst = r->standby->region;
        dr_kvlist q = DR_KVLIST_INIT;
        dr_kv_add(&q, "SourceDBSnapshotIdentifier", arn);
        dr_kv_add(&q, "TargetDBSnapshotIdentifier", r->rds_snapshot_id);
        dr_kv_add(&q, "KmsKeyId", kms);
        dr_kv_add(&q, "CopyTags", "true");
        char *url = copy_presigned_url(r, arn, dst, kms);
        if (url)
            dr_kv_add(&q, "PreSignedUrl", url);
        snapshot_tags(&q, r, version);
        rc = dr_aws_query(r->o->aws, "rds", dst, "CopyDBSnapshot", &q, NULL, err);
        dr_kv_free(&q);
        free(url);
        char *carn = NULL;
        if (rc != 0)
            dr_err_wrap(err, "copying RDS snapshot %s to %s", r->rds_snapshot_id, dst);
        else
            rc = wait_snapshot(r, dst, r->rds_snapshot_id, &carn, err);
        if (rc == 0)
            rc = dr_bundle_writer_add_snapshot(r->w, "rds-snapshot", dst, carn, err);
        if (rc == 0)
            json_array_append_new(r->snapshots, json_pack("{s:s, s:s, s:s}", "type", "rds-snapshot",
                                                          "region", dst, "arn", carn));
        free(carn);
    }
    free(arn);
    return rc;
}

/* ---- configuration ------------------------------------------------------- */

static int add_json(run *r, const char *path, json_t *j, dr_err *err)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    int rc = dr_bundle_writer_add_buffer(r->w, path, s, strlen(s), NULL, err);
    free(s);
    return rc;
}

static int add_file_if(run *r, const char *path, const char *fs, int required, dr_err *err)
{
    if (!required && access(fs, F_OK) != 0)
        return 0;
    dr_buf b;
    dr_buf_init(&b);
    int rc = slurp(fs, &b, err);
    if (rc == 0)
        rc = dr_bundle_writer_add_buffer(r->w, path, b.data ? b.data : "", b.len, NULL, err);
    dr_buf_free(&b);
    return rc;
}

static int add_template(run *r, const char *path, dr_model *m, dr_err *err)
{
    json_t *t = NULL;
    int rc = dr_synth_template(m, &t, err);
    if (rc == 0)
        rc = add_json(r, path, t, err);
    json_decref(t);
    return rc;
}

static int capture_config(run *r, dr_err *err)
{
    const dr_profile_set *set = r->o->set;
    char *p = dr_xasprintf("%s/defaults.yaml", set->dir);
    int rc = add_file_if(r, "config/profiles/defaults.yaml", p, 1, err);
    free(p);
    for (size_t i = 0; rc == 0 && i < set->n; i++) {
        char *bp = dr_xasprintf("config/profiles/%s.yaml", set->regions[i].region);
        rc = add_file_if(r, bp, set->regions[i].file, 1, err);
        free(bp);
    }
    if (rc == 0) {
        p = dr_xasprintf("%s/litellm-config.yaml", set->dir);
        rc = add_file_if(r, "config/litellm/config.yaml", p, 0, err);
        free(p);
    }
    /* The templates the profiles render to, as each region rests, and the
     * edge: what restore deploys and what a human can read. */
    for (size_t i = 0; rc == 0 && i < set->n; i++) {
        dr_model m = {0};
        rc = dr_model_build_regional(set, &set->regions[i], &m, err);
        if (rc == 0) {
            char *bp = dr_xasprintf("config/templates/%s.json", set->regions[i].region);
            rc = add_template(r, bp, &m, err);
            free(bp);
        }
        dr_model_free(&m);
    }
    if (rc == 0 && r->o->p->edge.enabled) {
        dr_model m = {0};
        rc = dr_model_build_global(set, &m, err);
        if (rc == 0)
            rc = add_template(r, "config/templates/global.json", &m, err);
        dr_model_free(&m);
    }
    /* The deployed state of every scope this store knows. */
    const char *scopes[64];
    size_t ns = 0;
    for (size_t i = 0; i < set->n && ns < 63; i++)
        scopes[ns++] = set->regions[i].region;
    scopes[ns++] = DR_STATE_GLOBAL;
    for (size_t i = 0; rc == 0 && i < ns; i++) {
        if (!dr_state_exists(r->o->state_store, r->stack, scopes[i]))
            continue;
        char *fs = dr_xasprintf("%s/state/%s/%s.json", r->o->state_store, r->stack, scopes[i]);
        char *bp = dr_xasprintf("config/state/%s.json", scopes[i]);
        rc = add_file_if(r, bp, fs, 1, err);
        free(bp);
        free(fs);
    }
    /* The task definition the service runs. */
    const char *td = output_of(&r->st, "TaskDefinitionArn");
    if (rc == 0 && td) {
        json_t *in = json_pack("{s:s}", "taskDefinition", td), *out = NULL;
        rc = dr_aws_json(r->o->aws, "ecs", r->region, "DescribeTaskDefinition", in, &out, err);
        json_decref(in);
        if (rc == 0) {
            json_t *def = json_object_get(out, "taskDefinition");
            const char *img = json_string_value(json_object_get(
                json_array_get(json_object_get(def, "containerDefinitions"), 0), "image"));
            json_t *doc = json_pack("{s:O, s:s?, s:b}", "taskDefinition", def, "image", img,
                                    "pinned_by_digest", img && strstr(img, "@sha256:") != NULL);
            if (img && !strstr(img, "@sha256:"))
                dr_notice(r->o->log,
                          "the task definition's image %s is not pinned by digest: a restore "
                          "may run a newer image",
                          img);
            rc = add_json(r, "config/task-definition.json", doc, err);
            json_decref(doc);
        } else {
            dr_err_wrap(err, "reading the task definition %s", td);
        }
        json_decref(out);
    }
    return rc;
}

/* ---- stores -------------------------------------------------------------- */

static json_t *summary_of(run *r, const dr_bundle_result *br, uint64_t version, uint64_t parent,
                          int64_t captured_at, const char *file_sha, const dr_pg_sums *sums,
                          const dr_objects_result *ores, int64_t rows)
{
    char when[32];
    iso8601(captured_at, when);
    json_t *s = json_pack(
        "{s:i, s:s, s:I, s:I, s:s, s:I, s:s, s:s, s:I, s:s, s:s, s:b, s:I, s:I, s:O, "
        "s:{s:I, s:I, s:I}, s:{s:I, s:I}, s:I, s:n}",
        "format", 1, "stack", r->stack, "version", (json_int_t)version, "parent",
        (json_int_t)parent, "kind", parent ? "incremental" : "full", "captured_at",
        (json_int_t)captured_at, "captured_at_text", when, "source_region", r->region, "size",
        (json_int_t)br->bytes_out, "manifest_sha256", br->manifest_sha256, "file_sha256", file_sha,
        "encrypted", strcmp(r->o->p->encryption.mode, "none") != 0, "entries",
        (json_int_t)br->entries, "data_bytes", (json_int_t)br->bytes_in, "snapshots", r->snapshots,
        "objects", "listed", (json_int_t)ores->listed, "captured", (json_int_t)ores->captured,
        "referenced", (json_int_t)ores->referenced, "db", "tables",
        (json_int_t)(sums ? sums->n : 0), "rows", (json_int_t)rows, "verified_at",
        (json_int_t)time(NULL), "vault");
    return s;
}

static int file_sha256(const char *path, char out[65], dr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dr_err_set(err, DR_E_IO, "opening %s: %s", path, strerror(errno));
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    unsigned char *buf = dr_xmalloc(1 << 20);
    ssize_t n;
    while ((n = read(fd, buf, 1 << 20)) > 0)
        EVP_DigestUpdate(c, buf, (size_t)n);
    int bad = n < 0;
    close(fd);
    free(buf);
    unsigned char md[32];
    EVP_DigestFinal_ex(c, md, NULL);
    EVP_MD_CTX_free(c);
    if (bad)
        return dr_err_set(err, DR_E_IO, "reading %s: %s", path, strerror(errno));
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* The objects index of a bundle, kept beside the state for the next
 * incremental backup (the bundle itself may be encrypted or remote). */
static char *index_path(run *r, uint64_t version)
{
    return dr_xasprintf("%s/index/%s/v%06llu.objects.json", r->o->state_store, r->stack,
                        (unsigned long long)version);
}

static int save_index(run *r, uint64_t version, dr_err *err)
{
    if (!r->index)
        return 0;
    char *dir = dr_xasprintf("%s/index/%s", r->o->state_store, r->stack);
    if (dr_mkdirs(dir, 0700) != 0) {
        dr_err_set(err, DR_E_IO, "creating %s: %s", dir, strerror(errno));
        free(dir);
        return -1;
    }
    free(dir);
    char *p = index_path(r, version);
    char *tmp = dr_xasprintf("%s.tmp", p);
    int rc = json_dump_file(r->index, tmp, JSON_COMPACT) == 0 && rename(tmp, p) == 0 ? 0 : -1;
    if (rc != 0)
        dr_err_set(err, DR_E_IO, "writing %s: %s", p, strerror(errno));
    unlink(tmp);
    free(tmp);
    free(p);
    return rc;
}

static const dr_store_entry *find_version(const dr_store_list *l, uint64_t v)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].version == v)
            return &l->v[i];
    return NULL;
}

/* Full or incremental, and the parent: the newest bundle of the target
 * store whose objects index we still have, unless a full one is due. */
static uint64_t choose_parent(run *r)
{
    const dr_store_list *l = r->tl;
    if (r->o->full || l->n == 0)
        return 0;
    const dr_store_entry *last = &l->v[l->n - 1];
    if (!last->summary) {
        dr_notice(r->o->log, "bundle v%llu has no readable summary: making a full bundle",
                  (unsigned long long)last->version);
        return 0;
    }
    /* Bundles since the last full one, the newest included. */
    int chain = 1;
    for (uint64_t v = last->version; chain < 100000;) {
        const dr_store_entry *e = find_version(l, v);
        uint64_t parent = e && e->summary
                              ? (uint64_t)json_integer_value(json_object_get(e->summary, "parent"))
                              : 0;
        if (!parent)
            break;
        chain++;
        v = parent;
    }
    int every = r->o->p->retention.full_every > 0 ? r->o->p->retention.full_every : 1;
    if (chain >= every) {
        dr_info(r->o->log, "a full bundle is due (retention.full_every %d)", every);
        return 0;
    }
    char *p = index_path(r, last->version);
    json_error_t je;
    r->parent_index = json_load_file(p, 0, &je);
    if (!r->parent_index) {
        dr_notice(r->o->log, "no objects index of v%llu here (%s): making a full bundle",
                  (unsigned long long)last->version, p);
        free(p);
        return 0;
    }
    free(p);
    return last->version;
}

/* Bundles of the local store that the vault lacks (a crash cut an upload
 * short, or the vault was unreachable): uploaded oldest first. */
static int catch_up_vault(run *r, dr_backup_result *res, dr_err *err)
{
    for (size_t i = 0; i < r->local_list.n; i++) {
        const dr_store_entry *e = &r->local_list.v[i];
        if (find_version(&r->vault_list, e->version) || !e->summary)
            continue;
        dr_notice(r->o->log, "uploading v%llu, which the vault %s lacks",
                  (unsigned long long)e->version, dr_store_describe(r->vault));
        if (dr_store_publish(r->vault, r->stack, e->version, e->location, e->summary,
                             r->o->p->retention.daily, err) != 0)
            return dr_err_wrap(err, "copying v%llu to the vault", (unsigned long long)e->version);
        res->uploaded_old++;
    }
    return 0;
}

static int open_stores(run *r, dr_err *err)
{
    const dr_backup_opts *o = r->o;
    if (dr_store_open(o->state_store, NULL, NULL, &r->local, err) != 0)
        return -1;
    const char *vault_bucket = output_of(&r->sst, "VaultBucketName");
    if (o->store_spec && strncmp(o->store_spec, "s3://", 5) == 0) {
        const char *reg = o->store_region ? o->store_region
                          : r->standby    ? r->standby->region
                                          : r->region;
        if (dr_store_open(o->store_spec, o->aws, reg, &r->target, err) != 0)
            return -1;
    } else if (o->store_spec && strcmp(o->store_spec, o->state_store) != 0) {
        if (dr_store_open(o->store_spec, NULL, NULL, &r->target, err) != 0)
            return -1;
    }
    if (!r->target && !o->no_vault) {
        if (vault_bucket && r->standby) {
            char *spec = dr_xasprintf("s3://%s", vault_bucket);
            int rc = dr_store_open(spec, o->aws, r->standby->region, &r->vault, err);
            free(spec);
            if (rc != 0)
                return -1;
        } else {
            dr_warn(o->log,
                    "no vault: the standby %s has no deployed vault bucket; the bundle stays "
                    "in %s only",
                    r->standby ? r->standby->region : "(none)", o->state_store);
        }
    }
    size_t removed = 0;
    /* The vault is cleaned after catch_up_vault: an upload a crash cut
     * short is resumed there (its parts are reused), not aborted here. */
    if (dr_store_cleanup(r->local, r->stack, &removed, err) != 0 ||
        (r->target && dr_store_cleanup(r->target, r->stack, &removed, err) != 0))
        return -1;
    if (removed)
        dr_info(o->log, "removed %zu leftover%s of interrupted runs", removed,
                removed == 1 ? "" : "s");
    if (dr_store_list(r->local, r->stack, &r->local_list, err) != 0 ||
        (r->target && dr_store_list(r->target, r->stack, &r->target_list, err) != 0) ||
        (r->vault && dr_store_list(r->vault, r->stack, &r->vault_list, err) != 0))
        return -1;
    /* Without another target the local store is the target. */
    r->tl = r->target ? &r->target_list : &r->local_list;
    return 0;
}

/* ---- the run ------------------------------------------------------------- */

static void run_free(run *r)
{
    dr_bundle_writer_abort(r->w);
    dr_pg_dump_abort(r->dump);
    if (r->staged) {
        unlink(r->staged);
        free(r->staged);
    }
    dr_store_list_free(&r->local_list);
    dr_store_list_free(&r->target_list);
    dr_store_list_free(&r->vault_list);
    dr_store_free(r->local);
    dr_store_free(r->target);
    dr_store_free(r->vault);
    dr_state_free(&r->st);
    dr_state_free(&r->sst);
    dr_buf_free(&r->recovery_pem);
    json_decref(r->snapshots);
    json_decref(r->parent_index);
    json_decref(r->index);
    free(r->rds_snapshot_id);
    dr_lock_release(&r->lock);
}

static int64_t total_rows(const dr_pg_sums *s)
{
    int64_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->t[i].rows;
    return n;
}

int dr_backup_run(const dr_backup_opts *o, dr_backup_result *res, dr_err *err)
{
    memset(res, 0, sizeof(*res));
    double t0 = mono_s();
    run r = {.o = o, .stack = o->p->stack, .region = o->p->region, .lock = DR_LOCK_INIT};
    dr_buf_init(&r.recovery_pem);
    r.snapshots = json_array();
    r.standby = standby_of(o->set, o->p);
    dr_pg_sums sums = {0};
    dr_objects_result ores = {0};
    dr_bundle_result br = {0};
    dr_bundle_kms kms;
    dr_bundle_kms_aws(o->aws, &kms);
    char *conninfo = NULL, *password = NULL;
    int rc = -1;

    char *lname = dr_xasprintf("%s-backup", r.stack);
    rc = dr_lock_acquire(o->state_store, lname, o->wait, &r.lock, err);
    free(lname);
    if (rc != 0)
        goto out;
    rc = -1;
    if (dr_state_load(o->state_store, r.stack, r.region, &r.st, err) != 0)
        goto out;
    if (json_object_size(r.st.resources) == 0) {
        dr_err_set(err, DR_E_NOT_FOUND, "the stack %s is not deployed in %s (no state in %s)",
                   r.stack, r.region, o->state_store);
        dr_err_hint(err,
                    "deploy it first (drctl deploy %s), or pass the --store that holds "
                    "its state",
                    r.region);
        goto out;
    }
    if (r.standby && dr_state_load(o->state_store, r.stack, r.standby->region, &r.sst, err) != 0)
        goto out;
    if (open_stores(&r, err) != 0)
        goto out;
    if (r.vault) {
        size_t aborted = 0;
        if (catch_up_vault(&r, res, err) != 0 ||
            dr_store_cleanup(r.vault, r.stack, &aborted, err) != 0)
            goto out;
        if (aborted)
            dr_info(o->log, "aborted %zu unfinished upload%s in the vault", aborted,
                    aborted == 1 ? "" : "s");
    }

    /* Key wraps: this region's KMS key, the standby's, the recovery key.
     * A bundle that opens only in the region that failed is no backup. */
    dr_bundle_kms_key keys[2];
    size_t nkeys = 0;
    const char *k1 = output_of(&r.st, "KmsKeyArn");
    const char *k2 = output_of(&r.sst, "KmsKeyArn");
    if (k1)
        keys[nkeys++] = (dr_bundle_kms_key){r.region, k1};
    if (k2 && r.standby)
        keys[nkeys++] = (dr_bundle_kms_key){r.standby->region, k2};
    const char *rk = o->recovery_key ? o->recovery_key : o->p->encryption.recovery_public_key;
    if (rk && slurp(rk, &r.recovery_pem, err) != 0) {
        dr_err_wrap(err, "the recovery public key");
        goto out;
    }
    if (!k2 && !rk && r.standby) {
        dr_err_set(err, DR_E_CONFIG,
                   "no key in the standby region %s can open the bundle: its stack (and KMS "
                   "key) is not deployed and no recovery key is set",
                   r.standby->region);
        dr_err_hint(err,
                    "deploy the standby (drctl deploy %s) or set "
                    "encryption.recovery_public_key",
                    r.standby->region);
        goto out;
    }
    if (nkeys == 0 && !rk) {
        dr_err_set(err, DR_E_CONFIG, "no KMS key in the state of %s and no recovery key", r.region);
        goto out;
    }

    uint64_t version = dr_store_list_max_version(r.tl);
    if (dr_store_list_max_version(&r.local_list) > version)
        version = dr_store_list_max_version(&r.local_list);
    if (r.vault && dr_store_list_max_version(&r.vault_list) > version)
        version = dr_store_list_max_version(&r.vault_list);
    version++;
    uint64_t parent = choose_parent(&r);

    /* The recovery point: the database snapshot. */
    if (db_conn(&r, &conninfo, &password, err) != 0)
        goto out;
    dr_pg_dump_opts dopts = {.conn = {conninfo, password}, .compress = 0, .log = o->log};
    if (dr_pg_dump_start(&dopts, &r.dump, err) != 0) {
        dr_err_wrap(err, "database dump of %s", r.region);
        goto out;
    }
    int64_t captured_at = (int64_t)time(NULL);
    if (start_rds_snapshot(&r, version, captured_at, err) != 0)
        goto out;

    /* Staged where it will be published (a rename), or locally for an S3
     * store (uploaded from there). */
    r.staged = dr_store_staging_path(r.target && !dr_store_is_s3(r.target) ? r.target : r.local,
                                     r.stack, version, err);
    if (!r.staged)
        goto out;
    dr_bundle_wopts w = {
        .stack = r.stack,
        .region = r.region,
        .version = version,
        .parent = parent,
        .captured_at = captured_at,
        .kind = parent ? DR_BUNDLE_INCREMENTAL : DR_BUNDLE_FULL,
        .encryption =
            strcmp(o->p->encryption.mode, "none") == 0 ? DR_BUNDLE_ENC_NONE : DR_BUNDLE_ENC_AES,
        .kms_keys = keys,
        .n_kms_keys = nkeys,
        .kms = &kms,
        .recovery_pubkey_pem = r.recovery_pem.len ? dr_buf_cstr(&r.recovery_pem) : NULL,
        .log = o->log,
    };
    if (dr_bundle_writer_open(r.staged, &w, &r.w, err) != 0)
        goto out;

    size_t nsecrets = 0;
    if (capture_config(&r, err) != 0 || capture_secrets(&r, &nsecrets, err) != 0)
        goto out;
    dr_info(o->log, "config and %zu secrets captured", nsecrets);

    rc = dr_bundle_writer_add_stream(r.w, "db/dump.pgc", dr_pg_dump_read, r.dump, NULL, err);
    dr_pg_dump_info dinfo = {0};
    dr_pg_dump *d = r.dump;
    r.dump = NULL;
    if (rc != 0) {
        dr_pg_dump_abort(d);
        dr_err_wrap(err, "database dump of %s", r.region);
        rc = -1;
        goto out;
    }
    rc = -1;
    if (dr_pg_dump_finish(d, &sums, &dinfo, err) != 0) {
        dr_err_wrap(err, "database dump of %s", r.region);
        goto out;
    }
    {
        json_t *tj = dr_pg_sums_to_json(&sums);
        int arc = add_json(&r, "db/tables.json", tj, err);
        json_t *meta =
            json_pack("{s:O, s:s, s:s, s:s, s:I, s:I}", "tables", tj, "server_version",
                      dinfo.server_version, "database", dinfo.database, "snapshot", dinfo.snapshot,
                      "dump_bytes", (json_int_t)dinfo.bytes, "rows", (json_int_t)total_rows(&sums));
        if (arc == 0)
            arc = dr_bundle_writer_set_meta(r.w, "db", meta, err);
        json_decref(meta);
        json_decref(tj);
        if (arc != 0)
            goto out;
        dr_info(o->log, "database: %zu tables, %lld rows, %llu dump bytes in %.1f s", sums.n,
                (long long)total_rows(&sums), (unsigned long long)dinfo.bytes, dinfo.seconds);
    }

    const char *bucket = output_of(&r.st, "BucketName");
    if (bucket) {
        dr_objects_opts oo = {.aws = o->aws,
                              .aws_opts = o->aws_opts,
                              .region = r.region,
                              .bucket = bucket,
                              .concurrency = o->concurrency,
                              .parent_index = parent ? r.parent_index : NULL,
                              .version = version,
                              .log = o->log};
        if (dr_objects_capture(r.w, &oo, &r.index, &ores, err) != 0) {
            dr_err_wrap(err, "objects of bucket %s", bucket);
            goto out;
        }
    } else {
        dr_notice(o->log, "the stack in %s has no bucket: no objects captured", r.region);
    }

    if (finish_rds_snapshot(&r, version, err) != 0)
        goto out;

    json_t *bmeta =
        json_pack("{s:s, s:s?, s:I}", "drctl", "backup", "standby_region",
                  r.standby ? r.standby->region : NULL, "objects", (json_int_t)ores.listed);
    rc = dr_bundle_writer_set_meta(r.w, "backup", bmeta, err);
    json_decref(bmeta);
    if (rc != 0)
        goto out;
    rc = -1;
    dr_bundle_writer *wc = r.w;
    r.w = NULL;
    if (dr_bundle_writer_close(wc, &br, err) != 0)
        goto out;

    /* Reopen before publishing: the manifest must verify (signature, footer,
     * tail) with a key the standby can use. */
    {
        const char *regions[2] = {r.standby ? r.standby->region : r.region, r.region};
        dr_bundle_keyring kr = {.kms = &kms,
                                .kms_regions = regions,
                                .n_kms_regions = k2 ? 2 : 0,
                                .recovery_privkey_pem = NULL};
        dr_bundle_reader *rd = NULL;
        if (dr_bundle_reader_open(r.staged, &kr, &rd, err) != 0) {
            dr_err_wrap(err, "checking the new bundle before publishing it");
            goto out;
        }
        dr_bundle_reader_close(rd);
    }
    char fsha[65];
    if (file_sha256(r.staged, fsha, err) != 0)
        goto out;
    int64_t rows = total_rows(&sums);
    json_t *summary = summary_of(&r, &br, version, parent, captured_at, fsha, &sums, &ores, rows);
    dr_store *t = r.target ? r.target : r.local;
    if (save_index(&r, version, err) != 0 ||
        dr_store_publish(t, r.stack, version, r.staged, summary, o->p->retention.daily, err) != 0) {
        json_decref(summary);
        goto out;
    }
    if (!dr_store_is_s3(t)) {
        /* Published by rename: the staged path is gone. */
        free(r.staged);
        r.staged = NULL;
        dr_store_list after = {0};
        if (dr_store_list(t, r.stack, &after, err) == 0) {
            const dr_store_entry *e = find_version(&after, version);
            if (e)
                snprintf(res->location, sizeof(res->location), "%s", e->location);
        }
        dr_store_list_free(&after);
        if (r.vault) {
            json_object_set_new(summary, "vault",
                                json_pack("{s:s}", "store", dr_store_describe(r.vault)));
            if (dr_store_publish(r.vault, r.stack, version, res->location, summary,
                                 o->p->retention.daily, err) != 0) {
                json_decref(summary);
                dr_err_wrap(err,
                            "v%llu is in %s but copying it to the vault failed (the next "
                            "backup retries the upload)",
                            (unsigned long long)version, dr_store_describe(t));
                goto out;
            }
            snprintf(res->vault, sizeof(res->vault), "%s", dr_store_describe(r.vault));
        }
    } else {
        snprintf(res->location, sizeof(res->location), "%s", dr_store_describe(t));
    }
    json_decref(summary);

    res->version = version;
    res->parent = parent;
    res->incremental = parent != 0;
    res->size = br.bytes_out;
    res->data_bytes = br.bytes_in;
    res->captured_at = captured_at;
    res->tables = sums.n;
    res->rows = rows;
    res->objects_listed = ores.listed;
    res->objects_captured = ores.captured;
    res->objects_referenced = ores.referenced;
    res->snapshots = json_array_size(r.snapshots);
    rc = 0;
out:
    if (conninfo)
        dr_free_secret(conninfo);
    if (password)
        dr_free_secret(password);
    dr_pg_sums_free(&sums);
    run_free(&r);
    res->seconds = mono_s() - t0;
    return rc;
}
