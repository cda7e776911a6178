/*
 * journal.c - the run journal (see journal.h).
 *
 * Why one write(2) per line with O_APPEND and an fsync after each: the
 * journal is what --resume trusts to never repeat a finished step, so an
 * event must be on disk before the engine acts on it having been written
 * (the "start" before the action runs, the "end" before the next step
 * starts). One write per line means a crash tears at most the line being
 * written; the reader drops a torn last line and nothing else.
 */
#include "runbook/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/lock.h"
#include "util/mem.h"

char *dr_run_id_new(const char *runbook, double t)
{
    time_t secs = (time_t)t;
    struct tm tm;
    gmtime_r(&secs, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    unsigned char r[2];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        /* Only to keep two runs in the same second apart; not a secret. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        unsigned x = (unsigned)ts.tv_nsec ^ ((unsigned)getpid() << 8);
        r[0] = (unsigned char)x;
        r[1] = (unsigned char)(x >> 8);
    }
    return dr_xasprintf("%s-%s-%02x%02x", runbook, stamp, r[0], r[1]);
}

int dr_run_id_valid(const char *id)
{
    if (!id || !*id || strcmp(id, ".") == 0 || strcmp(id, "..") == 0 || strlen(id) > 200)
        return 0;
    for (const char *c = id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-'))
            return 0;
    return 1;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int dr_journal_create(const char *runs_dir, const char *run_id, dr_journal *j, dr_err *err)
{
    j->fd = -1;
    j->dir = NULL;
    j->path = NULL;
    if (!dr_run_id_valid(run_id))
        return dr_err_set(err, DR_E_INTERNAL, "invalid run id '%s'", run_id);
    if (dr_mkdirs(runs_dir, 0700) != 0) {
        dr_err_set(err, DR_E_IO, "cannot create the runs directory %s: %s", runs_dir,
                   strerror(errno));
        return dr_err_hint(err, "check --store (or DRCTL_STORE) points to a writable directory");
    }
    char *dir = dr_xasprintf("%s/%s", runs_dir, run_id);
    if (mkdir(dir, 0700) != 0) {
        dr_err_set(err, DR_E_IO, "cannot create the run directory %s: %s", dir, strerror(errno));
        free(dir);
        return -1;
    }
    char *path = dr_xasprintf("%s/%s", dir, DR_JOURNAL_FILE);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        dr_err_set(err, DR_E_IO, "cannot create the journal %s: %s", path, strerror(errno));
        free(path);
        free(dir);
        return -1;
    }
    /* The file's entry in the run directory and the run directory's entry
     * in runs_dir: without these a crash could lose the whole journal. */
    if (fsync(fd) != 0 || sync_dir(dir) != 0 || sync_dir(runs_dir) != 0) {
        dr_err_set(err, DR_E_IO, "cannot sync the journal %s: %s", path, strerror(errno));
        close(fd);
        free(path);
        free(dir);
        return -1;
    }
    j->fd = fd;
    j->dir = dir;
    j->path = path;
    return 0;
}

int dr_journal_append(dr_journal *j, const json_t *event, dr_err *err)
{
    if (j->fd < 0)
        return dr_err_set(err, DR_E_INTERNAL, "journal is not open");
    char *text = json_dumps(event, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!text)
        return dr_err_set(err, DR_E_INTERNAL, "cannot serialise a journal event");
    size_t len = strlen(text);
    char *line = dr_xmalloc(len + 2);
    memcpy(line, text, len);
    line[len] = '\n';
    line[len + 1] = '\0';
    free(text);
    int rc = 0;
    if (write_all(j->fd, line, len + 1) != 0 || fsync(j->fd) != 0) {
        dr_err_set(err, DR_E_IO, "cannot write the journal %s: %s", j->path, strerror(errno));
        dr_err_hint(err, "free space or fix permissions, then resume the run with --resume");
        rc = -1;
    }
    free(line);
    return rc;
}

void dr_journal_close(dr_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    free(j->dir);
    free(j->path);
    j->fd = -1;
    j->dir = NULL;
    j->path = NULL;
}

/* ---- reading ----------------------------------------------------------- */

static void jstep_free(dr_jstep *s)
{
    free(s->name);
    free(s->status);
    free(s->error);
    free(s->ran_in);
    json_decref(s->detail);
}

void dr_journal_data_free(dr_journal_data *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        jstep_free(&d->steps[i]);
    free(d->steps);
    json_decref(d->header);
    json_decref(d->vars);
    json_decref(d->final);
    memset(d, 0, sizeof(*d));
}

static void set_str(char **slot, const char *s)
{
    free(*slot);
    *slot = s ? dr_xstrdup(s) : NULL;
}

/* The step of an event, growing the table; NULL when the index is absurd. */
static dr_jstep *step_of(dr_journal_data *d, const json_t *ev)
{
    json_t *ix = json_object_get(ev, "step");
    if (!json_is_integer(ix) || json_integer_value(ix) < 0 || json_integer_value(ix) > 10000)
        return NULL;
    size_t i = (size_t)json_integer_value(ix);
    if (i >= d->n) {
        d->steps = dr_xrealloc(d->steps, (i + 1) * sizeof(*d->steps));
        memset(d->steps + d->n, 0, (i + 1 - d->n) * sizeof(*d->steps));
        d->n = i + 1;
    }
    return &d->steps[i];
}

static double num(const json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : 0;
}

/* Applies one event; a description of the problem when it is malformed. */
static const char *apply(dr_journal_data *d, json_t *ev)
{
    const char *kind = json_string_value(json_object_get(ev, "event"));
    if (!kind)
        return "no event name";
    if (!d->header) {
        if (strcmp(kind, "run") != 0 || !json_is_string(json_object_get(ev, "run_id")) ||
            !json_is_string(json_object_get(ev, "runbook")))
            return "the first line is not a run event";
        d->header = json_incref(ev);
        d->run_id = json_string_value(json_object_get(ev, "run_id"));
        d->runbook = json_string_value(json_object_get(ev, "runbook"));
        json_t *vars = json_object_get(ev, "vars");
        d->vars = json_is_object(vars) ? json_deep_copy(vars) : json_object();
        return NULL;
    }
    if (strcmp(kind, "finish") == 0) {
        json_decref(d->final);
        d->final = json_incref(ev);
        return NULL;
    }
    if (strcmp(kind, "start") != 0 && strcmp(kind, "end") != 0 && strcmp(kind, "retry") != 0 &&
        strcmp(kind, "rollback") != 0)
        return NULL; /* a newer writer's event: nothing this reader needs */
    dr_jstep *s = step_of(d, ev);
    if (!s)
        return "no valid step index";
    if (strcmp(kind, "start") == 0) {
        s->state = DR_JSTEP_STARTED;
        set_str(&s->name, json_string_value(json_object_get(ev, "name")));
        if (s->attempts == 0 || s->started_at == 0)
            s->started_at = num(json_object_get(ev, "t"));
        s->attempts++;
    } else if (strcmp(kind, "end") == 0) {
        const char *st = json_string_value(json_object_get(ev, "status"));
        if (!st)
            return "an end event without a status";
        s->state = DR_JSTEP_FINISHED;
        set_str(&s->status, st);
        if (json_is_string(json_object_get(ev, "name")))
            set_str(&s->name, json_string_value(json_object_get(ev, "name")));
        if (json_is_number(json_object_get(ev, "started_at")))
            s->started_at = num(json_object_get(ev, "started_at"));
        s->ended_at = num(json_object_get(ev, "t"));
        if (json_is_integer(json_object_get(ev, "attempts")))
            s->attempts = (int)json_integer_value(json_object_get(ev, "attempts"));
        json_decref(s->detail);
        json_t *det = json_object_get(ev, "detail");
        s->detail = json_is_object(det) ? json_incref(det) : NULL;
        set_str(&s->error, json_string_value(json_object_get(ev, "error")));
        s->code = (int)json_integer_value(json_object_get(ev, "code"));
        s->inherited = json_is_true(json_object_get(ev, "inherited"));
        const char *in = json_string_value(json_object_get(ev, "run_id"));
        set_str(&s->ran_in, in ? in : d->run_id);
        json_t *set = s->detail ? json_object_get(s->detail, "set") : NULL;
        if (strcmp(st, "succeeded") == 0 && json_is_object(set))
            json_object_update(d->vars, set);
    } else if (strcmp(kind, "rollback") == 0) {
        const char *st = json_string_value(json_object_get(ev, "status"));
        if (st && strcmp(st, "rolled-back") == 0) {
            s->state = DR_JSTEP_FINISHED;
            set_str(&s->status, st);
        }
    }
    return NULL;
}

int dr_journal_read(const char *path, dr_journal_data *out, dr_err *err)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return dr_err_set(err, DR_E_NOT_FOUND, "no journal %s", path);
        return dr_err_set(err, DR_E_IO, "cannot read the journal %s: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    size_t lineno = 0;
    int rc = 0;
    /* Keep one line back: whether a bad line is the last one decides if
     * it is a torn write or corruption. */
    char *pending = NULL;
    size_t pending_no = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (pending) {
            /* pending was not the last line: it must parse. */
            json_error_t je;
            json_t *ev = json_loads(pending, 0, &je);
            const char *why =
                ev ? (json_is_object(ev) ? apply(out, ev) : "not an object") : je.text;
            json_decref(ev);
            if (why) {
                rc = dr_err_set(err, DR_E_IO, "journal %s is corrupt at line %zu: %s", path,
                                pending_no, why);
                goto done;
            }
            out->lines++;
            free(pending);
            pending = NULL;
        }
        if (len == 0 || (len == 1 && line[0] == '\n'))
            continue;
        if (line[len - 1] != '\n') {
            out->torn = 1; /* the last line, cut before its newline */
            continue;
        }
        line[len - 1] = '\0';
        pending = dr_xstrdup(line);
        pending_no = lineno;
    }
    if (ferror(f)) {
        rc = dr_err_set(err, DR_E_IO, "cannot read the journal %s: %s", path, strerror(errno));
        goto done;
    }
    if (pending) {
        json_error_t je;
        json_t *ev = json_loads(pending, 0, &je);
        const char *why = ev ? (json_is_object(ev) ? apply(out, ev) : "not an object") : je.text;
        json_decref(ev);
        if (why && out->torn) {
            /* Not the last line: a torn line follows it. */
            rc = dr_err_set(err, DR_E_IO, "journal %s is corrupt at line %zu: %s", path, pending_no,
                            why);
            goto done;
        }
        if (why)
            out->torn = 1; /* a complete-looking last line that is garbage: torn as well */
        else
            out->lines++;
    }
    if (!out->header)
        rc = dr_err_set(err, DR_E_IO, "journal %s has no run event: the run never started", path);
done:
    free(pending);
    free(line);
    fclose(f);
    return rc;
}

/* ---- atomic files ------------------------------------------------------ */

int dr_rb_write_file_atomic(const char *path, const char *data, size_t len, dr_err *err)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? dr_xstrndup(path, (size_t)(slash - path)) : dr_xstrdup(".");
    const char *base = slash ? slash + 1 : path;
    char *tmp = dr_xasprintf("%s/.%s.XXXXXX", dir, base);
    int rc = -1;
    int fd = mkstemp(tmp); /* 0600 */
    if (fd < 0) {
        dr_err_set(err, DR_E_IO, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    int ok = write_all(fd, data, len) == 0 && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        dr_err_set(err, DR_E_IO, "cannot write %s: %s", path, strerror(saved));
        goto out;
    }
    if (sync_dir(dir) != 0) {
        dr_err_set(err, DR_E_IO, "cannot sync %s: %s", dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    free(dir);
    return rc;
}
