/*
 * creds.c - the credentials provider chain and the shared config files.
 *
 * The chain and its rules follow botocore, which is what the AWS CLI on the
 * same machine does, so that drctl and `aws` agree on who the caller is:
 *   - `--profile` (opts->profile) makes the environment keys ignored;
 *     AWS_PROFILE does not (an explicit key pair in the environment wins);
 *   - a profile named by --profile or AWS_PROFILE must exist in one of the
 *     two files;
 *   - the credentials file is read before the config file.
 * Where botocore would use a provider that drctl lacks (assume-role, SSO,
 * web identity, credential_process), this is a config error rather than a
 * fall-through to the next source: falling through could make drctl act as
 * a different identity (the instance role) than the user meant.
 */
#include "aws/creds.h"

#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "aws/imds.h"
#include "aws/ini.h"
#include "util/buf.h"
#include "util/mem.h"

/* Temporary credentials are re-resolved when less than this remains. */
enum { REFRESH_WINDOW_S = 5 * 60 };
enum { DEFAULT_TIMEOUT_MS = 1000 };

struct dr_creds_provider {
    char *profile;         /* effective profile */
    int profile_from_opts; /* --profile given: environment keys are ignored */
    int profile_explicit;  /* --profile or AWS_PROFILE: it must exist */
    const dr_log *log;
    long timeout_ms;
    /* dr_creds_get may be called from worker threads sharing one client. */
    pthread_mutex_t lock;
    int have_cached;
    dr_creds cached;
    char *tried; /* the last resolution's list, for describe_tried */
};

static const char *getenv_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* ---- dr_creds ------------------------------------------------------------ */

void dr_creds_clear(dr_creds *c)
{
    if (!c)
        return;
    dr_free_secret(c->access_key);
    dr_free_secret(c->secret_key);
    dr_free_secret(c->session_token);
    memset(c, 0, sizeof(*c));
}

void dr_creds_copy(dr_creds *dst, const dr_creds *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->access_key = src->access_key ? dr_xstrdup(src->access_key) : NULL;
    dst->secret_key = src->secret_key ? dr_xstrdup(src->secret_key) : NULL;
    dst->session_token = src->session_token ? dr_xstrdup(src->session_token) : NULL;
    dst->expiration = src->expiration;
    memcpy(dst->source, src->source, sizeof(dst->source));
    memcpy(dst->source_detail, src->source_detail, sizeof(dst->source_detail));
}

/* ---- file locations ------------------------------------------------------ */

static char *home_dir(void)
{
    const char *h = getenv_nonempty("HOME");
    if (h)
        return dr_xstrdup(h);
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_dir)
        return dr_xstrdup(res->pw_dir);
    return NULL;
}

/* "~" and "~/x" as the SDKs expand them (os.path.expanduser). */
static char *expand_user(const char *path)
{
    if (path[0] == '~' && (path[1] == '\0' || path[1] == '/')) {
        char *home = home_dir();
        if (home) {
            char *p = dr_xasprintf("%s%s", home, path + 1);
            free(home);
            return p;
        }
    }
    return dr_xstrdup(path);
}

static char *shared_file_path(const char *env_name, const char *leaf)
{
    const char *env = getenv_nonempty(env_name);
    if (env)
        return expand_user(env);
    char *home = home_dir();
    /* No home directory at all: look in the current directory's .aws, which
     * will almost certainly not exist, so the file simply counts as absent. */
    char *p = dr_xasprintf("%s/.aws/%s", home ? home : ".", leaf);
    free(home);
    return p;
}

static char *config_path(void)
{
    return shared_file_path("AWS_CONFIG_FILE", "config");
}

static char *credentials_path(void)
{
    return shared_file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
}

/* --profile, else AWS_PROFILE, else "default". */
static const char *pick_profile(const char *opt)
{
    if (opt && *opt)
        return opt;
    const char *env = getenv_nonempty("AWS_PROFILE");
    return env ? env : "default";
}

/* ---- profiles in the two files ------------------------------------------ */

/*
 * A profile's section: `[name]` in the credentials file; `[profile name]`
 * in the config file, where `[default]` is also accepted for "default"
 * (botocore takes either; when both exist the later value wins).
 */
static int section_is_profile(const char *section, const char *profile, int is_config)
{
    if (!is_config)
        return strcmp(section, profile) == 0;
    if (strcmp(profile, "default") == 0 && strcmp(section, "default") == 0)
        return 1;
    return strncmp(section, "profile ", 8) == 0 && strcmp(section + 8, profile) == 0;
}

static int profile_exists(const dr_ini *ini, const char *profile, int is_config)
{
    if (!ini)
        return 0;
    for (size_t i = 0; i < ini->nsections; i++)
        if (section_is_profile(ini->sections[i], profile, is_config))
            return 1;
    return 0;
}

/* The last value of top-level `key` in the profile; NULL if absent or empty. */
static const char *profile_get(const dr_ini *ini, const char *profile, int is_config,
                               const char *key)
{
    const char *found = NULL;
    if (!ini)
        return NULL;
    for (size_t i = 0; i < ini->n; i++) {
        const dr_ini_entry *e = &ini->entries[i];
        if (!e->parent && strcasecmp(e->key, key) == 0 &&
            section_is_profile(e->section, profile, is_config))
            found = e->value;
    }
    return found && *found ? found : NULL;
}

/* "a, b, c" of the profile names in both files, for hints. */
static void list_profiles(const dr_ini *creds, const dr_ini *config, dr_buf *out)
{
    const dr_ini *files[2] = {creds, config};
    size_t shown = 0;
    for (int f = 0; f < 2; f++) {
        if (!files[f])
            continue;
        for (size_t i = 0; i < files[f]->nsections; i++) {
            const char *s = files[f]->sections[i];
            const char *name = NULL;
            if (f == 0)
                name = s;
            else if (strcmp(s, "default") == 0)
                name = s;
            else if (strncmp(s, "profile ", 8) == 0)
                name = s + 8;
            if (!name)
                continue;
            /* Skip names already listed. */
            const char *hay = dr_buf_cstr(out);
            size_t nl = strlen(name);
            int dup = 0;
            for (const char *p = hay; (p = strstr(p, name)) != NULL; p += nl)
                if ((p == hay || p[-1] == ' ') && (p[nl] == ',' || p[nl] == '\0')) {
                    dup = 1;
                    break;
                }
            if (dup)
                continue;
            if (shown == 12) {
                dr_buf_puts(out, ", ...");
                return;
            }
            dr_buf_printf(out, "%s%s", shown ? ", " : "", name);
            shown++;
        }
    }
}

typedef struct shared_files {
    char *creds_path, *config_path;
    dr_ini *creds, *config;
} shared_files;

static void shared_files_free(shared_files *sf)
{
    free(sf->creds_path);
    free(sf->config_path);
    dr_ini_free(sf->creds);
    dr_ini_free(sf->config);
    memset(sf, 0, sizeof(*sf));
}

static int shared_files_load(shared_files *sf, dr_err *err)
{
    memset(sf, 0, sizeof(*sf));
    sf->creds_path = credentials_path();
    sf->config_path = config_path();
    if (dr_ini_load(sf->creds_path, &sf->creds, err) < 0 ||
        dr_ini_load(sf->config_path, &sf->config, err) < 0) {
        shared_files_free(sf);
        return -1;
    }
    return 0;
}

/* ---- the chain ----------------------------------------------------------- */

static void tried_add(dr_buf *tried, const char *what, const char *why)
{
    dr_buf_printf(tried, "%s%s (%s)", tried->len ? ", " : "", what, why);
}

/* 1 found, 0 nothing (noted in tried), -1 error. */
static int source_env(const dr_creds_provider *p, dr_buf *tried, dr_creds *out, dr_err *err)
{
    if (p->profile_from_opts) {
        /* The AWS CLI's rule: an explicit --profile beats environment keys. */
        tried_add(tried, "environment", "ignored because --profile was given");
        return 0;
    }
    const char *ak = getenv_nonempty("AWS_ACCESS_KEY_ID");
    const char *sk = getenv_nonempty("AWS_SECRET_ACCESS_KEY");
    if (!ak && !sk) {
        tried_add(tried, "environment", "AWS_ACCESS_KEY_ID not set");
        return 0;
    }
    if (!ak || !sk) {
        dr_err_set(err, DR_E_CREDENTIALS, "%s is set in the environment but %s is not",
                   ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                   ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        dr_err_hint(err, "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or unset both");
        return -1;
    }
    /* AWS_SECURITY_TOKEN is the older name, still read by botocore. */
    const char *tok = getenv_nonempty("AWS_SESSION_TOKEN");
    if (!tok)
        tok = getenv_nonempty("AWS_SECURITY_TOKEN");
    const char *exp = getenv_nonempty("AWS_CREDENTIAL_EXPIRATION");
    time_t expiration = 0;
    if (exp && dr_iso8601_parse(exp, &expiration) != 0) {
        dr_err_set(err, DR_E_CREDENTIALS,
                   "AWS_CREDENTIAL_EXPIRATION '%.64s' is not an ISO 8601 time", exp);
        return dr_err_hint(err, "use the form 2026-11-27T13:00:00Z, or unset it");
    }
    out->access_key = dr_xstrdup(ak);
    out->secret_key = dr_xstrdup(sk);
    out->session_token = tok ? dr_xstrdup(tok) : NULL;
    out->expiration = expiration;
    snprintf(out->source, sizeof(out->source), "environment");
    snprintf(out->source_detail, sizeof(out->source_detail), "AWS_ACCESS_KEY_ID%s",
             tok ? " with AWS_SESSION_TOKEN" : "");
    tried_add(tried, "environment", "found");
    return 1;
}

/* Settings of providers drctl does not have, in the order botocore would
 * try them before the shared keys. */
static const struct {
    const char *key;
    const char *what;
} unsupported_keys[] = {
    {"role_arn", "assume role (role_arn)"},
    {"web_identity_token_file", "web identity (web_identity_token_file)"},
    {"sso_session", "IAM Identity Center (sso_session)"},
    {"sso_start_url", "IAM Identity Center (sso_start_url)"},
};

static int unsupported_provider(const char *profile, const char *path, const char *what,
                                dr_err *err)
{
    dr_err_set(err, DR_E_CONFIG, "profile '%s' in %s uses %s, which drctl does not support",
               profile, path, what);
    return dr_err_hint(err,
                       "export temporary keys instead, e.g. eval \"$(aws configure "
                       "export-credentials --profile %s --format env)\", or use a profile with "
                       "aws_access_key_id and aws_secret_access_key",
                       profile);
}

/* Keys from one file's profile. 1 found, 0 nothing (noted), -1 error. */
static int keys_from_file(const dr_creds_provider *p, const dr_ini *ini, const char *path,
                          int is_config, dr_buf *tried, dr_creds *out, dr_err *err)
{
    const char *label = is_config ? "shared config file" : "shared credentials file";
    char what[600];
    snprintf(what, sizeof(what), "%s %s", label, path);
    if (!ini) {
        tried_add(tried, what, "not found");
        return 0;
    }
    if (!profile_exists(ini, p->profile, is_config)) {
        char why[300];
        snprintf(why, sizeof(why), "no profile %s", p->profile);
        tried_add(tried, what, why);
        return 0;
    }
    const char *ak = profile_get(ini, p->profile, is_config, "aws_access_key_id");
    const char *sk = profile_get(ini, p->profile, is_config, "aws_secret_access_key");
    const char *tok = profile_get(ini, p->profile, is_config, "aws_session_token");
    if (!ak && !sk) {
        char why[300];
        snprintf(why, sizeof(why), "profile %s has no keys", p->profile);
        tried_add(tried, what, why);
        return 0;
    }
    if (!ak || !sk) {
        dr_err_set(err, DR_E_CONFIG, "profile '%s' in %s has %s but no %s", p->profile, path,
                   ak ? "aws_access_key_id" : "aws_secret_access_key",
                   ak ? "aws_secret_access_key" : "aws_access_key_id");
        return dr_err_hint(err, "add the missing key to the profile's section in %s", path);
    }
    out->access_key = dr_xstrdup(ak);
    out->secret_key = dr_xstrdup(sk);
    out->session_token = tok ? dr_xstrdup(tok) : NULL;
    out->expiration = 0;
    snprintf(out->source, sizeof(out->source), "%s",
             is_config ? "shared-config-file" : "shared-credentials-file");
    snprintf(out->source_detail, sizeof(out->source_detail), "profile %s in %s", p->profile, path);
    tried_add(tried, what, "found");
    return 1;
}

static int source_shared(const dr_creds_provider *p, const shared_files *sf, dr_buf *tried,
                         dr_creds *out, dr_err *err)
{
    /* Providers botocore runs before the shared keys: refuse rather than
     * silently use the keys or a later source instead. */
    for (size_t i = 0; i < sizeof(unsupported_keys) / sizeof(unsupported_keys[0]); i++) {
        if (profile_get(sf->config, p->profile, 1, unsupported_keys[i].key))
            return unsupported_provider(p->profile, sf->config_path, unsupported_keys[i].what, err);
        if (profile_get(sf->creds, p->profile, 0, unsupported_keys[i].key))
            return unsupported_provider(p->profile, sf->creds_path, unsupported_keys[i].what, err);
    }
    int r = keys_from_file(p, sf->creds, sf->creds_path, 0, tried, out, err);
    if (r != 0)
        return r;
    /* credential_process comes after the credentials file in botocore. */
    if (profile_get(sf->config, p->profile, 1, "credential_process"))
        return unsupported_provider(p->profile, sf->config_path,
                                    "an external process (credential_process)", err);
    if (profile_get(sf->creds, p->profile, 0, "credential_process"))
        return unsupported_provider(p->profile, sf->creds_path,
                                    "an external process (credential_process)", err);
    return keys_from_file(p, sf->config, sf->config_path, 1, tried, out, err);
}

/* Resolves once through the whole chain. *tried_out receives the list. */
static int resolve(const dr_creds_provider *p, dr_creds *out, char **tried_out, dr_err *err)
{
    dr_buf tried = DR_BUF_INIT;
    shared_files sf;
    int rc = -1, r;
    char why[512];
    memset(out, 0, sizeof(*out));

    /* The files are read first: a malformed file or a missing named
     * profile is an error whichever source would have won (as in the CLI). */
    if (shared_files_load(&sf, err) < 0)
        goto out;
    if (p->profile_explicit && !profile_exists(sf.creds, p->profile, 0) &&
        !profile_exists(sf.config, p->profile, 1)) {
        dr_buf names = DR_BUF_INIT;
        list_profiles(sf.creds, sf.config, &names);
        dr_err_set(err, DR_E_CONFIG, "profile '%s' not found in %s or %s", p->profile,
                   sf.creds_path, sf.config_path);
        if (names.len)
            dr_err_hint(err, "%s names it; profiles that exist: %s",
                        p->profile_from_opts ? "--profile" : "AWS_PROFILE", dr_buf_cstr(&names));
        else
            dr_err_hint(err,
                        "%s names it, but neither file defines any profile; create it "
                        "with `aws configure --profile %s`",
                        p->profile_from_opts ? "--profile" : "AWS_PROFILE", p->profile);
        dr_buf_free(&names);
        goto out;
    }

    if ((r = source_env(p, &tried, out, err)) != 0)
        goto found_or_failed;

    if (getenv_nonempty("AWS_WEB_IDENTITY_TOKEN_FILE") && getenv_nonempty("AWS_ROLE_ARN")) {
        dr_err_set(err, DR_E_CREDENTIALS,
                   "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are set, but drctl does not "
                   "support web identity credentials");
        dr_err_hint(err, "export temporary keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
                         "AWS_SESSION_TOKEN) obtained with `aws sts "
                         "assume-role-with-web-identity`");
        goto out;
    }

    if ((r = source_shared(p, &sf, &tried, out, err)) != 0)
        goto found_or_failed;

    why[0] = '\0';
    if ((r = dr_ecs_creds_fetch(p->timeout_ms, p->log, out, why, sizeof(why), err)) != 0) {
        if (r > 0)
            tried_add(&tried, "ECS container endpoint", "found");
        goto found_or_failed;
    }
    tried_add(&tried, "ECS container endpoint", why);

    why[0] = '\0';
    if ((r = dr_imds_creds_fetch(p->timeout_ms, p->log, out, why, sizeof(why), err)) != 0) {
        if (r > 0)
            tried_add(&tried, "EC2 instance metadata", "found");
        goto found_or_failed;
    }
    tried_add(&tried, "EC2 instance metadata", why);

    dr_err_set(err, DR_E_CREDENTIALS, "no AWS credentials found; tried: %s", dr_buf_cstr(&tried));
    dr_err_hint(err,
                "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (or --profile) "
                "naming a profile with keys in %s, or run where an ECS task role or EC2 "
                "instance profile is available",
                sf.creds_path);
    goto out;

found_or_failed:
    rc = r > 0 ? 0 : -1;
out:
    if (rc != 0)
        dr_creds_clear(out);
    shared_files_free(&sf);
    *tried_out = dr_buf_detach(&tried);
    return rc;
}

/* ---- the provider -------------------------------------------------------- */

dr_creds_provider *dr_creds_provider_new(const dr_creds_opts *opts)
{
    dr_creds_provider *p = dr_xcalloc(1, sizeof(*p));
    const char *opt = opts ? opts->profile : NULL;
    p->profile = dr_xstrdup(pick_profile(opt));
    p->profile_from_opts = opt && *opt;
    p->profile_explicit = p->profile_from_opts || getenv_nonempty("AWS_PROFILE") != NULL;
    p->log = opts ? opts->log : NULL;
    p->timeout_ms = opts && opts->http_timeout_ms > 0 ? opts->http_timeout_ms : DEFAULT_TIMEOUT_MS;
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

void dr_creds_provider_free(dr_creds_provider *p)
{
    if (!p)
        return;
    dr_creds_clear(&p->cached);
    pthread_mutex_destroy(&p->lock);
    free(p->tried);
    free(p->profile);
    free(p);
}

const char *dr_creds_profile_name(const dr_creds_provider *p)
{
    return p->profile;
}

char *dr_creds_provider_describe_tried(dr_creds_provider *p)
{
    pthread_mutex_lock(&p->lock);
    char *s = p->tried ? dr_xstrdup(p->tried) : NULL;
    pthread_mutex_unlock(&p->lock);
    return s;
}

static int still_fresh(const dr_creds *c, time_t now)
{
    return c->expiration == 0 || c->expiration - now >= REFRESH_WINDOW_S;
}

int dr_creds_get(dr_creds_provider *p, dr_creds *out, dr_err *err)
{
    pthread_mutex_lock(&p->lock);
    time_t now = time(NULL);
    if (p->have_cached && still_fresh(&p->cached, now)) {
        dr_creds_copy(out, &p->cached);
        pthread_mutex_unlock(&p->lock);
        return 0;
    }

    dr_creds fresh;
    dr_err e;
    dr_err_clear(&e);
    char *tried = NULL;
    int rc = resolve(p, &fresh, &tried, &e);
    free(p->tried);
    p->tried = tried;
    if (rc == 0) {
        dr_creds_clear(&p->cached);
        p->cached = fresh;
        p->have_cached = 1;
        dr_info(p->log, "AWS credentials from %s (%s)", fresh.source, fresh.source_detail);
        if (fresh.expiration && fresh.expiration <= now)
            dr_warn(p->log, "the AWS credentials from %s have already expired", fresh.source);
        dr_creds_copy(out, &p->cached);
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    if (p->have_cached && p->cached.expiration > now) {
        /* A refresh failed but the current credentials still work for a
         * while: keep going (a failover should not stop on a metadata
         * hiccup); the next call tries again. */
        dr_warn(p->log,
                "could not refresh AWS credentials (%s); using the current ones, valid "
                "for %ld more seconds",
                e.msg, (long)(p->cached.expiration - now));
        dr_creds_copy(out, &p->cached);
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    pthread_mutex_unlock(&p->lock);
    if (err)
        *err = e;
    return -1;
}

/* ---- config lookups ------------------------------------------------------ */

int dr_aws_config_get(const char *profile, const char *key, char **out, dr_err *err)
{
    *out = NULL;
    char *path = config_path();
    dr_ini *ini = NULL;
    int rc = dr_ini_load(path, &ini, err);
    if (rc == 0 && ini) {
        const char *v = profile_get(ini, pick_profile(profile), 1, key);
        if (v)
            *out = dr_xstrdup(v);
    }
    dr_ini_free(ini);
    free(path);
    return rc;
}

int dr_aws_default_region(const char *profile, char **out, dr_err *err)
{
    *out = NULL;
    const char *env = getenv_nonempty("AWS_REGION");
    if (!env)
        env = getenv_nonempty("AWS_DEFAULT_REGION");
    if (env) {
        *out = dr_xstrdup(env);
        return 0;
    }
    return dr_aws_config_get(profile, "region", out, err);
}

int dr_aws_config_endpoints_get(const char *profile, const char *config_key,
                                dr_aws_config_endpoints *out, dr_err *err)
{
    memset(out, 0, sizeof(*out));
    out->path = config_path();
    out->profile = dr_xstrdup(pick_profile(profile));
    dr_ini *ini = NULL;
    if (dr_ini_load(out->path, &ini, err) < 0) {
        dr_aws_config_endpoints_clear(out);
        return -1;
    }
    if (!ini)
        return 0;
    const char *name = out->profile;
    const char *services = profile_get(ini, name, 1, "services");
    if (services) {
        out->services_name = dr_xstrdup(services);
        char *section = dr_xasprintf("services %s", services);
        const char *v = dr_ini_get_nested(ini, section, config_key, "endpoint_url");
        if (v && *v)
            out->service_url = dr_xstrdup(v);
        free(section);
    }
    const char *v = profile_get(ini, name, 1, "endpoint_url");
    if (v)
        out->profile_url = dr_xstrdup(v);
    v = profile_get(ini, name, 1, "ignore_configured_endpoint_urls");
    out->ignore = v && strcasecmp(v, "true") == 0;
    dr_ini_free(ini);
    return 0;
}

void dr_aws_config_endpoints_clear(dr_aws_config_endpoints *e)
{
    free(e->service_url);
    free(e->profile_url);
    free(e->services_name);
    free(e->profile);
    free(e->path);
    memset(e, 0, sizeof(*e));
}
