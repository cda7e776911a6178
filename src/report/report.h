/*
 * report.h - RTO/RPO reports of runbook runs.
 *
 * The input is a run record, <store>/runs/<run-id>/run.json, as the runbook
 * engine writes it (format 1): the run's identity and variables, its
 * status, one entry per step with its times, and the RTO and RPO checks.
 * From it this module renders:
 *   text  the terminal summary printed at the end of failover and drill
 *         runs: status, RTO and RPO against their targets, one line per step
 *         with its duration and share of the RTO
 *   md    a Markdown report: title, status, RTO/RPO, a table of the steps,
 *         the errors
 *   json  the record normalised (every documented key present, null when
 *         unknown) plus the computed figures: per step the offset from the
 *         RTO start, the duration and the share of the RTO window
 *   html  ONE self-contained XHTML-compatible page (inline CSS, no script, no
 *         external reference of any kind): status badges, the RTO/RPO
 *         figures, an SVG timeline of the steps against the RTO budget, the
 *         steps table and the errors
 *
 * The RTO window runs from rto.start (else started_at) to rto.end (else
 * start + rto.actual_s, else ended_at). A step's share is the part of its
 * [started_at, ended_at] inside that window, as a percentage of the window;
 * "finally" steps and steps that never started have no share. What no step
 * covers (engine overhead, gaps) is reported as "unaccounted", so the shares
 * plus the unaccounted part make 100 % for sequential steps.
 *
 * Every user string (step names, errors, descriptions, variables) is
 * escaped for the format it goes into; invalid UTF-8 and control characters
 * are replaced, so the HTML always parses as XML. Rendering is deterministic:
 * the same record gives the same bytes (no "generated at" time).
 *
 * Records are not secret by contract (the engine never puts secret values in
 * them), so the files written here are mode 0644.
 */
#ifndef DRCTL_REPORT_REPORT_H
#define DRCTL_REPORT_REPORT_H

#include <jansson.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

/* Writes report.json (the record, normalised, plus computed per-step shares
 * of the RTO), report.md and report.html into run_dir, each atomically (tmp +
 * fsync + rename, then the directory fsynced), mode 0644 (no secrets in
 * records by contract). A malformed record is DR_E_IO naming the problem. */
int dr_report_write(const json_t *record, const char *run_dir, dr_err *err);

/* Renders one format to a buffer (appends): "json", "md", "html", "text" (the
 * terminal summary). An unknown format is DR_E_USAGE. */
int dr_report_render(const json_t *record, const char *format, dr_buf *out, dr_err *err);

/* History over runs_dir/<id>/run.json, oldest first (by started_at, then run
 * id): rendered as "text", "json", "md" or "html" (html: a self-contained
 * page with an SVG trend chart of RTO and RPO per run against the targets).
 * A missing runs_dir is an empty history. Records that cannot be read are
 * skipped and named at the end (text, md, html) or under "unreadable"
 * (json). */
int dr_report_history(const char *runs_dir, const char *format, dr_buf *out, dr_err *err);
/* The same, only the runs of one runbook when runbook is not NULL. */
int dr_report_history_of(const char *runs_dir, const char *runbook, const char *format, dr_buf *out,
                         dr_err *err);

/* The readable runs of a runs directory, oldest first (started_at, then id). */
typedef struct dr_report_run {
    char *id;       /* the directory name */
    char *path;     /* runs_dir/id/run.json */
    json_t *record; /* owned */
    double started_at;
} dr_report_run;

typedef struct dr_report_runs {
    dr_report_run *v;
    size_t n;
    char **unreadable; /* "id: why" of records that could not be read */
    size_t nunreadable;
} dr_report_runs;

/* Loads every runs_dir/<id>/run.json (of runbook, when not NULL). A missing
 * runs_dir gives an empty list; only a directory that exists but cannot be
 * read is an error (DR_E_IO). */
int dr_report_runs_load(const char *runs_dir, const char *runbook, dr_report_runs *out,
                        dr_err *err);
void dr_report_runs_free(dr_report_runs *r);

/* Reads and parses one run record file (DR_E_NOT_FOUND when absent, DR_E_IO
 * when unreadable or not a JSON object). *out is the caller's. */
int dr_report_load_record(const char *path, json_t **out, dr_err *err);

/* Writes data to path atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory; mode 0644. */
int dr_report_write_file(const char *path, const char *data, size_t len, dr_err *err);

#endif
