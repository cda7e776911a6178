/*
 * engine.c - plan, apply and destroy (see engine.h for the behaviour).
 *
 * Concurrency model: a small pool of pthreads runs a DAG of nodes (one per
 * resource to change). Everything shared - the state, the cache of other
 * regions' outputs, the scheduler's bookkeeping, progress callbacks - is
 * behind one mutex; handlers (the slow AWS calls and waits) run outside it,
 * each worker with its own dr_aws, because a dr_aws is not thread-safe.
 * The state is saved under the lock, so saves are serialised and every
 * saved file is a consistent snapshot.
 *
 * Crash safety comes from the order of journal writes, not from locking:
 * "creating" is saved before the create call, the physical id right after
 * it, "ready" after the wait; "deleting" before the delete call, the entry
 * removed after the wait. Whatever point a SIGKILL hits, the next plan sees
 * an entry that says what to check (find by tags, read, or nothing).
 */
#include "stack/engine.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/retry.h"
#include "aws/xml.h"
#include "stack/resolve.h"
#include "util/mem.h"

/* ---- small helpers ------------------------------------------------------ */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* "AWS::EC2::Subnet" -> "Subnet", for messages people read. */
static const char *short_type(const char *type)
{
    const char *p = strrchr(type, ':');
    return p ? p + 1 : type;
}

const char *dr_action_name(dr_action a)
{
    static const char *const names[] = {"noop", "create", "update", "replace", "delete"};
    return (unsigned)a < 5 ? names[a] : "?";
}

int dr_plan_has_changes(const dr_plan *p)
{
    return p->ncreate + p->nupdate + p->nreplace + p->ndelete > 0;
}

void dr_plan_free(dr_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        dr_plan_item *it = &p->items[i];
        free(it->logical_id);
        free(it->type);
        for (size_t j = 0; j < it->nchanged; j++)
            free(it->changed[j]);
        free(it->changed);
        free(it->reason);
        free(it->physical_id);
    }
    free(p->items);
    memset(p, 0, sizeof(*p));
}

void dr_engine_token(const dr_state *st, const char *logical_id, long generation, char out[33])
{
    char *in = dr_xasprintf("drctl/%s/%s/%s/%ld/%s", st->stack, st->region, logical_id, generation,
                            st->epoch ? st->epoch : "");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(in, strlen(in), md, &mdlen, EVP_sha256(), NULL);
    free(in);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- the engine's run context ------------------------------------------ */

typedef struct eng {
    const dr_engine_opts *o;
    const dr_model *m;
    dr_state *st;
    dr_aws *aws;     /* for sequential work: o->aws or own_aws */
    dr_aws *own_aws; /* made here from o->aws_opts when o->aws is NULL */
    char *account_id;
    json_t *others; /* cache of other scopes' outputs for drctl::Output */
    pthread_mutex_t mu;
    int destroying;
} eng;

static int eng_init(eng *e, const dr_engine_opts *o, const dr_model *m, dr_state *st, dr_err *err)
{
    memset(e, 0, sizeof(*e));
    e->o = o;
    e->m = m;
    e->st = st;
    e->others = json_object();
    pthread_mutex_init(&e->mu, NULL);
    e->aws = o->aws;
    if (!e->aws && o->aws_opts) {
        if (dr_aws_new(o->aws_opts, &e->own_aws, err) != 0)
            return -1;
        e->aws = e->own_aws;
    }
    return 0;
}

static void eng_free(eng *e)
{
    dr_aws_free(e->own_aws);
    free(e->account_id);
    json_decref(e->others);
    pthread_mutex_destroy(&e->mu);
}

static const dr_handler *handler_for(const eng *e, const char *type)
{
    return e->o->handlers ? dr_handler_find_in(e->o->handlers, type) : dr_handler_find(type);
}

static int no_handler(dr_err *err, const char *id, const char *type)
{
    dr_err_set(err, DR_E_INTERNAL, "%s (%s): drctl has no handler for type %s", id, type, type);
    return dr_err_hint(err, "this build of drctl cannot manage %s resources yet", type);
}

static void apply_ctx(const eng *e, dr_aws *aws, dr_apply_ctx *c)
{
    memset(c, 0, sizeof(*c));
    c->aws = aws;
    c->region = e->m->region;
    c->stack = e->m->stack;
    c->log = e->o->log;
    c->profile = e->o->profile;
    c->wait_initial_ms = e->o->wait_initial_ms;
    c->wait_max_ms = e->o->wait_max_ms;
    c->wait_timeout_s = e->o->wait_timeout_s;
    c->account_id = e->account_id;
    c->scope = e->st->region;
    c->peer_regions = e->o->peer_regions;
}

static int mentions(json_t *v, const char *needle)
{
    if (json_is_string(v))
        return strstr(json_string_value(v), needle) != NULL;
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (mentions(x, needle)) return 1;
    } else if (json_is_object(v)) {
        json_object_foreach(v, k, x) if (mentions(x, needle)) return 1;
    }
    return 0;
}

/* The account id, once per engine call and only when the model needs it
 * (AWS::AccountId in a property or output). */
static int ensure_account(eng *e, dr_err *err)
{
    if (e->o->account_id) {
        e->account_id = dr_xstrdup(e->o->account_id);
        return 0;
    }
    int needed = mentions(e->m->outputs, "AWS::AccountId");
    for (size_t i = 0; !needed && i < e->m->n; i++)
        needed = mentions(e->m->resources[i].properties, "AWS::AccountId");
    if (!needed)
        return 0;
    if (!e->aws)
        return dr_err_set(err, DR_E_INTERNAL,
                          "the model needs the account id and there is no AWS client");
    xmlDocPtr doc = NULL;
    if (dr_aws_query(e->aws, "sts", e->m->region, "GetCallerIdentity", NULL, &doc, err) != 0)
        return dr_err_wrap(err, "finding the account id");
    char *acct = dr_xml_text(xmlDocGetRootElement(doc), "GetCallerIdentityResult/Account");
    xmlFreeDoc(doc);
    if (!acct || !*acct) {
        free(acct);
        return dr_err_set(err, DR_E_AWS, "STS GetCallerIdentity returned no account");
    }
    e->account_id = acct;
    return 0;
}

static void resolver_init(eng *e, dr_resolver *r, int plan)
{
    memset(r, 0, sizeof(*r));
    r->st = e->st;
    r->region = e->m->region;
    r->stack = e->m->stack;
    r->account_id = e->account_id;
    r->parameters = e->o->parameters;
    r->declared = e->m->parameters;
    r->plan = plan;
    r->others = e->others;
}

static int resolve_resource(eng *e, const dr_resolver *r, const dr_resource *res, json_t **out,
                            dr_err *err)
{
    if (dr_resolve(r, res->properties, out, err) == 0) {
        if (!*out)
            *out = json_object();
        return 0;
    }
    /* Another region's output is missing: if it is only needed by the
     * resource's deferrable property, go on without that property (the
     * next deploy adds it in place); anything else is an error. */
    json_t *deferred = res->deferrable ? json_object_get(res->properties, res->deferrable) : NULL;
    if (err->code != DR_E_NOT_FOUND || !deferred)
        return dr_err_wrap(err, "resolving %s (%s)", res->logical_id, res->type);
    dr_err why = *err;
    json_t *partial = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(res->properties, k, v)
    {
        if (v == deferred)
            continue;
        json_t *rv = NULL;
        if (dr_resolve(r, v, &rv, err) != 0) {
            json_decref(partial);
            return dr_err_wrap(err, "resolving %s (%s)", res->logical_id, res->type);
        }
        if (rv)
            json_object_set_new(partial, k, rv);
    }
    dr_warn(e->o->log, "%s (%s): %s waits: %s; deploy that region, then this one again",
            res->logical_id, res->type, res->deferrable, why.msg);
    *out = partial;
    return 0;
}

/* The tags to create with: the model's Tags (when the type has them) with
 * drctl:stack and drctl:logical-id guaranteed, as find() relies on them. */
static json_t *tags_for(const eng *e, const char *type, const char *logical_id, json_t *props)
{
    const char *prop = dr_model_tags_property(type);
    json_t *src = prop ? json_object_get(props, prop) : NULL;
    json_t *tags = json_is_array(src) ? json_deep_copy(src) : json_array();
    int have_stack = 0, have_id = 0;
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        have_stack |= k && strcmp(k, "drctl:stack") == 0;
        have_id |= k && strcmp(k, "drctl:logical-id") == 0;
    }
    if (!have_stack)
        json_array_append_new(tags,
                              json_pack("{s:s, s:s}", "Key", "drctl:stack", "Value", e->m->stack));
    if (!have_id)
        json_array_append_new(
            tags, json_pack("{s:s, s:s}", "Key", "drctl:logical-id", "Value", logical_id));
    return tags;
}

/* Sets the bookkeeping members the model gives an entry. */
static void entry_set_model(json_t *entry, const dr_resource *r)
{
    if (!entry || !r)
        return;
    json_t *deps = json_array();
    for (size_t i = 0; i < r->ndepends; i++)
        json_array_append_new(deps, json_string(r->depends_on[i]));
    json_object_set_new(entry, "depends_on", deps);
    if (r->deletion_policy)
        json_object_set_new(entry, "deletion_policy", json_string(r->deletion_policy));
    else
        json_object_del(entry, "deletion_policy");
}

static void entry_set_generation(json_t *entry, long gen)
{
    if (entry)
        json_object_set_new(entry, "generation", json_integer(gen));
}

/* The dependency list of a state entry (or NULL). */
static json_t *entry_deps(json_t *entry)
{
    json_t *d = json_object_get(entry, "depends_on");
    return json_is_array(d) ? d : NULL;
}

static int json_list_has(json_t *list, const char *s)
{
    size_t i;
    json_t *x;
    json_array_foreach(list, i,
                       x) if (json_is_string(x) && strcmp(json_string_value(x), s) == 0) return 1;
    return 0;
}

/* ---- plan ----------------------------------------------------------------- */

static dr_plan_item *add_item(dr_plan *p, const char *id, const char *type, dr_action a)
{
    p->items = dr_xrealloc(p->items, (p->n + 1) * sizeof(*p->items));
    dr_plan_item *it = &p->items[p->n++];
    memset(it, 0, sizeof(*it));
    it->logical_id = dr_xstrdup(id);
    it->type = dr_xstrdup(type);
    it->action = a;
    return it;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Top-level properties that differ between what the model wants and what
 * was last applied; a value not known before apply counts as a change. */
static void diff_props(json_t *want, json_t *have, char ***out, size_t *nout)
{
    char **names = NULL;
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v)
    {
        json_t *h = json_object_get(have, k);
        if (dr_json_unknown(v) || !h || !json_equal(v, h)) {
            names = dr_xrealloc(names, (n + 1) * sizeof(char *));
            names[n++] = dr_xstrdup(k);
        }
    }
    json_object_foreach(have, k, v)
    {
        if (!json_object_get(want, k)) {
            names = dr_xrealloc(names, (n + 1) * sizeof(char *));
            names[n++] = dr_xstrdup(k);
        }
    }
    if (n > 1)
        qsort(names, n, sizeof(char *), cmp_cstr);
    *out = names;
    *nout = n;
}

static int updatable(const dr_handler *h, const char *prop)
{
    if (!h->update || !h->update_in_place)
        return 0;
    for (const char *const *p = h->update_in_place; *p; p++)
        if (strcmp(*p, prop) == 0)
            return 1;
    return 0;
}

/* Update or replace, from the changed properties. */
static void classify(dr_plan_item *it, const dr_handler *h)
{
    dr_buf b = DR_BUF_INIT;
    size_t fixed = 0;
    for (size_t i = 0; i < it->nchanged; i++) {
        if (updatable(h, it->changed[i]))
            continue;
        if (fixed++)
            dr_buf_puts(&b, ", ");
        dr_buf_puts(&b, it->changed[i]);
    }
    if (fixed == 0) {
        it->action = DR_ACT_UPDATE;
    } else {
        it->action = DR_ACT_REPLACE;
        dr_buf_puts(&b, ": cannot change in place");
        free(it->reason);
        it->reason = dr_buf_detach(&b);
    }
    dr_buf_free(&b);
}

typedef struct plan_pending {
    const dr_model *m;
    unsigned char *flags; /* by model index */
} plan_pending;

static int pending_cb(void *ud, const char *logical_id)
{
    plan_pending *pp = ud;
    const dr_resource *r = dr_model_find(pp->m, logical_id);
    return r && pp->flags[r - pp->m->resources];
}

/* A resource found gone: the next create starts a new generation (a fresh
 * idempotency token: the old one named the resource that is gone). */
static void mark_gone(dr_state *st, const char *id, json_t *entry)
{
    long gen = dr_state_generation(entry) + 1;
    char *type = dr_xstrdup(dr_state_type(entry));
    json_t *props = json_incref(json_object_get(entry, "properties"));
    dr_state_put(st, id, type, NULL, DR_RES_CREATING, props, NULL);
    entry_set_generation(dr_state_get(st, id), gen);
    json_decref(props);
    free(type);
}

/* Reads one resource; *exists = 1 when the handler has no read. */
static int plan_read(const eng *e, const dr_handler *h, const char *id, const char *type,
                     const char *phys, json_t *props, int *exists, dr_live *live, dr_err *err)
{
    *exists = 1;
    if (!h->read || !phys)
        return 0;
    dr_apply_ctx c;
    apply_ctx(e, e->aws, &c);
    if (h->read(&c, phys, props, exists, live, err) != 0) {
        /* IAM's API lives in us-east-1 whatever the region: during an outage
         * of us-east-1, the standby must still come up. A role deployed
         * before keeps working (IAM's data plane is global), so when IAM
         * cannot be reached the resource is taken as last deployed: plan
         * compares the model with the state, unverified, and says so. */
        int unreachable = err->code == DR_E_NETWORK ||
                          (err->code == DR_E_AWS && (err->aws.http_status >= 500 ||
                                                     strstr(err->aws.code, "Throttl") != NULL));
        if (strncmp(type, "AWS::IAM::", 10) == 0 && unreachable) {
            dr_warn(e->o->log,
                    "%s (%s) %s not verified: IAM unreachable (%s); taken as last "
                    "deployed",
                    id, type, phys, err->msg);
            dr_err_clear(err);
            *exists = 1;
            return 0;
        }
        return dr_err_wrap(err, "reading %s %s (%s) %s", short_type(type), id, type, phys);
    }
    return 0;
}

/* Orders deletion candidates so that a resource comes before those it
 * depends on (stored depends_on); stable otherwise. ids[] is sorted in
 * place. */
static void order_for_deletion(json_t *resources, char **ids, size_t n)
{
    char **out = dr_xcalloc(n ? n : 1, sizeof(char *));
    unsigned char *done = dr_xcalloc(n ? n : 1, 1);
    for (size_t k = 0; k < n; k++) {
        size_t pick = n;
        for (size_t i = 0; i < n && pick == n; i++) {
            if (done[i])
                continue;
            /* ready when no remaining candidate depends on ids[i] */
            int blocked = 0;
            for (size_t j = 0; j < n && !blocked; j++)
                if (!done[j] && j != i) {
                    json_t *deps = entry_deps(json_object_get(resources, ids[j]));
                    blocked = deps && json_list_has(deps, ids[i]);
                }
            if (!blocked)
                pick = i;
        }
        if (pick == n) /* a cycle in stored data: keep the rest as it is */
            for (pick = 0; done[pick]; pick++) {
            }
        done[pick] = 1;
        out[k] = ids[pick];
    }
    memcpy(ids, out, n * sizeof(char *));
    free(out);
    free(done);
}

static void count(dr_plan *p)
{
    p->ncreate = p->nupdate = p->nreplace = p->ndelete = p->nnoop = p->nadopted = 0;
    for (size_t i = 0; i < p->n; i++) {
        switch (p->items[i].action) {
        case DR_ACT_NOOP:
            p->nnoop++;
            break;
        case DR_ACT_CREATE:
            p->ncreate++;
            break;
        case DR_ACT_UPDATE:
            p->nupdate++;
            break;
        case DR_ACT_REPLACE:
            p->nreplace++;
            break;
        case DR_ACT_DELETE:
            p->ndelete++;
            break;
        }
        p->nadopted += p->items[i].adopted != 0;
    }
}

/* Plans one model resource. */
static int plan_one(eng *e, const dr_resource *r, const dr_resolver *rs, plan_pending *pp,
                    dr_plan *out, dr_err *err)
{
    const dr_handler *h = handler_for(e, r->type);
    if (!h)
        return no_handler(err, r->logical_id, r->type);
    json_t *props = NULL;
    if (resolve_resource(e, rs, r, &props, err) != 0)
        return -1;
    dr_plan_item *it = add_item(out, r->logical_id, r->type, DR_ACT_NOOP);
    json_t *entry = dr_state_get(e->st, r->logical_id);
    int rc = 0, compare = 0;
    dr_live live = {0};
    if (!entry) {
        int found = 0;
        if (h->find && !dr_json_unknown(props)) {
            dr_apply_ctx c;
            apply_ctx(e, e->aws, &c);
            if (h->find(&c, r->logical_id, props, &found, &live, err) != 0) {
                rc = dr_err_wrap(err, "looking up %s %s (%s) by its tags", short_type(r->type),
                                 r->logical_id, r->type);
                goto out;
            }
        }
        if (found && live.physical_id) {
            /* Adopt: what the model wants, overlaid with what AWS says where
             * the handler could read it back, so real differences show. */
            json_t *have = json_deep_copy(props);
            if (json_is_object(live.properties))
                json_object_update(have, live.properties);
            dr_state_put(e->st, r->logical_id, r->type, live.physical_id, DR_RES_READY, have,
                         live.attributes);
            json_decref(have);
            entry = dr_state_get(e->st, r->logical_id);
            entry_set_model(entry, r);
            out->state_changed = 1;
            it->adopted = 1;
            it->reason = dr_xstrdup("adopted: found by its tags");
            compare = 1;
        } else {
            it->action = DR_ACT_CREATE;
            it->reason = dr_xstrdup("not in state");
        }
    } else {
        /* A copy: mark_gone below replaces the entry. */
        char *phys = dr_state_physical_id(entry) ? dr_xstrdup(dr_state_physical_id(entry)) : NULL;
        int status = dr_state_status(entry), exists = 1;
        /* read gets what was last applied: the model's new values may not
         * be known yet (and are not what exists). */
        if (phys && plan_read(e, h, r->logical_id, r->type, phys,
                              json_object_get(entry, "properties"), &exists, &live, err) != 0) {
            free(phys);
            rc = -1;
            goto out;
        }
        if (!exists) {
            const char *why = status == DR_RES_CREATING   ? "an interrupted create: gone"
                              : status == DR_RES_DELETING ? "deleted (an interrupted delete)"
                                                          : "deleted outside drctl";
            mark_gone(e->st, r->logical_id, entry);
            out->state_changed = 1;
            it->action = DR_ACT_CREATE;
            it->reason = dr_xstrdup(why);
        } else if (status == DR_RES_CREATING) {
            it->action = DR_ACT_CREATE;
            it->reason = dr_xstrdup(phys ? "an interrupted create: waiting until it is ready"
                                         : "an interrupted create: looked up by its tags first");
        } else if (status == DR_RES_DELETING) {
            it->action = DR_ACT_REPLACE;
            it->reason = dr_xstrdup("a delete was interrupted");
        } else {
            if (live.attributes && json_is_object(live.attributes)) {
                /* Refresh what GetAtt reads (in memory). */
                json_t *attrs = json_object_get(entry, "attributes");
                if (json_is_object(attrs)) {
                    json_t *before = json_deep_copy(attrs);
                    json_object_update(attrs, live.attributes);
                    if (!json_equal(before, attrs))
                        out->state_changed = 1;
                    json_decref(before);
                }
            }
            compare = 1;
        }
        it->physical_id = phys;
    }
    if (compare) {
        entry = dr_state_get(e->st, r->logical_id);
        diff_props(props, json_object_get(entry, "properties"), &it->changed, &it->nchanged);
        if (it->nchanged)
            classify(it, h);
        if (!it->physical_id && dr_state_physical_id(entry))
            it->physical_id = dr_xstrdup(dr_state_physical_id(entry));
    }
    if (it->action == DR_ACT_CREATE || it->action == DR_ACT_REPLACE)
        pp->flags[r - e->m->resources] = 1;
out:
    dr_live_free(&live);
    json_decref(props);
    return rc;
}

int dr_engine_plan(const dr_engine_opts *o, const dr_model *m, dr_state *st, dr_plan *out,
                   dr_err *err)
{
    memset(out, 0, sizeof(*out));
    eng e;
    if (eng_init(&e, o, m, st, err) != 0) {
        eng_free(&e);
        return -1;
    }
    size_t *order = NULL;
    plan_pending pp = {m, dr_xcalloc(m->n ? m->n : 1, 1)};
    int rc = -1;
    if (ensure_account(&e, err) != 0 || dr_model_order(m, &order, err) != 0)
        goto out;
    dr_resolver rs;
    resolver_init(&e, &rs, 1);
    rs.pending = pending_cb;
    rs.pending_ud = &pp;
    for (size_t k = 0; k < m->n; k++)
        if (plan_one(&e, &m->resources[order[k]], &rs, &pp, out, err) != 0)
            goto out;

    /* Old copies left by create-before-delete replacements. */
    for (size_t k = 0; k < m->n; k++) {
        const dr_resource *r = &m->resources[order[k]];
        json_t *prev = json_object_get(dr_state_get(st, r->logical_id), "previous");
        if (!json_is_object(prev))
            continue;
        dr_plan_item *it = add_item(out, r->logical_id, r->type, DR_ACT_DELETE);
        it->previous = 1;
        const char *pid = json_string_value(json_object_get(prev, "physical_id"));
        it->physical_id = pid ? dr_xstrdup(pid) : NULL;
        it->reason = dr_xstrdup("the copy it replaced");
    }
    /* Resources no longer in the model: dependents first. */
    size_t nd = 0;
    char **ids = dr_xcalloc(json_object_size(st->resources) + 1, sizeof(char *));
    const char *id;
    json_t *entry;
    json_object_foreach(st->resources, id, entry) if (!dr_model_find(m, id)) ids[nd++] = (char *)id;
    order_for_deletion(st->resources, ids, nd);
    for (size_t i = 0; i < nd; i++) {
        entry = dr_state_get(st, ids[i]);
        const char *type = dr_state_type(entry);
        if (!handler_for(&e, type)) {
            no_handler(err, ids[i], type);
            free(ids);
            goto out;
        }
        dr_plan_item *it = add_item(out, ids[i], type, DR_ACT_DELETE);
        const char *pid = dr_state_physical_id(entry);
        it->physical_id = pid ? dr_xstrdup(pid) : NULL;
        const char *pol = json_string_value(json_object_get(entry, "deletion_policy"));
        it->retain = pol && strcmp(pol, "Retain") == 0;
        it->reason = dr_xstrdup(it->retain ? "not in the model; DeletionPolicy Retain: forgotten, "
                                             "kept in AWS"
                                           : "not in the model");
    }
    free(ids);
    count(out);
    rc = 0;
out:
    if (rc != 0)
        dr_plan_free(out);
    free(order);
    free(pp.flags);
    eng_free(&e);
    return rc;
}

/* ---- the worker pool ------------------------------------------------------ */

enum { N_WAITING, N_RUNNING, N_DONE, N_FAILED, N_SKIPPED };

typedef struct node {
    const dr_plan_item *item;
    size_t *deps; /* node indices that must be done first */
    size_t ndeps;
    int state;
    char *blocked_by; /* destroy: the dependent that could not be deleted */
    dr_err err;       /* why it failed */
} node;

typedef struct pool {
    eng *e;
    node *nodes;
    size_t n;
    int (*run)(struct pool *p, node *nd, dr_aws *aws, dr_err *err);
    int keep_going; /* destroy: failures do not stop the others */
    size_t running;
    int stopped;
    size_t nfailed;
    size_t first_failed; /* index */
    pthread_cond_t cv;
} pool;

typedef struct worker {
    pool *p;
    dr_aws *aws;
} worker;

static void node_add_dep(node *nd, size_t dep)
{
    for (size_t i = 0; i < nd->ndeps; i++)
        if (nd->deps[i] == dep)
            return;
    nd->deps = dr_xrealloc(nd->deps, (nd->ndeps + 1) * sizeof(size_t));
    nd->deps[nd->ndeps++] = dep;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pool *p = w->p;
    eng *e = p->e;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        node *pick = NULL;
        size_t waiting = 0;
        for (size_t i = 0; i < p->n && !p->stopped; i++) {
            node *nd = &p->nodes[i];
            if (nd->state != N_WAITING)
                continue;
            int ready = 1, blocked = 0;
            for (size_t j = 0; j < nd->ndeps; j++) {
                int ds = p->nodes[nd->deps[j]].state;
                if (ds == N_FAILED || ds == N_SKIPPED) {
                    blocked = 1;
                    free(nd->blocked_by);
                    nd->blocked_by = dr_xstrdup(p->nodes[nd->deps[j]].item->logical_id);
                    break;
                }
                if (ds != N_DONE)
                    ready = 0;
            }
            if (blocked) {
                nd->state = N_SKIPPED;
                pthread_cond_broadcast(&p->cv);
                continue;
            }
            if (ready && !pick)
                pick = nd;
            else
                waiting++;
        }
        if (pick) {
            pick->state = N_RUNNING;
            p->running++;
            pthread_mutex_unlock(&e->mu);
            dr_err ne;
            dr_err_clear(&ne);
            int rc = p->run(p, pick, w->aws, &ne);
            pthread_mutex_lock(&e->mu);
            p->running--;
            if (rc != 0) {
                pick->state = N_FAILED;
                pick->err = ne;
                if (p->nfailed++ == 0)
                    p->first_failed = (size_t)(pick - p->nodes);
                if (!p->keep_going)
                    p->stopped = 1;
            } else {
                pick->state = N_DONE;
            }
            pthread_cond_broadcast(&p->cv);
            continue;
        }
        /* Nothing ready: finished, stopped, or waiting on running nodes. */
        if (p->stopped || waiting == 0 || p->running == 0)
            break;
        pthread_cond_wait(&p->cv, &e->mu);
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* Runs every node; 0 when all succeeded. One dr_aws per worker, made from
 * o->aws_opts; without aws_opts the workers share e->aws, which is only
 * safe with one worker (or none, in tests whose handlers make no call). */
static int pool_run(pool *p, dr_err *err)
{
    eng *e = p->e;
    if (p->n == 0)
        return 0;
    size_t nw = e->o->concurrency > 0 ? (size_t)e->o->concurrency : 4;
    if (!e->o->aws_opts && e->aws)
        nw = 1;
    if (nw > p->n)
        nw = p->n;
    worker *ws = dr_xcalloc(nw, sizeof(worker));
    pthread_t *th = dr_xcalloc(nw, sizeof(pthread_t));
    int rc = 0;
    for (size_t i = 0; i < nw; i++) {
        ws[i].p = p;
        ws[i].aws = e->aws;
        if (e->o->aws_opts && dr_aws_new(e->o->aws_opts, &ws[i].aws, err) != 0) {
            for (size_t j = 0; j < i; j++)
                dr_aws_free(ws[j].aws);
            free(ws);
            free(th);
            return -1;
        }
    }
    pthread_cond_init(&p->cv, NULL);
    size_t started = 0;
    for (size_t i = 0; i < nw; i++) {
        if (pthread_create(&th[i], NULL, worker_main, &ws[i]) != 0)
            break;
        started++;
    }
    if (started == 0)
        worker_main(&ws[0]); /* no thread could start: run in this one */
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_cond_destroy(&p->cv);
    for (size_t i = 0; i < nw; i++)
        if (e->o->aws_opts)
            dr_aws_free(ws[i].aws);
    free(ws);
    free(th);
    if (p->nfailed) {
        *err = p->nodes[p->first_failed].err;
        rc = -1;
    }
    return rc;
}

static void pool_free(pool *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->nodes[i].deps);
        free(p->nodes[i].blocked_by);
    }
    free(p->nodes);
}

/* ---- steps, with retries on throttling ---------------------------------- */

/* Throttling and transient failures that outlasted the client's retries
 * (AWS_MAX_ATTEMPTS): worth another try of the whole step. */
static int retryable(const dr_err *err)
{
    if (err->code == DR_E_NETWORK)
        return 1;
    if (err->code != DR_E_AWS || !err->has_aws)
        return 0;
    return dr_retry_classify(err->aws.http_status, 0, err->aws.code) != DR_RETRY_NONE;
}

static int attempts(const eng *e)
{
    return e->o->step_attempts > 0 ? e->o->step_attempts : 4;
}

/* Backoff between step attempts: wait_initial_ms doubled per attempt, at
 * most wait_max_ms, half of it jittered. */
static void step_backoff(const eng *e, int attempt, unsigned *seed)
{
    long base = e->o->wait_initial_ms > 0 ? e->o->wait_initial_ms : 2000;
    long cap = e->o->wait_max_ms > 0 ? e->o->wait_max_ms : 30000;
    long d = base;
    for (int i = 1; i < attempt && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    long half = d / 2;
    sleep_ms(half + (half > 0 ? (long)(rand_r(seed) % (unsigned)(half + 1)) : 0));
}

static void emit(eng *e, const dr_plan_item *it, const char *phase, const char *verb,
                 const char *phys, double secs, const dr_err *err)
{
    if (!e->o->on_progress)
        return;
    dr_progress_event ev = {it, phase, verb, phys, secs, err};
    e->o->on_progress(e->o->progress_ud, &ev);
}

/* Journal write under the lock: put + bookkeeping + save. */
static int journal(eng *e, const dr_resource *r, const char *id, const char *type, const char *phys,
                   dr_res_status status, json_t *props, json_t *attrs, long gen, dr_err *err)
{
    dr_state_put(e->st, id, type, phys, status, props, attrs);
    json_t *entry = dr_state_get(e->st, id);
    entry_set_generation(entry, gen);
    entry_set_model(entry, r);
    return dr_state_save(e->st, err);
}

static int locked_journal(eng *e, const dr_resource *r, const char *id, const char *type,
                          const char *phys, dr_res_status status, json_t *props, json_t *attrs,
                          long gen, dr_err *err)
{
    pthread_mutex_lock(&e->mu);
    int rc = journal(e, r, id, type, phys, status, props, attrs, gen, err);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

static json_t *merge_attrs(json_t *base, json_t *more)
{
    json_t *a = json_is_object(base) ? json_deep_copy(base) : json_object();
    if (json_is_object(more))
        json_object_update(a, more);
    return a;
}

/* wait_ready then read (for attributes known only once ready), retried on
 * throttling. *attrs is replaced by the merged attributes. */
static int settle(eng *e, dr_apply_ctx *c, const dr_handler *h, const char *phys, json_t *props,
                  json_t **attrs, unsigned *seed, dr_err *err)
{
    for (int a = 1;; a++) {
        if (!h->wait_ready || h->wait_ready(c, phys, err) == 0)
            break;
        if (!retryable(err) || a >= attempts(e))
            return dr_err_wrap(err, "waiting until %s is ready", phys);
        step_backoff(e, a, seed);
    }
    if (!h->read)
        return 0;
    for (int a = 1;; a++) {
        dr_live live = {0};
        int exists = 1;
        if (h->read(c, phys, props, &exists, &live, err) == 0) {
            if (!exists) {
                dr_live_free(&live);
                return dr_err_set(err, DR_E_AWS, "%s is gone right after it was made ready", phys);
            }
            json_t *m = merge_attrs(*attrs, live.attributes);
            json_decref(*attrs);
            *attrs = m;
            dr_live_free(&live);
            return 0;
        }
        dr_live_free(&live);
        if (!retryable(err) || a >= attempts(e))
            return -1;
        step_backoff(e, a, seed);
    }
}

/*
 * Creates (or finds) the resource and waits for it. `phys_known`: the id a
 * previous run recorded (only the wait is left). `do_find`: look by tags
 * first (a resumed create); `ignore` is an id find must not return (the old
 * copy of a replacement, which carries the same tags).
 */
static int create_flow(eng *e, dr_apply_ctx *c, const dr_resource *r, const dr_handler *h,
                       json_t *props, long gen, const char *phys_known, int do_find,
                       const char *ignore, char **phys_out, dr_err *err)
{
    unsigned seed = (unsigned)(uintptr_t)r ^ (unsigned)time(NULL);
    char *phys = phys_known ? dr_xstrdup(phys_known) : NULL;
    json_t *attrs = NULL;
    json_t *tags = tags_for(e, r->type, r->logical_id, props);
    char token[33];
    dr_engine_token(e->st, r->logical_id, gen, token);
    int rc = -1;
    for (int a = 1; !phys; a++) {
        if (do_find && h->find && !dr_json_unknown(props)) {
            dr_live live = {0};
            int found = 0;
            if (h->find(c, r->logical_id, props, &found, &live, err) != 0) {
                dr_live_free(&live);
                if (!retryable(err) || a >= attempts(e))
                    goto out;
                step_backoff(e, a, &seed);
                continue;
            }
            if (found && live.physical_id && !(ignore && strcmp(live.physical_id, ignore) == 0)) {
                phys = live.physical_id;
                live.physical_id = NULL;
                attrs = live.attributes;
                live.attributes = NULL;
                dr_live_free(&live);
                break;
            }
            dr_live_free(&live);
        }
        dr_live live = {0};
        if (h->create(c, r->logical_id, props, tags, token, &live, err) == 0 && live.physical_id) {
            phys = live.physical_id;
            live.physical_id = NULL;
            attrs = live.attributes;
            live.attributes = NULL;
            dr_live_free(&live);
            break;
        }
        dr_live_free(&live);
        if (err->code == DR_OK)
            dr_err_set(err, DR_E_INTERNAL, "the handler returned no physical id");
        if (!retryable(err) || a >= attempts(e))
            goto out;
        /* The create may have happened even though the answer was lost:
         * look before trying again (the token covers APIs that take one). */
        do_find = 1;
        step_backoff(e, a, &seed);
    }
    if (locked_journal(e, r, r->logical_id, r->type, phys, DR_RES_CREATING, props, attrs, gen,
                       err) != 0)
        goto out;
    if (settle(e, c, h, phys, props, &attrs, &seed, err) != 0)
        goto out;
    if (locked_journal(e, r, r->logical_id, r->type, phys, DR_RES_READY, props, attrs, gen, err) !=
        0)
        goto out;
    rc = 0;
out:
    json_decref(tags);
    json_decref(attrs);
    if (rc == 0 && phys_out)
        *phys_out = phys;
    else
        free(phys);
    return rc;
}

/* Deletes and waits until AWS has let it go; retried on throttling. */
static int remove_flow(eng *e, dr_apply_ctx *c, const dr_handler *h, const char *phys,
                       json_t *props, dr_err *err)
{
    unsigned seed = (unsigned)(uintptr_t)phys ^ (unsigned)time(NULL);
    for (int a = 1;; a++) {
        if (h->remove(c, phys, props, err) == 0)
            break;
        if (!retryable(err) || a >= attempts(e))
            return -1;
        step_backoff(e, a, &seed);
    }
    for (int a = 1;; a++) {
        if (!h->wait_deleted || h->wait_deleted(c, phys, err) == 0)
            return 0;
        if (!retryable(err) || a >= attempts(e))
            return dr_err_wrap(err, "waiting until %s is deleted", phys);
        step_backoff(e, a, &seed);
    }
}

static int snapshot_policy(const eng *e, const char *policy)
{
    return policy && strcmp(policy, "Snapshot") == 0 && !e->o->skip_final_snapshot;
}

/* 1 when a unique physical name stays the same: the new copy could not
 * exist beside the old one. */
static int name_pinned(const dr_handler *h, json_t *old_props, json_t *new_props)
{
    for (const char *const *p = h->name_properties; p && *p; p++) {
        json_t *n = json_object_get(new_props, *p);
        if (n && !json_is_null(n) && json_equal(n, json_object_get(old_props, *p)))
            return 1;
    }
    return 0;
}

/* ---- apply: one node ---------------------------------------------------- */

typedef struct snap {
    char *phys;
    json_t *props; /* last applied */
    json_t *attrs;
    long gen;
    int status;
    json_t *previous;
} snap;

static void snap_take(json_t *entry, snap *s)
{
    memset(s, 0, sizeof(*s));
    s->status = -1;
    if (!entry)
        return;
    const char *p = dr_state_physical_id(entry);
    s->phys = p ? dr_xstrdup(p) : NULL;
    s->props = json_deep_copy(json_object_get(entry, "properties"));
    s->attrs = json_deep_copy(json_object_get(entry, "attributes"));
    s->gen = dr_state_generation(entry);
    s->status = dr_state_status(entry);
    json_t *prev = json_object_get(entry, "previous");
    s->previous = json_is_object(prev) ? json_deep_copy(prev) : NULL;
}

static void snap_free(snap *s)
{
    free(s->phys);
    json_decref(s->props);
    json_decref(s->attrs);
    json_decref(s->previous);
}

static int apply_create(eng *e, dr_apply_ctx *c, const dr_resource *r, const dr_handler *h,
                        json_t *props, snap *s, char **phys, dr_err *err)
{
    long gen = s->status >= 0 ? s->gen : 0;
    if (s->status == DR_RES_READY && s->phys) {
        /* Already there (a plan older than the state): nothing to create. */
        *phys = dr_xstrdup(s->phys);
        return 0;
    }
    if (s->status == DR_RES_CREATING) /* resumed: look by tags before creating */
        return create_flow(e, c, r, h, props, gen, s->phys, 1, NULL, phys, err);
    if (locked_journal(e, r, r->logical_id, r->type, NULL, DR_RES_CREATING, props, NULL, gen,
                       err) != 0)
        return -1;
    return create_flow(e, c, r, h, props, gen, NULL, 0, NULL, phys, err);
}

static int apply_update(eng *e, dr_apply_ctx *c, const dr_resource *r, const dr_handler *h,
                        json_t *props, snap *s, char **phys, dr_err *err)
{
    unsigned seed = (unsigned)(uintptr_t)r ^ (unsigned)time(NULL);
    json_t *attrs = json_incref(s->attrs);
    for (int a = 1;; a++) {
        dr_live live = {0};
        if (h->update(c, s->phys, s->props, props, &live, err) == 0) {
            json_t *m = merge_attrs(attrs, live.attributes);
            json_decref(attrs);
            attrs = m;
            dr_live_free(&live);
            break;
        }
        dr_live_free(&live);
        if (!retryable(err) || a >= attempts(e)) {
            json_decref(attrs);
            return -1;
        }
        step_backoff(e, a, &seed);
    }
    int rc = settle(e, c, h, s->phys, props, &attrs, &seed, err);
    if (rc == 0)
        rc = locked_journal(e, r, r->logical_id, r->type, s->phys, DR_RES_READY, props, attrs,
                            s->gen, err);
    json_decref(attrs);
    if (rc == 0)
        *phys = dr_xstrdup(s->phys);
    return rc;
}

static int apply_replace(eng *e, dr_apply_ctx *c, const dr_resource *r, const dr_handler *h,
                         json_t *props, snap *s, char **phys, dr_err *err)
{
    if (s->previous) {
        const char *prev_id = json_string_value(json_object_get(s->previous, "physical_id"));
        if (s->status == DR_RES_CREATING) /* resume a create-before-delete replacement */
            return create_flow(e, c, r, h, props, s->gen, s->phys, 1, prev_id, phys, err);
        /* Replaced again before the previous copy went: delete that first,
         * so that at most one old copy is ever pending. */
        if (prev_id) {
            c->final_snapshot = snapshot_policy(e, r->deletion_policy);
            int rc = remove_flow(e, c, h, prev_id, json_object_get(s->previous, "properties"), err);
            c->final_snapshot = 0;
            if (rc != 0)
                return dr_err_wrap(err, "deleting the copy it replaced earlier (%s)", prev_id);
        }
        pthread_mutex_lock(&e->mu);
        json_object_del(dr_state_get(e->st, r->logical_id), "previous");
        int rc = dr_state_save(e->st, err);
        pthread_mutex_unlock(&e->mu);
        if (rc != 0)
            return -1;
    }
    long gen = s->gen + 1;
    if (s->status == DR_RES_DELETING || !s->phys || name_pinned(h, s->props, props)) {
        if (s->phys) {
            if (locked_journal(e, r, r->logical_id, r->type, s->phys, DR_RES_DELETING, s->props,
                               s->attrs, s->gen, err) != 0)
                return -1;
            c->final_snapshot = snapshot_policy(e, r->deletion_policy);
            int rc = remove_flow(e, c, h, s->phys, s->props, err);
            c->final_snapshot = 0;
            if (rc != 0)
                return dr_err_wrap(err, "deleting the old one first (%s)", s->phys);
        }
        if (locked_journal(e, r, r->logical_id, r->type, NULL, DR_RES_CREATING, props, NULL, gen,
                           err) != 0)
            return -1;
        /* Nothing new exists yet: no look-up (a resumed run does one). */
        return create_flow(e, c, r, h, props, gen, NULL, 0, NULL, phys, err);
    }
    /* Create before delete: keep the old copy as "previous" until the
     * deletion phase, when nothing refers to it any more. */
    pthread_mutex_lock(&e->mu);
    dr_state_put(e->st, r->logical_id, r->type, NULL, DR_RES_CREATING, props, NULL);
    json_t *entry = dr_state_get(e->st, r->logical_id);
    json_t *prev = json_pack("{s:s, s:O, s:O}", "physical_id", s->phys, "properties", s->props,
                             "attributes", s->attrs ? s->attrs : json_null());
    json_t *olddeps = entry_deps(entry);
    if (olddeps)
        json_object_set(prev, "depends_on", olddeps);
    json_object_set_new(entry, "previous", prev);
    entry_set_generation(entry, gen);
    entry_set_model(entry, r);
    int rc = dr_state_save(e->st, err);
    pthread_mutex_unlock(&e->mu);
    if (rc != 0)
        return -1;
    return create_flow(e, c, r, h, props, gen, NULL, 0, NULL, phys, err);
}

static const char *verb_of(dr_action a, int done)
{
    switch (a) {
    case DR_ACT_CREATE:
        return done ? "created" : "creating";
    case DR_ACT_UPDATE:
        return done ? "updated" : "updating";
    case DR_ACT_REPLACE:
        return done ? "replaced" : "replacing";
    case DR_ACT_DELETE:
        return done ? "deleted" : "deleting";
    default:
        return done ? "checked" : "checking";
    }
}

static int run_apply_node(pool *p, node *nd, dr_aws *aws, dr_err *err)
{
    eng *e = p->e;
    const dr_plan_item *it = nd->item;
    const dr_resource *r = dr_model_find(e->m, it->logical_id);
    const dr_handler *h = r ? handler_for(e, r->type) : NULL;
    if (!r || !h)
        return r ? no_handler(err, it->logical_id, it->type)
                 : dr_err_set(err, DR_E_INTERNAL, "plan item %s is not in the model",
                              it->logical_id);
    double t0 = mono_s();
    dr_apply_ctx c;
    apply_ctx(e, aws, &c);
    json_t *props = NULL;
    snap s;
    dr_resolver rs;
    resolver_init(e, &rs, 0);
    pthread_mutex_lock(&e->mu);
    emit(e, it, "start", verb_of(it->action, 0), it->physical_id, 0, NULL);
    int rc = resolve_resource(e, &rs, r, &props, err);
    snap_take(dr_state_get(e->st, r->logical_id), &s);
    pthread_mutex_unlock(&e->mu);

    char *phys = NULL;
    if (rc == 0) {
        switch (it->action) {
        case DR_ACT_CREATE:
            rc = apply_create(e, &c, r, h, props, &s, &phys, err);
            break;
        case DR_ACT_UPDATE:
            rc = s.phys && h->update ? apply_update(e, &c, r, h, props, &s, &phys, err)
                                     : apply_replace(e, &c, r, h, props, &s, &phys, err);
            break;
        case DR_ACT_REPLACE:
            rc = apply_replace(e, &c, r, h, props, &s, &phys, err);
            break;
        default:
            rc = dr_err_set(err, DR_E_INTERNAL, "unexpected action %s for %s",
                            dr_action_name(it->action), it->logical_id);
        }
    }
    if (rc != 0)
        dr_err_wrap(err, "%s %s %s (%s)", verb_of(it->action, 0), short_type(r->type),
                    r->logical_id, r->type);
    pthread_mutex_lock(&e->mu);
    if (rc == 0)
        emit(e, it, "done", verb_of(it->action, 1), phys, mono_s() - t0, NULL);
    else
        emit(e, it, "failed", verb_of(it->action, 0), s.phys, mono_s() - t0, err);
    pthread_mutex_unlock(&e->mu);
    free(phys);
    snap_free(&s);
    json_decref(props);
    return rc;
}

/* A deletion: a resource removed from the model (or everything, in
 * destroy), or the old copy of a replaced one (item->previous). */
static int run_delete_node(pool *p, node *nd, dr_aws *aws, dr_err *err)
{
    eng *e = p->e;
    const dr_plan_item *it = nd->item;
    double t0 = mono_s();
    dr_apply_ctx c;
    apply_ctx(e, aws, &c);
    const dr_handler *h = handler_for(e, it->type);
    if (!h)
        return no_handler(err, it->logical_id, it->type);
    pthread_mutex_lock(&e->mu);
    json_t *entry = dr_state_get(e->st, it->logical_id);
    json_t *src = it->previous ? json_object_get(entry, "previous") : entry;
    const char *pid = json_string_value(json_object_get(src, "physical_id"));
    char *phys = pid ? dr_xstrdup(pid) : NULL;
    json_t *props = json_deep_copy(json_object_get(src, "properties"));
    if (!props)
        props = json_object();
    json_t *attrs = json_deep_copy(json_object_get(src, "attributes"));
    const char *pol = json_string_value(json_object_get(entry, "deletion_policy"));
    int retain = !e->destroying && !it->previous && pol && strcmp(pol, "Retain") == 0;
    int snapshot = snapshot_policy(e, pol);
    long gen = dr_state_generation(entry);
    int present = src != NULL;
    emit(e, it, "start", retain ? "forgetting" : "deleting", phys, 0, NULL);
    pthread_mutex_unlock(&e->mu);

    int rc = 0;
    if (present && !retain) {
        if (!phys && h->find && !it->previous) {
            /* A create that never recorded its id: it may exist. */
            dr_live live = {0};
            int found = 0;
            rc = h->find(&c, it->logical_id, props, &found, &live, err);
            if (rc == 0 && found && live.physical_id) {
                phys = live.physical_id;
                live.physical_id = NULL;
            }
            dr_live_free(&live);
        }
        if (rc == 0 && phys && !it->previous)
            rc = locked_journal(e, NULL, it->logical_id, it->type, phys, DR_RES_DELETING, props,
                                attrs, gen, err);
        if (rc == 0 && phys) {
            c.final_snapshot = snapshot;
            rc = remove_flow(e, &c, h, phys, props, err);
        }
    }
    pthread_mutex_lock(&e->mu);
    entry = dr_state_get(e->st, it->logical_id); /* journal() replaced it */
    if (rc == 0 && present && entry) {
        if (it->previous)
            json_object_del(entry, "previous");
        else
            dr_state_remove(e->st, it->logical_id);
        rc = dr_state_save(e->st, err);
    }
    if (rc != 0) {
        dr_err_wrap(err, "deleting %s %s (%s)%s%s", short_type(it->type), it->logical_id, it->type,
                    phys ? " " : "", phys ? phys : "");
        emit(e, it, "failed", "deleting", phys, mono_s() - t0, err);
    } else {
        emit(e, it, "done", retain ? "forgotten" : "deleted", phys, mono_s() - t0, NULL);
    }
    pthread_mutex_unlock(&e->mu);
    free(phys);
    json_decref(props);
    json_decref(attrs);
    return rc;
}

static int run_node(pool *p, node *nd, dr_aws *aws, dr_err *err)
{
    return nd->item->action == DR_ACT_DELETE ? run_delete_node(p, nd, aws, err)
                                             : run_apply_node(p, nd, aws, err);
}

/* The depends_on list of a deletion node's resource: the model's when it
 * is in the model, else what the state recorded. */
static int deletion_depends(const eng *e, const dr_plan_item *it, const char *on)
{
    const dr_resource *r = it->previous ? NULL : dr_model_find(e->m, it->logical_id);
    if (r) {
        for (size_t i = 0; i < r->ndepends; i++)
            if (strcmp(r->depends_on[i], on) == 0)
                return 1;
        return 0;
    }
    json_t *entry = dr_state_get(e->st, it->logical_id);
    json_t *deps = it->previous ? json_object_get(json_object_get(entry, "previous"), "depends_on")
                                : entry_deps(entry);
    return json_is_array(deps) && json_list_has(deps, on);
}

/* Nodes for deletion items: X waits for every Y that depends on X. */
static void build_delete_nodes(const eng *e, pool *p, const dr_plan_item *const *items, size_t n)
{
    p->nodes = dr_xcalloc(n ? n : 1, sizeof(node));
    p->n = n;
    for (size_t i = 0; i < n; i++)
        p->nodes[i].item = items[i];
    for (size_t x = 0; x < n; x++)
        for (size_t y = 0; y < n; y++) {
            if (x == y)
                continue;
            if (strcmp(items[x]->logical_id, items[y]->logical_id) == 0) {
                /* The old copy of a replaced resource goes before the
                 * current one, whose entry holds the old copy's record. */
                if (!items[x]->previous && items[y]->previous)
                    node_add_dep(&p->nodes[x], y);
            } else if (deletion_depends(e, items[y], items[x]->logical_id)) {
                node_add_dep(&p->nodes[x], y);
            }
        }
}

/* Counts and the hint that says what exists after a failure. */
static void failure_hint(const eng *e, size_t nfailed, dr_err *err)
{
    size_t ready = 0, other = 0;
    const char *id;
    json_t *entry;
    json_object_foreach(e->st->resources, id, entry)
    {
        if (dr_state_status(entry) == DR_RES_READY)
            ready++;
        else
            other++;
    }
    char more[64] = "";
    if (nfailed > 1)
        snprintf(more, sizeof(more), "%zu resources failed; ", nfailed);
    dr_err_hint(err,
                "%s%zu resources exist and are ready, %zu in progress (state: %s); fix the "
                "cause and run deploy again to continue from there",
                more, ready, other, e->st->path);
}

static int compute_outputs(eng *e, int *changed, dr_err *err)
{
    (void)err;
    dr_resolver rs;
    resolver_init(e, &rs, 0);
    json_t *outs = json_object();
    const char *name;
    json_t *o;
    json_object_foreach(e->m->outputs, name, o)
    {
        json_t *v = NULL;
        dr_err oe;
        dr_err_clear(&oe);
        if (dr_resolve(&rs, json_object_get(o, "Value"), &v, &oe) != 0) {
            dr_warn(e->o->log, "output %s of %s not saved: %s", name, e->st->region, oe.msg);
            continue;
        }
        if (v)
            json_object_set_new(outs, name, v);
    }
    *changed = !json_equal(outs, e->st->outputs);
    json_decref(e->st->outputs);
    e->st->outputs = outs;
    return 0;
}

int dr_engine_apply(const dr_engine_opts *o, const dr_model *m, dr_state *st, const dr_plan *plan,
                    dr_err *err)
{
    eng e;
    if (eng_init(&e, o, m, st, err) != 0) {
        eng_free(&e);
        return -1;
    }
    int rc = -1;
    pool p1 = {0}, p2 = {0};
    const dr_plan_item **dels = NULL;
    if (ensure_account(&e, err) != 0)
        goto out;

    /* Phase 1: creates, updates, replacements, in dependency order. */
    p1.e = &e;
    p1.run = run_node;
    p1.nodes = dr_xcalloc(plan->n + 1, sizeof(node));
    for (size_t i = 0; i < plan->n; i++) {
        const dr_plan_item *it = &plan->items[i];
        if (it->action == DR_ACT_CREATE || it->action == DR_ACT_UPDATE ||
            it->action == DR_ACT_REPLACE)
            p1.nodes[p1.n++].item = it;
    }
    for (size_t i = 0; i < p1.n; i++) {
        const dr_resource *r = dr_model_find(m, p1.nodes[i].item->logical_id);
        for (size_t d = 0; r && d < r->ndepends; d++)
            for (size_t j = 0; j < p1.n; j++)
                if (strcmp(p1.nodes[j].item->logical_id, r->depends_on[d]) == 0)
                    node_add_dep(&p1.nodes[i], j);
    }
    if (pool_run(&p1, err) != 0) {
        failure_hint(&e, p1.nfailed, err);
        goto out;
    }

    /* Phase 2: deletions, dependents first: the plan's, plus old copies
     * that this run's replacements left. */
    size_t nprev = 0;
    const char *id;
    json_t *entry;
    json_object_foreach(st->resources, id, entry) nprev +=
        json_is_object(json_object_get(entry, "previous"));
    dr_plan extra = {0};
    dels = dr_xcalloc(plan->n + nprev + 1, sizeof(*dels));
    size_t nd = 0;
    for (size_t i = 0; i < plan->n; i++)
        if (plan->items[i].action == DR_ACT_DELETE)
            dels[nd++] = &plan->items[i];
    json_object_foreach(st->resources, id, entry)
    {
        json_t *prev = json_object_get(entry, "previous");
        if (!json_is_object(prev))
            continue;
        int listed = 0;
        for (size_t i = 0; i < nd && !listed; i++)
            listed = dels[i]->previous && strcmp(dels[i]->logical_id, id) == 0;
        if (listed)
            continue;
        dr_plan_item *it = add_item(&extra, id, dr_state_type(entry), DR_ACT_DELETE);
        it->previous = 1;
        const char *pid = json_string_value(json_object_get(prev, "physical_id"));
        it->physical_id = pid ? dr_xstrdup(pid) : NULL;
        it->reason = dr_xstrdup("the copy it replaced");
    }
    for (size_t i = 0; i < extra.n; i++)
        dels[nd++] = &extra.items[i];
    p2.e = &e;
    p2.run = run_node;
    build_delete_nodes(&e, &p2, dels, nd);
    int rc2 = pool_run(&p2, err);
    if (rc2 != 0)
        failure_hint(&e, p2.nfailed, err);
    pool_free(&p2);
    p2.nodes = NULL;
    dr_plan_free(&extra);
    if (rc2 != 0)
        goto out;

    int outputs_changed = 0;
    if (compute_outputs(&e, &outputs_changed, err) != 0)
        goto out;
    if ((outputs_changed || plan->state_changed ||
         !dr_state_exists(st->store, st->stack, st->region)) &&
        dr_state_save(st, err) != 0)
        goto out;
    rc = 0;
out:
    free(dels);
    pool_free(&p1);
    if (p2.nodes)
        pool_free(&p2);
    eng_free(&e);
    return rc;
}

/* ---- destroy ---------------------------------------------------------------- */

int dr_engine_destroy_plan(const dr_engine_opts *o, const dr_model *m, dr_state *st, dr_plan *out,
                           dr_err *err)
{
    memset(out, 0, sizeof(*out));
    eng e;
    if (eng_init(&e, o, m, st, err) != 0) {
        eng_free(&e);
        return -1;
    }
    int rc = -1;
    size_t *order = NULL;
    char **ids = NULL;
    if (ensure_account(&e, err) != 0 || dr_model_order(m, &order, err) != 0)
        goto out;
    /* Look up by tags what the model has and the state does not know. */
    dr_resolver rs;
    resolver_init(&e, &rs, 1);
    for (size_t k = 0; k < m->n; k++) {
        const dr_resource *r = &m->resources[order[k]];
        json_t *entry = dr_state_get(st, r->logical_id);
        if (entry && dr_state_physical_id(entry))
            continue;
        const dr_handler *h = handler_for(&e, r->type);
        if (!h) {
            if (!entry)
                continue; /* nothing known, nothing to look with */
            no_handler(err, r->logical_id, r->type);
            goto out;
        }
        if (!h->find)
            continue;
        json_t *props = NULL;
        if (resolve_resource(&e, &rs, r, &props, err) != 0)
            goto out;
        dr_apply_ctx c;
        apply_ctx(&e, e.aws, &c);
        dr_live live = {0};
        int found = 0;
        int frc = h->find(&c, r->logical_id, props, &found, &live, err);
        if (frc == 0 && found && live.physical_id) {
            long gen = dr_state_generation(entry);
            dr_state_put(st, r->logical_id, r->type, live.physical_id, DR_RES_READY, props,
                         live.attributes);
            json_t *ne = dr_state_get(st, r->logical_id);
            entry_set_model(ne, r);
            entry_set_generation(ne, gen);
            out->state_changed = 1;
        }
        dr_live_free(&live);
        json_decref(props);
        if (frc != 0) {
            dr_err_wrap(err, "looking up %s %s (%s) by its tags", short_type(r->type),
                        r->logical_id, r->type);
            goto out;
        }
    }
    /* Everything in the state, dependents first; old copies with them. */
    size_t n = 0;
    ids = dr_xcalloc(json_object_size(st->resources) + 1, sizeof(char *));
    const char *id;
    json_t *entry;
    /* Model order reversed, then what the model does not have. */
    for (size_t k = m->n; k-- > 0;)
        if (dr_state_get(st, m->resources[order[k]].logical_id))
            ids[n++] = m->resources[order[k]].logical_id;
    json_object_foreach(st->resources, id, entry) if (!dr_model_find(m, id)) ids[n++] = (char *)id;
    order_for_deletion(st->resources, ids, n);
    for (size_t i = 0; i < n; i++) {
        entry = dr_state_get(st, ids[i]);
        const char *type = dr_state_type(entry);
        json_t *prev = json_object_get(entry, "previous");
        if (json_is_object(prev)) {
            dr_plan_item *it = add_item(out, ids[i], type, DR_ACT_DELETE);
            it->previous = 1;
            const char *pid = json_string_value(json_object_get(prev, "physical_id"));
            it->physical_id = pid ? dr_xstrdup(pid) : NULL;
            it->reason = dr_xstrdup("the copy it replaced");
        }
        dr_plan_item *it = add_item(out, ids[i], type, DR_ACT_DELETE);
        const char *pid = dr_state_physical_id(entry);
        it->physical_id = pid ? dr_xstrdup(pid) : NULL;
        it->reason = dr_xstrdup(pid ? "destroy"
                                    : "never created (no id recorded): looked up "
                                      "by its tags, then forgotten");
    }
    count(out);
    rc = 0;
out:
    if (rc != 0)
        dr_plan_free(out);
    free(ids);
    free(order);
    eng_free(&e);
    return rc;
}

static void add_leftover(char ***list, size_t *n, char *s)
{
    *list = dr_xrealloc(*list, (*n + 1) * sizeof(char *));
    (*list)[(*n)++] = s;
}

int dr_engine_destroy(const dr_engine_opts *o, const dr_model *m, dr_state *st, char ***leftovers,
                      size_t *nleftovers, dr_err *err)
{
    *leftovers = NULL;
    *nleftovers = 0;
    dr_plan plan;
    if (dr_engine_destroy_plan(o, m, st, &plan, err) != 0)
        return -1;
    eng e;
    if (eng_init(&e, o, m, st, err) != 0) {
        eng_free(&e);
        dr_plan_free(&plan);
        return -1;
    }
    e.destroying = 1;
    int rc = -1;
    pool p = {0};
    const dr_plan_item **items = dr_xcalloc(plan.n + 1, sizeof(*items));
    if (ensure_account(&e, err) != 0)
        goto out;
    for (size_t i = 0; i < plan.n; i++)
        items[i] = &plan.items[i];
    p.e = &e;
    p.run = run_node;
    p.keep_going = 1;
    build_delete_nodes(&e, &p, items, plan.n);
    dr_err first;
    dr_err_clear(&first);
    pool_run(&p, &first);
    for (size_t i = 0; i < p.n; i++) {
        node *nd = &p.nodes[i];
        const dr_plan_item *it = nd->item;
        const char *pid = it->physical_id ? it->physical_id : "(no id)";
        if (nd->state == N_FAILED)
            add_leftover(leftovers, nleftovers,
                         dr_xasprintf("%s %s %s: %s", it->type, it->logical_id, pid, nd->err.msg));
        else if (nd->state == N_SKIPPED || nd->state == N_WAITING)
            add_leftover(leftovers, nleftovers,
                         dr_xasprintf("%s %s %s: not attempted: %s, which depends on it, could "
                                      "not be deleted",
                                      it->type, it->logical_id, pid,
                                      nd->blocked_by ? nd->blocked_by : "a resource"));
    }
    if (json_object_size(st->resources) == 0) {
        json_object_clear(st->outputs);
        if (dr_state_remove_file(st, err) != 0)
            goto out;
    } else {
        json_object_clear(st->outputs);
        if (dr_state_save(st, err) != 0)
            goto out;
    }
    if (*nleftovers) {
        dr_err_set(err, DR_E_AWS, "destroy left %zu resource%s of %s in %s; first: %s", *nleftovers,
                   *nleftovers == 1 ? "" : "s", st->stack, st->region, (*leftovers)[0]);
        if (first.has_aws) {
            err->has_aws = 1;
            err->aws = first.aws;
        }
        dr_err_hint(err, "fix the cause and run destroy again: it continues with what is left");
        goto out;
    }
    rc = 0;
out:
    free(items);
    pool_free(&p);
    dr_plan_free(&plan);
    eng_free(&e);
    return rc;
}
