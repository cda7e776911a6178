/*
 * test_runbook.c - the runbook language: every validation error with its
 * exact file:line:column, key path and message, the shipped runbooks
 * against the action table the lead implements, durations and ${var}
 * interpolation.
 *
 * Each test chdirs into tests/unit/fixtures/runbooks (from
 * $DRCTL_SOURCE_DIR, set by ctest, else ../.. of the working directory), so
 * diagnostics read "durations.yaml:6:14: ...". A problem test compares the
 * WHOLE diagnostic output: the message, the place, and that nothing else
 * was reported.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runbook/runbook.h"
#include "util/mem.h"

static char *source_dir;

static void setup(void)
{
    const char *src = getenv("DRCTL_SOURCE_DIR");
    source_dir = realpath(src && *src ? src : "../..", NULL);
    cr_assert(source_dir, "no source directory: set DRCTL_SOURCE_DIR");
    char *fx = dr_xasprintf("%s/tests/unit/fixtures/runbooks", source_dir);
    cr_assert(chdir(fx) == 0, "chdir %s", fx);
    free(fx);
}

static void teardown(void)
{
    free(source_dir);
}

TestSuite(runbook, .init = setup, .fini = teardown);

/* The action table of the lead's actions (names and parameters as the
 * runbooks use them); the functions are never called here. */
#define P(...) ((const char *const[]){__VA_ARGS__, NULL})
static int never(void *app, const dr_rb_call *c, json_t **d, dr_err *e)
{
    return dr_err_set(e, DR_E_INTERNAL, "not called in these tests");
}
static const dr_rb_action_def lead_actions[] = {
    {"check-bundle", NULL, P("region", "max_age"), 120, 5, 0, never, NULL},
    {"deploy", P("region", "state"), P("db_source", "global", "stack"), 2700, 600, 0, never, NULL},
    {"restore-database", P("region"), P("bundle", "jobs", "stack"), 3600, 300, 0, never, NULL},
    {"restore-objects", P("region"), P("bundle", "stack"), 3600, 120, 0, never, NULL},
    {"restore-secrets", P("region"), P("bundle", "stack"), 300, 10, 0, never, NULL},
    {"promote-replica", P("region"), NULL, 1800, 300, 0, never, NULL},
    {"scale-service", P("region"), P("count", "stack"), 600, 120, 0, never, NULL},
    {"wait-healthy", P("region"), P("timeout", "stack"), 900, 120, 0, never, NULL},
    {"switch-dns", P("to"), P("best_effort"), 300, 30, 0, never, NULL},
    {"verify", P("region"), P("what", "stack", "bundle"), 1800, 60, 1, never, NULL},
    {"teardown", P("region"), P("stack"), 3600, 600, 0, never, NULL},
    {"backup", P("region"), NULL, 3600, 300, 0, never, NULL},
};
#define NLEAD (sizeof(lead_actions) / sizeof(lead_actions[0]))

/* Loads file; returns the rc, *text the diagnostics as printed (caller frees). */
static int load(const char *file, const char *const *extra, dr_runbook *rb, char **text,
                dr_err *err)
{
    dr_diags d = {0};
    dr_err_clear(err);
    int rc = dr_runbook_load(file, lead_actions, NLEAD, extra, rb, &d, err);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    dr_diags_print(&d, f);
    fclose(f);
    dr_diags_free(&d);
    *text = buf;
    return rc;
}

/* Expects the file to fail with exactly the diagnostics `want`. */
static void expect_problems(const char *file, const char *const *extra, const char *want, int n)
{
    dr_runbook rb;
    char *text;
    dr_err err;
    int rc = load(file, extra, &rb, &text, &err);
    cr_assert_eq(rc, -1, "%s loaded", file);
    cr_assert_eq(err.code, DR_E_CONFIG);
    char msg[128];
    snprintf(msg, sizeof(msg), "%d problem%s in %s", n, n == 1 ? "" : "s", file);
    cr_assert_str_eq(err.msg, msg);
    cr_assert_str_eq(text, want, "got:\n%s", text);
    cr_assert_null(rb.steps);
    cr_assert_null(rb.name);
    free(text);
}

static const char *const extra[] = {"extra", NULL};

Test(runbook, unknown_action_with_suggestion)
{
    expect_problems(
        "unknown_action.yaml", NULL,
        "unknown_action.yaml:4:13: steps[0].action: unknown action 'restore-databse' (known: "
        "backup, check-bundle, confirm, deploy, promote-replica, restore-database, "
        "restore-objects, restore-secrets, scale-service, shell, switch-dns, teardown, verify, "
        "wait-healthy); did you mean 'restore-database'?\n"
        "unknown_action.yaml:6:13: steps[1].action: unknown action 'frobnicate' (known: "
        "backup, check-bundle, confirm, deploy, promote-replica, restore-database, "
        "restore-objects, restore-secrets, scale-service, shell, switch-dns, teardown, verify, "
        "wait-healthy)\n",
        2);
}

Test(runbook, unknown_keys)
{
    expect_problems("unknown_keys.yaml", NULL,
                    "unknown_keys.yaml:2:1: descripton: unknown key 'descripton'; did you mean "
                    "'description'?\n"
                    "unknown_keys.yaml:7:5: steps[0].retry: unknown key 'retry'; did you mean "
                    "'retries'?\n"
                    "unknown_keys.yaml:8:5: steps[0].when: unknown key 'when' (a step has name, "
                    "action, with, timeout, retries, on_failure, rto)\n",
                    3);
}

Test(runbook, bad_durations)
{
    expect_problems("durations.yaml", NULL,
                    "durations.yaml:6:14: steps[0].timeout: expected a duration like 90s, 5m, 1h "
                    "or 1h30m, got '90'; write 90s for seconds\n"
                    "durations.yaml:10:14: steps[1].timeout: expected a duration like 90s, 5m, "
                    "1h or 1h30m, got '5 minutes'\n"
                    "durations.yaml:14:14: steps[2].timeout: expected a duration like 90s, 5m, "
                    "1h or 1h30m, got '30m1h'\n"
                    "durations.yaml:18:14: steps[3].timeout: must be between 1s and 168h, got "
                    "'0s'\n",
                    4);
}

Test(runbook, retries_out_of_range)
{
    expect_problems("retries.yaml", NULL,
                    "retries.yaml:6:14: steps[0].retries: must be between 0 and 10, got 11\n"
                    "retries.yaml:10:14: steps[1].retries: must be between 0 and 10, got -1\n"
                    "retries.yaml:14:14: steps[2].retries: expected an integer from 0 to 10, got "
                    "'two'\n",
                    3);
}

Test(runbook, bad_on_failure_and_rto)
{
    expect_problems(
        "on_failure.yaml", NULL,
        "on_failure.yaml:6:17: steps[0].on_failure: expected abort, continue or rollback, got "
        "'ignore'\n"
        "on_failure.yaml:10:17: steps[1].on_failure: expected abort, continue or rollback, got "
        "'rollbak'; did you mean 'rollback'?\n"
        "on_failure.yaml:14:10: steps[2].rto: expected end (the only marker), got 'start'\n"
        "on_failure.yaml:22:10: steps[4].rto: only one step may end the RTO clock\n"
        "on_failure.yaml:27:17: finally[0].on_failure: rollback is not available in finally "
        "steps (use abort or continue)\n"
        "on_failure.yaml:28:10: finally[0].rto: finally steps never affect the RTO; mark a step "
        "under steps:\n",
        6);
}

Test(runbook, duplicate_step_names)
{
    expect_problems("duplicates.yaml", NULL,
                    "duplicates.yaml:6:11: steps[1].name: duplicate step name 'same' (first used "
                    "at line 3)\n"
                    "duplicates.yaml:10:11: finally[0].name: duplicate step name 'same' (first "
                    "used at line 3)\n",
                    2);
}

Test(runbook, missing_name_and_action)
{
    expect_problems("missing.yaml", NULL,
                    "missing.yaml:3:5: steps[0].name: required key missing: every step has a "
                    "name\n"
                    "missing.yaml:5:5: steps[1].action: required key missing: every step has an "
                    "action\n"
                    "missing.yaml:6:5: steps[2]: expected a step (a map with name and action), "
                    "got 'just a string'\n"
                    "missing.yaml:7:11: steps[3].name: must not be empty\n",
                    4);
}

Test(runbook, variables)
{
    expect_problems(
        "vars.yaml", extra,
        "vars.yaml:3:3: vars.target: 'target' is a built-in variable; the command sets it, not "
        "the runbook\n"
        "vars.yaml:5:3: vars.bad-name: 'bad-name' is not a variable name: letters, digits and "
        "'_', not starting with a digit\n"
        "vars.yaml:6:14: vars.templated: a variable's default is literal text; ${...} is not "
        "allowed here\n"
        "vars.yaml:11:16: steps[0].with.command: undefined variable '${nope}' (defined: bundle, "
        "extra, ok_var, rpo, rto, run_id, source, stack, target)\n"
        "vars.yaml:11:16: steps[0].with.command: undefined variable '${targte}'; did you mean "
        "'${target}'? (defined: bundle, extra, ok_var, rpo, rto, run_id, source, stack, "
        "target)\n"
        "vars.yaml:12:16: steps[0].with.env.X: malformed variable reference at '${': write "
        "${name} (letters, digits, '_'), or $${ for a literal ${\n",
        6);
}

Test(runbook, extra_vars_are_the_callers)
{
    /* Without "extra" among the caller's variables, ${extra} is undefined too. */
    dr_runbook rb;
    char *text;
    dr_err err;
    cr_assert_eq(load("vars.yaml", NULL, &rb, &text, &err), -1);
    cr_assert_str_eq(err.msg, "7 problems in vars.yaml");
    cr_assert(strstr(text, "vars.yaml:11:16: steps[0].with.command: undefined variable "
                           "'${extra}' (defined: bundle, ok_var, rpo, rto, run_id, source, "
                           "stack, target)\n"),
              "%s", text);
    free(text);
}

Test(runbook, parameters_per_action)
{
    expect_problems(
        "params.yaml", NULL,
        "params.yaml:5:5: steps[0].with: missing parameter 'region' for action 'deploy'\n"
        "params.yaml:5:5: steps[0].with: missing parameter 'state' for action 'deploy'\n"
        "params.yaml:5:12: steps[0].with.regoin: unknown parameter 'regoin' for action 'deploy'; "
        "did you mean 'region'? (parameters: region, state, db_source, global, stack)\n"
        "params.yaml:8:11: steps[1].with: expected a map of parameters, got a list\n"
        "params.yaml:9:5: steps[2].with: missing parameter 'to' for action 'switch-dns'\n"
        "params.yaml:13:28: steps[3].with.colour: unknown parameter 'colour' for action "
        "'confirm' (parameters: message)\n",
        6);
}

Test(runbook, top_level)
{
    expect_problems("top.yaml", NULL,
                    "top.yaml:1:1: steps: required key missing: the runbook's steps\n"
                    "top.yaml:1:7: name: 'Fail Over' is not a valid runbook name: 1 to 48 "
                    "characters of a-z, 0-9, '-' and '_', starting with a letter or digit\n"
                    "top.yaml:2:1: stepz: unknown key 'stepz'; did you mean 'steps'?\n",
                    3);
    expect_problems("empty_steps.yaml", NULL,
                    "empty_steps.yaml:2:8: steps: a runbook has at least one step\n", 1);
}

Test(runbook, yaml_syntax_error)
{
    expect_problems("syntax.yaml", NULL,
                    "syntax.yaml:5:1: YAML syntax error: did not find expected ',' or ']' (while "
                    "parsing a flow sequence at line 4, column 13)\n",
                    1);
}

Test(runbook, missing_file)
{
    dr_runbook rb;
    char *text;
    dr_err err;
    cr_assert_eq(load("no-such.yaml", NULL, &rb, &text, &err), -1);
    cr_assert_eq(err.code, DR_E_CONFIG);
    cr_assert(strncmp(text, "no-such.yaml", 12) == 0, "%s", text);
    cr_assert_eq(strchr(text, '\n') - text + 1, (long)strlen(text), "one line: %s", text);
    free(text);
}

Test(runbook, valid_file_loads_every_field)
{
    dr_runbook rb;
    char *text;
    dr_err err;
    cr_assert_eq(load("valid.yaml", NULL, &rb, &text, &err), 0, "%s %s", err.msg, text);
    cr_assert_str_eq(text, "");
    free(text);
    cr_assert_str_eq(rb.file, "valid.yaml");
    cr_assert_str_eq(rb.name, "sample");
    cr_assert_str_eq(rb.description, "every feature once");
    cr_assert_str_eq(json_string_value(json_object_get(rb.vars, "wait")), "5m");
    cr_assert_eq(rb.n, 3);
    cr_assert_eq(rb.nfinally, 1);

    const dr_rb_step *s = &rb.steps[0];
    cr_assert_str_eq(s->name, "first");
    cr_assert_str_eq(s->action, "check-bundle");
    cr_assert_eq(s->timeout_s, 120, "the action's default timeout");
    cr_assert_eq(s->retries, 0);
    cr_assert_eq(s->on_failure, DR_RB_ABORT);
    cr_assert_eq(s->line, 7);
    cr_assert_eq(s->column, 5);
    cr_assert_str_eq(json_string_value(json_object_get(s->with, "max_age")), "${rpo}");

    s = &rb.steps[1];
    cr_assert_str_eq(s->action, "shell");
    cr_assert_eq(s->timeout_s, 5400);
    cr_assert_eq(s->retries, 3);
    cr_assert_eq(s->on_failure, DR_RB_CONTINUE);
    cr_assert_eq(s->rto_end, 0);
    json_t *env = json_object_get(s->with, "env");
    cr_assert(json_is_integer(json_object_get(env, "B")), "plain 3 is an integer");

    s = &rb.steps[2];
    cr_assert_eq(s->on_failure, DR_RB_ROLLBACK);
    cr_assert_eq(s->rto_end, 1);
    cr_assert_eq(s->timeout_s, 1800);
    cr_assert_eq(s->is_finally, 0);

    s = &rb.finally[0];
    cr_assert_str_eq(s->name, "cleanup");
    cr_assert_eq(s->is_finally, 1);
    cr_assert_eq(s->on_failure, DR_RB_CONTINUE);
    cr_assert_eq(dr_runbook_step(&rb, 3), s);
    cr_assert_null(dr_runbook_step(&rb, 4));
    dr_runbook_free(&rb);
}

/* The shipped runbooks validate against the lead's table, with the order
 * the DR design asks for. */
static void load_shipped(const char *name, dr_runbook *rb)
{
    char *path = dr_xasprintf("%s/runbooks/%s.yaml", source_dir, name);
    char *text;
    dr_err err;
    cr_assert_eq(load(path, NULL, rb, &text, &err), 0, "%s: %s\n%s", path, err.msg, text);
    free(text);
    free(path);
    cr_assert_str_eq(rb->name, name);
}

static size_t index_of(const dr_runbook *rb, const char *action, const char *what)
{
    for (size_t i = 0; i < rb->n; i++)
        if (strcmp(rb->steps[i].action, action) == 0 &&
            (!what ||
             (json_string_value(json_object_get(rb->steps[i].with, "what")) &&
              strcmp(json_string_value(json_object_get(rb->steps[i].with, "what")), what) == 0)))
            return i;
    cr_assert_fail("no %s step", action);
    return 0;
}

Test(runbook, shipped_failover)
{
    dr_runbook rb;
    load_shipped("failover", &rb);
    cr_assert_str_eq(rb.steps[0].action, "confirm");
    size_t check = index_of(&rb, "check-bundle", NULL);
    size_t deploy = index_of(&rb, "deploy", NULL);
    size_t db = index_of(&rb, "restore-database", NULL);
    size_t healthy = index_of(&rb, "wait-healthy", NULL);
    size_t verify_all = index_of(&rb, "verify", "all");
    size_t dns = index_of(&rb, "switch-dns", NULL);
    cr_assert(check < deploy && deploy < db && db < healthy && healthy < verify_all);
    cr_assert(verify_all < dns, "DNS moves only after the target is verified");
    cr_assert_eq(json_is_true(json_object_get(rb.steps[dns].with, "best_effort")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(rb.steps[check].with, "max_age")), "${rpo}");
    /* The last step is a verify through DNS that ends the RTO and never blocks. */
    const dr_rb_step *last = &rb.steps[rb.n - 1];
    cr_assert_str_eq(last->action, "verify");
    cr_assert_eq(last->rto_end, 1);
    cr_assert_eq(last->on_failure, DR_RB_CONTINUE);
    cr_assert_eq(rb.nfinally, 0);
    dr_runbook_free(&rb);
}

Test(runbook, shipped_failback)
{
    dr_runbook rb;
    load_shipped("failback", &rb);
    size_t backup = index_of(&rb, "backup", NULL);
    cr_assert_str_eq(json_string_value(json_object_get(rb.steps[backup].with, "region")),
                     "${source}");
    size_t deploy = index_of(&rb, "deploy", NULL);
    cr_assert_str_eq(json_string_value(json_object_get(rb.steps[deploy].with, "region")),
                     "${target}");
    size_t dns = index_of(&rb, "switch-dns", NULL);
    cr_assert(backup < deploy && deploy < dns);
    /* After DNS: the standby returns to rest. */
    int rests = 0;
    for (size_t i = dns; i < rb.n; i++)
        if (strcmp(rb.steps[i].action, "deploy") == 0 &&
            strcmp(json_string_value(json_object_get(rb.steps[i].with, "state")), "resting") == 0 &&
            strcmp(json_string_value(json_object_get(rb.steps[i].with, "region")), "${source}") ==
                0)
            rests = 1;
    cr_assert(rests);
    cr_assert_str_eq(rb.steps[rb.n - 1].action, "verify");
    dr_runbook_free(&rb);
}

Test(runbook, shipped_drill)
{
    dr_runbook rb;
    load_shipped("drill", &rb);
    size_t deploy = index_of(&rb, "deploy", NULL);
    cr_assert_str_eq(json_string_value(json_object_get(rb.steps[deploy].with, "stack")),
                     "${stack}-drill");
    size_t v = index_of(&rb, "verify", "all");
    cr_assert_eq(rb.steps[v].rto_end, 1);
    for (size_t i = 0; i < rb.n; i++)
        cr_assert_neq(strcmp(rb.steps[i].action, "switch-dns"), 0, "a drill never moves DNS");
    cr_assert_eq(rb.nfinally, 1);
    cr_assert_str_eq(rb.finally[0].action, "teardown");
    cr_assert_str_eq(json_string_value(json_object_get(rb.finally[0].with, "stack")),
                     "${stack}-drill");
    cr_assert_eq(rb.finally[0].on_failure, DR_RB_CONTINUE);
    dr_runbook_free(&rb);
}

Test(runbook, durations)
{
    static const struct {
        const char *s;
        long v;
    } ok[] = {{"90s", 90},     {"5m", 300},       {"1h", 3600},
              {"1h30m", 5400}, {"2h5m10s", 7510}, {"0s", 0}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        long v = -1;
        cr_assert_eq(dr_rb_parse_duration(ok[i].s, &v), 0, "%s", ok[i].s);
        cr_assert_eq(v, ok[i].v, "%s", ok[i].s);
    }
    static const char *const bad[] = {"",     "90", "5 m",  "m5",  "1m1h",
                                      "1h1h", "5d", "1.5h", "-5s", "99999999999s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long v;
        cr_assert_eq(dr_rb_parse_duration(bad[i], &v), -1, "'%s'", bad[i]);
    }
    char buf[32];
    dr_rb_format_duration(90, buf, sizeof(buf));
    cr_assert_str_eq(buf, "1m30s");
    dr_rb_format_duration(3600, buf, sizeof(buf));
    cr_assert_str_eq(buf, "1h");
    dr_rb_format_duration(5410, buf, sizeof(buf));
    cr_assert_str_eq(buf, "1h30m10s");
    dr_rb_format_duration(0, buf, sizeof(buf));
    cr_assert_str_eq(buf, "0s");
}

Test(runbook, interpolation)
{
    json_t *vars = json_pack("{s:s, s:i, s:s}", "target", "us-west-2", "n", 3, "stack", "llm");
    json_t *with =
        json_pack("{s:s, s:[s, i], s:{s:s}, s:b}", "a", "${stack}-drill in ${target}", "list",
                  "$${target} stays, ${n}", 7, "map", "k", "${target}", "flag", 1);
    dr_err err;
    dr_err_clear(&err);
    json_t *r = dr_rb_interpolate(with, vars, 1, &err);
    cr_assert_not_null(r, "%s", err.msg);
    cr_assert_str_eq(json_string_value(json_object_get(r, "a")), "llm-drill in us-west-2");
    json_t *list = json_object_get(r, "list");
    cr_assert_str_eq(json_string_value(json_array_get(list, 0)), "${target} stays, 3");
    cr_assert_eq(json_integer_value(json_array_get(list, 1)), 7);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "map"), "k")),
                     "us-west-2");
    cr_assert(json_is_true(json_object_get(r, "flag")));
    json_decref(r);

    /* A variable without a value: strict fails and names it; lenient keeps it. */
    json_t *w2 = json_pack("{s:s}", "bundle", "${bundle}");
    r = dr_rb_interpolate(w2, vars, 1, &err);
    cr_assert_null(r);
    cr_assert_eq(err.code, DR_E_CONFIG);
    cr_assert_str_eq(err.msg, "variable 'bundle' has no value");
    r = dr_rb_interpolate(w2, vars, 0, &err);
    cr_assert_str_eq(json_string_value(json_object_get(r, "bundle")), "${bundle}");
    json_decref(r);
    json_decref(w2);
    json_decref(with);
    json_decref(vars);
}

/* A caller's action replaces a built-in of the same name; unknown names are NULL. */
Test(runbook, action_lookup)
{
    size_t nb;
    const dr_rb_action_def *b = dr_rb_builtin_actions(&nb);
    cr_assert_eq(nb, 2);
    cr_assert_eq(dr_rb_action_find(NULL, 0, "shell"), &b[1]);
    cr_assert_eq(dr_rb_action_find(NULL, 0, "confirm"), &b[0]);
    dr_rb_action_def mine[] = {{"shell", P("cmd"), NULL, 5, 1, 0, never, NULL}};
    cr_assert_eq(dr_rb_action_find(mine, 1, "shell"), &mine[0]);
    cr_assert_null(dr_rb_action_find(mine, 1, "nope"));
}
