/*
 * test_creds.c - the credentials provider chain and the shared files.
 *
 * Every test runs in its own process (Criterion), with HOME pointed at a
 * fresh temporary directory, every AWS_* variable removed and instance
 * metadata disabled, so nothing on the machine running the tests leaks in.
 * The ECS and IMDS tests start tests/tools/fake_metadata_server.py on an
 * ephemeral loopback port.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aws/creds.h"
#include "aws/imds.h"
#include "aws/ini.h"
#include "util/buf.h"
#include "util/mem.h"

extern char **environ;

static char tmpdir[PATH_MAX];

/* ---- fixtures ------------------------------------------------------------ */

static void unset_aws_env(void)
{
    /* Collect first: unsetenv changes environ under our feet. */
    char *names[512];
    size_t n = 0;
    for (char **e = environ; *e && n < 512; e++)
        if (strncmp(*e, "AWS_", 4) == 0)
            names[n++] = dr_xstrndup(*e, strcspn(*e, "="));
    for (size_t i = 0; i < n; i++) {
        unsetenv(names[i]);
        free(names[i]);
    }
}

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/drctl-creds-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    unset_aws_env();
    setenv("HOME", tmpdir, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    if (tmpdir[0])
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    unset_aws_env();
}

TestSuite(creds, .init = setup, .fini = teardown);

/* Writes `text` to tmpdir/rel, creating tmpdir/.aws when needed. Returns
 * the full path (static buffer per call site is avoided: caller frees). */
static char *write_file(const char *rel, const char *text)
{
    char *dir = dr_xasprintf("%s/.aws", tmpdir);
    mkdir(dir, 0700);
    free(dir);
    char *path = dr_xasprintf("%s/%s", tmpdir, rel);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
    return path;
}

static dr_creds_provider *provider(const char *profile)
{
    dr_creds_opts o = {.profile = profile, .log = NULL, .http_timeout_ms = 2000};
    return dr_creds_provider_new(&o);
}

/* Resolves and expects failure; returns the error. */
static dr_err expect_fail(const char *profile)
{
    dr_creds_provider *p = provider(profile);
    dr_creds c;
    memset(&c, 0, sizeof(c));
    dr_err e;
    dr_err_clear(&e);
    int rc = dr_creds_get(p, &c, &e);
    cr_assert_eq(rc, -1, "expected a failure, got credentials from %s", c.source);
    dr_creds_provider_free(p);
    return e;
}

static void expect_ok(const char *profile, dr_creds *c)
{
    dr_creds_provider *p = provider(profile);
    dr_err e;
    dr_err_clear(&e);
    memset(c, 0, sizeof(*c));
    int rc = dr_creds_get(p, c, &e);
    cr_assert_eq(rc, 0, "dr_creds_get: %s", e.msg);
    dr_creds_provider_free(p);
}

/* ---- the fake metadata server ----------------------------------------- */

typedef struct fake_server {
    pid_t pid;
    int port;
    int stdin_fd; /* closing it stops the server too */
} fake_server;

/* The server script's path; caller frees. */
static char *server_script(void)
{
    const char *src = getenv("DRCTL_SOURCE_DIR");
    if (src && *src)
        return dr_xasprintf("%s/tests/tools/fake_metadata_server.py", src);
    /* __FILE__ is .../tests/unit/test_creds.c, absolute under CMake. */
    const char *slash = strrchr(__FILE__, '/');
    int dirlen = slash ? (int)(slash - __FILE__) : 1;
    return dr_xasprintf("%.*s/../tools/fake_metadata_server.py", dirlen, slash ? __FILE__ : ".");
}

/* argv: extra arguments for the server, NULL-terminated. */
static void server_start(fake_server *s, const char *const *extra)
{
    char *script = server_script();
    cr_assert_eq(access(script, R_OK), 0, "cannot find %s", script);
    int in[2], out[2];
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(out), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        const char *argv[16] = {"python3", script};
        int i = 2;
        for (; extra && *extra && i < 15; extra++)
            argv[i++] = *extra;
        argv[i] = NULL;
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    free(script);
    close(in[0]);
    close(out[1]);
    char line[32] = {0};
    size_t got = 0;
    /* Read the port line byte by byte: no stdio buffering on a pipe we
     * keep no FILE for. */
    while (got < sizeof(line) - 1) {
        ssize_t r = read(out[0], line + got, 1);
        if (r <= 0 || line[got] == '\n')
            break;
        got++;
    }
    close(out[0]);
    s->pid = pid;
    s->stdin_fd = in[1];
    s->port = atoi(line);
    cr_assert_gt(s->port, 0, "fake server did not report a port");
}

static void server_stop(fake_server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    close(s->stdin_fd);
    int status;
    waitpid(s->pid, &status, 0);
    s->pid = 0;
}

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    dr_buf_append(ud, p, sz * n);
    return sz * n;
}

/* The server's request counter `name`. */
static long server_count(const fake_server *s, const char *name)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/_counts", s->port);
    dr_buf b = DR_BUF_INIT;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    cr_assert_eq(rc, CURLE_OK, "counts: %s", curl_easy_strerror(rc));
    json_t *doc = json_loads(dr_buf_cstr(&b), 0, NULL);
    dr_buf_free(&b);
    cr_assert_not_null(doc);
    long v = (long)json_integer_value(json_object_get(doc, name));
    json_decref(doc);
    return v;
}

/* A loopback port with nothing listening. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static void use_imds(const fake_server *s)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", s->port);
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
}

/* ---- environment --------------------------------------------------------- */

Test(creds, environment)
{
    setenv("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envSecret", 1);
    setenv("AWS_SESSION_TOKEN", "envToken", 1);
    dr_creds c;
    expect_ok(NULL, &c);
    cr_assert_str_eq(c.access_key, "AKIAENVEXAMPLE");
    cr_assert_str_eq(c.secret_key, "envSecret");
    cr_assert_str_eq(c.session_token, "envToken");
    cr_assert_eq(c.expiration, 0);
    cr_assert_str_eq(c.source, "environment");
    dr_creds_clear(&c);
}

Test(creds, environment_partial_never_shows_secret)
{
    setenv("AWS_SECRET_ACCESS_KEY", "TopSecretValue123", 1);
    dr_err e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_CREDENTIALS);
    cr_assert_not_null(strstr(e.msg, "AWS_SECRET_ACCESS_KEY is set"), "%s", e.msg);
    cr_assert_null(strstr(e.msg, "TopSecretValue123"));
    cr_assert_null(strstr(e.hint, "TopSecretValue123"));
}

Test(creds, environment_expiration)
{
    setenv("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envSecret", 1);
    setenv("AWS_CREDENTIAL_EXPIRATION", "2030-01-02T03:04:05Z", 1);
    dr_creds c;
    expect_ok(NULL, &c);
    cr_assert_eq(c.expiration, (time_t)1893553445);
    dr_creds_clear(&c);
}

/* ---- shared files -------------------------------------------------------- */

static const char *CREDS_FILE = "# comment\n"
                                "[default]\n"
                                "aws_access_key_id = AKIADEFAULT\n"
                                "aws_secret_access_key = defaultSecret\n"
                                "\n"
                                "; another comment\n"
                                "[prod]\n"
                                "AWS_ACCESS_KEY_ID=AKIAPROD\n"
                                "aws_secret_access_key=prod;Secret#1\n"
                                "aws_session_token = prodToken\n"
                                "[dev]\n"
                                "aws_access_key_id: AKIADEV\n"
                                "aws_secret_access_key: devSecret\n";

Test(creds, credentials_file_default_profile)
{
    char *path = write_file(".aws/credentials", CREDS_FILE);
    dr_creds c;
    expect_ok(NULL, &c);
    cr_assert_str_eq(c.access_key, "AKIADEFAULT");
    cr_assert_str_eq(c.secret_key, "defaultSecret");
    cr_assert_null(c.session_token);
    cr_assert_str_eq(c.source, "shared-credentials-file");
    char detail[512];
    snprintf(detail, sizeof(detail), "profile default in %s", path);
    cr_assert_str_eq(c.source_detail, detail);
    dr_creds_clear(&c);

    /* describe_tried after a success ends with the winner. */
    dr_creds_provider *p = dr_creds_provider_new(NULL);
    dr_err e;
    cr_assert_eq(dr_creds_get(p, &c, &e), 0, "%s", e.msg);
    dr_creds_clear(&c);
    char *tried = dr_creds_provider_describe_tried(p);
    char *want = dr_xasprintf(
        "environment (AWS_ACCESS_KEY_ID not set), shared credentials file %s (found)", path);
    cr_assert_str_eq(tried, want);
    free(want);
    free(tried);
    dr_creds_provider_free(p);
    free(path);
}

Test(creds, credentials_file_named_profiles)
{
    free(write_file(".aws/credentials", CREDS_FILE));
    setenv("AWS_PROFILE", "prod", 1);
    dr_creds c;
    expect_ok(NULL, &c);
    cr_assert_str_eq(c.access_key, "AKIAPROD");
    /* ';' and '#' inside a value are not comments (botocore). */
    cr_assert_str_eq(c.secret_key, "prod;Secret#1");
    cr_assert_str_eq(c.session_token, "prodToken");
    dr_creds_clear(&c);

    expect_ok("dev", &c);
    cr_assert_str_eq(c.access_key, "AKIADEV");
    cr_assert_str_eq(c.secret_key, "devSecret");
    dr_creds_clear(&c);
}

Test(creds, credentials_file_from_env_path_with_crlf_and_long_token)
{
    /* A real session token is well over inih's default 200-byte line. */
    char token[2501];
    memset(token, 'T', sizeof(token) - 1);
    token[sizeof(token) - 1] = '\0';
    char *text = dr_xasprintf("[default]\r\naws_access_key_id = AKIACRLF\r\n"
                              "aws_secret_access_key = crlfSecret\r\n"
                              "aws_session_token = %s\r\n",
                              token);
    char *path = write_file("elsewhere-credentials", text);
    free(text);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    dr_creds c;
    expect_ok(NULL, &c);
    cr_assert_str_eq(c.access_key, "AKIACRLF");
    cr_assert_str_eq(c.secret_key, "crlfSecret");
    cr_assert_str_eq(c.session_token, token);
    dr_creds_clear(&c);
    free(path);
}

Test(creds, config_file_profile)
{
    char *cfg = write_file(".aws/config", "[default]\n"
                                          "region = us-west-2\n"
                                          "[profile ops]\n"
                                          "region = eu-west-1\n"
                                          "aws_access_key_id = AKIACONFIG\n"
                                          "aws_secret_access_key = configSecret\n"
                                          "[profile  \"spaced name\" ]\n"
                                          "aws_access_key_id = AKIASPACED\n"
                                          "aws_secret_access_key = spacedSecret\n");
    dr_creds c;
    expect_ok("ops", &c);
    cr_assert_str_eq(c.access_key, "AKIACONFIG");
    cr_assert_str_eq(c.source, "shared-config-file");
    char detail[512];
    snprintf(detail, sizeof(detail), "profile ops in %s", cfg);
    cr_assert_str_eq(c.source_detail, detail);
    dr_creds_clear(&c);

    expect_ok("spaced name", &c);
    cr_assert_str_eq(c.access_key, "AKIASPACED");
    dr_creds_clear(&c);
    free(cfg);
}

Test(creds, config_profile_default_spelling)
{
    free(write_file(".aws/config", "[profile default]\n"
                                   "aws_access_key_id = AKIAPD\n"
                                   "aws_secret_access_key = pdSecret\n"));
    dr_creds c;
    expect_ok(NULL, &c);
    cr_assert_str_eq(c.access_key, "AKIAPD");
    dr_creds_clear(&c);
}

Test(creds, credentials_file_beats_config_file)
{
    free(write_file(".aws/credentials", CREDS_FILE));
    free(write_file(".aws/config", "[profile dev]\n"
                                   "aws_access_key_id = AKIAFROMCONFIG\n"
                                   "aws_secret_access_key = x\n"));
    dr_creds c;
    expect_ok("dev", &c);
    cr_assert_str_eq(c.access_key, "AKIADEV");
    dr_creds_clear(&c);
}

Test(creds, profile_precedence)
{
    free(write_file(".aws/credentials", CREDS_FILE));
    setenv("AWS_PROFILE", "prod", 1);

    /* --profile beats AWS_PROFILE. */
    dr_creds_provider *p = provider("dev");
    cr_assert_str_eq(dr_creds_profile_name(p), "dev");
    dr_creds_provider_free(p);
    dr_creds c;
    expect_ok("dev", &c);
    cr_assert_str_eq(c.access_key, "AKIADEV");
    dr_creds_clear(&c);

    p = provider(NULL);
    cr_assert_str_eq(dr_creds_profile_name(p), "prod");
    dr_creds_provider_free(p);

    unsetenv("AWS_PROFILE");
    p = provider(NULL);
    cr_assert_str_eq(dr_creds_profile_name(p), "default");
    dr_creds_provider_free(p);
}

Test(creds, environment_vs_profiles)
{
    free(write_file(".aws/credentials", CREDS_FILE));
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envSecret", 1);
    /* AWS_PROFILE does not override explicit keys in the environment... */
    setenv("AWS_PROFILE", "prod", 1);
    dr_creds c;
    expect_ok(NULL, &c);
    cr_assert_str_eq(c.access_key, "AKIAENV");
    dr_creds_clear(&c);
    /* ...but --profile does, as in the AWS CLI. */
    expect_ok("dev", &c);
    cr_assert_str_eq(c.access_key, "AKIADEV");
    dr_creds_clear(&c);
}

Test(creds, missing_named_profile)
{
    char *cp = write_file(".aws/credentials", CREDS_FILE);
    char *cf = dr_xasprintf("%s/.aws/config", tmpdir);
    dr_err e = expect_fail("nope");
    cr_assert_eq(e.code, DR_E_CONFIG);
    char want[1024];
    snprintf(want, sizeof(want), "profile 'nope' not found in %s or %s", cp, cf);
    cr_assert_str_eq(e.msg, want);
    cr_assert_not_null(strstr(e.hint, "default, prod, dev"), "%s", e.hint);

    /* The same through AWS_PROFILE, even with keys in the environment. */
    setenv("AWS_PROFILE", "nope", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envSecret", 1);
    e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_CONFIG);
    cr_assert_str_eq(e.msg, want);
    free(cp);
    free(cf);
}

Test(creds, access_key_without_secret)
{
    char *cp = write_file(".aws/credentials", "[default]\naws_access_key_id = AKIAHALF\n");
    dr_err e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_CONFIG);
    char want[1024];
    snprintf(want, sizeof(want),
             "profile 'default' in %s has aws_access_key_id but no aws_secret_access_key", cp);
    cr_assert_str_eq(e.msg, want);
    free(cp);
}

Test(creds, secret_without_access_key_never_shows_secret)
{
    free(write_file(".aws/config", "[profile half]\naws_secret_access_key = S3cr3tValue!\n"));
    dr_err e = expect_fail("half");
    cr_assert_eq(e.code, DR_E_CONFIG);
    cr_assert_not_null(strstr(e.msg, "has aws_secret_access_key but no aws_access_key_id"), "%s",
                       e.msg);
    cr_assert_null(strstr(e.msg, "S3cr3tValue"));
    cr_assert_null(strstr(e.hint, "S3cr3tValue"));
}

/* Checks a malformed file gives "PATH:LINE: <what>" and never the line. */
static void check_malformed(const char *rel, const char *text, int line, const char *what)
{
    char *path = write_file(rel, text);
    if (strstr(rel, "config"))
        setenv("AWS_CONFIG_FILE", path, 1);
    else
        setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    dr_err e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_CONFIG, "%s", e.msg);
    char want[1024];
    snprintf(want, sizeof(want), "%s:%d: %s", path, line, what);
    cr_assert_str_eq(e.msg, want);
    cr_assert_neq(e.hint[0], '\0');
    cr_assert_null(strstr(e.msg, "LeakMe"), "%s", e.msg);
    cr_assert_null(strstr(e.hint, "LeakMe"), "%s", e.hint);
    free(path);
}

Test(creds, malformed_line_without_equals)
{
    check_malformed(".aws/credentials",
                    "[default]\naws_access_key_id = AKIA\naws_secret_access_key LeakMeSecret\n", 3,
                    "malformed line (expected 'key = value' or '[section]')");
}

Test(creds, malformed_key_outside_section)
{
    check_malformed(".aws/config", "\n# top comment\nregion = us-east-1\n[default]\n", 3,
                    "setting outside any section (expected a '[section]' header before it)");
}

Test(creds, malformed_unclosed_section)
{
    check_malformed("cfg-config", "[default]\nregion = us-east-1\n\n[profile x\nregion = a\n", 4,
                    "malformed line (expected 'key = value' or '[section]')");
}

Test(creds, malformed_line_after_long_line)
{
    /* Line numbers stay right after a line longer than inih's buffer. */
    char big[1200];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char *text = dr_xasprintf("[default]\naws_session_token = %s\n\nLeakMe\n", big);
    check_malformed(".aws/credentials", text, 4,
                    "malformed line (expected 'key = value' or '[section]')");
    free(text);
}

Test(creds, malformed_nested_block)
{
    check_malformed(".aws/config",
                    "[default]\nregion = us-east-1\n[services local]\ns3 =\n"
                    "  endpoint_url = http://127.0.0.1:5000\n  LeakMe\n",
                    6, "malformed line in the nested block under 's3' (expected 'name = value')");
}

Test(creds, malformed_config_via_config_get)
{
    char *path = write_file(".aws/config", "[default]\nregion\n");
    char *v = NULL;
    dr_err e;
    dr_err_clear(&e);
    cr_assert_eq(dr_aws_config_get(NULL, "region", &v, &e), -1);
    cr_assert_null(v);
    char want[1024];
    snprintf(want, sizeof(want), "%s:2: malformed line (expected 'key = value' or '[section]')",
             path);
    cr_assert_str_eq(e.msg, want);
    free(path);
}

Test(creds, services_sections_and_config_get)
{
    free(write_file(".aws/config", "[default]\n"
                                   "region = us-east-1\n"
                                   "[profile local]\n"
                                   "region = eu-central-1\n"
                                   "services = moto\n"
                                   "s3 =\n"
                                   "    max_concurrent_requests = 20\n"
                                   "\n"
                                   "    addressing_style = path\n"
                                   "[services moto]\n"
                                   "s3 =\n"
                                   "  endpoint_url = http://127.0.0.1:5000\n"
                                   "elastic_load_balancing_v2 =\n"
                                   "  endpoint_url = http://127.0.0.1:5001\n"
                                   "multi = first\n"
                                   "  second\n"));
    char *v = NULL;
    dr_err e;
    dr_err_clear(&e);
    cr_assert_eq(dr_aws_config_get("local", "region", &v, &e), 0, "%s", e.msg);
    cr_assert_str_eq(v, "eu-central-1");
    free(v);
    cr_assert_eq(dr_aws_config_get("local", "services", &v, &e), 0);
    cr_assert_str_eq(v, "moto");
    free(v);
    cr_assert_eq(dr_aws_config_get("local", "nonexistent", &v, &e), 0);
    cr_assert_null(v);
    cr_assert_eq(dr_aws_config_get("no-such-profile", "region", &v, &e), 0);
    cr_assert_null(v);
    cr_assert_eq(dr_aws_config_get(NULL, "region", &v, &e), 0);
    cr_assert_str_eq(v, "us-east-1");
    free(v);

    /* The nested blocks, through the parser directly. */
    char *path = dr_xasprintf("%s/.aws/config", tmpdir);
    dr_ini *ini = NULL;
    cr_assert_eq(dr_ini_load(path, &ini, &e), 0, "%s", e.msg);
    cr_assert_str_eq(dr_ini_get_nested(ini, "services moto", "s3", "endpoint_url"),
                     "http://127.0.0.1:5000");
    cr_assert_str_eq(
        dr_ini_get_nested(ini, "services moto", "elastic_load_balancing_v2", "endpoint_url"),
        "http://127.0.0.1:5001");
    cr_assert_str_eq(dr_ini_get_nested(ini, "profile local", "s3", "addressing_style"), "path");
    /* Nested settings never leak into the section itself. */
    cr_assert_null(dr_ini_get(ini, "profile local", "addressing_style"));
    cr_assert_str_eq(dr_ini_get(ini, "services moto", "multi"), "first\nsecond");
    dr_ini_free(ini);
    free(path);
}

Test(creds, default_region)
{
    free(write_file(".aws/config", "[default]\nregion = ap-south-1\n[profile x]\nregion = "
                                   "sa-east-1\n"));
    char *r = NULL;
    dr_err e;
    dr_err_clear(&e);
    cr_assert_eq(dr_aws_default_region(NULL, &r, &e), 0);
    cr_assert_str_eq(r, "ap-south-1");
    free(r);
    cr_assert_eq(dr_aws_default_region("x", &r, &e), 0);
    cr_assert_str_eq(r, "sa-east-1");
    free(r);
    setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
    cr_assert_eq(dr_aws_default_region("x", &r, &e), 0);
    cr_assert_str_eq(r, "eu-west-3");
    free(r);
    setenv("AWS_REGION", "us-east-2", 1);
    cr_assert_eq(dr_aws_default_region("x", &r, &e), 0);
    cr_assert_str_eq(r, "us-east-2");
    free(r);
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
    cr_assert_eq(dr_aws_default_region(NULL, &r, &e), 0);
    cr_assert_null(r);
}

Test(creds, unsupported_profile_kinds)
{
    char *cf = write_file(".aws/config", "[profile admin]\n"
                                         "role_arn = arn:aws:iam::123456789012:role/admin\n"
                                         "source_profile = default\n"
                                         "[profile proc]\n"
                                         "credential_process = /bin/false\n");
    dr_err e = expect_fail("admin");
    cr_assert_eq(e.code, DR_E_CONFIG);
    char want[1024];
    snprintf(want, sizeof(want),
             "profile 'admin' in %s uses assume role (role_arn), which drctl does not support", cf);
    cr_assert_str_eq(e.msg, want);
    cr_assert_not_null(strstr(e.hint, "export-credentials --profile admin"));
    e = expect_fail("proc");
    cr_assert_not_null(strstr(e.msg, "credential_process"), "%s", e.msg);
    free(cf);
}

Test(creds, web_identity_is_refused)
{
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token", 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/x", 1);
    dr_err e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_CREDENTIALS);
    cr_assert_not_null(strstr(e.msg, "web identity"), "%s", e.msg);
}

/* ---- nothing found ------------------------------------------------------- */

Test(creds, nothing_found_lists_every_source)
{
    dr_creds_provider *p = provider(NULL);
    cr_assert_null(dr_creds_provider_describe_tried(p));
    dr_creds c;
    dr_err e;
    dr_err_clear(&e);
    cr_assert_eq(dr_creds_get(p, &c, &e), -1);
    cr_assert_eq(e.code, DR_E_CREDENTIALS);
    char *list = dr_xasprintf("environment (AWS_ACCESS_KEY_ID not set), "
                              "shared credentials file %s/.aws/credentials (not found), "
                              "shared config file %s/.aws/config (not found), "
                              "ECS container endpoint (AWS_CONTAINER_CREDENTIALS_* not set), "
                              "EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)",
                              tmpdir, tmpdir);
    char *want = dr_xasprintf("no AWS credentials found; tried: %s", list);
    cr_assert_str_eq(e.msg, want);
    cr_assert_not_null(strstr(e.hint, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"));
    char *tried = dr_creds_provider_describe_tried(p);
    cr_assert_str_eq(tried, list);
    free(tried);
    free(list);
    free(want);
    dr_creds_provider_free(p);
}

Test(creds, nothing_found_with_profile_without_keys)
{
    free(write_file(".aws/config", "[default]\nregion = us-east-1\n"));
    free(write_file(".aws/credentials", "[other]\naws_access_key_id = A\n"
                                        "aws_secret_access_key = LeakMeNot\n"));
    dr_err e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_CREDENTIALS);
    cr_assert_not_null(strstr(e.msg, "/.aws/credentials (no profile default)"), "%s", e.msg);
    cr_assert_not_null(strstr(e.msg, "/.aws/config (profile default has no keys)"), "%s", e.msg);
    cr_assert_null(strstr(e.msg, "LeakMeNot"));
}

/* ---- ECS container endpoint ---------------------------------------------- */

Test(creds, ecs_full_uri_with_token)
{
    fake_server s;
    server_start(&s, (const char *const[]){"--ecs-token", "Bearer t0k3n", NULL});
    char *uri = dr_xasprintf("http://127.0.0.1:%d/ecs/credentials", s.port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer t0k3n", 1);
    time_t before = time(NULL);
    dr_creds c;
    expect_ok(NULL, &c);
    cr_assert_str_eq(c.access_key, "ASIAFAKE1");
    cr_assert_str_eq(c.secret_key, "fakeSecretKeyFromMetadata");
    cr_assert_str_eq(c.session_token, "fakeSessionToken1");
    cr_assert_str_eq(c.source, "ecs-container");
    cr_assert_str_eq(c.source_detail, uri);
    cr_assert(c.expiration >= before + 3590 && c.expiration <= before + 3610, "expiration %ld",
              (long)(c.expiration - before));
    dr_creds_clear(&c);
    cr_assert_eq(server_count(&s, "ecs"), 1);
    server_stop(&s);
    free(uri);
}

Test(creds, ecs_token_file_wins)
{
    fake_server s;
    server_start(&s, (const char *const[]){"--ecs-token", "from-file", NULL});
    char *uri = dr_xasprintf("http://localhost:%d/ecs/credentials", s.port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
    char *tf = write_file("token", "from-file\n");
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tf, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-variable", 1);
    dr_creds c;
    expect_ok(NULL, &c);
    cr_assert_str_eq(c.source, "ecs-container");
    dr_creds_clear(&c);
    server_stop(&s);
    free(uri);
    free(tf);
}

Test(creds, ecs_wrong_token)
{
    fake_server s;
    server_start(&s, (const char *const[]){"--ecs-token", "right", NULL});
    char *uri = dr_xasprintf("http://127.0.0.1:%d/ecs/credentials", s.port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-token-value", 1);
    dr_err e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_CREDENTIALS);
    cr_assert_not_null(strstr(e.msg, "returned HTTP 403"), "%s", e.msg);
    cr_assert_null(strstr(e.msg, "wrong-token-value"));
    server_stop(&s);
    free(uri);
}

Test(creds, ecs_bad_json)
{
    fake_server s;
    server_start(&s, (const char *const[]){"--bad-json", NULL});
    char *uri = dr_xasprintf("http://127.0.0.1:%d/ecs/credentials", s.port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
    dr_err e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_CREDENTIALS);
    cr_assert_not_null(strstr(e.msg, "not a JSON object"), "%s", e.msg);
    server_stop(&s);
    free(uri);
}

Test(creds, ecs_full_uri_host_not_allowed)
{
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds", 1);
    dr_err e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_CONFIG);
    cr_assert_not_null(strstr(e.msg, "host 'example.com' is not allowed"), "%s", e.msg);
}

Test(creds, ecs_unreachable_is_network_error)
{
    char *uri = dr_xasprintf("http://127.0.0.1:%d/ecs/credentials", closed_port());
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
    dr_err e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_NETWORK, "%s", e.msg);
    cr_assert_not_null(strstr(e.msg, "ECS container credentials endpoint"), "%s", e.msg);
    free(uri);
}

Test(creds, ecs_https_any_host_allowed)
{
    /* https is allowed for any host; nothing listens here, so the request
     * itself fails, as a network error rather than a config error. */
    char *uri = dr_xasprintf("https://127.0.0.1:%d/creds", closed_port());
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
    dr_err e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_NETWORK, "%s", e.msg);
    free(uri);
}

Test(creds, ecs_token_with_line_break_is_refused)
{
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds", 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "abc\r\nX-Injected: 1", 1);
    dr_err e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_CONFIG);
    cr_assert_not_null(strstr(e.msg, "contains a line break"), "%s", e.msg);
    cr_assert_null(strstr(e.msg, "Injected"));
}

/* ---- EC2 instance metadata ----------------------------------------------- */

Test(creds, imds_v2)
{
    fake_server s;
    server_start(&s, NULL);
    use_imds(&s);
    dr_creds c;
    expect_ok(NULL, &c);
    cr_assert_str_eq(c.access_key, "ASIAFAKE1");
    cr_assert_str_eq(c.session_token, "fakeSessionToken1");
    cr_assert_str_eq(c.source, "ec2-imds");
    cr_assert_not_null(strstr(c.source_detail, "role drctl-test-role"), "%s", c.source_detail);
    dr_creds_clear(&c);
    cr_assert_eq(server_count(&s, "token"), 1);
    cr_assert_eq(server_count(&s, "role"), 1);
    cr_assert_eq(server_count(&s, "creds"), 1);
    cr_assert_eq(server_count(&s, "rejected"), 0);
    server_stop(&s);
}

Test(creds, imds_cached_while_fresh)
{
    fake_server s;
    server_start(&s, (const char *const[]){"--expires-in", "3600", NULL});
    use_imds(&s);
    dr_creds_provider *p = provider(NULL);
    dr_creds c;
    dr_err e;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(dr_creds_get(p, &c, &e), 0, "%s", e.msg);
        cr_assert_str_eq(c.access_key, "ASIAFAKE1");
        dr_creds_clear(&c);
    }
    cr_assert_eq(server_count(&s, "creds"), 1);
    dr_creds_provider_free(p);
    server_stop(&s);
}

Test(creds, imds_refresh_before_expiry)
{
    fake_server s;
    server_start(&s, (const char *const[]){"--expires-in", "60", NULL});
    use_imds(&s);
    dr_creds_provider *p = provider(NULL);
    dr_creds c;
    dr_err e;
    cr_assert_eq(dr_creds_get(p, &c, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.access_key, "ASIAFAKE1");
    dr_creds_clear(&c);
    /* 60 s left is inside the 5-minute window: the next call re-fetches. */
    cr_assert_eq(dr_creds_get(p, &c, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.access_key, "ASIAFAKE2");
    dr_creds_clear(&c);
    cr_assert_eq(server_count(&s, "creds"), 2);
    cr_assert_eq(server_count(&s, "token"), 2);

    /* If the refresh fails while the current keys are still valid, they
     * are used (with a warning) rather than failing the run. */
    server_stop(&s);
    cr_assert_eq(dr_creds_get(p, &c, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.access_key, "ASIAFAKE2");
    dr_creds_clear(&c);
    dr_creds_provider_free(p);
}

typedef struct getter_arg {
    dr_creds_provider *p;
    int failures;
} getter_arg;

static void *getter(void *ud)
{
    getter_arg *a = ud;
    for (int i = 0; i < 5; i++) {
        dr_creds c;
        dr_err e;
        if (dr_creds_get(a->p, &c, &e) == 0)
            dr_creds_clear(&c);
        else
            a->failures++;
    }
    return NULL;
}

Test(creds, concurrent_gets_share_one_provider)
{
    fake_server s;
    server_start(&s, (const char *const[]){"--expires-in", "60", NULL});
    use_imds(&s);
    dr_creds_provider *p = provider(NULL);
    pthread_t t[4];
    getter_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (getter_arg){p, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, getter, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(args[i].failures, 0);
    }
    /* Every call refreshed (60 s left), one at a time under the lock. */
    cr_assert_eq(server_count(&s, "creds"), 20);
    cr_assert_eq(server_count(&s, "token"), 20);
    dr_creds_provider_free(p);
    server_stop(&s);
}

Test(creds, imds_no_role)
{
    fake_server s;
    server_start(&s, (const char *const[]){"--no-role", NULL});
    use_imds(&s);
    dr_err e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_CREDENTIALS);
    cr_assert_not_null(strstr(e.msg, "EC2 instance metadata (no IAM role attached"), "%s", e.msg);
    server_stop(&s);
}

Test(creds, imds_failure_code)
{
    fake_server s;
    server_start(&s, (const char *const[]){"--code", "Failure", NULL});
    use_imds(&s);
    dr_err e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_CREDENTIALS);
    cr_assert_not_null(strstr(e.msg, "Code 'Failure'"), "%s", e.msg);
    cr_assert_null(strstr(e.msg, "fakeSecretKeyFromMetadata"));
    server_stop(&s);
}

Test(creds, imds_disabled)
{
    fake_server s;
    server_start(&s, NULL);
    use_imds(&s);
    setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
    dr_err e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_CREDENTIALS);
    cr_assert_not_null(
        strstr(e.msg, "EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)"), "%s",
        e.msg);
    cr_assert_eq(server_count(&s, "token"), 0);
    server_stop(&s);
}

Test(creds, imds_unreachable_is_listed)
{
    char *url = dr_xasprintf("http://127.0.0.1:%d", closed_port());
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
    dr_err e = expect_fail(NULL);
    cr_assert_eq(e.code, DR_E_CREDENTIALS);
    char want[256];
    snprintf(want, sizeof(want), "EC2 instance metadata (no response from %s", url);
    cr_assert_not_null(strstr(e.msg, want), "%s", e.msg);
    free(url);
}

/* ---- helpers ------------------------------------------------------------- */

Test(creds, iso8601)
{
    time_t t;
    cr_assert_eq(dr_iso8601_parse("2026-11-27T13:00:00Z", &t), 0);
    cr_assert_eq(t, (time_t)1795784400);
    cr_assert_eq(dr_iso8601_parse("2026-11-27T13:00:00.123Z", &t), 0);
    cr_assert_eq(t, (time_t)1795784400);
    cr_assert_eq(dr_iso8601_parse("2026-11-27T15:00:00+02:00", &t), 0);
    cr_assert_eq(t, (time_t)1795784400);
    cr_assert_eq(dr_iso8601_parse("2026-11-27T13:00:00", &t), -1);
    cr_assert_eq(dr_iso8601_parse("2026-13-27T13:00:00Z", &t), -1);
    cr_assert_eq(dr_iso8601_parse("yesterday", &t), -1);
    cr_assert_eq(dr_iso8601_parse("2026-11-27T13:00:00Zjunk", &t), -1);
}

Test(creds, copy_and_clear)
{
    dr_creds a = {0};
    a.access_key = dr_xstrdup("AKIA");
    a.secret_key = dr_xstrdup("secret");
    a.expiration = 42;
    snprintf(a.source, sizeof(a.source), "environment");
    dr_creds b;
    dr_creds_copy(&b, &a);
    cr_assert_str_eq(b.access_key, "AKIA");
    cr_assert_str_eq(b.secret_key, "secret");
    cr_assert_null(b.session_token);
    cr_assert_eq(b.expiration, 42);
    cr_assert_str_eq(b.source, "environment");
    dr_creds_clear(&a);
    dr_creds_clear(&b);
    cr_assert_null(b.secret_key);
    dr_creds_clear(&b); /* twice is fine */
}
