#include "util/err.h"

#include <stdarg.h>
#include <string.h>

void dr_err_clear(dr_err *e)
{
    if (e)
        memset(e, 0, sizeof(*e));
}

int dr_err_set(dr_err *e, dr_code code, const char *fmt, ...)
{
    if (!e)
        return -1;
    va_list ap;
    e->code = code;
    e->hint[0] = '\0';
    e->has_aws = 0;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int dr_err_hint(dr_err *e, const char *fmt, ...)
{
    if (!e)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->hint, sizeof(e->hint), fmt, ap);
    va_end(ap);
    return -1;
}

int dr_err_wrap(dr_err *e, const char *fmt, ...)
{
    if (!e)
        return -1;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    /* Shift the old message right and put "prefix: " in front; the tail is
     * cut when the whole does not fit. */
    size_t plen = strlen(prefix) + 2, cap = sizeof(e->msg);
    size_t olen = strnlen(e->msg, cap - 1);
    if (plen >= cap)
        plen = cap - 1;
    if (olen > cap - 1 - plen)
        olen = cap - 1 - plen;
    memmove(e->msg + plen, e->msg, olen);
    e->msg[plen + olen] = '\0';
    memcpy(e->msg, prefix, plen - 2);
    e->msg[plen - 2] = ':';
    e->msg[plen - 1] = ' ';
    if (e->code == DR_OK)
        e->code = DR_E_INTERNAL;
    return -1;
}

int dr_err_set_aws(dr_err *e, const dr_aws_error *aws)
{
    if (!e)
        return -1;
    e->aws = *aws;
    e->has_aws = 1;
    e->code = DR_E_AWS;
    e->hint[0] = '\0';
    const char *code = aws->code[0] ? aws->code : "UnknownError";
    const char *msg = aws->message[0] ? aws->message : "(no message)";
    if (aws->request_id[0])
        snprintf(e->msg, sizeof(e->msg), "%s %s: %s: %s (HTTP %ld, request id %s)", aws->service,
                 aws->operation, code, msg, aws->http_status, aws->request_id);
    else
        snprintf(e->msg, sizeof(e->msg), "%s %s: %s: %s (HTTP %ld)", aws->service, aws->operation,
                 code, msg, aws->http_status);
    return -1;
}

const char *dr_code_name(dr_code code)
{
    switch (code) {
    case DR_OK:
        return "ok";
    case DR_E_INTERNAL:
        return "internal-error";
    case DR_E_USAGE:
        return "usage-error";
    case DR_E_CONFIG:
        return "config-error";
    case DR_E_CREDENTIALS:
        return "credentials-error";
    case DR_E_AWS:
        return "aws-error";
    case DR_E_NETWORK:
        return "network-error";
    case DR_E_VERIFY:
        return "verification-failed";
    case DR_E_OBJECTIVE:
        return "objective-exceeded";
    case DR_E_LOCKED:
        return "locked";
    case DR_E_IO:
        return "io-error";
    case DR_E_NOT_FOUND:
        return "not-found";
    case DR_E_INTERRUPTED:
        return "interrupted";
    }
    return "unknown";
}

void dr_err_print(const dr_err *e, FILE *out)
{
    fprintf(out, "drctl: error: %s\n", e->msg[0] ? e->msg : dr_code_name(e->code));
    if (e->hint[0])
        fprintf(out, "drctl: hint: %s\n", e->hint);
}
