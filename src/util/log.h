/*
 * log.h - diagnostics to stderr, owned by the command's context.
 *
 * Levels: -q shows errors only, default shows warnings and notices, -v adds
 * info (each AWS call and retry), -vv adds debug (request/response headers,
 * with Authorization and tokens redacted). Progress lines are drawn only
 * when stderr is a TTY and progress is not disabled.
 *
 * Never pass secret values to these functions.
 */
#ifndef DRCTL_UTIL_LOG_H
#define DRCTL_UTIL_LOG_H

#include <stdio.h>

typedef enum dr_log_level {
    DR_LOG_ERROR = 0,
    DR_LOG_WARN = 1,
    DR_LOG_NOTICE = 2,
    DR_LOG_INFO = 3,
    DR_LOG_DEBUG = 4
} dr_log_level;

typedef struct dr_log {
    dr_log_level level; /* messages above this level are dropped */
    FILE *out;          /* stderr unless a test redirects it */
    int progress;       /* 1 when live progress may be drawn (TTY and not --no-progress) */
} dr_log;

/* Sets up a logger on stderr at NOTICE level, progress if stderr is a TTY. */
void dr_log_init(dr_log *log);

void dr_logf(const dr_log *log, dr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define dr_warn(log, ...) dr_logf((log), DR_LOG_WARN, __VA_ARGS__)
#define dr_notice(log, ...) dr_logf((log), DR_LOG_NOTICE, __VA_ARGS__)
#define dr_info(log, ...) dr_logf((log), DR_LOG_INFO, __VA_ARGS__)
#define dr_debug(log, ...) dr_logf((log), DR_LOG_DEBUG, __VA_ARGS__)

#endif
