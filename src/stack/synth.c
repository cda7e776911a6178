/*
 * synth.c - the resource model rendered as a CloudFormation template.
 *
 * The model is already in CloudFormation's terms, so rendering is mostly
 * copying. Three things are added: a Parameter for each value that comes
 * from another region's stack ({"drctl::Output": [region, name]} becomes
 * {"Ref": "<Region><Name>"}) and for each of the model's own parameters;
 * DependsOn for the dependencies that no reference implies (CloudFormation
 * derives the others itself, and cfn-lint flags redundant ones); and
 * DeletionPolicy/UpdateReplacePolicy for the resources that hold data.
 *
 * The output is deterministic: resources in model order, keys in the
 * order the model built them, parameters sorted by name.
 */
#include <stdlib.h>
#include <string.h>

#include "stack/synth.h"
#include "util/mem.h"

/* Replaces every drctl::Output in v (a deep copy) by a Ref to its
 * parameter, recording the parameter in params. Returns the new value. */
static json_t *resolve_outputs(json_t *v, const dr_model *m, json_t *params, dr_err *err,
                               int *failed)
{
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
            json_array_append_new(a, resolve_outputs(x, m, params, err, failed));
        return a;
    }
    if (!json_is_object(v))
        return json_incref(v);
    json_t *out = json_object_get(v, "drctl::Output");
    if (out && json_object_size(v) == 1) {
        const char *region = json_string_value(json_array_get(out, 0));
        const char *name = json_string_value(json_array_get(out, 1));
        if (!region || !name || json_array_size(out) != 2) {
            if (!*failed)
                dr_err_set(err, DR_E_INTERNAL,
                           "model of %s: drctl::Output needs [region, output name]", m->region);
            *failed = 1;
            return json_null();
        }
        char *param = dr_model_output_param(region, name);
        if (!json_object_get(params, param)) {
            char *desc =
                dr_xasprintf("Output %s of the drctl stack %s in %s", name, m->stack, region);
            json_object_set_new(params, param,
                                json_pack("{s:s, s:s}", "Type", "String", "Description", desc));
            free(desc);
        }
        json_t *ref = json_pack("{s:s}", "Ref", param);
        free(param);
        return ref;
    }
    json_t *o = json_object();
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
        json_object_set_new(o, k, resolve_outputs(x, m, params, err, failed));
    return o;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *sorted_copy(json_t *obj)
{
    size_t n = json_object_size(obj), i = 0;
    const char **keys = dr_xcalloc(n ? n : 1, sizeof(char *));
    const char *k;
    json_t *x;
    json_object_foreach(obj, k, x) keys[i++] = k;
    qsort(keys, n, sizeof(char *), cmp_key);
    json_t *out = json_object();
    for (i = 0; i < n; i++)
        json_object_set(out, keys[i], json_object_get(obj, keys[i]));
    free(keys);
    return out;
}

int dr_synth_template(const dr_model *m, json_t **out, dr_err *err)
{
    *out = NULL;
    int failed = 0;
    json_t *params = json_object();
    json_t *resources = json_object();
    for (size_t i = 0; i < m->n; i++) {
        const dr_resource *r = &m->resources[i];
        json_t *res = json_pack("{s:s}", "Type", r->type);
        /* DependsOn: what the references do not already say. */
        char **implied = NULL;
        size_t nimplied = 0;
        dr_model_implied_deps(r->properties, &implied, &nimplied);
        json_t *deps = json_array();
        for (size_t j = 0; j < r->ndepends; j++) {
            int is_implied = 0;
            for (size_t k = 0; k < nimplied && !is_implied; k++)
                is_implied = strcmp(implied[k], r->depends_on[j]) == 0;
            if (!is_implied)
                json_array_append_new(deps, json_string(r->depends_on[j]));
        }
        for (size_t k = 0; k < nimplied; k++)
            free(implied[k]);
        free(implied);
        if (json_array_size(deps) == 1)
            json_object_set(res, "DependsOn", json_array_get(deps, 0));
        else if (json_array_size(deps) > 1)
            json_object_set(res, "DependsOn", deps);
        json_decref(deps);
        if (r->deletion_policy) {
            json_object_set_new(res, "DeletionPolicy", json_string(r->deletion_policy));
            json_object_set_new(res, "UpdateReplacePolicy", json_string(r->deletion_policy));
        }
        json_object_set_new(res, "Properties",
                            resolve_outputs(r->properties, m, params, err, &failed));
        json_object_set_new(resources, r->logical_id, res);
    }
    json_t *outputs = resolve_outputs(m->outputs, m, params, err, &failed);
    if (failed) {
        json_decref(params);
        json_decref(resources);
        json_decref(outputs);
        return -1;
    }
    json_object_update(params, m->parameters);

    json_t *t = json_pack("{s:s, s:s}", "AWSTemplateFormatVersion", "2010-09-09", "Description",
                          m->description ? m->description : "drctl");
    if (json_object_size(params))
        json_object_set_new(t, "Parameters", sorted_copy(params));
    json_object_set_new(t, "Resources", resources);
    if (json_object_size(outputs))
        json_object_set_new(t, "Outputs", outputs);
    else
        json_decref(outputs);
    json_decref(params);
    *out = t;
    return 0;
}
