/*
 * pg.c - connections, child processes, databases and conninfo strings for
 * the PostgreSQL module (pg.h says what the module promises; pg_int.h lists
 * what is shared between its files).
 *
 * The one rule that shapes this file: a password never leaves libpq except
 * into a 0600 passfile in a 0700 directory of our own. Error messages are
 * libpq's or the server's, which do not quote passwords, and are masked
 * anyway in case a password happens to appear (a user name equal to the
 * password, say).
 */
#include "db/pg_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/dbmap.h"
#include "util/buf.h"
#include "util/mem.h"

/* ------------------------------------------------------------ messages --- */

void dr_pg_scrub(char *s, const char *secret)
{
    if (!s || !secret || !*secret)
        return;
    size_t sl = strlen(secret);
    char *p;
    /* "***" is never longer than what it replaces when sl >= 3; shorter
     * secrets are masked with as many '*' as they have characters. */
    while ((p = strstr(s, secret)) != NULL) {
        size_t stars = sl < 3 ? sl : 3;
        memset(p, '*', stars);
        memmove(p + stars, p + sl, strlen(p + sl) + 1);
    }
}

/* libpq's messages span lines ("...failed: FATAL:  database ... \nDETAIL: ...");
 * ours are one line. Newlines become "; ", runs of spaces one space. */
static void one_line(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        char c = *r == '\n' || *r == '\r' || *r == '\t' ? ' ' : *r;
        if (*r == '\n' && r[1] && w > s && w[-1] != ';') {
            /* A line break inside the message separates two statements. */
            while (w > s && w[-1] == ' ')
                w--;
            *w++ = ';';
            *w++ = ' ';
            continue;
        }
        if (c == ' ' && w > s && w[-1] == ' ')
            continue;
        *w++ = c;
    }
    while (w > s && (w[-1] == ' ' || w[-1] == ';'))
        w--;
    *w = '\0';
}

int dr_pg_conn_err(dr_err *err, dr_code code, PGconn *conn, const PGresult *res, const char *what)
{
    const char *m = res ? PQresultErrorMessage(res) : NULL;
    if (!m || !*m)
        m = conn ? PQerrorMessage(conn) : "out of memory";
    char *msg = dr_xstrdup(m && *m ? m : "unknown error");
    one_line(msg);
    if (conn)
        dr_pg_scrub(msg, PQpass(conn));
    dr_err_set(err, code, "%s: %s", what, msg);
    free(msg);
    return -1;
}

/* --------------------------------------------------------- connections --- */

/* Settings of every drctl session. search_path: nothing of a user's schema
 * may shadow a function we call (the reason pg_dump does the same). The
 * output settings fix the text form of a row, which the sums hash. No
 * timeouts: a sum over a large table or an idle connection A holding the
 * snapshot during a long dump must not be cut by a server default. */
static const char SESSION_SQL[] = "SET search_path = pg_catalog; "
                                  "SET DateStyle = 'ISO, MDY'; "
                                  "SET IntervalStyle = 'postgres'; "
                                  "SET TimeZone = 'UTC'; "
                                  "SET extra_float_digits = 3; "
                                  "SET bytea_output = 'hex'; "
                                  "SET lc_monetary = 'C'; "
                                  "SET statement_timeout = 0; "
                                  "SET lock_timeout = 0; "
                                  "SET idle_in_transaction_session_timeout = 0";

/* Notices (a WARNING from the server, say) would go to stderr by libpq's
 * default; our statements raise none worth showing. */
static void no_notice(void *arg, const char *message) {}

PGconn *dr_pg_connect(const dr_pg_conn *c, const char *what, dr_err *err)
{
    /* Entries before the expanded dbname can be overridden by the conninfo,
     * entries after it override the conninfo (libpq's documented rule). */
    const char *kw[5], *val[5];
    int i = 0;
    kw[i] = "connect_timeout";
    val[i++] = "10";
    kw[i] = "fallback_application_name";
    val[i++] = "drctl";
    kw[i] = "dbname";
    val[i++] = c->conninfo ? c->conninfo : "";
    if (c->password) {
        kw[i] = "password";
        val[i++] = c->password;
    }
    kw[i] = NULL;
    val[i] = NULL;
    PGconn *conn = PQconnectdbParams(kw, val, 1);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        char *where = dr_dbmap_describe(c->conninfo ? c->conninfo : "");
        char *ctx = dr_xasprintf("%s: connecting to %s", what, where);
        const char *m = conn ? PQerrorMessage(conn) : "";
        /* The server's words for SQLSTATE 3D000; libpq gives no code for a
         * failed connection, so the text is all there is. */
        int missing = strstr(m, "database \"") && strstr(m, "does not exist");
        int auth = strstr(m, "authentication failed") || strstr(m, "no password supplied") ||
                   strstr(m, "pg_hba.conf");
        dr_pg_conn_err(err, missing ? DR_E_NOT_FOUND : DR_E_NETWORK, conn, NULL, ctx);
        if (c->password)
            dr_pg_scrub(err->msg, c->password);
        if (missing)
            dr_err_hint(err, "create the database first, or check the database name");
        else if (auth)
            dr_err_hint(err, "check the database user and password");
        else
            dr_err_hint(err, "check that the server runs and accepts connections from here");
        free(ctx);
        free(where);
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, no_notice, NULL);
    if (dr_pg_exec(conn, SESSION_SQL, what, err) != 0) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

int dr_pg_exec(PGconn *conn, const char *sql, const char *what, dr_err *err)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        dr_pg_conn_err(err, DR_E_IO, conn, res, what);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

/* ------------------------------------------------------ child processes --- */

/* Writes all of s to fd. */
static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The passfile line "*:*:*:*:<password>": the child's PG* variables pin the
 * host, port, database and user, so wildcards are exact. libpq's passfile
 * syntax escapes ':' and '\' with a backslash and has no escape for a line
 * break. */
static int write_passfile(dr_pg_child *ch, const char *pw, dr_err *err)
{
    if (strchr(pw, '\n') || strchr(pw, '\r'))
        return dr_err_set(err, DR_E_CONFIG,
                          "the database password contains a line break, which a passfile "
                          "cannot hold");
    ch->passfile = dr_xasprintf("%s/pgpass", ch->dir);
    int fd = open(ch->passfile, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        dr_err_set(err, DR_E_IO, "creating %s: %s", ch->passfile, strerror(errno));
        free(ch->passfile);
        ch->passfile = NULL;
        return -1;
    }
    dr_buf line = DR_BUF_INIT;
    dr_buf_puts(&line, "*:*:*:*:");
    for (const char *p = pw; *p; p++) {
        if (*p == ':' || *p == '\\')
            dr_buf_putc(&line, '\\');
        dr_buf_putc(&line, *p);
    }
    dr_buf_putc(&line, '\n');
    int rc = write_all(fd, line.data, line.len);
    int e = errno;
    dr_buf_free_secret(&line);
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0)
        return dr_err_set(err, DR_E_IO, "writing %s: %s", ch->passfile, strerror(e));
    return 0;
}

static int env_name_is(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

static void env_add(char ***env, size_t *n, char *entry)
{
    *env = dr_xrealloc(*env, (*n + 2) * sizeof(**env));
    (*env)[(*n)++] = entry;
    (*env)[*n] = NULL;
}

/* The child's environment: ours without any variable libpq reads (they
 * could contradict what connection A actually used, and PGPASSWORD is a
 * secret), plus the parameters in effect on `conn`. */
static void build_env(dr_pg_child *ch, PGconn *conn, PQconninfoOption *opts)
{
    /* Besides the conninfo options' own variables. PGSERVICE would let a
     * service file override the variables we set. */
    static const char *const extra[] = {"PGPASSWORD",    "PGPASSFILE", "PGSERVICE",
                                        "PGSERVICEFILE", "PGHOSTADDR", NULL};
    char **env = NULL;
    size_t n = 0;
    for (char **e = environ; e && *e; e++) {
        int drop = 0;
        for (PQconninfoOption *o = opts; o->keyword && !drop; o++)
            drop = o->envvar && env_name_is(*e, o->envvar);
        for (const char *const *x = extra; *x && !drop; x++)
            drop = env_name_is(*e, *x);
        if (!drop)
            env_add(&env, &n, dr_xstrdup(*e));
    }
    const char *hostaddr_given = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->envvar || !o->val || !*o->val)
            continue;
        /* The password goes to the passfile; host and port are the ones
         * connection A reached (a conninfo may list several). */
        if (!strcmp(o->keyword, "password") || !strcmp(o->keyword, "passfile") ||
            !strcmp(o->keyword, "service") || !strcmp(o->keyword, "host") ||
            !strcmp(o->keyword, "port"))
            continue;
        if (!strcmp(o->keyword, "hostaddr")) {
            hostaddr_given = o->val;
            continue;
        }
        env_add(&env, &n, dr_xasprintf("%s=%s", o->envvar, o->val));
    }
    const char *host = PQhost(conn), *port = PQport(conn);
    if (host && *host)
        env_add(&env, &n, dr_xasprintf("PGHOST=%s", host));
    if (port && *port)
        env_add(&env, &n, dr_xasprintf("PGPORT=%s", port));
    if (hostaddr_given) {
        const char *ha = PQhostaddr(conn);
        env_add(&env, &n, dr_xasprintf("PGHOSTADDR=%s", ha && *ha ? ha : hostaddr_given));
    }
    if (ch->passfile) {
        env_add(&env, &n, dr_xasprintf("PGPASSFILE=%s", ch->passfile));
    } else {
        for (PQconninfoOption *o = opts; o->keyword; o++)
            if (!strcmp(o->keyword, "passfile") && o->val && *o->val)
                env_add(&env, &n, dr_xasprintf("PGPASSFILE=%s", o->val));
    }
    if (!env)
        env_add(&env, &n, dr_xstrdup("DRCTL_CHILD=1"));
    ch->env = env;
}

int dr_pg_child_prepare(dr_pg_child *ch, PGconn *conn, const char *name, dr_err *err)
{
    memset(ch, 0, sizeof(*ch));
    ch->errfd = -1;
    ch->name = name;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    ch->dir = dr_xasprintf("%s/drctl-pg-XXXXXX", tmp);
    if (!mkdtemp(ch->dir)) { /* mkdtemp creates it 0700 */
        dr_err_set(err, DR_E_IO, "%s: creating a private directory in %s: %s", name, tmp,
                   strerror(errno));
        free(ch->dir);
        ch->dir = NULL;
        return -1;
    }
    ch->errpath = dr_xasprintf("%s/stderr", ch->dir);
    ch->errfd = open(ch->errpath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (ch->errfd < 0) {
        dr_err_set(err, DR_E_IO, "%s: creating %s: %s", name, ch->errpath, strerror(errno));
        dr_pg_child_cleanup(ch);
        return -1;
    }
    const char *pw = PQpass(conn);
    if (pw && *pw) {
        ch->password = dr_xstrdup(pw);
        if (write_passfile(ch, pw, err) != 0) {
            dr_err_wrap(err, "%s", name);
            dr_pg_child_cleanup(ch);
            return -1;
        }
    }
    PQconninfoOption *opts = PQconninfo(conn);
    if (!opts) {
        dr_pg_child_cleanup(ch);
        return dr_err_set(err, DR_E_INTERNAL, "%s: libpq gave no connection options", name);
    }
    build_env(ch, conn, opts);
    /* The options hold the password too: zero it before libpq frees them. */
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (o->val && !strcmp(o->keyword, "password"))
            dr_secure_zero(o->val, strlen(o->val));
    PQconninfoFree(opts);
    return 0;
}

int dr_pg_child_spawn(dr_pg_child *ch, const char *prog, char *const argv[], int in_fd, int out_fd,
                      dr_err *err)
{
    int devnull = -1;
    if (in_fd < 0 || out_fd < 0) {
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0)
            return dr_err_set(err, DR_E_IO, "opening /dev/null: %s", strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, in_fd >= 0 ? in_fd : devnull, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out_fd >= 0 ? out_fd : devnull, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, ch->errfd, STDERR_FILENO);
    /* The child starts with no signal blocked (the restore's writer blocks
     * SIGPIPE in its thread) and with default actions for the signals a
     * caller may have ignored or caught. */
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    static const int sigs[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
                               SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaddset(&dfl, sigs[i]);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, prog, &fa, &attr, argv, ch->env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (devnull >= 0)
        close(devnull);
    if (rc != 0) {
        dr_err_set(err, DR_E_IO, "starting %s (%s): %s", ch->name, prog, strerror(rc));
        return dr_err_hint(err, "install the PostgreSQL client programs, or set %s",
                           strcmp(ch->name, "pg_dump") == 0 ? "DRCTL_PG_DUMP" : "DRCTL_PG_RESTORE");
    }
    ch->pid = pid;
    return 0;
}

void dr_pg_child_tail(const dr_pg_child *ch, char *out, size_t cap)
{
    out[0] = '\0';
    if (ch->errfd < 0 || cap < 8)
        return;
    struct stat st;
    if (fstat(ch->errfd, &st) != 0 || st.st_size <= 0)
        return;
    char buf[4096];
    off_t off = st.st_size > (off_t)sizeof(buf) - 1 ? st.st_size - (off_t)sizeof(buf) + 1 : 0;
    ssize_t n = pread(ch->errfd, buf, sizeof(buf) - 1, off);
    if (n <= 0)
        return;
    buf[n] = '\0';
    /* The last lines: as many as fit, at most 6, oldest first. */
    char *lines[6];
    int nl = 0;
    char *end = buf + n;
    while (end > buf && nl < 6) {
        while (end > buf && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
            *--end = '\0';
        if (end == buf)
            break;
        char *start = end;
        while (start > buf && start[-1] != '\n')
            start--;
        if (start == buf && off > 0)
            break; /* a line cut by the 4 KiB window */
        lines[nl++] = start;
        end = start;
    }
    dr_buf b = DR_BUF_INIT;
    for (int i = nl - 1; i >= 0; i--) {
        if (b.len)
            dr_buf_puts(&b, " / ");
        dr_buf_puts(&b, lines[i]);
    }
    char *s = dr_buf_detach(&b);
    one_line(s);
    dr_pg_scrub(s, ch->password);
    size_t len = strlen(s);
    if (len >= cap) /* keep the end: the error is last */
        snprintf(out, cap, "...%s", s + len - (cap - 4));
    else
        memcpy(out, s, len + 1);
    free(s);
}

int dr_pg_child_wait(dr_pg_child *ch, dr_err *err)
{
    if (ch->pid <= 0)
        return dr_err_set(err, DR_E_INTERNAL, "%s: not running", ch->name);
    int st = 0;
    pid_t r;
    do
        r = waitpid(ch->pid, &st, 0);
    while (r < 0 && errno == EINTR);
    ch->pid = 0;
    if (r < 0)
        return dr_err_set(err, DR_E_IO, "waiting for %s: %s", ch->name, strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    char tail[900];
    dr_pg_child_tail(ch, tail, sizeof(tail));
    if (WIFEXITED(st))
        return dr_err_set(err, DR_E_IO, "%s exited with status %d%s%s", ch->name, WEXITSTATUS(st),
                          tail[0] ? ": " : " (no message)", tail);
    return dr_err_set(err, DR_E_IO, "%s was killed by signal %d (%s)%s%s", ch->name, WTERMSIG(st),
                      strsignal(WTERMSIG(st)), tail[0] ? ": " : "", tail);
}

void dr_pg_child_kill(dr_pg_child *ch)
{
    if (ch->pid <= 0)
        return;
    pid_t pid = ch->pid;
    ch->pid = 0;
    kill(pid, SIGTERM);
    /* pg_dump and pg_restore end at once on SIGTERM; 2 s is for a stuck
     * one (blocked in the kernel, say) before the SIGKILL. */
    for (int i = 0; i < 200; i++) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

void dr_pg_child_cleanup(dr_pg_child *ch)
{
    dr_pg_child_kill(ch);
    if (ch->errfd >= 0) {
        close(ch->errfd);
        ch->errfd = -1;
    }
    if (ch->passfile) {
        /* Overwrite before unlinking: the blocks may outlive the name. */
        int fd = open(ch->passfile, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            struct stat st;
            if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size < 65536) {
                char zeros[65536] = {0};
                (void)!write(fd, zeros, (size_t)st.st_size);
                (void)!fsync(fd);
            }
            close(fd);
        }
        unlink(ch->passfile);
        free(ch->passfile);
        ch->passfile = NULL;
    }
    if (ch->errpath) {
        unlink(ch->errpath);
        free(ch->errpath);
        ch->errpath = NULL;
    }
    if (ch->dir) {
        rmdir(ch->dir);
        free(ch->dir);
        ch->dir = NULL;
    }
    if (ch->env) {
        for (char **e = ch->env; *e; e++)
            free(*e);
        free(ch->env);
        ch->env = NULL;
    }
    dr_free_secret(ch->password);
    ch->password = NULL;
}

/* ----------------------------------------------------------- databases --- */

static int check_dbname(const char *name, dr_err *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 63 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
        return dr_err_set(err, DR_E_USAGE,
                          "invalid database name '%.80s' (1 to 63 of a-z, 0-9 and _)",
                          name ? name : "");
    return 0;
}

/* A connection to the server of c, on a database other than `name`: c's own
 * database, or "postgres" when that is `name` or does not exist. */
static PGconn *connect_server(const dr_pg_conn *c, const char *name, const char *what, dr_err *err)
{
    PGconn *conn = dr_pg_connect(c, what, err);
    if (conn && strcmp(PQdb(conn), name) != 0)
        return conn;
    if (!conn && err->code != DR_E_NOT_FOUND)
        return NULL;
    PQfinish(conn);
    char *ci = dr_pg_conninfo_with_db(c->conninfo ? c->conninfo : "", "postgres");
    dr_pg_conn c2 = {ci, c->password};
    dr_err_clear(err);
    conn = dr_pg_connect(&c2, what, err);
    dr_free_secret(ci);
    return conn;
}

int dr_pg_create_database(const dr_pg_conn *c, const char *name, dr_err *err)
{
    if (check_dbname(name, err) != 0)
        return -1;
    char *what = dr_xasprintf("creating database %s", name);
    PGconn *conn = connect_server(c, name, what, err);
    int rc = -1;
    if (conn) {
        char *id = PQescapeIdentifier(conn, name, strlen(name));
        char *sql = dr_xasprintf("CREATE DATABASE %s TEMPLATE template0", id);
        rc = dr_pg_exec(conn, sql, what, err);
        free(sql);
        PQfreemem(id);
        PQfinish(conn);
    }
    free(what);
    return rc;
}

int dr_pg_drop_database(const dr_pg_conn *c, const char *name, dr_err *err)
{
    if (check_dbname(name, err) != 0)
        return -1;
    char *what = dr_xasprintf("dropping database %s", name);
    PGconn *conn = connect_server(c, name, what, err);
    int rc = -1;
    if (conn) {
        char *id = PQescapeIdentifier(conn, name, strlen(name));
        /* WITH (FORCE) ends other sessions on it; PostgreSQL 13 and later. */
        char *sql = dr_xasprintf("DROP DATABASE IF EXISTS %s%s", id,
                                 PQserverVersion(conn) >= 130000 ? " WITH (FORCE)" : "");
        rc = dr_pg_exec(conn, sql, what, err);
        free(sql);
        PQfreemem(id);
        PQfinish(conn);
    }
    free(what);
    return rc;
}

/* ------------------------------------------------------------ conninfo --- */

static int is_uri(const char *s)
{
    return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

char *dr_pg_conninfo_with_db(const char *conninfo, const char *dbname)
{
    dr_buf b = DR_BUF_INIT;
    if (!conninfo)
        conninfo = "";
    if (is_uri(conninfo)) {
        /* scheme://[userinfo@][hosts][/dbname][?params]: the authority ends
         * at the first '/' or '?' (libpq wants both percent-encoded before). */
        const char *auth = strstr(conninfo, "://") + 3;
        const char *rest = auth + strcspn(auth, "/?");
        dr_buf_append(&b, conninfo, (size_t)(rest - conninfo));
        dr_buf_putc(&b, '/');
        for (const unsigned char *p = (const unsigned char *)dbname; *p; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("-._~", *p))
                dr_buf_putc(&b, (char)*p);
            else
                dr_buf_printf(&b, "%%%02X", *p);
        }
        const char *q = strchr(rest, '?');
        if (q) {
            /* Keep every parameter but a dbname (it would win over the path). */
            int first = 1;
            const char *p = q + 1;
            while (*p) {
                size_t len = strcspn(p, "&");
                if (!(len >= 7 && strncmp(p, "dbname=", 7) == 0) && len > 0) {
                    dr_buf_putc(&b, first ? '?' : '&');
                    dr_buf_append(&b, p, len);
                    first = 0;
                }
                p += len;
                if (*p == '&')
                    p++;
            }
        }
    } else {
        /* key=value: a repeated keyword's last value wins. */
        dr_buf_puts(&b, conninfo);
        if (b.len)
            dr_buf_putc(&b, ' ');
        dr_buf_puts(&b, "dbname='");
        for (const char *p = dbname; *p; p++) {
            if (*p == '\'' || *p == '\\')
                dr_buf_putc(&b, '\\');
            dr_buf_putc(&b, *p);
        }
        dr_buf_putc(&b, '\'');
    }
    return dr_buf_detach(&b);
}
