/*
 * run.c - the runbook engine and the built-in actions (see run.h).
 *
 * One struct (runctx) holds everything a run has: the journal, the
 * variables, one record per step (main steps, then finally steps). The
 * journal is written before the engine acts on what it records: the start
 * event before the action is called, the end event before the next step
 * starts. The step records are what run.json is built from at the end, so
 * the journal and the record can never disagree about a step the engine
 * saw finish.
 *
 * Time has two clocks: CLOCK_REALTIME for what is recorded (comparable
 * across processes and with declared_at), CLOCK_MONOTONIC for deadlines
 * and durations shown (immune to the clock being stepped mid-run).
 */
#include "runbook/run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runbook/journal.h"
#include "util/buf.h"
#include "util/mem.h"

/* ---- small helpers ----------------------------------------------------- */

/* "12.3 s" under a minute, "14m30s" above: the step lines' durations. */
static void fmt_secs(double s, char *out, size_t cap)
{
    if (s < 0)
        s = 0;
    if (s < 60)
        snprintf(out, cap, "%.1f s", s);
    else
        dr_rb_format_duration(lround(s), out, cap);
}

static json_t *jtime(double t)
{
    return t > 0 ? json_real(t) : json_null();
}

static json_t *jstr(const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    return v ? v : json_null();
}

/* s as a JSON string, invalid UTF-8 replaced by '?' (error messages quote
 * what commands printed, and a cut message can split a character): jansson
 * refuses invalid UTF-8, and a refused event would be a lost event. */
static json_t *jtext(const char *s)
{
    if (!s)
        return json_null();
    json_t *v = json_string(s);
    if (v)
        return v;
    char *c = dr_xstrdup(s);
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (p[i]) {
        unsigned char b = p[i];
        size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
        size_t k = 1;
        while (len > 1 && k < len && (p[i + k] & 0xc0) == 0x80)
            k++;
        if (len == 0 || k < len) {
            c[i] = '?';
            i++;
            continue;
        }
        i += len;
    }
    v = json_string(c);
    free(c);
    return v ? v : json_string("(unprintable)");
}

/* Sleeps ms milliseconds in short slices, returning early once interrupted. */
static void nap(long ms, volatile sig_atomic_t *interrupted)
{
    while (ms > 0 && !(interrupted && *interrupted)) {
        long slice = ms < 100 ? ms : 100;
        struct timespec ts = {slice / 1000, (slice % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

/* The pause before retry k (1-based): 1 s, 2 s, 4 s... capped at a minute.
 * DRCTL_RB_RETRY_DELAY_MS replaces the 1 s base (tests make it tiny). */
static long retry_delay_ms(int k)
{
    long base = 1000;
    const char *env = getenv("DRCTL_RB_RETRY_DELAY_MS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 0 && v <= 600000)
            base = v;
    }
    long d = base;
    for (int i = 1; i < k && d < 60000; i++)
        d *= 2;
    return d < 60000 ? d : (base > 60000 ? base : 60000);
}

/* ---- built-in actions -------------------------------------------------- */

static const char *const shell_required[] = {"command", NULL};
static const char *const shell_optional[] = {"env", NULL};
static const char *const confirm_required[] = {"message", NULL};

/* Keeps the last bytes of a stream: what a failed command said last is what
 * explains it. */
#define TAIL_BYTES 16384
#define TAIL_LINES 20

typedef struct tail {
    char buf[TAIL_BYTES];
    size_t len;
} tail;

static void tail_add(tail *t, const char *p, size_t n)
{
    if (n >= TAIL_BYTES) {
        memcpy(t->buf, p + n - TAIL_BYTES, TAIL_BYTES);
        t->len = TAIL_BYTES;
        return;
    }
    if (t->len + n > TAIL_BYTES) {
        size_t drop = t->len + n - TAIL_BYTES;
        memmove(t->buf, t->buf + drop, t->len - drop);
        t->len -= drop;
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
}

/* The last TAIL_LINES lines, control characters other than newline and tab
 * replaced (the text goes into JSON and onto terminals). Caller frees. */
static char *tail_lines(const tail *t)
{
    size_t end = t->len;
    while (end > 0 && (t->buf[end - 1] == '\n' || t->buf[end - 1] == '\r'))
        end--;
    size_t start = end;
    int lines = 0;
    while (start > 0) {
        if (t->buf[start - 1] == '\n' && ++lines == TAIL_LINES)
            break;
        start--;
    }
    char *s = dr_xstrndup(t->buf + start, end - start);
    for (char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 && *c != '\n' && *c != '\t')
            *c = '?';
    return s;
}

/* The last line of text (borrowed pointer into s). */
static const char *last_line(const char *s)
{
    const char *nl = strrchr(s, '\n');
    return nl ? nl + 1 : s;
}

static int env_name_ok(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

extern char **environ;

/* The child's environment: ours, with DRCTL_RUN_ID, DRCTL_RUN_DIR and the
 * step's env: laid over it. Built before fork (no allocation in the child). */
static char **shell_env(const dr_rb_call *call, const json_t *env, dr_err *err)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    size_t extra = 2 + (json_is_object(env) ? json_object_size(env) : 0);
    char **v = dr_xcalloc(n + extra + 1, sizeof(*v));
    char **add = dr_xcalloc(extra, sizeof(*add));
    size_t na = 0;
    add[na++] = dr_xasprintf("DRCTL_RUN_ID=%s", call->run_id ? call->run_id : "");
    add[na++] = dr_xasprintf("DRCTL_RUN_DIR=%s", call->run_dir ? call->run_dir : "");
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)env, k, x)
    {
        char num[64];
        const char *val = NULL;
        if (json_is_string(x))
            val = json_string_value(x);
        else if (json_is_integer(x))
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(x)), val = num;
        else if (json_is_boolean(x))
            val = json_is_true(x) ? "true" : "false";
        if (!env_name_ok(k) || !val) {
            dr_err_set(err, DR_E_CONFIG,
                       "shell: env.%s: expected a variable name of letters, digits and '_' with a "
                       "string value",
                       k);
            for (size_t i = 0; i < na; i++)
                free(add[i]);
            free(add);
            free(v);
            return NULL;
        }
        add[na++] = dr_xasprintf("%s=%s", k, val);
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        int replaced = 0;
        for (size_t j = 0; j < na && !replaced; j++) {
            size_t kl = (size_t)(strchr(add[j], '=') - add[j]);
            replaced = strncmp(environ[i], add[j], kl + 1) == 0;
        }
        if (!replaced)
            v[w++] = dr_xstrdup(environ[i]);
    }
    for (size_t j = 0; j < na; j++)
        v[w++] = add[j];
    free(add);
    return v;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* Stops the command's whole process group: TERM, two seconds, KILL. */
static void kill_group(pid_t pid, int *status)
{
    kill(-pid, SIGTERM);
    for (int i = 0; i < 40; i++) {
        if (waitpid(pid, status, WNOHANG) == pid) {
            kill(-pid, SIGKILL); /* what it started in the background goes too */
            return;
        }
        nap(50, NULL);
    }
    kill(-pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
}

static int shell_run(void *app, const dr_rb_call *call, json_t **detail, dr_err *err)
{
    const char *cmd = json_string_value(json_object_get(call->params, "command"));
    json_t *env = json_object_get(call->params, "env");
    if (!cmd || !*cmd)
        return dr_err_set(err, DR_E_CONFIG, "shell: command must be a non-empty string");
    if (env && !json_is_object(env) && !json_is_null(env))
        return dr_err_set(err, DR_E_CONFIG, "shell: env must be a map of names to values");
    char **envp = shell_env(call, env, err);
    if (!envp)
        return -1;
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        free_strv(envp);
        return dr_err_set(err, DR_E_IO, "shell: pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(pfd[0]);
        close(pfd[1]);
        free_strv(envp);
        return dr_err_set(err, DR_E_IO, "shell: fork: %s", strerror(e));
    }
    if (pid == 0) {
        /* Own process group: a timeout or an interrupt kills everything the
         * command started, and the terminal's ^C reaches only drctl, which
         * then stops the command itself. */
        setpgid(0, 0);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        execve("/bin/sh", argv, envp);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: whichever runs first, the group exists before a kill */
    close(pfd[1]);
    free_strv(envp);

    tail *t = dr_xcalloc(1, sizeof(*t));
    int status = 0, exited = 0, stopped = 0, pipe_open = 1;
    while (!exited) {
        if (dr_rb_expired(call)) {
            kill_group(pid, &status);
            stopped = 1;
            break;
        }
        if (pipe_open) {
            struct pollfd p = {pfd[0], POLLIN, 0};
            if (poll(&p, 1, 100) > 0) {
                char buf[4096];
                ssize_t r = read(pfd[0], buf, sizeof(buf));
                if (r > 0)
                    tail_add(t, buf, (size_t)r);
                else if (r == 0 || (errno != EINTR && errno != EAGAIN))
                    pipe_open = 0;
            }
        } else {
            nap(50, NULL);
        }
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            exited = 1;
    }
    /* What is still buffered in the pipe (a background process that kept
     * it open is not waited for). */
    for (int i = 0; pipe_open && i < 64; i++) {
        struct pollfd p = {pfd[0], POLLIN, 0};
        if (poll(&p, 1, 0) <= 0)
            break;
        char buf[4096];
        ssize_t r = read(pfd[0], buf, sizeof(buf));
        if (r <= 0)
            break;
        tail_add(t, buf, (size_t)r);
    }
    close(pfd[0]);
    char *out = tail_lines(t);
    free(t);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    *detail =
        json_pack("{s:s, s:i, s:o}", "command", cmd, "exit_status", code, "output", jtext(out));
    int rc = 0;
    if (stopped)
        rc = dr_err_set(err, DR_E_IO, "shell: command stopped");
    else if (!WIFEXITED(status))
        rc = dr_err_set(err, DR_E_IO, "shell: command killed by signal %d%s%s", WTERMSIG(status),
                        *out ? ": " : "", last_line(out));
    else if (code != 0)
        rc = dr_err_set(err, DR_E_IO, "shell: command exited with status %d%s%s", code,
                        *out ? ": " : "", last_line(out));
    free(out);
    return rc;
}

/* Reads a line from fd 0 without blocking past the step's deadline or an
 * interrupt. 0 with the line, -1 when stopped or at end of input. */
static int read_answer(const dr_rb_call *call, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        if (dr_rb_expired(call))
            return -1;
        struct pollfd p = {0, POLLIN, 0};
        int pr = poll(&p, 1, 200);
        if (pr <= 0)
            continue;
        char c;
        ssize_t r = read(0, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (c == '\n')
            break;
        if (len + 1 < cap && c != '\r')
            buf[len++] = c;
    }
    buf[len] = '\0';
    return 0;
}

static int confirm_run(void *app, const dr_rb_call *call, json_t **detail, dr_err *err)
{
    const char *msg = json_string_value(json_object_get(call->params, "message"));
    if (!msg)
        return dr_err_set(err, DR_E_CONFIG, "confirm: message must be a string");
    if (call->dry_run) {
        fprintf(call->out, "      would ask: %s [y/N]\n", msg);
        return 0;
    }
    if (call->yes) {
        *detail = json_pack("{s:s}", "confirmed_by", "--yes");
        return 0;
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO)) {
        dr_err_set(err, DR_E_USAGE, "confirmation needed (%s) and there is no terminal to ask",
                   msg);
        return dr_err_hint(err, "pass --yes to confirm in advance");
    }
    fprintf(stderr, "%s [y/N] ", msg);
    fflush(stderr);
    char ans[64];
    if (read_answer(call, ans, sizeof(ans)) != 0) {
        fputc('\n', stderr);
        return dr_err_set(err, DR_E_USAGE, "not confirmed: %s", msg);
    }
    if (strcmp(ans, "y") == 0 || strcmp(ans, "Y") == 0 || strcmp(ans, "yes") == 0) {
        *detail = json_pack("{s:s}", "confirmed_by", "operator");
        return 0;
    }
    dr_err_set(err, DR_E_USAGE, "not confirmed: %s", msg);
    return dr_err_hint(err, "answer y to go on, or pass --yes");
}

static const dr_rb_action_def builtins[] = {
    {"confirm", confirm_required, NULL, 3600, 10, 0, confirm_run, NULL},
    {"shell", shell_required, shell_optional, 600, 10, 0, shell_run, NULL},
};

const dr_rb_action_def *dr_rb_builtin_actions(size_t *n)
{
    *n = sizeof(builtins) / sizeof(builtins[0]);
    return builtins;
}

/* ---- the run ----------------------------------------------------------- */

typedef struct srec {
    const dr_rb_step *step;
    const char *status; /* pending | succeeded | failed | continued | rolled-back | skipped */
    double started_at, ended_at; /* 0 = not known */
    int attempts;
    int resumed;
    char *ran_in; /* inherited: the run that finished it */
    json_t *detail;
    char *error;
    int code;
} srec;

typedef struct runctx {
    const dr_runbook *rb;
    const dr_rb_run_opts *o;
    FILE *out;
    char *run_id, *run_dir;
    dr_journal j;
    json_t *vars;
    srec *recs; /* rb->n + rb->nfinally */
    size_t nrec;
    double started_at, original_started_at, declared_at;
    json_t *resumed_from; /* array or NULL */
    int interrupted;
    int failed;  /* a step failed the run */
    int jfailed; /* the journal could not be written: stop everything */
    dr_err fail; /* what failed the run */
} runctx;

static int is_interrupted(const runctx *c)
{
    return c->o->interrupted && *c->o->interrupted;
}

static void label(const runctx *c, size_t i, char *buf, size_t cap)
{
    const dr_rb_step *s = c->recs[i].step;
    if (s->is_finally)
        snprintf(buf, cap, "[finally %zu/%zu] %s: %s", i - c->rb->n + 1, c->rb->nfinally, s->action,
                 s->name);
    else
        snprintf(buf, cap, "[%zu/%zu] %s: %s", i + 1, c->rb->n, s->action, s->name);
}

static int journal(runctx *c, json_t *ev)
{
    dr_err e;
    dr_err_clear(&e);
    int rc = ev ? dr_journal_append(&c->j, ev, &e)
                : dr_err_set(&e, DR_E_INTERNAL, "cannot encode a journal event");
    json_decref(ev);
    if (rc != 0 && !c->jfailed) {
        c->jfailed = 1;
        c->fail = e;
    }
    return rc;
}

static void rec_set_error(srec *r, const dr_err *e)
{
    free(r->error);
    r->error = dr_xstrdup(e->msg);
    r->code = e->code;
}

static void journal_end(runctx *c, size_t i)
{
    srec *r = &c->recs[i];
    journal(c,
            json_pack("{s:s, s:I, s:s, s:s, s:i, s:o, s:o, s:O?, s:o, s:i}", "event", "end", "step",
                      (json_int_t)i, "name", r->step->name, "status", r->status, "attempts",
                      r->attempts, "started_at", jtime(r->started_at), "t", jtime(r->ended_at),
                      "detail", r->detail, "error", jtext(r->error), "code", r->code));
}

/* The call for step i with params; deadline from now. */
static dr_rb_call make_call(runctx *c, size_t i, const json_t *params, int attempt)
{
    dr_rb_call call = {
        .step = c->recs[i].step,
        .index = i,
        .params = params,
        .vars = c->vars,
        .deadline = dr_rb_mono() + (double)c->recs[i].step->timeout_s,
        .attempt = attempt,
        .run_id = c->run_id,
        .run_dir = c->run_dir,
        .log = c->o->log,
        .out = c->out,
        .dry_run = 0,
        .yes = c->o->yes,
        .interrupted = c->o->interrupted,
    };
    return call;
}

/*
 * Runs step i with its retries. 0: succeeded (record complete, end
 * journaled, its "set" applied). -1: failed; the record holds the error and
 * detail of the last attempt, e the error, and the caller decides the status
 * and journals the end (a rollback comes first).
 */
static int run_step(runctx *c, size_t i, dr_err *e)
{
    srec *r = &c->recs[i];
    const dr_rb_step *s = r->step;
    const dr_rb_action_def *a = dr_rb_action_find(c->o->actions, c->o->nactions, s->action);
    char lb[512];
    label(c, i, lb, sizeof(lb));
    for (int attempt = 1;; attempt++) {
        dr_err_clear(e);
        json_t *params = dr_rb_interpolate(s->with, c->vars, 1, e);
        if (!a && params) {
            json_decref(params);
            params = NULL;
            dr_err_set(e, DR_E_CONFIG, "unknown action '%s'", s->action);
        }
        double t0 = dr_rb_now();
        if (!r->started_at)
            r->started_at = t0;
        r->attempts = attempt;
        if (journal(c, json_pack("{s:s, s:I, s:s, s:s, s:i, s:f}", "event", "start", "step",
                                 (json_int_t)i, "name", s->name, "action", s->action, "attempt",
                                 attempt, "t", t0)) != 0) {
            json_decref(params);
            *e = c->fail;
            return -1;
        }
        if (attempt == 1)
            fprintf(c->out, "%s ...\n", lb);
        fflush(c->out);
        double m0 = dr_rb_mono();
        json_t *detail = NULL;
        int rc = -1;
        dr_rb_call call = make_call(c, i, params, attempt);
        if (params)
            rc = a->run(c->o->app, &call, &detail, e);
        double m1 = dr_rb_mono();
        r->ended_at = dr_rb_now();
        if (detail && !json_is_object(detail)) {
            json_decref(detail);
            detail = NULL;
        }
        json_decref(r->detail);
        r->detail = detail;
        char took[32], lim[32];
        fmt_secs(m1 - m0, took, sizeof(took));
        if (rc == 0 && m1 >= call.deadline) {
            /* Done, but too late: a step's timeout is a promise to the RTO. */
            dr_rb_format_duration(s->timeout_s, lim, sizeof(lim));
            dr_err_set(e, DR_E_NETWORK, "timed out after %s", lim);
            rc = -1;
        } else if (rc != 0 && params && is_interrupted(c)) {
            dr_err_set(e, DR_E_INTERRUPTED, "interrupted");
        } else if (rc != 0 && params && m1 >= call.deadline) {
            dr_rb_format_duration(s->timeout_s, lim, sizeof(lim));
            if (e->msg[0])
                dr_err_wrap(e, "timed out after %s", lim);
            else
                dr_err_set(e, DR_E_NETWORK, "timed out after %s", lim);
        } else if (rc != 0 && e->code == DR_OK) {
            dr_err_set(e, DR_E_INTERNAL, "action %s failed without saying why", s->action);
        }
        json_decref(params);
        if (rc == 0) {
            r->status = "succeeded";
            free(r->error);
            r->error = NULL;
            r->code = 0;
            json_t *set = detail ? json_object_get(detail, "set") : NULL;
            if (json_is_object(set))
                json_object_update(c->vars, set);
            journal_end(c, i);
            fprintf(c->out, "%s ... ok in %s\n", lb, took);
            fflush(c->out);
            return 0;
        }
        rec_set_error(r, e);
        int retry = attempt <= s->retries && e->code != DR_E_INTERRUPTED &&
                    e->code != DR_E_CONFIG && !is_interrupted(c);
        if (!retry)
            return -1;
        long ms = retry_delay_ms(attempt);
        if (journal(c,
                    json_pack("{s:s, s:I, s:i, s:o, s:f}", "event", "retry", "step", (json_int_t)i,
                              "attempt", attempt, "error", jtext(e->msg), "t", dr_rb_now())) != 0) {
            *e = c->fail;
            return -1;
        }
        fprintf(c->out, "%s ... attempt %d of %d failed after %s: %s; retrying in %.3g s\n", lb,
                attempt, s->retries + 1, took, e->msg, (double)ms / 1000);
        fflush(c->out);
        nap(ms, c->o->interrupted);
        if (is_interrupted(c)) {
            dr_err_set(e, DR_E_INTERRUPTED, "interrupted");
            rec_set_error(r, e);
            return -1;
        }
    }
}

/* Undoes step i (status succeeded, or the failing one) when its action can.
 * 1 rolled back, 0 nothing to undo, -1 the rollback failed. */
static int rollback_one(runctx *c, size_t i)
{
    srec *r = &c->recs[i];
    const dr_rb_action_def *a = dr_rb_action_find(c->o->actions, c->o->nactions, r->step->action);
    if (!a || !a->rollback)
        return 0;
    dr_err e;
    dr_err_clear(&e);
    json_t *params = dr_rb_interpolate(r->step->with, c->vars, 1, &e);
    int rc = -1;
    if (params) {
        dr_rb_call call = make_call(c, i, params, 1);
        rc = a->rollback(c->o->app, &call, &e);
        if (rc != 0 && e.code == DR_OK)
            dr_err_set(&e, DR_E_INTERNAL, "rollback failed without saying why");
    }
    json_decref(params);
    char lb[512];
    label(c, i, lb, sizeof(lb));
    fprintf(c->out, "%s ... %s%s\n", lb,
            rc == 0 ? "rolled back" : "rollback FAILED: ", rc == 0 ? "" : e.msg);
    fflush(c->out);
    journal(c, json_pack("{s:s, s:I, s:s, s:o, s:f}", "event", "rollback", "step", (json_int_t)i,
                         "status", rc == 0 ? "rolled-back" : "rollback-failed", "error",
                         rc == 0 ? json_null() : jtext(e.msg), "t", dr_rb_now()));
    if (rc != 0)
        dr_warn(c->o->log, "rollback of step %zu (%s) failed: %s", i + 1, r->step->name, e.msg);
    return rc == 0 ? 1 : -1;
}

/* Step i failed with e: apply its on_failure. 1: go on with the next step. */
static int handle_failure(runctx *c, size_t i, const dr_err *e)
{
    srec *r = &c->recs[i];
    char lb[512], took[32];
    label(c, i, lb, sizeof(lb));
    fmt_secs(r->ended_at - r->started_at, took, sizeof(took));
    if (c->jfailed)
        return 0;
    if (e->code == DR_E_INTERRUPTED) {
        r->status = "failed";
        c->interrupted = 1;
        journal_end(c, i);
        fprintf(c->out, "%s ... interrupted after %s\n", lb, took);
        return 0;
    }
    if (r->step->on_failure == DR_RB_CONTINUE) {
        r->status = "continued";
        journal_end(c, i);
        fprintf(c->out, "%s ... failed after %s, continuing (on_failure: continue): %s\n", lb, took,
                e->msg);
        dr_warn(c->o->log, "step %s failed and was continued past: %s", r->step->name, e->msg);
        return 1;
    }
    fprintf(c->out, "%s ... FAILED after %s: %s\n", lb, took, e->msg);
    if (!c->failed) {
        c->failed = 1;
        c->fail = *e;
        dr_err_wrap(&c->fail, "step %s", r->step->name);
    }
    if (r->step->on_failure == DR_RB_ROLLBACK && !r->step->is_finally) {
        fprintf(c->out, "rolling back (on_failure: rollback)\n");
        r->status = rollback_one(c, i) == 1 ? "rolled-back" : "failed";
        journal_end(c, i);
        for (size_t j = i; j-- > 0;)
            if (strcmp(c->recs[j].status, "succeeded") == 0 && rollback_one(c, j) == 1)
                c->recs[j].status = "rolled-back";
        return 0;
    }
    r->status = "failed";
    journal_end(c, i);
    return 0;
}

/* ---- RTO / RPO --------------------------------------------------------- */

typedef struct objectives {
    double rto_start, rto_end; /* end 0 = unknown */
    const char *rto_end_step;
    double recovery_point, resumed_at; /* 0 = unknown */
} objectives;

static int is_verify(const runctx *c, const dr_rb_step *s)
{
    const dr_rb_action_def *a = dr_rb_action_find(c->o->actions, c->o->nactions, s->action);
    return a && a->is_verify;
}

static void measure(const runctx *c, int succeeded, objectives *ob)
{
    memset(ob, 0, sizeof(*ob));
    ob->rto_start = c->declared_at > 0 ? c->declared_at : c->original_started_at;
    const dr_rb_step *rb_steps = c->rb->steps;
    size_t n = c->rb->n;
    /* The RTO-ending step: the marked one if it succeeded, else the last
     * verify step that succeeded, else (when the run succeeded) the last
     * main step. Finally steps never count. */
    for (size_t i = 0; i < n; i++)
        if (rb_steps[i].rto_end && strcmp(c->recs[i].status, "succeeded") == 0) {
            ob->rto_end = c->recs[i].ended_at;
            ob->rto_end_step = rb_steps[i].name;
        }
    for (size_t i = n; !ob->rto_end && i-- > 0;)
        if (is_verify(c, &rb_steps[i]) && strcmp(c->recs[i].status, "succeeded") == 0) {
            ob->rto_end = c->recs[i].ended_at;
            ob->rto_end_step = rb_steps[i].name;
        }
    if (!ob->rto_end && succeeded && n > 0) {
        ob->rto_end = c->recs[n - 1].ended_at;
        ob->rto_end_step = rb_steps[n - 1].name;
    }
    for (size_t i = 0; i < n; i++) {
        const srec *r = &c->recs[i];
        if (strcmp(r->status, "succeeded") != 0 || !r->detail)
            continue;
        json_t *rp = json_object_get(r->detail, "recovery_point");
        if (json_is_number(rp) && json_number_value(rp) > 0)
            ob->recovery_point = json_number_value(rp);
        if (!ob->resumed_at && json_is_true(json_object_get(r->detail, "service_resumed")))
            ob->resumed_at = r->ended_at;
    }
    if (!ob->resumed_at)
        ob->resumed_at = ob->rto_end;
}

static json_t *target_json(long t)
{
    return t > 0 ? json_integer(t) : json_null();
}

/* met: 1, 0, or -1 (not known). */
static json_t *met_json(int met)
{
    return met < 0 ? json_null() : json_boolean(met);
}

/* ---- the record -------------------------------------------------------- */

static json_t *build_record(const runctx *c, const char *status, double ended_at,
                            const objectives *ob, int rto_met, int rpo_met, int exit_code)
{
    json_t *steps = json_array();
    for (size_t i = 0; i < c->nrec; i++) {
        const srec *r = &c->recs[i];
        json_array_append_new(
            steps,
            json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:i, s:b, s:b, s:O?, s:o}", "index",
                      (json_int_t)i, "name", r->step->name, "action", r->step->action, "status",
                      r->status, "started_at", jtime(r->started_at), "ended_at", jtime(r->ended_at),
                      "attempts", r->attempts, "resumed", r->resumed, "finally",
                      r->step->is_finally, "detail", r->detail, "error", jtext(r->error)));
    }
    double rto_actual = ob->rto_end ? ob->rto_end - ob->rto_start : 0;
    double rpo_actual =
        ob->resumed_at && ob->recovery_point ? ob->resumed_at - ob->recovery_point : 0;
    int have_rpo = ob->resumed_at && ob->recovery_point;
    json_t *rto = json_pack(
        "{s:o, s:o, s:f, s:o, s:o, s:o}", "target_s", target_json(c->o->rto_target_s), "actual_s",
        ob->rto_end ? json_real(rto_actual) : json_null(), "start", ob->rto_start, "end",
        jtime(ob->rto_end), "met", met_json(rto_met), "end_step", jstr(ob->rto_end_step));
    json_t *rpo = json_pack(
        "{s:o, s:o, s:o, s:o, s:o}", "target_s", target_json(c->o->rpo_target_s), "actual_s",
        have_rpo ? json_real(rpo_actual) : json_null(), "recovery_point", jtime(ob->recovery_point),
        "service_resumed_at", jtime(ob->resumed_at), "met", met_json(rpo_met));
    const char *target = json_string_value(json_object_get(c->vars, "target"));
    return json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:O, s:f, s:o, s:f, s:s, s:O?, s:o, s:o, "
                     "s:o, s:i}",
                     "format", DR_RUN_FORMAT, "run_id", c->run_id, "runbook", c->rb->name,
                     "runbook_file", c->rb->file, "description", c->rb->description, "target",
                     jstr(target), "vars", c->vars, "started_at", c->started_at, "declared_at",
                     c->declared_at > 0 ? json_real(c->declared_at) : json_null(), "ended_at",
                     ended_at, "status", status, "resumed_from", c->resumed_from, "steps", steps,
                     "rto", rto, "rpo", rpo, "exit_code", exit_code);
}

/* ---- resume ------------------------------------------------------------ */

static int load_resume(runctx *c, dr_journal_data *jd, dr_err *err)
{
    const dr_rb_run_opts *o = c->o;
    if (!dr_run_id_valid(o->resume))
        return dr_err_set(err, DR_E_USAGE, "'%s' is not a run id", o->resume);
    char *path = dr_xasprintf("%s/%s/%s", o->runs_dir, o->resume, DR_JOURNAL_FILE);
    int rc = dr_journal_read(path, jd, err);
    free(path);
    if (rc != 0) {
        if (err->code == DR_E_NOT_FOUND) {
            dr_err_set(err, DR_E_NOT_FOUND, "no run '%s' in %s", o->resume, o->runs_dir);
            dr_err_hint(err, "run ids are the directory names under %s", o->runs_dir);
        }
        return -1;
    }
    const dr_runbook *rb = c->rb;
    if (strcmp(jd->runbook, rb->name) != 0)
        return dr_err_set(err, DR_E_USAGE, "run %s is a run of runbook '%s', not '%s'", o->resume,
                          jd->runbook, rb->name);
    const char *fin = jd->final ? json_string_value(json_object_get(jd->final, "status")) : NULL;
    if (fin && strcmp(fin, "succeeded") == 0) {
        dr_err_set(err, DR_E_USAGE, "run %s succeeded: there is nothing to resume", o->resume);
        return dr_err_hint(err, "start a new run without --resume");
    }
    /* The steps as that run knew them: resuming a different list would skip
     * or repeat the wrong things. */
    json_t *old = json_object_get(jd->header, "steps");
    size_t nold = json_array_size(old);
    for (size_t i = 0; i < nold || i < rb->n; i++) {
        json_t *os = json_array_get(old, i);
        const char *on = json_string_value(json_object_get(os, "name"));
        const char *oa = json_string_value(json_object_get(os, "action"));
        const dr_rb_step *ns = i < rb->n ? &rb->steps[i] : NULL;
        if (ns && on && oa && strcmp(on, ns->name) == 0 && strcmp(oa, ns->action) == 0)
            continue;
        dr_err_set(err, DR_E_CONFIG,
                   "runbook %s changed since run %s: step %zu was %s%s%s%s%s, now %s%s%s%s%s",
                   rb->file, o->resume, i + 1, on ? "'" : "", on ? on : "absent", on ? "' (" : "",
                   oa ? oa : "", on ? ")" : "", ns ? "'" : "", ns ? ns->name : "absent",
                   ns ? "' (" : "", ns ? ns->action : "", ns ? ")" : "");
        return dr_err_hint(err, "resume with the runbook as it was, or start a new run");
    }
    return 0;
}

/* ---- dry run ----------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* step name -> array of durations of earlier successful runs of it. */
static json_t *history(const char *runs_dir, const char *runbook)
{
    json_t *h = json_object();
    DIR *d = runs_dir ? opendir(runs_dir) : NULL;
    if (!d)
        return h;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *p = dr_xasprintf("%s/%s/%s", runs_dir, de->d_name, DR_RUN_RECORD);
        json_t *rec = json_load_file(p, 0, NULL);
        free(p);
        const char *name = json_string_value(json_object_get(rec, "runbook"));
        if (!name || strcmp(name, runbook) != 0) {
            json_decref(rec);
            continue;
        }
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(rec, "steps"), i, s)
        {
            const char *sn = json_string_value(json_object_get(s, "name"));
            const char *st = json_string_value(json_object_get(s, "status"));
            json_t *a = json_object_get(s, "started_at"), *b = json_object_get(s, "ended_at");
            /* A resumed step's times are the earlier run's: counted there. */
            if (!sn || !st || strcmp(st, "succeeded") != 0 || !json_is_number(a) ||
                !json_is_number(b) || json_is_true(json_object_get(s, "resumed")))
                continue;
            double dur = json_number_value(b) - json_number_value(a);
            if (dur < 0)
                continue;
            json_t *arr = json_object_get(h, sn);
            if (!arr) {
                arr = json_array();
                json_object_set_new(h, sn, arr);
            }
            json_array_append_new(arr, json_real(dur));
        }
        json_decref(rec);
    }
    closedir(d);
    return h;
}

static double median(json_t *arr)
{
    size_t n = json_array_size(arr);
    double *v = dr_xcalloc(n, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_number_value(json_array_get(arr, i));
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_double);
    double m = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    free(v);
    return m;
}

static json_t *base_vars(const dr_runbook *rb, const dr_rb_run_opts *o)
{
    json_t *vars = json_object();
    char d[32];
    if (o->rto_target_s > 0) {
        dr_rb_format_duration(o->rto_target_s, d, sizeof(d));
        json_object_set_new(vars, "rto", json_string(d));
    }
    if (o->rpo_target_s > 0) {
        dr_rb_format_duration(o->rpo_target_s, d, sizeof(d));
        json_object_set_new(vars, "rpo", json_string(d));
    }
    json_object_update(vars, rb->vars);
    if (json_is_object(o->vars))
        json_object_update(vars, (json_t *)o->vars);
    return vars;
}

static int dry_run(const dr_runbook *rb, const dr_rb_run_opts *o, FILE *out, json_t **record_out,
                   dr_err *err)
{
    json_t *hist = history(o->runs_dir, rb->name);
    json_t *vars = base_vars(rb, o);
    json_t *steps = json_array();
    fprintf(out, "dry run of %s (%s): no action runs, nothing is written\n", rb->name, rb->file);
    double total = 0, rto_at = -1;
    size_t rto_i = rb->n ? rb->n - 1 : 0;
    for (size_t i = 0; i < rb->n; i++)
        if (rb->steps[i].rto_end)
            rto_i = i;
    if (!rb->n || !rb->steps[rto_i].rto_end)
        for (size_t i = 0; i < rb->n; i++) {
            const dr_rb_action_def *a =
                dr_rb_action_find(o->actions, o->nactions, rb->steps[i].action);
            if (a && a->is_verify)
                rto_i = i;
        }
    for (size_t i = 0; i < rb->n + rb->nfinally; i++) {
        const dr_rb_step *s = dr_runbook_step(rb, i);
        const dr_rb_action_def *a = dr_rb_action_find(o->actions, o->nactions, s->action);
        json_t *runs = json_object_get(hist, s->name);
        double expect = a ? a->typical_s : 0;
        const char *basis = "typical";
        if (json_array_size(runs) > 0) {
            expect = median(runs);
            basis = "median";
        }
        total += expect;
        char lb[512], e[32], t[32], basis_text[64];
        if (s->is_finally)
            snprintf(lb, sizeof(lb), "[finally %zu/%zu] %s: %s", i - rb->n + 1, rb->nfinally,
                     s->action, s->name);
        else
            snprintf(lb, sizeof(lb), "[%zu/%zu] %s: %s", i + 1, rb->n, s->action, s->name);
        fmt_secs(expect, e, sizeof(e));
        fmt_secs(total, t, sizeof(t));
        if (json_array_size(runs) > 0)
            snprintf(basis_text, sizeof(basis_text), "median of %zu run%s", json_array_size(runs),
                     json_array_size(runs) == 1 ? "" : "s");
        else
            snprintf(basis_text, sizeof(basis_text), "typical");
        int ends_rto = !s->is_finally && i == rto_i;
        fprintf(out, "%s  ~%s (%s)  at %s%s\n", lb, e, basis_text, t,
                ends_rto ? "  <- RTO ends" : "");
        json_t *params = dr_rb_interpolate(s->with, vars, 0, NULL);
        if (strcmp(s->action, "confirm") == 0 &&
            json_is_string(json_object_get(params, "message"))) {
            fprintf(out, "      would ask: %s [y/N]%s\n",
                    json_string_value(json_object_get(params, "message")),
                    o->yes ? " (answered by --yes)" : "");
        } else if (json_object_size(params) > 0) {
            char *txt = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
            fprintf(out, "      with %s\n", txt ? txt : "{}");
            free(txt);
        }
        if (ends_rto)
            rto_at = total;
        json_array_append_new(steps, json_pack("{s:I, s:s, s:s, s:b, s:f, s:s, s:I, s:f, s:o}",
                                               "index", (json_int_t)i, "name", s->name, "action",
                                               s->action, "finally", s->is_finally, "expected_s",
                                               expect, "basis", basis, "runs",
                                               (json_int_t)json_array_size(runs), "cumulative_s",
                                               total, "params", params ? params : json_object()));
    }
    double since = 0;
    if (o->declared_at > 0) {
        since = dr_rb_now() - o->declared_at;
        if (since < 0)
            since = 0;
    }
    double predicted = (rto_at < 0 ? 0 : rto_at) + since;
    char p[32], tg[32];
    dr_rb_format_duration(lround(predicted), p, sizeof(p));
    int met = -1;
    if (o->rto_target_s > 0) {
        met = predicted <= (double)o->rto_target_s;
        dr_rb_format_duration(o->rto_target_s, tg, sizeof(tg));
        fprintf(out, "predicted RTO %s of %s target: %s\n", p, tg, met ? "ok" : "EXCEEDS");
    } else {
        fprintf(out, "predicted RTO %s (no target)\n", p);
    }
    if (since > 0) {
        char s[32];
        dr_rb_format_duration(lround(since), s, sizeof(s));
        fprintf(out, "      (%s of it already passed since the outage was declared)\n", s);
    }
    fflush(out);
    json_t *rec = json_pack("{s:i, s:b, s:s, s:s, s:s, s:O, s:o, s:{s:o, s:f, s:f, s:o}}", "format",
                            DR_RUN_FORMAT, "dry_run", 1, "runbook", rb->name, "runbook_file",
                            rb->file, "description", rb->description, "vars", vars, "steps", steps,
                            "rto", "target_s", target_json(o->rto_target_s), "predicted_s",
                            predicted, "since_declared_s", since, "met", met_json(met));
    json_decref(vars);
    json_decref(hist);
    if (record_out)
        *record_out = rec;
    else
        json_decref(rec);
    (void)err;
    return 0;
}

/* ---- dr_rb_run --------------------------------------------------------- */

static void runctx_free(runctx *c)
{
    for (size_t i = 0; c->recs && i < c->nrec; i++) {
        json_decref(c->recs[i].detail);
        free(c->recs[i].error);
        free(c->recs[i].ran_in);
    }
    free(c->recs);
    dr_journal_close(&c->j);
    json_decref(c->vars);
    json_decref(c->resumed_from);
    free(c->run_id);
    free(c->run_dir);
}

static json_t *steps_json(const dr_runbook *rb)
{
    json_t *a = json_array();
    for (size_t i = 0; i < rb->n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:s}", "name", rb->steps[i].name, "action", rb->steps[i].action));
    return a;
}

int dr_rb_run(const dr_runbook *rb, const dr_rb_run_opts *o, json_t **record_out, dr_err *err)
{
    if (record_out)
        *record_out = NULL;
    FILE *out = o->out ? o->out : stdout;
    if (o->dry_run)
        return dry_run(rb, o, out, record_out, err);
    if (!o->runs_dir)
        return dr_err_set(err, DR_E_INTERNAL, "runbook run without a runs directory");

    runctx c = {.rb = rb, .o = o, .out = out, .j = DR_JOURNAL_INIT};
    dr_err_clear(&c.fail);
    c.nrec = rb->n + rb->nfinally;
    c.recs = dr_xcalloc(c.nrec ? c.nrec : 1, sizeof(*c.recs));
    for (size_t i = 0; i < c.nrec; i++) {
        c.recs[i].step = dr_runbook_step(rb, i);
        c.recs[i].status = "pending";
    }
    c.started_at = dr_rb_now();
    c.original_started_at = c.started_at;
    c.declared_at = o->declared_at;

    dr_journal_data jd = {0};
    int rc = -1;
    if (o->resume) {
        if (load_resume(&c, &jd, err) != 0)
            goto out;
        /* The journaled variables win: a resumed run keeps its target,
         * bundle and run_id. The caller's fill only what is missing. */
        c.vars = json_deep_copy(jd.vars);
        json_t *bv = base_vars(rb, o);
        const char *k;
        json_t *x;
        json_object_foreach(bv, k, x) if (!json_object_get(c.vars, k))
            json_object_set(c.vars, k, x);
        json_decref(bv);
        json_t *osa = json_object_get(jd.header, "original_started_at");
        json_t *osb = json_object_get(jd.header, "started_at");
        c.original_started_at = json_is_number(osa)   ? json_number_value(osa)
                                : json_is_number(osb) ? json_number_value(osb)
                                                      : c.started_at;
        json_t *dat = json_object_get(jd.header, "declared_at");
        if (c.declared_at <= 0 && json_is_number(dat))
            c.declared_at = json_number_value(dat);
        json_t *chain = json_object_get(jd.header, "resumed_from");
        c.resumed_from = json_is_array(chain) ? json_deep_copy(chain) : json_array();
        json_array_append_new(c.resumed_from, json_string(jd.run_id));
    } else {
        c.vars = base_vars(rb, o);
    }

    for (int tries = 0;; tries++) {
        c.run_id = dr_run_id_new(rb->name, c.started_at);
        if (dr_journal_create(o->runs_dir, c.run_id, &c.j, err) == 0)
            break;
        int e = errno; /* EEXIST: two runs in one second drew the same suffix */
        free(c.run_id);
        c.run_id = NULL;
        if (e != EEXIST || tries >= 5)
            goto out;
    }
    c.run_dir = dr_xstrdup(c.j.dir);
    if (!json_object_get(c.vars, "run_id"))
        json_object_set_new(c.vars, "run_id", json_string(c.run_id));

    if (journal(&c, json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:O, s:f, s:o, s:f, s:{s:o, s:o}, "
                              "s:O?, s:o, s:f}",
                              "event", "run", "format", DR_RUN_FORMAT, "run_id", c.run_id,
                              "runbook", rb->name, "file", rb->file, "description", rb->description,
                              "vars", c.vars, "started_at", c.started_at, "declared_at",
                              c.declared_at > 0 ? json_real(c.declared_at) : json_null(),
                              "original_started_at", c.original_started_at, "targets", "rto_s",
                              target_json(o->rto_target_s), "rpo_s", target_json(o->rpo_target_s),
                              "resumed_from", c.resumed_from, "steps", steps_json(rb), "t",
                              c.started_at)) != 0) {
        *err = c.fail;
        goto out;
    }
    if (o->resume)
        fprintf(out, "resuming run %s as %s\n", o->resume, c.run_id);

    /* Main steps. */
    for (size_t i = 0; i < rb->n && !c.jfailed; i++) {
        srec *r = &c.recs[i];
        const dr_jstep *js = i < jd.n ? &jd.steps[i] : NULL;
        if (js && js->state == DR_JSTEP_FINISHED && js->status &&
            (strcmp(js->status, "succeeded") == 0 || strcmp(js->status, "continued") == 0)) {
            r->status = strcmp(js->status, "succeeded") == 0 ? "succeeded" : "continued";
            r->started_at = js->started_at;
            r->ended_at = js->ended_at;
            r->attempts = js->attempts;
            r->resumed = 1;
            r->detail = js->detail ? json_incref(js->detail) : NULL;
            r->error = js->error ? dr_xstrdup(js->error) : NULL;
            r->code = js->code;
            r->ran_in = dr_xstrdup(js->ran_in ? js->ran_in : jd.run_id);
            journal(&c, json_pack("{s:s, s:I, s:s, s:s, s:i, s:o, s:o, s:O?, s:o, s:i, s:b, "
                                  "s:s}",
                                  "event", "end", "step", (json_int_t)i, "name", r->step->name,
                                  "status", r->status, "attempts", r->attempts, "started_at",
                                  jtime(r->started_at), "t", jtime(r->ended_at), "detail",
                                  r->detail, "error", jtext(r->error), "code", r->code, "inherited",
                                  1, "run_id", r->ran_in));
            fprintf(out, "step %zu %s: done in run %s (resumed)\n", i + 1, r->step->name,
                    r->ran_in);
            continue;
        }
        if (is_interrupted(&c)) {
            c.interrupted = 1;
            break;
        }
        dr_err e;
        if (run_step(&c, i, &e) == 0)
            continue;
        if (!handle_failure(&c, i, &e))
            break;
    }
    if (c.interrupted || c.jfailed) {
        for (size_t i = 0; i < rb->n; i++)
            if (strcmp(c.recs[i].status, "pending") == 0 && c.recs[i].attempts > 0)
                c.recs[i].status = "failed";
    } else {
        for (size_t i = 0; i < rb->n; i++)
            if (strcmp(c.recs[i].status, "pending") == 0)
                c.recs[i].status = "skipped";
    }

    /* Finally steps: every one of them, whatever happened above, unless the
     * run was interrupted (it is not over: --resume continues it) or the
     * journal failed (nothing could be recorded). */
    for (size_t i = rb->n; i < c.nrec && !c.interrupted && !c.jfailed; i++) {
        if (is_interrupted(&c)) {
            c.interrupted = 1;
            break;
        }
        dr_err e;
        if (run_step(&c, i, &e) != 0)
            handle_failure(&c, i, &e);
    }

    double ended = dr_rb_now();
    const char *status = c.interrupted             ? "interrupted"
                         : (c.failed || c.jfailed) ? "failed"
                                                   : "succeeded";
    objectives ob;
    measure(&c, strcmp(status, "succeeded") == 0, &ob);
    int rto_met = -1, rpo_met = -1;
    if (o->rto_target_s > 0) {
        if (ob.rto_end)
            rto_met = ob.rto_end - ob.rto_start <= (double)o->rto_target_s;
        else if (strcmp(status, "failed") == 0)
            rto_met = 0; /* the service was not restored by this run */
    }
    if (o->rpo_target_s > 0 && ob.resumed_at && ob.recovery_point)
        rpo_met = ob.resumed_at - ob.recovery_point <= (double)o->rpo_target_s;

    int exit_code = 0;
    dr_err final;
    dr_err_clear(&final);
    if (c.interrupted) {
        dr_err_set(&final, DR_E_INTERRUPTED, "run %s interrupted", c.run_id);
        dr_err_hint(&final, "continue it with --resume %s", c.run_id);
    } else if (c.failed || c.jfailed) {
        final = c.fail;
        if (!c.jfailed && final.hint[0]) {
            char h[sizeof(final.hint)];
            snprintf(h, sizeof(h), "%s", final.hint);
            dr_err_hint(&final, "%s; then continue with --resume %s", h, c.run_id);
        } else if (!c.jfailed) {
            dr_err_hint(&final, "fix the cause, then continue with --resume %s", c.run_id);
        }
    } else if (rto_met == 0 || rpo_met == 0) {
        char a[32], t[32], b[32], u[32];
        dr_rb_format_duration(lround(ob.rto_end - ob.rto_start), a, sizeof(a));
        dr_rb_format_duration(o->rto_target_s, t, sizeof(t));
        dr_rb_format_duration(lround(ob.resumed_at - ob.recovery_point), b, sizeof(b));
        dr_rb_format_duration(o->rpo_target_s, u, sizeof(u));
        if (rto_met == 0 && rpo_met == 0)
            dr_err_set(&final, DR_E_OBJECTIVE,
                       "run %s succeeded, but RTO %s exceeded the %s target and RPO %s the %s "
                       "target",
                       c.run_id, a, t, b, u);
        else if (rto_met == 0)
            dr_err_set(&final, DR_E_OBJECTIVE,
                       "run %s succeeded, but RTO %s exceeded the %s target", c.run_id, a, t);
        else
            dr_err_set(&final, DR_E_OBJECTIVE,
                       "run %s succeeded, but RPO %s exceeded the %s target", c.run_id, b, u);
    }
    exit_code = (int) final.code;

    json_t *rec = build_record(&c, status, ended, &ob, rto_met, rpo_met, exit_code);
    char *text = rec ? json_dumps(rec, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    char *rpath = dr_xasprintf("%s/%s", c.run_dir, DR_RUN_RECORD);
    dr_err werr;
    dr_err_clear(&werr);
    int wrc = text ? dr_rb_write_file_atomic(rpath, text, strlen(text), &werr)
                   : dr_err_set(&werr, DR_E_INTERNAL, "cannot serialise the run record");
    free(text);
    free(rpath);
    journal(&c, json_pack("{s:s, s:s, s:i, s:f}", "event", "finish", "status", status, "exit_code",
                          exit_code, "t", ended));

    char took[32];
    fmt_secs(ended - c.started_at, took, sizeof(took));
    fprintf(out, "run %s %s in %s", c.run_id, status, took);
    if (ob.rto_end) {
        char a[32], t[32];
        fmt_secs(ob.rto_end - ob.rto_start, a, sizeof(a));
        if (o->rto_target_s > 0) {
            dr_rb_format_duration(o->rto_target_s, t, sizeof(t));
            fprintf(out, "; RTO %s of %s target: %s", a, t, rto_met ? "met" : "EXCEEDED");
        } else {
            fprintf(out, "; RTO %s", a);
        }
    }
    if (ob.resumed_at && ob.recovery_point) {
        char a[32], t[32];
        fmt_secs(ob.resumed_at - ob.recovery_point, a, sizeof(a));
        if (o->rpo_target_s > 0) {
            dr_rb_format_duration(o->rpo_target_s, t, sizeof(t));
            fprintf(out, "; RPO %s of %s target: %s", a, t, rpo_met ? "met" : "EXCEEDED");
        } else {
            fprintf(out, "; RPO %s", a);
        }
    }
    fputc('\n', out);
    fflush(out);

    if (record_out)
        *record_out = rec;
    else
        json_decref(rec);
    if (wrc != 0 && exit_code == 0) {
        *err = werr;
        goto out;
    }
    if (wrc != 0)
        dr_warn(o->log, "%s", werr.msg);
    if (exit_code != 0) {
        *err = final;
        goto out;
    }
    rc = 0;
out:
    dr_journal_data_free(&jd);
    runctx_free(&c);
    return rc;
}
