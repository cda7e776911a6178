/*
 * test_run.c - the runbook engine with fake actions: retries, timeouts,
 * on_failure continue / abort / rollback, finally steps, resume after a
 * crash (a forked child that dies inside a step), interruption, dry-run
 * predictions from earlier records, RTO/RPO and the exit code, the built-in
 * shell and confirm actions, and the shape of run.json.
 *
 * The fake action is driven by its parameters (fail_times, crash_unless,
 * set, recovery_point...) and appends one line per call to calls.log in the
 * test's directory, which is how the tests count calls, across processes.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runbook/journal.h"
#include "runbook/run.h"
#include "util/mem.h"

static char tmpdir[64];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/drctl-run-XXXXXX");
    cr_assert(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
    cr_assert(chdir(tmpdir) == 0);
    setenv("DRCTL_RB_RETRY_DELAY_MS", "1", 1);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void teardown(void)
{
    if (chdir("/") == 0)
        nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(run, .init = setup, .fini = teardown, .timeout = 60);

/* ---- the fake actions -------------------------------------------------- */

typedef struct app {
    volatile sig_atomic_t *interrupted;
} app;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    FILE *f = fopen("calls.log", "a");
    cr_assert_not_null(f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long iparam(const dr_rb_call *c, const char *k)
{
    return (long)json_integer_value(json_object_get(c->params, k));
}

static int fake_run(void *ud, const dr_rb_call *c, json_t **detail, dr_err *err)
{
    app *a = ud;
    const char *n = json_string_value(json_object_get(c->params, "note"));
    note("run %s %d %s", c->step->name, c->attempt, n ? n : "-");
    if (c->attempt <= iparam(c, "fail_times")) {
        *detail = json_pack("{s:i}", "attempt", c->attempt);
        return dr_err_set(err, iparam(c, "code") ? (dr_code)iparam(c, "code") : DR_E_AWS,
                          "%s failed attempt %d", c->step->name, c->attempt);
    }
    const char *crash = json_string_value(json_object_get(c->params, "crash_unless"));
    if (crash && access(crash, F_OK) != 0)
        _exit(3); /* a crash: no journal end, no run.json */
    if (json_is_true(json_object_get(c->params, "interrupt"))) {
        *a->interrupted = 1; /* as the SIGINT handler would */
        while (!dr_rb_expired(c))
            nap_ms(5);
        return dr_err_set(err, DR_E_AWS, "stopped");
    }
    if (json_is_true(json_object_get(c->params, "interrupt_ok")))
        *a->interrupted = 1;
    if (json_is_true(json_object_get(c->params, "wait_expired"))) {
        while (!dr_rb_expired(c))
            nap_ms(10);
        return dr_err_set(err, DR_E_VERIFY, "gave up");
    }
    if (iparam(c, "sleep_ms"))
        nap_ms(iparam(c, "sleep_ms"));
    json_t *d = json_pack("{s:s}", "step", c->step->name);
    json_t *set = json_object_get(c->params, "set");
    if (set)
        json_object_set(d, "set", set);
    json_t *rp = json_object_get(c->params, "recovery_point");
    if (rp)
        json_object_set(d, "recovery_point", rp);
    if (json_is_true(json_object_get(c->params, "service_resumed")))
        json_object_set_new(d, "service_resumed", json_true());
    *detail = d;
    return 0;
}

static int fake_rollback(void *ud, const dr_rb_call *c, dr_err *err)
{
    note("rollback %s", c->step->name);
    if (json_is_true(json_object_get(c->params, "rollback_fails")))
        return dr_err_set(err, DR_E_AWS, "cannot undo %s", c->step->name);
    return 0;
}

#define P(...) ((const char *const[]){__VA_ARGS__, NULL})
#define FAKE_PARAMS                                                                                \
    P("fail_times", "code", "crash_unless", "interrupt", "interrupt_ok", "wait_expired",           \
      "sleep_ms", "set", "recovery_point", "service_resumed", "note", "rollback_fails")
static const dr_rb_action_def actions[] = {
    {"fake", NULL, FAKE_PARAMS, 60, 10, 0, fake_run, fake_rollback},
    {"fake-verify", NULL, FAKE_PARAMS, 60, 5, 1, fake_run, fake_rollback},
    {"norb", NULL, FAKE_PARAMS, 60, 7, 0, fake_run, NULL},
};
#define NACT (sizeof(actions) / sizeof(actions[0]))

/* ---- helpers ----------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return dr_xstrdup("");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&buf, &cap, '\0', f);
    fclose(f);
    if (n < 0) {
        free(buf);
        return dr_xstrdup("");
    }
    return buf;
}

/* How many lines of calls.log equal line. */
static int calls(const char *line)
{
    char *t = read_text("calls.log");
    int n = 0;
    size_t l = strlen(line);
    for (char *p = t; *p;) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == l && strncmp(p, line, l) == 0)
            n++;
        p += len + (nl ? 1 : 0);
    }
    free(t);
    return n;
}

static void load_rb(const char *text, dr_runbook *rb)
{
    write_file("rb.yaml", text);
    dr_diags d = {0};
    dr_err err;
    dr_err_clear(&err);
    int rc = dr_runbook_load("rb.yaml", actions, NACT, NULL, rb, &d, &err);
    if (rc != 0)
        dr_diags_print(&d, stderr);
    dr_diags_free(&d);
    cr_assert_eq(rc, 0, "%s", err.msg);
}

typedef struct result {
    int rc;
    dr_err err;
    json_t *rec;
    char *out;
} result;

static volatile sig_atomic_t flag;
static app the_app = {&flag};

static dr_rb_run_opts opts(void)
{
    flag = 0;
    dr_rb_run_opts o = {
        .runs_dir = "runs",
        .actions = actions,
        .nactions = NACT,
        .app = &the_app,
        .interrupted = &flag,
    };
    return o;
}

static result run_with(const dr_runbook *rb, dr_rb_run_opts o)
{
    result r = {0};
    size_t len;
    FILE *out = open_memstream(&r.out, &len);
    o.out = out;
    dr_err_clear(&r.err);
    r.rc = dr_rb_run(rb, &o, &r.rec, &r.err);
    fclose(out);
    return r;
}

static void result_free(result *r)
{
    json_decref(r->rec);
    free(r->out);
}

static json_t *step_rec(const json_t *rec, size_t i)
{
    return json_array_get(json_object_get(rec, "steps"), i);
}

static const char *sstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Every documented member of run.json with its type. */
static void check_shape(const json_t *rec)
{
    cr_assert(json_is_object(rec));
    cr_assert_eq(json_integer_value(json_object_get(rec, "format")), 1);
    static const char *const strs[] = {"run_id", "runbook", "runbook_file", "description",
                                       "status"};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        cr_assert(json_is_string(json_object_get(rec, strs[i])), "%s", strs[i]);
    cr_assert(json_is_object(json_object_get(rec, "vars")));
    cr_assert(json_is_real(json_object_get(rec, "started_at")));
    cr_assert(json_is_real(json_object_get(rec, "ended_at")));
    json_t *d = json_object_get(rec, "declared_at");
    cr_assert(d && (json_is_null(d) || json_is_number(d)));
    json_t *rf = json_object_get(rec, "resumed_from");
    cr_assert(rf && (json_is_null(rf) || json_is_array(rf)));
    cr_assert(json_is_integer(json_object_get(rec, "exit_code")));
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(rec, "steps"), i, s)
    {
        cr_assert_eq(json_integer_value(json_object_get(s, "index")), (json_int_t)i);
        cr_assert(json_is_string(json_object_get(s, "name")));
        cr_assert(json_is_string(json_object_get(s, "action")));
        const char *st = sstr(s, "status");
        cr_assert(st && strstr(" succeeded failed continued rolled-back skipped pending ", st),
                  "%s", st);
        static const char *const opt[] = {"started_at", "ended_at"};
        for (size_t k = 0; k < 2; k++) {
            json_t *v = json_object_get(s, opt[k]);
            cr_assert(v && (json_is_null(v) || json_is_real(v)), "%s", opt[k]);
        }
        cr_assert(json_is_integer(json_object_get(s, "attempts")));
        cr_assert(json_is_boolean(json_object_get(s, "resumed")));
        cr_assert(json_is_boolean(json_object_get(s, "finally")));
        json_t *det = json_object_get(s, "detail");
        cr_assert(det && (json_is_null(det) || json_is_object(det)));
        json_t *e = json_object_get(s, "error");
        cr_assert(e && (json_is_null(e) || json_is_string(e)));
    }
    json_t *rto = json_object_get(rec, "rto"), *rpo = json_object_get(rec, "rpo");
    static const char *const rk[] = {"target_s", "actual_s", "start", "end", "met"};
    for (size_t k = 0; k < 5; k++)
        cr_assert(json_object_get(rto, rk[k]), "rto.%s", rk[k]);
    cr_assert(json_is_number(json_object_get(rto, "start")));
    static const char *const pk[] = {"target_s", "actual_s", "recovery_point", "service_resumed_at",
                                     "met"};
    for (size_t k = 0; k < 5; k++)
        cr_assert(json_object_get(rpo, pk[k]), "rpo.%s", pk[k]);
}

/* The record on disk equals the one returned. */
static void check_on_disk(const json_t *rec)
{
    char *p = dr_xasprintf("runs/%s/run.json", sstr(rec, "run_id"));
    json_t *disk = json_load_file(p, 0, NULL);
    cr_assert_not_null(disk, "%s", p);
    cr_assert(json_equal(disk, (json_t *)rec), "run.json differs from the returned record");
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    json_decref(disk);
    free(p);
}

/* The journal of a run, parsed. */
static void read_journal(const char *run_id, dr_journal_data *d)
{
    char *p = dr_xasprintf("runs/%s/journal.jsonl", run_id);
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_journal_read(p, d, &err), 0, "%s", err.msg);
    free(p);
}

/* ---- tests ------------------------------------------------------------- */

Test(run, success_record_and_journal)
{
    dr_runbook rb;
    load_rb("name: t\n"
            "description: three steps\n"
            "vars: {greeting: hello}\n"
            "steps:\n"
            "  - {name: a, action: fake, with: {set: {bundle: b-7}}}\n"
            "  - {name: b, action: fake, with: {note: \"${greeting} ${bundle} ${target}\"}}\n"
            "  - {name: c, action: fake-verify}\n",
            &rb);
    dr_rb_run_opts o = opts();
    json_t *vars = json_pack("{s:s}", "target", "us-west-2");
    o.vars = vars;
    result r = run_with(&rb, o);
    cr_assert_eq(r.rc, 0, "%s\n%s", r.err.msg, r.out);
    check_shape(r.rec);
    check_on_disk(r.rec);
    cr_assert_str_eq(sstr(r.rec, "status"), "succeeded");
    cr_assert_str_eq(sstr(r.rec, "runbook"), "t");
    cr_assert_str_eq(sstr(r.rec, "runbook_file"), "rb.yaml");
    cr_assert_str_eq(sstr(r.rec, "description"), "three steps");
    cr_assert_str_eq(sstr(r.rec, "target"), "us-west-2");
    cr_assert(json_is_null(json_object_get(r.rec, "resumed_from")));
    cr_assert(json_is_null(json_object_get(r.rec, "declared_at")));
    cr_assert_eq(json_integer_value(json_object_get(r.rec, "exit_code")), 0);
    cr_assert_eq(calls("run b 1 hello b-7 us-west-2"), 1, "vars interpolated");
    json_t *rv = json_object_get(r.rec, "vars");
    cr_assert_str_eq(sstr(rv, "bundle"), "b-7");
    cr_assert_str_eq(sstr(rv, "run_id"), sstr(r.rec, "run_id"));
    for (size_t i = 0; i < 3; i++) {
        json_t *s = step_rec(r.rec, i);
        cr_assert_str_eq(sstr(s, "status"), "succeeded");
        cr_assert_eq(json_integer_value(json_object_get(s, "attempts")), 1);
        cr_assert(json_number_value(json_object_get(s, "ended_at")) >=
                  json_number_value(json_object_get(s, "started_at")));
    }
    cr_assert_str_eq(sstr(json_object_get(step_rec(r.rec, 0), "detail"), "step"), "a");
    /* RTO ends with the verify step; no targets: met is null. */
    json_t *rto = json_object_get(r.rec, "rto");
    cr_assert_float_eq(json_number_value(json_object_get(rto, "end")),
                       json_number_value(json_object_get(step_rec(r.rec, 2), "ended_at")), 1e-6);
    cr_assert(json_is_null(json_object_get(rto, "met")));
    cr_assert(json_is_null(json_object_get(rto, "target_s")));
    /* Progress: a start and an end line per step. */
    cr_assert(strstr(r.out, "[1/3] fake: a ...\n"), "%s", r.out);
    cr_assert(strstr(r.out, "[3/3] fake-verify: c ... ok in "), "%s", r.out);

    dr_journal_data d;
    read_journal(sstr(r.rec, "run_id"), &d);
    cr_assert_eq(d.lines, 1 + 3 * 2 + 1, "run, start+end per step, finish");
    cr_assert_str_eq(json_string_value(json_object_get(d.final, "status")), "succeeded");
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(d.header, "steps"), 1), "name")),
                     "b");
    dr_journal_data_free(&d);
    struct stat st;
    char *dir = dr_xasprintf("runs/%s", sstr(r.rec, "run_id"));
    cr_assert_eq(stat(dir, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    free(dir);
    json_decref(vars);
    result_free(&r);
    dr_runbook_free(&rb);
}

Test(run, retries_then_success)
{
    dr_runbook rb;
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: flaky, action: fake, retries: 2, with: {fail_times: 2}}\n",
            &rb);
    result r = run_with(&rb, opts());
    cr_assert_eq(r.rc, 0, "%s", r.err.msg);
    json_t *s = step_rec(r.rec, 0);
    cr_assert_str_eq(sstr(s, "status"), "succeeded");
    cr_assert_eq(json_integer_value(json_object_get(s, "attempts")), 3);
    cr_assert_eq(calls("run flaky 1 -") + calls("run flaky 2 -") + calls("run flaky 3 -"), 3);
    cr_assert(strstr(r.out, "attempt 1 of 3 failed after "), "%s", r.out);
    cr_assert(strstr(r.out, "flaky failed attempt 2; retrying in 0.002 s"), "backoff doubles: %s",
              r.out);
    dr_journal_data d;
    read_journal(sstr(r.rec, "run_id"), &d);
    cr_assert_eq(d.steps[0].attempts, 3);
    dr_journal_data_free(&d);
    result_free(&r);
    dr_runbook_free(&rb);
}

Test(run, retries_exhausted_abort)
{
    dr_runbook rb;
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: a, action: fake}\n"
            "  - {name: b, action: fake, retries: 1, with: {fail_times: 5, code: 7}}\n"
            "  - {name: c, action: fake}\n",
            &rb);
    result r = run_with(&rb, opts());
    cr_assert_eq(r.rc, -1);
    cr_assert_eq(r.err.code, DR_E_VERIFY, "the failing step's code");
    cr_assert_str_eq(r.err.msg, "step b: b failed attempt 2");
    check_shape(r.rec);
    check_on_disk(r.rec);
    cr_assert_str_eq(sstr(r.rec, "status"), "failed");
    cr_assert_eq(json_integer_value(json_object_get(r.rec, "exit_code")), 7);
    cr_assert_str_eq(sstr(step_rec(r.rec, 1), "status"), "failed");
    cr_assert_str_eq(sstr(step_rec(r.rec, 1), "error"), "b failed attempt 2");
    cr_assert_eq(json_integer_value(json_object_get(step_rec(r.rec, 1), "attempts")), 2);
    cr_assert_eq(json_integer_value(
                     json_object_get(json_object_get(step_rec(r.rec, 1), "detail"), "attempt")),
                 2, "the last attempt's detail");
    cr_assert_str_eq(sstr(step_rec(r.rec, 2), "status"), "skipped");
    cr_assert(json_is_null(json_object_get(step_rec(r.rec, 2), "started_at")));
    cr_assert_eq(calls("run c 1 -"), 0);
    cr_assert(strstr(r.out, "[2/3] fake: b ... FAILED after "), "%s", r.out);
    /* RTO: the service never came back. */
    json_t *rto = json_object_get(r.rec, "rto");
    cr_assert(json_is_null(json_object_get(rto, "end")));
    result_free(&r);
    dr_runbook_free(&rb);
}

Test(run, timeout_while_polling)
{
    dr_runbook rb;
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: slow, action: fake, timeout: 1s, with: {wait_expired: true}}\n",
            &rb);
    result r = run_with(&rb, opts());
    cr_assert_eq(r.rc, -1);
    cr_assert_str_eq(r.err.msg, "step slow: timed out after 1s: gave up");
    cr_assert_eq(r.err.code, DR_E_VERIFY, "the action's own code is kept");
    cr_assert_str_eq(sstr(step_rec(r.rec, 0), "error"), "timed out after 1s: gave up");
    result_free(&r);
    dr_runbook_free(&rb);
}

Test(run, success_after_the_deadline_is_a_timeout)
{
    dr_runbook rb;
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: late, action: fake, timeout: 1s, retries: 1, with: {sleep_ms: 1100}}\n",
            &rb);
    result r = run_with(&rb, opts());
    cr_assert_eq(r.rc, -1);
    cr_assert_str_eq(r.err.msg, "step late: timed out after 1s");
    cr_assert_eq(r.err.code, DR_E_NETWORK);
    cr_assert_eq(calls("run late 2 -"), 1, "a timeout is retried");
    result_free(&r);
    dr_runbook_free(&rb);
}

Test(run, on_failure_continue)
{
    dr_runbook rb;
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: a, action: fake}\n"
            "  - {name: b, action: fake, on_failure: continue, with: {fail_times: 1}}\n"
            "  - {name: c, action: fake-verify}\n",
            &rb);
    result r = run_with(&rb, opts());
    cr_assert_eq(r.rc, 0, "%s", r.err.msg);
    cr_assert_str_eq(sstr(r.rec, "status"), "succeeded");
    cr_assert_str_eq(sstr(step_rec(r.rec, 1), "status"), "continued");
    cr_assert_str_eq(sstr(step_rec(r.rec, 1), "error"), "b failed attempt 1");
    cr_assert_str_eq(sstr(step_rec(r.rec, 2), "status"), "succeeded");
    cr_assert(strstr(r.out, "[2/3] fake: b ... failed after "), "%s", r.out);
    cr_assert(strstr(r.out, "continuing (on_failure: continue): b failed attempt 1"), "%s", r.out);
    result_free(&r);
    dr_runbook_free(&rb);
}

Test(run, on_failure_rollback_in_reverse_order)
{
    dr_runbook rb;
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: a, action: fake}\n"
            "  - {name: b, action: norb}\n"
            "  - {name: c, action: fake, on_failure: continue, with: {fail_times: 1}}\n"
            "  - {name: d, action: fake}\n"
            "  - {name: e, action: fake, on_failure: rollback, with: {fail_times: 1}}\n"
            "  - {name: f, action: fake}\n",
            &rb);
    result r = run_with(&rb, opts());
    cr_assert_eq(r.rc, -1);
    cr_assert_str_eq(sstr(r.rec, "status"), "failed");
    char *log = read_text("calls.log");
    cr_assert_str_eq(log, "run a 1 -\n"
                          "run b 1 -\n"
                          "run c 1 -\n"
                          "run d 1 -\n"
                          "run e 1 -\n"
                          "rollback e\n"
                          "rollback d\n"
                          "rollback a\n");
    free(log);
    static const char *const want[] = {"rolled-back", "succeeded",   "continued",
                                       "rolled-back", "rolled-back", "skipped"};
    for (size_t i = 0; i < 6; i++)
        cr_assert_str_eq(sstr(step_rec(r.rec, i), "status"), want[i], "step %zu", i);
    /* The journal agrees: a and d are rolled back, so a resume runs them again. */
    dr_journal_data d;
    read_journal(sstr(r.rec, "run_id"), &d);
    cr_assert_str_eq(d.steps[0].status, "rolled-back");
    cr_assert_str_eq(d.steps[1].status, "succeeded");
    cr_assert_str_eq(d.steps[3].status, "rolled-back");
    cr_assert_str_eq(d.steps[4].status, "rolled-back");
    dr_journal_data_free(&d);
    result_free(&r);
    dr_runbook_free(&rb);
}

Test(run, finally_steps_run_after_a_failure)
{
    dr_runbook rb;
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: a, action: fake, with: {fail_times: 1, code: 5}}\n"
            "  - {name: b, action: fake}\n"
            "finally:\n"
            "  - {name: f1, action: fake, on_failure: continue, with: {fail_times: 1}}\n"
            "  - {name: f2, action: fake}\n",
            &rb);
    result r = run_with(&rb, opts());
    cr_assert_eq(r.rc, -1);
    cr_assert_eq(r.err.code, DR_E_AWS);
    cr_assert_str_eq(r.err.msg, "step a: a failed attempt 1", "the first failure is the run's");
    char *log = read_text("calls.log");
    cr_assert_str_eq(log, "run a 1 -\nrun f1 1 -\nrun f2 1 -\n");
    free(log);
    check_shape(r.rec);
    json_t *f1 = step_rec(r.rec, 2), *f2 = step_rec(r.rec, 3);
    cr_assert_eq(json_integer_value(json_object_get(f1, "index")), 2);
    cr_assert(json_is_true(json_object_get(f1, "finally")));
    cr_assert_str_eq(sstr(f1, "status"), "continued");
    cr_assert_str_eq(sstr(f2, "status"), "succeeded");
    cr_assert_str_eq(sstr(step_rec(r.rec, 1), "status"), "skipped");
    cr_assert(strstr(r.out, "[finally 2/2] fake: f2 ... ok in "), "%s", r.out);
    result_free(&r);
    dr_runbook_free(&rb);
}

Test(run, failing_finally_step_fails_a_good_run_but_not_the_rto)
{
    dr_runbook rb;
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: a, action: fake-verify}\n"
            "finally:\n"
            "  - {name: f, action: fake, with: {fail_times: 1, code: 10}}\n",
            &rb);
    dr_rb_run_opts o = opts();
    o.rto_target_s = 3600;
    result r = run_with(&rb, o);
    cr_assert_eq(r.rc, -1);
    cr_assert_eq(r.err.code, DR_E_IO);
    cr_assert_str_eq(sstr(r.rec, "status"), "failed");
    json_t *rto = json_object_get(r.rec, "rto");
    cr_assert_float_eq(json_number_value(json_object_get(rto, "end")),
                       json_number_value(json_object_get(step_rec(r.rec, 0), "ended_at")), 1e-6);
    cr_assert(json_is_true(json_object_get(rto, "met")));
    result_free(&r);
    dr_runbook_free(&rb);
}

/* The only run directory under runs/ (the crashed child's). */
static char *only_run(void)
{
    char *cmd = NULL;
    DIR *d = opendir("runs");
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            cr_assert_null(cmd, "more than one run");
            cmd = dr_xstrdup(de->d_name);
        }
    closedir(d);
    cr_assert_not_null(cmd);
    return cmd;
}

static const char *const crash_rb =
    "name: t\n"
    "vars: {mine: none}\n"
    "steps:\n"
    "  - {name: s1, action: fake, with: {set: {bundle: b-1, mine: m-1}}}\n"
    "  - {name: s2, action: fake, with: {note: \"${bundle}\"}}\n"
    "  - {name: s3, action: fake, with: {crash_unless: go, note: \"${bundle} ${mine}\"}}\n"
    "  - {name: s4, action: fake-verify}\n";

/* Runs crash_rb in a child that dies inside s3; returns the run id. */
static char *crashed_run(const dr_runbook *rb, double *started)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dr_rb_run_opts o = opts();
        FILE *devnull = fopen("/dev/null", "w");
        o.out = devnull;
        json_t *rec = NULL;
        dr_err err;
        dr_rb_run(rb, &o, &rec, &err);
        _exit(0); /* not reached: s3 exits with 3 */
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 3, "the child died inside s3");
    char *id = only_run();
    char *rec = dr_xasprintf("runs/%s/run.json", id);
    cr_assert_neq(access(rec, F_OK), 0, "a crashed run has no record");
    free(rec);
    dr_journal_data d;
    read_journal(id, &d);
    cr_assert_eq(d.steps[0].state, DR_JSTEP_FINISHED);
    cr_assert_eq(d.steps[1].state, DR_JSTEP_FINISHED);
    cr_assert_eq(d.steps[2].state, DR_JSTEP_STARTED, "s3 started, never finished");
    cr_assert_eq(d.n, 3, "s4 never started");
    cr_assert_null(d.final);
    *started = json_number_value(json_object_get(d.header, "started_at"));
    dr_journal_data_free(&d);
    return id;
}

Test(run, resume_after_a_crash)
{
    dr_runbook rb;
    load_rb(crash_rb, &rb);
    double started;
    char *old = crashed_run(&rb, &started);
    cr_assert_eq(calls("run s3 1 b-1 m-1"), 1);

    write_file("go", ""); /* this time s3 gets through */
    dr_rb_run_opts o = opts();
    o.resume = old;
    json_t *vars = json_pack("{s:s}", "mine", "from-the-command-line");
    o.vars = vars;
    result r = run_with(&rb, o);
    cr_assert_eq(r.rc, 0, "%s\n%s", r.err.msg, r.out);
    /* s1 and s2 are not run again; s3 runs again with the journaled vars. */
    cr_assert_eq(calls("run s1 1 -"), 1);
    cr_assert_eq(calls("run s2 1 b-1"), 1);
    cr_assert_eq(calls("run s3 1 b-1 m-1"), 2, "re-run, with the variables step 1 set");
    cr_assert_eq(calls("run s4 1 -"), 1);
    char *line = dr_xasprintf("step 1 s1: done in run %s (resumed)\n", old);
    cr_assert(strstr(r.out, line), "%s", r.out);
    free(line);

    check_shape(r.rec);
    check_on_disk(r.rec);
    cr_assert_str_neq(sstr(r.rec, "run_id"), old);
    json_t *from = json_object_get(r.rec, "resumed_from");
    cr_assert_eq(json_array_size(from), 1);
    cr_assert_str_eq(json_string_value(json_array_get(from, 0)), old);
    cr_assert_str_eq(sstr(r.rec, "status"), "succeeded");
    static const int resumed[] = {1, 1, 0, 0};
    for (size_t i = 0; i < 4; i++) {
        json_t *s = step_rec(r.rec, i);
        cr_assert_str_eq(sstr(s, "status"), "succeeded");
        cr_assert_eq(json_is_true(json_object_get(s, "resumed")), resumed[i], "step %zu", i);
    }
    json_t *rv = json_object_get(r.rec, "vars");
    cr_assert_str_eq(sstr(rv, "bundle"), "b-1");
    cr_assert_str_eq(sstr(rv, "run_id"), old, "${run_id} stays the original run's");
    /* The RTO counts from the crashed run's start. */
    cr_assert_float_eq(json_number_value(json_object_get(json_object_get(r.rec, "rto"), "start")),
                       started, 1e-6);

    /* The resumed run can itself be told apart and resumed no more. */
    dr_rb_run_opts o2 = opts();
    o2.resume = sstr(r.rec, "run_id");
    result r2 = run_with(&rb, o2);
    cr_assert_eq(r2.rc, -1);
    cr_assert_eq(r2.err.code, DR_E_USAGE);
    cr_assert(strstr(r2.err.msg, "succeeded: there is nothing to resume"), "%s", r2.err.msg);
    cr_assert_null(r2.rec);
    result_free(&r2);
    json_decref(vars);
    free(old);
    result_free(&r);
    dr_runbook_free(&rb);
}

Test(run, resume_refuses_a_changed_runbook)
{
    dr_runbook rb;
    load_rb(crash_rb, &rb);
    double started;
    char *old = crashed_run(&rb, &started);
    dr_runbook_free(&rb);
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: s1, action: fake}\n"
            "  - {name: other, action: norb}\n",
            &rb);
    dr_rb_run_opts o = opts();
    o.resume = old;
    result r = run_with(&rb, o);
    cr_assert_eq(r.rc, -1);
    cr_assert_eq(r.err.code, DR_E_CONFIG);
    char *want = dr_xasprintf(
        "runbook rb.yaml changed since run %s: step 2 was 's2' (fake), now 'other' (norb)", old);
    cr_assert_str_eq(r.err.msg, want);
    free(want);
    cr_assert_eq(calls("run s1 1 -"), 1, "nothing ran");

    o.resume = "t-nope";
    result r2 = run_with(&rb, o);
    cr_assert_eq(r2.err.code, DR_E_NOT_FOUND);
    cr_assert_str_eq(r2.err.msg, "no run 't-nope' in runs");
    free(old);
    result_free(&r);
    result_free(&r2);
    dr_runbook_free(&rb);
}

Test(run, interrupted_then_resumed)
{
    dr_runbook rb;
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: a, action: fake}\n"
            "  - {name: b, action: fake, retries: 3, with: {interrupt: true}}\n"
            "  - {name: c, action: fake}\n"
            "finally:\n"
            "  - {name: f, action: fake}\n",
            &rb);
    result r = run_with(&rb, opts());
    cr_assert_eq(r.rc, -1);
    cr_assert_eq(r.err.code, DR_E_INTERRUPTED);
    check_shape(r.rec);
    check_on_disk(r.rec);
    cr_assert_str_eq(sstr(r.rec, "status"), "interrupted");
    cr_assert_eq(json_integer_value(json_object_get(r.rec, "exit_code")), 130);
    cr_assert_str_eq(sstr(step_rec(r.rec, 1), "status"), "failed");
    cr_assert_str_eq(sstr(step_rec(r.rec, 1), "error"), "interrupted");
    cr_assert_eq(json_integer_value(json_object_get(step_rec(r.rec, 1), "attempts")), 1,
                 "no retry after an interrupt");
    cr_assert_str_eq(sstr(step_rec(r.rec, 2), "status"), "pending");
    cr_assert_str_eq(sstr(step_rec(r.rec, 3), "status"), "pending", "finally waits for the end");
    cr_assert_eq(calls("run f 1 -"), 0);
    dr_journal_data d;
    read_journal(sstr(r.rec, "run_id"), &d);
    cr_assert_str_eq(d.steps[1].status, "failed");
    cr_assert_str_eq(d.steps[1].error, "interrupted");
    cr_assert_str_eq(json_string_value(json_object_get(d.final, "status")), "interrupted");
    dr_journal_data_free(&d);

    /* Resume: b runs again (this time without the interrupt), then c and f. */
    dr_runbook_free(&rb);
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: a, action: fake}\n"
            "  - {name: b, action: fake}\n"
            "  - {name: c, action: fake}\n"
            "finally:\n"
            "  - {name: f, action: fake}\n",
            &rb);
    dr_rb_run_opts o = opts();
    o.resume = sstr(r.rec, "run_id");
    result r2 = run_with(&rb, o);
    cr_assert_eq(r2.rc, 0, "%s", r2.err.msg);
    cr_assert_eq(calls("run a 1 -"), 1);
    cr_assert_eq(calls("run b 1 -"), 2);
    cr_assert_eq(calls("run c 1 -"), 1);
    cr_assert_eq(calls("run f 1 -"), 1);
    result_free(&r2);
    result_free(&r);
    dr_runbook_free(&rb);
}

Test(run, interrupt_during_a_successful_step_stops_before_the_next)
{
    dr_runbook rb;
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: a, action: fake, with: {interrupt_ok: true}}\n"
            "  - {name: b, action: fake}\n",
            &rb);
    result r = run_with(&rb, opts());
    cr_assert_eq(r.err.code, DR_E_INTERRUPTED);
    cr_assert_str_eq(sstr(step_rec(r.rec, 0), "status"), "succeeded");
    cr_assert_str_eq(sstr(step_rec(r.rec, 1), "status"), "pending");
    cr_assert_eq(calls("run b 1 -"), 0);
    result_free(&r);
    dr_runbook_free(&rb);
}

/* An earlier record of runbook `name` whose steps took the given seconds. */
static void fake_record(const char *id, const char *name, const char *step, double secs,
                        const char *status)
{
    char *dir = dr_xasprintf("runs/%s", id);
    mkdir("runs", 0700);
    cr_assert_eq(mkdir(dir, 0700), 0);
    json_t *rec = json_pack("{s:i, s:s, s:s, s:[{s:s, s:s, s:f, s:f, s:b}]}", "format", 1, "run_id",
                            id, "runbook", name, "steps", "name", step, "status", status,
                            "started_at", 1000.0, "ended_at", 1000.0 + secs, "resumed", 0);
    char *p = dr_xasprintf("%s/run.json", dir);
    cr_assert_eq(json_dump_file(rec, p, 0), 0);
    json_decref(rec);
    free(p);
    free(dir);
}

static int count_runs(void)
{
    int n = 0;
    DIR *d = opendir("runs");
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

Test(run, dry_run_predicts_from_earlier_runs)
{
    fake_record("t-1", "t", "restore", 100, "succeeded");
    fake_record("t-2", "t", "restore", 200, "succeeded");
    fake_record("t-3", "t", "restore", 5000, "failed");        /* failed: not counted */
    fake_record("u-1", "other", "restore", 9000, "succeeded"); /* another runbook */
    dr_runbook rb;
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: ask, action: confirm, with: {message: \"go to ${target}?\"}}\n"
            "  - {name: restore, action: fake, with: {note: \"${bundle}\"}}\n"
            "  - {name: check, action: fake-verify}\n"
            "  - {name: after, action: norb}\n"
            "finally:\n"
            "  - {name: clean, action: norb}\n",
            &rb);
    dr_rb_run_opts o = opts();
    o.dry_run = 1;
    o.rto_target_s = 600;
    json_t *vars = json_pack("{s:s}", "target", "us-west-2");
    o.vars = vars;
    result r = run_with(&rb, o);
    cr_assert_eq(r.rc, 0, "%s", r.err.msg);
    cr_assert_str_eq(r.out, "dry run of t (rb.yaml): no action runs, nothing is written\n"
                            "[1/4] confirm: ask  ~10.0 s (typical)  at 10.0 s\n"
                            "      would ask: go to us-west-2? [y/N]\n"
                            "[2/4] fake: restore  ~2m30s (median of 2 runs)  at 2m40s\n"
                            "      with {\"note\":\"${bundle}\"}\n"
                            "[3/4] fake-verify: check  ~5.0 s (typical)  at 2m45s  <- RTO ends\n"
                            "[4/4] norb: after  ~7.0 s (typical)  at 2m52s\n"
                            "[finally 1/1] norb: clean  ~7.0 s (typical)  at 2m59s\n"
                            "predicted RTO 2m45s of 10m target: ok\n");
    cr_assert_eq(count_runs(), 4, "no run directory was made");
    cr_assert_neq(access("calls.log", F_OK), 0, "no action was called");
    cr_assert(json_is_true(json_object_get(r.rec, "dry_run")));
    json_t *rto = json_object_get(r.rec, "rto");
    cr_assert_float_eq(json_number_value(json_object_get(rto, "predicted_s")), 165, 1e-6);
    cr_assert(json_is_true(json_object_get(rto, "met")));
    json_t *s1 = step_rec(r.rec, 1);
    cr_assert_str_eq(sstr(s1, "basis"), "median");
    cr_assert_eq(json_integer_value(json_object_get(s1, "runs")), 2);
    result_free(&r);

    /* A tighter target, and an outage declared two minutes ago. */
    o.rto_target_s = 240;
    o.declared_at = dr_rb_now() - 120;
    r = run_with(&rb, o);
    cr_assert(strstr(r.out, "predicted RTO 4m45s of 4m target: EXCEEDS\n"
                            "      (2m of it already passed since the outage was declared)\n"),
              "%s", r.out);
    cr_assert(json_is_false(json_object_get(json_object_get(r.rec, "rto"), "met")));
    result_free(&r);
    json_decref(vars);
    dr_runbook_free(&rb);
}

Test(run, rto_rpo_with_declared_at_and_exit_code_8)
{
    double now = dr_rb_now();
    char *text = dr_xasprintf("name: t\n"
                              "steps:\n"
                              "  - {name: bundle, action: fake, with: {recovery_point: %lld}}\n"
                              "  - {name: check, action: fake-verify}\n"
                              "  - {name: later, action: fake, with: {sleep_ms: 50}}\n",
                              (long long)now - 1000);
    dr_runbook rb;
    load_rb(text, &rb);
    free(text);
    dr_rb_run_opts o = opts();
    o.declared_at = now - 100;
    o.rto_target_s = 50;
    o.rpo_target_s = 3600;
    result r = run_with(&rb, o);
    cr_assert_eq(r.rc, -1);
    cr_assert_eq(r.err.code, DR_E_OBJECTIVE);
    cr_assert(strstr(r.err.msg, "succeeded, but RTO 1m4"), "%s", r.err.msg);
    cr_assert(strstr(r.err.msg, "exceeded the 50s target"), "%s", r.err.msg);
    check_shape(r.rec);
    cr_assert_str_eq(sstr(r.rec, "status"), "succeeded");
    cr_assert_eq(json_integer_value(json_object_get(r.rec, "exit_code")), 8);
    cr_assert_float_eq(json_number_value(json_object_get(r.rec, "declared_at")), now - 100, 1e-3);
    json_t *rto = json_object_get(r.rec, "rto"), *rpo = json_object_get(r.rec, "rpo");
    double check_end = json_number_value(json_object_get(step_rec(r.rec, 1), "ended_at"));
    cr_assert_float_eq(json_number_value(json_object_get(rto, "start")), now - 100, 1e-3);
    cr_assert_float_eq(json_number_value(json_object_get(rto, "end")), check_end, 1e-6,
                       "the last verify step ends the RTO, not the run");
    cr_assert_float_eq(json_number_value(json_object_get(rto, "actual_s")), check_end - (now - 100),
                       1e-3);
    cr_assert_eq(json_integer_value(json_object_get(rto, "target_s")), 50);
    cr_assert(json_is_false(json_object_get(rto, "met")));
    cr_assert_str_eq(sstr(rto, "end_step"), "check");
    cr_assert_float_eq(json_number_value(json_object_get(rpo, "recovery_point")),
                       (double)((long long)now - 1000), 1e-6);
    cr_assert_float_eq(json_number_value(json_object_get(rpo, "service_resumed_at")), check_end,
                       1e-6);
    cr_assert_float_eq(json_number_value(json_object_get(rpo, "actual_s")),
                       check_end - (double)((long long)now - 1000), 1e-3);
    cr_assert(json_is_true(json_object_get(rpo, "met")));
    cr_assert(strstr(r.out, "RTO 1m4"), "%s", r.out);
    cr_assert(strstr(r.out, "of 50s target: EXCEEDED; RPO 16m"), "%s", r.out);
    result_free(&r);

    /* Met targets: exit code 0. */
    o.rto_target_s = 3600;
    r = run_with(&rb, o);
    cr_assert_eq(r.rc, 0, "%s", r.err.msg);
    cr_assert_eq(json_integer_value(json_object_get(r.rec, "exit_code")), 0);
    cr_assert(json_is_true(json_object_get(json_object_get(r.rec, "rto"), "met")));
    result_free(&r);

    /* RPO exceeded alone is also exit code 8. */
    o.rpo_target_s = 600;
    r = run_with(&rb, o);
    cr_assert_eq(r.err.code, DR_E_OBJECTIVE);
    cr_assert(strstr(r.err.msg, "succeeded, but RPO 16m"), "%s", r.err.msg);
    cr_assert(json_is_false(json_object_get(json_object_get(r.rec, "rpo"), "met")));
    result_free(&r);
    dr_runbook_free(&rb);
}

Test(run, rto_marker_and_service_resumed)
{
    dr_runbook rb;
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: a, action: fake, with: {recovery_point: 1000}}\n"
            "  - {name: up, action: fake, with: {service_resumed: true}}\n"
            "  - {name: v, action: fake-verify}\n"
            "  - {name: marked, action: fake, rto: end}\n"
            "  - {name: v2, action: fake-verify}\n",
            &rb);
    result r = run_with(&rb, opts());
    cr_assert_eq(r.rc, 0, "%s", r.err.msg);
    json_t *rto = json_object_get(r.rec, "rto"), *rpo = json_object_get(r.rec, "rpo");
    cr_assert_str_eq(sstr(rto, "end_step"), "marked", "the marker wins over verify steps");
    cr_assert_float_eq(json_number_value(json_object_get(rto, "end")),
                       json_number_value(json_object_get(step_rec(r.rec, 3), "ended_at")), 1e-6);
    cr_assert_float_eq(json_number_value(json_object_get(rpo, "service_resumed_at")),
                       json_number_value(json_object_get(step_rec(r.rec, 1), "ended_at")), 1e-6,
                       "service_resumed in a detail sets when service resumed");
    cr_assert(json_is_null(json_object_get(rpo, "met")), "no target");
    result_free(&r);
    dr_runbook_free(&rb);
}

Test(run, a_variable_without_value_fails_the_step_without_retries)
{
    dr_runbook rb;
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: a, action: fake, retries: 3, with: {note: \"${bundle}\"}}\n",
            &rb);
    result r = run_with(&rb, opts());
    cr_assert_eq(r.rc, -1);
    cr_assert_eq(r.err.code, DR_E_CONFIG);
    cr_assert_str_eq(r.err.msg, "step a: variable 'bundle' has no value");
    cr_assert_eq(json_integer_value(json_object_get(step_rec(r.rec, 0), "attempts")), 1);
    cr_assert_neq(access("calls.log", F_OK), 0);
    result_free(&r);
    dr_runbook_free(&rb);
}

Test(run, shell_action)
{
    dr_runbook rb;
    load_rb("name: t\n"
            "steps:\n"
            "  - name: ok\n"
            "    action: shell\n"
            "    with: {command: 'echo \"id=$DRCTL_RUN_ID\"; echo \"$FOO\" >&2', env: {FOO: "
            "\"${target}\"}}\n"
            "  - name: bad\n"
            "    action: shell\n"
            "    on_failure: continue\n"
            "    with: {command: 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 "
            "22; do echo line$i; done; exit 3'}\n"
            "  - name: slow\n"
            "    action: shell\n"
            "    timeout: 1s\n"
            "    with: {command: 'sleep 30 & sleep 30'}\n",
            &rb);
    dr_rb_run_opts o = opts();
    json_t *vars = json_pack("{s:s}", "target", "eu-west-1");
    o.vars = vars;
    double t0 = dr_rb_mono();
    result r = run_with(&rb, o);
    double took = dr_rb_mono() - t0;
    cr_assert_eq(r.rc, -1);
    cr_assert_lt(took, 10, "the timeout killed the whole process group");
    json_t *ok = json_object_get(step_rec(r.rec, 0), "detail");
    char *want = dr_xasprintf("id=%s\neu-west-1", sstr(r.rec, "run_id"));
    cr_assert_str_eq(sstr(ok, "output"), want);
    free(want);
    cr_assert_eq(json_integer_value(json_object_get(ok, "exit_status")), 0);

    json_t *bad = step_rec(r.rec, 1);
    cr_assert_str_eq(sstr(bad, "status"), "continued");
    cr_assert_str_eq(sstr(bad, "error"), "shell: command exited with status 3: line22");
    const char *out = sstr(json_object_get(bad, "detail"), "output");
    cr_assert(strncmp(out, "line3\n", 6) == 0, "the last 20 lines: %s", out);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(bad, "detail"), "exit_status")),
                 3);

    cr_assert_str_eq(r.err.msg, "step slow: timed out after 1s: shell: command stopped");
    json_decref(vars);
    result_free(&r);
    dr_runbook_free(&rb);
}

Test(run, confirm_action)
{
    cr_assert_not_null(freopen("/dev/null", "r", stdin)); /* no terminal to ask on */
    dr_runbook rb;
    load_rb("name: t\n"
            "steps:\n"
            "  - {name: ask, action: confirm, with: {message: \"Fail over to ${target}?\"}}\n",
            &rb);
    dr_rb_run_opts o = opts();
    json_t *vars = json_pack("{s:s}", "target", "us-west-2");
    o.vars = vars;
    result r = run_with(&rb, o);
    cr_assert_eq(r.rc, -1);
    cr_assert_eq(r.err.code, DR_E_USAGE);
    cr_assert_str_eq(r.err.msg, "step ask: confirmation needed (Fail over to us-west-2?) and "
                                "there is no terminal to ask");
    char *hint = dr_xasprintf("pass --yes to confirm in advance; then continue with --resume %s",
                              sstr(r.rec, "run_id"));
    cr_assert_str_eq(r.err.hint, hint);
    free(hint);
    result_free(&r);

    o.yes = 1;
    r = run_with(&rb, o);
    cr_assert_eq(r.rc, 0, "%s", r.err.msg);
    cr_assert_str_eq(sstr(json_object_get(step_rec(r.rec, 0), "detail"), "confirmed_by"), "--yes");
    result_free(&r);
    json_decref(vars);
    dr_runbook_free(&rb);
}
