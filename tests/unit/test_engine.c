/*
 * test_engine.c - plan, apply and destroy driven through fake handlers.
 *
 * The fake "cloud" below keeps resources in memory (id, logical id tag,
 * properties, idempotency token, alive) and counts every handler call, so
 * that a test can say exactly which AWS-side effects a run had: "no write",
 * "one update", "found before created", "deleted in this order". The fakes
 * are registered through dr_engine_opts.handlers, as the engine's contract
 * allows, not by patching the built-in registry.
 *
 * Every test runs in its own process (Criterion forks), so the fake cloud's
 * globals start fresh, with a temporary store.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "stack/engine.h"
#include "stack/resolve.h"
#include "util/mem.h"

/* ---- the fake cloud --------------------------------------------------------- */

#define MAXRES 256

typedef struct fake_res {
    char id[32];
    char logical[64];
    char type[64];
    char token[40];
    json_t *props;
    int alive;
} fake_res;

static struct {
    pthread_mutex_t mu;
    fake_res res[MAXRES];
    int nres, serial;
    int creates, finds, reads, updates, removes, waits_ready, waits_deleted;
    int inflight, max_inflight;
    long create_sleep_ms;
    char fail_create[64];  /* this logical id's create is refused */
    char crash_create[64]; /* created in AWS, then the "process dies" (error) */
    char fail_remove[64];  /* this logical id's remove is refused */
    int throttle_creates;  /* the next N creates are throttled */
    int last_final_snapshot;
    char log[8192];  /* "create:A remove:B ..." in call order */
    int ready_polls; /* wait_ready's check reports done after this many polls */
} F;

static void fake_log(const char *what, const char *id)
{
    size_t n = strlen(F.log);
    snprintf(F.log + n, sizeof(F.log) - n, "%s:%s ", what, id);
}

static fake_res *by_id(const char *id)
{
    for (int i = 0; i < F.nres; i++)
        if (strcmp(F.res[i].id, id) == 0)
            return &F.res[i];
    return NULL;
}

static int alive_count(const char *logical)
{
    int n = 0;
    pthread_mutex_lock(&F.mu);
    for (int i = 0; i < F.nres; i++)
        n += F.res[i].alive && strcmp(F.res[i].logical, logical) == 0;
    pthread_mutex_unlock(&F.mu);
    return n;
}

static const char *tag_value(json_t *tags, const char *key)
{
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        if (k && strcmp(k, key) == 0)
            return json_string_value(json_object_get(t, "Value"));
    }
    return NULL;
}

static void aws_error(dr_err *err, const char *code, const char *msg, long status)
{
    dr_aws_error a;
    memset(&a, 0, sizeof(a));
    snprintf(a.service, sizeof(a.service), "fake");
    snprintf(a.operation, sizeof(a.operation), "CreateThing");
    snprintf(a.code, sizeof(a.code), "%s", code);
    snprintf(a.message, sizeof(a.message), "%s", msg);
    a.http_status = status;
    dr_err_set_aws(err, &a);
}

static void fill_live(const fake_res *r, dr_live *out)
{
    out->physical_id = dr_xstrdup(r->id);
    char arn[96];
    snprintf(arn, sizeof(arn), "arn:fake:thing/%s", r->id);
    out->attributes = json_pack("{s:s, s:s}", "Arn", arn, "Name", r->logical);
}

static int f_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                    const char *token, dr_live *out, dr_err *err)
{
    pthread_mutex_lock(&F.mu);
    F.creates++;
    fake_log("create", logical_id);
    if (F.throttle_creates > 0) {
        F.throttle_creates--;
        pthread_mutex_unlock(&F.mu);
        aws_error(err, "ThrottlingException", "Rate exceeded", 400);
        return -1;
    }
    if (strcmp(F.fail_create, logical_id) == 0) {
        pthread_mutex_unlock(&F.mu);
        aws_error(err, "InvalidParameterValue", "The CIDR '10.0.0.0/33' is invalid.", 400);
        return -1;
    }
    /* Idempotency: the same token gives the same resource. */
    for (int i = 0; i < F.nres; i++)
        if (F.res[i].alive && strcmp(F.res[i].token, token) == 0) {
            fill_live(&F.res[i], out);
            pthread_mutex_unlock(&F.mu);
            return 0;
        }
    cr_assert(strlen(token) == 32, "token %s", token);
    cr_assert_str_eq(tag_value(tags, "drctl:logical-id"), logical_id);
    cr_assert_str_eq(tag_value(tags, "drctl:stack"), c->stack);
    cr_assert(!dr_json_unknown(props), "no unknowns at apply time");
    fake_res *r = &F.res[F.nres++];
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "fake-%d", ++F.serial);
    snprintf(r->logical, sizeof(r->logical), "%s", logical_id);
    snprintf(r->token, sizeof(r->token), "%s", token);
    r->props = json_deep_copy(props);
    r->alive = 1;
    F.inflight++;
    if (F.inflight > F.max_inflight)
        F.max_inflight = F.inflight;
    int crash = strcmp(F.crash_create, logical_id) == 0;
    fill_live(r, out);
    long ms = F.create_sleep_ms;
    pthread_mutex_unlock(&F.mu);
    if (ms) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&F.mu);
    F.inflight--;
    pthread_mutex_unlock(&F.mu);
    if (crash) {
        dr_live_free(out);
        return dr_err_set(err, DR_E_INTERRUPTED, "simulated crash after the create call");
    }
    return 0;
}

static int f_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                  dr_err *err)
{
    pthread_mutex_lock(&F.mu);
    F.finds++;
    fake_log("find", logical_id);
    *found = 0;
    for (int i = 0; i < F.nres; i++)
        if (F.res[i].alive && strcmp(F.res[i].logical, logical_id) == 0) {
            *found = 1;
            fill_live(&F.res[i], out);
            break;
        }
    pthread_mutex_unlock(&F.mu);
    return 0;
}

static int f_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                  dr_live *out, dr_err *err)
{
    pthread_mutex_lock(&F.mu);
    F.reads++;
    fake_res *r = by_id(physical_id);
    *exists = r && r->alive;
    if (*exists)
        fill_live(r, out);
    pthread_mutex_unlock(&F.mu);
    return 0;
}

static int f_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                    dr_live *out, dr_err *err)
{
    pthread_mutex_lock(&F.mu);
    F.updates++;
    fake_res *r = by_id(physical_id);
    cr_assert(r && r->alive);
    fake_log("update", r->logical);
    json_decref(r->props);
    r->props = json_deep_copy(new_props);
    pthread_mutex_unlock(&F.mu);
    return 0;
}

static int f_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    pthread_mutex_lock(&F.mu);
    F.removes++;
    fake_res *r = by_id(physical_id);
    const char *logical = r ? r->logical : physical_id;
    fake_log("remove", logical);
    F.last_final_snapshot = c->final_snapshot;
    if (r && strcmp(F.fail_remove, r->logical) == 0) {
        pthread_mutex_unlock(&F.mu);
        aws_error(err, "DependencyViolation", "resource has a dependent object", 400);
        return -1;
    }
    if (r)
        r->alive = 0;
    pthread_mutex_unlock(&F.mu);
    return 0;
}

typedef struct poll_state {
    int polls;
} poll_state;

static int ready_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    poll_state *p = ud;
    return ++p->polls >= F.ready_polls ? 1 : 0;
}

static int f_wait_ready(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    pthread_mutex_lock(&F.mu);
    F.waits_ready++;
    pthread_mutex_unlock(&F.mu);
    poll_state ps = {0};
    return dr_wait(c, physical_id, 5, ready_check, &ps, err);
}

static int f_wait_deleted(dr_apply_ctx *c, const char *physical_id, dr_err *err)
{
    pthread_mutex_lock(&F.mu);
    F.waits_deleted++;
    pthread_mutex_unlock(&F.mu);
    return 0;
}

static const char *const updatable[] = {"Size", "Description", NULL};
static const char *const names[] = {"Name", NULL};

static const dr_handler fakes[] = {
    {.type = "Test::Fake::Thing",
     .create = f_create,
     .find = f_find,
     .read = f_read,
     .update = f_update,
     .remove = f_remove,
     .wait_ready = f_wait_ready,
     .wait_deleted = f_wait_deleted,
     .update_in_place = updatable},
    {.type = "Test::Fake::Named",
     .create = f_create,
     .find = f_find,
     .read = f_read,
     .update = f_update,
     .remove = f_remove,
     .update_in_place = updatable,
     .name_properties = names},
    {.type = NULL},
};

/* ---- fixture ---------------------------------------------------------------- */

static char store[64];

static void setup(void)
{
    memset(&F, 0, sizeof(F));
    pthread_mutex_init(&F.mu, NULL);
    F.ready_polls = 2;
    snprintf(store, sizeof(store), "/tmp/drctl-engine-XXXXXX");
    cr_assert(mkdtemp(store), "mkdtemp: %s", strerror(errno));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void teardown(void)
{
    nftw(store, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    for (int i = 0; i < F.nres; i++)
        json_decref(F.res[i].props);
}

TestSuite(engine, .init = setup, .fini = teardown);

static void model_init(dr_model *m)
{
    memset(m, 0, sizeof(*m));
    m->stack = dr_xstrdup("app");
    m->region = dr_xstrdup("us-east-1");
    m->outputs = json_object();
    m->parameters = json_object();
}

/* Adds a resource whose properties are given as JSON text; dependencies
 * are those its references imply, plus `extra` (comma-separated). */
static dr_resource *add(dr_model *m, const char *id, const char *type, const char *props_json)
{
    json_error_t je;
    json_t *props = json_loads(props_json, 0, &je);
    cr_assert(props, "bad JSON in test: %s", je.text);
    m->resources = dr_xrealloc(m->resources, (m->n + 1) * sizeof(*m->resources));
    dr_resource *r = &m->resources[m->n++];
    memset(r, 0, sizeof(*r));
    r->logical_id = dr_xstrdup(id);
    r->type = dr_xstrdup(type);
    r->properties = props;
    dr_model_implied_deps(props, &r->depends_on, &r->ndepends);
    return r;
}

static void output(dr_model *m, const char *name, const char *value_json)
{
    json_t *v = json_loads(value_json, JSON_DECODE_ANY, NULL);
    cr_assert(v);
    json_object_set_new(m->outputs, name, json_pack("{s:o}", "Value", v));
}

/* The chain used by most tests: A <- B (Ref A) <- C (GetAtt B.Arn). */
static void chain(dr_model *m)
{
    model_init(m);
    add(m, "A", "Test::Fake::Thing", "{\"Cidr\": \"10.0.0.0/16\", \"Size\": 1}");
    add(m, "B", "Test::Fake::Thing", "{\"Parent\": {\"Ref\": \"A\"}, \"Size\": 1}");
    add(m, "C", "Test::Fake::Thing",
        "{\"Target\": {\"Fn::GetAtt\": [\"B\", \"Arn\"]}, \"Label\": {\"Fn::Sub\": "
        "\"${AWS::StackName}-${AWS::Region}-${A}\"}}");
    output(m, "AId", "{\"Ref\": \"A\"}");
    output(m, "BArn", "{\"Fn::GetAtt\": [\"B\", \"Arn\"]}");
}

static dr_engine_opts opts(void)
{
    dr_engine_opts o;
    memset(&o, 0, sizeof(o));
    o.handlers = fakes;
    o.account_id = "123456789012";
    o.concurrency = 4;
    o.wait_initial_ms = 1;
    o.wait_max_ms = 4;
    return o;
}

static void load(dr_state *st)
{
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_state_load(store, "app", "us-east-1", st, &err), 0, "%s", err.msg);
}

static void plan_ok(const dr_engine_opts *o, const dr_model *m, dr_state *st, dr_plan *p)
{
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_engine_plan(o, m, st, p, &err), 0, "plan: %s", err.msg);
}

static void apply_ok(const dr_engine_opts *o, const dr_model *m, dr_state *st, const dr_plan *p)
{
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_engine_apply(o, m, st, p, &err), 0, "apply: %s (%s)", err.msg, err.hint);
}

/* plan + apply on a freshly loaded state, like one `drctl deploy`. */
static void deploy(const dr_engine_opts *o, const dr_model *m)
{
    dr_state st;
    load(&st);
    dr_plan p;
    plan_ok(o, m, &st, &p);
    apply_ok(o, m, &st, &p);
    dr_plan_free(&p);
    dr_state_free(&st);
}

static const dr_plan_item *item(const dr_plan *p, const char *id, dr_action a)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].logical_id, id) == 0 && p->items[i].action == a)
            return &p->items[i];
    return NULL;
}

static int writes(void)
{
    return F.creates + F.updates + F.removes;
}

/* ---- plan and apply ------------------------------------------------------------ */

Test(engine, first_plan_creates_everything_and_changes_nothing)
{
    dr_model m;
    chain(&m);
    dr_engine_opts o = opts();
    dr_state st;
    load(&st);
    dr_plan p;
    plan_ok(&o, &m, &st, &p);
    cr_assert_eq(p.n, 3);
    cr_assert_eq(p.ncreate, 3);
    cr_assert_eq(p.nupdate + p.nreplace + p.ndelete + p.nnoop, 0);
    cr_assert(dr_plan_has_changes(&p));
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(p.items[i].action, DR_ACT_CREATE);
    /* A has known properties and is looked up by its tags; B and C refer to
     * what does not exist yet, so there is nothing to look for. */
    cr_assert_eq(F.finds, 1);
    cr_assert_eq(writes(), 0);
    cr_assert_not(dr_state_exists(store, "app", "us-east-1"), "plan writes no state");
    dr_plan_free(&p);
    dr_state_free(&st);
    dr_model_free(&m);
}

Test(engine, apply_creates_in_dependency_order_and_resolves_references)
{
    dr_model m;
    chain(&m);
    dr_engine_opts o = opts();
    deploy(&o, &m);
    cr_assert_eq(F.creates, 3);
    cr_assert_str_eq(F.log, "find:A create:A create:B create:C ");
    cr_assert_eq(F.waits_ready, 3);

    dr_state st;
    load(&st);
    const char *a = dr_state_physical_id(dr_state_get(&st, "A"));
    const char *b = dr_state_physical_id(dr_state_get(&st, "B"));
    cr_assert(a && b);
    static const char *const ids[] = {"A", "B", "C"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(dr_state_status(dr_state_get(&st, ids[i])), DR_RES_READY);
    /* What the handler received had every reference resolved. */
    fake_res *rb = by_id(b);
    cr_assert_str_eq(json_string_value(json_object_get(rb->props, "Parent")), a);
    fake_res *rc = by_id(dr_state_physical_id(dr_state_get(&st, "C")));
    char want[96];
    snprintf(want, sizeof(want), "arn:fake:thing/%s", b);
    cr_assert_str_eq(json_string_value(json_object_get(rc->props, "Target")), want);
    snprintf(want, sizeof(want), "app-us-east-1-%s", a);
    cr_assert_str_eq(json_string_value(json_object_get(rc->props, "Label")), want);
    /* Outputs saved. */
    cr_assert_str_eq(json_string_value(json_object_get(st.outputs, "AId")), a);
    snprintf(want, sizeof(want), "arn:fake:thing/%s", b);
    cr_assert_str_eq(json_string_value(json_object_get(st.outputs, "BArn")), want);
    /* Bookkeeping for later deletions. */
    json_t *deps = json_object_get(dr_state_get(&st, "B"), "depends_on");
    cr_assert_eq(json_array_size(deps), 1);
    cr_assert_str_eq(json_string_value(json_array_get(deps, 0)), "A");
    dr_state_free(&st);
    dr_model_free(&m);
}

Test(engine, second_plan_has_no_changes_and_apply_makes_no_write)
{
    dr_model m;
    chain(&m);
    dr_engine_opts o = opts();
    deploy(&o, &m);
    int before = writes();
    int finds = F.finds, reads = F.reads;

    dr_state st;
    load(&st);
    struct stat sb1;
    cr_assert_eq(stat(st.path, &sb1), 0);
    dr_plan p;
    plan_ok(&o, &m, &st, &p);
    cr_assert_not(dr_plan_has_changes(&p));
    cr_assert_eq(p.nnoop, 3);
    cr_assert_eq(p.nadopted, 0);
    cr_assert_not(p.state_changed);
    apply_ok(&o, &m, &st, &p);
    cr_assert_eq(writes(), before, "no create, update or delete");
    cr_assert_eq(F.finds, finds, "the state knows everything: no look-up");
    cr_assert_eq(F.reads - reads, 3, "one read per resource to confirm it exists");
    dr_plan_free(&p);
    dr_state_free(&st);
    dr_model_free(&m);
}

Test(engine, concurrency_is_bounded)
{
    dr_model m;
    model_init(&m);
    char id[16];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "R%d", i);
        add(&m, id, "Test::Fake::Thing", "{\"Size\": 1}");
    }
    F.create_sleep_ms = 60;
    dr_engine_opts o = opts();
    o.concurrency = 3;
    deploy(&o, &m);
    cr_assert_eq(F.creates, 10);
    cr_assert_eq(F.max_inflight, 3, "max in flight %d", F.max_inflight);
    dr_model_free(&m);
}

Test(engine, independent_resources_run_concurrently_dependents_wait)
{
    dr_model m;
    model_init(&m);
    add(&m, "Root", "Test::Fake::Thing", "{}");
    add(&m, "L1", "Test::Fake::Thing", "{\"P\": {\"Ref\": \"Root\"}}");
    add(&m, "L2", "Test::Fake::Thing", "{\"P\": {\"Ref\": \"Root\"}}");
    add(&m, "Top", "Test::Fake::Thing",
        "{\"P\": {\"Fn::Join\": [\",\", [{\"Ref\": \"L1\"}, {\"Ref\": \"L2\"}]]}}");
    F.create_sleep_ms = 40;
    dr_engine_opts o = opts();
    deploy(&o, &m);
    cr_assert_eq(F.max_inflight, 2, "L1 and L2 together");
    const char *log = F.log;
    const char *root = strstr(log, "create:Root"), *l1 = strstr(log, "create:L1"),
               *l2 = strstr(log, "create:L2"), *top = strstr(log, "create:Top");
    cr_assert(root && l1 && l2 && top);
    cr_assert(root < l1 && root < l2 && l1 < top && l2 < top, "%s", log);
    dr_model_free(&m);
}

Test(engine, first_failure_stops_new_work_and_names_the_resource)
{
    dr_model m;
    model_init(&m);
    add(&m, "A", "Test::Fake::Thing", "{}");
    add(&m, "PublicSubnet1", "Test::Fake::Thing", "{\"Vpc\": {\"Ref\": \"A\"}}");
    add(&m, "C", "Test::Fake::Thing", "{\"P\": {\"Ref\": \"PublicSubnet1\"}}");
    add(&m, "D", "Test::Fake::Thing", "{\"P\": {\"Ref\": \"A\"}}");
    add(&m, "E", "Test::Fake::Thing", "{\"P\": {\"Ref\": \"A\"}}");
    snprintf(F.fail_create, sizeof(F.fail_create), "PublicSubnet1");
    dr_engine_opts o = opts();
    o.concurrency = 1;
    dr_state st;
    load(&st);
    dr_plan p;
    plan_ok(&o, &m, &st, &p);
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_engine_apply(&o, &m, &st, &p, &err), -1);
    cr_assert_eq(err.code, DR_E_AWS);
    cr_assert(err.has_aws);
    cr_assert_str_eq(err.aws.code, "InvalidParameterValue");
    cr_assert(strstr(err.msg, "creating Thing PublicSubnet1 (Test::Fake::Thing): "), "%s", err.msg);
    cr_assert(strstr(err.msg, "The CIDR '10.0.0.0/33' is invalid."), "%s", err.msg);
    cr_assert(strstr(err.hint, "run deploy again"), "%s", err.hint);
    cr_assert(strstr(err.hint, "1 resources exist and are ready, 1 in progress"), "%s", err.hint);
    /* With one worker, nothing was started after the failure. */
    cr_assert_str_eq(F.log, "find:A create:A create:PublicSubnet1 ", "%s", F.log);
    cr_assert_null(dr_state_get(&st, "C"));
    cr_assert_eq(dr_state_status(dr_state_get(&st, "PublicSubnet1")), DR_RES_CREATING);
    dr_plan_free(&p);
    dr_state_free(&st);

    /* The next run continues from there once the cause is fixed. */
    F.fail_create[0] = '\0';
    F.log[0] = '\0';
    deploy(&o, &m);
    cr_assert(strstr(F.log, "find:PublicSubnet1 create:PublicSubnet1"), "%s", F.log);
    cr_assert_null(strstr(F.log, "create:A "), "A is not created again: %s", F.log);
    cr_assert_eq(alive_count("A"), 1);
    cr_assert_eq(alive_count("PublicSubnet1"), 1);
    cr_assert_eq(alive_count("C"), 1);
    cr_assert_eq(alive_count("D"), 1);
    cr_assert_eq(alive_count("E"), 1);
    dr_model_free(&m);
}

Test(engine, in_flight_work_finishes_after_a_failure)
{
    dr_model m;
    model_init(&m);
    add(&m, "Slow", "Test::Fake::Thing", "{}");
    add(&m, "Bad", "Test::Fake::Thing", "{}");
    add(&m, "After", "Test::Fake::Thing", "{\"P\": {\"Ref\": \"Bad\"}}");
    F.create_sleep_ms = 80;
    snprintf(F.fail_create, sizeof(F.fail_create), "Bad");
    dr_engine_opts o = opts();
    o.concurrency = 2;
    dr_state st;
    load(&st);
    dr_plan p;
    plan_ok(&o, &m, &st, &p);
    dr_err err;
    cr_assert_eq(dr_engine_apply(&o, &m, &st, &p, &err), -1);
    cr_assert(strstr(err.msg, "Bad"));
    cr_assert_eq(dr_state_status(dr_state_get(&st, "Slow")), DR_RES_READY,
                 "the resource in flight completed and was journaled");
    cr_assert_null(dr_state_get(&st, "After"));
    dr_plan_free(&p);
    dr_state_free(&st);
    dr_model_free(&m);
}

/* A crash after AWS created the resource but before its id was journaled:
 * the next run finds it by its tags and creates nothing twice. */
Test(engine, resume_after_crash_finds_before_creating)
{
    dr_model m;
    chain(&m);
    snprintf(F.crash_create, sizeof(F.crash_create), "B");
    dr_engine_opts o = opts();
    dr_state st;
    load(&st);
    dr_plan p;
    plan_ok(&o, &m, &st, &p);
    dr_err err;
    cr_assert_eq(dr_engine_apply(&o, &m, &st, &p, &err), -1);
    dr_plan_free(&p);
    dr_state_free(&st);
    cr_assert_eq(alive_count("B"), 1, "B exists in AWS");

    /* What the file says after the "crash". */
    load(&st);
    json_t *b = dr_state_get(&st, "B");
    cr_assert_eq(dr_state_status(b), DR_RES_CREATING);
    cr_assert_null(dr_state_physical_id(b));
    F.crash_create[0] = '\0';
    F.log[0] = '\0';
    int creates = F.creates;
    plan_ok(&o, &m, &st, &p);
    const dr_plan_item *ib = item(&p, "B", DR_ACT_CREATE);
    cr_assert(ib);
    cr_assert(strstr(ib->reason, "interrupted create"), "%s", ib->reason);
    apply_ok(&o, &m, &st, &p);
    cr_assert(strstr(F.log, "find:B "), "%s", F.log);
    cr_assert_null(strstr(F.log, "create:B"), "B not created again: %s", F.log);
    cr_assert_eq(F.creates, creates + 1, "only C was created");
    cr_assert_eq(alive_count("B"), 1);
    cr_assert_eq(dr_state_status(dr_state_get(&st, "B")), DR_RES_READY);
    dr_plan_free(&p);
    dr_state_free(&st);
    dr_model_free(&m);
}

/* "creating" journaled, then killed before the create call: find finds
 * nothing, and the create reuses the token the first attempt would have
 * sent. */
Test(engine, resume_uses_the_same_idempotency_token)
{
    dr_model m;
    chain(&m);
    dr_engine_opts o = opts();
    dr_state st;
    load(&st);
    dr_state_put(&st, "A", "Test::Fake::Thing", NULL, DR_RES_CREATING, NULL, NULL);
    dr_err err;
    cr_assert_eq(dr_state_save(&st, &err), 0);
    char tok[33];
    dr_engine_token(&st, "A", 0, tok);
    dr_state_free(&st);
    deploy(&o, &m);
    cr_assert_str_eq(F.res[0].logical, "A");
    cr_assert_str_eq(F.res[0].token, tok);
    cr_assert(strstr(F.log, "find:A create:A"), "%s", F.log);
    dr_model_free(&m);
}

Test(engine, tokens_are_deterministic_and_distinct)
{
    dr_state st;
    load(&st);
    char t1[33], t2[33], t3[33], t4[33];
    dr_engine_token(&st, "Vpc", 0, t1);
    dr_engine_token(&st, "Vpc", 0, t2);
    dr_engine_token(&st, "Vpc", 1, t3);
    dr_engine_token(&st, "Subnet", 0, t4);
    cr_assert_eq(strlen(t1), 32);
    cr_assert_str_eq(t1, t2);
    cr_assert_str_neq(t1, t3, "a new generation, a new token");
    cr_assert_str_neq(t1, t4);
    for (const char *c = t1; *c; c++)
        cr_assert((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'));
    dr_state st2;
    load(&st2);
    dr_engine_token(&st2, "Vpc", 0, t2);
    cr_assert_str_neq(t1, t2, "another state epoch (deployed again after destroy)");
    dr_state_free(&st);
    dr_state_free(&st2);
}

Test(engine, throttled_create_is_retried_after_a_look_up)
{
    dr_model m;
    model_init(&m);
    add(&m, "A", "Test::Fake::Thing", "{}");
    F.throttle_creates = 2;
    dr_engine_opts o = opts();
    deploy(&o, &m);
    cr_assert_eq(alive_count("A"), 1);
    cr_assert_str_eq(F.log, "find:A create:A find:A create:A find:A create:A ", "%s", F.log);
    dr_model_free(&m);
}

Test(engine, throttling_beyond_the_attempts_fails)
{
    dr_model m;
    model_init(&m);
    add(&m, "A", "Test::Fake::Thing", "{}");
    F.throttle_creates = 10;
    dr_engine_opts o = opts();
    o.step_attempts = 3;
    dr_state st;
    load(&st);
    dr_plan p;
    plan_ok(&o, &m, &st, &p);
    dr_err err;
    cr_assert_eq(dr_engine_apply(&o, &m, &st, &p, &err), -1);
    cr_assert_str_eq(err.aws.code, "ThrottlingException");
    cr_assert_eq(F.creates, 3);
    dr_plan_free(&p);
    dr_state_free(&st);
    dr_model_free(&m);
}

/* ---- update, replace, delete ------------------------------------------------------ */

Test(engine, changing_an_updatable_property_is_exactly_one_update)
{
    dr_model m;
    chain(&m);
    dr_engine_opts o = opts();
    deploy(&o, &m);
    int creates = F.creates, removes = F.removes;
    json_object_set_new(m.resources[1].properties, "Size", json_integer(5));

    dr_state st;
    load(&st);
    const char *bid = dr_state_physical_id(dr_state_get(&st, "B"));
    char *before = dr_xstrdup(bid);
    dr_plan p;
    plan_ok(&o, &m, &st, &p);
    cr_assert_eq(p.nupdate, 1);
    cr_assert_eq(p.ncreate + p.nreplace + p.ndelete, 0);
    const dr_plan_item *ib = item(&p, "B", DR_ACT_UPDATE);
    cr_assert(ib);
    cr_assert_eq(ib->nchanged, 1);
    cr_assert_str_eq(ib->changed[0], "Size");
    cr_assert_str_eq(ib->physical_id, before);
    apply_ok(&o, &m, &st, &p);
    cr_assert_eq(F.updates, 1);
    cr_assert_eq(F.creates, creates);
    cr_assert_eq(F.removes, removes);
    cr_assert_str_eq(dr_state_physical_id(dr_state_get(&st, "B")), before);
    cr_assert_eq(json_integer_value(json_object_get(by_id(before)->props, "Size")), 5);
    cr_assert_eq(json_integer_value(json_object_get(
                     json_object_get(dr_state_get(&st, "B"), "properties"), "Size")),
                 5);
    dr_plan_free(&p);
    dr_state_free(&st);

    /* And then nothing is left to do. */
    load(&st);
    plan_ok(&o, &m, &st, &p);
    cr_assert_not(dr_plan_has_changes(&p));
    dr_plan_free(&p);
    dr_state_free(&st);
    free(before);
    dr_model_free(&m);
}

Test(engine, a_fixed_property_replaces_and_dependents_follow)
{
    dr_model m;
    chain(&m);
    dr_engine_opts o = opts();
    deploy(&o, &m);
    json_object_set_new(m.resources[0].properties, "Cidr", json_string("10.1.0.0/16"));

    dr_state st;
    load(&st);
    char *olda = dr_xstrdup(dr_state_physical_id(dr_state_get(&st, "A")));
    dr_plan p;
    plan_ok(&o, &m, &st, &p);
    const dr_plan_item *ia = item(&p, "A", DR_ACT_REPLACE);
    cr_assert(ia);
    cr_assert_str_eq(ia->reason, "Cidr: cannot change in place");
    /* B refers to A: its Parent is known only after apply, and Parent
     * cannot change in place. C's Label interpolates A's id. */
    const dr_plan_item *ib = item(&p, "B", DR_ACT_REPLACE);
    cr_assert(ib, "B replaced too");
    cr_assert_str_eq(ib->changed[0], "Parent");
    cr_assert(item(&p, "C", DR_ACT_REPLACE));
    cr_assert_eq(p.nreplace, 3);

    F.log[0] = '\0';
    apply_ok(&o, &m, &st, &p);
    const char *newa = dr_state_physical_id(dr_state_get(&st, "A"));
    cr_assert_str_neq(newa, olda);
    cr_assert_not(by_id(olda)->alive, "the old A is deleted");
    cr_assert_eq(alive_count("A"), 1);
    cr_assert_eq(alive_count("B"), 1);
    cr_assert_eq(alive_count("C"), 1);
    /* Create before delete; the old copies go last, dependents first. */
    const char *log = F.log;
    cr_assert(strstr(log, "create:A") < strstr(log, "remove:A"), "%s", log);
    cr_assert(strstr(log, "remove:C") < strstr(log, "remove:B"), "%s", log);
    cr_assert(strstr(log, "remove:B") < strstr(log, "remove:A"), "%s", log);
    cr_assert_null(json_object_get(dr_state_get(&st, "A"), "previous"));
    cr_assert_eq(dr_state_generation(dr_state_get(&st, "A")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(st.outputs, "AId")), newa);
    dr_plan_free(&p);
    dr_state_free(&st);
    free(olda);
    dr_model_free(&m);
}

Test(engine, a_pinned_name_deletes_before_creating)
{
    dr_model m;
    model_init(&m);
    add(&m, "Db", "Test::Fake::Named", "{\"Name\": \"app-db\", \"Engine\": \"postgres\"}");
    m.resources[0].deletion_policy = "Snapshot";
    dr_engine_opts o = opts();
    deploy(&o, &m);
    json_object_set_new(m.resources[0].properties, "Engine", json_string("mysql"));
    F.log[0] = '\0';
    deploy(&o, &m);
    cr_assert_str_eq(F.log, "remove:Db create:Db ", "%s", F.log);
    cr_assert_eq(F.last_final_snapshot, 1, "a Snapshot resource is removed with one");
    cr_assert_eq(alive_count("Db"), 1);

    /* A changed name can coexist: create first. */
    json_object_set_new(m.resources[0].properties, "Name", json_string("app-db2"));
    F.log[0] = '\0';
    deploy(&o, &m);
    cr_assert_str_eq(F.log, "create:Db remove:Db ", "%s", F.log);
    dr_model_free(&m);
}

Test(engine, removed_resources_are_deleted_dependents_first)
{
    dr_model m;
    chain(&m);
    add(&m, "D", "Test::Fake::Thing", "{\"P\": {\"Ref\": \"C\"}}");
    add(&m, "Keep", "Test::Fake::Thing", "{}");
    m.resources[4].deletion_policy = "Retain";
    dr_engine_opts o = opts();
    deploy(&o, &m);
    dr_model_free(&m);

    chain(&m); /* without C's dependent D and without Keep; C stays */
    dr_state st;
    load(&st);
    dr_plan p;
    plan_ok(&o, &m, &st, &p);
    cr_assert_eq(p.ndelete, 2);
    const dr_plan_item *id = item(&p, "D", DR_ACT_DELETE);
    const dr_plan_item *ik = item(&p, "Keep", DR_ACT_DELETE);
    cr_assert(id && ik);
    cr_assert_not(id->retain);
    cr_assert(ik->retain);
    F.log[0] = '\0';
    int removes = F.removes;
    apply_ok(&o, &m, &st, &p);
    cr_assert_eq(F.removes, removes + 1, "Keep is forgotten, not deleted");
    cr_assert_eq(alive_count("D"), 0);
    cr_assert_eq(alive_count("Keep"), 1);
    cr_assert_null(dr_state_get(&st, "D"));
    cr_assert_null(dr_state_get(&st, "Keep"));
    cr_assert_eq(F.waits_deleted, 1);
    dr_plan_free(&p);
    dr_state_free(&st);
    dr_model_free(&m);
}

Test(engine, deletion_order_of_removed_resources)
{
    dr_model m;
    chain(&m);
    dr_engine_opts o = opts();
    deploy(&o, &m);
    dr_model_free(&m);
    model_init(&m); /* everything removed */
    F.log[0] = '\0';
    deploy(&o, &m);
    cr_assert_str_eq(F.log, "remove:C remove:B remove:A ", "%s", F.log);
    dr_model_free(&m);
}

Test(engine, lost_state_adopts_by_tags_and_creates_nothing)
{
    dr_model m;
    chain(&m);
    dr_engine_opts o = opts();
    deploy(&o, &m);
    dr_state st;
    load(&st);
    json_t *outputs = json_deep_copy(st.outputs);
    dr_err err;
    cr_assert_eq(dr_state_remove_file(&st, &err), 0);
    dr_state_free(&st);

    int creates = F.creates;
    load(&st);
    dr_plan p;
    plan_ok(&o, &m, &st, &p);
    cr_assert_not(dr_plan_has_changes(&p), "all adopted, nothing to change");
    cr_assert_eq(p.nadopted, 3);
    cr_assert(p.state_changed);
    cr_assert(item(&p, "B", DR_ACT_NOOP)->adopted);
    apply_ok(&o, &m, &st, &p);
    cr_assert_eq(F.creates, creates, "nothing created twice");
    dr_plan_free(&p);
    dr_state_free(&st);

    load(&st);
    cr_assert_eq(json_object_size(st.resources), 3, "the state is rebuilt and saved");
    cr_assert(json_equal(st.outputs, outputs), "outputs recomputed");
    json_decref(outputs);
    dr_state_free(&st);
    dr_model_free(&m);
}

Test(engine, adopted_resource_that_differs_is_updated)
{
    dr_model m;
    model_init(&m);
    add(&m, "A", "Test::Fake::Thing", "{\"Size\": 1}");
    dr_engine_opts o = opts();
    deploy(&o, &m);
    dr_state st;
    load(&st);
    dr_err err;
    cr_assert_eq(dr_state_remove_file(&st, &err), 0);
    dr_state_free(&st);
    json_object_set_new(m.resources[0].properties, "Size", json_integer(2));
    /* The fake's find does not report properties: adoption assumes the
     * model's; the plan is then a no-op for A. That is the documented
     * limit: only what dr_live.properties reports is compared. */
    load(&st);
    dr_plan p;
    plan_ok(&o, &m, &st, &p);
    cr_assert(item(&p, "A", DR_ACT_NOOP));
    dr_plan_free(&p);
    dr_state_free(&st);
    dr_model_free(&m);
}

Test(engine, deleted_outside_drctl_is_created_again_with_a_new_token)
{
    dr_model m;
    chain(&m);
    dr_engine_opts o = opts();
    deploy(&o, &m);
    dr_state st;
    load(&st);
    fake_res *b = by_id(dr_state_physical_id(dr_state_get(&st, "B")));
    char oldtok[40];
    snprintf(oldtok, sizeof(oldtok), "%s", b->token);
    b->alive = 0;
    dr_plan p;
    plan_ok(&o, &m, &st, &p);
    const dr_plan_item *ib = item(&p, "B", DR_ACT_CREATE);
    cr_assert(ib);
    cr_assert_str_eq(ib->reason, "deleted outside drctl");
    cr_assert(item(&p, "C", DR_ACT_REPLACE), "C reads B's Arn: known after apply");
    apply_ok(&o, &m, &st, &p);
    cr_assert_eq(alive_count("B"), 1);
    fake_res *nb = by_id(dr_state_physical_id(dr_state_get(&st, "B")));
    cr_assert_str_neq(nb->token, oldtok);
    cr_assert_eq(dr_state_generation(dr_state_get(&st, "B")), 1);
    dr_plan_free(&p);
    dr_state_free(&st);
    dr_model_free(&m);
}

Test(engine, unknown_type_is_a_clear_error)
{
    dr_model m;
    model_init(&m);
    add(&m, "Weird", "Test::Nope::Thing", "{}");
    dr_engine_opts o = opts();
    dr_state st;
    load(&st);
    dr_plan p;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_engine_plan(&o, &m, &st, &p, &err), -1);
    cr_assert_eq(err.code, DR_E_INTERNAL);
    cr_assert(strstr(err.msg, "Weird"), "%s", err.msg);
    cr_assert(strstr(err.msg, "no handler for type Test::Nope::Thing"), "%s", err.msg);
    dr_state_free(&st);
    dr_model_free(&m);
}

typedef struct events {
    int start, done, failed;
    char verbs[512];
} events;

static void on_event(void *ud, const dr_progress_event *ev)
{
    events *e = ud;
    if (strcmp(ev->phase, "start") == 0)
        e->start++;
    else if (strcmp(ev->phase, "done") == 0) {
        e->done++;
        cr_assert(ev->physical_id);
        size_t n = strlen(e->verbs);
        snprintf(e->verbs + n, sizeof(e->verbs) - n, "%s:%s ", ev->verb, ev->item->logical_id);
    } else
        e->failed++;
}

Test(engine, progress_events)
{
    dr_model m;
    chain(&m);
    dr_engine_opts o = opts();
    o.concurrency = 1;
    events ev = {0};
    o.on_progress = on_event;
    o.progress_ud = &ev;
    deploy(&o, &m);
    cr_assert_eq(ev.start, 3);
    cr_assert_eq(ev.done, 3);
    cr_assert_eq(ev.failed, 0);
    cr_assert_str_eq(ev.verbs, "created:A created:B created:C ");
    dr_model_free(&m);
}

/* ---- destroy ----------------------------------------------------------------------- */

Test(engine, destroy_deletes_everything_in_reverse_order)
{
    dr_model m;
    chain(&m);
    m.resources[0].deletion_policy = "Retain"; /* destroy ignores it */
    dr_engine_opts o = opts();
    deploy(&o, &m);
    dr_state st;
    load(&st);
    F.log[0] = '\0';
    char **left = NULL;
    size_t nleft = 0;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_engine_destroy(&o, &m, &st, &left, &nleft, &err), 0, "%s", err.msg);
    cr_assert_eq(nleft, 0);
    cr_assert_str_eq(F.log, "remove:C remove:B remove:A ", "%s", F.log);
    cr_assert_eq(alive_count("A") + alive_count("B") + alive_count("C"), 0);
    cr_assert_not(dr_state_exists(store, "app", "us-east-1"), "state file removed");
    free(left);
    dr_state_free(&st);
    dr_model_free(&m);
}

Test(engine, destroy_finds_what_the_state_lost)
{
    dr_model m;
    chain(&m);
    dr_engine_opts o = opts();
    deploy(&o, &m);
    dr_state st;
    load(&st);
    dr_err err;
    cr_assert_eq(dr_state_remove_file(&st, &err), 0);
    dr_state_free(&st);
    load(&st);
    dr_plan p;
    cr_assert_eq(dr_engine_destroy_plan(&o, &m, &st, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(p.ndelete, 3);
    dr_plan_free(&p);
    dr_state_free(&st);

    load(&st);
    char **left = NULL;
    size_t nleft = 0;
    cr_assert_eq(dr_engine_destroy(&o, &m, &st, &left, &nleft, &err), 0, "%s", err.msg);
    cr_assert_eq(alive_count("A") + alive_count("B") + alive_count("C"), 0);
    free(left);
    dr_state_free(&st);
    dr_model_free(&m);
}

Test(engine, destroy_collects_leftovers_instead_of_stopping)
{
    dr_model m;
    chain(&m);
    add(&m, "Other", "Test::Fake::Thing", "{}");
    dr_engine_opts o = opts();
    deploy(&o, &m);
    snprintf(F.fail_remove, sizeof(F.fail_remove), "B");
    dr_state st;
    load(&st);
    char **left = NULL;
    size_t nleft = 0;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_engine_destroy(&o, &m, &st, &left, &nleft, &err), -1);
    cr_assert_eq(err.code, DR_E_AWS);
    cr_assert_eq(nleft, 2, "B failed, A (used by B) not attempted");
    int sawb = 0, sawa = 0;
    for (size_t i = 0; i < nleft; i++) {
        if (strstr(left[i], "Test::Fake::Thing B ") && strstr(left[i], "DependencyViolation"))
            sawb = 1;
        if (strstr(left[i], "Test::Fake::Thing A ") && strstr(left[i], "not attempted: B"))
            sawa = 1;
        free(left[i]);
    }
    free(left);
    cr_assert(sawb && sawa);
    cr_assert_eq(alive_count("C"), 0);
    cr_assert_eq(alive_count("Other"), 0, "unrelated resources still go");
    cr_assert_eq(alive_count("A"), 1);
    cr_assert_eq(alive_count("B"), 1);
    dr_state_free(&st);

    /* The state keeps what is left; a second destroy finishes the job. */
    load(&st);
    cr_assert_eq(json_object_size(st.resources), 2);
    F.fail_remove[0] = '\0';
    cr_assert_eq(dr_engine_destroy(&o, &m, &st, &left, &nleft, &err), 0, "%s", err.msg);
    cr_assert_eq(alive_count("A") + alive_count("B"), 0);
    free(left);
    dr_state_free(&st);
    dr_model_free(&m);
}

Test(engine, destroy_takes_final_snapshots_unless_skipped)
{
    dr_model m;
    model_init(&m);
    add(&m, "Db", "Test::Fake::Named", "{\"Name\": \"db\"}");
    m.resources[0].deletion_policy = "Snapshot";
    dr_engine_opts o = opts();
    deploy(&o, &m);
    dr_state st;
    load(&st);
    char **left = NULL;
    size_t nleft = 0;
    dr_err err;
    cr_assert_eq(dr_engine_destroy(&o, &m, &st, &left, &nleft, &err), 0);
    cr_assert_eq(F.last_final_snapshot, 1);
    dr_state_free(&st);
    deploy(&o, &m);
    o.skip_final_snapshot = 1;
    load(&st);
    cr_assert_eq(dr_engine_destroy(&o, &m, &st, &left, &nleft, &err), 0);
    cr_assert_eq(F.last_final_snapshot, 0);
    free(left);
    dr_state_free(&st);
    dr_model_free(&m);
}

/* ---- references ------------------------------------------------------------------- */

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    cr_assert(v, "bad JSON in test: %s: %s", text, je.text);
    return v;
}

static void resolver(dr_resolver *r, dr_state *st, int plan)
{
    memset(r, 0, sizeof(*r));
    r->st = st;
    r->region = "us-west-2";
    r->stack = "app";
    r->account_id = "123456789012";
    r->plan = plan;
}

static void expect(const dr_resolver *r, const char *in, const char *want)
{
    json_t *v = J(in), *w = J(want), *out = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_resolve(r, v, &out, &err), 0, "%s: %s", in, err.msg);
    char *got = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT);
    cr_assert(json_equal(out, w), "%s -> %s, want %s", in, got, want);
    free(got);
    json_decref(v);
    json_decref(w);
    json_decref(out);
}

static void expect_error(const dr_resolver *r, const char *in, const char *fragment)
{
    json_t *v = J(in), *out = NULL;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_resolve(r, v, &out, &err), -1, "%s should fail", in);
    cr_assert(strstr(err.msg, fragment), "'%s' in: %s", fragment, err.msg);
    json_decref(v);
}

static void ref_state(dr_state *st)
{
    load(st);
    json_t *attrs = J("{\"Arn\": \"arn:aws:x:::vpc/vpc-1\", \"Endpoint.Address\": \"db.local\", "
                      "\"Endpoint.Port\": 5432, \"Ids\": [\"a\", \"b\", \"c\"]}");
    dr_state_put(st, "Vpc", "AWS::EC2::VPC", "vpc-1", DR_RES_READY, NULL, attrs);
    dr_state_put(st, "Sub", "AWS::EC2::Subnet", "subnet-2", DR_RES_READY, NULL, NULL);
    dr_state_put(st, "Half", "AWS::EC2::Subnet", NULL, DR_RES_CREATING, NULL, NULL);
    json_decref(attrs);
}

Test(engine, resolve_references)
{
    dr_state st;
    ref_state(&st);
    dr_resolver r;
    resolver(&r, &st, 0);
    expect(&r, "{\"Ref\": \"Vpc\"}", "\"vpc-1\"");
    expect(&r, "{\"Fn::GetAtt\": [\"Vpc\", \"Arn\"]}", "\"arn:aws:x:::vpc/vpc-1\"");
    expect(&r, "{\"Fn::GetAtt\": \"Vpc.Endpoint.Address\"}", "\"db.local\"");
    expect(&r, "{\"Fn::Join\": [\",\", [{\"Ref\": \"Vpc\"}, {\"Ref\": \"Sub\"}, \"x\"]]}",
           "\"vpc-1,subnet-2,x\"");
    expect(&r,
           "{\"Fn::Join\": [\"\", [\"port \", {\"Fn::GetAtt\": [\"Vpc\", "
           "\"Endpoint.Port\"]}]]}",
           "\"port 5432\"");
    expect(&r,
           "{\"Fn::Sub\": \"${AWS::StackName}/${AWS::Region}/${AWS::AccountId}/"
           "${AWS::Partition}/${Vpc}/${Vpc.Arn}/${!Literal}\"}",
           "\"app/us-west-2/123456789012/aws/vpc-1/arn:aws:x:::vpc/vpc-1/${Literal}\"");
    expect(&r, "{\"Fn::Sub\": [\"${Name}-${Vpc}\", {\"Name\": {\"Ref\": \"Sub\"}}]}",
           "\"subnet-2-vpc-1\"");
    expect(&r, "{\"Fn::Select\": [1, {\"Fn::GetAtt\": [\"Vpc\", \"Ids\"]}]}", "\"b\"");
    expect(&r, "{\"Fn::Select\": [\"0\", {\"Fn::Split\": [\",\", \"x,y\"]}]}", "\"x\"");
    expect(&r, "{\"Fn::Base64\": \"hello\"}", "\"aGVsbG8=\"");
    expect(&r,
           "{\"A\": {\"Ref\": \"AWS::NoValue\"}, \"B\": [1, {\"Ref\": \"AWS::NoValue\"}], "
           "\"C\": {\"Ref\": \"AWS::URLSuffix\"}}",
           "{\"B\": [1], \"C\": \"amazonaws.com\"}");
    expect(&r, "{\"Deep\": [{\"X\": {\"Ref\": \"Sub\"}}], \"Str\": \"plain\", \"N\": 3}",
           "{\"Deep\": [{\"X\": \"subnet-2\"}], \"Str\": \"plain\", \"N\": 3}");
    /* Dynamic references stay strings: never resolved into the state. */
    expect(&r, "\"{{resolve:secretsmanager:app/db:SecretString:password}}\"",
           "\"{{resolve:secretsmanager:app/db:SecretString:password}}\"");

    /* Apply-time errors. */
    expect_error(&r, "{\"Ref\": \"Half\"}", "Half has no physical id");
    expect_error(&r, "{\"Ref\": \"Nowhere\"}", "Nowhere");
    expect_error(&r, "{\"Fn::GetAtt\": [\"Sub\", \"Arn\"]}", "has no attribute Arn");
    expect_error(&r, "{\"Fn::If\": [\"C\", 1, 2]}", "unsupported intrinsic function Fn::If");
    expect_error(&r, "{\"Fn::Select\": [5, [1]]}", "index 5");
    expect_error(&r, "{\"Ref\": \"AWS::Bogus\"}", "pseudo parameter");
    dr_state_free(&st);
}

static int pending_vpc(void *ud, const char *id)
{
    return strcmp(id, "Vpc") == 0;
}

Test(engine, resolve_in_plan_gives_known_after_apply)
{
    dr_state st;
    ref_state(&st);
    dr_resolver r;
    resolver(&r, &st, 1);
    expect(&r, "{\"Ref\": \"Half\"}", "\"(known after apply)\"");
    expect(&r, "{\"Fn::GetAtt\": [\"Sub\", \"Arn\"]}", "\"(known after apply)\"");
    expect(&r, "{\"Fn::Join\": [\"-\", [\"a\", {\"Ref\": \"Missing\"}]]}",
           "\"(known after apply)\"");
    expect(&r, "{\"Fn::Sub\": \"x-${Half}\"}", "\"(known after apply)\"");
    /* A resource about to be replaced: its old id must not leak into the
     * plan's comparison. */
    r.pending = pending_vpc;
    expect(&r, "{\"Ref\": \"Vpc\"}", "\"(known after apply)\"");
    expect(&r, "{\"Ref\": \"Sub\"}", "\"subnet-2\"");
    json_t *v = J("{\"A\": [{\"B\": \"(known after apply)\"}]}");
    cr_assert(dr_json_unknown(v));
    json_decref(v);
    dr_state_free(&st);
}

Test(engine, resolve_parameters)
{
    dr_state st;
    ref_state(&st);
    dr_resolver r;
    resolver(&r, &st, 0);
    json_t *declared = J("{\"DbSnapshotIdentifier\": {\"Type\": \"String\"}}");
    json_t *given = J("{\"DbSnapshotIdentifier\": \"snap-1\"}");
    r.declared = declared;
    expect_error(&r, "{\"Ref\": \"DbSnapshotIdentifier\"}", "parameter DbSnapshotIdentifier");
    r.plan = 1;
    expect(&r, "{\"Ref\": \"DbSnapshotIdentifier\"}", "\"(known after apply)\"");
    r.plan = 0;
    r.parameters = given;
    expect(&r, "{\"Ref\": \"DbSnapshotIdentifier\"}", "\"snap-1\"");
    json_decref(declared);
    json_decref(given);
    dr_state_free(&st);
}

Test(engine, resolve_other_region_outputs)
{
    /* us-east-1's saved outputs, read from the same store. */
    dr_state east;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_state_load(store, "app", "us-east-1", &east, &err), 0);
    json_object_set_new(east.outputs, "AlbDnsName", json_string("alb-1.elb.amazonaws.com"));
    cr_assert_eq(dr_state_save(&east, &err), 0);
    dr_state_free(&east);

    dr_state st;
    cr_assert_eq(dr_state_load(store, "app", DR_STATE_GLOBAL, &st, &err), 0);
    dr_resolver r;
    resolver(&r, &st, 0);
    json_t *cache = json_object();
    r.others = cache;
    expect(&r, "{\"drctl::Output\": [\"us-east-1\", \"AlbDnsName\"]}",
           "\"alb-1.elb.amazonaws.com\"");
    cr_assert(json_object_get(cache, "us-east-1"), "loaded once, cached");
    expect_error(&r, "{\"drctl::Output\": [\"us-east-1\", \"Nope\"]}",
                 "output Nope of us-east-1 is not saved");
    expect_error(&r, "{\"drctl::Output\": [\"us-west-2\", \"AlbDnsName\"]}",
                 "no state in this store");
    r.plan = 1;
    expect(&r, "{\"drctl::Output\": [\"us-west-2\", \"AlbDnsName\"]}", "\"(known after apply)\"");
    json_decref(cache);
    dr_state_free(&st);
}

Test(engine, partition_of_region)
{
    cr_assert_str_eq(dr_partition_of("us-east-1"), "aws");
    cr_assert_str_eq(dr_partition_of("cn-north-1"), "aws-cn");
    cr_assert_str_eq(dr_partition_of("us-gov-west-1"), "aws-us-gov");
}

/* ---- waiting ------------------------------------------------------------------------ */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct counter {
    int calls, done_at, fail_at;
    double at[32];
} counter;

static int count_check(dr_apply_ctx *c, void *ud, dr_err *err)
{
    counter *k = ud;
    if (k->calls < 32)
        k->at[k->calls] = now_ms();
    k->calls++;
    if (k->fail_at && k->calls == k->fail_at)
        return dr_err_set(err, DR_E_AWS, "the resource went to a failed state");
    return k->done_at && k->calls >= k->done_at ? 1 : 0;
}

Test(engine, wait_returns_at_once_when_ready)
{
    dr_apply_ctx c = {0};
    c.wait_initial_ms = 1000;
    counter k = {.done_at = 1};
    dr_err err;
    double t0 = now_ms();
    cr_assert_eq(dr_wait(&c, "x", 10, count_check, &k, &err), 0);
    cr_assert_eq(k.calls, 1);
    cr_assert_lt(now_ms() - t0, 100, "no sleep before the first check");
}

Test(engine, wait_backs_off_within_bounds)
{
    dr_apply_ctx c = {0};
    c.wait_initial_ms = 20;
    c.wait_max_ms = 80;
    counter k = {.done_at = 7};
    dr_err err;
    double t0 = now_ms();
    cr_assert_eq(dr_wait(&c, "x", 10, count_check, &k, &err), 0);
    double total = now_ms() - t0;
    cr_assert_eq(k.calls, 7);
    /* Delays 20, 40, 80, 80, 80, 80 each jittered into [d/2, d]. */
    double want_lo[] = {10, 20, 40, 40, 40, 40}, want_hi[] = {20, 40, 80, 80, 80, 80};
    for (int i = 1; i < 7; i++) {
        double gap = k.at[i] - k.at[i - 1];
        cr_assert_geq(gap, want_lo[i - 1] - 1, "gap %d: %.1f ms", i, gap);
        cr_assert_leq(gap, want_hi[i - 1] + 30, "gap %d: %.1f ms", i, gap);
    }
    cr_assert_geq(total, 190 - 5, "%.1f ms", total);
    cr_assert_leq(total, 380 + 100, "%.1f ms", total);
}

Test(engine, wait_times_out_naming_what)
{
    dr_apply_ctx c = {0};
    c.wait_initial_ms = 50;
    c.wait_max_ms = 200;
    c.wait_timeout_s = 1;
    counter k = {0};
    dr_err err;
    dr_err_clear(&err);
    double t0 = now_ms();
    cr_assert_eq(dr_wait(&c, "NAT gateway nat-1", 600, count_check, &k, &err), -1);
    double total = now_ms() - t0;
    cr_assert_eq(err.code, DR_E_AWS);
    cr_assert(strstr(err.msg, "timed out"), "%s", err.msg);
    cr_assert(strstr(err.msg, "NAT gateway nat-1"), "%s", err.msg);
    cr_assert_geq(total, 1000, "%.0f ms", total);
    cr_assert_lt(total, 1400, "the last sleep is cut at the limit: %.0f ms", total);
    cr_assert_geq(k.calls, 5);
}

Test(engine, wait_stops_on_a_failed_check)
{
    dr_apply_ctx c = {0};
    c.wait_initial_ms = 1;
    counter k = {.fail_at = 3};
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(dr_wait(&c, "x", 10, count_check, &k, &err), -1);
    cr_assert_eq(k.calls, 3);
    cr_assert(strstr(err.msg, "failed state"));
}
