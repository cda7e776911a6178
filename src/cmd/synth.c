/*
 * synth.c - `drctl synth REGION`: the region's resource model as a
 * CloudFormation template (JSON), or with --global the edge template.
 *
 * Offline: it reads the profiles and nothing else, so it works with no
 * credentials and is what cfn-lint checks in the tests. The template is
 * deterministic (same profiles, same bytes), so it can be diffed and
 * committed.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "stack/model.h"
#include "stack/profile.h"
#include "stack/synth.h"
#include "util/mem.h"

/* Writes text to path through a temporary file and rename, so that a
 * reader never sees half a template. */
static int write_file(const char *path, const char *text, dr_err *err)
{
    char *tmp = dr_xasprintf("%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        dr_err_set(err, DR_E_IO, "cannot write %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    int ok = fputs(text, f) >= 0;
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok;
    int saved = errno;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            saved = errno;
        dr_err_set(err, DR_E_IO, "cannot write %s: %s", path, strerror(saved));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

static int load(const char *dir, dr_profile_set *set, dr_err *err)
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

int cmd_synth(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    (void)ctx;
    static const struct option longopts[] = {{"global", no_argument, NULL, 'g'},
                                             {"active", no_argument, NULL, 'a'},
                                             {"config-dir", required_argument, NULL, 'c'},
                                             {"out", required_argument, NULL, 'o'},
                                             {NULL, 0, NULL, 0}};
    const dr_command *self = dr_command_find("synth");
    const char *dir = getenv("DRCTL_CONFIG_DIR");
    if (!dir || !*dir)
        dir = "regions";
    const char *out_path = "-";
    int global = 0, active = 0, c;
    while ((c = dr_getopt(self, argc, argv, ":", longopts, err)) != -1) {
        if (c == -2)
            return -1;
        if (c == 'g')
            global = 1;
        else if (c == 'a')
            active = 1;
        else if (c == 'c')
            dir = optarg;
        else if (c == 'o')
            out_path = optarg;
    }
    int nargs = argc - optind;
    const char *region = nargs >= 1 ? argv[optind] : NULL;
    if (nargs > 1) {
        dr_err_set(err, DR_E_USAGE, "synth takes one region, got %d arguments", nargs);
        return dr_err_hint(err, "usage: %s", self->usage);
    }
    if (!region && !global) {
        dr_err_set(err, DR_E_USAGE, "synth needs a region");
        return dr_err_hint(err, "usage: %s", self->usage);
    }
    if (region && dr_check_region(region, "the command line", err) != 0)
        return -1;
    if (global && region && strcmp(region, "us-east-1") != 0) {
        dr_err_set(err, DR_E_USAGE, "the global template lives in us-east-1, not %s", region);
        return dr_err_hint(err, "run 'drctl synth --global' (or 'drctl synth us-east-1 --global')");
    }

    dr_profile_set set = {0};
    if (load(dir, &set, err) != 0)
        return -1;
    dr_model m;
    int rc;
    if (global) {
        rc = dr_model_build_global_as(&set, active ? DR_MODEL_ACTIVE : DR_MODEL_AUTO, &m, err);
    } else {
        const dr_region_profile *p = dr_profiles_find(&set, region);
        if (!p) {
            dr_err_set(err, DR_E_CONFIG, "no profile for %s in %s", region, dir);
            char list[512] = "";
            for (size_t i = 0; i < set.n; i++) {
                if (i)
                    strncat(list, ", ", sizeof(list) - strlen(list) - 1);
                strncat(list, set.regions[i].region, sizeof(list) - strlen(list) - 1);
            }
            dr_err_hint(err, "the profiles describe: %s", set.n ? list : "no region");
            dr_profiles_free(&set);
            return -1;
        }
        if (active && p->role == DR_ROLE_PRIMARY) {
            /* The primary is always active: nothing to ask for. */
            active = 0;
        }
        dr_model_opts opts = {active ? DR_MODEL_ACTIVE : DR_MODEL_AUTO, DR_DB_AUTO, NULL};
        rc = dr_model_build_regional_opts(&set, p, &opts, &m, err);
    }
    dr_profiles_free(&set);
    if (rc != 0)
        return -1;
    json_t *tpl = NULL;
    rc = dr_synth_template(&m, &tpl, err);
    dr_model_free(&m);
    if (rc != 0)
        return -1;
    char *text = json_dumps(tpl, JSON_INDENT(2));
    json_decref(tpl);
    if (!text)
        return dr_err_set(err, DR_E_INTERNAL, "cannot render the template as JSON");
    size_t len = strlen(text);
    char *withnl = dr_xmalloc(len + 2);
    memcpy(withnl, text, len);
    withnl[len] = '\n';
    withnl[len + 1] = '\0';
    free(text);
    if (strcmp(out_path, "-") == 0) {
        rc = fputs(withnl, stdout) < 0 || fflush(stdout) != 0
                 ? dr_err_set(err, DR_E_IO, "cannot write the template: %s", strerror(errno))
                 : 0;
    } else {
        rc = write_file(out_path, withnl, err);
    }
    free(withnl);
    return rc;
}
