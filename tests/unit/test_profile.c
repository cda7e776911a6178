/*
 * test_profile.c - region profiles: loading, merging, defaults and every
 * validation error with its exact message and place.
 *
 * Each test runs in its own process (Criterion forks), in a fresh temporary
 * directory it chdirs into, and writes its profile set under "p/", so that
 * the expected diagnostics read "p/us-west-2.yaml:3:9: network.cidr: ...".
 * A problem test compares the WHOLE diagnostic output, so it proves both
 * the message and that nothing else was reported.
 *
 * The shipped regions/ and regions/sandbox/ are loaded from
 * $DRCTL_SOURCE_DIR (set by ctest), else from ../.. of the working
 * directory (a build tree beside the sources).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stack/profile.h"
#include "stack/yaml_doc.h"
#include "util/mem.h"

/* ---- helpers ----------------------------------------------------------- */

static char tmpdir[64];
static char *source_dir; /* absolute, resolved before the chdir */

static void setup(void)
{
    const char *src = getenv("DRCTL_SOURCE_DIR");
    source_dir = realpath(src && *src ? src : "../..", NULL);
    cr_assert(source_dir, "no source directory: set DRCTL_SOURCE_DIR");
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/drctl-profile-XXXXXX");
    cr_assert(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
    cr_assert(chdir(tmpdir) == 0);
    cr_assert(mkdir("p", 0755) == 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void teardown(void)
{
    if (chdir("/") == 0)
        nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(source_dir);
}

TestSuite(profile, .init = setup, .fini = teardown);

static void put(const char *name, const char *text)
{
    char *path = dr_xasprintf("p/%s", name);
    FILE *f = fopen(path, "w");
    cr_assert(f, "open %s", path);
    fputs(text, f);
    fclose(f);
    free(path);
}

/* A small valid set; tests overwrite one file to break one thing. Line
 * numbers in the expectations count from these texts. */
static const char *const base_defaults = "stack: llm\n"
                                         "dns:\n"
                                         "  domain: llm.example.com\n"
                                         "  hosted_zone: example.com\n";
static const char *const base_east = "role: primary\n"
                                     "network:\n"
                                     "  cidr: 10.10.0.0/16\n";
static const char *const base_west = "role: standby\n"
                                     "network:\n"
                                     "  cidr: 10.20.0.0/16\n";

static void base(void)
{
    put("defaults.yaml", base_defaults);
    put("us-east-1.yaml", base_east);
    put("us-west-2.yaml", base_west);
}

/* Diagnostics as `drctl validate` prints them (caller frees). */
static char *printed(const dr_diags *d)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    dr_diags_print(d, f);
    fclose(f);
    return text;
}

static void same_text(const char *want, const char *got)
{
    if (strcmp(want, got) == 0)
        return;
    size_t i = 0;
    while (want[i] && want[i] == got[i])
        i++;
    cr_assert_fail("diagnostics differ at byte %zu\n---- expected ----\n%s---- got ----\n%s"
                   "---- expected from there ----\n%s\n---- got from there ----\n%s",
                   i, want, got, want + i, got + i);
}

/* Loads p/ and asserts it fails with exactly these diagnostics (the whole
 * printed text) and the config error that counts them. */
static void expect_problems(size_t n, const char *want)
{
    dr_profile_set set;
    dr_diags d = {0};
    dr_err err;
    dr_err_clear(&err);
    int rc = dr_profiles_load("p", &set, &d, &err);
    char *got = printed(&d);
    cr_expect_eq(rc, -1, "load succeeded; diagnostics:\n%s", got);
    same_text(want, got);
    cr_expect_eq(err.code, DR_E_CONFIG);
    char msg[64];
    snprintf(msg, sizeof(msg), "%zu problem%s in p", n, n == 1 ? "" : "s");
    cr_expect_str_eq(err.msg, msg);
    cr_expect_eq(d.n, n);
    cr_expect_null(set.regions);
    free(got);
    dr_diags_free(&d);
}

/* Loads dir and asserts it is clean. */
static void load_ok(const char *dir, dr_profile_set *set)
{
    dr_diags d = {0};
    dr_err err;
    dr_err_clear(&err);
    int rc = dr_profiles_load(dir, set, &d, &err);
    char *got = printed(&d);
    cr_assert_eq(rc, 0, "%s: %s\n%s", dir, err.msg, got);
    cr_assert_eq(d.n, 0);
    free(got);
    dr_diags_free(&d);
}

/* ---- clean loads, merge, defaults -------------------------------------- */

Test(profile, minimal_set_loads_with_builtin_defaults)
{
    base();
    dr_profile_set s;
    load_ok("p", &s);
    cr_assert_eq(s.n, 2);
    cr_assert_str_eq(s.dir, "p");
    const dr_region_profile *e = dr_profiles_find(&s, "us-east-1");
    const dr_region_profile *w = dr_profiles_find(&s, "us-west-2");
    cr_assert(e && w);
    cr_expect_eq(e, &s.regions[0], "regions are sorted by name");
    cr_expect_eq(s.primary, e);
    cr_expect_null(dr_profiles_find(&s, "eu-west-1"));
    cr_expect_str_eq(e->file, "p/us-east-1.yaml");
    cr_expect_str_eq(e->region, "us-east-1");
    cr_expect_eq(e->role, DR_ROLE_PRIMARY);
    cr_expect_eq(w->role, DR_ROLE_STANDBY);
    cr_expect_str_eq(e->stack, "llm");
    cr_expect_str_eq(w->network.cidr, "10.20.0.0/16");
    /* Everything below is a built-in default (docs/profiles.md). */
    cr_expect_str_eq(e->environment, "prod");
    cr_expect_str_eq(e->dns.domain, "llm.example.com");
    cr_expect_str_eq(e->dns.hosted_zone, "example.com");
    cr_expect_str_eq(e->service.image, "ghcr.io/berriai/litellm:main-stable");
    cr_expect_eq(e->service.port, 4000);
    cr_expect_eq(e->service.cpu, 1024);
    cr_expect_eq(e->service.desired_count, e->service.min_tasks, "desired defaults to min");
    cr_expect_eq(e->service.memory, 2048);
    cr_expect_eq(e->service.min_tasks, 2);
    cr_expect_eq(e->service.max_tasks, 6);
    cr_expect_eq(e->service.cpu_target, 70);
    cr_expect_eq(e->service.memory_target, 75);
    cr_expect_eq(e->service.fargate_spot, 0);
    cr_expect_str_eq(e->service.health_path, "/health/liveliness");
    cr_expect_str_eq(e->service.readiness_path, "/health/readiness");
    cr_expect_str_eq(e->database.instance_class, "db.r6g.large");
    cr_expect_eq(e->database.allocated_storage, 100);
    cr_expect_str_eq(e->database.engine_version, "15.12");
    cr_expect_eq(e->database.multi_az, 1);
    cr_expect_eq(e->database.backup_retention, 7);
    cr_expect_eq(e->database.deletion_protection, 1);
    cr_expect_str_eq(e->database.name, "litellm");
    cr_expect_str_eq(e->database.username, "litellm");
    cr_expect_eq(e->database.restore_path, DR_DB_RESTORE_AUTO);
    cr_expect_eq(e->database.native_snapshots, 1);
    cr_expect_eq(e->cache.enabled, 1);
    cr_expect_str_eq(e->cache.node_type, "cache.r6g.large");
    cr_expect_eq(e->cache.replicas, 1);
    cr_expect_eq(e->bucket.archive_after_days, 90);
    cr_expect_str_eq(e->bucket.archive_storage_class, "GLACIER_IR");
    cr_expect_eq(e->bucket.noncurrent_expire_days, 365);
    cr_expect_eq(e->network.az_count, 2);
    cr_expect_eq(e->network.nat, DR_NAT_PER_AZ);
    cr_expect_eq(e->network.flow_logs, 1);
    cr_expect_eq(e->edge.enabled, 1);
    cr_expect_eq(e->edge.rate_limit, 2000);
    cr_expect_eq(e->dr.strategy, DR_STRATEGY_PILOT_LIGHT);
    cr_expect_eq(e->dr.rto_minutes, 60);
    cr_expect_eq(e->dr.rpo_minutes, 60);
    cr_expect_eq(e->retention.keep_last, 24);
    cr_expect_eq(e->retention.daily, 7);
    cr_expect_eq(e->retention.weekly, 4);
    cr_expect_eq(e->retention.monthly, 12);
    cr_expect_eq(e->retention.full_every, 24);
    cr_expect_str_eq(e->encryption.mode, "kms");
    cr_expect_null(e->encryption.recovery_public_key);
    cr_expect_eq(e->log_retention_days, 30);
    dr_profiles_free(&s);
    dr_profiles_free(&s); /* harmless twice */
}

Test(profile, region_values_override_defaults_key_by_key)
{
    put("defaults.yaml", "stack: llm\n"
                         "dns:\n"
                         "  domain: llm.example.com\n"
                         "  hosted_zone: example.com\n"
                         "service:\n"
                         "  cpu: 2048\n"
                         "  memory: 4096\n"
                         "  scaling:\n"
                         "    min: 3\n"
                         "    max: 9\n"
                         "database:\n"
                         "  instance_class: db.r6g.xlarge\n"
                         "cache:\n"
                         "  node_type: cache.r6g.xlarge\n");
    put("us-east-1.yaml", base_east);
    put("us-west-2.yaml", "role: standby\n"
                          "network:\n"
                          "  cidr: 10.20.0.0/16\n"
                          "  nat: single\n"
                          "service:\n"
                          "  memory: 8192\n"
                          "  scaling:\n"
                          "    max: 4\n"
                          "cache:\n"
                          "  enabled: false\n");
    dr_profile_set s;
    load_ok("p", &s);
    const dr_region_profile *e = dr_profiles_find(&s, "us-east-1");
    const dr_region_profile *w = dr_profiles_find(&s, "us-west-2");
    /* The primary takes defaults.yaml as is. */
    cr_expect_eq(e->service.cpu, 2048);
    cr_expect_eq(e->service.memory, 4096);
    cr_expect_eq(e->service.min_tasks, 3);
    cr_expect_eq(e->service.max_tasks, 9);
    cr_expect_eq(e->cache.enabled, 1);
    cr_expect_eq(e->network.nat, DR_NAT_PER_AZ);
    /* The standby's maps merge: its keys win, siblings come from defaults,
     * at every depth. */
    cr_expect_eq(w->service.cpu, 2048);
    cr_expect_eq(w->service.memory, 8192);
    cr_expect_eq(w->service.min_tasks, 3);
    cr_expect_eq(w->service.max_tasks, 4);
    cr_expect_eq(w->cache.enabled, 0);
    cr_expect_str_eq(w->cache.node_type, "cache.r6g.xlarge");
    cr_expect_str_eq(w->database.instance_class, "db.r6g.xlarge");
    cr_expect_eq(w->network.nat, DR_NAT_SINGLE);
    cr_expect_eq(w->network.az_count, 2);
    dr_profiles_free(&s);
}

Test(profile, defaults_yaml_is_optional)
{
    put("us-east-1.yaml", "role: primary\n"
                          "stack: solo\n"
                          "dns:\n"
                          "  domain: example.org\n"
                          "  hosted_zone: example.org\n"
                          "network:\n"
                          "  cidr: 192.168.0.0/24\n");
    dr_profile_set s;
    load_ok("p", &s);
    cr_expect_eq(s.n, 1);
    cr_expect_str_eq(s.primary->stack, "solo");
    cr_expect_str_eq(s.primary->network.cidr, "192.168.0.0/24");
    dr_profiles_free(&s);
}

Test(profile, yaml_forms_that_are_accepted)
{
    /* Flow maps, comments, a document marker, explicit core tags, a quoted
     * key, an empty optional key, a number where a string is expected. */
    put("defaults.yaml", "---\n"
                         "# comment\n"
                         "stack: llm\n"
                         "dns: {domain: llm.example.com, hosted_zone: example.com}\n"
                         "service: {port: !!int \"8080\", image: !!str registry/litellm}\n"
                         "database: {engine_version: 16}\n"
                         "\"encryption\":\n"
                         "  recovery_public_key:\n"
                         "...\n");
    put("us-east-1.yaml", base_east);
    dr_profile_set s;
    load_ok("p", &s);
    cr_expect_eq(s.regions[0].service.port, 8080);
    cr_expect_str_eq(s.regions[0].service.image, "registry/litellm");
    cr_expect_str_eq(s.regions[0].database.engine_version, "16");
    cr_expect_null(s.regions[0].encryption.recovery_public_key);
    dr_profiles_free(&s);
}

Test(profile, rto_at_the_floor_is_fine)
{
    put("defaults.yaml", "stack: llm\n"
                         "dns: {domain: llm.example.com, hosted_zone: example.com}\n"
                         "dr: {strategy: warm-standby, rto_minutes: 5, rpo_minutes: 1}\n");
    put("us-east-1.yaml", base_east);
    dr_profile_set s;
    load_ok("p", &s);
    cr_expect_eq(s.regions[0].dr.strategy, DR_STRATEGY_WARM_STANDBY);
    cr_expect_eq(s.regions[0].dr.rto_minutes, 5);
    dr_profiles_free(&s);
}

Test(profile, names_and_floors)
{
    cr_expect_str_eq(dr_strategy_name(DR_STRATEGY_BACKUP_RESTORE), "backup-and-restore");
    cr_expect_str_eq(dr_strategy_name(DR_STRATEGY_PILOT_LIGHT), "pilot-light");
    cr_expect_str_eq(dr_strategy_name(DR_STRATEGY_WARM_STANDBY), "warm-standby");
    cr_expect_str_eq(dr_role_name(DR_ROLE_STANDBY), "standby");
    cr_expect_str_eq(dr_nat_mode_name(DR_NAT_SINGLE), "single");
    cr_expect_str_eq(dr_db_restore_path_name(DR_DB_RESTORE_LOGICAL), "logical");
    cr_expect_eq(dr_strategy_rto_floor(DR_STRATEGY_BACKUP_RESTORE), 60);
    cr_expect_eq(dr_strategy_rto_floor(DR_STRATEGY_PILOT_LIGHT), 15);
    cr_expect_eq(dr_strategy_rto_floor(DR_STRATEGY_WARM_STANDBY), 5);
}

/* ---- the shipped profiles ---------------------------------------------- */

Test(profile, shipped_regions_load_cleanly)
{
    char *dir = dr_xasprintf("%s/regions", source_dir);
    dr_profile_set s;
    load_ok(dir, &s);
    cr_assert_eq(s.n, 2);
    const dr_region_profile *e = dr_profiles_find(&s, "us-east-1");
    const dr_region_profile *w = dr_profiles_find(&s, "us-west-2");
    cr_assert(e && w);
    cr_expect_eq(s.primary, e);
    cr_expect_eq(w->role, DR_ROLE_STANDBY);
    cr_expect_str_eq(e->network.cidr, "10.10.0.0/16");
    cr_expect_str_eq(w->network.cidr, "10.20.0.0/16");
    for (size_t i = 0; i < s.n; i++) {
        const dr_region_profile *p = &s.regions[i];
        cr_expect_str_eq(p->environment, "prod");
        cr_expect_str_eq(p->service.image, "ghcr.io/berriai/litellm:main-stable");
        cr_expect_eq(p->service.port, 4000);
        cr_expect_eq(p->service.cpu, 1024);
        cr_expect_eq(p->service.memory, 2048);
        cr_expect_eq(p->service.min_tasks, 2);
        cr_expect_eq(p->service.max_tasks, 6);
        cr_expect_eq(p->service.cpu_target, 70);
        cr_expect_eq(p->service.memory_target, 75);
        cr_expect_str_eq(p->database.instance_class, "db.r6g.large");
        cr_expect_eq(p->database.multi_az, 1);
        cr_expect_eq(p->database.allocated_storage, 100);
        cr_expect_eq(strncmp(p->database.engine_version, "15.", 3), 0);
        cr_expect_eq(p->database.backup_retention, 7);
        cr_expect_eq(p->database.deletion_protection, 1);
        cr_expect_str_eq(p->cache.node_type, "cache.r6g.large");
        cr_expect_eq(p->cache.replicas, 1);
        cr_expect_eq(p->bucket.archive_after_days, 90);
        cr_expect_str_eq(p->bucket.archive_storage_class, "GLACIER_IR");
        cr_expect_eq(p->network.nat, DR_NAT_PER_AZ);
        cr_expect_eq(p->edge.enabled, 1);
        cr_expect_eq(p->dr.strategy, DR_STRATEGY_PILOT_LIGHT);
        cr_expect_eq(p->dr.rto_minutes, 60);
        cr_expect_eq(p->dr.rpo_minutes, 60);
        cr_expect_eq(p->retention.keep_last, 24);
        cr_expect_eq(p->retention.daily, 7);
        cr_expect_eq(p->retention.weekly, 4);
        cr_expect_eq(p->retention.monthly, 12);
        cr_expect_eq(p->retention.full_every, 24);
        cr_expect_str_eq(p->encryption.mode, "kms");
        cr_expect_eq(p->log_retention_days, 30);
    }
    dr_profiles_free(&s);
    free(dir);
}

Test(profile, shipped_sandbox_loads_cleanly)
{
    char *dir = dr_xasprintf("%s/regions/sandbox", source_dir);
    dr_profile_set s;
    load_ok(dir, &s);
    cr_assert_eq(s.n, 2);
    cr_assert(s.primary);
    cr_expect_str_eq(s.primary->region, "us-east-1");
    for (size_t i = 0; i < s.n; i++) {
        const dr_region_profile *p = &s.regions[i];
        cr_expect_str_eq(p->environment, "sandbox");
        cr_expect_eq(p->network.az_count, 2);
        cr_expect_eq(p->network.nat, DR_NAT_SINGLE);
        cr_expect_str_eq(p->encryption.mode, "none");
        cr_expect_eq(p->database.restore_path, DR_DB_RESTORE_LOGICAL);
        cr_expect_eq(p->edge.enabled, 1);
        cr_expect_eq(p->dr.strategy, DR_STRATEGY_PILOT_LIGHT);
        cr_expect_geq(p->dr.rto_minutes, dr_strategy_rto_floor(p->dr.strategy));
    }
    dr_profiles_free(&s);
    free(dir);
}

/* ---- YAML-level problems ----------------------------------------------- */

Test(profile, yaml_syntax_error_with_libyaml_problem_and_mark)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network:\n"
                          "  cidr: [10.20.0.0/16\n");
    expect_problems(1, "p/us-west-2.yaml:4:1: YAML syntax error: did not find expected ',' or "
                       "']' (while parsing a flow sequence at line 3, column 9)\n");
}

Test(profile, yaml_tab_indentation_is_a_syntax_error)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network:\n"
                          "\tcidr: 10.20.0.0/16\n");
    expect_problems(1, "p/us-west-2.yaml:3:1: YAML syntax error: found character that cannot "
                       "start any token (while scanning for the next token at line 3, column 1)\n");
}

Test(profile, yaml_bad_utf8_is_placed)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "stack: l\xff\n");
    expect_problems(1, "p/us-west-2.yaml:2:9: YAML syntax error: invalid leading UTF-8 octet "
                       "(byte 0xff)\n");
}

Test(profile, syntax_error_in_defaults_does_not_cause_missing_key_noise)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "dns: {domain: llm.example.com\n");
    expect_problems(1, "p/defaults.yaml:3:1: YAML syntax error: did not find expected ',' or "
                       "'}' (while parsing a flow mapping at line 2, column 6)\n");
}

Test(profile, duplicate_key)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network:\n"
                          "  cidr: 10.20.0.0/16\n"
                          "  cidr: 10.30.0.0/16\n");
    expect_problems(
        1,
        "p/us-west-2.yaml:4:3: network.cidr: duplicate key 'cidr' (first at line 3, column 3)\n");
}

Test(profile, alias_is_not_supported)
{
    base();
    put("us-west-2.yaml", "role: &r standby\n"
                          "network:\n"
                          "  cidr: 10.20.0.0/16\n"
                          "environment: *r\n");
    expect_problems(1, "p/us-west-2.yaml:4:14: environment: YAML aliases (*r) are not supported "
                       "in profiles; write the value out (shared values belong in "
                       "defaults.yaml)\n");
}

Test(profile, custom_tag_is_not_supported)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network:\n"
                          "  cidr: !Ref VpcCidr\n");
    expect_problems(1, "p/us-west-2.yaml:3:9: network.cidr: YAML tag '!Ref' is not supported\n");
}

Test(profile, second_document)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network:\n"
                          "  cidr: 10.20.0.0/16\n"
                          "---\n"
                          "role: primary\n");
    expect_problems(1, "p/us-west-2.yaml:4:1: a second YAML document; a profile is one document\n");
}

Test(profile, top_level_must_be_a_map)
{
    base();
    put("us-west-2.yaml", "- role: standby\n");
    expect_problems(1, "p/us-west-2.yaml:1:1: expected a map of keys at the top of the file, got "
                       "a list\n");
}

Test(profile, map_as_key)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network:\n"
                          "  cidr: 10.20.0.0/16\n"
                          "? {a: 1}\n"
                          ": x\n");
    expect_problems(1, "p/us-west-2.yaml:4:3: a key must be a plain name, not a map\n");
}

/* ---- keys and types ---------------------------------------------------- */

Test(profile, unknown_key_with_suggestion)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network:\n"
                          "  cidr: 10.20.0.0/16\n"
                          "  az_cuont: 3\n");
    expect_problems(1,
                    "p/us-west-2.yaml:4:3: network.az_cuont: unknown key 'az_cuont'; did you mean "
                    "'az_count'?\n");
}

Test(profile, unknown_key_under_the_wrong_map)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "cidr: 10.20.0.0/16\n");
    expect_problems(2, "p/us-west-2.yaml:1:1: network.cidr: required key missing (every region "
                       "file sets its own)\n"
                       "p/us-west-2.yaml:2:1: cidr: unknown key 'cidr'; did you mean "
                       "'network.cidr'?\n");
}

Test(profile, dotted_key_is_not_a_path)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network: {cidr: 10.20.0.0/16}\n"
                          "service.cpu: 512\n");
    expect_problems(1, "p/us-west-2.yaml:3:1: service.cpu: unknown key 'service.cpu'; keys nest "
                       "as maps, they are not dotted names\n");
}

Test(profile, unknown_key_without_suggestion)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "dns:\n"
                         "  domain: llm.example.com\n"
                         "  hosted_zone: example.com\n"
                         "  ttl: 60\n"
                         "monitoring: {}\n");
    /* Reported once, though two regions lay their files over it. */
    expect_problems(2, "p/defaults.yaml:5:3: dns.ttl: unknown key 'ttl'\n"
                       "p/defaults.yaml:6:1: monitoring: unknown key 'monitoring'\n");
}

Test(profile, wrong_type_integer_from_quoted_string)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network:\n"
                          "  cidr: 10.20.0.0/16\n"
                          "service:\n"
                          "  port: \"4000\"\n");
    expect_problems(1, "p/us-west-2.yaml:5:9: service.port: expected an integer, got the quoted "
                       "string \"4000\"\n");
}

Test(profile, wrong_type_integer_from_words_and_fractions)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network:\n"
                          "  cidr: 10.20.0.0/16\n"
                          "  az_count: three\n"
                          "service:\n"
                          "  cpu: 0.5\n"
                          "  memory: {}\n");
    expect_problems(3, "p/us-west-2.yaml:4:13: network.az_count: expected an integer, got "
                       "'three'\n"
                       "p/us-west-2.yaml:6:8: service.cpu: expected an integer, got '0.5'\n"
                       "p/us-west-2.yaml:7:11: service.memory: expected an integer, got a map\n");
}

Test(profile, wrong_type_boolean_only_true_or_false)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network:\n"
                          "  cidr: 10.20.0.0/16\n"
                          "  flow_logs: yes\n"
                          "edge:\n"
                          "  enabled: True\n"
                          "cache:\n"
                          "  enabled: \"false\"\n");
    expect_problems(3, "p/us-west-2.yaml:4:14: network.flow_logs: expected a boolean (true or "
                       "false), got 'yes'\n"
                       "p/us-west-2.yaml:6:12: edge.enabled: expected a boolean (true or false), "
                       "got 'True'\n"
                       "p/us-west-2.yaml:8:12: cache.enabled: expected a boolean (true or false), "
                       "got the quoted string \"false\"\n");
}

Test(profile, wrong_type_string)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network:\n"
                          "  cidr: 10.20.0.0/16\n"
                          "service:\n"
                          "  image: [a, b]\n"
                          "  health_path: true\n"
                          "  readiness_path: \"\"\n"
                          "database:\n"
                          "  name:\n");
    expect_problems(4, "p/us-west-2.yaml:5:10: service.image: expected a string, got a list\n"
                       "p/us-west-2.yaml:6:16: service.health_path: expected a string, got the "
                       "boolean true (quote it if you mean the text)\n"
                       "p/us-west-2.yaml:7:19: service.readiness_path: must not be empty\n"
                       "p/us-west-2.yaml:9:8: database.name: expected a string, got an empty "
                       "value\n");
}

Test(profile, wrong_type_map)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network:\n"
                          "  cidr: 10.20.0.0/16\n"
                          "cache: false\n"
                          "service:\n"
                          "  scaling: 2-6\n");
    expect_problems(2, "p/us-west-2.yaml:4:8: cache: expected a map, got 'false'\n"
                       "p/us-west-2.yaml:6:12: service.scaling: expected a map, got '2-6'\n");
}

Test(profile, required_keys_missing)
{
    put("defaults.yaml", "dns:\n"
                         "  domain: llm.example.com\n");
    put("us-east-1.yaml", "role: primary\n");
    expect_problems(3, "p/us-east-1.yaml:1:1: dns.hosted_zone: required key missing (set it in "
                       "this file or in defaults.yaml)\n"
                       "p/us-east-1.yaml:1:1: network.cidr: required key missing (every region "
                       "file sets its own)\n"
                       "p/us-east-1.yaml:1:1: stack: required key missing (set it in this file "
                       "or in defaults.yaml)\n");
}

Test(profile, region_only_keys_in_defaults)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "role: standby\n"
                         "dns:\n"
                         "  domain: llm.example.com\n"
                         "  hosted_zone: example.com\n"
                         "network:\n"
                         "  cidr: 10.0.0.0/16\n");
    expect_problems(2, "p/defaults.yaml:2:1: role: belongs in each region file, not in "
                       "defaults.yaml (every region has its own)\n"
                       "p/defaults.yaml:7:3: network.cidr: belongs in each region file, not in "
                       "defaults.yaml (every region has its own)\n");
}

/* ---- numbers ----------------------------------------------------------- */

Test(profile, out_of_range_numbers)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network:\n"
                          "  cidr: 10.20.0.0/16\n"
                          "  az_count: 9\n"
                          "service:\n"
                          "  port: 70000\n"
                          "  scaling:\n"
                          "    cpu_target: 101\n"
                          "    memory_target: 0\n"
                          "retention:\n"
                          "  daily: -1\n"
                          "  full_every: 0\n"
                          "database:\n"
                          "  allocated_storage: 99999999999999999999\n");
    expect_problems(7, "p/us-west-2.yaml:4:13: network.az_count: must be between 2 and 6, got 9\n"
                       "p/us-west-2.yaml:6:9: service.port: must be between 1 and 65535, got "
                       "70000\n"
                       "p/us-west-2.yaml:8:17: service.scaling.cpu_target: must be between 1 and "
                       "100, got 101\n"
                       "p/us-west-2.yaml:9:20: service.scaling.memory_target: must be between 1 "
                       "and 100, got 0\n"
                       "p/us-west-2.yaml:11:10: retention.daily: must be between 0 and 10000, got "
                       "-1\n"
                       "p/us-west-2.yaml:12:15: retention.full_every: must be between 1 and "
                       "10000, got 0\n"
                       "p/us-west-2.yaml:14:22: database.allocated_storage: must be between 20 "
                       "and 65536, got 99999999999999999999\n");
}

Test(profile, rto_and_rpo_must_be_positive)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "dns: {domain: llm.example.com, hosted_zone: example.com}\n"
                         "dr:\n"
                         "  rto_minutes: 0\n"
                         "  rpo_minutes: -5\n");
    expect_problems(2, "p/defaults.yaml:4:16: dr.rto_minutes: must be between 1 and 525600, got "
                       "0\n"
                       "p/defaults.yaml:5:16: dr.rpo_minutes: must be between 1 and 525600, got "
                       "-5\n");
}

Test(profile, fargate_cpu_size)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network: {cidr: 10.20.0.0/16}\n"
                          "service: {cpu: 1000}\n");
    expect_problems(1, "p/us-west-2.yaml:3:16: service.cpu: 1000 is not a Fargate CPU size; use "
                       "256, 512, 1024, 2048, 4096, 8192 or 16384\n");
}

Test(profile, fargate_memory_must_fit_cpu)
{
    base();
    put("us-east-1.yaml", "role: primary\n"
                          "network: {cidr: 10.10.0.0/16}\n"
                          "service: {cpu: 256, memory: 4096}\n");
    put("us-west-2.yaml", "role: standby\n"
                          "network: {cidr: 10.20.0.0/16}\n"
                          "service:\n"
                          "  memory: 2500\n");
    expect_problems(2, "p/us-east-1.yaml:3:29: service.memory: 4096 MiB does not fit service.cpu "
                       "256 on Fargate; use 512, 1024 or 2048\n"
                       "p/us-west-2.yaml:4:11: service.memory: 2500 MiB does not fit service.cpu "
                       "1024 on Fargate; use 2048 to 8192 in steps of 1024\n");
}

Test(profile, fargate_memory_from_defaults_against_region_cpu)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "dns: {domain: llm.example.com, hosted_zone: example.com}\n"
                         "service: {memory: 2048}\n");
    put("us-west-2.yaml", "role: standby\n"
                          "network: {cidr: 10.20.0.0/16}\n"
                          "service: {cpu: 4096}\n");
    /* Reported at the memory (in defaults.yaml), naming the region's cpu. */
    expect_problems(1, "p/defaults.yaml:3:19: service.memory: 2048 MiB does not fit service.cpu "
                       "4096 on Fargate; use 8192 to 30720 in steps of 1024\n");
}

Test(profile, scaling_min_above_max)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network: {cidr: 10.20.0.0/16}\n"
                          "service:\n"
                          "  scaling:\n"
                          "    min: 7\n");
    expect_problems(
        1, "p/us-west-2.yaml:5:10: service.scaling.min: 7 is above service.scaling.max 6\n");
}

Test(profile, desired_count_is_its_own_key_within_the_scaling_bounds)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network: {cidr: 10.20.0.0/16}\n"
                          "service: {desired_count: 4}\n");
    dr_profile_set s;
    load_ok("p", &s);
    const dr_region_profile *w = dr_profiles_find(&s, "us-west-2");
    cr_expect_eq(w->service.desired_count, 4);
    cr_expect_eq(w->service.min_tasks, 2, "the scaling bounds do not move");
    dr_profiles_free(&s);

    put("us-west-2.yaml", "role: standby\n"
                          "network: {cidr: 10.20.0.0/16}\n"
                          "service: {desired_count: 9}\n");
    expect_problems(1, "p/us-west-2.yaml:3:26: service.desired_count: 9 is outside "
                       "service.scaling.min..max (2..6)\n");
}

Test(profile, log_retention_must_be_a_cloudwatch_value)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network: {cidr: 10.20.0.0/16}\n"
                          "logs: {retention_days: 10}\n");
    expect_problems(1, "p/us-west-2.yaml:3:24: logs.retention_days: 10 is not a CloudWatch Logs "
                       "retention period; use 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, "
                       "400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653\n");
}

Test(profile, retention_that_keeps_nothing)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network: {cidr: 10.20.0.0/16}\n"
                          "retention: {keep_last: 0, daily: 0, weekly: 0, monthly: 0}\n");
    expect_problems(1, "p/us-west-2.yaml:3:24: retention.keep_last: retention keeps no bundle at "
                       "all; set keep_last, daily, weekly or monthly above 0\n");
}

/* ---- allowed values ---------------------------------------------------- */

Test(profile, bad_role)
{
    base();
    put("us-west-2.yaml", "role: standbye\n"
                          "network: {cidr: 10.20.0.0/16}\n");
    expect_problems(1, "p/us-west-2.yaml:1:7: role: expected primary or standby, got 'standbye'; "
                       "did you mean 'standby'?\n");
}

Test(profile, bad_strategy)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "dns: {domain: llm.example.com, hosted_zone: example.com}\n"
                         "dr:\n"
                         "  strategy: pilot_light\n");
    expect_problems(1, "p/defaults.yaml:4:13: dr.strategy: expected backup-and-restore, "
                       "pilot-light or warm-standby, got 'pilot_light'; did you mean "
                       "'pilot-light'?\n");
}

Test(profile, bad_strategy_without_suggestion)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "dns: {domain: llm.example.com, hosted_zone: example.com}\n"
                         "dr:\n"
                         "  strategy: active-active\n");
    expect_problems(1, "p/defaults.yaml:4:13: dr.strategy: expected backup-and-restore, "
                       "pilot-light or warm-standby, got 'active-active'\n");
}

Test(profile, bad_nat_restore_path_encryption_environment_storage_class)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "environment: production\n"
                          "network:\n"
                          "  cidr: 10.20.0.0/16\n"
                          "  nat: per_az\n"
                          "database:\n"
                          "  restore_path: dump\n"
                          "encryption:\n"
                          "  mode: KMS\n"
                          "bucket:\n"
                          "  archive_storage_class: glacier_ir\n");
    expect_problems(5, "p/us-west-2.yaml:2:14: environment: expected prod, staging, dev or "
                       "sandbox, got 'production'\n"
                       "p/us-west-2.yaml:5:8: network.nat: expected per-az or single, got "
                       "'per_az'; did you mean 'per-az'?\n"
                       "p/us-west-2.yaml:7:17: database.restore_path: expected auto, snapshot or "
                       "logical, got 'dump'\n"
                       "p/us-west-2.yaml:9:9: encryption.mode: expected kms or none, got 'KMS'; "
                       "did you mean 'kms'?\n"
                       "p/us-west-2.yaml:11:26: bucket.archive_storage_class: expected "
                       "GLACIER_IR, GLACIER or DEEP_ARCHIVE, got 'glacier_ir'; did you mean "
                       "'GLACIER_IR'?\n");
}

Test(profile, enum_given_a_map)
{
    base();
    put("us-west-2.yaml", "role: {name: standby}\n"
                          "network: {cidr: 10.20.0.0/16}\n");
    expect_problems(1, "p/us-west-2.yaml:1:7: role: expected primary or standby, got a map\n");
}

Test(profile, encryption_none_in_prod)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "dns: {domain: llm.example.com, hosted_zone: example.com}\n"
                         "encryption: {mode: none}\n");
    expect_problems(1, "p/defaults.yaml:3:20: encryption.mode: none is not allowed with "
                       "environment prod: bundles hold the database and its secrets; use kms\n");
}

Test(profile, warm_standby_needs_automated_backups)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "dns: {domain: llm.example.com, hosted_zone: example.com}\n"
                         "dr: {strategy: warm-standby, rto_minutes: 10}\n"
                         "database: {backup_retention_days: 0}\n");
    expect_problems(1, "p/defaults.yaml:4:35: database.backup_retention_days: 0 turns off "
                       "automated backups, which warm-standby's cross-region read replica "
                       "needs; use 1 to 35\n");
}

/* ---- names and syntax of values ---------------------------------------- */

Test(profile, stack_name_syntax)
{
    base();
    put("defaults.yaml", "stack: LiteLLM_prod\n"
                         "dns: {domain: llm.example.com, hosted_zone: example.com}\n");
    expect_problems(1, "p/defaults.yaml:1:8: stack: 'LiteLLM_prod' is not a valid stack name: 3 "
                       "to 31 characters of a-z, 0-9 and '-', starting with a letter\n");
}

Test(profile, stack_name_too_short_or_starting_with_a_digit)
{
    base();
    put("us-east-1.yaml", "role: primary\nstack: ab\nnetwork: {cidr: 10.10.0.0/16}\n");
    put("us-west-2.yaml", "role: standby\nstack: 1llm\nnetwork: {cidr: 10.20.0.0/16}\n");
    expect_problems(2, "p/us-east-1.yaml:2:8: stack: 'ab' is not a valid stack name: 3 to 31 "
                       "characters of a-z, 0-9 and '-', starting with a letter\n"
                       "p/us-west-2.yaml:2:8: stack: '1llm' is not a valid stack name: 3 to 31 "
                       "characters of a-z, 0-9 and '-', starting with a letter\n");
}

Test(profile, dns_names)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "dns:\n"
                         "  domain: LLM.example.com\n"
                         "  hosted_zone: example.com.\n");
    expect_problems(2, "p/defaults.yaml:3:11: dns.domain: 'LLM.example.com' is not a DNS name "
                       "(lowercase labels of a-z, 0-9 and '-', like llm.example.com, without a "
                       "trailing dot)\n"
                       "p/defaults.yaml:4:16: dns.hosted_zone: 'example.com.' is not a DNS name "
                       "(lowercase labels of a-z, 0-9 and '-', like llm.example.com, without a "
                       "trailing dot)\n");
}

Test(profile, domain_outside_hosted_zone)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "dns:\n"
                         "  domain: llm.notexample.com\n"
                         "  hosted_zone: example.com\n");
    expect_problems(1, "p/defaults.yaml:3:11: dns.domain: 'llm.notexample.com' is not inside "
                       "dns.hosted_zone 'example.com'\n");
}

Test(profile, image_and_paths)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network: {cidr: 10.20.0.0/16}\n"
                          "service:\n"
                          "  image: https://ghcr.io/berriai/litellm\n"
                          "  health_path: health\n");
    put("us-east-1.yaml", "role: primary\n"
                          "network: {cidr: 10.10.0.0/16}\n"
                          "service: {image: 'ghcr.io/berriai/litellm@sha256:abc'}\n");
    expect_problems(3, "p/us-east-1.yaml:3:18: service.image: 'ghcr.io/berriai/litellm@sha256:abc' "
                       "has a malformed digest; pin an image as NAME@sha256:<64 hex digits>\n"
                       "p/us-west-2.yaml:4:10: service.image: 'https://ghcr.io/berriai/litellm' "
                       "is not a container image reference (like "
                       "ghcr.io/berriai/litellm:main-stable)\n"
                       "p/us-west-2.yaml:5:16: service.health_path: 'health' is not a URL path: it "
                       "starts with '/' and has no spaces, '?' or '#'\n");
}

Test(profile, image_pinned_by_digest_is_fine)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network: {cidr: 10.20.0.0/16}\n"
                          "service: {image: 'ghcr.io/berriai/litellm@sha256:"
                          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'}\n");
    dr_profile_set s;
    load_ok("p", &s);
    dr_profiles_free(&s);
}

Test(profile, database_and_cache_names)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network: {cidr: 10.20.0.0/16}\n"
                          "database:\n"
                          "  instance_class: r6g.large\n"
                          "  engine_version: 15.x\n"
                          "  name: LiteLLM\n"
                          "  username: 9user\n"
                          "cache:\n"
                          "  node_type: db.r6g.large\n");
    expect_problems(5, "p/us-west-2.yaml:4:19: database.instance_class: 'r6g.large' is not an "
                       "RDS instance class (like db.r6g.large)\n"
                       "p/us-west-2.yaml:5:19: database.engine_version: '15.x' is not a "
                       "PostgreSQL engine version (like 15.12)\n"
                       "p/us-west-2.yaml:6:9: database.name: 'LiteLLM' is not a PostgreSQL name: "
                       "1 to 63 characters of a-z, 0-9 and '_', starting with a letter\n"
                       "p/us-west-2.yaml:7:13: database.username: '9user' is not a PostgreSQL "
                       "name: 1 to 63 characters of a-z, 0-9 and '_', starting with a letter\n"
                       "p/us-west-2.yaml:9:14: cache.node_type: 'db.r6g.large' is not an "
                       "ElastiCache node type (like cache.r6g.large)\n");
}

/* ---- CIDR blocks ------------------------------------------------------- */

Test(profile, cidr_syntax)
{
    base();
    put("us-east-1.yaml", "role: primary\nnetwork: {cidr: 10.10.0/16}\n");
    put("us-west-2.yaml", "role: standby\nnetwork: {cidr: 10.256.0.0/16}\n");
    expect_problems(2, "p/us-east-1.yaml:2:17: network.cidr: '10.10.0/16' is not an IPv4 CIDR "
                       "block (like 10.10.0.0/16)\n"
                       "p/us-west-2.yaml:2:17: network.cidr: '10.256.0.0/16' is not an IPv4 CIDR "
                       "block (like 10.10.0.0/16)\n");
}

Test(profile, cidr_host_bits)
{
    base();
    put("us-west-2.yaml", "role: standby\nnetwork: {cidr: 10.20.1.0/16}\n");
    expect_problems(1, "p/us-west-2.yaml:2:17: network.cidr: 10.20.1.0/16 has host bits set; did "
                       "you mean 10.20.0.0/16?\n");
}

Test(profile, cidr_prefix_range)
{
    base();
    put("us-east-1.yaml", "role: primary\nnetwork: {cidr: 10.0.0.0/8}\n");
    put("us-west-2.yaml", "role: standby\nnetwork: {cidr: 10.20.0.0/28}\n");
    expect_problems(2, "p/us-east-1.yaml:2:17: network.cidr: 10.0.0.0/8: the prefix must be /16 "
                       "to /24, not /8\n"
                       "p/us-west-2.yaml:2:17: network.cidr: 10.20.0.0/28: the prefix must be /16 "
                       "to /24, not /28\n");
}

Test(profile, cidr_overlap_between_regions)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "network:\n"
                          "  cidr: 10.10.128.0/17\n");
    expect_problems(1, "p/us-west-2.yaml:3:9: network.cidr: 10.10.128.0/17 overlaps 10.10.0.0/16 "
                       "of us-east-1 (p/us-east-1.yaml:3:9); each region needs its own address "
                       "block\n");
}

Test(profile, cidr_overlap_is_reported_for_each_pair)
{
    base();
    put("eu-west-1.yaml", "role: standby\nnetwork: {cidr: 10.20.0.0/24}\n");
    put("us-west-2.yaml", "role: standby\nnetwork: {cidr: 10.20.0.0/16}\n");
    expect_problems(1, "p/us-west-2.yaml:2:17: network.cidr: 10.20.0.0/16 overlaps 10.20.0.0/24 "
                       "of eu-west-1 (p/eu-west-1.yaml:2:17); each region needs its own address "
                       "block\n");
}

/* ---- the set ----------------------------------------------------------- */

Test(profile, standby_without_a_primary)
{
    base();
    put("us-east-1.yaml", "role: standby\nnetwork: {cidr: 10.10.0.0/16}\n");
    expect_problems(2, "p/us-east-1.yaml:1:7: role: standby without a primary: no region file in "
                       "p has role primary\n"
                       "p/us-west-2.yaml:1:7: role: standby without a primary: no region file in "
                       "p has role primary\n");
}

Test(profile, more_than_one_primary)
{
    base();
    put("us-west-2.yaml", "role: primary\nnetwork: {cidr: 10.20.0.0/16}\n");
    expect_problems(1, "p/us-west-2.yaml:1:7: role: a second primary: us-east-1 "
                       "(p/us-east-1.yaml:1:7) is primary already; a set has exactly one\n");
}

Test(profile, no_primary_noise_when_a_role_is_unreadable)
{
    base();
    put("us-east-1.yaml", "role: primray\nnetwork: {cidr: 10.10.0.0/16}\n");
    expect_problems(1, "p/us-east-1.yaml:1:7: role: expected primary or standby, got 'primray'; "
                       "did you mean 'primary'?\n");
}

Test(profile, region_file_name_not_a_region)
{
    base();
    put("us-est-2.yaml", "role: standby\nnetwork: {cidr: 10.30.0.0/16}\n");
    put("backup.yaml", "role: standby\nnetwork: {cidr: 10.40.0.0/16}\n");
    expect_problems(2, "p/backup.yaml: 'backup' is not a known AWS region; a region file is named "
                       "after its region, e.g. us-east-1.yaml\n"
                       "p/us-est-2.yaml: 'us-est-2' is not a known AWS region; did you mean "
                       "us-east-2.yaml?\n");
}

Test(profile, yml_extension)
{
    base();
    put("eu-west-1.yml", "role: standby\n");
    expect_problems(1,
                    "p/eu-west-1.yml: profile files end in .yaml; rename it to eu-west-1.yaml\n");
}

Test(profile, no_region_files)
{
    put("defaults.yaml", base_defaults);
    expect_problems(1, "p: no region files: expected defaults.yaml and one <region>.yaml per "
                       "region, e.g. us-east-1.yaml\n");
}

Test(profile, stack_wide_settings_must_match)
{
    base();
    put("us-west-2.yaml", "role: standby\n"
                          "stack: other\n"
                          "network: {cidr: 10.20.0.0/16}\n"
                          "dns: {domain: api.example.com}\n"
                          "edge: {enabled: false}\n"
                          "dr: {strategy: warm-standby, rpo_minutes: 15}\n");
    expect_problems(5, "p/us-west-2.yaml:2:8: stack: 'other' here but 'llm' in us-east-1 "
                       "(p/defaults.yaml:1:8); it describes the whole stack and must be the "
                       "same in every region\n"
                       "p/us-west-2.yaml:4:15: dns.domain: 'api.example.com' here but "
                       "'llm.example.com' in us-east-1 (p/defaults.yaml:3:11); it describes the "
                       "whole stack and must be the same in every region\n"
                       "p/us-west-2.yaml:5:17: edge.enabled: false here but true in us-east-1 "
                       "(built-in default); it describes the whole stack and must be the same in "
                       "every region\n"
                       "p/us-west-2.yaml:6:16: dr.strategy: 'warm-standby' here but 'pilot-light' "
                       "in us-east-1 (built-in default); it describes the whole stack and must be "
                       "the same in every region\n"
                       "p/us-west-2.yaml:6:43: dr.rpo_minutes: 15 here but 60 in us-east-1 "
                       "(built-in default); it describes the whole stack and must be the same in "
                       "every region\n");
}

/* ---- RTO floors -------------------------------------------------------- */

Test(profile, rto_below_pilot_light_floor)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "dns: {domain: llm.example.com, hosted_zone: example.com}\n"
                         "dr:\n"
                         "  strategy: pilot-light\n"
                         "  rto_minutes: 10\n");
    expect_problems(1, "p/defaults.yaml:5:16: dr.rto_minutes: 10 is below what pilot-light can "
                       "reach (15 minutes); raise it or choose warm-standby\n");
}

Test(profile, rto_below_backup_and_restore_floor)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "dns: {domain: llm.example.com, hosted_zone: example.com}\n"
                         "dr:\n"
                         "  strategy: backup-and-restore\n"
                         "  rto_minutes: 30\n");
    expect_problems(1, "p/defaults.yaml:5:16: dr.rto_minutes: 30 is below what backup-and-restore "
                       "can reach (60 minutes); raise it or choose pilot-light\n");
}

Test(profile, rto_below_every_floor)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "dns: {domain: llm.example.com, hosted_zone: example.com}\n"
                         "dr: {strategy: warm-standby, rto_minutes: 3}\n");
    expect_problems(1, "p/defaults.yaml:3:43: dr.rto_minutes: 3 is below what warm-standby can "
                       "reach (5 minutes); raise it (no strategy recovers in under 5 minutes)\n");
}

Test(profile, builtin_rto_meets_backup_and_restore_floor)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "dns: {domain: llm.example.com, hosted_zone: example.com}\n"
                         "dr: {strategy: backup-and-restore}\n");
    /* The built-in 60 meets backup-and-restore's floor exactly: clean. */
    dr_profile_set s;
    load_ok("p", &s);
    dr_profiles_free(&s);
}

/* ---- all at once ------------------------------------------------------- */

Test(profile, every_problem_of_every_file_at_once)
{
    put("defaults.yaml", "stack: llm\n"
                         "dns: {domain: llm.example.com, hosted_zone: example.com}\n"
                         "servce: {}\n");
    put("us-east-1.yaml", "role: primary\n"
                          "network: {cidr: 10.10.0.0/16, az_count: 1}\n");
    put("us-west-2.yaml", "role: standby\n"
                          "network: {cidr: 10.10.0.0/16}\n"
                          "dr: {rto_minutes: 5}\n");
    put("eu-west-1.yaml", "role: standby\n"
                          "network: [\n");
    expect_problems(
        6, "p/defaults.yaml:3:1: servce: unknown key 'servce'; did you mean 'service'?\n"
           "p/eu-west-1.yaml:3:1: YAML syntax error: did not find expected node content (while "
           "parsing a flow node at line 3, column 1)\n"
           "p/us-east-1.yaml:2:41: network.az_count: must be between 2 and 6, got 1\n"
           "p/us-west-2.yaml:2:17: network.cidr: 10.10.0.0/16 overlaps 10.10.0.0/16 of "
           "us-east-1 (p/us-east-1.yaml:2:17); each region needs its own address block\n"
           "p/us-west-2.yaml:3:19: dr.rto_minutes: 5 here but 60 in us-east-1 (built-in "
           "default); it describes the whole stack and must be the same in every region\n"
           "p/us-west-2.yaml:3:19: dr.rto_minutes: 5 is below what pilot-light can reach (15 "
           "minutes); raise it or choose warm-standby\n");
}

Test(profile, a_bad_default_is_reported_once_even_if_every_region_overrides_it)
{
    base();
    put("defaults.yaml", "stack: llm\n"
                         "dns: {domain: llm.example.com, hosted_zone: example.com}\n"
                         "service: {port: http}\n");
    put("us-east-1.yaml", "role: primary\nnetwork: {cidr: 10.10.0.0/16}\nservice: {port: 80}\n");
    put("us-west-2.yaml", "role: standby\nnetwork: {cidr: 10.20.0.0/16}\nservice: {port: 80}\n");
    expect_problems(1, "p/defaults.yaml:3:17: service.port: expected an integer, got 'http'\n");
}

/* ---- the directory ----------------------------------------------------- */

Test(profile, missing_directory_is_a_config_error)
{
    dr_profile_set set;
    dr_diags d = {0};
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_profiles_load("nope", &set, &d, &err), -1);
    cr_expect_eq(err.code, DR_E_CONFIG);
    cr_expect_str_eq(err.msg, "cannot read the profile directory nope: No such file or directory");
    cr_expect_str_eq(err.hint, "pass --config-dir DIR or set DRCTL_CONFIG_DIR");
    cr_expect_eq(d.n, 0);
}

Test(profile, unreadable_file)
{
    base();
    cr_assert(mkdir("p/eu-west-1.yaml", 0755) == 0); /* a directory: not a region file */
    put("us-west-2.yaml", base_west);
    if (getuid() != 0) {
        chmod("p/us-west-2.yaml", 0);
        expect_problems(1, "p/us-west-2.yaml: cannot read: Permission denied\n");
    } else {
        /* root reads anything; the directory named like a file is skipped. */
        dr_profile_set s;
        load_ok("p", &s);
        cr_expect_eq(s.n, 2);
        dr_profiles_free(&s);
    }
}

Test(profile, config_dir_with_trailing_slash)
{
    base();
    dr_profile_set s;
    load_ok("p/", &s);
    cr_expect_str_eq(s.regions[0].file, "p/us-east-1.yaml");
    dr_profiles_free(&s);
}

/* ---- printing ---------------------------------------------------------- */

Test(profile, diagnostics_print_format)
{
    dr_diags d = {0};
    dr_diags_add(&d, "a.yaml", 3, 9, "network.cidr", "bad %s", "block");
    dr_diags_add(&d, "b.yaml", 0, 0, "", "not a region");
    dr_diags_add(&d, "c.yaml", 1, 2, "", "YAML syntax error: x");
    char *got = printed(&d);
    cr_expect_str_eq(got, "a.yaml:3:9: network.cidr: bad block\n"
                          "b.yaml: not a region\n"
                          "c.yaml:1:2: YAML syntax error: x\n");
    free(got);
    dr_diags_free(&d);
    cr_expect_eq(d.n, 0);
    dr_diags_free(NULL);
}

/* ---- the YAML layer ---------------------------------------------------- */

Test(profile, ydoc_marks_and_scalars)
{
    put("t.yaml", "a: 1\n"
                  "b:\n"
                  "  c: 'x'\n"
                  "  d: [true, ~, -7]\n");
    dr_diags d = {0};
    dr_ydoc *doc;
    cr_assert_eq(dr_ydoc_load("p/t.yaml", &doc, &d), 0);
    cr_assert_eq(d.n, 0);
    dr_ynode *a = dr_ymap_get(doc->root, "a");
    cr_expect_eq(a->line, 1);
    cr_expect_eq(a->col, 4);
    cr_expect(dr_yis_int(a));
    dr_ynode *c = dr_ymap_get(dr_ymap_get(doc->root, "b"), "c");
    cr_expect_eq(c->line, 3);
    cr_expect_eq(c->col, 6);
    cr_expect_not(c->plain);
    dr_ynode *l = dr_ymap_get(dr_ymap_get(doc->root, "b"), "d");
    cr_assert_eq(l->kind, DR_Y_SEQ);
    cr_assert_eq(l->nitems, 3);
    cr_expect(dr_yis_bool(l->items[0]));
    cr_expect(dr_yis_null(l->items[1]));
    cr_expect(dr_yis_int(l->items[2]));
    cr_expect_eq(l->items[2]->col, 16);
    char *s = dr_ydescribe(c);
    cr_expect_str_eq(s, "the quoted string \"x\"");
    free(s);
    dr_ydoc_free(doc);
}

Test(profile, ydoc_merge)
{
    put("a.yaml", "m: {x: 1, y: {p: 1, q: 2}}\nk: [1]\n");
    put("b.yaml", "m: {y: {q: 3}, z: 4}\nk: [2, 3]\n");
    dr_diags d = {0};
    dr_ydoc *a, *b;
    cr_assert_eq(dr_ydoc_load("p/a.yaml", &a, &d), 0);
    cr_assert_eq(dr_ydoc_load("p/b.yaml", &b, &d), 0);
    dr_yarena arena = {0};
    dr_ynode *m = dr_ymerge(&arena, a->root, b->root);
    dr_ynode *mm = dr_ymap_get(m, "m");
    cr_expect_str_eq(dr_ymap_get(mm, "x")->value, "1");
    cr_expect_str_eq(dr_ymap_get(dr_ymap_get(mm, "y"), "p")->value, "1");
    cr_expect_str_eq(dr_ymap_get(dr_ymap_get(mm, "y"), "q")->value, "3");
    cr_expect_str_eq(dr_ymap_get(mm, "z")->value, "4");
    cr_expect_eq(dr_ymap_get(m, "k")->nitems, 2, "lists replace");
    cr_expect_str_eq(mm->file, "p/b.yaml", "a merged map takes the override's place");
    dr_yarena_free(&arena);
    dr_ydoc_free(a);
    dr_ydoc_free(b);
}

Test(profile, ydoc_size_is_bounded)
{
    FILE *f = fopen("p/big.yaml", "w");
    cr_assert(f);
    for (int i = 0; i < 15000; i++)
        fprintf(f, "k%d: %d\n", i, i);
    fclose(f);
    dr_diags d = {0};
    dr_ydoc *doc;
    cr_assert_eq(dr_ydoc_load("p/big.yaml", &doc, &d), -1);
    cr_assert_null(doc);
    cr_assert_eq(d.n, 1);
    char *got = printed(&d);
    cr_expect_str_eq(got, "p/big.yaml:10000:8: k9999: more than 20000 YAML nodes; a profile is a "
                          "page of settings\n");
    free(got);
    dr_diags_free(&d);
}

Test(profile, ydoc_deep_nesting_is_bounded)
{
    char *text = dr_xmalloc(200 * 2 + 16);
    size_t n = 0;
    n += (size_t)sprintf(text + n, "a: ");
    for (int i = 0; i < 200; i++)
        text[n++] = '[';
    for (int i = 0; i < 200; i++)
        text[n++] = ']';
    text[n++] = '\n';
    text[n] = '\0';
    put("deep.yaml", text);
    free(text);
    dr_diags d = {0};
    dr_ydoc *doc;
    cr_assert_eq(dr_ydoc_load("p/deep.yaml", &doc, &d), 0);
    cr_assert_eq(d.n, 1);
    cr_expect_str_eq(d.items[0].message,
                     "nested more than 64 levels deep; a profile is a few levels at most");
    dr_diags_free(&d);
    dr_ydoc_free(doc);
}
