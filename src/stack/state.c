/*
 * state.c - loading and saving the deployed state (see state.h).
 *
 * The save path is the classic durable replace: write a temporary file in
 * the same directory (rename is atomic only within one filesystem), fsync
 * it (so the rename cannot reach the disk before the data), rename it over
 * the old file, then fsync the directory (so the rename itself survives a
 * power cut). A reader therefore sees the old file or the new one, never
 * half of either; a failure at any step leaves the old file as it was and
 * removes the temporary one.
 */
#include "stack/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/lock.h"
#include "util/mem.h"

static const char *const status_names[] = {"creating", "ready", "deleting"};

const char *dr_res_status_name(dr_res_status st)
{
    return (unsigned)st < 3 ? status_names[st] : "?";
}

static int status_from_name(const char *s)
{
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, status_names[i]) == 0)
            return i;
    return -1;
}

/* Names become path components: nothing that could climb out of the store. */
static int plain_name(const char *s)
{
    if (!s || !*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-'))
            return 0;
    return 1;
}

static void iso_now(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* 128 random bits in hex. getrandom cannot fail for 16 bytes once the pool
 * is initialised; the fallback only keeps the epoch distinct per run. */
static char *new_epoch(void)
{
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long x = (unsigned long long)ts.tv_sec * 1000000007ull ^
                               (unsigned long long)ts.tv_nsec ^
                               ((unsigned long long)getpid() << 32);
        for (size_t i = 0; i < sizeof(b); i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            b[i] = (unsigned char)(x >> 56);
        }
    }
    char *hex = dr_xmalloc(33);
    for (size_t i = 0; i < sizeof(b); i++)
        snprintf(hex + 2 * i, 3, "%02x", b[i]);
    return hex;
}

static char *state_dir(const char *store, const char *stack)
{
    return dr_xasprintf("%s/state/%s", store, stack);
}

int dr_state_exists(const char *store_dir, const char *stack, const char *region)
{
    if (!plain_name(stack) || !plain_name(region))
        return 0;
    char *p = dr_xasprintf("%s/state/%s/%s.json", store_dir, stack, region);
    int ok = access(p, F_OK) == 0;
    free(p);
    return ok;
}

/* A corrupt file: name it and say what to do; the state is only a cache. */
static int corrupt(dr_err *err, const char *path, const char *what)
{
    dr_err_set(err, DR_E_IO, "state file %s is corrupt: %s", path, what);
    return dr_err_hint(err, "move it aside and run deploy again: drctl finds its resources "
                            "again by their tags (drctl:stack, drctl:logical-id)");
}

static int check_entry(const char *path, const char *id, json_t *e, dr_err *err)
{
    char what[512];
    if (!json_is_object(e)) {
        snprintf(what, sizeof(what), "resource %s is not an object", id);
        return corrupt(err, path, what);
    }
    json_t *pid = json_object_get(e, "physical_id");
    json_t *props = json_object_get(e, "properties");
    json_t *attrs = json_object_get(e, "attributes");
    if (!json_is_string(json_object_get(e, "type")))
        snprintf(what, sizeof(what), "resource %s has no type", id);
    else if (status_from_name(json_string_value(json_object_get(e, "status"))) < 0)
        snprintf(what, sizeof(what), "resource %s has no valid status", id);
    else if (pid && !json_is_string(pid) && !json_is_null(pid))
        snprintf(what, sizeof(what), "resource %s: physical_id is not a string", id);
    else if ((props && !json_is_object(props)) || (attrs && !json_is_object(attrs)))
        snprintf(what, sizeof(what), "resource %s: properties/attributes are not objects", id);
    else
        return 0;
    return corrupt(err, path, what);
}

int dr_state_load(const char *store_dir, const char *stack, const char *region, dr_state *out,
                  dr_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!plain_name(stack) || !plain_name(region))
        return dr_err_set(err, DR_E_INTERNAL, "state: invalid stack or scope name '%s/%s'",
                          stack ? stack : "", region ? region : "");
    char *dir = state_dir(store_dir, stack);
    char *path = dr_xasprintf("%s/%s.json", dir, region);
    free(dir);

    json_t *doc = NULL;
    FILE *f = fopen(path, "r");
    if (!f && errno != ENOENT) {
        dr_err_set(err, DR_E_IO, "cannot read state file %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    if (f) {
        json_error_t je;
        doc = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
        int rerr = ferror(f);
        fclose(f);
        if (rerr) {
            dr_err_set(err, DR_E_IO, "cannot read state file %s", path);
            free(path);
            json_decref(doc);
            return -1;
        }
        if (!doc) {
            char what[300];
            snprintf(what, sizeof(what), "line %d: %s", je.line, je.text);
            corrupt(err, path, what);
            free(path);
            return -1;
        }
        const char *why = NULL;
        json_t *fmt = json_object_get(doc, "format");
        if (!json_is_object(doc))
            why = "not a JSON object";
        else if (!json_is_integer(fmt))
            why = "no format number";
        else if (!json_is_object(json_object_get(doc, "resources")))
            why = "no resources object";
        else if (json_object_get(doc, "outputs") &&
                 !json_is_object(json_object_get(doc, "outputs")))
            why = "outputs is not an object";
        if (why) {
            corrupt(err, path, why);
            free(path);
            json_decref(doc);
            return -1;
        }
        if (json_integer_value(fmt) > DR_STATE_FORMAT) {
            dr_err_set(err, DR_E_IO, "state file %s has format %lld; this drctl reads up to %d",
                       path, (long long)json_integer_value(fmt), DR_STATE_FORMAT);
            dr_err_hint(err, "use the drctl version that wrote it (or a newer one)");
            free(path);
            json_decref(doc);
            return -1;
        }
        const char *fstack = json_string_value(json_object_get(doc, "stack"));
        const char *fregion = json_string_value(json_object_get(doc, "region"));
        if ((fstack && strcmp(fstack, stack) != 0) || (fregion && strcmp(fregion, region) != 0)) {
            dr_err_set(err, DR_E_IO, "state file %s belongs to %s/%s, not %s/%s", path,
                       fstack ? fstack : "?", fregion ? fregion : "?", stack, region);
            dr_err_hint(err, "it was copied or renamed by hand: put it back where it belongs");
            free(path);
            json_decref(doc);
            return -1;
        }
        const char *id;
        json_t *e;
        json_object_foreach(json_object_get(doc, "resources"), id, e)
        {
            if (check_entry(path, id, e, err) != 0) {
                free(path);
                json_decref(doc);
                return -1;
            }
        }
    }
    out->path = path;
    out->store = dr_xstrdup(store_dir);
    out->stack = dr_xstrdup(stack);
    out->region = dr_xstrdup(region);
    const char *epoch = doc ? json_string_value(json_object_get(doc, "epoch")) : NULL;
    out->epoch = epoch && *epoch ? dr_xstrdup(epoch) : new_epoch();
    out->resources = doc ? json_incref(json_object_get(doc, "resources")) : json_object();
    json_t *outputs = doc ? json_object_get(doc, "outputs") : NULL;
    out->outputs = outputs ? json_incref(outputs) : json_object();
    json_decref(doc);
    return 0;
}

/* fsync of a directory, so that a rename or unlink in it is durable. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int dr_state_save(const dr_state *s, dr_err *err)
{
    char *dir = state_dir(s->store, s->stack);
    if (dr_mkdirs(dir, 0700) != 0) {
        dr_err_set(err, DR_E_IO, "cannot create the state directory %s: %s", dir, strerror(errno));
        dr_err_hint(err, "check --store (or DRCTL_STORE) points to a writable directory");
        free(dir);
        return -1;
    }
    char now[32];
    iso_now(now);
    json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:s, s:O, s:O}", "format", DR_STATE_FORMAT,
                            "stack", s->stack, "region", s->region, "epoch", s->epoch, "updated_at",
                            now, "resources", s->resources, "outputs", s->outputs);
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!text) {
        free(dir);
        return dr_err_set(err, DR_E_INTERNAL, "cannot serialise the state of %s/%s", s->stack,
                          s->region);
    }
    char *tmp = dr_xasprintf("%s/.%s.json.XXXXXX", dir, s->region);
    int fd = mkstemp(tmp); /* mode 0600 */
    int rc = -1;
    if (fd < 0) {
        dr_err_set(err, DR_E_IO, "cannot write state file in %s: %s", dir, strerror(errno));
        goto out;
    }
    int ok = write_all(fd, text, strlen(text)) == 0 && write_all(fd, "\n", 1) == 0;
    ok = ok && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (ok && rename(tmp, s->path) != 0) {
        ok = 0;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        dr_err_set(err, DR_E_IO, "cannot write state file %s: %s", s->path, strerror(saved));
        dr_err_hint(err, "free space or fix permissions, then run the command again: the "
                         "previous state file is intact");
        goto out;
    }
    if (sync_dir(dir) != 0) {
        dr_err_set(err, DR_E_IO, "cannot sync state directory %s: %s", dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    free(text);
    free(dir);
    return rc;
}

int dr_state_remove_file(const dr_state *s, dr_err *err)
{
    if (unlink(s->path) != 0 && errno != ENOENT)
        return dr_err_set(err, DR_E_IO, "cannot remove state file %s: %s", s->path,
                          strerror(errno));
    char *dir = state_dir(s->store, s->stack);
    sync_dir(dir); /* best effort: the file is gone either way */
    free(dir);
    return 0;
}

void dr_state_free(dr_state *s)
{
    if (!s)
        return;
    free(s->path);
    free(s->store);
    free(s->stack);
    free(s->region);
    free(s->epoch);
    json_decref(s->resources);
    json_decref(s->outputs);
    memset(s, 0, sizeof(*s));
}

json_t *dr_state_get(const dr_state *s, const char *logical_id)
{
    return s && s->resources ? json_object_get(s->resources, logical_id) : NULL;
}

void dr_state_put(dr_state *s, const char *logical_id, const char *type, const char *physical_id,
                  dr_res_status status, json_t *properties, json_t *attributes)
{
    static const char *const keep[] = {"generation", "depends_on", "deletion_policy", "previous"};
    char now[32];
    iso_now(now);
    json_t *e = json_pack(
        "{s:s, s:o, s:s, s:o, s:o, s:s}", "type", type, "physical_id",
        physical_id ? json_string(physical_id) : json_null(), "status", dr_res_status_name(status),
        "properties", properties ? json_deep_copy(properties) : json_object(), "attributes",
        attributes ? json_deep_copy(attributes) : json_object(), "updated_at", now);
    json_t *old = json_object_get(s->resources, logical_id);
    for (size_t i = 0; old && i < sizeof(keep) / sizeof(keep[0]); i++) {
        json_t *v = json_object_get(old, keep[i]);
        if (v)
            json_object_set(e, keep[i], v);
    }
    json_object_set_new(s->resources, logical_id, e);
}

void dr_state_remove(dr_state *s, const char *logical_id)
{
    json_object_del(s->resources, logical_id);
}

const char *dr_state_physical_id(const json_t *entry)
{
    return entry ? json_string_value(json_object_get(entry, "physical_id")) : NULL;
}

const char *dr_state_type(const json_t *entry)
{
    return entry ? json_string_value(json_object_get(entry, "type")) : NULL;
}

int dr_state_status(const json_t *entry)
{
    return entry ? status_from_name(json_string_value(json_object_get(entry, "status"))) : -1;
}

long dr_state_generation(const json_t *entry)
{
    return entry ? (long)json_integer_value(json_object_get(entry, "generation")) : 0;
}
