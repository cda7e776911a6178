/*
 * doctor.c - `drctl doctor [REGION...]`: is this machine ready to run drctl?
 *
 * One line per check, so that an engineer (or a log scraper) sees at once
 * what is wrong. Every AWS check is a real, read-only call, one per protocol
 * family, because a signer or endpoint bug usually shows in one family only.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws/xml.h"
#include "cmd/commands.h"
#include "db/dbmap.h"
#include "util/mem.h"

typedef enum { CHECK_OK, CHECK_WARN, CHECK_FAIL, CHECK_SKIP } check_status;

typedef struct doctor {
    dr_ctx *ctx;
    json_t *checks; /* array, for --output json */
    int failed;
    dr_code first_code; /* exit code: that of the first failed check */
} doctor;

static void report(doctor *d, check_status st, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(doctor *d, check_status st, const char *name, const char *fmt, ...)
{
    static const char *const word[] = {"ok", "warn", "FAIL", "skip"};
    static const char *const jword[] = {"ok", "warning", "failed", "skipped"};
    char detail[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (d->ctx->output == DR_OUTPUT_JSON)
        json_array_append_new(d->checks, json_pack("{s:s, s:s, s:s}", "check", name, "status",
                                                   jword[st], "detail", detail));
    else
        printf("%-5s %-22s %s\n", word[st], name, detail);
    fflush(stdout);
}

static void fail(doctor *d, const char *name, const dr_err *e)
{
    if (!d->failed)
        d->first_code = e->code ? e->code : DR_E_INTERNAL;
    d->failed++;
    if (e->hint[0])
        report(d, CHECK_FAIL, name, "%s (%s)", e->msg, e->hint);
    else
        report(d, CHECK_FAIL, name, "%s", e->msg);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Masks an access key id to its last four characters: not a secret, but it
 * has no business in logs either. */
static void mask_key(const char *key, char out[32])
{
    size_t n = key ? strlen(key) : 0;
    if (n <= 4)
        snprintf(out, 32, "****");
    else
        snprintf(out, 32, "****%s", key + n - 4);
}

static int check_credentials(doctor *d, dr_aws *aws)
{
    dr_creds creds = {0};
    dr_err e;
    dr_err_clear(&e);
    if (dr_aws_credentials(aws, &creds, &e) != 0) {
        fail(d, "credentials", &e);
        return -1;
    }
    char masked[32];
    mask_key(creds.access_key, masked);
    report(d, CHECK_OK, "credentials", "%s, access key %s%s",
           creds.source_detail[0] ? creds.source_detail : creds.source, masked,
           creds.session_token ? " (temporary)" : "");
    dr_creds_clear(&creds);
    return 0;
}

static void check_identity(doctor *d, dr_aws *aws, const char *region)
{
    dr_err e;
    dr_err_clear(&e);
    xmlDocPtr doc = NULL;
    if (dr_aws_query(aws, "sts", region, "GetCallerIdentity", NULL, &doc, &e) != 0) {
        fail(d, "identity", &e);
        return;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    char *arn = dr_xml_text(root, "GetCallerIdentityResult/Arn");
    char *account = dr_xml_text(root, "GetCallerIdentityResult/Account");
    report(d, CHECK_OK, "identity", "%s (account %s)", arn ? arn : "?", account ? account : "?");
    free(arn);
    free(account);
    xmlFreeDoc(doc);
}

/* One call of one protocol family; reports endpoint, its source and time. */
static void check_family(doctor *d, dr_aws *aws, const char *region, const char *family)
{
    char name[64];
    snprintf(name, sizeof(name), "%s %s", region, family);
    const char *svc = strcmp(family, "query") == 0  ? "sts"
                      : strcmp(family, "ec2") == 0  ? "ec2"
                      : strcmp(family, "json") == 0 ? "kms"
                                                    : "s3";
    dr_err e;
    dr_err_clear(&e);
    dr_endpoint ep;
    if (dr_aws_endpoint(aws, svc, region, &ep, &e) != 0) {
        fail(d, name, &e);
        return;
    }
    double t0 = now_ms();
    int rc;
    const char *op;
    if (strcmp(svc, "sts") == 0) {
        op = "STS GetCallerIdentity";
        rc = dr_aws_query(aws, "sts", region, "GetCallerIdentity", NULL, NULL, &e);
    } else if (strcmp(svc, "ec2") == 0) {
        op = "EC2 DescribeVpcs";
        dr_kvlist params = DR_KVLIST_INIT;
        dr_kv_add(&params, "MaxResults", "5");
        rc = dr_aws_query(aws, "ec2", region, "DescribeVpcs", &params, NULL, &e);
        dr_kv_free(&params);
    } else if (strcmp(svc, "kms") == 0) {
        op = "KMS ListKeys";
        json_t *in = json_pack("{s:i}", "Limit", 1);
        rc = dr_aws_json(aws, "kms", region, "ListKeys", in, NULL, &e);
        json_decref(in);
    } else {
        op = "S3 ListBuckets";
        dr_aws_rest_req req = {0};
        req.service = "s3";
        req.region = region;
        req.operation = "ListBuckets";
        req.method = "GET";
        dr_aws_rest_resp resp;
        dr_aws_rest_resp_init(&resp);
        rc = dr_aws_rest(aws, &req, &resp, &e);
        dr_aws_rest_resp_free(&resp);
    }
    if (rc != 0) {
        fail(d, name, &e);
        return;
    }
    report(d, CHECK_OK, name, "%s via %s (%s) %.0f ms", op, ep.url, ep.source, now_ms() - t0);
}

/* Finds an executable in PATH; caller frees. */
static char *which(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path)
        return NULL;
    char *copy = dr_xstrdup(path), *save = NULL, *found = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char *p = dr_xasprintf("%s/%s", *dir ? dir : ".", prog);
        if (access(p, X_OK) == 0) {
            found = p;
            break;
        }
        free(p);
    }
    free(copy);
    return found;
}

static void check_tool(doctor *d, const char *prog)
{
    dr_err e;
    dr_err_clear(&e);
    char *path = which(prog);
    if (!path) {
        dr_err_set(&e, DR_E_IO, "%s not found in PATH", prog);
        dr_err_hint(&e, "install the PostgreSQL client (Debian: postgresql-client-15)");
        fail(d, prog, &e);
        return;
    }
    /* The path comes from PATH and holds no secret; quoted for the shell. */
    char *cmd = dr_xasprintf("'%s' --version 2>&1", path);
    FILE *p = popen(cmd, "r");
    char line[256] = "";
    if (p) {
        if (!fgets(line, sizeof(line), p))
            line[0] = '\0';
        pclose(p);
    }
    line[strcspn(line, "\n")] = '\0';
    /* "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)": the version is
     * the word after the product name. */
    const char *ver = strstr(line, ") ");
    char version[64];
    snprintf(version, sizeof(version), "%.*s", ver ? (int)strcspn(ver + 2, " ") : (int)strlen(line),
             ver ? ver + 2 : line);
    report(d, CHECK_OK, prog, "%s (%s)", version, path);
    free(cmd);
    free(path);
}

static void check_store(doctor *d, const char *store)
{
    dr_err e;
    dr_err_clear(&e);
    struct stat st;
    if (stat(store, &st) != 0) {
        if (errno != ENOENT) {
            dr_err_set(&e, DR_E_IO, "%s: %s", store, strerror(errno));
            fail(d, "store", &e);
            return;
        }
        /* Not there yet: the first backup creates it if the parent allows. */
        char *parent = dr_xstrdup(store);
        char *slash = strrchr(parent, '/');
        if (slash)
            *(slash == parent ? slash + 1 : slash) = '\0';
        else
            strcpy(parent, ".");
        if (access(parent, W_OK) != 0) {
            dr_err_set(&e, DR_E_IO, "%s does not exist and %s is not writable", store, parent);
            fail(d, "store", &e);
        } else {
            report(d, CHECK_OK, "store", "%s (will be created)", store);
        }
        free(parent);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        dr_err_set(&e, DR_E_IO, "%s is not a directory", store);
        fail(d, "store", &e);
        return;
    }
    char *tmpl = dr_xasprintf("%s/.doctor-XXXXXX", store);
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        dr_err_set(&e, DR_E_IO, "%s is not writable: %s", store, strerror(errno));
        fail(d, "store", &e);
    } else {
        close(fd);
        unlink(tmpl);
        report(d, CHECK_OK, "store", "%s writable", store);
    }
    free(tmpl);
}

static void check_database(doctor *d, const dr_dbmap *map, const char *region)
{
    const char *conninfo = dr_dbmap_lookup(map, region);
    if (!conninfo)
        return;
    char name[64];
    snprintf(name, sizeof(name), "database %s", region);
    char *shown = dr_dbmap_describe(conninfo);
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *vals[] = {conninfo, "5", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(pg) != CONNECTION_OK) {
        dr_err e;
        /* libpq's message names host and port, never the password. */
        dr_err_set(&e, DR_E_NETWORK, "sandbox database for %s (DRCTL_DB_MAP: %s): %s", region,
                   shown, PQerrorMessage(pg));
        e.msg[strcspn(e.msg, "\n")] = '\0';
        fail(d, name, &e);
    } else {
        report(d, CHECK_OK, name,
               "sandbox mapping in force (DRCTL_DB_MAP): RDS in %s -> PostgreSQL %d at %s", region,
               PQserverVersion(pg) / 10000, shown);
    }
    PQfinish(pg);
    free(shown);
}

int cmd_doctor(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    static const struct option longopts[] = {{"store", required_argument, NULL, 's'},
                                             {NULL, 0, NULL, 0}};
    const dr_command *self = dr_command_find("doctor");
    const char *store = getenv("DRCTL_STORE");
    if (!store || !*store)
        store = "snapshots";
    int c;
    while ((c = dr_getopt(self, argc, argv, ":", longopts, err)) != -1) {
        if (c == -2)
            return -1;
        if (c == 's')
            store = optarg;
    }

    /* Regions first: a typo is a config error before any call is made. */
    int nregions = argc - optind;
    char *default_region = NULL;
    for (int i = optind; i < argc; i++)
        if (dr_check_region(argv[i], "the command line", err) != 0)
            return -1;
    if (nregions == 0) {
        if (dr_ctx_region(ctx, &default_region, err) != 0)
            return -1;
    }
    dr_dbmap map;
    if (dr_dbmap_from_env(&map, err) != 0) {
        free(default_region);
        return -1;
    }

    doctor d = {.ctx = ctx, .checks = json_array()};
    dr_aws *aws = NULL;
    dr_err e;
    dr_err_clear(&e);
    int have_aws = dr_ctx_aws(ctx, &aws, &e) == 0;
    if (!have_aws)
        fail(&d, "aws client", &e);
    int have_creds = have_aws && check_credentials(&d, aws) == 0;
    const char *first = nregions ? argv[optind] : default_region;
    if (have_creds)
        check_identity(&d, aws, first);
    static const char *const families[] = {"query", "ec2", "json", "rest-xml"};
    for (int i = 0; i < (nregions ? nregions : 1); i++) {
        const char *region = nregions ? argv[optind + i] : default_region;
        for (size_t f = 0; f < 4; f++) {
            char name[64];
            snprintf(name, sizeof(name), "%s %s", region, families[f]);
            if (have_creds)
                check_family(&d, aws, region, families[f]);
            else
                report(&d, CHECK_SKIP, name, "no credentials");
        }
        check_database(&d, &map, region);
    }
    check_tool(&d, "pg_dump");
    check_tool(&d, "pg_restore");
    check_store(&d, store);

    if (ctx->output == DR_OUTPUT_JSON) {
        json_t *out = json_pack("{s:b, s:o}", "ok", !d.failed, "checks", d.checks);
        char *s = json_dumps(out, JSON_INDENT(2));
        puts(s);
        free(s);
        json_decref(out);
    } else {
        json_decref(d.checks);
    }
    dr_dbmap_free(&map);
    free(default_region);
    if (d.failed) {
        dr_err_set(err, d.first_code, "%d check%s failed", d.failed, d.failed == 1 ? "" : "s");
        return -1;
    }
    return 0;
}
