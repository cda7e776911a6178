#!/usr/bin/env bash
# plan, deploy, status, destroy: what they do before any AWS call - usage
# errors, the guard rails of destroy, the run lock, a corrupt state file,
# status of a store with nothing deployed. No sandbox, no AWS.
. "$(dirname "$0")/../lib.sh"
mkdir -p "$T_TMP/home"
SRC="${DRCTL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
CFG="$SRC/regions/sandbox"
STORE="$T_TMP/store"
# An endpoint nothing listens on: a command that reached AWS would fail
# with a network error (6), which none of these checks expects.
ENV=(clean_env AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_ACCESS_KEY_ID=AKIDEXAMPLE
    AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-east-1 AWS_MAX_ATTEMPTS=1
    DRCTL_CONFIG_DIR="$CFG" DRCTL_STORE="$STORE")

for c in plan deploy status destroy; do
    run "${ENV[@]}" "$DRCTL_BIN" "$c" --help
    expect_rc 0 "$c --help"
    expect_out_has "usage: drctl $c" "$c --help shows usage"
done
run "${ENV[@]}" "$DRCTL_BIN" deploy --help
expect_out_has "--concurrency N" "deploy documents --concurrency"
expect_out_has "locks/<stack>-<region>.lock" "deploy documents the lock"
run "${ENV[@]}" "$DRCTL_BIN" destroy --help
expect_out_has "--force" "destroy documents --force"

run "${ENV[@]}" "$DRCTL_BIN" plan
expect_rc 2 "plan without a region"
expect_err_has "plan needs a region" "says what is missing"
run "${ENV[@]}" "$DRCTL_BIN" plan us-east-1 us-west-2
expect_rc 2 "plan with two regions"
run "${ENV[@]}" "$DRCTL_BIN" plan us-east-9
expect_rc 3 "plan of an unknown region"
run "${ENV[@]}" "$DRCTL_BIN" plan eu-west-1
expect_rc 3 "plan of a region without a profile"
expect_err_has "no profile for eu-west-1" "names the region"
expect_err_has "us-east-1, us-west-2" "lists the regions there are"
run "${ENV[@]}" "$DRCTL_BIN" deploy us-west-2 --concurrency 0
expect_rc 2 "deploy --concurrency 0"
run "${ENV[@]}" "$DRCTL_BIN" deploy us-west-2 --bogus
expect_rc 2 "deploy with an unknown option"
run "${ENV[@]}" "$DRCTL_BIN" deploy --global us-west-2
expect_rc 2 "deploy --global elsewhere than us-east-1"

# status of an empty store: every region "not deployed", no AWS call.
run "${ENV[@]}" "$DRCTL_BIN" status
expect_rc 0 "status of an empty store"
expect_out_has "us-east-1  primary, pilot-light  not deployed" "primary not deployed"
expect_out_has "us-west-2  standby, pilot-light  not deployed" "standby not deployed"
run "${ENV[@]}" "$DRCTL_BIN" --output json status us-west-2
expect_rc 0 "status --output json"
if printf '%s' "$T_OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["stack"] == "litellm-sandbox", d
assert [r["region"] for r in d["regions"]] == ["us-west-2"], d
assert d["regions"][0]["deployed"] is False, d
'; then pass "status JSON shape"; else fail "status JSON shape"; fi

# destroy's guard rails.
run "${ENV[@]}" "$DRCTL_BIN" destroy us-east-1 --yes
expect_rc 2 "destroy of the primary is refused"
expect_err_has "us-east-1 is the primary region of stack litellm-sandbox" "says why"
expect_err_has "--force" "and how to insist"
run "${ENV[@]}" "$DRCTL_BIN" destroy us-west-2 </dev/null
expect_rc 2 "destroy without a terminal needs --yes"
expect_err_has "destroy needs --yes when not run on a terminal" "says so"

# The lock: a second run of the same stack and region exits 9 at once.
mkdir -p "$STORE/locks"
LOCK="$STORE/locks/litellm-sandbox-us-west-2.lock"
# This shell holds it (fd 9); drctl opens the file anew, so it conflicts.
exec 9>"$LOCK"
flock -n 9 || fail "could not take the lock for the test"
start=$(date +%s)
run "${ENV[@]}" "$DRCTL_BIN" deploy us-west-2 --yes
expect_rc 9 "deploy while another run holds the lock"
expect_err_has "another drctl run holds $LOCK" "names the lock file"
expect_err_has "--wait" "suggests --wait"
run "${ENV[@]}" "$DRCTL_BIN" destroy us-west-2 --yes
expect_rc 9 "destroy while another run holds the lock"
[ $(($(date +%s) - start)) -lt 10 ] && pass "at once, no waiting" || fail "took too long"
exec 9>&-
run "${ENV[@]}" "$DRCTL_BIN" deploy us-west-2 --dry-run --no-edge
expect_not_has "another drctl run holds" "the lock is free again (and --dry-run takes none)"

# A corrupt state file is an I/O error naming it, before any AWS call.
mkdir -p "$STORE/state/litellm-sandbox"
printf '{"format": 1, "resources": ' >"$STORE/state/litellm-sandbox/us-west-2.json"
run "${ENV[@]}" "$DRCTL_BIN" plan us-west-2
expect_rc 10 "plan with a corrupt state file"
expect_err_has "state file $STORE/state/litellm-sandbox/us-west-2.json is corrupt" "names it"
expect_err_has "by their tags" "says the state can be rebuilt"
run "${ENV[@]}" "$DRCTL_BIN" status us-west-2
expect_rc 10 "status with a corrupt state file"
expect_out_has "state unreadable" "status shows it"

finish
