/*
 * journal.h - the durable record of a runbook run, written as it happens.
 *
 * <runs_dir>/<run-id>/journal.jsonl holds one JSON object per line. Each
 * line is written with one write(2) and fsync'd before the engine goes on,
 * so after a crash (even a power cut) the journal holds every event that
 * happened before the last fsync, and at most one torn line at the end,
 * which reading ignores. The directories are 0700 and fsync'd when created,
 * the file is 0600: variables and details may name infrastructure.
 *
 * Events ("event" member), in the order the engine writes them:
 *   run       first line: run_id, runbook, file, description, vars (the
 *             initial variables), started_at, declared_at (null when not
 *             given), original_started_at (the first run's start when this
 *             run resumes another, else started_at), targets {rto_s, rpo_s},
 *             resumed_from (null or the run ids this run continues, oldest
 *             first), steps [{name, action}] (the main steps, to detect a
 *             changed runbook on resume)
 *   start     before each attempt: step (index), name, action, attempt, t
 *   retry     an attempt failed and will be retried: step, attempt, error, t
 *   end       after a step: step, name, status (succeeded | failed |
 *             continued | rolled-back), attempts, started_at, t (the end),
 *             detail (object or null), error (string or null), code (the
 *             error's exit code, 0 when none); "inherited": true and
 *             "run_id" for steps finished in an earlier run this one resumes
 *   rollback  an earlier step was undone: step, status (rolled-back |
 *             rollback-failed), error, t
 *   finish    last line: status (succeeded | failed | interrupted),
 *             exit_code, t
 * Times ("t", "*_at") are Unix seconds with a fraction.
 */
#ifndef DRCTL_RUNBOOK_JOURNAL_H
#define DRCTL_RUNBOOK_JOURNAL_H

#include <jansson.h>
#include <stddef.h>

#include "util/err.h"

#define DR_JOURNAL_FILE "journal.jsonl"

typedef struct dr_journal {
    int fd;     /* -1 when closed */
    char *dir;  /* <runs_dir>/<run_id> */
    char *path; /* <dir>/journal.jsonl */
} dr_journal;

#define DR_JOURNAL_INIT                                                                            \
    {                                                                                              \
        -1, NULL, NULL                                                                             \
    }

/* "<runbook>-YYYYMMDDTHHMMSSZ-<4 hex digits>" for Unix time t (UTC), the
 * hex digits random. Caller frees. */
char *dr_run_id_new(const char *runbook, double t);
/* 1 when id can name a run directory: [A-Za-z0-9._-], not "." or "..". */
int dr_run_id_valid(const char *id);

/* Creates <runs_dir> (0700, as needed), <runs_dir>/<run_id> (0700, must not
 * exist) and its journal (0600), and fsyncs both directories. */
int dr_journal_create(const char *runs_dir, const char *run_id, dr_journal *j, dr_err *err);
/* Appends event as one line and fsyncs it: when this returns 0 the event
 * survives a crash. */
int dr_journal_append(dr_journal *j, const json_t *event, dr_err *err);
/* Closes and frees (DR_JOURNAL_INIT and closed journals are fine). */
void dr_journal_close(dr_journal *j);

typedef enum dr_jstep_state {
    DR_JSTEP_NOT_STARTED,
    DR_JSTEP_STARTED, /* a start without an end: the run stopped inside it */
    DR_JSTEP_FINISHED
} dr_jstep_state;

/* One step as the journal tells it. */
typedef struct dr_jstep {
    dr_jstep_state state;
    char *name;        /* from the last start or end event; NULL when not started */
    char *status;      /* finished: succeeded | failed | continued | rolled-back */
    double started_at; /* the first attempt's start; 0 when unknown */
    double ended_at;   /* 0 when not finished */
    int attempts;      /* attempts started */
    json_t *detail;    /* the end event's detail, NULL when none */
    char *error;       /* NULL when none */
    int code;          /* the error's exit code, 0 when none */
    int inherited;     /* finished in an earlier run that this one resumed */
    char *ran_in;      /* the run id it finished in (this journal's, or the earlier run's) */
} dr_jstep;

typedef struct dr_journal_data {
    json_t *header;               /* the run event */
    const char *run_id, *runbook; /* borrowed from header */
    dr_jstep *steps;              /* by step index; n = the highest index seen + 1 */
    size_t n;
    json_t *vars;  /* header vars with the "set" of each succeeded step applied in order */
    json_t *final; /* the finish event, NULL when the run did not finish */
    size_t lines;  /* events read */
    int torn;      /* a torn last line was ignored */
} dr_journal_data;

/*
 * Reads a journal. A last line that has no newline or does not parse is a
 * torn write and ignored (torn = 1); any other bad line, or a first line that
 * is not a run event, is DR_E_IO naming the line. A missing file is
 * DR_E_NOT_FOUND. *out is the caller's to free in both cases.
 */
int dr_journal_read(const char *path, dr_journal_data *out, dr_err *err);
void dr_journal_data_free(dr_journal_data *d);

/* Writes data to path atomically: temporary file in the same directory
 * (0600), fsync, rename, fsync of the directory. For run.json. */
int dr_rb_write_file_atomic(const char *path, const char *data, size_t len, dr_err *err);

#endif
