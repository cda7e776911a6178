/*
 * wait.c - bounded polling with backoff for resources that take time
 * (NAT gateways, RDS instances, CloudFront distributions...).
 *
 * moto answers every operation at once, so this path is proven by unit
 * tests with a fake check and millisecond delays, not by the sandbox.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "stack/handler.h"

#define WAIT_INITIAL_MS_DEFAULT 2000L
#define WAIT_MAX_MS_DEFAULT 30000L
#define WAIT_TIMEOUT_S_DEFAULT 1800L

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int dr_wait(dr_apply_ctx *c, const char *what, long default_timeout_s, dr_wait_check_fn check,
            void *ud, dr_err *err)
{
    long initial = c->wait_initial_ms > 0 ? c->wait_initial_ms : WAIT_INITIAL_MS_DEFAULT;
    long cap = c->wait_max_ms > 0 ? c->wait_max_ms : WAIT_MAX_MS_DEFAULT;
    if (cap < initial)
        cap = initial;
    long limit_s = c->wait_timeout_s > 0   ? c->wait_timeout_s
                   : default_timeout_s > 0 ? default_timeout_s
                                           : WAIT_TIMEOUT_S_DEFAULT;
    double start = mono_ms(), deadline = start + (double)limit_s * 1e3;
    /* A seed of our own per wait (rand_r): no shared generator between the
     * engine's threads, and two waits started together still diverge. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned seed = (unsigned)ts.tv_nsec ^ (unsigned)(uintptr_t)&seed ^ (unsigned)(uintptr_t)ud;
    long delay = initial;
    for (int polls = 1;; polls++) {
        int rc = check(c, ud, err);
        if (rc < 0)
            return -1;
        if (rc > 0)
            return 0;
        double now = mono_ms();
        if (now >= deadline) {
            dr_err_set(err, DR_E_AWS, "timed out after %.0f s (%d checks) waiting for %s",
                       (now - start) / 1e3, polls, what);
            return dr_err_hint(err, "it may still finish: run the command again to pick it up "
                                    "where it stopped");
        }
        /* Equal jitter: somewhere in [delay/2, delay]. */
        long half = delay / 2;
        long sleep_for = half + (half > 0 ? (long)(rand_r(&seed) % (unsigned)(half + 1)) : 0);
        if (sleep_for < 1)
            sleep_for = 1;
        if ((double)sleep_for > deadline - now)
            sleep_for = (long)(deadline - now) + 1;
        sleep_ms(sleep_for);
        delay = delay > cap / 2 ? cap : delay * 2;
    }
}
