/*
 * test_res_security.c - the security family's secret values: the alphabet
 * and lengths of generated values, the database secret's JSON, what a
 * peer region's value becomes here, and the peer-first logic (copied when a
 * peer has it, generated when none does, a failing peer skipped with a
 * warning, throttling failing the call), through a fake peer reader. No
 * value may appear in the log.
 */
#include <criterion/criterion.h>

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack/res_security_int.h"
#include "util/mem.h"

static int only_alnum(const char *s)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s))
            return 0;
    return 1;
}

/* ---- random values ----------------------------------------------------------- */

Test(secret_values, random_alnum_lengths_and_alphabet)
{
    size_t lens[] = {0, 1, 16, 32, 64, 1000};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        char *buf = dr_xmalloc(lens[i] + 1);
        memset(buf, 'X', lens[i] + 1);
        cr_assert_eq(dr_sec_random_alnum(buf, lens[i]), 0);
        cr_expect_eq(strlen(buf), lens[i]);
        cr_expect(only_alnum(buf), "non-alphanumeric character");
        free(buf);
    }
    char a[33], b[33];
    cr_assert_eq(dr_sec_random_alnum(a, 32), 0);
    cr_assert_eq(dr_sec_random_alnum(b, 32), 0);
    cr_expect(strcmp(a, b) != 0, "two draws are equal");
}

/* Every one of the 62 characters shows up, none far more often than the
 * others (rejection sampling: no modulo bias towards A-H). */
Test(secret_values, random_alnum_is_roughly_uniform)
{
    enum { N = 62 * 2000 };
    char *buf = dr_xmalloc(N + 1);
    cr_assert_eq(dr_sec_random_alnum(buf, N), 0);
    int count[256] = {0};
    for (size_t i = 0; i < N; i++)
        count[(unsigned char)buf[i]]++;
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (const char *c = alphabet; *c; c++) {
        /* Expected 2000 each; a binomial's 6 sigma is ~265. */
        cr_expect(count[(unsigned char)*c] > 1600 && count[(unsigned char)*c] < 2400,
                  "'%c' drawn %d times of %d", *c, count[(unsigned char)*c], N);
    }
    free(buf);
}

Test(secret_values, kind_from_the_name)
{
    cr_expect_str_eq(dr_sec_secret_kind("prod/database"), "database");
    cr_expect_str_eq(dr_sec_secret_kind("a/b/litellm-master-key"), "litellm-master-key");
    cr_expect_str_eq(dr_sec_secret_kind("prod/litellm-salt-key"), "litellm-salt-key");
    cr_expect_str_eq(dr_sec_secret_kind("prod/provider-keys"), "provider-keys");
    cr_expect_str_eq(dr_sec_secret_kind("prod/cache-auth-token"), "cache-auth-token");
    cr_expect_str_eq(dr_sec_secret_kind("database"), "database");
    cr_expect_str_eq(dr_sec_secret_kind("prod/database-old"), "other");
    cr_expect_str_eq(dr_sec_secret_kind("prod/"), "other");
    cr_expect_str_eq(dr_sec_secret_kind(NULL), "other");
}

Test(secret_values, database_secret_json)
{
    dr_region_profile p;
    memset(&p, 0, sizeof(p));
    p.database.username = "llmadmin";
    p.database.name = "llmdb";
    int ph = -1;
    char *v = dr_sec_generate_secret("prod/database", &p, &ph);
    cr_assert(v);
    cr_expect_eq(ph, 0);
    json_t *j = json_loads(v, 0, NULL);
    cr_assert(json_is_object(j), "not a JSON object");
    cr_expect_str_eq(json_string_value(json_object_get(j, "username")), "llmadmin");
    cr_expect_str_eq(json_string_value(json_object_get(j, "dbname")), "llmdb");
    cr_expect_str_eq(json_string_value(json_object_get(j, "engine")), "postgres");
    cr_expect_eq(json_integer_value(json_object_get(j, "port")), 5432);
    const char *pw = json_string_value(json_object_get(j, "password"));
    cr_assert(pw);
    cr_expect_eq(strlen(pw), 32);
    cr_expect(only_alnum(pw), "password outside [A-Za-z0-9]");
    /* What RDS forbids in a master password. */
    cr_expect(strpbrk(pw, "/@\" ") == NULL);
    cr_expect_eq(json_object_size(j), 5, "only username, password, engine, port, dbname");
    json_decref(j);
    dr_free_secret(v);

    /* No profile (the global model): LiteLLM's defaults. */
    v = dr_sec_generate_secret("prod/database", NULL, &ph);
    j = json_loads(v, 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(j, "username")), "litellm");
    cr_expect_str_eq(json_string_value(json_object_get(j, "dbname")), "litellm");
    json_decref(j);
    dr_free_secret(v);
}

Test(secret_values, other_secrets_shapes)
{
    int ph = -1;
    char *v = dr_sec_generate_secret("prod/litellm-master-key", NULL, &ph);
    cr_expect_eq(ph, 0);
    cr_expect_eq(strlen(v), 51);
    cr_expect(strncmp(v, "sk-", 3) == 0 && only_alnum(v + 3), "master key shape");
    dr_free_secret(v);

    v = dr_sec_generate_secret("prod/litellm-salt-key", NULL, &ph);
    cr_expect_eq(strlen(v), 64);
    cr_expect(only_alnum(v));
    char *w = dr_sec_generate_secret("prod/litellm-salt-key", NULL, &ph);
    cr_expect(strcmp(v, w) != 0, "two salt keys are equal");
    dr_free_secret(v);
    dr_free_secret(w);

    v = dr_sec_generate_secret("prod/cache-auth-token", NULL, &ph);
    /* ElastiCache AUTH: 16-128 printable, none of @ " / */
    cr_expect_eq(strlen(v), 32);
    cr_expect(only_alnum(v));
    dr_free_secret(v);

    v = dr_sec_generate_secret("prod/provider-keys", NULL, &ph);
    cr_expect_str_eq(v, "{}");
    cr_expect_eq(ph, 1, "provider keys are a placeholder for the operator");
    dr_free_secret(v);

    v = dr_sec_generate_secret("prod/something", NULL, &ph);
    cr_expect_eq(strlen(v), 32);
    cr_expect_eq(ph, 0);
    dr_free_secret(v);
}

Test(secret_values, peer_value_adapted)
{
    const char *peer = "{\"username\":\"litellm\",\"password\":\"Pw1\",\"engine\":\"postgres\","
                       "\"port\":5432,\"dbname\":\"litellm\",\"host\":\"db.east\","
                       "\"url\":\"postgresql://litellm:Pw1@db.east:5432/litellm\"}";
    char *v = dr_sec_adapt_peer_value("prod/database", peer);
    json_t *j = json_loads(v, 0, NULL);
    cr_assert(j);
    cr_expect_null(json_object_get(j, "host"));
    cr_expect_null(json_object_get(j, "url"));
    cr_expect_str_eq(json_string_value(json_object_get(j, "password")), "Pw1");
    cr_expect_str_eq(json_string_value(json_object_get(j, "username")), "litellm");
    cr_expect_eq(json_integer_value(json_object_get(j, "port")), 5432);
    json_decref(j);
    dr_free_secret(v);

    /* Not JSON: kept as it is. Other secrets: unchanged. */
    v = dr_sec_adapt_peer_value("prod/database", "not json");
    cr_expect_str_eq(v, "not json");
    dr_free_secret(v);
    v = dr_sec_adapt_peer_value("prod/litellm-salt-key", "{\"host\":\"x\"}");
    cr_expect_str_eq(v, "{\"host\":\"x\"}");
    dr_free_secret(v);
}

/* ---- peer first, through a fake reader ----------------------------------- */

typedef struct fake_peer {
    const char *region;
    const char *name;
    const char *value; /* NULL: absent */
    const char *error; /* AWS error code to fail with, or NULL */
} fake_peer;

typedef struct fake {
    const fake_peer *peers;
    size_t n;
    int calls;
    char called[8][32];
} fake;

static int fake_fetch(void *ud, const char *region, const char *name, char **value, dr_err *err)
{
    fake *f = ud;
    if (f->calls < 8)
        snprintf(f->called[f->calls], sizeof(f->called[0]), "%s", region);
    f->calls++;
    for (size_t i = 0; i < f->n; i++) {
        const fake_peer *p = &f->peers[i];
        if (strcmp(p->region, region) != 0 || strcmp(p->name, name) != 0)
            continue;
        if (p->error) {
            dr_aws_error a;
            memset(&a, 0, sizeof(a));
            snprintf(a.service, sizeof(a.service), "secretsmanager");
            snprintf(a.operation, sizeof(a.operation), "GetSecretValue");
            snprintf(a.code, sizeof(a.code), "%s", p->error);
            snprintf(a.message, sizeof(a.message), "fake failure");
            a.http_status = 400;
            return dr_err_set_aws(err, &a);
        }
        if (!p->value)
            return 0;
        *value = dr_xstrdup(p->value);
        return 1;
    }
    return 0;
}

/* A logger writing into memory, at DEBUG: everything it says is checked. */
typedef struct memlog {
    dr_log log;
    char *buf;
    size_t len;
} memlog;

static void memlog_open(memlog *m)
{
    memset(m, 0, sizeof(*m));
    m->log.out = open_memstream(&m->buf, &m->len);
    cr_assert(m->log.out);
    m->log.level = DR_LOG_DEBUG;
}

static const char *memlog_text(memlog *m)
{
    fflush(m->log.out);
    return m->buf ? m->buf : "";
}

static void memlog_close(memlog *m)
{
    fclose(m->log.out);
    free(m->buf);
}

Test(secret_peers, copied_from_the_first_peer_that_has_it)
{
    const fake_peer peers[] = {
        {"us-east-1", "prod/litellm-salt-key", NULL, NULL},
        {"eu-west-1", "prod/litellm-salt-key", "SALTSALTSALTsaltsalt0123456789", NULL},
        {"us-west-1", "prod/litellm-salt-key", "OTHEROTHEROTHER", NULL},
    };
    fake f = {peers, 3, 0, {{0}}};
    const char *const list[] = {"us-west-2", "us-east-1", "eu-west-1", "us-west-1", NULL};
    memlog m;
    memlog_open(&m);
    dr_err err;
    dr_err_clear(&err);
    char *v = NULL;
    const char *src = NULL;
    cr_assert_eq(dr_sec_initial_value("prod/litellm-salt-key", "us-west-2", list, NULL, fake_fetch,
                                      &f, &m.log, &v, &src, &err),
                 0, "%s", err.msg);
    cr_expect_str_eq(v, "SALTSALTSALTsaltsalt0123456789");
    cr_expect_str_eq(src, "eu-west-1");
    /* Its own region is never asked; the search stops at the first hit. */
    cr_expect_eq(f.calls, 2);
    cr_expect_str_eq(f.called[0], "us-east-1");
    cr_expect_str_eq(f.called[1], "eu-west-1");
    cr_expect(strstr(memlog_text(&m), "eu-west-1") != NULL, "the copy is not mentioned");
    cr_expect(strstr(memlog_text(&m), "SALTSALT") == NULL, "the value was logged");
    dr_free_secret(v);
    memlog_close(&m);
}

Test(secret_peers, database_copy_keeps_password_drops_host)
{
    const fake_peer peers[] = {{"us-east-1", "prod/database",
                                "{\"username\":\"litellm\",\"password\":\"SharedPassw0rd\","
                                "\"host\":\"db.east\",\"url\":\"postgresql://x\"}",
                                NULL}};
    fake f = {peers, 1, 0, {{0}}};
    const char *const list[] = {"us-east-1", NULL};
    memlog m;
    memlog_open(&m);
    dr_err err;
    dr_err_clear(&err);
    char *v = NULL;
    const char *src = NULL;
    cr_assert_eq(dr_sec_initial_value("prod/database", "us-west-2", list, NULL, fake_fetch, &f,
                                      &m.log, &v, &src, &err),
                 0);
    json_t *j = json_loads(v, 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(j, "password")), "SharedPassw0rd");
    cr_expect_null(json_object_get(j, "host"));
    cr_expect_null(json_object_get(j, "url"));
    cr_expect(strstr(memlog_text(&m), "SharedPassw0rd") == NULL, "the password was logged");
    json_decref(j);
    dr_free_secret(v);
    memlog_close(&m);
}

Test(secret_peers, generated_when_no_peer_has_it)
{
    fake f = {NULL, 0, 0, {{0}}};
    const char *const list[] = {"us-east-1", NULL};
    memlog m;
    memlog_open(&m);
    dr_err err;
    dr_err_clear(&err);
    char *v = NULL;
    const char *src = "x";
    cr_assert_eq(dr_sec_initial_value("prod/litellm-master-key", "us-west-2", list, NULL,
                                      fake_fetch, &f, &m.log, &v, &src, &err),
                 0);
    cr_expect_null(src);
    cr_expect_eq(f.calls, 1);
    cr_expect(strncmp(v, "sk-", 3) == 0 && strlen(v) == 51);
    cr_expect(strstr(memlog_text(&m), v) == NULL, "the value was logged");
    dr_free_secret(v);

    /* No peers at all (a single region, or the global model). */
    f.calls = 0;
    cr_assert_eq(dr_sec_initial_value("prod/litellm-salt-key", "us-west-2", NULL, NULL, fake_fetch,
                                      &f, &m.log, &v, &src, &err),
                 0);
    cr_expect_eq(f.calls, 0);
    cr_expect_eq(strlen(v), 64);
    dr_free_secret(v);
    memlog_close(&m);
}

Test(secret_peers, provider_keys_placeholder_is_announced)
{
    fake f = {NULL, 0, 0, {{0}}};
    memlog m;
    memlog_open(&m);
    m.log.level = DR_LOG_NOTICE;
    dr_err err;
    dr_err_clear(&err);
    char *v = NULL;
    const char *src = NULL;
    cr_assert_eq(dr_sec_initial_value("prod/provider-keys", "us-east-1", NULL, NULL, fake_fetch, &f,
                                      &m.log, &v, &src, &err),
                 0);
    cr_expect_str_eq(v, "{}");
    cr_expect(strstr(memlog_text(&m), "prod/provider-keys") != NULL &&
                  strstr(memlog_text(&m), "put-secret-value") != NULL,
              "no notice telling the operator to fill it: %s", memlog_text(&m));
    dr_free_secret(v);
    memlog_close(&m);
}

Test(secret_peers, unreadable_peer_is_skipped_with_a_warning)
{
    const fake_peer peers[] = {
        {"us-east-1", "prod/litellm-salt-key", NULL, "AccessDeniedException"},
        {"eu-west-1", "prod/litellm-salt-key", NULL, NULL},
    };
    fake f = {peers, 2, 0, {{0}}};
    const char *const list[] = {"us-east-1", "eu-west-1", NULL};
    memlog m;
    memlog_open(&m);
    m.log.level = DR_LOG_WARN;
    dr_err err;
    dr_err_clear(&err);
    char *v = NULL;
    const char *src = NULL;
    cr_assert_eq(dr_sec_initial_value("prod/litellm-salt-key", "us-west-2", list, NULL, fake_fetch,
                                      &f, &m.log, &v, &src, &err),
                 0);
    cr_expect_null(src);
    cr_expect_eq(strlen(v), 64);
    cr_expect_eq(f.calls, 2);
    const char *text = memlog_text(&m);
    cr_expect(strstr(text, "us-east-1") && strstr(text, "AccessDeniedException"),
              "warning lacks the peer or the reason: %s", text);
    cr_expect(strstr(text, "restore the secrets") != NULL, "no advice: %s", text);
    cr_expect(strstr(text, v) == NULL, "the value was logged");
    dr_free_secret(v);
    memlog_close(&m);
}

Test(secret_peers, throttling_fails_so_that_the_engine_retries)
{
    const fake_peer peers[] = {
        {"us-east-1", "prod/litellm-salt-key", NULL, "ThrottlingException"},
        {"eu-west-1", "prod/litellm-salt-key", "NEVERREACHED", NULL},
    };
    fake f = {peers, 2, 0, {{0}}};
    const char *const list[] = {"us-east-1", "eu-west-1", NULL};
    memlog m;
    memlog_open(&m);
    dr_err err;
    dr_err_clear(&err);
    char *v = (char *)"sentinel";
    const char *src = NULL;
    cr_expect_eq(dr_sec_initial_value("prod/litellm-salt-key", "us-west-2", list, NULL, fake_fetch,
                                      &f, &m.log, &v, &src, &err),
                 -1);
    cr_expect_null(v);
    cr_expect(err.has_aws);
    cr_expect_str_eq(err.aws.code, "ThrottlingException");
    cr_expect_eq(f.calls, 1);
    memlog_close(&m);
}
