/*
 * err.h - the one error type of drctl.
 *
 * Every fallible function returns int: 0 on success, -1 on failure with a
 * dr_err filled in (the pattern of libgit2 and s2n-tls). The error carries
 * a category (dr_code), which is also the process exit code, a message that
 * says what failed and where, an optional hint that says what to do, and,
 * for failures that AWS reported, the AWS details as AWS gave them.
 *
 * Messages never contain secret values: callers format identifiers (key ids,
 * secret names, ARNs), never secret material.
 */
#ifndef DRCTL_UTIL_ERR_H
#define DRCTL_UTIL_ERR_H

#include <stdio.h>

/* Exit codes. Documented in `drctl --help`; keep the two in step. */
typedef enum dr_code {
    DR_OK = 0,
    DR_E_INTERNAL = 1,     /* a bug or an unexpected local failure */
    DR_E_USAGE = 2,        /* bad command line */
    DR_E_CONFIG = 3,       /* bad profile, runbook, AWS config file, unknown region */
    DR_E_CREDENTIALS = 4,  /* no usable AWS credentials */
    DR_E_AWS = 5,          /* AWS answered with an error */
    DR_E_NETWORK = 6,      /* endpoint unreachable, TLS failure, timeout */
    DR_E_VERIFY = 7,       /* a verification (checksum, row count, health) failed */
    DR_E_OBJECTIVE = 8,    /* RTO or RPO target exceeded */
    DR_E_LOCKED = 9,       /* another run holds the lock */
    DR_E_IO = 10,          /* local file or child process failure */
    DR_E_NOT_FOUND = 11,   /* the named thing does not exist */
    DR_E_INTERRUPTED = 130 /* SIGINT/SIGTERM */
} dr_code;

/* What AWS said, verbatim. Empty strings where AWS said nothing. */
typedef struct dr_aws_error {
    char service[48];
    char operation[64];
    long http_status;
    char code[128];
    char message[768];
    char request_id[128];
} dr_aws_error;

typedef struct dr_err {
    dr_code code;
    char msg[1536]; /* "what failed: why" with context prefixes */
    char hint[512]; /* "what to do", may be empty */
    int has_aws;    /* aws below is meaningful */
    dr_aws_error aws;
} dr_err;

void dr_err_clear(dr_err *e);

/* Sets code and message (printf format). Always returns -1 so that callers
 * can write `return dr_err_set(err, DR_E_IO, "open %s: %s", p, strerror(errno));`. */
int dr_err_set(dr_err *e, dr_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sets the hint (what the user should do next). Returns -1. */
int dr_err_hint(dr_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes context to the existing message: "ctx: old message". Returns -1. */
int dr_err_wrap(dr_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fills the AWS part and a message of the form
 * "<service> <operation>: <code>: <message> (HTTP <status>, request id <id>)". */
int dr_err_set_aws(dr_err *e, const dr_aws_error *aws);

/* Short stable name of a code, e.g. "aws-error", for JSON output. */
const char *dr_code_name(dr_code code);

/* Prints "drctl: error: <msg>" and, if present, "drctl: hint: <hint>". */
void dr_err_print(const dr_err *e, FILE *out);

#endif
