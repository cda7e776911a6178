/*
 * imds.h - credentials from the two metadata endpoints (internal to
 * src/aws; creds.c is the only user apart from the tests):
 *   - the ECS container credentials endpoint (also EKS Pod Identity),
 *   - the EC2 instance metadata service, IMDSv2 only.
 * Both are plain HTTP on a link-local or loopback address, reached with a
 * short-lived libcurl easy handle, never through a proxy.
 */
#ifndef DRCTL_AWS_IMDS_H
#define DRCTL_AWS_IMDS_H

#include <stddef.h>
#include <time.h>

#include "aws/creds.h"
#include "util/err.h"
#include "util/log.h"

/*
 * Parses an ISO 8601 / RFC 3339 UTC time as the metadata endpoints write it:
 * "2026-11-27T13:00:00Z", optionally with a fraction ("...:00.123Z") or an
 * offset ("+02:00") instead of Z. Returns 0 and sets *out, or -1.
 */
int dr_iso8601_parse(const char *s, time_t *out);

/*
 * Each returns 1 with *out filled (caller clears), 0 when the source is not
 * configured or has no credentials to give (why: a short reason for the
 * "tried" list, never a secret), or -1 with err set: DR_E_CONFIG for bad
 * settings, DR_E_NETWORK when a configured endpoint cannot be reached,
 * DR_E_CREDENTIALS when it answers with something unusable.
 */
int dr_ecs_creds_fetch(long timeout_ms, const dr_log *log, dr_creds *out, char *why, size_t why_len,
                       dr_err *err);
int dr_imds_creds_fetch(long timeout_ms, const dr_log *log, dr_creds *out, char *why,
                        size_t why_len, dr_err *err);

#endif
