/*
 * report_int.h - what the report renderers share: a run record read into
 * plain values with the derived figures (RTO window, offsets, shares), and
 * the formatting and escaping helpers.
 *
 * A dr_rrun borrows its strings from the json_t it was read from: the record
 * must outlive it.
 */
#ifndef DRCTL_REPORT_REPORT_INT_H
#define DRCTL_REPORT_REPORT_INT_H

#include <jansson.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

/* An objective (RTO or RPO): NAN where the record has null or nothing. */
typedef struct dr_robj {
    double target_s;
    double actual_s;
    int met; /* 1 met, 0 exceeded, -1 not known */
} dr_robj;

typedef struct dr_rstep {
    int index;
    const char *name, *action; /* never NULL */
    const char *status;        /* [a-z-]+ as the engine writes it, else "other" */
    const char *error;         /* NULL when none */
    int attempts;
    int resumed;
    int finally;
    int timed;    /* has a start time */
    int open;     /* started, never ended: drawn to the end of the run */
    double start; /* epoch seconds (timed only) */
    double end;
    double offset;  /* start - RTO start */
    double dur;     /* end - start, >= 0 */
    double share;   /* percent of the RTO window; NAN when not counted */
    json_t *detail; /* borrowed; NULL when none */
} dr_rstep;

typedef struct dr_rrun {
    const char *run_id, *runbook, *runbook_file, *description, *target;
    const char *status;   /* [a-z-]+, else "other" */
    json_t *vars;         /* borrowed, may be NULL */
    json_t *resumed_from; /* borrowed array, may be NULL */
    double started_at;    /* NAN when absent */
    double declared_at;
    double ended_at;
    int exit_code; /* -1 when absent */
    double t0;     /* the RTO start */
    double window; /* the RTO window in seconds (>= 0) */
    int rto_end_known;
    double rto_end; /* absolute, when known */
    dr_robj rto, rpo;
    double recovery_point; /* NAN when absent */
    double service_resumed_at;
    dr_rstep *steps;
    size_t n;
    double share_sum;   /* sum of the counted steps' shares */
    double unaccounted; /* percent of the window no counted step covers (>= 0) */
} dr_rrun;

/* Reads a record; DR_E_IO "run record: ..." when it is not of format 1's
 * shape (not an object, no run_id, steps not an array). */
int dr_rrun_read(const json_t *rec, dr_rrun *r, dr_err *err);
void dr_rrun_free(dr_rrun *r);

/* The normalised record with the computed figures (new reference). */
json_t *dr_rrun_json(const json_t *rec, const dr_rrun *r);

/* "1.5s", "2m03s", "1h05m00s"; "-" for NAN. Negative values get a '-'. */
void dr_fmt_dur(double s, char *out, size_t cap);
/* "2026-11-27 16:13:00Z"; "-" for NAN. */
void dr_fmt_utc(double t, char *out, size_t cap);
/* "met", "EXCEEDED", or "not measured". */
const char *dr_met_word(int met);
/* The RTO's word: dr_met_word, with "service not resumed" when the run never
 * reached its RTO end. */
const char *dr_rto_word(const dr_rrun *r);

/* Appends s with &, <, >, " and ' escaped for HTML and XML alike; invalid
 * UTF-8 and control characters other than tab and newline become U+FFFD. */
void dr_esc_xml(dr_buf *b, const char *s);
/* The same, cut to at most max code points with an ellipsis. */
void dr_esc_xml_cut(dr_buf *b, const char *s, size_t max);
/* Appends s for a Markdown table cell or line: HTML-escaped, Markdown
 * punctuation backslash-escaped, newlines as spaces. */
void dr_esc_md(dr_buf *b, const char *s);
/* Appends s as one line of terminal text: control characters as '?'. */
void dr_esc_text(dr_buf *b, const char *s);

/* The page and the trend chart (report_html.c). */
void dr_render_html(const dr_rrun *r, dr_buf *out);
/* The shared page head (<!DOCTYPE ...> up to <body>) and the CSS. */
void dr_html_head(dr_buf *out, const char *title);

/* Nice axis ticks: step in seconds for a span so that about `want` ticks fit. */
double dr_nice_step(double span, int want);
/* A tick label: "0", "30s", "5m", "1m30s", "2h", "-5m". */
void dr_fmt_tick(double s, char *out, size_t cap);

/* Status colour (fill) of a step bar: "#rrggbb". */
const char *dr_status_color(const char *status, int open);

#endif
