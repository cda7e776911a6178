/* commands.h - the run function of every command (one file each in cmd/). */
#ifndef DRCTL_CMD_COMMANDS_H
#define DRCTL_CMD_COMMANDS_H

#include "cli.h"

int cmd_doctor(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_validate(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_synth(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_plan(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_deploy(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_status(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_destroy(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_backup(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_failover(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_failback(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_drill(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_restore(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_clone(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_run(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_bundles(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_report(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_help(dr_ctx *ctx, int argc, char **argv, dr_err *err);
int cmd_version(dr_ctx *ctx, int argc, char **argv, dr_err *err);

#endif
