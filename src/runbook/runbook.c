/*
 * runbook.c - load and validate runbooks (see runbook.h, docs/runbooks.md).
 *
 * The file is read with yaml_doc (the same located tree region profiles
 * use), then walked once: every key, every value and every ${var} reference
 * is checked and each problem becomes a diagnostic at the node where it is
 * written. The dr_runbook is built during the same walk and thrown away at
 * the end when any problem was found, so a caller never sees a runbook that
 * is half right.
 */
#include "runbook/runbook.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stack/yaml_doc.h"
#include "util/buf.h"
#include "util/mem.h"

const char *const dr_rb_builtin_vars[] = {"target", "source", "stack", "bundle",
                                          "run_id", "rto",    "rpo",   NULL};

/* ---- clocks ------------------------------------------------------------ */

double dr_rb_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double dr_rb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int dr_rb_expired(const dr_rb_call *call)
{
    if (call->interrupted && *call->interrupted)
        return 1;
    return call->deadline > 0 && dr_rb_mono() >= call->deadline;
}

/* ---- actions ----------------------------------------------------------- */

const dr_rb_action_def *dr_rb_action_find(const dr_rb_action_def *actions, size_t nactions,
                                          const char *name)
{
    for (size_t i = 0; name && i < nactions; i++)
        if (strcmp(actions[i].name, name) == 0)
            return &actions[i];
    size_t nb;
    const dr_rb_action_def *b = dr_rb_builtin_actions(&nb);
    for (size_t i = 0; name && i < nb; i++)
        if (strcmp(b[i].name, name) == 0)
            return &b[i];
    return NULL;
}

const dr_rb_step *dr_runbook_step(const dr_runbook *rb, size_t index)
{
    if (index < rb->n)
        return &rb->steps[index];
    if (index - rb->n < rb->nfinally)
        return &rb->finally[index - rb->n];
    return NULL;
}

/* ---- durations --------------------------------------------------------- */

int dr_rb_parse_duration(const char *s, long *out)
{
    static const struct {
        char unit;
        long mult;
    } units[] = {{'h', 3600}, {'m', 60}, {'s', 1}};
    if (!s || !*s)
        return -1;
    long total = 0;
    size_t next = 0; /* units must come in order, each at most once */
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        long v = 0;
        while (isdigit((unsigned char)*p)) {
            if (v > 1000000)
                return -1;
            v = v * 10 + (*p++ - '0');
        }
        size_t u = next;
        while (u < 3 && units[u].unit != *p)
            u++;
        if (u == 3)
            return -1; /* no unit, or an unknown or repeated one */
        total += v * units[u].mult;
        if (total > 100L * 24 * 3600)
            return -1;
        next = u + 1;
        p++;
    }
    *out = total;
    return 0;
}

void dr_rb_format_duration(long seconds, char *out, size_t cap)
{
    long h = seconds / 3600, m = seconds / 60 % 60, sec = seconds % 60;
    dr_buf b = DR_BUF_INIT;
    if (h)
        dr_buf_printf(&b, "%ldh", h);
    if (m)
        dr_buf_printf(&b, "%ldm", m);
    if (sec || seconds == 0)
        dr_buf_printf(&b, "%lds", sec);
    snprintf(out, cap, "%s", dr_buf_cstr(&b));
    dr_buf_free(&b);
}

/* ---- ${var} references ------------------------------------------------- */

static int var_char(char c, int first)
{
    return c == '_' || isalpha((unsigned char)c) || (!first && isdigit((unsigned char)c));
}

/*
 * Calls fn for each ${name} in s with the name's text and length; "$${" is
 * an escaped "${" and no reference. -1 at the first malformed reference
 * ("${" without a name and a closing "}"), with *bad_at pointing at it.
 */
typedef void (*ref_fn)(void *ud, const char *name, size_t len);

static int scan_refs(const char *s, ref_fn fn, void *ud, const char **bad_at)
{
    for (const char *p = s; *p; p++) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            p += 2;
            continue;
        }
        if (p[0] != '$' || p[1] != '{')
            continue;
        const char *name = p + 2;
        size_t len = 0;
        while (name[len] && var_char(name[len], len == 0))
            len++;
        if (len == 0 || name[len] != '}') {
            *bad_at = p;
            return -1;
        }
        if (fn)
            fn(ud, name, len);
        p = name + len;
    }
    return 0;
}

typedef struct interp_ctx {
    const json_t *vars;
    int strict;
    dr_err *err;
    int failed;
} interp_ctx;

/* The text of a variable's value, or NULL when it has none. */
static const char *var_text(const json_t *vars, const char *name, size_t len, char *num, size_t cap)
{
    char key[128];
    if (len >= sizeof(key))
        return NULL;
    memcpy(key, name, len);
    key[len] = '\0';
    const json_t *v = json_object_get(vars, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(num, cap, "%lld", (long long)json_integer_value(v));
        return num;
    }
    if (json_is_real(v)) {
        snprintf(num, cap, "%g", json_real_value(v));
        return num;
    }
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    return NULL;
}

static json_t *interp_string(interp_ctx *c, const char *s)
{
    dr_buf b = DR_BUF_INIT;
    for (const char *p = s; *p; p++) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            dr_buf_puts(&b, "${");
            p += 2;
            continue;
        }
        if (p[0] != '$' || p[1] != '{') {
            dr_buf_putc(&b, *p);
            continue;
        }
        const char *name = p + 2;
        size_t len = 0;
        while (name[len] && var_char(name[len], len == 0))
            len++;
        if (len == 0 || name[len] != '}') {
            /* Validation rejects these; left as written when not strict. */
            if (c->strict && !c->failed) {
                dr_err_set(c->err, DR_E_CONFIG, "malformed variable reference in '%s'", s);
                c->failed = 1;
            }
            dr_buf_putc(&b, *p);
            continue;
        }
        char num[64];
        const char *val = var_text(c->vars, name, len, num, sizeof(num));
        if (val) {
            dr_buf_puts(&b, val);
        } else if (c->strict) {
            if (!c->failed) {
                dr_err_set(c->err, DR_E_CONFIG, "variable '%.*s' has no value", (int)len, name);
                if (len == 6 && strncmp(name, "bundle", 6) == 0)
                    dr_err_hint(c->err, "an earlier step sets it (check-bundle or backup)");
                else
                    dr_err_hint(c->err, "the command or an earlier step sets it");
                c->failed = 1;
            }
        } else {
            dr_buf_append(&b, p, len + 3);
        }
        p = name + len;
    }
    char *t = dr_buf_detach(&b);
    json_t *r = json_string(t);
    free(t);
    return r ? r : json_string("");
}

static json_t *interp(interp_ctx *c, const json_t *v)
{
    if (json_is_string(v))
        return interp_string(c, json_string_value(v));
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) json_object_set_new(o, k, interp(c, x));
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, interp(c, x));
        return a;
    }
    return v ? json_deep_copy(v) : json_null();
}

json_t *dr_rb_interpolate(const json_t *v, const json_t *vars, int strict, dr_err *err)
{
    interp_ctx c = {vars, strict, err, 0};
    json_t *r = interp(&c, v);
    if (c.failed) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* ---- suggestions ------------------------------------------------------- */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
            size_t sub = d[i - 1][j - 1] + !same;
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

/* A typo (one edit in a short word, two in a longer one) or an
 * abbreviation of at least 4 characters, give or take the last one
 * ("restore-data" for "restore-database", "retry" for "retries"). Smaller is
 * closer; 0 when not close at all. */
static size_t closeness(const char *typed, const char *name)
{
    size_t d = edit_distance(typed, name);
    if (d <= (strlen(typed) >= 5 ? 2u : 1u) && d < strlen(typed))
        return d + 1;
    /* "retry" for "retries": all but the last character is a prefix. */
    size_t lt = strlen(typed), common = 0;
    while (typed[common] && typed[common] == name[common])
        common++;
    if (lt >= 4 && common + 1 >= lt)
        return 10;
    return 0;
}

/* The closest of names[0..n) to typed, or NULL. */
static const char *suggest(const char *typed, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t bestc = 0;
    for (size_t i = 0; i < n; i++) {
        size_t c = closeness(typed, names[i]);
        if (c && (!best || c < bestc)) {
            best = names[i];
            bestc = c;
        }
    }
    return best;
}

/* ---- the loader -------------------------------------------------------- */

/* Names that a step may use as ${var}: collected before the steps are walked. */
typedef struct names {
    const char **v;
    size_t n;
} names;

static void names_add(names *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0)
            return;
    s->v = dr_xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
    s->v[s->n++] = name;
}

static int names_has(const names *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->v[i]) == len && strncmp(s->v[i], name, len) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "a, b, c" (caller frees). */
static char *names_join(const names *s)
{
    dr_buf b = DR_BUF_INIT;
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            dr_buf_puts(&b, ", ");
        dr_buf_puts(&b, s->v[i]);
    }
    return dr_buf_detach(&b);
}

typedef struct loader {
    const char *file;
    dr_diags *diags;
    const dr_rb_action_def *actions;
    size_t nactions;
    names actions_known; /* sorted, for messages */
    names vars;          /* every defined variable name, sorted */
    names steps_seen;    /* step names so far, for duplicates */
    const dr_ynode **step_nodes;
    int rto_marks; /* steps with rto: end */
} loader;

static void problem(loader *L, const dr_ynode *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(loader *L, const dr_ynode *at, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    dr_diags_add(L->diags, L->file, at ? at->line : 0, at ? at->col : 0, path, "%s", msg);
}

/* A scalar that is text: not a map/list/empty value. Reports otherwise. */
static const char *want_string(loader *L, const dr_ynode *n, const char *path)
{
    if (n->kind == DR_Y_INVALID)
        return NULL;
    if (n->kind != DR_Y_SCALAR || dr_yis_null(n)) {
        char *got = dr_ydescribe(n);
        problem(L, n, path, "expected a string, got %s", got);
        free(got);
        return NULL;
    }
    if (n->value[0] == '\0') {
        problem(L, n, path, "must not be empty");
        return NULL;
    }
    return n->value;
}

/* The YAML value as JSON: plain null/true/false/integers keep their YAML
 * meaning, every other scalar is a string. */
static json_t *to_json(const dr_ynode *n)
{
    switch (n->kind) {
    case DR_Y_SCALAR:
        if (dr_yis_null(n))
            return json_null();
        if (dr_yis_bool(n))
            return json_boolean(strcmp(n->value, "true") == 0);
        if (dr_yis_int(n)) {
            errno = 0;
            long long x = strtoll(n->value, NULL, 10);
            if (errno == 0)
                return json_integer(x);
        }
        {
            json_t *s = json_string(n->value); /* NULL only for invalid UTF-8 */
            return s ? s : json_string("");
        }
    case DR_Y_SEQ: {
        json_t *a = json_array();
        for (size_t i = 0; i < n->nitems; i++)
            json_array_append_new(a, to_json(n->items[i]));
        return a;
    }
    case DR_Y_MAP: {
        json_t *o = json_object();
        for (size_t i = 0; i < n->npairs; i++)
            json_object_set_new(o, n->pairs[i].key->value, to_json(n->pairs[i].value));
        return o;
    }
    case DR_Y_INVALID:
        break;
    }
    return json_null();
}

typedef struct ref_check {
    loader *L;
    const dr_ynode *at;
    const char *path;
} ref_check;

static void check_ref(void *ud, const char *name, size_t len)
{
    ref_check *r = ud;
    if (names_has(&r->L->vars, name, len))
        return;
    char *typed = dr_xstrndup(name, len);
    char *known = names_join(&r->L->vars);
    const char *near = suggest(typed, r->L->vars.v, r->L->vars.n);
    if (near)
        problem(r->L, r->at, r->path,
                "undefined variable '${%s}'; did you mean '${%s}'? (defined: %s)", typed, near,
                known);
    else
        problem(r->L, r->at, r->path, "undefined variable '${%s}' (defined: %s)", typed, known);
    free(known);
    free(typed);
}

/* Every string under n: malformed and undefined ${var} references. */
static void check_refs(loader *L, const dr_ynode *n, const char *path)
{
    if (n->kind == DR_Y_SCALAR) {
        ref_check r = {L, n, path};
        const char *bad_at = NULL;
        if (scan_refs(n->value, check_ref, &r, &bad_at) != 0)
            problem(L, n, path,
                    "malformed variable reference at '%.20s': write ${name} (letters, digits, "
                    "'_'), or $${ for a literal ${",
                    bad_at);
    } else if (n->kind == DR_Y_SEQ) {
        for (size_t i = 0; i < n->nitems; i++) {
            char *p = dr_xasprintf("%s[%zu]", path, i);
            check_refs(L, n->items[i], p);
            free(p);
        }
    } else if (n->kind == DR_Y_MAP) {
        for (size_t i = 0; i < n->npairs; i++) {
            char *p = dr_xasprintf("%s.%s", path, n->pairs[i].key->value);
            check_refs(L, n->pairs[i].value, p);
            free(p);
        }
    }
}

static int in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

/* "region, state, db_source" of an action's parameters (caller frees). */
static char *param_list(const dr_rb_action_def *a)
{
    names s = {0};
    for (size_t i = 0; a->required && a->required[i]; i++)
        names_add(&s, a->required[i]);
    for (size_t i = 0; a->optional && a->optional[i]; i++)
        names_add(&s, a->optional[i]);
    char *r = s.n ? names_join(&s) : dr_xstrdup("none");
    free(s.v);
    return r;
}

static void check_params(loader *L, const dr_rb_action_def *a, const dr_ynode *with,
                         const dr_ynode *step, const char *spath)
{
    char *wpath = dr_xasprintf("%s.with", spath);
    for (size_t i = 0; with && i < with->npairs; i++) {
        const dr_ypair *pr = &with->pairs[i];
        const char *k = pr->key->value;
        if (in_list(a->required, k) || in_list(a->optional, k))
            continue;
        char *path = dr_xasprintf("%s.%s", wpath, k);
        names all = {0};
        for (size_t j = 0; a->required && a->required[j]; j++)
            names_add(&all, a->required[j]);
        for (size_t j = 0; a->optional && a->optional[j]; j++)
            names_add(&all, a->optional[j]);
        const char *near = suggest(k, all.v, all.n);
        char *list = param_list(a);
        if (near)
            problem(L, pr->key, path,
                    "unknown parameter '%s' for action '%s'; did you mean '%s'? (parameters: %s)",
                    k, a->name, near, list);
        else
            problem(L, pr->key, path, "unknown parameter '%s' for action '%s' (parameters: %s)", k,
                    a->name, list);
        free(list);
        free(all.v);
        free(path);
    }
    for (size_t j = 0; a->required && a->required[j]; j++) {
        if (with && dr_ymap_get(with, a->required[j]))
            continue;
        /* Placed at `with:` when there is one, else at the step. */
        const dr_ypair *wp = dr_ymap_pair(step, "with");
        problem(L, wp ? wp->key : step, wpath, "missing parameter '%s' for action '%s'",
                a->required[j], a->name);
    }
    free(wpath);
}

static const char *const step_keys[] = {"name",    "action",     "with", "timeout",
                                        "retries", "on_failure", "rto",  NULL};
static const char *const on_failure_names[] = {"abort", "continue", "rollback", NULL};

static void step_free(dr_rb_step *s)
{
    free(s->name);
    free(s->action);
    json_decref(s->with);
}

static void load_step(loader *L, const dr_ynode *n, const char *path, int is_finally, dr_rb_step *s)
{
    memset(s, 0, sizeof(*s));
    s->line = n->line;
    s->column = n->col;
    s->is_finally = is_finally;
    s->on_failure = DR_RB_ABORT;
    s->timeout_s = -1;
    if (n->kind == DR_Y_INVALID)
        return;
    if (n->kind != DR_Y_MAP) {
        char *got = dr_ydescribe(n);
        problem(L, n, path, "expected a step (a map with name and action), got %s", got);
        free(got);
        return;
    }
    for (size_t i = 0; i < n->npairs; i++) {
        const char *k = n->pairs[i].key->value;
        if (in_list(step_keys, k))
            continue;
        char *kp = dr_xasprintf("%s.%s", path, k);
        size_t nk = sizeof(step_keys) / sizeof(step_keys[0]) - 1;
        const char *near = suggest(k, (const char *const *)step_keys, nk);
        if (near)
            problem(L, n->pairs[i].key, kp, "unknown key '%s'; did you mean '%s'?", k, near);
        else
            problem(L, n->pairs[i].key, kp,
                    "unknown key '%s' (a step has name, action, with, timeout, retries, "
                    "on_failure, rto)",
                    k);
        free(kp);
    }

    char *p;
    const dr_ynode *v;
    /* name */
    p = dr_xasprintf("%s.name", path);
    if (!(v = dr_ymap_get(n, "name"))) {
        problem(L, n, p, "required key missing: every step has a name");
    } else {
        const char *name = want_string(L, v, p);
        if (name) {
            if (names_has(&L->steps_seen, name, strlen(name))) {
                const dr_ynode *first = NULL;
                for (size_t i = 0; i < L->steps_seen.n; i++)
                    if (strcmp(L->steps_seen.v[i], name) == 0)
                        first = L->step_nodes[i];
                problem(L, v, p, "duplicate step name '%s' (first used at line %d)", name,
                        first ? first->line : 0);
            } else {
                L->step_nodes =
                    dr_xrealloc(L->step_nodes, (L->steps_seen.n + 1) * sizeof(*L->step_nodes));
                L->step_nodes[L->steps_seen.n] = v;
                names_add(&L->steps_seen, v->value);
            }
            s->name = dr_xstrdup(name);
        }
    }
    free(p);

    /* action */
    const dr_rb_action_def *a = NULL;
    p = dr_xasprintf("%s.action", path);
    if (!(v = dr_ymap_get(n, "action"))) {
        problem(L, n, p, "required key missing: every step has an action");
    } else {
        const char *act = want_string(L, v, p);
        if (act) {
            a = dr_rb_action_find(L->actions, L->nactions, act);
            if (!a) {
                char *known = names_join(&L->actions_known);
                const char *near = suggest(act, L->actions_known.v, L->actions_known.n);
                if (near)
                    problem(L, v, p, "unknown action '%s' (known: %s); did you mean '%s'?", act,
                            known, near);
                else
                    problem(L, v, p, "unknown action '%s' (known: %s)", act, known);
                free(known);
            }
            s->action = dr_xstrdup(act);
        }
    }
    free(p);

    /* with */
    p = dr_xasprintf("%s.with", path);
    const dr_ynode *with = dr_ymap_get(n, "with");
    int with_ok = 1;
    if (with && with->kind != DR_Y_MAP && !dr_yis_null(with)) {
        with_ok = 0;
        if (with->kind != DR_Y_INVALID) {
            char *got = dr_ydescribe(with);
            problem(L, with, p, "expected a map of parameters, got %s", got);
            free(got);
        }
    }
    if (with && with->kind == DR_Y_MAP) {
        s->with = to_json(with);
        check_refs(L, with, p);
    } else {
        s->with = json_object();
    }
    if (a && with_ok)
        check_params(L, a, with && with->kind == DR_Y_MAP ? with : NULL, n, path);
    free(p);

    /* timeout */
    p = dr_xasprintf("%s.timeout", path);
    if ((v = dr_ymap_get(n, "timeout")) && v->kind != DR_Y_INVALID) {
        long secs;
        if (v->kind != DR_Y_SCALAR || dr_rb_parse_duration(v->value, &secs) != 0) {
            char *got = dr_ydescribe(v);
            if (v->kind == DR_Y_SCALAR && dr_yis_int(v))
                problem(L, v, p,
                        "expected a duration like 90s, 5m, 1h or 1h30m, got %s; "
                        "write %ss for seconds",
                        got, v->value);
            else
                problem(L, v, p, "expected a duration like 90s, 5m, 1h or 1h30m, got %s", got);
            free(got);
        } else if (secs < 1 || secs > 7 * 24 * 3600) {
            problem(L, v, p, "must be between 1s and 168h, got '%s'", v->value);
        } else {
            s->timeout_s = secs;
        }
    }
    free(p);
    if (s->timeout_s < 0)
        s->timeout_s = a && a->default_timeout_s > 0 ? a->default_timeout_s : 1800;

    /* retries */
    p = dr_xasprintf("%s.retries", path);
    if ((v = dr_ymap_get(n, "retries")) && v->kind != DR_Y_INVALID) {
        long long r = dr_yis_int(v) ? strtoll(v->value, NULL, 10) : -1;
        if (!dr_yis_int(v)) {
            char *got = dr_ydescribe(v);
            problem(L, v, p, "expected an integer from 0 to 10, got %s", got);
            free(got);
        } else if (r < 0 || r > 10) {
            problem(L, v, p, "must be between 0 and 10, got %s", v->value);
        } else {
            s->retries = (int)r;
        }
    }
    free(p);

    /* on_failure */
    p = dr_xasprintf("%s.on_failure", path);
    if ((v = dr_ymap_get(n, "on_failure")) && v->kind != DR_Y_INVALID) {
        int found = -1;
        for (int i = 0; v->kind == DR_Y_SCALAR && on_failure_names[i]; i++)
            if (strcmp(v->value, on_failure_names[i]) == 0)
                found = i;
        if (found < 0) {
            char *got = dr_ydescribe(v);
            const char *near = v->kind == DR_Y_SCALAR
                                   ? suggest(v->value, (const char *const *)on_failure_names, 3)
                                   : NULL;
            if (near)
                problem(L, v, p, "expected abort, continue or rollback, got %s; did you mean '%s'?",
                        got, near);
            else
                problem(L, v, p, "expected abort, continue or rollback, got %s", got);
            free(got);
        } else if (found == DR_RB_ROLLBACK && is_finally) {
            problem(L, v, p, "rollback is not available in finally steps (use abort or continue)");
        } else {
            s->on_failure = (dr_rb_on_failure)found;
        }
    }
    free(p);

    /* rto */
    p = dr_xasprintf("%s.rto", path);
    if ((v = dr_ymap_get(n, "rto")) && v->kind != DR_Y_INVALID) {
        if (v->kind != DR_Y_SCALAR || strcmp(v->value, "end") != 0) {
            char *got = dr_ydescribe(v);
            problem(L, v, p, "expected end (the only marker), got %s", got);
            free(got);
        } else if (is_finally) {
            problem(L, v, p, "finally steps never affect the RTO; mark a step under steps:");
        } else if (L->rto_marks++ > 0) {
            problem(L, v, p, "only one step may end the RTO clock");
        } else {
            s->rto_end = 1;
        }
    }
    free(p);
}

static void load_steps(loader *L, const dr_ynode *list, const char *key, int is_finally,
                       dr_rb_step **out, size_t *nout)
{
    if (list->kind == DR_Y_INVALID)
        return;
    if (list->kind != DR_Y_SEQ) {
        char *got = dr_ydescribe(list);
        problem(L, list, key, "expected a list of steps, got %s", got);
        free(got);
        return;
    }
    if (list->nitems == 0 && !is_finally) {
        problem(L, list, key, "a runbook has at least one step");
        return;
    }
    *out = dr_xcalloc(list->nitems ? list->nitems : 1, sizeof(**out));
    *nout = list->nitems;
    for (size_t i = 0; i < list->nitems; i++) {
        char *p = dr_xasprintf("%s[%zu]", key, i);
        load_step(L, list->items[i], p, is_finally, &(*out)[i]);
        free(p);
    }
}

static int valid_rb_name(const char *s)
{
    size_t len = strlen(s);
    if (len < 1 || len > 48 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
        return 0;
    for (const char *c = s; *c; c++)
        if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-' || *c == '_'))
            return 0;
    return 1;
}

static const char *const top_keys[] = {"name", "description", "vars", "steps", "finally", NULL};

static int diag_cmp(const void *pa, const void *pb)
{
    const dr_diag *a = pa, *b = pb;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    if (a->column != b->column)
        return a->column < b->column ? -1 : 1;
    int c = strcmp(a->path, b->path);
    return c ? c : strcmp(a->message, b->message);
}

void dr_runbook_free(dr_runbook *rb)
{
    if (!rb)
        return;
    for (size_t i = 0; rb->steps && i < rb->n; i++)
        step_free(&rb->steps[i]);
    for (size_t i = 0; rb->finally && i < rb->nfinally; i++)
        step_free(&rb->finally[i]);
    free(rb->steps);
    free(rb->finally);
    free(rb->file);
    free(rb->name);
    free(rb->description);
    json_decref(rb->vars);
    memset(rb, 0, sizeof(*rb));
}

int dr_runbook_load(const char *path, const dr_rb_action_def *actions, size_t nactions,
                    const char *const *extra_vars, dr_runbook *out, dr_diags *diags, dr_err *err)
{
    memset(out, 0, sizeof(*out));
    size_t first = diags->n;
    dr_ydoc *doc = NULL;
    loader L = {.file = path, .diags = diags, .actions = actions, .nactions = nactions};
    dr_runbook rb = {0};
    rb.file = dr_xstrdup(path);
    rb.vars = json_object();

    if (dr_ydoc_load(path, &doc, diags) != 0)
        goto done;
    const dr_ynode *root = doc->root;
    if (!root) {
        dr_diags_add(diags, path, 0, 0, "", "the file is empty: a runbook has a name and steps");
        goto done;
    }
    if (root->kind != DR_Y_MAP) {
        char *got = dr_ydescribe(root);
        problem(&L, root, "", "expected a map with name and steps, got %s", got);
        free(got);
        goto done;
    }

    /* Known actions (sorted, deduplicated) and defined variables, for the
     * checks and their messages. */
    for (size_t i = 0; i < nactions; i++)
        names_add(&L.actions_known, actions[i].name);
    size_t nb;
    const dr_rb_action_def *b = dr_rb_builtin_actions(&nb);
    for (size_t i = 0; i < nb; i++)
        names_add(&L.actions_known, b[i].name);
    qsort(L.actions_known.v, L.actions_known.n, sizeof(char *), cmp_str);
    for (size_t i = 0; dr_rb_builtin_vars[i]; i++)
        names_add(&L.vars, dr_rb_builtin_vars[i]);
    for (size_t i = 0; extra_vars && extra_vars[i]; i++)
        names_add(&L.vars, extra_vars[i]);

    for (size_t i = 0; i < root->npairs; i++) {
        const char *k = root->pairs[i].key->value;
        if (in_list(top_keys, k))
            continue;
        const char *near = suggest(k, (const char *const *)top_keys, 5);
        if (near)
            problem(&L, root->pairs[i].key, k, "unknown key '%s'; did you mean '%s'?", k, near);
        else
            problem(&L, root->pairs[i].key, k,
                    "unknown key '%s' (a runbook has name, description, vars, steps, finally)", k);
    }

    const dr_ynode *v;
    if (!(v = dr_ymap_get(root, "name"))) {
        problem(&L, root, "name", "required key missing: the runbook's name");
    } else {
        const char *name = want_string(&L, v, "name");
        if (name && !valid_rb_name(name))
            problem(&L, v, "name",
                    "'%s' is not a valid runbook name: 1 to 48 characters of a-z, 0-9, '-' and "
                    "'_', starting with a letter or digit",
                    name);
        else if (name)
            rb.name = dr_xstrdup(name);
    }
    if ((v = dr_ymap_get(root, "description")) && !dr_yis_null(v)) {
        const char *d = want_string(&L, v, "description");
        if (d)
            rb.description = dr_xstrdup(d);
    }
    if (!rb.description)
        rb.description = dr_xstrdup("");

    if ((v = dr_ymap_get(root, "vars")) && !dr_yis_null(v) && v->kind != DR_Y_INVALID) {
        if (v->kind != DR_Y_MAP) {
            char *got = dr_ydescribe(v);
            problem(&L, v, "vars", "expected a map of variable names to values, got %s", got);
            free(got);
        } else {
            for (size_t i = 0; i < v->npairs; i++) {
                const dr_ypair *pr = &v->pairs[i];
                const char *k = pr->key->value;
                char *p = dr_xasprintf("vars.%s", k);
                const char *bad_at = NULL;
                int ok = 1;
                for (size_t j = 0; k[j]; j++)
                    if (!var_char(k[j], j == 0))
                        ok = 0;
                if (!ok || !k[0]) {
                    problem(&L, pr->key, p,
                            "'%s' is not a variable name: letters, digits and '_', not starting "
                            "with a digit",
                            k);
                } else if (in_list(dr_rb_builtin_vars, k)) {
                    problem(&L, pr->key, p,
                            "'%s' is a built-in variable; the command sets it, not the runbook", k);
                } else if (pr->value->kind != DR_Y_SCALAR || dr_yis_null(pr->value)) {
                    if (pr->value->kind != DR_Y_INVALID) {
                        char *got = dr_ydescribe(pr->value);
                        problem(&L, pr->value, p, "expected a value (a string or number), got %s",
                                got);
                        free(got);
                    }
                } else if (scan_refs(pr->value->value, NULL, NULL, &bad_at) != 0 ||
                           strstr(pr->value->value, "${")) {
                    /* Defaults are literal: one level of variables keeps the
                     * meaning of a step's parameters obvious. */
                    problem(&L, pr->value, p,
                            "a variable's default is literal text; ${...} is not allowed here");
                } else {
                    json_object_set_new(rb.vars, k, json_string(pr->value->value));
                    names_add(&L.vars, k);
                }
                free(p);
            }
        }
    }
    qsort(L.vars.v, L.vars.n, sizeof(char *), cmp_str);

    if (!(v = dr_ymap_get(root, "steps")))
        problem(&L, root, "steps", "required key missing: the runbook's steps");
    else
        load_steps(&L, v, "steps", 0, &rb.steps, &rb.n);
    if ((v = dr_ymap_get(root, "finally")) && !dr_yis_null(v))
        load_steps(&L, v, "finally", 1, &rb.finally, &rb.nfinally);

done:
    free(L.actions_known.v);
    free(L.vars.v);
    free(L.steps_seen.v);
    free(L.step_nodes);
    dr_ydoc_free(doc);
    size_t problems = diags->n - first;
    if (problems) {
        qsort(diags->items + first, problems, sizeof(*diags->items), diag_cmp);
        dr_runbook_free(&rb);
        dr_err_set(err, DR_E_CONFIG, "%zu problem%s in %s", problems, problems == 1 ? "" : "s",
                   path);
        return dr_err_hint(err, "docs/runbooks.md describes the runbook format and the actions");
    }
    *out = rb;
    return 0;
}
