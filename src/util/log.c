#include "util/log.h"

#include <stdarg.h>
#include <unistd.h>

void dr_log_init(dr_log *log)
{
    log->level = DR_LOG_NOTICE;
    log->out = stderr;
    log->progress = isatty(STDERR_FILENO);
}

void dr_logf(const dr_log *log, dr_log_level level, const char *fmt, ...)
{
    if (!log || level > log->level)
        return;
    static const char *const names[] = {"error", "warning", "", "info", "debug"};
    FILE *out = log->out ? log->out : stderr;
    va_list ap;
    va_start(ap, fmt);
    if (level == DR_LOG_NOTICE)
        fputs("drctl: ", out);
    else
        fprintf(out, "drctl: %s: ", names[level]);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    va_end(ap);
}
