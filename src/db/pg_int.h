/*
 * pg_int.h - what pg.c, pg_sums.c and pg_dump.c share; not a public API.
 *
 * pg.c:      connections (session settings, error classification, scrubbing
 *            of passwords from messages), the child-process plumbing for
 *            pg_dump / pg_restore (private directory, passfile, environment,
 *            spawn, wait, kill), databases, conninfo rewriting.
 * pg_sums.c: the table sums, their JSON form and comparison.
 * pg_dump.c: the dump and the restores.
 */
#ifndef DRCTL_DB_PG_INT_H
#define DRCTL_DB_PG_INT_H

#include <libpq-fe.h>
#include <sys/types.h>

#include "db/pg.h"

/* Connects (connect_timeout 10 s unless the conninfo says otherwise) and
 * applies the session settings every drctl session uses: search_path
 * pg_catalog, no statement or idle-in-transaction timeouts, and the settings
 * that fix a row's text form (see pg.h). On failure returns NULL with err set
 * ("<what>: connecting to host:port/db as user: <libpq's words>"). */
PGconn *dr_pg_connect(const dr_pg_conn *c, const char *what, dr_err *err);

/* Runs a statement that returns no rows (or whose rows are ignored).
 * DR_E_IO with the server's message on failure. */
int dr_pg_exec(PGconn *conn, const char *sql, const char *what, dr_err *err);

/* "<what>: <libpq's or the server's message>" into err (code), the message
 * trimmed to one line per line and with the connection's password, if any,
 * masked. Returns -1. */
int dr_pg_conn_err(dr_err *err, dr_code code, PGconn *conn, const PGresult *res, const char *what);

/* Replaces every occurrence of secret in s (in place) with "***". */
void dr_pg_scrub(char *s, const char *secret);

/* A child process (pg_dump, pg_restore) and its private directory. */
typedef struct dr_pg_child {
    pid_t pid;        /* 0 when not running */
    char *dir;        /* mkdtemp under $TMPDIR or /tmp, 0700 */
    char *passfile;   /* dir/pgpass, 0600, or NULL when there is no password */
    char *errpath;    /* dir/stderr: the child's stderr */
    int errfd;        /* open on errpath, -1 after cleanup */
    char **env;       /* the child's environment (no secret in it) */
    char *password;   /* the password, only to mask it in the stderr quote */
    const char *name; /* "pg_dump", "pg_restore": for messages */
} dr_pg_child;

/* Creates the directory, the passfile (from the password `conn` used) and
 * the stderr file, and the environment: the parent's minus every libpq
 * variable, plus the parameters `conn` actually used (host and port of the
 * server it reached) as PG* variables. */
int dr_pg_child_prepare(dr_pg_child *ch, PGconn *conn, const char *name, dr_err *err);
/* Spawns prog (PATH searched) with argv; stdin from in_fd (-1: /dev/null),
 * stdout to out_fd (-1: /dev/null), stderr to the stderr file. */
int dr_pg_child_spawn(dr_pg_child *ch, const char *prog, char *const argv[], int in_fd, int out_fd,
                      dr_err *err);
/* Reaps the child. Exit 0 -> 0; otherwise DR_E_IO "<name> exited with
 * status N: <last lines of its stderr>". */
int dr_pg_child_wait(dr_pg_child *ch, dr_err *err);
/* SIGTERM, up to 2 s, SIGKILL; reaps. No-op when not running. */
void dr_pg_child_kill(dr_pg_child *ch);
/* Kills the child if it still runs; removes the passfile (overwritten
 * first), the stderr file and the directory; frees. Idempotent. */
void dr_pg_child_cleanup(dr_pg_child *ch);
/* The last lines of the child's stderr, one line, password masked. */
void dr_pg_child_tail(const dr_pg_child *ch, char *out, size_t cap);

/* The sums of one snapshot, computed by `workers` connections (>= 1) that
 * import `snapshot` (NULL: the first worker opens its own REPEATABLE READ
 * snapshot and exports it to the others). Cancel may be called from any
 * thread, at any time before free. */
typedef struct dr_pg_sums_job dr_pg_sums_job;
dr_pg_sums_job *dr_pg_sums_job_new(const dr_pg_conn *c, const char *snapshot, int workers,
                                   const dr_log *log);
int dr_pg_sums_job_run(dr_pg_sums_job *j, dr_pg_sums *out, dr_err *err);
void dr_pg_sums_job_cancel(dr_pg_sums_job *j);
void dr_pg_sums_job_free(dr_pg_sums_job *j);

#endif
