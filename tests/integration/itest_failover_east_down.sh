#!/usr/bin/env bash
# Failover when us-east-1 is the region that failed: every call signed for
# us-east-1 (its regional APIs and the global control planes that live
# there: Route 53, CloudFront) fails through the fault proxy. The failover
# must still bring us-west-2 up with the data of the last bundle; the DNS
# switch is best effort (the health-checked failover records route without
# it) and never blocks the rest.
. "$(dirname "$0")/../lib.sh"
sandbox_env
"$DRCTL_SOURCE_DIR/scripts/sandbox.sh" reset >/dev/null
sandbox_env
CFG="$T_TMP/regions"
cp -r "$DRCTL_SOURCE_DIR/regions/sandbox" "$CFG"
STORE="$T_TMP/store"
export DRCTL_CONFIG_DIR="$CFG" DRCTL_STORE="$STORE" DRCTL_RUNBOOK_DIR="$DRCTL_SOURCE_DIR/runbooks"
STACK=litellm-sandbox
A() {
    local r=$1
    shift
    aws --endpoint-url "$AWS_ENDPOINT_URL" --region "$r" --output text "$@"
}
moto_auth() { curl -sf -X POST -H 'Content-Type: text/plain' --data "$1" "$AWS_ENDPOINT_URL/moto-api/reset-auth" >/dev/null; }

run "$DRCTL_BIN" deploy us-east-1 --yes --no-edge
expect_rc 0 "deploy the primary"
run "$DRCTL_BIN" deploy us-west-2 --yes --no-edge
expect_rc 0 "deploy the standby"
moto_auth inf
A us-east-1 route53 create-hosted-zone --name drctl.test --caller-reference "itest-$$" >/dev/null
run "$DRCTL_BIN" deploy --global --yes
expect_rc 0 "deploy the edge"
BUCKET1=$(A us-east-1 s3api list-buckets --query "Buckets[?starts_with(Name, '$STACK-data-us-east-1')].Name | [0]")
run python3 "$DRCTL_SOURCE_DIR/tests/tools/s3_objects.py" put --bucket "$BUCKET1" --count 40 --big 0 --seed 21
run "$DRCTL_BIN" backup
expect_rc 0 "backup before the outage"

proxy_start --fail-all --faults 503 --match ' us-east-1$' --log "$T_TMP/proxy.jsonl"
run env AWS_ENDPOINT_URL="$PROXY_URL" AWS_MAX_ATTEMPTS=2 "$DRCTL_BIN" failover us-west-2 --yes
proxy_stop
expect_rc 0 "failover succeeds with every us-east-1 call failing"
failed=$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get("fault")))' "$T_TMP/proxy.jsonl")
[ "$failed" -gt 0 ] && pass "$failed us-east-1 calls were refused during the failover" || fail "no us-east-1 call was made: the outage was not exercised"
RUN=$(ls -t "$STORE/runs" | head -1)
python3 - "$STORE/runs/$RUN/report.json" <<'PY' && pass "the DNS switch failed as best effort and the run went on to verify us-west-2" || fail "report of the failover with us-east-1 down"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "succeeded", r["status"]
s = {x["name"]: x for x in r["steps"]}
dns = s["switch DNS to the target"]
assert dns["status"] == "succeeded" and "best_effort_failed" in (dns["detail"] or {}), dns
assert s["verify the restored stack"]["status"] == "succeeded"
names = [x["name"] for x in r["steps"]]
assert names.index("switch DNS to the target") > names.index("verify the restored stack")
PY
PGP1=$DRCTL_SANDBOX_PG_PORT_US_EAST_1
PGP2=$DRCTL_SANDBOX_PG_PORT_US_WEST_2
q='SELECT count(*) FROM "LiteLLM_SpendLogs"'
[ "$(psql -X -At -h 127.0.0.1 -p "$PGP2" -U postgres -d litellm -c "$q")" = "$(psql -X -At -h 127.0.0.1 -p "$PGP1" -U postgres -d litellm -c "$q")" ] &&
    pass "us-west-2's database has the spend logs of the bundle" || fail "spend logs differ"
moto_auth 0
finish
