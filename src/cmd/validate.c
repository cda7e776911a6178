/*
 * validate.c - `drctl validate [--config-dir DIR]`: are the region profiles
 * right?
 *
 * Reads the profile directory the way every other command will, so a clean
 * validate means the others will accept the files. Every problem is shown
 * at once, as file:line:column: key: message, so an editor (or a human) can
 * fix them in one go; no AWS call is made.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/commands.h"
#include "stack/profile.h"

static const char *config_dir_default(void)
{
    const char *env = getenv("DRCTL_CONFIG_DIR");
    return env && *env ? env : "regions";
}

static void print_ok_text(const dr_profile_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        const dr_region_profile *p = &set->regions[i];
        printf("%-15s %-8s %-24s %-19s %s\n", p->region, dr_role_name(p->role), p->stack,
               dr_strategy_name(p->dr.strategy), p->network.cidr);
    }
    printf("%zu region%s valid\n", set->n, set->n == 1 ? "" : "s");
}

static void print_ok_json(const dr_profile_set *set)
{
    json_t *regions = json_array();
    for (size_t i = 0; i < set->n; i++) {
        const dr_region_profile *p = &set->regions[i];
        json_array_append_new(
            regions, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i}", "region", p->region,
                               "file", p->file, "role", dr_role_name(p->role), "stack", p->stack,
                               "environment", p->environment, "strategy",
                               dr_strategy_name(p->dr.strategy), "cidr", p->network.cidr,
                               "rto_minutes", p->dr.rto_minutes, "rpo_minutes", p->dr.rpo_minutes));
    }
    json_t *out = json_pack("{s:b, s:o}", "ok", 1, "regions", regions);
    char *s = json_dumps(out, JSON_INDENT(2));
    puts(s);
    free(s);
    json_decref(out);
}

static void print_problems_json(const dr_diags *d, const dr_err *err)
{
    json_t *problems = json_array();
    for (size_t i = 0; i < d->n; i++) {
        const dr_diag *g = &d->items[i];
        json_array_append_new(problems, json_pack("{s:s, s:i, s:i, s:s, s:s}", "file", g->file,
                                                  "line", g->line, "column", g->column, "path",
                                                  g->path, "message", g->message));
    }
    json_t *out = json_pack("{s:b, s:s, s:o}", "ok", 0, "error", err->msg, "problems", problems);
    char *s = json_dumps(out, JSON_INDENT(2));
    puts(s);
    free(s);
    json_decref(out);
}

int cmd_validate(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    static const struct option longopts[] = {{"config-dir", required_argument, NULL, 'c'},
                                             {NULL, 0, NULL, 0}};
    const dr_command *self = dr_command_find("validate");
    const char *dir = config_dir_default();
    int c;
    while ((c = dr_getopt(self, argc, argv, ":", longopts, err)) != -1) {
        if (c == -2)
            return -1;
        if (c == 'c')
            dir = optarg;
    }
    if (optind < argc) {
        dr_err_set(err, DR_E_USAGE, "'validate' takes no arguments, got '%s'", argv[optind]);
        return dr_err_hint(err, "see 'drctl validate --help'");
    }

    dr_profile_set set;
    dr_diags diags = {0};
    int rc = dr_profiles_load(dir, &set, &diags, err);
    if (rc != 0) {
        if (ctx->output == DR_OUTPUT_JSON)
            print_problems_json(&diags, err);
        else
            dr_diags_print(&diags, stderr);
        dr_diags_free(&diags);
        return -1;
    }
    if (ctx->output == DR_OUTPUT_JSON)
        print_ok_json(&set);
    else
        print_ok_text(&set);
    dr_profiles_free(&set);
    dr_diags_free(&diags);
    return 0;
}
