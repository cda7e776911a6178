/*
 * store.c - the bundle store: a local directory or an S3 vault (store.h).
 *
 * Atomicity is the whole point of this file. Locally, a bundle becomes
 * visible by one rename(2) into bundles/<stack>/, after its sidecar is
 * already durable, and the directory is fsynced after; a crash leaves
 * either nothing listed or the complete pair (plus, at worst, a sidecar
 * without a bundle, which list ignores and cleanup removes). In the vault,
 * a multipart object does not exist until CompleteMultipartUpload, so a
 * listed .drb is whole; its summary follows it and may be missing after a
 * crash, which list shows as "?".
 *
 * Resuming a vault upload: dr_s3_put_file aborts a multipart upload that
 * fails, but a killed process leaves its upload behind. publish looks for an
 * upload of the same key first and continues it part for part (the part
 * size is fixed, DR_STORE_PART_SIZE, so part N is always the same bytes).
 * A listed part is reused only when its size and checksum match the local
 * file: ChecksumSHA256 when S3 lists it, else the ETag, which is the part's
 * MD5 for uploads that are not SSE-KMS encrypted; anything else is sent
 * again (UploadPart of a part number replaces it).
 */
#include "backup/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws/s3.h"
#include "aws/xml.h"
#include "util/buf.h"
#include "util/kv.h"
#include "util/lock.h"
#include "util/mem.h"

#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"
#define CACHE_SIZE (1024u * 1024u)

struct dr_store {
    int s3;
    char *dir;    /* local */
    char *bucket; /* s3 */
    char *prefix; /* s3: "" or "p/q" without a trailing slash */
    char *region;
    dr_aws *aws;
    char *describe;
    dr_store_publish_stats stats;
};

/* ---- names ------------------------------------------------------------- */

static int plain_name(const char *s)
{
    if (!s || !*s || strcmp(s, ".") == 0 || strstr(s, ".."))
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

static int check_stack(const char *stack, dr_err *err)
{
    if (!plain_name(stack))
        return dr_err_set(err, DR_E_INTERNAL, "bundle store: bad stack name '%s'",
                          stack ? stack : "(null)");
    return 0;
}

char *dr_store_bundle_name(const char *stack, uint64_t version)
{
    return dr_xasprintf("%s-v%06llu.drb", stack, (unsigned long long)version);
}

static char *summary_name(const char *stack, uint64_t version)
{
    return dr_xasprintf("%s-v%06llu.json", stack, (unsigned long long)version);
}

/* "<stack>-v000007<ext>" -> 7; 0 for anything else. Only the canonical
 * spelling counts ("-v7.drb" or "-v0000007.drb" are not ours), so a name
 * maps to one version and back. */
static uint64_t parse_name(const char *stack, const char *name, const char *ext)
{
    size_t sl = strlen(stack), nl = strlen(name), el = strlen(ext);
    if (nl < sl + 2 + 6 + el || strncmp(name, stack, sl) != 0 || name[sl] != '-' ||
        name[sl + 1] != 'v' || strcmp(name + nl - el, ext) != 0)
        return 0;
    const char *d = name + sl + 2;
    size_t dl = nl - el - sl - 2;
    if (dl > 19)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < dl; i++) {
        if (d[i] < '0' || d[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(d[i] - '0');
    }
    char canon[32];
    snprintf(canon, sizeof(canon), "%06llu", (unsigned long long)v);
    if (strlen(canon) != dl || strncmp(canon, d, dl) != 0)
        return 0;
    return v;
}

/* The prefix to send with a listing (ListObjectsV2, ListMultipartUploads):
 * moto (5.2.1) refuses correctly signed listings whose prefix holds a '/'
 * (SignatureDoesNotMatch; the AWS CLI fails the same way), so the prefix
 * sent stops before its first '/' and the callers filter the keys
 * themselves: the same answer, from a somewhat longer listing of a bucket
 * that holds only bundles. Caller frees. */
static char *sent_prefix(const char *prefix)
{
    const char *slash = strchr(prefix, '/');
    return dr_xstrndup(prefix, slash ? (size_t)(slash - prefix) : strlen(prefix));
}

/* PREFIX/bundles/<stack>/ (caller frees). */
static char *s3_dir_key(const dr_store *s, const char *stack)
{
    return *s->prefix ? dr_xasprintf("%s/bundles/%s/", s->prefix, stack)
                      : dr_xasprintf("bundles/%s/", stack);
}

static char *local_dir(const dr_store *s, const char *stack)
{
    return dr_xasprintf("%s/bundles/%s", s->dir, stack);
}

/* ---- open -------------------------------------------------------------- */

int dr_store_open(const char *spec, dr_aws *aws, const char *region, dr_store **out, dr_err *err)
{
    *out = NULL;
    if (!spec || !*spec)
        return dr_err_set(err, DR_E_USAGE, "bundle store: empty store path");
    dr_store *s = dr_xcalloc(1, sizeof(*s));
    if (strncmp(spec, "s3://", 5) == 0) {
        const char *b = spec + 5;
        const char *slash = strchr(b, '/');
        size_t bl = slash ? (size_t)(slash - b) : strlen(b);
        if (bl < 3 || bl > 63) {
            free(s);
            return dr_err_set(err, DR_E_USAGE,
                              "bundle store '%s': expected s3://BUCKET[/PREFIX] with a bucket "
                              "name of 3-63 characters",
                              spec);
        }
        for (size_t i = 0; i < bl; i++) {
            char c = b[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
                free(s);
                return dr_err_set(err, DR_E_USAGE,
                                  "bundle store '%s': '%.*s' is not a valid bucket name", spec,
                                  (int)bl, b);
            }
        }
        if (!aws || !region || !*region) {
            free(s);
            return dr_err_set(err, DR_E_INTERNAL,
                              "bundle store '%s': an S3 vault needs an AWS client and a region",
                              spec);
        }
        s->s3 = 1;
        s->bucket = dr_xstrndup(b, bl);
        const char *p = slash ? slash + 1 : "";
        size_t pl = strlen(p);
        while (pl > 0 && p[pl - 1] == '/')
            pl--;
        s->prefix = dr_xstrndup(p, pl);
        s->region = dr_xstrdup(region);
        s->aws = aws;
        s->describe = *s->prefix ? dr_xasprintf("s3://%s/%s (%s)", s->bucket, s->prefix, region)
                                 : dr_xasprintf("s3://%s (%s)", s->bucket, region);
    } else {
        s->dir = dr_xstrdup(spec);
        size_t l = strlen(s->dir);
        while (l > 1 && s->dir[l - 1] == '/')
            s->dir[--l] = '\0';
        s->describe = dr_xstrdup(s->dir);
    }
    *out = s;
    return 0;
}

void dr_store_free(dr_store *s)
{
    if (!s)
        return;
    free(s->dir);
    free(s->bucket);
    free(s->prefix);
    free(s->region);
    free(s->describe);
    free(s);
}

int dr_store_is_s3(const dr_store *s)
{
    return s->s3;
}

const char *dr_store_describe(const dr_store *s)
{
    return s->describe;
}

void dr_store_get_publish_stats(const dr_store *s, dr_store_publish_stats *out)
{
    *out = s->stats;
}

/* ---- list -------------------------------------------------------------- */

static void list_add(dr_store_list *l, size_t *cap, uint64_t v, const char *name, char *location,
                     uint64_t size, json_t *summary)
{
    if (l->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        l->v = dr_xrealloc(l->v, *cap * sizeof(*l->v));
    }
    dr_store_entry *e = &l->v[l->n++];
    e->version = v;
    e->name = dr_xstrdup(name);
    e->location = location;
    e->size = size;
    e->summary = summary;
}

static int cmp_entry(const void *a, const void *b)
{
    const dr_store_entry *x = a, *y = b;
    return x->version < y->version ? -1 : x->version > y->version;
}

static int list_local(dr_store *s, const char *stack, dr_store_list *out, dr_err *err)
{
    char *dir = local_dir(s, stack);
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        if (e == ENOENT) {
            free(dir);
            return 0;
        }
        dr_err_set(err, DR_E_IO, "bundle store: open %s: %s", dir, strerror(e));
        free(dir);
        return -1;
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t v = parse_name(stack, de->d_name, ".drb");
        if (v == 0)
            continue;
        char *path = dr_xasprintf("%s/%s", dir, de->d_name);
        char *sname = summary_name(stack, v);
        char *spath = dr_xasprintf("%s/%s", dir, sname);
        free(sname);
        struct stat st;
        json_t *summary = NULL;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            summary = json_load_file(spath, 0, NULL);
        free(spath);
        /* Both files, and a sidecar that parses: anything less is a publish
         * that did not finish (or damage), not a bundle. */
        if (!json_is_object(summary)) {
            json_decref(summary);
            free(path);
            continue;
        }
        list_add(out, &cap, v, de->d_name, path, (uint64_t)st.st_size, summary);
    }
    closedir(d);
    free(dir);
    return 0;
}

typedef struct s3_seen {
    const char *stack;
    const char *dir;
    size_t dirlen;
    dr_store_list *out;
    size_t cap;
    char **json_names; /* summaries seen */
    size_t n_json, cap_json;
    const dr_store *s;
} s3_seen;

static int s3_list_cb(void *ud, const dr_s3_object_info *o)
{
    s3_seen *w = ud;
    if (strlen(o->key) <= w->dirlen || strncmp(o->key, w->dir, w->dirlen) != 0)
        return 0;
    const char *name = o->key + w->dirlen;
    if (strchr(name, '/'))
        return 0;
    uint64_t v = parse_name(w->stack, name, ".drb");
    if (v) {
        list_add(w->out, &w->cap, v, name, dr_xasprintf("s3://%s/%s", w->s->bucket, o->key),
                 (uint64_t)(o->size < 0 ? 0 : o->size), NULL);
    } else if (parse_name(w->stack, name, ".json")) {
        if (w->n_json == w->cap_json) {
            w->cap_json = w->cap_json ? w->cap_json * 2 : 16;
            w->json_names = dr_xrealloc(w->json_names, w->cap_json * sizeof(char *));
        }
        w->json_names[w->n_json++] = dr_xstrdup(name);
    }
    return 0;
}

static int buf_sink(void *ud, const char *data, size_t n)
{
    dr_buf *b = ud;
    /* Summaries are a few KB; refuse anything absurd rather than buffer it. */
    if (b->len + n > 16u * 1024 * 1024)
        return -1;
    dr_buf_append(b, data, n);
    return 0;
}

static int list_s3(dr_store *s, const char *stack, dr_store_list *out, dr_err *err)
{
    char *dir = s3_dir_key(s, stack);
    s3_seen w = {.stack = stack, .dir = dir, .dirlen = strlen(dir), .out = out, .s = s};
    char *sent = sent_prefix(dir);
    int rc = dr_s3_list(s->aws, s->region, s->bucket, sent, s3_list_cb, &w, err);
    free(sent);
    if (rc != 0) {
        dr_err_wrap(err, "listing %s", s->describe);
    } else {
        for (size_t i = 0; i < out->n; i++) {
            char *sname = summary_name(stack, out->v[i].version);
            int have = 0;
            for (size_t j = 0; j < w.n_json && !have; j++)
                have = strcmp(w.json_names[j], sname) == 0;
            if (have) {
                char *key = dr_xasprintf("%s%s", dir, sname);
                dr_buf b = DR_BUF_INIT;
                dr_err e;
                dr_err_clear(&e);
                if (dr_s3_get(s->aws, s->region, s->bucket, key, buf_sink, &b, NULL, &e) == 0) {
                    json_t *j = json_loadb(dr_buf_cstr(&b), b.len, 0, NULL);
                    if (json_is_object(j))
                        out->v[i].summary = j;
                    else
                        json_decref(j);
                } else if (e.code != DR_E_NOT_FOUND) {
                    /* A summary we cannot read is shown as "?"; a failing
                     * vault is an error worth stopping for. */
                    *err = e;
                    rc = -1;
                }
                dr_buf_free(&b);
                free(key);
            }
            free(sname);
            if (rc != 0)
                break;
        }
    }
    for (size_t j = 0; j < w.n_json; j++)
        free(w.json_names[j]);
    free(w.json_names);
    free(dir);
    return rc;
}

int dr_store_list_bundles(dr_store *s, const char *stack, dr_store_list *out, dr_err *err)
{
    out->v = NULL;
    out->n = 0;
    if (check_stack(stack, err) != 0)
        return -1;
    int rc = s->s3 ? list_s3(s, stack, out, err) : list_local(s, stack, out, err);
    if (rc != 0) {
        dr_store_list_free(out);
        return -1;
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), cmp_entry);
    return 0;
}

void dr_store_list_free(dr_store_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].location);
        json_decref(l->v[i].summary);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

uint64_t dr_store_list_max_version(const dr_store_list *l)
{
    return l->n ? l->v[l->n - 1].version : 0;
}

const dr_store_entry *dr_store_list_find(const dr_store_list *l, uint64_t version)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].version == version)
            return &l->v[i];
    return NULL;
}

/* ---- local helpers ------------------------------------------------------ */

static int fsync_dir(const char *dir, dr_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return dr_err_set(err, DR_E_IO, "open %s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return dr_err_set(err, DR_E_IO, "fsync %s: %s", dir, strerror(e));
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* path written atomically: a temporary in the same directory, fsync, rename. */
static int write_file_atomic(const char *dir, const char *name, const char *data, size_t n,
                             dr_err *err)
{
    char *tmp = dr_xasprintf("%s/.%s.tmp-%ld", dir, name, (long)getpid());
    char *path = dr_xasprintf("%s/%s", dir, name);
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        dr_err_set(err, DR_E_IO, "create %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (write_all(fd, data, n) != 0 || fsync(fd) != 0) {
        dr_err_set(err, DR_E_IO, "write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        dr_err_set(err, DR_E_IO, "rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    free(path);
    return rc;
}

char *dr_store_staging_path(dr_store *s, const char *stack, uint64_t version, dr_err *err)
{
    if (check_stack(stack, err) != 0)
        return NULL;
    if (s->s3) {
        dr_err_set(err, DR_E_USAGE, "%s: an S3 vault has no staging directory", s->describe);
        return NULL;
    }
    char *dir = dr_xasprintf("%s/tmp/%s", s->dir, stack);
    if (dr_mkdirs(dir, 0700) != 0) {
        dr_err_set(err, DR_E_IO, "create %s: %s", dir, strerror(errno));
        free(dir);
        return NULL;
    }
    char *name = dr_store_bundle_name(stack, version);
    char *p = dr_xasprintf("%s/%s", dir, name);
    free(name);
    free(dir);
    return p;
}

static int publish_local(dr_store *s, const char *stack, uint64_t version, const char *staged,
                         const json_t *summary, dr_err *err)
{
    char *dir = local_dir(s, stack);
    char *name = dr_store_bundle_name(stack, version);
    char *sname = summary_name(stack, version);
    char *dest = dr_xasprintf("%s/%s", dir, name);
    char *sdest = dr_xasprintf("%s/%s", dir, sname);
    char *text = NULL;
    int rc = -1;
    struct stat st;
    if (stat(staged, &st) != 0 || !S_ISREG(st.st_mode)) {
        dr_err_set(err, DR_E_IO, "publish: staged bundle %s: %s", staged,
                   errno ? strerror(errno) : "not a regular file");
        goto out;
    }
    if (dr_mkdirs(dir, 0700) != 0) {
        dr_err_set(err, DR_E_IO, "create %s: %s", dir, strerror(errno));
        goto out;
    }
    if (access(dest, F_OK) == 0) {
        dr_err_set(err, DR_E_INTERNAL, "publish: %s exists already (versions are never reused)",
                   dest);
        goto out;
    }
    text = json_dumps(summary, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text) {
        dr_err_set(err, DR_E_INTERNAL, "publish: the summary of v%llu does not serialise",
                   (unsigned long long)version);
        goto out;
    }
    size_t tl = strlen(text);
    /* The sidecar first: once the bundle is renamed in, it is listed, and a
     * listed bundle must have its summary. */
    if (write_file_atomic(dir, sname, text, tl, err) != 0)
        goto out;
    if (rename(staged, dest) != 0) {
        int e = errno;
        unlink(sdest);
        dr_err_set(err, DR_E_IO, "publish: rename %s to %s: %s", staged, dest, strerror(e));
        if (e == EXDEV)
            dr_err_hint(err, "stage the bundle with dr_store_staging_path (same file system)");
        goto out;
    }
    if (fsync_dir(dir, err) != 0)
        goto out;
    rc = 0;
out:
    free(text);
    free(dir);
    free(name);
    free(sname);
    free(dest);
    free(sdest);
    return rc;
}

/* ---- S3 helpers -------------------------------------------------------- */

static void b64_of(const unsigned char *d, size_t n, char *out, size_t cap)
{
    unsigned char tmp[128];
    if (cap < 4 * ((n + 2) / 3) + 1 || n > 64) {
        out[0] = '\0';
        return;
    }
    int l = EVP_EncodeBlock(tmp, d, (int)n);
    memcpy(out, tmp, (size_t)l);
    out[l] = '\0';
}

static void hex_of(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static void digest(const EVP_MD *md, const void *p, size_t n, unsigned char *out)
{
    unsigned int l = 0;
    EVP_Digest(p, n, out, &l, md, NULL);
}

static void strip_quotes(const char *in, char *out, size_t cap)
{
    if (!in) {
        out[0] = '\0';
        return;
    }
    size_t l = strlen(in);
    if (l >= 2 && in[0] == '"' && in[l - 1] == '"') {
        in++;
        l -= 2;
    }
    snprintf(out, cap, "%.*s", (int)l, in);
}

static int s3_call(dr_store *s, const char *op, const char *method, const char *key,
                   const dr_kvlist *q, const dr_kvlist *h, const void *body, size_t body_len,
                   dr_aws_rest_resp *resp, dr_err *err)
{
    dr_aws_rest_req req = {
        .service = "s3",
        .region = s->region,
        .operation = op,
        .method = method,
        .bucket = s->bucket,
        .path = key,
        .query = q,
        .headers = h,
        .body = body,
        .body_len = body_len,
    };
    return dr_aws_rest(s->aws, &req, resp, err);
}

static xmlDocPtr s3_call_xml(dr_store *s, const char *op, const char *method, const char *key,
                             const dr_kvlist *q, dr_err *err)
{
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    xmlDocPtr d = NULL;
    if (s3_call(s, op, method, key, q, NULL, NULL, 0, &resp, err) == 0) {
        d = dr_xml_parse(resp.body.data, resp.body.len);
        if (!d)
            dr_err_set(err, DR_E_AWS, "s3 %s: s3://%s: the response is not XML", op, s->bucket);
    }
    dr_aws_rest_resp_free(&resp);
    return d;
}

static int abort_upload(dr_store *s, const char *key, const char *upload_id, dr_err *err)
{
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "uploadId", upload_id);
    dr_err e;
    dr_err_clear(&e);
    int rc = s3_call(s, "AbortMultipartUpload", "DELETE", key, &q, NULL, NULL, 0, NULL, &e);
    dr_kv_free(&q);
    /* Gone already (another cleanup, or it completed): what we wanted. */
    if (rc != 0 && (e.aws.http_status == 404 || strcmp(e.aws.code, "NoSuchUpload") == 0))
        rc = 0;
    if (rc != 0) {
        *err = e;
        dr_err_wrap(err, "aborting multipart upload of s3://%s/%s", s->bucket, key);
    }
    return rc;
}

typedef struct mpu_ref {
    char *key;
    char *upload_id;
    char *algorithm; /* ChecksumAlgorithm, may be NULL */
} mpu_ref;

static void mpu_refs_free(mpu_ref *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].upload_id);
        free(v[i].algorithm);
    }
    free(v);
}

/* Every multipart upload whose key starts with prefix (following markers). */
static int list_uploads(dr_store *s, const char *prefix, mpu_ref **out, size_t *n_out, dr_err *err)
{
    mpu_ref *v = NULL;
    size_t n = 0, cap = 0;
    char *key_marker = NULL, *id_marker = NULL;
    int rc = 0;
    char *sent = sent_prefix(prefix);
    for (int page = 0; page < 10000; page++) {
        dr_kvlist q = DR_KVLIST_INIT;
        dr_kv_add(&q, "uploads", "");
        if (*sent)
            dr_kv_add(&q, "prefix", sent);
        if (key_marker)
            dr_kv_add(&q, "key-marker", key_marker);
        if (id_marker)
            dr_kv_add(&q, "upload-id-marker", id_marker);
        xmlDocPtr d = s3_call_xml(s, "ListMultipartUploads", "GET", NULL, &q, err);
        dr_kv_free(&q);
        free(key_marker);
        free(id_marker);
        key_marker = id_marker = NULL;
        if (!d) {
            rc = -1;
            break;
        }
        xmlNodePtr root = xmlDocGetRootElement(d);
        for (xmlNodePtr u = dr_xml_find(root, "Upload"); u; u = dr_xml_next_same(u)) {
            char *k = dr_xml_text(u, "Key");
            char *id = dr_xml_text(u, "UploadId");
            if (!k || !id || strncmp(k, prefix, strlen(prefix)) != 0) {
                free(k);
                free(id);
                continue;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                v = dr_xrealloc(v, cap * sizeof(*v));
            }
            v[n].key = k;
            v[n].upload_id = id;
            v[n].algorithm = dr_xml_text(u, "ChecksumAlgorithm");
            n++;
        }
        char *trunc = dr_xml_text(root, "IsTruncated");
        int more = trunc && strcmp(trunc, "true") == 0;
        free(trunc);
        if (more) {
            key_marker = dr_xml_text(root, "NextKeyMarker");
            id_marker = dr_xml_text(root, "NextUploadIdMarker");
        }
        xmlFreeDoc(d);
        if (!more)
            break;
        if (!key_marker || !*key_marker) {
            rc = dr_err_set(err, DR_E_AWS,
                            "s3 ListMultipartUploads: s3://%s: truncated without a marker",
                            s->bucket);
            break;
        }
    }
    free(key_marker);
    free(id_marker);
    free(sent);
    if (rc != 0) {
        mpu_refs_free(v, n);
        return -1;
    }
    *out = v;
    *n_out = n;
    return 0;
}

typedef struct listed_part {
    int64_t size;
    char etag[80];
    char checksum[64];
    int present;
} listed_part;

/* ListParts into parts[1..nparts] (numbers beyond nparts are ignored). */
static int list_parts(dr_store *s, const char *key, const char *upload_id, listed_part *parts,
                      int nparts, dr_err *err)
{
    char *marker = NULL;
    int rc = 0;
    for (int page = 0; page < 10000; page++) {
        dr_kvlist q = DR_KVLIST_INIT;
        dr_kv_add(&q, "uploadId", upload_id);
        if (marker)
            dr_kv_add(&q, "part-number-marker", marker);
        xmlDocPtr d = s3_call_xml(s, "ListParts", "GET", key, &q, err);
        dr_kv_free(&q);
        free(marker);
        marker = NULL;
        if (!d)
            return -1;
        xmlNodePtr root = xmlDocGetRootElement(d);
        for (xmlNodePtr p = dr_xml_find(root, "Part"); p; p = dr_xml_next_same(p)) {
            char *num = dr_xml_text(p, "PartNumber");
            char *size = dr_xml_text(p, "Size");
            char *etag = dr_xml_text(p, "ETag");
            char *sum = dr_xml_text(p, "ChecksumSHA256");
            int pn = num ? atoi(num) : 0;
            if (pn >= 1 && pn <= nparts) {
                listed_part *lp = &parts[pn];
                lp->present = 1;
                lp->size = size ? strtoll(size, NULL, 10) : -1;
                strip_quotes(etag, lp->etag, sizeof(lp->etag));
                snprintf(lp->checksum, sizeof(lp->checksum), "%s", sum ? sum : "");
            }
            free(num);
            free(size);
            free(etag);
            free(sum);
        }
        char *trunc = dr_xml_text(root, "IsTruncated");
        int more = trunc && strcmp(trunc, "true") == 0;
        free(trunc);
        if (more)
            marker = dr_xml_text(root, "NextPartNumberMarker");
        xmlFreeDoc(d);
        if (!more)
            break;
        if (!marker || !*marker) {
            free(marker);
            return dr_err_set(err, DR_E_AWS, "s3 ListParts: s3://%s/%s: truncated without a marker",
                              s->bucket, key);
        }
    }
    free(marker);
    return rc;
}

static int pread_full(int fd, char *buf, size_t n, int64_t off)
{
    while (n > 0) {
        ssize_t r = pread(fd, buf, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0) {
            errno = 0;
            return -1;
        }
        buf += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

/* Continues an interrupted multipart upload of `key` (see the top). */
static int resume_upload(dr_store *s, const char *key, const char *upload_id, int fd, int64_t size,
                         dr_err *err)
{
    int64_t ps = DR_STORE_PART_SIZE;
    int nparts = size == 0 ? 1 : (int)((size + ps - 1) / ps);
    listed_part *lp = dr_xcalloc((size_t)nparts + 1, sizeof(*lp));
    char(*etags)[96] = dr_xcalloc((size_t)nparts + 1, sizeof(*etags));
    char(*sums)[64] = dr_xcalloc((size_t)nparts + 1, sizeof(*sums));
    char *buf = dr_xmalloc((size_t)ps);
    dr_buf body = DR_BUF_INIT;
    int rc = list_parts(s, key, upload_id, lp, nparts, err);
    for (int pn = 1; rc == 0 && pn <= nparts; pn++) {
        int64_t off = (int64_t)(pn - 1) * ps;
        size_t n = (size_t)(size - off < ps ? size - off : ps);
        if (pread_full(fd, buf, n, off) != 0) {
            rc = dr_err_set(err, DR_E_IO, "reading part %d of the staged bundle: %s", pn,
                            errno ? strerror(errno) : "file shorter than expected");
            break;
        }
        unsigned char sha[32], md5[16];
        digest(EVP_sha256(), buf, n, sha);
        digest(EVP_md5(), buf, n, md5);
        char b64[64], shahex[65], md5hex[33];
        b64_of(sha, 32, b64, sizeof(b64));
        hex_of(sha, 32, shahex);
        hex_of(md5, 16, md5hex);
        snprintf(sums[pn], sizeof(sums[pn]), "%s", b64);
        if (lp[pn].present && lp[pn].size == (int64_t)n &&
            (lp[pn].checksum[0] ? strcmp(lp[pn].checksum, b64) == 0
                                : strcasecmp(lp[pn].etag, md5hex) == 0)) {
            snprintf(etags[pn], sizeof(etags[pn]), "\"%s\"", lp[pn].etag);
            s->stats.parts_reused++;
            continue;
        }
        dr_kvlist q = DR_KVLIST_INIT;
        dr_kv_addf(&q, "partNumber", "%d", pn);
        dr_kv_add(&q, "uploadId", upload_id);
        dr_kvlist h = DR_KVLIST_INIT;
        dr_kv_add(&h, "Content-Type", "application/octet-stream");
        dr_kv_add(&h, "x-amz-checksum-sha256", b64);
        dr_kv_add(&h, "x-amz-sdk-checksum-algorithm", "SHA256");
        dr_aws_rest_req req = {
            .service = "s3",
            .region = s->region,
            .operation = "UploadPart",
            .method = "PUT",
            .bucket = s->bucket,
            .path = key,
            .query = &q,
            .headers = &h,
            .body = buf,
            .body_len = n,
            .body_sha256 = shahex,
        };
        dr_aws_rest_resp resp;
        dr_aws_rest_resp_init(&resp);
        rc = dr_aws_rest(s->aws, &req, &resp, err);
        if (rc == 0) {
            const char *et = dr_kv_get(&resp.headers, "etag");
            if (!et || !*et)
                rc = dr_err_set(err, DR_E_AWS, "s3 UploadPart: part %d of s3://%s/%s: no ETag", pn,
                                s->bucket, key);
            else
                snprintf(etags[pn], sizeof(etags[pn]), "%s", et);
        }
        dr_aws_rest_resp_free(&resp);
        dr_kv_free(&q);
        dr_kv_free(&h);
        if (rc != 0)
            dr_err_wrap(err, "resuming the upload of s3://%s/%s, part %d of %d", s->bucket, key, pn,
                        nparts);
        else
            s->stats.parts_uploaded++;
    }
    if (rc == 0) {
        dr_buf_puts(&body, "<CompleteMultipartUpload xmlns=\"" S3_XMLNS "\">");
        for (int pn = 1; pn <= nparts; pn++)
            dr_buf_printf(&body,
                          "<Part><ETag>%s</ETag><ChecksumSHA256>%s</ChecksumSHA256>"
                          "<PartNumber>%d</PartNumber></Part>",
                          etags[pn], sums[pn], pn);
        dr_buf_puts(&body, "</CompleteMultipartUpload>");
        dr_kvlist q = DR_KVLIST_INIT;
        dr_kv_add(&q, "uploadId", upload_id);
        dr_kvlist h = DR_KVLIST_INIT;
        dr_kv_add(&h, "Content-Type", "application/xml");
        dr_aws_rest_resp resp;
        dr_aws_rest_resp_init(&resp);
        rc = s3_call(s, "CompleteMultipartUpload", "POST", key, &q, &h, body.data, body.len, &resp,
                     err);
        /* CompleteMultipartUpload can answer 200 with an <Error> body. */
        if (rc == 0 && resp.body.data && strstr(resp.body.data, "<Error>"))
            rc = dr_err_set(err, DR_E_AWS, "s3 CompleteMultipartUpload: s3://%s/%s: %.300s",
                            s->bucket, key, resp.body.data);
        dr_aws_rest_resp_free(&resp);
        dr_kv_free(&q);
        dr_kv_free(&h);
    }
    dr_buf_free(&body);
    free(buf);
    free(lp);
    free(etags);
    free(sums);
    return rc;
}

static void iso8601(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* 1 when the bucket has Object Lock enabled, 0 when not, -1 on error. */
static int object_lock_enabled(dr_store *s, dr_err *err)
{
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "object-lock", "");
    dr_err e;
    dr_err_clear(&e);
    xmlDocPtr d = s3_call_xml(s, "GetObjectLockConfiguration", "GET", NULL, &q, &e);
    dr_kv_free(&q);
    if (!d) {
        if (strcmp(e.aws.code, "ObjectLockConfigurationNotFoundError") == 0 ||
            e.aws.http_status == 404)
            return 0;
        *err = e;
        return -1;
    }
    char *en = dr_xml_text(xmlDocGetRootElement(d), "ObjectLockEnabled");
    int on = en && strcmp(en, "Enabled") == 0;
    free(en);
    xmlFreeDoc(d);
    return on;
}

static int put_retention(dr_store *s, const char *key, int64_t until, dr_err *err)
{
    char date[40];
    iso8601(until, date, sizeof(date));
    char *body = dr_xasprintf("<Retention xmlns=\"" S3_XMLNS "\"><Mode>GOVERNANCE</Mode>"
                              "<RetainUntilDate>%s</RetainUntilDate></Retention>",
                              date);
    /* S3 wants an integrity header on PutObjectRetention (Content-MD5, or a
     * flexible checksum); MD5 is what every S3 implementation accepts. */
    unsigned char md5[16];
    char md5b64[32];
    digest(EVP_md5(), body, strlen(body), md5);
    b64_of(md5, 16, md5b64, sizeof(md5b64));
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "retention", "");
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_add(&h, "Content-Type", "application/xml");
    dr_kv_add(&h, "Content-MD5", md5b64);
    int rc = s3_call(s, "PutObjectRetention", "PUT", key, &q, &h, body, strlen(body), NULL, err);
    dr_kv_free(&q);
    dr_kv_free(&h);
    free(body);
    return rc;
}

static int publish_s3(dr_store *s, const char *stack, uint64_t version, const char *staged,
                      const json_t *summary, int lock_days, dr_err *err)
{
    char *dir = s3_dir_key(s, stack);
    char *name = dr_store_bundle_name(stack, version);
    char *sname = summary_name(stack, version);
    char *key = dr_xasprintf("%s%s", dir, name);
    char *skey = dr_xasprintf("%s%s", dir, sname);
    json_t *sum = json_deep_copy(summary);
    char *text = NULL;
    mpu_ref *ups = NULL;
    size_t nups = 0;
    int rc = -1;
    int fd = open(staged, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        dr_err_set(err, DR_E_IO, "publish: open %s: %s", staged, strerror(errno));
        goto out;
    }

    /* An upload of this key left by an interrupted run: continue the newest
     * one that used SHA-256 part checksums, abort the rest. */
    if (list_uploads(s, key, &ups, &nups, err) != 0)
        goto out;
    ssize_t resume = -1;
    for (size_t i = 0; i < nups; i++)
        if (strcmp(ups[i].key, key) == 0 && ups[i].algorithm &&
            strcasecmp(ups[i].algorithm, "SHA256") == 0)
            resume = (ssize_t)i;
    for (size_t i = 0; i < nups; i++) {
        if ((ssize_t)i == resume || strcmp(ups[i].key, key) != 0)
            continue;
        if (abort_upload(s, ups[i].key, ups[i].upload_id, err) != 0)
            goto out;
        s->stats.uploads_aborted++;
    }
    if (resume >= 0) {
        s->stats.resumed = 1;
        if (resume_upload(s, key, ups[resume].upload_id, fd, (int64_t)st.st_size, err) != 0)
            goto out;
    } else {
        dr_s3_put_opts po = {.content_type = "application/octet-stream",
                             .part_size = DR_STORE_PART_SIZE};
        if (dr_s3_put_file(s->aws, s->region, s->bucket, key, fd, (int64_t)st.st_size, &po, err) !=
            0)
            goto out;
    }

    if (lock_days > 0) {
        int on = object_lock_enabled(s, err);
        if (on < 0)
            goto out;
        if (on) {
            json_int_t cap = json_integer_value(json_object_get(summary, "captured_at"));
            int64_t until = (int64_t)cap + (int64_t)lock_days * 86400;
            if (put_retention(s, key, until, err) != 0) {
                dr_err_wrap(err, "locking s3://%s/%s", s->bucket, key);
                goto out;
            }
            s->stats.locked = 1;
        }
    }

    if (!json_is_object(sum)) {
        dr_err_set(err, DR_E_INTERNAL, "publish: the summary of v%llu is not an object",
                   (unsigned long long)version);
        goto out;
    }
    json_object_set_new(
        sum, "vault",
        json_pack("{s:s, s:s, s:s}", "bucket", s->bucket, "region", s->region, "key", key));
    text = json_dumps(sum, JSON_INDENT(2) | JSON_SORT_KEYS);
    dr_s3_put_opts jo = {.content_type = "application/json"};
    if (!text ||
        dr_s3_put_buffer(s->aws, s->region, s->bucket, skey, text, strlen(text), &jo, err) != 0)
        goto out;

    dr_s3_object_info info;
    if (dr_s3_head(s->aws, s->region, s->bucket, key, &info, err) != 0)
        goto out;
    int64_t got = info.size;
    dr_s3_object_info_free(&info);
    if (got != (int64_t)st.st_size) {
        dr_err_set(err, DR_E_VERIFY, "publish: s3://%s/%s has %lld bytes, the bundle %lld",
                   s->bucket, key, (long long)got, (long long)st.st_size);
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    mpu_refs_free(ups, nups);
    free(text);
    json_decref(sum);
    free(dir);
    free(name);
    free(sname);
    free(key);
    free(skey);
    return rc;
}

int dr_store_publish(dr_store *s, const char *stack, uint64_t version, const char *staged_path,
                     const json_t *summary, int lock_days, dr_err *err)
{
    memset(&s->stats, 0, sizeof(s->stats));
    if (check_stack(stack, err) != 0)
        return -1;
    if (version == 0)
        return dr_err_set(err, DR_E_INTERNAL, "publish: bundle version 0");
    int rc = s->s3 ? publish_s3(s, stack, version, staged_path, summary, lock_days, err)
                   : publish_local(s, stack, version, staged_path, summary, err);
    if (rc != 0)
        dr_err_wrap(err, "publishing v%llu to %s", (unsigned long long)version, s->describe);
    return rc;
}

/* ---- cleanup ------------------------------------------------------------ */

/* Removes everything under dir (not dir itself), counting the files. A
 * plain recursion rather than nftw(3), whose callback has no user pointer:
 * the count would need a global. Symlinks are removed, never followed. */
static int rm_tree_under(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *p = dr_xasprintf("%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) != 0) {
            rc = errno == ENOENT ? 0 : -1;
        } else if (S_ISDIR(st.st_mode)) {
            rc = rm_tree_under(p, count);
            if (rc == 0 && rmdir(p) != 0)
                rc = -1;
        } else if (unlink(p) != 0) {
            rc = errno == ENOENT ? 0 : -1;
        } else if (count) {
            (*count)++;
        }
        free(p);
    }
    int e = errno;
    closedir(d);
    errno = e;
    return rc;
}

static int cleanup_local(dr_store *s, const char *stack, size_t *removed, dr_err *err)
{
    char *tmp = dr_xasprintf("%s/tmp/%s", s->dir, stack);
    struct stat st;
    int rc = 0;
    if (lstat(tmp, &st) == 0) {
        if (rm_tree_under(tmp, removed) != 0)
            rc = dr_err_set(err, DR_E_IO, "cleaning %s: %s", tmp, strerror(errno));
    }
    free(tmp);
    if (rc != 0)
        return -1;

    char *dir = local_dir(s, stack);
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        rc = e == ENOENT ? 0 : dr_err_set(err, DR_E_IO, "open %s: %s", dir, strerror(e));
        free(dir);
        return rc;
    }
    struct dirent *de;
    int changed = 0;
    while ((de = readdir(d)) != NULL) {
        uint64_t v = parse_name(stack, de->d_name, ".json");
        /* Our own interrupted sidecar writes: ".<stack>-v000007.json.tmp-PID". */
        int stale_tmp = de->d_name[0] == '.' && strstr(de->d_name, ".json.tmp-") &&
                        strncmp(de->d_name + 1, stack, strlen(stack)) == 0;
        if (!v && !stale_tmp)
            continue;
        if (v) {
            char *name = dr_store_bundle_name(stack, v);
            char *bp = dr_xasprintf("%s/%s", dir, name);
            int have = access(bp, F_OK) == 0;
            free(name);
            free(bp);
            if (have)
                continue;
        }
        char *p = dr_xasprintf("%s/%s", dir, de->d_name);
        if (unlink(p) == 0) {
            changed = 1;
            if (removed)
                (*removed)++;
        } else if (errno != ENOENT) {
            rc = dr_err_set(err, DR_E_IO, "remove %s: %s", p, strerror(errno));
        }
        free(p);
        if (rc != 0)
            break;
    }
    closedir(d);
    if (rc == 0 && changed)
        rc = fsync_dir(dir, err);
    free(dir);
    return rc;
}

static int cleanup_s3(dr_store *s, const char *stack, size_t *removed, dr_err *err)
{
    char *dir = s3_dir_key(s, stack);
    mpu_ref *ups = NULL;
    size_t n = 0;
    int rc = list_uploads(s, dir, &ups, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = abort_upload(s, ups[i].key, ups[i].upload_id, err);
        if (rc == 0 && removed)
            (*removed)++;
    }
    mpu_refs_free(ups, n);
    free(dir);
    return rc;
}

int dr_store_cleanup(dr_store *s, const char *stack, size_t *removed, dr_err *err)
{
    if (removed)
        *removed = 0;
    if (check_stack(stack, err) != 0)
        return -1;
    int rc = s->s3 ? cleanup_s3(s, stack, removed, err) : cleanup_local(s, stack, removed, err);
    if (rc != 0)
        dr_err_wrap(err, "cleaning up %s", s->describe);
    return rc;
}

/* ---- delete ------------------------------------------------------------- */

static int delete_local(dr_store *s, const char *stack, uint64_t version, dr_err *err)
{
    char *dir = local_dir(s, stack);
    char *name = dr_store_bundle_name(stack, version);
    char *sname = summary_name(stack, version);
    char *bp = dr_xasprintf("%s/%s", dir, name);
    char *sp = dr_xasprintf("%s/%s", dir, sname);
    int rc = 0;
    /* The bundle first: a crash in between leaves a sidecar without its
     * bundle, which is not listed and which cleanup removes. */
    if (unlink(bp) != 0) {
        if (errno == ENOENT)
            rc = dr_err_set(err, DR_E_NOT_FOUND, "bundle v%llu: no %s", (unsigned long long)version,
                            bp);
        else
            rc = dr_err_set(err, DR_E_IO, "remove %s: %s", bp, strerror(errno));
    }
    if (unlink(sp) != 0 && errno != ENOENT && rc == 0)
        rc = dr_err_set(err, DR_E_IO, "remove %s: %s", sp, strerror(errno));
    if (rc == 0)
        rc = fsync_dir(dir, err);
    free(dir);
    free(name);
    free(sname);
    free(bp);
    free(sp);
    return rc;
}

/* Deletes the current version of key (by version id on a versioned
 * bucket: a plain DELETE there only adds a delete marker and leaves the
 * data, and the lock, in place). missing_ok: a missing key is fine. */
static int delete_s3_key(dr_store *s, const char *key, int missing_ok, dr_err *err)
{
    dr_aws_rest_resp head;
    dr_aws_rest_resp_init(&head);
    dr_err e;
    dr_err_clear(&e);
    int rc = s3_call(s, "HeadObject", "HEAD", key, NULL, NULL, NULL, 0, &head, &e);
    if (rc != 0) {
        dr_aws_rest_resp_free(&head);
        if (e.aws.http_status == 404) {
            if (missing_ok)
                return 0;
            return dr_err_set(err, DR_E_NOT_FOUND, "s3://%s/%s does not exist", s->bucket, key);
        }
        *err = e;
        return -1;
    }
    const char *vid = dr_kv_get(&head.headers, "x-amz-version-id");
    dr_kvlist q = DR_KVLIST_INIT;
    if (vid && *vid && strcmp(vid, "null") != 0)
        dr_kv_add(&q, "versionId", vid);
    rc = s3_call(s, "DeleteObject", "DELETE", key, &q, NULL, NULL, 0, NULL, &e);
    if (rc != 0) {
        const char *until = dr_kv_get(&head.headers, "x-amz-object-lock-retain-until-date");
        const char *mode = dr_kv_get(&head.headers, "x-amz-object-lock-mode");
        *err = e;
        if (until && *until) {
            dr_err_set(err, DR_E_AWS,
                       "s3://%s/%s is locked by S3 Object Lock (%s) until %s: %s: %s", s->bucket,
                       key, mode ? mode : "retention", until, e.aws.code, e.aws.message);
            dr_err_hint(err, "it can be deleted after %s", until);
        }
    }
    dr_kv_free(&q);
    dr_aws_rest_resp_free(&head);
    return rc;
}

static int delete_s3(dr_store *s, const char *stack, uint64_t version, dr_err *err)
{
    char *dir = s3_dir_key(s, stack);
    char *name = dr_store_bundle_name(stack, version);
    char *sname = summary_name(stack, version);
    char *key = dr_xasprintf("%s%s", dir, name);
    char *skey = dr_xasprintf("%s%s", dir, sname);
    int rc = delete_s3_key(s, key, 0, err);
    if (rc == 0)
        rc = delete_s3_key(s, skey, 1, err);
    free(dir);
    free(name);
    free(sname);
    free(key);
    free(skey);
    return rc;
}

int dr_store_delete(dr_store *s, const char *stack, uint64_t version, dr_err *err)
{
    if (check_stack(stack, err) != 0)
        return -1;
    int rc = s->s3 ? delete_s3(s, stack, version, err) : delete_local(s, stack, version, err);
    if (rc != 0)
        dr_err_wrap(err, "deleting v%llu from %s", (unsigned long long)version, s->describe);
    return rc;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct src_ud {
    int s3;
    int fd;
    dr_store *s;
    char *key;
    char etag[80];
    uint64_t size;
    char *cache;
    uint64_t cache_off;
    size_t cache_len;
} src_ud;

static int local_pread(void *ud, void *buf, size_t n, uint64_t off, dr_err *err)
{
    src_ud *u = ud;
    if (pread_full(u->fd, buf, n, (int64_t)off) != 0)
        return dr_err_set(err, DR_E_IO, "reading %zu bytes at %llu: %s", n, (unsigned long long)off,
                          errno ? strerror(errno) : "unexpected end");
    return 0;
}

typedef struct range_sink {
    char *dst;
    size_t cap, len;
} range_sink;

static int range_write(void *ud, const char *data, size_t n)
{
    range_sink *r = ud;
    if (r->len + n > r->cap)
        return -1;
    memcpy(r->dst + r->len, data, n);
    r->len += n;
    return 0;
}

/* GET bytes [off, off+n) of the object version we opened into dst. */
static int ranged_get(src_ud *u, char *dst, size_t n, uint64_t off, dr_err *err)
{
    dr_kvlist h = DR_KVLIST_INIT;
    dr_kv_addf(&h, "Range", "bytes=%llu-%llu", (unsigned long long)off,
               (unsigned long long)(off + n - 1));
    /* The same object throughout: a bundle replaced under us fails with
     * 412 instead of mixing two files' bytes. */
    if (u->etag[0])
        dr_kv_addf(&h, "If-Match", "\"%s\"", u->etag);
    range_sink rs = {dst, n, 0};
    dr_aws_rest_req req = {
        .service = "s3",
        .region = u->s->region,
        .operation = "GetObject",
        .method = "GET",
        .bucket = u->s->bucket,
        .path = u->key,
        .headers = &h,
        .resp_write = range_write,
        .resp_ud = &rs,
    };
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = dr_aws_rest(u->s->aws, &req, &resp, err);
    dr_aws_rest_resp_free(&resp);
    dr_kv_free(&h);
    if (rc == 0 && rs.len != n)
        rc = dr_err_set(err, DR_E_AWS, "s3 GetObject: s3://%s/%s bytes %llu..: got %zu of %zu",
                        u->s->bucket, u->key, (unsigned long long)off, rs.len, n);
    return rc;
}

static int s3_pread(void *ud, void *buf, size_t n, uint64_t off, dr_err *err)
{
    src_ud *u = ud;
    char *out = buf;
    if (off > u->size || n > u->size - off)
        return dr_err_set(err, DR_E_VERIFY, "read past the end of s3://%s/%s", u->s->bucket,
                          u->key);
    while (n > 0) {
        if (u->cache_len && off >= u->cache_off && off < u->cache_off + u->cache_len) {
            size_t in = (size_t)(u->cache_off + u->cache_len - off);
            size_t take = in < n ? in : n;
            memcpy(out, u->cache + (off - u->cache_off), take);
            out += take;
            off += take;
            n -= take;
            continue;
        }
        if (n >= CACHE_SIZE) /* large reads go straight through */
            return ranged_get(u, out, n, off, err);
        uint64_t want = u->size - off < CACHE_SIZE ? u->size - off : CACHE_SIZE;
        u->cache_len = 0;
        if (ranged_get(u, u->cache, (size_t)want, off, err) != 0)
            return -1;
        u->cache_off = off;
        u->cache_len = (size_t)want;
    }
    return 0;
}

int dr_store_open_source(dr_store *s, const dr_store_entry *e, dr_bundle_source *src, void **ud_out,
                         dr_err *err)
{
    *ud_out = NULL;
    src_ud *u = dr_xcalloc(1, sizeof(*u));
    u->fd = -1;
    u->s = s;
    if (!s->s3) {
        u->fd = open(e->location, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (u->fd < 0 || fstat(u->fd, &st) != 0) {
            dr_err_set(err, DR_E_IO, "open %s: %s", e->location, strerror(errno));
            dr_store_source_free(u);
            return -1;
        }
        u->size = (uint64_t)st.st_size;
        src->pread = local_pread;
    } else {
        u->s3 = 1;
        const char *pfx = "s3://";
        size_t skip = strlen(pfx) + strlen(s->bucket) + 1;
        if (strlen(e->location) <= skip) {
            dr_store_source_free(u);
            return dr_err_set(err, DR_E_INTERNAL, "bad vault location %s", e->location);
        }
        u->key = dr_xstrdup(e->location + skip);
        dr_s3_object_info info;
        if (dr_s3_head(s->aws, s->region, s->bucket, u->key, &info, err) != 0) {
            dr_store_source_free(u);
            return -1;
        }
        u->size = (uint64_t)(info.size < 0 ? 0 : info.size);
        snprintf(u->etag, sizeof(u->etag), "%s", info.etag);
        dr_s3_object_info_free(&info);
        u->cache = dr_xmalloc(CACHE_SIZE);
        src->pread = s3_pread;
    }
    src->size = u->size;
    src->ud = u;
    *ud_out = u;
    return 0;
}

void dr_store_source_free(void *ud)
{
    src_ud *u = ud;
    if (!u)
        return;
    if (u->fd >= 0)
        close(u->fd);
    free(u->key);
    free(u->cache);
    free(u);
}

typedef struct fd_sink {
    int fd;
    uint64_t n;
} fd_sink;

static int fd_write(void *ud, const char *data, size_t n)
{
    fd_sink *f = ud;
    if (write_all(f->fd, data, n) != 0)
        return -1;
    f->n += n;
    return 0;
}

int dr_store_fetch(dr_store *s, const dr_store_entry *e, const char *dest_path, dr_err *err)
{
    char *tmp = dr_xasprintf("%s.part-%ld", dest_path, (long)getpid());
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        dr_err_set(err, DR_E_IO, "create %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    fd_sink sink = {fd, 0};
    if (s->s3) {
        size_t skip = strlen("s3://") + strlen(s->bucket) + 1;
        const char *key = strlen(e->location) > skip ? e->location + skip : "";
        if (dr_s3_get(s->aws, s->region, s->bucket, key, fd_write, &sink, NULL, err) != 0) {
            dr_err_wrap(err, "fetching to %s", tmp);
            goto out;
        }
    } else {
        int in = open(e->location, O_RDONLY | O_CLOEXEC);
        if (in < 0) {
            dr_err_set(err, DR_E_IO, "open %s: %s", e->location, strerror(errno));
            goto out;
        }
        char *buf = dr_xmalloc(CACHE_SIZE);
        ssize_t r;
        while ((r = read(in, buf, CACHE_SIZE)) > 0)
            if (fd_write(&sink, buf, (size_t)r) != 0) {
                r = -1;
                break;
            }
        int re = errno;
        free(buf);
        close(in);
        if (r < 0) {
            dr_err_set(err, DR_E_IO, "copy %s to %s: %s", e->location, tmp, strerror(re));
            goto out;
        }
    }
    if (sink.n != e->size) {
        dr_err_set(err, DR_E_VERIFY, "fetch %s: got %llu bytes, the store lists %llu", e->location,
                   (unsigned long long)sink.n, (unsigned long long)e->size);
        goto out;
    }
    if (fsync(fd) != 0) {
        dr_err_set(err, DR_E_IO, "fsync %s: %s", tmp, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, dest_path) != 0) {
        dr_err_set(err, DR_E_IO, "rename %s to %s: %s", tmp, dest_path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}
