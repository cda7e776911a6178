/*
 * restore_objects.c - the objects index back into a bucket, and the check
 * of a bucket against the index (restore.h).
 *
 * The shape of dr_restore_objects:
 *   1. list the target bucket once; decide per object from the listing
 *      (upload, or skip on an ETag equal to the index's content hash);
 *   2. HEAD (x-amz-checksum-mode ENABLED) the undecided ones in parallel:
 *      skip on a full-object SHA-256 checksum equal to the index's, else
 *      keep what the HEAD said for step 3;
 *   3. scan each bundle of the chain that holds bytes still needed, in the
 *      caller's thread (the reader pushes data through callbacks), and hand
 *      the bytes to `concurrency` upload workers through a FIFO of jobs:
 *      whole small objects (PutObject, queued only once the entry's SHA-256
 *      matched) and parts of big ones (UploadPart; the upload is completed
 *      only after the entry matched and every part is in). Undecided
 *      objects are hashed as they pass, as a restore would upload them, and
 *      skipped when that matches the target; a big one that does not match
 *      is uploaded by a second pass over its bundle (rare: same size,
 *      different bytes);
 *   4. wait for the workers; abort every multipart upload not completed.
 *
 * Memory: every buffer handed to the workers (and the one being filled) is
 * counted against a budget of DR_RESTORE_MAX_BUFFERED bytes; the scan waits
 * for room. Buffers of a MiB and more are mmap'ed, so freeing them returns
 * the memory to the system whatever thread frees it.
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include "aws/client_internal.h"
#include "aws/s3.h"
#include "aws/xml.h"
#include "backup/objects.h"
#include "restore/restore_int.h"
#include "util/mem.h"

#define DEFAULT_CONCURRENCY 8
#define MAX_CONCURRENCY 64
#define MAX_PARTS 10000
#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

/* ---- small helpers -------------------------------------------------------- */

static void *big_alloc(size_t n)
{
    if (n < (1u << 20))
        return dr_xmalloc(n ? n : 1);
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return dr_xmalloc(n); /* dr_xmalloc exits when there is no memory at all */
    return p;
}

static void big_free(void *p, size_t n)
{
    if (!p)
        return;
    if (n < (1u << 20))
        free(p);
    else
        munmap(p, n);
}

static uint64_t part_size_for(uint64_t size)
{
    uint64_t part = DR_RESTORE_PART_SIZE;
    if ((size + part - 1) / part > MAX_PARTS) {
        uint64_t mib = 1024 * 1024;
        part = ((size + MAX_PARTS - 1) / MAX_PARTS + mib - 1) / mib * mib;
    }
    return part;
}

static int is_kms(const char *sse)
{
    return sse && strncmp(sse, "aws:kms", 7) == 0;
}

/* 32 hex digits: an ETag that may be an MD5. */
static int md5_like(const char *etag)
{
    if (strlen(etag) != 32)
        return 0;
    for (int i = 0; i < 32; i++)
        if (!strchr("0123456789abcdefABCDEF", etag[i]))
            return 0;
    return 1;
}

static void bare_etag(const char *v, char *out, size_t cap)
{
    if (!v)
        v = "";
    if (strncmp(v, "W/", 2) == 0)
        v += 2;
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

/* base64 of the 32 bytes a hex SHA-256 spells. */
static char *sha_hex_to_b64(const char *hex)
{
    unsigned char md[32];
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        md[i] = (unsigned char)v;
    }
    return dr_base64(md, 32);
}

/* A JSON string from a header value (Latin-1 when not UTF-8), as the capture
 * made the index's. */
static json_t *header_string(const char *v)
{
    json_t *j = json_string(v);
    if (j)
        return j;
    size_t n = strlen(v);
    char *u = dr_xmalloc(2 * n + 1), *p = u;
    for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
        if (*c < 0x80) {
            *p++ = (char)*c;
        } else {
            *p++ = (char)(0xc0 | (*c >> 6));
            *p++ = (char)(0x80 | (*c & 0x3f));
        }
    }
    *p = '\0';
    j = json_string(u);
    free(u);
    return j;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- running something over n items in parallel -------------------------- */

typedef int (*par_fn)(void *ud, dr_http *h, size_t i, dr_err *err);

typedef struct par {
    dr_aws *aws;
    par_fn fn;
    void *ud;
    size_t n, next;
    pthread_mutex_t mu;
    int failed;
    size_t fail_at;
    dr_err first_err;
} par;

static void *par_worker(void *arg)
{
    par *p = arg;
    dr_err err;
    dr_err_clear(&err);
    dr_http *h = dr_aws_conn_acquire(p->aws, &err);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next;
        int go = !p->failed && i < p->n && h;
        if (go)
            p->next++;
        pthread_mutex_unlock(&p->mu);
        if (!go)
            break;
        if (p->fn(p->ud, h, i, &err) != 0) {
            pthread_mutex_lock(&p->mu);
            /* Items are taken in order: the lowest failing index among those
             * taken is the first failure in item order. */
            if (!p->failed || i < p->fail_at) {
                p->failed = 1;
                p->fail_at = i;
                p->first_err = err;
            }
            pthread_mutex_unlock(&p->mu);
        }
    }
    if (!h) {
        pthread_mutex_lock(&p->mu);
        if (!p->failed) {
            p->failed = 1;
            p->fail_at = (size_t)-1;
            p->first_err = err;
        }
        pthread_mutex_unlock(&p->mu);
    } else {
        dr_aws_conn_release(p->aws, h);
    }
    return NULL;
}

/* fn(ud, handle, i) for i in [0, n) on `conc` threads; stops taking items at
 * the first failure and returns the failure of the lowest index. */
static int par_run(dr_aws *aws, int conc, size_t n, par_fn fn, void *ud, dr_err *err)
{
    if (n == 0)
        return 0;
    par p;
    memset(&p, 0, sizeof(p));
    p.aws = aws;
    p.fn = fn;
    p.ud = ud;
    p.n = n;
    pthread_mutex_init(&p.mu, NULL);
    dr_err_clear(&p.first_err);
    if ((size_t)conc > n)
        conc = (int)n;
    pthread_t *th = dr_xcalloc((size_t)conc, sizeof(*th));
    int started = 0;
    for (int i = 0; i < conc; i++) {
        if (pthread_create(&th[i], NULL, par_worker, &p) != 0)
            break;
        started++;
    }
    if (started == 0)
        par_worker(&p);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    pthread_mutex_destroy(&p.mu);
    if (p.failed) {
        *err = p.first_err;
        return -1;
    }
    return 0;
}

/* ---- the objects ---------------------------------------------------------- */

enum { D_UPLOAD = 0, D_SKIP, D_CONTENT };

typedef struct mpart {
    char etag[128];
    char checksum[64];
} mpart;

typedef struct robj {
    const json_t *e; /* the index entry (borrowed from the chain's index) */
    const char *key, *sha256, *etag, *entry;
    uint64_t size, bundle;
    int decision;
    int handled; /* queued, uploaded or skipped by a scan */
    /* what the target has (listing, HEAD) */
    int in_target;
    uint64_t t_size;
    char t_etag[80];
    char t_checksum[96]; /* x-amz-checksum-sha256 as S3 gave it, or "" */
    int t_kms;
    /* multipart upload of a big object */
    char *upload_id;
    uint64_t part_size;
    unsigned nparts;
    mpart *parts;
    int pending; /* parts in flight + 1 until the entry matched */
    int completed;
} robj;

typedef struct job {
    int kind; /* J_PUT, J_PART */
    robj *o;
    unsigned part; /* 1-based */
    char *buf;
    size_t len;
    struct job *next;
} job;

enum { J_PUT = 1, J_PART };

typedef struct rctx {
    dr_restore_chain *c;
    dr_aws *aws;
    const char *region, *bucket, *kms_key;
    const dr_log *log;
    robj *v;
    size_t n;
    json_t *by_key;   /* key -> index into v */
    json_t *by_entry; /* "<bundle version> <entry path>" -> index into v */
    size_t *check;    /* indexes of the objects to HEAD */

    /* the upload pipeline */
    pthread_mutex_t mu;
    pthread_cond_t cv_job, cv_space;
    job *head, *tail;
    int closing;
    size_t held, budget;
    atomic_int stop;
    int failed;
    dr_err first_err;
    size_t uploaded, skipped;
    uint64_t bytes;
} rctx;

static void fail(rctx *x, const dr_err *e)
{
    pthread_mutex_lock(&x->mu);
    if (!x->failed) {
        x->failed = 1;
        x->first_err = *e;
    }
    atomic_store(&x->stop, 1);
    pthread_cond_broadcast(&x->cv_job);
    pthread_cond_broadcast(&x->cv_space);
    pthread_mutex_unlock(&x->mu);
}

/* Waits for n bytes of budget; 0, or -1 when stopped. */
static int budget_take(rctx *x, size_t n)
{
    pthread_mutex_lock(&x->mu);
    while (!atomic_load(&x->stop) && x->held > 0 && x->held + n > x->budget)
        pthread_cond_wait(&x->cv_space, &x->mu);
    int ok = !atomic_load(&x->stop);
    if (ok)
        x->held += n;
    pthread_mutex_unlock(&x->mu);
    return ok ? 0 : -1;
}

static void budget_give(rctx *x, size_t n)
{
    pthread_mutex_lock(&x->mu);
    x->held -= n;
    pthread_cond_broadcast(&x->cv_space);
    pthread_mutex_unlock(&x->mu);
}

static void submit(rctx *x, job *j)
{
    pthread_mutex_lock(&x->mu);
    j->next = NULL;
    if (x->tail)
        x->tail->next = j;
    else
        x->head = j;
    x->tail = j;
    pthread_cond_signal(&x->cv_job);
    pthread_mutex_unlock(&x->mu);
}

/* The request headers an object is written with. */
static void obj_headers(rctx *x, const robj *o, dr_kvlist *h, int for_mpu)
{
    const json_t *e = o->e;
    const char *ct = jstr(e, "content_type");
    dr_kv_add(h, "Content-Type", ct ? ct : "binary/octet-stream");
    const char *v;
    if ((v = jstr(e, "content_encoding")))
        dr_kv_add(h, "Content-Encoding", v);
    if ((v = jstr(e, "cache_control")))
        dr_kv_add(h, "Cache-Control", v);
    if ((v = jstr(e, "content_disposition")))
        dr_kv_add(h, "Content-Disposition", v);
    const char *name;
    const json_t *mv;
    json_object_foreach((json_t *)json_object_get(e, "metadata"), name, mv)
    {
        if (!json_is_string(mv))
            continue;
        char *hn = dr_xasprintf("x-amz-meta-%s", name);
        dr_kv_add(h, hn, json_string_value(mv));
        free(hn);
    }
    const char *sse = jstr(e, "sse");
    if (sse && strcmp(sse, "AES256") == 0) {
        dr_kv_add(h, "x-amz-server-side-encryption", "AES256");
    } else if (is_kms(sse) && x->kms_key && *x->kms_key) {
        /* the target region's key; without one the bucket default applies */
        dr_kv_add(h, "x-amz-server-side-encryption", sse);
        dr_kv_add(h, "x-amz-server-side-encryption-aws-kms-key-id", x->kms_key);
    }
    const char *sc = jstr(e, "storage_class");
    if (sc && *sc && strcmp(sc, "STANDARD") != 0)
        dr_kv_add(h, "x-amz-storage-class", sc);
    if (for_mpu)
        dr_kv_add(h, "x-amz-checksum-algorithm", "SHA256");
}

static int put_single(rctx *x, dr_http *h, robj *o, const char *buf, size_t len, dr_err *err)
{
    char *b64 = sha_hex_to_b64(o->sha256);
    dr_kvlist hd = DR_KVLIST_INIT;
    obj_headers(x, o, &hd, 0);
    dr_kv_add(&hd, "x-amz-checksum-sha256", b64);
    dr_kv_add(&hd, "x-amz-sdk-checksum-algorithm", "SHA256");
    dr_aws_rest_req req = {
        .service = "s3",
        .region = x->region,
        .operation = "PutObject",
        .method = "PUT",
        .bucket = x->bucket,
        .path = o->key,
        .headers = &hd,
        .body = len ? buf : "",
        .body_len = len,
        .body_sha256 = o->sha256, /* the entry matched it: the index's, checked at open */
    };
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = dr_aws_rest_on(x->aws, h, &req, &resp, err);
    dr_aws_rest_resp_free(&resp);
    dr_kv_free(&hd);
    free(b64);
    if (rc != 0)
        return dr_err_wrap(err, "restoring s3://%s/%s", x->bucket, o->key);
    return 0;
}

static int create_mpu(rctx *x, dr_http *h, robj *o, dr_err *err)
{
    dr_kvlist hd = DR_KVLIST_INIT;
    obj_headers(x, o, &hd, 1);
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "uploads", "");
    dr_aws_rest_req req = {
        .service = "s3",
        .region = x->region,
        .operation = "CreateMultipartUpload",
        .method = "POST",
        .bucket = x->bucket,
        .path = o->key,
        .query = &q,
        .headers = &hd,
    };
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = dr_aws_rest_on(x->aws, h, &req, &resp, err);
    dr_kv_free(&hd);
    dr_kv_free(&q);
    char *id = NULL;
    if (rc == 0) {
        xmlDocPtr d = dr_xml_parse(resp.body.data, resp.body.len);
        if (d)
            id = dr_xml_text(xmlDocGetRootElement(d), "UploadId");
        xmlFreeDoc(d);
        if (!id || !*id) {
            free(id);
            id = NULL;
            rc = dr_err_set(err, DR_E_AWS,
                            "s3 CreateMultipartUpload: s3://%s/%s: no UploadId in the response",
                            x->bucket, o->key);
        }
    }
    dr_aws_rest_resp_free(&resp);
    if (rc != 0)
        return dr_err_wrap(err, "restoring s3://%s/%s", x->bucket, o->key);
    pthread_mutex_lock(&x->mu);
    o->upload_id = id;
    pthread_mutex_unlock(&x->mu);
    return 0;
}

static int upload_part(rctx *x, dr_http *h, robj *o, unsigned pn, const char *buf, size_t len,
                       dr_err *err)
{
    unsigned char md[32];
    EVP_Digest(buf, len, md, NULL, EVP_sha256(), NULL);
    char hex[65];
    dr_rs_hex(md, 32, hex);
    char *b64 = dr_base64(md, 32);
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_addf(&q, "partNumber", "%u", pn);
    dr_kv_add(&q, "uploadId", o->upload_id);
    dr_kvlist hd = DR_KVLIST_INIT;
    dr_kv_add(&hd, "Content-Type", "application/octet-stream");
    dr_kv_add(&hd, "x-amz-checksum-sha256", b64);
    dr_kv_add(&hd, "x-amz-sdk-checksum-algorithm", "SHA256");
    dr_aws_rest_req req = {
        .service = "s3",
        .region = x->region,
        .operation = "UploadPart",
        .method = "PUT",
        .bucket = x->bucket,
        .path = o->key,
        .query = &q,
        .headers = &hd,
        .body = buf,
        .body_len = len,
        .body_sha256 = hex,
    };
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = dr_aws_rest_on(x->aws, h, &req, &resp, err);
    if (rc == 0) {
        const char *et = dr_kv_get(&resp.headers, "etag");
        if (!et || !*et) {
            rc = dr_err_set(err, DR_E_AWS, "s3 UploadPart: no ETag in the response");
        } else {
            snprintf(o->parts[pn - 1].etag, sizeof(o->parts[pn - 1].etag), "%s", et);
            snprintf(o->parts[pn - 1].checksum, sizeof(o->parts[pn - 1].checksum), "%s", b64);
        }
    }
    dr_aws_rest_resp_free(&resp);
    dr_kv_free(&q);
    dr_kv_free(&hd);
    free(b64);
    if (rc != 0)
        return dr_err_wrap(err, "restoring s3://%s/%s: part %u of %u", x->bucket, o->key, pn,
                           o->nparts);
    return 0;
}

static int complete_mpu(rctx *x, dr_http *h, robj *o, dr_err *err)
{
    dr_buf body = DR_BUF_INIT;
    dr_buf_puts(&body, "<CompleteMultipartUpload xmlns=\"" S3_XMLNS "\">");
    for (unsigned i = 0; i < o->nparts; i++)
        dr_buf_printf(&body,
                      "<Part><ETag>%s</ETag><ChecksumSHA256>%s</ChecksumSHA256>"
                      "<PartNumber>%u</PartNumber></Part>",
                      o->parts[i].etag, o->parts[i].checksum, i + 1);
    dr_buf_puts(&body, "</CompleteMultipartUpload>");
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "uploadId", o->upload_id);
    dr_kvlist hd = DR_KVLIST_INIT;
    dr_kv_add(&hd, "Content-Type", "application/xml");
    dr_aws_rest_req req = {
        .service = "s3",
        .region = x->region,
        .operation = "CompleteMultipartUpload",
        .method = "POST",
        .bucket = x->bucket,
        .path = o->key,
        .query = &q,
        .headers = &hd,
        .body = body.data,
        .body_len = body.len,
    };
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = dr_aws_rest_on(x->aws, h, &req, &resp, err);
    /* S3 may answer 200 with an error document in the body. */
    if (rc == 0 && resp.body.data && strstr(resp.body.data, "<Error>"))
        rc = dr_err_set(err, DR_E_AWS, "s3 CompleteMultipartUpload: an error in a 200 answer");
    dr_aws_rest_resp_free(&resp);
    dr_kv_free(&q);
    dr_kv_free(&hd);
    dr_buf_free(&body);
    if (rc != 0)
        return dr_err_wrap(err, "restoring s3://%s/%s", x->bucket, o->key);
    return 0;
}

static void done_object(rctx *x, robj *o)
{
    pthread_mutex_lock(&x->mu);
    x->uploaded++;
    x->bytes += o->size;
    pthread_mutex_unlock(&x->mu);
    dr_info(x->log, "s3://%s/%s: restored, %llu bytes", x->bucket, o->key,
            (unsigned long long)o->size);
}

/* One of the multipart upload's outstanding things is done (a part, or the
 * entry's check); the one that ends the count completes the upload. */
static int mpu_step(rctx *x, dr_http *h, robj *o, dr_err *err)
{
    pthread_mutex_lock(&x->mu);
    int last = --o->pending == 0;
    pthread_mutex_unlock(&x->mu);
    if (!last)
        return 0;
    if (complete_mpu(x, h, o, err) != 0)
        return -1;
    pthread_mutex_lock(&x->mu);
    o->completed = 1;
    pthread_mutex_unlock(&x->mu);
    done_object(x, o);
    return 0;
}

static void *up_worker(void *arg)
{
    rctx *x = arg;
    dr_err err;
    dr_err_clear(&err);
    dr_http *h = dr_aws_conn_acquire(x->aws, &err);
    if (!h) {
        fail(x, &err);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&x->mu);
        while (!x->head && !x->closing && !atomic_load(&x->stop))
            pthread_cond_wait(&x->cv_job, &x->mu);
        job *j = atomic_load(&x->stop) ? NULL : x->head;
        if (j) {
            x->head = j->next;
            if (!x->head)
                x->tail = NULL;
        }
        pthread_mutex_unlock(&x->mu);
        if (!j)
            break;
        int rc;
        if (j->kind == J_PUT) {
            rc = put_single(x, h, j->o, j->buf, j->len, &err);
            if (rc == 0)
                done_object(x, j->o);
        } else {
            rc = upload_part(x, h, j->o, j->part, j->buf, j->len, &err);
            if (rc == 0)
                rc = mpu_step(x, h, j->o, &err);
        }
        big_free(j->buf, j->len);
        budget_give(x, j->len);
        free(j);
        if (rc != 0) {
            fail(x, &err);
            break;
        }
    }
    dr_aws_conn_release(x->aws, h);
    return NULL;
}

/* ---- deciding --------------------------------------------------------------- */

typedef struct tobj {
    uint64_t size;
    char etag[80];
} tobj;

typedef struct listing {
    rctx *x;
    size_t extra;
    char *first_extra;
} listing;

static int list_cb(void *ud, const dr_s3_object_info *li)
{
    listing *l = ud;
    rctx *x = l->x;
    json_t *ix = json_object_get(x->by_key, li->key);
    if (!ix) {
        if (l->extra++ == 0)
            l->first_extra = dr_xstrdup(li->key);
        return 0;
    }
    robj *o = &x->v[json_integer_value(ix)];
    o->in_target = 1;
    o->t_size = li->size > 0 ? (uint64_t)li->size : 0;
    snprintf(o->t_etag, sizeof(o->t_etag), "%s", li->etag);
    return 0;
}

/* HEAD with the checksum: skip on a full-object SHA-256 equal to the index's. */
static int head_one(void *ud, dr_http *h, size_t i, dr_err *err)
{
    rctx *x = ud;
    robj *o = &x->v[x->check[i]];
    dr_kvlist hd = DR_KVLIST_INIT;
    dr_kv_add(&hd, "x-amz-checksum-mode", "ENABLED");
    dr_aws_rest_req req = {
        .service = "s3",
        .region = x->region,
        .operation = "HeadObject",
        .method = "HEAD",
        .bucket = x->bucket,
        .path = o->key,
        .headers = &hd,
    };
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = dr_aws_rest_on(x->aws, h, &req, &resp, err);
    dr_kv_free(&hd);
    if (rc != 0) {
        dr_aws_rest_resp_free(&resp);
        if (err->has_aws && err->aws.http_status == 404) { /* gone since the listing */
            dr_err_clear(err);
            o->decision = D_UPLOAD;
            return 0;
        }
        return dr_err_wrap(err, "s3://%s/%s", x->bucket, o->key);
    }
    const char *cs = dr_kv_get(&resp.headers, "x-amz-checksum-sha256");
    snprintf(o->t_checksum, sizeof(o->t_checksum), "%s", cs ? cs : "");
    o->t_kms = is_kms(dr_kv_get(&resp.headers, "x-amz-server-side-encryption"));
    bare_etag(dr_kv_get(&resp.headers, "etag"), o->t_etag, sizeof(o->t_etag));
    const char *cl = dr_kv_get(&resp.headers, "content-length");
    if (cl && strtoull(cl, NULL, 10) != o->size)
        o->decision = D_UPLOAD;
    dr_aws_rest_resp_free(&resp);
    if (o->decision == D_CONTENT && o->t_checksum[0]) {
        char *want = sha_hex_to_b64(o->sha256);
        if (strcmp(want, o->t_checksum) == 0)
            o->decision = D_SKIP;
        free(want);
    }
    return 0;
}

/* ---- the scan --------------------------------------------------------------- */

typedef struct hashes {
    EVP_MD_CTX *whole_md5;
    EVP_MD_CTX *part_md5, *part_sha; /* the current part */
    EVP_MD_CTX *md5s, *shas;         /* over the parts' digests */
    uint64_t part_left;
    unsigned parts;
} hashes;

typedef struct scan_ctx {
    rctx *x;
    dr_rs_bundle *b;
    dr_http *h;  /* the scan thread's own connection */
    size_t left; /* entries of this bundle still wanted in this pass */
    int stopped; /* stopped early on purpose */
    size_t redo; /* big objects found different: a second pass uploads them */
    /* the current entry */
    robj *o;
    char *buf; /* whole small object, or the current part */
    size_t buf_len, buf_cap;
    unsigned part; /* current part number (1-based) of a multipart upload */
    hashes hs;
    int hashing;
} scan_ctx;

static int wanted(const robj *o)
{
    return !o->handled && o->decision != D_SKIP;
}

static char *entry_id(uint64_t version, const char *path)
{
    return dr_xasprintf("%llu %s", (unsigned long long)version, path);
}

/* The object whose bytes are this entry of this bundle, or NULL. */
static robj *obj_of(scan_ctx *s, const char *path)
{
    char *id = entry_id(s->b->version, path);
    json_t *ix = json_object_get(s->x->by_entry, id);
    free(id);
    return ix ? &s->x->v[json_integer_value(ix)] : NULL;
}

static void hashes_init(hashes *hs, uint64_t part)
{
    if (!hs->whole_md5) {
        hs->whole_md5 = EVP_MD_CTX_new();
        hs->part_md5 = EVP_MD_CTX_new();
        hs->part_sha = EVP_MD_CTX_new();
        hs->md5s = EVP_MD_CTX_new();
        hs->shas = EVP_MD_CTX_new();
    }
    EVP_DigestInit_ex(hs->whole_md5, EVP_md5(), NULL);
    EVP_DigestInit_ex(hs->part_md5, EVP_md5(), NULL);
    EVP_DigestInit_ex(hs->part_sha, EVP_sha256(), NULL);
    EVP_DigestInit_ex(hs->md5s, EVP_md5(), NULL);
    EVP_DigestInit_ex(hs->shas, EVP_sha256(), NULL);
    hs->part_left = part;
    hs->parts = 0;
}

static void hashes_free(hashes *hs)
{
    EVP_MD_CTX_free(hs->whole_md5);
    EVP_MD_CTX_free(hs->part_md5);
    EVP_MD_CTX_free(hs->part_sha);
    EVP_MD_CTX_free(hs->md5s);
    EVP_MD_CTX_free(hs->shas);
}

static void hashes_end_part(hashes *hs, uint64_t part)
{
    unsigned char m[16], sh[32];
    EVP_DigestFinal_ex(hs->part_md5, m, NULL);
    EVP_DigestFinal_ex(hs->part_sha, sh, NULL);
    EVP_DigestUpdate(hs->md5s, m, 16);
    EVP_DigestUpdate(hs->shas, sh, 32);
    EVP_DigestInit_ex(hs->part_md5, EVP_md5(), NULL);
    EVP_DigestInit_ex(hs->part_sha, EVP_sha256(), NULL);
    hs->parts++;
    hs->part_left = part;
}

static void hashes_update(hashes *hs, const char *p, size_t n, uint64_t part)
{
    EVP_DigestUpdate(hs->whole_md5, p, n);
    while (n > 0) {
        size_t k = n < hs->part_left ? n : (size_t)hs->part_left;
        EVP_DigestUpdate(hs->part_md5, p, k);
        EVP_DigestUpdate(hs->part_sha, p, k);
        hs->part_left -= k;
        p += k;
        n -= k;
        if (hs->part_left == 0)
            hashes_end_part(hs, part);
    }
}

/* 1 when the bytes hashed are what the target holds. */
static int hashes_match(hashes *hs, const robj *o)
{
    uint64_t part = o->part_size ? o->part_size : part_size_for(o->size);
    if (hs->part_left != part || hs->parts == 0) /* a partial last part */
        hashes_end_part(hs, part);
    unsigned char m[16], m2[16], sh[32];
    EVP_DigestFinal_ex(hs->whole_md5, m, NULL);
    EVP_DigestFinal_ex(hs->md5s, m2, NULL);
    EVP_DigestFinal_ex(hs->shas, sh, NULL);
    char md5_hex[33], mp[80], *cs = dr_base64(sh, 32), comp[96];
    dr_rs_hex(m, 16, md5_hex);
    dr_rs_hex(m2, 16, mp);
    snprintf(mp + 32, sizeof(mp) - 32, "-%u", hs->parts);
    snprintf(comp, sizeof(comp), "%s-%u", cs, hs->parts);
    free(cs);
    int same = 0;
    if (!o->t_kms && o->t_etag[0])
        same = strcasecmp(o->t_etag, md5_hex) == 0 ||
               (o->size > DR_S3_MULTIPART_THRESHOLD && strcasecmp(o->t_etag, mp) == 0);
    if (!same && o->t_checksum[0] && o->size > DR_S3_MULTIPART_THRESHOLD)
        same = strcmp(o->t_checksum, comp) == 0;
    return same;
}

static int sc_stop(scan_ctx *s, dr_err *err)
{
    s->stopped = 1;
    return dr_err_set(err, DR_E_INTERNAL, "stop");
}

static int stopped_by_workers(scan_ctx *s, dr_err *err)
{
    pthread_mutex_lock(&s->x->mu);
    *err = s->x->first_err;
    pthread_mutex_unlock(&s->x->mu);
    return -1;
}

static int big(const robj *o)
{
    return o->size > DR_S3_MULTIPART_THRESHOLD;
}

static int sc_begin(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    scan_ctx *s = ud;
    rctx *x = s->x;
    s->o = NULL;
    if (atomic_load(&x->stop))
        return stopped_by_workers(s, err);
    if (s->left == 0)
        return sc_stop(s, err);
    if (strncmp(e->path, DR_OBJECTS_PREFIX, strlen(DR_OBJECTS_PREFIX)) != 0)
        return 1;
    robj *o = obj_of(s, e->path);
    if (!o || !wanted(o))
        return 1;
    s->o = o;
    s->buf = NULL;
    s->buf_len = 0;
    s->hashing = o->decision == D_CONTENT;
    o->part_size = part_size_for(o->size);
    if (s->hashing)
        hashes_init(&s->hs, o->part_size);
    if (!big(o)) { /* whole, whether to upload or to compare */
        if (budget_take(x, (size_t)o->size) != 0)
            return stopped_by_workers(s, err);
        s->buf_cap = (size_t)o->size;
        s->buf = big_alloc(s->buf_cap);
        return 0;
    }
    if (o->decision == D_CONTENT)
        return 0; /* hashed only */
    o->nparts = (unsigned)((o->size + o->part_size - 1) / o->part_size);
    o->parts = dr_xcalloc(o->nparts, sizeof(*o->parts));
    o->pending = (int)o->nparts + 1;
    if (create_mpu(x, s->h, o, err) != 0)
        return -1;
    s->part = 1;
    s->buf_cap = (size_t)o->part_size;
    if (budget_take(x, s->buf_cap) != 0)
        return stopped_by_workers(s, err);
    s->buf = big_alloc(s->buf_cap);
    return 0;
}

static int sc_data(void *ud, const dr_bundle_entry *e, const void *pv, size_t n, dr_err *err)
{
    scan_ctx *s = ud;
    rctx *x = s->x;
    robj *o = s->o;
    const char *p = pv;
    if (!o)
        return 0;
    if (atomic_load(&x->stop))
        return stopped_by_workers(s, err);
    if (s->hashing)
        hashes_update(&s->hs, p, n, o->part_size);
    if (!s->buf)
        return 0; /* a big object hashed only */
    while (n > 0) {
        size_t k = s->buf_cap - s->buf_len;
        if (k == 0)
            return dr_err_set(err, DR_E_VERIFY, "bundle entry %s: more bytes than listed", e->path);
        if (k > n)
            k = n;
        memcpy(s->buf + s->buf_len, p, k);
        s->buf_len += k;
        p += k;
        n -= k;
        if (big(o) && s->buf_len == s->buf_cap && s->part < o->nparts) {
            /* a full part that is not the last: to the workers */
            job *j = dr_xcalloc(1, sizeof(*j));
            *j = (job){.kind = J_PART, .o = o, .part = s->part++, .buf = s->buf, .len = s->buf_len};
            submit(x, j);
            uint64_t left = o->size - (uint64_t)(s->part - 1) * o->part_size;
            s->buf_cap = (size_t)(left < o->part_size ? left : o->part_size);
            s->buf = NULL;
            s->buf_len = 0;
            if (budget_take(x, s->buf_cap) != 0)
                return stopped_by_workers(s, err);
            s->buf = big_alloc(s->buf_cap);
        }
    }
    return 0;
}

static int sc_end(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    scan_ctx *s = ud;
    rctx *x = s->x;
    robj *o = s->o;
    (void)e;
    if (!o)
        return 0;
    s->o = NULL;
    o->handled = 1;
    s->left--;
    int same = s->hashing && hashes_match(&s->hs, o);
    if (same) {
        big_free(s->buf, s->buf_cap);
        if (s->buf)
            budget_give(x, s->buf_cap);
        s->buf = NULL;
        o->decision = D_SKIP;
        pthread_mutex_lock(&x->mu);
        x->skipped++;
        pthread_mutex_unlock(&x->mu);
        dr_info(x->log, "s3://%s/%s: already there with the same content", x->bucket, o->key);
        return 0;
    }
    if (big(o) && o->decision == D_CONTENT) { /* differs: upload it in a second pass */
        o->decision = D_UPLOAD;
        o->handled = 0;
        s->redo++;
        return 0;
    }
    job *j = dr_xcalloc(1, sizeof(*j));
    if (!big(o)) {
        *j = (job){.kind = J_PUT, .o = o, .buf = s->buf, .len = s->buf_len};
        s->buf = NULL;
        submit(x, j);
        return 0;
    }
    /* the last part, then the entry's own step of the upload's count */
    *j = (job){.kind = J_PART, .o = o, .part = s->part, .buf = s->buf, .len = s->buf_len};
    s->buf = NULL;
    submit(x, j);
    if (mpu_step(x, s->h, o, err) != 0) {
        fail(x, err);
        return -1;
    }
    return 0;
}

static size_t count_wanted(rctx *x, uint64_t version)
{
    size_t n = 0;
    for (size_t i = 0; i < x->n; i++)
        if (x->v[i].bundle == version && wanted(&x->v[i]))
            n++;
    return n;
}

/* One pass over one bundle. */
static int scan_bundle(rctx *x, dr_rs_bundle *b, dr_http *h, size_t *redo, dr_err *err)
{
    scan_ctx s;
    memset(&s, 0, sizeof(s));
    s.x = x;
    s.b = b;
    s.h = h;
    s.left = count_wanted(x, b->version);
    *redo = 0;
    if (s.left == 0)
        return 0;
    dr_info(x->log, "bundle v%llu: %zu objects to read", (unsigned long long)b->version, s.left);
    dr_bundle_visitor v = {sc_begin, sc_data, sc_end, &s};
    int rc = dr_bundle_reader_scan(b->r, &v, err);
    if (s.buf) { /* a buffer of an entry the scan did not finish */
        big_free(s.buf, s.buf_cap);
        budget_give(x, s.buf_cap);
    }
    hashes_free(&s.hs);
    if (rc != 0 && s.stopped) {
        dr_err_clear(err);
        rc = 0;
    }
    if (rc != 0) {
        dr_err_wrap(err, "restoring objects from bundle v%llu", (unsigned long long)b->version);
        fail(x, err);
        return -1;
    }
    if (s.left != 0) {
        dr_err_set(err, DR_E_VERIFY, "bundle v%llu: %zu objects of the index were not met in it",
                   (unsigned long long)b->version, s.left);
        fail(x, err);
        return -1;
    }
    *redo = s.redo;
    return 0;
}

static void abort_open_uploads(rctx *x)
{
    for (size_t i = 0; i < x->n; i++) {
        robj *o = &x->v[i];
        if (!o->upload_id || o->completed)
            continue;
        dr_kvlist q = DR_KVLIST_INIT;
        dr_kv_add(&q, "uploadId", o->upload_id);
        dr_aws_rest_req req = {.service = "s3",
                               .region = x->region,
                               .operation = "AbortMultipartUpload",
                               .method = "DELETE",
                               .bucket = x->bucket,
                               .path = o->key,
                               .query = &q};
        dr_err e;
        dr_err_clear(&e);
        if (dr_aws_rest(x->aws, &req, NULL, &e) != 0)
            dr_warn(x->log, "could not abort the multipart upload of s3://%s/%s: %s", x->bucket,
                    o->key, e.msg);
        dr_kv_free(&q);
    }
}

static void rctx_free(rctx *x)
{
    for (size_t i = 0; i < x->n; i++) {
        free(x->v[i].upload_id);
        free(x->v[i].parts);
    }
    free(x->v);
    free(x->check);
    json_decref(x->by_key);
    json_decref(x->by_entry);
    while (x->head) {
        job *j = x->head;
        x->head = j->next;
        big_free(j->buf, j->len);
        free(j);
    }
    pthread_cond_destroy(&x->cv_job);
    pthread_cond_destroy(&x->cv_space);
    pthread_mutex_destroy(&x->mu);
}

/* The chain's index as robj's, and key -> position. */
static void load_objects(rctx *x)
{
    const json_t *objs = json_object_get(x->c->index, "objects");
    x->n = json_array_size(objs);
    x->v = dr_xcalloc(x->n ? x->n : 1, sizeof(*x->v));
    x->by_key = json_object();
    x->by_entry = json_object();
    x->check = dr_xcalloc(x->n ? x->n : 1, sizeof(*x->check));
    for (size_t i = 0; i < x->n; i++) {
        const json_t *e = json_array_get(objs, i);
        robj *o = &x->v[i];
        o->e = e;
        o->key = jstr(e, "key");
        o->sha256 = jstr(e, "sha256");
        o->etag = jstr(e, "etag") ? jstr(e, "etag") : "";
        o->entry = jstr(e, "entry");
        o->size = (uint64_t)json_integer_value(json_object_get(e, "size"));
        o->bundle = (uint64_t)json_integer_value(json_object_get(e, "bundle"));
        json_object_set_new(x->by_key, o->key, json_integer((json_int_t)i));
        char *id = entry_id(o->bundle, o->entry);
        json_object_set_new(x->by_entry, id, json_integer((json_int_t)i));
        free(id);
    }
}

int dr_restore_objects(dr_restore_chain *c, dr_aws *aws, const char *region, const char *bucket,
                       const char *sse_kms_key_id, int concurrency, const dr_log *log,
                       dr_restore_obj_result *res, dr_err *err)
{
    dr_restore_obj_result scratch;
    if (!res)
        res = &scratch;
    memset(res, 0, sizeof(*res));
    double t0 = dr_rs_now();
    if (!c->index)
        return dr_err_set(err, DR_E_NOT_FOUND, "bundle v%llu holds no objects (no %s)",
                          (unsigned long long)c->b[0].version, DR_OBJECTS_INDEX_PATH);
    int conc = concurrency > 0 ? concurrency : DEFAULT_CONCURRENCY;
    if (conc > MAX_CONCURRENCY)
        conc = MAX_CONCURRENCY;
    rctx x;
    memset(&x, 0, sizeof(x));
    x.c = c;
    x.aws = aws;
    x.region = region;
    x.bucket = bucket;
    x.kms_key = sse_kms_key_id;
    x.log = log;
    x.budget = DR_RESTORE_MAX_BUFFERED;
    pthread_mutex_init(&x.mu, NULL);
    pthread_cond_init(&x.cv_job, NULL);
    pthread_cond_init(&x.cv_space, NULL);
    atomic_init(&x.stop, 0);
    dr_err_clear(&x.first_err);
    load_objects(&x);
    res->objects = x.n;

    /* 1. the listing */
    listing l = {.x = &x};
    if (dr_s3_list(aws, region, bucket, NULL, list_cb, &l, err) != 0) {
        dr_err_wrap(err, "listing s3://%s", bucket);
        free(l.first_extra);
        rctx_free(&x);
        return -1;
    }
    res->extra = l.extra;
    if (l.extra)
        dr_warn(log,
                "s3://%s holds %zu object%s that bundle v%llu does not list (e.g. %s): left "
                "alone",
                bucket, l.extra, l.extra == 1 ? "" : "s", (unsigned long long)c->b[0].version,
                l.first_extra);
    free(l.first_extra);
    size_t n_check = 0;
    for (size_t i = 0; i < x.n; i++) {
        robj *o = &x.v[i];
        uint64_t need_part = part_size_for(o->size);
        if (need_part > x.budget)
            x.budget = (size_t)need_part;
        if (!o->in_target || o->t_size != o->size) {
            o->decision = D_UPLOAD;
        } else if (o->etag[0] && strcmp(o->t_etag, o->etag) == 0 && !is_kms(jstr(o->e, "sse")) &&
                   (md5_like(o->etag) || strchr(o->etag, '-'))) {
            o->decision = D_SKIP;
        } else {
            o->decision = D_CONTENT;
            x.check[n_check++] = i;
        }
    }
    /* 2. HEAD the undecided */
    int rc = par_run(aws, conc, n_check, head_one, &x, err);
    if (rc != 0)
        dr_err_wrap(err, "checking the objects already in s3://%s", bucket);
    for (size_t i = 0; rc == 0 && i < x.n; i++)
        if (x.v[i].decision == D_SKIP) {
            x.skipped++;
            dr_info(log, "s3://%s/%s: already there with the same content", bucket, x.v[i].key);
        }

    /* 3. the scans, with the upload workers */
    pthread_t *th = NULL;
    int started = 0;
    dr_http *h = NULL;
    if (rc == 0) {
        th = dr_xcalloc((size_t)conc, sizeof(*th));
        for (int i = 0; i < conc; i++) {
            if (pthread_create(&th[i], NULL, up_worker, &x) != 0)
                break;
            started++;
        }
        h = dr_aws_conn_acquire(aws, err);
        if (started == 0)
            rc = dr_err_set(err, DR_E_INTERNAL, "cannot start a thread to upload objects");
        else if (!h)
            rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        size_t redo = 0;
        rc = scan_bundle(&x, &c->b[i], h, &redo, err);
        if (rc == 0 && redo > 0) {
            dr_info(log, "bundle v%llu: %zu big objects differ from the bucket's: reading again",
                    (unsigned long long)c->b[i].version, redo);
            rc = scan_bundle(&x, &c->b[i], h, &redo, err);
        }
    }
    /* 4. wait for the workers */
    pthread_mutex_lock(&x.mu);
    x.closing = 1;
    if (rc != 0)
        atomic_store(&x.stop, 1);
    pthread_cond_broadcast(&x.cv_job);
    pthread_cond_broadcast(&x.cv_space);
    pthread_mutex_unlock(&x.mu);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    if (h)
        dr_aws_conn_release(aws, h);
    if (x.failed && rc == 0) { /* a worker's failure after the scans ended */
        *err = x.first_err;
        rc = -1;
    }
    if (rc == 0 && x.uploaded + x.skipped != x.n)
        rc = dr_err_set(err, DR_E_INTERNAL, "restore of s3://%s: %zu of %zu objects accounted for",
                        bucket, x.uploaded + x.skipped, x.n);
    if (rc != 0)
        abort_open_uploads(&x);
    res->uploaded = x.uploaded;
    res->skipped_same = x.skipped;
    res->bytes = x.bytes;
    res->seconds = dr_rs_now() - t0;
    rctx_free(&x);
    if (rc == 0)
        dr_notice(log,
                  "s3://%s: %zu objects from bundle v%llu: %zu uploaded (%llu bytes), %zu already "
                  "there (%.1f s)",
                  bucket, res->objects, (unsigned long long)c->b[0].version, res->uploaded,
                  (unsigned long long)res->bytes, res->skipped_same, res->seconds);
    return rc;
}

/* ---- verification ------------------------------------------------------------ */

typedef struct vctx {
    dr_aws *aws;
    const char *region, *bucket;
    const json_t *objs;
} vctx;

typedef struct vsink {
    EVP_MD_CTX *sha;
    uint64_t n;
} vsink;

static int v_write(void *ud, const char *data, size_t n)
{
    vsink *s = ud;
    EVP_DigestUpdate(s->sha, data, n);
    s->n += n;
    return 0;
}

static int differs(vctx *v, const char *key, dr_err *err, const char *what, const char *want,
                   const char *have)
{
    return dr_err_set(err, DR_E_VERIFY, "s3://%s/%s differs from the bundle: %s %s, expected %s",
                      v->bucket, key, what, have ? have : "(none)", want ? want : "(none)");
}

static int verify_one(void *ud, dr_http *h, size_t i, dr_err *err)
{
    vctx *v = ud;
    const json_t *e = json_array_get(v->objs, i);
    const char *key = jstr(e, "key");
    vsink s = {.sha = EVP_MD_CTX_new()};
    EVP_DigestInit_ex(s.sha, EVP_sha256(), NULL);
    dr_aws_rest_req req = {
        .service = "s3",
        .region = v->region,
        .operation = "GetObject",
        .method = "GET",
        .bucket = v->bucket,
        .path = key,
        .resp_write = v_write,
        .resp_ud = &s,
    };
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = dr_aws_rest_on(v->aws, h, &req, &resp, err);
    unsigned char md[32];
    EVP_DigestFinal_ex(s.sha, md, NULL);
    EVP_MD_CTX_free(s.sha);
    if (rc != 0) {
        if (err->has_aws && err->aws.http_status == 404)
            err->code = DR_E_VERIFY;
        dr_aws_rest_resp_free(&resp);
        return dr_err_wrap(err, "verifying s3://%s/%s", v->bucket, key);
    }
    char hex[65];
    dr_rs_hex(md, 32, hex);
    uint64_t want_size = (uint64_t)json_integer_value(json_object_get(e, "size"));
    char a[32], b[32];
    if (s.n != want_size) {
        snprintf(a, sizeof(a), "%llu", (unsigned long long)want_size);
        snprintf(b, sizeof(b), "%llu", (unsigned long long)s.n);
        rc = differs(v, key, err, "size", a, b);
    } else if (strcmp(hex, jstr(e, "sha256")) != 0) {
        rc = differs(v, key, err, "SHA-256", jstr(e, "sha256"), hex);
    }
    static const char *const hdrs[][2] = {{"content_type", "content-type"},
                                          {"content_encoding", "content-encoding"},
                                          {"cache_control", "cache-control"},
                                          {"content_disposition", "content-disposition"}};
    for (size_t k = 0; rc == 0 && k < sizeof(hdrs) / sizeof(hdrs[0]); k++) {
        const char *want = jstr(e, hdrs[k][0]);
        const char *have = dr_kv_get(&resp.headers, hdrs[k][1]);
        if (want && (!have || strcmp(want, have) != 0))
            rc = differs(v, key, err, hdrs[k][1], want, have);
    }
    if (rc == 0) {
        json_t *um = json_object();
        for (size_t k = 0; k < resp.headers.n; k++)
            if (strncmp(resp.headers.items[k].name, "x-amz-meta-", 11) == 0)
                json_object_set_new(um, resp.headers.items[k].name + 11,
                                    header_string(resp.headers.items[k].value));
        const json_t *want = json_object_get(e, "metadata");
        json_t *empty = json_object();
        if (!json_equal(um, want ? (json_t *)want : empty)) {
            char *w = json_dumps(want ? want : empty, JSON_COMPACT | JSON_SORT_KEYS);
            char *hv = json_dumps(um, JSON_COMPACT | JSON_SORT_KEYS);
            rc = differs(v, key, err, "user metadata", w, hv);
            free(w);
            free(hv);
        }
        json_decref(empty);
        json_decref(um);
    }
    dr_aws_rest_resp_free(&resp);
    return rc;
}

typedef struct vlist {
    json_t *seen; /* key -> true */
    const json_t *by_key;
    size_t extra;
    char *first_extra;
} vlist;

static int vlist_cb(void *ud, const dr_s3_object_info *li)
{
    vlist *l = ud;
    if (!json_object_get(l->by_key, li->key)) {
        if (l->extra++ == 0)
            l->first_extra = dr_xstrdup(li->key);
        return 0;
    }
    json_object_set_new(l->seen, li->key, json_true());
    return 0;
}

int dr_restore_verify_objects(dr_restore_chain *c, dr_aws *aws, const char *region,
                              const char *bucket, int concurrency, size_t *checked, dr_err *err)
{
    if (checked)
        *checked = 0;
    if (!c->index)
        return dr_err_set(err, DR_E_NOT_FOUND, "bundle v%llu holds no objects (no %s)",
                          (unsigned long long)c->b[0].version, DR_OBJECTS_INDEX_PATH);
    const json_t *objs = json_object_get(c->index, "objects");
    json_t *by_key = json_object();
    size_t i;
    const json_t *e;
    json_array_foreach(objs, i, e) json_object_set_new(by_key, jstr(e, "key"), json_true());
    vlist l = {.seen = json_object(), .by_key = by_key};
    int rc = dr_s3_list(aws, region, bucket, NULL, vlist_cb, &l, err);
    if (rc != 0) {
        dr_err_wrap(err, "listing s3://%s", bucket);
    } else {
        size_t missing = 0;
        const char *first_missing = NULL;
        json_array_foreach(objs, i, e)
        {
            if (!json_object_get(l.seen, jstr(e, "key")) && missing++ == 0)
                first_missing = jstr(e, "key");
        }
        if (missing)
            rc = dr_err_set(err, DR_E_VERIFY,
                            "s3://%s lacks %zu object%s of bundle v%llu, the first %s", bucket,
                            missing, missing == 1 ? "" : "s", (unsigned long long)c->b[0].version,
                            first_missing);
        else if (l.extra)
            rc = dr_err_set(err, DR_E_VERIFY,
                            "s3://%s holds %zu object%s that bundle v%llu does not, the first %s",
                            bucket, l.extra, l.extra == 1 ? "" : "s",
                            (unsigned long long)c->b[0].version, l.first_extra);
    }
    if (rc == 0) {
        int conc = concurrency > 0 ? concurrency : DEFAULT_CONCURRENCY;
        if (conc > MAX_CONCURRENCY)
            conc = MAX_CONCURRENCY;
        vctx v = {.aws = aws, .region = region, .bucket = bucket, .objs = objs};
        rc = par_run(aws, conc, json_array_size(objs), verify_one, &v, err);
        if (rc == 0 && checked)
            *checked = json_array_size(objs);
    }
    free(l.first_extra);
    json_decref(l.seen);
    json_decref(by_key);
    return rc;
}
