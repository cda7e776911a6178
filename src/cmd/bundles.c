/*
 * bundles.c - `drctl bundles list|show|verify|prune`: what is in the store
 * (local directory or the standby's S3 vault), what a bundle holds, whether
 * it is intact, and retention.
 *
 * list and prune read only the summaries (non-secret sidecars), so they
 * need no key. show and verify open the bundle: with KMS (the region asked
 * for first, then the others) and/or an offline recovery key. prune takes
 * the stack's backup lock, so it never deletes under a running backup.
 */
#include <getopt.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws/xml.h"
#include "backup/retention.h"
#include "backup/store.h"
#include "bundle/bundle.h"
#include "cmd/commands.h"
#include "cmd/stackcmd.h"
#include "db/dbmap.h"
#include "db/pg.h"
#include "stack/state.h"
#include "util/kv.h"
#include "util/lock.h"
#include "util/mem.h"

typedef struct bopts {
    const char *config_dir, *store, *recovery_key, *scratch_db;
    int vault, deep, dry_run, wait;
} bopts;

/* What every subcommand starts from. */
typedef struct bctx {
    dr_ctx *ctx;
    const dr_command *self;
    bopts o;
    dr_profile_set set;
    const dr_region_profile *p;       /* the region R */
    const dr_region_profile *standby; /* may be NULL */
    const char *stack;
    const char *local_dir; /* state, locks, local bundles */
    dr_store *store;
    dr_store_list list;
} bctx;

static void bctx_free(bctx *b)
{
    dr_store_list_free(&b->list);
    dr_store_free(b->store);
    dr_profiles_free(&b->set);
}

static const char *sum_str(const json_t *s, const char *k)
{
    const char *v = json_string_value(json_object_get(s, k));
    return v ? v : "?";
}

static int64_t sum_int(const json_t *s, const char *k, int64_t dflt)
{
    json_t *v = json_object_get(s, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static void human_size(uint64_t n, char *out, size_t cap)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double d = (double)n;
    int i = 0;
    while (d >= 1024 && i < 4) {
        d /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(out, cap, "%llu B", (unsigned long long)n);
    else
        snprintf(out, cap, "%.1f %s", d, u[i]);
}

static void human_age(int64_t secs, char *out, size_t cap)
{
    if (secs < 0)
        secs = 0;
    if (secs < 3600)
        snprintf(out, cap, "%lldm", (long long)(secs / 60));
    else if (secs < 86400 * 2)
        snprintf(out, cap, "%lldh%02lldm", (long long)(secs / 3600), (long long)(secs % 3600 / 60));
    else
        snprintf(out, cap, "%lldd", (long long)(secs / 86400));
}

static void utc_text(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M:%SZ", &tm);
}

/* The standby: the profile with role standby. */
static const dr_region_profile *find_standby(const dr_profile_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->regions[i].role == DR_ROLE_STANDBY)
            return &set->regions[i];
    return NULL;
}

/* Profiles, stack, region, and the store to work on (local, --store s3://,
 * or --vault). */
static int bctx_open(bctx *b, dr_err *err)
{
    const char *dir = dr_cmd_config_dir(b->o.config_dir);
    if (dr_cmd_load_profiles(dir, &b->set, err) != 0)
        return -1;
    const char *region = b->ctx->region;
    if (!region && !b->set.primary)
        return dr_err_set(err, DR_E_CONFIG, "no primary region in %s: pass --region", dir);
    if (dr_cmd_region_profile(&b->set, dir, region ? region : b->set.primary->region, &b->p, err) !=
        0)
        return -1;
    b->stack = b->p->stack;
    b->standby = find_standby(&b->set);
    int s3 = b->o.store && strncmp(b->o.store, "s3://", 5) == 0;
    b->local_dir = dr_cmd_store_dir(s3 ? NULL : b->o.store);
    if (b->o.vault && s3)
        return dr_err_set(err, DR_E_USAGE,
                          "--vault and --store s3://... both name the store: use one");
    if (b->o.vault) {
        if (!b->standby)
            return dr_err_set(err, DR_E_CONFIG,
                              "--vault: no standby region in %s (the vault is the standby's "
                              "bucket)",
                              dir);
        dr_state st;
        if (dr_state_load(b->local_dir, b->stack, b->standby->region, &st, err) != 0)
            return -1;
        const char *bucket = json_string_value(json_object_get(st.outputs, "VaultBucketName"));
        char *spec = bucket ? dr_xasprintf("s3://%s", bucket) : NULL;
        dr_state_free(&st);
        if (!spec) {
            dr_err_set(err, DR_E_NOT_FOUND,
                       "--vault: the standby %s has no deployed vault bucket (no "
                       "VaultBucketName in %s/state/%s/%s.json)",
                       b->standby->region, b->local_dir, b->stack, b->standby->region);
            return dr_err_hint(err, "deploy the standby first: drctl deploy %s",
                               b->standby->region);
        }
        dr_aws *aws = NULL;
        int rc = dr_ctx_aws(b->ctx, &aws, err);
        if (rc == 0)
            rc = dr_store_open(spec, aws, b->standby->region, &b->store, err);
        free(spec);
        return rc;
    }
    if (s3) {
        dr_aws *aws = NULL;
        if (dr_ctx_aws(b->ctx, &aws, err) != 0)
            return -1;
        const char *reg = b->ctx->region ? b->ctx->region
                          : b->standby   ? b->standby->region
                                         : b->p->region;
        return dr_store_open(b->o.store, aws, reg, &b->store, err);
    }
    return dr_store_open(b->local_dir, NULL, NULL, &b->store, err);
}

static int bctx_list(bctx *b, dr_err *err)
{
    return dr_store_list(b->store, b->stack, &b->list, err);
}

static int parse_version(const char *s, uint64_t *out, dr_err *err)
{
    const char *p = s;
    if (*p == 'v' || *p == 'V')
        p++;
    char *end = NULL;
    unsigned long long v = *p >= '0' && *p <= '9' ? strtoull(p, &end, 10) : 0;
    if (v == 0 || !end || *end)
        return dr_err_set(err, DR_E_USAGE, "'%s' is not a bundle version (expected N or vN)", s);
    *out = v;
    return 0;
}

/* The entry of version v, or DR_E_NOT_FOUND listing the versions there are. */
static const dr_store_entry *find_entry(bctx *b, uint64_t v, dr_err *err)
{
    const dr_store_entry *e = dr_store_list_find(&b->list, v);
    if (e)
        return e;
    dr_err_set(err, DR_E_NOT_FOUND, "no bundle v%llu of stack %s in %s", (unsigned long long)v,
               b->stack, dr_store_describe(b->store));
    if (b->list.n == 0) {
        dr_err_hint(err, "the store has no bundles of %s yet", b->stack);
        return NULL;
    }
    dr_buf vs = DR_BUF_INIT;
    for (size_t i = 0; i < b->list.n; i++)
        dr_buf_printf(&vs, "%sv%llu", i ? ", " : "", (unsigned long long)b->list.v[i].version);
    dr_err_hint(err, "versions there are: %s", dr_buf_cstr(&vs));
    dr_buf_free(&vs);
    return NULL;
}

/* ---- list ---------------------------------------------------------------- */

static json_t *entry_json(const dr_store_entry *e, int64_t now)
{
    json_t *s = e->summary;
    json_t *j = json_pack("{s:I, s:s, s:s, s:I}", "version", (json_int_t)e->version, "name",
                          e->name, "location", e->location, "size", (json_int_t)e->size);
    if (s) {
        int64_t cap = sum_int(s, "captured_at", 0);
        json_object_set_new(j, "kind", json_string(sum_str(s, "kind")));
        json_object_set_new(j, "parent", json_integer(sum_int(s, "parent", 0)));
        json_object_set_new(j, "captured_at", json_integer(cap));
        json_object_set_new(j, "age_seconds", json_integer(now - cap));
        json_object_set_new(j, "verified", json_boolean(json_object_get(s, "verified_at")));
    }
    json_object_set_new(j, "summary", s ? json_incref(s) : json_null());
    return j;
}

static int run_list(bctx *b, dr_err *err)
{
    int64_t now = (int64_t)time(NULL);
    int rpo = b->p->dr.rpo_minutes;
    const dr_store_entry *newest = b->list.n ? &b->list.v[b->list.n - 1] : NULL;
    int64_t newest_age =
        newest && newest->summary ? now - sum_int(newest->summary, "captured_at", now) : -1;
    int rpo_ok = newest_age >= 0 && newest_age <= (int64_t)rpo * 60;
    if (b->ctx->output == DR_OUTPUT_JSON) {
        json_t *arr = json_array();
        for (size_t i = 0; i < b->list.n; i++) {
            json_t *j = entry_json(&b->list.v[i], now);
            if (&b->list.v[i] == newest)
                json_object_set_new(j, "rpo", json_string(rpo_ok ? "ok" : "exceeded"));
            json_array_append_new(arr, j);
        }
        char *t = json_dumps(arr, JSON_INDENT(2));
        puts(t);
        free(t);
        json_decref(arr);
        return 0;
    }
    printf("stack %s, store %s\n", b->stack, dr_store_describe(b->store));
    if (b->list.n == 0) {
        printf("no bundles\n");
        return 0;
    }
    printf("%-8s %-21s %10s %-11s %-7s %8s\n", "VERSION", "CAPTURED (UTC)", "SIZE", "KIND",
           "PARENT", "AGE");
    for (size_t i = 0; i < b->list.n; i++) {
        const dr_store_entry *e = &b->list.v[i];
        char size[32], when[32] = "?", age[32] = "?", parent[24] = "-";
        human_size(e->size, size, sizeof(size));
        const char *kind = "?";
        if (e->summary) {
            int64_t cap = sum_int(e->summary, "captured_at", -1);
            if (cap >= 0) {
                utc_text(cap, when, sizeof(when));
                human_age(now - cap, age, sizeof(age));
            }
            kind = sum_str(e->summary, "kind");
            int64_t par = sum_int(e->summary, "parent", 0);
            if (par > 0)
                snprintf(parent, sizeof(parent), "v%lld", (long long)par);
        } else {
            snprintf(parent, sizeof(parent), "?");
        }
        printf("v%-7llu %-21s %10s %-11s %-7s %8s%s%s\n", (unsigned long long)e->version, when,
               size, kind, parent, age, e == newest ? (rpo_ok ? "  RPO ok" : "  RPO exceeded") : "",
               e->summary ? "" : "  (no summary)");
    }
    if (!rpo_ok)
        printf("newest bundle is older than dr.rpo_minutes (%d)\n", rpo);
    return 0;
}

/* ---- opening a bundle ------------------------------------------------------- */

typedef struct opened {
    dr_bundle_kms kms;
    const char **regions;
    char *privkey;
    void *src_ud;
    dr_bundle_reader *r;
} opened;

static void opened_free(opened *o)
{
    dr_bundle_reader_close(o->r);
    dr_store_source_free(o->src_ud);
    free(o->regions);
    dr_free_secret(o->privkey);
    memset(o, 0, sizeof(*o));
}

static int read_secret_file(const char *path, char **out, dr_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return dr_err_set(err, DR_E_IO, "recovery key %s: %m", path);
    dr_buf b = DR_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        dr_buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    dr_secure_zero(chunk, sizeof(chunk));
    if (bad || b.len == 0) {
        dr_buf_free_secret(&b);
        return dr_err_set(err, DR_E_IO, "recovery key %s: empty or unreadable", path);
    }
    *out = dr_buf_detach(&b);
    return 0;
}

static int open_bundle(bctx *b, const dr_store_entry *e, opened *o, dr_err *err)
{
    memset(o, 0, sizeof(*o));
    const char *rk = b->o.recovery_key ? b->o.recovery_key : getenv("DRCTL_RECOVERY_KEY");
    if (rk && *rk && read_secret_file(rk, &o->privkey, err) != 0)
        return -1;
    dr_aws *aws = NULL;
    dr_err aerr;
    dr_err_clear(&aerr);
    /* KMS only when there are credentials to be had: with a recovery key the
     * bundle opens with no AWS at all. */
    int have_aws = dr_ctx_aws(b->ctx, &aws, &aerr) == 0;
    if (!have_aws && !o->privkey) {
        *err = aerr;
        return -1;
    }
    dr_bundle_keyring kr = {0};
    if (have_aws) {
        dr_bundle_kms_aws(aws, &o->kms);
        kr.kms = &o->kms;
        o->regions = dr_xcalloc(b->set.n + 1, sizeof(char *));
        size_t n = 0;
        o->regions[n++] = b->p->region;
        for (size_t i = 0; i < b->set.n; i++)
            if (&b->set.regions[i] != b->p)
                o->regions[n++] = b->set.regions[i].region;
        kr.kms_regions = o->regions;
        kr.n_kms_regions = n;
    }
    kr.recovery_privkey_pem = o->privkey;
    dr_bundle_source src;
    if (dr_store_open_source(b->store, e, &src, &o->src_ud, err) != 0)
        return -1;
    if (dr_bundle_reader_open_source(&src, &kr, &o->r, err) != 0) {
        dr_err_wrap(err, "opening %s", e->location);
        return -1;
    }
    return 0;
}

/* ---- show ------------------------------------------------------------------- */

static void print_digest(const dr_store_entry *e, const dr_bundle_info *in, const json_t *m)
{
    char when[32], size[32], data[32];
    utc_text(in->captured_at, when, sizeof(when));
    human_size(e->size, size, sizeof(size));
    human_size(in->data_bytes, data, sizeof(data));
    printf("bundle     v%llu (%s)\n", (unsigned long long)in->version, e->location);
    printf("stack      %s, source region %s\n", in->stack, in->source_region);
    printf("kind       %s", in->kind == DR_BUNDLE_INCREMENTAL ? "incremental" : "full");
    if (in->parent)
        printf(", parent v%llu", (unsigned long long)in->parent);
    printf("\ncaptured   %s (%s)\n", when, in->captured_at_text);
    printf("size       %s, %zu entries, %s of data\n", size, in->n_entries, data);
    printf("encrypted  %s, opened with %s%s\n", in->encrypted ? "yes" : "no", in->opened_with,
           in->authenticated ? "" : " (NOT authenticated)");
    if (e->summary) {
        const char *fs = json_string_value(json_object_get(e->summary, "file_sha256"));
        if (fs)
            printf("sha256     %s\n", fs);
        if (json_object_get(e->summary, "verified_at")) {
            char v[32];
            utc_text(sum_int(e->summary, "verified_at", 0), v, sizeof(v));
            printf("verified   %s (at publish)\n", v);
        }
    }
    /* Entries by top directory (config/, db/, s3/, secrets/). */
    json_t *counts = json_object();
    json_t *ents = json_object_get(m, "entries");
    size_t i;
    json_t *x;
    json_array_foreach(ents, i, x)
    {
        const char *p = json_string_value(json_object_get(x, "path"));
        if (!p)
            continue;
        const char *slash = strchr(p, '/');
        char top[64];
        snprintf(top, sizeof(top), "%.*s", slash ? (int)(slash - p) : (int)strlen(p), p);
        json_t *c = json_object_get(counts, top);
        json_object_set_new(counts, top, json_integer(c ? json_integer_value(c) + 1 : 1));
    }
    printf("entries   ");
    const char *k;
    json_object_foreach(counts, k, x) printf(" %s/ %lld", k, (long long)json_integer_value(x));
    printf("\n");
    json_decref(counts);
    json_t *snaps = json_object_get(m, "snapshots");
    json_array_foreach(snaps, i, x) printf("snapshot   %s %s %s\n", sum_str(x, "type"),
                                           sum_str(x, "region"), sum_str(x, "arn"));
}

static int run_show(bctx *b, uint64_t v, dr_err *err)
{
    const dr_store_entry *e = find_entry(b, v, err);
    if (!e)
        return -1;
    opened o;
    int rc = open_bundle(b, e, &o, err);
    if (rc == 0) {
        const dr_bundle_info *in = dr_bundle_reader_info(o.r);
        const json_t *m = dr_bundle_reader_manifest(o.r);
        if (b->ctx->output == DR_OUTPUT_JSON) {
            json_t *j = json_pack("{s:O?, s:O, s:s}", "summary", e->summary, "manifest", m,
                                  "opened_with", in->opened_with);
            char *t = json_dumps(j, JSON_INDENT(2));
            puts(t);
            free(t);
            json_decref(j);
        } else {
            print_digest(e, in, m);
        }
    }
    opened_free(&o);
    return rc;
}

/* ---- verify --deep: a scratch restore ------------------------------------------ */

/* A bounded buffer between the scan (producer, this thread) and pg_restore's
 * reader (consumer, a thread running dr_pg_restore_stream). No pipe: a
 * restore that stops reading must not leave the scan blocked in write(2) or
 * raise SIGPIPE; here the producer sees `done` and stops. */
typedef struct feed {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *buf;
    size_t cap, head, len;
    int closed; /* producer finished (or failed: then `bad`) */
    int bad;
    int done; /* consumer returned */
} feed;

#define FEED_CAP (1024u * 1024u)

static long feed_read(void *ud, char *out, size_t n)
{
    feed *f = ud;
    pthread_mutex_lock(&f->mu);
    while (f->len == 0 && !f->closed)
        pthread_cond_wait(&f->cv, &f->mu);
    long r;
    if (f->len == 0) {
        r = f->bad ? -1 : 0;
    } else {
        size_t take = n < f->len ? n : f->len;
        size_t first = f->cap - f->head < take ? f->cap - f->head : take;
        memcpy(out, f->buf + f->head, first);
        memcpy(out + first, f->buf, take - first);
        f->head = (f->head + take) % f->cap;
        f->len -= take;
        r = (long)take;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    return r;
}

static int feed_write(feed *f, const char *p, size_t n)
{
    pthread_mutex_lock(&f->mu);
    while (n > 0) {
        while (f->len == f->cap && !f->done)
            pthread_cond_wait(&f->cv, &f->mu);
        if (f->done) {
            pthread_mutex_unlock(&f->mu);
            return -1;
        }
        size_t tail = (f->head + f->len) % f->cap;
        size_t room = f->cap - f->len;
        size_t take = n < room ? n : room;
        size_t first = f->cap - tail < take ? f->cap - tail : take;
        memcpy(f->buf + tail, p, first);
        memcpy(f->buf, p + first, take - first);
        f->len += take;
        p += take;
        n -= take;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    return 0;
}

static void feed_close(feed *f, int bad)
{
    pthread_mutex_lock(&f->mu);
    if (!f->closed) {
        f->closed = 1;
        f->bad = bad;
    }
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

typedef struct deep {
    feed f;
    dr_pg_restore_opts ro;
    pthread_t th;
    int started;
    int rc;
    dr_err err;
    dr_buf tables; /* db/tables.json */
    int in_tables;
    int in_dump;
    int saw_dump, dump_ended;
} deep;

static void *restore_thread(void *arg)
{
    deep *d = arg;
    dr_err_clear(&d->err);
    d->rc = dr_pg_restore_stream(&d->ro, feed_read, &d->f, &d->err);
    pthread_mutex_lock(&d->f.mu);
    d->f.done = 1;
    pthread_cond_broadcast(&d->f.cv);
    pthread_mutex_unlock(&d->f.mu);
    return NULL;
}

static int deep_begin(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    deep *d = ud;
    d->in_tables = strcmp(e->path, "db/tables.json") == 0;
    d->in_dump = e->stream && strcmp(e->stream, "db/dump.pgc") == 0;
    if (d->in_dump && !d->started) {
        if (pthread_create(&d->th, NULL, restore_thread, d) != 0)
            return dr_err_set(err, DR_E_INTERNAL, "verify --deep: cannot start a thread");
        d->started = 1;
        d->saw_dump = 1;
    }
    return d->in_tables || d->in_dump ? 0 : 1;
}

static int deep_data(void *ud, const dr_bundle_entry *e, const void *p, size_t n, dr_err *err)
{
    deep *d = ud;
    if (d->in_tables) {
        if (d->tables.len + n > 64u * 1024 * 1024)
            return dr_err_set(err, DR_E_VERIFY, "db/tables.json is implausibly large");
        dr_buf_append(&d->tables, p, n);
        return 0;
    }
    if (d->in_dump && feed_write(&d->f, p, n) != 0)
        return dr_err_set(err, DR_E_IO, "verify --deep: pg_restore stopped reading");
    return 0;
}

static int deep_end(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    deep *d = ud;
    if (d->in_dump && e->last_part) {
        d->dump_ended = 1;
        feed_close(&d->f, 0);
    }
    d->in_tables = d->in_dump = 0;
    return 0;
}

/* The scratch server: --scratch-db, DRCTL_SCRATCH_DB, else the standby's
 * DRCTL_DB_MAP entry (never the primary's database server). Caller frees. */
static char *scratch_conninfo(bctx *b, dr_err *err)
{
    const char *s = b->o.scratch_db ? b->o.scratch_db : getenv("DRCTL_SCRATCH_DB");
    if (s && *s)
        return dr_xstrdup(s);
    dr_dbmap m;
    if (dr_dbmap_from_env(&m, err) != 0)
        return NULL;
    const char *c = b->standby ? dr_dbmap_lookup(&m, b->standby->region) : NULL;
    char *r = c ? dr_xstrdup(c) : NULL;
    dr_dbmap_free(&m);
    if (!r) {
        dr_err_set(err, DR_E_USAGE, "verify --deep needs a scratch PostgreSQL server");
        dr_err_hint(err, "pass --scratch-db CONNINFO or set DRCTL_SCRATCH_DB (never the primary's "
                         "database)");
    }
    return r;
}

static int deep_verify(bctx *b, opened *o, uint64_t v, char *detail, size_t dcap, dr_err *err)
{
    char *server = scratch_conninfo(b, err);
    if (!server)
        return -1;
    char name[64];
    snprintf(name, sizeof(name), "drctl_verify_%llu_%ld", (unsigned long long)v, (long)getpid());
    dr_pg_conn sc = {.conninfo = server};
    int rc = dr_pg_create_database(&sc, name, err);
    if (rc != 0) {
        dr_err_wrap(err, "verify --deep: creating the scratch database %s", name);
        dr_free_secret(server);
        return -1;
    }
    char *dbci = dr_pg_conninfo_with_db(server, name);
    deep d;
    memset(&d, 0, sizeof(d));
    pthread_mutex_init(&d.f.mu, NULL);
    pthread_cond_init(&d.f.cv, NULL);
    d.f.cap = FEED_CAP;
    d.f.buf = dr_xmalloc(FEED_CAP);
    d.ro.conn.conninfo = dbci;
    d.ro.log = &b->ctx->log;
    dr_bundle_visitor vis = {deep_begin, deep_data, deep_end, &d};
    rc = dr_bundle_reader_scan(o->r, &vis, err);
    /* A failed scan must not look like a clean end of the dump. */
    feed_close(&d.f, rc != 0);
    if (d.started)
        pthread_join(d.th, NULL);
    if (rc == 0 && !d.saw_dump)
        rc = dr_err_set(err, DR_E_VERIFY, "v%llu has no db/dump.pgc to restore",
                        (unsigned long long)v);
    if (rc == 0 && d.rc != 0) {
        *err = d.err;
        dr_err_wrap(err, "verify --deep: restoring db/dump.pgc into %s", name);
        rc = -1;
    }
    if (rc == 0 && d.tables.len == 0)
        rc = dr_err_set(err, DR_E_VERIFY, "v%llu has no db/tables.json", (unsigned long long)v);
    if (rc == 0) {
        json_error_t je;
        json_t *tj = json_loadb(dr_buf_cstr(&d.tables), d.tables.len, 0, &je);
        dr_pg_sums want = {0}, got = {0};
        if (!tj) {
            rc = dr_err_set(err, DR_E_VERIFY, "db/tables.json: %s", je.text);
        } else if (dr_pg_sums_from_json(tj, &want, err) != 0) {
            rc = -1;
        } else {
            dr_pg_conn dc = {.conninfo = dbci};
            rc = dr_pg_table_sums(&dc, &got, err);
            if (rc == 0)
                rc = dr_pg_sums_compare(&want, &got, err);
            if (rc == 0) {
                int64_t rows = 0;
                for (size_t i = 0; i < got.n; i++)
                    rows += got.t[i].rows;
                snprintf(detail, dcap, "; database restored: %zu tables, %lld rows match", got.n,
                         (long long)rows);
            }
        }
        json_decref(tj);
        dr_pg_sums_free(&want);
        dr_pg_sums_free(&got);
    }
    dr_err de;
    dr_err_clear(&de);
    if (dr_pg_drop_database(&sc, name, &de) != 0)
        dr_warn(&b->ctx->log, "could not drop the scratch database %s: %s", name, de.msg);
    pthread_mutex_destroy(&d.f.mu);
    pthread_cond_destroy(&d.f.cv);
    free(d.f.buf);
    dr_buf_free(&d.tables);
    dr_free_secret(dbci);
    dr_free_secret(server);
    return rc;
}

/* ---- verify ------------------------------------------------------------------ */

static int run_verify(bctx *b, uint64_t v, dr_err *err)
{
    const dr_store_entry *e = find_entry(b, v, err);
    if (!e)
        return -1;
    opened o;
    int rc = open_bundle(b, e, &o, err);
    char detail[256] = "";
    if (rc == 0) {
        if (b->o.deep)
            rc = deep_verify(b, &o, v, detail, sizeof(detail), err);
        else
            rc = dr_bundle_reader_verify(o.r, err);
        if (rc != 0 && err->code != DR_E_VERIFY && b->o.deep == 0)
            dr_err_wrap(err, "verifying v%llu", (unsigned long long)v);
    }
    /* The file as a whole against the summary's hash: catches a bundle
     * swapped for another intact one. */
    if (rc == 0 && e->summary && json_object_get(e->summary, "file_sha256")) {
        const char *want = json_string_value(json_object_get(e->summary, "file_sha256"));
        dr_bundle_source src = {0};
        void *ud = NULL;
        rc = dr_store_open_source(b->store, e, &src, &ud, err);
        if (rc == 0) {
            EVP_MD_CTX *md = EVP_MD_CTX_new();
            EVP_DigestInit_ex(md, EVP_sha256(), NULL);
            char *buf = dr_xmalloc(1024 * 1024);
            for (uint64_t off = 0; rc == 0 && off < src.size;) {
                size_t n = src.size - off < 1024 * 1024 ? (size_t)(src.size - off) : 1024 * 1024;
                rc = src.pread(src.ud, buf, n, off, err);
                if (rc == 0)
                    EVP_DigestUpdate(md, buf, n);
                off += n;
            }
            unsigned char h[32];
            unsigned int hl = 0;
            EVP_DigestFinal_ex(md, h, &hl);
            EVP_MD_CTX_free(md);
            free(buf);
            char hex[65];
            for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", h[i]);
            if (rc == 0 && (!want || strcmp(want, hex) != 0))
                rc = dr_err_set(err, DR_E_VERIFY,
                                "v%llu: the file's SHA-256 is %s, its summary says %s",
                                (unsigned long long)v, hex, want ? want : "(not a string)");
        }
        dr_store_source_free(ud);
    }
    if (rc == 0) {
        const dr_bundle_info *in = dr_bundle_reader_info(o.r);
        if (b->ctx->output == DR_OUTPUT_JSON) {
            json_t *j = json_pack("{s:I, s:s, s:I, s:I, s:s, s:b, s:b}", "version", (json_int_t)v,
                                  "result", "ok", "entries", (json_int_t)in->n_entries, "bytes",
                                  (json_int_t)in->data_bytes, "opened_with", in->opened_with,
                                  "authenticated", in->authenticated, "deep", b->o.deep);
            char *t = json_dumps(j, JSON_INDENT(2));
            puts(t);
            free(t);
            json_decref(j);
        } else {
            printf("v%llu: ok (%zu entries, %llu bytes, opened with %s)%s\n", (unsigned long long)v,
                   in->n_entries, (unsigned long long)in->data_bytes, in->opened_with, detail);
        }
    }
    opened_free(&o);
    return rc;
}

/* ---- prune ------------------------------------------------------------------- */

static int delete_rds_snapshot(bctx *b, const char *region, const char *arn, dr_err *err)
{
    dr_aws *aws = NULL;
    if (dr_ctx_aws(b->ctx, &aws, err) != 0)
        return -1;
    /* DeleteDBSnapshot takes the identifier: the ARN's last component. */
    const char *id = strrchr(arn, ':');
    id = id ? id + 1 : arn;
    dr_kvlist params = DR_KVLIST_INIT;
    dr_kv_add(&params, "DBSnapshotIdentifier", id);
    dr_err e;
    dr_err_clear(&e);
    int rc = dr_aws_query(aws, "rds", region, "DeleteDBSnapshot", &params, NULL, &e);
    dr_kv_free(&params);
    if (rc != 0 && strcmp(e.aws.code, "DBSnapshotNotFound") == 0)
        rc = 0; /* gone already: what we wanted */
    if (rc != 0)
        *err = e;
    return rc;
}

static int run_prune(bctx *b, dr_err *err)
{
    dr_lock lock = DR_LOCK_INIT;
    char *lname = dr_xasprintf("%s-backup", b->stack);
    int rc = dr_lock_acquire(b->local_dir, lname, b->o.wait, &lock, err);
    free(lname);
    if (rc != 0)
        return -1;
    /* List under the lock: a backup that finished just before is seen. */
    if (bctx_list(b, err) != 0) {
        dr_lock_release(&lock);
        return -1;
    }
    size_t n = b->list.n;
    dr_ret_bundle *rb = dr_xcalloc(n ? n : 1, sizeof(*rb));
    int *keep = dr_xcalloc(n ? n : 1, sizeof(*keep));
    const char **why = dr_xcalloc(n ? n : 1, sizeof(*why));
    for (size_t i = 0; i < n; i++) {
        const dr_store_entry *e = &b->list.v[i];
        rb[i].version = e->version;
        if (e->summary) {
            rb[i].parent = (uint64_t)sum_int(e->summary, "parent", 0);
            rb[i].captured_at = sum_int(e->summary, "captured_at", 0);
            rb[i].incremental = strcmp(sum_str(e->summary, "kind"), "incremental") == 0;
            rb[i].verified = json_object_get(e->summary, "verified_at") != NULL &&
                             !json_is_null(json_object_get(e->summary, "verified_at"));
        } else {
            /* No summary (a vault upload cut short before it): we do not know
             * its chain, so keep it rather than guess. */
            rb[i].captured_at = (int64_t)time(NULL);
        }
    }
    dr_retention pol = {b->p->retention.keep_last, b->p->retention.daily, b->p->retention.weekly,
                        b->p->retention.monthly};
    dr_retention_apply(&pol, rb, n, (int64_t)time(NULL), keep, why);
    for (size_t i = 0; i < n; i++)
        if (!b->list.v[i].summary && !keep[i]) {
            keep[i] = 1;
            why[i] = "no summary";
        }

    json_t *arr = json_array();
    size_t ndel = 0, nfail = 0;
    dr_err first;
    dr_err_clear(&first);
    for (size_t i = 0; i < n; i++) {
        const dr_store_entry *e = &b->list.v[i];
        json_t *j = json_pack("{s:I, s:s}", "version", (json_int_t)e->version, "action",
                              keep[i] ? "keep" : (b->o.dry_run ? "would delete" : "delete"));
        char reason[64] = "";
        if (keep[i]) {
            if (why[i] && strcmp(why[i], DR_RET_WHY_PARENT) == 0)
                snprintf(reason, sizeof(reason), "parent of v%llu",
                         (unsigned long long)dr_retention_kept_child(rb, n, keep, i));
            else
                snprintf(reason, sizeof(reason), "%s", why[i] ? why[i] : "?");
            json_object_set_new(j, "rule", json_string(reason));
            if (b->ctx->output == DR_OUTPUT_TEXT)
                printf("keep v%llu (%s)\n", (unsigned long long)e->version, reason);
            json_array_append_new(arr, j);
            continue;
        }
        if (b->ctx->output == DR_OUTPUT_TEXT)
            printf("delete v%llu%s\n", (unsigned long long)e->version,
                   b->o.dry_run ? " (dry run)" : "");
        if (b->o.dry_run) {
            json_array_append_new(arr, j);
            continue;
        }
        dr_err e1;
        dr_err_clear(&e1);
        int drc = dr_store_delete(b->store, b->stack, e->version, &e1);
        /* Native snapshots only once the bundle that records them is gone:
         * a kept bundle never points at a deleted snapshot. */
        json_t *snaps = json_object_get(e->summary, "snapshots");
        size_t k;
        json_t *sn;
        json_array_foreach(snaps, k, sn)
        {
            if (drc != 0)
                break;
            if (strcmp(sum_str(sn, "type"), "rds-snapshot") != 0)
                continue;
            drc = delete_rds_snapshot(b, sum_str(sn, "region"), sum_str(sn, "arn"), &e1);
            if (drc != 0)
                dr_err_wrap(&e1, "v%llu: deleting RDS snapshot %s", (unsigned long long)e->version,
                            sum_str(sn, "arn"));
            else if (b->ctx->output == DR_OUTPUT_TEXT)
                printf("  deleted RDS snapshot %s (%s)\n", sum_str(sn, "arn"),
                       sum_str(sn, "region"));
        }
        if (drc != 0) {
            if (nfail++ == 0)
                first = e1;
            json_object_set_new(j, "error", json_string(e1.msg));
            if (b->ctx->output == DR_OUTPUT_TEXT)
                fprintf(stderr, "drctl: error: %s\n", e1.msg);
        } else {
            ndel++;
        }
        json_array_append_new(arr, j);
    }
    if (b->ctx->output == DR_OUTPUT_JSON) {
        char *t = json_dumps(arr, JSON_INDENT(2));
        puts(t);
        free(t);
    } else {
        size_t nkeep = 0;
        for (size_t i = 0; i < n; i++)
            nkeep += keep[i] ? 1 : 0;
        if (b->o.dry_run)
            printf("%zu to keep, %zu to delete (dry run: nothing deleted)\n", nkeep, n - nkeep);
        else
            printf("%zu kept, %zu deleted%s\n", nkeep, ndel,
                   nfail ? ", some deletions failed" : "");
    }
    json_decref(arr);
    free(rb);
    free(keep);
    free(why);
    dr_lock_release(&lock);
    if (nfail) {
        *err = first;
        return dr_err_wrap(err, "prune: %zu deletion%s failed; first", nfail,
                           nfail == 1 ? "" : "s");
    }
    return 0;
}

/* ---- dispatch ------------------------------------------------------------------ */

int cmd_bundles(dr_ctx *ctx, int argc, char **argv, dr_err *err)
{
    static const struct option longopts[] = {{"config-dir", required_argument, NULL, 'c'},
                                             {"store", required_argument, NULL, 's'},
                                             {"vault", no_argument, NULL, 'V'},
                                             {"recovery-key", required_argument, NULL, 'k'},
                                             {"deep", no_argument, NULL, 'd'},
                                             {"scratch-db", required_argument, NULL, 'S'},
                                             {"dry-run", no_argument, NULL, 'n'},
                                             {"wait", no_argument, NULL, 'w'},
                                             {NULL, 0, NULL, 0}};
    bctx b;
    memset(&b, 0, sizeof(b));
    b.ctx = ctx;
    b.self = dr_command_find("bundles");
    int c;
    const char *seen[8];
    size_t nseen = 0;
    while ((c = dr_getopt(b.self, argc, argv, ":", longopts, err)) != -1) {
        if (c == -2)
            return -1;
        switch (c) {
        case 'c':
            b.o.config_dir = optarg;
            break;
        case 's':
            b.o.store = optarg;
            break;
        case 'V':
            b.o.vault = 1;
            break;
        case 'k':
            b.o.recovery_key = optarg;
            seen[nseen++ % 8] = "--recovery-key";
            break;
        case 'd':
            b.o.deep = 1;
            seen[nseen++ % 8] = "--deep";
            break;
        case 'S':
            b.o.scratch_db = optarg;
            seen[nseen++ % 8] = "--scratch-db";
            break;
        case 'n':
            b.o.dry_run = 1;
            seen[nseen++ % 8] = "--dry-run";
            break;
        case 'w':
            b.o.wait = 1;
            seen[nseen++ % 8] = "--wait";
            break;
        }
    }
    int nargs = argc - optind;
    if (nargs < 1) {
        dr_err_set(err, DR_E_USAGE, "bundles needs a subcommand: list, show, verify or prune");
        return dr_err_hint(err, "usage: %s", b.self->usage);
    }
    const char *sub = argv[optind];
    int is_list = strcmp(sub, "list") == 0, is_show = strcmp(sub, "show") == 0,
        is_verify = strcmp(sub, "verify") == 0, is_prune = strcmp(sub, "prune") == 0;
    if (!is_list && !is_show && !is_verify && !is_prune) {
        dr_err_set(err, DR_E_USAGE, "unknown bundles subcommand '%s'", sub);
        return dr_err_hint(err, "use list, show, verify or prune; see 'drctl bundles --help'");
    }
    /* Options that belong to another subcommand are mistakes worth naming. */
    for (size_t i = 0; i < nseen && i < 8; i++) {
        const char *o = seen[i];
        int ok = (strcmp(o, "--recovery-key") == 0 && (is_show || is_verify)) ||
                 ((strcmp(o, "--deep") == 0 || strcmp(o, "--scratch-db") == 0) && is_verify) ||
                 ((strcmp(o, "--dry-run") == 0 || strcmp(o, "--wait") == 0) && is_prune);
        if (!ok) {
            dr_err_set(err, DR_E_USAGE, "%s does not apply to 'bundles %s'", o, sub);
            return dr_err_hint(err, "see 'drctl bundles --help'");
        }
    }
    uint64_t version = 0;
    if (is_show || is_verify) {
        if (nargs != 2) {
            dr_err_set(err, DR_E_USAGE, "bundles %s takes one version (e.g. 7 or v7)", sub);
            return dr_err_hint(err, "usage: %s", b.self->usage);
        }
        if (parse_version(argv[optind + 1], &version, err) != 0)
            return -1;
    } else if (nargs != 1) {
        dr_err_set(err, DR_E_USAGE, "bundles %s takes no arguments (got '%s')", sub,
                   argv[optind + 1]);
        return dr_err_hint(err, "usage: %s", b.self->usage);
    }

    int rc = bctx_open(&b, err);
    if (rc == 0 && is_prune)
        rc = run_prune(&b, err);
    else if (rc == 0) {
        rc = bctx_list(&b, err);
        if (rc == 0)
            rc = is_list   ? run_list(&b, err)
                 : is_show ? run_show(&b, version, err)
                           : run_verify(&b, version, err);
    }
    bctx_free(&b);
    return rc;
}
