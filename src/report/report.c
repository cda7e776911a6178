/*
 * report.c - reading a run record, the derived RTO figures, the text, Markdown
 * and JSON renderings, and writing the report files of a run.
 *
 * The HTML page is report_html.c, the history over many runs
 * report_history.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "report/report.h"
#include "report/report_int.h"
#include "util/mem.h"

/* ---- reading ------------------------------------------------------------ */

static const char *str_or(const json_t *o, const char *k, const char *dflt)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : dflt;
}

static double num_or_nan(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int bool3(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_boolean(v) ? (json_is_true(v) ? 1 : 0) : -1;
}

/* A status as the engine writes it (lower case letters and '-'), else
 * "other": renderers put it into class names and terminal lines as is. */
static const char *status_word(const char *s)
{
    if (!*s || strlen(s) > 20 || strspn(s, "abcdefghijklmnopqrstuvwxyz-") != strlen(s))
        return "other";
    return s;
}

static void read_obj(const json_t *o, dr_robj *out)
{
    out->target_s = num_or_nan(o, "target_s");
    out->actual_s = num_or_nan(o, "actual_s");
    out->met = bool3(o, "met");
}

int dr_rrun_read(const json_t *rec, dr_rrun *r, dr_err *err)
{
    memset(r, 0, sizeof(*r));
    if (!json_is_object(rec))
        return dr_err_set(err, DR_E_IO, "run record: not a JSON object");
    json_t *fmt = json_object_get(rec, "format");
    if (fmt && (!json_is_integer(fmt) || json_integer_value(fmt) != 1))
        return dr_err_set(err, DR_E_IO, "run record: unknown format (this drctl reads format 1)");
    r->run_id = json_string_value(json_object_get(rec, "run_id"));
    if (!r->run_id || !*r->run_id)
        return dr_err_set(err, DR_E_IO, "run record: no run_id");
    json_t *steps = json_object_get(rec, "steps");
    if (steps && !json_is_array(steps))
        return dr_err_set(err, DR_E_IO, "run record %s: steps is not an array", r->run_id);
    r->runbook = str_or(rec, "runbook", "?");
    r->runbook_file = str_or(rec, "runbook_file", "");
    r->description = str_or(rec, "description", "");
    r->status = status_word(str_or(rec, "status", "unknown"));
    r->vars = json_object_get(rec, "vars");
    if (!json_is_object(r->vars))
        r->vars = NULL;
    r->target = str_or(rec, "target", r->vars ? str_or(r->vars, "target", "") : "");
    r->resumed_from = json_object_get(rec, "resumed_from");
    if (!json_is_array(r->resumed_from))
        r->resumed_from = NULL;
    r->started_at = num_or_nan(rec, "started_at");
    r->declared_at = num_or_nan(rec, "declared_at");
    r->ended_at = num_or_nan(rec, "ended_at");
    json_t *ec = json_object_get(rec, "exit_code");
    r->exit_code = json_is_integer(ec) ? (int)json_integer_value(ec) : -1;

    json_t *rto = json_object_get(rec, "rto");
    json_t *rpo = json_object_get(rec, "rpo");
    read_obj(rto, &r->rto);
    read_obj(rpo, &r->rpo);
    r->recovery_point = num_or_nan(rpo, "recovery_point");
    r->service_resumed_at = num_or_nan(rpo, "service_resumed_at");

    r->n = json_array_size(steps);
    r->steps = r->n ? dr_xcalloc(r->n, sizeof(*r->steps)) : NULL;
    double last_end = NAN, first_start = NAN;
    for (size_t i = 0; i < r->n; i++) {
        json_t *s = json_array_get(steps, i);
        dr_rstep *st = &r->steps[i];
        json_t *ix = json_object_get(s, "index");
        st->index = json_is_integer(ix) ? (int)json_integer_value(ix) : (int)i;
        st->name = str_or(s, "name", "");
        st->action = str_or(s, "action", "");
        st->status = status_word(str_or(s, "status", "pending"));
        st->error = json_string_value(json_object_get(s, "error"));
        json_t *at = json_object_get(s, "attempts");
        st->attempts = json_is_integer(at) ? (int)json_integer_value(at) : 0;
        st->resumed = json_is_true(json_object_get(s, "resumed"));
        st->finally = json_is_true(json_object_get(s, "finally"));
        st->detail = json_object_get(s, "detail");
        if (json_is_null(st->detail))
            st->detail = NULL;
        st->start = num_or_nan(s, "started_at");
        st->end = num_or_nan(s, "ended_at");
        st->timed = !isnan(st->start);
        if (st->timed && isnan(st->end)) {
            st->open = 1; /* running when the run ended */
            st->end = !isnan(r->ended_at) && r->ended_at > st->start ? r->ended_at : st->start;
        }
        if (st->timed) {
            if (st->end < st->start)
                st->end = st->start;
            if (isnan(last_end) || st->end > last_end)
                last_end = st->end;
            if (isnan(first_start) || st->start < first_start)
                first_start = st->start;
        }
    }

    /* The RTO window. */
    double t0 = num_or_nan(rto, "start");
    if (isnan(t0))
        t0 = r->started_at;
    if (isnan(t0))
        t0 = isnan(first_start) ? 0 : first_start;
    r->t0 = t0;
    double t1 = num_or_nan(rto, "end");
    r->rto_end_known = !isnan(t1);
    if (r->rto_end_known)
        r->rto_end = t1;
    if (isnan(t1) && !isnan(r->rto.actual_s))
        t1 = t0 + r->rto.actual_s;
    if (isnan(t1))
        t1 = r->ended_at;
    if (isnan(t1))
        t1 = isnan(last_end) ? t0 : last_end;
    r->window = t1 > t0 ? t1 - t0 : 0;

    /* Offsets and shares; the unaccounted part is the window minus the union
     * of the counted steps' intervals (steps may overlap). */
    double covered = 0, cov_hi = t0;
    for (size_t i = 0; i < r->n; i++) {
        dr_rstep *st = &r->steps[i];
        st->share = NAN;
        if (!st->timed)
            continue;
        st->offset = st->start - t0;
        st->dur = st->end - st->start;
        if (st->finally)
            continue;
        double lo = st->start > t0 ? st->start : t0;
        double hi = st->end < t1 ? st->end : t1;
        double in = hi > lo ? hi - lo : 0;
        st->share = r->window > 0 ? in / r->window * 100.0 : 0;
        r->share_sum += st->share;
    }
    /* Union of intervals: steps are in start order in practice; sort-free
     * sweep over a copy ordered by start. */
    size_t nt = 0;
    double(*iv)[2] = r->n ? dr_xcalloc(r->n, sizeof(*iv)) : NULL;
    for (size_t i = 0; i < r->n; i++) {
        const dr_rstep *st = &r->steps[i];
        if (!st->timed || st->finally)
            continue;
        double lo = st->start > t0 ? st->start : t0;
        double hi = st->end < t1 ? st->end : t1;
        if (hi <= lo)
            continue;
        size_t j = nt++;
        while (j > 0 && iv[j - 1][0] > lo) {
            iv[j][0] = iv[j - 1][0];
            iv[j][1] = iv[j - 1][1];
            j--;
        }
        iv[j][0] = lo;
        iv[j][1] = hi;
    }
    for (size_t i = 0; i < nt; i++) {
        double lo = iv[i][0] > cov_hi ? iv[i][0] : cov_hi;
        if (iv[i][1] > lo)
            covered += iv[i][1] - lo;
        if (iv[i][1] > cov_hi)
            cov_hi = iv[i][1];
    }
    free(iv);
    r->unaccounted = r->window > 0 ? (r->window - covered) / r->window * 100.0 : 0;
    if (r->unaccounted < 0)
        r->unaccounted = 0;
    return 0;
}

void dr_rrun_free(dr_rrun *r)
{
    free(r->steps);
    memset(r, 0, sizeof(*r));
}

/* ---- formatting helpers ------------------------------------------------- */

void dr_fmt_dur(double s, char *out, size_t cap)
{
    if (isnan(s)) {
        snprintf(out, cap, "-");
        return;
    }
    const char *sign = s < 0 ? "-" : "";
    s = fabs(s);
    if (s < 60) {
        snprintf(out, cap, "%s%.1fs", sign, s);
        return;
    }
    long long t = llround(s);
    if (t < 3600)
        snprintf(out, cap, "%s%lldm%02llds", sign, t / 60, t % 60);
    else
        snprintf(out, cap, "%s%lldh%02lldm%02llds", sign, t / 3600, t % 3600 / 60, t % 60);
}

void dr_fmt_utc(double t, char *out, size_t cap)
{
    if (isnan(t)) {
        snprintf(out, cap, "-");
        return;
    }
    time_t tt = (time_t)floor(t);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M:%SZ", &tm);
}

const char *dr_met_word(int met)
{
    return met == 1 ? "met" : met == 0 ? "EXCEEDED" : "not measured";
}

/* Decodes one UTF-8 sequence at s; returns its length, or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
        return 0;
    return n;
}

static const char REPL[] = "\xEF\xBF\xBD"; /* U+FFFD */

static void esc_xml_n(dr_buf *b, const char *str, size_t max)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t cps = 0;
    while (*s) {
        if (cps == max) {
            dr_buf_puts(b, "\xE2\x80\xA6"); /* ellipsis */
            return;
        }
        cps++;
        size_t n = utf8_len(s);
        if (n == 0) {
            dr_buf_puts(b, REPL);
            s++;
            continue;
        }
        if (n > 1) {
            dr_buf_append(b, s, n);
            s += n;
            continue;
        }
        unsigned char c = *s++;
        switch (c) {
        case '&':
            dr_buf_puts(b, "&amp;");
            break;
        case '<':
            dr_buf_puts(b, "&lt;");
            break;
        case '>':
            dr_buf_puts(b, "&gt;");
            break;
        case '"':
            dr_buf_puts(b, "&quot;");
            break;
        case '\'':
            dr_buf_puts(b, "&#39;");
            break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F)
                dr_buf_puts(b, REPL);
            else
                dr_buf_putc(b, (char)c);
        }
    }
}

void dr_esc_xml(dr_buf *b, const char *s)
{
    esc_xml_n(b, s, (size_t)-1);
}

void dr_esc_xml_cut(dr_buf *b, const char *s, size_t max)
{
    esc_xml_n(b, s, max);
}

void dr_esc_md(dr_buf *b, const char *str)
{
    dr_buf tmp = DR_BUF_INIT;
    dr_esc_xml(&tmp, str); /* valid UTF-8, no raw < > & " ' */
    for (const char *p = dr_buf_cstr(&tmp); *p; p++) {
        char c = *p;
        if (c == '\n' || c == '\r' || c == '\t')
            dr_buf_putc(b, ' ');
        else if (strchr("\\`*_[]|#!", c))
            dr_buf_printf(b, "\\%c", c);
        else
            dr_buf_putc(b, c);
    }
    dr_buf_free(&tmp);
}

void dr_esc_text(dr_buf *b, const char *str)
{
    for (const unsigned char *s = (const unsigned char *)(str ? str : ""); *s; s++)
        dr_buf_putc(b, *s < 0x20 || *s == 0x7F ? '?' : (char)*s);
}

/* ---- JSON --------------------------------------------------------------- */

static json_t *num_or_null(double v)
{
    return isnan(v) ? json_null() : json_real(round(v * 1000) / 1000);
}

static json_t *copy_or_null(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return v ? json_deep_copy(v) : json_null();
}

static json_t *met_json(int met)
{
    return met < 0 ? json_null() : json_boolean(met);
}

json_t *dr_rrun_json(const json_t *rec, const dr_rrun *r)
{
    static const char *const known[] = {
        "format", "run_id",     "target",      "runbook",   "runbook_file", "description",
        "vars",   "started_at", "declared_at", "ended_at",  "status",       "resumed_from",
        "steps",  "rto",        "rpo",         "exit_code", "report",       NULL};
    json_t *o = json_object();
    json_object_set_new(o, "format", json_integer(1));
    json_object_set_new(o, "run_id", json_string(r->run_id));
    json_object_set_new(o, "runbook", copy_or_null(rec, "runbook"));
    json_object_set_new(o, "runbook_file", copy_or_null(rec, "runbook_file"));
    json_object_set_new(o, "description", copy_or_null(rec, "description"));
    json_object_set_new(o, "target", json_string(r->target));
    json_object_set_new(o, "vars", r->vars ? json_deep_copy(r->vars) : json_object());
    json_object_set_new(o, "started_at", copy_or_null(rec, "started_at"));
    json_object_set_new(o, "declared_at", copy_or_null(rec, "declared_at"));
    json_object_set_new(o, "ended_at", copy_or_null(rec, "ended_at"));
    json_object_set_new(o, "status", copy_or_null(rec, "status"));
    json_object_set_new(o, "resumed_from",
                        r->resumed_from ? json_deep_copy(r->resumed_from) : json_null());

    json_t *steps = json_array();
    json_t *rsteps = json_object_get(rec, "steps");
    for (size_t i = 0; i < r->n; i++) {
        const dr_rstep *st = &r->steps[i];
        json_t *src = json_array_get(rsteps, i);
        json_t *s = json_object();
        json_object_set_new(s, "index", json_integer(st->index));
        json_object_set_new(s, "name", json_string(st->name));
        json_object_set_new(s, "action", json_string(st->action));
        json_object_set_new(s, "status", copy_or_null(src, "status"));
        json_object_set_new(s, "started_at", copy_or_null(src, "started_at"));
        json_object_set_new(s, "ended_at", copy_or_null(src, "ended_at"));
        json_object_set_new(s, "attempts", json_integer(st->attempts));
        json_object_set_new(s, "resumed", json_boolean(st->resumed));
        json_object_set_new(s, "finally", json_boolean(st->finally));
        json_object_set_new(s, "detail", st->detail ? json_deep_copy(st->detail) : json_null());
        json_object_set_new(s, "error", st->error ? json_string(st->error) : json_null());
        json_object_set_new(s, "offset_s", st->timed ? num_or_null(st->offset) : json_null());
        json_object_set_new(s, "duration_s", st->timed ? num_or_null(st->dur) : json_null());
        json_object_set_new(s, "rto_share_pct", num_or_null(st->share));
        json_object_set_new(s, "open", json_boolean(st->open));
        /* Keys the engine added that this version does not know: kept. */
        const char *k;
        json_t *v;
        json_object_foreach(src, k, v)
        {
            if (!json_object_get(s, k))
                json_object_set_new(s, k, json_deep_copy(v));
        }
        json_array_append_new(steps, s);
    }
    json_object_set_new(o, "steps", steps);

    json_t *rto = json_object_get(rec, "rto");
    json_t *rpo = json_object_get(rec, "rpo");
    json_object_set_new(o, "rto",
                        json_pack("{s:o, s:o, s:o, s:o, s:o}", "target_s",
                                  num_or_null(r->rto.target_s), "actual_s",
                                  num_or_null(r->rto.actual_s), "start", copy_or_null(rto, "start"),
                                  "end", copy_or_null(rto, "end"), "met", met_json(r->rto.met)));
    json_object_set_new(
        o, "rpo",
        json_pack("{s:o, s:o, s:o, s:o, s:o}", "target_s", num_or_null(r->rpo.target_s), "actual_s",
                  num_or_null(r->rpo.actual_s), "recovery_point",
                  copy_or_null(rpo, "recovery_point"), "service_resumed_at",
                  copy_or_null(rpo, "service_resumed_at"), "met", met_json(r->rpo.met)));
    const char *objk[2] = {"rto", "rpo"};
    json_t *objs[2] = {rto, rpo};
    for (int i = 0; i < 2; i++) {
        const char *k;
        json_t *v;
        json_t *dst = json_object_get(o, objk[i]);
        json_object_foreach(objs[i], k, v)
        {
            if (!json_object_get(dst, k))
                json_object_set_new(dst, k, json_deep_copy(v));
        }
    }
    json_object_set_new(o, "exit_code",
                        r->exit_code >= 0 ? json_integer(r->exit_code) : json_null());
    json_object_set_new(o, "report",
                        json_pack("{s:i, s:o, s:o, s:o, s:o}", "format", 1, "rto_window_s",
                                  num_or_null(r->window), "rto_window_start", num_or_null(r->t0),
                                  "steps_share_pct", num_or_null(r->share_sum),
                                  "unaccounted_share_pct", num_or_null(r->unaccounted)));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)rec, k, v)
    {
        int is_known = 0;
        for (size_t i = 0; known[i]; i++)
            is_known |= strcmp(known[i], k) == 0;
        if (!is_known)
            json_object_set_new(o, k, json_deep_copy(v));
    }
    return o;
}

static void render_json(const json_t *rec, const dr_rrun *r, dr_buf *out)
{
    json_t *o = dr_rrun_json(rec, r);
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(o);
    dr_buf_puts(out, s);
    dr_buf_putc(out, '\n');
    free(s);
}

/* ---- text --------------------------------------------------------------- */

static void obj_line(dr_buf *out, const char *what, const dr_robj *o, const char *word)
{
    char a[32], t[32];
    dr_fmt_dur(o->actual_s, a, sizeof(a));
    dr_fmt_dur(o->target_s, t, sizeof(t));
    if (isnan(o->target_s) && isnan(o->actual_s)) {
        dr_buf_printf(out, "%s: no target, not measured\n", what);
        return;
    }
    dr_buf_printf(out, "%s %s of %s: %s\n", what, a, isnan(o->target_s) ? "no target" : t, word);
}

const char *dr_rto_word(const dr_rrun *r)
{
    if (r->rto_end_known || r->rto.met == 1)
        return dr_met_word(r->rto.met);
    return r->rto.met == 0 ? "EXCEEDED (service not resumed)" : "service not resumed";
}

static void render_text(const dr_rrun *r, dr_buf *out)
{
    dr_esc_text(out, r->runbook);
    dr_buf_puts(out, " run ");
    dr_esc_text(out, r->run_id);
    dr_buf_printf(out, ": %s", r->status);
    if (*r->target) {
        dr_buf_puts(out, " (target ");
        dr_esc_text(out, r->target);
        dr_buf_puts(out, ")");
    }
    dr_buf_putc(out, '\n');
    obj_line(out, "RTO", &r->rto, dr_rto_word(r));
    obj_line(out, "RPO", &r->rpo, dr_met_word(r->rpo.met));
    size_t w = 4;
    for (size_t i = 0; i < r->n; i++) {
        size_t l = strlen(r->steps[i].name);
        if (l > w)
            w = l;
    }
    if (w > 40)
        w = 40;
    for (size_t i = 0; i < r->n; i++) {
        const dr_rstep *st = &r->steps[i];
        char d[32] = "-", sh[16] = "";
        if (st->timed)
            dr_fmt_dur(st->dur, d, sizeof(d));
        if (!isnan(st->share))
            snprintf(sh, sizeof(sh), "%.1f%%", st->share);
        else if (st->finally)
            snprintf(sh, sizeof(sh), "finally");
        dr_buf tmp = DR_BUF_INIT;
        dr_esc_text(&tmp, st->name);
        const char *name = dr_buf_cstr(&tmp);
        dr_buf_printf(out, "  %2d %-*.*s  %-11s %9s %7s%s\n", st->index + 1, (int)w, (int)w, name,
                      st->status, d, sh, st->resumed ? "  (resumed)" : "");
        dr_buf_free(&tmp);
        if (st->error) {
            dr_buf_puts(out, "       error: ");
            dr_esc_text(out, st->error);
            dr_buf_putc(out, '\n');
        }
    }
}

/* ---- Markdown ----------------------------------------------------------- */

static void md_obj(dr_buf *out, const char *what, const dr_robj *o, const char *w)
{
    char a[32], t[32];
    dr_fmt_dur(o->actual_s, a, sizeof(a));
    dr_fmt_dur(o->target_s, t, sizeof(t));
    dr_buf_printf(out, "- **%s**: %s", what, a);
    if (!isnan(o->actual_s))
        dr_buf_printf(out, " (%.1f s)", o->actual_s);
    dr_buf_printf(out, " of %s", isnan(o->target_s) ? "no target" : t);
    if (!isnan(o->target_s))
        dr_buf_printf(out, " (%.0f s)", o->target_s);
    dr_buf_printf(out, ": %s%s%s\n", o->met == 0 ? "**" : "", w, o->met == 0 ? "**" : "");
}

static void render_md(const dr_rrun *r, dr_buf *out)
{
    char t[40];
    dr_buf_puts(out, "# ");
    dr_esc_md(out, r->runbook);
    if (*r->target) {
        dr_buf_puts(out, " to ");
        dr_esc_md(out, r->target);
    }
    dr_buf_puts(out, ": ");
    dr_esc_md(out, r->run_id);
    dr_buf_puts(out, "\n\n");
    if (*r->description) {
        dr_esc_md(out, r->description);
        dr_buf_puts(out, "\n\n");
    }
    dr_buf_printf(out, "- **Status**: %s\n", r->status);
    md_obj(out, "RTO", &r->rto, dr_rto_word(r));
    md_obj(out, "RPO", &r->rpo, dr_met_word(r->rpo.met));
    dr_fmt_utc(r->started_at, t, sizeof(t));
    dr_buf_printf(out, "- **Started**: %s\n", t);
    dr_fmt_utc(r->ended_at, t, sizeof(t));
    dr_buf_printf(out, "- **Ended**: %s\n", t);
    if (!isnan(r->recovery_point)) {
        dr_fmt_utc(r->recovery_point, t, sizeof(t));
        dr_buf_printf(out, "- **Recovery point**: %s\n", t);
    }
    if (*r->runbook_file) {
        dr_buf_puts(out, "- **Runbook file**: ");
        dr_esc_md(out, r->runbook_file);
        dr_buf_putc(out, '\n');
    }
    if (r->resumed_from && json_array_size(r->resumed_from)) {
        dr_buf_puts(out, "- **Resumed from**: ");
        for (size_t i = 0; i < json_array_size(r->resumed_from); i++) {
            const char *id = json_string_value(json_array_get(r->resumed_from, i));
            if (i)
                dr_buf_puts(out, ", ");
            dr_esc_md(out, id ? id : "?");
        }
        dr_buf_putc(out, '\n');
    }
    if (r->vars && json_object_size(r->vars)) {
        dr_buf_puts(out, "- **Variables**: ");
        const char *k;
        json_t *v;
        int first = 1;
        json_object_foreach(r->vars, k, v)
        {
            char *vs = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            dr_buf_puts(out, first ? "" : ", ");
            dr_esc_md(out, k);
            dr_buf_puts(out, "=");
            dr_esc_md(out, vs ? vs : json_string_value(v));
            free(vs);
            first = 0;
        }
        dr_buf_putc(out, '\n');
    }
    dr_buf_puts(out, "\n## Steps\n\n");
    dr_buf_puts(out, "| # | Step | Action | Status | Start | Duration | Share of RTO | Attempts "
                     "| Resumed |\n");
    dr_buf_puts(out, "|---:|---|---|---|---:|---:|---:|---:|---|\n");
    for (size_t i = 0; i < r->n; i++) {
        const dr_rstep *st = &r->steps[i];
        char off[32] = "-", d[32] = "-", sh[16] = "-";
        if (st->timed) {
            dr_fmt_dur(st->offset, off, sizeof(off));
            dr_fmt_dur(st->dur, d, sizeof(d));
            if (st->offset >= 0) {
                memmove(off + 1, off, strlen(off) + 1);
                off[0] = '+';
            }
        }
        if (!isnan(st->share))
            snprintf(sh, sizeof(sh), "%.1f %%", st->share);
        else if (st->finally)
            snprintf(sh, sizeof(sh), "(finally)");
        dr_buf_printf(out, "| %d | ", st->index + 1);
        dr_esc_md(out, st->name);
        dr_buf_puts(out, " | ");
        dr_esc_md(out, st->action);
        dr_buf_puts(out, " | ");
        dr_esc_md(out, st->status);
        if (st->open)
            dr_buf_puts(out, " (running at the end)");
        dr_buf_printf(out, " | %s | %s | %s | %d | %s |\n", off, d, sh, st->attempts,
                      st->resumed ? "yes" : "no");
    }
    if (r->window > 0)
        dr_buf_printf(out, "\nSteps cover %.1f %% of the RTO window; %.1f %% is between steps.\n",
                      r->share_sum, r->unaccounted);
    int nerr = 0;
    for (size_t i = 0; i < r->n; i++)
        nerr += r->steps[i].error != NULL;
    if (nerr) {
        dr_buf_puts(out, "\n## Errors\n\n");
        for (size_t i = 0; i < r->n; i++) {
            const dr_rstep *st = &r->steps[i];
            if (!st->error)
                continue;
            dr_buf_printf(out, "- step %d (", st->index + 1);
            dr_esc_md(out, st->name);
            dr_buf_puts(out, "): ");
            dr_esc_md(out, st->error);
            dr_buf_putc(out, '\n');
        }
    }
}

/* ---- entry points ------------------------------------------------------- */

int dr_report_render(const json_t *record, const char *format, dr_buf *out, dr_err *err)
{
    if (!format || (strcmp(format, "json") && strcmp(format, "md") && strcmp(format, "html") &&
                    strcmp(format, "text")))
        return dr_err_set(err, DR_E_USAGE, "unknown report format '%s' (text, md, json, html)",
                          format ? format : "");
    dr_rrun r;
    if (dr_rrun_read(record, &r, err) != 0) {
        dr_rrun_free(&r);
        return -1;
    }
    if (strcmp(format, "json") == 0)
        render_json(record, &r, out);
    else if (strcmp(format, "md") == 0)
        render_md(&r, out);
    else if (strcmp(format, "html") == 0)
        dr_render_html(&r, out);
    else
        render_text(&r, out);
    dr_rrun_free(&r);
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char *d = dr_xstrdup(path);
    char *slash = strrchr(d, '/');
    if (slash == d)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(d, ".");
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(d);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int dr_report_write_file(const char *path, const char *data, size_t len, dr_err *err)
{
    char *tmp = dr_xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        dr_err_set(err, DR_E_IO, "cannot write %s: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    int ok = fchmod(fd, 0644) == 0;
    size_t off = 0;
    while (ok && off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ok = 0;
            break;
        }
        off += (size_t)n;
    }
    ok = ok && fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            saved = errno;
        dr_err_set(err, DR_E_IO, "cannot write %s: %s", path, strerror(saved));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    (void)fsync_dir_of(path);
    return 0;
}

int dr_report_write(const json_t *record, const char *run_dir, dr_err *err)
{
    static const char *const fmts[][2] = {
        {"json", "report.json"}, {"md", "report.md"}, {"html", "report.html"}};
    for (size_t i = 0; i < 3; i++) {
        dr_buf b = DR_BUF_INIT;
        int rc = dr_report_render(record, fmts[i][0], &b, err);
        if (rc == 0) {
            char *path = dr_xasprintf("%s/%s", run_dir, fmts[i][1]);
            rc = dr_report_write_file(path, dr_buf_cstr(&b), b.len, err);
            free(path);
        }
        dr_buf_free(&b);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int dr_report_load_record(const char *path, json_t **out, dr_err *err)
{
    *out = NULL;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return dr_err_set(err, DR_E_NOT_FOUND, "no run record %s", path);
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return dr_err_set(err, DR_E_IO, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return dr_err_set(err, DR_E_IO, "%s: not a run record (not a JSON object)", path);
    }
    *out = j;
    return 0;
}
