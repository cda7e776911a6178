/*
 * itest_pg.c - the PostgreSQL module (src/db/pg.h) against the sandbox's
 * two real PostgreSQL 15 clusters, checked independently with psql and
 * pg_restore -l.
 *
 * us-east-1's "litellm" holds the LiteLLM schema and generated data; every
 * restore goes into a scratch database on us-west-2's server, created and
 * dropped by the test that uses it. What is shown:
 *
 * - the table sums list exactly the tables psql sees, with psql's row
 *   counts, and a checksum psql + md5sum compute the same way;
 * - a dump (start/read/finish) restores, in parallel from a file and
 *   single-job from a live stream, into databases whose sums equal the
 *   dump's; one changed row makes the comparison fail naming the table;
 * - the snapshot: a row inserted while pg_dump runs is in neither the dump
 *   nor its sums;
 * - secrecy: a password in the conninfo (and PGPASSWORD) is in no child's
 *   command line or environment, no log line, no error message; it reaches
 *   the child only through a 0600 passfile in a 0700 directory that is gone
 *   afterwards;
 * - failures (missing database, failing or missing pg_dump, abort, a broken
 *   reader, a bad archive) name the cause and leave no process or temporary
 *   directory behind.
 *
 * Every test runs with TMPDIR set to a directory of its own, so "no temp
 * directory left" is checked exactly.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db/dbmap.h"
#include "db/pg.h"
#include "sandbox_env.h"
#include "util/mem.h"

static dr_dbmap map;
static const char *east; /* postgresql://postgres@127.0.0.1:P1/litellm */
static const char *west; /* its twin on the standby server (empty) */
static char tmpdir[256];
static dr_log test_log;
static FILE *log_mem;
static char *log_buf;
static size_t log_len;

static void setup(void)
{
    sandbox_load_env();
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_dbmap_from_env(&map, &err) == 0, "%s", err.msg);
    east = dr_dbmap_lookup(&map, "us-east-1");
    west = dr_dbmap_lookup(&map, "us-west-2");
    cr_assert(east && west, "DRCTL_DB_MAP lacks a region");
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/itest-pg-XXXXXX");
    cr_assert(mkdtemp(tmpdir));
    setenv("TMPDIR", tmpdir, 1);
    log_mem = open_memstream(&log_buf, &log_len);
    test_log.level = DR_LOG_DEBUG;
    test_log.out = log_mem;
    test_log.progress = 0;
}

static void teardown(void)
{
    fclose(log_mem);
    free(log_buf);
    dr_dbmap_free(&map);
    sh(NULL, "rm -rf '%s'", tmpdir);
}

TestSuite(pg, .init = setup, .fini = teardown, .timeout = 120);

/* ------------------------------------------------------------- helpers --- */

/* s in single quotes for sh. */
static char *shq(const char *s)
{
    size_t n = 2;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 4 : 1;
    char *q = dr_xmalloc(n + 1), *w = q;
    *w++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(w, "'\\''", 4);
            w += 4;
        } else {
            *w++ = *p;
        }
    }
    *w++ = '\'';
    *w = '\0';
    return q;
}

/* psql -At on a conninfo; returns the output (trailing newline cut), NULL
 * on a failure (with the test failed). */
static char *psql(const char *conninfo, const char *fmt, ...)
{
    char *sql = NULL;
    va_list ap;
    va_start(ap, fmt);
    cr_assert(vasprintf(&sql, fmt, ap) >= 0);
    va_end(ap);
    char *qc = shq(conninfo), *qs = shq(sql);
    char *out = NULL;
    int st = sh(&out, "psql -X -A -t -q -v ON_ERROR_STOP=1 -d %s -c %s 2>&1", qc, qs);
    cr_assert_eq(st, 0, "psql %s: %s", sql, out);
    size_t len = strlen(out);
    while (len && out[len - 1] == '\n')
        out[--len] = '\0';
    free(qc);
    free(qs);
    free(sql);
    return out;
}

static void assert_tmpdir_empty(void)
{
    DIR *d = opendir(tmpdir);
    cr_assert(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        cr_assert(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."), "left behind in TMPDIR: %s",
                  e->d_name);
    closedir(d);
}

static void assert_gone(pid_t pid)
{
    cr_assert(pid > 0);
    cr_assert(kill(pid, 0) != 0 && errno == ESRCH, "process %ld still exists", (long)pid);
}

static char *scratch_name(const char *tag)
{
    return dr_xasprintf("drctl_itest_%s_%ld", tag, (long)getpid());
}

/* Creates a scratch database on the standby server; returns its conninfo. */
static char *scratch_create(const char *name)
{
    dr_pg_conn c = {west, NULL};
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_pg_drop_database(&c, name, &err) == 0, "%s", err.msg);
    cr_assert(dr_pg_create_database(&c, name, &err) == 0, "%s", err.msg);
    return dr_pg_conninfo_with_db(west, name);
}

static void scratch_drop(const char *name, char *conninfo)
{
    dr_pg_conn c = {west, NULL};
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_pg_drop_database(&c, name, &err) == 0, "%s", err.msg);
    char *n = psql(west, "SELECT count(*) FROM pg_database WHERE datname = '%s'", name);
    cr_expect_str_eq(n, "0", "database %s still exists", name);
    free(n);
    dr_free_secret(conninfo);
}

static void sums_of(const char *conninfo, dr_pg_sums *out)
{
    dr_pg_conn c = {conninfo, NULL};
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_pg_table_sums(&c, out, &err) == 0, "%s", err.msg);
}

static const dr_pg_table_sum *find_table(const dr_pg_sums *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0)
            return &s->t[i];
    return NULL;
}

/* Reads the rest of a dump into fd-backed FILE f; returns bytes. */
static uint64_t drain_to(dr_pg_dump *d, FILE *f)
{
    static char buf[1 << 20];
    uint64_t total = 0;
    long n;
    while ((n = dr_pg_dump_read(d, buf, sizeof(buf))) > 0) {
        cr_assert_eq(fwrite(buf, 1, (size_t)n, f), (size_t)n);
        total += (uint64_t)n;
    }
    cr_assert_eq(n, 0, "dr_pg_dump_read failed");
    return total;
}

/* Dumps conninfo into path. */
static void dump_to_file(const char *conninfo, const char *path, dr_pg_sums *sums,
                         dr_pg_dump_info *info)
{
    dr_pg_dump_opts o = {{conninfo, NULL}, NULL, 0, &test_log};
    dr_pg_dump *d = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_pg_dump_start(&o, &d, &err) == 0, "%s", err.msg);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    drain_to(d, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert(dr_pg_dump_finish(d, sums, info, &err) == 0, "%s", err.msg);
}

/* A child of ours running `comm`, or 0. */
static pid_t child_named(const char *comm)
{
    DIR *proc = opendir("/proc");
    cr_assert(proc);
    struct dirent *e;
    pid_t found = 0;
    while (!found && (e = readdir(proc)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *rp = strrchr(buf, ')'), *lp = strchr(buf, '(');
        if (!rp || !lp)
            continue;
        long ppid = 0;
        char state;
        if (sscanf(rp + 1, " %c %ld", &state, &ppid) != 2 || ppid != (long)getpid())
            continue;
        if ((size_t)(rp - lp - 1) == strlen(comm) && !strncmp(lp + 1, comm, strlen(comm)))
            found = (pid_t)pid;
    }
    closedir(proc);
    return found;
}

static char *read_proc(pid_t pid, const char *what, size_t *len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, what);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "open %s: %s", path, strerror(errno));
    char *buf = dr_xmalloc(1 << 20);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* The secrecy checks on a running child: the password in neither its
 * command line nor its environment, no PGPASSWORD, and a PGPASSFILE in a
 * private directory that holds it. Returns the passfile's directory. */
static char *check_child_secrecy(pid_t pid, const char *password)
{
    size_t n;
    char *cmd = read_proc(pid, "cmdline", &n);
    cr_assert(n > 0);
    cr_expect(!memmem(cmd, n, password, strlen(password)), "password in the command line");
    free(cmd);
    char *env = read_proc(pid, "environ", &n);
    cr_expect(!memmem(env, n, password, strlen(password)), "password in the environment");
    const char *passfile = NULL;
    for (size_t i = 0; i < n; i += strlen(env + i) + 1) {
        cr_expect(strncmp(env + i, "PGPASSWORD=", 11) != 0, "PGPASSWORD in the environment");
        if (!strncmp(env + i, "PGPASSFILE=", 11))
            passfile = env + i + 11;
    }
    cr_assert(passfile, "no PGPASSFILE in the child's environment");
    cr_expect(!strncmp(passfile, tmpdir, strlen(tmpdir)), "passfile %s not under TMPDIR", passfile);
    struct stat st;
    cr_assert(stat(passfile, &st) == 0);
    cr_expect_eq(st.st_mode & 0777, 0600, "passfile mode %o", st.st_mode & 0777);
    char *dir = dr_xstrdup(passfile);
    *strrchr(dir, '/') = '\0';
    cr_assert(stat(dir, &st) == 0);
    cr_expect_eq(st.st_mode & 0777, 0700, "passfile directory mode %o", st.st_mode & 0777);
    /* The passfile line, with libpq's escapes for ':' and '\\'. */
    char *want = dr_xmalloc(strlen(password) * 2 + 16), *w = want;
    w += sprintf(w, "*:*:*:*:");
    for (const char *p = password; *p; p++) {
        if (*p == ':' || *p == '\\')
            *w++ = '\\';
        *w++ = *p;
    }
    strcpy(w, "\n");
    char *content = NULL;
    char *q = shq(passfile);
    sh(&content, "cat %s", q);
    cr_expect_str_eq(content, want, "the passfile");
    free(content);
    free(want);
    free(q);
    free(env);
    return dir;
}

/* ------------------------------------------------------------- tests --- */

Test(pg, conninfo_json_and_compare_without_a_server)
{
    char *s = dr_pg_conninfo_with_db("postgresql://u:p%40ss@h:5/db?sslmode=require&dbname=x"
                                     "&connect_timeout=3",
                                     "other_db");
    cr_expect_str_eq(s, "postgresql://u:p%40ss@h:5/other_db?sslmode=require&connect_timeout=3");
    free(s);
    s = dr_pg_conninfo_with_db("postgres://h", "a b");
    cr_expect_str_eq(s, "postgres://h/a%20b");
    free(s);
    s = dr_pg_conninfo_with_db("postgresql://h:1?sslmode=disable", "d");
    cr_expect_str_eq(s, "postgresql://h:1/d?sslmode=disable");
    free(s);
    s = dr_pg_conninfo_with_db("host=h dbname=x password='a b'", "it's");
    cr_expect_str_eq(s, "host=h dbname=x password='a b' dbname='it\\'s'");
    free(s);
    s = dr_pg_conninfo_with_db("", "d");
    cr_expect_str_eq(s, "dbname='d'");
    free(s);

    dr_err err;
    dr_err_clear(&err);
    json_t *j = json_loads("{\"public.b\": {\"rows\": 2, \"checksum\": "
                           "\"0123456789abcdef0123456789abcdef\"},"
                           " \"public.\\\"A\\\"\": {\"rows\": 0, \"checksum\": "
                           "\"ffffffffffffffffffffffffffffffff\"}}",
                           0, NULL);
    cr_assert(j);
    dr_pg_sums a;
    cr_assert(dr_pg_sums_from_json(j, &a, &err) == 0, "%s", err.msg);
    cr_assert_eq(a.n, 2);
    cr_expect_str_eq(a.t[0].name, "public.\"A\""); /* sorted */
    json_t *back = dr_pg_sums_to_json(&a);
    cr_expect(json_equal(back, j));
    json_decref(back);
    dr_pg_sums b;
    cr_assert(dr_pg_sums_from_json(j, &b, &err) == 0);
    cr_expect_eq(dr_pg_sums_compare(&a, &b, &err), 0);
    b.t[1].rows = 3;
    cr_expect_eq(dr_pg_sums_compare(&a, &b, &err), -1);
    cr_expect_eq(err.code, DR_E_VERIFY);
    cr_expect(strstr(err.msg, "public.b: 2 rows expected, 3 found"), "%s", err.msg);
    cr_expect(strstr(err.msg, "1 of 2 tables differs"), "%s", err.msg);
    b.n = 1; /* public.b missing */
    b.t[0].checksum[0] = '1';
    cr_expect_eq(dr_pg_sums_compare(&a, &b, &err), -1);
    cr_expect(strstr(err.msg, "public.\"A\": checksum ffff"), "%s", err.msg);
    cr_expect(strstr(err.msg, "2 of 2 tables differ"), "%s", err.msg);
    cr_expect_eq(dr_pg_sums_compare(&b, &a, &err), -1);
    b.n = 2;
    json_decref(j);
    j = json_loads("{\"t\": {\"rows\": 1, \"checksum\": \"xyz\"}}", 0, NULL);
    cr_expect_eq(dr_pg_sums_from_json(j, &b, &err), -1);
    cr_expect_eq(err.code, DR_E_VERIFY);
    json_decref(j);
    dr_pg_sums_free(&a);
    dr_pg_sums_free(&b);

    dr_pg_conn c = {"host=127.0.0.1", NULL};
    cr_expect_eq(dr_pg_create_database(&c, "Bad-Name", &err), -1);
    cr_expect_eq(err.code, DR_E_USAGE);
    cr_expect_eq(dr_pg_drop_database(&c, "x;drop", &err), -1);
    cr_expect_eq(err.code, DR_E_USAGE);
}

Test(pg, sums_list_every_table_with_psql_counts_and_checksums)
{
    dr_pg_sums s;
    sums_of(east, &s);
    /* The tables, as psql lists them, in byte order. */
    char *list = psql(east, "SELECT n FROM (SELECT quote_ident(table_schema) || '.' || "
                            "quote_ident(table_name) AS n FROM information_schema.tables "
                            "WHERE table_type = 'BASE TABLE' "
                            "AND table_schema NOT IN ('pg_catalog', 'information_schema')) t "
                            "ORDER BY n COLLATE \"C\"");
    char *ours = NULL;
    size_t ours_len = 0;
    FILE *m = open_memstream(&ours, &ours_len);
    for (size_t i = 0; i < s.n; i++)
        fprintf(m, "%s%s", i ? "\n" : "", s.t[i].name);
    fclose(m);
    cr_expect_str_eq(ours, list);
    cr_assert(s.n >= 15, "only %zu tables", s.n);
    cr_expect(find_table(&s, "public.\"LiteLLM_SpendLogs\""));
    cr_expect(find_table(&s, "public.\"LiteLLM_VerificationToken\""));
    cr_expect(find_table(&s, "public._prisma_migrations"));
    cr_expect(find_table(&s, "public.\"LiteLLM_SpendLogs\"")->rows > 0);
    /* Row counts, one psql query per table. */
    for (size_t i = 0; i < s.n; i++) {
        char *n = psql(east, "SELECT count(*) FROM %s", s.t[i].name);
        cr_expect_eq(strtoll(n, NULL, 10), s.t[i].rows, "%s: psql %s, sums %lld", s.t[i].name, n,
                     (long long)s.t[i].rows);
        free(n);
    }
    /* One checksum recomputed with psql and md5sum. */
    const dr_pg_table_sum *spend = find_table(&s, "public.\"LiteLLM_SpendLogs\"");
    char *three =
        psql(east, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET extra_float_digits = 3; "
                   "SELECT count(*) || ':' || "
                   "coalesce(sum(('x' || substr(h, 1, 15))::bit(60)::bigint), 0) || ':' || "
                   "coalesce(sum(('x' || substr(h, 16, 15))::bit(60)::bigint), 0) "
                   "FROM (SELECT md5(t::text) AS h FROM ONLY public.\"LiteLLM_SpendLogs\" t) s");
    char *q = shq(three), *md5 = NULL;
    cr_assert_eq(sh(&md5, "printf %%s %s | md5sum | cut -c1-32", q), 0);
    md5[32] = '\0';
    cr_expect_str_eq(spend->checksum, md5, "checksum of %s (%s)", spend->name, three);
    free(q);
    free(md5);
    free(three);
    /* Deterministic, and the JSON form round-trips. */
    dr_pg_sums again, parsed;
    sums_of(east, &again);
    dr_err err;
    dr_err_clear(&err);
    cr_expect_eq(dr_pg_sums_compare(&s, &again, &err), 0, "%s", err.msg);
    json_t *j = dr_pg_sums_to_json(&s);
    cr_assert(dr_pg_sums_from_json(j, &parsed, &err) == 0, "%s", err.msg);
    cr_expect_eq(dr_pg_sums_compare(&s, &parsed, &err), 0, "%s", err.msg);
    json_decref(j);
    dr_pg_sums_free(&again);
    dr_pg_sums_free(&parsed);
    dr_pg_sums_free(&s);
    free(list);
    free(ours);
}

Test(pg, dump_to_file_then_parallel_restore_gives_equal_sums_and_one_change_is_named)
{
    dr_pg_sums src, dumped, restored;
    sums_of(east, &src);
    char path[512];
    snprintf(path, sizeof(path), "/tmp/itest-pg-%ld.dump", (long)getpid());
    dr_pg_dump_info info;
    time_t before = time(NULL);
    dump_to_file(east, path, &dumped, &info);
    time_t after = time(NULL);
    dr_err err;
    dr_err_clear(&err);
    cr_expect_eq(dr_pg_sums_compare(&src, &dumped, &err), 0, "%s", err.msg);
    cr_expect(info.snapshot[0]);
    cr_expect(!strncmp(info.server_version, "15.", 3), "%s", info.server_version);
    cr_expect(!strchr(info.server_version, ' '), "%s", info.server_version);
    cr_expect_str_eq(info.database, "litellm");
    cr_expect(info.captured_at >= before - 2 && info.captured_at <= after + 2);
    struct stat st;
    cr_assert(stat(path, &st) == 0);
    cr_expect_eq(info.bytes, (uint64_t)st.st_size);
    cr_expect(info.bytes > 100000, "%llu bytes", (unsigned long long)info.bytes);
    cr_expect(info.seconds > 0 && info.seconds < 60);
    assert_tmpdir_empty();

    /* pg_restore itself reads the archive: one TABLE DATA entry per table. */
    char *toc = NULL;
    cr_assert_eq(sh(&toc, "pg_restore -l '%s'", path), 0);
    cr_expect(strstr(toc, "TABLE DATA public LiteLLM_SpendLogs "), "%s", toc);
    size_t entries = 0;
    for (const char *p = toc; (p = strstr(p, " TABLE DATA ")) != NULL; p++)
        entries++;
    cr_expect_eq(entries, dumped.n);
    free(toc);

    char *name = scratch_name("file");
    char *target = scratch_create(name);
    dr_pg_restore_opts ro = {{target, NULL}, NULL, 0, 2, &test_log};
    cr_assert(dr_pg_restore_file(&ro, path, &err) == 0, "%s", err.msg);
    sums_of(target, &restored);
    cr_expect_eq(dr_pg_sums_compare(&dumped, &restored, &err), 0, "%s", err.msg);
    assert_tmpdir_empty();

    /* A second restore with --clean over the first: still equal. */
    ro.clean = 1;
    ro.jobs = 1;
    cr_assert(dr_pg_restore_file(&ro, path, &err) == 0, "%s", err.msg);
    dr_pg_sums_free(&restored);
    sums_of(target, &restored);
    cr_expect_eq(dr_pg_sums_compare(&dumped, &restored, &err), 0, "%s", err.msg);

    /* One changed value in one row: the checksum, not the count, tells. */
    free(psql(target, "UPDATE \"LiteLLM_SpendLogs\" SET spend = spend + 1 "
                      "WHERE request_id = (SELECT min(request_id) FROM \"LiteLLM_SpendLogs\")"));
    dr_pg_sums_free(&restored);
    sums_of(target, &restored);
    cr_expect_eq(dr_pg_sums_compare(&dumped, &restored, &err), -1);
    cr_expect_eq(err.code, DR_E_VERIFY);
    cr_expect(strstr(err.msg, "public.\"LiteLLM_SpendLogs\": checksum"), "%s", err.msg);
    cr_expect(strstr(err.msg, "1 of "), "%s", err.msg);
    /* And a deleted row elsewhere: named with both counts. */
    free(psql(target, "DELETE FROM _prisma_migrations"));
    dr_pg_sums_free(&restored);
    sums_of(target, &restored);
    cr_expect_eq(dr_pg_sums_compare(&dumped, &restored, &err), -1);
    cr_expect(strstr(err.msg, "public.\"LiteLLM_SpendLogs\": checksum"), "%s", err.msg);
    cr_expect(strstr(err.msg, "2 of "), "%s", err.msg);
    /* Drop SpendLogs' change: now the first difference is the count. */
    dr_pg_sums_free(&restored);
    sums_of(target, &restored);
    for (size_t i = 0; i < restored.n; i++)
        if (!strcmp(restored.t[i].name, "public.\"LiteLLM_SpendLogs\""))
            memcpy(restored.t[i].checksum, find_table(&dumped, restored.t[i].name)->checksum, 33);
    cr_expect_eq(dr_pg_sums_compare(&dumped, &restored, &err), -1);
    cr_expect(strstr(err.msg, "public._prisma_migrations: 1 rows expected, 0 found"), "%s",
              err.msg);

    scratch_drop(name, target);
    free(name);
    unlink(path);
    dr_pg_sums_free(&src);
    dr_pg_sums_free(&dumped);
    dr_pg_sums_free(&restored);
}

Test(pg, live_dump_streamed_into_pg_restore)
{
    char *name = scratch_name("stream");
    char *target = scratch_create(name);
    dr_pg_dump_opts o = {{east, NULL}, NULL, 0, &test_log};
    dr_pg_dump *d = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_pg_dump_start(&o, &d, &err) == 0, "%s", err.msg);
    dr_pg_restore_opts ro = {{target, NULL}, NULL, 0, 0, &test_log};
    int rc = dr_pg_restore_stream(&ro, dr_pg_dump_read, d, &err);
    if (rc != 0)
        dr_pg_dump_abort(d);
    cr_assert_eq(rc, 0, "%s", err.msg);
    dr_pg_sums dumped, restored;
    dr_pg_dump_info info;
    cr_assert(dr_pg_dump_finish(d, &dumped, &info, &err) == 0, "%s", err.msg);
    cr_expect(info.bytes > 100000);
    sums_of(target, &restored);
    cr_expect_eq(dr_pg_sums_compare(&dumped, &restored, &err), 0, "%s", err.msg);
    cr_expect(dumped.n >= 15);
    assert_tmpdir_empty();
    scratch_drop(name, target);
    free(name);
    dr_pg_sums_free(&dumped);
    dr_pg_sums_free(&restored);
}

Test(pg, a_row_written_during_the_dump_is_not_in_it)
{
    const char *id = "drctl-itest-snapshot";
    free(psql(east, "DELETE FROM _prisma_migrations WHERE id = '%s'", id));
    dr_pg_sums before;
    sums_of(east, &before);

    dr_pg_dump_opts o = {{east, NULL}, NULL, 0, &test_log};
    dr_pg_dump *d = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_pg_dump_start(&o, &d, &err) == 0, "%s", err.msg);
    char path[512];
    snprintf(path, sizeof(path), "/tmp/itest-pg-snap-%ld.dump", (long)getpid());
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    static char buf[65536];
    long n = dr_pg_dump_read(d, buf, sizeof(buf));
    cr_assert(n > 0);
    fwrite(buf, 1, (size_t)n, f);
    /* pg_dump is still running: its output does not fit in the pipe. */
    cr_expect_eq(kill(dr_pg_dump_pid(d), 0), 0);
    free(psql(east,
              "INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, "
              "applied_steps_count) VALUES ('%s', 'x', 'drctl itest', now(), 1)",
              id));
    drain_to(d, f);
    cr_assert_eq(fclose(f), 0);
    dr_pg_sums dumped, now, restored;
    cr_assert(dr_pg_dump_finish(d, &dumped, NULL, &err) == 0, "%s", err.msg);

    /* The sums are those of the snapshot... */
    cr_expect_eq(dr_pg_sums_compare(&before, &dumped, &err), 0, "%s", err.msg);
    sums_of(east, &now);
    cr_expect_eq(dr_pg_sums_compare(&dumped, &now, &err), -1);
    cr_expect(strstr(err.msg, "public._prisma_migrations: 1 rows expected, 2 found"), "%s",
              err.msg);
    free(psql(east, "DELETE FROM _prisma_migrations WHERE id = '%s'", id));

    /* ... and so is the dump. */
    char *name = scratch_name("snap");
    char *target = scratch_create(name);
    dr_pg_restore_opts ro = {{target, NULL}, NULL, 0, 1, &test_log};
    cr_assert(dr_pg_restore_file(&ro, path, &err) == 0, "%s", err.msg);
    sums_of(target, &restored);
    cr_expect_eq(dr_pg_sums_compare(&dumped, &restored, &err), 0, "%s", err.msg);
    char *c = psql(target, "SELECT count(*) FROM _prisma_migrations WHERE id = '%s'", id);
    cr_expect_str_eq(c, "0");
    free(c);
    scratch_drop(name, target);
    free(name);
    unlink(path);
    dr_pg_sums_free(&before);
    dr_pg_sums_free(&dumped);
    dr_pg_sums_free(&now);
    dr_pg_sums_free(&restored);
}

/* The restore's reader: streams a dump and, on its first call, looks at
 * the running pg_restore. */
typedef struct spy {
    dr_pg_dump *d;
    const char *password;
    char *dir; /* pg_restore's passfile directory */
    int calls;
} spy;

static long spy_read(void *ud, char *buf, size_t n)
{
    spy *s = ud;
    if (s->calls++ == 0) {
        pid_t pid = 0;
        for (int i = 0; i < 200 && !pid; i++) {
            pid = child_named("pg_restore");
            if (!pid)
                usleep(10000);
        }
        cr_assert(pid, "no pg_restore child found");
        s->dir = check_child_secrecy(pid, s->password);
    }
    return dr_pg_dump_read(s->d, buf, n);
}

Test(pg, passwords_reach_children_only_through_a_private_passfile)
{
    char password[64], password2[64];
    snprintf(password, sizeof(password), "Sekr3t:%ld\\xyzzy", (long)getpid());
    snprintf(password2, sizeof(password2), "Env-Sekr3t-%ld", (long)getpid());
    /* east with the password in the URI (trust auth accepts any). */
    const char *at = strchr(east, '@');
    cr_assert(at);
    /* ':' and '\\' percent-encoded in the URI's userinfo. */
    char *enc = dr_xmalloc(strlen(password) * 3 + 1), *w = enc;
    for (const char *p = password; *p; p++)
        w += *p == ':'    ? sprintf(w, "%%3A")
             : *p == '\\' ? sprintf(w, "%%5C")
                          : sprintf(w, "%c", *p);
    char *uri = dr_xasprintf("%.*s:%s%s", (int)(at - east), east, enc, at);
    setenv("PGPASSWORD", password2, 1);

    dr_pg_dump_opts o = {{uri, NULL}, NULL, 0, &test_log};
    dr_pg_dump *d = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_pg_dump_start(&o, &d, &err) == 0, "%s", err.msg);
    pid_t pid = dr_pg_dump_pid(d);
    char *dump_dir = check_child_secrecy(pid, password);
    size_t n;
    char *env = read_proc(pid, "environ", &n);
    cr_expect(!memmem(env, n, password2, strlen(password2)), "PGPASSWORD's value passed on");
    cr_expect(memmem(env, n, "PGDATABASE=litellm", 19), "no PGDATABASE");
    free(env);

    /* The same for pg_restore, fed by the running dump, with the password
     * given apart from the conninfo. */
    char *name = scratch_name("secret");
    char *target = scratch_create(name);
    dr_pg_restore_opts ro = {{target, password}, NULL, 0, 0, &test_log};
    spy s = {d, password, NULL, 0};
    int rc = dr_pg_restore_stream(&ro, spy_read, &s, &err);
    if (rc != 0)
        dr_pg_dump_abort(d);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert(dr_pg_dump_finish(d, NULL, NULL, &err) == 0, "%s", err.msg);
    struct stat st;
    cr_expect(stat(dump_dir, &st) != 0 && errno == ENOENT, "%s is still there", dump_dir);
    cr_assert(s.dir);
    cr_expect(stat(s.dir, &st) != 0 && errno == ENOENT, "%s is still there", s.dir);
    assert_tmpdir_empty();

    /* A failing connection's message names the server, not the password. */
    char *bad = dr_xasprintf("postgresql://postgres:%s@127.0.0.1:1/litellm", enc);
    dr_pg_conn bc = {bad, NULL};
    dr_pg_sums sums;
    cr_expect_eq(dr_pg_table_sums(&bc, &sums, &err), -1);
    cr_expect_eq(err.code, DR_E_NETWORK, "%d %s", err.code, err.msg);
    cr_expect(strstr(err.msg, "127.0.0.1"), "%s", err.msg);
    cr_expect(!strstr(err.msg, enc) && !strstr(err.msg, "Sekr3t"), "%s", err.msg);
    fflush(log_mem);
    cr_expect(log_len > 0, "nothing was logged");
    cr_expect(!strstr(log_buf, "Sekr3t"), "a password was logged: %s", log_buf);

    unsetenv("PGPASSWORD");
    scratch_drop(name, target);
    free(name);
    free(bad);
    free(enc);
    free(uri);
    free(dump_dir);
    free(s.dir);
}

/* A restore's reader that fails on its third call. */
typedef struct breaking {
    dr_pg_dump *d;
    int calls;
} breaking;

static long breaking_read(void *ud, char *buf, size_t n)
{
    breaking *b = ud;
    if (b->calls++ == 2)
        return -1;
    return dr_pg_dump_read(b->d, buf, n < 65536 ? n : 65536);
}

Test(pg, failures_name_the_cause_and_leave_nothing_behind)
{
    dr_err err;
    dr_err_clear(&err);
    dr_pg_dump *d = NULL;

    /* A database that does not exist. */
    char *nodb = dr_pg_conninfo_with_db(east, "no_such_db_xyz");
    dr_pg_dump_opts o = {{nodb, NULL}, NULL, 0, &test_log};
    cr_expect_eq(dr_pg_dump_start(&o, &d, &err), -1);
    cr_expect_null(d);
    cr_expect_eq(err.code, DR_E_NOT_FOUND, "%d %s", err.code, err.msg);
    cr_expect(strstr(err.msg, "database \"no_such_db_xyz\" does not exist"), "%s", err.msg);
    cr_expect(!child_named("pg_dump"));
    assert_tmpdir_empty();
    dr_pg_restore_opts ro = {{nodb, NULL}, NULL, 0, 0, &test_log};
    cr_expect_eq(dr_pg_restore_file(&ro, "/nonexistent", &err), -1);
    cr_expect_eq(err.code, DR_E_NOT_FOUND, "%d %s", err.code, err.msg);
    free(nodb);

    /* pg_dump itself fails: its words are quoted, it is reaped. */
    char bindir[] = "/tmp/itest-pg-bin-XXXXXX";
    cr_assert(mkdtemp(bindir));
    char *script = dr_xasprintf("%s/failing_pg_dump", bindir);
    FILE *f = fopen(script, "w");
    cr_assert(f);
    fprintf(f, "#!/bin/sh\nexec pg_dump --strict-names -t no_such_table_xyz \"$@\"\n");
    fclose(f);
    chmod(script, 0755);
    o.conn.conninfo = east;
    o.pg_dump = script;
    cr_assert(dr_pg_dump_start(&o, &d, &err) == 0, "%s", err.msg);
    pid_t pid = dr_pg_dump_pid(d);
    static char buf[1 << 16];
    while (dr_pg_dump_read(d, buf, sizeof(buf)) > 0)
        ;
    cr_expect_eq(dr_pg_dump_finish(d, NULL, NULL, &err), -1);
    cr_expect_eq(err.code, DR_E_IO);
    cr_expect(strstr(err.msg, "pg_dump exited with status 1"), "%s", err.msg);
    cr_expect(strstr(err.msg, "no matching tables were found"), "%s", err.msg);
    assert_gone(pid);
    assert_tmpdir_empty();

    /* Not there at all. */
    o.pg_dump = "/nonexistent/pg_dump";
    cr_expect_eq(dr_pg_dump_start(&o, &d, &err), -1);
    cr_expect_eq(err.code, DR_E_IO);
    cr_expect(strstr(err.msg, "/nonexistent/pg_dump"), "%s", err.msg);
    cr_expect(strstr(err.hint, "DRCTL_PG_DUMP"), "%s", err.hint);
    assert_tmpdir_empty();
    /* ... nor through the environment. */
    o.pg_dump = NULL;
    setenv("DRCTL_PG_DUMP", "/nonexistent/env_pg_dump", 1);
    cr_expect_eq(dr_pg_dump_start(&o, &d, &err), -1);
    cr_expect(strstr(err.msg, "/nonexistent/env_pg_dump"), "%s", err.msg);
    unsetenv("DRCTL_PG_DUMP");

    /* Abort in the middle: killed, reaped, cleaned. */
    cr_assert(dr_pg_dump_start(&o, &d, &err) == 0, "%s", err.msg);
    pid = dr_pg_dump_pid(d);
    cr_assert(dr_pg_dump_read(d, buf, sizeof(buf)) > 0);
    dr_pg_dump_abort(d);
    assert_gone(pid);
    assert_tmpdir_empty();
    dr_pg_dump_abort(NULL);

    /* Finish without reading: an error, not a truncated dump. */
    cr_assert(dr_pg_dump_start(&o, &d, &err) == 0, "%s", err.msg);
    pid = dr_pg_dump_pid(d);
    cr_expect_eq(dr_pg_dump_finish(d, NULL, NULL, &err), -1);
    cr_expect_eq(err.code, DR_E_INTERNAL);
    assert_gone(pid);
    assert_tmpdir_empty();

    /* A reader that breaks in the middle of a stream restore, and an
     * archive pg_restore cannot read. */
    char *name = scratch_name("fail");
    char *target = scratch_create(name);
    cr_assert(dr_pg_dump_start(&o, &d, &err) == 0, "%s", err.msg);
    ro.conn.conninfo = target;
    breaking br = {d, 0};
    cr_expect_eq(dr_pg_restore_stream(&ro, breaking_read, &br, &err), -1);
    cr_expect_eq(err.code, DR_E_IO);
    cr_expect(strstr(err.msg, "reading the dump failed"), "%s", err.msg);
    cr_expect(!child_named("pg_restore"), "pg_restore left running");
    dr_pg_dump_abort(d);
    cr_expect(!child_named("pg_dump"), "pg_dump left running");
    char *garbage = dr_xasprintf("%s/garbage.dump", bindir);
    f = fopen(garbage, "w");
    fprintf(f, "this is not an archive\n");
    fclose(f);
    cr_expect_eq(dr_pg_restore_file(&ro, garbage, &err), -1);
    cr_expect_eq(err.code, DR_E_IO);
    cr_expect(strstr(err.msg, "pg_restore exited with status 1"), "%s", err.msg);
    cr_expect(strstr(err.msg, "does not appear to be a valid archive"), "%s", err.msg);
    assert_tmpdir_empty();

    scratch_drop(name, target);
    free(name);
    sh(NULL, "rm -rf '%s'", bindir);
    free(script);
    free(garbage);
}
