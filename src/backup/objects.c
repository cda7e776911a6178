/*
 * objects.c - a bucket's objects into a bundle (objects.h).
 *
 * The shape: list, decide, then a producer/consumer pipeline. The objects
 * to download, in key order, are cut into a sequence of chunks (one per
 * object up to chunk_size, else ranged pieces of chunk_size). Worker
 * threads take chunks strictly in sequence order and download each into a
 * ring buffer of max_buffered bytes; the caller's thread reads the chunks
 * back in the same order through dr_bundle_writer_add_sized, one object per
 * entry, hashing as it goes, and frees ring space as each chunk is
 * consumed.
 *
 * Why a ring and not a malloc per chunk: chunks are reserved and released
 * in the same order, which is exactly a FIFO, so one allocation bounds the
 * memory to max_buffered for certain. Per-chunk allocations of up to 8 MiB
 * from several threads leave glibc's per-thread arenas fragmented and the
 * resident size well above what is actually held.
 *
 * Why taking chunks in sequence order cannot deadlock: the chunks held are
 * always a contiguous run of the sequence starting at the one the writer
 * needs next, so the writer's next chunk is either held (it will complete)
 * or is the next to be taken, and an empty ring always has room for it
 * (no chunk is bigger than the ring).
 *
 * Hashes (SHA-256 for the index, MD5 against the ETag) are computed on the
 * writer's thread, because a hash needs the bytes in order and that is the
 * one place that sees them in order.
 */
#include "backup/objects.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws/client_internal.h"
#include "aws/s3.h"
#include "util/mem.h"

#define DEFAULT_CONCURRENCY 8
#define MAX_CONCURRENCY 64
#define DEFAULT_CHUNK (8u * 1024u * 1024u)
#define DEFAULT_MAX_BUFFERED (16u * 1024u * 1024u)
/* Chunks taken but not yet consumed, at most: empty objects cost no ring
 * space, so the ring alone would not stop workers running ahead. */
#define QUEUE_PER_WORKER 8
#define QUEUE_MIN 32

/* ---- small helpers ------------------------------------------------------ */

static void hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void dr_objects_entry_path(const char *key, char out[76])
{
    unsigned char md[32];
    EVP_Digest(key, strlen(key), md, NULL, EVP_sha256(), NULL);
    memcpy(out, DR_OBJECTS_PREFIX, sizeof(DR_OBJECTS_PREFIX) - 1);
    hex(md, 32, out + sizeof(DR_OBJECTS_PREFIX) - 1);
}

/* A JSON string from an HTTP header value. Header bytes are not promised
 * to be UTF-8 (HTTP's historical charset is ISO-8859-1, and S3 sends
 * non-ASCII user metadata RFC 2047-encoded anyway): invalid UTF-8 is read
 * as Latin-1 so nothing is lost and the index stays valid JSON. */
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

static json_t *header_or_null(const dr_kvlist *h, const char *name)
{
    const char *v = dr_kv_get(h, name);
    return v ? header_string(v) : json_null();
}

/* ETag without its quotes (and without a weak "W/" prefix). */
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

/* 1 when the ETag is the MD5 of the content: one-part uploads (32 hex
 * digits; multipart ETags end in "-N") not encrypted with SSE-KMS or
 * SSE-C, whose ETags are not MD5 digests. */
static int etag_is_md5(const char *etag, const char *sse, int sse_c)
{
    if (strlen(etag) != 32 || sse_c || (sse && strncmp(sse, "aws:kms", 7) == 0))
        return 0;
    for (int i = 0; i < 32; i++)
        if (!strchr("0123456789abcdefABCDEF", etag[i]))
            return 0;
    return 1;
}

/* ---- the listing -------------------------------------------------------- */

typedef struct obj {
    char *key;
    uint64_t size;
    char etag[80];
    char last_modified[40];
    json_t *entry; /* the index entry once known (from the parent, or built) */
    /* Downloads: header-derived index fields, set by the worker that fetched
     * the object's first chunk (seen by the writer after that chunk is
     * done, under the lock). */
    json_t *meta;
    int sse_c;
} obj;

typedef struct listing {
    obj *v;
    size_t n, cap;
    int bad_key; /* a key that is not UTF-8 */
} listing;

static int list_cb(void *ud, const dr_s3_object_info *o)
{
    listing *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = dr_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    obj *b = &l->v[l->n++];
    memset(b, 0, sizeof(*b));
    b->key = dr_xstrdup(o->key);
    b->size = o->size > 0 ? (uint64_t)o->size : 0;
    snprintf(b->etag, sizeof(b->etag), "%s", o->etag);
    snprintf(b->last_modified, sizeof(b->last_modified), "%s", o->last_modified);
    return 0;
}

static int obj_cmp(const void *a, const void *b)
{
    return strcmp(((const obj *)a)->key, ((const obj *)b)->key);
}

static void listing_free(listing *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        json_decref(l->v[i].entry);
        json_decref(l->v[i].meta);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* ---- the parent index --------------------------------------------------- */

/* key -> parent entry (borrowed), for entries complete enough to copy. */
static int parent_map(const dr_objects_opts *o, json_t **out, dr_err *err)
{
    *out = NULL;
    const json_t *p = o->parent_index;
    if (!p)
        return 0;
    const json_t *objs = json_object_get(p, "objects");
    if (!json_is_object(p) || json_integer_value(json_object_get(p, "format")) != 1 ||
        !json_is_array(objs))
        return dr_err_set(err, DR_E_VERIFY,
                          "the parent bundle's %s is not an object index of format 1",
                          DR_OBJECTS_INDEX_PATH);
    const char *pb = json_string_value(json_object_get(p, "bucket"));
    if (!pb || strcmp(pb, o->bucket) != 0) {
        /* Another bucket: its entries describe other objects. */
        dr_warn(o->log, "the parent bundle captured bucket %s, not %s: capturing every object",
                pb ? pb : "(none)", o->bucket);
        return 0;
    }
    json_t *m = json_object();
    size_t i;
    const json_t *e;
    json_array_foreach(objs, i, e)
    {
        const char *k = json_string_value(json_object_get(e, "key"));
        json_int_t b = json_integer_value(json_object_get(e, "bundle"));
        /* An entry that cannot be copied whole is not referenced: the object
         * is captured again instead. */
        if (!k || !json_is_integer(json_object_get(e, "size")) ||
            !json_is_string(json_object_get(e, "etag")) ||
            !json_is_string(json_object_get(e, "sha256")) ||
            !json_is_string(json_object_get(e, "entry")) || b < 1 || (uint64_t)b >= o->version)
            continue;
        json_object_set(m, k, (json_t *)e);
    }
    *out = m;
    return 0;
}

/* ---- the pipeline ------------------------------------------------------- */

enum { SLOT_FREE = 0, SLOT_FETCHING, SLOT_DONE };

typedef struct slot {
    size_t obj;    /* index into the listing */
    unsigned part; /* 0-based chunk of that object */
    int ranged;
    uint64_t off, len; /* bytes of the object */
    char *buf;         /* in the ring */
    size_t cost;       /* ring bytes to release: len plus any skipped tail */
    uint64_t got;
    int state;
} slot;

typedef struct pipe_ {
    dr_aws *aws;
    const dr_objects_opts *o;
    listing *l;
    size_t *todo; /* listing indexes of the objects to download, in order */
    size_t n_todo;
    uint64_t chunk;

    pthread_mutex_t mu;
    pthread_cond_t space; /* ring space or a queue slot freed, or stop */
    pthread_cond_t done;  /* a chunk done, or stop */

    /* the ring */
    char *ring;
    size_t ring_size, head, used;

    /* the queue: sequence numbers [consumed, taken) are held */
    slot *q;
    size_t qcap;
    uint64_t taken, consumed;
    /* the next chunk to take */
    size_t next_todo;
    unsigned next_part;

    atomic_int stop;
    int failed;
    dr_err first_err;
} pipe_;

static void pipe_fail(pipe_ *p, const dr_err *e)
{
    pthread_mutex_lock(&p->mu);
    if (!p->failed) {
        p->failed = 1;
        p->first_err = *e;
    }
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->space);
    pthread_cond_broadcast(&p->done);
    pthread_mutex_unlock(&p->mu);
}

static uint64_t n_parts(const pipe_ *p, uint64_t size)
{
    return size <= p->chunk ? 1 : (size + p->chunk - 1) / p->chunk;
}

/* Under the lock: reserves ring space for the next chunk into s; 0 when it
 * does not fit yet. */
static int take_next(pipe_ *p, slot *s)
{
    if (p->taken - p->consumed >= p->qcap)
        return 0;
    const obj *b = &p->l->v[p->todo[p->next_todo]];
    uint64_t parts = n_parts(p, b->size);
    uint64_t off = (uint64_t)p->next_part * p->chunk;
    uint64_t len = parts == 1 ? b->size : (b->size - off < p->chunk ? b->size - off : p->chunk);
    if (p->used == 0)
        p->head = 0; /* all free: start over at the front, wasting nothing */
    int wrap = p->head + len > p->ring_size;
    size_t waste = wrap ? p->ring_size - p->head : 0;
    if (p->used + waste + len > p->ring_size)
        return 0;
    size_t at = wrap ? 0 : p->head;
    memset(s, 0, sizeof(*s));
    s->obj = p->todo[p->next_todo];
    s->part = p->next_part;
    s->ranged = parts > 1;
    s->off = off;
    s->len = len;
    s->buf = p->ring + at;
    s->cost = waste + (size_t)len;
    s->state = SLOT_FETCHING;
    p->head = at + (size_t)len;
    p->used += s->cost;
    if (++p->next_part == parts) {
        p->next_part = 0;
        p->next_todo++;
    }
    return 1;
}

typedef struct sink_ctx {
    pipe_ *p;
    slot *s;
    int overflow;
} sink_ctx;

static int chunk_sink(void *ud, const char *data, size_t n)
{
    sink_ctx *k = ud;
    if (atomic_load(&k->p->stop))
        return -1; /* another transfer failed: stop this one now */
    if (n > k->s->len - k->s->got) {
        k->overflow = 1;
        return -1;
    }
    memcpy(k->s->buf + k->s->got, data, n);
    k->s->got += n;
    return 0;
}

static int changed(pipe_ *p, const obj *b, const char *why, dr_err *err)
{
    dr_err_set(err, DR_E_VERIFY, "object s3://%s/%s changed during backup (%s)", p->o->bucket,
               b->key, why);
    return dr_err_hint(err, "run the backup again: it captures the versions it lists");
}

/* The index fields that come from the GET response's headers. */
static json_t *meta_from(const dr_kvlist *h, int *sse_c)
{
    json_t *um = json_object();
    for (size_t i = 0; i < h->n; i++)
        if (strncmp(h->items[i].name, "x-amz-meta-", 11) == 0)
            json_object_set_new(um, h->items[i].name + 11, header_string(h->items[i].value));
    const char *sc = dr_kv_get(h, "x-amz-storage-class");
    *sse_c = dr_kv_get(h, "x-amz-server-side-encryption-customer-algorithm") != NULL;
    json_t *m = json_object();
    json_object_set_new(m, "content_type", header_or_null(h, "content-type"));
    json_object_set_new(m, "content_encoding", header_or_null(h, "content-encoding"));
    json_object_set_new(m, "cache_control", header_or_null(h, "cache-control"));
    json_object_set_new(m, "content_disposition", header_or_null(h, "content-disposition"));
    json_object_set_new(m, "metadata", um);
    json_object_set_new(m, "sse", header_or_null(h, "x-amz-server-side-encryption"));
    json_object_set_new(m, "sse_kms_key_id",
                        header_or_null(h, "x-amz-server-side-encryption-aws-kms-key-id"));
    /* S3 names the storage class only when it is not STANDARD. */
    json_object_set_new(m, "storage_class", header_string(sc ? sc : "STANDARD"));
    return m;
}

/* Downloads one chunk into its ring space. */
static int fetch(pipe_ *p, dr_http *h, slot *s, dr_err *err)
{
    obj *b = &p->l->v[s->obj];
    dr_kvlist hd = DR_KVLIST_INIT;
    dr_kv_addf(&hd, "If-Match", "\"%s\"", b->etag);
    if (s->ranged)
        dr_kv_addf(&hd, "Range", "bytes=%llu-%llu", (unsigned long long)s->off,
                   (unsigned long long)(s->off + s->len - 1));
    sink_ctx k = {.p = p, .s = s};
    dr_aws_rest_req req = {
        .service = "s3",
        .region = p->o->region,
        .operation = "GetObject",
        .method = "GET",
        .bucket = p->o->bucket,
        .path = b->key,
        .headers = &hd,
        .resp_write = chunk_sink,
        .resp_ud = &k,
    };
    dr_aws_rest_resp resp;
    dr_aws_rest_resp_init(&resp);
    int rc = dr_aws_rest_on(p->aws, h, &req, &resp, err);
    dr_kv_free(&hd);
    if (rc != 0) {
        if (atomic_load(&p->stop)) {
            rc = -1; /* stopped for someone else's failure; theirs is reported */
        } else if (k.overflow) {
            rc = changed(p, b, "more bytes than listed", err);
        } else if (err->has_aws && (err->aws.http_status == 412 || err->aws.http_status == 404)) {
            rc = changed(
                p, b, err->aws.http_status == 404 ? "deleted" : "its ETag no longer matches", err);
        } else if (err->code == DR_E_VERIFY) {
            rc = dr_err_wrap(err, "object s3://%s/%s changed during backup", p->o->bucket, b->key);
        } else {
            rc = dr_err_wrap(err, "downloading s3://%s/%s", p->o->bucket, b->key);
        }
        dr_aws_rest_resp_free(&resp);
        return rc;
    }
    char et[80];
    bare_etag(dr_kv_get(&resp.headers, "etag"), et, sizeof(et));
    if (s->got != s->len)
        rc = changed(p, b, "fewer bytes than listed", err);
    else if (s->ranged && resp.status != 206)
        rc = dr_err_set(err, DR_E_AWS,
                        "downloading s3://%s/%s: S3 answered a ranged GET with HTTP %ld",
                        p->o->bucket, b->key, resp.status);
    else if (et[0] && strcmp(et, b->etag) != 0) /* a server that ignores If-Match */
        rc = changed(p, b, "its ETag no longer matches", err);
    if (rc == 0 && s->part == 0)
        b->meta = meta_from(&resp.headers, &b->sse_c);
    dr_aws_rest_resp_free(&resp);
    return rc;
}

static void *worker(void *arg)
{
    pipe_ *p = arg;
    dr_err err;
    dr_err_clear(&err);
    dr_http *h = dr_aws_conn_acquire(p->aws, &err);
    if (!h) {
        pipe_fail(p, &err);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&p->mu);
        slot *s = NULL;
        while (!atomic_load(&p->stop) && p->next_todo < p->n_todo) {
            slot *cand = &p->q[p->taken % p->qcap];
            if (take_next(p, cand)) {
                s = cand;
                p->taken++;
                break;
            }
            pthread_cond_wait(&p->space, &p->mu);
        }
        pthread_mutex_unlock(&p->mu);
        if (!s)
            break;
        if (fetch(p, h, s, &err) != 0) {
            pipe_fail(p, &err);
            break;
        }
        pthread_mutex_lock(&p->mu);
        s->state = SLOT_DONE;
        pthread_cond_broadcast(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
    dr_aws_conn_release(p->aws, h);
    return NULL;
}

/* The writer's side: one object's bytes, chunk after chunk, from the ring. */
typedef struct reader {
    pipe_ *p;
    size_t idx; /* listing index of the object */
    uint64_t parts_left;
    size_t pos; /* within the current chunk */
    EVP_MD_CTX *sha, *md5;
} reader;

/* Waits for the next chunk of the object; NULL when stopped. */
static slot *next_chunk(reader *r)
{
    pipe_ *p = r->p;
    pthread_mutex_lock(&p->mu);
    slot *s = &p->q[p->consumed % p->qcap];
    while (!atomic_load(&p->stop) && (p->consumed >= p->taken || s->state != SLOT_DONE))
        pthread_cond_wait(&p->done, &p->mu);
    int ok = !atomic_load(&p->stop);
    pthread_mutex_unlock(&p->mu);
    return ok ? s : NULL;
}

static void release_chunk(reader *r, slot *s)
{
    pipe_ *p = r->p;
    pthread_mutex_lock(&p->mu);
    p->used -= s->cost;
    s->state = SLOT_FREE;
    p->consumed++;
    pthread_cond_broadcast(&p->space);
    pthread_mutex_unlock(&p->mu);
    r->parts_left--;
    r->pos = 0;
}

static long reader_read(void *ud, char *buf, size_t n)
{
    reader *r = ud;
    while (r->parts_left > 0) {
        slot *s = next_chunk(r);
        if (!s)
            return -1;
        if (s->obj != r->idx) { /* cannot happen: the sequences agree */
            atomic_store(&r->p->stop, 1);
            return -1;
        }
        if (r->pos < s->len) {
            size_t k = (size_t)(s->len - r->pos);
            if (k > n)
                k = n;
            memcpy(buf, s->buf + r->pos, k);
            EVP_DigestUpdate(r->sha, buf, k);
            EVP_DigestUpdate(r->md5, buf, k);
            r->pos += k;
            if (r->pos == s->len)
                release_chunk(r, s);
            return (long)k;
        }
        release_chunk(r, s); /* an empty object's only chunk */
    }
    return 0;
}

static json_t *new_entry(const dr_objects_opts *o, const obj *b, const char *sha_hex,
                         const char *path)
{
    json_t *e = json_object();
    json_object_set_new(e, "key", json_string(b->key));
    json_object_set_new(e, "size", json_integer((json_int_t)b->size));
    json_object_set_new(e, "etag", json_string(b->etag));
    json_object_set_new(e, "sha256", json_string(sha_hex));
    json_object_set_new(e, "last_modified", json_string(b->last_modified));
    const char *k;
    json_t *v;
    json_object_foreach(b->meta, k, v) json_object_set(e, k, v);
    json_object_set_new(e, "entry", json_string(path));
    json_object_set_new(e, "bundle", json_integer((json_int_t)o->version));
    return e;
}

/* Writes the objects of p->todo into the bundle, in order. */
static int write_all(dr_bundle_writer *w, pipe_ *p, dr_objects_result *res, dr_err *err)
{
    const dr_objects_opts *o = p->o;
    reader r = {.p = p, .sha = EVP_MD_CTX_new(), .md5 = EVP_MD_CTX_new()};
    if (!r.sha || !r.md5) {
        EVP_MD_CTX_free(r.sha);
        EVP_MD_CTX_free(r.md5);
        return dr_err_set(err, DR_E_INTERNAL, "SHA-256/MD5 are not available");
    }
    int rc = 0;
    for (size_t i = 0; i < p->n_todo && rc == 0; i++) {
        obj *b = &p->l->v[p->todo[i]];
        char path[76];
        dr_objects_entry_path(b->key, path);
        r.idx = p->todo[i];
        r.parts_left = n_parts(p, b->size);
        r.pos = 0;
        EVP_DigestInit_ex(r.sha, EVP_sha256(), NULL);
        EVP_DigestInit_ex(r.md5, EVP_md5(), NULL);
        rc = dr_bundle_writer_add_sized(w, path, b->size, reader_read, &r, NULL, err);
        if (rc != 0) {
            pthread_mutex_lock(&p->mu);
            int theirs = p->failed;
            pthread_mutex_unlock(&p->mu);
            if (theirs) {
                *err = p->first_err; /* the transfer's failure, not its echo here */
            } else {
                dr_err_wrap(err, "s3://%s/%s", o->bucket, b->key);
                pipe_fail(p, err);
            }
            break;
        }
        unsigned char sha[32], md5[16];
        EVP_DigestFinal_ex(r.sha, sha, NULL);
        EVP_DigestFinal_ex(r.md5, md5, NULL);
        char sha_hex[65], md5_hex[33];
        hex(sha, 32, sha_hex);
        hex(md5, 16, md5_hex);
        /* The first chunk is done and consumed: its worker's meta is ours. */
        const char *sse = json_string_value(json_object_get(b->meta, "sse"));
        if (etag_is_md5(b->etag, sse, b->sse_c) && strcasecmp(md5_hex, b->etag) != 0) {
            rc = dr_err_set(err, DR_E_VERIFY,
                            "object s3://%s/%s: the downloaded bytes have MD5 %s, its ETag "
                            "says %s",
                            o->bucket, b->key, md5_hex, b->etag);
            pipe_fail(p, err);
            break;
        }
        b->entry = new_entry(o, b, sha_hex, path);
        res->captured++;
        res->bytes_captured += b->size;
        dr_info(o->log, "s3://%s/%s: captured, %llu bytes", o->bucket, b->key,
                (unsigned long long)b->size);
    }
    EVP_MD_CTX_free(r.sha);
    EVP_MD_CTX_free(r.md5);
    return rc;
}

/* Downloads and writes the objects of todo with the worker threads. */
static int run_pipeline(dr_bundle_writer *w, const dr_objects_opts *o, listing *l, size_t *todo,
                        size_t n_todo, uint64_t todo_bytes, dr_objects_result *res, dr_err *err)
{
    if (n_todo == 0)
        return 0;
    pipe_ p;
    memset(&p, 0, sizeof(p));
    p.aws = o->aws;
    p.o = o;
    p.l = l;
    p.todo = todo;
    p.n_todo = n_todo;
    size_t maxbuf = o->max_buffered ? o->max_buffered : DEFAULT_MAX_BUFFERED;
    p.chunk = o->chunk_size ? o->chunk_size : DEFAULT_CHUNK;
    if (p.chunk > maxbuf) /* a chunk must fit in the ring */
        p.chunk = maxbuf;
    /* No bigger than what there is to hold: a small bucket takes little. */
    p.ring_size = todo_bytes < maxbuf ? (size_t)todo_bytes : maxbuf;
    p.ring = dr_xmalloc(p.ring_size ? p.ring_size : 1);
    int conc = o->concurrency > 0 ? o->concurrency : DEFAULT_CONCURRENCY;
    if (conc > MAX_CONCURRENCY)
        conc = MAX_CONCURRENCY;
    uint64_t chunks = 0;
    for (size_t i = 0; i < n_todo; i++)
        chunks += n_parts(&p, l->v[todo[i]].size);
    if ((uint64_t)conc > chunks)
        conc = (int)chunks;
    p.qcap = (size_t)conc * QUEUE_PER_WORKER;
    if (p.qcap < QUEUE_MIN)
        p.qcap = QUEUE_MIN;
    p.q = dr_xcalloc(p.qcap, sizeof(*p.q));
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.space, NULL);
    pthread_cond_init(&p.done, NULL);
    atomic_init(&p.stop, 0);
    dr_err_clear(&p.first_err);

    pthread_t *th = dr_xcalloc((size_t)conc, sizeof(*th));
    int started = 0;
    for (int i = 0; i < conc; i++) {
        if (pthread_create(&th[i], NULL, worker, &p) != 0)
            break;
        started++;
    }
    int rc;
    if (started == 0)
        rc = dr_err_set(err, DR_E_INTERNAL, "cannot start a thread to download objects");
    else
        rc = write_all(w, &p, res, err);
    if (rc != 0)
        atomic_store(&p.stop, 1);
    pthread_mutex_lock(&p.mu);
    pthread_cond_broadcast(&p.space);
    pthread_mutex_unlock(&p.mu);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    /* A worker that failed after the writer finished cannot exist: the
     * writer consumed every chunk, so every fetch had succeeded. */
    free(th);
    pthread_cond_destroy(&p.space);
    pthread_cond_destroy(&p.done);
    pthread_mutex_destroy(&p.mu);
    free(p.q);
    free(p.ring);
    return rc;
}

/* ---- the capture -------------------------------------------------------- */

static void iso_now(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int dr_objects_capture(dr_bundle_writer *w, const dr_objects_opts *o, json_t **index_out,
                       dr_objects_result *res, dr_err *err)
{
    if (index_out)
        *index_out = NULL;
    dr_objects_result scratch;
    if (!res)
        res = &scratch;
    memset(res, 0, sizeof(*res));
    if (!o || !o->aws || !o->region || !o->bucket || !*o->bucket || o->version < 1)
        return dr_err_set(err, DR_E_USAGE,
                          "object capture: a client, region, bucket and version are required");

    json_t *parent = NULL;
    if (parent_map(o, &parent, err) != 0)
        return -1;

    char captured_at[32];
    iso_now(captured_at);
    listing l;
    memset(&l, 0, sizeof(l));
    if (dr_s3_list(o->aws, o->region, o->bucket, NULL, list_cb, &l, err) != 0) {
        listing_free(&l);
        json_decref(parent);
        return dr_err_wrap(err, "listing the objects of s3://%s", o->bucket);
    }
    if (l.n > 1) /* l.v is NULL for an empty bucket */
        qsort(l.v, l.n, sizeof(*l.v), obj_cmp);
    res->listed = l.n;

    /* Decide: reference what the parent has, download the rest. */
    size_t *todo = dr_xcalloc(l.n ? l.n : 1, sizeof(*todo));
    size_t n_todo = 0;
    uint64_t todo_bytes = 0, ref_bytes = 0;
    int rc = 0;
    for (size_t i = 0; i < l.n; i++) {
        obj *b = &l.v[i];
        res->bytes_total += b->size;
        json_t *ks = json_string(b->key); /* NULL for invalid UTF-8 */
        if (!ks) {
            rc = dr_err_set(err, DR_E_AWS, "s3://%s: the listing holds a key that is not UTF-8",
                            o->bucket);
            break;
        }
        json_decref(ks);
        const json_t *pe = parent ? json_object_get(parent, b->key) : NULL;
        if (pe && (uint64_t)json_integer_value(json_object_get(pe, "size")) == b->size &&
            strcmp(json_string_value(json_object_get(pe, "etag")), b->etag) == 0) {
            b->entry = json_deep_copy(pe);
            res->referenced++;
            ref_bytes += b->size;
            dr_info(o->log, "s3://%s/%s: unchanged, referenced from bundle %lld", o->bucket, b->key,
                    (long long)json_integer_value(json_object_get(pe, "bundle")));
            continue;
        }
        todo[n_todo++] = i;
        todo_bytes += b->size;
    }
    json_decref(parent);

    if (rc == 0)
        rc = run_pipeline(w, o, &l, todo, n_todo, todo_bytes, res, err);
    free(todo);

    json_t *index = NULL;
    if (rc == 0) {
        json_t *objs = json_array();
        for (size_t i = 0; i < l.n; i++)
            json_array_append(objs, l.v[i].entry);
        index = json_object();
        json_object_set_new(index, "format", json_integer(DR_OBJECTS_INDEX_FORMAT));
        json_object_set_new(index, "bucket", json_string(o->bucket));
        json_object_set_new(index, "region", json_string(o->region));
        json_object_set_new(index, "captured_at", json_string(captured_at));
        json_object_set_new(index, "objects", objs);
        json_object_set_new(
            index, "totals",
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "objects", (json_int_t)res->listed, "bytes",
                      (json_int_t)res->bytes_total, "captured", (json_int_t)res->captured,
                      "captured_bytes", (json_int_t)res->bytes_captured, "referenced",
                      (json_int_t)res->referenced, "referenced_bytes", (json_int_t)ref_bytes));
        char *text = json_dumps(index, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        rc = dr_bundle_writer_add_buffer(w, DR_OBJECTS_INDEX_PATH, text, strlen(text), NULL, err);
        free(text);
    }
    listing_free(&l);
    if (rc != 0) {
        json_decref(index);
        return -1;
    }
    dr_info(o->log, "s3://%s: %zu objects (%llu bytes): %zu captured (%llu bytes), %zu referenced",
            o->bucket, res->listed, (unsigned long long)res->bytes_total, res->captured,
            (unsigned long long)res->bytes_captured, res->referenced);
    if (index_out)
        *index_out = index;
    else
        json_decref(index);
    return 0;
}
