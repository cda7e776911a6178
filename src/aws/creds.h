/*
 * creds.h - AWS credentials and the shared config files.
 *
 * The provider resolves credentials in the SDKs' default order:
 *   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *   2. shared files: AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) and
 *      AWS_CONFIG_FILE (~/.aws/config), profile from --profile, AWS_PROFILE,
 *      else "default"
 *   3. ECS container endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
 *      (http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI, with
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)
 *   4. EC2 instance metadata, IMDSv2 (PUT token, then role credentials),
 *      unless AWS_EC2_METADATA_DISABLED=true; AWS_EC2_METADATA_SERVICE_ENDPOINT
 *      overrides the address (tests point it at a local server)
 * and caches them; temporary credentials are refreshed when less than
 * 5 minutes of validity remain. When no source gives credentials the error
 * lists every source tried and why it gave none.
 *
 * A malformed file is a config error naming the file and line; a named
 * profile that does not exist is a config error, not a silent fallback.
 */
#ifndef DRCTL_AWS_CREDS_H
#define DRCTL_AWS_CREDS_H

#include <time.h>

#include "util/err.h"
#include "util/log.h"

typedef struct dr_creds {
    char *access_key;
    char *secret_key;        /* secret: zeroed on clear */
    char *session_token;     /* secret; NULL when none */
    time_t expiration;       /* 0 = does not expire */
    char source[64];         /* "environment", "shared-credentials-file", "shared-config-file",
                                "ecs-container", "ec2-imds" */
    char source_detail[256]; /* e.g. "profile default in /root/.aws/credentials" */
} dr_creds;

/* Zeroes and frees the members. */
void dr_creds_clear(dr_creds *c);
/* Deep copy. */
void dr_creds_copy(dr_creds *dst, const dr_creds *src);

typedef struct dr_creds_provider dr_creds_provider;

typedef struct dr_creds_opts {
    const char *profile; /* --profile, or NULL */
    const dr_log *log;
    long http_timeout_ms; /* for ECS/IMDS; 0 = 1000 ms */
} dr_creds_opts;

dr_creds_provider *dr_creds_provider_new(const dr_creds_opts *opts);
void dr_creds_provider_free(dr_creds_provider *p);

/* Gives valid credentials (copied into *out; caller clears), resolving or
 * refreshing as needed. */
int dr_creds_get(dr_creds_provider *p, dr_creds *out, dr_err *err);

/* The effective profile name ("default" when none is set). */
const char *dr_creds_profile_name(const dr_creds_provider *p);

/*
 * What the last resolution tried, one entry per source with why it gave
 * nothing or "(found)", e.g. "environment (AWS_ACCESS_KEY_ID not set),
 * shared credentials file /root/.aws/credentials (found)"; for `drctl doctor`.
 * Never contains a secret. Caller frees; NULL before the first dr_creds_get.
 */
char *dr_creds_provider_describe_tried(dr_creds_provider *p);

/*
 * Shared config lookups, for region and endpoint settings:
 * dr_aws_config_get looks up `key` in the profile's section of the config
 * file ("[default]" or "[profile NAME]"). Returns 0 and sets *out (caller
 * frees; NULL if the key or the file is absent), -1 on a malformed file.
 */
int dr_aws_config_get(const char *profile, const char *key, char **out, dr_err *err);

/*
 * The region to use when none is given on the command line: AWS_REGION,
 * AWS_DEFAULT_REGION, then `region` in the config file. *out NULL when none.
 */
int dr_aws_default_region(const char *profile, char **out, dr_err *err);

/*
 * Endpoint settings in the config file for one service, as the SDKs read
 * them: the profile's `services = NAME` names a `[services NAME]` section
 * whose nested block `config_key` (dr_service.config_key) may set
 * endpoint_url; the profile may also set endpoint_url for every service,
 * and ignore_configured_endpoint_urls = true. Used by
 * dr_endpoint_resolve_profile (service.h).
 */
typedef struct dr_aws_config_endpoints {
    char *service_url;   /* [services NAME] <config_key> = endpoint_url; NULL if unset */
    char *profile_url;   /* the profile's endpoint_url; NULL if unset */
    int ignore;          /* ignore_configured_endpoint_urls = true */
    char *services_name; /* NAME, for messages; NULL if the profile has none */
    char *profile;       /* the effective profile name, for messages */
    char *path;          /* the config file, for messages */
} dr_aws_config_endpoints;

/* Fills *out (release with dr_aws_config_endpoints_clear); -1 on a
 * malformed file, with *out left empty. `profile` NULL means AWS_PROFILE,
 * else "default". */
int dr_aws_config_endpoints_get(const char *profile, const char *config_key,
                                dr_aws_config_endpoints *out, dr_err *err);
void dr_aws_config_endpoints_clear(dr_aws_config_endpoints *e);

#endif
