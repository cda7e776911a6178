/*
 * pg_sums.c - per-table row counts and checksums of one snapshot, their
 * JSON form, and their comparison.
 *
 * A table's sum is computed by the server in one sequential scan:
 *
 *   SELECT count(*),
 *          coalesce(sum(('x' || substr(h, 1, 15))::bit(60)::bigint), 0),
 *          coalesce(sum(('x' || substr(h, 16, 15))::bit(60)::bigint), 0)
 *   FROM (SELECT md5(t::text) AS h FROM ONLY schema.table t OFFSET 0) s
 *
 * Addition commutes, so the order in which a restore loaded the rows does
 * not matter; two 60-bit lanes of each row's md5 summed as numeric never
 * overflow and keep 120 bits of each row; the aggregate holds a few numbers
 * whatever the table's size, so the server's memory does not grow with it.
 * ONLY: a table's own rows, not those of tables inheriting from it (they are
 * summed as tables of their own). OFFSET 0 keeps the planner from
 * flattening the subquery, which would compute md5(t::text), the whole
 * cost, once per lane: twice. The row's text form is what costs (the
 * output function of every column, as for COPY), so large tables are
 * scanned by parallel workers where the server allows them (the planner
 * is told that passing hashes between processes is free). The three
 * numbers are hashed into the 32-hex checksum: md5("<rows>:<sum1>:<sum2>").
 *
 * A job runs on `workers` connections that share one snapshot. The first
 * opens it (or imports the dump's), lists the tables, locks them all in
 * ACCESS SHARE mode as pg_dump does (no TRUNCATE or DDL can slip in between
 * the snapshot and a table's scan) and, with more than one worker, hands the
 * snapshot to the others; then all take tables from one queue, largest
 * first, so the longest scan starts at once.
 */
#include "db/pg_int.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/mem.h"

#define MAX_WORKERS 8

typedef struct sums_table {
    char *name;  /* quote_ident(schema) || '.' || quote_ident(table) */
    char *qname; /* both always quoted (PQescapeIdentifier), for SQL */
    char *query; /* the sum query */
    int64_t rows;
    char checksum[33];
} sums_table;

struct dr_pg_sums_job {
    char *conninfo;
    char *password;
    char *snapshot; /* imported, or exported by worker 0 */
    int workers;
    const dr_log *log;

    pthread_mutex_t mu;
    int stop;     /* cancelled or failed: workers take no more tables */
    int failed;   /* err holds the first failure */
    int canceled; /* dr_pg_sums_job_cancel was called */
    dr_err err;
    PGcancel *cancel[MAX_WORKERS];

    sums_table *t;
    size_t n;
    size_t next; /* the queue: t[next..n) are still to do */
};

typedef struct worker {
    dr_pg_sums_job *j;
    int id;
    pthread_t thread;
} worker;

dr_pg_sums_job *dr_pg_sums_job_new(const dr_pg_conn *c, const char *snapshot, int workers,
                                   const dr_log *log)
{
    dr_pg_sums_job *j = dr_xcalloc(1, sizeof(*j));
    j->conninfo = dr_xstrdup(c->conninfo ? c->conninfo : "");
    j->password = c->password ? dr_xstrdup(c->password) : NULL;
    j->snapshot = snapshot ? dr_xstrdup(snapshot) : NULL;
    j->workers = workers < 1 ? 1 : workers > MAX_WORKERS ? MAX_WORKERS : workers;
    j->log = log;
    pthread_mutex_init(&j->mu, NULL);
    dr_err_clear(&j->err);
    return j;
}

void dr_pg_sums_job_free(dr_pg_sums_job *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++) {
        free(j->t[i].name);
        free(j->t[i].qname);
        free(j->t[i].query);
    }
    free(j->t);
    dr_free_secret(j->conninfo);
    dr_free_secret(j->password);
    free(j->snapshot);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

void dr_pg_sums_job_cancel(dr_pg_sums_job *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stop = 1;
    j->canceled = 1;
    for (int i = 0; i < MAX_WORKERS; i++) {
        if (j->cancel[i]) {
            char buf[256];
            PQcancel(j->cancel[i], buf, sizeof(buf));
        }
    }
    pthread_mutex_unlock(&j->mu);
}

/* Records the first failure and stops the others (a failed job's other
 * scans are wasted work). */
static void job_fail(dr_pg_sums_job *j, const dr_err *e)
{
    pthread_mutex_lock(&j->mu);
    if (!j->failed && !j->canceled) {
        j->failed = 1;
        j->err = *e;
    }
    j->stop = 1;
    for (int i = 0; i < MAX_WORKERS; i++)
        if (j->cancel[i]) {
            char buf[256];
            PQcancel(j->cancel[i], buf, sizeof(buf));
        }
    pthread_mutex_unlock(&j->mu);
}

/* Registers the connection for cancellation; 0 unless the job stopped. */
static int job_register(dr_pg_sums_job *j, int id, PGconn *conn)
{
    pthread_mutex_lock(&j->mu);
    int stopped = j->stop;
    if (!stopped)
        j->cancel[id] = PQgetCancel(conn);
    pthread_mutex_unlock(&j->mu);
    return stopped ? -1 : 0;
}

static void job_unregister(dr_pg_sums_job *j, int id)
{
    pthread_mutex_lock(&j->mu);
    PQfreeCancel(j->cancel[id]);
    j->cancel[id] = NULL;
    pthread_mutex_unlock(&j->mu);
}

/* The next table to do, or -1 when the queue is empty or the job stopped. */
static long job_take(dr_pg_sums_job *j)
{
    pthread_mutex_lock(&j->mu);
    long i = (!j->stop && j->next < j->n) ? (long)j->next++ : -1;
    pthread_mutex_unlock(&j->mu);
    return i;
}

/* Connects, registers for cancellation, and opens the snapshot: imports
 * j->snapshot when there is one, else opens a fresh one. */
static PGconn *worker_open(dr_pg_sums_job *j, int id, dr_err *err)
{
    dr_pg_conn c = {j->conninfo, j->password};
    PGconn *conn = dr_pg_connect(&c, "table sums", err);
    if (!conn)
        return NULL;
    if (job_register(j, id, conn) != 0) {
        PQfinish(conn);
        dr_err_set(err, DR_E_INTERRUPTED, "table sums: cancelled");
        return NULL;
    }
    if (dr_pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "table sums", err) != 0)
        goto fail;
    if (j->snapshot) {
        char *lit = PQescapeLiteral(conn, j->snapshot, strlen(j->snapshot));
        char *sql = dr_xasprintf("SET TRANSACTION SNAPSHOT %s", lit ? lit : "''");
        int rc = dr_pg_exec(conn, sql, "table sums: importing the snapshot", err);
        free(sql);
        PQfreemem(lit);
        if (rc != 0)
            goto fail;
    }
    return conn;
fail:
    job_unregister(j, id);
    PQfinish(conn);
    return NULL;
}

static void worker_close(dr_pg_sums_job *j, int id, PGconn *conn)
{
    job_unregister(j, id);
    /* Read only: ending it one way or the other is the same. */
    PGresult *res = PQexec(conn, "COMMIT");
    PQclear(res);
    PQfinish(conn);
}

static int sum_table(PGconn *conn, sums_table *t, dr_err *err)
{
    PGresult *res = PQexec(conn, t->query);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
        PQnfields(res) != 3) {
        char *what = dr_xasprintf("table sums: %s", t->name);
        dr_pg_conn_err(err, DR_E_IO, conn, res, what);
        free(what);
        PQclear(res);
        return -1;
    }
    const char *rows = PQgetvalue(res, 0, 0);
    t->rows = strtoll(rows, NULL, 10);
    char *text = dr_xasprintf("%s:%s:%s", rows, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
    PQclear(res);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = EVP_Digest(text, strlen(text), md, &mdlen, EVP_md5(), NULL);
    free(text);
    if (!ok || mdlen != 16)
        return dr_err_set(err, DR_E_INTERNAL, "table sums: MD5 is not available from OpenSSL");
    for (unsigned i = 0; i < 16; i++)
        snprintf(t->checksum + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static void worker_loop(dr_pg_sums_job *j, PGconn *conn)
{
    long i;
    dr_err e;
    dr_err_clear(&e);
    while ((i = job_take(j)) >= 0) {
        if (sum_table(conn, &j->t[i], &e) != 0) {
            job_fail(j, &e);
            return;
        }
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    dr_err e;
    dr_err_clear(&e);
    PGconn *conn = worker_open(w->j, w->id, &e);
    if (!conn) {
        job_fail(w->j, &e);
        return NULL;
    }
    worker_loop(w->j, conn);
    worker_close(w->j, w->id, conn);
    return NULL;
}

/* The tables of the snapshot, largest first, with their queries; and all of
 * them locked. */
static int list_tables(dr_pg_sums_job *j, PGconn *conn, dr_err *err)
{
    static const char sql[] =
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), n.nspname, c.relname "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND c.relpersistence <> 't' "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)' "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
        "AND d.objid = c.oid AND d.deptype = 'e') "
        "ORDER BY pg_relation_size(c.oid) DESC NULLS LAST, 1";
    PGresult *res = PQexec(conn, sql);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        dr_pg_conn_err(err, DR_E_IO, conn, res, "table sums: listing the tables");
        PQclear(res);
        return -1;
    }
    j->n = (size_t)PQntuples(res);
    j->t = dr_xcalloc(j->n ? j->n : 1, sizeof(*j->t));
    for (size_t i = 0; i < j->n; i++) {
        const char *nsp = PQgetvalue(res, (int)i, 1), *rel = PQgetvalue(res, (int)i, 2);
        char *qn = PQescapeIdentifier(conn, nsp, strlen(nsp));
        char *qr = PQescapeIdentifier(conn, rel, strlen(rel));
        if (!qn || !qr) {
            PQfreemem(qn);
            PQfreemem(qr);
            dr_pg_conn_err(err, DR_E_INTERNAL, conn, NULL, "table sums: quoting a name");
            PQclear(res);
            return -1;
        }
        j->t[i].name = dr_xstrdup(PQgetvalue(res, (int)i, 0));
        j->t[i].qname = dr_xasprintf("%s.%s", qn, qr);
        j->t[i].query =
            dr_xasprintf("SELECT count(*), "
                         "coalesce(sum(('x' || substr(h, 1, 15))::bit(60)::bigint), 0), "
                         "coalesce(sum(('x' || substr(h, 16, 15))::bit(60)::bigint), 0) "
                         "FROM (SELECT md5(t::text) AS h FROM ONLY %s t OFFSET 0) s",
                         j->t[i].qname);
        PQfreemem(qn);
        PQfreemem(qr);
    }
    PQclear(res);
    if (j->n == 0)
        return 0;
    /* One statement, so the locks are taken at once. */
    dr_buf lock = DR_BUF_INIT;
    dr_buf_puts(&lock, "LOCK TABLE ");
    for (size_t i = 0; i < j->n; i++)
        dr_buf_printf(&lock, "%s%s", i ? ", " : "", j->t[i].qname);
    dr_buf_puts(&lock, " IN ACCESS SHARE MODE");
    int rc = dr_pg_exec(conn, dr_buf_cstr(&lock), "table sums: locking the tables", err);
    dr_buf_free(&lock);
    return rc;
}

static int cmp_table(const void *a, const void *b)
{
    return strcmp(((const dr_pg_table_sum *)a)->name, ((const dr_pg_table_sum *)b)->name);
}

int dr_pg_sums_job_run(dr_pg_sums_job *j, dr_pg_sums *out, dr_err *err)
{
    out->t = NULL;
    out->n = 0;
    dr_err e;
    dr_err_clear(&e);
    PGconn *conn = worker_open(j, 0, &e);
    if (!conn) {
        job_fail(j, &e);
        goto done;
    }
    if (list_tables(j, conn, &e) != 0) {
        job_fail(j, &e);
        worker_close(j, 0, conn);
        goto done;
    }
    int extra = (int)(j->n < (size_t)j->workers ? j->n : (size_t)j->workers) - 1;
    if (extra > 0 && !j->snapshot) {
        PGresult *res = PQexec(conn, "SELECT pg_export_snapshot()");
        if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            dr_pg_conn_err(&e, DR_E_IO, conn, res, "table sums: exporting the snapshot");
            PQclear(res);
            job_fail(j, &e);
            worker_close(j, 0, conn);
            goto done;
        }
        j->snapshot = dr_xstrdup(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    worker w[MAX_WORKERS];
    int started = 0;
    for (int i = 1; i <= extra; i++) {
        w[i].j = j;
        w[i].id = i;
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0)
            break; /* fewer workers: slower, not wrong */
        started = i;
    }
    worker_loop(j, conn);
    for (int i = 1; i <= started; i++)
        pthread_join(w[i].thread, NULL);
    /* Worker 0 closes last: its transaction holds the locks and, when it
     * exported the snapshot, the snapshot the others imported. */
    worker_close(j, 0, conn);
    if (!j->stop)
        dr_debug(j->log, "table sums: %zu tables on %d connection(s)", j->n, started + 1);

done:
    if (j->failed) {
        *err = j->err;
        return -1;
    }
    if (j->canceled)
        return dr_err_set(err, DR_E_INTERRUPTED, "table sums: cancelled");
    out->n = j->n;
    out->t = dr_xcalloc(j->n ? j->n : 1, sizeof(*out->t));
    for (size_t i = 0; i < j->n; i++) {
        out->t[i].name = dr_xstrdup(j->t[i].name);
        out->t[i].rows = j->t[i].rows;
        memcpy(out->t[i].checksum, j->t[i].checksum, sizeof(out->t[i].checksum));
    }
    if (out->n > 1)
        qsort(out->t, out->n, sizeof(*out->t), cmp_table);
    return 0;
}

/* The number of connections of a standalone sums run: the scans are CPU
 * bound on the server, so two overlap well without crowding it. */
#define STANDALONE_WORKERS 2

int dr_pg_table_sums(const dr_pg_conn *c, dr_pg_sums *out, dr_err *err)
{
    dr_pg_sums_job *j = dr_pg_sums_job_new(c, NULL, STANDALONE_WORKERS, NULL);
    int rc = dr_pg_sums_job_run(j, out, err);
    dr_pg_sums_job_free(j);
    return rc;
}

/* ------------------------------------------------------- JSON, compare --- */

void dr_pg_sums_free(dr_pg_sums *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->t[i].name);
    free(s->t);
    s->t = NULL;
    s->n = 0;
}

json_t *dr_pg_sums_to_json(const dr_pg_sums *s)
{
    json_t *o = json_object();
    for (size_t i = 0; i < s->n; i++)
        json_object_set_new(
            o, s->t[i].name,
            json_pack("{s:I,s:s}", "rows", (json_int_t)s->t[i].rows, "checksum", s->t[i].checksum));
    return o;
}

static int is_hex32(const char *s)
{
    return s && strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

int dr_pg_sums_from_json(const json_t *j, dr_pg_sums *out, dr_err *err)
{
    out->t = NULL;
    out->n = 0;
    if (!json_is_object(j))
        return dr_err_set(err, DR_E_VERIFY, "table sums: not a JSON object");
    size_t n = json_object_size(j);
    out->t = dr_xcalloc(n ? n : 1, sizeof(*out->t));
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)j, name, v)
    {
        json_t *rows = json_object_get(v, "rows");
        const char *sum = json_string_value(json_object_get(v, "checksum"));
        if (!json_is_object(v) || !json_is_integer(rows) || json_integer_value(rows) < 0 ||
            !is_hex32(sum) || !*name) {
            dr_pg_sums_free(out);
            return dr_err_set(err, DR_E_VERIFY,
                              "table sums: entry '%.200s' is not {\"rows\": N, \"checksum\": "
                              "\"<32 hex>\"}",
                              name);
        }
        dr_pg_table_sum *t = &out->t[out->n++];
        t->name = dr_xstrdup(name);
        t->rows = (int64_t)json_integer_value(rows);
        memcpy(t->checksum, sum, 33);
    }
    if (out->n > 1)
        qsort(out->t, out->n, sizeof(*out->t), cmp_table);
    return 0;
}

int dr_pg_sums_compare(const dr_pg_sums *expected, const dr_pg_sums *actual, dr_err *err)
{
    /* Both are sorted by name: one merge walk. */
    size_t i = 0, k = 0, differ = 0;
    char first[1024] = "";
    while (i < expected->n || k < actual->n) {
        int c = i >= expected->n ? 1
                : k >= actual->n ? -1
                                 : strcmp(expected->t[i].name, actual->t[k].name);
        char what[1024] = "";
        if (c < 0) {
            snprintf(what, sizeof(what), "table %.300s is missing (%" PRId64 " rows expected)",
                     expected->t[i].name, expected->t[i].rows);
            i++;
        } else if (c > 0) {
            snprintf(what, sizeof(what), "table %.300s is not expected (%" PRId64 " rows found)",
                     actual->t[k].name, actual->t[k].rows);
            k++;
        } else {
            const dr_pg_table_sum *e = &expected->t[i++], *a = &actual->t[k++];
            if (e->rows != a->rows)
                snprintf(what, sizeof(what),
                         "table %.300s: %" PRId64 " rows expected, %" PRId64 " found", e->name,
                         e->rows, a->rows);
            else if (strcmp(e->checksum, a->checksum) != 0)
                snprintf(what, sizeof(what),
                         "table %.300s: checksum %s expected, %s found (same %" PRId64 " rows, "
                         "different contents)",
                         e->name, e->checksum, a->checksum, e->rows);
        }
        if (what[0]) {
            if (differ++ == 0)
                memcpy(first, what, sizeof(first));
        }
    }
    if (differ == 0)
        return 0;
    size_t total = expected->n > actual->n ? expected->n : actual->n;
    return dr_err_set(err, DR_E_VERIFY,
                      "database contents differ: %s (%zu of %zu table%s differ%s)", first, differ,
                      total, total == 1 ? "" : "s", differ == 1 ? "s" : "");
}
