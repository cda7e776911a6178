/*
 * s3.c - the S3 calls drctl uses (s3.h), on top of the client's rest path.
 *
 * Integrity: every upload carries x-amz-checksum-sha256 (base64), so S3
 * itself verifies what it stored, and the payload hash is signed whenever it
 * is known before sending. x-amz-sdk-checksum-algorithm is sent as botocore
 * sends it; moto 5.2.1 stores the checksum only when it is present (moto
 * does not verify checksums; AWS does). Multipart uploads are created with
 * x-amz-checksum-algorithm: SHA256 and each part carries its own checksum.
 *
 * Parallel parts: `concurrency` threads, each with its own libcurl handle
 * from the client's pool and one part buffer, so memory stays at
 * concurrency x part_size whatever the file size. Parts of a regular file
 * are read with pread (in any order); a pipe is read in order under a lock.
 */
#include "aws/s3.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>

#include "aws/client_internal.h"
#include "aws/sigv4.h"
#include "aws/xml.h"
#include "util/mem.h"

#define S3_DEFAULT_PART (8LL * 1024 * 1024)
#define S3_MAX_PARTS 10000
#define S3_MAX_CONCURRENCY 16
#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

void dr_s3_object_info_free(dr_s3_object_info *o)
{
    if (!o)
        return;
    free(o->key);
    free(o->content_type);
    free(o->version_id);
    dr_kv_free(&o->metadata);
    memset(o, 0, sizeof(*o));
}

static void info_init(dr_s3_object_info *o)
{
    memset(o, 0, sizeof(*o));
    dr_kv_init(&o->metadata);
}

static void copy_etag(char *dst, size_t n, const char *etag)
{
    if (!etag) {
        dst[0] = '\0';
        return;
    }
    size_t len = strlen(etag);
    if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"') {
        etag++;
        len -= 2;
    }
    if (len >= n)
        len = n - 1;
    memcpy(dst, etag, len);
    dst[len] = '\0';
}

/* Fills info from a HEAD/GET response. */
static void info_from_headers(dr_s3_object_info *o, const char *key, const dr_aws_rest_resp *r)
{
    o->key = dr_xstrdup(key);
    const char *v;
    int64_t s = 0, e = 0, t = -1;
    if (r->status == 206 && (v = dr_kv_get(&r->headers, "content-range")) &&
        dr_parse_content_range(v, &s, &e, &t) == 0 && t >= 0)
        o->size = t;
    else if ((v = dr_kv_get(&r->headers, "content-length")))
        o->size = strtoll(v, NULL, 10);
    copy_etag(o->etag, sizeof(o->etag), dr_kv_get(&r->headers, "etag"));
    if ((v = dr_kv_get(&r->headers, "last-modified")))
        snprintf(o->last_modified, sizeof(o->last_modified), "%s", v);
    if ((v = dr_kv_get(&r->headers, "content-type")))
        o->content_type = dr_xstrdup(v);
    if ((v = dr_kv_get(&r->headers, "x-amz-version-id")) && strcmp(v, "null") != 0)
        o->version_id = dr_xstrdup(v);
    for (size_t i = 0; i < r->headers.n; i++) {
        const char *name = r->headers.items[i].name;
        if (strncmp(name, "x-amz-meta-", 11) == 0)
            dr_kv_add(&o->metadata, name + 11, r->headers.items[i].value);
    }
}

/* 404s of object calls are "not found" for the caller, AWS details kept. */
static int not_found_code(dr_err *err)
{
    if (err->has_aws && err->aws.http_status == 404) {
        if (strncmp(err->aws.code, "HttpError", 9) == 0) {
            /* HEAD has no body: name the code as S3 does in GET errors */
            dr_aws_error a = err->aws;
            snprintf(a.code, sizeof(a.code), "NotFound");
            dr_err_set_aws(err, &a);
        }
        err->code = DR_E_NOT_FOUND;
    }
    return -1;
}

static void put_headers(dr_kvlist *h, const dr_s3_put_opts *opts, int for_create_mpu)
{
    const char *ct = opts && opts->content_type ? opts->content_type : "application/octet-stream";
    dr_kv_add(h, "Content-Type", ct);
    if (opts && opts->metadata) {
        for (size_t i = 0; i < opts->metadata->n; i++) {
            char *name = dr_xasprintf("x-amz-meta-%s", opts->metadata->items[i].name);
            dr_kv_add(h, name, opts->metadata->items[i].value);
            free(name);
        }
    }
    if (opts && opts->sse && *opts->sse) {
        dr_kv_add(h, "x-amz-server-side-encryption", opts->sse);
        if (opts->sse_kms_key_id && *opts->sse_kms_key_id)
            dr_kv_add(h, "x-amz-server-side-encryption-aws-kms-key-id", opts->sse_kms_key_id);
    }
    if (for_create_mpu)
        dr_kv_add(h, "x-amz-checksum-algorithm", "SHA256");
}

/* SHA-256 of a buffer as hex (for the signature) and base64 (for S3's
 * checksum header). */
static void sha256_both(const void *data, size_t len, char hex[65], char **b64)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    *b64 = dr_base64(md, 32);
}

/* ---- buckets ---- */

int dr_s3_create_bucket(dr_aws *c, const char *region, const char *bucket, dr_err *err)
{
    dr_endpoint ep;
    if (dr_aws_endpoint(c, "s3", region, &ep, err) != 0)
        return -1;
    /* us-east-1 is the one region that takes no LocationConstraint (and
     * refuses one naming itself). */
    char *body = NULL;
    if (strcmp(ep.signing_region, "us-east-1") != 0)
        body = dr_xasprintf("<CreateBucketConfiguration xmlns=\"" S3_XMLNS "\">"
                            "<LocationConstraint>%s</LocationConstraint>"
                            "</CreateBucketConfiguration>",
                            ep.signing_region);
    dr_kvlist h = DR_KVLIST_INIT;
    if (body)
        dr_kv_add(&h, "Content-Type", "application/xml");
    dr_aws_rest_req req = {
        .service = "s3",
        .region = ep.signing_region,
        .operation = "CreateBucket",
        .method = "PUT",
        .bucket = bucket,
        .headers = &h,
        .body = body,
        .body_len = body ? strlen(body) : 0,
    };
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = dr_aws_rest(c, &req, &resp, err);
    if (rc != 0 && err->has_aws && strcmp(err->aws.code, "BucketAlreadyOwnedByYou") == 0) {
        /* Ours already: creating is idempotent for the owner. */
        dr_info(dr_aws_log(c), "bucket %s already exists and is owned by these credentials",
                bucket);
        dr_err_clear(err);
        rc = 0;
    }
    dr_aws_rest_resp_free(&resp);
    dr_kv_free(&h);
    free(body);
    return rc;
}

/* ---- single PUT ---- */

int dr_s3_put_buffer(dr_aws *c, const char *region, const char *bucket, const char *key,
                     const void *data, size_t len, const dr_s3_put_opts *opts, dr_err *err)
{
    char hex[65];
    char *b64 = NULL;
    sha256_both(data ? data : "", len, hex, &b64);
    dr_kvlist h = DR_KVLIST_INIT;
    put_headers(&h, opts, 0);
    dr_kv_add(&h, "x-amz-checksum-sha256", b64);
    dr_kv_add(&h, "x-amz-sdk-checksum-algorithm", "SHA256");
    dr_aws_rest_req req = {
        .service = "s3",
        .region = region,
        .operation = "PutObject",
        .method = "PUT",
        .bucket = bucket,
        .path = key,
        .headers = &h,
        .body = data ? data : "",
        .body_len = len,
        .body_sha256 = hex,
    };
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = dr_aws_rest(c, &req, &resp, err);
    dr_aws_rest_resp_free(&resp);
    dr_kv_free(&h);
    free(b64);
    return rc;
}

/* A regular file streamed with pread from offset 0, rewindable. */
typedef struct fd_stream {
    int fd;
    int64_t size;
    int64_t pos;
} fd_stream;

static long fd_read(void *ud, char *buf, size_t n)
{
    fd_stream *s = ud;
    int64_t left = s->size - s->pos;
    if (left <= 0)
        return 0;
    if ((int64_t)n > left)
        n = (size_t)left;
    ssize_t r;
    do {
        r = pread(s->fd, buf, n, (off_t)s->pos);
    } while (r < 0 && errno == EINTR);
    if (r <= 0)
        return -1; /* an error, or the file is shorter than announced */
    s->pos += r;
    return (long)r;
}

static int fd_rewind(void *ud)
{
    ((fd_stream *)ud)->pos = 0;
    return 0;
}

/* Reads exactly n bytes at off (pread) or from the current position. */
static int read_full(int fd, int seekable, int64_t off, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = seekable ? pread(fd, buf + got, n - got, (off_t)(off + (int64_t)got))
                             : read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            errno = 0; /* end of input: the caller says "shorter than expected" */
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int put_file_single(dr_aws *c, const char *region, const char *bucket, const char *key,
                           int fd, int seekable, int64_t size, const dr_s3_put_opts *opts,
                           dr_err *err)
{
    if (!seekable) {
        /* A pipe cannot be read twice: take it into memory (at most the
         * multipart threshold). */
        char *buf = dr_xmalloc(size > 0 ? (size_t)size : 1);
        if (read_full(fd, 0, 0, buf, (size_t)size) != 0) {
            free(buf);
            return dr_err_set(err, DR_E_IO, "reading %lld bytes for s3://%s/%s: %s",
                              (long long)size, bucket, key,
                              errno ? strerror(errno) : "unexpected end of input");
        }
        int rc = dr_s3_put_buffer(c, region, bucket, key, buf, (size_t)size, opts, err);
        free(buf);
        return rc;
    }
    /* First pass: the hash, so the payload is signed and S3 checks it. */
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        return dr_err_set(err, DR_E_INTERNAL, "out of memory (EVP_MD_CTX)");
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    enum { CHUNK = 256 * 1024 };
    char *buf = dr_xmalloc(CHUNK);
    int64_t off = 0;
    while (off < size) {
        size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
        if (read_full(fd, 1, off, buf, n) != 0) {
            int e = errno;
            free(buf);
            EVP_MD_CTX_free(md);
            return dr_err_set(err, DR_E_IO, "reading %s bytes %lld.. for s3://%s/%s: %s", "file",
                              (long long)off, bucket, key,
                              e ? strerror(e) : "file shorter than expected");
        }
        EVP_DigestUpdate(md, buf, n);
        off += (int64_t)n;
    }
    free(buf);
    unsigned char digest[32];
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(md, digest, &dlen);
    EVP_MD_CTX_free(md);
    char hex[65];
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
    char *b64 = dr_base64(digest, 32);

    dr_kvlist h = DR_KVLIST_INIT;
    put_headers(&h, opts, 0);
    dr_kv_add(&h, "x-amz-checksum-sha256", b64);
    dr_kv_add(&h, "x-amz-sdk-checksum-algorithm", "SHA256");
    fd_stream st = {.fd = fd, .size = size, .pos = 0};
    dr_aws_rest_req req = {
        .service = "s3",
        .region = region,
        .operation = "PutObject",
        .method = "PUT",
        .bucket = bucket,
        .path = key,
        .headers = &h,
        .body_read = fd_read,
        .body_rewind = fd_rewind,
        .body_ud = &st,
        .body_size = size,
        .body_sha256 = hex,
    };
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = dr_aws_rest(c, &req, &resp, err);
    dr_aws_rest_resp_free(&resp);
    dr_kv_free(&h);
    free(b64);
    return rc;
}

/* ---- multipart ---- */

typedef struct mpu_part {
    char etag[128];
    char checksum[64]; /* base64 SHA-256 */
} mpu_part;

typedef struct mpu {
    dr_aws *c;
    const char *region, *bucket, *key, *upload_id;
    int fd;
    int seekable;
    int64_t size, part_size;
    int nparts;
    mpu_part *parts;

    pthread_mutex_t mu; /* next, failed, first_err, and reads of a pipe */
    int next;           /* next part number to take, 1-based */
    int failed;
    dr_err first_err;
} mpu;

static void mpu_fail(mpu *m, const dr_err *e)
{
    pthread_mutex_lock(&m->mu);
    if (!m->failed) {
        m->failed = 1;
        m->first_err = *e;
    }
    pthread_mutex_unlock(&m->mu);
}

static void *mpu_worker(void *arg)
{
    mpu *m = arg;
    dr_err err;
    dr_err_clear(&err);
    dr_http *h = dr_aws_conn_acquire(m->c, &err);
    if (!h) {
        mpu_fail(m, &err);
        return NULL;
    }
    char *buf = dr_xmalloc((size_t)m->part_size);
    for (;;) {
        pthread_mutex_lock(&m->mu);
        if (m->failed || m->next > m->nparts) {
            pthread_mutex_unlock(&m->mu);
            break;
        }
        int pn = m->next++;
        int64_t off = (int64_t)(pn - 1) * m->part_size;
        size_t n = (size_t)(m->size - off < m->part_size ? m->size - off : m->part_size);
        int rrc = 0, rerr = 0;
        if (!m->seekable) { /* in order, under the lock */
            rrc = read_full(m->fd, 0, off, buf, n);
            rerr = errno;
        }
        pthread_mutex_unlock(&m->mu);
        if (m->seekable) {
            rrc = read_full(m->fd, 1, off, buf, n);
            rerr = errno;
        }
        if (rrc != 0) {
            dr_err_set(&err, DR_E_IO, "reading part %d of %d (bytes %lld..): %s", pn, m->nparts,
                       (long long)off, rerr ? strerror(rerr) : "input shorter than expected");
            mpu_fail(m, &err);
            break;
        }
        char hex[65];
        char *b64 = NULL;
        sha256_both(buf, n, hex, &b64);
        dr_kvlist q = DR_KVLIST_INIT;
        dr_kv_addf(&q, "partNumber", "%d", pn);
        dr_kv_add(&q, "uploadId", m->upload_id);
        dr_kvlist hd = DR_KVLIST_INIT;
        dr_kv_add(&hd, "Content-Type", "application/octet-stream");
        dr_kv_add(&hd, "x-amz-checksum-sha256", b64);
        dr_kv_add(&hd, "x-amz-sdk-checksum-algorithm", "SHA256");
        dr_aws_rest_req req = {
            .service = "s3",
            .region = m->region,
            .operation = "UploadPart",
            .method = "PUT",
            .bucket = m->bucket,
            .path = m->key,
            .query = &q,
            .headers = &hd,
            .body = buf,
            .body_len = n,
            .body_sha256 = hex,
        };
        dr_aws_rest_resp resp;
        dr_aws_rest_resp_init(&resp);
        int rc = dr_aws_rest_on(m->c, h, &req, &resp, &err);
        if (rc == 0) {
            const char *et = dr_kv_get(&resp.headers, "etag");
            if (!et || !*et) {
                dr_err_set(&err, DR_E_AWS,
                           "s3 UploadPart: part %d of s3://%s/%s: no ETag in "
                           "the response",
                           pn, m->bucket, m->key);
                rc = -1;
            } else {
                snprintf(m->parts[pn - 1].etag, sizeof(m->parts[pn - 1].etag), "%s", et);
                snprintf(m->parts[pn - 1].checksum, sizeof(m->parts[pn - 1].checksum), "%s", b64);
            }
        }
        dr_aws_rest_resp_free(&resp);
        dr_kv_free(&q);
        dr_kv_free(&hd);
        free(b64);
        if (rc != 0) {
            dr_err_wrap(&err, "part %d of %d", pn, m->nparts);
            mpu_fail(m, &err);
            break;
        }
    }
    free(buf);
    dr_aws_conn_release(m->c, h);
    return NULL;
}

static int mpu_abort(dr_aws *c, const char *region, const char *bucket, const char *key,
                     const char *upload_id)
{
    dr_err e;
    dr_err_clear(&e);
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "uploadId", upload_id);
    dr_aws_rest_req req = {
        .service = "s3",
        .region = region,
        .operation = "AbortMultipartUpload",
        .method = "DELETE",
        .bucket = bucket,
        .path = key,
        .query = &q,
    };
    int rc = dr_aws_rest(c, &req, NULL, &e);
    if (rc != 0)
        dr_warn(dr_aws_log(c),
                "could not abort multipart upload %s of s3://%s/%s (its parts stay billed "
                "until a lifecycle rule removes them): %s",
                upload_id, bucket, key, e.msg);
    dr_kv_free(&q);
    return rc;
}

static int put_file_multipart(dr_aws *c, const char *region, const char *bucket, const char *key,
                              int fd, int seekable, int64_t size, const dr_s3_put_opts *opts,
                              dr_err *err)
{
    int64_t part = opts && opts->part_size > 0 ? opts->part_size : S3_DEFAULT_PART;
    if (part < DR_S3_MIN_PART)
        part = DR_S3_MIN_PART;
    if ((size + part - 1) / part > S3_MAX_PARTS) {
        /* S3 allows 10000 parts: grow parts in whole MiB until it fits. */
        int64_t mib = 1024 * 1024;
        part = ((size + S3_MAX_PARTS - 1) / S3_MAX_PARTS + mib - 1) / mib * mib;
    }
    int nparts = (int)((size + part - 1) / part);
    int conc = opts && opts->concurrency > 0 ? opts->concurrency : 4;
    if (conc > S3_MAX_CONCURRENCY)
        conc = S3_MAX_CONCURRENCY;
    if (conc > nparts)
        conc = nparts;

    /* Create */
    dr_kvlist h = DR_KVLIST_INIT;
    put_headers(&h, opts, 1);
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "uploads", "");
    dr_aws_rest_req creq = {
        .service = "s3",
        .region = region,
        .operation = "CreateMultipartUpload",
        .method = "POST",
        .bucket = bucket,
        .path = key,
        .query = &q,
        .headers = &h,
    };
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = dr_aws_rest(c, &creq, &resp, err);
    dr_kv_free(&h);
    dr_kv_free(&q);
    char *upload_id = NULL;
    if (rc == 0) {
        xmlDocPtr d = dr_xml_parse(resp.body.data, resp.body.len);
        if (d)
            upload_id = dr_xml_text(xmlDocGetRootElement(d), "UploadId");
        xmlFreeDoc(d);
        if (!upload_id || !*upload_id) {
            free(upload_id);
            upload_id = NULL;
            rc = dr_err_set(err, DR_E_AWS,
                            "s3 CreateMultipartUpload: s3://%s/%s: no UploadId in the response",
                            bucket, key);
        }
    }
    dr_aws_rest_resp_free(&resp);
    if (rc != 0)
        return -1;

    dr_debug(dr_aws_log(c),
             "multipart upload of s3://%s/%s: %d parts of %lld bytes, %d in "
             "parallel",
             bucket, key, nparts, (long long)part, conc);

    /* Parts */
    mpu m = {
        .c = c,
        .region = region,
        .bucket = bucket,
        .key = key,
        .upload_id = upload_id,
        .fd = fd,
        .seekable = seekable,
        .size = size,
        .part_size = part,
        .nparts = nparts,
        .next = 1,
    };
    m.parts = dr_xcalloc((size_t)nparts, sizeof(*m.parts));
    pthread_mutex_init(&m.mu, NULL);
    pthread_t *th = dr_xcalloc((size_t)conc, sizeof(*th));
    int started = 0;
    for (int i = 0; i < conc; i++) {
        if (pthread_create(&th[i], NULL, mpu_worker, &m) != 0)
            break;
        started++;
    }
    if (started == 0) /* no threads to be had: do it on this one */
        mpu_worker(&m);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    pthread_mutex_destroy(&m.mu);

    if (m.failed) {
        *err = m.first_err;
        dr_err_wrap(err, "uploading s3://%s/%s", bucket, key);
        mpu_abort(c, region, bucket, key, upload_id);
        free(m.parts);
        free(upload_id);
        return -1;
    }

    /* Complete */
    dr_buf body = DR_BUF_INIT;
    dr_buf_puts(&body, "<CompleteMultipartUpload xmlns=\"" S3_XMLNS "\">");
    for (int i = 0; i < nparts; i++) {
        /* ETags are quoted hex: nothing to escape. Checksums are base64. */
        dr_buf_printf(&body,
                      "<Part><ETag>%s</ETag><ChecksumSHA256>%s</ChecksumSHA256>"
                      "<PartNumber>%d</PartNumber></Part>",
                      m.parts[i].etag, m.parts[i].checksum, i + 1);
    }
    dr_buf_puts(&body, "</CompleteMultipartUpload>");
    free(m.parts);
    dr_kvlist q2 = DR_KVLIST_INIT;
    dr_kv_add(&q2, "uploadId", upload_id);
    dr_kvlist h2 = DR_KVLIST_INIT;
    dr_kv_add(&h2, "Content-Type", "application/xml");
    dr_aws_rest_req kreq = {
        .service = "s3",
        .region = region,
        .operation = "CompleteMultipartUpload",
        .method = "POST",
        .bucket = bucket,
        .path = key,
        .query = &q2,
        .headers = &h2,
        .body = body.data,
        .body_len = body.len,
    };
    dr_aws_rest_resp_init(&resp);
    rc = dr_aws_rest(c, &kreq, &resp, err);
    dr_aws_rest_resp_free(&resp);
    dr_kv_free(&q2);
    dr_kv_free(&h2);
    dr_buf_free(&body);
    if (rc != 0)
        mpu_abort(c, region, bucket, key, upload_id);
    free(upload_id);
    return rc;
}

int dr_s3_put_file(dr_aws *c, const char *region, const char *bucket, const char *key, int fd,
                   int64_t size, const dr_s3_put_opts *opts, dr_err *err)
{
    if (size < 0)
        return dr_err_set(err, DR_E_INTERNAL, "s3 put of s3://%s/%s: negative size", bucket, key);
    /* pread at offset 0 works on regular files (and block devices); a pipe
     * answers ESPIPE. */
    char probe;
    int seekable = pread(fd, &probe, 0, 0) == 0;
    if (size <= DR_S3_MULTIPART_THRESHOLD)
        return put_file_single(c, region, bucket, key, fd, seekable, size, opts, err);
    return put_file_multipart(c, region, bucket, key, fd, seekable, size, opts, err);
}

/* ---- GET / HEAD / DELETE ---- */

int dr_s3_get(dr_aws *c, const char *region, const char *bucket, const char *key, dr_write_fn sink,
              void *sink_ud, dr_s3_object_info *info, dr_err *err)
{
    if (info)
        info_init(info);
    dr_aws_rest_req req = {
        .service = "s3",
        .region = region,
        .operation = "GetObject",
        .method = "GET",
        .bucket = bucket,
        .path = key,
        .resp_write = sink,
        .resp_ud = sink_ud,
    };
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = dr_aws_rest(c, &req, &resp, err);
    if (rc == 0 && info)
        info_from_headers(info, key, &resp);
    dr_aws_rest_resp_free(&resp);
    return rc == 0 ? 0 : not_found_code(err);
}

int dr_s3_head(dr_aws *c, const char *region, const char *bucket, const char *key,
               dr_s3_object_info *info, dr_err *err)
{
    if (info)
        info_init(info);
    dr_aws_rest_req req = {
        .service = "s3",
        .region = region,
        .operation = "HeadObject",
        .method = "HEAD",
        .bucket = bucket,
        .path = key,
    };
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = dr_aws_rest(c, &req, &resp, err);
    if (rc == 0 && info)
        info_from_headers(info, key, &resp);
    dr_aws_rest_resp_free(&resp);
    return rc == 0 ? 0 : not_found_code(err);
}

int dr_s3_delete(dr_aws *c, const char *region, const char *bucket, const char *key, dr_err *err)
{
    dr_aws_rest_req req = {
        .service = "s3",
        .region = region,
        .operation = "DeleteObject",
        .method = "DELETE",
        .bucket = bucket,
        .path = key,
    };
    return dr_aws_rest(c, &req, NULL, err);
}

/* ---- LIST ---- */

static int64_t text_i64(xmlNodePtr n, const char *path)
{
    char *s = dr_xml_text(n, path);
    int64_t v = s ? strtoll(s, NULL, 10) : 0;
    free(s);
    return v;
}

int dr_s3_list(dr_aws *c, const char *region, const char *bucket, const char *prefix,
               dr_s3_list_fn fn, void *ud, dr_err *err)
{
    char *token = NULL;
    int rc = 0, stop = 0;
    do {
        dr_kvlist q = DR_KVLIST_INIT;
        dr_kv_add(&q, "list-type", "2");
        /* Keys come back percent-encoded: raw keys may hold characters that
         * XML 1.0 cannot carry. */
        dr_kv_add(&q, "encoding-type", "url");
        if (prefix && *prefix)
            dr_kv_add(&q, "prefix", prefix);
        if (token)
            dr_kv_add(&q, "continuation-token", token);
        dr_aws_rest_req req = {
            .service = "s3",
            .region = region,
            .operation = "ListObjectsV2",
            .method = "GET",
            .bucket = bucket,
            .query = &q,
        };
        dr_aws_rest_resp resp;
        dr_aws_rest_resp_init(&resp);
        rc = dr_aws_rest(c, &req, &resp, err);
        dr_kv_free(&q);
        free(token);
        token = NULL;
        if (rc != 0) {
            dr_aws_rest_resp_free(&resp);
            break;
        }
        xmlDocPtr d = dr_xml_parse(resp.body.data, resp.body.len);
        dr_aws_rest_resp_free(&resp);
        if (!d) {
            rc =
                dr_err_set(err, DR_E_AWS, "s3 ListObjectsV2: s3://%s: response is not XML", bucket);
            break;
        }
        xmlNodePtr root = xmlDocGetRootElement(d);
        char *enc = dr_xml_text(root, "EncodingType");
        int decode = enc && strcmp(enc, "url") == 0;
        free(enc);
        for (xmlNodePtr n = dr_xml_find(root, "Contents"); n && !stop; n = dr_xml_next_same(n)) {
            dr_s3_object_info o;
            info_init(&o);
            char *k = dr_xml_text(n, "Key");
            if (!k) {
                dr_s3_object_info_free(&o);
                continue;
            }
            if (decode) {
                o.key = dr_url_decode(k, 1);
                free(k);
            } else {
                o.key = k;
            }
            o.size = text_i64(n, "Size");
            char *et = dr_xml_text(n, "ETag");
            copy_etag(o.etag, sizeof(o.etag), et);
            free(et);
            char *lm = dr_xml_text(n, "LastModified");
            if (lm)
                snprintf(o.last_modified, sizeof(o.last_modified), "%s", lm);
            free(lm);
            if (fn(ud, &o) != 0)
                stop = 1;
            dr_s3_object_info_free(&o);
        }
        char *trunc = dr_xml_text(root, "IsTruncated");
        if (!stop && trunc && strcmp(trunc, "true") == 0) {
            token = dr_xml_text(root, "NextContinuationToken");
            if (!token || !*token) {
                free(token);
                token = NULL;
                rc = dr_err_set(err, DR_E_AWS,
                                "s3 ListObjectsV2: s3://%s: truncated listing without a "
                                "continuation token",
                                bucket);
            }
        }
        free(trunc);
        xmlFreeDoc(d);
    } while (token && rc == 0);
    free(token);
    return rc;
}
