/*
 * stackcmd.c - the pieces plan, deploy, status and destroy share.
 */
#include "cmd/stackcmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws/xml.h"
#include "util/mem.h"

const char *dr_cmd_store_dir(const char *opt)
{
    if (opt && *opt)
        return opt;
    const char *env = getenv("DRCTL_STORE");
    return env && *env ? env : "snapshots";
}

const char *dr_cmd_config_dir(const char *opt)
{
    if (opt && *opt)
        return opt;
    const char *env = getenv("DRCTL_CONFIG_DIR");
    return env && *env ? env : "regions";
}

int dr_cmd_load_profiles(const char *dir, dr_profile_set *set, dr_err *err)
{
    dr_diags diags = {0};
    int rc = dr_profiles_load(dir, set, &diags, err);
    if (rc != 0)
        dr_diags_print(&diags, stderr);
    dr_diags_free(&diags);
    if (rc != 0)
        dr_err_hint(err, "fix the profiles in %s (see 'drctl validate')", dir);
    return rc;
}

int dr_cmd_region_profile(const dr_profile_set *set, const char *dir, const char *region,
                          const dr_region_profile **out, dr_err *err)
{
    *out = dr_profiles_find(set, region);
    if (*out)
        return 0;
    dr_err_set(err, DR_E_CONFIG, "no profile for %s in %s", region, dir);
    char list[512] = "";
    for (size_t i = 0; i < set->n; i++) {
        if (i)
            strncat(list, ", ", sizeof(list) - strlen(list) - 1);
        strncat(list, set->regions[i].region, sizeof(list) - strlen(list) - 1);
    }
    return dr_err_hint(err, "the profiles describe: %s", set->n ? list : "no region");
}

int dr_cmd_parse_concurrency(const char *s, int *out, dr_err *err)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || end == s || v < 1 || v > 32) {
        dr_err_set(err, DR_E_USAGE, "--concurrency must be a number from 1 to 32, not '%s'", s);
        return dr_err_hint(err, "the default, 4, suits most stacks");
    }
    *out = (int)v;
    return 0;
}

static int env_long(const char *name, long lo, long hi, long *out, dr_err *err)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return 0;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || v < lo || v > hi)
        return dr_err_set(err, DR_E_CONFIG, "%s must be a number from %ld to %ld, not '%s'", name,
                          lo, hi, s);
    *out = v;
    return 0;
}

int dr_cmd_engine_opts(dr_ctx *ctx, const dr_region_profile *p, dr_aws_opts *aws_opts,
                       dr_engine_opts *o, dr_err *err)
{
    memset(aws_opts, 0, sizeof(*aws_opts));
    memset(o, 0, sizeof(*o));
    aws_opts->profile = ctx->profile;
    aws_opts->endpoint_url = ctx->endpoint_url;
    aws_opts->log = &ctx->log;
    if (dr_ctx_aws(ctx, &o->aws, err) != 0)
        return -1;
    o->aws_opts = aws_opts;
    o->log = &ctx->log;
    o->profile = p;
    if (env_long("DRCTL_WAIT_INITIAL_MS", 1, 600000, &o->wait_initial_ms, err) != 0 ||
        env_long("DRCTL_WAIT_MAX_MS", 1, 3600000, &o->wait_max_ms, err) != 0 ||
        env_long("DRCTL_WAIT_TIMEOUT_S", 1, 86400, &o->wait_timeout_s, err) != 0)
        return -1;
    return 0;
}

int dr_cmd_account_id(dr_ctx *ctx, const char *region, char **cache, dr_err *err)
{
    if (*cache)
        return 0;
    dr_aws *aws = NULL;
    if (dr_ctx_aws(ctx, &aws, err) != 0)
        return -1;
    xmlDocPtr doc = NULL;
    if (dr_aws_query(aws, "sts", region, "GetCallerIdentity", NULL, &doc, err) != 0)
        return dr_err_wrap(err, "finding the account id");
    char *acct = dr_xml_text(xmlDocGetRootElement(doc), "GetCallerIdentityResult/Account");
    xmlFreeDoc(doc);
    if (!acct || !*acct) {
        free(acct);
        return dr_err_set(err, DR_E_AWS, "STS GetCallerIdentity returned no account");
    }
    *cache = acct;
    return 0;
}

char *dr_cmd_lock_name(const char *stack, const char *scope)
{
    return dr_xasprintf("%s-%s", stack, scope);
}

static const char *symbol(const dr_plan_item *it)
{
    switch (it->action) {
    case DR_ACT_CREATE:
        return "+";
    case DR_ACT_UPDATE:
        return "~";
    case DR_ACT_REPLACE:
        return "-/+";
    case DR_ACT_DELETE:
        return "-";
    default:
        return "=";
    }
}

void dr_cmd_print_plan(FILE *out, const dr_plan *p, int show_adopted)
{
    dr_cmd_print_plan_items(out, p, show_adopted);
    char sum[256];
    dr_cmd_plan_summary(p, sum, sizeof(sum));
    fprintf(out, "%s\n", sum);
}

void dr_cmd_print_plan_items(FILE *out, const dr_plan *p, int show_adopted)
{
    for (size_t i = 0; i < p->n; i++) {
        const dr_plan_item *it = &p->items[i];
        if (it->action == DR_ACT_NOOP && !(show_adopted && it->adopted))
            continue;
        const char *what = it->action == DR_ACT_NOOP ? "adopt" : dr_action_name(it->action);
        if (it->action == DR_ACT_DELETE && it->retain)
            what = "forget";
        fprintf(out, "%-3s %-7s %s %s", symbol(it), what, it->logical_id, it->type);
        if (it->physical_id && it->action != DR_ACT_CREATE)
            fprintf(out, " %s", it->physical_id);
        if (it->action == DR_ACT_UPDATE) {
            fputs(" (", out);
            for (size_t j = 0; j < it->nchanged; j++)
                fprintf(out, "%s%s", j ? ", " : "", it->changed[j]);
            fputs(")", out);
        } else if (it->reason &&
                   !(it->action == DR_ACT_CREATE && strcmp(it->reason, "not in state") == 0)) {
            fprintf(out, " (%s)", it->reason);
        }
        fputc('\n', out);
    }
}

void dr_cmd_plan_summary(const dr_plan *p, char *buf, size_t len)
{
    if (!dr_plan_has_changes(p))
        snprintf(buf, len, "No changes.");
    else
        snprintf(buf, len, "Plan: %zu to create, %zu to update, %zu to replace, %zu to delete.",
                 p->ncreate, p->nupdate, p->nreplace, p->ndelete);
}

json_t *dr_cmd_plan_json(const dr_plan *p)
{
    json_t *items = json_array();
    for (size_t i = 0; i < p->n; i++) {
        const dr_plan_item *it = &p->items[i];
        json_t *changed = json_array();
        for (size_t j = 0; j < it->nchanged; j++)
            json_array_append_new(changed, json_string(it->changed[j]));
        json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "logical_id", it->logical_id, "type",
                              it->type, "action", dr_action_name(it->action), "changed", changed);
        json_object_set_new(o, "reason", it->reason ? json_string(it->reason) : json_null());
        json_object_set_new(o, "physical_id",
                            it->physical_id ? json_string(it->physical_id) : json_null());
        if (it->adopted)
            json_object_set_new(o, "adopted", json_true());
        if (it->previous)
            json_object_set_new(o, "previous_copy", json_true());
        if (it->retain)
            json_object_set_new(o, "retain", json_true());
        json_array_append_new(items, o);
    }
    return json_pack("{s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o}", "changes",
                     dr_plan_has_changes(p), "summary", "create", (json_int_t)p->ncreate, "update",
                     (json_int_t)p->nupdate, "replace", (json_int_t)p->nreplace, "delete",
                     (json_int_t)p->ndelete, "unchanged", (json_int_t)p->nnoop, "adopted",
                     (json_int_t)p->nadopted, "items", items);
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void dr_cmd_print_outputs(FILE *out, json_t *outputs, const char *indent)
{
    size_t n = json_object_size(outputs), k = 0;
    if (!n)
        return;
    const char **names = dr_xcalloc(n, sizeof(char *));
    const char *name;
    json_t *v;
    json_object_foreach(outputs, name, v) names[k++] = name;
    qsort(names, n, sizeof(char *), cmp_cstr);
    for (size_t i = 0; i < n; i++) {
        v = json_object_get(outputs, names[i]);
        if (json_is_string(v)) {
            fprintf(out, "%s%s = %s\n", indent, names[i], json_string_value(v));
        } else {
            char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            fprintf(out, "%s%s = %s\n", indent, names[i], s ? s : "?");
            free(s);
        }
    }
    free(names);
}

/* ---- progress -------------------------------------------------------------- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Erases the live block and draws it again. Caller holds ui->mu. */
static void redraw(dr_ui *ui, const char *permanent)
{
    if (ui->drawn > 0)
        fprintf(ui->out, "\033[%dA\033[J", ui->drawn);
    else
        fputs("\r\033[J", ui->out);
    if (permanent)
        fputs(permanent, ui->out);
    double now = mono_s();
    ui->drawn = 0;
    for (size_t i = 0; i < ui->nfl; i++) {
        const dr_ui_flight *f = &ui->fl[i];
        fprintf(ui->out, "  %s %s (%s) %.0fs\n", f->verb, f->item->logical_id, f->item->type,
                now - f->t0);
        ui->drawn++;
    }
    fflush(ui->out);
}

static void *ticker_main(void *arg)
{
    dr_ui *ui = arg;
    pthread_mutex_lock(&ui->mu);
    while (!ui->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 500000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ui->cv, &ui->mu, &ts);
        if (!ui->stop && ui->nfl)
            redraw(ui, NULL);
    }
    pthread_mutex_unlock(&ui->mu);
    return NULL;
}

void dr_ui_start(dr_ui *ui, dr_ctx *ctx)
{
    memset(ui, 0, sizeof(*ui));
    ui->out = ctx->log.out ? ctx->log.out : stderr;
    ui->quiet = ctx->log.level < DR_LOG_NOTICE;
    ui->live = ctx->log.progress && !ui->quiet;
    pthread_mutex_init(&ui->mu, NULL);
    pthread_cond_init(&ui->cv, NULL);
    if (ui->live && pthread_create(&ui->ticker, NULL, ticker_main, ui) == 0)
        ui->ticking = 1;
}

void dr_ui_stop(dr_ui *ui)
{
    pthread_mutex_lock(&ui->mu);
    ui->stop = 1;
    pthread_cond_broadcast(&ui->cv);
    pthread_mutex_unlock(&ui->mu);
    if (ui->ticking)
        pthread_join(ui->ticker, NULL);
    if (ui->live && ui->drawn) {
        ui->nfl = 0;
        redraw(ui, NULL);
    }
    free(ui->fl);
    ui->fl = NULL;
    pthread_cond_destroy(&ui->cv);
    pthread_mutex_destroy(&ui->mu);
}

void dr_ui_event(void *ud, const dr_progress_event *ev)
{
    dr_ui *ui = ud;
    if (ui->quiet)
        return;
    pthread_mutex_lock(&ui->mu);
    if (strcmp(ev->phase, "start") == 0) {
        if (ui->live) {
            if (ui->nfl == ui->cap) {
                ui->cap = ui->cap ? ui->cap * 2 : 16;
                ui->fl = dr_xrealloc(ui->fl, ui->cap * sizeof(*ui->fl));
            }
            dr_ui_flight *f = &ui->fl[ui->nfl++];
            f->item = ev->item;
            snprintf(f->verb, sizeof(f->verb), "%s", ev->verb);
            f->t0 = mono_s();
            redraw(ui, NULL);
        }
        pthread_mutex_unlock(&ui->mu);
        return;
    }
    for (size_t i = 0; i < ui->nfl; i++)
        if (ui->fl[i].item == ev->item) {
            memmove(&ui->fl[i], &ui->fl[i + 1], (ui->nfl - i - 1) * sizeof(*ui->fl));
            ui->nfl--;
            break;
        }
    char line[1024];
    if (strcmp(ev->phase, "done") == 0) {
        ui->ndone++;
        snprintf(line, sizeof(line), "%s %s (%s)%s%s in %.1fs\n", ev->verb, ev->item->logical_id,
                 ev->item->type, ev->physical_id ? " " : "", ev->physical_id ? ev->physical_id : "",
                 ev->seconds);
    } else {
        ui->nfailed++;
        snprintf(line, sizeof(line), "FAILED %s %s (%s) after %.1fs\n", ev->verb,
                 ev->item->logical_id, ev->item->type, ev->seconds);
    }
    if (ui->live) {
        redraw(ui, line);
    } else {
        fputs(line, ui->out);
        fflush(ui->out);
    }
    pthread_mutex_unlock(&ui->mu);
}

void dr_cmd_print_state_resources(FILE *out, const dr_state *st, const char *indent)
{
    const char *id;
    json_t *e;
    json_object_foreach(st->resources, id, e)
    {
        const char *pid = dr_state_physical_id(e);
        fprintf(out, "%s%-8s %s %s %s\n", indent,
                dr_state_status(e) >= 0 ? dr_res_status_name((dr_res_status)dr_state_status(e))
                                        : "?",
                id, dr_state_type(e) ? dr_state_type(e) : "?", pid ? pid : "(no id yet)");
    }
}

static int read_answer(char *buf, size_t len)
{
    if (!fgets(buf, (int)len, stdin))
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

int dr_cmd_confirm(const char *question)
{
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    char buf[64];
    if (read_answer(buf, sizeof(buf)) != 0)
        return 0;
    return strcmp(buf, "y") == 0 || strcmp(buf, "Y") == 0 || strcmp(buf, "yes") == 0;
}

int dr_cmd_confirm_typed(const char *prompt, const char *expected)
{
    fprintf(stderr, "%s ", prompt);
    fflush(stderr);
    char buf[128];
    if (read_answer(buf, sizeof(buf)) != 0)
        return 0;
    return strcmp(buf, expected) == 0;
}
