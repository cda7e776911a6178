/*
 * report.c - `drctl report RUN` (one run's RTO/RPO report) and
 * `drctl report --history` (every run, oldest first).
 *
 * Reads only the run records under <store>/runs; no AWS call, no lock. The
 * report goes to stdout, or with --out to a file written atomically.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/commands.h"
#include "cmd/stackcmd.h"
#include "report/report.h"
#include "util/mem.h"

static int is_format(const char *f)
{
    return strcmp(f, "text") == 0 || strcmp(f, "md") == 0 || strcmp(f, "json") == 0 ||
           strcmp(f, "html") == 0;
}

/* DR_E_NOT_FOUND for run, with the newest five run ids as the hint. */
static int not_found(const char *run, const char *runs_dir, dr_err *err)
{
    dr_report_runs runs;
    dr_err e;
    dr_err_clear(&e);
    if (dr_report_runs_load(runs_dir, NULL, &runs, &e) != 0)
        memset(&runs, 0, sizeof(runs));
    if (strcmp(run, "latest") == 0)
        dr_err_set(err, DR_E_NOT_FOUND, "no runs in %s", runs_dir);
    else
        dr_err_set(err, DR_E_NOT_FOUND, "no run '%s' in %s", run, runs_dir);
    if (runs.n == 0) {
        dr_err_hint(err, "there are no run records there (runs are recorded by failover, "
                         "failback and drill; --store names another store)");
    } else {
        char list[400] = "";
        size_t shown = 0;
        for (size_t i = runs.n; i-- > 0 && shown < 5; shown++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof(list) - l, "%s%s", shown ? ", " : "", runs.v[i].id);
        }
        dr_err_hint(err, "the newest runs: %s%s", list, runs.n > 5 ? ", ..." : "");
    }
    dr_report_runs_free(&runs);
    return -1;
}

/* The record of RUN: a path (to a run directory or a run.json), "latest",
 * or a run id under runs_dir. */
static int load_run(const char *run, const char *runs_dir, json_t **rec, dr_err *err)
{
    *rec = NULL;
    if (strchr(run, '/') || strcmp(run, ".") == 0 || strcmp(run, "..") == 0) {
        struct stat st;
        if (stat(run, &st) != 0)
            return dr_err_set(err, DR_E_NOT_FOUND, "no run record at %s: %s", run, strerror(errno));
        char *path = S_ISDIR(st.st_mode) ? dr_xasprintf("%s/run.json", run) : dr_xstrdup(run);
        int rc = dr_report_load_record(path, rec, err);
        free(path);
        return rc;
    }
    if (strcmp(run, "latest") == 0) {
        dr_report_runs runs;
        if (dr_report_runs_load(runs_dir, NULL, &runs, err) != 0)
            return -1;
        if (runs.n)
            *rec = json_incref(runs.v[runs.n - 1].record);
        dr_report_runs_free(&runs);
        return *rec ? 0 : not_found(run, runs_dir, err);
    }
    char *path = dr_xasprintf("%s/%s/run.json", runs_dir, run);
    int rc = dr_report_load_record(path, rec, err);
    free(path);
    if (rc != 0 && err->code == DR_E_NOT_FOUND)
        return not_found(run, runs_dir, err);
    return rc;
}

static int emit(const dr_buf *b, const char *out_path, dr_err *err)
{
    if (out_path && strcmp(out_path, "-") != 0)
        return dr_report_write_file(out_path, dr_buf_cstr(b), b->len, err);
    if (fwrite(dr_buf_cstr(b), 1, b->len, stdout) != b->len || fflush(stdout) != 0)
        return dr_err_set(err, DR_E_IO, "cannot write the report to stdout: %s", strerror(errno));
    return 0;
}

int cmd_report(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},  {"store", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},     {"history", no_argument, NULL, 'H'},
        {"runbook", required_argument, NULL, 'r'}, {NULL, 0, NULL, 0}};
    const dr_command *self = dr_command_find("report");
    const char *format = NULL, *store = NULL, *out_path = NULL, *runbook = NULL;
    int history = 0, c;
    while ((c = dr_getopt(self, argc, argv, ":", longopts, err)) != -1) {
        if (c == -2)
            return -1;
        if (c == 'f')
            format = optarg;
        else if (c == 's')
            store = optarg;
        else if (c == 'o')
            out_path = optarg;
        else if (c == 'H')
            history = 1;
        else if (c == 'r')
            runbook = optarg;
    }
    if (!format)
        format = ctx->output == DR_OUTPUT_JSON ? "json" : "text";
    if (!is_format(format)) {
        dr_err_set(err, DR_E_USAGE, "unknown --format '%s'", format);
        return dr_err_hint(err, "use text, md, json or html");
    }
    int nargs = argc - optind;
    if (history && nargs > 0) {
        dr_err_set(err, DR_E_USAGE, "--history takes no run, got '%s'", argv[optind]);
        return dr_err_hint(err, "usage: %s", self->usage);
    }
    if (!history && runbook) {
        dr_err_set(err, DR_E_USAGE, "--runbook applies to --history only");
        return dr_err_hint(err, "usage: %s", self->usage);
    }
    if (!history && nargs != 1) {
        if (nargs == 0)
            dr_err_set(err, DR_E_USAGE,
                       "report needs a run (a run id, 'latest' or a run "
                       "directory) or --history");
        else
            dr_err_set(err, DR_E_USAGE, "report takes one run, got %d arguments", nargs);
        return dr_err_hint(err, "usage: %s", self->usage);
    }
    char *runs_dir = dr_xasprintf("%s/runs", dr_cmd_store_dir(store));
    dr_buf b = DR_BUF_INIT;
    int rc;
    if (history) {
        rc = dr_report_history_of(runs_dir, runbook, format, &b, err);
    } else {
        json_t *rec = NULL;
        rc = load_run(argv[optind], runs_dir, &rec, err);
        if (rc == 0)
            rc = dr_report_render(rec, format, &b, err);
        json_decref(rec);
    }
    if (rc == 0)
        rc = emit(&b, out_path, err);
    dr_buf_free(&b);
    free(runs_dir);
    return rc;
}
