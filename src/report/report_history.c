/*
 * report_history.c - the runs of a runs directory, oldest first, and the
 * history report over them: one row per run (date, runbook, target, status,
 * RTO and RPO against their targets, met), the trend a team shows its
 * auditors; as text, Markdown, JSON or a self-contained HTML page with an
 * SVG trend chart of RTO and RPO per run against the targets.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "report/report_int.h"
#include "util/mem.h"

/* ---- loading ------------------------------------------------------------ */

static int run_cmp(const void *pa, const void *pb)
{
    const dr_report_run *a = pa, *b = pb;
    if (a->started_at < b->started_at)
        return -1;
    if (a->started_at > b->started_at)
        return 1;
    return strcmp(a->id, b->id);
}

static void add_unreadable(dr_report_runs *r, char *what)
{
    r->unreadable = dr_xrealloc(r->unreadable, (r->nunreadable + 1) * sizeof(char *));
    r->unreadable[r->nunreadable++] = what;
}

int dr_report_runs_load(const char *runs_dir, const char *runbook, dr_report_runs *out, dr_err *err)
{
    memset(out, 0, sizeof(*out));
    DIR *d = opendir(runs_dir);
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return dr_err_set(err, DR_E_IO, "cannot read %s: %s", runs_dir, strerror(errno));
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *path = dr_xasprintf("%s/%s/run.json", runs_dir, de->d_name);
        json_t *rec = NULL;
        dr_err e;
        dr_err_clear(&e);
        if (dr_report_load_record(path, &rec, &e) != 0) {
            if (e.code != DR_E_NOT_FOUND) /* a directory without a record is not a run */
                add_unreadable(out, dr_xasprintf("%s: %s", de->d_name, e.msg));
            free(path);
            continue;
        }
        const char *rb = json_string_value(json_object_get(rec, "runbook"));
        if (runbook && (!rb || strcmp(rb, runbook) != 0)) {
            json_decref(rec);
            free(path);
            continue;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            out->v = dr_xrealloc(out->v, cap * sizeof(*out->v));
        }
        json_t *sa = json_object_get(rec, "started_at");
        dr_report_run *run = &out->v[out->n++];
        run->id = dr_xstrdup(de->d_name);
        run->path = path;
        run->record = rec;
        run->started_at = json_is_number(sa) ? json_number_value(sa) : 0;
    }
    closedir(d);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), run_cmp);
    return 0;
}

void dr_report_runs_free(dr_report_runs *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].id);
        free(r->v[i].path);
        json_decref(r->v[i].record);
    }
    free(r->v);
    for (size_t i = 0; i < r->nunreadable; i++)
        free(r->unreadable[i]);
    free(r->unreadable);
    memset(r, 0, sizeof(*r));
}

/* ---- rows --------------------------------------------------------------- */

typedef struct hrow {
    dr_rrun r;
    int met; /* 1 both objectives met, 0 one exceeded (or service never resumed), -1 unknown */
    char date[40], rto[72], rpo[72];
} hrow;

static int overall_met(const dr_rrun *r)
{
    if (r->rto.met == 0 || r->rpo.met == 0)
        return 0;
    if (r->rto.met < 0 && !r->rto_end_known && strcmp(r->status, "succeeded") != 0)
        return 0; /* the service never came back: the RTO was not met */
    if (r->rto.met == 1 && r->rpo.met != 0)
        return r->rpo.met == 1 || isnan(r->rpo.target_s) ? 1 : -1;
    return -1;
}

static void pair(const dr_robj *o, char *out, size_t cap)
{
    char a[32], t[32];
    dr_fmt_dur(o->actual_s, a, sizeof(a));
    dr_fmt_dur(o->target_s, t, sizeof(t));
    snprintf(out, cap, "%s / %s", a, t);
}

/* Rows of the readable runs; records that cannot be read join the
 * unreadable list. */
static hrow *rows_of(dr_report_runs *runs, size_t *n)
{
    hrow *rows = runs->n ? dr_xcalloc(runs->n, sizeof(*rows)) : NULL;
    *n = 0;
    for (size_t i = 0; i < runs->n; i++) {
        dr_err e;
        dr_err_clear(&e);
        hrow *h = &rows[*n];
        if (dr_rrun_read(runs->v[i].record, &h->r, &e) != 0) {
            dr_rrun_free(&h->r);
            add_unreadable(runs, dr_xasprintf("%s: %s", runs->v[i].id, e.msg));
            continue;
        }
        h->met = overall_met(&h->r);
        dr_fmt_utc(h->r.started_at, h->date, sizeof(h->date));
        pair(&h->r.rto, h->rto, sizeof(h->rto));
        pair(&h->r.rpo, h->rpo, sizeof(h->rpo));
        (*n)++;
    }
    return rows;
}

static const char *met_yn(int met)
{
    return met == 1 ? "yes" : met == 0 ? "NO" : "-";
}

/* ---- text, Markdown, JSON ---------------------------------------------- */

static size_t width_of(const hrow *rows, size_t n, size_t off, size_t minw)
{
    size_t w = minw;
    for (size_t i = 0; i < n; i++) {
        const char *s = *(const char *const *)((const char *)&rows[i].r + off);
        if (strlen(s) > w)
            w = strlen(s);
    }
    return w > 48 ? 48 : w;
}

static void text_cell(dr_buf *out, const char *s, size_t w)
{
    dr_buf tmp = DR_BUF_INIT;
    dr_esc_text(&tmp, s);
    dr_buf_printf(out, "%-*.*s  ", (int)w, (int)w, dr_buf_cstr(&tmp));
    dr_buf_free(&tmp);
}

static void hist_text(const hrow *rows, size_t n, const dr_report_runs *runs, const char *dir,
                      dr_buf *out)
{
    if (n == 0) {
        dr_buf_printf(out, "no runs in %s\n", dir);
    } else {
        size_t wid = width_of(rows, n, offsetof(dr_rrun, run_id), 3);
        size_t wrb = width_of(rows, n, offsetof(dr_rrun, runbook), 7);
        size_t wtg = width_of(rows, n, offsetof(dr_rrun, target), 6);
        dr_buf_printf(out, "%-20s  %-*s  %-*s  %-*s  %-11s  %-21s  %-21s  %s\n", "DATE", (int)wid,
                      "RUN", (int)wrb, "RUNBOOK", (int)wtg, "TARGET", "STATUS", "RTO / TARGET",
                      "RPO / TARGET", "MET");
        for (size_t i = 0; i < n; i++) {
            const hrow *h = &rows[i];
            dr_buf_printf(out, "%-20s  ", h->date);
            text_cell(out, h->r.run_id, wid);
            text_cell(out, h->r.runbook, wrb);
            text_cell(out, h->r.target, wtg);
            dr_buf_printf(out, "%-11s  %-21s  %-21s  %s\n", h->r.status, h->rto, h->rpo,
                          met_yn(h->met));
        }
        size_t met = 0, missed = 0;
        for (size_t i = 0; i < n; i++) {
            met += rows[i].met == 1;
            missed += rows[i].met == 0;
        }
        dr_buf_printf(out, "%zu run%s: %zu met their objectives, %zu did not\n", n,
                      n == 1 ? "" : "s", met, missed);
    }
    for (size_t i = 0; i < runs->nunreadable; i++) {
        dr_buf_puts(out, "unreadable: ");
        dr_esc_text(out, runs->unreadable[i]);
        dr_buf_putc(out, '\n');
    }
}

static void hist_md(const hrow *rows, size_t n, const dr_report_runs *runs, const char *runbook,
                    dr_buf *out)
{
    dr_buf_puts(out, "# RTO/RPO history");
    if (runbook) {
        dr_buf_puts(out, ": ");
        dr_esc_md(out, runbook);
    }
    dr_buf_puts(out, "\n\n");
    if (n == 0) {
        dr_buf_puts(out, "No runs.\n");
    } else {
        dr_buf_puts(out, "| Date | Run | Runbook | Target | Status | RTO / target | RPO / target "
                         "| Met |\n|---|---|---|---|---|---:|---:|---|\n");
        for (size_t i = 0; i < n; i++) {
            const hrow *h = &rows[i];
            dr_buf_printf(out, "| %s | ", h->date);
            dr_esc_md(out, h->r.run_id);
            dr_buf_puts(out, " | ");
            dr_esc_md(out, h->r.runbook);
            dr_buf_puts(out, " | ");
            dr_esc_md(out, h->r.target);
            dr_buf_printf(out, " | %s | %s | %s | %s |\n", h->r.status, h->rto, h->rpo,
                          met_yn(h->met));
        }
    }
    if (runs->nunreadable) {
        dr_buf_puts(out, "\nRecords that could not be read:\n\n");
        for (size_t i = 0; i < runs->nunreadable; i++) {
            dr_buf_puts(out, "- ");
            dr_esc_md(out, runs->unreadable[i]);
            dr_buf_putc(out, '\n');
        }
    }
}

static json_t *jnum(double v)
{
    return isnan(v) ? json_null() : json_real(round(v * 1000) / 1000);
}

static json_t *jmet(int m)
{
    return m < 0 ? json_null() : json_boolean(m);
}

static void hist_json(const hrow *rows, size_t n, const dr_report_runs *runs, dr_buf *out)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const dr_rrun *r = &rows[i].r;
        json_array_append_new(
            arr,
            json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}, "
                      "s:o}",
                      "run_id", r->run_id, "runbook", r->runbook, "target", r->target, "status",
                      r->status, "started_at", jnum(r->started_at), "ended_at", jnum(r->ended_at),
                      "rto", "target_s", jnum(r->rto.target_s), "actual_s", jnum(r->rto.actual_s),
                      "met", jmet(r->rto.met), "rpo", "target_s", jnum(r->rpo.target_s), "actual_s",
                      jnum(r->rpo.actual_s), "met", jmet(r->rpo.met), "met", jmet(rows[i].met)));
    }
    json_t *bad = json_array();
    for (size_t i = 0; i < runs->nunreadable; i++)
        json_array_append_new(bad, json_string(runs->unreadable[i]));
    json_t *o = json_pack("{s:i, s:o, s:o}", "format", 1, "runs", arr, "unreadable", bad);
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    dr_buf_puts(out, s);
    dr_buf_putc(out, '\n');
    free(s);
    json_decref(o);
}

/* ---- HTML --------------------------------------------------------------- */

enum { TW = 1120, TX0 = 80, TPW = 1000, TY0 = 50, TPH = 260 };

#define C_RTO "#1c7ed6"
#define C_RPO "#0b7285"
#define C_RTO_T "#c92a2a"
#define C_RPO_T "#e8590c"

static double ty(double v, double ymax)
{
    return TY0 + TPH - v / ymax * TPH;
}

/* A path through the values, broken where a value is missing; targets
 * (step = 1) are drawn as a horizontal segment across each run's slot. */
static void series(dr_buf *out, const hrow *rows, size_t n, int rpo, int target, double ymax,
                   const char *color, const char *id)
{
    double slot = (double)TPW / (double)n;
    dr_buf b = DR_BUF_INIT;
    int pen = 0;
    for (size_t i = 0; i < n; i++) {
        const dr_robj *o = rpo ? &rows[i].r.rpo : &rows[i].r.rto;
        double v = target ? o->target_s : o->actual_s;
        if (isnan(v)) {
            pen = 0;
            continue;
        }
        double y = ty(v, ymax);
        if (target) {
            double xs = TX0 + (double)i * slot, xe = xs + slot;
            dr_buf_printf(&b, "%s %.1f %.1f H %.1f ", pen ? "L" : "M", xs, y, xe);
        } else {
            double x = TX0 + ((double)i + 0.5) * slot;
            dr_buf_printf(&b, "%s %.1f %.1f ", pen ? "L" : "M", x, y);
        }
        pen = 1;
    }
    if (b.len)
        dr_buf_printf(
            out, "<path id=\"%s\" d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
            id, dr_buf_cstr(&b), color, target ? " stroke-dasharray=\"6 4\"" : "");
    dr_buf_free(&b);
    if (target)
        return;
    for (size_t i = 0; i < n; i++) {
        const dr_robj *o = rpo ? &rows[i].r.rpo : &rows[i].r.rto;
        if (isnan(o->actual_s))
            continue;
        double x = TX0 + ((double)i + 0.5) * slot, y = ty(o->actual_s, ymax);
        const char *fill = o->met == 0 ? "#c92a2a" : color;
        char a[32], t[32];
        dr_fmt_dur(o->actual_s, a, sizeof(a));
        dr_fmt_dur(o->target_s, t, sizeof(t));
        if (rpo)
            dr_buf_printf(out,
                          "<rect class=\"rpo-pt\" x=\"%.1f\" y=\"%.1f\" width=\"9\" height=\"9\" "
                          "fill=\"%s\" stroke=\"#fff\" data-run=\"",
                          x - 4.5, y - 4.5, fill);
        else
            dr_buf_printf(out,
                          "<circle class=\"rto-pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\" "
                          "stroke=\"#fff\" data-run=\"",
                          x, y, fill);
        dr_esc_xml(out, rows[i].r.run_id);
        dr_buf_puts(out, "\"><title>");
        dr_esc_xml(out, rows[i].r.run_id);
        dr_buf_printf(out, ": %s %s of %s, %s</title></%s>\n", rpo ? "RPO" : "RTO", a, t,
                      dr_met_word(o->met), rpo ? "rect" : "circle");
    }
}

static void trend_svg(const hrow *rows, size_t n, dr_buf *out)
{
    double ymax = 0;
    for (size_t i = 0; i < n; i++) {
        const double v[4] = {rows[i].r.rto.actual_s, rows[i].r.rto.target_s, rows[i].r.rpo.actual_s,
                             rows[i].r.rpo.target_s};
        for (int k = 0; k < 4; k++)
            if (!isnan(v[k]) && v[k] > ymax)
                ymax = v[k];
    }
    if (ymax < 60)
        ymax = 60;
    double step = dr_nice_step(ymax * 1.1, 6);
    ymax = ceil(ymax * 1.1 / step) * step;
    int h = TY0 + TPH + 60;
    dr_buf_printf(out,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"trend\" width=\"%d\" "
                  "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" data-y-max=\"%.3f\">\n"
                  "<title>RTO and RPO per run against the targets</title>\n",
                  TW, h, TW, h, ymax);
    dr_buf_printf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#f8f9fa\"/>\n",
                  TX0, TY0, TPW, TPH);
    for (double v = 0; v <= ymax + 1e-9; v += step) {
        char lab[32];
        dr_fmt_tick(v, lab, sizeof(lab));
        double y = ty(v, ymax);
        dr_buf_printf(out,
                      "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#dee2e6\"/>\n"
                      "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\" "
                      "fill=\"#495057\">%s</text>\n",
                      TX0, y, TX0 + TPW, y, TX0 - 6, y + 4, lab);
    }
    double slot = (double)TPW / (double)n;
    size_t every = n / 12 + 1;
    for (size_t i = 0; i < n; i += every) {
        double x = TX0 + ((double)i + 0.5) * slot;
        dr_buf_printf(out,
                      "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\" "
                      "fill=\"#495057\">%.10s</text>\n",
                      x, TY0 + TPH + 16, rows[i].date);
    }
    /* Runs where the service never came back have no RTO point: a cross on
     * the axis says so. */
    for (size_t i = 0; i < n; i++) {
        const dr_rrun *r = &rows[i].r;
        if (!isnan(r->rto.actual_s) || r->rto_end_known)
            continue;
        dr_buf_printf(out,
                      "<text class=\"not-resumed\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" "
                      "font-size=\"14\" font-weight=\"700\" fill=\"#c92a2a\">&#215;<title>",
                      TX0 + ((double)i + 0.5) * slot, TY0 + TPH - 4);
        dr_esc_xml(out, r->run_id);
        dr_buf_printf(out, ": %s, service not resumed</title></text>\n", r->status);
    }
    series(out, rows, n, 0, 1, ymax, C_RTO_T, "rto-target");
    series(out, rows, n, 1, 1, ymax, C_RPO_T, "rpo-target");
    series(out, rows, n, 0, 0, ymax, C_RTO, "rto-actual");
    series(out, rows, n, 1, 0, ymax, C_RPO, "rpo-actual");
    static const struct {
        const char *label, *color;
        int dashed, square;
    } legend[] = {{"RTO actual", C_RTO, 0, 0},
                  {"RTO target", C_RTO_T, 1, 0},
                  {"RPO actual", C_RPO, 0, 1},
                  {"RPO target", C_RPO_T, 1, 0}};
    double lx = TX0;
    for (size_t i = 0; i < 4; i++) {
        dr_buf_printf(out,
                      "<line x1=\"%.0f\" y1=\"22\" x2=\"%.0f\" y2=\"22\" stroke=\"%s\" "
                      "stroke-width=\"2\"%s/>\n<text x=\"%.0f\" y=\"26\" font-size=\"11\" "
                      "fill=\"#495057\">%s</text>\n",
                      lx, lx + 24, legend[i].color,
                      legend[i].dashed ? " stroke-dasharray=\"6 4\"" : "", lx + 30,
                      legend[i].label);
        lx += 120;
    }
    dr_buf_printf(out,
                  "<text x=\"%.0f\" y=\"26\" font-size=\"11\" fill=\"#c92a2a\">red point: "
                  "target exceeded; &#215;: service not resumed</text>\n",
                  lx);
    dr_buf_puts(out, "</svg>\n");
}

static void hist_html(const hrow *rows, size_t n, const dr_report_runs *runs, const char *runbook,
                      dr_buf *out)
{
    dr_buf title = DR_BUF_INIT;
    dr_buf_printf(&title, "RTO/RPO history%s%s", runbook ? ": " : "", runbook ? runbook : "");
    dr_html_head(out, dr_buf_cstr(&title));
    dr_buf_puts(out, "<header>\n<h1>");
    dr_esc_xml(out, dr_buf_cstr(&title));
    dr_buf_puts(out, "</h1>\n<p class=\"sub\">");
    if (n) {
        size_t met = 0;
        for (size_t i = 0; i < n; i++)
            met += rows[i].met == 1;
        dr_buf_printf(out, "%zu run%s from %s to %s; %zu met their objectives", n,
                      n == 1 ? "" : "s", rows[0].date, rows[n - 1].date, met);
    } else {
        dr_buf_puts(out, "No runs yet.");
    }
    dr_buf_puts(out, "</p>\n</header>\n");
    if (n) {
        dr_buf_puts(out, "<section>\n<h2>Trend</h2>\n");
        trend_svg(rows, n, out);
        dr_buf_puts(out, "</section>\n<section>\n<h2>Runs</h2>\n<table id=\"runs\">\n"
                         "<tr><th>Date</th><th>Run</th><th>Runbook</th><th>Target</th>"
                         "<th>Status</th><th>RTO / target</th><th>RPO / target</th><th>Met</th>"
                         "</tr>\n");
        for (size_t i = 0; i < n; i++) {
            const hrow *h = &rows[i];
            dr_buf_printf(out, "<tr class=\"run\"><td>%s</td><td><code>", h->date);
            dr_esc_xml(out, h->r.run_id);
            dr_buf_puts(out, "</code></td><td>");
            dr_esc_xml(out, h->r.runbook);
            dr_buf_puts(out, "</td><td>");
            dr_esc_xml(out, h->r.target);
            dr_buf_printf(out,
                          "</td><td><span style=\"color:%s\">&#9632;</span> %s</td><td "
                          "class=\"n\">%s</td><td class=\"n\">%s</td><td>%s</td></tr>\n",
                          dr_status_color(h->r.status, 0), h->r.status, h->rto, h->rpo,
                          met_yn(h->met));
        }
        dr_buf_puts(out, "</table>\n</section>\n");
    }
    if (runs->nunreadable) {
        dr_buf_puts(out, "<section>\n<h2>Records that could not be read</h2>\n<ul>\n");
        for (size_t i = 0; i < runs->nunreadable; i++) {
            dr_buf_puts(out, "<li>");
            dr_esc_xml(out, runs->unreadable[i]);
            dr_buf_puts(out, "</li>\n");
        }
        dr_buf_puts(out, "</ul>\n</section>\n");
    }
    dr_buf_puts(out, "</body>\n</html>\n");
    dr_buf_free(&title);
}

/* ---- entry points ------------------------------------------------------- */

int dr_report_history_of(const char *runs_dir, const char *runbook, const char *format, dr_buf *out,
                         dr_err *err)
{
    if (!format || (strcmp(format, "json") && strcmp(format, "md") && strcmp(format, "html") &&
                    strcmp(format, "text")))
        return dr_err_set(err, DR_E_USAGE, "unknown report format '%s' (text, md, json, html)",
                          format ? format : "");
    dr_report_runs runs;
    if (dr_report_runs_load(runs_dir, runbook, &runs, err) != 0)
        return -1;
    size_t n = 0;
    hrow *rows = rows_of(&runs, &n);
    if (strcmp(format, "json") == 0)
        hist_json(rows, n, &runs, out);
    else if (strcmp(format, "md") == 0)
        hist_md(rows, n, &runs, runbook, out);
    else if (strcmp(format, "html") == 0)
        hist_html(rows, n, &runs, runbook, out);
    else
        hist_text(rows, n, &runs, runs_dir, out);
    for (size_t i = 0; i < n; i++)
        dr_rrun_free(&rows[i].r);
    free(rows);
    dr_report_runs_free(&runs);
    return 0;
}

int dr_report_history(const char *runs_dir, const char *format, dr_buf *out, dr_err *err)
{
    return dr_report_history_of(runs_dir, NULL, format, out, err);
}
