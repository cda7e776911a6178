/*
 * test_state.c - the deployed state file and the run lock.
 *
 * Each test runs in its own process (Criterion forks) with a fresh
 * temporary store. The atomic-save test makes the write itself fail
 * (RLIMIT_FSIZE: the kernel refuses to grow a file past the limit, even for
 * root) and checks that the previous file is intact and no temporary file
 * is left behind.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stack/state.h"
#include "util/lock.h"
#include "util/mem.h"

static char store[64];

static void setup(void)
{
    snprintf(store, sizeof(store), "/tmp/drctl-state-XXXXXX");
    cr_assert(mkdtemp(store), "mkdtemp: %s", strerror(errno));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void teardown(void)
{
    nftw(store, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(state, .init = setup, .fini = teardown);

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = dr_xmalloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_file(const char *path, const char *text)
{
    char *dir = dr_xstrdup(path);
    *strrchr(dir, '/') = '\0';
    cr_assert(dr_mkdirs(dir, 0700) == 0);
    free(dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d, "opendir %s", dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

Test(state, missing_file_is_empty_state)
{
    dr_state st;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_state_load(store, "app", "us-east-1", &st, &err), 0, "%s", err.msg);
    cr_assert_eq(json_object_size(st.resources), 0);
    cr_assert_eq(json_object_size(st.outputs), 0);
    cr_assert_eq(strlen(st.epoch), 32);
    char *want = dr_xasprintf("%s/state/app/us-east-1.json", store);
    cr_assert_str_eq(st.path, want);
    free(want);
    cr_assert_not(dr_state_exists(store, "app", "us-east-1"));
    dr_state_free(&st);
}

Test(state, save_and_load_round_trip_with_modes)
{
    dr_state st;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_state_load(store, "app", "us-east-1", &st, &err), 0);
    json_t *props = json_pack("{s:s, s:i}", "CidrBlock", "10.0.0.0/16", "Size", 3);
    json_t *attrs = json_pack("{s:s}", "Arn", "arn:aws:ec2:::vpc/vpc-1");
    dr_state_put(&st, "Vpc", "AWS::EC2::VPC", "vpc-1", DR_RES_READY, props, attrs);
    dr_state_put(&st, "Subnet", "AWS::EC2::Subnet", NULL, DR_RES_CREATING, NULL, NULL);
    json_object_set_new(st.outputs, "VpcId", json_string("vpc-1"));
    cr_assert_eq(dr_state_save(&st, &err), 0, "%s", err.msg);
    char *epoch = dr_xstrdup(st.epoch);
    dr_state_free(&st);

    struct stat sb;
    char *dir = dr_xasprintf("%s/state/app", store);
    cr_assert_eq(stat(dir, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0700, "dir mode %o", sb.st_mode & 0777);
    char *path = dr_xasprintf("%s/us-east-1.json", dir);
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0600, "file mode %o", sb.st_mode & 0777);
    cr_assert_eq(count_entries(dir), 1, "no temporary file left");

    cr_assert_eq(dr_state_load(store, "app", "us-east-1", &st, &err), 0, "%s", err.msg);
    cr_assert_str_eq(st.epoch, epoch, "the epoch survives");
    json_t *e = dr_state_get(&st, "Vpc");
    cr_assert(e);
    cr_assert_str_eq(dr_state_physical_id(e), "vpc-1");
    cr_assert_str_eq(dr_state_type(e), "AWS::EC2::VPC");
    cr_assert_eq(dr_state_status(e), DR_RES_READY);
    cr_assert(json_equal(json_object_get(e, "properties"), props));
    cr_assert(json_equal(json_object_get(e, "attributes"), attrs));
    json_t *s2 = dr_state_get(&st, "Subnet");
    cr_assert_null(dr_state_physical_id(s2));
    cr_assert(json_is_null(json_object_get(s2, "physical_id")));
    cr_assert_eq(dr_state_status(s2), DR_RES_CREATING);
    cr_assert_str_eq(json_string_value(json_object_get(st.outputs, "VpcId")), "vpc-1");
    dr_state_free(&st);
    json_decref(props);
    json_decref(attrs);
    free(epoch);
    free(path);
    free(dir);
}

Test(state, put_keeps_bookkeeping_and_copies)
{
    dr_state st;
    dr_err err;
    cr_assert_eq(dr_state_load(store, "app", "eu-west-1", &st, &err), 0);
    json_t *props = json_pack("{s:s}", "A", "1");
    dr_state_put(&st, "X", "T::X", NULL, DR_RES_CREATING, props, NULL);
    json_t *e = dr_state_get(&st, "X");
    json_object_set_new(e, "generation", json_integer(3));
    json_object_set_new(e, "depends_on", json_pack("[s]", "Y"));
    json_object_set_new(e, "previous", json_pack("{s:s}", "physical_id", "old-1"));
    json_object_set_new(props, "A", json_string("changed"));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "properties"), "A")), "1",
                     "properties are copied");
    dr_state_put(&st, "X", "T::X", "x-1", DR_RES_READY, props, NULL);
    e = dr_state_get(&st, "X");
    cr_assert_eq(dr_state_generation(e), 3);
    cr_assert(json_is_array(json_object_get(e, "depends_on")));
    cr_assert(json_is_object(json_object_get(e, "previous")));
    cr_assert_str_eq(dr_state_physical_id(e), "x-1");
    dr_state_remove(&st, "X");
    cr_assert_null(dr_state_get(&st, "X"));
    json_decref(props);
    dr_state_free(&st);
}

static void expect_corrupt(const char *text, const char *fragment)
{
    char *path = dr_xasprintf("%s/state/app/us-east-1.json", store);
    write_file(path, text);
    dr_state st;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_state_load(store, "app", "us-east-1", &st, &err), -1);
    cr_assert_eq(err.code, DR_E_IO, "code %d: %s", err.code, err.msg);
    cr_assert(strstr(err.msg, path), "names the file: %s", err.msg);
    cr_assert(strstr(err.msg, fragment), "'%s' in: %s", fragment, err.msg);
    cr_assert(err.hint[0], "a hint says what to do");
    free(path);
}

Test(state, corrupt_files_are_io_errors_naming_the_file)
{
    expect_corrupt("{\"format\": 1, \"resources\": {", "corrupt");
    expect_corrupt("[1, 2]", "not a JSON object");
    expect_corrupt("{\"format\": 1}", "no resources");
    expect_corrupt("{\"format\": 1, \"resources\": {\"X\": {\"type\": \"T\"}}}",
                   "resource X has no valid status");
    expect_corrupt("{\"format\": 1, \"resources\": {\"X\": 3}}", "resource X is not an object");
    expect_corrupt("{\"format\": 1, \"resources\": {\"X\": {\"type\": \"T\", \"status\": "
                   "\"ready\", \"physical_id\": 5}}}",
                   "physical_id");
    expect_corrupt("{\"format\": 9, \"resources\": {}}", "format 9");
    expect_corrupt("{\"format\": 1, \"stack\": \"other\", \"region\": \"us-east-1\", "
                   "\"resources\": {}}",
                   "belongs to other/us-east-1");
}

Test(state, names_cannot_escape_the_store)
{
    dr_state st;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_state_load(store, "..", "us-east-1", &st, &err), -1);
    cr_assert_eq(dr_state_load(store, "app", "../x", &st, &err), -1);
    cr_assert_eq(dr_state_load(store, "app/b", "r", &st, &err), -1);
}

/* The write fails half-way (file size limit): the old file must be
 * untouched and no temporary file left. */
Test(state, failed_save_leaves_previous_file_intact)
{
    dr_state st;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_state_load(store, "app", "us-east-1", &st, &err), 0);
    dr_state_put(&st, "Small", "T::X", "x-1", DR_RES_READY, NULL, NULL);
    cr_assert_eq(dr_state_save(&st, &err), 0, "%s", err.msg);
    char *before = read_all(st.path);
    cr_assert(before);

    /* A state far larger than the limit. */
    json_t *big = json_object();
    char key[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "P%d", i);
        json_object_set_new(big, key, json_string("a fairly long property value, repeated"));
    }
    dr_state_put(&st, "Big", "T::X", "x-2", DR_RES_READY, big, NULL);
    json_decref(big);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {4096, 4096};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    dr_err_clear(&err);
    cr_assert_eq(dr_state_save(&st, &err), -1);
    cr_assert_eq(err.code, DR_E_IO);
    cr_assert(strstr(err.msg, st.path), "%s", err.msg);
    cr_assert(strstr(err.hint, "intact"), "%s", err.hint);

    char *after = read_all(st.path);
    cr_assert_str_eq(after, before, "the previous state is untouched");
    char *dir = dr_xasprintf("%s/state/app", store);
    cr_assert_eq(count_entries(dir), 1, "the temporary file is gone");
    free(dir);
    free(before);
    free(after);
    dr_state_free(&st);
}

Test(state, remove_file)
{
    dr_state st;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_state_load(store, "app", "global", &st, &err), 0);
    cr_assert_eq(dr_state_remove_file(&st, &err), 0, "a missing file is fine");
    cr_assert_eq(dr_state_save(&st, &err), 0);
    cr_assert(dr_state_exists(store, "app", "global"));
    cr_assert_eq(dr_state_remove_file(&st, &err), 0);
    cr_assert_not(dr_state_exists(store, "app", "global"));
    dr_state_free(&st);
}

Test(state, status_names)
{
    cr_assert_str_eq(dr_res_status_name(DR_RES_CREATING), "creating");
    cr_assert_str_eq(dr_res_status_name(DR_RES_READY), "ready");
    cr_assert_str_eq(dr_res_status_name(DR_RES_DELETING), "deleting");
}

/* ---- lock ------------------------------------------------------------------ */

Test(state, lock_is_exclusive_and_released)
{
    dr_lock a = DR_LOCK_INIT, b = DR_LOCK_INIT;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_lock_acquire(store, "app-us-east-1", 0, &a, &err), 0, "%s", err.msg);
    struct stat sb;
    char *dir = dr_xasprintf("%s/locks", store);
    cr_assert_eq(stat(dir, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0700);
    free(dir);
    /* flock conflicts between open file descriptions, even in one process. */
    cr_assert_eq(dr_lock_acquire(store, "app-us-east-1", 0, &b, &err), -1);
    cr_assert_eq(err.code, DR_E_LOCKED);
    cr_assert(strstr(err.msg, "app-us-east-1.lock"), "%s", err.msg);
    char pid[32];
    snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
    cr_assert(strstr(err.msg, pid), "names the holder: %s", err.msg);
    cr_assert(strstr(err.hint, "--wait"), "%s", err.hint);
    /* Another name is another lock. */
    cr_assert_eq(dr_lock_acquire(store, "app-us-west-2", 0, &b, &err), 0);
    dr_lock_release(&b);
    dr_lock_release(&a);
    cr_assert_eq(dr_lock_acquire(store, "app-us-east-1", 0, &b, &err), 0, "%s", err.msg);
    dr_lock_release(&b);
    dr_lock_release(&b); /* twice is harmless */
    cr_assert_eq(dr_lock_acquire(store, "../evil", 0, &b, &err), -1);
}

Test(state, lock_held_by_a_child_process)
{
    int ready[2], done[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(done), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dr_lock l = DR_LOCK_INIT;
        dr_err e;
        int rc = dr_lock_acquire(store, "app-x", 0, &l, &e);
        char c = rc == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1)
            _exit(2);
        if (read(done[0], &c, 1) != 1)
            _exit(2);
        _exit(0); /* the kernel drops the lock with the process */
    }
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1);
    cr_assert_eq(c, 'y');
    dr_lock l = DR_LOCK_INIT;
    dr_err err;
    cr_assert_eq(dr_lock_acquire(store, "app-x", 0, &l, &err), -1);
    cr_assert_eq(err.code, DR_E_LOCKED);
    cr_assert_eq(write(done[1], "x", 1), 1);
    int status;
    waitpid(pid, &status, 0);
    cr_assert_eq(dr_lock_acquire(store, "app-x", 0, &l, &err), 0, "released on exit");
    dr_lock_release(&l);
}
