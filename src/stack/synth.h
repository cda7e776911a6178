/*
 * synth.h - the resource model rendered as a CloudFormation template.
 *
 * The template is JSON (AWSTemplateFormatVersion 2010-09-09), with the
 * model's resources and outputs as they are, DependsOn where a dependency
 * is not already implied by a reference, a Parameters section for every
 * drctl::Output reference (the value another region's stack exports), and
 * tags on every taggable resource. cfn-lint checks it in the tests.
 */
#ifndef DRCTL_STACK_SYNTH_H
#define DRCTL_STACK_SYNTH_H

#include <jansson.h>

#include "stack/model.h"
#include "util/err.h"

/* Renders the template; caller json_decref's *out. */
int dr_synth_template(const dr_model *m, json_t **out, dr_err *err);

#endif
