/*
 * report_html.c - the self-contained HTML report of one run: status badges,
 * the RTO/RPO figures, an SVG timeline (one bar per step against the RTO
 * budget), the steps table and the errors.
 *
 * The page is XHTML-compatible (every element closed, every attribute
 * quoted, no named entity but the five of XML) so that an XML parser reads
 * it, and references nothing outside itself: inline CSS, no script, no
 * font, no image; the only URI in it is the SVG namespace name.
 *
 * Timeline geometry: the plot runs from PLOT_X0 to PLOT_X0 + PLOT_W; time 0
 * is the RTO start; the axis ends at max(RTO target, RTO actual, last step
 * end) * 1.05 and starts at 0, or before 0 for the RPO bar (recovery point
 * to service resume) when that fits in twice the positive part; otherwise
 * the RPO is given as text. The root <svg> carries data-axis-min,
 * data-axis-max, data-plot-x0 and data-plot-width, and each step bar
 * data-step, data-start and data-duration (seconds), so that tests can check
 * positions without knowing these constants. Bars are at least MIN_BAR_W
 * wide so that a one-second step stays visible.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/report_int.h"

#ifndef DRCTL_VERSION
#define DRCTL_VERSION "dev"
#endif

enum {
    SVG_W = 1120,
    PLOT_X0 = 330,
    PLOT_W = 720,
    TOP = 54,
    ROW_H = 26,
    BAR_H = 16,
    MIN_BAR_W = 3,
    LABEL_CHARS = 42
};

#define RPO_COLOR "#0b7285"
/* The plot's background: a colour used nowhere else on the page, so that a
 * screenshot test can find the plot. */
#define PLOT_BG "#f3f5fb"
/* Labels over the plot get a halo of the background so lines do not cross them. */
#define HALO "stroke=\"" PLOT_BG "\" stroke-width=\"3\" paint-order=\"stroke\" "

const char *dr_status_color(const char *status, int open)
{
    if (open)
        return "#1c7ed6";
    if (strcmp(status, "succeeded") == 0)
        return "#2f9e44";
    if (strcmp(status, "failed") == 0)
        return "#e03131";
    if (strcmp(status, "continued") == 0)
        return "#f08c00";
    if (strcmp(status, "rolled-back") == 0)
        return "#9c36b5";
    if (strcmp(status, "skipped") == 0)
        return "#adb5bd";
    if (strcmp(status, "pending") == 0 || strcmp(status, "running") == 0)
        return "#1c7ed6";
    return "#868e96";
}

double dr_nice_step(double span, int want)
{
    static const double steps[] = {1,     2,     5,     10,    15,     30,    60,
                                   120,   300,   600,   900,   1800,   3600,  7200,
                                   10800, 21600, 43200, 86400, 172800, 604800};
    if (!(span > 0))
        return 1;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if (span / steps[i] <= want)
            return steps[i];
    return steps[sizeof(steps) / sizeof(steps[0]) - 1];
}

void dr_fmt_tick(double s, char *out, size_t cap)
{
    long long t = llround(s);
    const char *sign = t < 0 ? "-" : "";
    if (t < 0)
        t = -t;
    if (t == 0)
        snprintf(out, cap, "0");
    else if (t < 60)
        snprintf(out, cap, "%s%llds", sign, t);
    else if (t < 3600 && t % 60 == 0)
        snprintf(out, cap, "%s%lldm", sign, t / 60);
    else if (t < 3600)
        snprintf(out, cap, "%s%lldm%02llds", sign, t / 60, t % 60);
    else if (t % 3600 == 0)
        snprintf(out, cap, "%s%lldh", sign, t / 3600);
    else
        snprintf(out, cap, "%s%lldh%02lldm", sign, t / 3600, t % 3600 / 60);
}

static const char CSS[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"
    "margin:20px 28px;color:#212529;background:#fff}"
    "h1{font-size:22px;margin:0 0 4px}"
    "h2{font-size:16px;margin:18px 0 6px;border-bottom:1px solid #dee2e6;padding-bottom:3px}"
    ".sub{color:#495057;margin:0 0 8px;font-size:13px}"
    "code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}"
    ".badge{display:inline-block;padding:2px 9px;border-radius:10px;font-size:12px;"
    "font-weight:600;margin-right:6px;color:#fff;background:#495057}"
    ".b-succeeded,.b-met{background:#2b8a3e}"
    ".b-failed,.b-exceeded{background:#c92a2a}"
    ".b-interrupted{background:#e67700}"
    ".b-unknown{background:#868e96}"
    ".figs{display:flex;gap:14px;flex-wrap:wrap;margin:10px 0 0}"
    ".fig{border:1px solid #dee2e6;border-radius:6px;padding:6px 12px;min-width:150px}"
    ".fig .k{font-size:11px;color:#868e96;text-transform:uppercase;letter-spacing:.05em}"
    ".fig .v{font-size:20px;font-weight:600}"
    ".fig .t{font-size:12px;color:#495057}"
    ".fig.bad .v{color:#c92a2a}"
    "table{border-collapse:collapse;font-size:13px}"
    "th,td{border-bottom:1px solid #e9ecef;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f8f9fa}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".err{color:#c92a2a;white-space:pre-wrap;font-family:ui-monospace,Menlo,Consolas,monospace;"
    "font-size:12px}"
    "svg text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}"
    "footer{margin-top:22px;color:#adb5bd;font-size:11px}";

void dr_html_head(dr_buf *out, const char *title)
{
    dr_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
                     "<title>");
    dr_esc_xml(out, title);
    dr_buf_printf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n", CSS);
}

/* ---- the timeline ------------------------------------------------------- */

typedef struct axis {
    double amin, amax;
} axis;

static double ax_x(const axis *a, double t)
{
    return PLOT_X0 + (t - a->amin) / (a->amax - a->amin) * PLOT_W;
}

static void svg_text(dr_buf *out, double x, double y, const char *anchor, const char *style,
                     const char *text)
{
    dr_buf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" %s>", x, y, anchor, style);
    dr_esc_xml(out, text);
    dr_buf_puts(out, "</text>\n");
}

/* A bar's label: right of the bar, else inside it (white) when it is wide
 * enough, else left of it; never outside the plot. */
static void label_bar(dr_buf *out, double xa, double w, double y, const char *text,
                      const char *color)
{
    double need = 6.5 * (double)strlen(text) + 10;
    char style[160];
    snprintf(style, sizeof(style), HALO "font-size=\"11\" fill=\"%s\"", color);
    if (xa + w + need < PLOT_X0 + PLOT_W)
        svg_text(out, xa + w + 5, y + 13, "start", style, text);
    else if (w >= need)
        svg_text(out, xa + 6, y + 13, "start", "font-size=\"11\" fill=\"#ffffff\"", text);
    else
        svg_text(out, xa - 5 > PLOT_X0 + need ? xa - 5 : PLOT_X0 + need, y + 13, "end", style,
                 text);
}

/* The anchor of a label at x above the plot: kept inside the picture. */
static const char *anchor_at(double x)
{
    return x > PLOT_X0 + PLOT_W - 70 ? "end" : x < PLOT_X0 + 70 ? "start" : "middle";
}

static void timeline(const dr_rrun *r, dr_buf *out)
{
    /* The axis. */
    double actual = !isnan(r->rto.actual_s) ? r->rto.actual_s : r->window;
    double hi = actual;
    if (!isnan(r->rto.target_s) && r->rto.target_s > hi)
        hi = r->rto.target_s;
    double lo = 0;
    for (size_t i = 0; i < r->n; i++) {
        const dr_rstep *st = &r->steps[i];
        if (!st->timed)
            continue;
        if (st->offset + st->dur > hi)
            hi = st->offset + st->dur;
        if (st->offset < lo)
            lo = st->offset;
    }
    if (!(hi > 0))
        hi = 60;
    hi *= 1.05;
    /* The RPO bar: recovery point .. service resume (else the RTO end). */
    double rp = isnan(r->recovery_point) ? NAN : r->recovery_point - r->t0;
    double rs = !isnan(r->service_resumed_at) ? r->service_resumed_at - r->t0
                : r->rto_end_known            ? r->rto_end - r->t0
                                              : NAN;
    if (isnan(rs) && !isnan(rp))
        rs = r->window;
    int rpo_bar = !isnan(rp) && rp > -2 * hi && rp < hi;
    if (rpo_bar && rp < lo)
        lo = rp;
    if (lo < 0)
        lo -= 0.03 * (hi - lo);
    axis a = {lo, hi};
    int show_rpo_row = !isnan(rp) || !isnan(r->rpo.actual_s) || !isnan(r->rpo.target_s);
    size_t rows = r->n + (show_rpo_row ? 1 : 0);
    double axis_y = TOP + (double)rows * ROW_H + 6;
    double height = axis_y + 62;

    dr_buf_printf(out,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline\" width=\"%d\" "
                  "height=\"%.0f\" viewBox=\"0 0 %d %.0f\" role=\"img\" "
                  "data-axis-min=\"%.3f\" data-axis-max=\"%.3f\" data-plot-x0=\"%d\" "
                  "data-plot-width=\"%d\">\n",
                  SVG_W, height, SVG_W, height, a.amin, a.amax, PLOT_X0, PLOT_W);
    dr_buf_puts(out, "<title>Timeline of the run's steps against the RTO target</title>\n");
    dr_buf_printf(out,
                  "<rect id=\"plot\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%.0f\" "
                  "fill=\"" PLOT_BG "\"/>\n",
                  PLOT_X0, TOP - 6, PLOT_W, axis_y - TOP + 6);

    /* Ticks and grid. */
    double step = dr_nice_step(a.amax - a.amin, 9);
    for (double t = ceil(a.amin / step) * step; t <= a.amax + 1e-9; t += step) {
        double x = ax_x(&a, t);
        char lab[32];
        dr_fmt_tick(t, lab, sizeof(lab));
        dr_buf_printf(out,
                      "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" "
                      "stroke=\"#dee2e6\" stroke-width=\"1\"/>\n",
                      x, TOP - 6, x, axis_y + 4);
        svg_text(out, x, axis_y + 17, "middle", "font-size=\"11\" fill=\"#495057\"", lab);
    }
    dr_buf_printf(out,
                  "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#495057\" "
                  "stroke-width=\"1\"/>\n",
                  PLOT_X0, axis_y, PLOT_X0 + PLOT_W, axis_y);
    svg_text(out, PLOT_X0 + PLOT_W / 2.0, axis_y + 33, "middle",
             "font-size=\"11\" fill=\"#868e96\"", "time from the RTO start");
    /* Time zero. */
    double x0 = ax_x(&a, 0);
    dr_buf_printf(out,
                  "<line id=\"t-zero\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" "
                  "stroke=\"#495057\" stroke-width=\"1\"/>\n",
                  x0, TOP - 6, x0, axis_y);

    size_t row = 0;
    if (show_rpo_row) {
        double y = TOP + (double)row * ROW_H;
        char a1[32], t1[32], line[160];
        dr_fmt_dur(r->rpo.actual_s, a1, sizeof(a1));
        dr_fmt_dur(r->rpo.target_s, t1, sizeof(t1));
        svg_text(out, 8, y + 13, "start", "font-size=\"12\" font-weight=\"600\" fill=\"#0b7285\"",
                 "RPO: data since the recovery point");
        if (rpo_bar) {
            double xa = ax_x(&a, rp), xb = ax_x(&a, rs > rp ? rs : rp);
            double w = xb - xa < MIN_BAR_W ? MIN_BAR_W : xb - xa;
            dr_buf_printf(out,
                          "<rect id=\"rpo-bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                          "height=\"%d\" fill=\"%s\" shape-rendering=\"crispEdges\" "
                          "data-start=\"%.3f\" data-end=\"%.3f\">"
                          "<title>RPO %s (target %s): recovery point to service resume</title>"
                          "</rect>\n",
                          xa, y + (ROW_H - BAR_H) / 2.0, w, BAR_H, RPO_COLOR, rp, rs, a1, t1);
            snprintf(line, sizeof(line), "RPO %s of %s", a1, isnan(r->rpo.target_s) ? "-" : t1);
            label_bar(out, xa, w, y, line, "#0b7285");
        } else {
            char rpt[40];
            dr_fmt_utc(r->recovery_point, rpt, sizeof(rpt));
            if (isnan(rp))
                snprintf(line, sizeof(line), "RPO %s of %s (no recovery point recorded)", a1, t1);
            else
                snprintf(line, sizeof(line), "RPO %s of %s: recovery point %s, off this scale", a1,
                         t1, rpt);
            svg_text(out, PLOT_X0 + 6, y + 13, "start",
                     "id=\"rpo-text\" font-size=\"11\" fill=\"#0b7285\"", line);
        }
        row++;
    }

    for (size_t i = 0; i < r->n; i++, row++) {
        const dr_rstep *st = &r->steps[i];
        double y = TOP + (double)row * ROW_H;
        char lab[24];
        snprintf(lab, sizeof(lab), "%d. ", st->index + 1);
        dr_buf_printf(out, "<text x=\"8\" y=\"%.1f\" font-size=\"12\" fill=\"%s\">%s", y + 13,
                      st->finally ? "#868e96" : "#212529", lab);
        dr_esc_xml_cut(out, st->name, LABEL_CHARS);
        dr_buf_puts(out, st->finally ? " (finally)" : "");
        dr_buf_puts(out, "<title>");
        dr_esc_xml(out, st->name);
        dr_buf_puts(out, "</title></text>\n");
        if (!st->timed) {
            svg_text(out, PLOT_X0 + 6, y + 13, "start",
                     "class=\"not-run\" font-size=\"11\" font-style=\"italic\" fill=\"#868e96\"",
                     strcmp(st->status, "pending") == 0 ? "pending: not run" : st->status);
            continue;
        }
        double xa = ax_x(&a, st->offset);
        double w = st->dur / (a.amax - a.amin) * PLOT_W;
        if (w < MIN_BAR_W)
            w = MIN_BAR_W;
        char d[32];
        dr_fmt_dur(st->dur, d, sizeof(d));
        dr_buf_printf(out,
                      "<rect class=\"bar st-%s%s\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
                      "height=\"%d\" fill=\"%s\" shape-rendering=\"crispEdges\"%s data-step=\"%d\" "
                      "data-start=\"%.3f\" "
                      "data-duration=\"%.3f\"><title>",
                      st->status, st->open ? " open" : "", xa, y + (ROW_H - BAR_H) / 2.0, w, BAR_H,
                      dr_status_color(st->status, st->open),
                      st->resumed || st->open
                          ? " stroke=\"#343a40\" stroke-width=\"1\" stroke-dasharray=\"3 2\""
                          : "",
                      st->index, st->offset, st->dur);
        dr_esc_xml(out, st->name);
        dr_buf_printf(out, ": %s, %s</title></rect>\n", st->status, d);
        char note[96];
        int plain = strcmp(st->status, "succeeded") == 0 || st->open;
        snprintf(note, sizeof(note), "%s%s%s%s%s", d, st->resumed ? " (resumed)" : "",
                 st->open ? " (running at the end)" : "", plain ? "" : " ",
                 plain ? "" : st->status);
        label_bar(out, xa, w, y, note, "#495057");
    }

    /* The budget line and the RTO end. */
    if (!isnan(r->rto.target_s)) {
        double x = ax_x(&a, r->rto.target_s);
        char t[32], lab[64];
        dr_fmt_dur(r->rto.target_s, t, sizeof(t));
        snprintf(lab, sizeof(lab), "RTO target %s", t);
        dr_buf_printf(out,
                      "<line id=\"rto-target\" class=\"budget\" x1=\"%.2f\" y1=\"%d\" "
                      "x2=\"%.2f\" y2=\"%.1f\" stroke=\"#c92a2a\" stroke-width=\"2\" "
                      "stroke-dasharray=\"6 4\" data-target=\"%.3f\"/>\n",
                      x, TOP - 28, x, axis_y, r->rto.target_s);
        svg_text(out, x, TOP - 32, anchor_at(x),
                 "font-size=\"11\" font-weight=\"600\" fill=\"#c92a2a\"", lab);
    }
    if (r->rto_end_known) {
        double e = r->rto_end - r->t0;
        double x = ax_x(&a, e);
        char t[32], lab[64];
        dr_fmt_dur(e, t, sizeof(t));
        snprintf(lab, sizeof(lab), "service resumed +%s", t);
        dr_buf_printf(out,
                      "<line id=\"rto-end\" x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%.1f\" "
                      "stroke=\"#212529\" stroke-width=\"2\" data-end=\"%.3f\"/>\n"
                      "<path d=\"M %.2f %d l -5 -8 l 10 0 z\" fill=\"#212529\"/>\n",
                      x, TOP - 6, x, axis_y, e, x, TOP - 6);
        svg_text(out, x, TOP - 16, anchor_at(x),
                 "font-size=\"11\" font-weight=\"600\" fill=\"#212529\"", lab);
    }

    /* The legend. */
    static const char *const legend[] = {"succeeded",   "failed",  "continued",
                                         "rolled-back", "skipped", "pending"};
    double lx = 8, ly = axis_y + 44;
    for (size_t i = 0; i < sizeof(legend) / sizeof(legend[0]); i++) {
        dr_buf_printf(out,
                      "<rect class=\"legend\" x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"10\" "
                      "fill=\"%s\"/>\n",
                      lx, ly, dr_status_color(legend[i], 0));
        svg_text(out, lx + 14, ly + 9, "start", "font-size=\"11\" fill=\"#495057\"",
                 strcmp(legend[i], "pending") == 0 ? "running / pending" : legend[i]);
        lx += strcmp(legend[i], "pending") ? 100 : 150;
    }
    dr_buf_puts(out, "</svg>\n");
}

/* ---- the page ----------------------------------------------------------- */

static const char *badge_class(const char *status)
{
    if (strcmp(status, "succeeded") == 0)
        return "b-succeeded";
    if (strcmp(status, "failed") == 0)
        return "b-failed";
    if (strcmp(status, "interrupted") == 0)
        return "b-interrupted";
    return "b-unknown";
}

static void fig(dr_buf *out, const char *what, const dr_robj *o, const char *word)
{
    char a[32], t[32];
    dr_fmt_dur(o->actual_s, a, sizeof(a));
    dr_fmt_dur(o->target_s, t, sizeof(t));
    dr_buf_printf(out,
                  "<div class=\"fig%s\"><div class=\"k\">%s</div><div class=\"v\">%s</div>"
                  "<div class=\"t\">target %s &#183; %s</div></div>\n",
                  o->met == 0 ? " bad" : "", what, a, isnan(o->target_s) ? "none" : t, word);
}

static void fig_text(dr_buf *out, const char *k, const char *v, const char *t)
{
    dr_buf_printf(out, "<div class=\"fig\"><div class=\"k\">%s</div><div class=\"v\">", k);
    dr_esc_xml(out, v);
    dr_buf_puts(out, "</div><div class=\"t\">");
    dr_esc_xml(out, t);
    dr_buf_puts(out, "</div></div>\n");
}

void dr_render_html(const dr_rrun *r, dr_buf *out)
{
    dr_buf title = DR_BUF_INIT;
    dr_buf_printf(&title, "%s%s%s: %s", r->runbook, *r->target ? " to " : "", r->target, r->run_id);
    dr_html_head(out, dr_buf_cstr(&title));
    dr_buf_puts(out, "<header>\n<h1>");
    dr_esc_xml(out, r->runbook);
    if (*r->target) {
        dr_buf_puts(out, " to ");
        dr_esc_xml(out, r->target);
    }
    dr_buf_puts(out, "</h1>\n<p class=\"sub\">run <code>");
    dr_esc_xml(out, r->run_id);
    dr_buf_puts(out, "</code>");
    if (*r->runbook_file) {
        dr_buf_puts(out, " &#183; runbook <code>");
        dr_esc_xml(out, r->runbook_file);
        dr_buf_puts(out, "</code>");
    }
    if (*r->description) {
        dr_buf_puts(out, " &#183; ");
        dr_esc_xml(out, r->description);
    }
    dr_buf_puts(out, "</p>\n<p>");
    dr_buf_printf(out, "<span class=\"badge %s\" id=\"status\">", badge_class(r->status));
    dr_esc_xml(out, r->status);
    dr_buf_puts(out, "</span>");
    const dr_robj *objs[2] = {&r->rto, &r->rpo};
    const char *names[2] = {"RTO", "RPO"};
    for (int i = 0; i < 2; i++) {
        int met = objs[i]->met;
        const char *word = i == 0 ? dr_rto_word(r) : dr_met_word(met);
        dr_buf_printf(out, "<span class=\"badge %s\">%s %s</span>",
                      met == 1   ? "b-met"
                      : met == 0 ? "b-exceeded"
                                 : "b-unknown",
                      names[i], word);
    }
    dr_buf_puts(out, "</p>\n</header>\n<section class=\"figs\">\n");
    fig(out, "RTO", &r->rto, dr_rto_word(r));
    fig(out, "RPO", &r->rpo, dr_met_word(r->rpo.met));
    char s[40], e[40];
    dr_fmt_utc(r->started_at, s, sizeof(s));
    dr_fmt_utc(r->ended_at, e, sizeof(e));
    char ended[64];
    snprintf(ended, sizeof(ended), "%s%s", e[0] == '-' ? "not ended" : "ended ",
             e[0] == '-' ? "" : e);
    fig_text(out, "Started", s, ended);
    if (!isnan(r->recovery_point)) {
        char rp[40];
        dr_fmt_utc(r->recovery_point, rp, sizeof(rp));
        fig_text(out, "Recovery point", rp, "the data restored is from then");
    }
    if (r->resumed_from && json_array_size(r->resumed_from)) {
        dr_buf b = DR_BUF_INIT;
        for (size_t i = 0; i < json_array_size(r->resumed_from); i++) {
            const char *id = json_string_value(json_array_get(r->resumed_from, i));
            dr_buf_printf(&b, "%s%s", i ? ", " : "", id ? id : "?");
        }
        fig_text(out, "Resumed from", dr_buf_cstr(&b), "steps done there were not repeated");
        dr_buf_free(&b);
    }
    dr_buf_puts(out, "</section>\n<section>\n<h2>Timeline</h2>\n");
    timeline(r, out);
    dr_buf_puts(out, "</section>\n<section>\n<h2>Steps</h2>\n<table id=\"steps\">\n"
                     "<tr><th>#</th><th>Step</th><th>Action</th><th>Status</th><th>Start</th>"
                     "<th>Duration</th><th>Share of RTO</th><th>Attempts</th><th>Resumed</th>"
                     "</tr>\n");
    for (size_t i = 0; i < r->n; i++) {
        const dr_rstep *st = &r->steps[i];
        char off[32] = "-", d[32] = "-", sh[16] = "-";
        if (st->timed) {
            dr_fmt_dur(st->offset, off, sizeof(off));
            dr_fmt_dur(st->dur, d, sizeof(d));
        }
        if (!isnan(st->share))
            snprintf(sh, sizeof(sh), "%.1f %%", st->share);
        else if (st->finally)
            snprintf(sh, sizeof(sh), "finally");
        dr_buf_printf(out, "<tr class=\"step\"><td class=\"n\">%d</td><td>", st->index + 1);
        dr_esc_xml(out, st->name);
        dr_buf_puts(out, "</td><td><code>");
        dr_esc_xml(out, st->action);
        dr_buf_printf(out, "</code></td><td><span style=\"color:%s\">&#9632;</span> ",
                      dr_status_color(st->status, st->open));
        dr_esc_xml(out, st->status);
        dr_buf_printf(out,
                      "%s</td><td class=\"n\">%s%s</td><td class=\"n\">%s</td><td "
                      "class=\"n\">%s</td><td class=\"n\">%d</td><td>%s</td></tr>\n",
                      st->open ? " (running at the end)" : "",
                      st->timed && st->offset >= 0 ? "+" : "", off, d, sh, st->attempts,
                      st->resumed ? "yes" : "no");
    }
    dr_buf_puts(out, "</table>\n");
    if (r->window > 0)
        dr_buf_printf(out,
                      "<p class=\"sub\">Steps cover %.1f %% of the RTO window; %.1f %% is "
                      "between steps.</p>\n",
                      r->share_sum, r->unaccounted);
    dr_buf_puts(out, "</section>\n");
    int nerr = 0;
    for (size_t i = 0; i < r->n; i++)
        nerr += r->steps[i].error != NULL;
    if (nerr) {
        dr_buf_puts(out, "<section>\n<h2>Errors</h2>\n<ul id=\"errors\">\n");
        for (size_t i = 0; i < r->n; i++) {
            const dr_rstep *st = &r->steps[i];
            if (!st->error)
                continue;
            dr_buf_printf(out, "<li>step %d, ", st->index + 1);
            dr_esc_xml(out, st->name);
            dr_buf_puts(out, ":<div class=\"err\">");
            dr_esc_xml(out, st->error);
            dr_buf_puts(out, "</div></li>\n");
        }
        dr_buf_puts(out, "</ul>\n</section>\n");
    }
    dr_buf_puts(out, "<footer>drctl " DRCTL_VERSION " &#183; RTO/RPO report of run ");
    dr_esc_xml(out, r->run_id);
    dr_buf_puts(out, "</footer>\n</body>\n</html>\n");
    dr_buf_free(&title);
}
