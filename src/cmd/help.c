/* help.c - `drctl help [COMMAND]` and `drctl version`. */
#include <stdio.h>

#include "cmd/commands.h"

int cmd_help(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    if (argc < 2) {
        dr_print_main_help(stdout);
        return 0;
    }
    const dr_command *cmd = dr_command_find(argv[1]);
    if (!cmd) {
        dr_err_set(err, DR_E_USAGE, "no such command '%s'", argv[1]);
        return dr_err_hint(err, "see 'drctl --help' for the list of commands");
    }
    dr_command_help(cmd, stdout);
    return 0;
}

int cmd_version(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    if (ctx->output == DR_OUTPUT_JSON)
        printf("{\"version\": \"%s\"}\n", DRCTL_VERSION);
    else
        printf("drctl %s\n", DRCTL_VERSION);
    return 0;
}
