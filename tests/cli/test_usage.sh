#!/usr/bin/env bash
# Command-line surface: help, version, usage errors and bad local
# configuration, each with its documented exit code and a message that says
# what is wrong and what to do. Runs with no sandbox.
. "$(dirname "$0")/../lib.sh"
mkdir -p "$T_TMP/home"

run clean_env "$DRCTL_BIN"
expect_rc 2 "no command is a usage error"
expect_err_has "usage: drctl" "no command prints usage"

run clean_env "$DRCTL_BIN" --help
expect_rc 0 "--help"
expect_out_has "Exit codes:" "--help documents exit codes"
expect_out_has "doctor" "--help lists doctor"

run clean_env "$DRCTL_BIN" --version
expect_rc 0 "--version"
expect_out_has "drctl " "--version prints the version"

run clean_env "$DRCTL_BIN" doctor --help
expect_rc 0 "doctor --help"
expect_out_has "usage: drctl doctor" "doctor --help shows usage"
run clean_env "$DRCTL_BIN" help doctor
expect_out_has "usage: drctl doctor" "help doctor shows usage"

run clean_env "$DRCTL_BIN" dcotor
expect_rc 2 "unknown command"
expect_err_has "unknown command 'dcotor'" "unknown command is named"
expect_err_has "did you mean 'drctl doctor'" "unknown command gets a hint"
expect_err_lines 2 "unknown command: one error line and one hint"

run clean_env "$DRCTL_BIN" doctor --bogus
expect_rc 2 "unknown option"
expect_err_has "unknown option '--bogus' for 'doctor'" "unknown option is named"
expect_err_has "see 'drctl doctor --help'" "unknown option gets a hint"

run clean_env "$DRCTL_BIN" --frobnicate doctor
expect_rc 2 "unknown global option"
run clean_env "$DRCTL_BIN" doctor --region
expect_rc 2 "--region without a value"
expect_err_has "needs a value" "missing value is explained"
run clean_env "$DRCTL_BIN" --output yaml doctor
expect_rc 2 "bad --output"

run clean_env "$DRCTL_BIN" --region us-est-1 doctor
expect_rc 3 "unknown region"
expect_err_has "unknown region 'us-est-1'" "unknown region is named"

# No credentials anywhere: the error lists what was tried.
run clean_env AWS_REGION=us-east-1 "$DRCTL_BIN" doctor
expect_rc 4 "no credentials"
expect_out_has "no AWS credentials found" "no credentials: says so"
expect_out_has "environment" "no credentials: environment was tried"
expect_out_has "instance metadata" "no credentials: IMDS was tried"

# A malformed config file: file and line.
printf '[default]\nregion = us-east-1\nthis line is wrong\n' >"$T_TMP/config"
run clean_env AWS_CONFIG_FILE="$T_TMP/config" AWS_ACCESS_KEY_ID=AKIDEXAMPLE \
    AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY "$DRCTL_BIN" doctor
expect_rc 3 "malformed ~/.aws/config"
expect_err_has "$T_TMP/config:3" "malformed config: file and line"
expect_not_has "wJalrXUtnFEMI" "malformed config: no secret in the output"

# An endpoint where nothing listens: a network error naming the URL.
run clean_env AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_MAX_ATTEMPTS=2 \
    AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY \
    "$DRCTL_BIN" --endpoint-url http://127.0.0.1:9 doctor
expect_rc 6 "unreachable endpoint"
expect_out_has "cannot reach http://127.0.0.1:9" "unreachable endpoint is named"
expect_not_has "wJalrXUtnFEMI" "unreachable endpoint: no secret in the output"

finish
