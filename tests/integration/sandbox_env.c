#include "sandbox_env.h"

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sandbox_load_env(void)
{
    const char *dir = getenv("DRCTL_SANDBOX_DIR");
    cr_assert(dir && *dir, "DRCTL_SANDBOX_DIR is not set (run through ctest)");
    char path[1024];
    snprintf(path, sizeof(path), "%s/sandbox.env", dir);
    cr_assert(access(path, R_OK) == 0, "%s missing: is the sandbox running?", path);
    /* Let bash interpret the file exactly as a user's shell would. */
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "bash -c 'set -a; . \"%s\"; env -0'", path);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getdelim(&line, &cap, '\0', p)) > 0) {
        if (strncmp(line, "AWS_", 4) != 0 && strncmp(line, "DRCTL_", 6) != 0)
            continue;
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        setenv(line, eq + 1, 1);
    }
    free(line);
    cr_assert(pclose(p) == 0);
    cr_assert(getenv("AWS_ENDPOINT_URL"), "sandbox.env has no AWS_ENDPOINT_URL");
    /* Nothing of the developer's own AWS setup may leak into a test. */
    unsetenv("AWS_PROFILE");
    setenv("AWS_CONFIG_FILE", "/nonexistent/drctl-test-config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/drctl-test-credentials", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

const char *sandbox_endpoint(void)
{
    return getenv("AWS_ENDPOINT_URL");
}

static char *vsh(int *status, const char *fmt, va_list ap)
{
    char *cmd = NULL;
    cr_assert(vasprintf(&cmd, fmt, ap) >= 0);
    FILE *p = popen(cmd, "r");
    cr_assert(p, "popen %s", cmd);
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        fwrite(buf, 1, n, mem);
    fclose(mem);
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    free(cmd);
    return out;
}

int sh(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int st;
    char *o = vsh(&st, fmt, ap);
    va_end(ap);
    if (out)
        *out = o;
    else
        free(o);
    return st;
}

json_t *aws_cli(const char *region, const char *fmt, ...)
{
    char *args = NULL;
    va_list ap;
    va_start(ap, fmt);
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    char *out = NULL;
    int st = sh(&out, "aws --endpoint-url '%s' --region %s --output json %s", sandbox_endpoint(),
                region, args);
    cr_assert(st == 0, "aws %s: exit %d", args, st);
    json_error_t jerr;
    json_t *j = (out && *out) ? json_loads(out, 0, &jerr) : json_object();
    cr_assert(j, "aws %s: output is not JSON: %s", args, out);
    free(out);
    free(args);
    return j;
}

void sandbox_auth(int on)
{
    int st = sh(NULL,
                "curl -sf -X POST -H 'Content-Type: text/plain' --data '%s' "
                "'%s/moto-api/reset-auth' >/dev/null",
                on ? "0" : "inf", sandbox_endpoint());
    cr_assert(st == 0, "cannot switch moto's signature checks %s", on ? "on" : "off");
}

const char *test_suffix(void)
{
    static char suffix[32];
    if (!suffix[0])
        snprintf(suffix, sizeof(suffix), "%ld-%d", (long)time(NULL) % 100000, (int)getpid());
    return suffix;
}

void file_sha256(const char *path, char out[65])
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "open %s", path);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        EVP_DigestUpdate(md, buf, n);
    unsigned char dig[32];
    EVP_DigestFinal_ex(md, dig, NULL);
    EVP_MD_CTX_free(md);
    fclose(f);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", dig[i]);
}

#include <signal.h>
#include <sys/wait.h>

void proxy_start(fault_proxy *p, const char *args_fmt, ...)
{
    char *args = NULL;
    va_list ap;
    va_start(ap, args_fmt);
    cr_assert(vasprintf(&args, args_fmt, ap) >= 0);
    va_end(ap);
    const char *src = getenv("DRCTL_SOURCE_DIR");
    cr_assert(src, "DRCTL_SOURCE_DIR is not set");
    char *cmd = NULL;
    cr_assert(asprintf(&cmd,
                       "exec python3 '%s/tests/tools/fault_proxy.py' --upstream '%s' --port 0 "
                       "--parent-pid %d --max-seconds 900 %s",
                       src, sandbox_endpoint(), (int)getpid(), args) >= 0);
    int fds[2];
    cr_assert(pipe(fds) == 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[128] = "";
    cr_assert(fgets(line, sizeof(line), f), "fault proxy did not start: %s", cmd);
    fclose(f);
    cr_assert(sscanf(line, "listening %d", &p->port) == 1, "fault proxy said: %s", line);
    p->pid = pid;
    snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", p->port);
    free(cmd);
    free(args);
}

json_t *proxy_stats(const fault_proxy *p)
{
    char *out = NULL;
    cr_assert(sh(&out, "curl -sf '%s/__proxy/stats'", p->url) == 0);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    cr_assert(j, "proxy stats are not JSON: %s", out);
    free(out);
    return j;
}

void proxy_config(const fault_proxy *p, const char *json)
{
    cr_assert(
        sh(NULL, "curl -sf -X POST --data '%s' '%s/__proxy/config' >/dev/null", json, p->url) == 0);
}

void proxy_stop(fault_proxy *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
}
