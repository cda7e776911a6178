/*
 * restore_db.c - db/dump.pgc into a database, then its table sums checked
 * (restore.h).
 *
 * The bundle reader pushes data (a scan with callbacks) and pg_restore pulls
 * it (a dr_read_fn): the single-job path runs the scan in a thread of its own
 * that hands over one verified part at a time (double-buffered: the next
 * part is read while the last is being restored), so pg_restore never sees a
 * byte whose part's SHA-256 has not matched, and memory is two parts. The
 * scan stops after the dump's last part: the rest of the bundle was verified
 * when the chain was opened.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "restore/restore_int.h"
#include "util/mem.h"

#define DUMP_STREAM "db/dump.pgc"

static int dump_info(dr_restore_chain *c, uint64_t *size, dr_err *err)
{
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(dr_restore_chain_manifest(c), "streams"), i, s)
    {
        const char *p = json_string_value(json_object_get(s, "path"));
        if (p && strcmp(p, DUMP_STREAM) == 0) {
            *size = (uint64_t)json_integer_value(json_object_get(s, "size"));
            return 0;
        }
    }
    return dr_err_set(err, DR_E_NOT_FOUND, "bundle v%llu holds no database dump (%s)",
                      (unsigned long long)c->b[0].version, DUMP_STREAM);
}

static int is_dump_part(const dr_bundle_entry *e)
{
    return e->stream && strcmp(e->stream, DUMP_STREAM) == 0;
}

/* ---- jobs > 1: into a private file ---------------------------------------- */

typedef struct to_file {
    int fd;
    uint64_t bytes;
    int done, stopped;
} to_file;

static int tf_begin(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    (void)ud;
    (void)err;
    return is_dump_part(e) ? 0 : 1;
}

static int tf_data(void *ud, const dr_bundle_entry *e, const void *p, size_t n, dr_err *err)
{
    to_file *t = ud;
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(t->fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return dr_err_set(err, DR_E_IO, "writing the dump of %s to the scratch file: %s",
                              e->path, strerror(errno));
        c += w;
        n -= (size_t)w;
        t->bytes += (uint64_t)w;
    }
    return 0;
}

static int tf_end(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    to_file *t = ud;
    if (!e->last_part)
        return 0;
    t->done = t->stopped = 1;
    return dr_err_set(err, DR_E_INTERNAL, "stop");
}

static int restore_via_file(dr_restore_chain *c, const dr_pg_restore_opts *po,
                            const char *scratch_dir, uint64_t *bytes, dr_err *err)
{
    const char *dir = scratch_dir && *scratch_dir ? scratch_dir : getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    char *path = dr_xasprintf("%s/.drctl-restore-%s-XXXXXX", dir, c->stack);
    int fd = mkstemp(path); /* 0600, O_EXCL */
    if (fd < 0) {
        dr_err_set(err, DR_E_IO, "creating a scratch file in %s: %s", dir, strerror(errno));
        free(path);
        return -1;
    }
    to_file t = {.fd = fd};
    dr_bundle_visitor v = {tf_begin, tf_data, tf_end, &t};
    int rc = dr_bundle_reader_scan(c->b[0].r, &v, err);
    if (rc != 0 && t.stopped) {
        dr_err_clear(err);
        rc = 0;
    }
    if (rc == 0 && !t.done)
        rc = dr_err_set(err, DR_E_VERIFY, "bundle v%llu: the dump's last part was not met",
                        (unsigned long long)c->b[0].version);
    if (close(fd) != 0 && rc == 0)
        rc = dr_err_set(err, DR_E_IO, "writing %s: %s", path, strerror(errno));
    if (rc == 0) {
        dr_info(c->log, "dump of %llu bytes written to a scratch file; pg_restore -j %d",
                (unsigned long long)t.bytes, po->jobs);
        rc = dr_pg_restore_file(po, path, err);
    }
    unlink(path);
    free(path);
    *bytes = t.bytes;
    return rc;
}

/* ---- single job: streamed through a thread --------------------------------- */

typedef struct feed {
    dr_bundle_reader *r;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* the part being filled by the scan */
    char *fill;
    size_t fill_len;
    /* the verified part being drained by pg_restore */
    char *cur;
    size_t cur_len, cur_pos;
    int ready;   /* cur holds a part to drain */
    int eof;     /* every part was handed over */
    int failed;  /* the scan failed: perr */
    int cancel;  /* the consumer is gone */
    int stopped; /* the scan was stopped after the last part */
    dr_err perr;
    uint64_t bytes;
} feed;

static int fd_begin(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    feed *f = ud;
    (void)err;
    if (!is_dump_part(e))
        return 1;
    free(f->fill);
    f->fill = dr_xmalloc(e->size ? (size_t)e->size : 1);
    f->fill_len = 0;
    return 0;
}

static int fd_data(void *ud, const dr_bundle_entry *e, const void *p, size_t n, dr_err *err)
{
    feed *f = ud;
    if (f->fill_len + n > e->size) /* the scan checks sizes; never trust a buffer blindly */
        return dr_err_set(err, DR_E_VERIFY, "bundle entry %s: more bytes than listed", e->path);
    memcpy(f->fill + f->fill_len, p, n);
    f->fill_len += n;
    return 0;
}

static int fd_end(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    feed *f = ud;
    pthread_mutex_lock(&f->mu);
    while (f->ready && !f->cancel)
        pthread_cond_wait(&f->cv, &f->mu);
    if (f->cancel) {
        pthread_mutex_unlock(&f->mu);
        return dr_err_set(err, DR_E_IO, "pg_restore stopped reading the dump");
    }
    free(f->cur);
    f->cur = f->fill;
    f->cur_len = f->fill_len;
    f->cur_pos = 0;
    f->fill = NULL;
    f->fill_len = 0;
    f->ready = 1;
    if (e->last_part)
        f->stopped = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (e->last_part)
        return dr_err_set(err, DR_E_INTERNAL, "stop");
    return 0;
}

static void *feed_main(void *arg)
{
    feed *f = arg;
    dr_bundle_visitor v = {fd_begin, fd_data, fd_end, f};
    dr_err e;
    dr_err_clear(&e);
    int rc = dr_bundle_reader_scan(f->r, &v, &e);
    pthread_mutex_lock(&f->mu);
    if (f->cancel && !f->stopped) {
        /* pg_restore ended first: its own words are the error */
    } else if (rc != 0 && !f->stopped) {
        f->failed = 1;
        f->perr = e;
    } else if (!f->stopped) {
        f->failed = 1;
        dr_err_set(&f->perr, DR_E_VERIFY, "the dump's last part was not met");
    } else {
        f->eof = 1;
    }
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

static long feed_read(void *ud, char *buf, size_t n)
{
    feed *f = ud;
    pthread_mutex_lock(&f->mu);
    while (!f->ready && !f->eof && !f->failed)
        pthread_cond_wait(&f->cv, &f->mu);
    long got = 0;
    if (f->ready) {
        size_t k = f->cur_len - f->cur_pos;
        if (k > n)
            k = n;
        memcpy(buf, f->cur + f->cur_pos, k);
        f->cur_pos += k;
        f->bytes += k;
        got = (long)k;
        if (f->cur_pos == f->cur_len) {
            f->ready = 0;
            pthread_cond_broadcast(&f->cv);
        }
        if (k == 0 && !f->ready) { /* an empty part: look again */
            pthread_mutex_unlock(&f->mu);
            return feed_read(ud, buf, n);
        }
    } else if (f->failed) {
        got = -1;
    }
    pthread_mutex_unlock(&f->mu);
    return got;
}

static int restore_streamed(dr_restore_chain *c, const dr_pg_restore_opts *po, uint64_t *bytes,
                            dr_err *err)
{
    feed f;
    memset(&f, 0, sizeof(f));
    f.r = c->b[0].r;
    pthread_mutex_init(&f.mu, NULL);
    pthread_cond_init(&f.cv, NULL);
    dr_err_clear(&f.perr);
    pthread_t th;
    int rc;
    if (pthread_create(&th, NULL, feed_main, &f) != 0) {
        rc = dr_err_set(err, DR_E_INTERNAL, "cannot start a thread to read the bundle");
    } else {
        rc = dr_pg_restore_stream(po, feed_read, &f, err);
        pthread_mutex_lock(&f.mu);
        f.cancel = 1;
        pthread_cond_broadcast(&f.cv);
        pthread_mutex_unlock(&f.mu);
        pthread_join(th, NULL);
        if (f.failed) /* the bundle's own words say more than "reading failed" */
            rc = (*err = f.perr, dr_err_wrap(err, "reading the dump from bundle v%llu",
                                             (unsigned long long)c->b[0].version));
    }
    *bytes = f.bytes;
    free(f.fill);
    free(f.cur);
    pthread_cond_destroy(&f.cv);
    pthread_mutex_destroy(&f.mu);
    return rc;
}

/* ---- the step -------------------------------------------------------------- */

static int compare_sums(dr_restore_chain *c, const dr_pg_conn *target, dr_pg_sums *want,
                        dr_err *err)
{
    if (!c->tables)
        return dr_err_set(err, DR_E_NOT_FOUND, "bundle v%llu has no db/tables.json",
                          (unsigned long long)c->b[0].version);
    if (dr_pg_sums_from_json(c->tables, want, err) != 0)
        return dr_err_wrap(err, "bundle v%llu: db/tables.json",
                           (unsigned long long)c->b[0].version);
    dr_pg_sums have = {0};
    int rc = dr_pg_table_sums(target, &have, err);
    if (rc == 0)
        rc = dr_pg_sums_compare(want, &have, err);
    if (rc != 0)
        dr_err_wrap(err, "the restored database against bundle v%llu",
                    (unsigned long long)c->b[0].version);
    dr_pg_sums_free(&have);
    return rc;
}

int dr_restore_db(dr_restore_chain *c, const dr_pg_conn *target, int jobs, const char *scratch_dir,
                  const dr_log *log, dr_restore_db_result *res, dr_err *err)
{
    dr_restore_db_result scratch;
    if (!res)
        res = &scratch;
    memset(res, 0, sizeof(*res));
    double t0 = dr_rs_now();
    uint64_t size = 0;
    if (dump_info(c, &size, err) != 0)
        return -1;
    if (!c->tables)
        return dr_err_set(err, DR_E_NOT_FOUND,
                          "bundle v%llu has no db/tables.json to check against",
                          (unsigned long long)c->b[0].version);
    dr_pg_restore_opts po = {.conn = *target, .clean = 1, .jobs = jobs > 1 ? jobs : 1, .log = log};
    uint64_t bytes = 0;
    int rc = jobs > 1 ? restore_via_file(c, &po, scratch_dir, &bytes, err)
                      : restore_streamed(c, &po, &bytes, err);
    if (rc != 0)
        return dr_err_wrap(err, "restoring the database from bundle v%llu",
                           (unsigned long long)c->b[0].version);
    if (bytes != size)
        return dr_err_set(err, DR_E_VERIFY,
                          "bundle v%llu: the dump has %llu bytes, its manifest %llu",
                          (unsigned long long)c->b[0].version, (unsigned long long)bytes,
                          (unsigned long long)size);
    dr_pg_sums want = {0};
    rc = compare_sums(c, target, &want, err);
    if (rc == 0) {
        res->tables = want.n;
        for (size_t i = 0; i < want.n; i++)
            res->rows += want.t[i].rows;
        res->dump_bytes = bytes;
        res->seconds = dr_rs_now() - t0;
        dr_notice(log,
                  "database restored from bundle v%llu: %zu tables, %lld rows, sums equal "
                  "(%.1f s)",
                  (unsigned long long)c->b[0].version, res->tables, (long long)res->rows,
                  res->seconds);
    }
    dr_pg_sums_free(&want);
    return rc;
}

int dr_restore_verify_db(dr_restore_chain *c, const dr_pg_conn *target, dr_err *err)
{
    dr_pg_sums want = {0};
    int rc = compare_sums(c, target, &want, err);
    dr_pg_sums_free(&want);
    return rc;
}
