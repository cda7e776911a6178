/*
 * chain.c - the bundles a restore reads, opened and verified (restore.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup/objects.h"
#include "restore/restore_int.h"
#include "util/mem.h"

/* Entries read into memory whole (indexes, tables, config) at most. */
#define MAX_MEMORY_ENTRY (1024ull * 1024 * 1024)

void dr_rs_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

double dr_rs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

dr_rs_bundle *dr_rs_find(dr_restore_chain *c, uint64_t version)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->b[i].version == version)
            return &c->b[i];
    return NULL;
}

void dr_restore_chain_free(dr_restore_chain *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        dr_bundle_reader_close(c->b[i].r);
        json_decref(c->b[i].entries);
        free(c->b[i].path);
    }
    free(c->b);
    free(c->versions);
    free(c->stack);
    json_decref(c->tables);
    json_decref(c->index);
    free(c);
}

const json_t *dr_restore_chain_manifest(const dr_restore_chain *c)
{
    return dr_bundle_reader_manifest(c->b[0].r);
}

const dr_bundle_info *dr_restore_chain_info(const dr_restore_chain *c)
{
    return dr_bundle_reader_info(c->b[0].r);
}

const json_t *dr_restore_chain_tables(const dr_restore_chain *c)
{
    return c->tables;
}

const json_t *dr_restore_chain_index(const dr_restore_chain *c)
{
    return c->index;
}

int64_t dr_restore_chain_captured_at(const dr_restore_chain *c)
{
    return c->captured_at;
}

size_t dr_restore_chain_versions(const dr_restore_chain *c, const uint64_t **versions)
{
    *versions = c->versions;
    return c->n;
}

/* ---- reading small entries ------------------------------------------------ */

/* Collects named entries into buffers; stops the scan once all are read. */
typedef struct collect {
    const char *const *paths;
    dr_buf *bufs;
    int *found;
    size_t n, left;
    int stop_when_done; /* 0 for the verifying pass: it must see the whole bundle */
    int stopped;
    int cur; /* index into paths, or -1 */
} collect;

static int col_begin(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    collect *k = ud;
    (void)err;
    k->cur = -1;
    for (size_t i = 0; i < k->n; i++) {
        if (!k->found[i] && strcmp(e->path, k->paths[i]) == 0) {
            if (e->size > MAX_MEMORY_ENTRY)
                return dr_err_set(err, DR_E_USAGE, "bundle entry %s: %llu bytes is too big to read",
                                  e->path, (unsigned long long)e->size);
            k->cur = (int)i;
            dr_buf_reset(&k->bufs[i]);
            return 0;
        }
    }
    return 1;
}

static int col_data(void *ud, const dr_bundle_entry *e, const void *p, size_t n, dr_err *err)
{
    collect *k = ud;
    (void)e;
    (void)err;
    if (k->cur >= 0)
        dr_buf_append(&k->bufs[k->cur], p, n);
    return 0;
}

static int col_end(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    collect *k = ud;
    (void)e;
    if (k->cur < 0)
        return 0;
    k->found[k->cur] = 1; /* its SHA-256 matched: scan calls end only then */
    k->cur = -1;
    if (--k->left == 0 && k->stop_when_done) {
        k->stopped = 1;
        return dr_err_set(err, DR_E_INTERNAL, "stop");
    }
    return 0;
}

static int collect_run(dr_bundle_reader *r, collect *k, dr_err *err)
{
    dr_bundle_visitor v = {col_begin, col_data, col_end, k};
    k->left = k->n;
    k->stopped = 0;
    if (k->left == 0 && k->stop_when_done)
        return 0;
    if (dr_bundle_reader_scan(r, &v, err) != 0) {
        if (!k->stopped)
            return -1;
        dr_err_clear(err);
    }
    return 0;
}

static const json_t *manifest_entry(const dr_rs_bundle *b, const char *path)
{
    return json_object_get(b->entries, path);
}

int dr_restore_chain_read_entry(dr_restore_chain *c, const char *path, dr_buf *out, dr_err *err)
{
    dr_buf_reset(out);
    const json_t *e = manifest_entry(&c->b[0], path);
    if (!e)
        return dr_err_set(err, DR_E_NOT_FOUND, "bundle v%llu has no entry %s",
                          (unsigned long long)c->b[0].version, path);
    if (json_object_get(e, "stream") || strcmp(path, DR_BUNDLE_SECRETS_PATH) == 0)
        return dr_err_set(err, DR_E_USAGE,
                          "bundle entry %s cannot be read as one buffer (a part of a stream, or "
                          "the sealed secrets)",
                          path);
    const char *paths[1] = {path};
    int found = 0;
    collect k = {.paths = paths, .bufs = out, .found = &found, .n = 1, .stop_when_done = 1};
    if (collect_run(c->b[0].r, &k, err) != 0)
        return dr_err_wrap(err, "reading %s from bundle v%llu", path,
                           (unsigned long long)c->b[0].version);
    if (!found)
        return dr_err_set(err, DR_E_NOT_FOUND, "bundle v%llu: entry %s was not met in its data",
                          (unsigned long long)c->b[0].version, path);
    dr_buf_append(out, "", 0); /* an empty entry is still a NUL-terminated buffer */
    return 0;
}

/* ---- opening -------------------------------------------------------------- */

static int file_sha256(const char *path, char out[65], dr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dr_err_set(err, DR_E_IO, "opening %s: %s", path, strerror(errno));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    size_t cap = 1u << 20;
    unsigned char *buf = dr_xmalloc(cap);
    ssize_t n;
    while ((n = read(fd, buf, cap)) > 0)
        EVP_DigestUpdate(md, buf, (size_t)n);
    int e = errno;
    close(fd);
    free(buf);
    unsigned char h[32];
    EVP_DigestFinal_ex(md, h, NULL);
    EVP_MD_CTX_free(md);
    if (n < 0)
        return dr_err_set(err, DR_E_IO, "reading %s: %s", path, strerror(e));
    dr_rs_hex(h, 32, out);
    return 0;
}

/* The local file of a store entry: in place, or fetched into cache_dir. */
static char *local_copy(dr_store *store, const dr_store_entry *e, const char *cache_dir,
                        const dr_log *log, dr_err *err)
{
    if (!dr_store_is_s3(store))
        return dr_xstrdup(e->location);
    if (!cache_dir || !*cache_dir) {
        dr_err_set(err, DR_E_USAGE, "restoring from %s needs a cache directory",
                   dr_store_describe(store));
        return NULL;
    }
    if (mkdir(cache_dir, 0700) != 0 && errno != EEXIST) {
        dr_err_set(err, DR_E_IO, "creating %s: %s", cache_dir, strerror(errno));
        return NULL;
    }
    char *path = dr_xasprintf("%s/%s", cache_dir, e->name);
    const char *want = json_string_value(json_object_get(e->summary, "file_sha256"));
    struct stat st;
    if (want && stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == e->size) {
        char have[65];
        dr_err tmp;
        dr_err_clear(&tmp);
        if (file_sha256(path, have, &tmp) == 0 && strcmp(have, want) == 0) {
            dr_info(log, "%s: using the copy in %s", e->name, cache_dir);
            return path;
        }
    }
    dr_notice(log, "fetching %s (%llu bytes) from %s to %s", e->name, (unsigned long long)e->size,
              dr_store_describe(store), cache_dir);
    if (dr_store_fetch(store, e, path, err) != 0) {
        free(path);
        return NULL;
    }
    if (want) {
        char have[65];
        if (file_sha256(path, have, err) != 0) {
            free(path);
            return NULL;
        }
        if (strcmp(have, want) != 0) {
            dr_err_set(err, DR_E_VERIFY,
                       "%s fetched from %s has SHA-256 %s, its summary says %s: the stored "
                       "bundle was altered or damaged",
                       e->name, dr_store_describe(store), have, want);
            unlink(path);
            free(path);
            return NULL;
        }
    }
    return path;
}

static int open_one(dr_restore_chain *c, dr_store *store, const dr_store_list *l, uint64_t version,
                    const dr_bundle_keyring *kr, const char *cache_dir, uint64_t referrer,
                    dr_err *err)
{
    const dr_store_entry *e = dr_store_list_find(l, version);
    if (!e) {
        if (referrer)
            dr_err_set(
                err, DR_E_NOT_FOUND,
                "bundle v%llu of %s, which holds objects that v%llu references, is not in %s",
                (unsigned long long)version, c->stack, (unsigned long long)referrer,
                dr_store_describe(store));
        else
            dr_err_set(err, DR_E_NOT_FOUND, "bundle v%llu of %s is not in %s",
                       (unsigned long long)version, c->stack, dr_store_describe(store));
        return -1;
    }
    dr_rs_bundle *b = &c->b[c->n];
    memset(b, 0, sizeof(*b));
    b->version = version;
    b->path = local_copy(store, e, cache_dir, c->log, err);
    if (!b->path)
        return -1;
    c->n++;
    if (dr_bundle_reader_open(b->path, kr, &b->r, err) != 0)
        return dr_err_wrap(err, "bundle v%llu (%s)", (unsigned long long)version, b->path);
    const dr_bundle_info *in = dr_bundle_reader_info(b->r);
    if (strcmp(in->stack, c->stack) != 0 || in->version != version)
        return dr_err_set(err, DR_E_VERIFY, "%s holds bundle v%llu of %s, not v%llu of %s", b->path,
                          (unsigned long long)in->version, in->stack, (unsigned long long)version,
                          c->stack);
    b->entries = json_object();
    size_t i;
    const json_t *me;
    json_array_foreach(json_object_get(dr_bundle_reader_manifest(b->r), "entries"), i, me)
    {
        const char *p = json_string_value(json_object_get(me, "path"));
        if (p)
            json_object_set(b->entries, p, (json_t *)me);
    }
    return 0;
}

static int parse_json_entry(const dr_buf *b, const char *path, uint64_t version, json_t **out,
                            dr_err *err)
{
    json_error_t je;
    *out = json_loadb(b->data ? b->data : "", b->len, 0, &je);
    if (!*out || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return dr_err_set(err, DR_E_VERIFY, "bundle v%llu: %s is not a JSON object (%s)",
                          (unsigned long long)version, path, je.text);
    }
    return 0;
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The index's entries are well formed; collects the versions they reference. */
static int check_index(dr_restore_chain *c, uint64_t **refs, size_t *n_refs, dr_err *err)
{
    const json_t *objs = json_object_get(c->index, "objects");
    uint64_t asked = c->b[0].version;
    if (json_integer_value(json_object_get(c->index, "format")) != DR_OBJECTS_INDEX_FORMAT ||
        !json_is_array(objs) || !json_is_string(json_object_get(c->index, "bucket")))
        return dr_err_set(err, DR_E_VERIFY, "bundle v%llu: %s is not an objects index of format %d",
                          (unsigned long long)asked, DR_OBJECTS_INDEX_PATH,
                          DR_OBJECTS_INDEX_FORMAT);
    size_t i, cap = 0;
    const json_t *o;
    json_array_foreach(objs, i, o)
    {
        const char *key = json_string_value(json_object_get(o, "key"));
        const char *sha = json_string_value(json_object_get(o, "sha256"));
        const char *entry = json_string_value(json_object_get(o, "entry"));
        json_int_t size = json_integer_value(json_object_get(o, "size"));
        json_int_t bv = json_integer_value(json_object_get(o, "bundle"));
        if (!key || !sha || strlen(sha) != 64 || !entry ||
            !json_is_integer(json_object_get(o, "size")) || size < 0 || bv < 1 ||
            (uint64_t)bv > asked)
            return dr_err_set(err, DR_E_VERIFY,
                              "bundle v%llu: %s entry %zu (%s) is malformed or references a "
                              "newer bundle",
                              (unsigned long long)asked, DR_OBJECTS_INDEX_PATH, i + 1,
                              key ? key : "no key");
        if ((uint64_t)bv == asked)
            continue;
        size_t k;
        for (k = 0; k < *n_refs && (*refs)[k] != (uint64_t)bv; k++)
            ;
        if (k < *n_refs)
            continue;
        if (*n_refs == cap) {
            cap = cap ? cap * 2 : 8;
            *refs = dr_xrealloc(*refs, cap * sizeof(**refs));
        }
        (*refs)[(*n_refs)++] = (uint64_t)bv;
    }
    if (*n_refs)
        qsort(*refs, *n_refs, sizeof(**refs), cmp_desc);
    return 0;
}

/* Every object's entry is in its bundle with the index's size and SHA-256. */
static int check_entries(dr_restore_chain *c, dr_err *err)
{
    size_t i;
    const json_t *o;
    json_array_foreach(json_object_get(c->index, "objects"), i, o)
    {
        const char *key = json_string_value(json_object_get(o, "key"));
        const char *entry = json_string_value(json_object_get(o, "entry"));
        uint64_t bv = (uint64_t)json_integer_value(json_object_get(o, "bundle"));
        dr_rs_bundle *b = dr_rs_find(c, bv);
        const json_t *me = b ? manifest_entry(b, entry) : NULL;
        if (!me)
            return dr_err_set(err, DR_E_VERIFY,
                              "object %s: bundle v%llu has no entry %s, which the index of v%llu "
                              "names",
                              key, (unsigned long long)bv, entry,
                              (unsigned long long)c->b[0].version);
        const char *sha = json_string_value(json_object_get(me, "sha256"));
        if (json_integer_value(json_object_get(me, "size")) !=
                json_integer_value(json_object_get(o, "size")) ||
            !sha || strcmp(sha, json_string_value(json_object_get(o, "sha256"))) != 0)
            return dr_err_set(err, DR_E_VERIFY,
                              "object %s: entry %s of bundle v%llu differs in size or SHA-256 "
                              "from the index of v%llu",
                              key, entry, (unsigned long long)bv,
                              (unsigned long long)c->b[0].version);
    }
    return 0;
}

int dr_restore_chain_open(dr_store *store, const char *stack, uint64_t version,
                          const dr_bundle_keyring *kr, const char *cache_dir, const dr_log *log,
                          dr_restore_chain **out, dr_err *err)
{
    *out = NULL;
    if (!store || !stack || !kr || version < 1)
        return dr_err_set(err, DR_E_USAGE,
                          "restore: a store, stack, version and keyring are needed");
    dr_store_list l = {0};
    if (dr_store_list(store, stack, &l, err) != 0)
        return -1;
    dr_restore_chain *c = dr_xcalloc(1, sizeof(*c));
    c->log = log;
    c->stack = dr_xstrdup(stack);
    c->b = dr_xcalloc(1, sizeof(*c->b));
    uint64_t *refs = NULL;
    size_t n_refs = 0;
    dr_buf bufs[2] = {DR_BUF_INIT, DR_BUF_INIT};
    int rc = -1;
    double t0 = dr_rs_now();

    if (open_one(c, store, &l, version, kr, cache_dir, 0, err) != 0)
        goto out;
    /* The asked bundle: its verifying pass reads the two JSON entries too. */
    const char *paths[2] = {"db/tables.json", DR_OBJECTS_INDEX_PATH};
    int found[2] = {0, 0};
    collect k = {.paths = paths, .bufs = bufs, .found = found, .n = 2};
    if (collect_run(c->b[0].r, &k, err) != 0) {
        dr_err_wrap(err, "bundle v%llu (%s)", (unsigned long long)version, c->b[0].path);
        goto out;
    }
    dr_info(log, "bundle v%llu verified", (unsigned long long)version);
    if (found[0] && parse_json_entry(&bufs[0], paths[0], version, &c->tables, err) != 0)
        goto out;
    if (found[1] && parse_json_entry(&bufs[1], paths[1], version, &c->index, err) != 0)
        goto out;
    c->captured_at = dr_bundle_reader_info(c->b[0].r)->captured_at;

    if (c->index && check_index(c, &refs, &n_refs, err) != 0)
        goto out;
    c->b = dr_xrealloc(c->b, (1 + n_refs) * sizeof(*c->b));
    for (size_t i = 0; i < n_refs; i++) {
        if (open_one(c, store, &l, refs[i], kr, cache_dir, version, err) != 0)
            goto out;
        if (dr_bundle_reader_verify(c->b[c->n - 1].r, err) != 0) {
            dr_err_wrap(err, "bundle v%llu (%s), which v%llu references",
                        (unsigned long long)refs[i], c->b[c->n - 1].path,
                        (unsigned long long)version);
            goto out;
        }
        dr_info(log, "bundle v%llu verified", (unsigned long long)refs[i]);
    }
    if (c->index && check_entries(c, err) != 0)
        goto out;
    c->versions = dr_xcalloc(c->n, sizeof(*c->versions));
    for (size_t i = 0; i < c->n; i++)
        c->versions[i] = c->b[i].version;
    dr_notice(log, "bundle v%llu of %s and %zu earlier bundle%s it references verified in %.1f s",
              (unsigned long long)version, stack, n_refs, n_refs == 1 ? "" : "s", dr_rs_now() - t0);
    rc = 0;
out:
    dr_buf_free(&bufs[0]);
    dr_buf_free(&bufs[1]);
    free(refs);
    dr_store_list_free(&l);
    if (rc != 0) {
        dr_restore_chain_free(c);
        return -1;
    }
    *out = c;
    return 0;
}
