/*
 * lock.c - the per stack+region run lock (see lock.h).
 */
#include "util/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/mem.h"

int dr_mkdirs(const char *path, unsigned mode)
{
    char *p = dr_xstrdup(path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    /* Walk the components left to right; EEXIST is fine for each. */
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
            int e = errno;
            free(p);
            errno = e;
            return -1;
        }
        *s = saved;
        if (saved == '\0')
            break;
    }
    /* mkdir's EEXIST also covers a file of that name: check the end. */
    struct stat st;
    int rc = 0, e = 0;
    if (stat(p, &st) != 0) {
        rc = -1;
        e = errno;
    } else if (!S_ISDIR(st.st_mode)) {
        rc = -1;
        e = ENOTDIR;
    }
    free(p);
    if (rc != 0)
        errno = e;
    return rc;
}

static int name_ok(const char *name)
{
    if (!name || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-'))
            return 0;
    return 1;
}

/* What the holder wrote: "pid 1234 since 2024-...". Best effort. */
static void read_holder(int fd, char *out, size_t outlen)
{
    char buf[128];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    out[0] = '\0';
    if (n <= 0)
        return;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    snprintf(out, outlen, "%s", buf);
}

int dr_lock_acquire(const char *store_dir, const char *name, int wait, dr_lock *out, dr_err *err)
{
    out->fd = -1;
    out->path = NULL;
    if (!name_ok(name))
        return dr_err_set(err, DR_E_INTERNAL, "invalid lock name '%s'", name ? name : "");
    char *dir = dr_xasprintf("%s/locks", store_dir);
    if (dr_mkdirs(dir, 0700) != 0) {
        dr_err_set(err, DR_E_IO, "cannot create the lock directory %s: %s", dir, strerror(errno));
        dr_err_hint(err, "check --store (or DRCTL_STORE) points to a writable directory");
        free(dir);
        return -1;
    }
    char *path = dr_xasprintf("%s/%s.lock", dir, name);
    free(dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        dr_err_set(err, DR_E_IO, "cannot open the lock file %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    int rc;
    do
        rc = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
    while (rc != 0 && errno == EINTR && wait);
    if (rc != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            char holder[128];
            read_holder(fd, holder, sizeof(holder));
            dr_err_set(err, DR_E_LOCKED, "another drctl run holds %s%s%s%s", path,
                       holder[0] ? " (" : "", holder, holder[0] ? ")" : "");
            dr_err_hint(err, "wait for it to finish, or pass --wait to queue behind it");
        } else {
            dr_err_set(err, DR_E_IO, "cannot lock %s: %s", path, strerror(e));
        }
        close(fd);
        free(path);
        return -1;
    }
    /* Record who holds it, for the message a second run prints. */
    char stamp[160];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int len = snprintf(stamp, sizeof(stamp), "pid %ld since ", (long)getpid());
    len += (int)strftime(stamp + len, sizeof(stamp) - (size_t)len, "%Y-%m-%dT%H:%M:%SZ\n", &tm);
    if (ftruncate(fd, 0) == 0 && pwrite(fd, stamp, (size_t)len, 0) < 0) {
        /* Only informational: the lock itself is held. */
    }
    out->fd = fd;
    out->path = path;
    return 0;
}

void dr_lock_release(dr_lock *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    free(l->path);
    l->path = NULL;
}
