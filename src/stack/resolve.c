/*
 * resolve.c - intrinsic functions against the deployed state (resolve.h).
 *
 * Recursive over the JSON value; every intrinsic is an object with exactly
 * one key, as in CloudFormation. The result is always a fresh value, so the
 * model is never modified and callers own what they get.
 */
#include "stack/resolve.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/mem.h"

const char *dr_partition_of(const char *region)
{
    if (region && strncmp(region, "cn-", 3) == 0)
        return "aws-cn";
    if (region && strncmp(region, "us-gov-", 7) == 0)
        return "aws-us-gov";
    return "aws";
}

int dr_json_unknown(const json_t *v)
{
    if (json_is_string(v))
        return strstr(json_string_value(v), DR_KNOWN_AFTER_APPLY) != NULL;
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach((json_t *)v, i, x) if (dr_json_unknown(x)) return 1;
        return 0;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) if (dr_json_unknown(x)) return 1;
    }
    return 0;
}

static json_t *unknown(void)
{
    return json_string(DR_KNOWN_AFTER_APPLY);
}

static int rv(const dr_resolver *r, json_t *v, json_t **out, dr_err *err);

/* A resource's entry, if it is one of the state's. */
static json_t *entry_of(const dr_resolver *r, const char *id)
{
    return dr_state_get(r->st, id);
}

static int is_pending(const dr_resolver *r, const char *id)
{
    return r->plan && r->pending && r->pending(r->pending_ud, id);
}

static int ref(const dr_resolver *r, const char *name, json_t **out, dr_err *err)
{
    *out = NULL;
    if (strncmp(name, "AWS::", 5) == 0) {
        if (strcmp(name, "AWS::NoValue") == 0)
            return 0;
        if (strcmp(name, "AWS::Region") == 0) {
            *out = json_string(r->region);
        } else if (strcmp(name, "AWS::StackName") == 0) {
            *out = json_string(r->stack);
        } else if (strcmp(name, "AWS::Partition") == 0) {
            *out = json_string(dr_partition_of(r->region));
        } else if (strcmp(name, "AWS::URLSuffix") == 0) {
            *out = json_string(strncmp(r->region, "cn-", 3) == 0 ? "amazonaws.com.cn"
                                                                 : "amazonaws.com");
        } else if (strcmp(name, "AWS::AccountId") == 0) {
            if (!r->account_id)
                return dr_err_set(err, DR_E_INTERNAL,
                                  "AWS::AccountId is needed but the account is not known");
            *out = json_string(r->account_id);
        } else {
            return dr_err_set(err, DR_E_INTERNAL, "unsupported pseudo parameter %s", name);
        }
        return 0;
    }
    json_t *p = r->parameters ? json_object_get(r->parameters, name) : NULL;
    if (p) {
        *out = json_deep_copy(p);
        return 0;
    }
    if (r->declared && json_object_get(r->declared, name)) {
        if (r->plan) {
            *out = unknown();
            return 0;
        }
        dr_err_set(err, DR_E_CONFIG, "parameter %s has no value", name);
        return dr_err_hint(err, "it is an input of this model (e.g. the snapshot to restore "
                                "from); the runbook or command that deploys it must give it");
    }
    if (is_pending(r, name)) {
        *out = unknown();
        return 0;
    }
    const char *pid = dr_state_physical_id(entry_of(r, name));
    if (pid) {
        *out = json_string(pid);
        return 0;
    }
    if (r->plan) {
        *out = unknown();
        return 0;
    }
    return dr_err_set(err, DR_E_INTERNAL, "Ref %s: %s has no physical id yet", name, name);
}

static int getatt(const dr_resolver *r, const char *id, const char *attr, json_t **out, dr_err *err)
{
    *out = NULL;
    if (is_pending(r, id)) {
        *out = unknown();
        return 0;
    }
    json_t *e = entry_of(r, id);
    json_t *v = e ? json_object_get(json_object_get(e, "attributes"), attr) : NULL;
    if (v && !json_is_null(v)) {
        *out = json_deep_copy(v);
        return 0;
    }
    if (r->plan) {
        *out = unknown();
        return 0;
    }
    if (!e || !dr_state_physical_id(e))
        return dr_err_set(err, DR_E_INTERNAL, "Fn::GetAtt %s.%s: %s does not exist yet", id, attr,
                          id);
    dr_err_set(err, DR_E_INTERNAL, "Fn::GetAtt %s.%s: %s (%s) has no attribute %s", id, attr, id,
               dr_state_type(e) ? dr_state_type(e) : "?", attr);
    return dr_err_hint(err, "its handler must report %s (create, read or find)", attr);
}

/* A scalar as it appears inside a string (Join, Sub). */
static int scalar_text(json_t *v, dr_buf *b)
{
    if (json_is_string(v))
        dr_buf_puts(b, json_string_value(v));
    else if (json_is_integer(v))
        dr_buf_printf(b, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        dr_buf_printf(b, "%.17g", json_real_value(v));
    else if (json_is_true(v))
        dr_buf_puts(b, "true");
    else if (json_is_false(v))
        dr_buf_puts(b, "false");
    else
        return -1;
    return 0;
}

static int fn_join(const dr_resolver *r, json_t *args, json_t **out, dr_err *err)
{
    if (!json_is_array(args) || json_array_size(args) != 2 ||
        !json_is_string(json_array_get(args, 0)))
        return dr_err_set(err, DR_E_INTERNAL, "Fn::Join needs [separator, [values]]");
    json_t *list = NULL;
    if (rv(r, json_array_get(args, 1), &list, err) != 0)
        return -1;
    if (!json_is_array(list)) {
        json_decref(list);
        return dr_err_set(err, DR_E_INTERNAL, "Fn::Join: the second argument is not a list");
    }
    const char *sep = json_string_value(json_array_get(args, 0));
    dr_buf b = DR_BUF_INIT;
    size_t i;
    json_t *x;
    int unk = 0, bad = 0;
    json_array_foreach(list, i, x)
    {
        if (dr_json_unknown(x)) {
            unk = 1;
            break;
        }
        if (i)
            dr_buf_puts(&b, sep);
        if (scalar_text(x, &b) != 0) {
            bad = 1;
            break;
        }
    }
    json_decref(list);
    if (bad) {
        dr_buf_free(&b);
        return dr_err_set(err, DR_E_INTERNAL, "Fn::Join: element %zu is not a string", i);
    }
    *out = unk ? unknown() : json_string(dr_buf_cstr(&b));
    dr_buf_free(&b);
    return 0;
}

static int fn_sub(const dr_resolver *r, json_t *args, json_t **out, dr_err *err)
{
    const char *tpl = NULL;
    json_t *vars = NULL; /* resolved */
    if (json_is_string(args)) {
        tpl = json_string_value(args);
    } else if (json_is_array(args) && json_array_size(args) == 2 &&
               json_is_string(json_array_get(args, 0)) && json_is_object(json_array_get(args, 1))) {
        tpl = json_string_value(json_array_get(args, 0));
        if (rv(r, json_array_get(args, 1), &vars, err) != 0)
            return -1;
    } else {
        return dr_err_set(err, DR_E_INTERNAL, "Fn::Sub needs a string or [string, {vars}]");
    }
    dr_buf b = DR_BUF_INIT;
    int unk = 0, rc = 0;
    const char *p = tpl;
    while (*p) {
        const char *open = strstr(p, "${");
        if (!open) {
            dr_buf_puts(&b, p);
            break;
        }
        dr_buf_append(&b, p, (size_t)(open - p));
        const char *close = strchr(open + 2, '}');
        if (!close) {
            rc = dr_err_set(err, DR_E_INTERNAL, "Fn::Sub: unterminated ${ in \"%s\"", tpl);
            break;
        }
        if (open[2] == '!') { /* ${!Literal} -> ${Literal} */
            dr_buf_puts(&b, "${");
            dr_buf_append(&b, open + 3, (size_t)(close - open - 3) + 1);
            p = close + 1;
            continue;
        }
        char *name = dr_xstrndup(open + 2, (size_t)(close - open - 2));
        json_t *val = NULL;
        json_t *var = vars ? json_object_get(vars, name) : NULL;
        char *dot = strchr(name, '.');
        if (var) {
            val = json_incref(var);
        } else if (dot && strncmp(name, "AWS::", 5) != 0) {
            *dot = '\0';
            rc = getatt(r, name, dot + 1, &val, err);
        } else {
            rc = ref(r, name, &val, err);
        }
        free(name);
        if (rc != 0)
            break;
        if (dr_json_unknown(val))
            unk = 1;
        else if (!val || scalar_text(val, &b) != 0)
            rc = dr_err_set(err, DR_E_INTERNAL, "Fn::Sub: ${%.*s} is not a string",
                            (int)(close - open - 2), open + 2);
        json_decref(val);
        if (rc != 0)
            break;
        p = close + 1;
    }
    json_decref(vars);
    if (rc == 0)
        *out = unk ? unknown() : json_string(dr_buf_cstr(&b));
    dr_buf_free(&b);
    return rc;
}

static int fn_select(const dr_resolver *r, json_t *args, json_t **out, dr_err *err)
{
    if (!json_is_array(args) || json_array_size(args) != 2)
        return dr_err_set(err, DR_E_INTERNAL, "Fn::Select needs [index, [values]]");
    json_t *idx = NULL, *list = NULL;
    if (rv(r, json_array_get(args, 0), &idx, err) != 0)
        return -1;
    if (rv(r, json_array_get(args, 1), &list, err) != 0) {
        json_decref(idx);
        return -1;
    }
    int rc = 0;
    long long i = -1;
    if (json_is_integer(idx))
        i = json_integer_value(idx);
    else if (json_is_string(idx) && !dr_json_unknown(idx))
        i = strtoll(json_string_value(idx), NULL, 10);
    if (dr_json_unknown(idx) || (dr_json_unknown(list) && !json_is_array(list))) {
        *out = unknown();
    } else if (!json_is_array(list)) {
        rc = dr_err_set(err, DR_E_INTERNAL, "Fn::Select: the second argument is not a list");
    } else if (i < 0 || (size_t)i >= json_array_size(list)) {
        rc = dr_err_set(err, DR_E_INTERNAL, "Fn::Select: index %lld outside a list of %zu", i,
                        json_array_size(list));
    } else {
        *out = json_incref(json_array_get(list, (size_t)i));
    }
    json_decref(idx);
    json_decref(list);
    return rc;
}

static int fn_split(const dr_resolver *r, json_t *args, json_t **out, dr_err *err)
{
    if (!json_is_array(args) || json_array_size(args) != 2 ||
        !json_is_string(json_array_get(args, 0)) || !*json_string_value(json_array_get(args, 0)))
        return dr_err_set(err, DR_E_INTERNAL, "Fn::Split needs [delimiter, string]");
    json_t *s = NULL;
    if (rv(r, json_array_get(args, 1), &s, err) != 0)
        return -1;
    if (dr_json_unknown(s)) {
        *out = s;
        return 0;
    }
    if (!json_is_string(s)) {
        json_decref(s);
        return dr_err_set(err, DR_E_INTERNAL, "Fn::Split: the second argument is not a string");
    }
    const char *sep = json_string_value(json_array_get(args, 0));
    size_t seplen = strlen(sep);
    json_t *a = json_array();
    const char *p = json_string_value(s);
    for (;;) {
        const char *q = strstr(p, sep);
        size_t n = q ? (size_t)(q - p) : strlen(p);
        json_array_append_new(a, json_stringn(p, n));
        if (!q)
            break;
        p = q + seplen;
    }
    json_decref(s);
    *out = a;
    return 0;
}

static int fn_base64(const dr_resolver *r, json_t *args, json_t **out, dr_err *err)
{
    json_t *s = NULL;
    if (rv(r, args, &s, err) != 0)
        return -1;
    if (dr_json_unknown(s)) {
        *out = s;
        return 0;
    }
    if (!json_is_string(s)) {
        json_decref(s);
        return dr_err_set(err, DR_E_INTERNAL, "Fn::Base64: the argument is not a string");
    }
    size_t n = json_string_length(s);
    unsigned char *enc = dr_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock(enc, (const unsigned char *)json_string_value(s), (int)n);
    *out = json_string((const char *)enc);
    free(enc);
    json_decref(s);
    return 0;
}

static int other_output(const dr_resolver *r, json_t *args, json_t **out, dr_err *err)
{
    if (!json_is_array(args) || json_array_size(args) != 2 ||
        !json_is_string(json_array_get(args, 0)) || !json_is_string(json_array_get(args, 1)))
        return dr_err_set(err, DR_E_INTERNAL, "drctl::Output needs [region, output name]");
    const char *scope = json_string_value(json_array_get(args, 0));
    const char *name = json_string_value(json_array_get(args, 1));
    json_t *outputs = r->others ? json_object_get(r->others, scope) : NULL;
    json_t *loaded = NULL;
    if (!outputs) {
        if (!r->st || !r->st->store)
            return dr_err_set(err, DR_E_INTERNAL,
                              "drctl::Output %s %s: no store to read that region's state from",
                              scope, name);
        if (dr_state_exists(r->st->store, r->st->stack, scope)) {
            dr_state other;
            if (dr_state_load(r->st->store, r->st->stack, scope, &other, err) != 0)
                return -1;
            loaded = json_incref(other.outputs);
            dr_state_free(&other);
        } else {
            loaded = json_null();
        }
        if (r->others)
            json_object_set(r->others, scope, loaded);
        outputs = loaded;
    }
    json_t *v = json_object_get(outputs, name);
    int rc = 0;
    if (v) {
        *out = json_deep_copy(v);
    } else if (r->plan) {
        *out = unknown();
    } else {
        /* DR_E_NOT_FOUND: the engine tells this apart from other errors to
         * let deferrable properties wait (model.h). */
        dr_err_set(err, DR_E_NOT_FOUND, "output %s of %s is not saved (%s)", name, scope,
                   json_is_null(outputs) ? "that region has no state in this store"
                                         : "its last deploy did not produce it");
        rc = dr_err_hint(err, "deploy %s first (with the same --store)", scope);
    }
    json_decref(loaded);
    return rc;
}

static int intrinsic(const dr_resolver *r, const char *fn, json_t *args, json_t **out, dr_err *err)
{
    if (strcmp(fn, "Ref") == 0) {
        if (!json_is_string(args))
            return dr_err_set(err, DR_E_INTERNAL, "Ref needs a name");
        return ref(r, json_string_value(args), out, err);
    }
    if (strcmp(fn, "Fn::GetAtt") == 0) {
        if (json_is_string(args)) {
            char *id = dr_xstrdup(json_string_value(args));
            char *dot = strchr(id, '.');
            int rc;
            if (!dot) {
                rc = dr_err_set(err, DR_E_INTERNAL, "Fn::GetAtt \"%s\" has no attribute", id);
            } else {
                *dot = '\0';
                rc = getatt(r, id, dot + 1, out, err);
            }
            free(id);
            return rc;
        }
        if (!json_is_array(args) || json_array_size(args) != 2 ||
            !json_is_string(json_array_get(args, 0)) || !json_is_string(json_array_get(args, 1)))
            return dr_err_set(err, DR_E_INTERNAL, "Fn::GetAtt needs [logical id, attribute]");
        return getatt(r, json_string_value(json_array_get(args, 0)),
                      json_string_value(json_array_get(args, 1)), out, err);
    }
    if (strcmp(fn, "Fn::Join") == 0)
        return fn_join(r, args, out, err);
    if (strcmp(fn, "Fn::Sub") == 0)
        return fn_sub(r, args, out, err);
    if (strcmp(fn, "Fn::Select") == 0)
        return fn_select(r, args, out, err);
    if (strcmp(fn, "Fn::Split") == 0)
        return fn_split(r, args, out, err);
    if (strcmp(fn, "Fn::Base64") == 0)
        return fn_base64(r, args, out, err);
    if (strcmp(fn, "drctl::Output") == 0)
        return other_output(r, args, out, err);
    return dr_err_set(err, DR_E_INTERNAL, "unsupported intrinsic function %s", fn);
}

static int is_intrinsic_key(const char *k)
{
    return strcmp(k, "Ref") == 0 || strncmp(k, "Fn::", 4) == 0 || strncmp(k, "drctl::", 7) == 0;
}

static int rv(const dr_resolver *r, json_t *v, json_t **out, dr_err *err)
{
    *out = NULL;
    if (json_is_object(v)) {
        if (json_object_size(v) == 1) {
            void *it = json_object_iter(v);
            const char *k = json_object_iter_key(it);
            if (is_intrinsic_key(k))
                return intrinsic(r, k, json_object_iter_value(it), out, err);
        }
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            json_t *y = NULL;
            if (rv(r, x, &y, err) != 0) {
                json_decref(o);
                return dr_err_wrap(err, "%s", k);
            }
            if (y) /* AWS::NoValue drops the member */
                json_object_set_new(o, k, y);
        }
        *out = o;
        return 0;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            json_t *y = NULL;
            if (rv(r, x, &y, err) != 0) {
                json_decref(a);
                return -1;
            }
            if (y)
                json_array_append_new(a, y);
        }
        *out = a;
        return 0;
    }
    *out = json_incref(v);
    return 0;
}

int dr_resolve(const dr_resolver *r, json_t *value, json_t **out, dr_err *err)
{
    return rv(r, value, out, err);
}
