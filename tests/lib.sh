# tests/lib.sh - assertions for the shell tests. Source it; call `finish` last.
# Each check prints "ok - ..." or "not ok - ..."; finish prints
# "N passed, N failed" and exits non-zero on any failure.
set -u
: "${DRCTL_BIN:?DRCTL_BIN is not set (run through ctest)}"
T_PASS=0
T_FAIL=0
T_OUT=""
T_ERR=""
T_RC=0
T_TMP=$(mktemp -d /tmp/drctl-test.XXXXXX)
trap 'rm -rf "$T_TMP"' EXIT

# run CMD...: runs it, keeps stdout in $T_OUT, stderr in $T_ERR, status in $T_RC.
run() {
    set +e
    "$@" >"$T_TMP/out" 2>"$T_TMP/err"
    T_RC=$?
    set -e 2>/dev/null || true
    set +e
    T_OUT=$(cat "$T_TMP/out")
    T_ERR=$(cat "$T_TMP/err")
}

pass() { T_PASS=$((T_PASS + 1)); echo "ok - $1"; }
fail() {
    T_FAIL=$((T_FAIL + 1))
    echo "not ok - $1"
    echo "  exit: $T_RC"
    echo "  stdout: $(printf '%s' "$T_OUT" | head -20)"
    echo "  stderr: $(printf '%s' "$T_ERR" | head -20)"
}

# expect_rc N DESCRIPTION
expect_rc() {
    if [ "$T_RC" -eq "$1" ]; then pass "$2 (exit $1)"; else fail "$2: expected exit $1"; fi
}
# expect_err_has TEXT DESCRIPTION  (stderr contains TEXT, fixed string)
expect_err_has() {
    if printf '%s' "$T_ERR" | grep -qF -- "$1"; then pass "$2"; else fail "$2: stderr lacks '$1'"; fi
}
expect_out_has() {
    if printf '%s' "$T_OUT" | grep -qF -- "$1"; then pass "$2"; else fail "$2: stdout lacks '$1'"; fi
}
expect_not_has() {
    if printf '%s\n%s' "$T_OUT" "$T_ERR" | grep -qF -- "$1"; then fail "$2: output has '$1'"; else pass "$2"; fi
}
# expect_err_lines N DESCRIPTION: stderr has at most N lines
expect_err_lines() {
    local n
    n=$(printf '%s' "$T_ERR" | grep -c '' || true)
    if [ "$n" -le "$1" ]; then pass "$2"; else fail "$2: stderr has $n lines, expected <= $1"; fi
}

# A clean environment: nothing of the developer's own AWS setup.
clean_env() {
    env -i PATH="$PATH" HOME="$T_TMP/home" LANG=C.UTF-8 \
        ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
        AWS_EC2_METADATA_DISABLED=true "$@"
}

finish() {
    echo "$T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ]
}

# sandbox_env: loads the running sandbox's settings (scripts/sandbox.sh).
sandbox_env() {
    : "${DRCTL_SANDBOX_DIR:?DRCTL_SANDBOX_DIR is not set}"
    [ -s "$DRCTL_SANDBOX_DIR/sandbox.env" ] || { echo "sandbox not running" >&2; exit 1; }
    set -a
    # shellcheck disable=SC1091
    . "$DRCTL_SANDBOX_DIR/sandbox.env"
    set +a
    export AWS_CONFIG_FILE=/nonexistent/drctl-test-config
    export AWS_SHARED_CREDENTIALS_FILE=/nonexistent/drctl-test-credentials
    export AWS_EC2_METADATA_DISABLED=true
    unset AWS_PROFILE
}

# proxy_start ARGS...: starts the fault proxy in front of moto; sets PROXY_URL.
proxy_start() {
    local out="$T_TMP/proxy.out"
    python3 "$DRCTL_SOURCE_DIR/tests/tools/fault_proxy.py" --upstream "$AWS_ENDPOINT_URL" \
        --port 0 --parent-pid $$ --max-seconds 600 "$@" >"$out" 2>"$T_TMP/proxy.err" &
    PROXY_PID=$!
    local i
    for i in $(seq 1 100); do
        if grep -q '^listening ' "$out" 2>/dev/null; then break; fi
        sleep 0.1
    done
    PROXY_URL="http://127.0.0.1:$(sed -n 's/^listening //p' "$out")"
}
proxy_stop() {
    [ -n "${PROXY_PID:-}" ] && kill "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null
    PROXY_PID=""
}
