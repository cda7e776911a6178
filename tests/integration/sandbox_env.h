/*
 * sandbox_env.h - what the C integration tests share: the sandbox's
 * environment (scripts/sandbox.sh writes it), running the AWS CLI as an
 * independent check, and switching moto's signature checks.
 */
#ifndef DRCTL_TESTS_SANDBOX_ENV_H
#define DRCTL_TESTS_SANDBOX_ENV_H

#include <jansson.h>
#include <stddef.h>

/* Loads $DRCTL_SANDBOX_DIR/sandbox.env into the environment. Aborts the
 * test (cr_assert) when the sandbox is not running. */
void sandbox_load_env(void);

/* The moto endpoint, e.g. "http://127.0.0.1:41234". */
const char *sandbox_endpoint(void);

/* Runs a shell command, returns its exit status; *out (if non-NULL) gets
 * its standard output (caller frees). */
int sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs `aws --endpoint-url E --region R --output json ARGS` and parses the
 * JSON it prints; NULL (and the test fails) on a non-zero exit. */
json_t *aws_cli(const char *region, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* moto's signature checks: on (1) or off (0). */
void sandbox_auth(int on);

/* A unique suffix for resource names in this test run. */
const char *test_suffix(void);

/* Lower-case hex SHA-256 of a file. */
void file_sha256(const char *path, char out[65]);

#endif

/* The fault-injecting proxy (tests/tools/fault_proxy.py) in front of moto. */
typedef struct fault_proxy {
    int pid;
    int port;
    char url[64]; /* http://127.0.0.1:PORT */
} fault_proxy;

/* Starts the proxy with extra arguments (e.g. "--fail-rate 0.3 --seed 7"). */
void proxy_start(fault_proxy *p, const char *args_fmt, ...) __attribute__((format(printf, 2, 3)));
/* GET /__proxy/stats; caller json_decref's. */
json_t *proxy_stats(const fault_proxy *p);
/* POST /__proxy/config with a JSON object. */
void proxy_config(const fault_proxy *p, const char *json);
void proxy_stop(fault_proxy *p);
