#!/usr/bin/env bash
# Runbook commands without a sandbox: the shipped runbooks validate against
# drctl's real action table (--dry-run prints each step and a predicted RTO
# and makes no AWS call), and a broken runbook is refused with
# FILE:LINE:COLUMN for each problem before anything runs. AWS_ENDPOINT_URL
# points at a port nothing listens on: any call would fail with exit 6.
. "$(dirname "$0")/../lib.sh"
clean_env
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:9
export DRCTL_CONFIG_DIR="$DRCTL_SOURCE_DIR/regions/sandbox" DRCTL_STORE="$T_TMP/store"
export DRCTL_RUNBOOK_DIR="$DRCTL_SOURCE_DIR/runbooks"

for cmd in "failover us-west-2" "failback us-east-1" "drill us-west-2" "restore 3 --region us-west-2" "clone us-east-1 us-west-2"; do
    run "$DRCTL_BIN" $cmd --dry-run
    expect_rc 0 "drctl $cmd --dry-run validates and plans"
    expect_out_has "predicted RTO" "drctl $cmd --dry-run predicts the RTO"
done
[ ! -d "$T_TMP/store/runs" ] || [ -z "$(ls -A "$T_TMP/store/runs")" ] && pass "dry runs wrote no run" || fail "a dry run wrote a run directory"

F="$DRCTL_SOURCE_DIR/tests/cli/fixtures/bad_runbook.yaml"
run "$DRCTL_BIN" run "$F" --yes
expect_rc 3 "a broken runbook is a config error"
expect_err_has "bad_runbook.yaml:6:13: steps[0].action: unknown action 'check-bundel'" "unknown action named with file:line:column"
expect_err_has "bad_runbook.yaml:11:14: steps[1].timeout" "bad duration named with file:line:column"
expect_err_has "bad_runbook.yaml:14:20: steps[2].with.region: undefined variable '\${nowhere}'" "undefined variable named with file:line:column"
expect_not_has "cannot reach" "no AWS call was attempted"
[ ! -d "$T_TMP/store/runs" ] || [ -z "$(ls -A "$T_TMP/store/runs")" ] && pass "nothing ran" || fail "a run directory was made"

run "$DRCTL_BIN" failover
expect_rc 2 "failover without a region is a usage error"
run "$DRCTL_BIN" failover us-east-1 --yes
expect_rc 2 "failover to the region already serving is refused"
run "$DRCTL_BIN" report nosuchrun
expect_rc 11 "report of an unknown run: exit 11"
finish
