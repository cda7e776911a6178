/*
 * model.c - the resource model's frame: which parts a region gets (role,
 * strategy, state), the builder the family files fill, tags, dependencies
 * derived from references, dependency order, subnet carving and names.
 *
 * The families (model_network.c, model_security.c, model_compute.c,
 * model_data.c, model_monitoring.c, model_edge.c) only add resources; all
 * the cross-cutting rules live here so that they hold for every resource:
 * every taggable resource carries drctl:stack, drctl:logical-id and Name;
 * every Ref/GetAtt/Sub target is a resource of the model, a parameter or a
 * pseudo parameter (a dangling reference is a bug, reported as one); the
 * dependency list is exactly "what the references imply + what a family
 * asked for explicitly".
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack/model_int.h"
#include "util/mem.h"

/* ---- names ---------------------------------------------------------- */

static uint32_t fnv1a32(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

char *dr_model_name(const char *stack, const char *purpose, size_t max)
{
    char *full = dr_xasprintf("%s-%s", stack, purpose);
    if (strlen(full) <= max)
        return full;
    free(full);
    /* "<cut>-<hash4>-<purpose>": the hash keeps two long stack names that
     * share a prefix apart after the cut. */
    char hash[5];
    snprintf(hash, sizeof(hash), "%04x", (unsigned)(fnv1a32(stack) & 0xffffu));
    size_t fixed = 1 + 4 + 1 + strlen(purpose);
    size_t keep = max > fixed ? max - fixed : 0;
    size_t n = strlen(stack) < keep ? strlen(stack) : keep;
    while (n > 0 && stack[n - 1] == '-')
        n--;
    if (n == 0)
        return dr_xasprintf("%s-%s", hash, purpose);
    return dr_xasprintf("%.*s-%s-%s", (int)n, stack, hash, purpose);
}

char *dr_model_bucket_name(const char *stack, const char *purpose, const char *region)
{
    char *key = dr_xasprintf("%s/%s", stack, region);
    uint32_t h = fnv1a32(key);
    free(key);
    /* Stack names are at most 31 characters and region names at most 14,
     * so "<stack>-vault-<region>-<8 hex>" stays within S3's 63. */
    return dr_xasprintf("%s-%s-%s-%08x", stack, purpose, region, (unsigned)h);
}

char *dr_model_output_param(const char *region, const char *output)
{
    /* us-east-1 -> UsEast1: letters and digits only, as CloudFormation
     * wants for parameter names. */
    char *out = dr_xmalloc(strlen(region) + strlen(output) + 1);
    size_t n = 0;
    int up = 1;
    for (const char *c = region; *c; c++) {
        if (*c == '-') {
            up = 1;
            continue;
        }
        out[n++] = up && *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
        up = 0;
    }
    strcpy(out + n, output);
    return out;
}

/* ---- subnets -------------------------------------------------------- */

static int parse_cidr(const char *cidr, uint32_t *addr, int *prefix)
{
    char ip[32];
    const char *slash = strchr(cidr, '/');
    if (!slash || (size_t)(slash - cidr) >= sizeof(ip))
        return -1;
    memcpy(ip, cidr, (size_t)(slash - cidr));
    ip[slash - cidr] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, ip, &a) != 1)
        return -1;
    char *end = NULL;
    long p = strtol(slash + 1, &end, 10);
    if (!end || *end || end == slash + 1 || p < 0 || p > 32)
        return -1;
    *addr = ntohl(a.s_addr);
    *prefix = (int)p;
    return 0;
}

static void format_cidr(uint32_t addr, int prefix, char out[20])
{
    snprintf(out, 20, "%u.%u.%u.%u/%d", (unsigned)(addr >> 24), (unsigned)((addr >> 16) & 255),
             (unsigned)((addr >> 8) & 255), (unsigned)(addr & 255), prefix);
}

int dr_subnets_carve(const char *region, const char *cidr, int az_count, dr_subnet_layout *out,
                     dr_err *err)
{
    memset(out, 0, sizeof(*out));
    uint32_t base;
    int prefix;
    if (!cidr || parse_cidr(cidr, &base, &prefix) != 0) {
        dr_err_set(err, DR_E_CONFIG, "network.cidr '%s' is not an IPv4 CIDR block",
                   cidr ? cidr : "");
        return dr_err_hint(err, "write it like 10.10.0.0/16");
    }
    if (prefix < 16 || prefix > 24) {
        dr_err_set(err, DR_E_CONFIG, "network.cidr %s: the VPC block must be /16 to /24", cidr);
        return dr_err_hint(err, "AWS allows VPC blocks from /16 to /28; drctl needs room for "
                                "three subnets per AZ");
    }
    uint32_t mask = 0xffffffffu << (32 - prefix);
    if (base & ~mask) {
        char net[20];
        format_cidr(base & mask, prefix, net);
        dr_err_set(err, DR_E_CONFIG, "network.cidr %s has host bits set", cidr);
        return dr_err_hint(err, "did you mean %s?", net);
    }
    if (az_count < 2 || az_count > DR_MAX_AZS) {
        dr_err_set(err, DR_E_CONFIG, "network.az_count %d: must be 2 to %d", az_count, DR_MAX_AZS);
        return dr_err_hint(err, "the load balancer and Multi-AZ RDS need at least 2 AZs");
    }
    int slots_bits = az_count <= 2 ? 1 : az_count <= 4 ? 2 : 3;
    int priv = prefix + 1 + slots_bits;
    int pub = prefix + 2 + slots_bits;
    if (pub > 27) {
        dr_err_set(err, DR_E_CONFIG,
                   "network.cidr %s is too small for %d AZs: public subnets would be /%d, "
                   "and the load balancer needs /27 or larger",
                   cidr, az_count, pub);
        int need = 27 - 2 - slots_bits;
        return dr_err_hint(err, "use a /%d or larger block, or fewer AZs (network.az_count)", need);
    }
    out->az_count = az_count;
    uint32_t half = 1u << (32 - prefix - 1);
    uint32_t quarter = half >> 1;
    for (int i = 0; i < az_count; i++) {
        snprintf(out->az[i], sizeof(out->az[i]), "%s%c", region, 'a' + i);
        format_cidr(base + (uint32_t)i * (1u << (32 - priv)), priv, out->private_cidr[i]);
        format_cidr(base + half + (uint32_t)i * (1u << (32 - pub)), pub, out->public_cidr[i]);
        format_cidr(base + half + quarter + (uint32_t)i * (1u << (32 - pub)), pub,
                    out->database_cidr[i]);
    }
    return 0;
}

/* ---- builder -------------------------------------------------------- */

dr_resource *dr_mb_add(dr_mb *b, const char *logical_id, const char *type, json_t *props)
{
    dr_model *m = b->m;
    if (m->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        m->resources = dr_xrealloc(m->resources, b->cap * sizeof(*m->resources));
    }
    dr_resource *r = &m->resources[m->n++];
    memset(r, 0, sizeof(*r));
    r->logical_id = dr_xstrdup(logical_id);
    r->type = dr_xstrdup(type);
    r->properties = props ? props : json_object();
    return r;
}

void dr_mb_depends(dr_resource *r, const char *logical_id)
{
    for (size_t i = 0; i < r->ndepends; i++)
        if (strcmp(r->depends_on[i], logical_id) == 0)
            return;
    r->depends_on = dr_xrealloc(r->depends_on, (r->ndepends + 1) * sizeof(char *));
    r->depends_on[r->ndepends++] = dr_xstrdup(logical_id);
}

void dr_mb_output(dr_mb *b, const char *name, json_t *value, const char *description)
{
    json_object_set_new(b->m->outputs, name,
                        json_pack("{s:o, s:s}", "Value", value, "Description", description));
}

void dr_mb_parameter(dr_mb *b, const char *name, const char *description)
{
    json_object_set_new(b->m->parameters, name,
                        json_pack("{s:s, s:s}", "Type", "String", "Description", description));
}

json_t *dr_ref(const char *logical_id)
{
    return json_pack("{s:s}", "Ref", logical_id);
}

json_t *dr_getatt(const char *logical_id, const char *attr)
{
    return json_pack("{s:[s, s]}", "Fn::GetAtt", logical_id, attr);
}

json_t *dr_sub(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[4096];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return json_pack("{s:s}", "Fn::Sub", buf);
}

json_t *dr_join(const char *sep, json_t *parts)
{
    return json_pack("{s:[s, o]}", "Fn::Join", sep, parts);
}

json_t *dr_other_output(const char *region, const char *output)
{
    return json_pack("{s:[s, s]}", "drctl::Output", region, output);
}

json_t *dr_refs_numbered(const char *prefix, int n, const char *suffix)
{
    json_t *a = json_array();
    for (int i = 1; i <= n; i++) {
        char id[128];
        snprintf(id, sizeof(id), "%s%d%s", prefix, i, suffix ? suffix : "");
        json_array_append_new(a, dr_ref(id));
    }
    return a;
}

json_t *dr_str_take(char *s)
{
    json_t *j = json_string(s);
    free(s);
    return j;
}

const dr_region_profile *dr_mb_standby(const dr_profile_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->regions[i].role == DR_ROLE_STANDBY)
            return &set->regions[i];
    return NULL;
}

static size_t count_standbys(const dr_profile_set *set)
{
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++)
        n += set->regions[i].role == DR_ROLE_STANDBY;
    return n;
}

/* ---- tags ----------------------------------------------------------- */

/* Types whose Tags property is a list of {Key, Value}. Everything else in
 * the model (attachments, routes, associations, ingress/egress rules,
 * listeners, scaling, bucket policies, aliases, dashboards, record sets)
 * has no tags in CloudFormation; the engine finds those through their
 * parent or their deterministic name. */
static const struct {
    const char *type;
    const char *property;
} taggable[] = {
    {"AWS::EC2::VPC", "Tags"},
    {"AWS::EC2::Subnet", "Tags"},
    {"AWS::EC2::InternetGateway", "Tags"},
    {"AWS::EC2::EIP", "Tags"},
    {"AWS::EC2::NatGateway", "Tags"},
    {"AWS::EC2::RouteTable", "Tags"},
    {"AWS::EC2::VPCEndpoint", "Tags"},
    {"AWS::EC2::FlowLog", "Tags"},
    {"AWS::EC2::SecurityGroup", "Tags"},
    {"AWS::ECS::Cluster", "Tags"},
    {"AWS::ECS::TaskDefinition", "Tags"},
    {"AWS::ECS::Service", "Tags"},
    {"AWS::ElasticLoadBalancingV2::LoadBalancer", "Tags"},
    {"AWS::ElasticLoadBalancingV2::TargetGroup", "Tags"},
    {"AWS::RDS::DBInstance", "Tags"},
    {"AWS::RDS::DBSubnetGroup", "Tags"},
    {"AWS::ElastiCache::ReplicationGroup", "Tags"},
    {"AWS::ElastiCache::SubnetGroup", "Tags"},
    {"AWS::S3::Bucket", "Tags"},
    {"AWS::KMS::Key", "Tags"},
    {"AWS::IAM::Role", "Tags"},
    {"AWS::Logs::LogGroup", "Tags"},
    {"AWS::CloudWatch::Alarm", "Tags"},
    {"AWS::SecretsManager::Secret", "Tags"},
    {"AWS::CertificateManager::Certificate", "Tags"},
    {"AWS::WAFv2::WebACL", "Tags"},
    {"AWS::CloudFront::Distribution", "Tags"},
    {"AWS::Route53::HealthCheck", "HealthCheckTags"},
};

const char *dr_model_tags_property(const char *type)
{
    for (size_t i = 0; i < sizeof(taggable) / sizeof(taggable[0]); i++)
        if (strcmp(taggable[i].type, type) == 0)
            return taggable[i].property;
    return NULL;
}

static void add_tags(const dr_model *m, dr_resource *r)
{
    const char *prop = dr_model_tags_property(r->type);
    if (!prop)
        return;
    char *name = dr_xasprintf("%s-%s", m->stack, r->logical_id);
    json_t *tags = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:o}]", "Key", "drctl:stack", "Value",
                             m->stack, "Key", "drctl:logical-id", "Value", r->logical_id, "Key",
                             "Name", "Value", dr_str_take(name));
    json_object_set_new(r->properties, prop, tags);
}

/* ---- references and dependencies ------------------------------------ */

static int is_pseudo(const char *name)
{
    return strncmp(name, "AWS::", 5) == 0;
}

/* Calls fn for every logical id that a value refers to (Ref, GetAtt, the
 * ${X} and ${X.Attr} of Fn::Sub); pseudo parameters are skipped. */
typedef void (*ref_fn)(void *ud, const char *id, size_t len);

static void scan_sub(const char *s, ref_fn fn, void *ud)
{
    for (const char *p = strstr(s, "${"); p; p = strstr(p, "${")) {
        p += 2;
        if (*p == '!')
            continue; /* ${!Literal} */
        const char *end = strchr(p, '}');
        if (!end)
            return;
        size_t len = strcspn(p, ".}");
        if (!(len >= 5 && strncmp(p, "AWS::", 5) == 0))
            fn(ud, p, len);
        p = end + 1;
    }
}

static void scan_refs(json_t *v, ref_fn fn, void *ud)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) scan_refs(x, fn, ud);
        return;
    }
    if (!json_is_object(v))
        return;
    if (json_object_size(v) == 1) {
        json_t *ref = json_object_get(v, "Ref");
        if (json_is_string(ref)) {
            if (!is_pseudo(json_string_value(ref)))
                fn(ud, json_string_value(ref), json_string_length(ref));
            return;
        }
        json_t *ga = json_object_get(v, "Fn::GetAtt");
        if (json_is_array(ga) && json_is_string(json_array_get(ga, 0))) {
            const char *id = json_string_value(json_array_get(ga, 0));
            fn(ud, id, strlen(id));
            return;
        }
        if (json_is_string(ga)) { /* "Id.Attr" form */
            const char *id = json_string_value(ga);
            fn(ud, id, strcspn(id, "."));
            return;
        }
        json_t *sub = json_object_get(v, "Fn::Sub");
        if (json_is_string(sub)) {
            scan_sub(json_string_value(sub), fn, ud);
            return;
        }
        if (json_is_array(sub)) {
            /* [template, {var: value}]: variables defined in the map are
             * not logical ids; their values may hold references. */
            json_t *vars = json_array_get(sub, 1);
            const char *tpl = json_string_value(json_array_get(sub, 0));
            if (tpl) {
                for (const char *p = strstr(tpl, "${"); p; p = strstr(p, "${")) {
                    p += 2;
                    if (*p == '!')
                        continue;
                    size_t len = strcspn(p, ".}");
                    char name[256];
                    snprintf(name, sizeof(name), "%.*s", (int)len, p);
                    if (!is_pseudo(name) && !(vars && json_object_get(vars, name)))
                        fn(ud, p, len);
                    p += strcspn(p, "}");
                }
            }
            if (vars)
                scan_refs(vars, fn, ud);
            return;
        }
    }
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) scan_refs(x, fn, ud);
}

typedef struct {
    char **ids;
    size_t n;
} idlist;

static void idlist_add(void *ud, const char *id, size_t len)
{
    idlist *l = ud;
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->ids[i]) == len && strncmp(l->ids[i], id, len) == 0)
            return;
    l->ids = dr_xrealloc(l->ids, (l->n + 1) * sizeof(char *));
    l->ids[l->n++] = dr_xstrndup(id, len);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void dr_model_implied_deps(json_t *props, char ***ids, size_t *n)
{
    idlist l = {NULL, 0};
    scan_refs(props, idlist_add, &l);
    *ids = l.ids;
    *n = l.n;
}

/* depends_on := sorted(unique(explicit ∪ implied)) minus references to
 * parameters; then every remaining id must be a resource of the model. */
static int finish_deps(dr_model *m, dr_err *err)
{
    for (size_t i = 0; i < m->n; i++) {
        dr_resource *r = &m->resources[i];
        idlist l = {r->depends_on, r->ndepends};
        scan_refs(r->properties, idlist_add, &l);
        size_t k = 0;
        for (size_t j = 0; j < l.n; j++) {
            if (json_object_get(m->parameters, l.ids[j])) {
                free(l.ids[j]);
                continue;
            }
            l.ids[k++] = l.ids[j];
        }
        l.n = k;
        if (l.n)
            qsort(l.ids, l.n, sizeof(char *), cmp_str);
        r->depends_on = l.ids;
        r->ndepends = l.n;
        for (size_t j = 0; j < l.n; j++) {
            if (!dr_model_find(m, l.ids[j]))
                return dr_err_set(err, DR_E_INTERNAL,
                                  "model of %s: %s (%s) refers to '%s', which is not in the model",
                                  m->region, r->logical_id, r->type, l.ids[j]);
            if (strcmp(l.ids[j], r->logical_id) == 0)
                return dr_err_set(err, DR_E_INTERNAL, "model of %s: %s refers to itself", m->region,
                                  r->logical_id);
        }
    }
    /* Outputs may refer only to what exists. */
    const char *name;
    json_t *o;
    json_object_foreach(m->outputs, name, o)
    {
        idlist l = {NULL, 0};
        scan_refs(o, idlist_add, &l);
        int bad = -1;
        for (size_t j = 0; j < l.n; j++)
            if (bad < 0 && !dr_model_find(m, l.ids[j]) && !json_object_get(m->parameters, l.ids[j]))
                bad = (int)j;
        if (bad >= 0)
            dr_err_set(err, DR_E_INTERNAL,
                       "model of %s: output %s refers to '%s', not in the model", m->region, name,
                       l.ids[bad]);
        for (size_t j = 0; j < l.n; j++)
            free(l.ids[j]);
        free(l.ids);
        if (bad >= 0)
            return -1;
    }
    return 0;
}

static int check_unique(const dr_model *m, dr_err *err)
{
    for (size_t i = 0; i < m->n; i++)
        for (size_t j = i + 1; j < m->n; j++)
            if (strcmp(m->resources[i].logical_id, m->resources[j].logical_id) == 0)
                return dr_err_set(err, DR_E_INTERNAL, "model of %s: logical id %s used twice",
                                  m->region, m->resources[i].logical_id);
    return 0;
}

/* ---- public API ----------------------------------------------------- */

const char *dr_model_state_name(dr_model_state s)
{
    switch (s) {
    case DR_MODEL_AUTO:
        return "auto";
    case DR_MODEL_ACTIVE:
        return "active";
    case DR_MODEL_RESTING:
        return "resting";
    }
    return "?";
}

const char *dr_db_source_name(dr_db_source s)
{
    static const char *const names[] = {"auto", "none", "fresh", "snapshot", "replica", "promoted"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static dr_model_state resolve_state(const dr_region_profile *p, dr_model_state s)
{
    if (s == DR_MODEL_AUTO)
        return p->role == DR_ROLE_PRIMARY ? DR_MODEL_ACTIVE : DR_MODEL_RESTING;
    return s;
}

dr_db_source dr_model_db_source(const dr_profile_set *set, const dr_region_profile *p,
                                dr_model_state state)
{
    (void)set;
    state = resolve_state(p, state);
    if (p->role == DR_ROLE_PRIMARY)
        return DR_DB_FRESH;
    if (state == DR_MODEL_RESTING)
        return p->dr.strategy == DR_STRATEGY_WARM_STANDBY ? DR_DB_REPLICA : DR_DB_NONE;
    if (p->dr.strategy == DR_STRATEGY_WARM_STANDBY)
        return DR_DB_PROMOTED;
    return p->database.restore_path == DR_DB_RESTORE_LOGICAL ? DR_DB_FRESH : DR_DB_SNAPSHOT;
}

static unsigned parts_for(const dr_region_profile *p, dr_model_state state, dr_strategy st,
                          int has_standby)
{
    const unsigned full = DR_PART_KEY | DR_PART_NETWORK | DR_PART_SECURITY | DR_PART_COMPUTE |
                          DR_PART_SCALING | DR_PART_DB | DR_PART_BUCKET |
                          (p->cache.enabled ? DR_PART_CACHE : 0u);
    if (p->role == DR_ROLE_PRIMARY)
        return full | (st == DR_STRATEGY_WARM_STANDBY && has_standby ? DR_PART_REPLICATE : 0u);
    if (state == DR_MODEL_ACTIVE)
        return full | DR_PART_VAULT;
    switch (st) {
    case DR_STRATEGY_BACKUP_RESTORE:
        return DR_PART_KEY | DR_PART_VAULT;
    case DR_STRATEGY_PILOT_LIGHT:
        return DR_PART_KEY | DR_PART_VAULT | DR_PART_NETWORK | DR_PART_SECURITY | DR_PART_COMPUTE |
               DR_PART_BUCKET;
    case DR_STRATEGY_WARM_STANDBY:
        return full | DR_PART_VAULT;
    }
    return full;
}

static void model_init(dr_model *m, const char *stack, const char *region, int global)
{
    memset(m, 0, sizeof(*m));
    m->stack = dr_xstrdup(stack);
    m->region = dr_xstrdup(region);
    m->global = global;
    m->outputs = json_object();
    m->parameters = json_object();
}

/* Shared ending of both builders: tags, dependencies, checks. */
static int model_finish(dr_model *m, dr_err *err)
{
    for (size_t i = 0; i < m->n; i++)
        add_tags(m, &m->resources[i]);
    if (check_unique(m, err) != 0 || finish_deps(m, err) != 0)
        return -1;
    size_t *order = NULL;
    if (dr_model_order(m, &order, err) != 0)
        return -1;
    free(order);
    return 0;
}

/* The stack's name shapes every physical name; reject what AWS would
 * reject later in a less obvious place (RDS and ElastiCache identifiers
 * allow no "--" and no trailing hyphen). */
static int check_stack_name(const char *stack, dr_err *err)
{
    size_t n = stack ? strlen(stack) : 0;
    int ok = n >= 3 && n <= 31 && stack[0] >= 'a' && stack[0] <= 'z' && stack[n - 1] != '-' &&
             !strstr(stack, "--");
    for (size_t i = 0; ok && i < n; i++)
        ok = (stack[i] >= 'a' && stack[i] <= 'z') || (stack[i] >= '0' && stack[i] <= '9') ||
             stack[i] == '-';
    if (ok)
        return 0;
    dr_err_set(err, DR_E_CONFIG, "stack name '%s' cannot name AWS resources", stack ? stack : "");
    return dr_err_hint(err, "3 to 31 characters: a lowercase letter, then lowercase letters, "
                            "digits and single hyphens, not ending in a hyphen");
}

int dr_model_build_regional_opts(const dr_profile_set *set, const dr_region_profile *p,
                                 const dr_model_opts *opts, dr_model *out, dr_err *err)
{
    static const dr_model_opts defaults = {DR_MODEL_AUTO, DR_DB_AUTO, NULL};
    if (!opts)
        opts = &defaults;
    memset(out, 0, sizeof(*out));
    if (check_stack_name(p->stack, err) != 0)
        return -1;
    dr_mb b;
    memset(&b, 0, sizeof(b));
    b.set = set;
    b.p = p;
    b.region = p->region;
    b.stack = p->stack;
    b.err = err;
    b.state = resolve_state(p, opts->state);
    if (p->role == DR_ROLE_PRIMARY && b.state == DR_MODEL_RESTING) {
        dr_err_set(err, DR_E_CONFIG, "%s is the primary region: it has no resting state",
                   p->region);
        return dr_err_hint(err, "only a standby rests between failovers");
    }
    const dr_region_profile *standby = dr_mb_standby(set);
    const dr_region_profile *primary = set->primary;
    b.strategy = p->dr.strategy;
    if (primary && primary != p && primary->dr.strategy != p->dr.strategy) {
        dr_err_set(err, DR_E_CONFIG, "dr.strategy is %s in %s but %s in %s",
                   dr_strategy_name(primary->dr.strategy), primary->region,
                   dr_strategy_name(p->dr.strategy), p->region);
        return dr_err_hint(err, "the DR strategy is one per stack: set it in defaults.yaml");
    }
    if (p->role == DR_ROLE_PRIMARY && count_standbys(set) > 1 &&
        p->dr.strategy == DR_STRATEGY_WARM_STANDBY) {
        dr_err_set(err, DR_E_CONFIG, "warm standby replicates to one standby region, found %zu",
                   count_standbys(set));
        return dr_err_hint(err, "keep one region with role: standby");
    }
    b.peer = p->role == DR_ROLE_PRIMARY ? standby : primary;
    if (p->role == DR_ROLE_STANDBY && !primary) {
        dr_err_set(err, DR_E_CONFIG, "no primary region in %s", set->dir ? set->dir : "the set");
        return dr_err_hint(err, "one region file needs role: primary");
    }
    b.parts = parts_for(p, b.state, b.strategy, standby != NULL);

    dr_db_source auto_db = dr_model_db_source(set, p, b.state);
    b.db = opts->db_source == DR_DB_AUTO ? auto_db : opts->db_source;
    if (!(b.parts & DR_PART_DB)) {
        if (b.db != DR_DB_NONE) {
            dr_err_set(err, DR_E_CONFIG,
                       "the %s %s model of %s has no database instance (database source %s)",
                       dr_model_state_name(b.state), dr_strategy_name(b.strategy), p->region,
                       dr_db_source_name(b.db));
            return dr_err_hint(err, "build it as active to get a database");
        }
    } else if (b.db == DR_DB_NONE) {
        b.parts &= ~(unsigned)DR_PART_DB;
    }
    if ((b.db == DR_DB_REPLICA || b.db == DR_DB_PROMOTED) && p->role == DR_ROLE_PRIMARY) {
        dr_err_set(err, DR_E_CONFIG, "%s is the primary: its database cannot be a replica",
                   p->region);
        return dr_err_hint(err, "a primary's database is fresh or restored from a snapshot");
    }
    b.db_snapshot = opts->db_snapshot;

    if (b.parts & DR_PART_NETWORK) {
        if (dr_subnets_carve(p->region, p->network.cidr, p->network.az_count, &b.net, err) != 0)
            return dr_err_wrap(err, "%s", p->file ? p->file : p->region);
    }

    model_init(out, p->stack, p->region, 0);
    b.m = out;
    out->description = dr_xasprintf("drctl %s %s: %s region, %s, %s", p->stack, p->region,
                                    p->role == DR_ROLE_PRIMARY ? "primary" : "standby",
                                    dr_strategy_name(b.strategy), dr_model_state_name(b.state));
    /* Family order is the model's (stable) order: the key first (everything
     * encrypts with it), then network, security, data, compute, monitoring. */
    dr_build_security_key(&b);
    if (b.parts & DR_PART_NETWORK)
        dr_build_network(&b);
    dr_build_monitoring_logs(&b);
    if (b.parts & DR_PART_SECURITY)
        dr_build_security(&b);
    dr_build_data(&b);
    if (b.parts & DR_PART_COMPUTE)
        dr_build_compute(&b);
    dr_build_monitoring(&b);
    if (model_finish(out, err) != 0) {
        dr_model_free(out);
        return -1;
    }
    return 0;
}

int dr_model_build_regional(const dr_profile_set *set, const dr_region_profile *p, dr_model *out,
                            dr_err *err)
{
    return dr_model_build_regional_opts(set, p, NULL, out, err);
}

int dr_model_build_global(const dr_profile_set *set, dr_model *out, dr_err *err)
{
    return dr_model_build_global_as(set, DR_MODEL_AUTO, out, err);
}

int dr_model_build_global_as(const dr_profile_set *set, dr_model_state standby_state, dr_model *out,
                             dr_err *err)
{
    memset(out, 0, sizeof(*out));
    const dr_region_profile *primary = set->primary;
    if (!primary) {
        dr_err_set(err, DR_E_CONFIG, "no primary region in %s", set->dir ? set->dir : "the set");
        return dr_err_hint(err, "one region file needs role: primary");
    }
    if (!primary->edge.enabled) {
        dr_err_set(err, DR_E_CONFIG, "edge is off for stack %s: there is no global model",
                   primary->stack);
        return dr_err_hint(err, "set edge.enabled: true to put CloudFront, WAF and Route 53 "
                                "failover in front of the regions");
    }
    size_t nstandby = count_standbys(set);
    if (nstandby != 1) {
        dr_err_set(err, DR_E_CONFIG,
                   "the edge fails over from the primary to one standby region; found %zu",
                   nstandby);
        return dr_err_hint(err, "keep exactly one region with role: standby");
    }
    const dr_region_profile *standby = dr_mb_standby(set);
    if (check_stack_name(primary->stack, err) != 0)
        return -1;
    if (!primary->dns.domain || !*primary->dns.domain || !primary->dns.hosted_zone ||
        !*primary->dns.hosted_zone) {
        dr_err_set(err, DR_E_CONFIG, "edge is on but dns.domain or dns.hosted_zone is not set");
        return dr_err_hint(err, "the failover records need a name and a hosted zone");
    }
    dr_mb b;
    memset(&b, 0, sizeof(b));
    b.set = set;
    b.p = primary;
    b.peer = standby;
    b.region = "us-east-1";
    b.stack = primary->stack;
    b.strategy = primary->dr.strategy;
    b.state = DR_MODEL_ACTIVE;
    b.err = err;
    dr_model_state st = resolve_state(standby, standby_state);
    b.peer_serves = (parts_for(standby, st, standby->dr.strategy, 1) & DR_PART_COMPUTE) != 0;
    model_init(out, primary->stack, "us-east-1", 1);
    b.m = out;
    if (b.peer_serves)
        out->description =
            dr_xasprintf("drctl %s global edge: WAF, CloudFront %s -> %s, Route 53 failover",
                         primary->stack, primary->region, standby->region);
    else
        out->description = dr_xasprintf(
            "drctl %s global edge: WAF, CloudFront and Route 53 for %s (the %s %s standby %s "
            "has no load balancer yet)",
            primary->stack, primary->region, dr_model_state_name(st),
            dr_strategy_name(standby->dr.strategy), standby->region);
    dr_build_edge(&b);
    if (model_finish(out, err) != 0) {
        dr_model_free(out);
        return -1;
    }
    return 0;
}

void dr_model_free(dr_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        dr_resource *r = &m->resources[i];
        free(r->logical_id);
        free(r->type);
        json_decref(r->properties);
        for (size_t j = 0; j < r->ndepends; j++)
            free(r->depends_on[j]);
        free(r->depends_on);
    }
    free(m->resources);
    free(m->stack);
    free(m->region);
    free(m->description);
    json_decref(m->outputs);
    json_decref(m->parameters);
    memset(m, 0, sizeof(*m));
}

const dr_resource *dr_model_find(const dr_model *m, const char *logical_id)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->resources[i].logical_id, logical_id) == 0)
            return &m->resources[i];
    return NULL;
}

static ptrdiff_t index_of(const dr_model *m, const char *logical_id)
{
    const dr_resource *r = dr_model_find(m, logical_id);
    return r ? r - m->resources : -1;
}

/* Finds a cycle among the resources not yet ordered (done[i] == 0) and
 * writes it as "A -> B -> A" into err. Every unordered resource has an
 * unordered dependency (else Kahn would have taken it), so walking such
 * dependencies from any of them must revisit a resource. */
static int report_cycle(const dr_model *m, const unsigned char *done, dr_err *err)
{
    size_t start = 0;
    while (start < m->n && done[start])
        start++;
    int *seen = dr_xcalloc(m->n, sizeof(int)); /* position in the walk + 1 */
    size_t *walk = dr_xcalloc(m->n + 1, sizeof(size_t));
    size_t len = 0, cur = start;
    while (!seen[cur]) {
        seen[cur] = (int)len + 1;
        walk[len++] = cur;
        const dr_resource *r = &m->resources[cur];
        size_t next = cur;
        for (size_t j = 0; j < r->ndepends; j++) {
            ptrdiff_t d = index_of(m, r->depends_on[j]);
            if (d >= 0 && !done[d]) {
                next = (size_t)d;
                break;
            }
        }
        cur = next;
    }
    char msg[1024] = "";
    size_t from = (size_t)seen[cur] - 1;
    for (size_t i = from; i < len; i++) {
        strncat(msg, m->resources[walk[i]].logical_id, sizeof(msg) - strlen(msg) - 1);
        strncat(msg, " -> ", sizeof(msg) - strlen(msg) - 1);
    }
    strncat(msg, m->resources[cur].logical_id, sizeof(msg) - strlen(msg) - 1);
    free(seen);
    free(walk);
    return dr_err_set(err, DR_E_INTERNAL, "model of %s has a dependency cycle: %s", m->region, msg);
}

int dr_model_order(const dr_model *m, size_t **order, dr_err *err)
{
    *order = NULL;
    size_t n = m->n;
    size_t *out = dr_xcalloc(n ? n : 1, sizeof(size_t));
    unsigned char *done = dr_xcalloc(n ? n : 1, 1);
    /* O(n^2) Kahn that always takes the first ready resource in model
     * order: stable, and n is a few hundred at most. */
    for (size_t k = 0; k < n; k++) {
        size_t pick = n;
        for (size_t i = 0; i < n && pick == n; i++) {
            if (done[i])
                continue;
            int ready = 1;
            const dr_resource *r = &m->resources[i];
            for (size_t j = 0; j < r->ndepends && ready; j++) {
                ptrdiff_t d = index_of(m, r->depends_on[j]);
                /* A dependency outside the model cannot be ordered here;
                 * the builders reject those, so treat them as met. */
                ready = d < 0 || done[d];
            }
            if (ready)
                pick = i;
        }
        if (pick == n) {
            report_cycle(m, done, err);
            free(out);
            free(done);
            return -1;
        }
        done[pick] = 1;
        out[k] = pick;
    }
    free(done);
    *order = out;
    return 0;
}
