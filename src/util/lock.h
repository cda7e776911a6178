/*
 * lock.h - one run at a time per stack and region: an advisory lock file.
 *
 * deploy and destroy (and later backup) hold <store>/locks/<name>.lock with
 * flock(2) for their whole run. flock, not a PID file, because the kernel
 * drops the lock when the process dies, however it dies (SIGKILL included):
 * a crashed run never leaves a stale lock behind that someone has to clean
 * by hand. The file keeps the holder's PID and start time, for the message
 * the next run prints; it is never deleted (deleting a lock file races with
 * a run that just opened it).
 *
 * Advisory and local: it keeps two drctl runs on this machine (or on one
 * shared store directory with a filesystem that honours flock) apart. It is
 * not a distributed lock.
 */
#ifndef DRCTL_UTIL_LOCK_H
#define DRCTL_UTIL_LOCK_H

#include "util/err.h"

typedef struct dr_lock {
    int fd;     /* -1 when not held */
    char *path; /* owned */
} dr_lock;

#define DR_LOCK_INIT                                                                               \
    {                                                                                              \
        -1, NULL                                                                                   \
    }

/*
 * Takes <store_dir>/locks/<name>.lock, creating the directories (0700) and
 * the file (0600) as needed. name is made of [A-Za-z0-9._-] (e.g.
 * "litellm-us-east-1"). When another process holds it: with wait == 0 a
 * DR_E_LOCKED error at once naming the file and the holder's PID; with
 * wait != 0 it blocks until the lock is free.
 */
int dr_lock_acquire(const char *store_dir, const char *name, int wait, dr_lock *out, dr_err *err);

/* Releases (closing the descriptor drops the flock) and frees. Safe on a
 * lock that was never taken (DR_LOCK_INIT). */
void dr_lock_release(dr_lock *l);

/* mkdir -p with mode for the directories it creates (existing ones are left
 * as they are). 0 or -1 with errno set. Shared with the state store. */
int dr_mkdirs(const char *path, unsigned mode);

#endif
