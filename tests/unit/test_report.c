/*
 * test_report.c - RTO/RPO reports over the fixture run records in
 * tests/unit/fixtures/runs/ (succeeded; failed with markup and ampersands in
 * a step error; interrupted with a running and pending steps; resumed
 * steps; RTO exceeded; no RPO).
 *
 * The HTML is parsed with libxml2's XML parser (the page is written to be
 * XHTML-compatible), and the timeline checked through it: one bar per step
 * that ran, placed and sized from the record, the RTO budget line at the
 * target, nothing external. The Markdown table has a row per step; the JSON
 * shares add up to the RTO window; the history is in time order.
 *
 * Fixtures are read from $DRCTL_SOURCE_DIR (set by ctest), else ../.. of
 * the working directory.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/report.h"
#include "util/mem.h"

#define ID_OK "failover-20261118T110640Z-ab12"
#define ID_FAILED "failover-20261119T090000Z-cd34"
#define ID_INTERRUPTED "drill-20261120T073320Z-ef56"
#define ID_RESUMED "failover-20261120T093640Z-gh78"
#define ID_EXCEEDED "failover-20261121T040000Z-ij90"
#define ID_NORPO "drill-20261122T060000Z-kl12"

static const char *const ALL[] = {ID_OK,      ID_FAILED,   ID_INTERRUPTED,
                                  ID_RESUMED, ID_EXCEEDED, ID_NORPO};

/* ---- helpers ----------------------------------------------------------- */

static char *runs_dir(void)
{
    const char *src = getenv("DRCTL_SOURCE_DIR");
    char *base = realpath(src && *src ? src : "../..", NULL);
    cr_assert(base, "no source directory: set DRCTL_SOURCE_DIR");
    char *d = dr_xasprintf("%s/tests/unit/fixtures/runs", base);
    free(base);
    return d;
}

static json_t *fixture(const char *id)
{
    char *d = runs_dir();
    char *p = dr_xasprintf("%s/%s/run.json", d, id);
    json_t *rec = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_report_load_record(p, &rec, &err), 0, "%s: %s", p, err.msg);
    free(p);
    free(d);
    return rec;
}

static char *render(const json_t *rec, const char *fmt)
{
    dr_buf b = DR_BUF_INIT;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_report_render(rec, fmt, &b, &err), 0, "render %s: %s", fmt, err.msg);
    return dr_buf_detach(&b);
}

static char *render_id(const char *id, const char *fmt)
{
    json_t *rec = fixture(id);
    char *s = render(rec, fmt);
    json_decref(rec);
    return s;
}

static xmlDocPtr parse_xml(const char *s)
{
    xmlDocPtr doc = xmlReadMemory(s, (int)strlen(s), "report.html", "UTF-8",
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    cr_assert(doc, "the HTML is not well-formed XML:\n%.4000s", s);
    return doc;
}

/* Nodes of an XPath expression; caller frees with xmlXPathFreeObject. */
static xmlXPathObjectPtr xp(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
    xmlXPathFreeContext(ctx);
    cr_assert(o, "xpath %s", expr);
    return o;
}

static int xp_count(xmlDocPtr doc, const char *expr)
{
    xmlXPathObjectPtr o = xp(doc, expr);
    int n = o->nodesetval ? o->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(o);
    return n;
}

static double attr_num(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    cr_assert(v, "no attribute %s on <%s>", name, (const char *)n->name);
    double d = strtod((const char *)v, NULL);
    xmlFree(v);
    return d;
}

static xmlNodePtr the_svg(xmlDocPtr doc)
{
    xmlXPathObjectPtr o = xp(doc, "//*[local-name()='svg' and @id='timeline']");
    cr_assert(o->nodesetval && o->nodesetval->nodeNr == 1, "one timeline <svg>");
    xmlNodePtr n = o->nodesetval->nodeTab[0];
    xmlXPathFreeObject(o);
    return n;
}

static double num(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static size_t timed_steps(const json_t *rec)
{
    size_t n = 0, i;
    json_t *s;
    json_array_foreach(json_object_get(rec, "steps"), i, s) n +=
        json_is_number(json_object_get(s, "started_at"));
    return n;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static char *mktmp(void)
{
    char *d = dr_xstrdup("/tmp/drctl-report-XXXXXX");
    cr_assert(mkdtemp(d), "mkdtemp: %s", strerror(errno));
    return d;
}

static void rmtree(char *d)
{
    nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(d);
}

static void copy_fixture(const char *id, const char *dst_runs)
{
    json_t *rec = fixture(id);
    char *dir = dr_xasprintf("%s/%s", dst_runs, id);
    cr_assert_eq(mkdir(dir, 0755), 0);
    char *p = dr_xasprintf("%s/run.json", dir);
    cr_assert_eq(json_dump_file(rec, p, JSON_INDENT(1)), 0);
    free(p);
    free(dir);
    json_decref(rec);
}

/* ---- HTML ---------------------------------------------------------------- */

Test(report_html, every_fixture_is_well_formed_and_self_contained)
{
    for (size_t i = 0; i < sizeof(ALL) / sizeof(ALL[0]); i++) {
        char *html = render_id(ALL[i], "html");
        xmlDocPtr doc = parse_xml(html);
        cr_assert_str_eq((const char *)xmlDocGetRootElement(doc)->name, "html");
        /* Exactly the SVG namespace name and no other URI of any scheme. */
        size_t http = count_of(html, "http://"), https = count_of(html, "https://");
        size_t ns = count_of(html, "http://www.w3.org/2000/svg");
        cr_expect_eq(https, 0, "%s: https:// in the page", ALL[i]);
        cr_expect_eq(http, ns, "%s: http:// other than the SVG namespace", ALL[i]);
        cr_expect_eq(ns, 1, "%s: one <svg> with its namespace", ALL[i]);
        const char *banned[] = {"<script", "<link", "<img",    "<iframe",    "src=",
                                "href=",   "url(",  "@import", "@font-face", "//"};
        for (size_t k = 0; k < sizeof(banned) / sizeof(banned[0]); k++) {
            const char *p = strstr(html, banned[k]);
            if (p && strcmp(banned[k], "//") == 0 && p > html + 5 &&
                strncmp(p - 5, "http://www.w3.org/2000/svg", 26) == 0)
                p = strstr(p + 2, "//");
            cr_expect_null(p, "%s: the page has '%s'", ALL[i], banned[k]);
        }
        xmlFreeDoc(doc);
        free(html);
    }
}

/* One bar per step that ran, at the offset from the RTO start and as long
 * as the step, in the axis the <svg> declares. */
static void check_bars(const char *id)
{
    json_t *rec = fixture(id);
    char *html = render(rec, "html");
    xmlDocPtr doc = parse_xml(html);
    xmlNodePtr svg = the_svg(doc);
    double amin = attr_num(svg, "data-axis-min"), amax = attr_num(svg, "data-axis-max");
    double x0 = attr_num(svg, "data-plot-x0"), pw = attr_num(svg, "data-plot-width");
    cr_assert_gt(amax, amin);
    json_t *rto = json_object_get(rec, "rto");
    double t0 = num(rto, "start");

    xmlXPathObjectPtr o =
        xp(doc, "//*[local-name()='rect' and contains(concat(' ', @class, ' '), ' bar ')]");
    int nbars = o->nodesetval ? o->nodesetval->nodeNr : 0;
    cr_assert_eq((size_t)nbars, timed_steps(rec), "%s: %d bars for %zu steps that ran", id, nbars,
                 timed_steps(rec));
    json_t *steps = json_object_get(rec, "steps");
    for (int i = 0; i < nbars; i++) {
        xmlNodePtr bar = o->nodesetval->nodeTab[i];
        int idx = (int)attr_num(bar, "data-step");
        json_t *s = json_array_get(steps, (size_t)idx);
        cr_assert(s, "bar of step %d", idx);
        double start = num(s, "started_at"), end = num(s, "ended_at");
        if (isnan(end)) /* running at the end: to the end of the run */
            end = num(rec, "ended_at");
        cr_expect(fabs(attr_num(bar, "data-start") - (start - t0)) < 0.002, "%s step %d start", id,
                  idx);
        cr_expect(fabs(attr_num(bar, "data-duration") - (end - start)) < 0.002,
                  "%s step %d duration", id, idx);
        double x = x0 + (start - t0 - amin) / (amax - amin) * pw;
        cr_expect(fabs(attr_num(bar, "x") - x) < 0.02, "%s step %d x %f, expected %f", id, idx,
                  attr_num(bar, "x"), x);
        double w = (end - start) / (amax - amin) * pw;
        cr_expect(fabs(attr_num(bar, "width") - (w < 3 ? 3 : w)) < 0.02, "%s step %d width", id,
                  idx);
        xmlChar *fill = xmlGetProp(bar, (const xmlChar *)"fill");
        cr_expect(fill && fill[0] == '#', "bar coloured");
        xmlFree(fill);
    }
    xmlXPathFreeObject(o);
    xmlFreeDoc(doc);
    free(html);
    json_decref(rec);
}

Test(report_html, one_bar_per_step_placed_and_sized)
{
    for (size_t i = 0; i < sizeof(ALL) / sizeof(ALL[0]); i++)
        check_bars(ALL[i]);
}

/* The budget line sits at the target; the axis ends at max(target, actual) * 1.05. */
static void check_budget(const char *id, double target, double actual)
{
    char *html = render_id(id, "html");
    xmlDocPtr doc = parse_xml(html);
    xmlNodePtr svg = the_svg(doc);
    double amin = attr_num(svg, "data-axis-min"), amax = attr_num(svg, "data-axis-max");
    double x0 = attr_num(svg, "data-plot-x0"), pw = attr_num(svg, "data-plot-width");
    cr_expect(fabs(amax - fmax(target, actual) * 1.05) < 0.01, "%s: axis max %f", id, amax);
    xmlXPathObjectPtr o = xp(doc, "//*[local-name()='line' and @id='rto-target']");
    cr_assert_eq(o->nodesetval ? o->nodesetval->nodeNr : 0, 1, "%s: one budget line", id);
    xmlNodePtr line = o->nodesetval->nodeTab[0];
    double x = x0 + (target - amin) / (amax - amin) * pw;
    cr_expect(fabs(attr_num(line, "x1") - x) < 0.02, "%s: budget x %f, expected %f", id,
              attr_num(line, "x1"), x);
    cr_expect(fabs(attr_num(line, "x2") - x) < 0.02, "%s: vertical", id);
    xmlChar *dash = xmlGetProp(line, (const xmlChar *)"stroke-dasharray");
    cr_expect(dash != NULL, "%s: the budget line is dashed", id);
    xmlFree(dash);
    xmlXPathFreeObject(o);
    xmlFreeDoc(doc);
    free(html);
}

Test(report_html, budget_line_at_the_target)
{
    check_budget(ID_OK, 1800, 119.88);
    check_budget(ID_EXCEEDED, 600, 840);
    check_budget(ID_RESUMED, 1800, 560);
}

Test(report_html, rto_end_marker_and_rpo_bar)
{
    char *html = render_id(ID_OK, "html");
    xmlDocPtr doc = parse_xml(html);
    xmlXPathObjectPtr o = xp(doc, "//*[local-name()='line' and @id='rto-end']");
    cr_assert_eq(o->nodesetval ? o->nodesetval->nodeNr : 0, 1, "an RTO end marker");
    cr_expect(fabs(attr_num(o->nodesetval->nodeTab[0], "data-end") - 119.88) < 0.002);
    xmlXPathFreeObject(o);
    /* The RPO bar: from the recovery point (456.12 s before the start) to the
     * service resume (119.88 s after). */
    o = xp(doc, "//*[local-name()='rect' and @id='rpo-bar']");
    cr_assert_eq(o->nodesetval ? o->nodesetval->nodeNr : 0, 1, "an RPO bar");
    cr_expect(fabs(attr_num(o->nodesetval->nodeTab[0], "data-start") + 456.12) < 0.002);
    cr_expect(fabs(attr_num(o->nodesetval->nodeTab[0], "data-end") - 119.88) < 0.002);
    xmlXPathFreeObject(o);
    xmlNodePtr svg = the_svg(doc);
    cr_expect_lt(attr_num(svg, "data-axis-min"), -456.12, "the axis reaches the recovery point");
    /* Ticks are labelled in minutes. */
    cr_expect(strstr(html, ">5m<") || strstr(html, ">10m<"), "minute ticks");
    xmlFreeDoc(doc);
    free(html);

    /* No RPO: neither bar nor text, and no end marker on a failed run. */
    html = render_id(ID_NORPO, "html");
    doc = parse_xml(html);
    cr_expect_eq(xp_count(doc, "//*[@id='rpo-bar' or @id='rpo-text']"), 0);
    cr_expect(strstr(html, "RPO not measured") != NULL, "the RPO badge says not measured");
    xmlFreeDoc(doc);
    free(html);
    html = render_id(ID_FAILED, "html");
    doc = parse_xml(html);
    cr_expect_eq(xp_count(doc, "//*[@id='rto-end']"), 0);
    cr_expect(strstr(html, "RTO EXCEEDED (service not resumed)") != NULL);
    xmlFreeDoc(doc);
    free(html);
}

Test(report_html, rpo_off_the_scale_is_text)
{
    json_t *rec = fixture(ID_EXCEEDED);
    json_t *rpo = json_object_get(rec, "rpo");
    /* 3 days before a 14-minute recovery: not drawable on the same axis. */
    json_object_set_new(rpo, "recovery_point", json_real(num(rec, "started_at") - 3 * 86400));
    json_object_set_new(rpo, "actual_s", json_real(3 * 86400));
    char *html = render(rec, "html");
    xmlDocPtr doc = parse_xml(html);
    cr_expect_eq(xp_count(doc, "//*[@id='rpo-bar']"), 0);
    cr_expect_eq(xp_count(doc, "//*[@id='rpo-text']"), 1);
    xmlNodePtr svg = the_svg(doc);
    cr_expect_geq(attr_num(svg, "data-axis-min"), -100, "the axis is not stretched for the RPO");
    xmlFreeDoc(doc);
    free(html);
    json_decref(rec);
}

Test(report_html, user_strings_are_escaped)
{
    json_t *rec = fixture(ID_FAILED);
    char *html = render(rec, "html");
    cr_expect_null(strstr(html, "<script"), "no raw <script>");
    cr_expect(strstr(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; relation "
                           "&quot;LiteLLM_SpendLogs&quot;"),
              "the error is escaped");
    cr_expect(strstr(html, "restore the database &lt;primary&gt; &amp; &quot;replicas&quot;"),
              "the step name is escaped");
    /* Read back through the parser: the text is the original. */
    xmlDocPtr doc = parse_xml(html);
    xmlXPathObjectPtr o = xp(doc, "//*[@id='errors']/*[local-name()='li']/*[@class='err']");
    cr_assert_eq(o->nodesetval ? o->nodesetval->nodeNr : 0, 2, "two errors listed");
    xmlChar *t = xmlNodeGetContent(o->nodesetval->nodeTab[0]);
    json_t *s2 = json_array_get(json_object_get(rec, "steps"), 2);
    cr_expect_str_eq((const char *)t, json_string_value(json_object_get(s2, "error")));
    xmlFree(t);
    xmlXPathFreeObject(o);
    xmlFreeDoc(doc);
    free(html);

    /* Control characters and invalid UTF-8 in a name still give well-formed XML. */
    json_object_set_new(json_array_get(json_object_get(rec, "steps"), 0), "name",
                        json_stringn("a\x01 b\x7f c ]]> \xc3\xa9", 13));
    json_object_set_new(rec, "description", json_string("<b>bold</b> & 'quoted' ]]>"));
    html = render(rec, "html");
    doc = parse_xml(html);
    xmlFreeDoc(doc);
    cr_expect_null(strstr(html, "<b>"));
    free(html);
    /* A status the engine never writes does not reach a class name as is. */
    json_object_set_new(json_array_get(json_object_get(rec, "steps"), 1), "status",
                        json_string("x\" onload=\"y"));
    html = render(rec, "html");
    doc = parse_xml(html);
    cr_expect_eq(xp_count(doc, "//*[contains(@class, 'st-other')]"), 1);
    xmlFreeDoc(doc);
    free(html);
    json_decref(rec);
}

Test(report_html, interrupted_and_resumed_steps)
{
    char *html = render_id(ID_INTERRUPTED, "html");
    xmlDocPtr doc = parse_xml(html);
    cr_expect_eq(xp_count(doc, "//*[local-name()='rect' and contains(@class, 'open')]"), 1,
                 "the step running at the interrupt");
    cr_expect_eq(xp_count(doc, "//*[@class='not-run']"), 2, "two steps never ran");
    cr_expect_eq(xp_count(doc, "//*[@class='step']"), 5, "five table rows");
    cr_expect(strstr(html, "badge b-interrupted") != NULL);
    xmlFreeDoc(doc);
    free(html);

    html = render_id(ID_RESUMED, "html");
    doc = parse_xml(html);
    cr_expect_eq(
        xp_count(doc, "//*[local-name()='rect' and contains(@class, 'bar') and @stroke-dasharray]"),
        3, "three resumed bars are outlined");
    cr_expect(strstr(html, "failover-20261120T093000Z-zz99") != NULL, "resumed from is shown");
    xmlFreeDoc(doc);
    free(html);
}

/* ---- Markdown, text, JSON ----------------------------------------------- */

static size_t md_rows(const char *md)
{
    size_t n = 0;
    for (const char *p = md; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        int idx;
        if (sscanf(p, "| %d | ", &idx) == 1)
            n++;
    }
    return n;
}

Test(report_md, one_row_per_step)
{
    for (size_t i = 0; i < sizeof(ALL) / sizeof(ALL[0]); i++) {
        json_t *rec = fixture(ALL[i]);
        char *md = render(rec, "md");
        cr_expect_eq(md_rows(md), json_array_size(json_object_get(rec, "steps")), "%s:\n%s", ALL[i],
                     md);
        cr_expect(strstr(md, "| # | Step | Action | Status | Start | Duration | Share of RTO"),
                  "the table header");
        free(md);
        json_decref(rec);
    }
    char *md = render_id(ID_OK, "md");
    cr_expect(strstr(md, "# failover to us-west-2: " ID_OK "\n"), "%s", md);
    cr_expect(strstr(md, "- **RTO**: 2m00s (119.9 s) of 30m00s (1800 s): met"), "%s", md);
    cr_expect(strstr(md, "- **RPO**: 7m36s (456.1 s) of 1h00m00s (3600 s): met"), "%s", md);
    cr_expect(strstr(md, "| 3 | restore the database | restore-db | succeeded | +45.0s | 35.2s | "
                         "29.4 % | 1 | no |"),
              "%s", md);
    cr_expect(strstr(md, "| 8 | notify the team | shell | succeeded | +2m00s | 1.0s | (finally) |"),
              "%s", md);
    free(md);

    md = render_id(ID_FAILED, "md");
    cr_expect_null(strstr(md, "<script"), "escaped in Markdown too");
    cr_expect(strstr(md, "## Errors"));
    cr_expect(strstr(md, "&lt;script&gt;"));
    cr_expect(strstr(md, "| 6 | switch DNS to us-west-2 | switch-dns | skipped | - | - | - | 1 |"),
              "%s", md);
    free(md);

    md = render_id(ID_RESUMED, "md");
    cr_expect_eq(count_of(md, "| yes |"), 3, "three resumed steps");
    free(md);

    md = render_id(ID_EXCEEDED, "md");
    cr_expect(strstr(md, "- **RTO**: 14m00s (840.0 s) of 10m00s (600 s): **EXCEEDED**"), "%s", md);
    free(md);
}

Test(report_text, the_terminal_summary)
{
    char *t = render_id(ID_OK, "text");
    cr_expect(strstr(t, "failover run " ID_OK ": succeeded (target us-west-2)\n"), "%s", t);
    cr_expect(strstr(t, "RTO 2m00s of 30m00s: met\n"), "%s", t);
    cr_expect(strstr(t, "RPO 7m36s of 1h00m00s: met\n"), "%s", t);
    cr_expect(strstr(t, "restore the database"), "%s", t);
    cr_expect(strstr(t, "35.2s   29.4%"), "%s", t);
    cr_expect(strstr(t, "finally"), "%s", t);
    free(t);

    t = render_id(ID_EXCEEDED, "text");
    cr_expect(strstr(t, "RTO 14m00s of 10m00s: EXCEEDED\n"), "%s", t);
    free(t);
    t = render_id(ID_FAILED, "text");
    cr_expect(strstr(t, "RTO - of 30m00s: EXCEEDED (service not resumed)\n"), "%s", t);
    cr_expect(strstr(t, "error: pg_restore: error: <script>"), "%s", t);
    free(t);
    t = render_id(ID_NORPO, "text");
    cr_expect(strstr(t, "RPO: no target, not measured\n"), "%s", t);
    free(t);
    t = render_id(ID_INTERRUPTED, "text");
    cr_expect(strstr(t, ": interrupted"), "%s", t);
    cr_expect_eq(count_of(t, "pending"), 3, "%s", t);
    cr_expect(strstr(t, "RTO - of 30m00s: service not resumed\n"), "%s", t);
    free(t);
}

Test(report_json, normalised_with_shares_of_the_rto)
{
    for (size_t i = 0; i < sizeof(ALL) / sizeof(ALL[0]); i++) {
        char *s = render_id(ALL[i], "json");
        json_error_t je;
        json_t *o = json_loads(s, 0, &je);
        cr_assert(o, "%s: %s", ALL[i], je.text);
        const char *keys[] = {"format", "run_id", "runbook", "vars", "started_at", "ended_at",
                              "status", "steps",  "rto",     "rpo",  "exit_code",  "report"};
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            cr_expect(json_object_get(o, keys[k]), "%s: %s", ALL[i], keys[k]);
        json_t *rep = json_object_get(o, "report");
        double sum = 0;
        size_t j;
        json_t *st;
        json_array_foreach(json_object_get(o, "steps"), j, st)
        {
            json_t *sh = json_object_get(st, "rto_share_pct");
            if (json_is_true(json_object_get(st, "finally")) ||
                json_is_null(json_object_get(st, "started_at")))
                cr_expect(json_is_null(sh), "%s step %zu: no share", ALL[i], j);
            else
                sum += json_number_value(sh);
            cr_expect(json_object_get(st, "offset_s") && json_object_get(st, "duration_s"));
        }
        cr_expect(fabs(sum - num(rep, "steps_share_pct")) < 0.01, "%s", ALL[i]);
        if (num(rep, "rto_window_s") > 0)
            cr_expect(fabs(sum + num(rep, "unaccounted_share_pct") - 100) < 0.01,
                      "%s: shares %f + unaccounted %f", ALL[i], sum,
                      num(rep, "unaccounted_share_pct"));
        json_decref(o);
        free(s);
    }
    /* Sequential steps with small gaps: the shares are ~100 % of the window. */
    const char *tight[] = {ID_OK, ID_EXCEEDED, ID_NORPO};
    for (size_t i = 0; i < 3; i++) {
        char *s = render_id(tight[i], "json");
        json_t *o = json_loads(s, 0, NULL);
        double sum = num(json_object_get(o, "report"), "steps_share_pct");
        cr_expect(sum > 99 && sum <= 100.001, "%s: steps cover %f %%", tight[i], sum);
        json_decref(o);
        free(s);
    }
    char *s = render_id(ID_NORPO, "json");
    json_t *o = json_loads(s, 0, NULL);
    json_t *rpo = json_object_get(o, "rpo");
    cr_expect(json_is_null(json_object_get(rpo, "target_s")) &&
              json_is_null(json_object_get(rpo, "met")));
    json_decref(o);
    free(s);
    s = render_id(ID_OK, "json");
    o = json_loads(s, 0, NULL);
    json_t *s2 = json_array_get(json_object_get(o, "steps"), 2);
    cr_expect(fabs(num(s2, "offset_s") - 44.98) < 0.001);
    cr_expect(fabs(num(s2, "duration_s") - 35.2) < 0.001);
    cr_expect(json_object_get(s2, "detail") && json_is_object(json_object_get(s2, "detail")));
    json_decref(o);
    free(s);
}

Test(report, bad_input)
{
    dr_buf b = DR_BUF_INIT;
    dr_err err;
    dr_err_clear(&err);
    json_t *rec = fixture(ID_OK);
    cr_expect_eq(dr_report_render(rec, "pdf", &b, &err), -1);
    cr_expect_eq(err.code, DR_E_USAGE);
    json_object_del(rec, "run_id");
    cr_expect_eq(dr_report_render(rec, "html", &b, &err), -1);
    cr_expect_eq(err.code, DR_E_IO);
    cr_expect(strstr(err.msg, "no run_id"), "%s", err.msg);
    json_decref(rec);
    rec = json_pack("{s:i, s:s, s:s}", "format", 1, "run_id", "x", "steps", "nope");
    cr_expect_eq(dr_report_render(rec, "text", &b, &err), -1);
    json_decref(rec);
    /* The smallest record still renders. */
    rec = json_pack("{s:s}", "run_id", "bare");
    for (size_t i = 0; i < 4; i++) {
        const char *f[] = {"text", "md", "json", "html"};
        cr_expect_eq(dr_report_render(rec, f[i], &b, &err), 0, "%s: %s", f[i], err.msg);
    }
    xmlDocPtr doc = parse_xml(strstr(dr_buf_cstr(&b), "<!DOCTYPE"));
    xmlFreeDoc(doc);
    json_decref(rec);
    dr_buf_free(&b);
}

Test(report, write_the_three_files)
{
    char *d = mktmp();
    json_t *rec = fixture(ID_FAILED);
    dr_err err;
    dr_err_clear(&err);
    mode_t old = umask(077);
    int rc = dr_report_write(rec, d, &err);
    umask(old);
    cr_assert_eq(rc, 0, "%s", err.msg);
    const char *names[] = {"report.json", "report.md", "report.html"};
    for (size_t i = 0; i < 3; i++) {
        char *p = dr_xasprintf("%s/%s", d, names[i]);
        struct stat st;
        cr_assert_eq(stat(p, &st), 0, "%s", p);
        cr_expect_eq(st.st_mode & 0777, 0644, "%s mode %o", names[i], st.st_mode & 0777);
        cr_expect_gt(st.st_size, 100);
        free(p);
    }
    char *p = dr_xasprintf("%s/report.json", d);
    json_t *j = json_load_file(p, 0, NULL);
    cr_expect(j && json_is_object(json_object_get(j, "report")));
    json_decref(j);
    free(p);
    /* Nothing else is left behind (no temporary files). */
    char *cmd = dr_xasprintf("test $(ls -A '%s' | wc -l) -eq 3", d);
    cr_expect_eq(system(cmd), 0, "only the three files");
    free(cmd);
    /* A run directory that does not exist is an I/O error. */
    char *missing = dr_xasprintf("%s/nope", d);
    cr_expect_eq(dr_report_write(rec, missing, &err), -1);
    cr_expect_eq(err.code, DR_E_IO);
    free(missing);
    json_decref(rec);
    rmtree(d);
}

/* ---- history ------------------------------------------------------------- */

Test(report_history, oldest_first)
{
    char *d = mktmp();
    /* Directory order and name order differ from time order. */
    copy_fixture(ID_NORPO, d);
    copy_fixture(ID_OK, d);
    copy_fixture(ID_RESUMED, d);
    dr_buf b = DR_BUF_INIT;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_report_history(d, "text", &b, &err), 0, "%s", err.msg);
    const char *t = dr_buf_cstr(&b);
    const char *a = strstr(t, ID_OK), *r = strstr(t, ID_RESUMED), *n = strstr(t, ID_NORPO);
    cr_assert(a && r && n, "%s", t);
    cr_expect(a < r && r < n, "oldest first:\n%s", t);
    cr_expect(strstr(t, "3 runs: 3 met their objectives, 0 did not"), "%s", t);
    cr_expect(strstr(t, "2m00s / 30m00s"), "%s", t);

    dr_buf_reset(&b);
    cr_assert_eq(dr_report_history(d, "json", &b, &err), 0);
    json_t *o = json_loads(dr_buf_cstr(&b), 0, NULL);
    json_t *runs = json_object_get(o, "runs");
    cr_assert_eq(json_array_size(runs), 3);
    const char *want[] = {ID_OK, ID_RESUMED, ID_NORPO};
    for (size_t i = 0; i < 3; i++)
        cr_expect_str_eq(json_string_value(json_object_get(json_array_get(runs, i), "run_id")),
                         want[i]);
    cr_expect(json_is_true(json_object_get(json_array_get(runs, 2), "met")),
              "RTO met, no RPO target");
    json_decref(o);

    dr_buf_reset(&b);
    cr_assert_eq(dr_report_history(d, "md", &b, &err), 0);
    cr_expect_eq(count_of(dr_buf_cstr(&b), "\n| 2026-"), 3, "%s", dr_buf_cstr(&b));

    dr_buf_reset(&b);
    cr_assert_eq(dr_report_history(d, "html", &b, &err), 0);
    const char *html = dr_buf_cstr(&b);
    xmlDocPtr doc = parse_xml(html);
    cr_expect_eq(xp_count(doc, "//*[local-name()='svg' and @id='trend']"), 1);
    cr_expect_eq(xp_count(doc, "//*[local-name()='circle' and @class='rto-pt']"), 3);
    cr_expect_eq(xp_count(doc, "//*[local-name()='rect' and @class='rpo-pt']"), 2);
    cr_expect_eq(xp_count(doc, "//*[@id='rto-target']"), 1);
    cr_expect_eq(xp_count(doc, "//*[@class='run']"), 3);
    cr_expect_eq(count_of(html, "http://"), 1);
    cr_expect_eq(count_of(html, "https://"), 0);
    xmlXPathObjectPtr x = xp(doc, "//*[local-name()='circle' and @class='rto-pt']");
    for (int i = 0; i < 3; i++) {
        xmlChar *id = xmlGetProp(x->nodesetval->nodeTab[i], (const xmlChar *)"data-run");
        cr_expect_str_eq((const char *)id, want[i]);
        xmlFree(id);
    }
    xmlXPathFreeObject(x);
    xmlFreeDoc(doc);

    /* One runbook only; an unreadable record is named, not fatal. */
    char *bad = dr_xasprintf("%s/broken-run", d);
    cr_assert_eq(mkdir(bad, 0755), 0);
    char *bp = dr_xasprintf("%s/run.json", bad);
    FILE *f = fopen(bp, "w");
    fputs("{\"run_id\": ", f);
    fclose(f);
    dr_buf_reset(&b);
    cr_assert_eq(dr_report_history_of(d, "drill", "text", &b, &err), 0);
    t = dr_buf_cstr(&b);
    cr_expect(strstr(t, ID_NORPO) && !strstr(t, ID_OK), "%s", t);
    cr_expect(strstr(t, "unreadable: broken-run: "), "%s", t);
    free(bp);
    free(bad);

    dr_buf_free(&b);
    rmtree(d);
}

Test(report_history, empty_and_missing)
{
    dr_buf b = DR_BUF_INIT;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_report_history("/nonexistent/drctl/runs", "text", &b, &err), 0);
    cr_expect(strstr(dr_buf_cstr(&b), "no runs in"));
    dr_buf_reset(&b);
    cr_assert_eq(dr_report_history("/nonexistent/drctl/runs", "html", &b, &err), 0);
    xmlDocPtr doc = parse_xml(dr_buf_cstr(&b));
    xmlFreeDoc(doc);
    cr_expect_eq(dr_report_history("/nonexistent", "xml", &b, &err), -1);
    cr_expect_eq(err.code, DR_E_USAGE);
    dr_buf_free(&b);

    /* The whole fixture set, in time order. */
    char *d = runs_dir();
    dr_report_runs runs;
    cr_assert_eq(dr_report_runs_load(d, NULL, &runs, &err), 0);
    cr_expect_eq(runs.n, 6);
    for (size_t i = 1; i < runs.n; i++)
        cr_expect_lt(runs.v[i - 1].started_at, runs.v[i].started_at);
    cr_expect_str_eq(runs.v[0].id, ID_OK);
    cr_expect_str_eq(runs.v[5].id, ID_NORPO);
    dr_report_runs_free(&runs);
    free(d);
}

Test(report_history, html_trend_over_all_fixtures)
{
    char *d = runs_dir();
    dr_buf b = DR_BUF_INIT;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_report_history(d, "html", &b, &err), 0, "%s", err.msg);
    xmlDocPtr doc = parse_xml(dr_buf_cstr(&b));
    /* Four runs reached service resume; the failed and interrupted ones did
     * not and are marked on the axis instead. */
    cr_expect_eq(xp_count(doc, "//*[local-name()='circle' and @class='rto-pt']"), 4);
    cr_expect_eq(xp_count(doc, "//*[local-name()='text' and @class='not-resumed']"), 2);
    /* The exceeded RTO is drawn red. */
    cr_expect_eq(xp_count(doc, "//*[local-name()='circle' and @class='rto-pt' and "
                               "@fill='#c92a2a' and @data-run='" ID_EXCEEDED "']"),
                 1);
    cr_expect_eq(xp_count(doc, "//*[@class='run']"), 6);
    xmlFreeDoc(doc);
    dr_buf_free(&b);
    free(d);
}

Test(report_json, keys_this_version_does_not_know_are_kept)
{
    json_t *rec = fixture(ID_OK);
    json_object_set_new(json_object_get(rec, "rto"), "end_step", json_string("switch DNS"));
    json_object_set_new(rec, "target", json_string("eu-west-1"));
    json_object_set_new(rec, "engine", json_string("x"));
    json_object_set_new(json_array_get(json_object_get(rec, "steps"), 0), "timeout_s",
                        json_integer(60));
    char *s = render(rec, "json");
    json_t *o = json_loads(s, 0, NULL);
    cr_assert(o);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(o, "rto"), "end_step")),
                     "switch DNS");
    cr_expect_str_eq(json_string_value(json_object_get(o, "target")), "eu-west-1");
    cr_expect_str_eq(json_string_value(json_object_get(o, "engine")), "x");
    cr_expect_eq(json_integer_value(
                     json_object_get(json_array_get(json_object_get(o, "steps"), 0), "timeout_s")),
                 60);
    json_decref(o);
    free(s);
    s = render(rec, "text");
    cr_expect(strstr(s, "(target eu-west-1)"), "the record's own target wins: %s", s);
    free(s);
    json_decref(rec);
}
