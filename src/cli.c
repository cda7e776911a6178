#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "aws/creds.h"
#include "aws/service.h"
#include "util/mem.h"

void dr_ctx_init(dr_ctx *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    dr_log_init(&ctx->log);
    ctx->output = DR_OUTPUT_TEXT;
}

void dr_ctx_free(dr_ctx *ctx)
{
    dr_aws_free(ctx->aws);
    ctx->aws = NULL;
}

int dr_ctx_aws(dr_ctx *ctx, dr_aws **out, dr_err *err)
{
    if (!ctx->aws) {
        dr_aws_opts opts = {0};
        opts.profile = ctx->profile;
        opts.endpoint_url = ctx->endpoint_url;
        opts.log = &ctx->log;
        if (dr_aws_new(&opts, &ctx->aws, err) != 0)
            return -1;
    }
    *out = ctx->aws;
    return 0;
}

int dr_check_region(const char *region, const char *what, dr_err *err)
{
    if (dr_region_known(region))
        return 0;
    dr_err_set(err, DR_E_CONFIG, "unknown region '%s' (from %s)", region, what);
    return dr_err_hint(err, "region names look like us-east-1 or eu-west-2; check %s", what);
}

int dr_ctx_region(dr_ctx *ctx, char **out, dr_err *err)
{
    *out = NULL;
    if (ctx->region) {
        if (dr_check_region(ctx->region, "--region", err) != 0)
            return -1;
        *out = dr_xstrdup(ctx->region);
        return 0;
    }
    char *r = NULL;
    if (dr_aws_default_region(ctx->profile, &r, err) != 0)
        return -1;
    if (!r) {
        dr_err_set(err, DR_E_CONFIG, "no region given");
        return dr_err_hint(err, "pass --region REGION or set AWS_REGION");
    }
    const char *src = getenv("AWS_REGION") && *getenv("AWS_REGION") ? "AWS_REGION"
                      : getenv("AWS_DEFAULT_REGION") && *getenv("AWS_DEFAULT_REGION")
                          ? "AWS_DEFAULT_REGION"
                          : "the profile's region setting";
    if (dr_check_region(r, src, err) != 0) {
        free(r);
        return -1;
    }
    *out = r;
    return 0;
}

void dr_command_help(const dr_command *cmd, FILE *out)
{
    fprintf(out, "usage: %s\n\n%s\n", cmd->usage, cmd->summary);
    if (cmd->help && *cmd->help)
        fprintf(out, "\n%s", cmd->help);
    fprintf(out, "\nGlobal options (--region, --profile, --endpoint-url, --output, -v, -q,\n"
                 "--no-progress) and exit codes: drctl --help\n");
}

int dr_getopt(const dr_command *cmd, int argc, char **argv, const char *optstring,
              const struct option *longopts, dr_err *err)
{
    opterr = 0;
    int c = getopt_long(argc, argv, optstring, longopts, NULL);
    if (c == '?' || c == ':') {
        const char *bad = argv[optind - 1];
        char shortopt[3] = {'-', (char)optopt, '\0'};
        if (optopt && (!bad || strncmp(bad, "--", 2) != 0))
            bad = shortopt;
        if (c == '?')
            dr_err_set(err, DR_E_USAGE, "unknown option '%s' for '%s'", bad ? bad : "?", cmd->name);
        else
            dr_err_set(err, DR_E_USAGE, "option '%s' of '%s' needs a value", bad ? bad : "?",
                       cmd->name);
        dr_err_hint(err, "see 'drctl %s --help'", cmd->name);
        return -2;
    }
    return c;
}

static const char *const exit_code_help =
    "Exit codes:\n"
    "  0    success\n"
    "  1    internal error (a bug, or an unexpected local failure)\n"
    "  2    usage error: unknown command or option, missing argument\n"
    "  3    configuration error: region profile, runbook, AWS config file, unknown region\n"
    "  4    no usable AWS credentials\n"
    "  5    AWS refused a request (the AWS error code and message are shown)\n"
    "  6    network error: endpoint unreachable, TLS failure, timeout\n"
    "  7    verification failed (checksum, row count, health check)\n"
    "  8    RTO or RPO target exceeded\n"
    "  9    locked: another run of the same stack holds the lock\n"
    "  10   local I/O error (files, child processes)\n"
    "  11   not found\n"
    "  130  interrupted\n";

void dr_print_main_help(FILE *out)
{
    fprintf(out, "usage: drctl [global options] <command> [options] [args]\n\n"
                 "Disaster recovery and multi-region replication for a LiteLLM stack on AWS.\n\n"
                 "Commands:\n");
    for (const dr_command *c = dr_commands(); c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out,
            "\n"
            "Global options (before or after the command):\n"
            "  --region REGION      AWS region (default: AWS_REGION, AWS_DEFAULT_REGION,\n"
            "                       then the profile's region)\n"
            "  --profile NAME       profile of ~/.aws/config and ~/.aws/credentials\n"
            "                       (default: AWS_PROFILE, then \"default\")\n"
            "  --endpoint-url URL   send every AWS call to URL (default:\n"
            "                       AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL)\n"
            "  --output text|json   output format (default: text)\n"
            "  -v, --verbose        more detail (retries); -vv: every HTTP request\n"
            "  -q, --quiet          errors only\n"
            "  --no-progress        no live progress, even on a terminal\n"
            "  -h, --help           this help; 'drctl COMMAND --help' for one command\n"
            "  --version            print the version\n"
            "\n"
            "Environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,\n"
            "AWS_PROFILE, AWS_REGION, AWS_DEFAULT_REGION, AWS_CONFIG_FILE,\n"
            "AWS_SHARED_CREDENTIALS_FILE, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>,\n"
            "AWS_CA_BUNDLE, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE,\n"
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, AWS_CONTAINER_CREDENTIALS_FULL_URI,\n"
            "AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE), AWS_EC2_METADATA_DISABLED;\n"
            "DRCTL_DB_MAP (sandbox only: region=postgresql-URL pairs that stand in for\n"
            "each region's RDS instance), DRCTL_STORE (local bundle store).\n"
            "\n%s",
            exit_code_help);
}
