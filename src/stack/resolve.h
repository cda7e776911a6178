/*
 * resolve.h - turning a model's intrinsic functions into physical values.
 *
 * The model writes references the way CloudFormation does; the engine
 * resolves them against the deployed state before handing properties to a
 * handler:
 *   {"Ref": X}                      X's physical id (a resource), a parameter's
 *                                   value, or a pseudo parameter (AWS::Region,
 *                                   AWS::AccountId, AWS::StackName,
 *                                   AWS::Partition, AWS::URLSuffix; AWS::NoValue
 *                                   removes the property or list element)
 *   {"Fn::GetAtt": [X, "A"]}        X's attribute A as its handler reported it
 *                                   (also the "X.A" string form)
 *   {"Fn::Join": [sep, [...]]}      the strings joined
 *   {"Fn::Sub": "..${X}..${X.A}.."} and the [string, {var: value}] form; ${!x} is
 *                                   a literal ${x}
 *   {"Fn::Select": [i, [...]]}, {"Fn::Split": [sep, s]}, {"Fn::Base64": s}
 *   {"drctl::Output": [R, N]}       output N saved in the state of scope R
 *                                   (another region, loaded from the same store)
 * Anything else that looks like an intrinsic ("Fn::If", "Fn::GetAZs"...) is
 * an internal error: the model does not use it, and passing it through to
 * AWS would fail later and less clearly.
 *
 * During plan a value that cannot be known yet (the target is to be
 * created or replaced, an output of a region not deployed, a parameter
 * given only at apply time) becomes the string DR_KNOWN_AFTER_APPLY, and a
 * string built from it (Join, Sub) becomes that string as a whole. When
 * applying, the same cases are errors, because the dependency order
 * guarantees every target exists by then.
 */
#ifndef DRCTL_STACK_RESOLVE_H
#define DRCTL_STACK_RESOLVE_H

#include <jansson.h>

#include "stack/handler.h"
#include "stack/state.h"
#include "util/err.h"

typedef struct dr_resolver {
    const dr_state *st;     /* physical ids and attributes; st->store for other scopes */
    const char *region;     /* AWS::Region */
    const char *stack;      /* AWS::StackName */
    const char *account_id; /* AWS::AccountId; NULL: an error if referenced */
    json_t *parameters;     /* borrowed, may be NULL: {name: value} given by the caller */
    json_t *declared;       /* borrowed, may be NULL: the model's parameters (declarations) */
    int plan;               /* 1: unknowns become DR_KNOWN_AFTER_APPLY */
    /* Plan only (may be NULL): 1 when logical_id is about to get a new
     * physical id (create or replace), so references to it are unknown. */
    int (*pending)(void *ud, const char *logical_id);
    void *pending_ud;
    /* Borrowed, may be NULL: a cache {scope: outputs object | null} for
     * drctl::Output, so that each other state file is read once per run. */
    json_t *others;
} dr_resolver;

/* Resolves a value; *out is a new reference (NULL when the whole value was
 * AWS::NoValue). */
int dr_resolve(const dr_resolver *r, json_t *value, json_t **out, dr_err *err);

/* 1 when the value holds DR_KNOWN_AFTER_APPLY anywhere. */
int dr_json_unknown(const json_t *value);

/* "aws", "aws-cn" or "aws-us-gov" for a region name. */
const char *dr_partition_of(const char *region);

#endif
