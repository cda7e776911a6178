/*
 * test_model.c - the resource model and its CloudFormation rendering.
 *
 * Profiles are filled in C (fixture below: us-east-1 primary 10.10.0.0/16,
 * us-west-2 standby 10.20.0.0/16, every field set) so that each test
 * states exactly what it varies; the shipped regions/ and regions/sandbox/
 * are also loaded and rendered in every state (from $DRCTL_SOURCE_DIR, set
 * by ctest, else ../..).
 *
 * What is proven: subnet arithmetic (exact layouts, the edge cases, and a
 * sweep of every prefix and AZ count for containment and overlap); which
 * resources each role/strategy/state has (a table of logical ids and
 * types, present and absent); tags on every taggable resource; every
 * dependency ordered before its dependant, and cycles reported by name; the
 * database in each of its sources; the global edge; no secret value in any
 * rendered template; identical output for identical input.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack/model.h"
#include "stack/profile.h"
#include "stack/synth.h"
#include "util/mem.h"

/* ---- fixture --------------------------------------------------------- */

typedef struct fixture {
    dr_region_profile r[2]; /* sorted by region name: us-east-1, us-west-2 */
    dr_profile_set set;
} fixture;

static void fill(dr_region_profile *p, const char *region, dr_role role, const char *cidr)
{
    memset(p, 0, sizeof(*p));
    p->file = (char *)"fixture.yaml";
    snprintf(p->region, sizeof(p->region), "%s", region);
    p->role = role;
    p->stack = (char *)"litellm-prod";
    p->environment = (char *)"prod";
    p->dns.domain = (char *)"llm.example.com";
    p->dns.hosted_zone = (char *)"example.com";
    p->service.image = (char *)"ghcr.io/berriai/litellm:main-stable";
    p->service.port = 4000;
    p->service.cpu = 1024;
    p->service.memory = 2048;
    p->service.min_tasks = 2;
    p->service.desired_count = 2;
    p->service.max_tasks = 6;
    p->service.cpu_target = 70;
    p->service.memory_target = 75;
    p->service.fargate_spot = 0;
    p->service.health_path = (char *)"/health/liveliness";
    p->service.readiness_path = (char *)"/health/readiness";
    p->database.instance_class = (char *)"db.r6g.large";
    p->database.allocated_storage = 100;
    p->database.engine_version = (char *)"15.12";
    p->database.multi_az = 1;
    p->database.backup_retention = 7;
    p->database.deletion_protection = 1;
    p->database.name = (char *)"litellm";
    p->database.username = (char *)"litellm";
    p->database.restore_path = DR_DB_RESTORE_AUTO;
    p->database.native_snapshots = 1;
    p->cache.enabled = 1;
    p->cache.node_type = (char *)"cache.r6g.large";
    p->cache.replicas = 1;
    p->bucket.archive_after_days = 90;
    p->bucket.archive_storage_class = (char *)"GLACIER_IR";
    p->bucket.noncurrent_expire_days = 365;
    p->network.cidr = (char *)cidr;
    p->network.az_count = 3;
    p->network.nat = DR_NAT_PER_AZ;
    p->network.flow_logs = 1;
    p->edge.enabled = 1;
    p->edge.rate_limit = 2000;
    p->dr.strategy = DR_STRATEGY_PILOT_LIGHT;
    p->dr.rto_minutes = 60;
    p->dr.rpo_minutes = 60;
    p->retention.keep_last = 24;
    p->retention.daily = 7;
    p->retention.weekly = 4;
    p->retention.monthly = 12;
    p->retention.full_every = 24;
    p->encryption.mode = (char *)"kms";
    p->log_retention_days = 30;
}

static void fx_init(fixture *f, dr_strategy st, int edge)
{
    fill(&f->r[0], "us-east-1", DR_ROLE_PRIMARY, "10.10.0.0/16");
    fill(&f->r[1], "us-west-2", DR_ROLE_STANDBY, "10.20.0.0/16");
    for (int i = 0; i < 2; i++) {
        f->r[i].dr.strategy = st;
        f->r[i].edge.enabled = edge;
    }
    f->set.dir = (char *)"fixture";
    f->set.regions = f->r;
    f->set.n = 2;
    f->set.primary = &f->r[0];
}

#define PRIMARY(f) (&(f)->r[0])
#define STANDBY(f) (&(f)->r[1])

static void build(fixture *f, const dr_region_profile *p, dr_model_state st, dr_model *m)
{
    dr_err err;
    dr_err_clear(&err);
    dr_model_opts o = {st, DR_DB_AUTO, NULL};
    int rc = dr_model_build_regional_opts(&f->set, p, &o, m, &err);
    cr_assert_eq(rc, 0, "build %s: %s", p->region, err.msg);
}

static char *render(const dr_model *m)
{
    dr_err err;
    dr_err_clear(&err);
    json_t *t = NULL;
    cr_assert_eq(dr_synth_template(m, &t, &err), 0, "synth: %s", err.msg);
    char *s = json_dumps(t, JSON_INDENT(2));
    json_decref(t);
    return s;
}

static json_t *props(const dr_model *m, const char *id)
{
    const dr_resource *r = dr_model_find(m, id);
    cr_assert(r, "%s is missing from the %s model", id, m->region);
    return r->properties;
}

/* ---- subnets --------------------------------------------------------- */

TestSuite(subnets);

Test(subnets, slash16_three_azs)
{
    dr_subnet_layout l;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_subnets_carve("us-east-1", "10.10.0.0/16", 3, &l, &err), 0, "%s", err.msg);
    const char *priv[] = {"10.10.0.0/19", "10.10.32.0/19", "10.10.64.0/19"};
    const char *pub[] = {"10.10.128.0/20", "10.10.144.0/20", "10.10.160.0/20"};
    const char *db[] = {"10.10.192.0/20", "10.10.208.0/20", "10.10.224.0/20"};
    const char *az[] = {"us-east-1a", "us-east-1b", "us-east-1c"};
    cr_assert_eq(l.az_count, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(l.private_cidr[i], priv[i]);
        cr_assert_str_eq(l.public_cidr[i], pub[i]);
        cr_assert_str_eq(l.database_cidr[i], db[i]);
        cr_assert_str_eq(l.az[i], az[i]);
    }
}

Test(subnets, slash24_two_azs_fits)
{
    dr_subnet_layout l;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_subnets_carve("us-west-2", "192.168.5.0/24", 2, &l, &err), 0, "%s", err.msg);
    cr_assert_str_eq(l.private_cidr[0], "192.168.5.0/26");
    cr_assert_str_eq(l.private_cidr[1], "192.168.5.64/26");
    cr_assert_str_eq(l.public_cidr[0], "192.168.5.128/27");
    cr_assert_str_eq(l.public_cidr[1], "192.168.5.160/27");
    cr_assert_str_eq(l.database_cidr[0], "192.168.5.192/27");
    cr_assert_str_eq(l.database_cidr[1], "192.168.5.224/27");
    cr_assert_str_eq(l.az[1], "us-west-2b");
}

Test(subnets, slash24_three_azs_refused)
{
    dr_subnet_layout l;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_subnets_carve("us-east-1", "10.0.0.0/24", 3, &l, &err), -1);
    cr_assert_eq(err.code, DR_E_CONFIG);
    cr_assert(strstr(err.msg, "10.0.0.0/24 is too small for 3 AZs"), "%s", err.msg);
    cr_assert(strstr(err.msg, "/28"), "%s", err.msg);
    cr_assert(strstr(err.hint, "/23 or larger"), "%s", err.hint);
}

Test(subnets, bad_input)
{
    static const struct {
        const char *cidr;
        int azs;
        const char *msg;
    } cases[] = {
        {"10.10.0.1/16", 2, "host bits set"},     {"10.0.0.0/15", 2, "must be /16 to /24"},
        {"10.0.0.0/25", 2, "must be /16 to /24"}, {"10.0.0.0", 2, "not an IPv4 CIDR"},
        {"ten/16", 2, "not an IPv4 CIDR"},        {"10.0.0.0/16x", 2, "not an IPv4 CIDR"},
        {"10.0.0.0/16", 1, "must be 2 to 6"},     {"10.0.0.0/16", 7, "must be 2 to 6"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dr_subnet_layout l;
        dr_err err;
        dr_err_clear(&err);
        cr_assert_eq(dr_subnets_carve("us-east-1", cases[i].cidr, cases[i].azs, &l, &err), -1,
                     "%s accepted", cases[i].cidr);
        cr_assert_eq(err.code, DR_E_CONFIG);
        cr_assert(strstr(err.msg, cases[i].msg), "%s: %s", cases[i].cidr, err.msg);
    }
    dr_err err;
    dr_err_clear(&err);
    dr_subnet_layout l;
    dr_subnets_carve("us-east-1", "10.10.0.1/16", 2, &l, &err);
    cr_assert(strstr(err.hint, "10.10.0.0/16"), "host bits: hint %s", err.hint);
}

static void range(const char *cidr, uint32_t *lo, uint32_t *hi, int *prefix)
{
    char ip[20];
    snprintf(ip, sizeof(ip), "%.*s", (int)strcspn(cidr, "/"), cidr);
    struct in_addr a;
    cr_assert_eq(inet_pton(AF_INET, ip, &a), 1, "%s", cidr);
    *prefix = atoi(strchr(cidr, '/') + 1);
    *lo = ntohl(a.s_addr);
    *hi = *lo + (uint32_t)((1ull << (32 - *prefix)) - 1);
}

/* Every prefix and AZ count: refused exactly when the public subnets would
 * be smaller than /27; otherwise every subnet is aligned, inside the VPC,
 * and disjoint from every other. */
Test(subnets, sweep_inside_and_disjoint)
{
    for (int prefix = 16; prefix <= 24; prefix++) {
        for (int azs = 2; azs <= 6; azs++) {
            char cidr[24];
            snprintf(cidr, sizeof(cidr), "172.16.0.0/%d", prefix);
            dr_subnet_layout l;
            dr_err err;
            dr_err_clear(&err);
            int rc = dr_subnets_carve("eu-west-1", cidr, azs, &l, &err);
            int slots = azs <= 2 ? 1 : azs <= 4 ? 2 : 3;
            int fits = prefix + 2 + slots <= 27;
            cr_assert_eq(rc, fits ? 0 : -1, "%s with %d AZs: rc %d (%s)", cidr, azs, rc, err.msg);
            if (!fits)
                continue;
            uint32_t vlo, vhi;
            int vp;
            range(cidr, &vlo, &vhi, &vp);
            uint32_t lo[18], hi[18];
            int k = 0;
            for (int i = 0; i < azs; i++) {
                const char *all[3] = {l.public_cidr[i], l.private_cidr[i], l.database_cidr[i]};
                for (int t = 0; t < 3; t++, k++) {
                    int p;
                    range(all[t], &lo[k], &hi[k], &p);
                    cr_assert(p <= 28, "%s: subnet %s below /28", cidr, all[t]);
                    cr_assert(t != 0 || p <= 27, "%s: public %s below /27", cidr, all[t]);
                    cr_assert_eq(lo[k] & ((1ull << (32 - p)) - 1), 0, "%s misaligned", all[t]);
                    cr_assert(lo[k] >= vlo && hi[k] <= vhi, "%s outside %s", all[t], cidr);
                }
            }
            for (int a = 0; a < k; a++)
                for (int b = a + 1; b < k; b++)
                    cr_assert(hi[a] < lo[b] || hi[b] < lo[a], "%s %d AZs: subnets overlap", cidr,
                              azs);
        }
    }
}

Test(subnets, model_refuses_a_network_that_does_not_fit)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_PILOT_LIGHT, 1);
    PRIMARY(&f)->network.cidr = (char *)"10.10.0.0/24";
    dr_model m;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_model_build_regional(&f.set, PRIMARY(&f), &m, &err), -1);
    cr_assert_eq(err.code, DR_E_CONFIG);
    cr_assert(strstr(err.msg, "fixture.yaml: network.cidr 10.10.0.0/24 is too small"), "%s",
              err.msg);
    cr_assert_eq(m.n, 0);
}

/* ---- which resources, of which type ---------------------------------- */

/* Every logical id a regional model may hold, with its type. Numbered ids
 * (PublicSubnet1...) are listed by prefix. A model resource that is not in
 * this table fails the test: the table is the inventory of the design. */
static const struct {
    const char *id;
    const char *type;
} inventory[] = {
    {"Key", "AWS::KMS::Key"},
    {"KeyAlias", "AWS::KMS::Alias"},
    {"Vpc", "AWS::EC2::VPC"},
    {"InternetGateway", "AWS::EC2::InternetGateway"},
    {"InternetGatewayAttachment", "AWS::EC2::VPCGatewayAttachment"},
    {"PublicRouteTable", "AWS::EC2::RouteTable"},
    {"PublicDefaultRoute", "AWS::EC2::Route"},
    {"PublicSubnet#", "AWS::EC2::Subnet"},
    {"PublicSubnet#RouteTableAssociation", "AWS::EC2::SubnetRouteTableAssociation"},
    {"NatEip#", "AWS::EC2::EIP"},
    {"NatGateway#", "AWS::EC2::NatGateway"},
    {"PrivateRouteTable#", "AWS::EC2::RouteTable"},
    {"PrivateDefaultRoute#", "AWS::EC2::Route"},
    {"PrivateSubnet#", "AWS::EC2::Subnet"},
    {"PrivateSubnet#RouteTableAssociation", "AWS::EC2::SubnetRouteTableAssociation"},
    {"DatabaseRouteTable", "AWS::EC2::RouteTable"},
    {"DatabaseSubnet#", "AWS::EC2::Subnet"},
    {"DatabaseSubnet#RouteTableAssociation", "AWS::EC2::SubnetRouteTableAssociation"},
    {"S3GatewayEndpoint", "AWS::EC2::VPCEndpoint"},
    {"EcrApiEndpoint", "AWS::EC2::VPCEndpoint"},
    {"EcrDkrEndpoint", "AWS::EC2::VPCEndpoint"},
    {"LogsEndpoint", "AWS::EC2::VPCEndpoint"},
    {"SecretsManagerEndpoint", "AWS::EC2::VPCEndpoint"},
    {"KmsEndpoint", "AWS::EC2::VPCEndpoint"},
    {"FlowLogGroup", "AWS::Logs::LogGroup"},
    {"FlowLogRole", "AWS::IAM::Role"},
    {"FlowLog", "AWS::EC2::FlowLog"},
    {"ServiceLogGroup", "AWS::Logs::LogGroup"},
    {"AlbSecurityGroup", "AWS::EC2::SecurityGroup"},
    {"TaskSecurityGroup", "AWS::EC2::SecurityGroup"},
    {"AlbToTasksEgress", "AWS::EC2::SecurityGroupEgress"},
    {"DbSecurityGroup", "AWS::EC2::SecurityGroup"},
    {"CacheSecurityGroup", "AWS::EC2::SecurityGroup"},
    {"EndpointSecurityGroup", "AWS::EC2::SecurityGroup"},
    {"DbSecret", "AWS::SecretsManager::Secret"},
    {"MasterKeySecret", "AWS::SecretsManager::Secret"},
    {"SaltKeySecret", "AWS::SecretsManager::Secret"},
    {"ProviderKeysSecret", "AWS::SecretsManager::Secret"},
    {"CacheAuthSecret", "AWS::SecretsManager::Secret"},
    {"ExecutionRole", "AWS::IAM::Role"},
    {"TaskRole", "AWS::IAM::Role"},
    {"Certificate", "AWS::CertificateManager::Certificate"},
    {"DbSubnetGroup", "AWS::RDS::DBSubnetGroup"},
    {"CacheSubnetGroup", "AWS::ElastiCache::SubnetGroup"},
    {"Db", "AWS::RDS::DBInstance"},
    {"Cache", "AWS::ElastiCache::ReplicationGroup"},
    {"ReplicationRole", "AWS::IAM::Role"},
    {"Bucket", "AWS::S3::Bucket"},
    {"BucketPolicy", "AWS::S3::BucketPolicy"},
    {"VaultBucket", "AWS::S3::Bucket"},
    {"VaultBucketPolicy", "AWS::S3::BucketPolicy"},
    {"Cluster", "AWS::ECS::Cluster"},
    {"TaskDefinition", "AWS::ECS::TaskDefinition"},
    {"Alb", "AWS::ElasticLoadBalancingV2::LoadBalancer"},
    {"TargetGroup", "AWS::ElasticLoadBalancingV2::TargetGroup"},
    {"HttpsListener", "AWS::ElasticLoadBalancingV2::Listener"},
    {"HttpListener", "AWS::ElasticLoadBalancingV2::Listener"},
    {"Service", "AWS::ECS::Service"},
    {"ScalableTarget", "AWS::ApplicationAutoScaling::ScalableTarget"},
    {"CpuScalingPolicy", "AWS::ApplicationAutoScaling::ScalingPolicy"},
    {"MemoryScalingPolicy", "AWS::ApplicationAutoScaling::ScalingPolicy"},
    {"ServiceCpuAlarm", "AWS::CloudWatch::Alarm"},
    {"ServiceMemoryAlarm", "AWS::CloudWatch::Alarm"},
    {"Alb5xxAlarm", "AWS::CloudWatch::Alarm"},
    {"UnhealthyHostsAlarm", "AWS::CloudWatch::Alarm"},
    {"DbCpuAlarm", "AWS::CloudWatch::Alarm"},
    {"DbFreeStorageAlarm", "AWS::CloudWatch::Alarm"},
    {"DbConnectionsAlarm", "AWS::CloudWatch::Alarm"},
    {"CacheCpuAlarm", "AWS::CloudWatch::Alarm"},
    {"CacheMemoryAlarm", "AWS::CloudWatch::Alarm"},
    {"Dashboard", "AWS::CloudWatch::Dashboard"},
    /* global */
    {"WebAcl", "AWS::WAFv2::WebACL"},
    {"Distribution", "AWS::CloudFront::Distribution"},
    {"PrimaryHealthCheck", "AWS::Route53::HealthCheck"},
    {"StandbyHealthCheck", "AWS::Route53::HealthCheck"},
    {"PrimaryRecord", "AWS::Route53::RecordSet"},
    {"StandbyRecord", "AWS::Route53::RecordSet"},
};

/* "PublicSubnet2RouteTableAssociation" matches "PublicSubnet#RouteTableAssociation". */
static int id_matches(const char *pattern, const char *id)
{
    const char *hash = strchr(pattern, '#');
    if (!hash)
        return strcmp(pattern, id) == 0;
    size_t pre = (size_t)(hash - pattern);
    if (strncmp(pattern, id, pre) != 0)
        return 0;
    const char *p = id + pre;
    if (*p < '1' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    return strcmp(p, hash + 1) == 0;
}

static void check_inventory(const dr_model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        const dr_resource *r = &m->resources[i];
        const char *type = NULL;
        for (size_t k = 0; k < sizeof(inventory) / sizeof(inventory[0]) && !type; k++)
            if (id_matches(inventory[k].id, r->logical_id))
                type = inventory[k].type;
        cr_assert(type, "%s: %s (%s) is not in the inventory", m->region, r->logical_id, r->type);
        cr_assert_str_eq(r->type, type, "%s: %s", m->region, r->logical_id);
    }
}

/* The parts of the design, as logical ids: a model either has all of a
 * part or none of it. */
static const char *const part_key[] = {"Key", "KeyAlias", NULL};
static const char *const part_vault[] = {"VaultBucket", "VaultBucketPolicy", NULL};
static const char *const part_network[] = {"Vpc",
                                           "InternetGateway",
                                           "InternetGatewayAttachment",
                                           "PublicRouteTable",
                                           "PublicDefaultRoute",
                                           "PublicSubnet1",
                                           "PublicSubnet3",
                                           "PublicSubnet1RouteTableAssociation",
                                           "NatEip1",
                                           "NatGateway1",
                                           "NatGateway3",
                                           "PrivateRouteTable1",
                                           "PrivateRouteTable3",
                                           "PrivateDefaultRoute2",
                                           "PrivateSubnet1",
                                           "PrivateSubnet3",
                                           "PrivateSubnet2RouteTableAssociation",
                                           "DatabaseRouteTable",
                                           "DatabaseSubnet1",
                                           "DatabaseSubnet3",
                                           "DatabaseSubnet3RouteTableAssociation",
                                           "S3GatewayEndpoint",
                                           "EcrApiEndpoint",
                                           "EcrDkrEndpoint",
                                           "LogsEndpoint",
                                           "SecretsManagerEndpoint",
                                           "KmsEndpoint",
                                           "FlowLogGroup",
                                           "FlowLogRole",
                                           "FlowLog",
                                           "DbSubnetGroup",
                                           "CacheSubnetGroup",
                                           NULL};
static const char *const part_security[] = {
    "AlbSecurityGroup",   "TaskSecurityGroup",  "AlbToTasksEgress",
    "DbSecurityGroup",    "CacheSecurityGroup", "EndpointSecurityGroup",
    "DbSecret",           "MasterKeySecret",    "SaltKeySecret",
    "ProviderKeysSecret", "CacheAuthSecret",    "ExecutionRole",
    "TaskRole",           "Certificate",        NULL};
static const char *const part_compute[] = {"ServiceLogGroup", "Cluster",
                                           "TaskDefinition",  "Alb",
                                           "TargetGroup",     "HttpsListener",
                                           "HttpListener",    "Service",
                                           "ServiceCpuAlarm", "ServiceMemoryAlarm",
                                           "Alb5xxAlarm",     "UnhealthyHostsAlarm",
                                           "Dashboard",       NULL};
static const char *const part_scaling[] = {"ScalableTarget", "CpuScalingPolicy",
                                           "MemoryScalingPolicy", NULL};
static const char *const part_db[] = {"Db", "DbCpuAlarm", "DbFreeStorageAlarm",
                                      "DbConnectionsAlarm", NULL};
static const char *const part_cache[] = {"Cache", "CacheCpuAlarm", "CacheMemoryAlarm", NULL};
static const char *const part_bucket[] = {"Bucket", "BucketPolicy", NULL};
static const char *const part_replicate[] = {"ReplicationRole", NULL};

static void expect_part(const dr_model *m, const char *const *ids, int present, const char *what)
{
    for (const char *const *id = ids; *id; id++) {
        int has = dr_model_find(m, *id) != NULL;
        cr_assert_eq(has, present, "%s (%s): %s should be %s", m->region, what, *id,
                     present ? "present" : "absent");
    }
}

enum { K = 1, V = 2, N = 4, S = 8, C = 16, SC = 32, D = 64, CA = 128, B = 256, R = 512 };

static void expect_parts(const dr_model *m, unsigned parts, const char *what)
{
    expect_part(m, part_key, !!(parts & K), what);
    expect_part(m, part_vault, !!(parts & V), what);
    expect_part(m, part_network, !!(parts & N), what);
    expect_part(m, part_security, !!(parts & S), what);
    expect_part(m, part_compute, !!(parts & C), what);
    expect_part(m, part_scaling, !!(parts & SC), what);
    expect_part(m, part_db, !!(parts & D), what);
    expect_part(m, part_cache, !!(parts & CA), what);
    expect_part(m, part_bucket, !!(parts & B), what);
    expect_part(m, part_replicate, !!(parts & R), what);
    check_inventory(m);
}

TestSuite(model);

Test(model, parts_per_role_strategy_and_state)
{
    const unsigned full = K | N | S | C | SC | D | CA | B;
    static const struct {
        dr_strategy strategy;
        dr_role role;
        dr_model_state state;
        unsigned parts;
    } cases[] = {
        {DR_STRATEGY_BACKUP_RESTORE, DR_ROLE_PRIMARY, DR_MODEL_AUTO, 0},
        {DR_STRATEGY_BACKUP_RESTORE, DR_ROLE_STANDBY, DR_MODEL_AUTO, K | V},
        {DR_STRATEGY_BACKUP_RESTORE, DR_ROLE_STANDBY, DR_MODEL_ACTIVE, 0},
        {DR_STRATEGY_PILOT_LIGHT, DR_ROLE_PRIMARY, DR_MODEL_AUTO, 0},
        {DR_STRATEGY_PILOT_LIGHT, DR_ROLE_STANDBY, DR_MODEL_RESTING, K | V | N | S | C | B},
        {DR_STRATEGY_PILOT_LIGHT, DR_ROLE_STANDBY, DR_MODEL_ACTIVE, 0},
        {DR_STRATEGY_WARM_STANDBY, DR_ROLE_PRIMARY, DR_MODEL_ACTIVE, 0},
        {DR_STRATEGY_WARM_STANDBY, DR_ROLE_STANDBY, DR_MODEL_AUTO, 0},
        {DR_STRATEGY_WARM_STANDBY, DR_ROLE_STANDBY, DR_MODEL_ACTIVE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fixture f;
        fx_init(&f, cases[i].strategy, 1);
        const dr_region_profile *p = cases[i].role == DR_ROLE_PRIMARY ? PRIMARY(&f) : STANDBY(&f);
        unsigned parts = cases[i].parts;
        if (!parts) { /* the full stack, with its role's extras */
            parts = full;
            if (cases[i].role == DR_ROLE_STANDBY)
                parts |= V;
            else if (cases[i].strategy == DR_STRATEGY_WARM_STANDBY)
                parts |= R;
        }
        char what[128];
        snprintf(what, sizeof(what), "%s %s %s", dr_strategy_name(cases[i].strategy),
                 cases[i].role == DR_ROLE_PRIMARY ? "primary" : "standby",
                 dr_model_state_name(cases[i].state));
        dr_model m;
        build(&f, p, cases[i].state, &m);
        expect_parts(&m, parts, what);
        dr_model_free(&m);
    }
}

Test(model, cache_off_and_single_nat_and_no_flow_logs)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_WARM_STANDBY, 0);
    PRIMARY(&f)->cache.enabled = 0;
    PRIMARY(&f)->network.nat = DR_NAT_SINGLE;
    PRIMARY(&f)->network.flow_logs = 0;
    dr_model m;
    build(&f, PRIMARY(&f), DR_MODEL_AUTO, &m);
    const char *absent[] = {"Cache",           "CacheSubnetGroup", "CacheSecurityGroup",
                            "CacheAuthSecret", "CacheCpuAlarm",    "NatGateway2",
                            "NatEip2",         "FlowLog",          "FlowLogGroup",
                            "FlowLogRole"};
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        cr_assert_null(dr_model_find(&m, absent[i]), "%s present", absent[i]);
    for (int i = 1; i <= 3; i++) {
        char id[32];
        snprintf(id, sizeof(id), "PrivateDefaultRoute%d", i);
        json_t *want = json_pack("{s:s}", "Ref", "NatGateway1");
        cr_assert(json_equal(json_object_get(props(&m, id), "NatGatewayId"), want));
        json_decref(want);
    }
    /* No REDIS_* in the container without a cache. */
    char *s = render(&m);
    cr_assert_null(strstr(s, "REDIS_"), "REDIS_ wiring without a cache");
    free(s);
    dr_model_free(&m);
}

Test(model, per_az_nat_routes_to_own_az)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_PILOT_LIGHT, 1);
    dr_model m;
    build(&f, PRIMARY(&f), DR_MODEL_AUTO, &m);
    for (int i = 1; i <= 3; i++) {
        char id[32], gw[32], sn[32];
        snprintf(id, sizeof(id), "PrivateDefaultRoute%d", i);
        snprintf(gw, sizeof(gw), "NatGateway%d", i);
        snprintf(sn, sizeof(sn), "PublicSubnet%d", i);
        json_t *want = json_pack("{s:s}", "Ref", gw);
        cr_assert(json_equal(json_object_get(props(&m, id), "NatGatewayId"), want));
        json_decref(want);
        want = json_pack("{s:s}", "Ref", sn);
        cr_assert(json_equal(json_object_get(props(&m, gw), "SubnetId"), want));
        json_decref(want);
    }
    cr_assert_str_eq(json_string_value(json_object_get(props(&m, "PrivateSubnet2"), "CidrBlock")),
                     "10.10.32.0/19");
    cr_assert_str_eq(
        json_string_value(json_object_get(props(&m, "DatabaseSubnet3"), "AvailabilityZone")),
        "us-east-1c");
    dr_model_free(&m);
}

Test(model, primary_cannot_rest)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_PILOT_LIGHT, 1);
    dr_model m;
    dr_err err;
    dr_err_clear(&err);
    dr_model_opts o = {DR_MODEL_RESTING, DR_DB_AUTO, NULL};
    cr_assert_eq(dr_model_build_regional_opts(&f.set, PRIMARY(&f), &o, &m, &err), -1);
    cr_assert_eq(err.code, DR_E_CONFIG);
    cr_assert(strstr(err.msg, "us-east-1 is the primary region"), "%s", err.msg);
}

Test(model, strategy_must_match)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_PILOT_LIGHT, 1);
    STANDBY(&f)->dr.strategy = DR_STRATEGY_WARM_STANDBY;
    dr_model m;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_model_build_regional(&f.set, STANDBY(&f), &m, &err), -1);
    cr_assert(strstr(err.msg, "dr.strategy is pilot-light in us-east-1 but warm-standby in "
                              "us-west-2"),
              "%s", err.msg);
}

Test(model, pilot_light_rests_with_an_empty_service)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_PILOT_LIGHT, 1);
    dr_model m;
    build(&f, STANDBY(&f), DR_MODEL_AUTO, &m);
    cr_assert_eq(json_integer_value(json_object_get(props(&m, "Service"), "DesiredCount")), 0);
    dr_model_free(&m);
    build(&f, STANDBY(&f), DR_MODEL_ACTIVE, &m);
    cr_assert_eq(json_integer_value(json_object_get(props(&m, "Service"), "DesiredCount")), 2);
    json_t *st = props(&m, "ScalableTarget");
    cr_assert_eq(json_integer_value(json_object_get(st, "MinCapacity")), 2);
    cr_assert_eq(json_integer_value(json_object_get(st, "MaxCapacity")), 6);
    dr_model_free(&m);
}

/* ---- tags, dependencies, order --------------------------------------- */

static void check_tags(const dr_model *m)
{
    size_t tagged = 0;
    for (size_t i = 0; i < m->n; i++) {
        const dr_resource *r = &m->resources[i];
        const char *prop = dr_model_tags_property(r->type);
        json_t *tags = json_object_get(r->properties, prop ? prop : "Tags");
        if (!prop) {
            cr_assert_null(tags, "%s (%s) is not taggable but has Tags", r->logical_id, r->type);
            continue;
        }
        tagged++;
        cr_assert(json_is_array(tags), "%s (%s) has no %s", r->logical_id, r->type, prop);
        int stack = 0, id = 0, name = 0;
        size_t k;
        json_t *t;
        json_array_foreach(tags, k, t)
        {
            const char *key = json_string_value(json_object_get(t, "Key"));
            const char *val = json_string_value(json_object_get(t, "Value"));
            cr_assert(key && val, "%s: tag without Key/Value", r->logical_id);
            if (strcmp(key, "drctl:stack") == 0)
                stack = strcmp(val, m->stack) == 0;
            else if (strcmp(key, "drctl:logical-id") == 0)
                id = strcmp(val, r->logical_id) == 0;
            else if (strcmp(key, "Name") == 0)
                name = strlen(val) > 0;
        }
        cr_assert(stack && id && name, "%s: tags %d %d %d", r->logical_id, stack, id, name);
    }
    cr_assert_gt(tagged, 0);
}

static void check_order(const dr_model *m)
{
    size_t *order = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_model_order(m, &order, &err), 0, "%s", err.msg);
    size_t *pos = calloc(m->n, sizeof(size_t));
    int *seen = calloc(m->n, sizeof(int));
    for (size_t k = 0; k < m->n; k++) {
        cr_assert_lt(order[k], m->n);
        cr_assert_not(seen[order[k]], "index %zu twice", order[k]);
        seen[order[k]] = 1;
        pos[order[k]] = k;
    }
    for (size_t i = 0; i < m->n; i++) {
        const dr_resource *r = &m->resources[i];
        for (size_t j = 0; j < r->ndepends; j++) {
            const dr_resource *d = dr_model_find(m, r->depends_on[j]);
            cr_assert(d, "%s depends on unknown %s", r->logical_id, r->depends_on[j]);
            cr_assert_lt(pos[d - m->resources], pos[i], "%s ordered before its dependency %s",
                         r->logical_id, d->logical_id);
            if (j)
                cr_assert_lt(strcmp(r->depends_on[j - 1], r->depends_on[j]), 0,
                             "%s: depends_on not sorted/unique", r->logical_id);
        }
    }
    free(pos);
    free(seen);
    free(order);
}

/* Every model we can build: the fixture in each strategy, edge on/off,
 * every region and state, plus the global model. */
static void for_every_model(void (*fn)(const dr_model *m, void *ud), void *ud)
{
    for (int st = 0; st < 3; st++) {
        for (int edge = 0; edge < 2; edge++) {
            fixture f;
            fx_init(&f, (dr_strategy)st, edge);
            dr_model m;
            build(&f, PRIMARY(&f), DR_MODEL_AUTO, &m);
            fn(&m, ud);
            dr_model_free(&m);
            build(&f, STANDBY(&f), DR_MODEL_RESTING, &m);
            fn(&m, ud);
            dr_model_free(&m);
            build(&f, STANDBY(&f), DR_MODEL_ACTIVE, &m);
            fn(&m, ud);
            dr_model_free(&m);
            if (edge) {
                dr_err err;
                dr_err_clear(&err);
                cr_assert_eq(dr_model_build_global(&f.set, &m, &err), 0, "%s", err.msg);
                fn(&m, ud);
                dr_model_free(&m);
                cr_assert_eq(dr_model_build_global_as(&f.set, DR_MODEL_ACTIVE, &m, &err), 0, "%s",
                             err.msg);
                fn(&m, ud);
                dr_model_free(&m);
            }
        }
    }
}

static void tags_and_order(const dr_model *m, void *ud)
{
    (void)ud;
    check_tags(m);
    check_order(m);
    check_inventory(m);
}

Test(model, tags_and_dependency_order_everywhere)
{
    for_every_model(tags_and_order, NULL);
}

Test(model, explicit_and_implied_dependencies)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_PILOT_LIGHT, 1);
    dr_model m;
    build(&f, PRIMARY(&f), DR_MODEL_AUTO, &m);
    const dr_resource *route = dr_model_find(&m, "PublicDefaultRoute");
    cr_assert_eq(route->ndepends, 3);
    cr_assert_str_eq(route->depends_on[0], "InternetGateway");
    cr_assert_str_eq(route->depends_on[1], "InternetGatewayAttachment");
    cr_assert_str_eq(route->depends_on[2], "PublicRouteTable");
    /* Fn::Sub references count: the dashboard names the ALB and the DB. */
    const dr_resource *dash = dr_model_find(&m, "Dashboard");
    int alb = 0, db = 0;
    for (size_t i = 0; i < dash->ndepends; i++) {
        alb |= strcmp(dash->depends_on[i], "Alb") == 0;
        db |= strcmp(dash->depends_on[i], "Db") == 0;
    }
    cr_assert(alb && db);
    /* The rendered template keeps only the explicit ones. */
    dr_err err;
    dr_err_clear(&err);
    json_t *t = NULL;
    cr_assert_eq(dr_synth_template(&m, &t, &err), 0);
    json_t *res = json_object_get(t, "Resources");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(res, "PublicDefaultRoute"), "DependsOn")),
        "InternetGatewayAttachment");
    json_t *svc_deps = json_object_get(json_object_get(res, "Service"), "DependsOn");
    cr_assert_eq(json_array_size(svc_deps), 2);
    cr_assert_null(json_object_get(json_object_get(res, "Dashboard"), "DependsOn"));
    json_decref(t);
    dr_model_free(&m);
}

static void model_of(dr_model *m, const char *const ids[], const char *const deps[][3], size_t n)
{
    memset(m, 0, sizeof(*m));
    m->stack = dr_xstrdup("s");
    m->region = dr_xstrdup("us-east-1");
    m->outputs = json_object();
    m->parameters = json_object();
    m->resources = dr_xcalloc(n, sizeof(dr_resource));
    m->n = n;
    for (size_t i = 0; i < n; i++) {
        dr_resource *r = &m->resources[i];
        r->logical_id = dr_xstrdup(ids[i]);
        r->type = dr_xstrdup("AWS::SQS::Queue");
        r->properties = json_object();
        for (size_t j = 0; j < 3 && deps[i][j]; j++) {
            r->depends_on = dr_xrealloc(r->depends_on, (r->ndepends + 1) * sizeof(char *));
            r->depends_on[r->ndepends++] = dr_xstrdup(deps[i][j]);
        }
    }
}

Test(model, order_is_stable)
{
    static const char *const ids[] = {"A", "B", "C", "D", "E"};
    static const char *const deps[][3] = {{"C"}, {NULL}, {NULL}, {"A", "B"}, {NULL}};
    dr_model m;
    model_of(&m, ids, deps, 5);
    size_t *order = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_model_order(&m, &order, &err), 0, "%s", err.msg);
    /* A waits for C; ties keep model order: B, C, A, D, E. */
    size_t want[] = {1, 2, 0, 3, 4};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(order[i], want[i], "position %zu: %zu", i, order[i]);
    free(order);
    dr_model_free(&m);
}

Test(model, cycle_is_named)
{
    static const char *const ids[] = {"Vpc", "A", "B", "C"};
    static const char *const deps[][3] = {{NULL}, {"B", "Vpc"}, {"C"}, {"A"}};
    dr_model m;
    model_of(&m, ids, deps, 4);
    size_t *order = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_model_order(&m, &order, &err), -1);
    cr_assert_null(order);
    cr_assert_eq(err.code, DR_E_INTERNAL);
    cr_assert(strstr(err.msg, "dependency cycle: A -> B -> C -> A"), "%s", err.msg);
    dr_model_free(&m);

    static const char *const self_ids[] = {"Self"};
    static const char *const self_deps[][3] = {{"Self"}};
    model_of(&m, self_ids, self_deps, 1);
    dr_err_clear(&err);
    cr_assert_eq(dr_model_order(&m, &order, &err), -1);
    cr_assert(strstr(err.msg, "Self -> Self"), "%s", err.msg);
    dr_model_free(&m);
}

/* ---- the database ---------------------------------------------------- */

Test(model, db_source_auto)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_BACKUP_RESTORE, 1);
    cr_assert_eq(dr_model_db_source(&f.set, PRIMARY(&f), DR_MODEL_AUTO), DR_DB_FRESH);
    cr_assert_eq(dr_model_db_source(&f.set, STANDBY(&f), DR_MODEL_AUTO), DR_DB_NONE);
    cr_assert_eq(dr_model_db_source(&f.set, STANDBY(&f), DR_MODEL_ACTIVE), DR_DB_SNAPSHOT);
    STANDBY(&f)->database.restore_path = DR_DB_RESTORE_LOGICAL;
    cr_assert_eq(dr_model_db_source(&f.set, STANDBY(&f), DR_MODEL_ACTIVE), DR_DB_FRESH);
    for (int i = 0; i < 2; i++)
        f.r[i].dr.strategy = DR_STRATEGY_WARM_STANDBY;
    cr_assert_eq(dr_model_db_source(&f.set, STANDBY(&f), DR_MODEL_RESTING), DR_DB_REPLICA);
    cr_assert_eq(dr_model_db_source(&f.set, STANDBY(&f), DR_MODEL_ACTIVE), DR_DB_PROMOTED);
}

Test(model, fresh_database_password_is_a_dynamic_reference)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_PILOT_LIGHT, 1);
    dr_model m;
    build(&f, PRIMARY(&f), DR_MODEL_AUTO, &m);
    json_t *db = props(&m, "Db");
    cr_assert_str_eq(json_string_value(json_object_get(db, "MasterUsername")), "litellm");
    cr_assert(json_is_false(json_object_get(db, "ManageMasterUserPassword")));
    json_t *want = json_pack("{s:s}", "Fn::Sub",
                             "{{resolve:secretsmanager:${DbSecret}:SecretString:password}}");
    cr_assert(json_equal(json_object_get(db, "MasterUserPassword"), want));
    json_decref(want);
    cr_assert(json_is_true(json_object_get(db, "StorageEncrypted")));
    cr_assert(json_is_true(json_object_get(db, "MultiAZ")));
    cr_assert(json_is_true(json_object_get(db, "DeletionProtection")));
    cr_assert_eq(json_integer_value(json_object_get(db, "BackupRetentionPeriod")), 7);
    cr_assert_str_eq(json_string_value(json_object_get(db, "Port")), "5432");
    cr_assert_null(json_object_get(db, "SourceDBInstanceIdentifier"));
    cr_assert_str_eq(dr_model_find(&m, "Db")->deletion_policy, "Snapshot");
    dr_model_free(&m);
}

Test(model, warm_standby_replica_and_its_parameter)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_WARM_STANDBY, 1);
    dr_model m;
    build(&f, STANDBY(&f), DR_MODEL_AUTO, &m);
    json_t *db = props(&m, "Db");
    json_t *want = json_pack("{s:[s, s]}", "drctl::Output", "us-east-1", "DbInstanceArn");
    cr_assert(json_equal(json_object_get(db, "SourceDBInstanceIdentifier"), want));
    json_decref(want);
    cr_assert_null(json_object_get(db, "MasterUsername"));
    cr_assert_null(json_object_get(db, "MasterUserPassword"));
    cr_assert_str_eq(json_string_value(json_object_get(db, "SourceRegion")), "us-east-1");

    dr_err err;
    dr_err_clear(&err);
    json_t *t = NULL;
    cr_assert_eq(dr_synth_template(&m, &t, &err), 0, "%s", err.msg);
    json_t *param = json_object_get(json_object_get(t, "Parameters"), "UsEast1DbInstanceArn");
    cr_assert(param);
    cr_assert_str_eq(json_string_value(json_object_get(param, "Type")), "String");
    cr_assert(strstr(json_string_value(json_object_get(param, "Description")),
                     "DbInstanceArn of the drctl stack litellm-prod in us-east-1"));
    json_t *rdb =
        json_object_get(json_object_get(json_object_get(t, "Resources"), "Db"), "Properties");
    want = json_pack("{s:s}", "Ref", "UsEast1DbInstanceArn");
    cr_assert(json_equal(json_object_get(rdb, "SourceDBInstanceIdentifier"), want));
    json_decref(want);
    char *s = json_dumps(t, 0);
    cr_assert_null(strstr(s, "drctl::Output"), "drctl::Output left in the template");
    free(s);
    json_decref(t);
    /* Tasks against a replica do not migrate the schema. */
    s = render(&m);
    cr_assert(strstr(s, "DISABLE_SCHEMA_UPDATE"));
    free(s);
    dr_model_free(&m);

    /* The primary replicates its bucket to the standby's. */
    build(&f, PRIMARY(&f), DR_MODEL_AUTO, &m);
    json_t *rep = json_object_get(props(&m, "Bucket"), "ReplicationConfiguration");
    cr_assert(rep);
    json_t *dest = json_object_get(json_array_get(json_object_get(rep, "Rules"), 0), "Destination");
    want = json_pack("{s:[s, s]}", "drctl::Output", "us-west-2", "BucketArn");
    cr_assert(json_equal(json_object_get(dest, "Bucket"), want));
    json_decref(want);
    dr_model_free(&m);
}

Test(model, standby_active_database_sources)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_PILOT_LIGHT, 1);
    dr_model m;
    build(&f, STANDBY(&f), DR_MODEL_ACTIVE, &m);
    json_t *db = props(&m, "Db");
    json_t *want = json_pack("{s:s}", "Ref", "DbSnapshotIdentifier");
    cr_assert(json_equal(json_object_get(db, "DBSnapshotIdentifier"), want));
    json_decref(want);
    cr_assert(json_object_get(m.parameters, "DbSnapshotIdentifier"));
    cr_assert_null(json_object_get(db, "MasterUserPassword"));
    dr_model_free(&m);

    dr_err err;
    dr_err_clear(&err);
    dr_model_opts o = {DR_MODEL_ACTIVE, DR_DB_SNAPSHOT, "arn:aws:rds:us-west-2:1:snapshot:x"};
    cr_assert_eq(dr_model_build_regional_opts(&f.set, STANDBY(&f), &o, &m, &err), 0);
    cr_assert_str_eq(json_string_value(json_object_get(props(&m, "Db"), "DBSnapshotIdentifier")),
                     "arn:aws:rds:us-west-2:1:snapshot:x");
    cr_assert_eq(json_object_size(m.parameters), 0);
    dr_model_free(&m);

    /* No database at rest in a pilot light: asking for one is an error. */
    o = (dr_model_opts){DR_MODEL_RESTING, DR_DB_FRESH, NULL};
    cr_assert_eq(dr_model_build_regional_opts(&f.set, STANDBY(&f), &o, &m, &err), -1);
    cr_assert_eq(err.code, DR_E_CONFIG);
    /* A primary's database is never a replica. */
    o = (dr_model_opts){DR_MODEL_AUTO, DR_DB_REPLICA, NULL};
    cr_assert_eq(dr_model_build_regional_opts(&f.set, PRIMARY(&f), &o, &m, &err), -1);
    cr_assert(strstr(err.msg, "cannot be a replica"), "%s", err.msg);

    for (int i = 0; i < 2; i++)
        f.r[i].dr.strategy = DR_STRATEGY_WARM_STANDBY;
    build(&f, STANDBY(&f), DR_MODEL_ACTIVE, &m);
    db = props(&m, "Db");
    cr_assert_null(json_object_get(db, "SourceDBInstanceIdentifier"));
    cr_assert_eq(json_integer_value(json_object_get(db, "BackupRetentionPeriod")), 7);
    char *s = render(&m);
    cr_assert_null(strstr(s, "DISABLE_SCHEMA_UPDATE"));
    free(s);
    dr_model_free(&m);
}

/* ---- the global edge ------------------------------------------------- */

TestSuite(edge);

static json_t *origin(json_t *origins, const char *id)
{
    size_t i;
    json_t *o;
    json_array_foreach(origins, i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "Id")), id) == 0)
            return o;
    }
    cr_assert_fail("no origin %s", id);
    return NULL;
}

Test(edge, global_model)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_PILOT_LIGHT, 1);
    dr_model m;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_model_build_global(&f.set, &m, &err), 0, "%s", err.msg);
    cr_assert(m.global);
    cr_assert_str_eq(m.region, "us-east-1");
    cr_assert_eq(m.n, 6);
    check_inventory(&m);

    json_t *acl = props(&m, "WebAcl");
    cr_assert_str_eq(json_string_value(json_object_get(acl, "Scope")), "CLOUDFRONT");
    json_t *rules = json_object_get(acl, "Rules");
    cr_assert_eq(json_array_size(rules), 4);
    cr_assert_eq(json_integer_value(json_object_get(
                     json_object_get(json_object_get(json_array_get(rules, 0), "Statement"),
                                     "RateBasedStatement"),
                     "Limit")),
                 2000);
    const char *groups[] = {"AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet",
                            "AWSManagedRulesKnownBadInputsRuleSet"};
    for (int i = 0; i < 3; i++) {
        json_t *g =
            json_object_get(json_object_get(json_array_get(rules, (size_t)i + 1), "Statement"),
                            "ManagedRuleGroupStatement");
        cr_assert_str_eq(json_string_value(json_object_get(g, "Name")), groups[i]);
    }

    json_t *dc = json_object_get(props(&m, "Distribution"), "DistributionConfig");
    json_t *og = json_array_get(json_object_get(json_object_get(dc, "OriginGroups"), "Items"), 0);
    json_t *codes = json_object_get(
        json_object_get(json_object_get(og, "FailoverCriteria"), "StatusCodes"), "Items");
    json_t *want = json_pack("[i, i, i, i]", 500, 502, 503, 504);
    cr_assert(json_equal(codes, want));
    json_decref(want);
    json_t *origins = json_object_get(dc, "Origins");
    cr_assert_eq(json_array_size(origins), 3);
    want = json_pack("{s:[s, s]}", "drctl::Output", "us-west-2", "AlbDnsName");
    cr_assert(json_equal(json_object_get(origin(origins, "standby-alb"), "DomainName"), want));
    json_decref(want);
    cr_assert_str_eq(
        json_string_value(json_object_get(origin(origins, "api-failover-dns"), "DomainName")),
        "llm.example.com");
    json_t *def = json_object_get(dc, "DefaultCacheBehavior");
    cr_assert_str_eq(json_string_value(json_object_get(def, "CachePolicyId")),
                     "4135ea2d-6df8-44a3-9df3-4b5a84be39ad");
    cr_assert_str_eq(json_string_value(json_object_get(def, "OriginRequestPolicyId")),
                     "b689b0a8-53d0-40ab-baf2-68738e2966ac");
    /* Origin groups carry only GET/HEAD/OPTIONS behaviours. */
    size_t i;
    json_t *cb;
    json_array_foreach(json_object_get(dc, "CacheBehaviors"), i, cb)
    {
        cr_assert_str_eq(json_string_value(json_object_get(cb, "TargetOriginId")), "alb-failover");
        cr_assert_eq(json_array_size(json_object_get(cb, "AllowedMethods")), 3);
    }

    json_t *rec = props(&m, "StandbyRecord");
    cr_assert_str_eq(json_string_value(json_object_get(rec, "Failover")), "SECONDARY");
    cr_assert_str_eq(json_string_value(json_object_get(rec, "HostedZoneName")), "example.com.");
    cr_assert_str_eq(json_string_value(json_object_get(rec, "Name")), "llm.example.com.");
    cr_assert_str_eq(json_string_value(json_object_get(rec, "SetIdentifier")),
                     "litellm-prod-us-west-2");
    want = json_pack("{s:[s, s]}", "drctl::Output", "us-west-2", "AlbHostedZoneId");
    cr_assert(
        json_equal(json_object_get(json_object_get(rec, "AliasTarget"), "HostedZoneId"), want));
    json_decref(want);
    json_t *hc = json_object_get(props(&m, "PrimaryHealthCheck"), "HealthCheckConfig");
    cr_assert_str_eq(json_string_value(json_object_get(hc, "ResourcePath")), "/health/readiness");
    cr_assert_str_eq(json_string_value(json_object_get(hc, "Type")), "HTTPS_STR_MATCH");

    json_t *t = NULL;
    cr_assert_eq(dr_synth_template(&m, &t, &err), 0, "%s", err.msg);
    json_t *params = json_object_get(t, "Parameters");
    const char *names[] = {"UsEast1AlbDnsName", "UsEast1AlbHostedZoneId", "UsWest2AlbDnsName",
                           "UsWest2AlbHostedZoneId"};
    cr_assert_eq(json_object_size(params), 4);
    for (int k = 0; k < 4; k++)
        cr_assert(json_object_get(params, names[k]), "parameter %s missing", names[k]);
    json_decref(t);
    dr_model_free(&m);
}

/* A resting backup-and-restore standby has no load balancer: the edge
 * fronts the primary alone until failover applies it with the standby. */
Test(edge, backup_and_restore_standby_joins_at_failover)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_BACKUP_RESTORE, 1);
    dr_model m;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_model_build_global(&f.set, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m.n, 4);
    cr_assert_null(dr_model_find(&m, "StandbyHealthCheck"));
    cr_assert_null(dr_model_find(&m, "StandbyRecord"));
    cr_assert(dr_model_find(&m, "PrimaryRecord"));
    json_t *dc = json_object_get(props(&m, "Distribution"), "DistributionConfig");
    cr_assert_null(json_object_get(dc, "OriginGroups"));
    cr_assert_eq(json_array_size(json_object_get(dc, "Origins")), 2);
    size_t i;
    json_t *cb;
    json_array_foreach(json_object_get(dc, "CacheBehaviors"), i, cb)
        cr_assert_str_eq(json_string_value(json_object_get(cb, "TargetOriginId")), "primary-alb");
    char *s = render(&m);
    cr_assert_null(strstr(s, "UsWest2"), "the standby is referred to at rest");
    free(s);
    dr_model_free(&m);

    cr_assert_eq(dr_model_build_global_as(&f.set, DR_MODEL_ACTIVE, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m.n, 6);
    cr_assert(dr_model_find(&m, "StandbyRecord"));
    dr_model_free(&m);

    /* Pilot light and warm standby have their ALB at rest. */
    for (int st = DR_STRATEGY_PILOT_LIGHT; st <= DR_STRATEGY_WARM_STANDBY; st++) {
        fx_init(&f, (dr_strategy)st, 1);
        cr_assert_eq(dr_model_build_global(&f.set, &m, &err), 0, "%s", err.msg);
        cr_assert_eq(m.n, 6);
        dr_model_free(&m);
    }
}

Test(edge, refused_when_off_or_without_one_standby)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_PILOT_LIGHT, 0);
    dr_model m;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_model_build_global(&f.set, &m, &err), -1);
    cr_assert_eq(err.code, DR_E_CONFIG);
    cr_assert(strstr(err.msg, "edge is off"), "%s", err.msg);

    fx_init(&f, DR_STRATEGY_PILOT_LIGHT, 1);
    f.set.n = 1; /* the primary alone */
    dr_err_clear(&err);
    cr_assert_eq(dr_model_build_global(&f.set, &m, &err), -1);
    cr_assert(strstr(err.msg, "one standby region; found 0"), "%s", err.msg);
}

/* ---- names ----------------------------------------------------------- */

TestSuite(names);

Test(names, rules_and_limits)
{
    char *s = dr_model_name("litellm-prod", "alb", 32);
    cr_assert_str_eq(s, "litellm-prod-alb");
    free(s);
    const char *longstack = "averyveryverylongstackname-abcd"; /* 31 characters */
    s = dr_model_name(longstack, "alb", 32);
    cr_assert_leq(strlen(s), 32, "%s", s);
    cr_assert(strncmp(s, "averyveryverylongstackname", 20) == 0, "%s", s);
    cr_assert(strstr(s, "-alb") && s[strlen(s) - 1] == 'b', "%s", s);
    char *s2 = dr_model_name("averyveryverylongstackname-abce", "alb", 32);
    cr_assert_str_neq(s, s2, "two long stacks must not share a name");
    free(s);
    free(s2);

    char *b1 = dr_model_bucket_name("litellm-prod", "data", "us-east-1");
    char *b2 = dr_model_bucket_name("litellm-prod", "data", "us-west-2");
    char *b3 = dr_model_bucket_name("litellm-prod", "data", "us-east-1");
    cr_assert_str_eq(b1, b3);
    cr_assert_str_neq(b1, b2);
    cr_assert(strncmp(b1, "litellm-prod-data-us-east-1-", 28) == 0, "%s", b1);
    cr_assert_eq(strlen(b1), 28 + 8);
    free(b1);
    free(b2);
    free(b3);
    b1 = dr_model_bucket_name(longstack, "vault", "ap-southeast-2");
    cr_assert_leq(strlen(b1), 63, "%s", b1);
    free(b1);

    s = dr_model_output_param("us-west-2", "AlbDnsName");
    cr_assert_str_eq(s, "UsWest2AlbDnsName");
    free(s);
}

Test(names, physical_names_in_the_model)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_PILOT_LIGHT, 1);
    dr_model m;
    build(&f, STANDBY(&f), DR_MODEL_ACTIVE, &m);
    cr_assert_str_eq(json_string_value(json_object_get(props(&m, "Db"), "DBInstanceIdentifier")),
                     "litellm-prod-db");
    cr_assert_str_eq(json_string_value(json_object_get(props(&m, "ExecutionRole"), "RoleName")),
                     "litellm-prod-us-west-2-task-exec");
    char *vault = dr_model_bucket_name("litellm-prod", "vault", "us-west-2");
    cr_assert_str_eq(json_string_value(json_object_get(props(&m, "VaultBucket"), "BucketName")),
                     vault);
    free(vault);
    cr_assert_str_eq(json_string_value(json_object_get(props(&m, "DbSecret"), "Name")),
                     "litellm-prod/database");
    dr_model_free(&m);
}

Test(names, bad_stack_names)
{
    const char *bad[] = {"ab",       "Litellm",  "lite--llm",
                         "litellm-", "1litellm", "averyveryverylongstackname-abcde"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fixture f;
        fx_init(&f, DR_STRATEGY_PILOT_LIGHT, 1);
        for (int k = 0; k < 2; k++)
            f.r[k].stack = (char *)bad[i];
        dr_model m;
        dr_err err;
        dr_err_clear(&err);
        cr_assert_eq(dr_model_build_regional(&f.set, PRIMARY(&f), &m, &err), -1, "%s", bad[i]);
        cr_assert_eq(err.code, DR_E_CONFIG);
        cr_assert(strstr(err.msg, "cannot name AWS resources"), "%s", err.msg);
    }
}

/* ---- rendered templates: secrets and determinism --------------------- */

TestSuite(synth);

/* No key of the template may carry a secret value; the only places a
 * password or token appears are Secrets Manager dynamic references. */
static void no_secret_values(json_t *v, const char *where)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) no_secret_values(x, where);
        return;
    }
    if (!json_is_object(v))
        return;
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        cr_assert(strcmp(k, "SecretString") != 0 && strcmp(k, "GenerateSecretString") != 0 &&
                      strcmp(k, "SecretBinary") != 0,
                  "%s: %s present", where, k);
        if (strcmp(k, "MasterUserPassword") == 0 || strcmp(k, "AuthToken") == 0) {
            char *s = json_dumps(x, JSON_ENCODE_ANY);
            cr_assert(strstr(s, "{{resolve:secretsmanager:"), "%s: %s is not a dynamic reference",
                      where, k);
            free(s);
        }
        if (strcmp(k, "Environment") == 0) {
            /* Environment variables are plain text: no secret goes there. */
            char *s = json_dumps(x, 0);
            cr_assert_null(strstr(s, "PASSWORD"), "%s: a password in Environment", where);
            cr_assert_null(strstr(s, "MASTER_KEY"), "%s: master key in Environment", where);
            cr_assert_null(strstr(s, "SALT_KEY"), "%s: salt key in Environment", where);
            cr_assert_null(strstr(s, "DATABASE_URL"), "%s: DATABASE_URL in Environment", where);
            free(s);
        }
        no_secret_values(x, where);
    }
}

static void secrets_check(const dr_model *m, void *ud)
{
    (void)ud;
    dr_err err;
    dr_err_clear(&err);
    json_t *t = NULL;
    cr_assert_eq(dr_synth_template(m, &t, &err), 0, "%s", err.msg);
    no_secret_values(t, m->description);
    json_decref(t);
}

Test(synth, no_secret_values_anywhere)
{
    for_every_model(secrets_check, NULL);
}

Test(synth, secrets_are_injected_by_arn)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_PILOT_LIGHT, 1);
    dr_model m;
    build(&f, PRIMARY(&f), DR_MODEL_AUTO, &m);
    json_t *c =
        json_array_get(json_object_get(props(&m, "TaskDefinition"), "ContainerDefinitions"), 0);
    json_t *secrets = json_object_get(c, "Secrets");
    const char *names[] = {"DATABASE_URL", "LITELLM_MASTER_KEY", "LITELLM_SALT_KEY",
                           "REDIS_PASSWORD"};
    cr_assert_eq(json_array_size(secrets), 4);
    for (size_t i = 0; i < 4; i++)
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(secrets, i), "Name")),
                         names[i]);
    json_t *want = json_pack("{s:s}", "Fn::Sub", "${DbSecret}:url::");
    cr_assert(json_equal(json_object_get(json_array_get(secrets, 0), "ValueFrom"), want));
    json_decref(want);
    /* REDIS_HOST is the replication group's endpoint. */
    char *s = json_dumps(json_object_get(c, "Environment"), 0);
    cr_assert(strstr(s, "\"REDIS_HOST\", \"Value\": {\"Fn::GetAtt\": [\"Cache\", "
                        "\"PrimaryEndPoint.Address\"]}"),
              "%s", s);
    free(s);
    dr_model_free(&m);
}

static char *render_fresh(dr_strategy st, int edge, int which, dr_model_state state)
{
    fixture f;
    fx_init(&f, st, edge);
    dr_model m;
    if (which == 2) {
        dr_err err;
        dr_err_clear(&err);
        cr_assert_eq(dr_model_build_global(&f.set, &m, &err), 0);
    } else {
        build(&f, &f.r[which], state, &m);
    }
    char *s = render(&m);
    dr_model_free(&m);
    return s;
}

Test(synth, deterministic)
{
    for (int st = 0; st < 3; st++) {
        for (int which = 0; which < 3; which++) {
            dr_model_state state = which == 1 ? DR_MODEL_ACTIVE : DR_MODEL_AUTO;
            char *a = render_fresh((dr_strategy)st, 1, which, state);
            char *b = render_fresh((dr_strategy)st, 1, which, state);
            cr_assert_str_eq(a, b, "strategy %d model %d renders differently", st, which);
            free(a);
            free(b);
        }
    }
}

Test(synth, template_shape)
{
    fixture f;
    fx_init(&f, DR_STRATEGY_PILOT_LIGHT, 1);
    dr_model m;
    build(&f, PRIMARY(&f), DR_MODEL_AUTO, &m);
    dr_err err;
    dr_err_clear(&err);
    json_t *t = NULL;
    cr_assert_eq(dr_synth_template(&m, &t, &err), 0);
    cr_assert_str_eq(json_string_value(json_object_get(t, "AWSTemplateFormatVersion")),
                     "2010-09-09");
    cr_assert_null(json_object_get(t, "Parameters"), "a pilot-light primary needs no input");
    json_t *res = json_object_get(t, "Resources");
    cr_assert_eq(json_object_size(res), m.n);
    /* Resources in model order. */
    const char *first = NULL;
    void *it = json_object_iter(res);
    first = json_object_iter_key(it);
    cr_assert_str_eq(first, m.resources[0].logical_id);
    json_t *bucket = json_object_get(res, "Bucket");
    cr_assert_str_eq(json_string_value(json_object_get(bucket, "DeletionPolicy")), "Retain");
    cr_assert_str_eq(json_string_value(json_object_get(bucket, "UpdateReplacePolicy")), "Retain");
    json_t *outputs = json_object_get(t, "Outputs");
    const char *want[] = {
        "AlbDnsName",  "AlbHostedZoneId", "AlbArn",        "TargetGroupArn",   "ClusterName",
        "ServiceName", "DbEndpoint",      "DbInstanceArn", "CacheEndpoint",    "BucketName",
        "KmsKeyArn",   "VpcId",           "DbSecretArn",   "SaltKeySecretArn", "MasterKeySecretArn",
        "LogGroupName"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_assert(json_object_get(outputs, want[i]), "output %s missing", want[i]);
    cr_assert_null(json_object_get(outputs, "VaultBucketName"));
    json_decref(t);
    dr_model_free(&m);
}

/* ---- the shipped profiles -------------------------------------------- */

static void render_shipped(const char *sub)
{
    const char *src = getenv("DRCTL_SOURCE_DIR");
    char *dir = dr_xasprintf("%s/%s", src && *src ? src : "../..", sub);
    dr_profile_set set = {0};
    dr_diags diags = {0};
    dr_err err;
    dr_err_clear(&err);
    int rc = dr_profiles_load(dir, &set, &diags, &err);
    if (rc != 0)
        dr_diags_print(&diags, stderr);
    dr_diags_free(&diags);
    cr_assert_eq(rc, 0, "%s: %s", dir, err.msg);
    cr_assert_geq(set.n, 2);
    for (size_t i = 0; i < set.n; i++) {
        for (int st = DR_MODEL_AUTO; st <= DR_MODEL_ACTIVE; st++) {
            dr_model m;
            dr_model_opts o = {(dr_model_state)st, DR_DB_AUTO, NULL};
            cr_assert_eq(dr_model_build_regional_opts(&set, &set.regions[i], &o, &m, &err), 0,
                         "%s %s: %s", dir, set.regions[i].region, err.msg);
            tags_and_order(&m, NULL);
            secrets_check(&m, NULL);
            dr_model_free(&m);
        }
    }
    if (set.primary && set.primary->edge.enabled) {
        dr_model m;
        cr_assert_eq(dr_model_build_global(&set, &m, &err), 0, "%s: %s", dir, err.msg);
        tags_and_order(&m, NULL);
        secrets_check(&m, NULL);
        dr_model_free(&m);
    }
    dr_profiles_free(&set);
    free(dir);
}

Test(synth, shipped_regions)
{
    render_shipped("regions");
}

Test(synth, shipped_sandbox_regions)
{
    render_shipped("regions/sandbox");
}
