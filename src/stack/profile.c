/*
 * profile.c - load, merge and validate region profiles (see profile.h).
 *
 * One table (keys[] below) says, for every key: its path, its type, where
 * it lands in dr_region_profile, its range or allowed values, its built-in
 * default and whether it is required, region-only or must match across the
 * set. Unknown-key detection, type checks, defaults and docs/profiles.md all
 * follow from it, so a new key is one line here (and one in the docs).
 *
 * The passes, each of which only adds diagnostics and never stops early:
 *   1. read defaults.yaml and every <region>.yaml into located trees;
 *   2. per file: unknown keys, maps that are not maps, region-only keys in
 *      defaults.yaml;
 *   3. defaults.yaml's values on their own (so that a bad default is
 *      reported even where every region overrides it);
 *   4. per region: defaults with the region file laid over it, every value
 *      typed, range-checked and stored, then the checks that involve two
 *      keys (Fargate CPU/memory, scaling min/max, RTO floor...);
 *   5. across regions: one primary, CIDR overlap, settings that describe
 *      the whole stack being equal.
 * A value from defaults.yaml is checked in several passes; identical
 * diagnostics are merged at the end, when they are sorted.
 */
#include "stack/profile.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aws/service.h"
#include "stack/yaml_doc.h"
#include "util/buf.h"
#include "util/mem.h"

/* ---- diagnostics ------------------------------------------------------- */

static void diags_vadd(dr_diags *d, const char *file, int line, int column, const char *path,
                       const char *fmt, va_list ap)
{
    d->items = dr_xrealloc(d->items, (d->n + 1) * sizeof(*d->items));
    dr_diag *g = &d->items[d->n++];
    g->file = dr_xstrdup(file ? file : "");
    g->line = line;
    g->column = column;
    g->path = dr_xstrdup(path ? path : "");
    va_list cp;
    va_copy(cp, ap);
    int len = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    g->message = dr_xmalloc((size_t)(len < 0 ? 0 : len) + 1);
    vsnprintf(g->message, (size_t)(len < 0 ? 0 : len) + 1, fmt, ap);
}

void dr_diags_add(dr_diags *d, const char *file, int line, int column, const char *path,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diags_vadd(d, file, line, column, path, fmt, ap);
    va_end(ap);
}

static void diag_free(dr_diag *g)
{
    free(g->file);
    free(g->path);
    free(g->message);
}

void dr_diags_free(dr_diags *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        diag_free(&d->items[i]);
    free(d->items);
    d->items = NULL;
    d->n = 0;
}

void dr_diags_print(const dr_diags *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++) {
        const dr_diag *g = &d->items[i];
        if (g->line > 0)
            fprintf(out, "%s:%d:%d: ", g->file, g->line, g->column);
        else
            fprintf(out, "%s: ", g->file);
        if (g->path[0])
            fprintf(out, "%s: ", g->path);
        fprintf(out, "%s\n", g->message);
    }
}

static int diag_cmp(const void *pa, const void *pb)
{
    const dr_diag *a = pa, *b = pb;
    int c = strcmp(a->file, b->file);
    if (c)
        return c;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    if (a->column != b->column)
        return a->column < b->column ? -1 : 1;
    c = strcmp(a->path, b->path);
    return c ? c : strcmp(a->message, b->message);
}

/* Sorts the diagnostics from index `from` on and drops exact repeats (a
 * value in defaults.yaml is checked once per region). */
static void diags_settle(dr_diags *d, size_t from)
{
    if (d->n - from < 2)
        return;
    qsort(d->items + from, d->n - from, sizeof(*d->items), diag_cmp);
    size_t w = from + 1;
    for (size_t r = from + 1; r < d->n; r++) {
        if (diag_cmp(&d->items[w - 1], &d->items[r]) == 0)
            diag_free(&d->items[r]);
        else
            d->items[w++] = d->items[r];
    }
    d->n = w;
}

/* ---- names ------------------------------------------------------------- */

static const char *const role_names[] = {"primary", "standby", NULL};
static const char *const strategy_names[] = {"backup-and-restore", "pilot-light", "warm-standby",
                                             NULL};
static const char *const nat_names[] = {"per-az", "single", NULL};
static const char *const restore_names[] = {"auto", "snapshot", "logical", NULL};
static const char *const env_names[] = {"prod", "staging", "dev", "sandbox", NULL};
static const char *const storage_names[] = {"GLACIER_IR", "GLACIER", "DEEP_ARCHIVE", NULL};
static const char *const encryption_names[] = {"kms", "none", NULL};

const char *dr_strategy_name(dr_strategy s)
{
    return (unsigned)s < 3 ? strategy_names[s] : "?";
}

const char *dr_role_name(dr_role r)
{
    return (unsigned)r < 2 ? role_names[r] : "?";
}

const char *dr_nat_mode_name(dr_nat_mode m)
{
    return (unsigned)m < 2 ? nat_names[m] : "?";
}

const char *dr_db_restore_path_name(dr_db_restore_path p)
{
    return (unsigned)p < 3 ? restore_names[p] : "?";
}

int dr_strategy_rto_floor(dr_strategy s)
{
    switch (s) {
    case DR_STRATEGY_BACKUP_RESTORE:
        return 60; /* build the region, then restore into it */
    case DR_STRATEGY_PILOT_LIGHT:
        return 15; /* restore the database, scale out, move DNS */
    case DR_STRATEGY_WARM_STANDBY:
        return 5; /* promote the replica, scale out, move DNS */
    }
    return 60;
}

/* Enums are stored through their int representation (see keys[]). */
static_assert(sizeof(dr_role) == sizeof(int), "enum size");
static_assert(sizeof(dr_strategy) == sizeof(int), "enum size");
static_assert(sizeof(dr_nat_mode) == sizeof(int), "enum size");
static_assert(sizeof(dr_db_restore_path) == sizeof(int), "enum size");

/* ---- small helpers ----------------------------------------------------- */

/* Case-insensitive Levenshtein distance, for "did you mean" on short words. */
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
            int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
            size_t sub = d[i - 1][j - 1] + !same;
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

/* Close enough to be a typo: one edit in a short word, two in a longer
 * one (so "cidr" does not "mean" "dr"). */
static int close_enough(const char *typed, const char *name)
{
    size_t d = edit_distance(typed, name);
    return d <= (strlen(typed) >= 5 ? 2u : 1u) && d < strlen(typed);
}

/* "a or b", "a, b or c" (caller frees). */
static char *choice_list(const char *const *choices)
{
    dr_buf b = DR_BUF_INIT;
    size_t n = 0;
    while (choices[n])
        n++;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            dr_buf_puts(&b, i + 1 == n ? " or " : ", ");
        dr_buf_puts(&b, choices[i]);
    }
    return dr_buf_detach(&b);
}

/* ---- checks on single values ------------------------------------------- */

typedef struct value_ctx {
    dr_diags *diags;
    const dr_ynode *at;
    const char *path;
} value_ctx;

static void bad(const value_ctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bad(const value_ctx *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diags_vadd(v->diags, v->at->file, v->at->line, v->at->col, v->path, fmt, ap);
    va_end(ap);
}

typedef int (*value_check)(const value_ctx *v, const char *s, long long n);

static int all_of(const char *s, const char *set)
{
    return s[strspn(s, set)] == '\0';
}

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"

static int check_stack(const value_ctx *v, const char *s, long long n)
{
    size_t len = strlen(s);
    if (len >= 3 && len <= 31 && s[0] >= 'a' && s[0] <= 'z' && all_of(s, LOWER_DIGITS "-"))
        return 0;
    bad(v,
        "'%s' is not a valid stack name: 3 to 31 characters of a-z, 0-9 and '-', starting "
        "with a letter",
        s);
    return -1;
}

static int is_dns_name(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 253)
        return 0;
    int labels = 0;
    const char *p = s;
    for (;;) {
        size_t l = strcspn(p, ".");
        if (l == 0 || l > 63 || p[0] == '-' || p[l - 1] == '-')
            return 0;
        for (size_t i = 0; i < l; i++)
            if (!strchr(LOWER_DIGITS "-", p[i]) || p[i] == '\0')
                return 0;
        labels++;
        if (p[l] == '\0')
            break;
        p += l + 1;
    }
    return labels >= 2;
}

static int check_dns(const value_ctx *v, const char *s, long long n)
{
    if (is_dns_name(s))
        return 0;
    bad(v,
        "'%s' is not a DNS name (lowercase labels of a-z, 0-9 and '-', like llm.example.com, "
        "without a trailing dot)",
        s);
    return -1;
}

static int check_image(const value_ctx *v, const char *s, long long n)
{
    for (const char *p = s; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p) || *p == '\'' || *p == '"') {
            bad(v, "'%s' is not a container image reference (like %s)", s,
                "ghcr.io/berriai/litellm:main-stable");
            return -1;
        }
    if (strstr(s, "://") || s[0] == '/' || s[0] == ':' || s[0] == '@') {
        bad(v, "'%s' is not a container image reference (like %s)", s,
            "ghcr.io/berriai/litellm:main-stable");
        return -1;
    }
    const char *at = strchr(s, '@');
    if (at) {
        const char *hex = at + 1;
        if (strncmp(hex, "sha256:", 7) != 0 || strlen(hex + 7) != 64 ||
            !all_of(hex + 7, "0123456789abcdef")) {
            bad(v, "'%s' has a malformed digest; pin an image as NAME@sha256:<64 hex digits>", s);
            return -1;
        }
    }
    return 0;
}

static int check_url_path(const value_ctx *v, const char *s, long long n)
{
    if (s[0] == '/' && !strpbrk(s, " \t\r\n?#"))
        return 0;
    bad(v, "'%s' is not a URL path: it starts with '/' and has no spaces, '?' or '#'", s);
    return -1;
}

/* "<prefix>.<family>.<size>", e.g. db.r6g.large, cache.t4g.micro. */
static int is_class(const char *s, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strncmp(s, prefix, pl) != 0)
        return 0;
    const char *rest = s + pl;
    const char *dot = strchr(rest, '.');
    if (!dot || dot == rest || dot[1] == '\0' || strchr(dot + 1, '.'))
        return 0;
    return all_of(rest, LOWER_DIGITS ".");
}

static int check_db_class(const value_ctx *v, const char *s, long long n)
{
    if (is_class(s, "db."))
        return 0;
    bad(v, "'%s' is not an RDS instance class (like db.r6g.large)", s);
    return -1;
}

static int check_cache_type(const value_ctx *v, const char *s, long long n)
{
    if (is_class(s, "cache."))
        return 0;
    bad(v, "'%s' is not an ElastiCache node type (like cache.r6g.large)", s);
    return -1;
}

static int check_engine_version(const value_ctx *v, const char *s, long long n)
{
    /* 15, 15.12, 9.6.24: one to three dot-separated numbers. */
    int parts = 0;
    const char *p = s;
    for (;;) {
        size_t l = strspn(p, "0123456789");
        if (l == 0 || l > 4)
            break;
        parts++;
        p += l;
        if (*p == '\0') {
            if (parts <= 3)
                return 0;
            break;
        }
        if (*p != '.')
            break;
        p++;
    }
    bad(v, "'%s' is not a PostgreSQL engine version (like 15.12)", s);
    return -1;
}

static int check_pg_name(const value_ctx *v, const char *s, long long n)
{
    size_t len = strlen(s);
    if (len >= 1 && len <= 63 && s[0] >= 'a' && s[0] <= 'z' && all_of(s, LOWER_DIGITS "_"))
        return 0;
    bad(v,
        "'%s' is not a PostgreSQL name: 1 to 63 characters of a-z, 0-9 and '_', starting with "
        "a letter",
        s);
    return -1;
}

static int check_fargate_cpu(const value_ctx *v, const char *s, long long n)
{
    static const long long ok[] = {256, 512, 1024, 2048, 4096, 8192, 16384};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (n == ok[i])
            return 0;
    bad(v, "%lld is not a Fargate CPU size; use 256, 512, 1024, 2048, 4096, 8192 or 16384", n);
    return -1;
}

static int check_log_retention(const value_ctx *v, const char *s, long long n)
{
    /* The values CloudWatch Logs' PutRetentionPolicy accepts. */
    static const long long ok[] = {1,   3,   5,   7,   14,   30,   60,   90,   120,  150,  180,
                                   365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (n == ok[i])
            return 0;
    bad(v,
        "%lld is not a CloudWatch Logs retention period; use 1, 3, 5, 7, 14, 30, 60, 90, 120, "
        "150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653",
        n);
    return -1;
}

/* Parses a.b.c.d/n strictly: decimal octets without leading zeros. */
static int parse_cidr(const char *s, uint32_t *addr, int *prefix)
{
    uint32_t a = 0;
    const char *p = s;
    for (int i = 0; i < 4; i++) {
        size_t l = strspn(p, "0123456789");
        if (l == 0 || l > 3 || (l > 1 && p[0] == '0'))
            return -1;
        int octet = atoi(p);
        if (octet > 255)
            return -1;
        a = a << 8 | (uint32_t)octet;
        p += l;
        if (*p != (i < 3 ? '.' : '/'))
            return -1;
        p++;
    }
    size_t l = strspn(p, "0123456789");
    if (l == 0 || l > 2 || p[l] != '\0' || (l > 1 && p[0] == '0'))
        return -1;
    int n = atoi(p);
    if (n > 32)
        return -1;
    *addr = a;
    *prefix = n;
    return 0;
}

static uint32_t prefix_mask(int prefix)
{
    return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

static int check_cidr(const value_ctx *v, const char *s, long long n)
{
    uint32_t a;
    int prefix;
    if (parse_cidr(s, &a, &prefix) != 0) {
        bad(v, "'%s' is not an IPv4 CIDR block (like 10.10.0.0/16)", s);
        return -1;
    }
    /* AWS takes /16../28; drctl carves public, private and database subnets
     * in up to six AZs out of the block, which needs at least a /24. */
    if (prefix < 16 || prefix > 24) {
        bad(v, "%s: the prefix must be /16 to /24, not /%d", s, prefix);
        return -1;
    }
    uint32_t net = a & prefix_mask(prefix);
    if (net != a) {
        bad(v, "%s has host bits set; did you mean %u.%u.%u.%u/%d?", s, net >> 24,
            (net >> 16) & 0xffu, (net >> 8) & 0xffu, net & 0xffu, prefix);
        return -1;
    }
    return 0;
}

/* ---- the key table ----------------------------------------------------- */

typedef enum key_kind {
    K_MAP,
    K_INT,
    K_BOOL,
    K_STR,
    K_ENUM, /* stored as the index into choices, in an enum field */
    K_SENUM /* stored as the chosen string */
} key_kind;

enum {
    F_REQUIRED = 1,    /* no built-in default: the files must set it */
    F_REGION_ONLY = 2, /* set in each region file, never in defaults.yaml */
    F_SAME = 4,        /* describes the whole stack: equal in every region */
    F_NULLABLE = 8     /* may be absent or empty: stored as NULL */
};

typedef struct key_spec {
    const char *path;
    key_kind kind;
    int flags;
    size_t off;
    long long min, max;
    const char *const *choices;
    const char *def; /* built-in default, as YAML text */
    value_check check;
} key_spec;

#define OFF(m) offsetof(dr_region_profile, m)
#define MAP(p)                                                                                     \
    {                                                                                              \
        p, K_MAP, 0, 0, 0, 0, NULL, NULL, NULL                                                     \
    }
#define INT(p, m, lo, hi, d, f, c)                                                                 \
    {                                                                                              \
        p, K_INT, f, OFF(m), lo, hi, NULL, d, c                                                    \
    }
#define BOOL(p, m, d, f)                                                                           \
    {                                                                                              \
        p, K_BOOL, f, OFF(m), 0, 1, NULL, d, NULL                                                  \
    }
#define STR(p, m, d, f, c)                                                                         \
    {                                                                                              \
        p, K_STR, f, OFF(m), 0, 0, NULL, d, c                                                      \
    }
#define ENUM(p, m, ch, d, f)                                                                       \
    {                                                                                              \
        p, K_ENUM, f, OFF(m), 0, 0, ch, d, NULL                                                    \
    }
#define SENUM(p, m, ch, d, f)                                                                      \
    {                                                                                              \
        p, K_SENUM, f, OFF(m), 0, 0, ch, d, NULL                                                   \
    }

#define MINUTES_PER_YEAR 525600

/* Order is the order of docs/profiles.md and of the shipped files. Built-in
 * defaults are the production values of the LiteLLM design. */
static const key_spec keys[] = {
    ENUM("role", role, role_names, NULL, F_REQUIRED | F_REGION_ONLY),
    STR("stack", stack, NULL, F_REQUIRED | F_SAME, check_stack),
    SENUM("environment", environment, env_names, "prod", 0),

    MAP("dns"),
    STR("dns.domain", dns.domain, NULL, F_REQUIRED | F_SAME, check_dns),
    STR("dns.hosted_zone", dns.hosted_zone, NULL, F_REQUIRED | F_SAME, check_dns),

    MAP("service"),
    STR("service.image", service.image, "ghcr.io/berriai/litellm:main-stable", 0, check_image),
    INT("service.port", service.port, 1, 65535, "4000", 0, NULL),
    INT("service.cpu", service.cpu, 1, INT_MAX, "1024", 0, check_fargate_cpu),
    INT("service.memory", service.memory, 512, 122880, "2048", 0, NULL),
    MAP("service.scaling"),
    INT("service.desired_count", service.desired_count, 0, 1000, NULL, F_NULLABLE, NULL),
    INT("service.scaling.min", service.min_tasks, 0, 1000, "2", 0, NULL),
    INT("service.scaling.max", service.max_tasks, 1, 1000, "6", 0, NULL),
    INT("service.scaling.cpu_target", service.cpu_target, 1, 100, "70", 0, NULL),
    INT("service.scaling.memory_target", service.memory_target, 1, 100, "75", 0, NULL),
    BOOL("service.fargate_spot", service.fargate_spot, "false", 0),
    STR("service.health_path", service.health_path, "/health/liveliness", 0, check_url_path),
    STR("service.readiness_path", service.readiness_path, "/health/readiness", 0, check_url_path),

    MAP("database"),
    STR("database.instance_class", database.instance_class, "db.r6g.large", 0, check_db_class),
    INT("database.allocated_storage", database.allocated_storage, 20, 65536, "100", 0, NULL),
    STR("database.engine_version", database.engine_version, "15.12", 0, check_engine_version),
    BOOL("database.multi_az", database.multi_az, "true", 0),
    INT("database.backup_retention_days", database.backup_retention, 0, 35, "7", 0, NULL),
    BOOL("database.deletion_protection", database.deletion_protection, "true", 0),
    STR("database.name", database.name, "litellm", 0, check_pg_name),
    STR("database.username", database.username, "litellm", 0, check_pg_name),
    ENUM("database.restore_path", database.restore_path, restore_names, "auto", 0),
    BOOL("database.native_snapshots", database.native_snapshots, "true", 0),

    MAP("cache"),
    BOOL("cache.enabled", cache.enabled, "true", 0),
    STR("cache.node_type", cache.node_type, "cache.r6g.large", 0, check_cache_type),
    INT("cache.replicas", cache.replicas, 0, 5, "1", 0, NULL),

    MAP("bucket"),
    INT("bucket.archive_after_days", bucket.archive_after_days, 0, 36500, "90", 0, NULL),
    SENUM("bucket.archive_storage_class", bucket.archive_storage_class, storage_names, "GLACIER_IR",
          0),
    INT("bucket.noncurrent_expire_days", bucket.noncurrent_expire_days, 0, 36500, "365", 0, NULL),

    MAP("network"),
    STR("network.cidr", network.cidr, NULL, F_REQUIRED | F_REGION_ONLY, check_cidr),
    INT("network.az_count", network.az_count, 2, 6, "2", 0, NULL),
    ENUM("network.nat", network.nat, nat_names, "per-az", 0),
    BOOL("network.flow_logs", network.flow_logs, "true", 0),

    MAP("edge"),
    BOOL("edge.enabled", edge.enabled, "true", F_SAME),
    INT("edge.rate_limit", edge.rate_limit, 10, 2000000000, "2000", F_SAME, NULL),

    MAP("dr"),
    ENUM("dr.strategy", dr.strategy, strategy_names, "pilot-light", F_SAME),
    INT("dr.rto_minutes", dr.rto_minutes, 1, MINUTES_PER_YEAR, "60", F_SAME, NULL),
    INT("dr.rpo_minutes", dr.rpo_minutes, 1, MINUTES_PER_YEAR, "60", F_SAME, NULL),

    MAP("retention"),
    INT("retention.keep_last", retention.keep_last, 0, 10000, "24", 0, NULL),
    INT("retention.daily", retention.daily, 0, 10000, "7", 0, NULL),
    INT("retention.weekly", retention.weekly, 0, 10000, "4", 0, NULL),
    INT("retention.monthly", retention.monthly, 0, 10000, "12", 0, NULL),
    INT("retention.full_every", retention.full_every, 1, 10000, "24", 0, NULL),

    MAP("encryption"),
    SENUM("encryption.mode", encryption.mode, encryption_names, "kms", 0),
    STR("encryption.recovery_public_key", encryption.recovery_public_key, NULL, F_NULLABLE, NULL),

    MAP("logs"),
    INT("logs.retention_days", log_retention_days, 1, 3653, "30", 0, check_log_retention),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const key_spec *spec_find(const char *path)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].path, path) == 0)
            return &keys[i];
    return NULL;
}

static size_t spec_index(const char *path)
{
    const key_spec *k = spec_find(path);
    assert(k);
    return (size_t)(k - keys);
}

/* ---- storing values ---------------------------------------------------- */

static void *field(dr_region_profile *p, const key_spec *k)
{
    return (char *)p + k->off;
}

static void set_int(dr_region_profile *p, const key_spec *k, int v)
{
    memcpy(field(p, k), &v, sizeof(v));
}

static int get_int(const dr_region_profile *p, const key_spec *k)
{
    int v;
    memcpy(&v, (const char *)p + k->off, sizeof(v));
    return v;
}

static void set_str(dr_region_profile *p, const key_spec *k, const char *s)
{
    char **slot = field(p, k);
    free(*slot);
    *slot = s ? dr_xstrdup(s) : NULL;
}

static const char *get_str(const dr_region_profile *p, const key_spec *k)
{
    char *const *slot = (char *const *)((const char *)p + k->off);
    return *slot;
}

/* The value as a message shows it: numbers and booleans bare, words
 * quoted (caller frees). */
static char *value_text(const dr_region_profile *p, const key_spec *k)
{
    switch (k->kind) {
    case K_INT:
        return dr_xasprintf("%d", get_int(p, k));
    case K_BOOL:
        return dr_xstrdup(get_int(p, k) ? "true" : "false");
    case K_ENUM:
        return dr_xasprintf("'%s'", k->choices[get_int(p, k)]);
    case K_STR:
    case K_SENUM:
        return dr_xasprintf("'%s'", get_str(p, k) ? get_str(p, k) : "");
    case K_MAP:
        break;
    }
    return dr_xstrdup("");
}

static const char *kind_expected(const key_spec *k)
{
    switch (k->kind) {
    case K_INT:
        return "an integer";
    case K_BOOL:
        return "a boolean (true or false)";
    case K_STR:
        return "a string";
    case K_MAP:
        return "a map";
    case K_ENUM:
    case K_SENUM:
        break;
    }
    return "a value";
}

static void bad_type(const value_ctx *v, const key_spec *k, const dr_ynode *n)
{
    char *got = dr_ydescribe(n);
    if (k->choices) {
        char *list = choice_list(k->choices);
        bad(v, "expected %s, got %s", list, got);
        free(list);
    } else {
        bad(v, "expected %s, got %s", kind_expected(k), got);
    }
    free(got);
}

/* Checks the value n of key k and stores it in p. 1: stored a valid value;
 * 0: reported a problem (p keeps what it had). */
static int take_value(dr_diags *diags, const key_spec *k, const dr_ynode *n, dr_region_profile *p)
{
    value_ctx v = {diags, n, k->path};
    if (n->kind == DR_Y_INVALID)
        return 0;
    if ((k->flags & F_NULLABLE) && dr_yis_null(n)) {
        set_str(p, k, NULL);
        return 1;
    }
    if (n->kind != DR_Y_SCALAR || dr_yis_null(n)) {
        bad_type(&v, k, n);
        return 0;
    }
    const char *s = n->value;
    switch (k->kind) {
    case K_INT: {
        if (!dr_yis_int(n)) {
            bad_type(&v, k, n);
            return 0;
        }
        errno = 0;
        long long x = strtoll(s, NULL, 10);
        if (errno == ERANGE || x < k->min || x > k->max) {
            bad(&v, "must be between %lld and %lld, got %s", k->min, k->max, s);
            return 0;
        }
        if (k->check && k->check(&v, s, x) != 0)
            return 0;
        set_int(p, k, (int)x);
        return 1;
    }
    case K_BOOL:
        if (!dr_yis_bool(n)) {
            bad_type(&v, k, n);
            return 0;
        }
        set_int(p, k, strcmp(s, "true") == 0);
        return 1;
    case K_STR:
        if (dr_yis_bool(n)) {
            bad(&v, "expected a string, got the boolean %s (quote it if you mean the text)", s);
            return 0;
        }
        if (s[0] == '\0') {
            bad(&v, "must not be empty");
            return 0;
        }
        if (k->check && k->check(&v, s, 0) != 0)
            return 0;
        set_str(p, k, s);
        return 1;
    case K_ENUM:
    case K_SENUM:
        for (size_t i = 0; k->choices[i]; i++)
            if (strcmp(s, k->choices[i]) == 0) {
                if (k->kind == K_ENUM)
                    set_int(p, k, (int)i);
                else
                    set_str(p, k, s);
                return 1;
            }
        {
            char *list = choice_list(k->choices);
            char *got = dr_ydescribe(n);
            const char *best = NULL;
            for (size_t i = 0; k->choices[i]; i++)
                if (close_enough(s, k->choices[i]) &&
                    (!best || edit_distance(s, k->choices[i]) < edit_distance(s, best)))
                    best = k->choices[i];
            if (best)
                bad(&v, "expected %s, got %s; did you mean '%s'?", list, got, best);
            else
                bad(&v, "expected %s, got %s", list, got);
            free(got);
            free(list);
        }
        return 0;
    case K_MAP:
        break;
    }
    return 0;
}

static void profile_fields_free(dr_region_profile *p)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].kind == K_STR || keys[i].kind == K_SENUM)
            set_str(p, &keys[i], NULL);
    free(p->file);
    p->file = NULL;
}

/* ---- the load ---------------------------------------------------------- */

typedef struct region_state {
    dr_region_profile p;
    dr_ydoc *doc;              /* the region file; NULL when it could not be read */
    dr_yarena arena;           /* maps made by merging */
    dr_ynode *merged;          /* defaults.yaml with the region file laid over it */
    const dr_ynode *at[NKEYS]; /* where each value was written; NULL: built-in default */
    unsigned char ok[NKEYS];   /* the value is valid (for checks that combine keys) */
} region_state;

typedef struct loader {
    const char *dir;
    dr_diags *diags;
    dr_ydoc *defaults;   /* NULL when there is none, or it could not be read */
    int defaults_broken; /* it exists but could not be read: skip checks it would feed */
    region_state *regions;
    size_t n;
} loader;

static char *join(const char *dir, const char *name)
{
    size_t l = strlen(dir);
    return dr_xasprintf("%s%s%s", dir, l && dir[l - 1] == '/' ? "" : "/", name);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A root that is not a map is reported and read as empty. */
static dr_ynode *root_map(loader *L, dr_ydoc *doc, int *broken)
{
    dr_ynode *r = doc->root;
    if (!r || dr_yis_null(r))
        return NULL;
    if (r->kind == DR_Y_MAP)
        return r;
    if (r->kind != DR_Y_INVALID) {
        char *got = dr_ydescribe(r);
        dr_diags_add(L->diags, doc->file, r->line, r->col, "",
                     "expected a map of keys at the top of the file, got %s", got);
        free(got);
    }
    *broken = 1;
    return NULL;
}

/* Suggests a key for a mistake: the same name under another map ("cidr"
 * at the top -> "network.cidr"), else a sibling that is close. */
static const char *suggest_key(const char *parent, const char *key)
{
    const char *best = NULL;
    size_t bestd = 99, plen = strlen(parent);
    for (size_t i = 0; i < NKEYS; i++) {
        const char *last = strrchr(keys[i].path, '.');
        if (strcmp(last ? last + 1 : keys[i].path, key) == 0)
            return keys[i].path;
    }
    for (size_t i = 0; i < NKEYS; i++) {
        const char *p = keys[i].path;
        const char *last = strrchr(p, '.');
        const char *name = last ? last + 1 : p;
        size_t parent_len = last ? (size_t)(last - p) : 0;
        if (parent_len != plen || strncmp(p, parent, plen) != 0)
            continue;
        size_t d = edit_distance(key, name);
        if (close_enough(key, name) && d < bestd) {
            bestd = d;
            best = name;
        }
    }
    return best;
}

/* Pass 2: unknown keys and wrongly typed maps, in one file. */
static void walk_keys(loader *L, const dr_ynode *map, const char *prefix, int is_defaults)
{
    for (size_t i = 0; i < map->npairs; i++) {
        const dr_ypair *pr = &map->pairs[i];
        char *path =
            prefix[0] ? dr_xasprintf("%s.%s", prefix, pr->key->value) : dr_xstrdup(pr->key->value);
        const key_spec *k = strchr(pr->key->value, '.') ? NULL : spec_find(path);
        if (!k && strchr(pr->key->value, '.')) {
            /* "service.cpu: 512" would silently mean nothing: keys nest. */
            dr_diags_add(L->diags, pr->key->file, pr->key->line, pr->key->col, path,
                         "unknown key '%s'; keys nest as maps, they are not dotted names",
                         pr->key->value);
        } else if (!k) {
            const char *s = suggest_key(prefix, pr->key->value);
            if (s)
                dr_diags_add(L->diags, pr->key->file, pr->key->line, pr->key->col, path,
                             "unknown key '%s'; did you mean '%s'?", pr->key->value, s);
            else
                dr_diags_add(L->diags, pr->key->file, pr->key->line, pr->key->col, path,
                             "unknown key '%s'", pr->key->value);
        } else if (is_defaults && (k->flags & F_REGION_ONLY)) {
            dr_diags_add(L->diags, pr->key->file, pr->key->line, pr->key->col, path,
                         "belongs in each region file, not in defaults.yaml (every region has "
                         "its own)");
        } else if (k->kind == K_MAP) {
            if (pr->value->kind == DR_Y_MAP) {
                walk_keys(L, pr->value, path, is_defaults);
            } else if (pr->value->kind != DR_Y_INVALID) {
                value_ctx v = {L->diags, pr->value, path};
                bad_type(&v, k, pr->value);
            }
        }
        free(path);
    }
}

/* The node at a dotted path; *blocked when a map on the way is something
 * else (already reported by walk_keys). */
static const dr_ynode *lookup(const dr_ynode *root, const char *path, int *blocked)
{
    *blocked = 0;
    const dr_ynode *n = root;
    const char *p = path;
    while (n) {
        if (n->kind != DR_Y_MAP) {
            *blocked = 1;
            return NULL;
        }
        size_t l = strcspn(p, ".");
        char seg[64];
        if (l >= sizeof(seg))
            return NULL;
        memcpy(seg, p, l);
        seg[l] = '\0';
        n = dr_ymap_get(n, seg);
        if (p[l] == '\0')
            return n;
        p += l + 1;
    }
    return NULL;
}

/* Pass 3: every value written in defaults.yaml, on its own. */
static void check_defaults_values(loader *L, const dr_ynode *root)
{
    dr_region_profile scratch = {0};
    for (size_t i = 0; i < NKEYS; i++) {
        const key_spec *k = &keys[i];
        if (k->kind == K_MAP || (k->flags & F_REGION_ONLY))
            continue;
        int blocked;
        const dr_ynode *n = lookup(root, k->path, &blocked);
        if (n)
            take_value(L->diags, k, n, &scratch);
    }
    profile_fields_free(&scratch);
}

static void region_root_place(const region_state *r, const char **file, int *line, int *col)
{
    const dr_ynode *root = r->doc ? r->doc->root : NULL;
    *file = r->p.file;
    *line = root && root->kind == DR_Y_MAP ? root->line : 1;
    *col = root && root->kind == DR_Y_MAP ? root->col : 1;
}

/* Pass 4a: every key of one region, typed and stored. */
static void fill_region(loader *L, region_state *r)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const key_spec *k = &keys[i];
        if (k->kind == K_MAP)
            continue;
        int blocked;
        const dr_ynode *n = lookup(r->merged, k->path, &blocked);
        /* A region-only key in defaults.yaml was reported there; the region
         * must still set its own. */
        if (n && (k->flags & F_REGION_ONLY) && L->defaults && n->file == L->defaults->file)
            n = NULL;
        if (blocked)
            continue;
        if (n) {
            r->at[i] = n;
            r->ok[i] = (unsigned char)take_value(L->diags, k, n, &r->p);
            continue;
        }
        if (k->def) {
            dr_ynode d = {.kind = DR_Y_SCALAR, .value = (char *)k->def, .plain = 1};
            d.file = r->p.file;
            r->ok[i] = (unsigned char)take_value(L->diags, k, &d, &r->p);
            assert(r->ok[i]); /* the table's defaults are valid */
        } else if (k->flags & F_NULLABLE) {
            r->ok[i] = 1;
        } else if ((k->flags & F_REQUIRED) && !L->defaults_broken) {
            const char *file;
            int line, col;
            region_root_place(r, &file, &line, &col);
            if (k->flags & F_REGION_ONLY)
                dr_diags_add(L->diags, file, line, col, k->path,
                             "required key missing (every region file sets its own)");
            else
                dr_diags_add(L->diags, file, line, col, k->path,
                             "required key missing (set it in this file or in defaults.yaml)");
        }
    }
}

/* Where to report a problem about key i of region r: where the value was
 * written, else where `other` was, else the top of the region file. */
static void place(const region_state *r, size_t i, size_t other, const char **file, int *line,
                  int *col)
{
    const dr_ynode *n = r->at[i] ? r->at[i] : r->at[other];
    if (n) {
        *file = n->file;
        *line = n->line;
        *col = n->col;
    } else {
        region_root_place(r, file, line, col);
    }
}

static void region_diag(loader *L, const region_state *r, size_t i, size_t other, const char *fmt,
                        ...) __attribute__((format(printf, 5, 6)));

static void region_diag(loader *L, const region_state *r, size_t i, size_t other, const char *fmt,
                        ...)
{
    const char *file;
    int line, col;
    place(r, i, other, &file, &line, &col);
    va_list ap;
    va_start(ap, fmt);
    diags_vadd(L->diags, file, line, col, keys[i].path, fmt, ap);
    va_end(ap);
}

/* Fargate's CPU/memory pairs (Linux), MiB. */
static int fargate_memory_ok(int cpu, int mem, char *hint, size_t hint_len)
{
    static const struct {
        int cpu, lo, hi, step;
    } t[] = {{512, 1024, 4096, 1024},   {1024, 2048, 8192, 1024},   {2048, 4096, 16384, 1024},
             {4096, 8192, 30720, 1024}, {8192, 16384, 61440, 4096}, {16384, 32768, 122880, 8192}};
    if (cpu == 256) {
        snprintf(hint, hint_len, "512, 1024 or 2048");
        return mem == 512 || mem == 1024 || mem == 2048;
    }
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].cpu == cpu) {
            snprintf(hint, hint_len, "%d to %d in steps of %d", t[i].lo, t[i].hi, t[i].step);
            return mem >= t[i].lo && mem <= t[i].hi && (mem - t[i].lo) % t[i].step == 0;
        }
    return 1; /* cpu itself is wrong, reported already */
}

/* Pass 4b: rules that combine keys of one region. */
static void check_region(loader *L, region_state *r)
{
    const dr_region_profile *p = &r->p;
#define I(path) spec_index(path)
#define OK(path) r->ok[I(path)]

    size_t cpu = I("service.cpu"), mem = I("service.memory");
    if (r->ok[cpu] && r->ok[mem]) {
        char hint[64];
        if (!fargate_memory_ok(p->service.cpu, p->service.memory, hint, sizeof(hint)))
            region_diag(L, r, mem, cpu, "%d MiB does not fit service.cpu %d on Fargate; use %s",
                        p->service.memory, p->service.cpu, hint);
    }

    size_t smin = I("service.scaling.min"), smax = I("service.scaling.max");
    if (r->ok[smin] && r->ok[smax] && p->service.min_tasks > p->service.max_tasks)
        region_diag(L, r, smin, smax, "%d is above service.scaling.max %d", p->service.min_tasks,
                    p->service.max_tasks);
    /* The service's desired count is its own key so that an operator can
     * change it without touching the scaling bounds; absent, it is the
     * minimum. Auto scaling would pull it back inside the bounds anyway,
     * so outside them it is a mistake. */
    size_t sdes = I("service.desired_count");
    if (r->ok[sdes] && r->at[sdes] && r->ok[smin] && r->ok[smax] &&
        (p->service.desired_count < p->service.min_tasks ||
         p->service.desired_count > p->service.max_tasks))
        region_diag(L, r, sdes, sdes, "%d is outside service.scaling.min..max (%d..%d)",
                    p->service.desired_count, p->service.min_tasks, p->service.max_tasks);

    size_t dom = I("dns.domain"), zone = I("dns.hosted_zone");
    if (r->ok[dom] && r->ok[zone]) {
        size_t dl = strlen(p->dns.domain), zl = strlen(p->dns.hosted_zone);
        int inside = strcmp(p->dns.domain, p->dns.hosted_zone) == 0 ||
                     (dl > zl && strcmp(p->dns.domain + dl - zl, p->dns.hosted_zone) == 0 &&
                      p->dns.domain[dl - zl - 1] == '.');
        if (!inside)
            region_diag(L, r, dom, zone, "'%s' is not inside dns.hosted_zone '%s'", p->dns.domain,
                        p->dns.hosted_zone);
    }

    size_t rto = I("dr.rto_minutes"), strat = I("dr.strategy");
    if (r->ok[rto] && r->ok[strat]) {
        int floor = dr_strategy_rto_floor(p->dr.strategy);
        if (p->dr.rto_minutes < floor) {
            /* Suggest the cheapest strategy that reaches the target. */
            const char *better = NULL;
            if (p->dr.strategy == DR_STRATEGY_BACKUP_RESTORE &&
                p->dr.rto_minutes >= dr_strategy_rto_floor(DR_STRATEGY_PILOT_LIGHT))
                better = "pilot-light";
            else if (p->dr.strategy != DR_STRATEGY_WARM_STANDBY &&
                     p->dr.rto_minutes >= dr_strategy_rto_floor(DR_STRATEGY_WARM_STANDBY))
                better = "warm-standby";
            if (better)
                region_diag(L, r, rto, strat,
                            "%d is below what %s can reach (%d minutes); raise it or choose %s",
                            p->dr.rto_minutes, dr_strategy_name(p->dr.strategy), floor, better);
            else
                region_diag(L, r, rto, strat,
                            "%d is below what %s can reach (%d minutes); raise it (no strategy "
                            "recovers in under %d minutes)",
                            p->dr.rto_minutes, dr_strategy_name(p->dr.strategy), floor,
                            dr_strategy_rto_floor(DR_STRATEGY_WARM_STANDBY));
        }
    }

    size_t bret = I("database.backup_retention_days");
    if (r->ok[bret] && r->ok[strat] && p->dr.strategy == DR_STRATEGY_WARM_STANDBY &&
        p->database.backup_retention == 0)
        region_diag(L, r, bret, strat,
                    "0 turns off automated backups, which warm-standby's cross-region read "
                    "replica needs; use 1 to 35");

    size_t mode = I("encryption.mode"), env = I("environment");
    if (r->ok[mode] && r->ok[env] && strcmp(p->encryption.mode, "none") == 0 &&
        strcmp(p->environment, "prod") == 0)
        region_diag(L, r, mode, env,
                    "none is not allowed with environment prod: bundles hold the database and "
                    "its secrets; use kms");

    if (OK("retention.keep_last") && OK("retention.daily") && OK("retention.weekly") &&
        OK("retention.monthly") && p->retention.keep_last == 0 && p->retention.daily == 0 &&
        p->retention.weekly == 0 && p->retention.monthly == 0)
        region_diag(L, r, I("retention.keep_last"), I("retention.daily"),
                    "retention keeps no bundle at all; set keep_last, daily, weekly or monthly "
                    "above 0");
#undef OK
#undef I
}

/* Pass 5: rules across the regions of the set. */
static void check_set(loader *L, int all_readable)
{
    size_t role = spec_index("role"), cidr = spec_index("network.cidr");
    int roles_known = all_readable;
    const region_state *primary = NULL;
    for (size_t i = 0; i < L->n; i++) {
        region_state *r = &L->regions[i];
        if (!r->doc || !r->ok[role]) {
            roles_known = 0;
            continue;
        }
        if (r->p.role != DR_ROLE_PRIMARY)
            continue;
        if (primary) {
            const dr_ynode *at = primary->at[role];
            region_diag(L, r, role, role,
                        "a second primary: %s (%s:%d:%d) is primary already; a set has exactly "
                        "one",
                        primary->p.region, at->file, at->line, at->col);
        } else {
            primary = r;
        }
    }
    /* Without a readable role everywhere, "no primary" may just be that. */
    if (!primary && roles_known)
        for (size_t i = 0; i < L->n; i++) {
            region_state *r = &L->regions[i];
            if (r->p.role == DR_ROLE_STANDBY)
                region_diag(L, r, role, role,
                            "standby without a primary: no region file in %s has role primary",
                            L->dir);
        }

    for (size_t j = 0; j < L->n; j++) {
        region_state *b = &L->regions[j];
        if (!b->doc || !b->ok[cidr])
            continue;
        uint32_t ab, nb;
        int pb, pa;
        parse_cidr(b->p.network.cidr, &nb, &pb);
        for (size_t i = 0; i < j; i++) {
            region_state *a = &L->regions[i];
            if (!a->doc || !a->ok[cidr])
                continue;
            parse_cidr(a->p.network.cidr, &ab, &pa);
            uint32_t mask = prefix_mask(pa < pb ? pa : pb);
            if ((ab & mask) != (nb & mask))
                continue;
            const dr_ynode *at = a->at[cidr];
            region_diag(L, b, cidr, cidr,
                        "%s overlaps %s of %s (%s:%d:%d); each region needs its own address block",
                        b->p.network.cidr, a->p.network.cidr, a->p.region, at->file, at->line,
                        at->col);
        }
    }

    /* Stack-wide settings: compared with the primary (else the first
     * region), only where the defaults could be read. */
    if (L->defaults_broken)
        return;
    const region_state *ref = primary;
    for (size_t i = 0; !ref && i < L->n; i++)
        if (L->regions[i].doc)
            ref = &L->regions[i];
    if (!ref)
        return;
    for (size_t j = 0; j < L->n; j++) {
        region_state *r = &L->regions[j];
        if (r == ref || !r->doc)
            continue;
        for (size_t i = 0; i < NKEYS; i++) {
            const key_spec *k = &keys[i];
            if (!(k->flags & F_SAME) || !r->ok[i] || !ref->ok[i])
                continue;
            char *mine = value_text(&r->p, k), *theirs = value_text(&ref->p, k);
            if (strcmp(mine, theirs) != 0) {
                const dr_ynode *at = ref->at[i];
                char *where = at ? dr_xasprintf("%s:%d:%d", at->file, at->line, at->col)
                                 : dr_xstrdup("built-in default");
                region_diag(L, r, i, i,
                            "%s here but %s in %s (%s); it describes the whole stack and "
                            "must be the same in every region",
                            mine, theirs, ref->p.region, where);
                free(where);
            }
            free(mine);
            free(theirs);
        }
    }
}

static void loader_free(loader *L)
{
    for (size_t i = 0; i < L->n; i++) {
        region_state *r = &L->regions[i];
        profile_fields_free(&r->p);
        dr_yarena_free(&r->arena);
        dr_ydoc_free(r->doc);
    }
    free(L->regions);
    dr_ydoc_free(L->defaults);
}

/* Lists *.yaml in dir, sorted; reports *.yml. */
static int list_dir(const char *dir, char ***names, size_t *n, dr_diags *diags, dr_err *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        dr_err_set(err, DR_E_CONFIG, "cannot read the profile directory %s: %s", dir,
                   strerror(errno));
        return dr_err_hint(err, "pass --config-dir DIR or set DRCTL_CONFIG_DIR");
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        size_t l = strlen(nm);
        if (nm[0] == '.')
            continue;
        int yaml = l > 5 && strcmp(nm + l - 5, ".yaml") == 0;
        int yml = l > 4 && strcmp(nm + l - 4, ".yml") == 0;
        if (!yaml && !yml)
            continue;
        char *path = join(dir, nm);
        struct stat st;
        int regular = stat(path, &st) == 0 && S_ISREG(st.st_mode);
        if (regular && yml)
            dr_diags_add(diags, path, 0, 0, "",
                         "profile files end in .yaml; rename it to %.*s.yaml", (int)(l - 4), nm);
        free(path);
        if (!regular || !yaml)
            continue;
        *names = dr_xrealloc(*names, (*n + 1) * sizeof(**names));
        (*names)[(*n)++] = dr_xstrdup(nm);
    }
    closedir(d);
    if (*n)
        qsort(*names, *n, sizeof(**names), name_cmp);
    return 0;
}

int dr_profiles_load(const char *dir, dr_profile_set *out, dr_diags *diags, dr_err *err)
{
    memset(out, 0, sizeof(*out));
    size_t first_diag = diags->n;
    char **names;
    size_t nnames;
    if (list_dir(dir, &names, &nnames, diags, err) != 0)
        return -1;

    loader L = {.dir = dir, .diags = diags};
    L.regions = dr_xcalloc(nnames ? nnames : 1, sizeof(*L.regions));

    /* Pass 1 and 2 for defaults.yaml. */
    dr_ynode *droot = NULL;
    for (size_t i = 0; i < nnames; i++) {
        if (strcmp(names[i], "defaults.yaml") != 0)
            continue;
        char *path = join(dir, names[i]);
        if (dr_ydoc_load(path, &L.defaults, diags) != 0)
            L.defaults_broken = 1;
        else
            droot = root_map(&L, L.defaults, &L.defaults_broken);
        free(path);
    }
    if (droot) {
        walk_keys(&L, droot, "", 1);
        check_defaults_values(&L, droot);
    }

    /* Pass 1, 2 and 4 for each region file. */
    int all_readable = 1;
    for (size_t i = 0; i < nnames; i++) {
        if (strcmp(names[i], "defaults.yaml") == 0)
            continue;
        region_state *r = &L.regions[L.n++];
        r->p.file = join(dir, names[i]);
        snprintf(r->p.region, sizeof(r->p.region), "%.*s", (int)(strlen(names[i]) - 5), names[i]);
        char *name = dr_xstrndup(names[i], strlen(names[i]) - 5);
        if (!dr_region_known(name)) {
            const char *near = NULL;
            for (const char *const *k = dr_regions_all(); *k; k++)
                if (close_enough(name, *k) &&
                    (!near || edit_distance(name, *k) < edit_distance(name, near)))
                    near = *k;
            if (near)
                dr_diags_add(diags, r->p.file, 0, 0, "",
                             "'%s' is not a known AWS region; did you mean %s.yaml?", name, near);
            else
                dr_diags_add(diags, r->p.file, 0, 0, "",
                             "'%s' is not a known AWS region; a region file is named after its "
                             "region, e.g. us-east-1.yaml",
                             name);
        }
        free(name);
        int broken = 0;
        dr_ynode *rroot = NULL;
        if (dr_ydoc_load(r->p.file, &r->doc, diags) == 0)
            rroot = root_map(&L, r->doc, &broken);
        if (!r->doc || broken) {
            dr_ydoc_free(r->doc);
            r->doc = NULL;
            all_readable = 0;
            continue;
        }
        if (rroot)
            walk_keys(&L, rroot, "", 0);
        r->merged = dr_ymerge(&r->arena, droot, rroot);
        fill_region(&L, r);
        if (!r->at[spec_index("service.desired_count")])
            r->p.service.desired_count = r->p.service.min_tasks;
        check_region(&L, r);
    }
    if (L.n == 0)
        dr_diags_add(diags, dir, 0, 0, "",
                     "no region files: expected defaults.yaml and one <region>.yaml per region, "
                     "e.g. us-east-1.yaml");
    else
        check_set(&L, all_readable);

    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);

    diags_settle(diags, first_diag);
    size_t problems = diags->n - first_diag;
    if (problems) {
        loader_free(&L);
        dr_err_set(err, DR_E_CONFIG, "%zu problem%s in %s", problems, problems == 1 ? "" : "s",
                   dir);
        return dr_err_hint(err, "keys and their values are described in docs/profiles.md");
    }

    out->dir = dr_xstrdup(dir);
    out->n = L.n;
    out->regions = dr_xcalloc(L.n, sizeof(*out->regions));
    for (size_t i = 0; i < L.n; i++) {
        out->regions[i] = L.regions[i].p; /* moves the strings */
        memset(&L.regions[i].p, 0, sizeof(L.regions[i].p));
        if (out->regions[i].role == DR_ROLE_PRIMARY)
            out->primary = &out->regions[i];
    }
    loader_free(&L);
    return 0;
}

void dr_profiles_free(dr_profile_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        profile_fields_free(&s->regions[i]);
    free(s->regions);
    free(s->dir);
    memset(s, 0, sizeof(*s));
}

const dr_region_profile *dr_profiles_find(const dr_profile_set *s, const char *region)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (strcmp(s->regions[i].region, region) == 0)
            return &s->regions[i];
    return NULL;
}
