/*
 * cli.h - the command's context and the command table.
 *
 * Like git and tmux: each command is one file under cmd/ and one entry in
 * the table (cmd/table.c). main() parses the global options, builds a
 * dr_ctx, finds the command and calls its run function. The context is the
 * only mutable state a command has; everything it allocates hangs off it or
 * is freed by the command.
 */
#ifndef DRCTL_CLI_H
#define DRCTL_CLI_H

#include "aws/client.h"
#include "util/err.h"
#include "util/log.h"

typedef enum dr_output { DR_OUTPUT_TEXT, DR_OUTPUT_JSON } dr_output;

typedef struct dr_ctx {
    dr_log log;
    const char *region;       /* --region, or NULL: see dr_ctx_region */
    const char *profile;      /* --profile, or NULL (AWS_PROFILE, then "default") */
    const char *endpoint_url; /* --endpoint-url, or NULL */
    dr_output output;
    dr_aws *aws; /* created on first use by dr_ctx_aws, freed by dr_ctx_free */
} dr_ctx;

void dr_ctx_init(dr_ctx *ctx);
void dr_ctx_free(dr_ctx *ctx);

/* The AWS client of this run, created on first use. */
int dr_ctx_aws(dr_ctx *ctx, dr_aws **out, dr_err *err);

/* The region to work in: --region, AWS_REGION, AWS_DEFAULT_REGION, the
 * profile's region. *out is owned by the context's caller until exit
 * (it is interned in a static-free way: caller frees). Unknown region names
 * are a config error. */
int dr_ctx_region(dr_ctx *ctx, char **out, dr_err *err);

/* Validates a region name given by the user; config error naming `what`
 * (e.g. "--region") when unknown, with a suggestion when one is close. */
int dr_check_region(const char *region, const char *what, dr_err *err);

typedef struct dr_command {
    const char *name;
    const char *summary; /* one line for `drctl --help` */
    const char *usage;   /* "drctl doctor [REGION...]" */
    const char *help;    /* the rest of `drctl CMD --help`: description and options */
    int (*run)(dr_ctx *ctx, int argc, char **argv, dr_err *err);
} dr_command;

/* The table, terminated by an entry whose name is NULL. */
const dr_command *dr_commands(void);
const dr_command *dr_command_find(const char *name);

/* Prints `drctl --help`: commands, global options, environment, exit codes. */
void dr_print_main_help(FILE *out);

/* Prints `drctl CMD --help`. */
void dr_command_help(const dr_command *cmd, FILE *out);

/*
 * Parses a command's own options with getopt_long and turns problems into
 * usage errors that name the command: unknown option, missing argument.
 * Returns the option character, -1 at the end of options, or -2 after
 * filling err. optstring must start with ':' (missing-argument detection).
 */
struct option;
int dr_getopt(const dr_command *cmd, int argc, char **argv, const char *optstring,
              const struct option *longopts, dr_err *err);

#endif
