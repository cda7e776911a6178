/*
 * backup.c - `drctl backup [--region R]`: one bundle of the deployed stack
 * (backup/backup.h does the work; this file is the command line and the
 * summary).
 *
 * Made for cron: without a terminal it prints nothing but warnings and one
 * summary line at the end; a second backup of the same stack exits at once
 * with the "locked" exit code (or waits with --wait).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup/backup.h"
#include "cmd/commands.h"
#include "cmd/stackcmd.h"
#include "util/mem.h"

static void human(uint64_t n, char *out, size_t cap)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(out, cap, "%llu B", (unsigned long long)n);
    else
        snprintf(out, cap, "%.1f %s", v, u[i]);
}

int cmd_backup(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    const dr_command *self = dr_command_find("backup");
    static const struct option longopts[] = {{"region", required_argument, NULL, 'r'},
                                             {"store", required_argument, NULL, 's'},
                                             {"store-region", required_argument, NULL, 'S'},
                                             {"config-dir", required_argument, NULL, 'c'},
                                             {"full", no_argument, NULL, 'f'},
                                             {"wait", no_argument, NULL, 'w'},
                                             {"no-vault", no_argument, NULL, 'n'},
                                             {"concurrency", required_argument, NULL, 'j'},
                                             {"recovery-key", required_argument, NULL, 'k'},
                                             {NULL, 0, NULL, 0}};
    const char *region = ctx->region, *store_opt = NULL, *dir_opt = NULL, *store_region = NULL,
               *recovery = NULL;
    int full = 0, wait = 0, no_vault = 0, conc = 8, c;
    while ((c = dr_getopt(self, argc, argv, ":r:s:S:c:fwnj:k:", longopts, err)) != -1) {
        switch (c) {
        case -2:
            return -1;
        case 'r':
            region = optarg;
            break;
        case 's':
            store_opt = optarg;
            break;
        case 'S':
            store_region = optarg;
            break;
        case 'c':
            dir_opt = optarg;
            break;
        case 'f':
            full = 1;
            break;
        case 'w':
            wait = 1;
            break;
        case 'n':
            no_vault = 1;
            break;
        case 'j':
            if (dr_cmd_parse_concurrency(optarg, &conc, err) != 0)
                return -1;
            break;
        case 'k':
            recovery = optarg;
            break;
        }
    }
    if (optind < argc) {
        dr_err_set(err, DR_E_USAGE, "backup takes no arguments (got '%s')", argv[optind]);
        return dr_err_hint(err, "usage: %s", self->usage);
    }
    if (region && dr_check_region(region, "--region", err) != 0)
        return -1;
    if (store_region && dr_check_region(store_region, "--store-region", err) != 0)
        return -1;
    const char *dir = dr_cmd_config_dir(dir_opt);
    /* State and locks live in the local store: --store when it is a
     * directory, else DRCTL_STORE / snapshots. */
    int s3 = store_opt && strncmp(store_opt, "s3://", 5) == 0;
    const char *state_store = dr_cmd_store_dir(s3 ? NULL : store_opt);
    dr_profile_set set = {0};
    if (dr_cmd_load_profiles(dir, &set, err) != 0)
        return -1;
    const dr_region_profile *p = NULL;
    int rc = -1;
    if (!region && !set.primary) {
        dr_err_set(err, DR_E_CONFIG, "no primary region in %s: pass --region", dir);
        goto out;
    }
    if (dr_cmd_region_profile(&set, dir, region ? region : set.primary->region, &p, err) != 0)
        goto out;
    dr_aws *aws = NULL;
    if (dr_ctx_aws(ctx, &aws, err) != 0)
        goto out;
    /* Cron: no chatter without a terminal, unless -v asked for it. */
    if (!ctx->log.progress && ctx->log.level == DR_LOG_NOTICE)
        ctx->log.level = DR_LOG_WARN;
    dr_aws_opts aws_opts = {
        .profile = ctx->profile, .endpoint_url = ctx->endpoint_url, .log = &ctx->log};
    dr_backup_opts o = {.aws = aws,
                        .aws_opts = &aws_opts,
                        .log = &ctx->log,
                        .set = &set,
                        .p = p,
                        .state_store = state_store,
                        .store_spec = store_opt,
                        .store_region = store_region,
                        .full = full,
                        .wait = wait,
                        .no_vault = no_vault,
                        .concurrency = conc,
                        .recovery_key = recovery};
    dr_backup_result r;
    rc = dr_backup_run(&o, &r, err);
    if (rc != 0)
        goto out;
    int64_t rpo = (int64_t)time(NULL) - r.captured_at;
    char size[32], data[32];
    human(r.size, size, sizeof(size));
    human(r.data_bytes, data, sizeof(data));
    if (ctx->output == DR_OUTPUT_JSON) {
        json_t *j = json_pack(
            "{s:s, s:s, s:I, s:I, s:s, s:I, s:I, s:f, s:I, s:{s:I, s:I, s:I}, s:{s:I, s:I}, "
            "s:I, s:I, s:s, s:s?}",
            "stack", p->stack, "region", p->region, "version", (json_int_t)r.version, "parent",
            (json_int_t)r.parent, "kind", r.incremental ? "incremental" : "full", "size",
            (json_int_t)r.size, "data_bytes", (json_int_t)r.data_bytes, "seconds", r.seconds,
            "captured_at", (json_int_t)r.captured_at, "objects", "listed",
            (json_int_t)r.objects_listed, "captured", (json_int_t)r.objects_captured, "referenced",
            (json_int_t)r.objects_referenced, "db", "tables", (json_int_t)r.tables, "rows",
            (json_int_t)r.rows, "rpo_seconds", (json_int_t)rpo, "snapshots",
            (json_int_t)r.snapshots, "location", r.location, "vault", r.vault[0] ? r.vault : NULL);
        char *s = json_dumps(j, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
        json_decref(j);
    } else {
        char kind[64];
        if (r.incremental)
            snprintf(kind, sizeof(kind), "incremental on v%llu", (unsigned long long)r.parent);
        else
            snprintf(kind, sizeof(kind), "full");
        printf("backup %s v%llu (%s): %s (%s of data) in %.1f s; objects %zu (%zu captured, %zu "
               "referenced); db %zu tables, %lld rows; RPO now %llds (target %d min); %s%s%s\n",
               p->stack, (unsigned long long)r.version, kind, size, data, r.seconds,
               r.objects_listed, r.objects_captured, r.objects_referenced, r.tables,
               (long long)r.rows, (long long)rpo, p->dr.rpo_minutes, r.location,
               r.vault[0] ? "; vault " : "", r.vault);
    }
out:
    dr_profiles_free(&set);
    return rc;
}
