/*
 * test_store.c - the local bundle store: publish is atomic (a staged file
 * and its summary become a listed bundle, nothing less is listed), cleanup
 * removes work in progress and orphaned sidecars, delete, ordering, names
 * that are not ours, and random access through a source.
 * tests/integration/itest_store_vault.c covers the S3 vault.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/store.h"
#include "util/mem.h"

static char tmp[64];
static dr_store *st;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/drctl-store-XXXXXX");
    cr_assert(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_store_open(tmp, NULL, NULL, &st, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
    dr_store_free(st);
    st = NULL;
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(store, .init = setup, .fini = teardown);

static void write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "fopen %s: %s", path, strerror(errno));
    fputs(data, f);
    fclose(f);
}

/* tmp/<sub>/<name> exists */
static int exists_in(const char *sub, const char *name)
{
    char *p = dr_xasprintf("%s/%s/%s", tmp, sub, name);
    int r = access(p, F_OK) == 0;
    free(p);
    return r;
}

static json_t *summary(uint64_t v)
{
    return json_pack("{s:i, s:s, s:I, s:I, s:s, s:I}", "format", 1, "stack", "lite", "version",
                     (json_int_t)v, "parent", (json_int_t)0, "kind", "full", "captured_at",
                     (json_int_t)(1700000000 + v));
}

/* Stages "bundle vN" and publishes it. */
static void publish(uint64_t v)
{
    dr_err err;
    dr_err_clear(&err);
    char *staged = dr_store_staging_path(st, "lite", v, &err);
    cr_assert_not_null(staged, "%s", err.msg);
    char data[64];
    snprintf(data, sizeof(data), "bundle v%llu", (unsigned long long)v);
    write_file(staged, data);
    json_t *s = summary(v);
    cr_assert_eq(dr_store_publish(st, "lite", v, staged, s, 0, &err), 0, "%s", err.msg);
    json_decref(s);
    cr_expect(access(staged, F_OK) != 0, "the staged file was moved");
    free(staged);
}

static void list(dr_store_list *l)
{
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_store_list(st, "lite", l, &err), 0, "%s", err.msg);
}

Test(store, describe_and_kind)
{
    cr_expect_str_eq(dr_store_describe(st), tmp);
    cr_expect_eq(dr_store_is_s3(st), 0);
    char *n = dr_store_bundle_name("lite", 7);
    cr_expect_str_eq(n, "lite-v000007.drb");
    free(n);
    n = dr_store_bundle_name("lite", 12345678);
    cr_expect_str_eq(n, "lite-v12345678.drb");
    free(n);
}

Test(store, open_specs)
{
    dr_err err;
    dr_err_clear(&err);
    dr_store *s = NULL;
    cr_expect_eq(dr_store_open("", NULL, NULL, &s, &err), -1);
    cr_expect_eq(err.code, DR_E_USAGE);
    cr_expect_eq(dr_store_open("s3://Bad_Bucket/x", (dr_aws *)1, "us-west-2", &s, &err), -1);
    cr_expect_eq(err.code, DR_E_USAGE);
    cr_expect_eq(dr_store_open("s3://ok-bucket/p", NULL, NULL, &s, &err), -1, "needs a client");
    cr_assert_eq(dr_store_open("s3://ok-bucket/a/b/", (dr_aws *)1, "us-west-2", &s, &err), 0, "%s",
                 err.msg);
    cr_expect(dr_store_is_s3(s));
    cr_expect_str_eq(dr_store_describe(s), "s3://ok-bucket/a/b (us-west-2)");
    char *p = dr_store_staging_path(s, "lite", 1, &err);
    cr_expect_null(p);
    dr_store_free(s);
    cr_assert_eq(dr_store_open("s3://ok-bucket", (dr_aws *)1, "us-west-2", &s, &err), 0);
    cr_expect_str_eq(dr_store_describe(s), "s3://ok-bucket (us-west-2)");
    dr_store_free(s);
}

Test(store, empty_store_lists_nothing)
{
    dr_store_list l;
    list(&l);
    cr_expect_eq(l.n, 0);
    cr_expect_eq(dr_store_list_max_version(&l), 0);
    dr_store_list_free(&l);
}

Test(store, staging_path_is_under_tmp)
{
    dr_err err;
    dr_err_clear(&err);
    char *p = dr_store_staging_path(st, "lite", 3, &err);
    char *want = dr_xasprintf("%s/tmp/lite/lite-v000003.drb", tmp);
    cr_expect_str_eq(p, want);
    struct stat sb;
    char *dir = dr_xasprintf("%s/tmp/lite", tmp);
    cr_assert_eq(stat(dir, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0700);
    free(dir);
    free(want);
    free(p);
    cr_expect_null(dr_store_staging_path(st, "../x", 3, &err), "bad stack names are refused");
}

Test(store, publish_then_list)
{
    publish(1);
    dr_store_list l;
    list(&l);
    cr_assert_eq(l.n, 1);
    cr_expect_eq(l.v[0].version, 1);
    cr_expect_str_eq(l.v[0].name, "lite-v000001.drb");
    char *loc = dr_xasprintf("%s/bundles/lite/lite-v000001.drb", tmp);
    cr_expect_str_eq(l.v[0].location, loc);
    free(loc);
    cr_expect_eq(l.v[0].size, strlen("bundle v1"));
    cr_assert_not_null(l.v[0].summary);
    cr_expect_str_eq(json_string_value(json_object_get(l.v[0].summary, "kind")), "full");
    cr_expect_eq(dr_store_list_max_version(&l), 1);
    cr_expect_not_null(dr_store_list_find(&l, 1));
    cr_expect_null(dr_store_list_find(&l, 2));
    dr_store_list_free(&l);
    cr_expect(exists_in("bundles/lite", "lite-v000001.json"));
}

Test(store, publish_refuses_an_existing_version)
{
    publish(4);
    dr_err err;
    dr_err_clear(&err);
    char *staged = dr_store_staging_path(st, "lite", 4, &err);
    write_file(staged, "again");
    json_t *s = summary(4);
    cr_expect_eq(dr_store_publish(st, "lite", 4, staged, s, 0, &err), -1);
    cr_expect(strstr(err.msg, "exists already"), "%s", err.msg);
    json_decref(s);
    free(staged);
}

Test(store, publish_without_staged_file_fails_and_lists_nothing)
{
    dr_err err;
    dr_err_clear(&err);
    char *staged = dr_store_staging_path(st, "lite", 2, &err);
    json_t *s = summary(2);
    cr_expect_eq(dr_store_publish(st, "lite", 2, staged, s, 0, &err), -1);
    cr_expect_eq(err.code, DR_E_IO);
    json_decref(s);
    free(staged);
    dr_store_list l;
    list(&l);
    cr_expect_eq(l.n, 0);
    dr_store_list_free(&l);
}

Test(store, list_is_ascending_and_ignores_strangers)
{
    publish(10);
    publish(2);
    publish(7);
    char *dir = dr_xasprintf("%s/bundles/lite", tmp);
    const char *junk[] = {
        "lite-v7.drb",      "lite-v0000007.drb",    "other-v000003.drb",   "lite-v00000x.drb",
        "lite-v000000.drb", "lite-v000005.drb.tmp", ".lite-v000009.drb.x", "README"};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        char *p = dr_xasprintf("%s/%s", dir, junk[i]);
        write_file(p, "junk");
        free(p);
    }
    /* A bundle whose sidecar does not parse, and one with no sidecar. */
    char *p = dr_xasprintf("%s/lite-v000003.drb", dir);
    write_file(p, "x");
    free(p);
    p = dr_xasprintf("%s/lite-v000003.json", dir);
    write_file(p, "{not json");
    free(p);
    p = dr_xasprintf("%s/lite-v000004.drb", dir);
    write_file(p, "x");
    free(p);
    free(dir);

    dr_store_list l;
    list(&l);
    cr_assert_eq(l.n, 3);
    cr_expect_eq(l.v[0].version, 2);
    cr_expect_eq(l.v[1].version, 7);
    cr_expect_eq(l.v[2].version, 10);
    cr_expect_eq(dr_store_list_max_version(&l), 10);
    dr_store_list_free(&l);
}

Test(store, sidecar_without_bundle_is_not_listed_and_cleanup_removes_it)
{
    publish(1);
    char *orphan = dr_xasprintf("%s/bundles/lite/lite-v000002.json", tmp);
    write_file(orphan, "{\"version\": 2}");
    char *stale = dr_xasprintf("%s/bundles/lite/.lite-v000003.json.tmp-123", tmp);
    write_file(stale, "{");
    dr_store_list l;
    list(&l);
    cr_expect_eq(l.n, 1);
    dr_store_list_free(&l);

    dr_err err;
    dr_err_clear(&err);
    size_t removed = 99;
    cr_assert_eq(dr_store_cleanup(st, "lite", &removed, &err), 0, "%s", err.msg);
    cr_expect_eq(removed, 2);
    cr_expect(access(orphan, F_OK) != 0);
    cr_expect(access(stale, F_OK) != 0);
    cr_expect(exists_in("bundles/lite", "lite-v000001.json"), "a bundle's sidecar stays");
    cr_expect(exists_in("bundles/lite", "lite-v000001.drb"));
    free(orphan);
    free(stale);
}

Test(store, cleanup_empties_tmp)
{
    dr_err err;
    dr_err_clear(&err);
    char *staged = dr_store_staging_path(st, "lite", 5, &err);
    write_file(staged, "half a bundle");
    char *hidden = dr_xasprintf("%s/tmp/lite/.lite-v000005.drb.tmp-XYZ", tmp);
    write_file(hidden, "writer temp");
    char *sub = dr_xasprintf("%s/tmp/lite/objects", tmp);
    cr_assert_eq(mkdir(sub, 0700), 0);
    char *deep = dr_xasprintf("%s/a", sub);
    write_file(deep, "x");
    /* Another stack's work is not ours to remove. */
    char *other_dir = dr_xasprintf("%s/tmp/other", tmp);
    cr_assert_eq(mkdir(other_dir, 0700), 0);
    char *other = dr_xasprintf("%s/keep", other_dir);
    write_file(other, "x");

    size_t removed = 0;
    cr_assert_eq(dr_store_cleanup(st, "lite", &removed, &err), 0, "%s", err.msg);
    cr_expect_eq(removed, 3);
    cr_expect(access(staged, F_OK) != 0);
    cr_expect(access(hidden, F_OK) != 0);
    cr_expect(access(sub, F_OK) != 0);
    cr_expect(exists_in("tmp", "lite"), "tmp/<stack> itself stays");
    cr_expect(access(other, F_OK) == 0);
    /* Idempotent, and fine when nothing is there. */
    cr_assert_eq(dr_store_cleanup(st, "lite", &removed, &err), 0, "%s", err.msg);
    cr_expect_eq(removed, 0);
    cr_assert_eq(dr_store_cleanup(st, "never", NULL, &err), 0, "%s", err.msg);
    free(staged);
    free(hidden);
    free(sub);
    free(deep);
    free(other_dir);
    free(other);
}

Test(store, delete_removes_both)
{
    publish(1);
    publish(2);
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_store_delete(st, "lite", 1, &err), 0, "%s", err.msg);
    cr_expect(!exists_in("bundles/lite", "lite-v000001.drb"));
    cr_expect(!exists_in("bundles/lite", "lite-v000001.json"));
    dr_store_list l;
    list(&l);
    cr_assert_eq(l.n, 1);
    cr_expect_eq(l.v[0].version, 2);
    dr_store_list_free(&l);
    cr_expect_eq(dr_store_delete(st, "lite", 1, &err), -1);
    cr_expect_eq(err.code, DR_E_NOT_FOUND);
}

Test(store, source_and_fetch)
{
    publish(3);
    dr_store_list l;
    list(&l);
    cr_assert_eq(l.n, 1);
    dr_err err;
    dr_err_clear(&err);
    dr_bundle_source src;
    void *ud = NULL;
    cr_assert_eq(dr_store_open_source(st, &l.v[0], &src, &ud, &err), 0, "%s", err.msg);
    cr_expect_eq(src.size, strlen("bundle v3"));
    char buf[4] = {0};
    cr_assert_eq(src.pread(src.ud, buf, 2, 7, &err), 0, "%s", err.msg);
    cr_expect_eq(memcmp(buf, "v3", 2), 0);
    cr_expect_eq(src.pread(src.ud, buf, 3, 7, &err), -1, "reading past the end fails");
    dr_store_source_free(ud);

    char *dest = dr_xasprintf("%s/copy.drb", tmp);
    cr_assert_eq(dr_store_fetch(st, &l.v[0], dest, &err), 0, "%s", err.msg);
    FILE *f = fopen(dest, "r");
    char got[32] = {0};
    cr_assert(f);
    cr_expect(fgets(got, sizeof(got), f));
    fclose(f);
    cr_expect_str_eq(got, "bundle v3");
    free(dest);
    dr_store_list_free(&l);
}
