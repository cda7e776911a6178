/*
 * itest_res_security.c - the security family's handlers (IAM role, KMS key
 * and alias, Secrets Manager secret, ACM certificate) against moto, each
 * result checked independently with the AWS CLI.
 *
 * Per type: create (+ wait_ready) with the properties the model produces,
 * the AWS CLI sees what the issue asks for and the drctl:stack /
 * drctl:logical-id tags, find() returns the same physical id (a lost state
 * file), read() works, an in-place update shows in the AWS CLI, a second
 * create does not make a duplicate, remove() leaves nothing, and read()
 * then says the resource is gone. Secrets also: values of the right shape,
 * the same value in a second region created with the first as its peer,
 * and no value in any log line or attribute.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_env.h"
#include "stack/handler.h"
#include "util/mem.h"

static dr_log test_log;
static FILE *log_mem;
static char *log_buf;
static size_t log_len;
static dr_aws *aws;
static char stack[64];

static void setup(void)
{
    sandbox_load_env();
    log_mem = open_memstream(&log_buf, &log_len);
    cr_assert(log_mem);
    /* Everything drctl logs, down to each request line, is kept so that the
     * secret test can prove no value was ever logged. */
    test_log.level = DR_LOG_DEBUG;
    test_log.out = log_mem;
    test_log.progress = 0;
    dr_aws_opts o = {0};
    o.log = &test_log;
    dr_err err;
    dr_err_clear(&err);
    cr_assert(dr_aws_new(&o, &aws, &err) == 0, "dr_aws_new: %s", err.msg);
    snprintf(stack, sizeof(stack), "itsec-%s", test_suffix());
}

static void teardown(void)
{
    dr_aws_free(aws);
    aws = NULL;
    fclose(log_mem);
    free(log_buf);
    log_buf = NULL;
}

TestSuite(security, .init = setup, .fini = teardown, .timeout = 300);

static const dr_handler *handler(const char *type)
{
    const dr_handler *h = dr_handler_find(type);
    cr_assert_not_null(h, "no handler for %s", type);
    return h;
}

static dr_apply_ctx ctx_in(const char *region, const char *const *peers)
{
    dr_apply_ctx c;
    memset(&c, 0, sizeof(c));
    c.aws = aws;
    c.region = region;
    c.stack = stack;
    c.log = &test_log;
    c.wait_initial_ms = 5;
    c.wait_max_ms = 50;
    c.wait_timeout_s = 30;
    c.scope = region;
    c.peer_regions = peers;
    return c;
}

/* The tags the model gives every taggable resource. */
static json_t *model_tags(const char *logical_id)
{
    char name[160];
    snprintf(name, sizeof(name), "%s-%s", stack, logical_id);
    return json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "Key", "drctl:stack", "Value", stack,
                     "Key", "drctl:logical-id", "Value", logical_id, "Key", "Name", "Value", name);
}

/* A tag's value in an AWS CLI tag list, NULL if absent. */
static const char *cli_tag(json_t *tags, const char *kname, const char *vname, const char *key)
{
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *k = json_string_value(json_object_get(t, kname));
        if (k && strcmp(k, key) == 0)
            return json_string_value(json_object_get(t, vname));
    }
    return NULL;
}

static void expect_drctl_tags(json_t *tags, const char *kname, const char *vname,
                              const char *logical_id)
{
    const char *s = cli_tag(tags, kname, vname, "drctl:stack");
    const char *l = cli_tag(tags, kname, vname, "drctl:logical-id");
    cr_expect(s && strcmp(s, stack) == 0, "drctl:stack tag: %s", s ? s : "(none)");
    cr_expect(l && strcmp(l, logical_id) == 0, "drctl:logical-id tag: %s", l ? l : "(none)");
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static char *account_id(void)
{
    json_t *id = aws_cli("us-east-1", "sts get-caller-identity");
    char *a = dr_xstrdup(jstr(id, "Account"));
    json_decref(id);
    return a;
}

/* ---- KMS key ------------------------------------------------------------- */

static json_t *key_props(const char *logical_id, const char *account, const char *desc)
{
    char root[128];
    snprintf(root, sizeof(root), "arn:aws:iam::%s:root", account);
    return json_pack("{s:s, s:b, s:s, s:s, s:i, s:{s:s, s:[{s:s, s:s, s:{s:s}, s:s, s:s}]}, s:o}",
                     "Description", desc, "EnableKeyRotation", 1, "KeySpec", "SYMMETRIC_DEFAULT",
                     "KeyUsage", "ENCRYPT_DECRYPT", "PendingWindowInDays", 30, "KeyPolicy",
                     "Version", "2012-10-17", "Statement", "Sid", "AccountAdministersThroughIam",
                     "Effect", "Allow", "Principal", "AWS", root, "Action", "kms:*", "Resource",
                     "*", "Tags", model_tags(logical_id));
}

/* Creates a key through the handler; returns its id (caller frees). */
static char *make_key(dr_apply_ctx *c, const char *logical_id, char **arn_out)
{
    const dr_handler *h = handler("AWS::KMS::Key");
    char *account = account_id();
    json_t *props = key_props(logical_id, account, "drctl itest key");
    free(account);
    json_t *tags = model_tags(logical_id);
    dr_live live = {0};
    dr_err err;
    dr_err_clear(&err);
    cr_assert(
        h->create(c, logical_id, props, tags, "0123456789abcdef0123456789abcdef", &live, &err) == 0,
        "create key: %s", err.msg);
    char *id = dr_xstrdup(live.physical_id);
    if (arn_out)
        *arn_out = dr_xstrdup(jstr(live.attributes, "Arn"));
    dr_live_free(&live);
    json_decref(props);
    json_decref(tags);
    return id;
}

Test(security, kms_key_lifecycle)
{
    const dr_handler *h = handler("AWS::KMS::Key");
    dr_apply_ctx c = ctx_in("us-east-1", NULL);
    dr_err err;
    dr_err_clear(&err);
    char *account = account_id();
    json_t *props = key_props("Key", account, "drctl itest: encrypts the stack's data");
    json_t *tags = model_tags("Key");
    dr_live live = {0};
    cr_assert(h->create(&c, "Key", props, tags, "aaaabbbbccccddddeeeeffff00001111", &live, &err) ==
                  0,
              "create: %s", err.msg);
    char *id = dr_xstrdup(live.physical_id);
    const char *arn = jstr(live.attributes, "Arn");
    cr_assert(arn && strstr(arn, id), "Arn attribute %s for key %s", arn ? arn : "(none)", id);
    char *arn_copy = dr_xstrdup(arn);
    dr_live_free(&live);
    cr_assert(h->wait_ready(&c, id, &err) == 0, "wait_ready: %s", err.msg);

    /* The AWS CLI: description, state, rotation, policy, tags. */
    json_t *d = aws_cli("us-east-1", "kms describe-key --key-id %s", id);
    json_t *meta = json_object_get(d, "KeyMetadata");
    cr_expect_str_eq(jstr(meta, "KeyState"), "Enabled");
    cr_expect_str_eq(jstr(meta, "Description"), "drctl itest: encrypts the stack's data");
    cr_expect_str_eq(jstr(meta, "Arn"), arn_copy);
    json_decref(d);
    json_t *rot = aws_cli("us-east-1", "kms get-key-rotation-status --key-id %s", id);
    cr_expect(json_is_true(json_object_get(rot, "KeyRotationEnabled")), "rotation is off");
    json_decref(rot);
    json_t *pol = aws_cli("us-east-1", "kms get-key-policy --key-id %s --policy-name default", id);
    json_t *doc = json_loads(jstr(pol, "Policy"), 0, NULL);
    cr_assert(doc, "key policy is not JSON");
    cr_expect_str_eq(jstr(json_array_get(json_object_get(doc, "Statement"), 0), "Sid"),
                     "AccountAdministersThroughIam");
    json_decref(doc);
    json_decref(pol);
    json_t *t = aws_cli("us-east-1", "kms list-resource-tags --key-id %s", id);
    expect_drctl_tags(json_object_get(t, "Tags"), "TagKey", "TagValue", "Key");
    json_decref(t);

    /* Lost state: found by its tags, with the model's properties read back. */
    int found = 0;
    cr_assert(h->find(&c, "Key", props, &found, &live, &err) == 0, "find: %s", err.msg);
    cr_assert(found);
    cr_expect_str_eq(live.physical_id, id);
    cr_expect(json_is_true(json_object_get(live.properties, "EnableKeyRotation")));
    cr_expect(json_equal(json_object_get(live.properties, "KeyPolicy"),
                         json_object_get(props, "KeyPolicy")),
              "adopted KeyPolicy differs from the model's");
    dr_live_free(&live);
    int exists = 0;
    cr_assert(h->read(&c, id, props, &exists, &live, &err) == 0, "read: %s", err.msg);
    cr_expect(exists);
    cr_expect_str_eq(jstr(live.attributes, "Arn"), arn_copy);
    dr_live_free(&live);

    /* Update in place: description, rotation off, one more tag. */
    json_t *np = json_deep_copy(props);
    json_object_set_new(np, "Description", json_string("drctl itest: updated"));
    json_object_set_new(np, "EnableKeyRotation", json_false());
    json_array_append_new(json_object_get(np, "Tags"),
                          json_pack("{s:s, s:s}", "Key", "team", "Value", "platform"));
    cr_assert(h->update(&c, id, props, np, &live, &err) == 0, "update: %s", err.msg);
    dr_live_free(&live);
    d = aws_cli("us-east-1", "kms describe-key --key-id %s", id);
    cr_expect_str_eq(jstr(json_object_get(d, "KeyMetadata"), "Description"),
                     "drctl itest: updated");
    json_decref(d);
    rot = aws_cli("us-east-1", "kms get-key-rotation-status --key-id %s", id);
    cr_expect(json_is_false(json_object_get(rot, "KeyRotationEnabled")), "rotation still on");
    json_decref(rot);
    t = aws_cli("us-east-1", "kms list-resource-tags --key-id %s", id);
    const char *team = cli_tag(json_object_get(t, "Tags"), "TagKey", "TagValue", "team");
    cr_expect(team && strcmp(team, "platform") == 0, "team tag missing");
    json_decref(t);
    /* ... and back: the tag goes again, drctl's stay. */
    cr_assert(h->update(&c, id, np, props, &live, &err) == 0, "update back: %s", err.msg);
    dr_live_free(&live);
    t = aws_cli("us-east-1", "kms list-resource-tags --key-id %s", id);
    cr_expect_null(cli_tag(json_object_get(t, "Tags"), "TagKey", "TagValue", "team"));
    expect_drctl_tags(json_object_get(t, "Tags"), "TagKey", "TagValue", "Key");
    json_decref(t);

    /* Remove: pending deletion (7 days, the minimum), which counts as gone. */
    cr_assert(h->remove(&c, id, props, &err) == 0, "remove: %s", err.msg);
    d = aws_cli("us-east-1", "kms describe-key --key-id %s", id);
    cr_expect_str_eq(jstr(json_object_get(d, "KeyMetadata"), "KeyState"), "PendingDeletion");
    json_decref(d);
    cr_assert(h->read(&c, id, props, &exists, &live, &err) == 0, "read after remove: %s", err.msg);
    cr_expect_not(exists);
    dr_live_free(&live);
    cr_assert(h->find(&c, "Key", props, &found, &live, &err) == 0, "find after remove: %s",
              err.msg);
    cr_expect_not(found);
    dr_live_free(&live);
    cr_assert(h->remove(&c, id, props, &err) == 0, "second remove: %s", err.msg);

    json_decref(np);
    json_decref(props);
    json_decref(tags);
    free(account);
    free(arn_copy);
    free(id);
}

/* ---- KMS alias ----------------------------------------------------------- */

static int alias_target(const char *region, const char *alias, char *out, size_t n)
{
    json_t *l = aws_cli(region, "kms list-aliases");
    size_t i;
    json_t *a;
    int found = 0;
    json_array_foreach(json_object_get(l, "Aliases"), i, a)
    {
        if (jstr(a, "AliasName") && strcmp(jstr(a, "AliasName"), alias) == 0) {
            snprintf(out, n, "%s", jstr(a, "TargetKeyId") ? jstr(a, "TargetKeyId") : "");
            found = 1;
        }
    }
    json_decref(l);
    return found;
}

Test(security, kms_alias_lifecycle)
{
    const dr_handler *h = handler("AWS::KMS::Alias");
    dr_apply_ctx c = ctx_in("us-east-1", NULL);
    dr_err err;
    dr_err_clear(&err);
    char *k1 = make_key(&c, "Key", NULL);
    char *k2 = make_key(&c, "Key2", NULL);
    char alias[128];
    snprintf(alias, sizeof(alias), "alias/%s", stack);
    json_t *props = json_pack("{s:s, s:s}", "AliasName", alias, "TargetKeyId", k1);
    dr_live live = {0};
    cr_assert(h->create(&c, "KeyAlias", props, NULL, "tok", &live, &err) == 0, "create: %s",
              err.msg);
    cr_expect_str_eq(live.physical_id, alias);
    dr_live_free(&live);
    char target[128];
    cr_assert(alias_target("us-east-1", alias, target, sizeof(target)), "alias not listed");
    cr_expect_str_eq(target, k1);

    /* A second create (a lost answer) is fine and makes nothing new. */
    cr_assert(h->create(&c, "KeyAlias", props, NULL, "tok", &live, &err) == 0, "second create: %s",
              err.msg);
    dr_live_free(&live);

    int found = 0, exists = 0;
    cr_assert(h->find(&c, "KeyAlias", props, &found, &live, &err) == 0, "find: %s", err.msg);
    cr_assert(found);
    cr_expect_str_eq(live.physical_id, alias);
    cr_expect(json_equal(live.properties, props), "adopted properties differ from the model's");
    dr_live_free(&live);
    cr_assert(h->read(&c, alias, props, &exists, &live, &err) == 0, "read: %s", err.msg);
    cr_expect(exists);
    dr_live_free(&live);

    /* Update: point it at the other key. */
    json_t *np = json_pack("{s:s, s:s}", "AliasName", alias, "TargetKeyId", k2);
    cr_assert(h->update(&c, alias, props, np, &live, &err) == 0, "update: %s", err.msg);
    dr_live_free(&live);
    cr_assert(alias_target("us-east-1", alias, target, sizeof(target)));
    cr_expect_str_eq(target, k2);
    /* A create for the old key now fails: the alias is someone else's. */
    cr_expect(h->create(&c, "KeyAlias", props, NULL, "tok", &live, &err) != 0);
    dr_live_free(&live);
    dr_err_clear(&err);

    cr_assert(h->remove(&c, alias, np, &err) == 0, "remove: %s", err.msg);
    cr_expect_not(alias_target("us-east-1", alias, target, sizeof(target)), "alias still listed");
    cr_assert(h->read(&c, alias, np, &exists, &live, &err) == 0, "read after remove: %s", err.msg);
    cr_expect_not(exists);
    dr_live_free(&live);
    cr_assert(h->remove(&c, alias, np, &err) == 0, "second remove: %s", err.msg);

    const dr_handler *kh = handler("AWS::KMS::Key");
    cr_assert(kh->remove(&c, k1, NULL, &err) == 0 && kh->remove(&c, k2, NULL, &err) == 0);
    json_decref(props);
    json_decref(np);
    free(k1);
    free(k2);
}

/* ---- Secrets Manager ----------------------------------------------------- */

static const struct {
    const char *id;
    const char *name;
} secrets[] = {{"DbSecret", "database"},
               {"MasterKeySecret", "litellm-master-key"},
               {"SaltKeySecret", "litellm-salt-key"},
               {"ProviderKeysSecret", "provider-keys"},
               {"CacheAuthSecret", "cache-auth-token"}};
enum { NSECRETS = sizeof(secrets) / sizeof(secrets[0]) };

static json_t *secret_props(int i, const char *key_arn, const char *desc)
{
    char name[160];
    snprintf(name, sizeof(name), "%s/%s", stack, secrets[i].name);
    return json_pack("{s:s, s:s, s:s, s:o}", "Name", name, "Description", desc, "KmsKeyId", key_arn,
                     "Tags", model_tags(secrets[i].id));
}

static char *secret_value(const char *region, const char *id)
{
    json_t *v = aws_cli(region, "secretsmanager get-secret-value --secret-id '%s'", id);
    const char *s = jstr(v, "SecretString");
    cr_assert(s, "no SecretString in %s", id);
    char *out = dr_xstrdup(s);
    json_decref(v);
    return out;
}

static int all_alnum(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]))
            return 0;
    return 1;
}

/* No log line and no attribute may carry a value. */
static void expect_not_logged(const char *value, const char *what)
{
    fflush(log_mem);
    cr_expect(log_buf == NULL || strstr(log_buf, value) == NULL, "the %s value was logged", what);
}

static void create_all(dr_apply_ctx *c, const char *key_arn, char *arns[NSECRETS])
{
    const dr_handler *h = handler("AWS::SecretsManager::Secret");
    for (int i = 0; i < NSECRETS; i++) {
        json_t *props = secret_props(i, key_arn, "drctl itest secret");
        json_t *tags = model_tags(secrets[i].id);
        dr_live live = {0};
        dr_err err;
        dr_err_clear(&err);
        char tok[40];
        snprintf(tok, sizeof(tok), "%s-%02d-0123456789abcdef0123456789", c->region, i);
        cr_assert(h->create(c, secrets[i].id, props, tags, tok, &live, &err) == 0,
                  "create %s in %s: %s", secrets[i].name, c->region, err.msg);
        arns[i] = dr_xstrdup(live.physical_id);
        char *attrs = json_dumps(live.attributes, JSON_COMPACT);
        cr_expect(attrs && strstr(attrs, "password") == NULL, "attributes: %s", attrs);
        free(attrs);
        dr_live_free(&live);
        json_decref(props);
        json_decref(tags);
    }
}

Test(security, secrets_filled_shared_across_regions_never_logged)
{
    const dr_handler *h = handler("AWS::SecretsManager::Secret");
    static const char *const east_peers[] = {"us-east-1", "us-west-2", NULL};
    static const char *const west_peers[] = {"us-east-1", NULL};
    dr_apply_ctx east = ctx_in("us-east-1", east_peers);
    dr_apply_ctx west = ctx_in("us-west-2", west_peers);
    dr_err err;
    dr_err_clear(&err);
    char *east_key_arn = NULL, *west_key_arn = NULL, *east_key2_arn = NULL;
    char *ek = make_key(&east, "Key", &east_key_arn);
    char *ek2 = make_key(&east, "Key2", &east_key2_arn);
    char *wk = make_key(&west, "Key", &west_key_arn);

    /* First region: nothing in the peer (us-west-2) yet, so generated. */
    char *earns[NSECRETS], *warns[NSECRETS];
    create_all(&east, east_key_arn, earns);
    char *ev[NSECRETS];
    for (int i = 0; i < NSECRETS; i++)
        ev[i] = secret_value("us-east-1", earns[i]);
    json_t *db = json_loads(ev[0], 0, NULL);
    cr_assert(db, "database secret is not JSON");
    cr_expect_str_eq(jstr(db, "username"), "litellm");
    cr_expect_str_eq(jstr(db, "engine"), "postgres");
    cr_expect_str_eq(jstr(db, "dbname"), "litellm");
    cr_expect_eq(json_integer_value(json_object_get(db, "port")), 5432);
    cr_expect(all_alnum(jstr(db, "password"), 32), "password is not 32 [A-Za-z0-9]");
    char *password = dr_xstrdup(jstr(db, "password"));
    json_decref(db);
    cr_expect(strncmp(ev[1], "sk-", 3) == 0 && all_alnum(ev[1] + 3, 48), "master key shape");
    cr_expect(all_alnum(ev[2], 64), "salt key shape");
    cr_expect_str_eq(ev[3], "{}");
    cr_expect(all_alnum(ev[4], 32), "cache auth token shape");

    /* The AWS CLI: name, key, description, tags. */
    json_t *d = aws_cli("us-east-1", "secretsmanager describe-secret --secret-id '%s'", earns[2]);
    cr_expect_str_eq(jstr(d, "ARN"), earns[2]);
    cr_expect_str_eq(jstr(d, "KmsKeyId"), east_key_arn);
    cr_expect_str_eq(jstr(d, "Description"), "drctl itest secret");
    expect_drctl_tags(json_object_get(d, "Tags"), "Key", "Value", "SaltKeySecret");
    json_decref(d);

    /* The database handler later adds host and url in the first region;
     * those must not travel to the second. */
    char *with_host = NULL;
    {
        json_t *j = json_loads(ev[0], 0, NULL);
        json_object_set_new(j, "host", json_string("db.us-east-1.example"));
        json_object_set_new(j, "url", json_string("postgresql://east"));
        with_host = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        char *path = dr_xasprintf("/tmp/itsec-%s.json", test_suffix());
        FILE *f = fopen(path, "w");
        cr_assert(f);
        fputs(with_host, f);
        fclose(f);
        json_decref(aws_cli("us-east-1",
                            "secretsmanager put-secret-value --secret-id '%s' --secret-string "
                            "file://%s",
                            earns[0], path));
        remove(path);
        free(path);
    }

    /* Second region, with the first as its peer: the same values. */
    create_all(&west, west_key_arn, warns);
    for (int i = 0; i < NSECRETS; i++) {
        char *wv = secret_value("us-west-2", warns[i]);
        if (i == 0) {
            json_t *w = json_loads(wv, 0, NULL);
            cr_assert(w);
            cr_expect_str_eq(jstr(w, "password"), password, "database password differs");
            cr_expect_null(json_object_get(w, "host"), "the peer's host was copied");
            cr_expect_null(json_object_get(w, "url"), "the peer's url was copied");
            json_decref(w);
        } else {
            cr_expect(strcmp(wv, ev[i]) == 0, "%s differs between the regions", secrets[i].name);
        }
        cr_expect(strstr(warns[i], ":us-west-2:") != NULL, "ARN %s", warns[i]);
        dr_free_secret(wv);
    }

    /* find by name (lost state), read. */
    json_t *props = secret_props(2, east_key_arn, "drctl itest secret");
    int found = 0, exists = 0;
    dr_live live = {0};
    cr_assert(h->find(&east, "SaltKeySecret", props, &found, &live, &err) == 0, "find: %s",
              err.msg);
    cr_assert(found);
    cr_expect_str_eq(live.physical_id, earns[2]);
    dr_live_free(&live);
    cr_assert(h->read(&east, earns[2], props, &exists, &live, &err) == 0, "read: %s", err.msg);
    cr_expect(exists);
    dr_live_free(&live);

    /* A second create with the same token: same secret, value untouched. */
    json_t *tags = model_tags("SaltKeySecret");
    cr_assert(h->create(&east, "SaltKeySecret", props, tags, "us-east-1-02-0123456789abcdef01234",
                        &live, &err) == 0,
              "second create: %s", err.msg);
    cr_expect_str_eq(live.physical_id, earns[2]);
    dr_live_free(&live);
    char *again = secret_value("us-east-1", earns[2]);
    cr_expect(strcmp(again, ev[2]) == 0, "a second create changed the value");
    dr_free_secret(again);

    /* Update in place: description, key, a tag; never the value. */
    json_t *np = secret_props(2, east_key2_arn, "drctl itest secret, updated");
    json_array_append_new(json_object_get(np, "Tags"),
                          json_pack("{s:s, s:s}", "Key", "team", "Value", "platform"));
    cr_assert(h->update(&east, earns[2], props, np, &live, &err) == 0, "update: %s", err.msg);
    dr_live_free(&live);
    d = aws_cli("us-east-1", "secretsmanager describe-secret --secret-id '%s'", earns[2]);
    cr_expect_str_eq(jstr(d, "Description"), "drctl itest secret, updated");
    cr_expect_str_eq(jstr(d, "KmsKeyId"), east_key2_arn);
    const char *team = cli_tag(json_object_get(d, "Tags"), "Key", "Value", "team");
    cr_expect(team && strcmp(team, "platform") == 0, "team tag missing");
    cr_expect_eq(json_object_size(json_object_get(d, "VersionIdsToStages")), 1,
                 "update made a new version");
    json_decref(d);
    again = secret_value("us-east-1", earns[2]);
    cr_expect(strcmp(again, ev[2]) == 0, "update changed the value");
    dr_free_secret(again);

    /* No value anywhere in drctl's logs. */
    for (int i = 0; i < NSECRETS; i++)
        if (strcmp(ev[i], "{}") != 0)
            expect_not_logged(ev[i], secrets[i].name);
    expect_not_logged(password, "database password");

    /* Remove: gone at once, in both regions. */
    for (int i = 0; i < NSECRETS; i++) {
        cr_assert(h->remove(&east, earns[i], NULL, &err) == 0, "remove: %s", err.msg);
        cr_assert(h->remove(&west, warns[i], NULL, &err) == 0, "remove west: %s", err.msg);
    }
    const char *regions[] = {"us-east-1", "us-west-2"};
    for (int r = 0; r < 2; r++) {
        json_t *l = aws_cli(regions[r],
                            "secretsmanager list-secrets --include-planned-deletion "
                            "--filters Key=name,Values=%s/",
                            stack);
        cr_expect_eq(json_array_size(json_object_get(l, "SecretList")), 0, "secrets left in %s",
                     regions[r]);
        json_decref(l);
    }
    cr_assert(h->read(&east, earns[2], props, &exists, &live, &err) == 0, "read after remove: %s",
              err.msg);
    cr_expect_not(exists);
    dr_live_free(&live);
    cr_assert(h->find(&east, "SaltKeySecret", props, &found, &live, &err) == 0);
    cr_expect_not(found);
    dr_live_free(&live);
    cr_assert(h->remove(&east, earns[2], NULL, &err) == 0, "second remove: %s", err.msg);

    const dr_handler *kh = handler("AWS::KMS::Key");
    cr_assert(kh->remove(&east, ek, NULL, &err) == 0 && kh->remove(&east, ek2, NULL, &err) == 0 &&
              kh->remove(&west, wk, NULL, &err) == 0);
    for (int i = 0; i < NSECRETS; i++) {
        dr_free_secret(ev[i]);
        free(earns[i]);
        free(warns[i]);
    }
    dr_free_secret(password);
    dr_free_secret(with_host);
    json_decref(props);
    json_decref(np);
    json_decref(tags);
    free(east_key_arn);
    free(east_key2_arn);
    free(west_key_arn);
    free(ek);
    free(ek2);
    free(wk);
}

/* ---- IAM role ------------------------------------------------------------- */

/* The model's execution role: trust for ECS tasks of this account and
 * region, secrets of this stack only, the key, the log group, ECR. */
static json_t *exec_role_props(const char *name, const char *account, json_t *secret_arns,
                               const char *key_arn, const char *log_arn)
{
    char src[128], ecr[128];
    snprintf(src, sizeof(src), "arn:aws:ecs:us-east-1:%s:*", account);
    snprintf(ecr, sizeof(ecr), "arn:aws:ecr:us-east-1:%s:repository/*", account);
    json_t *trust =
        json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:{s:{s:s}, s:{s:s}}}]}", "Version", "2012-10-17",
                  "Statement", "Effect", "Allow", "Principal", "Service", "ecs-tasks.amazonaws.com",
                  "Action", "sts:AssumeRole", "Condition", "StringEquals", "aws:SourceAccount",
                  account, "ArnLike", "aws:SourceArn", src);
    json_t *stmts = json_pack(
        "[{s:s, s:s, s:[s], s:O}, {s:s, s:s, s:[s], s:s}, {s:s, s:s, s:[s, s], s:s},"
        " {s:s, s:s, s:[s, s, s], s:s}, {s:s, s:s, s:[s], s:s}]",
        "Sid", "ReadThisStacksSecrets", "Effect", "Allow", "Action",
        "secretsmanager:GetSecretValue", "Resource", secret_arns, "Sid", "DecryptWithThisStacksKey",
        "Effect", "Allow", "Action", "kms:Decrypt", "Resource", key_arn, "Sid", "WriteServiceLogs",
        "Effect", "Allow", "Action", "logs:CreateLogStream", "logs:PutLogEvents", "Resource",
        log_arn, "Sid", "PullImagesFromThisAccountsEcr", "Effect", "Allow", "Action",
        "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
        "Resource", ecr, "Sid", "EcrLogin", "Effect", "Allow", "Action",
        "ecr:GetAuthorizationToken", "Resource", "*");
    return json_pack("{s:s, s:s, s:o, s:[{s:s, s:{s:s, s:o}}], s:o}", "RoleName", name,
                     "Description",
                     "ECS task execution: this stack's secrets, key, log group, ECR pulls",
                     "AssumeRolePolicyDocument", trust, "Policies", "PolicyName",
                     "secrets-key-logs", "PolicyDocument", "Version", "2012-10-17", "Statement",
                     stmts, "Tags", model_tags("ExecutionRole"));
}

static int role_listed(const char *name)
{
    json_t *l = aws_cli("us-east-1", "iam list-roles");
    size_t i;
    json_t *r;
    int n = 0;
    json_array_foreach(json_object_get(l, "Roles"), i, r)
    {
        n += jstr(r, "RoleName") && strcmp(jstr(r, "RoleName"), name) == 0;
    }
    json_decref(l);
    return n;
}

/* The statement with this Sid of the role's inline policy, as the AWS CLI
 * shows it (new reference). */
static json_t *inline_statement(const char *role, const char *policy, const char *sid)
{
    json_t *p =
        aws_cli("us-east-1", "iam get-role-policy --role-name %s --policy-name %s", role, policy);
    json_t *doc = json_object_get(p, "PolicyDocument");
    json_t *out = NULL;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(doc, "Statement"), i, s)
    {
        if (jstr(s, "Sid") && strcmp(jstr(s, "Sid"), sid) == 0)
            out = json_incref(s);
    }
    json_decref(p);
    return out;
}

/* The same strings, whatever the order. */
static int same_set(json_t *a, json_t *b)
{
    if (json_is_string(a) && json_array_size(b) == 1)
        return json_equal(a, json_array_get(b, 0));
    if (json_array_size(a) != json_array_size(b))
        return 0;
    size_t i, j;
    json_t *x, *y;
    json_array_foreach(a, i, x)
    {
        int hit = 0;
        json_array_foreach(b, j, y)
        {
            hit |= json_equal(x, y);
        }
        if (!hit)
            return 0;
    }
    return 1;
}

Test(security, iam_role_lifecycle_least_privilege)
{
    const dr_handler *h = handler("AWS::IAM::Role");
    static const char *const peers[] = {"us-west-2", NULL};
    dr_apply_ctx c = ctx_in("us-east-1", peers);
    dr_err err;
    dr_err_clear(&err);
    char *account = account_id();
    /* This stack's secrets and key, made by their handlers. */
    char *key_arn = NULL;
    char *kid = make_key(&c, "Key", &key_arn);
    char *arns[NSECRETS];
    create_all(&c, key_arn, arns);
    json_t *injected =
        json_pack("[s, s, s, s]", arns[0], arns[1], arns[2], arns[4]); /* not provider keys */
    char log_arn[256];
    snprintf(log_arn, sizeof(log_arn), "arn:aws:logs:us-east-1:%s:log-group:/drctl/%s/litellm:*",
             account, stack);
    char name[96];
    snprintf(name, sizeof(name), "%s-us-east-1-task-exec", stack);
    cr_assert(strlen(name) <= 64, "role name %s too long", name);
    json_t *props = exec_role_props(name, account, injected, key_arn, log_arn);
    /* A customer managed policy to attach (ManagedPolicyArns). */
    char *pdoc = dr_xasprintf("/tmp/itsec-pol-%s.json", test_suffix());
    FILE *f = fopen(pdoc, "w");
    cr_assert(f);
    fputs("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"
          "\"cloudwatch:PutMetricData\",\"Resource\":\"*\"}]}",
          f);
    fclose(f);
    json_t *mp = aws_cli("us-east-1",
                         "iam create-policy --policy-name %s-metrics --policy-document file://%s",
                         stack, pdoc);
    remove(pdoc);
    free(pdoc);
    char *managed = dr_xstrdup(jstr(json_object_get(mp, "Policy"), "Arn"));
    json_decref(mp);
    json_object_set_new(props, "ManagedPolicyArns", json_pack("[s]", managed));

    json_t *tags = model_tags("ExecutionRole");
    dr_live live = {0};
    cr_assert(h->create(&c, "ExecutionRole", props, tags, "tok", &live, &err) == 0, "create: %s",
              err.msg);
    cr_expect_str_eq(live.physical_id, name);
    char *role_arn = dr_xstrdup(jstr(live.attributes, "Arn"));
    cr_expect(strstr(role_arn, ":role/") != NULL, "Arn attribute %s", role_arn);
    dr_live_free(&live);
    cr_assert(h->wait_ready(&c, name, &err) == 0, "wait_ready: %s", err.msg);

    /* The AWS CLI: trust policy, tags, inline policy, managed policy. */
    json_t *r = aws_cli("us-east-1", "iam get-role --role-name %s", name);
    json_t *role = json_object_get(r, "Role");
    cr_expect_str_eq(jstr(role, "Arn"), role_arn);
    json_t *trust = json_array_get(
        json_object_get(json_object_get(role, "AssumeRolePolicyDocument"), "Statement"), 0);
    cr_expect_str_eq(jstr(json_object_get(trust, "Principal"), "Service"),
                     "ecs-tasks.amazonaws.com");
    cr_expect_str_eq(jstr(trust, "Action"), "sts:AssumeRole");
    cr_expect_str_eq(jstr(json_object_get(json_object_get(trust, "Condition"), "StringEquals"),
                          "aws:SourceAccount"),
                     account);
    expect_drctl_tags(json_object_get(role, "Tags"), "Key", "Value", "ExecutionRole");
    json_decref(r);
    json_t *st = inline_statement(name, "secrets-key-logs", "ReadThisStacksSecrets");
    cr_assert(st, "no ReadThisStacksSecrets statement");
    json_t *want = json_pack("[s]", "secretsmanager:GetSecretValue");
    cr_expect(same_set(json_object_get(st, "Action"), want), "GetSecretValue only");
    json_decref(want);
    cr_expect(same_set(json_object_get(st, "Resource"), injected),
              "GetSecretValue resources are not exactly this stack's injected secrets");
    json_decref(st);
    st = inline_statement(name, "secrets-key-logs", "DecryptWithThisStacksKey");
    cr_assert(st);
    want = json_pack("[s]", key_arn);
    cr_expect(same_set(json_object_get(st, "Resource"), want),
              "kms:Decrypt is not limited to the stack's key");
    json_decref(want);
    json_decref(st);
    json_t *att = aws_cli("us-east-1", "iam list-attached-role-policies --role-name %s", name);
    cr_expect_eq(json_array_size(json_object_get(att, "AttachedPolicies")), 1);
    cr_expect_str_eq(jstr(json_array_get(json_object_get(att, "AttachedPolicies"), 0), "PolicyArn"),
                     managed);
    json_decref(att);

    /* find (lost state): same role, its properties read back as the model
     * writes them, so an adopted role shows no false change. */
    int found = 0, exists = 0;
    cr_assert(h->find(&c, "ExecutionRole", props, &found, &live, &err) == 0, "find: %s", err.msg);
    cr_assert(found);
    cr_expect_str_eq(live.physical_id, name);
    static const char *const compared[] = {"RoleName", "Description", "AssumeRolePolicyDocument",
                                           "Policies", "ManagedPolicyArns"};
    for (size_t i = 0; i < sizeof(compared) / sizeof(compared[0]); i++)
        cr_expect(json_equal(json_object_get(live.properties, compared[i]),
                             json_object_get(props, compared[i])),
                  "adopted %s differs from the model's", compared[i]);
    dr_live_free(&live);
    /* Another logical id does not adopt it (tags checked). */
    cr_assert(h->find(&c, "TaskRole", props, &found, &live, &err) == 0);
    cr_expect_not(found, "a role with another logical id's tags was adopted");
    dr_live_free(&live);
    cr_assert(h->read(&c, name, props, &exists, &live, &err) == 0, "read: %s", err.msg);
    cr_expect(exists);
    cr_expect_str_eq(jstr(live.attributes, "Arn"), role_arn);
    dr_live_free(&live);

    /* A second create (a lost answer): same role, no error, one role. */
    cr_assert(h->create(&c, "ExecutionRole", props, tags, "tok", &live, &err) == 0,
              "second create: %s", err.msg);
    dr_live_free(&live);
    cr_expect_eq(role_listed(name), 1);

    /* Update in place: description, one more inline policy, the managed
     * policy detached, a tag. */
    json_t *np = json_deep_copy(props);
    json_object_set_new(np, "Description", json_string("updated"));
    json_array_append_new(json_object_get(np, "Policies"),
                          json_pack("{s:s, s:{s:s, s:[{s:s, s:s, s:s}]}}", "PolicyName", "extra",
                                    "PolicyDocument", "Version", "2012-10-17", "Statement",
                                    "Effect", "Allow", "Action", "s3:ListAllMyBuckets", "Resource",
                                    "*"));
    json_object_set_new(np, "ManagedPolicyArns", json_array());
    json_array_append_new(json_object_get(np, "Tags"),
                          json_pack("{s:s, s:s}", "Key", "team", "Value", "platform"));
    cr_assert(h->update(&c, name, props, np, &live, &err) == 0, "update: %s", err.msg);
    dr_live_free(&live);
    r = aws_cli("us-east-1", "iam get-role --role-name %s", name);
    cr_expect_str_eq(jstr(json_object_get(r, "Role"), "Description"), "updated");
    const char *team =
        cli_tag(json_object_get(json_object_get(r, "Role"), "Tags"), "Key", "Value", "team");
    cr_expect(team && strcmp(team, "platform") == 0, "team tag missing");
    json_decref(r);
    json_t *pl = aws_cli("us-east-1", "iam list-role-policies --role-name %s", name);
    cr_expect_eq(json_array_size(json_object_get(pl, "PolicyNames")), 2);
    json_decref(pl);
    att = aws_cli("us-east-1", "iam list-attached-role-policies --role-name %s", name);
    cr_expect_eq(json_array_size(json_object_get(att, "AttachedPolicies")), 0);
    json_decref(att);
    /* ... and back: the extra policy goes. */
    cr_assert(h->update(&c, name, np, props, &live, &err) == 0, "update back: %s", err.msg);
    dr_live_free(&live);
    pl = aws_cli("us-east-1", "iam list-role-policies --role-name %s", name);
    cr_expect_eq(json_array_size(json_object_get(pl, "PolicyNames")), 1);
    json_decref(pl);

    /* Remove: inline and managed policies first, then the role. */
    cr_assert(h->remove(&c, name, props, &err) == 0, "remove: %s", err.msg);
    cr_expect_eq(role_listed(name), 0, "role still listed");
    cr_assert(h->read(&c, name, props, &exists, &live, &err) == 0, "read after remove: %s",
              err.msg);
    cr_expect_not(exists);
    dr_live_free(&live);
    cr_assert(h->remove(&c, name, props, &err) == 0, "second remove: %s", err.msg);

    /* A role of that name that is not ours is neither adopted nor
     * silently reused by create. */
    json_decref(aws_cli("us-east-1",
                        "iam create-role --role-name %s --assume-role-policy-document "
                        "'{\"Version\":\"2012-10-17\",\"Statement\":[]}'",
                        name));
    cr_assert(h->find(&c, "ExecutionRole", props, &found, &live, &err) == 0);
    cr_expect_not(found, "a foreign role was adopted");
    dr_live_free(&live);
    cr_expect(h->create(&c, "ExecutionRole", props, tags, "tok", &live, &err) != 0);
    cr_expect(err.has_aws && strcmp(err.aws.code, "EntityAlreadyExists") == 0, "%s", err.msg);
    dr_live_free(&live);
    dr_err_clear(&err);
    json_decref(aws_cli("us-east-1", "iam delete-role --role-name %s", name));

    const dr_handler *sh_ = handler("AWS::SecretsManager::Secret");
    for (int i = 0; i < NSECRETS; i++) {
        cr_assert(sh_->remove(&c, arns[i], NULL, &err) == 0);
        free(arns[i]);
    }
    cr_assert(handler("AWS::KMS::Key")->remove(&c, kid, NULL, &err) == 0);
    json_decref(aws_cli("us-east-1", "iam delete-policy --policy-arn %s", managed));
    json_decref(np);
    json_decref(props);
    json_decref(tags);
    json_decref(injected);
    free(managed);
    free(role_arn);
    free(key_arn);
    free(kid);
    free(account);
}

/* ---- ACM certificate ----------------------------------------------------- */

static int cert_listed(const char *arn)
{
    json_t *l = aws_cli("us-east-1", "acm list-certificates --certificate-statuses "
                                     "PENDING_VALIDATION ISSUED FAILED");
    size_t i;
    json_t *s;
    int n = 0;
    json_array_foreach(json_object_get(l, "CertificateSummaryList"), i, s)
    {
        n += jstr(s, "CertificateArn") && strcmp(jstr(s, "CertificateArn"), arn) == 0;
    }
    json_decref(l);
    return n;
}

Test(security, acm_certificate_dns_validation)
{
    const dr_handler *h = handler("AWS::CertificateManager::Certificate");
    dr_apply_ctx c = ctx_in("us-east-1", NULL);
    dr_err err;
    dr_err_clear(&err);
    char domain[128];
    snprintf(domain, sizeof(domain), "llm-%s.example.com", test_suffix());
    json_t *props = json_pack("{s:s, s:s, s:o}", "DomainName", domain, "ValidationMethod", "DNS",
                              "Tags", model_tags("Certificate"));
    json_t *tags = model_tags("Certificate");
    /* A token of this run: moto remembers tokens of deleted certificates
     * and answers 500 when one comes again (AWS forgets them after an
     * hour; the engine's tokens are unique per resource and generation). */
    char token[33];
    snprintf(token, sizeof(token), "itest%s", test_suffix());
    for (char *p = token; *p; p++)
        if (*p == '-')
            *p = '_';
    dr_live live = {0};
    cr_assert(h->create(&c, "Certificate", props, tags, token, &live, &err) == 0, "create: %s",
              err.msg);
    char *arn = dr_xstrdup(live.physical_id);
    cr_expect(strstr(arn, ":acm:us-east-1:") != NULL, "ARN %s", arn);
    dr_live_free(&live);
    /* moto keeps it PENDING_VALIDATION for 60 s: accepted, with the record. */
    cr_assert(h->wait_ready(&c, arn, &err) == 0, "wait_ready: %s", err.msg);
    int exists = 0, found = 0;
    cr_assert(h->read(&c, arn, props, &exists, &live, &err) == 0, "read: %s", err.msg);
    cr_assert(exists);
    const char *rr_name = jstr(live.attributes, "ValidationRecordName");
    cr_assert(rr_name, "no validation record in the attributes");
    cr_expect_str_eq(jstr(live.attributes, "ValidationRecordType"), "CNAME");
    char *rr = dr_xstrdup(rr_name);
    char *rv = dr_xstrdup(jstr(live.attributes, "ValidationRecordValue"));
    dr_live_free(&live);

    json_t *d = aws_cli("us-east-1", "acm describe-certificate --certificate-arn %s", arn);
    json_t *crt = json_object_get(d, "Certificate");
    cr_expect_str_eq(jstr(crt, "DomainName"), domain);
    const char *status = jstr(crt, "Status");
    cr_expect(strcmp(status, "PENDING_VALIDATION") == 0 || strcmp(status, "ISSUED") == 0, "%s",
              status);
    json_t *dvo = json_array_get(json_object_get(crt, "DomainValidationOptions"), 0);
    cr_expect_str_eq(jstr(dvo, "ValidationMethod"), "DNS");
    cr_expect_str_eq(jstr(json_object_get(dvo, "ResourceRecord"), "Name"), rr);
    cr_expect_str_eq(jstr(json_object_get(dvo, "ResourceRecord"), "Value"), rv);
    json_decref(d);
    json_t *t = aws_cli("us-east-1", "acm list-tags-for-certificate --certificate-arn %s", arn);
    expect_drctl_tags(json_object_get(t, "Tags"), "Key", "Value", "Certificate");
    json_decref(t);

    /* Same token, same tags: ACM returns the same certificate. */
    cr_assert(h->create(&c, "Certificate", props, tags, token, &live, &err) == 0,
              "second create: %s", err.msg);
    cr_expect_str_eq(live.physical_id, arn);
    dr_live_free(&live);
    cr_expect_eq(cert_listed(arn), 1);

    cr_assert(h->find(&c, "Certificate", props, &found, &live, &err) == 0, "find: %s", err.msg);
    cr_assert(found);
    cr_expect_str_eq(live.physical_id, arn);
    cr_expect_str_eq(jstr(live.properties, "ValidationMethod"), "DNS");
    dr_live_free(&live);

    /* Update in place: tags. */
    json_t *np = json_deep_copy(props);
    json_array_append_new(json_object_get(np, "Tags"),
                          json_pack("{s:s, s:s}", "Key", "team", "Value", "platform"));
    cr_assert(h->update(&c, arn, props, np, &live, &err) == 0, "update: %s", err.msg);
    dr_live_free(&live);
    t = aws_cli("us-east-1", "acm list-tags-for-certificate --certificate-arn %s", arn);
    const char *team = cli_tag(json_object_get(t, "Tags"), "Key", "Value", "team");
    cr_expect(team && strcmp(team, "platform") == 0);
    json_decref(t);
    cr_assert(h->update(&c, arn, np, props, &live, &err) == 0, "update back: %s", err.msg);
    dr_live_free(&live);
    t = aws_cli("us-east-1", "acm list-tags-for-certificate --certificate-arn %s", arn);
    cr_expect_null(cli_tag(json_object_get(t, "Tags"), "Key", "Value", "team"));
    json_decref(t);

    cr_assert(h->remove(&c, arn, props, &err) == 0, "remove: %s", err.msg);
    cr_expect_eq(cert_listed(arn), 0);
    cr_assert(h->read(&c, arn, props, &exists, &live, &err) == 0, "read after remove: %s", err.msg);
    cr_expect_not(exists);
    dr_live_free(&live);
    cr_assert(h->find(&c, "Certificate", props, &found, &live, &err) == 0);
    cr_expect_not(found);
    dr_live_free(&live);
    cr_assert(h->remove(&c, arn, props, &err) == 0, "second remove: %s", err.msg);

    json_decref(np);
    json_decref(props);
    json_decref(tags);
    free(rr);
    free(rv);
    free(arn);
}

/* A secret that exists already (kept by DeletionPolicy Retain, made by
 * hand, or scheduled for deletion) is taken over: its value is data and is
 * kept; one without a value gets one. */
Test(security, secrets_taken_over_when_they_exist)
{
    const dr_handler *h = handler("AWS::SecretsManager::Secret");
    dr_apply_ctx c = ctx_in("us-east-1", NULL);
    dr_err err;
    dr_err_clear(&err);
    char *key_arn = NULL;
    char *kid = make_key(&c, "Key", &key_arn);

    /* Made by hand without a value: filled. */
    json_t *props = secret_props(2, key_arn, "drctl itest secret");
    const char *name = jstr(props, "Name");
    json_decref(aws_cli("us-east-1", "secretsmanager create-secret --name '%s'", name));
    json_t *tags = model_tags("SaltKeySecret");
    dr_live live = {0};
    cr_assert(h->create(&c, "SaltKeySecret", props, tags, "0123456789abcdef0123456789abcdef", &live,
                        &err) == 0,
              "create over a valueless secret: %s", err.msg);
    char *arn = dr_xstrdup(live.physical_id);
    dr_live_free(&live);
    char *v = secret_value("us-east-1", arn);
    cr_expect(all_alnum(v, 64), "salt key not filled");
    json_t *d = aws_cli("us-east-1", "secretsmanager describe-secret --secret-id '%s'", arn);
    cr_expect_str_eq(jstr(d, "Description"), "drctl itest secret");
    cr_expect_str_eq(jstr(d, "KmsKeyId"), key_arn);
    expect_drctl_tags(json_object_get(d, "Tags"), "Key", "Value", "SaltKeySecret");
    json_decref(d);

    /* Scheduled for deletion (someone deleted it with a recovery window):
     * restored with its value, not replaced by a new one. */
    json_decref(aws_cli("us-east-1",
                        "secretsmanager delete-secret --secret-id '%s' --recovery-window-in-days 7",
                        arn));
    int exists = 1;
    cr_assert(h->read(&c, arn, props, &exists, &live, &err) == 0, "read: %s", err.msg);
    cr_expect_not(exists, "a secret pending deletion counts as gone");
    dr_live_free(&live);
    cr_assert(h->create(&c, "SaltKeySecret", props, tags, "0123456789abcdef0123456789abcdef", &live,
                        &err) == 0,
              "create over a deleted secret: %s", err.msg);
    cr_expect_str_eq(live.physical_id, arn);
    dr_live_free(&live);
    char *w = secret_value("us-east-1", arn);
    cr_expect(strcmp(v, w) == 0, "the restored secret's value changed");
    cr_assert(h->read(&c, arn, props, &exists, &live, &err) == 0);
    cr_expect(exists);
    dr_live_free(&live);

    /* Scheduled for deletion again: remove still deletes it for good. */
    json_decref(aws_cli("us-east-1",
                        "secretsmanager delete-secret --secret-id '%s' --recovery-window-in-days 7",
                        arn));
    cr_assert(h->remove(&c, arn, props, &err) == 0, "remove of a pending secret: %s", err.msg);
    json_t *l = aws_cli("us-east-1",
                        "secretsmanager list-secrets --include-planned-deletion "
                        "--filters Key=name,Values=%s/",
                        stack);
    cr_expect_eq(json_array_size(json_object_get(l, "SecretList")), 0, "secret left behind");
    json_decref(l);

    cr_assert(handler("AWS::KMS::Key")->remove(&c, kid, NULL, &err) == 0);
    dr_free_secret(v);
    dr_free_secret(w);
    json_decref(props);
    json_decref(tags);
    free(arn);
    free(key_arn);
    free(kid);
}
