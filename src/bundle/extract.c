/*
 * extract.c - safe extraction of a bundle into a directory.
 *
 * "Refused before anything is written": the whole bundle is verified first
 * (segments, headers against the signed manifest, every SHA-256) without
 * touching the filesystem; only then is it read a second time into a
 * private staging directory beside the target (the file could change
 * between the passes, so the second pass checks everything again), and the
 * staging directory is renamed to the target at the end or removed.
 *
 * Within the staging directory every path is walked component by component
 * with openat(O_NOFOLLOW) and files are created with O_EXCL: the manifest's
 * paths are already checked (relative, no "..", no duplicates, no
 * file/directory clashes), and this makes sure that nothing but a regular
 * file inside the staging directory can ever be created.
 */
#include "bundle/bundle_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/mem.h"

typedef struct xstate {
    int root; /* staging directory */
    int fd;   /* current file */
    const char *staging;
} xstate;

/* Opens (creating as needed) the parent directory of `path` below root. */
static int open_parent(int root, const char *path, const char **leaf, dr_err *err)
{
    char *dup = dr_xstrdup(path);
    int dfd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *c = dup;
    for (char *s = strchr(c, '/'); s && dfd >= 0; s = strchr(c, '/')) {
        *s = '\0';
        if (mkdirat(dfd, c, 0755) != 0 && errno != EEXIST) {
            dr_err_set(err, DR_E_IO, "extract: mkdir for '%s': %s", path, strerror(errno));
            close(dfd);
            free(dup);
            return -1;
        }
        int next = openat(dfd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(dfd);
        dfd = next;
        c = s + 1;
    }
    if (dfd < 0) {
        dr_err_set(err, DR_E_IO, "extract: opening the directory of '%s': %s", path,
                   strerror(errno));
        free(dup);
        return -1;
    }
    *leaf = path + (c - dup);
    free(dup);
    return dfd;
}

static int x_begin(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    xstate *x = ud;
    const char *leaf;
    int dfd = open_parent(x->root, e->path, &leaf, err);
    if (dfd < 0)
        return -1;
    x->fd = openat(dfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int e2 = errno;
    close(dfd);
    if (x->fd < 0)
        return dr_err_set(err, DR_E_IO, "extract: creating '%s': %s", e->path, strerror(e2));
    return 0;
}

static int x_data(void *ud, const dr_bundle_entry *e, const void *p, size_t n, dr_err *err)
{
    xstate *x = ud;
    const char *c = p;
    while (n) {
        ssize_t k = write(x->fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return dr_err_set(err, DR_E_IO, "extract: writing '%s': %s", e->path,
                              k < 0 ? strerror(errno) : "short write");
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static int x_end(void *ud, const dr_bundle_entry *e, dr_err *err)
{
    xstate *x = ud;
    /* Permission bits only: never setuid, setgid or sticky from a bundle. */
    struct timespec ts[2] = {{.tv_sec = e->mtime}, {.tv_sec = e->mtime}};
    int rc = 0;
    if (fchmod(x->fd, e->mode & 0777) != 0 || futimens(x->fd, ts) != 0 || fsync(x->fd) != 0)
        rc = dr_err_set(err, DR_E_IO, "extract: finishing '%s': %s", e->path, strerror(errno));
    if (close(x->fd) != 0 && rc == 0)
        rc = dr_err_set(err, DR_E_IO, "extract: closing '%s': %s", e->path, strerror(errno));
    x->fd = -1;
    return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int dir_empty(const char *dir, int *exists)
{
    struct stat st;
    if (lstat(dir, &st) != 0) {
        *exists = 0;
        return errno == ENOENT;
    }
    *exists = 1;
    if (!S_ISDIR(st.st_mode))
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int empty = 1;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            empty = 0;
    closedir(d);
    return empty;
}

int dr_bundle_reader_extract(dr_bundle_reader *r, const char *dir, dr_err *err)
{
    int exists = 0;
    if (!dir || !*dir || !dir_empty(dir, &exists))
        return dr_err_set(err, DR_E_USAGE, "extract: %s must not exist or be an empty directory",
                          dir ? dir : "");
    /* Pass 1: everything checked, nothing written. */
    if (dr_bundle_reader_verify(r, err) != 0)
        return dr_err_wrap(err, "extract refused, nothing was written");

    char *d1 = dr_xstrdup(dir), *d2 = dr_xstrdup(dir);
    char *staging = dr_xasprintf("%s/.%s.extract-XXXXXX", dirname(d1), basename(d2));
    free(d1);
    free(d2);
    if (!mkdtemp(staging)) {
        dr_err_set(err, DR_E_IO, "extract: creating %s: %s", staging, strerror(errno));
        free(staging);
        return -1;
    }
    xstate x = {.fd = -1, .staging = staging};
    x.root = open(staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int rc = x.root < 0
                 ? dr_err_set(err, DR_E_IO, "extract: opening %s: %s", staging, strerror(errno))
                 : 0;
    dr_bundle_visitor v = {.begin = x_begin, .data = x_data, .end = x_end, .ud = &x};
    if (rc == 0)
        rc = dr_bundle_reader_scan(r, &v, err);
    if (x.fd >= 0)
        close(x.fd);
    if (x.root >= 0)
        close(x.root);
    if (rc == 0 && rename(staging, dir) != 0)
        rc = dr_err_set(err, DR_E_IO, "extract: renaming %s to %s: %s", staging, dir,
                        strerror(errno));
    if (rc != 0)
        nftw(staging, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(staging);
    return rc;
}
