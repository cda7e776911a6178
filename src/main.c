/*
 * main.c - drctl's entry point: global options, then the command table.
 *
 * Global options are accepted anywhere before "--" (as the AWS CLI does), so
 * `drctl doctor --region us-west-2` and `drctl --region us-west-2 doctor`
 * mean the same. Everything else is left, in order, to the command.
 */
#include <curl/curl.h>
#include <libxml/parser.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd/commands.h"
#include "util/mem.h"

/* Levenshtein distance, for "did you mean" hints on short words. */
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
            size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

typedef struct globals {
    int help;
    int version;
    int verbose;
    int quiet;
    int no_progress;
} globals;

/* Takes the value of a global option: "--opt=value" or "--opt value". */
static int take_value(int argc, char **argv, int *i, const char *opt, const char **out, dr_err *err)
{
    size_t n = strlen(opt);
    if (argv[*i][n] == '=') {
        *out = argv[*i] + n + 1;
        return 0;
    }
    if (*i + 1 >= argc) {
        dr_err_set(err, DR_E_USAGE, "option '%s' needs a value", opt);
        return dr_err_hint(err, "see 'drctl --help'");
    }
    *out = argv[++*i];
    return 0;
}

static int is_opt(const char *arg, const char *opt)
{
    size_t n = strlen(opt);
    return strncmp(arg, opt, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* Moves global options out of argv into ctx/g; the rest stays in order in
 * rest[0..*nrest). */
static int parse_globals(int argc, char **argv, dr_ctx *ctx, globals *g, char **rest, int *nrest,
                         dr_err *err)
{
    int n = 0, dashdash = 0;
    const char *output = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (dashdash || a[0] != '-') {
            rest[n++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            dashdash = 1;
            rest[n++] = argv[i];
        } else if (is_opt(a, "--region")) {
            if (take_value(argc, argv, &i, "--region", &ctx->region, err) != 0)
                return -1;
        } else if (is_opt(a, "--profile")) {
            if (take_value(argc, argv, &i, "--profile", &ctx->profile, err) != 0)
                return -1;
        } else if (is_opt(a, "--endpoint-url")) {
            if (take_value(argc, argv, &i, "--endpoint-url", &ctx->endpoint_url, err) != 0)
                return -1;
        } else if (is_opt(a, "--output")) {
            if (take_value(argc, argv, &i, "--output", &output, err) != 0)
                return -1;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            g->verbose++;
        } else if (strcmp(a, "-vv") == 0) {
            g->verbose += 2;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            g->quiet = 1;
        } else if (strcmp(a, "--no-progress") == 0) {
            g->no_progress = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            g->help = 1;
        } else if (strcmp(a, "--version") == 0) {
            g->version = 1;
        } else {
            rest[n++] = argv[i];
        }
    }
    *nrest = n;
    if (output) {
        if (strcmp(output, "text") == 0) {
            ctx->output = DR_OUTPUT_TEXT;
        } else if (strcmp(output, "json") == 0) {
            ctx->output = DR_OUTPUT_JSON;
        } else {
            dr_err_set(err, DR_E_USAGE, "--output must be 'text' or 'json', not '%s'", output);
            return -1;
        }
    }
    if (ctx->region && dr_check_region(ctx->region, "--region", err) != 0)
        return -1;
    if (g->quiet)
        ctx->log.level = DR_LOG_ERROR;
    else if (g->verbose >= 2)
        ctx->log.level = DR_LOG_DEBUG;
    else if (g->verbose == 1)
        ctx->log.level = DR_LOG_INFO;
    if (g->no_progress)
        ctx->log.progress = 0;
    return 0;
}

static int run(int argc, char **argv, dr_ctx *ctx, dr_err *err)
{
    globals g = {0};
    char **rest = dr_xcalloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0;
    int rc = parse_globals(argc, argv, ctx, &g, rest, &nrest, err);
    if (rc != 0)
        goto out;

    if (g.version && nrest == 0) {
        rc = cmd_version(ctx, 1, (char *[]){"version", NULL}, err);
        goto out;
    }
    if (nrest == 0) {
        dr_print_main_help(g.help ? stdout : stderr);
        rc = g.help ? 0 : dr_err_set(err, DR_E_USAGE, "no command given");
        goto out;
    }
    if (rest[0][0] == '-') {
        dr_err_set(err, DR_E_USAGE, "unknown option '%s'", rest[0]);
        rc = dr_err_hint(err, "see 'drctl --help'");
        goto out;
    }
    const dr_command *cmd = dr_command_find(rest[0]);
    if (!cmd) {
        const dr_command *best = NULL;
        size_t bestd = 3;
        for (const dr_command *c = dr_commands(); c->name; c++) {
            size_t d = edit_distance(rest[0], c->name);
            if (d < bestd) {
                bestd = d;
                best = c;
            }
        }
        dr_err_set(err, DR_E_USAGE, "unknown command '%s'", rest[0]);
        if (best)
            rc = dr_err_hint(err, "did you mean 'drctl %s'? see 'drctl --help'", best->name);
        else
            rc = dr_err_hint(err, "see 'drctl --help' for the list of commands");
        goto out;
    }
    if (g.help) {
        dr_command_help(cmd, stdout);
        rc = 0;
        goto out;
    }
    rest[nrest] = NULL;
    optind = 0; /* GNU getopt: reinitialize for the command's own parse */
    rc = cmd->run(ctx, nrest, rest, err);
out:
    free(rest);
    return rc;
}

int main(int argc, char **argv)
{
    /* A peer closing a connection must be an error return, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "drctl: error: libcurl initialization failed\n");
        return DR_E_INTERNAL;
    }
    xmlInitParser();

    dr_ctx ctx;
    dr_err err;
    dr_ctx_init(&ctx);
    dr_err_clear(&err);
    int rc = run(argc, argv, &ctx, &err);
    int code = DR_OK;
    if (rc != 0) {
        code = err.code != DR_OK ? (int)err.code : DR_E_INTERNAL;
        dr_err_print(&err, stderr);
    }
    dr_ctx_free(&ctx);
    xmlCleanupParser();
    curl_global_cleanup();
    return code;
}
