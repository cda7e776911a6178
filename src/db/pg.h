/*
 * pg.h - PostgreSQL: consistent dumps, restores, and per-table sums that
 * prove a restored database holds the same rows as its source.
 *
 * What this module promises:
 *
 * - Consistency. A dump is taken from one exported snapshot: connection A
 *   opens a REPEATABLE READ READ ONLY transaction and exports its snapshot,
 *   pg_dump runs with --snapshot=<id>, and the table sums are computed on
 *   other connections that import the same snapshot, concurrently with the
 *   dump. So the sums describe exactly the rows in the dump, whatever is
 *   written to the database meanwhile, and captured_at is the recovery point.
 *
 * - Sums that scale. A table's sum is its row count plus two 60-bit-lane
 *   sums over md5(row::text): order-independent (a restore may load rows in
 *   any order), streamed by the server in constant memory, and hashed into a
 *   32-hex checksum. Every session that computes sums pins the settings that
 *   shape a row's text form (DateStyle, IntervalStyle, TimeZone,
 *   extra_float_digits, bytea_output), so the same rows give the same sums in
 *   any database of the same major version. Tables: every ordinary table
 *   (relkind 'r': partitions included, partitioned parents hold no rows) of
 *   every schema except pg_catalog, information_schema, pg_toast and
 *   temporary schemas, and except tables that belong to an extension
 *   (pg_dump leaves their rows to CREATE EXTENSION).
 *
 * - Secrecy. The password (in the conninfo, in dr_pg_conn.password, or in
 *   PGPASSWORD) never appears in an error message, a log line, or a child's
 *   command line or environment: pg_dump and pg_restore receive the
 *   connection parameters as PG* environment variables of the child only and
 *   the password through a PGPASSFILE created 0600 in a private 0700
 *   directory that is removed when the child is done, whatever happens.
 *
 * - No stray processes. Every failure path kills (SIGTERM, then SIGKILL) and
 *   reaps the child, stops the sums, ends the transaction and removes the
 *   temporary directory. SIGPIPE never kills drctl: the writer to
 *   pg_restore's stdin blocks it in its own thread and consumes it.
 *
 * Errors: a connection failure is DR_E_NOT_FOUND when the database does not
 * exist and DR_E_NETWORK otherwise; a failing pg_dump / pg_restore or SQL
 * statement is DR_E_IO quoting the server's or the tool's own words; a
 * missing program is DR_E_IO with a hint; sums that differ are DR_E_VERIFY.
 */
#ifndef DRCTL_DB_PG_H
#define DRCTL_DB_PG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "aws/client.h" /* dr_read_fn */
#include "util/err.h"
#include "util/log.h"

typedef struct dr_pg_table_sum {
    char *name; /* "schema.table" quoted as PostgreSQL quotes them: public."LiteLLM_SpendLogs" */
    int64_t rows;
    char checksum[33]; /* 32 hex chars, order-independent hash of every row's text form */
} dr_pg_table_sum;

typedef struct dr_pg_sums {
    dr_pg_table_sum *t; /* sorted by name (strcmp) */
    size_t n;
} dr_pg_sums;

void dr_pg_sums_free(dr_pg_sums *s);
/* {"public.\"T\"": {"rows": N, "checksum": "hex"}, ...} (new reference) */
json_t *dr_pg_sums_to_json(const dr_pg_sums *s);
/* The reverse; anything malformed is DR_E_VERIFY. */
int dr_pg_sums_from_json(const json_t *j, dr_pg_sums *out, dr_err *err);
/* 0 when equal; else DR_E_VERIFY with a message naming the first table that
 * differs (missing, extra, row count expected vs actual, checksum) and how
 * many tables differ. */
int dr_pg_sums_compare(const dr_pg_sums *expected, const dr_pg_sums *actual, dr_err *err);

/* Where to connect. conninfo is a libpq URI or key=value string (may itself
 * hold a password); password, when non-NULL, overrides. Neither ever appears
 * in an error message, a log line, or a child's command line. */
typedef struct dr_pg_conn {
    const char *conninfo;
    const char *password;
} dr_pg_conn;

/* Per-table sums of every ordinary table of every non-system schema, in one
 * REPEATABLE READ READ ONLY snapshot. */
int dr_pg_table_sums(const dr_pg_conn *c, dr_pg_sums *out, dr_err *err);

typedef struct dr_pg_dump_opts {
    dr_pg_conn conn;
    const char *pg_dump; /* program; NULL = $DRCTL_PG_DUMP, else "pg_dump" on PATH */
    int compress;        /* pg_dump -Z level; the bundle compresses, so 0 is the normal choice */
    const dr_log *log;   /* may be NULL */
} dr_pg_dump_opts;

typedef struct dr_pg_dump dr_pg_dump;

typedef struct dr_pg_dump_info {
    char snapshot[64];       /* the exported snapshot id */
    char server_version[32]; /* e.g. "15.18" */
    char database[64];
    int64_t captured_at; /* Unix time when the snapshot was taken: the recovery point */
    uint64_t bytes;      /* dump bytes read by the caller */
    double seconds;      /* start to finish */
} dr_pg_dump_info;

/*
 * Opens connection A, BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY,
 * SELECT pg_export_snapshot() (captured_at is the server's clock at that
 * statement); starts the per-table sums in a thread on a second connection
 * that imports the snapshot; spawns `pg_dump -Fc -Z<compress>
 * --snapshot=<id> --no-password` (no shell) with its stdout on a 1 MiB pipe
 * and its stderr in a file of the private directory. A holds the
 * transaction open until finish or abort.
 */
int dr_pg_dump_start(const dr_pg_dump_opts *o, dr_pg_dump **out, dr_err *err);
/* A dr_read_fn over pg_dump's stdout (ud = the dr_pg_dump*): bytes, 0 at
 * end, -1 on a read error (the error is reported by finish). */
long dr_pg_dump_read(void *ud, char *buf, size_t n);
/* Waits for pg_dump (non-zero exit -> DR_E_IO quoting its stderr tail),
 * joins the sums thread, ends the transaction, cleans up. Frees d whatever
 * happens. sums_out and info may be NULL. Finishing before the dump was read
 * to its end is an error (DR_E_INTERNAL): the caller would hold a truncated
 * dump. */
int dr_pg_dump_finish(dr_pg_dump *d, dr_pg_sums *sums_out, dr_pg_dump_info *info, dr_err *err);
/* Kills pg_dump (SIGTERM then SIGKILL), stops the sums, cleans up, frees.
 * NULL is fine. */
void dr_pg_dump_abort(dr_pg_dump *d);
/* pg_dump's process id (tests look at /proc/<pid>). */
pid_t dr_pg_dump_pid(const dr_pg_dump *d);

typedef struct dr_pg_restore_opts {
    dr_pg_conn conn;        /* the target database (must exist) */
    const char *pg_restore; /* NULL = $DRCTL_PG_RESTORE, else "pg_restore" */
    int clean;              /* --clean --if-exists */
    int jobs;               /* >1: parallel restore (needs a file: see dr_pg_restore_file) */
    const dr_log *log;
} dr_pg_restore_opts;

/* pg_restore --no-owner --no-privileges --exit-on-error -d <db> reading the
 * dump from `read`, fed through a pipe to pg_restore's stdin (single job).
 * The target is connected to first, so a bad target fails before anything
 * runs. A -1 from `read` kills pg_restore and fails with DR_E_IO (the
 * caller's own error, if it keeps one, says more). */
int dr_pg_restore_stream(const dr_pg_restore_opts *o, dr_read_fn read, void *ud, dr_err *err);
/* The same from a dump file, with o->jobs parallel jobs (-j). */
int dr_pg_restore_file(const dr_pg_restore_opts *o, const char *path, dr_err *err);

/* CREATE DATABASE (TEMPLATE template0) / DROP DATABASE IF EXISTS ... WITH
 * (FORCE) of `name` through a connection to the server of `c` (to its own
 * database, or to "postgres" when that is `name` itself). name:
 * [a-z0-9_]{1,63}, else DR_E_USAGE. */
int dr_pg_create_database(const dr_pg_conn *c, const char *name, dr_err *err);
int dr_pg_drop_database(const dr_pg_conn *c, const char *name, dr_err *err);

/* A copy of conninfo pointing at database `dbname` instead (caller frees
 * with dr_free_secret: it may hold a password). Works for URIs (the path is
 * replaced, a dbname= query parameter dropped) and key=value strings (a
 * dbname is appended: the last one wins). */
char *dr_pg_conninfo_with_db(const char *conninfo, const char *dbname);

#endif
