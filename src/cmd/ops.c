/*
 * ops.c - the runbook actions (see ops.h).
 */
#include "cmd/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws/xml.h"
#include "backup/backup.h"
#include "cmd/commands.h"
#include "cmd/stackcmd.h"
#include "db/dbmap.h"
#include "db/pg.h"
#include "stack/model.h"
#include "stack/res_edge.h"
#include "stack/state.h"
#include "util/buf.h"
#include "util/lock.h"
#include "util/mem.h"

/* ---- setup ---------------------------------------------------------------- */

/* Copies the profile directory with `stack:` replaced: a second, separate
 * stack from the same profiles. */
static int make_alt_profiles(dr_ops *ops, dr_err *err)
{
    char *dir = dr_xasprintf("%s/drill/%s/profiles", ops->store, ops->alt_stack);
    if (dr_mkdirs(dir, 0700) != 0) {
        dr_err_set(err, DR_E_IO, "creating %s: %s", dir, strerror(errno));
        free(dir);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i <= ops->set.n; i++) {
        char *src = i == 0 ? dr_xasprintf("%s/defaults.yaml", ops->config_dir)
                           : dr_xstrdup(ops->set.regions[i - 1].file);
        const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
        char *dst = dr_xasprintf("%s/%s", dir, base);
        FILE *in = fopen(src, "r"), *out = in ? fopen(dst, "w") : NULL;
        if (!in || !out) {
            rc = dr_err_set(err, DR_E_IO, "copying %s to %s: %s", src, dst, strerror(errno));
        } else {
            char line[4096];
            while (fgets(line, sizeof(line), in)) {
                if (strncmp(line, "stack:", 6) == 0)
                    fprintf(out, "stack: %s\n", ops->alt_stack);
                else
                    fputs(line, out);
            }
        }
        if (in)
            fclose(in);
        if (out && fclose(out) != 0 && rc == 0)
            rc = dr_err_set(err, DR_E_IO, "writing %s: %s", dst, strerror(errno));
        free(src);
        free(dst);
    }
    if (rc == 0)
        ops->alt_config_dir = dir;
    else
        free(dir);
    return rc;
}

int dr_ops_init(dr_ops *ops, dr_ctx *ctx, const char *config_dir, const char *store,
                const char *alt_stack, dr_err *err)
{
    memset(ops, 0, sizeof(*ops));
    ops->ctx = ctx;
    ops->config_dir = config_dir;
    ops->store = store;
    if (dr_cmd_load_profiles(config_dir, &ops->set, err) != 0)
        return -1;
    dr_aws *aws = NULL;
    if (dr_ctx_aws(ctx, &aws, err) != 0)
        return -1;
    dr_bundle_kms_aws(aws, &ops->kms);
    if (alt_stack) {
        ops->alt_stack = dr_xstrdup(alt_stack);
        if (make_alt_profiles(ops, err) != 0)
            return -1;
    }
    return 0;
}

void dr_ops_free(dr_ops *ops)
{
    dr_restore_chain_free(ops->chain);
    dr_store_free(ops->chain_store);
    dr_profiles_free(&ops->set);
    free(ops->alt_stack);
    free(ops->alt_config_dir);
    memset(ops, 0, sizeof(*ops));
}

/* ---- shared helpers ------------------------------------------------------- */

static const char *param(const dr_rb_call *c, const char *name)
{
    return json_string_value(json_object_get(c->params, name));
}

static const dr_log *LOG(dr_ops *ops)
{
    return &ops->ctx->log;
}

/* The stack a step works on: its `stack` parameter, else production's. */
static const char *step_stack(dr_ops *ops, const dr_rb_call *c, dr_err *err)
{
    const char *s = param(c, "stack");
    const char *prod = ops->set.primary ? ops->set.primary->stack : ops->set.regions[0].stack;
    if (!s || strcmp(s, prod) == 0)
        return prod;
    if (ops->alt_stack && strcmp(s, ops->alt_stack) == 0)
        return s;
    dr_err_set(err, DR_E_CONFIG, "step '%s': stack '%s' is neither %s nor this run's %s",
               c->step->name, s, prod, ops->alt_stack ? ops->alt_stack : "(no second stack)");
    return NULL;
}

static const char *config_dir_of(dr_ops *ops, const char *stack)
{
    return ops->alt_stack && strcmp(stack, ops->alt_stack) == 0 ? ops->alt_config_dir
                                                                : ops->config_dir;
}

static const dr_region_profile *region_profile(dr_ops *ops, const char *region, dr_err *err)
{
    const dr_region_profile *p = region ? dr_profiles_find(&ops->set, region) : NULL;
    if (!p)
        dr_err_set(err, DR_E_CONFIG, "no profile for region %s in %s", region ? region : "(none)",
                   ops->config_dir);
    return p;
}

static int load_state(dr_ops *ops, const char *stack, const char *region, dr_state *st, dr_err *err)
{
    memset(st, 0, sizeof(*st));
    if (dr_state_load(ops->store, stack, region, st, err) != 0)
        return -1;
    if (json_object_size(st->resources) == 0) {
        dr_state_free(st);
        dr_err_set(err, DR_E_NOT_FOUND, "the stack %s is not deployed in %s", stack, region);
        return -1;
    }
    return 0;
}

static const char *output_of(const dr_state *st, const char *name)
{
    return json_string_value(json_object_get(st->outputs, name));
}

/* Runs another command in process with its standard output in the step's
 * log file, so that the run shows one line per step. */
static int run_command(dr_ops *ops, const dr_rb_call *c,
                       int (*fn)(dr_ctx *, int, char **, dr_err *), char **argv, dr_err *err)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    char *log = dr_xasprintf("%s/step-%02zu.log", c->run_dir, c->index + 1);
    fflush(stdout);
    fflush(stderr);
    int saved = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || saved < 0 || saved_err < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (saved >= 0)
            close(saved);
        if (saved_err >= 0)
            close(saved_err);
        dr_err_set(err, DR_E_IO, "opening %s: %s", log, strerror(e));
        free(log);
        return -1;
    }
    /* Both streams: the command's per-resource lines and its warnings go
     * to the step's log; its error comes back in err. */
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    optind = 0; /* GNU getopt: the command parses its own options afresh */
    dr_output saved_out = ops->ctx->output;
    ops->ctx->output = DR_OUTPUT_TEXT;
    int rc = fn(ops->ctx, argc, argv, err);
    ops->ctx->output = saved_out;
    fflush(stdout);
    fflush(stderr);
    dup2(saved, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved);
    close(saved_err);
    if (rc != 0)
        dr_err_hint(err, "the step's full output is in %s", log);
    free(log);
    return rc;
}

/* The database of a stack in a region: the sandbox mapping (a database of
 * its own for a second stack), else RDS with the stack's secret. */
static int db_conn(dr_ops *ops, const char *stack, const char *region, int create, char **conninfo,
                   char **password, dr_err *err)
{
    *conninfo = *password = NULL;
    dr_dbmap m;
    if (dr_dbmap_from_env(&m, err) != 0)
        return -1;
    const char *mapped = dr_dbmap_lookup(&m, region);
    int rc = 0;
    if (mapped) {
        if (ops->alt_stack && strcmp(stack, ops->alt_stack) == 0) {
            char name[64];
            size_t j = 0;
            for (const char *s = stack; *s && j < sizeof(name) - 1; s++)
                name[j++] = *s == '-' ? '_' : *s;
            name[j] = 0;
            dr_pg_conn admin = {mapped, NULL};
            if (create) {
                dr_err e;
                dr_err_clear(&e);
                if (dr_pg_create_database(&admin, name, &e) != 0 &&
                    !strstr(e.msg, "already exists")) {
                    *err = e;
                    dr_dbmap_free(&m);
                    return -1;
                }
            }
            *conninfo = dr_pg_conninfo_with_db(mapped, name);
        } else {
            *conninfo = dr_xstrdup(mapped);
        }
        dr_dbmap_free(&m);
        return 0;
    }
    dr_dbmap_free(&m);
    dr_state st;
    if (load_state(ops, stack, region, &st, err) != 0)
        return -1;
    const char *secret = output_of(&st, "DbSecretArn"), *host = output_of(&st, "DbEndpoint");
    const char *port = output_of(&st, "DbPort");
    if (!secret || !host) {
        dr_state_free(&st);
        return dr_err_set(err, DR_E_NOT_FOUND, "the stack %s in %s has no database yet", stack,
                          region);
    }
    dr_aws *aws = ops->ctx->aws;
    json_t *in = json_pack("{s:s}", "SecretId", secret), *out = NULL;
    rc = dr_aws_json(aws, "secretsmanager", region, "GetSecretValue", in, &out, err);
    json_decref(in);
    if (rc == 0) {
        json_t *j = json_loads(json_string_value(json_object_get(out, "SecretString"))
                                   ? json_string_value(json_object_get(out, "SecretString"))
                                   : "",
                               0, NULL);
        const char *pw = json_string_value(json_object_get(j, "password"));
        const char *user = json_string_value(json_object_get(j, "username"));
        const dr_region_profile *p = dr_profiles_find(&ops->set, region);
        if (!pw) {
            rc = dr_err_set(err, DR_E_CONFIG, "database secret %s has no password", secret);
        } else {
            *conninfo = dr_xasprintf("host=%s port=%s dbname=%s user=%s sslmode=require", host,
                                     port ? port : "5432", p ? p->database.name : "litellm",
                                     user ? user : "litellm");
            *password = dr_xstrdup(pw);
        }
        if (j) {
            const char *k;
            json_t *v;
            json_object_foreach(j, k, v) if (json_is_string(v))
                dr_secure_zero((char *)json_string_value(v), strlen(json_string_value(v)));
        }
        json_decref(j);
    }
    if (out) {
        json_t *v = json_object_get(out, "SecretString");
        if (json_is_string(v))
            dr_secure_zero((char *)json_string_value(v), strlen(json_string_value(v)));
    }
    json_decref(out);
    dr_state_free(&st);
    return rc;
}

static void free_conn(char *conninfo, char *password)
{
    if (conninfo)
        dr_free_secret(conninfo);
    if (password)
        dr_free_secret(password);
}

/* The bundle chain of production's stack at `version`, opened once. */
static int get_chain(dr_ops *ops, const dr_rb_call *c, dr_restore_chain **out, dr_err *err)
{
    const char *b = param(c, "bundle");
    if (!b || !*b)
        b = json_string_value(json_object_get(c->vars, "bundle"));
    char *end = NULL;
    unsigned long long v = b ? strtoull(b, &end, 10) : 0;
    if (!b || !*b || *end || v == 0)
        return dr_err_set(err, DR_E_CONFIG,
                          "step '%s': no bundle version (run check-bundle first, or give "
                          "bundle: N)",
                          c->step->name);
    if (ops->chain && ops->chain_version == v) {
        *out = ops->chain;
        return 0;
    }
    dr_restore_chain_free(ops->chain);
    ops->chain = NULL;
    if (!ops->chain_store && dr_store_open(ops->store, NULL, NULL, &ops->chain_store, err) != 0)
        return -1;
    const char *regions[64];
    size_t nr = 0;
    const char *target = param(c, "region");
    if (target)
        regions[nr++] = target;
    for (size_t i = 0; i < ops->set.n && nr < 63; i++)
        if (!target || strcmp(ops->set.regions[i].region, target) != 0)
            regions[nr++] = ops->set.regions[i].region;
    const char *rk = getenv("DRCTL_RECOVERY_KEY");
    dr_buf pem;
    dr_buf_init(&pem);
    if (rk) {
        FILE *f = fopen(rk, "r");
        char tmp[4096];
        size_t n;
        while (f && (n = fread(tmp, 1, sizeof(tmp), f)) > 0)
            dr_buf_append(&pem, tmp, n);
        if (f)
            fclose(f);
    }
    dr_bundle_keyring kr = {.kms = &ops->kms,
                            .kms_regions = regions,
                            .n_kms_regions = nr,
                            .recovery_privkey_pem = pem.len ? dr_buf_cstr(&pem) : NULL};
    char *cache = dr_xasprintf("%s/cache", ops->store);
    const char *stack = ops->set.primary ? ops->set.primary->stack : ops->set.regions[0].stack;
    int rc =
        dr_restore_chain_open(ops->chain_store, stack, v, &kr, cache, LOG(ops), &ops->chain, err);
    free(cache);
    dr_buf_free_secret(&pem);
    if (rc != 0)
        return -1;
    ops->chain_version = v;
    *out = ops->chain;
    return 0;
}

/* The bundle's native snapshot in region (its manifest's "snapshots"), or
 * NULL. Borrowed from the chain. */
static const char *bundle_snapshot(dr_restore_chain *ch, const char *region)
{
    const json_t *snaps = json_object_get(dr_restore_chain_manifest(ch), "snapshots");
    size_t i;
    const json_t *x;
    json_array_foreach(snaps, i, x)
    {
        const char *t = json_string_value(json_object_get(x, "type"));
        const char *r = json_string_value(json_object_get(x, "region"));
        if (t && r && strcmp(t, "rds-snapshot") == 0 && strcmp(r, region) == 0)
            return json_string_value(json_object_get(x, "arn"));
    }
    return NULL;
}

/* 1 when the sandbox mapping stands in for RDS in region. */
static int sandbox_db(const char *region)
{
    dr_dbmap m;
    dr_err e;
    dr_err_clear(&e);
    if (dr_dbmap_from_env(&m, &e) != 0)
        return 0;
    int mapped = dr_dbmap_lookup(&m, region) != NULL;
    dr_dbmap_free(&m);
    return mapped;
}

/* ---- actions ---------------------------------------------------------------- */

static int act_check_bundle(void *app, const dr_rb_call *c, json_t **detail, dr_err *err)
{
    dr_ops *ops = app;
    const char *stack = ops->set.primary ? ops->set.primary->stack : ops->set.regions[0].stack;
    /* A version asked for (drctl restore V) wins over the newest. */
    const char *asked = json_string_value(json_object_get(c->vars, "bundle"));
    uint64_t want = asked && *asked ? strtoull(asked, NULL, 10) : 0;
    dr_store *st = NULL;
    dr_store_list l = {0};
    if (dr_store_open(ops->store, NULL, NULL, &st, err) != 0)
        return -1;
    int rc = dr_store_list(st, stack, &l, err);
    dr_store_free(st);
    if (rc != 0)
        return -1;
    const dr_store_entry *e = NULL;
    for (size_t i = l.n; i-- > 0;)
        if (l.v[i].summary && (!want || l.v[i].version == want)) {
            e = &l.v[i];
            break;
        }
    if (!e && want) {
        dr_store_list_free(&l);
        return dr_err_set(err, DR_E_NOT_FOUND, "no bundle v%llu of stack %s in %s",
                          (unsigned long long)want, stack, ops->store);
    }
    if (!e) {
        dr_store_list_free(&l);
        dr_err_set(err, DR_E_NOT_FOUND, "no bundle of stack %s in %s", stack, ops->store);
        return dr_err_hint(err, "run 'drctl backup' (or fetch bundles from the vault into the "
                                "store) first");
    }
    uint64_t v = e->version;
    int64_t at = json_integer_value(json_object_get(e->summary, "captured_at"));
    dr_store_list_free(&l);
    char vs[32];
    snprintf(vs, sizeof(vs), "%llu", (unsigned long long)v);
    /* Open (and verify end to end) the chain now: a damaged bundle is found
     * before anything is built. */
    json_t *pj = json_pack("{s:s, s:s?}", "bundle", vs, "region", param(c, "region"));
    dr_rb_call c2 = *c;
    c2.params = pj;
    dr_restore_chain *ch = NULL;
    rc = get_chain(ops, &c2, &ch, err);
    json_decref(pj);
    if (rc != 0)
        return -1;
    long max_age = 0;
    const char *ma = param(c, "max_age");
    if (ma && dr_rb_parse_duration(ma, &max_age) != 0)
        return dr_err_set(err, DR_E_CONFIG, "max_age: '%s' is not a duration", ma);
    long age = (long)(time(NULL) - at);
    *detail =
        json_pack("{s:I, s:I, s:i, s:{s:s}, s:I, s:s}", "version", (json_int_t)v, "captured_at",
                  (json_int_t)at, "age_s", (int)age, "set", "bundle", vs, "recovery_point",
                  (json_int_t)at, "opened_with", dr_restore_chain_info(ch)->opened_with);
    if (max_age > 0 && age > max_age) {
        dr_warn(LOG(ops), "the newest bundle v%s is %ld s old, more than the RPO target (%s)", vs,
                age, ma);
        json_object_set_new(*detail, "older_than_rpo", json_true());
    }
    fprintf(c->out, "    bundle v%s, captured %ld s ago, verified (%s)\n", vs, age,
            dr_restore_chain_info(ch)->opened_with);
    return 0;
}

static int act_deploy(void *app, const dr_rb_call *c, json_t **detail, dr_err *err)
{
    dr_ops *ops = app;
    const char *stack = step_stack(ops, c, err);
    if (!stack)
        return -1;
    const char *region = param(c, "region"), *state = param(c, "state");
    const char *dbs = param(c, "db_source");
    int global = json_is_true(json_object_get(c->params, "global"));
    char *argv[20];
    int n = 0;
    argv[n++] = "deploy";
    if (global)
        argv[n++] = "--global";
    else
        argv[n++] = (char *)region;
    argv[n++] = "--yes";
    argv[n++] = "--no-edge";
    argv[n++] = "--config-dir";
    argv[n++] = (char *)config_dir_of(ops, stack);
    argv[n++] = "--store";
    argv[n++] = (char *)ops->store;
    if (state && strcmp(state, "active") == 0)
        argv[n++] = "--active";
    /* A database from an RDS snapshot needs the snapshot: the bundle's copy
     * in this region. None there: a fresh instance that the logical dump
     * fills (what restore_path auto means). */
    const char *snap = NULL;
    if (!global && region && state && strcmp(state, "active") == 0 &&
        (!dbs || strcmp(dbs, "auto") == 0 || strcmp(dbs, "snapshot") == 0)) {
        const dr_region_profile *p = dr_profiles_find(&ops->set, region);
        dr_db_source src = p ? dr_model_db_source(&ops->set, p, DR_MODEL_ACTIVE) : DR_DB_AUTO;
        if (src == DR_DB_SNAPSHOT || (dbs && strcmp(dbs, "snapshot") == 0)) {
            dr_restore_chain *ch = NULL;
            if (get_chain(ops, c, &ch, err) != 0)
                return -1;
            snap = bundle_snapshot(ch, region);
            if (!snap && p && p->database.restore_path == DR_DB_RESTORE_SNAPSHOT)
                return dr_err_set(err, DR_E_NOT_FOUND,
                                  "database.restore_path is snapshot but bundle v%llu has no "
                                  "RDS snapshot in %s",
                                  (unsigned long long)ops->chain_version, region);
            dbs = snap ? "snapshot" : "fresh";
        }
    }
    if (dbs && strcmp(dbs, "auto") != 0) {
        argv[n++] = "--db-source";
        argv[n++] = (char *)dbs;
    }
    if (snap) {
        argv[n++] = "--db-snapshot";
        argv[n++] = (char *)snap;
    }
    argv[n] = NULL;
    if (global) {
        /* the global model has no --no-edge */
        for (int i = 0; i < n; i++)
            if (strcmp(argv[i], "--no-edge") == 0) {
                memmove(&argv[i], &argv[i + 1], sizeof(char *) * (size_t)(n - i));
                n--;
                break;
            }
    }
    if (!global && !region)
        return dr_err_set(err, DR_E_CONFIG, "step '%s': deploy needs region", c->step->name);
    int rc = run_command(ops, c, cmd_deploy, argv, err);
    if (rc != 0)
        return -1;
    *detail = json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "stack", stack, "region",
                        global ? "global" : region, "state", state ? state : "auto", "db_source",
                        dbs, "db_snapshot", snap);
    return 0;
}

static int act_teardown(void *app, const dr_rb_call *c, json_t **detail, dr_err *err)
{
    dr_ops *ops = app;
    const char *stack = step_stack(ops, c, err);
    if (!stack)
        return -1;
    const char *region = param(c, "region");
    const char *prod = ops->set.primary ? ops->set.primary->stack : ops->set.regions[0].stack;
    if (strcmp(stack, prod) == 0)
        return dr_err_set(err, DR_E_CONFIG,
                          "step '%s': teardown only removes a drill's own stack, never %s",
                          c->step->name, prod);
    char *argv[] = {"destroy",
                    (char *)region,
                    "--yes",
                    "--force",
                    "--no-final-snapshot",
                    "--config-dir",
                    (char *)config_dir_of(ops, stack),
                    "--store",
                    (char *)ops->store,
                    NULL};
    int rc = run_command(ops, c, cmd_destroy, argv, err);
    /* The drill's state file goes whatever destroy left (what is left stays
     * findable by its tags): the next drill then starts a new state epoch,
     * so no idempotency token of this drill is ever presented again for
     * resources that are gone (ACM, for one, refuses a token whose
     * certificate was deleted). */
    dr_state ds;
    dr_err se;
    dr_err_clear(&se);
    if (dr_state_load(ops->store, stack, region, &ds, &se) == 0) {
        if (dr_state_remove_file(&ds, &se) != 0)
            dr_warn(LOG(ops), "%s", se.msg);
        dr_state_free(&ds);
    }
    /* The sandbox database of the drill goes too. */
    dr_dbmap m;
    dr_err e;
    dr_err_clear(&e);
    if (dr_dbmap_from_env(&m, &e) == 0) {
        const char *mapped = dr_dbmap_lookup(&m, region);
        if (mapped) {
            char name[64];
            size_t j = 0;
            for (const char *s = stack; *s && j < sizeof(name) - 1; s++)
                name[j++] = *s == '-' ? '_' : *s;
            name[j] = 0;
            dr_pg_conn admin = {mapped, NULL};
            if (dr_pg_drop_database(&admin, name, &e) != 0)
                dr_warn(LOG(ops), "dropping the drill database %s: %s", name, e.msg);
        }
        dr_dbmap_free(&m);
    }
    if (rc != 0)
        return -1;
    *detail = json_pack("{s:s, s:s}", "stack", stack, "region", region);
    return 0;
}

/* After the database secret's password changed, the instance's master
 * password must follow (RDS keeps its own copy). */
static int sync_master_password(dr_ops *ops, const char *region, const dr_state *st, dr_err *err)
{
    const char *inst = output_of(st, "DbInstanceIdentifier");
    const char *secret = output_of(st, "DbSecretArn");
    if (!inst || !secret)
        return 0;
    json_t *in = json_pack("{s:s}", "SecretId", secret), *out = NULL;
    int rc = dr_aws_json(ops->ctx->aws, "secretsmanager", region, "GetSecretValue", in, &out, err);
    json_decref(in);
    if (rc != 0)
        return -1;
    json_t *j = json_loads(json_string_value(json_object_get(out, "SecretString"))
                               ? json_string_value(json_object_get(out, "SecretString"))
                               : "",
                           0, NULL);
    const char *pw = json_string_value(json_object_get(j, "password"));
    if (pw) {
        dr_kvlist q = DR_KVLIST_INIT;
        dr_kv_add(&q, "DBInstanceIdentifier", inst);
        dr_kv_add(&q, "MasterUserPassword", pw);
        dr_kv_add(&q, "ApplyImmediately", "true");
        rc = dr_aws_query(ops->ctx->aws, "rds", region, "ModifyDBInstance", &q, NULL, err);
        for (size_t i = 0; i < q.n; i++)
            if (strcmp(q.items[i].name, "MasterUserPassword") == 0)
                dr_secure_zero(q.items[i].value, strlen(q.items[i].value));
        dr_kv_free(&q);
    }
    if (j) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) if (json_is_string(v))
            dr_secure_zero((char *)json_string_value(v), strlen(json_string_value(v)));
    }
    json_decref(j);
    json_t *ss = json_object_get(out, "SecretString");
    if (json_is_string(ss))
        dr_secure_zero((char *)json_string_value(ss), strlen(json_string_value(ss)));
    json_decref(out);
    return rc;
}

static int act_restore_secrets(void *app, const dr_rb_call *c, json_t **detail, dr_err *err)
{
    dr_ops *ops = app;
    const char *stack = step_stack(ops, c, err), *region = param(c, "region");
    dr_restore_chain *ch;
    if (!stack || get_chain(ops, c, &ch, err) != 0)
        return -1;
    dr_state st;
    if (load_state(ops, stack, region, &st, err) != 0)
        return -1;
    size_t restored = 0, unchanged = 0;
    int rc = dr_restore_secrets(ch, ops->ctx->aws, region, st.resources, LOG(ops), &restored,
                                &unchanged, err);
    if (rc == 0 && restored > 0)
        rc = sync_master_password(ops, region, &st, err);
    dr_state_free(&st);
    if (rc != 0)
        return -1;
    *detail = json_pack("{s:I, s:I}", "restored", (json_int_t)restored, "unchanged",
                        (json_int_t)unchanged);
    fprintf(c->out, "    %zu secret value%s written, %zu already equal\n", restored,
            restored == 1 ? "" : "s", unchanged);
    return 0;
}

static int act_restore_database(void *app, const dr_rb_call *c, json_t **detail, dr_err *err)
{
    dr_ops *ops = app;
    const char *stack = step_stack(ops, c, err), *region = param(c, "region");
    dr_restore_chain *ch;
    if (!stack || get_chain(ops, c, &ch, err) != 0)
        return -1;
    /* An instance RDS restored from the bundle's snapshot already holds the
     * data, unless the sandbox stands in for RDS: its snapshots hold none,
     * so there the logical dump carries the data (said in the detail). */
    const char *snap = bundle_snapshot(ch, region);
    const dr_region_profile *rp = dr_profiles_find(&ops->set, region);
    int from_snapshot = 0;
    if (snap && rp && rp->database.restore_path != DR_DB_RESTORE_LOGICAL) {
        dr_state st;
        if (load_state(ops, stack, region, &st, err) != 0)
            return -1;
        const char *used = json_string_value(json_object_get(
            json_object_get(dr_state_get(&st, "Db"), "properties"), "DBSnapshotIdentifier"));
        from_snapshot = used && strcmp(used, snap) == 0;
        dr_state_free(&st);
    }
    if (from_snapshot && !sandbox_db(region)) {
        *detail = json_pack("{s:s, s:I}", "restored_by", snap, "recovery_point",
                            (json_int_t)dr_restore_chain_captured_at(ch));
        fprintf(c->out, "    restored by RDS from the bundle's snapshot %s\n", snap);
        return 0;
    }
    char *conninfo = NULL, *password = NULL;
    if (db_conn(ops, stack, region, 1, &conninfo, &password, err) != 0)
        return -1;
    int jobs = 2;
    const char *j = param(c, "jobs");
    if (j && atoi(j) > 0)
        jobs = atoi(j);
    char *scratch = dr_xasprintf("%s/tmp/restore", ops->store);
    dr_mkdirs(scratch, 0700);
    dr_pg_conn conn = {conninfo, password};
    dr_restore_db_result r = {0};
    int rc = dr_restore_db(ch, &conn, jobs, scratch, LOG(ops), &r, err);
    free(scratch);
    free_conn(conninfo, password);
    if (rc != 0)
        return -1;
    *detail = json_pack(
        "{s:I, s:I, s:I, s:f, s:I, s:s?}", "tables", (json_int_t)r.tables, "rows",
        (json_int_t)r.rows, "dump_bytes", (json_int_t)r.dump_bytes, "seconds", r.seconds,
        "recovery_point", (json_int_t)dr_restore_chain_captured_at(ch), "note",
        from_snapshot ? "the instance was restored from the bundle's RDS snapshot; the sandbox's "
                        "snapshots hold no data, so the logical dump carries it"
                      : NULL);
    fprintf(c->out, "    %zu tables, %lld rows restored and checked against the bundle\n", r.tables,
            (long long)r.rows);
    return 0;
}

static int target_bucket(dr_ops *ops, const char *stack, const char *region, char **bucket,
                         char **kms, dr_err *err)
{
    dr_state st;
    if (load_state(ops, stack, region, &st, err) != 0)
        return -1;
    const char *b = output_of(&st, "BucketName"), *k = output_of(&st, "KmsKeyArn");
    int rc = 0;
    if (!b)
        rc = dr_err_set(err, DR_E_NOT_FOUND, "the stack %s in %s has no bucket", stack, region);
    else {
        *bucket = dr_xstrdup(b);
        *kms = k ? dr_xstrdup(k) : NULL;
    }
    dr_state_free(&st);
    return rc;
}

static int act_restore_objects(void *app, const dr_rb_call *c, json_t **detail, dr_err *err)
{
    dr_ops *ops = app;
    const char *stack = step_stack(ops, c, err), *region = param(c, "region");
    dr_restore_chain *ch;
    if (!stack || get_chain(ops, c, &ch, err) != 0)
        return -1;
    char *bucket = NULL, *kms = NULL;
    if (target_bucket(ops, stack, region, &bucket, &kms, err) != 0)
        return -1;
    dr_restore_obj_result r = {0};
    int rc = dr_restore_objects(ch, ops->ctx->aws, region, bucket, kms, 8, LOG(ops), &r, err);
    if (rc == 0) {
        *detail = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "bucket", bucket, "objects",
                            (json_int_t)r.objects, "uploaded", (json_int_t)r.uploaded,
                            "skipped_same", (json_int_t)r.skipped_same, "extra",
                            (json_int_t)r.extra, "bytes", (json_int_t)r.bytes);
        fprintf(c->out, "    %zu objects: %zu uploaded, %zu already there\n", r.objects, r.uploaded,
                r.skipped_same);
    }
    free(bucket);
    free(kms);
    return rc;
}

static int ecs_counts(dr_ops *ops, const dr_state *st, const char *region, long *desired,
                      long *running, dr_err *err)
{
    const char *cluster = output_of(st, "ClusterName"), *svc = output_of(st, "ServiceName");
    if (!cluster || !svc)
        return dr_err_set(err, DR_E_NOT_FOUND, "no ECS service deployed in %s", region);
    json_t *in = json_pack("{s:s, s:[s]}", "cluster", cluster, "services", svc), *out = NULL;
    int rc = dr_aws_json(ops->ctx->aws, "ecs", region, "DescribeServices", in, &out, err);
    json_decref(in);
    if (rc == 0) {
        json_t *s = json_array_get(json_object_get(out, "services"), 0);
        if (!s)
            rc = dr_err_set(err, DR_E_NOT_FOUND, "ECS service %s not found in %s", svc, region);
        *desired = json_integer_value(json_object_get(s, "desiredCount"));
        *running = json_integer_value(json_object_get(s, "runningCount"));
    }
    json_decref(out);
    return rc;
}

static int act_scale_service(void *app, const dr_rb_call *c, json_t **detail, dr_err *err)
{
    dr_ops *ops = app;
    const char *stack = step_stack(ops, c, err), *region = param(c, "region");
    const char *count = param(c, "count");
    if (!stack)
        return -1;
    long n;
    if (!count || strcmp(count, "min") == 0) {
        const dr_region_profile *prim = ops->set.primary;
        n = prim ? prim->service.min_tasks : 1;
    } else {
        n = atol(count);
    }
    dr_state st;
    if (load_state(ops, stack, region, &st, err) != 0)
        return -1;
    const char *cluster = output_of(&st, "ClusterName"), *svc = output_of(&st, "ServiceName");
    int rc;
    if (!cluster || !svc) {
        rc = dr_err_set(err, DR_E_NOT_FOUND, "no ECS service deployed in %s", region);
    } else {
        json_t *in = json_pack("{s:s, s:s, s:I}", "cluster", cluster, "service", svc,
                               "desiredCount", (json_int_t)n);
        rc = dr_aws_json(ops->ctx->aws, "ecs", region, "UpdateService", in, NULL, err);
        json_decref(in);
    }
    dr_state_free(&st);
    if (rc != 0)
        return -1;
    *detail = json_pack("{s:I}", "desired", (json_int_t)n);
    return 0;
}

/* Target health of the stack's target group: healthy and registered. */
static int target_health(dr_ops *ops, const dr_state *st, const char *region, int *healthy,
                         int *registered, dr_err *err)
{
    *healthy = *registered = 0;
    const char *tg = output_of(st, "TargetGroupArn");
    if (!tg)
        return 0;
    dr_kvlist q = DR_KVLIST_INIT;
    dr_kv_add(&q, "TargetGroupArn", tg);
    xmlDocPtr doc = NULL;
    int rc = dr_aws_query(ops->ctx->aws, "elbv2", region, "DescribeTargetHealth", &q, &doc, err);
    dr_kv_free(&q);
    if (rc != 0)
        return -1;
    for (xmlNodePtr n = dr_xml_find(xmlDocGetRootElement(doc),
                                    "DescribeTargetHealthResult/TargetHealthDescriptions/member");
         n; n = dr_xml_next_same(n)) {
        (*registered)++;
        char *s = dr_xml_text(n, "TargetHealth/State");
        if (s && strcmp(s, "healthy") == 0)
            (*healthy)++;
        free(s);
    }
    xmlFreeDoc(doc);
    return 0;
}

/* One health look: ECS running vs desired, ALB targets. *ok set; *why says
 * what is missing. */
static int health_once(dr_ops *ops, const char *stack, const char *region, int *ok, json_t **detail,
                       dr_err *err)
{
    dr_state st;
    if (load_state(ops, stack, region, &st, err) != 0)
        return -1;
    long desired = 0, running = 0;
    int healthy = 0, registered = 0;
    int rc = ecs_counts(ops, &st, region, &desired, &running, err);
    if (rc == 0)
        rc = target_health(ops, &st, region, &healthy, &registered, err);
    const dr_region_profile *p = dr_profiles_find(&ops->set, region);
    int sandbox = p && p->environment && strcmp(p->environment, "sandbox") == 0;
    if (rc == 0) {
        /* moto runs no task, so no target ever registers: in the sandbox
         * ECS's running count is all there is to see (said in the detail). */
        int targets_ok = healthy > 0 || (sandbox && registered == 0);
        *ok = desired > 0 && running >= desired && targets_ok;
        json_decref(*detail);
        *detail = json_pack("{s:I, s:I, s:i, s:i, s:s?}", "desired", (json_int_t)desired, "running",
                            (json_int_t)running, "targets_healthy", healthy, "targets_registered",
                            registered, "note",
                            sandbox && registered == 0
                                ? "sandbox: moto runs no tasks, so no load balancer target "
                                  "registers; ECS's running count is what is checked"
                                : NULL);
    }
    dr_state_free(&st);
    return rc;
}

static int act_wait_healthy(void *app, const dr_rb_call *c, json_t **detail, dr_err *err)
{
    dr_ops *ops = app;
    const char *stack = step_stack(ops, c, err), *region = param(c, "region");
    if (!stack)
        return -1;
    double delay = 1;
    for (;;) {
        int ok = 0;
        if (health_once(ops, stack, region, &ok, detail, err) != 0)
            return -1;
        if (ok)
            return 0;
        if (dr_rb_expired(c))
            return dr_err_set(err, DR_E_VERIFY, "%s in %s is not healthy yet", stack, region);
        usleep((useconds_t)(delay * 1e6));
        if (delay < 10)
            delay *= 1.5;
    }
}

static int act_verify(void *app, const dr_rb_call *c, json_t **detail, dr_err *err)
{
    dr_ops *ops = app;
    const char *stack = step_stack(ops, c, err), *region = param(c, "region");
    const char *what = param(c, "what");
    if (!stack)
        return -1;
    if (!what)
        what = "all";
    int all = strcmp(what, "all") == 0;
    json_t *d = json_object();
    *detail = d;
    if (all || strcmp(what, "database") == 0 || strcmp(what, "objects") == 0) {
        dr_restore_chain *ch;
        if (get_chain(ops, c, &ch, err) != 0)
            return -1;
        if (all || strcmp(what, "database") == 0) {
            char *conninfo = NULL, *password = NULL;
            if (db_conn(ops, stack, region, 0, &conninfo, &password, err) != 0)
                return -1;
            dr_pg_conn conn = {conninfo, password};
            int rc = dr_restore_verify_db(ch, &conn, err);
            free_conn(conninfo, password);
            if (rc != 0)
                return dr_err_wrap(err, "verifying the database of %s in %s", stack, region);
            json_object_set_new(d, "database",
                                json_string("every table's rows and checksum "
                                            "equal the bundle's"));
        }
        if (all || strcmp(what, "objects") == 0) {
            char *bucket = NULL, *kms = NULL;
            if (target_bucket(ops, stack, region, &bucket, &kms, err) != 0)
                return -1;
            size_t checked = 0;
            int rc = dr_restore_verify_objects(ch, ops->ctx->aws, region, bucket, 8, &checked, err);
            free(bucket);
            free(kms);
            if (rc != 0)
                return dr_err_wrap(err, "verifying the objects of %s in %s", stack, region);
            json_object_set_new(d, "objects", json_integer((json_int_t)checked));
        }
    }
    if (all || strcmp(what, "health") == 0) {
        int ok = 0;
        json_t *h = NULL;
        if (health_once(ops, stack, region, &ok, &h, err) != 0)
            return -1;
        json_object_set_new(d, "health", h);
        if (!ok)
            return dr_err_set(err, DR_E_VERIFY, "%s in %s is not healthy", stack, region);
    }
    fprintf(c->out, "    verified: %s\n", what);
    return 0;
}

static int act_promote_replica(void *app, const dr_rb_call *c, json_t **detail, dr_err *err)
{
    dr_ops *ops = app;
    const char *stack = step_stack(ops, c, err), *region = param(c, "region");
    if (!stack)
        return -1;
    dr_state st;
    if (load_state(ops, stack, region, &st, err) != 0)
        return -1;
    const char *inst = output_of(&st, "DbInstanceIdentifier");
    int rc = 0;
    if (!inst) {
        rc = dr_err_set(err, DR_E_NOT_FOUND, "no database instance of %s in %s", stack, region);
    } else {
        dr_kvlist q = DR_KVLIST_INIT;
        dr_kv_add(&q, "DBInstanceIdentifier", inst);
        dr_kv_add(&q, "BackupRetentionPeriod", "7");
        dr_err e;
        dr_err_clear(&e);
        rc = dr_aws_query(ops->ctx->aws, "rds", region, "PromoteReadReplica", &q, NULL, &e);
        dr_kv_free(&q);
        /* Already standalone (a resumed run): done. */
        if (rc != 0 && e.aws.code[0] && strstr(e.aws.code, "InvalidDBInstanceState"))
            rc = 0;
        else if (rc != 0)
            *err = e;
        if (rc == 0)
            *detail = json_pack("{s:s, s:b}", "instance", inst, "service_resumed", 0);
    }
    dr_state_free(&st);
    return rc;
}

/* Route 53: the failover record of `to` becomes PRIMARY, the other
 * SECONDARY, in one change batch. */
static int switch_dns(dr_ops *ops, const char *to, json_t **detail, dr_err *err)
{
    const char *stack = ops->set.primary ? ops->set.primary->stack : ops->set.regions[0].stack;
    dr_state g = {0};
    if (!dr_state_exists(ops->store, stack, DR_STATE_GLOBAL)) {
        *detail = json_pack("{s:s}", "skipped", "no global edge deployed: nothing to switch");
        return 0;
    }
    if (dr_state_load(ops->store, stack, DR_STATE_GLOBAL, &g, err) != 0)
        return -1;
    json_t *recs = json_array();
    const char *zone_name = NULL;
    const char *ids[] = {"PrimaryRecord", "StandbyRecord"};
    for (int i = 0; i < 2; i++) {
        json_t *e = dr_state_get(&g, ids[i]);
        json_t *props = json_object_get(e, "properties");
        if (!props)
            continue;
        json_t *r = json_deep_copy(props);
        const char *set_id = json_string_value(json_object_get(r, "SetIdentifier"));
        size_t sl = set_id ? strlen(set_id) : 0, tl = strlen(to);
        int is_to = set_id && sl > tl && strcmp(set_id + sl - tl, to) == 0;
        json_object_set_new(r, "Failover", json_string(is_to ? "PRIMARY" : "SECONDARY"));
        zone_name = json_string_value(json_object_get(props, "HostedZoneName"));
        json_array_append_new(recs, r);
    }
    int rc = 0;
    if (json_array_size(recs) < 2 || !zone_name) {
        *detail = json_pack("{s:s}", "skipped", "the edge has no standby record to switch to");
    } else {
        char *zone_id = NULL, *change = NULL;
        rc = dr_route53_zone_id(ops->ctx->aws, zone_name, &zone_id, err);
        if (rc == 0)
            rc = dr_route53_change_records(ops->ctx->aws, zone_id, "UPSERT", recs,
                                           "drctl failover: serve from the target region", &change,
                                           err);
        if (rc == 0) {
            /* The state follows, so that status and plan show what is. */
            size_t i;
            json_t *r;
            json_array_foreach(recs, i, r)
            {
                json_t *e = dr_state_get(&g, ids[i]);
                json_object_set(e, "properties", r);
            }
            rc = dr_state_save(&g, err);
            *detail =
                json_pack("{s:s, s:s?, s:s}", "primary", to, "change", change, "zone", zone_id);
        }
        free(zone_id);
        free(change);
    }
    json_decref(recs);
    dr_state_free(&g);
    return rc;
}

static int act_switch_dns(void *app, const dr_rb_call *c, json_t **detail, dr_err *err)
{
    dr_ops *ops = app;
    const char *to = param(c, "to");
    int best = json_is_true(json_object_get(c->params, "best_effort")) ||
               (param(c, "best_effort") && strcmp(param(c, "best_effort"), "true") == 0);
    dr_err e;
    dr_err_clear(&e);
    int rc = switch_dns(ops, to, detail, &e);
    if (rc != 0 && best) {
        /* Route 53's control plane lives in us-east-1: when that region is
         * the one down, the health-checked failover records already send
         * clients to the standby. Never block the failover on it. */
        dr_warn(LOG(ops),
                "DNS switch to %s not done (best effort, the failover records still "
                "route by health): %s",
                to, e.msg);
        json_decref(*detail);
        *detail = json_pack("{s:s, s:b}", "best_effort_failed", e.msg, "service_resumed", 1);
        return 0;
    }
    if (rc != 0)
        *err = e;
    return rc;
}

static int act_backup(void *app, const dr_rb_call *c, json_t **detail, dr_err *err)
{
    dr_ops *ops = app;
    const dr_region_profile *p = region_profile(ops, param(c, "region"), err);
    if (!p)
        return -1;
    dr_aws_opts ao = {
        .profile = ops->ctx->profile, .endpoint_url = ops->ctx->endpoint_url, .log = LOG(ops)};
    dr_backup_opts o = {.aws = ops->ctx->aws,
                        .aws_opts = &ao,
                        .log = LOG(ops),
                        .set = &ops->set,
                        .p = p,
                        .state_store = ops->store,
                        .wait = 1};
    dr_backup_result r;
    if (dr_backup_run(&o, &r, err) != 0)
        return -1;
    char vs[32];
    snprintf(vs, sizeof(vs), "%llu", (unsigned long long)r.version);
    *detail = json_pack("{s:I, s:s, s:I, s:I, s:{s:s}}", "version", (json_int_t)r.version, "kind",
                        r.incremental ? "incremental" : "full", "rows", (json_int_t)r.rows,
                        "objects", (json_int_t)r.objects_listed, "set", "bundle", vs);
    fprintf(c->out, "    bundle v%s of %s: %lld rows, %zu objects\n", vs, p->region,
            (long long)r.rows, r.objects_listed);
    return 0;
}

/* ---- the table -------------------------------------------------------------- */

static const char *const p_region[] = {"region", NULL};
static const char *const p_check_opt[] = {"region", "max_age", NULL};
static const char *const p_deploy_opt[] = {"region", "state", "db_source", "global", "stack", NULL};
static const char *const p_restore_opt[] = {"bundle", "stack", "jobs", NULL};
static const char *const p_scale_opt[] = {"count", "stack", NULL};
static const char *const p_wait_opt[] = {"timeout", "stack", NULL};
static const char *const p_verify_opt[] = {"what", "stack", "bundle", NULL};
static const char *const p_to[] = {"to", NULL};
static const char *const p_best[] = {"best_effort", NULL};
static const char *const p_teardown[] = {"region", "stack", NULL};

static const dr_rb_action_def actions[] = {
    {"check-bundle", NULL, p_check_opt, 300, 5, 0, act_check_bundle, NULL},
    {"deploy", NULL, p_deploy_opt, 3600, 60, 0, act_deploy, NULL},
    {"restore-secrets", p_region, p_restore_opt, 600, 3, 0, act_restore_secrets, NULL},
    {"restore-database", p_region, p_restore_opt, 7200, 120, 0, act_restore_database, NULL},
    {"restore-objects", p_region, p_restore_opt, 7200, 120, 0, act_restore_objects, NULL},
    {"promote-replica", p_region, p_teardown + 1, 3600, 300, 0, act_promote_replica, NULL},
    {"scale-service", p_region, p_scale_opt, 600, 5, 0, act_scale_service, NULL},
    {"wait-healthy", p_region, p_wait_opt, 1800, 120, 0, act_wait_healthy, NULL},
    {"switch-dns", p_to, p_best, 600, 30, 0, act_switch_dns, NULL},
    {"verify", p_region, p_verify_opt, 1800, 60, 1, act_verify, NULL},
    {"teardown", p_teardown, NULL, 3600, 300, 0, act_teardown, NULL},
    {"backup", p_region, NULL, 7200, 120, 0, act_backup, NULL},
};

const dr_rb_action_def *dr_ops_actions(size_t *n)
{
    *n = sizeof(actions) / sizeof(actions[0]);
    return actions;
}
