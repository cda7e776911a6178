/*
 * test_journal.c - the run journal: create, append, read back per step,
 * torn last lines, corruption, modes, run ids, atomic record files.
 *
 * Each test works in its own temporary directory (Criterion forks a process
 * per test).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runbook/journal.h"
#include "util/mem.h"

static char tmpdir[64];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/drctl-journal-XXXXXX");
    cr_assert(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
    cr_assert(chdir(tmpdir) == 0);
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

TestSuite(journal, .init = setup, .fini = teardown);

static void append(dr_journal *j, json_t *ev)
{
    dr_err err;
    dr_err_clear(&err);
    cr_assert_not_null(ev);
    cr_assert_eq(dr_journal_append(j, ev, &err), 0, "%s", err.msg);
    json_decref(ev);
}

/* A journal of a run that stopped inside step 2: step 0 succeeded (and set
 * bundle), step 1 failed and was continued past, step 2 started, step 3
 * never started. */
static void write_sample(dr_journal *j)
{
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_journal_create("runs", "rb-1", j, &err), 0, "%s", err.msg);
    append(j,
           json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:f}", "event", "run", "run_id", "rb-1",
                     "runbook", "rb", "vars", "target", "us-west-2", "bundle", "old", "t", 100.0));
    append(j, json_pack("{s:s, s:i, s:s, s:i, s:f}", "event", "start", "step", 0, "name", "zero",
                        "attempt", 1, "t", 101.0));
    append(j,
           json_pack("{s:s, s:i, s:s, s:s, s:i, s:f, s:f, s:{s:{s:s}}, s:n, s:i}", "event", "end",
                     "step", 0, "name", "zero", "status", "succeeded", "attempts", 1, "started_at",
                     101.0, "t", 102.5, "detail", "set", "bundle", "new", "error", "code", 0));
    append(j, json_pack("{s:s, s:i, s:s, s:i, s:f}", "event", "start", "step", 1, "name", "one",
                        "attempt", 1, "t", 103.0));
    append(j, json_pack("{s:s, s:i, s:i, s:s, s:f}", "event", "retry", "step", 1, "attempt", 1,
                        "error", "boom", "t", 103.5));
    append(j, json_pack("{s:s, s:i, s:s, s:i, s:f}", "event", "start", "step", 1, "name", "one",
                        "attempt", 2, "t", 104.0));
    append(j, json_pack("{s:s, s:i, s:s, s:s, s:i, s:f, s:f, s:{s:{s:s}}, s:s, s:i}", "event",
                        "end", "step", 1, "name", "one", "status", "continued", "attempts", 2,
                        "started_at", 103.0, "t", 105.0, "detail", "set", "ignored", "x", "error",
                        "boom again", "code", 5));
    append(j, json_pack("{s:s, s:i, s:s, s:i, s:f}", "event", "start", "step", 2, "name", "two",
                        "attempt", 1, "t", 106.0));
}

Test(journal, write_and_read_back)
{
    dr_journal j = DR_JOURNAL_INIT;
    write_sample(&j);
    cr_assert_str_eq(j.dir, "runs/rb-1");
    cr_assert_str_eq(j.path, "runs/rb-1/journal.jsonl");
    dr_journal_close(&j);

    dr_journal_data d;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_journal_read("runs/rb-1/journal.jsonl", &d, &err), 0, "%s", err.msg);
    cr_assert_str_eq(d.run_id, "rb-1");
    cr_assert_str_eq(d.runbook, "rb");
    cr_assert_eq(d.lines, 8);
    cr_assert_eq(d.torn, 0);
    cr_assert_null(d.final);
    cr_assert_eq(d.n, 3);

    cr_assert_eq(d.steps[0].state, DR_JSTEP_FINISHED);
    cr_assert_str_eq(d.steps[0].status, "succeeded");
    cr_assert_float_eq(d.steps[0].started_at, 101.0, 1e-9);
    cr_assert_float_eq(d.steps[0].ended_at, 102.5, 1e-9);
    cr_assert_eq(d.steps[0].attempts, 1);
    cr_assert_str_eq(d.steps[0].ran_in, "rb-1");
    cr_assert_null(d.steps[0].error);

    cr_assert_eq(d.steps[1].state, DR_JSTEP_FINISHED);
    cr_assert_str_eq(d.steps[1].status, "continued");
    cr_assert_eq(d.steps[1].attempts, 2);
    cr_assert_str_eq(d.steps[1].error, "boom again");
    cr_assert_eq(d.steps[1].code, 5);

    cr_assert_eq(d.steps[2].state, DR_JSTEP_STARTED);
    cr_assert_str_eq(d.steps[2].name, "two");
    cr_assert_null(d.steps[2].status);

    /* Variables: the header's, with the set of the succeeded step only. */
    cr_assert_str_eq(json_string_value(json_object_get(d.vars, "bundle")), "new");
    cr_assert_str_eq(json_string_value(json_object_get(d.vars, "target")), "us-west-2");
    cr_assert_null(json_object_get(d.vars, "ignored"));
    dr_journal_data_free(&d);
}

Test(journal, modes_and_fsynced_layout)
{
    dr_journal j = DR_JOURNAL_INIT;
    write_sample(&j);
    struct stat st;
    cr_assert_eq(stat("runs", &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    cr_assert_eq(stat("runs/rb-1", &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    cr_assert_eq(stat("runs/rb-1/journal.jsonl", &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    /* A second run with the same id is refused, never merged. */
    dr_journal k = DR_JOURNAL_INIT;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_journal_create("runs", "rb-1", &k, &err), -1);
    cr_assert_eq(err.code, DR_E_IO);
    cr_assert_eq(errno, EEXIST);
    dr_journal_close(&k);
    dr_journal_close(&j);
}

static void append_raw(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(journal, torn_last_line_is_ignored)
{
    dr_journal j = DR_JOURNAL_INIT;
    write_sample(&j);
    dr_journal_close(&j);
    /* A crash in the middle of writing step 2's end event. */
    append_raw("runs/rb-1/journal.jsonl", "{\"event\":\"end\",\"step\":2,\"status\":\"succ");
    dr_journal_data d;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_journal_read("runs/rb-1/journal.jsonl", &d, &err), 0, "%s", err.msg);
    cr_assert_eq(d.torn, 1);
    cr_assert_eq(d.lines, 8);
    cr_assert_eq(d.steps[2].state, DR_JSTEP_STARTED, "the torn end does not count");
    dr_journal_data_free(&d);
}

Test(journal, complete_event_without_newline_is_torn)
{
    dr_journal j = DR_JOURNAL_INIT;
    write_sample(&j);
    dr_journal_close(&j);
    /* The bytes of the event made it, the newline did not: still torn (one
     * write(2) carries both, so the event was never acknowledged). */
    append_raw("runs/rb-1/journal.jsonl",
               "{\"event\":\"end\",\"step\":2,\"status\":\"succeeded\",\"t\":107}");
    dr_journal_data d;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_journal_read("runs/rb-1/journal.jsonl", &d, &err), 0, "%s", err.msg);
    cr_assert_eq(d.torn, 1);
    cr_assert_eq(d.steps[2].state, DR_JSTEP_STARTED);
    dr_journal_data_free(&d);
}

Test(journal, garbage_last_line_is_torn_but_garbage_inside_is_corrupt)
{
    dr_journal j = DR_JOURNAL_INIT;
    write_sample(&j);
    dr_journal_close(&j);
    /* Zero-filled block after a crash: a last "line" of NULs and a newline. */
    append_raw("runs/rb-1/journal.jsonl", "\x01\x02garbage\n");
    dr_journal_data d;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_journal_read("runs/rb-1/journal.jsonl", &d, &err), 0, "%s", err.msg);
    cr_assert_eq(d.torn, 1);
    dr_journal_data_free(&d);

    /* The same garbage followed by a good event is corruption, named by line. */
    append_raw("runs/rb-1/journal.jsonl", "{\"event\":\"finish\",\"status\":\"failed\"}\n");
    cr_assert_eq(dr_journal_read("runs/rb-1/journal.jsonl", &d, &err), -1);
    cr_assert_eq(err.code, DR_E_IO);
    cr_assert(strstr(err.msg, "is corrupt at line 9"), "%s", err.msg);
    dr_journal_data_free(&d);
}

Test(journal, first_line_must_be_the_run_event)
{
    cr_assert_eq(mkdir("runs", 0700), 0);
    append_raw("runs/j.jsonl", "{\"event\":\"start\",\"step\":0}\n{\"event\":\"finish\"}\n");
    dr_journal_data d;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_journal_read("runs/j.jsonl", &d, &err), -1);
    cr_assert(strstr(err.msg, "line 1: the first line is not a run event"), "%s", err.msg);
    dr_journal_data_free(&d);

    cr_assert_eq(dr_journal_read("runs/none.jsonl", &d, &err), -1);
    cr_assert_eq(err.code, DR_E_NOT_FOUND);
    dr_journal_data_free(&d);
}

Test(journal, finish_and_rollback_events)
{
    dr_journal j = DR_JOURNAL_INIT;
    write_sample(&j);
    append(&j, json_pack("{s:s, s:i, s:s, s:n, s:f}", "event", "rollback", "step", 0, "status",
                         "rolled-back", "error", "t", 107.0));
    append(&j, json_pack("{s:s, s:s, s:i, s:f}", "event", "finish", "status", "failed", "exit_code",
                         5, "t", 108.0));
    dr_journal_close(&j);
    dr_journal_data d;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_journal_read("runs/rb-1/journal.jsonl", &d, &err), 0, "%s", err.msg);
    cr_assert_str_eq(d.steps[0].status, "rolled-back");
    cr_assert_str_eq(json_string_value(json_object_get(d.final, "status")), "failed");
    dr_journal_data_free(&d);
}

Test(journal, run_ids)
{
    char *id = dr_run_id_new("failover", 1795000000.5); /* 2026-11-18T11:06:40Z */
    regex_t re;
    cr_assert_eq(regcomp(&re, "^failover-20261118T110640Z-[0-9a-f]{4}$", REG_EXTENDED), 0);
    cr_assert_eq(regexec(&re, id, 0, NULL, 0), 0, "%s", id);
    regfree(&re);
    cr_assert(dr_run_id_valid(id));
    free(id);
    cr_assert_not(dr_run_id_valid("../etc"));
    cr_assert_not(dr_run_id_valid(".."));
    cr_assert_not(dr_run_id_valid(""));
    cr_assert_not(dr_run_id_valid("a/b"));
}

Test(journal, atomic_record_file)
{
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_rb_write_file_atomic("rec.json", "{\"a\":1}\n", 8, &err), 0, "%s", err.msg);
    cr_assert_eq(dr_rb_write_file_atomic("rec.json", "{\"a\":2}\n", 8, &err), 0, "%s", err.msg);
    json_t *v = json_load_file("rec.json", 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(v, "a")), 2);
    json_decref(v);
    struct stat st;
    cr_assert_eq(stat("rec.json", &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(dr_rb_write_file_atomic("nodir/rec.json", "x", 1, &err), -1);
    cr_assert_eq(err.code, DR_E_IO);
}
