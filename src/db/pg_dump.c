/*
 * pg_dump.c - the streamed, consistent dump and the two restores.
 *
 * The dump runs three things at once: connection A holding the exported
 * snapshot (idle in its transaction until finish: the snapshot lives only as
 * long as the transaction that exported it), pg_dump reading that snapshot
 * and writing the archive to our pipe, and a thread computing the table sums
 * of the same snapshot on its own connection. The caller pulls the archive
 * through dr_pg_dump_read into whatever it streams to (a bundle, a file, a
 * restore), so no byte of the dump is staged on disk here. The sums cost no
 * wall time as long as they finish before pg_dump does.
 *
 * The restore from a stream pushes the caller's bytes into pg_restore's
 * stdin from the calling thread; the pipe (1 MiB when the kernel allows)
 * lets the reader and pg_restore overlap.
 */
#include "db/pg_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/dbmap.h"
#include "util/mem.h"

#define PIPE_SIZE (1024 * 1024)
/* Connections computing the sums during a dump: pg_dump and its server
 * backend already keep a core busy; one scan beside them overlaps without
 * slowing the dump. */
#define DUMP_SUM_WORKERS 1

struct dr_pg_dump {
    const dr_log *log;
    PGconn *a; /* holds the snapshot */
    dr_pg_child ch;
    int out_fd; /* read end of pg_dump's stdout */
    int eof;
    int read_errno;
    uint64_t bytes;
    struct timespec t0;
    dr_pg_dump_info info;

    dr_pg_sums_job *job;
    pthread_t thread;
    int thread_started;
    int sums_rc;
    dr_err sums_err;
    dr_pg_sums sums;
};

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void pipe_grow(int fd)
{
    /* Fewer wakeups per MiB. Refused above /proc/sys/fs/pipe-max-size for
     * unprivileged users: then the default 64 KiB pipe it is. */
    (void)fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE);
}

static void *sums_thread(void *arg)
{
    dr_pg_dump *d = arg;
    d->sums_rc = dr_pg_sums_job_run(d->job, &d->sums, &d->sums_err);
    return NULL;
}

/* Everything but freeing d: stop the sums, kill pg_dump, end the
 * transaction, remove the private directory. */
static void dump_teardown(dr_pg_dump *d)
{
    if (d->thread_started) {
        dr_pg_sums_job_cancel(d->job);
        pthread_join(d->thread, NULL);
        d->thread_started = 0;
    }
    dr_pg_child_kill(&d->ch);
    if (d->out_fd >= 0) {
        close(d->out_fd);
        d->out_fd = -1;
    }
    if (d->a) {
        if (PQtransactionStatus(d->a) != PQTRANS_IDLE) {
            PGresult *res = PQexec(d->a, "ROLLBACK");
            PQclear(res);
        }
        PQfinish(d->a);
        d->a = NULL;
    }
    dr_pg_child_cleanup(&d->ch);
    dr_pg_sums_job_free(d->job);
    d->job = NULL;
    dr_pg_sums_free(&d->sums);
}

static const char *program(const char *given, const char *env, const char *dflt)
{
    if (given && *given)
        return given;
    const char *e = getenv(env);
    return e && *e ? e : dflt;
}

int dr_pg_dump_start(const dr_pg_dump_opts *o, dr_pg_dump **out, dr_err *err)
{
    *out = NULL;
    dr_pg_dump *d = dr_xcalloc(1, sizeof(*d));
    d->log = o->log;
    d->out_fd = -1;
    d->ch.errfd = -1;
    clock_gettime(CLOCK_MONOTONIC, &d->t0);
    const char *prog = program(o->pg_dump, "DRCTL_PG_DUMP", "pg_dump");
    int compress = o->compress < 0 ? 0 : o->compress > 9 ? 9 : o->compress;

    d->a = dr_pg_connect(&o->conn, "pg_dump", err);
    if (!d->a)
        goto fail;
    if (dr_pg_exec(d->a, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "pg_dump: snapshot",
                   err) != 0)
        goto fail;
    /* The snapshot is taken when this statement starts, after its
     * statement_timestamp: so captured_at never claims a later recovery
     * point than the snapshot really has. */
    PGresult *res = PQexec(
        d->a, "SELECT pg_export_snapshot(), "
              "floor(extract(epoch FROM statement_timestamp()))::bigint, current_database()");
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        dr_pg_conn_err(err, DR_E_IO, d->a, res, "pg_dump: exporting the snapshot");
        PQclear(res);
        goto fail;
    }
    snprintf(d->info.snapshot, sizeof(d->info.snapshot), "%s", PQgetvalue(res, 0, 0));
    d->info.captured_at = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    snprintf(d->info.database, sizeof(d->info.database), "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    const char *ver = PQparameterStatus(d->a, "server_version");
    /* "15.18 (Debian 15.18-0+deb12u1)" -> "15.18" */
    snprintf(d->info.server_version, sizeof(d->info.server_version), "%.*s",
             ver ? (int)strcspn(ver, " ") : 0, ver ? ver : "");

    if (dr_pg_child_prepare(&d->ch, d->a, "pg_dump", err) != 0)
        goto fail;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        dr_err_set(err, DR_E_IO, "pg_dump: pipe: %s", strerror(errno));
        goto fail;
    }
    pipe_grow(p[0]);
    d->out_fd = p[0];
    char zopt[16], snap[96];
    snprintf(zopt, sizeof(zopt), "-Z%d", compress);
    snprintf(snap, sizeof(snap), "--snapshot=%s", d->info.snapshot);
    char *argv[] = {(char *)prog, "-Fc", zopt, snap, "--no-password", NULL};
    int rc = dr_pg_child_spawn(&d->ch, prog, argv, -1, p[1], err);
    close(p[1]);
    if (rc != 0)
        goto fail;

    d->job = dr_pg_sums_job_new(&o->conn, d->info.snapshot, DUMP_SUM_WORKERS, o->log);
    dr_err_clear(&d->sums_err);
    if (pthread_create(&d->thread, NULL, sums_thread, d) != 0) {
        dr_err_set(err, DR_E_INTERNAL, "pg_dump: cannot start the table sums thread");
        goto fail;
    }
    d->thread_started = 1;
    char *where = dr_dbmap_describe(o->conn.conninfo ? o->conn.conninfo : "");
    dr_info(o->log, "pg_dump: %s (PostgreSQL %s), snapshot %s, pid %ld", where,
            d->info.server_version, d->info.snapshot, (long)d->ch.pid);
    free(where);
    *out = d;
    return 0;

fail:
    dump_teardown(d);
    free(d);
    return -1;
}

long dr_pg_dump_read(void *ud, char *buf, size_t n)
{
    dr_pg_dump *d = ud;
    if (d->eof)
        return 0;
    if (d->read_errno || d->out_fd < 0)
        return -1;
    if (n > (1u << 30))
        n = 1u << 30;
    ssize_t r;
    do
        r = read(d->out_fd, buf, n);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        d->read_errno = errno;
        return -1;
    }
    if (r == 0)
        d->eof = 1;
    d->bytes += (uint64_t)r;
    return (long)r;
}

pid_t dr_pg_dump_pid(const dr_pg_dump *d)
{
    return d ? d->ch.pid : 0;
}

int dr_pg_dump_finish(dr_pg_dump *d, dr_pg_sums *sums_out, dr_pg_dump_info *info, dr_err *err)
{
    if (sums_out) {
        sums_out->t = NULL;
        sums_out->n = 0;
    }
    int rc = 0;
    if (d->read_errno) {
        dr_err_set(err, DR_E_IO, "reading pg_dump's output: %s", strerror(d->read_errno));
        rc = -1;
    } else if (!d->eof) {
        /* The caller would keep a truncated archive as if it were whole. */
        dr_err_set(err, DR_E_INTERNAL, "pg_dump: finished before the dump was read to its end");
        rc = -1;
    }
    if (rc == 0) {
        /* EOF: pg_dump closed its stdout, it is exiting. */
        close(d->out_fd);
        d->out_fd = -1;
        rc = dr_pg_child_wait(&d->ch, err);
    }
    if (rc != 0 && d->thread_started)
        dr_pg_sums_job_cancel(d->job); /* no use for sums of a failed dump */
    if (d->thread_started) {
        pthread_join(d->thread, NULL);
        d->thread_started = 0;
        if (rc == 0 && d->sums_rc != 0) {
            *err = d->sums_err;
            rc = -1;
        }
    }
    if (rc == 0 && dr_pg_exec(d->a, "COMMIT", "pg_dump: ending the snapshot", err) != 0)
        rc = -1;
    d->info.bytes = d->bytes;
    d->info.seconds = since(&d->t0);
    if (info)
        *info = d->info;
    if (rc == 0) {
        dr_info(d->log, "pg_dump: %llu bytes in %.2f s, sums of %zu tables",
                (unsigned long long)d->bytes, d->info.seconds, d->sums.n);
        if (sums_out) {
            *sums_out = d->sums;
            d->sums.t = NULL;
            d->sums.n = 0;
        }
    }
    dump_teardown(d);
    free(d);
    return rc;
}

void dr_pg_dump_abort(dr_pg_dump *d)
{
    if (!d)
        return;
    /* pg_dump first: the sums and the transaction end faster without it. */
    dr_pg_child_kill(&d->ch);
    dump_teardown(d);
    free(d);
}

/* ------------------------------------------------------------ restores --- */

/* pg_restore's -d: the plain name, unless the name would be read as a
 * connection string; then a conninfo that holds only the name. */
static char *dbname_arg(const char *db)
{
    if (!strchr(db, '=') && strncmp(db, "postgres", 8) != 0)
        return dr_xstrdup(db);
    char *ci = dr_pg_conninfo_with_db("", db);
    return ci;
}

typedef struct restore {
    PGconn *conn;
    dr_pg_child ch;
    char *db;
    const char *prog;
    char jobs[16];
    char *argv[16];
} restore;

/* Connects to the target (a bad target fails here, before pg_restore runs),
 * prepares the child and its command line. */
static int restore_prepare(restore *r, const dr_pg_restore_opts *o, const char *path, dr_err *err)
{
    memset(r, 0, sizeof(*r));
    r->ch.errfd = -1;
    r->prog = program(o->pg_restore, "DRCTL_PG_RESTORE", "pg_restore");
    r->conn = dr_pg_connect(&o->conn, "pg_restore", err);
    if (!r->conn)
        return -1;
    int rc = dr_pg_child_prepare(&r->ch, r->conn, "pg_restore", err);
    r->db = dbname_arg(PQdb(r->conn));
    PQfinish(r->conn);
    r->conn = NULL;
    if (rc != 0)
        return -1;
    int n = 0;
    r->argv[n++] = (char *)r->prog;
    r->argv[n++] = "--no-owner";
    r->argv[n++] = "--no-privileges";
    r->argv[n++] = "--exit-on-error";
    r->argv[n++] = "--no-password";
    if (o->clean) {
        r->argv[n++] = "--clean";
        r->argv[n++] = "--if-exists";
    }
    if (path && o->jobs > 1) {
        snprintf(r->jobs, sizeof(r->jobs), "-j%d", o->jobs);
        r->argv[n++] = r->jobs;
    }
    r->argv[n++] = "-d";
    r->argv[n++] = r->db;
    if (path)
        r->argv[n++] = (char *)path;
    r->argv[n] = NULL;
    return 0;
}

static void restore_free(restore *r)
{
    dr_pg_child_cleanup(&r->ch);
    free(r->db);
}

int dr_pg_restore_file(const dr_pg_restore_opts *o, const char *path, dr_err *err)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    restore r;
    if (restore_prepare(&r, o, path, err) != 0) {
        restore_free(&r);
        return -1;
    }
    int rc = dr_pg_child_spawn(&r.ch, r.prog, r.argv, -1, -1, err);
    if (rc == 0)
        rc = dr_pg_child_wait(&r.ch, err);
    if (rc == 0)
        dr_info(o->log, "pg_restore: %s restored in %.2f s (%d job%s)", path, since(&t0),
                o->jobs > 1 ? o->jobs : 1, o->jobs > 1 ? "s" : "");
    restore_free(&r);
    return rc;
}

static int write_all(int fd, const char *p, size_t n, int *eno)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            *eno = errno;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int dr_pg_restore_stream(const dr_pg_restore_opts *o, dr_read_fn read_fn, void *ud, dr_err *err)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    restore r;
    if (restore_prepare(&r, o, NULL, err) != 0) {
        restore_free(&r);
        return -1;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        dr_err_set(err, DR_E_IO, "pg_restore: pipe: %s", strerror(errno));
        restore_free(&r);
        return -1;
    }
    pipe_grow(p[1]);
    int rc = dr_pg_child_spawn(&r.ch, r.prog, r.argv, p[0], -1, err);
    close(p[0]);
    if (rc != 0) {
        close(p[1]);
        restore_free(&r);
        return -1;
    }

    /* A write to a pipe whose reader is gone raises SIGPIPE, which would end
     * drctl. Block it in this thread only, and consume the one our write
     * raised before unblocking; a SIGPIPE that was pending before is not
     * ours and stays. */
    sigset_t pipeset, old, pending;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeset, &old);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);

    size_t cap = PIPE_SIZE;
    char *buf = dr_xmalloc(cap);
    uint64_t total = 0;
    int reader_failed = 0, broken = 0, eno = 0;
    for (;;) {
        long n = read_fn(ud, buf, cap);
        if (n < 0) {
            reader_failed = 1;
            break;
        }
        if (n == 0)
            break;
        total += (uint64_t)n;
        if (write_all(p[1], buf, (size_t)n, &eno) != 0) {
            broken = 1;
            break;
        }
    }
    close(p[1]);
    if (broken && eno == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipeset, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (reader_failed) {
        dr_pg_child_kill(&r.ch);
        rc = dr_err_set(err, DR_E_IO, "pg_restore: reading the dump failed after %llu bytes",
                        (unsigned long long)total);
    } else {
        rc = dr_pg_child_wait(&r.ch, err); /* its own words come first */
        if (rc == 0 && broken && eno != EPIPE)
            rc = dr_err_set(err, DR_E_IO, "pg_restore: writing to its input: %s", strerror(eno));
        if (rc == 0 && broken) {
            /* pg_restore succeeded without reading the last bytes (padding
             * after the last entry): drain the reader so that a caller
             * verifying its stream sees the stream to its end. */
            long n;
            while ((n = read_fn(ud, buf, cap)) > 0)
                total += (uint64_t)n;
            if (n < 0)
                rc =
                    dr_err_set(err, DR_E_IO, "pg_restore: reading the dump failed after %llu bytes",
                               (unsigned long long)total);
        }
    }
    free(buf);
    if (rc == 0)
        dr_info(o->log, "pg_restore: %llu bytes restored from a stream in %.2f s",
                (unsigned long long)total, since(&t0));
    restore_free(&r);
    return rc;
}
